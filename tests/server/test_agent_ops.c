/*
 * The API server's node calls over an in-process node agent (server_agent_ops_new) on the
 * simulated runtime: a log streamed from its thread through the loop, with back-pressure and
 * cancellation; a missing pod's error; an exec the runtime refuses; the metrics from the
 * agent's samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "node/backend-sim.h"
#include "../node/node-test.h"
#include "server/server.h"

#define POD(name, extra)                                                         \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"default\"},\"spec\":{" extra "}}"

struct at {
	struct nt t;                 /* agent on the simulated runtime */
	struct server_node_ops *ops; /* under test */
};

struct got {
	struct strbuf text; /* what write received */
	int writes;         /* write calls */
	int pause_at;       /* write call number answering 1 (pause), or 0 */
	bool done;          /* done was called */
	int r;              /* its result */
	char *message;      /* its error's message */
	bool exited;        /* exec: exit was called */
	int exit_code;      /* its code */
};

static int
setup(void **state)
{
	struct at *a = calloc(1, sizeof(*a));
	nt_init(&a->t);
	nt_start_agent(&a->t);
	char path[128], run[128];
	snprintf(path, sizeof(path), "%s/state.db", a->t.dir);
	snprintf(run, sizeof(run), "%s/run", a->t.dir);
	assert_int_equal(server_agent_ops_new(a->t.agent, a->t.client, a->t.loop, path, a->t.dir,
					      run, &a->ops, NULL),
			 0);
	*state = a;
	return 0;
}

static int
teardown(void **state)
{
	struct at *a = *state;
	server_agent_ops_free(a->ops);
	nt_fini(&a->t);
	free(a);
	return 0;
}

static int
on_write(const char *data, size_t len, void *userdata)
{
	struct got *g = userdata;
	strbuf_append(&g->text, data, len);
	return ++g->writes == g->pause_at ? 1 : 0;
}

static void
on_done(int r, const korch_error *error, void *userdata)
{
	struct got *g = userdata;
	g->done = true;
	g->r = r;
	g->message = error ? strdup(korch_error_message(error)) : NULL;
}

static void
on_exit_(int exit_code, const korch_error *error, void *userdata)
{
	struct got *g = userdata;
	g->exited = true;
	g->exit_code = exit_code;
	g->message = error ? strdup(korch_error_message(error)) : NULL;
}

/* Dispatches the loop (waiting for the stream threads) until *flag or 10 s. */
static void
wait_for(struct at *a, const bool *flag)
{
	for (int i = 0; i < 1000 && !*flag; i++)
		korch_loop_dispatch(a->t.loop, 10, NULL);
	assert_true(*flag);
}

static void
got_clear(struct got *g)
{
	strbuf_free(&g->text);
	free(g->message);
}

static struct server_log_request
log_req(const char *pod, const char *container)
{
	return (struct server_log_request){
		.ns = "default", .pod = pod, .container = container, .tail_lines = -1
	};
}

static void
test_logs(void **state)
{
	struct at *a = *state;
	nt_create(&a->t, POD("web", "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]"));
	const char *id = sim_container_find(a->t.sim, "default", "web", "a");
	assert_int_equal(sim_container_write_log(a->t.sim, id, "stdout", "one\ntwo\n", NULL), 0);
	assert_int_equal(sim_container_write_log(a->t.sim, id, "stderr", "three\n", NULL), 0);
	struct got g = { .text = STRBUF_INIT };
	strbuf_puts(&g.text, "");
	struct server_log_request req = log_req("web", "a");
	void *handle = NULL;
	assert_int_equal(
		a->ops->log_start(a->ops->node, &req, on_write, on_done, &g, &handle, NULL), 0);
	wait_for(a, &g.done);
	assert_int_equal(g.r, 0);
	assert_null(g.message);
	assert_string_equal(strbuf_str(&g.text), "one\ntwo\nthree\n");
	got_clear(&g);

	/* The last line only; the first write pauses the stream until log_resume. */
	g = (struct got){ .text = STRBUF_INIT, .pause_at = 1 };
	strbuf_puts(&g.text, "");
	req.tail_lines = 1;
	assert_int_equal(
		a->ops->log_start(a->ops->node, &req, on_write, on_done, &g, &handle, NULL), 0);
	for (int i = 0; i < 1000 && g.writes == 0; i++)
		korch_loop_dispatch(a->t.loop, 10, NULL);
	assert_int_equal(g.writes, 1);
	/* Paused: nothing more is read, not even the end. */
	for (int i = 0; i < 20; i++)
		korch_loop_dispatch(a->t.loop, 10, NULL);
	assert_false(g.done);
	a->ops->log_resume(handle);
	wait_for(a, &g.done);
	assert_int_equal(g.r, 0);
	assert_string_equal(strbuf_str(&g.text), "three\n");
	got_clear(&g);

	/* Canceled at once: done is never called. */
	g = (struct got){ .text = STRBUF_INIT };
	strbuf_puts(&g.text, "");
	assert_int_equal(
		a->ops->log_start(a->ops->node, &req, on_write, on_done, &g, &handle, NULL), 0);
	a->ops->log_cancel(handle);
	for (int i = 0; i < 30; i++)
		korch_loop_dispatch(a->t.loop, 10, NULL);
	assert_false(g.done);
	assert_int_equal(g.writes, 0);
	got_clear(&g);
}

