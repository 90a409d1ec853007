/*
 * validate-apps.c - apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet and
 * ControllerRevision, as Kubernetes 1.32 validates them (pkg/apis/apps/validation and the
 * selector immutability its REST strategies add for apps/v1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-internal.h"
#include "base/util.h"

#define MSG_NOT_MATCH "`selector` does not match template `labels`"
#define MSG_BAD_PERCENT                                                                           \
	"a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  " \
	"or '93%', regex used for validation is '[0-9]+%')"

/* --- int-or-percent ------------------------------------------------------------------------ */

static bool
is_percent(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || s[n - 1] != '%')
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* getIntOrPercentValue: a valid percent's number, else IntValue() (Atoi of a string, 0 on
 * error). */
static long
int_or_percent_value(const json_t *v)
{
	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (!json_is_string(v))
		return 0;
	const char *s = json_string_value(v);
	char *end;
	long n = strtol(s, &end, 10);
	if (is_percent(s))
		return n;
	/* strconv.Atoi: an optional sign and digits, nothing else */
	if (!*s || *end || ((*s == '+' || *s == '-') && !s[1]))
		return 0;
	return n;
}

/* ValidatePositiveIntOrPercent at current path + child (absent: the zero int, valid). */
static void
positive_int_or_percent(struct vctx *c, const char *child, const json_t *v)
{
	if (json_is_string(v)) {
		if (!is_percent(json_string_value(v)))
			v_invalid_go(c, child, go_put_intstr, v, MSG_BAD_PERCENT);
	} else if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			v_invalid_int(c, child, json_integer_value(v), MSG_NEGATIVE);
	}
}

/* IsNotMoreThan100Percent */
static void
not_more_than_100_percent(struct vctx *c, const char *child, const json_t *v)
{
	if (json_is_string(v) && is_percent(json_string_value(v)) &&
	    strtol(json_string_value(v), NULL, 10) > 100)
		v_invalid_go(c, child, go_put_intstr, v, "must not be greater than 100%");
}

/* --- Go renderings of the strategy structs ------------------------------------------------- */

static void
put_intstr_ptr(struct strbuf *sb, const json_t *v)
{
	if (!v || json_is_null(v)) {
		strbuf_puts(sb, "(*intstr.IntOrString)(nil)");
		return;
	}
	strbuf_putc(sb, '&');
	go_put_intstr(sb, v);
}

static void
put_sts_rolling_update(struct strbuf *sb, const json_t *ru)
{
	strbuf_printf(sb, "apps.RollingUpdateStatefulSetStrategy{Partition:%lld, MaxUnavailable:",
		      (long long)jint0(ru, "partition"));
	put_intstr_ptr(sb, jget(ru, "maxUnavailable"));
	strbuf_putc(sb, '}');
}

static void
put_sts_strategy(struct strbuf *sb, const json_t *s)
{
	strbuf_puts(sb, "apps.StatefulSetUpdateStrategy{Type:");
	const char *t = jstr0(s, "type");
	strbuf_put_go_quoted(sb, t, strlen(t));
	strbuf_puts(sb, ", RollingUpdate:");
	const json_t *ru = jobj(s, "rollingUpdate");
	if (ru) {
		strbuf_putc(sb, '&');
		put_sts_rolling_update(sb, ru);
	} else {
		strbuf_puts(sb, "(*apps.RollingUpdateStatefulSetStrategy)(nil)");
	}
	strbuf_putc(sb, '}');
}

static void
put_int_or_zero(struct strbuf *sb, const json_t *v)
{
	if (json_is_string(v) || json_is_integer(v))
		go_put_intstr(sb, v);
	else
		strbuf_puts(sb, "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}");
}

static void
put_strategy(struct strbuf *sb, const json_t *s, const char *type, const char *ru_type)
{
	strbuf_printf(sb, "apps.%s{Type:", type);
	const char *t = jstr0(s, "type");
	strbuf_put_go_quoted(sb, t, strlen(t));
	strbuf_puts(sb, ", RollingUpdate:");
	const json_t *ru = jobj(s, "rollingUpdate");
	if (!ru) {
		strbuf_printf(sb, "(*apps.%s)(nil)}", ru_type);
		return;
	}
	strbuf_printf(sb, "&apps.%s{MaxUnavailable:", ru_type);
	put_int_or_zero(sb, jget(ru, "maxUnavailable"));
	strbuf_puts(sb, ", MaxSurge:");
	put_int_or_zero(sb, jget(ru, "maxSurge"));
	strbuf_puts(sb, "}}");
}

