/* repo.c - real git repositories for the GitOps tests (see repo.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"

static void
check(int rc, const char *what)
{
	if (rc < 0) {
		const git_error *e = git_error_last();
		fail_msg("%s: %s", what, e && e->message ? e->message : "libgit2 error");
	}
}

void
trepo_init(struct test_repo *r, const char *path, bool bare)
{
	memset(r, 0, sizeof(*r));
	check(git_libgit2_init(), "libgit2 init");
	snprintf(r->path, sizeof(r->path), "%s", path);
	check(git_repository_init(&r->repo, path, bare), "init");
	check(git_repository_set_head(r->repo, "refs/heads/main"), "set HEAD");
	r->time_s = 1767225600; /* 2026-01-01 */
}

static void
clear_updates(struct test_repo *r)
{
	for (size_t i = 0; i < r->n_updates; i++)
		free(r->update_paths[i]);
	free(r->update_paths);
	free(r->updates);
	r->update_paths = NULL;
	r->updates = NULL;
	r->n_updates = 0;
}

void
trepo_free(struct test_repo *r)
{
	clear_updates(r);
	git_repository_free(r->repo);
	git_libgit2_shutdown();
	memset(r, 0, sizeof(*r));
}

static git_tree_update *
add_update(struct test_repo *r, const char *path)
{
	r->updates = realloc(r->updates, (r->n_updates + 1) * sizeof(*r->updates));
	r->update_paths = realloc(r->update_paths, (r->n_updates + 1) * sizeof(char *));
	assert_non_null(r->updates);
	assert_non_null(r->update_paths);
	r->update_paths[r->n_updates] = strdup(path);
	git_tree_update *u = &r->updates[r->n_updates++];
	memset(u, 0, sizeof(*u));
	u->path = r->update_paths[r->n_updates - 1];
	return u;
}

void
trepo_put(struct test_repo *r, const char *path, const char *text)
{
	git_oid blob;
	check(git_blob_create_from_buffer(&blob, r->repo, text, strlen(text)), "blob");
	git_tree_update *u = add_update(r, path);
	u->action = GIT_TREE_UPDATE_UPSERT;
	u->filemode = GIT_FILEMODE_BLOB;
	git_oid_cpy(&u->id, &blob);
}

void
trepo_rm(struct test_repo *r, const char *path)
{
	git_tree_update *u = add_update(r, path);
	u->action = GIT_TREE_UPDATE_REMOVE;
}

void
trepo_commit(struct test_repo *r, const char *branch, const char *message, char *ret_sha)
{
	char ref[256];
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	git_oid parent_id;
	git_commit *parent = NULL;
	git_tree *base = NULL;
	if (git_reference_name_to_id(&parent_id, r->repo, ref) == 0) {
		check(git_commit_lookup(&parent, r->repo, &parent_id), "parent");
		check(git_commit_tree(&base, parent), "parent tree");
	} else {
		git_treebuilder *tb = NULL;
		git_oid empty;
		check(git_treebuilder_new(&tb, r->repo, NULL), "treebuilder");
		check(git_treebuilder_write(&empty, tb), "empty tree");
		git_treebuilder_free(tb);
		check(git_tree_lookup(&base, r->repo, &empty), "empty tree");
	}
	git_oid tree_id;
	check(git_tree_create_updated(&tree_id, r->repo, base, r->n_updates, r->updates),
	      "tree update");
	clear_updates(r);
	git_tree *tree = NULL;
	check(git_tree_lookup(&tree, r->repo, &tree_id), "tree");
	git_signature *sig = NULL;
	check(git_signature_new(&sig, "korch test", "test@korch.invalid", r->time_s++, 0), "sig");
	git_oid id;
	const git_commit *parents[1] = { parent };
	check(git_commit_create(&id, r->repo, ref, sig, sig, NULL, message, tree, parent ? 1 : 0,
				parents),
	      "commit");
	git_oid_tostr(ret_sha, 41, &id);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
}

void
trepo_tag(struct test_repo *r, const char *name, const char *sha, bool annotated)
{
	git_oid id, tag_id;
	check(git_oid_fromstr(&id, sha), "sha");
	git_object *target = NULL;
	check(git_object_lookup(&target, r->repo, &id, GIT_OBJECT_COMMIT), "tag target");
	if (annotated) {
		git_signature *sig = NULL;
		check(git_signature_new(&sig, "korch test", "test@korch.invalid", r->time_s++, 0),
		      "sig");
		check(git_tag_create(&tag_id, r->repo, name, target, sig, "release", 1), "tag");
		git_signature_free(sig);
	} else {
		check(git_tag_create_lightweight(&tag_id, r->repo, name, target, 1), "tag");
	}
	git_object_free(target);
}
