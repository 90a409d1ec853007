/*
 * server-internal.h - what the API server's files share: the server, one HTTP request, the
 * route a path resolves to, the authenticated user, and the helpers that answer requests.
 */
#ifndef KORCH_SERVER_INTERNAL_H
#define KORCH_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <microhttpd.h>
#include <jansson.h>
#include "api/kinds.h"
#include "base/strbuf.h"
#include "base/vec.h"
#include "server/server.h"

struct authn;
struct rbac;
struct watch_hub;
struct watcher;
struct log_stream;
struct exec_session;

/* One listening socket with its libmicrohttpd daemon. */
struct listener {
	struct server *srv;        /* owner */
	struct MHD_Daemon *daemon; /* external-select epoll mode */
	struct loop_source *io;    /* the daemon's epoll fd on the korch loop */
	bool tls;                  /* HTTPS (bearer tokens) or the unix socket (peer credentials) */
	bool unix_socket;          /* peer credentials are meaningful */
	char *name;                /* "127.0.0.1:6443" or the socket path, for messages */
	unsigned port;             /* the bound TCP port */
};

struct server {
	struct client *client;      /* the write path (borrowed) */
	korch_loop *loop;           /* borrowed */
	struct server_options opts; /* with defaults filled in; strings owned below */
	char *socket_path;          /* owned copies of the options' strings */
	char *token_file;
	char *sa_issuer;
	char *advertise_address;
	struct listener *listeners; /* n_listeners */
	size_t n_listeners;
	struct loop_source *timer;   /* libmicrohttpd's next timeout */
	struct loop_source *kick;    /* runs the daemons again after a resume */
	struct loop_source *sweep;   /* header timeouts, watch bookmarks */
	struct authn *authn;         /* who a request comes from */
	struct rbac *rbac;           /* what they may do */
	struct watch_hub *hub;       /* watch fan-out per kind */
	struct token_signer *signer; /* ServiceAccount tokens, or NULL */
	unsigned inflight_read;      /* non-long-running reads in flight */
	unsigned inflight_mutating;  /* writes in flight */
	struct ptrvec conns;         /* struct conn *: open connections */
	struct request *suspended;   /* suspended streams, linked through susp_next */
	struct ptrvec sessions;      /* struct exec_session *: upgraded exec connections */
	bool stopping;               /* server_free is running */
	int64_t started_ns;          /* loop time at start */
};

/* One TCP or unix connection (libmicrohttpd's socket context). */
struct conn {
	struct listener *listener; /* where it came in */
	int fd;                    /* its socket (libmicrohttpd's) */
	int64_t opened_ns;         /* loop time it was accepted */
	bool headers_done;         /* a request's headers arrived: the header timeout is over */
	bool timed_out;            /* shut down by the header timeout */
	uid_t peer_uid;            /* unix socket: the peer's uid */
	bool have_peer;            /* peer_uid is known */
};

enum route_type {
	ROUTE_NONE,          /* 404 */
	ROUTE_VERSION,       /* /version */
	ROUTE_HEALTH,        /* /healthz, /livez, /readyz and their subpaths */
	ROUTE_API,           /* /api */
	ROUTE_APIS,          /* /apis */
	ROUTE_GROUP,         /* /apis/GROUP */
	ROUTE_GROUP_VERSION, /* /api/v1, /apis/GROUP/VERSION */
	ROUTE_OPENAPI_ROOT,  /* /openapi/v3 */
	ROUTE_OPENAPI_GV,    /* /openapi/v3/api/v1, /openapi/v3/apis/GROUP/VERSION */
	ROUTE_RESOURCE,      /* a kind's collection or object, maybe a subresource */
	ROUTE_METRICS,       /* /apis/metrics.k8s.io/v1beta1/[namespaces/NS/](pods|nodes)[/NAME] */
};

/* What a path names. Strings point into the route's own buffer. */
struct route {
	enum route_type type;         /* what kind of thing */
	char *buf;                    /* owned: the decoded path segments */
	const char *group;            /* GROUP_VERSION, GROUP, OPENAPI_GV: "" for the core group */
	const char *version;          /* GROUP_VERSION, OPENAPI_GV */
	const struct kind_info *kind; /* RESOURCE */
	const char *resource;         /* RESOURCE, METRICS: the plural name in the path */
	const char *ns;               /* the namespace in the path, or NULL */
	const char *name;             /* the object's name, or NULL for a collection */
	const char *subresource;      /* "status", "scale", "log", ..., or NULL */
	bool legacy_watch;            /* /api/v1/watch/... */
	bool nonresource;             /* authorized as a non-resource URL */
};

/*
 * Resolves a decoded URL path. Unknown groups, versions and resources give ROUTE_NONE; a path
 * whose segments are not valid (empty, "..") too. Returns 0 or KORCH_ENOMEM.
 */
