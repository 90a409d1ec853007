/*
 * CronJob schedules: robfig/cron v3's standard parser (what Kubernetes validates with), its
 * error messages, descriptors, and the next activation times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cron.h"
#include "base/macro.h"
#include "base/util.h"

static const struct {
	const char *spec;
	const char *error; /* NULL: parses */
} parse_cases[] = {
	{ "*/5 * * * *", NULL },
	{ "0 3 * * *", NULL },
	{ "0 0 1 jan-mar mon-fri", NULL },
	{ "15,45 9-17 * * 1-5", NULL },
	{ "0 0 ? * SUN", NULL },
	{ "*-5 * * * *", NULL }, /* robfig reads "*" and ignores the rest */
	{ "  0   3 * * *  ", NULL },
	{ "@daily", NULL },
	{ "@midnight", NULL },
	{ "@every 1h30m", NULL },
	{ "@every 500ms", NULL },
	{ "TZ=UTC 0 3 * * *", NULL },
	{ "", "empty spec string" },
	{ "* * * *", "expected exactly 5 fields, found 4: [* * * *]" },
	{ "0 0 0 * * *", "expected exactly 5 fields, found 6: [0 0 0 * * *]" },
	{ "60 * * * *", "end of range (60) above maximum (59): 60" },
	{ "* 24 * * *", "end of range (24) above maximum (23): 24" },
	{ "* * 0 * *", "beginning of range (0) below minimum (1): 0" },
	{ "* * 32 * *", "end of range (32) above maximum (31): 32" },
	{ "* * * 13 *", "end of range (13) above maximum (12): 13" },
	{ "* * * * 7", "end of range (7) above maximum (6): 7" },
	{ "5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1" },
	{ "*/0 * * * *", "step of range should be a positive number: */0" },
	{ "a * * * *", "failed to parse int from a: strconv.Atoi: parsing \"a\": invalid syntax" },
	{ "-1 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax" },
	{ "1-2-3 * * * *", "too many hyphens: 1-2-3" },
	{ "1/2/3 * * * *", "too many slashes: 1/2/3" },
	{ "99999999999999999999 * * * *",
	  "failed to parse int from 99999999999999999999: strconv.Atoi: parsing "
	  "\"99999999999999999999\": value out of range" },
	{ "* * * * mon-fry",
	  "failed to parse int from fry: strconv.Atoi: parsing \"fry\": invalid syntax" },
	{ "@foo", "unrecognized descriptor: @foo" },
	{ "@daily ", "unrecognized descriptor: @daily " },
	{ "@every 5", "failed to parse duration @every 5: time: missing unit in duration \"5\"" },
	{ "@every x", "failed to parse duration @every x: time: invalid duration \"x\"" },
	{ "@every 5y",
	  "failed to parse duration @every 5y: time: unknown unit \"y\" in duration \"5y\"" },
	{ "@every ", "failed to parse duration @every : time: invalid duration \"\"" },
	{ "TZ=Mars/Olympus 0 3 * * *",
	  "provided bad location Mars/Olympus: unknown time zone Mars/Olympus" },
	{ "CRON_TZ=../x 0 3 * * *", "provided bad location ../x: time: invalid location name" },
};

static void
test_parse(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		korch_error *err = NULL;
		int rc = cron_parse(parse_cases[i].spec, NULL, &err);
		const char *want = parse_cases[i].error;
		bool ok = want ? rc == KORCH_EINVALID && streq(korch_error_message(err), want)
			       : rc == 0 && !err;
		if (!ok) {
			print_error("\"%s\": want %s, got %d %s\n", parse_cases[i].spec,
				    want ? want : "ok", rc, err ? korch_error_message(err) : "");
			failures++;
		}
		korch_error_free(err);
	}
	if (failures)
		fail_msg("%d cases failed", failures);
}

static int64_t
at(const char *rfc3339)
{
	int64_t ns;
	assert_int_equal(parse_rfc3339(rfc3339, &ns), 0);
	return ns;
}

