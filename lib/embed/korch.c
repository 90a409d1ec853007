/*
 * korch.c - include/korch/korch.h: one handle for an embedded orchestrator. It owns the clock,
 * the loop, one store handle and one write path on it, and whichever roles were asked for (the
 * controller manager, the scheduler, the node agent over the real or simulated runtime), all on that loop; it
 * runs the loop in the caller's loop or on a thread of its own, and keeps the event log.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <korch/korch.h>
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "controller/controller.h"
#include "embed/embed-internal.h"
#include "node/agent.h"
#include "node/backend-real.h"
#include "node/backend-sim.h"
#include "scheduler/scheduler.h"

/* 2026-01-01T00:00:00Z: where a simulation's clock starts unless told. */
#define SIM_DEFAULT_WALL_NS (1767225600LL * NSEC_PER_SEC)
#define DEFAULT_RUN_DIR "/run/korch"

KORCH_EXPORT unsigned int
korch_roles(const korch *k)
{
	return k->roles;
}

KORCH_EXPORT korch_client *
korch_get_client(korch *k)
{
	return k->caller_client ? k->caller_client : k->pub;
}

KORCH_EXPORT korch_loop *
korch_get_loop(korch *k)
{
	return k->mode == KORCH_RUN_THREAD ? NULL : k->loop;
}

KORCH_EXPORT int
korch_fd(korch *k)
{
	return k->mode == KORCH_RUN_THREAD ? -1 : korch_loop_fd(k->loop);
}

KORCH_EXPORT int
korch_timeout_ms(korch *k)
{
	return k->mode == KORCH_RUN_THREAD ? -1 : korch_loop_next_timeout_ms(k->loop);
}

KORCH_EXPORT int64_t
korch_now_wall_ns(korch *k)
{
	return korch_clock_wall_ns(k->clock);
}

KORCH_EXPORT int
korch_dispatch(korch *k, korch_error **err)
{
	if (k->mode == KORCH_RUN_THREAD)
		return error_set(err, KORCH_EINVALID,
				 "korch_dispatch: korch runs on its own thread (KORCH_RUN_THREAD)");
	if (k->in_dispatch)
		return error_set(err, KORCH_EINVALID,
				 "korch_dispatch: called from inside a korch callback");
	k->in_dispatch = true;
	int r = korch_loop_dispatch(k->loop, 0, err);
	k->in_dispatch = false;
	return r;
}

KORCH_EXPORT int
korch_advance(korch *k, int64_t delta_ns, korch_error **err)
{
	if (!k->simulated)
		return error_set(err, KORCH_EINVALID,
				 "korch_advance: only a simulation's clock can be moved");
	if (delta_ns < 0)
		return error_set(err, KORCH_EINVALID, "korch_advance: negative time %lld ns",
				 (long long)delta_ns);
	if (k->in_dispatch)
		return error_set(err, KORCH_EINVALID,
				 "korch_advance: called from inside a korch callback");
	k->in_dispatch = true;
	/* Work that is ready now (a write just made) runs before time moves. */
	int r = korch_loop_dispatch(k->loop, 0, err);
	if (r >= 0)
		r = korch_loop_advance(k->loop, delta_ns, err);
	k->in_dispatch = false;
	return r < 0 ? r : 0;
}

KORCH_EXPORT int
korch_sim_set_exit(korch *k, const char *pattern, int64_t run_s, int exit_code, korch_error **err)
{
	if (!k->sim)
		return error_set(err, KORCH_EINVALID,
				 "korch_sim_set_exit: needs the simulation mode with a node");
	if (!pattern || run_s < 0)
		return error_set(err, KORCH_EINVALID,
				 "korch_sim_set_exit: a pattern and a run time >= 0 are required");
	struct sim_behavior b = { .run_ns = run_s * NSEC_PER_SEC, .exit_code = exit_code };
	return sim_set_behavior(k->sim, pattern, &b, err);
}

/* ---- the event log ---- */

static const char *const event_names[] = { "ADDED", "MODIFIED", "DELETED" };

/*
 * One line per stored change, in revision order. Compact JSON keeps the object's field order, so
 * the same changes give the same bytes.
 */
