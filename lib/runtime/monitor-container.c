/*
 * monitor-container.c - each container's life inside korch-monitor: create, start, output to
 * the CRI log, exit, delete, and the state file a restarted monitor re-attaches from
 * (monitor-reattach.c).
 *
 * Output. A container's stdout and stderr are pipes whose container end is opened read-write
 * (reopened through /proc/self/fd), not write-only: the container is then a reader of its own
 * pipe, so a write never fails with EPIPE (nor raises SIGPIPE) while no monitor reads. When the
 * monitor dies, the container keeps running; once the pipe buffer is full its writes block until
 * the next monitor reopens the pipe through /proc/PID/fd of a process holding it (the pipe's
 * inode number is in the state file) and drains it. No byte the container wrote is lost then,
 * except a partial line the dead monitor had read and not yet written out. The container's
 * /proc/1/fd shows "pipe:[N]", nothing of the host's paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "runtime/monitor-internal.h"

#define STATE_FILE_VERSION 1
#define PIPE_BUFFER (1024 * 1024)
#define DRAIN_NS (500 * NSEC_PER_MSEC)       /* output still open after the exit: wait this long */
#define SETUP_TIMEOUT_NS (60 * NSEC_PER_SEC) /* an init still setting up after this is killed */

static const char *const status_names[] = {
	[MC_CREATING] = "creating", [MC_CREATED] = "created", [MC_STARTING] = "starting",
	[MC_RUNNING] = "running",   [MC_EXITED] = "exited",
};

const char *
mstatus_name(enum mstatus s)
{
	return status_names[s];
}

static void on_stream(struct loop_source *src, int fd, uint32_t revents, void *userdata);
static void on_kill_timer(struct loop_source *src, void *userdata);
static void finish(struct mcontainer *c);

static int64_t
now_wall(struct mcontainer *c)
{
	return korch_clock_wall_ns(c->m->clock);
}

