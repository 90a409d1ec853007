/*
 * error.c - the korch_error object: a code, a message collecting context, a saved errno and
 * the field causes of validation errors.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct error_cause {
	char *reason;  /* Kubernetes cause type, "FieldValueInvalid" */
	char *field;   /* field path, or NULL */
	char *message; /* the rule broken, without the path */
};

struct korch_error {
	int code;                   /* KORCH_E..., negative */
	int saved_errno;            /* errno of a failed system call, or 0 */
	char *message;              /* never NULL for a heap error */
	struct error_cause *causes; /* field errors, in the order found */
	size_t n_causes;            /* entries in causes */
	bool is_static;             /* the out-of-memory singleton: never freed */
};

/* Reported when even the error object cannot be allocated. */
static struct korch_error oom_error = {
	.code = KORCH_ENOMEM,
	.saved_errno = ENOMEM,
	.message = (char *)"out of memory",
	.is_static = true,
};

static korch_error *
error_alloc(int code)
{
	korch_error *e = calloc(1, sizeof(*e));
	if (!e)
		return &oom_error;
	e->code = code;
	return e;
}

int
error_setv(korch_error **err, int code, const char *fmt, va_list ap)
{
	if (!err || *err)
		return code;
	korch_error *e = error_alloc(code);
	if (e == &oom_error) {
		*err = e;
		return code;
	}
	if (vasprintf(&e->message, fmt, ap) < 0) {
		free(e);
		*err = &oom_error;
		return code;
	}
	*err = e;
	return code;
}

int
error_set(korch_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int
error_errno(korch_error **err, int errnum, const char *fmt, ...)
{
	if (errnum < 0)
		errnum = -errnum;
	int code = errnum == ENOMEM ? KORCH_ENOMEM : KORCH_ESYSTEM;
	if (!err || *err)
		return code;
	char *prefix = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (r < 0)
		return error_oom(err);
	char buf[128];
	const char *what = strerror_r(errnum, buf, sizeof(buf));
	error_set(err, code, "%s: %s", prefix, what);
	free(prefix);
	if (*err && !(*err)->is_static)
		(*err)->saved_errno = errnum;
	return code;
}

int
error_set_errno(korch_error **err, int code, int errnum, const char *fmt, ...)
{
	if (!err || *err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	error_setv(err, code, fmt, ap);
	va_end(ap);
	if (*err && !(*err)->is_static)
		(*err)->saved_errno = errnum < 0 ? -errnum : errnum;
	return code;
}

int
error_oom(korch_error **err)
{
	if (err && !*err)
		*err = &oom_error;
	return KORCH_ENOMEM;
}

int
error_add_cause(korch_error **err, const char *reason, const char *field, const char *fmt, ...)
{
	if (!err)
		return KORCH_EINVALID;
	if (!*err) {
		*err = error_alloc(KORCH_EINVALID);
		if (*err != &oom_error && !((*err)->message = strdup(""))) {
			free(*err);
			*err = &oom_error;
		}
	}
	korch_error *e = *err;
	if (e->is_static)
		return KORCH_EINVALID;
	struct error_cause *c = realloc(e->causes, (e->n_causes + 1) * sizeof(*c));
	if (!c)
		return KORCH_EINVALID;
	e->causes = c;
	c = &e->causes[e->n_causes];
	*c = (struct error_cause){ 0 };
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&c->message, fmt, ap);
	va_end(ap);
	if (r < 0)
		return KORCH_EINVALID;
	c->reason = strdup(reason ? reason : "");
	c->field = field ? strdup(field) : NULL;
	if (!c->reason || (field && !c->field)) {
		free(c->reason);
		free(c->field);
		free(c->message);
		return KORCH_EINVALID;
	}
	e->n_causes++;
	return KORCH_EINVALID;
}

void
error_set_message(korch_error *err, const char *fmt, ...)
{
	if (!err || err->is_static)
		return;
	char *m = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	free(err->message);
	err->message = m;
}

int
error_propagate(korch_error **dst, korch_error **src, int code)
{
	if (!src || !*src)
		return code;
	if (dst && !*dst)
		*dst = *src;
	else
		korch_error_free(*src);
	*src = NULL;
	return code;
}

KORCH_EXPORT int
korch_error_prefix(korch_error **err, int code, const char *fmt, ...)
{
	if (!err || !*err || (*err)->is_static)
		return code;
	char *prefix = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (r < 0)
		return code;
	char *m = NULL;
	const char *old = (*err)->message ? (*err)->message : "";
	if (asprintf(&m, *old ? "%s: %s" : "%s", prefix, old) >= 0) {
		free((*err)->message);
		(*err)->message = m;
	}
	free(prefix);
	return code;
}

KORCH_EXPORT int
korch_error_code(const korch_error *err)
{
	return err ? err->code : KORCH_OK;
}

KORCH_EXPORT const char *
korch_error_message(const korch_error *err)
{
	return err && err->message ? err->message : "";
}

KORCH_EXPORT int
korch_error_errno(const korch_error *err)
{
	return err ? err->saved_errno : 0;
}

KORCH_EXPORT size_t
korch_error_cause_count(const korch_error *err)
{
	return err ? err->n_causes : 0;
}

KORCH_EXPORT const char *
korch_error_cause_field(const korch_error *err, size_t i)
{
	return err && i < err->n_causes ? err->causes[i].field : NULL;
}

KORCH_EXPORT const char *
korch_error_cause_reason(const korch_error *err, size_t i)
{
	return err && i < err->n_causes ? err->causes[i].reason : NULL;
}

KORCH_EXPORT const char *
korch_error_cause_message(const korch_error *err, size_t i)
{
	return err && i < err->n_causes ? err->causes[i].message : NULL;
}

KORCH_EXPORT void
korch_error_free(korch_error *err)
{
	if (!err || err->is_static)
		return;
	for (size_t i = 0; i < err->n_causes; i++) {
		free(err->causes[i].reason);
		free(err->causes[i].field);
		free(err->causes[i].message);
	}
	free(err->causes);
	free(err->message);
	free(err);
}

KORCH_EXPORT const char *
korch_strerror(int code)
{
	switch (code) {
	case KORCH_OK: return "success";
	case KORCH_ENOTFOUND: return "not found";
	case KORCH_EEXISTS: return "already exists";
	case KORCH_ECONFLICT: return "conflict";
	case KORCH_EINVALID: return "invalid";
	case KORCH_EGONE: return "gone";
	case KORCH_ENOMEM: return "out of memory";
	case KORCH_ESYSTEM: return "system error";
	case KORCH_EUNSUPPORTED: return "not supported by korch";
	case KORCH_ETOOLARGE: return "too large";
	case KORCH_EBUSY: return "busy";
	case KORCH_EFORBIDDEN: return "forbidden";
	case KORCH_EUNAUTHORIZED: return "unauthorized";
	case KORCH_ETIMEOUT: return "timed out";
	case KORCH_ECANCELED: return "canceled";
	case KORCH_EPROTO: return "protocol mismatch";
	}
	return "unknown error";
}
