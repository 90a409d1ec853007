/*
 * loop.c - the korch event loop: one epoll fd over I/O sources, a timerfd (real clock) or the
 * test clock's wake-ups, a signalfd, pidfds for children, and deferred calls.
 *
 * Sources freed inside a callback are unlinked at once and freed when the dispatch that is
 * running ends, so a callback may free any source, its own included.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/loop.h"
#include "base/vec.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum source_type {
	SRC_IO,
	SRC_TIMER,
	SRC_SIGNAL,
	SRC_CHILD,
	SRC_DEFER,
	SRC_INTERNAL, /* the loop's own timerfd, wake eventfd and signalfd */
};

struct loop_source {
	korch_loop *loop;      /* the loop it is attached to */
	enum source_type type; /* what it watches */
	void *userdata;        /* passed to the callback */
	union {
		loop_io_fn io;
		loop_timer_fn timer;
		loop_signal_fn signal;
		loop_child_fn child;
		loop_defer_fn defer;
	} fn;                /* the callback */
	int fd;              /* io: borrowed fd; child: the owned pidfd; internal: the fd */
	uint32_t events;     /* io: epoll events asked for */
	int64_t deadline_ns; /* timer: due time, or -1 when disarmed */
	uint64_t seq;        /* timer: arming order, breaks deadline ties */
	size_t heap_index;   /* timer: position in loop->heap while armed */
	int signo;           /* signal: the signal number */
	pid_t pid;           /* child: the process */
	bool pending;        /* defer: queued for the end of a dispatch */
	bool due;            /* defer: runs in the dispatch under way */
	bool dead;           /* freed while a dispatch was running */
};

struct korch_loop {
	int epoll_fd;                  /* what korch_loop_fd() hands out */
	int timer_fd;                  /* real clock: armed at the earliest deadline */
	int wake_fd;                   /* eventfd: test clock moved, or deferred work queued */
	int signal_fd;                 /* one signalfd for every signal source, or -1 */
	sigset_t signal_mask;          /* signals routed to signal_fd */
	korch_clock *clock;            /* borrowed */
	struct loop_source timer_src;  /* internal source for timer_fd */
	struct loop_source wake_src;   /* internal source for wake_fd */
	struct loop_source signal_src; /* internal source for signal_fd */
	struct loop_source **heap;     /* armed timers, a binary min-heap */
	size_t heap_n, heap_cap;       /* entries used and allocated in heap */
	size_t timers;                 /* timer sources alive, armed or not: heap_cap >= timers */
	uint64_t timer_seq;            /* next timer arming number */
	int64_t armed_ns;              /* what timer_fd is armed for, -1 none */
	struct ptrvec signals;         /* signal sources */
	struct ptrvec defers;          /* deferred-call sources */
	struct ptrvec children;        /* child sources without a pidfd (SIGCHLD fallback) */
	bool check_children;           /* SIGCHLD came, or a child was added: waitid each */
	struct ptrvec dead;            /* sources freed during dispatch, freed at its end */
	int dispatching;               /* dispatch nesting depth */
	bool quit;                     /* korch_loop_run() should return */
};

/* ---- timer heap ---- */

static bool
timer_before(const struct loop_source *a, const struct loop_source *b)
{
	return a->deadline_ns < b->deadline_ns ||
	       (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void
heap_swap(korch_loop *l, size_t i, size_t j)
{
	struct loop_source *t = l->heap[i];
	l->heap[i] = l->heap[j];
	l->heap[j] = t;
	l->heap[i]->heap_index = i;
	l->heap[j]->heap_index = j;
}

static void
heap_up(korch_loop *l, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(l->heap[i], l->heap[parent]))
			break;
		heap_swap(l, i, parent);
		i = parent;
	}
}

static void
heap_down(korch_loop *l, size_t i)
{
	for (;;) {
		size_t left = 2 * i + 1, right = left + 1, least = i;
		if (left < l->heap_n && timer_before(l->heap[left], l->heap[least]))
			least = left;
		if (right < l->heap_n && timer_before(l->heap[right], l->heap[least]))
			least = right;
		if (least == i)
			break;
		heap_swap(l, i, least);
		i = least;
	}
}

static void
heap_remove(korch_loop *l, struct loop_source *s)
{
	if (s->deadline_ns < 0)
		return;
	size_t i = s->heap_index;
	l->heap_n--;
	if (i != l->heap_n) {
		l->heap[i] = l->heap[l->heap_n];
		l->heap[i]->heap_index = i;
		heap_down(l, i);
		heap_up(l, i);
	}
	s->deadline_ns = -1;
}

