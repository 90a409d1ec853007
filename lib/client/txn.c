/*
 * txn.c - client transactions: applies, creates, patches, bindings and deletes worked out one by
 * one against the current state, then committed to the store all or none, each conditional on
 * the revision it was worked out against (so a change made meanwhile fails the whole transaction
 * with a conflict). Creates and updates (a status among them) join them, so that a controller
 * records what it wrote and its own status in one store commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/vec.h"
#include "client/client-internal.h"

struct client_txn {
	struct client *client;     /* borrowed */
	struct client_plan *plans; /* the writes, in the order added */
	size_t n, cap;             /* entries used and allocated */
	struct hashmap keys;       /* "plural/ns/name" of every plan (values unused) */
	struct hashmap namespaces; /* names of the Namespaces the transaction creates */
};

int
client_txn_new(struct client *c, struct client_txn **ret, korch_error **err)
{
	struct client_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return error_oom(err);
	t->client = c;
	*ret = t;
	return 0;
}

void
client_txn_free(struct client_txn *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		client_plan_clear(&t->plans[i]);
	free(t->plans);
	hashmap_free(&t->keys, NULL);
	hashmap_free(&t->namespaces, NULL);
	free(t);
}

/* Whether p takes an allocation record an earlier plan of the transaction takes or frees. */
static bool
allocs_collide(const struct client_txn *t, const struct client_plan *p)
{
	for (size_t i = 0; i < t->n; i++)
		for (size_t a = 0; a < t->plans[i].n_allocs; a++)
			for (size_t b = 0; b < p->n_allocs; b++)
				if (t->plans[i].allocs[a].resource == p->allocs[b].resource &&
				    strcmp(t->plans[i].allocs[a].name, p->allocs[b].name) == 0)
					return true;
	return false;
}

/*
 * Keeps a plan; one that changes nothing is only remembered as a check. A key may appear once
 * (a hash of the keys keeps large transactions, such as a scheduler's batch of bindings, linear).
 */
static int
add_plan(struct client_txn *t, struct client_plan *p, korch_error **err)
{
	char *key = NULL;
	if (asprintf(&key, "%s.%s/%s/%s", p->kind->plural, p->kind->group, p->ns, p->name) < 0) {
		client_plan_clear(p);
		return error_oom(err);
	}
	int r = 0;
	if (hashmap_contains(&t->keys, key))
		r = error_set(err, KORCH_EINVALID, "%s \"%s\" appears twice in one transaction",
			      p->kind->plural, p->name);
	else if (hashmap_put(&t->keys, key, NULL, NULL) < 0)
		r = error_oom(err);
	free(key);
	struct client_plan *slot = r < 0 ? NULL : VEC_PUSH(t->plans, t->n, t->cap);
	if (!slot) {
		client_plan_clear(p);
		return r < 0 ? r : error_oom(err);
	}
	*slot = *p;
	return 0;
}

/* One way of working out a write: an apply, a patch or a create with its arguments. */
struct planner {
	int (*fn)(struct client *c, const struct planner *pl, struct client_plan *ret,
		  korch_error **err);
	const char *name; /* the object's, for errors */
	const json_t *obj;
	const struct kind_info *kind;
	const char *ns;
	enum client_patch_type type;
	const char *subresource;
	const struct client_write_opts *o;
};

/*
 * Works a write out and keeps it: against the Namespaces the transaction creates as well as the
 * stored ones; when it took an IP or port an earlier write of the transaction took (two
 * Services picking the same free one), works it out again. *ret (may be NULL) receives a
 * reference to the object the commit will store.
 */
static int
add_planned(struct client_txn *t, const struct planner *pl_in, json_t **ret, korch_error **err)
{
	struct client_write_opts opts = pl_in->o ? *pl_in->o : (struct client_write_opts){ 0 };
	opts.txn_namespaces = &t->namespaces;
	struct planner pl = *pl_in;
	pl.o = &opts;
	struct client_plan p;
	int r;
	for (int attempt = 0;; attempt++) {
		if ((r = pl.fn(t->client, &pl, &p, err)) < 0)
			return r;
		if (!allocs_collide(t, &p))
			break;
		client_plan_clear(&p);
		if (attempt == 8)
			return error_set(err, KORCH_ECONFLICT,
					 "%s: an IP or node port it asks for is taken by another "
					 "object of the same transaction",
					 pl.name ? pl.name : "");
	}
	bool new_namespace = p.op == STORE_OP_CREATE && strcmp(p.kind->kind, "Namespace") == 0;
	char *name = new_namespace ? strdup(p.name) : NULL;
	if (new_namespace && !name) {
		client_plan_clear(&p);
		return error_oom(err);
	}
	json_t *obj = json_incref(p.obj);
	if ((r = add_plan(t, &p, err)) == 0 && name &&
	    hashmap_put(&t->namespaces, name, NULL, NULL) < 0)
		r = error_oom(err);
	free(name);
	if (r == 0 && ret)
		*ret = obj;
	else
		json_decref(obj);
	return r;
}

