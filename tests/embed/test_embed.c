/*
 * The embedding handle (include/korch/korch.h): options refused with their reason, objects
 * through the handle's client, watches calling back and queued behind a pollable fd, the
 * caller's loop without threads (counted in /proc/self/task), korch's own thread, and the
 * simulation mode: a Deployment scaled up on the simulated node, and two runs with one seed
 * giving byte-identical event logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <korch.h>
#include "base/fs.h"

struct tmp {
	char dir[64];   /* temporary directory */
	char path[128]; /* the state file in it */
};

static void
tmp_init(struct tmp *t)
{
	strcpy(t->dir, "/tmp/korch-embed-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/state.db", t->dir);
}

static void
tmp_fini(struct tmp *t)
{
	rm_rf(t->dir, NULL);
}

static unsigned
tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
apply_text(korch *k, const char *yaml, int want_result)
{
	korch_object *list = NULL;
	korch_error *e = NULL;
	assert_int_equal(korch_object_parse(yaml, strlen(yaml), "test", &list, &e), 0);
	for (size_t i = 0; i < korch_object_count(list); i++) {
		int result = -1;
		int r = korch_client_apply(korch_get_client(k), korch_object_at(list, i), NULL,
					   NULL, &result, &e);
		if (r < 0)
			fail_msg("apply: %s", korch_error_message(e));
		assert_int_equal(result, want_result);
	}
	korch_object_free(list);
}

static const char configmap_yaml[] = "apiVersion: v1\n"
				     "kind: ConfigMap\n"
				     "metadata:\n"
				     "  name: settings\n"
				     "  labels: {app: web}\n"
				     "data: {mode: fast}\n";

static void
test_options_refused(void **state)
{
	struct tmp t;
	tmp_init(&t);
	korch *k = NULL;
	korch_error *e = NULL;
	korch_options o = KORCH_OPTIONS_INIT;

	o.version = 7;
	assert_int_equal(korch_open(t.path, &o, &k, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e), "korch_options version 7 is not 1");
	korch_error_free(e);
	e = NULL;

	o = (korch_options)KORCH_OPTIONS_INIT;
	o.roles = 0x30;
	assert_int_equal(korch_open(t.path, &o, &k, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e), "korch_options.roles: unknown role bits 0x30");
	korch_error_free(e);
	e = NULL;

	o = (korch_options)KORCH_OPTIONS_INIT;
	o.simulated = true;
	o.run_mode = KORCH_RUN_THREAD;
	assert_int_equal(korch_open(t.path, &o, &k, &e), KORCH_EINVALID);
	assert_string_equal(
		korch_error_message(e),
		"korch_options: a simulation runs in the caller's loop, not on a thread "
		"(its clock moves only with korch_advance)");
	korch_error_free(e);
	e = NULL;

	o = (korch_options)KORCH_OPTIONS_INIT;
	o.event_log_path = "/nonexistent-dir/events.log";
	assert_int_equal(korch_open(t.path, &o, &k, &e), KORCH_ESYSTEM);
	assert_string_equal(korch_error_message(e),
			    "event log /nonexistent-dir/events.log: No such file or directory");
	assert_int_equal(korch_error_errno(e), ENOENT);
	korch_error_free(e);
	e = NULL;

	assert_int_equal(korch_open("", NULL, &k, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e), "korch_open: a state file path is required");
	korch_error_free(e);
	e = NULL;

	assert_int_equal(korch_open("/nonexistent-dir/state.db", NULL, &k, &e), KORCH_ESYSTEM);
	assert_non_null(strstr(korch_error_message(e), "/nonexistent-dir/state.db"));
	korch_error_free(e);
	e = NULL;
	assert_null(k);

	/* A real clock does not move by hand, and a handle without a node has no containers. */
	assert_int_equal(korch_open(t.path, NULL, &k, &e), 0);
	assert_int_equal(korch_advance(k, 1000, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e),
			    "korch_advance: only a simulation's clock can be moved");
	korch_error_free(e);
	e = NULL;
	assert_int_equal(korch_sim_set_exit(k, "*", 1, 0, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e),
			    "korch_sim_set_exit: needs the simulation mode with a node");
	korch_error_free(e);
	e = NULL;
	korch_watch *w = NULL;
	assert_int_equal(korch_watch_new(k, "gizmos", NULL, NULL, NULL, NULL, &w, &e),
			 KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(e),
			    "the server doesn't have a resource type \"gizmos\"");
	korch_error_free(e);
	e = NULL;
	korch_watch_new_options wo = KORCH_WATCH_NEW_OPTIONS_INIT;
	wo.label_selector = "app in (";
	assert_int_equal(korch_watch_new(k, "pods", NULL, &wo, NULL, NULL, &w, &e), KORCH_EINVALID);
	assert_true(strncmp(korch_error_message(e), "watch pods: ", 12) == 0);
	korch_error_free(e);
	assert_null(w);
	korch_close(k);
	tmp_fini(&t);
}

