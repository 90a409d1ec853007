/*
 * The PKI of a first start: a CA, a server certificate it signed with the SANs asked for, a
 * ServiceAccount key; kept on the next start, the server certificate issued again when a SAN is
 * missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/fs.h"
#include "client/token.h"
#include "server/pki.h"

static gnutls_x509_crt_t
load(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *data = NULL;
	size_t len;
	assert_int_equal(read_file(path, 65536, &data, &len, NULL), 0);
	gnutls_datum_t d = { (unsigned char *)data, (unsigned)len };
	gnutls_x509_crt_t crt;
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	free(data);
	return crt;
}

static bool
has_ip(gnutls_x509_crt_t crt, const char *ip)
{
	unsigned char want[4];
	inet_pton(AF_INET, ip, want);
	for (unsigned i = 0;; i++) {
		unsigned char got[16];
		size_t len = sizeof(got);
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, got, &len, NULL);
		if (t < 0)
			return false;
		if (t == GNUTLS_SAN_IPADDRESS && len == 4 && !memcmp(got, want, 4))
			return true;
	}
}

static void
test_first_start(void **state)
{
	char dir[] = "/tmp/korch-test-pki-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char pki[64];
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	const char *ips[] = { "127.0.0.1", "10.96.0.1", "192.168.7.2", NULL };
	const char *dns[] = { "kubernetes", "kubernetes.default.svc.cluster.local", NULL };
	bool created = false;
	assert_int_equal(pki_ensure(pki, ips, dns, &created, NULL), 0);
	assert_true(created);
	gnutls_x509_crt_t ca = load(pki, PKI_CA_CERT), srv = load(pki, PKI_SERVER_CERT);
	unsigned status = 1;
	assert_int_equal(gnutls_x509_crt_verify(srv, &ca, 1, 0, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(
		gnutls_x509_crt_check_hostname(srv, "kubernetes.default.svc.cluster.local"), 1);
	assert_int_equal(gnutls_x509_crt_check_hostname(srv, "10.96.0.1"), 1);
	assert_int_equal(gnutls_x509_crt_check_hostname(srv, "example.com"), 0);
	assert_true(has_ip(srv, "192.168.7.2"));
	/* Keys are private. */
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", pki, PKI_CA_KEY);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The ServiceAccount key signs tokens. */
	snprintf(path, sizeof(path), "%s/%s", pki, PKI_SA_KEY);
	char *key = NULL;
	size_t len;
	assert_int_equal(read_file(path, 65536, &key, &len, NULL), 0);
	struct token_signer *signer = NULL;
	assert_int_equal(token_signer_new(key, "https://kubernetes.default.svc", &signer, NULL), 0);
	token_signer_free(signer);
	free(key);
	/* Next start: kept as it is. */
	gnutls_datum_t before;
	assert_int_equal(gnutls_x509_crt_get_raw_dn(srv, &before), 0);
	size_t serial_len = 32;
	unsigned char serial[32];
	assert_int_equal(gnutls_x509_crt_get_serial(srv, serial, &serial_len), 0);
	gnutls_free(before.data);
	assert_int_equal(pki_ensure(pki, ips, dns, &created, NULL), 0);
	assert_false(created);
	gnutls_x509_crt_t same = load(pki, PKI_SERVER_CERT);
	unsigned char serial2[32];
	size_t serial2_len = sizeof(serial2);
	assert_int_equal(gnutls_x509_crt_get_serial(same, serial2, &serial2_len), 0);
	assert_memory_equal(serial, serial2, serial_len);
	/* A new node address: the server certificate is issued again, by the same CA. */
	const char *moved[] = { "127.0.0.1", "10.96.0.1", "192.168.7.9", NULL };
	assert_int_equal(pki_ensure(pki, moved, dns, &created, NULL), 0);
	gnutls_x509_crt_t reissued = load(pki, PKI_SERVER_CERT);
	assert_true(has_ip(reissued, "192.168.7.9"));
	assert_false(has_ip(reissued, "192.168.7.2"));
	assert_int_equal(gnutls_x509_crt_verify(reissued, &ca, 1, 0, &status), 0);
	assert_int_equal(status, 0);
	gnutls_x509_crt_deinit(reissued);
	gnutls_x509_crt_deinit(same);
	gnutls_x509_crt_deinit(srv);
	gnutls_x509_crt_deinit(ca);
	rm_rf(dir, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
