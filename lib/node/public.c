/*
 * public.c - include/korch/node.h: a node in the caller's process, its pods' usage, and the logs
 * and exec calls that korchctl and embedders use.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <korch/node.h>
#include "api/kinds.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "client/remote.h"
#include "node/agent.h"
#include "node/backend-real.h"
#include "node/backend-sim.h"
#include "node/logs.h"
#include "runtime/monitor-client.h"

#define DEFAULT_RUN_DIR "/run/korch"

struct korch_node {
	struct store *store;          /* the state, on the caller's loop */
	struct client *client;        /* over store */
	struct node_backend *backend; /* real or simulated */
	struct node_agent *agent;     /* the node */
};

static inline korch_object *
O(json_t *j)
{
	return (korch_object *)j;
}

KORCH_EXPORT void
korch_node_free(korch_node *n)
{
	if (!n)
		return;
	node_agent_free(n->agent);
	node_backend_free(n->backend);
	client_free(n->client);
	store_close(n->store);
	free(n);
}

KORCH_EXPORT int
korch_node_new(korch_loop *loop, const korch_node_options *o, korch_node **ret, korch_error **err)
{
	if (!o || o->version != KORCH_NODE_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_node_options version %u is not %u",
				 o ? o->version : 0, KORCH_NODE_OPTIONS_VERSION);
	if (!o->node_name || !o->state_path)
		return error_set(err, KORCH_EINVALID,
				 "korch_node_new: node_name and state_path are required");
	/* The state file with Kubernetes' namespaces, as every korch state has them. */
	korch_client *kc = NULL;
	int r = korch_client_open_state(o->state_path, NULL, &kc, err);
	if (r < 0)
		return r;
	korch_client_free(kc);
	_cleanup_free_ char *data = o->data_dir ? strdup(o->data_dir) : path_dirname(o->state_path);
	_cleanup_free_ char *images = NULL, *logs = NULL;
	if (!data || asprintf(&images, "%s/images", data) < 0 ||
	    asprintf(&logs, "%s/logs", data) < 0)
		return error_oom(err);
	korch_node *n = calloc(1, sizeof(*n));
	if (!n)
		return error_oom(err);
	struct store_options so = { .loop = loop };
	if ((r = store_open(o->state_path, &so, &n->store, err)) < 0 ||
	    (r = client_new_local(n->store, korch_loop_clock(loop), &n->client, err)) < 0)
		goto fail;
	if (o->simulated) {
		struct sim_backend *sim = NULL;
		r = sim_backend_new(loop, &n->backend, &sim, err);
	} else {
		struct real_backend_options bo = {
			.run_dir = o->run_dir ? o->run_dir : DEFAULT_RUN_DIR,
			.image_dir = images,
			.data_dir = data,
			.instance = o->instance,
		};
		r = real_backend_new(loop, &bo, &n->backend, err);
	}
	if (r < 0)
		goto fail;
	struct node_agent_options ao = {
		.node_name = o->node_name,
		.client = n->client,
		.backend = n->backend,
		.root_dir = data,
		.log_dir = logs,
		.eviction_memory_available_bytes = o->eviction_memory_available_bytes,
		.protect_from_oom = !o->simulated,
	};
	if ((r = node_agent_new(&ao, &n->agent, err)) < 0 ||
	    (r = node_agent_start(n->agent, err)) < 0)
		goto fail;
	*ret = n;
	return 0;
fail:
	korch_node_free(n);
	return korch_error_prefix(err, r, "node %s", o->node_name);
}

KORCH_EXPORT int
korch_node_pod_usage(korch_node *n, const char *ns, const char *name, korch_object **ret,
		     korch_error **err)
{
	json_t *o = NULL;
	int r = node_agent_pod_samples(n->agent, ns ? ns : "default", name, &o, err);
	if (r < 0)
		return r;
	*ret = O(o);
	return 0;
}

KORCH_EXPORT int
korch_node_usage(korch_node *n, korch_object **ret, korch_error **err)
{
	json_t *o = NULL;
	int r = node_agent_node_samples(n->agent, &o, err);
	if (r < 0)
		return r;
	*ret = O(o);
	return 0;
}

