/*
 * pki.h - the keys and certificates of a control plane, made with GnuTLS on first start: a CA,
 * the API server's certificate signed by it, and the ServiceAccount signing key. ECDSA P-256
 * throughout (fast to generate: the first start stays well under a second).
 */
#ifndef KORCH_SERVER_PKI_H
#define KORCH_SERVER_PKI_H

#include <stdbool.h>
#include <korch/common.h>

/* The file names inside the PKI directory. */
#define PKI_CA_CERT "ca.crt"
#define PKI_CA_KEY "ca.key"
#define PKI_SERVER_CERT "server.crt"
#define PKI_SERVER_KEY "server.key"
#define PKI_SA_KEY "sa.key"
#define PKI_SA_PUB "sa.pub"

/*
 * Makes what is missing in dir (created 0700): the CA (10 years), the server certificate
 * (1 year, server and client auth, SANs: each of ip_sans and dns_sans, NULL-terminated lists),
 * the ServiceAccount key pair. A server certificate that lacks one of the SANs asked for, or
 * expires within 30 days, or was not signed by the CA there, is issued again. Keys are written
 * 0600, atomically. *ret_created (may be NULL) says whether the CA was made now.
 */
int pki_ensure(const char *dir, const char *const *ip_sans, const char *const *dns_sans,
	       bool *ret_created, korch_error **err);

#endif
