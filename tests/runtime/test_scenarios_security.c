/*
 * test_scenarios_security.c - the security scenarios of the reliability file on real containers
 * of the busybox test image, through korch-monitor with its cgroup, capability and seccomp
 * hooks: 4 (capabilities), 6 (the seccomp deny list), 7 (what it allows, a busybox smoke
 * script), 8 (exec gets pid 1's filter, capabilities, no_new_privs, cgroups and namespaces),
 * 9 (umount of a masked path), 11 (the device allow-list, also after a live update), plus the
 * seccompProfile types, privileged, the container's view of /sys/fs/cgroup and the errors a
 * create reports. Each asserts exact output: errno names, /proc/PID/status lines, messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "runtime/caps.h"
#include "test_container_lib.h"

static json_t *
process_of(json_t *spec)
{
	return json_object_get(spec, "process");
}

/* Sets spec.securityContext (JSON text). */
static json_t *
with_security(json_t *spec, const char *security_context)
{
	json_t *sc = json_loads(security_context, 0, NULL);
	assert_non_null(sc);
	json_object_set_new(spec, "securityContext", sc);
	return spec;
}

static char *
run_output(struct rt *rt, json_t *spec, int *ret_code)
{
	json_t *st = rt_run(rt, spec);
	char *out = rt_output(st, "stdout");
	*ret_code = (int)json_integer_value(json_object_get(st, "exitCode"));
	json_decref(st);
	return out;
}

#define CAPS_FIELDS \
	"status", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"

static char *
caps_text(uint64_t inh, uint64_t prm, uint64_t eff, uint64_t bnd, int nnp, int seccomp)
{
	char a[17], b[17], c[17], d[17], *text = NULL;
	caps_format(inh, a);
	caps_format(prm, b);
	caps_format(eff, c);
	caps_format(bnd, d);
	assert_true(asprintf(&text,
			     "CapInh: %s\nCapPrm: %s\nCapEff: %s\nCapBnd: %s\n"
			     "CapAmb: 0000000000000000\nNoNewPrivs: %d\nSeccomp: %d\n",
			     a, b, c, d, nnp, seccomp) > 0);
	return text;
}

/* Appends the items of more (stolen) to args. */
static void
extend(json_t *args, json_t *more)
{
	json_array_extend(args, more);
	json_decref(more);
}

/* Scenario 4: the 14 default capabilities, drop ALL, add, a non-root user, privileged. */
static void
test_capabilities(void **state)
{
	struct rt *rt = *state;
	char *want = caps_text(0, CAPS_DEFAULT, CAPS_DEFAULT, CAPS_DEFAULT, 1, 2);
	assert_string_equal(want, "CapInh: 0000000000000000\nCapPrm: 00000000a80425fb\n"
				  "CapEff: 00000000a80425fb\nCapBnd: 00000000a80425fb\n"
				  "CapAmb: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\n");
	rt_expect(rt, rt_spec("caps", "/probe", CAPS_FIELDS, NULL), 0, want);
	free(want);

	want = caps_text(0, 0, 0, 0, 1, 2);
	rt_expect(rt,
		  with_security(rt_spec("dropall", "/probe", CAPS_FIELDS, NULL),
				"{\"capabilities\": {\"drop\": [\"ALL\"]}}"),
		  0, want);
	free(want);

	/* drop ALL then add one (containerd's order), and a capability not in the defaults. */
	want = caps_text(0, 1 << 10, 1 << 10, 1 << 10, 1, 2);
	rt_expect(rt,
		  with_security(rt_spec("bind", "/probe", CAPS_FIELDS, NULL),
				"{\"capabilities\": {\"drop\": [\"ALL\"], "
				"\"add\": [\"NET_BIND_SERVICE\"]}}"),
		  0, want);
	free(want);
	uint64_t with_admin = CAPS_DEFAULT | (UINT64_C(1) << 12);
	want = caps_text(0, with_admin, with_admin, with_admin, 1, 2);
	rt_expect(rt,
		  with_security(rt_spec("netadmin", "/probe", CAPS_FIELDS, NULL),
				"{\"capabilities\": {\"add\": [\"CAP_NET_ADMIN\"]}}"),
		  0, want);
	free(want);

	/* A non-root user keeps the bounding set; execve clears what a plain file gives not. */
	json_t *spec = rt_spec("user", "/probe", CAPS_FIELDS, NULL);
	json_object_set_new(process_of(spec), "user", json_string("korch"));
	want = caps_text(0, 0, 0, CAPS_DEFAULT, 1, 2);
	rt_expect(rt, spec, 0, want);
	free(want);

	/* privileged: every capability this process may hand out, unconfined, no no_new_privs. */
	spec = rt_spec("priv", "/probe", CAPS_FIELDS, NULL);
	json_object_set_new(spec, "privileged", json_true());
	uint64_t all = caps_available();
	want = caps_text(0, all, all, all, 0, 0);
	rt_expect(rt, spec, 0, want);
	free(want);
}

