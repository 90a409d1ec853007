/*
 * Scenario 38 (second half): the controller process killed with SIGKILL in the middle of a
 * ReplicaSet's scale-up from 0 to 50, again and again at different points, and then started
 * once more, converges to exactly 50 pods, all of that ReplicaSet, with no duplicates, within
 * 30 s. Real processes, the real clock, a durable store (synchronous=FULL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/client.h"
#include "controller/controller.h"
#include "controller/util.h"

#define WANT 50

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pods of the ReplicaSet as a store handle of this process sees them now. */
static size_t
count_pods(const char *path, const char *rs_uid, size_t *ret_foreign)
{
	struct store *s = NULL;
	struct store_options so = { .poll_interval_ms = -1, .compact_keep_revisions = -1 };
	assert_int_equal(store_open(path, &so, &s, NULL), 0);
	struct client *c = NULL;
	assert_int_equal(client_new_local(s, NULL, &c, NULL), 0);
	json_t *list = NULL;
	assert_int_equal(client_list(c, kind_lookup("v1", "Pod"), "default", NULL, &list, NULL), 0);
	size_t mine = 0, foreign = 0, i;
	json_t *pod;
	json_array_foreach (json_object_get(list, "items"), i, pod) {
		if (controlled_by(pod, rs_uid))
			mine++;
		else
			foreign++;
	}
	json_decref(list);
	client_free(c);
	store_close(s);
	if (ret_foreign)
		*ret_foreign = foreign;
	return mine;
}

/* The controller process: a manager over the store until killed. Never returns. */
static void
controller_process(const char *path)
{
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	struct store *s = NULL;
	struct client *c = NULL;
	struct controller_manager *cm = NULL;
	if (korch_clock_new_real(&clock, NULL) < 0 || korch_loop_new(clock, &loop, NULL) < 0)
		_exit(2);
	struct store_options so = { .loop = loop };
	if (store_open(path, &so, &s, NULL) < 0 || client_new_local(s, clock, &c, NULL) < 0)
		_exit(3);
	/* The same identity as the process it replaces: it takes the Lease at once. */
	struct controller_manager_options o = { .identity = "korch-crash-test" };
	if (controller_manager_new(c, loop, &o, &cm, NULL) < 0 ||
	    controller_manager_start(cm, NULL) < 0)
		_exit(4);
	korch_loop_run(loop, NULL);
	_exit(5);
}

static void
test_killed_mid_scale_up_converges(void **state)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/korch-test-crash-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	char rs_uid[64];
	{
		struct store *s = NULL;
		assert_int_equal(store_open(path, NULL, &s, NULL), 0);
		struct client *c = NULL;
		assert_int_equal(client_new_local(s, NULL, &c, NULL), 0);
		static const char *const nss[] = { "default", "kube-system" };
		for (size_t i = 0; i < 2; i++) {
			json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
					       "Namespace", "metadata", "name", nss[i]);
			assert_int_equal(client_create(c, ns, NULL, NULL, NULL), 0);
			json_decref(ns);
		}
		json_t *rs = json_pack(
			"{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, "
			"s:{s:[{s:s, s:s}]}}}}",
			"apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", "web",
			"namespace", "default", "spec", "replicas", WANT, "selector", "matchLabels",
			"app", "web", "template", "metadata", "labels", "app", "web", "spec",
			"containers", "name", "c", "image", "nginx");
		json_t *stored = NULL;
		assert_int_equal(client_create(c, rs, NULL, &stored, NULL), 0);
		snprintf(rs_uid, sizeof(rs_uid), "%s", jp_str0(stored, "metadata.uid"));
		json_decref(stored);
		json_decref(rs);
		client_free(c);
		store_close(s);
	}
	/* Kill the controller process at five different points of the scale-up. */
	static const size_t kill_at[] = { 1, 7, 18, 29, 44 };
	int mid = 0;
	for (size_t k = 0; k < ARRAY_SIZE(kill_at); k++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			controller_process(path);
		size_t seen = 0, foreign = 0;
		int64_t deadline = mono_ms() + 20000;
		while ((seen = count_pods(path, rs_uid, &foreign)) < kill_at[k] &&
		       mono_ms() < deadline)
			usleep(200);
		kill(pid, SIGKILL);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		size_t after = count_pods(path, rs_uid, &foreign);
		/* Never more than wanted, nothing that is not the ReplicaSet's. */
		assert_true(after <= WANT);
		assert_int_equal(foreign, 0);
		if (after > 0 && after < WANT)
			mid++;
		printf("# killed at %zu pods (aimed at %zu)\n", after, kill_at[k]);
	}
	/* Most kills landed while the scale-up was under way. */
	assert_true(mid >= 3);
	/* The last start: it converges to exactly 50 within 30 s. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		controller_process(path);
	int64_t start = mono_ms();
	size_t n = 0, foreign = 0;
	while ((n = count_pods(path, rs_uid, &foreign)) < WANT && mono_ms() - start < 30000)
		usleep(10000);
	/* Stays at 50: nothing more arrives in the next half second either. */
	usleep(500000);
	n = count_pods(path, rs_uid, &foreign);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(n, WANT);
	assert_int_equal(foreign, 0);
	assert_true(mono_ms() - start < 30000);
	rm_rf(dir, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_killed_mid_scale_up_converges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
