/*
 * backend-sim.c - the simulated runtime: containers as records that change state when the
 * agent or a test says so, completions delivered on the loop, time read from the loop's clock.
 */
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/util.h"
#include "base/vec.h"
#include "node/backend-sim.h"
#include "runtime/monitor-log.h"

enum { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP, PROBE_COUNT };

struct sim_rule {
	char *pattern;         /* fnmatch pattern over "NS/POD/CONTAINER" */
	struct sim_behavior b; /* strings owned */
};

struct sim_ctr {
	struct sim_backend *sim;     /* owner */
	struct backend_container st; /* what list and status report (strings owned) */
	char *key;                   /* "NS/POD/CONTAINER" */
	struct sim_behavior b;       /* taken at create; strings owned */
	int probe[PROBE_COUNT];      /* current probe outcomes */
	int64_t cpu_milli;           /* usage while running */
	int64_t memory_bytes;        /* working set while running */
	uint64_t cpu_base_ns;        /* CPU time used before cpu_since_ns */
	int64_t cpu_since_ns;        /* loop time the current rate applies from; 0 when stopped */
	struct loop_source *timer;   /* behaviour run_ns: exits by itself */
	struct log_writer *log;      /* its log file, opened on first write */
	char **argv;                 /* the config it was created with */
	char **env;                  /* same */
	json_t *mounts;              /* [{"host", "path", "readOnly"}] */
	char *user;                  /* same, or NULL */
	json_t *resources;           /* {"memory", "cpuShares", "cpuQuota", "cpuPeriod"} */
};

struct sim_sandbox {
	char *id;          /* the pod uid */
	json_t *labels;    /* as given */
	bool host_network; /* no network namespace of its own */
};

enum completion_kind { DONE_CONTAINER, DONE_EXEC, DONE_EXIT };

/* Something to report from the loop: an operation's end or an exit event. */
struct completion {
	enum completion_kind kind;         /* which callback */
	backend_done_fn done;              /* DONE_CONTAINER */
	backend_exec_fn exec_done;         /* DONE_EXEC */
	void *userdata;                    /* for the callback */
	int r;                             /* result */
	korch_error *err;                  /* owned, when r < 0 */
	struct backend_container *c;       /* owned copy for DONE_CONTAINER and DONE_EXIT */
	struct backend_exec_result result; /* DONE_EXEC (output owned) */
};

struct sim_backend {
	korch_loop *loop;              /* completions run here */
	korch_clock *clock;            /* the loop's */
	int64_t t0_ns;                 /* loop time at creation: the event log's zero */
	struct hashmap ctrs;           /* id -> struct sim_ctr */
	struct ptrvec order;           /* struct sim_ctr, in creation order (list order) */
	struct hashmap sandboxes;      /* id -> struct sim_sandbox */
	struct ptrvec sandbox_order;   /* struct sim_sandbox, in creation order */
	struct ptrvec rules;           /* struct sim_rule, in the order added */
	struct hashmap missing;        /* image references that do not exist (no values) */
	struct backend_node_info node; /* what node_info reports */
	bool healthy;                  /* the runtime answers */
	pid_t next_pid;                /* fake pids, from 1000 */
	unsigned next_id;              /* container ids sim-000001-NAME... */
	struct strbuf log;             /* the event log */
	struct ptrvec pending;         /* struct completion, FIFO */
	struct loop_source *defer;     /* delivers pending */
	backend_exit_fn exit_fn;       /* the agent's exit handler */
	void *exit_userdata;           /* for exit_fn */
};

static void event(struct sim_backend *sim, const char *fmt, ...) _printf_(2, 3);

static void
event(struct sim_backend *sim, const char *fmt, ...)
{
	int64_t t = korch_clock_now_ns(sim->clock) - sim->t0_ns;
	strbuf_printf(&sim->log, "%lld.%03lld ", (long long)(t / NSEC_PER_SEC),
		      (long long)(t % NSEC_PER_SEC / NSEC_PER_MSEC));
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&sim->log, fmt, ap);
	va_end(ap);
	strbuf_putc(&sim->log, '\n');
}

static int64_t
wall(struct sim_backend *sim)
{
	return korch_clock_wall_ns(sim->clock);
}

static void
behavior_clear(struct sim_behavior *b)
{
	free((char *)b->start_error);
	free((char *)b->exec_output);
	free((char *)b->log_text);
	*b = (struct sim_behavior){ 0 };
}

