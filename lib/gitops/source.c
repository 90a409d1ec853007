/*
 * source.c - the git side of GitOps, with libgit2: a bare cache repository per GitRepository
 * under the data dir, fetched into with only what is new (a commit the cache holds takes no
 * transfer), the ref resolved against what the remote advertises, and the manifests read
 * straight from the commit's tree (no work tree that could drift), decoded once per blob.
 *
 * Everything here blocks (network, disk) and touches no loop: the controller runs it on the
 * worker pool, korch_gitops_sync() on the caller's thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <git2.h>
#include <nettle/sha2.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "gitops/gitops.h"

struct gitops_cache {
	git_repository *repo; /* the bare cache */
	char *dir;            /* its path */
};

const char *
gitops_reason_name(enum gitops_reason r)
{
	switch (r) {
	case GITOPS_OK: return "Succeeded";
	case GITOPS_FETCH_FAILED: return "FetchFailed";
	case GITOPS_REF_NOT_FOUND: return "RefNotFound";
	case GITOPS_PATH_NOT_FOUND: return "PathNotFound";
	case GITOPS_MANIFEST_INVALID: return "ManifestInvalid";
	case GITOPS_APPLY_FAILED: return "ApplyFailed";
	}
	return "Unknown";
}

/* An error with libgit2's last message after ours. */
static int _printf_(3, 4) git_fail(korch_error **err, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const git_error *e = git_error_last();
	if (e && e->message && *e->message)
		return error_set(err, code, "%s: %s", msg, e->message);
	return error_set(err, code, "%s", msg);
}

int
gitops_source_from_repo(const json_t *repo, struct gitops_source *ret, korch_error **err)
{
	const json_t *spec = json_object_get(repo, "spec");
	const json_t *ref = json_object_get(spec, "ref");
	struct gitops_source s = {
		.url = json_string_value(json_object_get(spec, "url")),
		.path = json_string_value(json_object_get(spec, "path")),
	};
	const char *branch = json_string_value(json_object_get(ref, "branch"));
	const char *tag = json_string_value(json_object_get(ref, "tag"));
	const char *commit = json_string_value(json_object_get(ref, "commit"));
	if (commit && *commit) {
		s.ref_type = GITOPS_REF_COMMIT;
		s.ref = commit;
	} else if (tag && *tag) {
		s.ref_type = GITOPS_REF_TAG;
		s.ref = tag;
	} else {
		s.ref_type = GITOPS_REF_BRANCH;
		s.ref = branch && *branch ? branch : "main";
	}
	if (!s.url || !*s.url)
		return error_set(err, KORCH_EINVALID, "spec.url is not set");
	if (!s.path)
		s.path = "";
	*ret = s;
	return 0;
}

char *
gitops_revision_name(const struct gitops_source *s, const char *commit)
{
	char *out = NULL;
	int r = s->ref_type == GITOPS_REF_COMMIT ? asprintf(&out, "sha1:%s", commit)
						 : asprintf(&out, "%s@sha1:%s", s->ref, commit);
	return r < 0 ? NULL : out;
}

char *
gitops_cache_dir(const char *data_dir, const char *ns, const char *name, const char *url)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, strlen(url), (const uint8_t *)url);
	sha256_digest(&ctx, sizeof(digest), digest);
	char *out = NULL;
	if (asprintf(&out, "%s/gitops/%s/%s-%02x%02x%02x%02x%02x%02x.git", data_dir, ns, name,
		     digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]) < 0)
		return NULL;
	return out;
}

