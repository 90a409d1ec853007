/*
 * The v2 device program on the real kernel (suite root): loaded with bpf(), attached to a
 * cgroup of a cgroup2 hierarchy (here the hybrid layout's /sys/fs/cgroup/unified, which the
 * kernel consults for device access beside the v1 devices controller), and a child inside it
 * gets exactly scenario 11's errnos. The cgroup korch-t-bpf-PID is removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/cgroup-internal.h"
#include "child.h"

static char cg2_dir[512];
static char node_dir[64];

/* The mount point of a cgroup2 filesystem, from mountinfo, or NULL. */
static char *
find_cgroup2(void)
{
	_cleanup_free_ char *text = NULL;
	if (read_file("/proc/self/mountinfo", 1 << 20, &text, NULL, NULL) < 0)
		return NULL;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char mp[256], rest[512];
		if (sscanf(l, "%*s %*s %*s %*s %255s %*s %511[^\n]", mp, rest) != 2)
			continue;
		if (strstr(rest, "- cgroup2 "))
			return strdup(mp);
	}
	return NULL;
}

static void
probe(int res_w, void *arg)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	char node[128];
	snprintf(node, sizeof(node), "%s/sda", node_dir);
	int r = mknod(node, S_IFBLK | 0600, makedev(8, 0));
	child_send(res_w, r < 0 ? errno : 0);
	fd = open(node, O_RDONLY | O_CLOEXEC);
	child_send(res_w, fd < 0 ? errno : 0);
	unlink(node);
}

static void
test_bpf_device_program(void **state)
{
	assert_int_equal(mkdir(cg2_dir, 0755), 0);
	korch_error *err = NULL;
	int r = cgroup_device_attach_bpf(cg2_dir, cgroup_default_device_rules,
					 cgroup_n_default_device_rules, &err);
	if (r < 0)
		fail_msg("%s", korch_error_message(err));
	struct child c = { 0, -1, -1 };
	assert_int_equal(child_start(&c, probe, NULL), 0);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)c.pid);
	if (cg_write(cg2_dir, "cgroup.procs", pid, &err) < 0) {
		child_cleanup(&c);
		fail_msg("%s", korch_error_message(err));
	}
	child_go(&c);
	const int64_t want[] = { EPERM, EPERM, 0, 0, 0, EPERM };
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		int64_t e = -1;
		if (!child_recv(&c, &e, 5000) || e != want[i]) {
			child_cleanup(&c);
			fail_msg("step %zu: errno %" PRId64 ", want %" PRId64, i, e, want[i]);
		}
	}
	assert_int_equal(child_wait(&c), 0);
	/* The same operations from outside the cgroup: only the missing disk stops them. */
	struct child o = { 0, -1, -1 };
	assert_int_equal(child_start(&o, probe, NULL), 0);
	child_go(&o);
	const int64_t outside[] = { 0, 0, 0, 0, 0, ENXIO };
	for (size_t i = 0; i < ARRAY_SIZE(outside); i++) {
		int64_t e = -1;
		assert_true(child_recv(&o, &e, 5000));
		assert_int_equal(e, outside[i]);
	}
	assert_int_equal(child_wait(&o), 0);
}

static int
teardown(void **state)
{
	cg_rmdir_retry(cg2_dir, NULL);
	rmdir(node_dir);
	return 0;
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	_cleanup_free_ char *mp = find_cgroup2();
	if (!mp) {
		printf("1..0 # SKIP no cgroup2 hierarchy mounted\n");
		return 0;
	}
	_cleanup_free_ char *own = NULL;
	assert_int_equal(read_file("/proc/self/cgroup", 1 << 20, &own, NULL, NULL), 0);
	char *line = strstr(own, "0::");
	if (!line) {
		printf("1..0 # SKIP no unified line in /proc/self/cgroup\n");
		return 0;
	}
	line += 3;
	line[strcspn(line, "\n")] = '\0';
	snprintf(cg2_dir, sizeof(cg2_dir), "%s%s/korch-t-bpf-%d", mp, streq(line, "/") ? "" : line,
		 (int)getpid());
	snprintf(node_dir, sizeof(node_dir), "/tmp/korch-test-bpf-XXXXXX");
	if (!mkdtemp(node_dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bpf_device_program, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