static void
test_log_errors(void **state)
{
	struct at *a = *state;
	struct got g = { .text = STRBUF_INIT };
	strbuf_puts(&g.text, "");
	struct server_log_request req = log_req("nope", "a");
	void *handle = NULL;
	assert_int_equal(
		a->ops->log_start(a->ops->node, &req, on_write, on_done, &g, &handle, NULL), 0);
	wait_for(a, &g.done);
	assert_int_equal(g.r, KORCH_ENOTFOUND);
	assert_string_equal(g.message, "pods \"nope\" not found");
	assert_string_equal(strbuf_str(&g.text), "");
	got_clear(&g);
}

static void
test_exec_refused(void **state)
{
	struct at *a = *state;
	nt_create(&a->t, POD("web", "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]"));
	static const char *const cmd[] = { "true", NULL };
	struct server_exec_request req = { .ns = "default",
					   .pod = "web",
					   .container = "a",
					   .command = cmd,
					   .want_stdout = true,
					   .want_stderr = true };
	struct got g = { .text = STRBUF_INIT };
	struct server_exec_streams st;
	void *handle = NULL;
	assert_int_equal(a->ops->exec_start(a->ops->node, &req, on_exit_, &g, &st, &handle, NULL),
			 0);
	assert_int_equal(st.stdin_fd, -1);
	assert_true(st.stdout_fd >= 0 && st.stderr_fd >= 0);
	wait_for(a, &g.exited);
	/* The simulated runtime's containers are not korch-monitor's: exec cannot reach them. */
	assert_int_equal(g.exit_code, -1);
	assert_string_equal(g.message, "container \"a\" in pod \"web\" is not running");
	/* The process's ends are closed: the server reads end-of-file. */
	char c;
	assert_int_equal(read(st.stdout_fd, &c, 1), 0);
	assert_int_equal(read(st.stderr_fd, &c, 1), 0);
	close(st.stdout_fd);
	close(st.stderr_fd);
	got_clear(&g);
}

static void
test_metrics(void **state)
{
	struct at *a = *state;
	struct sim_behavior b = { .cpu_milli = 250, .memory_bytes = 32 << 20 };
	assert_int_equal(sim_set_behavior(a->t.sim, "default/busy/*", &b, NULL), 0);
	nt_create(&a->t, POD("busy", "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]"));
	json_t *m = NULL;
	/* One sample gives no rate yet: no pods, no node usage. */
	assert_int_equal(a->ops->metrics(a->ops->node, &m, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(m, "pods")), 0);
	json_decref(m);
	nt_advance(&a->t, 10);
	nt_advance(&a->t, 10);
	assert_int_equal(a->ops->metrics(a->ops->node, &m, NULL), 0);
	json_t *pod = json_array_get(json_object_get(m, "pods"), 0);
	assert_string_equal(json_string_value(json_object_get(pod, "name")), "busy");
	assert_string_equal(json_string_value(json_object_get(pod, "window")), "10s");
	json_t *ctr = json_array_get(json_object_get(pod, "containers"), 0);
	assert_string_equal(json_string_value(json_object_get(ctr, "name")), "a");
	json_t *usage = json_object_get(ctr, "usage");
	assert_string_equal(json_string_value(json_object_get(usage, "cpu")), "250000000n");
	assert_string_equal(json_string_value(json_object_get(usage, "memory")), "32768Ki");
	json_t *node = json_object_get(m, "node");
	assert_string_equal(json_string_value(json_object_get(node, "name")), NT_NODE);
	assert_non_null(json_object_get(json_object_get(node, "usage"), "cpu"));
	json_decref(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
