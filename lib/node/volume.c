/*
 * volume.c - a pod's volumes on the node: emptyDir (a directory, or tmpfs for medium Memory
 * with its sizeLimit), hostPath with its type checks, configMap, secret (on tmpfs), downwardAPI
 * and projected volumes written the way the kubelet's AtomicWriter writes them (files in a
 * timestamped directory, "..data" pointing at it, one symlink per top-level name, so that an
 * update swaps all files at once and is seen inside running containers), and
 * persistentVolumeClaim as the directory of the bound PersistentVolume (hostPath or local).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "node/node-internal.h"

/* One file a projection writes. */
struct vfile {
	char *path; /* relative to the volume */
	char *data; /* content */
	size_t len; /* bytes of data */
	int mode;   /* permission bits */
};

struct vfiles {
	struct vfile *v; /* n entries */
	size_t n, cap;
};

static void
vfiles_clear(struct vfiles *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].data);
	}
	free(f->v);
	*f = (struct vfiles){ 0 };
}

static int
vfiles_add(struct vfiles *f, const char *path, char *data, size_t len, int mode)
{
	struct vfile *e = VEC_PUSH(f->v, f->n, f->cap);
	if (!e) {
		free(data);
		return KORCH_ENOMEM;
	}
	e->path = strdup(path);
	e->data = data;
	e->len = len;
	e->mode = mode;
	return e->path ? 0 : KORCH_ENOMEM;
}

static const char *
vol_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static char *
b64_decode(const char *s, size_t *ret_len)
{
	size_t in = strlen(s);
	size_t len = BASE64_DECODE_LENGTH(in);
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	struct base64_decode_ctx ctx;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &len, (uint8_t *)out, in, s) ||
	    !base64_decode_final(&ctx)) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	*ret_len = len;
	return out;
}

static char *
dup_bytes(const char *s, size_t *ret_len)
{
	*ret_len = strlen(s);
	return strdup(s);
}

/* A ConfigMap's or a Secret's keys as files: all, or the items listed. */
static int
project_keyed(struct apod *p, const json_t *src, bool secret, int default_mode,
	      const char *vol_name, struct vfiles *out, korch_error **err)
{
	struct node_agent *a = p->agent;
	const char *name = vol_str(src, secret ? "secretName" : "name") ?: vol_str(src, "name");
	bool optional = json_is_true(json_object_get(src, "optional"));
	const json_t *obj = informer_get(secret ? a->secrets : a->configmaps, p->ns, name ?: "");
	if (!obj) {
		if (optional)
			return 0;
		return error_set(err, KORCH_ENOTFOUND,
				 "MountVolume.SetUp failed for volume \"%s\" : %s \"%s\" not found",
				 vol_name, secret ? "secret" : "configmap", name ?: "");
	}
	const json_t *data = json_object_get(obj, "data");
	const json_t *binary = secret ? NULL : json_object_get(obj, "binaryData");
	const json_t *items = json_object_get(src, "items");
	if (json_array_size(items)) {
		size_t i;
		json_t *it;
		json_array_foreach (items, i, it) {
			const char *key = vol_str(it, "key") ?: "";
			const char *path = vol_str(it, "path") ?: key;
			const char *v = vol_str(data, key);
			size_t len = 0;
			char *bytes = NULL;
			if (v)
				bytes = secret ? b64_decode(v, &len) : dup_bytes(v, &len);
			else if (vol_str(binary, key))
				bytes = b64_decode(vol_str(binary, key), &len);
			else if (optional)
				continue;
			else
				return error_set(err, KORCH_ENOTFOUND,
						 "MountVolume.SetUp failed for volume \"%s\" : %s "
						 "references non-existent %s key: %s",
						 vol_name, secret ? "secret" : "configmap",
						 secret ? "secret" : "config", key);
			if (!bytes)
				return error_oom(err);
			json_t *m = json_object_get(it, "mode");
			if (vfiles_add(out, path, bytes, len,
				       json_is_integer(m) ? (int)json_integer_value(m)
							  : default_mode) < 0)
				return error_oom(err);
		}
		return 0;
	}
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)data, k, v) {
		size_t len = 0;
		char *bytes = secret ? b64_decode(json_string_value(v) ?: "", &len)
				     : dup_bytes(json_string_value(v) ?: "", &len);
		if (!bytes || vfiles_add(out, k, bytes, len, default_mode) < 0)
			return error_oom(err);
	}
	json_object_foreach ((json_t *)binary, k, v) {
		size_t len = 0;
		char *bytes = b64_decode(json_string_value(v) ?: "", &len);
		if (!bytes || vfiles_add(out, k, bytes, len, default_mode) < 0)
			return error_oom(err);
	}
	return 0;
}

