/*
 * events.c - the event recorder (see events.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/events.h"
#include "controller/util.h"

/* client-go keeps 4096 events in its de-duplication cache. */
#define EVENT_CACHE_MAX 4096

struct seen_event {
	char *ns;      /* the Event's namespace */
	char *name;    /* and name */
	int64_t count; /* how many times it happened */
};

struct event_recorder {
	struct client *client; /* borrowed */
	korch_clock *clock;    /* borrowed */
	struct hashmap seen;   /* identity -> struct seen_event * */
	int64_t last_ns;       /* the time in the last Event's name: names never repeat */
};

static void
seen_free(void *p)
{
	struct seen_event *s = p;
	if (!s)
		return;
	free(s->ns);
	free(s->name);
	free(s);
}

int
event_recorder_new(struct client *c, korch_clock *clock, struct event_recorder **ret,
		   korch_error **err)
{
	struct event_recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return error_oom(err);
	r->client = c;
	r->clock = clock;
	*ret = r;
	return 0;
}

void
event_recorder_free(struct event_recorder *r)
{
	if (!r)
		return;
	hashmap_free(&r->seen, seen_free);
	free(r);
}

static const struct kind_info *
event_kind(void)
{
	return kind_lookup("v1", "Event");
}

/* Increments the count of an Event recorded before; false when it is gone (expired). */
static bool
bump(struct event_recorder *r, struct seen_event *s, const char *now)
{
	json_t *patch =
		json_pack("{s:I, s:s}", "count", (json_int_t)(s->count + 1), "lastTimestamp", now);
	struct client_write_opts wo = { .field_manager = "kube-controller-manager" };
	korch_error *e = NULL;
	int rc = client_patch(r->client, event_kind(), s->ns, s->name, CLIENT_PATCH_MERGE, patch,
			      NULL, &wo, NULL, &e);
	json_decref(patch);
	korch_error_free(e);
	if (rc < 0)
		return false;
	s->count++;
	return true;
}

bool
event_record(struct event_recorder *r, const char *component, const json_t *obj, const char *type,
	     const char *reason, const char *message)
{
	const char *ns = jp_str(obj, "metadata.namespace");
	if (!ns || !*ns)
		ns = "default";
	const char *uid = jp_str0(obj, "metadata.uid");
	int64_t wall = korch_clock_wall_ns(r->clock);
	char now[32];
	time_text(wall, now);
	char *identity = NULL;
	if (asprintf(&identity, "%s\x1f%s\x1f%s\x1f%s\x1f%s", component, uid, type, reason,
		     message) < 0)
		return false;
	struct seen_event *s = hashmap_get(&r->seen, identity);
	if (s && bump(r, s, now)) {
		free(identity);
		return true;
	}
	if (s)
		seen_free(hashmap_remove(&r->seen, identity));
	/* OBJECT.%x of the time; a test clock that stands still still gets distinct names. */
	int64_t stamp = wall > r->last_ns ? wall : r->last_ns + 1;
	r->last_ns = stamp;
	char name[320];
	snprintf(name, sizeof(name), "%.240s.%llx", jp_str0(obj, "metadata.name"),
		 (unsigned long long)stamp);
	json_t *involved = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", jp_str0(obj, "kind"),
				     "name", jp_str0(obj, "metadata.name"), "uid", uid,
				     "apiVersion", jp_str0(obj, "apiVersion"), "resourceVersion",
				     jp_str0(obj, "metadata.resourceVersion"));
	if (involved && jp_str(obj, "metadata.namespace"))
		json_object_set_new(involved, "namespace", json_string(ns));
	json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:{s:s}, s:s, s:s, s:i, "
			       "s:s, s:s, s:s}",
			       "apiVersion", "v1", "kind", "Event", "metadata", "name", name,
			       "namespace", ns, "involvedObject", involved, "reason", reason,
			       "message", message, "source", "component", component,
			       "firstTimestamp", now, "lastTimestamp", now, "count", 1, "type",
			       type, "reportingComponent", component, "reportingInstance", "");
	struct client_write_opts wo = { .field_manager = "kube-controller-manager" };
	korch_error *e = NULL;
	int rc = ev ? client_create(r->client, ev, &wo, NULL, &e) : KORCH_ENOMEM;
	json_decref(ev);
	if (rc < 0) {
		log_warn("events", "event %s %s on %s: %s", type, reason,
			 jp_str0(obj, "metadata.name"), e ? korch_error_message(e) : "no memory");
		korch_error_free(e);
		free(identity);
		return false;
	}
	if (r->seen.n >= EVENT_CACHE_MAX) {
		hashmap_free(&r->seen, seen_free);
		r->seen = (struct hashmap)HASHMAP_INIT;
	}
	s = calloc(1, sizeof(*s));
	if (s && (s->ns = strdup(ns)) && (s->name = strdup(name))) {
		s->count = 1;
		if (hashmap_put(&r->seen, identity, s, NULL) < 0)
			seen_free(s);
	} else {
		seen_free(s);
	}
	free(identity);
	return true;
}