static const char *const denied[] = {
	"unshare-user",
	"unshare-ns",
	"clone-newuser",
	"setns",
	"mount",
	"umount2",
	"pivot_root",
	"keyctl",
	"add_key",
	"request_key",
	"bpf",
	"perf_event_open",
	"kexec_load",
	"init_module",
	"finit_module",
	"delete_module",
	"reboot",
	"swapon",
	"open_by_handle_at",
	"userfaultfd",
	"io_uring_setup",
	"acct",
	"settimeofday",
	"socket-alg",
	"socket-vsock",
	"syslog",
	"personality-bsd",
	"clone3",
	NULL,
};

/* {"args": ["/probe", CMD, denied...]} with CMD "errno" or "tcall". */
static json_t *
denied_spec(const char *id, const char *cmd)
{
	json_t *spec = rt_spec(id, "/probe", cmd, NULL);
	json_t *args = json_object_get(process_of(spec), "args");
	for (const char *const *d = denied; *d; d++)
		json_array_append_new(args, json_string(*d));
	return spec;
}

static char *
denied_expect(void)
{
	char *text = calloc(1, 4096);
	for (const char *const *d = denied; *d; d++)
		sprintf(text + strlen(text), "%s=%s\n", *d,
			strcmp(*d, "clone3") == 0 ? "ENOSYS" : "EPERM");
	return text;
}

/*
 * Scenario 6: with RuntimeDefault and no CAP_SYS_ADMIN every listed call is EPERM, clone3
 * ENOSYS (so that libcs fall back to clone), from the main thread and from another; busybox's
 * `unshare -U -r id` fails. Unconfined, the same container makes the user namespace: the
 * filter is what refused it.
 */
static void
test_seccomp_denied(void **state)
{
	struct rt *rt = *state;
	char *want = denied_expect();
	rt_expect(rt, denied_spec("denied", "errno"), 0, want);
	rt_expect(rt, denied_spec("tdenied", "tcall"), 0, want);
	free(want);

	const char *script = "unshare -U -r id; echo rc=$?";
	int code = -1;
	json_t *st = rt_run(rt, rt_spec("unshare", "/bin/sh", "-c", script, NULL));
	char *out = rt_output(st, "stdout"), *err_text = rt_output(st, "stderr");
	assert_string_equal(out, "rc=1\n");
	assert_string_equal(err_text, "unshare: unshare(0x10000000): Operation not permitted\n");
	free(out);
	free(err_text);
	json_decref(st);

	json_t *spec = with_security(rt_spec("unconfined", "/bin/sh", "-c", script, NULL),
				     "{\"seccompProfile\": {\"type\": \"Unconfined\"}}");
	out = run_output(rt, spec, &code);
	assert_string_equal(out, "uid=0(root) gid=0(root)\nrc=0\n");
	free(out);
	rt_expect(rt,
		  with_security(rt_spec("unconfined2", "/probe", "status", "Seccomp", ";", "errno",
					"personality-bsd", "syslog", NULL),
				"{\"seccompProfile\": {\"type\": \"Unconfined\"}}"),
		  0, "Seccomp: 0\npersonality-bsd=OK\nsyslog=EPERM\n");
}