struct seen {
	int types[16]; /* event types in order */
	char names[16][32];
	size_t n;
	korch_watch *free_on_first; /* the callback frees its own watch on the first event */
};

static void
record(korch_watch *w, int type, korch_object *obj, void *userdata)
{
	struct seen *s = userdata;
	if (s->n < 16) {
		s->types[s->n] = type;
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", korch_object_name(obj));
		s->n++;
	}
	if (s->free_on_first == w) {
		korch_watch_free(w);
		s->free_on_first = NULL;
	}
}

static void
pump(korch *k, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		struct pollfd p = { .fd = korch_fd(k), .events = POLLIN };
		int timeout = korch_timeout_ms(k);
		poll(&p, 1, timeout < 0 || timeout > 20 ? 20 : timeout);
		korch_error *e = NULL;
		if (korch_dispatch(k, &e) < 0)
			fail_msg("dispatch: %s", korch_error_message(e));
	}
}

/*
 * The caller's loop on the real clock with the controllers running: objects round-trip through
 * the handle's client, watches deliver inside korch_dispatch(), and no thread appears.
 */
static void
test_caller_loop(void **state)
{
	struct tmp t;
	tmp_init(&t);
	unsigned before = tasks();
	korch_options o = KORCH_OPTIONS_INIT;
	o.roles = KORCH_ROLE_CONTROL_PLANE;
	korch *k = NULL;
	korch_error *e = NULL;
	if (korch_open(t.path, &o, &k, &e) < 0)
		fail_msg("open: %s", korch_error_message(e));
	assert_int_equal(korch_roles(k), KORCH_ROLE_CONTROL_PLANE);
	assert_non_null(korch_get_loop(k));
	assert_true(korch_fd(k) >= 0);

	struct seen cb = { 0 }, cb2 = { 0 };
	korch_watch *w = NULL, *w2 = NULL, *q = NULL;
	korch_watch_new_options wo = KORCH_WATCH_NEW_OPTIONS_INIT;
	wo.label_selector = "app=web";
	assert_int_equal(korch_watch_new(k, "configmaps", "default", &wo, record, &cb, &w, &e), 0);
	assert_int_equal(korch_watch_new(k, "cm", NULL, NULL, record, &cb2, &w2, &e), 0);
	cb2.free_on_first = w2;
	assert_int_equal(korch_watch_new(k, "configmaps", "default", &wo, NULL, NULL, &q, &e), 0);
	assert_int_equal(korch_watch_fd(w), -1);
	assert_true(korch_watch_fd(q) >= 0);
	int type;
	korch_object *obj = NULL;
	assert_int_equal(korch_watch_next(w, &type, &obj, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e),
			    "korch_watch_next: this watch calls back; it queues nothing");
	korch_error_free(e);
	e = NULL;

	apply_text(k, configmap_yaml, KORCH_WRITE_CREATED);
	/* Nothing is delivered outside dispatch. */
	assert_int_equal(cb.n, 0);
	assert_int_equal(korch_watch_next(q, &type, &obj, &e), 0);
	pump(k, 10);
	assert_int_equal(cb.n, 1);
	assert_int_equal(cb.types[0], KORCH_EVENT_ADDED);
	assert_string_equal(cb.names[0], "settings");
	/* The watch that freed itself in its first callback saw one event only. */
	assert_int_equal(cb2.n, 1);

	struct pollfd p = { .fd = korch_watch_fd(q), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(korch_watch_next(q, &type, &obj, &e), 1);
	assert_int_equal(type, KORCH_EVENT_ADDED);
	assert_string_equal(korch_object_label(obj, "app"), "web");
	korch_object_free(obj);
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(korch_watch_next(q, &type, &obj, &e), 0);

	/* The label goes: the selected watch sees it leave as DELETED. */
	korch_object *patch = NULL;
	const char *pt = "{\"metadata\":{\"labels\":{\"app\":null}}}";
	assert_int_equal(korch_object_parse_json(pt, strlen(pt), &patch, &e), 0);
	assert_int_equal(korch_client_patch(korch_get_client(k), "configmaps", "default",
					    "settings", KORCH_PATCH_MERGE, patch, NULL, NULL, &e),
			 0);
	korch_object_free(patch);
	pump(k, 10);
	assert_int_equal(cb.n, 2);
	assert_int_equal(cb.types[1], KORCH_EVENT_DELETED);
	assert_int_equal(korch_watch_next(q, &type, &obj, &e), 1);
	assert_int_equal(type, KORCH_EVENT_DELETED);
	korch_object_free(obj);

	korch_object *got = NULL;
	assert_int_equal(
		korch_client_get(korch_get_client(k), "cm", "default", "settings", &got, &e), 0);
	assert_string_equal(korch_object_get_string(got, "data.mode"), "fast");
	korch_object_free(got);

	/* The controllers ran (their Lease exists) and nothing started a thread. */
	pump(k, 20);
	assert_int_equal(korch_client_get(korch_get_client(k), "leases", "kube-system",
					  "kube-controller-manager", &got, &e),
			 0);
	korch_object_free(got);
	assert_int_equal(tasks(), before);
	korch_watch_free(w);
	korch_watch_free(q);
	korch_close(k);
	tmp_fini(&t);
}

/* korch's own thread: callbacks there, queued events read here, one thread more while open. */
static void
test_thread(void **state)
{
	struct tmp t;
	tmp_init(&t);
	unsigned before = tasks();
	korch_options o = KORCH_OPTIONS_INIT;
	o.roles = KORCH_ROLE_CONTROLLERS;
	o.run_mode = KORCH_RUN_THREAD;
	korch *k = NULL;
	korch_error *e = NULL;
	if (korch_open(t.path, &o, &k, &e) < 0)
		fail_msg("open: %s", korch_error_message(e));
	assert_int_equal(tasks(), before + 1);
	assert_null(korch_get_loop(k));
	assert_int_equal(korch_fd(k), -1);
	assert_int_equal(korch_dispatch(k, &e), KORCH_EINVALID);
	assert_string_equal(korch_error_message(e),
			    "korch_dispatch: korch runs on its own thread (KORCH_RUN_THREAD)");
	korch_error_free(e);
	e = NULL;
	korch_watch *q = NULL;
	assert_int_equal(korch_watch_new(k, "replicasets", "default", NULL, NULL, NULL, &q, &e), 0);
	apply_text(k,
		   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
		   "spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n"
		   "  template:\n    metadata: {labels: {app: web}}\n"
		   "    spec: {containers: [{name: c, image: busybox}]}\n",
		   KORCH_WRITE_CREATED);
	/* The controller manager on korch's thread makes the ReplicaSet. */
	struct pollfd p = { .fd = korch_watch_fd(q), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 20000), 1);
	int type;
	korch_object *rs = NULL;
	assert_int_equal(korch_watch_next(q, &type, &rs, &e), 1);
	assert_int_equal(type, KORCH_EVENT_ADDED);
	assert_true(strncmp(korch_object_name(rs), "web-", 4) == 0);
	assert_int_equal(korch_object_get_int(rs, "spec.replicas", -1), 2);
	korch_object_free(rs);
	korch_watch_free(q);
	korch_close(k);
	assert_int_equal(tasks(), before);
	tmp_fini(&t);
}

