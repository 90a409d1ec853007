/*
 * The field schema: lookups, the generated tables' invariants, the strategic-merge and list
 * facts, and schema_check() on real manifests, unknown fields, type mismatches and nulls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/schema.h"
#include "base/util.h"

/* Parses JSON written with single quotes (manifests read better that way in C). */
static json_t *
load(const char *text)
{
	char *s = strdup(text);
	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t jerr;
	json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		fail_msg("bad test JSON at line %d: %s", jerr.line, jerr.text);
	free(s);
	return v;
}

static const struct schema_type *
named(const char *name)
{
	const struct schema_type *t = schema_type_by_name(name);
	if (!t)
		fail_msg("no type %s", name);
	return t;
}

/* The type of a dotted path of fields below t ("spec.template.spec"). */
static const struct schema_type *
at(const struct schema_type *t, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	assert_non_null(copy);
	for (char *name = strtok_r(copy, ".", &save); name; name = strtok_r(NULL, ".", &save)) {
		if (t->kind == SCHEMA_ARRAY || t->kind == SCHEMA_MAP)
			t = t->elem;
		const struct schema_field *f = schema_field(t, name);
		if (!f)
			fail_msg("no field %s in %s", name, path);
		t = f->type;
	}
	free(copy);
	return t;
}

static void
assert_strv_equal(const char *const *got, const char *const *want)
{
	assert_non_null(got);
	size_t i = 0;
	for (; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

#define STRV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
test_field_lookup(void **state)
{
	const struct schema_type *c = named("io.k8s.api.core.v1.Container");
	assert_int_equal(c->kind, SCHEMA_OBJECT);
	assert_string_equal(c->name, "io.k8s.api.core.v1.Container");
	const struct schema_field *f = schema_field(c, "name");
	assert_non_null(f);
	assert_string_equal(f->name, "name");
	assert_true(f->required);
	assert_int_equal(f->type->kind, SCHEMA_STRING);
	f = schema_field(c, "image");
	assert_non_null(f);
	assert_false(f->required);
	assert_null(schema_field(c, "imagePullPolisy"));
	assert_null(schema_field(c, ""));
	assert_null(schema_field(c, NULL));
	assert_null(schema_field(NULL, "name"));
	/* fields of the first and last names, and a non-object type */
	assert_non_null(schema_field(c, "args"));
	assert_non_null(schema_field(c, "workingDir"));
	assert_null(schema_field(f->type, "name"));

	f = schema_field(named("io.k8s.api.core.v1.ContainerPort"), "containerPort");
	assert_true(f->required);
	assert_int_equal(f->type->kind, SCHEMA_INTEGER);
	assert_string_equal(f->type->format, "int32");
	assert_string_equal(
		at(named("io.k8s.api.core.v1.PodSpec"), "activeDeadlineSeconds")->format, "int64");
}

static void
test_type_by_name(void **state)
{
	assert_null(schema_type_by_name("io.k8s.api.core.v1.Nope"));
	assert_null(schema_type_by_name(""));
	assert_null(schema_type_by_name(NULL));
	/* not reachable from the registry's kinds, so not carried */
	assert_null(schema_type_by_name("io.k8s.api.networking.v1.Ingress"));

	const struct schema_type *t = named("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	assert_int_equal(t->kind, SCHEMA_INT_OR_STRING);
	assert_string_equal(t->format, "int-or-string");
	assert_int_equal(named("io.k8s.apimachinery.pkg.api.resource.Quantity")->kind,
			 SCHEMA_QUANTITY);
	t = named("io.k8s.apimachinery.pkg.apis.meta.v1.Time");
	assert_int_equal(t->kind, SCHEMA_TIME);
	assert_string_equal(t->format, "date-time");
	assert_int_equal(named("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")->kind,
			 SCHEMA_TIME);
	assert_int_equal(named("io.k8s.apimachinery.pkg.runtime.RawExtension")->kind, SCHEMA_ANY);
	assert_int_equal(named("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1")->kind, SCHEMA_ANY);

	/* fields point at the named types */
	const struct schema_type *meta = named("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	assert_ptr_equal(at(meta, "creationTimestamp"),
			 named("io.k8s.apimachinery.pkg.apis.meta.v1.Time"));
	assert_ptr_equal(at(named("io.k8s.api.coordination.v1.LeaseSpec"), "renewTime"),
			 named("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"));
	assert_ptr_equal(at(named("io.k8s.api.apps.v1.ControllerRevision"), "data"),
			 named("io.k8s.apimachinery.pkg.runtime.RawExtension"));
	const struct schema_type *limits =
		at(named("io.k8s.api.core.v1.ResourceRequirements"), "limits");
	assert_int_equal(limits->kind, SCHEMA_MAP);
	assert_ptr_equal(limits->elem, named("io.k8s.apimachinery.pkg.api.resource.Quantity"));
	const struct schema_type *data = at(named("io.k8s.api.core.v1.Secret"), "data");
	assert_int_equal(data->kind, SCHEMA_MAP);
	assert_int_equal(data->elem->kind, SCHEMA_BYTES);
	assert_string_equal(data->elem->format, "byte");
	assert_int_equal(at(named("io.k8s.api.core.v1.ConfigMap"), "binaryData")->elem->kind,
			 SCHEMA_BYTES);
	assert_int_equal(at(named("io.k8s.api.core.v1.ServicePort"), "targetPort")->kind,
			 SCHEMA_INT_OR_STRING);
	assert_int_equal(at(named("io.k8s.api.core.v1.Container"), "stdin")->kind, SCHEMA_BOOLEAN);
}

/* Every object type reached from the named ones: fields sorted, unique, well-formed. */
static void
check_type(const struct schema_type *t, size_t *n_objects)
{
	assert_non_null(t);
	switch (t->kind) {
	case SCHEMA_OBJECT:
		assert_non_null(t->name);
		assert_true(t->n_fields > 0);
		(*n_objects)++;
		for (size_t i = 0; i < t->n_fields; i++) {
			const struct schema_field *f = &t->fields[i];
			assert_non_null(f->name);
			assert_non_null(f->type);
			if (i > 0 && strcmp(t->fields[i - 1].name, f->name) >= 0)
				fail_msg("%s: fields %s and %s out of order", t->name,
					 t->fields[i - 1].name, f->name);
			assert_ptr_equal(schema_field(t, f->name), f);
			if (f->type->kind == SCHEMA_ARRAY || f->type->kind == SCHEMA_MAP)
				check_type(f->type, n_objects);
		}
		break;
	case SCHEMA_ARRAY:
		assert_null(t->name);
		assert_non_null(t->elem);
		assert_true(t->list_type <= SCHEMA_LIST_MAP);
		assert_true((t->list_map_keys != NULL) == (t->list_type == SCHEMA_LIST_MAP));
		if (t->merge_key)
			assert_true(t->patch_strategy & SCHEMA_PATCH_MERGE);
		if (t->elem->kind == SCHEMA_ARRAY || t->elem->kind == SCHEMA_MAP)
			check_type(t->elem, n_objects);
		break;
	case SCHEMA_MAP:
		assert_null(t->name);
		assert_non_null(t->elem);
		assert_null(t->merge_key);
		break;
	default: assert_null(t->fields); break;
	}
}

static void
test_tables_sorted_and_unique(void **state)
{
	assert_true(schema_n_named_types > 0);
	size_t n_objects = 0;
	for (size_t i = 0; i < schema_n_named_types; i++) {
		const struct schema_type *t = schema_named_types[i];
		assert_non_null(t->name);
		if (i > 0 && strcmp(schema_named_types[i - 1]->name, t->name) >= 0)
			fail_msg("named types %s and %s out of order",
				 schema_named_types[i - 1]->name, t->name);
		assert_ptr_equal(schema_type_by_name(t->name), t);
		check_type(t, &n_objects);
	}
	assert_true(n_objects > 200);
}

static void
test_every_kind_has_type_meta_and_metadata(void **state)
{
	const struct schema_type *meta = named("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		const struct schema_type *root = k->schema;
		assert_non_null(root);
		assert_int_equal(root->kind, SCHEMA_OBJECT);
		assert_true(endswith(root->name, k->kind));
		assert_ptr_equal(schema_type_by_name(root->name), root);
		assert_int_equal(at(root, "apiVersion")->kind, SCHEMA_STRING);
		assert_int_equal(at(root, "kind")->kind, SCHEMA_STRING);
		assert_ptr_equal(at(root, "metadata"), meta);
	}
}

static void
test_strategic_merge_facts(void **state)
{
	const struct schema_type *pod = named("io.k8s.api.core.v1.Pod");
	const struct schema_type *t = at(pod, "spec.containers");
	assert_int_equal(t->kind, SCHEMA_ARRAY);
	assert_ptr_equal(t->elem, named("io.k8s.api.core.v1.Container"));
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_MERGE);
	assert_string_equal(t->merge_key, "name");
	assert_int_equal(t->list_type, SCHEMA_LIST_MAP);
	assert_strv_equal(t->list_map_keys, STRV("name"));
	assert_ptr_equal(at(pod, "spec.initContainers")->elem, t->elem);

	t = at(pod, "spec.containers.ports");
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_MERGE);
	assert_string_equal(t->merge_key, "containerPort");
	assert_int_equal(t->list_type, SCHEMA_LIST_MAP);
	assert_strv_equal(t->list_map_keys, STRV("containerPort", "protocol"));

	t = at(pod, "spec.containers.volumeMounts");
	assert_string_equal(t->merge_key, "mountPath");
	assert_strv_equal(t->list_map_keys, STRV("mountPath"));
	t = at(pod, "spec.containers.env");
	assert_string_equal(t->merge_key, "name");
	assert_strv_equal(t->list_map_keys, STRV("name"));

	t = at(named("io.k8s.api.core.v1.Service"), "spec.ports");
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_MERGE);
	assert_string_equal(t->merge_key, "port");
	assert_strv_equal(t->list_map_keys, STRV("port", "protocol"));

	t = at(pod, "status.conditions");
	assert_string_equal(t->merge_key, "type");
	assert_int_equal(t->list_type, SCHEMA_LIST_MAP);
	assert_strv_equal(t->list_map_keys, STRV("type"));

	/* volumes: merge by name, $retainKeys allowed */
	t = at(pod, "spec.volumes");
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_MERGE | SCHEMA_PATCH_RETAIN_KEYS);
	assert_string_equal(t->merge_key, "name");

	/* merge key without a list-map type: hostIPs, and Job conditions */
	t = at(pod, "status.hostIPs");
	assert_string_equal(t->merge_key, "ip");
	assert_int_equal(t->list_type, SCHEMA_LIST_ATOMIC);
	assert_null(t->list_map_keys);
	t = at(named("io.k8s.api.batch.v1.Job"), "status.conditions");
	assert_string_equal(t->merge_key, "type");
	assert_int_equal(t->list_type, SCHEMA_LIST_ATOMIC);

	/* atomic lists, replaced whole */
	t = at(pod, "spec.tolerations");
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_REPLACE);
	assert_null(t->merge_key);
	assert_int_equal(t->list_type, SCHEMA_LIST_ATOMIC);
	t = at(pod, "spec.containers.args");
	assert_int_equal(t->list_type, SCHEMA_LIST_ATOMIC);
	assert_int_equal(t->elem->kind, SCHEMA_STRING);

	/* sets of scalars: finalizers merge as a union */
	t = at(pod, "metadata.finalizers");
	assert_int_equal(t->list_type, SCHEMA_LIST_SET);
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_MERGE);
	assert_null(t->merge_key);
	t = at(named("io.k8s.api.core.v1.Node"), "spec.podCIDRs");
	assert_int_equal(t->list_type, SCHEMA_LIST_SET);
	t = at(named("io.k8s.api.discovery.v1.EndpointSlice"), "endpoints.addresses");
	assert_int_equal(t->list_type, SCHEMA_LIST_SET);
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_REPLACE);
	t = at(named("io.k8s.api.batch.v1.Job"), "spec.podFailurePolicy.rules.onExitCodes.values");
	assert_int_equal(t->list_type, SCHEMA_LIST_SET);
	assert_int_equal(t->elem->kind, SCHEMA_INTEGER);

	/* imagePullSecrets: a list-map keyed by name */
	t = at(pod, "spec.imagePullSecrets");
	assert_string_equal(t->merge_key, "name");
	assert_int_equal(t->list_type, SCHEMA_LIST_MAP);
}

