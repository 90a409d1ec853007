/*
 * test_container_lib.c - shared setup for the runtime's root tests: the busybox test image
 * loaded into a temporary image store plus a test layer holding the probe, a plain rootfs, a
 * monitor per test, the cgroups of this program's instance, and a teardown that leaves no
 * process, mount, cgroup or directory behind even when a test failed.
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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/image.h"
#include "test_container_lib.h"

json_t *rt_base_layers;
char *rt_test_layer;
char *rt_plain_rootfs;
char rt_instance[64];
static char *rootfs_parent;
/*
 * The directory of the test's struct rt: rt_host_mounts() counts only mounts below it and the
 * group's rootfs directory, since other tests running beside this one mount things too.
 */
static const char *rt_live_dir;
static struct image_store *store;

bool
rt_skip(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return true;
	}
	if (access("/usr/bin/busybox", X_OK) < 0) {
		printf("1..0 # SKIP needs busybox-static\n");
		return true;
	}
	return false;
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(read_file(from, 64 << 20, &data, &len, NULL), 0);
	assert_int_equal(write_file_replace(to, data, len, mode, NULL), 0);
	free(data);
}

static void
put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(write_file_replace(path, text, strlen(text), mode, NULL), 0);
}

static void
sub(const char *dir, const char *name, mode_t mode)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir_p(path, 0755, NULL), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The plain rootfs: busybox with its applet links, the probe, /etc files. */
static int
make_plain_rootfs(const char *dir)
{
	sub(dir, "bin", 0755);
	char path[4096];
	snprintf(path, sizeof(path), "%s/bin/busybox", dir);
	copy_file("/usr/bin/busybox", path, 0755);
	FILE *list = popen("/usr/bin/busybox --list", "r");
	char applet[256];
	while (list && fgets(applet, sizeof(applet), list)) {
		applet[strcspn(applet, "\n")] = '\0';
		if (!applet[0] || streq(applet, "busybox"))
			continue;
		snprintf(path, sizeof(path), "%s/bin/%s", dir, applet);
		if (symlink("busybox", path) < 0)
			return -1;
	}
	if (!list || pclose(list) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/probe", dir);
	copy_file(getenv("KORCH_TEST_PROBE"), path, 0755);
	put(dir, ".korch-probe", "", 0644);
	sub(dir, "etc", 0755);
	put(dir, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
	sub(dir, "tmp", 01777);
	return 0;
}

/* What the tests need beside the image: the probe, its marker, and fixtures. */
static int
make_test_layer(const char *dir)
{
	char path[4096];
	sub(dir, "", 0755);
	snprintf(path, sizeof(path), "%s/probe", dir);
	copy_file(getenv("KORCH_TEST_PROBE"), path, 0755);
	put(dir, ".korch-probe", "", 0644);
	sub(dir, "mnt", 0755);
	sub(dir, "testdir", 0755);
	sub(dir, "testdir2", 0755);
	put(dir, "testdir/secret", "Forbidden information!\n", 0644);
	put(dir, "testfile", "Forbidden information!\n", 0644);
	put(dir, "notelf", "this is not a program\n", 0755);
	snprintf(path, sizeof(path), "%s/etclink", dir);
	if (symlink("/etc", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/escape", dir);
	if (symlink("../../../../../../../../etc", path) < 0)
		return -1;
	return 0;
}

/* Loads KORCH_TEST_IMAGE into a store of our own and takes its layer directories. */
static int
load_test_image(void)
{
	const char *image = getenv("KORCH_TEST_IMAGE");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/images", rootfs_parent);
	korch_error *err = NULL;
	struct image *img = NULL;
	if (!image || image_store_open(dir, &store, &err) < 0 ||
	    image_store_load(store, image, NULL, NULL, NULL, NULL, &err) < 0 ||
	    image_store_lookup(store, "korch.test/busybox:1", &img, &err) < 0) {
		fprintf(stderr, "test image %s: %s\n", image ? image : "(KORCH_TEST_IMAGE unset)",
			err ? korch_error_message(err) : "");
		korch_error_free(err);
		return -1;
	}
	rt_base_layers = json_array();
	for (size_t i = 0; i < img->n_layers; i++)
		json_array_append_new(rt_base_layers, json_string(img->layer_dirs[i]));
	json_array_append_new(rt_base_layers, json_string(rt_test_layer));
	image_free(img);
	return 0;
}

int
rt_group_setup(void **state)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(rt_instance, sizeof(rt_instance), "rt-%d", (int)getpid());
	rootfs_parent = strdup("/tmp/korch-rt-rootfs-XXXXXX");
	if (!mkdtemp(rootfs_parent) || !getenv("KORCH_TEST_PROBE"))
		return -1;
	if (asprintf(&rt_test_layer, "%s/test-layer", rootfs_parent) < 0 ||
	    asprintf(&rt_plain_rootfs, "%s/plain", rootfs_parent) < 0)
		return -1;
	if (make_test_layer(rt_test_layer) < 0 || make_plain_rootfs(rt_plain_rootfs) < 0 ||
	    load_test_image() < 0)
		return -1;
	*state = NULL;
	return 0;
}

int
rt_group_teardown(void **state)
{
	rt_cgroup_remove_all();
	image_store_free(store);
	rm_rf(rootfs_parent, NULL);
	free(rootfs_parent);
	free(rt_test_layer);
	free(rt_plain_rootfs);
	json_decref(rt_base_layers);
	return 0;
}

/* ---- cgroups ---- */

/* The mount points of every cgroup hierarchy, with their super options ("rw,memory"). */
static int
cgroup_mounts(char *points[32], char *opts[32])
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192];
	int n = 0;
	while (f && n < 32 && fgets(line, sizeof(line), f)) {
		char mnt[4096], fstype[64], superopts[1024];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, superopts) != 2)
			continue;
		if (!streq(fstype, "cgroup") && !streq(fstype, "cgroup2"))
			continue;
		points[n] = strdup(mnt);
		opts[n++] = strdup(streq(fstype, "cgroup2") ? "cgroup2" : superopts);
	}
	if (f)
		fclose(f);
	return n;
}

