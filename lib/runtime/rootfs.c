/*
 * rootfs.c - the container's mounts, done with the new mount API (fsopen, fsmount, open_tree,
 * mount_setattr, move_mount) so that every target is an fd resolved inside the rootfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "runtime/rootfs.h"

/* The devices every container gets, bound from the host's /dev (runc's default list). */
static const char *const default_devices[] = { "null",    "zero", "full", "random",
					       "urandom", "tty",  NULL };

static const struct {
	const char *name;
	const char *target;
} dev_links[] = {
	{ "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },
};

static int
openat2_in_root(int root_fd, const char *path, int flags, int *ret_fd)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	int fd = (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof(how));
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/*
 * Appends what the kernel logged on an fs context ("e overlayfs: failed to resolve ...") to a
 * message, so a failed overlay mount says why.
 */
static int
fs_error(korch_error **err, int errnum, int fsfd, const char *what)
{
	char buf[512];
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	ssize_t n;
	while (fsfd >= 0 && (n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		strbuf_printf(&sb, "%s%s", sb.len ? "; " : "", buf[1] == ' ' ? buf + 2 : buf);
	}
	if (sb.len)
		return error_set(err, KORCH_ESYSTEM, "%s: %s (%s)", what, strerror(errnum),
				 strbuf_str(&sb));
	return error_errno(err, errnum, "%s", what);
}

/*
 * A new detached filesystem: fstype with options ("key=value" or a bare flag), mounted with
 * MOUNT_ATTR_* flags. *ret_fd is the mount's fd for move_mount.
 */
static int
new_fs(const char *fstype, const char *const *opts, unsigned int attrs, int *ret_fd,
       korch_error **err)
{
	_cleanup_close_ int fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return error_errno(err, errno, "fsopen %s", fstype);
	for (size_t i = 0; opts && opts[i]; i++) {
		_cleanup_free_ char *key = strdup(opts[i]);
		if (!key)
			return error_oom(err);
		char *val = strchr(key, '=');
		if (val)
			*val++ = '\0';
		int r = val ? fsconfig(fsfd, FSCONFIG_SET_STRING, key, val, 0)
			    : fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
		if (r < 0)
			return fs_error(err, errno, fsfd, fstype);
	}
	/* Named after its type in mountinfo, as mount(8) does, rather than "none". */
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", fstype, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fs_error(err, errno, fsfd, fstype);
	int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0)
		return fs_error(err, errno, fsfd, fstype);
	*ret_fd = mfd;
	return 0;
}

/*
 * A detached copy of the tree at dirfd/path (a host path, or "" with AT_EMPTY_PATH), made
 * read-only when asked. Returns -errno; the caller says what it was for.
 */
static int
clone_tree(int dirfd, const char *path, bool recursive, bool read_only, int *ret_fd)
{
	unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
			     (path[0] ? 0 : AT_EMPTY_PATH);
	_cleanup_close_ int fd = open_tree(dirfd, path, flags);
	if (fd < 0)
		return -errno;
	if (read_only) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
		if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
				  sizeof(attr)) < 0)
			return -errno;
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

