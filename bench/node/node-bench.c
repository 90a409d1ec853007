/*
 * node-bench.c - the node agent's figures (bench/node/run drives it):
 *
 *   node.pod_start_p50_ms, node.pod_start_p99_ms: a pod stored bound to the node until its
 *       status shows it Running and Ready, 200 pods one after another (in batches of 100, as
 *       the node holds 110), the agent in this process as korchd hosts it;
 *   node.110_pods_all_running_s: 110 pods created at once until all are Running, the agent in a
 *       process of its own (tests/node/node-agent);
 *   node.agent_private_110_pods_mb: that agent's Private_Dirty with the 110 pods (VmRSS beside);
 *   node.helper_processes_per_pod: processes per pod besides the containers' own.
 *
 *   node-bench --data DIR --run DIR --image PATH --agent PATH [--pods N]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/kinds.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/client.h"
#include "node/agent.h"
#include "node/backend-real.h"
#include "runtime/cgroup.h"
#include "runtime/image.h"
#include "runtime/monitor-client.h"
#include "store/store.h"

#define NODE "bench-node"
#define BATCH 100

struct bench {
	const char *data, *run, *image, *agent_exe; /* from the command line */
	char state[512];                            /* DATA/state.db */
	char instance[32];                          /* cgroup instance of this run */
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct node_backend *backend; /* the in-process agent's */
	struct node_agent *agent;
	struct client_watch *watch;
	/* what the watch saw */
	int64_t *ready_at;   /* per pod index: wall ns it was seen Ready, 0 before */
	int64_t *running_at; /* per pod index: seen Running */
	bool *gone;          /* per pod index: deleted from the API */
	int n;               /* pods tracked */
	const char *prefix;  /* their names: PREFIX-INDEX */
};

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what, korch_error *err)
{
	fprintf(stderr, "node-bench: %s: %s\n", what,
		err ? korch_error_message(err) : strerror(errno));
	exit(1);
}

static int
index_of(struct bench *b, const json_t *pod)
{
	const char *name =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
	const char *rest = name ? startswith(name, b->prefix) : NULL;
	if (!rest || rest[0] != '-')
		return -1;
	int i = atoi(rest + 1);
	return i >= 0 && i < b->n ? i : -1;
}

static void
on_pod(struct client_watch *w, enum client_event_type type, const json_t *pod, void *userdata)
{
	struct bench *b = userdata;
	int i = index_of(b, pod);
	if (i < 0)
		return;
	if (type == CLIENT_EVENT_DELETED) {
		b->gone[i] = true;
		return;
	}
	const json_t *st = json_object_get(pod, "status");
	if (!b->running_at[i] && streq(json_string_value(json_object_get(st, "phase")), "Running"))
		b->running_at[i] = now_ns();
	size_t k;
	json_t *c;
	json_array_foreach (json_object_get(st, "conditions"), k, c)
		if (!b->ready_at[i] &&
		    streq(json_string_value(json_object_get(c, "type")), "Ready") &&
		    streq(json_string_value(json_object_get(c, "status")), "True"))
			b->ready_at[i] = now_ns();
}

static void
track(struct bench *b, const char *prefix, int n)
{
	free(b->ready_at);
	free(b->running_at);
	free(b->gone);
	b->ready_at = calloc((size_t)n, sizeof(int64_t));
	b->running_at = calloc((size_t)n, sizeof(int64_t));
	b->gone = calloc((size_t)n, sizeof(bool));
	b->n = n;
	b->prefix = prefix;
}

static void
create_pod(struct bench *b, const char *prefix, int i)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s-%d\","
		 "\"namespace\":\"default\"},\"spec\":{\"nodeName\":\"" NODE "\","
		 "\"terminationGracePeriodSeconds\":0,\"containers\":[{\"name\":\"app\","
		 "\"image\":\"korch.test/busybox:1\",\"command\":[\"sleep\",\"3600\"]}]}}",
		 prefix, i);
	json_t *obj = json_loads(text, 0, NULL);
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "bench" };
	if (client_create(b->client, obj, &o, NULL, &err) < 0)
		die("create pod", err);
	json_decref(obj);
}

