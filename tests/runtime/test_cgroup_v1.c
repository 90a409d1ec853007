/*
 * The cgroup v1 backend on this machine's real hierarchy (suite root): detection, limits written
 * and read back, attach, stats, OOM kill and its notification (scenario 14), the pids limit
 * (15), the CPU quota (16), the device allow-list (11), kill and destroy with nothing left in any
 * controller, over 200 cycles (19). Each run uses its own instance, t-cgv1-PID, and removes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/cgroup.h"
#include "child.h"

static const char *const controllers[] = { "cpu",  "cpuacct", "cpuset", "memory",
					   "pids", "devices", "freezer" };

struct fixture {
	struct cgroup_manager *m;
	struct cgroup *pod;
	struct cgroup *cg[4];
	struct child kid[2];
};

static char instance[64];

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	for (size_t i = 0; i < ARRAY_SIZE(f->kid); i++)
		f->kid[i] = (struct child){ 0, -1, -1 };
	struct cgroup_manager_options o = { .instance = instance };
	korch_error *err = NULL;
	if (cgroup_manager_open(&o, &f->m, &err) < 0) {
		fprintf(stderr, "open: %s\n", korch_error_message(err));
		korch_error_free(err);
		free(f);
		return -1;
	}
	if (cgroup_create(f->m, NULL, "pod", NULL, &f->pod, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < ARRAY_SIZE(f->kid); i++)
		child_cleanup(&f->kid[i]);
	for (size_t i = ARRAY_SIZE(f->cg); i-- > 0;) {
		if (f->cg[i])
			cgroup_destroy(f->cg[i], NULL);
		cgroup_free(f->cg[i]);
	}
	int r = 0;
	if (f->pod && cgroup_destroy(f->pod, NULL) < 0)
		r = -1;
	cgroup_free(f->pod);
	if (cgroup_manager_remove_parent(f->m, NULL) < 0)
		r = -1;
	cgroup_manager_free(f->m);
	free(f);
	return r;
}

static char *
read_text(const char *dir, const char *file)
{
	char *path = NULL, *data = NULL;
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		abort();
	if (read_file(path, 1 << 20, &data, NULL, NULL) < 0) {
		free(path);
		return strdup("<unreadable>");
	}
	free(path);
	data[strcspn(data, "\n")] = '\0';
	return data;
}

static void
assert_file(const struct cgroup *cg, const char *controller, const char *file, const char *want)
{
	_cleanup_free_ char *got = read_text(cgroup_dir(cg, controller), file);
	if (!streq(got, want))
		fail_msg("%s/%s: got \"%s\", want \"%s\"", cgroup_dir(cg, controller), file, got,
			 want);
}

static bool
procs_contains(const struct cgroup *cg, const char *controller, pid_t pid)
{
	_cleanup_free_ char *path = NULL, *data = NULL;
	assert_true(asprintf(&path, "%s/cgroup.procs", cgroup_dir(cg, controller)) > 0);
	if (read_file(path, 1 << 20, &data, NULL, NULL) < 0)
		return false;
	char want[24];
	snprintf(want, sizeof(want), "%d", (int)pid);
	for (char *save = NULL, *l = strtok_r(data, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (streq(l, want))
			return true;
	return false;
}

static size_t
count_subdirs(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The expected parent of a controller: its mount + this process's cgroup + korch-INSTANCE. */
static char *
expected_parent(const char *controller)
{
	_cleanup_free_ char *text = NULL;
	assert_int_equal(read_file("/proc/self/cgroup", 1 << 20, &text, NULL, NULL), 0);
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (!streq(c1 + 1, controller))
			continue;
		char *p = NULL;
		assert_true(asprintf(&p, "/sys/fs/cgroup/%s%s/korch-%s", controller,
				     streq(c2 + 1, "/") ? "" : c2 + 1, instance) > 0);
		return p;
	}
	fail_msg("no %s line in /proc/self/cgroup", controller);
	return NULL;
}

