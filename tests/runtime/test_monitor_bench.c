/*
 * test_monitor_bench.c - how long a container takes: create + start + wait + delete of
 * /bin/true in the busybox rootfs through korch-monitor, 100 runs after 5 warm-up runs, as the
 * issue's runtime.start_ms measures it. Prints "bench: METRIC VALUE UNIT" lines (bench/run's
 * format). Registered as a meson benchmark, not a test: `meson test --benchmark`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/error.h"
#include "test_container_lib.h"

#define RUNS 100
#define WARMUP 5

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
one_run(struct rt *rt, int i)
{
	char id[32];
	snprintf(id, sizeof(id), "true%d", i);
	json_t *spec = rt_spec(id, "/bin/true", NULL), *st = NULL;
	korch_error *err = NULL;
	double t0 = now_ms();
	if (monitor_client_create(rt->client, spec, &st, &err) < 0 ||
	    monitor_client_start(rt->client, id, NULL, &err) < 0 ||
	    monitor_client_wait(rt->client, id, 10000, NULL, &err) < 0 ||
	    monitor_client_delete(rt->client, id, 0, &err) < 0)
		fail_msg("%s: %s", id, korch_error_message(err));
	double took = now_ms() - t0;
	json_decref(spec);
	json_decref(st);
	return took;
}

static void
bench_start(void **state)
{
	struct rt *rt = *state;
	double ms[RUNS];
	for (int i = 0; i < WARMUP; i++)
		one_run(rt, i);
	for (int i = 0; i < RUNS; i++)
		ms[i] = one_run(rt, WARMUP + i);
	qsort(ms, RUNS, sizeof(double), cmp_double);
	printf("bench: runtime.start_ms %.2f ms\n", (ms[RUNS / 2 - 1] + ms[RUNS / 2]) / 2);
	printf("bench: runtime.start_ms.p95 %.2f ms\n", ms[RUNS * 95 / 100 - 1]);
	printf("bench: runtime.start_ms.min %.2f ms\n", ms[0]);
	char path[64], *status = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)rt->monitor_pid);
	FILE *f = fopen(path, "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0 || strncmp(line, "RssAnon:", 8) == 0)
			printf("bench: runtime.monitor_%.*s %ld kB\n", (int)strcspn(line, ":"),
			       line, strtol(line + strcspn(line, ":") + 1, NULL, 10));
	if (f)
		fclose(f);
	free(status);
}

int
main(void)
{
	if (rt_skip())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(bench_start, rt_setup, rt_teardown),
	};
	return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
