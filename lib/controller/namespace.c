/*
 * namespace.c - the namespace controller and the service account controller.
 *
 * A Namespace being deleted (Terminating) is emptied: every object of every namespaced kind in
 * it is deleted; the deletion conditions (NamespaceContentRemaining, NamespaceFinalizersRemaining,
 * ...) tell what is left; once nothing is, the controller removes the "kubernetes" finalizer
 * through /finalize and the write path removes the Namespace (Kubernetes'
 * pkg/controller/namespace).
 *
 * Every active Namespace has a ServiceAccount "default" (pkg/controller/serviceaccount).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "controller/controllers.h"

/* How soon a namespace whose content is still going is looked at again. */
#define RECHECK_NS (2 * NSEC_PER_SEC)

struct ns_ctrl {
	struct informer *nss;  /* Namespaces */
	struct informer *pods; /* Pods: their going is news for a terminating namespace */
};

static void
pod_gone(const json_t *pod, void *userdata)
{
	struct ctrl *ctl = userdata;
	struct ns_ctrl *s = ctl->data;
	const json_t *ns = informer_get(s->nss, NULL, jp_str0(pod, "metadata.namespace"));
	if (ns && jp_get(ns, "metadata.deletionTimestamp"))
		ctrl_enqueue(ctl, ns);
}

static int
ns_init(struct ctrl *ctl, korch_error **err)
{
	struct ns_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->nss = ctrl_watch_primary(ctl, "v1", "Namespace");
	s->pods = cm_informer(ctl->cm, "v1", "Pod");
	if (!s->nss || !s->pods)
		return error_oom(err);
	struct informer_handlers h = { NULL, NULL, pod_gone, ctl };
	return informer_add_handlers(s->pods, &h, err);
}

static void
ns_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

struct count {
	char *what; /* "pods." or "finalizer" */
	int64_t n;  /* instances */
};

static void
bump(struct count **list, size_t *n, const char *what)
{
	for (size_t i = 0; i < *n; i++)
		if (streq((*list)[i].what, what)) {
			(*list)[i].n++;
			return;
		}
	struct count *p = realloc(*list, (*n + 1) * sizeof(**list));
	if (!p)
		return;
	*list = p;
	p[*n].what = strdup(what);
	p[*n].n = p[*n].what ? 1 : 0;
	(*n)++;
}

static int
count_cmp(const void *a, const void *b)
{
	return strcmp(((const struct count *)a)->what, ((const struct count *)b)->what);
}

/* "pods. has 2 resource instances, ..." sorted, as Kubernetes joins them. */
static char *
join_counts(struct count *list, size_t n, const char *fmt_between)
{
	char(*line)[320] = calloc(n ? n : 1, sizeof(*line));
	if (!line)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(line[i], sizeof(line[i]), "%s %s %lld resource instances", list[i].what,
			 fmt_between, (long long)list[i].n);
	qsort(line, n, sizeof(*line), (int (*)(const void *, const void *))strcmp);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&sb, "%s%s", i ? ", " : "", line[i]);
	free(line);
	return strbuf_steal(&sb);
}

static void
free_counts(struct count *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].what);
	free(list);
}

/* Sets one of the namespace deletion conditions (updateConditions). */
static bool
ns_condition(json_t *ns, const char *type, const char *status, const char *reason,
	     const char *message, int64_t wall)
{
	json_t *st = jp_obj(ns, "status");
	json_t *conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	char now[32];
	time_text(wall, now);
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c) {
		if (!streq(jp_str(c, "type"), type))
			continue;
		if (streq(jp_str(c, "status"), status) && streq(jp_str(c, "reason"), reason) &&
		    streq(jp_str(c, "message"), message))
			return false;
		if (!streq(jp_str(c, "status"), status))
			json_object_set_new(c, "lastTransitionTime", json_string(now));
		json_object_set_new(c, "status", json_string(status));
		json_object_set_new(c, "reason", json_string(reason));
		json_object_set_new(c, "message", json_string(message));
		return true;
	}
	json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status",
					       status, "lastTransitionTime", now, "reason", reason,
					       "message", message));
	return true;
}

