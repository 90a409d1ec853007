/*
 * node-internal.h - what the node agent's files share: the agent, its pods and their
 * containers, and the functions each file provides to the others.
 *
 *   agent.c      lifecycle, informers, the pod table, the sync queue, adoption, housekeeping
 *   pod.c        one pod's sync: admission, sandbox, init and app containers, restarts, stops
 *   container.c  turning a container spec into a backend config: image, argv, env, mounts
 *   status.c     the pod's status as Kubernetes reports it, written when it changes
 *   probe.c      liveness, readiness and startup probes; lifecycle hooks (exec, HTTP, TCP)
 *   http.c       libcurl multi on the loop, for HTTP probes and hooks
 *   env.c        the container environment (valueFrom, envFrom, Service links)
 *   volume.c     emptyDir, hostPath, configMap, secret, downwardAPI, projected, PVCs
 *   nodestatus.c the Node object, its conditions and the Lease heartbeat
 *   eviction.c   memory-pressure eviction
 *   stats.c      CPU and memory samples of containers and pods
 */
#ifndef KORCH_NODE_INTERNAL_H
#define KORCH_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/loop.h>
#include "base/hashmap.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/vec.h"
#include "base/workqueue.h"
#include "client/informer.h"
#include "node/agent.h"
#include "node/backend.h"
#include "node/podspec.h"

#define FIELD_MANAGER "korch-node"
#define BACKOFF_BASE_NS (10 * NSEC_PER_SEC) /* kubelet's backOffPeriod */
#define BACKOFF_MAX_NS (300 * NSEC_PER_SEC) /* kubelet's MaxContainerBackOff */
#define MIN_GRACE_NS (2 * NSEC_PER_SEC)     /* kubelet's minimumGracePeriodInSeconds */

struct apod;
struct actr;
struct http_ctx;
struct stats_store;

enum probe_kind { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP, PROBE_KINDS };

enum probe_result { RESULT_UNKNOWN, RESULT_SUCCESS, RESULT_FAILURE };

/* One probe of one running container instance. */
struct prober {
	struct actr *c;                /* owner */
	enum probe_kind kind;          /* which probe */
	const struct probe_spec *spec; /* from the container's spec */
	enum probe_result result;      /* the result that counts (after thresholds) */
	enum probe_result last;        /* the last raw result */
	int run;                       /* consecutive raw results equal to last */
	struct loop_source *timer;     /* next run */
	struct hook_op *op;            /* the run in flight, or NULL */
	bool done;                     /* startup probe succeeded: it never runs again */
	char *message;                 /* why the last run failed, for events */
};

enum ctr_op {
	OP_NONE,
	OP_CREATE,     /* backend create in flight */
	OP_START,      /* backend start in flight */
	OP_POST_START, /* the postStart hook runs */
};

/* One container of a pod (init or app) and what the backend runs for it. */
struct actr {
	struct apod *pod;                   /* owner */
	size_t index;                       /* in pod->ctrs and pod->spec->ctrs */
	const struct ctr_spec *spec;        /* its spec (in pod->spec) */
	struct backend_container *cur;      /* the latest instance, or NULL */
	struct backend_container *prev;     /* the instance before it (exited), or NULL */
	enum ctr_op op;                     /* what is in flight */
	char *waiting_reason;               /* why it does not run ("CrashLoopBackOff"...) */
	char *waiting_message;              /* and the details */
	char *image_name;                   /* normalised image name of the last resolve */
	int64_t backoff_ns;                 /* current crash back-off (0: no entry) */
	int64_t backoff_updated_wall;       /* wall time the back-off was last stepped */
	int64_t image_backoff_ns;           /* back-off of a missing image */
	int64_t image_retry_ns;             /* loop time of the next image lookup */
	struct prober *probes[PROBE_KINDS]; /* of the current running instance */
	bool ready;                         /* readiness passed */
	bool started;                       /* startup passed (or no startup probe) */
	/* stopping the current instance */
	bool stopping;             /* a stop is under way */
	bool stop_signal_sent;     /* the stop signal went out */
	bool kill_sent;            /* SIGKILL went out */
	int64_t stop_deadline_ns;  /* loop time SIGKILL is due (after the stop signal) */
	int64_t stop_started_ns;   /* loop time the stop began */
	int64_t stop_grace_ns;     /* the grace period the stop got */
	bool stop_grace_override;  /* grace given exactly (eviction), no 2 s minimum */
	bool restart_after_stop;   /* a liveness or startup failure: restart it */
	struct hook_op *pre_stop;  /* the preStop hook in flight */
	bool pre_stop_done;        /* preStop ran (or there is none) for this instance */
	char *termination_message; /* read from its termination-log at exit */
	bool exit_seen;            /* the current instance's exit was handled */
};

