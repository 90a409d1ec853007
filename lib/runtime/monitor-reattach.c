/*
 * monitor-reattach.c - a restarted korch-monitor adopting the containers of the one before it,
 * from the state files in RUNDIR/containers.
 *
 * Exit status after a monitor restart. The kernel tells an exit status to the parent only, and
 * a restarted monitor is not the parent: when the old monitor died, its children were
 * reparented to the nearest subreaper above it, or to the host's init. So the new monitor
 * holds a pidfd on each adopted init (pidfd_open, checked against the start time saved in the
 * state file so a reused pid is never mistaken for ours) and learns the exit from it:
 *   - PIDFD_GET_INFO with PIDFD_INFO_EXIT (Linux 6.15) gives the exit status to any pidfd
 *     holder once the new parent has reaped the process;
 *   - before the reap, the zombie's /proc/PID/stat still carries it (field 52, exit_code),
 *     which is also what works when the new parent never reaps (an init that does not wait).
 * An init that exits while no monitor runs at all has nobody holding a pidfd: unless it is still
 * an unreaped zombie when the next monitor comes, its status is lost, and the state says so
 * (reason ExitStatusLost) instead of inventing one. Likewise its output: what a container writes
 * while no monitor runs waits in its pipe for the next monitor (monitor-container.c), unless the
 * container also ends before that monitor comes, taking the pipe and its unread bytes along.
 * Zero helper processes per container was the goal; a small per-node keeper above the monitor
 * (holding pidfds and pipes across the monitor's restarts) is what closing that gap would take.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "runtime/monitor-internal.h"

#define STATE_FILE_MAX (16 * 1024 * 1024)
#define EXIT_RETRY_NS (20 * NSEC_PER_MSEC) /* the exit status not readable yet: try again */
#define EXIT_RETRIES 100

/* PIDFD_GET_INFO of <linux/pidfd.h> (Linux 6.13+), version 0 of its struct. */
struct pidfd_info_v0 {
	uint64_t mask;     /* PIDFD_INFO_* wanted, then given */
	uint64_t cgroupid; /* unused */
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid; /* unused */
	int32_t exit_code; /* wait status, with PIDFD_INFO_EXIT */
};
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_EXIT_BIT (1ULL << 3)

int
proc_pid_stat(pid_t pid, char *ret_state, uint64_t *ret_ticks, int *ret_exit_code)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* Fields after the command name, starting with field 3 (state). */
	char *save = NULL;
	int field = 3;
	for (char *tok = strtok_r(p + 1, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 3 && ret_state)
			*ret_state = tok[0];
		else if (field == 22 && ret_ticks)
			*ret_ticks = strtoull(tok, NULL, 10);
		else if (field == 52 && ret_exit_code)
			*ret_exit_code = (int)strtol(tok, NULL, 10);
	}
	return 0;
}

/* An fd of process pid on the pipe with inode ino, opened for reading; -1 when it has none. */
static int
open_pipe_of(pid_t pid, uint64_t ino)
{
	char dir[64], want[64], link[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "pipe:[%" PRIu64 "]", ino);
	DIR *d = opendir(dir);
	struct dirent *de;
	int fd = -1;
	while (d && fd < 0 && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!streq(link, want))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != ino)) {
			close(fd);
			fd = -1;
		}
	}
	if (d)
		closedir(d);
	return fd;
}

/*
 * Re-attach: reopens an output pipe from the init, or else from any process of its pid
 * namespace still holding it. None holding it means nothing can be written to it any more.
 */
static int
stream_reopen(struct mcontainer *c, struct mstream *s, uint64_t ino, korch_error **err)
{
	s->fd = ino ? open_pipe_of(c->pid, ino) : -1;
	char path[64], ns[64], other[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)c->pid);
	ssize_t n = readlink(path, ns, sizeof(ns) - 1);
	DIR *d = s->fd < 0 && ino && n > 0 ? opendir("/proc") : NULL;
	struct dirent *de;
	if (n > 0)
		ns[n] = '\0';
	while (d && s->fd < 0 && (de = readdir(d))) {
		int pid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
		ssize_t m = pid > 0 ? readlink(path, other, sizeof(other) - 1) : -1;
		if (m == n && strncmp(ns, other, (size_t)n) == 0)
			s->fd = open_pipe_of(pid, ino);
	}
	if (d)
		closedir(d);
	return s->fd >= 0 ? mstream_watch(c, s, err) : 0;
}

