/*
 * korch/korch.h - the whole orchestrator in your process, behind one handle: a state file, the
 * roles you choose (the store alone, the control plane, a node agent, or all of them), run on
 * korch's own thread or inside your own event loop, and a simulation mode for tests.
 *
 *     korch_options o = KORCH_OPTIONS_INIT;
 *     o.roles = KORCH_ROLE_ALL;
 *     korch *k;
 *     if (korch_open("/var/lib/myagent/state.db", &o, &k, &err) < 0) ...
 *     // in your loop: poll korch_fd(k) for POLLIN with korch_timeout_ms(k) as the timeout,
 *     // then call korch_dispatch(k, &err).
 *     korch_client_apply(korch_get_client(k), manifest, NULL, NULL, NULL, &err);
 *     korch_close(k);
 *
 * Execution (DESIGN.md "Execution model"): all of korch's work runs on one event loop.
 *   - KORCH_RUN_CALLER_LOOP (the default): you drive it. korch_fd() is one file descriptor that
 *     is readable whenever korch has work; korch_timeout_ms() says when the next timer is due;
 *     korch_dispatch() runs what is ready and never blocks. It fits poll, epoll, libuv
 *     (uv_poll_t plus a uv_timer_t) and GLib (g_unix_fd_add plus g_timeout_add). korch creates
 *     no thread of its own in this mode except the worker pool: at most KORCH_WORKER_THREADS
 *     threads, started on first use, for work that must block or is large (image unpacking,
 *     durable batch commits of the scheduler's bindings, parsing a watch read of more than 64
 *     objects); their results are delivered through korch_fd().
 *     Every callback (watches included) runs inside korch_dispatch(), on your thread.
 *   - KORCH_RUN_THREAD: korch starts one thread that runs the loop until korch_close(), plus
 *     the same worker pool. Watch callbacks then run on korch's thread.
 *
 * Thread rules: a korch handle belongs to the thread that opened it; every function here must be
 * called from that thread, except that in KORCH_RUN_THREAD mode korch_watch_fd(),
 * korch_watch_next() and korch_watch_free() of a queued watch may be called from any one thread
 * at a time. The client korch_get_client() returns belongs to the opening thread too (in
 * KORCH_RUN_THREAD mode it is a state handle of its own beside the loop thread's; SQLite orders
 * their writes and watches see both).
 *
 * Errors: every fallible function returns 0 or a negative KORCH_E* code (korch/common.h) and
 * fills the optional last korch_error **err, freed with korch_error_free().
 *
 * Ownership: korch_open() and korch_watch_new() hand out handles the caller frees with
 * korch_close() and korch_watch_free(); korch_get_client() and korch_get_loop() return handles
 * borrowed from the korch handle (valid until korch_close()). Objects a watch hands out are
 * described at each function.
 */
#ifndef KORCH_KORCH_H
#define KORCH_KORCH_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/client.h>
#include <korch/common.h>
#include <korch/loop.h>
#include <korch/object.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct korch korch;
typedef struct korch_watch korch_watch;

/** What an embedded korch runs besides the store; OR them together. */
enum korch_role {
	KORCH_ROLE_STORE = 0,             /**< only the state: objects and watches */
	KORCH_ROLE_CONTROLLERS = 1u << 0, /**< the controller manager (Deployments, Jobs, ...) */
	KORCH_ROLE_SCHEDULER = 1u << 1,   /**< binds pending pods to nodes */
	KORCH_ROLE_NODE = 1u << 2,        /**< a node agent running the pods bound to node_name */
	KORCH_ROLE_CONTROL_PLANE = KORCH_ROLE_CONTROLLERS | KORCH_ROLE_SCHEDULER,
	KORCH_ROLE_ALL = KORCH_ROLE_CONTROL_PLANE | KORCH_ROLE_NODE,
};

/** Where the loop runs. */
enum korch_run_mode {
	KORCH_RUN_CALLER_LOOP = 0, /**< inside the caller's loop: korch_fd() + korch_dispatch() */
	KORCH_RUN_THREAD = 1,      /**< on a thread korch starts */
};

/** The most worker-pool threads korch starts besides the caller's (and its own loop thread). */
#define KORCH_WORKER_THREADS 4

