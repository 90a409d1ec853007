/*
 * monitor.c - korch-monitor's server: the lock, the socket, its clients and the operations
 * (hello, create, start, kill, wait, exec, state, stats, update, list, delete, subscribe,
 * shutdown).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "runtime/monitor-internal.h"
#include "runtime/monitor-proto.h"
#include "runtime/monitor.h"

#define DEFAULT_GRACE_MS 10000

struct mclient {
	struct monitor *m;          /* owner */
	int fd;                     /* the connection, non-blocking */
	struct loop_source *src;    /* readable (and writable while out has bytes) */
	struct proto_reader reader; /* frames and fds received */
	struct strbuf out;          /* frames not yet written */
	size_t out_off;             /* bytes of out written already */
	bool hello;                 /* the versions matched */
	bool subscribed;            /* gets exit events */
	bool closing;               /* close once out is written */
	bool dead;                  /* closed: free when its callback returns */
};

static void client_free(struct mclient *c);

/* Closes a client once the current dispatch is over (it may be in use up the stack). */
static void
client_kill(struct mclient *c)
{
	c->dead = true;
	loop_defer_enable(c->m->sweep_src);
}

static void
client_flush(struct mclient *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			loop_source_set_events(c->src, EPOLLIN | EPOLLOUT, NULL);
			return;
		}
		if (n < 0) {
			client_kill(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	strbuf_truncate(&c->out, 0);
	c->out_off = 0;
	loop_source_set_events(c->src, EPOLLIN, NULL);
	if (c->closing)
		client_kill(c);
}

/* Queues msg (stolen) for the client and writes what the socket takes. */
static void
client_send(struct mclient *c, json_t *msg)
{
	if (!msg || c->dead) {
		json_decref(msg);
		return;
	}
	_cleanup_error_ korch_error *err = NULL;
	if (proto_encode(msg, &c->out, &err) < 0) {
		log_error("monitor", "reply: %s", korch_error_message(err));
		client_kill(c);
	}
	json_decref(msg);
	client_flush(c);
}

int
mpending_new(struct monitor *m, struct mclient *client, json_t *id, struct mpending **ret)
{
	struct mpending *p = calloc(1, sizeof(*p));
	if (!p)
		return KORCH_ENOMEM;
	p->client = client;
	p->id = json_incref(id ? id : json_null());
	if (ptrvec_push(&m->pending, p) < 0) {
		json_decref(p->id);
		free(p);
		return KORCH_ENOMEM;
	}
	*ret = p;
	return 0;
}

static void
mpending_free(struct monitor *m, struct mpending *p)
{
	for (size_t i = 0; i < m->pending.n; i++)
		if (m->pending.items[i] == p) {
			ptrvec_remove(&m->pending, i);
			break;
		}
	json_decref(p->id);
	free(p);
}

static void
reply_to(struct mpending *p, json_t *reply)
{
	if (p->client)
		client_send(p->client, reply);
	else
		json_decref(reply);
}

void
mpending_ok(struct monitor *m, struct mpending *p, json_t *fields)
{
	json_t *reply = json_pack("{s:O, s:b}", "id", p->id, "ok", 1);
	if (reply && fields)
		json_object_update(reply, fields);
	json_decref(fields);
	reply_to(p, reply);
	mpending_free(m, p);
}

void
mpending_fail(struct monitor *m, struct mpending *p, const korch_error *err)
{
	reply_to(p, json_pack("{s:O, s:b, s:o}", "id", p->id, "ok", 0, "error",
			      proto_error_json(err)));
	mpending_free(m, p);
}

void
monitor_broadcast(struct monitor *m, json_t *ev)
{
	for (size_t i = 0; ev && i < m->clients.n; i++) {
		struct mclient *c = m->clients.items[i];
		if (c->subscribed && !c->dead)
			client_send(c, json_incref(ev));
	}
	json_decref(ev);
}

static struct mcontainer *
find(struct monitor *m, json_t *req, korch_error **err)
{
	const char *id = json_string_value(json_object_get(req, "container"));
	if (!id) {
		error_set(err, KORCH_EINVALID, "\"container\": required");
		return NULL;
	}
	struct mcontainer *c = hashmap_get(&m->containers, id);
	if (!c)
		error_set(err, KORCH_ENOTFOUND, "container %s not found", id);
	return c;
}

static int
parse_signal(json_t *v, int *ret, korch_error **err)
{
	int sig = -1;
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < NSIG)
		sig = (int)json_integer_value(v);
	else if (json_is_string(v))
		sig = signal_from_name(json_string_value(v));
	if (sig < 0)
		return error_set(err, KORCH_EINVALID, "\"signal\": not a signal name or number");
	*ret = sig;
	return 0;
}