static void
wake(korch_loop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->wake_fd, &one, sizeof(one));
	(void)r;
}

/* Points timer_fd at the earliest deadline (real clock), or wakes the loop (test clock). */
static void
rearm(korch_loop *l)
{
	int64_t next = l->heap_n ? l->heap[0]->deadline_ns : -1;
	if (clock_is_test(l->clock)) {
		if (next >= 0 && next <= korch_clock_now_ns(l->clock))
			wake(l);
		return;
	}
	if (next == l->armed_ns)
		return;
	struct itimerspec its = { 0 };
	if (next >= 0) {
		/* An all-zero it_value disarms: never pass that for a due timer. */
		int64_t at = next > 0 ? next : 1;
		its.it_value.tv_sec = at / NSEC_PER_SEC;
		its.it_value.tv_nsec = at % NSEC_PER_SEC;
	}
	timerfd_settime(l->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	l->armed_ns = next;
}

/* ---- sources ---- */

static struct loop_source *
source_new(korch_loop *l, enum source_type type, void *userdata)
{
	struct loop_source *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = l;
	s->type = type;
	s->userdata = userdata;
	s->fd = -1;
	s->deadline_ns = -1;
	return s;
}

static int
epoll_add(korch_loop *l, int fd, uint32_t events, struct loop_source *s, korch_error **err)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };
	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return error_errno(err, errno, "epoll_ctl add fd %d", fd);
	return 0;
}

int
loop_add_io(korch_loop *loop, int fd, uint32_t events, loop_io_fn fn, void *userdata,
	    struct loop_source **ret_src, korch_error **err)
{
	struct loop_source *s = source_new(loop, SRC_IO, userdata);
	if (!s)
		return error_oom(err);
	s->fn.io = fn;
	s->fd = fd;
	s->events = events;
	int r = epoll_add(loop, fd, events, s, err);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret_src = s;
	return 0;
}

int
loop_source_set_events(struct loop_source *src, uint32_t events, korch_error **err)
{
	if (src->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = src };
	if (epoll_ctl(src->loop->epoll_fd, EPOLL_CTL_MOD, src->fd, &ev) < 0)
		return error_errno(err, errno, "epoll_ctl mod fd %d", src->fd);
	src->events = events;
	return 0;
}

int
loop_add_timer(korch_loop *loop, int64_t deadline_ns, loop_timer_fn fn, void *userdata,
	       struct loop_source **ret_src, korch_error **err)
{
	struct loop_source *s = source_new(loop, SRC_TIMER, userdata);
	if (!s)
		return error_oom(err);
	s->fn.timer = fn;
	/* Room for every timer that exists, armed or not, so that arming one never allocates. */
	if (loop->timers == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
		struct loop_source **h = realloc(loop->heap, cap * sizeof(*h));
		if (!h) {
			free(s);
			return error_oom(err);
		}
		loop->heap = h;
		loop->heap_cap = cap;
	}
	loop->timers++;
	*ret_src = s;
	loop_timer_set(s, deadline_ns);
	return 0;
}

void
loop_timer_set(struct loop_source *src, int64_t deadline_ns)
{
	korch_loop *l = src->loop;
	if (src->dead)
		return;
	heap_remove(l, src);
	if (deadline_ns >= 0) {
		/* The heap has room: loop_add_timer grew it for every timer that exists. */
		src->deadline_ns = deadline_ns;
		src->seq = l->timer_seq++;
		src->heap_index = l->heap_n;
		l->heap[l->heap_n++] = src;
		heap_up(l, src->heap_index);
	}
	rearm(l);
}

int64_t
loop_timer_deadline(const struct loop_source *src)
{
	return src->deadline_ns;
}

