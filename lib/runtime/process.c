/*
 * process.c - user and group resolution, the executable's path, and the steps from start to
 * execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/process.h"

#define ETC_FILE_MAX (4 * 1024 * 1024)

/* A uid or gid: a decimal number up to 2^32-2 (-1 means "unchanged" to the kernel). */
static bool
parse_id(const char *s, uint32_t *ret)
{
	int64_t v;
	if (!s[0] || parse_int64(s, &v) < 0 || v < 0 || v > 0xfffffffeLL || s[0] == '+' ||
	    s[0] == '-')
		return false;
	*ret = (uint32_t)v;
	return true;
}

/*
 * Splits the next line of an /etc file into at most max fields at ':'. The line is modified in
 * place; *pos moves past it. Returns the field count, or -1 at the end of the text.
 */
static int
next_record(char **pos, char **fields, int max)
{
	while (**pos) {
		char *line = *pos;
		char *nl = strchr(line, '\n');
		*pos = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		int n = 0;
		fields[n++] = line;
		for (char *c = line; *c && n < max; c++)
			if (*c == ':') {
				*c = '\0';
				fields[n++] = c + 1;
			}
		return n;
	}
	return -1;
}

struct pw_entry {
	char *name;   /* borrowed from the copied text */
	uint32_t uid; /* uid field */
	uint32_t gid; /* primary gid */
	char *home;   /* home directory */
};

/* Finds a passwd entry by name (name != NULL) or by uid. text is modified. */
static bool
passwd_find(char *text, const char *name, uint32_t uid, struct pw_entry *ret)
{
	char *pos = text, *f[7];
	int n;
	while (text && (n = next_record(&pos, f, 7)) >= 0) {
		struct pw_entry e = { f[0], 0, 0, n > 5 ? f[5] : NULL };
		if (n < 4 || !parse_id(f[2], &e.uid) || !parse_id(f[3], &e.gid))
			continue;
		if (name ? streq(e.name, name) : e.uid == uid) {
			*ret = e;
			return true;
		}
	}
	return false;
}

/* Finds a group's gid by name. text is modified. */
static bool
group_find(char *text, const char *name, uint32_t *ret_gid)
{
	char *pos = text, *f[4];
	int n;
	uint32_t gid;
	while (text && (n = next_record(&pos, f, 4)) >= 0)
		if (n >= 3 && streq(f[0], name) && parse_id(f[2], &gid)) {
			*ret_gid = gid;
			return true;
		}
	return false;
}

static int
add_group(struct resolved_user *u, gid_t gid)
{
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->groups[i] == gid)
			return 0;
	gid_t *g = realloc(u->groups, (u->n_groups + 1) * sizeof(gid_t));
	if (!g)
		return KORCH_ENOMEM;
	g[u->n_groups++] = gid;
	u->groups = g;
	return 0;
}

/* Adds every group of the group file whose member list names user. text is modified. */
static int
add_member_groups(struct resolved_user *u, char *text, const char *user)
{
	char *pos = text, *f[4];
	int n;
	uint32_t gid;
	while (text && (n = next_record(&pos, f, 4)) >= 0) {
		if (n < 4 || !parse_id(f[2], &gid))
			continue;
		char *save = NULL;
		for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (streq(m, user) && add_group(u, gid) < 0)
				return KORCH_ENOMEM;
	}
	return 0;
}

/* Resolves a group given by number or by name in the group file (text copied first). */
static int
resolve_group(const char *g, const char *group, const char *what, uint32_t *ret, korch_error **err)
{
	if (parse_id(g, ret))
		return 0;
	_cleanup_free_ char *copy = group ? strdup(group) : NULL;
	if (group && !copy)
		return error_oom(err);
	if (!group_find(copy, g, ret))
		return error_set(err, KORCH_EINVALID, "%s \"%s\": no such group in /etc/group",
				 what, g);
	return 0;
}

void
resolved_user_clear(struct resolved_user *u)
{
	free(u->groups);
	free(u->home);
	memset(u, 0, sizeof(*u));
}

