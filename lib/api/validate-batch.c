/*
 * validate-batch.c - batch/v1 Job and CronJob as Kubernetes 1.32 validates them
 * (pkg/apis/batch/validation and the job REST strategy's options).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cron.h"
#include "api/validate-internal.h"
#include "base/util.h"

#define LEGACY_CONTROLLER_UID "controller-uid"
#define LEGACY_JOB_NAME "job-name"
#define CONTROLLER_UID "batch.kubernetes.io/controller-uid"
#define JOB_NAME "batch.kubernetes.io/job-name"

#define MAX_PARALLELISM_INDEXED 100000
#define MAX_FAILED_INDEXES 100000
#define COMPLETIONS_SOFT_LIMIT 100000
#define PARALLELISM_HIGH_COMPLETIONS 10000
#define MAX_FAILED_INDEXES_HIGH_COMPLETIONS 10000
#define MAX_PFP_RULES 20
#define MAX_EXIT_CODES 255
#define MAX_POD_CONDITIONS 20
#define MAX_MANAGED_BY 63
#define MAX_SUCCEEDED_INDEXES (64 * 1024)
#define MAX_SUCCESS_RULES 20

/* JSON values Kubernetes prints with %#v as big structs: korch prints their JSON. */
#define put_struct go_put_json

/* --- the generated selector ---------------------------------------------------------------- */

/* ValidateHasLabel at spec.template.metadata */
static void
has_label(struct vctx *c, const json_t *labels, const char *key, const char *expected)
{
	char path[128], msg[600];
	snprintf(path, sizeof(path), "spec.template.metadata.labels[%s]", key);
	snprintf(msg, sizeof(msg), "must be '%s'", expected);
	const json_t *v = json_object_get(labels, key);
	if (!v)
		v_required(c, path, msg);
	else if (!json_is_string(v) || !streq(json_string_value(v), expected))
		v_invalid_go(c, path, go_put_str_map, labels, msg);
}

/*
 * validateGeneratedSelector. Kubernetes runs it on every Job, after its REST strategy set the
 * uid and generated the selector and labels; korch's write path does both before validating,
 * and korch runs the check only once a uid is there, so that a manifest can be validated
 * before it is stored.
 */
static void
generated_selector(struct vctx *c, const json_t *job, bool prefixed)
{
	const json_t *spec = jobj(job, "spec"), *meta = jobj(job, "metadata");
	if (jbool(spec, "manualSelector") || !jobj(spec, "selector"))
		return;
	const char *uid = jstr0(meta, "uid"), *name = jstr0(meta, "name");
	if (!*uid)
		return;
	const json_t *labels = jobj(jobj(jobj(spec, "template"), "metadata"), "labels");
	has_label(c, labels, LEGACY_CONTROLLER_UID, uid);
	has_label(c, labels, LEGACY_JOB_NAME, name);
	json_t *expected = json_object();
	if (prefixed) {
		has_label(c, labels, CONTROLLER_UID, uid);
		has_label(c, labels, JOB_NAME, name);
		json_object_set_new(expected, CONTROLLER_UID, json_string(uid));
		json_object_set_new(expected, JOB_NAME, json_string(name));
	}
	json_object_set_new(expected, LEGACY_CONTROLLER_UID, json_string(uid));
	json_object_set_new(expected, LEGACY_JOB_NAME, json_string(name));
	bool ok;
	const json_t *sel = jobj(spec, "selector");
	if (!selector_matches(sel, expected, &ok) && ok)
		v_invalid_go(c, "spec.selector", go_put_label_selector, sel,
			     "`selector` not auto-generated");
	json_decref(expected);
}

/* --- index lists (succeededIndexes) -------------------------------------------------------- */

static bool
atoi_go(const char *s, size_t n, long long *ret)
{
	if (!n || n > 19)
		return false;
	size_t i = 0;
	bool neg = false;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i++;
	}
	if (i == n)
		return false;
	long long v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = neg ? -v : v;
	return true;
}

