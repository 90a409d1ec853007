/*
 * server.h - the Kubernetes API over HTTP (internal): libmicrohttpd on the korch loop, serving
 * every kind of the registry at its REST paths, watches, discovery, OpenAPI, Tables, and the
 * pod subresources that need a node (log, exec, metrics) through the node agent's calls.
 *
 * The server does HTTP, authentication and authorization, then calls lib/client: it never
 * validates or writes on its own (DESIGN.md "The write path"). Everything runs on the loop's
 * thread: libmicrohttpd in external-select mode on the loop's epoll, a watch costing a little
 * memory and no thread.
 */
#ifndef KORCH_SERVER_SERVER_H
#define KORCH_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "base/macro.h"
#include "client/client.h"

struct server;

/* Kubernetes' defaults, scaled down for small machines where it says so. */
#define SERVER_MAX_BODY_BYTES (3 * 1024 * 1024)  /* MaxRequestBodyBytes */
#define SERVER_DEFAULT_MAX_READ_INFLIGHT 400     /* --max-requests-inflight */
#define SERVER_DEFAULT_MAX_MUTATING_INFLIGHT 200 /* --max-mutating-requests-inflight */
#define SERVER_DEFAULT_HEADER_TIMEOUT_S 10       /* headers must be complete by then */
#define SERVER_DEFAULT_IDLE_TIMEOUT_S 120        /* an idle keep-alive connection closes */
#define SERVER_DEFAULT_MAX_CONNECTIONS 4096      /* per listener */

/* One log request of GET pods/NAME/log, as its query parameters say. */
struct server_log_request {
	const char *ns;        /* the pod's namespace */
	const char *pod;       /* its name */
	const char *container; /* the container (resolved: never NULL) */
	bool follow;           /* keep streaming while the container runs */
	bool previous;         /* the previous instance of the container */
	bool timestamps;       /* each line starts with its RFC 3339 time */
	int64_t tail_lines;    /* the last N lines; -1: all */
	int64_t since_seconds; /* only lines newer than this many seconds; 0: no limit */
	int64_t since_time_ns; /* only lines at or after this wall time; 0: no limit */
	int64_t limit_bytes;   /* stop after this many bytes; 0: no limit */
};

/*
 * Receives log text. Returns 0 to go on, or 1 when the receiver's buffer is full: the node agent
 * then pauses until server_log_resume() is called (through log_resume below).
 */
typedef int (*server_log_write_fn)(const char *data, size_t len, void *userdata);
/* The end of a log stream: r 0, or the error (its Status goes to the client if nothing was sent). */
typedef void (*server_log_done_fn)(int r, const korch_error *error, void *userdata);

/* One exec request of pods/NAME/exec (WebSocket v5.channel.k8s.io). */
struct server_exec_request {
	const char *ns;                /* the pod's namespace */
	const char *pod;               /* its name */
	const char *container;         /* the container (resolved: never NULL) */
	const char *const *command;    /* NULL-terminated argv */
	bool tty;                      /* a terminal: stdout only, resize events */
	bool stdin_open;               /* the client sends input */
	bool want_stdout, want_stderr; /* which outputs the client reads */
};

/*
 * An exec's streams, as the node agent hands them to the server: fds the server polls on its
 * loop (non-blocking, O_CLOEXEC, the server closes them), and the exit status reported once.
 */
struct server_exec_streams {
	int stdin_fd;  /* write end of the process's stdin, or -1 */
	int stdout_fd; /* read end of its stdout (with a tty: the terminal), or -1 */
	int stderr_fd; /* read end of its stderr, or -1 */
};
/* The process ended: exit_code (128+N after signal N), or an error that ended the exec. */
typedef void (*server_exec_exit_fn)(int exit_code, const korch_error *error, void *userdata);

/*
 * What the node agent gives the API server (NULL members: not available). Each call runs on
 * the loop's thread; handles are opaque to the server.
 */
