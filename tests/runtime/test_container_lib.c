/*
 * test_container_lib.c - shared setup for the runtime's root tests: the busybox rootfs (Debian's
 * busybox-static and its applet links, the probe, /etc files), a monitor per test, and a
 * teardown that leaves no process, mount or directory behind even when a test failed.
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
#include "test_container_lib.h"

char *rt_rootfs;
static char *rootfs_parent;

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

int
rt_group_setup(void **state)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	rootfs_parent = strdup("/tmp/korch-rt-rootfs-XXXXXX");
	if (!mkdtemp(rootfs_parent))
		return -1;
	if (asprintf(&rt_rootfs, "%s/rootfs", rootfs_parent) < 0)
		return -1;
	sub(rt_rootfs, "bin", 0755);
	char path[4096];
	snprintf(path, sizeof(path), "%s/bin/busybox", rt_rootfs);
	copy_file("/usr/bin/busybox", path, 0755);
	FILE *list = popen("/usr/bin/busybox --list", "r");
	char applet[256];
	while (list && fgets(applet, sizeof(applet), list)) {
		applet[strcspn(applet, "\n")] = '\0';
		if (!applet[0] || streq(applet, "busybox"))
			continue;
		snprintf(path, sizeof(path), "%s/bin/%s", rt_rootfs, applet);
		if (symlink("busybox", path) < 0)
			return -1;
	}
	if (!list || pclose(list) != 0)
		return -1;
	const char *probe = getenv("KORCH_TEST_PROBE");
	if (!probe)
		return -1;
	snprintf(path, sizeof(path), "%s/probe", rt_rootfs);
	copy_file(probe, path, 0755);
	put(rt_rootfs, ".korch-probe", "", 0644);
	sub(rt_rootfs, "etc", 0755);
	put(rt_rootfs, "etc/passwd",
	    "root:x:0:0:root:/root:/bin/sh\n"
	    "user:x:1000:1000:a user:/home/user:/bin/sh\n"
	    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	    0644);
	put(rt_rootfs, "etc/group",
	    "root:x:0:\nusers:x:100:user\nuser:x:1000:\nwheel:x:10:root,user\n"
	    "nogroup:x:65534:\n",
	    0644);
	put(rt_rootfs, "etc/hostname", "image-hostname\n", 0644);
	sub(rt_rootfs, "tmp", 01777);
	sub(rt_rootfs, "mnt", 0755);
	sub(rt_rootfs, "root", 0700);
	sub(rt_rootfs, "home/user", 0755);
	sub(rt_rootfs, "testdir", 0755);
	sub(rt_rootfs, "testdir2", 0755);
	put(rt_rootfs, "testdir/secret", "Forbidden information!\n", 0644);
	put(rt_rootfs, "testfile", "Forbidden information!\n", 0644);
	put(rt_rootfs, "notelf", "this is not a program\n", 0755);
	snprintf(path, sizeof(path), "%s/etclink", rt_rootfs);
	if (symlink("/etc", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/escape", rt_rootfs);
	if (symlink("../../../../../../../../etc", path) < 0)
		return -1;
	*state = NULL;
	return 0;
}

int
rt_group_teardown(void **state)
{
	rm_rf(rootfs_parent, NULL);
	free(rootfs_parent);
	free(rt_rootfs);
	return 0;
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
	rt->dir = strdup("/tmp/korch-rt-XXXXXX");
	if (!mkdtemp(rt->dir) || asprintf(&rt->run_dir, "%s/run", rt->dir) < 0)
		return -1;
	*state = rt;
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
			json_array_foreach(list, i, c) monitor_client_delete(
				rt->client, json_string_value(json_object_get(c, "id")), 0, NULL);
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
	rm_rf(rt->dir, NULL);
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
	return json_pack("{s:s, s:{s:[s]}, s:{s:o}}", "id", id, "rootfs", "layers", rt_rootfs,
			 "process", "args", args);
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
	for (char *p = data; *p; p++)
		n += *p == '\n';
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
