/*
 * store-writer - a second process writing to a store, for the tests that need one.
 *
 *   store-writer seq PATH ACKFD N       N writes in a fixed pattern (creates, updates, deletes,
 *                                       three-op transactions) in namespace "ns1"
 *   store-writer crash PATH ACKFD SEED  random writes in namespace "crash" until killed,
 *                                       with a bounded compaction step now and then
 *
 * After each commit returned 0 it writes one line per operation to ACKFD, the whole commit in
 * one write(2) (atomic on a pipe): "REV OP NAME N\n" with OP one of A (created), M (modified),
 * D (deleted), and N the object's spec.n (0 for D). Any unexpected error exits with status 2
 * and a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "store/store.h"

#define CRASH_KEYS 40

static void _printf_(1, 2) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "store-writer: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static json_t *
make_obj(const char *ns, const char *name, int n)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i, s:s}}", "apiVersion",
			      "apps/v1", "kind", "Deployment", "metadata", "name", name,
			      "namespace", ns, "labels", "writer", "yes", "spec", "n", n, "pad",
			      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	if (!o)
		die("out of memory");
	return o;
}

/* Commits ops and acknowledges them on ackfd. */
static int64_t
commit_ack(struct store *s, int ackfd, struct store_op *ops, size_t n)
{
	korch_error *err = NULL;
	int64_t rev = 0;
	if (store_commit(s, ops, n, &rev, &err) < 0)
		die("commit: %s", korch_error_message(err));
	struct strbuf ack = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char op = ops[i].type == STORE_OP_CREATE   ? 'A'
			  : ops[i].type == STORE_OP_UPDATE ? 'M'
							   : 'D';
		int v = ops[i].obj ? (int)json_integer_value(json_object_get(
					     json_object_get(ops[i].obj, "spec"), "n"))
				   : 0;
		strbuf_printf(&ack, "%lld %c %s %d\n", (long long)rev, op, ops[i].key.name, v);
	}
	if (ack.oom || write_all(ackfd, ack.buf, ack.len) < 0)
		die("acknowledge revision %lld", (long long)rev);
	strbuf_free(&ack);
	return rev;
}

static struct store *
open_store(const char *path)
{
	struct store *s = NULL;
	korch_error *err = NULL;
	if (store_open(path, NULL, &s, &err) < 0)
		die("%s", korch_error_message(err));
	return s;
}

/* The fixed pattern the cross-process watch test expects. */
static int
run_seq(const char *path, int ackfd, int n)
{
	struct store *s = open_store(path);
	char names[4096][16];
	int live = 0, next = 0;
	for (int i = 0; i < n; i++) {
		struct store_op ops[3] = { 0 };
		size_t n_ops = 0;
		json_t *objs[3] = { NULL };
		if (i % 10 == 9 && live >= 2) {
			snprintf(names[live], 16, "o%d", next++);
			objs[0] = make_obj("ns1", names[live], i);
			ops[0] = (struct store_op){ .type = STORE_OP_CREATE,
						    .key = { "apps", "deployments", "ns1",
							     names[live] },
						    .obj = objs[0] };
			objs[1] = make_obj("ns1", names[0], i);
			ops[1] = (struct store_op){ .type = STORE_OP_UPDATE,
						    .key = { "apps", "deployments", "ns1",
							     names[0] },
						    .obj = objs[1] };
			ops[2] = (struct store_op){ .type = STORE_OP_DELETE,
						    .key = { "apps", "deployments", "ns1",
							     names[live - 1] } };
			n_ops = 3;
			commit_ack(s, ackfd, ops, n_ops);
			/* names[live - 1] was deleted; the new one takes its place. */
			memcpy(names[live - 1], names[live], 16);
		} else if (i % 5 == 3 && live > 0) {
			ops[0] = (struct store_op){ .type = STORE_OP_DELETE,
						    .key = { "apps", "deployments", "ns1",
							     names[live - 1] } };
			commit_ack(s, ackfd, ops, 1);
			live--;
		} else if (i % 3 == 1 && live > 0) {
			const char *name = names[i % live];
			objs[0] = make_obj("ns1", name, i);
			ops[0] = (struct store_op){ .type = STORE_OP_UPDATE,
						    .key = { "apps", "deployments", "ns1", name },
						    .obj = objs[0] };
			commit_ack(s, ackfd, ops, 1);
		} else {
			if (live >= 4096)
				die("too many objects");
			snprintf(names[live], 16, "o%d", next++);
			objs[0] = make_obj("ns1", names[live], i);
			ops[0] = (struct store_op){ .type = STORE_OP_CREATE,
						    .key = { "apps", "deployments", "ns1",
							     names[live] },
						    .obj = objs[0] };
			commit_ack(s, ackfd, ops, 1);
			live++;
		}
		for (int j = 0; j < 3; j++)
			json_decref(objs[j]);
	}
	store_close(s);
	return 0;
}

