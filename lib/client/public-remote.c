/*
 * public-remote.c - the public korch_client calls over HTTP: each becomes the request kubectl
 * would send for it (paths, query parameters, content types), and the answer becomes what the
 * local call returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "client/remote.h"

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* Appends ?key=value / &key=value, the value escaped. */
static void
query(struct strbuf *sb, const char *key, const char *value)
{
	if (!value)
		return;
	char *e = curl_easy_escape(NULL, value, 0);
	strbuf_printf(sb, "%c%s=%s", strchr(strbuf_str(sb), '?') ? '&' : '?', key, e ? e : "");
	curl_free(e);
}

static void
write_query(struct strbuf *sb, const korch_write_options *o, bool apply)
{
	static const char *const validation[] = { "Strict", "Warn", "Ignore" };
	const char *fm = o && o->field_manager ? o->field_manager : apply ? "unknown" : NULL;
	query(sb, "fieldManager", fm);
	int fv = o ? o->field_validation : 0;
	query(sb, "fieldValidation", fv >= 0 && fv <= 2 ? validation[fv] : "Strict");
	if (o && o->dry_run)
		query(sb, "dryRun", "All");
	if (apply)
		query(sb, "force", o && o->force ? "true" : "false");
}

static int
object_path(const json_t *obj, bool with_name, const char *sub, char **ret, korch_error **err)
{
	const struct kind_info *k;
	int r = kind_resolve_object(obj, &k, err);
	if (r < 0)
		return r;
	if (!(*ret = remote_path(k, meta_str(obj, "namespace"),
				 with_name ? meta_str(obj, "name") : NULL, sub)))
		return error_oom(err);
	return 0;
}

int
rc_get(struct remote *r, const struct kind_info *k, const char *ns, const char *name, json_t **ret,
       korch_error **err)
{
	if (k->namespaced && (!ns || !*ns))
		return error_set(err, KORCH_EINVALID, "a namespace is required to get %s",
				 k->plural);
	_cleanup_free_ char *path = remote_path(k, ns, name, NULL);
	if (!path)
		return error_oom(err);
	return remote_call(r, "GET", path, NULL, NULL, NULL, ret, err);
}

int
rc_list(struct remote *r, const struct kind_info *k, const char *ns, const korch_list_options *o,
	json_t **ret, korch_error **err)
{
	_cleanup_free_ char *base = remote_path(k, ns, NULL, NULL);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base ? base : "");
	if (o) {
		query(&sb, "labelSelector", o->label_selector);
		query(&sb, "fieldSelector", o->field_selector);
		if (o->limit) {
			char n[32];
			snprintf(n, sizeof(n), "%zu", o->limit);
			query(&sb, "limit", n);
		}
		query(&sb, "continue", o->continue_token);
	}
	if (!base || sb.oom)
		return error_oom(err);
	return remote_call(r, "GET", sb.buf, NULL, NULL, NULL, ret, err);
}

int
rc_create(struct remote *r, const json_t *obj, const korch_write_options *o, json_t **ret,
	  korch_error **err)
{
	_cleanup_free_ char *base = NULL;
	int rc = object_path(obj, false, NULL, &base, err);
	if (rc < 0)
		return rc;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base);
	write_query(&sb, o, false);
	return sb.oom ? error_oom(err) : remote_call(r, "POST", sb.buf, NULL, obj, NULL, ret, err);
}

int
rc_update(struct remote *r, const json_t *obj, const char *subresource,
	  const korch_write_options *o, json_t **ret, korch_error **err)
{
	_cleanup_free_ char *base = NULL;
	int rc = object_path(obj, true, subresource, &base, err);
	if (rc < 0)
		return rc;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base);
	write_query(&sb, o, false);
	return sb.oom ? error_oom(err) : remote_call(r, "PUT", sb.buf, NULL, obj, NULL, ret, err);
}

