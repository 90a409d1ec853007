/* harness.c - see harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "harness.h"

void
env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-sched-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/state.db", e->dir);
	assert_int_equal(korch_clock_new_test(T0, &e->clock, NULL), 0);
	assert_int_equal(korch_loop_new(e->clock, &e->loop, NULL), 0);
	struct store_options so = { .loop = e->loop,
				    .sync_normal = true,
				    .poll_interval_ms = -1,
				    .compact_keep_revisions = -1 };
	assert_int_equal(store_open(path, &so, &e->store, NULL), 0);
	assert_int_equal(client_new_local(e->store, e->clock, &e->client, NULL), 0);
	env_apply(e, "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n");
}

void
env_start(struct env *e, const struct scheduler_options *opts)
{
	struct scheduler_options o = { .seed = 42, .hostname = "test" };
	if (opts) {
		o = *opts;
		if (!o.seed)
			o.seed = 42;
		if (!o.hostname)
			o.hostname = "test";
	}
	korch_error *err = NULL;
	if (scheduler_new(e->client, e->loop, &o, &e->sched, &err) < 0 ||
	    scheduler_start(e->sched, &err) < 0)
		fail_msg("scheduler: %s", korch_error_message(err));
	env_pump(e);
}

void
env_fini(struct env *e)
{
	scheduler_free(e->sched);
	client_free(e->client);
	store_close(e->store);
	korch_loop_free(e->loop);
	korch_clock_free(e->clock);
	rm_rf(e->dir, NULL);
}

void
env_apply(struct env *e, const char *text)
{
	struct codec_docs docs = { 0 };
	korch_error *err = NULL;
	if (codec_yaml_decode(text, strlen(text), &docs, &err) < 0)
		fail_msg("yaml: %s\n%s", korch_error_message(err), text);
	for (size_t i = 0; i < docs.n; i++) {
		struct client_write_opts o = { .field_manager = "test" };
		json_t *created = NULL;
		if (client_create(e->client, docs.docs[i], &o, &created, &err) < 0)
			fail_msg("create: %s\n%s", korch_error_message(err), text);
		/* A create starts the status afresh: the document's status is written after. */
		json_t *status = json_object_get(docs.docs[i], "status");
		const char *kind = json_string_value(json_object_get(docs.docs[i], "kind"));
		if (status && strcmp(kind, "Node") != 0) {
			json_object_set(created, "status", status);
			if (client_update(e->client, created, "status", &o, NULL, &err) < 0)
				fail_msg("status: %s\n%s", korch_error_message(err), text);
		}
		json_decref(created);
	}
	codec_docs_free(&docs);
}

void
env_node(struct env *e, const char *name, const char *cpu, const char *memory, int pods,
	 const char *labels, const char *extra_spec, const char *extra_status)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels: %s\n"
		 "spec:\n%s\nstatus:\n  capacity: {cpu: \"%s\", memory: %s, pods: \"%d\"}\n"
		 "  conditions:\n  - {type: Ready, status: \"True\"}\n%s\n",
		 name, labels ? labels : "{}", extra_spec ? extra_spec : "  {}", cpu, memory, pods,
		 extra_status ? extra_status : "");
	env_apply(e, text);
}

void
env_pod(struct env *e, const char *name, const char *labels, const char *spec)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n"
		 "  labels: %s\nspec:\n%s\n",
		 name, labels ? labels : "{}", spec);
	env_apply(e, text);
}

void
env_pump(struct env *e)
{
	int idle = 0;
	for (int i = 0; i < 100000 && idle < 4; i++) {
		int r = korch_loop_dispatch(e->loop, 0, NULL);
		idle = r == 0 ? idle + 1 : 0;
	}
}

void
env_advance(struct env *e, int64_t delta_ns)
{
	assert_int_equal(korch_loop_advance(e->loop, delta_ns, NULL), 0);
	env_pump(e);
}

json_t *
env_get_pod(struct env *e, const char *name)
{
	json_t *pod = NULL;
	if (client_get(e->client, kind_lookup("v1", "Pod"), "default", name, &pod, NULL) < 0)
		return NULL;
	return pod;
}

const char *
env_pod_node(struct env *e, const char *name)
{
	static char buf[256];
	_cleanup_json_ json_t *pod = env_get_pod(e, name);
	if (!pod)
		return NULL;
	const char *n =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	snprintf(buf, sizeof(buf), "%s", n ? n : "");
	return buf;
}

const char *
env_pod_message(struct env *e, const char *name)
{
	static char buf[4096];
	buf[0] = '\0';
	_cleanup_json_ json_t *pod = env_get_pod(e, name);
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *status = json_string_value(json_object_get(c, "status"));
		if (type && strcmp(type, "PodScheduled") == 0 && status &&
		    strcmp(status, "False") == 0)
			snprintf(buf, sizeof(buf), "%s",
				 json_string_value(json_object_get(c, "message")) ?: "");
	}
	return buf;
}

const char *
env_pod_nominated(struct env *e, const char *name)
{
	static char buf[256];
	_cleanup_json_ json_t *pod = env_get_pod(e, name);
	const char *n = json_string_value(
		json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
	snprintf(buf, sizeof(buf), "%s", n ? n : "");
	return buf;
}

bool
env_pod_deleting(struct env *e, const char *name)
{
	_cleanup_json_ json_t *pod = env_get_pod(e, name);
	return json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL;
}

void
env_delete_pod_now(struct env *e, const char *name)
{
	struct client_delete_opts o = { .grace_period_s = 0 };
	assert_int_equal(
		client_delete(e->client, kind_lookup("v1", "Pod"), "default", name, &o, NULL, NULL),
		0);
}

static int
cmp_events(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(json_object_get(json_object_get(x, "metadata"), "name")),
		      json_string_value(json_object_get(json_object_get(y, "metadata"), "name")));
}

char *
env_pod_events(struct env *e, const char *name)
{
	json_t *list = NULL;
	assert_int_equal(
		client_list(e->client, kind_lookup("v1", "Event"), "default", NULL, &list, NULL),
		0);
	json_t *items = json_object_get(list, "items");
	size_t n = json_array_size(items);
	json_t **arr = calloc(n ? n : 1, sizeof(*arr));
	size_t k = 0, i;
	json_t *ev;
	json_array_foreach (items, i, ev) {
		const char *on = json_string_value(
			json_object_get(json_object_get(ev, "involvedObject"), "name"));
		if (on && strcmp(on, name) == 0)
			arr[k++] = ev;
	}
	qsort(arr, k, sizeof(*arr), cmp_events);
	struct strbuf sb = STRBUF_INIT;
	for (size_t j = 0; j < k; j++)
		strbuf_printf(&sb, "%s:%s\n", json_string_value(json_object_get(arr[j], "reason")),
			      json_string_value(json_object_get(arr[j], "message")));
	free(arr);
	json_decref(list);
	return strbuf_steal(&sb);
}
