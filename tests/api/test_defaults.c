/*
 * Defaulting as Kubernetes 1.32 does it: minimal manifests of every kind that has defaults,
 * and the objects kube-apiserver's defaulting makes of them (what `kubectl create
 * --dry-run=server -o json` shows, less what admission plugins and the registries add: service
 * account, priority, tolerations, uid, timestamps, cluster IPs, Job selectors). Each is also
 * defaulted twice to check that defaulting is idempotent.
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

/* What SetDefaults_PodSpec adds to a template's pod spec. */
#define POD_SPEC_DEFAULTS                                              \
	"\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\"," \
	"\"securityContext\":{},\"terminationGracePeriodSeconds\":30," \
	"\"schedulerName\":\"default-scheduler\""
#define CONTAINER_DEFAULTS(policy)                                                                \
	"\"imagePullPolicy\":\"" policy "\",\"terminationMessagePath\":\"/dev/termination-log\"," \
	"\"terminationMessagePolicy\":\"File\""

static void
test_pod(void **state)
{
	(void)state;
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
		"\"default\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
		"\"default\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"," CONTAINER_DEFAULTS(
			"Always") "}]," POD_SPEC_DEFAULTS ",\"enableServiceLinks\":true}}");
}

/* Everything the generated defaulters reach under a pod spec. */
static void
test_pod_nested(void **state)
{
	(void)state;
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
		"\"default\"},\"spec\":{\"hostNetwork\":true,"
		"\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox:1.36\"}],"
		"\"containers\":[{\"name\":\"c\",\"image\":\"registry.local:5000/team/app:v2\","
		"\"ports\":[{\"containerPort\":8080}],"
		"\"env\":[{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}}],"
		"\"resources\":{\"limits\":{\"cpu\":\"0.5\",\"memory\":\"0.1Gi\"},\"requests\":{\"cpu\":\"1.0001m\"}},"
		"\"livenessProbe\":{\"httpGet\":{\"port\":8080}},"
		"\"readinessProbe\":{\"grpc\":{\"port\":9090},\"periodSeconds\":5},"
		"\"lifecycle\":{\"preStop\":{\"httpGet\":{\"port\":8080,\"path\":\"/stop\"}}}}],"
		"\"volumes\":[{\"name\":\"scratch\"},{\"name\":\"cfg\",\"configMap\":{\"name\":\"cfg\"}},"
		"{\"name\":\"sec\",\"secret\":{\"secretName\":\"s\",\"defaultMode\":256}},"
		"{\"name\":\"host\",\"hostPath\":{\"path\":\"/srv\"}},"
		"{\"name\":\"info\",\"downwardAPI\":{\"items\":[{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}}]}},"
		"{\"name\":\"all\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"token\"}}]}}]}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
		"\"default\"},\"spec\":{\"hostNetwork\":true,"
		"\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox:1.36\"," CONTAINER_DEFAULTS(
			"IfNotPresent") "}],"
					"\"containers\":[{\"name\":\"c\",\"image\":\"registry.local:5000/team/app:v2\","
					"\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\",\"hostPort\":8080}],"
					"\"env\":[{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\",\"apiVersion\":\"v1\"}}}],"
					"\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"107374182400m\"},"
					"\"requests\":{\"cpu\":\"2m\",\"memory\":\"107374182400m\"}},"
					"\"livenessProbe\":{\"httpGet\":{\"port\":8080,\"path\":\"/\",\"scheme\":\"HTTP\"},"
					"\"timeoutSeconds\":1,\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},"
					"\"readinessProbe\":{\"grpc\":{\"port\":9090,\"service\":\"\"},\"periodSeconds\":5,"
					"\"timeoutSeconds\":1,\"successThreshold\":1,\"failureThreshold\":3},"
					"\"lifecycle\":{\"preStop\":{\"httpGet\":{\"port\":8080,\"path\":\"/stop\",\"scheme\":\"HTTP\"}}}," CONTAINER_DEFAULTS(
						"IfNotPresent") "}],"
								"\"volumes\":[{\"name\":\"scratch\",\"emptyDir\":{}},"
								"{\"name\":\"cfg\",\"configMap\":{\"name\":\"cfg\",\"defaultMode\":420}},"
								"{\"name\":\"sec\",\"secret\":{\"secretName\":\"s\",\"defaultMode\":256}},"
								"{\"name\":\"host\",\"hostPath\":{\"path\":\"/srv\",\"type\":\"\"}},"
								"{\"name\":\"info\",\"downwardAPI\":{\"items\":[{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":\"metadata.labels\",\"apiVersion\":\"v1\"}}],\"defaultMode\":420}},"
								"{\"name\":\"all\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"token\",\"expirationSeconds\":3600}}],\"defaultMode\":420}}]," POD_SPEC_DEFAULTS
								",\"enableServiceLinks\":true}}");
}

