/*
 * Job and CronJob validation as Kubernetes 1.32 does it, create and update, each rule with its
 * exact path and message. The Job is as the write path leaves it before validating: a uid, and
 * the generated selector and template labels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/validate.h"
#include "base/util.h"
#include "test_validate.h"

#define LABELS                                                                  \
	"map[string]string{\"batch.kubernetes.io/controller-uid\":\"u-1\", "    \
	"\"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u-1\", " \
	"\"job-name\":\"pi\"}"

static const char job[] =
	"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
	"\"metadata\":{\"name\":\"pi\",\"namespace\":\"default\",\"uid\":\"u-1\"},"
	"\"spec\":{\"selector\":{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":\"u-1\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"batch.kubernetes.io/controller-uid\":\"u-1\","
	"\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"u-1\",\"job-name\":\"pi\"}},"
	"\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"pi\","
	"\"image\":\"perl:5.34\",\"command\":[\"perl\",\"-e\",\"print 1\"]}]}}}}";

#define LONG "a23456789012345678901234567890123456789012345678901234567890"
#define PFP "spec.podFailurePolicy"
#define RULE0 PFP ".rules[0]"

static const struct vcase job_cases[] = {
	{ "the base job", { NULL }, NULL },
	{ "negative parallelism",
	  { "spec.parallelism", "-1" },
	  "[Invalid] spec.parallelism: Invalid value: -1: must be greater than or equal to 0" },
	{ "negative completions",
	  { "spec.completions", "-1" },
	  "[Invalid] spec.completions: Invalid value: -1: must be greater than or equal to 0" },
	{ "negative backoffLimit",
	  { "spec.backoffLimit", "-1" },
	  "[Invalid] spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0" },
	{ "negative activeDeadlineSeconds",
	  { "spec.activeDeadlineSeconds", "-1" },
	  "[Invalid] spec.activeDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0" },
	{ "negative ttlSecondsAfterFinished",
	  { "spec.ttlSecondsAfterFinished", "-1" },
	  "[Invalid] spec.ttlSecondsAfterFinished: Invalid value: -1: must be greater than or equal "
	  "to 0" },
	{ "restartPolicy Always",
	  { "spec.template.spec.restartPolicy", "\"Always\"" },
	  "[Required] spec.template.spec.restartPolicy: Required value: valid values: "
	  "\"OnFailure\", \"Never\"" },
	{ "restartPolicy unknown",
	  { "spec.template.spec.restartPolicy", "\"Sometimes\"" },
	  "[NotSupported] spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": "
	  "supported values: \"Always\", \"OnFailure\", \"Never\"\n"
	  "[NotSupported] spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": "
	  "supported values: \"OnFailure\", \"Never\"" },
	{ "completionMode unknown",
	  { "spec.completionMode", "\"Random\"" },
	  "[NotSupported] spec.completionMode: Unsupported value: \"Random\": supported values: "
	  "\"NonIndexed\", \"Indexed\"" },
	{ "Indexed without completions",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", DEL },
	  "[Required] spec.completions: Required value: when completion mode is Indexed" },
	{ "Indexed", { "spec.completionMode", "\"Indexed\"", "spec.completions", "5" }, NULL },
	{ "Indexed with a name too long for its pods' hostnames",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", "1000", "metadata.name",
	    "\"" LONG "\"", "spec.template.metadata.labels[job-name]", "\"" LONG "\"",
	    "spec.template.metadata.labels[batch.kubernetes.io/job-name]", "\"" LONG "\"" },
	  "[Invalid] metadata.name: Invalid value: \"" LONG "\": will not able to create pod with "
	  "invalid DNS label: " LONG "-999" },
	{ "backoffLimitPerIndex on a NonIndexed job",
	  { "spec.backoffLimitPerIndex", "1" },
	  "[Invalid] spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode" },
	{ "maxFailedIndexes alone",
	  { "spec.maxFailedIndexes", "1" },
	  "[Required] spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified\n"
	  "[Invalid] spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode" },
	{ "maxFailedIndexes above completions",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", "3",
	    "spec.backoffLimitPerIndex", "1", "spec.maxFailedIndexes", "4" },
	  "[Invalid] spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to "
	  "completions" },
	{ "managedBy not a domain path",
	  { "spec.managedBy", "\"foo\"" },
	  "[Invalid] spec.managedBy: Invalid value: \"foo\": must be a domain-prefixed path (such as "
	  "\"acme.io/foo\")" },
	{ "podReplacementPolicy unknown",
	  { "spec.podReplacementPolicy", "\"Sometimes\"" },
	  "[NotSupported] spec.podReplacementPolicy: Unsupported value: \"Sometimes\": supported "
	  "values: \"Failed\", \"TerminatingOrFailed\"" },
	{ "pod failure policy needs podReplacementPolicy Failed",
	  { PFP, "{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\","
		 "\"values\":[42]}}]}" },
	  "[NotSupported] spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": "
	  "supported values: \"Failed\"" },
	{ "pod failure policy",
	  { PFP,
	    "{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\","
	    "\"values\":[42]}}]}",
	    "spec.podReplacementPolicy", "\"Failed\"" },
	  NULL },
	{ "pod failure policy and restartPolicy OnFailure",
	  { PFP,
	    "{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\","
	    "\"values\":[42]}}]}",
	    "spec.podReplacementPolicy", "\"Failed\"", "spec.template.spec.restartPolicy",
	    "\"OnFailure\"" },
	  "[Invalid] spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is "
	  "supported when podFailurePolicy is specified" },
	{ "rule without action nor requirement",
	  { PFP, "{\"rules\":[{}]}", "spec.podReplacementPolicy", "\"Failed\"" },
	  "[Required] " RULE0 ".action: Required value: valid values: [\"Count\" \"FailIndex\" "
	  "\"FailJob\" \"Ignore\"]\n"
	  "[Invalid] " RULE0
	  ": Invalid value: specifying one of OnExitCodes and OnPodConditions is "
	  "required" },
	{ "rule with an unknown action and both requirements",
	  { PFP,
	    "{\"rules\":[{\"action\":\"Retry\",\"onExitCodes\":{\"operator\":\"NotIn\","
	    "\"values\":[1]},\"onPodConditions\":[{\"type\":\"DisruptionTarget\","
	    "\"status\":\"True\"}]}]}",
	    "spec.podReplacementPolicy", "\"Failed\"" },
	  "[NotSupported] " RULE0
	  ".action: Unsupported value: \"Retry\": supported values: \"Count\", "
	  "\"FailIndex\", \"FailJob\", \"Ignore\"\n"
	  "[Invalid] " RULE0
	  ": Invalid value: specifying both OnExitCodes and OnPodConditions is not "
	  "supported" },
	{ "FailIndex without backoffLimitPerIndex",
	  { PFP,
	    "{\"rules\":[{\"action\":\"FailIndex\",\"onExitCodes\":{\"operator\":\"In\","
	    "\"values\":[1]}}]}",
	    "spec.podReplacementPolicy", "\"Failed\"" },
	  "[Invalid] " RULE0
	  ".action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex "
	  "to be set" },
	{ "exit codes: 0 with In, unordered, unknown container",
	  { PFP,
	    "{\"rules\":[{\"action\":\"Ignore\",\"onExitCodes\":{\"containerName\":\"x\","
	    "\"operator\":\"In\",\"values\":[3,0,3]}}]}",
	    "spec.podReplacementPolicy", "\"Failed\"" },
	  "[Invalid] " RULE0 ".onExitCodes.containerName: Invalid value: \"x\": must be one of the "
	  "container or initContainer names in the pod template\n"
	  "[Invalid] " RULE0 ".onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In "
	  "operator\n"
	  "[Duplicate] " RULE0 ".onExitCodes.values[2]: Duplicate value: 3\n"
	  "[Invalid] " RULE0
	  ".onExitCodes.values: Invalid value: []int32{3, 0, 3}: must be ordered" },
	{ "exit codes: no values, no operator",
	  { PFP, "{\"rules\":[{\"action\":\"Ignore\",\"onExitCodes\":{\"values\":[]}}]}",
	    "spec.podReplacementPolicy", "\"Failed\"" },
	  "[Required] " RULE0 ".onExitCodes.operator: Required value: valid values: [\"In\" "
	  "\"NotIn\"]\n"
	  "[Invalid] " RULE0 ".onExitCodes.values: Invalid value: []int32{}: at least one value is "
	  "required" },
	{ "pod condition status unknown",
	  { PFP,
	    "{\"rules\":[{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":"
	    "\"DisruptionTarget\",\"status\":\"Maybe\"}]}]}",
	    "spec.podReplacementPolicy", "\"Failed\"" },
	  "[NotSupported] " RULE0 ".onPodConditions[0].status: Unsupported value: \"Maybe\": "
	  "supported values: \"False\", \"True\", \"Unknown\"" },
	{ "successPolicy on a NonIndexed job",
	  { "spec.successPolicy", "{\"rules\":[{\"succeededCount\":1}]}" },
	  "[Invalid] spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: "
	  "requires indexed completion mode" },
	{ "successPolicy indexes out of order",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", "5", "spec.successPolicy",
	    "{\"rules\":[{\"succeededIndexes\":\"0-2,1\"}]}" },
	  "[Invalid] spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"0-2,1\": error "
	  "parsing succeededIndexes: non-increasing order, previous: 2, current: 1" },
	{ "successPolicy count above the indexes",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", "5", "spec.successPolicy",
	    "{\"rules\":[{\"succeededIndexes\":\"0,2\",\"succeededCount\":3}]}" },
	  "[Invalid] spec.successPolicy.rules[0].succeededCount: Invalid value: 3: must be less than "
	  "or equal to 2 (the number of indexes in the specified succeededIndexes field)" },
	{ "successPolicy index too large",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", "5", "spec.successPolicy",
	    "{\"rules\":[{\"succeededIndexes\":\"7\"}]}" },
	  "[Invalid] spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"7\": error "
	  "parsing succeededIndexes: too large index: \"7\"" },
	{ "successPolicy without rules",
	  { "spec.completionMode", "\"Indexed\"", "spec.completions", "5", "spec.successPolicy",
	    "{\"rules\":[]}" },
	  "[Required] spec.successPolicy.rules: Required value: at least one rules must be specified "
	  "when the successPolicy is specified" },
	/* the selector */
	{ "selector missing",
	  { "spec.selector", DEL },
	  "[Required] spec.selector: Required value\n"
	  "[Invalid] spec.template.metadata.labels: Invalid value: " LABELS
	  ": `selector` does not match template `labels`" },
	{ "generated label changed",
	  { "spec.template.metadata.labels[controller-uid]", "\"u-2\"" },
	  "[Invalid] spec.template.metadata.labels[controller-uid]: Invalid value: "
	  "map[string]string{\"batch.kubernetes.io/controller-uid\":\"u-1\", "
	  "\"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u-2\", \"job-name\":\"pi\"}: "
	  "must be 'u-1'" },
	{ "generated label missing",
	  { "spec.template.metadata.labels[job-name]", DEL },
	  "[Required] spec.template.metadata.labels[job-name]: Required value: must be 'pi'" },
	{ "selector not generated",
	  { "spec.selector.matchLabels.app", "\"x\"", "spec.template.metadata.labels.app",
	    "\"x\"" },
	  "[Invalid] spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"
	  "\"app\":\"x\", \"batch.kubernetes.io/controller-uid\":\"u-1\"}, MatchExpressions:"
	  "[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated" },
	{ "manual selector",
	  { "spec.manualSelector", "true", "spec.selector", "{\"matchLabels\":{\"app\":\"pi\"}}",
	    "spec.template.metadata.labels", "{\"app\":\"pi\"}" },
	  NULL },
	{ "no uid yet: the generated labels are not checked",
	  { "metadata.uid", DEL, "spec.template.metadata.labels[job-name]", DEL },
	  NULL },
};

