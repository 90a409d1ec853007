/*
 * test_monitor_bench.c - bench/run runtime's driver: how long a container takes, korch beside
 * crun and runc, in one run.
 *
 * One run is create + start + wait + delete of /bin/true in the busybox test image: through
 * korch-monitor for korch (overlay over the image's layer directories), `crun run` / `runc run`
 * of the same rootfs directory for the peers, with the seccomp profile equivalent to korch's
 * RuntimeDefault for the default capabilities (written from korch's own rules, so it cannot
 * drift) and without seccomp. The six configurations take turns run by run, so that what else
 * the machine does weighs on all of them alike. crun 1.8 refuses this machine's hybrid cgroup
 * layout, so the peers run from a helper in a private mount namespace where the cgroup2 mount
 * is gone (the rest of the machine sees no change). Every state directory is on the same
 * filesystem (KORCH_RT_TMPDIR, a tmpfs for bench/run).
 *
 * Then 1,000 create -> start -> kill -> delete cycles (scenario 19) and the monitor's peak memory.
 * Prints "bench: METRIC VALUE UNIT" lines (bench/run's format); a peer that cannot run prints
 * "bench: METRIC.PEER skipped REASON".
 *
 *   bench-runtime-start [--runs N] [--cycles N] [--no-peers]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/caps.h"
#include "runtime/seccomp-internal.h"
#include "test_container_lib.h"

#define WARMUP 5
#define MAX_RUNS 10000

static int runs = 100;
static int cycles = 1000;
static bool peers = true;

enum config { K_SEC, K_NOSEC, C_SEC, C_NOSEC, R_SEC, R_NOSEC, N_CONFIGS };
static const char *const config_names[N_CONFIGS] = {
	"korch", "korch (no seccomp)", "crun", "crun (no seccomp)", "runc", "runc (no seccomp)",
};

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The nearest-rank 95th percentile of sorted v. */
static double
p95(const double *v, int n)
{
	int k = (95 * n + 99) / 100;
	return v[k > 0 ? k - 1 : 0];
}

/* ---- korch ---- */

/* The image's own layers: rt_base_layers without the test layer on top. */
static json_t *
image_layers(void)
{
	json_t *l = json_copy(rt_base_layers);
	json_array_remove(l, json_array_size(l) - 1);
	return l;
}

static double
korch_run(struct rt *rt, int i, bool seccomp)
{
	char id[32];
	snprintf(id, sizeof(id), "true%d", i);
	json_t *spec = json_pack("{s:s, s:{s:o}, s:{s:[s]}, s:{s:s}}", "id", id, "rootfs", "layers",
				 image_layers(), "process", "args", "/bin/true", "cgroup",
				 "instance", rt_instance);
	if (!seccomp)
		json_object_set_new(spec, "securityContext",
				    json_pack("{s:{s:s}}", "seccompProfile", "type", "Unconfined"));
	korch_error *err = NULL;
	json_t *st = NULL;
	double t0 = now_ms();
	if (monitor_client_create(rt->client, spec, NULL, &err) < 0 ||
	    monitor_client_start(rt->client, id, NULL, &err) < 0 ||
	    monitor_client_wait(rt->client, id, 10000, &st, &err) < 0 ||
	    monitor_client_delete(rt->client, id, 0, &err) < 0)
		fail_msg("%s: %s", id, korch_error_message(err));
	double took = now_ms() - t0;
	if (json_integer_value(json_object_get(st, "exitCode")) != 0)
		fail_msg("%s: exit code %lld", id,
			 (long long)json_integer_value(json_object_get(st, "exitCode")));
	json_decref(st);
	json_decref(spec);
	return took;
}

/* A "Key: N kB" line of a /proc file, in kB; -1 when absent. */
static long
proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return -1;
	char *p = strstr(text, key);
	long kb = p ? strtol(p + strlen(key), NULL, 10) : -1;
	free(text);
	return kb;
}

/* ---- the peers' bundles ---- */