static const struct {
	const char *image, *policy;
} pull_policies[] = {
	{ "nginx", "Always" },
	{ "nginx:latest", "Always" },
	{ "nginx:1.27", "IfNotPresent" },
	{ "docker.io/library/nginx", "Always" },
	{ "registry.local:5000/app", "Always" },
	{ "localhost/app:latest", "Always" },
	{ "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "IfNotPresent" },
	{ "nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "Always" },
	{ "NGINX", "IfNotPresent" }, /* not a reference: ParseImageName fails */
	{ "", "IfNotPresent" },
	{ "nginx:", "IfNotPresent" },
};

static void
test_image_pull_policy(void **state)
{
	(void)state;
	const struct kind_info *k = K("v1", "Pod");
	for (size_t i = 0; i < ARRAY_SIZE(pull_policies); i++) {
		json_t *p =
			J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
			  "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}");
		mutate(p, "spec.containers[0].image", NULL);
		json_object_set_new(at(p, "spec.containers[0]"), "image",
				    json_string(pull_policies[i].image));
		object_set_defaults(p, k);
		const char *got = json_string_value(at(p, "spec.containers[0].imagePullPolicy"));
		if (!got || !streq(got, pull_policies[i].policy))
			fail_msg("%s: want %s, got %s", pull_policies[i].image,
				 pull_policies[i].policy, got ? got : "(none)");
		json_decref(p);
	}
}

static void
test_workloads(void **state)
{
	(void)state;
	const char *tmpl_in = "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
			      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"app:1\"}]}}";
	char in[1024], want[2048];
#define TMPL_OUT                                                                            \
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},\"spec\":{\"containers\":" \
	"[{\"name\":\"c\",\"image\":\"app:1\"," CONTAINER_DEFAULTS(                         \
		"IfNotPresent") "}]," POD_SPEC_DEFAULTS "}}"

	snprintf(
		in, sizeof(in),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},%s}}",
		tmpl_in);
	snprintf(
		want, sizeof(want),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL_OUT ","
		"\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
		"{\"maxUnavailable\":\"25%%\",\"maxSurge\":\"25%%\"}},\"revisionHistoryLimit\":10,"
		"\"progressDeadlineSeconds\":600}}");
	check_defaults(in, want);

	/* Recreate gets no rollingUpdate */
	check_defaults("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		       "\"d\"},\"spec\":{\"strategy\":{\"type\":\"Recreate\"},\"replicas\":0,"
		       "\"revisionHistoryLimit\":0,\"progressDeadlineSeconds\":60,\"template\":{"
		       "\"spec\":{}}}}",
		       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		       "\"d\"},\"spec\":{\"strategy\":{\"type\":\"Recreate\"},\"replicas\":0,"
		       "\"revisionHistoryLimit\":0,\"progressDeadlineSeconds\":60,\"template\":{"
		       "\"spec\":{" POD_SPEC_DEFAULTS "}}}}");

	snprintf(
		in, sizeof(in),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"r\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},%s}}",
		tmpl_in);
	snprintf(
		want, sizeof(want),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"r\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL_OUT
		",\"replicas\":1}}");
	check_defaults(in, want);

	snprintf(
		in, sizeof(in),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"ds\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},%s}}",
		tmpl_in);
	snprintf(
		want, sizeof(want),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"ds\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL_OUT ","
		"\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
		"{\"maxUnavailable\":1,\"maxSurge\":0}},\"revisionHistoryLimit\":10}}");
	check_defaults(in, want);

	snprintf(
		in, sizeof(in),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"s\"},"
		"\"spec\":{\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"app\":\"x\"}},%s,"
		"\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{"
		"\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
		"\"1Gi\"}}}}]}}",
		tmpl_in);
	snprintf(
		want, sizeof(want),
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"s\"},"
		"\"spec\":{\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL_OUT
		",\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{"
		"\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
		"\"1Gi\"}},\"volumeMode\":\"Filesystem\"},\"status\":{\"phase\":\"Pending\"}}],"
		"\"podManagementPolicy\":\"OrderedReady\",\"updateStrategy\":{\"type\":"
		"\"RollingUpdate\",\"rollingUpdate\":{\"partition\":0}},"
		"\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Retain\","
		"\"whenScaled\":\"Retain\"},\"replicas\":1,\"revisionHistoryLimit\":10}}");
	check_defaults(in, want);

	snprintf(in, sizeof(in),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\",\"metadata\":{\"name\":"
		 "\"rc\"},\"spec\":{%s}}",
		 tmpl_in);
	snprintf(want, sizeof(want),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\",\"metadata\":{\"name\":"
		 "\"rc\",\"labels\":{\"app\":\"x\"}},\"spec\":{" TMPL_OUT ",\"selector\":{\"app\":"
		 "\"x\"},\"replicas\":1}}");
	check_defaults(in, want);
