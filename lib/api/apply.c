/*
 * apply.c - server-side apply and metadata.managedFields, as kube-apiserver's field manager does
 * them on top of structured-merge-diff: manager identities, the managedFields encoding, Apply
 * (merge, prune, conflicts) and Update (ownership of what a write changed).
 */
#include <stdlib.h>
#include <string.h>

#include "api/apply.h"
#include "api/fieldset.h"
#include "api/typed.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"

/* Kubernetes' DefaultMaxUpdateManagers. */
#define MAX_UPDATE_MANAGERS 10
/* The manager that owns what an object held before its first apply. */
#define BEFORE_FIRST_APPLY "before-first-apply"
/* The bucket the oldest Update entries are merged into. */
#define ANCIENT_CHANGES "ancient-changes"
/* The identity an update's own changes are gathered under (never a JSON identity). */
#define CURRENT_OPERATION "current-operation"

/* One managedFields entry: a manager identity and the fields it owns. */
struct manager {
	char *id;             /* identity (BuildManagerIdentifier): JSON of name, operation, ... */
	char *name;           /* the manager's name ("kubectl") */
	bool applied;         /* operation Apply (otherwise Update) */
	char *api_version;    /* the version the fields were written at */
	char *subresource;    /* "status", "scale", ...; NULL for the main resource */
	struct fieldset *set; /* the owned fields */
	bool has_time;        /* the entry has a time */
	int64_t time_s;       /* its time, in seconds since the epoch */
};

struct managers {
	struct manager *v; /* n entries, identities unique */
	size_t n;          /* entries */
	size_t cap;        /* allocated entries */
};

static void
manager_clear(struct manager *m)
{
	free(m->id);
	free(m->name);
	free(m->api_version);
	free(m->subresource);
	fieldset_free(m->set);
	*m = (struct manager){ 0 };
}

static void
managers_clear(struct managers *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		manager_clear(&ms->v[i]);
	free(ms->v);
	*ms = (struct managers){ 0 };
}

static void
managers_remove(struct managers *ms, size_t i)
{
	manager_clear(&ms->v[i]);
	memmove(&ms->v[i], &ms->v[i + 1], (ms->n - i - 1) * sizeof(ms->v[0]));
	ms->n--;
}

static ssize_t
managers_find(const struct managers *ms, const char *id)
{
	for (size_t i = 0; i < ms->n; i++)
		if (streq(ms->v[i].id, id))
			return (ssize_t)i;
	return -1;
}

/* Drops the entries that own nothing, as the field manager does after every operation. */
static void
managers_drop_empty(struct managers *ms)
{
	for (size_t i = ms->n; i-- > 0;)
		if (fieldset_empty(ms->v[i].set))
			managers_remove(ms, i);
}

/*
 * A manager's identity as Kubernetes builds it (BuildManagerIdentifier): the managedFields
 * entry encoded as Go's encoding/json encodes it, without time, fieldsType and fieldsV1, and
 * without apiVersion for appliers (so that an applier is one identity whatever version it
 * applies at). NULL when out of memory.
 */
static char *
manager_identity(const char *name, bool applied, const char *api_version, const char *subresource)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_putc(&sb, '{');
	if (*name) {
		strbuf_puts(&sb, "\"manager\":");
		strbuf_put_go_json_string(&sb, name, strlen(name));
		strbuf_putc(&sb, ',');
	}
	strbuf_puts(&sb, applied ? "\"operation\":\"Apply\"" : "\"operation\":\"Update\"");
	if (!applied && *api_version) {
		strbuf_puts(&sb, ",\"apiVersion\":");
		strbuf_put_go_json_string(&sb, api_version, strlen(api_version));
	}
	if (subresource && *subresource) {
		strbuf_puts(&sb, ",\"subresource\":");
		strbuf_put_go_json_string(&sb, subresource, strlen(subresource));
	}
	strbuf_putc(&sb, '}');
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

/*
 * Sets the entry of (name, applied, api_version, subresource) to own set (taken, freed on
 * failure), keeping the time of the entry it replaces. Returns its index, or KORCH_ENOMEM.
 */
static ssize_t
managers_put(struct managers *ms, const char *name, bool applied, const char *api_version,
	     const char *subresource, struct fieldset *set)
{
	struct manager m = {
		.id = manager_identity(name, applied, api_version, subresource),
		.name = strdup(name),
		.applied = applied,
		.api_version = strdup(api_version),
		.subresource = subresource && *subresource ? strdup(subresource) : NULL,
		.set = set,
	};
	if (!m.id || !m.name || !m.api_version || (subresource && *subresource && !m.subresource)) {
		manager_clear(&m);
		return KORCH_ENOMEM;
	}
	ssize_t i = managers_find(ms, m.id);
	if (i >= 0) {
		m.has_time = ms->v[i].has_time;
		m.time_s = ms->v[i].time_s;
		manager_clear(&ms->v[i]);
		ms->v[i] = m;
		return i;
	}
	struct manager *slot = VEC_PUSH(ms->v, ms->n, ms->cap);
	if (!slot) {
		manager_clear(&m);
		return KORCH_ENOMEM;
	}
	*slot = m;
	return (ssize_t)(ms->n - 1);
}

static int
managers_copy(const struct managers *src, struct managers *ret)
{
	struct managers out = { 0 };
	for (size_t i = 0; i < src->n; i++) {
		const struct manager *m = &src->v[i];
		struct fieldset *set = fieldset_copy(m->set);
		ssize_t at = set ? managers_put(&out, m->name, m->applied, m->api_version,
						m->subresource, set)
				 : KORCH_ENOMEM;
		if (at < 0) {
			managers_clear(&out);
			return KORCH_ENOMEM;
		}
		out.v[at].has_time = m->has_time;
		out.v[at].time_s = m->time_s;
	}
	*ret = out;
	return 0;
}

/*
 * How a conflict message names a manager (printManager): "kubectl", `"kube-controller-manager"
 * with subresource "status" using apps/v1` for an Update entry. Identities hold no time, so
 * Kubernetes never prints one here either.
 */
