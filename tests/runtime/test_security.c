/*
 * security_apply_in_child() in forked children (suite root): the exact CapInh/CapPrm/CapEff/
 * CapBnd/CapAmb, NoNewPrivs and Seccomp lines of /proc/self/status for the default set, drop
 * ALL, add NET_ADMIN and privileged (scenario 4), as root and after switching to uid 1000
 * (capabilities kept across setuid with PR_SET_KEEPCAPS), and a Localhost profile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/security.h"
#include "child.h"

static struct seccomp_cache *cache;

struct run {
	const struct container_security *sec; /* what to apply */
	const struct security_user *user;     /* NULL: stay root */
	int status_fd;                        /* where the child copies /proc/self/status */
};

static void
report(int res_w, void *arg)
{
	const struct run *run = arg;
	const char *step = "";
	int r = security_apply_in_child(run->sec, run->user, &step);
	if (r < 0) {
		dprintf(run->status_fd, "failed at %s: %s\n", step, strerror(-r));
		child_send(res_w, r);
		return;
	}
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (n > 0)
		(void)!write(run->status_fd, buf, (size_t)n);
	child_send(res_w, 0);
	child_send(res_w, (int64_t)getuid());
	child_send(res_w, syscall(SYS_syslog, 10, NULL, 0) < 0 ? errno : 0);
}

/* The value of a "Key:\tvalue" line. */
static char *
field(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	if (!p)
		return strdup("<missing>");
	p += strlen(key);
	while (*p == '\t' || *p == ' ')
		p++;
	return strndup(p, strcspn(p, "\n"));
}

static char *
apply(const struct security_spec *spec, const struct security_user *user, int64_t *ret_uid,
      int64_t *ret_syslog)
{
	struct container_security *sec = NULL;
	korch_error *err = NULL;
	if (security_prepare(cache, spec, &sec, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	char path[] = "/tmp/korch-test-security-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	struct run run = { .sec = sec, .user = user, .status_fd = fd };
	struct child c = { 0, -1, -1 };
	assert_int_equal(child_start(&c, report, &run), 0);
	child_go(&c);
	int64_t r = -1, uid = -1, sl = -1;
	assert_true(child_recv(&c, &r, 5000));
	if (r == 0) {
		assert_true(child_recv(&c, &uid, 5000));
		assert_true(child_recv(&c, &sl, 5000));
	}
	assert_int_equal(child_wait(&c), 0);
	container_security_free(sec);
	char *text = NULL;
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(read_all_fd(fd, 1 << 16, &text, NULL, NULL), 0);
	close(fd);
	if (r != 0)
		fail_msg("child: %s", text);
	if (ret_uid)
		*ret_uid = uid;
	if (ret_syslog)
		*ret_syslog = sl;
	return text;
}

static void
expect(const char *status, const char *key, const char *want)
{
	_cleanup_free_ char *got = field(status, key);
	if (!streq(got, want))
		fail_msg("%s \"%s\", want \"%s\"", key, got, want);
}

static void
expect_caps(const char *status, const char *set)
{
	expect(status, "CapInh:", "0000000000000000");
	expect(status, "CapPrm:", set);
	expect(status, "CapEff:", set);
	expect(status, "CapBnd:", set);
	expect(status, "CapAmb:", "0000000000000000");
}

static void
test_default(void **state)
{
	struct security_spec spec = { .allow_privilege_escalation = -1 };
	int64_t sl = -1;
	_cleanup_free_ char *st = apply(&spec, NULL, NULL, &sl);
	expect_caps(st, "00000000a80425fb");
	expect(st, "NoNewPrivs:", "1");
	expect(st, "Seccomp:", "2");
	assert_int_equal(sl, EPERM);
}

static void
test_drop_all(void **state)
{
	const char *all[] = { "ALL" };
	struct security_spec spec = { .cap_drop = all,
				      .n_cap_drop = 1,
				      .allow_privilege_escalation = -1 };
	_cleanup_free_ char *st = apply(&spec, NULL, NULL, NULL);
	expect_caps(st, "0000000000000000");
	expect(st, "NoNewPrivs:", "1");
}

static void
test_add_net_admin(void **state)
{
	const char *add[] = { "NET_ADMIN" };
	struct security_spec spec = { .cap_add = add,
				      .n_cap_add = 1,
				      .allow_privilege_escalation = -1 };
	_cleanup_free_ char *st = apply(&spec, NULL, NULL, NULL);
	expect_caps(st, "00000000a80435fb");
}

static void
test_privileged(void **state)
{
	struct security_spec spec = { .privileged = true, .allow_privilege_escalation = -1 };
	int64_t sl = -1;
	_cleanup_free_ char *st = apply(&spec, NULL, NULL, &sl);
	char all[17];
	caps_format(caps_available(), all);
	expect_caps(st, all);
	expect(st, "NoNewPrivs:", "0");
	expect(st, "Seccomp:", "0");
	assert_int_equal(sl, 0); /* CAP_SYSLOG, no filter */
}

/* As uid 1000 the sets survive the switch (keepcaps, then capset), as with runc. */
static void
test_user(void **state)
{
	gid_t groups[] = { 1000, 27 };
	struct security_user user = { .uid = 1000, .gid = 1000, .groups = groups, .n_groups = 2 };
	struct security_spec spec = { .allow_privilege_escalation = 1 };
	int64_t uid = -1;
	_cleanup_free_ char *st = apply(&spec, &user, &uid, NULL);
	assert_int_equal(uid, 1000);
	expect(st, "Uid:", "1000\t1000\t1000\t1000");
	expect(st, "Gid:", "1000\t1000\t1000\t1000");
	expect(st, "Groups:", "27 1000 "); /* the kernel ends the list with a space */
	expect_caps(st, "00000000a80425fb");
	/* allowPrivilegeEscalation true: no NNP, and the filter went in before the caps change. */
	expect(st, "NoNewPrivs:", "0");
	expect(st, "Seccomp:", "2");
}

static void
test_localhost(void **state)
{
	char path[] = "/tmp/korch-test-profile-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	const char *json = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			   "[\"syslog\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
	assert_int_equal(write_all(fd, json, strlen(json)), 0);
	close(fd);
	const char *add[] = { "SYSLOG" };
	struct security_spec spec = { .cap_add = add,
				      .n_cap_add = 1,
				      .allow_privilege_escalation = -1,
				      .seccomp = SECURITY_SECCOMP_LOCALHOST,
				      .seccomp_localhost_path = path };
	int64_t sl = -1;
	_cleanup_free_ char *st = apply(&spec, NULL, NULL, &sl);
	unlink(path);
	expect(st, "Seccomp:", "2");
	assert_int_equal(sl, EACCES); /* the profile's errnoRet, although CAP_SYSLOG is held */
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	if (seccomp_cache_new(&cache, NULL) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),       cmocka_unit_test(test_drop_all),
		cmocka_unit_test(test_add_net_admin), cmocka_unit_test(test_privileged),
		cmocka_unit_test(test_user),          cmocka_unit_test(test_localhost),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	seccomp_cache_free(cache);
	return r;
}
