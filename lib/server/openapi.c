/*
 * openapi.c - OpenAPI v3 documents generated from lib/api's field schema: the root lists one
 * document per group version; each document has, per kind, a PATCH operation tagged with its
 * group-version-kind and the fieldValidation parameter (so kubectl delegates validation to the
 * server), and components.schemas with every named type reachable from the group version's
 * kinds (so `kubectl explain` walks the fields). The PATCH operations carry no request body:
 * kubectl then computes strategic merge patches from its own types, as kubectl-compat.md §3.4
 * explains.
 */
#include <stdio.h>
#include <string.h>
#include <nettle/sha2.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/util.h"
#include "config.h"
#include "server/server-internal.h"

static const char *const kind_names[] = {
	[SCHEMA_STRING] = "string",   [SCHEMA_INTEGER] = "integer", [SCHEMA_NUMBER] = "number",
	[SCHEMA_BOOLEAN] = "boolean", [SCHEMA_OBJECT] = "object",   [SCHEMA_MAP] = "object",
	[SCHEMA_ARRAY] = "array",
};

static json_t *type_schema(const struct schema_type *t, struct hashmap *seen, json_t *schemas);

/* Adds the named type t (and what it reaches) to schemas once. */
static void
define_named(const struct schema_type *t, struct hashmap *seen, json_t *schemas)
{
	const struct schema_type *orig = schema_type_by_name(t->name);
	if (orig)
		t = orig;
	if (hashmap_contains(seen, t->name))
		return;
	hashmap_put(seen, t->name, (void *)t, NULL);
	json_t *def = json_object();
	/* Added before recursing, so that cycles (JSONSchemaProps) end. */
	json_object_set_new(schemas, t->name, def);
	switch (t->kind) {
	case SCHEMA_OBJECT: {
		json_object_set_new(def, "type", json_string("object"));
		json_t *props = json_object();
		json_t *required = json_array();
		for (size_t i = 0; i < t->n_fields; i++) {
			const struct schema_field *f = &t->fields[i];
			json_object_set_new(props, f->name, type_schema(f->type, seen, schemas));
			if (f->required)
				json_array_append_new(required, json_string(f->name));
		}
		json_object_set_new(def, "properties", props);
		if (json_array_size(required))
			json_object_set_new(def, "required", required);
		else
			json_decref(required);
		if (t->map_atomic)
			json_object_set_new(def, "x-kubernetes-map-type", json_string("atomic"));
		break;
	}
	case SCHEMA_INT_OR_STRING:
		json_object_set_new(def, "type", json_string("string"));
		json_object_set_new(def, "format", json_string("int-or-string"));
		break;
	case SCHEMA_QUANTITY: json_object_set_new(def, "type", json_string("string")); break;
	case SCHEMA_TIME:
		json_object_set_new(def, "type", json_string("string"));
		json_object_set_new(def, "format", json_string("date-time"));
		break;
	case SCHEMA_ANY:
		json_object_set_new(def, "type", json_string("object"));
		json_object_set_new(def, "x-kubernetes-preserve-unknown-fields", json_true());
		break;
	default: {
		json_t *inline_def =
			type_schema(&(struct schema_type){ .kind = t->kind,
							   .format = t->format,
							   .elem = t->elem,
							   .enum_values = t->enum_values },
				    seen, schemas);
		json_object_update(def, inline_def);
		json_decref(inline_def);
		break;
	}
	}
	/* The kinds of the registry carry their group-version-kind. */
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		if (k->schema == t || (k->schema->name && streq(k->schema->name, t->name))) {
			json_object_set_new(def, "x-kubernetes-group-version-kind",
					    json_pack("[{s:s, s:s, s:s}]", "group", k->group,
						      "kind", k->kind, "version", k->version));
			break;
		}
	}
}

