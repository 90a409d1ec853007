/*
 * test_scenarios_resources.c - the resource scenarios of the reliability file on real
 * containers with cgroups: 14 (OOM at 64 MiB: 137, OOMKilled, within 2 s, siblings fine),
 * 15 (pids.max 64 and a fork bomb), 16 (a 50% CPU quota), 19 (create/start/kill/delete
 * cycles leave no cgroup, mount or fd behind), plus stats and live update through the monitor,
 * pod cgroups, --cgroup-parent, and OOM and stats tracking across a monitor restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "test_container_lib.h"

#define MIB (1024 * 1024)

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_int_t
int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static json_t *
with_resources(json_t *spec, const char *resources)
{
	json_t *r = json_loads(resources, 0, NULL);
	assert_non_null(r);
	json_object_set_new(spec, "resources", r);
	return spec;
}

static json_t *
stats_of(struct rt *rt, const char *id)
{
	json_t *stats = NULL;
	korch_error *err = NULL;
	if (monitor_client_stats(rt->client, id, &stats, &err) < 0)
		fail_msg("stats %s: %s", id, korch_error_message(err));
	return stats;
}

static json_t *
wait_exit(struct rt *rt, const char *id)
{
	json_t *st = NULL;
	korch_error *err = NULL;
	if (monitor_client_wait(rt->client, id, 30000, &st, &err) < 0)
		fail_msg("wait %s: %s", id, korch_error_message(err));
	return st;
}

/* The directory of the instance's parent cgroup for a v1 controller. */
static char *
parent_dir(const char *controller)
{
	char **v = rt_cgroup_parents(), *found = NULL;
	char want[64];
	snprintf(want, sizeof(want), "/%s/", controller);
	for (char **p = v; *p; p++) {
		if (!found && strstr(*p, want))
			found = strdup(*p);
		free(*p);
	}
	free(v);
	assert_non_null(found);
	return found;
}

static char *
cgroup_file(const char *controller, const char *sub, const char *file)
{
	char *dir = parent_dir(controller), *path = NULL, *text = NULL;
	assert_true(asprintf(&path, "%s/%s/%s", dir, sub, file) > 0);
	if (read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		text = NULL;
	free(dir);
	free(path);
	return text;
}

/* Writes text into an existing file (a cgroup's): 0 or -errno. */
static int
write_into(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, text, strlen(text));
	close(fd);
	return r;
}

/* The value of the "KEY VALUE" line of text. */
static uint64_t
keyed(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ' ')
			return strtoull(line + n + 1, NULL, 10);
	fail_msg("no %s in %s", key, text);
	return 0;
}

/*
 * Scenario 14: 64 MiB limit, 200 MiB touched: killed by the kernel, exit code 137, OOMKilled,
 * memory.oom_control oom_kill >= 1, known within 2 s; a sibling keeps running, a container
 * under its limit finishes, the monitor lives on.
 */
static void
test_oom(void **state)
{
	struct rt *rt = *state;
	json_t *sib = rt_start(rt, rt_spec("sibling", "/probe", "echo", "up", ";", "pause", NULL));
	assert_true(rt_wait_output(sib, "up", 5000));
	json_decref(sib);

	json_t *spec = with_resources(rt_spec("oom", "/probe", "alloc", "200", NULL),
				      "{\"memoryBytes\": 67108864}");
	json_decref(rt_start(rt, spec));
	int64_t t0 = now_ms();
	json_t *st = wait_exit(rt, "oom");
	int64_t took = now_ms() - t0;
	printf("# OOM kill known %lld ms after start\n", (long long)took);
	assert_true(took < 2000);
	assert_int_equal(int_of(st, "exitCode"), 137);
	assert_int_equal(int_of(st, "signal"), SIGKILL);
	assert_true(json_is_true(json_object_get(st, "oomKilled")));
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "OOMKilled");
	json_decref(st);
	char *ctl = cgroup_file("memory", "oom", "memory.oom_control");
	assert_non_null(ctl);
	assert_true(keyed(ctl, "oom_kill") >= 1);
	free(ctl);
	json_t *stats = stats_of(rt, "oom");
	assert_true(int_of(stats, "oomKills") >= 1);
	assert_int_equal(int_of(stats, "pidsCurrent"), 0);
	json_decref(stats);

	/* The sibling, the monitor, and a container that stays under the same limit. */
	json_t *sst = NULL;
	assert_int_equal(monitor_client_state(rt->client, "sibling", &sst, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(sst, "status")), "running");
	json_decref(sst);
	assert_int_equal(kill(rt->monitor_pid, 0), 0);
	spec = with_resources(rt_spec("fits", "/probe", "alloc", "32", NULL),
			      "{\"memoryBytes\": 67108864}");
	st = rt_run(rt, spec);
	char *out = rt_output(st, "stdout");
	assert_string_equal(out, "allocated 32\n");
	free(out);
	assert_int_equal(int_of(st, "exitCode"), 0);
	assert_false(json_is_true(json_object_get(st, "oomKilled")));
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "Completed");
	json_decref(st);
}

