/*
 * caps.h - Linux capabilities of containers (internal): the 14 defaults of container engines,
 * add/drop by name as Kubernetes writes them, privileged = all, and applying them in the child
 * around the switch to the container's user, as runc does.
 */
#ifndef KORCH_RUNTIME_CAPS_H
#define KORCH_RUNTIME_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <korch/common.h>

/* CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE,
 * NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP: moby's oci/caps/defaults.go. */
#define CAPS_DEFAULT UINT64_C(0x00000000a80425fb)

/* The five sets of a process (bit n = capability n). */
struct caps_set {
	uint64_t bounding;    /* what the process can ever gain */
	uint64_t effective;   /* what it uses now */
	uint64_t permitted;   /* what it may make effective */
	uint64_t inheritable; /* kept across execve for files with inheritable bits: empty */
	uint64_t ambient;     /* kept across execve for non-root: empty */
};

/* Every capability the running kernel knows (0..cap_last_cap). */
uint64_t caps_all(void);
/*
 * What this process can hand out: caps_all() within its own bounding set (a sandbox or a
 * systemd unit may have removed some). Privileged containers and add [ALL] get this.
 */
uint64_t caps_available(void);

/*
 * A capability number from a name as Kubernetes writes it: "NET_ADMIN", "CAP_NET_ADMIN",
 * "net_admin" alike. "ALL" is not a capability here (see caps_compute). KORCH_EINVALID naming
 * the name when unknown.
 */
int caps_from_name(const char *name, int *ret_cap, korch_error **err);

/*
 * The container's sets: privileged gets caps_available() and add/drop are ignored; otherwise
 * the 14 defaults, then containerd's order: add "ALL", drop "ALL", each other add, each other
 * drop (so drop [ALL] + add [NET_BIND_SERVICE] leaves exactly that one). A named capability
 * korch itself does not hold is KORCH_EINVALID (the child could not get it). Bounding,
 * effective and permitted are that set; inheritable and ambient are empty.
 */
int caps_compute(bool privileged, const char *const *add, size_t n_add, const char *const *drop,
		 size_t n_drop, struct caps_set *ret, korch_error **err);

/* Formats a set as /proc/PID/status shows it ("00000000a80425fb"). buf: 17 bytes. */
void caps_format(uint64_t set, char buf[static 17]);

#endif
