/*
 * The node agent with real containers (suite root): korch-monitor runs them from the busybox
 * test image. Two containers of a pod talk over localhost and share an emptyDir, with HTTP, TCP
 * and exec probes; init containers and logs; preStop before the stop signal and SIGKILL after
 * the grace period; a missing image; a ConfigMap update seen inside a running container.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node-real.h"

#define POD(name, extra)                                                         \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"default\"},\"spec\":{" extra "}}"

static int
setup(void **state)
{
	struct rn *t = calloc(1, sizeof(*t));
	rn_init(t);
	rn_start_agent(t);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct rn *t = *state;
	rn_fini(t);
	free(t);
	return 0;
}

static void
test_localhost_and_emptydir(void **state)
{
	struct rn *t = *state;
	rn_create(
		t,
		POD("duo",
		    "\"volumes\":[{\"name\":\"shared\",\"emptyDir\":{}}],"
		    "\"containers\":["
		    "{\"name\":\"server\",\"image\":\"" RN_IMAGE "\","
		    "\"command\":[\"sh\",\"-c\",\"echo hello > /shared/msg && exec httpd -f -p "
		    "8080 -h /shared\"],"
		    "\"volumeMounts\":[{\"name\":\"shared\",\"mountPath\":\"/shared\"}],"
		    "\"readinessProbe\":{\"httpGet\":{\"path\":\"/msg\",\"port\":8080},"
		    "\"periodSeconds\":1},"
		    "\"livenessProbe\":{\"tcpSocket\":{\"port\":8080},\"periodSeconds\":1,"
		    "\"initialDelaySeconds\":1}},"
		    "{\"name\":\"client\",\"image\":\"" RN_IMAGE "\","
		    "\"command\":[\"sh\",\"-c\",\"until wget -q -O /shared/got "
		    "http://127.0.0.1:8080/msg; do sleep 0.1; done; exec sleep 3600\"],"
		    "\"volumeMounts\":[{\"name\":\"shared\",\"mountPath\":\"/shared\"}],"
		    "\"readinessProbe\":{\"exec\":{\"command\":[\"test\",\"-s\",\"/shared/got\"]},"
		    "\"periodSeconds\":1}}]"));
	assert_true(rn_wait_condition(t, "duo", "Ready", "True", 20000));
	assert_string_equal(rn_status_str(t, "duo", "phase"), "Running");
	char *got = rn_volume_file(t, "duo", "empty-dir", "shared", "got");
	assert_string_equal(got, "hello\n");
	free(got);
	const char *cid = rn_status_str(t, "duo", "containerStatuses.0.containerID");
	assert_non_null(cid);
	assert_true(strncmp(cid, "korch://", 8) == 0);
	const char *image_id = rn_status_str(t, "duo", "containerStatuses.0.imageID");
	assert_non_null(image_id);
	assert_true(strncmp(image_id, "korch.test/busybox@sha256:", 26) == 0);
	assert_string_equal(rn_status_str(t, "duo", "containerStatuses.0.image"),
			    "korch.test/busybox:1");
	/* Probes keep passing: no restart after a few periods. */
	rn_run_for(t, 3000);
	assert_int_equal(rn_status_int(t, "duo", "containerStatuses.0.restartCount"), 0);
	assert_string_equal(rn_condition(t, "duo", "Ready"), "True");
}

static void
test_init_and_logs(void **state)
{
	struct rn *t = *state;
	rn_create(t, POD("logs",
			 "\"volumes\":[{\"name\":\"work\",\"emptyDir\":{}}],"
			 "\"initContainers\":[{\"name\":\"prepare\",\"image\":\"" RN_IMAGE "\","
			 "\"command\":[\"sh\",\"-c\",\"echo prepared > /work/x; echo init said "
			 "hi\"],"
			 "\"volumeMounts\":[{\"name\":\"work\",\"mountPath\":\"/work\"}]}],"
			 "\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE "\","
			 "\"command\":[\"sh\",\"-c\",\"cat /work/x; echo two; echo err >&2; exec "
			 "sleep 3600\"],"
			 "\"volumeMounts\":[{\"name\":\"work\",\"mountPath\":\"/work\"}]}]"));
	assert_true(rn_wait_str(t, "logs", "phase", "Running", 20000));
	assert_string_equal(
		rn_status_str(t, "logs", "initContainerStatuses.0.state.terminated.reason"),
		"Completed");
	assert_true(rn_wait_log(t, "logs", "app", "err\n", 5000));
	char *out = rn_log(t, "logs", "app", 0, -1, false);
	assert_string_equal(out, "prepared\ntwo\nerr\n");
	free(out);
	out = rn_log(t, "logs", "app", 0, 1, false);
	assert_string_equal(out, "err\n");
	free(out);
	out = rn_log(t, "logs", "prepare", 0, -1, false);
	assert_string_equal(out, "init said hi\n");
	free(out);
	/* With timestamps: RFC 3339 in UTC, then the line. */
	out = rn_log(t, "logs", "app", 0, 1, true);
	assert_int_equal(strlen(out) > 24, 1);
	assert_non_null(strstr(out, "Z err\n"));
	assert_int_equal(out[4], '-');
	free(out);
}

