/*
 * cron.c - robfig/cron v3's standard parser (the one Kubernetes validates CronJob schedules
 * with and its controller runs them by), ported with its messages, plus SpecSchedule.Next.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/cron.h"
#include "base/error.h"
#include "base/macro.h"
#include "base/quote.h"
#include "base/strbuf.h"
#include "base/util.h"

struct bounds {
	unsigned min, max;
	const char *const *names; /* names[i] is value min_name + i */
	unsigned names_base;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
					   "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct bounds b_minutes = { 0, 59, NULL, 0 };
static const struct bounds b_hours = { 0, 23, NULL, 0 };
static const struct bounds b_dom = { 1, 31, NULL, 0 };
static const struct bounds b_months = { 1, 12, month_names, 1 };
static const struct bounds b_dow = { 0, 6, dow_names, 0 };

/* A Go error message being built; the first failure wins. */
static int fail(korch_error **err, const char *fmt, ...) _printf_(2, 3);

static int
fail(korch_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_setv(err, KORCH_EINVALID, fmt, ap);
	va_end(ap);
	return r;
}

/* strconv.Atoi's error for s, into sb ("strconv.Atoi: parsing \"x\": invalid syntax"). */
static bool
go_atoi(const char *s, size_t n, long long *ret, struct strbuf *why)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	bool syntax = i == n, range = false;
	unsigned long long v = 0;
	for (; i < n && !syntax; i++) {
		if (s[i] < '0' || s[i] > '9') {
			syntax = true;
			break;
		}
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			range = true;
		else
			v = v * 10 + d;
	}
	if (!syntax && !range && v > (neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX))
		range = true;
	if (syntax || range) {
		strbuf_puts(why, "strconv.Atoi: parsing ");
		strbuf_put_go_quoted(why, s, n);
		strbuf_puts(why, syntax ? ": invalid syntax" : ": value out of range");
		return false;
	}
	*ret = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

/* mustParseInt */
static int
must_parse_int(const char *s, size_t n, unsigned long long *ret, korch_error **err)
{
	_cleanup_strbuf_ struct strbuf why = STRBUF_INIT;
	long long v;
	if (!go_atoi(s, n, &v, &why)) {
		if (why.oom)
			return error_oom(err);
		return fail(err, "failed to parse int from %.*s: %s", (int)n, s, strbuf_str(&why));
	}
	if (v < 0)
		return fail(err, "negative number (%lld) not allowed: %.*s", v, (int)n, s);
	*ret = (unsigned long long)v;
	return 0;
}

/* parseIntOrName */
static int
parse_int_or_name(const char *s, size_t n, const struct bounds *r, unsigned long long *ret,
		  korch_error **err)
{
	if (r->names) {
		for (size_t i = 0; r->names[i]; i++)
			if (strlen(r->names[i]) == n && strncasecmp(s, r->names[i], n) == 0) {
				*ret = r->names_base + i;
				return 0;
			}
	}
	return must_parse_int(s, n, ret, err);
}

static uint64_t
get_bits(unsigned long long min, unsigned long long max, unsigned long long step)
{
	uint64_t bits = 0;
	if (step == 1)
		return ~(UINT64_MAX << (max + 1)) & (UINT64_MAX << min);
	for (unsigned long long i = min; i <= max; i += step)
		bits |= UINT64_C(1) << i;
	return bits;
}

