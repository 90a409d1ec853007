/*
 * Watches: every change after the start revision exactly once, in order, a transaction per
 * callback, with the objects before and after; changes from another process (through inotify,
 * within 2 s) and from another handle, by both ways of notifying; Gone for compacted revisions, also for a watch compaction overtook; 20 watchers
 * resuming after a simulated restart (scenario 26); transactions larger than a delivery batch;
 * watches freed inside callbacks; one parse per version shared by a handle's watches, with and
 * without previous versions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/loop.h"
#include "base/vec.h"
#include "helpers.h"
#include "store/store-internal.h"
#include "store/store.h"

/* One event, as expected or as received. */
struct ev {
	int64_t rev;     /* revision */
	char type;       /* A, M, D */
	char ns[16];     /* namespace */
	char name[24];   /* name */
	int n;           /* spec.n of the object (after; for D the last state) */
	int64_t prev_rv; /* resourceVersion of the object before (0 for A) */
	int prev_n;      /* spec.n before (-1 for A) */
};

struct evlist {
	struct ev *v;             /* events */
	size_t n, cap;            /* used, allocated */
	int callbacks;            /* deliveries (received lists) */
	int bad_batches;          /* deliveries that mixed revisions */
	int error_code;           /* error that ended the watch */
	char error[256];          /* its message */
	int64_t stop_at;          /* free the watch after delivering this revision (0: never) */
	struct store_watch *self; /* for stop_at */
};

static void
evlist_push(struct evlist *l, const struct ev *e)
{
	struct ev *slot = VEC_PUSH(l->v, l->n, l->cap);
	assert_non_null(slot);
	*slot = *e;
}

static void
on_event(struct store_watch *w, const struct store_event *events, size_t n,
	 const korch_error *error, void *userdata)
{
	struct evlist *l = userdata;
	if (error) {
		l->error_code = korch_error_code(error);
		snprintf(l->error, sizeof(l->error), "%s", korch_error_message(error));
		return;
	}
	l->callbacks++;
	for (size_t i = 0; i < n; i++) {
		const struct store_event *e = &events[i];
		if (e->revision != events[0].revision)
			l->bad_batches++;
		struct ev r = { .rev = e->revision,
				.type = e->type == STORE_EVENT_ADDED      ? 'A'
					: e->type == STORE_EVENT_MODIFIED ? 'M'
									  : 'D',
				.n = test_n(e->object),
				.prev_rv = e->prev_object ? test_rv(e->prev_object) : 0,
				.prev_n = e->prev_object ? test_n(e->prev_object) : -1 };
		snprintf(r.ns, sizeof(r.ns), "%s", e->key.ns);
		snprintf(r.name, sizeof(r.name), "%s", e->key.name);
		/* The object always carries the event's revision. */
		assert_int_equal(test_rv(e->object), e->revision);
		evlist_push(l, &r);
	}
	if (l->stop_at && events[0].revision >= l->stop_at) {
		store_watch_free(l->self);
		l->self = NULL;
	}
}

/* Compares received events with expected ones (those matching ns, if given, after from). */
static void
assert_events(const struct evlist *got, const struct evlist *want, const char *ns, int64_t from)
{
	size_t j = 0;
	for (size_t i = 0; i < want->n; i++) {
		const struct ev *w = &want->v[i];
		if (w->rev <= from || (ns && strcmp(ns, w->ns) != 0))
			continue;
		assert_true(j < got->n);
		const struct ev *g = &got->v[j++];
		if (g->rev != w->rev || g->type != w->type || strcmp(g->name, w->name) ||
		    strcmp(g->ns, w->ns) || g->n != w->n || g->prev_rv != w->prev_rv ||
		    g->prev_n != w->prev_n)
			fail_msg(
				"event %zu: got %lld %c %s/%s n=%d prev %lld/%d, want %lld %c %s/%s "
				"n=%d prev %lld/%d",
				j - 1, (long long)g->rev, g->type, g->ns, g->name, g->n,
				(long long)g->prev_rv, g->prev_n, (long long)w->rev, w->type, w->ns,
				w->name, w->n, (long long)w->prev_rv, w->prev_n);
	}
	assert_int_equal(got->n, j);
	assert_int_equal(got->bad_batches, 0);
}

/* What the in-process writer knows about each key. */
#define MODEL_KEYS 60
struct model {
	int64_t rev[MODEL_KEYS]; /* mod revision, 0: absent */
	int n[MODEL_KEYS];       /* spec.n */
	char names[MODEL_KEYS][16];
	int next_n; /* next spec.n to write */
};

static const char *
model_ns(int k)
{
	return k % 3 == 0 ? "a" : k % 3 == 1 ? "b" : "c";
}

/*
 * Commits n_commits random transactions (one to four ops on distinct keys), appending the
 * events they must produce to expect. Returns the number of revisions written.
 */
