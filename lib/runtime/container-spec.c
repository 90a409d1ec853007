/*
 * container-spec.c - the container spec: JSON in, a validated struct out, with runc's default
 * masked and read-only paths. Nothing here touches the system.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/error.h"
#include "base/util.h"
#include "runtime/container.h"

/* runc's defaults (libcontainer/specconv/example.go), as Docker and containerd use them. */
static const char *const default_masked_paths[] = {
	"/proc/acpi",
	"/proc/asound",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	NULL,
};
static const char *const default_readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_LOG_MAX_BYTES (10 * 1024 * 1024) /* kubelet's containerLogMaxSize */
#define DEFAULT_LOG_MAX_FILES 5                  /* kubelet's containerLogMaxFiles */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "AS", RLIMIT_AS },
	{ "CORE", RLIMIT_CORE },
	{ "CPU", RLIMIT_CPU },
	{ "DATA", RLIMIT_DATA },
	{ "FSIZE", RLIMIT_FSIZE },
	{ "LOCKS", RLIMIT_LOCKS },
	{ "MEMLOCK", RLIMIT_MEMLOCK },
	{ "MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "NICE", RLIMIT_NICE },
	{ "NOFILE", RLIMIT_NOFILE },
	{ "NPROC", RLIMIT_NPROC },
	{ "RSS", RLIMIT_RSS },
	{ "RTPRIO", RLIMIT_RTPRIO },
	{ "RTTIME", RLIMIT_RTTIME },
	{ "SIGPENDING", RLIMIT_SIGPENDING },
	{ "STACK", RLIMIT_STACK },
};

static const char *const ns_names[NS_COUNT] = {
	[NS_PID] = "pid", [NS_MNT] = "mount", [NS_UTS] = "uts",
	[NS_IPC] = "ipc", [NS_NET] = "net",   [NS_CGROUP] = "cgroup",
};

static void
strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static size_t
strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static char **
strv_copy(char *const *v)
{
	size_t n = strv_len(v);
	char **c = calloc(n + 1, sizeof(char *));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i]);
		if (!c[i]) {
			strv_free(c);
			return NULL;
		}
	}
	return c;
}

/* "where.key", or "key" at the top level (where is ""). */
static const char *
fname(char buf[static 256], const char *where, const char *key)
{
	snprintf(buf, 256, "%s%s%s", where, *where ? "." : "", key);
	return buf;
}

/* Refuses any key of obj that is not in allowed (NULL-terminated). */
static int
check_keys(json_t *obj, const char *where, const char *const *allowed, korch_error **err)
{
	const char *key;
	json_t *v;
	json_object_foreach (obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = streq(key, *a);
		char f[256];
		if (!ok)
			return error_set(err, KORCH_EINVALID, "%s: unknown field",
					 fname(f, where, key));
	}
	return 0;
}

/* A JSON string without an embedded NUL, copied; absent is NULL when not required. */
static int
get_string(json_t *obj, const char *key, const char *where, bool required, char **ret,
	   korch_error **err)
{
	char f[256];
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			return error_set(err, KORCH_EINVALID, "%s: required", fname(f, where, key));
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return error_set(err, KORCH_EINVALID, "%s: must be a string", fname(f, where, key));
	char *s = strdup(json_string_value(v));
	if (!s)
		return error_oom(err);
	*ret = s;
	return 0;
}

static int
get_bool(json_t *obj, const char *key, const char *where, bool def, bool *ret, korch_error **err)
{
	char f[256];
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		*ret = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return error_set(err, KORCH_EINVALID, "%s: must be true or false",
				 fname(f, where, key));
	*ret = json_is_true(v);
	return 0;
}

static bool
has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

/* An absolute path; inside the container (container_path) it must not contain "..". */
static int
check_path(const char *path, const char *field, bool container_path, korch_error **err)
{
	if (path[0] != '/')
		return error_set(err, KORCH_EINVALID, "%s: \"%s\" must be an absolute path", field,
				 path);
	if (container_path && has_dotdot(path))
		return error_set(err, KORCH_EINVALID, "%s: \"%s\" must not contain \"..\"", field,
				 path);
	if (strlen(path) >= 4096)
		return error_set(err, KORCH_EINVALID, "%s: longer than 4095 bytes", field);
	return 0;
}

/*
 * An array of strings as a NULL-terminated vector. Numbers are accepted where numeric ids are
 * (allow_numbers). Absent gives NULL.
 */