static int
behavior_copy(const struct sim_behavior *src, struct sim_behavior *dst)
{
	*dst = *src;
	dst->start_error = dst->exec_output = dst->log_text = NULL;
	if ((src->start_error && !(dst->start_error = strdup(src->start_error))) ||
	    (src->exec_output && !(dst->exec_output = strdup(src->exec_output))) ||
	    (src->log_text && !(dst->log_text = strdup(src->log_text)))) {
		behavior_clear(dst);
		return KORCH_ENOMEM;
	}
	return 0;
}

static const struct sim_behavior default_behavior = { 0 };

/* probe_result's answer for a behaviour's outcome: 1 success, 0 failure, -1 for real. */
static int
outcome_of(enum sim_probe p)
{
	return p == SIM_PROBE_FAIL ? 0 : p == SIM_PROBE_REAL ? -1 : 1;
}

static void
completion_free(struct completion *c)
{
	korch_error_free(c->err);
	backend_container_free(c->c);
	free(c->result.output);
	free(c);
}

/* Queues a completion (taking c) and makes sure the loop delivers it. */
static void
queue(struct sim_backend *sim, struct completion *c)
{
	if (ptrvec_push(&sim->pending, c) < 0) {
		/* Without memory the callback cannot be deferred: deliver it now. */
		if (c->kind == DONE_CONTAINER && c->done)
			c->done(c->userdata, KORCH_ENOMEM, NULL, NULL);
		else if (c->kind == DONE_EXEC && c->exec_done)
			c->exec_done(c->userdata, KORCH_ENOMEM, NULL, NULL);
		completion_free(c);
		return;
	}
	loop_defer_enable(sim->defer);
}

static void
deliver(struct loop_source *src, void *userdata)
{
	struct sim_backend *sim = userdata;
	/* Callbacks may queue more: take the batch first, later ones come next dispatch. */
	struct ptrvec batch = sim->pending;
	sim->pending = (struct ptrvec)PTRVEC_INIT;
	for (size_t i = 0; i < batch.n; i++) {
		struct completion *c = batch.items[i];
		switch (c->kind) {
		case DONE_CONTAINER:
			if (c->done)
				c->done(c->userdata, c->r, c->err, c->r < 0 ? NULL : c->c);
			break;
		case DONE_EXEC:
			if (c->exec_done)
				c->exec_done(c->userdata, c->r, c->err,
					     c->r < 0 ? NULL : &c->result);
			break;
		case DONE_EXIT:
			if (sim->exit_fn)
				sim->exit_fn(sim->exit_userdata, c->c);
			break;
		}
		completion_free(c);
	}
	ptrvec_free(&batch, NULL);
}

static void
queue_done(struct sim_backend *sim, backend_done_fn done, void *userdata, int r, korch_error *err,
	   const struct backend_container *state)
{
	struct completion *c = calloc(1, sizeof(*c));
	if (!c) {
		korch_error_free(err);
		if (done)
			done(userdata, KORCH_ENOMEM, NULL, NULL);
		return;
	}
	c->kind = DONE_CONTAINER;
	c->done = done;
	c->userdata = userdata;
	c->r = r;
	c->err = err;
	if (state && backend_container_copy(state, &c->c) < 0) {
		c->r = KORCH_ENOMEM;
		c->err = NULL;
	}
	queue(sim, c);
}

static void
queue_exit_event(struct sim_backend *sim, struct sim_ctr *ct)
{
	struct completion *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->kind = DONE_EXIT;
	if (backend_container_copy(&ct->st, &c->c) < 0) {
		free(c);
		return;
	}
	queue(sim, c);
}

static int
down_error(korch_error **err)
{
	return error_set(err, KORCH_ESYSTEM, "simulated runtime: not reachable");
}

/* --- containers --- */

static void
ctr_free(struct sim_ctr *ct)
{
	if (!ct)
		return;
	loop_source_free(ct->timer);
	log_writer_free(ct->log);
	free(ct->st.id);
	free(ct->st.sandbox_id);
	json_decref(ct->st.labels);
	free(ct->st.reason);
	free(ct->st.message);
	free(ct->st.log_path);
	free(ct->key);
	strv_free(ct->argv);
	strv_free(ct->env);
	json_decref(ct->mounts);
	free(ct->user);
	json_decref(ct->resources);
	behavior_clear(&ct->b);
	free(ct);
}

static uint64_t
cpu_used(struct sim_ctr *ct)
{
	uint64_t used = ct->cpu_base_ns;
	if (ct->cpu_since_ns > 0) {
		int64_t dt = korch_clock_now_ns(ct->sim->clock) - ct->cpu_since_ns;
		if (dt > 0)
			used += (uint64_t)(dt / 1000) * (uint64_t)ct->cpu_milli;
	}
	return used;
}

