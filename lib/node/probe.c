/*
 * probe.c - liveness, readiness and startup probes as the kubelet's prober workers run them
 * (initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold;
 * readiness starts failed, liveness succeeded, liveness and readiness wait for the startup
 * probe), and the actions they and the lifecycle hooks run: exec in the container through the
 * backend, HTTP GET through libcurl, TCP connect, sleep. Sockets to the pod go into the pod's
 * network namespace, so that 127.0.0.1 is the pod's own loopback when the pod has no address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/util.h"
#include "node/node-internal.h"

static const char *const kind_names[PROBE_KINDS] = { "liveness", "readiness", "startup" };

/* An action in flight: an exec, an HTTP GET, a TCP connect or a sleep. */
struct hook_op {
	struct apod *p;            /* the pod stays allocated while this runs */
	size_t index;              /* the container */
	hook_done_fn done;         /* called once, unless canceled */
	void *userdata;            /* for done */
	bool canceled;             /* the owner lost interest */
	bool finished;             /* done was called */
	bool exec_pending;         /* the backend exec has not reported yet */
	bool in_setup;             /* hook_run is still setting it up: not freed yet */
	struct loop_source *timer; /* timeout, or the sleep */
	struct loop_source *io;    /* the TCP connect */
	int fd;                    /* its socket */
	struct http_req *http;     /* the GET */
};

static void
op_release(struct hook_op *op)
{
	loop_source_free(op->timer);
	op->timer = NULL;
	loop_source_free(op->io);
	op->io = NULL;
	if (op->fd >= 0)
		close(op->fd);
	op->fd = -1;
	if (op->http)
		http_cancel(op->http);
	op->http = NULL;
}

/* Frees op when nothing refers to it any more; drops the pod's reference. */
static void
op_maybe_free(struct hook_op *op)
{
	if (op->exec_pending || op->in_setup || !(op->finished || op->canceled))
		return;
	struct apod *p = op->p;
	op_release(op);
	free(op);
	p->inflight--;
	if (p->freeing && p->inflight == 0)
		pod_free(p);
}

static void
op_finish(struct hook_op *op, bool ok, const char *message)
{
	if (op->finished)
		return;
	op->finished = true;
	op_release(op);
	if (!op->canceled && !op->p->freeing && op->p->agent)
		op->done(op->p, op->index, ok, message, op->userdata);
	op_maybe_free(op);
}

void
hook_cancel(struct hook_op *op)
{
	if (!op || op->canceled)
		return;
	op->canceled = true;
	op_release(op);
	op_maybe_free(op);
}

static void
on_op_timeout(struct loop_source *src, void *userdata)
{
	struct hook_op *op = userdata;
	op_finish(op, false, "probe timed out");
}

static void
on_sleep_done(struct loop_source *src, void *userdata)
{
	op_finish(userdata, true, NULL);
}

static void
on_exec(void *userdata, int r, const korch_error *err, const struct backend_exec_result *res)
{
	struct hook_op *op = userdata;
	op->exec_pending = false;
	if (op->finished || op->canceled) {
		op_maybe_free(op);
		return;
	}
	if (r < 0) {
		op_finish(op, false, err ? korch_error_message(err) : "exec failed");
		return;
	}
	if (res->timed_out) {
		op_finish(op, false, "command timed out");
		return;
	}
	char msg[1200];
	if (res->exit_code != 0)
		snprintf(msg, sizeof(msg), "command exited with %d%s%s", res->exit_code,
			 res->output ? ": " : "", res->output ? res->output : "");
	op_finish(op, res->exit_code == 0, res->exit_code == 0 ? NULL : msg);
}

static void
on_http(void *userdata, long code, const char *message)
{
	struct hook_op *op = userdata;
	op->http = NULL;
	if (code >= 200 && code < 400) {
		op_finish(op, true, NULL);
		return;
	}
	char msg[600];
	if (code)
		snprintf(msg, sizeof(msg), "HTTP probe failed with statuscode: %ld", code);
	op_finish(op, false, code ? msg : message);
}

static void
on_connect(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct hook_op *op = userdata;
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr == 0 && !(revents & (EPOLLERR | EPOLLHUP))) {
		op_finish(op, true, NULL);
		return;
	}
	char msg[256];
	snprintf(msg, sizeof(msg), "dial tcp: connect: %s", strerror(soerr ? soerr : ECONNREFUSED));
	op_finish(op, false, msg);
}

/* The address probes use for the pod: its IP, the node's for host networking, or loopback. */
static const char *
target_host(struct apod *p, const struct handler_spec *h, bool *ret_in_netns)
{
	struct node_agent *a = p->agent;
	*ret_in_netns = false;
	if (h->host)
		return h->host;
	if (p->spec->host_network)
		return a->node_ip ? a->node_ip : "127.0.0.1";
	if (p->pod_ip)
		return p->pod_ip;
	/* No pod address yet: the pod's own loopback, through its network namespace. */
	*ret_in_netns = a->backend->ops->sandbox_socket != NULL;
	return "127.0.0.1";
}