struct server_node_ops {
	void *node; /* passed to every call */
	/* Starts streaming a container's log (write may be called before this returns). */
	int (*log_start)(void *node, const struct server_log_request *req,
			 server_log_write_fn write, server_log_done_fn done, void *userdata,
			 void **ret_handle, korch_error **err);
	void (*log_resume)(void *handle); /* after write returned 1 */
	void (*log_cancel)(void *handle); /* stops; done is not called afterwards */
	/* Starts a process in a running container; exit is called once when it ended. */
	int (*exec_start)(void *node, const struct server_exec_request *req,
			  server_exec_exit_fn exit, void *userdata, struct server_exec_streams *ret,
			  void **ret_handle, korch_error **err);
	void (*exec_resize)(void *handle, unsigned width, unsigned height); /* tty */
	void (*exec_cancel)(void *handle); /* kills the process; exit is not called afterwards */
	/*
	 * The latest CPU and memory samples: {"node": {"name", "timestamp", "window", "usage":
	 * {"cpu", "memory"}}, "pods": [{"namespace", "name", "timestamp", "window",
	 * "containers": [{"name", "usage": {...}}]}]} (quantities as strings).
	 */
	int (*metrics)(void *node, json_t **ret, korch_error **err);
};

struct node_agent;

/*
 * The node calls over a node agent running in this process (agent, client and loop borrowed):
 * logs and exec run lib/node's korch_pod_logs and korch_pod_exec on a thread each, over a state
 * handle of their own (state_path; logs under DATA_DIR/logs, korch-monitor in run_dir), and
 * stream back through the loop; metrics are the agent's latest samples. exec_resize is not
 * offered: a terminal keeps the size it started with.
 */
int server_agent_ops_new(struct node_agent *agent, struct client *client, korch_loop *loop,
			 const char *state_path, const char *data_dir, const char *run_dir,
			 struct server_node_ops **ret, korch_error **err);
/* Frees the table (streams still running hold what they need). Takes NULL. */
void server_agent_ops_free(struct server_node_ops *ops);

struct server_options {
	const char *socket_path;        /* the unix socket (mode 0600), or NULL */
	const char *const *https_addrs; /* "ADDR:PORT" to listen on with TLS, NULL-terminated */
	const char *tls_cert_pem;       /* the server certificate chain (PEM text) */
	const char *tls_key_pem;        /* its key */
	const char *token_file;         /* kube-apiserver's token CSV, or NULL */
	const char *sa_key_pem;         /* the ServiceAccount signing key, or NULL: no SA tokens */
	const char *sa_issuer;          /* iss of ServiceAccount tokens; NULL: the in-cluster URL */
	const char *advertise_address;  /* the address pods reach the API at (discovery), or NULL */
	unsigned max_read_inflight;     /* 0: SERVER_DEFAULT_MAX_READ_INFLIGHT */
	unsigned max_mutating_inflight; /* 0: SERVER_DEFAULT_MAX_MUTATING_INFLIGHT */
	size_t max_body_bytes;          /* 0: SERVER_MAX_BODY_BYTES */
	unsigned header_timeout_s;      /* 0: SERVER_DEFAULT_HEADER_TIMEOUT_S */
	unsigned idle_timeout_s;        /* 0: SERVER_DEFAULT_IDLE_TIMEOUT_S */
	unsigned max_connections;       /* 0: SERVER_DEFAULT_MAX_CONNECTIONS */
	const struct server_node_ops *node; /* the node agent's calls, or NULL */
};

/*
 * Starts serving on the given listeners, on the client's store loop (borrowed: client and loop
 * must outlive the server). The default RBAC roles (cluster-admin, admin, edit, view and the
 * discovery roles) are created or reconciled through the client. A listener that cannot bind
 * is an error naming its address.
 */
int server_new(struct client *client, korch_loop *loop, const struct server_options *opts,
	       struct server **ret, korch_error **err);

/* The TCP port the first HTTPS listener got (for ":0" in tests), or 0. */
unsigned server_https_port(const struct server *s);

/* Connections open now (requests in flight, idle keep-alives, watches, execs). */
size_t server_connections(const struct server *s);

/*
 * Stops listening, ends every watch, log stream and exec, closes every connection and frees the
 * server. Takes NULL.
 */
void server_free(struct server *s);

DEFINE_CLEANUP_FUNC(server_free, struct server, server_free)

#endif
