/*
 * agent.c - the node agent's frame: options, informers, the table of pods and the queue that
 * syncs them, backend exit events, adoption after a restart, housekeeping and the periodic
 * timers (lease, eviction, stats).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include "api/kinds.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strv.h"
#include "base/util.h"
#include "node/node-internal.h"

#define DEFAULT_EVICTION_BYTES (100LL << 20) /* memory.available<100Mi */

int64_t
agent_now(const struct node_agent *a)
{
	return korch_clock_now_ns(a->clock);
}

int64_t
agent_wall(const struct node_agent *a)
{
	return korch_clock_wall_ns(a->clock);
}

const char *
pod_desc(const struct apod *p, char buf[static 256])
{
	snprintf(buf, 256, "%s_%s(%s)", p->name, p->ns, p->uid);
	return buf;
}

const char *
node_agent_node_name(const struct node_agent *a)
{
	return a->node_name;
}

struct apod *
agent_pod(struct node_agent *a, const char *uid)
{
	return uid ? hashmap_get(&a->pods_by_uid, uid) : NULL;
}

void
agent_queue(struct node_agent *a, const char *uid)
{
	workqueue_add(a->queue, uid);
}

void
agent_queue_namespace(struct node_agent *a, const char *ns)
{
	size_t iter = 0;
	const char *uid;
	struct apod *p;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&p))
		if (!ns || streq(p->ns, ns))
			workqueue_add(a->queue, uid);
}

void
agent_forget_pod(struct node_agent *a, struct apod *p)
{
	if (p->freeing)
		return;
	hashmap_remove(&a->pods_by_uid, p->uid);
	stats_forget_pod(a->stats, p->uid);
	p->freeing = true;
	if (p->inflight == 0)
		pod_free(p);
}

static const char *
meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* --- pods from the informer --- */

static void
on_pod_timer(struct loop_source *src, void *userdata)
{
	struct apod *p = userdata;
	p->wake_ns = -1;
	agent_queue(p->agent, p->uid);
}

static struct apod *
pod_new(struct node_agent *a, const json_t *obj)
{
	const char *uid = meta_str(obj, "uid");
	const char *ns = meta_str(obj, "namespace");
	const char *name = meta_str(obj, "name");
	if (!uid || !ns || !name)
		return NULL;
	struct apod *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->agent = a;
	p->wake_ns = -1;
	p->deletion_grace_s = -1;
	p->first_seen_ns = agent_now(a);
	if (!(p->uid = strdup(uid)) || !(p->ns = strdup(ns)) || !(p->name = strdup(name)) ||
	    loop_add_timer(a->loop, -1, on_pod_timer, p, &p->timer, NULL) < 0 ||
	    hashmap_put(&a->pods_by_uid, uid, p, NULL) < 0) {
		pod_free(p);
		return NULL;
	}
	return p;
}

/* Takes what the backend ran for this uid before the agent (re)started. */
static void
adopt_for(struct node_agent *a, struct apod *p)
{
	struct ptrvec *v = hashmap_remove(&a->adopt, p->uid);
	struct backend_sandbox *sb = hashmap_remove(&a->adopt_sandboxes, p->uid);
	if (v || sb)
		pod_adopt(p, v, sb);
	if (v) {
		ptrvec_free(v, NULL);
		free(v);
	}
}

static void
pod_seen(struct node_agent *a, const json_t *obj)
{
	const char *uid = meta_str(obj, "uid");
	struct apod *p = agent_pod(a, uid);
	bool fresh = false;
	if (!p) {
		if (!(p = pod_new(a, obj))) {
			log_error("node", "node %s: no memory for pod %s", a->node_name,
				  uid ? uid : "?");
			return;
		}
		fresh = true;
	}
	_cleanup_error_ korch_error *err = NULL;
	if (pod_set_object(p, obj, &err) < 0)
		log_error("node", "node %s: pod %s/%s: %s", a->node_name, p->ns, p->name,
			  korch_error_message(err));
	/* The spec is decoded: what runs for the pod can be matched to its containers. */
	if (fresh)
		adopt_for(a, p);
	agent_queue(a, p->uid);
}

