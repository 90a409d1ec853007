/*
 * http.c - libmicrohttpd on the korch loop: listeners (the unix socket and HTTPS), the
 * connection and request lifecycle, header timeouts, the body limit, in-flight limits, and the
 * helpers that queue responses. The daemons run in external-select mode: each daemon's epoll fd
 * is a source on the loop, and MHD_run() is called when it is readable, when its timeout is
 * due, and after a suspended stream was resumed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/token.h"
#include "server/server-internal.h"

/* libmicrohttpd's memory pool per connection: headers, the response's first buffer. */
#define CONN_MEMORY_BYTES (24 * 1024)
#define SWEEP_INTERVAL_NS (1 * NSEC_PER_SEC)

static void run_daemons(struct server *s);

/* ---- answering ---- */

static void
add_common_headers(struct request *req, struct MHD_Response *resp, const char *content_type)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type ? content_type : "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	if (req->warnings.len) {
		char *p = req->warnings.buf;
		while (p && *p) {
			char *nl = strchr(p, '\n');
			if (nl)
				*nl = '\0';
			MHD_add_response_header(resp, "Warning", p);
			p = nl ? nl + 1 : NULL;
		}
	}
}

void
respond_body(struct request *req, unsigned code, const char *content_type, char *text, size_t len)
{
	if (req->answered) {
		free(text);
		return;
	}
	req->answered = true;
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text ? text : (char *)"",
								    text ? MHD_RESPMEM_MUST_FREE
									 : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(text);
		return;
	}
	add_common_headers(req, resp, content_type);
	if (code == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (req->body_too_large)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	MHD_queue_response(req->conn, code, resp);
	MHD_destroy_response(resp);
}

void
respond_json(struct request *req, unsigned code, const json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text) {
		respond_body(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     strdup("out of memory"), strlen("out of memory"));
		return;
	}
	respond_body(req, code, NULL, text, strlen(text));
}

static void
respond_status_object(struct request *req, unsigned http, const char *reason, const char *message,
		      const korch_error *err)
{
	_cleanup_json_ json_t *status = status_new(http, reason, message, &req->route, err);
	if (!status) {
		respond_body(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     strdup("out of memory"), strlen("out of memory"));
		return;
	}
	respond_json(req, http, status);
}

void
respond_error(struct request *req, int code, const korch_error *err)
{
	unsigned http;
	const char *reason;
	status_of_error(code, err, &http, &reason);
	respond_status_object(req, http, reason,
			      err ? korch_error_message(err) : korch_strerror(code), err);
}

void
respond_status(struct request *req, unsigned http_code, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond_status_object(req, http_code, reason, msg, NULL);
}

void
request_warn(struct request *req, const char *text)
{
	if (req->warnings.len)
		strbuf_putc(&req->warnings, '\n');
	strbuf_puts(&req->warnings, "299 - \"");
	for (const char *p = text; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_putc(&req->warnings, '\\');
		strbuf_putc(&req->warnings, *p == '\n' ? ' ' : *p);
	}
	strbuf_putc(&req->warnings, '"');
}

