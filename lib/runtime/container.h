/*
 * container.h - one container as korch-monitor runs it (internal): the spec it is built from,
 * the hook table through which cgroups, capabilities and seccomp plug in, and the two halves
 * of a container's life as its parent sees them (create: clone and set up; start: execve).
 *
 * How a container comes to life (container.c, rootfs.c, process.c), in this order:
 *
 *   parent  clone3(CLONE_NEW{PID,NS,UTS,IPC,NET} as the spec asks, CLONE_PIDFD); when the spec
 *           joins a pid namespace the parent enters it (pid_for_children) around the clone
 *   child   security->join_cgroup(): moves itself into the container's cgroups (v1; on v2
 *           clone3's CLONE_INTO_CGROUP placed it already)
 *   parent  security->enter_cgroup(pid): the child waits on the sync socket meanwhile
 *   child   closes every inherited fd but the sync socket and its stdio
 *   child   setns() into the net, ipc and uts namespaces the spec names (a pod sandbox)
 *   child   unshare(CLONE_NEWCGROUP), now that the cgroup is placed, so the cgroup namespace
 *           is rooted at the container's own cgroup
 *   child   rootfs (rootfs.c): propagation private, overlay or bind of the rootfs, /proc, /sys,
 *           security->mount_cgroupfs(root), /dev, /etc files, the spec's mounts, masked and
 *           read-only paths, pivot_root, read-only root, hostname
 *   child   resolves the user in the rootfs's /etc/passwd and the executable in $PATH
 *   child   reports "created" and waits for start
 *   ------  start
 *   child   rlimits, no_new_privs, security->prepare_caps (bounding set, keep caps)
 *   child   setgroups, setgid, setuid, chdir(cwd) as the user (no effective capability yet),
 *           then security->apply_caps (the sets that survive setuid)
 *   child   signal mask and dispositions reset, fds 3+ close-on-exec
 *   child   security->apply_seccomp, as late as possible so the filter need not allow setup
 *   child   execve; a failure is sent back with its errno before _exit(127)
 *
 * An exec into a running container takes the same start half after joining the container's
 * namespaces through its init's pidfd (container_exec_spawn).
 */
#ifndef KORCH_RUNTIME_CONTAINER_H
#define KORCH_RUNTIME_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/macro.h"

enum ns_type {
	NS_PID,
	NS_MNT,
	NS_UTS,
	NS_IPC,
	NS_NET,
	NS_CGROUP,
	NS_COUNT,
};

enum ns_mode {
	NS_MODE_NEW,  /* a namespace of its own (the default for all) */
	NS_MODE_HOST, /* the monitor's (host) namespace: hostNetwork, hostPID, hostIPC */
	NS_MODE_PATH, /* join the namespace bind-mounted or linked at path (a pod sandbox) */
};

struct ns_spec {
	enum ns_mode mode; /* new, host or join */
	char *path;        /* NS_MODE_PATH: an nsfs file (/proc/PID/ns/net, a bind mount) */
};

enum mount_type {
	MOUNT_BIND,  /* a host path */
	MOUNT_TMPFS, /* a fresh tmpfs */
};

struct mount_spec {
	enum mount_type type; /* bind or tmpfs */
	char *source;         /* bind: absolute host path; tmpfs: NULL */
	char *target;         /* absolute path inside the container, without ".." */
	bool read_only;       /* recursively read-only */
	uint64_t size_bytes;  /* tmpfs: size limit, 0 for the kernel's default */
	uint32_t mode;        /* tmpfs: mode of its root directory */
};

struct rlimit_spec {
	int resource;  /* RLIMIT_* */
	uint64_t soft; /* RLIM_INFINITY for "unlimited" */
	uint64_t hard; /* >= soft */
};

/* What runs: the container's init, or a process exec'd into a running container. */
struct process_spec {
	char **args;              /* NULL-terminated, at least one */
	char **env;               /* NULL-terminated "KEY=value"; PATH and HOME added when absent */
	char *cwd;                /* absolute, not under /proc */
	char *user;               /* "uid", "name", "uid:gid", "name:group"; NULL for root */
	char **additional_groups; /* NULL-terminated gids or group names; may be NULL */
	struct rlimit_spec *rlimits; /* n_rlimits entries */
	size_t n_rlimits;            /* entries in rlimits */
	bool no_new_privs;           /* PR_SET_NO_NEW_PRIVS before execve */
};

/*
 * The container's cgroup limits (a Pod's resources as the node agent computed them). Zero means
 * "not set": no limit, the kernel's default. See struct cgroup_limits for each field.
 */
struct resources_spec {
	int64_t memory_bytes;   /* memoryBytes: memory limit (swap off); 0 unlimited */
	uint64_t cpu_shares;    /* cpuShares: 2..262144, 0 for the default (1024) */
	int64_t cpu_quota_us;   /* cpuQuotaUs: CFS quota per period, >= 1000; 0 unlimited */
	uint64_t cpu_period_us; /* cpuPeriodUs: 1000..1000000, 0 for 100000 */
	int64_t pids_max;       /* pidsMax: runc's semantics (0 means 1, < 0 unlimited) */
	bool pids_set;          /* whether pidsMax was given */
	char *cpuset_cpus;      /* cpusetCpus: "0-1,3", or NULL to inherit */
	char *cpuset_mems;      /* cpusetMems: "0", or NULL to inherit */
};

