/*
 * validate.c - the entry points: a kind's defaults, and validation as kube-apiserver runs it
 * (the REST strategy's rules plus the generic metadata rules of rest.BeforeCreate and
 * BeforeUpdate), with the Invalid error Kubernetes returns.
 */
#include <stdio.h>
#include <string.h>

#include "api/validate-internal.h"
#include "api/validate.h"
#include "base/error.h"
#include "base/quote.h"
#include "base/util.h"

void
object_set_defaults(json_t *obj, const struct kind_info *k)
{
	if (json_is_object(obj) && k && k->set_defaults)
		k->set_defaults(obj);
}

static void
generic_namespaced(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_generic_meta(c, obj, old, true);
}

static void
generic_cluster(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_generic_meta(c, obj, old, false);
}

static bool
cause_seen(const korch_error *e, size_t upto, const char *reason, const char *field,
	   const char *message)
{
	for (size_t i = 0; i < upto; i++)
		if (streq(korch_error_cause_reason(e, i), reason) &&
		    streq_null(korch_error_cause_field(e, i), field) &&
		    streq(korch_error_cause_message(e, i), message))
			return true;
	return false;
}

/* NewInvalid: "Kind.group \"name\" is invalid: " and the aggregate of the causes. */
static int
invalid_error(const json_t *obj, const struct kind_info *k, const korch_error *causes,
	      korch_error **err)
{
	struct strbuf msg = STRBUF_INIT, agg = STRBUF_INIT;
	if (*k->group)
		strbuf_printf(&msg, "%s.%s ", k->kind, k->group);
	else
		strbuf_printf(&msg, "%s ", k->kind);
	const char *name = jstr0(jobj(obj, "metadata"), "name");
	strbuf_put_go_quoted(&msg, name, strlen(name));
	strbuf_puts(&msg, " is invalid: ");
	size_t n = korch_error_cause_count(causes), shown = 0;
	for (size_t i = 0; i < n; i++) {
		const char *field = korch_error_cause_field(causes, i);
		const char *body = korch_error_cause_message(causes, i);
		/* the aggregate shows a text once, whatever its reason */
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = streq_null(korch_error_cause_field(causes, j), field) &&
			      streq(korch_error_cause_message(causes, j), body);
		if (dup)
			continue;
		strbuf_printf(&agg, "%s%s: %s", shown ? ", " : "", field ? field : "", body);
		shown++;
	}
	/* one text alone, several in brackets */
	strbuf_printf(&msg, shown > 1 ? "[%s]" : "%s", strbuf_str(&agg));
	if (agg.oom)
		msg.oom = true;
	strbuf_free(&agg);
	korch_error *e = NULL;
	int rc = KORCH_EINVALID;
	if (msg.oom) {
		rc = error_oom(err);
		goto out;
	}
	error_set(&e, KORCH_EINVALID, "%s", strbuf_str(&msg));
	for (size_t i = 0; i < n; i++) {
		const char *reason = korch_error_cause_reason(causes, i);
		const char *field = korch_error_cause_field(causes, i);
		const char *body = korch_error_cause_message(causes, i);
		if (cause_seen(causes, i, reason, field, body))
			continue;
		size_t before = korch_error_cause_count(e);
		error_add_cause(&e, reason, field, "%s", body);
		if (korch_error_cause_count(e) != before + 1) {
			korch_error_free(e);
			rc = error_oom(err);
			goto out;
		}
	}
	if (err && !*err)
		*err = e;
	else
		korch_error_free(e);
out:
	strbuf_free(&msg);
	return rc;
}

int
object_invalid(const json_t *obj, const struct kind_info *k, const korch_error *causes,
	       korch_error **err)
{
	return invalid_error(obj, k, causes, err);
}

int
object_validate(const json_t *obj, const json_t *old_or_null, const struct kind_info *k,
		korch_error **err)
{
	if (!k)
		return error_set(err, KORCH_EINVALID, "object_validate: no kind");
	if (!json_is_object(obj))
		return error_set(err, KORCH_EINVALID, "%s is not a JSON object", k->kind);
	if (old_or_null && !json_is_object(old_or_null))
		old_or_null = NULL;
	void (*generic)(struct vctx *, const json_t *, const json_t *) =
		k->namespaced ? generic_namespaced : generic_cluster;
	korch_error *causes = NULL;
	/* on update the common metadata rules come first (rest.BeforeUpdate) */
	if (old_or_null)
		run_validation(generic, obj, old_or_null, &causes);
	if (k->validate && korch_error_code(causes) != KORCH_ENOMEM)
		k->validate(obj, old_or_null, &causes);
	/* on create they run only once the kind's own rules passed (rest.BeforeCreate) */
	if (!old_or_null && !causes)
		run_validation(generic, obj, NULL, &causes);
	if (!causes)
		return 0;
	int rc;
	if (korch_error_code(causes) == KORCH_ENOMEM)
		rc = error_oom(err);
	else
		rc = invalid_error(obj, k, causes, err);
	korch_error_free(causes);
	return rc;
}