enum pod_terminal_cause {
	TERMINAL_NONE,
	TERMINAL_PHASE,    /* the containers ended under the restart policy */
	TERMINAL_EVICTED,  /* memory pressure */
	TERMINAL_DEADLINE, /* activeDeadlineSeconds */
	TERMINAL_REJECTED, /* admission: the node lacks room */
};

struct apod {
	struct node_agent *agent;  /* owner */
	char *uid;                 /* metadata.uid: the table's key */
	char *ns;                  /* metadata.namespace */
	char *name;                /* metadata.name */
	json_t *obj;               /* the latest object (a reference), or NULL once gone */
	int64_t deletion_grace_s;  /* metadata.deletionGracePeriodSeconds last seen, or -1 */
	struct podspec *spec;      /* decoded from obj; NULL before the first decode */
	char *spec_key;            /* podspec_mutable_key of the object spec was decoded from */
	struct actr *ctrs;         /* spec->n_ctrs entries, in spec order */
	size_t n_ctrs;             /* entries in ctrs */
	bool admitted;             /* passed admission (or was running already) */
	bool initialized;          /* the init containers completed once */
	bool token_absence_logged; /* said once that no token issuer fills token files */
	bool gone;                 /* deleted from the API: tear everything down */
	bool terminating;          /* deletionTimestamp set */
	enum pod_terminal_cause terminal; /* why the pod is over, or TERMINAL_NONE */
	char *terminal_reason;            /* status.reason for evicted/deadline/rejected */
	char *terminal_message;           /* status.message */
	bool sandbox_ready;               /* the sandbox exists */
	bool sandbox_removed;             /* the sandbox was torn down (terminal pod) */
	char *netns_path;                 /* the sandbox's network namespace, or NULL */
	char *pod_ip;                     /* from the network setup, or NULL */
	char *setup_error_reason;         /* sandbox/volume problem: "ContainerCreating" */
	char *setup_error_message;        /* what went wrong */
	bool volumes_ready;               /* every volume is set up */
	bool volumes_released;            /* terminal: the volumes were torn down */
	json_t *volume_state;             /* per volume: what was written (for updates) */
	int64_t start_wall_ns;            /* status.startTime */
	uint64_t written_hash;     /* hash of the status last written (or read at adoption) */
	char *written_rv;          /* resourceVersion our last status write made */
	json_t *cond_times;        /* condition type -> [status, lastTransitionTime] */
	bool deleted_from_api;     /* the final delete was sent */
	int inflight;              /* backend operations in flight */
	bool freeing;              /* removed from the table; free when inflight is 0 */
	bool cleaned;              /* containers, sandbox, files removed */
	int64_t wake_ns;           /* the next time-based sync (loop time), or -1 */
	struct loop_source *timer; /* fires at wake_ns */
	int64_t first_seen_ns;     /* loop time the agent first saw it (start latency) */
};

struct node_agent {
	char *node_name;                  /* the Node's name */
	struct client *client;            /* borrowed */
	struct node_backend *backend;     /* borrowed */
	korch_loop *loop;                 /* the store's */
	korch_clock *clock;               /* the loop's */
	char *root_dir;                   /* ROOT */
	char *log_dir;                    /* LOGS */
	char *node_ip;                    /* InternalIP or NULL */
	char **node_labels;               /* extra labels, "key=value" */
	char *pod_cidr;                   /* or NULL */
	char *cluster_dns;                /* or NULL */
	char *cluster_domain;             /* "cluster.local" */
	int32_t max_pods;                 /* 110 */
	int64_t eviction_threshold;       /* bytes of memory.available, or < 0: off */
	double eviction_memory_percent;   /* > 0: eviction_threshold is this share of memory */
	int64_t disk_threshold;           /* bytes of nodefs.available, or < 0: off */
	double disk_percent;              /* > 0: disk_threshold is this share of the disk */
	int64_t eviction_interval_ns;     /* pressure checks */
	int64_t housekeeping_interval_ns; /* orphan clean-up */
	int64_t lease_renew_interval_ns;  /* lease */
	int32_t lease_duration_s;         /* lease */
	int64_t stats_interval_ns;        /* sampling */
	int64_t stats_window_ns;          /* samples kept */
	bool protect_from_oom;            /* oom_score_adj -999 */
	const struct node_network_ops *network; /* or NULL */
	void *network_data;                     /* for network */

	struct informer *pods;          /* pods with spec.nodeName = node_name */
	struct informer *configmaps;    /* every namespace */
	struct informer *secrets;       /* every namespace */
	struct informer *services;      /* for Service links */
	struct informer *pvcs;          /* persistentVolumeClaim volumes */
	struct informer *pvs;           /* their volumes */
	struct workqueue *queue;        /* pod uids to sync */
	struct hashmap pods_by_uid;     /* uid -> struct apod */
	struct hashmap adopt;           /* uid -> struct ptrvec * of backend containers */
	struct hashmap adopt_sandboxes; /* uid -> struct backend_sandbox */
	bool started;                   /* node_agent_start ran */
	bool synced;                    /* the pod informer delivered its initial list */
	bool first_housekeeping_done;   /* the orphan sweep after adoption ran */