/* Whether an update changes what the agent acts on (not just the status it wrote). */
static bool
pod_changed(const json_t *old, const json_t *obj)
{
	const json_t *om = json_object_get(old, "metadata");
	const json_t *nm = json_object_get(obj, "metadata");
	static const char *const keys[] = {
		"uid",    "generation", "deletionTimestamp", "deletionGracePeriodSeconds",
		"labels", "annotations"
	};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const json_t *a = json_object_get(om, keys[i]), *b = json_object_get(nm, keys[i]);
		if ((a == NULL) != (b == NULL) || (a && !json_equal((json_t *)a, (json_t *)b)))
			return true;
	}
	/* A new image, deadline or grace (pods have no generation to say so). */
	_cleanup_free_ char *ko = podspec_mutable_key(old), *kn = podspec_mutable_key(obj);
	if (!streq_null(ko, kn))
		return true;
	/* A phase someone else set (the eviction API) is news too. */
	return !json_equal(json_object_get(json_object_get(old, "status"), "phase"),
			   json_object_get(json_object_get(obj, "status"), "phase"));
}

static void
on_pod_add(const json_t *obj, void *userdata)
{
	pod_seen(userdata, obj);
}

static void
on_pod_update(const json_t *old, const json_t *obj, void *userdata)
{
	struct node_agent *a = userdata;
	const char *uid = meta_str(obj, "uid");
	if (!streq(meta_str(old, "uid"), uid)) {
		/* The name was reused by a new pod: the old one is gone. */
		struct apod *gone = agent_pod(a, meta_str(old, "uid"));
		if (gone) {
			gone->gone = true;
			agent_queue(a, gone->uid);
		}
		pod_seen(a, obj);
		return;
	}
	struct apod *p = agent_pod(a, uid);
	if (!p || pod_changed(old, obj)) {
		pod_seen(a, obj);
		return;
	}
	/* Only the status changed (most likely our own write): keep the object current. */
	pod_set_object(p, obj, NULL);
}

static void
on_pod_delete(const json_t *obj, void *userdata)
{
	struct node_agent *a = userdata;
	struct apod *p = agent_pod(a, meta_str(obj, "uid"));
	if (!p)
		return;
	p->gone = true;
	json_decref(p->obj);
	p->obj = NULL;
	agent_queue(a, p->uid);
}

/* ConfigMaps, Secrets, PVCs: the pods of their namespace may wait for them or mount them. */
static void
on_ns_object(const json_t *obj, void *userdata)
{
	struct node_agent *a = userdata;
	agent_queue_namespace(a, meta_str(obj, "namespace"));
}

static void
on_ns_object_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_ns_object(obj, userdata);
}

/* A PersistentVolume changed: any namespace's claim may be bound to it. */
static void
on_pv(const json_t *obj, void *userdata)
{
	agent_queue_namespace(userdata, NULL);
}

static void
on_pv_update(const json_t *old, const json_t *obj, void *userdata)
{
	on_pv(obj, userdata);
}

static int
sync_key(const char *uid, void *userdata)
{
	struct node_agent *a = userdata;
	struct apod *p = agent_pod(a, uid);
	if (!p)
		return 0;
	return pod_sync(p);
}

/* --- backend events --- */

static void
on_backend_exit(void *userdata, const struct backend_container *c)
{
	struct node_agent *a = userdata;
	struct apod *p = agent_pod(a, backend_label(c->labels, LABEL_POD_UID));
	if (p)
		pod_container_exited(p, c);
}

