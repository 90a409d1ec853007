/*
 * seccomp-default.c - korch's RuntimeDefault seccomp profile as data: the rules of moby's
 * seccomp/default.json (moby/profiles), in the same order, with the same conditions.
 */
#include <errno.h>
#include <linux/capability.h>

#include "base/macro.h"
#include "runtime/seccomp-internal.h"

#define CAPBIT(c) (UINT64_C(1) << (c))

/*
 * The RuntimeDefault rules, in moby's order (moby/profiles seccomp/default.json): an allow-list
 * of 361 names, ptrace and process_vm_* from kernel 4.8 on, socket() for every domain but AF_ALG
 * (38) and AF_VSOCK (40), personality() for the five harmless values, per-architecture calls,
 * groups allowed with a capability, clone() without namespace flags (mask 0x7E020000) and
 * clone3() answering ENOSYS (so that libc falls back to clone) unless CAP_SYS_ADMIN is held.
 * Everything else: EPERM.
 */

/* clang-format off */
static const char *const names_0[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
	"capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
	"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
	"clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
	"dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
	"execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
	"fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
	"flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
	"fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
	"futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
	"getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
	"getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
	"getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
	"getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
	"get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat",
	"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
	"ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
	"ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule",
	"landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
	"link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
	"membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
	"mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
	"mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd",
	"msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
	"_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe",
	"pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
	"pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
	"pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
	"readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
	"remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
	"restart_syscall", "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
	"sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
	"sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
	"semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64",
	"sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
	"setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid",
	"setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid",
	"setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
	"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount",
	"statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
	"tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
	"timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
	"truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
	"utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
	"write", "writev", NULL,
};
static const char *const names_1[] = {
	"process_vm_readv", "process_vm_writev", "ptrace", NULL,
};
static const char *const names_2[] = {
	"socket", NULL,
};
static const struct seccomp_arg args_2[] = {
	{ 0, SCMP_CMP_LT, 0x26, 0x0 },
};
static const char *const names_3[] = {
	"socket", NULL,
};
static const struct seccomp_arg args_3[] = {
	{ 0, SCMP_CMP_EQ, 0x27, 0x0 },
};
static const char *const names_4[] = {
	"socket", NULL,
};
static const struct seccomp_arg args_4[] = {
	{ 0, SCMP_CMP_GT, 0x28, 0x0 },
};
static const char *const names_5[] = {
	"personality", NULL,
};
static const struct seccomp_arg args_5[] = {
	{ 0, SCMP_CMP_EQ, 0x0, 0x0 },
};
static const char *const names_6[] = {
	"personality", NULL,
};
static const struct seccomp_arg args_6[] = {
	{ 0, SCMP_CMP_EQ, 0x8, 0x0 },
};
static const char *const names_7[] = {
	"personality", NULL,
};
static const struct seccomp_arg args_7[] = {
	{ 0, SCMP_CMP_EQ, 0x20000, 0x0 },
};
static const char *const names_8[] = {
	"personality", NULL,
};
static const struct seccomp_arg args_8[] = {
	{ 0, SCMP_CMP_EQ, 0x20008, 0x0 },
};
static const char *const names_9[] = {
	"personality", NULL,
};
static const struct seccomp_arg args_9[] = {
	{ 0, SCMP_CMP_EQ, 0xffffffff, 0x0 },
};
static const char *const names_10[] = {
	"sync_file_range2", "swapcontext", NULL,
};
static const char *const names_11[] = {
	"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
	"set_tls", NULL,
};
static const char *const names_12[] = {
	"arch_prctl", NULL,
};
static const char *const names_13[] = {
	"modify_ldt", NULL,
};
static const char *const names_14[] = {
	"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr", NULL,
};
static const char *const names_15[] = {
	"riscv_flush_icache", NULL,
};
static const char *const names_16[] = {
	"open_by_handle_at", NULL,
};
static const char *const names_17[] = {
	"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
	"lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
	"mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
	"setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare", NULL,
};
static const char *const names_18[] = {
	"clone", NULL,
};
static const struct seccomp_arg args_18[] = {
	{ 0, SCMP_CMP_MASKED_EQ, 0x7e020000, 0x0 },
};
static const char *const names_19[] = {
	"clone", NULL,
};
static const struct seccomp_arg args_19[] = {
	{ 1, SCMP_CMP_MASKED_EQ, 0x7e020000, 0x0 },
};
static const char *const names_20[] = {
	"clone3", NULL,
};
static const char *const names_21[] = {
	"reboot", NULL,
};
static const char *const names_22[] = {
	"chroot", NULL,
};
static const char *const names_23[] = {
	"delete_module", "init_module", "finit_module", NULL,
};
static const char *const names_24[] = {
	"acct", NULL,
};
static const char *const names_25[] = {
	"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace", NULL,
};
static const char *const names_26[] = {
	"iopl", "ioperm", NULL,
};
static const char *const names_27[] = {
	"settimeofday", "stime", "clock_settime", "clock_settime64", NULL,
};
static const char *const names_28[] = {
	"vhangup", NULL,
};
static const char *const names_29[] = {
	"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", NULL,
};
static const char *const names_30[] = {
	"syslog", NULL,
};
static const char *const names_31[] = {
	"bpf", NULL,
};
static const char *const names_32[] = {
	"perf_event_open", NULL,
};
static const struct seccomp_rule default_rules[] = {
	{ .names = names_0, .action = SCMP_ACT_ALLOW },
	{ .names = names_1, .action = SCMP_ACT_ALLOW, .min_kernel = "4.8" },
	{ .names = names_2, .action = SCMP_ACT_ALLOW, .args = args_2, .n_args = 1 },
	{ .names = names_3, .action = SCMP_ACT_ALLOW, .args = args_3, .n_args = 1 },
	{ .names = names_4, .action = SCMP_ACT_ALLOW, .args = args_4, .n_args = 1 },
	{ .names = names_5, .action = SCMP_ACT_ALLOW, .args = args_5, .n_args = 1 },
	{ .names = names_6, .action = SCMP_ACT_ALLOW, .args = args_6, .n_args = 1 },
	{ .names = names_7, .action = SCMP_ACT_ALLOW, .args = args_7, .n_args = 1 },
	{ .names = names_8, .action = SCMP_ACT_ALLOW, .args = args_8, .n_args = 1 },
	{ .names = names_9, .action = SCMP_ACT_ALLOW, .args = args_9, .n_args = 1 },
	{ .names = names_10, .action = SCMP_ACT_ALLOW, .arches_include = (const char *const[]){ "ppc64le", NULL } },
	{ .names = names_11, .action = SCMP_ACT_ALLOW, .arches_include = (const char *const[]){ "arm", "arm64", NULL } },
	{ .names = names_12, .action = SCMP_ACT_ALLOW, .arches_include = (const char *const[]){ "amd64", "x32", NULL } },
	{ .names = names_13, .action = SCMP_ACT_ALLOW, .arches_include = (const char *const[]){ "amd64", "x32", "x86", NULL } },
	{ .names = names_14, .action = SCMP_ACT_ALLOW, .arches_include = (const char *const[]){ "s390", "s390x", NULL } },
	{ .names = names_15, .action = SCMP_ACT_ALLOW, .arches_include = (const char *const[]){ "riscv64", NULL } },
	{ .names = names_16, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_DAC_READ_SEARCH) },
	{ .names = names_17, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_ADMIN) },
	{ .names = names_18, .action = SCMP_ACT_ALLOW, .args = args_18, .n_args = 1, .caps_exclude = CAPBIT(CAP_SYS_ADMIN), .arches_exclude = (const char *const[]){ "s390", "s390x", NULL } },
	{ .names = names_19, .action = SCMP_ACT_ALLOW, .args = args_19, .n_args = 1, .caps_exclude = CAPBIT(CAP_SYS_ADMIN), .arches_include = (const char *const[]){ "s390", "s390x", NULL } },
	{ .names = names_20, .action = SCMP_ACT_ERRNO(38), .caps_exclude = CAPBIT(CAP_SYS_ADMIN) },
	{ .names = names_21, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_BOOT) },
	{ .names = names_22, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_CHROOT) },
	{ .names = names_23, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_MODULE) },
	{ .names = names_24, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_PACCT) },
	{ .names = names_25, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_PTRACE) },
	{ .names = names_26, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_RAWIO) },
	{ .names = names_27, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_TIME) },
	{ .names = names_28, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_TTY_CONFIG) },
	{ .names = names_29, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYS_NICE) },
	{ .names = names_30, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_SYSLOG) },
	{ .names = names_31, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_BPF) },
	{ .names = names_32, .action = SCMP_ACT_ALLOW, .caps_include = CAPBIT(CAP_PERFMON) },
};
/* clang-format on */

static const struct seccomp_profile runtime_default = {
	.is_static = true,
	.default_action = SCMP_ACT_ERRNO(EPERM),
	.rules = default_rules,
	.n_rules = ARRAY_SIZE(default_rules),
};

const struct seccomp_profile *
seccomp_profile_runtime_default(void)
{
	return &runtime_default;
}