static void
on_logged_events(struct store_watch *w, const struct store_event *events, size_t n,
		 const korch_error *error, void *userdata)
{
	korch *k = userdata;
	if (error) {
		fprintf(k->event_log, "0 ERROR - - %s\n", korch_error_message(error));
		fflush(k->event_log);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_event *ev = &events[i];
		char *text = json_dumps(ev->object, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fprintf(k->event_log, "%lld %s %s%s%s %s/%s %s\n", (long long)ev->revision,
			event_names[ev->type], ev->key.resource, *ev->key.group ? "." : "",
			ev->key.group, *ev->key.ns ? ev->key.ns : "-", ev->key.name,
			text ? text : "null");
		free(text);
	}
	fflush(k->event_log);
}

static int
event_log_start(korch *k, const char *path, korch_error **err)
{
	k->event_log = fopen(path, "ae");
	if (!k->event_log)
		return error_errno(err, errno, "event log %s", path);
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW, .no_prev = true };
	return store_watch_new(k->store, &wo, on_logged_events, k, &k->event_watch, err);
}

/* ---- roles ---- */

/*
 * The HPA's metrics from this process's node agent: the pod's last sample with a CPU rate (the
 * agent samples every 10 s). KORCH_ENOTFOUND without a node or before the second sample.
 */
static int
pod_usage(void *userdata, const char *ns, const char *name, struct pod_usage *ret,
	  korch_error **err)
{
	korch *k = userdata;
	if (!k->agent)
		return error_set(err, KORCH_ENOTFOUND, "no node agent in this process");
	_cleanup_json_ json_t *o = NULL;
	int r = node_agent_pod_samples(k->agent, ns, name, &o, err);
	return r < 0 ? r : pod_usage_from_samples(o, ns, name, ret, err);
}

static int
start_controllers(korch *k, korch_error **err)
{
	_cleanup_free_ char *volumes = NULL;
	if (asprintf(&volumes, "%s/volumes", k->data_dir) < 0)
		return error_oom(err);
	struct controller_manager_options o = {
		.volume_dir = volumes,
		/* One manager per embedded state: a simulation needs no election, and its
		 * identity must not carry the pid or randomness. */
		.no_leader_election = k->simulated,
		.identity = k->simulated ? "korch-simulation" : NULL,
		.pod_usage = (k->roles & KORCH_ROLE_NODE) ? pod_usage : NULL,
		.pod_usage_userdata = k,
	};
	int r = controller_manager_new(k->client, k->loop, &o, &k->cm, err);
	if (r == 0)
		r = controller_manager_start(k->cm, err);
	return r < 0 ? korch_error_prefix(err, r, "controllers") : 0;
}

/*
 * The scheduler on the handle's loop and write path. In a simulation its tie-breaks come from
 * the handle's seed and its Events name a fixed instance, so that two runs with the same seed
 * write the same event log; there (test clock) it commits bindings inline. Under the real clock
 * it commits each batch on a thread of the loop's worker pool (lib/base/pool.h); besides it
 * caller-loop mode has at most the store handle's parse worker (store.h, Watches).
 */
static int
start_scheduler(korch *k, const korch_options *o, korch_error **err)
{
	struct scheduler_options so = {
		.seed = k->simulated ? (o->seed ? o->seed : 1) : 0,
		.hostname = k->simulated ? "korch-simulation" : NULL,
	};
	int r = scheduler_new(k->client, k->loop, &so, &k->sched, err);
	if (r == 0)
		r = scheduler_start(k->sched, err);
	return r < 0 ? korch_error_prefix(err, r, "scheduler") : 0;
}