/* Deletes what is left in ns; counts what remains by resource and by finalizer. */
static int
delete_content(struct ctrl *ctl, const char *ns, struct count **res, size_t *n_res,
	       struct count **fins, size_t *n_fins, struct strbuf *failures)
{
	struct client *c = cm_client(ctl->cm);
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		if (!k->namespaced)
			continue;
		json_t *list = NULL;
		korch_error *e = NULL;
		if (client_list(c, k, ns, NULL, &list, &e) < 0) {
			strbuf_printf(failures, "%s%s", failures->len ? ", " : "",
				      korch_error_message(e));
			korch_error_free(e);
			continue;
		}
		size_t j;
		json_t *obj;
		json_array_foreach (json_object_get(list, "items"), j, obj) {
			if (!jp_get(obj, "metadata.deletionTimestamp")) {
				int r = cm_delete(ctl, k, ns, jp_str0(obj, "metadata.name"), NULL,
						  &e);
				if (r == 0 || r == KORCH_ENOTFOUND) {
					korch_error_free(e);
					e = NULL;
					/* Gone at once, or marked: look again below. */
					json_t *again = NULL;
					if (client_get(c, k, ns, jp_str0(obj, "metadata.name"),
						       &again, NULL) < 0)
						continue;
					json_decref(again);
				} else {
					strbuf_printf(failures, "%s%s", failures->len ? ", " : "",
						      korch_error_message(e));
					korch_error_free(e);
					e = NULL;
				}
			}
			char what[160];
			snprintf(what, sizeof(what), "%s.%s", k->plural, k->group);
			bump(res, n_res, what);
			size_t f;
			json_t *fin;
			json_array_foreach (jp_get(obj, "metadata.finalizers"), f, fin)
				if (json_is_string(fin))
					bump(fins, n_fins, json_string_value(fin));
		}
		json_decref(list);
	}
	return 0;
}

