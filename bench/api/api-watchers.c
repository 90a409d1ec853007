/*
 * api-watchers - N concurrent watches of one ConfigMap over HTTPS, while a writer patches it
 * RATE times a second with its send time in an annotation; every event each watcher receives
 * gives one delivery latency (receive time minus send time). Also reads the server's memory
 * while the watchers are connected.
 *
 * usage: api-watchers PORT CA.pem TOKEN NAMESPACE NAME WATCHERS RATE SECONDS SERVER_PID
 * prints: connected N, delivered D expected E, p50/p99/max in ms, the writer's achieved rate,
 * and the server's private and resident memory with the watchers connected (and its private
 * memory before they connected, and what each watcher added).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#define MARK "\"bench.korch.io/sent\":\""
#define MAX_US 10000000 /* latencies above 10 s land in the last bucket */
#define READERS 4       /* reader threads: the client must not be what limits delivery */

struct watcher {
	gnutls_session_t s; /* the TLS session */
	int fd;             /* its socket */
	char buf[65536];    /* bytes not scanned yet */
	size_t len;         /* how many */
};

static int port;
static const char *token, *ns, *name;
static gnutls_certificate_credentials_t creds;
static uint32_t *hist;                /* microsecond buckets */
static uint64_t delivered;            /* events counted */
static volatile int64_t measure_from; /* count events sent after this */
static volatile bool writer_done;
static uint64_t writes_ok;

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gnutls_session_t
tls_connect(int *ret_fd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("api-watchers: connect");
		exit(1);
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	gnutls_session_t s;
	gnutls_init(&s, GNUTLS_CLIENT);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
	gnutls_session_set_verify_cert(s, "127.0.0.1", 0);
	gnutls_transport_set_int(s, fd);
	int r;
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		fprintf(stderr, "api-watchers: handshake: %s\n", gnutls_strerror(r));
		exit(1);
	}
	*ret_fd = fd;
	return s;
}

static void
send_all(gnutls_session_t s, const char *data, size_t len)
{
	while (len) {
		ssize_t n = gnutls_record_send(s, data, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0) {
			fprintf(stderr, "api-watchers: send: %s\n", gnutls_strerror((int)n));
			exit(1);
		}
		data += n;
		len -= (size_t)n;
	}
}

/* The writer: a PATCH every 1/rate seconds with its send time, each answered before the next. */
struct writer_args {
	int rate;
	int seconds;
};

static void *
writer(void *arg)
{
	struct writer_args *w = arg;
	int fd;
	gnutls_session_t s = tls_connect(&fd);
	int64_t period = 1000000000LL / w->rate, start = now_ns();
	measure_from = start;
	char req[1024], body[128], resp[65536];
	for (int i = 0; i < w->rate * w->seconds; i++) {
		int64_t due = start + i * period, left = due - now_ns();
		if (left > 0) {
			struct timespec ts = { left / 1000000000, left % 1000000000 };
			nanosleep(&ts, NULL);
		}
		int bl = snprintf(
			body, sizeof(body),
			"{\"metadata\":{\"annotations\":{\"bench.korch.io/sent\":\"%lld\"}}}",
			(long long)now_ns());
		int rl = snprintf(req, sizeof(req),
				  "PATCH /api/v1/namespaces/%s/configmaps/%s HTTP/1.1\r\nHost: "
				  "127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: "
				  "application/merge-patch+json\r\nContent-Length: %d\r\n\r\n%s",
				  ns, name, token, bl, body);
		send_all(s, req, (size_t)rl);
		size_t got = 0;
		long want = -1;
		for (;;) {
			ssize_t n = gnutls_record_recv(s, resp + got, sizeof(resp) - 1 - got);
			if (n <= 0)
				goto out;
			got += (size_t)n;
			resp[got] = '\0';
			char *end = strstr(resp, "\r\n\r\n");
			if (end && want < 0) {
				char *cl = strcasestr(resp, "Content-Length:");
				want = (long)(end - resp) + 4 +
				       (cl ? strtol(cl + 15, NULL, 10) : 0);
			}
			if (want >= 0 && (long)got >= want)
				break;
		}
		if (!strncmp(resp, "HTTP/1.1 200", 12))
			writes_ok++;
	}
out:
	writer_done = true;
	gnutls_bye(s, GNUTLS_SHUT_RDWR);
	gnutls_deinit(s);
	close(fd);
	return NULL;
}

struct reader {
	pthread_t thread;   /* its thread */
	int ep;             /* its epoll */
	uint32_t *hist;     /* its buckets */
	uint64_t delivered; /* its count */
};

static volatile bool readers_stop;

static void
scan(struct watcher *w, struct reader *rd)
{
	char *last = memrchr(w->buf, '\n', w->len);
	if (!last)
		return;
	int64_t now = now_ns();
	size_t upto = (size_t)(last - w->buf) + 1;
	char *p = w->buf, *end = w->buf + upto;
	while ((p = memmem(p, (size_t)(end - p), MARK, strlen(MARK)))) {
		p += strlen(MARK);
		int64_t sent = strtoll(p, NULL, 10);
		if (sent >= measure_from && measure_from) {
			int64_t us = (now - sent) / 1000;
			if (us < 0)
				us = 0;
			rd->hist[us < MAX_US ? us : MAX_US - 1]++;
			rd->delivered++;
		}
	}
	memmove(w->buf, w->buf + upto, w->len - upto);
	w->len -= upto;
}