static int
open_in_pod(void *userdata, int domain, int type)
{
	struct hook_op *op = userdata;
	struct node_agent *a = op->p->agent;
	int fd = -1;
	if (a->backend->ops->sandbox_socket(a->backend->data, op->p->uid, domain,
					    type | SOCK_CLOEXEC, &fd, NULL) < 0)
		return -1;
	return fd;
}

static int
start_tcp(struct hook_op *op, const struct handler_spec *h, korch_error **err)
{
	struct apod *p = op->p;
	struct node_agent *a = p->agent;
	bool in_netns;
	const char *host = target_host(p, h, &in_netns);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)h->port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "tcpSocket host \"%s\": only IPv4 addresses are supported", host);
	int r;
	if (in_netns)
		r = a->backend->ops->sandbox_socket(a->backend->data, p->uid, AF_INET,
						    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
						    &op->fd, err);
	else if ((op->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		r = error_errno(err, errno, "socket");
	else
		r = 0;
	if (r < 0)
		return r;
	if (connect(op->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		op_finish(op, true, NULL);
		return 0;
	}
	if (errno != EINPROGRESS) {
		char msg[256];
		snprintf(msg, sizeof(msg), "dial tcp %s:%d: connect: %s", host, h->port,
			 strerror(errno));
		op_finish(op, false, msg);
		return 0;
	}
	return loop_add_io(a->loop, op->fd, EPOLLOUT, on_connect, op, &op->io, err);
}

static int
start_http(struct hook_op *op, const struct handler_spec *h, int64_t timeout_ns, korch_error **err)
{
	struct apod *p = op->p;
	bool in_netns;
	const char *host = target_host(p, h, &in_netns);
	char url[1024];
	const char *path = h->http_path && *h->http_path ? h->http_path : "/";
	snprintf(url, sizeof(url), "%s://%s:%d%s%s",
		 streq(h->http_scheme, "HTTPS") ? "https" : "http", host, h->port,
		 path[0] == '/' ? "" : "/", path);
	return http_get(p->agent->http, url, h->headers, timeout_ns, in_netns ? open_in_pod : NULL,
			op, on_http, op, &op->http, err);
}

int
hook_run(struct actr *c, const struct handler_spec *h, int64_t timeout_ns, hook_done_fn done,
	 void *userdata, struct hook_op **ret, korch_error **err)
{
	struct apod *p = c->pod;
	struct node_agent *a = p->agent;
	if (!c->cur)
		return error_set(err, KORCH_EINVALID, "container %s is not running", c->spec->name);
	if ((h->type == HANDLER_HTTP || h->type == HANDLER_TCP) && h->port <= 0)
		return error_set(err, KORCH_EINVALID,
				 "port \"%s\" not found in the container's ports",
				 h->port_name ? h->port_name : "");
	struct hook_op *op = calloc(1, sizeof(*op));
	if (!op)
		return error_oom(err);
	op->p = p;
	op->index = c->index;
	op->done = done;
	op->userdata = userdata;
	op->fd = -1;
	op->in_setup = true;
	p->inflight++;
	int r = 0;
	int64_t now = agent_now(a);
	switch (h->type) {
	case HANDLER_EXEC:
		op->exec_pending = true;
		r = a->backend->ops->exec(a->backend->data, c->cur->id, h->command, timeout_ns,
					  on_exec, op, err);
		if (r < 0)
			op->exec_pending = false;
		break;
	case HANDLER_HTTP: r = start_http(op, h, timeout_ns, err); break;
	case HANDLER_TCP: r = start_tcp(op, h, err); break;
	case HANDLER_SLEEP:
		r = loop_add_timer(a->loop, now + h->sleep_s * NSEC_PER_SEC, on_sleep_done, op,
				   &op->timer, err);
		break;
	case HANDLER_NONE: op_finish(op, true, NULL); break;
	}
	if (r < 0) {
		op->in_setup = false;
		op->canceled = true;
		op_maybe_free(op);
		return r;
	}
	/* The loop's clock bounds every action (curl's own timeout is the real clock's); without
	 * the timer the action still ends through its own timeout. */
	if (!op->finished && h->type != HANDLER_SLEEP && timeout_ns > 0)
		loop_add_timer(a->loop, now + timeout_ns, on_op_timeout, op, &op->timer, NULL);
	op->in_setup = false;
	bool finished = op->finished;
	if (finished)
		op_maybe_free(op);
	if (ret)
		*ret = finished ? NULL : op;
	return 0;
}

/* --- probers --- */

static void schedule(struct prober *pr, int64_t at);

static void
record(struct prober *pr, enum probe_result raw, const char *message)
{
	struct actr *c = pr->c;
	struct apod *p = c->pod;
	if (raw == pr->last)
		pr->run++;
	else {
		pr->last = raw;
		pr->run = 1;
	}
	free(pr->message);
	pr->message = message ? strdup(message) : NULL;
	enum probe_result was = pr->result;
	if ((raw == RESULT_SUCCESS && pr->run >= pr->spec->success_threshold) ||
	    (raw == RESULT_FAILURE && pr->run >= pr->spec->failure_threshold))
		pr->result = raw;
	if (pr->result == was)
		return;
	char desc[256];
	if (raw == RESULT_FAILURE)
		log_info("node", "pod %s: container %s: %s probe failed: %s", pod_desc(p, desc),
			 c->spec->name, kind_names[pr->kind], message ? message : "");
	switch (pr->kind) {
	case PROBE_READINESS: c->ready = pr->result == RESULT_SUCCESS; break;
	case PROBE_STARTUP:
		if (pr->result == RESULT_SUCCESS) {
			c->started = true;
			pr->done = true;
		}
		break;
	case PROBE_LIVENESS:
	case PROBE_KINDS: break;
	}
	agent_queue(p->agent, p->uid);
}

static void
on_probe_done(struct apod *p, size_t index, bool ok, const char *message, void *userdata)
{
	struct prober *pr = userdata;
	pr->op = NULL;
	record(pr, ok ? RESULT_SUCCESS : RESULT_FAILURE, message);
	if (!pr->done && pr->timer)
		schedule(pr, agent_now(p->agent) + (int64_t)pr->spec->period_s * NSEC_PER_SEC);
}

static void
run_probe(struct loop_source *src, void *userdata)
{
	struct prober *pr = userdata;
	struct actr *c = pr->c;
	struct apod *p = c->pod;
	struct node_agent *a = p->agent;
	int64_t next = agent_now(a) + (int64_t)pr->spec->period_s * NSEC_PER_SEC;
	if (!ctr_running(c) || pr->op || pr->done)
		return;
	/* Liveness and readiness wait for the startup probe to pass. */
	struct prober *startup = c->probes[PROBE_STARTUP];
	if (pr->kind != PROBE_STARTUP && startup && !startup->done) {
		schedule(pr, next);
		return;
	}
	if (a->backend->ops->probe_result) {
		int outcome = a->backend->ops->probe_result(a->backend->data, c->cur->id,
							    kind_names[pr->kind]);
		if (outcome >= 0) {
			record(pr, outcome ? RESULT_SUCCESS : RESULT_FAILURE,
			       outcome ? NULL : "simulated probe failure");
			if (!pr->done)
				schedule(pr, next);
			return;
		}
	}
	_cleanup_error_ korch_error *err = NULL;
	if (hook_run(c, &pr->spec->handler, (int64_t)pr->spec->timeout_s * NSEC_PER_SEC,
		     on_probe_done, pr, &pr->op, &err) < 0) {
		record(pr, RESULT_FAILURE, korch_error_message(err));
		schedule(pr, next);
	}
}

static void
schedule(struct prober *pr, int64_t at)
{
	loop_timer_set(pr->timer, at);
}

static void
prober_free(struct prober *pr)
{
	if (!pr)
		return;
	if (pr->op)
		hook_cancel(pr->op);
	loop_source_free(pr->timer);
	free(pr->message);
	free(pr);
}

void
probes_stop(struct actr *c)
{
	for (int k = 0; k < PROBE_KINDS; k++) {
		prober_free(c->probes[k]);
		c->probes[k] = NULL;
	}
}

void
probes_start(struct actr *c)
{
	struct apod *p = c->pod;
	struct node_agent *a = p->agent;
	probes_stop(c);
	const struct probe_spec *specs[PROBE_KINDS] = { c->spec->liveness, c->spec->readiness,
							c->spec->startup };
	/* Without a readiness probe the container is ready once started; without a startup
	 * probe it is started once running. Restored states (adoption) stay. */
	if (!specs[PROBE_STARTUP])
		c->started = true;
	if (!specs[PROBE_READINESS])
		c->ready = true;
	int64_t now = agent_now(a);
	int64_t ran_ns = c->cur && c->cur->started_ns ? agent_wall(a) - c->cur->started_ns : 0;
	if (ran_ns < 0)
		ran_ns = 0;
	for (int k = 0; k < PROBE_KINDS; k++) {
		if (!specs[k] || (k == PROBE_STARTUP && c->started))
			continue;
		struct prober *pr = calloc(1, sizeof(*pr));
		if (!pr)
			return;
		pr->c = c;
		pr->kind = (enum probe_kind)k;
		pr->spec = specs[k];
		pr->result = k == PROBE_LIVENESS                ? RESULT_SUCCESS
			     : k == PROBE_READINESS && c->ready ? RESULT_SUCCESS
			     : k == PROBE_READINESS             ? RESULT_FAILURE
								: RESULT_UNKNOWN;
		pr->last = RESULT_UNKNOWN;
		int64_t delay = (int64_t)specs[k]->initial_delay_s * NSEC_PER_SEC - ran_ns;
		if (loop_add_timer(a->loop, now + MAX(delay, 0), run_probe, pr, &pr->timer, NULL) <
		    0) {
			free(pr);
			return;
		}
		c->probes[k] = pr;
	}
}
