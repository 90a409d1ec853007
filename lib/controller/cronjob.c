/*
 * cronjob.c - the CronJob controller (Kubernetes' cronjob_controllerv2.go): at each scheduled
 * time (read in spec.timeZone, on the loop's clock) it creates the Job NAME-MINUTES from the job
 * template, honouring concurrencyPolicy (Allow, Forbid, Replace), startingDeadlineSeconds,
 * suspend and the successful/failed history limits; status.active, lastScheduleTime and
 * lastSuccessfulTime follow its Jobs. A Job name is a function of its scheduled time, so a
 * restart never starts one twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/cron.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "controller/controllers.h"

#define SCHEDULED_ANNOTATION "batch.kubernetes.io/cronjob-scheduled-timestamp"
/* nextScheduleDelta: a requeue lands this long after the scheduled time. */
#define NEXT_DELTA_NS (100 * NSEC_PER_MSEC)

struct cj_ctrl {
	struct informer *cjs;  /* CronJobs */
	struct informer *jobs; /* Jobs */
};

static struct cj_ctrl *
state(struct ctrl *ctl)
{
	return ctl->data;
}

static void
job_changed(const json_t *job, void *userdata)
{
	ctrl_enqueue_controller_of(userdata, job, "CronJob");
}

static void
job_updated(const json_t *old, const json_t *job, void *userdata)
{
	ctrl_enqueue_controller_of(userdata, job, "CronJob");
}

static int
cj_init(struct ctrl *ctl, korch_error **err)
{
	struct cj_ctrl *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	ctl->data = s;
	s->cjs = ctrl_watch_primary(ctl, "batch/v1", "CronJob");
	s->jobs = cm_informer(ctl->cm, "batch/v1", "Job");
	if (!s->cjs || !s->jobs)
		return error_oom(err);
	struct informer_handlers h = { job_changed, job_updated, job_changed, ctl };
	return informer_add_handlers(s->jobs, &h, err);
}

static void
cj_fini(struct ctrl *ctl)
{
	free(ctl->data);
}

/* ---- jobs ---- */

static const char *
finished_type(const json_t *job)
{
	size_t i;
	json_t *c;
	json_array_foreach (jp_get(job, "status.conditions"), i, c)
		if ((streq(jp_str(c, "type"), "Complete") || streq(jp_str(c, "type"), "Failed")) &&
		    streq(jp_str(c, "status"), "True"))
			return jp_str(c, "type");
	return NULL;
}

static bool
in_active(const json_t *cj, const char *uid)
{
	size_t i;
	json_t *ref;
	json_array_foreach (jp_get(cj, "status.active"), i, ref)
		if (streq(jp_str(ref, "uid"), uid))
			return true;
	return false;
}

static bool
remove_active(json_t *cj, const char *uid)
{
	json_t *list = json_object_get(json_object_get(cj, "status"), "active");
	size_t i;
	json_t *ref;
	json_array_foreach (list, i, ref)
		if (streq(jp_str(ref, "uid"), uid)) {
			json_array_remove(list, i);
			if (json_array_size(list) == 0)
				json_object_del(json_object_get(cj, "status"), "active");
			return true;
		}
	return false;
}

static json_t *
job_ref(const json_t *job)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "Job", "namespace",
			 jp_str0(job, "metadata.namespace"), "name", jp_str0(job, "metadata.name"),
			 "uid", jp_str0(job, "metadata.uid"), "apiVersion", "batch/v1",
			 "resourceVersion", jp_str0(job, "metadata.resourceVersion"));
}

/* deleteJob: background propagation, out of the active list, an event. */
static bool
delete_job(struct ctrl *ctl, json_t *cj, const json_t *job)
{
	struct client_delete_opts o = { .grace_period_s = -1,
					.propagation = CLIENT_PROPAGATION_BACKGROUND };
	korch_error *e = NULL;
	int r = cm_delete(ctl, K_JOB, jp_str(job, "metadata.namespace"),
			  jp_str0(job, "metadata.name"), &o, &e);
	if (r < 0 && r != KORCH_ENOTFOUND) {
		cm_event(ctl, cj, "Warning", "FailedDelete", "Deleted job: %s",
			 korch_error_message(e));
		korch_error_free(e);
		return false;
	}
	korch_error_free(e);
	remove_active(cj, jp_str(job, "metadata.uid"));
	cm_event(ctl, cj, "Normal", "SuccessfulDelete", "Deleted job %s",
		 jp_str0(job, "metadata.name"));
	return true;
}

