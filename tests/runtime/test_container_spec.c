/* The container spec: a full spec parsed, the defaults, and each kind of bad input refused with
 * a message naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/error.h"
#include "runtime/container.h"

static struct container_spec *
parse_ok(const char *text)
{
	json_error_t jerr;
	json_t *json = json_loads(text, 0, &jerr);
	if (!json)
		fail_msg("bad test JSON: %s", jerr.text);
	struct container_spec *spec = NULL;
	korch_error *err = NULL;
	if (container_spec_parse(json, &spec, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	json_decref(json);
	return spec;
}

static size_t
count(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static void
test_full(void **state)
{
	struct container_spec *s = parse_ok(
		"{\"id\": \"web-1.a_b\","
		" \"rootfs\": {\"layers\": [\"/l/0\", \"/l/1\"]},"
		" \"process\": {\"args\": [\"/bin/sh\", \"-c\", \"x\"], \"env\": [\"A=1\"],"
		"   \"cwd\": \"/srv\", \"user\": \"1000:100\", \"additionalGroups\": [\"wheel\", 5],"
		"   \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 10, \"hard\": 20},"
		"                 {\"type\": \"core\", \"soft\": 0, \"hard\": \"unlimited\"}],"
		"   \"noNewPrivileges\": false},"
		" \"readOnlyRootFilesystem\": true, \"hostname\": \"web\","
		" \"namespaces\": {\"net\": \"/run/korch/sandboxes/p/net\", \"pid\": \"host\"},"
		" \"mounts\": [{\"source\": \"/data\", \"target\": \"/data\", \"readOnly\": true},"
		"   {\"type\": \"tmpfs\", \"target\": \"/tmp\", \"sizeBytes\": 1048576, \"mode\": 448}],"
		" \"etcHosts\": \"/run/h\", \"etcResolvConf\": \"/run/r\","
		" \"maskedPaths\": [\"/proc/x\"], \"readonlyPaths\": [],"
		" \"log\": {\"path\": \"/var/log/x.log\", \"maxSizeBytes\": 100, \"maxFiles\": 2},"
		" \"stopSignal\": \"SIGQUIT\"}");
	assert_string_equal(s->id, "web-1.a_b");
	assert_int_equal(count(s->layers), 2);
	assert_string_equal(s->layers[1], "/l/1");
	assert_null(s->rootfs_path);
	assert_int_equal(count(s->process.args), 3);
	/* PATH is added to an env without one. */
	assert_int_equal(count(s->process.env), 2);
	assert_string_equal(s->process.env[0], "A=1");
	assert_string_equal(s->process.env[1],
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	assert_string_equal(s->process.cwd, "/srv");
	assert_string_equal(s->process.user, "1000:100");
	assert_string_equal(s->process.additional_groups[0], "wheel");
	assert_string_equal(s->process.additional_groups[1], "5");
	assert_int_equal(s->process.n_rlimits, 2);
	assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s->process.rlimits[0].soft, 10);
	assert_int_equal(s->process.rlimits[0].hard, 20);
	assert_int_equal(s->process.rlimits[1].resource, RLIMIT_CORE);
	assert_true(s->process.rlimits[1].hard == RLIM_INFINITY);
	assert_false(s->process.no_new_privs);
	assert_true(s->read_only_rootfs);
	assert_string_equal(s->hostname, "web");
	assert_int_equal(s->ns[NS_NET].mode, NS_MODE_PATH);
	assert_string_equal(s->ns[NS_NET].path, "/run/korch/sandboxes/p/net");
	assert_int_equal(s->ns[NS_PID].mode, NS_MODE_HOST);
	assert_int_equal(s->ns[NS_IPC].mode, NS_MODE_NEW);
	assert_int_equal(s->n_mounts, 2);
	assert_int_equal(s->mounts[0].type, MOUNT_BIND);
	assert_true(s->mounts[0].read_only);
	assert_int_equal(s->mounts[1].type, MOUNT_TMPFS);
	assert_int_equal(s->mounts[1].size_bytes, 1048576);
	assert_int_equal(s->mounts[1].mode, 0700);
	assert_string_equal(s->etc_hosts, "/run/h");
	assert_null(s->etc_hostname);
	assert_int_equal(count(s->masked_paths), 1);
	assert_int_equal(count(s->readonly_paths), 0);
	assert_string_equal(s->log_path, "/var/log/x.log");
	assert_int_equal(s->log_max_bytes, 100);
	assert_int_equal(s->log_max_files, 2);
	assert_int_equal(s->stop_signal, SIGQUIT);
	container_spec_free(s);
}

