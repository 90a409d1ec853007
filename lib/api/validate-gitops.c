/*
 * validate-gitops.c - defaults and validation of GitRepository (gitops.korch.io/v1), korch's
 * own kind: the rules lib/gitops relies on (a URL libgit2 can fetch, one ref, a path inside the
 * repository, a positive interval), written in the style of Kubernetes' field errors.
 */
#include <ctype.h>
#include <string.h>

#include "api/validate-internal.h"
#include "base/util.h"

/* ---- defaults ---- */

/*
 * spec.ref defaults to the branch "main" when it names no branch, tag or commit; spec.interval
 * to one minute; spec.prune to true.
 */
void
defaults_git_repository(json_t *obj)
{
	json_t *spec = dobj(obj, "spec");
	if (!spec)
		return;
	json_t *ref = dobj(spec, "ref");
	if (ref && !*jstr0(ref, "branch") && !*jstr0(ref, "tag") && !*jstr0(ref, "commit"))
		dstr(ref, "branch", "main");
	dstr(spec, "interval", "1m");
	dset(spec, "prune", json_true());
}

/* ---- validation ---- */

/*
 * Whether name is a valid branch or tag name by git's check-ref-format rules (refs.c
 * check_refname_component): no component starting with '.' or ending with ".lock", no "..",
 * no "@{", no control characters, space, ~ ^ : ? * [ or backslash, no empty component, not
 * ending with '.', not "@" alone.
 */
static bool
git_ref_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255 || strcmp(name, "@") == 0 || name[0] == '-' || name[n - 1] == '.' ||
	    name[n - 1] == '/' || name[0] == '/' || strstr(name, "..") || strstr(name, "@{") ||
	    strstr(name, "//"))
		return false;
	for (const char *p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f || strchr(" ~^:?*[\\", ch))
			return false;
	}
	const char *comp = name;
	for (;;) {
		const char *slash = strchr(comp, '/');
		size_t len = slash ? (size_t)(slash - comp) : strlen(comp);
		if (comp[0] == '.' || (len >= 5 && strncmp(comp + len - 5, ".lock", 5) == 0))
			return false;
		if (!slash)
			return true;
		comp = slash + 1;
	}
}

static bool
is_full_sha(const char *s)
{
	if (strlen(s) != 40)
		return false;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return true;
}

/* user@host:path, the scp-like form libgit2 reads as ssh. */
static bool
is_scp_like(const char *url)
{
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');
	const char *at = strchr(url, '@');
	return colon && colon != url && at && at < colon && (!slash || colon < slash) &&
	       colon[1] != '\0';
}

static void
validate_url(struct vctx *c, const char *url)
{
	if (!*url) {
		v_required(c, "url", "");
		return;
	}
	static const char *const schemes[] = { "file://", "http://", "https://", "ssh://",
					       "git://" };
	const char *scheme = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (startswith(url, schemes[i]))
			scheme = schemes[i];
	if (!scheme && url[0] != '/' && !is_scp_like(url)) {
		v_invalid_str(c, "url", url,
			      "must be an absolute path, a file://, http://, https://, ssh:// or "
			      "git:// URL, or user@host:path");
		return;
	}
	if (scheme && (streq(scheme, "http://") || streq(scheme, "https://"))) {
		const char *host = url + strlen(scheme);
		size_t authority = strcspn(host, "/");
		if (memchr(host, '@', authority))
			v_invalid_str(c, "url", url,
				      "must not hold a user name or password: put credentials in "
				      "the Secret named by spec.secretRef");
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			v_invalid_str(c, "url", url, "must not contain control characters");
			return;
		}
}

static void
validate_ref(struct vctx *c, const json_t *ref)
{
	size_t len = vp_field(c, "ref");
	const char *branch = jstr0(ref, "branch"), *tag = jstr0(ref, "tag"),
		   *commit = jstr0(ref, "commit");
	int set = (*branch != 0) + (*tag != 0) + (*commit != 0);
	if (set > 1)
		v_invalid_omit(c, NULL, "only one of branch, tag and commit may be set");
	else if (set == 0)
		v_required(c, NULL, "one of branch, tag and commit is required");
	if (*branch && !git_ref_name_ok(branch))
		v_invalid_str(c, "branch", branch, "must be a valid git branch name");
	if (*tag && !git_ref_name_ok(tag))
		v_invalid_str(c, "tag", tag, "must be a valid git tag name");
	if (*commit && !is_full_sha(commit))
		v_invalid_str(c, "commit", commit,
			      "must be a full commit SHA (40 hexadecimal digits)");
	vp_pop(c, len);
}

static void
validate_interval(struct vctx *c, const char *interval)
{
	int64_t ns = 0;
	if (parse_go_duration(interval, &ns) < 0)
		v_invalid_str(c, "interval", interval,
			      "must be a duration such as 30s, 5m or 1h (Go's time.Duration)");
	else if (ns < NSEC_PER_SEC)
		v_invalid_str(c, "interval", interval, "must be at least 1s");
}

static void
git_repository_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	/* The name goes into label values (gitops.korch.io/name): a DNS label. */
	if (old)
		validate_object_meta_update(c, obj, old);
	else
		validate_object_meta(c, obj, true, NAME_LABEL);
	const json_t *spec = jobj(obj, "spec");
	size_t len = vp_field(c, "spec");
	validate_url(c, jstr0(spec, "url"));
	validate_ref(c, jobj(spec, "ref"));
	const char *path = jstr(spec, "path");
	if (path)
		validate_path_no_backsteps(c, "path", path);
	const char *interval = jstr(spec, "interval");
	if (interval)
		validate_interval(c, interval);
	const json_t *secret_ref = jobj(spec, "secretRef");
	if (secret_ref) {
		const char *name = jstr0(secret_ref, "name");
		if (!*name) {
			v_required(c, "secretRef.name", "");
		} else {
			struct name_problems p = { 0 };
			check_dns1123_subdomain(name, &p);
			v_problems(c, "secretRef.name", name, &p);
		}
	}
	const char *target = jstr(spec, "targetNamespace");
	if (target && *target) {
		struct name_problems p = { 0 };
		check_dns1123_label(target, &p);
		v_problems(c, "targetNamespace", target, &p);
	}
	vp_pop(c, len);
}

void
validate_git_repository(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(git_repository_kind, obj, old, err);
}