/* parseIndexInterval; false with the message in why */
static bool
index_interval(const char *s, size_t n, long long completions, long long *x, long long *y,
	       struct strbuf *why)
{
	const char *h1 = memchr(s, '-', n);
	const char *h2 = h1 ? memchr(h1 + 1, '-', n - (size_t)(h1 + 1 - s)) : NULL;
	if (h2) {
		strbuf_puts(why, "the fragment ");
		strbuf_put_go_quoted(why, s, n);
		strbuf_puts(why,
			    " violates the requirement that an index interval can have at most "
			    "two parts separated by '-'");
		return false;
	}
	size_t xl = h1 ? (size_t)(h1 - s) : n;
	if (!atoi_go(s, xl, x)) {
		strbuf_puts(why, "cannot convert string to integer for index: ");
		strbuf_put_go_quoted(why, s, xl);
		return false;
	}
	if (*x >= completions) {
		strbuf_puts(why, "too large index: ");
		strbuf_put_go_quoted(why, s, xl);
		return false;
	}
	if (!h1) {
		*y = *x;
		return true;
	}
	const char *ys = h1 + 1;
	size_t yl = n - xl - 1;
	if (!atoi_go(ys, yl, y)) {
		strbuf_puts(why, "cannot convert string to integer for index: ");
		strbuf_put_go_quoted(why, ys, yl);
		return false;
	}
	if (*y >= completions) {
		strbuf_puts(why, "too large index: ");
		strbuf_put_go_quoted(why, ys, yl);
		return false;
	}
	if (*x >= *y) {
		strbuf_printf(why, "non-increasing order, previous: %lld, current: %lld", *x, *y);
		return false;
	}
	return true;
}

/* validateIndexesFormat: the number of indexes, or -1 with the message in why */
static long long
indexes_format(const char *s, long long completions, struct strbuf *why)
{
	if (!*s)
		return 0;
	long long total = 0, last = 0;
	bool have_last = false;
	for (const char *p = s;;) {
		size_t n = strcspn(p, ",");
		long long x, y;
		if (!index_interval(p, n, completions, &x, &y, why))
			return -1;
		if (have_last && last >= x) {
			strbuf_printf(why, "non-increasing order, previous: %lld, current: %lld",
				      last, x);
			return -1;
		}
		total += y - x + 1;
		last = y;
		have_last = true;
		if (!p[n])
			break;
		p += n + 1;
	}
	return total;
}

/* --- JobSpec ------------------------------------------------------------------------------- */

