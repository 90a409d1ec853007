/*
 * container-hooks.c - where a container's cgroup, capabilities and seccomp filter come from:
 * the hook table of container.h filled from cgroup.h and security.h, in the order both headers
 * prescribe. The parent prepares everything (security_prepare, the cgroup with its limits and
 * device rules) before the clone, so that every error reaches the client at create; the child
 * only applies what was prepared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/util.h"
#include "base/vec.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/rootfs.h"
#include "runtime/security.h"

#define MAX_HIERARCHIES 8 /* v1 controllers korch uses, one mount each at most */

/* One cgroup manager per (instance, --cgroup-parent) the monitor's containers asked for. */
struct manager_entry {
	char *instance;           /* korch-INSTANCE */
	char *parent;             /* --cgroup-parent, or NULL */
	struct cgroup_manager *m; /* owned */
};

struct hooks_context {
	struct seccomp_cache *seccomp; /* compiled programs, shared by every container */
	struct ptrvec managers;        /* struct manager_entry */
};

/* What the hooks of one container hold. */
struct hooks_data {
	struct cgroup *pod;             /* the pod's cgroup, or NULL */
	struct cgroup *cg;              /* the container's, or NULL (adopted without one) */
	struct container_security *sec; /* NULL when it could not be rebuilt at re-attach */
	char *sec_error;                /* then why, for the execs that fail because of it */
	bool v2;                        /* cgroup v2: placed by clone3, not attached */
	bool read_only_cgroupfs;        /* /sys/fs/cgroup read-only: not privileged */
	bool installed;                 /* child: the filter went in before the user switch */
	struct rootfs_cgroup_mount mounts[MAX_HIERARCHIES]; /* what /sys/fs/cgroup shows */
	size_t n_mounts;                                    /* entries in mounts */
};

static void
manager_entry_free(void *p)
{
	struct manager_entry *e = p;
	cgroup_manager_free(e->m);
	free(e->instance);
	free(e->parent);
	free(e);
}

