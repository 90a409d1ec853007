/*
 * image_unpack.c - one layer tar into a directory of its own, ready as an overlayfs lower layer.
 *
 * OCI whiteouts become overlayfs ones: ".wh.NAME" a character device 0:0 named NAME,
 * ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its directory; other ".wh..wh." entries
 * (aufs bookkeeping) are dropped. Ownership (numeric ids, never looked up by name), modes,
 * xattrs, ACLs and mtimes are kept; file flags (chattr) are not, so that gc can always remove a
 * layer. Xattrs in the trusted.overlay. and user.overlay. namespaces coming from the tar are
 * dropped: only the unpacker decides what overlayfs sees as a whiteout, an opaque directory or
 * a redirect.
 *
 * Device nodes are left out (counted in the stats): every container gets its own /dev with the
 * standard devices, and a device node under DATA_DIR would open host hardware to anything that
 * walks the store, outside any device cgroup. FIFOs are kept.
 *
 * Nothing escapes the layer directory: absolute paths and ".." are refused by our own
 * normalisation, each entry's parents are checked not to be symbolic links before it is
 * written (and libarchive's ARCHIVE_EXTRACT_SECURE_SYMLINKS/NODOTDOT check again), hard links
 * must point at something already unpacked in the same layer, and symbolic links are written as
 * they are but never followed while unpacking.
 *
 * The diffID is checked on the same pass: a reader decompresses the blob (libarchive's raw
 * format with the decompression filters), hashes what comes out, and feeds it to the tar
 * reader. libarchive's disk writer reads the process umask with umask(2) when created, a
 * brief process-wide change that multi-threaded embedders should know of.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "runtime/image_internal.h"

#define LAYER_BUF_SIZE (256 * 1024)
#define OPAQUE_XATTR "trusted.overlay.opaque"

int
archive_path_normalize(const char *path, char **ret, korch_error **err)
{
	if (path[0] == '/')
		return error_set(err, KORCH_EINVALID, "absolute path refused");
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	for (const char *p = path;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return error_set(err, KORCH_EINVALID, "\"..\" component refused");
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (sb.len)
				strbuf_putc(&sb, '/');
			strbuf_append(&sb, p, n);
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	if (sb.oom)
		return error_oom(err);
	char *s = strbuf_steal(&sb);
	if (!s)
		return error_oom(err);
	*ret = s;
	return 0;
}

int
archive_read_add_filters(struct archive *a, korch_error **err)
{
	static const struct {
		const char *name;
		int (*add)(struct archive *);
	} filters[] = {
		{ "gzip", archive_read_support_filter_gzip },
		{ "zstd", archive_read_support_filter_zstd },
		{ "xz", archive_read_support_filter_xz },
		{ "bzip2", archive_read_support_filter_bzip2 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(filters); i++) {
		/* ARCHIVE_WARN means "through an external program": not in a library. */
		if (filters[i].add(a) != ARCHIVE_OK)
			return error_set(err, KORCH_EUNSUPPORTED,
					 "libarchive was built without %s support",
					 filters[i].name);
	}
	return 0;
}

/* The decompressed blob as the tar reader sees it, hashed on the way. */
struct layer_stream {
	struct archive *raw;   /* decompressing reader over the blob (raw format) */
	struct sha256_ctx sha; /* sha256 of every byte handed out */
	uint64_t bytes;        /* bytes handed out */
	char *buf;             /* LAYER_BUF_SIZE bytes */
};

static la_ssize_t
layer_stream_read(struct archive *a, void *userdata, const void **ret_buf)
{
	struct layer_stream *s = userdata;
	la_ssize_t n = archive_read_data(s->raw, s->buf, LAYER_BUF_SIZE);
	if (n < 0) {
		archive_set_error(a, archive_errno(s->raw), "%s", archive_why(s->raw));
		return -1;
	}
	sha256_update(&s->sha, (size_t)n, (const uint8_t *)s->buf);
	s->bytes += (uint64_t)n;
	*ret_buf = s->buf;
	return n;
}