static int
user_fill(const char *user, char *const *additional_groups, const char *passwd, const char *group,
	  struct resolved_user *u, korch_error **err)
{
	_cleanup_free_ char *spec = strdup(user ? user : "0");
	_cleanup_free_ char *pw = passwd ? strdup(passwd) : NULL;
	if (!spec || (passwd && !pw))
		return error_oom(err);
	char *gpart = strchr(spec, ':');
	if (gpart)
		*gpart++ = '\0';
	struct pw_entry e;
	uint32_t uid;
	bool found;
	if (parse_id(spec, &uid)) {
		found = passwd_find(pw, NULL, uid, &e);
		u->uid = uid;
		u->gid = found ? e.gid : 0;
	} else {
		found = passwd_find(pw, spec, 0, &e);
		if (!found)
			return error_set(err, KORCH_EINVALID,
					 "user \"%s\": no such user in /etc/passwd", spec);
		u->uid = e.uid;
		u->gid = e.gid;
	}
	u->home = strdup(found && e.home && e.home[0] ? e.home : "/");
	if (!u->home)
		return error_oom(err);
	if (gpart) {
		uint32_t gid;
		int r = resolve_group(gpart, group, "group", &gid, err);
		if (r < 0)
			return korch_error_prefix(err, r, "user \"%s\"", user);
		u->gid = gid;
	}
	if (found && group) {
		_cleanup_free_ char *copy = strdup(group);
		if (!copy || add_member_groups(u, copy, e.name) < 0)
			return error_oom(err);
	}
	for (size_t i = 0; additional_groups && additional_groups[i]; i++) {
		uint32_t gid;
		int r = resolve_group(additional_groups[i], group, "additional group", &gid, err);
		if (r < 0)
			return r;
		if (add_group(u, gid) < 0)
			return error_oom(err);
	}
	return 0;
}

int
user_resolve(const char *user, char *const *additional_groups, const char *passwd,
	     const char *group, struct resolved_user *ret, korch_error **err)
{
	struct resolved_user u = { 0 };
	int r = user_fill(user, additional_groups, passwd, group, &u, err);
	if (r < 0) {
		resolved_user_clear(&u);
		return r;
	}
	*ret = u;
	return 0;
}

/*
 * Reads an /etc file of the current root (the image's); a missing file is NULL, not an error.
 * The image chooses what is there: a FIFO or a device must not hang or flood us, so only a
 * regular file is read, opened without blocking.
 */
static int
read_etc(const char *path, char **ret, korch_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		*ret = NULL;
		return 0;
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return error_errno(err, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return error_set(err, KORCH_EINVALID, "%s: not a regular file", path);
	int r = read_all_fd(fd, ETC_FILE_MAX, ret, NULL, err);
	return r < 0 ? korch_error_prefix(err, r, "%s", path) : 0;
}

int
user_resolve_in_root(const char *user, char *const *additional_groups, struct resolved_user *ret,
		     korch_error **err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	int r;
	if ((r = read_etc("/etc/passwd", &passwd, err)) < 0 ||
	    (r = read_etc("/etc/group", &group, err)) < 0)
		return r;
	return user_resolve(user, additional_groups, passwd, group, ret, err);
}

/* 0 when path is an executable regular file, else a positive errno. */
static int
check_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	if (!(st.st_mode & 0111))
		return EACCES;
	return 0;
}

