/*
 * test_monitor.c - korch-monitor with real containers: exit statuses and output that outlive
 * clients and the monitor itself (SIGKILL and re-attach), delete leaving nothing behind, the
 * grace period, children of pid 1, exec, logs, the protocol version and a single instance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "runtime/monitor-proto.h"
#include "test_container_lib.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_int_t
int_of(json_t *st, const char *key)
{
	return json_integer_value(json_object_get(st, key));
}

static const char *
str_of(json_t *st, const char *key)
{
	return json_string_value(json_object_get(st, key));
}

static json_t *
wait_exit(struct rt *rt, const char *id)
{
	json_t *st = NULL;
	korch_error *err = NULL;
	int r = monitor_client_wait(rt->client, id, 20000, &st, &err);
	if (r < 0)
		fail_msg("wait %s: %s", id, korch_error_message(err));
	assert_string_equal(str_of(st, "status"), "exited");
	return st;
}

static json_t *
state_of(struct rt *rt, const char *id)
{
	json_t *st = NULL;
	korch_error *err = NULL;
	if (monitor_client_state(rt->client, id, &st, &err) < 0)
		fail_msg("state %s: %s", id, korch_error_message(err));
	return st;
}

static void
expect_stdout(json_t *st, const char *text)
{
	char *out = rt_output(st, "stdout");
	assert_string_equal(out, text);
	free(out);
}

/* SIGKILLs the test's monitor and reaps it; its containers are orphaned to us. */
static void
kill_monitor(struct rt *rt)
{
	monitor_client_free(rt->client);
	rt->client = NULL;
	assert_int_equal(kill(rt->monitor_pid, SIGKILL), 0);
	assert_int_equal(waitpid(rt->monitor_pid, NULL, 0), rt->monitor_pid);
}

static void
restart_monitor(struct rt *rt)
{
	pid_t old = rt->monitor_pid;
	rt->client = rt_connect(rt);
	rt->monitor_pid = monitor_client_monitor_pid(rt->client);
	assert_int_not_equal(rt->monitor_pid, old);
}

/* A container that exits while no client is connected keeps its status and output. */
static void
test_exit_without_client(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_start(rt, rt_spec("gone", "/probe", "echo", "one", ";", "sleep", "0.3", ";",
					  "echo", "two", ";", "exit", "7", NULL));
	json_decref(st);
	pid_t monitor = rt->monitor_pid;
	monitor_client_free(rt->client);
	rt->client = NULL;
	usleep(600 * 1000);
	rt->client = rt_connect(rt);
	assert_int_equal(monitor_client_monitor_pid(rt->client), monitor);
	st = state_of(rt, "gone");
	assert_string_equal(str_of(st, "status"), "exited");
	assert_int_equal(int_of(st, "exitCode"), 7);
	assert_string_equal(str_of(st, "reason"), "Error");
	expect_stdout(st, "one\ntwo\n");
	json_decref(st);
}

struct reaper {
	pid_t pid;  /* the orphaned init to reap */
	int status; /* what waitpid said */
};

static void *
reap_thread(void *arg)
{
	struct reaper *r = arg;
	waitpid(r->pid, &r->status, 0);
	return NULL;
}

/*
 * SIGKILL the monitor while a container runs: nothing is lost. The container writes while no
 * monitor reads (no SIGPIPE: it holds its pipes read-write), the next monitor re-attaches and
 * reports its later exit and all its output. reap says whether the orphan's new parent (this
 * test, a subreaper) reaps it at once (the new monitor then reads the status from its pidfd)
 * or leaves a zombie (the status is read from /proc/PID/stat).
 */
