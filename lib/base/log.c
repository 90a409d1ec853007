/*
 * log.c - the process-wide log handler. The library prints nothing unless asked to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static korch_log_fn log_fn; /* NULL: silent */
static korch_log_level log_max = KORCH_LOG_WARN;
static void *log_userdata;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

KORCH_EXPORT void
korch_log_set_handler(korch_log_fn fn, korch_log_level max_level, void *userdata)
{
	log_fn = fn;
	log_max = max_level;
	log_userdata = userdata;
}

KORCH_EXPORT void
korch_log_stderr(korch_log_level level, const char *subsystem, const char *message, void *userdata)
{
	(void)userdata;
	const char *name = (unsigned)level < ARRAY_SIZE(level_names) ? level_names[level] : "?";
	fprintf(stderr, "korch[%s] %s: %s\n", name, subsystem ? subsystem : "-", message);
}

KORCH_EXPORT int
korch_log_level_parse(const char *name, korch_log_level *ret_level)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(level_names); i++)
		if (strcmp(name, level_names[i]) == 0) {
			*ret_level = (korch_log_level)i;
			return 0;
		}
	return KORCH_EINVALID;
}

bool
log_enabled(korch_log_level level)
{
	return log_fn && level <= log_max;
}

void
log_write(korch_log_level level, const char *subsystem, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, subsystem, buf, log_userdata);
}
