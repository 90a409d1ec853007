/*
 * Pod validation as Kubernetes 1.32 does it: one valid pod, then one mutation per rule with the
 * exact field path, cause type and message expected; then the update rules.
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
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
	"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1.36\","
	"\"command\":[\"sleep\",\"3600\"],"
	"\"ports\":[{\"name\":\"http\",\"containerPort\":8080}],"
	"\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
	"\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/data\"}],"
	"\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"},"
	"\"limits\":{\"cpu\":\"200m\",\"memory\":\"128Mi\"}},"
	"\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8080}}}],"
	"\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},"
	"{\"name\":\"cfg\",\"configMap\":{\"name\":\"cfg\"}}]}}";

/* A container with the fields defaulting would give it. */
#define CTR(name)                                                                            \
	"{\"name\":\"" name "\",\"image\":\"busybox\",\"imagePullPolicy\":\"IfNotPresent\"," \
	"\"terminationMessagePolicy\":\"File\"}"

#define C0 "spec.containers[0]"
#define RFC1123_LABEL                                                                            \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define RFC1123_SUBDOMAIN                                                                         \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "     \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define QUALIFIED_NAME                                                                            \
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and " \
	"end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex " \
	"used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

static const struct vcase create_cases[] = {
	{ "the base pod", { NULL }, NULL },
	/* containers */
	{ "no containers",
	  { "spec.containers", "[]" },
	  "[Required] spec.containers: Required value" },
	{ "container name missing",
	  { C0 ".name", "\"\"" },
	  "[Required] " C0 ".name: Required value" },
	{ "container name not a DNS label",
	  { C0 ".name", "\"App_1\"" },
	  "[Invalid] " C0 ".name: Invalid value: \"App_1\": " RFC1123_LABEL },
	{ "duplicate container names",
	  { "spec.containers[1]", CTR("app") },
	  "[Duplicate] spec.containers[1].name: Duplicate value: \"app\"" },
	{ "image missing", { C0 ".image", "\"\"" }, "[Required] " C0 ".image: Required value" },
	{ "image with surrounding space",
	  { C0 ".image", "\" busybox\"" },
	  "[Invalid] " C0 ".image: Invalid value: \" busybox\": must not have leading or trailing "
	  "whitespace" },
	{ "imagePullPolicy unknown",
	  { C0 ".imagePullPolicy", "\"Sometimes\"" },
	  "[NotSupported] " C0
	  ".imagePullPolicy: Unsupported value: \"Sometimes\": supported values: "
	  "\"Always\", \"IfNotPresent\", \"Never\"" },
	{ "imagePullPolicy empty",
	  { C0 ".imagePullPolicy", "\"\"" },
	  "[Required] " C0 ".imagePullPolicy: Required value" },
	{ "terminationMessagePolicy empty",
	  { C0 ".terminationMessagePolicy", "\"\"" },
	  "[Required] " C0 ".terminationMessagePolicy: Required value" },
	{ "terminationMessagePolicy unknown",
	  { C0 ".terminationMessagePolicy", "\"Log\"" },
	  "[NotSupported] " C0 ".terminationMessagePolicy: Unsupported value: \"Log\": supported "
	  "values: \"File\", \"FallbackToLogsOnError\"" },
	/* ports */
	{ "containerPort missing",
	  { C0 ".ports[0].containerPort", DEL },
	  "[Required] " C0 ".ports[0].containerPort: Required value" },
	{ "containerPort too large",
	  { C0 ".ports[0].containerPort", "70000" },
	  "[Invalid] " C0 ".ports[0].containerPort: Invalid value: 70000: must be between 1 and "
	  "65535, inclusive" },
	{ "hostPort too large",
	  { C0 ".ports[0].hostPort", "65536" },
	  "[Invalid] " C0 ".ports[0].hostPort: Invalid value: 65536: must be between 1 and 65535, "
	  "inclusive" },
	{ "protocol unknown",
	  { C0 ".ports[0].protocol", "\"HTTP\"" },
	  "[NotSupported] " C0 ".ports[0].protocol: Unsupported value: \"HTTP\": supported values: "
	  "\"SCTP\", \"TCP\", \"UDP\"" },
	{ "protocol empty",
	  { C0 ".ports[0].protocol", "\"\"" },
	  "[Required] " C0 ".ports[0].protocol: Required value" },
	{ "port name too long and without letters",
	  { C0 ".ports[0].name", "\"1234567890123456\"" },
	  "[Invalid] " C0
	  ".ports[0].name: Invalid value: \"1234567890123456\": must be no more than "
	  "15 characters\n"
	  "[Invalid] " C0
	  ".ports[0].name: Invalid value: \"1234567890123456\": must contain at least "
	  "one letter (a-z)" },
	{ "duplicate port names",
	  { C0 ".ports[1]", "{\"name\":\"http\",\"containerPort\":9090,\"protocol\":\"TCP\"}" },
	  "[Duplicate] " C0 ".ports[1].name: Duplicate value: \"http\"" },
	{ "host port used twice",
	  { C0 ".ports[0].hostPort", "8080", "spec.containers[1]",
	    "{\"name\":\"b\",\"image\":\"busybox\",\"imagePullPolicy\":\"IfNotPresent\","
	    "\"terminationMessagePolicy\":\"File\",\"ports\":[{\"containerPort\":80,"
	    "\"hostPort\":8080,\"protocol\":\"TCP\"}]}" },
	  "[Duplicate] spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"" },
	/* env */
	{ "env name missing",
	  { C0 ".env[0].name", "\"\"" },
	  "[Required] " C0 ".env[0].name: Required value" },
	{ "env name with =",
	  { C0 ".env[0].name", "\"A=B\"" },
	  "[Invalid] " C0 ".env[0].name: Invalid value: \"A=B\": a valid environment variable name "
	  "must consist only of printable ASCII characters other than '='" },
	{ "valueFrom without a source",
	  { C0 ".env[0]", "{\"name\":\"B\",\"valueFrom\":{}}" },
	  "[Invalid] " C0
	  ".env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, "
	  "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`" },
	{ "valueFrom with two sources",
	  { C0 ".env[0]",
	    "{\"name\":\"B\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"},"
	    "\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}" },
	  "[Invalid] " C0
	  ".env[0].valueFrom: Invalid value: \"\": may not have more than one field "
	  "specified at a time" },
	{ "value and valueFrom",
	  { C0 ".env[0]",
	    "{\"name\":\"B\",\"value\":\"x\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\","
	    "\"key\":\"k\"}}}" },
	  "[Invalid] " C0 ".env[0].valueFrom: Invalid value: \"\": may not be specified when "
	  "`value` is not empty" },
	{ "fieldRef to an unknown field",
	  { C0 ".env[0]", "{\"name\":\"B\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\","
			  "\"fieldPath\":\"spec.foo\"}}}" },
	  "[Invalid] " C0
	  ".env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.foo\": error "
	  "converting fieldPath: field label not supported: spec.foo" },
	{ "fieldRef to a field env cannot use",
	  { C0 ".env[0]", "{\"name\":\"B\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\","
			  "\"fieldPath\":\"status.phase\"}}}" },
	  "[NotSupported] " C0 ".env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "
	  "\"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", "
	  "\"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", "
	  "\"status.hostIPs\", \"status.podIP\", \"status.podIPs\"" },
	{ "secretKeyRef key missing",
	  { C0 ".env[0]", "{\"name\":\"B\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\"}}}" },
	  "[Required] " C0 ".env[0].valueFrom.secretKeyRef.key: Required value" },
	{ "resourceFieldRef divisor for cpu",
	  { C0 ".env[0]",
	    "{\"name\":\"B\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\","
	    "\"divisor\":\"2\"}}}" },
	  "[Invalid] " C0 ".env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "
	  "\"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu resource" },
	{ "envFrom without a source",
	  { C0 ".envFrom", "[{\"prefix\":\"P_\"}]" },
	  "[Invalid] " C0 ".envFrom: Invalid value: \"\": must specify one of: `configMapRef` or "
	  "`secretRef`" },
	/* resources */
	{ "request above limit",
	  { C0 ".resources.requests.cpu", "\"300m\"" },
	  "[Invalid] " C0
	  ".resources.requests: Invalid value: \"300m\": must be less than or equal "
	  "to cpu limit of 200m" },
	{ "unknown resource",
	  { C0 ".resources.limits.foo", "\"1\"" },
	  "[Invalid] " C0 ".resources.limits[foo]: Invalid value: \"foo\": must be a standard "
	  "resource type or fully qualified\n"
	  "[Invalid] " C0 ".resources.limits[foo]: Invalid value: \"foo\": must be a standard "
	  "resource for containers" },
	{ "negative quantity",
	  { C0 ".resources.requests.memory", "\"-1\"" },
	  "[Invalid] " C0
	  ".resources.requests[memory]: Invalid value: \"-1\": must be greater than "
	  "or equal to 0" },
	{ "extended resource needs a limit equal to its request",
	  { C0 ".resources.requests[example.com/gpu]", "\"1\"" },
	  "[Required] " C0 ".resources.limits: Required value: Limit must be set for non "
	  "overcommitable resources" },
	/* volume mounts and volumes */
	{ "mount of an unknown volume",
	  { C0 ".volumeMounts[0].name", "\"nope\"" },
	  "[NotFound] " C0 ".volumeMounts[0].name: Not found: \"nope\"" },
	{ "mountPath missing",
	  { C0 ".volumeMounts[0].mountPath", "\"\"" },
	  "[Required] " C0 ".volumeMounts[0].mountPath: Required value" },
	{ "mountPath twice",
	  { C0 ".volumeMounts[1]", "{\"name\":\"cfg\",\"mountPath\":\"/data\"}" },
	  "[Invalid] " C0 ".volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique" },
	{ "subPath with ..",
	  { C0 ".volumeMounts[0].subPath", "\"a/../../b\"" },
	  "[Invalid] " C0 ".volumeMounts.subPath: Invalid value: \"a/../../b\": must not contain "
	  "'..'" },
	{ "absolute subPath",
	  { C0 ".volumeMounts[0].subPath", "\"/x\"" },
	  "[Invalid] " C0 ".volumeMounts.subPath: Invalid value: \"/x\": must be a relative path" },
	{ "duplicate volume names",
	  { "spec.volumes[1].name", "\"data\"" },
	  "[Duplicate] spec.volumes[1].name: Duplicate value: \"data\"" },
	{ "volume with two sources",
	  { "spec.volumes[0].hostPath", "{\"path\":\"/tmp\",\"type\":\"\"}" },
	  "[Forbidden] spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type\n"
	  "[NotFound] " C0 ".volumeMounts[0].name: Not found: \"data\"" },
	{ "volume without a source",
	  { "spec.volumes[0]", "{\"name\":\"data\"}" },
	  "[Required] spec.volumes[0]: Required value: must specify a volume type\n"
	  "[NotFound] " C0 ".volumeMounts[0].name: Not found: \"data\"" },
	{ "volume name not a DNS label",
	  { "spec.volumes[1].name", "\"Cfg\"" },
	  "[Invalid] spec.volumes[1].name: Invalid value: \"Cfg\": " RFC1123_LABEL },
	{ "configMap volume without a name",
	  { "spec.volumes[1].configMap.name", "\"\"" },
	  "[Required] spec.volumes[1].configMap.name: Required value" },
	{ "defaultMode above 0777",
	  { "spec.volumes[1].configMap.defaultMode", "512" },
	  "[Invalid] spec.volumes[1].configMap.defaultMode: Invalid value: 512: must be a number "
	  "between 0 and 0777 (octal), both inclusive" },
	{ "item path with ..",
	  { "spec.volumes[1].configMap.items", "[{\"key\":\"k\",\"path\":\"../k\"}]" },
	  "[Invalid] spec.volumes[1].configMap.items[0].path: Invalid value: \"../k\": must not "
	  "contain '..'" },
	{ "item path starting with ..",
	  { "spec.volumes[1].configMap.items", "[{\"key\":\"k\",\"path\":\"..k\"}]" },
	  "[Invalid] spec.volumes[1].configMap.items[0].path: Invalid value: \"..k\": must not "
	  "start with '..'" },
	{ "item without key and path",
	  { "spec.volumes[1].configMap.items", "[{}]" },
	  "[Required] spec.volumes[1].configMap.items[0].key: Required value\n"
	  "[Required] spec.volumes[1].configMap.items[0].path: Required value" },
	{ "hostPath type unknown",
	  { "spec.volumes[1]",
	    "{\"name\":\"cfg\",\"hostPath\":{\"path\":\"/srv\",\"type\":\"Foo\"}}" },
	  "[NotSupported] spec.volumes[1].hostPath.type: Unsupported value: \"Foo\": supported "
	  "values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", "
	  "\"File\", \"FileOrCreate\", \"Socket\"" },
	{ "hostPath with ..",
	  { "spec.volumes[1]", "{\"name\":\"cfg\",\"hostPath\":{\"path\":\"/srv/../etc\"}}" },
	  "[Invalid] spec.volumes[1].hostPath.path: Invalid value: \"/srv/../etc\": must not "
	  "contain '..'" },
	{ "persistentVolumeClaim without a claim",
	  { "spec.volumes[1]", "{\"name\":\"cfg\",\"persistentVolumeClaim\":{}}" },
	  "[Required] spec.volumes[1].persistentVolumeClaim.claimName: Required value" },
	{ "secret volume without a name",
	  { "spec.volumes[1]", "{\"name\":\"cfg\",\"secret\":{\"defaultMode\":420}}" },
	  "[Required] spec.volumes[1].secret.secretName: Required value" },
	/* probes and lifecycle */
	{ "probe without a handler",
	  { C0 ".readinessProbe.httpGet", DEL },
	  "[Required] " C0 ".readinessProbe: Required value: must specify a handler type" },
	{ "probe with two handlers",
	  { C0 ".readinessProbe.tcpSocket", "{\"port\":8080}" },
	  "[Forbidden] " C0 ".readinessProbe.tcpSocket: Forbidden: may not specify more than 1 "
	  "handler type" },
	{ "liveness successThreshold",
	  { C0 ".livenessProbe",
	    "{\"exec\":{\"command\":[\"true\"]},\"timeoutSeconds\":1,\"periodSeconds\":10,"
	    "\"successThreshold\":2,\"failureThreshold\":3}" },
	  "[Invalid] " C0 ".livenessProbe.successThreshold: Invalid value: 2: must be 1" },
	{ "negative periodSeconds",
	  { C0 ".readinessProbe.periodSeconds", "-1" },
	  "[Invalid] " C0
	  ".readinessProbe.periodSeconds: Invalid value: -1: must be greater than or "
	  "equal to 0" },
	{ "readiness probe with a grace period",
	  { C0 ".readinessProbe.terminationGracePeriodSeconds", "5" },
	  "[Invalid] " C0
	  ".readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not "
	  "be set for readinessProbes" },
	{ "probe port 0",
	  { C0 ".readinessProbe.httpGet.port", "0" },
	  "[Invalid] " C0 ".readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and "
	  "65535, inclusive" },
	{ "probe port name",
	  { C0 ".readinessProbe.httpGet.port", "\"Web\"" },
	  "[Invalid] " C0 ".readinessProbe.httpGet.port: Invalid value: \"Web\": must contain only "
	  "alpha-numeric characters (a-z, 0-9), and hyphens (-)" },
	{ "probe scheme",
	  { C0 ".readinessProbe.httpGet.scheme", "\"FTP\"" },
	  "[NotSupported] " C0 ".readinessProbe.httpGet.scheme: Unsupported value: \"FTP\": "
	  "supported values: \"HTTP\", \"HTTPS\"" },
	{ "exec without a command",
	  { C0 ".lifecycle", "{\"preStop\":{\"exec\":{}}}" },
	  "[Required] " C0 ".lifecycle.preStop.exec.command: Required value" },
	/* init containers */
	{ "init container restartPolicy",
	  { "spec.initContainers[0]",
	    "{\"name\":\"init\",\"image\":\"busybox\",\"imagePullPolicy\":\"IfNotPresent\","
	    "\"terminationMessagePolicy\":\"File\",\"restartPolicy\":\"Never\"}" },
	  "[NotSupported] spec.initContainers[0].restartPolicy: Unsupported value: \"Never\": "
	  "supported values: \"Always\"" },
	{ "init container with a probe",
	  { "spec.initContainers[0]",
	    "{\"name\":\"init\",\"image\":\"busybox\",\"imagePullPolicy\":\"IfNotPresent\","
	    "\"terminationMessagePolicy\":\"File\",\"livenessProbe\":{\"exec\":{\"command\":"
	    "[\"true\"]},\"timeoutSeconds\":1,\"periodSeconds\":10,\"successThreshold\":1,"
	    "\"failureThreshold\":3}}" },
	  "[Forbidden] spec.initContainers[0].livenessProbe: Forbidden: may not be set for init "
	  "containers without restartPolicy=Always" },
	{ "init container named as a container",
	  { "spec.initContainers[0]", CTR("app") },
	  "[Duplicate] spec.initContainers[0].name: Duplicate value: \"app\"" },
	{ "restartPolicy on a regular container",
	  { C0 ".restartPolicy", "\"Always\"" },
	  "[Forbidden] " C0 ".restartPolicy: Forbidden: may not be set for non-init containers" },
	/* pod-level fields */
	{ "restartPolicy unknown",
	  { "spec.restartPolicy", "\"Sometimes\"" },
	  "[NotSupported] spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: "
	  "\"Always\", \"OnFailure\", \"Never\"" },
	{ "restartPolicy empty",
	  { "spec.restartPolicy", "\"\"" },
	  "[Required] spec.restartPolicy: Required value" },
	{ "dnsPolicy unknown",
	  { "spec.dnsPolicy", "\"Foo\"" },
	  "[NotSupported] spec.dnsPolicy: Unsupported value: \"Foo\": supported values: "
	  "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"" },
	{ "dnsPolicy None without dnsConfig",
	  { "spec.dnsPolicy", "\"None\"" },
	  "[Required] spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is "
	  "None" },
	{ "dnsConfig with four nameservers",
	  { "spec.dnsConfig",
	    "{\"nameservers\":[\"1.1.1.1\",\"1.0.0.1\",\"8.8.8.8\",\"9.9.9.9\"]}" },
	  "[Invalid] spec.dnsConfig.nameservers: Invalid value: []string{\"1.1.1.1\", \"1.0.0.1\", "
	  "\"8.8.8.8\", \"9.9.9.9\"}: must not have more than 3 nameservers" },
	{ "terminationGracePeriodSeconds missing",
	  { "spec.terminationGracePeriodSeconds", DEL },
	  "[Required] spec.terminationGracePeriodSeconds: Required value" },
	{ "activeDeadlineSeconds 0",
	  { "spec.activeDeadlineSeconds", "0" },
	  "[Invalid] spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and "
	  "2147483647, inclusive" },
	{ "nodeSelector key",
	  { "spec.nodeSelector", "{\"a b\":\"x\"}" },
	  "[Invalid] spec.nodeSelector: Invalid value: \"a b\": " QUALIFIED_NAME },
	{ "hostname not a DNS label",
	  { "spec.hostname", "\"Web_1\"" },
	  "[Invalid] spec.hostname: Invalid value: \"Web_1\": " RFC1123_LABEL },
	{ "serviceAccountName not a subdomain",
	  { "spec.serviceAccountName", "\"My SA\"" },
	  "[Invalid] spec.serviceAccountName: Invalid value: \"My SA\": " RFC1123_SUBDOMAIN },
	{ "runAsUser negative",
	  { "spec.securityContext.runAsUser", "-1" },
	  "[Invalid] spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and "
	  "2147483647, inclusive" },
	{ "seccomp Localhost without a profile",
	  { "spec.securityContext.seccompProfile", "{\"type\":\"Localhost\"}" },
	  "[Required] spec.securityContext.seccompProfile.localhostProfile: Required value: must be "
	  "set when seccomp type is Localhost" },
	{ "seccomp type unknown",
	  { C0 ".securityContext", "{\"seccompProfile\":{\"type\":\"Strict\"}}" },
	  "[NotSupported] " C0 ".securityContext.seccompProfile.type: Unsupported value: "
	  "\"Strict\": supported values: \"Localhost\", \"RuntimeDefault\", \"Unconfined\"" },
	{ "privileged without privilege escalation",
	  { C0 ".securityContext", "{\"privileged\":true,\"allowPrivilegeEscalation\":false}" },
	  "[Invalid] " C0 ".securityContext: Invalid value: "
	  "{\"privileged\":true,\"allowPrivilegeEscalation\":false}: cannot set "
	  "`allowPrivilegeEscalation` to false and `privileged` to true" },
	{ "toleration Exists with a value",
	  { "spec.tolerations", "[{\"key\":\"k\",\"operator\":\"Exists\",\"value\":\"v\"}]" },
	  "[Invalid] spec.tolerations[0].operator: Invalid value: core.Toleration{Key:\"k\", "
	  "Operator:\"Exists\", Value:\"v\", Effect:\"\", TolerationSeconds:(*int64)(nil)}: value "
	  "must be empty when `operator` is 'Exists'" },
	{ "toleration operator unknown",
	  { "spec.tolerations", "[{\"key\":\"k\",\"operator\":\"In\"}]" },
	  "[NotSupported] spec.tolerations[0].operator: Unsupported value: \"In\": supported values: "
	  "\"Equal\", \"Exists\"" },
	{ "toleration seconds without NoExecute",
	  { "spec.tolerations", "[{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\","
				"\"tolerationSeconds\":5}]" },
	  "[Invalid] spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be "
	  "'NoExecute' when `tolerationSeconds` is set" },
	{ "toleration without key nor Exists",
	  { "spec.tolerations", "[{\"value\":\"v\"}]" },
	  "[Invalid] spec.tolerations[0].operator: Invalid value: \"\": operator must be Exists "
	  "when `key` is empty, which means \"match all values and all keys\"" },
	{ "node affinity without terms",
	  { "spec.affinity",
	    "{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	    "{\"nodeSelectorTerms\":[]}}}" },
	  "[Required] spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
	  "nodeSelectorTerms: Required value: must have at least one node selector term" },
	{ "pod anti-affinity without topologyKey",
	  { "spec.affinity",
	    "{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	    "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}}" },
	  "[Required] spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
	  ".topologyKey: Required value: can not be empty\n"
	  "[Invalid] spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
	  ".topologyKey: Invalid value: \"\": name part must be non-empty\n"
	  "[Invalid] spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
	  ".topologyKey: Invalid value: \"\": " QUALIFIED_NAME },
	{ "topology spread maxSkew 0",
	  { "spec.topologySpreadConstraints",
	    "[{\"maxSkew\":0,\"topologyKey\":\"kubernetes.io/hostname\","
	    "\"whenUnsatisfiable\":\"DoNotSchedule\"}]" },
	  "[Invalid] spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater "
	  "than zero" },
	{ "readiness gate condition type",
	  { "spec.readinessGates", "[{\"conditionType\":\"a b\"}]" },
	  "[Invalid] spec.readinessGates[0].conditionType: Invalid value: \"a b\": " QUALIFIED_NAME },
	{ "metadata name not a subdomain",
	  { "metadata.name", "\"Web\"" },
	  "[Invalid] metadata.name: Invalid value: \"Web\": " RFC1123_SUBDOMAIN },
	{ "ephemeral containers on create",
	  { "spec.ephemeralContainers",
	    "[{\"name\":\"debug\",\"image\":\"busybox\",\"imagePullPolicy\":\"IfNotPresent\","
	    "\"terminationMessagePolicy\":\"File\"}]" },
	  "[Forbidden] spec.ephemeralContainers: Forbidden: cannot be set on create" },
};

static void
test_pod_create(void **state)
{
	(void)state;
	run_cases(pod, NULL, create_cases, ARRAY_SIZE(create_cases));
}

#define UPDATABLE                                                                                  \
	"pod updates may not change fields other than `spec.containers[*].image`,"                 \
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "    \
	"additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be " \
	"set to 1 if it was previously negative)"

