/*
 * cgroup-devices.c - the device allow-list of containers: runc's default rules, their text for
 * the v1 devices controller, and for v2 a BPF_PROG_TYPE_CGROUP_DEVICE program built from raw
 * instructions and attached with the bpf() system call (as crun and runc do, without libbpf).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "base/macro.h"
#include "runtime/cgroup-internal.h"

/*
 * runc's AllowedDevices (libcontainer/specconv): mknod of any character or block node (opening
 * one still needs a rule below), the standard character devices, the pty multiplexer and slaves,
 * and /dev/net/tun, which runc keeps for compatibility with what Docker always allowed.
 */
const struct cgroup_device_rule cgroup_default_device_rules[] = {
	{ 'c', -1, -1, "m" },    /* mknod of any char device */
	{ 'b', -1, -1, "m" },    /* mknod of any block device */
	{ 'c', 1, 3, "rwm" },    /* /dev/null */
	{ 'c', 1, 8, "rwm" },    /* /dev/random */
	{ 'c', 1, 7, "rwm" },    /* /dev/full */
	{ 'c', 5, 0, "rwm" },    /* /dev/tty */
	{ 'c', 1, 5, "rwm" },    /* /dev/zero */
	{ 'c', 1, 9, "rwm" },    /* /dev/urandom */
	{ 'c', 136, -1, "rwm" }, /* /dev/pts/N */
	{ 'c', 5, 2, "rwm" },    /* /dev/ptmx */
	{ 'c', 10, 200, "rwm" }, /* /dev/net/tun */
};
const size_t cgroup_n_default_device_rules = ARRAY_SIZE(cgroup_default_device_rules);

void
cgroup_device_rule_text(const struct cgroup_device_rule *r, char buf[static 48])
{
	char major[24], minor[24];
	if (r->major < 0)
		strcpy(major, "*");
	else
		snprintf(major, sizeof(major), "%lld", (long long)r->major);
	if (r->minor < 0)
		strcpy(minor, "*");
	else
		snprintf(minor, sizeof(minor), "%lld", (long long)r->minor);
	snprintf(buf, 48, "%c %s:%s %s", r->type, major, minor, r->access);
}

static struct bpf_insn
insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = {
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm
	};
	return i;
}

/* r = *(u32 *)(src + off) */
#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JNE_REG(dst, src, off) insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * The program reads struct bpf_cgroup_dev_ctx { u32 access_type (type in the low 16 bits,
 * access in the high 16); u32 major; u32 minor; } from R1 and returns 1 (allow) or 0 (deny).
 * One block per rule: every check that fails jumps to the next block; a block whose checks all
 * pass returns 1. After the last block, 0. A rule granting all of rwm skips the access check;
 * a wildcard major or minor skips that check.
 */
int
cgroup_device_program(const struct cgroup_device_rule *rules, size_t n, struct bpf_insn *out,
		      size_t max, korch_error **err)
{
	size_t k = 0;
#define EMIT(x)                                                                              \
	do {                                                                                 \
		if (k >= max)                                                                \
			return error_set(err, KORCH_ETOOLARGE,                               \
					 "device program: more than %zu instructions", max); \
		out[k++] = (x);                                                              \
	} while (0)
	EMIT(LDX_W(BPF_REG_2, BPF_REG_1, 0));
	EMIT(ALU32_IMM(BPF_AND, BPF_REG_2, 0xFFFF));
	EMIT(LDX_W(BPF_REG_3, BPF_REG_1, 0));
	EMIT(ALU32_IMM(BPF_RSH, BPF_REG_3, 16));
	EMIT(LDX_W(BPF_REG_4, BPF_REG_1, 4));
	EMIT(LDX_W(BPF_REG_5, BPF_REG_1, 8));
	for (size_t i = 0; i < n; i++) {
		const struct cgroup_device_rule *r = &rules[i];
		int32_t type;
		if (r->type == 'c')
			type = BPF_DEVCG_DEV_CHAR;
		else if (r->type == 'b')
			type = BPF_DEVCG_DEV_BLOCK;
		else
			return error_set(err, KORCH_EINVALID, "device rule %zu: type '%c' (c or b)",
					 i, r->type);
		int32_t access = 0;
		for (const char *a = r->access; *a; a++) {
			if (*a == 'r')
				access |= BPF_DEVCG_ACC_READ;
			else if (*a == 'w')
				access |= BPF_DEVCG_ACC_WRITE;
			else if (*a == 'm')
				access |= BPF_DEVCG_ACC_MKNOD;
			else
				return error_set(err, KORCH_EINVALID,
						 "device rule %zu: access '%c' (r, w or m)", i, *a);
		}
		if (!access || r->major > UINT32_MAX || r->minor > UINT32_MAX)
			return error_set(err, KORCH_EINVALID, "device rule %zu: invalid", i);
		bool check_access =
			access != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
		/* Instructions in this block after each jump, so the jump lands past the block. */
		int16_t len = 1 + (check_access ? 3 : 0) + (r->major >= 0) + (r->minor >= 0) + 2;
		int16_t at = 0;
		EMIT(JNE_IMM(BPF_REG_2, type, len - ++at));
		if (check_access) {
			/* if ((access & rule) != access) next: every bit asked for is granted */
			EMIT(MOV32_REG(BPF_REG_1, BPF_REG_3));
			EMIT(ALU32_IMM(BPF_AND, BPF_REG_1, access));
			at += 2;
			EMIT(JNE_REG(BPF_REG_1, BPF_REG_3, len - ++at));
		}
		if (r->major >= 0)
			EMIT(JNE_IMM(BPF_REG_4, (int32_t)r->major, len - ++at));
		if (r->minor >= 0)
			EMIT(JNE_IMM(BPF_REG_5, (int32_t)r->minor, len - ++at));
		EMIT(ALU32_IMM(BPF_MOV, BPF_REG_0, 1));
		EMIT(EXIT());
	}
	EMIT(ALU32_IMM(BPF_MOV, BPF_REG_0, 0));
	EMIT(EXIT());
#undef EMIT
	return (int)k;
}

static int
sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int
cgroup_device_attach_bpf(const char *dir, const struct cgroup_device_rule *rules, size_t n,
			 korch_error **err)
{
	struct bpf_insn prog[512];
	int count = cgroup_device_program(rules, n, prog, ARRAY_SIZE(prog), err);
	if (count < 0)
		return count;
	char log[8192];
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)count;
	attr.license = (uint64_t)(uintptr_t) "Apache";
	_cleanup_close_ int prog_fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog_fd < 0) {
		int e = errno;
		/* Load again with the verifier's log, to say why. */
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		log[0] = '\0';
		int fd2 = sys_bpf(BPF_PROG_LOAD, &attr);
		if (fd2 >= 0)
			close(fd2);
		return error_errno(err, e, "load BPF device program%s%s", log[0] ? ": " : "", log);
	}
	_cleanup_close_ int cg_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return error_errno(err, errno, "open %s", dir);
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cg_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return error_errno(err, errno, "attach BPF device program to %s", dir);
	return 0;
}
