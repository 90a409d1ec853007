/*
 * validate-internal.h - what the validate-*.c and defaults-*.c files share: the collector of
 * field errors (struct vctx) with Kubernetes' error texts, JSON accessors, Go-style value
 * rendering, and every kind's default and validate function (kinds.c points at them).
 */
#ifndef KORCH_API_VALIDATE_INTERNAL_H
#define KORCH_API_VALIDATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/names.h"
#include "base/macro.h"
#include "base/quote.h"
#include "base/strbuf.h"

/* Kubernetes' cause types (field.ErrorType). */
#define R_REQUIRED "FieldValueRequired"
#define R_INVALID "FieldValueInvalid"
#define R_FORBIDDEN "FieldValueForbidden"
#define R_DUPLICATE "FieldValueDuplicate"
#define R_NOT_SUPPORTED "FieldValueNotSupported"
#define R_NOT_FOUND "FieldValueNotFound"
#define R_TOO_LONG "FieldValueTooLong"
#define R_TOO_MANY "FieldValueTooMany"

#define MSG_NEGATIVE "must be greater than or equal to 0"
#define MSG_IMMUTABLE "field is immutable"

/*
 * The field errors of one validation and the path being looked at. Paths are built the way
 * field.Path prints them: "spec.containers[0].ports[1].name", "metadata.labels[app]".
 */
struct vctx {
	korch_error *err;   /* the causes found so far (NULL: none) */
	struct strbuf path; /* the current path */
	size_t n_causes;    /* causes added */
	bool oom;           /* an allocation failed: the result is KORCH_ENOMEM */
	bool is_pod;        /* the pod spec being checked is a Pod's (not a template's) */
	bool update;        /* validating an update (an old object exists) */
};

void vctx_init(struct vctx *c);
void vctx_free(struct vctx *c);

/* Path steps; each returns the length to restore with vp_pop(). */
size_t vp_field(struct vctx *c, const char *name);
size_t vp_index(struct vctx *c, size_t i);
/* Appends "[i]" (without printf: paths are built for every list item). */
void put_index(struct strbuf *sb, size_t i);
size_t vp_key(struct vctx *c, const char *key);
void vp_pop(struct vctx *c, size_t len);
/* Cuts the path back to len and returns what was cut (for vp_attach to put back). */
char *vp_detach(struct vctx *c, size_t len);
void vp_attach(struct vctx *c, char *rest);

/*
 * Field errors at the current path, or at current + "." + child when child is not NULL (child
 * may hold several steps: "metadata.labels"). Bodies as field.Error.ErrorBody() writes them.
 */
void v_required(struct vctx *c, const char *child, const char *detail);
void v_forbidden(struct vctx *c, const char *child, const char *detail);
/* "Invalid value: \"VALUE\": DETAIL" */
void v_invalid_str(struct vctx *c, const char *child, const char *value, const char *fmt, ...)
	_printf_(4, 5);
/* "Invalid value: 42: DETAIL" */
void v_invalid_int(struct vctx *c, const char *child, int64_t value, const char *fmt, ...)
	_printf_(4, 5);
/* "Invalid value: RENDERED: DETAIL" for a value already rendered (Go %#v, "null", true) */
void v_invalid_val(struct vctx *c, const char *child, const char *rendered, const char *fmt, ...)
	_printf_(4, 5);
/* "Invalid value: DETAIL" (field.OmitValueType) */
void v_invalid_omit(struct vctx *c, const char *child, const char *detail);
void v_duplicate_str(struct vctx *c, const char *child, const char *value);
void v_duplicate_val(struct vctx *c, const char *child, const char *rendered, const char *detail);
/* "Not found: \"VALUE\"[: DETAIL]" */
void v_not_found_str(struct vctx *c, const char *child, const char *value, const char *detail);
/* "Unsupported value: RENDERED: supported values: \"a\", \"b\"" (valid: NULL-terminated) */
void v_not_supported_val(struct vctx *c, const char *child, const char *rendered,
			 const char *const *valid);
void v_not_supported_str(struct vctx *c, const char *child, const char *value,
			 const char *const *valid);