static const char deploy_yaml[] = "apiVersion: apps/v1\n"
				  "kind: Deployment\n"
				  "metadata: {name: web}\n"
				  "spec:\n"
				  "  replicas: 1\n"
				  "  selector: {matchLabels: {app: web}}\n"
				  "  template:\n"
				  "    metadata: {labels: {app: web}}\n"
				  "    spec:\n"
				  "      containers: [{name: web, image: busybox}]\n";

/*
 * A simulated run: a Deployment applied, advanced, scaled to 3, advanced. Returns the number of
 * the Deployment's pods at the end.
 */
static size_t
simulate(const char *state_path, const char *log_path, uint64_t seed)
{
	unsigned before = tasks();
	korch_options o = KORCH_OPTIONS_INIT;
	o.roles = KORCH_ROLE_ALL;
	o.simulated = true;
	o.seed = seed;
	o.event_log_path = log_path;
	korch *k = NULL;
	korch_error *e = NULL;
	if (korch_open(state_path, &o, &k, &e) < 0)
		fail_msg("open: %s", korch_error_message(e));
	assert_int_equal(korch_now_wall_ns(k), 1767225600LL * 1000000000LL);
	assert_int_equal(korch_fd(k) >= 0, 1);
	apply_text(k, deploy_yaml, KORCH_WRITE_CREATED);
	assert_int_equal(korch_advance(k, 5LL * 1000000000LL, &e), 0);
	korch_object *scale = NULL;
	const char *pt = "{\"spec\":{\"replicas\":3}}";
	assert_int_equal(korch_object_parse_json(pt, strlen(pt), &scale, &e), 0);
	assert_int_equal(korch_client_patch(korch_get_client(k), "deployments", "default", "web",
					    KORCH_PATCH_MERGE, scale, NULL, NULL, &e),
			 0);
	korch_object_free(scale);
	assert_int_equal(korch_advance(k, 30LL * 1000000000LL, &e), 0);
	korch_object *pods = NULL;
	korch_list_options lo = KORCH_LIST_OPTIONS_INIT;
	lo.label_selector = "app=web";
	assert_int_equal(korch_client_list(korch_get_client(k), "pods", "default", &lo, &pods, &e),
			 0);
	size_t n = korch_object_count(pods);
	/* The scheduler bound every pod to the simulated node, which runs it. */
	for (size_t i = 0; i < n; i++) {
		korch_object *pod = korch_object_at(pods, i);
		assert_string_equal(korch_object_get_string(pod, "spec.nodeName"), "sim-node");
		assert_string_equal(korch_object_phase(pod), "Running");
		assert_string_equal(korch_object_condition(pod, "PodScheduled"), "True");
		assert_string_equal(korch_object_condition(pod, "Ready"), "True");
	}
	korch_object_free(pods);
	korch_object *d = NULL;
	assert_int_equal(korch_client_get(korch_get_client(k), "deploy", "default", "web", &d, &e),
			 0);
	assert_int_equal(korch_object_get_int(d, "status.replicas", -1), 3);
	assert_int_equal(korch_object_get_int(d, "status.readyReplicas", -1), 3);
	assert_int_equal(korch_object_get_int(d, "status.availableReplicas", -1), 3);
	assert_string_equal(korch_object_condition(d, "Available"), "True");
	korch_object_free(d);
	/* Controllers, scheduler (committing inline under the test clock) and the simulated node
	 * ran in this thread alone. */
	assert_int_equal(tasks(), before);
	korch_close(k);
	return n;
}

