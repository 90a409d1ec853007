/*
 * handlers.c - the REST verbs on a kind's paths: get, list (plain, Table, metadata), create,
 * update, the four patch types, delete, deletecollection, and the subresources status, scale
 * (autoscaling/v1 Scale), binding and eviction. Each decodes the request, calls lib/client and
 * answers with the object or a Status; none validates or writes anything itself.
 */
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "api/patch.h"
#include "api/proto.h"
#include "api/selector.h"
#include "api/table.h"
#include "base/error.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "server/server-internal.h"

enum body_type {
	BODY_JSON,
	BODY_YAML,
	BODY_PROTOBUF,
	BODY_PATCH_MERGE,
	BODY_PATCH_JSON,
	BODY_PATCH_STRATEGIC,
	BODY_PATCH_APPLY,
};

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* The media type of Content-Type without its parameters, lower-case. */
static void
media_type(const char *header, char buf[static 96])
{
	size_t n = 0;
	if (header) {
		while (*header == ' ')
			header++;
		for (; header[n] && header[n] != ';' && header[n] != ' ' && n < 95; n++)
			buf[n] = (char)(header[n] >= 'A' && header[n] <= 'Z' ? header[n] + 32
									     : header[n]);
	}
	buf[n] = '\0';
}

/*
 * A protobuf body (kubectl's typed clients send them): the envelope, then the object of the
 * path's kind, or the TokenRequest or Eviction of those subresources.
 */
static int
decode_protobuf(struct request *req, json_t **ret, korch_error **err)
{
	const struct route *r = &req->route;
	_cleanup_free_ char *av = NULL, *kind = NULL;
	const uint8_t *raw;
	size_t raw_len;
	int rc = proto_unwrap((const uint8_t *)req->body.buf, req->body.len, &av, &kind, &raw,
			      &raw_len, err);
	if (rc < 0)
		return rc;
	if (streq(r->subresource, "token"))
		return proto_decode_token_request(raw, raw_len, ret, err);
	if (streq(r->subresource, "eviction"))
		return proto_decode_eviction(raw, raw_len, ret, err);
	if (r->subresource && !streq(r->subresource, "status"))
		return error_set(err, KORCH_EINVALID,
				 "protobuf bodies are not supported for %s/%s; send JSON",
				 r->resource, r->subresource);
	if (*kind && !streq(kind, r->kind->kind))
		return error_set(err, KORCH_EINVALID,
				 "the kind in the data (%s) does not match the expected kind (%s)",
				 kind, r->kind->kind);
	json_t *obj = NULL;
	if ((rc = proto_decode(raw, raw_len, r->kind->schema, &obj, err)) < 0)
		return rc;
	json_t *ordered =
		json_pack("{s:s, s:s}", "apiVersion", *av ? av : "", "kind", r->kind->kind);
	if (!ordered) {
		json_decref(obj);
		return error_oom(err);
	}
	if (!*av) {
		char buf[64];
		json_object_set_new(ordered, "apiVersion",
				    json_string(kind_api_version(r->kind, buf)));
	}
	json_object_update(ordered, obj);
	json_decref(obj);
	*ret = ordered;
	return 0;
}

static int decode_body(struct request *req, bool patch, enum body_type *ret_type, json_t **ret);

int
request_body_object(struct request *req, json_t **ret)
{
	enum body_type type;
	return decode_body(req, false, &type, ret);
}

/*
 * Decodes the request body. Writes accept JSON and YAML; patches their four content types. An
 * unknown content type is 415, a body that does not parse 400, both with kube-apiserver's words.
 */
