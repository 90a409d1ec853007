/* env.c - what the GitOps tests share (see env.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "env.h"
#include "test-util.h"

void
env_setup(struct env *e, bool bare)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/korch-test-gitops-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->state, sizeof(e->state), "%s/state.db", e->dir);
	snprintf(e->repo_path, sizeof(e->repo_path), "%s/repo%s", e->dir, bare ? ".git" : "");
	korch_client_options o = KORCH_CLIENT_OPTIONS_INIT;
	o.sync_normal = true;
	assert_int_equal(korch_client_open_state(e->state, &o, &e->kc, NULL), 0);
	e->client = client_of_public(e->kc);
	assert_non_null(e->client);
	trepo_init(&e->repo, e->repo_path, bare);
}

void
env_teardown(struct env *e)
{
	trepo_free(&e->repo);
	korch_client_free(e->kc);
	rm_rf(e->dir, NULL);
}

void
add_repo(struct env *e, const char *url, const char *spec_yaml)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "apiVersion: gitops.korch.io/v1\nkind: GitRepository\n"
		 "metadata: {name: apps, namespace: default}\nspec:\n  url: %s\n%s",
		 url, spec_yaml ? spec_yaml : "");
	_cleanup_json_ json_t *obj = test_yaml(text);
	struct client_write_opts wo = { .field_manager = "test" };
	korch_error *err = NULL;
	if (client_apply(e->client, obj, &wo, NULL, &err) < 0)
		fail_msg("apply the GitRepository: %s", korch_error_message(err));
}

int
sync_repo(struct env *e, korch_error **ret_err)
{
	korch_gitops_options o = KORCH_GITOPS_OPTIONS_INIT;
	o.data_dir = e->dir;
	return korch_gitops_sync(e->kc, "default", "apps", &o, NULL, ret_err);
}

void
sync_ok(struct env *e)
{
	korch_error *err = NULL;
	if (sync_repo(e, &err) < 0)
		fail_msg("sync: %s", korch_error_message(err));
}

json_t *
get(struct env *e, const char *api_version, const char *kind, const char *ns, const char *name)
{
	json_t *obj = NULL;
	if (client_get(e->client, kind_lookup(api_version, kind), ns, name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

json_t *
get_repo(struct env *e)
{
	json_t *repo = get(e, "gitops.korch.io/v1", "GitRepository", "default", "apps");
	assert_non_null(repo);
	return repo;
}

const char *
str_at(const json_t *obj, const char *path)
{
	char key[128];
	const json_t *cur = obj;
	while (cur && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		cur = json_object_get(cur, key);
		path += n + (dot ? 1 : 0);
	}
	return json_string_value(cur);
}

char *
condition_text(const json_t *repo, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(json_object_get(repo, "status"), "conditions"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0) {
			char *out = NULL;
			assert_true(asprintf(&out, "%s|%s|%s",
					     json_string_value(json_object_get(c, "status")),
					     json_string_value(json_object_get(c, "reason")),
					     json_string_value(json_object_get(c, "message"))) > 0);
			return out;
		}
	return strdup("(none)");
}

int64_t
revision(struct env *e)
{
	int64_t rev = 0;
	assert_int_equal(store_revision(client_store(e->client), &rev, NULL, NULL), 0);
	return rev;
}

char *
events_text(struct env *e)
{
	_cleanup_json_ json_t *list = NULL;
	assert_int_equal(
		client_list(e->client, kind_lookup("v1", "Event"), "default", NULL, &list, NULL),
		0);
	/* Names are REPO.HEX(time): sorted by name, they are in creation order. */
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *ev;
	json_array_foreach (json_object_get(list, "items"), i, ev) {
		if (strcmp(str_at(ev, "involvedObject.name"), "apps") != 0)
			continue;
		strbuf_printf(&sb, "%s %s: %s\n", str_at(ev, "type"), str_at(ev, "reason"),
			      str_at(ev, "message"));
	}
	return strbuf_steal(&sb);
}