static const struct {
	const char *spec, *after, *next; /* next NULL: never */
} next_cases[] = {
	{ "*/15 * * * *", "2025-01-01T00:07:30Z", "2025-01-01T00:15:00Z" },
	{ "*/15 * * * *", "2025-01-01T00:15:00Z", "2025-01-01T00:30:00Z" },
	{ "0 3 * * *", "2025-01-01T03:00:00.5Z", "2025-01-02T03:00:00Z" },
	{ "0 0 1 1 *", "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z" },
	{ "0 12 * * mon", "2025-01-01T00:00:00Z", "2025-01-06T12:00:00Z" },
	/* day of month or day of week when neither is a star */
	{ "0 0 13 * 5", "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z" },
	{ "0 0 13 * *", "2025-01-01T00:00:00Z", "2025-01-13T00:00:00Z" },
	{ "0 0 29 2 *", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z" },
	{ "30 23 31 12 *", "2025-12-31T23:30:00Z", "2026-12-31T23:30:00Z" },
	{ "0 0 30 2 *", "2025-01-01T00:00:00Z", NULL },
	{ "@hourly", "2025-01-01T10:59:59.5Z", "2025-01-01T11:00:00Z" },
	{ "@weekly", "2025-01-01T00:00:00Z", "2025-01-05T00:00:00Z" },
	{ "@yearly", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z" },
	{ "@every 90s", "2025-01-01T00:00:00.25Z", "2025-01-01T00:01:30Z" },
	{ "@every 500ms", "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z" },
};

static void
test_next(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(next_cases); i++) {
		struct cron_schedule s;
		korch_error *err = NULL;
		assert_int_equal(cron_parse(next_cases[i].spec, &s, &err), 0);
		int64_t got = cron_next(&s, at(next_cases[i].after));
		int64_t want = next_cases[i].next ? at(next_cases[i].next) : 0;
		if (got != want) {
			char buf[32] = "never";
			if (got)
				format_rfc3339(got, false, buf);
			fail_msg("%s after %s: want %s, got %s", next_cases[i].spec,
				 next_cases[i].after,
				 next_cases[i].next ? next_cases[i].next : "never", buf);
		}
	}
}

static void
test_fields(void **state)
{
	(void)state;
	struct cron_schedule s;
	assert_int_equal(cron_parse("*/20 1,2 * * ?", &s, NULL), 0);
	assert_int_equal(s.second, 1);
	assert_true(s.minute == ((1ULL << 0) | (1ULL << 20) | (1ULL << 40)));
	assert_true(s.hour == ((1ULL << 1) | (1ULL << 2)));
	assert_true(s.dom & CRON_STAR_BIT);
	assert_true(s.dow & CRON_STAR_BIT);
	assert_int_equal(s.every_ns, 0);
	assert_string_equal(s.location, "");
	assert_int_equal(cron_parse("CRON_TZ=UTC @every 1m", &s, NULL), 0);
	assert_int_equal(s.every_ns, 60LL * 1000000000LL);
	assert_string_equal(s.location, "UTC");
}

static void
test_locations(void **state)
{
	(void)state;
	char msg[256];
	assert_true(cron_load_location("", msg, sizeof(msg)));
	assert_true(cron_load_location("UTC", msg, sizeof(msg)));
	assert_true(cron_load_location("Local", msg, sizeof(msg)));
	assert_false(cron_load_location("/etc/passwd", msg, sizeof(msg)));
	assert_string_equal(msg, "time: invalid location name");
	assert_false(cron_load_location("Mars/Olympus", msg, sizeof(msg)));
	assert_string_equal(msg, "unknown time zone Mars/Olympus");
	assert_false(cron_load_location("America", msg, sizeof(msg)));
	assert_string_equal(msg, "unknown time zone America");
	if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) != 0)
		skip();
	assert_true(cron_load_location("Europe/Paris", msg, sizeof(msg)));
}

/* Time zones: DST changes, the southern hemisphere, the footer rule past 2037. */
static const struct {
	const char *spec, *zone, *after, *next;
} zoned_cases[] = {
	/* Berlin moves to CEST on 2026-03-29 at 01:00 UTC: 09:00 local is 08:00Z, then 07:00Z. */
	{ "0 9 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "2026-03-28T08:00:00Z" },
	{ "0 9 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T07:00:00Z" },
	/* The schedule's own TZ= prefix wins over the zone given. */
	{ "TZ=Asia/Tokyo 0 9 * * *", "Europe/Berlin", "2026-06-01T00:00:00Z",
	  "2026-06-02T00:00:00Z" },
	/* New York's spring gap: 02:30 does not exist on 2026-03-08 and is skipped. */
	{ "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z" },
	/* Its autumn overlap: 01:30 happens twice on 2026-11-01, EDT then EST. */
	{ "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z" },
	{ "30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z" },
	/* Sydney: daylight time in January (UTC+11), standard in July (UTC+10). */
	{ "0 12 * * *", "Australia/Sydney", "2026-01-10T00:00:00Z", "2026-01-10T01:00:00Z" },
	{ "0 12 * * *", "Australia/Sydney", "2026-07-10T00:00:00Z", "2026-07-10T02:00:00Z" },
	/* Past the file's transitions, from its POSIX rule: summer time in Berlin in 2045. */
	{ "0 12 1 7 *", "Europe/Berlin", "2045-06-01T00:00:00Z", "2045-07-01T10:00:00Z" },
	{ "0 12 1 12 *", "Europe/Berlin", "2045-06-01T00:00:00Z", "2045-12-01T11:00:00Z" },
	/* A zone without daylight time, with a half-hour offset. */
	{ "0 0 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T18:30:00Z" },
	{ "0 6 * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z" },
};

static void
test_next_zoned(void **state)
{
	(void)state;
	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(zoned_cases); i++) {
		struct cron_schedule s;
		assert_int_equal(cron_parse(zoned_cases[i].spec, &s, NULL), 0);
		korch_error *err = NULL;
		int64_t got =
			cron_next_zoned(&s, zoned_cases[i].zone, at(zoned_cases[i].after), &err);
		char buf[32] = "never";
		if (got)
			format_rfc3339(got, false, buf);
		if (got != at(zoned_cases[i].next))
			fail_msg("%s in %s after %s: want %s, got %s (%s)", zoned_cases[i].spec,
				 zoned_cases[i].zone, zoned_cases[i].after, zoned_cases[i].next,
				 buf, err ? korch_error_message(err) : "");
	}
	int32_t off = 0;
	assert_int_equal(tz_offset("Asia/Kathmandu", 1800000000, &off, NULL), 0);
	assert_int_equal(off, 5 * 3600 + 45 * 60);
	korch_error *err = NULL;
	assert_int_equal(tz_offset("Mars/Olympus", 0, &off, &err), KORCH_ENOTFOUND);
	assert_string_equal(korch_error_message(err), "unknown time zone Mars/Olympus");
	korch_error_free(err);
	struct cron_schedule s;
	assert_int_equal(cron_parse("0 9 * * *", &s, NULL), 0);
	err = NULL;
	assert_int_equal(cron_next_zoned(&s, "Mars/Olympus", at("2026-01-01T00:00:00Z"), &err), 0);
	assert_string_equal(korch_error_message(err), "unknown time zone Mars/Olympus");
	korch_error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),      cmocka_unit_test(test_next),
		cmocka_unit_test(test_fields),     cmocka_unit_test(test_locations),
		cmocka_unit_test(test_next_zoned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
