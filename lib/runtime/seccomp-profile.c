/*
 * seccomp-profile.c - Localhost seccomp profiles: JSON in the OCI runtime-spec format
 * (`architectures`, `syscalls[].names/action/errnoRet/args`) or Docker's (`archMap`, `name`,
 * `includes`/`excludes`, `comment`), parsed with jansson into struct seccomp_profile, with an
 * error naming the place of every problem.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/macro.h"
#include "base/util.h"
#include "runtime/seccomp-internal.h"

/* Keeps p in the profile's list of allocations; frees it and returns NULL when that fails. */
static void *
own(struct seccomp_profile *prof, void *p)
{
	if (!p)
		return NULL;
	if (ptrvec_push(&prof->owned, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

void
seccomp_profile_free(struct seccomp_profile *p)
{
	if (!p || p->is_static)
		return;
	ptrvec_free(&p->owned, free);
	free(p);
}

static const struct {
	const char *name;
	uint32_t action; /* without the errno part */
	bool takes_errno;
} actions[] = {
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL, false },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
};

static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE },
	{ "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE },
	{ "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* The architecture names of the OCI runtime spec; only those of this machine's family matter. */
static const char *const arch_names[] = {
	"SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
	"SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
	"SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
	"SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
	"SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
};

struct parser {
	struct seccomp_profile *p; /* being filled */
	const char *source;        /* message prefix, e.g. the file name */
	korch_error **err;
};

static int fail(struct parser *ps, const char *fmt, ...) _printf_(2, 3);
static int
fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->source)
		return error_set(ps->err, KORCH_EINVALID, "seccomp profile %s: %s", ps->source,
				 msg);
	return error_set(ps->err, KORCH_EINVALID, "seccomp profile: %s", msg);
}

/* Checks that obj has only the listed keys. */
static int
check_keys(struct parser *ps, json_t *obj, const char *where, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= streq(*a, key);
		if (!ok)
			return fail(ps, "%s%sunknown field \"%s\"", where, *where ? ": " : "", key);
	}
	return 0;
}

static int
parse_errno(struct parser *ps, json_t *v, const char *where, uint32_t *ret)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4095)
		return fail(ps, "%s: must be an errno number from 0 to 4095", where);
	*ret = (uint32_t)json_integer_value(v);
	return 0;
}

static int
parse_action(struct parser *ps, json_t *action, json_t *errno_ret, const char *where,
	     const char *errno_where, uint32_t *ret)
{
	if (!json_is_string(action))
		return fail(ps, "%s: must be a string", where);
	const char *s = json_string_value(action);
	if (streq(s, "SCMP_ACT_NOTIFY"))
		return error_set(
			ps->err, KORCH_EUNSUPPORTED,
			"seccomp profile%s%s: %s: SCMP_ACT_NOTIFY is not supported by korch",
			ps->source ? " " : "", ps->source ? ps->source : "", where);
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (!streq(actions[i].name, s))
			continue;
		if (!actions[i].takes_errno) {
			*ret = actions[i].action;
			return 0;
		}
		/* ERRNO and TRACE without a value: EPERM, as runc does. */
		uint32_t e = EPERM;
		if (errno_ret) {
			int r = parse_errno(ps, errno_ret, errno_where, &e);
			if (r < 0)
				return r;
		}
		*ret = streq(s, "SCMP_ACT_ERRNO") ? SCMP_ACT_ERRNO(e) : SCMP_ACT_TRACE(e);
		return 0;
	}
	return fail(ps, "%s: unknown action \"%s\"", where, s);
}

/* A NULL-terminated copy of a JSON array of strings, validated by check (may be NULL). */
static int
string_list(struct parser *ps, json_t *arr, const char *where, bool syscalls,
	    const char *const **ret)
{
	if (!json_is_array(arr))
		return fail(ps, "%s: must be an array of strings", where);
	size_t n = json_array_size(arr);
	const char **list = own(ps->p, calloc(n + 1, sizeof(char *)));
	if (!list)
		return error_oom(ps->err);
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(arr, i);
		if (!json_is_string(s) || !*json_string_value(s))
			return fail(ps, "%s[%zu]: must be a non-empty string", where, i);
		if (syscalls && !seccomp_name_known(json_string_value(s)))
			return fail(ps, "%s[%zu]: unknown syscall \"%s\"", where, i,
				    json_string_value(s));
		list[i] = own(ps->p, strdup(json_string_value(s)));
		if (!list[i])
			return error_oom(ps->err);
	}
	*ret = list;
	return 0;
}

