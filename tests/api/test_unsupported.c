/*
 * The fields korch refuses (KORCH_EUNSUPPORTED, one cause per field naming its path), wherever
 * they occur: a Pod's spec, a workload's template, a CronJob's job template, other kinds.
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

static const char pod[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
	"\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"name\":\"c\","
	"\"image\":\"busybox\"}],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}}";
static const char deployment[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
	"\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"d\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{"
	"\"name\":\"c\",\"image\":\"busybox\"}]}}}}";
static const char cron_job[] =
	"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\","
	"\"namespace\":\"default\"},\"spec\":{\"schedule\":\"@daily\",\"jobTemplate\":{\"spec\":{"
	"\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\","
	"\"image\":\"busybox\"}]}}}}}}";
static const char service[] = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
			      "\"name\":\"s\",\"namespace\":\"default\"},\"spec\":{\"type\":"
			      "\"NodePort\",\"ports\":[{\"port\":80}]}}";

#define NOT "not supported by korch"

static const struct ucase {
	const char *name;
	const char *base;
	const char *set[6];
	const char *want; /* "field: message" per cause, '\n' between; NULL: accepted */
} cases[] = {
	{ "a plain pod", pod, { NULL }, NULL },
	{ "runtimeClassName",
	  pod,
	  { "spec.runtimeClassName", "\"gvisor\"" },
	  "spec.runtimeClassName: " NOT " (RuntimeClasses are not implemented: every pod runs in "
	  "korch's one runtime)" },
	{ "runtimeClassName in a template",
	  deployment,
	  { "spec.template.spec.runtimeClassName", "\"gvisor\"" },
	  "spec.template.spec.runtimeClassName: " NOT " (RuntimeClasses are not implemented: every "
	  "pod runs in korch's one runtime)" },
	{ "runtimeClassName in a job template",
	  cron_job,
	  { "spec.jobTemplate.spec.template.spec.runtimeClassName", "\"kata\"" },
	  "spec.jobTemplate.spec.template.spec.runtimeClassName: " NOT " (RuntimeClasses are not "
	  "implemented: every pod runs in korch's one runtime)" },
	{ "overhead",
	  pod,
	  { "spec.overhead", "{\"cpu\":\"100m\"}" },
	  "spec.overhead: " NOT
	  " (pod overhead comes with RuntimeClasses, which are not implemented)" },
	{ "resource claims",
	  pod,
	  { "spec.resourceClaims", "[{\"name\":\"gpu\",\"resourceClaimName\":\"gpu\"}]",
	    "spec.containers[0].resources", "{\"claims\":[{\"name\":\"gpu\"}]}" },
	  "spec.resourceClaims: " NOT " (dynamic resource allocation is not implemented)\n"
	  "spec.containers[0].resources.claims: " NOT " (dynamic resource allocation is not "
	  "implemented)" },
	{ "linux", pod, { "spec.os", "{\"name\":\"linux\"}" }, NULL },
	{ "windows",
	  pod,
	  { "spec.os", "{\"name\":\"windows\"}" },
	  "spec.os.name: " NOT " (korch runs Linux containers only)" },
	{ "host user namespace", pod, { "spec.hostUsers", "true" }, NULL },
	{ "user namespaces",
	  pod,
	  { "spec.hostUsers", "false" },
	  "spec.hostUsers: " NOT " (user namespaces are not implemented yet)" },
	{ "scheduling gates",
	  pod,
	  { "spec.schedulingGates", "[{\"name\":\"wait\"}]" },
	  "spec.schedulingGates: " NOT " (the scheduler does not implement scheduling gates)" },
	{ "ephemeral containers",
	  pod,
	  { "spec.ephemeralContainers", "[{\"name\":\"debug\",\"image\":\"busybox\"}]" },
	  "spec.ephemeralContainers: " NOT " (ephemeral containers (kubectl debug) are not "
	  "implemented)" },
	{ "SELinux",
	  pod,
	  { "spec.securityContext", "{\"seLinuxOptions\":{\"level\":\"s0:c1\"}}",
	    "spec.containers[0].securityContext", "{\"seLinuxOptions\":{\"type\":\"t\"}}" },
	  "spec.securityContext.seLinuxOptions: " NOT " (SELinux labels are not implemented)\n"
	  "spec.containers[0].securityContext.seLinuxOptions: " NOT " (SELinux labels are not "
	  "implemented)" },
	{ "AppArmor field",
	  pod,
	  { "spec.initContainers", "[{\"name\":\"i\",\"image\":\"busybox\",\"securityContext\":{"
				   "\"appArmorProfile\":{\"type\":\"RuntimeDefault\"}}}]" },
	  "spec.initContainers[0].securityContext.appArmorProfile: " NOT " (AppArmor is not "
	  "implemented)" },
	{ "AppArmor annotation",
	  deployment,
	  { "spec.template.metadata.annotations",
	    "{\"container.apparmor.security.beta.kubernetes.io/c\":\"runtime/default\",\"a\":\"b\"}" },
	  "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]: " NOT
	  " (AppArmor is not implemented)" },
	{ "procMount Default",
	  pod,
	  { "spec.containers[0].securityContext", "{\"procMount\":\"Default\"}" },
	  NULL },
	{ "procMount Unmasked",
	  pod,
	  { "spec.containers[0].securityContext", "{\"procMount\":\"Unmasked\"}" },
	  "spec.containers[0].securityContext.procMount: " NOT " (an unmasked /proc needs user "
	  "namespaces, which are not implemented yet)" },
	{ "gRPC probe",
	  pod,
	  { "spec.containers[0].readinessProbe", "{\"grpc\":{\"port\":9090}}" },
	  "spec.containers[0].readinessProbe.grpc: " NOT " (gRPC probes are not implemented)" },
	{ "supported volumes",
	  pod,
	  { "spec.volumes[1]", "{\"name\":\"a\",\"hostPath\":{\"path\":\"/srv\"}}",
	    "spec.volumes[2]", "{\"name\":\"b\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}",
	    "spec.volumes[3]", "{\"name\":\"m\",\"emptyDir\":{\"medium\":\"Memory\"}}" },
	  NULL },
	{ "NFS volume",
	  pod,
	  { "spec.volumes[1]", "{\"name\":\"n\",\"nfs\":{\"server\":\"nas\",\"path\":\"/x\"}}" },
	  "spec.volumes[1].nfs: " NOT " (korch has no volume plugin for it)" },
	{ "ephemeral volume",
	  pod,
	  { "spec.volumes[1]", "{\"name\":\"e\",\"ephemeral\":{\"volumeClaimTemplate\":{}}}" },
	  "spec.volumes[1].ephemeral: " NOT " (generic ephemeral volumes (a claim per pod) are not "
	  "implemented yet)" },
	{ "huge pages volume",
	  pod,
	  { "spec.volumes[0].emptyDir.medium", "\"HugePages-2Mi\"" },
	  "spec.volumes[0].emptyDir.medium: " NOT
	  " (huge page backed volumes are not implemented)" },
	{ "Cluster traffic", service, { "spec.externalTrafficPolicy", "\"Cluster\"" }, NULL },
	{ "Local traffic",
	  service,
	  { "spec.externalTrafficPolicy", "\"Local\"" },
	  "spec.externalTrafficPolicy: " NOT
	  " (the proxy balances over the endpoints of every node)" },
	{ "external IPs and IPv6",
	  service,
	  { "spec.externalIPs", "[\"192.0.2.1\"]", "spec.ipFamilies", "[\"IPv4\",\"IPv6\"]" },
	  "spec.externalIPs: " NOT " (the proxy does not route external IPs)\n"
	  "spec.ipFamilies[1]: " NOT " (the pod network is IPv4 only)" },
	{ "NFS persistent volume",
	  "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":\"pv\"},"
	  "\"spec\":{\"nfs\":{\"server\":\"nas\",\"path\":\"/x\"}}}",
	  { NULL },
	  "spec.nfs: " NOT " (korch provides hostPath and local persistent volumes only)" },
	{ "claim from a snapshot",
	  "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"c\"},"
	  "\"spec\":{\"dataSource\":{\"kind\":\"VolumeSnapshot\",\"name\":\"s\",\"apiGroup\":"
	  "\"snapshot.storage.k8s.io\"}}}",
	  { NULL },
	  "spec.dataSource: " NOT " (volume cloning and snapshots are not implemented)" },
	{ "Job managed elsewhere",
	  "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\"},\"spec\":{"
	  "\"managedBy\":\"example.com/queue\"}}",
	  { NULL },
	  "spec.managedBy: " NOT " (korch's job controller runs every Job)" },
	{ "Job managed by the job controller",
	  "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\"},\"spec\":{"
	  "\"managedBy\":\"kubernetes.io/job-controller\"}}",
	  { NULL },
	  NULL },
	{ "custom metrics",
	  "{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{"
	  "\"name\":\"h\"},\"spec\":{\"metrics\":[{\"type\":\"Resource\"},{\"type\":\"Pods\"}]}}",
	  { NULL },
	  "spec.metrics[1].type: " NOT " (Pods metrics need a custom metrics API, which korch does "
	  "not serve)" },
	{ "coordinated leader election",
	  "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
	  "\"l\"},\"spec\":{\"strategy\":\"OldestEmulationVersion\"}}",
	  { NULL },
	  "spec.strategy: " NOT " (coordinated leader election (alpha in Kubernetes 1.32) is not "
	  "implemented)" },
};