static int
update_signal_fd(korch_loop *l, korch_error **err)
{
	int fd = signalfd(l->signal_fd, &l->signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "signalfd");
	if (l->signal_fd < 0) {
		l->signal_fd = fd;
		l->signal_src.fd = fd;
		int r = epoll_add(l, fd, EPOLLIN, &l->signal_src, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int
loop_add_signal(korch_loop *loop, int signo, loop_signal_fn fn, void *userdata,
		struct loop_source **ret_src, korch_error **err)
{
	struct loop_source *s = source_new(loop, SRC_SIGNAL, userdata);
	if (!s)
		return error_oom(err);
	s->fn.signal = fn;
	s->signo = signo;
	if (ptrvec_push(&loop->signals, s) < 0) {
		free(s);
		return error_oom(err);
	}
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, signo);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	sigaddset(&loop->signal_mask, signo);
	int r = update_signal_fd(loop, err);
	if (r < 0) {
		loop->signals.n--;
		free(s);
		return r;
	}
	*ret_src = s;
	return 0;
}

/*
 * Without pidfds (kernels before 5.3, or valgrind, which does not know pidfd_open) children are
 * watched through SIGCHLD on the loop's signalfd and waitid(P_PID) on each watched child.
 */
static int
watch_sigchld(korch_loop *l, korch_error **err)
{
	if (sigismember(&l->signal_mask, SIGCHLD))
		return 0;
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	sigaddset(&l->signal_mask, SIGCHLD);
	return update_signal_fd(l, err);
}

int
loop_add_child(korch_loop *loop, pid_t pid, loop_child_fn fn, void *userdata,
	       struct loop_source **ret_src, korch_error **err)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 && errno != ENOSYS)
		return error_errno(err, errno, "pidfd_open %d", (int)pid);
	struct loop_source *s = source_new(loop, SRC_CHILD, userdata);
	if (!s) {
		if (pidfd >= 0)
			close(pidfd);
		return error_oom(err);
	}
	s->fn.child = fn;
	s->pid = pid;
	s->fd = pidfd;
	int r;
	if (pidfd >= 0) {
		r = epoll_add(loop, pidfd, EPOLLIN, s, err);
	} else {
		r = ptrvec_push(&loop->children, s) < 0 ? error_oom(err) : 0;
		if (r == 0 && (r = watch_sigchld(loop, err)) < 0)
			loop->children.n--;
		/* It may have exited before SIGCHLD was routed here: look once on the next dispatch. */
		loop->check_children = true;
		wake(loop);
	}
	if (r < 0) {
		if (pidfd >= 0)
			close(pidfd);
		free(s);
		return r;
	}
	*ret_src = s;
	return 0;
}

int
loop_add_defer(korch_loop *loop, loop_defer_fn fn, void *userdata, struct loop_source **ret_src,
	       korch_error **err)
{
	struct loop_source *s = source_new(loop, SRC_DEFER, userdata);
	if (!s)
		return error_oom(err);
	s->fn.defer = fn;
	if (ptrvec_push(&loop->defers, s) < 0) {
		free(s);
		return error_oom(err);
	}
	*ret_src = s;
	loop_defer_enable(s);
	return 0;
}

void
loop_defer_enable(struct loop_source *src)
{
	if (src->dead || src->pending)
		return;
	src->pending = true;
	wake(src->loop);
}

korch_loop *
loop_source_loop(const struct loop_source *src)
{
	return src->loop;
}

static void
ptrvec_remove_item(struct ptrvec *v, void *p)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i] == p) {
			ptrvec_remove(v, i);
			return;
		}
}

/* Detaches a source from everything that could call it. */
static void
source_unlink(struct loop_source *s)
{
	korch_loop *l = s->loop;
	switch (s->type) {
	case SRC_IO: epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL); break;
	case SRC_CHILD:
		ptrvec_remove_item(&l->children, s);
		if (s->fd >= 0) {
			epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
			close(s->fd);
			s->fd = -1;
		}
		break;
	case SRC_TIMER:
		heap_remove(l, s);
		l->timers--;
		rearm(l);
		break;
	case SRC_SIGNAL:
		ptrvec_remove_item(&l->signals, s);
		sigdelset(&l->signal_mask, s->signo);
		for (size_t i = 0; i < l->signals.n; i++)
			sigaddset(&l->signal_mask,
				  ((struct loop_source *)l->signals.items[i])->signo);
		if (l->signal_fd >= 0)
			update_signal_fd(l, NULL);
		break;
	case SRC_DEFER: ptrvec_remove_item(&l->defers, s); break;
	case SRC_INTERNAL: break;
	}
}

void
loop_source_free(struct loop_source *src)
{
	if (!src || src->dead)
		return;
	source_unlink(src);
	src->dead = true;
	if (src->loop->dispatching && ptrvec_push(&src->loop->dead, src) == 0)
		return;
	free(src);
}

