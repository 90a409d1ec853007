/*
 * probe - a tiny static program that containers in tests run: it performs one action per
 * command and prints the outcome, errnos by name, so tests can assert exact results.
 *
 *   probe CMD [ARGS...] [";" CMD [ARGS...]]...
 *
 * It runs only where /.korch-probe exists (the test rootfs), never on the host.
 *
 * errno NAME...     runs each named system call (table below), prints NAME=OK or NAME=EPERM
 * open PATH r|w|rw  open(2): OK or the errno name; likewise touch, unlink, rmdir, mkdir, umount
 * write PATH TEXT   open for writing and write TEXT
 * read PATH         prints the byte count, or the errno name
 * ls PATH           the entry names, sorted, space-separated ("(empty)" when none)
 * stat PATH         the device number ("dev=8:1")
 * fds               this process's open fds but the one listing them
 * ps                "PID ARGV0 ARGV1..." per process in /proc, sorted by pid
 * status FIELD...   those lines of /proc/self/status
 * id                uid, gid and groups; euid the effective uid
 * netdevs           network interfaces, sorted
 * shm               the number of SysV shared memory segments visible
 * hostname          gethostname; "hostname NAME" sets it
 * cwd, env NAME, rlimit NOFILE, mounts (mountinfo line count), readlink PATH
 * nofile            opens /dev/null until it fails: the count and the errno
 * echo TEXT..., echoerr TEXT..., lines N (N numbered lines), bigline N (N 'x' and a newline)
 * exit N, sleep SECONDS, pause, spawn N (N children that sleep forever),
 * onterm N (exit N on SIGTERM), ignore SIGNUM
 * tcall NAME...     like errno, each call made in a new thread (the filter covers threads)
 * status-of PID FIELD...  those lines of /proc/PID/status
 * ns [PID]          "TYPE:[inode]" of each namespace of PID (default self), sorted
 * cgroup [PID]      /proc/PID/cgroup as it is
 * mknod PATH b|c MAJOR MINOR   mknod(2) with mode 0600: OK or the errno name
 * alloc MIB         allocates and touches MIB MiB, then prints "allocated MIB"
 * forkbomb          forks children that pause until fork fails: "forked N errno E"
 * spin SECONDS N    N threads (this one included) busy for SECONDS of wall time
 * Syscalls of "errno" also include fork, clone (SIGCHLD), thread (pthread_create),
 * personality0 (personality(0)) and personality-query (personality(0xffffffff)).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <linux/reboot.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *
errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "OK";
	return n ? n : "E?";
}

/* Runs fn's call; returns 0 or the errno. */
#define TRY(expr) ((expr) < 0 ? errno : 0)

static void *
nothing(void *arg)
{
	return arg;
}

static int
clone_newuser(void)
{
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(0);
	waitpid((pid_t)pid, NULL, 0);
	return 0;
}

