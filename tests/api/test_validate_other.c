/*
 * Validation of the storage, RBAC, scheduling, coordination, discovery and autoscaling kinds
 * as Kubernetes 1.32 does it: PersistentVolume, PersistentVolumeClaim, StorageClass, Role,
 * ClusterRole, RoleBinding, ClusterRoleBinding, PriorityClass, Lease, EndpointSlice and
 * HorizontalPodAutoscaler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "base/util.h"
#include "test_validate.h"

#define RFC1123_SUBDOMAIN                                                                         \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "     \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define ACCESS_MODES "\"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\""

/* --- PersistentVolume ---------------------------------------------------------------------- */

static const char pv[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\","
	"\"metadata\":{\"name\":\"pv-1\"},"
	"\"spec\":{\"capacity\":{\"storage\":\"10Gi\"},"
	"\"accessModes\":[\"ReadWriteOnce\"],\"hostPath\":{\"path\":\"/srv/pv-1\"}}}";

#define NODE_AFFINITY                                                            \
	"{\"required\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":" \
	"\"kubernetes.io/hostname\",\"operator\":\"In\",\"values\":[\"node-1\"]}]}]}}"

static const struct vcase pv_cases[] = {
	{ "the base volume", { NULL }, NULL },
	{ "access modes missing",
	  { "spec.accessModes", DEL },
	  "[Required] spec.accessModes: Required value" },
	{ "access mode unknown",
	  { "spec.accessModes", "[\"ReadWriteSometimes\"]" },
	  "[NotSupported] spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported "
	  "values: " ACCESS_MODES },
	{ "ReadWriteOncePod with another mode",
	  { "spec.accessModes", "[\"ReadWriteOncePod\",\"ReadWriteOnce\"]" },
	  "[Forbidden] spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access "
	  "modes" },
	{ "capacity missing",
	  { "spec.capacity", DEL },
	  "[Required] spec.capacity: Required value\n"
	  "[NotSupported] spec.capacity: Unsupported value: core.ResourceList(nil): supported "
	  "values: \"storage\"" },
	{ "capacity 0",
	  { "spec.capacity.storage", "\"0\"" },
	  "[Invalid] spec.capacity[storage]: Invalid value: \"0\": must be greater than zero" },
	{ "no source",
	  { "spec.hostPath", DEL },
	  "[Required] spec: Required value: must specify a volume type" },
	{ "two sources",
	  { "spec.local", "{\"path\":\"/mnt/disk\"}", "spec.nodeAffinity", NODE_AFFINITY },
	  "[Forbidden] spec.local: Forbidden: may not specify more than 1 volume type" },
	{ "local",
	  { "spec.hostPath", DEL, "spec.local", "{\"path\":\"/mnt/disk\"}", "spec.nodeAffinity",
	    NODE_AFFINITY },
	  NULL },
	{ "local without node affinity",
	  { "spec.hostPath", DEL, "spec.local", "{\"path\":\"/mnt/disk\"}" },
	  "[Required] spec.nodeAffinity: Required value: Local volume requires node affinity" },
	{ "local path with ..",
	  { "spec.hostPath", DEL, "spec.local", "{\"path\":\"/mnt/../etc\"}", "spec.nodeAffinity",
	    NODE_AFFINITY },
	  "[Invalid] spec.local.path: Invalid value: \"/mnt/../etc\": must not contain '..'" },
	{ "node affinity without required",
	  { "spec.nodeAffinity", "{}" },
	  "[Required] spec.nodeAffinity.required: Required value: must specify required node "
	  "constraints" },
	{ "reclaim policy unknown",
	  { "spec.persistentVolumeReclaimPolicy", "\"Keep\"" },
	  "[NotSupported] spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\": supported "
	  "values: \"Delete\", \"Recycle\", \"Retain\"" },
	{ "recycling /",
	  { "spec.hostPath.path", "\"//\"", "spec.persistentVolumeReclaimPolicy", "\"Recycle\"" },
	  "[Forbidden] spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a "
	  "hostPath mount of '/'" },
	{ "storage class name",
	  { "spec.storageClassName", "\"Fast\"" },
	  "[Invalid] spec.storageClassName: Invalid value: \"Fast\": " RFC1123_SUBDOMAIN },
	{ "volume mode unknown",
	  { "spec.volumeMode", "\"Raw\"" },
	  "[NotSupported] spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", "
	  "\"Filesystem\"" },
	{ "namespaced",
	  { "metadata.namespace", "\"default\"" },
	  "[Forbidden] metadata.namespace: Forbidden: not allowed on this type" },
};

static const struct vcase pv_updates[] = {
	{ "bigger", { "spec.capacity.storage", "\"20Gi\"" }, NULL },
	{ "source changed",
	  { "spec.hostPath.path", "\"/srv/pv-2\"" },
	  "[Forbidden] spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is "
	  "immutable after creation\n- spec.hostPath.path: \"/srv/pv-1\"\n+ spec.hostPath.path: "
	  "\"/srv/pv-2\"" },
	{ "volume mode changed",
	  { "spec.volumeMode", "\"Block\"" },
	  "[Invalid] volumeMode: Invalid value: \"Block\": field is immutable" },
};

static void
test_persistent_volume(void **state)
{
	(void)state;
	run_cases(pv, NULL, pv_cases, ARRAY_SIZE(pv_cases));
	run_cases(pv, pv, pv_updates, ARRAY_SIZE(pv_updates));
}

/* --- PersistentVolumeClaim ----------------------------------------------------------------- */

static const char pvc[] = "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\","
			  "\"metadata\":{\"name\":\"data\",\"namespace\":\"default\"},"
			  "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
			  "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}";

static const struct vcase pvc_cases[] = {
	{ "the base claim", { NULL }, NULL },
	{ "no access mode",
	  { "spec.accessModes", "[]" },
	  "[Required] spec.accessModes: Required value: at least 1 access mode is required" },
	{ "storage request missing",
	  { "spec.resources.requests", "{}" },
	  "[Required] spec.resources[storage]: Required value" },
	{ "storage request 0",
	  { "spec.resources.requests.storage", "\"0\"" },
	  "[Invalid] spec.resources[storage]: Invalid value: \"0\": must be greater than zero" },
	{ "selector operator",
	  { "spec.selector", "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Is\"}]}" },
	  "[Invalid] spec.selector.matchExpressions[0].operator: Invalid value: \"Is\": not a valid "
	  "selector operator" },
	{ "data source without kind",
	  { "spec.dataSource", "{\"name\":\"snap\"}" },
	  "[Required] spec.dataSource.kind: Required value\n"
	  "[Invalid] spec.dataSource: Invalid value: \"\": must be 'PersistentVolumeClaim' when "
	  "referencing the default apiGroup" },
	{ "claim as data source",
	  { "spec.dataSource", "{\"kind\":\"PersistentVolumeClaim\",\"name\":\"src\"}" },
	  NULL },
};

static const char pvc_bound[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\","
	"\"metadata\":{\"name\":\"data\",\"namespace\":\"default\"},"
	"\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"volumeName\":\"pv-1\","
	"\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}},"
	"\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"1Gi\"}}}";

static const struct vcase pvc_updates[] = {
	{ "grown", { "spec.resources.requests.storage", "\"2Gi\"" }, NULL },
	{ "shrunk below the capacity",
	  { "spec.resources.requests.storage", "\"512Mi\"" },
	  "[Forbidden] spec.resources.requests.storage: Forbidden: field can not be less than "
	  "status.capacity" },
	{ "access modes changed",
	  { "spec.accessModes[0]", "\"ReadWriteMany\"" },
	  "[Forbidden] spec: Forbidden: spec is immutable after creation except resources.requests "
	  "and volumeAttributesClassName for bound claims\n- spec.accessModes[0]: \"ReadWriteOnce\"\n"
	  "+ spec.accessModes[0]: \"ReadWriteMany\"" },
};

static void
test_persistent_volume_claim(void **state)
{
	(void)state;
	run_cases(pvc, NULL, pvc_cases, ARRAY_SIZE(pvc_cases));
	run_cases(pvc_bound, pvc_bound, pvc_updates, ARRAY_SIZE(pvc_updates));
}

/* --- StorageClass -------------------------------------------------------------------------- */

static const char storage_class[] =
	"{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\","
	"\"metadata\":{\"name\":\"local\"},\"provisioner\":\"kubernetes.io/no-provisioner\","
	"\"parameters\":{\"type\":\"ssd\"},\"volumeBindingMode\":\"WaitForFirstConsumer\"}";

static const struct vcase storage_class_cases[] = {
	{ "the base class", { NULL }, NULL },
	{ "provisioner missing",
	  { "provisioner", "\"\"" },
	  "[Required] provisioner: Required value" },
	{ "provisioner not a qualified name",
	  { "provisioner", "\"My Provisioner\"" },
	  "[Invalid] provisioner: Invalid value: \"my provisioner\": name part must consist of "
	  "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
	  "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
	  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" },
	{ "reclaim policy unknown",
	  { "reclaimPolicy", "\"Recycle\"" },
	  "[NotSupported] reclaimPolicy: Unsupported value: \"Recycle\": supported values: "
	  "\"Delete\", \"Retain\"" },
	{ "binding mode unknown",
	  { "volumeBindingMode", "\"Later\"" },
	  "[NotSupported] volumeBindingMode: Unsupported value: \"Later\": supported values: "
	  "\"Immediate\", \"WaitForFirstConsumer\"" },
	{ "empty parameter name",
	  { "parameters[]", "\"x\"" },
	  "[Invalid] parameters: Invalid value: \"\": field can not be empty." },
	{ "topology without values",
	  { "allowedTopologies",
	    "[{\"matchLabelExpressions\":[{\"key\":\"topology.kubernetes.io/zone\",\"values\":[]}]}]" },
	  "[Required] allowedTopologies[0].matchLabelExpressions[0].values: Required value" },
	{ "topology term twice",
	  { "allowedTopologies",
	    "[{\"matchLabelExpressions\":[{\"key\":\"zone\",\"values\":[\"a\",\"b\"]}]},"
	    "{\"matchLabelExpressions\":[{\"key\":\"zone\",\"values\":[\"b\",\"a\"]}]}]" },
	  "[Duplicate] allowedTopologies[1].matchLabelExpressions: Duplicate value: \"\"" },
	{ "topology value twice",
	  { "allowedTopologies",
	    "[{\"matchLabelExpressions\":[{\"key\":\"zone\",\"values\":[\"a\",\"a\"]}]}]" },
	  "[Duplicate] allowedTopologies[0].matchLabelExpressions[0].values[1]: Duplicate value: "
	  "\"a\"" },
};

static const struct vcase storage_class_updates[] = {
	{ "labels added", { "metadata.labels.tier", "\"fast\"" }, NULL },
	{ "parameters changed",
	  { "parameters.type", "\"hdd\"" },
	  "[Forbidden] parameters: Forbidden: updates to parameters are forbidden." },
	{ "provisioner changed",
	  { "provisioner", "\"example.com/nfs\"" },
	  "[Forbidden] provisioner: Forbidden: updates to provisioner are forbidden." },
	{ "reclaim policy changed",
	  { "reclaimPolicy", "\"Retain\"" },
	  "[Forbidden] reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden." },
	{ "binding mode changed",
	  { "volumeBindingMode", "\"Immediate\"" },
	  "[Invalid] volumeBindingMode: Invalid value: \"Immediate\": field is immutable" },
};

static void
test_storage_class(void **state)
{
	(void)state;
	run_cases(storage_class, NULL, storage_class_cases, ARRAY_SIZE(storage_class_cases));
	run_cases(storage_class, storage_class, storage_class_updates,
		  ARRAY_SIZE(storage_class_updates));
}

/* --- RBAC ---------------------------------------------------------------------------------- */

static const char role[] =
	"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
	"\"metadata\":{\"name\":\"pod-reader\",\"namespace\":\"default\"},"
	"\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\",\"list\"]}]}";

static const struct vcase role_cases[] = {
	{ "the base role", { NULL }, NULL },
	{ "no verbs",
	  { "rules[0].verbs", "[]" },
	  "[Required] rules[0].verbs: Required value: verbs must contain at least one value" },
	{ "non-resource URL in a Role",
	  { "rules[0].nonResourceURLs", "[\"/healthz\"]" },
	  "[Invalid] rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced "
	  "rules cannot apply to non-resource URLs\n"
	  "[Invalid] rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: rules cannot "
	  "apply to both regular resources and non-resource URLs" },
	{ "no api groups",
	  { "rules[0].apiGroups", DEL },
	  "[Required] rules[0].apiGroups: Required value: resource rules must supply at least one api "
	  "group" },
	{ "no resources",
	  { "rules[0].resources", "[]" },
	  "[Required] rules[0].resources: Required value: resource rules must supply at least one "
	  "resource" },
	{ "name with a slash",
	  { "metadata.name", "\"pods/reader\"" },
	  "[Invalid] metadata.name: Invalid value: \"pods/reader\": may not contain '/'" },
	{ "name with capitals (RBAC names are path segments)",
	  { "metadata.name", "\"Pod:Reader\"" },
	  NULL },
};

static const struct vcase cluster_role_cases[] = {
	{ "non-resource URLs",
	  { "rules[0]", "{\"nonResourceURLs\":[\"/healthz\"],\"verbs\":[\"get\"]}" },
	  NULL },
	{ "aggregation rule without selectors",
	  { "aggregationRule", "{}" },
	  "[Required] aggregationRule.clusterRoleSelectors: Required value: at least one "
	  "clusterRoleSelector required if aggregationRule is non-nil" },
	{ "aggregation selector",
	  { "aggregationRule",
	    "{\"clusterRoleSelectors\":[{\"matchLabels\":{\"rbac.example.com/aggregate\":\"true\"}}]}" },
	  NULL },
};

static void
test_roles(void **state)
{
	(void)state;
	run_cases(role, NULL, role_cases, ARRAY_SIZE(role_cases));
	run_cases("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		  "\"metadata\":{\"name\":\"reader\"},\"rules\":[{\"apiGroups\":[\"\"],"
		  "\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]}",
		  NULL, cluster_role_cases, ARRAY_SIZE(cluster_role_cases));
}

static const char role_binding[] =
	"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
	"\"metadata\":{\"name\":\"read-pods\",\"namespace\":\"default\"},"
	"\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"},"
	"{\"kind\":\"ServiceAccount\",\"name\":\"builder\",\"namespace\":\"ci\"}],"
	"\"roleRef\":{\"kind\":\"Role\",\"name\":\"pod-reader\"}}";

static const struct vcase role_binding_cases[] = {
	{ "the base binding", { NULL }, NULL },
	{ "roleRef kind",
	  { "roleRef.kind", "\"Pod\"" },
	  "[NotSupported] roleRef.kind: Unsupported value: \"Pod\": supported values: \"Role\", "
	  "\"ClusterRole\"" },
	{ "roleRef api group",
	  { "roleRef.apiGroup", "\"example.com\"" },
	  "[NotSupported] roleRef.apiGroup: Unsupported value: \"example.com\": supported values: "
	  "\"rbac.authorization.k8s.io\"" },
	{ "roleRef without a name",
	  { "roleRef.name", "\"\"" },
	  "[Required] roleRef.name: Required value" },
	{ "subject kind",
	  { "subjects[0].kind", "\"Robot\"" },
	  "[NotSupported] subjects[0].kind: Unsupported value: \"Robot\": supported values: "
	  "\"ServiceAccount\", \"User\", \"Group\"" },
	{ "service account in an api group",
	  { "subjects[1].apiGroup", "\"rbac.authorization.k8s.io\"" },
	  "[NotSupported] subjects[1].apiGroup: Unsupported value: \"rbac.authorization.k8s.io\": "
	  "supported values: \"\"" },
	{ "subject without a name",
	  { "subjects[0].name", "\"\"" },
	  "[Required] subjects[0].name: Required value" },
	{ "service account name",
	  { "subjects[1].name", "\"Builder\"" },
	  "[Invalid] subjects[1].name: Invalid value: \"Builder\": " RFC1123_SUBDOMAIN },
};

static const struct vcase role_binding_updates[] = {
	{ "subject added",
	  { "subjects[2]",
	    "{\"kind\":\"Group\",\"name\":\"devs\",\"apiGroup\":\"rbac.authorization.k8s.io\"}" },
	  NULL },
	{ "roleRef changed",
	  { "roleRef.name", "\"other\"" },
	  "[Invalid] roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", "
	  "Kind:\"Role\", Name:\"other\"}: cannot change roleRef" },
};

static const struct vcase cluster_role_binding_cases[] = {
	{ "the base binding", { NULL }, NULL },
	{ "service account without a namespace",
	  { "subjects[0].namespace", DEL },
	  "[Required] subjects[0].namespace: Required value" },
	{ "Role from a ClusterRoleBinding",
	  { "roleRef.kind", "\"Role\"" },
	  "[NotSupported] roleRef.kind: Unsupported value: \"Role\": supported values: "
	  "\"ClusterRole\"" },
};

static void
test_bindings(void **state)
{
	(void)state;
	run_cases(role_binding, NULL, role_binding_cases, ARRAY_SIZE(role_binding_cases));
	run_cases(role_binding, role_binding, role_binding_updates,
		  ARRAY_SIZE(role_binding_updates));
	run_cases(
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		"\"metadata\":{\"name\":\"builders\"},\"subjects\":[{\"kind\":\"ServiceAccount\","
		"\"name\":\"builder\",\"namespace\":\"ci\"}],\"roleRef\":{\"apiGroup\":"
		"\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"edit\"}}",
		NULL, cluster_role_binding_cases, ARRAY_SIZE(cluster_role_binding_cases));
}

/* --- PriorityClass, Lease ------------------------------------------------------------------ */

static const char priority_class[] = "{\"apiVersion\":\"scheduling.k8s.io/v1\","
				     "\"kind\":\"PriorityClass\",\"metadata\":{\"name\":\"high\"},"
				     "\"value\":1000}";

#define RESERVED                                                                                \
	"[Forbidden] metadata.name: Forbidden: priority class names with 'system-' prefix are " \
	"reserved for system use only. error: "

static const struct vcase priority_class_cases[] = {
	{ "the base class", { NULL }, NULL },
	{ "value too high",
	  { "value", "2000000000" },
	  "[Forbidden] value: Forbidden: maximum allowed value of a user defined priority is "
	  "1000000000" },
	{ "system- prefix",
	  { "metadata.name", "\"system-foo\"" },
	  RESERVED "system-foo is not a known system priority class" },
	{ "system class with another value",
	  { "metadata.name", "\"system-node-critical\"" },
	  RESERVED "value of system-node-critical PriorityClass must be 2000001000" },
	{ "system class",
	  { "metadata.name", "\"system-cluster-critical\"", "value", "2000000000" },
	  NULL },
	{ "preemption policy",
	  { "preemptionPolicy", "\"Always\"" },
	  "[NotSupported] preemptionPolicy: Unsupported value: \"Always\": supported values: "
	  "\"PreemptLowerPriority\", \"Never\"" },
};

static const struct vcase priority_class_updates[] = {
	{ "description", { "description", "\"for databases\"" }, NULL },
	{ "value changed",
	  { "value", "2000" },
	  "[Forbidden] value: Forbidden: may not be changed in an update." },
	{ "preemption policy changed",
	  { "preemptionPolicy", "\"Never\"" },
	  "[Invalid] preemptionPolicy: Invalid value: \"Never\": field is immutable" },
};

static void
test_priority_class(void **state)
{
	(void)state;
	run_cases(priority_class, NULL, priority_class_cases, ARRAY_SIZE(priority_class_cases));
	run_cases(priority_class, priority_class, priority_class_updates,
		  ARRAY_SIZE(priority_class_updates));
}

static const struct vcase lease_cases[] = {
	{ "the base lease", { NULL }, NULL },
	{ "duration 0",
	  { "spec.leaseDurationSeconds", "0" },
	  "[Invalid] spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0" },
	{ "negative transitions",
	  { "spec.leaseTransitions", "-1" },
	  "[Invalid] spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0" },
	{ "preferred holder without strategy",
	  { "spec.preferredHolder", "\"node-2\"" },
	  "[Forbidden] spec.preferredHolder: Forbidden: may only be specified if `strategy` is "
	  "defined" },
};

static void
test_lease(void **state)
{
	(void)state;
	run_cases("{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
		  "\"name\":\"node-1\",\"namespace\":\"kube-node-lease\"},\"spec\":{"
		  "\"holderIdentity\":\"node-1\",\"leaseDurationSeconds\":40}}",
		  NULL, lease_cases, ARRAY_SIZE(lease_cases));
}

/* --- EndpointSlice ------------------------------------------------------------------------- */

static const char endpoint_slice[] =
	"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
	"\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"default\"},\"addressType\":\"IPv4\","
	"\"endpoints\":[{\"addresses\":[\"10.1.2.3\"],\"conditions\":{\"ready\":true},"
	"\"nodeName\":\"node-1\",\"zone\":\"a\"}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}";

static const struct vcase endpoint_slice_cases[] = {
	{ "the base slice", { NULL }, NULL },
	{ "address type missing",
	  { "addressType", "\"\"" },
	  "[Required] addressType: Required value" },
	{ "address type unknown",
	  { "addressType", "\"IPv5\"" },
	  "[NotSupported] addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", "
	  "\"IPv4\", \"IPv6\"" },
	{ "IPv6 address in an IPv4 slice",
	  { "endpoints[0].addresses[0]", "\"fd00::1\"" },
	  "[Invalid] endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 "
	  "address" },
	{ "loopback address",
	  { "endpoints[0].addresses[0]", "\"127.0.0.1\"" },
	  "[Invalid] endpoints[0].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the "
	  "loopback range (127.0.0.0/8, ::1/128)" },
	{ "no addresses",
	  { "endpoints[0].addresses", "[]" },
	  "[Required] endpoints[0].addresses: Required value: must contain at least 1 address" },
	{ "FQDN with one label",
	  { "addressType", "\"FQDN\"", "endpoints[0].addresses[0]", "\"db\"" },
	  "[Invalid] endpoints[0].addresses[0]: Invalid value: \"db\": should be a domain with at "
	  "least two segments separated by dots" },
	{ "FQDN",
	  { "addressType", "\"FQDN\"", "endpoints[0].addresses[0]", "\"db.example.com.\"" },
	  NULL },
	{ "port name twice",
	  { "ports[1]", "{\"name\":\"http\",\"port\":8081,\"protocol\":\"TCP\"}" },
	  "[Duplicate] ports[1].name: Duplicate value: \"http\"" },
	{ "port protocol missing",
	  { "ports[0].protocol", DEL },
	  "[Required] ports[0].protocol: Required value" },
	{ "zone label value",
	  { "endpoints[0].zone", "\"-a\"" },
	  "[Invalid] endpoints[0].zone: Invalid value: \"-a\": a valid label must be an empty string "
	  "or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
	  "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
	  "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" },
};

static const struct vcase endpoint_slice_updates[] = {
	{ "address changed", { "endpoints[0].addresses[0]", "\"10.1.2.4\"" }, NULL },
	{ "address type changed",
	  { "addressType", "\"FQDN\"" },
	  "[Invalid] addressType: Invalid value: \"FQDN\": field is immutable" },
};

static void
test_endpoint_slice(void **state)
{
	(void)state;
	run_cases(endpoint_slice, NULL, endpoint_slice_cases, ARRAY_SIZE(endpoint_slice_cases));
	run_cases(endpoint_slice, endpoint_slice, endpoint_slice_updates,
		  ARRAY_SIZE(endpoint_slice_updates));
}

/* --- HorizontalPodAutoscaler --------------------------------------------------------------- */

static const char hpa[] =
	"{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
	"\"spec\":{\"scaleTargetRef\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"name\":\"web\"},\"minReplicas\":2,\"maxReplicas\":10,"
	"\"metrics\":[{\"type\":\"Resource\",\"resource\":{\"name\":\"cpu\",\"target\":"
	"{\"type\":\"Utilization\",\"averageUtilization\":70}}}]}}";

#define M0 "spec.metrics[0]"
#define SOURCE_TYPES "\"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\""

static const struct vcase hpa_cases[] = {
	{ "the base autoscaler", { NULL }, NULL },
	{ "minReplicas 0",
	  { "spec.minReplicas", "0" },
	  "[Invalid] spec.minReplicas: Invalid value: 0: must be greater than or equal to 1\n"
	  "[Forbidden] spec.metrics: Forbidden: must specify at least one Object or External metric "
	  "to support scaling to zero replicas" },
	{ "maxReplicas below minReplicas",
	  { "spec.maxReplicas", "1" },
	  "[Invalid] spec.maxReplicas: Invalid value: 1: must be greater than or equal to "
	  "`minReplicas`" },
	{ "maxReplicas 0",
	  { "spec.maxReplicas", "0" },
	  "[Invalid] spec.maxReplicas: Invalid value: 0: must be greater than 0\n"
	  "[Invalid] spec.maxReplicas: Invalid value: 0: must be greater than or equal to "
	  "`minReplicas`" },
	{ "target without kind",
	  { "spec.scaleTargetRef.kind", "\"\"" },
	  "[Required] spec.scaleTargetRef.kind: Required value" },
	{ "target name with a slash",
	  { "spec.scaleTargetRef.name", "\"a/b\"" },
	  "[Invalid] spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'" },
	{ "metric type missing",
	  { M0 ".type", "\"\"" },
	  "[Required] " M0 ".type: Required value: must specify a metric source type\n"
	  "[NotSupported] " M0 ".type: Unsupported value: \"\": supported values: " SOURCE_TYPES },
	{ "metric type without its source",
	  { M0 ".type", "\"Pods\"" },
	  "[Required] " M0 ".pods: Required value: must populate information for the given metric "
	  "source" },
	{ "two sources",
	  { M0 ".pods", "{\"metric\":{\"name\":\"qps\"},\"target\":{\"type\":\"AverageValue\","
			"\"averageValue\":\"10\"}}" },
	  "[Forbidden] " M0 ".pods: Forbidden: must populate the given metric source only" },
	{ "target type unknown",
	  { M0 ".resource.target.type", "\"Percent\"" },
	  "[Invalid] " M0 ".resource.target.type: Invalid value: \"Percent\": must be either "
	  "Utilization, Value, or AverageValue" },
	{ "utilization 0",
	  { M0 ".resource.target.averageUtilization", "0" },
	  "[Invalid] " M0 ".resource.target.averageUtilization: Invalid value: 0: must be greater "
	  "than 0" },
	{ "utilization and value",
	  { M0 ".resource.target.averageValue", "\"100m\"" },
	  "[Forbidden] " M0
	  ".resource.target.averageValue: Forbidden: may not set both a target raw "
	  "value and a target utilization" },
	{ "resource without a name",
	  { M0 ".resource.name", "\"\"" },
	  "[Required] " M0 ".resource.name: Required value: must specify a resource name" },
	{ "behavior without policies",
	  { "spec.behavior", "{\"scaleDown\":{\"policies\":[]}}" },
	  "[Required] spec.behavior.scaleDown.policies: Required value: must specify at least one "
	  "Policy" },
	{ "behavior limits",
	  { "spec.behavior",
	    "{\"scaleUp\":{\"stabilizationWindowSeconds\":4000,\"selectPolicy\":\"Any\","
	    "\"policies\":[{\"type\":\"Pods\",\"value\":0,\"periodSeconds\":2000}]}}" },
	  "[Invalid] spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be "
	  "less than or equal to 3600\n"
	  "[NotSupported] spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Any\": supported "
	  "values: \"Disabled\", \"Max\", \"Min\"\n"
	  "[Invalid] spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than "
	  "zero\n"
	  "[Invalid] spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be "
	  "less than or equal to 1800" },
};

static void
test_hpa(void **state)
{
	(void)state;
	run_cases(hpa, NULL, hpa_cases, ARRAY_SIZE(hpa_cases));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_persistent_volume),
		cmocka_unit_test(test_persistent_volume_claim),
		cmocka_unit_test(test_storage_class),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_priority_class),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_endpoint_slice),
		cmocka_unit_test(test_hpa),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
