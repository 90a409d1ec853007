/*
 * monitor-conn.h - a connection to korch-monitor driven by the event loop (internal): requests
 * go out at once and their replies, which the monitor may send in any order, come back through
 * callbacks; exit events come through another. The node agent's real backend uses it so that
 * creating a container or running an exec probe never blocks the loop. (monitor-client.h is
 * the blocking client the tools use; both speak monitor-proto.h.)
 */
#ifndef KORCH_NODE_MONITOR_CONN_H
#define KORCH_NODE_MONITOR_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <korch/common.h>
#include <korch/loop.h>

struct mconn;

/* A reply: r 0 with reply (borrowed) on success, or the error the monitor sent. */
typedef void (*mconn_reply_fn)(void *userdata, int r, const korch_error *err, json_t *reply);
/* An event ({"event":"exit","container":{...}}), borrowed; or NULL once the connection broke. */
typedef void (*mconn_event_fn)(void *userdata, json_t *event);

/*
 * Connects to RUNDIR/monitor.sock (starting korch-monitor when none runs, as
 * monitor_client_connect does), says hello and subscribes to exit events, without waiting for
 * the answers: they are read on loop.
 */
int mconn_open(korch_loop *loop, const char *run_dir, const char *monitor_path,
	       mconn_event_fn on_event, void *userdata, struct mconn **ret, korch_error **err);

/*
 * Sends request (borrowed; "id" is added) with n_fds fds (sent, not closed); fn gets the reply
 * once, also when the connection breaks first (KORCH_ESYSTEM) or is freed (KORCH_ECANCELED).
 */
int mconn_call(struct mconn *c, json_t *request, const int *fds, size_t n_fds, mconn_reply_fn fn,
	       void *userdata, korch_error **err);

/* Whether the connection is up (false after the monitor went away). */
bool mconn_up(const struct mconn *c);

void mconn_free(struct mconn *c);

#endif
