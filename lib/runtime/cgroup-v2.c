/*
 * cgroup-v2.c - the cgroup v2 (unified) backend: one directory per cgroup, limits (memory.max,
 * memory.swap.max, cpu.weight, cpu.max, pids.max, cpuset.*), stats, OOM events through inotify
 * on memory.events, cgroup.kill, and the device allow-list as a BPF program.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/error.h"
#include "base/macro.h"
#include "base/util.h"
#include "runtime/cgroup-internal.h"

static int
v2_apply_limits(struct cgroup *cg, const struct cgroup_limits *l, bool update, korch_error **err)
{
	const char *dir = cg->dir;
	int r;
	if (l->memory_bytes > 0 || update) {
		/* Swap off first, as the kubelet has it, where the kernel offers swap accounting. */
		if (cg_file_exists(dir, "memory.swap.max")) {
			r = cg_write(dir, "memory.swap.max", "0", err);
			if (r < 0)
				return r;
		}
		if (l->memory_bytes > 0)
			r = cg_writef(dir, "memory.max", err, "%" PRId64, l->memory_bytes);
		else
			r = cg_write(dir, "memory.max", "max", err);
		if (r < 0)
			return r;
	}
	if (l->cpu_shares || update) {
		uint64_t w = cgroup_cpu_weight_from_shares(l->cpu_shares ? l->cpu_shares : 1024);
		r = cg_writef(dir, "cpu.weight", err, "%" PRIu64, w);
		if (r < 0)
			return r;
	}
	uint64_t period = l->cpu_period_us ? l->cpu_period_us : 100000;
	if (l->cpu_quota_us > 0)
		r = cg_writef(dir, "cpu.max", err, "%" PRId64 " %" PRIu64, l->cpu_quota_us, period);
	else if (update || l->cpu_period_us)
		r = cg_writef(dir, "cpu.max", err, "max %" PRIu64, period);
	else
		r = 0;
	if (r < 0)
		return r;
	if (l->pids_set || update) {
		char text[24];
		cgroup_pids_max_text(l->pids_set ? l->pids_max : -1, text);
		r = cg_write(dir, "pids.max", text, err);
		if (r < 0)
			return r;
	}
	if (l->cpuset_cpus || l->cpuset_mems || update) {
		if (!cg->m->v2_has_cpuset) {
			if (l->cpuset_cpus || l->cpuset_mems)
				return error_set(err, KORCH_EUNSUPPORTED,
						 "the cpuset controller is not available");
			return 0;
		}
		/* An empty value means "the parent's effective set" on v2. */
		r = cg_write(dir, "cpuset.cpus", l->cpuset_cpus ? l->cpuset_cpus : "", err);
		if (r == 0)
			r = cg_write(dir, "cpuset.mems", l->cpuset_mems ? l->cpuset_mems : "", err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
v2_attach(struct cgroup *cg, pid_t pid, korch_error **err)
{
	return cg_writef(cg->dir, "cgroup.procs", err, "%d", (int)pid);
}

static int
v2_oom_kills(struct cgroup *cg, uint64_t *ret, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = cg_read(cg->dir, "memory.events", &text, err);
	if (r < 0)
		return r;
	uint64_t v = 0;
	if (cg_keyed_u64(text, "oom_kill", &v) < 0)
		return error_set(err, KORCH_ESYSTEM, "%s/memory.events has no oom_kill line",
				 cg->dir);
	*ret = v;
	return 0;
}

static int
v2_read_stats(struct cgroup *cg, struct cgroup_stats *s, korch_error **err)
{
	_cleanup_free_ char *cpu = NULL, *stat = NULL;
	int r = cg_read(cg->dir, "cpu.stat", &cpu, err);
	if (r < 0)
		return r;
	uint64_t usec = 0;
	if (cg_keyed_u64(cpu, "usage_usec", &usec) < 0)
		return error_set(err, KORCH_ESYSTEM, "%s/cpu.stat has no usage_usec line", cg->dir);
	s->cpu_usage_ns = usec * 1000;
	r = cg_read_u64(cg->dir, "memory.current", &s->memory_usage_bytes, err);
	if (r < 0)
		return r;
	r = cg_read(cg->dir, "memory.stat", &stat, err);
	if (r < 0)
		return r;
	uint64_t inactive = 0;
	if (cg_keyed_u64(stat, "inactive_file", &inactive) < 0)
		return error_set(err, KORCH_ESYSTEM, "%s/memory.stat has no inactive_file line",
				 cg->dir);
	s->memory_working_set_bytes =
		s->memory_usage_bytes > inactive ? s->memory_usage_bytes - inactive : 0;
	r = cg_read_u64(cg->dir, "pids.current", &s->pids_current, err);
	if (r < 0)
		return r;
	return v2_oom_kills(cg, &s->oom_kills, err);
}

/* memory.events changes (a kernel "file modified" notification) on every OOM event. */
static int
v2_oom_watch(struct cgroup *cg, int *ret_fd, korch_error **err)
{
	_cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "inotify_init1");
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/memory.events", cg->dir) < 0)
		return error_oom(err);
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0)
		return error_errno(err, errno, "inotify_add_watch %s", path);
	*ret_fd = steal_fd(&fd);
	return 0;
}

