/*
 * Seccomp profiles without installing anything (suite unit): the RuntimeDefault rules
 * cross-checked against moby's default profile recorded here as data (parsed by korch's own
 * loader and compiled to the identical program for several capability sets), the syscalls that
 * no rule may allow, the JSON loader's errors, the OCI format, the cache, and compile times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "runtime/seccomp-internal.h"

/* moby/profiles seccomp/default.json @ cd3bed8: its rules without comments, as data. */
static const char *const moby_rules[] = {
	"{\"names\":[\"accept\",\"accept4\",\"access\",\"adjtimex\",\"alarm\",\"bind\",\"brk\",\"cachestat"
	"\",\"capget\",\"capset\",\"chdir\",\"chmod\",\"chown\",\"chown32\",\"clock_adjtime\",\"clock_adj"
	"time64\",\"clock_getres\",\"clock_getres_time64\",\"clock_gettime\",\"clock_gettime64\",\""
	"clock_nanosleep\",\"clock_nanosleep_time64\",\"close\",\"close_range\",\"connect\",\"copy_"
	"file_range\",\"creat\",\"dup\",\"dup2\",\"dup3\",\"epoll_create\",\"epoll_create1\",\"epoll_ct"
	"l\",\"epoll_ctl_old\",\"epoll_pwait\",\"epoll_pwait2\",\"epoll_wait\",\"epoll_wait_old\",\"e"
	"ventfd\",\"eventfd2\",\"execve\",\"execveat\",\"exit\",\"exit_group\",\"faccessat\",\"faccessa"
	"t2\",\"fadvise64\",\"fadvise64_64\",\"fallocate\",\"fanotify_mark\",\"fchdir\",\"fchmod\",\"fc"
	"hmodat\",\"fchmodat2\",\"fchown\",\"fchown32\",\"fchownat\",\"fcntl\",\"fcntl64\",\"fdatasync\""
	",\"fgetxattr\",\"flistxattr\",\"flock\",\"fork\",\"fremovexattr\",\"fsetxattr\",\"fstat\",\"fst"
	"at64\",\"fstatat64\",\"fstatfs\",\"fstatfs64\",\"fsync\",\"ftruncate\",\"ftruncate64\",\"futex"
	"\",\"futex_requeue\",\"futex_time64\",\"futex_wait\",\"futex_waitv\",\"futex_wake\",\"futime"
	"sat\",\"getcpu\",\"getcwd\",\"getdents\",\"getdents64\",\"getegid\",\"getegid32\",\"geteuid\",\""
	"geteuid32\",\"getgid\",\"getgid32\",\"getgroups\",\"getgroups32\",\"getitimer\",\"getpeernam"
	"e\",\"getpgid\",\"getpgrp\",\"getpid\",\"getppid\",\"getpriority\",\"getrandom\",\"getresgid\","
	"\"getresgid32\",\"getresuid\",\"getresuid32\",\"getrlimit\",\"get_robust_list\",\"getrusage"
	"\",\"getsid\",\"getsockname\",\"getsockopt\",\"get_thread_area\",\"gettid\",\"gettimeofday\","
	"\"getuid\",\"getuid32\",\"getxattr\",\"getxattrat\",\"inotify_add_watch\",\"inotify_init\",\""
	"inotify_init1\",\"inotify_rm_watch\",\"io_cancel\",\"ioctl\",\"io_destroy\",\"io_getevents"
	"\",\"io_pgetevents\",\"io_pgetevents_time64\",\"ioprio_get\",\"ioprio_set\",\"io_setup\",\"i"
	"o_submit\",\"ipc\",\"kill\",\"landlock_add_rule\",\"landlock_create_ruleset\",\"landlock_r"
	"estrict_self\",\"lchown\",\"lchown32\",\"lgetxattr\",\"link\",\"linkat\",\"listen\",\"listmoun"
	"t\",\"listxattr\",\"listxattrat\",\"llistxattr\",\"_llseek\",\"lremovexattr\",\"lseek\",\"lset"
	"xattr\",\"lstat\",\"lstat64\",\"madvise\",\"map_shadow_stack\",\"membarrier\",\"memfd_create"
	"\",\"memfd_secret\",\"mincore\",\"mkdir\",\"mkdirat\",\"mknod\",\"mknodat\",\"mlock\",\"mlock2\","
	"\"mlockall\",\"mmap\",\"mmap2\",\"mprotect\",\"mq_getsetattr\",\"mq_notify\",\"mq_open\",\"mq_t"
	"imedreceive\",\"mq_timedreceive_time64\",\"mq_timedsend\",\"mq_timedsend_time64\",\"mq_u"
	"nlink\",\"mremap\",\"mseal\",\"msgctl\",\"msgget\",\"msgrcv\",\"msgsnd\",\"msync\",\"munlock\",\"m"
	"unlockall\",\"munmap\",\"name_to_handle_at\",\"nanosleep\",\"newfstatat\",\"_newselect\",\"o"
	"pen\",\"openat\",\"openat2\",\"pause\",\"pidfd_open\",\"pidfd_send_signal\",\"pipe\",\"pipe2\","
	"\"pkey_alloc\",\"pkey_free\",\"pkey_mprotect\",\"poll\",\"ppoll\",\"ppoll_time64\",\"prctl\",\""
	"pread64\",\"preadv\",\"preadv2\",\"prlimit64\",\"process_mrelease\",\"pselect6\",\"pselect6_"
	"time64\",\"pwrite64\",\"pwritev\",\"pwritev2\",\"read\",\"readahead\",\"readlink\",\"readlinka"
	"t\",\"readv\",\"recv\",\"recvfrom\",\"recvmmsg\",\"recvmmsg_time64\",\"recvmsg\",\"remap_file_"
	"pages\",\"removexattr\",\"removexattrat\",\"rename\",\"renameat\",\"renameat2\",\"restart_sy"
	"scall\",\"riscv_hwprobe\",\"rmdir\",\"rseq\",\"rt_sigaction\",\"rt_sigpending\",\"rt_sigproc"
	"mask\",\"rt_sigqueueinfo\",\"rt_sigreturn\",\"rt_sigsuspend\",\"rt_sigtimedwait\",\"rt_sig"
	"timedwait_time64\",\"rt_tgsigqueueinfo\",\"sched_getaffinity\",\"sched_getattr\",\"sched"
	"_getparam\",\"sched_get_priority_max\",\"sched_get_priority_min\",\"sched_getscheduler"
	"\",\"sched_rr_get_interval\",\"sched_rr_get_interval_time64\",\"sched_setaffinity\",\"sc"
	"hed_setattr\",\"sched_setparam\",\"sched_setscheduler\",\"sched_yield\",\"seccomp\",\"sele"
	"ct\",\"semctl\",\"semget\",\"semop\",\"semtimedop\",\"semtimedop_time64\",\"send\",\"sendfile\""
	",\"sendfile64\",\"sendmmsg\",\"sendmsg\",\"sendto\",\"setfsgid\",\"setfsgid32\",\"setfsuid\",\""
	"setfsuid32\",\"setgid\",\"setgid32\",\"setgroups\",\"setgroups32\",\"setitimer\",\"setpgid\","
	"\"setpriority\",\"setregid\",\"setregid32\",\"setresgid\",\"setresgid32\",\"setresuid\",\"set"
	"resuid32\",\"setreuid\",\"setreuid32\",\"setrlimit\",\"set_robust_list\",\"setsid\",\"setsoc"
	"kopt\",\"set_thread_area\",\"set_tid_address\",\"setuid\",\"setuid32\",\"setxattr\",\"setxat"
	"trat\",\"shmat\",\"shmctl\",\"shmdt\",\"shmget\",\"shutdown\",\"sigaltstack\",\"signalfd\",\"sig"
	"nalfd4\",\"sigprocmask\",\"sigreturn\",\"socketcall\",\"socketpair\",\"splice\",\"stat\",\"sta"
	"t64\",\"statfs\",\"statfs64\",\"statmount\",\"statx\",\"symlink\",\"symlinkat\",\"sync\",\"sync_"
	"file_range\",\"syncfs\",\"sysinfo\",\"tee\",\"tgkill\",\"time\",\"timer_create\",\"timer_delet"
	"e\",\"timer_getoverrun\",\"timer_gettime\",\"timer_gettime64\",\"timer_settime\",\"timer_s"
	"ettime64\",\"timerfd_create\",\"timerfd_gettime\",\"timerfd_gettime64\",\"timerfd_settim"
	"e\",\"timerfd_settime64\",\"times\",\"tkill\",\"truncate\",\"truncate64\",\"ugetrlimit\",\"uma"
	"sk\",\"uname\",\"unlink\",\"unlinkat\",\"uretprobe\",\"utime\",\"utimensat\",\"utimensat_time6"
	"4\",\"utimes\",\"vfork\",\"vmsplice\",\"wait4\",\"waitid\",\"waitpid\",\"write\",\"writev\"],\"act"
	"ion\":\"SCMP_ACT_ALLOW\"}",
	"{\"names\":[\"process_vm_readv\",\"process_vm_writev\",\"ptrace\"],\"action\":\"SCMP_ACT_AL"
	"LOW\",\"includes\":{\"minKernel\":\"4.8\"}}",
	"{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":38,\"op\""
	":\"SCMP_CMP_LT\"}]}",
	"{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":39,\"op\""
	":\"SCMP_CMP_EQ\"}]}",
	"{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":40,\"op\""
	":\"SCMP_CMP_GT\"}]}",
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,"
	"\"op\":\"SCMP_CMP_EQ\"}]}",
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":8,"
	"\"op\":\"SCMP_CMP_EQ\"}]}",
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":13"
	"1072,\"op\":\"SCMP_CMP_EQ\"}]}",
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":13"
	"1080,\"op\":\"SCMP_CMP_EQ\"}]}",
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":42"
	"94967295,\"op\":\"SCMP_CMP_EQ\"}]}",
	"{\"names\":[\"sync_file_range2\",\"swapcontext\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\""
	":{\"arches\":[\"ppc64le\"]}}",
	"{\"names\":[\"arm_fadvise64_64\",\"arm_sync_file_range\",\"sync_file_range2\",\"breakpoin"
	"t\",\"cacheflush\",\"set_tls\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"arm\""
	",\"arm64\"]}}",
	"{\"names\":[\"arch_prctl\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"amd64\","
	"\"x32\"]}}",
	"{\"names\":[\"modify_ldt\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"amd64\","
	"\"x32\",\"x86\"]}}",
	"{\"names\":[\"s390_pci_mmio_read\",\"s390_pci_mmio_write\",\"s390_runtime_instr\"],\"acti"
	"on\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"s390\",\"s390x\"]}}",
	"{\"names\":[\"riscv_flush_icache\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":["
	"\"riscv64\"]}}",
	"{\"names\":[\"open_by_handle_at\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CA"
	"P_DAC_READ_SEARCH\"]}}",
	"{\"names\":[\"bpf\",\"clone\",\"clone3\",\"fanotify_init\",\"fsconfig\",\"fsmount\",\"fsopen\",\""
	"fspick\",\"lookup_dcookie\",\"lsm_get_self_attr\",\"lsm_list_modules\",\"lsm_set_self_at"
	"tr\",\"mount\",\"mount_setattr\",\"move_mount\",\"open_tree\",\"perf_event_open\",\"quotactl"
	"\",\"quotactl_fd\",\"setdomainname\",\"sethostname\",\"setns\",\"syslog\",\"umount\",\"umount2"
	"\",\"unshare\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}}",
	"{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":21140602"
	"88,\"op\":\"SCMP_CMP_MASKED_EQ\"}],\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"],\"arches\":[\"s"
	"390\",\"s390x\"]}}",
	"{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":1,\"value\":21140602"
	"88,\"op\":\"SCMP_CMP_MASKED_EQ\"}],\"includes\":{\"arches\":[\"s390\",\"s390x\"]},\"excludes\""
	":{\"caps\":[\"CAP_SYS_ADMIN\"]}}",
	"{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38,\"excludes\":{\"caps\":["
	"\"CAP_SYS_ADMIN\"]}}",
	"{\"names\":[\"reboot\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_BOOT\""
	"]}}",
	"{\"names\":[\"chroot\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_CHROO"
	"T\"]}}",
	"{\"names\":[\"delete_module\",\"init_module\",\"finit_module\"],\"action\":\"SCMP_ACT_ALLOW"
	"\",\"includes\":{\"caps\":[\"CAP_SYS_MODULE\"]}}",
	"{\"names\":[\"acct\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_PACCT\"]"
	"}}",
	"{\"names\":[\"kcmp\",\"pidfd_getfd\",\"process_madvise\",\"process_vm_readv\",\"process_vm_"
	"writev\",\"ptrace\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_PTRACE\""
	"]}}",
	"{\"names\":[\"iopl\",\"ioperm\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SY"
	"S_RAWIO\"]}}",
	"{\"names\":[\"settimeofday\",\"stime\",\"clock_settime\",\"clock_settime64\"],\"action\":\"SC"
	"MP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_TIME\"]}}",
	"{\"names\":[\"vhangup\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_TTY_"
	"CONFIG\"]}}",
	"{\"names\":[\"get_mempolicy\",\"mbind\",\"set_mempolicy\",\"set_mempolicy_home_node\"],\"ac"
	"tion\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_NICE\"]}}",
	"{\"names\":[\"syslog\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYSLOG\"]}"
	"}",
	"{\"names\":[\"bpf\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_BPF\"]}}",
	"{\"names\":[\"perf_event_open\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_"
	"PERFMON\"]}}",
};
static const char moby_arch_map[] =
	"[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\",\"SCMP_AR"
	"CH_X32\"]},{\"architecture\":\"SCMP_ARCH_AARCH64\",\"subArchitectures\":[\"SCMP_ARCH_ARM"
	"\"]},{\"architecture\":\"SCMP_ARCH_MIPS64\",\"subArchitectures\":[\"SCMP_ARCH_MIPS\",\"SCM"
	"P_ARCH_MIPS64N32\"]},{\"architecture\":\"SCMP_ARCH_MIPS64N32\",\"subArchitectures\":[\"S"
	"CMP_ARCH_MIPS\",\"SCMP_ARCH_MIPS64\"]},{\"architecture\":\"SCMP_ARCH_MIPSEL64\",\"subArc"
	"hitectures\":[\"SCMP_ARCH_MIPSEL\",\"SCMP_ARCH_MIPSEL64N32\"]},{\"architecture\":\"SCMP_"
	"ARCH_MIPSEL64N32\",\"subArchitectures\":[\"SCMP_ARCH_MIPSEL\",\"SCMP_ARCH_MIPSEL64\"]},"
	"{\"architecture\":\"SCMP_ARCH_S390X\",\"subArchitectures\":[\"SCMP_ARCH_S390\"]},{\"archi"
	"tecture\":\"SCMP_ARCH_RISCV64\",\"subArchitectures\":null},{\"architecture\":\"SCMP_ARCH"
	"_LOONGARCH64\",\"subArchitectures\":null}]";

