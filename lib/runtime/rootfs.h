/*
 * rootfs.h - a container's filesystem view (internal), built by its init in its own mount
 * namespace before pivot_root.
 */
#ifndef KORCH_RUNTIME_ROOTFS_H
#define KORCH_RUNTIME_ROOTFS_H

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

#endif