static char *
join(const char *a, const char *b)
{
	char *p;
	return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static void
stream_close(struct mstream *s)
{
	loop_source_free(s->src);
	s->src = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static void
exit_clear(struct mexit *e)
{
	free(e->reason);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

/* Frees our side of a container: nothing on disk or in the kernel is touched. */
void
mcontainer_free(struct mcontainer *c)
{
	if (!c)
		return;
	loop_source_free(c->sync_src);
	loop_source_free(c->pidfd_src);
	loop_source_free(c->kill_timer);
	loop_source_free(c->exit_timer);
	stream_close(&c->out);
	stream_close(&c->err);
	log_stream_clear(&c->out.log);
	log_stream_clear(&c->err.log);
	log_writer_free(c->log);
	if (c->sync_fd >= 0)
		close(c->sync_fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	container_hooks_free(c->sec);
	container_spec_free(c->spec);
	exit_clear(&c->exit);
	ptrvec_free(&c->waiters, NULL);
	ptrvec_free(&c->delete_replies, NULL);
	free(c->id);
	free(c->dir);
	free(c->rootfs_dir);
	free(c->upper_dir);
	free(c->work_dir);
	free(c->log_path);
	free(c);
}

void
mcontainer_detach(struct mcontainer *c)
{
	/* Replies still owed are dropped with their clients by monitor.c. */
	mcontainer_free(c);
}

static int
set_time(json_t *o, const char *key, int64_t ns, bool with_ns)
{
	if (!ns)
		return 0;
	char buf[40], nkey[32];
	if (json_object_set_new(o, key, json_string(format_time_nano(ns, buf))) < 0)
		return -1;
	snprintf(nkey, sizeof(nkey), "%sNs", key);
	return with_ns ? json_object_set_new(o, nkey, json_integer(ns)) : 0;
}

json_t *
mcontainer_state(struct mcontainer *c, bool for_file)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", c->id, "status", status_names[c->status],
			      "logPath", c->log_path);
	if (!o)
		return NULL;
	int r = 0;
	if (c->pid > 0)
		r |= json_object_set_new(o, "pid", json_integer(c->pid));
	r |= set_time(o, "createdAt", c->created_ns, for_file);
	r |= set_time(o, "startedAt", c->started_ns, for_file);
	r |= set_time(o, "finishedAt", c->finished_ns, for_file);
	if (c->status == MC_EXITED) {
		r |= json_object_set_new(o, "exitCode", json_integer(c->exit.code));
		r |= json_object_set_new(o, "signal", json_integer(c->exit.signal));
		r |= json_object_set_new(o, "oomKilled", json_boolean(c->exit.oom));
		if (c->exit.reason)
			r |= json_object_set_new(o, "reason", json_string(c->exit.reason));
		if (c->exit.message)
			r |= json_object_set_new(o, "message", json_string(c->exit.message));
	}
	if (for_file) {
		r |= json_object_set_new(o, "version", json_integer(STATE_FILE_VERSION));
		r |= json_object_set_new(o, "bootId", json_string(c->m->boot_id));
		r |= json_object_set_new(o, "startTicks", json_integer((json_int_t)c->start_ticks));
		r |= json_object_set_new(o, "stdoutPipe", json_integer((json_int_t)c->out.ino));
		r |= json_object_set_new(o, "stderrPipe", json_integer((json_int_t)c->err.ino));
		r |= json_object_set(o, "spec", c->spec->json);
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
write_state(struct mcontainer *c, korch_error **err)
{
	json_t *o = mcontainer_state(c, true);
	_cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	_cleanup_free_ char *path = join(c->dir, "state.json");
	if (!text || !path)
		return error_oom(err);
	return write_file_replace(path, text, strlen(text), 0600, err);
}

void
mcontainer_save_state(struct mcontainer *c)
{
	_cleanup_error_ korch_error *err = NULL;
	if (write_state(c, &err) < 0)
		log_error("monitor", "container %s: state file: %s", c->id,
			  korch_error_message(err));
}

struct mcontainer *
mcontainer_new(struct monitor *m, struct container_spec *spec)
{
	struct mcontainer *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->m = m;
	c->pidfd = c->sync_fd = c->out.fd = c->err.fd = -1;
	c->out.c = c->err.c = c;
	c->out.log.name = "stdout";
	c->err.log.name = "stderr";
	c->spec = spec;
	c->id = strdup(spec->id);
	c->dir = join(m->containers_dir, spec->id);
	if (!c->id || !c->dir || !(c->rootfs_dir = join(c->dir, "rootfs")) ||
	    !(c->upper_dir = join(c->dir, "upper")) || !(c->work_dir = join(c->dir, "work")) ||
	    !(c->log_path =
		      spec->log_path ? strdup(spec->log_path) : join(c->dir, "container.log"))) {
		c->spec = NULL;
		mcontainer_free(c);
		return NULL;
	}
	return c;
}

int
mstream_watch(struct mcontainer *c, struct mstream *s, korch_error **err)
{
	struct stat st;
	if (fstat(s->fd, &st) < 0)
		return error_errno(err, errno, "stat %s pipe", s->log.name);
	s->ino = (uint64_t)st.st_ino;
	return loop_add_io(c->m->loop, s->fd, EPOLLIN, on_stream, s, &s->src, err);
}

/*
 * A pipe for one output stream: our read end, non-blocking, in s; the container's end, reopened
 * read-write through /proc/self/fd (see the top of this file), in *ret_fd.
 */
static int
stream_pipe(struct mcontainer *c, struct mstream *s, int *ret_fd, korch_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_errno(err, errno, "pipe");
	s->fd = p[0];
	/* Room for what the container writes while no monitor reads (a restart): 1 MiB. */
	if (fcntl(p[0], F_SETPIPE_SZ, PIPE_BUFFER) < 0)
		log_debug("monitor", "F_SETPIPE_SZ: %s", strerror(errno));
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	int rw = open(path, O_RDWR | O_CLOEXEC);
	int e = errno;
	close(p[1]);
	if (rw < 0)
		return error_errno(err, e, "reopen the %s pipe read-write", s->log.name);
	*ret_fd = rw;
	return mstream_watch(c, s, err);
}

/*
 * The overlay's root directory takes its owner and mode from the upper dir: give the upper dir
 * those of the top layer's root, or a non-root user could not even enter "/".
 */
static int
make_upper(struct mcontainer *c, korch_error **err)
{
	struct stat st;
	for (char **l = c->spec->layers; *l; l++) {
		if (stat(*l, &st) < 0)
			return error_errno(err, errno, "rootfs layer %s", *l);
		if (!S_ISDIR(st.st_mode))
			return error_set(err, KORCH_EINVALID, "rootfs layer %s: not a directory",
					 *l);
	}
	/* st is the top layer's now. */
	if (mkdir(c->upper_dir, 0755) < 0 || mkdir(c->work_dir, 0700) < 0)
		return error_errno(err, errno, "create %s", c->upper_dir);
	if (chown(c->upper_dir, st.st_uid, st.st_gid) < 0 ||
	    chmod(c->upper_dir, st.st_mode & 07777) < 0)
		return error_errno(err, errno, "set up %s", c->upper_dir);
	return 0;
}

/* Directories, FIFOs, log, security, then the clone. On failure the caller removes c->dir. */
static int
prepare_and_spawn(struct mcontainer *c, korch_error **err)
{
	struct container_spec *spec = c->spec;
	int r;
	if (mkdir(c->dir, 0700) < 0)
		return error_errno(err, errno, "create %s", c->dir);
	if (spec->rootfs_path) {
		struct stat st;
		if (stat(spec->rootfs_path, &st) < 0)
			return error_errno(err, errno, "rootfs %s", spec->rootfs_path);
		if (!S_ISDIR(st.st_mode))
			return error_set(err, KORCH_EINVALID, "rootfs %s: not a directory",
					 spec->rootfs_path);
	} else if ((r = make_upper(c, err)) < 0)
		return r;
	if (mkdir(c->rootfs_dir, 0700) < 0)
		return error_errno(err, errno, "create %s", c->rootfs_dir);
	_cleanup_close_ int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = -1, errw = -1;
	if (in < 0)
		return error_errno(err, errno, "open /dev/null");
	if ((r = stream_pipe(c, &c->out, &out, err)) < 0 ||
	    (r = stream_pipe(c, &c->err, &errw, err)) < 0)
		return r;
	if ((r = log_writer_open(c->log_path, spec->log_max_bytes, spec->log_max_files, &c->log,
				 err)) < 0)
		return r;
	if ((r = container_hooks_new(c->m->hooks, spec, false, &c->sec, err)) < 0)
		return r;
	const int stdio[3] = { in, out, errw };
	struct container_layout layout = { c->dir, c->rootfs_dir, c->upper_dir, c->work_dir };
	struct container_proc proc = CONTAINER_PROC_INIT;
	if ((r = container_spawn(spec, &layout, c->sec, stdio, &proc, err)) < 0)
		return r;
	c->pid = proc.pid;
	c->pidfd = proc.pidfd;
	c->sync_fd = proc.sync_fd;
	proc_pid_stat(c->pid, NULL, &c->start_ticks, NULL);
	return 0;
}

/* Kills and reaps a child that failed before it ran anything, then forgets it. */
static void
destroy_failed(struct mcontainer *c)
{
	if (c->pidfd >= 0) {
		pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
		waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &(siginfo_t){ 0 }, WEXITED);
	}
	hashmap_remove(&c->m->containers, c->id);
	stream_close(&c->out);
	stream_close(&c->err);
	_cleanup_error_ korch_error *err = NULL;
	/* A delete or wait that came while it was being created: it is gone now. */
	for (size_t i = 0; i < c->delete_replies.n; i++)
		mpending_ok(c->m, c->delete_replies.items[i], NULL);
	error_set(&err, KORCH_ENOTFOUND, "container %s failed to start and was removed", c->id);
	for (size_t i = 0; i < c->waiters.n; i++)
		mpending_fail(c->m, c->waiters.items[i], err);
	c->delete_replies.n = c->waiters.n = 0;
	korch_error_free(steal_pointer(&err));
	if (rm_rf(c->dir, &err) < 0)
		log_error("monitor", "container %s: %s", c->id, korch_error_message(err));
	if (c->sec && c->sec->ops && c->sec->ops->destroy)
		c->sec->ops->destroy(c->sec->data, NULL);
	mcontainer_free(c);
}

static void
reply_state(struct mcontainer *c, struct mpending **p)
{
	if (*p)
		mpending_ok(c->m, steal_pointer(p),
			    json_pack("{s:o}", "container", mcontainer_state(c, false)));
}

/* Returns false when c was destroyed. */
static bool
handle_sync(struct mcontainer *c, enum sync_event ev, korch_error *err)
{
	if (err)
		korch_error_prefix(&err, korch_error_code(err), "%s container %s",
				   c->status == MC_CREATING ? "create" : "start", c->id);
	if (ev == SYNC_PENDING)
		return true;
	loop_source_free(steal_pointer(&c->sync_src));
	if (c->status == MC_CREATING) {
		loop_source_free(steal_pointer(&c->kill_timer));
		if (ev == SYNC_CREATED) {
			log_info("monitor", "container %s created, init pid %d", c->id,
				 (int)c->pid);
			c->status = MC_CREATED;
			mcontainer_save_state(c);
			reply_state(c, &c->create_reply);
			return true;
		}
		_cleanup_error_ korch_error *died = NULL;
		if (!err && c->setup_timed_out)
			error_set(&died, KORCH_ETIMEOUT,
				  "create container %s: its init did not finish setting up within "
				  "%lld s",
				  c->id, (long long)(SETUP_TIMEOUT_NS / NSEC_PER_SEC));
		else if (!err)
			error_set(&died, KORCH_ESYSTEM,
				  "create container %s: its init died while setting up", c->id);
		/* Everything is gone before the client hears of it. */
		struct monitor *m = c->m;
		struct mpending *reply = steal_pointer(&c->create_reply);
		destroy_failed(c);
		if (reply)
			mpending_fail(m, reply, err ? err : died);
		return false;
	}
	close(c->sync_fd);
	c->sync_fd = -1;
	if (c->status == MC_CREATED)
		return true; /* killed before start: its exit follows */
	if (ev == SYNC_FAILED) {
		/* The init exits with 127 and is reaped as usual; its exit says why. */
		free(c->exit.message);
		c->exit.message = strdup(korch_error_message(err));
		if (c->start_reply)
			mpending_fail(c->m, steal_pointer(&c->start_reply), err);
		return true;
	}
	c->status = MC_RUNNING;
	c->started_ns = now_wall(c);
	log_info("monitor", "container %s started", c->id);
	mcontainer_save_state(c);
	reply_state(c, &c->start_reply);
	return true;
}

static void
on_sync(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mcontainer *c = userdata;
	korch_error *err = NULL;
	enum sync_event ev = container_sync_read(fd, &err);
	handle_sync(c, ev, err);
	korch_error_free(err);
}

int
mcontainer_create(struct monitor *m, json_t *spec_json, struct mpending *reply, korch_error **err)
{
	struct container_spec *spec = NULL;
	int r = container_spec_parse(spec_json, &spec, err);
	if (r < 0)
		return r;
	if (hashmap_contains(&m->containers, spec->id)) {
		r = error_set(err, KORCH_EEXISTS, "container %s exists", spec->id);
		container_spec_free(spec);
		return r;
	}
	struct mcontainer *c = mcontainer_new(m, spec);
	if (!c) {
		container_spec_free(spec);
		return error_oom(err);
	}
	/* A directory without a container record is a leftover of a crash: start afresh. */
	int64_t deadline = korch_clock_now_ns(m->clock) + SETUP_TIMEOUT_NS;
	if ((r = rm_rf(c->dir, err)) < 0 || (r = prepare_and_spawn(c, err)) < 0 ||
	    (r = loop_add_io(m->loop, c->sync_fd, EPOLLIN, on_sync, c, &c->sync_src, err)) < 0 ||
	    (r = loop_add_timer(m->loop, deadline, on_kill_timer, c, &c->kill_timer, err)) < 0 ||
	    (r = hashmap_put(&m->containers, c->id, c, NULL)) < 0) {
		if (r == KORCH_ENOMEM)
			error_oom(err);
		korch_error_prefix(err, r, "create container %s", c->id);
		destroy_failed(c);
		return r;
	}
	c->status = MC_CREATING;
	c->created_ns = now_wall(c);
	c->create_reply = reply;
	return 0;
}

int
mcontainer_start(struct mcontainer *c, struct mpending *reply, korch_error **err)
{
	if (c->status != MC_CREATED)
		return error_set(err, KORCH_ECONFLICT, "container %s is %s, not created", c->id,
				 status_names[c->status]);
	/* Recorded before the init is told, so a restarted monitor knows it may have run. */
	c->status = MC_STARTING;
	mcontainer_save_state(c);
	int r = container_sync_start(c->sync_fd, err);
	if (r == 0)
		r = loop_add_io(c->m->loop, c->sync_fd, EPOLLIN, on_sync, c, &c->sync_src, err);
	if (r < 0) {
		c->status = MC_CREATED;
		return r;
	}
	c->start_reply = reply;
	return 0;
}

int
mcontainer_kill(struct mcontainer *c, int signo, korch_error **err)
{
	if (c->status == MC_EXITED || c->pidfd < 0)
		return error_set(err, KORCH_ECONFLICT, "container %s is not running", c->id);
	if (pidfd_send_signal(c->pidfd, signo, NULL, 0) < 0)
		return error_errno(err, errno, "signal container %s", c->id);
	return 0;
}

void
mcontainer_wait(struct mcontainer *c, struct mpending *reply)
{
	if (c->finished) {
		reply_state(c, &reply);
		return;
	}
	if (ptrvec_push(&c->waiters, reply) < 0) {
		_cleanup_error_ korch_error *err = NULL;
		error_oom(&err);
		mpending_fail(c->m, reply, err);
	}
}

/*
 * Reads what a stream has now, at most max_reads chunks (so one chatty container cannot hold
 * the loop); true at end of stream.
 */
static bool
stream_drain(struct mstream *s, size_t max_reads)
{
	struct mcontainer *c = s->c;
	char buf[65536];
	for (size_t i = 0; s->fd >= 0 && i < max_reads; i++) {
		ssize_t n = read(s->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		_cleanup_error_ korch_error *err = NULL;
		if (n > 0) {
			if (log_stream_feed(&s->log, c->log, now_wall(c), buf, (size_t)n, &err) < 0)
				log_warn("monitor", "container %s: %s", c->id,
					 korch_error_message(err));
			continue;
		}
		if (log_stream_flush(&s->log, c->log, now_wall(c), &err) < 0)
			log_warn("monitor", "container %s: %s", c->id, korch_error_message(err));
		stream_close(s);
	}
	return s->fd < 0;
}

static void
on_stream(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mstream *s = userdata;
	struct mcontainer *c = s->c;
	if (stream_drain(s, 16) && c->reaped && !c->finished && c->out.fd < 0 && c->err.fd < 0)
		finish(c);
}

static void on_exit_timer(struct loop_source *src, void *userdata);

/*
 * The init's exit is known: record it, read the output left in the pipes, and finish once both
 * pipes are at end of stream (at once, unless something outside the container's pid namespace
 * still holds them) or after DRAIN_NS.
 */
void
mcontainer_record_exit(struct mcontainer *c, int wait_status, bool known, const char *lost_why)
{
	c->reaped = true;
	c->status = MC_EXITED;
	c->finished_ns = now_wall(c);
	loop_source_free(steal_pointer(&c->pidfd_src));
	loop_source_free(steal_pointer(&c->kill_timer));
	bool start_failed = c->exit.message != NULL;
	if (!known) {
		c->exit.code = -1;
		c->exit.reason = strdup("ExitStatusLost");
		free(c->exit.message);
		c->exit.message = strdup(lost_why);
	} else if (WIFSIGNALED(wait_status)) {
		c->exit.signal = WTERMSIG(wait_status);
		c->exit.code = 128 + c->exit.signal;
	} else
		c->exit.code = WEXITSTATUS(wait_status);
	if (known && c->sec && c->sec->ops && c->sec->ops->oom_killed)
		c->exit.oom = c->sec->ops->oom_killed(c->sec->data);
	if (known)
		c->exit.reason = strdup(start_failed   ? "StartError"
					: c->exit.oom  ? "OOMKilled"
					: c->exit.code ? "Error"
						       : "Completed");
	/* Both streams are drained, whatever the first one says. */
	bool out_eof = stream_drain(&c->out, SIZE_MAX);
	bool err_eof = stream_drain(&c->err, SIZE_MAX);
	bool eof = out_eof && err_eof;
	if (eof) {
		finish(c);
		return;
	}
	_cleanup_error_ korch_error *err = NULL;
	int64_t deadline = korch_clock_now_ns(c->m->clock) + DRAIN_NS;
	if (c->exit_timer)
		loop_timer_set(c->exit_timer, deadline);
	else if (loop_add_timer(c->m->loop, deadline, on_exit_timer, c, &c->exit_timer, &err) < 0)
		finish(c);
}

static void
cleanup_deleted(struct mcontainer *c)
{
	struct monitor *m = c->m;
	_cleanup_error_ korch_error *err = NULL;
	int r = 0;
	if (c->sec && c->sec->ops && c->sec->ops->destroy)
		r = c->sec->ops->destroy(c->sec->data, &err);
	stream_close(&c->out);
	stream_close(&c->err);
	if (r == 0)
		r = rm_rf(c->dir, &err);
	if (r < 0) {
		korch_error_prefix(&err, r, "delete container %s", c->id);
		c->deleting = false;
		for (size_t i = 0; i < c->delete_replies.n; i++)
			mpending_fail(m, c->delete_replies.items[i], err);
		c->delete_replies.n = 0;
		return;
	}
	hashmap_remove(&m->containers, c->id);
	log_info("monitor", "container %s deleted", c->id);
	/* Replies last: when the client hears of it, not even an fd of ours is left. */
	struct ptrvec replies = c->delete_replies;
	c->delete_replies = (struct ptrvec)PTRVEC_INIT;
	mcontainer_free(c);
	for (size_t i = 0; i < replies.n; i++)
		mpending_ok(m, replies.items[i], NULL);
	ptrvec_free(&replies, NULL);
}

static void
finish(struct mcontainer *c)
{
	if (c->finished)
		return;
	c->finished = true;
	loop_source_free(steal_pointer(&c->exit_timer));
	log_info("monitor", "container %s exited: code %d, signal %d%s%s", c->id, c->exit.code,
		 c->exit.signal, c->exit.reason ? ", " : "", c->exit.reason ? c->exit.reason : "");
	for (struct mstream *s = &c->out; s; s = s == &c->out ? &c->err : NULL) {
		_cleanup_error_ korch_error *err = NULL;
		if (log_stream_flush(&s->log, c->log, now_wall(c), &err) < 0)
			log_warn("monitor", "container %s: %s", c->id, korch_error_message(err));
	}
	mcontainer_save_state(c);
	for (size_t i = 0; i < c->waiters.n; i++) {
		struct mpending *p = c->waiters.items[i];
		reply_state(c, &p);
	}
	c->waiters.n = 0;
	monitor_broadcast(c->m, json_pack("{s:s, s:o}", "event", "exit", "container",
					  mcontainer_state(c, false)));
	if (c->deleting)
		cleanup_deleted(c);
}

static void
on_exit_timer(struct loop_source *src, void *userdata)
{
	struct mcontainer *c = userdata;
	if (!c->reaped)
		mcontainer_collect_adopted_exit(c);
	else
		finish(c);
}

int
mcontainer_arm_exit_timer(struct mcontainer *c, int64_t delay_ns, korch_error **err)
{
	int64_t deadline = korch_clock_now_ns(c->m->clock) + delay_ns;
	if (c->exit_timer) {
		loop_timer_set(c->exit_timer, deadline);
		return 0;
	}
	return loop_add_timer(c->m->loop, deadline, on_exit_timer, c, &c->exit_timer, err);
}

static void
mexec_exited(struct mexec *e, const siginfo_t *si)
{
	if (e->proc.sync_fd >= 0) {
		korch_error *err = NULL;
		if (container_sync_read(e->proc.sync_fd, &err) == SYNC_FAILED) {
			e->failed = true;
			korch_error_prefix(&err, korch_error_code(err), "exec in container %s",
					   e->container_id);
			if (e->reply)
				mpending_fail(e->m, steal_pointer(&e->reply), err);
		}
		korch_error_free(err);
	}
	if (e->reply) {
		int sig = si->si_code == CLD_EXITED ? 0 : si->si_status;
		int code = sig ? 128 + sig : si->si_status;
		mpending_ok(e->m, steal_pointer(&e->reply),
			    json_pack("{s:i, s:i}", "exitCode", code, "signal", sig));
	}
	for (size_t i = 0; i < e->m->execs.n; i++)
		if (e->m->execs.items[i] == e) {
			ptrvec_remove(&e->m->execs, i);
			break;
		}
	mexec_free(e);
}

void
monitor_child_exited(struct monitor *m, pid_t pid, const siginfo_t *si)
{
	for (size_t i = 0; i < m->execs.n; i++) {
		struct mexec *e = m->execs.items[i];
		if (e->proc.pid == pid) {
			mexec_exited(e, si);
			return;
		}
	}
	size_t iter = 0;
	const char *id;
	void *value;
	while (hashmap_next(&m->containers, &iter, &id, &value)) {
		struct mcontainer *c = value;
		if (c->adopted || c->pid != pid || c->reaped)
			continue;
		/* Read the init's last report first: an exec error, or "created". */
		if (c->sync_fd >= 0) {
			korch_error *err = NULL;
			enum sync_event ev = container_sync_read(c->sync_fd, &err);
			bool alive = handle_sync(c, ev == SYNC_PENDING ? SYNC_EXECED : ev, err);
			korch_error_free(err);
			if (!alive)
				return;
		}
		int status =
			si->si_code == CLD_EXITED ? W_EXITCODE(si->si_status, 0) : si->si_status;
		mcontainer_record_exit(c, status, true, NULL);
		return;
	}
	/* An orphan handed to us as subreaper: reaped, nothing to tell. */
}

static void
on_kill_timer(struct loop_source *src, void *userdata)
{
	struct mcontainer *c = userdata;
	c->setup_timed_out = c->status == MC_CREATING;
	if (!c->reaped && c->pidfd >= 0)
		pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
}

int
mcontainer_delete(struct mcontainer *c, int64_t grace_ns, struct mpending *reply, korch_error **err)
{
	if (ptrvec_push(&c->delete_replies, reply) < 0)
		return error_oom(err);
	if (c->deleting)
		return 0;
	c->deleting = true;
	if (c->finished) {
		cleanup_deleted(c);
		return 0;
	}
	if (c->reaped || c->pidfd < 0)
		return 0; /* finish() comes and cleans up */
	bool running = c->status == MC_RUNNING || c->status == MC_STARTING;
	int sig = running && grace_ns > 0 ? c->spec->stop_signal : SIGKILL;
	if (pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		log_warn("monitor", "container %s: signal %d: %s", c->id, sig, strerror(errno));
	if (sig == SIGKILL)
		return 0;
	int64_t deadline = korch_clock_now_ns(c->m->clock) + grace_ns;
	if (c->kill_timer) {
		loop_timer_set(c->kill_timer, deadline);
		return 0;
	}
	return loop_add_timer(c->m->loop, deadline, on_kill_timer, c, &c->kill_timer, err);
}

void
mexec_free(struct mexec *e)
{
	if (!e)
		return;
	loop_source_free(e->sync_src);
	container_proc_clear(&e->proc);
	free(e->container_id);
	free(e);
}

static void
on_exec_sync(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mexec *e = userdata;
	korch_error *err = NULL;
	enum sync_event ev = container_sync_read(fd, &err);
	if (ev != SYNC_PENDING) {
		loop_source_free(steal_pointer(&e->sync_src));
		close(e->proc.sync_fd);
		e->proc.sync_fd = -1;
	}
	if (ev == SYNC_FAILED) {
		e->failed = true;
		korch_error_prefix(&err, korch_error_code(err), "exec in container %s",
				   e->container_id);
		if (e->reply)
			mpending_fail(e->m, steal_pointer(&e->reply), err);
	}
	korch_error_free(err);
}

int
mcontainer_exec(struct mcontainer *c, json_t *process, const int fds[3], struct mpending *reply,
		korch_error **err)
{
	if (c->status != MC_RUNNING || c->reaped)
		return error_set(err, KORCH_ECONFLICT, "container %s is not running", c->id);
	struct process_spec proc = { 0 };
	int r = process_spec_parse(process, "process", &c->spec->process, false, &proc, err);
	if (r < 0)
		return r;
	struct mexec *e = calloc(1, sizeof(*e));
	if (!e || !(e->container_id = strdup(c->id))) {
		free(e);
		process_spec_clear(&proc);
		return error_oom(err);
	}
	e->m = c->m;
	e->proc = (struct container_proc)CONTAINER_PROC_INIT;
	r = container_exec_spawn(c->spec, c->pidfd, &proc, c->sec, fds, &e->proc, err);
	process_spec_clear(&proc);
	if (r == 0)
		r = loop_add_io(c->m->loop, e->proc.sync_fd, EPOLLIN, on_exec_sync, e, &e->sync_src,
				err);
	if (r == 0 && ptrvec_push(&c->m->execs, e) < 0)
		r = error_oom(err);
	if (r < 0) {
		if (e->proc.pidfd >= 0) {
			pidfd_send_signal(e->proc.pidfd, SIGKILL, NULL, 0);
			waitid((idtype_t)P_PIDFD, (id_t)e->proc.pidfd, &(siginfo_t){ 0 }, WEXITED);
		}
		mexec_free(e);
		return korch_error_prefix(err, r, "exec in container %s", c->id);
	}
	e->reply = reply;
	return 0;
}

int
mcontainer_stats(struct mcontainer *c, json_t **ret, korch_error **err)
{
	if (!c->sec || !c->sec->ops || !c->sec->ops->stats)
		return error_set(err, KORCH_ENOTFOUND, "container %s has no cgroup", c->id);
	int r = c->sec->ops->stats(c->sec->data, ret, err);
	return r < 0 ? korch_error_prefix(err, r, "stats of container %s", c->id) : 0;
}

/*
 * Writes the new limits, then keeps them in the spec (and its state file) so that a restarted
 * monitor and the next update start from what the cgroup holds.
 */
int
mcontainer_update(struct mcontainer *c, json_t *resources, korch_error **err)
{
	if (c->status == MC_EXITED)
		return error_set(err, KORCH_ECONFLICT, "update container %s: it has exited", c->id);
	if (!c->sec || !c->sec->ops || !c->sec->ops->update)
		return error_set(err, KORCH_ENOTFOUND, "update container %s: it has no cgroup",
				 c->id);
	struct resources_spec res;
	int r = resources_spec_parse(resources, "resources", &res, err);
	if (r < 0)
		return r;
	if ((r = c->sec->ops->update(c->sec->data, &res, err)) < 0) {
		resources_spec_clear(&res);
		return korch_error_prefix(err, r, "update container %s", c->id);
	}
	resources_spec_clear(&c->spec->resources);
	c->spec->resources = res;
	if (json_object_set(c->spec->json, "resources", resources) < 0)
		return error_oom(err);
	mcontainer_save_state(c);
	return 0;
}