const char *
request_arg(const struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *
request_header(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

bool
request_arg_true(const struct request *req, const char *key)
{
	const char *v = request_arg(req, key);
	return v && (streq(v, "true") || streq(v, "1") || streq(v, "True"));
}

/* ---- suspended streams ---- */

/* The suspended streams form a list through their requests: O(1) to leave on each event. */
static void
suspended_unlink(struct request *req)
{
	struct server *s = req->srv;
	if (req->susp_prev)
		req->susp_prev->susp_next = req->susp_next;
	else if (s->suspended == req)
		s->suspended = req->susp_next;
	if (req->susp_next)
		req->susp_next->susp_prev = req->susp_prev;
	req->susp_prev = req->susp_next = NULL;
}

/* A suspended stream's socket: the client hung up, or (a parked watch) there is room again. */
static void
on_stream_io(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct request *req = userdata;
	if (!(revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		if (revents & EPOLLOUT)
			watch_writable(req);
		return;
	}
	req->peer_gone = true;
	loop_source_free(steal_pointer(&req->hup));
	request_wake(req);
}

void
request_suspend(struct request *req)
{
	if (req->suspended)
		return;
	struct server *s = req->srv;
	req->suspended = true;
	req->susp_next = s->suspended;
	if (s->suspended)
		s->suspended->susp_prev = req;
	s->suspended = req;
	MHD_suspend_connection(req->conn);
	/*
	 * While suspended libmicrohttpd does not look at the socket: notice a hang-up ourselves.
	 * Registered once per stream (not per suspension: no epoll_ctl per event), freed with the
	 * request, before libmicrohttpd closes the socket.
	 */
	if (!req->hup && req->conn_ctx && req->conn_ctx->fd >= 0)
		loop_add_io(s->loop, req->conn_ctx->fd, EPOLLRDHUP, on_stream_io, req, &req->hup,
			    NULL);
}

static void
unsuspend(struct request *req)
{
	suspended_unlink(req);
	req->suspended = false;
	MHD_resume_connection(req->conn);
}

void
request_wake(struct request *req)
{
	if (!req->suspended)
		return;
	unsuspend(req);
	loop_defer_enable(req->srv->kick);
}

/* ---- requests ---- */

static bool
is_long_running(const struct request *req)
{
	const struct route *r = &req->route;
	if (r->type != ROUTE_RESOURCE)
		return false;
	if (streq(req->verb, "watch"))
		return true;
	if (streq(r->subresource, "exec") || streq(r->subresource, "attach") ||
	    streq(r->subresource, "portforward"))
		return true;
	return streq(r->subresource, "log") && request_arg_true(req, "follow");
}

/* kube-apiserver's RBAC verb of a request. */
static const char *
request_verb(const struct request *req)
{
	const struct route *r = &req->route;
	const char *m = req->method;
	if (r->type != ROUTE_RESOURCE && r->type != ROUTE_METRICS) {
		if (streq(m, "GET") || streq(m, "HEAD"))
			return "get";
		if (streq(m, "POST"))
			return "post";
		if (streq(m, "PUT"))
			return "put";
		if (streq(m, "PATCH"))
			return "patch";
		if (streq(m, "DELETE"))
			return "delete";
		return "get";
	}
	bool collection = !r->name;
	if (streq(m, "GET") || streq(m, "HEAD")) {
		if (r->legacy_watch || request_arg_true(req, "watch"))
			return "watch";
		if (streq(r->subresource, "exec") || streq(r->subresource, "attach") ||
		    streq(r->subresource, "portforward"))
			return "create";
		return collection ? "list" : "get";
	}
	if (streq(m, "POST"))
		return "create";
	if (streq(m, "PUT"))
		return "update";
	if (streq(m, "PATCH"))
		return "patch";
	if (streq(m, "DELETE"))
		return collection ? "deletecollection" : "delete";
	return "unknown";
}

static bool
is_mutating(const char *verb)
{
	return streq(verb, "create") || streq(verb, "update") || streq(verb, "patch") ||
	       streq(verb, "delete") || streq(verb, "deletecollection") || streq(verb, "post") ||
	       streq(verb, "put");
}

/* The methods a route accepts; others get 405. */
static bool
method_allowed(const struct request *req)
{
	const struct route *r = &req->route;
	const char *m = req->method;
	bool get = streq(m, "GET") || streq(m, "HEAD");
	if (r->type != ROUTE_RESOURCE)
		return get;
	const char *sub = r->subresource;
	if (!sub) {
		if (!r->name)
			return get || streq(m, "POST") || streq(m, "DELETE");
		return get || streq(m, "PUT") || streq(m, "PATCH") || streq(m, "DELETE");
	}
	if (streq(sub, "status") || streq(sub, "scale"))
		return get || streq(m, "PUT") || streq(m, "PATCH");
	if (streq(sub, "binding") || streq(sub, "token") || streq(sub, "eviction"))
		return streq(m, "POST");
	if (streq(sub, "exec") || streq(sub, "attach") || streq(sub, "portforward"))
		return get || streq(m, "POST");
	if (streq(sub, "log"))
		return get;
	return false;
}

static struct request *
request_new(struct listener *l, struct MHD_Connection *conn, const char *url, const char *method)
{
	struct request *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->srv = l->srv;
	req->conn = conn;
	req->method = method;
	req->path = strdup(url);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	req->conn_ctx = ci ? ci->socket_context : NULL;
	if (!req->path) {
		free(req);
		return NULL;
	}
	return req;
}

static void
request_free(struct request *req)
{
	struct server *s = req->srv;
	if (req->inflight_read)
		s->inflight_read--;
	if (req->inflight_mutating)
		s->inflight_mutating--;
	if (req->suspended)
		suspended_unlink(req);
	loop_source_free(req->hup);
	watcher_free(req->watcher);
	if (req->log)
		log_stream_free(req->log);
	route_clear(&req->route);
	user_clear(&req->user);
	strbuf_free(&req->body);
	strbuf_free(&req->warnings);
	free(req->path);
	free(req);
}

/* The checks on a request's headers: route, credentials, method, size, permission, load. */
static void
request_begin(struct request *req)
{
	struct server *s = req->srv;
	if (route_parse(req->path, &req->route) < 0) {
		respond_status(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
			       "out of memory");
		return;
	}
	korch_error *e = NULL;
	int r = authn_authenticate(s->authn, req, &req->user, &e);
	if (r < 0) {
		respond_status(req, MHD_HTTP_UNAUTHORIZED, "Unauthorized", "Unauthorized");
		log_debug("server", "%s %s: %s", req->method, req->path, korch_error_message(e));
		korch_error_free(e);
		return;
	}
	if ((r = authn_impersonate(s, req, &e)) < 0) {
		respond_error(req, r, e);
		korch_error_free(e);
		return;
	}
	req->verb = request_verb(req);
	if (req->route.type == ROUTE_NONE) {
		/* kube-apiserver answers 404 to anyone for an unknown path, after authentication. */
		if (req->user.anonymous) {
			respond_status(req, MHD_HTTP_UNAUTHORIZED, "Unauthorized", "Unauthorized");
			return;
		}
		respond_status(req, MHD_HTTP_NOT_FOUND, "NotFound",
			       "the server could not find the requested resource");
		return;
	}
	if (!method_allowed(req)) {
		respond_status(req, MHD_HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed",
			       "the server does not allow this method on the requested resource");
		return;
	}
	const char *length = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t n = 0;
	if (length && parse_int64(length, &n) == 0 && n > (int64_t)s->opts.max_body_bytes) {
		req->body_too_large = true;
		respond_status(req, MHD_HTTP_CONTENT_TOO_LARGE, "RequestEntityTooLarge",
			       "the request body of %lld bytes is larger than the limit of %zu "
			       "bytes",
			       (long long)n, s->opts.max_body_bytes);
		return;
	}
	if ((r = rbac_authorize(s->rbac, req, &e)) < 0) {
		if (req->user.anonymous)
			respond_status(req, MHD_HTTP_UNAUTHORIZED, "Unauthorized", "Unauthorized");
		else
			respond_error(req, r, e);
		korch_error_free(e);
		return;
	}
	if (req->route.type == ROUTE_RESOURCE && !is_long_running(req)) {
		bool mutating = is_mutating(req->verb);
		unsigned *count = mutating ? &s->inflight_mutating : &s->inflight_read;
		unsigned limit =
			mutating ? s->opts.max_mutating_inflight : s->opts.max_read_inflight;
		if (*count >= limit) {
			respond_status(req, MHD_HTTP_TOO_MANY_REQUESTS, "TooManyRequests",
				       "Too many requests, please try again later.");
			return;
		}
		(*count)++;
		if (mutating)
			req->inflight_mutating = true;
		else
			req->inflight_read = true;
	}
	req->ready = true;
}

static void
request_dispatch(struct request *req)
{
	switch (req->route.type) {
	case ROUTE_VERSION: handle_version(req); break;
	case ROUTE_HEALTH: handle_health(req); break;
	case ROUTE_API:
	case ROUTE_APIS:
	case ROUTE_GROUP:
	case ROUTE_GROUP_VERSION: handle_discovery(req); break;
	case ROUTE_OPENAPI_ROOT:
	case ROUTE_OPENAPI_GV: handle_openapi(req); break;
	case ROUTE_METRICS: handle_metrics(req); break;
	case ROUTE_RESOURCE: handle_resource(req); break;
	case ROUTE_NONE: break;
	}
	if (!req->answered)
		respond_status(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
			       "the request was not answered");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct request *req = *con_cls;
	if (!req) {
		if (!(req = request_new(l, conn, url, method)))
			return MHD_NO;
		*con_cls = req;
		if (req->conn_ctx)
			req->conn_ctx->headers_done = true;
		request_begin(req);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (req->answered)
			return MHD_YES; /* discarded: the answer is out already */
		if (req->body_too_large || req->body.len + n > req->srv->opts.max_body_bytes) {
			/*
			 * A chunked body without a length is capped the same way: the rest is
			 * read and dropped, and 413 answers it at the end (libmicrohttpd sends no
			 * response queued in the middle of an upload).
			 */
			req->body_too_large = true;
			strbuf_free(&req->body);
			return MHD_YES;
		}
		if (strbuf_append(&req->body, upload_data, n) < 0) {
			respond_status(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
				       "out of memory");
		}
		return MHD_YES;
	}
	if (!req->answered && req->body_too_large)
		respond_status(req, MHD_HTTP_CONTENT_TOO_LARGE, "RequestEntityTooLarge",
			       "the request body is larger than the limit of %zu bytes",
			       req->srv->opts.max_body_bytes);
	else if (!req->answered && req->ready)
		request_dispatch(req);
	return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;
	if (!req)
		return;
	*con_cls = NULL;
	request_free(req);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	      enum MHD_ConnectionNotificationCode toe)
{
	struct listener *l = cls;
	struct server *s = l->srv;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *c = calloc(1, sizeof(*c));
		if (!c)
			return;
		c->listener = l;
		c->opened_ns = korch_clock_now_ns(korch_loop_clock(s->loop));
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci ? ci->connect_fd : -1;
		if (l->unix_socket && c->fd >= 0) {
			struct ucred cred;
			socklen_t len = sizeof(cred);
			if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
				c->peer_uid = cred.uid;
				c->have_peer = true;
			}
		}
		if (ptrvec_push(&s->conns, c) < 0) {
			free(c);
			return;
		}
		*socket_context = c;
		return;
	}
	struct conn *c = *socket_context;
	if (!c)
		return;
	*socket_context = NULL;
	for (size_t i = 0; i < s->conns.n; i++)
		if (s->conns.items[i] == c) {
			ptrvec_remove(&s->conns, i);
			break;
		}
	free(c);
}

/* ---- the daemons on the loop ---- */

static void
rearm_timer(struct server *s)
{
	int64_t best = -1;
	for (size_t i = 0; i < s->n_listeners; i++) {
		MHD_UNSIGNED_LONG_LONG ms;
		if (MHD_get_timeout(s->listeners[i].daemon, &ms) == MHD_YES &&
		    (best < 0 || (int64_t)ms < best))
			best = (int64_t)ms;
	}
	if (best < 0) {
		loop_timer_set(s->timer, -1);
		return;
	}
	if (best == 0) {
		/* Work is ready now (TLS data buffered, a connection resumed): at the end of this
		 * dispatch, without a timer (and its timerfd_settime) per request. */
		loop_defer_enable(s->kick);
		return;
	}
	int64_t now = korch_clock_now_ns(korch_loop_clock(s->loop));
	/* A deadline a little late is fine (idle timeouts): fewer timer re-arms. */
	int64_t due = now + best * NSEC_PER_MSEC;
	int64_t armed = loop_timer_deadline(s->timer);
	if (armed < 0 || due < armed || due - armed > 500 * NSEC_PER_MSEC)
		loop_timer_set(s->timer, due);
}

static void
run_daemons(struct server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		MHD_run(s->listeners[i].daemon);
	rearm_timer(s);
}

static void
on_daemon_io(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;
	MHD_run(l->daemon);
	rearm_timer(l->srv);
}

static void
on_timer(struct loop_source *src, void *userdata)
{
	run_daemons(userdata);
}

static void
on_kick(struct loop_source *src, void *userdata)
{
	run_daemons(userdata);
}

/* Every second: connections whose headers are late are shut down; watches get their ticks. */
static void
on_sweep(struct loop_source *src, void *userdata)
{
	struct server *s = userdata;
	int64_t now = korch_clock_now_ns(korch_loop_clock(s->loop));
	int64_t limit = (int64_t)s->opts.header_timeout_s * NSEC_PER_SEC;
	bool shut = false;
	for (size_t i = 0; i < s->conns.n; i++) {
		struct conn *c = s->conns.items[i];
		if (!c->headers_done && !c->timed_out && c->fd >= 0 && now - c->opened_ns > limit) {
			/* libmicrohttpd has no header deadline; it closes what we shut down. */
			shutdown(c->fd, SHUT_RDWR);
			c->timed_out = true;
			shut = true;
		}
	}
	watch_hub_tick(s->hub, now);
	loop_timer_set(s->sweep, now + SWEEP_INTERVAL_NS);
	if (shut)
		run_daemons(s);
}

/* libmicrohttpd's error log, at debug level (the format is libmicrohttpd's own). */
static void mhd_log(void *cls, const char *fmt, va_list ap) _printf_(2, 0);

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	if (!log_enabled(KORCH_LOG_DEBUG))
		return;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("server", "libmicrohttpd: %s", buf);
}