static void
test_map_type_and_field_variants(void **state)
{
	const struct schema_type *pod = named("io.k8s.api.core.v1.Pod");
	const struct schema_type *t = at(pod, "spec.nodeSelector");
	assert_int_equal(t->kind, SCHEMA_MAP);
	assert_true(t->map_atomic);
	assert_false(at(pod, "metadata.labels")->map_atomic);
	assert_true(named("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")->map_atomic);
	assert_true(at(named("io.k8s.api.apps.v1.Deployment"), "spec.selector")->map_atomic);

	/* DeploymentSpec.strategy: retainKeys on the field, a copy of DeploymentStrategy */
	const struct schema_type *canon = named("io.k8s.api.apps.v1.DeploymentStrategy");
	assert_int_equal(canon->patch_strategy, 0);
	t = at(named("io.k8s.api.apps.v1.Deployment"), "spec.strategy");
	assert_ptr_not_equal(t, canon);
	assert_string_equal(t->name, canon->name);
	assert_int_equal(t->kind, SCHEMA_OBJECT);
	assert_ptr_equal(t->fields, canon->fields);
	assert_int_equal(t->n_fields, canon->n_fields);
	assert_int_equal(t->patch_strategy, SCHEMA_PATCH_RETAIN_KEYS);

	/* PersistentVolumeSpec.claimRef: granular, where ObjectReference is atomic */
	const struct schema_type *ref = named("io.k8s.api.core.v1.ObjectReference");
	assert_true(ref->map_atomic);
	t = at(named("io.k8s.api.core.v1.PersistentVolume"), "spec.claimRef");
	assert_string_equal(t->name, ref->name);
	assert_ptr_equal(t->fields, ref->fields);
	assert_false(t->map_atomic);
	assert_ptr_equal(at(named("io.k8s.api.core.v1.Event"), "involvedObject"), ref);
}