int
rc_patch(struct remote *r, const struct kind_info *k, const char *ns, const char *name,
	 int patch_type, const json_t *patch, const korch_write_options *o, json_t **ret,
	 korch_error **err)
{
	static const char *const types[] = { "application/merge-patch+json",
					     "application/json-patch+json",
					     "application/strategic-merge-patch+json",
					     "application/apply-patch+yaml" };
	_cleanup_free_ char *base = remote_path(k, ns, name, NULL);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base ? base : "");
	write_query(&sb, o, patch_type == KORCH_PATCH_APPLY);
	if (!base || sb.oom)
		return error_oom(err);
	return remote_call(r, "PATCH", sb.buf, types[patch_type], patch, NULL, ret, err);
}

int
rc_apply(struct remote *r, const json_t *obj, const korch_write_options *o, json_t **ret,
	 int *ret_result, korch_error **err)
{
	const struct kind_info *k;
	int rc = kind_resolve_object(obj, &k, err);
	if (rc < 0)
		return rc;
	const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");
	if (!name || !*name)
		return error_set(err, KORCH_EINVALID,
				 "metadata.name: Required value: name is "
				 "required for an apply");
	/* What was there before tells created, configured and unchanged apart. */
	_cleanup_json_ json_t *before = NULL;
	korch_error *e = NULL;
	rc = rc_get(r, k, ns, name, &before, &e);
	if (rc < 0 && rc != KORCH_ENOTFOUND)
		return error_propagate(err, &e, rc);
	korch_error_free(e);
	json_t *after = NULL;
	if ((rc = rc_patch(r, k, ns, name, KORCH_PATCH_APPLY, obj, o, &after, err)) < 0)
		return rc;
	if (ret_result)
		*ret_result = !before ? KORCH_WRITE_CREATED
			      : streq(meta_str(before, "resourceVersion"),
				      meta_str(after, "resourceVersion"))
				      ? KORCH_WRITE_UNCHANGED
				      : KORCH_WRITE_CONFIGURED;
	if (ret)
		*ret = after;
	else
		json_decref(after);
	return 0;
}

int
rc_delete(struct remote *r, const struct kind_info *k, const char *ns, const char *name,
	  const korch_delete_options *o, json_t **ret, korch_error **err)
{
	static const char *const policies[] = { NULL, "Background", "Foreground", "Orphan" };
	_cleanup_json_ json_t *body =
		json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
	if (!body)
		return error_oom(err);
	if (o && o->propagation > 0 && o->propagation <= 3)
		json_object_set_new(body, "propagationPolicy",
				    json_string(policies[o->propagation]));
	if (o && o->grace_period_s >= 0)
		json_object_set_new(body, "gracePeriodSeconds",
				    json_integer((json_int_t)o->grace_period_s));
	if (o && o->dry_run)
		json_object_set_new(body, "dryRun", json_pack("[s]", "All"));
	/* The object as it was, for a deletion that answers with a Status. */
	_cleanup_json_ json_t *before = NULL;
	int rc = 0;
	if (ret && (rc = rc_get(r, k, ns, name, &before, err)) < 0)
		return rc;
	_cleanup_free_ char *path = remote_path(k, ns, name, NULL);
	if (!path)
		return error_oom(err);
	json_t *out = NULL;
	if ((rc = remote_call(r, "DELETE", path, NULL, body, NULL, &out, err)) < 0)
		return rc;
	if (ret) {
		if (streq(json_string_value(json_object_get(out, "kind")), "Status")) {
			json_decref(out);
			*ret = json_incref(before);
		} else {
			*ret = out;
		}
	} else {
		json_decref(out);
	}
	return 0;
}

struct watch_ctx {
	korch_watch_fn fn;  /* the caller's */
	void *userdata;     /* for fn */
	korch_error *error; /* an ERROR event */
};

