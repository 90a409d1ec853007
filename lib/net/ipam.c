/*
 * ipam.c - next-fit address allocation over a pod CIDR with an owner per address.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/util.h"
#include "net/ipam.h"

struct ipam {
	struct net_cidr cidr;  /* the pod CIDR */
	size_t size;           /* addresses in the CIDR */
	char **owner;          /* size entries: the key holding each offset, or NULL */
	struct hashmap by_key; /* key -> offset + 1 (as a pointer-sized integer) */
	size_t used;           /* addresses held */
	size_t next;           /* offset where the next search starts */
};

int
ipam_new(const struct net_cidr *cidr, struct ipam **ret, korch_error **err)
{
	char buf[20];
	if (cidr->prefix < 16 || cidr->prefix > 30)
		return error_set(err, KORCH_EINVALID,
				 "pod CIDR %s: a prefix length from 16 to 30 is needed",
				 cidr_format(cidr, buf));
	struct ipam *p = calloc(1, sizeof(*p));
	if (!p)
		return error_oom(err);
	p->cidr = *cidr;
	p->size = (size_t)1 << (32 - cidr->prefix);
	p->owner = calloc(p->size, sizeof(char *));
	if (!p->owner) {
		free(p);
		return error_oom(err);
	}
	p->next = 2;
	*ret = p;
	return 0;
}

void
ipam_free(struct ipam *ipam)
{
	if (!ipam)
		return;
	for (size_t i = 0; i < ipam->size; i++)
		free(ipam->owner[i]);
	free(ipam->owner);
	hashmap_free(&ipam->by_key, NULL);
	free(ipam);
}

uint32_t
ipam_gateway(const struct ipam *ipam)
{
	return ipam->cidr.base + 1;
}

size_t
ipam_capacity(const struct ipam *ipam)
{
	return ipam->size - 3; /* network, gateway, broadcast */
}

size_t
ipam_used(const struct ipam *ipam)
{
	return ipam->used;
}

static bool
reserved_offset(const struct ipam *ipam, size_t off)
{
	return off < 2 || off == ipam->size - 1;
}

int
ipam_lookup(const struct ipam *ipam, const char *key, uint32_t *ret_ip)
{
	uintptr_t v = (uintptr_t)hashmap_get(&ipam->by_key, key);
	if (!v)
		return KORCH_ENOTFOUND;
	*ret_ip = ipam->cidr.base + (uint32_t)(v - 1);
	return 0;
}

const char *
ipam_owner(const struct ipam *ipam, uint32_t ip)
{
	if (!cidr_contains(&ipam->cidr, ip))
		return NULL;
	return ipam->owner[ip - ipam->cidr.base];
}

static int
take(struct ipam *ipam, const char *key, size_t off, korch_error **err)
{
	char *copy = strdup(key);
	if (!copy)
		return error_oom(err);
	if (hashmap_put(&ipam->by_key, key, (void *)(uintptr_t)(off + 1), NULL) < 0) {
		free(copy);
		return error_oom(err);
	}
	ipam->owner[off] = copy;
	ipam->used++;
	return 0;
}

int
ipam_reserve(struct ipam *ipam, const char *key, uint32_t ip, korch_error **err)
{
	char ipb[NET_IP4_STRLEN], cb[20];
	if (!cidr_contains(&ipam->cidr, ip))
		return error_set(err, KORCH_EINVALID, "address %s is outside the pod CIDR %s",
				 ip4_format(ip, ipb), cidr_format(&ipam->cidr, cb));
	size_t off = ip - ipam->cidr.base;
	if (reserved_offset(ipam, off))
		return error_set(err, KORCH_EINVALID,
				 "address %s is reserved (network, gateway or broadcast)",
				 ip4_format(ip, ipb));
	const char *holder = ipam->owner[off];
	if (holder)
		return streq(holder, key)
			       ? 0
			       : error_set(err, KORCH_ECONFLICT, "address %s is held by %s, not %s",
					   ip4_format(ip, ipb), holder, key);
	uint32_t have;
	if (ipam_lookup(ipam, key, &have) == 0)
		return error_set(err, KORCH_ECONFLICT, "%s holds %s already, not %s", key,
				 ip4_format(have, cb), ip4_format(ip, ipb));
	int r = take(ipam, key, off, err);
	if (r == 0 && off >= ipam->next)
		ipam->next = off + 1 < ipam->size - 1 ? off + 1 : 2;
	return r;
}

int
ipam_allocate(struct ipam *ipam, const char *key, uint32_t *ret_ip, korch_error **err)
{
	if (ipam_lookup(ipam, key, ret_ip) == 0)
		return 0;
	size_t n = ipam_capacity(ipam);
	size_t off = ipam->next;
	for (size_t i = 0; i < n; i++, off++) {
		if (off >= ipam->size - 1)
			off = 2;
		if (ipam->owner[off])
			continue;
		int r = take(ipam, key, off, err);
		if (r < 0)
			return r;
		ipam->next = off + 1;
		*ret_ip = ipam->cidr.base + (uint32_t)off;
		return 0;
	}
	char cb[20];
	return error_set(err, KORCH_ETOOLARGE,
			 "pod CIDR %s is exhausted: all %zu addresses are in use",
			 cidr_format(&ipam->cidr, cb), n);
}

int
ipam_release(struct ipam *ipam, const char *key)
{
	uintptr_t v = (uintptr_t)hashmap_remove(&ipam->by_key, key);
	if (!v)
		return KORCH_ENOTFOUND;
	free(ipam->owner[v - 1]);
	ipam->owner[v - 1] = NULL;
	ipam->used--;
	return 0;
}
