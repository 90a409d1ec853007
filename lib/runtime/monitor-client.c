/*
 * monitor-client.c - the client side of korch-monitor's socket, and starting the monitor.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/vec.h"
#include "runtime/monitor-client.h"
#include "runtime/monitor-proto.h"

#define DEFAULT_TIMEOUT_MS 10000

extern char **environ;

struct monitor_client {
	int fd;                     /* connected socket, blocking */
	struct proto_reader reader; /* replies and events */
	json_int_t next_id;         /* id of the next request */
	pid_t monitor_pid;          /* from hello */
	struct ptrvec events;       /* json_t: events received while waiting for a reply */
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none) for poll. */
static int
remaining(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - now_ms();
	return left > 0 ? (int)left : 0;
}

static int
socket_path(const char *run_dir, struct sockaddr_un *sa, korch_error **err)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/monitor.sock", run_dir) >=
	    (int)sizeof(sa->sun_path))
		return error_set(err, KORCH_EINVALID, "run dir %s: too long for a socket path",
				 run_dir);
	return 0;
}

/* A connected socket, or -errno (ENOENT, ECONNREFUSED: no monitor listens). */
static int
try_connect(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static const char *
monitor_binary(const struct monitor_client_options *opts)
{
	if (opts->monitor_path)
		return opts->monitor_path;
	const char *env = getenv("KORCH_MONITOR");
	return env && env[0] ? env : KORCH_LIBEXECDIR "/korch-monitor";
}

/*
 * Starts korch-monitor detached: fork, setsid, fork again so that it is nobody's child here,
 * with stdin and stdout on /dev/null, stderr appended to RUNDIR/monitor.log, and a pipe on
 * fd 3 on which it says "ok" once it listens. Only async-signal-safe calls after fork: the
 * caller may have threads.
 */
static int
spawn_monitor(const char *bin, const char *run_dir, int timeout_ms, korch_error **err)
{
	int r = mkdir_p(run_dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *log_path = NULL;
	if (asprintf(&log_path, "%s/monitor.log", run_dir) < 0)
		return error_oom(err);
	char *argv[] = { (char *)bin,          (char *)"--run-dir", (char *)run_dir,
			 (char *)"--ready-fd", (char *)"3",         NULL };
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno(err, errno, "pipe");
	_cleanup_close_ int rd = p[0];
	pid_t pid = fork();
	if (pid < 0) {
		close(p[1]);
		return error_errno(err, errno, "fork");
	}
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(log, 2) < 0 || dup2(p[1], 3) < 0 || close_range(4, ~0U, 0) < 0)
			_exit(126);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(bin, argv, environ);
		/* "exec-failed ERRNO", formatted by hand: only async-signal-safe calls here. */
		char msg[32] = "exec-failed ", digits[12];
		int e = errno, n = 0, len = 12;
		do
			digits[n++] = (char)('0' + e % 10);
		while ((e /= 10) && n < 11);
		while (n > 0)
			msg[len++] = digits[--n];
		msg[len++] = '\n';
		if (write(3, msg, (size_t)len) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	char buf[1024];
	size_t len = 0;
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = { .fd = rd, .events = POLLIN };
		int n = RETRY_EINTR(poll(&pfd, 1, remaining(deadline)));
		if (n == 0)
			return error_set(err, KORCH_ETIMEOUT,
					 "korch-monitor (%s) did not start within %d ms", bin,
					 timeout_ms);
		ssize_t got = RETRY_EINTR(read(rd, buf + len, sizeof(buf) - 1 - len));
		if (got <= 0)
			break;
		len += (size_t)got;
		if (len == sizeof(buf) - 1 || memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "ok") == 0)
		return 0;
	int errnum = 0;
	if (sscanf(buf, "exec-failed %d", &errnum) == 1)
		return error_errno(err, errnum, "start korch-monitor: execute %s", bin);
	if (len == 0)
		return error_set(err, KORCH_ESYSTEM,
				 "korch-monitor (%s) exited without starting; see %s", bin,
				 log_path);
	/* "error <code> <message>" */
	int code = KORCH_ESYSTEM, off = 0;
	if (sscanf(buf, "error %d %n", &code, &off) < 1 || code >= 0)
		return error_set(err, KORCH_ESYSTEM, "korch-monitor: %s", buf);
	return error_set(err, code, "korch-monitor: %s", buf + off);
}

static void
client_release(struct monitor_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	proto_reader_clear(&c->reader);
	for (size_t i = 0; i < c->events.n; i++)
		json_decref(c->events.items[i]);
	ptrvec_free(&c->events, NULL);
}

void
monitor_client_free(struct monitor_client *c)
{
	if (!c)
		return;
	client_release(c);
	free(c);
}

pid_t
monitor_client_monitor_pid(const struct monitor_client *c)
{
	return c->monitor_pid;
}

/* The next message from the monitor, waiting until deadline. */
static int
receive(struct monitor_client *c, int64_t deadline, json_t **ret, korch_error **err)
{
	for (;;) {
		int r = proto_reader_next(&c->reader, ret, err);
		if (r != 0)
			return r < 0 ? r : 0;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int n = RETRY_EINTR(poll(&pfd, 1, remaining(deadline)));
		if (n < 0)
			return error_errno(err, errno, "poll");
		if (n == 0)
			return error_set(err, KORCH_ETIMEOUT,
					 "no answer from korch-monitor in time");
		r = proto_reader_fill(&c->reader, c->fd, err);
		if (r == 0)
			return error_set(err, KORCH_ESYSTEM, "korch-monitor closed the connection");
		if (r < 0 && r != -EAGAIN)
			return r;
	}
}

int
monitor_client_call(struct monitor_client *c, json_t *request, const int *fds, size_t n_fds,
		    int timeout_ms, json_t **ret_reply, korch_error **err)
{
	json_int_t id = c->next_id++;
	_cleanup_(json_decrefp) json_t *req = json_deep_copy(request);
	if (!req || json_object_set_new(req, "id", json_integer(id)) < 0 ||
	    (n_fds && json_object_set_new(req, "fds", json_integer((json_int_t)n_fds)) < 0))
		return error_oom(err);
	int r = proto_send(c->fd, req, fds, n_fds, err);
	if (r < 0)
		return r;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		json_t *msg = NULL;
		if ((r = receive(c, deadline, &msg, err)) < 0)
			return r;
		if (json_object_get(msg, "event")) {
			if (ptrvec_push(&c->events, msg) < 0) {
				json_decref(msg);
				return error_oom(err);
			}
			continue;
		}
		json_t *rid = json_object_get(msg, "id");
		if (!json_is_integer(rid) || json_integer_value(rid) != id) {
			/* The monitor's complaint about the stream itself carries no id. */
			if (json_is_null(rid) && json_is_false(json_object_get(msg, "ok"))) {
				r = proto_error_from_json(json_object_get(msg, "error"), err);
				json_decref(msg);
				return r;
			}
			json_decref(msg); /* the late reply of a call that timed out */
			continue;
		}
		if (!json_is_true(json_object_get(msg, "ok"))) {
			r = proto_error_from_json(json_object_get(msg, "error"), err);
			json_decref(msg);
			return r;
		}
		if (ret_reply)
			*ret_reply = msg;
		else
			json_decref(msg);
		return 0;
	}
}

