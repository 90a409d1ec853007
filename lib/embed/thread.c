/*
 * thread.c - KORCH_RUN_THREAD: one thread that runs the handle's loop until korch_close(). It
 * holds the handle's lock while it dispatches, so that calls from the opening thread that touch
 * the loop's objects (adding or freeing a watch, taking queued events) never run beside it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "embed/embed-internal.h"

void
embed_lock(korch *k)
{
	if (k->lock_init)
		pthread_mutex_lock(&k->lock);
}

void
embed_unlock(korch *k)
{
	if (k->lock_init)
		pthread_mutex_unlock(&k->lock);
}

void
embed_wake(korch *k)
{
	if (k->wake_fd >= 0) {
		uint64_t one = 1;
		(void)!write(k->wake_fd, &one, sizeof(one));
	}
}

static void *
run(void *userdata)
{
	korch *k = userdata;
	struct pollfd fds[2] = {
		{ .fd = korch_loop_fd(k->loop), .events = POLLIN },
		{ .fd = k->wake_fd, .events = POLLIN },
	};
	for (;;) {
		pthread_mutex_lock(&k->lock);
		bool stop = k->stop;
		int timeout = korch_loop_next_timeout_ms(k->loop);
		pthread_mutex_unlock(&k->lock);
		if (stop)
			break;
		if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
			log_error("embed", "loop thread: poll: %s", strerror(errno));
			break;
		}
		if (fds[1].revents & POLLIN) {
			uint64_t v;
			(void)!read(k->wake_fd, &v, sizeof(v));
		}
		pthread_mutex_lock(&k->lock);
		korch_error *e = NULL;
		k->in_dispatch = true;
		if (!k->stop && korch_loop_dispatch(k->loop, 0, &e) < 0) {
			log_error("embed", "loop thread: %s", korch_error_message(e));
			korch_error_free(e);
		}
		k->in_dispatch = false;
		pthread_mutex_unlock(&k->lock);
	}
	return NULL;
}

int
embed_thread_start(korch *k, korch_error **err)
{
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	/* A watch callback on the loop thread may free its watch: the lock is taken again. */
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	int r = pthread_mutex_init(&k->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (r)
		return error_errno(err, r, "korch thread: mutex");
	k->lock_init = true;
	k->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->wake_fd < 0)
		return error_errno(err, errno, "korch thread: eventfd");
	/* Signals stay with the caller's threads: the loop thread blocks them all. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&k->thread, NULL, run, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return error_errno(err, r, "korch thread: pthread_create");
	k->thread_started = true;
	return 0;
}

void
embed_thread_stop(korch *k)
{
	if (k->thread_started) {
		pthread_mutex_lock(&k->lock);
		k->stop = true;
		pthread_mutex_unlock(&k->lock);
		embed_wake(k);
		pthread_join(k->thread, NULL);
		k->thread_started = false;
	}
	if (k->wake_fd >= 0)
		close(k->wake_fd);
	k->wake_fd = -1;
	if (k->lock_init) {
		pthread_mutex_destroy(&k->lock);
		k->lock_init = false;
	}
}