/* getRange: number | number "-" number [ "/" number ] */
static int
get_range(const char *expr, size_t n, const struct bounds *r, uint64_t *ret, korch_error **err)
{
	/* strings.Split on "/" and then the first part on "-" */
	size_t slashes = 0, slash1 = n;
	for (size_t i = 0; i < n; i++)
		if (expr[i] == '/') {
			if (!slashes)
				slash1 = i;
			slashes++;
		}
	size_t lh_len = slash1;
	size_t hyphens = 0, hyphen1 = lh_len, hyphen2 = lh_len;
	for (size_t i = 0; i < lh_len; i++)
		if (expr[i] == '-') {
			if (!hyphens)
				hyphen1 = i;
			else if (hyphens == 1)
				hyphen2 = i;
			hyphens++;
		}
	bool single = hyphens == 0;
	unsigned long long start, end, step;
	uint64_t extra = 0;
	if ((hyphen1 == 1 && (expr[0] == '*' || expr[0] == '?'))) {
		start = r->min;
		end = r->max;
		extra = CRON_STAR_BIT;
	} else {
		int rc = parse_int_or_name(expr, hyphen1, r, &start, err);
		if (rc < 0)
			return rc;
		if (hyphens == 0) {
			end = start;
		} else if (hyphens == 1) {
			rc = parse_int_or_name(expr + hyphen1 + 1, lh_len - hyphen1 - 1, r, &end,
					       err);
			if (rc < 0)
				return rc;
		} else {
			(void)hyphen2;
			return fail(err, "too many hyphens: %.*s", (int)n, expr);
		}
	}
	if (slashes == 0) {
		step = 1;
	} else if (slashes == 1) {
		int rc = must_parse_int(expr + slash1 + 1, n - slash1 - 1, &step, err);
		if (rc < 0)
			return rc;
		if (single)
			end = r->max;
		if (step > 1)
			extra = 0;
	} else {
		return fail(err, "too many slashes: %.*s", (int)n, expr);
	}
	if (start < r->min)
		return fail(err, "beginning of range (%llu) below minimum (%u): %.*s", start,
			    r->min, (int)n, expr);
	if (end > r->max)
		return fail(err, "end of range (%llu) above maximum (%u): %.*s", end, r->max,
			    (int)n, expr);
	if (start > end)
		return fail(err, "beginning of range (%llu) beyond end of range (%llu): %.*s",
			    start, end, (int)n, expr);
	if (step == 0)
		return fail(err, "step of range should be a positive number: %.*s", (int)n, expr);
	*ret = get_bits(start, end, step) | extra;
	return 0;
}

/* getField: a comma-separated list of ranges (empty pieces skipped, as strings.FieldsFunc). */
static int
get_field(const char *field, const struct bounds *r, uint64_t *ret, korch_error **err)
{
	uint64_t bits = 0;
	const char *p = field;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n) {
			uint64_t b = 0;
			int rc = get_range(p, n, r, &b, err);
			if (rc < 0)
				return rc;
			bits |= b;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*ret = bits;
	return 0;
}

/* --- Go durations (time.ParseDuration, with its messages) ---------------------------------- */

static int
duration_error(struct strbuf *why, const char *what, const char *unit, size_t unit_len,
	       const char *orig)
{
	strbuf_puts(why, "time: ");
	strbuf_puts(why, what);
	if (unit) {
		strbuf_put_go_quoted(why, unit, unit_len);
		strbuf_puts(why, " in duration ");
	}
	strbuf_put_go_quoted(why, orig, strlen(orig));
	return -1;
}