static void
delete_pod(struct bench *b, const char *prefix, int i)
{
	char name[64];
	snprintf(name, sizeof(name), "%s-%d", prefix, i);
	struct client_delete_opts o = { .grace_period_s = 0 };
	korch_error *err = NULL;
	if (client_delete(b->client, kind_lookup("v1", "Pod"), "default", name, &o, NULL, &err) < 0)
		die("delete pod", err);
}

static void
dispatch(struct bench *b, int timeout_ms)
{
	korch_error *err = NULL;
	if (korch_loop_dispatch(b->loop, timeout_ms, &err) < 0)
		die("dispatch", err);
}

/* Dispatches until every tracked pod is gone from the API, and a little more for clean-up. */
static void
wait_gone(struct bench *b, int from, int to)
{
	int64_t deadline = now_ns() + 60LL * 1000000000;
	for (;;) {
		bool all = true;
		for (int i = from; i < to; i++)
			all &= b->gone[i];
		if (all || now_ns() > deadline)
			break;
		dispatch(b, 20);
	}
	int64_t settle = now_ns() + 3LL * 1000000000;
	while (now_ns() < settle)
		dispatch(b, 50);
}

static int
cmp64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, c = *(const int64_t *)y;
	return a < c ? -1 : a > c;
}

static void
start_agent(struct bench *b)
{
	char images[600], root[600], logs[600];
	snprintf(images, sizeof(images), "%s/images", b->data);
	snprintf(root, sizeof(root), "%s/root", b->data);
	snprintf(logs, sizeof(logs), "%s/logs", b->data);
	struct real_backend_options bo = {
		.run_dir = b->run, .image_dir = images, .data_dir = b->data, .instance = b->instance
	};
	korch_error *err = NULL;
	if (real_backend_new(b->loop, &bo, &b->backend, &err) < 0)
		die("runtime", err);
	struct node_agent_options ao = {
		.node_name = NODE,
		.client = b->client,
		.backend = b->backend,
		.root_dir = root,
		.log_dir = logs,
		.eviction_memory_available_bytes = -1,
	};
	if (node_agent_new(&ao, &b->agent, &err) < 0 || node_agent_start(b->agent, &err) < 0)
		die("agent", err);
}

/* 200 pods one after another: created bound, until Running and Ready. */
static void
sequential(struct bench *b, int pods)
{
	/* A few to warm up (image caches, the monitor), not counted. */
	track(b, "warm", 3);
	for (int i = 0; i < 3; i++) {
		create_pod(b, "warm", i);
		while (!b->ready_at[i])
			dispatch(b, 20);
	}
	for (int i = 0; i < 3; i++)
		delete_pod(b, "warm", i);
	wait_gone(b, 0, 3);
	int64_t *lat = calloc((size_t)pods, sizeof(int64_t));
	track(b, "seq", pods);
	for (int base = 0; base < pods; base += BATCH) {
		int end = MIN(base + BATCH, pods);
		for (int i = base; i < end; i++) {
			/* From the moment the pod is stored bound to the node. */
			create_pod(b, "seq", i);
			int64_t t0 = now_ns();
			while (!b->ready_at[i])
				dispatch(b, 20);
			lat[i] = b->ready_at[i] - t0;
		}
		for (int i = base; i < end; i++)
			delete_pod(b, "seq", i);
		wait_gone(b, base, end);
	}
	qsort(lat, (size_t)pods, sizeof(*lat), cmp64);
	double p50 = (double)lat[pods / 2] / 1e6;
	double p99 = (double)lat[(pods * 99) / 100 - (pods * 99 % 100 == 0 ? 1 : 0)] / 1e6;
	printf("# %d pods one after another (agent in the benchmark's process): min %.2f ms, max "
	       "%.2f ms\n",
	       pods, (double)lat[0] / 1e6, (double)lat[pods - 1] / 1e6);
	printf("bench: node.pod_start_p50_ms %.2f ms\n", p50);
	printf("bench: node.pod_start_p99_ms %.2f ms\n", p99);
	fflush(stdout);
	free(lat);
}