static void
test_job(void **state)
{
	(void)state;
	run_cases(job, NULL, job_cases, ARRAY_SIZE(job_cases));
}

static const struct vcase job_updates[] = {
	{ "nothing changed", { NULL }, NULL },
	{ "more parallelism", { "spec.parallelism", "3" }, NULL },
	{ "completions changed",
	  { "spec.completions", "2" },
	  "[Invalid] spec.completions: Invalid value: 2: field is immutable" },
	{ "completionMode changed",
	  { "spec.completionMode", "\"Indexed\"" },
	  "[Invalid] spec.completionMode: Invalid value: \"Indexed\": field is immutable" },
	{ "selector changed",
	  { "spec.manualSelector", "true", "spec.selector.matchLabels.job-name", "\"pi\"" },
	  "[Invalid] spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"
	  "\"batch.kubernetes.io/controller-uid\":\"u-1\", \"job-name\":\"pi\"}, MatchExpressions:"
	  "[]v1.LabelSelectorRequirement(nil)}: field is immutable" },
	{ "template changed",
	  { "spec.template.spec.containers[0].image", "\"perl:5.40\"",
	    "spec.template.spec.containers[0].command", DEL },
	  "[Invalid] spec.template: Invalid value: {\"metadata\":{\"labels\":{"
	  "\"batch.kubernetes.io/controller-uid\":\"u-1\",\"batch.kubernetes.io/job-name\":\"pi\","
	  "\"controller-uid\":\"u-1\",\"job-name\":\"pi\"}},\"spec\":{\"restartPolicy\":\"Never\","
	  "\"containers\":[{\"name\":\"pi\",\"image\":\"perl:5.40\",\"imagePullPolicy\":"
	  "\"IfNotPresent\",\"terminationMessagePath\":\"/dev/termination-log\","
	  "\"terminationMessagePolicy\":\"File\"}],\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":"
	  "{},\"terminationGracePeriodSeconds\":30,\"schedulerName\":\"default-scheduler\"}}: field "
	  "is immutable" },
};