static int
manager_print(const struct manager *m, struct strbuf *out)
{
	strbuf_put_go_quoted(out, m->name, strlen(m->name));
	if (m->subresource) {
		strbuf_puts(out, " with subresource ");
		strbuf_put_go_quoted(out, m->subresource, strlen(m->subresource));
	}
	if (!m->applied) {
		strbuf_puts(out, " using ");
		strbuf_puts(out, m->api_version);
	}
	return out->oom ? KORCH_ENOMEM : 0;
}

/* ---- the managedFields encoding -------------------------------------------------------- */

/* A string member of a managedFields entry: absent is "", anything but a string refused. */
static int
entry_string(const json_t *entry, const char *key, size_t index, const char **ret,
	     korch_error **err)
{
	const json_t *v = json_object_get(entry, key);
	if (!v || json_is_null(v)) {
		*ret = "";
		return 0;
	}
	if (!json_is_string(v))
		return error_set(err, KORCH_EINVALID,
				 "managed fields entry %zu: %s is not a string", index, key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return error_set(err, KORCH_EINVALID,
				 "managed fields entry %zu: %s holds a NUL character", index, key);
	*ret = json_string_value(v);
	return 0;
}

/* One entry into ms (DecodeManagedFields): a later entry of the same identity replaces one. */
static int
decode_entry(const json_t *entry, size_t index, struct managers *ms, korch_error **err)
{
	if (!json_is_object(entry))
		return error_set(err, KORCH_EINVALID, "managed fields entry %zu is not an object",
				 index);
	const char *name, *operation, *api_version, *fields_type, *subresource, *time_text;
	int r;
	if ((r = entry_string(entry, "manager", index, &name, err)) < 0 ||
	    (r = entry_string(entry, "operation", index, &operation, err)) < 0 ||
	    (r = entry_string(entry, "apiVersion", index, &api_version, err)) < 0 ||
	    (r = entry_string(entry, "fieldsType", index, &fields_type, err)) < 0 ||
	    (r = entry_string(entry, "subresource", index, &subresource, err)) < 0 ||
	    (r = entry_string(entry, "time", index, &time_text, err)) < 0)
		return r;
	bool applied = streq(operation, "Apply");
	if (!applied && !streq(operation, "Update"))
		return error_set(err, KORCH_EINVALID, "operation must be `Apply` or `Update`");
	if (!*api_version)
		return error_set(err, KORCH_EINVALID, "apiVersion must not be empty");
	if (!*fields_type)
		return error_set(err, KORCH_EINVALID,
				 "missing fieldsType in managed fields entry %zu", index);
	if (!streq(fields_type, "FieldsV1")) {
		_cleanup_free_ char *q = go_quote(fields_type);
		return q ? error_set(err, KORCH_EINVALID,
				     "invalid fieldsType %s in managed fields entry %zu", q, index)
			 : error_oom(err);
	}
	int64_t time_ns = 0;
	if (*time_text && parse_rfc3339(time_text, &time_ns) < 0)
		return error_set(err, KORCH_EINVALID,
				 "managed fields entry %zu: time %s is not an RFC 3339 time", index,
				 time_text);
	const json_t *fields = json_object_get(entry, "fieldsV1");
	struct fieldset *set = NULL;
	if (!fields || json_is_null(fields)) {
		if (!(set = fieldset_new()))
			return error_oom(err);
	} else if ((r = fieldset_from_fields_v1(fields, &set, err)) < 0) {
		return korch_error_prefix(err, r, "managed fields entry %zu", index);
	}
	ssize_t at = managers_put(ms, name, applied, api_version, subresource, set);
	if (at < 0)
		return error_oom(err);
	ms->v[at].has_time = *time_text != '\0';
	ms->v[at].time_s = time_ns / NSEC_PER_SEC - (time_ns % NSEC_PER_SEC < 0);
	return 0;
}

/* metadata.managedFields of obj (absent or null: none) into *ret. */
static int
managers_decode(const json_t *obj, struct managers *ret, korch_error **err)
{
	const json_t *list = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	struct managers ms = { 0 };
	if (list && !json_is_null(list)) {
		if (!json_is_array(list))
			return error_set(err, KORCH_EINVALID,
					 "metadata.managedFields is not a list");
		for (size_t i = 0; i < json_array_size(list); i++) {
			int r = decode_entry(json_array_get(list, i), i, &ms, err);
			if (r < 0) {
				managers_clear(&ms);
				return r;
			}
		}
	}
	*ret = ms;
	return 0;
}

/* The order of encoded entries (sortEncodedManagedFields). */
static int
entry_order(const void *a, const void *b)
{
	const struct manager *p = *(const struct manager *const *)a;
	const struct manager *q = *(const struct manager *const *)b;
	if (p->applied != q->applied)
		return p->applied ? -1 : 1; /* "Apply" < "Update" */
	int64_t ps = p->has_time ? p->time_s : 0, qs = q->has_time ? q->time_s : 0;
	if (ps != qs)
		return ps < qs ? -1 : 1;
	int c = strcmp(p->name, q->name);
	if (c)
		return c;
	if ((c = strcmp(p->api_version, q->api_version)))
		return c;
	return strcmp(p->subresource ? p->subresource : "", q->subresource ? q->subresource : "");
}

/* One entry as Kubernetes encodes it, members in ManagedFieldsEntry's order. */
static json_t *
encode_entry(const struct manager *m)
{
	_cleanup_json_ json_t *e = json_object();
	json_t *fields = NULL;
	char buf[32];
	if (!e || fieldset_to_fields_v1(m->set, &fields, NULL) < 0)
		return NULL;
	if ((*m->name && json_object_set_new(e, "manager", json_string(m->name)) < 0) ||
	    json_object_set_new(e, "operation", json_string(m->applied ? "Apply" : "Update")) < 0 ||
	    json_object_set_new(e, "apiVersion", json_string(m->api_version)) < 0 ||
	    (m->has_time && json_object_set_new(e, "time",
						json_string(format_rfc3339(m->time_s * NSEC_PER_SEC,
									   false, buf))) < 0) ||
	    json_object_set_new(e, "fieldsType", json_string("FieldsV1")) < 0 ||
	    json_object_set_new(e, "fieldsV1", fields) < 0 ||
	    (m->subresource &&
	     json_object_set_new(e, "subresource", json_string(m->subresource)) < 0))
		return NULL;
	return steal_pointer(&e);
}

/*
 * Writes ms into obj's metadata.managedFields (last in metadata, as ObjectMeta orders it), or
 * removes it when ms is empty. Returns 0 or KORCH_ENOMEM; obj is unchanged on failure.
 */
static int
managers_encode(const struct managers *ms, json_t *obj, korch_error **err)
{
	json_t *meta = json_object_get(obj, "metadata");
	if (ms->n == 0) {
		if (json_is_object(meta))
			json_object_del(meta, "managedFields");
		return 0;
	}
	_cleanup_free_ const struct manager **sorted = calloc(ms->n, sizeof(*sorted));
	_cleanup_json_ json_t *list = json_array();
	if (!sorted || !list)
		return error_oom(err);
	for (size_t i = 0; i < ms->n; i++)
		sorted[i] = &ms->v[i];
	qsort(sorted, ms->n, sizeof(*sorted), entry_order);
	for (size_t i = 0; i < ms->n; i++) {
		json_t *e = encode_entry(sorted[i]);
		if (!e || json_array_append_new(list, e) < 0)
			return error_oom(err);
	}
	if (!json_is_object(meta)) {
		_cleanup_json_ json_t *m = json_object();
		if (!m || json_object_set(obj, "metadata", m) < 0)
			return error_oom(err);
		meta = m;
	}
	json_object_del(meta, "managedFields");
	if (json_object_set(meta, "managedFields", list) < 0)
		return error_oom(err);
	return 0;
}

/* ---- fixed sets ------------------------------------------------------------------------ */

/* Paths of one or two field names. */
static int
insert_fields(struct fieldset *s, const char *a, const char *b)
{
	struct path_element path[2] = {
		{ .type = PATH_FIELD, .field = a },
		{ .type = PATH_FIELD, .field = b },
	};
	return fieldset_insert(s, path, b ? 2 : 1);
}

/*
 * What is never owned (stripMetaManager's set, plus the deletion fields Kubernetes sets outside
 * the field manager). Removed from a manager's set with a plain difference, as Kubernetes does.
 */
static struct fieldset *
strip_set(void)
{
	static const char *const meta[] = {
		"name",
		"namespace",
		"creationTimestamp",
		"selfLink",
		"uid",
		"clusterName",
		"generation",
		"managedFields",
		"resourceVersion",
		"deletionTimestamp",
		"deletionGracePeriodSeconds",
	};
	_cleanup_fieldset_ struct fieldset *s = fieldset_new();
	if (!s || insert_fields(s, "apiVersion", NULL) < 0 || insert_fields(s, "kind", NULL) < 0 ||
	    insert_fields(s, "metadata", NULL) < 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(meta); i++)
		if (insert_fields(s, "metadata", meta[i]) < 0)
			return NULL;
	return steal_pointer(&s);
}

/*
 * The fields a write through subresource does not own because the write path resets them
 * (Kubernetes' GetResetFields, common to every kind korch has): .status through the main
 * resource, .spec through the status subresource. An empty set when nothing is reset.
 */
static struct fieldset *
reset_set(const struct schema_type *root, const char *subresource)
{
	_cleanup_fieldset_ struct fieldset *s = fieldset_new();
	if (!s)
		return NULL;
	if (!subresource && schema_field(root, "status") && insert_fields(s, "status", NULL) < 0)
		return NULL;
	if (subresource && streq(subresource, "status") && schema_field(root, "spec") &&
	    insert_fields(s, "spec", NULL) < 0)
		return NULL;
	return steal_pointer(&s);
}

/* Replaces *set with *set minus what (recursively when recursive). */
static int
set_subtract(struct fieldset **set, const struct fieldset *what, bool recursive)
{
	struct fieldset *out = NULL;
	int r = recursive ? fieldset_recursive_difference(*set, what, &out)
			  : fieldset_difference(*set, what, &out);
	if (r < 0)
		return r;
	fieldset_free(*set);
	*set = out;
	return 0;
}

/* ---- objects ----------------------------------------------------------------------------- */

/*
 * obj without metadata.managedFields (an empty object for NULL), for reading only: a shallow copy
 * of obj and of its metadata that shares every other value with obj.
 */
static json_t *
view_without_managed_fields(const json_t *obj)
{
	if (!obj)
		return json_object();
	_cleanup_json_ json_t *c = json_copy((json_t *)obj);
	json_t *meta = json_object_get(obj, "metadata");
	if (!c)
		return NULL;
	if (json_is_object(meta) && json_object_get(meta, "managedFields")) {
		json_t *m = json_copy(meta);
		if (!m || json_object_set_new(c, "metadata", m) < 0)
			return NULL;
		json_object_del(m, "managedFields");
	}
	return steal_pointer(&c);
}

static const char *
string_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);
	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : "";
}