static pid_t
start_helper(struct bench *b)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(b->agent_exe, b->agent_exe, "--state", b->state, "--data", b->data,
		      "--run-dir", b->run, "--node", NODE, "--poll-ms", "10", "--instance",
		      b->instance, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[16] = "";
	if (read(p[0], buf, sizeof(buf) - 1) <= 0 || strncmp(buf, "ready", 5) != 0)
		die("the agent process did not start", NULL);
	close(p[0]);
	return pid;
}

static long
status_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	FILE *f = fopen(path, "re");
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (startswith(line, key))
			v = atol(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

/* Processes whose parent is pid, and (recursively) all below. */
static int
subtree(pid_t pid, int depth)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		int child = atoi(de->d_name);
		if (child <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", child);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		char *rp = strrchr(buf, ')');
		int ppid = 0;
		char state;
		if (rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == pid)
			n += 1 + (depth > 0 ? subtree(child, depth - 1) : 0);
	}
	if (d)
		closedir(d);
	return n;
}

/* 110 pods at once with the agent in its own process: all Running, memory, helpers. */
static void
burst(struct bench *b)
{
	node_agent_free(b->agent);
	b->agent = NULL;
	node_backend_free(b->backend);
	b->backend = NULL;
	pid_t agent = start_helper(b);
	const int n = 110;
	track(b, "burst", n);
	int64_t t0 = now_ns();
	for (int i = 0; i < n; i++)
		create_pod(b, "burst", i);
	int64_t deadline = now_ns() + 120LL * 1000000000;
	int running = 0;
	while (now_ns() < deadline) {
		running = 0;
		for (int i = 0; i < n; i++)
			running += b->running_at[i] != 0;
		if (running == n)
			break;
		dispatch(b, 10);
	}
	int64_t last = 0;
	for (int i = 0; i < n; i++)
		last = MAX(last, b->running_at[i]);
	if (running < n)
		printf("# only %d of %d pods ran within 120 s\n", running, n);
	printf("bench: node.110_pods_all_running_s %.3f s\n", (double)(last - t0) / 1e9);
	/* Let the agent settle (probes, status writes, the first samples), then look at it. */
	int64_t settle = now_ns() + 12LL * 1000000000;
	while (now_ns() < settle)
		dispatch(b, 50);
	long priv = status_kb(agent, "smaps_rollup", "Private_Dirty:");
	long rss = status_kb(agent, "status", "VmRSS:");
	printf("bench: node.agent_private_110_pods_mb %.1f MB\n", (double)priv / 1024.0);
	if (getenv("KORCH_BENCH_SMAPS")) {
		char cmd[256];
		snprintf(
			cmd, sizeof(cmd),
			"awk '/^[0-9a-f]+-/{name=$6} /^Private_Dirty/{s[name]+=$2} END{for(n in s) if "
			"(s[n]>100) print \"# \" s[n] \" kB \" n}' /proc/%d/smaps | sort -k2 -n -r",
			(int)agent);
		if (system(cmd) != 0)
			printf("# smaps: could not read\n");
	}
	printf("bench: node.agent_rss_110_pods_mb %.1f MB\n", (double)rss / 1024.0);
	/* The monitor is the parent of every container's init; anything else would be a helper. */
	struct monitor_client_options mo = { .run_dir = b->run, .no_start = true };
	struct monitor_client *mc = NULL;
	korch_error *err = NULL;
	if (monitor_client_connect(&mo, &mc, &err) < 0)
		die("monitor", err);
	pid_t monitor = monitor_client_monitor_pid(mc);
	monitor_client_free(mc);
	int children = subtree(monitor, 0);
	int agent_children = subtree(agent, 0);
	printf("# korch-monitor (pid %d) has %d children for %d pods; the agent has %d\n",
	       (int)monitor, children, n, agent_children);
	printf("bench: node.helper_processes_per_pod %.2f\n",
	       (double)(children - n + agent_children) / n);
	fflush(stdout);
	for (int i = 0; i < n; i++)
		delete_pod(b, "burst", i);
	wait_gone(b, 0, n);
	kill(agent, SIGTERM);
	waitpid(agent, NULL, 0);
}

