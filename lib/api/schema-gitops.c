/*
 * schema-gitops.c - the field schema of korch's own kind GitRepository (gitops.korch.io/v1),
 * written by hand from the generated building blocks (ObjectMeta, Condition, Time) since no
 * Kubernetes OpenAPI document defines it. Fields of each object type are sorted by name, as
 * schema_field()'s bsearch needs (tests/api/test_schema.c checks every type).
 *
 * spec:   url (required), ref {branch | tag | commit}, path, interval (a Go duration), prune,
 *         suspend, secretRef {name}, targetNamespace
 * status: observedGeneration, lastAppliedCommit, lastAttemptedCommit, lastAppliedTime,
 *         lastHandledSyncRequest, inventory [{apiVersion, kind, namespace, name}], conditions
 */
#include <stddef.h>

#include "api/schema.h"

static const struct schema_type t_string = { .kind = SCHEMA_STRING };
static const struct schema_type t_bool = { .kind = SCHEMA_BOOLEAN };
static const struct schema_type t_int64 = { .kind = SCHEMA_INTEGER, .format = "int64" };

static const struct schema_field ref_fields[] = {
	{ "branch", &t_string, false },
	{ "commit", &t_string, false },
	{ "tag", &t_string, false },
};

static const struct schema_type gitops_v1_GitRepositoryRef = {
	.name = "io.korch.gitops.v1.GitRepositoryRef",
	.kind = SCHEMA_OBJECT,
	.fields = ref_fields,
	.n_fields = sizeof(ref_fields) / sizeof(ref_fields[0]),
};

static const struct schema_field secret_ref_fields[] = {
	{ "name", &t_string, true },
};

static const struct schema_type gitops_v1_SecretReference = {
	.name = "io.korch.gitops.v1.SecretReference",
	.kind = SCHEMA_OBJECT,
	.fields = secret_ref_fields,
	.n_fields = sizeof(secret_ref_fields) / sizeof(secret_ref_fields[0]),
	.map_atomic = true,
};

static const struct schema_field spec_fields[] = {
	{ "interval", &t_string, false },
	{ "path", &t_string, false },
	{ "prune", &t_bool, false },
	{ "ref", &gitops_v1_GitRepositoryRef, false },
	{ "secretRef", &gitops_v1_SecretReference, false },
	{ "suspend", &t_bool, false },
	{ "targetNamespace", &t_string, false },
	{ "url", &t_string, true },
};

static const struct schema_type gitops_v1_GitRepositorySpec = {
	.name = "io.korch.gitops.v1.GitRepositorySpec",
	.kind = SCHEMA_OBJECT,
	.fields = spec_fields,
	.n_fields = sizeof(spec_fields) / sizeof(spec_fields[0]),
};

static const struct schema_field inventory_entry_fields[] = {
	{ "apiVersion", &t_string, true },
	{ "kind", &t_string, true },
	{ "name", &t_string, true },
	{ "namespace", &t_string, false },
};

static const struct schema_type gitops_v1_InventoryEntry = {
	.name = "io.korch.gitops.v1.InventoryEntry",
	.kind = SCHEMA_OBJECT,
	.fields = inventory_entry_fields,
	.n_fields = sizeof(inventory_entry_fields) / sizeof(inventory_entry_fields[0]),
};

/* The controller writes the inventory whole: an atomic list. */
static const struct schema_type t_inventory = {
	.kind = SCHEMA_ARRAY,
	.elem = &gitops_v1_InventoryEntry,
};

static const char *const condition_keys[] = { "type", NULL };

/* Conditions as Kubernetes' own status types keep them: a map list keyed by type. */
static const struct schema_type t_conditions = {
	.kind = SCHEMA_ARRAY,
	.elem = &schema_meta_v1_Condition,
	.patch_strategy = SCHEMA_PATCH_MERGE,
	.list_type = SCHEMA_LIST_MAP,
	.merge_key = "type",
	.list_map_keys = condition_keys,
};

static const struct schema_field status_fields[] = {
	{ "conditions", &t_conditions, false },
	{ "inventory", &t_inventory, false },
	{ "lastAppliedCommit", &t_string, false },
	{ "lastAppliedTime", &schema_meta_v1_Time, false },
	{ "lastAttemptedCommit", &t_string, false },
	{ "lastHandledSyncRequest", &t_string, false },
	{ "observedGeneration", &t_int64, false },
};

static const struct schema_type gitops_v1_GitRepositoryStatus = {
	.name = "io.korch.gitops.v1.GitRepositoryStatus",
	.kind = SCHEMA_OBJECT,
	.fields = status_fields,
	.n_fields = sizeof(status_fields) / sizeof(status_fields[0]),
};

static const struct schema_field repository_fields[] = {
	{ "apiVersion", &t_string, false },
	{ "kind", &t_string, false },
	{ "metadata", &schema_meta_v1_ObjectMeta, false },
	{ "spec", &gitops_v1_GitRepositorySpec, false },
	{ "status", &gitops_v1_GitRepositoryStatus, false },
};

const struct schema_type schema_gitops_v1_GitRepository = {
	.name = "io.korch.gitops.v1.GitRepository",
	.kind = SCHEMA_OBJECT,
	.fields = repository_fields,
	.n_fields = sizeof(repository_fields) / sizeof(repository_fields[0]),
};

const struct schema_type *const schema_handwritten_types[] = {
	&schema_gitops_v1_GitRepository, &gitops_v1_GitRepositoryRef, &gitops_v1_GitRepositorySpec,
	&gitops_v1_GitRepositoryStatus,  &gitops_v1_InventoryEntry,   &gitops_v1_SecretReference,
};
const size_t schema_n_handwritten_types =
	sizeof(schema_handwritten_types) / sizeof(schema_handwritten_types[0]);
