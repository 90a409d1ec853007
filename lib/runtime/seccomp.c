/*
 * seccomp.c - korch's RuntimeDefault profile (the rules of moby's seccomp/default.json, as
 * data), the compiler from profiles to classic BPF through libseccomp, the cache of compiled
 * programs, and their installation in a container's process.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/macro.h"
#include "base/util.h"
#include "runtime/seccomp-internal.h"

/*
 * Syscalls newer than libseccomp 2.5.4's tables (Debian 12), with their numbers on the x86
 * family (arch/x86/entry/syscalls): the numbers from 424 on are shared by x86_64 and i386, and
 * x32 adds its 0x40000000 bit; uretprobe exists on x86_64 only. A newer libseccomp that knows a
 * name wins over this table.
 */
static const struct {
	const char *name; /* as in the kernel's table */
	int x86_64;       /* number on x86_64, -1 if none */
	int x86;          /* number on i386, -1 if none */
	int x32;          /* number on x32 (with the x32 bit), -1 if none */
} newer_syscalls[] = {
	{ "statmount", 457, 457, 0x40000000 + 457 },
	{ "listmount", 458, 458, 0x40000000 + 458 },
	{ "lsm_get_self_attr", 459, 459, 0x40000000 + 459 },
	{ "lsm_set_self_attr", 460, 460, 0x40000000 + 460 },
	{ "lsm_list_modules", 461, 461, 0x40000000 + 461 },
	{ "mseal", 462, 462, 0x40000000 + 462 },
	{ "setxattrat", 463, 463, 0x40000000 + 463 },
	{ "getxattrat", 464, 464, 0x40000000 + 464 },
	{ "listxattrat", 465, 465, 0x40000000 + 465 },
	{ "removexattrat", 466, 466, 0x40000000 + 466 },
	{ "open_tree_attr", 467, 467, 0x40000000 + 467 },
	{ "file_getattr", 468, 468, 0x40000000 + 468 },
	{ "file_setattr", 469, 469, 0x40000000 + 469 },
	{ "uretprobe", 335, -1, -1 },
	{ "riscv_hwprobe", -1, -1, -1 }, /* riscv64 only */
};

int
seccomp_resolve(uint32_t arch, const char *name)
{
	int nr = seccomp_syscall_resolve_name_arch(arch, name);
	if (nr != __NR_SCMP_ERROR)
		return nr;
	for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++) {
		if (!streq(newer_syscalls[i].name, name))
			continue;
		int v = arch == SCMP_ARCH_X86_64 ? newer_syscalls[i].x86_64
			: arch == SCMP_ARCH_X86  ? newer_syscalls[i].x86
			: arch == SCMP_ARCH_X32  ? newer_syscalls[i].x32
						 : -1;
		/* Known, but not on this architecture: a pseudo number, as libseccomp does. */
		return v >= 0 ? v : -10000 - (int)i;
	}
	return __NR_SCMP_ERROR;
}

bool
seccomp_name_known(const char *name)
{
	return seccomp_resolve(seccomp_arch_native(), name) != __NR_SCMP_ERROR;
}

const char *
seccomp_native_goarch(void)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64: return "amd64";
	case SCMP_ARCH_X86: return "386";
	case SCMP_ARCH_X32: return "x32";
	case SCMP_ARCH_AARCH64: return "arm64";
	case SCMP_ARCH_ARM: return "arm";
	case SCMP_ARCH_PPC64LE: return "ppc64le";
	case SCMP_ARCH_S390X: return "s390x";
	case SCMP_ARCH_RISCV64: return "riscv64";
	default: return "unknown";
	}
}

static bool
in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (streq(*list, s))
			return true;
	return false;
}

/* Whether the running kernel is at least "MAJOR.MINOR". */
static bool
kernel_at_least(const char *version)
{
	unsigned want_major = 0, want_minor = 0, major = 0, minor = 0;
	if (sscanf(version, "%u.%u", &want_major, &want_minor) < 1)
		return false;
	struct utsname u;
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) < 1)
		return false;
	return major > want_major || (major == want_major && minor >= want_minor);
}

/* moby's decision whether a rule applies to a container (caps = its bounding set). */
static bool
rule_applies(const struct seccomp_rule *r, uint64_t caps)
{
	const char *arch = seccomp_native_goarch();
	if (r->arches_exclude && in_list(r->arches_exclude, arch))
		return false;
	if (r->caps_exclude & caps)
		return false;
	if (r->arches_include && !in_list(r->arches_include, arch))
		return false;
	if ((r->caps_include & caps) != r->caps_include)
		return false;
	if (r->min_kernel && !kernel_at_least(r->min_kernel))
		return false;
	return true;
}

