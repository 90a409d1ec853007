/*
 * tz.c - UTC offsets of IANA time zones from the system's zoneinfo files (RFC 8536 TZif, the
 * 64-bit data of version 2+ files), with the POSIX TZ rule of the file's footer for instants
 * past its last transition, so that CronJob timeZone schedules are read as Go's time package
 * reads them.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cron.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/macro.h"
#include "base/util.h"

/* Zone files are small; this bounds a hostile or broken one. */
#define TZ_FILE_MAX (256 * 1024)

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* days_from_civil (proleptic Gregorian): days since 1970-01-01. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t
year_of(int64_t s)
{
	int64_t z = (s >= 0 ? s : s - 86399) / 86400 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t m = mp + (mp < 10 ? 3 : -9);
	return y + (m <= 2);
}

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* ---- POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3") ---- */

struct posix_rule {
	char kind;      /* 'M', 'J' or 'n' (zero-based day) */
	int m, w, d;    /* M: month, week, weekday; J/n: day in d */
	int64_t time_s; /* local time of day of the change */
};

struct posix_tz {
	int32_t std_off, dst_off;     /* UTC offsets (east positive) */
	bool has_dst;                 /* a DST part */
	struct posix_rule start, end; /* when DST starts and ends */
};

static const char *
skip_name(const char *p)
{
	if (*p == '<') {
		const char *q = strchr(p, '>');
		return q ? q + 1 : NULL;
	}
	const char *b = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - b >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static const char *
parse_hms(const char *p, int64_t *ret)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	int64_t v[3] = { 0, 0, 0 };
	for (int i = 0; i < 3; i++) {
		if (i && *p != ':')
			break;
		if (i)
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			v[i] = v[i] * 10 + (*p++ - '0');
	}
	*ret = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	return p;
}

static const char *
parse_rule(const char *p, struct posix_rule *r)
{
	r->time_s = 7200;
	if (*p == 'M') {
		r->kind = 'M';
		char *end;
		r->m = (int)strtol(p + 1, &end, 10);
		if (*end != '.')
			return NULL;
		r->w = (int)strtol(end + 1, &end, 10);
		if (*end != '.')
			return NULL;
		r->d = (int)strtol(end + 1, &end, 10);
		p = end;
		if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6)
			return NULL;
	} else if (*p == 'J' || (*p >= '0' && *p <= '9')) {
		r->kind = *p == 'J' ? 'J' : 'n';
		char *end;
		r->d = (int)strtol(p + (*p == 'J'), &end, 10);
		p = end;
	} else {
		return NULL;
	}
	if (*p == '/')
		p = parse_hms(p + 1, &r->time_s);
	return p;
}

static int
parse_posix(const char *s, struct posix_tz *ret)
{
	struct posix_tz tz = { 0 };
	const char *p = skip_name(s);
	int64_t off;
	if (!p || !(p = parse_hms(p, &off)))
		return -1;
	tz.std_off = (int32_t)-off;
	tz.dst_off = tz.std_off;
	if (*p) {
		if (!(p = skip_name(p)))
			return -1;
		tz.has_dst = true;
		tz.dst_off = tz.std_off + 3600;
		if (*p && *p != ',') {
			if (!(p = parse_hms(p, &off)))
				return -1;
			tz.dst_off = (int32_t)-off;
		}
		/* Without a rule POSIX leaves it to the implementation; Go uses the US rule. */
		if (!*p) {
			tz.start = (struct posix_rule){ 'M', 3, 2, 0, 7200 };
			tz.end = (struct posix_rule){ 'M', 11, 1, 0, 7200 };
		} else if (*p != ',' || !(p = parse_rule(p + 1, &tz.start)) || *p != ',' ||
			   !(p = parse_rule(p + 1, &tz.end)) || *p) {
			return -1;
		}
	}
	*ret = tz;
	return 0;
}

/* Seconds since the epoch of the rule's day and time in year y, local time counted as UTC. */
static int64_t
rule_local(const struct posix_rule *r, int64_t y)
{
	int64_t day;
	if (r->kind == 'M') {
		int64_t first = days_from_civil(y, r->m, 1);
		int64_t wday = ((first % 7) + 11) % 7; /* 1970-01-01 was a Thursday (4) */
		int64_t d = (r->d - wday + 7) % 7 + 1 + 7 * (r->w - 1);
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int64_t len = mdays[r->m - 1] + (r->m == 2 && leap(y));
		while (d > len)
			d -= 7;
		day = days_from_civil(y, r->m, d);
	} else if (r->kind == 'J') {
		day = days_from_civil(y, 1, 1) + r->d - 1;
		if (leap(y) && r->d >= 60)
			day++;
	} else {
		day = days_from_civil(y, 1, 1) + r->d;
	}
	return day * 86400 + r->time_s;
}

static int32_t
posix_offset(const struct posix_tz *tz, int64_t t)
{
	if (!tz->has_dst)
		return tz->std_off;
	int64_t y = year_of(t + tz->std_off);
	int64_t start = rule_local(&tz->start, y) - tz->std_off;
	int64_t end = rule_local(&tz->end, y) - tz->dst_off;
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? tz->dst_off : tz->std_off;
}

