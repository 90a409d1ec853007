/*
 * GitOps syncs with real repositories (made with libgit2 in a temporary folder), run one at a
 * time through korch_gitops_sync(): the first sync, a changed image, pruning, a bad commit that
 * applies nothing, drift put back, objects made by hand left alone, tags and fixed commits,
 * a bare repository on a local path, namespaces, errors, suspension, and a sync that changes
 * nothing writing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "env.h"
#include "test-util.h"

static char *
web(const char *image, const char *extra)
{
	char *out = NULL;
	assert_true(asprintf(&out,
			     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
			     "spec:\n%s  selector:\n    matchLabels: {app: web}\n  template:\n"
			     "    metadata:\n      labels: {app: web}\n    spec:\n"
			     "      containers:\n      - name: web\n        image: %s\n",
			     extra ? extra : "", image) > 0);
	return out;
}

static const char config[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
			     "data:\n  color: blue\n---\n"
			     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n"
			     "stringData:\n  token: s3cret\n";

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	env_setup(e, false);
	*state = e;
	return 0;
}

static int
setup_bare(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	env_setup(e, true);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	env_teardown(e);
	free(e);
	return 0;
}

/* Commits web (image) and config in deploy/, returns the commit in sha. */
static void
commit_app(struct env *e, const char *image, char *sha)
{
	char *w = web(image, NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	trepo_put(&e->repo, "deploy/config.yaml", config);
	trepo_put(&e->repo, "README.md", "not a manifest\n");
	trepo_commit(&e->repo, "main", "app", sha);
	free(w);
}

static void
assert_condition(const json_t *repo, const char *type, const char *want)
{
	char *got = condition_text(repo, type);
	assert_string_equal(got, want);
	free(got);
}

static void
assert_ready_has(const json_t *repo, const char *part)
{
	char *got = condition_text(repo, "Ready");
	if (!strstr(got, part))
		fail_msg("Ready is \"%s\", without \"%s\"", got, part);
	free(got);
}

/* The image of a Deployment's first container. */
static const char *
image_of(const json_t *d)
{
	const json_t *spec =
		json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec");
	return json_string_value(
		json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "image"));
}

static void
assert_events(struct env *e, const char *want)
{
	char *got = events_text(e);
	assert_string_equal(got, want);
	free(got);
}

/* What the deployment controller would write once the rollout is done. */
static void
deployment_available(struct env *e)
{
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	json_t *status = json_pack(
		"{s:I, s:i, s:i, s:i, s:i}", "observedGeneration",
		json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation")),
		"replicas", 1, "updatedReplicas", 1, "readyReplicas", 1, "availableReplicas", 1);
	json_object_set_new(d, "status", status);
	assert_int_equal(client_update(e->client, d, "status", NULL, NULL, NULL), 0);
}