int
exec_path_resolve(const char *args0, const char *cwd, char *const *env, char **ret,
		  korch_error **err)
{
	char *path = NULL;
	if (strchr(args0, '/')) {
		if (args0[0] == '/')
			path = strdup(args0);
		else if (asprintf(&path, "%s/%s", cwd, args0) < 0)
			path = NULL;
		if (!path)
			return error_oom(err);
		int e = check_executable(path);
		if (e) {
			free(path);
			return error_set(err, e == ENOENT ? KORCH_ENOTFOUND : KORCH_EINVALID,
					 "exec \"%s\": %s", args0, strerror(e));
		}
		*ret = path;
		return 0;
	}
	const char *search = NULL;
	for (size_t i = 0; env && env[i]; i++)
		if (startswith(env[i], "PATH="))
			search = env[i] + 5;
	if (!search)
		search = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	_cleanup_free_ char *dirs = strdup(search);
	if (!dirs)
		return error_oom(err);
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (asprintf(&path, "%s/%s", d[0] ? d : ".", args0) < 0)
			return error_oom(err);
		if (check_executable(path) == 0) {
			*ret = path;
			return 0;
		}
		free(path);
		path = NULL;
	}
	return error_set(err, KORCH_ENOTFOUND, "exec \"%s\": executable file not found in $PATH",
			 args0);
}

char **
env_with_home(char *const *env, const char *home)
{
	size_t n = 0;
	bool has_home = false;
	for (; env && env[n]; n++)
		has_home |= startswith(env[n], "HOME=") != NULL;
	char **out = calloc(n + 2, sizeof(char *));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = env[i];
	if (!has_home && asprintf(&out[n], "HOME=%s", home) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

static const char *
rlimit_name(int resource)
{
	switch (resource) {
	case RLIMIT_AS: return "AS";
	case RLIMIT_CORE: return "CORE";
	case RLIMIT_CPU: return "CPU";
	case RLIMIT_DATA: return "DATA";
	case RLIMIT_FSIZE: return "FSIZE";
	case RLIMIT_LOCKS: return "LOCKS";
	case RLIMIT_MEMLOCK: return "MEMLOCK";
	case RLIMIT_MSGQUEUE: return "MSGQUEUE";
	case RLIMIT_NICE: return "NICE";
	case RLIMIT_NOFILE: return "NOFILE";
	case RLIMIT_NPROC: return "NPROC";
	case RLIMIT_RSS: return "RSS";
	case RLIMIT_RTPRIO: return "RTPRIO";
	case RLIMIT_RTTIME: return "RTTIME";
	case RLIMIT_SIGPENDING: return "SIGPENDING";
	case RLIMIT_STACK: return "STACK";
	default: return "?";
	}
}

/* Default dispositions and an empty mask: the monitor blocks signals for its signalfd. */
static void
reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
}

/* Runs a hook if the security table has it. */
#define SEC_HOOK(sec, hook) \
	((sec) && (sec)->ops && (sec)->ops->hook ? (sec)->ops->hook((sec)->data, err) : 0)

int
process_exec(const struct process_spec *p, const struct resolved_user *u, const char *exe,
	     char *const *envp, const struct container_hooks *sec, korch_error **err)
{
	int r;
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = { p->rlimits[i].soft, p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return error_errno(err, errno, "setrlimit %s",
					   rlimit_name(p->rlimits[i].resource));
	}
	if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_errno(err, errno, "set no_new_privs");
	if ((r = SEC_HOOK(sec, prepare_caps)) < 0)
		return r;
	if (setgroups(u->n_groups, u->groups) < 0)
		return error_errno(err, errno, "setgroups");
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return error_errno(err, errno, "setgid %u", (unsigned)u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return error_errno(err, errno, "setuid %u", (unsigned)u->uid);
	/*
	 * As the user and before its capabilities are back (setuid cleared the effective set), so
	 * a cwd the user may not enter fails as it would in a shell.
	 */
	if (chdir(p->cwd) < 0)
		return error_errno(err, errno, "chdir to cwd \"%s\"", p->cwd);
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
		return error_set(err, KORCH_EINVALID, "cwd \"%s\" is outside the container",
				 p->cwd);
	if ((r = SEC_HOOK(sec, apply_caps)) < 0)
		return r;
	reset_signals();
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return error_errno(err, errno, "close_range");
	if ((r = SEC_HOOK(sec, apply_seccomp)) < 0)
		return r;
	execve(exe, p->args, envp);
	return error_errno(err, errno, "exec \"%s\"", p->args[0]);
}