static void
test_enums(void **state)
{
	const struct schema_type *pod = named("io.k8s.api.core.v1.Pod");
	assert_strv_equal(at(pod, "spec.containers.imagePullPolicy")->enum_values,
			  STRV("Always", "IfNotPresent", "Never"));
	assert_strv_equal(at(pod, "spec.restartPolicy")->enum_values,
			  STRV("Always", "Never", "OnFailure"));
	assert_strv_equal(at(pod, "spec.containers.ports.protocol")->enum_values,
			  STRV("SCTP", "TCP", "UDP"));
	assert_strv_equal(at(named("io.k8s.api.core.v1.Service"), "spec.type")->enum_values,
			  STRV("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"));
	/* an enum on list items, with the empty value among them */
	assert_strv_equal(
		at(named("io.k8s.api.core.v1.Service"), "spec.ipFamilies")->elem->enum_values,
		STRV("", "IPv4", "IPv6"));
	assert_strv_equal(
		at(named("io.k8s.api.apps.v1.Deployment"), "spec.strategy.type")->enum_values,
		STRV("Recreate", "RollingUpdate"));
	assert_strv_equal(
		at(named("io.k8s.api.batch.v1.CronJob"), "spec.concurrencyPolicy")->enum_values,
		STRV("Allow", "Forbid", "Replace"));
	/* plain strings carry none */
	assert_null(at(pod, "spec.containers.image")->enum_values);
	assert_null(at(pod, "status.conditions.type")->enum_values);
}