/* The operations that answer at once; *ret_fields is added to the ok reply. */
static int
op_now(struct monitor *m, const char *op, json_t *req, json_t **ret_fields, korch_error **err)
{
	if (streq(op, "list")) {
		json_t *arr = json_array();
		size_t iter = 0;
		const char *id;
		void *v;
		while (arr && hashmap_next(&m->containers, &iter, &id, &v))
			json_array_append_new(arr, mcontainer_state(v, false));
		*ret_fields = json_pack("{s:o}", "containers", arr);
		return *ret_fields ? 0 : error_oom(err);
	}
	struct mcontainer *c = find(m, req, err);
	if (!c)
		return err && *err ? korch_error_code(*err) : KORCH_ENOTFOUND;
	if (streq(op, "state")) {
		*ret_fields = json_pack("{s:o}", "container", mcontainer_state(c, false));
		return *ret_fields ? 0 : error_oom(err);
	}
	if (streq(op, "stats")) {
		json_t *stats = NULL;
		int r = mcontainer_stats(c, &stats, err);
		if (r < 0)
			return r;
		*ret_fields = json_pack("{s:o}", "stats", stats);
		return *ret_fields ? 0 : error_oom(err);
	}
	if (streq(op, "update")) {
		json_t *res = json_object_get(req, "resources");
		if (!res)
			return error_set(err, KORCH_EINVALID, "\"resources\": required");
		return mcontainer_update(c, res, err);
	}
	int sig = 0, r = parse_signal(json_object_get(req, "signal"), &sig, err);
	if (r < 0)
		return r;
	return mcontainer_kill(c, sig, err);
}

/* The operations that answer later, through p. */
static int
op_later(struct monitor *m, const char *op, json_t *req, const int *fds, struct mpending *p,
	 korch_error **err)
{
	if (streq(op, "create")) {
		json_t *spec = json_object_get(req, "spec");
		if (!spec)
			return error_set(err, KORCH_EINVALID, "\"spec\": required");
		return mcontainer_create(m, spec, p, err);
	}
	struct mcontainer *c = find(m, req, err);
	if (!c)
		return err && *err ? korch_error_code(*err) : KORCH_ENOTFOUND;
	if (streq(op, "start"))
		return mcontainer_start(c, p, err);
	if (streq(op, "wait")) {
		mcontainer_wait(c, p);
		return 0;
	}
	if (streq(op, "delete")) {
		json_t *g = json_object_get(req, "gracePeriodMs");
		if (g && (!json_is_integer(g) || json_integer_value(g) < 0))
			return error_set(err, KORCH_EINVALID, "\"gracePeriodMs\": a number >= 0");
		int64_t ms = g ? json_integer_value(g) : DEFAULT_GRACE_MS;
		return mcontainer_delete(c, ms * NSEC_PER_MSEC, p, err);
	}
	/* exec */
	if (!fds)
		return error_set(err, KORCH_EINVALID,
				 "exec: stdin, stdout and stderr fds required");
	json_t *proc = json_object_get(req, "process");
	if (!proc)
		return error_set(err, KORCH_EINVALID, "\"process\": required");
	return mcontainer_exec(c, proc, fds, p, err);
}