/*
 * How Kubernetes names an object in the field manager's errors (objectGVKNN):
 * "default/web; apps/v1, Kind=Deployment", "/node-1; /v1, Kind=Node".
 */
static void
describe_object(const json_t *obj, struct strbuf *out)
{
	const char *api_version = string_at(obj, "apiVersion", NULL);
	strbuf_printf(out, "%s/%s; ", string_at(obj, "metadata", "namespace"),
		      string_at(obj, "metadata", "name"));
	if (!strchr(api_version, '/'))
		strbuf_putc(out, '/');
	strbuf_printf(out, "%s, Kind=%s", api_version, string_at(obj, "kind", NULL));
}

/* Prefixes *err with "failed to create typed patch object (...): " and the like. */
static int
typed_error(korch_error **err, int r, const char *before, const json_t *obj, const char *after)
{
	if (!err || !*err || r == KORCH_ENOMEM)
		return r;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	describe_object(obj, &sb);
	if (sb.oom)
		return r;
	return korch_error_prefix(err, r, "%s (%s)%s", before, strbuf_str(&sb), after);
}

/* ---- Update: ownership of what changed --------------------------------------------------- */

/*
 * structured-merge-diff's Updater.update: compares live and new (without the reset fields),
 * takes what changed (modified or added) from every manager but self_id, which is a conflict
 * unless force, and what was removed from every manager but self_id. On conflict, *ret_conflicts
 * (when not NULL) gets one set per entry of ms (NULL where there is none), and KORCH_ECONFLICT is
 * returned with ms untouched. *ret_cmp (when not NULL) gets the filtered comparison.
 */