static void
put_deployment_strategy(struct strbuf *sb, const json_t *s)
{
	put_strategy(sb, s, "DeploymentStrategy", "RollingUpdateDeployment");
}

static void
put_daemon_set_strategy(struct strbuf *sb, const json_t *s)
{
	put_strategy(sb, s, "DaemonSetUpdateStrategy", "RollingUpdateDaemonSet");
}

/* --- selectors and templates --------------------------------------------------------------- */

static bool
selector_empty(const json_t *sel)
{
	return jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0;
}

/*
 * The selector rules Deployment, ReplicaSet and StatefulSet share, at the current path (spec):
 * required, valid, not empty. Returns whether it converts to a labels.Selector.
 */
static bool
workload_selector(struct vctx *c, const json_t *spec, const char *kind)
{
	const json_t *sel = jobj(spec, "selector");
	if (!sel) {
		v_required(c, "selector", "");
	} else {
		v_label_selector(c, "selector", sel);
		if (selector_empty(sel)) {
			char msg[64];
			snprintf(msg, sizeof(msg), "empty selector is invalid for %s", kind);
			v_invalid_go(c, "selector", go_put_label_selector, sel, msg);
		}
	}
	bool ok;
	selector_matches(sel, NULL, &ok);
	return ok;
}

/* The template labels check at the current path (spec.template): a selector that selects
 * something must match the template's labels. */
static void
template_matches(struct vctx *c, const json_t *sel, const json_t *tmpl)
{
	if (sel && selector_empty(sel))
		return;
	bool ok;
	const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
	if (!selector_matches(sel, labels, &ok) && ok)
		v_invalid_go(c, "metadata.labels", go_put_str_map, labels, MSG_NOT_MATCH);
}

/* ValidatePodTemplateSpecForReplicaSet at the current path (spec). */
static void
template_for_replica_set(struct vctx *c, const json_t *spec)
{
	const json_t *tmpl = jobj(spec, "template");
	json_t *empty = NULL;
	if (!tmpl)
		tmpl = empty = json_object();
	size_t len = vp_field(c, "template");
	template_matches(c, jobj(spec, "selector"), tmpl);
	validate_pod_template_spec(c, tmpl);
	const json_t *pspec = jobj(tmpl, "spec");
	const char *rp = jstr0(pspec, "restartPolicy");
	if (!streq(rp, "Always"))
		v_not_supported_str(c, "spec.restartPolicy", rp, STRS("Always"));
	if (jhas(pspec, "activeDeadlineSeconds"))
		v_forbidden(c, "spec.activeDeadlineSeconds",
			    "activeDeadlineSeconds in ReplicaSet is not Supported");
	vp_pop(c, len);
	json_decref(empty);
}

/* The selector immutability apps/v1's REST strategies add on update. */
static void
selector_immutable(struct vctx *c, const json_t *obj, const json_t *old)
{
	const json_t *sel = jget(jobj(obj, "spec"), "selector");
	const json_t *osel = jget(jobj(old, "spec"), "selector");
	if (json_is_null(sel))
		sel = NULL;
	if (json_is_null(osel))
		osel = NULL;
	if (sel ? osel && json_equal((json_t *)sel, (json_t *)osel) : !osel)
		return;
	size_t len = vp_field(c, "spec");
	if (sel)
		v_invalid_go(c, "selector", go_put_label_selector, sel, MSG_IMMUTABLE);
	else
		v_invalid_val(c, "selector", "null", MSG_IMMUTABLE);
	vp_pop(c, len);
}

/* --- Deployment ---------------------------------------------------------------------------- */

