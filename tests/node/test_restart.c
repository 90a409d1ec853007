/*
 * Scenario 38 on the simulated runtime: the agent goes away (as after SIGKILL: nothing is
 * cleaned up) while pods run, one container exits and one pod is deleted meanwhile; a new agent
 * adopts what runs (nothing starts twice), reports the exit with its code and restarts it,
 * and removes the deleted pod's leftovers within one housekeeping period.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "base/json.h"
#include "base/util.h"
#include "node-test.h"

static void
make_pod(struct nt *t, int i)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\","
		 "\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		 "\"image\":\"busybox\"}]}}",
		 i);
	nt_create(t, text);
}

static void
test_adopt_after_restart(void **state)
{
	struct nt *t = *state;
	nt_start_agent(t);
	for (int i = 0; i < 10; i++)
		make_pod(t, i);
	assert_int_equal(sim_count(t->sim, BACKEND_RUNNING), 10);
	char ids[10][64];
	for (int i = 0; i < 10; i++) {
		char name[8];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(ids[i], sizeof(ids[i]), "%s",
			 sim_container_find(t->sim, "default", name, "app"));
	}
	nt_stop_agent(t);
	/* While no agent runs: p3's container exits with 7, p9 is deleted from the API. */
	assert_int_equal(sim_container_write_log(t->sim, ids[3], "stdout", "last words\n", NULL),
			 0);
	assert_int_equal(sim_container_exit(t->sim, ids[3], 7, NULL), 0);
	struct client_delete_opts force = { .grace_period_s = 0 };
	assert_int_equal(client_delete(t->client, kind_lookup("v1", "Pod"), "default", "p9", &force,
				       NULL, NULL),
			 0);
	nt_pump(t);
	sim_event_log_clear(t->sim);
	nt_start_agent(t);
	/* The 8 others are the same containers: nothing created or started for them. */
	for (int i = 0; i < 9; i++) {
		char name[8];
		snprintf(name, sizeof(name), "p%d", i);
		if (i == 3)
			continue;
		assert_string_equal(sim_container_find(t->sim, "default", name, "app"), ids[i]);
	}
	/* p3: restarted (Always), its last state the true exit code. */
	assert_int_equal(nt_status_int(t, "p3", "containerStatuses.0.restartCount"), 1);
	assert_int_equal(
		nt_status_int(t, "p3", "containerStatuses.0.lastState.terminated.exitCode"), 7);
	char cid[80];
	snprintf(cid, sizeof(cid), "sim://%s", ids[3]);
	assert_string_equal(
		nt_status_str(t, "p3", "containerStatuses.0.lastState.terminated.containerID"),
		cid);
	/* p9's leftovers go within one housekeeping period (2 s). */
	nt_advance(t, 2);
	assert_null(sim_container_find(t->sim, "default", "p9", "app"));
	assert_int_equal(sim_sandbox_count(t->sim), 9);
	assert_int_equal(sim_count(t->sim, BACKEND_RUNNING), 9);
	const char *log = sim_event_log(t->sim);
	/* One create and start (p3's restart), p9 killed and removed; nothing else. */
	assert_non_null(strstr(log, "create default/p3/app#1"));
	assert_null(strstr(log, "create default/p0/"));
	assert_non_null(strstr(log, "remove default/p9/app"));
	assert_non_null(strstr(log, "sandbox-remove default/p9"));
	size_t creates = 0;
	for (const char *s = log; (s = strstr(s, " create ")); s++)
		creates++;
	assert_int_equal(creates, 1);
}

static int
setup_init(void **state)
{
	struct nt *t_ = calloc(1, sizeof(*t_));
	nt_init(t_);
	*state = t_;
	return 0;
}

static int
teardown_fini(void **state)
{
	nt_fini(*state);
	free(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_adopt_after_restart, setup_init,
						teardown_fini),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