static int
project_downward(struct apod *p, const json_t *src, int default_mode, struct vfiles *out,
		 korch_error **err)
{
	size_t i;
	json_t *it;
	json_array_foreach (json_object_get(src, "items"), i, it) {
		const char *path = vol_str(it, "path") ?: "";
		char *val = NULL;
		int r;
		const json_t *ref;
		if ((ref = json_object_get(it, "fieldRef")))
			r = pod_field_value(p, vol_str(ref, "fieldPath") ?: "", &val, err);
		else if ((ref = json_object_get(it, "resourceFieldRef")))
			r = ctr_resource_value(p, vol_str(ref, "containerName") ?: "",
					       vol_str(ref, "resource") ?: "",
					       json_object_get(ref, "divisor"), &val, err);
		else
			continue;
		if (r < 0)
			return r;
		json_t *m = json_object_get(it, "mode");
		if (vfiles_add(out, path, val, strlen(val),
			       json_is_integer(m) ? (int)json_integer_value(m) : default_mode) < 0)
			return error_oom(err);
	}
	return 0;
}

/*
 * A serviceAccountToken source: a token bound to the pod from the client's token issuer
 * (client_token_request), kept in the volume's state and requested again at 80 % of its
 * lifetime, as the kubelet's token manager does; the pod is woken then to write it. Without an
 * issuer (a store used without korchd's API server) the file stays absent, said once per pod.
 */
static int
project_token(struct apod *p, const char *vol_name, const json_t *src, int mode, const json_t *prev,
	      json_t *state, struct vfiles *out, korch_error **err)
{
	struct node_agent *a = p->agent;
	if (!client_token_signer(a->client)) {
		if (!p->token_absence_logged)
			log_info("node",
				 "pod %s/%s: volume %s: no ServiceAccount token issuer; the token "
				 "file is absent",
				 p->ns, p->name, vol_name);
		p->token_absence_logged = true;
		return 0;
	}
	const char *path = vol_str(src, "path") ?: "token";
	json_t *e = json_object_get(src, "expirationSeconds");
	int64_t exp = json_is_integer(e) ? json_integer_value(e) : 3600;
	const json_t *cached = json_object_get(json_object_get(prev, "tokens"), path);
	const char *token = vol_str(cached, "token");
	int64_t refresh = json_integer_value(json_object_get(cached, "refresh"));
	_cleanup_json_ json_t *resp = NULL;
	if (!token || agent_now(a) >= refresh) {
		const char *sa = vol_str(json_object_get(p->obj, "spec"), "serviceAccountName");
		const char *uid = vol_str(json_object_get(p->obj, "metadata"), "uid");
		const char *aud = vol_str(src, "audience");
		_cleanup_json_ json_t *req =
			json_pack("{s:s, s:s, s:{s:I, s:{s:s, s:s, s:s, s:s}}}", "apiVersion",
				  "authentication.k8s.io/v1", "kind", "TokenRequest", "spec",
				  "expirationSeconds", (json_int_t)exp, "boundObjectRef", "kind",
				  "Pod", "apiVersion", "v1", "name", p->name, "uid", uid ?: "");
		if (!req)
			return error_oom(err);
		if (aud && *aud)
			json_object_set_new(json_object_get(req, "spec"), "audiences",
					    json_pack("[s]", aud));
		int r = client_token_request(a->client, p->ns, sa ?: "default", req, &resp, err);
		if (r < 0)
			return korch_error_prefix(err, r, "serviceAccountToken for %s",
						  sa ?: "default");
		token = vol_str(json_object_get(resp, "status"), "token");
		if (!token)
			return error_set(err, KORCH_EPROTO, "TokenRequest gave no token");
		refresh = agent_now(a) + exp * NSEC_PER_SEC / 10 * 8;
	}
	json_t *tokens = json_object_get(state, "tokens");
	if (!tokens &&
	    (!(tokens = json_object()) || json_object_set_new(state, "tokens", tokens) < 0))
		return error_oom(err);
	char *bytes = strdup(token);
	if (!bytes || vfiles_add(out, path, bytes, strlen(token), mode) < 0 ||
	    json_object_set_new(
		    tokens, path,
		    json_pack("{s:s, s:I}", "token", token, "refresh", (json_int_t)refresh)) < 0)
		return error_oom(err);
	pod_wake_at(p, refresh);
	return 0;
}

