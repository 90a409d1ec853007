/*
 * pod-agent.c - a small agent that embeds korch in its own epoll loop and reacts to pod events.
 *
 * It opens a state file with the whole orchestrator (control plane and a node), applies a
 * Deployment of N replicas, and prints one line per pod change. Its epoll set holds korch's fd,
 * the pod watch's fd and the agent's own fds (a signalfd for SIGINT/SIGTERM and, simulated, a
 * timerfd that moves korch's clock one simulated second per tick).
 *
 *     cc pod-agent.c $(pkg-config --cflags --libs korch) -o pod-agent
 *     ./pod-agent --simulate --replicas 10 /tmp/agent/state.db
 *
 * Options: --simulate (the simulated runtime and clock: no root, no containers), --replicas N
 * (default 3), --until-pods N (exit 0 once N pods were seen; default: run until a signal),
 * --image IMAGE (default busybox).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <korch.h>

static int
fail(const char *what, korch_error *e)
{
	fprintf(stderr, "pod-agent: %s: %s\n", what, e ? korch_error_message(e) : strerror(errno));
	korch_error_free(e);
	return 1;
}

static int
apply_deployment(korch *k, int replicas, const char *image, korch_error **err)
{
	char json[512];
	snprintf(json, sizeof(json),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		 "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
		 "\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		 "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"%s\","
		 "\"command\":[\"sleep\",\"3600\"]}]}}}}",
		 replicas, image);
	korch_object *obj = NULL;
	int r = korch_object_parse_json(json, strlen(json), &obj, err);
	if (r < 0)
		return r;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "pod-agent";
	r = korch_client_apply(korch_get_client(k), obj, &wo, NULL, NULL, err);
	korch_object_free(obj);
	return r;
}

static const char *
type_name(int type)
{
	switch (type) {
	case KORCH_EVENT_ADDED: return "added";
	case KORCH_EVENT_MODIFIED: return "modified";
	case KORCH_EVENT_DELETED: return "deleted";
	default: return "error";
	}
}

int
main(int argc, char **argv)
{
	bool simulate = false;
	int replicas = 3, until_pods = -1;
	const char *image = "busybox", *state = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--simulate"))
			simulate = true;
		else if (!strcmp(argv[i], "--replicas") && i + 1 < argc)
			replicas = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--until-pods") && i + 1 < argc)
			until_pods = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--image") && i + 1 < argc)
			image = argv[++i];
		else if (argv[i][0] != '-' && !state)
			state = argv[i];
		else {
			fprintf(stderr, "usage: pod-agent [--simulate] [--replicas N] "
					"[--until-pods N] [--image IMAGE] STATE_FILE\n");
			return 2;
		}
	}
	if (!state) {
		fprintf(stderr, "pod-agent: a state file is required\n");
		return 2;
	}

	korch_options o = KORCH_OPTIONS_INIT;
	o.roles = KORCH_ROLE_ALL;
	o.simulated = simulate;
	korch *k = NULL;
	korch_error *e = NULL;
	if (korch_open(state, &o, &k, &e) < 0)
		return fail("open", e);
	korch_watch *pods = NULL;
	if (korch_watch_new(k, "pods", "default", NULL, NULL, NULL, &pods, &e) < 0 ||
	    apply_deployment(k, replicas, image, &e) < 0) {
		korch_close(k);
		return fail("start", e);
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = -1;
	if (simulate) {
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		struct itimerspec its = { { 0, 50 * 1000000 }, { 0, 50 * 1000000 } };
		timerfd_settime(tfd, 0, &its, NULL);
	}
	int fds[] = { korch_fd(k), korch_watch_fd(pods), sfd, tfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
		if (fds[i] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return fail("epoll_ctl", NULL);
	}

	int status = 0, seen = 0;
	bool running = true;
	while (running) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, korch_timeout_ms(k));
		if (n < 0 && errno != EINTR)
			return fail("epoll_wait", NULL);
		for (int i = 0; i < n; i++) {
			uint64_t ticks;
			if (evs[i].data.fd == sfd) {
				running = false;
			} else if (evs[i].data.fd == tfd) {
				(void)!read(tfd, &ticks, sizeof(ticks));
				if (korch_advance(k, 1000000000LL, &e) < 0) {
					status = fail("advance", e);
					running = false;
				}
			}
		}
		if (korch_dispatch(k, &e) < 0) {
			status = fail("dispatch", e);
			break;
		}
		int type;
		korch_object *pod;
		while (korch_watch_next(pods, &type, &pod, NULL) == 1) {
			const char *phase = korch_object_phase(pod);
			const char *ready = korch_object_condition(pod, "Ready");
			printf("pod %s %s phase=%s ready=%s\n", korch_object_name(pod),
			       type_name(type), phase ? phase : "-", ready ? ready : "-");
			if (type == KORCH_EVENT_ADDED && ++seen == until_pods)
				running = false;
			korch_object_free(pod);
		}
		fflush(stdout);
	}
	korch_watch_free(pods);
	korch_close(k);
	close(ep);
	close(sfd);
	if (tfd >= 0)
		close(tfd);
	return status;
}