/* "Too long: may not be more than N bytes" */
void v_too_long(struct vctx *c, const char *child, long max);
/* "Too many: N: must have at most M items" */
void v_too_many(struct vctx *c, const char *child, long actual, long max);
/* One "Invalid value: \"VALUE\": RULE" per problem. */
void v_problems(struct vctx *c, const char *child, const char *value,
		const struct name_problems *p);

#define STRS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Whether value is one of the NULL-terminated list. */
bool str_in(const char *value, const char *const *list);

/* Name rules (ValidateNameFunc); a prefix (generateName) gets maskTrailingDash first. */
enum name_rule {
	NAME_SUBDOMAIN,    /* NameIsDNSSubdomain, most kinds */
	NAME_LABEL,        /* NameIsDNSLabel: Namespace, StatefulSet */
	NAME_DNS1035,      /* NameIsDNS1035Label: Service */
	NAME_PATH_SEGMENT, /* ValidatePathSegmentName: RBAC kinds and the generic pass */
};
void name_rule_check(enum name_rule r, const char *name, bool prefix, struct name_problems *p);

/* JSON accessors that tolerate absent members and wrong types (they read as absent). */
json_t *jget(const json_t *o, const char *key);
json_t *jobj(const json_t *o, const char *key);
json_t *jarr(const json_t *o, const char *key);
const char *jstr(const json_t *o, const char *key);  /* NULL when absent or not a string */
const char *jstr0(const json_t *o, const char *key); /* "" when absent or not a string */
bool jint(const json_t *o, const char *key, int64_t *ret);
int64_t jint0(const json_t *o, const char *key); /* 0 when absent */
bool jbool(const json_t *o, const char *key);    /* true only for JSON true */
size_t jlen(const json_t *v);                /* items of an array or members of an object, else 0 */
bool jhas(const json_t *o, const char *key); /* present and not null */

/* Go fmt renderings of values as Kubernetes' error messages print them. */
void go_put_str_map(struct strbuf *sb, const json_t *m);   /* map[string]string{"a":"b"} */
void go_put_str_slice(struct strbuf *sb, const json_t *a); /* []string{"a", "b"} */
void go_put_int_slice(struct strbuf *sb, const json_t *a, const char *type); /* []int32{1} */
void go_put_intstr(struct strbuf *sb, const json_t *v);           /* intstr.IntOrString{...} */
void go_put_label_selector(struct strbuf *sb, const json_t *sel); /* v1.LabelSelector{...} */
void go_put_quantity(struct strbuf *sb, const json_t *v);         /* resource.Quantity{...} */
/* A value Kubernetes prints as a large Go struct: korch prints its compact JSON instead. */
void go_put_json(struct strbuf *sb, const json_t *v);
/* Scalars as the simple printer shows them: "quoted", 42, true, null. */
void go_put_scalar(struct strbuf *sb, const json_t *v);

/*
 * Where Kubernetes prints a cmp.Diff of two values: one "\n- PATH: OLD\n+ PATH: NEW" pair per
 * differing leaf (paths from root, values as JSON; at most 20 pairs).
 */
void put_json_diff(struct strbuf *sb, const char *root, const json_t *old, const json_t *new_value);

/* Renders into a new string (caller frees); "" on allocation failure with c->oom set. */
char *render(struct vctx *c, void (*fn)(struct strbuf *, const json_t *), const json_t *v);

/* Invalid with a value rendered by fn. */
void v_invalid_go(struct vctx *c, const char *child, void (*fn)(struct strbuf *, const json_t *),
		  const json_t *v, const char *detail);

/* IP addresses as Go's (sloppy) net.ParseIP reads them; ret[16], v4 in ::ffff:a.b.c.d form. */
bool ip_parse(const char *s, unsigned char ret[16], bool *is_v4);
bool is_cidr(const char *s);
/* ValidateNonSpecialIP / ValidateEndpointIP at the current path + child. */
void v_non_special_ip(struct vctx *c, const char *child, const char *ip);
/* validation.IsValidIP. */
void v_valid_ip(struct vctx *c, const char *child, const char *ip);

/* ValidateNonnegativeField for an integer member (absent: not checked). */
void v_nonneg(struct vctx *c, const json_t *o, const char *key);