static int
project(struct apod *p, const char *vol_name, const json_t *src, const json_t *prev, json_t *state,
	struct vfiles *out, korch_error **err)
{
	json_t *dm = json_object_get(src, "defaultMode");
	int mode = json_is_integer(dm) ? (int)json_integer_value(dm) : 0644;
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(src, "sources"), i, s) {
		int r = 0;
		const json_t *x;
		if ((x = json_object_get(s, "configMap")))
			r = project_keyed(p, x, false, mode, vol_name, out, err);
		else if ((x = json_object_get(s, "secret")))
			r = project_keyed(p, x, true, mode, vol_name, out, err);
		else if ((x = json_object_get(s, "downwardAPI")))
			r = project_downward(p, x, mode, out, err);
		else if ((x = json_object_get(s, "serviceAccountToken")))
			r = project_token(p, vol_name, x, mode, prev, state, out, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- the atomic writer --- */

static void
digest_of(const struct vfiles *f, char out[65])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	for (size_t i = 0; i < f->n; i++) {
		char mode[16];
		int n = snprintf(mode, sizeof(mode), "\n%o\n", f->v[i].mode);
		sha256_update(&ctx, strlen(f->v[i].path) + 1, (const uint8_t *)f->v[i].path);
		sha256_update(&ctx, (size_t)n, (const uint8_t *)mode);
		sha256_update(&ctx, f->v[i].len, (const uint8_t *)f->v[i].data);
	}
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_digest(&ctx, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int
write_bytes(const char *path, const char *data, size_t len, int mode, korch_error **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_errno(err, errno, "create %s", path);
	int r = write_all(fd, data, len);
	if (r == 0 && fchmod(fd, (mode_t)mode & 07777) < 0)
		r = -errno;
	close(fd);
	return r < 0 ? error_errno(err, r, "write %s", path) : 0;
}

/* Top-level names of the files (the symlinks the writer keeps in the volume). */
static bool
has_top(const struct vfiles *f, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < f->n; i++)
		if (strncmp(f->v[i].path, name, n) == 0 &&
		    (f->v[i].path[n] == '\0' || f->v[i].path[n] == '/'))
			return true;
	return false;
}

static bool
safe_rel_path(const char *p)
{
	return *p && p[0] != '/' && strcmp(p, "..") != 0 && !startswith(p, "../") &&
	       !strstr(p, "/../") && !endswith(p, "/..") && !startswith(p, "..");
}

/*
 * Writes files into dir atomically: a new ..TIMESTAMP directory, ..data swapped to it by a
 * rename, symlinks for the top-level names, the old directory removed.
 */
static int
atomic_write(struct node_agent *a, const char *dir, const struct vfiles *f, korch_error **err)
{
	int r = mkdir_p(dir, 0755, err);
	if (r < 0)
		return r;
	char stamp[64];
	int64_t wall = agent_wall(a);
	time_t secs = (time_t)(wall / NSEC_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	static unsigned seq;
	snprintf(stamp, sizeof(stamp), "..%04d_%02d_%02d_%02d_%02d_%02d.%09lld%u",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long long)(wall % NSEC_PER_SEC), seq++ % 1000);
	_cleanup_free_ char *ts_dir = NULL, *data_link = NULL, *tmp_link = NULL;
	if (asprintf(&ts_dir, "%s/%s", dir, stamp) < 0 ||
	    asprintf(&data_link, "%s/..data", dir) < 0 ||
	    asprintf(&tmp_link, "%s/..data_tmp", dir) < 0)
		return error_oom(err);
	if (mkdir(ts_dir, 0755) < 0)
		return error_errno(err, errno, "create %s", ts_dir);
	for (size_t i = 0; i < f->n; i++) {
		if (!safe_rel_path(f->v[i].path)) {
			rm_rf(ts_dir, NULL);
			return error_set(err, KORCH_EINVALID, "invalid file path \"%s\"",
					 f->v[i].path);
		}
		_cleanup_free_ char *file = NULL;
		if (asprintf(&file, "%s/%s", ts_dir, f->v[i].path) < 0)
			return error_oom(err);
		char *slash = strrchr(file, '/');
		*slash = '\0';
		if ((r = mkdir_p(file, 0755, err)) < 0) {
			rm_rf(ts_dir, NULL);
			return r;
		}
		*slash = '/';
		if ((r = write_bytes(file, f->v[i].data, f->v[i].len, f->v[i].mode, err)) < 0) {
			rm_rf(ts_dir, NULL);
			return r;
		}
	}
	char old_target[PATH_MAX];
	ssize_t ol = readlink(data_link, old_target, sizeof(old_target) - 1);
	if (ol >= 0)
		old_target[ol] = '\0';
	unlink(tmp_link);
	if (symlink(stamp, tmp_link) < 0 || rename(tmp_link, data_link) < 0) {
		r = error_errno(err, errno, "swap %s", data_link);
		rm_rf(ts_dir, NULL);
		return r;
	}
	/* The user-visible names: one symlink per top-level entry, stale ones removed. */
	for (size_t i = 0; i < f->n; i++) {
		char top[NAME_MAX + 1];
		size_t n = strcspn(f->v[i].path, "/");
		snprintf(top, sizeof(top), "%.*s", (int)MIN(n, sizeof(top) - 1), f->v[i].path);
		_cleanup_free_ char *link = NULL, *target = NULL;
		if (asprintf(&link, "%s/%s", dir, top) < 0 ||
		    asprintf(&target, "..data/%s", top) < 0)
			return error_oom(err);
		struct stat st;
		if (lstat(link, &st) == 0)
			continue;
		if (symlink(target, link) < 0 && errno != EEXIST)
			return error_errno(err, errno, "link %s", link);
	}
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (!has_top(f, de->d_name)) {
				_cleanup_free_ char *link = NULL;
				if (asprintf(&link, "%s/%s", dir, de->d_name) >= 0)
					unlink(link);
			}
		}
		closedir(d);
	}
	if (ol > 0 && strcmp(old_target, stamp) != 0) {
		_cleanup_free_ char *old = NULL;
		if (asprintf(&old, "%s/%s", dir, old_target) >= 0)
			rm_rf(old, NULL);
	}
	return 0;
}