static int
attach(int mnt_fd, int target_fd)
{
	if (move_mount(mnt_fd, "", target_fd, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

/*
 * Makes sure path exists inside the rootfs, as a directory or (is_file) an empty file, creating
 * what is missing with every component resolved inside the rootfs. *ret_fd is an O_PATH fd on
 * it. A component that exists as something else is ENOTDIR/EEXIST, named in the message.
 */
static int
ensure_in_root(int root_fd, const char *path, bool is_file, int *ret_fd, korch_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return error_oom(err);
	char *p = copy;
	while (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/');
		bool last = !slash || slash[strspn(slash, "/")] == '\0';
		if (slash)
			*slash = '\0';
		int fd, r = openat2_in_root(root_fd, copy, O_PATH, &fd);
		if (r == -ENOENT) {
			/* Create the component in its (resolved) parent directory. */
			char *base = strrchr(copy, '/');
			_cleanup_close_ int parent = -1;
			if (base)
				*base = '\0';
			r = openat2_in_root(root_fd, base ? copy : "", O_PATH | O_DIRECTORY,
					    &parent);
			if (base)
				*base = '/';
			const char *name = base ? base + 1 : copy;
			if (r == 0) {
				if (last && is_file) {
					int f = openat(parent, name,
						       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
							       O_CLOEXEC,
						       0644);
					r = f < 0 ? -errno : 0;
					if (f >= 0)
						close(f);
				} else
					r = mkdirat(parent, name, 0755) < 0 ? -errno : 0;
			}
			if (r == 0)
				r = openat2_in_root(root_fd, copy, O_PATH, &fd);
		}
		if (r < 0)
			return error_errno(err, r, "%s", copy);
		if (last) {
			*ret_fd = fd;
			return 0;
		}
		close(fd);
		*slash = '/';
		p = slash + 1;
		while (*p == '/')
			p++;
	}
}

/*
 * /proc, /sys and /dev must be real directories of the rootfs: a symlink there could aim a
 * kernel filesystem, and the masked paths after it, anywhere (runc mask.bats).
 */
static int
special_dir(int root_fd, const char *name, int *ret_fd, korch_error **err)
{
	struct stat st;
	if (fstatat(root_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return error_errno(err, errno, "/%s", name);
		if (mkdirat(root_fd, name, 0755) < 0)
			return error_errno(err, errno, "create /%s", name);
	} else if (!S_ISDIR(st.st_mode))
		return error_set(err, KORCH_EINVALID,
				 "/%s in the rootfs is %s: it must be an ordinary directory", name,
				 S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
	int fd = openat(root_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open /%s", name);
	*ret_fd = fd;
	return 0;
}

/* Builds "lowerdir=top:...:bottom" for kernels without fsconfig's "lowerdir+" (before 6.8). */
static int
overlay_legacy(const struct container_spec *spec, const struct container_layout *layout,
	       korch_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t n = 0;
	while (spec->layers[n])
		n++;
	strbuf_puts(&sb, "lowerdir=");
	for (size_t i = n; i-- > 0;) {
		if (strpbrk(spec->layers[i], ":,\\"))
			return error_set(err, KORCH_EINVALID,
					 "layer %s: ':', ',' and '\\' cannot be passed to this "
					 "kernel's overlayfs",
					 spec->layers[i]);
		strbuf_printf(&sb, "%s%s", spec->layers[i], i ? ":" : "");
	}
	strbuf_printf(&sb, ",upperdir=%s,workdir=%s", layout->upper_dir, layout->work_dir);
	if (sb.oom)
		return error_oom(err);
	if (sb.len >= 4096)
		return error_set(
			err, KORCH_ETOOLARGE,
			"mount overlay: %zu layers do not fit in one page of mount options "
			"on this kernel (Linux 6.8 lifts the limit)",
			n);
	if (mount("overlay", layout->rootfs_dir, "overlay", 0, strbuf_str(&sb)) < 0)
		return error_errno(err, errno, "mount overlay on %s", layout->rootfs_dir);
	return 0;
}

/*
 * Gives overlay one directory: as an fd (Linux 6.13+: no length limit, resolved once here), or
 * as a string (6.8+: at most 255 bytes) when by_fd was refused. *by_fd turns false on the first
 * refusal; -EINVAL from a string means this kernel has neither ("lowerdir+" is 6.8).
 */
static int
overlay_dir(int fsfd, const char *key, const char *path, bool *by_fd, korch_error **err)
{
	if (*by_fd) {
		_cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, errno, "overlay %s %s", key, path);
		if (fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd) == 0)
			return 0;
		if (errno != EINVAL)
			return fs_error(err, errno, fsfd, "mount overlay");
		*by_fd = false;
	}
	if (strlen(path) > 255)
		return error_set(err, KORCH_EINVALID,
				 "overlay %s %s: longer than this kernel's overlayfs takes (255 "
				 "bytes; Linux 6.13 takes any length)",
				 key, path);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, path, 0) == 0)
		return 0;
	return errno == EINVAL ? -EINVAL : fs_error(err, errno, fsfd, "mount overlay");
}

/*
 * The rootfs: overlay with one "lowerdir+" per layer, top first, so any number of layers fits
 * (the classic mount(2) data is limited to one page); or a recursive bind of a plain rootfs.
 */
static int
mount_rootfs(const struct container_spec *spec, const struct container_layout *layout,
	     korch_error **err)
{
	_cleanup_close_ int mfd = -1;
	if (spec->rootfs_path) {
		int r = clone_tree(AT_FDCWD, spec->rootfs_path, true, false, &mfd);
		if (r < 0)
			return error_errno(err, r, "rootfs %s", spec->rootfs_path);
	} else {
		_cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
		if (fsfd < 0)
			return error_errno(err, errno, "fsopen overlay");
		size_t n = 0;
		while (spec->layers[n])
			n++;
		bool by_fd = true;
		int r = 0;
		for (size_t i = n; i-- > 0 && r == 0;)
			r = overlay_dir(fsfd, "lowerdir+", spec->layers[i], &by_fd, err);
		if (r == -EINVAL)
			return overlay_legacy(spec, layout, err);
		if (r == 0)
			r = overlay_dir(fsfd, "upperdir", layout->upper_dir, &by_fd, err);
		if (r == 0)
			r = overlay_dir(fsfd, "workdir", layout->work_dir, &by_fd, err);
		if (r < 0)
			return r == -EINVAL ? fs_error(err, EINVAL, fsfd, "mount overlay") : r;
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0 ||
		    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			return fs_error(err, errno, fsfd, "mount overlay");
		mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
		if (mfd < 0)
			return fs_error(err, errno, fsfd, "mount overlay");
	}
	if (move_mount(mfd, "", AT_FDCWD, layout->rootfs_dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return error_errno(err, errno, "mount rootfs on %s", layout->rootfs_dir);
	return 0;
}

static int
mount_kernel_fs(int root_fd, const char *name, const char *fstype, unsigned int attrs,
		korch_error **err)
{
	_cleanup_close_ int dir = -1, mfd = -1;
	int r = special_dir(root_fd, name, &dir, err);
	if (r < 0)
		return r;
	if ((r = new_fs(fstype, NULL, attrs, &mfd, err)) < 0)
		return korch_error_prefix(err, r, "mount %s on /%s", fstype, name);
	if ((r = attach(mfd, dir)) < 0)
		return error_errno(err, r, "mount %s on /%s", fstype, name);
	return 0;
}

static int
mount_dev_sub(int dev_fd, const char *name, const char *fstype, const char *const *opts,
	      unsigned int attrs, korch_error **err)
{
	_cleanup_close_ int mfd = -1, dir = -1;
	if (mkdirat(dev_fd, name, 0755) < 0 && errno != EEXIST)
		return error_errno(err, errno, "create /dev/%s", name);
	dir = openat(dev_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return error_errno(err, errno, "open /dev/%s", name);
	int r = new_fs(fstype, opts, attrs, &mfd, err);
	if (r < 0)
		return korch_error_prefix(err, r, "mount /dev/%s", name);
	if ((r = attach(mfd, dir)) < 0)
		return error_errno(err, r, "mount /dev/%s", name);
	return 0;
}

/*
 * /dev: a tmpfs (nodev, so a node made there with mknod opens nothing) holding bind mounts of
 * the host's standard devices, a private devpts, shm, mqueue and the usual links.
 */
static int
mount_dev(int root_fd, korch_error **err)
{
	static const char *const dev_opts[] = { "mode=755", "size=65536k", NULL };
	static const char *const pts_opts[] = { "newinstance", "ptmxmode=0666", "mode=0620",
						"gid=5", NULL };
	static const char *const shm_opts[] = { "mode=1777", "size=65536k", NULL };
	_cleanup_close_ int dir = -1, mfd = -1, dev = -1;
	int r = special_dir(root_fd, "dev", &dir, err);
	if (r < 0)
		return r;
	if ((r = new_fs("tmpfs", dev_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV,
			&mfd, err)) < 0)
		return korch_error_prefix(err, r, "mount /dev");
	if ((r = attach(mfd, dir)) < 0)
		return error_errno(err, r, "mount /dev");
	dev = openat(root_fd, "dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dev < 0)
		return error_errno(err, errno, "open /dev");
	for (const char *const *d = default_devices; *d; d++) {
		char host[64];
		snprintf(host, sizeof(host), "/dev/%s", *d);
		int f = openat(dev, *d, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (f < 0)
			return error_errno(err, errno, "create %s", host);
		close(f);
		_cleanup_close_ int tree = -1, target = -1;
		if ((r = clone_tree(AT_FDCWD, host, false, false, &tree)) < 0)
			return error_errno(err, r, "bind host %s", host);
		target = openat(dev, *d, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (target < 0 || (r = attach(tree, target)) < 0)
			return error_errno(err, target < 0 ? errno : r, "bind %s", host);
	}
	if ((r = mount_dev_sub(dev, "pts", "devpts", pts_opts,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err)) < 0 ||
	    (r = mount_dev_sub(dev, "shm", "tmpfs", shm_opts,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV, err)) <
		    0 ||
	    (r = mount_dev_sub(dev, "mqueue", "mqueue", NULL,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV, err)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0)
			return error_errno(err, errno, "link /dev/%s", dev_links[i].name);
	return 0;
}

/* Binds the host file source onto target inside the rootfs (created when missing). */
static int
bind_file(int root_fd, const char *source, const char *target, korch_error **err)
{
	_cleanup_close_ int tree = -1, fd = -1;
	int r = clone_tree(AT_FDCWD, source, false, false, &tree);
	if (r < 0)
		return error_errno(err, r, "%s: source %s", target, source);
	if ((r = ensure_in_root(root_fd, target, true, &fd, err)) < 0)
		return korch_error_prefix(err, r, "%s", target);
	if ((r = attach(tree, fd)) < 0)
		return error_errno(err, r, "bind %s on %s", source, target);
	return 0;
}

static int
mount_volume(int root_fd, const struct mount_spec *m, size_t i, korch_error **err)
{
	_cleanup_close_ int tree = -1, fd = -1;
	bool is_file = false;
	int r;
	if (m->type == MOUNT_BIND) {
		r = clone_tree(AT_FDCWD, m->source, true, m->read_only, &tree);
		if (r < 0)
			return error_errno(err, r, "mounts[%zu]: source \"%s\"", i, m->source);
		struct stat st;
		if (fstat(tree, &st) < 0)
			return error_errno(err, errno, "mounts[%zu]: source \"%s\"", i, m->source);
		is_file = !S_ISDIR(st.st_mode);
	} else {
		char mode[32], size[48];
		snprintf(mode, sizeof(mode), "mode=%o", m->mode);
		snprintf(size, sizeof(size), "size=%" PRIu64, m->size_bytes);
		const char *opts[] = { mode, m->size_bytes ? size : NULL, NULL };
		unsigned int attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				     (m->read_only ? MOUNT_ATTR_RDONLY : 0);
		if ((r = new_fs("tmpfs", opts, attrs, &tree, err)) < 0)
			return korch_error_prefix(err, r, "mounts[%zu]: tmpfs", i);
	}
	if ((r = ensure_in_root(root_fd, m->target, is_file, &fd, err)) < 0)
		return korch_error_prefix(err, r, "mounts[%zu]: target", i);
	struct stat tst;
	if (fstat(fd, &tst) < 0)
		return error_errno(err, errno, "mounts[%zu]: target \"%s\"", i, m->target);
	if (!S_ISDIR(tst.st_mode) != is_file)
		return error_set(err, KORCH_EINVALID,
				 "mounts[%zu]: cannot mount %s \"%s\" on %s \"%s\" in the image", i,
				 is_file ? "the file" : "the directory", m->source,
				 is_file ? "the directory" : "the file", m->target);
	if ((r = attach(tree, fd)) < 0)
		return error_errno(err, r, "mounts[%zu]: mount on \"%s\"", i, m->target);
	return 0;
}

/*
 * Masked paths: a directory gets a read-only empty tmpfs (one, shared by every masked
 * directory, as runc does), a file the host's /dev/null. Paths the rootfs lacks are skipped.
 */
static int
mask_paths(int root_fd, char *const *paths, korch_error **err)
{
	_cleanup_close_ int shared_dir = -1;
	for (size_t i = 0; paths && paths[i]; i++) {
		_cleanup_close_ int fd = -1, tree = -1;
		int r = openat2_in_root(root_fd, paths[i], O_PATH, &fd);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return error_errno(err, r, "mask %s", paths[i]);
		struct stat st;
		if (fstat(fd, &st) < 0)
			return error_errno(err, errno, "mask %s", paths[i]);
		if (!S_ISDIR(st.st_mode))
			r = clone_tree(AT_FDCWD, "/dev/null", false, false, &tree);
		else if (shared_dir >= 0)
			r = clone_tree(shared_dir, "", false, false, &tree);
		else {
			static const char *const opts[] = { "size=0", NULL };
			r = new_fs("tmpfs", opts,
				   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					   MOUNT_ATTR_NOEXEC,
				   &tree, err);
			if (r < 0)
				return korch_error_prefix(err, r, "mask %s", paths[i]);
		}
		if (r < 0)
			return error_errno(err, r, "mask %s", paths[i]);
		if ((r = attach(tree, fd)) < 0)
			return error_errno(err, r, "mask %s", paths[i]);
		if (S_ISDIR(st.st_mode) && shared_dir < 0 &&
		    (r = openat2_in_root(root_fd, paths[i], O_PATH | O_DIRECTORY, &shared_dir)) < 0)
			return error_errno(err, r, "mask %s", paths[i]);
	}
	return 0;
}

/* Read-only paths: a recursive read-only bind of each path onto itself. */
static int
readonly_paths(int root_fd, char *const *paths, korch_error **err)
{
	for (size_t i = 0; paths && paths[i]; i++) {
		_cleanup_close_ int fd = -1, tree = -1;
		int r = openat2_in_root(root_fd, paths[i], O_PATH, &fd);
		if (r == -ENOENT)
			continue;
		if (r < 0 || (r = clone_tree(fd, "", true, true, &tree)) < 0 ||
		    (r = attach(tree, fd)) < 0)
			return error_errno(err, r, "make %s read-only", paths[i]);
	}
	return 0;
}

static int
pivot(int root_fd, bool read_only, korch_error **err)
{
	if (fchdir(root_fd) < 0)
		return error_errno(err, errno, "chdir to the rootfs");
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only ours. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return error_errno(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return error_errno(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return error_errno(err, errno, "chdir /");
	if (read_only) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
		if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) < 0)
			return error_errno(err, errno, "make the rootfs read-only");
	}
	return 0;
}

int
rootfs_mount_cgroupfs(int root_fd, const struct rootfs_cgroup_mount *mounts, size_t n,
		      bool read_only, korch_error **err)
{
	_cleanup_close_ int target = -1, fs = -1;
	int r = openat2_in_root(root_fd, "sys/fs/cgroup", O_PATH | O_DIRECTORY, &target);
	if (r < 0)
		return error_errno(err, r, "mount /sys/fs/cgroup");
	if (n == 1 && !mounts[0].name) {
		if ((r = clone_tree(AT_FDCWD, mounts[0].host_dir, false, read_only, &fs)) < 0 ||
		    (r = attach(fs, target)) < 0)
			return error_errno(err, r, "bind cgroup %s on /sys/fs/cgroup",
					   mounts[0].host_dir);
		return 0;
	}
	static const char *const opts[] = { "mode=755", "size=64k", NULL };
	if ((r = new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			&fs, err)) < 0)
		return korch_error_prefix(err, r, "mount /sys/fs/cgroup");
	if ((r = attach(fs, target)) < 0)
		return error_errno(err, r, "mount /sys/fs/cgroup");
	_cleanup_close_ int dir = -1;
	if ((r = openat2_in_root(root_fd, "sys/fs/cgroup", O_PATH | O_DIRECTORY, &dir)) < 0)
		return error_errno(err, r, "open /sys/fs/cgroup");
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int tree = -1, sub = -1;
		if (mkdirat(dir, mounts[i].name, 0555) < 0)
			return error_errno(err, errno, "create /sys/fs/cgroup/%s", mounts[i].name);
		sub = openat(dir, mounts[i].name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return error_errno(err, errno, "open /sys/fs/cgroup/%s", mounts[i].name);
		if ((r = clone_tree(AT_FDCWD, mounts[i].host_dir, false, read_only, &tree)) < 0 ||
		    (r = attach(tree, sub)) < 0)
			return error_errno(err, r, "bind cgroup %s on /sys/fs/cgroup/%s",
					   mounts[i].host_dir, mounts[i].name);
		for (size_t l = 0; l < ARRAY_SIZE(mounts[i].links) && mounts[i].links[l]; l++)
			if (symlinkat(mounts[i].name, dir, mounts[i].links[l]) < 0)
				return error_errno(err, errno, "link /sys/fs/cgroup/%s",
						   mounts[i].links[l]);
	}
	/* The tmpfs itself: read-only now that it is filled, as runc has it. */
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (read_only && mount_setattr(fs, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return error_errno(err, errno, "make /sys/fs/cgroup read-only");
	return 0;
}

int
rootfs_setup(const struct container_spec *spec, const struct container_layout *layout,
	     const struct container_hooks *sec, korch_error **err)
{
	int r;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return error_errno(err, errno, "make mounts private");
	if ((r = mount_rootfs(spec, layout, err)) < 0)
		return r;
	_cleanup_close_ int root_fd = open(layout->rootfs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return error_errno(err, errno, "open rootfs %s", layout->rootfs_dir);
	unsigned int kattrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	if ((r = mount_kernel_fs(root_fd, "proc", "proc", kattrs, err)) < 0)
		return r;
	if ((r = mount_kernel_fs(root_fd, "sys", "sysfs",
				 kattrs | (spec->privileged ? 0 : MOUNT_ATTR_RDONLY), err)) < 0)
		return r;
	if (sec && sec->ops && sec->ops->mount_cgroupfs &&
	    (r = sec->ops->mount_cgroupfs(sec->data, root_fd, err)) < 0)
		return r;
	if ((r = mount_dev(root_fd, err)) < 0)
		return r;
	const struct {
		const char *source, *target;
	} etc[] = {
		{ spec->etc_hosts, "/etc/hosts" },
		{ spec->etc_hostname, "/etc/hostname" },
		{ spec->etc_resolv_conf, "/etc/resolv.conf" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(etc); i++)
		if (etc[i].source &&
		    (r = bind_file(root_fd, etc[i].source, etc[i].target, err)) < 0)
			return r;
	for (size_t i = 0; i < spec->n_mounts; i++)
		if ((r = mount_volume(root_fd, &spec->mounts[i], i, err)) < 0)
			return r;
	_cleanup_close_ int cwd = -1;
	if ((r = ensure_in_root(root_fd, spec->process.cwd, false, &cwd, err)) < 0)
		return korch_error_prefix(err, r, "cwd");
	if ((r = mask_paths(root_fd, spec->masked_paths, err)) < 0 ||
	    (r = readonly_paths(root_fd, spec->readonly_paths, err)) < 0)
		return r;
	if ((r = pivot(root_fd, spec->read_only_rootfs, err)) < 0)
		return r;
	if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return error_errno(err, errno, "sethostname");
	return 0;
}