static void
test_termination(void **state)
{
	struct rn *t = *state;
	char hostdir[256];
	snprintf(hostdir, sizeof(hostdir), "%s/events", t->dir);
	assert_int_equal(mkdir(hostdir, 0777), 0);
	char text[2048];
	snprintf(text, sizeof(text),
		 POD("stubborn",
		     "\"terminationGracePeriodSeconds\":3,"
		     "\"volumes\":[{\"name\":\"ev\",\"hostPath\":{\"path\":\"%s\"}}],"
		     "\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE "\","
		     "\"command\":[\"sh\",\"-c\",\"trap 'echo term >> /ev/log' TERM; while true; "
		     "do sleep 0.1; done\"],"
		     "\"volumeMounts\":[{\"name\":\"ev\",\"mountPath\":\"/ev\"}],"
		     "\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"sh\",\"-c\",\"echo "
		     "prestop >> /ev/log\"]}}}}]"),
		 hostdir);
	rn_create(t, text);
	assert_true(rn_wait_str(t, "stubborn", "phase", "Running", 20000));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	rn_delete(t, "stubborn", -1);
	assert_true(rn_wait_gone(t, "stubborn", 10000));
	clock_gettime(CLOCK_MONOTONIC, &b);
	double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	/* SIGKILL at the 3 s grace (the TERM trap keeps it alive); all within grace + 2 s. */
	if (took < 2.9 || took > 5.0)
		fail_msg("the delete took %.2f s, not between 3 and 5", took);
	char path[300];
	snprintf(path, sizeof(path), "%s/log", hostdir);
	char *events = rn_read(path);
	assert_string_equal(events, "prestop\nterm\n");
	free(events);
}

static void
test_missing_image(void **state)
{
	struct rn *t = *state;
	rn_create(t, POD("ghost", "\"containers\":[{\"name\":\"app\",\"image\":"
				  "\"korch.test/nosuch:1\",\"imagePullPolicy\":\"Never\"}]"));
	rn_create(t, POD("alive", "\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE "\","
				  "\"command\":[\"sleep\",\"3600\"]}]"));
	assert_true(rn_wait_str(t, "alive", "phase", "Running", 20000));
	assert_true(rn_wait_str(t, "ghost", "containerStatuses.0.state.waiting.reason",
				"ErrImageNeverPull", 5000));
	assert_string_equal(rn_status_str(t, "ghost", "containerStatuses.0.state.waiting.message"),
			    "image \"korch.test/nosuch:1\" not found in the local store; "
			    "load it with: korchctl image load FILE");
	assert_string_equal(rn_status_str(t, "ghost", "phase"), "Pending");
}

static void
test_configmap_update(void **state)
{
	struct rn *t = *state;
	rn_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		     "\"conf\",\"namespace\":\"default\"},\"data\":{\"color\":\"blue\"}}");
	rn_create(t, POD("watcher",
			 "\"volumes\":[{\"name\":\"c\",\"configMap\":{\"name\":\"conf\"}}],"
			 "\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE "\","
			 "\"command\":[\"sh\",\"-c\",\"while true; do cat /etc/conf/color; "
			 "echo; sleep 0.2; done\"],"
			 "\"volumeMounts\":[{\"name\":\"c\",\"mountPath\":\"/etc/conf\"}]}]"));
	assert_true(rn_wait_log(t, "watcher", "app", "blue\n", 20000));
	rn_update_configmap(t, "conf", "color", "green");
	assert_true(rn_wait_log(t, "watcher", "app", "green\n", 5000));
}

int
main(void)
{
	if (rn_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_localhost_and_emptydir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_and_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_termination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configmap_update, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