/* --- which container --- */

static const char *
str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
names_of(const json_t *list, struct strbuf *sb)
{
	size_t i;
	json_t *c;
	strbuf_putc(sb, '[');
	json_array_foreach (list, i, c)
		strbuf_printf(sb, "%s%s", i ? " " : "", str_at(c, "name") ?: "");
	strbuf_putc(sb, ']');
}

/*
 * The container a call is about, and its status: the one named, or the pod's only container.
 * Errors word the choice as kubectl does.
 */
static int
pick_container(const json_t *pod, const char *want, const char **ret_name,
	       const json_t **ret_status, korch_error **err)
{
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *apps = json_object_get(spec, "containers");
	const json_t *inits = json_object_get(spec, "initContainers");
	const char *pod_name = str_at(json_object_get(pod, "metadata"), "name") ?: "";
	if (!want) {
		if (json_array_size(apps) != 1) {
			struct strbuf sb = STRBUF_INIT;
			names_of(apps, &sb);
			if (json_array_size(inits)) {
				strbuf_puts(&sb, " or one of the init containers: ");
				names_of(inits, &sb);
			}
			int r = error_set(err, KORCH_EINVALID,
					  "a container name must be specified for pod %s, choose "
					  "one of: %s",
					  pod_name, strbuf_str(&sb));
			strbuf_free(&sb);
			return r;
		}
		want = str_at(json_array_get(apps, 0), "name");
	}
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses" };
	static const char *const specs[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, specs[l]), i, c) {
			if (!streq(str_at(c, "name"), want))
				continue;
			*ret_name = str_at(c, "name");
			*ret_status = NULL;
			size_t k;
			json_t *cs;
			json_array_foreach (
				json_object_get(json_object_get(pod, "status"), lists[l]), k, cs)
				if (streq(str_at(cs, "name"), want))
					*ret_status = cs;
			return 0;
		}
	}
	return error_set(err, KORCH_EINVALID, "container %s is not valid for pod %s", want,
			 pod_name);
}

static int
get_pod(struct client *c, const char *ns, const char *name, json_t **ret, korch_error **err)
{
	return client_get(c, kind_lookup("v1", "Pod"), ns ? ns : "default", name, ret, err);
}

/* --- logs --- */

struct follow_ctx {
	struct client *client; /* to re-read the pod */
	const char *ns;        /* the pod */
	const char *pod;
	const char *container;
	char *container_id; /* the instance followed */
};

/* Follow ends once the instance followed no longer runs. */
static bool
still_running(void *userdata)
{
	struct follow_ctx *f = userdata;
	_cleanup_json_ json_t *pod = NULL;
	if (get_pod(f->client, f->ns, f->pod, &pod, NULL) < 0)
		return false;
	const char *name;
	const json_t *cs;
	if (pick_container(pod, f->container, &name, &cs, NULL) < 0 || !cs)
		return false;
	return json_object_get(json_object_get(cs, "state"), "running") &&
	       streq(str_at(cs, "containerID"), f->container_id);
}