static char *
slurp(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(read_file(path, 64 << 20, &text, &len, NULL), 0);
	return text;
}

static void
test_simulation_repeats(void **state)
{
	struct tmp a, b, c;
	tmp_init(&a);
	tmp_init(&b);
	tmp_init(&c);
	char log_a[160], log_b[160], log_c[160];
	snprintf(log_a, sizeof(log_a), "%s/events.log", a.dir);
	snprintf(log_b, sizeof(log_b), "%s/events.log", b.dir);
	snprintf(log_c, sizeof(log_c), "%s/events.log", c.dir);
	assert_int_equal(simulate(a.path, log_a, 42), 3);
	assert_int_equal(simulate(b.path, log_b, 42), 3);
	assert_int_equal(simulate(c.path, log_c, 43), 3);
	char *ta = slurp(log_a), *tb = slurp(log_b), *tc = slurp(log_c);
	/* The log saw the Deployment, its ReplicaSet and the node's pods. */
	assert_non_null(strstr(ta, " ADDED deployments.apps default/web {"));
	assert_non_null(strstr(ta, " ADDED replicasets.apps default/web-"));
	assert_non_null(strstr(ta, " MODIFIED nodes -/sim-node {"));
	assert_non_null(strstr(ta, "\"reason\":\"Scheduled\""));
	assert_true(strlen(ta) > 10000);
	assert_string_equal(ta, tb);
	/* Another seed gives other uids. */
	assert_string_not_equal(ta, tc);
	free(ta);
	free(tb);
	free(tc);
	tmp_fini(&a);
	tmp_fini(&b);
	tmp_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_refused),
		cmocka_unit_test(test_caller_loop),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_simulation_repeats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
