/*
 * backend.h - the container runtime as the node agent sees it (internal): pod sandboxes,
 * containers with labels, images, exec, stats and the node's resources, behind a table of
 * functions. Two backends implement it: the real one over korch-monitor and the image store
 * (backend-real.c) and the simulated one (backend-sim.c, whose test API is in backend-sim.h),
 * where containers "run" and exit when told, on the loop's clock.
 *
 * The agent never asks a backend to wait: operations that take time in the real runtime
 * (creating a container means cloning it and mounting its rootfs; an exec runs as long as its
 * command) complete through a callback on the loop; everything else returns at once. Exits
 * come as events (node_backend_set_exit_handler). Every container carries the labels the agent
 * gave it at create (pod uid, container name, attempt...), so that an agent that restarted can
 * list what runs and adopt it, as the kubelet does with CRI labels.
 *
 * Lifetimes: a backend outlives the agents that use it (a simulated backend may serve an agent
 * that is "restarted" on top of it). Callbacks of operations in flight are always called, once,
 * also when the backend is freed first (then with KORCH_ECANCELED).
 */
#ifndef KORCH_NODE_BACKEND_H
#define KORCH_NODE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>
#include "base/macro.h"

/* Labels the agent puts on sandboxes and containers (values are strings). */
#define LABEL_POD_UID "io.kubernetes.pod.uid"
#define LABEL_POD_NAME "io.kubernetes.pod.name"
#define LABEL_POD_NAMESPACE "io.kubernetes.pod.namespace"
#define LABEL_CONTAINER_NAME "io.kubernetes.container.name"
#define LABEL_ATTEMPT "io.kubernetes.container.restartCount"
#define LABEL_IMAGE "io.korch.container.image"            /* the image reference of the spec */
#define LABEL_IMAGE_ID "io.korch.container.imageID"       /* what status shows as imageID */
#define LABEL_INIT "io.korch.container.init"              /* "true" for an init container */
#define LABEL_STOP_SIGNAL "io.korch.container.stopSignal" /* the image's, as a number */
#define LABEL_IMAGE_DIGEST "io.korch.image.digest" /* backend-real: the image's config digest */

enum backend_state {
	BACKEND_CREATED, /* set up, not started */
	BACKEND_RUNNING, /* its process runs */
	BACKEND_EXITED,  /* its process ended; the exit fields are valid */
	BACKEND_UNKNOWN, /* the runtime lost track of it */
};

/* A container as the backend last saw it. Every string is owned by the struct. */
struct backend_container {
	char *id;                 /* the backend's id */
	char *sandbox_id;         /* the sandbox it runs in */
	json_t *labels;           /* the labels given at create (a JSON object of strings) */
	enum backend_state state; /* where it is in its life */
	pid_t pid;                /* its init, in the agent's pid namespace; 0 when none */
	int exit_code;            /* exited: code, 128+N when killed by signal N */
	int signal;               /* exited: the signal that killed it, or 0 */
	bool oom_killed;          /* exited: the kernel's OOM killer ended it */
	char *reason;             /* exited: "Completed", "Error", "OOMKilled", "StartError"... */
	char *message;            /* exited: a start error's text, or NULL */
	int64_t created_ns;       /* wall clock, ns since the epoch */
	int64_t started_ns;       /* wall clock; 0 before start */
	int64_t finished_ns;      /* wall clock; 0 before exit */
	char *log_path;           /* its CRI log file */
};

/* A sandbox: the namespaces a pod's containers share. */
struct backend_sandbox {
	char *id;         /* the backend's id (the pod uid) */
	json_t *labels;   /* the labels given at create */
	char *netns_path; /* the pinned network namespace, or NULL (host network, simulated) */
	bool ready;       /* its namespaces exist */
};

/* Cgroup limits of a container or a pod; zero fields are "not set". */
struct backend_resources {
	int64_t memory_limit_bytes; /* 0: none */
	uint64_t cpu_shares;        /* 0: the kernel's default */
	int64_t cpu_quota_us;       /* 0: none */
	uint64_t cpu_period_us;     /* 0: 100000 */
};

struct backend_sandbox_config {
	const char *pod_uid;       /* becomes the sandbox id */
	const char *pod_name;      /* for messages */
	const char *pod_namespace; /* for messages */
	const char *hostname;      /* set in the sandbox's uts namespace */
	bool host_network;         /* no network namespace of its own */
	bool host_ipc;             /* no ipc namespace of its own */
	bool host_pid;             /* containers see the host's pids */
	bool share_pid;            /* shareProcessNamespace: one pid namespace for the pod */
	json_t *labels;            /* borrowed; kept with the sandbox */
	struct backend_resources resources; /* the pod cgroup's limits */
};