/* --- schema_check --------------------------------------------------------------------------- */

static const char *deployment_json =
	"{'apiVersion':'apps/v1','kind':'Deployment',"
	" 'metadata':{'name':'web','namespace':'default','labels':{'app':'web'},"
	"   'annotations':{'deployment.kubernetes.io/revision':'1'}},"
	" 'spec':{'replicas':3,'revisionHistoryLimit':10,'progressDeadlineSeconds':600,"
	"   'selector':{'matchLabels':{'app':'web'},"
	"     'matchExpressions':[{'key':'tier','operator':'In','values':['frontend']}]},"
	"   'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'25%','maxUnavailable':0}},"
	"   'template':{'metadata':{'labels':{'app':'web','tier':'frontend'}},"
	"     'spec':{'containers':[{'name':'nginx','image':'nginx:1.27','imagePullPolicy':'IfNotPresent',"
	"         'ports':[{'containerPort':80,'protocol':'TCP','name':'http'}],"
	"         'env':[{'name':'MODE','value':'prod'},"
	"           {'name':'POD_IP','valueFrom':{'fieldRef':{'fieldPath':'status.podIP'}}}],"
	"         'resources':{'requests':{'cpu':'100m','memory':'128Mi'},'limits':{'cpu':1,'memory':'256Mi'}}}],"
	"       'terminationGracePeriodSeconds':30,'restartPolicy':'Always',"
	"       'affinity':{'podAntiAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':"
	"         [{'weight':100,'podAffinityTerm':{'topologyKey':'kubernetes.io/hostname',"
	"           'labelSelector':{'matchLabels':{'app':'web'}}}}]}}}}},"
	" 'status':{'observedGeneration':1,'replicas':3,'readyReplicas':3,"
	"   'conditions':[{'type':'Available','status':'True','lastUpdateTime':'2025-01-02T03:04:05Z',"
	"     'lastTransitionTime':'2025-01-02T03:04:05Z','reason':'MinimumReplicasAvailable','message':'ok'}]}}";

static const char *service_json =
	"{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','labels':{'app':'web'}},"
	" 'spec':{'type':'NodePort','selector':{'app':'web'},'sessionAffinity':'ClientIP',"
	"   'sessionAffinityConfig':{'clientIP':{'timeoutSeconds':10800}},"
	"   'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack','clusterIP':'10.96.0.20',"
	"   'ports':[{'name':'http','port':80,'targetPort':'http','protocol':'TCP','nodePort':30080},"
	"     {'name':'metrics','port':9090,'targetPort':9090}]}}";

static const char *pod_json =
	"{'apiVersion':'v1','kind':'Pod','metadata':{'name':'app','namespace':'default',"
	"   'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'app-5d9',"
	"     'uid':'4c1a3c2e-8a2b-4c35-9a51-2c4f3b1d2e10','controller':true,'blockOwnerDeletion':true}]},"
	" 'spec':{'initContainers':[{'name':'init','image':'busybox','command':['sh','-c','true']}],"
	"   'containers':[{'name':'app','image':'registry.example/app:2','args':['--port=8080'],"
	"     'ports':[{'containerPort':8080}],"
	"     'livenessProbe':{'httpGet':{'path':'/healthz','port':8080,'scheme':'HTTP',"
	"       'httpHeaders':[{'name':'X-Probe','value':'1'}]},'initialDelaySeconds':5,'periodSeconds':10,"
	"       'timeoutSeconds':1,'failureThreshold':3,'successThreshold':1},"
	"     'readinessProbe':{'tcpSocket':{'port':'http'},'periodSeconds':5},"
	"     'startupProbe':{'exec':{'command':['cat','/tmp/ready']},'failureThreshold':30},"
	"     'resources':{'requests':{'cpu':0.5,'memory':'64Mi','ephemeral-storage':'1Gi'},"
	"       'limits':{'cpu':'2','memory':'1G'}},"
	"     'securityContext':{'runAsNonRoot':true,'runAsUser':1000,'readOnlyRootFilesystem':true,"
	"       'allowPrivilegeEscalation':false,'capabilities':{'drop':['ALL']},"
	"       'seccompProfile':{'type':'RuntimeDefault'}},"
	"     'volumeMounts':[{'name':'data','mountPath':'/data'},{'name':'config','mountPath':'/etc/app',"
	"       'readOnly':true},{'name':'secret','mountPath':'/run/secret'},{'name':'tmp','mountPath':'/tmp'}]}],"
	"   'volumes':[{'name':'data','persistentVolumeClaim':{'claimName':'app-data'}},"
	"     {'name':'config','configMap':{'name':'app-config','items':[{'key':'app.yaml','path':'app.yaml'}],"
	"       'defaultMode':420}},"
	"     {'name':'secret','secret':{'secretName':'app-secret','optional':true}},"
	"     {'name':'tmp','emptyDir':{'medium':'Memory','sizeLimit':'64Mi'}}],"
	"   'nodeSelector':{'kubernetes.io/os':'linux'},"
	"   'tolerations':[{'key':'node-role.kubernetes.io/control-plane','operator':'Exists','effect':'NoSchedule'}],"
	"   'dnsPolicy':'ClusterFirst','serviceAccountName':'app','hostname':'app-0'},"
	" 'status':{'phase':'Running','podIP':'10.244.0.5','podIPs':[{'ip':'10.244.0.5'}],"
	"   'startTime':'2025-01-02T03:04:05Z','qosClass':'Burstable',"
	"   'containerStatuses':[{'name':'app','ready':true,'restartCount':0,'image':'registry.example/app:2',"
	"     'imageID':'sha256:abc','started':true,'state':{'running':{'startedAt':'2025-01-02T03:04:06Z'}}}]}}";