static int
ns_sync(struct ctrl *ctl, const char *key)
{
	struct ns_ctrl *s = ctl->data;
	const json_t *cached = informer_get(s->nss, NULL, key);
	if (!cached || !jp_get(cached, "metadata.deletionTimestamp"))
		return 0;
	_cleanup_json_ json_t *ns = json_deep_copy(cached);
	int64_t wall = cm_wall(ctl->cm);
	struct count *res = NULL, *fins = NULL;
	size_t n_res = 0, n_fins = 0;
	struct strbuf failures = STRBUF_INIT;
	delete_content(ctl, key, &res, &n_res, &fins, &n_fins, &failures);
	bool changed = false;
	changed |=
		ns_condition(ns, "NamespaceDeletionDiscoveryFailure", "False",
			     "ResourcesDiscovered", "All resources successfully discovered", wall);
	changed |= ns_condition(ns, "NamespaceDeletionGroupVersionParsingFailure", "False",
				"ParsedGroupVersions", "All legacy kube types successfully parsed",
				wall);
	if (failures.len) {
		char *msg = NULL;
		if (asprintf(&msg, "Failed to delete all resource types, 1 remaining: %s",
			     strbuf_str(&failures)) >= 0)
			changed |= ns_condition(ns, "NamespaceDeletionContentFailure", "True",
						"ContentDeletionFailed", msg, wall);
		free(msg);
	} else {
		changed |= ns_condition(
			ns, "NamespaceDeletionContentFailure", "False", "ContentDeleted",
			"All content successfully deleted, may be waiting on finalization", wall);
	}
	if (n_res) {
		qsort(res, n_res, sizeof(*res), count_cmp);
		_cleanup_free_ char *list = join_counts(res, n_res, "has");
		char *msg = NULL;
		if (list && asprintf(&msg, "Some resources are remaining: %s", list) >= 0)
			changed |= ns_condition(ns, "NamespaceContentRemaining", "True",
						"SomeResourcesRemain", msg, wall);
		free(msg);
	} else {
		changed |= ns_condition(ns, "NamespaceContentRemaining", "False", "ContentRemoved",
					"All content successfully removed", wall);
	}
	if (n_fins) {
		_cleanup_free_ char *list = join_counts(fins, n_fins, "in");
		char *msg = NULL;
		if (list &&
		    asprintf(&msg, "Some content in the namespace has finalizers remaining: %s",
			     list) >= 0)
			changed |= ns_condition(ns, "NamespaceFinalizersRemaining", "True",
						"SomeFinalizersRemain", msg, wall);
		free(msg);
	} else {
		changed |= ns_condition(ns, "NamespaceFinalizersRemaining", "False",
					"ContentHasNoFinalizers",
					"All content-preserving finalizers finished", wall);
	}
	free_counts(res, n_res);
	free_counts(fins, n_fins);
	bool remaining = n_res > 0 || failures.len > 0;
	strbuf_free(&failures);
	korch_error *e = NULL;
	if (changed) {
		json_t *stored = NULL;
		int r = cm_update(ctl, ns, "status", &stored, &e);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			return 0;
		}
		if (r < 0)
			return ctrl_fail(ctl, key, r, e);
		json_decref(ns);
		ns = stored;
	}
	if (remaining) {
		ctrl_enqueue_after(ctl, key, RECHECK_NS);
		return 0;
	}
	/* Empty: the "kubernetes" finalizer goes, and with it the namespace. */
	json_t *list = json_object_get(json_object_get(ns, "spec"), "finalizers");
	size_t i;
	json_t *f;
	bool has = false;
	json_array_foreach (list, i, f)
		if (streq(json_string_value(f), "kubernetes")) {
			json_array_remove(list, i);
			has = true;
			break;
		}
	if (!has)
		return 0;
	int r = cm_update(ctl, ns, "finalize", NULL, &e);
	return ctrl_sync_end(ctl, key, r, e);
}

const struct ctrl_ops namespace_ops = {
	.name = "namespace",
	.component = "namespace-controller",
	.init = ns_init,
	.sync = ns_sync,
	.fini = ns_fini,
};

/* ---- service accounts ---- */

struct sa_ctrl {
	struct informer *nss; /* Namespaces: the primary kind */
	struct informer *sas; /* ServiceAccounts */
};

static void
sa_deleted(const json_t *sa, void *userdata)
{
	struct ctrl *ctl = userdata;
	if (streq(jp_str(sa, "metadata.name"), "default"))
		ctrl_enqueue_key(ctl, jp_str0(sa, "metadata.namespace"));
}

static int
sa_init(struct ctrl *ctl, korch_error **err)
{
	struct sa_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->nss = ctrl_watch_primary(ctl, "v1", "Namespace");
	s->sas = cm_informer(ctl->cm, "v1", "ServiceAccount");
	if (!s->nss || !s->sas)
		return error_oom(err);
	struct informer_handlers h = { NULL, NULL, sa_deleted, ctl };
	return informer_add_handlers(s->sas, &h, err);
}

static void
sa_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

static int
sa_sync(struct ctrl *ctl, const char *key)
{
	struct sa_ctrl *s = ctl->data;
	const json_t *ns = informer_get(s->nss, NULL, key);
	if (!ns || jp_get(ns, "metadata.deletionTimestamp") ||
	    !streq(jp_str(ns, "status.phase"), "Active"))
		return 0;
	if (informer_get(s->sas, key, "default"))
		return 0;
	_cleanup_json_ json_t *sa =
		json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
			  "metadata", "name", "default", "namespace", key);
	korch_error *e = NULL;
	int r = cm_create(ctl, sa, NULL, &e);
	if (r == KORCH_EEXISTS || r == KORCH_EFORBIDDEN) {
		/* There already (the cache is late), or the namespace started terminating. */
		korch_error_free(e);
		return 0;
	}
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

