/*
 * container.c - from a container spec to what the backend creates: the image resolved (with the
 * waiting reasons of a missing one), the command (the image's entrypoint and cmd under the
 * spec's command and args, $(VAR) expanded), the environment (the image's, then the pod's), the
 * user, the mounts (volumes with subPath, /etc/hosts, resolv.conf, the termination-log file),
 * cgroup limits from requests and limits, and the labels that let a restarted agent adopt it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/util.h"
#include "node/node-internal.h"
#include "runtime/cgroup.h"

#define IMAGE_BACKOFF_BASE_NS (10 * NSEC_PER_SEC) /* kubelet's image pull back-off */
#define IMAGE_BACKOFF_MAX_NS (300 * NSEC_PER_SEC)
#define TERMINATION_MESSAGE_MAX 4096 /* kubelet's maxTerminationMessageLength */

char *
pod_dir(const struct node_agent *a, const char *uid)
{
	char *s = NULL;
	if (asprintf(&s, "%s/pods/%s", a->root_dir, uid) < 0)
		return NULL;
	return s;
}

char *
ctr_log_path(const struct apod *p, const char *container, unsigned attempt)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s_%s_%s/%s/%u.log", p->agent->log_dir, p->ns, p->name, p->uid,
		     container, attempt) < 0)
		return NULL;
	return s;
}

static void
set_waiting(struct actr *c, const char *reason, const char *message)
{
	free(c->waiting_reason);
	free(c->waiting_message);
	c->waiting_reason = reason ? strdup(reason) : NULL;
	c->waiting_message = message ? strdup(message) : NULL;
}

/* Resolves the image; a missing one sets the reason kubelet shows and the retry time. */
static int
resolve_image(struct actr *c, struct backend_image **ret, korch_error **err)
{
	struct node_agent *a = c->pod->agent;
	_cleanup_error_ korch_error *e = NULL;
	int r = a->backend->ops->image_resolve(a->backend->data, c->spec->image, ret, &e);
	if (r == 0) {
		c->image_backoff_ns = 0;
		c->image_retry_ns = 0;
		free(c->image_name);
		c->image_name = (*ret)->name ? strdup((*ret)->name) : NULL;
		return 0;
	}
	const char *msg = korch_error_message(e);
	bool never = streq(c->spec->pull_policy, "Never");
	c->image_backoff_ns = c->image_backoff_ns == 0
				      ? IMAGE_BACKOFF_BASE_NS
				      : MIN(c->image_backoff_ns * 2, IMAGE_BACKOFF_MAX_NS);
	c->image_retry_ns = agent_now(a) + c->image_backoff_ns;
	if (never) {
		set_waiting(c, "ErrImageNeverPull", msg);
	} else if (streq(c->waiting_reason, "ErrImagePull") ||
		   streq(c->waiting_reason, "ImagePullBackOff")) {
		_cleanup_free_ char *m = NULL;
		if (asprintf(&m, "Back-off pulling image \"%s\": ErrImagePull: %s", c->spec->image,
			     msg) < 0)
			m = NULL;
		set_waiting(c, "ImagePullBackOff", m ? m : msg);
	} else {
		set_waiting(c, "ErrImagePull", msg);
	}
	error_propagate(err, &e, r);
	return r;
}

/* argv: the spec's command and args over the image's entrypoint and cmd. */
static int
build_argv(const struct ctr_spec *s, const struct backend_image *img, char *const *env, char ***ret,
	   korch_error **err)
{
	_cleanup_strv_ char **command = NULL, **args = NULL, **argv = NULL;
	if (strv_from_json(json_object_get(s->json, "command"), &command) < 0 ||
	    strv_from_json(json_object_get(s->json, "args"), &args) < 0)
		return error_set(err, KORCH_EINVALID, "command and args must be strings");
	char *const *head = command ? command : img->entrypoint;
	char *const *tail = command || args ? args : img->cmd;
	for (char *const *v = head; v && *v; v++) {
		_cleanup_free_ char *x = command ? env_expand(*v, env) : strdup(*v);
		if (!x || strv_push(&argv, x) < 0)
			return error_oom(err);
	}
	for (char *const *v = tail; v && *v; v++) {
		_cleanup_free_ char *x = args ? env_expand(*v, env) : strdup(*v);
		if (!x || strv_push(&argv, x) < 0)
			return error_oom(err);
	}
	if (!argv || !argv[0])
		return error_set(err, KORCH_EINVALID, "no command specified");
	*ret = steal_pointer(&argv);
	return 0;
}

