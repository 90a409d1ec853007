/*
 * backend-real.c - the node agent's real runtime: containers run by korch-monitor (over a
 * loop-driven connection, so that nothing the agent asks blocks its loop), root filesystems from
 * the image store's unpacked layers, sandboxes as pinned namespaces (sandbox.c), the machine
 * read from /proc. Every container's labels live in RUNDIR/node/containers/ID.json beside the
 * monitor's own state, so that an agent that restarted lists and adopts what runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <korch/version.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/strv.h"
#include "base/util.h"
#include "node/backend-real.h"
#include "node/monitor-conn.h"
#include "node/sandbox.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/image.h"
#include "runtime/monitor-client.h"

#define EXEC_OUTPUT_MAX 1024
#define IMAGE_CACHE_NS (2 * NSEC_PER_SEC)

struct cached_image {
	struct image *img; /* from the image store */
	int64_t at_ns;     /* CLOCK_MONOTONIC when resolved */
};

struct real_backend {
	korch_loop *loop;               /* everything runs here */
	char *run_dir;                  /* RUNDIR */
	char *labels_dir;               /* RUNDIR/node/containers */
	char *data_dir;                 /* ephemeral storage is measured here */
	char *monitor_path;             /* or NULL */
	struct image_store *images;     /* DATA/images */
	struct mconn *conn;             /* to korch-monitor */
	struct hashmap ctrs;            /* id -> struct backend_container: what the monitor runs */
	struct hashmap image_cache;     /* ref -> struct cached_image */
	backend_exit_fn exit_fn;        /* the agent's */
	void *exit_userdata;            /* for exit_fn */
	struct loop_source *reconnect;  /* after the monitor went away */
	char *instance;                 /* korch-INSTANCE */
	char *cgroup_parent;            /* or NULL */
	struct cgroup_manager *cgroups; /* pods' cgroups (the monitor makes the containers') */
	int devnull;                    /* stdin of execs */
};

/* One request in flight. */
struct call {
	struct real_backend *b;    /* owner */
	char *id;                  /* the container */
	json_t *labels;            /* create: what to cache with it */
	backend_done_fn done;      /* create, start, remove */
	backend_exec_fn exec_done; /* exec */
	void *userdata;            /* for the callback */
	int out_fd;                /* exec: our end of its output pipe */
};

static int64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void
call_free(struct call *c)
{
	if (!c)
		return;
	free(c->id);
	json_decref(c->labels);
	if (c->out_fd >= 0)
		close(c->out_fd);
	free(c);
}

static struct call *
call_new(struct real_backend *b, const char *id)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c || (id && !(c->id = strdup(id)))) {
		free(c);
		return NULL;
	}
	c->b = b;
	c->out_fd = -1;
	return c;
}

/* --- container states --- */

static int64_t
time_of(const json_t *state, const char *key)
{
	int64_t t = 0;
	const char *s = json_string_value(json_object_get(state, key));
	if (s && parse_rfc3339(s, &t) < 0)
		t = 0;
	return t;
}

/* A monitor state object as a backend container (labels copied). */
static int
from_state(const json_t *state, const json_t *labels, struct backend_container **ret)
{
	struct backend_container *c = calloc(1, sizeof(*c));
	if (!c)
		return KORCH_ENOMEM;
	const char *status = json_string_value(json_object_get(state, "status"));
	c->state = streq(status, "running")  ? BACKEND_RUNNING
		   : streq(status, "exited") ? BACKEND_EXITED
		   : status                  ? BACKEND_CREATED
					     : BACKEND_UNKNOWN;
	c->pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
	c->exit_code = (int)json_integer_value(json_object_get(state, "exitCode"));
	c->signal = (int)json_integer_value(json_object_get(state, "signal"));
	c->oom_killed = json_is_true(json_object_get(state, "oomKilled"));
	c->created_ns = time_of(state, "createdAt");
	c->started_ns = time_of(state, "startedAt");
	c->finished_ns = time_of(state, "finishedAt");
	const char *id = json_string_value(json_object_get(state, "id"));
	const char *reason = json_string_value(json_object_get(state, "reason"));
	const char *message = json_string_value(json_object_get(state, "message"));
	const char *log = json_string_value(json_object_get(state, "logPath"));
	const char *sandbox = backend_label(labels, LABEL_POD_UID);
	if (!id || !(c->id = strdup(id)) || (reason && !(c->reason = strdup(reason))) ||
	    (message && !(c->message = strdup(message))) || (log && !(c->log_path = strdup(log))) ||
	    (sandbox && !(c->sandbox_id = strdup(sandbox))) ||
	    !(c->labels = labels ? json_deep_copy(labels) : json_object())) {
		backend_container_free(c);
		return KORCH_ENOMEM;
	}
	*ret = c;
	return 0;
}

/* Records what the monitor said about a container; returns the cached entry. */
static struct backend_container *
remember(struct real_backend *b, const json_t *state, const json_t *labels)
{
	const char *id = json_string_value(json_object_get(state, "id"));
	struct backend_container *old = id ? hashmap_get(&b->ctrs, id) : NULL;
	if (!labels && old)
		labels = old->labels;
	if (!labels)
		return NULL; /* not one of the agent's */
	struct backend_container *c = NULL;
	if (from_state(state, labels, &c) < 0)
		return old;
	if (hashmap_put(&b->ctrs, c->id, c, (void **)&old) < 0) {
		backend_container_free(c);
		return NULL;
	}
	backend_container_free(old);
	return c;
}