static int
parse_caps(struct parser *ps, json_t *arr, const char *where, uint64_t *ret)
{
	if (!json_is_array(arr))
		return fail(ps, "%s: must be an array of strings", where);
	uint64_t mask = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *s = json_array_get(arr, i);
		cap_value_t cap;
		if (!json_is_string(s) || cap_from_name(json_string_value(s), &cap) < 0 ||
		    cap < 0 || cap > 63)
			return fail(ps, "%s[%zu]: unknown capability %s%s%s", where, i,
				    json_is_string(s) ? "\"" : "",
				    json_is_string(s) ? json_string_value(s) : "(not a string)",
				    json_is_string(s) ? "\"" : "");
		mask |= UINT64_C(1) << cap;
	}
	*ret = mask;
	return 0;
}

/* includes/excludes: {"caps": [...], "arches": [...], "minKernel": "4.8"} */
static int
parse_filter(struct parser *ps, json_t *obj, const char *where, struct seccomp_rule *r,
	     bool include)
{
	static const char *const keys[] = { "caps", "arches", "minKernel", NULL };
	if (!json_is_object(obj))
		return fail(ps, "%s: must be an object", where);
	int rc = check_keys(ps, obj, where, keys);
	if (rc < 0)
		return rc;
	char w[512];
	json_t *v;
	if ((v = json_object_get(obj, "caps"))) {
		snprintf(w, sizeof(w), "%s.caps", where);
		rc = parse_caps(ps, v, w, include ? &r->caps_include : &r->caps_exclude);
		if (rc < 0)
			return rc;
	}
	if ((v = json_object_get(obj, "arches"))) {
		snprintf(w, sizeof(w), "%s.arches", where);
		rc = string_list(ps, v, w, false,
				 include ? &r->arches_include : &r->arches_exclude);
		if (rc < 0)
			return rc;
	}
	if ((v = json_object_get(obj, "minKernel"))) {
		unsigned a, b;
		char tail;
		if (!json_is_string(v) ||
		    sscanf(json_string_value(v), "%u.%u%c", &a, &b, &tail) != 2)
			return fail(ps, "%s.minKernel: must be a kernel version like \"4.8\"",
				    where);
		if (!include)
			return fail(ps, "%s.minKernel: not supported in excludes", where);
		r->min_kernel = own(ps->p, strdup(json_string_value(v)));
		if (!r->min_kernel)
			return error_oom(ps->err);
	}
	return 0;
}

static int
parse_args(struct parser *ps, json_t *arr, const char *where, struct seccomp_rule *r)
{
	static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
	if (!json_is_array(arr))
		return fail(ps, "%s: must be an array", where);
	size_t n = json_array_size(arr);
	if (n > 6)
		return fail(ps, "%s: at most 6 conditions", where);
	struct seccomp_arg *args = own(ps->p, calloc(n ? n : 1, sizeof(*args)));
	if (!args)
		return error_oom(ps->err);
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(arr, i);
		char w[600];
		snprintf(w, sizeof(w), "%.500s[%zu]", where, i);
		if (!json_is_object(a))
			return fail(ps, "%s: must be an object", w);
		int rc = check_keys(ps, a, w, keys);
		if (rc < 0)
			return rc;
		json_t *idx = json_object_get(a, "index"), *val = json_object_get(a, "value");
		json_t *val2 = json_object_get(a, "valueTwo"), *op = json_object_get(a, "op");
		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) > 5)
			return fail(ps, "%s.index: must be an argument index from 0 to 5", w);
		if (!json_is_integer(val) || json_integer_value(val) < 0)
			return fail(ps, "%s.value: must be a non-negative integer", w);
		if (val2 && (!json_is_integer(val2) || json_integer_value(val2) < 0))
			return fail(ps, "%s.valueTwo: must be a non-negative integer", w);
		if (!json_is_string(op))
			return fail(ps, "%s.op: must be a string", w);
		bool found = false;
		for (size_t k = 0; k < ARRAY_SIZE(operators); k++) {
			if (streq(operators[k].name, json_string_value(op))) {
				args[i].op = operators[k].op;
				found = true;
			}
		}
		if (!found)
			return fail(ps, "%s.op: unknown operator \"%s\"", w, json_string_value(op));
		args[i].index = (unsigned)json_integer_value(idx);
		args[i].value = (uint64_t)json_integer_value(val);
		args[i].value_two = val2 ? (uint64_t)json_integer_value(val2) : 0;
	}
	r->args = args;
	r->n_args = n;
	return 0;
}

