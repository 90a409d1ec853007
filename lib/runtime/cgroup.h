/*
 * cgroup.h - the cgroups of pods and containers, on cgroup v1 or v2 (internal).
 *
 * One cgroup_manager per korch instance: it detects the mode (unified only when /sys/fs/cgroup
 * itself is a cgroup2 filesystem; otherwise every v1 controller korch uses is found in
 * /proc/self/mountinfo and a stray cgroup2 mount beside them is ignored) and owns the parent
 * cgroup `korch-INSTANCE`, created below the cgroup this process runs in (per controller on v1,
 * from /proc/self/cgroup), or at the path given with --cgroup-parent. On v2, opening the manager
 * first moves this process into a leaf of its own (`korch-INSTANCE.self` beside the parent,
 * because inner cgroups may hold no processes) and enables the controllers korch needs in every
 * cgroup.subtree_control from the cgroup root down to the parent.
 *
 * Below the parent: one cgroup per pod, and one per container below its pod's. A struct cgroup
 * names one such directory (one per controller on v1); the same operations work on both modes
 * through a table of backend functions (cgroup-internal.h).
 *
 * How the container setup uses it, in order:
 *   1. parent: cgroup_create(pod) once per pod, cgroup_create(container, &limits) and
 *      cgroup_set_devices(container, default or privileged) before the container starts;
 *   2. parent: either clone3() with CLONE_INTO_CGROUP and the fd of cgroup_open_dir_fd() (v2
 *      only), or cgroup_attach(container, pid) right after clone() and before the child may
 *      exec (let it wait on a pipe until attached);
 *   3. while it runs: cgroup_update(), cgroup_read_stats(), cgroup_oom_watch() + the loop, and
 *      cgroup_oom_kills() when the fd becomes readable or once the container has exited;
 *   4. on delete: cgroup_kill() then cgroup_destroy() (which kills whatever is left itself, and
 *      retries rmdir until the kernel has released every task), pods after their containers.
 * Nothing here forks, and nothing blocks for long except cgroup_kill()/cgroup_destroy() (bounded
 * waits of at most a few seconds while the kernel lets tasks go).
 */
#ifndef KORCH_RUNTIME_CGROUP_H
#define KORCH_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <korch/common.h>
#include "base/macro.h"

enum cgroup_mode {
	CGROUP_MODE_V1 = 1, /* legacy or hybrid hierarchy: one mount per v1 controller */
	CGROUP_MODE_V2 = 2, /* unified: /sys/fs/cgroup is cgroup2 */
};

struct cgroup_manager;
struct cgroup;

struct cgroup_manager_options {
	const char *instance;    /* names the parent `korch-INSTANCE`; required, [A-Za-z0-9_.-]+ */
	const char *parent_path; /* --cgroup-parent: absolute path inside the hierarchy
				      ("/korch.slice/x"), used as is on every controller; NULL for
				      korch-INSTANCE below this process's own cgroup */
	/* For tests of the v2 backend on a plain directory tree; NULL in production. */
	const char *root;        /* cgroup filesystem root (default /sys/fs/cgroup) */
	const char *proc_cgroup; /* this process's /proc/self/cgroup (default that file) */
	const char *mountinfo;   /* /proc/self/mountinfo (default that file) */
	int force_mode; /* 0: detect; CGROUP_MODE_V2 with root set: treat root as cgroup2 */
};

/*
 * Limits of one cgroup. Zero values mean "no limit / kernel default" so that a zeroed struct is a
 * valid "nothing set". cgroup_create() writes the fields set here; cgroup_update() writes every
 * field (a zero there resets that limit to unlimited/default), so the caller passes the whole
 * desired state, as the kubelet does.
 */
struct cgroup_limits {
	int64_t memory_bytes;    /* memory limit in bytes; 0 unlimited. Swap is always off where the
				  files exist (v1 memory.memsw.limit_in_bytes = the limit, v2
				  memory.swap.max = 0), as the kubelet sets it */
	uint64_t cpu_shares;     /* v1 cpu.shares (v2 cpu.weight from it); 0 kernel default (1024).
				  From a milliCPU request use cgroup_cpu_shares_from_milli() */
	int64_t cpu_quota_us;    /* CFS quota per period; 0 or negative: unlimited */
	uint64_t cpu_period_us;  /* CFS period; 0 means 100000 (100 ms, the kubelet's) */
	int64_t pids_max;        /* runc's semantics: > 0 that limit, 0 means 1, < 0 unlimited;
				  pids_set says whether the field is set at all */
	bool pids_set;           /* whether pids_max applies (false: pids.max left at "max") */
	const char *cpuset_cpus; /* "0-1,3" or NULL: inherit the parent's */
	const char *cpuset_mems; /* "0" or NULL: inherit the parent's */
};