static int
write_random(struct store *s, struct model *m, int n_commits, unsigned *seed, struct evlist *expect,
	     int *ret_txn_sizes)
{
	for (int c = 0; c < n_commits; c++) {
		int n_ops = rand_r(seed) % 5 == 0 ? 2 + rand_r(seed) % 3 : 1;
		struct store_op ops[4] = { 0 };
		json_t *objs[4] = { NULL };
		int keys[4];
		for (int j = 0; j < n_ops; j++) {
			int k;
			bool dup;
			do {
				k = rand_r(seed) % MODEL_KEYS;
				dup = false;
				for (int i = 0; i < j; i++)
					dup |= keys[i] == k;
			} while (dup);
			keys[j] = k;
			if (!m->names[k][0])
				snprintf(m->names[k], sizeof(m->names[k]), "k%02d", k);
			ops[j].key = test_key(model_ns(k), m->names[k]);
			if (!m->rev[k]) {
				ops[j].type = STORE_OP_CREATE;
			} else if (rand_r(seed) % 3 == 0) {
				ops[j].type = STORE_OP_DELETE;
				ops[j].expected_revision = m->rev[k];
			} else {
				ops[j].type = STORE_OP_UPDATE;
				ops[j].expected_revision = rand_r(seed) % 2 ? m->rev[k] : 0;
			}
			if (ops[j].type != STORE_OP_DELETE)
				ops[j].obj = objs[j] =
					test_obj(model_ns(k), m->names[k], NULL, ++m->next_n);
		}
		int64_t rev = 0;
		assert_int_equal(store_commit(s, ops, (size_t)n_ops, &rev, NULL), 0);
		if (ret_txn_sizes)
			ret_txn_sizes[c] = n_ops;
		for (int j = 0; j < n_ops; j++) {
			int k = keys[j];
			struct ev e = { .rev = rev,
					.type = ops[j].type == STORE_OP_CREATE   ? 'A'
						: ops[j].type == STORE_OP_UPDATE ? 'M'
										 : 'D',
					.prev_rv = m->rev[k],
					.prev_n = m->rev[k] ? m->n[k] : -1 };
			snprintf(e.ns, sizeof(e.ns), "%s", model_ns(k));
			snprintf(e.name, sizeof(e.name), "%s", m->names[k]);
			if (ops[j].type == STORE_OP_DELETE) {
				e.n = m->n[k];
				m->rev[k] = 0;
			} else {
				e.n = test_n(objs[j]);
				m->rev[k] = rev;
				m->n[k] = e.n;
			}
			evlist_push(expect, &e);
			json_decref(objs[j]);
		}
	}
	return n_commits;
}

struct fixture {
	char *dir;          /* temporary directory */
	char *path;         /* dir/state.db */
	korch_clock *clock; /* real clock */
	korch_loop *loop;   /* the loop watches run on */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir();
	f->path = test_path(f->dir, "state.db");
	if (korch_clock_new_real(&f->clock, NULL) < 0 ||
	    korch_loop_new(f->clock, &f->loop, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	korch_loop_free(f->loop);
	korch_clock_free(f->clock);
	test_tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* A watcher has seen everything up to the revision in *target. */
struct caught_up {
	struct store_watch **w; /* the watches */
	size_t n;               /* how many */
	int64_t target;         /* revision they must reach */
};

static bool
all_caught_up(void *userdata)
{
	struct caught_up *c = userdata;
	for (size_t i = 0; i < c->n; i++)
		if (c->w[i] && store_watch_revision(c->w[i]) < c->target)
			return false;
	return true;
}

static void
test_order_exactly_once(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist all = { 0 }, in_b = { 0 }, one = { 0 }, expect = { 0 };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	struct store_watch *w[4] = { NULL };
	assert_int_equal(store_watch_new(s, &wo, on_event, &all, &w[0], NULL), 0);
	wo.group = "apps";
	wo.resource = "deployments";
	wo.ns = "b";
	assert_int_equal(store_watch_new(s, &wo, on_event, &in_b, &w[1], NULL), 0);
	wo.name = "k07";
	assert_int_equal(store_watch_new(s, &wo, on_event, &one, &w[2], NULL), 0);

	/* 1,000 transactions, dispatching now and then so deliveries interleave with writes. */
	struct model m = { 0 };
	unsigned seed = 42;
	static int sizes[1000];
	for (int round = 0; round < 20; round++) {
		write_random(s, &m, 50, &seed, &expect, sizes + round * 50);
		korch_loop_dispatch(f->loop, 0, NULL);
	}
	struct caught_up c = { w, 3, 1000 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_events(&all, &expect, NULL, 0);
	assert_events(&in_b, &expect, "b", 0);
	/* One callback per transaction, with all of its events. */
	assert_int_equal(all.callbacks, 1000);
	size_t pos = 0;
	for (int i = 0; i < 1000; i++) {
		for (int j = 1; j < sizes[i]; j++)
			assert_int_equal(all.v[pos + j].rev, all.v[pos].rev);
		pos += sizes[i];
	}
	for (size_t i = 0; i < one.n; i++)
		assert_string_equal(one.v[i].name, "k07");
	assert_true(one.n > 0);

	/* A watch from revision 0 started afterwards replays the same history. */
	struct evlist replay = { 0 };
	wo = (struct store_watch_options){ .from_revision = 0 };
	assert_int_equal(store_watch_new(s, &wo, on_event, &replay, &w[3], NULL), 0);
	c = (struct caught_up){ w + 3, 1, 1000 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_events(&replay, &expect, NULL, 0);
	/* The replay came in bounded batches, a transaction per callback still. */
	assert_int_equal(replay.callbacks, 1000);
	for (int i = 0; i < 4; i++)
		store_watch_free(w[i]);
	free(all.v);
	free(in_b.v);
	free(one.v);
	free(replay.v);
	free(expect.v);
}

static bool
writer_done_and_caught_up(void *userdata)
{
	struct caught_up *c = userdata;
	return c->target > 0 && all_caught_up(c);
}

/* Reads "REV OP NAME N" lines into expected events. */
static int64_t
parse_acks(const char *text, struct evlist *expect, int64_t (*last_rv)[4096])
{
	int64_t last = 0;
	const char *p = text;
	while (*p) {
		long long rev;
		char op, name[24];
		int n, used;
		assert_int_equal(sscanf(p, "%lld %c %23s %d%n", &rev, &op, name, &n, &used), 4);
		int idx = atoi(name + 1);
		assert_true(idx >= 0 && idx < 4096);
		struct ev e = { .rev = rev, .type = op, .n = n, .prev_rv = (*last_rv)[idx] };
		snprintf(e.ns, sizeof(e.ns), "ns1");
		snprintf(e.name, sizeof(e.name), "%s", name);
		(*last_rv)[idx] = op == 'D' ? 0 : rev;
		evlist_push(expect, &e);
		last = rev;
		p += used;
		while (*p == '\n')
			p++;
	}
	return last;
}

static void
test_cross_process(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *writer = test_writer_path();
	assert_non_null(writer);
	/* No fallback polling: delivery must come through inotify. */
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1 };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist got = { 0 }, expect = { 0 };
	struct store_watch_options wo = { .group = "apps",
					  .resource = "deployments",
					  .from_revision = STORE_REVISION_NOW };
	struct store_watch *w = NULL;
	assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, NULL), 0);

	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 3);
		execl(writer, writer, "seq", f->path, "3", "400", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* Deliveries happen while the writer writes; then everything arrives within 2 s. */
	struct caught_up c = { &w, 1, 0 };
	int status = 0;
	int64_t deadline = test_now_ms() + 60000;
	while (waitpid(pid, &status, WNOHANG) == 0 && test_now_ms() < deadline)
		korch_loop_dispatch(f->loop, 10, NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	int64_t exited = test_now_ms();
	_cleanup_free_ char *acks = NULL;
	size_t len = 0;
	assert_int_equal(read_all_fd(fds[0], 1 << 20, &acks, &len, NULL), 0);
	close(fds[0]);
	static int64_t last_rv[4096];
	c.target = parse_acks(acks, &expect, &last_rv);
	assert_int_equal(c.target, 400);
	assert_true(test_dispatch_until(f->loop, writer_done_and_caught_up, &c, 2000));
	assert_true(test_now_ms() - exited <= 2000);
	/* prev_n is not in the acks: compare the rest. */
	for (size_t i = 0; i < got.n; i++)
		got.v[i].prev_n = -1;
	for (size_t i = 0; i < expect.n; i++)
		expect.v[i].prev_n = -1;
	/* For deletes the ack carries n = 0; take the writer's last n from the event stream. */
	for (size_t i = 0; i < expect.n && i < got.n; i++)
		if (expect.v[i].type == 'D')
			expect.v[i].n = got.v[i].n;
	assert_events(&got, &expect, NULL, 0);
	store_watch_free(w);
	free(got.v);
	free(expect.v);
}

/*
 * Another handle's commits wake a watcher with no polling: through reads of PATH-notify, and,
 * where that file cannot be made (here a directory stands in its way), through the database
 * file's mtime.
 */
static void
test_notify_paths(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *notify = test_path(f->dir, "state.db-notify");
	for (int fallback = 0; fallback < 2; fallback++) {
		if (fallback) {
			/* A fresh store whose notify file cannot be opened for reading and writing. */
			unlink(notify);
			assert_int_equal(mkdir(notify, 0755), 0);
		}
		struct store_options o = { .loop = f->loop, .poll_interval_ms = -1 };
		_cleanup_(store_closep) struct store *s = NULL, *writer = NULL;
		assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
		assert_int_equal(store_open(f->path, NULL, &writer, NULL), 0);
		struct stat st;
		assert_int_equal(stat(notify, &st), 0);
		assert_int_equal(S_ISDIR(st.st_mode), fallback);
		if (!fallback)
			assert_int_equal(st.st_size, 1);
		int64_t rev = 0;
		assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
		struct evlist got = { 0 };
		struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
		struct store_watch *w = NULL;
		assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, NULL), 0);
		korch_loop_dispatch(f->loop, 0, NULL);
		char name[16];
		snprintf(name, sizeof(name), "n%d", fallback);
		struct store_key k = test_key("ns1", name);
		json_t *o1 = test_obj("ns1", name, NULL, 5);
		assert_int_equal(store_create(writer, &k, o1, 0, NULL, NULL), 0);
		json_decref(o1);
		struct caught_up c = { &w, 1, rev + 1 };
		assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 2000));
		assert_int_equal(got.n, 1);
		assert_string_equal(got.v[0].name, name);
		store_watch_free(w);
		free(got.v);
	}
	rmdir(notify);
}