static int
plan_apply(struct client *c, const struct planner *pl, struct client_plan *ret, korch_error **err)
{
	return client_plan_apply(c, pl->obj, pl->o, ret, err);
}

static int
plan_patch(struct client *c, const struct planner *pl, struct client_plan *ret, korch_error **err)
{
	return client_plan_patch(c, pl->kind, pl->ns, pl->name, pl->type, pl->obj, pl->subresource,
				 pl->o, ret, err);
}

static int
plan_create(struct client *c, const struct planner *pl, struct client_plan *ret, korch_error **err)
{
	return client_plan_create(c, pl->obj, pl->o, ret, err);
}

static const char *
name_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

int
client_txn_apply(struct client_txn *t, const json_t *obj, const struct client_write_opts *o,
		 korch_error **err)
{
	struct planner pl = { .fn = plan_apply, .name = name_of(obj), .obj = obj, .o = o };
	return add_planned(t, &pl, NULL, err);
}

int
client_txn_patch(struct client_txn *t, const struct kind_info *k, const char *ns, const char *name,
		 enum client_patch_type type, const json_t *patch, const char *subresource,
		 const struct client_write_opts *o, korch_error **err)
{
	struct planner pl = { .fn = plan_patch,
			      .name = name,
			      .obj = patch,
			      .kind = k,
			      .ns = ns,
			      .type = type,
			      .subresource = subresource,
			      .o = o };
	return add_planned(t, &pl, NULL, err);
}

int
client_txn_delete(struct client_txn *t, const struct kind_info *k, const char *ns, const char *name,
		  korch_error **err)
{
	struct client_plan p;
	int r = client_plan_delete(t->client, k, ns, name, NULL, &p, err);
	return r < 0 ? r : add_plan(t, &p, err);
}

static int
plan_update(struct client *c, const struct planner *pl, struct client_plan *ret, korch_error **err)
{
	return client_plan_update(c, pl->obj, pl->subresource, pl->o, ret, err);
}

int
client_txn_create(struct client_txn *t, const json_t *obj, const struct client_write_opts *o,
		  json_t **ret, korch_error **err)
{
	struct planner pl = { .fn = plan_create, .name = name_of(obj), .obj = obj, .o = o };
	return add_planned(t, &pl, ret, err);
}

int
client_txn_update(struct client_txn *t, const json_t *obj, const char *subresource,
		  const struct client_write_opts *o, json_t **ret, korch_error **err)
{
	struct planner pl = { .fn = plan_update,
			      .name = name_of(obj),
			      .obj = obj,
			      .subresource = subresource,
			      .o = o };
	return add_planned(t, &pl, ret, err);
}

const json_t *
client_txn_find(const struct client_txn *t, const struct kind_info *k, const char *ns,
		const char *name)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct client_plan *p = &t->plans[i];
		if (p->kind == k && strcmp(p->ns, k->namespaced && ns ? ns : "") == 0 &&
		    strcmp(p->name, name) == 0)
			return p->op == STORE_OP_DELETE ? NULL : p->obj;
	}
	return NULL;
}

int
client_txn_bind(struct client_txn *t, const struct client_binding *b, korch_error **err)
{
	struct client_plan p;
	int r = client_plan_bind(t->client, b, &p, err);
	return r < 0 ? r : add_plan(t, &p, err);
}

size_t
client_txn_size(const struct client_txn *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->plans[i].op != STORE_OP_CHECK)
			n++;
	return n;
}

int
client_txn_commit(struct client_txn *t, int64_t *ret_revision, korch_error **err)
{
	size_t total = 0;
	for (size_t i = 0; i < t->n; i++)
		total += 1 + t->plans[i].n_allocs;
	struct store_op *ops = calloc(total ? total : 1, sizeof(*ops));
	if (!ops) {
		client_txn_free(t);
		return error_oom(err);
	}
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < t->n && r == 0; i++) {
		struct store_op *plan_ops = NULL;
		size_t k = 0;
		if ((r = client_plan_ops(&t->plans[i], &plan_ops, &k, err)) == 0) {
			memcpy(ops + n, plan_ops, k * sizeof(*ops));
			n += k;
			free(plan_ops);
		}
	}
	if (r == 0)
		r = store_commit(t->client->store, ops, n, ret_revision, err);
	free(ops);
	client_txn_free(t);
	return r;
}