static void
reply_error(struct mclient *c, json_t *id, const korch_error *err)
{
	client_send(c, json_pack("{s:O, s:b, s:o}", "id", id ? id : json_null(), "ok", 0, "error",
				 proto_error_json(err)));
}

static int
op_hello(struct mclient *c, json_t *req, json_t *id, korch_error **err)
{
	json_t *v = json_object_get(req, "version");
	if (!json_is_integer(v) || json_integer_value(v) != MONITOR_PROTOCOL_VERSION) {
		c->closing = true;
		if (!json_is_integer(v))
			return error_set(
				err, KORCH_EPROTO,
				"hello: \"version\" required (korch-monitor speaks protocol "
				"version %d)",
				MONITOR_PROTOCOL_VERSION);
		return error_set(
			err, KORCH_EPROTO,
			"korch-monitor speaks protocol version %d, the client version %" JSON_INTEGER_FORMAT,
			MONITOR_PROTOCOL_VERSION, json_integer_value(v));
	}
	c->hello = true;
	client_send(c, json_pack("{s:O, s:b, s:i, s:i}", "id", id ? id : json_null(), "ok", 1,
				 "version", MONITOR_PROTOCOL_VERSION, "pid", (int)getpid()));
	return 0;
}

static void
dispatch(struct mclient *c, json_t *req)
{
	struct monitor *m = c->m;
	_cleanup_error_ korch_error *err = NULL;
	json_t *id = json_object_get(req, "id");
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *nfds = json_object_get(req, "fds");
	int fds[MONITOR_FDS_MAX] = { -1, -1, -1 };
	size_t n = nfds ? (size_t)json_integer_value(nfds) : 0;
	int r = 0;
	if (nfds && (!json_is_integer(nfds) || n != MONITOR_FDS_MAX))
		r = error_set(&err, KORCH_EPROTO, "\"fds\": must be %d", MONITOR_FDS_MAX);
	else if (n && (r = proto_reader_take_fds(&c->reader, n, fds, &err)) < 0)
		c->closing = true;
	if (r == 0 && !op)
		r = error_set(&err, KORCH_EPROTO, "\"op\": required");
	if (r == 0 && streq(op, "hello")) {
		r = op_hello(c, req, id, &err);
	} else if (r == 0 && !c->hello) {
		c->closing = true;
		r = error_set(&err, KORCH_EPROTO, "say hello with the protocol version first");
	} else if (r == 0 && (streq(op, "list") || streq(op, "state") || streq(op, "kill") ||
			      streq(op, "stats") || streq(op, "update"))) {
		json_t *fields = NULL;
		if ((r = op_now(m, op, req, &fields, &err)) == 0) {
			json_t *reply =
				json_pack("{s:O, s:b}", "id", id ? id : json_null(), "ok", 1);
			if (reply && fields)
				json_object_update(reply, fields);
			json_decref(fields);
			client_send(c, reply);
		}
	} else if (r == 0 && (streq(op, "create") || streq(op, "start") || streq(op, "wait") ||
			      streq(op, "delete") || streq(op, "exec"))) {
		struct mpending *p = NULL;
		if ((r = mpending_new(m, c, id, &p)) < 0)
			error_oom(&err);
		else if ((r = op_later(m, op, req, n ? fds : NULL, p, &err)) < 0)
			mpending_free(m, p);
	} else if (r == 0 && streq(op, "subscribe")) {
		c->subscribed = true;
		client_send(c, json_pack("{s:O, s:b}", "id", id ? id : json_null(), "ok", 1));
	} else if (r == 0 && streq(op, "shutdown")) {
		client_send(c, json_pack("{s:O, s:b}", "id", id ? id : json_null(), "ok", 1));
		m->quitting = true;
		korch_loop_quit(m->loop);
	} else if (r == 0)
		r = error_set(&err, KORCH_EINVALID, "unknown operation \"%s\"", op);
	for (size_t i = 0; i < n && i < MONITOR_FDS_MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r < 0)
		reply_error(c, id, err);
}