static int
on_watch_line(const char *data, size_t len, void *userdata)
{
	struct watch_ctx *w = userdata;
	_cleanup_json_ json_t *ev = NULL;
	if (codec_json_decode(data, len, &ev, NULL) < 0) {
		error_set(&w->error, KORCH_EPROTO, "watch: an event is not JSON");
		return 1;
	}
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	int event;
	if (streq(type, "ADDED"))
		event = KORCH_WATCH_ADDED;
	else if (streq(type, "MODIFIED"))
		event = KORCH_WATCH_MODIFIED;
	else if (streq(type, "DELETED"))
		event = KORCH_WATCH_DELETED;
	else if (streq(type, "BOOKMARK"))
		event = KORCH_WATCH_BOOKMARK;
	else {
		int64_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));
		error_set(&w->error, code == 410 ? KORCH_EGONE : KORCH_ESYSTEM, "%s",
			  msg ? msg : "the watch ended with an error");
		return 1;
	}
	return w->fn(event, (korch_object *)obj, w->userdata);
}

int
rc_watch(struct remote *r, const struct kind_info *k, const char *ns, const korch_watch_options *o,
	 korch_watch_fn fn, void *userdata, korch_error **err)
{
	_cleanup_free_ char *base = remote_path(k, ns, NULL, NULL);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base ? base : "");
	query(&sb, "watch", "true");
	char t[32];
	if (o) {
		query(&sb, "labelSelector", o->label_selector);
		query(&sb, "fieldSelector", o->field_selector);
		query(&sb, "resourceVersion", o->resource_version);
		if (o->timeout_s > 0) {
			snprintf(t, sizeof(t), "%d", o->timeout_s);
			query(&sb, "timeoutSeconds", t);
		}
	}
	if (!base || sb.oom)
		return error_oom(err);
	struct watch_ctx w = { .fn = fn, .userdata = userdata };
	int rc = remote_stream(r, sb.buf, true, on_watch_line, &w, err);
	if (rc == 0 && w.error)
		rc = korch_error_code(w.error);
	if (w.error)
		error_propagate(err, &w.error, rc);
	return rc;
}

int
rc_logs(struct remote *r, const char *ns, const char *pod, const korch_logs_options *o,
	korch_logs_fn fn, void *userdata, korch_error **err)
{
	_cleanup_free_ char *base = remote_path(kind_lookup("v1", "Pod"), ns, pod, "log");
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base ? base : "");
	char n[32];
	if (o) {
		query(&sb, "container", o->container);
		if (o->follow)
			query(&sb, "follow", "true");
		if (o->previous)
			query(&sb, "previous", "true");
		if (o->timestamps)
			query(&sb, "timestamps", "true");
		if (o->tail_lines >= 0) {
			snprintf(n, sizeof(n), "%lld", (long long)o->tail_lines);
			query(&sb, "tailLines", n);
		}
		if (o->since_seconds > 0) {
			snprintf(n, sizeof(n), "%lld", (long long)o->since_seconds);
			query(&sb, "sinceSeconds", n);
		}
		query(&sb, "sinceTime", o->since_time);
		if (o->limit_bytes > 0) {
			snprintf(n, sizeof(n), "%lld", (long long)o->limit_bytes);
			query(&sb, "limitBytes", n);
		}
	}
	if (!base || sb.oom)
		return error_oom(err);
	return remote_stream(r, sb.buf, false, fn, userdata, err);
}

int
rc_exec(struct remote *r, const char *ns, const char *pod, char *const argv[],
	const korch_exec_options *o, int *ret_exit_code, korch_error **err)
{
	_cleanup_free_ char *base = remote_path(kind_lookup("v1", "Pod"), ns, pod, "exec");
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, base ? base : "");
	for (char *const *a = argv; *a; a++)
		query(&sb, "command", *a);
	query(&sb, "container", o->container);
	if (o->stdin_fd >= 0)
		query(&sb, "stdin", "true");
	query(&sb, "stdout", "true");
	if (!o->tty)
		query(&sb, "stderr", "true");
	if (o->tty)
		query(&sb, "tty", "true");
	if (!base || sb.oom)
		return error_oom(err);
	return remote_exec(r, sb.buf, o, ret_exit_code, err);
}