int
gitops_cache_open(const char *dir, struct gitops_cache **ret, korch_error **err)
{
	if (git_libgit2_init() < 0)
		return git_fail(err, KORCH_ESYSTEM, "initialise libgit2");
	struct gitops_cache *c = calloc(1, sizeof(*c));
	if (!c || !(c->dir = strdup(dir))) {
		free(c);
		git_libgit2_shutdown();
		return error_oom(err);
	}
	int r = git_repository_open_bare(&c->repo, dir);
	if (r == GIT_ENOTFOUND) {
		korch_error *e = NULL;
		_cleanup_free_ char *parent = strdup(dir);
		char *slash = parent ? strrchr(parent, '/') : NULL;
		if (slash)
			*slash = '\0';
		if (!parent || (slash && mkdir_p(parent, 0700, &e) < 0)) {
			gitops_cache_free(c);
			return parent ? error_propagate(err, &e, korch_error_code(e))
				      : error_oom(err);
		}
		r = git_repository_init(&c->repo, dir, 1);
	}
	if (r < 0) {
		int code = git_fail(err, KORCH_ESYSTEM, "open the git cache %s", dir);
		gitops_cache_free(c);
		return code;
	}
	*ret = c;
	return 0;
}

void
gitops_cache_free(struct gitops_cache *c)
{
	if (!c)
		return;
	git_repository_free(c->repo);
	free(c->dir);
	free(c);
	git_libgit2_shutdown();
}

/* ---- fetch ---- */

/* What the libgit2 callbacks of one fetch share. */
struct fetch_ctx {
	const struct gitops_creds *creds; /* or NULL */
	const bool *cancel;               /* or NULL */
	unsigned cred_calls;              /* times credentials were asked for */
	char message[512];                /* why a callback refused, or "" */
};

static int
cred_cb(git_credential **out, const char *url, const char *username_from_url, unsigned int allowed,
	void *payload)
{
	struct fetch_ctx *ctx = payload;
	const struct gitops_creds *cr = ctx->creds;
	if (++ctx->cred_calls > 1) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "authentication failed: the server refused the credentials of the Secret "
			 "named by spec.secretRef");
		return GIT_EUSER;
	}
	const char *user = username_from_url && *username_from_url ? username_from_url
			   : cr && cr->username                    ? cr->username
								   : "git";
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && cr && cr->ssh_key) {
		if (git_credential_ssh_key_memory_new(out, user, cr->ssh_public_key, cr->ssh_key,
						      cr->ssh_passphrase) < 0) {
			const git_error *e = git_error_last();
			snprintf(ctx->message, sizeof(ctx->message), "use the SSH key: %s",
				 e && e->message ? e->message : "not supported");
			return GIT_EUSER;
		}
		return 0;
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && cr && cr->password) {
		const char *basic_user = cr->username ? cr->username : user;
		return git_credential_userpass_plaintext_new(out, basic_user, cr->password);
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	snprintf(ctx->message, sizeof(ctx->message), "%s asks for credentials%s", url,
		 cr && cr->from_secret ? " the Secret named by spec.secretRef does not hold"
				       : " and spec.secretRef names no Secret");
	return GIT_EUSER;
}

static int
cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct fetch_ctx *ctx = payload;
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return GIT_PASSTHROUGH; /* TLS: libgit2 checks the chain against the system CAs */
	(void)valid;
	const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
	if (!(hk->type & GIT_CERT_SSH_RAW)) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "the SSH host key of %s cannot be checked", host);
		return GIT_EUSER;
	}
	if (!ctx->creds || !ctx->creds->known_hosts) {
		/* Without known_hosts there is nothing to check the key against: refused. */
		snprintf(ctx->message, sizeof(ctx->message),
			 "the SSH host key of %s cannot be checked: the Secret named by "
			 "spec.secretRef has no known_hosts",
			 host);
		return GIT_EUSER;
	}
	int r = gitops_known_host(ctx->creds->known_hosts, host, (const unsigned char *)hk->hostkey,
				  hk->hostkey_len);
	if (r == 0)
		return 0;
	snprintf(ctx->message, sizeof(ctx->message),
		 r == KORCH_ECONFLICT ? "the SSH host key of %s does not match known_hosts"
				      : "%s is not in known_hosts",
		 host);
	return GIT_EUSER;
}

static int
progress_cb(const git_indexer_progress *stats, void *payload)
{
	struct fetch_ctx *ctx = payload;
	(void)stats;
	if (ctx->cancel && __atomic_load_n(ctx->cancel, __ATOMIC_RELAXED)) {
		snprintf(ctx->message, sizeof(ctx->message), "canceled");
		return GIT_EUSER;
	}
	return 0;
}