static const char *const cap_names[64] = {
	[0] = "CAP_CHOWN",        [1] = "CAP_DAC_OVERRIDE", [3] = "CAP_FOWNER",
	[4] = "CAP_FSETID",       [5] = "CAP_KILL",         [6] = "CAP_SETGID",
	[7] = "CAP_SETUID",       [8] = "CAP_SETPCAP",      [10] = "CAP_NET_BIND_SERVICE",
	[13] = "CAP_NET_RAW",     [18] = "CAP_SYS_CHROOT",  [27] = "CAP_MKNOD",
	[29] = "CAP_AUDIT_WRITE", [31] = "CAP_SETFCAP",
};

static const char *
scmp_op(enum scmp_compare op)
{
	switch (op) {
	case SCMP_CMP_NE: return "SCMP_CMP_NE";
	case SCMP_CMP_LT: return "SCMP_CMP_LT";
	case SCMP_CMP_LE: return "SCMP_CMP_LE";
	case SCMP_CMP_EQ: return "SCMP_CMP_EQ";
	case SCMP_CMP_GE: return "SCMP_CMP_GE";
	case SCMP_CMP_GT: return "SCMP_CMP_GT";
	case SCMP_CMP_MASKED_EQ: return "SCMP_CMP_MASKED_EQ";
	default: return "?";
	}
}

static bool
arch_listed(const char *const *list, const char *arch)
{
	for (; list && *list; list++)
		if (streq(*list, arch))
			return true;
	return false;
}

/*
 * korch's RuntimeDefault as an OCI seccomp profile for a container holding caps on this
 * machine's architecture: the rules moby's conditions keep, names the peers' libseccomp knows.
 */
static json_t *
oci_profile(uint64_t caps)
{
	const struct seccomp_profile *p = seccomp_profile_runtime_default();
	const char *arch = seccomp_native_goarch();
	json_t *syscalls = json_array();
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct seccomp_rule *r = &p->rules[i];
		if ((r->caps_include & caps) != r->caps_include || (r->caps_exclude & caps) ||
		    (r->arches_include && !arch_listed(r->arches_include, arch)) ||
		    arch_listed(r->arches_exclude, arch))
			continue;
		json_t *names = json_array();
		for (const char *const *n = r->names; *n; n++)
			if (seccomp_syscall_resolve_name(*n) != __NR_SCMP_ERROR)
				json_array_append_new(names, json_string(*n));
		json_t *rule = json_pack("{s:o}", "names", names);
		if (r->action == SCMP_ACT_ALLOW) {
			json_object_set_new(rule, "action", json_string("SCMP_ACT_ALLOW"));
		} else {
			json_object_set_new(rule, "action", json_string("SCMP_ACT_ERRNO"));
			json_object_set_new(rule, "errnoRet", json_integer(r->action & 0xffff));
		}
		if (r->n_args) {
			json_t *args = json_array();
			for (size_t a = 0; a < r->n_args; a++)
				json_array_append_new(
					args, json_pack("{s:i, s:I, s:I, s:s}", "index",
							(int)r->args[a].index, "value",
							(json_int_t)r->args[a].value, "valueTwo",
							(json_int_t)r->args[a].value_two, "op",
							scmp_op(r->args[a].op)));
			json_object_set_new(rule, "args", args);
		}
		json_array_append_new(syscalls, rule);
	}
	return json_pack("{s:s, s:i, s:[s,s,s], s:o}", "defaultAction", "SCMP_ACT_ERRNO",
			 "defaultErrnoRet", 1, "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
			 "SCMP_ARCH_X32", "syscalls", syscalls);
}