static void
test_first_sync(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	add_repo(e, e->repo_path, "  path: ./deploy/\n");
	sync_ok(e);

	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	assert_non_null(d);
	json_t *labels = json_object_get(json_object_get(d, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "gitops.korch.io/name")),
			    "apps");
	assert_string_equal(json_string_value(json_object_get(labels, "gitops.korch.io/namespace")),
			    "default");
	json_t *mf =
		json_array_get(json_object_get(json_object_get(d, "metadata"), "managedFields"), 0);
	assert_string_equal(json_string_value(json_object_get(mf, "manager")), "korch-gitops");
	assert_string_equal(json_string_value(json_object_get(mf, "operation")), "Apply");
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "default", "settings");
	assert_string_equal(str_at(cm, "data.color"), "blue");
	_cleanup_json_ json_t *secret = get(e, "v1", "Secret", "default", "token");
	assert_non_null(secret);

	_cleanup_json_ json_t *repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha);
	assert_string_equal(str_at(repo, "status.lastAttemptedCommit"), sha);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(repo, "status"),
							    "observedGeneration")),
			 1);
	char *inv = json_dumps(json_object_get(json_object_get(repo, "status"), "inventory"),
			       JSON_COMPACT);
	assert_string_equal(
		inv, "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"default\","
		     "\"name\":\"settings\"},{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		     "\"namespace\":\"default\",\"name\":\"token\"},{\"apiVersion\":\"apps/v1\","
		     "\"kind\":\"Deployment\",\"namespace\":\"default\",\"name\":\"web\"}]");
	free(inv);
	char want[512];
	snprintf(want, sizeof(want),
		 "Unknown|Progressing|Applied revision main@sha1:%s; Deployment default/web: 0 of "
		 "1 replicas available",
		 sha);
	assert_condition(repo, "Ready", want);
	assert_condition(repo, "Healthy",
			 "Unknown|Progressing|Deployment default/web: 0 of 1 replicas available");
	assert_condition(repo, "Reconciling",
			 "True|Progressing|Deployment default/web: 0 of 1 replicas available");
	snprintf(want, sizeof(want), "Normal Synced: Applied revision main@sha1:%s: 3 created\n",
		 sha);
	assert_events(e, want);

	/* The rollout is done: the next sync writes the status only. */
	deployment_available(e);
	int64_t rev = revision(e);
	sync_ok(e);
	assert_int_equal(revision(e), rev + 1);
	json_decref(repo);
	repo = get_repo(e);
	snprintf(want, sizeof(want), "True|Succeeded|Applied revision main@sha1:%s", sha);
	assert_condition(repo, "Ready", want);
	assert_condition(repo, "Healthy", "True|Healthy|The applied workloads are healthy");
	assert_condition(repo, "Reconciling", "(none)");

	/* Nothing changed anywhere: the sync writes nothing. */
	rev = revision(e);
	sync_ok(e);
	assert_int_equal(revision(e), rev);
	snprintf(want, sizeof(want), "Normal Synced: Applied revision main@sha1:%s: 3 created\n",
		 sha);
	assert_events(e, want);
}

static void
test_image_change(void **state)
{
	struct env *e = *state;
	char sha1[41], sha2[41];
	commit_app(e, "registry.example/web:1", sha1);
	add_repo(e, e->repo_path, "  path: deploy\n");
	sync_ok(e);
	_cleanup_json_ json_t *cm1 = get(e, "v1", "ConfigMap", "default", "settings");

	char *w = web("registry.example/web:2", NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_commit(&e->repo, "main", "web 2", sha2);
	int64_t before = revision(e);
	sync_ok(e);
	/* The object, the status and the Event went in one store transaction. */
	assert_int_equal(revision(e), before + 1);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	char rv[32];
	snprintf(rv, sizeof(rv), "%lld", (long long)before + 1);
	assert_string_equal(str_at(d, "metadata.resourceVersion"), rv);
	_cleanup_json_ json_t *synced = get_repo(e);
	assert_string_equal(str_at(synced, "metadata.resourceVersion"), rv);
	assert_string_equal(image_of(d), "registry.example/web:2");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation")),
		2);
	/* What did not change was not written. */
	_cleanup_json_ json_t *cm2 = get(e, "v1", "ConfigMap", "default", "settings");
	assert_string_equal(str_at(cm1, "metadata.resourceVersion"),
			    str_at(cm2, "metadata.resourceVersion"));
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha2);
	char want[512];
	snprintf(want, sizeof(want),
		 "Normal Synced: Applied revision main@sha1:%s: 3 created\n"
		 "Normal Synced: Applied revision main@sha1:%s: 1 configured\n",
		 sha1, sha2);
	assert_events(e, want);
}