static char *
labels_path(struct real_backend *b, const char *id)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s.json", b->labels_dir, id) < 0)
		return NULL;
	return s;
}

static void
forget(struct real_backend *b, const char *id)
{
	backend_container_free(hashmap_remove(&b->ctrs, id));
	_cleanup_free_ char *p = labels_path(b, id);
	if (p)
		unlink(p);
}

/* Lists what the monitor runs (blocking, at start and after a reconnect) into the cache. */
static int
list_all(struct real_backend *b, bool report_exits, korch_error **err)
{
	struct monitor_client_options mo = { .run_dir = b->run_dir,
					     .monitor_path = b->monitor_path };
	struct monitor_client *mc = NULL;
	int r = monitor_client_connect(&mo, &mc, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *list = NULL;
	r = monitor_client_list(mc, &list, err);
	monitor_client_free(mc);
	if (r < 0)
		return r;
	size_t i;
	json_t *st;
	json_array_foreach (list, i, st) {
		const char *id = json_string_value(json_object_get(st, "id"));
		if (!id)
			continue;
		_cleanup_free_ char *lp = labels_path(b, id);
		_cleanup_json_ json_t *labels = lp ? json_load_file(lp, 0, NULL) : NULL;
		if (!labels)
			continue; /* not the agent's (korchctl run, another client) */
		struct backend_container *before = hashmap_get(&b->ctrs, id);
		bool was_running = before && before->state != BACKEND_EXITED;
		struct backend_container *now = remember(b, st, labels);
		if (report_exits && was_running && now && now->state == BACKEND_EXITED &&
		    b->exit_fn)
			b->exit_fn(b->exit_userdata, now);
	}
	return 0;
}

/* --- the connection --- */

static void reconnect_later(struct real_backend *b);

static void
on_event(void *userdata, json_t *ev)
{
	struct real_backend *b = userdata;
	if (!ev) {
		log_warn("node", "korch-monitor went away; reconnecting");
		reconnect_later(b);
		return;
	}
	if (!streq(json_string_value(json_object_get(ev, "event")), "exit"))
		return;
	struct backend_container *c = remember(b, json_object_get(ev, "container"), NULL);
	if (c && b->exit_fn)
		b->exit_fn(b->exit_userdata, c);
}

static void
on_reconnect(struct loop_source *src, void *userdata)
{
	struct real_backend *b = userdata;
	_cleanup_error_ korch_error *err = NULL;
	mconn_free(b->conn);
	b->conn = NULL;
	if (mconn_open(b->loop, b->run_dir, b->monitor_path, on_event, b, &b->conn, &err) < 0 ||
	    list_all(b, true, &err) < 0) {
		log_warn("node", "reconnect to korch-monitor: %s", korch_error_message(err));
		reconnect_later(b);
	}
}

static void
reconnect_later(struct real_backend *b)
{
	loop_timer_set(b->reconnect, korch_clock_now_ns(korch_loop_clock(b->loop)) + NSEC_PER_SEC);
}

static int
call(struct real_backend *b, json_t *req, const int *fds, size_t n, mconn_reply_fn fn,
     struct call *c, korch_error **err)
{
	if (!mconn_up(b->conn))
		return error_set(err, KORCH_ESYSTEM, "korch-monitor is not reachable");
	return mconn_call(b->conn, req, fds, n, fn, c, err);
}

/* --- sandboxes --- */

static void
pod_cgroup_name(const char *uid, char buf[static 64])
{
	snprintf(buf, 64, "pod%.50s", uid);
}

/*
 * The pod's cgroup with its limits (the sum of its containers' when every one has them, as the
 * kubelet sets them); the monitor puts each container's cgroup below it.
 */
static int
pod_cgroup(struct real_backend *b, const struct backend_sandbox_config *cfg, korch_error **err)
{
	char name[64];
	pod_cgroup_name(cfg->pod_uid, name);
	struct cgroup_limits limits = {
		.memory_bytes = cfg->resources.memory_limit_bytes,
		.cpu_shares = cfg->resources.cpu_shares,
		.cpu_quota_us = cfg->resources.cpu_quota_us,
		.cpu_period_us = cfg->resources.cpu_period_us,
	};
	struct cgroup *cg = NULL;
	if (cgroup_open(b->cgroups, NULL, name, &cg, NULL) == 0) {
		cgroup_free(cg);
		return 0;
	}
	int r = cgroup_create(b->cgroups, NULL, name, &limits, &cg, err);
	if (r < 0)
		return korch_error_prefix(err, r, "pod cgroup %s", name);
	cgroup_free(cg);
	return 0;
}

static int
real_sandbox_create(void *data, const struct backend_sandbox_config *cfg,
		    struct backend_sandbox **ret, korch_error **err)
{
	struct real_backend *b = data;
	if (!sandbox_exists(b->run_dir, cfg->pod_uid)) {
		struct sandbox_config sc = {
			.id = cfg->pod_uid,
			.hostname = cfg->hostname,
			.host_network = cfg->host_network,
			.host_ipc = cfg->host_ipc,
			.host_pid = cfg->host_pid,
			.share_pid = cfg->share_pid,
			.labels = cfg->labels,
		};
		int r = sandbox_create(b->run_dir, &sc, err);
		if (r < 0)
			return r;
	}
	int r = pod_cgroup(b, cfg, err);
	if (r < 0) {
		sandbox_remove(b->run_dir, cfg->pod_uid, NULL);
		return r;
	}
	struct backend_sandbox *s = calloc(1, sizeof(*s));
	if (!s || !(s->id = strdup(cfg->pod_uid)) ||
	    !(s->labels = cfg->labels ? json_deep_copy(cfg->labels) : json_object()) ||
	    (!cfg->host_network &&
	     !(s->netns_path = sandbox_ns_path(b->run_dir, cfg->pod_uid, SANDBOX_NET)))) {
		backend_sandbox_free(s);
		return error_oom(err);
	}
	s->ready = true;
	*ret = s;
	return 0;
}

static int
real_sandbox_remove(void *data, const char *id, korch_error **err)
{
	struct real_backend *b = data;
	char name[64];
	pod_cgroup_name(id, name);
	struct cgroup *cg = NULL;
	if (cgroup_open(b->cgroups, NULL, name, &cg, NULL) == 0) {
		/* Kills whatever is left (a container the monitor lost), removes what is below. */
		int r = cgroup_destroy(cg, err);
		cgroup_free(cg);
		if (r < 0)
			return korch_error_prefix(err, r, "pod cgroup %s", name);
	}
	return sandbox_remove(b->run_dir, id, err);
}

/* Pod cgroups left without a sandbox directory (an agent that died half-way). */
static void
add_cgroup_only(struct real_backend *b, char ***ids)
{
	const char *dir = cgroup_manager_parent_dir(b->cgroups, "memory");
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *uid = startswith(de->d_name, "pod");
		if (!uid || de->d_type != DT_DIR || !*uid)
			continue;
		bool known = false;
		for (char **i = *ids; i && *i && !known; i++)
			known = streq(*i, uid);
		if (!known)
			strv_push(ids, uid);
	}
	closedir(d);
}