/* Groups what the backend runs by pod uid, for the pods to take as they appear. */
static int
list_for_adoption(struct node_agent *a, korch_error **err)
{
	struct backend_container **cs = NULL;
	size_t n = 0;
	int r = a->backend->ops->container_list(a->backend->data, &cs, &n, err);
	if (r < 0)
		return korch_error_prefix(err, r, "list containers");
	for (size_t i = 0; i < n; i++) {
		const char *uid = backend_label(cs[i]->labels, LABEL_POD_UID);
		if (!uid) {
			backend_container_free(cs[i]);
			continue;
		}
		struct ptrvec *v = hashmap_get(&a->adopt, uid);
		if (!v &&
		    (!(v = calloc(1, sizeof(*v))) || hashmap_put(&a->adopt, uid, v, NULL) < 0)) {
			free(v);
			backend_container_list_free(cs + i, n - i);
			return error_oom(err);
		}
		if (ptrvec_push(v, cs[i]) < 0) {
			backend_container_list_free(cs + i, n - i);
			return error_oom(err);
		}
	}
	free(cs);
	struct backend_sandbox **sbs = NULL;
	if ((r = a->backend->ops->sandbox_list(a->backend->data, &sbs, &n, err)) < 0)
		return korch_error_prefix(err, r, "list sandboxes");
	for (size_t i = 0; i < n; i++) {
		struct backend_sandbox *old = NULL;
		if (hashmap_put(&a->adopt_sandboxes, sbs[i]->id, sbs[i], (void **)&old) < 0) {
			backend_sandbox_list_free(sbs + i, n - i);
			return error_oom(err);
		}
		backend_sandbox_free(old);
	}
	free(sbs);
	return 0;
}

/* --- housekeeping --- */

static void
removed_orphan(void *userdata, int r, const korch_error *err, const struct backend_container *c)
{
	char *id = userdata;
	if (r < 0 && r != KORCH_ECANCELED)
		log_warn("node", "remove orphaned container %s: %s", id,
			 err ? korch_error_message(err) : "");
	free(id);
}

static bool
uid_known(struct node_agent *a, const char *uid)
{
	return uid && hashmap_contains(&a->pods_by_uid, uid);
}

/* Kills and removes containers of pods the agent does not know. */
static void
sweep_containers(struct node_agent *a)
{
	/* What was listed for adoption and never claimed belongs to no pod any more. */
	size_t iter = 0;
	const char *uid;
	struct ptrvec *v;
	while (hashmap_next(&a->adopt, &iter, &uid, (void **)&v)) {
		for (size_t i = 0; i < v->n; i++)
			backend_container_free(v->items[i]);
		ptrvec_free(v, NULL);
		free(v);
	}
	hashmap_free(&a->adopt, NULL);
	a->adopt = (struct hashmap)HASHMAP_INIT;
	struct backend_container **cs = NULL;
	size_t n = 0;
	if (a->backend->ops->container_list(a->backend->data, &cs, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *cuid = backend_label(cs[i]->labels, LABEL_POD_UID);
		struct apod *p = agent_pod(a, cuid);
		bool keep = false;
		if (p)
			for (size_t k = 0; k < p->n_ctrs && !keep; k++)
				keep = (p->ctrs[k].cur && streq(p->ctrs[k].cur->id, cs[i]->id)) ||
				       (p->ctrs[k].prev && streq(p->ctrs[k].prev->id, cs[i]->id));
		/* A container being created is not in the pod's records yet. */
		if (p && !keep)
			for (size_t k = 0; k < p->n_ctrs && !keep; k++)
				keep = p->ctrs[k].op == OP_CREATE;
		if (!keep) {
			log_debug("node", "node %s: remove orphaned container %s", a->node_name,
				  cs[i]->id);
			char *id = strdup(cs[i]->id);
			if (id && a->backend->ops->container_remove(a->backend->data, cs[i]->id,
								    removed_orphan, id, NULL) < 0)
				free(id);
		}
	}
	backend_container_list_free(cs, n);
}

static void
sweep_sandboxes(struct node_agent *a)
{
	size_t iter = 0;
	const char *uid;
	struct backend_sandbox *sb;
	while (hashmap_next(&a->adopt_sandboxes, &iter, &uid, (void **)&sb))
		backend_sandbox_free(sb);
	hashmap_free(&a->adopt_sandboxes, NULL);
	a->adopt_sandboxes = (struct hashmap)HASHMAP_INIT;
	struct backend_sandbox **sbs = NULL;
	size_t n = 0;
	if (a->backend->ops->sandbox_list(a->backend->data, &sbs, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		/* A known pod's sandbox is the pod's to remove (when it ends or goes). */
		if (agent_pod(a, sbs[i]->id))
			continue;
		_cleanup_error_ korch_error *err = NULL;
		if (a->network && sbs[i]->netns_path)
			a->network->teardown(a->network_data, sbs[i]->id, sbs[i]->netns_path, NULL);
		if (a->backend->ops->sandbox_remove(a->backend->data, sbs[i]->id, &err) < 0)
			log_warn("node", "remove orphaned sandbox %s: %s", sbs[i]->id,
				 korch_error_message(err));
	}
	backend_sandbox_list_free(sbs, n);
}

/* Pod directories and log directories of pods the agent does not know. */
static void
sweep_files(struct node_agent *a)
{
	_cleanup_free_ char *pods = NULL;
	if (asprintf(&pods, "%s/pods", a->root_dir) < 0)
		return;
	DIR *d = opendir(pods);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && !uid_known(a, de->d_name)) {
				_cleanup_error_ korch_error *err = NULL;
				if (volumes_teardown(a, de->d_name, &err) < 0)
					log_warn("node", "remove pod directory %s: %s", de->d_name,
						 korch_error_message(err));
			}
		closedir(d);
	}
	/* LOGS/NS_NAME_UID: the uid is what follows the last '_'. */
	if ((d = opendir(a->log_dir))) {
		struct dirent *de;
		while ((de = readdir(d))) {
			const char *us = strrchr(de->d_name, '_');
			if (de->d_name[0] == '.' || !us || uid_known(a, us + 1))
				continue;
			_cleanup_free_ char *path = NULL;
			if (asprintf(&path, "%s/%s", a->log_dir, de->d_name) >= 0)
				rm_rf(path, NULL);
		}
		closedir(d);
	}
}

