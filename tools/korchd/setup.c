/*
 * setup.c - korchd's files on first start: the PKI (CA, server certificate, ServiceAccount
 * key), the token file with an admin token, and the admin kubeconfig for kubectl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <nettle/base64.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "korchd.h"
#include "server/pki.h"

/* The first address of a CIDR plus one: 10.96.0.0/12 gives 10.96.0.1 (the kubernetes Service). */
static int
first_service_ip(const char *cidr, char out[static 64])
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", cidr);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return KORCH_EINVALID;
	a.s_addr = htonl(ntohl(a.s_addr) + 1);
	inet_ntop(AF_INET, &a, out, 64);
	return 0;
}

static int
token_file_path(const struct korchd_config *cfg, char *buf, size_t len)
{
	if (cfg->token_file)
		snprintf(buf, len, "%s", cfg->token_file);
	else
		snprintf(buf, len, "%s/tokens.csv", cfg->data_dir);
	return 0;
}

/* The admin token of the token file (the line whose user is "admin"), made when missing. */
static int
admin_token(const struct korchd_config *cfg, char **ret, korch_error **err)
{
	char path[512];
	token_file_path(cfg, path, sizeof(path));
	_cleanup_free_ char *text = NULL;
	size_t len;
	korch_error *e = NULL;
	int r = read_file(path, 4 * 1024 * 1024, &text, &len, &e);
	if (r == 0) {
		korch_error_free(e);
		char *save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *c1 = strchr(line, ',');
			char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
			if (!c1 || !c2 || line[0] == '#')
				continue;
			if (c2 - c1 - 1 == 5 && !strncmp(c1 + 1, "admin", 5)) {
				*c1 = '\0';
				*ret = strdup(line);
				return *ret ? 0 : error_oom(err);
			}
		}
		return error_set(err, KORCH_ENOTFOUND,
				 "%s has no token for the user \"admin\" to put in the admin "
				 "kubeconfig",
				 path);
	}
	if (korch_error_errno(e) != ENOENT)
		return error_propagate(err, &e, r);
	korch_error_free(e);
	/* 32 random bytes, hex: what kube-apiserver's CSV tokens usually look like. */
	unsigned char rnd[32];
	if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd)) < 0)
		return error_set(err, KORCH_ESYSTEM, "no random bytes for the admin token");
	char token[65];
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	char line[160];
	snprintf(line, sizeof(line), "%s,admin,admin,\"system:masters\"\n", token);
	if ((r = write_file_atomic(path, line, strlen(line), 0600, err)) < 0)
		return korch_error_prefix(err, r, "token file");
	*ret = strdup(token);
	return *ret ? 0 : error_oom(err);
}

int
korchd_write_kubeconfig(const struct korchd_config *cfg, const char *server_url, korch_error **err)
{
	char ca_path[512];
	snprintf(ca_path, sizeof(ca_path), "%s/pki/%s", cfg->data_dir, PKI_CA_CERT);
	_cleanup_free_ char *ca = NULL, *token = NULL;
	size_t ca_len;
	int r = read_file(ca_path, 64 * 1024, &ca, &ca_len, err);
	if (r < 0 || (r = admin_token(cfg, &token, err)) < 0)
		return r;
	_cleanup_free_ char *ca64 = malloc(BASE64_ENCODE_RAW_LENGTH(ca_len) + 1);
	if (!ca64)
		return error_oom(err);
	base64_encode_raw(ca64, ca_len, (const uint8_t *)ca);
	ca64[BASE64_ENCODE_RAW_LENGTH(ca_len)] = '\0';
	_cleanup_strbuf_ struct strbuf kc = STRBUF_INIT;
	strbuf_printf(&kc,
		      "apiVersion: v1\n"
		      "kind: Config\n"
		      "clusters:\n"
		      "- cluster:\n"
		      "    certificate-authority-data: %s\n"
		      "    server: %s\n"
		      "  name: korch\n"
		      "contexts:\n"
		      "- context:\n"
		      "    cluster: korch\n"
		      "    user: admin\n"
		      "  name: korch\n"
		      "current-context: korch\n"
		      "preferences: {}\n"
		      "users:\n"
		      "- name: admin\n"
		      "  user:\n"
		      "    token: %s\n",
		      ca64, server_url, token);
	if (kc.oom)
		return error_oom(err);
	char path[512];
	snprintf(path, sizeof(path), "%s/admin.kubeconfig", cfg->data_dir);
	if ((r = write_file_atomic(path, kc.buf, kc.len, 0600, err)) < 0)
		return korch_error_prefix(err, r, "admin kubeconfig");
	if (streq(cfg->data_dir, KORCHD_DEFAULT_DATA_DIR)) {
		if ((r = mkdir_p("/etc/korch", 0755, err)) < 0 ||
		    (r = write_file_atomic(KORCHD_ETC_KUBECONFIG, kc.buf, kc.len, 0600, err)) < 0)
			return korch_error_prefix(err, r, "admin kubeconfig");
	}
	return 0;
}

int
korchd_setup_files(const struct korchd_config *cfg, korch_error **err)
{
	int r = mkdir_p(cfg->data_dir, 0700, err);
	if (r < 0)
		return korch_error_prefix(err, r, "data dir");
	if ((r = mkdir_p(cfg->run_dir, 0700, err)) < 0)
		return korch_error_prefix(err, r, "run dir");
	if (cfg->tls_cert_file || cfg->tls_key_file) {
		if (!cfg->tls_cert_file || !cfg->tls_key_file)
			return error_set(err, KORCH_EINVALID,
					 "--tls-cert-file and --tls-key-file go together");
	}
	char service_ip[64];
	if (first_service_ip(cfg->service_cidr, service_ip) < 0)
		return error_set(err, KORCH_EINVALID, "--service-cidr: \"%s\" is not an IPv4 CIDR",
				 cfg->service_cidr);
	const char *ips[] = { "127.0.0.1", service_ip, cfg->node_ip, NULL };
	if (streq(cfg->node_ip, "127.0.0.1"))
		ips[2] = NULL;
	const char *dns[] = { "kubernetes",
			      "kubernetes.default",
			      "kubernetes.default.svc",
			      "kubernetes.default.svc.cluster.local",
			      "localhost",
			      cfg->node_name,
			      NULL };
	char pki[512];
	snprintf(pki, sizeof(pki), "%s/pki", cfg->data_dir);
	/* The CA and the ServiceAccount key are made even with certificate files given. */
	if ((r = pki_ensure(pki, ips, dns, NULL, err)) < 0)
		return r;
	_cleanup_free_ char *token = NULL;
	return admin_token(cfg, &token, err);
}

char *
korchd_default_node_ip(void)
{
	struct ifaddrs *ifs = NULL;
	char buf[64] = "127.0.0.1";
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
				continue;
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
				  sizeof(buf));
			break;
		}
		freeifaddrs(ifs);
	}
	return strdup(buf);
}
