/* kubectl's columns: Tables built per kind, human durations, the text rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/table.h"
#include "base/error.h"
#include "base/json.h"
#include "base/macro.h"
#include "base/util.h"

/* 2026-11-26T15:41:00Z */
static const int64_t now = 1795707660LL * NSEC_PER_SEC;

static void
test_human_duration(void **state)
{
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {
		{ -5, "<invalid>" },
		{ -1, "0s" },
		{ 0, "0s" },
		{ 119, "119s" },
		{ 120, "2m" },
		{ 200, "3m20s" },
		{ 600, "10m" },
		{ 10799, "179m" },
		{ 10800, "3h" },
		{ 11000, "3h3m" },
		{ 8 * 3600, "8h" },
		{ 47 * 3600, "47h" },
		{ 49 * 3600, "2d1h" },
		{ 8 * 86400, "8d" },
		{ 729 * 86400, "729d" },
		{ 731 * 86400, "2y1d" },
		{ 9 * 365 * 86400LL, "9y" },
	};
	char buf[32];
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		human_duration(cases[i].s * NSEC_PER_SEC, buf);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%lld s: got %s want %s", (long long)cases[i].s, buf,
				 cases[i].want);
	}
}

static json_t *
build(const char *kind, const char *objects_json)
{
	json_t *objs = json_loads(objects_json, 0, NULL);
	assert_non_null(objs);
	json_t *table = NULL;
	assert_int_equal(table_build(kind, objs, now, TABLE_INCLUDE_METADATA, &table, NULL), 0);
	json_decref(objs);
	return table;
}

static char *
render(const json_t *table, struct table_print_options opts)
{
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(table_print(table, &opts, &sb, NULL), 0);
	return strbuf_steal(&sb);
}

static void
test_pods(void **state)
{
	_cleanup_json_ json_t *t = build(
		"Pod",
		"[{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
		"\"creationTimestamp\":\"2026-11-26T15:36:00Z\",\"labels\":{\"b\":\"2\",\"a\":\"1\"}},"
		"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
		"\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.244.0.5\"}],"
		"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
		"\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":true,\"restartCount\":2,\"state\":{\"running\":{}},"
		"\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-26T15:40:00Z\"}}},"
		"{\"name\":\"b\",\"ready\":false,\"restartCount\":0,"
		"\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}},"
		"{\"metadata\":{\"name\":\"init\",\"namespace\":\"ns2\","
		"\"creationTimestamp\":\"2026-11-24T15:41:00Z\"},"
		"\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
		"\"containers\":[{\"name\":\"c\"}]},"
		"\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
		"{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
		"{\"name\":\"i2\",\"state\":{\"running\":{}}}]}},"
		"{\"metadata\":{\"name\":\"done\",\"creationTimestamp\":\"2026-11-26T15:40:30Z\"},"
		"\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
		"\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"c\","
		"\"state\":{\"terminated\":{\"exitCode\":3}}}]}}]");
	_cleanup_free_ char *text = render(t, (struct table_print_options){ 0 });
	assert_string_equal(text, "NAME    READY   STATUS             RESTARTS      AGE\n"
				  "web-1   1/2     CrashLoopBackOff   2 (60s ago)   5m\n"
				  "init    0/1     Init:1/2           0             2d\n"
				  "done    0/1     ExitCode:3         0             30s\n");
	_cleanup_free_ char *wide =
		render(t, (struct table_print_options){
				  .wide = true, .with_namespace = true, .show_labels = true });
	assert_string_equal(
		wide,
		"NAMESPACE   NAME    READY   STATUS             RESTARTS      AGE   IP           NODE     NOMINATED NODE   READINESS GATES   LABELS\n"
		"default     web-1   1/2     CrashLoopBackOff   2 (60s ago)   5m    10.244.0.5   n1       <none>           <none>            a=1,b=2\n"
		"ns2         init    0/1     Init:1/2           0             2d    <none>       <none>   <none>           <none>            <none>\n"
		"            done    0/1     ExitCode:3         0             30s   <none>       <none>   <none>           <none>            <none>\n");
	/* The row object is PartialObjectMetadata. */
	json_t *obj = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object");
	assert_string_equal(json_string_value(json_object_get(obj, "kind")),
			    "PartialObjectMetadata");
}