/* --- mounts on the host --- */

static bool
is_mount_point(const char *path)
{
	struct stat st, parent;
	_cleanup_free_ char *up = NULL;
	if (stat(path, &st) < 0 || asprintf(&up, "%s/..", path) < 0 || stat(up, &parent) < 0)
		return false;
	return st.st_dev != parent.st_dev;
}

static int
mount_tmpfs(const char *dir, int64_t size, korch_error **err)
{
	int r = mkdir_p(dir, 0755, err);
	if (r < 0)
		return r;
	if (is_mount_point(dir))
		return 0;
	char opts[64] = "mode=0755";
	if (size > 0)
		snprintf(opts, sizeof(opts), "mode=0755,size=%lld", (long long)size);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return error_errno(err, errno, "mount tmpfs on %s", dir);
	return 0;
}

/*
 * Unmounts every mount at or below dir, deepest first. With empty_tmpfs, the tmpfs mounts korch
 * made there are emptied first: their memory comes back at once, even while a container's
 * mount namespace still on its way out holds the mount.
 */
static void
unmount_below(const char *dir, bool empty_tmpfs)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	struct ptrvec found = PTRVEC_INIT;
	char line[4096];
	size_t dlen = strlen(dir);
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint ... */
		/* A whole tmpfs (root "/", not a bind of part of one): only korch mounts those here. */
		const char *sep = strstr(line, " - ");
		bool tmpfs = sep && startswith(sep, " - tmpfs ");
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 3; i++)
			tok = strtok_r(NULL, " ", &save);
		tmpfs = tmpfs && tok && streq(tok, "/");
		tok = strtok_r(NULL, " ", &save);
		if (!tok || strncmp(tok, dir, dlen) != 0 || (tok[dlen] != '/' && tok[dlen] != '\0'))
			continue;
		if (empty_tmpfs && tmpfs) {
			_cleanup_error_ korch_error *err = NULL;
			if (rm_rf_contents(tok, &err) < 0)
				log_warn("node", "empty %s: %s", tok, korch_error_message(err));
		}
		ptrvec_push(&found, strdup(tok));
	}
	fclose(f);
	for (size_t i = found.n; i > 0; i--) {
		if (found.items[i - 1] && umount2(found.items[i - 1], MNT_DETACH) < 0)
			log_warn("node", "unmount %s: %s", (char *)found.items[i - 1],
				 strerror(errno));
	}
	ptrvec_free(&found, free);
}