static int
parse_duration(const char *orig, int64_t *ret, struct strbuf *why)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1ULL },           { "us", 1000ULL },
		{ "\xc2\xb5s", 1000ULL }, /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000ULL }, /* U+03BC Greek mu */
		{ "ms", 1000000ULL },     { "s", 1000000000ULL },
		{ "m", 60000000000ULL },  { "h", 3600000000000ULL },
	};
	const char *s = orig;
	uint64_t d = 0;
	bool neg = false;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (streq(s, "0")) {
		*ret = 0;
		return 0;
	}
	if (!*s)
		return duration_error(why, "invalid duration ", NULL, 0, orig);
	while (*s) {
		uint64_t v = 0, f = 0;
		double scale = 1;
		if (!(*s == '.' || (*s >= '0' && *s <= '9')))
			return duration_error(why, "invalid duration ", NULL, 0, orig);
		const char *start = s;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_C(1) << 63) / 10)
				return duration_error(why, "invalid duration ", NULL, 0, orig);
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > UINT64_C(1) << 63)
				return duration_error(why, "invalid duration ", NULL, 0, orig);
		}
		bool pre = s != start, post = false;
		if (*s == '.') {
			s++;
			const char *fs = s;
			bool overflow = false;
			for (; *s >= '0' && *s <= '9'; s++) {
				if (overflow)
					continue;
				if (f > (UINT64_C(1) << 63) / 10) {
					overflow = true;
					continue;
				}
				uint64_t y = f * 10 + (uint64_t)(*s - '0');
				if (y > UINT64_C(1) << 63) {
					overflow = true;
					continue;
				}
				f = y;
				scale *= 10;
			}
			post = s != fs;
		}
		if (!pre && !post)
			return duration_error(why, "invalid duration ", NULL, 0, orig);
		size_t i = 0;
		while (s[i] && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'))
			i++;
		if (i == 0)
			return duration_error(why, "missing unit in duration ", NULL, 0, orig);
		uint64_t unit = 0;
		for (size_t k = 0; k < ARRAY_SIZE(units); k++)
			if (strlen(units[k].name) == i && strncmp(s, units[k].name, i) == 0)
				unit = units[k].ns;
		if (!unit)
			return duration_error(why, "unknown unit ", s, i, orig);
		s += i;
		if (v > (UINT64_C(1) << 63) / unit)
			return duration_error(why, "invalid duration ", NULL, 0, orig);
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > UINT64_C(1) << 63)
				return duration_error(why, "invalid duration ", NULL, 0, orig);
		}
		d += v;
		if (d > UINT64_C(1) << 63)
			return duration_error(why, "invalid duration ", NULL, 0, orig);
	}
	if (neg) {
		*ret = d == UINT64_C(1) << 63 ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > (uint64_t)INT64_MAX)
		return duration_error(why, "invalid duration ", NULL, 0, orig);
	*ret = (int64_t)d;
	return 0;
}

/* --- zones --------------------------------------------------------------------------------- */

bool
cron_load_location(const char *name, char *msg, size_t msg_size)
{
	if (!*name || streq(name, "UTC") || streq(name, "Local"))
		return true;
	if (strstr(name, "..") || name[0] == '/' || name[0] == '\\') {
		snprintf(msg, msg_size, "time: invalid location name");
		return false;
	}
	const char *dirs[] = { getenv("ZONEINFO"), "/usr/share/zoneinfo", "/usr/share/lib/zoneinfo",
			       "/usr/lib/locale/TZ", "/etc/zoneinfo" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirs[i], name) >= sizeof(path))
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		char magic[4];
		ssize_t n = read(fd, magic, sizeof(magic));
		close(fd);
		if (n == 4 && memcmp(magic, "TZif", 4) == 0)
			return true;
		/* a directory or a file of another kind (zone.tab): kube-apiserver, which reads
		 * Go's embedded zone data, knows no such zone */
		break;
	}
	snprintf(msg, msg_size, "unknown time zone %s", name);
	return false;
}

/* --- parsing ------------------------------------------------------------------------------- */