static void
find_named(const char *dir, const char *name, int depth, char ***v, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char *sub_dir = NULL;
		if (asprintf(&sub_dir, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (streq(de->d_name, name)) {
			*v = realloc(*v, (*n + 2) * sizeof(char *));
			(*v)[(*n)++] = sub_dir;
			(*v)[*n] = NULL;
		} else {
			if (depth > 0)
				find_named(sub_dir, name, depth - 1, v, n);
			free(sub_dir);
		}
	}
	if (d)
		closedir(d);
}

char **
rt_cgroup_parents(void)
{
	char *points[32], *opts[32], name[80];
	int n = cgroup_mounts(points, opts);
	snprintf(name, sizeof(name), "korch-%s", rt_instance);
	char **v = calloc(1, sizeof(char *));
	size_t count = 0;
	for (int i = 0; i < n; i++) {
		find_named(points[i], name, 6, &v, &count);
		free(points[i]);
		free(opts[i]);
	}
	return v;
}

static int
count_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char *sub_dir = NULL;
		if (asprintf(&sub_dir, "%s/%s", dir, de->d_name) < 0)
			continue;
		n += 1 + count_dirs(sub_dir);
		free(sub_dir);
	}
	if (d)
		closedir(d);
	return n;
}

int
rt_cgroup_leftovers(void)
{
	char **v = rt_cgroup_parents();
	int n = 0;
	for (char **p = v; *p; p++) {
		n += count_dirs(*p);
		free(*p);
	}
	free(v);
	return n;
}

/* Depth first: kill every task listed, then rmdir (retrying while tasks exit). */
static int
remove_tree(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char *sub_dir = NULL;
		if (asprintf(&sub_dir, "%s/%s", dir, de->d_name) < 0)
			continue;
		n += remove_tree(sub_dir);
		free(sub_dir);
	}
	if (d)
		closedir(d);
	for (int attempt = 0; attempt < 200; attempt++) {
		char path[4200], *procs = NULL;
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		if (read_file(path, 1 << 20, &procs, NULL, NULL) == 0) {
			for (char *t = strtok(procs, "\n"); t; t = strtok(NULL, "\n"))
				kill(atoi(t), SIGKILL);
			free(procs);
		}
		if (rmdir(dir) == 0 || errno == ENOENT)
			return n + 1;
		usleep(10000);
	}
	return n;
}

int
rt_cgroup_remove_all(void)
{
	char **v = rt_cgroup_parents();
	int n = 0;
	for (char **p = v; *p; p++) {
		n += remove_tree(*p);
		free(*p);
	}
	free(v);
	return n;
}

char *
rt_container_cgroup(json_t *state, const char *controller)
{
	int pid = (int)json_integer_value(json_object_get(state, "pid"));
	char path[64], *text = NULL, *result = NULL;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return NULL;
	char *points[32], *opts[32];
	int n = cgroup_mounts(points, opts);
	for (char *line = strtok(text, "\n"); line && !result; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		bool match = false;
		char *save = NULL;
		for (char *c = strtok_r(c1 + 1, ",", &save); c; c = strtok_r(NULL, ",", &save))
			match |= streq(c, controller);
		for (int i = 0; match && i < n && !result; i++) {
			char *save2 = NULL, *copy = strdup(opts[i]);
			for (char *o = strtok_r(copy, ",", &save2); o;
			     o = strtok_r(NULL, ",", &save2))
				if (streq(o, controller) &&
				    asprintf(&result, "%s%s", points[i], c2 + 1) < 0)
					result = NULL;
			free(copy);
		}
	}
	for (int i = 0; i < n; i++) {
		free(points[i]);
		free(opts[i]);
	}
	free(text);
	return result;
}

