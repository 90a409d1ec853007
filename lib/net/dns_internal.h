/*
 * dns_internal.h - the record set shared by dns_records.c (building) and dns_server.c (answering).
 */
#ifndef KORCH_NET_DNS_INTERNAL_H
#define KORCH_NET_DNS_INTERNAL_H

#include <ldns/ldns.h>
#include "base/hashmap.h"
#include "base/vec.h"
#include "net/dns.h"

/* The records of one owner name; an empty one is an empty non-terminal (NODATA, not NXDOMAIN). */
struct dns_name {
	struct ptrvec rrs; /* ldns_rr *, owned */
};

struct dns_records {
	char *domain;         /* "cluster.local." (lower case, with the root dot) */
	struct hashmap names; /* lower-case owner name with the root dot -> struct dns_name */
	ldns_rr *soa;         /* the domain's SOA for negative answers */
	size_t count;         /* resource records held */
};

/* The name's records, or NULL. name: lower case with the root dot. */
const struct dns_name *dns_records_lookup(const struct dns_records *r, const char *name);

/* Builds an empty set for domain (its SOA only). */
int dns_records_new(const char *domain, struct dns_records **ret, korch_error **err);

#endif