/* The image's environment, then the pod's (same names replaced). */
static int
merge_env(char *const *image_env, char *const *pod_env, char ***ret)
{
	_cleanup_strv_ char **out = strv_copy(image_env);
	if (image_env && !out)
		return KORCH_ENOMEM;
	for (char *const *e = pod_env; e && *e; e++) {
		size_t klen = strcspn(*e, "=");
		bool replaced = false;
		for (char **o = out; o && *o; o++)
			if (strncmp(*o, *e, klen) == 0 && (*o)[klen] == '=') {
				char *n = strdup(*e);
				if (!n)
					return KORCH_ENOMEM;
				free(*o);
				*o = n;
				replaced = true;
				break;
			}
		if (!replaced && strv_push(&out, *e) < 0)
			return KORCH_ENOMEM;
	}
	*ret = steal_pointer(&out);
	return 0;
}

/* "uid", "uid:gid" from runAsUser/runAsGroup, or the image's user. */
static char *
user_of(const struct ctr_spec *s, const struct backend_image *img)
{
	char *u = NULL;
	if (s->run_as_user >= 0 && s->run_as_group >= 0)
		return asprintf(&u, "%lld:%lld", (long long)s->run_as_user,
				(long long)s->run_as_group) < 0
			       ? NULL
			       : u;
	if (s->run_as_user >= 0)
		return asprintf(&u, "%lld", (long long)s->run_as_user) < 0 ? NULL : u;
	if (img->user && *img->user) {
		if (s->run_as_group < 0)
			return strdup(img->user);
		/* the image's user with the spec's group */
		size_t n = strcspn(img->user, ":");
		return asprintf(&u, "%.*s:%lld", (int)n, img->user, (long long)s->run_as_group) < 0
			       ? NULL
			       : u;
	}
	if (s->run_as_group >= 0)
		return asprintf(&u, "0:%lld", (long long)s->run_as_group) < 0 ? NULL : u;
	return NULL;
}

/*
 * runAsNonRoot: the kubelet refuses to start a container that would run as uid 0, or whose
 * image names its user by name (which it cannot check).
 */
static int
check_non_root(struct actr *c, const struct backend_image *img, korch_error **err)
{
	const struct ctr_spec *s = c->spec;
	if (!s->run_as_non_root)
		return 0;
	char desc[256];
	pod_desc(c->pod, desc);
	if (s->run_as_user == 0)
		return error_set(err, KORCH_EINVALID,
				 "container's runAsUser breaks non-root policy (pod: \"%s\", "
				 "container: %s)",
				 desc, s->name);
	if (s->run_as_user > 0)
		return 0;
	const char *u = img->user && *img->user ? img->user : "0";
	size_t n = strcspn(u, ":");
	char uid[64];
	snprintf(uid, sizeof(uid), "%.*s", (int)MIN(n, sizeof(uid) - 1), u);
	int64_t v;
	if (parse_int64(uid, &v) < 0)
		return error_set(err, KORCH_EINVALID,
				 "container has runAsNonRoot and image has non-numeric user (%s), "
				 "cannot verify user is non-root (pod: \"%s\", container: %s)",
				 uid, desc, s->name);
	if (v == 0)
		return error_set(err, KORCH_EINVALID,
				 "container has runAsNonRoot and image will run as root (pod: "
				 "\"%s\", container: %s)",
				 desc, s->name);
	return 0;
}

