/*
 * Pure cgroup logic (suite unit): the kubelet's and runc's conversions, runc's device rules as
 * text and as a BPF program, and v1 controller discovery from a mountinfo file (co-mounted
 * cpu,cpuacct, a subtree mount, a stray cgroup2 mount ignored) on a temporary tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "runtime/cgroup-internal.h"

static void
test_shares_and_quota(void **state)
{
	/* The kubelet's MilliCPUToShares: 0 gives the minimum 2. */
	assert_int_equal(cgroup_cpu_shares_from_milli(0), 2);
	assert_int_equal(cgroup_cpu_shares_from_milli(1), 2);
	assert_int_equal(cgroup_cpu_shares_from_milli(100), 102);
	assert_int_equal(cgroup_cpu_shares_from_milli(250), 256);
	assert_int_equal(cgroup_cpu_shares_from_milli(1000), 1024);
	assert_int_equal(cgroup_cpu_shares_from_milli(300000), 262144);
	assert_int_equal(cgroup_cpu_shares_from_milli(INT64_MAX), 262144);
	/* MilliCPUToQuota: none for 0, at least 1 ms. */
	assert_int_equal(cgroup_cpu_quota_from_milli(0, 0), 0);
	assert_int_equal(cgroup_cpu_quota_from_milli(5, 0), 1000);
	assert_int_equal(cgroup_cpu_quota_from_milli(500, 0), 50000);
	assert_int_equal(cgroup_cpu_quota_from_milli(2500, 100000), 250000);
	assert_int_equal(cgroup_cpu_quota_from_milli(500, 50000), 25000);
}

static void
test_weight(void **state)
{
	/* runc's TestConvertCPUSharesToCgroupV2Value cases. */
	assert_int_equal(cgroup_cpu_weight_from_shares(0), 0);
	assert_int_equal(cgroup_cpu_weight_from_shares(1), 1);
	assert_int_equal(cgroup_cpu_weight_from_shares(2), 1);
	assert_int_equal(cgroup_cpu_weight_from_shares(3), 2);
	assert_int_equal(cgroup_cpu_weight_from_shares(1024), 100);
	assert_int_equal(cgroup_cpu_weight_from_shares(262143), 10000);
	assert_int_equal(cgroup_cpu_weight_from_shares(262144), 10000);
	assert_int_equal(cgroup_cpu_weight_from_shares(262145), 10000);
	assert_int_equal(cgroup_cpu_weight_from_shares(512), 59);
	assert_int_equal(cgroup_cpu_weight_from_shares(102), 17);
}

static void
test_pids_text(void **state)
{
	char buf[24];
	cgroup_pids_max_text(64, buf);
	assert_string_equal(buf, "64");
	cgroup_pids_max_text(0, buf);
	assert_string_equal(buf, "1");
	cgroup_pids_max_text(-1, buf);
	assert_string_equal(buf, "max");
	cgroup_pids_max_text(-7, buf);
	assert_string_equal(buf, "max");
}