/*
 * A writer that does not touch the file's mtime (here a plain SQLite connection adding a
 * change the way the store would) is noticed by the data_version fallback poll.
 */
static void
test_poll_fallback(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = 50 };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist got = { 0 };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	struct store_watch *w = NULL;
	assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, NULL), 0);
	korch_loop_dispatch(f->loop, 0, NULL);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(
			db,
			"BEGIN IMMEDIATE;"
			"INSERT INTO resources (grp, res) VALUES ('apps', 'deployments');"
			"INSERT INTO history VALUES (1048576, 1, (SELECT id FROM resources),"
			" 'ns1',"
			" 'foreign', NULL, 1, NULL, '{\"metadata\":{\"name\":\"foreign\","
			"\"resourceVersion\":\"1\"},\"spec\":{\"n\":7}}');"
			"INSERT INTO objects VALUES ((SELECT id FROM resources), 'ns1', 'foreign', 1,"
			" 1, 1048576, NULL);"
			"COMMIT",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	int64_t t0 = test_now_ms();
	struct caught_up c = { &w, 1, 1 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 2000));
	assert_true(test_now_ms() - t0 < 2000);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].rev, 1);
	assert_int_equal(got.v[0].type, 'A');
	assert_string_equal(got.v[0].name, "foreign");
	assert_int_equal(got.v[0].n, 7);
	store_watch_free(w);
	free(got.v);
}