static void
test_job_update(void **state)
{
	(void)state;
	run_cases(job, job, job_updates, ARRAY_SIZE(job_updates));
}

/* A suspended Job that never started may change its scheduling directives. */
static void
test_job_update_suspended(void **state)
{
	(void)state;
	json_t *old = J(job);
	mutate(old, "spec.suspend", "true");
	char *text = json_dumps(old, JSON_COMPACT);
	static const struct vcase cases[] = {
		{ "node selector added",
		  { "spec.suspend", "true", "spec.template.spec.nodeSelector",
		    "{\"disk\":\"ssd\"}" },
		  NULL },
		{ "tolerations and node affinity added",
		  { "spec.suspend", "true", "spec.template.spec.tolerations",
		    "[{\"key\":\"k\",\"operator\":\"Exists\"}]", "spec.template.spec.affinity",
		    "{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
		    "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":"
		    "\"Exists\"}]}]}}}" },
		  NULL },
	};
	run_cases(text, text, cases, ARRAY_SIZE(cases));
	free(text);
	json_decref(old);
}

/* --- CronJob ------------------------------------------------------------------------------- */

static const char cron_job[] =
	"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\","
	"\"metadata\":{\"name\":\"backup\",\"namespace\":\"default\"},"
	"\"spec\":{\"schedule\":\"0 3 * * *\",\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{"
	"\"restartPolicy\":\"OnFailure\",\"containers\":[{\"name\":\"backup\",\"image\":\"busybox\","
	"\"command\":[\"sh\",\"-c\",\"date\"]}]}}}}}}";

