/*
 * agent-ops.c - the API server's node calls (server_node_ops) over a node agent in the same
 * process: pods/log and pods/exec run korch_pod_logs and korch_pod_exec (lib/node's, which
 * read the CRI log files and talk to korch-monitor) on a thread of their own with a state
 * handle of their own, so that nothing blocks the loop; their output comes back through a
 * socket the loop watches. Metrics are the agent's latest usage samples.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <korch/node.h>
#include "api/kinds.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "node/agent.h"
#include "server/server.h"

#define CHUNK (64 * 1024) /* read from a stream's socket at once */

struct agent_ops {
	struct server_node_ops ops; /* what the server gets */
	struct node_agent *agent;   /* borrowed */
	struct client *client;      /* borrowed: the agent's */
	korch_loop *loop;           /* borrowed */
	char *state_path;           /* opened again by each stream's thread */
	char *data_dir;             /* where the agent keeps logs/ */
	char *run_dir;              /* korch-monitor's */
};

/* A stream shared by the loop and its thread; the last of the two to let go frees it. */
struct stream {
	atomic_int refs;         /* 2 while both hold it */
	atomic_bool canceled;    /* the server gave up: no callback any more */
	struct agent_ops *ao;    /* owner (outlives the loop side only) */
	char *state_path;        /* copies for the thread */
	char *run_dir;           /* for exec */
	char *data_dir;          /* for logs */
	char *ns, *pod;          /* the pod */
	char *container;         /* resolved by the server */
	char *since;             /* logs: sinceTime as text, or NULL */
	int loop_fd;             /* logs: the loop's end of the socket pair; exec: done pipe */
	int thread_fd;           /* logs: the thread's end; exec: the done pipe's write end */
	struct loop_source *src; /* watches loop_fd */
	void *userdata;          /* the server's */
	int r;                   /* the thread's result */
	korch_error *error;      /* and its error */
	/* logs */
	korch_logs_options lo;     /* what korch_pod_logs is asked */
	server_log_write_fn write; /* the server's */
	server_log_done_fn done;   /* the server's */
	/* exec */
	char **argv;              /* the command */
	korch_exec_options xo;    /* its streams: the thread's ends */
	server_exec_exit_fn exit; /* the server's */
	int exit_code;            /* the process's */
};

static void
stream_unref(struct stream *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->loop_fd >= 0)
		close(s->loop_fd);
	if (s->thread_fd >= 0)
		close(s->thread_fd);
	if (s->xo.stdin_fd >= 0)
		close(s->xo.stdin_fd);
	if (s->xo.stdout_fd >= 0)
		close(s->xo.stdout_fd);
	if (s->xo.stderr_fd >= 0 && s->xo.stderr_fd != s->xo.stdout_fd)
		close(s->xo.stderr_fd);
	if (s->argv)
		for (char **a = s->argv; *a; a++)
			free(*a);
	free(s->argv);
	korch_error_free(s->error);
	free(s->state_path);
	free(s->run_dir);
	free(s->data_dir);
	free(s->ns);
	free(s->pod);
	free(s->container);
	free(s->since);
	free(s);
}

static struct stream *
stream_new(struct agent_ops *ao, const char *ns, const char *pod, const char *container)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	atomic_init(&s->canceled, false);
	s->ao = ao;
	s->loop_fd = s->thread_fd = -1;
	s->xo = (korch_exec_options)KORCH_EXEC_OPTIONS_INIT;
	s->state_path = strdup(ao->state_path);
	s->run_dir = strdup(ao->run_dir);
	s->data_dir = strdup(ao->data_dir);
	s->ns = strdup(ns);
	s->pod = strdup(pod);
	s->container = strdup(container);
	if (!s->state_path || !s->run_dir || !s->data_dir || !s->ns || !s->pod || !s->container) {
		stream_unref(s);
		return NULL;
	}
	return s;
}

/* Starts fn on a detached thread that holds a reference. */
static int
stream_thread(struct stream *s, void *(*fn)(void *), korch_error **err)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&s->refs, 1);
	pthread_t t;
	int r = pthread_create(&t, &attr, fn, s);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		atomic_fetch_sub(&s->refs, 1);
		return error_errno(err, r, "start a stream thread");
	}
	return 0;
}

/* ---- logs ---- */