/* A subPath must stay inside its volume: no "..", no absolute path, no symlink out of it. */
static int
resolve_sub_path(const char *vol, const char *sub, const char *where, char **ret, korch_error **err)
{
	if (sub[0] == '/' || strcmp(sub, "..") == 0 || startswith(sub, "../") ||
	    strstr(sub, "/../") || endswith(sub, "/.."))
		return error_set(err, KORCH_EINVALID,
				 "%s: subPath \"%s\" must be a relative path "
				 "inside the volume",
				 where, sub);
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", vol, sub) < 0)
		return error_oom(err);
	struct stat st;
	if (lstat(path, &st) < 0) {
		/* The kubelet creates a missing subPath as a directory. */
		int r = mkdir_p(path, 0750, err);
		if (r < 0)
			return korch_error_prefix(err, r, "%s: subPath", where);
	}
	char real_vol[PATH_MAX], real[PATH_MAX];
	if (!realpath(vol, real_vol) || !realpath(path, real))
		return error_errno(err, errno, "%s: subPath \"%s\"", where, sub);
	size_t n = strlen(real_vol);
	if (strncmp(real, real_vol, n) != 0 || (real[n] != '/' && real[n] != '\0'))
		return error_set(err, KORCH_EINVALID, "%s: subPath \"%s\" leads outside the volume",
				 where, sub);
	if (!(*ret = strdup(real)))
		return error_oom(err);
	return 0;
}

static void
mounts_free(struct backend_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].host_path);
		free(m[i].container_path);
	}
	free(m);
}

static int
add_mount(struct backend_mount **v, size_t *n, size_t *cap, const char *host, const char *target,
	  bool ro)
{
	struct backend_mount *m = VEC_PUSH(*v, *n, *cap);
	if (!m)
		return KORCH_ENOMEM;
	m->host_path = strdup(host);
	m->container_path = strdup(target);
	m->read_only = ro;
	return m->host_path && m->container_path ? 0 : KORCH_ENOMEM;
}

/* The container's volume mounts, then the files the kubelet provides. */
static int
volume_mounts(struct actr *c, char *const *env, struct backend_mount **v, size_t *n, size_t *cap,
	      korch_error **err)
{
	struct apod *p = c->pod;
	size_t i;
	json_t *vm;
	json_array_foreach (json_object_get(c->spec->json, "volumeMounts"), i, vm) {
		const char *name = json_string_value(json_object_get(vm, "name"));
		const char *target = json_string_value(json_object_get(vm, "mountPath"));
		char where[128];
		snprintf(where, sizeof(where), "volumeMounts[%zu]", i);
		_cleanup_free_ char *host = name ? volume_host_path(p, name) : NULL;
		if (!host || !target)
			return error_set(err, KORCH_EINVALID, "%s: volume \"%s\" not found", where,
					 name ? name : "");
		const char *sub = json_string_value(json_object_get(vm, "subPath"));
		const char *sub_expr = json_string_value(json_object_get(vm, "subPathExpr"));
		_cleanup_free_ char *expanded = sub_expr ? env_expand(sub_expr, env) : NULL;
		if (expanded)
			sub = expanded;
		_cleanup_free_ char *src = NULL;
		int r;
		if (sub && *sub) {
			if ((r = resolve_sub_path(host, sub, where, &src, err)) < 0)
				return r;
		} else {
			src = steal_pointer(&host);
		}
		bool ro =
			json_is_true(json_object_get(vm, "readOnly")) || volume_read_only(p, name);
		if (add_mount(v, n, cap, src, target, ro) < 0)
			return error_oom(err);
	}
	return 0;
}