#define NAME53 "a2345678901234567890123456789012345678901234567890123"

static const struct vcase cron_job_cases[] = {
	{ "the base cron job", { NULL }, NULL },
	{ "schedule missing",
	  { "spec.schedule", "\"\"" },
	  "[Required] spec.schedule: Required value" },
	{ "schedule minute 61",
	  { "spec.schedule", "\"61 * * * *\"" },
	  "[Invalid] spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum "
	  "(59): 61" },
	{ "schedule with four fields",
	  { "spec.schedule", "\"* * * *\"" },
	  "[Invalid] spec.schedule: Invalid value: \"* * * *\": expected exactly 5 fields, found 4: "
	  "[* * * *]" },
	{ "descriptor", { "spec.schedule", "\"@hourly\"" }, NULL },
	{ "TZ in schedule",
	  { "spec.schedule", "\"TZ=UTC 0 3 * * *\"" },
	  "[Invalid] spec.schedule: Invalid value: \"TZ=UTC 0 3 * * *\": cannot use TZ or CRON_TZ in "
	  "schedule, use timeZone field instead" },
	{ "timeZone empty",
	  { "spec.timeZone", "\"\"" },
	  "[Invalid] spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string" },
	{ "timeZone unknown",
	  { "spec.timeZone", "\"Mars/Olympus\"" },
	  "[Invalid] spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus" },
	{ "timeZone escaping",
	  { "spec.timeZone", "\"../etc/passwd\"" },
	  "[Invalid] spec.timeZone: Invalid value: \"../etc/passwd\": unknown time zone "
	  "../etc/passwd" },
	{ "timeZone Local",
	  { "spec.timeZone", "\"local\"" },
	  "[Invalid] spec.timeZone: Invalid value: \"local\": timeZone must be an explicit time zone "
	  "as defined in https://www.iana.org/time-zones\n"
	  "[Invalid] spec.timeZone: Invalid value: \"local\": unknown time zone local" },
	{ "timeZone UTC", { "spec.timeZone", "\"UTC\"" }, NULL },
	{ "concurrencyPolicy unknown",
	  { "spec.concurrencyPolicy", "\"Sometimes\"" },
	  "[NotSupported] spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: "
	  "\"Allow\", \"Forbid\", \"Replace\"" },
	{ "concurrencyPolicy empty",
	  { "spec.concurrencyPolicy", "\"\"" },
	  "[Required] spec.concurrencyPolicy: Required value" },
	{ "negative startingDeadlineSeconds",
	  { "spec.startingDeadlineSeconds", "-1" },
	  "[Invalid] spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal "
	  "to 0" },
	{ "negative successfulJobsHistoryLimit",
	  { "spec.successfulJobsHistoryLimit", "-1" },
	  "[Invalid] spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or "
	  "equal to 0" },
	{ "job template with a selector",
	  { "spec.jobTemplate.spec.selector", "{\"matchLabels\":{\"a\":\"b\"}}" },
	  "[Invalid] spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
	  "map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
	  "`selector` will be auto-generated" },
	{ "job template with manualSelector",
	  { "spec.jobTemplate.spec.manualSelector", "true" },
	  "[NotSupported] spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported "
	  "values: \"nil\", \"false\"" },
	{ "job template restartPolicy",
	  { "spec.jobTemplate.spec.template.spec.restartPolicy", "\"Always\"" },
	  "[Required] spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid "
	  "values: \"OnFailure\", \"Never\"" },
	{ "job template negative backoffLimit",
	  { "spec.jobTemplate.spec.backoffLimit", "-1" },
	  "[Invalid] spec.jobTemplate.spec.backoffLimit: Invalid value: -1: must be greater than or "
	  "equal to 0" },
	{ "name of 52 characters",
	  { "metadata.name", "\"a234567890123456789012345678901234567890123456789012\"" },
	  NULL },
	{ "name of 53 characters",
	  { "metadata.name", "\"" NAME53 "\"" },
	  "[Invalid] metadata.name: Invalid value: \"" NAME53
	  "\": must be no more than 52 characters" },
};