/** Options for korch_open(); initialise with KORCH_OPTIONS_INIT. */
typedef struct korch_options {
	unsigned int version;  /**< KORCH_OPTIONS_VERSION */
	unsigned int roles;    /**< enum korch_role bits; KORCH_ROLE_STORE: none */
	int run_mode;          /**< enum korch_run_mode */
	bool simulated;        /**< the test clock and the simulated container runtime: nothing
				   moves until korch_advance(); no root, no processes */
	uint64_t seed;         /**< simulation: uids, generated names and the scheduler's tie-breaks
			    repeat with it */
	int64_t start_wall_ns; /**< simulation: the clock's wall time at start (ns since the
				    epoch); 0: 2026-01-01T00:00:00Z */
	const char *node_name; /**< KORCH_ROLE_NODE: the Node's name; NULL: the host name
				    ("sim-node" when simulated) */
	const char *data_dir;  /**< images, pod files and logs; NULL: the state file's directory */
	const char *run_dir;   /**< the real runtime's korch-monitor socket; NULL: /run/korch */
	const char *instance;  /**< names the cgroup parent korch-INSTANCE; NULL: "korch" */
	const char *event_log_path; /**< when set, every change korch stores is appended there,
					 one line each (see korch_open()) */
} korch_options;

#define KORCH_OPTIONS_VERSION 1
#define KORCH_OPTIONS_INIT                                                             \
	{                                                                              \
		KORCH_OPTIONS_VERSION, 0, 0, false, 0, 0, NULL, NULL, NULL, NULL, NULL \
	}

/**
 * Opens (creating when missing) the state file at state_path and starts the roles of opts (NULL:
 * the store alone, in the caller's loop, on the real clock). The control plane runs its
 * controllers without leader election when it is the only role besides the node; a node agent
 * registers its Node and Lease before this returns.
 *
 * With opts->event_log_path, each change stored from then on is appended to that file as one
 * line: `REVISION TYPE RESOURCE NAMESPACE/NAME JSON` (TYPE ADDED, MODIFIED or DELETED;
 * RESOURCE as "deployments.apps"; NAMESPACE "-" for cluster-scoped objects; JSON the object
 * as stored). In simulation mode, two runs with the same seed, start time and inputs write
 * byte-identical logs.
 *
 * Errors: KORCH_EINVALID for a bad option (naming it), KORCH_EUNSUPPORTED for a role this build
 * cannot run yet, the store's errors for the file (`open state PATH: ...`), the node's
 * (`node NAME: ...`). Nothing is left running on failure.
 */
KORCH_EXPORT int korch_open(const char *state_path, const korch_options *opts, korch **ret,
			    korch_error **err);

/**
 * Stops everything (the loop thread first, when there is one), frees every watch still open and
 * the handle. Containers a real node agent runs keep running; a later korch_open() adopts them.
 * Takes NULL.
 */
KORCH_EXPORT void korch_close(korch *k);

/** The roles running (enum korch_role bits). */
KORCH_EXPORT unsigned int korch_roles(const korch *k);

/**
 * The client for objects (korch/client.h: apply, get, list, patch, delete...), borrowed from k.
 * Writes through it go through the same write path the controllers use.
 */
KORCH_EXPORT korch_client *korch_get_client(korch *k);

/**
 * The loop korch runs on (korch/loop.h), borrowed from k; NULL in KORCH_RUN_THREAD mode, where
 * only korch's thread may touch it.
 */
KORCH_EXPORT korch_loop *korch_get_loop(korch *k);

/**
 * KORCH_RUN_CALLER_LOOP: the file descriptor to poll for readability (owned by k). -1 in
 * KORCH_RUN_THREAD mode.
 */
KORCH_EXPORT int korch_fd(korch *k);

/**
 * KORCH_RUN_CALLER_LOOP: milliseconds until korch needs korch_dispatch() even if korch_fd() stays
 * quiet; 0: now; -1: not before the fd is readable. -1 in KORCH_RUN_THREAD mode.
 */
KORCH_EXPORT int korch_timeout_ms(korch *k);

/**
 * KORCH_RUN_CALLER_LOOP: runs everything that is ready (I/O, due timers, deferred work, watch
 * callbacks) without blocking. Returns the number of callbacks run (>= 0) or a negative error.
 * KORCH_EINVALID in KORCH_RUN_THREAD mode, or when called from inside a korch callback.
 */
KORCH_EXPORT int korch_dispatch(korch *k, korch_error **err);

/**
 * Simulation mode: moves the test clock forward by delta_ns, running every timer at its own
 * deadline and the work it causes in between (controllers reconcile, pods start and pass their
 * probes, leases renew), so that after it returns everything due by then has happened.
 * KORCH_EINVALID when not simulated or delta_ns < 0.
 */
