/*
 * cgroup.c - cgroup mode detection, the instance's parent cgroup, pod and container cgroup
 * handles, the dispatch to the v1/v2 backends, file helpers over cgroupfs and the kubelet's
 * conversions.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/macro.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "runtime/cgroup-internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char *const cgroup_v1_controller_names[CG_N_CONTROLLERS + 1] = {
	[CG_CPU] = "cpu",         [CG_CPUACCT] = "cpuacct",  [CG_CPUSET] = "cpuset",
	[CG_MEMORY] = "memory",   [CG_PIDS] = "pids",        [CG_DEVICES] = "devices",
	[CG_FREEZER] = "freezer", [CG_N_CONTROLLERS] = NULL,
};

/* ---- file helpers ---- */

void
cg_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * NSEC_PER_MSEC };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
cg_write(const char *dir, const char *file, const char *text, korch_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return error_oom(err);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open %s", path);
	int r = write_all(fd, text, strlen(text));
	if (r < 0)
		return error_errno(err, -r, "write \"%s\" to %s", text, path);
	return 0;
}

int
cg_writef(const char *dir, const char *file, korch_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *text = NULL;
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return error_oom(err);
	return cg_write(dir, file, text, err);
}

int
cg_read(const char *dir, const char *file, char **ret, korch_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return error_oom(err);
	return read_file(path, 65536, ret, NULL, err);
}

int
cg_read_u64(const char *dir, const char *file, uint64_t *ret, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = cg_read(dir, file, &text, err);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	if (streq(text, "max")) {
		*ret = UINT64_MAX;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-')
		return error_set(err, KORCH_EINVALID, "%s/%s: not a number: \"%s\"", dir, file,
				 text);
	*ret = v;
	return 0;
}

int
cg_keyed_u64(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			char *end = NULL;
			errno = 0;
			unsigned long long v = strtoull(line + klen + 1, &end, 10);
			if (errno || end == line + klen + 1 || (*end && *end != '\n'))
				return KORCH_EINVALID;
			*ret = v;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return KORCH_ENOTFOUND;
}

bool
cg_file_exists(const char *dir, const char *file)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return false;
	return access(path, F_OK) == 0;
}

int
cg_read_procs(const char *dir, pid_t *pids, size_t max, size_t *ret_n, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/cgroup.procs", dir) < 0)
		return error_oom(err);
	int r = read_file(path, 4 << 20, &text, NULL, err);
	if (r < 0)
		return r;
	size_t n = 0;
	for (char *p = text; *p;) {
		char *end = NULL;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pids && n < max)
			pids[n] = (pid_t)v;
		n++;
		p = end;
		while (*p == '\n')
			p++;
	}
	*ret_n = n;
	return 0;
}

/* Collects the pids of dir and of every cgroup below it into pids (up to max); the count. */
size_t
cg_collect_procs(const char *dir, pid_t *pids, size_t max, size_t n)
{
	size_t got = 0;
	if (cg_read_procs(dir, n < max ? pids + n : NULL, n < max ? max - n : 0, &got, NULL) < 0)
		return n;
	n += got;
	DIR *d = opendir(dir);
	if (!d)
		return n;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		char *sub = NULL;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			continue;
		n = cg_collect_procs(sub, pids, max, n);
		free(sub);
	}
	closedir(d);
	return n;
}

int
cg_rmdir_retry(const char *dir, korch_error **err)
{
	/* Exiting tasks keep a cgroup busy until the kernel releases them (on v2 until their parent
	 * reaps them): retry for about 5 s, quickly at first. */
	for (unsigned attempt = 0;; attempt++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno == EBUSY && attempt >= 120)
			return error_set(err, KORCH_EBUSY, "rmdir %s: %s (still in use after 5 s)",
					 dir, strerror(EBUSY));
		if (errno != EBUSY)
			return error_errno(err, errno, "rmdir %s", dir);
		cg_sleep_ms(attempt < 20 ? 5 : 50);
	}
}