/* ---- the loop ---- */

KORCH_EXPORT int
korch_loop_new(korch_clock *clock, korch_loop **ret_loop, korch_error **err)
{
	korch_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return error_oom(err);
	l->clock = clock;
	l->timer_fd = l->wake_fd = l->signal_fd = -1;
	l->armed_ns = -1;
	sigemptyset(&l->signal_mask);
	int r;
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epoll_fd < 0) {
		r = error_errno(err, errno, "epoll_create1");
		goto fail;
	}
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake_fd < 0) {
		r = error_errno(err, errno, "eventfd");
		goto fail;
	}
	l->wake_src = (struct loop_source){ .loop = l, .type = SRC_INTERNAL, .fd = l->wake_fd };
	if ((r = epoll_add(l, l->wake_fd, EPOLLIN, &l->wake_src, err)) < 0)
		goto fail;
	if (!clock_is_test(clock)) {
		l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (l->timer_fd < 0) {
			r = error_errno(err, errno, "timerfd_create");
			goto fail;
		}
		l->timer_src =
			(struct loop_source){ .loop = l, .type = SRC_INTERNAL, .fd = l->timer_fd };
		if ((r = epoll_add(l, l->timer_fd, EPOLLIN, &l->timer_src, err)) < 0)
			goto fail;
	} else if (clock_attach_wake_fd(clock, l->wake_fd) < 0) {
		r = error_oom(err);
		goto fail;
	}
	l->signal_src = (struct loop_source){ .loop = l, .type = SRC_INTERNAL, .fd = -1 };
	*ret_loop = l;
	return 0;
fail:
	korch_loop_free(l);
	return r;
}

KORCH_EXPORT korch_clock *
korch_loop_clock(korch_loop *loop)
{
	return loop->clock;
}

KORCH_EXPORT int
korch_loop_fd(korch_loop *loop)
{
	return loop->epoll_fd;
}

static bool
defer_pending(const korch_loop *l)
{
	for (size_t i = 0; i < l->defers.n; i++)
		if (((struct loop_source *)l->defers.items[i])->pending)
			return true;
	return false;
}