/* ---- schedule ---- */

/*
 * mostRecentScheduleTime: the latest scheduled time in (earliest, now], and how many were
 * missed (0, some, or more than 100). Returns 0 when there is none.
 */
static int64_t
most_recent(const json_t *cj, const struct cron_schedule *sched, const char *zone, int64_t now,
	    bool with_deadline, int64_t *ret_earliest, int *ret_missed, bool *ret_bad)
{
	int64_t earliest = jp_time(cj, "metadata.creationTimestamp", now);
	int64_t last = jp_time(cj, "status.lastScheduleTime", 0);
	if (last)
		earliest = last;
	const json_t *deadline = jp_get(cj, "spec.startingDeadlineSeconds");
	if (with_deadline && json_is_integer(deadline)) {
		int64_t d = now - json_integer_value(deadline) * NSEC_PER_SEC;
		if (d > earliest)
			earliest = d;
	}
	*ret_earliest = earliest;
	*ret_missed = 0;
	*ret_bad = false;
	int64_t t1 = cron_next_zoned(sched, zone, earliest, NULL);
	int64_t t2 = t1 ? cron_next_zoned(sched, zone, t1, NULL) : 0;
	if (!t1 || now < t1)
		return 0;
	if (!t2 || now < t2)
		return t1;
	int64_t between = (t2 - t1 + NSEC_PER_SEC / 2) / NSEC_PER_SEC;
	if (between < 1) {
		*ret_bad = true;
		return 0;
	}
	int64_t missed = (now - t1) / NSEC_PER_SEC / between + 1;
	int64_t t = t1 + (missed - 2) * between * NSEC_PER_SEC;
	int64_t recent = 0;
	for (t = cron_next_zoned(sched, zone, t, NULL); t && t <= now;
	     t = cron_next_zoned(sched, zone, t, NULL))
		recent = t;
	*ret_missed = missed > 100 ? 2 : missed > 0 ? 1 : 0;
	return recent;
}

/* nextScheduleTimeDuration: how long until the next look (100 ms past the next time). */
static int64_t
next_delay(const json_t *cj, const struct cron_schedule *sched, const char *zone, int64_t now)
{
	int64_t earliest;
	int missed;
	bool bad;
	int64_t recent = most_recent(cj, sched, zone, now, false, &earliest, &missed, &bad);
	if (bad)
		recent = now;
	else if (!recent)
		recent = missed ? now : earliest;
	int64_t next = cron_next_zoned(sched, zone, recent, NULL);
	if (!next)
		return -1;
	return next + NEXT_DELTA_NS - now;
}

/* time.RFC3339 in a zone: "2026-11-26T16:00:00+01:00", "Z" at offset 0. */
static void
rfc3339_in(int64_t wall_ns, const char *zone, char buf[static 40])
{
	int32_t off = 0;
	tz_offset(zone, wall_ns / NSEC_PER_SEC, &off, NULL);
	char t[32];
	format_rfc3339(wall_ns + (int64_t)off * NSEC_PER_SEC, false, t);
	t[strlen(t) - 1] = '\0'; /* drop the Z */
	if (off == 0)
		snprintf(buf, 40, "%sZ", t);
	else
		snprintf(buf, 40, "%s%c%02d:%02d", t, off < 0 ? '-' : '+', abs(off) / 3600,
			 abs(off) % 3600 / 60);
}

/* getJobFromTemplate2. */
static json_t *
job_from_template(const json_t *cj, int64_t scheduled, const char *zone)
{
	const json_t *tmpl = jp_get(cj, "spec.jobTemplate");
	const json_t *l = jp_get(tmpl, "metadata.labels");
	const json_t *a = jp_get(tmpl, "metadata.annotations");
	json_t *labels = json_is_object(l) ? json_deep_copy(l) : json_object();
	json_t *annotations = json_is_object(a) ? json_deep_copy(a) : json_object();
	char ts[40];
	rfc3339_in(scheduled, zone, ts);
	json_object_set_new(annotations, SCHEDULED_ANNOTATION, json_string(ts));
	char name[300];
	snprintf(name, sizeof(name), "%s-%lld", jp_str0(cj, "metadata.name"),
		 (long long)(scheduled / NSEC_PER_SEC / 60));
	json_t *meta = json_pack("{s:s, s:s, s:o, s:o, s:[o]}", "name", name, "namespace",
				 jp_str0(cj, "metadata.namespace"), "labels", labels, "annotations",
				 annotations, "ownerReferences", controller_ref_new(cj, K_CRON));
	if (json_object_size(labels) == 0)
		json_object_del(meta, "labels");
	const json_t *spec = json_object_get(tmpl, "spec");
	return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "batch/v1", "kind", "Job",
			 "metadata", meta, "spec", spec ? json_deep_copy(spec) : json_object());
}

