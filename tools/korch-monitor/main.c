/*
 * korch-monitor - the per-node parent of korch's containers (see lib/runtime/monitor.h).
 * Clients start it on first use (lib/runtime/monitor-client.c); it runs detached until asked to
 * shut down, and its containers outlive it.
 *
 * It links the library's internals statically: it re-executes itself from a sealed memfd
 * copy (below), which must not depend on finding libkorch.so next to the original file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#include <korch/log.h>
#include "base/error.h"
#include "base/fs.h"
#include "runtime/monitor.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

/*
 * CVE-2019-5736: a container process that can open /proc/PID/exe of a runtime process (one of
 * ours between clone and execve, whose exe is this binary) could write the host's korch-monitor
 * through it. So the monitor never runs from its file: on start it copies itself into a memfd,
 * seals it against any write, and re-executes from there (once per monitor, not per container:
 * every clone then has the sealed copy as its exe). The monitor is also not dumpable, so no
 * container process passes the ptrace check that /proc/PID/exe and /proc/PID/mem need; execve
 * makes the container's own process dumpable again.
 */
static int
run_from_sealed_copy(char **argv)
{
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS) {
		close(self);
		return 0;
	}
	int mfd = memfd_create("korch-monitor", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL)
		mfd = memfd_create("korch-monitor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		int e = errno;
		close(self);
		return -e;
	}
	struct stat st;
	if (fstat(self, &st) < 0)
		goto fail;
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			goto fail;
	}
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		goto fail;
	close(self);
	fexecve(mfd, argv, environ);
	return -errno;
fail:;
	int e = errno;
	close(self);
	close(mfd);
	return -e;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: korch-monitor --run-dir DIR [--ready-fd FD] [--log-level LEVEL]\n"
		   "The per-node parent of korch's containers; clients start it on first use.\n");
}

static void
report(int ready_fd, const korch_error *err)
{
	fprintf(stderr, "korch-monitor: %s\n", korch_error_message(err));
	if (ready_fd < 0)
		return;
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "error %d %s\n", korch_error_code(err),
			 korch_error_message(err));
	if (write_all(ready_fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) <
	    0) {
		/* The starter is gone; stderr has it. */
	}
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "ready-fd", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct monitor_options opts = { .ready_fd = -1 };
	korch_log_level level = KORCH_LOG_INFO;
	int c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'r': opts.run_dir = optarg; break;
		case 'f': opts.ready_fd = atoi(optarg); break;
		case 'l':
			if (korch_log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "korch-monitor: unknown log level %s\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("korch-monitor %s\n", KORCH_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!opts.run_dir || opts.run_dir[0] != '/') {
		usage(stderr);
		return 2;
	}
	_cleanup_error_ korch_error *err = NULL;
	int r = run_from_sealed_copy(argv);
	if (r < 0) {
		error_errno(&err, r, "re-execute from a sealed copy");
		report(opts.ready_fd, err);
		return 1;
	}
	if (opts.ready_fd >= 0)
		fcntl(opts.ready_fd, F_SETFD, FD_CLOEXEC);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0) {
		error_errno(&err, errno, "prctl");
		report(opts.ready_fd, err);
		return 1;
	}
	umask(022);
	if (chdir("/") < 0) {
		/* Nothing depends on the cwd. */
	}
	korch_log_set_handler(korch_log_stderr, level, NULL);
	if (monitor_run(&opts, &err) < 0) {
		report(opts.ready_fd, err);
		return 1;
	}
	return 0;
}