/* A directory's times, set again once everything below it is written. */
struct dir_times {
	char *rel;             /* relative to the layer */
	struct timespec ts[2]; /* atime, mtime */
};

/* State of one unpack. */
struct unpack {
	const char *dest;             /* the layer directory (absolute, canonical) */
	int root_fd;                  /* dest, open */
	struct archive *tar;          /* the tar reader */
	struct archive *disk;         /* libarchive's disk writer */
	struct ptrvec opaque;         /* directories (relative; "" is the root) to make opaque */
	struct ptrvec dir_times;      /* struct dir_times, in tar order (the last one wins) */
	struct layer_unpack_stats st; /* counts so far */
};

static void
dir_times_free(void *p)
{
	struct dir_times *t = p;
	if (t)
		free(t->rel);
	free(t);
}

/*
 * libarchive defers the times of directories it creates, but sets those of a directory that
 * already exists (made for a child listed before it, or for an opaque marker) at once, and
 * whiteouts and opaque markers add entries later: so every directory's times are set again
 * at the end.
 */
static int
remember_dir_times(struct unpack *u, const char *rel, struct archive_entry *e, korch_error **err)
{
	struct dir_times *t = calloc(1, sizeof(*t));
	if (!t || !(t->rel = strdup(rel)) || ptrvec_push(&u->dir_times, t) < 0) {
		dir_times_free(t);
		return error_oom(err);
	}
	t->ts[1] = (struct timespec){ archive_entry_mtime(e), archive_entry_mtime_nsec(e) };
	t->ts[0] = archive_entry_atime_is_set(e) ? (struct timespec){ archive_entry_atime(e),
								      archive_entry_atime_nsec(e) }
						 : t->ts[1];
	return 0;
}

/*
 * Refuses rel when one of its parents is a symbolic link. A parent that does not exist yet, or
 * is not a directory (the writer replaces it), ends the walk: nothing below it exists.
 */
static int
check_parents(int root_fd, const char *rel, korch_error **err)
{
	_cleanup_free_ char *prefix = strdup(rel);
	if (!prefix)
		return error_oom(err);
	for (char *slash = strchr(prefix, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		struct stat st;
		if (fstatat(root_fd, prefix, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				return 0;
			return error_errno(err, errno, "stat \"%s\"", prefix);
		}
		if (S_ISLNK(st.st_mode))
			return error_set(err, KORCH_EINVALID, "parent \"%s\" is a symbolic link",
					 prefix);
		if (!S_ISDIR(st.st_mode))
			return 0;
		*slash = '/';
	}
	return 0;
}

/* Opens directory rel below root_fd without following any symbolic link, creating it if asked. */
static int
open_dir_beneath(int root_fd, const char *rel, bool create, int *ret_fd, korch_error **err)
{
	_cleanup_close_ int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return error_errno(err, errno, "dup");
	_cleanup_free_ char *copy = strdup(rel);
	if (!copy)
		return error_oom(err);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST)
				return error_errno(err, errno, "mkdir \"%s\"", rel);
			next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0)
			return error_errno(err, errno, "open directory \"%s\"", rel);
		close(fd);
		fd = next;
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

/* Drops trusted.overlay.* and user.overlay.* xattrs from an entry (see the top of the file). */
static int
strip_overlay_xattrs(struct archive_entry *e, korch_error **err)
{
	int n = archive_entry_xattr_reset(e);
	if (n <= 0)
		return 0;
	const char *name;
	const void *value;
	size_t size;
	bool found = false;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (startswith(name, "trusted.overlay.") || startswith(name, "user.overlay."))
			found = true;
	if (!found)
		return 0;
	struct keep {
		char *name;  /* xattr name */
		void *value; /* its value */
		size_t size; /* bytes in value */
	};
	_cleanup_free_ struct keep *keep = calloc((size_t)n, sizeof(*keep));
	if (!keep)
		return error_oom(err);
	size_t k = 0;
	int r = 0;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (startswith(name, "trusted.overlay.") || startswith(name, "user.overlay."))
			continue;
		keep[k].name = strdup(name);
		keep[k].value = malloc(size ? size : 1);
		keep[k].size = size;
		if (!keep[k].name || !keep[k].value) {
			free(keep[k].name);
			free(keep[k].value);
			r = error_oom(err);
			break;
		}
		memcpy(keep[k].value, value, size);
		k++;
	}
	if (r == 0) {
		archive_entry_xattr_clear(e);
		for (size_t i = 0; i < k; i++)
			archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
	}
	for (size_t i = 0; i < k; i++) {
		free(keep[i].name);
		free(keep[i].value);
	}
	return r;
}

