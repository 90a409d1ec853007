/*
 * caps.c - capability sets of containers: names, the defaults, add/drop, privileged.
 * The child side (dropping the bounding set, keepcaps around setuid, capset) is in security.c.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "base/error.h"
#include "base/util.h"
#include "runtime/caps.h"

uint64_t
caps_all(void)
{
	int bits = (int)cap_max_bits(); /* cap_last_cap + 1 of the running kernel */
	if (bits <= 0 || bits > 64)
		bits = CAP_LAST_CAP + 1;
	return bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

uint64_t
caps_available(void)
{
	uint64_t all = caps_all(), have = 0;
	for (int cap = 0; cap < 64; cap++)
		if ((all & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			have |= UINT64_C(1) << cap;
	return have;
}

int
caps_from_name(const char *name, int *ret_cap, korch_error **err)
{
	if (!name || !*name)
		return error_set(err, KORCH_EINVALID, "empty capability name");
	const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
	char full[64];
	if (!*bare || strlen(bare) > sizeof(full) - 5)
		return error_set(err, KORCH_EINVALID, "unknown capability \"%s\"", name);
	snprintf(full, sizeof(full), "cap_%s", bare);
	for (char *p = full; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_')
			return error_set(err, KORCH_EINVALID, "unknown capability \"%s\"", name);
		*p = (char)tolower((unsigned char)*p);
	}
	cap_value_t v;
	/* libcap also takes plain numbers; Kubernetes names only. */
	if (isdigit((unsigned char)bare[0]) || cap_from_name(full, &v) < 0 || v < 0 || v > 63)
		return error_set(err, KORCH_EINVALID, "unknown capability \"%s\"", name);
	*ret_cap = v;
	return 0;
}

static int
apply_names(uint64_t *set, const char *const *names, size_t n, bool add, uint64_t avail,
	    korch_error **err)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(names[i], "ALL") == 0)
			continue;
		int cap;
		int r = caps_from_name(names[i], &cap, err);
		if (r < 0)
			return korch_error_prefix(err, r, "capabilities.%s[%zu]",
						  add ? "add" : "drop", i);
		if (add && !(avail & (UINT64_C(1) << cap)))
			return error_set(
				err, KORCH_EINVALID,
				"capabilities.add[%zu]: %s is not in korch's own capability "
				"bounding set",
				i, names[i]);
		if (add)
			*set |= UINT64_C(1) << cap;
		else
			*set &= ~(UINT64_C(1) << cap);
	}
	return 0;
}

static bool
has_all(const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], "ALL") == 0)
			return true;
	return false;
}

int
caps_compute(bool privileged, const char *const *add, size_t n_add, const char *const *drop,
	     size_t n_drop, struct caps_set *ret, korch_error **err)
{
	uint64_t avail = caps_available();
	uint64_t set = privileged ? avail : CAPS_DEFAULT & avail;
	if (!privileged) {
		if (has_all(add, n_add))
			set = avail;
		if (has_all(drop, n_drop))
			set = 0;
		int r = apply_names(&set, add, n_add, true, avail, err);
		if (r == 0)
			r = apply_names(&set, drop, n_drop, false, avail, err);
		if (r < 0)
			return r;
	}
	*ret = (struct caps_set){ .bounding = set, .effective = set, .permitted = set };
	return 0;
}

void
caps_format(uint64_t set, char buf[static 17])
{
	snprintf(buf, 17, "%016" PRIx64, set);
}