/* Usage statistics of one cgroup (what the kubelet's summary API reports). */
struct cgroup_stats {
	uint64_t cpu_usage_ns;       /* total CPU time of every task, ever */
	uint64_t memory_usage_bytes; /* v1 memory.usage_in_bytes, v2 memory.current */
	uint64_t
		memory_working_set_bytes; /* usage - inactive_file (0 when negative), the kubelet's */
	uint64_t pids_current;            /* tasks (threads included) in the cgroup now */
	uint64_t oom_kills; /* v1 memory.oom_control oom_kill, v2 memory.events oom_kill */
};

/* Which device access a container gets (v1 devices controller, v2 BPF program). */
enum cgroup_devices {
	CGROUP_DEVICES_DEFAULT = 1, /* runc's allow-list: null, zero, full, random, urandom, tty,
				       ptmx, pts/N, net/tun; mknod of any c or b node */
	CGROUP_DEVICES_ALL = 2,     /* privileged: every device */
};

/*
 * Detects the mode, finds the controllers and creates (or adopts) the parent cgroup; on v2 moves
 * this process into its leaf first. A v1 controller korch needs (cpu, cpuacct, memory, pids,
 * devices, freezer) that is not mounted is KORCH_EUNSUPPORTED naming it; cpuset is optional
 * (limits that need it then fail). On v2 a controller missing from the root's
 * cgroup.controllers is likewise refused (cpuset optional). If another process shares this
 * process's cgroup, enabling controllers there fails (EBUSY) with a message saying so.
 */
int cgroup_manager_open(const struct cgroup_manager_options *opts, struct cgroup_manager **ret,
			korch_error **err);
/* Frees the manager; the parent cgroup stays (other korch processes of the instance use it). */
void cgroup_manager_free(struct cgroup_manager *m);
enum cgroup_mode cgroup_manager_mode(const struct cgroup_manager *m);

/*
 * The directory of the parent cgroup for a controller ("memory", "cpu", ...; on v2 the name is
 * ignored), or NULL when that controller is not in use. Borrowed from m.
 */
const char *cgroup_manager_parent_dir(const struct cgroup_manager *m, const char *controller);

/*
 * The mount point of a v1 controller's hierarchy ("/sys/fs/cgroup/cpu,cpuacct" where cpu and
 * cpuacct share one), or NULL when korch does not use it; on v2 the cgroup root. Borrowed from m.
 */
const char *cgroup_manager_mount_dir(const struct cgroup_manager *m, const char *controller);

/* The v1 controllers korch uses, NULL-terminated ("cpu", "cpuacct", ...). */
extern const char *const cgroup_v1_controller_names[];

/*
 * Removes the parent cgroup of the instance (and its v2 leaf when empty): for tests and for
 * `korchd --cleanup`. Every pod and container cgroup below it must have been destroyed first;
 * otherwise KORCH_EBUSY.
 */
int cgroup_manager_remove_parent(struct cgroup_manager *m, korch_error **err);

/*
 * Creates the cgroup `name` below parent (NULL: below the instance's parent cgroup) and writes
 * limits (may be NULL). An existing empty directory of that name is adopted (it was left by a
 * crash). name is one path component of [A-Za-z0-9_.:-] characters. On failure nothing is left
 * behind. *ret is the caller's (cgroup_free()).
 */
int cgroup_create(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
		  const struct cgroup_limits *limits, struct cgroup **ret, korch_error **err);

/*
 * cgroup_create() for a cgroup that will hold processes (a container's): on v2 no controller is
 * delegated below it, also when it sits directly below the parent (cgroup_create() delegates
 * them in a cgroup there, taking it for a pod's).
 */
int cgroup_create_leaf(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
		       const struct cgroup_limits *limits, struct cgroup **ret, korch_error **err);

/*
 * Removes the cgroup if nothing is left in it (no process, no cgroup below it): a pod's, after
 * its last container. *ret_removed says whether it went (false: still in use, nothing changed).
 */
int cgroup_remove_if_unused(struct cgroup *cg, bool *ret_removed, korch_error **err);

/* Opens an existing cgroup (after a restart, to adopt running containers); KORCH_ENOTFOUND. */
int cgroup_open(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
		struct cgroup **ret, korch_error **err);

/* Frees the handle only; the cgroup itself stays. Takes NULL. */
void cgroup_free(struct cgroup *cg);
DEFINE_CLEANUP_FUNC(cgroup_free, struct cgroup, cgroup_free)

/* The cgroup's path inside the hierarchy ("/x/korch-test/pod1/c1"); borrowed. */
const char *cgroup_path(const struct cgroup *cg);
/* The cgroup's directory for a controller (v1) or its only directory (v2); borrowed, or NULL. */
const char *cgroup_dir(const struct cgroup *cg, const char *controller);

/* Moves process pid (all its threads) into the cgroup, in every controller. */
int cgroup_attach(struct cgroup *cg, pid_t pid, korch_error **err);