/* Writes e (its pathname already rewritten under dest) and, for a regular file, its data. */
static int
write_entry(struct unpack *u, struct archive_entry *e, bool with_data, korch_error **err)
{
	if (archive_write_header(u->disk, e) < ARCHIVE_OK)
		return error_set(err, KORCH_ESYSTEM, "%s", archive_why(u->disk));
	while (with_data) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(u->tar, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return error_set(err, KORCH_EINVALID, "read: %s", archive_why(u->tar));
		if (archive_write_data_block(u->disk, buf, size, offset) < ARCHIVE_OK)
			return error_set(err, KORCH_ESYSTEM, "%s", archive_why(u->disk));
	}
	if (archive_write_finish_entry(u->disk) < ARCHIVE_OK)
		return error_set(err, KORCH_ESYSTEM, "%s", archive_why(u->disk));
	u->st.entries++;
	return 0;
}

/* Sets the entry's path to dest/rel, refusing paths that would not fit PATH_MAX. */
static int
set_dest_path(struct unpack *u, struct archive_entry *e, const char *rel, bool hardlink,
	      korch_error **err)
{
	_cleanup_free_ char *full = NULL;
	if (asprintf(&full, "%s/%s", u->dest, rel) < 0)
		return error_oom(err);
	/* libarchive would chdir(2) into the tree for longer paths: process-wide, so refused. */
	if (strlen(full) >= PATH_MAX)
		return error_set(err, KORCH_ETOOLARGE, "path too long");
	if (hardlink)
		archive_entry_copy_hardlink(e, full);
	else
		archive_entry_copy_pathname(e, full);
	return 0;
}

/* ".wh.NAME" in parent: a character device 0:0 named NAME, which overlayfs reads as deleted. */
static int
write_whiteout(struct unpack *u, struct archive_entry *orig, const char *parent, const char *name,
	       korch_error **err)
{
	if (!*name || streq(name, ".") || streq(name, ".."))
		return error_set(err, KORCH_EINVALID, "invalid whiteout");
	_cleanup_free_ char *rel = NULL;
	if (asprintf(&rel, "%s%s%s", parent, *parent ? "/" : "", name) < 0)
		return error_oom(err);
	struct archive_entry *w = archive_entry_new();
	if (!w)
		return error_oom(err);
	archive_entry_set_filetype(w, AE_IFCHR);
	archive_entry_set_perm(w, 0);
	archive_entry_set_rdev(w, 0);
	archive_entry_set_uid(w, 0);
	archive_entry_set_gid(w, 0);
	archive_entry_set_size(w, 0);
	archive_entry_set_mtime(w, archive_entry_mtime(orig), archive_entry_mtime_nsec(orig));
	int r = set_dest_path(u, w, rel, false, err);
	if (r == 0)
		r = write_entry(u, w, false, err);
	archive_entry_free(w);
	if (r == 0)
		u->st.whiteouts++;
	return r;
}