/* The termination-log file of an instance: empty, writable by any user. */
static int
termination_mount(struct actr *c, unsigned attempt, struct backend_mount **v, size_t *n,
		  size_t *cap, korch_error **err)
{
	struct apod *p = c->pod;
	_cleanup_free_ char *dir = pod_dir(p->agent, p->uid);
	_cleanup_free_ char *tdir = NULL, *tfile = NULL;
	if (!dir || asprintf(&tdir, "%s/containers/%s", dir, c->spec->name) < 0 ||
	    asprintf(&tfile, "%s/%u", tdir, attempt) < 0)
		return error_oom(err);
	int r = mkdir_p(tdir, 0755, err);
	if (r < 0)
		return r;
	int fd = open(tfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return error_errno(err, errno, "create %s", tfile);
	fchmod(fd, 0666);
	close(fd);
	if (add_mount(v, n, cap, tfile, c->spec->termination_message_path, false) < 0)
		return error_oom(err);
	return 0;
}

static int
build_mounts(struct actr *c, char *const *env, unsigned attempt, struct backend_mount **ret,
	     size_t *ret_n, korch_error **err)
{
	struct backend_mount *v = NULL;
	size_t n = 0, cap = 0;
	int r = volume_mounts(c, env, &v, &n, &cap, err);
	if (r == 0)
		r = termination_mount(c, attempt, &v, &n, &cap, err);
	if (r < 0) {
		mounts_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* /etc/hosts as the kubelet writes it for a pod (hostNetwork pods get the host's). */
static int
write_hosts(struct apod *p, const char *dir, char **ret_hosts, char **ret_hostname,
	    char **ret_resolv, korch_error **err)
{
	struct node_agent *a = p->agent;
	const struct podspec *s = p->spec;
	_cleanup_free_ char *hosts = NULL, *hostname = NULL, *resolv = NULL;
	if (asprintf(&hosts, "%s/etc-hosts", dir) < 0 ||
	    asprintf(&hostname, "%s/hostname", dir) < 0 ||
	    asprintf(&resolv, "%s/resolv.conf", dir) < 0)
		return error_oom(err);
	char name[64];
	snprintf(name, sizeof(name), "%s", s->hostname ? s->hostname : p->name);
	struct strbuf sb = STRBUF_INIT;
	int r;
	if (s->host_network) {
		char *data = NULL;
		size_t len = 0;
		if (read_file("/etc/hosts", 1 << 20, &data, &len, NULL) == 0)
			strbuf_append(&sb, data, len);
		free(data);
	} else {
		strbuf_puts(&sb, "# Kubernetes-managed hosts file.\n"
				 "127.0.0.1\tlocalhost\n"
				 "::1\tlocalhost ip6-localhost ip6-loopback\n"
				 "fe00::0\tip6-localnet\n"
				 "fe00::0\tip6-mcastprefix\n"
				 "fe00::1\tip6-allnodes\n"
				 "fe00::2\tip6-allrouters\n");
		if (p->pod_ip) {
			if (s->subdomain)
				strbuf_printf(&sb, "%s\t%s.%s.%s.svc.%s\t%s\n", p->pod_ip, name,
					      s->subdomain, p->ns, a->cluster_domain, name);
			else
				strbuf_printf(&sb, "%s\t%s\n", p->pod_ip, name);
		}
		size_t i;
		json_t *ha;
		const json_t *aliases = json_object_get(s->spec_json, "hostAliases");
		if (json_array_size(aliases)) {
			strbuf_puts(&sb, "\n# Entries added by HostAliases.\n");
			json_array_foreach (aliases, i, ha) {
				strbuf_puts(&sb,
					    json_string_value(json_object_get(ha, "ip")) ?: "");
				size_t k;
				json_t *h;
				json_array_foreach (json_object_get(ha, "hostnames"), k, h)
					strbuf_printf(&sb, "\t%s", json_string_value(h) ?: "");
				strbuf_putc(&sb, '\n');
			}
		}
	}
	if (sb.oom) {
		strbuf_free(&sb);
		return error_oom(err);
	}
	r = write_file_replace(hosts, strbuf_str(&sb), sb.len, 0644, err);
	strbuf_free(&sb);
	if (r < 0)
		return r;
	char hn[80];
	int hlen = snprintf(hn, sizeof(hn), "%s\n", name);
	if ((r = write_file_replace(hostname, hn, (size_t)hlen, 0644, err)) < 0)
		return r;
	/* resolv.conf: ClusterFirst with the cluster's DNS, else the host's. */
	bool cluster = a->cluster_dns && (streq(s->dns_policy, "ClusterFirst") ||
					  (streq(s->dns_policy, "ClusterFirstWithHostNet")));
	if (cluster && !(s->host_network && streq(s->dns_policy, "ClusterFirst"))) {
		char buf[512];
		int len = snprintf(buf, sizeof(buf),
				   "search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n",
				   p->ns, a->cluster_domain, a->cluster_domain, a->cluster_domain,
				   a->cluster_dns);
		r = write_file_replace(resolv, buf, (size_t)len, 0644, err);
	} else {
		char *data = NULL;
		size_t len = 0;
		if (read_file("/etc/resolv.conf", 1 << 20, &data, &len, NULL) < 0) {
			data = NULL;
			len = 0;
		}
		r = write_file_replace(resolv, data ? data : "", len, 0644, err);
		free(data);
	}
	if (r < 0)
		return r;
	*ret_hosts = steal_pointer(&hosts);
	*ret_hostname = steal_pointer(&hostname);
	*ret_resolv = steal_pointer(&resolv);
	return 0;
}

/* Requests and limits as the kubelet turns them into cgroup settings. */
static void
resources_of(const struct ctr_spec *s, struct backend_resources *r)
{
	*r = (struct backend_resources){ 0 };
	r->cpu_shares = cgroup_cpu_shares_from_milli(MAX(s->res.cpu_request_milli, 0));
	if (s->res.cpu_limit_milli > 0) {
		r->cpu_period_us = 100000;
		r->cpu_quota_us = cgroup_cpu_quota_from_milli(s->res.cpu_limit_milli, 100000);
	}
	if (s->res.memory_limit > 0)
		r->memory_limit_bytes = s->res.memory_limit;
}

static char **
caps_of(const json_t *arr)
{
	char **v = NULL;
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e)
		if (json_string_value(e) && strv_push(&v, json_string_value(e)) < 0) {
			strv_free(v);
			return NULL;
		}
	return v;
}

int
ctr_create(struct actr *c, korch_error **err)
{
	struct apod *p = c->pod;
	struct node_agent *a = p->agent;
	const struct ctr_spec *s = c->spec;
	unsigned attempt = c->cur ? ctr_restart_count(c) + 1 : 0;
	_cleanup_(backend_image_freep) struct backend_image *img = NULL;
	int r = resolve_image(c, &img, err);
	if (r < 0)
		return r;
	_cleanup_error_ korch_error *cfg_err = NULL;
	_cleanup_strv_ char **pod_env = NULL, **env = NULL, **argv = NULL, **groups = NULL;
	if ((r = check_non_root(c, img, &cfg_err)) < 0 ||
	    (r = env_build(p, s, &pod_env, &cfg_err)) < 0) {
		set_waiting(c, "CreateContainerConfigError", korch_error_message(cfg_err));
		return error_propagate(err, &cfg_err, r);
	}
	if (merge_env(img->env, pod_env, &env) < 0)
		return error_oom(err);
	if ((r = build_argv(s, img, pod_env, &argv, &cfg_err)) < 0) {
		set_waiting(c, "CreateContainerError", korch_error_message(cfg_err));
		return error_propagate(err, &cfg_err, r);
	}
	struct backend_mount *mounts = NULL;
	size_t n_mounts = 0;
	if ((r = build_mounts(c, pod_env, attempt, &mounts, &n_mounts, &cfg_err)) < 0) {
		set_waiting(c, "CreateContainerConfigError", korch_error_message(cfg_err));
		return error_propagate(err, &cfg_err, r);
	}
	_cleanup_free_ char *dir = pod_dir(a, p->uid);
	_cleanup_free_ char *hosts = NULL, *hostname = NULL, *resolv = NULL;
	_cleanup_free_ char *log_path = ctr_log_path(p, s->name, attempt);
	_cleanup_free_ char *user = user_of(s, img);
	_cleanup_strv_ char **cap_add = caps_of(s->cap_add), **cap_drop = caps_of(s->cap_drop);
	if (!dir || !log_path) {
		mounts_free(mounts, n_mounts);
		return error_oom(err);
	}
	if ((r = write_hosts(p, dir, &hosts, &hostname, &resolv, &cfg_err)) < 0) {
		mounts_free(mounts, n_mounts);
		set_waiting(c, "CreateContainerError", korch_error_message(cfg_err));
		return error_propagate(err, &cfg_err, r);
	}
	_cleanup_free_ char *log_dir = strdup(log_path);
	if (!log_dir) {
		mounts_free(mounts, n_mounts);
		return error_oom(err);
	}
	*strrchr(log_dir, '/') = '\0';
	if ((r = mkdir_p(log_dir, 0755, err)) < 0) {
		mounts_free(mounts, n_mounts);
		return r;
	}
	/* A new attempt starts its log afresh (an attempt number reused after adoption). */
	unlink(log_path);
	size_t gi;
	json_t *g;
	json_array_foreach (p->spec->supplemental_groups, gi, g)
		strv_pushf(&groups, "%lld", (long long)json_integer_value(g));
	if (p->spec->fs_group >= 0)
		strv_pushf(&groups, "%lld", (long long)p->spec->fs_group);
	char attempt_s[16], stop_s[16];
	snprintf(attempt_s, sizeof(attempt_s), "%u", attempt);
	snprintf(stop_s, sizeof(stop_s), "%d", img->stop_signal > 0 ? img->stop_signal : 15);
	_cleanup_json_ json_t *labels =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", LABEL_POD_UID, p->uid,
			  LABEL_POD_NAME, p->name, LABEL_POD_NAMESPACE, p->ns, LABEL_CONTAINER_NAME,
			  s->name, LABEL_ATTEMPT, attempt_s, LABEL_IMAGE, s->image, LABEL_IMAGE_ID,
			  img->image_id, LABEL_STOP_SIGNAL, stop_s);
	if (!labels) {
		mounts_free(mounts, n_mounts);
		return error_oom(err);
	}
	if (s->init)
		json_object_set_new(labels, LABEL_INIT, json_string("true"));
	struct backend_container_config cfg = {
		.sandbox_id = p->uid,
		.name = s->name,
		.attempt = attempt,
		.labels = labels,
		.image_ref = s->image,
		.argv = argv,
		.env = env,
		.working_dir = s->working_dir ? s->working_dir : img->working_dir,
		.user = user,
		.supplemental_groups = groups,
		.mounts = mounts,
		.n_mounts = n_mounts,
		.etc_hosts = hosts,
		.etc_hostname = hostname,
		.etc_resolv_conf = resolv,
		.log_path = log_path,
		.stop_signal = img->stop_signal,
		.privileged = s->privileged,
		.read_only_rootfs = s->read_only_rootfs,
		.allow_privilege_escalation = s->allow_privilege_escalation,
		.cap_add = cap_add,
		.cap_drop = cap_drop,
		.seccomp = s->seccomp_type,
		.seccomp_localhost = s->seccomp_localhost,
	};
	resources_of(s, &cfg.resources);
	r = ctr_backend_create(c, &cfg, &cfg_err);
	mounts_free(mounts, n_mounts);
	if (r < 0) {
		set_waiting(c, "CreateContainerError", korch_error_message(cfg_err));
		return error_propagate(err, &cfg_err, r);
	}
	return 0;
}

/* The last lines of a log, for FallbackToLogsOnError: at most 80 lines and 2 KiB. */
static char *
log_tail(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	if (!path || read_file(path, 1 << 20, &data, &len, NULL) < 0)
		return NULL;
	struct strbuf out = STRBUF_INIT;
	/* CRI lines: "TIME STREAM TAG text": keep the text. */
	struct ptrvec lines = PTRVEC_INIT;
	for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n"))
		ptrvec_push(&lines, line);
	size_t first = lines.n > 80 ? lines.n - 80 : 0;
	for (size_t i = first; i < lines.n; i++) {
		char *t = lines.items[i];
		for (int k = 0; k < 3 && t; k++)
			t = strchr(t, ' ') ? strchr(t, ' ') + 1 : NULL;
		if (t)
			strbuf_printf(&out, "%s\n", t);
	}
	ptrvec_free(&lines, NULL);
	free(data);
	if (out.len > 2048) {
		char *s = strdup(strbuf_str(&out) + out.len - 2048);
		strbuf_free(&out);
		return s;
	}
	return strbuf_steal(&out);
}

void
ctr_read_termination_message(struct actr *c)
{
	struct apod *p = c->pod;
	if (!c->cur || c->termination_message)
		return;
	_cleanup_free_ char *dir = pod_dir(p->agent, p->uid);
	_cleanup_free_ char *f = NULL;
	const char *attempt = backend_label(c->cur->labels, LABEL_ATTEMPT);
	char *data = NULL;
	size_t len = 0;
	if (dir && attempt &&
	    asprintf(&f, "%s/containers/%s/%s", dir, c->spec->name, attempt) >= 0 &&
	    read_file(f, 1 << 20, &data, &len, NULL) == 0 && len > 0) {
		if (len > TERMINATION_MESSAGE_MAX)
			data[TERMINATION_MESSAGE_MAX] = '\0';
		c->termination_message = data;
		return;
	}
	free(data);
	if (c->spec->termination_fallback_to_logs && c->cur->state == BACKEND_EXITED &&
	    c->cur->exit_code != 0)
		c->termination_message = log_tail(c->cur->log_path);
}