static void
deployment_spec(struct vctx *c, const json_t *spec)
{
	size_t len = vp_field(c, "spec");
	v_nonneg(c, spec, "replicas");
	if (workload_selector(c, spec, "deployment"))
		template_for_replica_set(c, spec);
	else
		v_invalid_go(c, "selector", go_put_label_selector, jobj(spec, "selector"),
			     "invalid label selector");

	const json_t *strategy = jobj(spec, "strategy");
	size_t l2 = vp_field(c, "strategy");
	const char *type = jstr0(strategy, "type");
	const json_t *ru = jobj(strategy, "rollingUpdate");
	if (streq(type, "Recreate")) {
		if (ru)
			v_forbidden(c, "rollingUpdate",
				    "may not be specified when strategy `type` is 'Recreate'");
	} else if (streq(type, "RollingUpdate")) {
		if (!ru) {
			v_required(c, "rollingUpdate", "this should be defaulted and never be nil");
		} else {
			vp_field(c, "rollingUpdate");
			const json_t *mu = jget(ru, "maxUnavailable"), *ms = jget(ru, "maxSurge");
			positive_int_or_percent(c, "maxUnavailable", mu);
			positive_int_or_percent(c, "maxSurge", ms);
			if (int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0) {
				_cleanup_free_ char *r = render(c, put_int_or_zero, mu);
				v_invalid_val(c, "maxUnavailable", r ? r : "",
					      "may not be 0 when `maxSurge` is 0");
			}
			not_more_than_100_percent(c, "maxUnavailable", mu);
		}
	} else {
		_cleanup_free_ char *r = render(c, put_deployment_strategy, strategy);
		v_not_supported_val(c, NULL, r ? r : "", STRS("Recreate", "RollingUpdate"));
	}
	vp_pop(c, l2);
	v_nonneg(c, spec, "minReadySeconds");
	v_nonneg(c, spec, "revisionHistoryLimit");
	int64_t pds;
	if (jint(spec, "progressDeadlineSeconds", &pds)) {
		v_nonneg(c, spec, "progressDeadlineSeconds");
		if (pds <= jint0(spec, "minReadySeconds"))
			v_invalid_int(c, "progressDeadlineSeconds", pds,
				      "must be greater than minReadySeconds");
	}
	vp_pop(c, len);
}

static void
deployment_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		validate_object_meta_update(c, obj, old);
	else
		validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	deployment_spec(c, jobj(obj, "spec"));
	if (old)
		selector_immutable(c, obj, old);
}

void
validate_deployment(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(deployment_kind, obj, old, err);
}

/* --- ReplicaSet ---------------------------------------------------------------------------- */

static void
replica_set_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	if (old)
		validate_object_meta_update(c, obj, old);
	const json_t *spec = jobj(obj, "spec");
	size_t len = vp_field(c, "spec");
	v_nonneg(c, spec, "replicas");
	v_nonneg(c, spec, "minReadySeconds");
	/* "for deployment": upstream's words for ReplicaSets too */
	if (workload_selector(c, spec, "deployment"))
		template_for_replica_set(c, spec);
	else
		v_invalid_go(c, "selector", go_put_label_selector, jobj(spec, "selector"),
			     "invalid label selector");
	vp_pop(c, len);
	if (old)
		selector_immutable(c, obj, old);
}

void
validate_replica_set(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(replica_set_kind, obj, old, err);
}

/* --- StatefulSet --------------------------------------------------------------------------- */

