/*
 * korch/common.h - export macro, error codes and the error object shared by every korch header.
 */
#ifndef KORCH_COMMON_H
#define KORCH_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KORCH_EXPORT __attribute__((visibility("default")))
#else
#define KORCH_EXPORT
#endif

/**
 * The error codes every fallible korch function returns: 0 on success, one of these (all
 * negative) on failure. The set is small and stable; details travel in a korch_error.
 */
enum korch_error_code {
	KORCH_OK = 0,
	KORCH_ENOTFOUND = -1, /**< the object, file or name does not exist */
	KORCH_EEXISTS = -2,   /**< it exists already */
	KORCH_ECONFLICT = -3, /**< stale resourceVersion, or another field manager owns a field */
	KORCH_EINVALID = -4,  /**< the input breaks a rule; see the error's causes */
	KORCH_EGONE = -5,     /**< the revision asked for was compacted away */
	KORCH_ENOMEM = -6,    /**< out of memory */
	KORCH_ESYSTEM = -7,   /**< a system call failed; korch_error_errno() tells which errno */
	KORCH_EUNSUPPORTED = -8,   /**< known to Kubernetes, not implemented by korch */
	KORCH_ETOOLARGE = -9,      /**< over a size, depth or count limit */
	KORCH_EBUSY = -10,         /**< locked by someone else, or overloaded: try again */
	KORCH_EFORBIDDEN = -11,    /**< authenticated but not allowed */
	KORCH_EUNAUTHORIZED = -12, /**< not authenticated */
	KORCH_ETIMEOUT = -13,      /**< a deadline passed */
	KORCH_ECANCELED = -14,     /**< the operation was cancelled */
	KORCH_EPROTO = -15,        /**< the peer speaks another protocol or version */
};

/**
 * An error with context: a code, a message that collected context on its way up
 * ("start container web: mount overlay: No such file or directory"), the errno saved where a
 * system call failed, and for KORCH_EINVALID the list of causes, each naming a field path.
 *
 * Every fallible function takes an optional last parameter `korch_error **err`; when it is not
 * NULL and the call fails, *err receives a new error that the caller frees with
 * korch_error_free(). On success *err is left untouched.
 */
typedef struct korch_error korch_error;

/** The error's code (a negative value of enum korch_error_code). */
KORCH_EXPORT int korch_error_code(const korch_error *err);

/** The error's message; borrowed from err. */
KORCH_EXPORT const char *korch_error_message(const korch_error *err);

/** The errno saved when a system call failed, or 0. */
KORCH_EXPORT int korch_error_errno(const korch_error *err);

/** How many causes the error carries (field errors of a KORCH_EINVALID error). */
KORCH_EXPORT size_t korch_error_cause_count(const korch_error *err);

/**
 * The field path of cause i ("spec.containers[0].image"), or NULL when the cause names none.
 * Borrowed from err; i must be below korch_error_cause_count().
 */
KORCH_EXPORT const char *korch_error_cause_field(const korch_error *err, size_t i);

/**
 * The Kubernetes cause type of cause i ("FieldValueRequired", "FieldValueInvalid", ...).
 * Borrowed from err.
 */
KORCH_EXPORT const char *korch_error_cause_reason(const korch_error *err, size_t i);

/** The message of cause i without its field path ("Required value"). Borrowed from err. */
KORCH_EXPORT const char *korch_error_cause_message(const korch_error *err, size_t i);

/**
 * Adds context in front of the message of *err: "CONTEXT: old message". Does nothing when err
 * or *err is NULL. Returns code, so that `return korch_error_prefix(err, r, "load %s", f);`
 * reads naturally.
 */
KORCH_EXPORT int korch_error_prefix(korch_error **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Frees an error; takes NULL. */
KORCH_EXPORT void korch_error_free(korch_error *err);

/** A short, static description of an error code ("not found"). */
KORCH_EXPORT const char *korch_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
