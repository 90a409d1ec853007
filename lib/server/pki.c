/*
 * pki.c - a CA, the API server's certificate and the ServiceAccount key, with GnuTLS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/util.h"
#include "server/pki.h"

#define DAY_S (24 * 3600)
#define CA_DAYS 3650
#define SERVER_DAYS 365
#define RENEW_DAYS 30
#define PEM_MAX (64 * 1024)

static int
gnutls_fail(korch_error **err, int g, const char *what)
{
	return error_set(err, KORCH_ESYSTEM, "%s: %s", what, gnutls_strerror(g));
}

static void
path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int
new_key(gnutls_x509_privkey_t *ret, korch_error **err)
{
	gnutls_x509_privkey_t key;
	int g = gnutls_x509_privkey_init(&key);
	if (g < 0)
		return gnutls_fail(err, g, "new key");
	g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (g < 0) {
		gnutls_x509_privkey_deinit(key);
		return gnutls_fail(err, g, "generate an ECDSA P-256 key");
	}
	*ret = key;
	return 0;
}

static int
write_key(const char *path, gnutls_x509_privkey_t key, korch_error **err)
{
	gnutls_datum_t d = { 0 };
	int g = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
						  &d);
	if (g < 0)
		return gnutls_fail(err, g, "export key");
	int r = write_file_atomic(path, d.data, d.size, 0600, err);
	gnutls_free(d.data);
	return r;
}

static int
write_crt(const char *path, gnutls_x509_crt_t crt, korch_error **err)
{
	gnutls_datum_t d = { 0 };
	int g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
	if (g < 0)
		return gnutls_fail(err, g, "export certificate");
	int r = write_file_atomic(path, d.data, d.size, 0644, err);
	gnutls_free(d.data);
	return r;
}

static int
read_pem(const char *path, gnutls_datum_t *ret, korch_error **err)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_file(path, PEM_MAX, &data, &len, err);
	if (r < 0)
		return r;
	ret->data = (unsigned char *)data;
	ret->size = (unsigned)len;
	return 0;
}

static int
load_key(const char *path, gnutls_x509_privkey_t *ret, korch_error **err)
{
	gnutls_datum_t d;
	int r = read_pem(path, &d, err);
	if (r < 0)
		return r;
	gnutls_x509_privkey_t key;
	int g = gnutls_x509_privkey_init(&key);
	if (g >= 0 && (g = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
		gnutls_x509_privkey_deinit(key);
	free(d.data);
	if (g < 0)
		return error_set(err, KORCH_EINVALID, "%s: %s", path, gnutls_strerror(g));
	*ret = key;
	return 0;
}

static int
load_crt(const char *path, gnutls_x509_crt_t *ret, korch_error **err)
{
	gnutls_datum_t d;
	int r = read_pem(path, &d, err);
	if (r < 0)
		return r;
	gnutls_x509_crt_t crt;
	int g = gnutls_x509_crt_init(&crt);
	if (g >= 0 && (g = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0)
		gnutls_x509_crt_deinit(crt);
	free(d.data);
	if (g < 0)
		return error_set(err, KORCH_EINVALID, "%s: %s", path, gnutls_strerror(g));
	*ret = crt;
	return 0;
}

/* The common fields of both certificates. */
static int
crt_base(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, int days,
	 korch_error **err)
{
	unsigned char serial[16];
	int g = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive integer */
	time_t now = time(NULL);
	if (g < 0 || (g = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (g = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (g = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (g = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * DAY_S)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					       (unsigned)strlen(cn))) < 0 ||
	    (g = gnutls_x509_crt_set_key(crt, key)) < 0)
		return gnutls_fail(err, g, "certificate");
	unsigned char id[64];
	size_t id_len = sizeof(id);
	if ((g = gnutls_x509_crt_get_key_id(crt, 0, id, &id_len)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_key_id(crt, id, id_len)) < 0)
		return gnutls_fail(err, g, "certificate key id");
	return 0;
}

static int
make_ca(const char *crt_path, const char *key_path, korch_error **err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int r = new_key(&key, err);
	if (r < 0)
		return r;
	int g = gnutls_x509_crt_init(&crt);
	if (g < 0) {
		r = gnutls_fail(err, g, "certificate");
		goto out;
	}
	if ((r = crt_base(crt, key, "korch-ca", CA_DAYS, err)) < 0)
		goto out;
	if ((g = gnutls_x509_crt_set_basic_constraints(crt, 1, -1)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
							    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0) {
		r = gnutls_fail(err, g, "sign the CA");
		goto out;
	}
	if ((r = write_key(key_path, key, err)) == 0)
		r = write_crt(crt_path, crt, err);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return r;
}

static int
ip_bytes(const char *ip, unsigned char buf[16], unsigned *ret_len)
{
	if (inet_pton(AF_INET, ip, buf) == 1) {
		*ret_len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, buf) == 1) {
		*ret_len = 16;
		return 0;
	}
	return KORCH_EINVALID;
}

/* Whether the certificate has every SAN asked for, lives 30 more days, and the CA signed it. */
static bool
server_crt_ok(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca, const char *const *ips,
	      const char *const *dns)
{
	unsigned status = 0;
	if (gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) < 0 || status != 0)
		return false;
	if (gnutls_x509_crt_get_expiration_time(crt) < time(NULL) + RENEW_DAYS * DAY_S)
		return false;
	for (size_t i = 0; ips && ips[i]; i++) {
		unsigned char want[16], got[16];
		unsigned wl;
		if (ip_bytes(ips[i], want, &wl) < 0)
			continue;
		bool found = false;
		for (unsigned k = 0; !found; k++) {
			size_t gl = sizeof(got);
			int t = gnutls_x509_crt_get_subject_alt_name(crt, k, got, &gl, NULL);
			if (t < 0)
				break;
			found = t == GNUTLS_SAN_IPADDRESS && gl == wl && !memcmp(got, want, wl);
		}
		if (!found)
			return false;
	}
	for (size_t i = 0; dns && dns[i]; i++) {
		bool found = false;
		for (unsigned k = 0; !found; k++) {
			char got[256];
			size_t gl = sizeof(got);
			int t = gnutls_x509_crt_get_subject_alt_name(crt, k, got, &gl, NULL);
			if (t < 0)
				break;
			found = t == GNUTLS_SAN_DNSNAME && gl == strlen(dns[i]) &&
				!memcmp(got, dns[i], gl);
		}
		if (!found)
			return false;
	}
	return true;
}