static int
get_strv(json_t *obj, const char *key, const char *where, bool allow_numbers, char ***ret,
	 korch_error **err)
{
	char f[256];
	json_t *arr = json_object_get(obj, key);
	if (!arr || json_is_null(arr)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_array(arr))
		return error_set(err, KORCH_EINVALID, "%s: must be an array of strings",
				 fname(f, where, key));
	size_t n = json_array_size(arr);
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		if (allow_numbers && json_is_integer(e) && json_integer_value(e) >= 0) {
			if (asprintf(&v[i], "%" JSON_INTEGER_FORMAT, json_integer_value(e)) < 0) {
				v[i] = NULL;
				strv_free(v);
				return error_oom(err);
			}
			continue;
		}
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
			strv_free(v);
			return error_set(err, KORCH_EINVALID, "%s[%zu]: must be a string",
					 fname(f, where, key), i);
		}
		v[i] = strdup(json_string_value(e));
		if (!v[i]) {
			strv_free(v);
			return error_oom(err);
		}
	}
	*ret = v;
	return 0;
}

static int
get_paths(json_t *obj, const char *key, const char *where, bool container_path, char ***ret,
	  korch_error **err)
{
	char f[256];
	char **v = NULL;
	int r = get_strv(obj, key, where, false, &v, err);
	if (r < 0)
		return r;
	for (size_t i = 0; v && v[i]; i++) {
		char field[320];
		snprintf(field, sizeof(field), "%s[%zu]", fname(f, where, key), i);
		r = check_path(v[i], field, container_path, err);
		if (r < 0) {
			strv_free(v);
			return r;
		}
	}
	*ret = v;
	return 0;
}

int
signal_from_name(const char *name)
{
	const char *s = startswith(name, "SIG") ? name + 3 : name;
	int64_t n;
	if (parse_int64(s, &n) == 0)
		return n > 0 && n < NSIG ? (int)n : -1;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && streq(abbrev, s))
			return sig;
	}
	return -1;
}

static int
parse_rlimit_value(json_t *v, uint64_t *ret)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_integer(v) && json_integer_value(v) == -1) {
		*ret = RLIM_INFINITY;
		return 0;
	}
	if (json_is_string(v) && streq(json_string_value(v), "unlimited")) {
		*ret = RLIM_INFINITY;
		return 0;
	}
	return -1;
}

static int
parse_rlimits(json_t *arr, const char *where, struct process_spec *p, korch_error **err)
{
	if (!json_is_array(arr))
		return error_set(err, KORCH_EINVALID, "%s.rlimits: must be an array", where);
	size_t n = json_array_size(arr);
	p->rlimits = calloc(n ? n : 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *type = json_string_value(json_object_get(e, "type"));
		if (!json_is_object(e) || !type)
			return error_set(err, KORCH_EINVALID, "%s.rlimits[%zu].type: required",
					 where, i);
		static const char *const keys[] = { "type", "soft", "hard", NULL };
		char field[128];
		snprintf(field, sizeof(field), "%s.rlimits[%zu]", where, i);
		int r = check_keys(e, field, keys, err);
		if (r < 0)
			return r;
		const char *name = startswith(type, "RLIMIT_") ? type + 7 : type;
		int resource = -1;
		for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (strcasecmp(rlimit_names[k].name, name) == 0)
				resource = rlimit_names[k].resource;
		if (resource < 0)
			return error_set(err, KORCH_EINVALID, "%s.type: unknown rlimit \"%s\"",
					 field, type);
		struct rlimit_spec *rl = &p->rlimits[p->n_rlimits];
		if (parse_rlimit_value(json_object_get(e, "soft"), &rl->soft) < 0 ||
		    parse_rlimit_value(json_object_get(e, "hard"), &rl->hard) < 0)
			return error_set(err, KORCH_EINVALID,
					 "%s: soft and hard must be numbers >= 0 or \"unlimited\"",
					 field);
		if (rl->soft > rl->hard)
			return error_set(err, KORCH_EINVALID, "%s: soft limit above the hard limit",
					 field);
		rl->resource = resource;
		p->n_rlimits++;
	}
	return 0;
}

/* Adds or replaces KEY=value entries of add in *env. */
static int
env_merge(char ***env, char *const *add)
{
	for (size_t i = 0; add && add[i]; i++) {
		size_t klen = strcspn(add[i], "=");
		char *copy = strdup(add[i]);
		if (!copy)
			return KORCH_ENOMEM;
		size_t n = strv_len(*env), j;
		for (j = 0; j < n; j++)
			if (strncmp((*env)[j], add[i], klen) == 0 && (*env)[j][klen] == '=')
				break;
		if (j < n) {
			free((*env)[j]);
			(*env)[j] = copy;
			continue;
		}
		char **grown = realloc(*env, (n + 2) * sizeof(char *));
		if (!grown) {
			free(copy);
			return KORCH_ENOMEM;
		}
		grown[n] = copy;
		grown[n + 1] = NULL;
		*env = grown;
	}
	return 0;
}

static int
check_env(char *const *env, const char *where, korch_error **err)
{
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq || eq == env[i])
			return error_set(err, KORCH_EINVALID,
					 "%s.env[%zu]: \"%s\" is not of the form KEY=value", where,
					 i, env[i]);
	}
	return 0;
}

void
process_spec_clear(struct process_spec *p)
{
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->user);
	strv_free(p->additional_groups);
	free(p->rlimits);
	memset(p, 0, sizeof(*p));
}