/*
 * Adopted init: its pidfd said it exited. The status is in pidfs once the new parent reaped
 * it, in /proc/PID/stat while it is a zombie; between the two, try again shortly.
 */
void
mcontainer_collect_adopted_exit(struct mcontainer *c)
{
	struct pidfd_info_v0 info = { .mask = PIDFD_INFO_EXIT_BIT };
	if (ioctl(c->pidfd, PIDFD_GET_INFO_V0, &info) == 0 && (info.mask & PIDFD_INFO_EXIT_BIT)) {
		mcontainer_record_exit(c, info.exit_code, true, NULL);
		return;
	}
	char state = 0;
	uint64_t ticks = 0;
	int status = 0;
	if (proc_pid_stat(c->pid, &state, &ticks, &status) == 0 && ticks == c->start_ticks &&
	    state == 'Z') {
		mcontainer_record_exit(c, status, true, NULL);
		return;
	}
	if (++c->exit_info_tries > EXIT_RETRIES) {
		mcontainer_record_exit(c, 0, false,
				       "the exit status could not be read from the kernel");
		return;
	}
	_cleanup_error_ korch_error *err = NULL;
	if (mcontainer_arm_exit_timer(c, EXIT_RETRY_NS, &err) < 0)
		mcontainer_record_exit(c, 0, false, korch_error_message(err));
}

static void
on_pidfd(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mcontainer *c = userdata;
	loop_source_free(steal_pointer(&c->pidfd_src));
	mcontainer_collect_adopted_exit(c);
}

/* Fills c from a state file; the spec is parsed again. */
static int
load_state(struct mcontainer *c, json_t *st, korch_error **err)
{
	const char *status = json_string_value(json_object_get(st, "status"));
	c->status = MC_EXITED;
	for (int i = MC_CREATING; i <= MC_EXITED; i++)
		if (streq(status, mstatus_name((enum mstatus)i)))
			c->status = (enum mstatus)i;
	c->pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	c->start_ticks = (uint64_t)json_integer_value(json_object_get(st, "startTicks"));
	c->created_ns = json_integer_value(json_object_get(st, "createdAtNs"));
	c->started_ns = json_integer_value(json_object_get(st, "startedAtNs"));
	c->finished_ns = json_integer_value(json_object_get(st, "finishedAtNs"));
	if (c->status == MC_EXITED) {
		c->reaped = c->finished = true;
		c->exit.code = (int)json_integer_value(json_object_get(st, "exitCode"));
		c->exit.signal = (int)json_integer_value(json_object_get(st, "signal"));
		c->exit.oom = json_is_true(json_object_get(st, "oomKilled"));
		const char *s = json_string_value(json_object_get(st, "reason"));
		c->exit.reason = s ? strdup(s) : NULL;
		s = json_string_value(json_object_get(st, "message"));
		c->exit.message = s ? strdup(s) : NULL;
	}
	return 0;
}

/* Opens a pidfd on the init saved in the state file, if that very process still exists. */
static int
open_adopted(struct mcontainer *c, char *ret_state)
{
	if (c->pid <= 0)
		return -ESRCH;
	int fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (fd < 0)
		return -errno;
	uint64_t ticks = 0;
	/* Read after pidfd_open: if the start time matches now, the pidfd is on our process. */
	if (proc_pid_stat(c->pid, ret_state, &ticks, NULL) < 0 || ticks != c->start_ticks) {
		close(fd);
		return -ESRCH;
	}
	c->pidfd = fd;
	return 0;
}