static int
real_sandbox_list(void *data, struct backend_sandbox ***ret, size_t *ret_n, korch_error **err)
{
	struct real_backend *b = data;
	_cleanup_strv_ char **ids = NULL;
	int r = sandbox_list(b->run_dir, &ids, err);
	if (r < 0)
		return r;
	add_cgroup_only(b, &ids);
	size_t n = strv_length(ids);
	struct backend_sandbox **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		json_t *labels = NULL;
		sandbox_labels(b->run_dir, ids[i], &labels);
		_cleanup_free_ char *net = sandbox_ns_path(b->run_dir, ids[i], SANDBOX_NET);
		struct backend_sandbox *s = v[i] = calloc(1, sizeof(*s));
		if (!s || !(s->id = strdup(ids[i])) || !net) {
			json_decref(labels);
			backend_sandbox_list_free(v, i + 1);
			return error_oom(err);
		}
		s->labels = labels ? labels : json_object();
		if (access(net, F_OK) == 0)
			s->netns_path = steal_pointer(&net);
		s->ready = true;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int
real_sandbox_socket(void *data, const char *id, int domain, int type, int *ret_fd,
		    korch_error **err)
{
	struct real_backend *b = data;
	int saved = -1;
	int r = sandbox_enter_net(b->run_dir, id, &saved, err);
	if (r < 0)
		return r;
	int fd = socket(domain, type | SOCK_CLOEXEC, 0);
	int e = errno;
	if (sandbox_leave_net(saved) < 0) {
		/* Stuck in the pod's namespace would be worse than anything: say it loudly. */
		log_error("node", "cannot return to the agent's network namespace");
	}
	if (fd < 0)
		return error_errno(err, e, "socket in the network namespace of %s", id);
	*ret_fd = fd;
	return 0;
}

/* --- images --- */

static const struct image *
lookup_image(struct real_backend *b, const char *ref, korch_error **err)
{
	struct cached_image *ci = hashmap_get(&b->image_cache, ref);
	int64_t now = mono_ns();
	if (ci && now - ci->at_ns < IMAGE_CACHE_NS)
		return ci->img;
	struct image *img = NULL;
	if (image_store_lookup(b->images, ref, &img, err) < 0)
		return NULL;
	if (!ci) {
		if (!(ci = calloc(1, sizeof(*ci))) ||
		    hashmap_put(&b->image_cache, ref, ci, NULL) < 0) {
			free(ci);
			image_free(img);
			error_oom(err);
			return NULL;
		}
	}
	image_free(ci->img);
	ci->img = img;
	ci->at_ns = now;
	return img;
}

/* "docker.io/library/busybox@sha256:MANIFEST", as the kubelet's imageID. */
static char *
repo_digest(const struct image *img)
{
	char *s = NULL;
	if (!img->name)
		return strdup(img->id);
	const char *slash = strrchr(img->name, '/');
	const char *at = strchr(img->name, '@');
	const char *colon = strrchr(slash ? slash : img->name, ':');
	size_t repo = at      ? (size_t)(at - img->name)
		      : colon ? (size_t)(colon - img->name)
			      : strlen(img->name);
	if (asprintf(&s, "%.*s@%s", (int)repo, img->name, img->manifest) < 0)
		return NULL;
	return s;
}

static int
real_image_resolve(void *data, const char *ref, struct backend_image **ret, korch_error **err)
{
	struct real_backend *b = data;
	const struct image *img = lookup_image(b, ref, err);
	if (!img)
		return err && *err ? korch_error_code(*err) : KORCH_ENOTFOUND;
	struct backend_image *out = calloc(1, sizeof(*out));
	if (!out)
		return error_oom(err);
	const json_t *cfg = img->config;
	const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
	const char *user = json_string_value(json_object_get(cfg, "User"));
	const char *stop = json_string_value(json_object_get(cfg, "StopSignal"));
	out->id = strdup(img->id);
	out->name = img->name ? strdup(img->name) : NULL;
	out->image_id = repo_digest(img);
	if (!out->id || (img->name && !out->name) || !out->image_id ||
	    strv_from_json(json_object_get(cfg, "Entrypoint"), &out->entrypoint) == KORCH_ENOMEM ||
	    strv_from_json(json_object_get(cfg, "Cmd"), &out->cmd) == KORCH_ENOMEM ||
	    strv_from_json(json_object_get(cfg, "Env"), &out->env) == KORCH_ENOMEM ||
	    (wd && *wd && !(out->working_dir = strdup(wd))) ||
	    (user && *user && !(out->user = strdup(user)))) {
		backend_image_free(out);
		return error_oom(err);
	}
	if (stop && *stop)
		out->stop_signal = MAX(signal_from_name(stop), 0);
	*ret = out;
	return 0;
}

/* --- containers --- */

static json_t *
strv_json(char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static const char *
ns_value(struct real_backend *b, const char *sandbox, enum sandbox_ns ns, bool host, char **buf)
{
	if (host)
		return "host";
	*buf = sandbox_ns_path(b->run_dir, sandbox, ns);
	return *buf ? *buf : "new";
}

/* The monitor's spec for a container (container.h: container_spec_parse). */
static json_t *
build_spec(struct real_backend *b, const char *id, const struct backend_container_config *cfg,
	   const struct image *img)
{
	json_t *spec = json_object();
	json_object_set_new(spec, "id", json_string(id));
	json_t *layers = json_array();
	for (size_t i = 0; i < img->n_layers; i++)
		json_array_append_new(layers, json_string(img->layer_dirs[i]));
	json_object_set_new(spec, "rootfs", json_pack("{s:o}", "layers", layers));
	json_t *proc = json_object();
	json_object_set_new(proc, "args", strv_json(cfg->argv));
	json_object_set_new(proc, "env", strv_json(cfg->env));
	json_object_set_new(proc, "cwd", json_string(cfg->working_dir ? cfg->working_dir : "/"));
	if (cfg->user)
		json_object_set_new(proc, "user", json_string(cfg->user));
	if (cfg->supplemental_groups)
		json_object_set_new(proc, "additionalGroups", strv_json(cfg->supplemental_groups));
	json_object_set_new(spec, "process", proc);
	json_object_set_new(spec, "readOnlyRootFilesystem", json_boolean(cfg->read_only_rootfs));
	json_object_set_new(spec, "privileged", json_boolean(cfg->privileged));
	_cleanup_free_ char *net = NULL, *ipc = NULL, *uts = NULL;
	bool hostnet = !sandbox_exists(b->run_dir, cfg->sandbox_id);
	_cleanup_free_ char *netpath = sandbox_ns_path(b->run_dir, cfg->sandbox_id, SANDBOX_NET);
	_cleanup_free_ char *ipcpath = sandbox_ns_path(b->run_dir, cfg->sandbox_id, SANDBOX_IPC);

	bool host_net = hostnet || !netpath || access(netpath, F_OK) < 0;
	bool host_ipc = hostnet || !ipcpath || access(ipcpath, F_OK) < 0;
	/* shareProcessNamespace: join a running container of the pod, or be the first. */
	char pidns[64] = "new";
	if (sandbox_host_pid(b->run_dir, cfg->sandbox_id)) {
		snprintf(pidns, sizeof(pidns), "host");
	} else if (sandbox_shares_pid(b->run_dir, cfg->sandbox_id)) {
		size_t iter = 0;
		const char *cid;
		struct backend_container *other;
		while (hashmap_next(&b->ctrs, &iter, &cid, (void **)&other))
			if (other->state == BACKEND_RUNNING && other->pid > 0 &&
			    streq(other->sandbox_id, cfg->sandbox_id)) {
				snprintf(pidns, sizeof(pidns), "/proc/%d/ns/pid", (int)other->pid);
				break;
			}
	}
	json_t *ns = json_object();
	json_object_set_new(ns, "net",
			    json_string(ns_value(b, cfg->sandbox_id, SANDBOX_NET, host_net, &net)));
	json_object_set_new(ns, "uts",
			    json_string(ns_value(b, cfg->sandbox_id, SANDBOX_UTS, host_net, &uts)));
	json_object_set_new(ns, "ipc",
			    json_string(ns_value(b, cfg->sandbox_id, SANDBOX_IPC, host_ipc, &ipc)));
	json_object_set_new(ns, "pid", json_string(pidns));
	json_object_set_new(spec, "namespaces", ns);
	json_t *mounts = json_array();
	for (size_t i = 0; i < cfg->n_mounts; i++)
		json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b}", "type", "bind",
							"source", cfg->mounts[i].host_path,
							"target", cfg->mounts[i].container_path,
							"readOnly", cfg->mounts[i].read_only));
	json_object_set_new(spec, "mounts", mounts);
	if (cfg->etc_hosts)
		json_object_set_new(spec, "etcHosts", json_string(cfg->etc_hosts));
	if (cfg->etc_hostname && !host_net)
		json_object_set_new(spec, "etcHostname", json_string(cfg->etc_hostname));
	if (cfg->etc_resolv_conf)
		json_object_set_new(spec, "etcResolvConf", json_string(cfg->etc_resolv_conf));
	if (cfg->log_path)
		json_object_set_new(spec, "log", json_pack("{s:s}", "path", cfg->log_path));
	if (cfg->stop_signal > 0)
		json_object_set_new(spec, "stopSignal", json_integer(cfg->stop_signal));
	json_t *res = json_object();
	if (cfg->resources.memory_limit_bytes > 0)
		json_object_set_new(res, "memoryBytes",
				    json_integer(cfg->resources.memory_limit_bytes));
	if (cfg->resources.cpu_shares > 0)
		json_object_set_new(res, "cpuShares",
				    json_integer((json_int_t)cfg->resources.cpu_shares));
	if (cfg->resources.cpu_quota_us > 0) {
		json_object_set_new(res, "cpuQuotaUs", json_integer(cfg->resources.cpu_quota_us));
		json_object_set_new(res, "cpuPeriodUs",
				    json_integer((json_int_t)(cfg->resources.cpu_period_us
								      ? cfg->resources.cpu_period_us
								      : 100000)));
	}
	json_object_set_new(spec, "resources", res);
	char pod[64];
	pod_cgroup_name(cfg->sandbox_id, pod);
	json_t *cg = json_pack("{s:s, s:s}", "instance", b->instance, "pod", pod);
	if (b->cgroup_parent)
		json_object_set_new(cg, "parent", json_string(b->cgroup_parent));
	json_object_set_new(spec, "cgroup", cg);
	json_t *sc = json_object();
	if (cfg->cap_add || cfg->cap_drop) {
		json_t *caps = json_object();
		if (cfg->cap_add)
			json_object_set_new(caps, "add", strv_json(cfg->cap_add));
		if (cfg->cap_drop)
			json_object_set_new(caps, "drop", strv_json(cfg->cap_drop));
		json_object_set_new(sc, "capabilities", caps);
	}
	if (cfg->allow_privilege_escalation >= 0)
		json_object_set_new(sc, "allowPrivilegeEscalation",
				    json_boolean(cfg->allow_privilege_escalation == 1));
	if (cfg->seccomp) {
		json_t *prof = json_pack("{s:s}", "type", cfg->seccomp);
		if (cfg->seccomp_localhost)
			json_object_set_new(prof, "localhostProfile",
					    json_string(cfg->seccomp_localhost));
		json_object_set_new(sc, "seccompProfile", prof);
	}
	json_object_set_new(spec, "securityContext", sc);
	return spec;
}