static const char pod_stored[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"6b4c\","
	"\"creationTimestamp\":\"2025-01-02T03:04:05Z\"},"
	"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"busybox:1.36\","
	"\"command\":[\"sleep\",\"3600\"]}],\"activeDeadlineSeconds\":600,"
	"\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}}";

static const struct vcase update_cases[] = {
	{ "nothing changed", { NULL }, NULL },
	{ "new image", { C0 ".image", "\"busybox:1.37\"" }, NULL },
	{ "shorter deadline", { "spec.activeDeadlineSeconds", "300" }, NULL },
	{ "added toleration",
	  { "spec.tolerations[1]", "{\"key\":\"b\",\"operator\":\"Exists\"}" },
	  NULL },
	{ "longer deadline",
	  { "spec.activeDeadlineSeconds", "900" },
	  "[Invalid] spec.activeDeadlineSeconds: Invalid value: 900: must be less than or equal to "
	  "previous value" },
	{ "deadline removed",
	  { "spec.activeDeadlineSeconds", DEL },
	  "[Invalid] spec.activeDeadlineSeconds: Invalid value: null: must not update from a "
	  "positive integer to nil value" },
	{ "toleration changed",
	  { "spec.tolerations[0].key", "\"c\"" },
	  "[Forbidden] spec.tolerations: Forbidden: existing toleration can not be modified except "
	  "its tolerationSeconds" },
	{ "container added",
	  { "spec.containers[1]", CTR("b") },
	  "[Forbidden] spec.containers: Forbidden: pod updates may not add or remove containers" },
	{ "image removed", { C0 ".image", "\"\"" }, "[Required] " C0 ".image: Required value" },
	{ "command changed",
	  { C0 ".command[1]", "\"60\"" },
	  "[Forbidden] spec: Forbidden: " UPDATABLE
	  "\n- spec.containers[0].command[1]: \"3600\"\n+ spec.containers[0].command[1]: \"60\"" },
	{ "name changed",
	  { "metadata.name", "\"web2\"" },
	  "[Invalid] metadata.name: Invalid value: \"web2\": field is immutable" },
	{ "uid changed",
	  { "metadata.uid", "\"x\"" },
	  "[Invalid] metadata.uid: Invalid value: \"x\": field is immutable" },
	{ "creationTimestamp changed",
	  { "metadata.creationTimestamp", "\"2025-01-02T03:04:06Z\"" },
	  "[Invalid] metadata.creationTimestamp: Invalid value: 2025-01-02 03:04:06 +0000 UTC: field "
	  "is immutable" },
};

static void
test_pod_update(void **state)
{
	(void)state;
	run_cases(pod_stored, pod_stored, update_cases, ARRAY_SIZE(update_cases));
}

/* The message of the Invalid error: one cause plain, several in brackets, texts once. */
static void
test_pod_message(void **state)
{
	(void)state;
	const struct kind_info *k = K("v1", "Pod");
	json_t *p = J(pod);
	object_set_defaults(p, k);
	mutate(p, "spec.restartPolicy", "\"\"");
	korch_error *err = NULL;
	assert_int_equal(object_validate(p, NULL, k, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "Pod \"web\" is invalid: spec.restartPolicy: Required value");
	korch_error_free(err);
	err = NULL;
	mutate(p, "spec.dnsPolicy", "\"\"");
	assert_int_equal(object_validate(p, NULL, k, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "Pod \"web\" is invalid: [spec.restartPolicy: Required value, "
			    "spec.dnsPolicy: Required value]");
	korch_error_free(err);
	json_decref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_create),
		cmocka_unit_test(test_pod_update),
		cmocka_unit_test(test_pod_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