struct monitor_client *
rt_connect(struct rt *rt)
{
	struct monitor_client *c = NULL;
	korch_error *err = NULL;
	struct monitor_client_options opts = { .run_dir = rt->run_dir };
	int r = monitor_client_connect(&opts, &c, &err);
	if (r < 0)
		fail_msg("connect: %s", korch_error_message(err));
	return c;
}

int
rt_setup(void **state)
{
	struct rt *rt = calloc(1, sizeof(*rt));
	const char *tmp = getenv("KORCH_RT_TMPDIR");
	if (asprintf(&rt->dir, "%s/korch-rt-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(rt->dir) ||
	    asprintf(&rt->run_dir, "%s/run", rt->dir) < 0)
		return -1;
	*state = rt;
	rt_live_dir = rt->dir;
	rt->client = rt_connect(rt);
	rt->monitor_pid = monitor_client_monitor_pid(rt->client);
	return rt->client ? 0 : -1;
}

/* Kills and reaps every child we still have: monitors and containers orphaned to us. */
static void
reap_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int pid = atoi(de->d_name);
		if (pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *p = strrchr(buf, ')');
		int ppid = 0;
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == getpid()) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	if (d)
		closedir(d);
}

/* Detaches whatever is still mounted under dir (nothing should be). */
static int
umount_under(const char *dir)
{
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192];
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && startswith(mnt, dir)) {
			umount2(mnt, MNT_DETACH);
			found++;
		}
	}
	if (f)
		fclose(f);
	return found;
}

int
rt_teardown(void **state)
{
	struct rt *rt = *state;
	if (!rt)
		return 0;
	if (!rt->client) {
		struct monitor_client_options opts = { .run_dir = rt->run_dir, .no_start = true };
		monitor_client_connect(&opts, &rt->client, NULL);
	}
	if (rt->client) {
		json_t *list = NULL;
		if (monitor_client_list(rt->client, &list, NULL) == 0) {
			size_t i;
			json_t *c;
			json_array_foreach (list, i, c)
				monitor_client_delete(rt->client,
						      json_string_value(json_object_get(c, "id")),
						      0, NULL);
		}
		json_decref(list);
		pid_t pid = monitor_client_monitor_pid(rt->client);
		monitor_client_shutdown(rt->client, NULL);
		monitor_client_free(rt->client);
		/* The monitor is our child (we are a subreaper): give it a moment to exit. */
		for (int i = 0; i < 300 && pid > 0 && waitpid(pid, NULL, WNOHANG) == 0; i++)
			usleep(10000);
	}
	reap_children();
	/* What the monitor logged, but its info lines, goes to the TAP output. */
	char log[4200], *text = NULL;
	snprintf(log, sizeof(log), "%s/monitor.log", rt->run_dir);
	if (read_file(log, 1 << 20, &text, NULL, NULL) == 0)
		for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
			if (!startswith(l, "korch[info]"))
				printf("# monitor: %s\n", l);
	free(text);
	umount_under(rt->dir);
	/* What a failed test left in cgroups goes too, so the next test starts clean. */
	int left = rt_cgroup_leftovers();
	if (left > 0) {
		printf("# %d cgroup directories left below korch-%s: removed\n", left, rt_instance);
		rt_cgroup_remove_all();
	}
	rm_rf(rt->dir, NULL);
	rt_live_dir = NULL;
	free(rt->dir);
	free(rt->run_dir);
	free(rt);
	return 0;
}

json_t *
rt_spec(const char *id, ...)
{
	json_t *args = json_array();
	va_list ap;
	va_start(ap, id);
	for (const char *a; (a = va_arg(ap, const char *));)
		json_array_append_new(args, json_string(a));
	va_end(ap);
	return json_pack("{s:s, s:{s:O}, s:{s:o}, s:{s:s}}", "id", id, "rootfs", "layers",
			 rt_base_layers, "process", "args", args, "cgroup", "instance",
			 rt_instance);
}

json_t *
rt_layers(const char *extra, ...)
{
	json_t *layers = json_copy(rt_base_layers);
	va_list ap;
	va_start(ap, extra);
	for (const char *l = extra; l; l = va_arg(ap, const char *))
		json_array_append_new(layers, json_string(l));
	va_end(ap);
	return layers;
}

