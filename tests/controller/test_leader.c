/*
 * Leader election: of two controller managers on one store, only the one holding the
 * kube-system/kube-controller-manager Lease acts; the other takes over when the leader gives
 * the Lease up, or when it stops renewing (a frozen or dead leader) after the lease duration,
 * and a leader that was frozen past its renew deadline acts no more when it wakes.
 *
 * Each manager has its own clock, loop and store handle on the same file, as two processes
 * would; the test moves both clocks together, except while one "process" is frozen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "controller/leader.h"
#include "controller/manager.h"
#include "harness.h"

/* A second process: its own clock, loop, store handle, client and manager. */
struct peer {
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct controller_manager *cm;
};

static void
peer_open(struct peer *p, const char *path, const char *identity)
{
	assert_int_equal(korch_clock_new_test(T0, &p->clock, NULL), 0);
	assert_int_equal(korch_loop_new(p->clock, &p->loop, NULL), 0);
	struct store_options so = { .loop = p->loop,
				    .sync_normal = true,
				    .poll_interval_ms = 50,
				    .compact_keep_revisions = -1 };
	assert_int_equal(store_open(path, &so, &p->store, NULL), 0);
	assert_int_equal(client_new_local(p->store, p->clock, &p->client, NULL), 0);
	struct controller_manager_options o = { .identity = identity };
	assert_int_equal(controller_manager_new(p->client, p->loop, &o, &p->cm, NULL), 0);
	assert_int_equal(controller_manager_start(p->cm, NULL), 0);
}

static void
peer_close(struct peer *p)
{
	controller_manager_free(p->cm);
	client_free(p->client);
	store_close(p->store);
	korch_loop_free(p->loop);
	korch_clock_free(p->clock);
	memset(p, 0, sizeof(*p));
}

static void
peer_pump(struct peer *p)
{
	for (int i = 0; i < 1000; i++) {
		store_poll(p->store, NULL);
		if (korch_loop_dispatch(p->loop, 0, NULL) == 0)
			return;
	}
}

/* Moves time on the running peers (frozen ones stay where they are) in 250 ms steps. */
#define STEP (250 * NSEC_PER_MSEC)
static void
run(struct cluster *c, struct peer *a, bool a_alive, struct peer *b, bool b_alive, int64_t ns)
{
	for (int64_t t = 0; t < ns; t += STEP) {
		if (a_alive) {
			korch_loop_advance(a->loop, STEP, NULL);
			peer_pump(a);
		}
		if (b_alive) {
			korch_loop_advance(b->loop, STEP, NULL);
			peer_pump(b);
		}
		store_poll(c->store, NULL);
		settle(c);
		if (a_alive)
			peer_pump(a);
		if (b_alive)
			peer_pump(b);
	}
}

static const char *
holder(struct cluster *c)
{
	static char buf[64];
	_cleanup_json_ json_t *lease = get_obj(c, "coordination.k8s.io/v1", "Lease", "kube-system",
					       "kube-controller-manager");
	snprintf(buf, sizeof(buf), "%s", jp_str0(lease, "spec.holderIdentity"));
	return buf;
}

static uint64_t
reconciles(struct peer *p)
{
	struct controller_stats st;
	controller_manager_stats(p->cm, &st);
	return st.reconciles;
}

static void
test_only_the_leader_acts(void **state)
{
	struct cluster c;
	cluster_init(&c, NULL, true);
	struct peer a, b;
	peer_open(&a, c.path, "manager-a");
	run(&c, &a, true, NULL, false, STEP);
	peer_open(&b, c.path, "manager-b");
	run(&c, &a, true, &b, true, 5 * NSEC_PER_SEC);
	assert_true(controller_manager_is_leader(a.cm));
	assert_false(controller_manager_is_leader(b.cm));
	assert_string_equal(holder(&c), "manager-a");
	_cleanup_json_ json_t *lease = get_obj(&c, "coordination.k8s.io/v1", "Lease", "kube-system",
					       "kube-controller-manager");
	assert_int_equal(jp_int(lease, "spec.leaseDurationSeconds", 0), 15);
	assert_int_equal(jp_int(lease, "spec.leaseTransitions", -1), 0);

	/* Work arrives: the leader does it, alone. */
	create_yaml(
		&c,
		"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web, namespace: default}\n"
		"spec:\n  replicas: 5\n  selector: {matchLabels: {app: web}}\n  template:\n"
		"    metadata: {labels: {app: web}}\n"
		"    spec: {containers: [{name: c, image: nginx}]}\n",
		NULL);
	run(&c, &a, true, &b, true, 20 * NSEC_PER_SEC);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", NULL), 5);
	assert_true(reconciles(&a) > 0);
	assert_int_equal(reconciles(&b), 0);
	assert_string_equal(holder(&c), "manager-a");
	assert_false(controller_manager_is_leader(b.cm));

	/* A leader that stops renewing (frozen, or killed without releasing) loses the Lease
	 * after the lease duration, and the other takes over. */
	run(&c, &a, false, &b, true, 10 * NSEC_PER_SEC);
	assert_false(controller_manager_is_leader(b.cm));
	assert_string_equal(holder(&c), "manager-a");
	run(&c, &a, false, &b, true, 9 * NSEC_PER_SEC);
	assert_true(controller_manager_is_leader(b.cm));
	assert_string_equal(holder(&c), "manager-b");
	/* Meanwhile a pod goes: the new leader replaces it. */
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", NULL);
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default",
				       jp_str(json_array_get(pods, 0), "metadata.name"), NULL, NULL,
				       NULL),
			 0);
	uint64_t a_before = reconciles(&a);
	run(&c, &a, false, &b, true, 2 * NSEC_PER_SEC);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", NULL), 5);
	/* The old leader wakes: its clock jumped past the renew deadline while it was frozen. It
	 * does not act, and it finds the Lease taken. */
	korch_clock_advance(a.clock, 21 * NSEC_PER_SEC);
	assert_false(controller_manager_is_leader(a.cm));
	run(&c, &a, true, &b, true, 10 * NSEC_PER_SEC);
	assert_false(controller_manager_is_leader(a.cm));
	assert_true(controller_manager_is_leader(b.cm));
	assert_int_equal(reconciles(&a), a_before);
	assert_string_equal(holder(&c), "manager-b");
	json_decref(lease);
	lease = get_obj(&c, "coordination.k8s.io/v1", "Lease", "kube-system",
			"kube-controller-manager");
	assert_int_equal(jp_int(lease, "spec.leaseTransitions", -1), 1);

	/* A leader that stops cleanly gives the Lease up: the other takes it at its next try. */
	peer_close(&b);
	run(&c, &a, true, NULL, false, 2500 * NSEC_PER_MSEC);
	assert_true(controller_manager_is_leader(a.cm));
	assert_string_equal(holder(&c), "manager-a");
	peer_close(&a);
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_the_leader_acts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