/* Where the container's cgroup goes: below the pod's, below the instance's parent. */
struct cgroup_spec {
	char *instance; /* names the parent cgroup korch-INSTANCE; "korch" by default */
	char *parent;   /* --cgroup-parent: an absolute path in the hierarchy, or NULL */
	char *pod;      /* the pod's cgroup (one name) below the parent, or NULL for none */
};

enum seccomp_mode {
	SECCOMP_MODE_RUNTIME_DEFAULT, /* korch's RuntimeDefault (also when unset) */
	SECCOMP_MODE_UNCONFINED,      /* no filter */
	SECCOMP_MODE_LOCALHOST,       /* the profile file in seccomp_localhost */
};

/* securityContext (the container's values over the pod's, as the node agent merged them). */
struct security_context_spec {
	char **cap_add;                 /* capabilities.add, NULL-terminated; may be NULL */
	char **cap_drop;                /* capabilities.drop, NULL-terminated; may be NULL */
	int allow_privilege_escalation; /* -1 unset, 0 false, 1 true */
	enum seccomp_mode seccomp;      /* seccompProfile.type */
	char *seccomp_localhost;        /* seccompProfile.localhostProfile: an absolute path */
};

struct container_spec {
	char *id;                    /* [A-Za-z0-9][A-Za-z0-9_.-]{0,127} */
	char **layers;               /* NULL-terminated lower dirs, bottom first; or NULL */
	char *rootfs_path;           /* a plain rootfs directory (bind-mounted); or NULL */
	struct process_spec process; /* the init process */
	bool read_only_rootfs;       /* readOnlyRootFilesystem */
	char *hostname;              /* sethostname in a new uts namespace; may be NULL */
	struct ns_spec ns[NS_COUNT]; /* one per namespace type */
	struct mount_spec *mounts;   /* n_mounts volumes, mounted in order */
	size_t n_mounts;             /* entries in mounts */
	char *etc_hosts;             /* host file bound on /etc/hosts; may be NULL */
	char *etc_hostname;          /* host file bound on /etc/hostname; may be NULL */
	char *etc_resolv_conf;       /* host file bound on /etc/resolv.conf; may be NULL */
	char **masked_paths;         /* NULL-terminated; runc's defaults when not given */
	char **readonly_paths;       /* NULL-terminated; runc's defaults when not given */
	bool privileged;             /* no masked or read-only paths, /sys writable */
	struct security_context_spec security; /* capabilities, privilege escalation, seccomp */
	struct resources_spec resources;       /* cgroup limits */
	struct cgroup_spec cgroup;             /* where the cgroup goes */
	char *log_path;        /* CRI log file; NULL: RUNDIR/containers/ID/container.log */
	int64_t log_max_bytes; /* rotate past this size; 0: never */
	int log_max_files;     /* files kept, the current one included (>= 1) */
	int stop_signal;       /* sent first by delete; SIGTERM by default */
	json_t *json;          /* the spec as given, kept to persist it */
};

/*
 * Parses and validates a spec. Every problem is KORCH_EINVALID with a message naming the field
 * ("process.cwd: must be an absolute path"); unknown fields are refused. *ret is the caller's.
 */
int container_spec_parse(json_t *json, struct container_spec **ret, korch_error **err);
void container_spec_free(struct container_spec *spec);
DEFINE_CLEANUP_FUNC(container_spec_free, struct container_spec, container_spec_free)

/*
 * Parses a process object ("args", "env", "cwd", "user", "additionalGroups", "rlimits",
 * "noNewPrivileges") at field path `where`. With base (an exec into a container), fields that
 * are absent come from base (env is base's with the given entries added or replaced).
 */
int process_spec_parse(json_t *json, const char *where, const struct process_spec *base,
		       bool default_nnp, struct process_spec *ret, korch_error **err);
void process_spec_clear(struct process_spec *p);

/*
 * Parses a resources object ("memoryBytes", "cpuShares", "cpuQuotaUs", "cpuPeriodUs",
 * "pidsMax", "cpusetCpus", "cpusetMems"; all optional) at field path `where`: the spec's, and
 * the monitor's update operation's. Errors name the field.
 */
int resources_spec_parse(json_t *json, const char *where, struct resources_spec *ret,
			 korch_error **err);
void resources_spec_clear(struct resources_spec *r);

/* Parses "SIGTERM", "TERM" or a number into a signal number; -1 when unknown. */
int signal_from_name(const char *name);