static void
test_prune(void **state)
{
	struct env *e = *state;
	char sha1[41], sha2[41];
	commit_app(e, "registry.example/web:1", sha1);
	add_repo(e, e->repo_path, "  path: deploy\n");
	sync_ok(e);
	/* Made by hand in the same namespace: never touched. */
	_cleanup_json_ json_t *manual = test_yaml("apiVersion: v1\nkind: ConfigMap\n"
						  "metadata: {name: manual, namespace: default}\n");
	assert_int_equal(client_create(e->client, manual, NULL, NULL, NULL), 0);
	/* An object of the inventory replaced by hand (without the labels): not pruned either. */
	const struct kind_info *secret_kind = kind_lookup("v1", "Secret");
	assert_int_equal(
		client_delete(e->client, secret_kind, "default", "token", NULL, NULL, NULL), 0);
	_cleanup_json_ json_t *own = test_yaml("apiVersion: v1\nkind: Secret\n"
					       "metadata: {name: token, namespace: default}\n");
	assert_int_equal(client_create(e->client, own, NULL, NULL, NULL), 0);

	trepo_rm(&e->repo, "deploy/config.yaml");
	trepo_commit(&e->repo, "main", "no config", sha2);
	sync_ok(e);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "default", "settings");
	assert_null(cm);
	_cleanup_json_ json_t *kept = get(e, "v1", "ConfigMap", "default", "manual");
	assert_non_null(kept);
	_cleanup_json_ json_t *token = get(e, "v1", "Secret", "default", "token");
	assert_non_null(token);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	assert_non_null(d);
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(repo, "status"), "inventory")), 1);
	char want[512];
	snprintf(want, sizeof(want),
		 "Normal Synced: Applied revision main@sha1:%s: 3 created\n"
		 "Normal Synced: Applied revision main@sha1:%s: 1 pruned\n",
		 sha1, sha2);
	assert_events(e, want);
}

/* A repository whose manifests hold its own GitRepository: applied, and its status recorded. */
static void
test_self_managed(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	char self[512];
	snprintf(self, sizeof(self),
		 "apiVersion: gitops.korch.io/v1\nkind: GitRepository\n"
		 "metadata: {name: apps, namespace: default}\n"
		 "spec:\n  url: %s\n  path: deploy\n  interval: 2m\n",
		 e->repo_path);
	trepo_put(&e->repo, "deploy/self.yaml", self);
	trepo_commit(&e->repo, "main", "self", sha);
	add_repo(e, e->repo_path, "  path: deploy\n");
	sync_ok(e);
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_string_equal(str_at(repo, "spec.interval"), "2m");
	const json_t *labels = json_object_get(json_object_get(repo, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "gitops.korch.io/name")),
			    "apps");
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha);
}

static void
test_no_prune(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	add_repo(e, e->repo_path, "  path: deploy\n  prune: false\n");
	sync_ok(e);
	trepo_rm(&e->repo, "deploy/config.yaml");
	trepo_commit(&e->repo, "main", "no config", sha);
	sync_ok(e);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "default", "settings");
	assert_non_null(cm);
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(repo, "status"), "inventory")), 1);
}

/* A bad commit applies nothing and says why; the previous commit's objects stay as they were. */
static void
test_bad_commit(void **state)
{
	struct env *e = *state;
	char sha1[41], sha2[41], sha3[41];
	commit_app(e, "registry.example/web:1", sha1);
	add_repo(e, e->repo_path, "  path: deploy\n");
	sync_ok(e);
	_cleanup_json_ json_t *before = get(e, "apps/v1", "Deployment", "default", "web");

	/* A new image and a file that does not parse, in one commit. */
	char *w = web("registry.example/web:2", NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_put(&e->repo, "deploy/zz-broken.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels: [a\n");
	trepo_commit(&e->repo, "main", "broken", sha2);
	korch_error *err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_EINVALID);
	const char *msg = korch_error_message(err);
	assert_string_equal(msg, "deploy/zz-broken.yaml:6:1: did not find expected ',' or ']' "
				 "(while parsing a flow sequence at line 5)");
	_cleanup_json_ json_t *after = get(e, "apps/v1", "Deployment", "default", "web");
	assert_string_equal(str_at(before, "metadata.resourceVersion"),
			    str_at(after, "metadata.resourceVersion"));
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha1);
	assert_string_equal(str_at(repo, "status.lastAttemptedCommit"), sha2);
	char want[1024];
	snprintf(want, sizeof(want), "False|ManifestInvalid|%s", msg);
	assert_condition(repo, "Ready", want);
	korch_error_free(err);

	/* The same failure again writes nothing. */
	int64_t rev = revision(e);
	err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_EINVALID);
	korch_error_free(err);
	assert_int_equal(revision(e), rev);

	/* An object the API refuses: nothing of the commit is applied, the config change too. */
	trepo_rm(&e->repo, "deploy/zz-broken.yaml");
	w = web("registry.example/web:3", "  replicas: -1\n");
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_put(&e->repo, "deploy/config.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
		  "data:\n  color: green\n");
	trepo_commit(&e->repo, "main", "refused", sha3);
	err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "deploy/web.yaml:1: Deployment.apps \"web\" is invalid: spec.replicas: "
			    "Invalid value: -1: must be greater than or equal to 0");
	korch_error_free(err);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "default", "settings");
	assert_string_equal(str_at(cm, "data.color"), "blue");
	_cleanup_json_ json_t *secret = get(e, "v1", "Secret", "default", "token");
	assert_non_null(secret); /* not pruned: nothing of the commit was applied */
	json_decref(repo);
	repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha1);
	assert_string_equal(str_at(repo, "status.lastAttemptedCommit"), sha3);
	assert_condition(repo, "Ready",
			 "False|ApplyFailed|deploy/web.yaml:1: Deployment.apps \"web\" is invalid: "
			 "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
	char *events = events_text(e);
	assert_non_null(strstr(events, "\nWarning ManifestInvalid: deploy/zz-broken.yaml:6:1: "));
	assert_non_null(strstr(events, "\nWarning ApplyFailed: deploy/web.yaml:1: "));
	free(events);
}

