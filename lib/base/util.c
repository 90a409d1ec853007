/*
 * util.c - string and time helpers.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <korch/common.h>
#include "base/macro.h"
#include "base/util.h"

bool
endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *
format_rfc3339(int64_t wall_ns, bool micro, char buf[static 32])
{
	time_t secs = (time_t)(wall_ns / NSEC_PER_SEC);
	long frac = (long)(wall_ns % NSEC_PER_SEC);
	if (frac < 0) {
		frac += NSEC_PER_SEC;
		secs--;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (micro)
		snprintf(buf + n, 32 - n, ".%06ldZ", frac / 1000);
	else
		snprintf(buf + n, 32 - n, "Z");
	return buf;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool
take_digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

int
parse_rfc3339(const char *s, int64_t *ret_wall_ns)
{
	const char *p = s;
	int y, mo, d, h, mi, sec;
	if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' ||
	    !take_digits(&p, 2, &d))
		return KORCH_EINVALID;
	if (*p != 'T' && *p != 't')
		return KORCH_EINVALID;
	p++;
	if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi) || *p++ != ':' ||
	    !take_digits(&p, 2, &sec))
		return KORCH_EINVALID;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return KORCH_EINVALID;
	int64_t frac_ns = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		int64_t scale = 100000000;
		while (isdigit((unsigned char)*p)) {
			if (digits < 9)
				frac_ns += (*p - '0') * scale;
			scale /= 10;
			digits++;
			p++;
		}
		if (!digits)
			return KORCH_EINVALID;
	}
	int64_t offset_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int oh, om;
		if (!take_digits(&p, 2, &oh) || *p++ != ':' || !take_digits(&p, 2, &om))
			return KORCH_EINVALID;
		offset_s = sign * (oh * 3600 + om * 60);
	} else {
		return KORCH_EINVALID;
	}
	if (*p)
		return KORCH_EINVALID;
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
	*ret_wall_ns = secs * NSEC_PER_SEC + frac_ns;
	return 0;
}

int
parse_go_duration(const char *s, int64_t *ret_ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{ "ns", 1 },  { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 },
		{ "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	const char *p = s;
	int sign = 1;
	if (*p == '-' || *p == '+')
		sign = *p++ == '-' ? -1 : 1;
	if (strcmp(p, "0") == 0) {
		*ret_ns = 0;
		return 0;
	}
	if (!*p)
		return KORCH_EINVALID;
	double total = 0;
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return KORCH_EINVALID;
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno)
			return KORCH_EINVALID;
		p = end;
		size_t best = 0;
		double mult = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, n) == 0 && n > best) {
				best = n;
				mult = units[i].ns;
			}
		}
		if (!best)
			return KORCH_EINVALID;
		p += best;
		total += v * mult;
	}
	if (total > 9.2e18)
		return KORCH_EINVALID;
	*ret_ns = sign * (int64_t)total;
	return 0;
}

int
parse_int64(const char *s, int64_t *ret)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return KORCH_EINVALID;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return KORCH_EINVALID;
	*ret = v;
	return 0;
}
