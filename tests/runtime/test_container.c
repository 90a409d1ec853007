/*
 * test_container.c - real containers through korch-monitor: the isolation scenarios 1, 2, 3
 * (without veths), 9, 10 and 12 of the reliability file, /dev, users, rlimits, env and cwd,
 * and bad input, each asserting exact output, errnos and messages.
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
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "test_container_lib.h"

static json_t *
process_of(json_t *spec)
{
	return json_object_get(spec, "process");
}

/* Scenario 1: only the container's own processes; pid 1 is the entrypoint. */
static void
test_pid_namespace(void **state)
{
	struct rt *rt = *state;
	rt_expect(rt, rt_spec("ps", "/probe", "ps", NULL), 0, "1 /probe ps\n");
	/* Its children are numbered from 2 and see the same. */
	rt_expect(rt, rt_spec("ps2", "/bin/sh", "-c", "/probe ps; exit 3", NULL), 3,
		  "1 /bin/sh -c /probe ps; exit 3\n2 /probe ps\n");
}

/* Scenario 2: a mount made inside (privileged for the test) never shows on the host. */
static void
test_mount_no_leak(void **state)
{
	struct rt *rt = *state;
	int before = rt_host_mounts();
	json_t *spec = rt_spec("mnt", "/probe", "errno", "mount", ";", "echo", "mounted", ";",
			       "pause", NULL);
	json_object_set_new(spec, "privileged", json_true());
	json_t *st = rt_start(rt, spec);
	assert_true(rt_wait_output(st, "mounted", 5000));
	char *out = rt_output(st, "stdout");
	assert_string_equal(out, "mount=OK\nmounted\n");
	free(out);
	assert_int_equal(rt_host_mounts(), before);
	char *info = NULL;
	assert_int_equal(read_file("/proc/self/mountinfo", 1 << 20, &info, NULL, NULL), 0);
	assert_null(strstr(info, " probe "));
	assert_null(strstr(info, rt->run_dir));
	free(info);
	json_decref(st);
	assert_int_equal(monitor_client_delete(rt->client, "mnt", 0, NULL), 0);
	assert_int_equal(rt_host_mounts(), before);
}

/* Scenario 3 without veths: only lo, a hostname of its own, no host SysV shm. */
static void
test_net_uts_ipc(void **state)
{
	struct rt *rt = *state;
	char host_before[256], host_after[256];
	assert_int_equal(gethostname(host_before, sizeof(host_before)), 0);
	int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	assert_true(shm >= 0);
	json_t *spec = rt_spec("net", "/probe", "netdevs", ";", "hostname", ";", "shm", NULL);
	json_object_set_new(spec, "hostname", json_string("box1"));
	rt_expect(rt, spec, 0, "lo\nbox1\n0\n");
	/* sethostname inside (privileged: it needs CAP_SYS_ADMIN) changes only the container. */
	spec = rt_spec("uts", "/probe", "hostname", "changed", ";", "hostname", NULL);
	json_object_set_new(spec, "privileged", json_true());
	rt_expect(rt, spec, 0, "OK\nchanged\n");
	assert_int_equal(gethostname(host_after, sizeof(host_after)), 0);
	assert_string_equal(host_after, host_before);
	/* The segment is there on the host, so "0" above was the ipc namespace at work. */
	char *shm_list = NULL;
	assert_int_equal(read_file("/proc/sysvipc/shm", 1 << 20, &shm_list, NULL, NULL), 0);
	char id[32];
	snprintf(id, sizeof(id), " %d ", shm);
	assert_non_null(strstr(shm_list, id));
	free(shm_list);
	/* Host namespaces when asked (hostNetwork, hostIPC): the host's view. */
	spec = rt_spec("hostns", "/probe", "shm", NULL);
	json_object_set_new(spec, "namespaces", json_pack("{s:s}", "ipc", "host"));
	json_t *st = rt_run(rt, spec);
	char *out = rt_output(st, "stdout");
	shmctl(shm, IPC_RMID, NULL);
	assert_string_not_equal(out, "0\n");
	free(out);
	json_decref(st);
}