static int
do_syscall(const char *name)
{
	if (!strcmp(name, "unshare-user"))
		return TRY(unshare(CLONE_NEWUSER));
	if (!strcmp(name, "unshare-ns"))
		return TRY(unshare(CLONE_NEWNS));
	if (!strcmp(name, "clone-newuser"))
		return clone_newuser();
	if (!strcmp(name, "setns")) {
		int fd = open("/proc/self/ns/net", O_RDONLY);
		int e = TRY(setns(fd, CLONE_NEWNET));
		close(fd);
		return e;
	}
	if (!strcmp(name, "mount"))
		return TRY(mount("probe", "/mnt", "tmpfs", 0, NULL));
	if (!strcmp(name, "umount2"))
		return TRY(umount2("/nonexistent-probe", 0));
	if (!strcmp(name, "pivot_root"))
		return TRY(syscall(SYS_pivot_root, "/nonexistent-probe", "/nonexistent-probe"));
	if (!strcmp(name, "keyctl"))
		return TRY(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
	if (!strcmp(name, "add_key"))
		return TRY(syscall(SYS_add_key, "user", "probe", "x", 1, KEY_SPEC_SESSION_KEYRING));
	if (!strcmp(name, "request_key"))
		return TRY(syscall(SYS_request_key, "user", "probe-none", NULL, 0));
	if (!strcmp(name, "bpf"))
		return TRY(syscall(SYS_bpf, 0xffff, NULL, 0));
	if (!strcmp(name, "perf_event_open"))
		return TRY(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	if (!strcmp(name, "kexec_load"))
		return TRY(syscall(SYS_kexec_load, 0, 0, NULL, 0));
	if (!strcmp(name, "init_module"))
		return TRY(syscall(SYS_init_module, NULL, 0, ""));
	if (!strcmp(name, "finit_module"))
		return TRY(syscall(SYS_finit_module, -1, "", 0));
	if (!strcmp(name, "delete_module"))
		return TRY(syscall(SYS_delete_module, "probe_none", 0));
	if (!strcmp(name, "reboot"))
		return TRY(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
				   LINUX_REBOOT_CMD_CAD_OFF, NULL));
	if (!strcmp(name, "swapon"))
		return TRY(swapon("/nonexistent-probe", 0));
	if (!strcmp(name, "open_by_handle_at"))
		return TRY(syscall(SYS_open_by_handle_at, -1, NULL, 0));
	if (!strcmp(name, "userfaultfd"))
		return TRY(syscall(SYS_userfaultfd, 0));
	if (!strcmp(name, "io_uring_setup"))
		return TRY(syscall(SYS_io_uring_setup, 0, NULL));
	if (!strcmp(name, "acct"))
		return TRY(acct("/nonexistent-probe"));
	if (!strcmp(name, "settimeofday")) {
		struct timezone tz = { 100000, 0 }; /* invalid: EINVAL once permitted */
		return TRY(settimeofday(NULL, &tz));
	}
	if (!strcmp(name, "socket-alg"))
		return TRY(socket(AF_ALG, SOCK_SEQPACKET, 0));
	if (!strcmp(name, "socket-vsock"))
		return TRY(socket(AF_VSOCK, SOCK_STREAM, 0));
	if (!strcmp(name, "clone3"))
		return TRY(syscall(SYS_clone3, NULL, 0));
	if (!strcmp(name, "sethostname"))
		return TRY(sethostname("probe", 5));
	if (!strcmp(name, "syslog"))
		return TRY(syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
	if (!strcmp(name, "personality-bsd")) {
		int old = personality(0xffffffff);
		int e = TRY(personality(PER_BSD));
		personality((unsigned long)old);
		return e;
	}
	if (!strcmp(name, "fork")) {
		pid_t pid = fork();
		if (pid < 0)
			return errno;
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		return 0;
	}
	if (!strcmp(name, "clone")) {
		long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (pid < 0)
			return errno;
		if (pid == 0)
			_exit(0);
		waitpid((pid_t)pid, NULL, 0);
		return 0;
	}
	if (!strcmp(name, "thread")) {
		pthread_t t;
		int e = pthread_create(&t, NULL, nothing, NULL);
		if (e == 0)
			pthread_join(t, NULL);
		return e;
	}
	if (!strcmp(name, "personality0")) {
		int old = personality(0xffffffff);
		int e = TRY(personality(0));
		personality((unsigned long)old);
		return e;
	}
	if (!strcmp(name, "personality-query"))
		return TRY(personality(0xffffffff));
	if (!strcmp(name, "mknod-sda")) {
		int e = TRY(mknod("/dev/probe-sda", S_IFBLK | 0600, makedev(8, 0)));
		if (e)
			return e;
		int fd = open("/dev/probe-sda", O_RDONLY);
		e = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		unlink("/dev/probe-sda");
		return e;
	}
	fprintf(stderr, "probe: unknown syscall %s\n", name);
	exit(2);
}

struct tcall {
	const char *name; /* the syscall of do_syscall's table */
	int result;       /* its errno */
};

static void *
tcall_thread(void *arg)
{
	struct tcall *t = arg;
	t->result = do_syscall(t->name);
	return NULL;
}

/* The syscall made from a second thread of this process. */
static int
thread_syscall(const char *name)
{
	struct tcall t = { name, 0 };
	pthread_t th;
	int e = pthread_create(&th, NULL, tcall_thread, &t);
	if (e)
		return e;
	pthread_join(th, NULL);
	return t.result;
}

static volatile double spin_sink;

static void *
spin_thread(void *arg)
{
	double until = *(const double *)arg, x = 0;
	for (;;) {
		for (int i = 0; i < 100000; i++)
			x += i * 0.5;
		spin_sink = x;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 >= until)
			return NULL;
	}
}

static void
spin(double seconds, int threads)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double until = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
	pthread_t th[64];
	int n = 0;
	for (; n < threads - 1 && n < 64; n++)
		if (pthread_create(&th[n], NULL, spin_thread, &until) != 0)
			break;
	spin_thread(&until);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void
alloc(long mib)
{
	long page = sysconf(_SC_PAGESIZE);
	for (long i = 0; i < mib; i++) {
		char *p = malloc(1 << 20);
		if (!p) {
			printf("ENOMEM after %ld\n", i);
			return;
		}
		for (long off = 0; off < (1 << 20); off += page)
			p[off] = 1;
	}
	printf("allocated %ld\n", mib);
}

static void
forkbomb(void)
{
	int n = 0;
	for (;;) {
		pid_t pid = fork();
		if (pid < 0) {
			printf("forked %d errno %s\n", n, errname(errno));
			return;
		}
		if (pid == 0)
			for (;;)
				pause();
		n++;
	}
}

static void
print_file(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	if (n < 0)
		printf("%s\n", errname(errno));
	else
		fwrite(buf, 1, (size_t)n, stdout);
}

static void
namespaces(const char *pid)
{
	static const char *const types[] = { "cgroup", "ipc", "mnt", "net", "pid", "uts" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char path[64], link[128];
		snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, types[i]);
		ssize_t l = readlink(path, link, sizeof(link) - 1);
		printf("%s\n", l < 0 ? errname(errno) : (link[l] = '\0', link));
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
list_dir(const char *path, bool fds)
{
	DIR *d = opendir(path);
	if (!d) {
		printf("%s\n", errname(errno));
		return;
	}
	char *names[4096];
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 4096) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fds && atoi(de->d_name) == dirfd(d))
			continue;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (fds) {
		/* numeric order */
		for (int i = 0; i < n; i++)
			for (int j = i + 1; j < n; j++)
				if (atoi(names[j]) < atoi(names[i])) {
					char *t = names[i];
					names[i] = names[j];
					names[j] = t;
				}
	} else
		qsort(names, (size_t)n, sizeof(char *), cmp_str);
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", names[i]);
	printf("%s\n", n ? "" : "(empty)");
}

