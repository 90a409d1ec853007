/*
 * authn.c - who a request comes from: a bearer token from the token file (kube-apiserver's CSV:
 * token,user,uid,"group1,group2"; re-read when it changes, so a removed token stops working
 * within a quarter of a second), a ServiceAccount token signed by this server (the account, and
 * the pod it is bound to, must still exist), the peer of the unix socket (root is the admin), or
 * anonymous, which only the health paths and /version accept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/token.h"
#include "server/server-internal.h"

#define TOKEN_FILE_MAX_BYTES (4 * 1024 * 1024)
#define RECHECK_NS (250 * NSEC_PER_MSEC)

struct token_entry {
	char *user;           /* user name */
	char *uid;            /* user uid */
	struct ptrvec groups; /* char * */
};

struct authn {
	struct server *srv;    /* owner */
	struct hashmap tokens; /* token -> struct token_entry * */
	struct timespec mtime; /* of the token file when read */
	ino_t ino;             /* its inode */
	off_t size;            /* its size */
	bool have_file;        /* the file existed when last read */
	int64_t checked_ns;    /* loop time of the last stat */
};

void
user_clear(struct user *u)
{
	free(u->name);
	free(u->uid);
	free(u->node);
	ptrvec_free(&u->groups, free);
	*u = (struct user){ 0 };
}

bool
user_in_group(const struct user *u, const char *group)
{
	for (size_t i = 0; i < u->groups.n; i++)
		if (streq(u->groups.items[i], group))
			return true;
	return false;
}

static void
entry_free(void *p)
{
	struct token_entry *e = p;
	if (!e)
		return;
	free(e->user);
	free(e->uid);
	ptrvec_free(&e->groups, free);
	free(e);
}

/* Splits one CSV line into at most 4 fields; the last may be quoted and hold commas. */
static size_t
csv_fields(char *line, char *fields[4])
{
	size_t n = 0;
	char *p = line;
	while (n < 4) {
		while (*p == ' ')
			p++;
		if (*p == '"') {
			char *end = strchr(p + 1, '"');
			fields[n++] = p + 1;
			if (!end)
				break;
			*end = '\0';
			p = end + 1;
			char *comma = strchr(p, ',');
			if (!comma)
				break;
			p = comma + 1;
			continue;
		}
		fields[n++] = p;
		char *comma = strchr(p, ',');
		if (!comma)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	return n;
}

static int
parse_token_file(const char *path, char *text, struct hashmap *ret, korch_error **err)
{
	struct hashmap m = HASHMAP_INIT;
	unsigned lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		char *f[4] = { 0 };
		size_t n = csv_fields(line, f);
		if (n < 3 || !*f[0] || !*f[1]) {
			hashmap_free(&m, entry_free);
			return error_set(err, KORCH_EINVALID,
					 "%s:%u: expected token,user,uid[,\"groups\"]", path,
					 lineno);
		}
		struct token_entry *e = calloc(1, sizeof(*e));
		if (!e || !(e->user = strdup(f[1])) || !(e->uid = strdup(f[2]))) {
			entry_free(e);
			hashmap_free(&m, entry_free);
			return error_oom(err);
		}
		if (n == 4 && *f[3]) {
			char *gsave = NULL;
			for (char *g = strtok_r(f[3], ",", &gsave); g;
			     g = strtok_r(NULL, ",", &gsave))
				if (*g)
					ptrvec_push(&e->groups, strdup(g));
		}
		void *old = NULL;
		if (hashmap_put(&m, f[0], e, &old) < 0) {
			entry_free(e);
			hashmap_free(&m, entry_free);
			return error_oom(err);
		}
		entry_free(old);
	}
	*ret = m;
	return 0;
}