#define CAPBIT(c) (UINT64_C(1) << (c))
/* The 14 default capabilities of container engines. */
static const uint64_t default_caps = 0xa80425fb;

/* moby's profile, reassembled as JSON from the data above. */
static char *
moby_profile_json(void)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_puts(&sb,
		    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,\"archMap\":");
	strbuf_puts(&sb, moby_arch_map);
	strbuf_puts(&sb, ",\"syscalls\":[");
	for (size_t i = 0; i < ARRAY_SIZE(moby_rules); i++) {
		if (i)
			strbuf_putc(&sb, ',');
		strbuf_puts(&sb, moby_rules[i]);
	}
	strbuf_puts(&sb, "]}");
	assert_false(sb.oom);
	return strbuf_steal(&sb);
}

static struct seccomp_profile *
parse_ok(const char *json)
{
	struct seccomp_profile *p = NULL;
	korch_error *err = NULL;
	if (seccomp_profile_parse(json, strlen(json), "test.json", &p, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	return p;
}

static bool
programs_equal(const struct seccomp_profile *a, const struct seccomp_profile *b, uint64_t caps)
{
	struct seccomp_program *pa = NULL, *pb = NULL;
	assert_int_equal(seccomp_compile(a, caps, &pa, NULL), 0);
	assert_int_equal(seccomp_compile(b, caps, &pb, NULL), 0);
	/* The program's instructions follow its header: compare through the public length and
	 * the installed form would need root, so compare the bytes libseccomp exported. */
	bool eq = seccomp_program_length(pa) == seccomp_program_length(pb) &&
		  memcmp(seccomp_program_insns(pa), seccomp_program_insns(pb),
			 seccomp_program_length(pa) * 8) == 0;
	seccomp_program_unref(pa);
	seccomp_program_unref(pb);
	return eq;
}

/* The built-in RuntimeDefault compiles to exactly the program of moby's own profile. */
static void
test_moby_crosscheck(void **state)
{
	_cleanup_free_ char *json = moby_profile_json();
	_cleanup_(seccomp_profile_freep) struct seccomp_profile *moby = parse_ok(json);
	const struct seccomp_profile *rd = seccomp_profile_runtime_default();
	const uint64_t cap_sets[] = {
		0,
		default_caps,
		default_caps | CAPBIT(CAP_SYS_ADMIN),
		default_caps | CAPBIT(CAP_SYS_PTRACE) | CAPBIT(CAP_SYS_TIME),
		(UINT64_C(1) << (CAP_LAST_CAP + 1)) - 1,
	};
	for (size_t i = 0; i < ARRAY_SIZE(cap_sets); i++)
		if (!programs_equal(rd, moby, cap_sets[i]))
			fail_msg("programs differ for caps 0x%llx",
				 (unsigned long long)cap_sets[i]);

	/* The same facts by name: the rules, their order, their names and conditions. */
	assert_int_equal(rd->n_rules, moby->n_rules);
	size_t unconditional = 0;
	for (size_t i = 0; i < rd->n_rules; i++) {
		const struct seccomp_rule *a = &rd->rules[i], *b = &moby->rules[i];
		size_t n = 0;
		for (; a->names[n] && b->names[n]; n++)
			assert_string_equal(a->names[n], b->names[n]);
		assert_null(a->names[n]);
		assert_null(b->names[n]);
		assert_int_equal(a->action, b->action);
		assert_int_equal(a->n_args, b->n_args);
		for (size_t k = 0; k < a->n_args; k++) {
			assert_int_equal(a->args[k].index, b->args[k].index);
			assert_int_equal(a->args[k].op, b->args[k].op);
			assert_int_equal(a->args[k].value, b->args[k].value);
			assert_int_equal(a->args[k].value_two, b->args[k].value_two);
		}
		assert_int_equal(a->caps_include, b->caps_include);
		assert_int_equal(a->caps_exclude, b->caps_exclude);
		assert_true(streq_null(a->min_kernel, b->min_kernel));
		if (i == 0)
			unconditional = n;
	}
	assert_int_equal(unconditional, 361);
}

/* P3: names no rule of RuntimeDefault allows, whatever the capabilities. */
static void
test_never_allowed(void **state)
{
	static const char *const never[] = {
		"keyctl",          "add_key",        "request_key",    "kexec_load",
		"kexec_file_load", "swapon",         "swapoff",        "pivot_root",
		"userfaultfd",     "io_uring_setup", "io_uring_enter", "io_uring_register",
		"nfsservctl",      "uselib",         "move_pages",
	};
	const struct seccomp_profile *rd = seccomp_profile_runtime_default();
	for (size_t i = 0; i < rd->n_rules; i++)
		for (const char *const *n = rd->rules[i].names; *n; n++)
			for (size_t k = 0; k < ARRAY_SIZE(never); k++)
				if (streq(*n, never[k]))
					fail_msg("rule %zu names %s", i, *n);
	/* Every name of the profile is one libseccomp or korch's table knows. */
	for (size_t i = 0; i < rd->n_rules; i++)
		for (const char *const *n = rd->rules[i].names; *n; n++)
			if (!seccomp_name_known(*n))
				fail_msg("unknown name %s", *n);
	assert_int_equal(seccomp_resolve(SCMP_ARCH_X86_64, "mseal"), 462);
	assert_int_equal(seccomp_resolve(SCMP_ARCH_X32, "mseal"), 0x40000000 + 462);
	assert_int_equal(seccomp_resolve(SCMP_ARCH_X86_64, "uretprobe"), 335);
	assert_true(seccomp_resolve(SCMP_ARCH_X86, "uretprobe") < 0);
	assert_int_equal(seccomp_resolve(SCMP_ARCH_X86_64, "read"), 0);
	assert_int_equal(seccomp_resolve(SCMP_ARCH_X86_64, "nosuchcall"), __NR_SCMP_ERROR);
}

static void
expect_error(const char *json, int code, const char *message)
{
	struct seccomp_profile *p = NULL;
	korch_error *err = NULL;
	int r = seccomp_profile_parse(json, strlen(json), "p.json", &p, &err);
	if (r != code)
		fail_msg("%s: got %d (%s), want %d", json, r, err ? korch_error_message(err) : "",
			 code);
	assert_null(p);
	assert_string_equal(korch_error_message(err), message);
	korch_error_free(err);
}

static void
test_parse_errors(void **state)
{
	expect_error(
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\","
		"\"frobnicate\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
		KORCH_EINVALID,
		"seccomp profile p.json: syscalls[0].names[1]: unknown syscall \"frobnicate\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_DANCE\"}", KORCH_EINVALID,
		     "seccomp profile p.json: defaultAction: unknown action \"SCMP_ACT_DANCE\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,"
		     "\"op\":\"SCMP_CMP_ABOUT\"}]}]}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: syscalls[0].args[0].op: unknown operator "
		     "\"SCMP_CMP_ABOUT\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,\"value\":1,"
		     "\"op\":\"SCMP_CMP_EQ\"}]}]}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: syscalls[0].args[0].index: must be an argument index "
		     "from 0 to 5");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":70000}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: defaultErrnoRet: must be an errno number from 0 to "
		     "4095");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		     "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":\"x\"}]}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: syscalls[0].errnoRet: must be an errno number from 0 "
		     "to 4095");
	expect_error("{\"syscalls\":[]}", KORCH_EINVALID,
		     "seccomp profile p.json: defaultAction is required");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"colour\":1}", KORCH_EINVALID,
		     "seccomp profile p.json: unknown field \"colour\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_FLY\"]}}]}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: syscalls[0].includes.caps[0]: unknown capability "
		     "\"CAP_FLY\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_Z80\"]}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: architectures[0]: unknown architecture "
		     "\"SCMP_ARCH_Z80\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"action\":"
		     "\"SCMP_ACT_ALLOW\"}]}",
		     KORCH_EINVALID, "seccomp profile p.json: syscalls[0]: names is required");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		     "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
		     KORCH_EUNSUPPORTED,
		     "seccomp profile p.json: syscalls[0].action: SCMP_ACT_NOTIFY is not supported "
		     "by korch");
	expect_error(
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"]}",
		KORCH_EUNSUPPORTED,
		"seccomp profile p.json: flags[0]: only SECCOMP_FILTER_FLAG_TSYNC is supported");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultAction\":\"SCMP_ACT_ALLOW\"}",
		     KORCH_EINVALID,
		     "seccomp profile p.json: line 1 column 49: duplicate object key near "
		     "'\"defaultAction\"'");
	expect_error("[1]", KORCH_EINVALID, "seccomp profile p.json: must be a JSON object");
	expect_error("{\"defaultAction\":", KORCH_EINVALID,
		     "seccomp profile p.json: line 1 column 17: unexpected token near end of "
		     "file");
}