static void
test_gone(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct model m = { 0 };
	struct evlist expect = { 0 };
	unsigned seed = 7;
	write_random(s, &m, 100, &seed, &expect, NULL);
	assert_int_equal(store_compact(s, 50, 0, NULL, NULL), 0);

	struct store_watch *w = NULL;
	struct store_watch_options wo = { .from_revision = 10 };
	struct evlist got = { 0 };
	assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, &err), KORCH_EGONE);
	assert_string_equal(korch_error_message(err), "too old resource version: 10 (50)");
	korch_error_free(steal_pointer(&err));
	wo.from_revision = 101;
	assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, &err), KORCH_ETIMEOUT);
	assert_string_equal(korch_error_message(err),
			    "Too large resource version: 101, current: 100");

	/* At the compaction point itself: everything after it. */
	wo.from_revision = 50;
	assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, NULL), 0);
	struct caught_up c = { &w, 1, 100 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_events(&got, &expect, NULL, 50);
	store_watch_free(w);

	/* A watch that compaction overtakes before it read gets Gone through its callback. */
	struct evlist late = { 0 };
	wo.from_revision = 60;
	assert_int_equal(store_watch_new(s, &wo, on_event, &late, &w, NULL), 0);
	assert_int_equal(store_compact(s, 70, 0, NULL, NULL), 0);
	korch_loop_dispatch(f->loop, 0, NULL);
	assert_int_equal(late.error_code, KORCH_EGONE);
	assert_string_equal(late.error, "watch: too old resource version: 60 (70)");
	assert_int_equal(late.n, 0);
	store_watch_free(w);

	/* Without a loop there is nothing to deliver on. */
	_cleanup_(store_closep) struct store *plain = NULL;
	assert_int_equal(store_open(f->path, NULL, &plain, NULL), 0);
	korch_error_free(steal_pointer(&err));
	wo.from_revision = STORE_REVISION_NOW;
	assert_int_equal(store_watch_new(plain, &wo, on_event, &got, &w, &err), KORCH_EINVALID);
	char msg[512];
	snprintf(msg, sizeof(msg), "watch needs a store opened with an event loop (%s)", f->path);
	assert_string_equal(korch_error_message(err), msg);
	free(got.v);
	free(late.v);
	free(expect.v);
}

/*
 * Scenario 26: 20 watchers, each "crashing" at its own point, resume after the store is closed
 * and reopened (a restart) from the last revision they saw; each receives every later event
 * exactly once, in order, transactions together. One that resumes below the compacted
 * revision gets Gone and relists.
 */
static void
test_resume_after_restart(void **state)
{
	struct fixture *f = *state;
	enum { WATCHERS = 20 };
	struct store_options o = { .loop = f->loop,
				   .poll_interval_ms = -1,
				   .sync_normal = true,
				   .compact_keep_revisions = -1 };
	struct store *s = NULL;
	_cleanup_(store_closep) struct store *writer = NULL;
	struct store_options wo_plain = { .sync_normal = true };
	assert_int_equal(store_open(f->path, &wo_plain, &writer, NULL), 0);
	struct model m = { 0 };
	struct evlist expect = { 0 };
	unsigned seed = 26;
	write_random(writer, &m, 50, &seed, &expect, NULL);
	int64_t start = 50;

	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	static struct evlist got[WATCHERS];
	struct store_watch *w[WATCHERS] = { NULL };
	for (int i = 0; i < WATCHERS; i++) {
		struct store_watch_options wo = { .from_revision = start };
		got[i] = (struct evlist){ .stop_at = start + 10 + 13 * i };
		assert_int_equal(store_watch_new(s, &wo, on_event, &got[i], &w[i], NULL), 0);
		got[i].self = w[i];
	}
	/* Writes while they watch; each watcher stops at its own revision. */
	for (int round = 0; round < 10; round++) {
		write_random(writer, &m, 30, &seed, &expect, NULL);
		korch_loop_dispatch(f->loop, 0, NULL);
	}
	bool any_left = true;
	int64_t deadline = test_now_ms() + 5000;
	while (any_left && test_now_ms() < deadline) {
		korch_loop_dispatch(f->loop, 10, NULL);
		any_left = false;
		for (int i = 0; i < WATCHERS; i++)
			any_left |= got[i].self != NULL;
	}
	assert_false(any_left);
	/* "Kill": close the handle; the watchers' positions are what they received. */
	store_close(s);
	s = NULL;
	int64_t resume[WATCHERS];
	for (int i = 0; i < WATCHERS; i++) {
		resume[i] = got[i].n ? got[i].v[got[i].n - 1].rev : start;
		assert_true(resume[i] >= got[i].stop_at);
	}
	/* More writes while nobody watches, then compaction below every resume point but one. */
	write_random(writer, &m, 100, &seed, &expect, NULL);
	int64_t compact_to = resume[1] + 1; /* watcher 0 (the earliest) falls behind it */
	for (int i = 1; i < WATCHERS; i++)
		compact_to = MIN(compact_to, resume[i]);
	assert_true(compact_to > resume[0]);
	assert_int_equal(store_compact(writer, compact_to, 0, NULL, NULL), 0);

	/* Restart: new handle, watchers resume from their revisions. */
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	_cleanup_error_ korch_error *err = NULL;
	struct store_watch_options wo = { .from_revision = resume[0] };
	assert_int_equal(store_watch_new(s, &wo, on_event, &got[0], &w[0], &err), KORCH_EGONE);
	w[0] = NULL;
	/* It relists instead, and watches from the list's revision. */
	struct store_list l = { 0 };
	struct store_list_options lo = { .group = "apps", .resource = "deployments" };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	int64_t total = 0;
	for (int k = 0; k < MODEL_KEYS; k++)
		total += m.rev[k] != 0;
	assert_int_equal((int64_t)json_array_size(l.items), total);
	wo.from_revision = l.revision;
	store_list_clear(&l);
	free(got[0].v);
	got[0] = (struct evlist){ 0 };
	assert_int_equal(store_watch_new(s, &wo, on_event, &got[0], &w[0], NULL), 0);
	resume[0] = wo.from_revision;
	for (int i = 1; i < WATCHERS; i++) {
		wo.from_revision = resume[i];
		got[i].stop_at = 0;
		assert_int_equal(store_watch_new(s, &wo, on_event, &got[i], &w[i], NULL), 0);
	}
	/* Writes after the restart too. */
	write_random(writer, &m, 60, &seed, &expect, NULL);
	int64_t final = 50 + 300 + 100 + 60;
	struct caught_up c = { w, WATCHERS, final };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	for (int i = 0; i < WATCHERS; i++) {
		/* Before the restart: everything in (start, resume]; after: everything after. */
		struct evlist before = { .v = got[i].v, .n = got[i].n };
		if (i > 0) {
			size_t cut = 0;
			while (cut < got[i].n && got[i].v[cut].rev <= resume[i])
				cut++;
			before.n = cut;
			struct evlist after = { .v = got[i].v + cut, .n = got[i].n - cut };
			assert_events(&after, &expect, NULL, resume[i]);
			struct evlist want_before = { .v = expect.v, .n = 0 };
			while (want_before.n < expect.n && expect.v[want_before.n].rev <= resume[i])
				want_before.n++;
			assert_events(&before, &want_before, NULL, start);
		} else {
			assert_events(&got[0], &expect, NULL, resume[0]);
		}
		store_watch_free(w[i]);
		free(got[i].v);
	}
	store_close(s);
	free(expect.v);
}