/*
 * A pod sandbox: a second container joins the first one's uts, ipc, net and pid namespaces
 * (shared pid namespace); it keeps a mount namespace and rootfs of its own.
 */
static void
test_join_namespaces(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("pod", "/probe", "echo", "ready", ";", "pause", NULL);
	json_object_set_new(spec, "hostname", json_string("podhost"));
	json_t *st = rt_start(rt, spec);
	assert_true(rt_wait_output(st, "ready", 5000));
	int pid = (int)json_integer_value(json_object_get(st, "pid"));
	json_decref(st);
	json_t *ns = json_object();
	const char *types[] = { "uts", "ipc", "net", "pid" };
	for (int i = 0; i < 4; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, types[i]);
		json_object_set_new(ns, types[i], json_string(path));
	}
	spec = rt_spec("member", "/probe", "hostname", ";", "ps", ";", "netdevs", ";", "touch",
		       "/only-here", NULL);
	json_object_set_new(spec, "namespaces", ns);
	rt_expect(rt, spec, 0,
		  "podhost\n1 /probe echo ready ; pause\n2 /probe hostname ; ps ; netdevs ; "
		  "touch /only-here\nlo\nOK\n");
	rt_expect(rt, rt_spec("other", "/probe", "read", "/only-here", NULL), 0, "ENOENT\n");
}

/* "0 bytes" for a masked file the host has, ENOENT for one this kernel lacks. */
static const char *
masked_expect(const char *path)
{
	return access(path, F_OK) == 0 ? "0 bytes" : "ENOENT";
}