static const char *statefulset_json =
	"{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'db'},"
	" 'spec':{'serviceName':'db','replicas':2,'podManagementPolicy':'Parallel',"
	"   'selector':{'matchLabels':{'app':'db'}},"
	"   'updateStrategy':{'type':'RollingUpdate','rollingUpdate':{'partition':0}},"
	"   'persistentVolumeClaimRetentionPolicy':{'whenDeleted':'Retain','whenScaled':'Delete'},"
	"   'template':{'metadata':{'labels':{'app':'db'}},'spec':{'containers':[{'name':'pg',"
	"     'image':'postgres:16','ports':[{'containerPort':5432,'name':'pg'}],"
	"     'volumeMounts':[{'name':'pgdata','mountPath':'/var/lib/postgresql/data'}]}]}},"
	"   'volumeClaimTemplates':[{'metadata':{'name':'pgdata'},'spec':{'accessModes':['ReadWriteOnce'],"
	"     'storageClassName':'local','resources':{'requests':{'storage':'10Gi'}}}}]}}";

static const char *cronjob_json =
	"{'apiVersion':'batch/v1','kind':'CronJob','metadata':{'name':'backup'},"
	" 'spec':{'schedule':'*/5 * * * *','timeZone':'Etc/UTC','concurrencyPolicy':'Forbid',"
	"   'startingDeadlineSeconds':200,'successfulJobsHistoryLimit':3,'failedJobsHistoryLimit':1,"
	"   'suspend':false,"
	"   'jobTemplate':{'spec':{'backoffLimit':2,'activeDeadlineSeconds':600,'ttlSecondsAfterFinished':3600,"
	"     'template':{'spec':{'restartPolicy':'OnFailure','containers':[{'name':'backup',"
	"       'image':'busybox','command':['sh','-c','date; echo backup']}]}}}}},"
	" 'status':{'lastScheduleTime':'2025-01-02T03:05:00Z'}}";

/* Checks text against its kind's schema under mode; returns the object checked. */
static int
check_text(const char *text, enum field_validation mode, json_t *warnings, json_t **ret_obj,
	   korch_error **err)
{
	json_t *obj = load(text);
	const struct kind_info *k = NULL;
	assert_int_equal(kind_resolve_object(obj, &k, NULL), 0);
	int r = schema_check(obj, k->schema, mode, warnings, err);
	*ret_obj = obj;
	return r;
}

static void
test_check_real_manifests_untouched(void **state)
{
	const char *docs[] = { deployment_json, service_json, pod_json, statefulset_json,
			       cronjob_json };
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *orig = load(docs[i]);
		char *orig_text = json_dumps(orig, JSON_COMPACT | JSON_PRESERVE_ORDER);
		for (int mode = FIELD_VALIDATION_STRICT; mode <= FIELD_VALIDATION_IGNORE; mode++) {
			json_t *warnings = json_array();
			json_t *obj = NULL;
			korch_error *err = NULL;
			int r = check_text(docs[i], (enum field_validation)mode, warnings, &obj,
					   &err);
			if (r != 0)
				fail_msg("document %zu, mode %d: %s", i, mode,
					 korch_error_message(err));
			char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
			assert_string_equal(text, orig_text);
			assert_int_equal(json_array_size(warnings), 0);
			free(text);
			json_decref(obj);
			json_decref(warnings);
		}
		free(orig_text);
		json_decref(orig);
	}
}

/* Unknown fields at the root, in spec, in a list item, in a map-typed struct and in a probe. */
static const char *unknown_json =
	"{'apiVersion':'apps/v1','kind':'Deployment','bogus':1,'metadata':{'name':'web','labelz':{}},"
	" 'spec':{'replicas':1,'foo':{'bar':[1]},'selector':{'matchLabels':{'app':'web'}},"
	"   'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'a','image':'x'},"
	"     {'name':'b','image':'y','imagePullPolisy':'Always',"
	"      'livenessProbe':{'httpGet':{'port':80,'pth':'/'}}}]}}}}";

