/*
 * The Deployment controller: creation and status, rolling updates within maxSurge and
 * maxUnavailable checked at every step, Recreate, rollback reusing the old ReplicaSet, pause and
 * resume, the progress deadline, restarts, revision history, proportional scaling, and the
 * fenceposts' rounding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "controller/deployment.h"
#include "controller/manager.h"
#include "harness.h"
#include "test-util.h"

static const struct controller_manager_options no_election = { .no_leader_election = true };

/* A readiness probe that passes 3 s after the container starts: pods take time to be ready. */
#define READY_AFTER_3S \
	", readinessProbe: {exec: {command: ['true']}, initialDelaySeconds: 3, periodSeconds: 1}"

/* ctr_extra: more fields of the container ("" or READY_AFTER_3S). */
static void
deployment(struct cluster *c, const char *name, int replicas, const char *strategy,
	   const char *extra_spec, const char *image, const char *ctr_extra)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, namespace: default}\n"
		 "spec:\n  replicas: %d\n%s%s  selector: {matchLabels: {app: %s}}\n"
		 "  template:\n    metadata: {labels: {app: %s}}\n"
		 "    spec: {containers: [{name: c, image: '%s'%s}]}\n",
		 name, replicas, strategy, extra_spec, name, name, image, ctr_extra);
	create_yaml(c, text, NULL);
}

/*
 * The template gains a container that never becomes ready (the simulated runtime fails the
 * readiness probe of containers named "notready"): the new pods never become ready.
 */
static const char never_ready[] =
	"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"notready\","
	"\"image\":\"nginx:1.27\",\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]},"
	"\"periodSeconds\":1}}]}}}}";

/* Whether a ReplicaSet's template has the never-ready container. */
static bool
never_ready_rs(const json_t *rs)
{
	size_t i;
	json_t *ctr;
	json_array_foreach (jp_get(rs, "spec.template.spec.containers"), i, ctr)
		if (streq(jp_str(ctr, "name"), "notready"))
			return true;
	return false;
}

static void
patch_deploy(struct cluster *c, const char *name, const char *json_text)
{
	json_error_t je;
	_cleanup_json_ json_t *p = json_loads(json_text, 0, &je);
	assert_non_null(p);
	korch_error *err = NULL;
	if (client_patch(c->client, kind_lookup("apps/v1", "Deployment"), "default", name,
			 CLIENT_PATCH_STRATEGIC, p, NULL, NULL, NULL, &err) < 0)
		fail_msg("patch: %s", korch_error_message(err));
}

static void
set_image(struct cluster *c, const char *name, const char *image)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
		 "\"%s\"}]}}}}",
		 image);
	patch_deploy(c, name, text);
}

static json_t *
deploy(struct cluster *c, const char *name)
{
	return get_obj(c, "apps/v1", "Deployment", "default", name);
}

static bool
rolled_out(struct cluster *c, void *userdata)
{
	_cleanup_json_ json_t *d = deploy(c, userdata);
	return deployment_rollout_status(d, NULL) == 1;
}

static const json_t *
find_condition(const json_t *d, const char *type)
{
	return condition_get(d, type);
}

