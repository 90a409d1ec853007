/*
 * fs.h - file helpers: whole-file reads with a size cap, atomic durable writes, directories.
 */
#ifndef KORCH_BASE_FS_H
#define KORCH_BASE_FS_H

#include <stddef.h>
#include <sys/types.h>
#include <korch/common.h>

/*
 * Reads all of fd into a new NUL-terminated buffer. More than max_bytes is KORCH_ETOOLARGE
 * (it stops reading there). *ret_data is the caller's.
 */
int read_all_fd(int fd, size_t max_bytes, char **ret_data, size_t *ret_len, korch_error **err);
int read_file(const char *path, size_t max_bytes, char **ret_data, size_t *ret_len,
	      korch_error **err);

/*
 * Writes data to path atomically and durably: a temporary file beside it, fsync, rename over
 * path, fsync of the directory. On failure path is unchanged and no temporary file remains.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      korch_error **err);

/*
 * The same without the fsyncs: readers see the old content or the new, never a mix, but a
 * machine crash may lose the write. For files that do not outlive a boot (the run directory).
 */
int write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
		       korch_error **err);

/* Writes all of buf to fd, retrying short writes and EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* mkdir -p with mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode, korch_error **err);

/*
 * Removes path and everything below it without following symlinks and without crossing into
 * other mounts (a mount point inside is an error: unmount first). A missing path is success.
 */
int rm_rf(const char *path, korch_error **err);

/*
 * Removes everything inside the directory path, as rm_rf does, and keeps the directory itself
 * (which may be a mount point: emptying a tmpfs gives its memory back while something else
 * still holds the mount). A missing path is an error.
 */
int rm_rf_contents(const char *path, korch_error **err);

/*
 * The directory part of path as dirname(3) gives it ("/a/b" -> "/a", "b" -> ".", "/" -> "/"),
 * in a new string (NULL when out of memory); path is not changed.
 */
char *path_dirname(const char *path);

#endif
