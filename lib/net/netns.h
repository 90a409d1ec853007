/*
 * netns.h - entering network namespaces for a moment, and sysctls of the current one.
 *
 * A netlink or nftables socket belongs to the network namespace its creator was in when it was
 * made, and a /proc/sys/net file to the namespace of whoever opened it. So lib/net enters a pod's
 * namespace only to create such sockets or open such files, and returns at once: the calling
 * thread is in its own namespace again when any of these functions returns, on every path.
 */
#ifndef KORCH_NET_NETNS_H
#define KORCH_NET_NETNS_H

#include <korch/common.h>

/* Opens a network namespace file (a bind mount, or /proc/PID/ns/net); checks its type. */
int netns_open(const char *path, int *ret_fd, korch_error **err);
/* Checks that fd is a network namespace; returns a new O_CLOEXEC duplicate of it. */
int netns_dup(int fd, int *ret_fd, korch_error **err);

/*
 * Moves the calling thread into the namespace fd; *ret_saved receives an fd for the namespace
 * it was in, which netns_leave() returns to (and closes). If leaving fails, the thread would
 * run in the wrong namespace: netns_leave() then aborts, since nothing can be done safely.
 */
int netns_enter(int fd, int *ret_saved, korch_error **err);
void netns_leave(int saved);

/* Writes value to /proc/sys/KEY of the calling thread's namespace ("net/ipv4/ip_forward"). */
int sysctl_write(const char *key, const char *value, korch_error **err);

#endif
