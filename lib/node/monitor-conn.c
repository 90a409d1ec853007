/*
 * monitor-conn.c - the loop-driven connection to korch-monitor: frames out with proto_send,
 * frames in from a non-blocking socket watched on the loop, replies matched by id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/vec.h"
#include "node/monitor-conn.h"
#include "runtime/monitor-client.h"
#include "runtime/monitor-proto.h"

struct pending {
	json_int_t id;     /* the request's */
	mconn_reply_fn fn; /* its callback */
	void *userdata;    /* for fn */
};

struct mconn {
	korch_loop *loop;           /* the connection is read here */
	int fd;                     /* connected, non-blocking; -1 once broken */
	struct loop_source *src;    /* fd readable */
	struct proto_reader reader; /* frames in */
	json_int_t next_id;         /* for requests */
	struct ptrvec pending;      /* struct pending, in the order sent */
	mconn_event_fn on_event;    /* exit events */
	void *userdata;             /* for on_event */
};

static void
fail_pending(struct mconn *c, int code, const char *why)
{
	/* Callbacks may send more requests: take the list first. */
	struct ptrvec v = c->pending;
	c->pending = (struct ptrvec)PTRVEC_INIT;
	for (size_t i = 0; i < v.n; i++) {
		struct pending *p = v.items[i];
		korch_error *err = NULL;
		error_set(&err, code, "%s", why);
		if (p->fn)
			p->fn(p->userdata, code, err, NULL);
		korch_error_free(err);
		free(p);
	}
	ptrvec_free(&v, NULL);
}

static void
broken(struct mconn *c)
{
	if (c->fd < 0)
		return;
	loop_source_free(c->src);
	c->src = NULL;
	close(c->fd);
	c->fd = -1;
	fail_pending(c, KORCH_ESYSTEM, "korch-monitor closed the connection");
	if (c->on_event)
		c->on_event(c->userdata, NULL);
}

static void
dispatch(struct mconn *c, json_t *msg)
{
	if (json_object_get(msg, "event")) {
		if (c->on_event)
			c->on_event(c->userdata, msg);
		return;
	}
	json_t *rid = json_object_get(msg, "id");
	for (size_t i = 0; i < c->pending.n; i++) {
		struct pending *p = c->pending.items[i];
		if (!json_is_integer(rid) || json_integer_value(rid) != p->id)
			continue;
		ptrvec_remove(&c->pending, i);
		if (json_is_true(json_object_get(msg, "ok"))) {
			if (p->fn)
				p->fn(p->userdata, 0, NULL, msg);
		} else {
			korch_error *err = NULL;
			int r = proto_error_from_json(json_object_get(msg, "error"), &err);
			if (p->fn)
				p->fn(p->userdata, r, err, NULL);
			korch_error_free(err);
		}
		free(p);
		return;
	}
}

static void
on_readable(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mconn *c = userdata;
	for (;;) {
		int r = proto_reader_fill(&c->reader, c->fd, NULL);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			/* Deliver what came before the end, then report the break. */
			json_t *msg;
			while (proto_reader_next(&c->reader, &msg, NULL) == 1) {
				dispatch(c, msg);
				json_decref(msg);
			}
			broken(c);
			return;
		}
	}
	json_t *msg;
	while (c->fd >= 0 && proto_reader_next(&c->reader, &msg, NULL) == 1) {
		dispatch(c, msg);
		json_decref(msg);
	}
}

static int
send_op(struct mconn *c, const char *op, korch_error **err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s}", "op", op);
	if (!req)
		return error_oom(err);
	return mconn_call(c, req, NULL, 0, NULL, NULL, err);
}

int
mconn_open(korch_loop *loop, const char *run_dir, const char *monitor_path, mconn_event_fn on_event,
	   void *userdata, struct mconn **ret, korch_error **err)
{
	/* The blocking client starts the monitor when none runs and checks its version. */
	struct monitor_client_options mo = { .run_dir = run_dir, .monitor_path = monitor_path };
	struct monitor_client *probe = NULL;
	int r = monitor_client_connect(&mo, &probe, err);
	if (r < 0)
		return r;
	monitor_client_free(probe);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/monitor.sock", run_dir) >=
	    (int)sizeof(sa.sun_path))
		return error_set(err, KORCH_EINVALID, "run dir %s: too long for a socket path",
				 run_dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_errno(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = error_errno(err, errno, "connect to %s", sa.sun_path);
		close(fd);
		return r;
	}
	struct mconn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return error_oom(err);
	}
	c->loop = loop;
	c->fd = fd;
	c->reader = (struct proto_reader)PROTO_READER_INIT;
	c->on_event = on_event;
	c->userdata = userdata;
	_cleanup_json_ json_t *hello =
		json_pack("{s:s, s:i}", "op", "hello", "version", MONITOR_PROTOCOL_VERSION);
	if (!hello || (r = proto_send(fd, hello, NULL, 0, err)) < 0 ||
	    (r = loop_add_io(loop, fd, EPOLLIN, on_readable, c, &c->src, err)) < 0 ||
	    (r = send_op(c, "subscribe", err)) < 0) {
		c->on_event = NULL;
		mconn_free(c);
		return r < 0 ? r : error_oom(err);
	}
	*ret = c;
	return 0;
}

int
mconn_call(struct mconn *c, json_t *request, const int *fds, size_t n_fds, mconn_reply_fn fn,
	   void *userdata, korch_error **err)
{
	if (c->fd < 0)
		return error_set(err, KORCH_ESYSTEM, "korch-monitor is not connected");
	struct pending *p = calloc(1, sizeof(*p));
	_cleanup_json_ json_t *req = json_copy(request);
	if (!p || !req) {
		free(p);
		return error_oom(err);
	}
	p->id = ++c->next_id;
	p->fn = fn;
	p->userdata = userdata;
	if (json_object_set_new(req, "id", json_integer(p->id)) < 0 ||
	    (n_fds && json_object_set_new(req, "fds", json_integer((json_int_t)n_fds)) < 0) ||
	    ptrvec_push(&c->pending, p) < 0) {
		free(p);
		return error_oom(err);
	}
	int r = proto_send(c->fd, req, fds, n_fds, err);
	if (r < 0) {
		c->pending.n--;
		free(p);
		return r;
	}
	return 0;
}

bool
mconn_up(const struct mconn *c)
{
	return c && c->fd >= 0;
}

void
mconn_free(struct mconn *c)
{
	if (!c)
		return;
	loop_source_free(c->src);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	fail_pending(c, KORCH_ECANCELED, "the connection to korch-monitor was closed");
	proto_reader_clear(&c->reader);
	free(c);
}