int
volumes_teardown(struct node_agent *a, const char *uid, korch_error **err)
{
	_cleanup_free_ char *dir = pod_dir(a, uid);
	if (!dir)
		return error_oom(err);
	unmount_below(dir, false);
	return rm_rf(dir, err);
}

int
volumes_release(struct apod *p, korch_error **err)
{
	_cleanup_free_ char *dir = pod_dir(p->agent, p->uid);
	_cleanup_free_ char *vols = NULL;
	if (!dir || asprintf(&vols, "%s/volumes", dir) < 0)
		return error_oom(err);
	unmount_below(vols, true);
	json_decref(p->volume_state);
	p->volume_state = NULL;
	p->volumes_released = true;
	return rm_rf(vols, err);
}

/* --- the volumes of a pod --- */

static const json_t *
find_volume(struct apod *p, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach (p->spec->volumes, i, v)
		if (streq(vol_str(v, "name"), name))
			return v;
	return NULL;
}

static char *
plugin_dir(struct apod *p, const char *plugin, const char *name)
{
	_cleanup_free_ char *dir = pod_dir(p->agent, p->uid);
	char *s = NULL;
	if (!dir || asprintf(&s, "%s/volumes/kubernetes.io~%s/%s", dir, plugin, name) < 0)
		return NULL;
	return s;
}

/* hostPath's type checks: messages as the kubelet writes them. */
static int
host_path_check(const char *vol, const char *path, const char *type, korch_error **err)
{
	struct stat st;
	bool exists = stat(path, &st) == 0;
	const char *want = NULL;
	if (!type || !*type)
		return 0;
	if (streq(type, "DirectoryOrCreate")) {
		if (!exists)
			return mkdir_p(path, 0755, err);
		want = S_ISDIR(st.st_mode) ? NULL : "a directory";
	} else if (streq(type, "FileOrCreate")) {
		if (!exists) {
			int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				return error_errno(err, errno,
						   "MountVolume.SetUp failed for volume \"%s\" : "
						   "create %s",
						   vol, path);
			close(fd);
			return 0;
		}
		want = S_ISREG(st.st_mode) ? NULL : "a file";
	} else if (streq(type, "Directory")) {
		want = exists && S_ISDIR(st.st_mode) ? NULL : "a directory";
	} else if (streq(type, "File")) {
		want = exists && S_ISREG(st.st_mode) ? NULL : "a file";
	} else if (streq(type, "Socket")) {
		want = exists && S_ISSOCK(st.st_mode) ? NULL : "a socket file";
	} else if (streq(type, "CharDevice")) {
		want = exists && S_ISCHR(st.st_mode) ? NULL : "a character device";
	} else if (streq(type, "BlockDevice")) {
		want = exists && S_ISBLK(st.st_mode) ? NULL : "a block device";
	} else {
		return error_set(err, KORCH_EINVALID, "hostPath type \"%s\" is not valid", type);
	}
	if (want)
		return error_set(err, KORCH_EINVALID,
				 "MountVolume.SetUp failed for volume \"%s\" : hostPath type check "
				 "failed: %s is not %s",
				 vol, path, want);
	return 0;
}