static void
test_large_txn_and_free_in_callback(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist big = { 0 }, quitter = { .stop_at = 3 };
	struct store_watch *w[2] = { NULL };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	assert_int_equal(store_watch_new(s, &wo, on_event, &big, &w[0], NULL), 0);
	assert_int_equal(store_watch_new(s, &wo, on_event, &quitter, &w[1], NULL), 0);
	quitter.self = w[1];

	/* Three small writes, then one transaction of 1,500 creates (three delivery batches). */
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		struct store_key k = test_key("default", name);
		json_t *obj = test_obj("default", name, NULL, i);
		int64_t rev = 0;
		assert_int_equal(store_create(s, &k, obj, 0, &rev, NULL), 0);
		json_decref(obj);
	}
	enum { BIG = 1500 };
	struct store_op *ops = calloc(BIG, sizeof(*ops));
	char(*names)[16] = calloc(BIG, 16);
	for (int i = 0; i < BIG; i++) {
		snprintf(names[i], 16, "b%04d", i);
		ops[i] = (struct store_op){ .type = STORE_OP_CREATE,
					    .key = test_key("default", names[i]),
					    .obj = test_obj("default", names[i], NULL, i) };
	}
	int64_t rev = 0;
	assert_int_equal(store_commit(s, ops, BIG, &rev, NULL), 0);
	assert_int_equal(rev, 4);
	for (int i = 0; i < BIG; i++)
		json_decref(ops[i].obj);
	free(ops);
	free(names);
	struct caught_up c = { w, 1, 4 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_int_equal(big.callbacks, 4);
	assert_int_equal(big.n, 3 + BIG);
	assert_int_equal(big.bad_batches, 0);
	for (int i = 0; i < BIG; i++) {
		assert_int_equal(big.v[3 + i].rev, 4);
		assert_int_equal(big.v[3 + i].n, i);
	}
	/* The watch that freed itself after revision 3 got nothing more. */
	assert_null(quitter.self);
	assert_int_equal(quitter.n, 3);
	store_watch_free(w[0]);
	free(big.v);
	free(quitter.v);
}

/*
 * Commits count changes of "p<from>".. in one transaction (creates, or updates of those
 * created before), with spec.n = n0 + i, appending the events to want. Returns the revision.
 */
static int64_t
commit_batch(struct store *s, bool update, int from, int count, int n0, struct evlist *want,
	     int64_t prev_rev)
{
	struct store_op *ops = calloc((size_t)count, sizeof(*ops));
	char(*names)[16] = calloc((size_t)count, 16);
	assert_non_null(ops);
	assert_non_null(names);
	for (int i = 0; i < count; i++) {
		snprintf(names[i], 16, "p%04d", from + i);
		ops[i] = (struct store_op){ .type = update ? STORE_OP_UPDATE : STORE_OP_CREATE,
					    .key = test_key("default", names[i]),
					    .obj = test_obj("default", names[i], NULL, n0 + i) };
	}
	int64_t rev = 0;
	assert_int_equal(store_commit(s, ops, (size_t)count, &rev, NULL), 0);
	for (int i = 0; i < count; i++) {
		struct ev e = { .rev = rev,
				.type = update ? 'M' : 'A',
				.n = n0 + i,
				.prev_rv = update ? prev_rev : 0,
				.prev_n = update ? i : -1 };
		snprintf(e.ns, sizeof(e.ns), "default");
		snprintf(e.name, sizeof(e.name), "%s", names[i]);
		evlist_push(want, &e);
		json_decref(ops[i].obj);
	}
	free(ops);
	free(names);
	return rev;
}

/*
 * A read of more than 64 rows to parse goes to the handle's parse worker: nothing of it is
 * delivered until the worker is done, the loop runs meanwhile, and what arrives is what the
 * loop would have parsed (every event once, in order, with its previous version). A watch
 * freed, or the handle closed, while its read is parsed gets nothing more; a stored text that
 * does not parse ends the watch at its revision, as on the loop.
 */
