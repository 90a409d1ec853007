/*
 * resolv.h - a pod's /etc/resolv.conf from its dnsPolicy and dnsConfig, as the kubelet writes it.
 *
 * Policies: ClusterFirst (the default; a hostNetwork pod falls back to Default), Default (the
 * node's resolv.conf), None (dnsConfig only; it must name at least one nameserver) and
 * ClusterFirstWithHostNet (ClusterFirst even with hostNetwork). Cluster DNS gives
 * "nameserver CLUSTER_DNS", "search NS.svc.DOMAIN svc.DOMAIN DOMAIN" followed by the node's
 * search domains, and "options ndots:5". dnsConfig then appends nameservers and searches (without
 * duplicates) and merges options by name (dnsConfig's value wins). The result is cut to the
 * resolver's limits as the kubelet cuts it: 3 nameservers, 32 search domains, 2048 characters of
 * search list.
 */
#ifndef KORCH_NET_RESOLV_H
#define KORCH_NET_RESOLV_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/common.h>

struct resolv_params {
	const char *namespace_;     /* the pod's namespace */
	const char *dns_policy;     /* spec.dnsPolicy; NULL means ClusterFirst */
	const json_t *dns_config;   /* spec.dnsConfig (an object) or NULL */
	bool host_network;          /* spec.hostNetwork */
	const char *cluster_domain; /* "cluster.local" */
	const char *cluster_dns;    /* the kube-dns Service address, "10.96.0.10" */
	const char *host_resolv;    /* the text of the node's /etc/resolv.conf, or NULL */
};

/*
 * Renders the file. *ret_text is the caller's. KORCH_EINVALID for an unknown policy, a malformed
 * dnsConfig, or None without a nameserver (messages name the field: "spec.dnsPolicy: ...").
 */
int resolv_conf_render(const struct resolv_params *p, char **ret_text, korch_error **err);

#endif
