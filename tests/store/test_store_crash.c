/*
 * Crash safety (scenario 21 at the store level): store-writer writes random creates, updates,
 * deletes and transactions (and compacts now and then) on one file, acknowledging each commit
 * on a pipe, and is killed with SIGKILL at a random moment, 200 times. After each kill the file
 * is reopened and checked: every acknowledged write is present at its revision unless a later
 * write superseded it, the only unacknowledged change allowed is the one commit that was in
 * flight, revisions never go backwards, and PRAGMA integrity_check is ok.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "helpers.h"
#include "store/store-internal.h"

#define KEYS 40 /* store-writer's key space: c00 .. c39 */

/* What a key holds: revision 0 when absent. */
struct slot {
	int64_t rev; /* mod revision */
	int n;       /* spec.n */
};

/* Reads the live state of every key. */
static void
read_state(struct store *s, struct slot state[KEYS])
{
	memset(state, 0, sizeof(struct slot) * KEYS);
	struct store_list_options lo = { .group = "apps",
					 .resource = "deployments",
					 .ns = "crash" };
	struct store_list l = { 0 };
	assert_int_equal(store_list(s, &lo, &l, NULL), 0);
	size_t i;
	json_t *item;
	json_array_foreach(l.items, i, item)
	{
		const char *name = json_string_value(
			json_object_get(json_object_get(item, "metadata"), "name"));
		int k = atoi(name + 1);
		assert_true(k >= 0 && k < KEYS);
		state[k].rev = test_rv(item);
		state[k].n = test_n(item);
	}
	store_list_clear(&l);
}

/* The keys the commit at revision rev touched (from the history, which compaction left). */
static void
touched_at(struct store *s, int64_t rev, bool touched[KEYS])
{
	memset(touched, 0, sizeof(bool) * KEYS);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(s->db,
					    "SELECT name FROM history WHERE id >= ?1 AND id < ?2",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, rev << 20);
	sqlite3_bind_int64(st, 2, (rev + 1) << 20);
	while (sqlite3_step(st) == SQLITE_ROW)
		touched[atoi((const char *)sqlite3_column_text(st, 0) + 1)] = true;
	sqlite3_finalize(st);
}

struct totals {
	int acked;       /* acknowledged commits seen */
	int in_flight;   /* kills that left one committed but unacknowledged write */
	int early_kills; /* kills before the writer acknowledged anything */
};

/*
 * Waits until the writer acknowledged its first commit (a line on the pipe) or 10 s passed,
 * keeping what was read in *head (caller frees). How long opening takes depends on the
 * machine's load; counting the random delay from the first acknowledgement keeps the runs
 * doing real work whatever the load.
 */
static void
wait_first_ack(int fd, char **head, size_t *head_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (int waited_ms = 0; waited_ms < 10000 && !memchr(buf, '\n', len);) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 10) <= 0) {
			waited_ms += 10;
			continue;
		}
		if (len == cap)
			assert_non_null(buf = realloc(buf, cap *= 2));
		ssize_t n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*head = buf;
	*head_len = len;
}

/*
 * One run of the writer, killed delay_us after its first acknowledgement (or, with
 * early, delay_us after it started: during open and recovery); then the checks.
 */