/* Immutability: Invalid(path, new, "field is immutable") when new and old differ. */
void v_immutable(struct vctx *c, const char *child, const json_t *new_value,
		 const json_t *old_value, void (*fn)(struct strbuf *, const json_t *));

/* Label selectors (metav1) as ValidateLabelSelector checks them, at current path + child. */
void v_label_selector(struct vctx *c, const char *child, const json_t *sel);
/* Whether the metav1.LabelSelector (NULL: matches nothing) matches labels. */
bool selector_matches(const json_t *sel, const json_t *labels, bool *ret_ok);

/* Shared pieces of metadata validation (validate-meta.c). */
void validate_object_meta(struct vctx *c, const json_t *obj, bool namespaced, enum name_rule rule);
void validate_object_meta_update(struct vctx *c, const json_t *obj, const json_t *old);
void validate_generic_meta(struct vctx *c, const json_t *obj, const json_t *old, bool namespaced);
void validate_finalizer_name(struct vctx *c, const char *child, const char *name);

/* Pod specs and templates (validate-pod.c, validate-container.c). */
struct pod_opts {
	bool is_pod;            /* ResourceIsPod */
	const json_t *pod_meta; /* the Pod's metadata (ephemeral volume names), or NULL */
};
void validate_pod_spec(struct vctx *c, const json_t *spec, const struct pod_opts *o);
void validate_pod_template_spec(struct vctx *c, const json_t *tmpl);
void validate_pod_annotations(struct vctx *c, const json_t *annotations, const json_t *spec);
void validate_seccomp_annotations_match(struct vctx *c, const json_t *meta, const json_t *spec);
void validate_tolerations(struct vctx *c, const json_t *tolerations);
void validate_node_selector(struct vctx *c, const json_t *ns);
void validate_pvc_spec(struct vctx *c, const json_t *spec);
void validate_resource_quantity_value(struct vctx *c, const char *name, const json_t *q);
void validate_label_map(struct vctx *c, const char *child, const json_t *labels);
void validate_annotation_map(struct vctx *c, const char *child, const json_t *annotations);
void validate_local_descending_path(struct vctx *c, const char *child, const char *p);
void validate_path_no_backsteps(struct vctx *c, const char *child, const char *p);
void validate_port_num_or_name(struct vctx *c, const char *child, const json_t *port);
void validate_container_resource_name(struct vctx *c, const char *name);
/* ValidateLabelName (a qualified name) at the current path + child. */
void validate_label_name(struct vctx *c, const char *child, const char *key);
void validate_host_path_source(struct vctx *c, const json_t *src);
/*
 * Parses a quantity; on failure adds an Invalid cause at the current path with the parse error
 * and returns false.
 */
struct quantity;
bool v_parse_quantity(struct vctx *c, const json_t *v, struct quantity *q);
void validate_topology_selector_term(struct vctx *c, const json_t *term, json_t *ret_map);

/* Containers (validate-container.c); volumes maps volume names to their source objects. */
void validate_containers(struct vctx *c, const json_t *spec, const json_t *volumes);
void validate_resource_requirements(struct vctx *c, const json_t *res, const json_t *pod_claims);
void validate_resource_field_selector(struct vctx *c, const json_t *fs, bool volume);
void validate_object_field_ref(struct vctx *c, const json_t *fs, bool volume);
void validate_seccomp_profile(struct vctx *c, const json_t *sp);
void validate_apparmor_profile(struct vctx *c, const json_t *ap);

/* IsConfigMapKey: the problems of a ConfigMap or Secret key (or a key selector's key). */
void check_config_map_key(const char *key, struct name_problems *p);

/* Every kind's functions, in kinds.c's order. */
void defaults_namespace(json_t *obj);
void defaults_pod(json_t *obj);
void defaults_replication_controller(json_t *obj);
void defaults_replica_set(json_t *obj);
void defaults_deployment(json_t *obj);
void defaults_stateful_set(json_t *obj);
void defaults_daemon_set(json_t *obj);
void defaults_service(json_t *obj);
void defaults_endpoints(json_t *obj);
void defaults_endpoint_slice(json_t *obj);
void defaults_job(json_t *obj);
void defaults_cron_job(json_t *obj);
void defaults_hpa(json_t *obj);
void defaults_persistent_volume(json_t *obj);
void defaults_persistent_volume_claim(json_t *obj);
void defaults_storage_class(json_t *obj);
void defaults_secret(json_t *obj);
void defaults_role_binding(json_t *obj);
void defaults_priority_class(json_t *obj);
void defaults_node(json_t *obj);
void defaults_git_repository(json_t *obj);

