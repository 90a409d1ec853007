/*
 * monitor-internal.h - what monitor.c (the socket, its clients, the operations) and
 * monitor-container.c (each container's life, its output, its state file, re-attach) share.
 */
#ifndef KORCH_RUNTIME_MONITOR_INTERNAL_H
#define KORCH_RUNTIME_MONITOR_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <korch/loop.h>
#include "base/hashmap.h"
#include "base/vec.h"
#include "runtime/container.h"
#include "runtime/monitor-log.h"

struct mclient;

struct monitor {
	char *run_dir;                  /* RUNDIR */
	char *containers_dir;           /* RUNDIR/containers */
	korch_clock *clock;             /* the real clock */
	korch_loop *loop;               /* everything runs here */
	struct hooks_context *hooks;    /* seccomp cache and cgroup managers of all containers */
	int lock_fd;                    /* flock on RUNDIR/monitor.lock: one monitor per run dir */
	int listen_fd;                  /* RUNDIR/monitor.sock */
	struct loop_source *listen_src; /* accepts clients */
	struct loop_source *signal_srcs[3]; /* SIGCHLD, SIGTERM, SIGINT */
	struct loop_source *sweep_src;      /* frees clients marked dead, after the dispatch */
	struct hashmap containers;          /* id -> struct mcontainer */
	struct ptrvec clients;              /* struct mclient */
	struct ptrvec pending;              /* struct mpending: replies still owed */
	struct ptrvec execs;                /* struct mexec: processes exec'd into containers */
	char boot_id[40]; /* this boot's id: state files of another boot are stale */
	bool quitting;    /* shutdown asked: leave the loop */
};

/* A reply owed to a client for a request that finishes later. */
struct mpending {
	struct mclient *client; /* NULL once the client has gone */
	json_t *id;             /* the request's id */
};

enum mstatus {
	MC_CREATING, /* cloned, setting itself up */
	MC_CREATED,  /* set up, waiting for start */
	MC_STARTING, /* told to start, execve not confirmed yet */
	MC_RUNNING,  /* the user's process runs */
	MC_EXITED,   /* its init exited; status kept until delete */
};

struct mcontainer;

/* One of a container's output streams: a pipe the container holds read-write. */
struct mstream {
	struct mcontainer *c;    /* owner */
	struct log_stream log;   /* the line not yet written */
	int fd;                  /* our read end, non-blocking; -1 at EOF */
	struct loop_source *src; /* readable */
	uint64_t ino;            /* the pipe's inode: how a restarted monitor finds it again */
};

struct mexit {
	int code;      /* exit code, 128+signal when killed, -1 when unknown */
	int signal;    /* the signal that killed it, or 0 */
	bool oom;      /* killed by the kernel's OOM killer */
	char *reason;  /* "Completed", "Error", "OOMKilled", "StartError", "ExitStatusLost", ... */
	char *message; /* a start error's text, or why the status is lost */
};

struct mcontainer {
	struct monitor *m;              /* owner */
	char *id;                       /* spec id */
	char *dir;                      /* RUNDIR/containers/ID */
	char *rootfs_dir;               /* DIR/rootfs */
	char *upper_dir;                /* DIR/upper */
	char *work_dir;                 /* DIR/work */
	char *log_path;                 /* the CRI log file */
	struct container_spec *spec;    /* parsed spec */
	struct container_hooks *sec;    /* cgroup, caps and seccomp hooks */
	enum mstatus status;            /* where it is in its life */
	pid_t pid;                      /* its init, in our pid namespace */
	int pidfd;                      /* its init */
	uint64_t start_ticks;           /* /proc/PID/stat starttime: tells a reused pid */
	bool adopted;                   /* a previous monitor started it: we are not its parent */
	int sync_fd;                    /* to the init until execve */
	struct loop_source *sync_src;   /* sync_fd readable */
	struct loop_source *pidfd_src;  /* adopted: exit notification */
	struct loop_source *kill_timer; /* the setup deadline; at delete, the grace period */
	struct loop_source *exit_timer; /* adopted: exit status retry; then the output drain */
	int exit_info_tries;            /* adopted: attempts to read the exit status */
	struct mstream out;             /* stdout */
	struct mstream err;             /* stderr */
	struct log_writer *log;         /* CRI log file */
	int64_t created_ns;             /* wall clock */
	int64_t started_ns;             /* wall clock, 0 before start */
	int64_t finished_ns;            /* wall clock, 0 before exit */
	bool reaped;                    /* the exit status is known */
	struct mexit exit;              /* valid once reaped */
	struct mpending *create_reply;  /* create in flight */
	struct mpending *start_reply;   /* start in flight */
	struct ptrvec waiters;          /* struct mpending: wait requests */
	struct ptrvec delete_replies;   /* struct mpending: delete requests */
	bool deleting;                  /* delete asked */
	bool setup_timed_out;           /* killed for setting up too long */
	int64_t grace_ns;               /* delete: stop signal to SIGKILL */
	bool finished;                  /* exit recorded, output drained, waiters told */
};