#undef TMPL_OUT
}

static void
test_batch(void **state)
{
	(void)state;
#define JOB_TMPL_IN                                                                            \
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},\"spec\":{\"restartPolicy\":" \
	"\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"app:1\"}]}}"
#define JOB_TMPL_OUT                                                                                                          \
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},\"spec\":{\"restartPolicy\":"                                \
	"\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"app:1\"," CONTAINER_DEFAULTS(                                  \
		"IfNotPresent") "}],"                                                                                         \
				"\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":{},\"terminationGracePeriodSeconds\":30," \
				"\"schedulerName\":\"default-scheduler\"}}"
	check_defaults(
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\"},"
		"\"spec\":{" JOB_TMPL_IN "}}",
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"labels\":"
		"{\"app\":\"x\"}},\"spec\":{" JOB_TMPL_OUT ",\"completions\":1,\"parallelism\":1,"
		"\"backoffLimit\":6,\"completionMode\":\"NonIndexed\",\"suspend\":false,"
		"\"podReplacementPolicy\":\"TerminatingOrFailed\",\"manualSelector\":false}}");
	/* parallelism alone; backoffLimitPerIndex; a pod failure policy */
	check_defaults(
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"labels\":"
		"{\"team\":\"a\"}},\"spec\":{\"parallelism\":3,\"completionMode\":\"Indexed\","
		"\"completions\":5,\"backoffLimitPerIndex\":1,\"podFailurePolicy\":{\"rules\":[{"
		"\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}]}," JOB_TMPL_IN
		"}}",
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"labels\":"
		"{\"team\":\"a\"}},\"spec\":{\"parallelism\":3,\"completionMode\":\"Indexed\","
		"\"completions\":5,\"backoffLimitPerIndex\":1,\"podFailurePolicy\":{\"rules\":[{"
		"\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\",\"status\":"
		"\"True\"}]}]}," JOB_TMPL_OUT ",\"backoffLimit\":2147483647,\"suspend\":false,"
		"\"podReplacementPolicy\":\"Failed\",\"manualSelector\":false}}");
	check_defaults(
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\"},"
		"\"spec\":{\"schedule\":\"@daily\",\"jobTemplate\":{\"spec\":{" JOB_TMPL_IN "}}}}",
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\"},"
		"\"spec\":{\"schedule\":\"@daily\",\"jobTemplate\":{\"spec\":{" JOB_TMPL_OUT "}},"
		"\"concurrencyPolicy\":\"Allow\",\"suspend\":false,\"successfulJobsHistoryLimit\":3,"
		"\"failedJobsHistoryLimit\":1}}");