struct seccomp_program {
	atomic_int refs;            /* references; freed at zero */
	struct sock_fprog fprog;    /* what seccomp(2) takes: len and filter below */
	struct sock_filter insns[]; /* the BPF instructions */
};

struct seccomp_program *
seccomp_program_ref(struct seccomp_program *p)
{
	if (p)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void
seccomp_program_unref(struct seccomp_program *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		free(p);
}

size_t
seccomp_program_length(const struct seccomp_program *p)
{
	return p->fprog.len;
}

const void *
seccomp_program_insns(const struct seccomp_program *p)
{
	return p->insns;
}

static void
ctx_release(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/*
 * Adds one rule for one syscall number. libseccomp refuses two conditions on the same argument
 * in one rule; as runc does, such conditions then become one rule each (any may match).
 */
static int
add_rule(scmp_filter_ctx ctx, const struct seccomp_rule *r, int nr, const char *name,
	 korch_error **err)
{
	struct scmp_arg_cmp cmp[6];
	bool repeated = false;
	for (size_t i = 0; i < r->n_args && i < ARRAY_SIZE(cmp); i++) {
		cmp[i] = (struct scmp_arg_cmp){ .arg = r->args[i].index,
						.op = r->args[i].op,
						.datum_a = r->args[i].value,
						.datum_b = r->args[i].value_two };
		for (size_t j = 0; j < i; j++)
			if (r->args[j].index == r->args[i].index)
				repeated = true;
	}
	int rc;
	if (!repeated) {
		rc = seccomp_rule_add_array(ctx, r->action, nr, (unsigned)r->n_args, cmp);
	} else {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < r->n_args; i++)
			rc = seccomp_rule_add_array(ctx, r->action, nr, 1, &cmp[i]);
	}
	if (rc < 0)
		return error_errno(err, -rc, "seccomp rule for %s", name);
	return 0;
}

/* The rules of p that apply, for one architecture, into a filter of that architecture only. */
static int
build_arch(const struct seccomp_profile *p, uint64_t caps, uint32_t arch, scmp_filter_ctx *ret,
	   korch_error **err)
{
	_cleanup_(ctx_release) scmp_filter_ctx ctx = seccomp_init(p->default_action);
	if (!ctx)
		return error_set(err, KORCH_EINVALID, "seccomp: invalid default action");
	uint32_t native = seccomp_arch_native();
	if (arch != native) {
		int rc = seccomp_arch_add(ctx, arch);
		if (rc == 0)
			rc = seccomp_arch_remove(ctx, native);
		if (rc < 0)
			return error_errno(err, -rc, "seccomp: architecture 0x%x", arch);
	}
	/* korch sets no_new_privs itself (or leaves it off on purpose); the filter must not. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct seccomp_rule *r = &p->rules[i];
		if (r->action == p->default_action || !rule_applies(r, caps))
			continue;
		for (const char *const *n = r->names; *n; n++) {
			/*
			 * libseccomp takes native numbers and translates them for the filter's
			 * architecture by name; a syscall newer than its tables exists for it only
			 * as a raw number, so those (korch's table) go into the native filter only.
			 */
			int nr;
			if (arch == native) {
				nr = seccomp_resolve(arch, *n);
			} else {
				nr = seccomp_syscall_resolve_name(*n);
				if (seccomp_syscall_resolve_name_arch(arch, *n) < 0)
					nr = -1;
			}
			if (nr == __NR_SCMP_ERROR || (arch == native && nr < 0) || nr == -1)
				continue; /* not on this architecture, or unknown to this build */
			int rc = add_rule(ctx, r, nr, *n, err);
			if (rc < 0)
				return rc;
		}
	}
	*ret = steal_pointer(&ctx);
	return 0;
}

/* The architectures a profile covers: native, then its own list (or, for the built-in profile,
 * the native architecture's companions as moby's archMap lists them). */