static void
test_deployment_and_service(void **state)
{
	_cleanup_json_ json_t *d = build(
		"Deployment",
		"[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2026-11-26T12:00:00Z\"},"
		"\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.27\"},"
		"{\"name\":\"side\",\"image\":\"busybox\"}]}}},"
		"\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":2}}]");
	_cleanup_free_ char *dt = render(d, (struct table_print_options){ .wide = true });
	assert_string_equal(
		dt,
		"NAME   READY   UP-TO-DATE   AVAILABLE   AGE     CONTAINERS   IMAGES               SELECTOR\n"
		"web    2/3     3            2           3h41m   nginx,side   nginx:1.27,busybox   app=web\n");
	_cleanup_json_ json_t *s = build(
		"Service",
		"[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2026-11-26T15:40:00Z\"},"
		"\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.4.2\",\"clusterIPs\":[\"10.96.4.2\"],"
		"\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"nodePort\":30080,"
		"\"protocol\":\"TCP\"},{\"port\":53,\"protocol\":\"UDP\"}]}},"
		"{\"metadata\":{\"name\":\"kubernetes\",\"creationTimestamp\":\"2026-11-26T15:40:00Z\"},"
		"\"spec\":{\"type\":\"ClusterIP\",\"clusterIPs\":[\"10.96.0.1\"],"
		"\"ports\":[{\"port\":443,\"protocol\":\"TCP\"}]}}]");
	_cleanup_free_ char *st = render(
		s, (struct table_print_options){ .with_kind = true, .kind_prefix = "service" });
	assert_string_equal(
		st,
		"NAME                 TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)               AGE\n"
		"service/web          NodePort    10.96.4.2    <none>        80:30080/TCP,53/UDP   60s\n"
		"service/kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP               60s\n");
}

static void
test_default_and_no_headers(void **state)
{
	_cleanup_json_ json_t *t =
		build("ClusterRole", "[{\"metadata\":{\"name\":\"view\","
				     "\"creationTimestamp\":\"2026-11-26T15:00:00Z\"}}]");
	_cleanup_free_ char *text = render(t, (struct table_print_options){ .no_headers = true });
	assert_string_equal(text, "view   2026-11-26T15:00:00Z\n");
	_cleanup_json_ json_t *cols = table_columns("SomethingElse");
	assert_int_equal(json_array_size(cols), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "name")),
			    "Created At");
}

static void
test_nodes_jobs_events(void **state)
{
	_cleanup_json_ json_t *n = build(
		"Node",
		"[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2026-11-25T15:41:00Z\","
		"\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\"}},"
		"\"spec\":{\"unschedulable\":true},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
		"\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0-korch\"}}}]");
	_cleanup_free_ char *nt = render(n, (struct table_print_options){ 0 });
	assert_string_equal(
		nt, "NAME   STATUS                     ROLES           AGE   VERSION\n"
		    "n1     Ready,SchedulingDisabled   control-plane   24h   v1.32.0-korch\n");
	_cleanup_json_ json_t *j = build(
		"Job",
		"[{\"metadata\":{\"name\":\"pi\",\"creationTimestamp\":\"2026-11-26T15:30:00Z\"},"
		"\"spec\":{\"completions\":3,\"template\":{\"spec\":{\"containers\":[]}}},"
		"\"status\":{\"succeeded\":3,\"startTime\":\"2026-11-26T15:30:00Z\","
		"\"completionTime\":\"2026-11-26T15:31:05Z\","
		"\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}]");
	_cleanup_free_ char *jt = render(j, (struct table_print_options){ 0 });
	assert_string_equal(jt, "NAME   STATUS     COMPLETIONS   DURATION   AGE\n"
				"pi     Complete   3/3           65s        11m\n");
	_cleanup_json_ json_t *e = build(
		"Event",
		"[{\"metadata\":{\"name\":\"web.1\"},\"type\":\"Normal\",\"reason\":\"Scheduled\","
		"\"message\":\" Successfully assigned default/web to n1\\n\","
		"\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\"},"
		"\"firstTimestamp\":\"2026-11-26T15:40:50Z\",\"count\":1}]");
	_cleanup_free_ char *et = render(e, (struct table_print_options){ 0 });
	assert_string_equal(
		et,
		"LAST SEEN   TYPE     REASON      OBJECT    MESSAGE\n"
		"10s         Normal   Scheduled   pod/web   Successfully assigned default/web to n1\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_human_duration),
		cmocka_unit_test(test_pods),
		cmocka_unit_test(test_deployment_and_service),
		cmocka_unit_test(test_default_and_no_headers),
		cmocka_unit_test(test_nodes_jobs_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