static void
test_check_unknown_strict(void **state)
{
	json_t *obj = NULL;
	korch_error *err = NULL;
	json_t *warnings = json_array();
	assert_int_equal(check_text(unknown_json, FIELD_VALIDATION_STRICT, warnings, &obj, &err),
			 KORCH_EINVALID);
	assert_int_equal(korch_error_code(err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "strict decoding error: unknown field \"bogus\", unknown field "
			    "\"metadata.labelz\", unknown field \"spec.foo\", unknown field "
			    "\"spec.template.spec.containers[1].imagePullPolisy\", unknown field "
			    "\"spec.template.spec.containers[1].livenessProbe.httpGet.pth\"");
	assert_int_equal(korch_error_cause_count(err), 5);
	assert_string_equal(korch_error_cause_reason(err, 0), "UnknownField");
	assert_string_equal(korch_error_cause_field(err, 0), "bogus");
	assert_string_equal(korch_error_cause_message(err, 0), "unknown field");
	assert_string_equal(korch_error_cause_field(err, 3),
			    "spec.template.spec.containers[1].imagePullPolisy");
	/* nothing changed */
	json_t *orig = load(unknown_json);
	assert_true(json_equal(obj, orig));
	assert_int_equal(json_array_size(warnings), 0);
	/* the write path prefixes kube-apiserver's context */
	korch_error_prefix(&err, KORCH_EINVALID,
			   "Deployment in version \"v1\" cannot be handled as a Deployment");
	assert_true(startswith(korch_error_message(err),
			       "Deployment in version \"v1\" cannot be handled as a Deployment: "
			       "strict decoding error: unknown field \"bogus\", "));
	korch_error_free(err);
	json_decref(orig);
	json_decref(obj);
	json_decref(warnings);
}

static void
test_check_unknown_warn_and_ignore(void **state)
{
	const char *expected =
		"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
		" 'spec':{'replicas':1,'selector':{'matchLabels':{'app':'web'}},"
		"   'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'a','image':'x'},"
		"     {'name':'b','image':'y','livenessProbe':{'httpGet':{'port':80}}}]}}}}";
	json_t *want = load(expected);
	char *want_text = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_t *warnings = load("['earlier warning']");
	json_t *obj = NULL;
	korch_error *err = NULL;
	assert_int_equal(check_text(unknown_json, FIELD_VALIDATION_WARN, warnings, &obj, &err), 0);
	assert_null(err);
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, want_text);
	free(text);
	assert_int_equal(json_array_size(warnings), 6);
	const char *want_warnings[] = {
		"earlier warning",
		"unknown field \"bogus\"",
		"unknown field \"metadata.labelz\"",
		"unknown field \"spec.foo\"",
		"unknown field \"spec.template.spec.containers[1].imagePullPolisy\"",
		"unknown field \"spec.template.spec.containers[1].livenessProbe.httpGet.pth\"",
	};
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(json_string_value(json_array_get(warnings, i)),
				    want_warnings[i]);
	json_decref(obj);
	json_decref(warnings);

	/* WARN without a warnings array, and IGNORE: the same object, nothing said */
	assert_int_equal(check_text(unknown_json, FIELD_VALIDATION_WARN, NULL, &obj, &err), 0);
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, want_text);
	free(text);
	json_decref(obj);
	warnings = json_array();
	assert_int_equal(check_text(unknown_json, FIELD_VALIDATION_IGNORE, warnings, &obj, &err),
			 0);
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, want_text);
	free(text);
	assert_int_equal(json_array_size(warnings), 0);
	json_decref(obj);
	json_decref(warnings);
	free(want_text);
	json_decref(want);
}

/* One type mismatch: the cause and the message. */
static void
assert_one_invalid(const char *text, const char *reason, const char *field, const char *message)
{
	json_t *obj = NULL;
	korch_error *err = NULL;
	json_t *orig = load(text);
	assert_int_equal(check_text(text, FIELD_VALIDATION_STRICT, NULL, &obj, &err),
			 KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 1);
	assert_string_equal(korch_error_cause_reason(err, 0), reason);
	assert_string_equal(korch_error_cause_field(err, 0), field);
	assert_string_equal(korch_error_cause_message(err, 0), message);
	char full[512];
	snprintf(full, sizeof(full), "%s: %s", field, message);
	assert_string_equal(korch_error_message(err), full);
	assert_true(json_equal(obj, orig));
	korch_error_free(err);
	json_decref(obj);
	json_decref(orig);
}