void
node_agent_housekeeping(struct node_agent *a)
{
	if (!a->synced)
		return;
	sweep_containers(a);
	sweep_sandboxes(a);
	sweep_files(a);
	a->first_housekeeping_done = true;
}

static void
on_housekeeping(struct loop_source *src, void *userdata)
{
	struct node_agent *a = userdata;
	node_agent_housekeeping(a);
	loop_timer_set(src, agent_now(a) + a->housekeeping_interval_ns);
}

/* Runs once the pods' initial list is in: the first sweep of orphans, at once. */
static void
on_synced_check(struct loop_source *src, void *userdata)
{
	struct node_agent *a = userdata;
	if (!informer_synced(a->pods)) {
		loop_defer_enable(src);
		return;
	}
	if (!a->synced) {
		a->synced = true;
		/* Pods first (adoption claims what is theirs), then the sweep takes the rest. */
		loop_defer_enable(src);
		return;
	}
	if (!a->first_housekeeping_done)
		node_agent_housekeeping(a);
}

static void
on_lease(struct loop_source *src, void *userdata)
{
	struct node_agent *a = userdata;
	_cleanup_error_ korch_error *err = NULL;
	if (node_lease_renew(a, &err) < 0)
		log_warn("node", "node %s: renew lease: %s", a->node_name,
			 korch_error_message(err));
	loop_timer_set(src, agent_now(a) + a->lease_renew_interval_ns);
}

static void
on_eviction(struct loop_source *src, void *userdata)
{
	struct node_agent *a = userdata;
	node_agent_check_eviction(a);
	loop_timer_set(src, agent_now(a) + a->eviction_interval_ns);
}

void
node_agent_check_eviction(struct node_agent *a)
{
	eviction_check(a);
	_cleanup_error_ korch_error *err = NULL;
	if (node_status_update(a, &err) < 0)
		log_warn("node", "node %s: status: %s", a->node_name, korch_error_message(err));
}

static void
on_stats(struct loop_source *src, void *userdata)
{
	struct node_agent *a = userdata;
	stats_sample(a);
	loop_timer_set(src, agent_now(a) + a->stats_interval_ns);
}

/* --- lifecycle --- */

/*
 * The node's InternalIP when none was given: the IPv4 address of the interface the default
 * route leaves by (/proc/net/route), as the kubelet picks it. NULL when there is none.
 */