int
process_spec_parse(json_t *json, const char *where, const struct process_spec *base,
		   bool default_nnp, struct process_spec *ret, korch_error **err)
{
	static const char *const keys[] = {
		"args", "env", "cwd", "user", "additionalGroups", "rlimits", "noNewPrivileges", NULL
	};
	struct process_spec p = { 0 };
	int r;
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "%s: must be an object", where);
	if ((r = check_keys(json, where, keys, err)) < 0)
		return r;
	if ((r = get_strv(json, "args", where, false, &p.args, err)) < 0)
		goto fail;
	if (!p.args || !p.args[0] || !p.args[0][0]) {
		r = error_set(err, KORCH_EINVALID, "%s.args: must be a non-empty array of strings",
			      where);
		goto fail;
	}
	char **given_env = NULL;
	if ((r = get_strv(json, "env", where, false, &given_env, err)) < 0)
		goto fail;
	if ((r = check_env(given_env, where, err)) < 0) {
		strv_free(given_env);
		goto fail;
	}
	if (base) {
		p.env = strv_copy(base->env);
		r = p.env ? env_merge(&p.env, given_env) : KORCH_ENOMEM;
		strv_free(given_env);
		if (r < 0) {
			r = error_oom(err);
			goto fail;
		}
	} else {
		p.env = given_env ? given_env : calloc(1, sizeof(char *));
		if (!p.env) {
			r = error_oom(err);
			goto fail;
		}
		bool has_path = false;
		for (size_t i = 0; p.env[i]; i++)
			has_path |= startswith(p.env[i], "PATH=") != NULL;
		char *const defaults[] = { (char *)DEFAULT_PATH, NULL };
		if (!has_path && env_merge(&p.env, defaults) < 0) {
			r = error_oom(err);
			goto fail;
		}
	}
	if ((r = get_string(json, "cwd", where, false, &p.cwd, err)) < 0)
		goto fail;
	if (!p.cwd && !(p.cwd = strdup(base ? base->cwd : "/"))) {
		r = error_oom(err);
		goto fail;
	}
	char field[128];
	snprintf(field, sizeof(field), "%s.cwd", where);
	if ((r = check_path(p.cwd, field, true, err)) < 0)
		goto fail;
	if (streq(p.cwd, "/proc") || startswith(p.cwd, "/proc/")) {
		/* CVE-2024-21626: a cwd of /proc/self/fd/N reaches a host directory. */
		r = error_set(err, KORCH_EINVALID, "%s: \"%s\" must not be under /proc", field,
			      p.cwd);
		goto fail;
	}
	if ((r = get_string(json, "user", where, false, &p.user, err)) < 0)
		goto fail;
	if (p.user && !p.user[0]) {
		r = error_set(err, KORCH_EINVALID, "%s.user: must not be empty", where);
		goto fail;
	}
	if (!p.user && base && base->user && !(p.user = strdup(base->user))) {
		r = error_oom(err);
		goto fail;
	}
	if ((r = get_strv(json, "additionalGroups", where, true, &p.additional_groups, err)) < 0)
		goto fail;
	if (!json_object_get(json, "additionalGroups") && base && base->additional_groups &&
	    !(p.additional_groups = strv_copy(base->additional_groups))) {
		r = error_oom(err);
		goto fail;
	}
	json_t *rl = json_object_get(json, "rlimits");
	if (rl) {
		if ((r = parse_rlimits(rl, where, &p, err)) < 0)
			goto fail;
	} else if (base && base->n_rlimits) {
		p.rlimits = malloc(base->n_rlimits * sizeof(*p.rlimits));
		if (!p.rlimits) {
			r = error_oom(err);
			goto fail;
		}
		memcpy(p.rlimits, base->rlimits, base->n_rlimits * sizeof(*p.rlimits));
		p.n_rlimits = base->n_rlimits;
	}
	if ((r = get_bool(json, "noNewPrivileges", where, base ? base->no_new_privs : default_nnp,
			  &p.no_new_privs, err)) < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	process_spec_clear(&p);
	return r;
}

static int
parse_rootfs(json_t *json, struct container_spec *s, korch_error **err)
{
	static const char *const keys[] = { "layers", "path", NULL };
	if (!json)
		return error_set(err, KORCH_EINVALID, "rootfs: required");
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "rootfs: must be an object");
	int r = check_keys(json, "rootfs", keys, err);
	if (r < 0)
		return r;
	if ((r = get_paths(json, "layers", "rootfs", false, &s->layers, err)) < 0)
		return r;
	if ((r = get_string(json, "path", "rootfs", false, &s->rootfs_path, err)) < 0)
		return r;
	if (!!s->layers == !!s->rootfs_path)
		return error_set(err, KORCH_EINVALID, "rootfs: give exactly one of layers or path");
	if (s->layers && !s->layers[0])
		return error_set(err, KORCH_EINVALID, "rootfs.layers: must not be empty");
	if (s->rootfs_path)
		return check_path(s->rootfs_path, "rootfs.path", false, err);
	return 0;
}

