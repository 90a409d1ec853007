/*
 * exec.c - pods/NAME/exec over WebSocket (v5.channel.k8s.io), as kubectl 1.32 speaks it: the
 * handshake, then binary messages whose first byte is the channel (0 stdin, 1 stdout, 2
 * stderr, 3 the final Status, 4 terminal resize, 255 closing a channel), framed by hand over
 * libmicrohttpd's upgraded socket. The process itself is the node agent's: it hands over the
 * process's stdio as fds, which the session polls on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "base/websocket.h"
#include "server/server-internal.h"

#define READ_CHUNK (32 * 1024)
#define MAX_FRAME (1024 * 1024)
#define OUT_HIGH_WATER (1024 * 1024)
#define EXIT_GRACE_NS (2 * NSEC_PER_SEC) /* output still arriving after the exit */

struct exec_session {
	struct server *srv;                    /* owner */
	void *handle;                          /* the node agent's exec; NULL once it ended */
	struct server_exec_streams fds;        /* the process's stdio (ours to close) */
	int sock;                              /* the upgraded connection, -1 before the upgrade */
	struct MHD_UpgradeResponseHandle *urh; /* closes it */
	struct loop_source *sock_src;          /* the connection */
	struct loop_source *out_src;           /* stdout */
	struct loop_source *err_src;           /* stderr */
	struct loop_source *in_src;            /* stdin, while there is input to write */
	struct loop_source *grace;             /* ends the session after the exit */
	struct strbuf in;                      /* bytes from the client not parsed yet */
	struct strbuf out;                     /* frames to the client not sent yet */
	size_t out_off;                        /* bytes of out sent */
	struct strbuf input;                   /* stdin bytes not written yet */
	size_t input_off;                      /* bytes of input written */
	bool stdin_eof;                        /* close stdin once input is written */
	bool exited;                           /* the process ended */
	int exit_code;                         /* its exit code */
	char *exit_error;                      /* or why exec failed */
	bool finished;                         /* the Status and the close frame are queued */
	bool closed;                           /* the connection is closed */
};

static void session_flush(struct exec_session *x);
static void session_io(struct exec_session *x);

static void
close_fd(int *fd, struct loop_source **src)
{
	loop_source_free(steal_pointer(src));
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
session_free(struct exec_session *x)
{
	struct ptrvec *v = &x->srv->sessions;
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i] == x) {
			ptrvec_remove(v, i);
			break;
		}
	const struct server_node_ops *ops = x->srv->opts.node;
	if (x->handle && ops && ops->exec_cancel)
		ops->exec_cancel(x->handle);
	close_fd(&x->fds.stdin_fd, &x->in_src);
	close_fd(&x->fds.stdout_fd, &x->out_src);
	close_fd(&x->fds.stderr_fd, &x->err_src);
	loop_source_free(x->sock_src);
	loop_source_free(x->grace);
	if (x->urh)
		MHD_upgrade_action(x->urh, MHD_UPGRADE_ACTION_CLOSE);
	strbuf_free(&x->in);
	strbuf_free(&x->out);
	strbuf_free(&x->input);
	free(x->exit_error);
	free(x);
}

/* Queues the final Status on channel 3 and the close frame. */
static void
session_finish(struct exec_session *x)
{
	if (x->finished)
		return;
	x->finished = true;
	_cleanup_json_ json_t *st = NULL;
	if (x->exit_error) {
		st = json_pack("{s:{}, s:s, s:s, s:s, s:{s:[{s:s}]}, s:i}", "metadata", "status",
			       "Failure", "message", x->exit_error, "reason", "InternalError",
			       "details", "causes", "message", x->exit_error, "code", 500);
	} else if (x->exit_code == 0) {
		st = json_pack("{s:{}, s:s}", "metadata", "status", "Success");
	} else {
		char code[16], msg[128];
		snprintf(code, sizeof(code), "%d", x->exit_code);
		snprintf(msg, sizeof(msg),
			 "command terminated with non-zero exit code: exit code %d", x->exit_code);
		st = json_pack("{s:{}, s:s, s:s, s:s, s:{s:[{s:s, s:s}]}}", "metadata", "status",
			       "Failure", "message", msg, "reason", "NonZeroExitCode", "details",
			       "causes", "reason", "ExitCode", "message", code);
	}
	_cleanup_free_ char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	uint8_t ch = WS_CHANNEL_ERROR;
	if (text)
		ws_put_frame(&x->out, WS_BINARY, &ch, 1, text, strlen(text), NULL);
	uint8_t code[2] = { 1000 >> 8, 1000 & 0xff };
	ws_put_frame(&x->out, WS_CLOSE, NULL, 0, code, 2, NULL);
	session_flush(x);
}