static void
test_refusals(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct ucase *c = &cases[i];
		json_t *obj = J(c->base);
		const struct kind_info *k = K(json_string_value(json_object_get(obj, "apiVersion")),
					      json_string_value(json_object_get(obj, "kind")));
		for (size_t j = 0; j < ARRAY_SIZE(c->set) && c->set[j]; j += 2)
			mutate(obj, c->set[j], c->set[j + 1]);
		korch_error *err = NULL;
		int rc = object_check_supported(obj, k, &err);
		char got[4096] = "";
		size_t n = err ? korch_error_cause_count(err) : 0;
		bool reasons = true;
		for (size_t j = 0; j < n; j++) {
			size_t len = strlen(got);
			snprintf(got + len, sizeof(got) - len, "%s%s: %s", j ? "\n" : "",
				 korch_error_cause_field(err, j),
				 korch_error_cause_message(err, j));
			reasons &= streq(korch_error_cause_reason(err, j), "FieldValueForbidden");
		}
		bool ok = c->want ? rc == KORCH_EUNSUPPORTED && korch_error_code(err) == rc &&
					    reasons && streq(got, c->want)
				  : rc == 0 && !err;
		if (!ok) {
			print_error("case \"%s\": rc %d\n  want: %s\n  got:  %s\n", c->name, rc,
				    c->want ? c->want : "(accepted)", err ? got : "(accepted)");
			failures++;
		}
		korch_error_free(err);
		json_decref(obj);
	}
	if (failures)
		fail_msg("%d of %zu cases failed", failures, ARRAY_SIZE(cases));
}

/* The message lists the fields as Kubernetes' aggregates do: one plain, several in brackets. */
static void
test_message(void **state)
{
	(void)state;
	const struct kind_info *k = K("v1", "Pod");
	json_t *p = J(pod);
	mutate(p, "spec.runtimeClassName", "\"gvisor\"");
	korch_error *err = NULL;
	assert_int_equal(object_check_supported(p, k, &err), KORCH_EUNSUPPORTED);
	assert_string_equal(korch_error_message(err),
			    "spec.runtimeClassName: " NOT " (RuntimeClasses are not implemented: "
			    "every pod runs in korch's one runtime)");
	korch_error_free(err);
	err = NULL;
	mutate(p, "spec.hostUsers", "false");
	assert_int_equal(object_check_supported(p, k, &err), KORCH_EUNSUPPORTED);
	assert_string_equal(korch_error_message(err),
			    "[spec.runtimeClassName: " NOT " (RuntimeClasses are not implemented: "
			    "every pod runs in korch's one runtime), spec.hostUsers: " NOT
			    " (user namespaces are not implemented yet)]");
	korch_error_free(err);
	json_decref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
