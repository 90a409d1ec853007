/*
 * cron.h - CronJob schedules as Kubernetes reads them: github.com/robfig/cron/v3's
 * ParseStandard (five fields, names, steps, "?", descriptors such as "@daily" and
 * "@every 1h30m", an optional TZ= / CRON_TZ= prefix), with its error messages to the letter,
 * and the next activation time.
 */
#ifndef KORCH_API_CRON_H
#define KORCH_API_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <korch/common.h>

/* Set in a field's bits when the field was written with "*" or "?" (robfig's starBit). */
#define CRON_STAR_BIT (UINT64_C(1) << 63)

struct cron_schedule {
	/* Bit n set: value n matches (seconds always 0 in a standard schedule). */
	uint64_t second, minute, hour, dom, month, dow;
	/* "@every DURATION": the delay in nanoseconds, a whole number of seconds >= 1s; 0 for a
	 * calendar schedule. */
	int64_t every_ns;
	/* The zone named by a TZ= or CRON_TZ= prefix ("" without one). */
	char location[128];
};

/*
 * Parses spec as cron.ParseStandard does. On error returns KORCH_EINVALID with robfig's
 * message ("expected exactly 5 fields, found 1: [x]", "end of range (60) above maximum (59):
 * 60", "unrecognized descriptor: @foo", "failed to parse duration @every x: time: invalid
 * duration \"x\"", ...). ret may be NULL to only check.
 */
int cron_parse(const char *spec, struct cron_schedule *ret, korch_error **err);

/*
 * The next activation strictly after the instant after_ns (nanoseconds since the epoch), as
 * SpecSchedule.Next / ConstantDelaySchedule.Next compute it, with the calendar fields read in
 * UTC (korch ignores the schedule's location here: the CronJob controller converts zones).
 * Returns 0 when a calendar schedule has no activation within five years (Feb 30).
 */
int64_t cron_next(const struct cron_schedule *s, int64_t after_ns);

/*
 * cron_next with the calendar fields read in a time zone, as robfig's Next reads them in the
 * schedule's location: zone (an IANA name; "" or "UTC" for UTC), unless the schedule has a TZ= /
 * CRON_TZ= prefix, which wins. A wall-clock time that does not exist (skipped by a DST change)
 * is skipped; one that exists twice fires twice. Returns 0 when there is no activation within
 * five years or the zone cannot be read (*err, when not NULL, says why: unknown zone).
 */
int64_t cron_next_zoned(const struct cron_schedule *s, const char *zone, int64_t after_ns,
			korch_error **err);

/*
 * The UTC offset (seconds east of UTC) of an IANA time zone at the instant utc_s, from the
 * system's zoneinfo (TZif version 2+; the footer's POSIX TZ rule past the last transition).
 * "" and "UTC" are UTC, "Local" is /etc/localtime. KORCH_ENOTFOUND (Go's "unknown time zone
 * NAME") for a zone that is not there, KORCH_EINVALID for a damaged file.
 */
int tz_offset(const char *zone, int64_t utc_s, int32_t *ret_offset_s, korch_error **err);

/*
 * time.LoadLocation's verdict on a zone name, from the system's zoneinfo (ZONEINFO, then
 * /usr/share/zoneinfo and Go's other places): true for "", "UTC", "Local" and every zone file
 * found there. Otherwise false with Go's message in msg: "time: invalid location name" or
 * "unknown time zone NAME".
 */
bool cron_load_location(const char *name, char *msg, size_t msg_size);

#endif