/* A volume or file the container sees. */
struct backend_mount {
	char *host_path;      /* absolute; a directory or a file */
	char *container_path; /* absolute, inside the container */
	bool read_only;       /* mounted read-only */
};

/* What a container is made of once the agent resolved the pod spec against the image. */
struct backend_container_config {
	const char *sandbox_id;             /* where it runs */
	const char *name;                   /* the spec's container name */
	unsigned attempt;                   /* restart count: 0 for the first */
	json_t *labels;                     /* borrowed; kept with the container */
	const char *image_ref;              /* as the pod spec names it */
	char **argv;                        /* NULL-terminated, the command to run (resolved) */
	char **env;                         /* NULL-terminated "KEY=value" */
	const char *working_dir;            /* or NULL for the image's (or /) */
	const char *user;                   /* "uid", "uid:gid", a name, or NULL for the image's */
	char **supplemental_groups;         /* NULL-terminated gids, or NULL */
	struct backend_mount *mounts;       /* n_mounts, in order */
	size_t n_mounts;                    /* entries in mounts */
	const char *etc_hosts;              /* host file bound on /etc/hosts, or NULL */
	const char *etc_hostname;           /* host file bound on /etc/hostname, or NULL */
	const char *etc_resolv_conf;        /* host file bound on /etc/resolv.conf, or NULL */
	const char *log_path;               /* the CRI log file to write */
	int stop_signal;                    /* the image's stop signal; 0 for SIGTERM */
	struct backend_resources resources; /* the container cgroup's limits */
	bool privileged;                    /* securityContext.privileged */
	bool read_only_rootfs;              /* securityContext.readOnlyRootFilesystem */
	int allow_privilege_escalation;     /* -1 unset, 0 false, 1 true */
	char **cap_add;                     /* capabilities.add (NULL-terminated, may be NULL) */
	char **cap_drop;                    /* capabilities.drop */
	const char *seccomp;           /* "RuntimeDefault", "Unconfined", "Localhost" or NULL */
	const char *seccomp_localhost; /* Localhost: the profile's absolute path */
};

/* An image resolved from the backend's store. */
struct backend_image {
	char *id;          /* "sha256:<config digest>" */
	char *name;        /* normalised reference, or NULL */
	char *image_id;    /* what status shows as imageID: "NAME@sha256:<manifest>" or the id */
	char **entrypoint; /* NULL-terminated or NULL */
	char **cmd;        /* NULL-terminated or NULL */
	char **env;        /* NULL-terminated "KEY=value" or NULL */
	char *working_dir; /* or NULL */
	char *user;        /* or NULL */
	int stop_signal;   /* 0 when the image names none */
};

/* Usage of a container or a pod, as the kubelet's summary API has it. */
struct backend_stats {
	uint64_t cpu_usage_ns;             /* cumulative CPU time */
	uint64_t memory_working_set_bytes; /* usage minus inactive file pages */
	uint64_t memory_usage_bytes;       /* everything charged */
};

/* The machine as the Node object describes it. */
struct backend_node_info {
	int64_t cpu_milli;                 /* CPUs online, in millicores */
	int64_t memory_bytes;              /* MemTotal */
	int64_t memory_available_bytes;    /* MemAvailable: what eviction watches */
	int64_t ephemeral_storage_bytes;   /* size of the filesystem holding the data dir */
	int64_t ephemeral_available_bytes; /* free space there */
	int64_t pids_max;                  /* kernel.pid_max */
	char kernel_version[128];          /* uname -r */
	char os_image[128];                /* PRETTY_NAME of /etc/os-release */
	char architecture[32];             /* GOARCH spelling: "amd64", "arm64" */
	char machine_id[64];               /* /etc/machine-id */
	char boot_id[64];                  /* /proc/sys/kernel/random/boot_id */
	char runtime_version[64];          /* "korch://0.1.0" */
};

struct backend_exec_result {
	int exit_code;  /* 128+N when killed by signal N; -1 on a timeout */
	bool timed_out; /* the command ran past its deadline and was abandoned */
	char *output;   /* the first KiB of stdout and stderr together, or NULL */
};

/*
 * Completion of an operation: r is 0 or a negative KORCH_E code with err saying why; c (on
 * success of create and start) is the container's state, borrowed for the call.
 */
typedef void (*backend_done_fn)(void *userdata, int r, const korch_error *err,
				const struct backend_container *c);
typedef void (*backend_exec_fn)(void *userdata, int r, const korch_error *err,
				const struct backend_exec_result *res);
/* A container exited (c is borrowed for the call). */
typedef void (*backend_exit_fn)(void *userdata, const struct backend_container *c);

struct node_backend_ops {
	const char *name; /* "korch" or "sim": the scheme of containerIDs ("korch://ID") */
	bool real;        /* runs real processes: volumes get mounts, probes go to sockets */