/* A failed libgit2 call of the fetch: the callbacks' reason when they refused. */
static int
fetch_fail(const struct fetch_ctx *ctx, const char *url, korch_error **err)
{
	if (ctx->message[0])
		return error_set(err, KORCH_ESYSTEM, "fetch %s: %s", url, ctx->message);
	return git_fail(err, KORCH_ESYSTEM, "fetch %s", url);
}

static bool
is_commit(git_repository *repo, const git_oid *id)
{
	git_commit *commit = NULL;
	if (git_commit_lookup(&commit, repo, id) < 0)
		return false;
	git_commit_free(commit);
	return true;
}

/* The commit a fetched object (a commit, or an annotated tag) stands for. */
static int
peel_commit(git_repository *repo, const git_oid *id, git_oid *ret)
{
	git_object *obj = NULL, *peeled = NULL;
	int r = git_object_lookup(&obj, repo, id, GIT_OBJECT_ANY);
	if (r == 0)
		r = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	if (r == 0)
		git_oid_cpy(ret, git_object_id(peeled));
	git_object_free(peeled);
	git_object_free(obj);
	return r;
}

/*
 * A local repository (a path, or a file:// URL without escapes) that is not there: libgit2
 * would only say "unsupported URL protocol", so say what is wrong here.
 */
