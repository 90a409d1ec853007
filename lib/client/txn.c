/*
 * txn.c - client transactions: applies and deletes worked out one by one against the current
 * state, then committed to the store all or none, each conditional on the revision it was
 * worked out against (so a change made meanwhile fails the whole transaction with a conflict).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/vec.h"
#include "client/client-internal.h"

struct client_txn {
	struct client *client;     /* borrowed */
	struct client_plan *plans; /* the writes, in the order added */
	size_t n, cap;             /* entries used and allocated */
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
	hashmap_free(&t->namespaces, NULL);
	free(t);
}

static bool
same_key(const struct client_plan *a, const struct client_plan *b)
{
	return a->kind == b->kind && strcmp(a->ns, b->ns) == 0 && strcmp(a->name, b->name) == 0;
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

/* Keeps a plan; one that changes nothing is only remembered as a check. */
static int
add_plan(struct client_txn *t, struct client_plan *p, korch_error **err)
{
	for (size_t i = 0; i < t->n; i++)
		if (same_key(&t->plans[i], p)) {
			int r = error_set(err, KORCH_EINVALID,
					  "%s \"%s\" appears twice in one transaction",
					  p->kind->plural, p->name);
			client_plan_clear(p);
			return r;
		}
	struct client_plan *slot = VEC_PUSH(t->plans, t->n, t->cap);
	if (!slot) {
		client_plan_clear(p);
		return error_oom(err);
	}
	*slot = *p;
	return 0;
}

int
client_txn_apply(struct client_txn *t, const json_t *obj, const struct client_write_opts *o,
		 korch_error **err)
{
	struct client_write_opts opts = o ? *o : (struct client_write_opts){ 0 };
	opts.txn_namespaces = &t->namespaces;
	struct client_plan p;
	int r;
	for (int attempt = 0;; attempt++) {
		if ((r = client_plan_apply(t->client, obj, &opts, &p, err)) < 0)
			return r;
		if (!allocs_collide(t, &p))
			break;
		/* Two Services of one transaction picked the same IP or port: pick again. */
		client_plan_clear(&p);
		if (attempt == 8)
			return error_set(err, KORCH_ECONFLICT,
					 "%s: an IP or node port it asks for is taken by another "
					 "object of the same transaction",
					 json_string_value(json_object_get(
						 json_object_get(obj, "metadata"), "name")));
	}
	bool new_namespace = p.op == STORE_OP_CREATE && strcmp(p.kind->kind, "Namespace") == 0;
	char *name = new_namespace ? strdup(p.name) : NULL;
	if (new_namespace && !name) {
		client_plan_clear(&p);
		return error_oom(err);
	}
	if ((r = add_plan(t, &p, err)) == 0 && name &&
	    hashmap_put(&t->namespaces, name, NULL, NULL) < 0)
		r = error_oom(err);
	free(name);
	return r;
}

int
client_txn_delete(struct client_txn *t, const struct kind_info *k, const char *ns, const char *name,
		  korch_error **err)
{
	struct client_plan p;
	int r = client_plan_delete(t->client, k, ns, name, NULL, &p, err);
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