/* Tasks (threads included) of the processes whose pid namespace is ns ("pid:[N]"). */
static int
tasks_in_pidns(const char *ns)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		char path[300], link[64];
		snprintf(path, sizeof(path), "/proc/%s/ns/pid", de->d_name);
		ssize_t l = atoi(de->d_name) > 0 ? readlink(path, link, sizeof(link) - 1) : -1;
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (strcmp(link, ns) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", de->d_name);
		DIR *t = opendir(path);
		struct dirent *te;
		while (t && (te = readdir(t)))
			n += te->d_name[0] != '.';
		if (t)
			closedir(t);
	}
	closedir(d);
	return n;
}

/* Every task of the host (/proc/loadavg's fourth field: running/total). */
static int
host_tasks(void)
{
	char *text = NULL;
	assert_int_equal(read_file("/proc/loadavg", 256, &text, NULL, NULL), 0);
	int total = atoi(strchr(text, '/') + 1);
	free(text);
	return total;
}

static void
pid_ns_of(json_t *st, char ns[64])
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)int_of(st, "pid"));
	ssize_t l = readlink(path, ns, 63);
	assert_true(l > 0);
	ns[l] = '\0';
}

/*
 * Scenario 15: pids.max 64. fork fails with EAGAIN inside once 64 tasks exist, pids.events
 * counts it, the host gains at most 69 tasks, and a delete ends it all within 5 s. A shell
 * fork bomb stays within the limit too. runc's semantics: 0 means 1, -1 unlimited.
 */
static void
test_fork_bomb(void **state)
{
	struct rt *rt = *state;
	int before = host_tasks();
	json_t *st = rt_start(rt, with_resources(rt_spec("bomb", "/probe", "forkbomb", ";", "echo",
							 "done", ";", "pause", NULL),
						 "{\"pidsMax\": 64}"));
	assert_true(rt_wait_output(st, "done", 10000));
	char *out = rt_output(st, "stdout");
	assert_string_equal(out, "forked 63 errno EAGAIN\ndone\n");
	free(out);
	char ns[64];
	pid_ns_of(st, ns);
	json_decref(st);
	json_t *stats = stats_of(rt, "bomb");
	assert_int_equal(int_of(stats, "pidsCurrent"), 64);
	json_decref(stats);
	assert_int_equal(tasks_in_pidns(ns), 64);
	/* The host count moves with everyone's work: its smallest rise over a few looks. */
	int rise = host_tasks() - before;
	for (int i = 0; i < 5 && rise > 69; i++) {
		usleep(100000);
		int r = host_tasks() - before;
		rise = r < rise ? r : rise;
	}
	printf("# host tasks rose by %d\n", rise);
	assert_true(rise <= 69);
	char *events = cgroup_file("pids", "bomb", "pids.events");
	assert_non_null(events);
	assert_true(keyed(events, "max") >= 1);
	free(events);
	char *max = cgroup_file("pids", "bomb", "pids.max");
	assert_string_equal(max, "64\n");
	free(max);
	int64_t t0 = now_ms();
	assert_int_equal(monitor_client_delete(rt->client, "bomb", 0, NULL), 0);
	int64_t took = now_ms() - t0;
	printf("# delete of 64 tasks took %lld ms\n", (long long)took);
	assert_true(took < 5000);
	assert_int_equal(tasks_in_pidns(ns), 0);
	assert_int_equal(rt_cgroup_leftovers(), 0);

	/*
	 * A shell fork bomb (named f: busybox sh runs its ':' builtin before any function of
	 * that name), in the background of an init that needs no fork to stay.
	 */
	st = rt_start(
		rt, with_resources(rt_spec("shbomb", "/bin/sh", "-c",
					   "(f(){ f|f& };f) 2>/dev/null & exec /probe pause", NULL),
				   "{\"pidsMax\": 64}"));
	pid_ns_of(st, ns);
	json_decref(st);
	for (int i = 0; i < 20; i++) {
		stats = stats_of(rt, "shbomb");
		assert_true(int_of(stats, "pidsCurrent") <= 64);
		json_decref(stats);
		assert_true(tasks_in_pidns(ns) <= 64);
		usleep(50000);
	}
	/* It did run into the limit. */
	events = cgroup_file("pids", "shbomb", "pids.events");
	assert_non_null(events);
	assert_true(keyed(events, "max") >= 1);
	free(events);
	t0 = now_ms();
	assert_int_equal(monitor_client_delete(rt->client, "shbomb", 0, NULL), 0);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(tasks_in_pidns(ns), 0);

	/* 0 means 1: the init alone, which cannot fork. */
	rt_expect(
		rt,
		with_resources(rt_spec("one", "/probe", "errno", "fork", NULL), "{\"pidsMax\": 0}"),
		0, "fork=EAGAIN\n");
	st = rt_start(rt, with_resources(rt_spec("nolimit", "/probe", "pause", NULL),
					 "{\"pidsMax\": -1}"));
	json_decref(st);
	max = cgroup_file("pids", "nolimit", "pids.max");
	assert_string_equal(max, "max\n");
	free(max);
}