static int
managers_update(struct managers *ms, const json_t *live, const json_t *newobj,
		const struct schema_type *root, const char *self_id, bool force,
		const struct fieldset *reset, struct typed_comparison *ret_cmp,
		struct fieldset ***ret_conflicts, korch_error **err)
{
	struct typed_comparison cmp = { 0 };
	struct fieldset *changed = NULL, **conflicts = NULL;
	size_t n_conflicts = ms->n; /* entries may be dropped below */
	int r = typed_compare(live, newobj, root, &cmp, err);
	if (r < 0)
		return korch_error_prefix(err, r, "failed to compare objects");
	r = KORCH_ENOMEM;
	if (set_subtract(&cmp.removed, reset, true) < 0 ||
	    set_subtract(&cmp.modified, reset, true) < 0 ||
	    set_subtract(&cmp.added, reset, true) < 0 ||
	    fieldset_union(cmp.modified, cmp.added, &changed) < 0 ||
	    !(conflicts = calloc(ms->n ? ms->n : 1, sizeof(*conflicts))))
		goto done;
	bool any = false;
	for (size_t i = 0; i < ms->n; i++) {
		if (streq(ms->v[i].id, self_id))
			continue;
		if (fieldset_intersection(ms->v[i].set, changed, &conflicts[i]) < 0)
			goto done;
		if (fieldset_empty(conflicts[i])) {
			fieldset_free(conflicts[i]);
			conflicts[i] = NULL;
		} else {
			any = true;
		}
	}
	if (any && !force) {
		if (ret_conflicts)
			*ret_conflicts = steal_pointer(&conflicts);
		r = KORCH_ECONFLICT;
		goto done;
	}
	for (size_t i = 0; i < ms->n; i++) {
		if (streq(ms->v[i].id, self_id))
			continue;
		if ((conflicts[i] && set_subtract(&ms->v[i].set, conflicts[i], false) < 0) ||
		    set_subtract(&ms->v[i].set, cmp.removed, false) < 0)
			goto done;
	}
	managers_drop_empty(ms);
	if (ret_cmp) {
		*ret_cmp = cmp;
		cmp = (struct typed_comparison){ 0 };
	}
	r = 0;
done:
	if (conflicts)
		for (size_t i = 0; i < n_conflicts; i++)
			fieldset_free(conflicts[i]);
	free(conflicts);
	fieldset_free(changed);
	typed_comparison_clear(&cmp);
	return r == KORCH_ENOMEM ? error_oom(err) : r;
}

/* Update identities in time order, oldest first, then by identity (capUpdateManagers' sort). */
static int
update_order(const void *a, const void *b)
{
	const struct manager *p = *(const struct manager *const *)a;
	const struct manager *q = *(const struct manager *const *)b;
	int64_t ps = p->has_time ? p->time_s : 0, qs = q->has_time ? q->time_s : 0;
	if (ps != qs)
		return ps < qs ? -1 : 1;
	return strcmp(p->id, q->id);
}

/*
 * Keeps at most MAX_UPDATE_MANAGERS Update entries (capManagersManager): oldest first, the first
 * entry of each apiVersion stays, and each later one of that version is merged into the
 * "ancient-changes" entry of the version (made from the first one when there is none yet), which
 * takes the time of the entry merged last.
 */
static int
managers_cap(struct managers *ms)
{
	size_t n_updaters = 0;
	for (size_t i = 0; i < ms->n; i++)
		n_updaters += !ms->v[i].applied;
	if (n_updaters <= MAX_UPDATE_MANAGERS)
		return 0;
	_cleanup_free_ struct manager **updaters = calloc(n_updaters, sizeof(*updaters));
	_cleanup_free_ char **ids = calloc(n_updaters, sizeof(*ids));
	/* versionToFirstManager: the first entry seen of each version, by position in ids */
	_cleanup_free_ size_t *first_of = calloc(n_updaters, sizeof(*first_of));
	_cleanup_free_ char **first_version = calloc(n_updaters, sizeof(*first_version));
	int r = KORCH_ENOMEM;
	if (!updaters || !ids || !first_of || !first_version)
		return KORCH_ENOMEM;
	size_t k = 0, n_first = 0;
	for (size_t i = 0; i < ms->n; i++)
		if (!ms->v[i].applied)
			updaters[k++] = &ms->v[i];
	qsort(updaters, n_updaters, sizeof(*updaters), update_order);
	/* entries move as others are removed: work on identities from here on */
	for (k = 0; k < n_updaters; k++)
		if (!(ids[k] = strdup(updaters[k]->id)))
			goto done;
	size_t length = n_updaters;
	for (size_t i = 0; i < n_updaters && length > MAX_UPDATE_MANAGERS; i++) {
		ssize_t at = managers_find(ms, ids[i]);
		if (at < 0)
			continue;
		_cleanup_free_ char *version = strdup(ms->v[at].api_version);
		_cleanup_free_ char *bucket_id =
			version ? manager_identity(ANCIENT_CHANGES, false, version, NULL) : NULL;
		if (!bucket_id)
			goto done;
		const char *first = NULL;
		for (size_t j = 0; j < n_first && !first; j++)
			if (streq(first_version[j], version))
				first = ids[first_of[j]];
		if (!first) {
			first_of[n_first] = i;
			first_version[n_first++] = steal_pointer(&version);
			continue;
		}
		/* Kubernetes would merge a bucket into itself and then drop it with its fields */
		if (streq(ids[i], bucket_id))
			continue;
		ssize_t b = managers_find(ms, bucket_id);
		if (b < 0) {
			ssize_t f = managers_find(ms, first);
			if (f < 0)
				continue;
			struct fieldset *set = fieldset_copy(ms->v[f].set);
			if (!set)
				goto done;
			managers_remove(ms, (size_t)f);
			if ((b = managers_put(ms, ANCIENT_CHANGES, false, version, NULL, set)) < 0)
				goto done;
			ms->v[b].has_time = false;
			at = managers_find(ms, ids[i]);
		}
		struct fieldset *merged = NULL;
		if (fieldset_union(ms->v[at].set, ms->v[b].set, &merged) < 0)
			goto done;
		fieldset_free(ms->v[b].set);
		ms->v[b].set = merged;
		ms->v[b].has_time = ms->v[at].has_time;
		ms->v[b].time_s = ms->v[at].time_s;
		managers_remove(ms, (size_t)at);
		length--;
	}
	r = 0;
done:
	for (k = 0; k < n_updaters; k++)
		free(ids[k]);
	for (k = 0; k < n_first; k++)
		free(first_version[k]);
	return r;
}