static void
test_create_and_status(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 3, "", "", "nginx:1.27", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	_cleanup_json_ json_t *d = deploy(&c, "web");
	_cleanup_json_ json_t *rss = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	assert_int_equal(json_array_size(rss), 1);
	json_t *rs = json_array_get(rss, 0);
	const char *hash = jp_str(rs, "metadata.labels.pod-template-hash");
	assert_non_null(hash);
	char name[64];
	snprintf(name, sizeof(name), "web-%s", hash);
	assert_string_equal(jp_str(rs, "metadata.name"), name);
	assert_string_equal(jp_str(rs, "spec.selector.matchLabels.pod-template-hash"), hash);
	assert_string_equal(jp_str(rs, "spec.template.metadata.labels.pod-template-hash"), hash);
	const json_t *ann = jp_get(rs, "metadata.annotations");
	assert_string_equal(json_string_value(json_object_get(ann, REVISION_ANNOTATION)), "1");
	assert_string_equal(json_string_value(json_object_get(ann, DESIRED_REPLICAS_ANNOTATION)),
			    "3");
	/* 25% of 3 rounded up is 1: max-replicas 4. */
	assert_string_equal(json_string_value(json_object_get(ann, MAX_REPLICAS_ANNOTATION)), "4");
	assert_true(controlled_by(rs, jp_str(d, "metadata.uid")));
	assert_string_equal(json_string_value(json_object_get(jp_get(d, "metadata.annotations"),
							      REVISION_ANNOTATION)),
			    "1");
	/* The status as Kubernetes writes it. */
	assert_int_equal(jp_int(d, "status.observedGeneration", 0), 1);
	assert_int_equal(jp_int(d, "status.replicas", 0), 3);
	assert_int_equal(jp_int(d, "status.updatedReplicas", 0), 3);
	assert_int_equal(jp_int(d, "status.readyReplicas", 0), 3);
	assert_int_equal(jp_int(d, "status.availableReplicas", 0), 3);
	assert_null(jp_get(d, "status.unavailableReplicas"));
	const json_t *avail = find_condition(d, "Available");
	assert_string_equal(jp_str(avail, "status"), "True");
	assert_string_equal(jp_str(avail, "reason"), "MinimumReplicasAvailable");
	assert_string_equal(jp_str(avail, "message"), "Deployment has minimum availability.");
	const json_t *prog = find_condition(d, "Progressing");
	assert_string_equal(jp_str(prog, "status"), "True");
	assert_string_equal(jp_str(prog, "reason"), "NewReplicaSetAvailable");
	char msg[128];
	snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has successfully progressed.", name);
	assert_string_equal(jp_str(prog, "message"), msg);
	char *status_line = NULL;
	assert_int_equal(deployment_rollout_status(d, &status_line), 1);
	assert_string_equal(status_line, "deployment \"web\" successfully rolled out\n");
	free(status_line);
	_cleanup_free_ char *ev = event_message(&c, "default", "web", "ScalingReplicaSet");
	snprintf(msg, sizeof(msg), "Scaled up replica set %s from 0 to 3", name);
	assert_string_equal(ev, msg);
	/* Pods carry the hash and belong to the ReplicaSet. */
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=web");
	assert_int_equal(json_array_size(pods), 3);
	assert_string_equal(jp_str(json_array_get(pods, 0), "metadata.labels.pod-template-hash"),
			    hash);
	/* Nothing changed: a resync writes nothing. */
	struct controller_stats before, after;
	controller_manager_stats(c.cm, &before);
	controller_manager_resync(c.cm);
	settle(&c);
	controller_manager_stats(c.cm, &after);
	assert_int_equal(after.writes, before.writes);
	cluster_free(&c);
}

/* ---- rolling update bounds ---- */

struct bounds {
	int64_t replicas, surge, unavailable;
	int64_t max_seen, min_ready_seen; /* observed extremes */
	int64_t steps;
	bool started; /* the update began: check from here on */
};

static void
check_bounds(struct cluster *c, void *userdata)
{
	struct bounds *b = userdata;
	if (!b->started)
		return;
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=web");
	int64_t live = 0, ready = 0;
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		if (jp_get(pod, "metadata.deletionTimestamp"))
			continue;
		live++;
		if (pod_ready(pod))
			ready++;
	}
	b->steps++;
	b->max_seen = MAX(b->max_seen, live);
	b->min_ready_seen = MIN(b->min_ready_seen, ready);
	if (live > b->replicas + b->surge)
		fail_msg("step %lld: %lld pods, more than %lld + %lld", (long long)b->steps,
			 (long long)live, (long long)b->replicas, (long long)b->surge);
	if (ready < b->replicas - b->unavailable)
		fail_msg("step %lld: %lld ready, fewer than %lld - %lld", (long long)b->steps,
			 (long long)ready, (long long)b->replicas, (long long)b->unavailable);
}