static int
hello(struct monitor_client *c, int timeout_ms, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req =
		json_pack("{s:s, s:i}", "op", "hello", "version", MONITOR_PROTOCOL_VERSION);
	_cleanup_(json_decrefp) json_t *reply = NULL;
	if (!req)
		return error_oom(err);
	int r = monitor_client_call(c, req, NULL, 0, timeout_ms, &reply, err);
	if (r < 0)
		return r;
	c->monitor_pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
	return 0;
}

int
monitor_client_connect(const struct monitor_client_options *opts, struct monitor_client **ret,
		       korch_error **err)
{
	struct sockaddr_un sa;
	int timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	int r = socket_path(opts->run_dir, &sa, err);
	if (r < 0)
		return r;
	int fd = try_connect(&sa);
	if (fd < 0 && (fd == -ENOENT || fd == -ECONNREFUSED) && !opts->no_start) {
		_cleanup_error_ korch_error *spawn_err = NULL;
		r = spawn_monitor(monitor_binary(opts), opts->run_dir, timeout_ms, &spawn_err);
		/* Losing the race to another starter is fine: connect to the winner. */
		if (r < 0 && r != KORCH_EBUSY)
			return error_propagate(err, &spawn_err, r);
		int64_t deadline = now_ms() + timeout_ms;
		while ((fd = try_connect(&sa)) < 0 && now_ms() < deadline)
			usleep(10000);
	}
	if (fd < 0) {
		if (fd == -ENOENT || fd == -ECONNREFUSED)
			return error_set(err, KORCH_ENOTFOUND, "no korch-monitor listens on %s",
					 sa.sun_path);
		return error_errno(err, fd, "connect to %s", sa.sun_path);
	}
	struct monitor_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return error_oom(err);
	}
	c->fd = fd;
	c->reader = (struct proto_reader)PROTO_READER_INIT;
	if ((r = hello(c, timeout_ms, err)) < 0) {
		monitor_client_free(c);
		return korch_error_prefix(err, r, "korch-monitor on %s", sa.sun_path);
	}
	*ret = c;
	return 0;
}

/* A call on one container: {"op": op, "container": id} plus extra (stolen, may be NULL). */
static int
call_container(struct monitor_client *c, const char *op, const char *id, json_t *extra,
	       int timeout_ms, json_t **ret_reply, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s, s:s}", "op", op, "container", id);
	if (!req || (extra && json_object_update(req, extra) < 0)) {
		json_decref(extra);
		return error_oom(err);
	}
	json_decref(extra);
	return monitor_client_call(c, req, NULL, 0, timeout_ms, ret_reply, err);
}