/* Checks and rewrites a hard link's target: it must be a non-directory already in this layer. */
static int
fix_hardlink(struct unpack *u, struct archive_entry *e, const char *target, korch_error **err)
{
	_cleanup_free_ char *rel = NULL;
	int r = archive_path_normalize(target, &rel, err);
	if (r < 0)
		return korch_error_prefix(err, r, "hard link target \"%s\"", target);
	if (!*rel)
		return error_set(err, KORCH_EINVALID, "hard link target \"%s\" is the layer's root",
				 target);
	r = check_parents(u->root_fd, rel, err);
	if (r < 0)
		return korch_error_prefix(err, r, "hard link target \"%s\"", target);
	struct stat st;
	if (fstatat(u->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
		return error_set(err, KORCH_EINVALID,
				 "hard link target \"%s\" is not a file unpacked before it",
				 target);
	return set_dest_path(u, e, rel, true, err);
}

static void
split_parent(const char *rel, char **ret_parent, const char **ret_base)
{
	const char *slash = strrchr(rel, '/');
	*ret_base = slash ? slash + 1 : rel;
	*ret_parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup("");
}

static int
unpack_entry(struct unpack *u, struct archive_entry *e, korch_error **err)
{
	_cleanup_free_ char *rel = NULL;
	int r = archive_path_normalize(archive_entry_pathname(e), &rel, err);
	if (r < 0 || !*rel)
		return r; /* the root itself: its metadata belongs to the container's upper dir */
	r = check_parents(u->root_fd, rel, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *parent = NULL;
	const char *base;
	split_parent(rel, &parent, &base);
	if (!parent)
		return error_oom(err);

	if (streq(base, ".wh..wh..opq")) {
		_cleanup_close_ int fd = -1;
		r = open_dir_beneath(u->root_fd, parent, true, &fd, err);
		if (r < 0)
			return r;
		if (ptrvec_push(&u->opaque, parent) < 0)
			return error_oom(err);
		parent = NULL;
		return 0;
	}
	if (startswith(base, ".wh..wh."))
		return 0;
	if (startswith(base, ".wh."))
		return write_whiteout(u, e, parent, base + 4, err);

	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (!hardlink && (type == AE_IFCHR || type == AE_IFBLK)) {
		u->st.skipped_devices++;
		return 0;
	}
	if (hardlink) {
		r = fix_hardlink(u, e, hardlink, err);
		if (r < 0)
			return r;
	}
	r = strip_overlay_xattrs(e, err);
	if (r < 0)
		return r;
	if (!hardlink && type == AE_IFDIR) {
		r = remember_dir_times(u, rel, e, err);
		if (r < 0)
			return r;
	}
	r = set_dest_path(u, e, rel, false, err);
	if (r < 0)
		return r;
	bool with_data = (type == AE_IFREG || hardlink) && archive_entry_size(e) > 0;
	return write_entry(u, e, with_data, err);
}

/* What must wait until every entry is written: opaque xattrs, then directory times. */
static int
finish_dirs(struct unpack *u, korch_error **err)
{
	for (size_t i = 0; i < u->opaque.n; i++) {
		const char *rel = u->opaque.items[i];
		_cleanup_close_ int fd = -1;
		int r = open_dir_beneath(u->root_fd, rel, false, &fd, err);
		if (r < 0)
			return r;
		if (fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
			return error_errno(err, errno, "make \"%s\" opaque (%s)", *rel ? rel : "/",
					   OPAQUE_XATTR);
		u->st.opaque_dirs++;
	}
	for (size_t i = 0; i < u->dir_times.n; i++) {
		struct dir_times *t = u->dir_times.items[i];
		_cleanup_close_ int fd = -1;
		int r = open_dir_beneath(u->root_fd, t->rel, false, &fd, err);
		if (r < 0)
			return r;
		if (futimens(fd, t->ts) < 0)
			return error_errno(err, errno, "set the times of \"%s\"", t->rel);
	}
	return 0;
}

static int
unpack_entries(struct unpack *u, korch_error **err)
{
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(u->tar, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return error_set(err, KORCH_EINVALID, "read tar: %s", archive_why(u->tar));
		const char *path = archive_entry_pathname(e);
		if (!path)
			return error_set(err, KORCH_EINVALID, "an entry has no path");
		_cleanup_free_ char *shown = strdup(path);
		if (!shown)
			return error_oom(err);
		r = unpack_entry(u, e, err);
		if (r < 0)
			return korch_error_prefix(err, r, "entry \"%s\"", shown);
	}
}

static int
unpack_into(const char *blob_path, const char *dest, const char *want_hex,
	    struct layer_unpack_stats *ret_stats, korch_error **err)
{
	struct unpack u = {
		.dest = dest, .root_fd = -1, .opaque = PTRVEC_INIT, .dir_times = PTRVEC_INIT
	};
	struct layer_stream s = { 0 };
	int r;
	sha256_init(&s.sha);
	s.buf = malloc(LAYER_BUF_SIZE);
	s.raw = archive_read_new();
	u.tar = archive_read_new();
	u.disk = archive_write_disk_new();
	if (!s.buf || !s.raw || !u.tar || !u.disk) {
		r = error_oom(err);
		goto out;
	}
	u.root_fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (u.root_fd < 0 || fchmod(u.root_fd, 0755) < 0) {
		r = error_errno(err, errno, "open %s", dest);
		goto out;
	}
	r = archive_read_add_filters(s.raw, err);
	if (r < 0)
		goto out;
	struct archive_entry *raw_entry;
	int hr = ARCHIVE_FATAL;
	if (archive_read_support_format_raw(s.raw) == ARCHIVE_OK &&
	    archive_read_open_filename(s.raw, blob_path, 64 * 1024) == ARCHIVE_OK)
		hr = archive_read_next_header(s.raw, &raw_entry);
	if (hr != ARCHIVE_OK) {
		r = error_set(err, KORCH_EINVALID, "read %s: %s", blob_path,
			      hr == ARCHIVE_EOF ? "empty blob" : archive_why(s.raw));
		goto out;
	}
	if (archive_read_support_format_tar(u.tar) != ARCHIVE_OK ||
	    archive_read_open(u.tar, &s, NULL, layer_stream_read, NULL) != ARCHIVE_OK) {
		r = error_set(err, KORCH_EINVALID, "not a tar archive: %s", archive_why(u.tar));
		goto out;
	}
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
		    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SPARSE;
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	archive_write_disk_set_options(u.disk, flags);

	r = unpack_entries(&u, err);
	if (r < 0)
		goto out;
	if (archive_write_close(u.disk) < ARCHIVE_OK) {
		r = error_set(err, KORCH_ESYSTEM, "%s", archive_why(u.disk));
		goto out;
	}
	r = finish_dirs(&u, err);
	if (r < 0)
		goto out;
	/* The tar reader stops at the end-of-archive blocks; the diffID covers the padding too. */
	for (;;) {
		const void *buf;
		la_ssize_t n = layer_stream_read(u.tar, &s, &buf);
		if (n < 0) {
			r = error_set(err, KORCH_EINVALID, "read: %s", archive_why(s.raw));
			goto out;
		}
		if (n == 0)
			break;
	}
	char got[SHA256_HEX_LEN + 1];
	sha256_finish_hex(&s.sha, got);
	if (!streq(got, want_hex)) {
		r = error_set(
			err, KORCH_EINVALID,
			"content does not match diff_id sha256:%s (the uncompressed tar is sha256:%s)",
			want_hex, got);
		goto out;
	}
	u.st.tar_bytes = s.bytes;
	if (ret_stats)
		*ret_stats = u.st;
	log_debug("image",
		  "unpacked %s: %zu entries, %zu whiteouts, %zu opaque, %zu devices skipped", dest,
		  u.st.entries, u.st.whiteouts, u.st.opaque_dirs, u.st.skipped_devices);
out:
	if (u.disk)
		archive_write_free(u.disk);
	if (u.tar)
		archive_read_free(u.tar);
	if (s.raw)
		archive_read_free(s.raw);
	free(s.buf);
	ptrvec_free(&u.opaque, free);
	ptrvec_free(&u.dir_times, dir_times_free);
	if (u.root_fd >= 0)
		close(u.root_fd);
	return r;
}

int
layer_unpack(const char *blob_path, const char *dest, const char *diff_id,
	     struct layer_unpack_stats *ret_stats, korch_error **err)
{
	const char *want_hex;
	int r = digest_check(diff_id, "diff_id", &want_hex, err);
	if (r < 0)
		return r;
	if (mkdir(dest, 0755) < 0)
		return error_errno(err, errno, "mkdir %s", dest);
	r = unpack_into(blob_path, dest, want_hex, ret_stats, err);
	if (r < 0)
		rm_rf(dest, NULL);
	return r;
}