/* The OCI format: architectures, names, args with valueTwo; ERRNO without errnoRet is EPERM. */
static void
test_parse_oci(void **state)
{
	_cleanup_(seccomp_profile_freep) struct seccomp_profile *p = parse_ok(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
		"\"SCMP_ARCH_X86\",\"SCMP_ARCH_AARCH64\"],\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],"
		"\"syscalls\":[{\"names\":[\"syslog\",\"chown32\"],\"action\":\"SCMP_ACT_ERRNO\"},"
		"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":22,"
		"\"args\":[{\"index\":0,\"value\":255,\"valueTwo\":8,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
		"{\"name\":\"reboot\",\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}");
	assert_int_equal(p->default_action, SCMP_ACT_ALLOW);
	assert_int_equal(p->n_rules, 3);
	assert_int_equal(p->rules[0].action, SCMP_ACT_ERRNO(EPERM));
	assert_int_equal(p->rules[1].action, SCMP_ACT_ERRNO(22));
	assert_int_equal(p->rules[1].args[0].op, SCMP_CMP_MASKED_EQ);
	assert_int_equal(p->rules[1].args[0].value, 255);
	assert_int_equal(p->rules[1].args[0].value_two, 8);
	assert_string_equal(p->rules[2].names[0], "reboot");
	assert_int_equal(p->rules[2].action, SCMP_ACT_KILL_PROCESS);
	/* aarch64 cannot run here: only x86 joins the native architecture. */
	assert_int_equal(p->n_arches, 2);
	struct seccomp_program *prog = NULL;
	assert_int_equal(seccomp_compile(p, 0, &prog, NULL), 0);
	assert_true(seccomp_program_length(prog) > 10);
	seccomp_program_unref(prog);
}

