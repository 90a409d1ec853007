/*
 * Tolerations against taints and node selectors against nodes, case by case as Kubernetes'
 * v1.Toleration.ToleratesTaint and nodeaffinity.GetRequiredNodeAffinity decide them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/nodematch.h"
#include "base/macro.h"

static json_t *
J(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	return j;
}

static const struct {
	const char *toleration;
	const char *taint;
	bool tolerates;
} toleration_cases[] = {
	{ "{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
	  "{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}", true },
	{ "{\"key\":\"k\",\"value\":\"v\"}",
	  "{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}",
	  true }, /* empty operator is Equal, empty effect every effect */
	{ "{\"key\":\"k\",\"value\":\"w\"}",
	  "{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}", false },
	{ "{\"key\":\"k\",\"operator\":\"Exists\"}",
	  "{\"key\":\"k\",\"value\":\"x\",\"effect\":\"NoSchedule\"}", true },
	{ "{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}",
	  "{\"key\":\"k\",\"effect\":\"NoExecute\"}", false },
	{ "{\"key\":\"j\",\"operator\":\"Exists\"}", "{\"key\":\"k\",\"effect\":\"NoSchedule\"}",
	  false },
	{ "{\"operator\":\"Exists\"}", "{\"key\":\"anything\",\"effect\":\"NoExecute\"}", true },
	{ "{\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}",
	  "{\"key\":\"a\",\"effect\":\"PreferNoSchedule\"}", false },
	{ "{\"key\":\"k\",\"operator\":\"Lt\",\"value\":\"v\"}",
	  "{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}",
	  false }, /* an unknown operator tolerates nothing */
	{ "{\"key\":\"k\"}", "{\"key\":\"k\",\"effect\":\"NoSchedule\"}", true }, /* "" == "" */
};

static void
test_tolerations(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(toleration_cases); i++) {
		json_t *tol = J(toleration_cases[i].toleration);
		json_t *taint = J(toleration_cases[i].taint);
		if (toleration_tolerates(tol, taint) != toleration_cases[i].tolerates)
			fail_msg("case %zu: %s vs %s", i, toleration_cases[i].toleration,
				 toleration_cases[i].taint);
		json_decref(tol);
		json_decref(taint);
	}
}

static bool
no_execute(const json_t *taint)
{
	return !strcmp(json_string_value(json_object_get(taint, "effect")), "NoExecute");
}

static void
test_untolerated(void **state)
{
	json_t *taints = J("[{\"key\":\"a\",\"effect\":\"NoSchedule\"},"
			   "{\"key\":\"b\",\"effect\":\"NoExecute\"}]");
	json_t *tols = J("[{\"key\":\"b\",\"operator\":\"Exists\"}]");
	const json_t *t = untolerated_taint(taints, tols, NULL);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "key")), "a");
	assert_null(untolerated_taint(taints, tols, no_execute));
	assert_null(untolerated_taint(NULL, tols, NULL));
	json_t *none = J("[]");
	t = untolerated_taint(taints, none, no_execute);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "key")), "b");
	json_decref(none);
	json_decref(taints);
	json_decref(tols);
}

static const struct {
	const char *pod_spec;
	bool matches;
} affinity_cases[] = {
	{ "{}", true },
	{ "{\"nodeSelector\":{\"disk\":\"ssd\"}}", true },
	{ "{\"nodeSelector\":{\"disk\":\"hdd\"}}", false },
	{ "{\"nodeSelector\":{\"gpu\":\"yes\"}}", false },
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
	  "\"values\":[\"a\",\"b\"]}]}]}}}}",
	  true },
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\","
	  "\"values\":[\"a\"]}]}]}}}}",
	  false },
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\","
	  "\"values\":[\"a\"]}]},{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
	  "\"values\":[\"n1\"]}]}]}}}}",
	  true }, /* terms are ORed */
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
	  "\"values\":[\"n2\"]}]}]}}}}",
	  false },
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"cpus\",\"operator\":\"Gt\","
	  "\"values\":[\"8\"]},{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}]}}}}",
	  true },
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"cpus\",\"operator\":\"Lt\","
	  "\"values\":[\"8\"]}]}]}}}}",
	  false },
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[{}]}}}}",
	  false }, /* an empty term matches nothing */
	{ "{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	  "{\"nodeSelectorTerms\":[]}}}}",
	  false },
};

static void
test_affinity(void **state)
{
	json_t *node =
		J("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"disk\":\"ssd\",\"zone\":\"a\","
		  "\"cpus\":\"16\"}}}");
	for (size_t i = 0; i < ARRAY_SIZE(affinity_cases); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "{\"spec\":%s}", affinity_cases[i].pod_spec);
		json_t *pod = J(text);
		if (pod_node_affinity_matches(pod, node) != affinity_cases[i].matches)
			fail_msg("case %zu: %s", i, affinity_cases[i].pod_spec);
		json_decref(pod);
	}
	json_decref(node);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tolerations),
		cmocka_unit_test(test_untolerated),
		cmocka_unit_test(test_affinity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