static int
decode_body(struct request *req, bool patch, enum body_type *ret_type, json_t **ret)
{
	char mt[96];
	media_type(request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE), mt);
	enum body_type type;
	if (!patch && streq(mt, "application/json"))
		type = BODY_JSON;
	else if (!patch && (streq(mt, "application/yaml") || streq(mt, "application/x-yaml")))
		type = BODY_YAML;
	else if (!patch && streq(mt, "application/vnd.kubernetes.protobuf"))
		type = BODY_PROTOBUF;
	else if (patch && streq(mt, "application/merge-patch+json"))
		type = BODY_PATCH_MERGE;
	else if (patch && streq(mt, "application/json-patch+json"))
		type = BODY_PATCH_JSON;
	else if (patch && streq(mt, "application/strategic-merge-patch+json"))
		type = BODY_PATCH_STRATEGIC;
	else if (patch && streq(mt, "application/apply-patch+yaml"))
		type = BODY_PATCH_APPLY;
	else {
		if (patch)
			respond_status(
				req, 415, "UnsupportedMediaType",
				"the body of the request was in an unknown format - accepted "
				"media types include: application/json-patch+json, "
				"application/merge-patch+json, application/apply-patch+yaml, "
				"application/strategic-merge-patch+json");
		else
			respond_status(
				req, 415, "UnsupportedMediaType",
				"the body of the request was in an unknown format - accepted "
				"media types include: application/json, application/yaml, "
				"application/vnd.kubernetes.protobuf");
		return KORCH_EPROTO;
	}
	if (req->body.len == 0) {
		respond_status(req, 400, "BadRequest", "the request body is empty");
		return KORCH_EINVALID;
	}
	_cleanup_error_ korch_error *e = NULL;
	json_t *value = NULL;
	int r;
	if (type == BODY_PROTOBUF) {
		r = decode_protobuf(req, &value, &e);
	} else if (type == BODY_YAML || type == BODY_PATCH_APPLY) {
		struct codec_docs docs = { 0 };
		r = codec_yaml_decode(req->body.buf, req->body.len, &docs, &e);
		if (r == 0 && docs.n != 1) {
			r = error_set(&e, KORCH_EINVALID, "expected one YAML document, got %zu",
				      docs.n);
		} else if (r == 0) {
			value = json_incref(docs.docs[0]);
		}
		codec_docs_free(&docs);
	} else {
		r = codec_json_decode(req->body.buf, req->body.len, &value, &e);
	}
	if (r < 0) {
		if (r == KORCH_ETOOLARGE)
			respond_status(req, 413, "RequestEntityTooLarge", "%s",
				       korch_error_message(e));
		else
			respond_status(
				req, 400, "BadRequest", "the request body is not valid %s: %s",
				type == BODY_YAML || type == BODY_PATCH_APPLY ? "YAML" : "JSON",
				korch_error_message(e));
		return r;
	}
	if (type == BODY_PATCH_JSON ? !json_is_array(value) : !json_is_object(value)) {
		respond_status(req, 400, "BadRequest", "the request body must be a JSON %s",
			       type == BODY_PATCH_JSON ? "array of operations" : "object");
		json_decref(value);
		return KORCH_EINVALID;
	}
	*ret_type = type;
	*ret = value;
	return 0;
}

/* fieldManager, fieldValidation, dryRun and force from the query. */
static int
write_opts(struct request *req, struct client_write_opts *o)
{
	*o = (struct client_write_opts){ .validation = FIELD_VALIDATION_WARN };
	o->field_manager = request_arg(req, "fieldManager");
	if (o->field_manager && strlen(o->field_manager) > 128) {
		respond_status(req, 422, "Invalid",
			       "fieldManager: Too long: may not be more than 128 bytes");
		return KORCH_EINVALID;
	}
	const char *fv = request_arg(req, "fieldValidation");
	if (!fv || !*fv || streq(fv, "Warn"))
		o->validation = FIELD_VALIDATION_WARN;
	else if (streq(fv, "Strict"))
		o->validation = FIELD_VALIDATION_STRICT;
	else if (streq(fv, "Ignore"))
		o->validation = FIELD_VALIDATION_IGNORE;
	else {
		respond_status(req, 400, "BadRequest",
			       "fieldValidation: Unsupported value: \"%s\": supported values: "
			       "\"Ignore\", \"Strict\", \"Warn\"",
			       fv);
		return KORCH_EINVALID;
	}
	const char *dry = request_arg(req, "dryRun");
	if (dry && *dry) {
		if (!streq(dry, "All")) {
			respond_status(
				req, 400, "BadRequest",
				"dryRun: Unsupported value: \"%s\": supported values: \"All\"",
				dry);
			return KORCH_EINVALID;
		}
		o->dry_run = true;
	}
	const char *force = request_arg(req, "force");
	if (force && *force) {
		if (!streq(force, "true") && !streq(force, "false")) {
			respond_status(req, 400, "BadRequest", "force: invalid value \"%s\"",
				       force);
			return KORCH_EINVALID;
		}
		o->force = streq(force, "true");
	}
	return 0;
}