/* Scenario 9: masked paths read empty and cannot be written; a symlinked /proc is refused. */
static void
test_masked_paths(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("mask", "/probe", "read", "/proc/kcore", ";", "read", "/proc/keys",
			       ";", "read", "/proc/timer_list", ";", "read", "/proc/sched_debug",
			       ";", "ls", "/sys/firmware", ";", "read", "/testfile", ";", "ls",
			       "/testdir", ";", "touch", "/testdir/foo", ";", "unlink", "/testfile",
			       ";", "stat", "/testdir", ";", "stat", "/testdir2", NULL);
	json_t *masked = json_array();
	json_object_set_new(spec, "maskedPaths", masked);
	const char *paths[] = { "/proc/kcore",       "/proc/keys",    "/proc/timer_list",
				"/proc/sched_debug", "/sys/firmware", "/testfile",
				"/testdir",          "/testdir2" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		json_array_append_new(masked, json_string(paths[i]));
	json_t *st = rt_run(rt, spec);
	char *out = rt_output(st, "stdout");
	char expect[1024];
	/*
	 * unlink of a masked file: the rootfs is writable, the target a mount point (EBUSY);
	 * /testdir and /testdir2 share one read-only tmpfs, as with runc.
	 */
	char *lines = strdup(out);
	char *dev1 = strstr(lines, "dev=");
	assert_non_null(dev1);
	char *dev2 = strstr(dev1 + 1, "dev=");
	assert_non_null(dev2);
	*strchr(dev1, '\n') = '\0';
	*strchr(dev2, '\n') = '\0';
	assert_string_equal(dev1, dev2);
	snprintf(expect, sizeof(expect),
		 "%s\n%s\n%s\n%s\n(empty)\n0 bytes\n(empty)\nEROFS\nEBUSY\n%s\n%s\n",
		 masked_expect("/proc/kcore"), masked_expect("/proc/keys"),
		 masked_expect("/proc/timer_list"), masked_expect("/proc/sched_debug"), dev1, dev2);
	assert_string_equal(out, expect);
	free(lines);
	free(out);
	json_decref(st);

	/* With a read-only rootfs, removing the masked file is EROFS (runc mask.bats). */
	spec = rt_spec("mask-ro", "/probe", "unlink", "/testfile", ";", "read", "/testfile", NULL);
	json_object_set_new(spec, "maskedPaths", json_pack("[s]", "/testfile"));
	json_object_set_new(spec, "readOnlyRootFilesystem", json_true());
	rt_expect(rt, spec, 0, "EROFS\n0 bytes\n");

	/* The default list masks /proc/kcore and /sys/firmware. */
	rt_expect(rt,
		  rt_spec("mask-default", "/probe", "read", "/proc/kcore", ";", "ls",
			  "/sys/firmware", NULL),
		  0, access("/proc/kcore", F_OK) == 0 ? "0 bytes\n(empty)\n" : "ENOENT\n(empty)\n");

	/* A /proc, /sys or /dev that is a symlink in the image is refused at create. */
	const char *special[] = { "proc", "sys", "dev" };
	for (size_t i = 0; i < 3; i++) {
		char name[32], *msg = NULL, want[256];
		snprintf(name, sizeof(name), "layer-%s", special[i]);
		char *layer = rt_layer(rt, name);
		char link[4200];
		snprintf(link, sizeof(link), "%s/%s", layer, special[i]);
		assert_int_equal(symlink("/symlink", link), 0);
		spec = rt_spec(name, "/probe", "ps", NULL);
		json_object_set_new(json_object_get(spec, "rootfs"), "layers",
				    rt_layers(layer, NULL));
		assert_int_equal(rt_create_error(rt, spec, &msg), KORCH_EINVALID);
		snprintf(want, sizeof(want),
			 "create container %s: /%s in the rootfs is a symlink: it must be an "
			 "ordinary directory",
			 name, special[i]);
		assert_string_equal(msg, want);
		free(msg);
		free(layer);
	}
}

/* Scenario 10: read-only /proc paths; readOnlyRootFilesystem leaves only volumes writable. */
static void
test_readonly(void **state)
{
	struct rt *rt = *state;
	/* This kernel may lack /proc/sysrq-trigger (no CONFIG_MAGIC_SYSRQ): then ENOENT. */
	rt_expect(rt,
		  rt_spec("ro", "/probe", "write", "/proc/sys/kernel/panic", "1", ";", "write",
			  "/proc/sysrq-trigger", "b", ";", "touch", "/x", NULL),
		  0,
		  access("/proc/sysrq-trigger", F_OK) == 0 ? "EROFS\nEROFS\nOK\n"
							   : "EROFS\nENOENT\nOK\n");
	/* The write went to the container's upper dir, not to the shared layers. */
	char path[4200];
	snprintf(path, sizeof(path), "%s/x", rt_test_layer);
	assert_int_equal(access(path, F_OK), -1);
	size_t i;
	json_t *l;
	json_array_foreach (rt_base_layers, i, l) {
		snprintf(path, sizeof(path), "%s/x", json_string_value(l));
		assert_int_equal(access(path, F_OK), -1);
	}

	char *vol = rt_host_dir(rt, "vol", "data", "host data\n");
	json_t *spec = rt_spec("rootro", "/probe", "touch", "/x", ";", "touch", "/scratch/x", ";",
			       "touch", "/ro/x", ";", "read", "/ro/data", ";", "touch", "/rw/x",
			       ";", "touch", "/dev/shm/x", ";", "touch", "/tmp/x", NULL);
	json_object_set_new(spec, "readOnlyRootFilesystem", json_true());
	json_object_set_new(spec, "mounts",
			    json_pack("[{s:s, s:s, s:I}, {s:s, s:s, s:b}, {s:s, s:s}]", "type",
				      "tmpfs", "target", "/scratch", "sizeBytes",
				      (json_int_t)1 << 20, "source", vol, "target", "/ro",
				      "readOnly", 1, "source", vol, "target", "/rw"));
	rt_expect(rt, spec, 0, "EROFS\nOK\nEROFS\n10 bytes\nOK\nOK\nEROFS\n");
	snprintf(path, sizeof(path), "%s/x", vol);
	assert_int_equal(access(path, F_OK), 0);
	free(vol);

	/* The tmpfs volume has its size, mode and nosuid,nodev. */
	spec = rt_spec("tmpfs", "/bin/sh", "-c", "grep ' /scratch ' /proc/self/mountinfo; true",
		       NULL);
	json_object_set_new(spec, "mounts",
			    json_pack("[{s:s, s:s, s:I, s:i}]", "type", "tmpfs", "target",
				      "/scratch", "sizeBytes", (json_int_t)1 << 20, "mode", 0750));
	json_t *st = rt_run(rt, spec);
	char *out = rt_output(st, "stdout");
	assert_non_null(strstr(out, " /scratch rw,nosuid,nodev,relatime - tmpfs tmpfs "
				    "rw,size=1024k,mode=750\n"));
	free(out);
	json_decref(st);
}

/* Scenario 12: no host fd or path reaches the container. */
static void
test_no_leaks(void **state)
{
	struct rt *rt = *state;
	rt_expect(rt, rt_spec("fds", "/probe", "fds", NULL), 0, "0 1 2\n");
	rt_expect(rt, rt_spec("fds1", "/bin/sh", "-c", "ls /proc/1/fd; true", NULL), 0,
		  "0\n1\n2\n");

	/* Its stdout and stderr are pipes: no host path shows through /proc/1/fd. */
	json_t *st = rt_run(rt, rt_spec("links", "/probe", "readlink", "/proc/self/fd/1", ";",
					"readlink", "/proc/self/fd/2", ";", "readlink",
					"/proc/self/fd/0", NULL));
	char *out = rt_output(st, "stdout");
	assert_true(strncmp(out, "pipe:[", 6) == 0);
	assert_non_null(strstr(out, "]\npipe:["));
	assert_non_null(strstr(out, "]\n/dev/null\n"));
	assert_null(strstr(out, rt->dir));
	free(out);
	json_decref(st);

	/* cwd through /proc/self/fd (CVE-2024-21626) is refused at create. */
	char *msg = NULL;
	json_t *spec = rt_spec("cwdfd", "/probe", "cwd", NULL);
	json_object_set_new(process_of(spec), "cwd", json_string("/proc/self/fd/7"));
	assert_int_equal(rt_create_error(rt, spec, &msg), KORCH_EINVALID);
	assert_string_equal(msg, "process.cwd: \"/proc/self/fd/7\" must not be under /proc");
	free(msg);

	/* A volume whose target is a symlink to /etc in the image lands in the image's /etc. */
	struct stat etc_before, etc_after;
	assert_int_equal(stat("/etc", &etc_before), 0);
	char *vol = rt_host_dir(rt, "etcvol", "marker", "m\n");
	spec = rt_spec("etclink", "/probe", "ls", "/etc/vol", ";", "ls", "/etc/vol2", NULL);
	json_object_set_new(spec, "mounts",
			    json_pack("[{s:s, s:s}, {s:s, s:s}]", "source", vol, "target",
				      "/etclink/vol", "source", vol, "target", "/escape/vol2"));
	rt_expect(rt, spec, 0, "marker\nmarker\n");
	assert_int_equal(access("/etc/vol", F_OK), -1);
	assert_int_equal(access("/etc/vol2", F_OK), -1);
	assert_int_equal(stat("/etc", &etc_after), 0);
	assert_int_equal(etc_after.st_mtim.tv_sec, etc_before.st_mtim.tv_sec);
	assert_int_equal(etc_after.st_mtim.tv_nsec, etc_before.st_mtim.tv_nsec);
	free(vol);
}

/*
 * Scenario 12 (CVE-2019-5736): the monitor, and every container init before its execve, run
 * from a sealed memfd copy, so /proc/PID/exe opens no host file for writing.
 */
static void
test_exe_sealed(void **state)
{
	struct rt *rt = *state;
	const char *bin = getenv("KORCH_MONITOR");
	char *before = NULL, *after = NULL;
	size_t len_before = 0, len_after = 0;
	assert_int_equal(read_file(bin, 64 << 20, &before, &len_before, NULL), 0);
	json_t *st = NULL, *spec = rt_spec("exe", "/probe", "ps", NULL);
	assert_int_equal(monitor_client_create(rt->client, spec, &st, NULL), 0);
	json_decref(spec);
	pid_t pids[2] = { rt->monitor_pid, (pid_t)json_integer_value(json_object_get(st, "pid")) };
	for (int i = 0; i < 2; i++) {
		char path[64], link[256];
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pids[i]);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		assert_true(n > 0);
		link[n] = '\0';
		assert_string_equal(link, "/memfd:korch-monitor (deleted)");
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(fcntl(fd, F_GET_SEALS),
				 F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
		close(fd);
		assert_int_equal(open(path, O_WRONLY | O_CLOEXEC), -1);
		assert_int_equal(errno, ETXTBSY);
	}
	json_decref(st);
	assert_int_equal(read_file(bin, 64 << 20, &after, &len_after, NULL), 0);
	assert_int_equal(len_after, len_before);
	assert_memory_equal(after, before, len_before);
	free(before);
	free(after);
}

/* /dev holds the standard devices only, and a node made there opens nothing (nodev). */
static void
test_dev(void **state)
{
	struct rt *rt = *state;
	rt_expect(rt,
		  rt_spec("dev", "/probe", "ls", "/dev", ";", "open", "/dev/null", "rw", ";",
			  "open", "/dev/zero", "r", ";", "errno", "mknod-sda", ";", "readlink",
			  "/dev/ptmx", ";", "open", "/dev/ptmx", "rw", NULL),
		  0,
		  "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero\n"
		  "OK\nOK\nmknod-sda=EACCES\npts/ptmx\nOK\n");
}

static void
test_users(void **state)
{
	struct rt *rt = *state;
	struct {
		const char *user;
		const char *groups; /* additionalGroups, JSON */
		const char *expect;
	} cases[] = {
		{ NULL, NULL, "uid=0 gid=0 groups=\n/root\n" },
		{ "korch", NULL, "uid=1000 gid=1000 groups=\n/home/korch\n" },
		{ "1000", NULL, "uid=1000 gid=1000 groups=\n/home/korch\n" },
		{ "1000:nogroup", NULL, "uid=1000 gid=65534 groups=\n/home/korch\n" },
		{ "nobody", "[\"korch\", 4000]",
		  "uid=65534 gid=65534 groups=1000,4000\n/nonexistent\n" },
		{ "4242", NULL, "uid=4242 gid=0 groups=\n/\n" },
		{ "4242:4243", NULL, "uid=4242 gid=4243 groups=\n/\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char id[32];
		snprintf(id, sizeof(id), "user%zu", i);
		json_t *spec = rt_spec(id, "/probe", "id", ";", "env", "HOME", NULL);
		if (cases[i].user)
			json_object_set_new(process_of(spec), "user", json_string(cases[i].user));
		if (cases[i].groups)
			json_object_set_new(process_of(spec), "additionalGroups",
					    json_loads(cases[i].groups, 0, NULL));
		rt_expect(rt, spec, 0, cases[i].expect);
	}
	/* A user that may not enter its cwd fails at start, as in a shell. */
	json_t *spec = rt_spec("nocwd", "/probe", "cwd", NULL);
	json_object_set_new(process_of(spec), "user", json_string("nobody"));
	json_object_set_new(process_of(spec), "cwd", json_string("/root"));
	json_t *st = NULL;
	korch_error *err = NULL;
	assert_int_equal(monitor_client_create(rt->client, spec, &st, NULL), 0);
	json_decref(st);
	assert_int_equal(monitor_client_start(rt->client, "nocwd", &st, &err), KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err),
			    "start container nocwd: chdir to cwd \"/root\": Permission denied");
	korch_error_free(err);
	json_decref(spec);
}

/* rlimits (scenario 17 for run), no_new_privs, env, cwd. */
static void
test_process(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("nofile", "/probe", "rlimit", "NOFILE", ";", "nofile", NULL);
	json_object_set_new(process_of(spec), "rlimits",
			    json_pack("[{s:s, s:i, s:i}]", "type", "RLIMIT_NOFILE", "soft", 1024,
				      "hard", 1024));
	rt_expect(rt, spec, 0, "1024 1024\n1021 EMFILE\n");

	rt_expect(rt, rt_spec("nnp", "/probe", "status", "NoNewPrivs", NULL), 0, "NoNewPrivs: 1\n");
	spec = rt_spec("nnp0", "/probe", "status", "NoNewPrivs", NULL);
	json_object_set_new(process_of(spec), "noNewPrivileges", json_false());
	rt_expect(rt, spec, 0, "NoNewPrivs: 0\n");

	/* Scenario 5: no_new_privs keeps a setuid-root program from raising the euid. */
	char *layer = rt_host_dir(rt, "suid-layer", NULL, NULL);
	char suid[4200];
	snprintf(suid, sizeof(suid), "%s/suid-probe", layer);
	char *probe = NULL;
	size_t probe_len = 0;
	assert_int_equal(read_file(getenv("KORCH_TEST_PROBE"), 64 << 20, &probe, &probe_len, NULL),
			 0);
	assert_int_equal(write_file_replace(suid, probe, probe_len, 0755, NULL), 0);
	assert_int_equal(chmod(suid, 04755), 0);
	free(probe);
	for (int nnp = 1; nnp >= 0; nnp--) {
		spec = rt_spec(nnp ? "suid-nnp" : "suid", "/suid-probe", "euid", NULL);
		json_object_set_new(spec, "rootfs",
				    json_pack("{s:o}", "layers", rt_layers(layer, NULL)));
		json_object_set_new(process_of(spec), "user", json_string("korch"));
		json_object_set_new(process_of(spec), "noNewPrivileges", json_boolean(nnp));
		rt_expect(rt, spec, 0, nnp ? "1000\n" : "0\n");
	}
	free(layer);

	spec = rt_spec("env", "probe", "env", "FOO", ";", "env", "PATH", ";", "cwd", NULL);
	json_object_set_new(process_of(spec), "env", json_pack("[s,s]", "FOO=bar", "PATH=/"));
	json_object_set_new(process_of(spec), "cwd", json_string("/work/dir"));
	rt_expect(rt, spec, 0, "bar\n/\n/work/dir\n");
	rt_expect(rt, rt_spec("named", "/probe", "hostname", NULL), 0, "named\n");
	rt_expect(rt, rt_spec("path", "/probe", "env", "PATH", NULL), 0,
		  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");

	/* /etc files bound from the host, and the hostname. */
	char *etc = rt_host_dir(rt, "etc", "hosts", "127.0.0.1 localhost box\n");
	free(rt_host_dir(rt, "etc", "hostname", "box\n"));
	char hosts[4200], hostname[4200];
	snprintf(hosts, sizeof(hosts), "%s/hosts", etc);
	snprintf(hostname, sizeof(hostname), "%s/hostname", etc);
	spec = rt_spec("etc", "/bin/cat", "/etc/hosts", "/etc/hostname", NULL);
	json_object_set_new(spec, "etcHosts", json_string(hosts));
	json_object_set_new(spec, "etcHostname", json_string(hostname));
	rt_expect(rt, spec, 0, "127.0.0.1 localhost box\nbox\n");
	free(etc);

	/* A plain rootfs directory instead of layers. */
	spec = rt_spec("plain", "/probe", "ps", NULL);
	json_object_set_new(spec, "rootfs", json_pack("{s:s}", "path", rt_plain_rootfs));
	rt_expect(rt, spec, 0, "1 /probe ps\n");
}

/*
 * 120 layers: their paths take more than the page mount(2) options may fill, which fsconfig's
 * "lowerdir+" does not care about. A file in a higher layer hides the one below it.
 */
static void
test_many_layers(void **state)
{
	struct rt *rt = *state;
	json_t *layers = rt_layers(NULL);
	size_t total = 0, k;
	json_t *l;
	json_array_foreach (layers, k, l)
		total += strlen(json_string_value(l)) + 1;
	/* A deep one too: more than the 255 bytes a string fsconfig value may have. */
	char deep[302];
	memset(deep, 'd', sizeof(deep));
	deep[150] = '/';
	deep[sizeof(deep) - 1] = '\0';
	for (int i = 0; i < 120; i++) {
		char name[400], text[16];
		snprintf(name, sizeof(name), "layers/%s/layer-number-%03d/layers", i ? "" : deep,
			 i);
		snprintf(text, sizeof(text), "%d\n", i);
		char *dir = rt_host_dir(rt, name, "top", text);
		char file[4200];
		snprintf(file, sizeof(file), "%s/f%03d", dir, i);
		assert_int_equal(write_file_replace(file, "", 0, 0644, NULL), 0);
		*strrchr(dir, '/') = '\0';
		total += strlen(dir) + 1;
		json_array_append_new(layers, json_string(dir));
		free(dir);
	}
	assert_true(total > 4096);
	json_t *spec =
		rt_spec("layers", "/bin/sh", "-c", "ls /layers | wc -l; cat /layers/top", NULL);
	json_object_set_new(json_object_get(spec, "rootfs"), "layers", layers);
	rt_expect(rt, spec, 0, "121\n119\n");
}

/* Bad input: a clear error naming the problem, and nothing left behind. */
static void
test_bad_input(void **state)
{
	struct rt *rt = *state;
	struct {
		const char *id;
		const char *patch; /* JSON merged into the spec */
		int code;
		const char *message;
	} cases[] = {
		{ "b1", "{\"rootfs\": {\"path\": \"/nonexistent\"}}", KORCH_ESYSTEM,
		  "create container b1: rootfs /nonexistent: No such file or directory" },
		{ "b2", "{\"rootfs\": {\"layers\": [\"/nonexistent\", \"/tmp\"]}}", KORCH_ESYSTEM,
		  "create container b2: rootfs layer /nonexistent: No such file or directory" },
		{ "b2f", "{\"rootfs\": {\"layers\": [\"/etc/hostname\"]}}", KORCH_EINVALID,
		  "create container b2f: rootfs layer /etc/hostname: not a directory" },
		{ "b3", "{\"process\": {\"args\": [\"/probe\"], \"user\": \"nosuch\"}}",
		  KORCH_EINVALID,
		  "create container b3: user \"nosuch\": no such user in /etc/passwd" },
		{ "b4", "{\"process\": {\"args\": [\"/probe\"], \"user\": \"korch:nosuch\"}}",
		  KORCH_EINVALID,
		  "create container b4: user \"korch:nosuch\": group \"nosuch\": no such group in "
		  "/etc/group" },
		{ "b5", "{\"mounts\": [{\"source\": \"/nonexistent\", \"target\": \"/data\"}]}",
		  KORCH_ESYSTEM,
		  "create container b5: mounts[0]: source \"/nonexistent\": No such file or "
		  "directory" },
		{ "b6", "{\"mounts\": [{\"source\": \"/tmp\", \"target\": \"/a/../../etc\"}]}",
		  KORCH_EINVALID, "mounts[0].target: \"/a/../../etc\" must not contain \"..\"" },
		{ "b7", "{\"process\": {\"args\": [\"/bin/nosuch\"]}}", KORCH_ENOTFOUND,
		  "create container b7: exec \"/bin/nosuch\": No such file or directory" },
		{ "b8", "{\"process\": {\"args\": [\"nosuch\"]}}", KORCH_ENOTFOUND,
		  "create container b8: exec \"nosuch\": executable file not found in $PATH" },
		{ "b9", "{\"process\": {\"args\": []}}", KORCH_EINVALID,
		  "process.args: must be a non-empty array of strings" },
		{ "b10", "{\"mounts\": [{\"source\": \"/tmp\", \"target\": \"data\"}]}",
		  KORCH_EINVALID, "mounts[0].target: \"data\" must be an absolute path" },
		{ "b11", "{\"namespaces\": {\"net\": \"/nonexistent/ns\"}}", KORCH_ESYSTEM,
		  "create container b11: join net namespace /nonexistent/ns: No such file or "
		  "directory" },
		{ "b12",
		  "{\"mounts\": [{\"source\": \"/etc/hostname\", \"target\": \"/testdir\"}]}",
		  KORCH_EINVALID,
		  "create container b12: mounts[0]: cannot mount the file \"/etc/hostname\" on the "
		  "directory \"/testdir\" in the image" },
		{ "b13", "{\"spare\": 1}", KORCH_EINVALID, "spare: unknown field" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *spec = rt_spec(cases[i].id, "/probe", "ps", NULL);
		json_t *patch = json_loads(cases[i].patch, 0, NULL);
		assert_non_null(patch);
		json_object_update(spec, patch);
		json_decref(patch);
		char *msg = NULL;
		int code = rt_create_error(rt, spec, &msg);
		if (code != cases[i].code || strcmp(msg, cases[i].message) != 0)
			fail_msg("%s: got %d \"%s\"", cases[i].id, code, msg);
		free(msg);
		/* Nothing left: no record, no directory. */
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/containers/%s", rt->run_dir, cases[i].id);
		if (access(dir, F_OK) == 0)
			fail_msg("%s: %s is left", cases[i].id, dir);
		json_t *st = NULL;
		korch_error *err = NULL;
		assert_int_equal(monitor_client_state(rt->client, cases[i].id, &st, &err),
				 KORCH_ENOTFOUND);
		korch_error_free(err);
	}
	/* An image whose /etc/passwd is a FIFO (or a device) does not hang the create. */
	char *layer = rt_host_dir(rt, "fifo-layer/etc", NULL, NULL);
	char fifo[4200];
	snprintf(fifo, sizeof(fifo), "%s/passwd", layer);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	*strrchr(layer, '/') = '\0';
	json_t *fspec = rt_spec("fifo", "/probe", "ps", NULL);
	json_object_set_new(json_object_get(fspec, "rootfs"), "layers", rt_layers(layer, NULL));
	free(layer);
	char *fmsg = NULL;
	assert_int_equal(rt_create_error(rt, fspec, &fmsg), KORCH_EINVALID);
	assert_string_equal(fmsg, "create container fifo: /etc/passwd: not a regular file");
	free(fmsg);

	/* A name used twice. */
	json_t *st = NULL;
	korch_error *err = NULL;
	json_t *spec = rt_spec("dup", "/probe", "ps", NULL);
	if (monitor_client_create(rt->client, spec, &st, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	json_decref(spec);
	json_decref(st);
	char *msg = NULL;
	assert_int_equal(rt_create_error(rt, rt_spec("dup", "/probe", "ps", NULL), &msg),
			 KORCH_EEXISTS);
	assert_string_equal(msg, "container dup exists");
	free(msg);
}

int
main(void)
{
	if (rt_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pid_namespace, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_mount_no_leak, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_net_uts_ipc, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_join_namespaces, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_masked_paths, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_readonly, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_no_leaks, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_exe_sealed, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_dev, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_users, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_process, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_many_layers, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, rt_setup, rt_teardown),
	};
	return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