static void
test_defaults(void **state)
{
	struct container_spec *s =
		parse_ok("{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": "
			 "[\"x\"]}}");
	const char *masked[] = { "/proc/acpi",        "/proc/asound",        "/proc/kcore",
				 "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
				 "/proc/timer_stats", "/proc/sched_debug",   "/proc/scsi",
				 "/sys/firmware" };
	const char *ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
			     "/proc/sysrq-trigger" };
	assert_int_equal(count(s->masked_paths), 10);
	for (size_t i = 0; i < 10; i++)
		assert_string_equal(s->masked_paths[i], masked[i]);
	assert_int_equal(count(s->readonly_paths), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(s->readonly_paths[i], ro[i]);
	assert_string_equal(s->process.cwd, "/");
	assert_null(s->process.user);
	assert_true(s->process.no_new_privs);
	for (int t = 0; t < NS_COUNT; t++)
		assert_int_equal(s->ns[t].mode, NS_MODE_NEW);
	assert_int_equal(s->stop_signal, SIGTERM);
	assert_null(s->log_path);
	assert_int_equal(s->log_max_bytes, 10 * 1024 * 1024);
	assert_int_equal(s->log_max_files, 5);
	assert_false(s->privileged);
	/* With a uts namespace of its own and no hostname: its id. */
	assert_string_equal(s->hostname, "a");
	container_spec_free(s);

	s = parse_ok("{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"namespaces\": "
		     "{\"uts\": \"host\"}, \"process\": {\"args\": [\"x\"]}}");
	assert_null(s->hostname);
	container_spec_free(s);

	/* privileged: nothing masked or read-only, and no no_new_privs unless asked. */
	s = parse_ok("{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"privileged\": true, "
		     "\"process\": {\"args\": [\"x\"]}}");
	assert_int_equal(count(s->masked_paths), 0);
	assert_int_equal(count(s->readonly_paths), 0);
	assert_false(s->process.no_new_privs);
	container_spec_free(s);
}

/* resources, cgroup and securityContext: what the node agent passes from a Pod. */
static void
test_pod_fields(void **state)
{
	struct container_spec *s = parse_ok(
		"{\"id\": \"c1\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]},"
		" \"resources\": {\"memoryBytes\": 67108864, \"cpuShares\": 512, \"cpuQuotaUs\": 50000,"
		"   \"cpuPeriodUs\": 100000, \"pidsMax\": 0, \"cpusetCpus\": \"0-1,3\","
		"   \"cpusetMems\": \"0\"},"
		" \"cgroup\": {\"instance\": \"test-1\", \"parent\": \"/kubepods.slice/x\","
		"   \"pod\": \"pod-uid.1\"},"
		" \"securityContext\": {\"capabilities\": {\"add\": [\"NET_ADMIN\"], \"drop\": [\"ALL\"]},"
		"   \"allowPrivilegeEscalation\": true,"
		"   \"seccompProfile\": {\"type\": \"Localhost\", \"localhostProfile\": \"/p.json\"}}}");
	assert_int_equal(s->resources.memory_bytes, 67108864);
	assert_int_equal(s->resources.cpu_shares, 512);
	assert_int_equal(s->resources.cpu_quota_us, 50000);
	assert_int_equal(s->resources.cpu_period_us, 100000);
	assert_true(s->resources.pids_set);
	assert_int_equal(s->resources.pids_max, 0);
	assert_string_equal(s->resources.cpuset_cpus, "0-1,3");
	assert_string_equal(s->resources.cpuset_mems, "0");
	assert_string_equal(s->cgroup.instance, "test-1");
	assert_string_equal(s->cgroup.parent, "/kubepods.slice/x");
	assert_string_equal(s->cgroup.pod, "pod-uid.1");
	assert_int_equal(count(s->security.cap_add), 1);
	assert_string_equal(s->security.cap_add[0], "NET_ADMIN");
	assert_string_equal(s->security.cap_drop[0], "ALL");
	assert_int_equal(s->security.allow_privilege_escalation, 1);
	assert_int_equal(s->security.seccomp, SECCOMP_MODE_LOCALHOST);
	assert_string_equal(s->security.seccomp_localhost, "/p.json");
	/* allowPrivilegeEscalation true: no no_new_privs unless asked. */
	assert_false(s->process.no_new_privs);
	container_spec_free(s);

	/* The defaults: instance "korch", no pod, nothing limited, RuntimeDefault. */
	s = parse_ok("{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": "
		     "[\"x\"]}}");
	assert_string_equal(s->cgroup.instance, "korch");
	assert_null(s->cgroup.parent);
	assert_null(s->cgroup.pod);
	assert_int_equal(s->resources.memory_bytes, 0);
	assert_false(s->resources.pids_set);
	assert_null(s->resources.cpuset_cpus);
	assert_null(s->security.cap_add);
	assert_int_equal(s->security.allow_privilege_escalation, -1);
	assert_int_equal(s->security.seccomp, SECCOMP_MODE_RUNTIME_DEFAULT);
	container_spec_free(s);

	/* allowPrivilegeEscalation false gives no_new_privs; a negative quota is no quota. */
	s = parse_ok("{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": "
		     "[\"x\"]}, \"securityContext\": {\"allowPrivilegeEscalation\": false}, "
		     "\"resources\": {\"cpuQuotaUs\": -1, \"pidsMax\": -1}}");
	assert_true(s->process.no_new_privs);
	assert_int_equal(s->resources.cpu_quota_us, 0);
	assert_int_equal(s->resources.pids_max, -1);
	container_spec_free(s);

	/* The update operation's parser on its own. */
	json_t *j = json_loads("{\"memoryBytes\": 4096}", 0, NULL);
	struct resources_spec r;
	assert_int_equal(resources_spec_parse(j, "resources", &r, NULL), 0);
	assert_int_equal(r.memory_bytes, 4096);
	resources_spec_clear(&r);
	json_decref(j);
}

