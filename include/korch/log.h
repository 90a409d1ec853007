/*
 * korch/log.h - where the library's log lines go. The library is silent until a handler is set.
 */
#ifndef KORCH_LOG_H
#define KORCH_LOG_H

#include <korch/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Log levels, most severe first. */
typedef enum korch_log_level {
	KORCH_LOG_ERROR = 0,
	KORCH_LOG_WARN = 1,
	KORCH_LOG_INFO = 2,
	KORCH_LOG_DEBUG = 3,
} korch_log_level;

/**
 * Receives one log line: the level, the subsystem that wrote it ("store", "node", ...), the
 * message without a trailing newline, and the userdata given to korch_log_set_handler().
 * It may be called from korch's worker threads; it must not call back into korch.
 */
typedef void (*korch_log_fn)(korch_log_level level, const char *subsystem, const char *message,
			     void *userdata);

/**
 * Sets the process-wide log handler (NULL: silence, the default) and the most verbose level
 * passed to it. Call it before other korch calls or while no other thread uses korch.
 */
KORCH_EXPORT void korch_log_set_handler(korch_log_fn fn, korch_log_level max_level, void *userdata);

/**
 * A ready-made handler that writes "korch[level] subsystem: message" lines to stderr; userdata
 * is ignored.
 */
KORCH_EXPORT void korch_log_stderr(korch_log_level level, const char *subsystem,
				   const char *message, void *userdata);

/** Parses "error", "warn", "info" or "debug"; returns KORCH_EINVALID for anything else. */
KORCH_EXPORT int korch_log_level_parse(const char *name, korch_log_level *ret_level);

#ifdef __cplusplus
}
#endif

#endif