/* Fields git sets, changed by someone else, are put back; fields git does not set stay. */
static void
test_drift(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	add_repo(e, e->repo_path, "  path: deploy\n");
	sync_ok(e);
	const struct kind_info *dk = kind_lookup("apps/v1", "Deployment");
	_cleanup_json_ json_t *edit =
		test_yaml("metadata: {labels: {team: blue}}\n"
			  "spec: {template: {spec: {containers: [{name: web, image: evil:1}]}}}\n");
	struct client_write_opts by_hand = { .field_manager = "kubectl-edit" };
	assert_int_equal(client_patch(e->client, dk, "default", "web", CLIENT_PATCH_STRATEGIC, edit,
				      NULL, &by_hand, NULL, NULL),
			 0);
	_cleanup_json_ json_t *scale = test_yaml("spec: {replicas: 3}\n");
	struct client_write_opts hpa = { .field_manager = "horizontal-pod-autoscaler" };
	assert_int_equal(client_patch(e->client, dk, "default", "web", CLIENT_PATCH_MERGE, scale,
				      NULL, &hpa, NULL, NULL),
			 0);
	sync_ok(e);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	json_t *spec = json_object_get(d, "spec");
	assert_string_equal(image_of(d), "registry.example/web:1");
	assert_int_equal(json_integer_value(json_object_get(spec, "replicas")), 3);
	json_t *labels = json_object_get(json_object_get(d, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "team")), "blue");
	char want[512];
	snprintf(want, sizeof(want),
		 "Normal Synced: Applied revision main@sha1:%s: 3 created\n"
		 "Normal DriftCorrected: Put back what changed outside git: deployment.apps "
		 "default/web\n",
		 sha);
	assert_events(e, want);
	/* A deleted object comes back too. */
	assert_int_equal(client_delete(e->client, kind_lookup("v1", "ConfigMap"), "default",
				       "settings", NULL, NULL, NULL),
			 0);
	sync_ok(e);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "default", "settings");
	assert_non_null(cm);
	int64_t rev = revision(e);
	sync_ok(e);
	assert_int_equal(revision(e), rev);
}

