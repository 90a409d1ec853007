/*
 * expectations.h - what a controller is waiting to see in its informer after it created or
 * deleted objects (client-go's UIDTrackingControllerExpectations): until the informer shows
 * the creates and deletes a controller made, its cache is behind its own writes, and acting on
 * it would create duplicates or delete twice. A controller skips managing replicas while its
 * expectations are unmet; they expire after five minutes so a lost event cannot block it.
 */
#ifndef KORCH_CONTROLLER_EXPECTATIONS_H
#define KORCH_CONTROLLER_EXPECTATIONS_H

#include <stdbool.h>
#include <stdint.h>

struct expectations;

/* Expectations expire this long after they were set (ExpectationsTimeout). */
#define EXPECTATIONS_TIMEOUT_NS (300LL * 1000000000LL)

struct expectations *expectations_new(void);
void expectations_free(struct expectations *e);

/* Expects n creations for controller key (replacing what was expected), at now_ns. */
void expect_creations(struct expectations *e, const char *key, int64_t n, int64_t now_ns);
/* Expects the deletion of the object obj_key for controller key (adds to what was expected). */
void expect_deletion(struct expectations *e, const char *key, const char *obj_key, int64_t now_ns);
/* A creation for key was observed (or a create failed: it will never be). */
void creation_observed(struct expectations *e, const char *key);
/* The deletion of obj_key was observed (or failed). */
void deletion_observed(struct expectations *e, const char *key, const char *obj_key);
/* Whether key may act: nothing outstanding, or expired, or never set. */
bool expectations_satisfied(struct expectations *e, const char *key, int64_t now_ns);
/* Forgets key (its controller object was deleted). */
void expectations_delete(struct expectations *e, const char *key);

#endif