static int
adopt(struct mcontainer *c, json_t *st, korch_error **err)
{
	int r = load_state(c, st, err);
	/* Every adopted container gets its hooks: its cgroup must go at delete, whatever its
	 * state, and a running one is tracked (stats, OOM) and exec'd into as before. */
	if (r == 0)
		r = container_hooks_new(c->m->hooks, c->spec, true, &c->sec, err);
	if (r < 0 || c->status == MC_EXITED)
		return r;
	const char *boot = json_string_value(json_object_get(st, "bootId"));
	char state = 0;
	bool alive = streq(boot, c->m->boot_id) && open_adopted(c, &state) == 0;
	c->adopted = true;
	if (c->status == MC_CREATING || c->status == MC_CREATED) {
		/* Its init waited for start on a socket that died with the old monitor. */
		if (alive)
			pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
		mcontainer_record_exit(c, 0, false,
				       "korch-monitor restarted before the container started");
		return 0;
	}
	if (!alive) {
		mcontainer_record_exit(
			c, 0, false,
			streq(boot, c->m->boot_id)
				? "the container exited while no korch-monitor was running"
				: "the machine restarted");
		return 0;
	}
	c->status = MC_RUNNING;
	uint64_t out_ino = (uint64_t)json_integer_value(json_object_get(st, "stdoutPipe"));
	uint64_t err_ino = (uint64_t)json_integer_value(json_object_get(st, "stderrPipe"));
	if ((r = stream_reopen(c, &c->out, out_ino, err)) < 0 ||
	    (r = stream_reopen(c, &c->err, err_ino, err)) < 0 ||
	    (r = log_writer_open(c->log_path, c->spec->log_max_bytes, c->spec->log_max_files,
				 &c->log, err)) < 0)
		return r;
	if (state == 'Z') {
		mcontainer_collect_adopted_exit(c);
		return 0;
	}
	return loop_add_io(c->m->loop, c->pidfd, EPOLLIN, on_pidfd, c, &c->pidfd_src, err);
}

static int
reattach_one(struct monitor *m, const char *name, korch_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	if (asprintf(&path, "%s/%s/state.json", m->containers_dir, name) < 0)
		return error_oom(err);
	_cleanup_error_ korch_error *read_err = NULL;
	int r = read_file(path, STATE_FILE_MAX, &text, NULL, &read_err);
	if (r < 0 && korch_error_errno(read_err) == ENOENT) {
		/*
		 * A create the old monitor never finished: its init waited on a socket that died
		 * with it, and has gone. Only the directory is left.
		 */
		path[strlen(path) - strlen("/state.json")] = '\0';
		log_info("monitor", "removing %s, a create that never finished", path);
		return rm_rf(path, err);
	}
	if (r < 0)
		return error_propagate(err, &read_err, r);
	json_error_t jerr;
	json_t *st = json_loads(text, 0, &jerr);
	if (!st)
		return error_set(err, KORCH_EINVALID, "%s: %s", path, jerr.text);
	struct container_spec *spec = NULL;
	r = container_spec_parse(json_object_get(st, "spec"), &spec, err);
	if (r == 0 && !streq(spec->id, name))
		r = error_set(err, KORCH_EINVALID, "%s: holds container %s", path, spec->id);
	struct mcontainer *c = NULL;
	if (r == 0 && !(c = mcontainer_new(m, spec)))
		r = error_oom(err);
	if (r < 0) {
		container_spec_free(spec);
		json_decref(st);
		return r;
	}
	if ((r = hashmap_put(&m->containers, c->id, c, NULL)) < 0) {
		mcontainer_free(c);
		json_decref(st);
		return error_oom(err);
	}
	r = adopt(c, st, err);
	json_decref(st);
	if (r < 0) {
		hashmap_remove(&m->containers, c->id);
		mcontainer_free(c);
		return r;
	}
	log_info("monitor", "re-attached container %s: %s", c->id, mstatus_name(c->status));
	mcontainer_save_state(c);
	return 0;
}

int
monitor_reattach(struct monitor *m, korch_error **err)
{
	DIR *d = opendir(m->containers_dir);
	if (!d)
		return error_errno(err, errno, "open %s", m->containers_dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_error_ korch_error *e = NULL;
		if (reattach_one(m, de->d_name, &e) < 0)
			log_error("monitor", "re-attach container %s: %s", de->d_name,
				  korch_error_message(e));
	}
	closedir(d);
	return 0;
}