const struct ctrl_ops serviceaccount_ops = {
	.name = "serviceaccount",
	.component = "service-account-controller",
	.init = sa_init,
	.sync = sa_sync,
	.fini = sa_fini,
};

/* ---- the root CA ConfigMaps (pkg/controller/certificates/rootcacertpublisher) ---- */

#define ROOT_CA_NAME "kube-root-ca.crt"

struct rootca_ctrl {
	struct informer *nss; /* Namespaces: the primary kind */
	struct informer *cms; /* ConfigMaps */
};

static void
rootca_cm_changed(const json_t *cm, void *userdata)
{
	struct ctrl *ctl = userdata;
	if (streq(jp_str(cm, "metadata.name"), ROOT_CA_NAME))
		ctrl_enqueue_key(ctl, jp_str0(cm, "metadata.namespace"));
}

static void
rootca_cm_updated(const json_t *old, const json_t *cm, void *userdata)
{
	rootca_cm_changed(cm, userdata);
}

static int
rootca_init(struct ctrl *ctl, korch_error **err)
{
	struct rootca_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->nss = ctrl_watch_primary(ctl, "v1", "Namespace");
	s->cms = cm_informer(ctl->cm, "v1", "ConfigMap");
	if (!s->nss || !s->cms)
		return error_oom(err);
	struct informer_handlers h = { NULL, rootca_cm_updated, rootca_cm_changed, ctl };
	return informer_add_handlers(s->cms, &h, err);
}

static void
rootca_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* Keeps kube-root-ca.crt in namespace key holding the CA (made again when deleted). */
static int
rootca_sync(struct ctrl *ctl, const char *key)
{
	struct rootca_ctrl *s = ctl->data;
	const char *ca = cm_options(ctl->cm)->root_ca_pem;
	const json_t *ns = informer_get(s->nss, NULL, key);
	if (!ca || !ns || jp_get(ns, "metadata.deletionTimestamp") ||
	    !streq(jp_str(ns, "status.phase"), "Active"))
		return 0;
	const json_t *have = informer_get(s->cms, key, ROOT_CA_NAME);
	if (have && streq(json_string_value(json_object_get(jp_get(have, "data"), "ca.crt")), ca))
		return 0;
	korch_error *e = NULL;
	int r;
	if (have) {
		_cleanup_json_ json_t *cm = json_deep_copy(have);
		json_t *data = json_pack("{s:s}", "ca.crt", ca);
		if (!cm || !data || json_object_set_new(cm, "data", data) < 0)
			return ctrl_fail(ctl, key, KORCH_ENOMEM, NULL);
		r = cm_update(ctl, cm, NULL, NULL, &e);
	} else {
		_cleanup_json_ json_t *cm = json_pack(
			"{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
			"ConfigMap", "metadata", "name", ROOT_CA_NAME, "namespace", key,
			"annotations", "kubernetes.io/description",
			"Contains a CA bundle that can be used to verify the kube-apiserver when "
			"using internal endpoints such as the internal service IP or "
			"kubernetes.default.svc. No other usage is guaranteed across distributions "
			"of Kubernetes clusters.",
			"data", "ca.crt", ca);
		if (!cm)
			return ctrl_fail(ctl, key, KORCH_ENOMEM, NULL);
		r = cm_create(ctl, cm, NULL, &e);
	}
	if (r == KORCH_EEXISTS || r == KORCH_ECONFLICT || r == KORCH_EFORBIDDEN) {
		/* The cache is late, or the namespace started terminating: look again later. */
		korch_error_free(e);
		return r == KORCH_EFORBIDDEN ? 0 : ctrl_fail(ctl, key, r, NULL);
	}
	return r < 0 ? ctrl_fail(ctl, key, r, e) : 0;
}

const struct ctrl_ops rootca_ops = {
	.name = "root-ca-cert-publisher",
	.component = "root-ca-cert-publisher",
	.init = rootca_init,
	.sync = rootca_sync,
	.fini = rootca_fini,
};