int
cg_rmdir_children(const char *dir, korch_error **err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno(err, errno, "open %s", dir);
	DIR *d = fdopendir(fd);
	if (!d)
		return error_errno(err, errno, "fdopendir %s", dir);
	fd = -1;
	struct ptrvec sub = PTRVEC_INIT;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0 || ptrvec_push(&sub, p) < 0) {
			free(p);
			r = error_oom(err);
			break;
		}
	}
	closedir(d);
	for (size_t i = 0; r == 0 && i < sub.n; i++) {
		r = cg_rmdir_children(sub.items[i], err);
		if (r == 0)
			r = cg_rmdir_retry(sub.items[i], err);
	}
	ptrvec_free(&sub, free);
	return r;
}

/* ---- conversions ---- */

uint64_t
cgroup_cpu_shares_from_milli(int64_t milli_cpu)
{
	if (milli_cpu <= 0)
		return 2;
	/* Avoid overflow for absurd requests: anything this large is the maximum anyway. */
	if (milli_cpu > INT64_MAX / 1024)
		return 262144;
	int64_t shares = milli_cpu * 1024 / 1000;
	if (shares < 2)
		return 2;
	if (shares > 262144)
		return 262144;
	return (uint64_t)shares;
}

int64_t
cgroup_cpu_quota_from_milli(int64_t milli_cpu, uint64_t period_us)
{
	if (milli_cpu <= 0)
		return 0;
	if (period_us == 0)
		period_us = 100000;
	if (milli_cpu > INT64_MAX / (int64_t)period_us)
		return INT64_MAX / 1000;
	int64_t quota = milli_cpu * (int64_t)period_us / 1000;
	return quota < 1000 ? 1000 : quota;
}

uint64_t
cgroup_cpu_weight_from_shares(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	/* A quadratic in log2(shares) through (2, 1), (1024, 100) and (262144, 10000), as runc
	 * and the kubelet convert since cgroups 0.0.2. */
	double l = log2((double)shares);
	double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
	return (uint64_t)ceil(pow(10, exponent));
}

void
cgroup_pids_max_text(int64_t pids_max, char buf[static 24])
{
	if (pids_max > 0)
		snprintf(buf, 24, "%" PRId64, pids_max);
	else if (pids_max == 0)
		strcpy(buf, "1"); /* runc: systemd cannot express 0, so 0 means 1 everywhere */
	else
		strcpy(buf, "max");
}

/* ---- detection and the manager ---- */