static void
rolling_update(const char *strategy, int64_t replicas, int64_t surge, int64_t unavailable)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	add_node(&c, "node-2");
	cluster_start(&c);
	deployment(&c, "web", (int)replicas, strategy, "", "nginx:1.26", READY_AFTER_3S);
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 120 * NSEC_PER_SEC));
	struct bounds b = { replicas, surge, unavailable, 0, replicas, 0, true };
	c.on_step = check_bounds;
	c.on_step_userdata = &b;
	set_image(&c, "web", "nginx:1.27");
	assert_true(run_until(&c, rolled_out, "web", 500 * NSEC_PER_MSEC, 300 * NSEC_PER_SEC));
	/* The bounds were reached, not merely respected: the update used its room. */
	assert_int_equal(b.max_seen, replicas + surge);
	assert_int_equal(b.min_ready_seen, replicas - unavailable);
	assert_true(b.steps > 20);
	c.on_step = NULL;
	_cleanup_json_ json_t *rss = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	assert_int_equal(json_array_size(rss), 2);
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=web");
	assert_int_equal(json_array_size(pods), replicas);
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod)
		assert_string_equal(
			jp_str(json_array_get(jp_get(pod, "spec.containers"), 0), "image"),
			"nginx:1.27");
	_cleanup_json_ json_t *d = deploy(&c, "web");
	assert_string_equal(json_string_value(json_object_get(jp_get(d, "metadata.annotations"),
							      REVISION_ANNOTATION)),
			    "2");
	cluster_free(&c);
}

static void
test_rolling_update_numbers(void **state)
{
	rolling_update("  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 3, "
		       "maxUnavailable: 2}}\n",
		       10, 3, 2);
}

static void
test_rolling_update_percentages(void **state)
{
	/* 25% of 10: surge rounds up to 3, unavailable down to 2. */
	rolling_update("", 10, 3, 2);
}

static void
test_rolling_update_zero_unavailable(void **state)
{
	rolling_update("  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, "
		       "maxUnavailable: 0}}\n",
		       4, 1, 0);
}

static void
test_fenceposts(void **state)
{
	static const struct {
		int replicas;
		const char *surge, *unavailable;
		int64_t want_surge, want_unavailable;
	} cases[] = {
		{ 10, "'25%'", "'25%'", 3, 2 }, { 3, "'25%'", "'25%'", 1, 0 },
		{ 1, "0", "'10%'", 0, 1 },      { 5, "2", "7", 2, 5 },
		{ 0, "'50%'", "1", 0, 0 },      { 7, "'100%'", "'30%'", 7, 2 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "spec: {replicas: %d, strategy: {type: RollingUpdate, rollingUpdate: "
			 "{maxSurge: %s, maxUnavailable: %s}}}\n",
			 cases[i].replicas, cases[i].surge, cases[i].unavailable);
		_cleanup_json_ json_t *d = test_yaml(text);
		assert_int_equal(dep_max_surge(d), cases[i].want_surge);
		assert_int_equal(dep_max_unavailable(d), cases[i].want_unavailable);
	}
	_cleanup_json_ json_t *rec = test_yaml("spec: {replicas: 4, strategy: {type: Recreate}}\n");
	assert_int_equal(dep_max_surge(rec), 0);
	assert_int_equal(dep_max_unavailable(rec), 0);
}

static size_t
rs_count(struct cluster *c)
{
	return count_objs(c, "apps/v1", "ReplicaSet", "default", NULL);
}

static json_t *
rs_with_image(struct cluster *c, const char *image)
{
	_cleanup_json_ json_t *rss = list_objs(c, "apps/v1", "ReplicaSet", "default", NULL);
	size_t i;
	json_t *rs;
	json_array_foreach (rss, i, rs)
		if (streq(jp_str(json_array_get(jp_get(rs, "spec.template.spec.containers"), 0),
				 "image"),
			  image))
			return json_incref(rs);
	return NULL;
}