/*
 * What the field manager does for a create, update or patch once the managers are decoded
 * (capManagers, buildManagerInfo, managedFieldsUpdater, stripMeta and SMD's Updater.Update
 * together): the changes from live to newobj, gathered under a temporary identity so that the
 * manager's own earlier fields are treated like anyone's, are taken from every manager; what
 * remains of them after stripping is added to the manager's Update entry, whose time becomes
 * now. Nothing is recorded for the manager when the write changed nothing it can own.
 */
static int
record_update(struct managers *ms, const json_t *live, const json_t *newobj,
	      const struct schema_type *root, const char *manager, const char *api_version,
	      const char *subresource, int64_t now_wall_ns, korch_error **err)
{
	const char *name = manager && *manager ? manager : "unknown";
	_cleanup_fieldset_ struct fieldset *reset = reset_set(root, subresource);
	_cleanup_fieldset_ struct fieldset *strip = strip_set();
	struct typed_comparison cmp = { 0 };
	_cleanup_fieldset_ struct fieldset *mine = NULL;
	if (!reset || !strip)
		return error_oom(err);
	int r = managers_update(ms, live, newobj, root, CURRENT_OPERATION, true, reset, &cmp, NULL,
				err);
	if (r < 0)
		return r;
	r = fieldset_union(cmp.modified, cmp.added, &mine);
	typed_comparison_clear(&cmp);
	if (r < 0 || set_subtract(&mine, strip, false) < 0)
		return error_oom(err);
	if (!fieldset_empty(mine)) {
		_cleanup_free_ char *id = manager_identity(name, false, api_version, subresource);
		if (!id)
			return error_oom(err);
		ssize_t at = managers_find(ms, id);
		struct fieldset *set = NULL;
		if (at >= 0 ? fieldset_union(mine, ms->v[at].set, &set) < 0
			    : !(set = steal_pointer(&mine)))
			return error_oom(err);
		at = managers_put(ms, name, false, api_version, subresource, set);
		if (at < 0)
			return error_oom(err);
		ms->v[at].has_time = true;
		ms->v[at].time_s = now_wall_ns / NSEC_PER_SEC - (now_wall_ns % NSEC_PER_SEC < 0);
	}
	return managers_cap(ms) < 0 ? error_oom(err) : 0;
}

/* An entry list that resets managedFields (isResetManagedFields): [] or [{}]. */
static bool
is_reset(const json_t *list)
{
	if (!json_is_array(list))
		return false;
	if (json_array_size(list) == 0)
		return true;
	const json_t *e = json_array_get(list, 0);
	return json_array_size(list) == 1 && json_is_object(e) && json_object_size(e) == 0;
}

int
apply_record_update(const json_t *old_or_null, json_t *new_obj, const struct schema_type *root,
		    const char *manager, const char *api_version, const char *subresource_or_null,
		    int64_t now_wall_ns, korch_error **err)
{
	if (!json_is_object(new_obj))
		return error_set(err, KORCH_EINVALID,
				 "record update: the new object is not an "
				 "object");
	if (!root || !api_version || !*api_version)
		return error_set(err, KORCH_EINVALID, "record update: no schema or apiVersion");
	if (old_or_null && !json_is_object(old_or_null))
		return error_set(err, KORCH_EINVALID,
				 "record update: the old object is not an "
				 "object");
	const char *subresource =
		subresource_or_null && *subresource_or_null ? subresource_or_null : NULL;
	struct managers ms = { 0 };
	const json_t *requested =
		json_object_get(json_object_get(new_obj, "metadata"), "managedFields");
	/* decodeLiveOrNew: which managedFields the write starts from */
	if (!subresource && is_reset(requested)) {
		/* reset: none */
	} else if (subresource || managers_decode(new_obj, &ms, NULL) < 0 || ms.n == 0) {
		managers_clear(&ms);
		if (old_or_null && managers_decode(old_or_null, &ms, NULL) < 0)
			managers_clear(&ms);
	}
	/* an existing object without managedFields stays without (skipNonAppliedManager) */
	if (ms.n == 0 && old_or_null)
		return managers_encode(&ms, new_obj, err);
	_cleanup_json_ json_t *live = view_without_managed_fields(old_or_null);
	_cleanup_json_ json_t *newc = view_without_managed_fields(new_obj);
	int r = 0;
	if (!live || !newc) {
		r = error_oom(err);
		goto done;
	}
	if ((r = typed_validate(newc, root, true, err)) < 0) {
		r = typed_error(err, r, "failed to convert new object", newc, " to smd typed");
		goto done;
	}
	if ((r = typed_validate(live, root, true, err)) < 0) {
		r = typed_error(err, r, "failed to convert live object", live, " to smd typed");
		goto done;
	}
	r = record_update(&ms, live, newc, root, manager, api_version, subresource, now_wall_ns,
			  err);
	if (r == 0)
		r = managers_encode(&ms, new_obj, err);
done:
	managers_clear(&ms);
	return r;
}

/* ---- Apply ------------------------------------------------------------------------------- */

/* What one apply works on. */
struct apply_ctx {
	const json_t *live;             /* the live object without managedFields ({}: none) */
	const json_t *applied;          /* the configuration */
	const struct schema_type *root; /* the kind's schema */
	const char *name;               /* the manager's name */
	const char *api_version;        /* the version applied at */
	const struct fieldset *reset;   /* fields the write path resets, never owned */
	int64_t now_wall_ns;            /* the time of the apply */
};

/* The conflicts of a failed apply: the managers then, and what each is in conflict on. */
struct conflicts {
	struct managers ms;     /* the entries */
	struct fieldset **sets; /* per entry, NULL where there is no conflict */
};

static void
conflicts_clear(struct conflicts *c)
{
	for (size_t i = 0; c->sets && i < c->ms.n; i++)
		fieldset_free(c->sets[i]);
	free(c->sets);
	managers_clear(&c->ms);
}

