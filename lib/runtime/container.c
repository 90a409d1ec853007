/*
 * container.c - cloning a container's init (or a process exec'd into a running container) and
 * the sync socket through which parent and child step through create, start and execve.
 *
 * The child is a copy of korch-monitor (clone3 without CLONE_VM, so fork semantics): the
 * monitor is single-threaded, so the child may allocate and use korch_error freely, but it
 * must leave through _exit() and never return into the monitor's loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "runtime/container.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args of <linux/sched.h> (version 2, with cgroup), without its header. */
struct clone_args_v2 {
	uint64_t flags;        /* CLONE_* */
	uint64_t pidfd;        /* where CLONE_PIDFD stores the pidfd */
	uint64_t child_tid;    /* unused */
	uint64_t parent_tid;   /* unused */
	uint64_t exit_signal;  /* SIGCHLD */
	uint64_t stack;        /* 0: the child runs on a copy of our stack, as with fork */
	uint64_t stack_size;   /* 0 */
	uint64_t tls;          /* unused */
	uint64_t set_tid;      /* unused */
	uint64_t set_tid_size; /* unused */
	uint64_t cgroup;       /* a cgroup v2 directory fd with CLONE_INTO_CGROUP */
};

static const int ns_clone_flag[NS_COUNT] = {
	[NS_PID] = CLONE_NEWPID, [NS_MNT] = CLONE_NEWNS,  [NS_UTS] = CLONE_NEWUTS,
	[NS_IPC] = CLONE_NEWIPC, [NS_NET] = CLONE_NEWNET, [NS_CGROUP] = CLONE_NEWCGROUP,
};
static const char *const ns_label[NS_COUNT] = {
	[NS_PID] = "pid", [NS_MNT] = "mount", [NS_UTS] = "uts",
	[NS_IPC] = "ipc", [NS_NET] = "net",   [NS_CGROUP] = "cgroup",
};

#define SYNC_GO 'G'    /* parent: the cgroup is placed, go on */
#define SYNC_START 'S' /* parent: start (go on to execve) */
#define SYNC_READY 'R' /* child: created, waiting for start */
#define SYNC_ERROR 'E' /* child: "E<code> <errno> <message>", then it exits */
#define SYNC_MSG_MAX 4096

void
container_proc_clear(struct container_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->sync_fd >= 0)
		close(p->sync_fd);
	*p = (struct container_proc)CONTAINER_PROC_INIT;
}