static void
pfp_rule(struct vctx *c, const json_t *spec, const json_t *rule, const json_t *names)
{
	const char *action = jstr0(rule, "action");
	static const char *const actions[] = { "Count", "FailIndex", "FailJob", "Ignore", NULL };
	if (!*action)
		v_required(c, "action",
			   "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]");
	else if (streq(action, "FailIndex")) {
		if (!jhas(spec, "backoffLimitPerIndex"))
			v_invalid_str(c, "action", action,
				      "requires the backoffLimitPerIndex to be set");
	} else if (!str_in(action, actions))
		v_not_supported_str(c, "action", action, actions);

	const json_t *oec = jobj(rule, "onExitCodes");
	if (oec) {
		size_t len = vp_field(c, "onExitCodes");
		const char *op = jstr0(oec, "operator");
		if (!*op)
			v_required(c, "operator", "valid values: [\"In\" \"NotIn\"]");
		else if (!str_in(op, STRS("In", "NotIn")))
			v_not_supported_str(c, "operator", op, STRS("In", "NotIn"));
		const char *cn = jstr(oec, "containerName");
		if (cn && !json_object_get(names, cn))
			v_invalid_str(
				c, "containerName", cn,
				"must be one of the container or initContainer names in the pod "
				"template");
		const json_t *values = jarr(oec, "values");
		if (!jlen(values)) {
			if (values) {
				v_invalid_val(c, "values", "[]int32{}",
					      "at least one value is required");
			} else {
				v_invalid_val(c, "values", "[]int32(nil)",
					      "at least one value is required");
			}
		} else if (jlen(values) > MAX_EXIT_CODES) {
			v_too_many(c, "values", (long)jlen(values), MAX_EXIT_CODES);
		}
		bool ordered = true;
		size_t j;
		json_t *v;
		int64_t prev = 0;
		json_array_foreach ((json_t *)values, j, v) {
			int64_t code = json_is_integer(v) ? json_integer_value(v) : 0;
			size_t l2 = vp_field(c, "values");
			vp_index(c, j);
			if (streq(op, "In") && code == 0)
				v_invalid_int(c, NULL, code, "must not be 0 for the In operator");
			bool dup = false;
			for (size_t k = 0; k < j; k++) {
				json_t *w = json_array_get(values, k);
				dup |= (json_is_integer(w) ? json_integer_value(w) : 0) == code;
			}
			if (dup) {
				char buf[32];
				snprintf(buf, sizeof(buf), "%lld", (long long)code);
				v_duplicate_val(c, NULL, buf, NULL);
			}
			vp_pop(c, l2);
			if (j > 0 && prev > code)
				ordered = false;
			prev = code;
		}
		if (!ordered) {
			_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
			go_put_int_slice(&sb, values, "int32");
			if (sb.oom)
				c->oom = true;
			else
				v_invalid_val(c, "values", strbuf_str(&sb), "must be ordered");
		}
		vp_pop(c, len);
	}
	const json_t *opc = jarr(rule, "onPodConditions");
	if (jlen(opc)) {
		size_t len = vp_field(c, "onPodConditions");
		if (jlen(opc) > MAX_POD_CONDITIONS)
			v_too_many(c, NULL, (long)jlen(opc), MAX_POD_CONDITIONS);
		size_t j;
		json_t *p;
		json_array_foreach ((json_t *)opc, j, p) {
			size_t l2 = vp_index(c, j);
			struct name_problems np = { 0 };
			const char *type = jstr0(p, "type");
			check_qualified_name(type, &np);
			v_problems(c, "type", type, &np);
			const char *status = jstr0(p, "status");
			static const char *const statuses[] = { "False", "True", "Unknown", NULL };
			if (!*status)
				v_required(c, "status",
					   "valid values: [\"False\" \"True\" \"Unknown\"]");
			else if (!str_in(status, statuses))
				v_not_supported_str(c, "status", status, statuses);
			vp_pop(c, l2);
		}
		vp_pop(c, len);
	}
	if (oec && jlen(opc))
		v_invalid_omit(c, NULL,
			       "specifying both OnExitCodes and OnPodConditions is not supported");
	if (!oec && !jlen(opc))
		v_invalid_omit(c, NULL,
			       "specifying one of OnExitCodes and OnPodConditions is required");
}

static void
pod_failure_policy(struct vctx *c, const json_t *spec, const json_t *pfp)
{
	size_t len = vp_field(c, "podFailurePolicy");
	const json_t *rules = jarr(pfp, "rules");
	if (jlen(rules) > MAX_PFP_RULES)
		v_too_many(c, "rules", (long)jlen(rules), MAX_PFP_RULES);
	json_t *names = json_object();
	const json_t *pspec = jobj(jobj(spec, "template"), "spec");
	static const char *const lists[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (jarr(pspec, lists[l]), i, ctr)
			json_object_set_new(names, jstr0(ctr, "name"), json_true());
	}
	size_t i;
	json_t *rule;
	json_array_foreach ((json_t *)rules, i, rule) {
		size_t l2 = vp_field(c, "rules");
		vp_index(c, i);
		pfp_rule(c, spec, rule, names);
		vp_pop(c, l2);
	}
	json_decref(names);
	vp_pop(c, len);
}

