/*
 * Validation of the core kinds besides Pod (Service, ConfigMap, Secret, ServiceAccount,
 * Endpoints, Node, Event, Namespace) and of object metadata, as Kubernetes 1.32 does it.
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

#define DNS1035                                                                                      \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an " \
	"alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "         \
	"'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define CONFIG_KEY                                                                           \
	"a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. " \
	"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
#define QUALIFIED_NAME                                                                            \
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and " \
	"end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex " \
	"used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

/* --- Service ------------------------------------------------------------------------------- */

static const char service[] = "{\"apiVersion\":\"v1\",\"kind\":\"Service\","
			      "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
			      "\"spec\":{\"selector\":{\"app\":\"web\"},"
			      "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}";

static const struct vcase service_cases[] = {
	{ "the base service", { NULL }, NULL },
	{ "name not a DNS-1035 label",
	  { "metadata.name", "\"1web\"" },
	  "[Invalid] metadata.name: Invalid value: \"1web\": " DNS1035 },
	{ "no ports", { "spec.ports", "[]" }, "[Required] spec.ports: Required value" },
	{ "port 0",
	  { "spec.ports[0].port", "0" },
	  "[Invalid] spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" },
	{ "second port without a name",
	  { "spec.ports[1]", "{\"port\":443,\"protocol\":\"TCP\",\"targetPort\":443}" },
	  "[Required] spec.ports[1].name: Required value" },
	{ "duplicate port names",
	  { "spec.ports[1]",
	    "{\"name\":\"http\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":443}" },
	  "[Duplicate] spec.ports[1].name: Duplicate value: \"http\"" },
	{ "port name not a DNS label",
	  { "spec.ports[0].name", "\"HTTP\"" },
	  "[Invalid] spec.ports[0].name: Invalid value: \"HTTP\": a lowercase RFC 1123 label must "
	  "consist of lower case alphanumeric characters or '-', and must start and end with an "
	  "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
	  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')" },
	{ "protocol unknown",
	  { "spec.ports[0].protocol", "\"HTTP\"" },
	  "[NotSupported] spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: "
	  "\"SCTP\", \"TCP\", \"UDP\"" },
	{ "targetPort name",
	  { "spec.ports[0].targetPort", "\"Http\"" },
	  "[Invalid] spec.ports[0].targetPort: Invalid value: \"Http\": must contain only "
	  "alpha-numeric characters (a-z, 0-9), and hyphens (-)" },
	{ "targetPort number",
	  { "spec.ports[0].targetPort", "70000" },
	  "[Invalid] spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, "
	  "inclusive" },
	{ "same port twice",
	  { "spec.ports[1]",
	    "{\"name\":\"b\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}" },
	  "[Duplicate] spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
	  "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
	  "StrVal:\"\"}, NodePort:0}" },
	{ "type unknown",
	  { "spec.type", "\"Mesh\"" },
	  "[NotSupported] spec.type: Unsupported value: \"Mesh\": supported values: \"ClusterIP\", "
	  "\"ExternalName\", \"LoadBalancer\", \"NodePort\"" },
	{ "nodePort on a ClusterIP service",
	  { "spec.ports[0].nodePort", "30080" },
	  "[Forbidden] spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
	  "'ClusterIP'" },
	{ "clusterIP without clusterIPs",
	  { "spec.clusterIP", "\"10.96.0.20\"" },
	  "[Required] spec.clusterIPs: Required value" },
	{ "clusterIPs not matching clusterIP",
	  { "spec.clusterIP", "\"10.96.0.20\"", "spec.clusterIPs", "[\"10.96.0.21\"]" },
	  "[Invalid] spec.clusterIPs: Invalid value: []string{\"10.96.0.21\"}: first value must match "
	  "`clusterIP`" },
	{ "clusterIP not an IP",
	  { "spec.clusterIP", "\"10.96.0\"", "spec.clusterIPs", "[\"10.96.0\"]" },
	  "[Invalid] spec.clusterIPs[0]: Invalid value: \"10.96.0\": must be a valid IP address, "
	  "(e.g. 10.9.8.7 or 2001:db8::ffff)" },
	{ "headless", { "spec.clusterIP", "\"None\"", "spec.clusterIPs", "[\"None\"]" }, NULL },
	{ "headless without ports",
	  { "spec.clusterIP", "\"None\"", "spec.clusterIPs", "[\"None\"]", "spec.ports", "[]" },
	  NULL },
	{ "sessionAffinity unknown",
	  { "spec.sessionAffinity", "\"Sticky\"" },
	  "[NotSupported] spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: "
	  "\"ClientIP\", \"None\"" },
	{ "ClientIP timeout 0",
	  { "spec.sessionAffinity", "\"ClientIP\"", "spec.sessionAffinityConfig",
	    "{\"clientIP\":{\"timeoutSeconds\":0}}" },
	  "[Invalid] spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be "
	  "greater than 0 and less than 86400" },
	{ "affinity config with None",
	  { "spec.sessionAffinityConfig", "{\"clientIP\":{\"timeoutSeconds\":60}}" },
	  "[Forbidden] spec.sessionAffinityConfig: Forbidden: must not be set when session affinity "
	  "is None" },
	{ "externalTrafficPolicy on a ClusterIP service",
	  { "spec.externalTrafficPolicy", "\"Cluster\"" },
	  "[Invalid] spec.externalTrafficPolicy: Invalid value: \"Cluster\": may only be set for "
	  "externally-accessible services" },
	{ "internalTrafficPolicy unknown",
	  { "spec.internalTrafficPolicy", "\"Node\"" },
	  "[NotSupported] spec.internalTrafficPolicy: Unsupported value: \"Node\": supported values: "
	  "\"Cluster\", \"Local\"" },
	{ "loadBalancerSourceRanges on a ClusterIP service",
	  { "spec.loadBalancerSourceRanges", "[\"10.0.0.0/8\"]" },
	  "[Forbidden] spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is "
	  "'LoadBalancer'" },
	{ "ipFamilies unknown",
	  { "spec.ipFamilies", "[\"IPv5\"]" },
	  "[NotSupported] spec.ipFamilies[0]: Unsupported value: \"IPv5\": supported values: "
	  "\"IPv4\", \"IPv6\"" },
	{ "NodePort",
	  { "spec.type", "\"NodePort\"", "spec.externalTrafficPolicy", "\"Cluster\"" },
	  NULL },
	{ "headless NodePort",
	  { "spec.type", "\"NodePort\"", "spec.externalTrafficPolicy", "\"Cluster\"",
	    "spec.clusterIP", "\"None\"", "spec.clusterIPs", "[\"None\"]" },
	  "[Invalid] spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for "
	  "NodePort services" },
	{ "NodePort twice",
	  { "spec.type", "\"NodePort\"", "spec.externalTrafficPolicy", "\"Cluster\"",
	    "spec.ports[0].nodePort", "30080", "spec.ports[1]",
	    "{\"name\":\"b\",\"port\":81,\"protocol\":\"TCP\",\"targetPort\":81,\"nodePort\":30080}" },
	  "[Duplicate] spec.ports[1].nodePort: Duplicate value: 30080" },
	{ "LoadBalancer exposing the kubelet port",
	  { "spec.type", "\"LoadBalancer\"", "spec.externalTrafficPolicy", "\"Cluster\"",
	    "spec.allocateLoadBalancerNodePorts", "true", "spec.ports[0].port", "10250" },
	  "[Invalid] spec.ports[0]: Invalid value: 10250: may not expose port 10250 externally since "
	  "it is used by kubelet" },
	{ "selector value",
	  { "spec.selector.app", "\"-x\"" },
	  "[Invalid] spec.selector: Invalid value: \"-x\": a valid label must be an empty string or "
	  "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
	  "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
	  "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" },
};

static void
test_service(void **state)
{
	(void)state;
	run_cases(service, NULL, service_cases, ARRAY_SIZE(service_cases));
}

static const char external_name[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\","
	"\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\"}}";

static const struct vcase external_name_cases[] = {
	{ "the base ExternalName service", { NULL }, NULL },
	{ "externalName missing",
	  { "spec.externalName", DEL },
	  "[Required] spec.externalName: Required value" },
	{ "externalName not a subdomain",
	  { "spec.externalName", "\"db_1.example.com\"" },
	  "[Invalid] spec.externalName: Invalid value: \"db_1.example.com\": a lowercase RFC 1123 "
	  "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
	  "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
	  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" },
	{ "cluster IPs",
	  { "spec.clusterIP", "\"10.96.0.3\"", "spec.clusterIPs", "[\"10.96.0.3\"]" },
	  "[Forbidden] spec.clusterIPs: Forbidden: may not be set for ExternalName services" },
};

static void
test_service_external_name(void **state)
{
	(void)state;
	run_cases(external_name, NULL, external_name_cases, ARRAY_SIZE(external_name_cases));
}

static const char service_stored[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
	"\"spec\":{\"clusterIP\":\"10.96.0.20\",\"selector\":{\"app\":\"web\"},"
	"\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}";

static const struct vcase service_updates[] = {
	{ "new selector", { "spec.selector.app", "\"web2\"" }, NULL },
	{ "cluster IP changed",
	  { "spec.clusterIP", "\"10.96.0.21\"", "spec.clusterIPs", "[\"10.96.0.21\"]" },
	  "[Invalid] spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.21\"}: may not change once "
	  "set" },
};

static void
test_service_update(void **state)
{
	(void)state;
	run_cases(service_stored, service_stored, service_updates, ARRAY_SIZE(service_updates));
}

/* --- ConfigMap, Secret, ServiceAccount ----------------------------------------------------- */

static const char config_map[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
				 "\"metadata\":{\"name\":\"cfg\",\"namespace\":\"default\"},"
				 "\"data\":{\"app.conf\":\"x=1\"},"
				 "\"binaryData\":{\"logo.png\":\"aGVsbG8=\"}}";

static const struct vcase config_map_cases[] = {
	{ "the base config map", { NULL }, NULL },
	{ "key with a space",
	  { "data[a b]", "\"1\"" },
	  "[Invalid] data[a b]: Invalid value: \"a b\": " CONFIG_KEY },
	{ "key ..",
	  { "data[..]", "\"1\"" },
	  "[Invalid] data[..]: Invalid value: \"..\": must not be '..'" },
	{ "key starting with ..",
	  { "data[..a]", "\"1\"" },
	  "[Invalid] data[..a]: Invalid value: \"..a\": must not start with '..'" },
	{ "key in data and binaryData",
	  { "data[logo.png]", "\"x\"" },
	  "[Invalid] data[logo.png]: Invalid value: \"logo.png\": duplicate of key present in "
	  "binaryData" },
	{ "binaryData key",
	  { "binaryData[a:b]", "\"aGk=\"" },
	  "[Invalid] binaryData[a:b]: Invalid value: \"a:b\": " CONFIG_KEY },
};

static void
test_config_map(void **state)
{
	(void)state;
	run_cases(config_map, NULL, config_map_cases, ARRAY_SIZE(config_map_cases));
	/* more than 1 MiB in all */
	const struct kind_info *k = K("v1", "ConfigMap");
	json_t *cm = J(config_map);
	char *big = malloc(1024 * 1024 + 1);
	memset(big, 'x', 1024 * 1024);
	big[1024 * 1024] = 0;
	json_object_set_new(json_object_get(cm, "data"), "big", json_string(big));
	free(big);
	korch_error *err = NULL;
	assert_int_equal(object_validate(cm, NULL, k, &err), KORCH_EINVALID);
	char *got = causes_text(err);
	assert_string_equal(got, "[TooLong] : Too long: may not be more than 1048576 bytes");
	assert_string_equal(
		korch_error_message(err),
		"ConfigMap \"cfg\" is invalid: : Too long: may not be more than 1048576 "
		"bytes");
	free(got);
	korch_error_free(err);
	json_decref(cm);
}

static const struct vcase config_map_updates[] = {
	{ "made immutable", { "immutable", "true" }, NULL },
};

static const struct vcase immutable_config_map_updates[] = {
	{ "unchanged", { NULL }, NULL },
	{ "data changed",
	  { "data[app.conf]", "\"x=2\"" },
	  "[Forbidden] data: Forbidden: field is immutable when `immutable` is set" },
	{ "made mutable",
	  { "immutable", "false" },
	  "[Forbidden] immutable: Forbidden: field is immutable when `immutable` is set" },
};

static void
test_config_map_update(void **state)
{
	(void)state;
	run_cases(config_map, config_map, config_map_updates, ARRAY_SIZE(config_map_updates));
	json_t *cm = J(config_map);
	mutate(cm, "immutable", "true");
	char *text = json_dumps(cm, JSON_COMPACT);
	run_cases(text, text, immutable_config_map_updates,
		  ARRAY_SIZE(immutable_config_map_updates));
	free(text);
	json_decref(cm);
}

static const char secret[] = "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
			     "\"metadata\":{\"name\":\"creds\",\"namespace\":\"default\"},"
			     "\"data\":{\"password\":\"cGFzcw==\"}}";

static const struct vcase secret_cases[] = {
	{ "the base secret", { NULL }, NULL },
	{ "key with a slash",
	  { "data[a/b]", "\"eA==\"" },
	  "[Invalid] data[a/b]: Invalid value: \"a/b\": " CONFIG_KEY },
	{ "tls without its keys",
	  { "type", "\"kubernetes.io/tls\"" },
	  "[Required] data[tls.crt]: Required value\n[Required] data[tls.key]: Required value" },
	{ "dockerconfigjson missing",
	  { "type", "\"kubernetes.io/dockerconfigjson\"" },
	  "[Required] data[.dockerconfigjson]: Required value" },
	{ "dockerconfigjson not JSON",
	  { "type", "\"kubernetes.io/dockerconfigjson\"", "data[.dockerconfigjson]", "\"ew==\"" },
	  "[Invalid] data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": "
	  "unexpected end of JSON input" },
	{ "dockerconfigjson with a stray character",
	  { "type", "\"kubernetes.io/dockerconfigjson\"", "data[.dockerconfigjson]",
	    "\"eyJhdXRocyI6IHt9fX0=\"" },
	  "[Invalid] data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": "
	  "invalid character '}' after top-level value" },
	{ "dockerconfigjson an array",
	  { "type", "\"kubernetes.io/dockerconfigjson\"", "data[.dockerconfigjson]", "\"W10=\"" },
	  "[Invalid] data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": json: "
	  "cannot unmarshal array into Go value of type map[string]interface {}" },
	{ "dockerconfigjson",
	  { "type", "\"kubernetes.io/dockerconfigjson\"", "data[.dockerconfigjson]",
	    "\"eyJhdXRocyI6e319\"" },
	  NULL },
	{ "basic-auth without username and password",
	  { "type", "\"kubernetes.io/basic-auth\"", "data[password]", DEL },
	  "[Required] data[username]: Required value\n[Required] data[password]: Required value" },
	{ "basic-auth with a password only",
	  { "type", "\"kubernetes.io/basic-auth\"", "data[password]", "\"eA==\"" },
	  NULL },
	{ "ssh-auth without a key",
	  { "type", "\"kubernetes.io/ssh-auth\"" },
	  "[Required] data[ssh-privatekey]: Required value" },
	{ "service account token without the account",
	  { "type", "\"kubernetes.io/service-account-token\"" },
	  "[Required] metadata.annotations[kubernetes.io/service-account.name]: Required value" },
	{ "own type", { "type", "\"example.com/thing\"" }, NULL },
};

static void
test_secret(void **state)
{
	(void)state;
	run_cases(secret, NULL, secret_cases, ARRAY_SIZE(secret_cases));
}

static const struct vcase secret_updates[] = {
	{ "new data", { "data[password]", "\"eA==\"" }, NULL },
	{ "type changed",
	  { "type", "\"example.com/thing\"" },
	  "[Invalid] type: Invalid value: \"example.com/thing\": field is immutable" },
};

static void
test_secret_update(void **state)
{
	(void)state;
	run_cases(secret, secret, secret_updates, ARRAY_SIZE(secret_updates));
}

static const struct vcase service_account_cases[] = {
	{ "the base service account", { NULL }, NULL },
	{ "name with capitals",
	  { "metadata.name", "\"Builder\"" },
	  "[Invalid] metadata.name: Invalid value: \"Builder\": a lowercase RFC 1123 subdomain must "
	  "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
	  "alphanumeric character (e.g. 'example.com', regex used for validation is "
	  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" },
};

static void
test_service_account(void **state)
{
	(void)state;
	run_cases("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":"
		  "\"builder\",\"namespace\":\"ci\"}}",
		  NULL, service_account_cases, ARRAY_SIZE(service_account_cases));
}

/* --- Endpoints, Node, Event, Namespace ----------------------------------------------------- */

static const char endpoints[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
	"\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.2.3\",\"nodeName\":\"node-1\"}],"
	"\"ports\":[{\"port\":8080}]}]}";

static const struct vcase endpoints_cases[] = {
	{ "the base endpoints", { NULL }, NULL },
	{ "subset without addresses",
	  { "subsets[0].addresses", DEL },
	  "[Required] subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`" },
	{ "loopback address",
	  { "subsets[0].addresses[0].ip", "\"127.0.0.1\"" },
	  "[Invalid] subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the "
	  "loopback range (127.0.0.0/8, ::1/128)" },
	{ "not an address",
	  { "subsets[0].addresses[0].ip", "\"web\"" },
	  "[Invalid] subsets[0].addresses[0].ip: Invalid value: \"web\": must be a valid IP address, "
	  "(e.g. 10.9.8.7 or 2001:db8::ffff)\n"
	  "[Invalid] subsets[0].addresses[0].ip: Invalid value: \"web\": must be a valid IP address" },
	{ "second port without a name",
	  { "subsets[0].ports[1]", "{\"port\":9090,\"protocol\":\"TCP\"}" },
	  "[Required] subsets[0].ports[0].name: Required value\n"
	  "[Required] subsets[0].ports[1].name: Required value" },
	{ "port 0",
	  { "subsets[0].ports[0].port", "0" },
	  "[Invalid] subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, "
	  "inclusive" },
};

static void
test_endpoints(void **state)
{
	(void)state;
	run_cases(endpoints, NULL, endpoints_cases, ARRAY_SIZE(endpoints_cases));
}

static const char node[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\"},"
	"\"spec\":{\"podCIDR\":\"10.244.1.0/24\",\"podCIDRs\":[\"10.244.1.0/24\"],"
	"\"taints\":[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]}}";

static const struct vcase node_cases[] = {
	{ "the base node", { NULL }, NULL },
	{ "namespaced",
	  { "metadata.namespace", "\"default\"" },
	  "[Forbidden] metadata.namespace: Forbidden: not allowed on this type" },
	{ "taint effect unknown (under metadata, as upstream reports it)",
	  { "spec.taints[0].effect", "\"Never\"" },
	  "[NotSupported] metadata.taints[0].effect: Unsupported value: \"Never\": supported values: "
	  "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"" },
	{ "taint twice",
	  { "spec.taints[1]", "{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoSchedule\"}" },
	  "[Duplicate] metadata.taints[1]: Duplicate value: core.Taint{Key:\"dedicated\", Value:\"x\", "
	  "Effect:\"NoSchedule\", TimeAdded:<nil>}: taints must be unique by key and effect pair" },
	{ "pod CIDR",
	  { "spec.podCIDRs", "[\"10.244.1.0\"]", "spec.podCIDR", "\"10.244.1.0\"" },
	  "[Invalid] spec.podCIDRs[0]: Invalid value: \"10.244.1.0\": must be a valid CIDR value, "
	  "(e.g. 10.9.8.0/24 or 2001:db8::/64)" },
};

static void
test_node(void **state)
{
	(void)state;
	run_cases(node, NULL, node_cases, ARRAY_SIZE(node_cases));
}

static const struct vcase node_updates[] = {
	{ "taint removed", { "spec.taints", "[]" }, NULL },
	{ "pod CIDR changed",
	  { "spec.podCIDRs", "[\"10.244.2.0/24\"]", "spec.podCIDR", "\"10.244.2.0/24\"" },
	  "[Forbidden] spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "
	  "\"\" to valid" },
};

static void
test_node_update(void **state)
{
	(void)state;
	run_cases(node, node, node_updates, ARRAY_SIZE(node_updates));
}

static const char event[] = "{\"apiVersion\":\"v1\",\"kind\":\"Event\","
			    "\"metadata\":{\"name\":\"web.17a\",\"namespace\":\"default\"},"
			    "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\","
			    "\"namespace\":\"default\"},"
			    "\"reason\":\"Started\",\"message\":\"Started container app\"}";

static const struct vcase event_cases[] = {
	{ "the base event", { NULL }, NULL },
	{ "involved object in another namespace",
	  { "involvedObject.namespace", "\"other\"" },
	  "[Invalid] involvedObject.namespace: Invalid value: \"other\": does not match "
	  "event.namespace" },
	{ "new-style event without its fields",
	  { "eventTime", "\"2025-01-01T00:00:00.000000Z\"", "reason", DEL },
	  "[Required] reportingController: Required value\n"
	  "[Invalid] reportingController: Invalid value: \"\": name part must be non-empty\n"
	  "[Invalid] reportingController: Invalid value: \"\": " QUALIFIED_NAME "\n"
	  "[Required] reportingInstance: Required value\n"
	  "[Required] action: Required value\n"
	  "[Required] reason: Required value" },
};

static void
test_event(void **state)
{
	(void)state;
	run_cases(event, NULL, event_cases, ARRAY_SIZE(event_cases));
}

static const struct vcase namespace_cases[] = {
	{ "the base namespace", { NULL }, NULL },
	{ "name with a dot",
	  { "metadata.name", "\"team.a\"", "metadata.labels[kubernetes.io/metadata.name]",
	    "\"team.a\"" },
	  "[Invalid] metadata.name: Invalid value: \"team.a\": must not contain dots" },
	{ "finalizer neither standard nor qualified",
	  { "spec.finalizers", "[\"foo\"]" },
	  "[Invalid] spec.finalizers: Invalid value: \"foo\": name is neither a standard finalizer "
	  "name nor is it fully qualified" },
	{ "standard finalizer", { "spec.finalizers", "[\"kubernetes\"]" }, NULL },
};

static void
test_namespace(void **state)
{
	(void)state;
	run_cases(
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-a\"}}",
		NULL, namespace_cases, ARRAY_SIZE(namespace_cases));
}

/* --- metadata ------------------------------------------------------------------------------ */

static const struct vcase meta_cases[] = {
	{ "label key",
	  { "metadata.labels[a b]", "\"x\"" },
	  "[Invalid] metadata.labels: Invalid value: \"a b\": " QUALIFIED_NAME },
	{ "label value too long",
	  { "metadata.labels.a",
	    "\"a234567890123456789012345678901234567890123456789012345678901234\"" },
	  "[Invalid] metadata.labels: Invalid value: "
	  "\"a234567890123456789012345678901234567890123456789012345678901234\": must be no more "
	  "than 63 characters" },
	{ "annotation key",
	  { "metadata.annotations[-x]", "\"1\"" },
	  "[Invalid] metadata.annotations: Invalid value: \"-x\": " QUALIFIED_NAME },
	{ "negative generation",
	  { "metadata.generation", "-1" },
	  "[Invalid] metadata.generation: Invalid value: -1: must be greater than or equal to 0" },
	{ "owner reference without its fields",
	  { "metadata.ownerReferences", "[{}]" },
	  "[Invalid] metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be "
	  "empty\n"
	  "[Invalid] metadata.ownerReferences.kind: Invalid value: \"\": kind must not be empty\n"
	  "[Invalid] metadata.ownerReferences.name: Invalid value: \"\": name must not be empty\n"
	  "[Invalid] metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty" },
	{ "an Event as owner",
	  { "metadata.ownerReferences",
	    "[{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"e\",\"uid\":\"1\"}]" },
	  "[Invalid] metadata.ownerReferences: Invalid value: v1.OwnerReference{APIVersion:\"v1\", "
	  "Kind:\"Event\", Name:\"e\", UID:\"1\", Controller:(*bool)(nil), "
	  "BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed from being an owner" },
	{ "two controllers",
	  { "metadata.ownerReferences",
	    "[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"a\",\"uid\":\"1\","
	    "\"controller\":true},{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
	    "\"name\":\"b\",\"uid\":\"2\",\"controller\":true}]" },
	  "[Invalid] metadata.ownerReferences: Invalid value: []v1.OwnerReference{v1.OwnerReference"
	  "{APIVersion:\"apps/v1\", Kind:\"ReplicaSet\", Name:\"a\", UID:\"1\", Controller:(*bool)"
	  "(true), BlockOwnerDeletion:(*bool)(nil)}, v1.OwnerReference{APIVersion:\"apps/v1\", "
	  "Kind:\"ReplicaSet\", Name:\"b\", UID:\"2\", Controller:(*bool)(true), "
	  "BlockOwnerDeletion:(*bool)(nil)}}: Only one reference can have Controller set to true. "
	  "Found \"true\" in references for ReplicaSet/a and ReplicaSet/b" },
	{ "finalizer not qualified",
	  { "metadata.finalizers", "[\"a b/c\"]" },
	  "[Invalid] metadata.finalizers: Invalid value: \"a b/c\": prefix part a lowercase RFC 1123 "
	  "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
	  "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
	  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" },
	{ "finalizer neither standard nor qualified",
	  { "metadata.finalizers", "[\"keep\"]" },
	  "[Invalid] metadata.finalizers[0]: Invalid value: \"keep\": name is neither a standard "
	  "finalizer name nor is it fully qualified" },
	{ "orphan and foregroundDeletion",
	  { "metadata.finalizers", "[\"orphan\",\"foregroundDeletion\"]" },
	  "[Invalid] metadata.finalizers: Invalid value: []string{\"orphan\", "
	  "\"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set" },
	{ "qualified finalizer", { "metadata.finalizers", "[\"example.com/cleanup\"]" }, NULL },
};

static void
test_metadata(void **state)
{
	(void)state;
	run_cases(config_map, NULL, meta_cases, ARRAY_SIZE(meta_cases));
}

static const char config_map_stored[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\","
	"\"namespace\":\"default\",\"uid\":\"c0ffee\",\"generation\":2,"
	"\"creationTimestamp\":\"2025-01-02T03:04:05Z\"},\"data\":{\"a\":\"1\"}}";

static const struct vcase meta_updates[] = {
	{ "labels added", { "metadata.labels.app", "\"x\"" }, NULL },
	{ "namespace changed",
	  { "metadata.namespace", "\"other\"" },
	  "[Invalid] metadata.namespace: Invalid value: \"other\": field is immutable" },
	{ "generation decremented",
	  { "metadata.generation", "1" },
	  "[Invalid] metadata.generation: Invalid value: 1: must not be decremented" },
	{ "creationTimestamp removed",
	  { "metadata.creationTimestamp", DEL },
	  "[Invalid] metadata.creationTimestamp: Invalid value: 0001-01-01 00:00:00 +0000 UTC: field "
	  "is immutable" },
};

static void
test_metadata_update(void **state)
{
	(void)state;
	run_cases(config_map_stored, config_map_stored, meta_updates, ARRAY_SIZE(meta_updates));
}

/* A finalizer added while the object is being deleted. */
static void
test_metadata_update_deleting(void **state)
{
	(void)state;
	json_t *old = J(config_map_stored);
	mutate(old, "metadata.deletionTimestamp", "\"2025-02-01T00:00:00Z\"");
	mutate(old, "metadata.finalizers", "[\"example.com/a\"]");
	char *text = json_dumps(old, JSON_COMPACT);
	static const struct vcase cases[] = {
		{ "finalizer removed", { "metadata.finalizers", "[]" }, NULL },
		{ "finalizer added",
		  { "metadata.finalizers[1]", "\"example.com/b\"" },
		  "[Forbidden] metadata.finalizers: Forbidden: no new finalizers can be added if the "
		  "object is being deleted, found new finalizers []string{\"example.com/b\"}" },
	};
	run_cases(text, text, cases, ARRAY_SIZE(cases));
	free(text);
	json_decref(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_service_external_name),
		cmocka_unit_test(test_service_update),
		cmocka_unit_test(test_config_map),
		cmocka_unit_test(test_config_map_update),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_secret_update),
		cmocka_unit_test(test_service_account),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_node_update),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_metadata_update),
		cmocka_unit_test(test_metadata_update_deleting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