static void
cleanup(struct bench *b)
{
	struct monitor_client_options mo = { .run_dir = b->run, .no_start = true };
	struct monitor_client *mc = NULL;
	if (monitor_client_connect(&mo, &mc, NULL) == 0) {
		json_t *list = NULL;
		if (monitor_client_list(mc, &list, NULL) == 0) {
			size_t i;
			json_t *st;
			json_array_foreach (list, i, st)
				monitor_client_delete(
					mc, json_string_value(json_object_get(st, "id")), 0, NULL);
		}
		json_decref(list);
		monitor_client_shutdown(mc, NULL);
		monitor_client_free(mc);
	}
	struct cgroup_manager_options cmo = { .instance = b->instance };
	struct cgroup_manager *cm = NULL;
	if (cgroup_manager_open(&cmo, &cm, NULL) == 0) {
		cgroup_manager_remove_parent(cm, NULL);
		cgroup_manager_free(cm);
	}
}

int
main(int argc, char **argv)
{
	struct bench b = { 0 };
	int pods = 200;
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "run", required_argument, NULL, 'r' },
		{ "image", required_argument, NULL, 'i' },
		{ "agent", required_argument, NULL, 'a' },
		{ "pods", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': b.data = optarg; break;
		case 'r': b.run = optarg; break;
		case 'i': b.image = optarg; break;
		case 'a': b.agent_exe = optarg; break;
		case 'n': pods = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!b.data || !b.run || !b.image || !b.agent_exe || pods < 2) {
		fprintf(stderr,
			"usage: node-bench --data DIR --run DIR --image PATH --agent PATH\n");
		return 2;
	}
	snprintf(b.state, sizeof(b.state), "%s/state.db", b.data);
	snprintf(b.instance, sizeof(b.instance), "bench-%d", (int)getpid());
	char images[600];
	snprintf(images, sizeof(images), "%s/images", b.data);
	struct image_store *is = NULL;
	korch_error *err = NULL;
	if (image_store_open(images, &is, &err) < 0 ||
	    image_store_load(is, b.image, NULL, NULL, NULL, NULL, &err) < 0)
		die("load the test image", err);
	image_store_free(is);
	if (korch_clock_new_real(&b.clock, &err) < 0 || korch_loop_new(b.clock, &b.loop, &err) < 0)
		die("loop", err);
	/* The store's durability as korchd's default: synchronous=FULL. */
	struct store_options so = { .loop = b.loop, .poll_interval_ms = 10 };
	if (store_open(b.state, &so, &b.store, &err) < 0 ||
	    client_new_local(b.store, b.clock, &b.client, &err) < 0)
		die("state", err);
	static const char *const nss[] = { "default", "kube-system", "kube-node-lease" };
	for (size_t i = 0; i < 3; i++) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", nss[i]);
		if (client_create(b.client, ns, NULL, NULL, &err) < 0)
			die("namespace", err);
		json_decref(ns);
	}
	struct client_watch_opts wo = { 0 };
	if (client_watch(b.client, kind_lookup("v1", "Pod"), "default", &wo, on_pod, &b, &b.watch,
			 &err) < 0)
		die("watch", err);
	start_agent(&b);
	sequential(&b, pods);
	burst(&b);
	client_watch_free(b.watch);
	node_agent_free(b.agent);
	node_backend_free(b.backend);
	cleanup(&b);
	client_free(b.client);
	store_close(b.store);
	korch_loop_free(b.loop);
	korch_clock_free(b.clock);
	free(b.ready_at);
	free(b.running_at);
	free(b.gone);
	return 0;
}