static void
reattach(struct rt *rt, bool reap)
{
	json_t *st = rt_start(rt, rt_spec("long", "/probe", "echo", "before", ";", "sleep", "0.5",
					  ";", "echo", "during", ";", "sleep", "1.2", ";", "echo",
					  "after", ";", "exit", "5", NULL));
	pid_t pid = (pid_t)int_of(st, "pid");
	assert_true(rt_wait_output(st, "before", 5000));
	json_decref(st);
	kill_monitor(rt);
	struct reaper r = { pid, -1 };
	pthread_t thread;
	if (reap)
		assert_int_equal(pthread_create(&thread, NULL, reap_thread, &r), 0);
	usleep(800 * 1000);
	restart_monitor(rt);
	st = state_of(rt, "long");
	assert_string_equal(str_of(st, "status"), "running");
	assert_int_equal(int_of(st, "pid"), pid);
	json_decref(st);
	st = wait_exit(rt, "long");
	assert_int_equal(int_of(st, "exitCode"), 5);
	assert_string_equal(str_of(st, "reason"), "Error");
	expect_stdout(st, "before\nduring\nafter\n");
	json_decref(st);
	if (reap) {
		pthread_join(thread, NULL);
		assert_true(WIFEXITED(r.status));
		assert_int_equal(WEXITSTATUS(r.status), 5);
	}
}

static void
test_reattach_zombie(void **state)
{
	reattach(*state, false);
}

static void
test_reattach_reaped(void **state)
{
	reattach(*state, true);
}

/*
 * An init that exits while no monitor runs: its status survives while it is an unreaped
 * zombie; once its new parent reaped it, it is lost, and the state says so.
 */
static void
test_exit_while_no_monitor(void **state)
{
	struct rt *rt = *state;
	for (int reap = 0; reap < 2; reap++) {
		const char *id = reap ? "reaped" : "zombie";
		json_t *st = rt_start(rt, rt_spec(id, "/probe", "echo", "before", ";", "sleep",
						  "0.3", ";", "exit", "6", NULL));
		pid_t pid = (pid_t)int_of(st, "pid");
		assert_true(rt_wait_output(st, "before", 5000));
		json_decref(st);
		kill_monitor(rt);
		if (reap) {
			int status = 0;
			assert_int_equal(waitpid(pid, &status, 0), pid);
			assert_int_equal(WEXITSTATUS(status), 6);
		} else
			usleep(600 * 1000);
		restart_monitor(rt);
		st = state_of(rt, id);
		assert_string_equal(str_of(st, "status"), "exited");
		if (reap) {
			assert_int_equal(int_of(st, "exitCode"), -1);
			assert_string_equal(str_of(st, "reason"), "ExitStatusLost");
			assert_string_equal(
				str_of(st, "message"),
				"the container exited while no korch-monitor was running");
		} else {
			assert_int_equal(int_of(st, "exitCode"), 6);
			assert_string_equal(str_of(st, "reason"), "Error");
		}
		expect_stdout(st, "before\n");
		json_decref(st);
	}
}