static void
maybe_finish(struct exec_session *x)
{
	if (x->exited && x->fds.stdout_fd < 0 && x->fds.stderr_fd < 0)
		session_finish(x);
}

static void
on_grace(struct loop_source *src, void *userdata)
{
	struct exec_session *x = userdata;
	close_fd(&x->fds.stdout_fd, &x->out_src);
	close_fd(&x->fds.stderr_fd, &x->err_src);
	session_finish(x);
}

static void
on_exit_cb(int exit_code, const korch_error *error, void *userdata)
{
	struct exec_session *x = userdata;
	x->handle = NULL;
	x->exited = true;
	x->exit_code = exit_code;
	if (error && !x->exit_error)
		x->exit_error = strdup(korch_error_message(error));
	close_fd(&x->fds.stdin_fd, &x->in_src);
	int64_t now = korch_clock_now_ns(korch_loop_clock(x->srv->loop));
	if (!x->grace)
		loop_add_timer(x->srv->loop, now + EXIT_GRACE_NS, on_grace, x, &x->grace, NULL);
	maybe_finish(x);
}

/* Writes pending frames; once the close frame is out, the connection goes. */
static void
session_flush(struct exec_session *x)
{
	if (x->sock < 0 || x->closed)
		return;
	while (x->out_off < x->out.len) {
		ssize_t n = write(x->sock, x->out.buf + x->out_off, x->out.len - x->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			x->closed = true;
			break;
		}
		x->out_off += (size_t)n;
	}
	if (x->out_off == x->out.len) {
		strbuf_truncate(&x->out, 0);
		x->out_off = 0;
	}
	if (x->closed || (x->finished && x->out.len == 0)) {
		session_free(x);
		return;
	}
	session_io(x);
}

/* Polls what needs polling: the connection (writable while frames wait), the outputs. */
static void
session_io(struct exec_session *x)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP | (x->out.len ? EPOLLOUT : 0);
	if (x->sock_src)
		loop_source_set_events(x->sock_src, ev, NULL);
	bool room = x->out.len - x->out_off < OUT_HIGH_WATER;
	if (x->out_src)
		loop_source_set_events(x->out_src, room ? EPOLLIN : 0, NULL);
	if (x->err_src)
		loop_source_set_events(x->err_src, room ? EPOLLIN : 0, NULL);
	if (x->in_src)
		loop_source_set_events(x->in_src, x->input.len > x->input_off ? EPOLLOUT : 0, NULL);
}

static void
on_output(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct exec_session *x = userdata;
	bool is_out = src == x->out_src;
	char buf[READ_CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (is_out)
			close_fd(&x->fds.stdout_fd, &x->out_src);
		else
			close_fd(&x->fds.stderr_fd, &x->err_src);
		maybe_finish(x);
		return;
	}
	uint8_t ch = is_out ? WS_CHANNEL_STDOUT : WS_CHANNEL_STDERR;
	ws_put_frame(&x->out, WS_BINARY, &ch, 1, buf, (size_t)n, NULL);
	session_flush(x);
}

static void
stdin_write(struct exec_session *x)
{
	while (x->fds.stdin_fd >= 0 && x->input_off < x->input.len) {
		ssize_t n = write(x->fds.stdin_fd, x->input.buf + x->input_off,
				  x->input.len - x->input_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			/* The process closed its stdin: drop what it will never read. */
			x->input_off = x->input.len;
			break;
		}
		x->input_off += (size_t)n;
	}
	if (x->input_off == x->input.len) {
		strbuf_truncate(&x->input, 0);
		x->input_off = 0;
		if (x->stdin_eof)
			close_fd(&x->fds.stdin_fd, &x->in_src);
	}
}