int
hooks_context_new(struct hooks_context **ret, korch_error **err)
{
	struct hooks_context *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return error_oom(err);
	int r = seccomp_cache_new(&ctx->seccomp, err);
	if (r < 0) {
		free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

void
hooks_context_free(struct hooks_context *ctx)
{
	if (!ctx)
		return;
	ptrvec_free(&ctx->managers, manager_entry_free);
	seccomp_cache_free(ctx->seccomp);
	free(ctx);
}

/* The manager of the spec's instance and parent, opened (creating korch-INSTANCE) on first use. */
static int
context_manager(struct hooks_context *ctx, const struct cgroup_spec *cs,
		struct cgroup_manager **ret, korch_error **err)
{
	for (size_t i = 0; i < ctx->managers.n; i++) {
		struct manager_entry *e = ctx->managers.items[i];
		if (streq(e->instance, cs->instance) &&
		    (e->parent ? cs->parent && streq(e->parent, cs->parent) : !cs->parent)) {
			*ret = e->m;
			return 0;
		}
	}
	struct cgroup_manager_options opts = { .instance = cs->instance,
					       .parent_path = cs->parent };
	struct manager_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return error_oom(err);
	int r = cgroup_manager_open(&opts, &e->m, err);
	if (r == 0 && (!(e->instance = strdup(cs->instance)) ||
		       (cs->parent && !(e->parent = strdup(cs->parent))) ||
		       ptrvec_push(&ctx->managers, e) < 0))
		r = error_oom(err);
	if (r < 0) {
		manager_entry_free(e);
		return r;
	}
	*ret = e->m;
	return 0;
}

static void
limits_from(const struct resources_spec *res, struct cgroup_limits *l)
{
	*l = (struct cgroup_limits){
		.memory_bytes = res->memory_bytes,
		.cpu_shares = res->cpu_shares,
		.cpu_quota_us = res->cpu_quota_us,
		.cpu_period_us = res->cpu_period_us,
		.pids_max = res->pids_max,
		.pids_set = res->pids_set,
		.cpuset_cpus = res->cpuset_cpus,
		.cpuset_mems = res->cpuset_mems,
	};
}

/*
 * What /sys/fs/cgroup shows the container: on v2 its one directory; on v1 one directory per
 * hierarchy korch uses, named as on the host ("cpu,cpuacct" with links "cpu" and "cpuacct"
 * where they share one).
 */
static void
plan_mounts(struct cgroup_manager *m, struct hooks_data *d)
{
	if (cgroup_manager_mode(m) == CGROUP_MODE_V2) {
		d->mounts[0] = (struct rootfs_cgroup_mount){ NULL, cgroup_dir(d->cg, NULL), { 0 } };
		d->n_mounts = 1;
		return;
	}
	for (const char *const *c = cgroup_v1_controller_names; *c; c++) {
		const char *mount = cgroup_manager_mount_dir(m, *c);
		const char *dir = cgroup_dir(d->cg, *c);
		if (!mount || !dir)
			continue;
		const char *base = strrchr(mount, '/') ? strrchr(mount, '/') + 1 : mount;
		size_t i;
		for (i = 0; i < d->n_mounts; i++)
			if (streq(d->mounts[i].name, base))
				break;
		if (i == d->n_mounts) {
			if (d->n_mounts == MAX_HIERARCHIES)
				continue;
			d->mounts[d->n_mounts++] = (struct rootfs_cgroup_mount){ base, dir, { 0 } };
		}
		if (!streq(base, *c)) {
			size_t l = 0;
			while (l < ARRAY_SIZE(d->mounts[i].links) - 1 && d->mounts[i].links[l])
				l++;
			if (!d->mounts[i].links[l])
				d->mounts[i].links[l] = *c;
		}
	}
}

static void
hooks_data_free(void *p)
{
	struct hooks_data *d = p;
	if (!d)
		return;
	cgroup_free(d->cg);
	cgroup_free(d->pod);
	container_security_free(d->sec);
	free(d->sec_error);
	free(d);
}

/* ---- the hooks ---- */

/* In the child: v2 placed it with CLONE_INTO_CGROUP (cgroup_fd); on v1 it moves itself. */
static int
hook_join_cgroup(void *data, korch_error **err)
{
	struct hooks_data *d = data;
	if (!d->cg || d->v2)
		return 0;
	return cgroup_enter_self(d->cg, err);
}

static int
hook_mount_cgroupfs(void *data, int root_fd, korch_error **err)
{
	struct hooks_data *d = data;
	if (!d->cg)
		return 0;
	return rootfs_mount_cgroupfs(root_fd, d->mounts, d->n_mounts, d->read_only_cgroupfs, err);
}

static int
no_security(const struct hooks_data *d, korch_error **err)
{
	return error_set(err, KORCH_ESYSTEM,
			 "the container's security settings could not be rebuilt after a "
			 "korch-monitor restart: %s",
			 d->sec_error ? d->sec_error : "unknown error");
}

static int
hook_prepare_caps(void *data, korch_error **err)
{
	struct hooks_data *d = data;
	if (!d->sec)
		return no_security(d, err);
	const char *step = "";
	int r = security_child_begin(d->sec, &d->installed, &step);
	return r < 0 ? error_errno(err, -r, "%s", step) : 0;
}

static int
hook_apply_caps(void *data, korch_error **err)
{
	struct hooks_data *d = data;
	const char *step = "";
	int r = security_child_caps(d->sec, &step);
	return r < 0 ? error_errno(err, -r, "%s", step) : 0;
}

static int
hook_apply_seccomp(void *data, korch_error **err)
{
	struct hooks_data *d = data;
	const char *step = "";
	int r = security_child_end(d->sec, d->installed, &step);
	return r < 0 ? error_errno(err, -r, "%s", step) : 0;
}

/*
 * The kernel counts an OOM kill in the cgroup before it sends the SIGKILL (mm/oom_kill.c), so
 * the count is final by the time the monitor reaps the init.
 */
static bool
hook_oom_killed(void *data)
{
	struct hooks_data *d = data;
	uint64_t kills = 0;
	_cleanup_error_ korch_error *err = NULL;
	if (!d->cg)
		return false;
	if (cgroup_oom_kills(d->cg, &kills, &err) < 0) {
		log_warn("monitor", "%s", korch_error_message(err));
		return false;
	}
	return kills > 0;
}

static int
hook_stats(void *data, json_t **ret, korch_error **err)
{
	struct hooks_data *d = data;
	if (!d->cg)
		return error_set(err, KORCH_ENOTFOUND, "the container has no cgroup");
	struct cgroup_stats s;
	int r = cgroup_read_stats(d->cg, &s, err);
	if (r < 0)
		return r;
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I}", "cpuUsageNs", (json_int_t)s.cpu_usage_ns,
			      "memoryUsageBytes", (json_int_t)s.memory_usage_bytes,
			      "memoryWorkingSetBytes", (json_int_t)s.memory_working_set_bytes,
			      "pidsCurrent", (json_int_t)s.pids_current, "oomKills",
			      (json_int_t)s.oom_kills);
	if (!o)
		return error_oom(err);
	*ret = o;
	return 0;
}