static void
test_tag_and_commit(void **state)
{
	struct env *e = *state;
	char c1[41], c2[41], c3[41];
	commit_app(e, "registry.example/web:1", c1);
	trepo_tag(&e->repo, "v1", c1, true);
	char *w = web("registry.example/web:2", NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_commit(&e->repo, "main", "two", c2);
	trepo_tag(&e->repo, "v2", c2, false);

	add_repo(e, e->repo_path, "  path: deploy\n  ref: {tag: v1}\n");
	sync_ok(e);
	json_t *repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), c1);
	char want[512];
	snprintf(want, sizeof(want), "Applied revision v1@sha1:%s", c1);
	assert_ready_has(repo, want);
	json_decref(repo);

	add_repo(e, e->repo_path, "  path: deploy\n  ref: {tag: v2}\n");
	sync_ok(e);
	repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), c2);
	json_decref(repo);

	/* A fixed commit stays put while the branch moves on. */
	char spec[256];
	snprintf(spec, sizeof(spec), "  path: deploy\n  ref: {commit: %s}\n", c1);
	add_repo(e, e->repo_path, spec);
	sync_ok(e);
	w = web("registry.example/web:3", NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_commit(&e->repo, "main", "three", c3);
	sync_ok(e);
	repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), c1);
	snprintf(want, sizeof(want), "Applied revision sha1:%s", c1);
	assert_ready_has(repo, want);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	assert_string_equal(image_of(d), "registry.example/web:1");
	json_decref(repo);

	/* Refs that are not there. */
	add_repo(e, e->repo_path, "  path: deploy\n  ref: {tag: v9}\n");
	korch_error *err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_ENOTFOUND);
	snprintf(want, sizeof(want), "tag \"v9\" not found in %s", e->repo_path);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	repo = get_repo(e);
	snprintf(want, sizeof(want), "False|RefNotFound|tag \"v9\" not found in %s", e->repo_path);
	assert_condition(repo, "Ready", want);
	json_decref(repo);
	add_repo(e, e->repo_path, "  path: deploy\n  ref: {branch: release}\n");
	err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_ENOTFOUND);
	snprintf(want, sizeof(want), "branch \"release\" not found in %s", e->repo_path);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	add_repo(e, e->repo_path,
		 "  path: deploy\n  ref: {commit: 0123456789abcdef0123456789abcdef01234567}\n");
	err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_ENOTFOUND);
	snprintf(want, sizeof(want),
		 "commit 0123456789abcdef0123456789abcdef01234567 not found in the branches and "
		 "tags of %s",
		 e->repo_path);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
}

/* The offline "USB stick" case: a bare repository on a local path, by path and by file://. */
static void
test_bare_local(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	add_repo(e, e->repo_path, "  path: deploy\n");
	sync_ok(e);
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha);
	char url[256];
	snprintf(url, sizeof(url), "file://%s", e->repo_path);
	add_repo(e, url, "  path: deploy\n");
	char *w = web("registry.example/web:2", NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_commit(&e->repo, "main", "two", sha);
	sync_ok(e);
	json_decref(repo);
	repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha);
}