/* "ADDR:PORT", "[ADDR]:PORT" or ":PORT" to a socket address. */
static int
parse_addr(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len, korch_error **err)
{
	char host[128];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return error_set(err, KORCH_EINVALID, "listen address %s: expected ADDRESS:PORT",
				 text);
	int64_t port;
	if (parse_int64(colon + 1, &port) < 0 || port < 0 || port > 65535)
		return error_set(err, KORCH_EINVALID, "listen address %s: bad port", text);
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = '\0';
		h++;
	}
	memset(ret, 0, sizeof(*ret));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
	if (!*h || streq(h, "0.0.0.0")) {
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_ANY);
		in4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in4);
	} else if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
	} else {
		return error_set(err, KORCH_EINVALID, "listen address %s: not an IP address", text);
	}
	return 0;
}

static int
listen_tcp(const char *addr, int *ret_fd, unsigned *ret_port, korch_error **err)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	int r = parse_addr(addr, &sa, &len, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
		socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_errno(err, errno, "listen on %s: socket", addr);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return error_errno(err, errno, "listen on %s: bind", addr);
	if (listen(fd, 1024) < 0)
		return error_errno(err, errno, "listen on %s", addr);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	*ret_port = 0;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		*ret_port = ntohs(bound.ss_family == AF_INET
					  ? ((struct sockaddr_in *)&bound)->sin_port
					  : ((struct sockaddr_in6 *)&bound)->sin6_port);
	*ret_fd = steal_fd(&fd);
	return 0;
}

