/*
 * The node agent with real containers (suite root): korch-monitor runs them from the busybox
 * test image. Two containers of a pod talk over localhost and share an emptyDir, with HTTP, TCP
 * and exec probes; init containers and logs; preStop before the stop signal and SIGKILL after
 * the grace period; a missing image; a ConfigMap update seen inside a running container;
 * OOMKilled in the container's status.
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

#include <fcntl.h>
#include <korch/node.h>
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
	/* Usage from the pod's and the containers' cgroups, sampled every second here. */
	json_t *usage = NULL;
	assert_int_equal(node_agent_pod_samples(t->agent, "default", "duo", &usage, NULL), 0);
	json_t *samples = json_object_get(usage, "samples");
	assert_true(json_array_size(samples) >= 2);
	json_t *last = json_array_get(samples, json_array_size(samples) - 1);
	assert_true(json_integer_value(json_object_get(last, "memory")) > 0);
	assert_true(json_is_integer(json_object_get(last, "cpu")));
	assert_int_equal(json_array_size(json_object_get(usage, "containers")), 2);
	json_decref(usage);
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

static char *
drain(int fd)
{
	char buf[4096];
	size_t n = 0;
	ssize_t got;
	while (n < sizeof(buf) - 1 && (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
	return strdup(buf);
}

static void
test_exec(void **state)
{
	struct rn *t = *state;
	rn_create(t, POD("box", "\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE "\","
				"\"command\":[\"sleep\",\"3600\"]}]"));
	assert_true(rn_wait_str(t, "box", "phase", "Running", 20000));
	korch_client *kc = NULL;
	assert_int_equal(korch_client_open_state(t->state, NULL, &kc, NULL), 0);
	int out[2], errp[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
	korch_exec_options o = KORCH_EXEC_OPTIONS_INIT;
	o.run_dir = t->run;
	o.stdout_fd = out[1];
	o.stderr_fd = errp[1];
	char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 7", NULL };
	int code = -1;
	korch_error *err = NULL;
	if (korch_pod_exec(kc, "default", "box", argv, &o, &code, &err) < 0)
		fail_msg("exec: %s", korch_error_message(err));
	close(out[1]);
	close(errp[1]);
	assert_int_equal(code, 7);
	char *s = drain(out[0]);
	assert_string_equal(s, "out\n");
	free(s);
	s = drain(errp[0]);
	assert_string_equal(s, "err\n");
	free(s);
	close(out[0]);
	close(errp[0]);
	/* With a terminal: the command's stdin is one, its output comes through it. */
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	o.stdout_fd = out[1];
	o.stderr_fd = -1;
	o.tty = true;
	char *tty_argv[] = { "sh", "-c", "test -t 0 && echo tty", NULL };
	if (korch_pod_exec(kc, "default", "box", tty_argv, &o, &code, &err) < 0)
		fail_msg("exec -t: %s", korch_error_message(err));
	close(out[1]);
	assert_int_equal(code, 0);
	s = drain(out[0]);
	assert_string_equal(s, "tty\r\n");
	free(s);
	close(out[0]);
	/* A container that is not running, and kubectl's choice of container. */
	o.tty = false;
	o.container = "nope";
	assert_int_equal(korch_pod_exec(kc, "default", "box", argv, &o, &code, &err),
			 KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "container nope is not valid for pod box");
	korch_error_free(err);
	korch_client_free(kc);
}

/* shareProcessNamespace: each container sees the other's processes. */
static void
test_shared_pid(void **state)
{
	struct rn *t = *state;
	rn_create(t, POD("pids", "\"shareProcessNamespace\":true,\"containers\":["
				 "{\"name\":\"a\",\"image\":\"" RN_IMAGE "\","
				 "\"command\":[\"sh\",\"-c\",\"exec sleep 3601\"]},"
				 "{\"name\":\"b\",\"image\":\"" RN_IMAGE "\","
				 "\"command\":[\"sh\",\"-c\",\"until ps | grep -q 'sleep 3601'; do "
				 "sleep 0.1; done; echo sees a; exec sleep 3600\"]}]"));
	assert_true(rn_wait_str(t, "pids", "phase", "Running", 20000));
	assert_true(rn_wait_log(t, "pids", "b", "sees a\n", 10000));
}

/* The agent goes while creates, starts and probes are in flight: nothing is touched after. */
static void
test_free_in_flight(void **state)
{
	struct rn *t = *state;
	for (int i = 0; i < 5; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 POD("busy%d",
			     "\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE
			     "\",\"command\":[\"sleep\",\"3600\"],\"readinessProbe\":{"
			     "\"exec\":{\"command\":[\"sleep\",\"1\"]},\"periodSeconds\":1}}]"),
			 i);
		rn_create(t, text);
	}
	rn_run_for(t, 30);
	rn_stop_agent(t);
	rn_run_for(t, 100);
	/* A new agent takes over what was created. */
	rn_start_agent(t);
	assert_true(rn_wait_str(t, "busy4", "phase", "Running", 20000));
}

static void
test_oom_killed(void **state)
{
	struct rn *t = *state;
	rn_create(t, POD("hog", "\"restartPolicy\":\"Never\","
				"\"containers\":[{\"name\":\"app\",\"image\":\"" RN_IMAGE "\","
				"\"command\":[\"sh\",\"-c\",\"x=$(head -c 200000000 /dev/zero | tr "
				"'\\\\0' x); echo survived\"],"
				"\"resources\":{\"limits\":{\"memory\":\"32Mi\"}}}]"));
	assert_true(rn_wait_str(t, "hog", "phase", "Failed", 30000));
	assert_string_equal(rn_status_str(t, "hog", "containerStatuses.0.state.terminated.reason"),
			    "OOMKilled");
	assert_int_equal(rn_status_int(t, "hog", "containerStatuses.0.state.terminated.exitCode"),
			 137);
}

int
main(void)
{
	if (rn_skip())
		return 0;
	if (getenv("KORCH_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KORCH_TEST_FILTER"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_localhost_and_emptydir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_and_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_termination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configmap_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_pid, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