/* The directory of the PersistentVolume a claim is bound to. */
static int
pvc_path(struct apod *p, const char *vol, const json_t *src, char **ret, bool *ret_ro,
	 korch_error **err)
{
	struct node_agent *a = p->agent;
	const char *claim = vol_str(src, "claimName") ?: "";
	const json_t *pvc = informer_get(a->pvcs, p->ns, claim);
	if (!pvc)
		return error_set(err, KORCH_ENOTFOUND, "persistentvolumeclaim \"%s\" not found",
				 claim);
	const char *phase = vol_str(json_object_get(pvc, "status"), "phase");
	const char *pv_name = vol_str(json_object_get(pvc, "spec"), "volumeName");
	if (!streq(phase, "Bound") || !pv_name || !*pv_name)
		return error_set(err, KORCH_EINVALID,
				 "persistentvolumeclaim \"%s\" is not bound (phase %s): the pod "
				 "waits for a PersistentVolume",
				 claim, phase ? phase : "Pending");
	const json_t *pv = informer_get(a->pvs, NULL, pv_name);
	if (!pv)
		return error_set(
			err, KORCH_ENOTFOUND,
			"persistentvolumeclaim \"%s\" is bound to persistentvolume \"%s\", "
			"which does not exist",
			claim, pv_name);
	const json_t *spec = json_object_get(pv, "spec");
	const char *path = vol_str(json_object_get(spec, "hostPath"), "path");
	if (!path)
		path = vol_str(json_object_get(spec, "local"), "path");
	if (!path)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "MountVolume.SetUp failed for volume \"%s\" : persistentvolume "
				 "\"%s\" is not a hostPath or local volume, the kinds korch mounts",
				 vol, pv_name);
	if (vol_str(json_object_get(spec, "hostPath"), "type")) {
		int r = host_path_check(vol, path,
					vol_str(json_object_get(spec, "hostPath"), "type"), err);
		if (r < 0)
			return r;
	}
	if (!(*ret = strdup(path)))
		return error_oom(err);
	*ret_ro = json_is_true(json_object_get(src, "readOnly"));
	return 0;
}