static void
test_rollback_reuses_old_rs(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 3, "", "", "nginx:1.26", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	set_image(&c, "web", "nginx:1.27");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	assert_int_equal(rs_count(&c), 2);
	_cleanup_json_ json_t *old = rs_with_image(&c, "nginx:1.26");
	assert_non_null(old);
	char old_name[64];
	snprintf(old_name, sizeof(old_name), "%s", jp_str0(old, "metadata.name"));
	/* What `kubectl rollout undo` sends: the old ReplicaSet's template without its
	 * pod-template-hash, with Go's zero values, as a JSON patch. */
	json_t *tmpl = json_deep_copy(jp_get(old, "spec.template"));
	json_object_del(json_object_get(json_object_get(tmpl, "metadata"), "labels"),
			"pod-template-hash");
	json_object_set_new(json_object_get(tmpl, "metadata"), "creationTimestamp", json_null());
	json_object_set_new(json_array_get(jp_get(tmpl, "spec.containers"), 0), "resources",
			    json_object());
	_cleanup_json_ json_t *d0 = deploy(&c, "web");
	json_t *anns = json_deep_copy(jp_get(d0, "metadata.annotations"));
	_cleanup_json_ json_t *undo = json_pack(
		"[{s:s, s:s, s:o}, {s:s, s:s, s:o}]", "op", "replace", "path", "/spec/template",
		"value", tmpl, "op", "replace", "path", "/metadata/annotations", "value", anns);
	korch_error *err = NULL;
	if (client_patch(c.client, kind_lookup("apps/v1", "Deployment"), "default", "web",
			 CLIENT_PATCH_JSON, undo, NULL, NULL, NULL, &err) < 0)
		fail_msg("undo: %s", korch_error_message(err));
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	/* The old ReplicaSet came back as revision 3; no third one was made. */
	assert_int_equal(rs_count(&c), 2);
	_cleanup_json_ json_t *back = get_obj(&c, "apps/v1", "ReplicaSet", "default", old_name);
	const json_t *ann = jp_get(back, "metadata.annotations");
	assert_string_equal(json_string_value(json_object_get(ann, REVISION_ANNOTATION)), "3");
	assert_string_equal(json_string_value(json_object_get(ann, REVISION_HISTORY_ANNOTATION)),
			    "1");
	assert_int_equal(jp_int(back, "spec.replicas", -1), 3);
	_cleanup_json_ json_t *newer = rs_with_image(&c, "nginx:1.27");
	assert_int_equal(jp_int(newer, "spec.replicas", -1), 0);
	_cleanup_json_ json_t *d = deploy(&c, "web");
	assert_string_equal(json_string_value(json_object_get(jp_get(d, "metadata.annotations"),
							      REVISION_ANNOTATION)),
			    "3");
	cluster_free(&c);
}

struct recreate_watch {
	bool mixed; /* pods of two templates existed at once */
};

static void
check_never_mixed(struct cluster *c, void *userdata)
{
	struct recreate_watch *w = userdata;
	_cleanup_json_ json_t *pods = list_objs(c, "v1", "Pod", "default", "app=web");
	bool a = false, b = false;
	size_t i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		const char *image =
			jp_str(json_array_get(jp_get(pod, "spec.containers"), 0), "image");
		a |= streq(image, "nginx:1.26");
		b |= streq(image, "nginx:1.27");
	}
	if (a && b)
		w->mixed = true;
}

static void
test_recreate(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 3, "  strategy: {type: Recreate}\n", "", "nginx:1.26", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	struct recreate_watch w = { false };
	c.on_step = check_never_mixed;
	c.on_step_userdata = &w;
	set_image(&c, "web", "nginx:1.27");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	c.on_step = NULL;
	assert_false(w.mixed);
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=web");
	assert_int_equal(json_array_size(pods), 3);
	_cleanup_json_ json_t *old = rs_with_image(&c, "nginx:1.26");
	assert_int_equal(jp_int(old, "spec.replicas", -1), 0);
	/* Recreate: no surge, max-replicas equals replicas. */
	_cleanup_json_ json_t *cur = rs_with_image(&c, "nginx:1.27");
	assert_string_equal(json_string_value(json_object_get(jp_get(cur, "metadata.annotations"),
							      MAX_REPLICAS_ANNOTATION)),
			    "3");
	cluster_free(&c);
}