static void
on_created(void *userdata, int r, const korch_error *err, json_t *reply)
{
	struct call *c = userdata;
	struct real_backend *b = c->b;
	const struct backend_container *st = NULL;
	if (r == 0 && !(st = remember(b, json_object_get(reply, "container"), c->labels)))
		r = KORCH_ENOMEM;
	if (r < 0) {
		_cleanup_free_ char *lp = labels_path(b, c->id);
		if (lp)
			unlink(lp);
	}
	if (c->done)
		c->done(c->userdata, r, err, st);
	call_free(c);
}

static int
new_id(const struct backend_container_config *cfg, char buf[static 160])
{
	uint8_t rnd[4];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -errno;
	const char *uid = cfg->sandbox_id;
	snprintf(buf, 160, "%.36s-%.63s-%u-%02x%02x%02x%02x", uid, cfg->name, cfg->attempt, rnd[0],
		 rnd[1], rnd[2], rnd[3]);
	return 0;
}

static int
real_container_create(void *data, const struct backend_container_config *cfg, backend_done_fn done,
		      void *userdata, korch_error **err)
{
	struct real_backend *b = data;
	const struct image *img = lookup_image(b, cfg->image_ref, err);
	if (!img)
		return err && *err ? korch_error_code(*err) : KORCH_ENOTFOUND;
	char id[160];
	int r = new_id(cfg, id);
	if (r < 0)
		return error_errno(err, r, "getrandom");
	/* The image it runs, so that image garbage collection keeps it. */
	_cleanup_json_ json_t *labels = json_copy(cfg->labels);
	if (!labels || json_object_set_new(labels, LABEL_IMAGE_DIGEST, json_string(img->id)) < 0)
		return error_oom(err);
	_cleanup_free_ char *lp = labels_path(b, id);
	_cleanup_free_ char *text = json_dumps(labels, JSON_COMPACT);
	if (!lp || !text)
		return error_oom(err);
	if ((r = write_file_replace(lp, text, strlen(text), 0600, err)) < 0)
		return r;
	_cleanup_json_ json_t *spec = build_spec(b, id, cfg, img);
	_cleanup_json_ json_t *req = json_pack("{s:s, s:O}", "op", "create", "spec", spec);
	struct call *c = call_new(b, id);
	if (!req || !c || !(c->labels = json_deep_copy(labels))) {
		call_free(c);
		unlink(lp);
		return error_oom(err);
	}
	c->done = done;
	c->userdata = userdata;
	if ((r = call(b, req, NULL, 0, on_created, c, err)) < 0) {
		call_free(c);
		unlink(lp);
		return r;
	}
	return 0;
}

