/*
 * Logs through the public API (korch_pod_logs) on the simulated runtime: the container chosen as
 * kubectl chooses it, the current and the previous instance, tail, since, timestamps, byte
 * limits, follow until the container ends, kubectl's errors; and a node in the caller's process
 * (korch_node_new, simulated) with its usage samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <korch/node.h>
#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "node/logs.h"
#include "node-test.h"

#define POD(name, extra)                                                         \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"default\"},\"spec\":{" extra "}}"

struct lt {
	struct nt t;      /* agent on the simulated runtime */
	korch_client *kc; /* a public client over the same state */
};

static int
setup(void **state)
{
	struct lt *l = calloc(1, sizeof(*l));
	nt_init(&l->t);
	nt_start_agent(&l->t);
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", l->t.dir);
	assert_int_equal(korch_client_open_state(path, NULL, &l->kc, NULL), 0);
	*state = l;
	return 0;
}

static int
teardown(void **state)
{
	struct lt *l = *state;
	korch_client_free(l->kc);
	nt_fini(&l->t);
	free(l);
	return 0;
}

static int
collect(const char *data, size_t len, void *userdata)
{
	strbuf_append(userdata, data, len);
	return 0;
}

/* The log as a string, or the error's message prefixed with "error: ". */
static char *
logs(struct lt *l, const char *pod, const korch_logs_options *o)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "");
	korch_error *err = NULL;
	korch_logs_options opts = o ? *o : (korch_logs_options)KORCH_LOGS_OPTIONS_INIT;
	opts.data_dir = l->t.dir;
	if (korch_pod_logs(l->kc, "default", pod, &opts, collect, &sb, &err) < 0) {
		strbuf_truncate(&sb, 0);
		strbuf_printf(&sb, "error: %s", korch_error_message(err));
		korch_error_free(err);
	}
	return strbuf_steal(&sb);
}

static void
check(char *got, const char *want)
{
	assert_string_equal(got, want);
	free(got);
}

static void
test_logs(void **state)
{
	struct lt *l = *state;
	struct nt *t = &l->t;
	nt_create(t, POD("web", "\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox\"}],"
				"\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"},"
				"{\"name\":\"b\",\"image\":\"busybox\"}]"));
	check(logs(l, "web", NULL),
	      "error: a container name must be specified for pod web, choose one of: [a b] or one "
	      "of the init containers: [init]");
	korch_logs_options o = KORCH_LOGS_OPTIONS_INIT;
	o.container = "nope";
	check(logs(l, "web", &o), "error: container nope is not valid for pod web");
	o.container = "a";
	check(logs(l, "web", &o),
	      "error: container \"a\" in pod \"web\" is waiting to start: PodInitializing");
	const char *init = sim_container_find(t->sim, "default", "web", "init");
	assert_int_equal(sim_container_write_log(t->sim, init, "stdout", "init ran\n", NULL), 0);
	assert_int_equal(sim_container_exit(t->sim, init, 0, NULL), 0);
	nt_pump(t);
	o.container = "init";
	check(logs(l, "web", &o), "init ran\n");
	const char *a = sim_container_find(t->sim, "default", "web", "a");
	assert_int_equal(sim_container_write_log(t->sim, a, "stdout", "one\ntwo\n", NULL), 0);
	nt_advance(t, 5);
	assert_int_equal(sim_container_write_log(t->sim, a, "stderr", "three\n", NULL), 0);
	o.container = "a";
	check(logs(l, "web", &o), "one\ntwo\nthree\n");
	o.tail_lines = 2;
	check(logs(l, "web", &o), "two\nthree\n");
	o.tail_lines = -1;
	o.timestamps = true;
	check(logs(l, "web", &o),
	      "2025-11-24T16:00:00Z one\n2025-11-24T16:00:00Z two\n2025-11-24T16:00:05Z three\n");
	o.timestamps = false;
	o.since_time = "2025-11-24T16:00:03Z";
	check(logs(l, "web", &o), "three\n");
	o.since_time = NULL;
	o.limit_bytes = 5;
	check(logs(l, "web", &o), "one\nt");
	o.limit_bytes = 0;
	o.previous = true;
	check(logs(l, "web", &o),
	      "error: previous terminated container \"a\" in pod \"web\" not found");
	/* It crashes and restarts: the new instance's log is empty, the previous one's kept. */
	assert_int_equal(sim_container_exit(t->sim, a, 1, NULL), 0);
	nt_pump(t);
	assert_int_equal(nt_status_int(t, "web", "containerStatuses.0.restartCount"), 1);
	check(logs(l, "web", &o), "one\ntwo\nthree\n");
	o.previous = false;
	check(logs(l, "web", &o), "");
	a = sim_container_find(t->sim, "default", "web", "a");
	assert_int_equal(sim_container_write_log(t->sim, a, "stdout", "again\n", NULL), 0);
	check(logs(l, "web", &o), "again\n");
	check(logs(l, "nosuch", &o), "error: pods \"nosuch\" not found");
}

struct follower {
	struct lt *l;      /* the test */
	struct strbuf out; /* what was read */
	int r;             /* korch_pod_logs' result */
};

static void *
follow_thread(void *p)
{
	struct follower *f = p;
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", f->l->t.dir);
	korch_client *kc = NULL;
	korch_client_open_state(path, NULL, &kc, NULL);
	korch_logs_options o = KORCH_LOGS_OPTIONS_INIT;
	o.follow = true;
	o.data_dir = f->l->t.dir;
	f->r = korch_pod_logs(kc, "default", "tail", &o, collect, &f->out, NULL);
	korch_client_free(kc);
	return NULL;
}