static void
test_paused(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 2, "", "", "nginx:1.26", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	patch_deploy(&c, "web", "{\"spec\":{\"paused\":true}}");
	settle(&c);
	_cleanup_json_ json_t *d = deploy(&c, "web");
	const json_t *prog = find_condition(d, "Progressing");
	assert_string_equal(jp_str(prog, "status"), "Unknown");
	assert_string_equal(jp_str(prog, "reason"), "DeploymentPaused");
	assert_string_equal(jp_str(prog, "message"), "Deployment is paused");
	/* A template change while paused makes no new ReplicaSet; a scale does apply. */
	set_image(&c, "web", "nginx:1.27");
	patch_deploy(&c, "web", "{\"spec\":{\"replicas\":4}}");
	advance(&c, 10 * NSEC_PER_SEC);
	assert_int_equal(rs_count(&c), 1);
	_cleanup_json_ json_t *rs = rs_with_image(&c, "nginx:1.26");
	assert_int_equal(jp_int(rs, "spec.replicas", -1), 4);
	assert_int_equal(count_objs(&c, "v1", "Pod", "default", "app=web"), 4);
	/* Resume: the rollout happens. */
	patch_deploy(&c, "web", "{\"spec\":{\"paused\":false}}");
	settle(&c);
	json_decref(d);
	d = deploy(&c, "web");
	prog = find_condition(d, "Progressing");
	assert_true(streq(jp_str(prog, "reason"), "DeploymentResumed") ||
		    streq(jp_str(prog, "reason"), "NewReplicaSetCreated") ||
		    streq(jp_str(prog, "reason"), "ReplicaSetUpdated") ||
		    streq(jp_str(prog, "reason"), "NewReplicaSetAvailable"));
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	assert_int_equal(rs_count(&c), 2);
	_cleanup_json_ json_t *pods = list_objs(&c, "v1", "Pod", "default", "app=web");
	assert_int_equal(json_array_size(pods), 4);
	cluster_free(&c);
}

static void
test_progress_deadline(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 2, "", "  progressDeadlineSeconds: 30\n", "nginx:1.26", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	/* The new pods never become ready. */
	patch_deploy(&c, "web", never_ready);
	advance(&c, 20 * NSEC_PER_SEC);
	_cleanup_json_ json_t *d = deploy(&c, "web");
	char *line = NULL;
	assert_int_equal(deployment_rollout_status(d, &line), 0);
	assert_string_equal(line, "Waiting for deployment \"web\" rollout to finish: 1 out of 2 "
				  "new replicas have been updated...\n");
	free(line);
	assert_string_equal(jp_str(find_condition(d, "Progressing"), "reason"),
			    "ReplicaSetUpdated");
	advance(&c, 15 * NSEC_PER_SEC);
	json_decref(d);
	d = deploy(&c, "web");
	const json_t *prog = find_condition(d, "Progressing");
	assert_string_equal(jp_str(prog, "status"), "False");
	assert_string_equal(jp_str(prog, "reason"), "ProgressDeadlineExceeded");
	_cleanup_json_ json_t *cur = NULL;
	_cleanup_json_ json_t *rss = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	size_t i;
	json_t *rs;
	json_array_foreach (rss, i, rs)
		if (never_ready_rs(rs))
			cur = json_incref(rs);
	char msg[128];
	snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has timed out progressing.",
		 jp_str0(cur, "metadata.name"));
	assert_string_equal(jp_str(prog, "message"), msg);
	assert_int_equal(deployment_rollout_status(d, &line), KORCH_ETIMEOUT);
	assert_string_equal(line, "deployment \"web\" exceeded its progress deadline");
	free(line);
	/* Still available: the old pods stay within maxUnavailable. */
	assert_string_equal(jp_str(find_condition(d, "Available"), "status"), "True");
	cluster_free(&c);
}