static void
on_started(void *userdata, int r, const korch_error *err, json_t *reply)
{
	struct call *c = userdata;
	const struct backend_container *st = NULL;
	if (r == 0 && !(st = remember(c->b, json_object_get(reply, "container"), NULL)))
		r = KORCH_ENOMEM;
	if (c->done)
		c->done(c->userdata, r, err, st);
	call_free(c);
}

static int
real_container_start(void *data, const char *id, backend_done_fn done, void *userdata,
		     korch_error **err)
{
	struct real_backend *b = data;
	_cleanup_json_ json_t *req = json_pack("{s:s, s:s}", "op", "start", "container", id);
	struct call *c = call_new(b, id);
	if (!req || !c) {
		call_free(c);
		return error_oom(err);
	}
	c->done = done;
	c->userdata = userdata;
	int r = call(b, req, NULL, 0, on_started, c, err);
	if (r < 0)
		call_free(c);
	return r;
}

static void
on_killed(void *userdata, int r, const korch_error *err, json_t *reply)
{
	struct call *c = userdata;
	if (r < 0 && r != KORCH_ECANCELED)
		log_warn("node", "kill container %s: %s", c->id,
			 err ? korch_error_message(err) : "");
	call_free(c);
}

static int
real_container_kill(void *data, const char *id, int signo, korch_error **err)
{
	struct real_backend *b = data;
	_cleanup_json_ json_t *req =
		json_pack("{s:s, s:s, s:i}", "op", "kill", "container", id, "signal", signo);
	struct call *c = call_new(b, id);
	if (!req || !c) {
		call_free(c);
		return error_oom(err);
	}
	int r = call(b, req, NULL, 0, on_killed, c, err);
	if (r < 0)
		call_free(c);
	return r;
}

