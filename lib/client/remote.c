/*
 * remote.c - the client over HTTP with libcurl: target resolution (unix socket, kubeconfig,
 * URL), one easy handle kept alive across calls, Status errors back into korch errors,
 * streamed watches and logs, and exec over a WebSocket framed by hand on the connection libcurl
 * opened (CURLOPT_CONNECT_ONLY: libcurl does the TCP, TLS and unix socket, korch the rest).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>
#include <nettle/base64.h>
#include <uuid/uuid.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/websocket.h"
#include "client/remote.h"
#include "config.h"

#define DEFAULT_SOCKET "/run/korch/korchd.sock"
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_RESPONSE_BYTES (256 * 1024 * 1024)
#define MAX_KUBECONFIG_BYTES (1024 * 1024)

struct remote {
	CURL *curl;                 /* kept for keep-alive */
	char *base;                 /* "https://127.0.0.1:6443", "http://localhost" for a socket */
	char *host;                 /* Host header value for exec */
	char *unix_path;            /* the socket, or NULL */
	char *token;                /* bearer token, or NULL */
	int ca_fd;                  /* memfd with certificate-authority-data, or -1 */
	char *ca_file;              /* CA bundle path (a file or /proc/self/fd/N), or NULL */
	bool insecure;              /* insecure-skip-tls-verify */
	long timeout_ms;            /* per ordinary request */
	struct curl_slist *headers; /* Accept, Authorization */
};

void
remote_free(struct remote *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->headers);
	if (r->ca_fd >= 0)
		close(r->ca_fd);
	free(r->base);
	free(r->host);
	free(r->unix_path);
	if (r->token)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	free(r->ca_file);
	free(r);
}

/* CA data from a kubeconfig, in memory: libcurl's GnuTLS backend reads only files. */
static int
ca_from_data(struct remote *r, const char *b64, korch_error **err)
{
	size_t len = strlen(b64);
	_cleanup_free_ uint8_t *pem = malloc(BASE64_DECODE_LENGTH(len) + 1);
	if (!pem)
		return error_oom(err);
	struct base64_decode_ctx ctx;
	base64_decode_init(&ctx);
	size_t n = 0;
	if (!base64_decode_update(&ctx, &n, pem, len, b64) || !base64_decode_final(&ctx))
		return error_set(err, KORCH_EINVALID,
				 "kubeconfig: certificate-authority-data is not base64");
	r->ca_fd = memfd_create("korch-ca", MFD_CLOEXEC);
	if (r->ca_fd < 0)
		return error_errno(err, errno, "memfd for the CA");
	if (write_all(r->ca_fd, pem, n) < 0)
		return error_errno(err, errno, "write the CA");
	if (asprintf(&r->ca_file, "/proc/self/fd/%d", r->ca_fd) < 0) {
		r->ca_file = NULL;
		return error_oom(err);
	}
	return 0;
}

static const json_t *
named_entry(const json_t *list, const char *name, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e)
		if (streq(json_string_value(json_object_get(e, "name")), name))
			return json_object_get(e, field);
	return NULL;
}