/* Folds the CPU used so far into the base, so that a new rate applies from now. */
static void
cpu_checkpoint(struct sim_ctr *ct, bool running)
{
	ct->cpu_base_ns = cpu_used(ct);
	ct->cpu_since_ns = running ? korch_clock_now_ns(ct->sim->clock) : 0;
}

static void
set_reason(struct sim_ctr *ct, const char *reason, const char *message)
{
	free(ct->st.reason);
	free(ct->st.message);
	ct->st.reason = reason ? strdup(reason) : NULL;
	ct->st.message = message ? strdup(message) : NULL;
}

/* The container's init ends: record how, tell the agent. */
static void
ctr_exit(struct sim_ctr *ct, int code, int signo, bool oom, const char *reason, const char *message)
{
	struct sim_backend *sim = ct->sim;
	cpu_checkpoint(ct, false);
	loop_timer_set(ct->timer, -1);
	ct->st.state = BACKEND_EXITED;
	ct->st.exit_code = code;
	ct->st.signal = signo;
	ct->st.oom_killed = oom;
	ct->st.pid = 0;
	ct->st.finished_ns = wall(sim);
	if (!reason)
		reason = oom ? "OOMKilled" : code == 0 ? "Completed" : "Error";
	set_reason(ct, reason, message);
	event(sim, "exit %s code %d%s", ct->key, code, oom ? " oom" : "");
	queue_exit_event(sim, ct);
}

static void
on_run_timer(struct loop_source *src, void *userdata)
{
	struct sim_ctr *ct = userdata;
	if (ct->st.state != BACKEND_RUNNING)
		return;
	if (ct->b.oom)
		ctr_exit(ct, 137, SIGKILL, true, NULL, NULL);
	else
		ctr_exit(ct, ct->b.exit_code, 0, false, NULL, NULL);
}

static const struct sim_behavior *
behavior_for(struct sim_backend *sim, const char *key)
{
	for (size_t i = sim->rules.n; i > 0; i--) {
		struct sim_rule *rule = sim->rules.items[i - 1];
		if (fnmatch(rule->pattern, key, 0) == 0)
			return &rule->b;
	}
	return &default_behavior;
}

static int
ctr_write_log(struct sim_ctr *ct, const char *stream, const char *text, korch_error **err)
{
	if (!ct->st.log_path)
		return 0;
	int r;
	if (!ct->log && (r = log_writer_open(ct->st.log_path, 0, 1, &ct->log, err)) < 0)
		return r;
	int64_t now = wall(ct->sim);
	while (*text) {
		size_t len = strcspn(text, "\n");
		if ((r = log_writer_line(ct->log, now, stream, 'F', text, len, err)) < 0)
			return r;
		text += len;
		if (*text == '\n')
			text++;
	}
	return 0;
}

static int
sim_container_create(void *data, const struct backend_container_config *cfg, backend_done_fn done,
		     void *userdata, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	if (!hashmap_contains(&sim->sandboxes, cfg->sandbox_id))
		return error_set(err, KORCH_ENOTFOUND, "sandbox %s not found", cfg->sandbox_id);
	struct sim_ctr *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return error_oom(err);
	ct->sim = sim;
	ct->st.state = BACKEND_CREATED;
	ct->st.created_ns = wall(sim);
	const char *ns = backend_label(cfg->labels, LABEL_POD_NAMESPACE);
	const char *pod = backend_label(cfg->labels, LABEL_POD_NAME);
	if (asprintf(&ct->st.id, "sim-%06u-%s", ++sim->next_id, cfg->name) < 0)
		ct->st.id = NULL;
	if (asprintf(&ct->key, "%s/%s/%s", ns ? ns : "", pod ? pod : "", cfg->name) < 0)
		ct->key = NULL;
	ct->st.sandbox_id = strdup(cfg->sandbox_id);
	ct->st.labels = cfg->labels ? json_deep_copy(cfg->labels) : json_object();
	ct->st.log_path = cfg->log_path ? strdup(cfg->log_path) : NULL;
	if (!ct->st.id || !ct->key || !ct->st.sandbox_id || !ct->st.labels ||
	    (cfg->log_path && !ct->st.log_path) ||
	    behavior_copy(behavior_for(sim, ct->key), &ct->b) < 0 ||
	    loop_add_timer(sim->loop, -1, on_run_timer, ct, &ct->timer, err) < 0 ||
	    ptrvec_push(&sim->order, ct) < 0) {
		ctr_free(ct);
		return error_oom(err);
	}
	if (hashmap_put(&sim->ctrs, ct->st.id, ct, NULL) < 0) {
		sim->order.n--;
		ctr_free(ct);
		return error_oom(err);
	}
	ct->argv = strv_copy(cfg->argv);
	ct->env = strv_copy(cfg->env);
	ct->user = cfg->user ? strdup(cfg->user) : NULL;
	ct->mounts = json_array();
	for (size_t i = 0; i < cfg->n_mounts; i++)
		json_array_append_new(ct->mounts,
				      json_pack("{s:s, s:s, s:b}", "host", cfg->mounts[i].host_path,
						"path", cfg->mounts[i].container_path, "readOnly",
						cfg->mounts[i].read_only));
	ct->resources = json_pack("{s:I, s:I, s:I, s:I}", "memory",
				  (json_int_t)cfg->resources.memory_limit_bytes, "cpuShares",
				  (json_int_t)cfg->resources.cpu_shares, "cpuQuota",
				  (json_int_t)cfg->resources.cpu_quota_us, "cpuPeriod",
				  (json_int_t)cfg->resources.cpu_period_us);
	ct->probe[PROBE_LIVENESS] = outcome_of(ct->b.liveness);
	ct->probe[PROBE_READINESS] = outcome_of(ct->b.readiness);
	ct->probe[PROBE_STARTUP] = outcome_of(ct->b.startup);
	ct->cpu_milli = ct->b.cpu_milli;
	ct->memory_bytes = ct->b.memory_bytes;
	event(sim, "create %s#%u as %s", ct->key, cfg->attempt, ct->st.id);
	queue_done(sim, done, userdata, 0, NULL, &ct->st);
	return 0;
}