/* *set = ENF(*set) under root. */
static int
ensure_named(struct fieldset **set, const struct schema_type *root)
{
	struct fieldset *out = NULL;
	if (fieldset_ensure_named_fields(*set, root, &out) < 0)
		return KORCH_ENOMEM;
	fieldset_free(*set);
	*set = out;
	return 0;
}

/* The fields v sets, with named fields made members (the sets pruning works on). */
static int
named_fieldset(const json_t *v, const struct schema_type *root, struct fieldset **ret,
	       korch_error **err)
{
	struct fieldset *s = NULL;
	int r = typed_to_fieldset_validated(v, root, &s, err);
	if (r < 0)
		return r;
	if (ensure_named(&s, root) < 0) {
		fieldset_free(s);
		return error_oom(err);
	}
	*ret = s;
	return 0;
}

/*
 * Removes from merged what the manager applied last time (last) and no longer applies, unless
 * another manager owns it (Updater.prune with addBackOwnedItems and addBackDanglingItems): the
 * fields of last are removed, everything removed that anyone owns (the manager's new set
 * included) or that was not in last is put back.
 */
static int
prune(const json_t *merged, const struct managers *ms, const struct fieldset *last,
      const struct fieldset *applied, const struct schema_type *root, json_t **ret,
      korch_error **err)
{
	/*
	 * Nothing to prune when the manager applies all it applied last time: whatever the walk
	 * below would remove then is owned (the new set being one of the managers' sets).
	 */
	_cleanup_fieldset_ struct fieldset *dropped = NULL;
	if (!fieldset_empty(last) && fieldset_difference(last, applied, &dropped) < 0)
		return error_oom(err);
	if (fieldset_empty(last) || fieldset_empty(dropped)) {
		*ret = json_incref((json_t *)merged);
		return 0;
	}
	_cleanup_fieldset_ struct fieldset *enf_last = NULL, *managed = NULL, *merged_set = NULL,
					   *pruned_set = NULL, *keep = NULL, *drop = NULL;
	_cleanup_json_ json_t *pruned = NULL, *pruned2 = NULL;
	int r;
	if (fieldset_ensure_named_fields(last, root, &enf_last) < 0 || !(managed = fieldset_new()))
		return error_oom(err);
	if ((r = typed_remove_items(merged, enf_last, root, &pruned, err)) < 0)
		return r;
	/* addBackOwnedItems: drop only what nobody owns */
	for (size_t i = 0; i < ms->n; i++) {
		struct fieldset *u = NULL;
		if (fieldset_union(managed, ms->v[i].set, &u) < 0)
			return error_oom(err);
		fieldset_free(managed);
		managed = u;
	}
	if (ensure_named(&managed, root) < 0)
		return error_oom(err);
	if ((r = named_fieldset(merged, root, &merged_set, err)) < 0 ||
	    (r = named_fieldset(pruned, root, &pruned_set, err)) < 0)
		return r;
	if (fieldset_union(pruned_set, managed, &keep) < 0 ||
	    fieldset_difference(merged_set, keep, &drop) < 0)
		return error_oom(err);
	if ((r = typed_remove_items(merged, drop, root, &pruned2, err)) < 0)
		return r;
	/* addBackDanglingItems: of that, drop only what was applied last time */
	fieldset_free(pruned_set);
	fieldset_free(keep);
	fieldset_free(drop);
	pruned_set = keep = drop = NULL;
	if ((r = named_fieldset(pruned2, root, &pruned_set, err)) < 0)
		return r;
	if (fieldset_difference(merged_set, pruned_set, &keep) < 0 ||
	    fieldset_intersection(keep, enf_last, &drop) < 0)
		return error_oom(err);
	return typed_remove_items(merged, drop, root, ret, err);
}

/*
 * One apply on a copy of the managers (SMD's Updater.Apply, then stripMeta and the time of
 * managedFieldsUpdater). On success *ret_obj is the new object without managedFields and
 * *ret_ms the managers; on conflicts (when force is false) KORCH_ECONFLICT is returned with
 * *ret_conflicts filled and no error set.
 */
static int
apply_run(const struct apply_ctx *ctx, const struct managers *ms_in, bool force, json_t **ret_obj,
	  struct managers *ret_ms, struct conflicts *ret_conflicts, korch_error **err)
{
	struct managers ms = { 0 };
	_cleanup_json_ json_t *merged = NULL, *pruned = NULL;
	_cleanup_fieldset_ struct fieldset *last = NULL, *set = NULL, *strip = strip_set();
	_cleanup_free_ char *id = manager_identity(ctx->name, true, ctx->api_version, NULL);
	struct fieldset **conflict_sets = NULL;
	int r;
	if (!strip || !id || managers_copy(ms_in, &ms) < 0) {
		r = error_oom(err);
		goto done;
	}
	if ((r = typed_merge(ctx->live, ctx->applied, ctx->root, &merged, err)) < 0) {
		r = korch_error_prefix(err, r, "failed to merge config");
		goto done;
	}
	ssize_t at = managers_find(&ms, id);
	if (at >= 0 && !(last = fieldset_copy(ms.v[at].set))) {
		r = error_oom(err);
		goto done;
	}
	if ((r = typed_to_fieldset_validated(ctx->applied, ctx->root, &set, err)) < 0)
		goto done;
	if (set_subtract(&set, ctx->reset, true) < 0) {
		r = error_oom(err);
		goto done;
	}
	/* managers_put takes the set, freeing it on failure */
	if (managers_put(&ms, ctx->name, true, ctx->api_version, NULL, steal_pointer(&set)) < 0) {
		r = error_oom(err);
		goto done;
	}
	if ((r = prune(merged, &ms, last, ms.v[managers_find(&ms, id)].set, ctx->root, &pruned,
		       err)) < 0) {
		r = korch_error_prefix(err, r, "failed to prune fields");
		goto done;
	}
	r = managers_update(&ms, ctx->live, pruned, ctx->root, id, force, ctx->reset, NULL,
			    &conflict_sets, err);
	if (r == KORCH_ECONFLICT) {
		ret_conflicts->ms = ms;
		ret_conflicts->sets = conflict_sets;
		return r;
	}
	if (r < 0)
		goto done;
	bool changed = !value_equal(ctx->live, pruned);
	if ((at = managers_find(&ms, id)) >= 0) {
		if (set_subtract(&ms.v[at].set, strip, false) < 0) {
			r = error_oom(err);
			goto done;
		}
		if (fieldset_empty(ms.v[at].set)) {
			managers_remove(&ms, (size_t)at);
		} else if (changed) {
			ms.v[at].has_time = true;
			ms.v[at].time_s = ctx->now_wall_ns / NSEC_PER_SEC -
					  (ctx->now_wall_ns % NSEC_PER_SEC < 0);
		}
	}
	json_t *obj = changed ? steal_pointer(&pruned) : json_deep_copy(ctx->live);
	if (!obj) {
		r = error_oom(err);
		goto done;
	}
	*ret_obj = obj;
	*ret_ms = ms;
	return 0;
done:
	managers_clear(&ms);
	return r;
}