/* Waits (about 5 s at most) until no process is left in dir or below it. */
static int
wait_empty(const char *dir, korch_error **err)
{
	pid_t pids[1];
	for (int i = 0; i < 250; i++) {
		if (cg_collect_procs(dir, pids, 0, 0) == 0)
			return 0;
		cg_sleep_ms(i < 20 ? 2 : 20);
	}
	return error_set(err, KORCH_ETIMEOUT, "processes still in %s after 5 s of SIGKILL", dir);
}

/*
 * cgroup.kill (Linux 5.14) kills the whole subtree atomically. Without it: freeze through
 * cgroup.freeze, SIGKILL what is listed, thaw, until empty.
 */
static int
v2_kill(struct cgroup *cg, korch_error **err)
{
	if (access(cg->dir, F_OK) < 0 && errno == ENOENT)
		return 0;
	pid_t pids[1024];
	if (cg_collect_procs(cg->dir, pids, 0, 0) == 0)
		return 0;
	if (cg_file_exists(cg->dir, "cgroup.kill")) {
		int r = cg_write(cg->dir, "cgroup.kill", "1", err);
		if (r < 0)
			return r;
		return wait_empty(cg->dir, err);
	}
	for (int round = 0; round < 100; round++) {
		int r = cg_write(cg->dir, "cgroup.freeze", "1", err);
		if (r < 0)
			return r;
		cg_sleep_ms(5);
		size_t n = cg_collect_procs(cg->dir, pids, ARRAY_SIZE(pids), 0);
		for (size_t i = 0; i < MIN(n, ARRAY_SIZE(pids)); i++)
			kill(pids[i], SIGKILL);
		r = cg_write(cg->dir, "cgroup.freeze", "0", err);
		if (r < 0)
			return r;
		if (n == 0)
			return 0;
		cg_sleep_ms(round < 10 ? 2 : 50);
		if (cg_collect_procs(cg->dir, pids, 0, 0) == 0)
			return 0;
	}
	return error_set(err, KORCH_ETIMEOUT, "processes still in %s after 5 s of SIGKILL",
			 cg->dir);
}

static int
v2_set_devices(struct cgroup *cg, enum cgroup_devices policy, korch_error **err)
{
	if (policy == CGROUP_DEVICES_ALL)
		return 0;
	return cgroup_device_attach_bpf(cg->dir, cgroup_default_device_rules,
					cgroup_n_default_device_rules, err);
}

const struct cgroup_backend cgroup_backend_v2 = {
	.name = "v2",
	.apply_limits = v2_apply_limits,
	.attach = v2_attach,
	.read_stats = v2_read_stats,
	.oom_kills = v2_oom_kills,
	.oom_watch = v2_oom_watch,
	.kill = v2_kill,
	.set_devices = v2_set_devices,
};