static void
one_kill(const char *writer, const char *path, unsigned seed, useconds_t delay_us, bool early,
	 struct slot model[KEYS], int64_t *rev_seen, struct totals *t)
{
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	/* Room for every acknowledgement: the writer must never block on the pipe. */
	assert_true(fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) > 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 3);
		char seed_s[16];
		snprintf(seed_s, sizeof(seed_s), "%u", seed);
		execl(writer, writer, "crash", path, "3", seed_s, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	_cleanup_free_ char *head = NULL;
	size_t head_len = 0;
	if (!early)
		wait_first_ack(fds[0], &head, &head_len);
	usleep(delay_us);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("store-writer ended on its own (status %#x) instead of being killed",
			 status);
	_cleanup_free_ char *tail = NULL;
	size_t len = 0;
	assert_int_equal(read_all_fd(fds[0], 1 << 24, &tail, &len, NULL), 0);
	close(fds[0]);
	_cleanup_free_ char *acks = malloc(head_len + len + 1);
	assert_non_null(acks);
	if (head_len)
		memcpy(acks, head, head_len);
	memcpy(acks + head_len, tail, len + 1);

	/* The acknowledged state: the model from the last check, updated by every ack line. */
	struct slot want[KEYS];
	memcpy(want, model, sizeof(want));
	int64_t last_ack = *rev_seen, prev_line_rev = 0;
	for (const char *p = acks; *p;) {
		long long rev;
		char op, name[16];
		int n, used;
		assert_int_equal(sscanf(p, "%lld %c %15s %d%n", &rev, &op, name, &n, &used), 4);
		/* Revisions only go up, within a run and across kills. */
		assert_true(rev > *rev_seen);
		assert_true(rev >= prev_line_rev);
		if (rev != prev_line_rev)
			t->acked++;
		prev_line_rev = rev;
		int k = atoi(name + 1);
		want[k] = op == 'D' ? (struct slot){ 0 } : (struct slot){ rev, n };
		last_ack = rev;
		p += used;
		while (*p == '\n')
			p++;
	}
	if (!acks[0])
		t->early_kills++;

	_cleanup_(store_closep) struct store *s = NULL;
	_cleanup_error_ korch_error *err = NULL;
	assert_int_equal(store_open(path, NULL, &s, &err), 0);
	if (store_check(s, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	int64_t now = 0;
	assert_int_equal(store_revision(s, &now, NULL, NULL), 0);
	/* At most one commit beyond the acknowledged ones: the one in flight. */
	if (now != last_ack && now != last_ack + 1)
		fail_msg("revision %lld after the kill; last acknowledged %lld", (long long)now,
			 (long long)last_ack);
	bool touched[KEYS] = { false };
	if (now == last_ack + 1) {
		touched_at(s, now, touched);
		t->in_flight++;
	}
	struct slot got[KEYS];
	read_state(s, got);
	for (int k = 0; k < KEYS; k++) {
		if (touched[k]) {
			/* Written by the commit in flight: present at that revision, or deleted by it. */
			assert_true(got[k].rev == 0 || got[k].rev == now);
			continue;
		}
		if (got[k].rev != want[k].rev || got[k].n != want[k].n)
			fail_msg(
				"key c%02d: found revision %lld n %d, acknowledged revision %lld n %d",
				k, (long long)got[k].rev, got[k].n, (long long)want[k].rev,
				want[k].n);
	}
	memcpy(model, got, sizeof(got));
	*rev_seen = now;
}

static void
test_kill_torture(void **state)
{
	_cleanup_free_ char *writer = test_writer_path();
	assert_non_null(writer);
	char *dir = test_tmpdir();
	_cleanup_free_ char *path = test_path(dir, "state.db");
	int rounds = 200;
	unsigned seed = (unsigned)time(NULL);
	print_message("# seed %u\n", seed);
	struct slot model[KEYS] = { { 0 } };
	int64_t rev_seen = 0;
	struct totals t = { 0 };
	for (int i = 0; i < rounds; i++) {
		/*
		 * Mostly uniform over 0..120 ms after the first acknowledgement; one in ten in the
		 * first 5 ms after start (open, recovery).
		 */
		bool early = rand_r(&seed) % 10 == 0;
		useconds_t delay = early ? rand_r(&seed) % 5000 : rand_r(&seed) % 120000;
		one_kill(writer, path, rand_r(&seed), delay, early, model, &rev_seen, &t);
	}
	print_message("# %d kills, %d commits acknowledged, final revision %lld, %d kills with a "
		      "commit in flight, %d before any acknowledgement\n",
		      rounds, t.acked, (long long)rev_seen, t.in_flight, t.early_kills);
	/* The runs did real work: every late kill came after at least one acknowledgement. */
	assert_true(t.acked >= rounds / 2);
	assert_true(t.early_kills <= rounds / 5);
	test_tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_torture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