static void
test_cron_job(void **state)
{
	(void)state;
	run_cases(cron_job, NULL, cron_job_cases, ARRAY_SIZE(cron_job_cases));
	if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) == 0) {
		static const struct vcase zone[] = {
			{ "timeZone Europe/Paris", { "spec.timeZone", "\"Europe/Paris\"" }, NULL },
		};
		run_cases(cron_job, NULL, zone, ARRAY_SIZE(zone));
	}
}

static const char cron_job_tz[] =
	"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\","
	"\"metadata\":{\"name\":\"" NAME53 "\",\"namespace\":\"default\"},"
	"\"spec\":{\"schedule\":\"TZ=UTC 0 3 * * *\",\"jobTemplate\":{\"spec\":{\"template\":{"
	"\"spec\":{\"restartPolicy\":\"OnFailure\",\"containers\":[{\"name\":\"backup\","
	"\"image\":\"busybox\"}]}}}}}}";

static const struct vcase cron_job_updates[] = {
	{ "a stored TZ schedule and a long name stay valid", { NULL }, NULL },
	{ "TZ and timeZone",
	  { "spec.timeZone", "\"UTC\"" },
	  "[Invalid] spec.schedule: Invalid value: \"TZ=UTC 0 3 * * *\": cannot use both timeZone "
	  "field and TZ or CRON_TZ in schedule" },
};

static void
test_cron_job_update(void **state)
{
	(void)state;
	run_cases(cron_job_tz, cron_job_tz, cron_job_updates, ARRAY_SIZE(cron_job_updates));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_job_update),
		cmocka_unit_test(test_job_update_suspended),
		cmocka_unit_test(test_cron_job),
		cmocka_unit_test(test_cron_job_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