KORCH_EXPORT int
korch_pod_logs(korch_client *kc, const char *ns, const char *pod_name, const korch_logs_options *o,
	       korch_logs_fn fn, void *userdata, korch_error **err)
{
	static const korch_logs_options defaults = KORCH_LOGS_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	if (o->version != KORCH_LOGS_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_logs_options version %u is not %u",
				 o->version, KORCH_LOGS_OPTIONS_VERSION);
	struct remote *rem = client_remote_of_public(kc);
	if (rem) /* a korchd: its node agent reads the files */
		return rc_logs(rem, ns ? ns : "default", pod_name, o, fn, userdata, err);
	struct client *c = client_of_public(kc);
	ns = ns ? ns : "default";
	_cleanup_json_ json_t *pod = NULL;
	int r = get_pod(c, ns, pod_name, &pod, err);
	if (r < 0)
		return r;
	const char *name;
	const json_t *cs;
	if ((r = pick_container(pod, o->container, &name, &cs, err)) < 0)
		return r;
	const json_t *state = json_object_get(cs, "state");
	int64_t restarts = json_integer_value(json_object_get(cs, "restartCount"));
	int64_t attempt = restarts;
	if (o->previous) {
		if (!json_object_get(json_object_get(cs, "lastState"), "terminated") ||
		    restarts < 1)
			return error_set(err, KORCH_ENOTFOUND,
					 "previous terminated container \"%s\" in pod \"%s\" not "
					 "found",
					 name, pod_name);
		attempt = restarts - 1;
	} else if (!str_at(cs, "containerID")) {
		const char *reason = str_at(json_object_get(state, "waiting"), "reason");
		return error_set(err, KORCH_EINVALID,
				 "container \"%s\" in pod \"%s\" is waiting to start: %s", name,
				 pod_name, reason ? reason : "ContainerCreating");
	}
	_cleanup_free_ char *data =
		o->data_dir ? strdup(o->data_dir) : path_dirname(store_path(client_store(c)));
	_cleanup_free_ char *path = NULL;
	const char *uid = str_at(json_object_get(pod, "metadata"), "uid") ?: "";
	if (!data || asprintf(&path, "%s/logs/%s_%s_%s/%s/%lld.log", data, ns, pod_name, uid, name,
			      (long long)attempt) < 0)
		return error_oom(err);
	struct log_read_options lo = {
		.tail_lines = o->tail_lines,
		.timestamps = o->timestamps,
		.limit_bytes = o->limit_bytes,
		.follow = o->follow && !o->previous && json_object_get(state, "running"),
	};
	int64_t wall = 0;
	if (o->since_time && parse_rfc3339(o->since_time, &wall) < 0)
		return error_set(err, KORCH_EINVALID, "since_time \"%s\" is not an RFC 3339 time",
				 o->since_time);
	if (o->since_seconds > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		wall = (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec -
		       o->since_seconds * NSEC_PER_SEC;
	}
	lo.since_wall_ns = wall;
	struct follow_ctx f = { c, ns, pod_name, name, NULL };
	if (lo.follow) {
		if (!(f.container_id = strdup(str_at(cs, "containerID") ?: "")))
			return error_oom(err);
		lo.still_running = still_running;
		lo.userdata = &f;
	}
	r = logs_read_file(path, &lo, fn, userdata, err);
	free(f.container_id);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(err ? *err : NULL);
		if (err)
			*err = NULL;
		/* An instance that never wrote has no file yet: nothing to show. */
		return 0;
	}
	return r;
}

/* --- exec --- */

struct relay {
	int in, out; /* the caller's */
	int master;  /* the pseudo-terminal */
	int stop_fd; /* readable: the command ended */
	pthread_t thread;
};

static void *
relay_run(void *p)
{
	struct relay *r = p;
	char buf[4096];
	for (;;) {
		struct pollfd pfd[3] = { { r->master, POLLIN, 0 },
					 { r->in, POLLIN, 0 },
					 { r->stop_fd, POLLIN, 0 } };
		int n = poll(pfd, r->in >= 0 ? 3 : 1, 100);
		if (n < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			ssize_t got = read(r->master, buf, sizeof(buf));
			if (got > 0 && write_all(r->out, buf, (size_t)got) < 0)
				break;
			if (got <= 0 && errno != EAGAIN && errno != EINTR)
				break;
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			break;
		}
		if (r->in >= 0 && (pfd[1].revents & POLLIN)) {
			ssize_t got = read(r->in, buf, sizeof(buf));
			if (got > 0)
				write_all(r->master, buf, (size_t)got);
			else
				r->in = -1; /* end of input: no more to forward */
		}
		if (r->in >= 0 && (pfd[2].revents & POLLIN))
			break;
		if (r->in < 0) {
			struct pollfd s = { r->stop_fd, POLLIN, 0 };
			if (poll(&s, 1, 0) > 0 && !(pfd[0].revents & POLLIN))
				break;
		}
	}
	return NULL;
}