static struct sim_ctr *
find(struct sim_backend *sim, const char *id, korch_error **err)
{
	struct sim_ctr *ct = hashmap_get(&sim->ctrs, id);
	if (!ct)
		error_set(err, KORCH_ENOTFOUND, "container %s not found", id);
	return ct;
}

static int
sim_container_start(void *data, const char *id, backend_done_fn done, void *userdata,
		    korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	if (ct->st.state != BACKEND_CREATED)
		return error_set(err, KORCH_EINVALID, "container %s is %s, not created", id,
				 backend_state_name(ct->st.state));
	ct->st.started_ns = wall(sim);
	if (ct->b.start_error) {
		event(sim, "start %s failed", ct->key);
		ctr_exit(ct, 128, 0, false, "StartError", ct->b.start_error);
		queue_done(sim, done, userdata, 0, NULL, &ct->st);
		return 0;
	}
	ct->st.state = BACKEND_RUNNING;
	ct->st.pid = sim->next_pid++;
	cpu_checkpoint(ct, true);
	event(sim, "start %s pid %d", ct->key, (int)ct->st.pid);
	if (ct->b.log_text)
		ctr_write_log(ct, "stdout", ct->b.log_text, NULL);
	if (ct->b.run_ns > 0)
		loop_timer_set(ct->timer, korch_clock_now_ns(sim->clock) + ct->b.run_ns);
	queue_done(sim, done, userdata, 0, NULL, &ct->st);
	return 0;
}

static int
sim_container_kill(void *data, const char *id, int signo, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	if (ct->st.state != BACKEND_RUNNING || signo == 0)
		return 0;
	if (signo == SIGTERM && ct->b.ignore_sigterm) {
		event(sim, "kill %s signal %d ignored", ct->key, signo);
		return 0;
	}
	event(sim, "kill %s signal %d", ct->key, signo);
	ctr_exit(ct, 128 + signo, signo, false, NULL, NULL);
	return 0;
}

static void
ctr_remove(struct sim_backend *sim, struct sim_ctr *ct)
{
	hashmap_remove(&sim->ctrs, ct->st.id);
	for (size_t i = 0; i < sim->order.n; i++)
		if (sim->order.items[i] == ct) {
			ptrvec_remove(&sim->order, i);
			break;
		}
	ctr_free(ct);
}

static int
sim_container_remove(void *data, const char *id, backend_done_fn done, void *userdata,
		     korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct sim_ctr *ct = hashmap_get(&sim->ctrs, id);
	if (!ct) {
		queue_done(sim, done, userdata, 0, NULL, NULL);
		return 0;
	}
	if (ct->st.state == BACKEND_RUNNING) {
		event(sim, "kill %s signal %d", ct->key, SIGKILL);
		ctr_exit(ct, 128 + SIGKILL, SIGKILL, false, NULL, NULL);
	}
	event(sim, "remove %s", ct->key);
	ctr_remove(sim, ct);
	queue_done(sim, done, userdata, 0, NULL, NULL);
	return 0;
}