static size_t
profile_arches(const struct seccomp_profile *p, uint32_t out[SECCOMP_MAX_ARCHES + 1])
{
	size_t n = 0;
	uint32_t native = seccomp_arch_native();
	out[n++] = native;
	if (p->is_static) {
		if (native == SCMP_ARCH_X86_64) {
			out[n++] = SCMP_ARCH_X86;
			out[n++] = SCMP_ARCH_X32;
		} else if (native == SCMP_ARCH_AARCH64) {
			out[n++] = SCMP_ARCH_ARM;
		}
		return n;
	}
	for (size_t i = 0; i < p->n_arches; i++) {
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= out[j] == p->arches[i];
		if (!dup)
			out[n++] = p->arches[i];
	}
	return n;
}

int seccomp_compile_timeout_ms = 5000;

static int64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * In the child of seccomp_compile: libseccomp builds the filter of every architecture and
 * writes its BPF to fd. A failure's message goes to msg_fd. Returns the exit status.
 */
static int
compile_child(const struct seccomp_profile *p, uint64_t caps, int fd, int msg_fd)
{
	uint32_t arches[SECCOMP_MAX_ARCHES + 1];
	size_t n_arches = profile_arches(p, arches);
	_cleanup_(ctx_release) scmp_filter_ctx ctx = NULL;
	_cleanup_error_ korch_error *err = NULL;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n_arches; i++) {
		scmp_filter_ctx one = NULL;
		if (build_arch(p, caps, arches[i], &one, &err) < 0) {
			rc = -1;
		} else if (!ctx) {
			ctx = one;
		} else if ((rc = seccomp_merge(ctx, one)) < 0) {
			seccomp_release(one);
			error_errno(&err, -rc, "merge architectures");
		}
	}
	/* libseccomp 2.5 exports to an fd only: the parent's memfd keeps it in memory. */
	if (rc == 0 && (rc = seccomp_export_bpf(ctx, fd)) < 0)
		error_errno(&err, -rc, "export");
	if (rc == 0)
		return 0;
	const char *msg = err ? korch_error_message(err) : "out of memory";
	(void)!write(msg_fd, msg, strlen(msg));
	return 1;
}

/*
 * libseccomp builds the filter in a child process with a time limit: some rule sets send its
 * rule tree into exponential work or an endless loop (2.5.4, two rules of one syscall that
 * share a first argument condition and differ in action), and a profile must never stall the
 * process that starts every container. The BPF comes back through a memfd the child inherits.
 */