static void
test_parse_worker(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist got[3] = { 0 }, want = { 0 };
	struct store_watch *w[3] = { NULL };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_watch_new(s, &wo, on_event, &got[i], &w[i], NULL), 0);

	/* Small reads are parsed on the loop: no worker. */
	int64_t rev = commit_batch(s, false, 0, 10, 0, &want, 0);
	struct caught_up c = { w, 3, rev };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_null(s->parse_pool);

	/* 1,000 creates: one loop iteration reads them and hands them over undelivered. */
	int64_t created = commit_batch(s, false, 10, 1000, 100, &want, 0);
	assert_true(korch_loop_dispatch(f->loop, 0, NULL) >= 0);
	assert_non_null(s->parse_job);
	assert_int_equal(got[0].n, 10);
	/* Meanwhile: freeing the watch whose read it is (the first) gets it nothing more. */
	store_watch_free(w[0]);
	w[0] = NULL;
	c.target = created;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_null(s->parse_job);
	assert_int_equal(pool_threads(s->parse_pool), 1);
	assert_int_equal(got[0].n, 10);
	assert_int_equal(got[2].n, 1010);

	/* 1,000 updates of them: MODIFIED with the previous versions the worker parsed. */
	c.target = commit_batch(s, true, 10, 1000, 5000, &want, created);
	/* The previous versions: spec.n 100 + i. */
	for (size_t i = want.n - 1000; i < want.n; i++)
		want.v[i].prev_n += 100;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_events(&got[1], &want, NULL, 0);
	assert_events(&got[2], &want, NULL, 0);

	/* A stored text that does not parse, past the first 64 rows: the watch ends there. */
	int64_t good = commit_batch(s, false, 2000, 200, 0, &want, 0);
	c.target = good;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	size_t before = got[1].n;
	int64_t bad = commit_batch(s, false, 3000, 200, 0, &want, 0);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "UPDATE history SET value = '{\"broken' WHERE id = (SELECT id FROM history"
		 " WHERE id >> 20 = %lld ORDER BY id LIMIT 1 OFFSET 150)",
		 (long long)bad);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
	assert_true(korch_loop_dispatch(f->loop, 0, NULL) >= 0);
	assert_non_null(s->parse_job);
	assert_int_equal(got[1].error_code, 0);
	for (int i = 0; i < 500 && !(got[1].error_code && got[2].error_code); i++)
		assert_true(korch_loop_dispatch(f->loop, 10, NULL) >= 0);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(got[i].error_code, KORCH_ESYSTEM);
		assert_non_null(strstr(got[i].error, "stored object is not valid JSON"));
		assert_int_equal(got[i].n, before);
		assert_int_equal(store_watch_revision(w[i]), good);
	}

	for (int i = 0; i < 3; i++) {
		store_watch_free(w[i]);
		free(got[i].v);
	}
	free(want.v);

	/* Closed while a read is parsed: the read is dropped, nothing delivered. */
	struct evlist late = { 0 };
	struct store_watch *lw = NULL;
	assert_int_equal(store_watch_new(s, &wo, on_event, &late, &lw, NULL), 0);
	struct evlist ignored = { 0 };
	commit_batch(s, false, 4000, 500, 0, &ignored, 0);
	assert_true(korch_loop_dispatch(f->loop, 0, NULL) >= 0);
	assert_non_null(s->parse_job);
	store_close(steal_pointer(&s));
	assert_int_equal(late.n, 0);
	free(ignored.v);
}

/* The order deliveries came in, across watches: the watch's number per callback. */
struct order {
	int id;        /* this watch's number */
	int *log;      /* shared: numbers, in delivery order */
	size_t *n_log; /* shared: entries used */
};

static void
on_order(struct store_watch *w, const struct store_event *events, size_t n,
	 const korch_error *error, void *userdata)
{
	struct order *o = userdata;
	assert_null(error);
	assert_true(*o->n_log < 64);
	o->log[(*o->n_log)++] = o->id;
}

/*
 * A watch whose reads go to the parse worker one after another does not hold back the watches
 * after it: the next dispatch starts after it. (The second watch finds the versions the first
 * one's delivery cached, so its reads need no worker.)
 */
static void
test_parse_worker_fair(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	int log[64];
	size_t n_log = 0;
	struct order ord[2] = { { 0, log, &n_log }, { 1, log, &n_log } };
	struct store_watch *w[2] = { NULL };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_watch_new(s, &wo, on_order, &ord[i], &w[i], NULL), 0);
	struct evlist ignored = { 0 };
	int64_t rev = 0;
	for (int t = 0; t < 3; t++)
		rev = commit_batch(s, false, t * 600, 600, 0, &ignored, 0);
	struct caught_up c = { w, 2, rev };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_int_equal(n_log, 6);
	static const int want[] = { 0, 1, 0, 1, 0, 1 };
	assert_memory_equal(log, want, sizeof(want));
	for (int i = 0; i < 2; i++)
		store_watch_free(w[i]);
	free(ignored.v);
}

/*
 * Under a test clock large reads are parsed on the loop: one korch_loop_advance() delivers
 * them (the clock must not move while a read is parsed elsewhere) and no thread starts.
 */
static void
test_parse_test_clock(void **state)
{
	struct fixture *f = *state;
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(1700000000LL * NSEC_PER_SEC, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	struct store_options o = { .loop = loop, .poll_interval_ms = -1, .sync_normal = true };
	struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist got = { 0 }, want = { 0 };
	struct store_watch *w = NULL;
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	assert_int_equal(store_watch_new(s, &wo, on_event, &got, &w, NULL), 0);
	commit_batch(s, false, 0, 1000, 0, &want, 0);
	assert_int_equal(korch_loop_advance(loop, 0, NULL), 0);
	assert_events(&got, &want, NULL, 0);
	assert_null(s->parse_pool);
	store_watch_free(w);
	store_close(s);
	korch_loop_free(loop);
	korch_clock_free(clock);
	free(got.v);
	free(want.v);
}

/*
 * A watch of one resource reads that resource's rows through the history_res index: a
 * thousand rows of another resource written since its position cost it no step each.
 */
static void
test_watch_reads_own_resource(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	struct evlist cms = { 0 };
	struct store_watch *w = NULL;
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW,
					  .group = "",
					  .resource = "configmaps" };
	assert_int_equal(store_watch_new(s, &wo, on_event, &cms, &w, NULL), 0);
	struct store_key k1 = { "", "configmaps", "default", "one" };
	struct store_key k2 = { "", "configmaps", "default", "two" };
	json_t *obj = test_obj("default", "one", NULL, 1);
	int64_t rev = 0;
	assert_int_equal(store_create(s, &k1, obj, 0, &rev, NULL), 0);
	json_decref(obj);
	struct caught_up c = { &w, 1, rev };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	sqlite3_stmt *st = s->stmts[STMT_WATCH_ROWS_RES];
	assert_non_null(st);
	sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);

	struct evlist ignored = { 0 };
	commit_batch(s, false, 0, 1000, 0, &ignored, 0);
	obj = test_obj("default", "two", NULL, 2);
	assert_int_equal(store_create(s, &k2, obj, 0, &rev, NULL), 0);
	json_decref(obj);
	c.target = rev;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &c, 5000));
	assert_int_equal(cms.n, 2);
	assert_string_equal(cms.v[1].name, "two");
	int steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
	assert_true(steps > 0);
	assert_true(steps < 1000);
	store_watch_free(w);
	free(cms.v);
	free(ignored.v);
}