static void
test_check_type_mismatches(void **state)
{
	assert_one_invalid(
		"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':'three'}}",
		"FieldValueTypeInvalid", "spec.replicas",
		"Invalid value: \"three\": expected integer, got string");
	assert_one_invalid("{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':3.5}}",
			   "FieldValueTypeInvalid", "spec.replicas",
			   "Invalid value: 3.5: expected integer, got number");
	assert_one_invalid("{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':true}}",
			   "FieldValueTypeInvalid", "spec.replicas",
			   "Invalid value: true: expected integer, got boolean");
	assert_one_invalid(
		"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':3000000000}}",
		"FieldValueInvalid", "spec.replicas",
		"Invalid value: 3000000000: must be between -2147483648 and 2147483647, "
		"inclusive");
	assert_one_invalid(
		"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':-2147483649}}",
		"FieldValueInvalid", "spec.replicas",
		"Invalid value: -2147483649: must be between -2147483648 and 2147483647, "
		"inclusive");
	assert_one_invalid("{'apiVersion':'v1','kind':'Pod','spec':{'containers':{'name':'a'}}}",
			   "FieldValueTypeInvalid", "spec.containers",
			   "Invalid value: expected array, got object");
	assert_one_invalid("{'apiVersion':'v1','kind':'Pod','spec':[]}", "FieldValueTypeInvalid",
			   "spec", "Invalid value: expected object, got array");
	assert_one_invalid("{'apiVersion':'v1','kind':'Pod','spec':{'containers':[{'name':7}]}}",
			   "FieldValueTypeInvalid", "spec.containers[0].name",
			   "Invalid value: 7: expected string, got integer");
	assert_one_invalid(
		"{'apiVersion':'v1','kind':'Pod','spec':{'containers':[{'name':'a','tty':'yes'}]}}",
		"FieldValueTypeInvalid", "spec.containers[0].tty",
		"Invalid value: \"yes\": expected boolean, got string");
	assert_one_invalid("{'apiVersion':'v1','kind':'Pod','metadata':{'labels':{'app':5}}}",
			   "FieldValueTypeInvalid", "metadata.labels[app]",
			   "Invalid value: 5: expected string, got integer");
	assert_one_invalid("{'apiVersion':'v1','kind':'Service','spec':{'ports':[{'port':80},"
			   "{'port':81,'targetPort':true}]}}",
			   "FieldValueTypeInvalid", "spec.ports[1].targetPort",
			   "Invalid value: true: expected integer or string, got boolean");
	assert_one_invalid("{'apiVersion':'v1','kind':'Service','spec':{'ports':[{'port':80,"
			   "'targetPort':2147483648}]}}",
			   "FieldValueInvalid", "spec.ports[0].targetPort",
			   "Invalid value: 2147483648: must be between -2147483648 and 2147483647, "
			   "inclusive");
	assert_one_invalid("{'apiVersion':'v1','kind':'Pod','spec':{'containers':[{'name':'a',"
			   "'resources':{'limits':{'cpu':['1']}}}]}}",
			   "FieldValueTypeInvalid", "spec.containers[0].resources.limits[cpu]",
			   "Invalid value: expected string or number, got array");
	assert_one_invalid(
		"{'apiVersion':'v1','kind':'Pod','metadata':{'creationTimestamp':'yesterday'}}",
		"FieldValueInvalid", "metadata.creationTimestamp",
		"Invalid value: \"yesterday\": expected an RFC 3339 date-time such as "
		"\"2006-01-02T15:04:05Z\"");
	assert_one_invalid(
		"{'apiVersion':'v1','kind':'Pod','metadata':{'creationTimestamp':1700000000}}",
		"FieldValueTypeInvalid", "metadata.creationTimestamp",
		"Invalid value: 1700000000: expected string, got integer");
	assert_one_invalid("{'apiVersion':'v1','kind':'Secret','data':{'password':'hunter2!'}}",
			   "FieldValueInvalid", "data[password]",
			   "Invalid value: illegal base64 data at input byte 7");
	assert_one_invalid("{'apiVersion':'v1','kind':'Secret','data':{'a':'YWJj','b':'YWJ'}}",
			   "FieldValueInvalid", "data[b]",
			   "Invalid value: illegal base64 data at input byte 0");
	/* string values are quoted as Go's %q quotes them */
	assert_one_invalid(
		"{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':'a\\\"b\\n\\u0001'}}",
		"FieldValueTypeInvalid", "spec.replicas",
		"Invalid value: \"a\\\"b\\n\\x01\": expected integer, got string");
}

static void
test_check_several_causes(void **state)
{
	const char *text = "{'apiVersion':'apps/v1','kind':'Deployment','spec':{'replicas':'3',"
			   "'paused':'no','template':{'spec':{'containers':[{'name':'a','image':1,"
			   "'imagePullPolisy':'Always'}]}}},'extra':true}";
	json_t *obj = NULL;
	korch_error *err = NULL;
	json_t *warnings = json_array();
	assert_int_equal(check_text(text, FIELD_VALIDATION_STRICT, warnings, &obj, &err),
			 KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 5);
	assert_string_equal(
		korch_error_message(err),
		"[spec.replicas: Invalid value: \"3\": expected integer, got string, "
		"spec.paused: Invalid value: \"no\": expected boolean, got string, "
		"spec.template.spec.containers[0].image: Invalid value: 1: expected string, "
		"got integer]; strict decoding error: unknown field "
		"\"spec.template.spec.containers[0].imagePullPolisy\", unknown field \"extra\"");
	korch_error_free(err);
	err = NULL;
	json_decref(obj);

	/* WARN: the type errors still fail the object, which stays as it was, with no warnings */
	json_t *orig = load(text);
	assert_int_equal(check_text(text, FIELD_VALIDATION_WARN, warnings, &obj, &err),
			 KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), 3);
	assert_string_equal(
		korch_error_message(err),
		"[spec.replicas: Invalid value: \"3\": expected integer, got string, "
		"spec.paused: Invalid value: \"no\": expected boolean, got string, "
		"spec.template.spec.containers[0].image: Invalid value: 1: expected string, "
		"got integer]");
	assert_true(json_equal(obj, orig));
	assert_int_equal(json_array_size(warnings), 0);
	korch_error_free(err);
	json_decref(obj);
	json_decref(orig);
	json_decref(warnings);
}

static void
test_check_nulls(void **state)
{
	const char *text =
		"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','labels':{'a':null},"
		" 'creationTimestamp':null},'spec':{'replicas':null,'template':{'spec':{'containers':"
		" [{'name':'a','args':[null,'x'],'resources':{'limits':{'cpu':null}}},null]}}},"
		" 'status':null}";
	json_t *obj = NULL;
	korch_error *err = NULL;
	assert_int_equal(check_text(text, FIELD_VALIDATION_STRICT, NULL, &obj, &err), 0);
	char *got = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(got,
			    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			    "\"metadata\":{\"name\":\"w\",\"labels\":{\"a\":\"\"}},"
			    "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
			    "\"args\":[\"\",\"x\"],\"resources\":{\"limits\":{\"cpu\":\"0\"}}},"
			    "{}]}}}}");
	free(got);
	json_decref(obj);
}

