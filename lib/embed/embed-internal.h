/*
 * embed-internal.h - what the files of the embedding handle share: the handle itself, its
 * watches and the loop thread of KORCH_RUN_THREAD mode.
 */
#ifndef KORCH_EMBED_INTERNAL_H
#define KORCH_EMBED_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <korch/korch.h>
#include "client/client.h"
#include "store/store.h"

struct controller_manager;
struct scheduler;
struct node_backend;
struct sim_backend;
struct node_agent;

struct korch {
	unsigned int roles;              /* enum korch_role bits running */
	int mode;                        /* enum korch_run_mode */
	bool simulated;                  /* test clock and simulated runtime */
	char *data_dir;                  /* images, pods, logs, volumes */
	korch_clock *clock;              /* real or test */
	korch_loop *loop;                /* everything runs here */
	struct store *store;             /* the state, on loop */
	struct client *client;           /* the write path over store */
	korch_client *pub;               /* the public client over client (borrowed parts) */
	korch_client *caller_client;     /* KORCH_RUN_THREAD: the opening thread's own client */
	struct controller_manager *cm;   /* KORCH_ROLE_CONTROLLERS, or NULL */
	struct scheduler *sched;         /* KORCH_ROLE_SCHEDULER, or NULL */
	struct node_backend *backend;    /* KORCH_ROLE_NODE: the runtime, or NULL */
	struct sim_backend *sim;         /* the simulated runtime's handle (borrowed), or NULL */
	struct node_agent *agent;        /* KORCH_ROLE_NODE, or NULL */
	FILE *event_log;                 /* the event log, or NULL */
	struct store_watch *event_watch; /* feeds event_log */
	bool in_dispatch;                /* inside korch_dispatch/korch_advance */
	/* watches */
	struct korch_watch *watches; /* every open watch, a doubly linked list */
	struct loop_source *reaper;  /* frees watches freed from inside a callback */
	/* KORCH_RUN_THREAD */
	pthread_mutex_t lock; /* held by the loop thread while it dispatches */
	bool lock_init;       /* lock is initialised */
	pthread_t thread;     /* runs the loop */
	bool thread_started;  /* thread is running */
	bool stop;            /* the thread should end (under lock) */
	int wake_fd;          /* eventfd: wakes the thread's poll */
};

/* The watch list and its reaper; fini frees every watch still open. */
int embed_watches_init(korch *k, korch_error **err);
void embed_watches_fini(korch *k);

/* KORCH_RUN_THREAD: the loop thread; stop joins it (nothing when it never started). */
int embed_thread_start(korch *k, korch_error **err);
void embed_thread_stop(korch *k);
/* Around work from the caller's thread on what the loop thread owns (no-ops otherwise). */
void embed_lock(korch *k);
void embed_unlock(korch *k);
/* Makes the loop thread look at its loop again (after a watch was added). */
void embed_wake(korch *k);

#endif