#undef JOB_TMPL_IN
#undef JOB_TMPL_OUT
}

static void
test_service(void **state)
{
	(void)state;
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{"
		"\"selector\":{\"app\":\"x\"},\"ports\":[{\"port\":80},{\"name\":\"dns\",\"port\":53,"
		"\"protocol\":\"UDP\",\"targetPort\":\"dns\"}]}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{"
		"\"selector\":{\"app\":\"x\"},\"ports\":[{\"port\":80,\"protocol\":\"TCP\","
		"\"targetPort\":80},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\",\"targetPort\":"
		"\"dns\"}],\"sessionAffinity\":\"None\",\"type\":\"ClusterIP\","
		"\"internalTrafficPolicy\":\"Cluster\",\"ipFamilyPolicy\":\"SingleStack\","
		"\"ipFamilies\":[\"IPv4\"]}}");
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{"
		"\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.3.4\",\"sessionAffinity\":"
		"\"ClientIP\",\"ports\":[{\"port\":443,\"targetPort\":0}]}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{"
		"\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.3.4\",\"sessionAffinity\":"
		"\"ClientIP\",\"ports\":[{\"port\":443,\"targetPort\":443,\"protocol\":\"TCP\"}],"
		"\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":10800}},"
		"\"externalTrafficPolicy\":\"Cluster\",\"internalTrafficPolicy\":\"Cluster\","
		"\"allocateLoadBalancerNodePorts\":true,\"clusterIPs\":[\"10.96.3.4\"],"
		"\"ipFamilyPolicy\":\"SingleStack\",\"ipFamilies\":[\"IPv4\"]}}");
	/* headless without a selector: every family of the cluster */
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		"\"spec\":{\"clusterIP\":\"None\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		"\"spec\":{\"clusterIP\":\"None\",\"sessionAffinity\":\"None\",\"type\":"
		"\"ClusterIP\",\"internalTrafficPolicy\":\"Cluster\",\"clusterIPs\":[\"None\"],"
		"\"ipFamilyPolicy\":\"RequireDualStack\",\"ipFamilies\":[\"IPv4\"]}}");
	check_defaults("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		       "\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\"}}",
		       "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		       "\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\","
		       "\"sessionAffinity\":\"None\"}}");
}

static void
test_core_others(void **state)
{
	(void)state;
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\","
		"\"labels\":{\"kubernetes.io/metadata.name\":\"a\"}},\"status\":{\"phase\":"
		"\"Active\"}}");
	check_defaults("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}",
		       "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
		       "\"type\":\"Opaque\"}");
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":\"pv\"},"
		"\"spec\":{\"capacity\":{\"storage\":\"1.5Gi\"},\"hostPath\":{\"path\":\"/srv\"}}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":\"pv\"},"
		"\"spec\":{\"capacity\":{\"storage\":\"1536Mi\"},\"hostPath\":{\"path\":\"/srv\","
		"\"type\":\"\"},\"persistentVolumeReclaimPolicy\":\"Retain\",\"volumeMode\":"
		"\"Filesystem\"},\"status\":{\"phase\":\"Pending\"}}");
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"c\"},"
		"\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
		"\"1Gi\"}}}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"c\"},"
		"\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
		"\"1Gi\"}},\"volumeMode\":\"Filesystem\"},\"status\":{\"phase\":\"Pending\"}}");
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"e\"},\"subsets\":"
		"[{\"addresses\":[{\"ip\":\"10.1.1.1\"}],\"ports\":[{\"port\":80}]}]}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"e\"},\"subsets\":"
		"[{\"addresses\":[{\"ip\":\"10.1.1.1\"}],\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}]}");
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"status\":{"
		"\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"status\":{"
		"\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},\"allocatable\":{"
		"\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}");
	/* kinds without defaults are left alone */
	check_defaults(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}");
}

