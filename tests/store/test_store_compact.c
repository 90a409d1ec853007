/*
 * Compaction: bounded steps, what it keeps (every live object, the history after the compaction
 * point), the time budget on the test clock, automatic compaction on the loop, and a file whose
 * size stays bounded under churn while incremental vacuum gives pages back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/loop.h"
#include "helpers.h"
#include "store/store-internal.h"

struct fixture {
	char *dir;  /* temporary directory */
	char *path; /* dir/state.db */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = test_tmpdir();
	f->path = test_path(f->dir, "state.db");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	test_tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static int64_t
count(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Updates object i (of n) with a payload of pad_bytes. */
static void
update(struct store *s, int i, int value, int pad_bytes)
{
	char name[16];
	snprintf(name, sizeof(name), "o%03d", i);
	struct store_key k = test_key("default", name);
	json_t *o = test_obj("default", name, "app=churn", value);
	char *pad = malloc((size_t)pad_bytes + 1);
	memset(pad, 'x', (size_t)pad_bytes);
	pad[pad_bytes] = '\0';
	json_object_set_new(json_object_get(o, "spec"), "pad", json_string(pad));
	free(pad);
	int64_t rev = 0;
	int r = store_update(s, &k, o, 0, &rev, NULL);
	if (r == KORCH_ENOTFOUND)
		r = store_create(s, &k, o, 0, &rev, NULL);
	assert_int_equal(r, 0);
	json_decref(o);
}

static void
test_steps_and_what_is_kept(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .sync_normal = true,
				   .compact_keep_revisions = 10,
				   .compact_keep_ns = -1 };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	/* 10 objects, 10 versions each (revisions 1..100), then 5 of them deleted (101..105). */
	for (int v = 0; v < 10; v++)
		for (int i = 0; i < 10; i++)
			update(s, i, v, 10);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%03d", i);
		struct store_key k = test_key("default", name);
		int64_t rev = 0;
		assert_int_equal(store_delete(s, &k, 0, NULL, &rev, NULL), 0);
	}
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 105);

	/* Bounded steps: 30 rows at most per call. */
	bool more = false;
	assert_int_equal(store_compact(s, 0, 30, &more, NULL), 0);
	assert_true(more);
	int64_t rev = 0, compacted = 0;
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(compacted, 30);
	/* Rows 1..30 processed: 20 superseded versions (revisions 1..20) are gone. */
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 85);
	int steps = 1;
	while (more) {
		assert_int_equal(store_compact(s, 0, 30, &more, NULL), 0);
		steps++;
	}
	assert_int_equal(steps, 4);
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(rev, 105);
	assert_int_equal(compacted, 95);
	/*
	 * Kept: the versions at or below 95 that were current at 95 (one per object: 10), the rows
	 * after 95 (revisions 96..105: 5 updates, 5 deletes).
	 */
	assert_int_equal(count(s, "SELECT count(*) FROM history WHERE id >> 20 <= 95"), 10);
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 20);
	/* Nothing more to do at this budget. */
	assert_int_equal(store_compact(s, 0, 30, &more, NULL), 0);
	assert_false(more);

	/* Every live object and a list at the compacted revision are intact. */
	struct store_list_options lo = { .group = "apps", .resource = "deployments" };
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(test_n(json_array_get(l.items, i)), 9);
	store_list_clear(&l);
	lo.revision = 95;
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	assert_int_equal(json_array_size(l.items), 10);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(test_n(json_array_get(l.items, i)), i < 5 ? 9 : 8);
	store_list_clear(&l);

	/*
	 * Compacting everything leaves one row per live object. The last rows were deletes, now
	 * gone: the revision stays where it was, and the next write takes the one after it.
	 */
	assert_int_equal(store_compact(s, 105, 0, &more, NULL), 0);
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 5);
	assert_int_equal(count(s, "SELECT max(id) >> 20 FROM history"), 100);
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(rev, 105);
	assert_int_equal(compacted, 105);
	store_close(steal_pointer(&s));
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 105);
	update(s, 0, 42, 10);
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	assert_int_equal(rev, 106);
	/* A revision past the latest is capped at it. */
	assert_int_equal(store_compact(s, 1000, 0, &more, NULL), 0);
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(compacted, 106);
	assert_int_equal(store_check(s, NULL), 0);
}