/* CPU time of a finished container, from its cgroup (cpuacct.usage), in seconds. */
static double
cpu_seconds(struct rt *rt, const char *id)
{
	json_t *stats = stats_of(rt, id);
	double s = (double)int_of(stats, "cpuUsageNs") / 1e9;
	json_decref(stats);
	return s;
}

/*
 * Scenario 16: a 50% quota (50 ms per 100 ms period). Two threads busy for 2 s want 4 s of
 * CPU; the cgroup gets at most 1 s (+10%). How much less it gets depends on what else the
 * machine runs, so the lower bound comes from the kernel's own account: in every period where
 * it was throttled it had used its whole 50 ms.
 */
static void
test_cpu_quota(void **state)
{
	struct rt *rt = *state;
	/* The most shares there are, for the container and the instance's parent cgroup, so that
	 * the machine's other work does not keep it from reaching its quota. */
	char *parent = parent_dir("cpu"), shares[4200];
	snprintf(shares, sizeof(shares), "%s/cpu.shares", parent);
	free(parent);
	assert_int_equal(write_into(shares, "262144"), 0);
	json_t *st = rt_start(rt, with_resources(rt_spec("quota", "/probe", "spin", "2", "2", NULL),
						 "{\"cpuQuotaUs\": 50000, \"cpuPeriodUs\": 100000, "
						 "\"cpuShares\": 262144}"));
	json_decref(st);
	json_decref(wait_exit(rt, "quota"));
	char *quota = cgroup_file("cpu", "quota", "cpu.cfs_quota_us");
	char *period = cgroup_file("cpu", "quota", "cpu.cfs_period_us");
	char *stat = cgroup_file("cpu", "quota", "cpu.stat");
	assert_string_equal(quota, "50000\n");
	assert_string_equal(period, "100000\n");
	double used = cpu_seconds(rt, "quota");
	uint64_t periods = keyed(stat, "nr_periods"), throttled = keyed(stat, "nr_throttled");
	printf("# 2 s of 2 busy threads at a 50%% quota used %.3f s of CPU; throttled in %llu of "
	       "%llu periods\n",
	       used, (unsigned long long)throttled, (unsigned long long)periods);
	assert_true(used <= 1.1);
	assert_true(used <= (double)periods * 0.05 * 1.1);
	assert_true(throttled >= 1);
	assert_true(used >= (double)throttled * 0.05 * 0.9);
	free(quota);
	free(period);
	free(stat);

	/* No quota: never throttled. */
	json_decref(rt_run(rt, rt_spec("free", "/probe", "spin", "0.5", "2", NULL)));
	quota = cgroup_file("cpu", "free", "cpu.cfs_quota_us");
	stat = cgroup_file("cpu", "free", "cpu.stat");
	assert_string_equal(quota, "-1\n");
	assert_int_equal(keyed(stat, "nr_throttled"), 0);
	free(quota);
	free(stat);
}

/* Open fds of a process. */
static int
fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static long
rss_kb(pid_t pid)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_int_equal(read_file(path, 1 << 16, &text, NULL, NULL), 0);
	long kb = strtol(strstr(text, "VmRSS:") + 6, NULL, 10);
	free(text);
	return kb;
}