static int
check_local(const char *url, korch_error **err)
{
	const char *path = startswith(url, "file://");
	if (!path && url[0] == '/')
		path = url;
	if (!path || strchr(path, '%'))
		return 0;
	struct stat st;
	if (stat(path, &st) < 0)
		return error_errno(err, errno, "fetch %s", url);
	if (git_repository_open_ext(NULL, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return error_set(err, KORCH_ESYSTEM, "fetch %s: not a git repository", url);
	return 0;
}

int
gitops_fetch(struct gitops_cache *c, const struct gitops_source *s,
	     const struct gitops_creds *creds, const bool *cancel, char ret_commit[static 41],
	     enum gitops_reason *ret_reason, korch_error **err)
{
	*ret_reason = GITOPS_FETCH_FAILED;
	git_oid want;
	if (s->ref_type == GITOPS_REF_COMMIT) {
		if (git_oid_fromstr(&want, s->ref) < 0) {
			*ret_reason = GITOPS_REF_NOT_FOUND;
			return error_set(err, KORCH_EINVALID, "%s is not a commit id", s->ref);
		}
		/* A fixed commit never changes: once in the cache, no transfer at all. */
		if (is_commit(c->repo, &want)) {
			git_oid_tostr(ret_commit, 41, &want);
			*ret_reason = GITOPS_OK;
			return 0;
		}
	}
	int r = check_local(s->url, err);
	if (r < 0)
		return r;
	struct fetch_ctx ctx = { .creds = creds, .cancel = cancel };
	git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
	cb.credentials = cred_cb;
	cb.certificate_check = cert_cb;
	cb.transfer_progress = progress_cb;
	cb.payload = &ctx;
	git_proxy_options proxy = GIT_PROXY_OPTIONS_INIT;
	proxy.type = GIT_PROXY_AUTO;
	_cleanup_free_ char *bearer = NULL;
	char *header_list[1];
	git_strarray headers = { header_list, 0 };
	if (creds && creds->bearer_token) {
		if (asprintf(&bearer, "Authorization: Bearer %s", creds->bearer_token) < 0)
			return error_oom(err);
		header_list[0] = bearer;
		headers.count = 1;
	}
	/*
	 * An in-memory remote of the cache. url.*.insteadOf of the host's git configuration does
	 * not apply: the URL is what spec.url says (libgit2 1.5 also leaks a regex match per
	 * remote when it looks those up).
	 */
	git_remote *remote = NULL;
	git_remote_create_options ro = GIT_REMOTE_CREATE_OPTIONS_INIT;
	ro.repository = c->repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, s->url, &ro) < 0)
		return git_fail(err, KORCH_ESYSTEM, "fetch %s", s->url);
	r = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, &proxy, &headers);
	if (r < 0) {
		r = fetch_fail(&ctx, s->url, err);
		git_remote_free(remote);
		return r;
	}
	char spec_a[600], spec_b[600];
	char *specs[2] = { spec_a, spec_b };
	git_strarray refspecs = { specs, 1 };
	bool have = false;
	if (s->ref_type == GITOPS_REF_COMMIT) {
		snprintf(spec_a, sizeof(spec_a), "+refs/heads/*:refs/korch/heads/*");
		snprintf(spec_b, sizeof(spec_b), "+refs/tags/*:refs/korch/tags/*");
		refspecs.count = 2;
	} else {
		/* What the remote advertises decides: no such ref is RefNotFound at once. */
		const git_remote_head **heads = NULL;
		size_t n = 0;
		if (git_remote_ls(&heads, &n, remote) < 0) {
			r = fetch_fail(&ctx, s->url, err);
			git_remote_free(remote);
			return r;
		}
		/* Ref names are at most 255 bytes (validation): these never truncate. */
		char name[300], peeled[310];
		bool tag = s->ref_type == GITOPS_REF_TAG;
		snprintf(name, sizeof(name), "refs/%s/%.255s", tag ? "tags" : "heads", s->ref);
		snprintf(peeled, sizeof(peeled), "%s^{}", name);
		bool found = false, found_peeled = false;
		for (size_t i = 0; i < n; i++) {
			if (!found_peeled && streq(heads[i]->name, name)) {
				git_oid_cpy(&want, &heads[i]->oid);
				found = true;
			} else if (streq(heads[i]->name, peeled)) {
				git_oid_cpy(&want, &heads[i]->oid);
				found = found_peeled = true;
			}
		}
		if (!found) {
			git_remote_free(remote);
			*ret_reason = GITOPS_REF_NOT_FOUND;
			return error_set(err, KORCH_ENOTFOUND, "%s \"%s\" not found in %s",
					 tag ? "tag" : "branch", s->ref, s->url);
		}
		have = is_commit(c->repo, &want);
		snprintf(spec_a, sizeof(spec_a), "+%s:refs/korch/%s/%s", name,
			 tag ? "tags" : "heads", s->ref);
	}
	if (!have) {
		git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
		fo.callbacks = cb;
		fo.proxy_opts = proxy;
		fo.custom_headers = headers;
		fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
		fo.update_fetchhead = 0;
		if (git_remote_download(remote, &refspecs, &fo) < 0 ||
		    git_remote_update_tips(remote, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL) <
			    0) {
			r = fetch_fail(&ctx, s->url, err);
			git_remote_free(remote);
			return r;
		}
	}
	git_remote_disconnect(remote);
	git_remote_free(remote);
	git_oid commit;
	if (peel_commit(c->repo, &want, &commit) < 0) {
		*ret_reason = GITOPS_REF_NOT_FOUND;
		if (s->ref_type == GITOPS_REF_COMMIT)
			return error_set(err, KORCH_ENOTFOUND,
					 "commit %s not found in the branches and tags of %s",
					 s->ref, s->url);
		return git_fail(err, KORCH_ENOTFOUND, "%s \"%s\" of %s is not a commit",
				s->ref_type == GITOPS_REF_TAG ? "tag" : "branch", s->ref, s->url);
	}
	git_oid_tostr(ret_commit, 41, &commit);
	*ret_reason = GITOPS_OK;
	return 0;
}

/* ---- manifests ---- */

struct gitops_manifests *
gitops_manifests_ref(struct gitops_manifests *m)
{
	if (m)
		__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	return m;
}

void
gitops_manifests_unref(struct gitops_manifests *m)
{
	if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->files[i].path);
		codec_docs_free(&m->files[i].docs);
	}
	free(m->files);
	free(m);
}