static int
hook_update(void *data, const struct resources_spec *res, korch_error **err)
{
	struct hooks_data *d = data;
	if (!d->cg)
		return error_set(err, KORCH_ENOTFOUND, "the container has no cgroup");
	struct cgroup_limits l;
	limits_from(res, &l);
	return cgroup_update(d->cg, &l, err);
}

/* The container's cgroup, then its pod's once no other container is left in it. */
static int
hook_destroy(void *data, korch_error **err)
{
	struct hooks_data *d = data;
	int r;
	if (d->cg && (r = cgroup_destroy(d->cg, err)) < 0)
		return r;
	bool removed;
	if (d->pod && (r = cgroup_remove_if_unused(d->pod, &removed, err)) < 0)
		return r;
	return 0;
}

static const struct container_hooks_ops hooks_ops = {
	.join_cgroup = hook_join_cgroup,
	.mount_cgroupfs = hook_mount_cgroupfs,
	.prepare_caps = hook_prepare_caps,
	.apply_caps = hook_apply_caps,
	.apply_seccomp = hook_apply_seccomp,
	.oom_killed = hook_oom_killed,
	.stats = hook_stats,
	.update = hook_update,
	.destroy = hook_destroy,
	.free = hooks_data_free,
};

/* ---- building them ---- */

static int
prepare_security(struct hooks_context *ctx, const struct container_spec *spec,
		 struct container_security **ret, korch_error **err)
{
	const struct security_context_spec *sc = &spec->security;
	size_t n_add = 0, n_drop = 0;
	while (sc->cap_add && sc->cap_add[n_add])
		n_add++;
	while (sc->cap_drop && sc->cap_drop[n_drop])
		n_drop++;
	static const enum security_seccomp modes[] = {
		[SECCOMP_MODE_RUNTIME_DEFAULT] = SECURITY_SECCOMP_RUNTIME_DEFAULT,
		[SECCOMP_MODE_UNCONFINED] = SECURITY_SECCOMP_UNCONFINED,
		[SECCOMP_MODE_LOCALHOST] = SECURITY_SECCOMP_LOCALHOST,
	};
	struct security_spec ss = {
		.privileged = spec->privileged,
		.cap_add = (const char *const *)sc->cap_add,
		.n_cap_add = n_add,
		.cap_drop = (const char *const *)sc->cap_drop,
		.n_cap_drop = n_drop,
		/* container-spec.c made process.noNewPrivileges agree with it. */
		.allow_privilege_escalation = spec->process.no_new_privs ? 0 : 1,
		.seccomp = modes[sc->seccomp],
		.seccomp_localhost_path = sc->seccomp_localhost,
	};
	return security_prepare(ctx->seccomp, &ss, ret, err);
}

/*
 * Create: the pod's cgroup (adopted when it exists), the container's afresh (one left by a
 * crash is destroyed first, so no count of an earlier life shows), limits, device rules.
 */