static void
test_detect(void **state)
{
	struct fixture *f = *state;
	/* The stray cgroup2 mount at /sys/fs/cgroup/unified does not make this v2. */
	assert_int_equal(cgroup_manager_mode(f->m), CGROUP_MODE_V1);
	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++) {
		_cleanup_free_ char *want = expected_parent(controllers[i]);
		assert_string_equal(cgroup_manager_parent_dir(f->m, controllers[i]), want);
		struct stat st;
		assert_int_equal(stat(want, &st), 0);
		_cleanup_free_ char *pod = NULL;
		assert_true(asprintf(&pod, "%s/pod", want) > 0);
		assert_string_equal(cgroup_dir(f->pod, controllers[i]), pod);
		assert_int_equal(stat(pod, &st), 0);
	}
	assert_null(cgroup_manager_parent_dir(f->m, "hugetlb"));
	/* CLONE_INTO_CGROUP is a v2 feature. */
	korch_error *err = NULL;
	int fd = -1;
	assert_int_equal(cgroup_open_dir_fd(f->pod, &fd, &err), KORCH_EUNSUPPORTED);
	assert_string_equal(korch_error_message(err),
			    "CLONE_INTO_CGROUP needs cgroup v2 (this is v1: use cgroup_attach)");
	korch_error_free(err);
	/* Bad names are refused before anything is made. */
	err = NULL;
	struct cgroup *cg = NULL;
	assert_int_equal(cgroup_create(f->m, f->pod, "../x", NULL, &cg, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "invalid cgroup name \"../x\"");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(cgroup_open(f->m, f->pod, "nope", &cg, &err), KORCH_ENOTFOUND);
	korch_error_free(err);
	struct cgroup_manager *m2 = NULL;
	struct cgroup_manager_options bad = { .instance = "a/b" };
	err = NULL;
	assert_int_equal(cgroup_manager_open(&bad, &m2, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "cgroup manager: invalid instance name \"a/b\"");
	korch_error_free(err);
}

static void
test_limits_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits l = {
		.memory_bytes = 64 << 20,
		.cpu_shares = cgroup_cpu_shares_from_milli(500),
		.cpu_quota_us = cgroup_cpu_quota_from_milli(500, 0),
		.pids_max = 64,
		.pids_set = true,
		.cpuset_cpus = "0",
		.cpuset_mems = "0",
	};
	assert_int_equal(cgroup_create(f->m, f->pod, "c1", &l, &f->cg[0], NULL), 0);
	struct cgroup *c = f->cg[0];
	assert_file(c, "memory", "memory.limit_in_bytes", "67108864");
	assert_file(c, "memory", "memory.memsw.limit_in_bytes", "67108864");
	assert_file(c, "cpu", "cpu.shares", "512");
	assert_file(c, "cpu", "cpu.cfs_period_us", "100000");
	assert_file(c, "cpu", "cpu.cfs_quota_us", "50000");
	assert_file(c, "pids", "pids.max", "64");
	assert_file(c, "cpuset", "cpuset.cpus", "0");
	assert_file(c, "cpuset", "cpuset.mems", "0");

	/* Raising memory writes memsw first; the rest reset to defaults. */
	struct cgroup_limits u = { .memory_bytes = 128 << 20, .pids_max = 0, .pids_set = true };
	assert_int_equal(cgroup_update(c, &u, NULL), 0);
	assert_file(c, "memory", "memory.limit_in_bytes", "134217728");
	assert_file(c, "memory", "memory.memsw.limit_in_bytes", "134217728");
	assert_file(c, "cpu", "cpu.shares", "1024");
	assert_file(c, "cpu", "cpu.cfs_quota_us", "-1");
	assert_file(c, "pids", "pids.max", "1"); /* runc: 0 means 1 */
	_cleanup_free_ char *cpus = read_text(cgroup_dir(f->pod, "cpuset"), "cpuset.cpus");
	assert_file(c, "cpuset", "cpuset.cpus", cpus);

	/* Lowering writes the limit first; -1 means unlimited pids. */
	struct cgroup_limits d = { .memory_bytes = 32 << 20,
				   .pids_max = -1,
				   .pids_set = true,
				   .cpu_quota_us = 150000,
				   .cpu_period_us = 50000 };
	assert_int_equal(cgroup_update(c, &d, NULL), 0);
	assert_file(c, "memory", "memory.limit_in_bytes", "33554432");
	assert_file(c, "memory", "memory.memsw.limit_in_bytes", "33554432");
	assert_file(c, "pids", "pids.max", "max");
	assert_file(c, "cpu", "cpu.cfs_period_us", "50000");
	assert_file(c, "cpu", "cpu.cfs_quota_us", "150000");

	/* Unlimited memory: both back to the kernel's maximum. */
	struct cgroup_limits z = { 0 };
	assert_int_equal(cgroup_update(c, &z, NULL), 0);
	assert_file(c, "memory", "memory.limit_in_bytes", "9223372036854771712");
	assert_file(c, "memory", "memory.memsw.limit_in_bytes", "9223372036854771712");
	assert_file(c, "pids", "pids.max", "max");

	/* A kernel refusal comes back with the file and the errno. */
	korch_error *err = NULL;
	struct cgroup_limits bad = { .cpuset_cpus = "99" };
	assert_int_equal(cgroup_update(c, &bad, &err), KORCH_ESYSTEM);
	_cleanup_free_ char *want = NULL;
	assert_true(
		asprintf(
			&want,
			"update cgroup %s: write \"99\" to %s/cpuset.cpus: Numerical result out of range",
			cgroup_path(c), cgroup_dir(c, "cpuset")) > 0);
	assert_string_equal(korch_error_message(err), want);
	assert_int_equal(korch_error_errno(err), ERANGE);
	korch_error_free(err);
}