char *
node_default_route_address(void)
{
	FILE *f = fopen("/proc/net/route", "re");
	if (!f)
		return NULL;
	char line[512], iface[IF_NAMESIZE + 1] = "";
	unsigned long dest, mask;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", name, &dest, &mask) == 3 &&
		    dest == 0 && mask == 0) {
			snprintf(iface, sizeof(iface), "%.*s", IF_NAMESIZE, name);
			break;
		}
	}
	fclose(f);
	if (!iface[0])
		return NULL;
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs) < 0)
		return NULL;
	char *ip = NULL;
	for (struct ifaddrs *i = ifs; i && !ip; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !streq(i->ifa_name, iface))
			continue;
		char buf[INET_ADDRSTRLEN];
		if (inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
			      sizeof(buf)))
			ip = strdup(buf);
	}
	freeifaddrs(ifs);
	return ip;
}

static int
dup_opt(const char *s, char **ret, korch_error **err)
{
	*ret = NULL;
	if (s && !(*ret = strdup(s)))
		return error_oom(err);
	return 0;
}

int
node_agent_new(const struct node_agent_options *o, struct node_agent **ret, korch_error **err)
{
	if (!o->node_name || !*o->node_name)
		return error_set(err, KORCH_EINVALID, "node agent: node_name is required");
	if (!o->client || !o->backend)
		return error_set(err, KORCH_EINVALID,
				 "node agent: client and backend are required");
	if (!o->root_dir || !o->log_dir)
		return error_set(err, KORCH_EINVALID,
				 "node agent: root_dir and log_dir are required");
	korch_loop *loop = store_loop(client_store(o->client));
	if (!loop)
		return error_set(err, KORCH_EINVALID,
				 "node agent: the client's store has no loop to run on");
	_cleanup_(node_agent_freep) struct node_agent *a = calloc(1, sizeof(*a));
	if (!a)
		return error_oom(err);
	a->client = o->client;
	a->backend = o->backend;
	a->loop = loop;
	a->clock = korch_loop_clock(loop);
	int r;
	if ((r = dup_opt(o->node_name, &a->node_name, err)) < 0 ||
	    (r = dup_opt(o->root_dir, &a->root_dir, err)) < 0 ||
	    (r = dup_opt(o->log_dir, &a->log_dir, err)) < 0 ||
	    (r = dup_opt(o->node_ip, &a->node_ip, err)) < 0 ||
	    (r = dup_opt(o->pod_cidr, &a->pod_cidr, err)) < 0 ||
	    (r = dup_opt(o->cluster_dns, &a->cluster_dns, err)) < 0 ||
	    (r = dup_opt(o->cluster_domain ?: "cluster.local", &a->cluster_domain, err)) < 0)
		return r;
	for (const char *const *l = o->node_labels; l && *l; l++) {
		if (!strchr(*l, '='))
			return error_set(err, KORCH_EINVALID,
					 "node agent: node label \"%s\" is not key=value", *l);
		if (strv_push(&a->node_labels, *l) < 0)
			return error_oom(err);
	}
	if (!a->node_ip && o->backend->ops->real)
		a->node_ip = node_default_route_address();
	a->max_pods = o->max_pods > 0 ? o->max_pods : 110;
	a->eviction_threshold = o->eviction_memory_available_bytes == 0
					? DEFAULT_EVICTION_BYTES
					: o->eviction_memory_available_bytes;
	if (o->eviction_memory_available_bytes >= 0 && o->eviction_memory_available_percent > 0)
		a->eviction_memory_percent = MIN(o->eviction_memory_available_percent, 100.0);
	a->disk_threshold = o->eviction_nodefs_available_bytes;
	if (o->eviction_nodefs_available_bytes == 0)
		a->disk_percent = o->eviction_nodefs_available_percent > 0
					  ? MIN(o->eviction_nodefs_available_percent, 100.0)
					  : 10.0;
	a->eviction_interval_ns = o->eviction_interval_ns ?: 10 * NSEC_PER_SEC;
	a->housekeeping_interval_ns = o->housekeeping_interval_ns ?: 2 * NSEC_PER_SEC;
	a->lease_renew_interval_ns = o->lease_renew_interval_ns ?: 10 * NSEC_PER_SEC;
	a->lease_duration_s = o->lease_duration_s ?: 40;
	a->stats_interval_ns = o->stats_interval_ns ?: 10 * NSEC_PER_SEC;
	a->stats_window_ns = o->stats_window_ns ?: 15 * 60 * NSEC_PER_SEC;
	a->protect_from_oom = o->protect_from_oom;
	a->network = o->network;
	a->network_data = o->network_data;
	if ((r = workqueue_new(loop, NULL, sync_key, a, &a->queue, err)) < 0 ||
	    (r = stats_store_new(&a->stats)) < 0 || (r = http_ctx_new(loop, &a->http, err)) < 0)
		return r < 0 && r != KORCH_ENOMEM ? r : error_oom(err);
	*ret = steal_pointer(&a);
	return 0;
}

