/* The event loop: timer order under the test clock, fds, signals, children, deferred calls,
 * freeing sources from callbacks, the real clock's timerfd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/loop.h"
#include "base/strbuf.h"

struct rec {
	struct strbuf log; /* what fired, in order */
	korch_loop *loop;
	int64_t seen_now[8]; /* clock readings inside timer callbacks */
	int n_seen;
	struct loop_source *victim; /* a source a callback frees */
};

struct tag {
	struct rec *rec;
	const char *name;
};

static void
on_timer(struct loop_source *src, void *userdata)
{
	struct tag *t = userdata;
	strbuf_printf(&t->rec->log, "%s ", t->name);
	if (t->rec->n_seen < 8)
		t->rec->seen_now[t->rec->n_seen++] =
			korch_clock_now_ns(korch_loop_clock(t->rec->loop));
}

static void
test_timer_order_test_clock(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(1000 * NSEC_PER_SEC, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct rec rec = { .log = STRBUF_INIT, .loop = loop };
	int64_t t0 = korch_clock_now_ns(clock);
	struct tag a = { &rec, "a5" }, b = { &rec, "b3" }, c = { &rec, "c3" }, d = { &rec, "d7" };
	struct loop_source *sa, *sb, *sc, *sd;
	assert_int_equal(loop_add_timer(loop, t0 + 5 * NSEC_PER_SEC, on_timer, &a, &sa, NULL), 0);
	assert_int_equal(loop_add_timer(loop, t0 + 3 * NSEC_PER_SEC, on_timer, &b, &sb, NULL), 0);
	assert_int_equal(loop_add_timer(loop, t0 + 3 * NSEC_PER_SEC, on_timer, &c, &sc, NULL), 0);
	assert_int_equal(loop_add_timer(loop, t0 + 7 * NSEC_PER_SEC, on_timer, &d, &sd, NULL), 0);

	/* The test clock does not move on its own: nothing is due. */
	assert_int_equal(korch_loop_next_timeout_ms(loop), -1);
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL), 0);
	assert_string_equal(strbuf_str(&rec.log), "");

	/* Advancing the clock makes the loop fd readable; equal deadlines fire in arming order. */
	assert_int_equal(korch_clock_advance(clock, 4 * NSEC_PER_SEC), 0);
	struct pollfd pfd = { .fd = korch_loop_fd(loop), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(korch_loop_next_timeout_ms(loop), 0);
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL), 2);
	assert_string_equal(strbuf_str(&rec.log), "b3 c3 ");

	/* korch_loop_advance steps timer by timer: each sees its own deadline as "now". */
	rec.n_seen = 0;
	assert_int_equal(korch_loop_advance(loop, 10 * NSEC_PER_SEC, NULL), 0);
	assert_string_equal(strbuf_str(&rec.log), "b3 c3 a5 d7 ");
	assert_int_equal(rec.n_seen, 2);
	assert_true(rec.seen_now[0] == t0 + 5 * NSEC_PER_SEC);
	assert_true(rec.seen_now[1] == t0 + 7 * NSEC_PER_SEC);
	assert_true(korch_clock_now_ns(clock) == t0 + 14 * NSEC_PER_SEC);
	assert_true(korch_clock_wall_ns(clock) == 1014 * NSEC_PER_SEC);

	/* Re-arming moves a timer; disarmed timers never fire. */
	loop_timer_set(sa, t0 + 20 * NSEC_PER_SEC);
	loop_timer_set(sb, t0 + 16 * NSEC_PER_SEC);
	loop_timer_set(sb, -1);
	strbuf_truncate(&rec.log, 0);
	assert_int_equal(korch_loop_advance(loop, 10 * NSEC_PER_SEC, NULL), 0);
	assert_string_equal(strbuf_str(&rec.log), "a5 ");
	assert_true(loop_timer_deadline(sa) == -1);

	loop_source_free(sa);
	loop_source_free(sb);
	loop_source_free(sc);
	loop_source_free(sd);
	strbuf_free(&rec.log);
	assert_int_equal(korch_clock_advance(clock, -1), KORCH_EINVALID);
}

static void
on_free_victim(struct loop_source *src, void *userdata)
{
	struct tag *t = userdata;
	strbuf_printf(&t->rec->log, "%s ", t->name);
	loop_source_free(t->rec->victim);
	t->rec->victim = NULL;
	loop_source_free(src); /* freeing yourself is allowed */
}

static void
test_free_inside_callback(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(0, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct rec rec = { .log = STRBUF_INIT, .loop = loop };
	struct tag first = { &rec, "first" }, second = { &rec, "second" };
	struct loop_source *s1, *s2;
	int64_t now = korch_clock_now_ns(clock);
	assert_int_equal(loop_add_timer(loop, now + 1, on_free_victim, &first, &s1, NULL), 0);
	assert_int_equal(loop_add_timer(loop, now + 1, on_timer, &second, &s2, NULL), 0);
	rec.victim = s2;
	assert_int_equal(korch_loop_advance(loop, 1, NULL), 0);
	assert_string_equal(strbuf_str(&rec.log), "first ");
	strbuf_free(&rec.log);
}

static void
on_readable(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct rec *rec = userdata;
	char buf[16] = { 0 };
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	strbuf_printf(&rec->log, "read:%s ", buf);
}

static void
on_defer(struct loop_source *src, void *userdata)
{
	struct rec *rec = userdata;
	strbuf_puts(&rec->log, "defer ");
}

static void
test_io_and_defer(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct rec rec = { .log = STRBUF_INIT, .loop = loop };
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct loop_source *io, *df;
	assert_int_equal(loop_add_io(loop, p[0], EPOLLIN, on_readable, &rec, &io, NULL), 0);
	assert_int_equal(loop_add_defer(loop, on_defer, &rec, &df, NULL), 0);
	assert_int_equal(korch_loop_next_timeout_ms(loop), 0);
	assert_int_equal(write(p[1], "hi", 2), 2);
	assert_int_equal(korch_loop_dispatch(loop, 1000, NULL), 2);
	assert_string_equal(strbuf_str(&rec.log), "read:hi defer ");
	/* A deferred call runs once until enabled again. */
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL), 0);
	loop_defer_enable(df);
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL), 1);
	loop_source_free(io);
	loop_source_free(df);
	close(p[0]);
	close(p[1]);
	strbuf_free(&rec.log);
}