static void
test_restart_and_history_limit(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 2, "", "  revisionHistoryLimit: 2\n", "nginx:1.26", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	for (int i = 0; i < 4; i++) {
		char text[256];
		/* What `kubectl rollout restart` sends. */
		advance(&c, NSEC_PER_SEC);
		snprintf(text, sizeof(text),
			 "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl."
			 "kubernetes.io/restartedAt\":\"2026-11-26T15:4%d:00Z\"}}}}}",
			 i + 2);
		patch_deploy(&c, "web", text);
		assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
		settle(&c);
	}
	/* Five revisions; the new one and two old ones remain. */
	_cleanup_json_ json_t *rss = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	assert_int_equal(json_array_size(rss), 3);
	_cleanup_json_ json_t *d = deploy(&c, "web");
	assert_string_equal(json_string_value(json_object_get(jp_get(d, "metadata.annotations"),
							      REVISION_ANNOTATION)),
			    "5");
	size_t i;
	json_t *rs;
	int revs = 0;
	json_array_foreach (rss, i, rs) {
		int64_t rev = 0;
		parse_int64(json_string_value(json_object_get(jp_get(rs, "metadata.annotations"),
							      REVISION_ANNOTATION)),
			    &rev);
		revs |= 1 << rev;
	}
	assert_int_equal(revs, (1 << 3) | (1 << 4) | (1 << 5));
	cluster_free(&c);
}

static void
test_proportional_scaling(void **state)
{
	struct cluster c;
	cluster_init(&c, &no_election, false);
	c.schedule = true;
	add_node(&c, "node-1");
	cluster_start(&c);
	deployment(&c, "web", 10, "", "", "nginx:1.26", "");
	assert_true(run_until(&c, rolled_out, "web", NSEC_PER_SEC, 60 * NSEC_PER_SEC));
	/* A rollout that cannot finish: its pods never become ready. */
	patch_deploy(&c, "web", never_ready);
	advance(&c, 5 * NSEC_PER_SEC);
	_cleanup_json_ json_t *before = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	int64_t total = 0;
	size_t i;
	json_t *rs;
	json_array_foreach (before, i, rs)
		total += jp_int(rs, "spec.replicas", 0);
	assert_int_equal(total, 13); /* 10 + maxSurge 3 */
	/* Scaling to 20 mid-rollout spreads the difference in proportion. */
	patch_deploy(&c, "web", "{\"spec\":{\"replicas\":20}}");
	settle(&c);
	_cleanup_json_ json_t *after = list_objs(&c, "apps/v1", "ReplicaSet", "default", NULL);
	total = 0;
	int64_t old_size = 0, new_size = 0;
	json_array_foreach (after, i, rs) {
		total += jp_int(rs, "spec.replicas", 0);
		if (never_ready_rs(rs))
			new_size = jp_int(rs, "spec.replicas", 0);
		else
			old_size = jp_int(rs, "spec.replicas", 0);
	}
	/* 20 + 25% (5) = 25: old 8 * 25/13 = 15.4 -> 15, new 5 * 25/13 = 9.6 -> 10. */
	assert_int_equal(total, 25);
	assert_int_equal(old_size, 15);
	assert_int_equal(new_size, 10);
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_status),
		cmocka_unit_test(test_rolling_update_numbers),
		cmocka_unit_test(test_rolling_update_percentages),
		cmocka_unit_test(test_rolling_update_zero_unavailable),
		cmocka_unit_test(test_fenceposts),
		cmocka_unit_test(test_rollback_reuses_old_rs),
		cmocka_unit_test(test_recreate),
		cmocka_unit_test(test_paused),
		cmocka_unit_test(test_progress_deadline),
		cmocka_unit_test(test_restart_and_history_limit),
		cmocka_unit_test(test_proportional_scaling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