static void
check(int r, korch_error *err, const char *what)
{
	if (r < 0)
		fail_msg("%s: %s", what, korch_error_message(err));
}

json_t *
rt_start(struct rt *rt, json_t *spec)
{
	korch_error *err = NULL;
	const char *id = json_string_value(json_object_get(spec, "id"));
	json_t *state = NULL;
	int r = monitor_client_create(rt->client, spec, &state, &err);
	check(r, err, "create");
	assert_string_equal(json_string_value(json_object_get(state, "status")), "created");
	json_decref(state);
	r = monitor_client_start(rt->client, id, &state, &err);
	check(r, err, "start");
	json_decref(spec);
	return state;
}

json_t *
rt_run(struct rt *rt, json_t *spec)
{
	char *id = strdup(json_string_value(json_object_get(spec, "id")));
	json_decref(rt_start(rt, spec));
	korch_error *err = NULL;
	json_t *state = NULL;
	int r = monitor_client_wait(rt->client, id, 20000, &state, &err);
	check(r, err, "wait");
	assert_string_equal(json_string_value(json_object_get(state, "status")), "exited");
	free(id);
	return state;
}

int
rt_create_error(struct rt *rt, json_t *spec, char **ret_message)
{
	korch_error *err = NULL;
	json_t *state = NULL;
	int r = monitor_client_create(rt->client, spec, &state, &err);
	json_decref(spec);
	json_decref(state);
	assert_true(r < 0);
	*ret_message = strdup(korch_error_message(err));
	korch_error_free(err);
	return r;
}

void
rt_expect(struct rt *rt, json_t *spec, int exit_code, const char *stdout_text)
{
	json_t *state = rt_run(rt, spec);
	char *out = rt_output(state, "stdout");
	assert_string_equal(out, stdout_text);
	assert_int_equal(json_integer_value(json_object_get(state, "exitCode")), exit_code);
	free(out);
	json_decref(state);
}

int
rt_exec(struct rt *rt, const char *id, json_t *process, char **out, korch_error **err)
{
	int p[2], null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	/* Room for everything the process writes: we read only after it exited. */
	fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	int stdio[3] = { null, p[1], p[1] };
	int code = -1;
	int r = monitor_client_exec(rt->client, id, process, stdio, 20000, &code, err);
	json_decref(process);
	close(null);
	close(p[1]);
	char *buf = malloc(1 << 20);
	ssize_t n = read(p[0], buf, (1 << 20) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	*out = buf;
	return r < 0 ? r : code;
}

char *
rt_output(json_t *state, const char *stream)
{
	const char *path = json_string_value(json_object_get(state, "logPath"));
	char *data = NULL;
	if (read_file(path, 64 << 20, &data, NULL, NULL) < 0)
		return strdup("");
	struct strbuf {
		char *buf;
		size_t len;
	} out = { calloc(1, strlen(data) + 1), 0 };
	/* "TIME STREAM TAG TEXT" per line; P lines continue without a newline. */
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *s1 = strchr(line, ' ');
		char *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
		if (!s2 || strncmp(s1 + 1, stream, (size_t)(s2 - s1 - 1)) != 0 ||
		    strlen(stream) != (size_t)(s2 - s1 - 1))
			continue;
		char tag = s2[1];
		const char *text = s2 + 3;
		size_t n = strlen(text);
		memcpy(out.buf + out.len, text, n);
		out.len += n;
		if (tag == 'F')
			out.buf[out.len++] = '\n';
	}
	out.buf[out.len] = '\0';
	free(data);
	return out.buf;
}

bool
rt_wait_output(json_t *state, const char *text, int timeout_ms)
{
	for (int i = 0; i <= timeout_ms / 10; i++) {
		char *out = rt_output(state, "stdout");
		bool found = strstr(out, text) != NULL;
		free(out);
		if (found)
			return true;
		usleep(10000);
	}
	return false;
}

int
rt_host_mounts(void)
{
	char *data = NULL;
	assert_int_equal(read_file("/proc/self/mountinfo", 1 << 20, &data, NULL, NULL), 0);
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		n += strstr(line, rootfs_parent) || (rt_live_dir && strstr(line, rt_live_dir));
	free(data);
	return n;
}

char *
rt_host_dir(struct rt *rt, const char *subdir, const char *name, const char *text)
{
	char *dir = NULL;
	assert_true(asprintf(&dir, "%s/%s", rt->dir, subdir) > 0);
	assert_int_equal(mkdir_p(dir, 0755, NULL), 0);
	if (name)
		put(dir, name, text, 0644);
	return dir;
}

char *
rt_layer(struct rt *rt, const char *name)
{
	return rt_host_dir(rt, name, NULL, NULL);
}