static void
success_policy(struct vctx *c, const json_t *spec, const json_t *sp)
{
	size_t len = vp_field(c, "successPolicy");
	const json_t *rules = jarr(sp, "rules");
	if (!jlen(rules))
		v_required(
			c, "rules",
			"at least one rules must be specified when the successPolicy is specified");
	if (jlen(rules) > MAX_SUCCESS_RULES)
		v_too_many(c, "rules", (long)jlen(rules), MAX_SUCCESS_RULES);
	long long completions = jint0(spec, "completions");
	size_t i;
	json_t *rule;
	json_array_foreach ((json_t *)rules, i, rule) {
		size_t l2 = vp_field(c, "rules");
		vp_index(c, i);
		const char *idx = jstr(rule, "succeededIndexes");
		int64_t count;
		bool has_count = jint(rule, "succeededCount", &count);
		if (!has_count && !idx)
			v_required(
				c, NULL,
				"at least one of succeededCount or succeededIndexes must be specified");
		long long total = 0;
		if (idx) {
			if (strlen(idx) > MAX_SUCCEEDED_INDEXES)
				v_too_long(c, "succeededIndexes", MAX_SUCCEEDED_INDEXES);
			_cleanup_strbuf_ struct strbuf why = STRBUF_INIT;
			total = indexes_format(idx, completions, &why);
			if (total < 0) {
				total = 0;
				v_invalid_str(c, "succeededIndexes", idx,
					      "error parsing succeededIndexes: %s",
					      strbuf_str(&why));
			}
		}
		if (has_count) {
			v_nonneg(c, rule, "succeededCount");
			if (count > completions)
				v_invalid_int(
					c, "succeededCount", count,
					"must be less than or equal to %lld (the number of specified "
					"completions)",
					completions);
			if (idx && count > total)
				v_invalid_int(
					c, "succeededCount", count,
					"must be less than or equal to %lld (the number of indexes in "
					"the specified succeededIndexes field)",
					total);
		}
		vp_pop(c, l2);
	}
	vp_pop(c, len);
}