/*
 * Profiles libseccomp cannot compile end in an error naming the problem, in bounded time: two
 * rules of one syscall sharing a first condition with different actions loop libseccomp 2.5.4
 * forever (found by the fuzzer), and the compile runs in a child given a time limit.
 */
static void
test_compile_errors(void **state)
{
	(void)state;
	struct seccomp_profile *p = NULL;
	_cleanup_error_ korch_error *err = NULL;
	static const char endless[] =
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
		"{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
		"{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_GE\"},"
		"{\"index\":1,\"value\":6,\"op\":\"SCMP_CMP_GT\"}]},"
		"{\"names\":[\"read\"],\"action\":\"SCMP_ACT_LOG\",\"args\":["
		"{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_GE\"},"
		"{\"index\":5,\"value\":4,\"op\":\"SCMP_CMP_NE\"}]}]}";
	assert_int_equal(seccomp_profile_parse(endless, strlen(endless), "p.json", &p, &err), 0);
	struct seccomp_program *prog = NULL;
	int saved = seccomp_compile_timeout_ms;
	seccomp_compile_timeout_ms = 300;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = seccomp_compile(p, 0, &prog, &err);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seccomp_compile_timeout_ms = saved;
	seccomp_profile_free(p);
	assert_int_equal(r, KORCH_ETOOLARGE);
	assert_null(prog);
	assert_string_equal(korch_error_message(err),
			    "compile seccomp profile: libseccomp did not finish in 300 ms (the "
			    "rules' argument conditions are too complex)");
	/* Loosely bounded: the child is killed at the limit, not waited for. */
	assert_true(t1.tv_sec - t0.tv_sec < 20);
	korch_error_free(err);
	err = NULL;

	/* The same condition twice with different actions: libseccomp's own refusal. */
	static const char clash[] = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
				    "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
				    "{\"index\":0,\"value\":3,\"op\":\"SCMP_CMP_EQ\"}]},"
				    "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_LOG\",\"args\":["
				    "{\"index\":0,\"value\":3,\"op\":\"SCMP_CMP_EQ\"}]}]}";
	assert_int_equal(seccomp_profile_parse(clash, strlen(clash), "p.json", &p, &err), 0);
	r = seccomp_compile(p, 0, &prog, &err);
	seccomp_profile_free(p);
	assert_int_equal(r, KORCH_EINVALID);
	assert_null(prog);
	assert_string_equal(korch_error_message(err),
			    "compile seccomp profile: seccomp rule for read: File exists");
}