/* fieldset_iterate() callback: appends the path's text to a ptrvec. */
static int
collect_path(const struct path_element *path, size_t n, void *userdata)
{
	struct ptrvec *paths = userdata;
	struct strbuf sb = STRBUF_INIT;
	if (path_to_string(path, n, &sb) < 0) {
		strbuf_free(&sb);
		return KORCH_ENOMEM;
	}
	char *text = strbuf_steal(&sb);
	if (!text || ptrvec_push(paths, text) < 0) {
		free(text);
		return KORCH_ENOMEM;
	}
	return 0;
}

static int
identity_order(const void *a, const void *b)
{
	const struct manager *p = *(const struct manager *const *)a;
	const struct manager *q = *(const struct manager *const *)b;
	return strcmp(p->id, q->id);
}

/*
 * Kubernetes' conflict error (NewConflictError): `Apply failed with 1 conflict: conflict with
 * WHO: PATH`, or `Apply failed with N conflicts: conflicts with WHO:\n- PATH\n...` grouped by
 * manager in identity order, and one cause per field (reason FieldManagerConflict, the path,
 * "conflict with WHO"). Causes come in the same order (Kubernetes lists them in map order).
 */
static int
conflict_error(const struct conflicts *c, korch_error **err)
{
	size_t n = c->ms.n;
	_cleanup_free_ const struct manager **order = calloc(n ? n : 1, sizeof(*order));
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	struct ptrvec paths = PTRVEC_INIT, owners = PTRVEC_INIT;
	korch_error *e = NULL;
	int r = KORCH_ENOMEM;
	if (!order)
		return error_oom(err);
	for (size_t i = 0; i < n; i++)
		order[i] = &c->ms.v[i];
	qsort(order, n, sizeof(*order), identity_order);
	/* the paths of each manager in the set's order; owners[k] names the manager of group k */
	for (size_t i = 0; i < n; i++) {
		const struct fieldset *set = c->sets[order[i] - c->ms.v];
		struct strbuf who = STRBUF_INIT;
		if (!set)
			continue;
		if (manager_print(order[i], &who) < 0 ||
		    fieldset_iterate(set, collect_path, &paths) < 0) {
			strbuf_free(&who);
			goto done;
		}
		char *w = strbuf_steal(&who);
		while (owners.n < paths.n) {
			char *copy = w ? strdup(w) : NULL;
			if (!copy || ptrvec_push(&owners, copy) < 0) {
				free(copy);
				free(w);
				goto done;
			}
		}
		free(w);
	}
	if (paths.n == 1) {
		strbuf_printf(&msg, "Apply failed with 1 conflict: conflict with %s: %s",
			      (const char *)owners.items[0], (const char *)paths.items[0]);
	} else {
		strbuf_printf(&msg, "Apply failed with %zu conflicts: ", paths.n);
		for (size_t k = 0; k < paths.n; k++) {
			/* distinct identities print distinctly: a new name starts a group */
			if (k == 0 || !streq(owners.items[k], owners.items[k - 1]))
				strbuf_printf(&msg, "%sconflicts with %s:", k ? "\n" : "",
					      (const char *)owners.items[k]);
			strbuf_printf(&msg, "\n- %s", (const char *)paths.items[k]);
		}
	}
	if (msg.oom)
		goto done;
	error_set(&e, KORCH_ECONFLICT, "%s", strbuf_str(&msg));
	for (size_t k = 0; k < paths.n; k++)
		error_add_cause(&e, APPLY_REASON_CONFLICT, paths.items[k], "conflict with %s",
				(const char *)owners.items[k]);
	r = error_propagate(err, &e, KORCH_ECONFLICT);
done:
	ptrvec_free(&paths, free);
	ptrvec_free(&owners, free);
	korch_error_free(e);
	return r == KORCH_ENOMEM ? error_oom(err) : r;
}

/*
 * The fields kubectl's client-side apply annotation on live sets with the values live still has
 * (lastAppliedManager.allowedConflictsFromLastApplied): an apply by "kubectl" is not in
 * conflict on them. KORCH_EINVALID (no error set) when live has no usable annotation.
 */
static int
allowed_from_last_applied(const json_t *live, const struct schema_type *root,
			  const char *api_version, struct fieldset **ret)
{
	const json_t *text =
		json_object_get(json_object_get(json_object_get(live, "metadata"), "annotations"),
				APPLY_LAST_APPLIED_ANNOTATION);
	if (!json_is_string(text) || json_string_length(text) == 0)
		return KORCH_EINVALID;
	_cleanup_json_ json_t *last = json_loadb(json_string_value(text), json_string_length(text),
						 JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(last) || !streq(string_at(last, "apiVersion", NULL), api_version) ||
	    typed_validate(last, root, false, NULL) < 0 ||
	    typed_validate(live, root, false, NULL) < 0)
		return KORCH_EINVALID;
	_cleanup_fieldset_ struct fieldset *set = NULL;
	struct typed_comparison cmp = { 0 };
	int r = typed_to_fieldset_validated(last, root, &set, NULL);
	if (r == 0)
		r = typed_compare(last, live, root, &cmp, NULL);
	if (r == 0 && (set_subtract(&set, cmp.modified, false) < 0 ||
		       set_subtract(&set, cmp.added, false) < 0 ||
		       set_subtract(&set, cmp.removed, false) < 0))
		r = KORCH_ENOMEM;
	typed_comparison_clear(&cmp);
	if (r < 0)
		return r;
	*ret = steal_pointer(&set);
	return 0;
}