/* Sets up one volume; state records its path and what was written. */
static int
volume_setup(struct apod *p, const json_t *vol, json_t *state, korch_error **err)
{
	struct node_agent *a = p->agent;
	const char *name = vol_str(vol, "name");
	json_t *prev = json_object_get(p->volume_state, name);
	const char *prev_digest = vol_str(prev, "digest");
	bool real = a->backend->ops->real;
	const json_t *src;
	_cleanup_free_ char *path = NULL;
	struct vfiles files = { 0 };
	int r = 0;
	bool ro = false;
	if ((src = json_object_get(vol, "emptyDir"))) {
		if (!(path = plugin_dir(p, "empty-dir", name)))
			return error_oom(err);
		if (!prev) {
			if (streq(vol_str(src, "medium"), "Memory") && real) {
				int64_t size = podspec_quantity(src, "sizeLimit", false);
				if (size <= 0 && p->spec->memory_limit > 0)
					size = p->spec->memory_limit;
				if ((r = mount_tmpfs(path, size, err)) < 0)
					return r;
				chmod(path, 0777);
			} else {
				if ((r = mkdir_p(path, 0777, err)) < 0)
					return r;
				chmod(path, 0777);
			}
			if (p->spec->fs_group >= 0 && real) {
				if (chown(path, (uid_t)-1, (gid_t)p->spec->fs_group) == 0)
					chmod(path, 02777);
			}
		}
	} else if ((src = json_object_get(vol, "hostPath"))) {
		const char *hp = vol_str(src, "path") ?: "";
		if ((r = host_path_check(name, hp, vol_str(src, "type"), err)) < 0)
			return r;
		if (!(path = strdup(hp)))
			return error_oom(err);
	} else if ((src = json_object_get(vol, "persistentVolumeClaim"))) {
		if ((r = pvc_path(p, name, src, &path, &ro, err)) < 0)
			return r;
	} else {
		const char *plugin = NULL;
		bool tmpfs = false;
		json_t *dm = NULL;
		if ((src = json_object_get(vol, "configMap"))) {
			plugin = "configmap";
			dm = json_object_get(src, "defaultMode");
			r = project_keyed(p, src, false,
					  json_is_integer(dm) ? (int)json_integer_value(dm) : 0644,
					  name, &files, err);
		} else if ((src = json_object_get(vol, "secret"))) {
			plugin = "secret";
			tmpfs = true;
			dm = json_object_get(src, "defaultMode");
			r = project_keyed(p, src, true,
					  json_is_integer(dm) ? (int)json_integer_value(dm) : 0644,
					  name, &files, err);
		} else if ((src = json_object_get(vol, "downwardAPI"))) {
			plugin = "downward-api";
			dm = json_object_get(src, "defaultMode");
			r = project_downward(
				p, src, json_is_integer(dm) ? (int)json_integer_value(dm) : 0644,
				&files, err);
		} else if ((src = json_object_get(vol, "projected"))) {
			plugin = "projected";
			tmpfs = true;
			r = project(p, name, src, prev, state, &files, err);
		} else {
			return error_set(err, KORCH_EUNSUPPORTED,
					 "volume \"%s\": korch has no plugin for its type", name);
		}
		if (r < 0) {
			vfiles_clear(&files);
			return r;
		}
		if (!(path = plugin_dir(p, plugin, name))) {
			vfiles_clear(&files);
			return error_oom(err);
		}
		char digest[65];
		digest_of(&files, digest);
		if (!prev_digest || strcmp(prev_digest, digest) != 0) {
			/* Secrets and projected tokens stay off the disk: tmpfs, as the kubelet. */
			if (tmpfs && real && (r = mount_tmpfs(path, 0, err)) < 0) {
				vfiles_clear(&files);
				return r;
			}
			r = atomic_write(a, path, &files, err);
			vfiles_clear(&files);
			if (r < 0)
				return korch_error_prefix(
					err, r, "MountVolume.SetUp failed for volume \"%s\"", name);
		} else {
			vfiles_clear(&files);
		}
		json_object_set_new(state, "digest", json_string(digest));
	}
	json_object_set_new(state, "path", json_string(path));
	if (ro)
		json_object_set_new(state, "readOnly", json_true());
	return 0;
}

int
volumes_setup(struct apod *p, korch_error **err)
{
	if (!json_array_size(p->spec->volumes)) {
		p->volumes_ready = true;
		return 0;
	}
	if (!p->volume_state && !(p->volume_state = json_object()))
		return error_oom(err);
	size_t i;
	json_t *v;
	int first_err = 0;
	json_array_foreach (p->spec->volumes, i, v) {
		const char *name = vol_str(v, "name");
		if (!name)
			continue;
		json_t *state = json_object();
		if (!state)
			return error_oom(err);
		int r = volume_setup(p, v, state, first_err ? NULL : err);
		if (r < 0) {
			json_decref(state);
			/* A volume that worked before keeps serving running containers. */
			if (!first_err)
				first_err = r;
			continue;
		}
		json_object_set_new(p->volume_state, name, state);
	}
	p->volumes_ready = first_err == 0;
	return first_err;
}

char *
volume_host_path(struct apod *p, const char *name)
{
	const char *path = vol_str(json_object_get(p->volume_state, name), "path");
	if (!path && !find_volume(p, name))
		return NULL;
	return path ? strdup(path) : NULL;
}

bool
volume_read_only(struct apod *p, const char *name)
{
	return json_is_true(json_object_get(json_object_get(p->volume_state, name), "readOnly"));
}

bool
volumes_use(struct apod *p, const char *kind, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach (p->spec->volumes, i, v) {
		const json_t *s = json_object_get(v, kind);
		if (s && streq(vol_str(s, streq(kind, "secret") ? "secretName" : "name"), name))
			return true;
	}
	return false;
}
