/*
 * cgroup-v1.c - the cgroup v1 backend: one directory per controller (cpu, cpuacct, cpuset,
 * memory, pids, devices, freezer), limits, stats, OOM events through cgroup.event_control,
 * killing through the freezer, and the devices controller's allow-list.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/macro.h"
#include "base/util.h"
#include "runtime/cgroup-internal.h"

static int
need(struct cgroup *cg, enum cgroup_v1_controller c, korch_error **err)
{
	if (cg->dirs[c])
		return 0;
	return error_set(err, KORCH_EUNSUPPORTED, "cgroup v1 controller %s is not mounted",
			 cgroup_v1_controller_names[c]);
}

/*
 * memory.memsw.limit_in_bytes (memory + swap) may never be below memory.limit_in_bytes, so the
 * order of the two writes depends on the direction of the change. Both equal means no swap, as
 * the kubelet sets it. Lowering the limit below what the cgroup uses fails with EBUSY once the
 * kernel cannot reclaim enough (v1 does not OOM-kill on a limit write): the error says so.
 */
static int
v1_set_memory(struct cgroup *cg, int64_t bytes, korch_error **err)
{
	const char *dir = cg->dirs[CG_MEMORY];
	bool memsw = cg_file_exists(dir, "memory.memsw.limit_in_bytes");
	uint64_t cur = 0;
	int r = cg_read_u64(dir, "memory.limit_in_bytes", &cur, err);
	if (r < 0)
		return r;
	char text[32];
	snprintf(text, sizeof(text), "%" PRId64, bytes > 0 ? bytes : (int64_t)-1);
	bool raising = bytes <= 0 || (uint64_t)bytes > cur;
	if (memsw && raising) {
		r = cg_write(dir, "memory.memsw.limit_in_bytes", text, err);
		if (r < 0)
			return r;
	}
	r = cg_write(dir, "memory.limit_in_bytes", text, err);
	if (r < 0)
		return r;
	if (memsw && !raising)
		r = cg_write(dir, "memory.memsw.limit_in_bytes", text, err);
	return r;
}