static void
test_other_groups(void **state)
{
	(void)state;
	check_defaults(
		"{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{"
		"\"name\":\"h\"},\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"d\"},"
		"\"maxReplicas\":5,\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":60}}}}",
		"{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{"
		"\"name\":\"h\"},\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"d\"},"
		"\"maxReplicas\":5,\"behavior\":{\"scaleDown\":{\"selectPolicy\":\"Max\",\"policies\":"
		"[{\"type\":\"Percent\",\"value\":100,\"periodSeconds\":15}],"
		"\"stabilizationWindowSeconds\":60},\"scaleUp\":{\"stabilizationWindowSeconds\":0,"
		"\"selectPolicy\":\"Max\",\"policies\":[{\"type\":\"Pods\",\"value\":4,\"periodSeconds\":"
		"15},{\"type\":\"Percent\",\"value\":100,\"periodSeconds\":15}]}},\"minReplicas\":1,"
		"\"metrics\":[{\"type\":\"Resource\",\"resource\":{\"name\":\"cpu\",\"target\":{"
		"\"type\":\"Utilization\",\"averageUtilization\":80}}}]}}");
	check_defaults("{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\","
		       "\"metadata\":{\"name\":\"sc\"},\"provisioner\":\"example.com/p\"}",
		       "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\","
		       "\"metadata\":{\"name\":\"sc\"},\"provisioner\":\"example.com/p\","
		       "\"reclaimPolicy\":\"Delete\",\"volumeBindingMode\":\"Immediate\"}");
	check_defaults(
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
		"{\"name\":\"b\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\"},{\"kind\":"
		"\"ServiceAccount\",\"name\":\"sa\"},{\"kind\":\"Group\",\"name\":\"g\"}],\"roleRef\":"
		"{\"kind\":\"Role\",\"name\":\"r\"}}",
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
		"{\"name\":\"b\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"jane\",\"apiGroup\":"
		"\"rbac.authorization.k8s.io\"},{\"kind\":\"ServiceAccount\",\"name\":\"sa\"},{\"kind\":"
		"\"Group\",\"name\":\"g\",\"apiGroup\":\"rbac.authorization.k8s.io\"}],\"roleRef\":"
		"{\"kind\":\"Role\",\"name\":\"r\",\"apiGroup\":\"rbac.authorization.k8s.io\"}}");
	check_defaults(
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		"\"metadata\":{\"name\":\"b\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"r\"}}",
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		"\"metadata\":{\"name\":\"b\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"r\","
		"\"apiGroup\":\"rbac.authorization.k8s.io\"}}");
	check_defaults("{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
		       "\"metadata\":{\"name\":\"p\"},\"value\":10}",
		       "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
		       "\"metadata\":{\"name\":\"p\"},\"value\":10,\"preemptionPolicy\":"
		       "\"PreemptLowerPriority\"}");
	check_defaults(
		"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
		"\"name\":\"e\"},\"addressType\":\"IPv4\",\"endpoints\":[],\"ports\":[{\"port\":80}]}",
		"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
		"\"name\":\"e\"},\"addressType\":\"IPv4\",\"endpoints\":[],\"ports\":[{\"port\":80,"
		"\"name\":\"\",\"protocol\":\"TCP\"}]}");
}

/* Values of the wrong type are left for validation to report. */
static void
test_wrong_types(void **state)
{
	(void)state;
	check_defaults("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		       "\"d\"},\"spec\":{\"replicas\":\"3\",\"strategy\":[],\"template\":7}}",
		       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		       "\"d\"},\"spec\":{\"replicas\":\"3\",\"strategy\":[],\"template\":7,"
		       "\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":600}}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_pod_nested),
		cmocka_unit_test(test_image_pull_policy),
		cmocka_unit_test(test_workloads),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_core_others),
		cmocka_unit_test(test_other_groups),
		cmocka_unit_test(test_wrong_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
