/*
 * rootfs.h - a container's filesystem view (internal), built by its init in its own mount
 * namespace before pivot_root.
 */
#ifndef KORCH_RUNTIME_ROOTFS_H
#define KORCH_RUNTIME_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <korch/common.h>
#include "runtime/container.h"

/*
 * Runs in the container's init, in a fresh mount namespace: makes every mount private, mounts
 * the rootfs (overlay over spec->layers with the layout's upper and work dirs, or a bind of
 * spec->rootfs_path) on layout->rootfs_dir, then /proc, /sys, /dev, the /etc files, the spec's
 * mounts, masked and read-only paths, creates the cwd, pivots into the rootfs, detaches the old
 * root and applies readOnlyRootFilesystem. Every target is resolved inside the rootfs
 * (openat2 RESOLVE_IN_ROOT) and mounted through its fd, so neither ".." nor a symlink in the
 * image can place a mount outside it. On failure the process is left half set up: it must exit.
 */
int rootfs_setup(const struct container_spec *spec, const struct container_layout *layout,
		 const struct container_hooks *sec, korch_error **err);

/* One cgroup hierarchy as a container sees it: its own cgroup there, under a name. */
struct rootfs_cgroup_mount {
	const char *name;     /* directory under /sys/fs/cgroup ("memory", "cpu,cpuacct"); NULL
				 for the one v2 hierarchy, which is /sys/fs/cgroup itself */
	const char *host_dir; /* the container's cgroup directory on the host */
	const char *links[4]; /* NULL-terminated names linked to `name` ("cpu", "cpuacct") */
};

/*
 * Mounts /sys/fs/cgroup in the rootfs open at root_fd, before pivot_root: v2 (one entry named
 * NULL) binds the container's cgroup directory there; v1 mounts a tmpfs holding a bind of the
 * container's cgroup directory of each hierarchy, plus the links. With the cgroup namespace
 * rooted at the container's cgroup, /proc/self/cgroup and these directories agree. Read-only
 * unless privileged.
 */
int rootfs_mount_cgroupfs(int root_fd, const struct rootfs_cgroup_mount *mounts, size_t n,
			  bool read_only, korch_error **err);

#endif