int
seccomp_compile(const struct seccomp_profile *p, uint64_t caps, struct seccomp_program **ret,
		korch_error **err)
{
	_cleanup_close_ int fd = memfd_create("korch-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "compile seccomp profile: memfd_create");
	int msg[2];
	if (pipe2(msg, O_CLOEXEC) < 0)
		return error_errno(err, errno, "compile seccomp profile: pipe");
	_cleanup_close_ int msg_read = msg[0];
	pid_t pid = fork();
	if (pid < 0) {
		close(msg[1]);
		return error_errno(err, errno, "compile seccomp profile: fork");
	}
	if (pid == 0) {
		close(msg[0]);
		_exit(compile_child(p, caps, fd, msg[1]));
	}
	close(msg[1]);
	/* The pipe's end of file is the child's exit (or its crash). */
	char text[512];
	size_t len = 0;
	bool timed_out = false;
	int64_t deadline = mono_ns() + (int64_t)seccomp_compile_timeout_ms * NSEC_PER_MSEC;
	for (;;) {
		int64_t left = deadline - mono_ns();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = { .fd = msg_read, .events = POLLIN };
		int n = poll(&pfd, 1, (int)((left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC));
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		ssize_t got = read(msg_read, text + len, sizeof(text) - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
		if (len == sizeof(text) - 1)
			break;
	}
	text[len] = '\0';
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return error_set(err, KORCH_ETOOLARGE,
				 "compile seccomp profile: libseccomp did not finish in %d ms "
				 "(the rules' argument conditions are too complex)",
				 seccomp_compile_timeout_ms);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (len > 0)
			return error_set(err, KORCH_EINVALID, "compile seccomp profile: %s", text);
		return error_set(err, KORCH_ESYSTEM,
				 "compile seccomp profile: the compiler process %s %d",
				 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	off_t size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return error_set(
			err, KORCH_ETOOLARGE,
			"compile seccomp profile: %lld bytes of BPF (at most %d instructions)",
			(long long)size, BPF_MAXINSNS);
	struct seccomp_program *prog = malloc(sizeof(*prog) + (size_t)size);
	if (!prog)
		return error_oom(err);
	if (pread(fd, prog->insns, (size_t)size, 0) != size) {
		free(prog);
		return error_errno(err, errno, "compile seccomp profile: read back");
	}
	atomic_init(&prog->refs, 1);
	prog->fprog.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	prog->fprog.filter = prog->insns;
	*ret = prog;
	return 0;
}

int
seccomp_install(const struct seccomp_program *p)
{
	long r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
			 &p->fprog);
	if (r < 0)
		return -errno;
	return r > 0 ? -ESRCH : 0;
}

/* ---- the cache ---- */

struct cache_entry {
	char *path; /* NULL for RuntimeDefault */
	dev_t dev;  /* the file's identity and version when compiled */
	ino_t ino;
	struct timespec mtime;
	off_t size;
	uint64_t caps;                /* the bounding set it was compiled for */
	struct seccomp_program *prog; /* one reference held by the cache */
};

struct seccomp_cache {
	pthread_mutex_t lock;        /* guards everything below */
	struct cache_entry *entries; /* n of them */
	size_t n, cap;
	unsigned compilations; /* programs compiled so far */
};

int
seccomp_cache_new(struct seccomp_cache **ret, korch_error **err)
{
	struct seccomp_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return error_oom(err);
	pthread_mutex_init(&c->lock, NULL);
	*ret = c;
	return 0;
}

void
seccomp_cache_free(struct seccomp_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].path);
		seccomp_program_unref(c->entries[i].prog);
	}
	free(c->entries);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

unsigned
seccomp_cache_compilations(const struct seccomp_cache *c)
{
	return c->compilations;
}

static int
cache_store(struct seccomp_cache *c, const struct cache_entry *e, korch_error **err)
{
	struct cache_entry *slot = VEC_PUSH(c->entries, c->n, c->cap);
	if (!slot)
		return error_oom(err);
	*slot = *e;
	return 0;
}

int
seccomp_cache_default(struct seccomp_cache *c, uint64_t caps, struct seccomp_program **ret,
		      korch_error **err)
{
	pthread_mutex_lock(&c->lock);
	int r = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->entries[i].path && c->entries[i].caps == caps) {
			*ret = seccomp_program_ref(c->entries[i].prog);
			goto out;
		}
	}
	struct seccomp_program *prog = NULL;
	r = seccomp_compile(seccomp_profile_runtime_default(), caps, &prog, err);
	if (r < 0)
		goto out;
	c->compilations++;
	struct cache_entry e = { .caps = caps, .prog = prog };
	r = cache_store(c, &e, err);
	if (r < 0) {
		seccomp_program_unref(prog);
		goto out;
	}
	*ret = seccomp_program_ref(prog);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int
compile_file(const char *path, uint64_t caps, struct seccomp_program **ret, korch_error **err)
{
	_cleanup_(seccomp_profile_freep) struct seccomp_profile *p = NULL;
	int r = seccomp_profile_load(path, &p, err);
	if (r < 0)
		return r;
	r = seccomp_compile(p, caps, ret, err);
	return r < 0 ? korch_error_prefix(err, r, "seccomp profile %s", path) : 0;
}

int
seccomp_cache_localhost(struct seccomp_cache *c, const char *path, uint64_t caps,
			struct seccomp_program **ret, korch_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? error_set(err, KORCH_ENOTFOUND,
						   "seccomp profile %s: no such file", path)
				       : error_errno(err, errno, "seccomp profile %s", path);
	pthread_mutex_lock(&c->lock);
	int r = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct cache_entry *e = &c->entries[i];
		if (e->path && streq(e->path, path) && e->caps == caps) {
			if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
			    e->mtime.tv_sec == st.st_mtim.tv_sec &&
			    e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
				*ret = seccomp_program_ref(e->prog);
				goto out;
			}
			/* The file changed: drop the old program. */
			free(e->path);
			seccomp_program_unref(e->prog);
			c->entries[i] = c->entries[--c->n];
			break;
		}
	}
	struct seccomp_program *prog = NULL;
	r = compile_file(path, caps, &prog, err);
	if (r < 0)
		goto out;
	c->compilations++;
	struct cache_entry e = { .path = strdup(path),
				 .dev = st.st_dev,
				 .ino = st.st_ino,
				 .mtime = st.st_mtim,
				 .size = st.st_size,
				 .caps = caps,
				 .prog = prog };
	if (!e.path || (r = cache_store(c, &e, err)) < 0) {
		free(e.path);
		seccomp_program_unref(prog);
		r = r < 0 ? r : error_oom(err);
		goto out;
	}
	*ret = seccomp_program_ref(prog);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}
