/*
 * test_container_lib.h - what the root tests of lib/runtime share: a busybox rootfs with the
 * probe, a run dir and a korch-monitor of their own per test, torn down even on failure.
 */
#ifndef KORCH_TESTS_RUNTIME_LIB_H
#define KORCH_TESTS_RUNTIME_LIB_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include <korch/common.h>
#include "runtime/monitor-client.h"

struct rt {
	char *dir;                     /* this test's temporary directory */
	char *run_dir;                 /* DIR/run: the monitor's */
	struct monitor_client *client; /* connected to the test's monitor */
	pid_t monitor_pid;             /* our child (we are a subreaper) */
};

/*
 * The busybox test image (KORCH_TEST_IMAGE), loaded into a temporary image store: its layer
 * directories, bottom first, then the test layer (the probe, /.korch-probe and the fixtures
 * the tests look for). Every test container's rootfs is an overlay over these.
 */
extern json_t *rt_base_layers;
/* The test layer, the top lower layer (also in rt_base_layers). */
extern char *rt_test_layer;
/* A plain rootfs directory (busybox, the probe) for the rootfs.path case. */
extern char *rt_plain_rootfs;
/* The cgroup instance of this test program's containers: cgroups under korch-INSTANCE. */
extern char rt_instance[64];

/* Prints the TAP skip and returns true when the tests cannot run here (not root). */
bool rt_skip(void);
/* Group setup and teardown: the rootfs. */
int rt_group_setup(void **state);
int rt_group_teardown(void **state);
/*
 * Per test: a run dir (under $KORCH_RT_TMPDIR, /tmp by default) and a monitor; teardown deletes
 * every container and stops it.
 */
int rt_setup(void **state);
int rt_teardown(void **state);
/* Connects a client to the test's monitor (starting one when none runs). */
struct monitor_client *rt_connect(struct rt *rt);

/*
 * {"id": id, "rootfs": {"layers": rt_base_layers}, "process": {"args": [args..., NULL]},
 *  "cgroup": {"instance": rt_instance}}
 */
json_t *rt_spec(const char *id, ...) __attribute__((sentinel));
/* rt_base_layers followed by the given directories (NULL-terminated), as a new array. */
json_t *rt_layers(const char *extra, ...);
/*
 * The directories named korch-INSTANCE in every mounted cgroup hierarchy (v1 and v2), as a
 * NULL-terminated vector (free each and it). None once every test removed its parent.
 */
char **rt_cgroup_parents(void);
/* How many cgroup directories are left below korch-INSTANCE, in every hierarchy. */
int rt_cgroup_leftovers(void);
/* Kills what runs below korch-INSTANCE and removes it, in every hierarchy; the count removed. */
int rt_cgroup_remove_all(void);
/* The container's cgroup directory for a v1 controller ("memory"), from its state's pid. */
char *rt_container_cgroup(json_t *state, const char *controller);
/* Creates and starts spec (stolen); returns the state after start. */
json_t *rt_start(struct rt *rt, json_t *spec);
/* Creates, starts and waits for spec (stolen); returns the final state. */
json_t *rt_run(struct rt *rt, json_t *spec);
/* Creates spec (stolen) expecting failure: returns the error's code and message (caller's). */
int rt_create_error(struct rt *rt, json_t *spec, char **ret_message);
/* Runs spec (stolen) to its end and checks its exit code and exact stdout. */
void rt_expect(struct rt *rt, json_t *spec, int exit_code, const char *stdout_text);
/*
 * Runs process (stolen) in the running container id, its stdout and stderr into one pipe;
 * returns its exit code (or the error's code), *out what it wrote (the caller's).
 */
int rt_exec(struct rt *rt, const char *id, json_t *process, char **out, korch_error **err);
/* What the container wrote to stream ("stdout", "stderr"), rebuilt from its CRI log. */
char *rt_output(json_t *state, const char *stream);
/* Waits up to timeout_ms until the container's stdout holds text. */
bool rt_wait_output(json_t *state, const char *text, int timeout_ms);
/* Mounts in the host namespace below the test's directories (see rt_live_dir). */
int rt_host_mounts(void);
/* A temporary directory under the test's dir with one file "name" holding text. */
char *rt_host_dir(struct rt *rt, const char *sub, const char *name, const char *text);
/* A layer directory (under the test's dir) for overlay tests. */
char *rt_layer(struct rt *rt, const char *name);

#endif