int route_parse(const char *path, struct route *ret);
void route_clear(struct route *r);

/* The authenticated user of a request. */
struct user {
	char *name;           /* "system:serviceaccount:default:app", "admin", ... */
	char *uid;            /* or NULL */
	struct ptrvec groups; /* char *: "system:authenticated", ... */
	bool anonymous;       /* system:anonymous */
	char *node;           /* the node name of a node identity (system:node:NAME), or NULL */
};

void user_clear(struct user *u);
bool user_in_group(const struct user *u, const char *group);

enum stream_mode {
	STREAM_NONE,  /* an ordinary request */
	STREAM_WATCH, /* chunked watch events */
	STREAM_LOG,   /* chunked log text */
	STREAM_EXEC,  /* upgraded to a WebSocket */
};

/* One HTTP request (libmicrohttpd's request context). */
struct request {
	struct server *srv;          /* owner */
	struct conn *conn_ctx;       /* the connection it came on */
	struct MHD_Connection *conn; /* libmicrohttpd's connection */
	const char *method;          /* "GET", ... (libmicrohttpd's, valid for the request) */
	char *path;                  /* decoded path without the query */
	struct route route;          /* what the path names */
	const char *verb;            /* RBAC verb: get, list, watch, create, ... */
	struct user user;            /* who sent it */
	struct strbuf body;          /* the body received so far */
	bool body_too_large;         /* over the limit: 413, the rest discarded */
	bool inflight_read;          /* counted in inflight_read */
	bool inflight_mutating;      /* counted in inflight_mutating */
	bool answered;               /* a response was queued */
	bool ready;                  /* headers seen and checked: receiving the body */
	enum stream_mode mode;       /* a long-running response, if any */
	bool suspended;              /* the connection waits for stream data */
	struct request *susp_prev;   /* the server's list of suspended streams */
	struct request *susp_next;   /* the next one in that list */
	bool peer_gone;              /* the client hung up while we waited */
	struct loop_source *hup;     /* notices the client hanging up while suspended */
	struct watcher *watcher;     /* STREAM_WATCH */
	struct log_stream *log;      /* STREAM_LOG */
	struct strbuf warnings;      /* Warning header values, "\n"-separated */
};

/* ---- answering (http.c) ---- */

/* Queues a response with a JSON body (value borrowed). */
void respond_json(struct request *req, unsigned code, const json_t *value);
/* Queues a response with a body taken over (text, len); content_type NULL: application/json. */
void respond_body(struct request *req, unsigned code, const char *content_type, char *text,
		  size_t len);
/* Queues a Status for an error code and message (see status.c). */
void respond_error(struct request *req, int code, const korch_error *err);
/* A Status with an explicit HTTP code, reason and message. */
void respond_status(struct request *req, unsigned http_code, const char *reason, const char *fmt,
		    ...) _printf_(4, 5);
/* Adds a Warning header ("299 - \"TEXT\""). */
void request_warn(struct request *req, const char *text);

/* A query parameter (decoded), or NULL. */
const char *request_arg(const struct request *req, const char *key);
/* A header, or NULL. */
const char *request_header(const struct request *req, const char *name);
/* Whether the query parameter is "true" (or "1"). */
bool request_arg_true(const struct request *req, const char *key);

/* Suspends the connection until request_wake(): for streams waiting for data. */
void request_suspend(struct request *req);
/* Resumes a suspended stream (its content reader runs again soon). */
void request_wake(struct request *req);

/* ---- the Status object (status.c) ---- */

/* The HTTP code and Kubernetes reason of a korch error (EINVALID: 422 Invalid or 400). */
void status_of_error(int code, const korch_error *err, unsigned *ret_http, const char **ret_reason);
/*
 * A Status object for an error: message, reason, code, and details (name, group, kind from the
 * route; causes from the error).
 */
json_t *status_new(unsigned http_code, const char *reason, const char *message,
		   const struct route *route, const korch_error *err);

/* ---- handlers ---- */

/* Resources (handlers.c): get, list, create, update, patch, delete, deletecollection, status, scale, binding. */
void handle_resource(struct request *req);
/* Discovery and metadata (discovery.c). */
void handle_version(struct request *req);
void handle_health(struct request *req);
void handle_discovery(struct request *req);
/* OpenAPI v3 (openapi.c). */
void handle_openapi(struct request *req);
/* metrics.k8s.io (node.c). */
void handle_metrics(struct request *req);
/* pods/log, pods/exec, serviceaccounts/token (node.c, exec.c). */
void handle_log(struct request *req);
void log_stream_free(struct log_stream *ls);
void handle_exec(struct request *req);
void handle_token(struct request *req);
/* The container a pods/NAME/log or exec request names (the only one when it names none), or
 * NULL after answering 400 with kube-apiserver's words. */
const char *pod_container(struct request *req, const json_t *pod);
/* Ends every exec session (server_free). */
void exec_sessions_end(struct server *srv);

