/*
 * security.h - the security settings of one container, prepared in the parent and applied in
 * the child (internal): capabilities, no_new_privs, the seccomp program, the device policy.
 *
 * The container setup (the monitor) uses it in this order:
 *   parent, before clone():  security_prepare(cache, &spec, &sec) - every error (unknown
 *                            capability, bad or missing Localhost profile) is reported here,
 *                            while it can still go back to the client; the seccomp program
 *                            comes from the cache (compiled once per capability set);
 *                            cgroup_set_devices(container_cgroup, sec->devices) on the
 *                            container's cgroup before the child can run anything.
 *   child, after every mount, pivot_root, chdir and rlimit, and with every fd it needs open
 *   (CAP_SYS_ADMIN and friends are gone afterwards):
 *                            security_apply_in_child(sec, &user, &step), then execve() at
 *                            once. With no_new_privs the filter is installed last, so the only
 *                            syscall it must still allow is execve; without no_new_privs
 *                            (privileged is always unconfined, so: allowPrivilegeEscalation
 *                            true) it is installed first, while CAP_SYS_ADMIN still allows it.
 *   parent, when done:       container_security_free(sec).
 * security_apply_in_child() allocates nothing and takes no lock: it may run in a child of a
 * multi-threaded process.
 */
#ifndef KORCH_RUNTIME_SECURITY_H
#define KORCH_RUNTIME_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <korch/common.h>
#include "base/macro.h"
#include "runtime/caps.h"
#include "runtime/cgroup.h"
#include "runtime/seccomp.h"

enum security_seccomp {
	SECURITY_SECCOMP_RUNTIME_DEFAULT = 0, /* korch's default, also when unset */
	SECURITY_SECCOMP_UNCONFINED = 1,
	SECURITY_SECCOMP_LOCALHOST = 2, /* a profile file (localhost_path) */
};

/* What the pod and container securityContext say (container values already over pod ones). */
struct security_spec {
	bool privileged;            /* securityContext.privileged */
	const char *const *cap_add; /* capabilities.add ("NET_ADMIN", "ALL", ...) */
	size_t n_cap_add;
	const char *const *cap_drop; /* capabilities.drop */
	size_t n_cap_drop;
	int allow_privilege_escalation;     /* -1 unset, 0 false, 1 true */
	enum security_seccomp seccomp;      /* seccompProfile.type */
	const char *seccomp_localhost_path; /* the profile file, resolved by the caller */
};

struct container_security {
	struct caps_set caps;            /* the five capability sets */
	bool no_new_privs;               /* on unless privileged or allowPrivilegeEscalation */
	struct seccomp_program *seccomp; /* NULL for unconfined; one reference */
	enum cgroup_devices devices;     /* DEFAULT, or ALL when privileged */
	bool privileged;                 /* as asked */
};

/* The user the container runs as. */
struct security_user {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups (may be NULL when n_groups is 0) */
	size_t n_groups;
};

/*
 * Computes the settings. privileged: every capability, no_new_privs off, unconfined (whatever
 * seccompProfile says, as Kubernetes has it), every device. Errors name the field. *ret is the
 * caller's (container_security_free()).
 */
int security_prepare(struct seccomp_cache *cache, const struct security_spec *spec,
		     struct container_security **ret, korch_error **err);
void container_security_free(struct container_security *s);
DEFINE_CLEANUP_FUNC(container_security_free, struct container_security, container_security_free)

/*
 * In the child, last before execve(): drops the bounding set, switches to user (NULL: stays
 * root) keeping the permitted capabilities across setuid with PR_SET_KEEPCAPS, sets effective,
 * permitted and inheritable with capset(), clears the ambient set, sets no_new_privs, installs
 * the seccomp filter with TSYNC. Returns 0 or -errno and, through ret_step, the name of the
 * step that failed ("capset", "seccomp", ...; a static string).
 */
int security_apply_in_child(const struct container_security *s, const struct security_user *user,
			    const char **ret_step);

/*
 * The same steps in three parts, for a child that switches user, changes directory and resets
 * its signals itself between them (the container's init and exec'd processes, through the
 * container hooks of container.h):
 *   security_child_begin()  installs the filter at once when the process neither has nor will
 *                           get no_new_privs (only CAP_SYS_ADMIN allows that, and it goes
 *                           below), drops the bounding set, turns keepcaps on;
 *   ... setgroups, setresgid, setresuid ...
 *   security_child_caps()   turns keepcaps off, sets effective, permitted and inheritable,
 *                           clears and fills the ambient set;
 *   ... chdir, signals, close-on-exec ...
 *   security_child_end()    sets no_new_privs when asked and installs the filter unless
 *                           begin did (*installed says so; begin sets it).
 * Each returns 0 or -errno with the failed step's name in *ret_step; none allocates.
 */
int security_child_begin(const struct container_security *s, bool *installed,
			 const char **ret_step);
int security_child_caps(const struct container_security *s, const char **ret_step);
int security_child_end(const struct container_security *s, bool installed, const char **ret_step);

#endif