/* Warnings the write path collected go out as Warning headers. */
static void
pass_warnings(struct request *req, json_t *warnings)
{
	size_t i;
	json_t *w;
	json_array_foreach (warnings, i, w)
		if (json_is_string(w))
			request_warn(req, json_string_value(w));
}

/*
 * A written object's apiVersion, kind and namespace must be those of the path: missing ones are
 * taken from the path, different ones are a 400.
 */
static int
check_body_object(struct request *req, json_t *obj)
{
	const struct route *r = &req->route;
	const struct kind_info *k = r->kind;
	char av[64];
	kind_api_version(k, av);
	json_t *jav = json_object_get(obj, "apiVersion");
	json_t *jkind = json_object_get(obj, "kind");
	if (!jav || json_is_null(jav))
		json_object_set_new(obj, "apiVersion", json_string(av));
	else if (!json_is_string(jav) || !streq(json_string_value(jav), av)) {
		respond_status(req, 400, "BadRequest",
			       "the API version in the data (%s) does not match the expected API "
			       "version (%s)",
			       json_is_string(jav) ? json_string_value(jav) : "", av);
		return KORCH_EINVALID;
	}
	if (!jkind || json_is_null(jkind))
		json_object_set_new(obj, "kind", json_string(k->kind));
	else if (!json_is_string(jkind) || !streq(json_string_value(jkind), k->kind)) {
		respond_status(req, 400, "BadRequest",
			       "the kind in the data (%s) does not match the expected kind (%s)",
			       json_is_string(jkind) ? json_string_value(jkind) : "", k->kind);
		return KORCH_EINVALID;
	}
	json_t *meta = json_object_get(obj, "metadata");
	if (!meta || json_is_null(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	if (!json_is_object(meta))
		return 0; /* the write path's schema check names it */
	if (k->namespaced) {
		const char *ns = meta_str(obj, "namespace");
		if (!ns || !*ns)
			json_object_set_new(meta, "namespace", json_string(r->ns ? r->ns : ""));
		else if (r->ns && !streq(ns, r->ns)) {
			respond_status(req, 400, "BadRequest",
				       "the namespace of the provided object does not match the "
				       "namespace sent on the request");
			return KORCH_EINVALID;
		}
	}
	if (r->name) {
		const char *name = meta_str(obj, "name");
		if (!name || !*name)
			json_object_set_new(meta, "name", json_string(r->name));
		else if (!streq(name, r->name)) {
			respond_status(req, 400, "BadRequest",
				       "the name of the object (%s) does not match the name on the "
				       "URL (%s)",
				       name, r->name);
			return KORCH_EINVALID;
		}
	}
	return 0;
}

/* ---- reads ---- */

enum accept_as
request_accept_as(const struct request *req)
{
	const char *accept = request_header(req, MHD_HTTP_HEADER_ACCEPT);
	if (!accept)
		return ACCEPT_OBJECT;
	/* The first media type that korch serves wins; kubectl lists Table before plain JSON. */
	const char *table = strstr(accept, "as=Table");
	const char *meta = strstr(accept, "as=PartialObjectMetadata");
	if (table && (!meta || table < meta))
		return ACCEPT_TABLE;
	if (meta)
		return ACCEPT_METADATA;
	return ACCEPT_OBJECT;
}

json_t *
partial_metadata(const json_t *obj)
{
	return json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
			 "meta.k8s.io/v1", "metadata", json_object_get(obj, "metadata"));
}

json_t *
request_table(struct request *req, const json_t *objects, korch_error **err)
{
	const char *inc = request_arg(req, "includeObject");
	enum table_include include = TABLE_INCLUDE_METADATA;
	if (streq(inc, "Object"))
		include = TABLE_INCLUDE_OBJECT;
	else if (streq(inc, "None"))
		include = TABLE_INCLUDE_NONE;
	json_t *table = NULL;
	int64_t now = korch_clock_wall_ns(korch_loop_clock(req->srv->loop));
	if (table_build(req->route.kind->kind, objects, now, include, &table, err) < 0)
		return NULL;
	return table;
}

static void
answer_object(struct request *req, unsigned code, json_t *obj)
{
	enum accept_as as = request_accept_as(req);
	if (as == ACCEPT_OBJECT) {
		respond_json(req, code, obj);
		return;
	}
	if (as == ACCEPT_METADATA) {
		_cleanup_json_ json_t *pm = partial_metadata(obj);
		respond_json(req, code, pm);
		return;
	}
	_cleanup_json_ json_t *items = json_pack("[O]", obj);
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *table = items ? request_table(req, items, &e) : NULL;
	if (!table) {
		respond_error(req, e ? korch_error_code(e) : KORCH_ENOMEM, e);
		return;
	}
	json_t *meta = json_object_get(table, "metadata");
	const char *rv = meta_str(obj, "resourceVersion");
	if (json_is_object(meta) && rv)
		json_object_set_new(meta, "resourceVersion", json_string(rv));
	respond_json(req, code, table);
}

static void
do_get(struct request *req)
{
	const struct route *r = &req->route;
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *obj = NULL;
	if (request_accept_as(req) == ACCEPT_OBJECT) {
		/* The stored text is the answer: no parsing and no encoding on the hot path. */
		char *text = NULL;
		size_t len = 0;
		int rc =
			client_get_text(req->srv->client, r->kind, r->ns, r->name, &text, &len, &e);
		if (rc < 0)
			respond_error(req, rc, e);
		else
			respond_body(req, 200, NULL, text, len);
		return;
	}
	int rc = client_get(req->srv->client, r->kind, r->ns, r->name, &obj, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	answer_object(req, 200, obj);
}

static int
parse_limit(struct request *req, size_t *ret)
{
	const char *limit = request_arg(req, "limit");
	int64_t n = 0;
	if (limit && *limit && (parse_int64(limit, &n) < 0 || n < 0)) {
		respond_status(req, 400, "BadRequest", "limit: invalid value \"%s\"", limit);
		return KORCH_EINVALID;
	}
	*ret = (size_t)n;
	return 0;
}

/*
 * A list whose items are the stored texts (texts: comma-separated, as store_list's text_out
 * gives them): its envelope (items empty) encoded, the texts put in as they are.
 */
static void
respond_text_list(struct request *req, const json_t *list, const struct strbuf *texts)
{
	_cleanup_free_ char *head = json_dumps(list, JSON_COMPACT);
	struct strbuf sb = STRBUF_INIT;
	/* head ends with "[]}" (items is the envelope's last member): the texts go between. */
	size_t hl = head ? strlen(head) : 0;
	if (!head || hl < 3 || memcmp(head + hl - 3, "[]}", 3) != 0 || texts->oom ||
	    strbuf_reserve(&sb, hl + texts->len) < 0) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	strbuf_append(&sb, head, hl - 2);
	strbuf_append(&sb, strbuf_str(texts), texts->len);
	strbuf_puts(&sb, "]}");
	if (sb.oom) {
		strbuf_free(&sb);
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	size_t len = sb.len;
	respond_body(req, 200, NULL, strbuf_steal(&sb), len);
}

static void
do_list(struct request *req)
{
	const struct route *r = &req->route;
	enum accept_as as = request_accept_as(req);
	_cleanup_strbuf_ struct strbuf texts = STRBUF_INIT;
	struct client_list_opts lo = {
		.label_selector = request_arg(req, "labelSelector"),
		.field_selector = request_arg(req, "fieldSelector"),
		.continue_token = request_arg(req, "continue"),
		.text_out = as == ACCEPT_OBJECT ? &texts : NULL,
	};
	if (parse_limit(req, &lo.limit) < 0)
		return;
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *list = NULL;
	int rc = client_list(req->srv->client, r->kind, r->ns, &lo, &list, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	if (as == ACCEPT_OBJECT) {
		respond_text_list(req, list, &texts);
		return;
	}
	json_t *items = json_object_get(list, "items");
	if (as == ACCEPT_METADATA) {
		json_t *out = json_array();
		size_t i;
		json_t *item;
		json_array_foreach (items, i, item)
			json_array_append_new(out, partial_metadata(item));
		_cleanup_json_ json_t *pml =
			json_pack("{s:s, s:s, s:O, s:o}", "kind", "PartialObjectMetadataList",
				  "apiVersion", "meta.k8s.io/v1", "metadata",
				  json_object_get(list, "metadata"), "items", out);
		respond_json(req, 200, pml);
		return;
	}
	_cleanup_json_ json_t *table = request_table(req, items, &e);
	if (!table) {
		respond_error(req, e ? korch_error_code(e) : KORCH_ENOMEM, e);
		return;
	}
	json_object_set(table, "metadata", json_object_get(list, "metadata"));
	respond_json(req, 200, table);
}

/* ---- writes ---- */

static void
do_create(struct request *req)
{
	struct client_write_opts o;
	enum body_type type;
	_cleanup_json_ json_t *obj = NULL;
	if (write_opts(req, &o) < 0 || decode_body(req, false, &type, &obj) < 0 ||
	    check_body_object(req, obj) < 0)
		return;
	_cleanup_json_ json_t *warnings = o.warnings = json_array();
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *created = NULL;
	int rc = client_create(req->srv->client, obj, &o, &created, &e);
	pass_warnings(req, warnings);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_json(req, 201, created);
}

static void
do_update(struct request *req, const char *subresource)
{
	struct client_write_opts o;
	enum body_type type;
	_cleanup_json_ json_t *obj = NULL;
	if (write_opts(req, &o) < 0 || decode_body(req, false, &type, &obj) < 0 ||
	    check_body_object(req, obj) < 0)
		return;
	_cleanup_json_ json_t *warnings = o.warnings = json_array();
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *updated = NULL;
	int rc = client_update(req->srv->client, obj, subresource, &o, &updated, &e);
	pass_warnings(req, warnings);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_json(req, 200, updated);
}

static enum client_patch_type
patch_type_of(enum body_type t)
{
	switch (t) {
	case BODY_PATCH_JSON: return CLIENT_PATCH_JSON;
	case BODY_PATCH_STRATEGIC: return CLIENT_PATCH_STRATEGIC;
	case BODY_PATCH_APPLY: return CLIENT_PATCH_APPLY;
	default: return CLIENT_PATCH_MERGE;
	}
}

static void
do_patch(struct request *req, const char *subresource)
{
	const struct route *r = &req->route;
	struct client_write_opts o;
	enum body_type type;
	_cleanup_json_ json_t *patch = NULL;
	if (write_opts(req, &o) < 0 || decode_body(req, true, &type, &patch) < 0)
		return;
	if (type == BODY_PATCH_APPLY && (!o.field_manager || !*o.field_manager)) {
		respond_status(req, 422, "Invalid",
			       "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
			       "value: is required for apply patch");
		return;
	}
	if (type != BODY_PATCH_APPLY && request_arg(req, "force")) {
		respond_status(
			req, 422, "Invalid",
			"PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not "
			"be specified for non-apply patch");
		return;
	}
	struct client *c = req->srv->client;
	_cleanup_error_ korch_error *e = NULL;
	bool existed = true;
	if (type == BODY_PATCH_APPLY) {
		/* An apply patch creates what is missing: 201 then. */
		_cleanup_json_ json_t *cur = NULL;
		existed = client_get(c, r->kind, r->ns, r->name, &cur, NULL) == 0;
		if (check_body_object(req, patch) < 0)
			return;
	}
	_cleanup_json_ json_t *warnings = o.warnings = json_array();
	_cleanup_json_ json_t *out = NULL;
	int rc = client_patch(c, r->kind, r->ns, r->name, patch_type_of(type), patch, subresource,
			      &o, &out, &e);
	pass_warnings(req, warnings);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_json(req, existed ? 200 : 201, out);
}

/* DeleteOptions from the body (when there is one) and the query. */
static int
delete_opts(struct request *req, struct client_delete_opts *o, json_t **ret_body)
{
	*o = (struct client_delete_opts){ .grace_period_s = -1 };
	json_t *body = NULL;
	if (req->body.len) {
		_cleanup_error_ korch_error *e = NULL;
		if (codec_json_decode(req->body.buf, req->body.len, &body, &e) < 0 ||
		    !json_is_object(body)) {
			respond_status(req, 400, "BadRequest",
				       "the request body is not valid DeleteOptions: %s",
				       e ? korch_error_message(e) : "not a JSON object");
			json_decref(body);
			return KORCH_EINVALID;
		}
	}
	*ret_body = body;
	json_t *grace = json_object_get(body, "gracePeriodSeconds");
	if (json_is_integer(grace))
		o->grace_period_s = json_integer_value(grace);
	const char *g = request_arg(req, "gracePeriodSeconds");
	int64_t n;
	if (g && *g) {
		if (parse_int64(g, &n) < 0) {
			respond_status(req, 400, "BadRequest",
				       "gracePeriodSeconds: invalid value \"%s\"", g);
			return KORCH_EINVALID;
		}
		o->grace_period_s = n;
	}
	if (o->grace_period_s < -1)
		o->grace_period_s = 0;
	const char *prop = json_string_value(json_object_get(body, "propagationPolicy"));
	if (request_arg(req, "propagationPolicy"))
		prop = request_arg(req, "propagationPolicy");
	if (json_is_true(json_object_get(body, "orphanDependents")) ||
	    request_arg_true(req, "orphanDependents"))
		o->propagation = CLIENT_PROPAGATION_ORPHAN;
	if (prop && *prop) {
		if (streq(prop, "Background"))
			o->propagation = CLIENT_PROPAGATION_BACKGROUND;
		else if (streq(prop, "Foreground"))
			o->propagation = CLIENT_PROPAGATION_FOREGROUND;
		else if (streq(prop, "Orphan"))
			o->propagation = CLIENT_PROPAGATION_ORPHAN;
		else {
			respond_status(req, 400, "BadRequest",
				       "propagationPolicy: Unsupported value: \"%s\": supported "
				       "values: \"Foreground\", \"Background\", \"Orphan\"",
				       prop);
			return KORCH_EINVALID;
		}
	}
	json_t *pre = json_object_get(body, "preconditions");
	o->precondition_uid = json_string_value(json_object_get(pre, "uid"));
	o->precondition_rv = json_string_value(json_object_get(pre, "resourceVersion"));
	json_t *dry = json_object_get(body, "dryRun");
	size_t i;
	json_t *v;
	json_array_foreach (dry, i, v)
		if (streq(json_string_value(v), "All"))
			o->dry_run = true;
	const char *qdry = request_arg(req, "dryRun");
	if (qdry && *qdry) {
		if (!streq(qdry, "All")) {
			respond_status(
				req, 400, "BadRequest",
				"dryRun: Unsupported value: \"%s\": supported values: \"All\"",
				qdry);
			return KORCH_EINVALID;
		}
		o->dry_run = true;
	}
	return 0;
}

/* Whether a deleted object is still there (marked, with finalizers or a grace period). */
static bool
still_present(const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	if (!json_object_get(meta, "deletionTimestamp"))
		return false;
	return json_array_size(json_object_get(meta, "finalizers")) > 0 ||
	       json_integer_value(json_object_get(meta, "deletionGracePeriodSeconds")) > 0;
}

static void
do_delete(struct request *req)
{
	const struct route *r = &req->route;
	struct client_delete_opts o;
	_cleanup_json_ json_t *body = NULL;
	if (delete_opts(req, &o, &body) < 0)
		return;
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *obj = NULL;
	int rc = client_delete(req->srv->client, r->kind, r->ns, r->name, &o, &obj, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	if (still_present(obj)) {
		respond_json(req, 200, obj);
		return;
	}
	/* Gone at once: kube-apiserver's Success Status with the object's identity. */
	_cleanup_json_ json_t *st =
		json_pack("{s:s, s:s, s:{}, s:s, s:{s:s, s:s, s:s?}}", "kind", "Status",
			  "apiVersion", "v1", "metadata", "status", "Success", "details", "name",
			  r->name, "kind", r->resource, "uid", meta_str(obj, "uid"));
	if (st && *r->kind->group)
		json_object_set_new(json_object_get(st, "details"), "group",
				    json_string(r->kind->group));
	respond_json(req, 200, st);
}

static void
do_delete_collection(struct request *req)
{
	const struct route *r = &req->route;
	struct client_delete_opts o;
	_cleanup_json_ json_t *body = NULL;
	if (delete_opts(req, &o, &body) < 0)
		return;
	struct client_list_opts lo = {
		.label_selector = request_arg(req, "labelSelector"),
		.field_selector = request_arg(req, "fieldSelector"),
	};
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *list = NULL;
	struct client *c = req->srv->client;
	int rc = client_list(c, r->kind, r->ns, &lo, &list, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	json_t *deleted = json_array();
	json_t *items = json_object_get(list, "items");
	size_t i;
	json_t *item;
	json_array_foreach (items, i, item) {
		json_t *out = NULL;
		korch_error *ie = NULL;
		rc = client_delete(c, r->kind, meta_str(item, "namespace"), meta_str(item, "name"),
				   &o, &out, &ie);
		if (rc == KORCH_ENOTFOUND) {
			korch_error_free(ie);
			continue;
		}
		if (rc < 0) {
			json_decref(deleted);
			respond_error(req, rc, ie);
			korch_error_free(ie);
			return;
		}
		json_array_append_new(deleted, out);
	}
	json_object_set_new(list, "items", deleted);
	respond_json(req, 200, list);
}

/* ---- subresources: scale, binding, eviction ---- */

/* The Scale view and its writes are lib/client's (client_get_scale, client_update_scale). */
static void
do_scale(struct request *req)
{
	const struct route *r = &req->route;
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *scale = NULL;
	int rc = client_get_scale(req->srv->client, r->kind, r->ns, r->name, &scale, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	if (streq(req->method, "GET") || streq(req->method, "HEAD")) {
		respond_json(req, 200, scale);
		return;
	}
	enum body_type type;
	_cleanup_json_ json_t *body = NULL;
	if (decode_body(req, streq(req->method, "PATCH"), &type, &body) < 0)
		return;
	_cleanup_json_ json_t *patched = NULL;
	if (streq(req->method, "PUT")) {
		patched = json_incref(body);
	} else {
		switch (type) {
		case BODY_PATCH_JSON: rc = patch_json_patch(scale, body, &patched, &e); break;
		case BODY_PATCH_APPLY:
		case BODY_PATCH_MERGE:
		case BODY_PATCH_STRATEGIC:
		default: rc = patch_json_merge(scale, body, &patched, &e); break;
		}
		if (rc < 0) {
			respond_error(req, rc, e);
			return;
		}
		/* A patch of the Scale is not conditional unless it says so. */
		if (!meta_str(body, "resourceVersion"))
			json_object_del(json_object_get(patched, "metadata"), "resourceVersion");
	}
	json_t *replicas = json_object_get(json_object_get(patched, "spec"), "replicas");
	if (replicas && !json_is_integer(replicas)) {
		respond_status(
			req, 400, "BadRequest",
			"Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: "
			"expected an integer");
		return;
	}
	/* The object the URL names, whatever the body says. */
	json_t *meta = json_object_get(patched, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(patched, "metadata", meta);
	}
	json_object_set_new(meta, "name", json_string(r->name));
	if (r->ns)
		json_object_set_new(meta, "namespace", json_string(r->ns));
	struct client_write_opts o;
	if (write_opts(req, &o) < 0)
		return;
	_cleanup_json_ json_t *out = NULL;
	rc = client_update_scale(req->srv->client, r->kind, patched, &o, &out, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_json(req, 200, out);
}

/* 201 with a Success Status, as pods/binding and pods/eviction answer. */
static void
respond_created(struct request *req)
{
	_cleanup_json_ json_t *st =
		json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
			  "metadata", "status", "Success", "code", 201);
	respond_json(req, 201, st);
}

static void
do_binding(struct request *req)
{
	const struct route *r = &req->route;
	enum body_type type;
	_cleanup_json_ json_t *body = NULL;
	if (decode_body(req, false, &type, &body) < 0)
		return;
	json_t *target = json_object_get(body, "target");
	const char *node = json_string_value(json_object_get(target, "name"));
	const char *kind = json_string_value(json_object_get(target, "kind"));
	if (!node || !*node || (kind && *kind && !streq(kind, "Node"))) {
		respond_status(
			req, 422, "Invalid",
			"Binding.core \"%s\" is invalid: target.name: Required value: a node "
			"to bind to",
			r->name);
		return;
	}
	const char *uid =
		json_string_value(json_object_get(json_object_get(body, "metadata"), "uid"));
	struct client_write_opts o;
	if (write_opts(req, &o) < 0)
		return;
	if (o.dry_run) {
		respond_status(req, 400, "BadRequest", "dryRun is not supported for pods/binding");
		return;
	}
	_cleanup_error_ korch_error *e = NULL;
	int rc = client_bind_pod(req->srv->client, r->ns, r->name, uid, node, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_created(req);
}

static void
do_eviction(struct request *req)
{
	const struct route *r = &req->route;
	enum body_type type;
	_cleanup_json_ json_t *body = NULL;
	if (decode_body(req, false, &type, &body) < 0)
		return;
	json_t *opts = json_object_get(body, "deleteOptions");
	struct client_delete_opts o = { .grace_period_s = -1 };
	if (json_is_integer(json_object_get(opts, "gracePeriodSeconds")))
		o.grace_period_s = json_integer_value(json_object_get(opts, "gracePeriodSeconds"));
	o.dry_run = request_arg(req, "dryRun") != NULL;
	_cleanup_error_ korch_error *e = NULL;
	int rc = client_delete(req->srv->client, r->kind, r->ns, r->name, &o, NULL, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_created(req);
}

void
handle_resource(struct request *req)
{
	const struct route *r = &req->route;
	const char *m = req->method;
	const char *sub = r->subresource;
	if (streq(req->verb, "watch")) {
		watch_start(req);
		return;
	}
	if (sub) {
		if (streq(sub, "status")) {
			if (streq(m, "PUT"))
				do_update(req, "status");
			else if (streq(m, "PATCH"))
				do_patch(req, "status");
			else
				do_get(req);
		} else if (streq(sub, "scale")) {
			do_scale(req);
		} else if (streq(sub, "binding")) {
			do_binding(req);
		} else if (streq(sub, "eviction")) {
			do_eviction(req);
		} else if (streq(sub, "log")) {
			handle_log(req);
		} else if (streq(sub, "exec")) {
			handle_exec(req);
		} else if (streq(sub, "token")) {
			handle_token(req);
		} else {
			respond_status(req, 405, "MethodNotAllowed",
				       "%s/%s is not supported by korch", r->resource, sub);
		}
		return;
	}
	if (streq(m, "GET") || streq(m, "HEAD")) {
		if (r->name)
			do_get(req);
		else
			do_list(req);
	} else if (streq(m, "POST")) {
		do_create(req);
	} else if (streq(m, "PUT")) {
		do_update(req, NULL);
	} else if (streq(m, "PATCH")) {
		do_patch(req, NULL);
	} else if (streq(m, "DELETE")) {
		if (r->name)
			do_delete(req);
		else
			do_delete_collection(req);
	}
}