static int
sim_container_list(void *data, struct backend_container ***ret, size_t *ret_n, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct backend_container **v = calloc(sim->order.n + 1, sizeof(*v));
	if (!v)
		return error_oom(err);
	for (size_t i = 0; i < sim->order.n; i++) {
		struct sim_ctr *ct = sim->order.items[i];
		if (backend_container_copy(&ct->st, &v[i]) < 0) {
			backend_container_list_free(v, i);
			return error_oom(err);
		}
	}
	*ret = v;
	*ret_n = sim->order.n;
	return 0;
}

static int
sim_exec(void *data, const char *id, char *const *argv, int64_t timeout_ns, backend_exec_fn done,
	 void *userdata, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	if (ct->st.state != BACKEND_RUNNING)
		return error_set(err, KORCH_EINVALID, "container %s is not running", id);
	struct completion *c = calloc(1, sizeof(*c));
	if (!c)
		return error_oom(err);
	c->kind = DONE_EXEC;
	c->exec_done = done;
	c->userdata = userdata;
	c->result.exit_code = ct->b.exec_exit_code;
	if (ct->b.exec_output && !(c->result.output = strdup(ct->b.exec_output))) {
		free(c);
		return error_oom(err);
	}
	struct strbuf cmd = STRBUF_INIT;
	for (char *const *a = argv; a && *a; a++)
		strbuf_printf(&cmd, "%s%s", a == argv ? "" : " ", *a);
	event(sim, "exec %s [%s] exit %d", ct->key, strbuf_str(&cmd), ct->b.exec_exit_code);
	strbuf_free(&cmd);
	queue(sim, c);
	return 0;
}

static int
sim_container_stats(void *data, const char *id, struct backend_stats *ret, korch_error **err)
{
	struct sim_backend *sim = data;
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	bool running = ct->st.state == BACKEND_RUNNING;
	*ret = (struct backend_stats){
		.cpu_usage_ns = cpu_used(ct),
		.memory_working_set_bytes = running ? (uint64_t)ct->memory_bytes : 0,
		.memory_usage_bytes = running ? (uint64_t)ct->memory_bytes : 0,
	};
	return 0;
}

static int
sim_sandbox_stats(void *data, const char *id, struct backend_stats *ret, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!hashmap_contains(&sim->sandboxes, id))
		return error_set(err, KORCH_ENOTFOUND, "sandbox %s not found", id);
	struct backend_stats sum = { 0 };
	for (size_t i = 0; i < sim->order.n; i++) {
		struct sim_ctr *ct = sim->order.items[i];
		if (!streq(ct->st.sandbox_id, id))
			continue;
		struct backend_stats s;
		sim_container_stats(sim, ct->st.id, &s, NULL);
		sum.cpu_usage_ns += s.cpu_usage_ns;
		sum.memory_working_set_bytes += s.memory_working_set_bytes;
		sum.memory_usage_bytes += s.memory_usage_bytes;
	}
	*ret = sum;
	return 0;
}

/* --- sandboxes --- */

static void
sandbox_free(struct sim_sandbox *sb)
{
	if (!sb)
		return;
	free(sb->id);
	json_decref(sb->labels);
	free(sb);
}

static int
sandbox_view(const struct sim_sandbox *sb, struct backend_sandbox **ret)
{
	struct backend_sandbox *v = calloc(1, sizeof(*v));
	char path[sizeof(SIM_NETNS_DIR) + 64];
	snprintf(path, sizeof(path), SIM_NETNS_DIR "/%s", sb->id);
	if (!v || !(v->id = strdup(sb->id)) || !(v->labels = json_deep_copy(sb->labels)) ||
	    (!sb->host_network && !(v->netns_path = strdup(path)))) {
		backend_sandbox_free(v);
		return KORCH_ENOMEM;
	}
	v->ready = true;
	*ret = v;
	return 0;
}

static int
sim_sandbox_create(void *data, const struct backend_sandbox_config *cfg,
		   struct backend_sandbox **ret, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct sim_sandbox *sb = hashmap_get(&sim->sandboxes, cfg->pod_uid);
	if (sb)
		return sandbox_view(sb, ret) < 0 ? error_oom(err) : 0;
	sb = calloc(1, sizeof(*sb));
	if (!sb || !(sb->id = strdup(cfg->pod_uid)) ||
	    !(sb->labels = cfg->labels ? json_deep_copy(cfg->labels) : json_object()) ||
	    ptrvec_push(&sim->sandbox_order, sb) < 0) {
		sandbox_free(sb);
		return error_oom(err);
	}
	sb->host_network = cfg->host_network;
	if (hashmap_put(&sim->sandboxes, sb->id, sb, NULL) < 0) {
		sim->sandbox_order.n--;
		sandbox_free(sb);
		return error_oom(err);
	}
	event(sim, "sandbox %s/%s", cfg->pod_namespace, cfg->pod_name);
	return sandbox_view(sb, ret) < 0 ? error_oom(err) : 0;
}