/* ---- syncCronJob ---- */

static void
collect_owned(const json_t *job, void *userdata)
{
	json_array_append((json_t *)userdata, (json_t *)job);
}

/* Returns whether the status changed; *ret_delay is the next look (-1: none). */
static int
sync_cronjob(struct ctrl *ctl, json_t *cj, json_t *jobs, bool *ret_update, int64_t *ret_delay,
	     korch_error **err)
{
	int64_t now = cm_wall(ctl->cm);
	bool update = false;
	*ret_delay = -1;
	size_t i;
	json_t *job;
	json_array_foreach (jobs, i, job) {
		const char *uid = jp_str0(job, "metadata.uid");
		const char *fin = finished_type(job);
		bool found = in_active(cj, uid);
		if (!found && !fin) {
			/* The cache may be behind our own status write: ask the store. */
			json_t *fresh = NULL;
			bool listed = client_get(cm_client(ctl->cm), K_CRON,
						 jp_str(cj, "metadata.namespace"),
						 jp_str0(cj, "metadata.name"), &fresh, NULL) == 0 &&
				      in_active(fresh, uid);
			json_decref(fresh);
			if (!listed)
				cm_event(
					ctl, cj, "Warning", "UnexpectedJob",
					"Saw a job that the controller did not create or forgot: %s",
					jp_str0(job, "metadata.name"));
		} else if (found && fin) {
			remove_active(cj, uid);
			cm_event(ctl, cj, "Normal", "SawCompletedJob",
				 "Saw completed job: %s, condition: %s",
				 jp_str0(job, "metadata.name"), fin);
			update = true;
		}
		if (streq(fin, "Complete")) {
			int64_t done = jp_time(job, "status.completionTime", 0);
			int64_t last = jp_time(cj, "status.lastSuccessfulTime", 0);
			if (done && done > last) {
				json_object_set(jp_obj(cj, "status"), "lastSuccessfulTime",
						(json_t *)jp_get(job, "status.completionTime"));
				update = true;
			}
		}
	}
	/* Active references whose Job is gone (asking the store, not the cache). */
	_cleanup_json_ json_t *active = json_deep_copy(jp_get(cj, "status.active"));
	json_array_foreach (active, i, job) {
		bool child = false;
		size_t j;
		json_t *o;
		json_array_foreach (jobs, j, o)
			child |= streq(jp_str(o, "metadata.uid"), jp_str(job, "uid"));
		if (child)
			continue;
		json_t *live = NULL;
		korch_error *e = NULL;
		int r = client_get(cm_client(ctl->cm), K_JOB, jp_str(job, "namespace"),
				   jp_str0(job, "name"), &live, &e);
		json_decref(live);
		if (r == KORCH_ENOTFOUND) {
			korch_error_free(e);
			cm_event(ctl, cj, "Normal", "MissingJob", "Active job went missing: %s",
				 jp_str0(job, "name"));
			remove_active(cj, jp_str(job, "uid"));
			update = true;
		} else if (r < 0) {
			*ret_update = update;
			return error_propagate(err, &e, r);
		}
	}
	*ret_update = update;
	if (jp_get(cj, "metadata.deletionTimestamp"))
		return 0;
	const char *zone = jp_str(cj, "spec.timeZone");
	if (zone) {
		char msg[160];
		if (!cron_load_location(zone, msg, sizeof(msg))) {
			cm_event(ctl, cj, "Warning", "UnknownTimeZone",
				 "invalid timeZone: \"%s\": %s", zone, msg);
			return 0;
		}
	}
	if (jp_true(cj, "spec.suspend"))
		return 0;
	struct cron_schedule sched;
	korch_error *pe = NULL;
	char spec[600];
	if (zone)
		snprintf(spec, sizeof(spec), "TZ=%s %s", zone, jp_str0(cj, "spec.schedule"));
	else
		snprintf(spec, sizeof(spec), "%s", jp_str0(cj, "spec.schedule"));
	if (cron_parse(spec, &sched, &pe) < 0) {
		cm_event(ctl, cj, "Warning", "UnparseableSchedule",
			 "unparseable schedule: \"%s\" : %s", jp_str0(cj, "spec.schedule"),
			 korch_error_message(pe));
		korch_error_free(pe);
		return 0;
	}
	int64_t earliest;
	int missed;
	bool bad;
	int64_t scheduled = most_recent(cj, &sched, zone, now, true, &earliest, &missed, &bad);
	if (bad) {
		cm_event(ctl, cj, "Warning", "InvalidSchedule", "invalid schedule: %s : %s",
			 jp_str0(cj, "spec.schedule"),
			 "time difference between two schedules is less than 1 second");
		return 0;
	}
	if (missed == 2)
		cm_event(
			ctl, cj, "Warning", "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
			"or check clock skew");
	*ret_delay = next_delay(cj, &sched, zone, now);
	if (!scheduled || scheduled > now)
		return 0;
	const json_t *deadline = jp_get(cj, "spec.startingDeadlineSeconds");
	if (json_is_integer(deadline) &&
	    scheduled + json_integer_value(deadline) * NSEC_PER_SEC < now) {
		/* time.RFC1123Z in UTC, with English names whatever the locale. */
		static const char *const days[] = {
			"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
		};
		static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
						      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		char when[64];
		time_t t = (time_t)(scheduled / NSEC_PER_SEC);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(when, sizeof(when), "%s, %02d %s %04d %02d:%02d:%02d +0000",
			 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		cm_event(ctl, cj, "Warning", "MissSchedule",
			 "Missed scheduled time to start a job: %s", when);
		return 0;
	}
	_cleanup_json_ json_t *req = job_from_template(cj, scheduled, zone);
	const char *req_name = jp_str0(req, "metadata.name");
	json_array_foreach (jp_get(cj, "status.active"), i, job)
		if (streq(jp_str(job, "name"), req_name))
			return 0;
	if (jp_time(cj, "status.lastScheduleTime", 0) == scheduled)
		return 0;
	const char *policy = jp_str(cj, "spec.concurrencyPolicy");
	if (streq(policy, "Forbid") && json_array_size(jp_get(cj, "status.active")) > 0) {
		cm_event(
			ctl, cj, "Normal", "JobAlreadyActive",
			"Not starting job because prior execution is running and concurrency policy "
			"is Forbid");
		return 0;
	}
	if (streq(policy, "Replace")) {
		_cleanup_json_ json_t *running = json_deep_copy(jp_get(cj, "status.active"));
		json_array_foreach (running, i, job) {
			json_t *live = NULL;
			korch_error *e = NULL;
			int r = client_get(cm_client(ctl->cm), K_JOB, jp_str(job, "namespace"),
					   jp_str0(job, "name"), &live, &e);
			if (r < 0) {
				cm_event(ctl, cj, "Warning", "FailedGet", "Get job: %s",
					 korch_error_message(e));
				return error_propagate(err, &e, r);
			}
			bool ok = delete_job(ctl, cj, live);
			json_decref(live);
			if (!ok)
				return error_set(err, KORCH_ESYSTEM, "could not replace job %s/%s",
						 jp_str0(job, "namespace"), jp_str0(job, "name"));
			*ret_update = true;
		}
	}
	json_t *created = NULL;
	korch_error *e = NULL;
	int r = cm_create(ctl, req, &created, &e);
	bool already = false;
	if (r == KORCH_EFORBIDDEN && strstr(korch_error_message(e), "being terminated")) {
		return error_propagate(err, &e, r);
	} else if (r == KORCH_EEXISTS) {
		korch_error_free(e);
		e = NULL;
		already = true;
		if ((r = client_get(cm_client(ctl->cm), K_JOB, jp_str(cj, "metadata.namespace"),
				    req_name, &created, err)) < 0)
			return r;
		if (!controlled_by(created, jp_str(cj, "metadata.uid")) ||
		    in_active(cj, jp_str(created, "metadata.uid"))) {
			json_decref(created);
			return 0;
		}
	} else if (r < 0) {
		cm_event(ctl, cj, "Warning", "FailedCreate", "Error creating job: %s",
			 korch_error_message(e));
		return error_propagate(err, &e, r);
	}
	if (!already)
		cm_event(ctl, cj, "Normal", "SuccessfulCreate", "Created job %s",
			 jp_str0(created, "metadata.name"));
	json_t *st = jp_obj(cj, "status");
	json_t *list = json_object_get(st, "active");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(st, "active", list);
	}
	json_array_append_new(list, job_ref(created));
	json_decref(created);
	char ts[32];
	json_object_set_new(st, "lastScheduleTime", json_string(time_text(scheduled, ts)));
	*ret_update = true;
	*ret_delay = next_delay(cj, &sched, zone, now);
	return 0;
}