static void
stateful_set_spec(struct vctx *c, const json_t *spec)
{
	size_t len = vp_field(c, "spec");
	const char *pmp = jstr0(spec, "podManagementPolicy");
	if (!*pmp)
		v_required(c, "podManagementPolicy", "");
	else if (!str_in(pmp, STRS("OrderedReady", "Parallel")))
		v_invalid_str(c, "podManagementPolicy", pmp,
			      "must be 'OrderedReady' or 'Parallel'");

	const json_t *us = jobj(spec, "updateStrategy");
	const char *type = jstr0(us, "type");
	const json_t *ru = jobj(us, "rollingUpdate");
	if (!*type) {
		v_required(c, "updateStrategy", "");
	} else if (streq(type, "OnDelete")) {
		if (ru)
			v_invalid_go(c, "updateStrategy.rollingUpdate", put_sts_rolling_update, ru,
				     "only allowed for updateStrategy 'RollingUpdate'");
	} else if (streq(type, "RollingUpdate")) {
		if (ru) {
			size_t l2 = vp_field(c, "updateStrategy.rollingUpdate");
			v_nonneg(c, ru, "partition");
			const json_t *mu = jget(ru, "maxUnavailable");
			if (mu && !json_is_null(mu)) {
				positive_int_or_percent(c, "maxUnavailable", mu);
				if (int_or_percent_value(mu) == 0)
					v_invalid_go(c, "maxUnavailable", go_put_intstr, mu,
						     "cannot be 0");
				not_more_than_100_percent(c, "maxUnavailable", mu);
			}
			vp_pop(c, l2);
		}
	} else {
		v_invalid_go(c, "updateStrategy", put_sts_strategy, us,
			     "must be 'RollingUpdate' or 'OnDelete'");
	}

	const json_t *pvcrp = jobj(spec, "persistentVolumeClaimRetentionPolicy");
	if (pvcrp) {
		size_t l2 = vp_field(c, "persistentVolumeClaimRetentionPolicy");
		static const char *const when[] = { "whenDeleted", "whenScaled" };
		for (size_t i = 0; i < 2; i++) {
			const char *p = jstr0(pvcrp, when[i]);
			if (!str_in(p, STRS("Retain", "Delete")))
				v_not_supported_str(c, when[i], p, STRS("Retain", "Delete"));
		}
		vp_pop(c, l2);
	}
	v_nonneg(c, spec, "replicas");
	v_nonneg(c, spec, "minReadySeconds");
	int64_t start;
	if (jint(jobj(spec, "ordinals"), "start", &start) && start < 0)
		v_invalid_int(c, "ordinals.start", start, MSG_NEGATIVE);

	const json_t *sel = jobj(spec, "selector");
	if (!sel) {
		v_required(c, "selector", "");
	} else {
		v_label_selector(c, "selector", sel);
		if (selector_empty(sel))
			v_invalid_go(c, "selector", go_put_label_selector, sel,
				     "empty selector is invalid for statefulset");
	}
	bool ok;
	selector_matches(sel, NULL, &ok);
	const json_t *tmpl = jobj(spec, "template");
	const json_t *meta = jobj(tmpl, "metadata"), *pspec = jobj(tmpl, "spec");
	if (!ok) {
		v_invalid_go(c, "selector", go_put_label_selector, sel, "");
	} else {
		/* ValidatePodTemplateSpecForStatefulSet: Kubernetes does not validate the pod spec of
		 * a StatefulSet's template (its pods are validated when created) */
		size_t l2 = vp_field(c, "template");
		template_matches(c, sel, tmpl);
		validate_label_map(c, "labels", jget(meta, "labels"));
		validate_annotation_map(c, "annotations", jget(meta, "annotations"));
		vp_field(c, "annotations");
		validate_pod_annotations(c, jobj(meta, "annotations"), pspec);
		vp_pop(c, l2);
	}
	const char *rp = jstr0(pspec, "restartPolicy");
	if (!streq(rp, "Always"))
		v_not_supported_str(c, "template.spec.restartPolicy", rp, STRS("Always"));
	if (jhas(pspec, "activeDeadlineSeconds"))
		v_forbidden(c, "template.spec.activeDeadlineSeconds",
			    "activeDeadlineSeconds in StatefulSet is not Supported");
	vp_pop(c, len);
}

static void
stateful_set_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	const json_t *spec = jobj(obj, "spec");
	if (!old) {
		validate_object_meta(c, obj, true, NAME_LABEL);
		stateful_set_spec(c, spec);
		return;
	}
	validate_object_meta_update(c, obj, old);
	stateful_set_spec(c, spec);
	json_t *clone = json_deep_copy(spec ? spec : json_object());
	const json_t *ospec = jobj(old, "spec");
	if (!clone) {
		c->oom = true;
		return;
	}
	static const char *const mutable_fields[] = {
		"replicas",        "template", "updateStrategy",
		"minReadySeconds", "ordinals", "persistentVolumeClaimRetentionPolicy",
	};
	for (size_t i = 0; i < ARRAY_SIZE(mutable_fields); i++) {
		json_t *ov = jget(ospec, mutable_fields[i]);
		if (ov)
			json_object_set(clone, mutable_fields[i], ov);
		else
			json_object_del(clone, mutable_fields[i]);
	}
	json_t *empty = json_object();
	if (!json_equal(clone, ospec ? (json_t *)ospec : empty))
		v_forbidden(
			c, "spec",
			"updates to statefulset spec for fields other than 'replicas', 'ordinals', "
			"'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
			"'minReadySeconds' are forbidden");
	json_decref(empty);
	json_decref(clone);
}