/* The unix socket, mode 0600, replacing a stale socket file of a previous run. */
static int
listen_unix(const char *path, int *ret_fd, korch_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, KORCH_EINVALID, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return error_set(err, KORCH_EEXISTS, "%s exists and is not a socket", path);
		unlink(path);
	}
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_errno(err, errno, "socket %s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_errno(err, errno, "bind %s", path);
	/* Not listening yet: nobody can connect before the mode is right. */
	if (chmod(path, 0600) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		unlink(path);
		return error_errno(err, e, "listen on %s", path);
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

static int
start_listener(struct server *s, struct listener *l, int fd, korch_error **err)
{
	unsigned flags =
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_TURBO;
	if (l->tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, s->opts.max_connections,
					     NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, s->opts.idle_timeout_s,
					     NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY_BYTES,
					     NULL };
	opts[n++] =
		(struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l };
	opts[n++] =
		(struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, l };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, l };
	if (l->tls) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
						     (void *)s->opts.tls_key_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						     (void *)s->opts.tls_cert_pem };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, opts,
				     MHD_OPTION_END);
	if (!l->daemon) {
		close(fd);
		return error_set(err, KORCH_ESYSTEM, "listen on %s: libmicrohttpd refused to start",
				 l->name);
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di)
		return error_set(err, KORCH_ESYSTEM, "listen on %s: no epoll fd", l->name);
	return loop_add_io(s->loop, di->epoll_fd, EPOLLIN, on_daemon_io, l, &l->io, err);
}