KORCH_EXPORT int
korch_pod_exec(korch_client *kc, const char *ns, const char *pod_name, char *const argv[],
	       const korch_exec_options *o, int *ret_exit_code, korch_error **err)
{
	static const korch_exec_options defaults = KORCH_EXEC_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	if (o->version != KORCH_EXEC_OPTIONS_VERSION)
		return error_set(err, KORCH_EINVALID, "korch_exec_options version %u is not %u",
				 o->version, KORCH_EXEC_OPTIONS_VERSION);
	if (!argv || !argv[0])
		return error_set(err, KORCH_EINVALID, "exec: a command is required");
	struct remote *rem = client_remote_of_public(kc);
	if (rem) /* a korchd: through its API */
		return rc_exec(rem, ns ? ns : "default", pod_name, argv, o, ret_exit_code, err);
	struct client *c = client_of_public(kc);
	_cleanup_json_ json_t *pod = NULL;
	int r = get_pod(c, ns, pod_name, &pod, err);
	if (r < 0)
		return r;
	const char *name;
	const json_t *cs;
	if ((r = pick_container(pod, o->container, &name, &cs, err)) < 0)
		return r;
	const char *cid = str_at(cs, "containerID");
	const char *id = cid ? startswith(cid, "korch://") : NULL;
	if (!id || !json_object_get(json_object_get(cs, "state"), "running"))
		return error_set(err, KORCH_EINVALID,
				 "container \"%s\" in pod \"%s\" is not running", name, pod_name);
	struct monitor_client_options mo = { .run_dir = o->run_dir ? o->run_dir : DEFAULT_RUN_DIR,
					     .no_start = true };
	struct monitor_client *mc = NULL;
	if ((r = monitor_client_connect(&mo, &mc, err)) < 0)
		return r;
	_cleanup_json_ json_t *proc = json_object();
	json_t *args = json_array();
	for (char *const *a = argv; *a; a++)
		json_array_append_new(args, json_string(*a));
	json_object_set_new(proc, "args", args);
	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int stdio[3] = { o->stdin_fd >= 0 ? o->stdin_fd : devnull,
			 o->stdout_fd >= 0 ? o->stdout_fd : STDOUT_FILENO,
			 o->stderr_fd >= 0 ? o->stderr_fd : STDERR_FILENO };
	struct relay rel = { .master = -1, .stop_fd = -1 };
	int stop[2] = { -1, -1 };
	_cleanup_close_ int slave = -1;
	bool relaying = false;
	if (o->tty) {
		if ((rel.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
		    grantpt(rel.master) < 0 || unlockpt(rel.master) < 0 ||
		    (slave = open(ptsname(rel.master), O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
		    pipe2(stop, O_CLOEXEC) < 0) {
			r = error_errno(err, errno, "exec: make a terminal");
			goto out;
		}
		struct winsize ws;
		if (o->stdin_fd >= 0 && ioctl(o->stdin_fd, TIOCGWINSZ, &ws) == 0)
			ioctl(rel.master, TIOCSWINSZ, &ws);
		rel.in = o->stdin_fd;
		rel.out = stdio[1];
		rel.stop_fd = stop[0];
		stdio[0] = stdio[1] = stdio[2] = slave;
		if (pthread_create(&rel.thread, NULL, relay_run, &rel) != 0) {
			r = error_set(err, KORCH_ESYSTEM, "exec: start the terminal relay");
			goto out;
		}
		relaying = true;
	}
	int code = -1;
	r = monitor_client_exec(mc, id, proc, stdio, o->timeout_ms > 0 ? o->timeout_ms : -1, &code,
				err);
	if (relaying) {
		close(slave);
		slave = -1;
		if (write(stop[1], "x", 1) < 0) {
			/* the relay also stops when the terminal closes */
		}
		pthread_join(rel.thread, NULL);
	}
	if (r == 0)
		*ret_exit_code = code;
	else
		korch_error_prefix(err, r, "exec in container \"%s\" of pod \"%s\"", name,
				   pod_name);
out:
	if (rel.master >= 0)
		close(rel.master);
	if (stop[0] >= 0)
		close(stop[0]);
	if (stop[1] >= 0)
		close(stop[1]);
	monitor_client_free(mc);
	return r;
}
