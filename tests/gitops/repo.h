/*
 * repo.h - real git repositories for the GitOps tests, made with libgit2 in a temporary folder:
 * files are put and removed, then committed on a branch (the commit's tree is built from the
 * branch's last one), tagged, or branched.
 */
#ifndef KORCH_TEST_GITOPS_REPO_H
#define KORCH_TEST_GITOPS_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <git2.h>

struct test_repo {
	git_repository *repo;     /* the repository */
	char path[256];           /* where it is */
	git_tree_update *updates; /* pending changes of the next commit */
	size_t n_updates;         /* how many */
	char **update_paths;      /* their paths (owned) */
	int64_t time_s;           /* the next commit's time */
};

/* Creates a repository at path (bare or with a work tree nobody uses); HEAD names main. */
void trepo_init(struct test_repo *r, const char *path, bool bare);
void trepo_free(struct test_repo *r);

/* The next commit puts text at path (folders are made as needed), or removes path. */
void trepo_put(struct test_repo *r, const char *path, const char *text);
void trepo_rm(struct test_repo *r, const char *path);

/* Commits the pending changes on branch (its last commit as parent); ret_sha[41] gets the id. */
void trepo_commit(struct test_repo *r, const char *branch, const char *message, char *ret_sha);

/* A tag at commit sha: annotated (a tag object) or lightweight. */
void trepo_tag(struct test_repo *r, const char *name, const char *sha, bool annotated);

#endif
