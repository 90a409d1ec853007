/*
 * Validation of the workload controllers' kinds as Kubernetes 1.32 does it: Deployment,
 * ReplicaSet, ReplicationController, StatefulSet, DaemonSet and ControllerRevision, create and
 * update, each rule with its exact path and message.
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

#define RFC1123_LABEL                                                                            \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define RFC1123_SUBDOMAIN                                                                         \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "     \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define NOT_MATCH "`selector` does not match template `labels`"
#define EMPTY_SELECTOR                                                           \
	"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:" \
	"[]v1.LabelSelectorRequirement(nil)}"
#define INTSTR(i) "intstr.IntOrString{Type:0, IntVal:" #i ", StrVal:\"\"}"
#define PERCENT(s) "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"" s "\"}"
#define BAD_PERCENT                                                                                  \
	"a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or " \
	"'93%', regex used for validation is '[0-9]+%')"

/* --- Deployment ---------------------------------------------------------------------------- */

static const char deployment[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\"}]}}}}";

#define RU "spec.strategy.rollingUpdate"

static const struct vcase deployment_cases[] = {
	{ "the base deployment", { NULL }, NULL },
	{ "negative replicas",
	  { "spec.replicas", "-1" },
	  "[Invalid] spec.replicas: Invalid value: -1: must be greater than or equal to 0" },
	{ "template labels not selected",
	  { "spec.template.metadata.labels", "{\"app\":\"x\"}" },
	  "[Invalid] spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: " NOT_MATCH },
	{ "selector missing",
	  { "spec.selector", DEL },
	  "[Required] spec.selector: Required value\n"
	  "[Invalid] spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: " NOT_MATCH },
	{ "empty selector",
	  { "spec.selector", "{}" },
	  "[Invalid] spec.selector: Invalid value: " EMPTY_SELECTOR
	  ": empty selector is invalid for deployment" },
	{ "selector operator unknown",
	  { "spec.selector",
	    "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Like\",\"values\":[\"web\"]}]}" },
	  "[Invalid] spec.selector.matchExpressions[0].operator: Invalid value: \"Like\": not a valid "
	  "selector operator\n"
	  "[Invalid] spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
	  "MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", "
	  "Operator:\"Like\", Values:[]string{\"web\"}}}}: invalid label selector" },
	{ "template restartPolicy",
	  { "spec.template.spec.restartPolicy", "\"Never\"" },
	  "[NotSupported] spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported "
	  "values: \"Always\"" },
	{ "template activeDeadlineSeconds",
	  { "spec.template.spec.activeDeadlineSeconds", "30" },
	  "[Forbidden] spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
	  "ReplicaSet is not Supported" },
	{ "template image missing",
	  { "spec.template.spec.containers[0].image", "\"\"" },
	  "[Required] spec.template.spec.containers[0].image: Required value" },
	{ "template label value",
	  { "spec.template.metadata.labels.tier", "\"-bad\"" },
	  "[Invalid] spec.template.labels: Invalid value: \"-bad\": a valid label must be an empty "
	  "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
	  "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
	  "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" },
	{ "Recreate with rollingUpdate",
	  { "spec.strategy.type", "\"Recreate\"" },
	  "[Forbidden] " RU
	  ": Forbidden: may not be specified when strategy `type` is 'Recreate'" },
	{ "Recreate", { "spec.strategy", "{\"type\":\"Recreate\"}" }, NULL },
	{ "strategy unknown",
	  { "spec.strategy", "{\"type\":\"BlueGreen\"}" },
	  "[NotSupported] spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", "
	  "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", "
	  "\"RollingUpdate\"" },
	{ "rollingUpdate missing",
	  { "spec.strategy.rollingUpdate", DEL },
	  "[Required] " RU ": Required value: this should be defaulted and never be nil" },
	{ "maxSurge and maxUnavailable both 0",
	  { RU ".maxSurge", "0", RU ".maxUnavailable", "0" },
	  "[Invalid] " RU
	  ".maxUnavailable: Invalid value: " INTSTR(0) ": may not be 0 when `maxSurge` is 0" },
	{ "maxUnavailable above 100%",
	  { RU ".maxUnavailable", "\"120%\"" },
	  "[Invalid] " RU
	  ".maxUnavailable: Invalid value: " PERCENT("120%") ": must not be greater than 100%" },
	{ "maxSurge above 100% is allowed", { RU ".maxSurge", "\"200%\"" }, NULL },
	{ "maxSurge not a percent",
	  { RU ".maxSurge", "\"abc\"" },
	  "[Invalid] " RU ".maxSurge: Invalid value: " PERCENT("abc") ": " BAD_PERCENT },
	{ "maxSurge negative",
	  { RU ".maxSurge", "-1" },
	  "[Invalid] " RU ".maxSurge: Invalid value: -1: must be greater than or equal to 0" },
	{ "progressDeadlineSeconds not above minReadySeconds",
	  { "spec.minReadySeconds", "600" },
	  "[Invalid] spec.progressDeadlineSeconds: Invalid value: 600: must be greater than "
	  "minReadySeconds" },
	{ "negative revisionHistoryLimit",
	  { "spec.revisionHistoryLimit", "-1" },
	  "[Invalid] spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0" },
	{ "name not a subdomain",
	  { "metadata.name", "\"Web\"" },
	  "[Invalid] metadata.name: Invalid value: \"Web\": " RFC1123_SUBDOMAIN },
	{ "namespace missing",
	  { "metadata.namespace", DEL },
	  "[Required] metadata.namespace: Required value" },
	{ "generateName only (the write path generates the name before validating)",
	  { "metadata.name", DEL, "metadata.generateName", "\"web-\"" },
	  "[Required] metadata.name: Required value: name or generateName is required" },
	{ "generateName not a subdomain prefix",
	  { "metadata.generateName", "\"Web-\"" },
	  "[Invalid] metadata.generateName: Invalid value: \"Web-\": " RFC1123_SUBDOMAIN },
	{ "no name at all",
	  { "metadata.name", DEL },
	  "[Required] metadata.name: Required value: name or generateName is required" },
};

static void
test_deployment(void **state)
{
	(void)state;
	run_cases(deployment, NULL, deployment_cases, ARRAY_SIZE(deployment_cases));
}

static const struct vcase deployment_updates[] = {
	{ "scaled", { "spec.replicas", "5" }, NULL },
	{ "new image", { "spec.template.spec.containers[0].image", "\"nginx:1.28\"" }, NULL },
	{ "selector changed",
	  { "spec.selector.matchLabels.tier", "\"x\"", "spec.template.metadata.labels.tier",
	    "\"x\"" },
	  "[Invalid] spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
	  "{\"app\":\"web\", \"tier\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
	  "field is immutable" },
};

static void
test_deployment_update(void **state)
{
	(void)state;
	run_cases(deployment, deployment, deployment_updates, ARRAY_SIZE(deployment_updates));
}

/* --- ReplicaSet and ReplicationController -------------------------------------------------- */

static const char replica_set[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
	"\"metadata\":{\"name\":\"web-5d8f\",\"namespace\":\"default\"},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\"}]}}}}";

static const struct vcase replica_set_cases[] = {
	{ "the base replica set", { NULL }, NULL },
	{ "empty selector (the message says deployment, as upstream's)",
	  { "spec.selector", "{}" },
	  "[Invalid] spec.selector: Invalid value: " EMPTY_SELECTOR
	  ": empty selector is invalid for deployment" },
	{ "negative minReadySeconds",
	  { "spec.minReadySeconds", "-5" },
	  "[Invalid] spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0" },
	{ "template labels not selected",
	  { "spec.template.metadata.labels", DEL },
	  "[Invalid] spec.template.metadata.labels: Invalid value: map[string]string(nil): " NOT_MATCH },
};

static void
test_replica_set(void **state)
{
	(void)state;
	run_cases(replica_set, NULL, replica_set_cases, ARRAY_SIZE(replica_set_cases));
}

static const char replication_controller[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\","
	"\"metadata\":{\"name\":\"rc\",\"namespace\":\"default\"},"
	"\"spec\":{\"replicas\":1,\"selector\":{\"app\":\"rc\"},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"rc\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}";

static const struct vcase rc_cases[] = {
	{ "the base controller", { NULL }, NULL },
	{ "template labels not selected",
	  { "spec.template.metadata.labels.app", "\"x\"" },
	  "[Invalid] spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: " NOT_MATCH },
	{ "empty selector", { "spec.selector", "{}" }, "[Required] spec.selector: Required value" },
	{ "template missing",
	  { "spec.template", DEL },
	  "[Required] spec.template: Required value" },
	{ "template restartPolicy",
	  { "spec.template.spec.restartPolicy", "\"OnFailure\"" },
	  "[NotSupported] spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": "
	  "supported values: \"Always\"" },
	{ "template activeDeadlineSeconds",
	  { "spec.template.spec.activeDeadlineSeconds", "10" },
	  "[Forbidden] spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
	  "ReplicationController is not Supported" },
	{ "negative replicas",
	  { "spec.replicas", "-2" },
	  "[Invalid] spec.replicas: Invalid value: -2: must be greater than or equal to 0" },
};

static void
test_replication_controller(void **state)
{
	(void)state;
	run_cases(replication_controller, NULL, rc_cases, ARRAY_SIZE(rc_cases));
}

/* --- StatefulSet --------------------------------------------------------------------------- */

/* The template mounts a claim template's volume: Kubernetes does not validate a StatefulSet's
 * pod spec, so this passes. */
static const char stateful_set[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\","
	"\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},"
	"\"spec\":{\"serviceName\":\"db\",\"replicas\":3,"
	"\"selector\":{\"matchLabels\":{\"app\":\"db\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"db\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"db\",\"image\":\"postgres:16\","
	"\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/var/lib/postgresql/data\"}]}]}},"
	"\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},"
	"\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
	"\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}";

#define STS_RU "spec.updateStrategy.rollingUpdate"

static const struct vcase stateful_set_cases[] = {
	{ "the base stateful set", { NULL }, NULL },
	{ "name not a DNS label",
	  { "metadata.name", "\"db.x\"" },
	  "[Invalid] metadata.name: Invalid value: \"db.x\": must not contain dots" },
	{ "name with capitals",
	  { "metadata.name", "\"DB\"" },
	  "[Invalid] metadata.name: Invalid value: \"DB\": " RFC1123_LABEL },
	{ "podManagementPolicy unknown",
	  { "spec.podManagementPolicy", "\"Random\"" },
	  "[Invalid] spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or "
	  "'Parallel'" },
	{ "podManagementPolicy empty",
	  { "spec.podManagementPolicy", "\"\"" },
	  "[Required] spec.podManagementPolicy: Required value" },
	{ "OnDelete with rollingUpdate",
	  { "spec.updateStrategy.type", "\"OnDelete\"" },
	  "[Invalid] " STS_RU ": Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:0, "
	  "MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy "
	  "'RollingUpdate'" },
	{ "updateStrategy unknown",
	  { "spec.updateStrategy", "{\"type\":\"Canary\"}" },
	  "[Invalid] spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Canary\", "
	  "RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or "
	  "'OnDelete'" },
	{ "negative partition",
	  { STS_RU ".partition", "-1" },
	  "[Invalid] " STS_RU ".partition: Invalid value: -1: must be greater than or equal to 0" },
	{ "maxUnavailable 0",
	  { STS_RU ".maxUnavailable", "0" },
	  "[Invalid] " STS_RU ".maxUnavailable: Invalid value: " INTSTR(0) ": cannot be 0" },
	{ "claim retention unknown",
	  { "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "\"Keep\"" },
	  "[NotSupported] spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "
	  "\"Keep\": supported values: \"Retain\", \"Delete\"" },
	{ "negative ordinals.start",
	  { "spec.ordinals", "{\"start\":-1}" },
	  "[Invalid] spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0" },
	{ "empty selector",
	  { "spec.selector", "{}" },
	  "[Invalid] spec.selector: Invalid value: " EMPTY_SELECTOR
	  ": empty selector is invalid for statefulset" },
	{ "template labels not selected",
	  { "spec.template.metadata.labels.app", "\"x\"" },
	  "[Invalid] spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: " NOT_MATCH },
	{ "template restartPolicy",
	  { "spec.template.spec.restartPolicy", "\"Never\"" },
	  "[NotSupported] spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported "
	  "values: \"Always\"" },
	{ "template activeDeadlineSeconds",
	  { "spec.template.spec.activeDeadlineSeconds", "10" },
	  "[Forbidden] spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
	  "StatefulSet is not Supported" },
};

static void
test_stateful_set(void **state)
{
	(void)state;
	run_cases(stateful_set, NULL, stateful_set_cases, ARRAY_SIZE(stateful_set_cases));
}

static const struct vcase stateful_set_updates[] = {
	{ "scaled", { "spec.replicas", "5" }, NULL },
	{ "new image", { "spec.template.spec.containers[0].image", "\"postgres:17\"" }, NULL },
	{ "serviceName changed",
	  { "spec.serviceName", "\"db2\"" },
	  "[Forbidden] spec: Forbidden: updates to statefulset spec for fields other than "
	  "'replicas', 'ordinals', 'template', 'updateStrategy', "
	  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden" },
};

static void
test_stateful_set_update(void **state)
{
	(void)state;
	run_cases(stateful_set, stateful_set, stateful_set_updates,
		  ARRAY_SIZE(stateful_set_updates));
}

/* --- DaemonSet ----------------------------------------------------------------------------- */

static const char daemon_set[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\","
	"\"metadata\":{\"name\":\"agent\",\"namespace\":\"kube-system\"},"
	"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"agent\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"agent\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"agent\",\"image\":\"busybox\"}]}}}}";

#define DS_RU "spec.updateStrategy.rollingUpdate"

static const struct vcase daemon_set_cases[] = {
	{ "the base daemon set", { NULL }, NULL },
	{ "selector missing",
	  { "spec.selector", DEL },
	  "[Invalid] spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"agent\"}: " NOT_MATCH },
	{ "empty selector",
	  { "spec.selector", "{}" },
	  "[Invalid] spec.selector: Invalid value: " EMPTY_SELECTOR
	  ": empty selector is invalid for daemonset" },
	{ "maxSurge with maxUnavailable",
	  { DS_RU ".maxSurge", "1" },
	  "[Invalid] " DS_RU ".maxSurge: Invalid value: " INTSTR(
		  1) ": may not be set when maxUnavailable is non-zero" },
	{ "maxSurge only", { DS_RU ".maxSurge", "\"10%\"", DS_RU ".maxUnavailable", "0" }, NULL },
	{ "both 0",
	  { DS_RU ".maxUnavailable", "0" },
	  "[Required] " DS_RU ".maxUnavailable: Required value: cannot be 0 when maxSurge is 0" },
	{ "maxSurge above 100%",
	  { DS_RU ".maxSurge", "\"101%\"", DS_RU ".maxUnavailable", "0" },
	  "[Invalid] " DS_RU
	  ".maxSurge: Invalid value: " PERCENT("101%") ": must not be greater than 100%" },
	{ "updateStrategy unknown",
	  { "spec.updateStrategy", "{\"type\":\"Surge\"}" },
	  "[NotSupported] spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:"
	  "\"Surge\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: "
	  "\"RollingUpdate\", \"OnDelete\"" },
	{ "rollingUpdate missing", { DS_RU, DEL }, "[Required] " DS_RU ": Required value" },
	{ "OnDelete", { "spec.updateStrategy", "{\"type\":\"OnDelete\"}" }, NULL },
	{ "template restartPolicy",
	  { "spec.template.spec.restartPolicy", "\"OnFailure\"" },
	  "[NotSupported] spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": "
	  "supported values: \"Always\"" },
	{ "template activeDeadlineSeconds",
	  { "spec.template.spec.activeDeadlineSeconds", "10" },
	  "[Forbidden] spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
	  "DaemonSet is not Supported" },
};

static void
test_daemon_set(void **state)
{
	(void)state;
	run_cases(daemon_set, NULL, daemon_set_cases, ARRAY_SIZE(daemon_set_cases));
}

static const struct vcase daemon_set_updates[] = {
	{ "new image", { "spec.template.spec.containers[0].image", "\"busybox:1.37\"" }, NULL },
	{ "selector changed",
	  { "spec.selector.matchLabels.app", "\"a\"", "spec.template.metadata.labels.app",
	    "\"a\"" },
	  "[Invalid] spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
	  "{\"app\":\"a\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is "
	  "immutable" },
};

static void
test_daemon_set_update(void **state)
{
	(void)state;
	run_cases(daemon_set, daemon_set, daemon_set_updates, ARRAY_SIZE(daemon_set_updates));
}

/* --- ControllerRevision -------------------------------------------------------------------- */

static const char controller_revision[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"ControllerRevision\","
	"\"metadata\":{\"name\":\"web-5d8f\",\"namespace\":\"default\"},"
	"\"data\":{\"spec\":{\"template\":{}}},\"revision\":1}";

static const struct vcase controller_revision_cases[] = {
	{ "the base revision", { NULL }, NULL },
	{ "data missing", { "data", DEL }, "[Required] data: Required value: data is mandatory" },
	{ "negative revision",
	  { "revision", "-1" },
	  "[Invalid] revision: Invalid value: -1: must be greater than or equal to 0" },
};

static const struct vcase controller_revision_updates[] = {
	{ "data changed",
	  { "data", "{\"x\":1}" },
	  "[Invalid] data: Invalid value: {\"x\":1}: field is immutable" },
};

static void
test_controller_revision(void **state)
{
	(void)state;
	run_cases(controller_revision, NULL, controller_revision_cases,
		  ARRAY_SIZE(controller_revision_cases));
	run_cases(controller_revision, controller_revision, controller_revision_updates,
		  ARRAY_SIZE(controller_revision_updates));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_deployment_update),
		cmocka_unit_test(test_replica_set),
		cmocka_unit_test(test_replication_controller),
		cmocka_unit_test(test_stateful_set),
		cmocka_unit_test(test_stateful_set_update),
		cmocka_unit_test(test_daemon_set),
		cmocka_unit_test(test_daemon_set_update),
		cmocka_unit_test(test_controller_revision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