static void
sleeper(int res_w, void *arg)
{
	child_send(res_w, 1);
	pause();
}

static void
test_attach_stats_kill_destroy(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cgroup_create(f->m, f->pod, "c2", NULL, &f->cg[0], NULL), 0);
	struct cgroup *c = f->cg[0];
	assert_int_equal(child_start(&f->kid[0], sleeper, NULL), 0);
	assert_int_equal(cgroup_attach(c, f->kid[0].pid, NULL), 0);
	child_go(&f->kid[0]);
	int64_t v;
	assert_true(child_recv(&f->kid[0], &v, 5000));
	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++)
		assert_true(procs_contains(c, controllers[i], f->kid[0].pid));
	struct cgroup_stats s;
	assert_int_equal(cgroup_read_stats(c, &s, NULL), 0);
	assert_int_equal(s.pids_current, 1);
	assert_true(s.cpu_usage_ns > 0);
	assert_true(s.memory_usage_bytes > 0);
	assert_true(s.memory_working_set_bytes <= s.memory_usage_bytes);
	assert_int_equal(s.oom_kills, 0);

	assert_int_equal(cgroup_kill(c, NULL), 0);
	int status = child_wait(&f->kid[0]);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(cgroup_destroy(c, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++)
		assert_int_equal(access(cgroup_dir(c, controllers[i]), F_OK), -1);
	/* Destroying again is fine; the handle stays valid until freed. */
	assert_int_equal(cgroup_destroy(c, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(cgroup_attach(c, getpid(), &err), KORCH_ESYSTEM);
	assert_int_equal(korch_error_errno(err), ENOENT);
	korch_error_free(err);
}

/* Destroy kills what is left, including a child that forked grandchildren. */
static void
forker(int res_w, void *arg)
{
	for (int i = 0; i < 5; i++)
		if (fork() == 0) {
			pause();
			_exit(0);
		}
	child_send(res_w, 1);
	pause();
}

static void
test_destroy_kills_tree(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cgroup_create(f->m, f->pod, "c3", NULL, &f->cg[0], NULL), 0);
	assert_int_equal(child_start(&f->kid[0], forker, NULL), 0);
	assert_int_equal(cgroup_attach(f->cg[0], f->kid[0].pid, NULL), 0);
	child_go(&f->kid[0]);
	int64_t v;
	assert_true(child_recv(&f->kid[0], &v, 5000));
	struct cgroup_stats s;
	assert_int_equal(cgroup_read_stats(f->cg[0], &s, NULL), 0);
	assert_int_equal(s.pids_current, 6);
	/* Destroying the pod takes its container cgroup with it. */
	assert_int_equal(cgroup_destroy(f->pod, NULL), 0);
	int status = child_wait(&f->kid[0]);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++)
		assert_int_equal(access(cgroup_dir(f->pod, controllers[i]), F_OK), -1);
}