/* The current context of a kubeconfig: server, CA, and credentials. */
static int
load_kubeconfig(struct remote *r, const char *path, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int rc = read_file(path, MAX_KUBECONFIG_BYTES, &text, &len, err);
	if (rc < 0)
		return korch_error_prefix(err, rc, "kubeconfig");
	struct codec_docs docs = { 0 };
	if ((rc = codec_decode_manifests(text, len, path, &docs, err)) < 0)
		return rc;
	_cleanup_json_ json_t *kc = docs.n ? json_incref(docs.docs[0]) : NULL;
	codec_docs_free(&docs);
	const char *current = json_string_value(json_object_get(kc, "current-context"));
	if (!current || !*current)
		return error_set(err, KORCH_EINVALID, "%s: no current-context", path);
	const json_t *ctx = named_entry(json_object_get(kc, "contexts"), current, "context");
	if (!ctx)
		return error_set(err, KORCH_EINVALID, "%s: context \"%s\" not found", path,
				 current);
	const char *cluster_name = json_string_value(json_object_get(ctx, "cluster"));
	const char *user_name = json_string_value(json_object_get(ctx, "user"));
	const json_t *cluster =
		named_entry(json_object_get(kc, "clusters"), cluster_name, "cluster");
	if (!cluster)
		return error_set(err, KORCH_EINVALID, "%s: cluster \"%s\" not found", path,
				 cluster_name ? cluster_name : "");
	const char *server = json_string_value(json_object_get(cluster, "server"));
	if (!server || !*server)
		return error_set(err, KORCH_EINVALID, "%s: cluster \"%s\" has no server", path,
				 cluster_name);
	if (!(r->base = strdup(server)))
		return error_oom(err);
	size_t bl = strlen(r->base);
	while (bl && r->base[bl - 1] == '/')
		r->base[--bl] = '\0';
	r->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
	const char *ca_data =
		json_string_value(json_object_get(cluster, "certificate-authority-data"));
	const char *ca_path = json_string_value(json_object_get(cluster, "certificate-authority"));
	if (ca_data && (rc = ca_from_data(r, ca_data, err)) < 0)
		return rc;
	if (!ca_data && ca_path && !(r->ca_file = strdup(ca_path)))
		return error_oom(err);
	const json_t *user =
		user_name ? named_entry(json_object_get(kc, "users"), user_name, "user") : NULL;
	const char *token = json_string_value(json_object_get(user, "token"));
	const char *token_file = json_string_value(json_object_get(user, "tokenFile"));
	if (!r->token && token && !(r->token = strdup(token)))
		return error_oom(err);
	if (!r->token && token_file) {
		_cleanup_free_ char *t = NULL;
		size_t tl;
		if ((rc = read_file(token_file, 64 * 1024, &t, &tl, err)) < 0)
			return korch_error_prefix(err, rc, "tokenFile");
		while (tl && (t[tl - 1] == '\n' || t[tl - 1] == '\r'))
			t[--tl] = '\0';
		r->token = steal_pointer(&t);
	}
	if (!r->token && user &&
	    (json_object_get(user, "client-certificate-data") ||
	     json_object_get(user, "client-certificate")))
		return error_set(err, KORCH_EUNSUPPORTED,
				 "%s: user \"%s\" authenticates with a client certificate; korch "
				 "clients use bearer tokens",
				 path, user_name);
	return 0;
}