/* The objects one watch received, kept (a reference each) to compare pointers. */
struct kept {
	char type[8];    /* A, M, D per event */
	json_t *obj[8];  /* the objects */
	json_t *prev[8]; /* the previous versions, or NULL */
	size_t n;        /* events */
};

static void
on_keep(struct store_watch *w, const struct store_event *events, size_t n, const korch_error *error,
	void *userdata)
{
	struct kept *k = userdata;
	assert_null(error);
	for (size_t i = 0; i < n && k->n < 8; i++, k->n++) {
		k->type[k->n] = events[i].type == STORE_EVENT_ADDED      ? 'A'
				: events[i].type == STORE_EVENT_MODIFIED ? 'M'
									 : 'D';
		k->obj[k->n] = json_incref(events[i].object);
		k->prev[k->n] = json_incref(events[i].prev_object);
	}
}

static void
kept_clear(struct kept *k)
{
	for (size_t i = 0; i < k->n; i++) {
		json_decref(k->obj[i]);
		json_decref(k->prev[i]);
	}
}

/*
 * A handle parses each version once: its watches at the same position share the objects, a
 * change's previous version
 * is the object delivered for the change before, and a watch with no_prev gets none for
 * MODIFIED (but the last state for DELETED). Another handle, with nothing cached, parses the
 * previous version from the history and gets the same content.
 */
static void
test_shared_versions(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_(store_closep) struct store *s2 = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	assert_int_equal(store_open(f->path, &o, &s2, NULL), 0);
	struct kept a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct store_watch *w[4] = { NULL };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	struct store_watch_options wo_no_prev = { .from_revision = STORE_REVISION_NOW,
						  .no_prev = true };
	assert_int_equal(store_watch_new(s, &wo, on_keep, &a, &w[0], NULL), 0);
	assert_int_equal(store_watch_new(s, &wo, on_keep, &b, &w[1], NULL), 0);
	assert_int_equal(store_watch_new(s, &wo_no_prev, on_keep, &c, &w[2], NULL), 0);

	struct store_key k = test_key("default", "x");
	json_t *obj = test_obj("default", "x", NULL, 1);
	int64_t rev_create = 0, rev_update = 0, rev_delete = 0;
	assert_int_equal(store_create(s, &k, obj, 0, &rev_create, NULL), 0);
	json_decref(obj);
	/* Watches share what they read at the same position: deliver each change before the
	 * next (a later change of the key replaces its cached version). */
	struct caught_up cu = { w, 3, rev_create };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));
	/* The second handle's watch starts after the create: its update's previous version is
	 * not in any cache of its handle. */
	struct store_watch_options wo2 = { .from_revision = rev_create };
	assert_int_equal(store_watch_new(s2, &wo2, on_keep, &d, &w[3], NULL), 0);
	obj = test_obj("default", "x", NULL, 2);
	assert_int_equal(store_update(s, &k, obj, rev_create, &rev_update, NULL), 0);
	json_decref(obj);
	cu = (struct caught_up){ w, 4, rev_update };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));
	assert_int_equal(store_delete(s, &k, rev_update, NULL, &rev_delete, NULL), 0);
	cu = (struct caught_up){ w, 4, rev_delete };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));

	assert_int_equal(a.n, 3);
	assert_int_equal(b.n, 3);
	assert_int_equal(c.n, 3);
	assert_int_equal(d.n, 2);
	assert_memory_equal(a.type, "AMD", 3);
	assert_memory_equal(c.type, "AMD", 3);
	assert_memory_equal(d.type, "MD", 2);
	/* One parse per version on handle s, shared by its three watches. */
	for (size_t i = 0; i < 2; i++) {
		assert_ptr_equal(b.obj[i], a.obj[i]);
		assert_ptr_equal(c.obj[i], a.obj[i]);
	}
	assert_int_equal(test_n(a.obj[0]), 1);
	assert_int_equal(test_rv(a.obj[0]), rev_create);
	assert_int_equal(test_n(a.obj[1]), 2);
	assert_int_equal(test_rv(a.obj[1]), rev_update);
	/* The previous versions are the objects delivered before. */
	assert_null(a.prev[0]);
	assert_ptr_equal(a.prev[1], a.obj[0]);
	assert_ptr_equal(a.prev[2], a.obj[1]);
	assert_ptr_equal(b.prev[1], a.obj[0]);
	/* DELETED: the last state with the deletion's revision, a copy of its own. */
	assert_int_equal(test_n(a.obj[2]), 2);
	assert_int_equal(test_rv(a.obj[2]), rev_delete);
	assert_ptr_not_equal(a.obj[2], a.obj[1]);
	assert_int_equal(test_rv(a.obj[1]), rev_update);
	/* no_prev: nothing before a MODIFIED, the last state before a DELETED. */
	assert_null(c.prev[1]);
	assert_non_null(c.prev[2]);
	assert_int_equal(test_n(c.prev[2]), 2);
	assert_int_equal(test_rv(c.prev[2]), rev_update);
	assert_int_equal(test_rv(c.obj[2]), rev_delete);
	/* The other handle parsed its own copies, from the history, with the same content. */
	assert_ptr_not_equal(d.obj[0], a.obj[1]);
	assert_true(json_equal(d.obj[0], a.obj[1]));
	assert_non_null(d.prev[0]);
	assert_ptr_not_equal(d.prev[0], a.obj[0]);
	assert_true(json_equal(d.prev[0], a.obj[0]));
	assert_ptr_equal(d.prev[1], d.obj[0]);
	assert_true(json_equal(d.obj[1], a.obj[2]));

	for (size_t i = 0; i < 4; i++)
		store_watch_free(w[i]);
	kept_clear(&a);
	kept_clear(&b);
	kept_clear(&c);
	kept_clear(&d);
}

