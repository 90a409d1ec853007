/*
 * fs.c - file helpers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/macro.h"

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
read_all_fd(int fd, size_t max_bytes, char **ret_data, size_t *ret_len, korch_error **err)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return error_oom(err);
	for (;;) {
		if (len + 1 >= cap) {
			size_t ncap = cap * 2;
			char *p = realloc(buf, ncap);
			if (!p)
				return error_oom(err);
			buf = p;
			cap = ncap;
		}
		size_t want = cap - len - 1;
		if (want > max_bytes + 1 - len)
			want = max_bytes + 1 - len;
		ssize_t n = read(fd, buf + len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, errno, "read");
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max_bytes)
			return error_set(err, KORCH_ETOOLARGE, "larger than %zu bytes", max_bytes);
	}
	buf[len] = '\0';
	*ret_data = steal_pointer(&buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int
read_file(const char *path, size_t max_bytes, char **ret_data, size_t *ret_len, korch_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open %s", path);
	int r = read_all_fd(fd, max_bytes, ret_data, ret_len, err);
	if (r < 0)
		return korch_error_prefix(err, r, "%s", path);
	return 0;
}

static int
fsync_parent(const char *path, korch_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return error_oom(err);
	_cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_errno(err, errno, "open directory of %s", path);
	if (fsync(dfd) < 0)
		return error_errno(err, errno, "fsync directory of %s", path);
	return 0;
}

/* Writes a temporary file beside path and renames it over path; durable adds the fsyncs. */
static int
write_file_rename(const char *path, const void *data, size_t len, mode_t mode, bool durable,
		  korch_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return error_oom(err);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return error_errno(err, errno, "create %s", tmp);
	int r = write_all(fd, data, len);
	if (r < 0) {
		error_errno(err, r, "write %s", tmp);
		goto fail;
	}
	if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0)) {
		r = error_errno(err, errno, "sync %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = error_errno(err, errno, "rename %s", tmp);
		goto fail;
	}
	return durable ? fsync_parent(path, err) : 0;
fail:
	unlink(tmp);
	return r < 0 ? r : KORCH_ESYSTEM;
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, korch_error **err)
{
	return write_file_rename(path, data, len, mode, true, err);
}

int
write_file_replace(const char *path, const void *data, size_t len, mode_t mode, korch_error **err)
{
	return write_file_rename(path, data, len, mode, false, err);
}

int
mkdir_p(const char *path, mode_t mode, korch_error **err)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return error_oom(err);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return error_errno(err, errno, "mkdir %s", p);
			*s = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return error_errno(err, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, KORCH_EEXISTS, "%s exists and is not a directory", path);
	return 0;
}

/* Removes the entries of the directory open at dfd (same device dev), then nothing else. */
static int
rm_rf_children(int dfd, dev_t dev, const char *path, korch_error **err)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return error_errno(err, errno, "opendir %s", path);
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = error_errno(err, errno, "stat %s/%s", path, de->d_name);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != dev) {
				r = error_set(err, KORCH_EBUSY, "%s/%s is a mount point", path,
					      de->d_name);
				break;
			}
			int cfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				r = error_errno(err, errno, "open %s/%s", path, de->d_name);
				break;
			}
			_cleanup_free_ char *sub = NULL;
			if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
				close(cfd);
				r = error_oom(err);
				break;
			}
			r = rm_rf_children(cfd, dev, sub, err);
			if (r < 0)
				break;
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
				r = error_errno(err, errno, "rmdir %s", sub);
				break;
			}
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			r = error_errno(err, errno, "unlink %s/%s", path, de->d_name);
			break;
		}
	}
	closedir(d);
	return r;
}

int
rm_rf_contents(const char *path, korch_error **err)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return error_errno(err, errno, "open %s", path);
	struct stat st;
	if (fstat(dfd, &st) < 0) {
		int e = errno;
		close(dfd);
		return error_errno(err, e, "stat %s", path);
	}
	return rm_rf_children(dfd, st.st_dev, path, err);
}

int
rm_rf(const char *path, korch_error **err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : error_errno(err, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return error_errno(err, errno, "unlink %s", path);
		return 0;
	}
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return error_errno(err, errno, "open %s", path);
	int r = rm_rf_children(dfd, st.st_dev, path, err);
	if (r < 0)
		return r;
	if (rmdir(path) < 0 && errno != ENOENT)
		return error_errno(err, errno, "rmdir %s", path);
	return 0;
}

char *
path_dirname(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	return copy ? strdup(dirname(copy)) : NULL;
}
