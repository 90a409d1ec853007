/*
 * leader.c - leader election on a Lease (see leader.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "controller/leader.h"
#include "controller/util.h"

struct leader {
	struct client *client;                /* borrowed */
	korch_loop *loop;                     /* borrowed */
	korch_clock *clock;                   /* the loop's */
	char *ns, *name, *identity;           /* the Lease and who we are */
	int64_t lease_ns, renew_ns, retry_ns; /* timings */
	void (*on_started)(void *), (*on_stopped)(void *);
	void *userdata;
	struct loop_source *timer; /* the next attempt */
	bool leading;              /* we hold the Lease */
	int64_t last_renew_ns;     /* monotonic time of our last successful write */
	json_t *observed;          /* the Lease's spec as we last saw it */
	int64_t observed_ns;       /* monotonic time it last changed */
};

static const struct kind_info *
lease_kind(void)
{
	return kind_lookup("coordination.k8s.io/v1", "Lease");
}

static void
observe(struct leader *l, const json_t *spec, int64_t now)
{
	if (l->observed && spec && json_equal(l->observed, spec))
		return;
	json_decref(l->observed);
	l->observed = spec ? json_deep_copy(spec) : NULL;
	l->observed_ns = now;
}

static json_t *
new_spec(struct leader *l, const json_t *old, bool was_holder, int64_t wall)
{
	char now[32];
	micro_time_text(wall, now);
	int64_t transitions = jp_int(old, "leaseTransitions", 0);
	const char *acquired = was_holder ? jp_str(old, "acquireTime") : NULL;
	return json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", l->identity,
			 "leaseDurationSeconds", (json_int_t)(l->lease_ns / NSEC_PER_SEC),
			 "acquireTime", acquired ? acquired : now, "renewTime", now,
			 "leaseTransitions", (json_int_t)(transitions + (was_holder ? 0 : 1)));
}

/* tryAcquireOrRenew: true when we hold the Lease after this attempt. */
static bool
try_acquire_or_renew(struct leader *l)
{
	int64_t now = korch_clock_now_ns(l->clock);
	int64_t wall = korch_clock_wall_ns(l->clock);
	struct client_write_opts wo = { .field_manager = "kube-controller-manager" };
	_cleanup_json_ json_t *lease = NULL;
	korch_error *e = NULL;
	int r = client_get(l->client, lease_kind(), l->ns, l->name, &lease, &e);
	if (r == KORCH_ENOTFOUND) {
		korch_error_free(e);
		e = NULL;
		_cleanup_json_ json_t *spec = new_spec(l, NULL, false, wall);
		json_object_set_new(spec, "leaseTransitions", json_integer(0));
		_cleanup_json_ json_t *obj =
			json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion",
				  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
				  l->name, "namespace", l->ns, "spec", spec);
		r = client_create(l->client, obj, &wo, NULL, &e);
		if (r < 0) {
			log_debug("leader", "create lease %s/%s: %s", l->ns, l->name,
				  korch_error_message(e));
			korch_error_free(e);
			return false;
		}
		observe(l, spec, now);
		return true;
	}
	if (r < 0) {
		log_warn("leader", "get lease %s/%s: %s", l->ns, l->name, korch_error_message(e));
		korch_error_free(e);
		return false;
	}
	const json_t *spec = json_object_get(lease, "spec");
	observe(l, spec, now);
	const char *holder = jp_str0(spec, "holderIdentity");
	int64_t duration_ns = jp_int(spec, "leaseDurationSeconds", 0) * NSEC_PER_SEC;
	bool mine = streq(holder, l->identity);
	if (*holder && !mine && l->observed_ns + duration_ns > now)
		return false; /* held, and renewed within its duration as we saw it */
	json_t *next = new_spec(l, spec, mine, wall);
	json_object_set_new(lease, "spec", next);
	r = client_update(l->client, lease, NULL, &wo, NULL, &e);
	if (r < 0) {
		log_debug("leader", "update lease %s/%s: %s", l->ns, l->name,
			  korch_error_message(e));
		korch_error_free(e);
		return false;
	}
	observe(l, next, now);
	return true;
}

static void
on_timer(struct loop_source *src, void *userdata)
{
	struct leader *l = userdata;
	int64_t now = korch_clock_now_ns(l->clock);
	if (try_acquire_or_renew(l)) {
		l->last_renew_ns = now;
		if (!l->leading) {
			l->leading = true;
			log_info("leader", "%s acquired lease %s/%s", l->identity, l->ns, l->name);
			if (l->on_started)
				l->on_started(l->userdata);
		}
	} else if (l->leading && now - l->last_renew_ns > l->renew_ns) {
		l->leading = false;
		log_warn("leader", "%s lost lease %s/%s", l->identity, l->ns, l->name);
		if (l->on_stopped)
			l->on_stopped(l->userdata);
	}
	loop_timer_set(l->timer, korch_clock_now_ns(l->clock) + l->retry_ns);
}

int
leader_new(struct client *c, korch_loop *loop, const struct leader_options *o, struct leader **ret,
	   korch_error **err)
{
	struct leader *l = calloc(1, sizeof(*l));
	if (!l)
		return error_oom(err);
	l->client = c;
	l->loop = loop;
	l->clock = korch_loop_clock(loop);
	l->lease_ns = o->lease_duration_ns ? o->lease_duration_ns : 15 * NSEC_PER_SEC;
	l->renew_ns = o->renew_deadline_ns ? o->renew_deadline_ns : 10 * NSEC_PER_SEC;
	l->retry_ns = o->retry_period_ns ? o->retry_period_ns : 2 * NSEC_PER_SEC;
	l->on_started = o->on_started;
	l->on_stopped = o->on_stopped;
	l->userdata = o->userdata;
	if (l->renew_ns >= l->lease_ns) {
		free(l);
		return error_set(err, KORCH_EINVALID,
				 "leaseDuration must be greater than renewDeadline");
	}
	if (!(l->ns = strdup(o->ns)) || !(l->name = strdup(o->name)) ||
	    !(l->identity = strdup(o->identity))) {
		leader_free(l);
		return error_oom(err);
	}
	int r = loop_add_timer(loop, korch_clock_now_ns(l->clock), on_timer, l, &l->timer, err);
	if (r < 0) {
		leader_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

bool
leader_is_leader(const struct leader *l)
{
	return l->leading && korch_clock_now_ns(l->clock) - l->last_renew_ns <= l->renew_ns;
}

/* release(): the holder gives the Lease up so that another candidate takes it at once. */
static void
release(struct leader *l)
{
	_cleanup_json_ json_t *lease = NULL;
	if (client_get(l->client, lease_kind(), l->ns, l->name, &lease, NULL) < 0)
		return;
	if (!streq(jp_str(lease, "spec.holderIdentity"), l->identity))
		return;
	char now[32];
	micro_time_text(korch_clock_wall_ns(l->clock), now);
	json_t *spec =
		json_pack("{s:s, s:i, s:s, s:s, s:I}", "holderIdentity", "", "leaseDurationSeconds",
			  1, "acquireTime", now, "renewTime", now, "leaseTransitions",
			  (json_int_t)jp_int(lease, "spec.leaseTransitions", 0));
	json_object_set_new(lease, "spec", spec);
	struct client_write_opts wo = { .field_manager = "kube-controller-manager" };
	client_update(l->client, lease, NULL, &wo, NULL, NULL);
}

void
leader_free(struct leader *l)
{
	if (!l)
		return;
	if (l->leading)
		release(l);
	loop_source_free(l->timer);
	json_decref(l->observed);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l);
}