/* The hooks lib/runtime's cgroup, capability and seccomp code provide (all optional). */
struct container_hooks_ops {
	/* parent: place the new process (init or exec) into the container's cgroups */
	int (*enter_cgroup)(void *data, pid_t pid, korch_error **err);
	/* child, first thing after clone (host mounts still in view): join the cgroups itself */
	int (*join_cgroup)(void *data, korch_error **err);
	/* child, before pivot_root: mount /sys/fs/cgroup under the rootfs open at root_fd */
	int (*mount_cgroupfs)(void *data, int root_fd, korch_error **err);
	/* child, before setuid: drop the bounding set, keep capabilities across setuid */
	int (*prepare_caps)(void *data, korch_error **err);
	/* child, after setuid: set effective, permitted, inheritable and ambient sets */
	int (*apply_caps)(void *data, korch_error **err);
	/* child, after fds are marked close-on-exec: load the seccomp filter (last before execve) */
	int (*apply_seccomp)(void *data, korch_error **err);
	/* monitor, after the init exited: whether the kernel OOM-killed it */
	bool (*oom_killed)(void *data);
	/* monitor: usage statistics, {"cpuUsageNs", "memoryUsageBytes",
	 * "memoryWorkingSetBytes", "pidsCurrent", "oomKills"} */
	int (*stats)(void *data, json_t **ret, korch_error **err);
	/* monitor: new limits (the whole desired state) for the running container */
	int (*update)(void *data, const struct resources_spec *res, korch_error **err);
	/* monitor, at delete once no process is left: remove the cgroups */
	int (*destroy)(void *data, korch_error **err);
	/* frees data */
	void (*free)(void *data);
};

struct container_hooks {
	const struct container_hooks_ops *ops; /* NULL members are skipped */
	void *data;                            /* passed to every hook */
	int cgroup_fd; /* cgroup v2 directory for clone3's CLONE_INTO_CGROUP, or -1 */
};

/*
 * What the hooks of every container of one monitor share: the cache of compiled seccomp
 * programs and one cgroup manager per (instance, cgroup parent).
 */
struct hooks_context;
int hooks_context_new(struct hooks_context **ret, korch_error **err);
void hooks_context_free(struct hooks_context *ctx);

/*
 * Builds the hooks of a container (container-hooks.c): computes its capabilities, no_new_privs
 * and seccomp program (the program from ctx's cache), creates its cgroup below its pod's with
 * the spec's limits and the device allow-list, and on cgroup v2 opens the directory for
 * CLONE_INTO_CGROUP. Every error (an unknown capability, a missing Localhost profile, a cgroup
 * that cannot be made) comes back here, before anything is cloned; nothing is left behind.
 * reattach is true when a restarted monitor adopts a running container: its cgroups are found,
 * nothing is created, and what cannot be rebuilt (a profile gone since) is logged and makes its
 * later execs fail rather than the adoption. ctx must outlive the hooks.
 */
int container_hooks_new(struct hooks_context *ctx, const struct container_spec *spec, bool reattach,
			struct container_hooks **ret, korch_error **err);
void container_hooks_free(struct container_hooks *sec);
DEFINE_CLEANUP_FUNC(container_hooks_free, struct container_hooks, container_hooks_free)

/* Where a container's files are on the host (all under RUNDIR/containers/ID). */
struct container_layout {
	const char *dir;        /* RUNDIR/containers/ID */
	const char *rootfs_dir; /* mount point of the rootfs (in the container's mount ns only) */
	const char *upper_dir;  /* overlay upper dir */
	const char *work_dir;   /* overlay work dir */
};

/* A process between clone and execve, as its parent sees it. */
struct container_proc {
	pid_t pid;   /* in the monitor's pid namespace */
	int pidfd;   /* owned */
	int sync_fd; /* owned: SOCK_SEQPACKET to the child until its execve */
};

#define CONTAINER_PROC_INIT \
	{                   \
		0, -1, -1   \
	}

void container_proc_clear(struct container_proc *p);

/*
 * Clones a container's init with stdio (three fds the child dups onto 0, 1, 2; the caller
 * keeps and closes its own) and lets it set itself up. Returns once the child runs; the
 * child then reports through proc->sync_fd: read it with container_sync_read().
 */
int container_spawn(const struct container_spec *spec, const struct container_layout *layout,
		    const struct container_hooks *sec, const int stdio[3],
		    struct container_proc *ret, korch_error **err);

/*
 * Clones a process that joins the namespaces of the running container whose init is
 * init_pidfd and runs proc there with the container's security. Reports like container_spawn,
 * except that there is no separate start: it goes on to execve at once.
 */
int container_exec_spawn(const struct container_spec *spec, int init_pidfd,
			 const struct process_spec *proc, const struct container_hooks *sec,
			 const int stdio[3], struct container_proc *ret, korch_error **err);

enum sync_event {
	SYNC_PENDING, /* nothing to read yet */
	SYNC_CREATED, /* the container is set up and waits for start */
	SYNC_EXECED,  /* the socket closed: execve succeeded (or the child died; reap to know) */
	SYNC_FAILED,  /* the child sent an error (in *ret_err) and exits */
};

/*
 * Reads the child's next report from a non-blocking sync socket. SYNC_FAILED fills *ret_err
 * with the child's error ("exec \"/bin/nosuch\": No such file or directory").
 */
enum sync_event container_sync_read(int sync_fd, korch_error **ret_err);

/* Tells a created container to go on to execve. */
int container_sync_start(int sync_fd, korch_error **err);

#endif
