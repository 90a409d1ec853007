/*
 * monitor.h - korch-monitor's server (internal): one per node and run directory, the parent of
 * every container, serving RUNDIR/monitor.sock (monitor-proto.h) on the korch event loop.
 */
#ifndef KORCH_RUNTIME_MONITOR_H
#define KORCH_RUNTIME_MONITOR_H

#include <korch/common.h>

struct monitor_options {
	const char *run_dir; /* RUNDIR: monitor.sock, monitor.lock, containers/ */
	int ready_fd;        /* -1, or an fd that gets "ok\n" once clients can connect */
};

/*
 * Runs the monitor until a shutdown request, SIGTERM or SIGINT: takes RUNDIR/monitor.lock
 * (KORCH_EBUSY when another monitor holds it), re-attaches to the containers RUNDIR/containers
 * records, listens on RUNDIR/monitor.sock (mode 0600) and serves. Containers keep running when
 * it returns. The process should be a child subreaper, single-threaded, and not dumpable.
 */
int monitor_run(const struct monitor_options *opts, korch_error **err);

#endif
