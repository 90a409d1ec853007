/*
 * seccomp-internal.h - the in-memory form of a seccomp profile, shared by the compiler and the
 * RuntimeDefault data (seccomp.c) and the JSON loader (seccomp-profile.c).
 */
#ifndef KORCH_RUNTIME_SECCOMP_INTERNAL_H
#define KORCH_RUNTIME_SECCOMP_INTERNAL_H

#include <seccomp.h>
#include "base/vec.h"
#include "runtime/seccomp.h"

#define SECCOMP_MAX_ARCHES 8

/* One argument condition: (arg[index] OP value), or for MASKED_EQ (arg & value) == value_two. */
struct seccomp_arg {
	unsigned index;       /* 0..5 */
	enum scmp_compare op; /* SCMP_CMP_NE ... SCMP_CMP_MASKED_EQ */
	uint64_t value;       /* datum A */
	uint64_t value_two;   /* datum B (MASKED_EQ's expected value) */
};

/* One rule: an action for some syscalls, under conditions, as in moby's profile format. */
struct seccomp_rule {
	const char *const *names;          /* syscall names, NULL-terminated */
	uint32_t action;                   /* libseccomp action (SCMP_ACT_ERRNO(38), ...) */
	const struct seccomp_arg *args;    /* conditions, all must hold (AND) */
	size_t n_args;                     /* entries in args */
	uint64_t caps_include;             /* applies only if the container holds all of these */
	uint64_t caps_exclude;             /* applies only if it holds none of these */
	const char *const *arches_include; /* Go arch names ("amd64"); NULL = any */
	const char *const *arches_exclude; /* Go arch names the rule skips; NULL = none */
	const char *min_kernel;            /* "4.8": applies on that kernel or newer; NULL = any */
};

struct seccomp_profile {
	bool is_static;                      /* the built-in profile: never freed */
	uint32_t default_action;             /* libseccomp action for syscalls no rule matches */
	uint32_t arches[SECCOMP_MAX_ARCHES]; /* SCMP_ARCH_* to cover besides the native one */
	size_t n_arches;                     /* entries in arches */
	const struct seccomp_rule *rules;    /* in profile order */
	size_t n_rules;                      /* entries in rules */
	struct ptrvec owned;                 /* parsed profiles: every allocation, freed together */
};

/*
 * The syscall number of name on arch (SCMP_ARCH_*): libseccomp's table, then korch's table of
 * syscalls newer than the libseccomp it was built with. __NR_SCMP_ERROR when unknown there;
 * a negative pseudo number when libseccomp knows it on other architectures only.
 */
int seccomp_resolve(uint32_t arch, const char *name);
/* Whether libseccomp or the supplement table knows name on any architecture. */
bool seccomp_name_known(const char *name);
/* The Go name of the native architecture ("amd64"), as moby's includes/excludes use it. */
const char *seccomp_native_goarch(void);

#endif
