/*
 * sandbox.c - pod sandboxes without a pause process: a short-lived child enters new network,
 * IPC and UTS namespaces, sets the pod's hostname, brings up its loopback, bind-mounts each
 * namespace file onto RUNDIR/sandboxes/UID/{net,ipc,uts} and exits. The bind mounts keep the namespaces alive;
 * containers join them by path. Removal unmounts them and the kernel frees the namespaces once
 * no process is left in them.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/util.h"
#include "node/sandbox.h"

static const char *const ns_files[SANDBOX_NS_COUNT] = { "net", "ipc", "uts" };

char *
sandbox_dir(const char *run_dir, const char *id)
{
	char *s = NULL;
	if (asprintf(&s, "%s/sandboxes/%s", run_dir, id) < 0)
		return NULL;
	return s;
}

char *
sandbox_ns_path(const char *run_dir, const char *id, enum sandbox_ns ns)
{
	char *s = NULL;
	if (asprintf(&s, "%s/sandboxes/%s/%s", run_dir, id, ns_files[ns]) < 0)
		return NULL;
	return s;
}

/* Child: raw system calls only (the parent may have threads). Returns its exit code. */
static int
child(char *const paths[SANDBOX_NS_COUNT], const bool want[], const char *hostname)
{
	if (want[SANDBOX_UTS] && hostname && sethostname(hostname, strlen(hostname)) < 0)
		return 10;
	if (want[SANDBOX_NET]) {
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, "lo", 3);
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			return 11;
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			return 12;
		close(s);
	}
	static const char *const self[SANDBOX_NS_COUNT] = { "/proc/self/ns/net",
							    "/proc/self/ns/ipc",
							    "/proc/self/ns/uts" };
	for (int i = 0; i < SANDBOX_NS_COUNT; i++)
		if (want[i] && mount(self[i], paths[i], NULL, MS_BIND, NULL) < 0)
			return 20 + i;
	return 0;
}

static void
unmount_all(char *const paths[SANDBOX_NS_COUNT])
{
	for (int i = 0; i < SANDBOX_NS_COUNT; i++)
		if (paths[i])
			umount2(paths[i], MNT_DETACH);
}

static const char *
child_error(int code)
{
	switch (code) {
	case 10: return "set the hostname";
	case 11:
	case 12: return "bring up the loopback interface";
	case 20: return "pin the network namespace";
	case 21: return "pin the IPC namespace";
	case 22: return "pin the UTS namespace";
	}
	return "set up the namespaces";
}

int
sandbox_create(const char *run_dir, const struct sandbox_config *cfg, korch_error **err)
{
	_cleanup_free_ char *dir = sandbox_dir(run_dir, cfg->id);
	if (!dir)
		return error_oom(err);
	bool want[SANDBOX_NS_COUNT] = { !cfg->host_network, !cfg->host_ipc, !cfg->host_network };
	/* hostNetwork pods share the host's name too, as with the kubelet. */
	char *paths[SANDBOX_NS_COUNT] = { NULL };
	int r = mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *labels_path = NULL;
	_cleanup_free_ char *text = cfg->labels ? json_dumps(cfg->labels, JSON_COMPACT) : NULL;
	if (asprintf(&labels_path, "%s/labels.json", dir) < 0 || (cfg->labels && !text)) {
		r = error_oom(err);
		goto fail;
	}
	if ((r = write_file_replace(labels_path, text ? text : "{}", text ? strlen(text) : 2, 0600,
				    err)) < 0)
		goto fail;
	if ((cfg->share_pid && !cfg->host_pid) || cfg->host_pid) {
		_cleanup_free_ char *marker = NULL;
		if (asprintf(&marker, "%s/%s", dir, cfg->host_pid ? "host-pid" : "share-pid") < 0) {
			r = error_oom(err);
			goto fail;
		}
		if ((r = write_file_replace(marker, "", 0, 0600, err)) < 0)
			goto fail;
	}
	int flags = 0;
	for (int i = 0; i < SANDBOX_NS_COUNT; i++) {
		if (!want[i])
			continue;
		if (!(paths[i] = sandbox_ns_path(run_dir, cfg->id, (enum sandbox_ns)i))) {
			r = error_oom(err);
			goto fail;
		}
		int fd = open(paths[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd < 0) {
			r = error_errno(err, errno, "create %s", paths[i]);
			goto fail;
		}
		close(fd);
	}
	if (want[SANDBOX_NET])
		flags |= CLONE_NEWNET;
	if (want[SANDBOX_IPC])
		flags |= CLONE_NEWIPC;
	if (want[SANDBOX_UTS])
		flags |= CLONE_NEWUTS;
	pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		r = error_errno(err, errno, "clone the sandbox's namespaces");
		goto fail;
	}
	if (pid == 0)
		_exit(child(paths, want, cfg->hostname));
	int status = 0;
	if (RETRY_EINTR(waitpid(pid, &status, 0)) < 0) {
		r = error_errno(err, errno, "wait for the sandbox setup");
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		r = error_set(err, KORCH_ESYSTEM, "sandbox %s: %s failed (code %d)", cfg->id,
			      child_error(code), code);
		goto fail;
	}
	for (int i = 0; i < SANDBOX_NS_COUNT; i++)
		free(paths[i]);
	return 0;
fail:
	unmount_all(paths);
	for (int i = 0; i < SANDBOX_NS_COUNT; i++)
		free(paths[i]);
	rm_rf(dir, NULL);
	return r;
}

