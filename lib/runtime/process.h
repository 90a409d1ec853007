/*
 * process.h - the process half of a container (internal): who it runs as (the rootfs's
 * /etc/passwd and /etc/group, read by hand), which file it executes, and the last steps
 * before execve.
 */
#ifndef KORCH_RUNTIME_PROCESS_H
#define KORCH_RUNTIME_PROCESS_H

#include <stddef.h>
#include <sys/types.h>
#include <korch/common.h>
#include "runtime/container.h"

struct resolved_user {
	uid_t uid;       /* real, effective and saved uid */
	gid_t gid;       /* real, effective and saved gid */
	gid_t *groups;   /* supplementary groups (n_groups) */
	size_t n_groups; /* entries in groups */
	char *home;      /* from /etc/passwd, "/" when the user has no entry */
};

/*
 * Resolves a process's user ("uid", "name", "uid:gid", "name:group", NULL for root) and its
 * additional groups against the text of a passwd and a group file (either NULL when the file
 * does not exist), as Docker and runc do: a numeric uid not in passwd runs with gid 0; a named
 * user gets its primary group and every group that lists it as a member. Unknown names are
 * KORCH_EINVALID ("user \"nobody2\": no such user in /etc/passwd").
 */
int user_resolve(const char *user, char *const *additional_groups, const char *passwd,
		 const char *group, struct resolved_user *ret, korch_error **err);

/*
 * The same with the current root's /etc/passwd and /etc/group, read without NSS (which would
 * load libnss modules from the container's filesystem into this root process).
 */
int user_resolve_in_root(const char *user, char *const *additional_groups,
			 struct resolved_user *ret, korch_error **err);
void resolved_user_clear(struct resolved_user *u);

/*
 * Finds what to execute: args0 itself when it has a '/', relative to cwd when not absolute;
 * otherwise the first executable regular file named args0 in env's PATH. Errors read as runc's:
 * "exec \"/bin/nosuch\": No such file or directory", "exec \"nosuch\": executable file not
 * found in $PATH". *ret is the caller's.
 */
int exec_path_resolve(const char *args0, const char *cwd, char *const *env, char **ret,
		      korch_error **err);

/*
 * A copy of env with HOME=home added when env has no HOME (NULL-terminated, the caller's).
 */
char **env_with_home(char *const *env, const char *home);

/*
 * The start half (see container.h for the order): rlimits, no_new_privs, capabilities around
 * setgroups/setgid/setuid, chdir to the cwd as the user, signals reset, fds 3 and up marked
 * close-on-exec, seccomp, execve. Returns only on failure, with the error filled.
 */
int process_exec(const struct process_spec *p, const struct resolved_user *u, const char *exe,
		 char *const *envp, const struct container_hooks *sec, korch_error **err);

#endif