static void
hog(int res_w, void *arg)
{
	size_t len = 200 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	child_send(res_w, 1); /* not reached under the limit */
}

static void
test_oom(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits l = { .memory_bytes = 64 << 20 };
	assert_int_equal(cgroup_create(f->m, f->pod, "oom", &l, &f->cg[0], NULL), 0);
	struct cgroup *c = f->cg[0];
	int fd = -1;
	assert_int_equal(cgroup_oom_watch(c, &fd, NULL), 0);
	assert_int_equal(child_start(&f->kid[0], hog, NULL), 0);
	assert_int_equal(cgroup_attach(c, f->kid[0].pid, NULL), 0);
	int64_t t0 = now_ms();
	child_go(&f->kid[0]);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 2000), 1);
	int64_t notified_ms = now_ms() - t0;
	cgroup_oom_drain(fd);
	int status = child_wait(&f->kid[0]);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	uint64_t kills = 0;
	assert_int_equal(cgroup_oom_kills(c, &kills, NULL), 0);
	assert_true(kills >= 1);
	assert_true(notified_ms < 2000);
	print_message("# OOM notification after %" PRId64 " ms, oom_kill %" PRIu64 "\n",
		      notified_ms, kills);
	/* The sibling pod cgroup and this process were not touched. */
	assert_int_equal(kill(getpid(), 0), 0);
	close(fd);
}

static void
hold_64m(int res_w, void *arg)
{
	size_t len = 64 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	child_send(res_w, 1);
	pause();
}

/* Scenario 18's policy on v1: a limit below the usage is refused (EBUSY), never a hang. */
static void
test_lower_below_usage(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits l = { .memory_bytes = 256 << 20 };
	assert_int_equal(cgroup_create(f->m, f->pod, "low", &l, &f->cg[0], NULL), 0);
	assert_int_equal(child_start(&f->kid[0], hold_64m, NULL), 0);
	assert_int_equal(cgroup_attach(f->cg[0], f->kid[0].pid, NULL), 0);
	child_go(&f->kid[0]);
	int64_t v;
	assert_true(child_recv(&f->kid[0], &v, 10000));
	struct cgroup_limits low = { .memory_bytes = 16 << 20 };
	korch_error *err = NULL;
	int64_t t0 = now_ms();
	assert_int_equal(cgroup_update(f->cg[0], &low, &err), KORCH_ESYSTEM);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(korch_error_errno(err), EBUSY);
	korch_error_free(err);
	assert_file(f->cg[0], "memory", "memory.limit_in_bytes", "268435456");
	/* The child is still there, untouched. */
	assert_int_equal(kill(f->kid[0].pid, 0), 0);
}

static void
forkbomb(int res_w, void *arg)
{
	int n = 0, e = 0;
	for (;;) {
		pid_t p = fork();
		if (p < 0) {
			e = errno;
			break;
		}
		if (p == 0) {
			pause();
			_exit(0);
		}
		n++;
		if (n > 1000)
			break;
	}
	child_send(res_w, e);
	child_send(res_w, n);
	pause();
}

static void
test_pids(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits l = { .pids_max = 64, .pids_set = true };
	assert_int_equal(cgroup_create(f->m, f->pod, "bomb", &l, &f->cg[0], NULL), 0);
	struct cgroup *c = f->cg[0];
	assert_int_equal(child_start(&f->kid[0], forkbomb, NULL), 0);
	assert_int_equal(cgroup_attach(c, f->kid[0].pid, NULL), 0);
	child_go(&f->kid[0]);
	int64_t e = 0, n = 0;
	assert_true(child_recv(&f->kid[0], &e, 10000));
	assert_true(child_recv(&f->kid[0], &n, 1000));
	assert_int_equal(e, EAGAIN);
	assert_int_equal(n, 63); /* the child itself is the 64th */
	struct cgroup_stats s;
	assert_int_equal(cgroup_read_stats(c, &s, NULL), 0);
	assert_int_equal(s.pids_current, 64);
	int64_t t0 = now_ms();
	assert_int_equal(cgroup_destroy(c, NULL), 0);
	int status = child_wait(&f->kid[0]);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(now_ms() - t0 < 5000);
}