	char *node_uid;                   /* the Node object's uid */
	struct backend_node_info info;    /* the machine, refreshed every eviction check */
	json_t *node_status_written;      /* the Node's status as last written */
	bool memory_pressure;             /* memory.available is below the threshold */
	bool disk_pressure;               /* nodefs.available was below its threshold */
	int64_t memory_pressure_since_ns; /* loop time it began (transition period) */
	bool eviction_waiting; /* an evicted pod was being cleaned up at the last check */
	bool runtime_down;     /* the backend is unhealthy */

	struct loop_source *synced_src;         /* notices the initial list, then sweeps */
	struct loop_source *lease_timer;        /* renews the lease */
	struct loop_source *housekeeping_timer; /* orphan clean-up */
	struct loop_source *eviction_timer;     /* memory pressure checks */
	struct loop_source *stats_timer;        /* usage sampling */
	struct http_ctx *http;                  /* HTTP probes and hooks */
	struct stats_store *stats;              /* usage samples */
};

/* agent.c */
struct apod *agent_pod(struct node_agent *a, const char *uid);
void agent_queue(struct node_agent *a, const char *uid);
/* Queues every pod of namespace ns (all when NULL), after a ConfigMap, Secret... changed. */
void agent_queue_namespace(struct node_agent *a, const char *ns);
/* Removes the pod from the table; it is freed once nothing is in flight. */
void agent_forget_pod(struct node_agent *a, struct apod *p);
int64_t agent_now(const struct node_agent *a);
int64_t agent_wall(const struct node_agent *a);
/* "ns/name" for messages, kubelet's format.Pod: "name_ns(uid)". */
const char *pod_desc(const struct apod *p, char buf[static 256]);

/* pod.c */
int pod_sync(struct apod *p);
/* The object changed (or appeared): decode its spec when needed. */
int pod_set_object(struct apod *p, const json_t *obj, korch_error **err);
void pod_free(struct apod *p);
/*
 * The agent goes while operations of p are in flight: releases its loop sources and leaves
 * the struct for the last completion to free.
 */
void pod_detach(struct apod *p);
/* Asks to be synced at loop time t at the latest. */
void pod_wake_at(struct apod *p, int64_t t);
/* A container of the pod exited (from the backend's event or a completion). */
void pod_container_exited(struct apod *p, const struct backend_container *c);
/* Attaches what the backend runs for this pod (adoption). Takes the containers. */
void pod_adopt(struct apod *p, struct ptrvec *containers, struct backend_sandbox *sandbox);
/* Begins stopping a container instance: preStop, stop signal, SIGKILL after grace. */
void ctr_stop(struct actr *c, int64_t grace_ns, bool exact, bool restart);
/* Evicts the pod: Failed, reason Evicted, containers killed with grace 0. */
void pod_evict(struct apod *p, const char *message);
struct actr *pod_find_ctr(struct apod *p, const char *name);
bool ctr_running(const struct actr *c);

/* container.c */
/*
 * Resolves the image, the environment, argv and mounts of c's next instance and asks the
 * backend to create it; the reason and message of a failure go to c's waiting state.
 */
int ctr_create(struct actr *c, korch_error **err);
/* "NS_NAME_UID/CONTAINER/N.log" under the log dir; caller frees. */
char *ctr_log_path(const struct apod *p, const char *container, unsigned attempt);
/* The backend create of a config container.c built; sets c->op. */
int ctr_backend_create(struct actr *c, const struct backend_container_config *cfg,
		       korch_error **err);
/* ROOT/pods/UID; caller frees. */
char *pod_dir(const struct node_agent *a, const char *uid);
/* Reads the termination message of an instance that exited. */
void ctr_read_termination_message(struct actr *c);

/* status.c */
/* Builds the pod's status; *ret is the caller's. */
int pod_status_build(struct apod *p, json_t **ret);
/* Writes it when it differs from what was written; 1 written, 0 unchanged, or an error. */
/* Takes status (read from the object) as what was written: at adoption. */
void pod_status_remember(struct apod *p, const json_t *status);
int pod_status_write(struct apod *p, korch_error **err);
/* The phase the status shows now. */
const char *apod_phase(struct apod *p);
unsigned ctr_restart_count(const struct actr *c);

/* probe.c */
/* (Re)starts the probes of a container instance that began running. */
void probes_start(struct actr *c);
void probes_stop(struct actr *c);
/*
 * Runs a lifecycle hook (postStart, preStop) in container c; done(p, c index, ok, message) is
 * called once, also when the pod goes away first.
 */
