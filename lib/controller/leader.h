/*
 * leader.h - leader election on a coordination.k8s.io Lease, as client-go's leaderelection with
 * a LeaseLock does it: a candidate takes the Lease when it is free or its holder has not renewed
 * it for leaseDurationSeconds as this candidate observed it (its own clock, so the holder's clock
 * does not matter), renews it every retry period, and stops leading when it could not renew
 * for the renew deadline (shorter than the lease duration, so the old leader has stopped before
 * anyone else may take over). Every write is conditional on the Lease's resourceVersion.
 */
#ifndef KORCH_CONTROLLER_LEADER_H
#define KORCH_CONTROLLER_LEADER_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/loop.h>
#include "client/client.h"

struct leader;

struct leader_options {
	const char *ns;                     /* the Lease's namespace ("kube-system") */
	const char *name;                   /* its name ("kube-controller-manager") */
	const char *identity;               /* this candidate's holderIdentity */
	int64_t lease_duration_ns;          /* 0: 15 s */
	int64_t renew_deadline_ns;          /* 0: 10 s */
	int64_t retry_period_ns;            /* 0: 2 s */
	void (*on_started)(void *userdata); /* became leader */
	void (*on_stopped)(void *userdata); /* stopped leading */
	void *userdata;
};

/* A candidate over c on loop; campaigns at once (the first attempt runs from the loop). */
int leader_new(struct client *c, korch_loop *loop, const struct leader_options *o,
	       struct leader **ret, korch_error **err);

/*
 * Whether this candidate leads now: it holds the Lease and renewed it within the renew
 * deadline (checked against the clock, not only at the last timer).
 */
bool leader_is_leader(const struct leader *l);

/* Stops campaigning; a leader gives the Lease up (holder "", duration 1 s) first. */
void leader_free(struct leader *l);

#endif