void
validate_stateful_set(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(stateful_set_kind, obj, old, err);
}

/* --- DaemonSet ----------------------------------------------------------------------------- */

static void
daemon_set_spec(struct vctx *c, const json_t *spec)
{
	size_t len = vp_field(c, "spec");
	const json_t *sel = jobj(spec, "selector");
	v_label_selector(c, "selector", sel);
	const json_t *tmpl = jobj(spec, "template");
	json_t *empty = NULL;
	if (!tmpl)
		tmpl = empty = json_object();
	bool ok;
	const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
	if (!selector_matches(sel, labels, &ok) && ok)
		v_invalid_go(c, "template.metadata.labels", go_put_str_map, labels, MSG_NOT_MATCH);
	if (sel && selector_empty(sel))
		v_invalid_go(c, "selector", go_put_label_selector, sel,
			     "empty selector is invalid for daemonset");
	size_t l2 = vp_field(c, "template");
	validate_pod_template_spec(c, tmpl);
	vp_pop(c, l2);
	const json_t *pspec = jobj(tmpl, "spec");
	const char *rp = jstr0(pspec, "restartPolicy");
	if (!streq(rp, "Always"))
		v_not_supported_str(c, "template.spec.restartPolicy", rp, STRS("Always"));
	if (jhas(pspec, "activeDeadlineSeconds"))
		v_forbidden(c, "template.spec.activeDeadlineSeconds",
			    "activeDeadlineSeconds in DaemonSet is not Supported");
	v_nonneg(c, spec, "minReadySeconds");

	const json_t *us = jobj(spec, "updateStrategy");
	const char *type = jstr0(us, "type");
	l2 = vp_field(c, "updateStrategy");
	if (streq(type, "RollingUpdate")) {
		const json_t *ru = jobj(us, "rollingUpdate");
		if (!ru) {
			v_required(c, "rollingUpdate", "");
		} else {
			vp_field(c, "rollingUpdate");
			const json_t *mu = jget(ru, "maxUnavailable"), *ms = jget(ru, "maxSurge");
			positive_int_or_percent(c, "maxUnavailable", mu);
			positive_int_or_percent(c, "maxSurge", ms);
			not_more_than_100_percent(c, "maxUnavailable", mu);
			not_more_than_100_percent(c, "maxSurge", ms);
			bool has_unavailable = int_or_percent_value(mu) != 0;
			bool has_surge = int_or_percent_value(ms) != 0;
			if (has_unavailable && has_surge) {
				_cleanup_free_ char *r = render(c, put_int_or_zero, ms);
				v_invalid_val(c, "maxSurge", r ? r : "",
					      "may not be set when maxUnavailable is non-zero");
			} else if (!has_unavailable && !has_surge) {
				v_required(c, "maxUnavailable", "cannot be 0 when maxSurge is 0");
			}
		}
	} else if (!streq(type, "OnDelete")) {
		_cleanup_free_ char *r = render(c, put_daemon_set_strategy, us);
		v_not_supported_val(c, NULL, r ? r : "", STRS("RollingUpdate", "OnDelete"));
	}
	vp_pop(c, l2);
	v_nonneg(c, spec, "revisionHistoryLimit");
	vp_pop(c, len);
	json_decref(empty);
}

static void
daemon_set_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	daemon_set_spec(c, jobj(obj, "spec"));
	if (!old)
		return;
	validate_object_meta_update(c, obj, old);
	selector_immutable(c, obj, old);
}

void
validate_daemon_set(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(daemon_set_kind, obj, old, err);
}

/* --- ControllerRevision -------------------------------------------------------------------- */

static void
controller_revision_kind(struct vctx *c, const json_t *obj, const json_t *old)
{
	if (old)
		validate_object_meta_update(c, obj, old);
	validate_object_meta(c, obj, true, NAME_SUBDOMAIN);
	if (!jhas(obj, "data"))
		v_required(c, "data", "data is mandatory");
	v_nonneg(c, obj, "revision");
	if (old)
		v_immutable(c, "data", jget(obj, "data"), jget(old, "data"), go_put_json);
}

void
validate_controller_revision(const json_t *obj, const json_t *old, korch_error **err)
{
	run_validation(controller_revision_kind, obj, old, err);
}