static int
set_options(struct server *s, const struct server_options *o, korch_error **err)
{
	s->opts = *o;
	s->opts.socket_path = NULL;
	s->opts.https_addrs = NULL;
	if (!s->opts.max_read_inflight)
		s->opts.max_read_inflight = SERVER_DEFAULT_MAX_READ_INFLIGHT;
	if (!s->opts.max_mutating_inflight)
		s->opts.max_mutating_inflight = SERVER_DEFAULT_MAX_MUTATING_INFLIGHT;
	if (!s->opts.max_body_bytes)
		s->opts.max_body_bytes = SERVER_MAX_BODY_BYTES;
	if (!s->opts.header_timeout_s)
		s->opts.header_timeout_s = SERVER_DEFAULT_HEADER_TIMEOUT_S;
	if (!s->opts.idle_timeout_s)
		s->opts.idle_timeout_s = SERVER_DEFAULT_IDLE_TIMEOUT_S;
	if (!s->opts.max_connections)
		s->opts.max_connections = SERVER_DEFAULT_MAX_CONNECTIONS;
	if ((o->socket_path && !(s->socket_path = strdup(o->socket_path))) ||
	    (o->token_file && !(s->token_file = strdup(o->token_file))) ||
	    !(s->sa_issuer =
		      strdup(o->sa_issuer ? o->sa_issuer
					  : "https://kubernetes.default.svc.cluster.local")) ||
	    (o->advertise_address && !(s->advertise_address = strdup(o->advertise_address))))
		return error_oom(err);
	s->opts.token_file = s->token_file;
	s->opts.sa_issuer = s->sa_issuer;
	s->opts.advertise_address = s->advertise_address;
	/* The key texts are used only while the daemons start (libmicrohttpd copies them). */
	return 0;
}