static int
sim_sandbox_remove(void *data, const char *id, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	struct sim_sandbox *sb = hashmap_remove(&sim->sandboxes, id);
	if (!sb)
		return 0;
	for (size_t i = 0; i < sim->sandbox_order.n; i++)
		if (sim->sandbox_order.items[i] == sb) {
			ptrvec_remove(&sim->sandbox_order, i);
			break;
		}
	event(sim, "sandbox-remove %s/%s", backend_label(sb->labels, LABEL_POD_NAMESPACE) ?: "",
	      backend_label(sb->labels, LABEL_POD_NAME) ?: id);
	sandbox_free(sb);
	return 0;
}

static int
sim_sandbox_list(void *data, struct backend_sandbox ***ret, size_t *ret_n, korch_error **err)
{
	struct sim_backend *sim = data;
	if (!sim->healthy)
		return down_error(err);
	size_t n = sim->sandbox_order.n;
	struct backend_sandbox **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return error_oom(err);
	for (size_t i = 0; i < n; i++)
		if (sandbox_view(sim->sandbox_order.items[i], &v[i]) < 0) {
			backend_sandbox_list_free(v, i);
			return error_oom(err);
		}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* --- images, node --- */

static int
sim_image_resolve(void *data, const char *ref, struct backend_image **ret, korch_error **err)
{
	struct sim_backend *sim = data;
	if (hashmap_contains(&sim->missing, ref))
		return error_set(
			err, KORCH_ENOTFOUND,
			"image \"%s\" not found in the local store; load it with: korchctl "
			"image load FILE",
			ref);
	struct backend_image *img = calloc(1, sizeof(*img));
	if (!img)
		return error_oom(err);
	/* A made-up digest that depends on the name only: the same in every run. */
	uint32_t h = hash_string(ref, strlen(ref));
	if (asprintf(&img->id, "sha256:%08x%056x", h, 0) < 0)
		img->id = NULL;
	img->name = strdup(ref);
	if (asprintf(&img->image_id, "%s@sha256:%08x%056x", ref, h ^ 0x5a5a5a5aU, 0) < 0)
		img->image_id = NULL;
	/* A simulated image runs a shell, as busybox's would. */
	if (strv_push(&img->cmd, "sh") < 0 || !img->id || !img->name || !img->image_id) {
		backend_image_free(img);
		return error_oom(err);
	}
	*ret = img;
	return 0;
}

static int
sim_image_gc(void *data, uint64_t *ret_bytes, korch_error **err)
{
	struct sim_backend *sim = data;
	event(sim, "image-gc");
	if (ret_bytes)
		*ret_bytes = 0;
	return 0;
}

static int
sim_node_info(void *data, struct backend_node_info *ret, korch_error **err)
{
	struct sim_backend *sim = data;
	*ret = sim->node;
	return 0;
}

static int
sim_probe_result(void *data, const char *id, const char *probe)
{
	struct sim_backend *sim = data;
	struct sim_ctr *ct = hashmap_get(&sim->ctrs, id);
	if (!ct)
		return 0;
	if (streq(probe, "liveness"))
		return ct->probe[PROBE_LIVENESS];
	if (streq(probe, "readiness"))
		return ct->probe[PROBE_READINESS];
	return ct->probe[PROBE_STARTUP];
}

static bool
sim_healthy(void *data)
{
	struct sim_backend *sim = data;
	return sim->healthy;
}

static void
sim_set_exit_handler(void *data, backend_exit_fn fn, void *userdata)
{
	struct sim_backend *sim = data;
	sim->exit_fn = fn;
	sim->exit_userdata = userdata;
}

static void
rule_free(void *p)
{
	struct sim_rule *rule = p;
	free(rule->pattern);
	behavior_clear(&rule->b);
	free(rule);
}

static void
sim_free(void *data)
{
	struct sim_backend *sim = data;
	if (!sim)
		return;
	/* Operations in flight end as canceled; exit events are dropped. */
	for (size_t i = 0; i < sim->pending.n; i++) {
		struct completion *c = sim->pending.items[i];
		if (c->kind == DONE_CONTAINER && c->done)
			c->done(c->userdata, KORCH_ECANCELED, NULL, NULL);
		else if (c->kind == DONE_EXEC && c->exec_done)
			c->exec_done(c->userdata, KORCH_ECANCELED, NULL, NULL);
		completion_free(c);
	}
	ptrvec_free(&sim->pending, NULL);
	loop_source_free(sim->defer);
	ptrvec_free(&sim->order, (void (*)(void *))ctr_free);
	hashmap_free(&sim->ctrs, NULL);
	ptrvec_free(&sim->sandbox_order, (void (*)(void *))sandbox_free);
	hashmap_free(&sim->sandboxes, NULL);
	ptrvec_free(&sim->rules, rule_free);
	hashmap_free(&sim->missing, NULL);
	strbuf_free(&sim->log);
	free(sim);
}

static const struct node_backend_ops sim_ops = {
	.name = "sim",
	.real = false,
	.sandbox_create = sim_sandbox_create,
	.sandbox_remove = sim_sandbox_remove,
	.sandbox_list = sim_sandbox_list,
	.container_create = sim_container_create,
	.container_start = sim_container_start,
	.container_kill = sim_container_kill,
	.container_remove = sim_container_remove,
	.container_list = sim_container_list,
	.exec = sim_exec,
	.container_stats = sim_container_stats,
	.sandbox_stats = sim_sandbox_stats,
	.image_resolve = sim_image_resolve,
	.image_gc = sim_image_gc,
	.node_info = sim_node_info,
	.sandbox_socket = NULL,
	.probe_result = sim_probe_result,
	.healthy = sim_healthy,
	.set_exit_handler = sim_set_exit_handler,
	.free = sim_free,
};

int
sim_backend_new(korch_loop *loop, struct node_backend **ret, struct sim_backend **ret_sim,
		korch_error **err)
{
	struct sim_backend *sim = calloc(1, sizeof(*sim));
	struct node_backend *b = calloc(1, sizeof(*b));
	if (!sim || !b) {
		free(sim);
		free(b);
		return error_oom(err);
	}
	sim->loop = loop;
	sim->clock = korch_loop_clock(loop);
	sim->t0_ns = korch_clock_now_ns(sim->clock);
	sim->healthy = true;
	sim->next_pid = 1000;
	sim->node = (struct backend_node_info){
		.cpu_milli = 4000,
		.memory_bytes = 16LL << 30,
		.memory_available_bytes = 8LL << 30,
		.ephemeral_storage_bytes = 100LL << 30,
		.ephemeral_available_bytes = 50LL << 30,
		.pids_max = 4194304,
		.kernel_version = "6.1.0-sim",
		.os_image = "korch simulated node",
		.architecture = "amd64",
		.machine_id = "0123456789abcdef0123456789abcdef",
		.boot_id = "00000000-0000-4000-8000-000000000001",
		.runtime_version = "sim://0.1.0",
	};
	int r = loop_add_defer(loop, deliver, sim, &sim->defer, err);
	if (r < 0) {
		free(sim);
		free(b);
		return r;
	}
	b->ops = &sim_ops;
	b->data = sim;
	*ret = b;
	*ret_sim = sim;
	return 0;
}

/* --- the test API --- */

json_t *
sim_container_config(struct sim_backend *sim, const char *id)
{
	struct sim_ctr *ct = hashmap_get(&sim->ctrs, id);
	if (!ct)
		return NULL;
	json_t *argv = json_array(), *env = json_array();
	for (char **a = ct->argv; a && *a; a++)
		json_array_append_new(argv, json_string(*a));
	for (char **e = ct->env; e && *e; e++)
		json_array_append_new(env, json_string(*e));
	json_t *o = json_pack("{s:o, s:o, s:O, s:O}", "argv", argv, "env", env, "mounts",
			      ct->mounts, "resources", ct->resources);
	if (o && ct->user)
		json_object_set_new(o, "user", json_string(ct->user));
	return o;
}

int
sim_set_behavior(struct sim_backend *sim, const char *pattern, const struct sim_behavior *b,
		 korch_error **err)
{
	struct sim_rule *rule = calloc(1, sizeof(*rule));
	if (!rule || !(rule->pattern = strdup(pattern)) || behavior_copy(b, &rule->b) < 0 ||
	    ptrvec_push(&sim->rules, rule) < 0) {
		if (rule) {
			free(rule->pattern);
			behavior_clear(&rule->b);
		}
		free(rule);
		return error_oom(err);
	}
	return 0;
}

void
sim_clear_behaviors(struct sim_backend *sim)
{
	ptrvec_free(&sim->rules, rule_free);
	sim->rules = (struct ptrvec)PTRVEC_INIT;
}

const char *
sim_container_find(struct sim_backend *sim, const char *ns, const char *pod, const char *container)
{
	for (size_t i = sim->order.n; i > 0; i--) {
		struct sim_ctr *ct = sim->order.items[i - 1];
		if (streq(backend_label(ct->st.labels, LABEL_POD_NAMESPACE), ns) &&
		    streq(backend_label(ct->st.labels, LABEL_POD_NAME), pod) &&
		    streq(backend_label(ct->st.labels, LABEL_CONTAINER_NAME), container))
			return ct->st.id;
	}
	return NULL;
}

const struct backend_container *
sim_container_get(struct sim_backend *sim, const char *id)
{
	struct sim_ctr *ct = hashmap_get(&sim->ctrs, id);
	return ct ? &ct->st : NULL;
}

static struct sim_ctr *
find_running(struct sim_backend *sim, const char *id, korch_error **err)
{
	struct sim_ctr *ct = find(sim, id, err);
	if (ct && ct->st.state != BACKEND_RUNNING) {
		error_set(err, KORCH_EINVALID, "container %s is %s, not running", id,
			  backend_state_name(ct->st.state));
		return NULL;
	}
	return ct;
}

int
sim_container_exit(struct sim_backend *sim, const char *id, int exit_code, korch_error **err)
{
	struct sim_ctr *ct = find_running(sim, id, err);
	if (!ct)
		return hashmap_contains(&sim->ctrs, id) ? KORCH_EINVALID : KORCH_ENOTFOUND;
	ctr_exit(ct, exit_code, 0, false, NULL, NULL);
	return 0;
}

int
sim_container_oom(struct sim_backend *sim, const char *id, korch_error **err)
{
	struct sim_ctr *ct = find_running(sim, id, err);
	if (!ct)
		return hashmap_contains(&sim->ctrs, id) ? KORCH_EINVALID : KORCH_ENOTFOUND;
	ctr_exit(ct, 137, SIGKILL, true, NULL, NULL);
	return 0;
}

int
sim_container_write_log(struct sim_backend *sim, const char *id, const char *stream,
			const char *text, korch_error **err)
{
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	return ctr_write_log(ct, stream, text, err);
}

int
sim_container_set_probe(struct sim_backend *sim, const char *id, const char *probe,
			enum sim_probe outcome, korch_error **err)
{
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	if (streq(probe, "liveness"))
		ct->probe[PROBE_LIVENESS] = outcome_of(outcome);
	else if (streq(probe, "readiness"))
		ct->probe[PROBE_READINESS] = outcome_of(outcome);
	else if (streq(probe, "startup"))
		ct->probe[PROBE_STARTUP] = outcome_of(outcome);
	else
		return error_set(err, KORCH_EINVALID,
				 "probe \"%s\": must be liveness, readiness or startup", probe);
	return 0;
}

int
sim_container_set_usage(struct sim_backend *sim, const char *id, int64_t cpu_milli,
			int64_t memory_bytes, korch_error **err)
{
	struct sim_ctr *ct = find(sim, id, err);
	if (!ct)
		return KORCH_ENOTFOUND;
	cpu_checkpoint(ct, ct->st.state == BACKEND_RUNNING);
	ct->cpu_milli = cpu_milli;
	ct->memory_bytes = memory_bytes;
	return 0;
}

int
sim_image_set_missing(struct sim_backend *sim, const char *ref, bool missing, korch_error **err)
{
	if (!missing) {
		hashmap_remove(&sim->missing, ref);
		return 0;
	}
	if (hashmap_put(&sim->missing, ref, (void *)1, NULL) < 0)
		return error_oom(err);
	return 0;
}

void
sim_set_node_info(struct sim_backend *sim, const struct backend_node_info *info)
{
	sim->node = *info;
}

void
sim_set_healthy(struct sim_backend *sim, bool healthy)
{
	if (sim->healthy != healthy)
		event(sim, "runtime %s", healthy ? "up" : "down");
	sim->healthy = healthy;
}

size_t
sim_count(struct sim_backend *sim, enum backend_state state)
{
	size_t n = 0;
	for (size_t i = 0; i < sim->order.n; i++)
		if (((struct sim_ctr *)sim->order.items[i])->st.state == state)
			n++;
	return n;
}

size_t
sim_sandbox_count(struct sim_backend *sim)
{
	return sim->sandbox_order.n;
}

const char *
sim_event_log(struct sim_backend *sim)
{
	return strbuf_str(&sim->log);
}

void
sim_event_log_clear(struct sim_backend *sim)
{
	strbuf_truncate(&sim->log, 0);
}