static void
test_exec_process(void **state)
{
	struct container_spec *s = parse_ok(
		"{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		"\"env\": [\"A=1\", \"B=2\"], \"cwd\": \"/w\", \"user\": \"u\", "
		"\"rlimits\": [{\"type\": \"NOFILE\", \"soft\": 1, \"hard\": 2}]}}");
	json_t *j = json_loads("{\"args\": [\"y\"], \"env\": [\"B=3\", \"C=4\"]}", 0, NULL);
	struct process_spec p;
	assert_int_equal(process_spec_parse(j, "process", &s->process, false, &p, NULL), 0);
	assert_string_equal(p.args[0], "y");
	/* The container's env with the exec's entries added or replaced. */
	assert_int_equal(count(p.env), 4);
	assert_string_equal(p.env[0], "A=1");
	assert_string_equal(p.env[1], "B=3");
	assert_string_equal(p.env[3], "C=4");
	assert_string_equal(p.cwd, "/w");
	assert_string_equal(p.user, "u");
	assert_int_equal(p.n_rlimits, 1);
	assert_true(p.no_new_privs);
	process_spec_clear(&p);
	json_decref(j);
	container_spec_free(s);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *json;
		const char *message;
	} cases[] = {
		{ "[]", "spec: must be a JSON object" },
		{ "{\"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}}",
		  "id: required" },
		{ "{\"id\": \"-a\"}",
		  "id: \"-a\" must be 1 to 128 letters, digits, '_', '.' or '-', "
		  "starting with a letter or digit" },
		{ "{\"id\": \"a/b\"}", "id: \"a/b\" must be 1 to 128 letters, digits, '_', '.' or "
				       "'-', starting with a letter or digit" },
		{ "{\"id\": \"a\", \"nope\": 1}", "nope: unknown field" },
		{ "{\"id\": \"a\"}", "rootfs: required" },
		{ "{\"id\": \"a\", \"rootfs\": {}}", "rootfs: give exactly one of layers or path" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"r\"}}",
		  "rootfs.path: \"r\" must be an absolute path" },
		{ "{\"id\": \"a\", \"rootfs\": {\"layers\": []}}",
		  "rootfs.layers: must not be empty" },
		{ "{\"id\": \"a\", \"rootfs\": {\"layers\": [1]}}",
		  "rootfs.layers[0]: must be a string" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}}", "process: required" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"\"]}}",
		  "process.args: must be a non-empty array of strings" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"env\": [\"NOEQUALS\"]}}",
		  "process.env[0]: \"NOEQUALS\" is not of the form KEY=value" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"cwd\": \"/proc/self/fd/3\"}}",
		  "process.cwd: \"/proc/self/fd/3\" must not be under /proc" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"cwd\": \"/a/../..\"}}",
		  "process.cwd: \"/a/../..\" must not contain \"..\"" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"user\": \"\"}}",
		  "process.user: must not be empty" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"rlimits\": [{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 1}]}}",
		  "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"rlimits\": [{\"type\": \"NOFILE\", \"soft\": 2, \"hard\": 1}]}}",
		  "process.rlimits[0]: soft limit above the hard limit" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"nope\": 1}}",
		  "process.nope: unknown field" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"namespaces\": {\"time\": \"new\"}}",
		  "namespaces.time: unknown namespace" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"namespaces\": {\"net\": \"pod\"}}",
		  "namespaces.net: must be \"new\", \"host\" or a path, not \"pod\"" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"namespaces\": {\"mount\": \"host\"}}",
		  "namespaces.mount: a container always has a mount namespace of its own" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"hostname\": \"h\", \"namespaces\": {\"uts\": \"host\"}}",
		  "hostname: needs a uts namespace of the container's own" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"mounts\": [{\"target\": \"/x\"}]}",
		  "mounts[0].source: required" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"mounts\": [{\"type\": \"nfs\", \"target\": \"/x\"}]}",
		  "mounts[0].type: \"nfs\" is not supported (bind or tmpfs)" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"mounts\": [{\"source\": \"/s\", \"target\": \"/\"}]}",
		  "mounts[0].target: cannot mount over /" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"mounts\": [{\"source\": \"/s\", \"target\": \"/x/..\"}]}",
		  "mounts[0].target: \"/x/..\" must not contain \"..\"" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"mounts\": [{\"type\": \"tmpfs\", \"source\": \"/s\", \"target\": \"/x\"}]}",
		  "mounts[0].source: a tmpfs has no source" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"mounts\": [{\"source\": \"/s\", \"target\": \"/x\", \"sizeBytes\": 1}]}",
		  "mounts[0].sizeBytes: a number >= 0, for a tmpfs only" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"maskedPaths\": [\"proc/kcore\"]}",
		  "maskedPaths[0]: \"proc/kcore\" must be an absolute path" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"log\": {\"maxFiles\": 0}}",
		  "log.maxFiles: must be a number from 1 to 1000" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"stopSignal\": \"SIGNOPE\"}",
		  "stopSignal: not a signal name or number" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		  "\"readOnlyRootFilesystem\": \"yes\"}",
		  "readOnlyRootFilesystem: must be true or false" },