static void
on_stdin(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct exec_session *x = userdata;
	stdin_write(x);
	session_io(x);
}

/* One message from the client. */
static void
on_message(struct exec_session *x, const struct ws_frame *f)
{
	if (f->opcode == WS_PING) {
		ws_put_frame(&x->out, WS_PONG, NULL, 0, f->payload, f->len, NULL);
		return;
	}
	if (f->opcode == WS_CLOSE) {
		/* The client went: the process goes too. */
		x->closed = true;
		return;
	}
	if (f->opcode != WS_BINARY || f->len == 0)
		return;
	uint8_t ch = f->payload[0];
	const char *data = (const char *)f->payload + 1;
	size_t len = f->len - 1;
	const struct server_node_ops *ops = x->srv->opts.node;
	switch (ch) {
	case WS_CHANNEL_STDIN:
		if (x->fds.stdin_fd >= 0 && !x->stdin_eof)
			strbuf_append(&x->input, data, len);
		stdin_write(x);
		break;
	case WS_CHANNEL_RESIZE: {
		_cleanup_json_ json_t *size = NULL;
		if (x->handle && ops->exec_resize && codec_json_decode(data, len, &size, NULL) == 0)
			ops->exec_resize(
				x->handle,
				(unsigned)json_integer_value(json_object_get(size, "Width")),
				(unsigned)json_integer_value(json_object_get(size, "Height")));
		break;
	}
	case WS_CHANNEL_CLOSE:
		if (len >= 1 && (uint8_t)data[0] == WS_CHANNEL_STDIN) {
			x->stdin_eof = true;
			stdin_write(x);
		}
		break;
	default: break;
	}
}

static void
on_sock(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct exec_session *x = userdata;
	if (revents & EPOLLOUT) {
		session_flush(x);
		return; /* x may be gone */
	}
	char buf[READ_CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		session_free(x);
		return;
	}
	strbuf_append(&x->in, buf, (size_t)n);
	size_t off = 0;
	while (!x->closed && off < x->in.len) {
		struct ws_frame f;
		ssize_t used = ws_parse_frame((uint8_t *)x->in.buf + off, x->in.len - off,
					      MAX_FRAME, true, &f);
		if (used < 0) {
			x->closed = true;
			break;
		}
		if (used == 0)
			break;
		on_message(x, &f);
		off += (size_t)used;
	}
	if (off) {
		memmove(x->in.buf, x->in.buf + off, x->in.len - off);
		strbuf_truncate(&x->in, x->in.len - off);
	}
	session_flush(x);
}

static void
on_upgrade(void *cls, struct MHD_Connection *connection, void *req_cls, const char *extra_in,
	   size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct exec_session *x = cls;
	x->sock = sock;
	x->urh = urh;
	int flags = fcntl(sock, F_GETFL);
	if (flags >= 0)
		fcntl(sock, F_SETFL, flags | O_NONBLOCK);
	korch_loop *loop = x->srv->loop;
	if (loop_add_io(loop, sock, EPOLLIN | EPOLLRDHUP, on_sock, x, &x->sock_src, NULL) < 0 ||
	    (x->fds.stdout_fd >= 0 &&
	     loop_add_io(loop, x->fds.stdout_fd, EPOLLIN, on_output, x, &x->out_src, NULL) < 0) ||
	    (x->fds.stderr_fd >= 0 &&
	     loop_add_io(loop, x->fds.stderr_fd, EPOLLIN, on_output, x, &x->err_src, NULL) < 0) ||
	    (x->fds.stdin_fd >= 0 &&
	     loop_add_io(loop, x->fds.stdin_fd, 0, on_stdin, x, &x->in_src, NULL) < 0)) {
		session_free(x);
		return;
	}
	if (extra_in_size)
		strbuf_append(&x->in, extra_in, extra_in_size);
	if (x->exited && x->fds.stdout_fd < 0 && x->fds.stderr_fd < 0)
		session_finish(x); /* may free x */
	else
		session_flush(x);
}