/*
 * Rewrites obj's last-applied annotation, when it has one, to the applied configuration without
 * that annotation, encoded as kube-apiserver encodes an unstructured object (keys sorted, a
 * newline at the end): lastAppliedUpdater, for the manager "kubectl".
 */
static int
update_last_applied(json_t *obj, const json_t *applied, korch_error **err)
{
	json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
	const json_t *text = json_object_get(annotations, APPLY_LAST_APPLIED_ANNOTATION);
	if (!json_is_string(text) || json_string_length(text) == 0)
		return 0;
	_cleanup_json_ json_t *config = json_deep_copy(applied);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (!config)
		return error_oom(err);
	json_object_del(json_object_get(json_object_get(config, "metadata"), "annotations"),
			APPLY_LAST_APPLIED_ANNOTATION);
	int r = strbuf_put_go_json(&sb, config);
	if (r == KORCH_EINVALID)
		return error_set(err, r,
				 "failed to build last-applied annotation: a number is not "
				 "finite");
	if (r < 0 || strbuf_putc(&sb, '\n') < 0 ||
	    json_object_set_new(annotations, APPLY_LAST_APPLIED_ANNOTATION,
				json_stringn(sb.buf, sb.len)) < 0)
		return error_oom(err);
	return 0;
}

/*
 * The apply with lastAppliedManager around it: a "kubectl" apply whose conflicts all lie in
 * the fields its client-side apply annotation still describes is run again with force; its other
 * conflicts are reported without those.
 */
static int
apply_with_last_applied(const struct apply_ctx *ctx, const struct managers *ms, bool force,
			json_t **ret_obj, struct managers *ret_ms, korch_error **err)
{
	struct conflicts c = { 0 };
	int r = apply_run(ctx, ms, force, ret_obj, ret_ms, &c, err);
	if (r != KORCH_ECONFLICT)
		return r;
	_cleanup_fieldset_ struct fieldset *allowed = NULL;
	if (streq(ctx->name, APPLY_MANAGER_KUBECTL) &&
	    allowed_from_last_applied(ctx->live, ctx->root, ctx->api_version, &allowed) == 0) {
		bool remain = false;
		for (size_t i = 0; i < c.ms.n; i++) {
			if (!c.sets[i])
				continue;
			if (set_subtract(&c.sets[i], allowed, false) < 0) {
				conflicts_clear(&c);
				return error_oom(err);
			}
			if (fieldset_empty(c.sets[i])) {
				fieldset_free(c.sets[i]);
				c.sets[i] = NULL;
			} else {
				remain = true;
			}
		}
		if (!remain) {
			conflicts_clear(&c);
			return apply_run(ctx, ms, true, ret_obj, ret_ms, &c, err);
		}
	}
	r = conflict_error(&c, err);
	conflicts_clear(&c);
	return r;
}

int
apply_object(const json_t *live_or_null, const json_t *applied, const struct schema_type *root,
	     const char *manager, const char *api_version, bool force, int64_t now_wall_ns,
	     json_t **ret, korch_error **err)
{
	if (!json_is_object(applied))
		return error_set(err, KORCH_EINVALID, "apply: the configuration is not an object");
	if (live_or_null && !json_is_object(live_or_null))
		return error_set(err, KORCH_EINVALID, "apply: the live object is not an object");
	if (!root || !api_version || !*api_version)
		return error_set(err, KORCH_EINVALID, "apply: no schema or apiVersion");
	const char *patch_version = string_at(applied, "apiVersion", NULL);
	if (!streq(patch_version, api_version))
		return error_set(err, KORCH_EINVALID,
				 "Incorrect version specified in apply patch. Specified patch "
				 "version: %s, expected: %s",
				 patch_version, api_version);
	const json_t *requested =
		json_object_get(json_object_get(applied, "metadata"), "managedFields");
	if (requested && !json_is_null(requested))
		return error_set(err, KORCH_EINVALID, "metadata.managedFields must be nil");

	struct managers ms = { 0 }, out_ms = { 0 };
	_cleanup_json_ json_t *live = view_without_managed_fields(live_or_null);
	_cleanup_json_ json_t *out = NULL;
	_cleanup_fieldset_ struct fieldset *reset = reset_set(root, NULL);
	int r;
	if (!live || !reset)
		return error_oom(err);
	if (live_or_null && (r = managers_decode(live_or_null, &ms, err)) < 0)
		return korch_error_prefix(err, r, "failed to decode managed fields");
	if ((r = typed_validate(live, root, true, err)) < 0) {
		r = typed_error(err, r, "failed to create typed live object", live, "");
		goto done;
	}
	if ((r = typed_validate(applied, root, false, err)) < 0) {
		r = typed_error(err, r, "failed to create typed patch object", applied, "");
		goto done;
	}
	/* what an object without managedFields holds belongs to "before-first-apply" */
	if (ms.n == 0) {
		_cleanup_json_ json_t *empty = json_object();
		if (!empty) {
			r = error_oom(err);
			goto done;
		}
		if ((r = record_update(&ms, empty, live, root, BEFORE_FIRST_APPLY, api_version,
				       NULL, now_wall_ns, err)) < 0)
			goto done;
	}
	struct apply_ctx ctx = {
		.live = live,
		.applied = applied,
		.root = root,
		.name = manager && *manager ? manager : "unknown",
		.api_version = api_version,
		.reset = reset,
		.now_wall_ns = now_wall_ns,
	};
	if ((r = apply_with_last_applied(&ctx, &ms, force, &out, &out_ms, err)) < 0)
		goto done;
	/* nulls go as kube-apiserver's decoding of the merged object drops them */
	if ((r = schema_check(out, root, FIELD_VALIDATION_IGNORE, NULL, err)) < 0)
		goto done;
	if (streq(ctx.name, APPLY_MANAGER_KUBECTL) &&
	    (r = update_last_applied(out, applied, err)) < 0)
		goto done;
	if ((r = managers_encode(&out_ms, out, err)) < 0)
		goto done;
	*ret = steal_pointer(&out);
done:
	managers_clear(&ms);
	managers_clear(&out_ms);
	return r;
}