static void
test_time_budget_and_loop(void **state)
{
	struct fixture *f = *state;
	_cleanup_(korch_clock_freep) korch_clock *clock = NULL;
	_cleanup_(korch_loop_freep) korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(1700000000LL * NSEC_PER_SEC, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	/* Keep 5 revisions and one minute; look every 10 s. */
	struct store_options o = { .sync_normal = true,
				   .loop = loop,
				   .poll_interval_ms = -1,
				   .compact_keep_revisions = 5,
				   .compact_keep_ns = 60 * NSEC_PER_SEC,
				   .compact_interval_ms = 10000 };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	for (int i = 0; i < 20; i++)
		update(s, 0, i, 10); /* revisions 1..20 at t = 0 */
	assert_int_equal(korch_loop_advance(loop, 30 * NSEC_PER_SEC, NULL), 0);
	for (int i = 0; i < 20; i++)
		update(s, 0, 100 + i, 10); /* revisions 21..40 at t = 30 s */
	/* At t = 50 s nothing is a minute old: the loop's compaction leaves the history alone. */
	assert_int_equal(korch_loop_advance(loop, 20 * NSEC_PER_SEC, NULL), 0);
	int64_t rev = 0, compacted = 0;
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(compacted, 0);
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 40);
	/* At t = 70 s the first 20 revisions are older than a minute. */
	assert_int_equal(korch_loop_advance(loop, 20 * NSEC_PER_SEC, NULL), 0);
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(compacted, 20);
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 21);
	/* At t = 100 s the revision budget (keep 5) decides. */
	assert_int_equal(korch_loop_advance(loop, 30 * NSEC_PER_SEC, NULL), 0);
	assert_int_equal(store_revision(s, &rev, &compacted, NULL), 0);
	assert_int_equal(compacted, 35);
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 6);
	struct store_key k = test_key("default", "o000");
	json_t *got = NULL;
	assert_int_equal(store_get(s, &k, &got, NULL, NULL), 0);
	assert_int_equal(test_n(got), 119);
	json_decref(got);
}

static int64_t
file_size(const char *path, const char *suffix)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	struct stat st;
	return stat(p, &st) == 0 ? (int64_t)st.st_size : 0;
}

static void
test_bounded_under_churn(void **state)
{
	struct fixture *f = *state;
	struct store_options o = { .sync_normal = true,
				   .compact_keep_revisions = 100,
				   .compact_keep_ns = -1 };
	_cleanup_(store_closep) struct store *s = NULL;
	assert_int_equal(store_open(f->path, &o, &s, NULL), 0);
	/*
	 * 50 objects of 1 KiB rewritten 400 times each (20,000 revisions, 20 MiB of history
	 * without compaction); compaction runs every 100 writes, as the loop would.
	 */
	int64_t max_db = 0, max_wal = 0, db_mid = 0;
	for (int round = 0; round < 400; round++) {
		for (int i = 0; i < 50; i++)
			update(s, i, round, 1024);
		if (round % 2 == 1) {
			bool more = true;
			while (more)
				assert_int_equal(store_compact(s, 0, 1000, &more, NULL), 0);
		}
		if (round >= 40) {
			max_db = MAX(max_db, file_size(f->path, ""));
			max_wal = MAX(max_wal, file_size(f->path, "-wal"));
		}
		if (round == 200)
			db_mid = file_size(f->path, "");
	}
	int64_t db_end = file_size(f->path, "");
	print_message("# database file: %lld KiB at round 200, %lld KiB at the end, max %lld KiB; "
		      "max WAL %lld KiB\n",
		      (long long)db_mid / 1024, (long long)db_end / 1024, (long long)max_db / 1024,
		      (long long)max_wal / 1024);
	/* Live data 50 KiB, history kept 100 revisions + a step's worth: well under 2 MiB. */
	assert_true(max_db < 2 * 1024 * 1024);
	assert_true(db_end <= db_mid + db_mid / 4);
	/* The WAL is checkpointed and reused: about 1,000 pages. */
	assert_true(max_wal < 8 * 1024 * 1024);
	assert_true(count(s, "SELECT count(*) FROM history") <= 100 + 150);

	/* 1,000 objects of 4 KiB (about 1,000 pages), then everything deleted and compacted away:
	 * incremental vacuum gives the pages back to the file system. */
	for (int i = 50; i < 1050; i++)
		update(s, i, 0, 4096);
	for (int i = 0; i < 1050; i++) {
		char name[16];
		snprintf(name, sizeof(name), "o%03d", i);
		struct store_key k = test_key("default", name);
		int64_t rev = 0;
		assert_int_equal(store_delete(s, &k, 0, NULL, &rev, NULL), 0);
	}
	int64_t rev = 0;
	assert_int_equal(store_revision(s, &rev, NULL, NULL), 0);
	int64_t pages_before = count(s, "PRAGMA page_count");
	for (int i = 0; i < 10; i++)
		assert_int_equal(store_compact(s, rev, 0, NULL, NULL), 0);
	assert_int_equal(count(s, "SELECT count(*) FROM history"), 0);
	int64_t pages_after = count(s, "PRAGMA page_count");
	print_message("# pages: %lld before, %lld after, %lld free\n", (long long)pages_before,
		      (long long)pages_after, (long long)count(s, "PRAGMA freelist_count"));
	assert_true(pages_after < pages_before);
	assert_true(count(s, "PRAGMA freelist_count") < 256 + 32);
	assert_int_equal(store_check(s, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steps_and_what_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_budget_and_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_under_churn, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