static void
test_keyed(void **state)
{
	uint64_t v = 0;
	assert_int_equal(
		cg_keyed_u64("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(cg_keyed_u64("oom 2\noom_kill 5", "oom", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cg_keyed_u64("oom_kill_disable 0\n", "oom_kill", &v), KORCH_ENOTFOUND);
	assert_int_equal(cg_keyed_u64("oom_kill x\n", "oom_kill", &v), KORCH_EINVALID);
}

static void
test_device_rules(void **state)
{
	const char *want[] = { "c *:* m",     "b *:* m",   "c 1:3 rwm",   "c 1:8 rwm",
			       "c 1:7 rwm",   "c 5:0 rwm", "c 1:5 rwm",   "c 1:9 rwm",
			       "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm" };
	assert_int_equal(cgroup_n_default_device_rules, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char buf[48];
		cgroup_device_rule_text(&cgroup_default_device_rules[i], buf);
		assert_string_equal(buf, want[i]);
	}
}

/*
 * Runs the device program the way the kernel would, on a tiny interpreter of the instructions
 * it uses, so the jump arithmetic is checked without loading anything.
 */
static int
run_program(const struct bpf_insn *p, int n, uint32_t type, uint32_t access, uint32_t major,
	    uint32_t minor)
{
	uint32_t ctx[3] = { type | (access << 16), major, minor };
	uint64_t r[11] = { 0 };
	for (int pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		switch (i->code) {
		case BPF_LDX | BPF_W | BPF_MEM:
			assert_int_equal(i->src_reg, BPF_REG_1);
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU | BPF_MOV | BPF_K: r[i->dst_reg] = (uint32_t)i->imm; break;
		case BPF_ALU | BPF_MOV | BPF_X: r[i->dst_reg] = (uint32_t)r[i->src_reg]; break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
				pc += i->off;
			break;
		case BPF_JMP | BPF_JNE | BPF_X:
			if (r[i->dst_reg] != r[i->src_reg])
				pc += i->off;
			break;
		case BPF_JMP | BPF_EXIT: return (int)r[0];
		default: fail_msg("unexpected opcode 0x%x at %d", i->code, pc);
		}
	}
	fail_msg("fell off the end");
	return -1;
}

static void
test_device_program(void **state)
{
	struct bpf_insn p[256];
	int n = cgroup_device_program(cgroup_default_device_rules, cgroup_n_default_device_rules, p,
				      ARRAY_SIZE(p), NULL);
	assert_true(n > 0);
	const uint32_t C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
	const uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
	assert_int_equal(run_program(p, n, C, R | W, 1, 3), 1);   /* null */
	assert_int_equal(run_program(p, n, C, R, 1, 9), 1);       /* urandom */
	assert_int_equal(run_program(p, n, C, R | W, 136, 7), 1); /* pts/7 */
	assert_int_equal(run_program(p, n, C, R | W, 5, 2), 1);   /* ptmx */
	assert_int_equal(run_program(p, n, C, R, 1, 11), 0);      /* kmsg */
	assert_int_equal(run_program(p, n, C, W, 1, 11), 0);
	assert_int_equal(run_program(p, n, C, M, 1, 11), 1); /* mknod of anything */
	assert_int_equal(run_program(p, n, B, M, 8, 0), 1);
	assert_int_equal(run_program(p, n, B, R, 8, 0), 0);      /* sda */
	assert_int_equal(run_program(p, n, B, R | W, 1, 3), 0);  /* a block 1:3 is not null */
	assert_int_equal(run_program(p, n, C, R | M, 1, 11), 0); /* m granted alone, not r */
	assert_int_equal(run_program(p, n, C, R, 4, 1), 0);      /* tty1 */

	/* Too little room, and bad rules, are errors. */
	korch_error *err = NULL;
	assert_int_equal(cgroup_device_program(cgroup_default_device_rules, 11, p, 10, &err),
			 KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err), "device program: more than 10 instructions");
	korch_error_free(err);
	struct cgroup_device_rule bad = { 'a', -1, -1, "rwm" };
	err = NULL;
	assert_int_equal(cgroup_device_program(&bad, 1, p, ARRAY_SIZE(p), &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "device rule 0: type 'a' (c or b)");
	korch_error_free(err);
	struct cgroup_device_rule bad2 = { 'c', 1, 3, "rx" };
	err = NULL;
	assert_int_equal(cgroup_device_program(&bad2, 1, p, ARRAY_SIZE(p), &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err), "device rule 0: access 'x' (r, w or m)");
	korch_error_free(err);
}

static char *
mk(const char *top, const char *rel)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", top, rel) > 0);
	assert_int_equal(mkdir_p(p, 0755, NULL), 0);
	return p;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* v1 discovery on a fake tree: cpu,cpuacct co-mounted, memory mounted from a subtree. */
static void
test_v1_discovery(void **state)
{
	char top[] = "/tmp/korch-test-cgconv-XXXXXX";
	assert_non_null(mkdtemp(top));
	static const char *const dirs[] = { "cpu,cpuacct", "cpuset",  "memory", "pids",
					    "devices",     "freezer", "unified" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		free(mk(top, dirs[i]));
	_cleanup_free_ char *cs = NULL, *mi = NULL, *pc = NULL;
	assert_true(asprintf(&cs, "%s/cpuset/cpuset.cpus", top) > 0);
	write_text(cs, "0-3\n");
	free(cs);
	assert_true(asprintf(&cs, "%s/cpuset/cpuset.mems", top) > 0);
	write_text(cs, "0\n");
	/* The files the kernel makes in a new cpuset cgroup, empty. */
	free(mk(top, "cpuset/korch-conv"));
	free(cs);
	assert_true(asprintf(&cs, "%s/cpuset/korch-conv/cpuset.cpus", top) > 0);
	write_text(cs, "");
	free(cs);
	assert_true(asprintf(&cs, "%s/cpuset/korch-conv/cpuset.mems", top) > 0);
	write_text(cs, "");
	assert_true(asprintf(&mi, "%s/mountinfo", top) > 0);
	assert_true(asprintf(&pc, "%s/cgroup", top) > 0);
	FILE *f = fopen(mi, "we");
	fprintf(f, "22 1 0:21 / /proc rw,nosuid - proc proc rw\n");
	fprintf(f,
		"32 31 0:29 / %s/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n",
		top);
	fprintf(f, "34 31 0:31 / %s/cpuset rw - cgroup cgroup rw,cpuset\n", top);
	fprintf(f, "35 31 0:32 /sys/ctr %s/memory rw - cgroup cgroup rw,memory\n", top);
	fprintf(f, "36 31 0:33 / %s/pids rw - cgroup cgroup rw,pids\n", top);
	fprintf(f, "37 31 0:34 / %s/devices rw - cgroup cgroup rw,devices\n", top);
	fprintf(f, "38 31 0:35 / %s/freezer rw - cgroup cgroup rw,freezer\n", top);
	fprintf(f, "39 31 0:36 / %s/unified rw - cgroup2 cgroup2 rw,memory,cpu\n", top);
	fclose(f);
	f = fopen(pc, "we");
	fprintf(f, "9:freezer:/a\n8:pids:/a\n5:devices:/a\n4:memory:/sys/ctr/a\n3:cpuset:/\n"
		   "2:cpu,cpuacct:/a\n0::/\n");
	fclose(f);
	struct cgroup_manager_options o = {
		.instance = "conv", .root = top, .proc_cgroup = pc, .mountinfo = mi
	};
	struct cgroup_manager *m = NULL;
	korch_error *err = NULL;
	int r = cgroup_manager_open(&o, &m, &err);
	if (r < 0)
		fail_msg("%s", korch_error_message(err));
	assert_int_equal(cgroup_manager_mode(m), CGROUP_MODE_V1);
	struct {
		const char *controller, *dir;
	} want[] = {
		{ "cpu", "cpu,cpuacct/a/korch-conv" }, { "cpuacct", "cpu,cpuacct/a/korch-conv" },
		{ "cpuset", "cpuset/korch-conv" },     { "memory", "memory/a/korch-conv" },
		{ "pids", "pids/a/korch-conv" },       { "devices", "devices/a/korch-conv" },
		{ "freezer", "freezer/a/korch-conv" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		_cleanup_free_ char *p = NULL;
		assert_true(asprintf(&p, "%s/%s", top, want[i].dir) > 0);
		assert_string_equal(cgroup_manager_parent_dir(m, want[i].controller), p);
		assert_int_equal(access(p, F_OK), 0);
	}
	/* A new cpuset cgroup got its parent's cpus and mems (v1 starts them empty). */
	_cleanup_free_ char *cpus = NULL, *data = NULL;
	assert_true(asprintf(&cpus, "%s/cpuset/korch-conv/cpuset.cpus", top) > 0);
	assert_int_equal(read_file(cpus, 100, &data, NULL, NULL), 0);
	assert_string_equal(data, "0-3");
	cgroup_manager_free(m);

	/* Without a freezer mount: refused by name. */
	f = fopen(mi, "we");
	fprintf(f, "32 31 0:29 / %s/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n", top);
	fprintf(f, "35 31 0:32 / %s/memory rw - cgroup cgroup rw,memory\n", top);
	fprintf(f, "36 31 0:33 / %s/pids rw - cgroup cgroup rw,pids\n", top);
	fprintf(f, "37 31 0:34 / %s/devices rw - cgroup cgroup rw,devices\n", top);
	fprintf(f, "39 31 0:36 / %s/unified rw - cgroup2 cgroup2 rw,freezer\n", top);
	fclose(f);
	err = NULL;
	assert_int_equal(cgroup_manager_open(&o, &m, &err), KORCH_EUNSUPPORTED);
	assert_string_equal(
		korch_error_message(err),
		"cgroups (v1): cgroup v1 controller freezer is not mounted (korch needs "
		"cpu, cpuacct, memory, pids, devices and freezer)");
	korch_error_free(err);
	assert_int_equal(rm_rf(top, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares_and_quota), cmocka_unit_test(test_weight),
		cmocka_unit_test(test_pids_text),        cmocka_unit_test(test_keyed),
		cmocka_unit_test(test_device_rules),     cmocka_unit_test(test_device_program),
		cmocka_unit_test(test_v1_discovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