static void
ps(void)
{
	DIR *d = opendir("/proc");
	int pids[4096], n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) && n < 4096)
		if (atoi(de->d_name) > 0)
			pids[n++] = atoi(de->d_name);
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (pids[j] < pids[i]) {
				int t = pids[i];
				pids[i] = pids[j];
				pids[j] = t;
			}
	for (int i = 0; i < n; i++) {
		char path[64], buf[4096];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pids[i]);
		int fd = open(path, O_RDONLY);
		ssize_t len = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (len < 0)
			len = 0;
		for (ssize_t k = 0; k < len; k++)
			if (!buf[k])
				buf[k] = ' ';
		while (len > 0 && buf[len - 1] == ' ')
			len--;
		buf[len] = '\0';
		printf("%d %s\n", pids[i], buf);
	}
}

static void
status(const char *pid, char **fields, int n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	FILE *f = fopen(path, "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f))
		for (int i = 0; i < n; i++) {
			size_t l = strlen(fields[i]);
			if (!strncmp(line, fields[i], l) && line[l] == ':') {
				char *v = line + l + 1;
				v += strspn(v, " \t");
				printf("%s: %s", fields[i], v);
			}
		}
	if (f)
		fclose(f);
}

static void
netdevs(void)
{
	FILE *f = fopen("/proc/net/dev", "r");
	char line[512], *names[256];
	int n = 0;
	while (f && fgets(line, sizeof(line), f) && n < 256) {
		char *colon = strchr(line, ':');
		if (!colon || strchr(line, '|'))
			continue;
		*colon = '\0';
		names[n++] = strdup(line + strspn(line, " "));
	}
	if (f)
		fclose(f);
	qsort(names, (size_t)n, sizeof(char *), cmp_str);
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", names[i]);
	printf("\n");
}

static int
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
on_term(int sig)
{
	(void)sig;
	_exit(atoi(getenv("PROBE_ONTERM") ? getenv("PROBE_ONTERM") : "0"));
}

/* Runs one command (argv[0] is its name, n words). */
static void
run(char **argv, int n)
{
	const char *cmd = argv[0];
	const char *a1 = n > 1 ? argv[1] : "";
	if (!strcmp(cmd, "errno")) {
		for (int i = 1; i < n; i++)
			printf("%s=%s\n", argv[i], errname(do_syscall(argv[i])));
	} else if (!strcmp(cmd, "open")) {
		int flags = !strcmp(argv[2], "w")    ? O_WRONLY
			    : !strcmp(argv[2], "rw") ? O_RDWR
						     : O_RDONLY;
		int fd = open(a1, flags);
		printf("%s\n", errname(fd < 0 ? errno : 0));
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "touch")) {
		int fd = open(a1, O_WRONLY | O_CREAT, 0644);
		printf("%s\n", errname(fd < 0 ? errno : 0));
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "write")) {
		int fd = open(a1, O_WRONLY | O_TRUNC);
		int e = fd < 0 ? errno : 0;
		if (fd >= 0 && write(fd, argv[2], strlen(argv[2])) < 0)
			e = errno;
		printf("%s\n", errname(e));
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "unlink")) {
		printf("%s\n", errname(TRY(unlink(a1))));
	} else if (!strcmp(cmd, "rmdir")) {
		printf("%s\n", errname(TRY(rmdir(a1))));
	} else if (!strcmp(cmd, "mkdir")) {
		printf("%s\n", errname(TRY(mkdir(a1, 0755))));
	} else if (!strcmp(cmd, "umount")) {
		printf("%s\n", errname(TRY(umount2(a1, 0))));
	} else if (!strcmp(cmd, "read")) {
		int fd = open(a1, O_RDONLY);
		if (fd < 0) {
			printf("%s\n", errname(errno));
			return;
		}
		char buf[65536];
		long total = 0;
		ssize_t r;
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			total += r;
		close(fd);
		if (r < 0)
			printf("%s\n", errname(errno));
		else
			printf("%ld bytes\n", total);
	} else if (!strcmp(cmd, "ls")) {
		list_dir(a1, false);
	} else if (!strcmp(cmd, "stat")) {
		struct stat st;
		if (stat(a1, &st) < 0)
			printf("%s\n", errname(errno));
		else
			printf("dev=%u:%u\n", major(st.st_dev), minor(st.st_dev));
	} else if (!strcmp(cmd, "fds")) {
		list_dir("/proc/self/fd", true);
	} else if (!strcmp(cmd, "ps")) {
		ps();
	} else if (!strcmp(cmd, "status")) {
		status("self", argv + 1, n - 1);
	} else if (!strcmp(cmd, "status-of")) {
		status(a1, argv + 2, n - 2);
	} else if (!strcmp(cmd, "tcall")) {
		for (int i = 1; i < n; i++)
			printf("%s=%s\n", argv[i], errname(thread_syscall(argv[i])));
	} else if (!strcmp(cmd, "ns")) {
		namespaces(n > 1 ? a1 : "self");
	} else if (!strcmp(cmd, "cgroup")) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%s/cgroup", n > 1 ? a1 : "self");
		print_file(path);
	} else if (!strcmp(cmd, "mknod")) {
		mode_t type = !strcmp(argv[2], "b") ? S_IFBLK : S_IFCHR;
		dev_t dev = makedev((unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
		printf("%s\n", errname(TRY(mknod(a1, type | 0600, dev))));
	} else if (!strcmp(cmd, "alloc")) {
		alloc(atol(a1));
	} else if (!strcmp(cmd, "forkbomb")) {
		forkbomb();
	} else if (!strcmp(cmd, "spin")) {
		spin(atof(a1), n > 2 ? atoi(argv[2]) : 1);
	} else if (!strcmp(cmd, "id")) {
		gid_t groups[64];
		int ng = getgroups(64, groups);
		printf("uid=%u gid=%u groups=", getuid(), getgid());
		for (int i = 0; i < ng; i++)
			printf("%s%u", i ? "," : "", groups[i]);
		printf("\n");
	} else if (!strcmp(cmd, "euid")) {
		printf("%u\n", geteuid());
	} else if (!strcmp(cmd, "netdevs")) {
		netdevs();
	} else if (!strcmp(cmd, "shm")) {
		int lines = count_lines("/proc/sysvipc/shm");
		printf("%d\n", lines > 0 ? lines - 1 : lines);
	} else if (!strcmp(cmd, "hostname")) {
		char buf[256] = "";
		if (n > 1)
			printf("%s\n", errname(TRY(sethostname(a1, strlen(a1)))));
		else if (gethostname(buf, sizeof(buf)) == 0)
			printf("%s\n", buf);
	} else if (!strcmp(cmd, "cwd")) {
		char buf[4096];
		printf("%s\n", getcwd(buf, sizeof(buf)) ? buf : errname(errno));
	} else if (!strcmp(cmd, "env")) {
		printf("%s\n", getenv(a1) ? getenv(a1) : "(unset)");
	} else if (!strcmp(cmd, "rlimit")) {
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		printf("%llu %llu\n", (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
	} else if (!strcmp(cmd, "mounts")) {
		printf("%d\n", count_lines("/proc/self/mountinfo"));
	} else if (!strcmp(cmd, "readlink")) {
		char buf[4096];
		ssize_t l = readlink(a1, buf, sizeof(buf) - 1);
		if (l < 0)
			printf("%s\n", errname(errno));
		else
			printf("%.*s\n", (int)l, buf);
	} else if (!strcmp(cmd, "nofile")) {
		int count = 0, e = 0;
		for (;;) {
			if (open("/dev/null", O_RDONLY) < 0) {
				e = errno;
				break;
			}
			count++;
		}
		printf("%d %s\n", count, errname(e));
	} else if (!strcmp(cmd, "echo") || !strcmp(cmd, "echoerr")) {
		FILE *f = !strcmp(cmd, "echo") ? stdout : stderr;
		for (int i = 1; i < n; i++)
			fprintf(f, "%s%s", i > 1 ? " " : "", argv[i]);
		fprintf(f, "\n");
	} else if (!strcmp(cmd, "lines")) {
		for (int i = 1; i <= atoi(a1); i++)
			printf("line %d\n", i);
	} else if (!strcmp(cmd, "bigline")) {
		for (int i = 0; i < atoi(a1); i++)
			putchar('x');
		putchar('\n');
	} else if (!strcmp(cmd, "exit")) {
		fflush(NULL);
		exit(atoi(a1));
	} else if (!strcmp(cmd, "sleep")) {
		fflush(NULL);
		double s = atof(a1);
		struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	} else if (!strcmp(cmd, "pause")) {
		fflush(NULL);
		for (;;)
			pause();
	} else if (!strcmp(cmd, "spawn")) {
		for (int i = 0; i < atoi(a1); i++) {
			pid_t pid = fork();
			if (pid == 0)
				for (;;)
					pause();
			printf("%d\n", (int)pid);
		}
	} else if (!strcmp(cmd, "onterm")) {
		setenv("PROBE_ONTERM", a1, 1);
		signal(SIGTERM, on_term);
	} else if (!strcmp(cmd, "ignore")) {
		signal(atoi(a1), SIG_IGN);
	} else {
		fprintf(stderr, "probe: unknown command %s\n", cmd);
		exit(2);
	}
	fflush(NULL);
}

int
main(int argc, char **argv)
{
	/*
	 * Several commands change the system they run on (mount, sethostname, ...): run only in a
	 * test rootfs, which has this marker, never on the host.
	 */
	if (access("/.korch-probe", F_OK) < 0) {
		fprintf(stderr,
			"probe: no /.korch-probe here: not a korch test rootfs, refusing to "
			"run\n");
		return 2;
	}
	int start = 1;
	for (int i = 1; i <= argc; i++)
		if (i == argc || !strcmp(argv[i], ";")) {
			if (i > start)
				run(argv + start, i - start);
			start = i + 1;
		}
	return 0;
}
