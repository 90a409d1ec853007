/*
 * status.c - errors as Kubernetes Status objects: korch's error codes to HTTP codes and
 * kube-apiserver's reasons, with details (the object's name, group and kind; the causes of an
 * Invalid error) as kubectl and client libraries read them.
 */
#include <string.h>

#include "base/error.h"
#include "base/util.h"
#include "server/server-internal.h"

/*
 * A KORCH_EINVALID error is a 400 BadRequest when the body could not be decoded into the kind
 * (unknown fields under strict validation, wrong JSON types: kube-apiserver's decoder errors,
 * which the write path words "... cannot be handled as a ..."), a malformed patch or selector,
 * and a 422 Invalid when the decoded object breaks a validation rule (its message says "is
 * invalid").
 */
static bool
is_invalid_object(const korch_error *err)
{
	const char *msg = err ? korch_error_message(err) : NULL;
	if (!msg || strstr(msg, "cannot be handled as a"))
		return false;
	return strstr(msg, " is invalid: ") != NULL || korch_error_cause_count(err) > 0;
}

void
status_of_error(int code, const korch_error *err, unsigned *ret_http, const char **ret_reason)
{
	unsigned http = 500;
	const char *reason = "InternalError";
	switch (code) {
	case KORCH_ENOTFOUND: http = 404, reason = "NotFound"; break;
	case KORCH_EEXISTS: http = 409, reason = "AlreadyExists"; break;
	case KORCH_ECONFLICT: http = 409, reason = "Conflict"; break;
	case KORCH_EINVALID:
		if (is_invalid_object(err))
			http = 422, reason = "Invalid";
		else
			http = 400, reason = "BadRequest";
		break;
	/* Fields korch refuses are field errors of the object, as Invalid. */
	case KORCH_EUNSUPPORTED: http = 422, reason = "Invalid"; break;
	case KORCH_EGONE: http = 410, reason = "Expired"; break;
	case KORCH_ETOOLARGE: http = 413, reason = "RequestEntityTooLarge"; break;
	case KORCH_EBUSY: http = 429, reason = "TooManyRequests"; break;
	case KORCH_EFORBIDDEN: http = 403, reason = "Forbidden"; break;
	case KORCH_EUNAUTHORIZED: http = 401, reason = "Unauthorized"; break;
	case KORCH_ETIMEOUT: http = 504, reason = "Timeout"; break;
	case KORCH_EPROTO: http = 415, reason = "UnsupportedMediaType"; break;
	case KORCH_ECANCELED: http = 503, reason = "ServiceUnavailable"; break;
	default: break;
	}
	*ret_http = http;
	*ret_reason = reason;
}

json_t *
status_new(unsigned http_code, const char *reason, const char *message, const struct route *route,
	   const korch_error *err)
{
	json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
			       "apiVersion", "v1", "metadata", "status", "Failure", "message",
			       message ? message : "", "reason", reason, "code", (int)http_code);
	if (!st)
		return NULL;
	json_t *details = json_object();
	if (route && route->type == ROUTE_RESOURCE) {
		if (route->name)
			json_object_set_new(details, "name", json_string(route->name));
		if (*route->kind->group)
			json_object_set_new(details, "group", json_string(route->kind->group));
		json_object_set_new(details, "kind", json_string(route->resource));
	}
	size_t n = err ? korch_error_cause_count(err) : 0;
	if (n) {
		json_t *causes = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *c = json_object();
			const char *r = korch_error_cause_reason(err, i);
			const char *m = korch_error_cause_message(err, i);
			const char *f = korch_error_cause_field(err, i);
			if (r && *r)
				json_object_set_new(c, "reason", json_string(r));
			if (m)
				json_object_set_new(c, "message", json_string(m));
			if (f && *f)
				json_object_set_new(c, "field", json_string(f));
			json_array_append_new(causes, c);
		}
		json_object_set_new(details, "causes", causes);
	}
	if (json_object_size(details))
		json_object_set_new(st, "details", details);
	else
		json_decref(details);
	return st;
}