/* Re-reads the token file when it changed (at most every RECHECK_NS). */
static int
refresh(struct authn *a, bool force, korch_error **err)
{
	const char *path = a->srv->opts.token_file;
	if (!path)
		return 0;
	int64_t now = korch_clock_now_ns(korch_loop_clock(a->srv->loop));
	if (!force && now - a->checked_ns < RECHECK_NS)
		return 0;
	a->checked_ns = now;
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return error_errno(err, errno, "token file %s", path);
		/* No file: no tokens. */
		hashmap_free(&a->tokens, entry_free);
		a->have_file = false;
		return 0;
	}
	if (a->have_file && st.st_ino == a->ino && st.st_size == a->size &&
	    st.st_mtim.tv_sec == a->mtime.tv_sec && st.st_mtim.tv_nsec == a->mtime.tv_nsec)
		return 0;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file(path, TOKEN_FILE_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return korch_error_prefix(err, r, "token file");
	struct hashmap m;
	if ((r = parse_token_file(path, text, &m, err)) < 0)
		return r;
	hashmap_free(&a->tokens, entry_free);
	a->tokens = m;
	a->mtime = st.st_mtim;
	a->ino = st.st_ino;
	a->size = st.st_size;
	a->have_file = true;
	return 0;
}

int
authn_new(struct server *srv, struct authn **ret, korch_error **err)
{
	struct authn *a = calloc(1, sizeof(*a));
	if (!a)
		return error_oom(err);
	a->srv = srv;
	int r = refresh(a, true, err);
	if (r < 0) {
		authn_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

void
authn_free(struct authn *a)
{
	if (!a)
		return;
	hashmap_free(&a->tokens, entry_free);
	free(a);
}

static int
set_user(struct user *u, const char *name, const char *uid, const char *const *groups,
	 size_t n_groups, bool authenticated)
{
	*u = (struct user){ 0 };
	if (!(u->name = strdup(name)) || (uid && !(u->uid = strdup(uid))))
		goto oom;
	for (size_t i = 0; i < n_groups; i++)
		if (ptrvec_push(&u->groups, strdup(groups[i])) < 0)
			goto oom;
	if (authenticated && !user_in_group(u, "system:authenticated") &&
	    ptrvec_push(&u->groups, strdup("system:authenticated")) < 0)
		goto oom;
	const char *node = startswith(name, "system:node:");
	if (node && user_in_group(u, "system:nodes") && !(u->node = strdup(node)))
		goto oom;
	return 0;
oom:
	user_clear(u);
	return KORCH_ENOMEM;
}

/* A ServiceAccount token: signed by us, and its account (and pod) still there. */
static int
serviceaccount_user(struct authn *a, const char *token, struct user *ret, korch_error **err)
{
	struct server *s = a->srv;
	if (!s->signer)
		return error_set(err, KORCH_EUNAUTHORIZED, "unknown token");
	struct token_claims c;
	int64_t now = korch_clock_wall_ns(korch_loop_clock(s->loop)) / NSEC_PER_SEC;
	int r = token_verify(s->signer, token, now, &c, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *sa = NULL;
	r = client_get(s->client, kind_lookup("v1", "ServiceAccount"), c.ns, c.sa_name, &sa, NULL);
	const char *uid =
		json_string_value(json_object_get(json_object_get(sa, "metadata"), "uid"));
	if (r < 0 || (c.sa_uid && *c.sa_uid && !streq(uid, c.sa_uid))) {
		token_claims_clear(&c);
		return error_set(err, KORCH_EUNAUTHORIZED,
				 "the token's ServiceAccount no longer exists");
	}
	if (c.pod_name) {
		_cleanup_json_ json_t *pod = NULL;
		r = client_get(s->client, kind_lookup("v1", "Pod"), c.ns, c.pod_name, &pod, NULL);
		const json_t *pm = json_object_get(pod, "metadata");
		if (r < 0 || !streq(json_string_value(json_object_get(pm, "uid")), c.pod_uid) ||
		    json_object_get(pm, "deletionTimestamp")) {
			token_claims_clear(&c);
			return error_set(err, KORCH_EUNAUTHORIZED,
					 "the pod the token is bound to no longer exists");
		}
	}
	char name[600], g2[300];
	snprintf(name, sizeof(name), "system:serviceaccount:%s:%s", c.ns, c.sa_name);
	snprintf(g2, sizeof(g2), "system:serviceaccounts:%s", c.ns);
	const char *groups[] = { "system:serviceaccounts", g2 };
	r = set_user(ret, name, uid, groups, 2, true);
	token_claims_clear(&c);
	return r < 0 ? error_oom(err) : 0;
}

static bool
anonymous_allowed(const struct request *req)
{
	return req->route.type == ROUTE_HEALTH || req->route.type == ROUTE_VERSION;
}

int
authn_authenticate(struct authn *a, struct request *req, struct user *ret, korch_error **err)
{
	const char *auth = request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth && *auth) {
		if (strncasecmp(auth, "Bearer ", 7) != 0)
			return error_set(err, KORCH_EUNAUTHORIZED,
					 "only bearer tokens are accepted");
		const char *token = auth + 7;
		while (*token == ' ')
			token++;
		korch_error *e = NULL;
		if (refresh(a, false, &e) < 0) {
			/* Keep the tokens read before; say why the file could not be read. */
			log_warn("server", "%s", korch_error_message(e));
			korch_error_free(e);
		}
		struct token_entry *t = hashmap_get(&a->tokens, token);
		if (t)
			return set_user(ret, t->user, t->uid, (const char *const *)t->groups.items,
					t->groups.n, true) < 0
				       ? error_oom(err)
				       : 0;
		return serviceaccount_user(a, token, ret, err);
	}
	struct conn *c = req->conn_ctx;
	if (c && c->listener->unix_socket && c->have_peer) {
		if (c->peer_uid == 0) {
			static const char *const admin_groups[] = { "system:masters" };
			return set_user(ret, "system:admin", "0", admin_groups, 1, true) < 0
				       ? error_oom(err)
				       : 0;
		}
		char name[64], uid[32];
		snprintf(name, sizeof(name), "system:unix:%u", (unsigned)c->peer_uid);
		snprintf(uid, sizeof(uid), "%u", (unsigned)c->peer_uid);
		return set_user(ret, name, uid, NULL, 0, true) < 0 ? error_oom(err) : 0;
	}
	if (!anonymous_allowed(req))
		return error_set(err, KORCH_EUNAUTHORIZED, "no credentials");
	static const char *const anon_groups[] = { "system:unauthenticated" };
	if (set_user(ret, "system:anonymous", NULL, anon_groups, 1, false) < 0)
		return error_oom(err);
	ret->anonymous = true;
	return 0;
}

struct header_list {
	const char *name;     /* the header wanted */
	struct ptrvec values; /* const char *: its values, borrowed */
};

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct header_list *h = cls;
	if (value && !strcasecmp(key, h->name))
		ptrvec_push(&h->values, (void *)value);
	return MHD_YES;
}

int
authn_impersonate(struct server *srv, struct request *req, korch_error **err)
{
	const char *as = request_header(req, "Impersonate-User");
	struct header_list groups = { .name = "Impersonate-Group" };
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, &groups);
	if (!as || !*as) {
		int r = groups.values.n ? error_set(err, KORCH_EFORBIDDEN,
						    "requested impersonation of groups without a "
						    "user")
					: 0;
		ptrvec_free(&groups.values, NULL);
		return r;
	}
	int r;
	const char *sa = startswith(as, "system:serviceaccount:");
	if (sa && strchr(sa, ':')) {
		char ns[256];
		const char *colon = strchr(sa, ':');
		snprintf(ns, sizeof(ns), "%.*s", (int)(colon - sa), sa);
		r = rbac_check(srv->rbac, &req->user, "impersonate", "", "serviceaccounts", ns,
			       colon + 1, err);
	} else {
		r = rbac_check(srv->rbac, &req->user, "impersonate", "", "users", NULL, as, err);
	}
	for (size_t i = 0; r == 0 && i < groups.values.n; i++)
		r = rbac_check(srv->rbac, &req->user, "impersonate", "", "groups", NULL,
			       groups.values.items[i], err);
	if (r == 0) {
		struct user u;
		r = set_user(&u, as, NULL, (const char *const *)groups.values.items,
			     groups.values.n, true);
		if (r == 0 && sa && strchr(sa, ':')) {
			/* An impersonated ServiceAccount is in its groups, as a token would put it. */
			char g[300];
			snprintf(g, sizeof(g), "system:serviceaccounts:%.*s",
				 (int)(strchr(sa, ':') - sa), sa);
			ptrvec_push(&u.groups, strdup("system:serviceaccounts"));
			ptrvec_push(&u.groups, strdup(g));
		}
		if (r < 0) {
			r = error_oom(err);
		} else {
			user_clear(&req->user);
			req->user = u;
		}
	}
	ptrvec_free(&groups.values, NULL);
	return r;
}