static int
parse_namespaces(json_t *json, struct container_spec *s, korch_error **err)
{
	if (!json)
		return 0;
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "namespaces: must be an object");
	const char *key;
	json_t *v;
	json_object_foreach (json, key, v) {
		int t = -1;
		for (int i = 0; i < NS_COUNT; i++)
			if (streq(key, ns_names[i]))
				t = i;
		if (t < 0)
			return error_set(err, KORCH_EINVALID, "namespaces.%s: unknown namespace",
					 key);
		const char *val = json_string_value(v);
		if (!val)
			return error_set(err, KORCH_EINVALID,
					 "namespaces.%s: must be \"new\", \"host\" or a path", key);
		if (streq(val, "new"))
			s->ns[t].mode = NS_MODE_NEW;
		else if (streq(val, "host"))
			s->ns[t].mode = NS_MODE_HOST;
		else if (val[0] == '/') {
			s->ns[t].mode = NS_MODE_PATH;
			free(s->ns[t].path);
			if (!(s->ns[t].path = strdup(val)))
				return error_oom(err);
		} else
			return error_set(err, KORCH_EINVALID,
					 "namespaces.%s: must be \"new\", \"host\" or a path, not "
					 "\"%s\"",
					 key, val);
	}
	if (s->ns[NS_MNT].mode != NS_MODE_NEW)
		return error_set(err, KORCH_EINVALID,
				 "namespaces.mount: a container always has a mount namespace of "
				 "its own");
	return 0;
}

static int
parse_mount(json_t *e, size_t i, struct mount_spec *m, korch_error **err)
{
	static const char *const keys[] = { "type",      "source", "target", "readOnly",
					    "sizeBytes", "mode",   NULL };
	char where[64];
	snprintf(where, sizeof(where), "mounts[%zu]", i);
	if (!json_is_object(e))
		return error_set(err, KORCH_EINVALID, "%s: must be an object", where);
	int r = check_keys(e, where, keys, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *type = NULL;
	if ((r = get_string(e, "type", where, false, &type, err)) < 0)
		return r;
	if (!type || streq(type, "bind"))
		m->type = MOUNT_BIND;
	else if (streq(type, "tmpfs"))
		m->type = MOUNT_TMPFS;
	else
		return error_set(err, KORCH_EINVALID,
				 "%s.type: \"%s\" is not supported (bind or tmpfs)", where, type);
	if ((r = get_string(e, "target", where, true, &m->target, err)) < 0)
		return r;
	char field[96];
	snprintf(field, sizeof(field), "%s.target", where);
	if ((r = check_path(m->target, field, true, err)) < 0)
		return r;
	if (m->target[strspn(m->target, "/")] == '\0')
		return error_set(err, KORCH_EINVALID, "%s: cannot mount over /", field);
	if ((r = get_string(e, "source", where, m->type == MOUNT_BIND, &m->source, err)) < 0)
		return r;
	if (m->type == MOUNT_BIND) {
		snprintf(field, sizeof(field), "%s.source", where);
		if ((r = check_path(m->source, field, false, err)) < 0)
			return r;
	} else if (m->source)
		return error_set(err, KORCH_EINVALID, "%s.source: a tmpfs has no source", where);
	if ((r = get_bool(e, "readOnly", where, false, &m->read_only, err)) < 0)
		return r;
	json_t *size = json_object_get(e, "sizeBytes");
	if (size &&
	    (m->type != MOUNT_TMPFS || !json_is_integer(size) || json_integer_value(size) < 0))
		return error_set(err, KORCH_EINVALID,
				 "%s.sizeBytes: a number >= 0, for a tmpfs only", where);
	m->size_bytes = size ? (uint64_t)json_integer_value(size) : 0;
	json_t *mode = json_object_get(e, "mode");
	if (mode && (m->type != MOUNT_TMPFS || !json_is_integer(mode) ||
		     json_integer_value(mode) < 0 || json_integer_value(mode) > 07777))
		return error_set(err, KORCH_EINVALID,
				 "%s.mode: a permission mode (0 to 07777), for a tmpfs only",
				 where);
	m->mode = mode ? (uint32_t)json_integer_value(mode) : 01777;
	return 0;
}

static int
parse_mounts(json_t *json, struct container_spec *s, korch_error **err)
{
	if (!json)
		return 0;
	if (!json_is_array(json))
		return error_set(err, KORCH_EINVALID, "mounts: must be an array");
	size_t n = json_array_size(json);
	s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
	if (!s->mounts)
		return error_oom(err);
	for (size_t i = 0; i < n; i++) {
		s->n_mounts = i + 1;
		int r = parse_mount(json_array_get(json, i), i, &s->mounts[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
parse_log(json_t *json, struct container_spec *s, korch_error **err)
{
	static const char *const keys[] = { "path", "maxSizeBytes", "maxFiles", NULL };
	s->log_max_bytes = DEFAULT_LOG_MAX_BYTES;
	s->log_max_files = DEFAULT_LOG_MAX_FILES;
	if (!json)
		return 0;
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "log: must be an object");
	int r = check_keys(json, "log", keys, err);
	if (r < 0)
		return r;
	if ((r = get_string(json, "path", "log", false, &s->log_path, err)) < 0)
		return r;
	if (s->log_path && (r = check_path(s->log_path, "log.path", false, err)) < 0)
		return r;
	json_t *v = json_object_get(json, "maxSizeBytes");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return error_set(err, KORCH_EINVALID,
					 "log.maxSizeBytes: must be a number >= 0");
		s->log_max_bytes = json_integer_value(v);
	}
	v = json_object_get(json, "maxFiles");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000)
			return error_set(err, KORCH_EINVALID,
					 "log.maxFiles: must be a number from 1 to 1000");
		s->log_max_files = (int)json_integer_value(v);
	}
	return 0;
}

/* An integer field in [min, max]; absent leaves *ret alone and *ret_present false. */
static int
get_int(json_t *obj, const char *key, const char *where, int64_t min, int64_t max, int64_t *ret,
	bool *ret_present, korch_error **err)
{
	char f[256];
	json_t *v = json_object_get(obj, key);
	*ret_present = v && !json_is_null(v);
	if (!*ret_present)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return error_set(err, KORCH_EINVALID,
				 "%s: must be an integer from %" PRId64 " to %" PRId64,
				 fname(f, where, key), min, max);
	*ret = json_integer_value(v);
	return 0;
}

/* A cpuset list as the kernel takes it: "0-3,5", digits, commas and ranges only. */
static bool
valid_cpuset(const char *s)
{
	if (!*s || strlen(s) > 1024)
		return false;
	for (const char *p = s; *p;) {
		if (!isdigit((unsigned char)*p))
			return false;
		unsigned long lo = strtoul(p, (char **)&p, 10), hi = lo;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return false;
			hi = strtoul(p, (char **)&p, 10);
		}
		if (hi < lo || (*p && *p != ','))
			return false;
		if (*p == ',' && !*++p)
			return false;
	}
	return true;
}

