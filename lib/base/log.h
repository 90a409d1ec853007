/*
 * log.h - logging inside the library: silent unless the embedder or a tool set a handler.
 */
#ifndef KORCH_BASE_LOG_H
#define KORCH_BASE_LOG_H

#include <stdbool.h>
#include <korch/log.h>
#include "base/macro.h"

void log_write(korch_log_level level, const char *subsystem, const char *fmt, ...) _printf_(3, 4);
/* Whether a line at this level would reach a handler: skip expensive formatting otherwise. */
bool log_enabled(korch_log_level level);

#define log_error(sub, ...) log_write(KORCH_LOG_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_write(KORCH_LOG_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_write(KORCH_LOG_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...)                                           \
	do {                                                          \
		if (log_enabled(KORCH_LOG_DEBUG))                     \
			log_write(KORCH_LOG_DEBUG, sub, __VA_ARGS__); \
	} while (0)

#endif