static int
parse_rule(struct parser *ps, json_t *obj, size_t i, struct seccomp_rule *r)
{
	static const char *const keys[] = { "names",   "name",     "action",   "errnoRet", "args",
					    "comment", "includes", "excludes", NULL };
	char where[64];
	snprintf(where, sizeof(where), "syscalls[%zu]", i);
	if (!json_is_object(obj))
		return fail(ps, "%s: must be an object", where);
	int rc = check_keys(ps, obj, where, keys);
	if (rc < 0)
		return rc;
	char w[512];
	json_t *names = json_object_get(obj, "names"), *name = json_object_get(obj, "name");
	if (names) {
		snprintf(w, sizeof(w), "%s.names", where);
		rc = string_list(ps, names, w, true, &r->names);
		if (rc < 0)
			return rc;
		if (name)
			return fail(ps, "%s: both name and names", where);
	} else if (name) {
		json_t *one = json_pack("[O]", name);
		snprintf(w, sizeof(w), "%s.name", where);
		rc = one ? string_list(ps, one, w, true, &r->names) : error_oom(ps->err);
		json_decref(one);
		if (rc < 0)
			return rc;
	} else {
		return fail(ps, "%s: names is required", where);
	}
	snprintf(w, sizeof(w), "%s.action", where);
	json_t *action = json_object_get(obj, "action");
	if (!action)
		return fail(ps, "%s: action is required", where);
	char ew[512];
	snprintf(ew, sizeof(ew), "%s.errnoRet", where);
	rc = parse_action(ps, action, json_object_get(obj, "errnoRet"), w, ew, &r->action);
	if (rc < 0)
		return rc;
	json_t *v;
	if ((v = json_object_get(obj, "args")) && !json_is_null(v)) {
		snprintf(w, sizeof(w), "%s.args", where);
		rc = parse_args(ps, v, w, r);
		if (rc < 0)
			return rc;
	}
	if ((v = json_object_get(obj, "comment")) && !json_is_string(v))
		return fail(ps, "%s.comment: must be a string", where);
	if ((v = json_object_get(obj, "includes")) && !json_is_null(v)) {
		snprintf(w, sizeof(w), "%s.includes", where);
		rc = parse_filter(ps, v, w, r, true);
		if (rc < 0)
			return rc;
	}
	if ((v = json_object_get(obj, "excludes")) && !json_is_null(v)) {
		snprintf(w, sizeof(w), "%s.excludes", where);
		rc = parse_filter(ps, v, w, r, false);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Keeps the architectures the kernel here can run: the native one and its companions (x86 and
 * x32 beside x86_64, arm beside aarch64). Filters for others could never match a syscall.
 */
static int
add_arch(struct parser *ps, const char *name, const char *where)
{
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		known |= streq(arch_names[i], name);
	if (!known)
		return fail(ps, "%s: unknown architecture \"%s\"", where, name);
	char lower[32];
	size_t k = 0;
	for (const char *s = name + strlen("SCMP_ARCH_"); *s && k < sizeof(lower) - 1; s++)
		lower[k++] = (char)tolower((unsigned char)*s);
	lower[k] = '\0';
	uint32_t arch = seccomp_arch_resolve_name(lower);
	uint32_t native = seccomp_arch_native();
	bool family =
		arch == native ||
		(native == SCMP_ARCH_X86_64 && (arch == SCMP_ARCH_X86 || arch == SCMP_ARCH_X32)) ||
		(native == SCMP_ARCH_AARCH64 && arch == SCMP_ARCH_ARM);
	if (!arch || !family)
		return 0;
	for (size_t i = 0; i < ps->p->n_arches; i++)
		if (ps->p->arches[i] == arch)
			return 0;
	if (ps->p->n_arches < SECCOMP_MAX_ARCHES)
		ps->p->arches[ps->p->n_arches++] = arch;
	return 0;
}

static int
parse_arches(struct parser *ps, json_t *root)
{
	json_t *list = json_object_get(root, "architectures");
	json_t *map = json_object_get(root, "archMap");
	if (list && !json_is_null(list)) {
		if (!json_is_array(list))
			return fail(ps, "architectures: must be an array of strings");
		for (size_t i = 0; i < json_array_size(list); i++) {
			json_t *s = json_array_get(list, i);
			char w[128];
			snprintf(w, sizeof(w), "architectures[%zu]", i);
			if (!json_is_string(s))
				return fail(ps, "%s: must be a string", w);
			int r = add_arch(ps, json_string_value(s), w);
			if (r < 0)
				return r;
		}
	}
	if (map && !json_is_null(map)) {
		static const char *const keys[] = { "architecture", "subArchitectures", NULL };
		if (!json_is_array(map))
			return fail(ps, "archMap: must be an array");
		for (size_t i = 0; i < json_array_size(map); i++) {
			json_t *e = json_array_get(map, i);
			char w[128];
			snprintf(w, sizeof(w), "archMap[%zu]", i);
			if (!json_is_object(e))
				return fail(ps, "%s: must be an object", w);
			int r = check_keys(ps, e, w, keys);
			if (r < 0)
				return r;
			json_t *a = json_object_get(e, "architecture");
			json_t *subs = json_object_get(e, "subArchitectures");
			if (!json_is_string(a))
				return fail(ps, "%s.architecture: must be a string", w);
			snprintf(w, sizeof(w), "archMap[%zu].architecture", i);
			size_t before = ps->p->n_arches;
			r = add_arch(ps, json_string_value(a), w);
			if (r < 0)
				return r;
			bool is_native =
				ps->p->n_arches > before &&
				ps->p->arches[ps->p->n_arches - 1] == seccomp_arch_native();
			if (!is_native)
				ps->p->n_arches = before; /* another machine's entry */
			if (subs && !json_is_null(subs)) {
				if (!json_is_array(subs))
					return fail(
						ps,
						"archMap[%zu].subArchitectures: must be an array",
						i);
				for (size_t k = 0; k < json_array_size(subs); k++) {
					json_t *s = json_array_get(subs, k);
					snprintf(w, sizeof(w), "archMap[%zu].subArchitectures[%zu]",
						 i, k);
					if (!json_is_string(s))
						return fail(ps, "%s: must be a string", w);
					size_t b2 = ps->p->n_arches;
					r = add_arch(ps, json_string_value(s), w);
					if (r < 0)
						return r;
					if (!is_native)
						ps->p->n_arches = b2;
				}
			}
		}
	}
	return 0;
}

int
seccomp_profile_parse(const char *text, size_t len, const char *source,
		      struct seccomp_profile **ret, korch_error **err)
{
	static const char *const keys[] = { "defaultAction", "defaultErrnoRet",  "architectures",
					    "archMap",       "syscalls",         "flags",
					    "listenerPath",  "listenerMetadata", NULL };
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	struct seccomp_profile *p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(root);
		return error_oom(err);
	}
	struct parser ps = { .p = p, .source = source, .err = err };
	int r = 0;
	if (!root) {
		r = fail(&ps, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = fail(&ps, "must be a JSON object");
		goto out;
	}
	if ((r = check_keys(&ps, root, "", keys)) < 0)
		goto out;
	json_t *v = json_object_get(root, "defaultAction");
	if (!v) {
		r = fail(&ps, "defaultAction is required");
		goto out;
	}
	if ((r = parse_action(&ps, v, json_object_get(root, "defaultErrnoRet"), "defaultAction",
			      "defaultErrnoRet", &p->default_action)) < 0)
		goto out;
	if ((r = parse_arches(&ps, root)) < 0)
		goto out;
	if ((v = json_object_get(root, "flags")) && !json_is_null(v)) {
		/* TSYNC is what korch always uses; the others change behaviour korch does not
		 * offer. */
		for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
			json_t *f = json_array_get(v, i);
			if (!json_is_string(f) ||
			    !streq(json_string_value(f), "SECCOMP_FILTER_FLAG_TSYNC")) {
				r = error_set(err, KORCH_EUNSUPPORTED,
					      "seccomp profile%s%s: flags[%zu]: only "
					      "SECCOMP_FILTER_FLAG_TSYNC is supported",
					      source ? " " : "", source ? source : "", i);
				goto out;
			}
		}
		if (!json_is_array(v)) {
			r = fail(&ps, "flags: must be an array of strings");
			goto out;
		}
	}
	if ((v = json_object_get(root, "listenerPath")) && !json_is_null(v) &&
	    !(json_is_string(v) && !*json_string_value(v))) {
		r = error_set(err, KORCH_EUNSUPPORTED,
			      "seccomp profile%s%s: listenerPath: seccomp notification is not "
			      "supported by korch",
			      source ? " " : "", source ? source : "");
		goto out;
	}
	v = json_object_get(root, "syscalls");
	if (v && !json_is_null(v)) {
		if (!json_is_array(v)) {
			r = fail(&ps, "syscalls: must be an array");
			goto out;
		}
		size_t n = json_array_size(v);
		struct seccomp_rule *rules = own(p, calloc(n ? n : 1, sizeof(*rules)));
		if (!rules) {
			r = error_oom(err);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			if ((r = parse_rule(&ps, json_array_get(v, i), i, &rules[i])) < 0)
				goto out;
		}
		p->rules = rules;
		p->n_rules = n;
	}
out:
	json_decref(root);
	if (r < 0) {
		seccomp_profile_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int
seccomp_profile_load(const char *path, struct seccomp_profile **ret, korch_error **err)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return error_set(err, KORCH_ENOTFOUND, "seccomp profile %s: no such file", path);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_file(path, 1 << 20, &text, &len, err);
	if (r < 0)
		return korch_error_prefix(err, r, "seccomp profile %s", path);
	return seccomp_profile_parse(text, len, path, ret, err);
}