void
resources_spec_clear(struct resources_spec *r)
{
	free(r->cpuset_cpus);
	free(r->cpuset_mems);
	memset(r, 0, sizeof(*r));
}

static int
resources_fill(json_t *json, const char *where, struct resources_spec *res, korch_error **err)
{
	static const char *const keys[] = { "memoryBytes", "cpuShares", "cpuQuotaUs",
					    "cpuPeriodUs", "pidsMax",   "cpusetCpus",
					    "cpusetMems",  NULL };
	char f[256];
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "%s: must be an object", where);
	int r = check_keys(json, where, keys, err);
	if (r < 0)
		return r;
	int64_t v = 0;
	bool set;
	if ((r = get_int(json, "memoryBytes", where, 0, INT64_MAX, &v, &set, err)) < 0)
		return r;
	res->memory_bytes = set ? v : 0;
	/* The kernel refuses a memory limit this small once anything runs in the cgroup. */
	if (set && v > 0 && v < 4096)
		return error_set(err, KORCH_EINVALID, "%s: must be 0 (unlimited) or at least 4096",
				 fname(f, where, "memoryBytes"));
	if ((r = get_int(json, "cpuShares", where, 0, 262144, &v, &set, err)) < 0)
		return r;
	if (set && v == 1)
		return error_set(err, KORCH_EINVALID, "%s: must be 0 (default) or from 2 to 262144",
				 fname(f, where, "cpuShares"));
	res->cpu_shares = set ? (uint64_t)v : 0;
	if ((r = get_int(json, "cpuQuotaUs", where, INT64_MIN, INT64_MAX / 1000, &v, &set, err)) <
	    0)
		return r;
	if (set && v > 0 && v < 1000)
		return error_set(err, KORCH_EINVALID,
				 "%s: must be at least 1000, or 0 or less for no quota",
				 fname(f, where, "cpuQuotaUs"));
	res->cpu_quota_us = set && v > 0 ? v : 0;
	if ((r = get_int(json, "cpuPeriodUs", where, 0, 1000000, &v, &set, err)) < 0)
		return r;
	if (set && v && v < 1000)
		return error_set(err, KORCH_EINVALID,
				 "%s: must be 0 (default) or from 1000 to 1000000",
				 fname(f, where, "cpuPeriodUs"));
	res->cpu_period_us = set ? (uint64_t)v : 0;
	if ((r = get_int(json, "pidsMax", where, INT64_MIN, INT64_MAX, &v, &set, err)) < 0)
		return r;
	res->pids_max = set ? v : 0;
	res->pids_set = set;
	if ((r = get_string(json, "cpusetCpus", where, false, &res->cpuset_cpus, err)) < 0 ||
	    (r = get_string(json, "cpusetMems", where, false, &res->cpuset_mems, err)) < 0)
		return r;
	if (res->cpuset_cpus && !valid_cpuset(res->cpuset_cpus))
		return error_set(err, KORCH_EINVALID,
				 "%s: \"%s\" is not a list of CPUs (\"0-3,5\")",
				 fname(f, where, "cpusetCpus"), res->cpuset_cpus);
	if (res->cpuset_mems && !valid_cpuset(res->cpuset_mems))
		return error_set(err, KORCH_EINVALID,
				 "%s: \"%s\" is not a list of memory nodes (\"0-1\")",
				 fname(f, where, "cpusetMems"), res->cpuset_mems);
	return 0;
}

