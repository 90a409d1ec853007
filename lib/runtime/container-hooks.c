/*
 * container-hooks.c - where a container's cgroup, capabilities and seccomp filter come
 * from. For now every container gets an empty hook table: no cgroup placement, no capability
 * change, no seccomp filter. The cgroup v1/v2, caps and seccomp code (lib/runtime/cgroup*.c,
 * caps.c, seccomp.c) plugs in here: build its data from the spec, fill the table.
 */
#include <stdlib.h>

#include "base/error.h"
#include "runtime/container.h"

int
container_hooks_new(const struct container_spec *spec, const char *container_dir, bool reattach,
		       struct container_hooks **ret, korch_error **err)
{
	struct container_hooks *sec = calloc(1, sizeof(*sec));
	if (!sec)
		return error_oom(err);
	sec->cgroup_fd = -1;
	*ret = sec;
	return 0;
}

void
container_hooks_free(struct container_hooks *sec)
{
	if (!sec)
		return;
	if (sec->ops && sec->ops->free)
		sec->ops->free(sec->data);
	free(sec);
}