static void
test_namespaces(void **state)
{
	struct env *e = *state;
	char sha[41];
	trepo_put(&e->repo, "team/ns.yaml",
		  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n");
	trepo_put(&e->repo, "team/a-config.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: team\n");
	trepo_put(&e->repo, "team/b-config.json",
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"}}");
	trepo_put(&e->repo, "team/sub/c-config.yml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: team\n");
	trepo_put(&e->repo, "team/.hidden/d-config.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: team\n");
	trepo_commit(&e->repo, "main", "team", sha);
	add_repo(e, e->repo_path, "  path: team\n");
	sync_ok(e);
	/* .yaml, .json and .yml, in subfolders too; dot-folders skipped. The inventory is in
	 * (group, kind, namespace, name) order. */
	_cleanup_json_ json_t *r1 = get_repo(e);
	char *inv = json_dumps(json_object_get(json_object_get(r1, "status"), "inventory"),
			       JSON_COMPACT);
	assert_string_equal(
		inv, "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"default\","
		     "\"name\":\"b\"},{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		     "\"namespace\":\"team\",\"name\":\"a\"},{\"apiVersion\":\"v1\","
		     "\"kind\":\"ConfigMap\",\"namespace\":\"team\",\"name\":\"c\"},"
		     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"team\"}]");
	free(inv);
	_cleanup_json_ json_t *ns = get(e, "v1", "Namespace", NULL, "team");
	assert_non_null(ns);
	_cleanup_json_ json_t *a = get(e, "v1", "ConfigMap", "team", "a");
	assert_non_null(a);
	/* Without a namespace of its own, an object goes to the repository's. */
	_cleanup_json_ json_t *b = get(e, "v1", "ConfigMap", "default", "b");
	assert_non_null(b);
	/* targetNamespace puts every namespaced object there. */
	add_repo(e, e->repo_path, "  path: team\n  targetNamespace: team\n");
	sync_ok(e);
	_cleanup_json_ json_t *b2 = get(e, "v1", "ConfigMap", "team", "b");
	assert_non_null(b2);
	_cleanup_json_ json_t *gone = get(e, "v1", "ConfigMap", "default", "b");
	assert_null(gone);
}

static void
expect_failure(struct env *e, int code, const char *message, const char *reason)
{
	korch_error *err = NULL;
	assert_int_equal(sync_repo(e, &err), code);
	assert_string_equal(korch_error_message(err), message);
	korch_error_free(err);
	_cleanup_json_ json_t *repo = get_repo(e);
	char want[1024];
	snprintf(want, sizeof(want), "False|%s|%s", reason, message);
	assert_condition(repo, "Ready", want);
}

static void
test_errors(void **state)
{
	struct env *e = *state;
	char sha[41];
	trepo_put(&e->repo, "deploy/a.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n");
	trepo_put(
		&e->repo, "deploy/b.yaml",
		"# the same again\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n");
	trepo_commit(&e->repo, "main", "twice", sha);
	add_repo(e, e->repo_path, "  path: deploy\n");
	expect_failure(e, KORCH_EINVALID,
		       "deploy/b.yaml:2: ConfigMap default/settings is also defined at "
		       "deploy/a.yaml:1",
		       "ManifestInvalid");

	trepo_rm(&e->repo, "deploy/b.yaml");
	trepo_put(&e->repo, "deploy/c.yaml",
		  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\n"
		  "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
	trepo_commit(&e->repo, "main", "widget", sha);
	expect_failure(e, KORCH_ENOTFOUND,
		       "deploy/c.yaml:6: no matches for kind \"Widget\" in version "
		       "\"example.com/v1\"",
		       "ManifestInvalid");

	trepo_put(&e->repo, "deploy/c.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n");
	trepo_commit(&e->repo, "main", "no name", sha);
	expect_failure(e, KORCH_EINVALID,
		       "deploy/c.yaml:1: ConfigMap has no metadata.name (GitOps tracks objects by "
		       "name)",
		       "ManifestInvalid");

	trepo_put(&e->repo, "deploy/c.yaml", "- a\n- b\n");
	trepo_commit(&e->repo, "main", "a list", sha);
	expect_failure(e, KORCH_EINVALID,
		       "deploy/c.yaml:1: a manifest must be an object, not a list",
		       "ManifestInvalid");

	char want[512];
	add_repo(e, e->repo_path, "  path: nothere\n");
	snprintf(want, sizeof(want), "path \"nothere\" not found in commit %s", sha);
	expect_failure(e, KORCH_ENOTFOUND, want, "PathNotFound");

	char url[256];
	snprintf(url, sizeof(url), "%s/nope", e->dir);
	add_repo(e, url, "  path: deploy\n");
	korch_error *err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_ESYSTEM);
	snprintf(want, sizeof(want), "fetch %s: No such file or directory", url);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	_cleanup_json_ json_t *repo = get_repo(e);
	char ready[1024];
	snprintf(ready, sizeof(ready), "False|FetchFailed|%s", want);
	assert_condition(repo, "Ready", ready);
	/* A folder that is not a repository, by file:// URL. */
	snprintf(url, sizeof(url), "file://%s/deploy", e->dir);
	char folder[256];
	snprintf(folder, sizeof(folder), "%s/deploy", e->dir);
	assert_int_equal(mkdir(folder, 0755), 0);
	add_repo(e, url, "  path: deploy\n");
	snprintf(want, sizeof(want), "fetch %s: not a git repository", url);
	expect_failure(e, KORCH_ESYSTEM, want, "FetchFailed");

	/* A Secret that is not there. */
	add_repo(e, e->repo_path, "  path: deploy\n  secretRef: {name: creds}\n");
	expect_failure(e, KORCH_ENOTFOUND, "spec.secretRef: secrets \"creds\" not found",
		       "FetchFailed");
}

static void
test_suspended(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	add_repo(e, e->repo_path, "  path: deploy\n  suspend: true\n");
	korch_error *err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "gitrepository default/apps is suspended: resume it to sync");
	korch_error_free(err);
	_cleanup_json_ json_t *d = get(e, "apps/v1", "Deployment", "default", "web");
	assert_null(d);
}

