/*
 * netns.c - setns() round trips and /proc/sys writes.
 */
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "net/netns.h"

static int
check_netns(int fd, const char *what, korch_error **err)
{
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return error_errno(err, errno, "%s is not a namespace", what);
	if (type != CLONE_NEWNET)
		return error_set(err, KORCH_EINVALID, "%s is not a network namespace", what);
	return 0;
}

int
netns_open(const char *path, int *ret_fd, korch_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open network namespace %s", path);
	int r = check_netns(fd, path, err);
	if (r < 0)
		return r;
	*ret_fd = steal_fd(&fd);
	return 0;
}

int
netns_dup(int fd, int *ret_fd, korch_error **err)
{
	int r = check_netns(fd, "the namespace fd", err);
	if (r < 0)
		return r;
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return error_errno(err, errno, "duplicate namespace fd");
	*ret_fd = copy;
	return 0;
}

int
netns_enter(int fd, int *ret_saved, korch_error **err)
{
	_cleanup_close_ int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return error_errno(err, errno, "open /proc/thread-self/ns/net");
	if (setns(fd, CLONE_NEWNET) < 0)
		return error_errno(err, errno, "enter network namespace");
	*ret_saved = steal_fd(&saved);
	return 0;
}

void
netns_leave(int saved)
{
	if (setns(saved, CLONE_NEWNET) < 0)
		abort(); /* running on in a pod's namespace would be worse than stopping */
	close(saved);
}

int
sysctl_write(const char *key, const char *value, korch_error **err)
{
	char path[256];
	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open %s", path);
	int r = write_all(fd, value, strlen(value));
	if (r < 0)
		return error_errno(err, r, "write %s", path);
	return 0;
}
