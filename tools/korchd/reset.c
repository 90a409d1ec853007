/*
 * reset.c - `korchd reset`: removes what an instance leaves on the machine besides its state:
 * korch-monitor and the containers it runs, the instance's cgroups, the mounts under the run
 * directory (sandboxes, rootfs), the run directory itself, and the bridge, the pods' veths and
 * the nftables table (lib/net). korchd of that instance must not be running.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "base/vec.h"
#include "korchd.h"
#include "net/node.h"
#include "runtime/cgroup.h"
#include "runtime/monitor-client.h"

/* Whether something answers on a unix socket (a running korchd of this instance). */
static bool
socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

static int
stop_monitor(const struct korchd_config *cfg, korch_error **err)
{
	struct monitor_client_options mo = { .run_dir = cfg->run_dir,
					     .no_start = true,
					     .timeout_ms = 2000 };
	struct monitor_client *mc = NULL;
	korch_error *e = NULL;
	int r = monitor_client_connect(&mo, &mc, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		return 0;
	}
	if (r < 0)
		return error_propagate(err, &e, r);
	r = monitor_client_shutdown(mc, err);
	monitor_client_free(mc);
	return r;
}

/* Kills and removes every pod and container cgroup of the instance, then its parent. */
static int
remove_cgroups(const struct korchd_config *cfg, korch_error **err)
{
	struct cgroup_manager_options mo = { .instance = cfg->instance,
					     .parent_path = cfg->cgroup_parent };
	struct cgroup_manager *m = NULL;
	int r = cgroup_manager_open(&mo, &m, err);
	if (r < 0)
		return korch_error_prefix(err, r, "cgroups");
	const char *controllers[] = { "memory",  "pids",    "cpu",   "cpuacct",
				      "devices", "freezer", "cpuset" };
	for (size_t c = 0; c < ARRAY_SIZE(controllers) && r == 0; c++) {
		const char *dir = cgroup_manager_parent_dir(m, controllers[c]);
		DIR *d = dir ? opendir(dir) : NULL;
		if (!d)
			continue;
		struct ptrvec names = PTRVEC_INIT;
		struct dirent *de;
		while ((de = readdir(d)))
			if (de->d_type == DT_DIR && de->d_name[0] != '.')
				ptrvec_push(&names, strdup(de->d_name));
		closedir(d);
		for (size_t i = 0; i < names.n && r == 0; i++) {
			struct cgroup *cg = NULL;
			korch_error *e = NULL;
			if (cgroup_open(m, NULL, names.items[i], &cg, &e) == 0) {
				r = cgroup_destroy(cg, err);
				cgroup_free(cg);
			}
			korch_error_free(e);
		}
		ptrvec_free(&names, free);
	}
	if (r == 0)
		r = cgroup_manager_remove_parent(m, err);
	cgroup_manager_free(m);
	return r;
}

/* Unmounts everything at or below dir, deepest first (lazily: a busy mount goes when freed). */
static int
unmount_below(const char *dir, korch_error **err)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return error_errno(err, errno, "/proc/self/mountinfo");
	struct ptrvec points = PTRVEC_INIT;
	char line[4096];
	size_t dlen = strlen(dir);
	while (fgets(line, sizeof(line), f)) {
		char mp[4096];
		/* id parent major:minor root mount-point ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (!strncmp(mp, dir, dlen) && (mp[dlen] == '\0' || mp[dlen] == '/'))
			ptrvec_push(&points, strdup(mp));
	}
	fclose(f);
	int r = 0;
	for (size_t i = points.n; i-- > 0;) {
		if (umount2(points.items[i], MNT_DETACH) < 0 && errno != EINVAL &&
		    errno != ENOENT && r == 0)
			r = error_errno(err, errno, "unmount %s", (char *)points.items[i]);
	}
	ptrvec_free(&points, free);
	return r;
}

int
korchd_reset(struct korchd_config *cfg)
{
	char sock[600];
	snprintf(sock, sizeof(sock), "%s/korchd.sock", cfg->run_dir);
	if (socket_alive(sock)) {
		fprintf(stderr,
			"korchd reset: korchd of instance %s is running (%s answers); stop "
			"it first\n",
			cfg->instance, sock);
		return 1;
	}
	_cleanup_error_ korch_error *err = NULL;
	int status = 0;
	if (access(cfg->run_dir, F_OK) == 0 && stop_monitor(cfg, &err) < 0) {
		fprintf(stderr, "korchd reset: stop korch-monitor: %s\n", korch_error_message(err));
		korch_error_free(steal_pointer(&err));
		status = 1;
	}
	if (remove_cgroups(cfg, &err) < 0) {
		fprintf(stderr, "korchd reset: %s\n", korch_error_message(err));
		korch_error_free(steal_pointer(&err));
		status = 1;
	}
	/* The bridge, the pods' veths and the nftables table of the instance (lib/net). */
	if (node_net_reset(cfg->instance, &err) < 0) {
		fprintf(stderr, "korchd reset: network: %s\n", korch_error_message(err));
		korch_error_free(steal_pointer(&err));
		status = 1;
	}
	/* The pods' volume mounts (tmpfs for secrets and tokens) under DATA_DIR/pods. */
	char pods[600];
	snprintf(pods, sizeof(pods), "%s/pods", cfg->data_dir);
	if (unmount_below(pods, &err) < 0) {
		fprintf(stderr, "korchd reset: %s\n", korch_error_message(err));
		korch_error_free(steal_pointer(&err));
		status = 1;
	}
	if (unmount_below(cfg->run_dir, &err) < 0 || rm_rf(cfg->run_dir, &err) < 0) {
		fprintf(stderr, "korchd reset: %s\n", korch_error_message(err));
		korch_error_free(steal_pointer(&err));
		status = 1;
	}
	if (status == 0)
		printf("korchd reset: instance %s: network, cgroups, containers, pod volume mounts "
		       "and run directory %s removed\n",
		       cfg->instance, cfg->run_dir);
	return status;
}
