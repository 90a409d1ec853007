/*
 * api-floor - the floor the API server is measured against: a minimal libmicrohttpd + GnuTLS
 * program on one thread (as korchd's loop is one), answering every request with a fixed body
 * read from a file (the same bytes korchd answers with).
 *
 * usage: api-floor PORT CERT.pem KEY.pem BODY.json
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(16 * 1024 * 1024);
	*len = fread(buf, 1, 16 * 1024 * 1024 - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static struct MHD_Response *body_response;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	if (!*ctx) {
		*ctx = (void *)1;
		return MHD_YES;
	}
	*upload_size = 0;
	return MHD_queue_response(c, 200, body_response);
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: api-floor PORT CERT KEY BODY\n");
		return 2;
	}
	size_t cl, kl, bl;
	char *cert = slurp(argv[2], &cl), *key = slurp(argv[3], &kl), *body = slurp(argv[4], &bl);
	if (!cert || !key || !body) {
		perror("api-floor: read");
		return 1;
	}
	body_response = MHD_create_response_from_buffer(bl, body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(body_response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(body_response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_TURBO,
		(uint16_t)atoi(argv[1]), NULL, NULL, answer, NULL, MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_CONNECTION_LIMIT, 4096, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "api-floor: cannot listen on %s\n", argv[1]);
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(body_response);
	return 0;
}