/* Scenario 7: what the filter allows, and a busybox smoke script with an HTTP round trip. */
static void
test_seccomp_allowed(void **state)
{
	struct rt *rt = *state;
	rt_expect(rt,
		  rt_spec("allowed", "/probe", "errno", "fork", "clone", "thread", "personality0",
			  "personality-query", "personality-bsd", ";", "tcall", "fork", "thread",
			  NULL),
		  0,
		  "fork=OK\nclone=OK\nthread=OK\npersonality0=OK\npersonality-query=OK\n"
		  "personality-bsd=EPERM\nfork=OK\nthread=OK\n");
	const char *script = "set -e\n"
			     "ls / > /dev/null\n"
			     "cat /etc/passwd | head -n 1\n"
			     "sh -c 'echo nested'\n"
			     "sleep 0.1\n"
			     "mkdir -p /tmp/www\n"
			     "echo hello from httpd > /tmp/www/index.html\n"
			     "httpd -f -p 127.0.0.1:8080 -h /tmp/www &\n"
			     "i=0\n"
			     "until wget -q -O - http://127.0.0.1:8080/index.html; do\n"
			     "  i=$((i + 1)); [ $i -lt 50 ] || exit 9; sleep 0.1\n"
			     "done\n"
			     "kill %1\n"
			     "echo done\n";
	rt_expect(rt, rt_spec("smoke", "/bin/sh", "-c", script, NULL), 0,
		  "root:x:0:0:root:/root:/bin/sh\nnested\nhello from httpd\ndone\n");
}

/*
 * Scenario 8: a process exec'd into a running container has pid 1's capabilities,
 * no_new_privs, seccomp filter, cgroups and namespaces; its threads are filtered too.
 */
static void
test_exec_same_as_init(void **state)
{
	struct rt *rt = *state;
	json_decref(rt_start(rt, rt_spec("init", "/probe", "pause", NULL)));
	const char *fields[] = { "CapInh",     "CapPrm",  "CapEff",          "CapBnd", "CapAmb",
				 "NoNewPrivs", "Seccomp", "Seccomp_filters", NULL };
	json_t *args = json_pack("[s,s]", "/probe", "status");
	for (const char **f = fields; *f; f++)
		json_array_append_new(args, json_string(*f));
	extend(args, json_pack("[s,s,s]", ";", "status-of", "1"));
	for (const char **f = fields; *f; f++)
		json_array_append_new(args, json_string(*f));
	extend(args, json_pack("[s,s,s,s,s,s,s,s,s,s,s,s]", ";", "ns", ";", "ns", "1", ";",
			       "cgroup", ";", "cgroup", "1", ";", "tcall"));
	extend(args, json_pack("[s,s,s]", "syslog", "unshare-user", "clone3"));
	char *out = NULL;
	korch_error *err = NULL;
	int code = rt_exec(rt, "init", json_pack("{s:o}", "args", args), &out, &err);
	if (code < 0)
		fail_msg("exec: %s", korch_error_message(err));
	assert_int_equal(code, 0);
	/* Own status, pid 1's status: identical, and the defaults. */
	const char *status = "CapInh: 0000000000000000\nCapPrm: 00000000a80425fb\n"
			     "CapEff: 00000000a80425fb\nCapBnd: 00000000a80425fb\n"
			     "CapAmb: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\n"
			     "Seccomp_filters: 1\n";
	size_t len = strlen(status);
	assert_true(strlen(out) > 2 * len);
	assert_memory_equal(out, status, len);
	assert_memory_equal(out + len, status, len);
	/* Namespaces: six lines each, the same. */
	char *p = out + 2 * len, *q = p;
	for (int i = 0; i < 6; i++)
		q = strchr(q, '\n') + 1;
	size_t ns_len = (size_t)(q - p);
	assert_memory_equal(p, q, ns_len);
	assert_true(strncmp(p, "cgroup:[", 8) == 0);
	/* cgroups: the same lines, every one at the root of the container's cgroup namespace. */
	p = q + ns_len;
	char *threads = strstr(p, "syslog=");
	assert_non_null(threads);
	size_t cg_len = (size_t)(threads - p);
	assert_true(cg_len % 2 == 0);
	assert_memory_equal(p, p + cg_len / 2, cg_len / 2);
	char *cg = strndup(p, cg_len / 2);
	for (char *line = strtok(cg, "\n"); line; line = strtok(NULL, "\n"))
		if (strcmp(strrchr(line, ':'), ":/") != 0)
			fail_msg("cgroup line \"%s\" is not at the namespace root", line);
	free(cg);
	assert_string_equal(threads, "syslog=EPERM\nunshare-user=EPERM\nclone3=ENOSYS\n");
	free(out);

	/* The host agrees: pid 1 is in the container's cgroup of each controller. */
	json_t *st = NULL;
	assert_int_equal(monitor_client_state(rt->client, "init", &st, NULL), 0);
	char *mem = rt_container_cgroup(st, "memory");
	assert_non_null(mem);
	char want_tail[128];
	snprintf(want_tail, sizeof(want_tail), "/korch-%s/init", rt_instance);
	assert_string_equal(mem + strlen(mem) - strlen(want_tail), want_tail);
	free(mem);
	json_decref(st);
}