/* on_keep for every object but the "burst-" ones. */
static void
on_keep_named(struct store_watch *w, const struct store_event *events, size_t n,
	      const korch_error *error, void *userdata)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(events[i].key.name, "burst-", 6) != 0)
			on_keep(w, &events[i], 1, error, userdata);
}

/*
 * store_share_commits(): a writer handle (as a worker thread would have) hands its committed
 * objects of the shared resource to the loop's handle, whose watches then deliver those very
 * trees (no parse) with the previous version being the one delivered before; other resources
 * are parsed from the history as before, and a version no watch with previous versions would
 * deliver is not kept.
 */
static void
test_shared_commits(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .loop = f->loop, .poll_interval_ms = -1, .sync_normal = true };
	struct store_options ow = { .sync_normal = true };
	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_(store_closep) struct store *wr = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	assert_int_equal(store_open(f->path, &ow, &wr, NULL), 0);
	store_share_commits(wr, s, "apps", "deployments");
	struct kept a = { 0 }, c = { 0 };
	struct store_watch *w[2] = { NULL };
	struct store_watch_options wo = { .from_revision = STORE_REVISION_NOW };
	struct store_watch_options wo_no_prev = { .from_revision = STORE_REVISION_NOW,
						  .no_prev = true };
	assert_int_equal(store_watch_new(s, &wo, on_keep_named, &a, &w[0], NULL), 0);
	assert_int_equal(store_watch_new(s, &wo_no_prev, on_keep_named, &c, &w[1], NULL), 0);

	struct store_key k = test_key("default", "x");
	struct store_key cm = { "", "configmaps", "default", "cm" };
	json_t *v1 = test_obj("default", "x", NULL, 1);
	json_t *v2 = test_obj("default", "x", NULL, 2);
	json_t *other = test_obj("default", "cm", NULL, 7);
	/* Each change delivered before the next, as a scheduler's loop keeps up with its binds. */
	int64_t r1 = 0, r2 = 0, r3 = 0, r4 = 0;
	assert_int_equal(store_create(wr, &k, v1, 0, &r1, NULL), 0);
	struct caught_up cu = { w, 2, r1 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));
	/*
	 * A burst the watches are behind on (two transactions of 300: more than one delivery's
	 * worth): the update handed over meanwhile keeps its previous version until delivered.
	 */
	for (int t = 0; t < 2; t++) {
		struct store_op ops[300];
		char names[300][32];
		for (int i = 0; i < 300; i++) {
			snprintf(names[i], sizeof(names[i]), "burst-%d-%d", t, i);
			ops[i] = (struct store_op){ .type = STORE_OP_CREATE,
						    .key = test_key("default", names[i]),
						    .obj = test_obj("default", names[i], NULL, i) };
		}
		assert_int_equal(store_commit(s, ops, 300, NULL, NULL), 0);
		for (int i = 0; i < 300; i++)
			json_decref(ops[i].obj);
	}
	assert_int_equal(store_update(wr, &k, v2, r1, &r2, NULL), 0);
	cu.target = r2;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));
	assert_int_equal(store_create(wr, &cm, other, 0, &r3, NULL), 0);
	cu.target = r3;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));
	assert_int_equal(store_delete(wr, &k, r2, NULL, &r4, NULL), 0);
	cu.target = r4;
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));

	assert_int_equal(a.n, 4);
	assert_memory_equal(a.type, "AMAD", 4);
	assert_int_equal(c.n, 4);
	/* The committed trees themselves, with their resourceVersions, to every watch. */
	assert_ptr_equal(a.obj[0], v1);
	assert_ptr_equal(a.obj[1], v2);
	assert_ptr_equal(c.obj[0], v1);
	assert_ptr_equal(c.obj[1], v2);
	assert_int_equal(test_rv(a.obj[0]), r1);
	assert_int_equal(test_rv(a.obj[1]), r2);
	assert_null(a.prev[0]);
	assert_ptr_equal(a.prev[1], v1);
	/* The DELETED event's last state comes from the shared version too. */
	assert_ptr_equal(a.prev[3], v2);
	assert_int_equal(test_n(a.obj[3]), 2);
	assert_int_equal(test_rv(a.obj[3]), r4);
	/* Another resource: parsed from the history, the same content. */
	assert_ptr_not_equal(a.obj[2], other);
	assert_true(json_equal(a.obj[2], other));
	assert_ptr_equal(c.obj[2], a.obj[2]);

	/* Only a no_prev watch left: nothing would replace a kept version, so none is kept. */
	store_watch_free(w[0]);
	w[0] = NULL;
	json_t *v3 = test_obj("default", "y", NULL, 3);
	struct store_key ky = test_key("default", "y");
	int64_t r5 = 0;
	assert_int_equal(store_create(wr, &ky, v3, 0, &r5, NULL), 0);
	cu = (struct caught_up){ w, 2, r5 };
	assert_true(test_dispatch_until(f->loop, all_caught_up, &cu, 5000));
	assert_int_equal(c.n, 5);
	assert_int_equal(test_n(c.obj[4]), 3);
	assert_ptr_not_equal(c.obj[4], v3);
	assert_null(hashmap_get(&s->parsed, "apps\ndeployments\ndefault\ny"));

	store_watch_free(w[1]);
	json_decref(v1);
	json_decref(v2);
	json_decref(v3);
	json_decref(other);
	kept_clear(&a);
	kept_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_txn_and_free_in_callback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shared_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_worker_fair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_test_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_reads_own_resource, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