/*
 * Moves the calling thread into the cgroup, in every controller: a single-threaded process
 * (a container's init or exec'd process right after clone) moves whole. Why not
 * cgroup_attach() from the parent: moving another process takes the kernel's global
 * threadgroup lock for writing, whose RCU grace period costs milliseconds per container
 * (measured here: 7-8 ms under load); moving the current thread alone skips that lock
 * (kernel/cgroup/cgroup.c, cgroup_procs_write_start), making all controllers 0.3 ms. v1 writes
 * 0 to each controller's tasks file, v2 to cgroup.procs.
 */
int cgroup_enter_self(const struct cgroup *cg, korch_error **err);

/*
 * v2 only: an O_PATH|O_DIRECTORY|O_CLOEXEC fd of the cgroup's directory for clone3()'s
 * CLONE_INTO_CGROUP (the child then starts inside it, with no attach race). The caller closes it.
 * v1: KORCH_EUNSUPPORTED (use cgroup_attach()).
 */
int cgroup_open_dir_fd(const struct cgroup *cg, int *ret_fd, korch_error **err);

/*
 * Writes every field of limits (the whole desired state) to the running cgroup. Lowering the
 * memory limit below what the cgroup uses: v1 reclaims what it can and otherwise refuses the
 * write (KORCH_ESYSTEM with EBUSY, the old limit stays); v2 accepts it and the kernel reclaims or
 * OOM-kills inside the cgroup. Neither hangs.
 */
int cgroup_update(struct cgroup *cg, const struct cgroup_limits *limits, korch_error **err);

/* Reads CPU time, memory usage and working set, pids and the OOM-kill count. */
int cgroup_read_stats(struct cgroup *cg, struct cgroup_stats *ret, korch_error **err);

/* The kernel's count of OOM kills in the cgroup (memory.oom_control / memory.events oom_kill). */
int cgroup_oom_kills(struct cgroup *cg, uint64_t *ret, korch_error **err);

/*
 * An fd that becomes readable (EPOLLIN) when something happens to the cgroup's memory state: v1
 * an eventfd registered with cgroup.event_control on memory.oom_control (it fires on each OOM,
 * and once more when the cgroup is removed); v2 an inotify fd watching memory.events for
 * modification (also fires on other memory events: high, max). Either way the reader calls
 * cgroup_oom_drain(fd) and then cgroup_oom_kills() to learn whether a kill happened. The caller
 * closes the fd (before or after destroying the cgroup).
 */
int cgroup_oom_watch(struct cgroup *cg, int *ret_fd, korch_error **err);
/* Consumes pending notifications on a cgroup_oom_watch() fd without blocking. */
void cgroup_oom_drain(int fd);

/*
 * Kills every process in the cgroup with SIGKILL and waits until cgroup.procs is empty (at most
 * about 5 s; KORCH_ETIMEOUT after that). v2: cgroup.kill when the kernel has it (5.14+);
 * otherwise (and on v1) freeze, SIGKILL each listed process, thaw, until empty, so that a
 * forking process cannot escape. Processes that died but are not reaped by their parent yet are
 * gone from cgroup.procs on v1; on v2 they keep the cgroup busy until reaped.
 */
int cgroup_kill(struct cgroup *cg, korch_error **err);

/*
 * Removes the cgroup: kills whatever still runs in it, removes any cgroups left below it, then
 * rmdir in every controller, retrying while the kernel still holds exiting tasks (up to about
 * 5 s, then KORCH_EBUSY and the handle stays valid for another try). A cgroup already gone is
 * success. cg is still to be freed with cgroup_free().
 */
int cgroup_destroy(struct cgroup *cg, korch_error **err);

/*
 * Applies the device policy of a container: v1 writes "a" to devices.deny then each allowed rule
 * to devices.allow (ALL: "a" to devices.allow); v2 loads a BPF_PROG_TYPE_CGROUP_DEVICE program
 * made from the same rules and attaches it to the cgroup (ALL: nothing attached). Called once,
 * before any process of the container runs.
 */
int cgroup_set_devices(struct cgroup *cg, enum cgroup_devices policy, korch_error **err);

/* --- conversions (pure functions, unit-tested) --- */

/* The kubelet's MilliCPUToShares: milliCPU * 1024 / 1000, at least 2 (0 request gives 2). */
uint64_t cgroup_cpu_shares_from_milli(int64_t milli_cpu);
/* The kubelet's MilliCPUToQuota with period 100000: milliCPU * 100; 0 means no quota, min 1000. */
int64_t cgroup_cpu_quota_from_milli(int64_t milli_cpu, uint64_t period_us);
/* runc's cpu.shares -> cpu.weight: 0 unset, [2, 262144] mapped onto [1, 10000], 1024 -> 100. */
uint64_t cgroup_cpu_weight_from_shares(uint64_t shares);
/* runc's pids.limit semantics as the text of pids.max: > 0 itself, 0 "1", < 0 "max". */
void cgroup_pids_max_text(int64_t pids_max, char buf[static 24]);

#endif