static void
cycle(struct rt *rt, int i)
{
	char id[32];
	snprintf(id, sizeof(id), "cycle%d", i);
	json_t *spec = with_resources(rt_spec(id, "/probe", "pause", NULL),
				      "{\"memoryBytes\": 67108864, \"pidsMax\": 64}");
	json_t *st = NULL;
	korch_error *err = NULL;
	if (monitor_client_create(rt->client, spec, &st, &err) < 0 ||
	    monitor_client_start(rt->client, id, NULL, &err) < 0 ||
	    monitor_client_kill(rt->client, id, SIGKILL, &err) < 0 ||
	    monitor_client_delete(rt->client, id, 0, &err) < 0)
		fail_msg("%s: %s", id, korch_error_message(err));
	json_decref(st);
	json_decref(spec);
}

/*
 * Scenario 19: 200 create -> start -> kill -> delete cycles leave no cgroup directory in any
 * hierarchy, no mount, and the monitor's fd count and memory where they were after warm-up.
 */
static void
test_hygiene(void **state)
{
	struct rt *rt = *state;
	for (int i = 0; i < 10; i++)
		cycle(rt, i);
	int mounts = rt_host_mounts(), fds = fd_count(rt->monitor_pid);
	long rss = rss_kb(rt->monitor_pid);
	int64_t t0 = now_ms();
	for (int i = 10; i < 210; i++)
		cycle(rt, i);
	printf("# 200 cycles in %lld ms; monitor RSS %ld -> %ld kB\n", (long long)(now_ms() - t0),
	       rss, rss_kb(rt->monitor_pid));
	assert_int_equal(rt_cgroup_leftovers(), 0);
	assert_int_equal(rt_host_mounts(), mounts);
	if (fd_count(rt->monitor_pid) != fds) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd", (int)rt->monitor_pid);
		(void)!system(cmd);
	}
	assert_int_equal(fd_count(rt->monitor_pid), fds);
#ifndef __SANITIZE_ADDRESS__
	assert_true(rss_kb(rt->monitor_pid) <= rss + rss / 20);
#else
	printf("# RSS not compared: ASan's quarantine keeps freed memory\n");
#endif
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/containers", rt->run_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	int left = 0;
	while (d && (de = readdir(d)))
		left += de->d_name[0] != '.';
	if (d)
		closedir(d);
	assert_int_equal(left, 0);
}