static int
by_start(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t tx = jp_time(x, "status.startTime", 0), ty = jp_time(y, "status.startTime", 0);
	if (tx != ty) {
		if (!tx || !ty)
			return tx ? -1 : 1; /* no start time sorts last */
		return tx < ty ? -1 : 1;
	}
	return strcmp(jp_str0(x, "metadata.name"), jp_str0(y, "metadata.name"));
}

/* removeOldestJobs of one kind (Complete or Failed) beyond limit. */
static bool
remove_oldest(struct ctrl *ctl, json_t *cj, const json_t *jobs, const char *type, int64_t limit)
{
	size_t n = 0, i;
	json_t *job;
	json_t **v = calloc(json_array_size(jobs) + 1, sizeof(*v));
	if (!v)
		return false;
	json_array_foreach (jobs, i, job)
		if (streq(finished_type(job), type))
			v[n++] = job;
	bool changed = false;
	if ((int64_t)n > limit) {
		qsort(v, n, sizeof(*v), by_start);
		for (size_t k = 0; k < n - (size_t)limit; k++)
			changed |= delete_job(ctl, cj, v[k]);
	}
	free(v);
	return changed;
}

static int
cj_sync(struct ctrl *ctl, const char *key)
{
	struct cj_ctrl *s = state(ctl);
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (informer_split_key(key, &ns, &name) < 0)
		return KORCH_ENOMEM;
	const json_t *cached = informer_get(s->cjs, ns, name);
	if (!cached)
		return 0;
	_cleanup_json_ json_t *cj = json_deep_copy(cached);
	_cleanup_json_ json_t *all = json_array();
	cm_foreach_owned(ctl->cm, s->jobs, jp_str(cj, "metadata.uid"), collect_owned, all);
	_cleanup_json_ json_t *jobs = json_array();
	size_t i;
	json_t *job;
	json_array_foreach (all, i, job)
		if (controlled_by(job, jp_str(cj, "metadata.uid")))
			json_array_append(jobs, job);
	bool update = false;
	int64_t delay = -1;
	korch_error *e = NULL;
	int r = sync_cronjob(ctl, cj, jobs, &update, &delay, &e);
	if (r < 0)
		return ctrl_fail(ctl, key, r, e);
	if (!jp_get(cj, "metadata.deletionTimestamp")) {
		const json_t *ok = jp_get(cj, "spec.successfulJobsHistoryLimit");
		const json_t *bad = jp_get(cj, "spec.failedJobsHistoryLimit");
		if (json_is_integer(ok))
			update |= remove_oldest(ctl, cj, jobs, "Complete", json_integer_value(ok));
		if (json_is_integer(bad))
			update |= remove_oldest(ctl, cj, jobs, "Failed", json_integer_value(bad));
	}
	if (update && !json_equal(jp_get(cj, "status") ?: json_null(),
				  jp_get(cached, "status") ?: json_null())) {
		r = cm_update(ctl, cj, "status", NULL, &e);
		if (r < 0 && r != KORCH_ENOTFOUND)
			return ctrl_fail(ctl, key, r, e);
		korch_error_free(e);
	}
	if (delay >= 0)
		ctrl_enqueue_after(ctl, key, delay);
	return 0;
}

const struct ctrl_ops cronjob_ops = {
	.name = "cronjob",
	.component = "cronjob-controller",
	.init = cj_init,
	.sync = cj_sync,
	.fini = cj_fini,
};
