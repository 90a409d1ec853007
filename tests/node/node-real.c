/* node-real.c - the node agent's root-test harness (see node-real.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <korch/log.h>
#include "api/kinds.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "node-real.h"
#include "node/backend-real.h"
#include "node/logs.h"
#include "node/sandbox.h"
#include "runtime/cgroup.h"
#include "runtime/image.h"
#include "runtime/monitor-client.h"

static json_t *last;

bool
rn_skip(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return true;
	}
	return false;
}

void
rn_init(struct rn *t)
{
	memset(t, 0, sizeof(*t));
	korch_log_level level;
	if (getenv("KORCH_TEST_LOG") &&
	    korch_log_level_parse(getenv("KORCH_TEST_LOG"), &level) == 0)
		korch_log_set_handler(korch_log_stderr, level, NULL);
	snprintf(t->dir, sizeof(t->dir), "/tmp/korch-test-noder-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->data, sizeof(t->data), "%s/data", t->dir);
	snprintf(t->run, sizeof(t->run), "%s/run", t->dir);
	snprintf(t->state, sizeof(t->state), "%s/state.db", t->dir);
	snprintf(t->instance, sizeof(t->instance), "test-%s",
		 t->dir + strlen("/tmp/korch-test-noder-"));
	char images[160];
	snprintf(images, sizeof(images), "%s/images", t->data);
	struct image_store *is = NULL;
	korch_error *err = NULL;
	const char *image = getenv("KORCH_TEST_IMAGE");
	if (!image || image_store_open(images, &is, &err) < 0 ||
	    image_store_load(is, image, NULL, NULL, NULL, NULL, &err) < 0) {
		image_store_free(is);
		rm_rf(t->dir, NULL);
		fail_msg("test image: %s",
			 image ? korch_error_message(err) : "KORCH_TEST_IMAGE is not set");
	}
	image_store_free(is);
	assert_int_equal(korch_clock_new_real(&t->clock, NULL), 0);
	assert_int_equal(korch_loop_new(t->clock, &t->loop, NULL), 0);
	struct store_options so = { .loop = t->loop, .sync_normal = true, .poll_interval_ms = 20 };
	assert_int_equal(store_open(t->state, &so, &t->store, NULL), 0);
	assert_int_equal(client_new_local(t->store, t->clock, &t->client, NULL), 0);
	static const char *const nss[] = { "default", "kube-system", "kube-node-lease" };
	for (size_t i = 0; i < 3; i++) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", nss[i]);
		assert_int_equal(client_create(t->client, ns, NULL, NULL, NULL), 0);
		json_decref(ns);
	}
	static char root[160], logs[160];
	snprintf(root, sizeof(root), "%s/root", t->data);
	snprintf(logs, sizeof(logs), "%s/logs", t->data);
	t->opts = (struct node_agent_options){
		.node_name = RN_NODE,
		.client = t->client,
		.root_dir = root,
		.log_dir = logs,
		.eviction_memory_available_bytes = -1,
		.eviction_nodefs_available_bytes = -1, /* the machine's disk may be nearly full */
		.housekeeping_interval_ns = 1000000000LL,
		.stats_interval_ns = 1000000000LL,
	};
}

void
rn_start_agent(struct rn *t)
{
	char images[160];
	snprintf(images, sizeof(images), "%s/images", t->data);
	struct real_backend_options bo = {
		.run_dir = t->run, .image_dir = images, .data_dir = t->data, .instance = t->instance
	};
	korch_error *err = NULL;
	if (real_backend_new(t->loop, &bo, &t->backend, &err) < 0)
		fail_msg("backend: %s", korch_error_message(err));
	t->opts.backend = t->backend;
	if (node_agent_new(&t->opts, &t->agent, &err) < 0 || node_agent_start(t->agent, &err) < 0)
		fail_msg("agent: %s", korch_error_message(err));
	rn_run_for(t, 50);
}

void
rn_stop_agent(struct rn *t)
{
	node_agent_free(t->agent);
	t->agent = NULL;
	node_backend_free(t->backend);
	t->backend = NULL;
}

