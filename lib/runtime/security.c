/*
 * security.c - preparing a container's security settings in the parent and applying them in
 * the child: bounding set, keepcaps around the user switch, capset, ambient, no_new_privs,
 * seccomp, in runc's order.
 */
#include <errno.h>
#include <grp.h>
#include <sys/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "runtime/security.h"

int
security_prepare(struct seccomp_cache *cache, const struct security_spec *spec,
		 struct container_security **ret, korch_error **err)
{
	_cleanup_(container_security_freep) struct container_security *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	s->privileged = spec->privileged;
	int r = caps_compute(spec->privileged, spec->cap_add, spec->n_cap_add, spec->cap_drop,
			     spec->n_cap_drop, &s->caps, err);
	if (r < 0)
		return korch_error_prefix(err, r, "securityContext");
	s->no_new_privs = !spec->privileged && spec->allow_privilege_escalation != 1;
	s->devices = spec->privileged ? CGROUP_DEVICES_ALL : CGROUP_DEVICES_DEFAULT;
	if (!spec->privileged) {
		switch (spec->seccomp) {
		case SECURITY_SECCOMP_RUNTIME_DEFAULT:
			r = seccomp_cache_default(cache, s->caps.bounding, &s->seccomp, err);
			break;
		case SECURITY_SECCOMP_UNCONFINED: break;
		case SECURITY_SECCOMP_LOCALHOST:
			if (!spec->seccomp_localhost_path || spec->seccomp_localhost_path[0] != '/')
				return error_set(
					err, KORCH_EINVALID,
					"securityContext.seccompProfile.localhostProfile: an "
					"absolute profile path is required");
			r = seccomp_cache_localhost(cache, spec->seccomp_localhost_path,
						    s->caps.bounding, &s->seccomp, err);
			break;
		default:
			return error_set(err, KORCH_EINVALID,
					 "securityContext.seccompProfile.type: unknown type %d",
					 (int)spec->seccomp);
		}
		if (r < 0)
			return korch_error_prefix(err, r, "securityContext.seccompProfile");
	}
	*ret = steal_pointer(&s);
	return 0;
}

void
container_security_free(struct container_security *s)
{
	if (!s)
		return;
	seccomp_program_unref(s->seccomp);
	free(s);
}

#define STEP(name, expr)                  \
	do {                              \
		if ((expr) < 0) {         \
			*ret_step = name; \
			return -errno;    \
		}                         \
	} while (0)

int
security_child_begin(const struct container_security *s, bool *installed, const char **ret_step)
{
	*installed = false;
	/* Without no_new_privs only CAP_SYS_ADMIN lets us install a filter: do it while we have
	 * it. The calls up to execve are in every profile's allow-list korch ships. */
	if (s->seccomp && !s->no_new_privs && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		int r = seccomp_install(s->seccomp);
		if (r < 0) {
			*ret_step = "seccomp";
			return r;
		}
		*installed = true;
	}
	int last = (int)cap_max_bits() - 1;
	for (int cap = 0; cap <= last; cap++)
		if (!(s->caps.bounding & (UINT64_C(1) << cap)))
			STEP("drop bounding set", prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
	STEP("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	return 0;
}

int
security_child_caps(const struct container_security *s, const char **ret_step)
{
	STEP("keepcaps", prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
	/* capset directly: the data is on the stack, nothing is allocated. */
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ .effective = (uint32_t)s->caps.effective,
		  .permitted = (uint32_t)s->caps.permitted,
		  .inheritable = (uint32_t)s->caps.inheritable },
		{ .effective = (uint32_t)(s->caps.effective >> 32),
		  .permitted = (uint32_t)(s->caps.permitted >> 32),
		  .inheritable = (uint32_t)(s->caps.inheritable >> 32) },
	};
	STEP("capset", syscall(__NR_capset, &hdr, data));
	STEP("clear ambient set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	int last = (int)cap_max_bits() - 1;
	for (int cap = 0; cap <= last; cap++)
		if (s->caps.ambient & (UINT64_C(1) << cap))
			STEP("raise ambient",
			     prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
	return 0;
}

int
security_child_end(const struct container_security *s, bool installed, const char **ret_step)
{
	if (s->no_new_privs)
		STEP("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	if (s->seccomp && !installed) {
		int r = seccomp_install(s->seccomp);
		if (r < 0) {
			*ret_step = "seccomp";
			return r;
		}
	}
	return 0;
}

int
security_apply_in_child(const struct container_security *s, const struct security_user *user,
			const char **ret_step)
{
	const char *dummy;
	if (!ret_step)
		ret_step = &dummy;
	bool installed = false;
	int r = security_child_begin(s, &installed, ret_step);
	if (r < 0)
		return r;
	if (user) {
		STEP("setgroups", setgroups(user->n_groups, user->groups));
		STEP("setresgid", setresgid(user->gid, user->gid, user->gid));
		STEP("setresuid", setresuid(user->uid, user->uid, user->uid));
	}
	if ((r = security_child_caps(s, ret_step)) < 0)
		return r;
	return security_child_end(s, installed, ret_step);
}
