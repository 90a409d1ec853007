/* parallel.c - the fork-join of parallel.h: helpers wait on a generation counter. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/error.h"
#include "base/parallel.h"

#define MAX_WORKERS 8

struct helper {
	struct parallel *p; /* owner */
	pthread_t thread;   /* its thread */
	unsigned index;     /* its worker number, 1.. */
};

struct parallel {
	unsigned workers;         /* the caller and the helpers */
	unsigned started;         /* helpers running */
	bool start_failed;        /* a helper could not be started: run on the caller */
	struct helper *helpers;   /* workers - 1 */
	pthread_mutex_t mu;       /* guards what follows */
	pthread_cond_t go;        /* a new call, or stop */
	pthread_cond_t idle;      /* the last helper left the call */
	unsigned long generation; /* calls so far */
	unsigned busy;            /* helpers inside the current call */
	bool stop;                /* parallel_free */
	/* The current call (written under mu before the generation moves on). */
	parallel_fn fn;
	void *userdata;
	size_t n, chunk;
	atomic_size_t next; /* the first item not handed out */
};

static void
run_items(struct parallel *p, unsigned w)
{
	for (;;) {
		size_t from = atomic_fetch_add(&p->next, p->chunk);
		if (from >= p->n)
			return;
		size_t to = from + p->chunk < p->n ? from + p->chunk : p->n;
		for (size_t i = from; i < to; i++)
			p->fn(i, w, p->userdata);
	}
}

static void *
helper_main(void *arg)
{
	struct helper *h = arg;
	struct parallel *p = h->p;
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->generation == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->stop)
			break;
		seen = p->generation;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		run_items(p, h->index);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int
parallel_new(unsigned threads, struct parallel **ret, korch_error **err)
{
	if (threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (threads > MAX_WORKERS)
		threads = MAX_WORKERS;
	struct parallel *p = calloc(1, sizeof(*p));
	if (!p || !(p->helpers = calloc(threads, sizeof(*p->helpers)))) {
		free(p);
		return error_oom(err);
	}
	p->workers = threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->idle, NULL);
	*ret = p;
	return 0;
}

unsigned
parallel_workers(const struct parallel *p)
{
	return p->workers;
}

/* Starts the helpers on first use: a process that never fans out has no extra threads. */
static void
start_helpers(struct parallel *p)
{
	while (p->started + 1 < p->workers && !p->start_failed) {
		struct helper *h = &p->helpers[p->started];
		*h = (struct helper){ .p = p, .index = p->started + 1 };
		if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
			p->start_failed = true;
			break;
		}
		p->started++;
	}
}

void
parallel_for(struct parallel *p, size_t n, size_t chunk, parallel_fn fn, void *userdata)
{
	if (chunk == 0)
		chunk = 1;
	if (p->workers > 1)
		start_helpers(p);
	if (n < 2 * chunk || p->started == 0) {
		for (size_t i = 0; i < n; i++)
			fn(i, 0, userdata);
		return;
	}
	pthread_mutex_lock(&p->mu);
	/* A helper that woke late for the previous call may still be leaving it. */
	while (p->busy > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	p->fn = fn;
	p->userdata = userdata;
	p->n = n;
	p->chunk = chunk;
	atomic_store(&p->next, 0);
	p->generation++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	run_items(p, 0);
	/* Every item is handed out; wait for the helpers still inside this call. A helper that
	 * wakes only now sees no item left and leaves at once. */
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
parallel_free(struct parallel *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->helpers[i].thread, NULL);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->mu);
	free(p->helpers);
	free(p);
}