KORCH_EXPORT int korch_advance(korch *k, int64_t delta_ns, korch_error **err);

/** The wall time korch's clock shows, in nanoseconds since the epoch. */
KORCH_EXPORT int64_t korch_now_wall_ns(korch *k);

/**
 * Simulation mode with KORCH_ROLE_NODE: makes the simulated containers whose
 * NAMESPACE/POD/CONTAINER matches pattern (fnmatch(3), "default/job-*" "/" "*") exit by
 * themselves run_s seconds after they start, with exit_code. Later calls take precedence.
 * KORCH_EINVALID when not simulated, without a node, or for a negative run_s.
 */
KORCH_EXPORT int korch_sim_set_exit(korch *k, const char *pattern, int64_t run_s, int exit_code,
				    korch_error **err);

/** What a watch reports: the values match enum korch_watch_event of korch/client.h. */
enum korch_event_type {
	KORCH_EVENT_ADDED = 0,
	KORCH_EVENT_MODIFIED = 1,
	KORCH_EVENT_DELETED = 2,
	KORCH_EVENT_ERROR = 4, /**< the watch ended: the object is a Status (410 Expired when the
				    resourceVersion asked for was compacted: list again) */
};

/**
 * Receives one watch event (enum korch_event_type) and the object, borrowed for the call (take a
 * korch_object_ref() to keep it). Runs inside korch_dispatch() or korch_advance() (on korch's
 * thread in KORCH_RUN_THREAD mode). It may call anything in korch.h but korch_close() and
 * korch_dispatch(), and may free its own watch.
 */
typedef void (*korch_event_fn)(korch_watch *w, int type, korch_object *obj, void *userdata);

/** Options for korch_watch_new(); initialise with KORCH_WATCH_NEW_OPTIONS_INIT. */
typedef struct korch_watch_new_options {
	unsigned int version;         /**< KORCH_WATCH_NEW_OPTIONS_VERSION */
	const char *label_selector;   /**< "app=web", or NULL */
	const char *field_selector;   /**< "spec.nodeName=n1", or NULL */
	const char *resource_version; /**< the changes after this revision (from a list's
					   metadata.resourceVersion); NULL: from now on */
	size_t queue_max; /**< queued watches: events kept before the watch ends with a 410
			       ("too many events queued"); 0: 10,000 */
} korch_watch_new_options;

#define KORCH_WATCH_NEW_OPTIONS_VERSION 1
#define KORCH_WATCH_NEW_OPTIONS_INIT                                 \
	{                                                            \
		KORCH_WATCH_NEW_OPTIONS_VERSION, NULL, NULL, NULL, 0 \
	}

/**
 * Watches resource (as korch_client_get names it) in namespace ns (NULL: all namespaces).
 * With fn, each event calls fn. Without fn (NULL) the watch is queued: events wait in the watch
 * until korch_watch_next() takes them, and korch_watch_fd() is readable while any wait. Opts may
 * be NULL. As kube-apiserver does, an object that stops matching the selectors arrives as
 * DELETED, one that starts matching as ADDED.
 *
 * Errors: KORCH_ENOTFOUND for an unknown resource, KORCH_EINVALID for a bad selector (naming
 * it), KORCH_EGONE for a compacted resource_version.
 */
KORCH_EXPORT int korch_watch_new(korch *k, const char *resource, const char *ns,
				 const korch_watch_new_options *opts, korch_event_fn fn,
				 void *userdata, korch_watch **ret, korch_error **err);

/**
 * A queued watch's file descriptor (owned by the watch): readable while events wait. -1 for a
 * watch with a callback.
 */
KORCH_EXPORT int korch_watch_fd(korch_watch *w);

/**
 * Takes the oldest waiting event of a queued watch: returns 1 and fills *ret_type (enum
 * korch_event_type) and *ret_obj (the caller's; free with korch_object_free()), or returns 0
 * when none waits. After a KORCH_EVENT_ERROR event the watch has ended and returns 0 forever.
 * KORCH_EINVALID for a watch with a callback. In KORCH_RUN_CALLER_LOOP mode events arrive only
 * while korch_dispatch() or korch_advance() runs.
 */
KORCH_EXPORT int korch_watch_next(korch_watch *w, int *ret_type, korch_object **ret_obj,
				  korch_error **err);

/** Stops a watch and frees it with the events still waiting. Takes NULL. */
KORCH_EXPORT void korch_watch_free(korch_watch *w);

#ifdef __cplusplus
}
#endif

#endif