static int
watch(struct node_agent *a, const char *api_version, const char *kind, const char *fields,
      const struct informer_handlers *h, struct informer **ret, korch_error **err)
{
	int r = informer_new(a->client, kind_lookup(api_version, kind), NULL, NULL, fields, ret,
			     err);
	if (r == 0)
		r = informer_add_handlers(*ret, h, err);
	return r;
}

static void
protect_from_oom(struct node_agent *a)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, "-999", 4) < 0)
		log_warn("node", "node %s: set oom_score_adj: %s", a->node_name, strerror(errno));
	if (fd >= 0)
		close(fd);
}

int
node_agent_start(struct node_agent *a, korch_error **err)
{
	if (a->started)
		return 0;
	if (a->protect_from_oom)
		protect_from_oom(a);
	int r;
	if ((r = mkdir_p(a->root_dir, 0750, err)) < 0 || (r = mkdir_p(a->log_dir, 0755, err)) < 0)
		return korch_error_prefix(err, r, "node agent");
	a->backend->ops->set_exit_handler(a->backend->data, on_backend_exit, a);
	if ((r = a->backend->ops->node_info(a->backend->data, &a->info, err)) < 0)
		return korch_error_prefix(err, r, "node agent: describe the machine");
	eviction_thresholds_update(a);
	if ((r = list_for_adoption(a, err)) < 0)
		return korch_error_prefix(err, r, "node agent: adopt what runs");
	if ((r = node_register(a, err)) < 0 || (r = node_lease_renew(a, err)) < 0)
		return korch_error_prefix(err, r, "node agent: register node %s", a->node_name);
	_cleanup_free_ char *fields = NULL;
	if (asprintf(&fields, "spec.nodeName=%s", a->node_name) < 0)
		return error_oom(err);
	struct informer_handlers pod_h = { on_pod_add, on_pod_update, on_pod_delete, a };
	struct informer_handlers ns_h = { on_ns_object, on_ns_object_update, on_ns_object, a };
	struct informer_handlers pv_h = { on_pv, on_pv_update, on_pv, a };
	struct informer_handlers none = { NULL, NULL, NULL, a };
	if ((r = watch(a, "v1", "Pod", fields, &pod_h, &a->pods, err)) < 0 ||
	    (r = watch(a, "v1", "ConfigMap", NULL, &ns_h, &a->configmaps, err)) < 0 ||
	    (r = watch(a, "v1", "Secret", NULL, &ns_h, &a->secrets, err)) < 0 ||
	    (r = watch(a, "v1", "Service", NULL, &none, &a->services, err)) < 0 ||
	    (r = watch(a, "v1", "PersistentVolumeClaim", NULL, &ns_h, &a->pvcs, err)) < 0 ||
	    (r = watch(a, "v1", "PersistentVolume", NULL, &pv_h, &a->pvs, err)) < 0)
		return korch_error_prefix(err, r, "node agent: watch");
	/* Objects pods refer to first, so that the first sync of each pod finds them. */
	if ((r = informer_start(a->configmaps, err)) < 0 ||
	    (r = informer_start(a->secrets, err)) < 0 ||
	    (r = informer_start(a->services, err)) < 0 || (r = informer_start(a->pvcs, err)) < 0 ||
	    (r = informer_start(a->pvs, err)) < 0 || (r = informer_start(a->pods, err)) < 0)
		return korch_error_prefix(err, r, "node agent: watch");
	int64_t now = agent_now(a);
	struct loop_source *synced = NULL;
	if ((r = loop_add_defer(a->loop, on_synced_check, a, &synced, err)) < 0 ||
	    (r = loop_add_timer(a->loop, now + a->lease_renew_interval_ns, on_lease, a,
				&a->lease_timer, err)) < 0 ||
	    (r = loop_add_timer(a->loop, now + a->housekeeping_interval_ns, on_housekeeping, a,
				&a->housekeeping_timer, err)) < 0 ||
	    (r = loop_add_timer(a->loop, now + a->stats_interval_ns, on_stats, a, &a->stats_timer,
				err)) < 0) {
		loop_source_free(synced);
		return r;
	}
	a->started = true;
	/* The node check runs also without eviction: the machine, disk pressure, node status. */
	if ((r = loop_add_timer(a->loop, now + a->eviction_interval_ns, on_eviction, a,
				&a->eviction_timer, err)) < 0) {
		loop_source_free(synced);
		return r;
	}
	a->synced_src = synced;
	return 0;
}