static void
test_diff(void **state)
{
	struct env *e = *state;
	char sha[41];
	commit_app(e, "registry.example/web:1", sha);
	add_repo(e, e->repo_path, "  path: deploy\n");
	korch_gitops_options o = KORCH_GITOPS_OPTIONS_INIT;
	o.data_dir = e->dir;
	korch_object *diff = NULL;
	int64_t rev = revision(e);
	assert_int_equal(korch_gitops_diff(e->kc, "default", "apps", &o, &diff, NULL), 0);
	assert_int_equal(revision(e), rev);
	json_t *d = (json_t *)diff;
	assert_string_equal(str_at(d, "commit"), sha);
	json_t *items = json_object_get(d, "items");
	assert_int_equal(json_array_size(items), 3);
	assert_string_equal(str_at(json_array_get(items, 0), "action"), "create");
	korch_object_free(diff);

	sync_ok(e);
	char *w = web("registry.example/web:2", NULL);
	trepo_put(&e->repo, "deploy/web.yaml", w);
	free(w);
	trepo_rm(&e->repo, "deploy/config.yaml");
	trepo_commit(&e->repo, "main", "two", sha);
	assert_int_equal(korch_gitops_diff(e->kc, "default", "apps", &o, &diff, NULL), 0);
	char *text = json_dumps(json_object_get((json_t *)diff, "items"), JSON_COMPACT);
	assert_string_equal(
		text,
		"[{\"action\":\"configure\",\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		"\"namespace\":\"default\",\"name\":\"web\",\"file\":\"deploy/web.yaml\","
		"\"line\":1,\"changes\":[{\"path\":\"spec.template.spec.containers[0].image\","
		"\"old\":\"registry.example/web:1\",\"new\":\"registry.example/web:2\"}]},"
		"{\"action\":\"prune\",\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		"\"namespace\":\"default\",\"name\":\"settings\",\"changes\":[]},"
		"{\"action\":\"prune\",\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		"\"namespace\":\"default\",\"name\":\"token\",\"changes\":[]}]");
	free(text);
	assert_int_equal(json_integer_value(json_object_get((json_t *)diff, "unchanged")), 0);
	korch_object_free(diff);
}

static void
test_job_degraded(void **state)
{
	struct env *e = *state;
	char sha[41];
	trepo_put(&e->repo, "migrate.yaml",
		  "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n"
		  "  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
		  "      - name: m\n        image: registry.example/migrate:1\n");
	trepo_commit(&e->repo, "main", "job", sha);
	add_repo(e, e->repo_path, NULL);
	sync_ok(e);
	_cleanup_json_ json_t *repo = get_repo(e);
	assert_condition(repo, "Healthy",
			 "Unknown|Progressing|Job default/migrate: running (0 succeeded)");
	_cleanup_json_ json_t *job = get(e, "batch/v1", "Job", "default", "migrate");
	json_object_set_new(job, "status",
			    json_pack("{s:i, s:[{s:s, s:s, s:s, s:s}]}", "failed", 7, "conditions",
				      "type", "Failed", "status", "True", "reason",
				      "BackoffLimitExceeded", "message",
				      "Job has reached the specified backoff limit"));
	assert_int_equal(client_update(e->client, job, "status", NULL, NULL, NULL), 0);
	sync_ok(e);
	json_decref(repo);
	repo = get_repo(e);
	char want[512];
	snprintf(want, sizeof(want),
		 "False|Degraded|Applied revision main@sha1:%s; Job default/migrate: failed: "
		 "BackoffLimitExceeded: Job has reached the specified backoff limit",
		 sha);
	assert_condition(repo, "Ready", want);
	char *events = events_text(e);
	assert_non_null(strstr(events, "Warning Degraded: Job default/migrate: failed: "
				       "BackoffLimitExceeded: Job has reached the specified "
				       "backoff limit\n"));
	free(events);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_managed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_and_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bare_local, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_degraded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