static bool
header_has(const char *value, const char *token)
{
	if (!value)
		return false;
	size_t n = strlen(token);
	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',')
			end++;
		const char *e = end;
		while (e > p && e[-1] == ' ')
			e--;
		if ((size_t)(e - p) == n && !strncasecmp(p, token, n))
			return true;
		p = end;
	}
	return false;
}

struct args {
	const char *argv[256]; /* the command words */
	size_t n;              /* how many */
};

static enum MHD_Result
collect_command(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct args *a = cls;
	if (streq(key, "command") && value && a->n + 1 < ARRAY_SIZE(a->argv))
		a->argv[a->n++] = value;
	return MHD_YES;
}

void
handle_exec(struct request *req)
{
	struct server *s = req->srv;
	const struct route *r = &req->route;
	struct args a = { .n = 0 };
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_command, &a);
	a.argv[a.n] = NULL;
	if (a.n == 0) {
		respond_status(req, 400, "BadRequest", "you must specify at least 1 command");
		return;
	}
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *pod = NULL;
	int rc = client_get(s->client, r->kind, r->ns, r->name, &pod, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	const char *container = pod_container(req, pod);
	if (!container)
		return;
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	if (streq(phase, "Succeeded") || streq(phase, "Failed")) {
		respond_status(
			req, 400, "BadRequest",
			"cannot exec into a container in a completed pod; current phase is %s",
			phase);
		return;
	}
	const struct server_node_ops *ops = s->opts.node;
	if (!ops || !ops->exec_start) {
		respond_status(req, 503, "ServiceUnavailable",
			       "pods \"%s\": exec is not available: this korchd runs no node agent",
			       r->name);
		return;
	}
	const char *upgrade = request_header(req, MHD_HTTP_HEADER_UPGRADE);
	const char *protocols = request_header(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_PROTOCOL);
	const char *key = request_header(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_KEY);
	if (!header_has(upgrade, "websocket") || !key) {
		respond_status(req, 400, "BadRequest",
			       "korch serves exec over WebSocket (%s) only; use kubectl 1.30 or "
			       "later",
			       WS_PROTOCOL_V5);
		return;
	}
	if (!header_has(protocols, WS_PROTOCOL_V5)) {
		respond_status(req, 400, "BadRequest",
			       "unsupported streaming protocols: korch speaks %s", WS_PROTOCOL_V5);
		return;
	}

	struct exec_session *x = calloc(1, sizeof(*x));
	if (!x || ptrvec_push(&s->sessions, x) < 0) {
		free(x);
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	x->srv = s;
	x->sock = -1;
	x->fds = (struct server_exec_streams){ -1, -1, -1 };
	struct server_exec_request er = {
		.ns = r->ns,
		.pod = r->name,
		.container = container,
		.command = a.argv,
		.tty = request_arg_true(req, "tty"),
		.stdin_open = request_arg_true(req, "stdin"),
		.want_stdout = request_arg_true(req, "stdout"),
		.want_stderr = request_arg_true(req, "stderr"),
	};
	rc = ops->exec_start(ops->node, &er, on_exit_cb, x, &x->fds, &x->handle, &e);
	if (rc < 0) {
		x->handle = NULL;
		session_free(x);
		respond_error(req, rc, e);
		return;
	}
	struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, x);
	if (!resp) {
		session_free(x);
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	char accept[29];
	ws_accept_key(key, accept);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SEC_WEBSOCKET_ACCEPT, accept);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SEC_WEBSOCKET_PROTOCOL, WS_PROTOCOL_V5);
	req->answered = true;
	req->mode = STREAM_EXEC;
	MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
}

void
exec_sessions_end(struct server *srv)
{
	while (srv->sessions.n)
		session_free(srv->sessions.items[srv->sessions.n - 1]);
	ptrvec_free(&srv->sessions, NULL);
}