static int
create_cgroups(struct cgroup_manager *m, const struct container_spec *spec,
	       struct container_security *sec, struct hooks_data *d, korch_error **err)
{
	int r;
	if (spec->cgroup.pod &&
	    (r = cgroup_create(m, NULL, spec->cgroup.pod, NULL, &d->pod, err)) < 0)
		return r;
	struct cgroup *stale = NULL;
	if (cgroup_open(m, d->pod, spec->id, &stale, NULL) == 0) {
		/* Processes there belong to someone else (another monitor of the same instance
		 * name, a misconfiguration): never kill them. */
		struct cgroup_stats st = { 0 };
		if (cgroup_read_stats(stale, &st, NULL) == 0 && st.pids_current > 0)
			r = error_set(err, KORCH_EEXISTS,
				      "cgroup %s exists and %llu processes run in it",
				      cgroup_path(stale), (unsigned long long)st.pids_current);
		else {
			log_warn("monitor", "container %s: removing cgroup %s left from before",
				 spec->id, cgroup_path(stale));
			r = cgroup_destroy(stale, err);
		}
		cgroup_free(stale);
		if (r < 0)
			return r;
	}
	struct cgroup_limits l;
	limits_from(&spec->resources, &l);
	if ((r = cgroup_create_leaf(m, d->pod, spec->id, &l, &d->cg, err)) < 0)
		return r;
	return cgroup_set_devices(d->cg, sec->devices, err);
}

/* Re-attach: the cgroups as they are; a container that has none keeps running without. */
static void
open_cgroups(struct cgroup_manager *m, const struct container_spec *spec, struct hooks_data *d)
{
	_cleanup_error_ korch_error *err = NULL;
	if (spec->cgroup.pod && cgroup_open(m, NULL, spec->cgroup.pod, &d->pod, &err) < 0) {
		log_warn("monitor", "container %s: %s", spec->id, korch_error_message(err));
		return;
	}
	if (cgroup_open(m, d->pod, spec->id, &d->cg, &err) < 0)
		log_warn("monitor", "container %s: %s", spec->id, korch_error_message(err));
}

static int
hooks_build(struct hooks_context *ctx, const struct container_spec *spec, bool reattach,
	    struct hooks_data *d, int *ret_cgroup_fd, korch_error **err)
{
	struct cgroup_manager *m = NULL;
	int r = prepare_security(ctx, spec, &d->sec, err);
	if (r < 0 && !reattach)
		return r;
	if (r < 0) {
		d->sec_error = strdup(err && *err ? korch_error_message(*err) : "unknown error");
		log_warn("monitor", "container %s: %s", spec->id, d->sec_error);
		if (err) {
			korch_error_free(*err);
			*err = NULL;
		}
	}
	if ((r = context_manager(ctx, &spec->cgroup, &m, err)) < 0)
		return r;
	if (reattach)
		open_cgroups(m, spec, d);
	else if ((r = create_cgroups(m, spec, d->sec, d, err)) < 0)
		return r;
	d->read_only_cgroupfs = !spec->privileged;
	d->v2 = cgroup_manager_mode(m) == CGROUP_MODE_V2;
	if (d->cg) {
		plan_mounts(m, d);
		if (d->v2 && (r = cgroup_open_dir_fd(d->cg, ret_cgroup_fd, err)) < 0)
			return r;
	}
	return 0;
}

int
container_hooks_new(struct hooks_context *ctx, const struct container_spec *spec, bool reattach,
		    struct container_hooks **ret, korch_error **err)
{
	struct container_hooks *h = calloc(1, sizeof(*h));
	struct hooks_data *d = calloc(1, sizeof(*d));
	if (!h || !d) {
		free(h);
		free(d);
		return error_oom(err);
	}
	h->cgroup_fd = -1;
	int r = hooks_build(ctx, spec, reattach, d, &h->cgroup_fd, err);
	if (r < 0) {
		if (!reattach && d->cg)
			hook_destroy(d, NULL);
		else if (!reattach && d->pod) {
			bool removed;
			cgroup_remove_if_unused(d->pod, &removed, NULL);
		}
		if (h->cgroup_fd >= 0)
			close(h->cgroup_fd);
		hooks_data_free(d);
		free(h);
		return r;
	}
	h->ops = &hooks_ops;
	h->data = d;
	*ret = h;
	return 0;
}

void
container_hooks_free(struct container_hooks *sec)
{
	if (!sec)
		return;
	if (sec->ops && sec->ops->free)
		sec->ops->free(sec->data);
	if (sec->cgroup_fd >= 0)
		close(sec->cgroup_fd);
	free(sec);
}