#define BASE "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"]}, "
		{ BASE "\"resources\": {\"memoryBytes\": -1}}",
		  "resources.memoryBytes: must be an integer from 0 to 9223372036854775807" },
		{ BASE "\"resources\": {\"memoryBytes\": 100}}",
		  "resources.memoryBytes: must be 0 (unlimited) or at least 4096" },
		{ BASE "\"resources\": {\"cpuShares\": 1}}",
		  "resources.cpuShares: must be 0 (default) or from 2 to 262144" },
		{ BASE "\"resources\": {\"cpuShares\": 300000}}",
		  "resources.cpuShares: must be an integer from 0 to 262144" },
		{ BASE "\"resources\": {\"cpuQuotaUs\": 999}}",
		  "resources.cpuQuotaUs: must be at least 1000, or 0 or less for no quota" },
		{ BASE "\"resources\": {\"cpuPeriodUs\": 10}}",
		  "resources.cpuPeriodUs: must be 0 (default) or from 1000 to 1000000" },
		{ BASE "\"resources\": {\"pidsMax\": \"64\"}}",
		  "resources.pidsMax: must be an integer from -9223372036854775808 to "
		  "9223372036854775807" },
		{ BASE "\"resources\": {\"cpusetCpus\": \"0-\"}}",
		  "resources.cpusetCpus: \"0-\" is not a list of CPUs (\"0-3,5\")" },
		{ BASE "\"resources\": {\"cpusetCpus\": \"3-1\"}}",
		  "resources.cpusetCpus: \"3-1\" is not a list of CPUs (\"0-3,5\")" },
		{ BASE "\"resources\": {\"cpusetMems\": \"a\"}}",
		  "resources.cpusetMems: \"a\" is not a list of memory nodes (\"0-1\")" },
		{ BASE "\"resources\": {\"memory\": \"64Mi\"}}",
		  "resources.memory: unknown field" },
		{ BASE "\"cgroup\": {\"instance\": \"a/b\"}}",
		  "cgroup.instance: \"a/b\" must be 1 to 200 letters, digits, '_', '.' or '-'" },
		{ BASE "\"cgroup\": {\"pod\": \"..\"}}",
		  "cgroup.pod: \"..\" must be 1 to 200 letters, digits, '_', '.' or '-'" },
		{ BASE "\"cgroup\": {\"parent\": \"/a/../b\"}}",
		  "cgroup.parent: \"/a/../b\" must be an absolute path below the cgroup root, "
		  "without \".\", \"..\" or empty components" },
		{ BASE "\"cgroup\": {\"parent\": \"/\"}}",
		  "cgroup.parent: \"/\" must be an absolute path below the cgroup root, without "
		  "\".\", \"..\" or empty components" },
		{ BASE "\"securityContext\": {\"capabilities\": {\"add\": \"ALL\"}}}",
		  "securityContext.capabilities.add: must be an array of strings" },
		{ BASE "\"securityContext\": {\"capabilities\": {\"keep\": []}}}",
		  "securityContext.capabilities.keep: unknown field" },
		{ BASE "\"securityContext\": {\"allowPrivilegeEscalation\": 1}}",
		  "securityContext.allowPrivilegeEscalation: must be true or false" },
		{ BASE "\"securityContext\": {\"seccompProfile\": {\"type\": \"Custom\"}}}",
		  "securityContext.seccompProfile.type: \"Custom\" is not RuntimeDefault, Unconfined "
		  "or Localhost" },
		{ BASE "\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\"}}}",
		  "securityContext.seccompProfile.localhostProfile: required with type Localhost" },
		{ BASE "\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\", "
		       "\"localhostProfile\": \"p.json\"}}}",
		  "securityContext.seccompProfile.localhostProfile: \"p.json\" must be an absolute "
		  "path" },
		{ BASE "\"securityContext\": {\"seccompProfile\": {\"type\": \"Unconfined\", "
		       "\"localhostProfile\": \"/p.json\"}}}",
		  "securityContext.seccompProfile.localhostProfile: only with type Localhost" },
		{ BASE "\"securityContext\": {\"seccompProfile\": {}}}",
		  "securityContext.seccompProfile.type: required" },
		{ BASE "\"privileged\": true, \"securityContext\": {\"allowPrivilegeEscalation\": "
		       "false}}",
		  "securityContext.allowPrivilegeEscalation: cannot be false with privileged true" },
		{ "{\"id\": \"a\", \"rootfs\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
		  "\"noNewPrivileges\": true}, \"securityContext\": {\"allowPrivilegeEscalation\": "
		  "true}}",
		  "process.noNewPrivileges: true contradicts securityContext.allowPrivilegeEscalation "
		  "true" },
#undef BASE
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *json = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(json);
		struct container_spec *spec = NULL;
		korch_error *err = NULL;
		int r = container_spec_parse(json, &spec, &err);
		if (r != KORCH_EINVALID || strcmp(korch_error_message(err), cases[i].message) != 0)
			fail_msg("case %zu: got %d \"%s\"", i, r,
				 err ? korch_error_message(err) : "");
		assert_null(spec);
		korch_error_free(err);
		json_decref(json);
	}
}

static void
test_signal_names(void **state)
{
	assert_int_equal(signal_from_name("SIGTERM"), SIGTERM);
	assert_int_equal(signal_from_name("KILL"), SIGKILL);
	assert_int_equal(signal_from_name("9"), 9);
	assert_int_equal(signal_from_name("SIGUSR1"), SIGUSR1);
	assert_int_equal(signal_from_name("0"), -1);
	assert_int_equal(signal_from_name("SIGFOO"), -1);
	assert_int_equal(signal_from_name("999"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),       cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_pod_fields), cmocka_unit_test(test_exec_process),
		cmocka_unit_test(test_errors),     cmocka_unit_test(test_signal_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