/* Stats while it runs, and limits changed on the running container (within 1 s). */
static void
test_stats_update(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_start(rt, with_resources(rt_spec("live", "/probe", "alloc", "20", ";",
							 "echo", "ready", ";", "pause", NULL),
						 "{\"memoryBytes\": 67108864, \"pidsMax\": 10}"));
	assert_true(rt_wait_output(st, "ready", 5000));
	json_decref(st);
	json_t *stats = stats_of(rt, "live");
	assert_int_equal(int_of(stats, "pidsCurrent"), 1);
	assert_true(int_of(stats, "memoryWorkingSetBytes") >= 20 * MIB);
	assert_true(int_of(stats, "memoryUsageBytes") >= int_of(stats, "memoryWorkingSetBytes"));
	assert_true(int_of(stats, "cpuUsageNs") > 0);
	assert_int_equal(int_of(stats, "oomKills"), 0);
	json_decref(stats);

	korch_error *err = NULL;
	json_t *res = json_pack("{s:I, s:I, s:I}", "memoryBytes", (json_int_t)128 * MIB, "pidsMax",
				(json_int_t)20, "cpuQuotaUs", (json_int_t)20000);
	int64_t t0 = now_ms();
	if (monitor_client_update(rt->client, "live", res, &err) < 0)
		fail_msg("update: %s", korch_error_message(err));
	json_decref(res);
	assert_true(now_ms() - t0 < 1000);
	char *v = cgroup_file("memory", "live", "memory.limit_in_bytes");
	assert_string_equal(v, "134217728\n");
	free(v);
	v = cgroup_file("pids", "live", "pids.max");
	assert_string_equal(v, "20\n");
	free(v);
	v = cgroup_file("cpu", "live", "cpu.cfs_quota_us");
	assert_string_equal(v, "20000\n");
	free(v);
	/* The whole desired state: what is left out goes back to unlimited. */
	res = json_pack("{s:I}", "memoryBytes", (json_int_t)32 * MIB);
	assert_int_equal(monitor_client_update(rt->client, "live", res, NULL), 0);
	json_decref(res);
	v = cgroup_file("pids", "live", "pids.max");
	assert_string_equal(v, "max\n");
	free(v);
	v = cgroup_file("cpu", "live", "cpu.cfs_quota_us");
	assert_string_equal(v, "-1\n");
	free(v);
	/* Below what it uses: v1 refuses (EBUSY) and keeps the old limit; no hang, no OOM. */
	res = json_pack("{s:I}", "memoryBytes", (json_int_t)4 * MIB);
	assert_int_equal(monitor_client_update(rt->client, "live", res, &err), KORCH_ESYSTEM);
	json_decref(res);
	assert_int_equal(korch_error_errno(err), EBUSY);
	const char *msg = korch_error_message(err);
	if (!startswith(msg, "update container live: update cgroup ") ||
	    !endswith(msg, "/live/memory.limit_in_bytes: Device or resource busy"))
		fail_msg("%s", msg);
	korch_error_free(err);
	err = NULL;
	v = cgroup_file("memory", "live", "memory.limit_in_bytes");
	assert_string_equal(v, "33554432\n");
	free(v);
	json_t *sst = NULL;
	assert_int_equal(monitor_client_state(rt->client, "live", &sst, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(sst, "status")), "running");
	json_decref(sst);

	/* Bad input, an exited container, an unknown one. */
	res = json_pack("{s:s}", "memoryBytes", "64Mi");
	assert_int_equal(monitor_client_update(rt->client, "live", res, &err), KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(err),
		"resources.memoryBytes: must be an integer from 0 to 9223372036854775807");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(monitor_client_kill(rt->client, "live", SIGKILL, NULL), 0);
	json_decref(wait_exit(rt, "live"));
	assert_int_equal(monitor_client_update(rt->client, "live", res, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err), "update container live: it has exited");
	korch_error_free(err);
	err = NULL;
	json_decref(res);
	assert_int_equal(monitor_client_stats(rt->client, "nosuch", &stats, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "container nosuch not found");
	korch_error_free(err);
}

/* Containers of one pod share its cgroup, which goes with the last of them. */
static void
test_pod_cgroup(void **state)
{
	struct rt *rt = *state;
	for (int i = 0; i < 2; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		json_t *spec = rt_spec(id, "/probe", "cgroup", ";", "pause", NULL);
		json_object_set_new(json_object_get(spec, "cgroup"), "pod", json_string("pod1"));
		json_t *st = rt_start(rt, spec);
		char *mem = rt_container_cgroup(st, "memory"), tail[128];
		snprintf(tail, sizeof(tail), "/korch-%s/pod1/%s", rt_instance, id);
		assert_string_equal(mem + strlen(mem) - strlen(tail), tail);
		free(mem);
		json_decref(st);
	}
	char *dir = parent_dir("pids"), path[4200];
	snprintf(path, sizeof(path), "%s/pod1", dir);
	assert_int_equal(monitor_client_delete(rt->client, "c0", 0, NULL), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(monitor_client_delete(rt->client, "c1", 0, NULL), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	free(dir);
	assert_int_equal(rt_cgroup_leftovers(), 0);
}

/* Removes the hierarchy-wide test parent NAME in every v1 controller. */
static void
remove_custom_parent(const char *name)
{
	static const char *const controllers[] = { "cpu",  "cpuacct", "cpuset", "memory",
						   "pids", "devices", "freezer" };
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s/sub", controllers[i], name);
		rmdir(path);
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
}

/* --cgroup-parent: the path is used as given, on every controller. */
static void
test_cgroup_parent(void **state)
{
	struct rt *rt = *state;
	char name[80], parent[100];
	snprintf(name, sizeof(name), "korch-%s.custom", rt_instance);
	snprintf(parent, sizeof(parent), "/%s/sub", name);
	json_t *spec = rt_spec("custom", "/probe", "pause", NULL);
	json_object_set_new(json_object_get(spec, "cgroup"), "parent", json_string(parent));
	json_t *st = rt_start(rt, spec);
	char *mem = rt_container_cgroup(st, "memory"), want[200];
	snprintf(want, sizeof(want), "/sys/fs/cgroup/memory%s/custom", parent);
	bool ok = mem && strcmp(mem, want) == 0;
	if (!ok)
		printf("# %s != %s\n", mem, want);
	free(mem);
	json_decref(st);
	assert_int_equal(monitor_client_delete(rt->client, "custom", 0, NULL), 0);
	char path[300];
	snprintf(path, sizeof(path), "/sys/fs/cgroup/pids%s/custom", parent);
	bool gone = access(path, F_OK) < 0;
	remove_custom_parent(name);
	assert_true(ok);
	assert_true(gone);
}

/*
 * A monitor killed with SIGKILL and started again still knows its containers' cgroups: stats
 * work, an OOM kill after the restart is reported (137, OOMKilled), and delete removes them.
 */
static void
test_reattach_tracking(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_start(rt, with_resources(rt_spec("adopt", "/probe", "echo", "ready", ";",
							 "sleep", "2", ";", "alloc", "200", NULL),
						 "{\"memoryBytes\": 67108864}"));
	assert_true(rt_wait_output(st, "ready", 5000));
	json_decref(st);
	monitor_client_free(rt->client);
	rt->client = NULL;
	assert_int_equal(kill(rt->monitor_pid, SIGKILL), 0);
	assert_int_equal(waitpid(rt->monitor_pid, NULL, 0), rt->monitor_pid);
	rt->client = rt_connect(rt);
	rt->monitor_pid = monitor_client_monitor_pid(rt->client);
	json_t *stats = stats_of(rt, "adopt");
	assert_int_equal(int_of(stats, "pidsCurrent"), 1);
	json_decref(stats);
	st = wait_exit(rt, "adopt");
	assert_int_equal(int_of(st, "exitCode"), 137);
	assert_true(json_is_true(json_object_get(st, "oomKilled")));
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "OOMKilled");
	json_decref(st);
	assert_int_equal(monitor_client_delete(rt->client, "adopt", 0, NULL), 0);
	assert_int_equal(rt_cgroup_leftovers(), 0);
}

/*
 * A cgroup a crash left behind with the container's name is replaced at create; one in which
 * processes run is someone else's and makes the create fail instead of killing them.
 */
static void
test_stale_cgroup(void **state)
{
	struct rt *rt = *state;
	rt_expect(rt, rt_spec("first", "/probe", "echo", "hi", NULL), 0, "hi\n");
	char **parents = rt_cgroup_parents();
	pid_t kid = fork();
	if (kid == 0) {
		pause();
		_exit(0);
	}
	for (char **p = parents; *p; p++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/leftover", *p);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/busy", *p);
		assert_int_equal(mkdir(path, 0755), 0);
		if (strstr(*p, "/cpuset/")) {
			/* A v1 cpuset cgroup takes tasks once it has cpus and mems. */
			static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
			for (int i = 0; i < 2; i++) {
				char from[4300], *v = NULL;
				snprintf(from, sizeof(from), "%s/%s", *p, files[i]);
				assert_int_equal(read_file(from, 4096, &v, NULL, NULL), 0);
				snprintf(from, sizeof(from), "%s/busy/%s", *p, files[i]);
				assert_int_equal(write_into(from, v), 0);
				free(v);
			}
		}
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", (int)kid);
		snprintf(path, sizeof(path), "%s/busy/cgroup.procs", *p);
		assert_int_equal(write_into(path, pid), 0);
		free(*p);
	}
	free(parents);
	rt_expect(rt, rt_spec("leftover", "/probe", "echo", "replaced", NULL), 0, "replaced\n");
	char *msg = NULL;
	assert_int_equal(rt_create_error(rt, rt_spec("busy", "/probe", NULL), &msg), KORCH_EEXISTS);
	if (!startswith(msg, "create container busy: cgroup ") ||
	    !endswith(msg, "/busy exists and 1 processes run in it"))
		fail_msg("%s", msg);
	free(msg);
	/* It still runs, untouched. */
	assert_int_equal(kill(kid, 0), 0);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	parents = rt_cgroup_parents();
	for (char **p = parents; *p; p++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/busy", *p);
		assert_int_equal(rmdir(path), 0);
		free(*p);
	}
	free(parents);
	assert_int_equal(monitor_client_delete(rt->client, "first", 0, NULL), 0);
	assert_int_equal(monitor_client_delete(rt->client, "leftover", 0, NULL), 0);
	assert_int_equal(rt_cgroup_leftovers(), 0);
}

int
main(void)
{
	if (rt_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_oom, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_fork_bomb, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_cpu_quota, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_hygiene, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_stats_update, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_pod_cgroup, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_parent, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_reattach_tracking, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_stale_cgroup, rt_setup, rt_teardown),
	};
	return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