static int
start_node(korch *k, const korch_options *o, korch_error **err)
{
	char host[256] = "localhost";
	const char *name = o->node_name;
	if (!name && k->simulated)
		name = "sim-node";
	if (!name) {
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	_cleanup_free_ char *logs = NULL, *images = NULL;
	if (asprintf(&logs, "%s/logs", k->data_dir) < 0 ||
	    asprintf(&images, "%s/images", k->data_dir) < 0)
		return error_oom(err);
	int r;
	if (k->simulated) {
		r = sim_backend_new(k->loop, &k->backend, &k->sim, err);
	} else {
		struct real_backend_options bo = {
			.run_dir = o->run_dir ? o->run_dir : DEFAULT_RUN_DIR,
			.image_dir = images,
			.data_dir = k->data_dir,
			.instance = o->instance,
		};
		r = real_backend_new(k->loop, &bo, &k->backend, err);
	}
	if (r < 0)
		return korch_error_prefix(err, r, "node %s", name);
	struct node_agent_options ao = {
		.node_name = name,
		.client = k->client,
		.backend = k->backend,
		.root_dir = k->data_dir,
		.log_dir = logs,
		/* A simulated node has no memory to run out of. */
		.eviction_memory_available_bytes = k->simulated ? -1 : 0,
		.protect_from_oom = !k->simulated,
	};
	if ((r = node_agent_new(&ao, &k->agent, err)) < 0 ||
	    (r = node_agent_start(k->agent, err)) < 0)
		return korch_error_prefix(err, r, "node %s", name);
	return 0;
}

static int
check_options(const char *path, const korch_options *o, korch_error **err)
{
	if (o->version != KORCH_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_options version %u is not %u",
				 o->version, KORCH_OPTIONS_VERSION);
	if (!path || !*path)
		return error_set(err, KORCH_EINVALID, "korch_open: a state file path is required");
	if (o->roles & ~(unsigned)KORCH_ROLE_ALL)
		return error_set(err, KORCH_EINVALID, "korch_options.roles: unknown role bits 0x%x",
				 o->roles & ~(unsigned)KORCH_ROLE_ALL);
	if (o->run_mode != KORCH_RUN_CALLER_LOOP && o->run_mode != KORCH_RUN_THREAD)
		return error_set(err, KORCH_EINVALID, "korch_options.run_mode: unknown mode %d",
				 o->run_mode);
	if (o->simulated && o->run_mode == KORCH_RUN_THREAD)
		return error_set(err, KORCH_EINVALID,
				 "korch_options: a simulation runs in the caller's loop, not on a "
				 "thread (its clock moves only with korch_advance)");
	return 0;
}

/* Every state has Kubernetes' namespaces: korch_client_open_state makes them. */
static int
ensure_state(const char *path, korch_error **err)
{
	korch_client *kc = NULL;
	int r = korch_client_open_state(path, NULL, &kc, err);
	korch_client_free(kc);
	return r;
}

KORCH_EXPORT int
korch_open(const char *state_path, const korch_options *opts, korch **ret, korch_error **err)
{
	static const korch_options defaults = KORCH_OPTIONS_INIT;
	const korch_options *o = opts ? opts : &defaults;
	int r = check_options(state_path, o, err);
	if (r < 0)
		return r;
	if ((r = ensure_state(state_path, err)) < 0)
		return r;
	korch *k = calloc(1, sizeof(*k));
	if (!k)
		return error_oom(err);
	k->roles = o->roles;
	k->mode = o->run_mode;
	k->simulated = o->simulated;
	k->wake_fd = -1;
	k->data_dir = o->data_dir ? strdup(o->data_dir) : path_dirname(state_path);
	if (!k->data_dir) {
		free(k);
		return error_oom(err);
	}
	if (o->simulated)
		r = korch_clock_new_test(o->start_wall_ns ? o->start_wall_ns : SIM_DEFAULT_WALL_NS,
					 &k->clock, err);
	else
		r = korch_clock_new_real(&k->clock, err);
	if (r < 0 || (r = korch_loop_new(k->clock, &k->loop, err)) < 0)
		goto fail;
	struct store_options so = { .loop = k->loop };
	if ((r = store_open(state_path, &so, &k->store, err)) < 0) {
		korch_error_prefix(err, r, "open state %s", state_path);
		goto fail;
	}
	if ((r = client_new_local(k->store, k->clock, &k->client, err)) < 0 ||
	    (r = client_public_wrap(k->store, k->client, &k->pub, err)) < 0)
		goto fail;
	if (o->simulated)
		client_set_seed(k->client, o->seed);
	if ((r = embed_watches_init(k, err)) < 0)
		goto fail;
	if (o->event_log_path && (r = event_log_start(k, o->event_log_path, err)) < 0)
		goto fail;
	if ((o->roles & KORCH_ROLE_CONTROLLERS) && (r = start_controllers(k, err)) < 0)
		goto fail;
	if ((o->roles & KORCH_ROLE_SCHEDULER) && (r = start_scheduler(k, o, err)) < 0)
		goto fail;
	if ((o->roles & KORCH_ROLE_NODE) && (r = start_node(k, o, err)) < 0)
		goto fail;
	if (o->run_mode == KORCH_RUN_THREAD) {
		if ((r = korch_client_open_state(state_path, NULL, &k->caller_client, err)) < 0 ||
		    (r = embed_thread_start(k, err)) < 0)
			goto fail;
	}
	*ret = k;
	return 0;
fail:
	korch_close(k);
	return r;
}

KORCH_EXPORT void
korch_close(korch *k)
{
	if (!k)
		return;
	embed_thread_stop(k);
	embed_watches_fini(k);
	node_agent_free(k->agent);
	node_backend_free(k->backend);
	scheduler_free(k->sched);
	controller_manager_free(k->cm);
	store_watch_free(k->event_watch);
	if (k->event_log)
		fclose(k->event_log);
	korch_client_free(k->caller_client);
	korch_client_free(k->pub);
	client_free(k->client);
	store_close(k->store);
	korch_loop_free(k->loop);
	korch_clock_free(k->clock);
	free(k->data_dir);
	free(k);
}
