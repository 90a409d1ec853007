/*
 * monitor-proto.h - korch-monitor's wire protocol (internal), shared by the monitor and its
 * clients.
 *
 * A Unix stream socket, RUNDIR/monitor.sock (mode 0600). Each message is a frame: a 4-byte
 * big-endian length, then that many bytes of compact JSON. File descriptors (an exec's stdio)
 * travel as SCM_RIGHTS on the first byte of their message, which says how many with "fds".
 *
 *   client: {"op":"hello","version":1}        monitor: {"id":0,"ok":true,"version":1,"pid":N}
 *   client: {"op":OP,"id":N,...}              monitor: {"id":N,"ok":true,...}
 *                                                   or {"id":N,"ok":false,"error":{"code":C,
 *                                                       "errno":E,"message":"..."}}
 *   monitor, after "subscribe": {"event":"exit","container":{...state...}}
 *
 * The first message must be hello; a client speaking another version gets a KORCH_EPROTO error
 * naming both versions and the connection is closed. Replies may come in any order (wait,
 * exec and delete finish later); match them by id.
 *
 * Operations ("container" is an id; replies carry "container" as a state object, see
 * monitor-client.h):
 *   create {"spec"}                  once the container is set up ("created")
 *   start {"container"}              once its process runs (or its execve failed)
 *   kill {"container","signal"}      signal: a number or a name ("SIGTERM", "TERM")
 *   wait {"container"}               once it exited and its output is in the log
 *   exec {"container","process"} + 3 fds (stdin, stdout, stderr); {"exitCode","signal"}
 *   state {"container"}, list {} ("containers": [...])
 *   stats {"container"}              {"stats": {"cpuUsageNs", "memoryUsageBytes",
 *                                    "memoryWorkingSetBytes", "pidsCurrent", "oomKills"}}
 *   update {"container","resources"} new cgroup limits (the spec's "resources", whole)
 *   delete {"container","gracePeriodMs"} stop signal, SIGKILL after the grace (10 s by
 *                                    default), then nothing of it is left
 *   subscribe {}                     exit events from now on
 *   shutdown {}                      the monitor exits; containers keep running
 */
#ifndef KORCH_RUNTIME_MONITOR_PROTO_H
#define KORCH_RUNTIME_MONITOR_PROTO_H

#include <stddef.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/macro.h"
#include "base/strbuf.h"

#define MONITOR_PROTOCOL_VERSION 1
#define MONITOR_MESSAGE_MAX (4 * 1024 * 1024)
#define MONITOR_FDS_MAX 3    /* fds one message may carry */
#define MONITOR_FDS_QUEUE 16 /* fds received and not yet claimed */

/* Appends msg's frame to out. */
int proto_encode(json_t *msg, struct strbuf *out, korch_error **err);

/*
 * Sends msg as one frame with n_fds fds (at most MONITOR_FDS_MAX) on a socket, waiting while it
 * would block. A peer that went away is KORCH_ESYSTEM with EPIPE.
 */
int proto_send(int fd, json_t *msg, const int *fds, size_t n_fds, korch_error **err);

/* Collects frames and fds from a socket. */
struct proto_reader {
	char *buf;                  /* received bytes not yet returned as messages */
	size_t len;                 /* bytes in buf */
	size_t cap;                 /* bytes allocated */
	int fds[MONITOR_FDS_QUEUE]; /* fds received, in order, not yet taken */
	size_t n_fds;               /* entries in fds */
};

#define PROTO_READER_INIT               \
	{                               \
		.buf = NULL, .n_fds = 0 \
	}

/*
 * Reads what the socket has: returns the byte count (> 0), 0 at end of stream, -EAGAIN when a
 * non-blocking socket has nothing, or a negative KORCH_E code.
 */
int proto_reader_fill(struct proto_reader *r, int fd, korch_error **err);

/*
 * Takes the next whole message: 1 with *ret set, 0 when more bytes are needed, or a negative
 * code for a frame that is too large or not a JSON object.
 */
int proto_reader_next(struct proto_reader *r, json_t **ret, korch_error **err);

/* Takes n fds that came with the message just returned (the caller owns them). */
int proto_reader_take_fds(struct proto_reader *r, size_t n, int *ret_fds, korch_error **err);
void proto_reader_clear(struct proto_reader *r);

/* {"code":C,"errno":E,"message":"..."} for an error reply. */
json_t *proto_error_json(const korch_error *err);

/* Rebuilds the error carried by a reply's "error" object; returns its code. */
int proto_error_from_json(json_t *error, korch_error **err);

#endif