/* Random writes until killed; the store must hold exactly what was acknowledged. */
static int
run_crash(const char *path, int ackfd, unsigned seed)
{
	struct store *s = open_store(path);
	korch_error *err = NULL;
	int64_t revs[CRASH_KEYS]; /* mod revision of each key, 0 when absent */
	char names[CRASH_KEYS][8];
	for (int i = 0; i < CRASH_KEYS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%02d", i);
		revs[i] = 0;
	}
	struct store_list_options lo = { .group = "apps",
					 .resource = "deployments",
					 .ns = "crash" };
	struct store_list l = { 0 };
	if (store_list(s, &lo, &l, &err) < 0)
		die("list: %s", korch_error_message(err));
	size_t idx;
	json_t *item;
	json_array_foreach(l.items, idx, item)
	{
		json_t *meta = json_object_get(item, "metadata");
		int k = atoi(json_string_value(json_object_get(meta, "name")) + 1);
		revs[k] = strtoll(json_string_value(json_object_get(meta, "resourceVersion")), NULL,
				  10);
	}
	store_list_clear(&l);
	srandom(seed);
	for (unsigned iter = 0;; iter++) {
		int n_ops = random() % 6 == 0 ? 2 + (int)(random() % 3) : 1;
		struct store_op ops[4] = { 0 };
		json_t *objs[4] = { NULL };
		int keys[4];
		for (int j = 0; j < n_ops; j++) {
			int k;
			bool dup;
			do {
				k = (int)(random() % CRASH_KEYS);
				dup = false;
				for (int m = 0; m < j; m++)
					dup |= keys[m] == k;
			} while (dup);
			keys[j] = k;
			ops[j].key = (struct store_key){ "apps", "deployments", "crash", names[k] };
			int v = (int)(random() & 0x7fffffff);
			if (!revs[k]) {
				ops[j].type = STORE_OP_CREATE;
				ops[j].obj = objs[j] = make_obj("crash", names[k], v);
			} else if (random() % 4 == 0) {
				ops[j].type = STORE_OP_DELETE;
				ops[j].expected_revision = revs[k];
			} else {
				ops[j].type = STORE_OP_UPDATE;
				ops[j].obj = objs[j] = make_obj("crash", names[k], v);
				ops[j].expected_revision = random() % 2 ? revs[k] : 0;
			}
		}
		int64_t rev = commit_ack(s, ackfd, ops, (size_t)n_ops);
		for (int j = 0; j < n_ops; j++) {
			revs[keys[j]] = ops[j].type == STORE_OP_DELETE ? 0 : rev;
			json_decref(objs[j]);
		}
		if (iter % 16 == 15 && rev > 30 && store_compact(s, rev - 30, 64, NULL, &err) < 0)
			die("compact: %s", korch_error_message(err));
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: store-writer seq|crash PATH ACKFD N|SEED\n");
		return 2;
	}
	int ackfd = atoi(argv[3]);
	if (strcmp(argv[1], "seq") == 0)
		return run_seq(argv[2], ackfd, atoi(argv[4]));
	if (strcmp(argv[1], "crash") == 0)
		return run_crash(argv[2], ackfd, (unsigned)strtoul(argv[4], NULL, 10));
	fprintf(stderr, "store-writer: unknown mode %s\n", argv[1]);
	return 2;
}