/* A process exec'd into a running container. */
struct mexec {
	struct monitor *m;            /* owner */
	char *container_id;           /* where it runs */
	struct container_proc proc;   /* pid, pidfd, sync socket */
	struct loop_source *sync_src; /* sync socket readable */
	struct mpending *reply;       /* the exec request */
	bool failed;                  /* reported an error before execve */
};

/* monitor.c */
int mpending_new(struct monitor *m, struct mclient *client, json_t *id, struct mpending **ret);
/* Sends {"id":..,"ok":true} plus fields (stolen, may be NULL) and frees p. */
void mpending_ok(struct monitor *m, struct mpending *p, json_t *fields);
/* Sends the error and frees p. */
void mpending_fail(struct monitor *m, struct mpending *p, const korch_error *err);
/* Sends an event to every subscribed client (ev stolen). */
void monitor_broadcast(struct monitor *m, json_t *ev);

/* monitor-container.c */
const char *mstatus_name(enum mstatus s);
/* A record for spec (owned from now on); NULL without memory. Nothing on disk yet. */
struct mcontainer *mcontainer_new(struct monitor *m, struct container_spec *spec);
/* Frees our side of a container: nothing on disk or in the kernel is touched. */
void mcontainer_free(struct mcontainer *c);
/* Watches s->fd (its pipe's inode noted for the state file). */
int mstream_watch(struct mcontainer *c, struct mstream *s, korch_error **err);
/*
 * The init's exit is known (known false: lost, lost_why says why): record it, drain the
 * output, tell the waiters, go on with a delete.
 */
void mcontainer_record_exit(struct mcontainer *c, int wait_status, bool known,
			    const char *lost_why);
/* Rewrites DIR/state.json (errors are logged). */
void mcontainer_save_state(struct mcontainer *c);
/* (Re)arms c->exit_timer delay_ns from now: mcontainer_collect_adopted_exit() or finish. */
int mcontainer_arm_exit_timer(struct mcontainer *c, int64_t delay_ns, korch_error **err);
int mcontainer_create(struct monitor *m, json_t *spec_json, struct mpending *reply,
		      korch_error **err);
int mcontainer_start(struct mcontainer *c, struct mpending *reply, korch_error **err);
int mcontainer_kill(struct mcontainer *c, int signo, korch_error **err);
void mcontainer_wait(struct mcontainer *c, struct mpending *reply);
int mcontainer_delete(struct mcontainer *c, int64_t grace_ns, struct mpending *reply,
		      korch_error **err);
int mcontainer_exec(struct mcontainer *c, json_t *process, const int fds[3], struct mpending *reply,
		    korch_error **err);
/* Usage statistics of the container's cgroup ({"cpuUsageNs", ...}). */
int mcontainer_stats(struct mcontainer *c, json_t **ret, korch_error **err);
/* New limits (resources, the whole desired state) for the container's cgroup; persisted. */
int mcontainer_update(struct mcontainer *c, json_t *resources, korch_error **err);
/* The public view: id, status, pid, times, exit; with for_file, also spec and private data. */
json_t *mcontainer_state(struct mcontainer *c, bool for_file);
/* A child of ours exited (from the SIGCHLD handler). */
void monitor_child_exited(struct monitor *m, pid_t pid, const siginfo_t *si);

/* monitor-reattach.c */
/* At start: adopts what RUNDIR/containers holds. */
int monitor_reattach(struct monitor *m, korch_error **err);
/* An adopted init exited (its pidfd said so): read its status, or try again shortly. */
void mcontainer_collect_adopted_exit(struct mcontainer *c);
/*
 * Reads /proc/PID/stat: the state letter, the start time (field 22) and, for a zombie, the
 * wait status (field 52); each output may be NULL. -errno when there is no such process.
 */
int proc_pid_stat(pid_t pid, char *ret_state, uint64_t *ret_ticks, int *ret_exit_code);
/* At shutdown: closes our side of every container, which keeps running. */
void mcontainer_detach(struct mcontainer *c);
void mexec_free(struct mexec *e);

#endif
