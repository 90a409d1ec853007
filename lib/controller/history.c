/*
 * history.c - ControllerRevisions (see history.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "controller/history.h"
#include "controller/pods.h"

static void
collect(const json_t *obj, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)obj);
}

static int
by_revision(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t rx = jp_int(x, "revision", 0), ry = jp_int(y, "revision", 0);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return strcmp(jp_str0(x, "metadata.name"), jp_str0(y, "metadata.name"));
}

static void
sort_revisions(json_t *arr)
{
	size_t n = json_array_size(arr);
	if (n < 2)
		return;
	json_t **v = calloc(n, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), by_revision);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

int
history_list(struct ctrl *ctl, struct informer *revisions, const json_t *owner,
	     const struct kind_info *owner_kind, json_t **ret, korch_error **err)
{
	struct label_selector *sel = NULL;
	int r = workload_selector(owner, false, &sel, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *candidates = json_array();
	cm_foreach_claimable(ctl->cm, revisions, jp_str(owner, "metadata.namespace"),
			     jp_str0(owner, "metadata.uid"), sel, collect, candidates);
	json_t *claimed = NULL;
	r = claim_objects(ctl, owner, owner_kind, K_CREV, sel, candidates, &claimed, err);
	label_selector_free(sel);
	if (r < 0)
		return r;
	/* Working copies, newest last. */
	json_t *out = json_array();
	size_t i;
	json_t *rev;
	json_array_foreach (claimed, i, rev)
		json_array_append_new(out, json_deep_copy(rev));
	json_decref(claimed);
	sort_revisions(out);
	*ret = out;
	return 0;
}

/* getPatch: {"spec":{"template":{..., "$patch":"replace"}}}. */
static json_t *
revision_data(const json_t *owner)
{
	json_t *tmpl = json_deep_copy(jp_get(owner, "spec.template"));
	if (!tmpl)
		tmpl = json_object();
	json_object_set_new(tmpl, "$patch", json_string("replace"));
	return json_pack("{s:{s:o}}", "spec", "template", tmpl);
}

json_t *
history_template(const json_t *revision)
{
	json_t *tmpl = json_deep_copy(jp_get(revision, "data.spec.template"));
	if (tmpl)
		json_object_del(tmpl, "$patch");
	return tmpl;
}

/* HashControllerRevision: FNV-1 (32 bits) of the data and the collision count. */
static void
revision_hash(const json_t *data, int64_t collision_count, char buf[static 16])
{
	_cleanup_free_ char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	for (const char *p = text ? text : ""; *p; p++) {
		h *= 16777619u;
		h ^= (unsigned char)*p;
	}
	if (collision_count >= 0) {
		char cc[32];
		snprintf(cc, sizeof(cc), "%lld", (long long)collision_count);
		for (const char *p = cc; *p; p++) {
			h *= 16777619u;
			h ^= (unsigned char)*p;
		}
	}
	static const char alphanums[] = "bcdfghjklmnpqrstvwxz2456789";
	char dec[16];
	int n = snprintf(dec, sizeof(dec), "%u", h);
	for (int i = 0; i < n; i++)
		buf[i] = alphanums[(unsigned char)dec[i] % (sizeof(alphanums) - 1)];
	buf[n] = '\0';
}

static bool
same_data(const json_t *rev, const json_t *data)
{
	_cleanup_json_ json_t *a = history_template(rev);
	const json_t *b = jp_get(data, "spec.template");
	_cleanup_json_ json_t *bt = json_deep_copy(b);
	if (bt)
		json_object_del(bt, "$patch");
	return templates_equal_ignore_hash(a, bt);
}