/* A container created but not started when the monitor died cannot start any more. */
static void
test_reattach_before_start(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("idle", "/probe", "ps", NULL), *st = NULL;
	assert_int_equal(monitor_client_create(rt->client, spec, &st, NULL), 0);
	json_decref(spec);
	json_decref(st);
	kill_monitor(rt);
	/* A create the old monitor never finished leaves a directory without state: removed. */
	char ghost[4200];
	snprintf(ghost, sizeof(ghost), "%s/containers/ghost", rt->run_dir);
	free(rt_host_dir(rt, "run/containers/ghost/upper", "f", "x"));
	restart_monitor(rt);
	assert_int_equal(access(ghost, F_OK), -1);
	json_t *list = NULL;
	assert_int_equal(monitor_client_list(rt->client, &list, NULL), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	st = state_of(rt, "idle");
	assert_string_equal(str_of(st, "status"), "exited");
	assert_string_equal(str_of(st, "reason"), "ExitStatusLost");
	assert_string_equal(str_of(st, "message"),
			    "korch-monitor restarted before the container started");
	json_decref(st);
	korch_error *err = NULL;
	assert_int_equal(monitor_client_start(rt->client, "idle", &st, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err), "container idle is exited, not created");
	korch_error_free(err);
	assert_int_equal(monitor_client_delete(rt->client, "idle", 0, NULL), 0);
}

/* Processes whose pid namespace is ns ("pid:[N]"). */
static int count_in_pidns(const char *ns);

/* An adopted container is stopped, exec'd into and deleted like one of our own. */
static void
test_adopted_exec_delete(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_start(rt, rt_spec("adopted", "/probe", "onterm", "0", ";", "echo", "ready",
					  ";", "pause", NULL));
	pid_t pid = (pid_t)int_of(st, "pid");
	assert_true(rt_wait_output(st, "ready", 5000));
	char path[64], ns[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	ssize_t l = readlink(path, ns, sizeof(ns) - 1);
	assert_true(l > 0);
	ns[l] = '\0';
	json_decref(st);
	kill_monitor(rt);
	restart_monitor(rt);
	int p[2], null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int stdio[3] = { null, p[1], p[1] }, code = -1;
	json_t *proc = json_pack("{s:[s,s]}", "args", "/probe", "ps");
	assert_int_equal(
		monitor_client_exec(rt->client, "adopted", proc, stdio, 10000, &code, NULL), 0);
	json_decref(proc);
	close(p[1]);
	close(null);
	char buf[256] = "";
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	assert_int_equal(code, 0);
	assert_string_equal(buf, "1 /probe onterm 0 ; echo ready ; pause\n2 /probe ps\n");
	struct monitor_client *watcher = rt_connect(rt);
	assert_int_equal(monitor_client_subscribe(watcher, NULL), 0);
	assert_int_equal(monitor_client_delete(rt->client, "adopted", 10000, NULL), 0);
	json_t *ev = NULL;
	assert_int_equal(monitor_client_next_event(watcher, 5000, &ev, NULL), 0);
	assert_int_equal(int_of(json_object_get(ev, "container"), "exitCode"), 0);
	json_decref(ev);
	monitor_client_free(watcher);
	assert_int_equal(count_in_pidns(ns), 0);
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/containers/adopted", rt->run_dir);
	assert_int_equal(access(dir, F_OK), -1);
}

static int
count_in_pidns(const char *ns)
{
	/* Live processes only: an orphaned init reparented to this test stays a zombie here. */
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		char path[300], link[64], stat[512];
		snprintf(path, sizeof(path), "/proc/%s/ns/pid", de->d_name);
		ssize_t l = atoi(de->d_name) > 0 ? readlink(path, link, sizeof(link) - 1) : -1;
		if (l <= 0)
			continue;
		link[l] = '\0';
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t k = fd >= 0 ? read(fd, stat, sizeof(stat) - 1) : -1;
		if (fd >= 0)
			close(fd);
		stat[k > 0 ? k : 0] = '\0';
		char *p = strrchr(stat, ')');
		n += strcmp(link, ns) == 0 && p && p[2] != 'Z';
	}
	closedir(d);
	return n;
}

/* Delete stops the process and leaves no process, mount, upper dir or state behind. */
static void
test_delete_cleanup(void **state)
{
	struct rt *rt = *state;
	char *vol = rt_host_dir(rt, "vol", "f", "x");
	json_t *spec =
		rt_spec("del", "/probe", "onterm", "0", ";", "echo", "ready", ";", "pause", NULL);
	json_object_set_new(spec, "mounts",
			    json_pack("[{s:s, s:s}, {s:s, s:s}]", "source", vol, "target", "/vol",
				      "type", "tmpfs", "target", "/scratch"));
	free(vol);
	int mounts = rt_host_mounts();
	json_t *st = rt_start(rt, spec);
	pid_t pid = (pid_t)int_of(st, "pid");
	assert_true(rt_wait_output(st, "ready", 5000));
	char path[64], ns[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	ssize_t l = readlink(path, ns, sizeof(ns) - 1);
	assert_true(l > 0);
	ns[l] = '\0';
	assert_int_equal(count_in_pidns(ns), 1);
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/containers/del", rt->run_dir);
	assert_int_equal(access(dir, F_OK), 0);
	int64_t t0 = now_ms();
	korch_error *err = NULL;
	assert_int_equal(monitor_client_delete(rt->client, "del", 10000, &err), 0);
	/* The init handled SIGTERM: no waiting for the grace period. */
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(count_in_pidns(ns), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(rt_host_mounts(), mounts);
	char *info = NULL;
	assert_int_equal(read_file("/proc/self/mountinfo", 1 << 20, &info, NULL, NULL), 0);
	assert_null(strstr(info, rt->dir));
	free(info);
	json_decref(st);
	assert_int_equal(monitor_client_state(rt->client, "del", &st, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "container del not found");
	korch_error_free(err);
}

/* A pid 1 that ignores SIGTERM gets SIGKILL once the grace period is over. */
static void
test_grace_period(void **state)
{
	struct rt *rt = *state;
	struct monitor_client *watcher = rt_connect(rt);
	assert_int_equal(monitor_client_subscribe(watcher, NULL), 0);
	/* pid 1 of a namespace ignores a signal it has no handler for. */
	json_t *st =
		rt_start(rt, rt_spec("stubborn", "/probe", "echo", "ready", ";", "pause", NULL));
	assert_true(rt_wait_output(st, "ready", 5000));
	json_decref(st);
	int64_t t0 = now_ms();
	assert_int_equal(monitor_client_delete(rt->client, "stubborn", 500, NULL), 0);
	int64_t took = now_ms() - t0;
	assert_true(took >= 500);
	assert_true(took < 2500);
	json_t *ev = NULL;
	assert_int_equal(monitor_client_next_event(watcher, 5000, &ev, NULL), 0);
	assert_string_equal(str_of(ev, "event"), "exit");
	json_t *c = json_object_get(ev, "container");
	assert_string_equal(str_of(c, "id"), "stubborn");
	assert_int_equal(int_of(c, "signal"), SIGKILL);
	assert_int_equal(int_of(c, "exitCode"), 137);
	json_decref(ev);

	/* With a handler and its own stop signal, it stops at once with its own code. */
	json_t *spec = rt_spec("polite", "/probe", "onterm", "3", ";", "echo", "ready", ";",
			       "pause", NULL);
	json_object_set_new(spec, "stopSignal", json_string("SIGTERM"));
	st = rt_start(rt, spec);
	assert_true(rt_wait_output(st, "ready", 5000));
	json_decref(st);
	t0 = now_ms();
	assert_int_equal(monitor_client_delete(rt->client, "polite", 10000, NULL), 0);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(monitor_client_next_event(watcher, 5000, &ev, NULL), 0);
	c = json_object_get(ev, "container");
	assert_string_equal(str_of(c, "id"), "polite");
	assert_int_equal(int_of(c, "signal"), 0);
	assert_int_equal(int_of(c, "exitCode"), 3);
	json_decref(ev);
	monitor_client_free(watcher);
}

/* When pid 1 exits, the processes it left behind are gone too. */
static void
test_children_gone(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_start(rt, rt_spec("parent", "/probe", "spawn", "2", ";", "echo", "spawned",
					  ";", "sleep", "0.5", ";", "exit", "4", NULL));
	assert_true(rt_wait_output(st, "spawned", 5000));
	char path[64], ns[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)int_of(st, "pid"));
	ssize_t l = readlink(path, ns, sizeof(ns) - 1);
	assert_true(l > 0);
	ns[l] = '\0';
	assert_int_equal(count_in_pidns(ns), 3);
	json_decref(st);
	st = wait_exit(rt, "parent");
	assert_int_equal(int_of(st, "exitCode"), 4);
	expect_stdout(st, "2\n3\nspawned\n");
	assert_int_equal(count_in_pidns(ns), 0);
	json_decref(st);
}

static void
expect_exec(struct rt *rt, const char *process_json, int code, const char *text)
{
	char *out = NULL;
	korch_error *err = NULL;
	int r = rt_exec(rt, "ex", json_loads(process_json, 0, NULL), &out, &err);
	if (r < 0)
		fail_msg("exec %s: %s", process_json, korch_error_message(err));
	assert_int_equal(r, code);
	assert_string_equal(out, text);
	free(out);
}

/* exec joins the container: its namespaces, root, user, no_new_privs; no fd of ours. */
static void
test_exec(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("ex", "/probe", "pause", NULL);
	json_object_set_new(json_object_get(spec, "process"), "env", json_pack("[s]", "A=1"));
	json_object_set_new(
		json_object_get(spec, "process"), "rlimits",
		json_pack("[{s:s, s:i, s:i}]", "type", "NOFILE", "soft", 1024, "hard", 1024));
	json_object_set_new(spec, "hostname", json_string("exbox"));
	json_decref(rt_start(rt, spec));
	expect_exec(rt, "{\"args\": [\"/probe\", \"ps\", \";\", \"hostname\"]}", 0,
		    "1 /probe pause\n2 /probe ps ; hostname\nexbox\n");
	expect_exec(rt, "{\"args\": [\"/probe\", \"fds\"]}", 0, "0 1 2\n");
	expect_exec(rt, "{\"args\": [\"/probe\", \"exit\", \"9\"]}", 9, "");
	/* The container's rlimits apply to exec too (scenario 17). */
	expect_exec(rt, "{\"args\": [\"/probe\", \"rlimit\", \"NOFILE\", \";\", \"nofile\"]}", 0,
		    "1024 1024\n1021 EMFILE\n");
	expect_exec(rt, "{\"args\": [\"/probe\", \"status\", \"NoNewPrivs\"]}", 0,
		    "NoNewPrivs: 1\n");
	expect_exec(rt, "{\"args\": [\"/probe\", \"id\"], \"user\": \"korch\"}", 0,
		    "uid=1000 gid=1000 groups=\n");
	expect_exec(
		rt,
		"{\"args\": [\"probe\", \"env\", \"A\", \";\", \"env\", \"B\", \";\", \"cwd\"], "
		"\"env\": [\"B=2\", \"PATH=/\"], \"cwd\": \"/etc\"}",
		0, "1\n2\n/etc\n");
	expect_exec(rt, "{\"args\": [\"/probe\", \"readlink\", \"/proc/self/exe\"]}", 0,
		    "/probe\n");
	char *out = NULL;
	korch_error *err = NULL;
	assert_int_equal(rt_exec(rt, "ex", json_pack("{s:[s]}", "args", "/nosuch"), &out, &err),
			 KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err),
			    "exec in container ex: exec \"/nosuch\": No such file or directory");
	korch_error_free(err);
	free(out);
	err = NULL;
	assert_int_equal(monitor_client_kill(rt->client, "ex", SIGKILL, NULL), 0);
	json_decref(wait_exit(rt, "ex"));
	assert_int_equal(rt_exec(rt, "ex", json_pack("{s:[s]}", "args", "/probe"), &out, &err),
			 KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err), "container ex is not running");
	korch_error_free(err);
	free(out);
}

static void
test_kill_wait(void **state)
{
	struct rt *rt = *state;
	json_decref(rt_start(rt, rt_spec("k", "/probe", "pause", NULL)));
	json_t *st = NULL;
	korch_error *err = NULL;
	assert_int_equal(monitor_client_wait(rt->client, "k", 100, &st, &err), KORCH_ETIMEOUT);
	korch_error_free(err);
	err = NULL;
	assert_int_equal(monitor_client_kill(rt->client, "k", SIGKILL, NULL), 0);
	st = wait_exit(rt, "k");
	assert_int_equal(int_of(st, "signal"), SIGKILL);
	assert_int_equal(int_of(st, "exitCode"), 137);
	assert_string_equal(str_of(st, "reason"), "Error");
	assert_false(json_is_true(json_object_get(st, "oomKilled")));
	json_decref(st);
	assert_int_equal(monitor_client_kill(rt->client, "k", SIGTERM, &err), KORCH_ECONFLICT);
	assert_string_equal(korch_error_message(err), "container k is not running");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(monitor_client_kill(rt->client, "nope", SIGTERM, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "container nope not found");
	korch_error_free(err);
	json_t *list = NULL;
	assert_int_equal(monitor_client_list(rt->client, &list, NULL), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(str_of(json_array_get(list, 0), "id"), "k");
	json_decref(list);
	/* A clean exit reads "Completed". */
	st = rt_run(rt, rt_spec("ok", "/probe", "exit", "0", NULL));
	assert_string_equal(str_of(st, "reason"), "Completed");
	json_decref(st);
}

/* An executable the kernel refuses: start fails, the state tells why. */
static void
test_start_error(void **state)
{
	struct rt *rt = *state;
	json_t *spec = rt_spec("se", "/notelf", NULL), *st = NULL;
	assert_int_equal(monitor_client_create(rt->client, spec, &st, NULL), 0);
	json_decref(spec);
	json_decref(st);
	korch_error *err = NULL;
	assert_int_equal(monitor_client_start(rt->client, "se", &st, &err), KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err),
			    "start container se: exec \"/notelf\": Exec format error");
	assert_int_equal(korch_error_errno(err), ENOEXEC);
	korch_error_free(err);
	st = wait_exit(rt, "se");
	assert_int_equal(int_of(st, "exitCode"), 127);
	assert_string_equal(str_of(st, "reason"), "StartError");
	assert_string_equal(str_of(st, "message"),
			    "start container se: exec \"/notelf\": Exec format error");
	json_decref(st);
}

/* Long lines as P parts, stderr, and rotation, through the monitor. */
static void
test_logs(void **state)
{
	struct rt *rt = *state;
	json_t *st = rt_run(rt, rt_spec("big", "/probe", "bigline", "40000", ";", "echoerr", "oops",
					";", "echo", "done", NULL));
	char *out = rt_output(st, "stdout");
	assert_int_equal(strlen(out), 40001 + 5);
	assert_string_equal(out + 40001, "done\n");
	free(out);
	out = rt_output(st, "stderr");
	assert_string_equal(out, "oops\n");
	free(out);
	char *text = NULL;
	assert_int_equal(read_file(str_of(st, "logPath"), 1 << 20, &text, NULL, NULL), 0);
	char tags[16] = "";
	size_t n = 0;
	for (char *line = text; *line && n < 15; line = strchr(line, '\n') + 1) {
		char *sp = strchr(strchr(line, ' ') + 1, ' ');
		tags[n++] = sp[1];
	}
	tags[n] = '\0';
	assert_string_equal(tags, "PPFFF");
	free(text);
	json_decref(st);

	char *logs = rt_host_dir(rt, "logs", NULL, NULL);
	char path[4200];
	snprintf(path, sizeof(path), "%s/pod/c.log", logs);
	json_t *spec = rt_spec("rot", "/probe", "lines", "100", NULL);
	json_object_set_new(
		spec, "log",
		json_pack("{s:s, s:i, s:i}", "path", path, "maxSizeBytes", 1000, "maxFiles", 2));
	st = rt_run(rt, spec);
	assert_string_equal(str_of(st, "logPath"), path);
	char *cur = NULL, *old = NULL;
	size_t cur_len = 0, old_len = 0;
	assert_int_equal(read_file(path, 1 << 20, &cur, &cur_len, NULL), 0);
	char one[4300];
	snprintf(one, sizeof(one), "%s.1", path);
	assert_int_equal(read_file(one, 1 << 20, &old, &old_len, NULL), 0);
	assert_true(cur_len <= 1000);
	assert_true(old_len <= 1000 && old_len > 900);
	assert_non_null(strstr(cur, " stdout F line 100\n"));
	snprintf(one, sizeof(one), "%s.2", path);
	assert_int_equal(access(one, F_OK), -1);
	free(cur);
	free(old);
	free(logs);
	json_decref(st);
}

/* Raw frames: a client speaking another version gets a clear error and is disconnected. */
static void
test_protocol_version(void **state)
{
	struct rt *rt = *state;
	const char *reqs[] = { "{\"op\":\"hello\",\"version\":99}", "{\"op\":\"list\",\"id\":1}" };
	const char *want[] = { "korch-monitor speaks protocol version 1, the client version 99",
			       "say hello with the protocol version first" };
	for (int i = 0; i < 2; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/monitor.sock", rt->run_dir);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		json_t *req = json_loads(reqs[i], 0, NULL);
		assert_int_equal(proto_send(fd, req, NULL, 0, NULL), 0);
		json_decref(req);
		struct proto_reader r = PROTO_READER_INIT;
		json_t *reply = NULL;
		while (proto_reader_next(&r, &reply, NULL) == 0)
			assert_true(proto_reader_fill(&r, fd, NULL) > 0);
		assert_false(json_is_true(json_object_get(reply, "ok")));
		json_t *e = json_object_get(reply, "error");
		assert_int_equal(int_of(e, "code"), KORCH_EPROTO);
		assert_string_equal(str_of(e, "message"), want[i]);
		json_decref(reply);
		/* Then the monitor hangs up. */
		assert_int_equal(proto_reader_fill(&r, fd, NULL), 0);
		proto_reader_clear(&r);
		close(fd);
	}
}

/* One monitor per run dir: a second one says who holds it and exits. */
static void
test_single_instance(void **state)
{
	struct rt *rt = *state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 3);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(getenv("KORCH_MONITOR"), "korch-monitor", "--run-dir", rt->run_dir,
		      "--ready-fd", "3", NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[512] = "";
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 1);
	char want[600];
	snprintf(want, sizeof(want), "error %d korch-monitor %d already runs for %s\n", KORCH_EBUSY,
		 (int)rt->monitor_pid, rt->run_dir);
	assert_string_equal(buf, want);
	/* The first one still answers. */
	json_t *list = NULL;
	assert_int_equal(monitor_client_list(rt->client, &list, NULL), 0);
	json_decref(list);
}

/* A monitor binary that is not there: the client says so, and which path it tried. */
static void
test_monitor_missing(void **state)
{
	struct rt *rt = *state;
	char run[4200];
	snprintf(run, sizeof(run), "%s/other-run", rt->dir);
	struct monitor_client_options opts = { .run_dir = run,
					       .monitor_path = "/nonexistent/korch-monitor" };
	struct monitor_client *c = NULL;
	korch_error *err = NULL;
	assert_int_equal(monitor_client_connect(&opts, &c, &err), KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(err), "start korch-monitor: execute "
						      "/nonexistent/korch-monitor: No such file or "
						      "directory");
	assert_int_equal(korch_error_errno(err), ENOENT);
	korch_error_free(err);
	err = NULL;
	/* Without starting one: not found, naming the socket. */
	opts.no_start = true;
	assert_int_equal(monitor_client_connect(&opts, &c, &err), KORCH_ENOTFOUND);
	char want[4300];
	snprintf(want, sizeof(want), "no korch-monitor listens on %s/monitor.sock", run);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
}

int
main(void)
{
	if (rt_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_without_client, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_reattach_zombie, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_reattach_reaped, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_exit_while_no_monitor, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_reattach_before_start, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_adopted_exec_delete, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_delete_cleanup, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_grace_period, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_children_gone, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_exec, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_wait, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_start_error, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_logs, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_protocol_version, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_single_instance, rt_setup, rt_teardown),
		cmocka_unit_test_setup_teardown(test_monitor_missing, rt_setup, rt_teardown),
	};
	return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