void
rn_start_helper(struct rn *t, ...)
{
	const char *exe = getenv("KORCH_TEST_NODE_AGENT");
	if (!exe)
		fail_msg("KORCH_TEST_NODE_AGENT is not set");
	char *argv[32] = { (char *)exe, "--state",    t->state,   "--data", t->data,
			   "--run-dir", t->run,       "--node",   RN_NODE,  "--housekeeping-ms",
			   "1000",      "--instance", t->instance };
	size_t n = 13;
	va_list ap;
	va_start(ap, t);
	for (char *a; n < 31 && (a = va_arg(ap, char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execv(exe, argv);
		_exit(127);
	}
	close(p[1]);
	char buf[16] = "";
	ssize_t got = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	if (got <= 0 || strncmp(buf, "ready", 5) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("node-agent did not start");
	}
	t->helper = pid;
}

void
rn_kill_helper(struct rn *t)
{
	if (t->helper <= 0)
		return;
	kill(t->helper, SIGKILL);
	waitpid(t->helper, NULL, 0);
	t->helper = 0;
}

/* Removes everything the agent made on the host: containers, sandboxes, mounts, the monitor. */
static void
clean_host(struct rn *t)
{
	struct monitor_client_options mo = { .run_dir = t->run, .no_start = true };
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
	char **ids = NULL;
	if (sandbox_list(t->run, &ids, NULL) == 0) {
		for (char **id = ids; *id; id++) {
			sandbox_remove(t->run, *id, NULL);
			free(*id);
		}
		free(ids);
	}
	/* the pods' cgroups and the instance's parent */
	struct cgroup_manager_options cmo = { .instance = t->instance };
	struct cgroup_manager *cm = NULL;
	if (cgroup_manager_open(&cmo, &cm, NULL) == 0) {
		const char *dir = cgroup_manager_parent_dir(cm, "memory");
		DIR *d = dir ? opendir(dir) : NULL;
		struct dirent *de;
		while (d && (de = readdir(d))) {
			struct cgroup *cg = NULL;
			if (startswith(de->d_name, "pod") &&
			    cgroup_open(cm, NULL, de->d_name, &cg, NULL) == 0) {
				cgroup_destroy(cg, NULL);
				cgroup_free(cg);
			}
		}
		if (d)
			closedir(d);
		korch_error *err = NULL;
		if (cgroup_manager_remove_parent(cm, &err) < 0) {
			fprintf(stderr, "# remove cgroup parent: %s\n", korch_error_message(err));
			korch_error_free(err);
		}
		cgroup_manager_free(cm);
	}
	/* tmpfs volumes under the pods' directories */
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	struct ptrvec found = PTRVEC_INIT;
	while (f && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		if (tok && startswith(tok, t->dir))
			ptrvec_push(&found, strdup(tok));
	}
	if (f)
		fclose(f);
	for (size_t i = found.n; i > 0; i--)
		umount2(found.items[i - 1], MNT_DETACH);
	ptrvec_free(&found, free);
}

void
rn_fini(struct rn *t)
{
	rn_kill_helper(t);
	rn_stop_agent(t);
	clean_host(t);
	client_free(t->client);
	store_close(t->store);
	korch_loop_free(t->loop);
	korch_clock_free(t->clock);
	rm_rf(t->dir, NULL);
	json_decref(last);
	last = NULL;
}

static int64_t
now_ms(struct rn *t)
{
	return korch_clock_now_ns(t->clock) / 1000000;
}

void
rn_run_for(struct rn *t, int ms)
{
	int64_t end = now_ms(t) + ms;
	for (int64_t left; (left = end - now_ms(t)) > 0;)
		korch_loop_dispatch(t->loop, (int)MIN(left, 20), NULL);
}

void
rn_create(struct rn *t, const char *text)
{
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);
	if (!obj)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	if (streq(json_string_value(json_object_get(obj, "kind")), "Pod") &&
	    !json_object_get(json_object_get(obj, "spec"), "nodeName"))
		json_object_set_new(json_object_get(obj, "spec"), "nodeName", json_string(RN_NODE));
	korch_error *err = NULL;
	struct client_write_opts o = { .field_manager = "test" };
	if (client_create(t->client, obj, &o, NULL, &err) < 0)
		fail_msg("create: %s", korch_error_message(err));
	json_decref(obj);
	rn_run_for(t, 10);
}

void
rn_delete(struct rn *t, const char *name, long long grace)
{
	struct client_delete_opts o = { .grace_period_s = grace };
	korch_error *err = NULL;
	if (client_delete(t->client, kind_lookup("v1", "Pod"), "default", name, &o, NULL, &err) < 0)
		fail_msg("delete: %s", korch_error_message(err));
}

void
rn_update_configmap(struct rn *t, const char *name, const char *key, const char *value)
{
	json_t *cm = NULL;
	assert_int_equal(
		client_get(t->client, kind_lookup("v1", "ConfigMap"), "default", name, &cm, NULL),
		0);
	json_object_set_new(json_object_get(cm, "data"), key, json_string(value));
	assert_int_equal(client_update(t->client, cm, NULL, NULL, NULL, NULL), 0);
	json_decref(cm);
}

static json_t *
at(json_t *v, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		char *end;
		long i = strtol(tok, &end, 10);
		v = *end == '\0' && json_is_array(v) ? json_array_get(v, (size_t)i)
						     : json_object_get(v, tok);
	}
	return v;
}

static json_t *
get_pod(struct rn *t, const char *name)
{
	json_t *obj = NULL;
	if (client_get(t->client, kind_lookup("v1", "Pod"), "default", name, &obj, NULL) < 0)
		return NULL;
	return obj;
}

char *
rn_uid(struct rn *t, const char *name)
{
	json_t *p = get_pod(t, name);
	const char *uid =
		p ? json_string_value(json_object_get(json_object_get(p, "metadata"), "uid")) : "";
	char *s = strdup(uid ? uid : "");
	json_decref(p);
	return s;
}

json_t *
rn_status(struct rn *t, const char *name, const char *path)
{
	json_decref(last);
	last = get_pod(t, name);
	return last ? at(json_object_get(last, "status"), path) : NULL;
}