	/* Creates the sandbox of a pod (idempotent for the same uid); *ret is the caller's. */
	int (*sandbox_create)(void *data, const struct backend_sandbox_config *cfg,
			      struct backend_sandbox **ret, korch_error **err);
	/* Removes a sandbox once no container of it runs; an unknown id is success. */
	int (*sandbox_remove)(void *data, const char *id, korch_error **err);
	/* Every sandbox, as a vector of struct backend_sandbox *. */
	int (*sandbox_list)(void *data, struct backend_sandbox ***ret, size_t *ret_n,
			    korch_error **err);

	/* Creates a container (not started); done gets its state. */
	int (*container_create)(void *data, const struct backend_container_config *cfg,
				backend_done_fn done, void *userdata, korch_error **err);
	/* Starts a created container; done gets its state (running, or exited at once). */
	int (*container_start)(void *data, const char *id, backend_done_fn done, void *userdata,
			       korch_error **err);
	/* Sends a signal to the container's init (nothing for an exited one). */
	int (*container_kill)(void *data, const char *id, int signo, korch_error **err);
	/* Removes a container (SIGKILL first when it still runs); done when nothing is left. */
	int (*container_remove)(void *data, const char *id, backend_done_fn done, void *userdata,
				korch_error **err);
	/* Every container, as a vector of struct backend_container * (copies). */
	int (*container_list)(void *data, struct backend_container ***ret, size_t *ret_n,
			      korch_error **err);
	/* Runs argv in a running container; done gets its exit code and output. */
	int (*exec)(void *data, const char *id, char *const *argv, int64_t timeout_ns,
		    backend_exec_fn done, void *userdata, korch_error **err);
	/* Usage of one container, or of a sandbox's pod cgroup. */
	int (*container_stats)(void *data, const char *id, struct backend_stats *ret,
			       korch_error **err);
	int (*sandbox_stats)(void *data, const char *id, struct backend_stats *ret,
			     korch_error **err);
	/* Resolves an image reference: KORCH_ENOTFOUND with a message saying how to load it. */
	int (*image_resolve)(void *data, const char *ref, struct backend_image **ret,
			     korch_error **err);
	/*
	 * Removes images no container uses, and layers and blobs no image references (disk
	 * pressure); *ret_bytes (may be NULL) what it freed. NULL when the backend has no images.
	 */
	int (*image_gc)(void *data, uint64_t *ret_bytes, korch_error **err);
	/* The machine: capacity, what is available now, versions. */
	int (*node_info)(void *data, struct backend_node_info *ret, korch_error **err);
	/*
	 * A socket (SOCK_CLOEXEC|SOCK_NONBLOCK) in the sandbox's network namespace, so that probes
	 * reach 127.0.0.1 of the pod. NULL when the backend has no network namespaces.
	 */
	int (*sandbox_socket)(void *data, const char *id, int domain, int type, int *ret_fd,
			      korch_error **err);
	/*
	 * The simulated backend decides probe outcomes itself: 1 success, 0 failure, or
	 * -1 to run the probe for real. probe is "liveness", "readiness" or "startup". NULL
	 * in the real backend.
	 */
	int (*probe_result)(void *data, const char *id, const char *probe);
	/* Whether the backend reaches its runtime (false: the monitor is gone). */
	bool (*healthy)(void *data);
	/* Called when a container exits. */
	void (*set_exit_handler)(void *data, backend_exit_fn fn, void *userdata);
	/* Frees data; operations in flight complete with KORCH_ECANCELED. */
	void (*free)(void *data);
};

struct node_backend {
	const struct node_backend_ops *ops; /* the implementation */
	void *data;                         /* passed to every op */
};

/* Frees the backend and its data; takes NULL. */
void node_backend_free(struct node_backend *b);
DEFINE_CLEANUP_FUNC(node_backend_free, struct node_backend, node_backend_free)

/* Deep copies and frees of the structs above (NULL-safe frees). */
int backend_container_copy(const struct backend_container *c, struct backend_container **ret);
void backend_container_free(struct backend_container *c);
void backend_container_list_free(struct backend_container **v, size_t n);
void backend_sandbox_free(struct backend_sandbox *s);
void backend_sandbox_list_free(struct backend_sandbox **v, size_t n);
void backend_image_free(struct backend_image *img);
DEFINE_CLEANUP_FUNC(backend_image_free, struct backend_image, backend_image_free)
DEFINE_CLEANUP_FUNC(backend_container_free, struct backend_container, backend_container_free)

/* A label's value (borrowed), or NULL. */
const char *backend_label(const json_t *labels, const char *key);

/* "running", "exited"... for messages. */
const char *backend_state_name(enum backend_state s);

#endif