/* The OCI config of a container as korch makes it: same namespaces, mounts, caps, devices. */
static json_t *
oci_config(const char *rootfs, const char *cgroup_parent, bool seccomp, const char *const *args)
{
	json_t *caps = json_array();
	for (int c = 0; c < 64; c++)
		if (CAPS_DEFAULT & (UINT64_C(1) << c))
			json_array_append_new(caps, json_string(cap_names[c]));
	json_t *devices = json_pack("[{s:b, s:s}]", "allow", 0, "access", "rwm");
	static const struct {
		int major, minor;
	} devs[] = { { 1, 3 }, { 1, 8 }, { 1, 7 }, { 5, 0 }, { 1, 5 }, { 1, 9 }, { 5, 2 } };
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		json_array_append_new(devices, json_pack("{s:b, s:s, s:i, s:i, s:s}", "allow", 1,
							 "type", "c", "major", devs[i].major,
							 "minor", devs[i].minor, "access", "rwm"));
	json_t *cfg = json_pack(
		"{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[s], s:s, s:{s:O, s:O, s:O}, s:b},"
		" s:{s:s, s:b}, s:s,"
		" s:[{s:s, s:s, s:s, s:[s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s]},"
		"    {s:s, s:s, s:s, s:[s,s,s,s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s,s]},"
		"    {s:s, s:s, s:s, s:[s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s]},"
		"    {s:s, s:s, s:s, s:[s,s,s,s,s]}],"
		" s:{s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}], s:{s:o}, s:s,"
		"    s:[s,s,s,s,s,s,s,s,s,s], s:[s,s,s,s,s]}}",
		"ociVersion", "1.0.2", "process", "terminal", 0, "user", "uid", 0, "gid", 0, "args",
		"/bin/true", "env",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "cwd", "/",
		"capabilities", "bounding", caps, "effective", caps, "permitted", caps,
		"noNewPrivileges", 1, "root", "path", rootfs, "readonly", 1, "hostname", "bench",
		"mounts", "destination", "/proc", "type", "proc", "source", "proc", "options",
		"nosuid", "noexec", "nodev", "destination", "/dev", "type", "tmpfs", "source",
		"tmpfs", "options", "nosuid", "strictatime", "mode=755", "size=65536k",
		"destination", "/dev/pts", "type", "devpts", "source", "devpts", "options",
		"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
		"destination", "/dev/shm", "type", "tmpfs", "source", "shm", "options", "nosuid",
		"noexec", "nodev", "mode=1777", "size=65536k", "destination", "/dev/mqueue", "type",
		"mqueue", "source", "mqueue", "options", "nosuid", "noexec", "nodev", "destination",
		"/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid", "noexec", "nodev",
		"ro", "destination", "/sys/fs/cgroup", "type", "cgroup", "source", "cgroup",
		"options", "nosuid", "noexec", "nodev", "relatime", "ro", "linux", "namespaces",
		"type", "pid", "type", "network", "type", "ipc", "type", "uts", "type", "mount",
		"type", "cgroup", "resources", "devices", devices, "cgroupsPath", cgroup_parent,
		"maskedPaths", "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "readonlyPaths", "/proc/bus", "/proc/fs",
		"/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
	json_decref(caps);
	assert_non_null(cfg);
	json_t *argv = json_array();
	for (const char *const *a = args; *a; a++)
		json_array_append_new(argv, json_string(*a));
	json_object_set_new(json_object_get(cfg, "process"), "args", argv);
	if (seccomp)
		json_object_set_new(json_object_get(cfg, "linux"), "seccomp",
				    oci_profile(CAPS_DEFAULT));
	return cfg;
}

/* BASE/NAME/config.json for a peer's bundle. */
static void
write_bundle(const char *base, const char *name, const char *rootfs, const char *cgroup_parent,
	     bool seccomp, const char *const *args)
{
	char dir[4200], path[4300];
	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	assert_int_equal(mkdir_p(dir, 0700, NULL), 0);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	json_t *cfg = oci_config(rootfs, cgroup_parent, seccomp, args);
	assert_int_equal(json_dump_file(cfg, path, JSON_INDENT(1)), 0);
	json_decref(cfg);
}

/* ---- the peer runner: a child in a private mount namespace ---- */

struct peer_runner {
	pid_t pid;  /* the helper */
	int to;     /* commands: "PEER BUNDLE ID\n" */
	int from;   /* replies: "MS STATUS\n" */
	char *base; /* bundles and state roots */
};

/* Runs one `PEER --root ROOT run --bundle BUNDLE ID`; its wall time, or -1 with *why. */
static double
peer_once(const char *peer, const char *base, const char *bundle, const char *id, char why[256])
{
	char root[4400], bdir[4400], errpath[4400], outpath[4400];
	snprintf(root, sizeof(root), "%s/%s-root", base, peer);
	snprintf(bdir, sizeof(bdir), "%s/%s", base, bundle);
	snprintf(errpath, sizeof(errpath), "%s/%s.err", base, peer);
	/* What a check bundle prints is kept; the timed runs print nothing. */
	snprintf(outpath, sizeof(outpath), "%s/%s.out", base, bundle);
	bool keep = endswith(bundle, "-check");
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int outfd =
			keep ? open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : null;
		dup2(null, 0);
		dup2(outfd, 1);
		dup2(errfd, 2);
		execlp(peer, peer, "--root", root, "run", "--bundle", bdir, id, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	double took = now_ms() - t0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return took;
	char *text = NULL;
	read_file(errpath, 4096, &text, NULL, NULL);
	snprintf(why, 256, "%s run exited with %d: %s", peer,
		 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
		 text && *text ? text : "no message");
	why[strcspn(why, "\n")] = '\0';
	free(text);
	return -1;
}

static void
peer_serve(int in, int out, const char *base)
{
	FILE *f = fdopen(in, "r");
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char peer[32], bundle[64], id[64], why[256] = "";
		if (sscanf(line, "%31s %63s %63s", peer, bundle, id) != 3)
			break;
		double ms = peer_once(peer, base, bundle, id, why);
		dprintf(out, "%.4f %s\n", ms, ms < 0 ? why : "ok");
	}
	_exit(0);
}

/*
 * The helper: a private mount namespace in which the hybrid layout's cgroup2 mount is
 * unmounted (crun 1.8 refuses the hybrid layout); nothing outside it changes.
 */
static void
peer_start(struct peer_runner *p, const char *base)
{
	int to[2], from[2];
	assert_int_equal(pipe2(to, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		/* Our ends only: the other ones would keep the helper from seeing EOF. */
		close(to[1]);
		close(from[0]);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(1);
		if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0 && errno != EINVAL &&
		    errno != ENOENT)
			_exit(1);
		peer_serve(to[0], from[1], base);
	}
	close(to[0]);
	close(from[1]);
	p->to = to[1];
	p->from = from[0];
	p->base = strdup(base);
}

static double
peer_run(struct peer_runner *p, const char *peer, const char *bundle, int i, char why[256])
{
	char id[64], reply[512];
	snprintf(id, sizeof(id), "bench-%s-%d", bundle, i);
	dprintf(p->to, "%s %s %s\n", peer, bundle, id);
	size_t n = 0;
	while (n < sizeof(reply) - 1) {
		ssize_t r = read(p->from, reply + n, 1);
		if (r <= 0 || reply[n] == '\n')
			break;
		n++;
	}
	reply[n] = '\0';
	double ms = strtod(reply, NULL);
	if (ms < 0) {
		const char *sp = strchr(reply, ' ');
		snprintf(why, 256, "%s", sp ? sp + 1 : "no reply from the peer runner");
	}
	return ms;
}

static void
peer_stop(struct peer_runner *p)
{
	close(p->to);
	close(p->from);
	waitpid(p->pid, NULL, 0);
	free(p->base);
}

/* Removes the peers' cgroup parent NAME wherever they made it (every hierarchy). */
static void
remove_peer_cgroups(const char *name)
{
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char path[4200];
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", de->d_name, name);
		rmdir(path);
	}
	if (d)
		closedir(d);
}