/* Scenario 9: umount of a masked path is EPERM (no CAP_SYS_ADMIN, and the filter). */
static void
test_umount_masked(void **state)
{
	struct rt *rt = *state;
	rt_expect(rt,
		  rt_spec("umount", "/probe", "umount", "/proc/kcore", ";", "umount",
			  "/sys/firmware", NULL),
		  0, "EPERM\nEPERM\n");
}

/*
 * Scenario 11: only runc's allow-list of devices opens. A block device and /dev/kmsg made with
 * mknod (CAP_MKNOD, in the writable rootfs that has no nodev) still give EPERM, also after a
 * live update of the limits; a privileged container (every device) opens the same node.
 */
static void
test_devices(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_start(rt, rt_spec("dev", "/probe", "mknod", "/tmp/sda", "b", "8", "0", ";",
					  "open", "/tmp/sda", "r", ";", "mknod", "/tmp/kmsg", "c",
					  "1", "11", ";", "open", "/tmp/kmsg", "r", ";", "open",
					  "/tmp/kmsg", "w", ";", "open", "/dev/null", "rw", ";",
					  "open", "/dev/urandom", "r", ";", "open", "/dev/kmsg",
					  "r", ";", "echo", "ready", ";", "pause", NULL));
	assert_true(rt_wait_output(st, "ready", 5000));
	char *out = rt_output(st, "stdout");
	assert_string_equal(out, "OK\nEPERM\nOK\nEPERM\nEPERM\nOK\nOK\nENOENT\nready\n");
	free(out);
	/* The devices controller holds exactly runc's list. */
	char *dir = rt_container_cgroup(st, "devices"), *list = NULL;
	assert_non_null(dir);
	char path[4200];
	snprintf(path, sizeof(path), "%s/devices.list", dir);
	assert_int_equal(read_file(path, 65536, &list, NULL, NULL), 0);
	assert_string_equal(list, "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:8 rwm\nc 1:7 rwm\nc 5:0 rwm\n"
				  "c 1:5 rwm\nc 1:9 rwm\nc 136:* rwm\nc 5:2 rwm\nc 10:200 rwm\n");
	free(list);
	json_decref(st);

	korch_error *err = NULL;
	json_t *res = json_pack("{s:I, s:I}", "memoryBytes", (json_int_t)256 << 20, "pidsMax",
				(json_int_t)100);
	if (monitor_client_update(rt->client, "dev", res, &err) < 0)
		fail_msg("update: %s", korch_error_message(err));
	json_decref(res);
	char *ex = NULL;
	assert_int_equal(rt_exec(rt, "dev",
				 json_pack("{s:[s,s,s,s,s,s,s,s,s,s,s,s]}", "args", "/probe",
					   "open", "/tmp/kmsg", "r", ";", "open", "/tmp/kmsg", "w",
					   ";", "open", "/tmp/sda", "r"),
				 &ex, NULL),
			 0);
	assert_string_equal(ex, "EPERM\nEPERM\nEPERM\n");
	free(ex);
	list = NULL;
	assert_int_equal(read_file(path, 65536, &list, NULL, NULL), 0);
	assert_non_null(strstr(list, "c 1:3 rwm\n"));
	assert_null(strstr(list, "a *:* rwm"));
	free(list);
	free(dir);

	json_t *spec = rt_spec("privdev", "/probe", "mknod", "/tmp/kmsg", "c", "1", "11", ";",
			       "open", "/tmp/kmsg", "r", NULL);
	json_object_set_new(spec, "privileged", json_true());
	rt_expect(rt, spec, 0, "OK\nOK\n");
}