/* The child's last words: its error, whole, to the parent. */
static _Noreturn void
child_fail(int sync_fd, korch_error *err, int status)
{
	char msg[SYNC_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "%c%d %d %s", SYNC_ERROR,
			 err ? korch_error_code(err) : KORCH_ESYSTEM,
			 err ? korch_error_errno(err) : 0,
			 err ? korch_error_message(err) : "container setup failed");
	if (n > (int)sizeof(msg) - 1)
		n = (int)sizeof(msg) - 1;
	if (send(sync_fd, msg, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* Nobody listens any more; nothing else to do. */
	}
	_exit(status);
}

/* Waits for one byte from the parent; the parent gone (EOF) ends the child quietly. */
static void
child_wait(int sync_fd, char want)
{
	char c;
	ssize_t n = RETRY_EINTR(recv(sync_fd, &c, 1, 0));
	if (n != 1 || c != want)
		_exit(1);
}

/*
 * Leaves the child with its stdio on 0, 1 and 2, the sync socket on 3 (close-on-exec) and no
 * other fd: nothing of the monitor's (its socket, epoll, other containers' pipes and logs)
 * may reach the container, even through /proc/self/fd (CVE-2024-21626).
 */
static int
child_fds(int sync_fd, const int stdio[3])
{
	int high[3];
	for (int i = 0; i < 3; i++)
		if ((high[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return -errno;
	int s = fcntl(sync_fd, F_DUPFD_CLOEXEC, 3);
	if (s < 0)
		return -errno;
	for (int i = 0; i < 3; i++)
		if (dup2(high[i], i) < 0)
			return -errno;
	if (s != 3 && dup3(s, 3, O_CLOEXEC) < 0)
		return -errno;
	if (close_range(4, ~0U, 0) < 0)
		return -errno;
	return 3;
}

static int
join_namespaces(const struct container_spec *spec, korch_error **err)
{
	for (int t = 0; t < NS_COUNT; t++) {
		if (t == NS_PID || spec->ns[t].mode != NS_MODE_PATH)
			continue;
		_cleanup_close_ int fd = open(spec->ns[t].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, ns_clone_flag[t]) < 0)
			return error_errno(err, errno, "join %s namespace %s", ns_label[t],
					   spec->ns[t].path);
	}
	return 0;
}

/*
 * A new network namespace starts with its loopback device down: bring it up, as runc does for
 * a container with a network namespace of its own (a pod sandbox's is the network code's).
 */
static int
loopback_up(korch_error **err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { .ifr_name = "lo" };
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return error_errno(err, errno, "loopback device");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return error_errno(err, errno, "bring the loopback device up");
	return 0;
}

/* Resolves the user and the executable in the container's root (after pivot_root or setns). */
static int
resolve_process(const struct process_spec *p, struct resolved_user *user, char **exe, char ***envp,
		korch_error **err)
{
	int r = user_resolve_in_root(p->user, p->additional_groups, user, err);
	if (r < 0)
		return r;
	if ((r = exec_path_resolve(p->args[0], p->cwd, p->env, exe, err)) < 0)
		return r;
	*envp = env_with_home(p->env, user->home);
	return *envp ? 0 : error_oom(err);
}

static _Noreturn void
init_child(const struct container_spec *spec, const struct container_layout *layout,
	   const struct container_hooks *sec, int sync_fd, const int stdio[3])
{
	korch_error *err = NULL;
	int sync = child_fds(sync_fd, stdio);
	if (sync < 0)
		child_fail(sync_fd, NULL, 1);
	if (sec && sec->ops && sec->ops->join_cgroup && sec->ops->join_cgroup(sec->data, &err) < 0)
		child_fail(sync, err, 1);
	child_wait(sync, SYNC_GO);
	int r = join_namespaces(spec, &err);
	/* After the parent placed us in our cgroup, so the namespace is rooted there. */
	if (r == 0 && spec->ns[NS_CGROUP].mode == NS_MODE_NEW && !(sec && sec->cgroup_fd >= 0) &&
	    unshare(CLONE_NEWCGROUP) < 0)
		r = error_errno(&err, errno, "new cgroup namespace");
	if (r == 0 && spec->ns[NS_NET].mode == NS_MODE_NEW)
		r = loopback_up(&err);
	if (r == 0)
		r = rootfs_setup(spec, layout, sec, &err);
	struct resolved_user user;
	char *exe = NULL, **envp = NULL;
	if (r == 0)
		r = resolve_process(&spec->process, &user, &exe, &envp, &err);
	if (r < 0)
		child_fail(sync, err, 1);
	char ready = SYNC_READY;
	if (send(sync, &ready, 1, MSG_NOSIGNAL) != 1)
		_exit(1);
	child_wait(sync, SYNC_START);
	process_exec(&spec->process, &user, exe, envp, sec, &err);
	child_fail(sync, err, 127);
}

static _Noreturn void
exec_child(const struct container_spec *spec, int init_pidfd, const struct process_spec *proc,
	   const struct container_hooks *sec, int sync_fd, const int stdio[3])
{
	korch_error *err = NULL;
	/* Before setns: the cgroup files are reached through the host's mounts. */
	if (sec && sec->ops && sec->ops->join_cgroup && sec->ops->join_cgroup(sec->data, &err) < 0)
		child_fail(sync_fd, err, 1);
	child_wait(sync_fd, SYNC_GO);
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
	if (setns(init_pidfd, flags) < 0) {
		error_errno(&err, errno, "join the container's namespaces");
		child_fail(sync_fd, err, 1);
	}
	int sync = child_fds(sync_fd, stdio);
	if (sync < 0)
		child_fail(sync_fd, NULL, 1);
	struct resolved_user user;
	char *exe = NULL, **envp = NULL;
	if (resolve_process(proc, &user, &exe, &envp, &err) < 0)
		child_fail(sync, err, 127);
	(void)spec;
	process_exec(proc, &user, exe, envp, sec, &err);
	child_fail(sync, err, 127);
}

/*
 * clone3 with fork semantics, entering the pid namespace pid_ns_fd (if >= 0) for the child:
 * setns(CLONE_NEWPID) only changes where our children are born, and we go back right after.
 * The monitor is single-threaded, so nothing else is cloned in between.
 */
static pid_t
clone_into(uint64_t flags, int pid_ns_fd, const struct container_hooks *sec, int *ret_pidfd,
	   korch_error **err)
{
	_cleanup_close_ int own_ns = -1;
	if (pid_ns_fd >= 0) {
		own_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (own_ns < 0)
			return error_errno(err, errno, "open own pid namespace");
		if (setns(pid_ns_fd, CLONE_NEWPID) < 0)
			return error_errno(err, errno, "enter the container's pid namespace");
	}
	int pidfd = -1;
	struct clone_args_v2 args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};
	if (sec && sec->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)sec->cgroup_fd;
	}
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	int saved = errno;
	if (pid == 0)
		return 0;
	if (pid_ns_fd >= 0 && setns(own_ns, CLONE_NEWPID) < 0) {
		/* Cannot happen for our own namespace; never leave later children misplaced. */
		abort();
	}
	if (pid < 0)
		return error_errno(err, saved, "clone");
	*ret_pidfd = pidfd;
	return pid;
}

/* Parent side after clone: cgroup placement, then let the child go on. */
static int
parent_release(const struct container_hooks *sec, pid_t pid, int pidfd, int sync_fd,
	       korch_error **err)
{
	int r = 0;
	if (sec && sec->ops && sec->ops->enter_cgroup)
		r = sec->ops->enter_cgroup(sec->data, pid, err);
	char go = SYNC_GO;
	if (r == 0 && send(sync_fd, &go, 1, MSG_NOSIGNAL) != 1)
		r = error_errno(err, errno, "release the container's init");
	if (r < 0) {
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		waitpid(pid, NULL, 0);
		return r;
	}
	if (fcntl(sync_fd, F_SETFL, O_NONBLOCK) < 0)
		return error_errno(err, errno, "sync socket");
	return 0;
}

int
container_spawn(const struct container_spec *spec, const struct container_layout *layout,
		const struct container_hooks *sec, const int stdio[3], struct container_proc *ret,
		korch_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_errno(err, errno, "socketpair");
	_cleanup_close_ int parent_end = sv[0], child_end = sv[1], pid_ns = -1;
	uint64_t flags = 0;
	for (int t = 0; t < NS_COUNT; t++)
		if (spec->ns[t].mode == NS_MODE_NEW && t != NS_CGROUP)
			flags |= (uint64_t)ns_clone_flag[t];
	/* With CLONE_INTO_CGROUP the child is born in its cgroup: its namespace can come now. */
	if (spec->ns[NS_CGROUP].mode == NS_MODE_NEW && sec && sec->cgroup_fd >= 0)
		flags |= CLONE_NEWCGROUP;
	if (spec->ns[NS_PID].mode == NS_MODE_PATH) {
		pid_ns = open(spec->ns[NS_PID].path, O_RDONLY | O_CLOEXEC);
		if (pid_ns < 0)
			return error_errno(err, errno, "open pid namespace %s",
					   spec->ns[NS_PID].path);
	}
	int pidfd = -1;
	pid_t pid = clone_into(flags, pid_ns, sec, &pidfd, err);
	if (pid < 0)
		return pid;
	if (pid == 0)
		init_child(spec, layout, sec, child_end, stdio);
	_cleanup_close_ int pidfd_owned = pidfd;
	close(steal_fd(&child_end));
	int r = parent_release(sec, pid, pidfd, parent_end, err);
	if (r < 0)
		return r;
	*ret = (struct container_proc){ pid, steal_fd(&pidfd_owned), steal_fd(&parent_end) };
	return 0;
}

int
container_exec_spawn(const struct container_spec *spec, int init_pidfd,
		     const struct process_spec *proc, const struct container_hooks *sec,
		     const int stdio[3], struct container_proc *ret, korch_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_errno(err, errno, "socketpair");
	_cleanup_close_ int parent_end = sv[0], child_end = sv[1];
	int pidfd = -1;
	pid_t pid = clone_into(0, spec->ns[NS_PID].mode == NS_MODE_HOST ? -1 : init_pidfd, sec,
			       &pidfd, err);
	if (pid < 0)
		return pid;
	if (pid == 0)
		exec_child(spec, init_pidfd, proc, sec, child_end, stdio);
	_cleanup_close_ int pidfd_owned = pidfd;
	close(steal_fd(&child_end));
	int r = parent_release(sec, pid, pidfd, parent_end, err);
	if (r < 0)
		return r;
	*ret = (struct container_proc){ pid, steal_fd(&pidfd_owned), steal_fd(&parent_end) };
	return 0;
}

enum sync_event
container_sync_read(int sync_fd, korch_error **ret_err)
{
	char buf[SYNC_MSG_MAX + 1];
	ssize_t n = RETRY_EINTR(recv(sync_fd, buf, SYNC_MSG_MAX, MSG_DONTWAIT));
	if (n < 0 && errno == EAGAIN)
		return SYNC_PENDING;
	if (n <= 0)
		return SYNC_EXECED;
	buf[n] = '\0';
	if (buf[0] == SYNC_READY)
		return SYNC_CREATED;
	int code = KORCH_ESYSTEM, errnum = 0, off = 0;
	if (buf[0] != SYNC_ERROR || sscanf(buf + 1, "%d %d %n", &code, &errnum, &off) < 2 ||
	    code >= 0)
		error_set(ret_err, KORCH_EPROTO, "unexpected message from the container's init");
	else
		error_set_errno(ret_err, code, errnum, "%s", buf + 1 + off);
	return SYNC_FAILED;
}

int
container_sync_start(int sync_fd, korch_error **err)
{
	char c = SYNC_START;
	if (send(sync_fd, &c, 1, MSG_NOSIGNAL) != 1)
		return error_errno(err, errno, "start the container's init");
	return 0;
}