static void *
read_loop(void *arg)
{
	struct reader *rd = arg;
	struct epoll_event evs[256];
	while (!readers_stop) {
		int k = epoll_wait(rd->ep, evs, 256, 50);
		for (int i = 0; i < k; i++) {
			struct watcher *w = evs[i].data.ptr;
			/* One read per readiness (epoll is level-triggered: what is left in the socket
			 * reports again), then what GnuTLS already holds decrypted: no read that only
			 * returns EAGAIN. */
			do {
				ssize_t r = gnutls_record_recv(w->s, w->buf + w->len,
							       sizeof(w->buf) - w->len);
				if (r <= 0)
					break;
				w->len += (size_t)r;
				scan(w, rd);
				if (w->len == sizeof(w->buf))
					w->len = 0;
			} while (gnutls_record_check_pending(w->s) > 0);
		}
	}
	return NULL;
}

/* CPU seconds (user + system) the server has used so far. */
static double
cpu_seconds(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long utime = 0, stime = 0;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
		       &stime);
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double
percentile(uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), seen = 0;
	for (int i = 0; i < MAX_US; i++) {
		seen += hist[i];
		if (seen > want)
			return i / 1000.0;
	}
	return MAX_US / 1000.0;
}

static void
memory(int pid, double *priv_mb, double *rss_mb)
{
	char path[64], line[256];
	/* Private_Dirty (what the process itself wrote), VmRSS beside it: the project's rule. */
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	FILE *f = fopen(path, "r");
	long priv = 0, rss = 0, v;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Private_Dirty: %ld", &v) == 1)
			priv = v;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			rss = v;
	if (f)
		fclose(f);
	*priv_mb = priv / 1024.0;
	*rss_mb = rss / 1024.0;
}

int
main(int argc, char **argv)
{
	if (argc != 10) {
		fprintf(stderr, "usage: api-watchers PORT CA TOKEN NS NAME WATCHERS RATE SECONDS "
				"SERVER_PID\n");
		return 2;
	}
	port = atoi(argv[1]);
	token = argv[3];
	ns = argv[4];
	name = argv[5];
	int n = atoi(argv[6]), rate = atoi(argv[7]), seconds = atoi(argv[8]);
	int pid = atoi(argv[9]);
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&creds);
	if (gnutls_certificate_set_x509_trust_file(creds, argv[2], GNUTLS_X509_FMT_PEM) <= 0) {
		fprintf(stderr, "api-watchers: cannot read CA %s\n", argv[2]);
		return 1;
	}
	hist = calloc(MAX_US, sizeof(*hist));
	struct watcher *ws = calloc((size_t)n, sizeof(*ws));
	struct reader rds[READERS];
	for (int t = 0; t < READERS; t++) {
		rds[t] = (struct reader){ .ep = epoll_create1(EPOLL_CLOEXEC),
					  .hist = calloc(MAX_US, sizeof(uint32_t)) };
	}
	/* The server's memory before the watches: what they add is the difference. */
	double before_priv_mb, before_rss_mb;
	memory(pid, &before_priv_mb, &before_rss_mb);
	char req[1024];
	int rl = snprintf(req, sizeof(req),
			  "GET /api/v1/namespaces/%s/configmaps?watch=true&fieldSelector=metadata."
			  "name%%3D%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
			  "Accept: application/json\r\n\r\n",
			  ns, name, token);
	for (int i = 0; i < n; i++) {
		ws[i].s = tls_connect(&ws[i].fd);
		send_all(ws[i].s, req, (size_t)rl);
		fcntl(ws[i].fd, F_SETFL, fcntl(ws[i].fd, F_GETFL) | O_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ws[i] };
		epoll_ctl(rds[i % READERS].ep, EPOLL_CTL_ADD, ws[i].fd, &ev);
	}
	for (int t = 0; t < READERS; t++)
		pthread_create(&rds[t].thread, NULL, read_loop, &rds[t]);
	/* Let the initial events arrive, then read the server's memory with every watch open. */
	usleep(1000 * 1000);
	double priv_mb, rss_mb;
	memory(pid, &priv_mb, &rss_mb);
	pthread_t wt;
	struct writer_args wa = { rate, seconds };
	double cpu0 = cpu_seconds(pid);
	pthread_create(&wt, NULL, writer, &wa);
	pthread_join(wt, NULL);
	usleep(1000 * 1000); /* stragglers */
	double cpu = cpu_seconds(pid) - cpu0;
	readers_stop = true;
	for (int t = 0; t < READERS; t++) {
		pthread_join(rds[t].thread, NULL);
		for (int i = 0; i < MAX_US; i++)
			hist[i] += rds[t].hist[i];
		delivered += rds[t].delivered;
		free(rds[t].hist);
		close(rds[t].ep);
	}
	printf("connected %d\n", n);
	printf("delivered %llu expected %llu\n", (unsigned long long)delivered,
	       (unsigned long long)writes_ok * (uint64_t)n);
	printf("p50_ms %.3f\np99_ms %.3f\nmax_ms %.3f\n", percentile(delivered, 0.50),
	       percentile(delivered, 0.99), percentile(delivered, 1.0 - 1e-12));
	printf("writes_per_s %.1f\n", (double)writes_ok / seconds);
	printf("private_mb %.1f\nrss_mb %.1f\n", priv_mb, rss_mb);
	printf("before_private_mb %.1f\n", before_priv_mb);
	printf("private_kb_per_watcher %.1f\n", (priv_mb - before_priv_mb) * 1024 / n);
	/* What the server spent per delivered event (its writes included): its own cost, apart
	 * from what a loaded machine adds to the latency. */
	printf("server_cpu_us_per_event %.2f\n", delivered ? cpu * 1e6 / (double)delivered : 0);
	for (int i = 0; i < n; i++) {
		gnutls_deinit(ws[i].s);
		close(ws[i].fd);
	}
	free(ws);
	free(hist);
	gnutls_certificate_free_credentials(creds);
	return 0;
}