/* ---- the benchmark ---- */

static void
print_metric(const char *metric, const char *peer, double value, const char *unit)
{
	printf("bench: %s%s%s %.2f %s\n", metric, peer ? "." : "", peer ? peer : "", value, unit);
}

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

static void
hygiene(struct rt *rt)
{
	int mounts = rt_host_mounts(), fds = -1;
	long rss = -1;
	double t0 = now_ms();
	for (int i = 0; i < cycles + 10; i++) {
		if (i == 10) {
			mounts = rt_host_mounts();
			fds = fd_count(rt->monitor_pid);
			rss = proc_kb(rt->monitor_pid, "status", "VmRSS:");
			t0 = now_ms();
		}
		char id[32];
		snprintf(id, sizeof(id), "cycle%d", i);
		json_t *spec = rt_spec(id, "/bin/sleep", "100", NULL);
		json_object_set_new(spec, "resources",
				    json_pack("{s:I, s:I}", "memoryBytes", (json_int_t)64 << 20,
					      "pidsMax", (json_int_t)64));
		korch_error *err = NULL;
		if (monitor_client_create(rt->client, spec, NULL, &err) < 0 ||
		    monitor_client_start(rt->client, id, NULL, &err) < 0 ||
		    monitor_client_kill(rt->client, id, SIGKILL, &err) < 0 ||
		    monitor_client_delete(rt->client, id, 0, &err) < 0)
			fail_msg("%s: %s", id, korch_error_message(err));
		json_decref(spec);
	}
	double ms = now_ms() - t0;
	long rss_after = proc_kb(rt->monitor_pid, "status", "VmRSS:");
	printf("bench: runtime.cycles %d count\n", cycles);
	print_metric("runtime.cycle_ms", NULL, ms / cycles, "ms");
	printf("bench: runtime.cycles_leaked_cgroups %d count\n", rt_cgroup_leftovers());
	printf("bench: runtime.cycles_leaked_mounts %d count\n", rt_host_mounts() - mounts);
	printf("bench: runtime.cycles_fd_growth %d count\n", fd_count(rt->monitor_pid) - fds);
	print_metric("runtime.cycles_rss_growth_pct", NULL,
		     rss > 0 ? 100.0 * (double)(rss_after - rss) / (double)rss : 0, "%");
}