static void
client_free(struct mclient *c)
{
	struct monitor *m = c->m;
	for (size_t i = 0; i < m->pending.n; i++) {
		struct mpending *p = m->pending.items[i];
		if (p->client == c)
			p->client = NULL;
	}
	for (size_t i = 0; i < m->clients.n; i++)
		if (m->clients.items[i] == c) {
			ptrvec_remove(&m->clients, i);
			break;
		}
	loop_source_free(c->src);
	close(c->fd);
	proto_reader_clear(&c->reader);
	strbuf_free(&c->out);
	free(c);
}

static void
on_client(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mclient *c = userdata;
	if (revents & EPOLLOUT)
		client_flush(c);
	while (!c->dead && !c->closing && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		_cleanup_error_ korch_error *err = NULL;
		int r = proto_reader_fill(&c->reader, fd, &err);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			if (r < 0)
				log_warn("monitor", "client: %s", korch_error_message(err));
			client_kill(c);
			break;
		}
		json_t *msg;
		while (!c->dead && !c->closing &&
		       (r = proto_reader_next(&c->reader, &msg, &err)) > 0) {
			dispatch(c, msg);
			json_decref(msg);
		}
		if (r < 0) {
			reply_error(c, NULL, err);
			c->closing = true;
		}
	}
	if (c->closing && c->out_off >= c->out.len)
		client_kill(c);
	if (c->dead)
		loop_source_set_events(c->src, 0, NULL);
}

static void
on_sweep(struct loop_source *src, void *userdata)
{
	struct monitor *m = userdata;
	for (size_t i = m->clients.n; i-- > 0;) {
		struct mclient *c = m->clients.items[i];
		if (c->dead)
			client_free(c);
	}
}

static void
on_accept(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct monitor *m = userdata;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct mclient *c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->m = m;
		c->fd = cfd;
		c->reader = (struct proto_reader)PROTO_READER_INIT;
		c->out = (struct strbuf)STRBUF_INIT;
		if (loop_add_io(m->loop, cfd, EPOLLIN, on_client, c, &c->src, NULL) < 0 ||
		    ptrvec_push(&m->clients, c) < 0) {
			loop_source_free(c->src);
			close(cfd);
			free(c);
		}
	}
}

static void
on_signal(struct loop_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct monitor *m = userdata;
	if (si->ssi_signo != SIGCHLD) {
		m->quitting = true;
		korch_loop_quit(m->loop);
		return;
	}
	/* Every child: containers' inits, exec'd processes, and orphans we reap as subreaper. */
	for (;;) {
		siginfo_t info = { 0 };
		if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
			break;
		monitor_child_exited(m, info.si_pid, &info);
	}
}

/* One monitor per run dir: an flock held for the monitor's life, with its pid inside. */
static int
take_lock(struct monitor *m, korch_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/monitor.lock", m->run_dir) < 0)
		return error_oom(err);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock_fd < 0)
		return error_errno(err, errno, "open %s", path);
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t n = pread(m->lock_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (errno == EWOULDBLOCK || errno == EAGAIN || n >= 0)
			return error_set(err, KORCH_EBUSY, "korch-monitor %s already runs for %s",
					 buf, m->run_dir);
		return error_errno(err, errno, "lock %s", path);
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(m->lock_fd, 0) < 0 || pwrite(m->lock_fd, pid, (size_t)len, 0) != len)
		return error_errno(err, errno, "write %s", path);
	return 0;
}

