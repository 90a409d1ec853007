/*
 * sched-bench - the scheduler's throughput on kube-scheduler's scheduler_perf "SchedulingBasic"
 * workloads: simulated nodes (Node objects only: 4 cpu, 32Gi, 110 pods, Ready), pods of the
 * pod-default template (100m cpu, 500Mi), an in-process store with durable commits
 * (synchronous=FULL).
 *
 *   sched-bench DIR
 *
 * For each workload: the nodes and the initial pods are created and the initial pods scheduled
 * (not timed); then the measured pods are created while the loop does not run (not timed), and
 * the clock runs from the first of them enqueued to the last binding committed. Prints
 * "bench: METRIC VALUE UNIT" lines.
 */
#include <dirent.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <korch/log.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "client/client.h"
#include "scheduler/scheduler.h"

#define CREATE_BATCH 1000 /* objects per transaction while preparing */

static void _printf_(1, 2) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "sched-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
metric(const char *name, double value, const char *unit)
{
	if (value >= 100)
		printf("bench: %s %.0f %s\n", name, value, unit);
	else
		printf("bench: %s %.2f %s\n", name, value, unit);
	fflush(stdout);
}

/* SCHED_BENCH_LOG=1: warnings and errors on stderr (failed commits, say). */
static void
log_stderr(korch_log_level level, const char *subsystem, const char *message, void *userdata)
{
	fprintf(stderr, "sched-bench: %s: %s\n", subsystem, message);
}

static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Seconds this process's threads spent runnable but waiting for a CPU (schedstat's run_delay):
 * on a machine shared with other work, the part of the wall time that is not the scheduler's.
 */
static double
runqueue_wait_s(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	double total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", de->d_name);
		FILE *f = fopen(path, "re");
		unsigned long long run = 0, wait = 0;
		if (f && fscanf(f, "%llu %llu", &run, &wait) == 2)
			total += (double)wait / 1e9;
		if (f)
			fclose(f);
	}
	closedir(d);
	return total;
}

/* SCHED_BENCH_TIMES: each thread's CPU seconds so far (utime + stime), on stderr. */
static void
print_thread_cpu(const char *when)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	long hz = sysconf(_SC_CLK_TCK);
	struct dirent *de;
	fprintf(stderr, "sched-bench: thread CPU %s:", when);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[300], buf[1024];
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		char *p = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				&st) == 2)
			fprintf(stderr, " %s=%.2f", de->d_name, (double)(ut + st) / (double)hz);
	}
	fprintf(stderr, "\n");
	closedir(d);
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench {
	korch_clock *clock;
	korch_loop *loop;
	struct store *store;
	struct client *client;
	struct scheduler *sched;
};

/* Creates objects made by make(i) for i in [from, to), CREATE_BATCH per transaction. */
static void
create_many(struct bench *b, int from, int to, json_t *(*make)(int i))
{
	for (int i = from; i < to;) {
		struct client_txn *t = NULL;
		korch_error *err = NULL;
		if (client_txn_new(b->client, &t, &err) < 0)
			die("txn: %s", korch_error_message(err));
		for (int k = 0; k < CREATE_BATCH && i < to; k++, i++) {
			json_t *obj = make(i);
			if (client_txn_create(t, obj, NULL, NULL, &err) < 0)
				die("create: %s", korch_error_message(err));
			json_decref(obj);
		}
		if (client_txn_commit(t, NULL, &err) < 0)
			die("commit: %s", korch_error_message(err));
	}
}

/* scheduler_perf's makeBaseNode. */
static json_t *
make_node(int i)
{
	char name[64];
	snprintf(name, sizeof(name), "scheduler-perf-%05d", i);
	return json_pack("{s:s, s:s, s:{s:s}, s:{}, s:{s:{s:s, s:s, s:s}, s:s, s:[{s:s, s:s}]}}",
			 "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "spec",
			 "status", "capacity", "pods", "110", "cpu", "4", "memory", "32Gi", "phase",
			 "Running", "conditions", "type", "Ready", "status", "True");
}

/* config/templates/pod-default.yaml. */
static json_t *
make_pod(int i)
{
	char name[64];
	snprintf(name, sizeof(name), "pod-%06d", i);
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s, s:[{s:i}], s:{s:{s:s, s:s}, "
			 "s:{s:s, s:s}}}]}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 "default", "spec", "containers", "image", "registry.k8s.io/pause:3.10",
			 "name", "pause", "ports", "containerPort", 80, "resources", "limits",
			 "cpu", "100m", "memory", "500Mi", "requests", "cpu", "100m", "memory",
			 "500Mi");
}

static json_t *
make_namespace(int i)
{
	return json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
			 "name", "default");
}