static bool
is_manifest_name(const char *name)
{
	return endswith(name, ".yaml") || endswith(name, ".yml") || endswith(name, ".json");
}

/* A blob found by the tree walk. */
struct entry {
	char *path;  /* repository path */
	git_oid oid; /* its blob */
};

struct walk_ctx {
	const char *prefix;  /* spec.path as a folder prefix ("deploy/"), or "" */
	struct entry *items; /* the manifests found */
	size_t n, cap;       /* used and allocated */
	bool oom;            /* an allocation failed */
};

static int
walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
	struct walk_ctx *w = payload;
	const char *name = git_tree_entry_name(entry);
	git_object_t type = git_tree_entry_type(entry);
	if (name[0] == '.')
		return type == GIT_OBJECT_TREE ? 1 : 0; /* dot-folders are skipped whole */
	git_filemode_t mode = git_tree_entry_filemode(entry);
	if (type != GIT_OBJECT_BLOB || !is_manifest_name(name) ||
	    (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE))
		return 0; /* folders go on; links, submodules and other files are not manifests */
	struct entry *e = VEC_PUSH(w->items, w->n, w->cap);
	if (!e || asprintf(&e->path, "%s%s%s", w->prefix, root, name) < 0) {
		if (e)
			e->path = NULL;
		w->oom = true;
		return -1;
	}
	git_oid_cpy(&e->oid, git_tree_entry_id(entry));
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

/* "./deploy/" -> "deploy"; "", ".", "/" and "./" -> "". */
static char *
normalize_path(const char *path)
{
	while (startswith(path, "./") || path[0] == '/')
		path += path[0] == '/' ? 1 : 2;
	if (streq(path, "."))
		path = "";
	char *out = strdup(path);
	if (!out)
		return NULL;
	size_t n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

/* Shares the documents of a file of prev (same blob) with a new file. */
static int
share_docs(const struct codec_docs *from, struct codec_docs *to)
{
	to->docs = calloc(from->n ? from->n : 1, sizeof(*to->docs));
	to->lines = calloc(from->n ? from->n : 1, sizeof(*to->lines));
	if (!to->docs || !to->lines) {
		free(to->docs);
		free(to->lines);
		*to = (struct codec_docs){ 0 };
		return KORCH_ENOMEM;
	}
	for (size_t i = 0; i < from->n; i++) {
		to->docs[i] = json_incref(from->docs[i]);
		to->lines[i] = from->lines[i];
	}
	to->n = to->cap = from->n;
	return 0;
}

/* Looks the folder up in the commit's tree; *ret is NULL-free on success. */
static int
folder_tree(git_repository *repo, const char *commit_hex, const char *path, git_tree **ret,
	    enum gitops_reason *ret_reason, korch_error **err)
{
	git_oid id;
	git_commit *commit = NULL;
	git_tree *root = NULL;
	if (git_oid_fromstr(&id, commit_hex) < 0 || git_commit_lookup(&commit, repo, &id) < 0)
		return git_fail(err, KORCH_ENOTFOUND, "read commit %s", commit_hex);
	int r = git_commit_tree(&root, commit);
	git_commit_free(commit);
	if (r < 0)
		return git_fail(err, KORCH_ESYSTEM, "read the tree of commit %s", commit_hex);
	if (!*path) {
		*ret = root;
		return 0;
	}
	git_tree_entry *entry = NULL;
	r = git_tree_entry_bypath(&entry, root, path);
	git_tree_free(root);
	if (r == GIT_ENOTFOUND) {
		*ret_reason = GITOPS_PATH_NOT_FOUND;
		return error_set(err, KORCH_ENOTFOUND, "path \"%s\" not found in commit %s", path,
				 commit_hex);
	}
	if (r < 0)
		return git_fail(err, KORCH_ESYSTEM, "read path \"%s\" of commit %s", path,
				commit_hex);
	if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
		git_tree_entry_free(entry);
		*ret_reason = GITOPS_PATH_NOT_FOUND;
		return error_set(err, KORCH_EINVALID, "path \"%s\" is not a folder in commit %s",
				 path, commit_hex);
	}
	r = git_tree_lookup(ret, repo, git_tree_entry_id(entry));
	git_tree_entry_free(entry);
	return r < 0 ? git_fail(err, KORCH_ESYSTEM, "read path \"%s\" of commit %s", path,
				commit_hex)
		     : 0;
}