/* Pod template defaults (SetDefaults_PodSpec and the nested defaulters), for workloads. */
void defaults_pod_spec(json_t *spec, bool is_pod);
void defaults_pod_template(json_t *tmpl);
void defaults_pvc_spec(json_t *spec);
void defaults_pvc_object(json_t *pvc);
void defaults_resource_list(json_t *list);

/*
 * Setters of defaults (defaults-core.c): each sets key only when it is unset (absent or null;
 * for dstr also "", for dint_nonzero also 0, as Go's zero-value checks read) and leaves a
 * member of the wrong type alone. dobj returns the object member, adding {} when unset (NULL
 * for a wrong type). dset takes the reference to value.
 */
json_t *dobj(json_t *o, const char *key);
void dset(json_t *o, const char *key, json_t *value);
void dstr(json_t *o, const char *key, const char *value);
void dint(json_t *o, const char *key, json_int_t value);
void dint_nonzero(json_t *o, const char *key, json_int_t value);

/* The tag parsers.ParseImageName sees in an image reference: "latest" for none. */
const char *image_tag(const char *image, char buf[static 130]);

void validate_namespace(const json_t *obj, const json_t *old, korch_error **err);
void validate_pod(const json_t *obj, const json_t *old, korch_error **err);
void validate_replication_controller(const json_t *obj, const json_t *old, korch_error **err);
void validate_replica_set(const json_t *obj, const json_t *old, korch_error **err);
void validate_deployment(const json_t *obj, const json_t *old, korch_error **err);
void validate_stateful_set(const json_t *obj, const json_t *old, korch_error **err);
void validate_controller_revision(const json_t *obj, const json_t *old, korch_error **err);
void validate_daemon_set(const json_t *obj, const json_t *old, korch_error **err);
void validate_service(const json_t *obj, const json_t *old, korch_error **err);
void validate_endpoints(const json_t *obj, const json_t *old, korch_error **err);
void validate_endpoint_slice(const json_t *obj, const json_t *old, korch_error **err);
void validate_job(const json_t *obj, const json_t *old, korch_error **err);
void validate_cron_job(const json_t *obj, const json_t *old, korch_error **err);
void validate_hpa(const json_t *obj, const json_t *old, korch_error **err);
void validate_persistent_volume(const json_t *obj, const json_t *old, korch_error **err);
void validate_persistent_volume_claim(const json_t *obj, const json_t *old, korch_error **err);
void validate_storage_class(const json_t *obj, const json_t *old, korch_error **err);
void validate_config_map(const json_t *obj, const json_t *old, korch_error **err);
void validate_secret(const json_t *obj, const json_t *old, korch_error **err);
void validate_service_account(const json_t *obj, const json_t *old, korch_error **err);
void validate_role(const json_t *obj, const json_t *old, korch_error **err);
void validate_cluster_role(const json_t *obj, const json_t *old, korch_error **err);
void validate_role_binding(const json_t *obj, const json_t *old, korch_error **err);
void validate_cluster_role_binding(const json_t *obj, const json_t *old, korch_error **err);
void validate_priority_class(const json_t *obj, const json_t *old, korch_error **err);
void validate_node(const json_t *obj, const json_t *old, korch_error **err);
void validate_lease(const json_t *obj, const json_t *old, korch_error **err);
void validate_event(const json_t *obj, const json_t *old, korch_error **err);
void validate_git_repository(const json_t *obj, const json_t *old, korch_error **err);

/*
 * Runs fn on a fresh vctx and hands its causes to *err (what every validate_KIND wrapper
 * does); on allocation failure *err becomes the out-of-memory error.
 */
void run_validation(void (*fn)(struct vctx *, const json_t *, const json_t *), const json_t *obj,
		    const json_t *old, korch_error **err);

#endif
