/*
 * node-agent.c - a node agent in a process of its own over the real runtime, for the tests that
 * kill it (scenario 38) and for the benchmark: korchd will host the agent the same way.
 *
 *   node-agent --state FILE --data DIR --run-dir DIR --node NAME [--poll-ms N]
 *              [--eviction-bytes N] [--eviction-interval-ms N] [--housekeeping-ms N]
 *              [--instance NAME]
 *
 * DIR/images is the image store, DIR/root the pods' files, DIR/logs the CRI logs. Prints
 * "ready" once the agent started; runs until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <korch/log.h>
#include "base/loop.h"
#include "node/agent.h"
#include "node/backend-real.h"
#include "store/store.h"

static void
on_signal(struct loop_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	korch_loop_quit(userdata);
}

static int
fail(const char *what, korch_error *err)
{
	fprintf(stderr, "node-agent: %s: %s\n", what, err ? korch_error_message(err) : "");
	korch_error_free(err);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *state = NULL, *data = NULL, *run = NULL, *node = NULL, *instance = NULL;
	long poll_ms = 50, eviction = -1, eviction_ms = 0, housekeeping_ms = 0;
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "data", required_argument, NULL, 'd' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "node", required_argument, NULL, 'n' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "eviction-bytes", required_argument, NULL, 'e' },
		{ "eviction-interval-ms", required_argument, NULL, 'i' },
		{ "housekeeping-ms", required_argument, NULL, 'h' },
		{ "instance", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'd': data = optarg; break;
		case 'r': run = optarg; break;
		case 'n': node = optarg; break;
		case 'p': poll_ms = atol(optarg); break;
		case 'e': eviction = atol(optarg); break;
		case 'i': eviction_ms = atol(optarg); break;
		case 'h': housekeeping_ms = atol(optarg); break;
		case 'I': instance = optarg; break;
		default: return 2;
		}
	}
	if (!state || !data || !run || !node) {
		fprintf(stderr,
			"usage: node-agent --state FILE --data DIR --run-dir DIR --node NAME\n");
		return 2;
	}
	if (getenv("KORCH_TEST_LOG")) {
		korch_log_level level;
		if (korch_log_level_parse(getenv("KORCH_TEST_LOG"), &level) == 0)
			korch_log_set_handler(korch_log_stderr, level, NULL);
	}
	korch_error *err = NULL;
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	if (korch_clock_new_real(&clock, &err) < 0 || korch_loop_new(clock, &loop, &err) < 0)
		return fail("loop", err);
	struct loop_source *sigs[2] = { NULL, NULL };
	loop_add_signal(loop, SIGTERM, on_signal, loop, &sigs[0], NULL);
	loop_add_signal(loop, SIGINT, on_signal, loop, &sigs[1], NULL);
	struct store_options so = { .loop = loop, .poll_interval_ms = (int)poll_ms };
	struct store *store = NULL;
	if (store_open(state, &so, &store, &err) < 0)
		return fail("store", err);
	struct client *client = NULL;
	if (client_new_local(store, clock, &client, &err) < 0)
		return fail("client", err);
	char images[512], root[512], logs[512];
	snprintf(images, sizeof(images), "%s/images", data);
	snprintf(root, sizeof(root), "%s/root", data);
	snprintf(logs, sizeof(logs), "%s/logs", data);
	struct real_backend_options bo = {
		.run_dir = run, .image_dir = images, .data_dir = data, .instance = instance
	};
	struct node_backend *backend = NULL;
	if (real_backend_new(loop, &bo, &backend, &err) < 0)
		return fail("runtime", err);
	struct node_agent_options ao = {
		.node_name = node,
		.client = client,
		.backend = backend,
		.root_dir = root,
		.log_dir = logs,
		.eviction_memory_available_bytes = eviction,
		.eviction_nodefs_available_bytes = -1, /* the machine's disk may be nearly full */
		.eviction_interval_ns = eviction_ms * 1000000LL,
		.housekeeping_interval_ns = housekeeping_ms * 1000000LL,
		.protect_from_oom = true,
	};
	struct node_agent *agent = NULL;
	if (node_agent_new(&ao, &agent, &err) < 0 || node_agent_start(agent, &err) < 0)
		return fail("agent", err);
	printf("ready\n");
	fflush(stdout);
	int r = korch_loop_run(loop, &err);
	node_agent_free(agent);
	node_backend_free(backend);
	client_free(client);
	store_close(store);
	loop_source_free(sigs[0]);
	loop_source_free(sigs[1]);
	korch_loop_free(loop);
	korch_clock_free(clock);
	if (r < 0)
		return fail("loop", err);
	return 0;
}
