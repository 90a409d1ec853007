/* node-test.c - the node agent's unit-test harness (see node-test.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <korch/log.h>
#include "api/kinds.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "node-test.h"

#define T0_WALL 1764000000LL /* 2025-11-24T16:00:00Z */

static json_t *last_pod; /* keeps the value nt_status returned alive until the next call */

void
nt_init(struct nt *t)
{
	memset(t, 0, sizeof(*t));
	/* KORCH_TEST_LOG=debug shows what the agent says. */
	korch_log_level level;
	if (getenv("KORCH_TEST_LOG") &&
	    korch_log_level_parse(getenv("KORCH_TEST_LOG"), &level) == 0)
		korch_log_set_handler(korch_log_stderr, level, NULL);
	snprintf(t->dir, sizeof(t->dir), "/tmp/korch-test-node-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->root, sizeof(t->root), "%s/root", t->dir);
	snprintf(t->logs, sizeof(t->logs), "%s/logs", t->dir);
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", t->dir);
	assert_int_equal(korch_clock_new_test(T0_WALL * 1000000000LL, &t->clock, NULL), 0);
	assert_int_equal(korch_loop_new(t->clock, &t->loop, NULL), 0);
	struct store_options so = { .loop = t->loop,
				    .sync_normal = true,
				    .poll_interval_ms = -1,
				    .compact_keep_revisions = -1 };
	assert_int_equal(store_open(path, &so, &t->store, NULL), 0);
	assert_int_equal(client_new_local(t->store, t->clock, &t->client, NULL), 0);
	static const char *const nss[] = { "default", "kube-system", "kube-node-lease", "other" };
	for (size_t i = 0; i < 4; i++) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", nss[i]);
		assert_int_equal(client_create(t->client, ns, NULL, NULL, NULL), 0);
		json_decref(ns);
	}
	assert_int_equal(sim_backend_new(t->loop, &t->backend, &t->sim, NULL), 0);
	t->opts = (struct node_agent_options){
		.node_name = NT_NODE,
		.client = t->client,
		.backend = t->backend,
		.root_dir = t->root,
		.log_dir = t->logs,
		.node_ip = "192.168.1.10",
		.eviction_memory_available_bytes = -1,
	};
}

void
nt_start_agent(struct nt *t)
{
	korch_error *err = NULL;
	int r = node_agent_new(&t->opts, &t->agent, &err);
	if (r == 0)
		r = node_agent_start(t->agent, &err);
	if (r < 0)
		fail_msg("agent: %s", korch_error_message(err));
	nt_pump(t);
}

void
nt_stop_agent(struct nt *t)
{
	node_agent_free(t->agent);
	t->agent = NULL;
}

void
nt_fini(struct nt *t)
{
	node_agent_free(t->agent);
	node_backend_free(t->backend);
	client_free(t->client);
	store_close(t->store);
	korch_loop_free(t->loop);
	korch_clock_free(t->clock);
	rm_rf(t->dir, NULL);
	json_decref(last_pod);
	last_pod = NULL;
}

void
nt_pump(struct nt *t)
{
	for (int idle = 0, i = 0; idle < 3 && i < 10000; i++) {
		int n = korch_loop_dispatch(t->loop, 0, NULL);
		idle = n > 0 ? 0 : idle + 1;
	}
}

void
nt_advance(struct nt *t, double seconds)
{
	nt_pump(t);
	assert_int_equal(korch_loop_advance(t->loop, (int64_t)(seconds * 1e9), NULL), 0);
	nt_pump(t);
}

double
nt_now(struct nt *t)
{
	return (double)(korch_clock_now_ns(t->clock) - 1000000000LL) / 1e9;
}

void
nt_create(struct nt *t, const char *text)
{
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);
	if (!obj)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	if (streq(json_string_value(json_object_get(obj, "kind")), "Pod")) {
		json_t *spec = json_object_get(obj, "spec");
		if (!json_object_get(spec, "nodeName"))
			json_object_set_new(spec, "nodeName", json_string(NT_NODE));
	}
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(t->client, obj, &o, NULL, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
	json_decref(obj);
	nt_pump(t);
}

json_t *
nt_get(struct nt *t, const char *kind, const char *ns, const char *name)
{
	const char *api = streq(kind, "Lease") ? "coordination.k8s.io/v1" : "v1";
	json_t *obj = NULL;
	if (client_get(t->client, kind_lookup(api, kind), ns, name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

/* Follows a dotted path with numeric array indexes. */
static json_t *
at(json_t *v, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		char *end;
		long i = strtol(tok, &end, 10);
		v = *end == '\0' && json_is_array(v) ? json_array_get(v, (size_t)i)
						     : json_object_get(v, tok);
	}
	return v;
}

json_t *
nt_status(struct nt *t, const char *name, const char *path)
{
	json_decref(last_pod);
	last_pod = nt_get(t, "Pod", "default", name);
	return last_pod ? at(json_object_get(last_pod, "status"), path) : NULL;
}

const char *
nt_status_str(struct nt *t, const char *name, const char *path)
{
	return json_string_value(nt_status(t, name, path));
}

long long
nt_status_int(struct nt *t, const char *name, const char *path)
{
	json_t *v = nt_status(t, name, path);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

const char *
nt_condition(struct nt *t, const char *name, const char *type)
{
	json_t *conds = nt_status(t, name, "conditions");
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return json_string_value(json_object_get(c, "status"));
	return NULL;
}

long long
nt_rv(struct nt *t, const char *kind, const char *ns, const char *name)
{
	json_t *obj = nt_get(t, kind, ns, name);
	long long rv = -1;
	if (obj)
		rv = atoll(json_string_value(json_object_get(json_object_get(obj, "metadata"),
							     "resourceVersion"))
				   ?: "-1");
	json_decref(obj);
	return rv;
}

void
nt_delete(struct nt *t, const char *name, long long grace)
{
	struct client_delete_opts o = { .grace_period_s = grace };
	korch_error *err = NULL;
	if (client_delete(t->client, kind_lookup("v1", "Pod"), "default", name, &o, NULL, &err) < 0)
		fail_msg("delete: %s", korch_error_message(err));
	nt_pump(t);
}