static int
v1_apply_limits(struct cgroup *cg, const struct cgroup_limits *l, bool update, korch_error **err)
{
	int r = 0;
	if (l->memory_bytes > 0 || update) {
		r = v1_set_memory(cg, l->memory_bytes, err);
		if (r < 0)
			return r;
	}
	const char *cpu = cg->dirs[CG_CPU];
	if (l->cpu_shares || update) {
		r = cg_writef(cpu, "cpu.shares", err, "%" PRIu64,
			      l->cpu_shares ? l->cpu_shares : 1024);
		if (r < 0)
			return r;
	}
	uint64_t period = l->cpu_period_us ? l->cpu_period_us : 100000;
	if (l->cpu_quota_us > 0) {
		/* The quota is checked against the period already there: period first. */
		r = cg_writef(cpu, "cpu.cfs_period_us", err, "%" PRIu64, period);
		if (r == 0)
			r = cg_writef(cpu, "cpu.cfs_quota_us", err, "%" PRId64, l->cpu_quota_us);
	} else if (update || l->cpu_period_us) {
		r = cg_write(cpu, "cpu.cfs_quota_us", "-1", err);
		if (r == 0)
			r = cg_writef(cpu, "cpu.cfs_period_us", err, "%" PRIu64, period);
	}
	if (r < 0)
		return r;
	if (l->pids_set || update) {
		char text[24];
		cgroup_pids_max_text(l->pids_set ? l->pids_max : -1, text);
		r = cg_write(cg->dirs[CG_PIDS], "pids.max", text, err);
		if (r < 0)
			return r;
	}
	static const char *const cpuset_files[] = { "cpuset.cpus", "cpuset.mems" };
	const char *cpuset_values[] = { l->cpuset_cpus, l->cpuset_mems };
	for (size_t i = 0; i < ARRAY_SIZE(cpuset_files); i++) {
		const char *v = cpuset_values[i];
		if (!v && !update)
			continue;
		if (!cg->dirs[CG_CPUSET]) {
			if (!v)
				continue;
			return need(cg, CG_CPUSET, err);
		}
		_cleanup_free_ char *parent_value = NULL;
		if (!v) {
			/* Back to the parent's set. */
			_cleanup_free_ char *pdir = strdup(cg->dirs[CG_CPUSET]);
			if (!pdir)
				return error_oom(err);
			*strrchr(pdir, '/') = '\0';
			r = cg_read(pdir, cpuset_files[i], &parent_value, err);
			if (r < 0)
				return r;
			parent_value[strcspn(parent_value, "\n")] = '\0';
			v = parent_value;
		}
		r = cg_write(cg->dirs[CG_CPUSET], cpuset_files[i], v, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
v1_attach(struct cgroup *cg, pid_t pid, korch_error **err)
{
	for (int c = 0; c < CG_N_CONTROLLERS; c++) {
		if (!cg->dirs[c])
			continue;
		int r = cg_writef(cg->dirs[c], "cgroup.procs", err, "%d", (int)pid);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
v1_oom_kills(struct cgroup *cg, uint64_t *ret, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = cg_read(cg->dirs[CG_MEMORY], "memory.oom_control", &text, err);
	if (r < 0)
		return r;
	uint64_t v = 0;
	if (cg_keyed_u64(text, "oom_kill", &v) < 0)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "%s/memory.oom_control has no oom_kill counter (kernel < 4.13)",
				 cg->dirs[CG_MEMORY]);
	*ret = v;
	return 0;
}

static int
v1_read_stats(struct cgroup *cg, struct cgroup_stats *s, korch_error **err)
{
	int r = cg_read_u64(cg->dirs[CG_CPUACCT], "cpuacct.usage", &s->cpu_usage_ns, err);
	if (r < 0)
		return r;
	const char *mem = cg->dirs[CG_MEMORY];
	r = cg_read_u64(mem, "memory.usage_in_bytes", &s->memory_usage_bytes, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *stat = NULL;
	r = cg_read(mem, "memory.stat", &stat, err);
	if (r < 0)
		return r;
	uint64_t inactive = 0;
	if (cg_keyed_u64(stat, "total_inactive_file", &inactive) < 0)
		return error_set(err, KORCH_ESYSTEM, "%s/memory.stat: no total_inactive_file", mem);
	s->memory_working_set_bytes =
		s->memory_usage_bytes > inactive ? s->memory_usage_bytes - inactive : 0;
	r = cg_read_u64(cg->dirs[CG_PIDS], "pids.current", &s->pids_current, err);
	if (r < 0)
		return r;
	return v1_oom_kills(cg, &s->oom_kills, err);
}

/*
 * The v1 OOM notification: an eventfd registered as "<eventfd> <fd of memory.oom_control>" in
 * cgroup.event_control. The kernel keeps its own references, so the oom_control fd is closed at
 * once; the registration ends when the eventfd is closed or the cgroup removed (which signals the
 * eventfd once more).
 */
static int
v1_oom_watch(struct cgroup *cg, int *ret_fd, korch_error **err)
{
	const char *mem = cg->dirs[CG_MEMORY];
	_cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return error_errno(err, errno, "eventfd");
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/memory.oom_control", mem) < 0)
		return error_oom(err);
	_cleanup_close_ int cfd = open(path, O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return error_errno(err, errno, "open %s", path);
	int r = cg_writef(mem, "cgroup.event_control", err, "%d %d", efd, cfd);
	if (r < 0)
		return r;
	*ret_fd = steal_fd(&efd);
	return 0;
}

/* Waits until freezer.state reads want (FROZEN or THAWED), for at most about 2 s. */
static int
freezer_wait(const char *dir, const char *want, korch_error **err)
{
	for (int i = 0; i < 400; i++) {
		_cleanup_free_ char *state = NULL;
		int r = cg_read(dir, "freezer.state", &state, err);
		if (r < 0)
			return r;
		state[strcspn(state, "\n")] = '\0';
		if (streq(state, want))
			return 0;
		cg_sleep_ms(5);
	}
	return error_set(err, KORCH_ETIMEOUT, "%s: freezer did not reach %s", dir, want);
}

/*
 * Freeze, SIGKILL every process listed in any controller's cgroup (and below), thaw, and repeat
 * until none is listed: a frozen process cannot fork, so none escapes between read and kill.
 */
static int
v1_kill(struct cgroup *cg, korch_error **err)
{
	const char *fz = cg->dirs[CG_FREEZER];
	if (access(fz, F_OK) < 0 && errno == ENOENT)
		return 0;
	pid_t pids[1024];
	for (int round = 0; round < 100; round++) {
		size_t n = 0;
		for (int c = 0; c < CG_N_CONTROLLERS; c++)
			if (cg->dirs[c])
				n = cg_collect_procs(cg->dirs[c], pids, ARRAY_SIZE(pids), n);
		if (n == 0)
			return 0;
		int r = cg_write(fz, "freezer.state", "FROZEN", err);
		if (r == 0)
			r = freezer_wait(fz, "FROZEN", err);
		if (r < 0 && r != KORCH_ETIMEOUT)
			return r;
		n = 0;
		for (int c = 0; c < CG_N_CONTROLLERS; c++)
			if (cg->dirs[c])
				n = cg_collect_procs(cg->dirs[c], pids, ARRAY_SIZE(pids), n);
		for (size_t i = 0; i < MIN(n, ARRAY_SIZE(pids)); i++)
			kill(pids[i], SIGKILL);
		r = cg_write(fz, "freezer.state", "THAWED", err);
		if (r < 0)
			return r;
		/* Give the killed tasks a moment to leave before the next look. */
		cg_sleep_ms(round < 10 ? 2 : 50);
	}
	return error_set(err, KORCH_ETIMEOUT, "processes still in %s after 5 s of SIGKILL", fz);
}

static int
v1_set_devices(struct cgroup *cg, enum cgroup_devices policy, korch_error **err)
{
	const char *dir = cg->dirs[CG_DEVICES];
	if (policy == CGROUP_DEVICES_ALL)
		return cg_write(dir, "devices.allow", "a", err);
	int r = cg_write(dir, "devices.deny", "a", err);
	for (size_t i = 0; r == 0 && i < cgroup_n_default_device_rules; i++) {
		char text[48];
		cgroup_device_rule_text(&cgroup_default_device_rules[i], text);
		r = cg_write(dir, "devices.allow", text, err);
	}
	return r;
}

const struct cgroup_backend cgroup_backend_v1 = {
	.name = "v1",
	.apply_limits = v1_apply_limits,
	.attach = v1_attach,
	.read_stats = v1_read_stats,
	.oom_kills = v1_oom_kills,
	.oom_watch = v1_oom_watch,
	.kill = v1_kill,
	.set_devices = v1_set_devices,
};