/* ---- TZif ---- */

static int
open_zone(const char *name, char **ret_data, size_t *ret_len, korch_error **err)
{
	const char *dirs[] = { getenv("ZONEINFO"), "/usr/share/zoneinfo", "/usr/share/lib/zoneinfo",
			       "/usr/lib/locale/TZ", "/etc/zoneinfo" };
	if (streq(name, "Local"))
		return read_file("/etc/localtime", TZ_FILE_MAX, ret_data, ret_len, err);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirs[i], name) >= sizeof(path))
			continue;
		if (access(path, R_OK) < 0)
			continue;
		return read_file(path, TZ_FILE_MAX, ret_data, ret_len, err);
	}
	return error_set(err, KORCH_ENOTFOUND, "unknown time zone %s", name);
}

/* The last zone file read, so that a schedule's many lookups read it once. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char cache_name[128];
static char *cache_data;
static size_t cache_len;

static int offset_in(const char *zone, const unsigned char *b, size_t len, int64_t utc_s,
		     int32_t *ret_offset_s, korch_error **err);

int
tz_offset(const char *zone, int64_t utc_s, int32_t *ret_offset_s, korch_error **err)
{
	if (!zone || !*zone || streq(zone, "UTC")) {
		*ret_offset_s = 0;
		return 0;
	}
	char msg[160];
	if (strlen(zone) >= sizeof(cache_name) || !cron_load_location(zone, msg, sizeof(msg)))
		return error_set(err, KORCH_ENOTFOUND, "unknown time zone %s", zone);
	pthread_mutex_lock(&cache_lock);
	int r = 0;
	if (!cache_data || strcmp(cache_name, zone) != 0) {
		char *data = NULL;
		size_t len = 0;
		r = open_zone(zone, &data, &len, err);
		if (r == 0) {
			free(cache_data);
			cache_data = data;
			cache_len = len;
			snprintf(cache_name, sizeof(cache_name), "%s", zone);
		}
	}
	if (r == 0)
		r = offset_in(zone, (const unsigned char *)cache_data, cache_len, utc_s,
			      ret_offset_s, err);
	pthread_mutex_unlock(&cache_lock);
	return r;
}

static int
offset_in(const char *zone, const unsigned char *b, size_t len, int64_t utc_s,
	  int32_t *ret_offset_s, korch_error **err)
{
	if (len < 44 || memcmp(b, "TZif", 4) != 0)
		return error_set(err, KORCH_EINVALID, "time zone %s: not a TZif file", zone);
	char version = (char)b[4];
	/* The v1 block comes first; version 2+ files repeat the data with 64-bit times. */
	uint32_t c[6];
	for (int i = 0; i < 6; i++)
		c[i] = be32(b + 20 + 4 * i);
	size_t v1 =
		44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
	if (version < '2' || v1 + 44 > len)
		return error_set(err, KORCH_EUNSUPPORTED,
				 "time zone %s: only TZif version 2 and later files are read",
				 zone);
	const unsigned char *h = b + v1;
	if (memcmp(h, "TZif", 4) != 0)
		return error_set(err, KORCH_EINVALID, "time zone %s: bad second header", zone);
	for (int i = 0; i < 6; i++)
		c[i] = be32(h + 20 + 4 * i);
	uint32_t isut = c[0], isstd = c[1], leaps = c[2], timecnt = c[3], typecnt = c[4],
		 charcnt = c[5];
	size_t need = 44 + (size_t)timecnt * 9 + (size_t)typecnt * 6 + charcnt +
		      (size_t)leaps * 12 + isstd + isut;
	if (typecnt == 0 || v1 + need > len)
		return error_set(err, KORCH_EINVALID, "time zone %s: truncated file", zone);
	const unsigned char *times = h + 44;
	const unsigned char *idx = times + (size_t)timecnt * 8;
	const unsigned char *types = idx + timecnt;
	const unsigned char *footer = h + need;
	size_t type = 0;
	if (timecnt && utc_s >= be64(times)) {
		size_t lo = 0, hi = timecnt;
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;
			if (be64(times + mid * 8) <= utc_s)
				lo = mid;
			else
				hi = mid;
		}
		type = idx[lo];
		/* Past the last transition the footer's rule tells the future. */
		if (lo == timecnt - 1 && (size_t)(footer - b) < len && *footer == '\n') {
			const char *fs = (const char *)footer + 1;
			const char *fe = memchr(fs, '\n', len - (size_t)(footer - b) - 1);
			char rule[128];
			if (fe && fe > fs && (size_t)(fe - fs) < sizeof(rule)) {
				memcpy(rule, fs, (size_t)(fe - fs));
				rule[fe - fs] = '\0';
				struct posix_tz tz;
				if (parse_posix(rule, &tz) == 0) {
					*ret_offset_s = posix_offset(&tz, utc_s);
					return 0;
				}
			}
		}
	}
	if (type >= typecnt)
		return error_set(err, KORCH_EINVALID, "time zone %s: bad type index", zone);
	*ret_offset_s = (int32_t)be32(types + type * 6);
	return 0;
}