int
resources_spec_parse(json_t *json, const char *where, struct resources_spec *ret, korch_error **err)
{
	struct resources_spec r = { 0 };
	int rc = resources_fill(json, where, &r, err);
	if (rc < 0) {
		resources_spec_clear(&r);
		return rc;
	}
	*ret = r;
	return 0;
}

/* A cgroup or instance name: what cgroup.h accepts for one path component. */
static bool
valid_cgroup_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 200 || streq(s, ".") || streq(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static int
parse_cgroup(json_t *json, struct container_spec *s, korch_error **err)
{
	static const char *const keys[] = { "instance", "parent", "pod", NULL };
	int r;
	if (json) {
		if (!json_is_object(json))
			return error_set(err, KORCH_EINVALID, "cgroup: must be an object");
		if ((r = check_keys(json, "cgroup", keys, err)) < 0 ||
		    (r = get_string(json, "instance", "cgroup", false, &s->cgroup.instance, err)) <
			    0 ||
		    (r = get_string(json, "parent", "cgroup", false, &s->cgroup.parent, err)) < 0 ||
		    (r = get_string(json, "pod", "cgroup", false, &s->cgroup.pod, err)) < 0)
			return r;
	}
	if (!s->cgroup.instance && !(s->cgroup.instance = strdup("korch")))
		return error_oom(err);
	if (!valid_cgroup_name(s->cgroup.instance))
		return error_set(err, KORCH_EINVALID,
				 "cgroup.instance: \"%s\" must be 1 to 200 letters, digits, '_', "
				 "'.' or '-'",
				 s->cgroup.instance);
	if (s->cgroup.pod && !valid_cgroup_name(s->cgroup.pod))
		return error_set(err, KORCH_EINVALID,
				 "cgroup.pod: \"%s\" must be 1 to 200 letters, digits, '_', '.' or "
				 "'-'",
				 s->cgroup.pod);
	if (s->cgroup.parent && (s->cgroup.parent[0] != '/' || streq(s->cgroup.parent, "/") ||
				 has_dotdot(s->cgroup.parent) || strstr(s->cgroup.parent, "/./") ||
				 strstr(s->cgroup.parent, "//") || endswith(s->cgroup.parent, "/")))
		return error_set(err, KORCH_EINVALID,
				 "cgroup.parent: \"%s\" must be an absolute path below the cgroup "
				 "root, without \".\", \"..\" or empty components",
				 s->cgroup.parent);
	return 0;
}

static int
parse_seccomp_profile(json_t *json, struct security_context_spec *sc, korch_error **err)
{
	static const char *const keys[] = { "type", "localhostProfile", NULL };
	const char *where = "securityContext.seccompProfile";
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "%s: must be an object", where);
	int r = check_keys(json, where, keys, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *type = NULL;
	if ((r = get_string(json, "type", where, true, &type, err)) < 0 ||
	    (r = get_string(json, "localhostProfile", where, false, &sc->seccomp_localhost, err)) <
		    0)
		return r;
	if (streq(type, "RuntimeDefault"))
		sc->seccomp = SECCOMP_MODE_RUNTIME_DEFAULT;
	else if (streq(type, "Unconfined"))
		sc->seccomp = SECCOMP_MODE_UNCONFINED;
	else if (streq(type, "Localhost"))
		sc->seccomp = SECCOMP_MODE_LOCALHOST;
	else
		return error_set(err, KORCH_EINVALID,
				 "%s.type: \"%s\" is not RuntimeDefault, Unconfined or Localhost",
				 where, type);
	if (sc->seccomp == SECCOMP_MODE_LOCALHOST && !sc->seccomp_localhost)
		return error_set(err, KORCH_EINVALID,
				 "%s.localhostProfile: required with type Localhost", where);
	if (sc->seccomp != SECCOMP_MODE_LOCALHOST && sc->seccomp_localhost)
		return error_set(err, KORCH_EINVALID,
				 "%s.localhostProfile: only with type Localhost", where);
	if (sc->seccomp_localhost)
		return check_path(sc->seccomp_localhost,
				  "securityContext.seccompProfile."
				  "localhostProfile",
				  false, err);
	return 0;
}

static int
parse_security_context(json_t *json, struct container_spec *s, korch_error **err)
{
	static const char *const keys[] = { "capabilities", "allowPrivilegeEscalation",
					    "seccompProfile", NULL };
	static const char *const cap_keys[] = { "add", "drop", NULL };
	struct security_context_spec *sc = &s->security;
	sc->allow_privilege_escalation = -1;
	if (!json)
		return 0;
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "securityContext: must be an object");
	int r = check_keys(json, "securityContext", keys, err);
	if (r < 0)
		return r;
	json_t *caps = json_object_get(json, "capabilities");
	if (caps && !json_is_null(caps)) {
		const char *where = "securityContext.capabilities";
		if (!json_is_object(caps))
			return error_set(err, KORCH_EINVALID, "%s: must be an object", where);
		if ((r = check_keys(caps, where, cap_keys, err)) < 0 ||
		    (r = get_strv(caps, "add", where, false, &sc->cap_add, err)) < 0 ||
		    (r = get_strv(caps, "drop", where, false, &sc->cap_drop, err)) < 0)
			return r;
	}
	json_t *ape = json_object_get(json, "allowPrivilegeEscalation");
	if (ape && !json_is_null(ape)) {
		if (!json_is_boolean(ape))
			return error_set(
				err, KORCH_EINVALID,
				"securityContext.allowPrivilegeEscalation: must be true or "
				"false");
		sc->allow_privilege_escalation = json_is_true(ape);
	}
	json_t *prof = json_object_get(json, "seccompProfile");
	if (prof && !json_is_null(prof) && (r = parse_seccomp_profile(prof, sc, err)) < 0)
		return r;
	return 0;
}