static int
log_out(const char *data, size_t len, void *userdata)
{
	struct stream *s = userdata;
	if (atomic_load(&s->canceled))
		return 1;
	while (len) {
		ssize_t n = send(s->thread_fd, data, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1; /* the loop closed its end */
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
log_thread(void *p)
{
	struct stream *s = p;
	korch_client *kc = NULL;
	s->r = korch_client_open_state(s->state_path, NULL, &kc, &s->error);
	if (s->r == 0)
		s->r = korch_pod_logs(kc, s->ns, s->pod, &s->lo, log_out, s, &s->error);
	korch_client_free(kc);
	/* The end of the socket: the loop sees end-of-file after the last byte, then reads r. */
	shutdown(s->thread_fd, SHUT_WR);
	stream_unref(s);
	return NULL;
}

static void
log_readable(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct stream *s = userdata;
	char buf[CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (s->write(buf, (size_t)n, s->userdata) == 1)
			loop_source_set_events(s->src, 0, NULL); /* until log_resume */
		return;
	}
	/* End of file: the thread finished and set r before shutting its end. */
	loop_source_free(steal_pointer(&s->src));
	atomic_thread_fence(memory_order_acquire);
	s->done(s->r, s->error, s->userdata);
	stream_unref(s);
}

static int
log_start(void *node, const struct server_log_request *req, server_log_write_fn write,
	  server_log_done_fn done, void *userdata, void **ret_handle, korch_error **err)
{
	struct agent_ops *ao = node;
	struct stream *s = stream_new(ao, req->ns, req->pod, req->container);
	if (!s)
		return error_oom(err);
	s->write = write;
	s->done = done;
	s->userdata = userdata;
	s->lo = (korch_logs_options)KORCH_LOGS_OPTIONS_INIT;
	s->lo.container = s->container;
	s->lo.follow = req->follow;
	s->lo.previous = req->previous;
	s->lo.timestamps = req->timestamps;
	s->lo.tail_lines = req->tail_lines;
	s->lo.since_seconds = req->since_seconds;
	s->lo.limit_bytes = req->limit_bytes;
	s->lo.data_dir = s->data_dir;
	char since[40];
	if (req->since_time_ns > 0) {
		/* korch_pod_logs takes the time as text: the copy lives in the stream. */
		format_rfc3339(req->since_time_ns, true, since);
		if (!(s->since = strdup(since))) {
			stream_unref(s);
			return error_oom(err);
		}
		s->lo.since_time = s->since;
	}
	int sv[2];
	int r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = error_errno(err, errno, "logs: socketpair");
		goto fail;
	}
	s->loop_fd = sv[0];
	s->thread_fd = sv[1];
	fcntl(s->loop_fd, F_SETFL, O_NONBLOCK);
	if ((r = loop_add_io(ao->loop, s->loop_fd, EPOLLIN, log_readable, s, &s->src, err)) < 0 ||
	    (r = stream_thread(s, log_thread, err)) < 0)
		goto fail;
	*ret_handle = s;
	return 0;
fail:
	loop_source_free(steal_pointer(&s->src));
	stream_unref(s);
	return r;
}

static void
log_resume(void *handle)
{
	struct stream *s = handle;
	if (s->src)
		loop_source_set_events(s->src, EPOLLIN, NULL);
}

static void
log_cancel(void *handle)
{
	struct stream *s = handle;
	if (!s->src)
		return; /* done already: the server no longer holds it */
	atomic_store(&s->canceled, true);
	loop_source_free(steal_pointer(&s->src));
	/* The thread's next send fails; a follow of a quiet log ends with its container. */
	shutdown(s->loop_fd, SHUT_RDWR);
	stream_unref(s);
}

/* ---- exec ---- */

static void *
exec_thread(void *p)
{
	struct stream *s = p;
	korch_client *kc = NULL;
	s->r = korch_client_open_state(s->state_path, NULL, &kc, &s->error);
	if (s->r == 0)
		s->r = korch_pod_exec(kc, s->ns, s->pod, s->argv, &s->xo, &s->exit_code, &s->error);
	korch_client_free(kc);
	/* The process's ends close here: the server reads the last output, then end-of-file. */
	if (s->xo.stderr_fd == s->xo.stdout_fd)
		s->xo.stderr_fd = -1;
	if (s->xo.stdout_fd >= 0)
		close(steal_fd(&s->xo.stdout_fd));
	if (s->xo.stderr_fd >= 0)
		close(steal_fd(&s->xo.stderr_fd));
	atomic_thread_fence(memory_order_release);
	if (write(s->thread_fd, "x", 1) < 0) {
		/* the loop side went away: nobody waits */
	}
	stream_unref(s);
	return NULL;
}

static void
exec_ended(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct stream *s = userdata;
	loop_source_free(steal_pointer(&s->src));
	atomic_thread_fence(memory_order_acquire);
	s->exit(s->r < 0 ? -1 : s->exit_code, s->r < 0 ? s->error : NULL, s->userdata);
	stream_unref(s);
}

/* A pipe with the server's end non-blocking; *ours is the server's, *theirs the process's. */
static int
exec_pipe(bool server_writes, int *ours, int *theirs, korch_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno(err, errno, "exec: pipe");
	*ours = server_writes ? p[1] : p[0];
	*theirs = server_writes ? p[0] : p[1];
	fcntl(*ours, F_SETFL, O_NONBLOCK);
	return 0;
}

static int
exec_start(void *node, const struct server_exec_request *req, server_exec_exit_fn exit,
	   void *userdata, struct server_exec_streams *ret, void **ret_handle, korch_error **err)
{
	struct agent_ops *ao = node;
	struct stream *s = stream_new(ao, req->ns, req->pod, req->container);
	if (!s)
		return error_oom(err);
	s->exit = exit;
	s->userdata = userdata;
	size_t n = 0;
	while (req->command[n])
		n++;
	s->argv = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; s->argv && i < n; i++)
		if (!(s->argv[i] = strdup(req->command[i]))) {
			stream_unref(s);
			return error_oom(err);
		}
	if (!s->argv) {
		stream_unref(s);
		return error_oom(err);
	}
	s->xo.container = s->container;
	s->xo.run_dir = s->run_dir;
	s->xo.tty = req->tty;
	struct server_exec_streams st = { -1, -1, -1 };
	int r = 0;
	int done[2] = { -1, -1 };
	if (req->stdin_open)
		r = exec_pipe(true, &st.stdin_fd, &s->xo.stdin_fd, err);
	if (r == 0)
		r = exec_pipe(false, &st.stdout_fd, &s->xo.stdout_fd, err);
	if (r == 0 && !req->tty && req->want_stderr)
		r = exec_pipe(false, &st.stderr_fd, &s->xo.stderr_fd, err);
	else if (r == 0 && req->tty)
		s->xo.stderr_fd = s->xo.stdout_fd; /* a terminal has one output */
	if (r == 0 && pipe2(done, O_CLOEXEC) < 0)
		r = error_errno(err, errno, "exec: pipe");
	if (r < 0)
		goto fail;
	s->loop_fd = done[0];
	s->thread_fd = done[1];
	if ((r = loop_add_io(ao->loop, s->loop_fd, EPOLLIN, exec_ended, s, &s->src, err)) < 0 ||
	    (r = stream_thread(s, exec_thread, err)) < 0)
		goto fail;
	*ret = st;
	*ret_handle = s;
	return 0;
fail:
	if (s->xo.stderr_fd == s->xo.stdout_fd)
		s->xo.stderr_fd = -1;
	for (int *fd = &st.stdin_fd; fd <= &st.stderr_fd; fd++)
		if (*fd >= 0)
			close(*fd);
	loop_source_free(steal_pointer(&s->src));
	stream_unref(s);
	return r;
}

/*
 * The server closes its ends: the process reads end-of-file and its writes fail, which ends
 * what reads its input or writes output; the exit is not reported any more.
 */
static void
exec_cancel(void *handle)
{
	struct stream *s = handle;
	if (!s->src)
		return;
	atomic_store(&s->canceled, true);
	loop_source_free(steal_pointer(&s->src));
	stream_unref(s);
}

/* ---- metrics ---- */

static json_t *
usage_of(const json_t *samples)
{
	const json_t *last = json_array_get(samples, json_array_size(samples) - 1);
	const json_t *cpu = json_object_get(last, "cpu");
	if (!last || !json_is_integer(cpu))
		return NULL; /* fewer than two samples: no rate yet */
	char c[32], m[32];
	snprintf(c, sizeof(c), "%lldn", (long long)json_integer_value(cpu));
	snprintf(m, sizeof(m), "%lldKi",
		 (long long)(json_integer_value(json_object_get(last, "memory")) / 1024));
	return json_pack("{s:s, s:s}", "cpu", c, "memory", m);
}

/* {"timestamp", "window"} of the last sample, onto item. */
static void
stamp(json_t *item, const json_t *samples, json_int_t window_s)
{
	const json_t *last = json_array_get(samples, json_array_size(samples) - 1);
	char w[32];
	snprintf(w, sizeof(w), "%llds", (long long)window_s);
	json_object_set(item, "timestamp", json_object_get(last, "timestamp"));
	json_object_set_new(item, "window", json_string(w));
}

static int
metrics(void *node, json_t **ret, korch_error **err)
{
	struct agent_ops *ao = node;
	_cleanup_json_ json_t *ns = NULL;
	int r = node_agent_node_samples(ao->agent, &ns, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *out = json_pack("{s:{s:s}, s:[]}", "node", "name",
					       node_agent_node_name(ao->agent), "pods");
	if (!out)
		return error_oom(err);
	json_t *node_item = json_object_get(out, "node");
	json_t *u = usage_of(json_object_get(ns, "samples"));
	if (u) {
		stamp(node_item, json_object_get(ns, "samples"),
		      json_integer_value(json_object_get(ns, "window")));
		json_object_set_new(node_item, "usage", u);
	} else {
		json_object_del(out, "node");
	}
	/* Every pod bound here that has samples. */
	struct client_list_opts lo = { .field_selector = NULL };
	char sel[300];
	snprintf(sel, sizeof(sel), "spec.nodeName=%s", node_agent_node_name(ao->agent));
	lo.field_selector = sel;
	_cleanup_json_ json_t *pods = NULL;
	if ((r = client_list(ao->client, kind_lookup("v1", "Pod"), NULL, &lo, &pods, err)) < 0)
		return r;
	size_t i;
	json_t *pod;
	json_array_foreach (json_object_get(pods, "items"), i, pod) {
		const json_t *meta = json_object_get(pod, "metadata");
		const char *pns = json_string_value(json_object_get(meta, "namespace"));
		const char *name = json_string_value(json_object_get(meta, "name"));
		_cleanup_json_ json_t *ps = NULL;
		if (!pns || !name || node_agent_pod_samples(ao->agent, pns, name, &ps, NULL) < 0)
			continue;
		json_t *ctrs = json_array();
		size_t k;
		json_t *c;
		json_array_foreach (json_object_get(ps, "containers"), k, c) {
			json_t *cu = usage_of(json_object_get(c, "samples"));
			if (cu)
				json_array_append_new(ctrs, json_pack("{s:O, s:o}", "name",
								      json_object_get(c, "name"),
								      "usage", cu));
		}
		if (!json_array_size(ctrs)) {
			json_decref(ctrs);
			continue;
		}
		json_t *item = json_pack("{s:s, s:s, s:o}", "namespace", pns, "name", name,
					 "containers", ctrs);
		stamp(item, json_object_get(ps, "samples"),
		      json_integer_value(json_object_get(ps, "window")));
		json_array_append_new(json_object_get(out, "pods"), item);
	}
	*ret = steal_pointer(&out);
	return 0;
}

/* ---- the table ---- */

int
server_agent_ops_new(struct node_agent *agent, struct client *client, korch_loop *loop,
		     const char *state_path, const char *data_dir, const char *run_dir,
		     struct server_node_ops **ret, korch_error **err)
{
	struct agent_ops *ao = calloc(1, sizeof(*ao));
	if (!ao)
		return error_oom(err);
	ao->agent = agent;
	ao->client = client;
	ao->loop = loop;
	ao->state_path = strdup(state_path);
	ao->data_dir = strdup(data_dir);
	ao->run_dir = strdup(run_dir);
	if (!ao->state_path || !ao->data_dir || !ao->run_dir) {
		server_agent_ops_free(&ao->ops);
		return error_oom(err);
	}
	ao->ops = (struct server_node_ops){
		.node = ao,
		.log_start = log_start,
		.log_resume = log_resume,
		.log_cancel = log_cancel,
		.exec_start = exec_start,
		.exec_resize = NULL, /* korch_pod_exec sizes the terminal once, at the start */
		.exec_cancel = exec_cancel,
		.metrics = metrics,
	};
	*ret = &ao->ops;
	return 0;
}

void
server_agent_ops_free(struct server_node_ops *ops)
{
	if (!ops)
		return;
	struct agent_ops *ao = (struct agent_ops *)ops; /* ops is its first member */
	free(ao->state_path);
	free(ao->data_dir);
	free(ao->run_dir);
	free(ao);
}