static void
test_check_any_not_descended(void **state)
{
	const char *text =
		"{'apiVersion':'apps/v1','kind':'ControllerRevision','metadata':{'name':'r',"
		" 'managedFields':[{'manager':'kubectl','operation':'Apply','apiVersion':'apps/v1',"
		"  'fieldsType':'FieldsV1','fieldsV1':{'f:spec':{'f:replicas':{}, '.':null}}}]},"
		" 'revision':2,'data':{'spec':{'template':{'anything':[1,'two',null,{'x':true}]}}}}";
	json_t *obj = NULL;
	korch_error *err = NULL;
	json_t *orig = load(text);
	assert_int_equal(check_text(text, FIELD_VALIDATION_STRICT, NULL, &obj, &err), 0);
	assert_true(json_equal(obj, orig));
	json_decref(obj);
	json_decref(orig);
}

static void
test_check_quoting_and_cap(void **state)
{
	/* a path with quotes and control characters is quoted as Go's %q would */
	json_t *obj = load("{'apiVersion':'v1','kind':'ConfigMap','metadata':{}}");
	json_object_set_new(json_object_get(obj, "metadata"), "we\"ird\n\x01", json_true());
	json_t *warnings = json_array();
	korch_error *err = NULL;
	assert_int_equal(
		schema_check(obj, &schema_core_v1_ConfigMap, FIELD_VALIDATION_WARN, warnings, &err),
		0);
	assert_string_equal(json_string_value(json_array_get(warnings, 0)),
			    "unknown field \"metadata.we\\\"ird\\n\\x01\"");
	assert_int_equal(json_object_size(json_object_get(obj, "metadata")), 0);
	json_decref(obj);
	json_decref(warnings);

	/* 150 unknown fields: 100 causes (Kubernetes' strict decoder keeps as many), all dropped */
	obj = load("{'apiVersion':'v1','kind':'ConfigMap'}");
	for (int i = 0; i < 150; i++) {
		char key[16];
		snprintf(key, sizeof(key), "f%03d", i);
		json_object_set_new(obj, key, json_integer(i));
	}
	assert_int_equal(
		schema_check(obj, &schema_core_v1_ConfigMap, FIELD_VALIDATION_STRICT, NULL, &err),
		KORCH_EINVALID);
	assert_int_equal(korch_error_cause_count(err), SCHEMA_CHECK_MAX_CAUSES);
	assert_string_equal(korch_error_cause_field(err, 99), "f099");
	assert_true(endswith(korch_error_message(err), "unknown field \"f099\""));
	korch_error_free(err);
	err = NULL;
	warnings = json_array();
	assert_int_equal(
		schema_check(obj, &schema_core_v1_ConfigMap, FIELD_VALIDATION_WARN, warnings, &err),
		0);
	assert_int_equal(json_array_size(warnings), SCHEMA_CHECK_MAX_CAUSES);
	assert_int_equal(json_object_size(obj), 2);
	json_decref(obj);
	json_decref(warnings);
}

static void
test_check_bad_arguments(void **state)
{
	korch_error *err = NULL;
	json_t *arr = json_array();
	assert_int_equal(
		schema_check(arr, &schema_core_v1_Pod, FIELD_VALIDATION_STRICT, NULL, &err),
		KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "expected a JSON object, got array");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(
		schema_check(NULL, &schema_core_v1_Pod, FIELD_VALIDATION_STRICT, NULL, &err),
		KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "expected a JSON object, got nothing");
	korch_error_free(err);
	err = NULL;

	json_t *obj = json_object();
	assert_int_equal(schema_check(obj, &schema_core_v1_Pod, FIELD_VALIDATION_WARN, arr, NULL),
			 0);
	assert_int_equal(schema_check(obj, &schema_core_v1_Pod, FIELD_VALIDATION_WARN, obj, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "schema check: warnings is not a JSON array");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(
		schema_check(obj, &schema_core_v1_Pod, (enum field_validation)7, NULL, &err),
		KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "schema check: unknown field validation mode 7");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(
		schema_check(obj,
			     schema_type_by_name("io.k8s.apimachinery.pkg.util.intstr.IntOrString"),
			     FIELD_VALIDATION_STRICT, NULL, &err),
		KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "schema check: no object schema to check against");
	korch_error_free(err);
	json_decref(obj);
	json_decref(arr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_lookup),
		cmocka_unit_test(test_type_by_name),
		cmocka_unit_test(test_tables_sorted_and_unique),
		cmocka_unit_test(test_every_kind_has_type_meta_and_metadata),
		cmocka_unit_test(test_strategic_merge_facts),
		cmocka_unit_test(test_map_type_and_field_variants),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_check_real_manifests_untouched),
		cmocka_unit_test(test_check_unknown_strict),
		cmocka_unit_test(test_check_unknown_warn_and_ignore),
		cmocka_unit_test(test_check_type_mismatches),
		cmocka_unit_test(test_check_several_causes),
		cmocka_unit_test(test_check_nulls),
		cmocka_unit_test(test_check_any_not_descended),
		cmocka_unit_test(test_check_quoting_and_cap),
		cmocka_unit_test(test_check_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