/* What /sys/fs/cgroup shows: the container's own cgroups, read-only, at the namespace root. */
static void
test_cgroupfs_view(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("view", "/probe", "ls", "/sys/fs/cgroup", ";", "read",
			       "/sys/fs/cgroup/memory/memory.limit_in_bytes", ";", "cgroup", NULL);
	json_object_set_new(spec, "resources",
			    json_pack("{s:I}", "memoryBytes", (json_int_t)64 << 20));
	int code = -1;
	char *out = run_output(rt, spec, &code);
	assert_int_equal(code, 0);
	assert_true(strncmp(out, "cpu cpuacct cpuset devices freezer memory pids\n", 47) == 0);
	free(out);
	rt_expect(rt,
		  rt_spec("view2", "/bin/sh", "-c",
			  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
			  "cat /sys/fs/cgroup/pids/pids.max; "
			  "find /sys/fs/cgroup/memory -mindepth 1 -type d | wc -l; "
			  "echo 5 > /sys/fs/cgroup/pids/pids.max || echo refused; "
			  "touch /sys/fs/cgroup/x || echo refused",
			  NULL),
		  0, "9223372036854771712\nmax\n0\nrefused\nrefused\n");
	spec = rt_spec("view3", "/bin/cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		       "/sys/fs/cgroup/pids/pids.max", NULL);
	json_object_set_new(spec, "resources",
			    json_pack("{s:I, s:I}", "memoryBytes", (json_int_t)64 << 20, "pidsMax",
				      (json_int_t)0));
	rt_expect(rt, spec, 0, "67108864\n1\n");
}

/* seccompProfile Localhost (a profile file), allowPrivilegeEscalation, and create errors. */
static void
test_profiles_and_errors(void **state)
{
	struct rt *rt = *state;
	char *dir =
		rt_host_dir(rt, "profiles", "eacces.json",
			    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
			    "[\"syslog\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}");
	char profile[4200], sc[4400];
	snprintf(profile, sizeof(profile), "%s/eacces.json", dir);
	snprintf(sc, sizeof(sc),
		 "{\"seccompProfile\": {\"type\": \"Localhost\", \"localhostProfile\": \"%s\"}}",
		 profile);
	rt_expect(rt,
		  with_security(rt_spec("local", "/probe", "status", "Seccomp", ";", "errno",
					"syslog", "personality-bsd", NULL),
				sc),
		  0, "Seccomp: 2\nsyslog=EACCES\npersonality-bsd=OK\n");

	/* allowPrivilegeEscalation: no no_new_privs, and the filter still goes in. */
	rt_expect(rt,
		  with_security(rt_spec("ape", "/probe", "status", "NoNewPrivs", "Seccomp", ";",
					"errno", "syslog", NULL),
				"{\"allowPrivilegeEscalation\": true}"),
		  0, "NoNewPrivs: 0\nSeccomp: 2\nsyslog=EPERM\n");

	struct {
		const char *id;
		const char *security_context;
		int code;
		const char *message;
	} cases[] = {
		{ "badcap", "{\"capabilities\": {\"add\": [\"NET_FOO\"]}}", KORCH_EINVALID,
		  "create container badcap: securityContext: capabilities.add[0]: unknown capability "
		  "\"NET_FOO\"" },
		{ "noprofile",
		  "{\"seccompProfile\": {\"type\": \"Localhost\", \"localhostProfile\": "
		  "\"/nonexistent/p.json\"}}",
		  KORCH_ENOTFOUND,
		  "create container noprofile: securityContext.seccompProfile: seccomp profile "
		  "/nonexistent/p.json: no such file" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *msg = NULL;
		int code = rt_create_error(rt,
					   with_security(rt_spec(cases[i].id, "/probe", NULL),
							 cases[i].security_context),
					   &msg);
		if (code != cases[i].code || strcmp(msg, cases[i].message) != 0)
			fail_msg("%s: got %d \"%s\"", cases[i].id, code, msg);
		free(msg);
	}
	/* A cpuset the machine lacks: the cgroup write fails, and nothing is left. */
	assert_int_equal(monitor_client_delete(rt->client, "local", 0, NULL), 0);
	assert_int_equal(monitor_client_delete(rt->client, "ape", 0, NULL), 0);
	assert_int_equal(rt_cgroup_leftovers(), 0);
	json_t *spec = rt_spec("badcpu", "/probe", NULL);
	json_object_set_new(spec, "resources", json_pack("{s:s}", "cpusetCpus", "999"));
	char *msg = NULL;
	assert_int_equal(rt_create_error(rt, spec, &msg), KORCH_ESYSTEM);
	assert_true(strncmp(msg, "create container badcpu: create cgroup ", 39) == 0);
	if (!strstr(msg, "/cpuset.cpus: Numerical result out of range"))
		fail_msg("%s", msg);
	free(msg);
	assert_int_equal(rt_cgroup_leftovers(), 0);
	free(dir);
}

int
main(void)
{
	if (rt_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capabilities, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_seccomp_denied, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_seccomp_allowed, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_exec_same_as_init, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_umount_masked, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_devices, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_cgroupfs_view, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_profiles_and_errors, rt_setup, rt_teardown),
	};
	return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