/*
 * no_new_privs comes from two places that must agree: process.noNewPrivileges (runc's name) and
 * securityContext.allowPrivilegeEscalation (Kubernetes'), which gives the default of the first.
 * Kubernetes refuses privileged with allowPrivilegeEscalation false; so does korch.
 */
static int
check_privilege_escalation(json_t *proc, struct container_spec *s, korch_error **err)
{
	int ape = s->security.allow_privilege_escalation;
	if (s->privileged && ape == 0)
		return error_set(err, KORCH_EINVALID,
				 "securityContext.allowPrivilegeEscalation: cannot be false with "
				 "privileged true");
	json_t *nnp = json_object_get(proc, "noNewPrivileges");
	if (ape >= 0 && nnp && json_is_boolean(nnp) && json_is_true(nnp) == (ape == 1))
		return error_set(err, KORCH_EINVALID,
				 "process.noNewPrivileges: %s contradicts "
				 "securityContext.allowPrivilegeEscalation %s",
				 json_is_true(nnp) ? "true" : "false", ape ? "true" : "false");
	return 0;
}

static bool
valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 128 || !isalnum((unsigned char)id[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("_.-", id[i]))
			return false;
	return true;
}

static int
parse_stop_signal(json_t *v, struct container_spec *s, korch_error **err)
{
	s->stop_signal = SIGTERM;
	if (!v)
		return 0;
	if (json_is_integer(v))
		s->stop_signal = json_integer_value(v) > 0 && json_integer_value(v) < NSIG
					 ? (int)json_integer_value(v)
					 : -1;
	else if (json_is_string(v))
		s->stop_signal = signal_from_name(json_string_value(v));
	else
		s->stop_signal = -1;
	if (s->stop_signal < 0)
		return error_set(err, KORCH_EINVALID, "stopSignal: not a signal name or number");
	return 0;
}

static int
parse_etc_files(json_t *json, struct container_spec *s, korch_error **err)
{
	int r;
	if ((r = get_string(json, "etcHosts", "", false, &s->etc_hosts, err)) < 0 ||
	    (r = get_string(json, "etcHostname", "", false, &s->etc_hostname, err)) < 0 ||
	    (r = get_string(json, "etcResolvConf", "", false, &s->etc_resolv_conf, err)) < 0)
		return r;
	if (s->etc_hosts && (r = check_path(s->etc_hosts, "etcHosts", false, err)) < 0)
		return r;
	if (s->etc_hostname && (r = check_path(s->etc_hostname, "etcHostname", false, err)) < 0)
		return r;
	if (s->etc_resolv_conf &&
	    (r = check_path(s->etc_resolv_conf, "etcResolvConf", false, err)) < 0)
		return r;
	return 0;
}

static int
default_paths(json_t *json, const char *key, const char *const *defaults, bool privileged,
	      char ***ret, korch_error **err)
{
	if (json_object_get(json, key))
		return get_paths(json, key, "", true, ret, err);
	/* A privileged container sees /proc and /sys unmasked, as with Docker and runc. */
	char *const none[] = { NULL };
	*ret = strv_copy(privileged ? none : (char *const *)defaults);
	return *ret ? 0 : error_oom(err);
}

