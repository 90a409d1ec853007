/*
 * addr.c - IPv4 address and CIDR parsing, and the names of korch's links and table.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/names.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/util.h"
#include "net/addr.h"

int
ip4_parse(const char *text, uint32_t *ret_ip, korch_error **err)
{
	struct in_addr a;
	/* inet_pton accepts exactly four decimal parts, no leading zeros tricks beyond that. */
	if (!text || inet_pton(AF_INET, text, &a) != 1)
		return error_set(err, KORCH_EINVALID, "invalid IPv4 address \"%s\"",
				 text ? text : "");
	*ret_ip = ntohl(a.s_addr);
	return 0;
}

char *
ip4_format(uint32_t ip, char buf[static NET_IP4_STRLEN])
{
	snprintf(buf, NET_IP4_STRLEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
	return buf;
}

uint32_t
cidr_mask(const struct net_cidr *c)
{
	return c->prefix == 0 ? 0 : 0xffffffffu << (32 - c->prefix);
}

uint32_t
cidr_last(const struct net_cidr *c)
{
	return c->base | ~cidr_mask(c);
}

bool
cidr_contains(const struct net_cidr *c, uint32_t ip)
{
	return (ip & cidr_mask(c)) == c->base;
}

char *
cidr_format(const struct net_cidr *c, char buf[static 20])
{
	char ip[NET_IP4_STRLEN];
	snprintf(buf, 20, "%s/%d", ip4_format(c->base, ip), c->prefix);
	return buf;
}

int
cidr_parse(const char *text, struct net_cidr *ret, korch_error **err)
{
	if (!text)
		return error_set(err, KORCH_EINVALID, "invalid CIDR \"\"");
	const char *slash = strchr(text, '/');
	if (!slash || slash - text >= NET_IP4_STRLEN)
		return error_set(err, KORCH_EINVALID, "invalid CIDR \"%s\": expected A.B.C.D/N",
				 text);
	char ip_text[NET_IP4_STRLEN];
	memcpy(ip_text, text, (size_t)(slash - text));
	ip_text[slash - text] = '\0';
	uint32_t ip = 0;
	if (ip4_parse(ip_text, &ip, NULL) < 0)
		return error_set(err, KORCH_EINVALID, "invalid CIDR \"%s\": bad address", text);
	int64_t prefix;
	if (parse_int64(slash + 1, &prefix) < 0 || prefix < 0 || prefix > 32 || slash[1] == '+' ||
	    slash[1] == '-' || (slash[1] == '0' && slash[2]))
		return error_set(err, KORCH_EINVALID, "invalid CIDR \"%s\": bad prefix length",
				 text);
	struct net_cidr c = { .base = ip, .prefix = (int)prefix };
	if ((ip & cidr_mask(&c)) != ip)
		return error_set(
			err, KORCH_EINVALID,
			"invalid CIDR \"%s\": host bits set (the network address is needed)", text);
	*ret = c;
	return 0;
}

int
net_instance_check(const char *instance, korch_error **err)
{
	if (!instance || !is_dns1123_label(instance) || strlen(instance) > 32)
		return error_set(err, KORCH_EINVALID,
				 "invalid instance name \"%s\": a DNS-1123 label of at most 32 "
				 "characters is needed",
				 instance ? instance : "");
	return 0;
}

int
net_pod_key_check(const char *key, korch_error **err)
{
	size_t n = key ? strlen(key) : 0;
	if (n == 0 || n > NET_POD_KEY_MAX)
		return error_set(err, KORCH_EINVALID, "invalid pod key: 1 to %d characters needed",
				 NET_POD_KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' || c == ':' ||
			  c == '-';
		if (!ok)
			return error_set(
				err, KORCH_EINVALID,
				"invalid pod key \"%s\": only letters, digits and ._/:- are "
				"allowed",
				key);
	}
	return 0;
}

void
net_bridge_name(const char *instance, char buf[static NET_IFNAME_MAX])
{
	size_t n = strlen(instance);
	if (streq(instance, NET_DEFAULT_INSTANCE))
		snprintf(buf, NET_IFNAME_MAX, "korch0");
	else if (n + 3 <= NET_IFNAME_MAX - 1)
		snprintf(buf, NET_IFNAME_MAX, "kb%s0", instance);
	else
		snprintf(buf, NET_IFNAME_MAX, "kb%.4s%08" PRIx32 "0", instance,
			 hash_string(instance, n));
}

void
net_veth_name(const char *instance, const char *pod_key, char buf[static NET_IFNAME_MAX])
{
	uint32_t hi = hash_string(instance, strlen(instance)) & 0xffff;
	uint32_t hk = hash_string(pod_key, strlen(pod_key));
	snprintf(buf, NET_IFNAME_MAX, "kv%04" PRIx32 "%08" PRIx32, hi, hk);
}

char *
net_table_name(const char *instance)
{
	char *s = NULL;
	if (streq(instance, NET_DEFAULT_INSTANCE))
		return strdup("korch");
	return asprintf(&s, "korch-%s", instance) < 0 ? NULL : s;
}

char *
net_bridge_alias(const char *instance)
{
	char *s = NULL;
	return asprintf(&s, "korch/%s bridge", instance) < 0 ? NULL : s;
}

char *
net_veth_alias(const char *instance, const char *pod_key, uint32_t ip)
{
	char *s = NULL;
	char ipb[NET_IP4_STRLEN];
	return asprintf(&s, "korch/%s pod=%s ip=%s", instance, pod_key, ip4_format(ip, ipb)) < 0
		       ? NULL
		       : s;
}

int
net_veth_alias_parse(const char *instance, const char *alias, char **ret_key, uint32_t *ret_ip)
{
	if (!alias || strncmp(alias, "korch/", 6) != 0)
		return KORCH_ENOTFOUND;
	const char *p = startswith(alias + 6, instance);
	if (!p || !(p = startswith(p, " pod=")))
		return KORCH_ENOTFOUND;
	const char *sp = strstr(p, " ip=");
	if (!sp || sp == p)
		return KORCH_ENOTFOUND;
	uint32_t ip = 0;
	if (ip4_parse(sp + 4, &ip, NULL) < 0)
		return KORCH_ENOTFOUND;
	char *key = strndup(p, (size_t)(sp - p));
	if (!key)
		return KORCH_ENOMEM;
	*ret_key = key;
	*ret_ip = ip;
	return 0;
}