int
history_update_revision(struct ctrl *ctl, const json_t *owner, const struct kind_info *owner_kind,
			json_t *revisions, int64_t *collision_count, json_t **ret,
			korch_error **err)
{
	_cleanup_json_ json_t *data = revision_data(owner);
	int64_t max = 0;
	size_t i;
	json_t *rev;
	json_array_foreach (revisions, i, rev)
		max = MAX(max, jp_int(rev, "revision", 0));
	/* The newest revision with this data is the update revision. */
	json_t *equal = NULL;
	json_array_foreach (revisions, i, rev)
		if (same_data(rev, data))
			equal = rev;
	if (equal) {
		if (jp_int(equal, "revision", 0) == max) {
			*ret = json_incref(equal);
			return 0;
		}
		/* A rollback: the old revision becomes the newest. */
		_cleanup_json_ json_t *copy = json_deep_copy(equal);
		json_object_set_new(copy, "revision", json_integer(max + 1));
		json_t *stored = NULL;
		int r = cm_update(ctl, copy, NULL, &stored, err);
		if (r < 0)
			return r;
		json_object_set(equal, "revision", json_integer(max + 1));
		json_object_set(json_object_get(equal, "metadata"), "resourceVersion",
				(json_t *)jp_get(stored, "metadata.resourceVersion"));
		json_decref(stored);
		sort_revisions(revisions);
		*ret = json_incref(equal);
		return 0;
	}
	for (int attempt = 0; attempt < 10; attempt++) {
		char hash[16], name[300];
		revision_hash(data, *collision_count, hash);
		snprintf(name, sizeof(name), "%.223s-%s", jp_str0(owner, "metadata.name"), hash);
		const json_t *tl = jp_get(owner, "spec.template.metadata.labels");
		json_t *labels = json_is_object(tl) ? json_deep_copy(tl) : json_object();
		json_object_set_new(labels, "controller.kubernetes.io/hash", json_string(hash));
		_cleanup_json_ json_t *obj =
			json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:[o]}, s:O, s:I}", "apiVersion",
				  "apps/v1", "kind", "ControllerRevision", "metadata", "name", name,
				  "namespace", jp_str0(owner, "metadata.namespace"), "labels",
				  labels, "ownerReferences", controller_ref_new(owner, owner_kind),
				  "data", data, "revision", (json_int_t)(max + 1));
		json_t *created = NULL;
		korch_error *e = NULL;
		int r = cm_create(ctl, obj, &created, &e);
		if (r == 0) {
			json_array_append(revisions, created);
			*ret = created;
			return 0;
		}
		if (r != KORCH_EEXISTS)
			return error_propagate(err, &e, r);
		korch_error_free(e);
		/* Ours already (a cache behind our write) or a hash collision. */
		json_t *existing = NULL;
		r = client_get(cm_client(ctl->cm), K_CREV, jp_str(owner, "metadata.namespace"),
			       name, &existing, err);
		if (r < 0)
			return r;
		if (controlled_by(existing, jp_str(owner, "metadata.uid")) &&
		    same_data(existing, data)) {
			json_array_append(revisions, existing);
			*ret = existing;
			return 0;
		}
		json_decref(existing);
		*collision_count = *collision_count < 0 ? 1 : *collision_count + 1;
	}
	return error_set(err, KORCH_EEXISTS, "no free ControllerRevision name for %s",
			 jp_str0(owner, "metadata.name"));
}

static bool
has_name(const json_t *list, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v)
		if (streq(json_string_value(v), name))
			return true;
	return false;
}

int
history_truncate(struct ctrl *ctl, const json_t *revisions, const json_t *live, int64_t limit,
		 korch_error **err)
{
	size_t n = 0, i;
	json_t *rev;
	json_array_foreach (revisions, i, rev)
		if (!has_name(live, jp_str(rev, "metadata.name")))
			n++;
	int64_t extra = (int64_t)n - limit;
	json_array_foreach (revisions, i, rev) {
		if (extra <= 0)
			break;
		if (has_name(live, jp_str(rev, "metadata.name")))
			continue;
		korch_error *e = NULL;
		int r = cm_delete(ctl, K_CREV, jp_str(rev, "metadata.namespace"),
				  jp_str0(rev, "metadata.name"), NULL, &e);
		if (r < 0 && r != KORCH_ENOTFOUND)
			return error_propagate(err, &e, r);
		korch_error_free(e);
		extra--;
	}
	return 0;
}