static json_t *
type_schema(const struct schema_type *t, struct hashmap *seen, json_t *schemas)
{
	if (t->name) {
		define_named(t, seen, schemas);
		char ref[256];
		snprintf(ref, sizeof(ref), "#/components/schemas/%s", t->name);
		json_t *s = json_pack("{s:[{s:s}]}", "allOf", "$ref", ref);
		if (t->patch_strategy & SCHEMA_PATCH_RETAIN_KEYS)
			json_object_set_new(s, "x-kubernetes-patch-strategy",
					    json_string("retainKeys"));
		if (t->map_atomic)
			json_object_set_new(s, "x-kubernetes-map-type", json_string("atomic"));
		return s;
	}
	json_t *s = json_object();
	switch (t->kind) {
	case SCHEMA_STRING:
	case SCHEMA_INTEGER:
	case SCHEMA_NUMBER:
	case SCHEMA_BOOLEAN:
		json_object_set_new(s, "type", json_string(kind_names[t->kind]));
		if (t->format)
			json_object_set_new(s, "format", json_string(t->format));
		if (t->enum_values) {
			json_t *e = json_array();
			for (const char *const *v = t->enum_values; *v; v++)
				json_array_append_new(e, json_string(*v));
			json_object_set_new(s, "enum", e);
		}
		break;
	case SCHEMA_MAP:
		json_object_set_new(s, "type", json_string("object"));
		json_object_set_new(s, "additionalProperties", type_schema(t->elem, seen, schemas));
		if (t->map_atomic)
			json_object_set_new(s, "x-kubernetes-map-type", json_string("atomic"));
		break;
	case SCHEMA_ARRAY: {
		json_object_set_new(s, "type", json_string("array"));
		json_object_set_new(s, "items", type_schema(t->elem, seen, schemas));
		static const char *const list_types[] = { "atomic", "set", "map" };
		if (t->list_type <= SCHEMA_LIST_MAP && t->list_type != SCHEMA_LIST_ATOMIC)
			json_object_set_new(s, "x-kubernetes-list-type",
					    json_string(list_types[t->list_type]));
		if (t->list_map_keys) {
			json_t *keys = json_array();
			for (const char *const *k = t->list_map_keys; *k; k++)
				json_array_append_new(keys, json_string(*k));
			json_object_set_new(s, "x-kubernetes-list-map-keys", keys);
		}
		if (t->patch_strategy & SCHEMA_PATCH_MERGE) {
			json_object_set_new(
				s, "x-kubernetes-patch-strategy",
				json_string((t->patch_strategy & SCHEMA_PATCH_RETAIN_KEYS)
						    ? "merge,retainKeys"
						    : "merge"));
			if (t->merge_key)
				json_object_set_new(s, "x-kubernetes-patch-merge-key",
						    json_string(t->merge_key));
		}
		break;
	}
	case SCHEMA_INT_OR_STRING:
		json_object_set_new(s, "type", json_string("string"));
		json_object_set_new(s, "format", json_string("int-or-string"));
		break;
	case SCHEMA_QUANTITY: json_object_set_new(s, "type", json_string("string")); break;
	case SCHEMA_TIME:
		json_object_set_new(s, "type", json_string("string"));
		json_object_set_new(s, "format", json_string("date-time"));
		break;
	case SCHEMA_BYTES:
		json_object_set_new(s, "type", json_string("string"));
		json_object_set_new(s, "format", json_string("byte"));
		break;
	case SCHEMA_ANY:
	case SCHEMA_OBJECT:
		json_object_set_new(s, "type", json_string("object"));
		json_object_set_new(s, "x-kubernetes-preserve-unknown-fields", json_true());
		break;
	}
	return s;
}

/* A stable hash of one group version's document: what korch version generated it. */
static void
gv_hash(const char *gv, char out[static 17])
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx sha;
	sha256_init(&sha);
	sha256_update(&sha, strlen(KORCH_VERSION), (const uint8_t *)KORCH_VERSION);
	sha256_update(&sha, strlen(gv), (const uint8_t *)gv);
	sha256_update(&sha, sizeof(schema_n_named_types), (const uint8_t *)&schema_n_named_types);
	sha256_digest(&sha, sizeof(digest), digest);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02X", digest[i]);
}

static json_t *
root_document(void)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		char key[128], url[256], hash[17];
		if (*k->group)
			snprintf(key, sizeof(key), "apis/%s/%s", k->group, k->version);
		else
			snprintf(key, sizeof(key), "api/%s", k->version);
		if (json_object_get(paths, key))
			continue;
		gv_hash(key, hash);
		snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, hash);
		json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
	}
	return json_pack("{s:o}", "paths", paths);
}

static json_t *
patch_operation(const struct kind_info *k)
{
	return json_pack(
		"{s:{s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, "
		"{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}], s:{s:{s:s}}}}",
		"patch", "x-kubernetes-action", "patch", "operationId", k->kind,
		"x-kubernetes-group-version-kind", "group", k->group, "version", k->version, "kind",
		k->kind, "parameters", "name", "dryRun", "in", "query", "schema", "type", "string",
		"name", "fieldManager", "in", "query", "schema", "type", "string", "name",
		"fieldValidation", "in", "query", "schema", "type", "string", "name", "force", "in",
		"query", "schema", "type", "boolean", "responses", "200", "description", "OK");
}

static json_t *
gv_document(const char *group, const char *version)
{
	json_t *paths = json_object();
	json_t *schemas = json_object();
	struct hashmap seen = HASHMAP_INIT;
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		if (!streq(k->group, group) || !streq(k->version, version))
			continue;
		char path[256];
		if (*group)
			snprintf(path, sizeof(path), "/apis/%s/%s%s/%s/{name}", group, version,
				 k->namespaced ? "/namespaces/{namespace}" : "", k->plural);
		else
			snprintf(path, sizeof(path), "/api/%s%s/%s/{name}", version,
				 k->namespaced ? "/namespaces/{namespace}" : "", k->plural);
		json_object_set_new(paths, path, patch_operation(k));
		define_named(k->schema, &seen, schemas);
	}
	hashmap_free(&seen, NULL);
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
			 "Kubernetes", "version", "v1.32.0", "paths", paths, "components",
			 "schemas", schemas);
}

void
handle_openapi(struct request *req)
{
	const struct route *r = &req->route;
	_cleanup_json_ json_t *doc =
		r->type == ROUTE_OPENAPI_ROOT ? root_document() : gv_document(r->group, r->version);
	if (!doc) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	respond_json(req, 200, doc);
}