/* Takes reply["container"] out of a reply. */
static int
take_state(json_t *reply, json_t **ret_state)
{
	if (ret_state)
		*ret_state = json_incref(json_object_get(reply, "container"));
	json_decref(reply);
	return 0;
}

int
monitor_client_create(struct monitor_client *c, json_t *spec, json_t **ret_state, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s, s:O}", "op", "create", "spec", spec);
	json_t *reply = NULL;
	if (!req)
		return error_oom(err);
	int r = monitor_client_call(c, req, NULL, 0, -1, &reply, err);
	return r < 0 ? r : take_state(reply, ret_state);
}

int
monitor_client_start(struct monitor_client *c, const char *id, json_t **ret_state,
		     korch_error **err)
{
	json_t *reply = NULL;
	int r = call_container(c, "start", id, NULL, -1, &reply, err);
	return r < 0 ? r : take_state(reply, ret_state);
}

int
monitor_client_kill(struct monitor_client *c, const char *id, int signo, korch_error **err)
{
	return call_container(c, "kill", id, json_pack("{s:i}", "signal", signo), -1, NULL, err);
}

int
monitor_client_wait(struct monitor_client *c, const char *id, int timeout_ms, json_t **ret_state,
		    korch_error **err)
{
	json_t *reply = NULL;
	int r = call_container(c, "wait", id, NULL, timeout_ms, &reply, err);
	return r < 0 ? r : take_state(reply, ret_state);
}

int
monitor_client_exec(struct monitor_client *c, const char *id, json_t *process, const int stdio[3],
		    int timeout_ms, int *ret_exit_code, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req =
		json_pack("{s:s, s:s, s:O}", "op", "exec", "container", id, "process", process);
	_cleanup_(json_decrefp) json_t *reply = NULL;
	if (!req)
		return error_oom(err);
	int r = monitor_client_call(c, req, stdio, 3, timeout_ms, &reply, err);
	if (r < 0)
		return r;
	if (ret_exit_code)
		*ret_exit_code = (int)json_integer_value(json_object_get(reply, "exitCode"));
	return 0;
}

int
monitor_client_state(struct monitor_client *c, const char *id, json_t **ret_state,
		     korch_error **err)
{
	json_t *reply = NULL;
	int r = call_container(c, "state", id, NULL, -1, &reply, err);
	return r < 0 ? r : take_state(reply, ret_state);
}

int
monitor_client_stats(struct monitor_client *c, const char *id, json_t **ret_stats,
		     korch_error **err)
{
	json_t *reply = NULL;
	int r = call_container(c, "stats", id, NULL, -1, &reply, err);
	if (r < 0)
		return r;
	*ret_stats = json_incref(json_object_get(reply, "stats"));
	json_decref(reply);
	return 0;
}

int
monitor_client_update(struct monitor_client *c, const char *id, json_t *resources,
		      korch_error **err)
{
	json_t *extra = json_pack("{s:O}", "resources", resources);
	if (!extra)
		return error_oom(err);
	return call_container(c, "update", id, extra, -1, NULL, err);
}

int
monitor_client_list(struct monitor_client *c, json_t **ret_list, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "op", "list");
	json_t *reply = NULL;
	if (!req)
		return error_oom(err);
	int r = monitor_client_call(c, req, NULL, 0, -1, &reply, err);
	if (r < 0)
		return r;
	*ret_list = json_incref(json_object_get(reply, "containers"));
	json_decref(reply);
	return 0;
}

int
monitor_client_delete(struct monitor_client *c, const char *id, int64_t grace_ms, korch_error **err)
{
	return call_container(c, "delete", id,
			      json_pack("{s:I}", "gracePeriodMs", (json_int_t)grace_ms), -1, NULL,
			      err);
}

int
monitor_client_subscribe(struct monitor_client *c, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "op", "subscribe");
	return req ? monitor_client_call(c, req, NULL, 0, -1, NULL, err) : error_oom(err);
}

int
monitor_client_next_event(struct monitor_client *c, int timeout_ms, json_t **ret_event,
			  korch_error **err)
{
	if (c->events.n) {
		*ret_event = c->events.items[0];
		ptrvec_remove(&c->events, 0);
		return 0;
	}
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		json_t *msg = NULL;
		int r = receive(c, deadline, &msg, err);
		if (r < 0)
			return r;
		if (json_object_get(msg, "event")) {
			*ret_event = msg;
			return 0;
		}
		json_decref(msg);
	}
}

int
monitor_client_shutdown(struct monitor_client *c, korch_error **err)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "op", "shutdown");
	return req ? monitor_client_call(c, req, NULL, 0, -1, NULL, err) : error_oom(err);
}