static int
listen_socket(struct monitor *m, korch_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/monitor.sock", m->run_dir);
	if (n >= (int)sizeof(sa.sun_path))
		return error_set(err, KORCH_EINVALID, "run dir %s: too long for a socket path",
				 m->run_dir);
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0)
		return error_errno(err, errno, "socket");
	/* We hold the lock: a socket file left there is a dead monitor's. */
	if (unlink(sa.sun_path) < 0 && errno != ENOENT)
		return error_errno(err, errno, "remove %s", sa.sun_path);
	mode_t old = umask(0177);
	int r = bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(m->listen_fd, 128) < 0)
		return error_errno(err, errno, "listen on %s", sa.sun_path);
	return loop_add_io(m->loop, m->listen_fd, EPOLLIN, on_accept, m, &m->listen_src, err);
}

static int
read_boot_id(struct monitor *m, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file("/proc/sys/kernel/random/boot_id", 64, &text, NULL, err);
	if (r < 0)
		return r;
	snprintf(m->boot_id, sizeof(m->boot_id), "%.*s", (int)strcspn(text, "\n"), text);
	return 0;
}

static int
monitor_setup(struct monitor *m, const struct monitor_options *opts, korch_error **err)
{
	int r;
	if (!(m->run_dir = strdup(opts->run_dir)) ||
	    asprintf(&m->containers_dir, "%s/containers", opts->run_dir) < 0)
		return error_oom(err);
	if ((r = mkdir_p(m->containers_dir, 0700, err)) < 0 || (r = take_lock(m, err)) < 0 ||
	    (r = read_boot_id(m, err)) < 0 || (r = korch_clock_new_real(&m->clock, err)) < 0 ||
	    (r = korch_loop_new(m->clock, &m->loop, err)) < 0 ||
	    (r = hooks_context_new(&m->hooks, err)) < 0)
		return r;
	if ((r = loop_add_defer(m->loop, on_sweep, m, &m->sweep_src, err)) < 0)
		return r;
	static const int sigs[3] = { SIGCHLD, SIGTERM, SIGINT };
	for (int i = 0; i < 3; i++)
		if ((r = loop_add_signal(m->loop, sigs[i], on_signal, m, &m->signal_srcs[i], err)) <
		    0)
			return r;
	signal(SIGPIPE, SIG_IGN);
	if ((r = monitor_reattach(m, err)) < 0 || (r = listen_socket(m, err)) < 0)
		return r;
	return 0;
}

static void
monitor_teardown(struct monitor *m)
{
	loop_source_free(m->listen_src);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		char path[4200];
		snprintf(path, sizeof(path), "%s/monitor.sock", m->run_dir);
		if (m->quitting)
			unlink(path);
	}
	while (m->clients.n)
		client_free(m->clients.items[m->clients.n - 1]);
	while (m->pending.n)
		mpending_free(m, m->pending.items[m->pending.n - 1]);
	for (size_t i = 0; i < m->execs.n; i++)
		mexec_free(m->execs.items[i]);
	ptrvec_free(&m->execs, NULL);
	size_t iter = 0;
	const char *id;
	void *v;
	while (hashmap_next(&m->containers, &iter, &id, &v))
		mcontainer_detach(v);
	hashmap_free(&m->containers, NULL);
	ptrvec_free(&m->clients, NULL);
	ptrvec_free(&m->pending, NULL);
	for (int i = 0; i < 3; i++)
		loop_source_free(m->signal_srcs[i]);
	loop_source_free(m->sweep_src);
	hooks_context_free(m->hooks);
	korch_loop_free(m->loop);
	korch_clock_free(m->clock);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m->run_dir);
	free(m->containers_dir);
}

int
monitor_run(const struct monitor_options *opts, korch_error **err)
{
	struct monitor m = { .lock_fd = -1, .listen_fd = -1 };
	int r = monitor_setup(&m, opts, err);
	if (r == 0 && opts->ready_fd >= 0) {
		if (write_all(opts->ready_fd, "ok\n", 3) < 0) {
			/* The starter gave up waiting; serve anyway. */
		}
		close(opts->ready_fd);
	}
	if (r == 0)
		r = korch_loop_run(m.loop, err);
	monitor_teardown(&m);
	return r;
}