KORCH_EXPORT int
korch_loop_next_timeout_ms(korch_loop *loop)
{
	if (defer_pending(loop))
		return 0;
	if (!loop->heap_n)
		return -1;
	int64_t now = korch_clock_now_ns(loop->clock);
	int64_t due = loop->heap[0]->deadline_ns;
	if (due <= now)
		return 0;
	if (clock_is_test(loop->clock))
		return -1;
	int64_t ms = (due - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void
drain_fd(int fd)
{
	uint64_t buf[8];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int
handle_signals(korch_loop *l)
{
	int n = 0;
	struct signalfd_siginfo si;
	while (read(l->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			l->check_children = true;
		for (size_t i = 0; i < l->signals.n; i++) {
			struct loop_source *s = l->signals.items[i];
			if ((uint32_t)s->signo == si.ssi_signo && !s->dead) {
				s->fn.signal(s, &si, s->userdata);
				n++;
			}
		}
	}
	return n;
}

static int
handle_child(struct loop_source *s)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int r = s->fd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)s->fd, &si, WEXITED | WNOHANG)
			   : waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG);
	if (r < 0 || si.si_pid == 0)
		return 0;
	if (s->fd >= 0) {
		epoll_ctl(s->loop->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
		s->fd = -1;
	} else {
		ptrvec_remove_item(&s->loop->children, s);
	}
	s->fn.child(s, s->pid, &si, s->userdata);
	return 1;
}

/* SIGCHLD fallback: looks at every watched child once. */
static int
check_children(korch_loop *l)
{
	if (!l->check_children)
		return 0;
	l->check_children = false;
	int n = 0;
	for (size_t i = 0; i < l->children.n;) {
		struct loop_source *s = l->children.items[i];
		size_t before = l->children.n;
		n += handle_child(s);
		if (l->children.n >= before)
			i++;
		else
			i = 0; /* the list changed under us: start over, handled ones are gone */
	}
	return n;
}

/* Runs every timer due at now, in (deadline, arming order). */
static int
run_timers(korch_loop *l)
{
	int n = 0;
	int64_t now = korch_clock_now_ns(l->clock);
	while (l->heap_n && l->heap[0]->deadline_ns <= now) {
		struct loop_source *s = l->heap[0];
		heap_remove(l, s);
		s->fn.timer(s, s->userdata);
		n++;
	}
	rearm(l);
	return n;
}

static int
run_defers(korch_loop *l)
{
	/* Only what was pending now runs: work deferred by these callbacks waits a dispatch. */
	for (size_t i = 0; i < l->defers.n; i++) {
		struct loop_source *s = l->defers.items[i];
		s->due = s->pending;
	}
	int n = 0;
	for (;;) {
		struct loop_source *next = NULL;
		for (size_t i = 0; i < l->defers.n && !next; i++) {
			struct loop_source *s = l->defers.items[i];
			if (s->due)
				next = s;
		}
		if (!next)
			return n;
		next->due = false;
		next->pending = false;
		next->fn.defer(next, next->userdata);
		n++;
	}
}

KORCH_EXPORT int
korch_loop_dispatch(korch_loop *loop, int timeout_ms, korch_error **err)
{
	int next = korch_loop_next_timeout_ms(loop);
	if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
		timeout_ms = next;
	struct epoll_event events[64];
	int n_events = epoll_wait(loop->epoll_fd, events, ARRAY_SIZE(events), timeout_ms);
	if (n_events < 0) {
		if (errno != EINTR)
			return error_errno(err, errno, "epoll_wait");
		n_events = 0;
	}
	loop->dispatching++;
	int ran = 0;
	for (int i = 0; i < n_events; i++) {
		struct loop_source *s = events[i].data.ptr;
		if (s->dead)
			continue;
		if (s == &loop->wake_src || s == &loop->timer_src)
			drain_fd(s->fd);
		else if (s == &loop->signal_src)
			ran += handle_signals(loop);
		else if (s->type == SRC_CHILD)
			ran += handle_child(s);
		else if (s->type == SRC_IO) {
			s->fn.io(s, s->fd, events[i].events, s->userdata);
			ran++;
		}
	}
	ran += check_children(loop);
	ran += run_timers(loop);
	ran += run_defers(loop);
	if (--loop->dispatching == 0) {
		for (size_t i = 0; i < loop->dead.n; i++)
			free(loop->dead.items[i]);
		loop->dead.n = 0;
	}
	if (defer_pending(loop))
		wake(loop);
	return ran;
}

KORCH_EXPORT int
korch_loop_run(korch_loop *loop, korch_error **err)
{
	loop->quit = false;
	while (!loop->quit) {
		int r = korch_loop_dispatch(loop, -1, err);
		if (r < 0)
			return r;
	}
	return 0;
}

KORCH_EXPORT void
korch_loop_quit(korch_loop *loop)
{
	loop->quit = true;
	wake(loop);
}

int64_t
loop_next_deadline(const korch_loop *loop)
{
	return loop->heap_n ? loop->heap[0]->deadline_ns : -1;
}

KORCH_EXPORT int
korch_loop_advance(korch_loop *loop, int64_t delta_ns, korch_error **err)
{
	if (!clock_is_test(loop->clock) || delta_ns < 0)
		return error_set(err, KORCH_EINVALID,
				 "advance needs a test clock and a delta >= 0");
	int64_t target = korch_clock_now_ns(loop->clock) + delta_ns;
	for (;;) {
		int r;
		/* Run what is ready now until nothing is, then step to the next deadline. */
		while ((r = korch_loop_dispatch(loop, 0, err)) > 0)
			;
		if (r < 0)
			return r;
		if (!loop->heap_n || loop->heap[0]->deadline_ns > target)
			break;
		clock_set_now(loop->clock, loop->heap[0]->deadline_ns);
	}
	clock_set_now(loop->clock, target);
	int r;
	while ((r = korch_loop_dispatch(loop, 0, err)) > 0)
		;
	return r < 0 ? r : 0;
}

KORCH_EXPORT void
korch_loop_free(korch_loop *loop)
{
	if (!loop)
		return;
	if (loop->clock && loop->wake_fd >= 0)
		clock_detach_wake_fd(loop->clock, loop->wake_fd);
	for (size_t i = 0; i < loop->dead.n; i++)
		free(loop->dead.items[i]);
	ptrvec_free(&loop->dead, NULL);
	ptrvec_free(&loop->signals, NULL);
	ptrvec_free(&loop->defers, NULL);
	ptrvec_free(&loop->children, NULL);
	free(loop->heap);
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	if (loop->timer_fd >= 0)
		close(loop->timer_fd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	free(loop);
}