static void
busy(int res_w, void *arg)
{
	setpriority(PRIO_PROCESS, 0, -20);
	int64_t end = now_ms() + 2000;
	volatile uint64_t x = 0;
	while (now_ms() < end)
		x++;
	child_send(res_w, 1);
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
keyed_value(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *line = text; line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ' ')
			return strtoull(line + n + 1, NULL, 10);
	fail_msg("no %s in %s", key, text);
	return 0;
}

/*
 * Two busy processes for 2 s want up to 4 s of CPU; the 50% quota allows 1 s (+15%). How much
 * less they get depends on what else the machine runs, so the lower bound comes from the
 * kernel's own account: in each period the group was throttled it had used its whole 50 ms.
 */
static void
test_cpu_quota(void **state)
{
	struct fixture *f = *state;
	/* The most shares there are, at every level of the test's own cgroups, so that the
	 * machine's other work does not keep the group from reaching its quota. */
	struct cgroup_limits l = { .cpu_quota_us = 50000, .cpu_shares = 262144 };
	assert_int_equal(cgroup_create(f->m, f->pod, "cpu", &l, &f->cg[0], NULL), 0);
	struct cgroup *c = f->cg[0];
	const char *levels[] = { cgroup_manager_parent_dir(f->m, "cpu"),
				 cgroup_dir(f->pod, "cpu") };
	for (int i = 0; i < 2; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/cpu.shares", levels[i]);
		assert_int_equal(write_into(path, "262144"), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(child_start(&f->kid[i], busy, NULL), 0);
		assert_int_equal(cgroup_attach(c, f->kid[i].pid, NULL), 0);
	}
	for (int i = 0; i < 2; i++)
		child_go(&f->kid[i]);
	for (int i = 0; i < 2; i++) {
		int64_t v;
		assert_true(child_recv(&f->kid[i], &v, 10000));
		assert_int_equal(child_wait(&f->kid[i]), 0);
	}
	struct cgroup_stats s;
	assert_int_equal(cgroup_read_stats(c, &s, NULL), 0);
	char *stat = NULL;
	char path[4200];
	snprintf(path, sizeof(path), "%s/cpu.stat", cgroup_dir(c, "cpu"));
	assert_int_equal(read_file(path, 65536, &stat, NULL, NULL), 0);
	uint64_t periods = keyed_value(stat, "nr_periods"),
		 throttled = keyed_value(stat, "nr_throttled");
	free(stat);
	double sec = (double)s.cpu_usage_ns / 1e9;
	print_message("# 2 s of 2 busy processes at a 50%% quota used %.3f s of CPU, throttled in "
		      "%llu of %llu periods\n",
		      sec, (unsigned long long)throttled, (unsigned long long)periods);
	assert_true(sec <= 1.15);
	assert_true(sec <= (double)periods * 0.05 * 1.15);
	assert_true(throttled >= 1);
	assert_true(sec >= (double)throttled * 0.05 * 0.85);
}

/* Reports the errno (0 for success) of each device operation. */
static void
device_probe(int res_w, void *arg)
{
	const char *dir = arg;
	int fd = open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	char node[256];
	snprintf(node, sizeof(node), "%s/sda", dir);
	int r = mknod(node, S_IFBLK | 0600, makedev(8, 0));
	child_send(res_w, r < 0 ? errno : 0);
	fd = open(node, O_RDONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	unlink(node);
}

static void
run_device_probe(struct fixture *f, struct cgroup *c, const char *dir, int64_t want[5])
{
	assert_int_equal(child_start(&f->kid[1], device_probe, (void *)dir), 0);
	assert_int_equal(cgroup_attach(c, f->kid[1].pid, NULL), 0);
	child_go(&f->kid[1]);
	for (int i = 0; i < 5; i++) {
		int64_t e = -1;
		assert_true(child_recv(&f->kid[1], &e, 5000));
		if (e != want[i])
			fail_msg("device step %d: errno %" PRId64 ", want %" PRId64, i, e, want[i]);
	}
	assert_int_equal(child_wait(&f->kid[1]), 0);
}

static void
test_devices(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/korch-test-dev-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cgroup_create(f->m, f->pod, "dev", NULL, &f->cg[0], NULL), 0);
	assert_int_equal(cgroup_set_devices(f->cg[0], CGROUP_DEVICES_DEFAULT, NULL), 0);
	_cleanup_free_ char *list = read_text(cgroup_dir(f->cg[0], "devices"), "devices.list");
	assert_string_equal(list, "c *:* m");
	/* kmsg read and write: EPERM; null works; mknod of sda works (m), opening it: EPERM. */
	int64_t want[5] = { EPERM, EPERM, 0, 0, EPERM };
	run_device_probe(f, f->cg[0], dir, want);
	/* Still denied after a live update. */
	struct cgroup_limits l = { .memory_bytes = 256 << 20 };
	assert_int_equal(cgroup_update(f->cg[0], &l, NULL), 0);
	run_device_probe(f, f->cg[0], dir, want);

	/* Privileged: everything; opening 8:0 reaches the driver, which has no such disk here. */
	assert_int_equal(cgroup_create(f->m, f->pod, "priv", NULL, &f->cg[1], NULL), 0);
	assert_int_equal(cgroup_set_devices(f->cg[1], CGROUP_DEVICES_ALL, NULL), 0);
	int64_t all[5] = { 0, 0, 0, 0, ENXIO };
	run_device_probe(f, f->cg[1], dir, all);
	rmdir(dir);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void
quick(int res_w, void *arg)
{
	child_send(res_w, 1);
	pause();
}

static void
test_hygiene(void **state)
{
	struct fixture *f = *state;
	int fds = count_fds();
	for (int i = 0; i < 200; i++) {
		struct cgroup_limits l = { .memory_bytes = 32 << 20,
					   .pids_max = 16,
					   .pids_set = true };
		char name[32];
		snprintf(name, sizeof(name), "cycle%d", i);
		assert_int_equal(cgroup_create(f->m, f->pod, name, &l, &f->cg[0], NULL), 0);
		assert_int_equal(cgroup_set_devices(f->cg[0], CGROUP_DEVICES_DEFAULT, NULL), 0);
		assert_int_equal(child_start(&f->kid[0], quick, NULL), 0);
		assert_int_equal(cgroup_attach(f->cg[0], f->kid[0].pid, NULL), 0);
		child_go(&f->kid[0]);
		int64_t v;
		assert_true(child_recv(&f->kid[0], &v, 5000));
		assert_int_equal(cgroup_kill(f->cg[0], NULL), 0);
		int status = child_wait(&f->kid[0]);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(cgroup_destroy(f->cg[0], NULL), 0);
		cgroup_free(f->cg[0]);
		f->cg[0] = NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++)
		assert_int_equal(count_subdirs(cgroup_dir(f->pod, controllers[i])), 0);
	assert_int_equal(count_fds(), fds);
}

/* Removing the parent leaves nothing of the instance in any controller. */
static void
test_remove_parent(void **state)
{
	struct cgroup_manager_options o = { .instance = instance };
	struct cgroup_manager *m = NULL;
	assert_int_equal(cgroup_manager_open(&o, &m, NULL), 0);
	struct cgroup *pod = NULL, *c = NULL;
	assert_int_equal(cgroup_create(m, NULL, "p", NULL, &pod, NULL), 0);
	assert_int_equal(cgroup_create(m, pod, "c", NULL, &c, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(cgroup_manager_remove_parent(m, &err), KORCH_EBUSY);
	korch_error_free(err);
	assert_int_equal(cgroup_destroy(pod, NULL), 0);
	cgroup_free(c);
	cgroup_free(pod);
	assert_int_equal(cgroup_manager_remove_parent(m, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++) {
		_cleanup_free_ char *p = expected_parent(controllers[i]);
		assert_int_equal(access(p, F_OK), -1);
	}
	cgroup_manager_free(m);
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	struct statfs sfs;
	if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == 0x63677270) {
		printf("1..0 # SKIP cgroup v2 host (this is the v1 backend's test)\n");
		return 0;
	}
	snprintf(instance, sizeof(instance), "t-cgv1-%d", (int)getpid());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_detect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_stats_kill_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_kills_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lower_below_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hygiene, setup, teardown),
		cmocka_unit_test(test_remove_parent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