/* IsDomainPrefixedPath at current path + child */
static void
domain_prefixed_path(struct vctx *c, const char *child, const char *p)
{
	if (!*p) {
		v_required(c, child, "");
		return;
	}
	const char *slash = strchr(p, '/');
	if (!slash || slash == p || !slash[1]) {
		v_invalid_str(c, child, p,
			      "must be a domain-prefixed path (such as \"acme.io/foo\")");
		return;
	}
	_cleanup_free_ char *host = strndup(p, (size_t)(slash - p));
	if (!host) {
		c->oom = true;
		return;
	}
	struct name_problems np = { 0 };
	check_dns1123_subdomain(host, &np);
	v_problems(c, child, host, &np);
	const char *path = slash + 1;
	bool ok = true;
	for (const char *s = path; *s; s++)
		ok &= (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("/-._~%!$&'()*+,;=:", *s) != NULL;
	if (!ok)
		v_invalid_str(c, child, path,
			      "Invalid path (regex used for validation is "
			      "'[A-Za-z0-9/\\-._~%%!$&'()*+,;=:]+')");
}

/* validateJobSpec at the current path (spec, or spec.jobTemplate.spec) */
static void
job_spec_common(struct vctx *c, const json_t *spec)
{
	v_nonneg(c, spec, "parallelism");
	v_nonneg(c, spec, "completions");
	v_nonneg(c, spec, "activeDeadlineSeconds");
	v_nonneg(c, spec, "backoffLimit");
	v_nonneg(c, spec, "ttlSecondsAfterFinished");
	v_nonneg(c, spec, "backoffLimitPerIndex");
	bool has_blpi = jhas(spec, "backoffLimitPerIndex"),
	     has_mfi = jhas(spec, "maxFailedIndexes");
	if (has_mfi) {
		v_nonneg(c, spec, "maxFailedIndexes");
		if (!has_blpi)
			v_required(c, "backoffLimitPerIndex", "when maxFailedIndexes is specified");
	}
	const char *managed_by = jstr(spec, "managedBy");
	if (managed_by) {
		domain_prefixed_path(c, "managedBy", managed_by);
		if (strlen(managed_by) > MAX_MANAGED_BY)
			v_too_long(c, "managedBy", MAX_MANAGED_BY);
	}
	const char *mode = jstr(spec, "completionMode");
	int64_t completions = 0, parallelism = 0, mfi = 0, blpi = 0;
	bool has_completions = jint(spec, "completions", &completions);
	bool has_parallelism = jint(spec, "parallelism", &parallelism);
	jint(spec, "maxFailedIndexes", &mfi);
	jint(spec, "backoffLimitPerIndex", &blpi);
	if (mode) {
		if (!str_in(mode, STRS("NonIndexed", "Indexed")))
			v_not_supported_str(c, "completionMode", mode,
					    STRS("NonIndexed", "Indexed"));
		if (streq(mode, "Indexed")) {
			if (!has_completions)
				v_required(c, "completions", "when completion mode is Indexed");
			if (has_parallelism && parallelism > MAX_PARALLELISM_INDEXED)
				v_invalid_int(
					c, "parallelism", parallelism,
					"must be less than or equal to %d when completion mode is "
					"Indexed",
					MAX_PARALLELISM_INDEXED);
			if (has_completions && has_mfi && mfi > completions)
				v_invalid_int(c, "maxFailedIndexes", mfi,
					      "must be less than or equal to completions");
			if (has_mfi && mfi > MAX_FAILED_INDEXES)
				v_invalid_int(c, "maxFailedIndexes", mfi,
					      "must be less than or equal to %d",
					      MAX_FAILED_INDEXES);
			if (has_completions && completions > COMPLETIONS_SOFT_LIMIT && has_blpi) {
				if (!has_mfi)
					v_required(
						c, "maxFailedIndexes",
						"must be specified when completions is above 100000");
				if (has_parallelism && parallelism > PARALLELISM_HIGH_COMPLETIONS)
					v_invalid_int(
						c, "parallelism", parallelism,
						"must be less than or equal to %d when completions "
						"are above %d and used with backoff limit per index",
						PARALLELISM_HIGH_COMPLETIONS,
						COMPLETIONS_SOFT_LIMIT);
				if (has_mfi && mfi > MAX_FAILED_INDEXES_HIGH_COMPLETIONS)
					v_invalid_int(
						c, "maxFailedIndexes", mfi,
						"must be less than or equal to %d when completions "
						"are above %d and used with backoff limit per index",
						MAX_FAILED_INDEXES_HIGH_COMPLETIONS,
						COMPLETIONS_SOFT_LIMIT);
			}
		}
	}
	if (!mode || streq(mode, "NonIndexed")) {
		if (has_blpi)
			v_invalid_int(c, "backoffLimitPerIndex", blpi,
				      "requires indexed completion mode");
		if (has_mfi)
			v_invalid_int(c, "maxFailedIndexes", mfi,
				      "requires indexed completion mode");
	}
	const json_t *pfp = jobj(spec, "podFailurePolicy");
	if (pfp)
		pod_failure_policy(c, spec, pfp);
	const json_t *sp = jobj(spec, "successPolicy");
	if (sp) {
		if (!streq(mode ? mode : "NonIndexed", "Indexed"))
			v_invalid_go(c, "successPolicy", put_struct, sp,
				     "requires indexed completion mode");
		else
			success_policy(c, spec, sp);
	}
	const char *prp = jstr(spec, "podReplacementPolicy");
	if (prp) {
		if (pfp) {
			if (!streq(prp, "Failed"))
				v_not_supported_str(c, "podReplacementPolicy", prp, STRS("Failed"));
		} else if (!str_in(prp, STRS("Failed", "TerminatingOrFailed"))) {
			v_not_supported_str(c, "podReplacementPolicy", prp,
					    STRS("Failed", "TerminatingOrFailed"));
		}
	}
	const json_t *tmpl = jobj(spec, "template");
	json_t *empty = NULL;
	if (!tmpl)
		tmpl = empty = json_object();
	size_t len = vp_field(c, "template");
	validate_pod_template_spec(c, tmpl);
	vp_pop(c, len);
	json_decref(empty);
	const char *rp = jstr0(jobj(tmpl, "spec"), "restartPolicy");
	if (!*rp || streq(rp, "Always"))
		v_required(c, "template.spec.restartPolicy",
			   "valid values: \"OnFailure\", \"Never\"");
	else if (!str_in(rp, STRS("OnFailure", "Never")))
		v_not_supported_str(c, "template.spec.restartPolicy", rp,
				    STRS("OnFailure", "Never"));
	else if (pfp && !streq(rp, "Never"))
		v_invalid_str(c, "template.spec.restartPolicy", rp,
			      "only \"Never\" is supported when podFailurePolicy is specified");
}

/* ValidateJobSpec at the current path (spec) */
static void
job_spec(struct vctx *c, const json_t *spec)
{
	job_spec_common(c, spec);
	const json_t *sel = jobj(spec, "selector");
	if (!sel)
		v_required(c, "selector", "");
	else
		v_label_selector(c, "selector", sel);
	bool ok;
	const json_t *labels = jobj(jobj(jobj(spec, "template"), "metadata"), "labels");
	if (!selector_matches(sel, labels, &ok) && ok)
		v_invalid_go(c, "template.metadata.labels", go_put_str_map, labels,
			     "`selector` does not match template `labels`");
}

/* ValidateJob */
static void
job_validate(struct vctx *c, const json_t *job, bool prefixed)
{
	validate_object_meta(c, job, true, NAME_SUBDOMAIN);
	generated_selector(c, job, prefixed);
	const json_t *spec = jobj(job, "spec");
	size_t len = vp_field(c, "spec");
	job_spec(c, spec);
	vp_pop(c, len);
	int64_t completions;
	if (streq(jstr0(spec, "completionMode"), "Indexed") &&
	    jint(spec, "completions", &completions) && completions > 0) {
		const char *name = jstr0(jobj(job, "metadata"), "name");
		char host[600];
		snprintf(host, sizeof(host), "%s-%lld", name, (long long)(completions - 1));
		if (!is_dns1123_label(host))
			v_invalid_str(c, "metadata.name", name,
				      "will not able to create pod with invalid DNS label: %s",
				      host);
	}
}

/* validatePodTemplateUpdate: the template is immutable, but for the scheduling directives of a
 * suspended Job that never started. */
static void
template_update(struct vctx *c, const json_t *spec, const json_t *ospec, bool mutable_scheduling)
{
	const json_t *tmpl = jobj(spec, "template"), *otmpl = jobj(ospec, "template");
	json_t *old = json_deep_copy(otmpl ? otmpl : json_object());
	if (!old) {
		c->oom = true;
		return;
	}
	if (mutable_scheduling) {
		const json_t *ps = jobj(tmpl, "spec");
		json_t *ops = jobj(old, "spec");
		if (!ops) {
			ops = json_object();
			json_object_set_new(old, "spec", ops);
		}
		const json_t *aff = jobj(ps, "affinity");
		json_t *oaff = jobj(ops, "affinity");
		if (!aff && oaff) {
			json_object_del(oaff, "nodeAffinity");
			if (!jlen(oaff))
				json_object_del(ops, "affinity");
		} else if (aff && !oaff) {
			json_t *a = json_object();
			if (jget(aff, "nodeAffinity"))
				json_object_set(a, "nodeAffinity", jget(aff, "nodeAffinity"));
			json_object_set_new(ops, "affinity", a);
		} else if (aff && oaff) {
			if (jget(aff, "nodeAffinity"))
				json_object_set(oaff, "nodeAffinity", jget(aff, "nodeAffinity"));
			else
				json_object_del(oaff, "nodeAffinity");
		}
		static const char *const spec_fields[] = { "nodeSelector", "tolerations",
							   "schedulingGates" };
		for (size_t i = 0; i < ARRAY_SIZE(spec_fields); i++) {
			json_t *v = jget(ps, spec_fields[i]);
			if (v)
				json_object_set(ops, spec_fields[i], v);
			else
				json_object_del(ops, spec_fields[i]);
		}
		json_t *om = jobj(old, "metadata");
		if (!om) {
			om = json_object();
			json_object_set_new(old, "metadata", om);
		}
		static const char *const meta_fields[] = { "annotations", "labels" };
		for (size_t i = 0; i < ARRAY_SIZE(meta_fields); i++) {
			json_t *v = jget(jobj(tmpl, "metadata"), meta_fields[i]);
			if (v)
				json_object_set(om, meta_fields[i], v);
			else
				json_object_del(om, meta_fields[i]);
		}
		if (!jlen(om))
			json_object_del(old, "metadata");
	}
	json_t *empty = json_object();
	/* an absent template is the zero PodTemplateSpec, as an empty one is */
	if (!json_equal(tmpl ? (json_t *)tmpl : empty, old))
		v_invalid_go(c, "spec.template", put_struct, tmpl ? tmpl : empty, MSG_IMMUTABLE);
	json_decref(empty);
	json_decref(old);
}

static void
job_kind(struct vctx *c, const json_t *job, const json_t *old)
{
	bool prefixed = true;
	if (old) {
		const json_t *ol =
			jobj(jobj(jobj(jobj(old, "spec"), "template"), "metadata"), "labels");
		prefixed = json_object_get(ol, JOB_NAME) && json_object_get(ol, CONTROLLER_UID);
	}
	job_validate(c, job, prefixed);
	if (!old)
		return;
	validate_object_meta_update(c, job, old);
	const json_t *spec = jobj(job, "spec"), *ospec = jobj(old, "spec");
	/* ValidateJobSpecUpdate validates the spec once more: the same causes as above */
	size_t len = vp_field(c, "spec");
	/* validateCompletions (ElasticIndexedJob is GA) */
	const json_t *nc = jget(spec, "completions"), *oc = jget(ospec, "completions");
	if (!streq(jstr0(spec, "completionMode"), "Indexed")) {
		v_immutable(c, "completions", nc, oc, NULL);
	} else if (!(nc && oc ? json_equal((json_t *)nc, (json_t *)oc) : nc == oc) && nc &&
		   !json_is_null(nc)) {
		if (!json_equal((json_t *)nc, jget(spec, "parallelism") ? jget(spec, "parallelism")
									: json_null()))
			v_invalid_go(c, "completions", go_put_scalar, nc,
				     "can only be modified in tandem with spec.parallelism");
	}
	v_immutable(c, "selector", jget(spec, "selector"), jget(ospec, "selector"),
		    go_put_label_selector);
	vp_pop(c, len);
	bool mutable_scheduling =
		jbool(ospec, "suspend") && !jhas(jobj(old, "status"), "startTime");
	template_update(c, spec, ospec, mutable_scheduling);
	len = vp_field(c, "spec");
	v_immutable(c, "completionMode", jget(spec, "completionMode"),
		    jget(ospec, "completionMode"), NULL);
	v_immutable(c, "podFailurePolicy", jget(spec, "podFailurePolicy"),
		    jget(ospec, "podFailurePolicy"), put_struct);
	v_immutable(c, "backoffLimitPerIndex", jget(spec, "backoffLimitPerIndex"),
		    jget(ospec, "backoffLimitPerIndex"), NULL);
	v_immutable(c, "managedBy", jget(spec, "managedBy"), jget(ospec, "managedBy"), NULL);
	v_immutable(c, "successPolicy", jget(spec, "successPolicy"), jget(ospec, "successPolicy"),
		    put_struct);
	vp_pop(c, len);
}

void
validate_job(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(job_kind, obj, old, err);
}

/* --- CronJob ------------------------------------------------------------------------------- */

static bool
tz_part_ok(const char *p, size_t n)
{
	if (n < 1 || n > 14)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' || ch == '+'))
			return false;
	}
	return true;
}

