/*
 * Capability sets and the security settings computed in the parent (suite unit): names as
 * Kubernetes writes them, the 14 defaults, add/drop with ALL in containerd's order,
 * privileged, no_new_privs, the seccomp and device choices, and their errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <linux/capability.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "runtime/caps.h"
#include "runtime/security.h"

#define BIT(c) (UINT64_C(1) << (c))

static void
test_names(void **state)
{
	int cap = -1;
	assert_int_equal(caps_from_name("NET_ADMIN", &cap, NULL), 0);
	assert_int_equal(cap, CAP_NET_ADMIN);
	cap = -1;
	assert_int_equal(caps_from_name("CAP_NET_ADMIN", &cap, NULL), 0);
	assert_int_equal(cap, CAP_NET_ADMIN);
	assert_int_equal(caps_from_name("net_raw", &cap, NULL), 0);
	assert_int_equal(cap, CAP_NET_RAW);
	assert_int_equal(caps_from_name("cap_sys_admin", &cap, NULL), 0);
	assert_int_equal(cap, CAP_SYS_ADMIN);
	assert_int_equal(caps_from_name("CHECKPOINT_RESTORE", &cap, NULL), 0);
	assert_int_equal(cap, 40);
	static const char *const bad[] = { "FOO", "12", "CAP_", "NET ADMIN", "ALL" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		korch_error *err = NULL;
		cap = -7;
		assert_int_equal(caps_from_name(bad[i], &cap, &err), KORCH_EINVALID);
		char want[64];
		snprintf(want, sizeof(want), "unknown capability \"%s\"", bad[i]);
		assert_string_equal(korch_error_message(err), want);
		assert_int_equal(cap, -7);
		korch_error_free(err);
	}
	char buf[17];
	caps_format(CAPS_DEFAULT, buf);
	assert_string_equal(buf, "00000000a80425fb");
}

static uint64_t
compute(bool privileged, const char *const *add, size_t n_add, const char *const *drop,
	size_t n_drop)
{
	struct caps_set s;
	memset(&s, 0xff, sizeof(s));
	assert_int_equal(caps_compute(privileged, add, n_add, drop, n_drop, &s, NULL), 0);
	assert_int_equal(s.effective, s.bounding);
	assert_int_equal(s.permitted, s.bounding);
	assert_int_equal(s.inheritable, 0);
	assert_int_equal(s.ambient, 0);
	return s.bounding;
}

static void
test_compute(void **state)
{
	/* The defaults: exactly moby's 14. */
	uint64_t d = compute(false, NULL, 0, NULL, 0);
	assert_int_equal(d, 0xa80425fb);
	static const int fourteen[] = {
		CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
		CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
		CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
		CAP_KILL,    CAP_AUDIT_WRITE
	};
	uint64_t m = 0;
	for (size_t i = 0; i < ARRAY_SIZE(fourteen); i++)
		m |= BIT(fourteen[i]);
	assert_int_equal(m, CAPS_DEFAULT);

	const char *all[] = { "ALL" };
	const char *net_admin[] = { "NET_ADMIN" };
	const char *nbs[] = { "NET_BIND_SERVICE" };
	const char *chown_raw[] = { "CHOWN", "CAP_NET_RAW" };
	assert_int_equal(compute(false, NULL, 0, all, 1), 0);
	assert_int_equal(compute(false, net_admin, 1, NULL, 0), 0xa80435fb);
	assert_int_equal(compute(false, nbs, 1, all, 1), BIT(CAP_NET_BIND_SERVICE));
	assert_int_equal(compute(false, all, 1, chown_raw, 2),
			 caps_available() & ~BIT(CAP_CHOWN) & ~BIT(CAP_NET_RAW));
	assert_int_equal(compute(false, NULL, 0, chown_raw, 2), 0xa80405fa);
	/* Lower case "all" too; add and drop of the same: drop wins (drops come last). */
	const char *all_lower[] = { "all" };
	assert_int_equal(compute(false, net_admin, 1, all_lower, 1), BIT(CAP_NET_ADMIN));
	assert_int_equal(compute(false, net_admin, 1, net_admin, 1), CAPS_DEFAULT);
	/* Privileged: everything korch holds, add/drop ignored. */
	assert_int_equal(compute(true, NULL, 0, all, 1), caps_available());
	uint64_t bnd = 0;
	FILE *st = fopen("/proc/self/status", "re");
	char line[256];
	while (fgets(line, sizeof(line), st))
		if (sscanf(line, "CapBnd: %" SCNx64, &bnd) == 1)
			break;
	fclose(st);
	assert_int_equal(caps_available(), bnd);
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = 0;
	assert_int_equal(fscanf(f, "%d", &last), 1);
	fclose(f);
	assert_int_equal(caps_all(), (UINT64_C(1) << (last + 1)) - 1);

	const char *bad[] = { "NET_ADMIN", "BOGUS" };
	korch_error *err = NULL;
	struct caps_set s = { 0 };
	assert_int_equal(caps_compute(false, bad, 2, NULL, 0, &s, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "capabilities.add[1]: unknown capability \"BOGUS\"");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(caps_compute(false, NULL, 0, bad, 2, &s, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "capabilities.drop[1]: unknown capability \"BOGUS\"");
	korch_error_free(err);
	assert_int_equal(s.bounding, 0);
}

static void
test_prepare(void **state)
{
	struct seccomp_cache *cache = NULL;
	assert_int_equal(seccomp_cache_new(&cache, NULL), 0);
	struct container_security *s = NULL;

	/* Defaults: 14 caps, no_new_privs, RuntimeDefault, runc's devices. */
	struct security_spec spec = { .allow_privilege_escalation = -1 };
	assert_int_equal(security_prepare(cache, &spec, &s, NULL), 0);
	assert_int_equal(s->caps.effective, CAPS_DEFAULT);
	assert_true(s->no_new_privs);
	assert_non_null(s->seccomp);
	assert_int_equal(s->devices, CGROUP_DEVICES_DEFAULT);
	container_security_free(s);
	/* A second container with the same capabilities: nothing compiled again. */
	assert_int_equal(security_prepare(cache, &spec, &s, NULL), 0);
	assert_int_equal(seccomp_cache_compilations(cache), 1);
	container_security_free(s);

	/* allowPrivilegeEscalation: true turns no_new_privs off, false or unset leaves it on. */
	spec.allow_privilege_escalation = 1;
	assert_int_equal(security_prepare(cache, &spec, &s, NULL), 0);
	assert_false(s->no_new_privs);
	assert_non_null(s->seccomp);
	container_security_free(s);
	spec.allow_privilege_escalation = 0;
	assert_int_equal(security_prepare(cache, &spec, &s, NULL), 0);
	assert_true(s->no_new_privs);
	container_security_free(s);

	/* Unconfined. */
	spec.seccomp = SECURITY_SECCOMP_UNCONFINED;
	assert_int_equal(security_prepare(cache, &spec, &s, NULL), 0);
	assert_null(s->seccomp);
	container_security_free(s);

	/* Privileged: all caps, no NNP, unconfined even if RuntimeDefault was asked, all devices. */
	struct security_spec priv = { .privileged = true, .allow_privilege_escalation = 0 };
	assert_int_equal(security_prepare(cache, &priv, &s, NULL), 0);
	assert_int_equal(s->caps.bounding, caps_available());
	assert_false(s->no_new_privs);
	assert_null(s->seccomp);
	assert_int_equal(s->devices, CGROUP_DEVICES_ALL);
	container_security_free(s);

	/* Errors name the field. */
	korch_error *err = NULL;
	struct security_spec local = { .seccomp = SECURITY_SECCOMP_LOCALHOST,
				       .seccomp_localhost_path = "profiles/x.json" };
	s = NULL;
	assert_int_equal(security_prepare(cache, &local, &s, &err), KORCH_EINVALID);
	assert_null(s);
	assert_string_equal(korch_error_message(err),
			    "securityContext.seccompProfile.localhostProfile: an absolute profile "
			    "path is required");
	korch_error_free(err);
	err = NULL;
	local.seccomp_localhost_path = "/nonexistent/korch/profile.json";
	assert_int_equal(security_prepare(cache, &local, &s, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "securityContext.seccompProfile: seccomp profile "
			    "/nonexistent/korch/profile.json: no such file");
	korch_error_free(err);
	err = NULL;
	const char *add[] = { "SYS_MAGIC" };
	struct security_spec badcap = { .cap_add = add, .n_cap_add = 1 };
	assert_int_equal(security_prepare(cache, &badcap, &s, &err), KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(err),
		"securityContext: capabilities.add[0]: unknown capability \"SYS_MAGIC\"");
	korch_error_free(err);
	seccomp_cache_free(cache);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_prepare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