static int
spec_fill(json_t *json, struct container_spec *s, korch_error **err)
{
	static const char *const keys[] = {
		"id",          "rootfs",        "process",     "readOnlyRootFilesystem",
		"hostname",    "namespaces",    "mounts",      "etcHosts",
		"etcHostname", "etcResolvConf", "maskedPaths", "readonlyPaths",
		"privileged",  "log",           "stopSignal",  "securityContext",
		"resources",   "cgroup",        NULL,
	};
	int r;
	if (!json_is_object(json))
		return error_set(err, KORCH_EINVALID, "spec: must be a JSON object");
	if ((r = check_keys(json, "", keys, err)) < 0)
		return r;
	if ((r = get_string(json, "id", "", true, &s->id, err)) < 0)
		return r;
	if (!valid_id(s->id))
		return error_set(err, KORCH_EINVALID,
				 "id: \"%s\" must be 1 to 128 letters, digits, '_', '.' or '-', "
				 "starting with a letter or digit",
				 s->id);
	if ((r = parse_rootfs(json_object_get(json, "rootfs"), s, err)) < 0)
		return r;
	if ((r = get_bool(json, "privileged", "", false, &s->privileged, err)) < 0)
		return r;
	if ((r = parse_security_context(json_object_get(json, "securityContext"), s, err)) < 0)
		return r;
	json_t *proc = json_object_get(json, "process");
	if (!proc)
		return error_set(err, KORCH_EINVALID, "process: required");
	if ((r = check_privilege_escalation(proc, s, err)) < 0)
		return r;
	bool default_nnp = !s->privileged && s->security.allow_privilege_escalation != 1;
	if ((r = process_spec_parse(proc, "process", NULL, default_nnp, &s->process, err)) < 0)
		return r;
	json_t *res = json_object_get(json, "resources");
	if (res && !json_is_null(res) &&
	    (r = resources_spec_parse(res, "resources", &s->resources, err)) < 0)
		return r;
	if ((r = parse_cgroup(json_object_get(json, "cgroup"), s, err)) < 0)
		return r;
	if ((r = get_bool(json, "readOnlyRootFilesystem", "", false, &s->read_only_rootfs, err)) <
	    0)
		return r;
	if ((r = parse_namespaces(json_object_get(json, "namespaces"), s, err)) < 0)
		return r;
	if ((r = get_string(json, "hostname", "", false, &s->hostname, err)) < 0)
		return r;
	if (s->hostname && (strlen(s->hostname) == 0 || strlen(s->hostname) > 64))
		return error_set(err, KORCH_EINVALID, "hostname: must be 1 to 64 bytes");
	if (s->hostname && s->ns[NS_UTS].mode != NS_MODE_NEW)
		return error_set(err, KORCH_EINVALID,
				 "hostname: needs a uts namespace of the container's own");
	/* A uts namespace of its own and no name given: the id (at most 64 bytes), as Docker does,
	 * rather than the host's name. */
	if (!s->hostname && s->ns[NS_UTS].mode == NS_MODE_NEW &&
	    !(s->hostname = strndup(s->id, 64)))
		return error_oom(err);
	if ((r = parse_mounts(json_object_get(json, "mounts"), s, err)) < 0)
		return r;
	if ((r = parse_etc_files(json, s, err)) < 0)
		return r;
	if ((r = default_paths(json, "maskedPaths", default_masked_paths, s->privileged,
			       &s->masked_paths, err)) < 0)
		return r;
	if ((r = default_paths(json, "readonlyPaths", default_readonly_paths, s->privileged,
			       &s->readonly_paths, err)) < 0)
		return r;
	if ((r = parse_log(json_object_get(json, "log"), s, err)) < 0)
		return r;
	return parse_stop_signal(json_object_get(json, "stopSignal"), s, err);
}

int
container_spec_parse(json_t *json, struct container_spec **ret, korch_error **err)
{
	_cleanup_(container_spec_freep) struct container_spec *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	int r = spec_fill(json, s, err);
	if (r < 0)
		return r;
	s->json = json_incref(json);
	*ret = steal_pointer(&s);
	return 0;
}

void
container_spec_free(struct container_spec *s)
{
	if (!s)
		return;
	free(s->id);
	strv_free(s->layers);
	free(s->rootfs_path);
	process_spec_clear(&s->process);
	free(s->hostname);
	for (int i = 0; i < NS_COUNT; i++)
		free(s->ns[i].path);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
	}
	free(s->mounts);
	free(s->etc_hosts);
	free(s->etc_hostname);
	free(s->etc_resolv_conf);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	free(s->log_path);
	strv_free(s->security.cap_add);
	strv_free(s->security.cap_drop);
	free(s->security.seccomp_localhost);
	resources_spec_clear(&s->resources);
	free(s->cgroup.instance);
	free(s->cgroup.parent);
	free(s->cgroup.pod);
	json_decref(s->json);
	free(s);
}