struct hook_op;
typedef void (*hook_done_fn)(struct apod *p, size_t index, bool ok, const char *message,
			     void *userdata);
int hook_run(struct actr *c, const struct handler_spec *h, int64_t timeout_ns, hook_done_fn done,
	     void *userdata, struct hook_op **ret, korch_error **err);
/* Abandons a hook in flight: its done is not called. */
void hook_cancel(struct hook_op *op);

/* http.c */
int http_ctx_new(korch_loop *loop, struct http_ctx **ret, korch_error **err);
void http_ctx_free(struct http_ctx *h);
/*
 * GETs url with headers (name/value objects) within timeout_ns; fd_open (may be NULL) makes
 * the socket (in the pod's network namespace). done gets the status code (0 when the request
 * failed, with a message).
 */
typedef void (*http_done_fn)(void *userdata, long code, const char *message);
typedef int (*http_socket_fn)(void *userdata, int domain, int type);
struct http_req;
int http_get(struct http_ctx *h, const char *url, const json_t *headers, int64_t timeout_ns,
	     http_socket_fn open_socket, void *socket_userdata, http_done_fn done, void *userdata,
	     struct http_req **ret, korch_error **err);
void http_cancel(struct http_req *req);

/* env.c */
/*
 * The environment of container c: Service links, envFrom, env (with valueFrom and $(VAR)
 * expansion), in that order, later names replacing earlier ones. KORCH_ENOTFOUND/EINVALID
 * with the kubelet's message for a missing ConfigMap, Secret or key (CreateContainerConfigError).
 */
int env_build(struct apod *p, const struct ctr_spec *c, char ***ret, korch_error **err);
/* Expands $(VAR) references in s against env (KEY=value entries); caller frees. */
char *env_expand(const char *s, char *const *env);
/* The value of a fieldRef path for the pod ("metadata.name"...); caller frees. */
int pod_field_value(struct apod *p, const char *path, char **ret, korch_error **err);
/* The value of a resourceFieldRef (limits.cpu...) of container c; caller frees. */
int ctr_resource_value(struct apod *p, const char *container, const char *resource,
		       const json_t *divisor, char **ret, korch_error **err);

/* volume.c */
/*
 * Sets up (or refreshes) every volume of the pod; KORCH_EBUSY-free errors carry the reason
 * shown in the waiting container ("persistentvolumeclaim \"data\" is not bound").
 */
int volumes_setup(struct apod *p, korch_error **err);
/* The host path of volume name for container mounts; NULL when unknown. Caller frees. */
char *volume_host_path(struct apod *p, const char *name);
/* Whether the volume asks for read-only mounts (PVC readOnly, secret? no). */
bool volume_read_only(struct apod *p, const char *name);
/*
 * A terminal pod's volumes go once its containers stopped (tmpfs memory comes back): unmounts
 * and removes ROOT/pods/UID/volumes.
 */
int volumes_release(struct apod *p, korch_error **err);
/* Unmounts and removes everything under ROOT/pods/UID. */
int volumes_teardown(struct node_agent *a, const char *uid, korch_error **err);
/* Whether a ConfigMap/Secret/PVC named kind/ns/name is used by the pod's volumes. */
bool volumes_use(struct apod *p, const char *kind, const char *name);

/* nodestatus.c */
int node_register(struct node_agent *a, korch_error **err);
int node_status_update(struct node_agent *a, korch_error **err);
int node_lease_renew(struct node_agent *a, korch_error **err);
/* Allocatable cpu (milli) and memory (bytes). */
void node_allocatable(const struct node_agent *a, int64_t *ret_cpu_milli, int64_t *ret_memory,
		      int64_t *ret_ephemeral);

/* eviction.c */
void eviction_check(struct node_agent *a);
/* The thresholds given as shares of the machine, from a->info (after each refresh). */
void eviction_thresholds_update(struct node_agent *a);
/* nodefs.available is below its threshold (DiskPressure). */
bool node_disk_pressure(const struct node_agent *a);

/* stats.c */
int stats_store_new(struct stats_store **ret);
void stats_store_free(struct stats_store *s);
void stats_sample(struct node_agent *a);
void stats_forget_pod(struct stats_store *s, const char *uid);
/* The latest working set of a pod and of its containers (for eviction ranking). */
bool stats_pod_memory(struct stats_store *s, const char *uid, uint64_t *ret_bytes);
int stats_pod_json(struct node_agent *a, struct apod *p, json_t **ret, korch_error **err);
int stats_node_json(struct node_agent *a, json_t **ret, korch_error **err);

/*
 * The node's InternalIP when none was given: the IPv4 address of the interface the default route
 * leaves by, in the calling thread's network namespace. NULL when there is none; caller frees.
 */
char *node_default_route_address(void);

#endif
