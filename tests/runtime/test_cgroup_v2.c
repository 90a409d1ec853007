/*
 * The cgroup v2 backend on a directory tree that mimics cgroupfs (suite unit): the leaf korch
 * moves into, controllers enabled down the path, limits written, stats and memory.events parsed,
 * the OOM watch, cgroup.kill, CLONE_INTO_CGROUP's directory fd. The tree holds the files the
 * kernel would create in each cgroup; the test creates them before each mkdir would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/cgroup.h"

static const char *const container_files[] = {
	"cgroup.procs",   "cgroup.subtree_control",
	"cgroup.kill",    "cgroup.freeze",
	"memory.max",     "memory.swap.max",
	"memory.current", "memory.stat",
	"memory.events",  "cpu.weight",
	"cpu.max",        "cpu.stat",
	"pids.max",       "pids.current",
	"cpuset.cpus",    "cpuset.mems",
};

struct tree {
	char *top;  /* the temporary directory */
	char *root; /* top/root: the fake cgroup root */
};

static char *pathf(const char *fmt, ...) _printf_(1, 2);
static char *
pathf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = NULL;
	if (vasprintf(&p, fmt, ap) < 0)
		abort();
	va_end(ap);
	return p;
}

static void
put(const char *dir, const char *file, const char *text)
{
	_cleanup_free_ char *p = pathf("%s/%s", dir, file);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
get(const char *dir, const char *file)
{
	_cleanup_free_ char *p = pathf("%s/%s", dir, file);
	char *data = NULL;
	if (read_file(p, 65536, &data, NULL, NULL) < 0)
		return strdup("<missing>");
	return data;
}

static void
assert_content(const char *dir, const char *file, const char *want)
{
	_cleanup_free_ char *got = get(dir, file);
	if (!streq(got, want))
		fail_msg("%s/%s: \"%s\", want \"%s\"", dir, file, got, want);
}

/* A cgroup directory as the kernel would make it (only the files korch touches). */
static void
mkcg(const char *dir)
{
	assert_int_equal(mkdir_p(dir, 0755, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(container_files); i++)
		put(dir, container_files[i], "");
}

static int
setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	t->top = strdup("/tmp/korch-test-cgv2-XXXXXX");
	if (!mkdtemp(t->top))
		return -1;
	t->root = pathf("%s/root", t->top);
	mkcg(t->root);
	put(t->root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tree *t = *state;
	rm_rf(t->top, NULL);
	free(t->top);
	free(t->root);
	free(t);
	return 0;
}

static int
open_manager(struct tree *t, const char *own, const char *parent_path, struct cgroup_manager **m,
	     korch_error **err)
{
	_cleanup_free_ char *pc = pathf("%s/proc-self-cgroup", t->top);
	FILE *f = fopen(pc, "we");
	fprintf(f, "0::%s\n", own);
	fclose(f);
	struct cgroup_manager_options o = {
		.instance = "t2",
		.parent_path = parent_path,
		.root = t->root,
		.proc_cgroup = pc,
		.force_mode = CGROUP_MODE_V2,
	};
	return cgroup_manager_open(&o, m, err);
}

static void
test_leaf_and_controllers(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ char *app = pathf("%s/user.slice/app", t->root);
	_cleanup_free_ char *leaf = pathf("%s/korch-t2.self", app);
	_cleanup_free_ char *parent = pathf("%s/korch-t2", app);
	_cleanup_free_ char *slice = pathf("%s/user.slice", t->root);
	mkcg(slice);
	mkcg(app);
	mkcg(leaf);
	mkcg(parent);
	struct cgroup_manager *m = NULL;
	korch_error *err = NULL;
	if (open_manager(t, "/user.slice/app", NULL, &m, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	assert_int_equal(cgroup_manager_mode(m), CGROUP_MODE_V2);
	assert_string_equal(cgroup_manager_parent_dir(m, NULL), parent);
	/* This process moved into its own leaf, beside the parent. */
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_content(leaf, "cgroup.procs", pid);
	/* Controllers enabled from the root down to the parent, not in the leaf. */
	const char *enable = "+cpuset +cpu +memory +pids";
	assert_content(t->root, "cgroup.subtree_control", enable);
	assert_content(slice, "cgroup.subtree_control", enable);
	assert_content(app, "cgroup.subtree_control", enable);
	assert_content(parent, "cgroup.subtree_control", enable);
	assert_content(leaf, "cgroup.subtree_control", "");

	/* A pod distributes to its containers; a container stays a leaf. */
	_cleanup_free_ char *pod_dir = pathf("%s/pod1", parent);
	_cleanup_free_ char *c_dir = pathf("%s/c1", pod_dir);
	mkcg(pod_dir);
	mkcg(c_dir);
	struct cgroup *pod = NULL, *c = NULL;
	assert_int_equal(cgroup_create(m, NULL, "pod1", NULL, &pod, NULL), 0);
	assert_int_equal(cgroup_create(m, pod, "c1", NULL, &c, NULL), 0);
	assert_string_equal(cgroup_path(c), "/user.slice/app/korch-t2/pod1/c1");
	assert_string_equal(cgroup_dir(c, "memory"), c_dir);
	assert_content(pod_dir, "cgroup.subtree_control", enable);
	assert_content(c_dir, "cgroup.subtree_control", "");
	/* Nothing set: no limit file written. */
	assert_content(c_dir, "memory.max", "");
	assert_content(c_dir, "pids.max", "");
	cgroup_free(c);
	cgroup_free(pod);
	cgroup_manager_free(m);

	/* A child process of korch starts in the leaf: it keeps the same parent, no move. */
	put(leaf, "cgroup.procs", "");
	assert_int_equal(open_manager(t, "/user.slice/app/korch-t2.self", NULL, &m, NULL), 0);
	assert_string_equal(cgroup_manager_parent_dir(m, NULL), parent);
	assert_content(leaf, "cgroup.procs", "");
	cgroup_manager_free(m);
}

static void
test_root_and_override(void **state)
{
	struct tree *t = *state;
	/* In the root cgroup processes may stay: no leaf. */
	_cleanup_free_ char *parent = pathf("%s/korch-t2", t->root);
	mkcg(parent);
	struct cgroup_manager *m = NULL;
	assert_int_equal(open_manager(t, "/", NULL, &m, NULL), 0);
	assert_string_equal(cgroup_manager_parent_dir(m, NULL), parent);
	_cleanup_free_ char *leaf = pathf("%s/korch-t2.self", t->root);
	assert_int_equal(access(leaf, F_OK), -1);
	cgroup_manager_free(m);

	/* --cgroup-parent elsewhere: used as is, and no move either. */
	_cleanup_free_ char *kslice = pathf("%s/korch.slice", t->root);
	_cleanup_free_ char *over = pathf("%s/korch.slice/x", t->root);
	mkcg(kslice);
	mkcg(over);
	assert_int_equal(open_manager(t, "/user.slice/app", "/korch.slice/x", &m, NULL), 0);
	assert_string_equal(cgroup_manager_parent_dir(m, NULL), over);
	assert_content(over, "cgroup.subtree_control", "+cpuset +cpu +memory +pids");
	cgroup_manager_free(m);

	korch_error *err = NULL;
	assert_int_equal(open_manager(t, "/", "relative/x", &m, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "cgroup parent \"relative/x\" must be an absolute path below the root");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(open_manager(t, "/", "/a/../b", &m, &err), KORCH_EINVALID);
	korch_error_free(err);

	/* A controller the root does not offer is refused by name. */
	put(t->root, "cgroup.controllers", "cpu io memory\n");
	err = NULL;
	assert_int_equal(open_manager(t, "/", NULL, &m, &err), KORCH_EUNSUPPORTED);
	_cleanup_free_ char *want = pathf(
		"cgroups (v2): cgroup v2 controller pids is not available in %s/cgroup.controllers",
		t->root);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
}

struct fixture2 {
	struct cgroup_manager *m;
	struct cgroup *pod, *c;
	char *c_dir;
};

static void
make_container(struct tree *t, struct fixture2 *f, const struct cgroup_limits *l)
{
	_cleanup_free_ char *parent = pathf("%s/korch-t2", t->root);
	_cleanup_free_ char *pod_dir = pathf("%s/pod", parent);
	f->c_dir = pathf("%s/c", pod_dir);
	mkcg(parent);
	mkcg(pod_dir);
	mkcg(f->c_dir);
	assert_int_equal(open_manager(t, "/", NULL, &f->m, NULL), 0);
	assert_int_equal(cgroup_create(f->m, NULL, "pod", NULL, &f->pod, NULL), 0);
	assert_int_equal(cgroup_create(f->m, f->pod, "c", l, &f->c, NULL), 0);
}

static void
free_container(struct fixture2 *f)
{
	cgroup_free(f->c);
	cgroup_free(f->pod);
	cgroup_manager_free(f->m);
	free(f->c_dir);
}

static void
test_limits(void **state)
{
	struct tree *t = *state;
	struct fixture2 f = { 0 };
	struct cgroup_limits l = {
		.memory_bytes = 64 << 20,
		.cpu_shares = cgroup_cpu_shares_from_milli(500),
		.cpu_quota_us = 50000,
		.pids_max = 64,
		.pids_set = true,
		.cpuset_cpus = "0-1",
		.cpuset_mems = "0",
	};
	make_container(t, &f, &l);
	assert_content(f.c_dir, "memory.max", "67108864");
	assert_content(f.c_dir, "memory.swap.max", "0");
	assert_content(f.c_dir, "cpu.weight", "59"); /* shares 512 */
	assert_content(f.c_dir, "cpu.max", "50000 100000");
	assert_content(f.c_dir, "pids.max", "64");
	assert_content(f.c_dir, "cpuset.cpus", "0-1");
	assert_content(f.c_dir, "cpuset.mems", "0");

	/* An update writes the whole state: zeros are the defaults. */
	struct cgroup_limits z = { .pids_set = true, .pids_max = 0 };
	assert_int_equal(cgroup_update(f.c, &z, NULL), 0);
	assert_content(f.c_dir, "memory.max", "max");
	assert_content(f.c_dir, "memory.swap.max", "0");
	assert_content(f.c_dir, "cpu.weight", "100");
	assert_content(f.c_dir, "cpu.max", "max 100000");
	assert_content(f.c_dir, "pids.max", "1");
	assert_content(f.c_dir, "cpuset.cpus", "");
	struct cgroup_limits u = {
		.cpu_quota_us = 25000, .cpu_period_us = 50000, .pids_set = true, .pids_max = -1
	};
	assert_int_equal(cgroup_update(f.c, &u, NULL), 0);
	assert_content(f.c_dir, "cpu.max", "25000 50000");
	assert_content(f.c_dir, "pids.max", "max");

	/* Without swap accounting there is no memory.swap.max, and none is made. */
	_cleanup_free_ char *swap = pathf("%s/memory.swap.max", f.c_dir);
	unlink(swap);
	struct cgroup_limits m = { .memory_bytes = 1 << 20 };
	assert_int_equal(cgroup_update(f.c, &m, NULL), 0);
	assert_content(f.c_dir, "memory.max", "1048576");
	assert_int_equal(access(swap, F_OK), -1);

	/* A missing file (controller not enabled) is an error naming it. */
	_cleanup_free_ char *pids = pathf("%s/pids.max", f.c_dir);
	unlink(pids);
	korch_error *err = NULL;
	assert_int_equal(cgroup_update(f.c, &m, &err), KORCH_ESYSTEM);
	_cleanup_free_ char *want = pathf("update cgroup /korch-t2/pod/c: open %s: No such file "
					  "or directory",
					  pids);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	free_container(&f);
}

static void
test_attach_fd_stats(void **state)
{
	struct tree *t = *state;
	struct fixture2 f = { 0 };
	make_container(t, &f, NULL);
	assert_int_equal(cgroup_attach(f.c, 4242, NULL), 0);
	assert_content(f.c_dir, "cgroup.procs", "4242");
	korch_error *err = NULL;
	assert_int_equal(cgroup_attach(f.c, 0, &err), KORCH_EINVALID);
	korch_error_free(err);
	/* The calling thread moves itself with 0 (on v2 in cgroup.procs). */
	assert_int_equal(cgroup_enter_self(f.c, NULL), 0);
	assert_content(f.c_dir, "cgroup.procs", "0");

	int fd = -1;
	assert_int_equal(cgroup_open_dir_fd(f.c, &fd, NULL), 0);
	struct stat st1, st2;
	assert_int_equal(fstat(fd, &st1), 0);
	assert_int_equal(stat(f.c_dir, &st2), 0);
	assert_true(S_ISDIR(st1.st_mode));
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	put(f.c_dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
	put(f.c_dir, "memory.current", "10485760\n");
	put(f.c_dir, "memory.stat", "anon 100\nfile 5000\nactive_file 1\ninactive_file 4194304\n");
	put(f.c_dir, "pids.current", "3\n");
	put(f.c_dir, "memory.events",
	    "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\noom_group_kill 0\n");
	struct cgroup_stats s;
	assert_int_equal(cgroup_read_stats(f.c, &s, NULL), 0);
	assert_int_equal(s.cpu_usage_ns, 1500000);
	assert_int_equal(s.memory_usage_bytes, 10485760);
	assert_int_equal(s.memory_working_set_bytes, 10485760 - 4194304);
	assert_int_equal(s.pids_current, 3);
	assert_int_equal(s.oom_kills, 1);

	/* More inactive file pages than usage (accounting lag): working set 0, never negative. */
	put(f.c_dir, "memory.stat", "inactive_file 20000000\n");
	assert_int_equal(cgroup_read_stats(f.c, &s, NULL), 0);
	assert_int_equal(s.memory_working_set_bytes, 0);

	put(f.c_dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\n");
	err = NULL;
	uint64_t kills = 7;
	assert_int_equal(cgroup_oom_kills(f.c, &kills, &err), KORCH_ESYSTEM);
	_cleanup_free_ char *want =
		pathf("OOM count of cgroup /korch-t2/pod/c: %s/memory.events has no oom_kill line",
		      f.c_dir);
	assert_string_equal(korch_error_message(err), want);
	assert_int_equal(kills, 7);
	korch_error_free(err);

	put(f.c_dir, "memory.current", "lots\n");
	err = NULL;
	assert_int_equal(cgroup_read_stats(f.c, &s, &err), KORCH_EINVALID);
	korch_error_free(err);
	free_container(&f);
}

static void
test_oom_watch(void **state)
{
	struct tree *t = *state;
	struct fixture2 f = { 0 };
	make_container(t, &f, NULL);
	put(f.c_dir, "memory.events", "oom 0\noom_kill 0\n");
	int fd = -1;
	assert_int_equal(cgroup_oom_watch(f.c, &fd, NULL), 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);
	/* What the kernel does on an OOM kill: memory.events changes. */
	put(f.c_dir, "memory.events", "oom 1\noom_kill 1\n");
	assert_int_equal(poll(&p, 1, 1000), 1);
	cgroup_oom_drain(fd);
	assert_int_equal(poll(&p, 1, 0), 0);
	uint64_t kills = 0;
	assert_int_equal(cgroup_oom_kills(f.c, &kills, NULL), 0);
	assert_int_equal(kills, 1);
	close(fd);
	free_container(&f);
}

static void
test_kill(void **state)
{
	struct tree *t = *state;
	struct fixture2 f = { 0 };
	make_container(t, &f, NULL);
	/* Empty: nothing written. */
	assert_int_equal(cgroup_kill(f.c, NULL), 0);
	assert_content(f.c_dir, "cgroup.kill", "");
	/* With a process listed: "1" to cgroup.kill, then wait until the list is empty. A helper
	 * plays the kernel's part and empties cgroup.procs once it sees the write. */
	put(f.c_dir, "cgroup.procs", "4242\n");
	pid_t kernel = fork();
	if (kernel == 0) {
		for (int i = 0; i < 2000; i++) {
			_cleanup_free_ char *k = get(f.c_dir, "cgroup.kill");
			if (streq(k, "1")) {
				put(f.c_dir, "cgroup.procs", "");
				_exit(0);
			}
			usleep(1000);
		}
		_exit(1);
	}
	assert_int_equal(cgroup_kill(f.c, NULL), 0);
	int status = 0;
	assert_int_equal(waitpid(kernel, &status, 0), kernel);
	assert_int_equal(status, 0);
	assert_content(f.c_dir, "cgroup.kill", "1");
	free_container(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leaf_and_controllers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_and_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_fd_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