static int
make_server(const char *crt_path, const char *key_path, gnutls_x509_crt_t ca,
	    gnutls_x509_privkey_t ca_key, const char *const *ips, const char *const *dns,
	    korch_error **err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int r = new_key(&key, err);
	if (r < 0)
		return r;
	int g = gnutls_x509_crt_init(&crt);
	if (g < 0) {
		r = gnutls_fail(err, g, "certificate");
		goto out;
	}
	if ((r = crt_base(crt, key, "kube-apiserver", SERVER_DAYS, err)) < 0)
		goto out;
	unsigned char ca_id[64];
	size_t ca_id_len = sizeof(ca_id);
	if ((g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
							    GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
	    (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
	    (g = gnutls_x509_crt_get_subject_key_id(ca, ca_id, &ca_id_len, NULL)) < 0 ||
	    (g = gnutls_x509_crt_set_authority_key_id(crt, ca_id, ca_id_len)) < 0) {
		r = gnutls_fail(err, g, "server certificate");
		goto out;
	}
	for (size_t i = 0; ips && ips[i]; i++) {
		unsigned char b[16];
		unsigned bl;
		if (ip_bytes(ips[i], b, &bl) < 0) {
			r = error_set(err, KORCH_EINVALID, "%s is not an IP address", ips[i]);
			goto out;
		}
		if ((g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, b, bl,
							      GNUTLS_FSAN_APPEND)) < 0) {
			r = gnutls_fail(err, g, "server certificate address");
			goto out;
		}
	}
	for (size_t i = 0; dns && dns[i]; i++)
		if ((g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns[i],
							      (unsigned)strlen(dns[i]),
							      GNUTLS_FSAN_APPEND)) < 0) {
			r = gnutls_fail(err, g, "server certificate name");
			goto out;
		}
	if ((g = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0) {
		r = gnutls_fail(err, g, "sign the server certificate");
		goto out;
	}
	if ((r = write_key(key_path, key, err)) == 0)
		r = write_crt(crt_path, crt, err);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return r;
}

static int
make_sa(const char *key_path, const char *pub_path, korch_error **err)
{
	gnutls_x509_privkey_t key = NULL;
	int r = new_key(&key, err);
	if (r < 0)
		return r;
	gnutls_pubkey_t pub = NULL;
	gnutls_privkey_t priv = NULL;
	gnutls_datum_t d = { 0 };
	int g;
	if ((g = gnutls_privkey_init(&priv)) < 0 || (g = gnutls_pubkey_init(&pub)) < 0 ||
	    (g = gnutls_privkey_import_x509(priv, key, 0)) < 0 ||
	    (g = gnutls_pubkey_import_privkey(pub, priv, 0, 0)) < 0 ||
	    (g = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &d)) < 0) {
		r = gnutls_fail(err, g, "ServiceAccount public key");
		goto out;
	}
	if ((r = write_key(key_path, key, err)) == 0)
		r = write_file_atomic(pub_path, d.data, d.size, 0644, err);
out:
	gnutls_free(d.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (priv)
		gnutls_privkey_deinit(priv);
	gnutls_x509_privkey_deinit(key);
	return r;
}

static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int
pki_ensure(const char *dir, const char *const *ips, const char *const *dns, bool *ret_created,
	   korch_error **err)
{
	int r = mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	char ca_crt[512], ca_key[512], srv_crt[512], srv_key[512], sa_key[512], sa_pub[512];
	path_in(ca_crt, sizeof(ca_crt), dir, PKI_CA_CERT);
	path_in(ca_key, sizeof(ca_key), dir, PKI_CA_KEY);
	path_in(srv_crt, sizeof(srv_crt), dir, PKI_SERVER_CERT);
	path_in(srv_key, sizeof(srv_key), dir, PKI_SERVER_KEY);
	path_in(sa_key, sizeof(sa_key), dir, PKI_SA_KEY);
	path_in(sa_pub, sizeof(sa_pub), dir, PKI_SA_PUB);
	bool created = false;
	if (!exists(ca_crt) || !exists(ca_key)) {
		if ((r = make_ca(ca_crt, ca_key, err)) < 0)
			return korch_error_prefix(err, r, "make the CA in %s", dir);
		created = true;
	}
	gnutls_x509_crt_t ca = NULL;
	gnutls_x509_privkey_t cakey = NULL;
	if ((r = load_crt(ca_crt, &ca, err)) < 0)
		return r;
	if ((r = load_key(ca_key, &cakey, err)) < 0) {
		gnutls_x509_crt_deinit(ca);
		return r;
	}
	bool server_ok = false;
	if (!created && exists(srv_crt) && exists(srv_key)) {
		gnutls_x509_crt_t crt = NULL;
		korch_error *e = NULL;
		if (load_crt(srv_crt, &crt, &e) == 0) {
			server_ok = server_crt_ok(crt, ca, ips, dns);
			gnutls_x509_crt_deinit(crt);
		}
		korch_error_free(e);
	}
	if (!server_ok)
		r = make_server(srv_crt, srv_key, ca, cakey, ips, dns, err);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(cakey);
	if (r < 0)
		return korch_error_prefix(err, r, "make the server certificate in %s", dir);
	if (!exists(sa_key) && (r = make_sa(sa_key, sa_pub, err)) < 0)
		return korch_error_prefix(err, r, "make the ServiceAccount key in %s", dir);
	if (ret_created)
		*ret_created = created;
	return 0;
}