static int
parse_descriptor(const char *d, struct cron_schedule *s, korch_error **err)
{
	uint64_t all_dom = get_bits(1, 31, 1) | CRON_STAR_BIT;
	uint64_t all_months = get_bits(1, 12, 1) | CRON_STAR_BIT;
	uint64_t all_dow = get_bits(0, 6, 1) | CRON_STAR_BIT;
	uint64_t all_hours = get_bits(0, 23, 1) | CRON_STAR_BIT;
	s->second = 1;
	s->minute = 1;
	s->hour = 1;
	s->dom = all_dom;
	s->month = all_months;
	s->dow = all_dow;
	if (streq(d, "@yearly") || streq(d, "@annually")) {
		s->dom = UINT64_C(1) << 1;
		s->month = UINT64_C(1) << 1;
	} else if (streq(d, "@monthly")) {
		s->dom = UINT64_C(1) << 1;
	} else if (streq(d, "@weekly")) {
		s->dow = 1;
	} else if (streq(d, "@daily") || streq(d, "@midnight")) {
		/* the defaults */
	} else if (streq(d, "@hourly")) {
		s->hour = all_hours;
	} else if (startswith(d, "@every ")) {
		_cleanup_strbuf_ struct strbuf why = STRBUF_INIT;
		int64_t ns = 0;
		if (parse_duration(d + strlen("@every "), &ns, &why) < 0) {
			if (why.oom)
				return error_oom(err);
			return fail(err, "failed to parse duration %s: %s", d, strbuf_str(&why));
		}
		if (ns < NSEC_PER_SEC)
			ns = NSEC_PER_SEC;
		s->every_ns = ns - ns % NSEC_PER_SEC;
	} else {
		return fail(err, "unrecognized descriptor: %s", d);
	}
	return 0;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int
cron_parse(const char *spec, struct cron_schedule *ret, korch_error **err)
{
	struct cron_schedule s = { 0 };
	if (!*spec)
		return fail(err, "empty spec string");
	_cleanup_free_ char *copy = NULL;
	if (startswith(spec, "TZ=") || startswith(spec, "CRON_TZ=")) {
		const char *sp = strchr(spec, ' ');
		const char *eq = strchr(spec, '=');
		if (!sp)
			/* robfig slices spec[eq+1:-1] here and panics */
			return fail(err, "runtime error: slice bounds out of range [:-1]");
		size_t n = (size_t)(sp - eq - 1);
		if (n >= sizeof(s.location))
			return fail(err, "provided bad location %.*s: unknown time zone %.*s",
				    (int)n, eq + 1, (int)n, eq + 1);
		memcpy(s.location, eq + 1, n);
		s.location[n] = 0;
		char msg[256];
		if (!cron_load_location(s.location, msg, sizeof(msg)))
			return fail(err, "provided bad location %s: %s", s.location, msg);
		/* strings.TrimSpace(spec[i:]) */
		const char *b = sp, *e = sp + strlen(sp);
		while (b < e && is_space(*b))
			b++;
		while (e > b && is_space(e[-1]))
			e--;
		copy = strndup(b, (size_t)(e - b));
		if (!copy)
			return error_oom(err);
		spec = copy;
	}
	if (spec[0] == '@') {
		int rc = parse_descriptor(spec, &s, err);
		if (rc < 0)
			return rc;
		if (ret)
			*ret = s;
		return 0;
	}

	/* strings.Fields */
	const char *fields[6];
	size_t lens[6], count = 0;
	_cleanup_strbuf_ struct strbuf list = STRBUF_INIT;
	strbuf_putc(&list, '[');
	for (const char *p = spec; *p;) {
		while (*p && is_space(*p))
			p++;
		if (!*p)
			break;
		const char *b = p;
		while (*p && !is_space(*p))
			p++;
		if (count)
			strbuf_putc(&list, ' ');
		strbuf_append(&list, b, (size_t)(p - b));
		if (count < ARRAY_SIZE(fields)) {
			fields[count] = b;
			lens[count] = (size_t)(p - b);
		}
		count++;
	}
	strbuf_putc(&list, ']');
	if (list.oom)
		return error_oom(err);
	if (count != 5)
		return fail(err, "expected exactly 5 fields, found %zu: %s", count,
			    strbuf_str(&list));

	static const struct bounds *const bounds[] = { &b_minutes, &b_hours, &b_dom, &b_months,
						       &b_dow };
	uint64_t *bits[] = { &s.minute, &s.hour, &s.dom, &s.month, &s.dow };
	s.second = 1;
	for (size_t i = 0; i < 5; i++) {
		_cleanup_free_ char *f = strndup(fields[i], lens[i]);
		if (!f)
			return error_oom(err);
		int rc = get_field(f, bounds[i], bits[i], err);
		if (rc < 0)
			return rc;
	}
	if (ret)
		*ret = s;
	return 0;
}

/* --- next activation ----------------------------------------------------------------------- */

static bool
day_matches(const struct cron_schedule *s, const struct tm *t)
{
	bool dom = (UINT64_C(1) << t->tm_mday) & s->dom;
	bool dow = (UINT64_C(1) << t->tm_wday) & s->dow;
	if ((s->dom & CRON_STAR_BIT) || (s->dow & CRON_STAR_BIT))
		return dom && dow;
	return dom || dow;
}

static void
normalize(struct tm *t)
{
	time_t v = timegm(t);
	gmtime_r(&v, t);
}

int64_t
cron_next(const struct cron_schedule *s, int64_t after_ns)
{
	int64_t sub = after_ns % NSEC_PER_SEC;
	if (sub < 0)
		sub += NSEC_PER_SEC;
	if (s->every_ns > 0)
		return after_ns + s->every_ns - sub;

	time_t secs = (time_t)((after_ns - sub) / NSEC_PER_SEC + 1);
	struct tm t;
	gmtime_r(&secs, &t);
	bool added = false;
	int year_limit = t.tm_year + 5;
wrap:
	if (t.tm_year > year_limit)
		return 0;
	while (!((UINT64_C(1) << (t.tm_mon + 1)) & s->month)) {
		if (!added) {
			added = true;
			t.tm_mday = 1;
			t.tm_hour = t.tm_min = t.tm_sec = 0;
		}
		t.tm_mon++;
		normalize(&t);
		if (t.tm_mon == 0)
			goto wrap;
	}
	while (!day_matches(s, &t)) {
		if (!added) {
			added = true;
			t.tm_hour = t.tm_min = t.tm_sec = 0;
		}
		t.tm_mday++;
		normalize(&t);
		if (t.tm_mday == 1)
			goto wrap;
	}
	while (!((UINT64_C(1) << t.tm_hour) & s->hour)) {
		if (!added) {
			added = true;
			t.tm_min = t.tm_sec = 0;
		}
		t.tm_hour++;
		normalize(&t);
		if (t.tm_hour == 0)
			goto wrap;
	}
	while (!((UINT64_C(1) << t.tm_min) & s->minute)) {
		if (!added) {
			added = true;
			t.tm_sec = 0;
		}
		t.tm_min++;
		normalize(&t);
		if (t.tm_min == 0)
			goto wrap;
	}
	while (!((UINT64_C(1) << t.tm_sec) & s->second)) {
		added = true;
		t.tm_sec++;
		normalize(&t);
		if (t.tm_sec == 0)
			goto wrap;
	}
	return (int64_t)timegm(&t) * NSEC_PER_SEC;
}

/*
 * Local wall-clock candidates come from cron_next over "local time counted as UTC"; each is
 * turned back into the instants whose local time it is (none in a DST gap, two in an overlap).
 */
int64_t
cron_next_zoned(const struct cron_schedule *s, const char *zone, int64_t after_ns,
		korch_error **err)
{
	const char *loc = s->location[0] ? s->location : zone;
	if (!loc || !*loc || streq(loc, "UTC"))
		return cron_next(s, after_ns);
	if (s->every_ns > 0)
		return cron_next(s, after_ns);
	int64_t after_s = after_ns / NSEC_PER_SEC - (after_ns % NSEC_PER_SEC < 0);
	int32_t off = 0;
	if (tz_offset(loc, after_s, &off, err) < 0)
		return 0;
	/* Start a little early in local time: an overlap (at most 2 h in the tz database) may
	 * hold a later instant of an earlier wall-clock time. */
	int64_t local = (after_s + off - 3 * 3600) * NSEC_PER_SEC;
	for (int guard = 0; guard < 100000; guard++) {
		local = cron_next(s, local);
		if (!local)
			return 0;
		int64_t l = local / NSEC_PER_SEC;
		int32_t offs[3];
		if (tz_offset(loc, l - 86400, &offs[0], err) < 0 ||
		    tz_offset(loc, l, &offs[1], err) < 0 ||
		    tz_offset(loc, l + 86400, &offs[2], err) < 0)
			return 0;
		int64_t best = 0;
		for (int k = 0; k < 3; k++) {
			int64_t u = l - offs[k];
			int32_t at;
			if (tz_offset(loc, u, &at, err) < 0)
				return 0;
			if (at == offs[k] && u > after_s && (!best || u < best))
				best = u;
		}
		if (best)
			return best * NSEC_PER_SEC;
	}
	return 0;
}