const char *
rn_status_str(struct rn *t, const char *name, const char *path)
{
	return json_string_value(rn_status(t, name, path));
}

long long
rn_status_int(struct rn *t, const char *name, const char *path)
{
	json_t *v = rn_status(t, name, path);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

const char *
rn_condition(struct rn *t, const char *name, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (rn_status(t, name, "conditions"), i, c)
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return json_string_value(json_object_get(c, "status"));
	return NULL;
}

bool
rn_wait_str(struct rn *t, const char *name, const char *path, const char *value, int ms)
{
	int64_t end = now_ms(t) + ms;
	do {
		if (streq(rn_status_str(t, name, path), value))
			return true;
		rn_run_for(t, 20);
	} while (now_ms(t) < end);
	fprintf(stderr, "# waited %d ms for %s %s = %s; have %s\n", ms, name, path, value,
		rn_status_str(t, name, path) ?: "(none)");
	json_t *st = rn_status(t, name, "");
	char *dump = st ? json_dumps(st, JSON_COMPACT) : NULL;
	fprintf(stderr, "# status %s\n", dump ? dump : "(none)");
	free(dump);
	return false;
}

bool
rn_wait_int(struct rn *t, const char *name, const char *path, long long value, int ms)
{
	int64_t end = now_ms(t) + ms;
	do {
		if (rn_status_int(t, name, path) == value)
			return true;
		rn_run_for(t, 20);
	} while (now_ms(t) < end);
	fprintf(stderr, "# waited %d ms for %s %s = %lld; have %lld\n", ms, name, path, value,
		rn_status_int(t, name, path));
	return false;
}

bool
rn_wait_condition(struct rn *t, const char *name, const char *type, const char *value, int ms)
{
	int64_t end = now_ms(t) + ms;
	do {
		if (streq(rn_condition(t, name, type), value))
			return true;
		rn_run_for(t, 20);
	} while (now_ms(t) < end);
	json_t *st = rn_status(t, name, "");
	char *dump = st ? json_dumps(st, JSON_INDENT(1)) : NULL;
	fprintf(stderr, "# waited %d ms for %s %s = %s; status %s\n", ms, name, type, value,
		dump ? dump : "(none)");
	free(dump);
	return false;
}

bool
rn_wait_gone(struct rn *t, const char *name, int ms)
{
	int64_t end = now_ms(t) + ms;
	do {
		json_t *p = get_pod(t, name);
		json_decref(p);
		if (!p)
			return true;
		rn_run_for(t, 20);
	} while (now_ms(t) < end);
	return false;
}

static int
collect(const char *data, size_t len, void *userdata)
{
	strbuf_append(userdata, data, len);
	return 0;
}

char *
rn_log(struct rn *t, const char *pod, const char *container, unsigned attempt, long tail,
       bool timestamps)
{
	json_t *p = get_pod(t, pod);
	const char *uid =
		p ? json_string_value(json_object_get(json_object_get(p, "metadata"), "uid")) : "";
	char path[512];
	snprintf(path, sizeof(path), "%s/%s_%s_%s/%s/%u.log", t->opts.log_dir, "default", pod, uid,
		 container, attempt);
	json_decref(p);
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb, "");
	struct log_read_options o = { .tail_lines = tail, .timestamps = timestamps };
	logs_read_file(path, &o, collect, &sb, NULL);
	return strbuf_steal(&sb);
}

bool
rn_wait_log(struct rn *t, const char *pod, const char *container, const char *text, int ms)
{
	int64_t end = now_ms(t) + ms;
	do {
		long long n = 0;
		char path[64];
		snprintf(path, sizeof(path), "containerStatuses.0.restartCount");
		n = rn_status_int(t, pod, path);
		char *out = rn_log(t, pod, container, n > 0 ? (unsigned)n : 0, -1, false);
		bool found = strstr(out, text) != NULL;
		free(out);
		if (found)
			return true;
		rn_run_for(t, 50);
	} while (now_ms(t) < end);
	return false;
}

char *
rn_volume_file(struct rn *t, const char *pod, const char *plugin, const char *vol, const char *file)
{
	json_t *p = get_pod(t, pod);
	const char *uid =
		p ? json_string_value(json_object_get(json_object_get(p, "metadata"), "uid")) : "";
	char path[512];
	snprintf(path, sizeof(path), "%s/pods/%s/volumes/kubernetes.io~%s/%s/%s", t->opts.root_dir,
		 uid, plugin, vol, file);
	json_decref(p);
	return rn_read(path);
}

char *
rn_read(const char *path)
{
	char *data = NULL;
	size_t len;
	if (read_file(path, 1 << 20, &data, &len, NULL) < 0)
		return strdup("");
	return data;
}

json_t *
rn_monitor_state(struct rn *t, const char *id)
{
	struct monitor_client_options mo = { .run_dir = t->run, .no_start = true };
	struct monitor_client *mc = NULL;
	json_t *st = NULL;
	if (monitor_client_connect(&mo, &mc, NULL) == 0) {
		monitor_client_state(mc, id, &st, NULL);
		monitor_client_free(mc);
	}
	return st;
}