static void
on_removed(void *userdata, int r, const korch_error *err, json_t *reply)
{
	struct call *c = userdata;
	/* A container the monitor no longer knows is removed all the same. */
	if (r == 0 || r == KORCH_ENOTFOUND) {
		forget(c->b, c->id);
		r = 0;
	}
	if (c->done)
		c->done(c->userdata, r, err, NULL);
	call_free(c);
}

static int
real_container_remove(void *data, const char *id, backend_done_fn done, void *userdata,
		      korch_error **err)
{
	struct real_backend *b = data;
	_cleanup_json_ json_t *req =
		json_pack("{s:s, s:s, s:i}", "op", "delete", "container", id, "gracePeriodMs", 0);
	struct call *c = call_new(b, id);
	if (!req || !c) {
		call_free(c);
		return error_oom(err);
	}
	c->done = done;
	c->userdata = userdata;
	int r = call(b, req, NULL, 0, on_removed, c, err);
	if (r < 0)
		call_free(c);
	return r;
}

static int
real_container_list(void *data, struct backend_container ***ret, size_t *ret_n, korch_error **err)
{
	struct real_backend *b = data;
	struct backend_container **v = calloc(b->ctrs.n + 1, sizeof(*v));
	if (!v)
		return error_oom(err);
	size_t n = 0, iter = 0;
	const char *id;
	struct backend_container *c;
	while (hashmap_next(&b->ctrs, &iter, &id, (void **)&c))
		if (backend_container_copy(c, &v[n++]) < 0) {
			backend_container_list_free(v, n - 1);
			return error_oom(err);
		}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void
on_exec(void *userdata, int r, const korch_error *err, json_t *reply)
{
	struct call *c = userdata;
	struct backend_exec_result res = { .exit_code = -1 };
	char buf[EXEC_OUTPUT_MAX + 1];
	if (r == 0) {
		res.exit_code = (int)json_integer_value(json_object_get(reply, "exitCode"));
		ssize_t n = c->out_fd >= 0 ? read(c->out_fd, buf, EXEC_OUTPUT_MAX) : -1;
		if (n > 0) {
			buf[n] = '\0';
			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
				buf[--n] = '\0';
			res.output = buf;
		}
	}
	if (c->exec_done)
		c->exec_done(c->userdata, r, err, r == 0 ? &res : NULL);
	call_free(c);
}

static int
real_exec(void *data, const char *id, char *const *argv, int64_t timeout_ns, backend_exec_fn done,
	  void *userdata, korch_error **err)
{
	struct real_backend *b = data;
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_errno(err, errno, "pipe");
	_cleanup_close_ int wr = p[1];
	struct call *c = call_new(b, id);
	_cleanup_json_ json_t *req = json_pack("{s:s, s:s, s:{s:o}}", "op", "exec", "container", id,
					       "process", "args", strv_json(argv));
	if (!c || !req) {
		close(p[0]);
		call_free(c);
		return error_oom(err);
	}
	c->out_fd = p[0];
	c->exec_done = done;
	c->userdata = userdata;
	int fds[3] = { b->devnull, wr, wr };
	int r = call(b, req, fds, 3, on_exec, c, err);
	if (r < 0)
		call_free(c);
	return r;
}

static int
read_stats(struct real_backend *b, const struct cgroup *parent, const char *name,
	   struct backend_stats *ret, korch_error **err)
{
	struct cgroup *cg = NULL;
	int r = cgroup_open(b->cgroups, parent, name, &cg, err);
	if (r < 0)
		return r;
	struct cgroup_stats st;
	r = cgroup_read_stats(cg, &st, err);
	cgroup_free(cg);
	if (r < 0)
		return r;
	*ret = (struct backend_stats){
		.cpu_usage_ns = st.cpu_usage_ns,
		.memory_working_set_bytes = st.memory_working_set_bytes,
		.memory_usage_bytes = st.memory_usage_bytes,
	};
	return 0;
}

static int
real_container_stats(void *data, const char *id, struct backend_stats *ret, korch_error **err)
{
	struct real_backend *b = data;
	const struct backend_container *c = hashmap_get(&b->ctrs, id);
	if (!c || !c->sandbox_id)
		return error_set(err, KORCH_ENOTFOUND, "container %s not found", id);
	char name[64];
	pod_cgroup_name(c->sandbox_id, name);
	struct cgroup *pod = NULL;
	int r = cgroup_open(b->cgroups, NULL, name, &pod, err);
	if (r < 0)
		return r;
	r = read_stats(b, pod, id, ret, err);
	cgroup_free(pod);
	return r;
}

static int
real_sandbox_stats(void *data, const char *id, struct backend_stats *ret, korch_error **err)
{
	struct real_backend *b = data;
	char name[64];
	pod_cgroup_name(id, name);
	return read_stats(b, NULL, name, ret, err);
}

static void
cached_image_free(void *p)
{
	struct cached_image *ci = p;
	image_free(ci->img);
	free(ci);
}

static bool
image_in_use(const char *id, void *userdata)
{
	struct real_backend *b = userdata;
	size_t iter = 0;
	const char *cid;
	struct backend_container *c;
	while (hashmap_next(&b->ctrs, &iter, &cid, (void **)&c))
		if (streq(backend_label(c->labels, LABEL_IMAGE_DIGEST), id))
			return true;
	return false;
}

static int
real_image_gc(void *data, uint64_t *ret_bytes, korch_error **err)
{
	struct real_backend *b = data;
	struct image_gc_stats st = { 0 };
	int r = image_store_gc(b->images, IMAGE_GC_PRUNE_UNUSED, image_in_use, b, &st, err);
	if (r < 0)
		return r;
	/* What was resolved before may be gone now. */
	hashmap_free(&b->image_cache, cached_image_free);
	b->image_cache = (struct hashmap)HASHMAP_INIT;
	if (ret_bytes)
		*ret_bytes = st.bytes_freed;
	return 0;
}

/* --- the machine --- */

static int64_t
meminfo(const char *data, const char *key)
{
	const char *p = strstr(data, key);
	if (!p)
		return 0;
	return strtoll(p + strlen(key), NULL, 10) * 1024;
}

static void
read_line(const char *path, char *buf, size_t size)
{
	char *data = NULL;
	size_t len = 0;
	buf[0] = '\0';
	if (read_file(path, 4096, &data, &len, NULL) < 0)
		return;
	snprintf(buf, size, "%s", data);
	buf[strcspn(buf, "\n")] = '\0';
	free(data);
}

static int
real_node_info(void *data, struct backend_node_info *ret, korch_error **err)
{
	struct real_backend *b = data;
	struct backend_node_info info = { 0 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	info.cpu_milli = (cpus > 0 ? cpus : 1) * 1000;
	char *mem = NULL;
	size_t len = 0;
	int r = read_file("/proc/meminfo", 1 << 16, &mem, &len, err);
	if (r < 0)
		return korch_error_prefix(err, r, "read /proc/meminfo");
	info.memory_bytes = meminfo(mem, "MemTotal:");
	info.memory_available_bytes = meminfo(mem, "MemAvailable:");
	free(mem);
	struct statvfs vfs;
	if (statvfs(b->data_dir, &vfs) == 0) {
		info.ephemeral_storage_bytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
		info.ephemeral_available_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
	}
	char pid_max[32];
	read_line("/proc/sys/kernel/pid_max", pid_max, sizeof(pid_max));
	info.pids_max = atoll(pid_max);
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(info.kernel_version, sizeof(info.kernel_version), "%.127s", u.release);
		const char *arch = streq(u.machine, "x86_64")    ? "amd64"
				   : streq(u.machine, "aarch64") ? "arm64"
								 : u.machine;
		snprintf(info.architecture, sizeof(info.architecture), "%.31s", arch);
	}
	char *os = NULL;
	if (read_file("/etc/os-release", 1 << 16, &os, &len, NULL) == 0) {
		const char *p = strstr(os, "PRETTY_NAME=");
		if (p) {
			p += strlen("PRETTY_NAME=");
			bool quoted = *p == '"';
			snprintf(info.os_image, sizeof(info.os_image), "%s", p + quoted);
			info.os_image[strcspn(info.os_image, quoted ? "\"" : "\n")] = '\0';
		}
		free(os);
	}
	if (!info.os_image[0])
		snprintf(info.os_image, sizeof(info.os_image), "Linux");
	read_line("/etc/machine-id", info.machine_id, sizeof(info.machine_id));
	read_line("/proc/sys/kernel/random/boot_id", info.boot_id, sizeof(info.boot_id));
	snprintf(info.runtime_version, sizeof(info.runtime_version), "korch://%s", korch_version());
	*ret = info;
	return 0;
}

static bool
real_healthy(void *data)
{
	struct real_backend *b = data;
	return mconn_up(b->conn);
}

static void
real_set_exit_handler(void *data, backend_exit_fn fn, void *userdata)
{
	struct real_backend *b = data;
	b->exit_fn = fn;
	b->exit_userdata = userdata;
}

static void
real_free(void *data)
{
	struct real_backend *b = data;
	if (!b)
		return;
	mconn_free(b->conn);
	loop_source_free(b->reconnect);
	hashmap_free(&b->ctrs, (void (*)(void *))backend_container_free);
	hashmap_free(&b->image_cache, cached_image_free);
	image_store_free(b->images);
	cgroup_manager_free(b->cgroups);
	free(b->instance);
	free(b->cgroup_parent);
	if (b->devnull >= 0)
		close(b->devnull);
	free(b->run_dir);
	free(b->labels_dir);
	free(b->data_dir);
	free(b->monitor_path);
	free(b);
}

static const struct node_backend_ops real_ops = {
	.name = "korch",
	.real = true,
	.sandbox_create = real_sandbox_create,
	.sandbox_remove = real_sandbox_remove,
	.sandbox_list = real_sandbox_list,
	.container_create = real_container_create,
	.container_start = real_container_start,
	.container_kill = real_container_kill,
	.container_remove = real_container_remove,
	.container_list = real_container_list,
	.exec = real_exec,
	.container_stats = real_container_stats,
	.sandbox_stats = real_sandbox_stats,
	.image_resolve = real_image_resolve,
	.image_gc = real_image_gc,
	.node_info = real_node_info,
	.sandbox_socket = real_sandbox_socket,
	.probe_result = NULL,
	.healthy = real_healthy,
	.set_exit_handler = real_set_exit_handler,
	.free = real_free,
};

int
real_backend_new(korch_loop *loop, const struct real_backend_options *o, struct node_backend **ret,
		 korch_error **err)
{
	if (!o->run_dir || !o->image_dir || !o->data_dir)
		return error_set(err, KORCH_EINVALID,
				 "real backend: run_dir, image_dir and data_dir are required");
	struct real_backend *b = calloc(1, sizeof(*b));
	struct node_backend *nb = calloc(1, sizeof(*nb));
	if (!b || !nb) {
		free(b);
		free(nb);
		return error_oom(err);
	}
	nb->ops = &real_ops;
	nb->data = b;
	b->loop = loop;
	b->devnull = -1;
	int r = 0;
	if (!(b->run_dir = strdup(o->run_dir)) || !(b->data_dir = strdup(o->data_dir)) ||
	    (o->monitor_path && !(b->monitor_path = strdup(o->monitor_path))) ||
	    asprintf(&b->labels_dir, "%s/node/containers", o->run_dir) < 0) {
		b->labels_dir = NULL;
		r = error_oom(err);
		goto fail;
	}
	if (!(b->instance = strdup(o->instance ? o->instance : "korch")) ||
	    (o->cgroup_parent && !(b->cgroup_parent = strdup(o->cgroup_parent)))) {
		r = error_oom(err);
		goto fail;
	}
	struct cgroup_manager_options cmo = { .instance = b->instance,
					      .parent_path = b->cgroup_parent };
	if ((r = cgroup_manager_open(&cmo, &b->cgroups, err)) < 0) {
		korch_error_prefix(err, r, "cgroups");
		goto fail;
	}
	if ((b->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		r = error_errno(err, errno, "open /dev/null");
		goto fail;
	}
	if ((r = mkdir_p(b->labels_dir, 0700, err)) < 0 ||
	    (r = image_store_open(o->image_dir, &b->images, err)) < 0 ||
	    (r = loop_add_timer(loop, -1, on_reconnect, b, &b->reconnect, err)) < 0)
		goto fail;
	/* Subscribe first, then list: an exit between the two is not missed. */
	if ((r = mconn_open(loop, b->run_dir, b->monitor_path, on_event, b, &b->conn, err)) < 0 ||
	    (r = list_all(b, false, err)) < 0) {
		korch_error_prefix(err, r, "korch-monitor");
		goto fail;
	}
	*ret = nb;
	return 0;
fail:
	node_backend_free(nb);
	return r;
}
