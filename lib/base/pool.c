/*
 * pool.c - worker threads with a job queue; finished jobs travel back through an eventfd that the
 * loop watches, so completions run on the loop's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/error.h"
#include "base/loop.h"
#include "base/pool.h"

struct job {
	pool_work_fn work; /* runs on a worker */
	pool_done_fn done; /* runs on the loop */
	void *userdata;    /* for both */
	bool ran;          /* work ran (false: canceled) */
	struct job *next;  /* queue link */
};

struct pool {
	korch_loop *loop;                    /* borrowed */
	struct loop_source *src;             /* watches done_fd */
	int done_fd;                         /* eventfd: finished jobs waiting for the loop */
	pthread_mutex_t lock;                /* guards everything below */
	pthread_cond_t cond;                 /* signalled when a job is queued or on shutdown */
	struct job *queue_head, *queue_tail; /* waiting jobs */
	struct job *done_head, *done_tail;   /* finished jobs */
	pthread_t *threads;                  /* started workers */
	unsigned n_threads, max_threads;     /* started, allowed */
	unsigned idle;                       /* workers waiting for a job */
	bool stopping;                       /* pool_free() is under way */
};

static void
append(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *
worker_main(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->queue_head && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cond, &p->lock);
			p->idle--;
		}
		if (!p->queue_head)
			break;
		struct job *j = p->queue_head;
		p->queue_head = j->next;
		if (!p->queue_head)
			p->queue_tail = NULL;
		pthread_mutex_unlock(&p->lock);
		j->work(j->userdata);
		j->ran = true;
		pthread_mutex_lock(&p->lock);
		append(&p->done_head, &p->done_tail, j);
		uint64_t one = 1;
		ssize_t r = write(p->done_fd, &one, sizeof(one));
		(void)r;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Runs the completions of finished jobs; called on the loop's thread. */
static void
run_done(struct pool *p)
{
	uint64_t v;
	ssize_t r = read(p->done_fd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&p->lock);
	struct job *j = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	while (j) {
		struct job *next = j->next;
		j->done(j->userdata, !j->ran);
		free(j);
		j = next;
	}
}

static void
on_done_fd(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	run_done(userdata);
}

int
pool_new(korch_loop *loop, unsigned max_threads, struct pool **ret_pool, korch_error **err)
{
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return error_oom(err);
	p->loop = loop;
	p->max_threads = max_threads ? max_threads : 1;
	p->threads = calloc(p->max_threads, sizeof(pthread_t));
	p->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!p->threads || p->done_fd < 0) {
		int r = p->threads ? error_errno(err, errno, "eventfd") : error_oom(err);
		if (p->done_fd >= 0)
			close(p->done_fd);
		free(p->threads);
		free(p);
		return r;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	int r = loop_add_io(loop, p->done_fd, EPOLLIN, on_done_fd, p, &p->src, err);
	if (r < 0) {
		close(p->done_fd);
		free(p->threads);
		free(p);
		return r;
	}
	*ret_pool = p;
	return 0;
}

int
pool_submit(struct pool *p, pool_work_fn work, pool_done_fn done, void *userdata, korch_error **err)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return error_oom(err);
	j->work = work;
	j->done = done;
	j->userdata = userdata;
	pthread_mutex_lock(&p->lock);
	append(&p->queue_head, &p->queue_tail, j);
	if (p->idle == 0 && p->n_threads < p->max_threads) {
		int e = pthread_create(&p->threads[p->n_threads], NULL, worker_main, p);
		if (e == 0)
			p->n_threads++;
		else if (p->n_threads == 0) {
			/* No worker at all: take the job back rather than let it hang. */
			p->queue_head = p->queue_tail = NULL;
			pthread_mutex_unlock(&p->lock);
			free(j);
			return error_errno(err, e, "start worker thread");
		}
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

unsigned
pool_threads(const struct pool *p)
{
	return p->n_threads;
}

void
pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	/* Queued work never runs: move it to the done list as canceled. */
	struct job *j = p->queue_head;
	p->queue_head = p->queue_tail = NULL;
	while (j) {
		struct job *next = j->next;
		append(&p->done_head, &p->done_tail, j);
		j = next;
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	run_done(p);
	loop_source_free(p->src);
	close(p->done_fd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p);
}