/*
 * The request body as a JSON object (JSON, YAML, or Kubernetes protobuf), or 0-less after
 * answering 400/415 with the reason.
 */
int request_body_object(struct request *req, json_t **ret);

/* Accept negotiation: what the client wants of a GET. */
enum accept_as {
	ACCEPT_OBJECT,   /* the objects themselves */
	ACCEPT_TABLE,    /* a meta.k8s.io/v1 Table */
	ACCEPT_METADATA, /* PartialObjectMetadata(List) */
};
enum accept_as request_accept_as(const struct request *req);
/* Builds the Table of objects (a JSON array) for the request (includeObject honoured). */
json_t *request_table(struct request *req, const json_t *objects, korch_error **err);
/* PartialObjectMetadata of an object. */
json_t *partial_metadata(const json_t *obj);

/* ---- watch (watch.c) ---- */

int watch_hub_new(struct server *srv, struct watch_hub **ret, korch_error **err);
void watch_hub_free(struct watch_hub *hub);
/* Starts the watch a GET ...?watch=true asks for and queues its streaming response. */
void watch_start(struct request *req);
/* The next bytes of a watch's stream (libmicrohttpd's content reader contract). */
ssize_t watch_read(struct request *req, char *buf, size_t max);
/* Ends a watch (its request is done). */
void watcher_free(struct watcher *w);
/* Sends due bookmarks; ends watches at their timeout (the sweep timer). */
void watch_hub_tick(struct watch_hub *hub, int64_t now_ns);
/* A parked watch's socket has room again. */
void watch_writable(struct request *req);

/* ---- streams written directly while suspended (direct.c) ---- */

#define DIRECT_MAX_BYTES (16 * 1024) /* one write at most: a TLS record's payload */

/* A stream's connection while korch writes it (see direct.c). */
struct direct {
	bool parked;     /* suspended, written by direct_send */
	bool blocked;    /* the socket was full: what it held back goes first (direct_flush) */
	bool failed;     /* a write failed: the client is gone */
	int fd;          /* the socket */
	void *tls;       /* its gnutls_session_t, or NULL (the unix socket) */
	size_t max;      /* the most bytes one direct_send may write (one TLS record) */
	char *pend;      /* unix socket: the bytes a short write left */
	size_t pend_len; /* their count */
	size_t pend_off; /* how many of them went out since */
};

/*
 * Suspends the request's connection and takes it over for direct writes. Call only from its
 * content reader (libmicrohttpd has sent all it held then). False: it cannot be parked (no
 * socket, or no way to notice it becoming writable); the caller suspends it as before.
 */
bool direct_park(struct request *req, struct direct *d);
/*
 * Writes one whole chunk (at most d->max bytes). 0: written, or taken and held back
 * (blocked set: the socket is full); -1: failed. Streams are independent: different streams
 * may be written from different threads at once.
 */
int direct_send(struct direct *d, const char *data, size_t len);
/* Writes what a full socket held back: 0 (blocked cleared when all went out) or -1. */
int direct_flush(struct direct *d);
/* Whether the loop tells watch_writable when the socket has room. */
void direct_watch_writable(struct request *req, bool on);
/* Hands the connection back to libmicrohttpd (resumes it); call with nothing held back. */
void direct_unpark(struct request *req, struct direct *d);

/* ---- authentication and authorization (authn.c, rbac.c) ---- */

int authn_new(struct server *srv, struct authn **ret, korch_error **err);
void authn_free(struct authn *a);
/*
 * Who sent the request: a bearer token (token file, ServiceAccount token), or the unix socket's
 * peer, or anonymous. KORCH_EUNAUTHORIZED for a token that is not valid.
 */
int authn_authenticate(struct authn *a, struct request *req, struct user *ret, korch_error **err);

int rbac_new(struct server *srv, struct rbac **ret, korch_error **err);
void rbac_free(struct rbac *r);
/* Creates or reconciles the default roles and bindings. */
int rbac_bootstrap(struct client *c, korch_error **err);
/*
 * Whether the request's user may do it: 0, or KORCH_EFORBIDDEN with kube-apiserver's message
 * (`pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace
 * "default"`).
 */
int rbac_authorize(struct rbac *r, const struct request *req, korch_error **err);
/* Whether u may do verb on a resource (by RBAC alone): 0 or KORCH_EFORBIDDEN. */
int rbac_check(struct rbac *r, const struct user *u, const char *verb, const char *group,
	       const char *res, const char *ns, const char *name, korch_error **err);
/*
 * Impersonate-User, Impersonate-Group: when the request asks to act as someone else and its
 * user may impersonate them, *user becomes that user. KORCH_EFORBIDDEN otherwise.
 */
int authn_impersonate(struct server *srv, struct request *req, korch_error **err);

#endif
