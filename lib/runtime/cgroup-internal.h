/*
 * cgroup-internal.h - what cgroup.c shares with its two backends: the manager and cgroup
 * structs, the table of backend functions, and small file helpers over cgroupfs.
 */
#ifndef KORCH_RUNTIME_CGROUP_INTERNAL_H
#define KORCH_RUNTIME_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "runtime/cgroup.h"

/* The v1 controllers korch uses, in a fixed order (index = enum value). */
enum cgroup_v1_controller {
	CG_CPU,
	CG_CPUACCT,
	CG_CPUSET,
	CG_MEMORY,
	CG_PIDS,
	CG_DEVICES,
	CG_FREEZER,
	CG_N_CONTROLLERS,
};

extern const char *const cgroup_v1_controller_names[CG_N_CONTROLLERS + 1];

struct cgroup_backend {
	const char *name; /* "v1" or "v2" */
	/* The cgroup's directories exist; write the limits that are set. */
	int (*apply_limits)(struct cgroup *cg, const struct cgroup_limits *l, bool update,
			    korch_error **err);
	int (*attach)(struct cgroup *cg, pid_t pid, korch_error **err);
	int (*read_stats)(struct cgroup *cg, struct cgroup_stats *ret, korch_error **err);
	int (*oom_kills)(struct cgroup *cg, uint64_t *ret, korch_error **err);
	int (*oom_watch)(struct cgroup *cg, int *ret_fd, korch_error **err);
	int (*kill)(struct cgroup *cg, korch_error **err);
	int (*set_devices)(struct cgroup *cg, enum cgroup_devices policy, korch_error **err);
};

extern const struct cgroup_backend cgroup_backend_v1;
extern const struct cgroup_backend cgroup_backend_v2;

struct cgroup_manager {
	enum cgroup_mode mode;            /* detected or forced */
	const struct cgroup_backend *ops; /* the mode's backend */
	char *instance;                   /* "test-x" */
	char *root;                       /* "/sys/fs/cgroup" or a test tree */
	/* v1: mount point and parent directory per controller (NULL when not mounted). */
	char *v1_mount[CG_N_CONTROLLERS];  /* "/sys/fs/cgroup/memory" */
	char *v1_parent[CG_N_CONTROLLERS]; /* mount + our cgroup + "/korch-INSTANCE" */
	/* v2: the one hierarchy. */
	char *v2_parent;    /* root + path of the parent */
	char *v2_leaf;      /* the leaf this process moved into, or NULL */
	bool v2_has_cpuset; /* cpuset listed in the root's cgroup.controllers */
	char *parent_path;  /* the parent's path inside the hierarchy */
};

struct cgroup {
	struct cgroup_manager *m;     /* borrowed: the manager outlives its cgroups */
	char *path;                   /* path inside the hierarchy, below the parent */
	char *dirs[CG_N_CONTROLLERS]; /* v1: directory per controller in use */
	char *dir;                    /* v2: the directory */
};

/* Writes text to DIR/FILE (opened O_WRONLY|O_CLOEXEC, no O_CREAT), with errors naming both. */
int cg_write(const char *dir, const char *file, const char *text, korch_error **err);
int cg_writef(const char *dir, const char *file, korch_error **err, const char *fmt, ...)
	_printf_(4, 5);
/* Reads DIR/FILE whole (64 KiB at most). */
int cg_read(const char *dir, const char *file, char **ret, korch_error **err);
/* Reads one unsigned decimal number ("max" reads as UINT64_MAX). */
int cg_read_u64(const char *dir, const char *file, uint64_t *ret, korch_error **err);
/* Finds "KEY VALUE" lines (memory.stat, memory.events, cpu.stat, oom_control). */
int cg_keyed_u64(const char *text, const char *key, uint64_t *ret);
bool cg_file_exists(const char *dir, const char *file);
/* Counts the pids listed in DIR/cgroup.procs; fills up to max of them into pids when not NULL. */
int cg_read_procs(const char *dir, pid_t *pids, size_t max, size_t *ret_n, korch_error **err);
/*
 * Counts the processes in dir and every cgroup below it, storing up to max of them in pids after
 * the n already there; returns the new total (unreadable directories count as empty).
 */
size_t cg_collect_procs(const char *dir, pid_t *pids, size_t max, size_t n);
/* rmdir with retries on EBUSY (about 5 s in all); ENOENT is success. */
int cg_rmdir_retry(const char *dir, korch_error **err);
/* Removes every directory below dir, deepest first (rmdir only; cgroupfs files go with it). */
int cg_rmdir_children(const char *dir, korch_error **err);
/* Sleeps ms milliseconds. */
void cg_sleep_ms(unsigned ms);

/* --- devices (cgroup-devices.c) --- */

struct cgroup_device_rule {
	char type;          /* 'c', 'b' or 'a' */
	int64_t major;      /* -1 for any */
	int64_t minor;      /* -1 for any */
	const char *access; /* "rwm" subset */
};

/* runc's default allow-list. */
extern const struct cgroup_device_rule cgroup_default_device_rules[];
extern const size_t cgroup_n_default_device_rules;

/* "c 1:3 rwm" */
void cgroup_device_rule_text(const struct cgroup_device_rule *r, char buf[static 48]);

/*
 * Builds the BPF_PROG_TYPE_CGROUP_DEVICE program allowing exactly rules (deny everything else)
 * into insns (room for max instructions); returns the count or KORCH_ETOOLARGE / KORCH_EINVALID.
 */
struct bpf_insn;
int cgroup_device_program(const struct cgroup_device_rule *rules, size_t n, struct bpf_insn *insns,
			  size_t max, korch_error **err);
/*
 * Loads the program of rules and attaches it to the cgroup2 directory dir with
 * BPF_F_ALLOW_MULTI; the attachment keeps the program alive after its fd is closed.
 */
int cgroup_device_attach_bpf(const char *dir, const struct cgroup_device_rule *rules, size_t n,
			     korch_error **err);

#endif