static void
test_follow(void **state)
{
	struct lt *l = *state;
	struct nt *t = &l->t;
	nt_create(t, POD("tail", "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]"));
	const char *id = sim_container_find(t->sim, "default", "tail", "c");
	assert_int_equal(sim_container_write_log(t->sim, id, "stdout", "first\n", NULL), 0);
	struct follower f = { .l = l, .out = STRBUF_INIT };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, follow_thread, &f), 0);
	usleep(300000);
	assert_int_equal(sim_container_write_log(t->sim, id, "stdout", "second\n", NULL), 0);
	usleep(300000);
	/* The container ends: the follower reads what is left and returns. */
	assert_int_equal(sim_container_write_log(t->sim, id, "stdout", "last\n", NULL), 0);
	assert_int_equal(sim_container_exit(t->sim, id, 0, NULL), 0);
	nt_pump(t);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(f.r, 0);
	assert_string_equal(strbuf_str(&f.out), "first\nsecond\nlast\n");
	strbuf_free(&f.out);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Rotated files are read oldest first; split lines are joined; tail spans files. */
static void
test_rotated_files(void **state)
{
	char dir[] = "/tmp/korch-test-nodelog-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], p1[140], p2[140];
	snprintf(path, sizeof(path), "%s/0.log", dir);
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	write_text(p2, "2025-11-24T16:00:00.000000001Z stdout F first\n");
	write_text(p1, "2025-11-24T16:00:01.5Z stdout P sec\n"
		       "2025-11-24T16:00:01.6Z stdout F ond\n");
	write_text(path, "not a CRI line\n2025-11-24T16:00:03Z stderr F last");
	struct strbuf sb = STRBUF_INIT;
	struct log_read_options o = { .tail_lines = -1 };
	assert_int_equal(logs_read_file(path, &o, collect, &sb, NULL), 0);
	assert_string_equal(strbuf_str(&sb), "first\nsecond\nnot a CRI line\nlast\n");
	strbuf_truncate(&sb, 0);
	o.tail_lines = 3;
	o.timestamps = true;
	assert_int_equal(logs_read_file(path, &o, collect, &sb, NULL), 0);
	assert_string_equal(strbuf_str(&sb), "2025-11-24T16:00:01.5Z second\n"
					     "not a CRI line\n"
					     "2025-11-24T16:00:03Z last\n");
	strbuf_free(&sb);
	korch_error *err = NULL;
	snprintf(p1, sizeof(p1), "%s/none.log", dir);
	assert_int_equal(logs_read_file(p1, &o, collect, &sb, &err), KORCH_ENOTFOUND);
	char want[200];
	snprintf(want, sizeof(want), "log file %s not found", p1);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_embedded_node(void **state)
{
	char dir[] = "/tmp/korch-test-nodepub-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	assert_int_equal(korch_clock_new_test(1764000000LL * 1000000000LL, &clock, NULL), 0);
	assert_int_equal(korch_loop_new(clock, &loop, NULL), 0);
	korch_node_options o = KORCH_NODE_OPTIONS_INIT;
	korch_node *node = NULL;
	korch_error *err = NULL;
	assert_int_equal(korch_node_new(loop, &o, &node, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "korch_node_new: node_name and state_path are required");
	korch_error_free(err);
	o.node_name = "edge-1";
	o.state_path = path;
	o.simulated = true;
	assert_int_equal(korch_node_new(loop, &o, &node, NULL), 0);
	korch_client *kc = NULL;
	assert_int_equal(korch_client_open_state(path, NULL, &kc, NULL), 0);
	korch_object *pod = NULL;
	const char *text = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
			   "\"namespace\":\"default\"},\"spec\":{\"nodeName\":\"edge-1\","
			   "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}";
	assert_int_equal(korch_object_parse_json(text, strlen(text), &pod, NULL), 0);
	assert_int_equal(korch_client_create(kc, pod, NULL, NULL, NULL), 0);
	korch_object_free(pod);
	/* The node's store notices the other handle's write within its poll interval. */
	for (int i = 0; i < 30; i++) {
		korch_loop_advance(loop, 1000000000LL, NULL);
		for (int k = 0; k < 20; k++)
			korch_loop_dispatch(loop, 0, NULL);
	}
	korch_object *got = NULL;
	assert_int_equal(korch_client_get(kc, "pods", "default", "p", &got, NULL), 0);
	assert_string_equal(korch_object_phase(got), "Running");
	korch_object_free(got);
	korch_object *usage = NULL;
	assert_int_equal(korch_node_pod_usage(node, "default", "p", &usage, NULL), 0);
	assert_string_equal(korch_object_get_string(usage, "name"), "p");
	assert_true(korch_object_count(korch_object_get(usage, "samples")) >= 2);
	korch_object_free(usage);
	assert_int_equal(korch_node_usage(node, &usage, NULL), 0);
	assert_string_equal(korch_object_get_string(usage, "name"), "edge-1");
	korch_object_free(usage);
	korch_client_free(kc);
	korch_node_free(node);
	korch_loop_free(loop);
	korch_clock_free(clock);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test(test_rotated_files),
		cmocka_unit_test(test_embedded_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