void
node_agent_free(struct node_agent *a)
{
	if (!a)
		return;
	if (a->backend && a->started)
		a->backend->ops->set_exit_handler(a->backend->data, NULL, NULL);
	informer_free(a->pods);
	informer_free(a->configmaps);
	informer_free(a->secrets);
	informer_free(a->services);
	informer_free(a->pvcs);
	informer_free(a->pvs);
	loop_source_free(a->synced_src);
	loop_source_free(a->lease_timer);
	loop_source_free(a->housekeeping_timer);
	loop_source_free(a->eviction_timer);
	loop_source_free(a->stats_timer);
	/* Pods with operations in flight are freed by the backend's completions, which run
	 * (canceled) at the latest when the backend is freed; detach them from the agent. */
	size_t iter = 0;
	const char *uid;
	struct apod *p;
	struct ptrvec all = PTRVEC_INIT;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&p))
		ptrvec_push(&all, p);
	for (size_t i = 0; i < all.n; i++) {
		p = all.items[i];
		hashmap_remove(&a->pods_by_uid, p->uid);
		p->freeing = true;
		if (p->inflight == 0)
			pod_free(p);
		else
			pod_detach(p);
	}
	ptrvec_free(&all, NULL);
	hashmap_free(&a->pods_by_uid, NULL);
	iter = 0;
	struct ptrvec *v;
	while (hashmap_next(&a->adopt, &iter, &uid, (void **)&v)) {
		for (size_t i = 0; i < v->n; i++)
			backend_container_free(v->items[i]);
		ptrvec_free(v, NULL);
		free(v);
	}
	hashmap_free(&a->adopt, NULL);
	iter = 0;
	struct backend_sandbox *sb;
	while (hashmap_next(&a->adopt_sandboxes, &iter, &uid, (void **)&sb))
		backend_sandbox_free(sb);
	hashmap_free(&a->adopt_sandboxes, NULL);
	workqueue_free(a->queue);
	http_ctx_free(a->http);
	stats_store_free(a->stats);
	json_decref(a->node_status_written);
	free(a->node_uid);
	free(a->node_name);
	free(a->root_dir);
	free(a->log_dir);
	free(a->node_ip);
	strv_free(a->node_labels);
	free(a->pod_cidr);
	free(a->cluster_dns);
	free(a->cluster_domain);
	free(a);
}

int
node_agent_pod_samples(struct node_agent *a, const char *ns, const char *name, json_t **ret,
		       korch_error **err)
{
	size_t iter = 0;
	const char *uid;
	struct apod *p;
	while (hashmap_next(&a->pods_by_uid, &iter, &uid, (void **)&p))
		if (streq(p->ns, ns) && streq(p->name, name) && !p->gone)
			return stats_pod_json(a, p, ret, err);
	return error_set(err, KORCH_ENOTFOUND, "pod %s/%s does not run on node %s", ns, name,
			 a->node_name);
}

int
node_agent_node_samples(struct node_agent *a, json_t **ret, korch_error **err)
{
	return stats_node_json(a, ret, err);
}