static void
run_until(struct bench *b, uint64_t scheduled, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	struct scheduler_stats st;
	for (;;) {
		scheduler_stats_get(b->sched, &st);
		if (st.scheduled >= scheduled)
			return;
		if (now_s() > deadline)
			die("only %llu of %llu pods bound after %.0f s",
			    (unsigned long long)st.scheduled, (unsigned long long)scheduled,
			    timeout_s);
		korch_error *err = NULL;
		if (korch_loop_dispatch(b->loop, 100, &err) < 0)
			die("dispatch: %s", korch_error_message(err));
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Runs one workload; returns pods per second and fills the p99 latency and snapshot size. */
static double
workload(const char *dir, int nodes, int init_pods, int pods, double *ret_p99_ms,
	 double *ret_snapshot_mb, double *ret_per_cpu_s)
{
	struct bench b = { 0 };
	char path[4096];
	snprintf(path, sizeof(path), "%s/state-%d-%d.db", dir, nodes, pods);
	korch_error *err = NULL;
	if (korch_clock_new_real(&b.clock, &err) < 0 || korch_loop_new(b.clock, &b.loop, &err) < 0)
		die("loop: %s", korch_error_message(err));
	struct store_options so = { .loop = b.loop, .compact_keep_revisions = -1 };
	if (store_open(path, &so, &b.store, &err) < 0 ||
	    client_new_local(b.store, b.clock, &b.client, &err) < 0)
		die("store: %s", korch_error_message(err));
	create_many(&b, 0, 1, make_namespace);
	create_many(&b, 0, nodes, make_node);
	create_many(&b, 0, init_pods, make_pod);
	struct scheduler_options o = { .seed = 1,
				       .no_scheduled_events =
					       getenv("SCHED_BENCH_NO_EVENTS") != NULL };
	if (scheduler_new(b.client, b.loop, &o, &b.sched, &err) < 0 ||
	    scheduler_start(b.sched, &err) < 0)
		die("scheduler: %s", korch_error_message(err));
	run_until(&b, (uint64_t)init_pods, 600);
	scheduler_stats_reset(b.sched);
	create_many(&b, init_pods, init_pods + pods, make_pod);
	if (getenv("SCHED_BENCH_TIMES"))
		print_thread_cpu("before");
	double cpu0 = cpu_s(), t0 = now_s(), wait0 = runqueue_wait_s();
	run_until(&b, (uint64_t)pods, 1200);
	if (getenv("SCHED_BENCH_TIMES"))
		print_thread_cpu("after");
	double cpu = cpu_s() - cpu0, wait = runqueue_wait_s() - wait0;
	if (getenv("SCHED_BENCH_TIMES"))
		fprintf(stderr, "sched-bench: measured from %.6f to %.6f (CLOCK_MONOTONIC)\n", t0,
			now_s());
	(void)t0;
	struct scheduler_stats st;
	scheduler_stats_get(b.sched, &st);
	double seconds = (double)(st.last_bind_ns - st.first_enqueue_ns) / 1e9;
	if (getenv("SCHED_BENCH_TIMES"))
		fprintf(stderr, "sched-bench: window from %.6f to %.6f (CLOCK_MONOTONIC)\n",
			(double)st.first_enqueue_ns / 1e9, (double)st.last_bind_ns / 1e9);
	size_t n = 0;
	const int64_t *lat = scheduler_latencies(b.sched, &n);
	int64_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	memcpy(sorted, lat, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_i64);
	*ret_p99_ms = n ? (double)sorted[(size_t)((double)(n - 1) * 0.99)] / 1e6 : 0;
	free(sorted);
	*ret_per_cpu_s = pods / cpu;
	*ret_snapshot_mb = (double)scheduler_snapshot_bytes(b.sched) / (1024.0 * 1024.0);
	fprintf(stderr,
		"sched-bench: %d nodes, %d pods: %.3f s (%.3f s of CPU: %.0f pods per CPU second; "
		"%.3f s runnable but waiting for a CPU), %llu cycles, %llu transactions, %llu failed "
		"binds, %llu events dropped\n",
		nodes, pods, seconds, cpu, pods / cpu, wait, (unsigned long long)st.attempts,
		(unsigned long long)st.bind_commits, (unsigned long long)st.bind_failures,
		(unsigned long long)st.events_dropped);
	scheduler_free(b.sched);
	client_free(b.client);
	store_close(b.store);
	korch_loop_free(b.loop);
	korch_clock_free(b.clock);
	return (double)pods / seconds;
}

int
main(int argc, char **argv)
{
	if (getenv("SCHED_BENCH_LOG"))
		korch_log_set_handler(log_stderr, KORCH_LOG_WARN, NULL);
	if (argc < 2)
		die("usage: sched-bench DIR [NODES PODS INIT_PODS]");
	if (argc == 5) {
		double p99, mb, per_cpu;
		double rate = workload(argv[1], atoi(argv[2]), atoi(argv[4]), atoi(argv[3]), &p99,
				       &mb, &per_cpu);
		metric("scheduler.custom_pods_per_s", rate, "pods/s");
		metric("scheduler.custom_pods_per_cpu_s", per_cpu, "pods/s");
		metric("scheduler.custom_pod_latency_p99_ms", p99, "ms");
		return 0;
	}
	double p99_a, p99_b, mb_a, mb_b, cpu_a, cpu_b;
	double a = workload(argv[1], 5000, 1000, 10000, &p99_a, &mb_a, &cpu_a);
	metric("scheduler.basic_5000n_10000p_pods_per_s", a, "pods/s");
	/* Pods per second of the process's CPU time (both threads): what a quiet machine bounds. */
	metric("scheduler.basic_5000n_10000p_pods_per_cpu_s", cpu_a, "pods/s");
	double b = workload(argv[1], 5000, 5000, 50000, &p99_b, &mb_b, &cpu_b);
	metric("scheduler.basic_5000n_50000p_pods_per_s", b, "pods/s");
	metric("scheduler.basic_5000n_50000p_pods_per_cpu_s", cpu_b, "pods/s");
	metric("scheduler.basic_5000n_10000p_pods_per_s.kube_scheduler_ci_floor", 680, "pods/s");
	metric("scheduler.basic_5000n_50000p_pods_per_s.kube_scheduler_ci_floor", 810, "pods/s");
	metric("scheduler.basic_5000n_10000p_pods_per_s.target", 10000, "pods/s");
	metric("scheduler.pod_latency_p99_ms", MAX(p99_a, p99_b), "ms");
	metric("scheduler.snapshot_private_mb", MAX(mb_a, mb_b), "MB");
	return 0;
}