/* validateTimeZone at current path + "timeZone" */
static void
time_zone(struct vctx *c, const char *tz)
{
	if (!*tz) {
		v_invalid_str(c, "timeZone", "", "timeZone must be nil or non-empty string");
		return;
	}
	for (const char *p = tz;;) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n && p[0] == '-') || !tz_part_ok(p, n)) {
			v_invalid_str(c, "timeZone", tz, "unknown time zone %s", tz);
			return;
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	if (strcasecmp(tz, "Local") == 0)
		v_invalid_str(c, "timeZone", tz,
			      "timeZone must be an explicit time zone as defined in "
			      "https://www.iana.org/time-zones");
	char msg[256];
	if (!cron_load_location(tz, msg, sizeof(msg)))
		v_invalid_str(c, "timeZone", tz, "%s", msg);
}

static void
cron_job_spec(struct vctx *c, const json_t *spec, const json_t *ospec)
{
	size_t len = vp_field(c, "spec");
	const char *schedule = jstr0(spec, "schedule");
	if (!*schedule) {
		v_required(c, "schedule", "");
	} else {
		bool allow_tz = ospec && strstr(jstr0(ospec, "schedule"), "TZ");
		korch_error *e = NULL;
		if (cron_parse(schedule, NULL, &e) < 0) {
			v_invalid_str(c, "schedule", schedule, "%s", korch_error_message(e));
			korch_error_free(e);
		}
		if (allow_tz && strstr(schedule, "TZ") && jhas(spec, "timeZone"))
			v_invalid_str(
				c, "schedule", schedule,
				"cannot use both timeZone field and TZ or CRON_TZ in schedule");
		else if (!allow_tz && strstr(schedule, "TZ"))
			v_invalid_str(
				c, "schedule", schedule,
				"cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
	}
	v_nonneg(c, spec, "startingDeadlineSeconds");
	const json_t *tz = jget(spec, "timeZone"), *otz = ospec ? jget(ospec, "timeZone") : NULL;
	if (json_is_null(tz))
		tz = NULL;
	if (json_is_null(otz))
		otz = NULL;
	if ((!ospec || !(tz && otz ? json_equal((json_t *)tz, (json_t *)otz) : tz == otz)) && tz)
		time_zone(c, json_is_string(tz) ? json_string_value(tz) : "");
	const char *cp = jstr0(spec, "concurrencyPolicy");
	if (!*cp)
		v_required(c, "concurrencyPolicy", "");
	else if (!str_in(cp, STRS("Allow", "Forbid", "Replace")))
		v_not_supported_str(c, "concurrencyPolicy", cp, STRS("Allow", "Forbid", "Replace"));

	const json_t *jspec = jobj(jobj(spec, "jobTemplate"), "spec");
	json_t *empty = NULL;
	if (!jspec)
		jspec = empty = json_object();
	size_t l2 = vp_field(c, "jobTemplate.spec");
	job_spec_common(c, jspec);
	const json_t *sel = jget(jspec, "selector");
	if (sel && !json_is_null(sel))
		v_invalid_go(c, "selector", go_put_label_selector, sel,
			     "`selector` will be auto-generated");
	if (jbool(jspec, "manualSelector"))
		v_not_supported_val(c, "manualSelector", "true", STRS("nil", "false"));
	vp_pop(c, l2);
	json_decref(empty);
	v_nonneg(c, spec, "successfulJobsHistoryLimit");
	v_nonneg(c, spec, "failedJobsHistoryLimit");
	vp_pop(c, len);
}

static void
cron_job_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old) {
		validate_object_meta_update(c, obj, old);
		cron_job_spec(c, jobj(obj, "spec"),
			      jobj(old, "spec") ? jobj(old, "spec") : json_null());
		return;
	}
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	cron_job_spec(c, jobj(obj, "spec"), NULL);
	const char *name = jstr0(jobj(obj, "metadata"), "name");
	if (strlen(name) > 52)
		v_invalid_str(c, "metadata.name", name, "must be no more than 52 characters");
}

void
validate_cron_job(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(cron_job_kind, obj, old, err);
}