bool
sandbox_exists(const char *run_dir, const char *id)
{
	_cleanup_free_ char *dir = sandbox_dir(run_dir, id);
	struct stat st;
	return dir && stat(dir, &st) == 0;
}

static bool
has_marker(const char *run_dir, const char *id, const char *name)
{
	_cleanup_free_ char *dir = sandbox_dir(run_dir, id);
	_cleanup_free_ char *marker = NULL;
	if (!dir || asprintf(&marker, "%s/%s", dir, name) < 0)
		return false;
	return access(marker, F_OK) == 0;
}

bool
sandbox_shares_pid(const char *run_dir, const char *id)
{
	return has_marker(run_dir, id, "share-pid");
}

bool
sandbox_host_pid(const char *run_dir, const char *id)
{
	return has_marker(run_dir, id, "host-pid");
}

int
sandbox_remove(const char *run_dir, const char *id, korch_error **err)
{
	_cleanup_free_ char *dir = sandbox_dir(run_dir, id);
	if (!dir)
		return error_oom(err);
	char *paths[SANDBOX_NS_COUNT] = { NULL };
	for (int i = 0; i < SANDBOX_NS_COUNT; i++)
		paths[i] = sandbox_ns_path(run_dir, id, (enum sandbox_ns)i);
	unmount_all(paths);
	for (int i = 0; i < SANDBOX_NS_COUNT; i++)
		free(paths[i]);
	return rm_rf(dir, err);
}

int
sandbox_labels(const char *run_dir, const char *id, json_t **ret)
{
	_cleanup_free_ char *dir = sandbox_dir(run_dir, id);
	_cleanup_free_ char *path = NULL;
	if (!dir || asprintf(&path, "%s/labels.json", dir) < 0)
		return KORCH_ENOMEM;
	json_t *l = json_load_file(path, 0, NULL);
	if (!l)
		return KORCH_ENOTFOUND;
	*ret = l;
	return 0;
}

int
sandbox_list(const char *run_dir, char ***ret, korch_error **err)
{
	_cleanup_free_ char *root = NULL;
	if (asprintf(&root, "%s/sandboxes", run_dir) < 0)
		return error_oom(err);
	char **ids = calloc(1, sizeof(*ids));
	if (!ids)
		return error_oom(err);
	size_t n = 0;
	DIR *d = opendir(root);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char **nv = realloc(ids, (n + 2) * sizeof(*nv));
			if (!nv || !(nv[n] = strdup(de->d_name))) {
				closedir(d);
				if (nv)
					ids = nv;
				for (size_t i = 0; i < n; i++)
					free(ids[i]);
				free(ids);
				return error_oom(err);
			}
			ids = nv;
			ids[++n] = NULL;
		}
		closedir(d);
	}
	*ret = ids;
	return 0;
}

int
sandbox_enter_net(const char *run_dir, const char *id, int *ret_saved, korch_error **err)
{
	_cleanup_free_ char *path = sandbox_ns_path(run_dir, id, SANDBOX_NET);
	if (!path)
		return error_oom(err);
	_cleanup_close_ int target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return error_errno(err, errno, "open %s", path);
	int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return error_errno(err, errno, "open this thread's network namespace");
	if (setns(target, CLONE_NEWNET) < 0) {
		int r = error_errno(err, errno, "enter the network namespace of %s", id);
		close(saved);
		return r;
	}
	*ret_saved = saved;
	return 0;
}

int
sandbox_leave_net(int saved)
{
	int r = setns(saved, CLONE_NEWNET) < 0 ? -errno : 0;
	close(saved);
	return r;
}
