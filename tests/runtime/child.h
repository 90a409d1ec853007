/*
 * child.h - forked test children that wait for a "go" byte (so the parent can place them in a
 * cgroup first) and report integers back through a pipe. Header-only, for tests/runtime.
 */
#ifndef KORCH_TESTS_RUNTIME_CHILD_H
#define KORCH_TESTS_RUNTIME_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct child {
	pid_t pid; /* 0 when none (or reaped) */
	int go_w;  /* parent's end of the go pipe, -1 once sent */
	int res_r; /* parent's end of the result pipe */
};

typedef void (*child_fn)(int res_w, void *arg);

/* Forks a child that waits for child_go(), runs fn(res_w, arg) and exits 0. */
static inline int
child_start(struct child *c, child_fn fn, void *arg)
{
	int go[2], res[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(res, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(go[1]);
		close(res[0]);
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(100);
		close(go[0]);
		fn(res[1], arg);
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	c->pid = pid;
	c->go_w = go[1];
	c->res_r = res[0];
	return 0;
}

static inline void
child_go(struct child *c)
{
	if (c->go_w >= 0) {
		(void)!write(c->go_w, "g", 1);
		close(c->go_w);
		c->go_w = -1;
	}
}

/* In the child: sends one integer. */
static inline void
child_send(int res_w, int64_t v)
{
	(void)!write(res_w, &v, sizeof(v));
}

/* In the parent: reads one integer, waiting up to timeout_ms; false on timeout or EOF. */
static inline bool
child_recv(struct child *c, int64_t *v, int timeout_ms)
{
	struct pollfd p = { .fd = c->res_r, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return read(c->res_r, v, sizeof(*v)) == (ssize_t)sizeof(*v);
}

/* Reaps the child; returns its wait status. */
static inline int
child_wait(struct child *c)
{
	int status = -1;
	if (c->pid > 0) {
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
	}
	if (c->go_w >= 0)
		close(c->go_w);
	if (c->res_r >= 0)
		close(c->res_r);
	c->go_w = c->res_r = -1;
	return status;
}

/* Kills (SIGKILL) and reaps a child still running: teardown after a failed assertion. */
static inline void
child_cleanup(struct child *c)
{
	if (c->pid > 0)
		kill(c->pid, SIGKILL);
	child_wait(c);
}

static inline int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