/* Decodes one blob into file (whose path is set). */
static int
decode_blob(git_repository *repo, const git_oid *id, struct gitops_file *file, korch_error **err)
{
	git_blob *blob = NULL;
	if (git_blob_lookup(&blob, repo, id) < 0)
		return git_fail(err, KORCH_ESYSTEM, "read %s", file->path);
	const char *data = git_blob_rawcontent(blob);
	size_t len = (size_t)git_blob_rawsize(blob);
	int r = codec_decode_manifests(data ? data : "", len, file->path, &file->docs, err);
	git_blob_free(blob);
	return r;
}

int
gitops_read_manifests(struct gitops_cache *c, const char *commit, const char *path,
		      struct gitops_manifests *prev, struct gitops_manifests **ret,
		      enum gitops_reason *ret_reason, korch_error **err)
{
	*ret_reason = GITOPS_FETCH_FAILED;
	_cleanup_free_ char *folder = normalize_path(path);
	if (!folder)
		return error_oom(err);
	git_tree *tree = NULL;
	int r = folder_tree(c->repo, commit, folder, &tree, ret_reason, err);
	if (r < 0)
		return r;
	*ret_reason = GITOPS_MANIFEST_INVALID;
	char tree_hex[41];
	git_oid_tostr(tree_hex, sizeof(tree_hex), git_tree_id(tree));
	if (prev && streq(prev->tree, tree_hex)) {
		/* The same folder: the same manifests, nothing to read. */
		git_tree_free(tree);
		*ret = gitops_manifests_ref(prev);
		*ret_reason = GITOPS_OK;
		return 0;
	}
	_cleanup_free_ char *prefix = NULL;
	if (asprintf(&prefix, "%s%s", folder, *folder ? "/" : "") < 0) {
		git_tree_free(tree);
		return error_oom(err);
	}
	struct walk_ctx w = { .prefix = prefix };
	r = git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &w);
	git_tree_free(tree);
	struct gitops_manifests *m = calloc(1, sizeof(*m));
	if (r < 0 || w.oom || !m) {
		for (size_t i = 0; i < w.n; i++)
			free(w.items[i].path);
		free(w.items);
		free(m);
		return w.oom || !m ? error_oom(err)
				   : git_fail(err, KORCH_ESYSTEM, "read commit %s", commit);
	}
	qsort(w.items, w.n, sizeof(*w.items), entry_cmp);
	m->refs = 1;
	memcpy(m->tree, tree_hex, sizeof(m->tree));
	m->files = calloc(w.n ? w.n : 1, sizeof(*m->files));
	struct hashmap by_blob = HASHMAP_INIT;
	for (size_t i = 0; prev && m->files && i < prev->n; i++)
		hashmap_put(&by_blob, prev->files[i].blob, &prev->files[i], NULL);
	r = m->files ? 0 : error_oom(err);
	for (size_t i = 0; i < w.n; i++) {
		if (r < 0) {
			free(w.items[i].path);
			continue;
		}
		struct gitops_file *f = &m->files[m->n++];
		f->path = steal_pointer(&w.items[i].path);
		git_oid_tostr(f->blob, sizeof(f->blob), &w.items[i].oid);
		const struct gitops_file *old = hashmap_get(&by_blob, f->blob);
		if (old)
			r = share_docs(&old->docs, &f->docs) < 0 ? error_oom(err) : 0;
		else
			r = decode_blob(c->repo, &w.items[i].oid, f, err);
	}
	free(w.items);
	hashmap_free(&by_blob, NULL);
	if (r < 0) {
		gitops_manifests_unref(m);
		return r;
	}
	*ret = m;
	*ret_reason = GITOPS_OK;
	return 0;
}