static double
elapsed_ms(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void
test_cache(void **state)
{
	_cleanup_(seccomp_cache_freep) struct seccomp_cache *c = NULL;
	assert_int_equal(seccomp_cache_new(&c, NULL), 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct seccomp_program *a = NULL, *b = NULL, *d = NULL;
	assert_int_equal(seccomp_cache_default(c, default_caps, &a, NULL), 0);
	double compile_ms = elapsed_ms(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(seccomp_cache_default(c, default_caps, &b, NULL), 0);
	double hit_ms = elapsed_ms(&t0);
	assert_ptr_equal(a, b);
	assert_int_equal(seccomp_cache_compilations(c), 1);
	assert_int_equal(seccomp_cache_default(c, default_caps | CAPBIT(CAP_SYS_ADMIN), &d, NULL),
			 0);
	assert_ptr_not_equal(a, d);
	assert_int_equal(seccomp_cache_compilations(c), 2);
	print_message("# RuntimeDefault: %zu BPF instructions, compiled in %.2f ms, cache hit in "
		      "%.4f ms\n",
		      seccomp_program_length(a), compile_ms, hit_ms);
	seccomp_program_unref(a);
	seccomp_program_unref(b);
	seccomp_program_unref(d);

	/* Localhost: compiled once, again when the file changes; a missing file is NOTFOUND. */
	char path[] = "/tmp/korch-test-seccomp-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *v1 = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			 "[\"syslog\"],\"action\":\"SCMP_ACT_ERRNO\"}]}";
	assert_int_equal(write_all(fd, v1, strlen(v1)), 0);
	close(fd);
	assert_int_equal(seccomp_cache_localhost(c, path, 0, &a, NULL), 0);
	assert_int_equal(seccomp_cache_localhost(c, path, 0, &b, NULL), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(seccomp_cache_compilations(c), 3);
	seccomp_program_unref(b);
	const char *v2 = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			 "[\"syslog\",\"acct\"],\"action\":\"SCMP_ACT_ERRNO\"}]}";
	assert_int_equal(write_file_atomic(path, v2, strlen(v2), 0600, NULL), 0);
	assert_int_equal(seccomp_cache_localhost(c, path, 0, &b, NULL), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(seccomp_cache_compilations(c), 4);
	assert_true(seccomp_program_length(b) > seccomp_program_length(a));
	seccomp_program_unref(a);
	seccomp_program_unref(b);
	/* A broken file: the error names it, and nothing is cached. */
	assert_int_equal(write_file_atomic(path, "{", 1, 0600, NULL), 0);
	korch_error *err = NULL;
	assert_int_equal(seccomp_cache_localhost(c, path, 0, &a, &err), KORCH_EINVALID);
	_cleanup_free_ char *want = NULL;
	assert_true(asprintf(&want,
			     "seccomp profile %s: line 1 column 1: string or '}' expected near end "
			     "of file",
			     path) > 0);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	unlink(path);
	err = NULL;
	assert_int_equal(seccomp_cache_localhost(c, path, 0, &a, &err), KORCH_ENOTFOUND);
	free(want);
	assert_true(asprintf(&want, "seccomp profile %s: no such file", path) > 0);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
}

int
main(void)
{
	/* libseccomp asks the kernel which actions it supports (API level) with the seccomp
	 * syscall, which valgrind does not implement: compiling needs no kernel support, so tell
	 * it the level of this machine's kernel (3: KILL_PROCESS and friends). */
	if (seccomp_api_get() < 3)
		seccomp_api_set(3);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_moby_crosscheck), cmocka_unit_test(test_never_allowed),
		cmocka_unit_test(test_parse_errors),    cmocka_unit_test(test_parse_oci),
		cmocka_unit_test(test_cache),           cmocka_unit_test(test_compile_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