static int
setup_curl(struct remote *r, korch_error **err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return error_set(err, KORCH_ESYSTEM, "libcurl did not initialise");
	if (!(r->curl = curl_easy_init()))
		return error_oom(err);
	const char *h = strstr(r->base, "://");
	h = h ? h + 3 : r->base;
	if (!(r->host = strndup(h, strcspn(h, "/"))))
		return error_oom(err);
	r->headers = curl_slist_append(NULL, "Accept: application/json");
	if (r->token) {
		char *auth = NULL;
		if (asprintf(&auth, "Authorization: Bearer %s", r->token) < 0)
			return error_oom(err);
		r->headers = curl_slist_append(r->headers, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (!r->headers)
		return error_oom(err);
	return 0;
}

/* Common options of every request on the handle. */
static void
base_options(struct remote *r)
{
	CURL *c = r->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "korch/" KORCH_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	if (r->unix_path)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, r->unix_path);
	if (r->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
	if (r->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

int
remote_open(const char *target, const korch_connect_options *o, struct remote **ret,
	    korch_error **err)
{
	if (o && o->version != KORCH_CONNECT_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_connect_options version %u is not %u",
				 o->version, KORCH_CONNECT_OPTIONS_VERSION);
	struct remote *r = calloc(1, sizeof(*r));
	if (!r)
		return error_oom(err);
	r->ca_fd = -1;
	r->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	int rc = 0;
	if (o && o->token && !(r->token = strdup(o->token)))
		rc = error_oom(err);
	if (!target)
		target = getenv("KUBECONFIG") && *getenv("KUBECONFIG") ? getenv("KUBECONFIG")
								       : DEFAULT_SOCKET;
	struct stat st;
	if (rc < 0) {
		/* out of memory */
	} else if (startswith(target, "http://") || startswith(target, "https://")) {
		if (!(r->base = strdup(target)))
			rc = error_oom(err);
	} else if (stat(target, &st) < 0) {
		rc = error_errno(err, errno, "connect to %s", target);
	} else if (S_ISSOCK(st.st_mode)) {
		if (!(r->unix_path = strdup(target)) || !(r->base = strdup("http://localhost")))
			rc = error_oom(err);
	} else if (S_ISREG(st.st_mode)) {
		rc = load_kubeconfig(r, target, err);
	} else {
		rc = error_set(err, KORCH_EINVALID,
			       "%s is neither a socket, a kubeconfig file nor a URL", target);
	}
	if (rc == 0 && o && o->ca_file) {
		free(r->ca_file);
		if (!(r->ca_file = strdup(o->ca_file)))
			rc = error_oom(err);
	}
	if (rc == 0 && o && o->insecure_skip_tls_verify)
		r->insecure = true;
	if (rc == 0)
		rc = setup_curl(r, err);
	if (rc < 0) {
		remote_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

char *
remote_path(const struct kind_info *k, const char *ns, const char *name, const char *sub)
{
	struct strbuf sb = STRBUF_INIT;
	if (*k->group)
		strbuf_printf(&sb, "/apis/%s/%s", k->group, k->version);
	else
		strbuf_printf(&sb, "/api/%s", k->version);
	if (k->namespaced && ns && *ns)
		strbuf_printf(&sb, "/namespaces/%s", ns);
	strbuf_printf(&sb, "/%s", k->plural);
	if (name)
		strbuf_printf(&sb, "/%s", name);
	if (sub)
		strbuf_printf(&sb, "/%s", sub);
	if (sb.oom) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

static size_t
collect(char *data, size_t size, size_t n, void *userdata)
{
	struct strbuf *sb = userdata;
	size_t len = size * n;
	if (sb->len + len > MAX_RESPONSE_BYTES || strbuf_append(sb, data, len) < 0)
		return 0;
	return len;
}

/* kube-apiserver's reasons back to korch's codes. */
static int
code_of_reason(const char *reason, long http)
{
	static const struct {
		const char *reason;
		int code;
	} map[] = {
		{ "NotFound", KORCH_ENOTFOUND },
		{ "AlreadyExists", KORCH_EEXISTS },
		{ "Conflict", KORCH_ECONFLICT },
		{ "Invalid", KORCH_EINVALID },
		{ "BadRequest", KORCH_EINVALID },
		{ "Expired", KORCH_EGONE },
		{ "Gone", KORCH_EGONE },
		{ "RequestEntityTooLarge", KORCH_ETOOLARGE },
		{ "TooManyRequests", KORCH_EBUSY },
		{ "Forbidden", KORCH_EFORBIDDEN },
		{ "Unauthorized", KORCH_EUNAUTHORIZED },
		{ "Timeout", KORCH_ETIMEOUT },
		{ "ServerTimeout", KORCH_ETIMEOUT },
		{ "MethodNotAllowed", KORCH_EUNSUPPORTED },
		{ "NotAcceptable", KORCH_EPROTO },
		{ "UnsupportedMediaType", KORCH_EPROTO },
		{ "ServiceUnavailable", KORCH_EUNSUPPORTED },
	};
	for (size_t i = 0; reason && i < ARRAY_SIZE(map); i++)
		if (streq(reason, map[i].reason))
			return map[i].code;
	switch (http) {
	case 400:
	case 422: return KORCH_EINVALID;
	case 401: return KORCH_EUNAUTHORIZED;
	case 403: return KORCH_EFORBIDDEN;
	case 404: return KORCH_ENOTFOUND;
	case 409: return KORCH_ECONFLICT;
	case 410: return KORCH_EGONE;
	case 413: return KORCH_ETOOLARGE;
	case 429: return KORCH_EBUSY;
	default: return KORCH_ESYSTEM;
	}
}

/* A Status object (or whatever answered) as a korch error. */
static int
status_error(long http, const json_t *st, const char *raw, korch_error **err)
{
	const char *reason = json_string_value(json_object_get(st, "reason"));
	const char *message = json_string_value(json_object_get(st, "message"));
	int code = code_of_reason(reason, http);
	if (!message)
		return error_set(err, code, "the server answered HTTP %ld: %.200s", http,
				 raw && *raw ? raw : "(no body)");
	/* The error first (its code is the reason's), then its causes. */
	korch_error *e = NULL;
	error_set(&e, code, "%s", message);
	const json_t *causes = json_object_get(json_object_get(st, "details"), "causes");
	size_t i;
	json_t *c;
	json_array_foreach (causes, i, c)
		error_add_cause(&e, json_string_value(json_object_get(c, "reason")) ?: "",
				json_string_value(json_object_get(c, "field")), "%s",
				json_string_value(json_object_get(c, "message")) ?: "");
	return error_propagate(err, &e, code);
}

int
remote_call(struct remote *r, const char *method, const char *path, const char *content_type,
	    const json_t *body, long *ret_http, json_t **ret, korch_error **err)
{
	base_options(r);
	CURL *c = r->curl;
	_cleanup_free_ char *url = NULL, *text = NULL;
	if (asprintf(&url, "%s%s", r->base, path) < 0) {
		url = NULL;
		return error_oom(err);
	}
	struct curl_slist *headers = NULL;
	for (struct curl_slist *h = r->headers; h; h = h->next)
		headers = curl_slist_append(headers, h->data);
	if (body) {
		if (!(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY))) {
			curl_slist_free_all(headers);
			return error_oom(err);
		}
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 content_type ? content_type : "application/json");
		headers = curl_slist_append(headers, ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	}
	struct strbuf resp = STRBUF_INIT;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (streq(method, "GET"))
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (cc != CURLE_OK) {
		strbuf_free(&resp);
		return error_set(err,
				 cc == CURLE_OPERATION_TIMEDOUT ? KORCH_ETIMEOUT : KORCH_ESYSTEM,
				 "%s %s%s: %s", method, r->base, path, curl_easy_strerror(cc));
	}
	long http = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
	json_t *value = NULL;
	if (resp.len)
		codec_json_decode(resp.buf, resp.len, &value, NULL);
	int rc = 0;
	if (http < 200 || http >= 300) {
		rc = status_error(http, value, resp.buf, err);
		json_decref(value);
	} else if (ret) {
		if (!value && resp.len)
			rc = error_set(err, KORCH_EPROTO, "%s %s: the answer is not JSON", method,
				       path);
		else
			*ret = value ? value : json_null();
	} else {
		json_decref(value);
	}
	if (rc == 0 && ret_http)
		*ret_http = http;
	strbuf_free(&resp);
	return rc;
}

struct stream {
	int (*fn)(const char *data, size_t len, void *userdata);
	void *userdata;
	bool lines;            /* split into lines */
	bool stopped;          /* fn asked to stop */
	long http;             /* the status, once known */
	struct strbuf pending; /* a partial line, or an error body */
	CURL *curl;            /* for the status */
};

static size_t
stream_write(char *data, size_t size, size_t n, void *userdata)
{
	struct stream *s = userdata;
	size_t len = size * n;
	if (!s->http)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->http);
	if (s->http < 200 || s->http >= 300 || s->lines) {
		if (strbuf_append(&s->pending, data, len) < 0)
			return 0;
		if (s->http < 200 || s->http >= 300)
			return s->pending.len > 1024 * 1024 ? 0 : len;
		char *start = s->pending.buf, *nl;
		while ((nl = memchr(start, '\n',
				    s->pending.len - (size_t)(start - s->pending.buf)))) {
			if (nl > start && s->fn(start, (size_t)(nl - start), s->userdata)) {
				s->stopped = true;
				return 0;
			}
			start = nl + 1;
		}
		size_t used = (size_t)(start - s->pending.buf);
		memmove(s->pending.buf, start, s->pending.len - used);
		strbuf_truncate(&s->pending, s->pending.len - used);
		return len;
	}
	if (s->fn(data, len, s->userdata)) {
		s->stopped = true;
		return 0;
	}
	return len;
}

int
remote_stream(struct remote *r, const char *path, bool lines,
	      int (*fn)(const char *data, size_t len, void *userdata), void *userdata,
	      korch_error **err)
{
	base_options(r);
	CURL *c = r->curl;
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s%s", r->base, path) < 0) {
		url = NULL;
		return error_oom(err);
	}
	struct stream s = { .fn = fn, .userdata = userdata, .lines = lines, .curl = c };
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
	/* A dead server is noticed: TCP keep-alive on the long-lived connection. */
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	CURLcode cc = curl_easy_perform(c);
	int rc = 0;
	if (!s.http)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s.http);
	if (s.stopped) {
		rc = 0;
	} else if (s.http && (s.http < 200 || s.http >= 300)) {
		_cleanup_json_ json_t *st = NULL;
		codec_json_decode(s.pending.buf ? s.pending.buf : "", s.pending.len, &st, NULL);
		rc = status_error(s.http, st, s.pending.buf, err);
	} else if (cc != CURLE_OK) {
		rc = error_set(err, KORCH_ESYSTEM, "GET %s%s: %s", r->base, path,
			       curl_easy_strerror(cc));
	} else if (lines && s.pending.len && fn(s.pending.buf, s.pending.len, userdata)) {
		rc = 0;
	}
	strbuf_free(&s.pending);
	/* The connection was cut short: do not reuse it. */
	if (s.stopped)
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	return rc;
}

/* ---- exec ---- */

static int
send_all(CURL *c, curl_socket_t sock, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		size_t sent = 0;
		CURLcode cc = curl_easy_send(c, p, len, &sent);
		if (cc == CURLE_AGAIN) {
			struct pollfd pfd = { .fd = sock, .events = POLLOUT };
			if (poll(&pfd, 1, 30000) <= 0)
				return KORCH_ETIMEOUT;
			continue;
		}
		if (cc != CURLE_OK)
			return KORCH_ESYSTEM;
		p += sent;
		len -= sent;
	}
	return 0;
}

/* Reads what is available; 0 bytes with 0 means nothing now, KORCH_ECANCELED the end. */
static int
recv_some(CURL *c, struct strbuf *in)
{
	for (;;) {
		char buf[16384];
		size_t n = 0;
		CURLcode cc = curl_easy_recv(c, buf, sizeof(buf), &n);
		if (cc == CURLE_AGAIN)
			return 0;
		if (cc != CURLE_OK)
			return KORCH_ESYSTEM;
		if (n == 0)
			return KORCH_ECANCELED;
		if (strbuf_append(in, buf, n) < 0)
			return KORCH_ENOMEM;
	}
}

struct exec_state {
	const korch_exec_options *o; /* the streams */
	bool done;                   /* the final Status came */
	int exit_code;               /* from it */
	korch_error *error;          /* or the failure it says */
};

static void
on_status(struct exec_state *x, const char *text, size_t len)
{
	_cleanup_json_ json_t *st = NULL;
	x->done = true;
	if (codec_json_decode(text, len, &st, NULL) < 0) {
		error_set(&x->error, KORCH_EPROTO, "exec: the final status is not JSON");
		return;
	}
	const char *status = json_string_value(json_object_get(st, "status"));
	if (streq(status, "Success")) {
		x->exit_code = 0;
		return;
	}
	if (streq(json_string_value(json_object_get(st, "reason")), "NonZeroExitCode")) {
		const json_t *causes = json_object_get(json_object_get(st, "details"), "causes");
		size_t i;
		json_t *c;
		json_array_foreach (causes, i, c)
			if (streq(json_string_value(json_object_get(c, "reason")), "ExitCode")) {
				int64_t code = 0;
				parse_int64(json_string_value(json_object_get(c, "message")),
					    &code);
				x->exit_code = (int)code;
				return;
			}
	}
	status_error(500, st, text, &x->error);
}

static void
on_frame(struct exec_state *x, const struct ws_frame *f)
{
	if (f->opcode == WS_CLOSE) {
		x->done = true;
		return;
	}
	if (f->opcode != WS_BINARY || f->len == 0)
		return;
	const char *data = (const char *)f->payload + 1;
	size_t len = f->len - 1;
	switch (f->payload[0]) {
	case WS_CHANNEL_STDOUT:
		write_all(x->o->stdout_fd >= 0 ? x->o->stdout_fd : STDOUT_FILENO, data, len);
		break;
	case WS_CHANNEL_STDERR:
		write_all(x->o->stderr_fd >= 0 ? x->o->stderr_fd : STDERR_FILENO, data, len);
		break;
	case WS_CHANNEL_ERROR: on_status(x, data, len); break;
	default: break;
	}
}

static void
mask_key(uint8_t mask[4])
{
	uuid_t u;
	uuid_generate_random(u);
	memcpy(mask, u, 4);
}

/* Sends the upgrade request and reads the answer's head; a non-101 is the Status it carries. */
static int
handshake(struct remote *r, CURL *c, curl_socket_t sock, const char *path, struct strbuf *in,
	  korch_error **err)
{
	uuid_t u;
	uuid_generate_random(u);
	char key[25];
	base64_encode_raw(key, 16, u);
	key[24] = '\0';
	struct strbuf req = STRBUF_INIT;
	strbuf_printf(&req,
		      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		      "Sec-WebSocket-Protocol: " WS_PROTOCOL_V5
		      "\r\nUser-Agent: korch/" KORCH_VERSION "\r\n",
		      path, r->host, key);
	if (r->token)
		strbuf_printf(&req, "Authorization: Bearer %s\r\n", r->token);
	strbuf_puts(&req, "\r\n");
	int rc = req.oom ? KORCH_ENOMEM : send_all(c, sock, req.buf, req.len);
	explicit_bzero(req.buf, req.len);
	strbuf_free(&req);
	if (rc < 0)
		return error_set(err, rc, "exec: send the upgrade request");
	char *end = NULL;
	while (!(end = in->buf ? strstr(in->buf, "\r\n\r\n") : NULL)) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		if (poll(&pfd, 1, (int)r->timeout_ms) <= 0)
			return error_set(err, KORCH_ETIMEOUT, "exec: no answer to the upgrade");
		rc = recv_some(c, in);
		if (rc < 0 && !(rc == KORCH_ECANCELED && in->buf && strstr(in->buf, "\r\n\r\n")))
			return error_set(err, KORCH_ESYSTEM, "exec: the connection closed");
		if (in->len > 64 * 1024)
			return error_set(err, KORCH_EPROTO, "exec: answer head too large");
	}
	size_t head_len = (size_t)(end - in->buf) + 4;
	long status = 0;
	sscanf(in->buf, "HTTP/1.%*d %ld", &status);
	if (status != 101) {
		/* The body (a Status) may still be coming: read what Content-Length says. */
		const char *cl = strcasestr(in->buf, "\r\nContent-Length:");
		int64_t len = cl ? strtoll(cl + 17, NULL, 10) : 0;
		while ((int64_t)(in->len - head_len) < len) {
			struct pollfd pfd = { .fd = sock, .events = POLLIN };
			if (poll(&pfd, 1, (int)r->timeout_ms) <= 0 || recv_some(c, in) < 0)
				break;
		}
		_cleanup_json_ json_t *st = NULL;
		codec_json_decode(in->buf + head_len, in->len - head_len, &st, NULL);
		return status_error(status, st, in->buf + head_len, err);
	}
	char want[29];
	ws_accept_key(key, want);
	const char *acc = strcasestr(in->buf, "\r\nSec-WebSocket-Accept:");
	if (!acc || !strstr(acc, want))
		return error_set(err, KORCH_EPROTO,
				 "exec: the server's WebSocket accept key is wrong");
	memmove(in->buf, in->buf + head_len, in->len - head_len);
	strbuf_truncate(in, in->len - head_len);
	return 0;
}

int
remote_exec(struct remote *r, const char *path, const korch_exec_options *o, int *ret_exit_code,
	    korch_error **err)
{
	base_options(r);
	CURL *c = r->curl;
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s%s", r->base, path) < 0) {
		url = NULL;
		return error_oom(err);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		return error_set(err, KORCH_ESYSTEM, "exec: connect to %s: %s", r->base,
				 curl_easy_strerror(cc));
	curl_socket_t sock = CURL_SOCKET_BAD;
	curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &sock);
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	int rc = handshake(r, c, sock, path, &in, err);
	struct exec_state x = { .o = o };
	bool stdin_open = o->stdin_fd >= 0;
	while (rc == 0 && !x.done) {
		/* Frames already received go first. */
		size_t off = 0;
		while (!x.done && off < in.len) {
			struct ws_frame f;
			ssize_t used = ws_parse_frame((uint8_t *)in.buf + off, in.len - off,
						      64 * 1024 * 1024, false, &f);
			if (used < 0) {
				rc = error_set(err, KORCH_EPROTO, "exec: bad WebSocket frame");
				break;
			}
			if (used == 0)
				break;
			on_frame(&x, &f);
			off += (size_t)used;
		}
		if (off) {
			memmove(in.buf, in.buf + off, in.len - off);
			strbuf_truncate(&in, in.len - off);
		}
		if (rc < 0 || x.done)
			break;
		struct pollfd pfd[2] = { { .fd = sock, .events = POLLIN },
					 { .fd = stdin_open ? o->stdin_fd : -1,
					   .events = POLLIN } };
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			rc = error_errno(err, errno, "exec: poll");
			break;
		}
		if (pfd[1].revents) {
			char buf[16384];
			ssize_t n = read(o->stdin_fd, buf, sizeof(buf));
			uint8_t mask[4];
			mask_key(mask);
			strbuf_truncate(&out, 0);
			if (n > 0) {
				uint8_t ch = WS_CHANNEL_STDIN;
				ws_put_frame(&out, WS_BINARY, &ch, 1, buf, (size_t)n, mask);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* v5: [255, 0] closes the process's stdin. */
				uint8_t close_stdin[2] = { WS_CHANNEL_CLOSE, WS_CHANNEL_STDIN };
				ws_put_frame(&out, WS_BINARY, close_stdin, 2, NULL, 0, mask);
				stdin_open = false;
			}
			if (out.len && send_all(c, sock, out.buf, out.len) < 0)
				rc = error_set(err, KORCH_ESYSTEM, "exec: send input");
		}
		if (rc == 0 && pfd[0].revents) {
			int got = recv_some(c, &in);
			if (got == KORCH_ECANCELED && in.len == 0) {
				if (!x.done)
					rc = error_set(err, KORCH_ESYSTEM,
						       "exec: the connection closed before the "
						       "command ended");
			} else if (got < 0 && got != KORCH_ECANCELED) {
				rc = error_set(err, KORCH_ESYSTEM, "exec: receive");
			}
		}
	}
	if (rc == 0 && x.error)
		rc = error_propagate(err, &x.error, korch_error_code(x.error));
	korch_error_free(x.error);
	if (rc == 0) {
		/* Close politely; the server closes the connection. */
		uint8_t mask[4], code[2] = { 0x03, 0xe8 };
		mask_key(mask);
		strbuf_truncate(&out, 0);
		ws_put_frame(&out, WS_CLOSE, NULL, 0, code, 2, mask);
		send_all(c, sock, out.buf, out.len);
		*ret_exit_code = x.exit_code;
	}
	strbuf_free(&in);
	strbuf_free(&out);
	/* A CONNECT_ONLY handle's connection is not for HTTP anymore. */
	curl_easy_cleanup(r->curl);
	r->curl = curl_easy_init();
	return rc;
}