int
server_new(struct client *client, korch_loop *loop, const struct server_options *o,
	   struct server **ret, korch_error **err)
{
	size_t n_https = 0;
	while (o->https_addrs && o->https_addrs[n_https])
		n_https++;
	if (!o->socket_path && !n_https)
		return error_set(err, KORCH_EINVALID,
				 "the API server needs a socket or an address");
	if (n_https && (!o->tls_cert_pem || !o->tls_key_pem))
		return error_set(err, KORCH_EINVALID, "HTTPS needs a certificate and a key");
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	_cleanup_(server_freep) struct server *guard = s;
	s->client = client;
	s->loop = loop;
	s->started_ns = korch_clock_now_ns(korch_loop_clock(loop));
	int r = set_options(s, o, err);
	if (r < 0)
		return r;
	if (o->sa_key_pem &&
	    (r = token_signer_new(o->sa_key_pem, s->sa_issuer, &s->signer, err)) < 0)
		return korch_error_prefix(err, r, "ServiceAccount signing key");
	if (s->signer)
		client_set_token_signer(client, s->signer);
	if ((r = rbac_bootstrap(client, err)) < 0)
		return korch_error_prefix(err, r, "default RBAC roles");
	if ((r = authn_new(s, &s->authn, err)) < 0 || (r = rbac_new(s, &s->rbac, err)) < 0 ||
	    (r = watch_hub_new(s, &s->hub, err)) < 0)
		return r;
	if ((r = loop_add_timer(loop, -1, on_timer, s, &s->timer, err)) < 0 ||
	    (r = loop_add_defer(loop, on_kick, s, &s->kick, err)) < 0 ||
	    (r = loop_add_timer(loop, s->started_ns + SWEEP_INTERVAL_NS, on_sweep, s, &s->sweep,
				err)) < 0)
		return r;
	s->listeners = calloc(n_https + 1, sizeof(*s->listeners));
	if (!s->listeners)
		return error_oom(err);
	if (o->socket_path) {
		struct listener *l = &s->listeners[s->n_listeners];
		*l = (struct listener){ .srv = s, .unix_socket = true };
		int fd = -1;
		if (!(l->name = strdup(o->socket_path)))
			return error_oom(err);
		if ((r = listen_unix(o->socket_path, &fd, err)) < 0)
			return r;
		s->n_listeners++;
		if ((r = start_listener(s, l, fd, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < n_https; i++) {
		struct listener *l = &s->listeners[s->n_listeners];
		*l = (struct listener){ .srv = s, .tls = true };
		int fd = -1;
		if (!(l->name = strdup(o->https_addrs[i])))
			return error_oom(err);
		if ((r = listen_tcp(o->https_addrs[i], &fd, &l->port, err)) < 0)
			return r;
		s->n_listeners++;
		if ((r = start_listener(s, l, fd, err)) < 0)
			return r;
	}
	s->opts.tls_cert_pem = s->opts.tls_key_pem = s->opts.sa_key_pem = NULL;
	s->opts.node = o->node;
	rearm_timer(s);
	*ret = steal_pointer(&guard);
	return 0;
}

unsigned
server_https_port(const struct server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i].tls)
			return s->listeners[i].port;
	return 0;
}

size_t
server_connections(const struct server *s)
{
	return s->conns.n;
}

void
server_free(struct server *s)
{
	if (!s)
		return;
	s->stopping = true;
	exec_sessions_end(s);
	/* libmicrohttpd refuses to stop with suspended connections: end every stream first. */
	while (s->suspended) {
		struct request *req = s->suspended;
		req->peer_gone = true;
		unsuspend(req);
	}
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct listener *l = &s->listeners[i];
		if (l->daemon) {
			MHD_run(l->daemon);
			loop_source_free(l->io);
			MHD_stop_daemon(l->daemon);
		}
		free(l->name);
	}
	free(s->listeners);
	if (s->socket_path)
		unlink(s->socket_path);
	loop_source_free(s->timer);
	loop_source_free(s->kick);
	loop_source_free(s->sweep);
	watch_hub_free(s->hub);
	rbac_free(s->rbac);
	authn_free(s->authn);
	if (s->signer)
		client_set_token_signer(s->client, NULL);
	token_signer_free(s->signer);
	ptrvec_free(&s->conns, free);
	free(s->socket_path);
	free(s->token_file);
	free(s->sa_issuer);
	free(s->advertise_address);
	free(s);
}