static bool
valid_name(const char *s, bool allow_colon)
{
	if (!s || !*s || strlen(s) > 200 || streq(s, ".") || streq(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.' &&
		    !(allow_colon && *p == ':'))
			return false;
	return true;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape_mountinfo(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* One v1 mount: where it is, the hierarchy path mounted there, its super options. */
struct v1_mount {
	char *mountpoint; /* "/sys/fs/cgroup/memory" */
	char *mount_root; /* "/" unless a subtree of the hierarchy is mounted */
};

/*
 * Finds the mount of each v1 controller in mountinfo: fstype "cgroup" (never "cgroup2": a
 * hybrid system's stray cgroup2 mount holds at most hugetlb or nothing korch uses), super
 * options naming the controller (co-mounted "cpu,cpuacct" gives both). The first mount wins.
 */
static int
find_v1_mounts(const char *mountinfo, struct v1_mount out[CG_N_CONTROLLERS], korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(mountinfo, 4 << 20, &text, NULL, err);
	if (r < 0)
		return korch_error_prefix(err, r, "find cgroup v1 controllers");
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *fields[6] = { 0 };
		char *p = line;
		for (int i = 0; i < 6 && p; i++) {
			fields[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		if (!p)
			continue;
		char *sep = strstr(p, " - ");
		if (!sep && strncmp(p, "- ", 2) == 0)
			sep = p - 1;
		if (!sep)
			continue;
		char *fstype = sep + 3;
		char *src = strchr(fstype, ' ');
		if (!src)
			continue;
		*src++ = '\0';
		if (!streq(fstype, "cgroup"))
			continue;
		char *superopts = strchr(src, ' ');
		if (!superopts)
			continue;
		superopts++;
		char *s2 = NULL;
		for (char *opt = strtok_r(superopts, ",", &s2); opt;
		     opt = strtok_r(NULL, ",", &s2)) {
			for (int c = 0; c < CG_N_CONTROLLERS; c++) {
				if (!streq(opt, cgroup_v1_controller_names[c]) || out[c].mountpoint)
					continue;
				out[c].mountpoint = strdup(fields[4]);
				out[c].mount_root = strdup(fields[3]);
				if (!out[c].mountpoint || !out[c].mount_root)
					return error_oom(err);
				unescape_mountinfo(out[c].mountpoint);
				unescape_mountinfo(out[c].mount_root);
			}
		}
	}
	return 0;
}

/*
 * This process's cgroup path for a v1 controller ("memory") or, with controller NULL, the v2
 * path (the "0::" line), from /proc/self/cgroup.
 */
static int
own_cgroup_path(const char *proc_cgroup, const char *controller, char **ret, korch_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(proc_cgroup, 1 << 20, &text, NULL, err);
	if (r < 0)
		return r;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		const char *list = c1 + 1, *path = c2 + 1;
		bool match = false;
		if (!controller) {
			match = streq(line, "0") && *list == '\0';
		} else {
			_cleanup_free_ char *copy = strdup(list);
			if (!copy)
				return error_oom(err);
			char *s2 = NULL;
			for (char *c = strtok_r(copy, ",", &s2); c; c = strtok_r(NULL, ",", &s2))
				if (streq(c, controller))
					match = true;
		}
		if (match) {
			char *p = strdup(path);
			if (!p)
				return error_oom(err);
			*ret = p;
			return 0;
		}
	}
	return error_set(err, KORCH_ENOTFOUND, "%s: no line for %s", proc_cgroup,
			 controller ? controller : "the unified hierarchy");
}

/* dir + path with exactly one slash between, and no trailing slash for path "/". */
static char *
join_path(const char *a, const char *b)
{
	char *p = NULL;
	while (*b == '/')
		b++;
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	if (asprintf(&p, "%.*s%s%s", (int)la, a, *b ? "/" : "", b) < 0)
		return NULL;
	return p;
}

/*
 * v1 cpuset cgroups start with empty cpuset.cpus and cpuset.mems, and no task may join such a
 * cgroup: copy the parent's values into a new one (as runc does).
 */
static int
cpuset_inherit(const char *dir, korch_error **err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	_cleanup_free_ char *parent = strdup(dir);
	if (!parent)
		return error_oom(err);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return 0;
	*slash = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *cur = NULL, *pv = NULL;
		int r = cg_read(dir, files[i], &cur, err);
		if (r < 0)
			return r;
		if (cur[strspn(cur, " \n")] != '\0')
			continue;
		r = cg_read(parent, files[i], &pv, err);
		if (r < 0)
			return r;
		pv[strcspn(pv, "\n")] = '\0';
		if (!*pv)
			return error_set(err, KORCH_ESYSTEM, "%s/%s is empty", parent, files[i]);
		r = cg_write(dir, files[i], pv, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* mkdir -p for a cgroup directory, inheriting cpuset values level by level when asked. */
static int
cg_mkdir_p(const char *mount, const char *dir, bool cpuset, korch_error **err)
{
	_cleanup_free_ char *p = strdup(dir);
	if (!p)
		return error_oom(err);
	size_t start = strlen(mount);
	for (char *s = p + start + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return error_errno(err, errno, "mkdir %s", p);
		/* Also when it existed: a crash may have come between mkdir and the copy. */
		if (cpuset) {
			int r = cpuset_inherit(p, err);
			if (r < 0)
				return r;
		}
		*s = saved;
		if (!saved)
			break;
	}
	return 0;
}

void
cgroup_manager_free(struct cgroup_manager *m)
{
	if (!m)
		return;
	for (int c = 0; c < CG_N_CONTROLLERS; c++) {
		free(m->v1_mount[c]);
		free(m->v1_parent[c]);
	}
	free(m->v2_parent);
	free(m->v2_leaf);
	free(m->instance);
	free(m->root);
	free(m->parent_path);
	free(m);
}
DEFINE_CLEANUP_FUNC(cgroup_manager_free, struct cgroup_manager, cgroup_manager_free)

static int
open_v1(struct cgroup_manager *m, const struct cgroup_manager_options *o, korch_error **err)
{
	struct v1_mount mounts[CG_N_CONTROLLERS] = { 0 };
	int r = find_v1_mounts(o->mountinfo ? o->mountinfo : "/proc/self/mountinfo", mounts, err);
	for (int c = 0; r == 0 && c < CG_N_CONTROLLERS; c++) {
		if (!mounts[c].mountpoint) {
			if (c == CG_CPUSET)
				continue;
			r = error_set(err, KORCH_EUNSUPPORTED,
				      "cgroup v1 controller %s is not mounted (korch needs cpu, "
				      "cpuacct, memory, pids, devices and freezer)",
				      cgroup_v1_controller_names[c]);
			break;
		}
		_cleanup_free_ char *own = NULL, *rel = NULL;
		const char *path = o->parent_path;
		if (!path) {
			r = own_cgroup_path(o->proc_cgroup ? o->proc_cgroup : "/proc/self/cgroup",
					    cgroup_v1_controller_names[c], &own, err);
			if (r < 0)
				break;
			/* A mount of a subtree shows paths relative to its root. */
			const char *mr = mounts[c].mount_root;
			const char *rest = streq(mr, "/") ? own : startswith(own, mr);
			if (!rest || (*rest && *rest != '/')) {
				r = error_set(err, KORCH_EUNSUPPORTED,
					      "cgroup %s of controller %s is outside its mount %s",
					      own, cgroup_v1_controller_names[c],
					      mounts[c].mountpoint);
				break;
			}
			if (asprintf(&rel, "%s/korch-%s", rest, m->instance) < 0) {
				r = error_oom(err);
				break;
			}
			path = rel;
		}
		m->v1_mount[c] = steal_pointer(&mounts[c].mountpoint);
		m->v1_parent[c] = join_path(m->v1_mount[c], path);
		if (!m->v1_parent[c]) {
			r = error_oom(err);
			break;
		}
		if (c == CG_MEMORY) {
			m->parent_path = strdup(path);
			if (!m->parent_path) {
				r = error_oom(err);
				break;
			}
		}
		r = cg_mkdir_p(m->v1_mount[c], m->v1_parent[c], c == CG_CPUSET, err);
	}
	for (int c = 0; c < CG_N_CONTROLLERS; c++) {
		free(mounts[c].mountpoint);
		free(mounts[c].mount_root);
	}
	return r;
}

static char *
dirname_dup(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Writes "+cpu +memory +pids [+cpuset]" to dir/cgroup.subtree_control. */
static int
v2_enable_controllers(const struct cgroup_manager *m, const char *dir, korch_error **err)
{
	int r = cg_write(dir, "cgroup.subtree_control",
			 m->v2_has_cpuset ? "+cpuset +cpu +memory +pids" : "+cpu +memory +pids",
			 err);
	if (r < 0 && err && *err && korch_error_errno(*err) == EBUSY)
		korch_error_prefix(
			err, r,
			"enable controllers (another process lives in %s: run korch in a "
			"cgroup of its own or pass --cgroup-parent)",
			dir);
	return r;
}

/*
 * v2: the parent is korch-INSTANCE beside this process's leaf. Inner cgroups may hold no
 * processes, so this process moves into korch-INSTANCE.self first (unless it already lives in a
 * leaf of that name, e.g. a child of a korch process that moved) and the controllers are enabled
 * from the root down to the parent.
 */
static int
open_v2(struct cgroup_manager *m, const struct cgroup_manager_options *o, korch_error **err)
{
	_cleanup_free_ char *controllers = NULL;
	int r = cg_read(m->root, "cgroup.controllers", &controllers, err);
	if (r < 0)
		return r;
	static const char *const needed[] = { "cpu", "memory", "pids" };
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		bool found = false;
		_cleanup_free_ char *copy = strdup(controllers);
		if (!copy)
			return error_oom(err);
		char *save = NULL;
		for (char *t = strtok_r(copy, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
			if (streq(t, needed[i]))
				found = true;
			if (streq(t, "cpuset"))
				m->v2_has_cpuset = true;
		}
		if (!found)
			return error_set(
				err, KORCH_EUNSUPPORTED,
				"cgroup v2 controller %s is not available in %s/cgroup.controllers",
				needed[i], m->root);
	}

	_cleanup_free_ char *own = NULL, *leaf_name = NULL, *base = NULL;
	r = own_cgroup_path(o->proc_cgroup ? o->proc_cgroup : "/proc/self/cgroup", NULL, &own, err);
	if (r < 0)
		return r;
	if (asprintf(&leaf_name, "korch-%s.self", m->instance) < 0)
		return error_oom(err);
	const char *last = strrchr(own, '/');
	bool in_leaf = last && streq(last + 1, leaf_name);
	base = in_leaf ? dirname_dup(own) : strdup(own);
	if (!base)
		return error_oom(err);

	if (o->parent_path)
		m->parent_path = strdup(o->parent_path);
	else if (asprintf(&m->parent_path, "%s/korch-%s", streq(base, "/") ? "" : base,
			  m->instance) < 0)
		m->parent_path = NULL;
	if (!m->parent_path)
		return error_oom(err);

	/* Move out of an inner cgroup: our cgroup must be an ancestor of the parent and not the
	 * root (where processes may stay). */
	size_t bl = strlen(base);
	bool ancestor = streq(base, "/") ? false
					 : strncmp(m->parent_path, base, bl) == 0 &&
						   m->parent_path[bl] == '/';
	if (!in_leaf && ancestor) {
		_cleanup_free_ char *basedir = join_path(m->root, base);
		if (!basedir)
			return error_oom(err);
		m->v2_leaf = join_path(basedir, leaf_name);
		if (!m->v2_leaf)
			return error_oom(err);
		if (mkdir(m->v2_leaf, 0755) < 0 && errno != EEXIST)
			return error_errno(err, errno, "mkdir %s", m->v2_leaf);
		r = cg_writef(m->v2_leaf, "cgroup.procs", err, "%d", (int)getpid());
		if (r < 0)
			return korch_error_prefix(err, r, "move korch into its own leaf cgroup");
	}

	m->v2_parent = join_path(m->root, m->parent_path);
	if (!m->v2_parent)
		return error_oom(err);
	r = cg_mkdir_p(m->root, m->v2_parent, false, err);
	if (r < 0)
		return r;
	/* Enable the controllers from the root down to the parent itself (pods below it). */
	_cleanup_free_ char *walk = strdup(m->v2_parent);
	if (!walk)
		return error_oom(err);
	size_t rl = strlen(m->root);
	for (char *s = walk + rl;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		r = v2_enable_controllers(m, walk[0] ? walk : "/", err);
		if (r < 0)
			return r;
		*s = saved;
		if (!saved)
			break;
	}
	return 0;
}

int
cgroup_manager_open(const struct cgroup_manager_options *o, struct cgroup_manager **ret,
		    korch_error **err)
{
	if (!o || !valid_name(o->instance, false))
		return error_set(err, KORCH_EINVALID,
				 "cgroup manager: invalid instance name \"%s\"",
				 o && o->instance ? o->instance : "");
	if (o->parent_path && (o->parent_path[0] != '/' || strstr(o->parent_path, "/..") ||
			       strstr(o->parent_path, "/./") || streq(o->parent_path, "/")))
		return error_set(err, KORCH_EINVALID,
				 "cgroup parent \"%s\" must be an absolute path below the root",
				 o->parent_path);
	_cleanup_(cgroup_manager_freep) struct cgroup_manager *m = calloc(1, sizeof(*m));
	if (!m)
		return error_oom(err);
	m->instance = strdup(o->instance);
	m->root = strdup(o->root ? o->root : "/sys/fs/cgroup");
	if (!m->instance || !m->root)
		return error_oom(err);

	if (o->force_mode) {
		m->mode = o->force_mode;
	} else {
		struct statfs sfs;
		if (statfs(m->root, &sfs) < 0)
			return error_errno(err, errno, "statfs %s", m->root);
		m->mode = sfs.f_type == CGROUP2_SUPER_MAGIC ? CGROUP_MODE_V2 : CGROUP_MODE_V1;
	}
	int r;
	if (m->mode == CGROUP_MODE_V2) {
		m->ops = &cgroup_backend_v2;
		r = open_v2(m, o, err);
	} else {
		m->ops = &cgroup_backend_v1;
		r = open_v1(m, o, err);
	}
	if (r < 0)
		return korch_error_prefix(err, r, "cgroups (%s)", m->ops->name);
	*ret = steal_pointer(&m);
	return 0;
}

enum cgroup_mode
cgroup_manager_mode(const struct cgroup_manager *m)
{
	return m->mode;
}

const char *
cgroup_manager_parent_dir(const struct cgroup_manager *m, const char *controller)
{
	if (m->mode == CGROUP_MODE_V2)
		return m->v2_parent;
	for (int c = 0; c < CG_N_CONTROLLERS; c++)
		if (streq(controller, cgroup_v1_controller_names[c]))
			return m->v1_parent[c];
	return NULL;
}

const char *
cgroup_manager_mount_dir(const struct cgroup_manager *m, const char *controller)
{
	if (m->mode == CGROUP_MODE_V2)
		return m->root;
	for (int c = 0; c < CG_N_CONTROLLERS; c++)
		if (streq(controller, cgroup_v1_controller_names[c]))
			return m->v1_mount[c];
	return NULL;
}

int
cgroup_manager_remove_parent(struct cgroup_manager *m, korch_error **err)
{
	if (m->mode == CGROUP_MODE_V2) {
		if (rmdir(m->v2_parent) < 0 && errno != ENOENT)
			return error_set(err, errno == EBUSY ? KORCH_EBUSY : KORCH_ESYSTEM,
					 "rmdir %s: %s", m->v2_parent, strerror(errno));
		if (m->v2_leaf && rmdir(m->v2_leaf) == 0) {
			free(m->v2_leaf);
			m->v2_leaf = NULL;
		}
		return 0;
	}
	for (int c = 0; c < CG_N_CONTROLLERS; c++) {
		if (!m->v1_parent[c])
			continue;
		if (rmdir(m->v1_parent[c]) < 0 && errno != ENOENT)
			return error_set(err, errno == EBUSY ? KORCH_EBUSY : KORCH_ESYSTEM,
					 "rmdir %s: %s", m->v1_parent[c], strerror(errno));
	}
	return 0;
}

/* ---- cgroups ---- */

void
cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	for (int c = 0; c < CG_N_CONTROLLERS; c++)
		free(cg->dirs[c]);
	free(cg->dir);
	free(cg->path);
	free(cg);
}

static int
cgroup_new(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
	   struct cgroup **ret, korch_error **err)
{
	if (!valid_name(name, true))
		return error_set(err, KORCH_EINVALID, "invalid cgroup name \"%s\"",
				 name ? name : "");
	if (parent && parent->m != m)
		return error_set(err, KORCH_EINVALID, "cgroup %s: parent of another manager", name);
	_cleanup_(cgroup_freep) struct cgroup *cg = calloc(1, sizeof(*cg));
	if (!cg)
		return error_oom(err);
	cg->m = m;
	if (asprintf(&cg->path, "%s/%s", parent ? parent->path : m->parent_path, name) < 0) {
		cg->path = NULL;
		return error_oom(err);
	}
	if (m->mode == CGROUP_MODE_V2) {
		cg->dir = join_path(parent ? parent->dir : m->v2_parent, name);
		if (!cg->dir)
			return error_oom(err);
	} else {
		for (int c = 0; c < CG_N_CONTROLLERS; c++) {
			const char *pd = parent ? parent->dirs[c] : m->v1_parent[c];
			if (!pd)
				continue;
			cg->dirs[c] = join_path(pd, name);
			if (!cg->dirs[c])
				return error_oom(err);
		}
	}
	*ret = steal_pointer(&cg);
	return 0;
}

static int
create(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
       const struct cgroup_limits *limits, bool leaf, struct cgroup **ret, korch_error **err)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	int r = cgroup_new(m, parent, name, &cg, err);
	if (r < 0)
		return r;
	if (m->mode == CGROUP_MODE_V2) {
		if (mkdir(cg->dir, 0755) < 0 && errno != EEXIST)
			return error_errno(err, errno, "create cgroup: mkdir %s", cg->dir);
		/* A pod cgroup (directly below the parent) distributes to its containers; a
		 * container cgroup stays a leaf, since it will hold processes. */
		if (!parent && !leaf)
			r = v2_enable_controllers(m, cg->dir, err);
	} else {
		for (int c = 0; r == 0 && c < CG_N_CONTROLLERS; c++) {
			if (!cg->dirs[c])
				continue;
			if (mkdir(cg->dirs[c], 0755) < 0 && errno != EEXIST)
				r = error_errno(err, errno, "create cgroup: mkdir %s", cg->dirs[c]);
			else if (c == CG_CPUSET)
				r = cpuset_inherit(cg->dirs[c], err);
		}
	}
	if (r == 0 && limits)
		r = m->ops->apply_limits(cg, limits, false, err);
	if (r < 0) {
		cgroup_destroy(cg, NULL);
		return korch_error_prefix(err, r, "create cgroup %s", cg->path);
	}
	*ret = steal_pointer(&cg);
	return 0;
}

int
cgroup_create(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
	      const struct cgroup_limits *limits, struct cgroup **ret, korch_error **err)
{
	return create(m, parent, name, limits, false, ret, err);
}

int
cgroup_create_leaf(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
		   const struct cgroup_limits *limits, struct cgroup **ret, korch_error **err)
{
	return create(m, parent, name, limits, true, ret, err);
}

/* rmdir that tells "still in use" (EBUSY, ENOTEMPTY) from failure; gone already is removed. */
static int
rmdir_if_unused(const char *dir, bool *removed, korch_error **err)
{
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	if (errno == EBUSY || errno == ENOTEMPTY) {
		*removed = false;
		return 0;
	}
	return error_errno(err, errno, "rmdir %s", dir);
}

int
cgroup_remove_if_unused(struct cgroup *cg, bool *ret_removed, korch_error **err)
{
	bool removed = true;
	int r = 0;
	if (cg->m->mode == CGROUP_MODE_V2)
		r = rmdir_if_unused(cg->dir, &removed, err);
	else
		for (int c = 0; r == 0 && removed && c < CG_N_CONTROLLERS; c++)
			if (cg->dirs[c])
				r = rmdir_if_unused(cg->dirs[c], &removed, err);
	if (r < 0)
		return korch_error_prefix(err, r, "remove cgroup %s", cg->path);
	*ret_removed = removed;
	return 0;
}

int
cgroup_open(struct cgroup_manager *m, const struct cgroup *parent, const char *name,
	    struct cgroup **ret, korch_error **err)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	int r = cgroup_new(m, parent, name, &cg, err);
	if (r < 0)
		return r;
	const char *probe = m->mode == CGROUP_MODE_V2 ? cg->dir : cg->dirs[CG_MEMORY];
	struct stat st;
	if (stat(probe, &st) < 0)
		return errno == ENOENT ? error_set(err, KORCH_ENOTFOUND, "cgroup %s does not exist",
						   cg->path)
				       : error_errno(err, errno, "stat %s", probe);
	*ret = steal_pointer(&cg);
	return 0;
}

const char *
cgroup_path(const struct cgroup *cg)
{
	return cg->path;
}

const char *
cgroup_dir(const struct cgroup *cg, const char *controller)
{
	if (cg->m->mode == CGROUP_MODE_V2)
		return cg->dir;
	for (int c = 0; c < CG_N_CONTROLLERS; c++)
		if (streq(controller, cgroup_v1_controller_names[c]))
			return cg->dirs[c];
	return NULL;
}

int
cgroup_attach(struct cgroup *cg, pid_t pid, korch_error **err)
{
	if (pid <= 0)
		return error_set(err, KORCH_EINVALID, "attach to cgroup %s: invalid pid %d",
				 cg->path, (int)pid);
	int r = cg->m->ops->attach(cg, pid, err);
	return r < 0 ? korch_error_prefix(err, r, "attach pid %d to cgroup %s", (int)pid, cg->path)
		     : 0;
}

int
cgroup_enter_self(const struct cgroup *cg, korch_error **err)
{
	int r = 0;
	if (cg->m->mode == CGROUP_MODE_V2)
		r = cg_write(cg->dir, "cgroup.procs", "0", err);
	for (int c = 0; r == 0 && cg->m->mode == CGROUP_MODE_V1 && c < CG_N_CONTROLLERS; c++)
		if (cg->dirs[c])
			r = cg_write(cg->dirs[c], "tasks", "0", err);
	return r < 0 ? korch_error_prefix(err, r, "enter cgroup %s", cg->path) : 0;
}

int
cgroup_open_dir_fd(const struct cgroup *cg, int *ret_fd, korch_error **err)
{
	if (cg->m->mode != CGROUP_MODE_V2)
		return error_set(
			err, KORCH_EUNSUPPORTED,
			"CLONE_INTO_CGROUP needs cgroup v2 (this is v1: use cgroup_attach)");
	int fd = open(cg->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open %s", cg->dir);
	*ret_fd = fd;
	return 0;
}

int
cgroup_update(struct cgroup *cg, const struct cgroup_limits *limits, korch_error **err)
{
	int r = cg->m->ops->apply_limits(cg, limits, true, err);
	return r < 0 ? korch_error_prefix(err, r, "update cgroup %s", cg->path) : 0;
}

int
cgroup_read_stats(struct cgroup *cg, struct cgroup_stats *ret, korch_error **err)
{
	struct cgroup_stats s = { 0 };
	int r = cg->m->ops->read_stats(cg, &s, err);
	if (r < 0)
		return korch_error_prefix(err, r, "stats of cgroup %s", cg->path);
	*ret = s;
	return 0;
}

int
cgroup_oom_kills(struct cgroup *cg, uint64_t *ret, korch_error **err)
{
	int r = cg->m->ops->oom_kills(cg, ret, err);
	return r < 0 ? korch_error_prefix(err, r, "OOM count of cgroup %s", cg->path) : 0;
}

int
cgroup_oom_watch(struct cgroup *cg, int *ret_fd, korch_error **err)
{
	int r = cg->m->ops->oom_watch(cg, ret_fd, err);
	return r < 0 ? korch_error_prefix(err, r, "watch OOM of cgroup %s", cg->path) : 0;
}

void
cgroup_oom_drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
cgroup_kill(struct cgroup *cg, korch_error **err)
{
	int r = cg->m->ops->kill(cg, err);
	return r < 0 ? korch_error_prefix(err, r, "kill cgroup %s", cg->path) : 0;
}

int
cgroup_destroy(struct cgroup *cg, korch_error **err)
{
	int r = cg->m->ops->kill(cg, err);
	if (r < 0)
		return korch_error_prefix(err, r, "destroy cgroup %s", cg->path);
	if (cg->m->mode == CGROUP_MODE_V2) {
		r = cg_rmdir_children(cg->dir, err);
		if (r == 0)
			r = cg_rmdir_retry(cg->dir, err);
	} else {
		for (int c = 0; r == 0 && c < CG_N_CONTROLLERS; c++) {
			if (!cg->dirs[c])
				continue;
			r = cg_rmdir_children(cg->dirs[c], err);
			if (r == 0)
				r = cg_rmdir_retry(cg->dirs[c], err);
		}
	}
	if (r < 0)
		return korch_error_prefix(err, r, "destroy cgroup %s", cg->path);
	return 0;
}

int
cgroup_set_devices(struct cgroup *cg, enum cgroup_devices policy, korch_error **err)
{
	if (policy != CGROUP_DEVICES_DEFAULT && policy != CGROUP_DEVICES_ALL)
		return error_set(err, KORCH_EINVALID, "cgroup %s: unknown device policy %d",
				 cg->path, (int)policy);
	int r = cg->m->ops->set_devices(cg, policy, err);
	return r < 0 ? korch_error_prefix(err, r, "device rules of cgroup %s", cg->path) : 0;
}