static void
bench_runtime(void **state)
{
	struct rt *rt = *state;
	static double ms[N_CONFIGS][MAX_RUNS + WARMUP];
	int n[N_CONFIGS] = { 0 };
	bool skip[N_CONFIGS] = { false };
	char why[N_CONFIGS][256];
	struct peer_runner pr = { 0 };
	char base[4200], parent[128];
	snprintf(base, sizeof(base), "%s/peers", rt->dir);
	snprintf(parent, sizeof(parent), "/korch-bench-%d", (int)getpid());
	const char *rootfs = json_string_value(json_array_get(rt_base_layers, 0));
	for (int c = C_SEC; c < N_CONFIGS; c++) {
		const char *peer = c <= C_NOSEC ? "crun" : "runc";
		if (!peers) {
			skip[c] = true;
			snprintf(why[c], sizeof(why[c]), "--no-peers given");
		} else if (system(c <= C_NOSEC ? "command -v crun >/dev/null 2>&1"
					       : "command -v runc >/dev/null 2>&1") != 0) {
			skip[c] = true;
			snprintf(why[c], sizeof(why[c]), "%s is not installed", peer);
		}
	}
	if (peers) {
		static const char *const true_args[] = { "/bin/true", NULL };
		static const char *const check_args[] = { "/bin/grep", "-E",
							  "^(CapEff|NoNewPrivs|Seccomp):",
							  "/proc/self/status", NULL };
		char cg[200];
		snprintf(cg, sizeof(cg), "%s-crun", parent);
		write_bundle(base, "crun-sec", rootfs, cg, true, true_args);
		write_bundle(base, "crun-nosec", rootfs, cg, false, true_args);
		write_bundle(base, "crun-check", rootfs, cg, true, check_args);
		snprintf(cg, sizeof(cg), "%s-runc", parent);
		write_bundle(base, "runc-sec", rootfs, cg, true, true_args);
		write_bundle(base, "runc-nosec", rootfs, cg, false, true_args);
		write_bundle(base, "runc-check", rootfs, cg, true, check_args);
		peer_start(&pr, base);
	}
	long peak_private = 0, peak_rss = 0;
	for (int i = 0; i < WARMUP + runs; i++) {
		for (int c = 0; c < N_CONFIGS; c++) {
			if (skip[c])
				continue;
			double t;
			if (c == K_SEC || c == K_NOSEC) {
				t = korch_run(rt, i * 2 + c, c == K_SEC);
				long priv =
					proc_kb(rt->monitor_pid, "smaps_rollup", "Private_Dirty:");
				long rss = proc_kb(rt->monitor_pid, "status", "VmRSS:");
				peak_private = priv > peak_private ? priv : peak_private;
				peak_rss = rss > peak_rss ? rss : peak_rss;
			} else {
				static const char *const bundles[] = { "crun-sec", "crun-nosec",
								       "runc-sec", "runc-nosec" };
				t = peer_run(&pr, c <= C_NOSEC ? "crun" : "runc",
					     bundles[c - C_SEC], i, why[c]);
				if (t < 0) {
					skip[c] = true;
					continue;
				}
			}
			if (i >= WARMUP)
				ms[c][n[c]++] = t;
		}
	}
	if (peers) {
		/* The peers ran with the filter and the capabilities korch gives. */
		for (int c = C_SEC; c < N_CONFIGS; c += 2) {
			const char *peer = c == C_SEC ? "crun" : "runc";
			char bundle[32], path[4300], why_check[256] = "", *out = NULL;
			snprintf(bundle, sizeof(bundle), "%s-check", peer);
			snprintf(path, sizeof(path), "%s/%s.out", base, bundle);
			if (skip[c] || peer_run(&pr, peer, bundle, 0, why_check) < 0 ||
			    read_file(path, 4096, &out, NULL, NULL) < 0)
				continue;
			if (strcmp(out,
				   "CapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n") != 0)
				fail_msg("%s's container did not run as korch's: %s", peer, out);
			free(out);
		}
		peer_stop(&pr);
		char name[200];
		snprintf(name, sizeof(name), "%s-crun", parent + 1);
		remove_peer_cgroups(name);
		snprintf(name, sizeof(name), "%s-runc", parent + 1);
		remove_peer_cgroups(name);
	}
	double med[N_CONFIGS] = { 0 };
	for (int c = 0; c < N_CONFIGS; c++)
		if (!skip[c] && n[c] == runs)
			med[c] = median(ms[c], n[c]);
	for (int c = 0; c < N_CONFIGS; c++)
		if (med[c] > 0)
			printf("# %-20s median %7.2f ms  p95 %7.2f ms  min %7.2f ms\n",
			       config_names[c], med[c], p95(ms[c], n[c]), ms[c][0]);
	print_metric("runtime.start_ms", NULL, med[K_SEC], "ms");
	print_metric("runtime.start_p95_ms", NULL, p95(ms[K_SEC], n[K_SEC]), "ms");
	static const struct {
		const char *metric;
		int korch, peer;
		const char *name;
	} out[] = {
		{ "runtime.start_ms", K_SEC, C_SEC, "crun" },
		{ "runtime.start_ms", K_SEC, R_SEC, "runc" },
		{ "runtime.start_noseccomp_ms", K_NOSEC, C_NOSEC, "crun" },
		{ "runtime.start_noseccomp_ms", K_NOSEC, R_NOSEC, "runc" },
	};
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		if (i == 2)
			print_metric("runtime.start_noseccomp_ms", NULL, med[K_NOSEC], "ms");
		int c = out[i].peer;
		if (med[c] > 0)
			print_metric(out[i].metric, out[i].name, med[c], "ms");
		else
			printf("bench: %s.%s skipped %s\n", out[i].metric, out[i].name, why[c]);
		if (out[i].peer == C_SEC || out[i].peer == C_NOSEC) {
			const char *ratio = out[i].peer == C_SEC
						    ? "runtime.start_ratio_crun"
						    : "runtime.start_noseccomp_ratio_crun";
			if (med[c] > 0)
				printf("bench: %s %.3f x\n", ratio, med[out[i].korch] / med[c]);
			else
				printf("bench: %s skipped %s\n", ratio, why[c]);
		}
	}
	print_metric("runtime.peak_private_mb", NULL, (double)peak_private / 1024, "MB");
	print_metric("runtime.peak_rss_mb", NULL, (double)peak_rss / 1024, "MB");
	print_metric("runtime.monitor_hwm_mb", NULL,
		     (double)proc_kb(rt->monitor_pid, "status", "VmHWM:") / 1024, "MB");
	fflush(stdout);
	if (cycles > 0)
		hygiene(rt);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (streq(argv[i], "--cycles") && i + 1 < argc)
			cycles = atoi(argv[++i]);
		else if (streq(argv[i], "--no-peers"))
			peers = false;
		else {
			fprintf(stderr, "usage: %s [--runs N] [--cycles N] [--no-peers]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "--runs: 1 to %d\n", MAX_RUNS);
		return 2;
	}
	if (rt_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(bench_runtime, rt_setup, rt_teardown),
	};
	return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
