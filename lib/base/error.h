/*
 * error.h - building korch_error objects inside the library.
 *
 * Every helper here sets *err only when err is not NULL and *err is still NULL (the first, most
 * precise error wins; callers add context with korch_error_prefix()), and returns the code so
 * that a failing path is one line: `return error_set(err, KORCH_EINVALID, "bad name %s", n);`.
 */
#ifndef KORCH_BASE_ERROR_H
#define KORCH_BASE_ERROR_H

#include <stdarg.h>
#include <korch/common.h>
#include "base/macro.h"

/* Sets an error with a code and a formatted message. */
int error_set(korch_error **err, int code, const char *fmt, ...) _printf_(3, 4);
int error_setv(korch_error **err, int code, const char *fmt, va_list ap) _printf_(3, 0);

/*
 * Sets an error for a failed system call: the message is "FMT: strerror(errnum)", the errno is
 * saved, the code is KORCH_ENOMEM for ENOMEM and KORCH_ESYSTEM otherwise. errnum is taken
 * positive or negative.
 */
int error_errno(korch_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);

/*
 * Sets an error with a code, a saved errno and a message taken as it is: for errors that
 * crossed a process boundary (a container's init, korch-monitor's socket) and are rebuilt
 * from their parts.
 */
int error_set_errno(korch_error **err, int code, int errnum, const char *fmt, ...) _printf_(4, 5);

/* Out of memory: an error that needs no allocation to report (a static object). */
int error_oom(korch_error **err);

/*
 * Adds one cause (a field error) to *err, creating a KORCH_EINVALID error with an empty message
 * if there is none yet. reason is a Kubernetes cause type ("FieldValueRequired"); field may be
 * NULL. Returns KORCH_EINVALID.
 */
int error_add_cause(korch_error **err, const char *reason, const char *field, const char *fmt, ...)
	_printf_(4, 5);

/* Replaces the message of *err (which must exist). */
void error_set_message(korch_error *err, const char *fmt, ...) _printf_(2, 3);

/* Moves *src into *dst when *dst is still NULL, otherwise frees *src. Returns code. */
int error_propagate(korch_error **dst, korch_error **src, int code);

DEFINE_CLEANUP_FUNC(korch_error_free, korch_error, korch_error_free)
#define _cleanup_error_ _cleanup_(korch_error_freep)

#endif
