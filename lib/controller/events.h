/*
 * events.h - recording core/v1 Events as client-go's EventRecorder does: one Event per
 * occurrence, named OBJECT.HEXNANOS, in the object's namespace ("default" for cluster-scoped
 * objects), with involvedObject, source, first/last timestamps and count; a repeat of the same
 * event (object, type, reason, message, source) increments its count and lastTimestamp instead
 * (the EventCorrelator's de-duplication). The write path gives every Event its one-hour lease.
 */
#ifndef KORCH_CONTROLLER_EVENTS_H
#define KORCH_CONTROLLER_EVENTS_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/loop.h>
#include "client/client.h"

struct event_recorder;

int event_recorder_new(struct client *c, korch_clock *clock, struct event_recorder **ret,
		       korch_error **err);
void event_recorder_free(struct event_recorder *r);

/*
 * Records an event about obj from component ("replicaset-controller"). Returns whether an Event
 * was written (failures are logged, never returned: an event never fails a reconcile).
 */
bool event_record(struct event_recorder *r, const char *component, const json_t *obj,
		  const char *type, const char *reason, const char *message);

#endif