static void
on_real_timer(struct loop_source *src, void *userdata)
{
	(*(int *)userdata)++;
}

static void
test_real_clock_timer(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	int fired = 0;
	struct loop_source *t;
	int64_t start = korch_clock_now_ns(clock);
	assert_int_equal(
		loop_add_timer(loop, start + 20 * NSEC_PER_MSEC, on_real_timer, &fired, &t, NULL),
		0);
	int timeout = korch_loop_next_timeout_ms(loop);
	assert_true(timeout > 0 && timeout <= 20);
	/* The epoll fd alone tells when the timer is due: poll it as an embedder would. */
	struct pollfd pfd = { .fd = korch_loop_fd(loop), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(korch_loop_dispatch(loop, 0, NULL), 1);
	assert_int_equal(fired, 1);
	assert_true(korch_clock_now_ns(clock) - start >= 20 * NSEC_PER_MSEC);
	/* A deadline in the past fires at once. */
	loop_timer_set(t, 0);
	assert_int_equal(korch_loop_dispatch(loop, 1000, NULL), 1);
	assert_int_equal(fired, 2);
	loop_source_free(t);
}

struct child_rec {
	pid_t pid;
	int code;
	int status;
};

static void
on_child(struct loop_source *src, pid_t pid, const siginfo_t *si, void *userdata)
{
	struct child_rec *c = userdata;
	c->pid = pid;
	c->code = si->si_code;
	c->status = si->si_status;
}

static void
test_child(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(7);
	struct child_rec c = { 0 };
	struct loop_source *src;
	assert_int_equal(loop_add_child(loop, pid, on_child, &c, &src, NULL), 0);
	for (int i = 0; i < 100 && c.pid == 0; i++)
		assert_true(korch_loop_dispatch(loop, 100, NULL) >= 0);
	assert_int_equal(c.pid, pid);
	assert_int_equal(c.code, CLD_EXITED);
	assert_int_equal(c.status, 7);
	/* Reaped: nothing is left to wait for. */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	loop_source_free(src);
}

static void
on_signal(struct loop_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	*(int *)userdata = (int)si->ssi_signo;
}

static void
test_signal(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	int got = 0;
	struct loop_source *src;
	assert_int_equal(loop_add_signal(loop, SIGUSR1, on_signal, &got, &src, NULL), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	for (int i = 0; i < 50 && !got; i++)
		korch_loop_dispatch(loop, 100, NULL);
	assert_int_equal(got, SIGUSR1);
	loop_source_free(src);
}

static void
count_fire(struct loop_source *src, void *userdata)
{
	(*(int *)userdata)++;
}

/* Timers made disarmed and armed later, many more than the heap's first size. */
static void
test_many_disarmed_timers(void **state)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(0, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct loop_source *t[100];
	int fired = 0;
	/* One armed timer first: the heap holds one entry while 99 more are made disarmed. */
	assert_int_equal(loop_add_timer(loop, 2 * NSEC_PER_SEC, count_fire, &fired, &t[0], NULL),
			 0);
	for (int i = 1; i < 100; i++)
		assert_int_equal(loop_add_timer(loop, -1, count_fire, &fired, &t[i], NULL), 0);
	/* The earliest armed deadline; disarmed timers do not count. */
	assert_int_equal(loop_next_deadline(loop), 2 * NSEC_PER_SEC);
	for (int i = 1; i < 100; i++)
		loop_timer_set(t[i], korch_clock_now_ns(clock) + i * NSEC_PER_MSEC);
	assert_int_equal(loop_next_deadline(loop), korch_clock_now_ns(clock) + NSEC_PER_MSEC);
	assert_int_equal(korch_loop_advance(loop, 3 * NSEC_PER_SEC, NULL), 0);
	assert_int_equal(fired, 100);
	assert_int_equal(loop_next_deadline(loop), -1);
	/* Freed timers give their room back; new ones fit again. */
	for (int i = 0; i < 100; i++)
		loop_source_free(t[i]);
	for (int i = 0; i < 100; i++)
		assert_int_equal(loop_add_timer(loop, -1, count_fire, &fired, &t[i], NULL), 0);
	for (int i = 0; i < 100; i++)
		loop_timer_set(t[i], korch_clock_now_ns(clock) + NSEC_PER_MSEC);
	assert_int_equal(korch_loop_advance(loop, NSEC_PER_SEC, NULL), 0);
	assert_int_equal(fired, 200);
	for (int i = 0; i < 100; i++)
		loop_source_free(t[i]);
	korch_loop_free(loop);
	korch_clock_free(clock);
}

static void
test_advance_needs_test_clock(void **state)
{
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_real(&clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(korch_loop_advance(loop, 1, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "advance needs a test clock and a delta >= 0");
	korch_error_free(err);
	assert_int_equal(korch_clock_advance(clock, 1), KORCH_EINVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_order_test_clock),
		cmocka_unit_test(test_free_inside_callback),
		cmocka_unit_test(test_io_and_defer),
		cmocka_unit_test(test_real_clock_timer),
		cmocka_unit_test(test_child),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_advance_needs_test_clock),
		cmocka_unit_test(test_many_disarmed_timers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
