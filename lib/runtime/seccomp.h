/*
 * seccomp.h - syscall filters for containers (internal): korch's RuntimeDefault profile (the
 * moby default profile's rules, as data), Localhost profiles read from JSON files in the
 * OCI/Docker seccomp format, compiled with libseccomp into classic BPF once and cached, and
 * installed in the container's process with seccomp(2).
 *
 * Compiling takes milliseconds; installing a cached program takes microseconds. So the parent
 * compiles (or finds in the cache) before clone(), where errors can still be reported, and the
 * child only installs: seccomp_install() does no allocation and may run after fork() of a
 * multi-threaded process.
 */
#ifndef KORCH_RUNTIME_SECCOMP_H
#define KORCH_RUNTIME_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>
#include "base/macro.h"

/* A parsed profile: a default action and rules with conditions (seccomp-profile.c). */
struct seccomp_profile;

/* A compiled filter (classic BPF), reference-counted and immutable: share it freely. */
struct seccomp_program;

/*
 * The RuntimeDefault profile. Static data: never freed (seccomp_profile_free ignores it).
 * Default action EPERM; the rules and their capability, architecture and kernel conditions are
 * moby's default.json (moby/profiles), see seccomp.c.
 */
const struct seccomp_profile *seccomp_profile_runtime_default(void);

/*
 * Parses a profile in the OCI runtime-spec (`architectures`, `syscalls[].names`) or Docker
 * (`archMap`, `includes`/`excludes`, `name`) JSON format. Unknown syscall names, actions,
 * operators, architectures or fields of the wrong type are KORCH_EINVALID with a message naming
 * the place ("syscalls[3].names[1]: unknown syscall \"foo\""). SCMP_ACT_NOTIFY is
 * KORCH_EUNSUPPORTED. source (may be NULL) prefixes messages, e.g. the file name.
 */
int seccomp_profile_parse(const char *json, size_t len, const char *source,
			  struct seccomp_profile **ret, korch_error **err);
/* Reads and parses a profile file (1 MiB at most). A missing file is KORCH_ENOTFOUND. */
int seccomp_profile_load(const char *path, struct seccomp_profile **ret, korch_error **err);
void seccomp_profile_free(struct seccomp_profile *p);
DEFINE_CLEANUP_FUNC(seccomp_profile_free, struct seccomp_profile, seccomp_profile_free)

/*
 * Compiles profile for a container whose bounding set is caps (bit n = capability n): rules
 * included only with a capability apply when the container holds all of them, rules excluded
 * with one apply when it holds none, as moby decides. The program covers the native
 * architecture and the ones the profile adds (on x86_64: x86 and x32). *ret holds one reference.
 * libseccomp runs in a child process given seccomp_compile_timeout_ms: a profile it cannot
 * compile in that time is KORCH_ETOOLARGE, a rule it refuses KORCH_EINVALID with its message.
 */
extern int seccomp_compile_timeout_ms; /* 5000; the fuzzer and tests lower it */
int seccomp_compile(const struct seccomp_profile *profile, uint64_t caps,
		    struct seccomp_program **ret, korch_error **err);
struct seccomp_program *seccomp_program_ref(struct seccomp_program *p);
void seccomp_program_unref(struct seccomp_program *p);
DEFINE_CLEANUP_FUNC(seccomp_program_unref, struct seccomp_program, seccomp_program_unref)
/* The number of BPF instructions (for logs and tests). */
size_t seccomp_program_length(const struct seccomp_program *p);
/* The instructions themselves (struct sock_filter, 8 bytes each); borrowed from p. */
const void *seccomp_program_insns(const struct seccomp_program *p);

/*
 * In the child, last before execve(): installs the program with seccomp(SECCOMP_SET_MODE_FILTER,
 * SECCOMP_FILTER_FLAG_TSYNC) so every thread of the process gets it. Needs no_new_privs set
 * before, or CAP_SYS_ADMIN. Returns 0 or -errno (a positive return is the id of a thread that
 * could not be synchronised, as the kernel reports it, turned into -ESRCH). No allocation.
 */
int seccomp_install(const struct seccomp_program *p);

/*
 * The cache of compiled programs: RuntimeDefault per capability set, and Localhost profiles
 * per (path, file identity and modification time, capability set). Thread-safe.
 */
struct seccomp_cache;
int seccomp_cache_new(struct seccomp_cache **ret, korch_error **err);
void seccomp_cache_free(struct seccomp_cache *c);
DEFINE_CLEANUP_FUNC(seccomp_cache_free, struct seccomp_cache, seccomp_cache_free)
/* The RuntimeDefault program for caps: compiled on first use. *ret holds one reference. */
int seccomp_cache_default(struct seccomp_cache *c, uint64_t caps, struct seccomp_program **ret,
			  korch_error **err);
/*
 * The program of a Localhost profile file; recompiled when the file changed. Errors name the
 * file. *ret holds one reference.
 */
int seccomp_cache_localhost(struct seccomp_cache *c, const char *path, uint64_t caps,
			    struct seccomp_program **ret, korch_error **err);
/* How many compilations the cache has done (tests check that a second start compiles nothing). */
unsigned seccomp_cache_compilations(const struct seccomp_cache *c);

#endif
