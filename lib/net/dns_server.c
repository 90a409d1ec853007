/*
 * dns_server.c - the DNS responder on the korch loop: UDP and TCP listeners, TCP connections,
 * answers from the record set, and relayed queries to upstream resolvers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "net/addr.h"
#include "net/dns_internal.h"

#define MAX_TCP_CONNS 256
#define MAX_FORWARDS 1024
#define TCP_IDLE_NS (10 * NSEC_PER_SEC)
#define UDP_MAX_DEFAULT 512
#define EDNS_UDP_SIZE 1232

struct tcp_conn;

/* A query relayed upstream, waiting for its answer. */
struct forward {
	struct dns_server *server; /* owner */
	struct forward *next;      /* in server->forwards */
	struct forward *prev;      /* in server->forwards */
	struct tcp_conn *conn;     /* the TCP client, or NULL for UDP */
	struct sockaddr_in client; /* the UDP client */
	uint8_t *query;            /* the client's query, our id written in */
	size_t len;                /* its size */
	uint16_t client_id;        /* the id to put back */
	size_t upstream;           /* index of the resolver asked */
	int fd;                    /* connected UDP socket to it */
	struct loop_source *io;    /* fd readable */
	struct loop_source *timer; /* its deadline */
};

struct tcp_conn {
	struct dns_server *server; /* owner */
	struct tcp_conn *next;     /* in server->conns */
	struct tcp_conn *prev;     /* in server->conns */
	int fd;                    /* the client socket */
	struct loop_source *io;    /* fd events */
	struct loop_source *idle;  /* closes an idle connection */
	uint8_t in[2 + 65535];     /* a length-prefixed message being read */
	size_t in_len;             /* bytes in in */
	uint8_t *out;              /* replies not written yet */
	size_t out_len;            /* bytes in out */
	size_t pending;            /* forwards waiting for this connection */
};

struct dns_server {
	korch_loop *loop;               /* the loop everything runs on */
	struct dns_records *records;    /* what is answered (never NULL) */
	struct dns_upstream *upstreams; /* resolvers for other names */
	size_t n_upstreams;             /* how many */
	int64_t timeout_ns;             /* per upstream */
	int udp_fd;                     /* the UDP socket */
	int tcp_fd;                     /* the TCP listener */
	struct loop_source *udp_io;     /* udp_fd readable */
	struct loop_source *tcp_io;     /* tcp_fd readable */
	struct tcp_conn *conns;         /* open TCP connections */
	size_t n_conns;                 /* how many */
	struct forward *forwards;       /* queries upstream */
	size_t n_forwards;              /* how many */
};

static void conn_close(struct tcp_conn *c);
static void conn_send(struct tcp_conn *c, const uint8_t *msg, size_t len);

static int64_t
now_ns(struct dns_server *s)
{
	return korch_clock_now_ns(korch_loop_clock(s->loop));
}

/* ---- answers ---- */

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
}

static bool
in_domain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);
	return n == d ? streq(name, domain)
		      : n > d && name[n - d - 1] == '.' && streq(name + n - d, domain);
}

/* A copy of rr whose owner is the question's name, keeping the client's letter case. */
static ldns_rr *
answer_rr(const ldns_rr *rr, const ldns_rdf *qname)
{
	ldns_rr *copy = ldns_rr_clone(rr);
	if (!copy)
		return NULL;
	ldns_rdf *old = ldns_rr_owner(copy);
	ldns_rr_set_owner(copy, ldns_rdf_clone(qname));
	ldns_rdf_deep_free(old);
	return copy;
}

/* Fills resp for a question inside the cluster domain. */
static void
answer_local(struct dns_server *s, const ldns_rr *q, const char *name, ldns_pkt *resp)
{
	const struct dns_name *n = dns_records_lookup(s->records, name);
	ldns_rr_type type = ldns_rr_get_type(q);
	ldns_pkt_set_aa(resp, true);
	size_t answers = 0;
	for (size_t i = 0; n && i < n->rrs.n; i++) {
		const ldns_rr *rr = n->rrs.items[i];
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t != type && type != LDNS_RR_TYPE_ANY && t != LDNS_RR_TYPE_CNAME)
			continue;
		ldns_rr *a = answer_rr(rr, ldns_rr_owner(q));
		if (a && ldns_pkt_push_rr(resp, LDNS_SECTION_ANSWER, a))
			answers++;
		else if (a)
			ldns_rr_free(a);
	}
	ldns_pkt_set_rcode(resp, n ? LDNS_RCODE_NOERROR : LDNS_RCODE_NXDOMAIN);
	if (answers == 0) {
		ldns_rr *soa = ldns_rr_clone(s->records->soa);
		if (soa && !ldns_pkt_push_rr(resp, LDNS_SECTION_AUTHORITY, soa))
			ldns_rr_free(soa);
	}
}

/* A response skeleton for query: id, flags, the question. */
static ldns_pkt *
response_for(const ldns_pkt *query, ldns_pkt_rcode rcode)
{
	ldns_pkt *resp = ldns_pkt_new();
	if (!resp)
		return NULL;
	ldns_pkt_set_id(resp, ldns_pkt_id(query));
	ldns_pkt_set_qr(resp, true);
	ldns_pkt_set_opcode(resp, ldns_pkt_get_opcode(query));
	ldns_pkt_set_rd(resp, ldns_pkt_rd(query));
	ldns_pkt_set_ra(resp, true);
	ldns_pkt_set_rcode(resp, rcode);
	ldns_rr_list *qs = ldns_pkt_question(query);
	for (size_t i = 0; i < ldns_rr_list_rr_count(qs); i++) {
		ldns_rr *q = ldns_rr_clone(ldns_rr_list_rr(qs, i));
		if (q && !ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION, q))
			ldns_rr_free(q);
	}
	if (ldns_pkt_edns(query))
		ldns_pkt_set_edns_udp_size(resp, EDNS_UDP_SIZE);
	return resp;
}

/*
 * Encodes resp; over UDP an answer larger than the client takes is sent empty with TC set, so
 * that the client asks again over TCP. *ret_wire is malloc'ed.
 */
static int
encode(ldns_pkt *resp, size_t max, uint8_t **ret_wire, size_t *ret_len)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	if (ldns_pkt2wire(&wire, resp, &len) != LDNS_STATUS_OK)
		return KORCH_ENOMEM;
	if (len > max) {
		free(wire);
		ldns_rr_list_deep_free(ldns_pkt_answer(resp));
		ldns_pkt_set_answer(resp, ldns_rr_list_new());
		ldns_pkt_set_ancount(resp, 0);
		ldns_rr_list_deep_free(ldns_pkt_authority(resp));
		ldns_pkt_set_authority(resp, ldns_rr_list_new());
		ldns_pkt_set_nscount(resp, 0);
		ldns_pkt_set_tc(resp, true);
		if (ldns_pkt2wire(&wire, resp, &len) != LDNS_STATUS_OK)
			return KORCH_ENOMEM;
	}
	*ret_wire = wire;
	*ret_len = len;
	return 0;
}

static void forward_start(struct dns_server *s, const uint8_t *msg, size_t len,
			  const struct sockaddr_in *client, struct tcp_conn *conn);

/*
 * Handles one query. Either *ret_wire receives the reply to send now, or the query went
 * upstream (or was dropped) and *ret_wire stays NULL.
 */
static void
handle_query(struct dns_server *s, const uint8_t *msg, size_t len, const struct sockaddr_in *client,
	     struct tcp_conn *conn, uint8_t **ret_wire, size_t *ret_len)
{
	*ret_wire = NULL;
	ldns_pkt *query = NULL;
	if (ldns_wire2pkt(&query, msg, len) != LDNS_STATUS_OK || ldns_pkt_qr(query)) {
		ldns_pkt_free(query);
		return; /* not a query we can even answer FORMERR to */
	}
	ldns_pkt *resp = NULL;
	size_t max = conn ? 65535 : UDP_MAX_DEFAULT;
	if (!conn && ldns_pkt_edns(query))
		max = MAX(UDP_MAX_DEFAULT, MIN(ldns_pkt_edns_udp_size(query), EDNS_UDP_SIZE));
	if (ldns_pkt_get_opcode(query) != LDNS_PACKET_QUERY) {
		resp = response_for(query, LDNS_RCODE_NOTIMPL);
	} else if (ldns_pkt_qdcount(query) != 1) {
		resp = response_for(query, LDNS_RCODE_FORMERR);
	} else {
		const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(query), 0);
		char *name = ldns_rdf2str(ldns_rr_owner(q));
		if (name)
			lower(name);
		if (name && in_domain(name, s->records->domain)) {
			resp = response_for(query, LDNS_RCODE_NOERROR);
			if (resp)
				answer_local(s, q, name, resp);
		} else if (name && s->n_upstreams && s->n_forwards < MAX_FORWARDS) {
			forward_start(s, msg, len, client, conn);
		} else {
			resp = response_for(query, LDNS_RCODE_SERVFAIL);
		}
		free(name);
	}
	if (resp && encode(resp, max, ret_wire, ret_len) < 0)
		*ret_wire = NULL;
	ldns_pkt_free(resp);
	ldns_pkt_free(query);
}

/* A SERVFAIL for a raw query (when no upstream answered). */
static int
servfail(const uint8_t *msg, size_t len, uint8_t **ret_wire, size_t *ret_len)
{
	ldns_pkt *query = NULL;
	if (ldns_wire2pkt(&query, msg, len) != LDNS_STATUS_OK)
		return KORCH_EINVALID;
	ldns_pkt *resp = response_for(query, LDNS_RCODE_SERVFAIL);
	int r = resp ? encode(resp, 65535, ret_wire, ret_len) : KORCH_ENOMEM;
	ldns_pkt_free(resp);
	ldns_pkt_free(query);
	return r;
}

/* ---- forwarding ---- */

static void
forward_free(struct forward *f)
{
	struct dns_server *s = f->server;
	if (f->prev)
		f->prev->next = f->next;
	else
		s->forwards = f->next;
	if (f->next)
		f->next->prev = f->prev;
	s->n_forwards--;
	if (f->conn)
		f->conn->pending--;
	loop_source_free(f->io);
	loop_source_free(f->timer);
	if (f->fd >= 0)
		close(f->fd);
	free(f->query);
	free(f);
}

/* Sends the answer (or SERVFAIL) back to the client and frees f. */
static void
forward_reply(struct forward *f, uint8_t *wire, size_t len)
{
	struct dns_server *s = f->server;
	if (wire && len >= 2) {
		wire[0] = (uint8_t)(f->client_id >> 8);
		wire[1] = (uint8_t)f->client_id;
		if (f->conn)
			conn_send(f->conn, wire, len);
		else
			(void)sendto(s->udp_fd, wire, len, MSG_DONTWAIT,
				     (struct sockaddr *)&f->client, sizeof(f->client));
	}
	forward_free(f);
}

static int forward_send(struct forward *f);

static void
forward_fail(struct forward *f)
{
	while (++f->upstream < f->server->n_upstreams)
		if (forward_send(f) == 0)
			return;
	uint8_t *wire = NULL;
	size_t len = 0;
	f->query[0] = (uint8_t)(f->client_id >> 8);
	f->query[1] = (uint8_t)f->client_id;
	if (servfail(f->query, f->len, &wire, &len) < 0)
		wire = NULL;
	forward_reply(f, wire, len);
	free(wire);
}

static void
forward_readable(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct forward *f = userdata;
	uint8_t buf[65535];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 12) { /* refused (ICMP) or garbage: next resolver */
		forward_fail(f);
		return;
	}
	/* Only the answer to our id counts; anything else is ignored. */
	if (buf[0] != f->query[0] || buf[1] != f->query[1])
		return;
	forward_reply(f, buf, (size_t)n);
}

static void
forward_timeout(struct loop_source *src, void *userdata)
{
	forward_fail(userdata);
}

static int
forward_send(struct forward *f)
{
	struct dns_server *s = f->server;
	loop_source_free(f->io);
	f->io = NULL;
	if (f->fd >= 0)
		close(f->fd);
	const struct dns_upstream *u = &s->upstreams[f->upstream];
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(u->port),
				  .sin_addr.s_addr = htonl(u->ip) };
	if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    send(f->fd, f->query, f->len, MSG_DONTWAIT) < 0)
		return KORCH_ESYSTEM;
	if (loop_add_io(s->loop, f->fd, EPOLLIN, forward_readable, f, &f->io, NULL) < 0)
		return KORCH_ESYSTEM;
	loop_timer_set(f->timer, now_ns(s) + s->timeout_ns);
	return 0;
}

static void
forward_start(struct dns_server *s, const uint8_t *msg, size_t len,
	      const struct sockaddr_in *client, struct tcp_conn *conn)
{
	struct forward *f = calloc(1, sizeof(*f));
	if (!f)
		return;
	f->server = s;
	f->fd = -1;
	f->query = malloc(len);
	if (!f->query || loop_add_timer(s->loop, -1, forward_timeout, f, &f->timer, NULL) < 0) {
		free(f->query);
		free(f);
		return;
	}
	memcpy(f->query, msg, len);
	f->len = len;
	f->client_id = (uint16_t)(msg[0] << 8 | msg[1]);
	uint16_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)now_ns(s);
	f->query[0] = (uint8_t)(id >> 8);
	f->query[1] = (uint8_t)id;
	if (client)
		f->client = *client;
	f->conn = conn;
	if (conn)
		conn->pending++;
	f->next = s->forwards;
	if (s->forwards)
		s->forwards->prev = f;
	s->forwards = f;
	s->n_forwards++;
	f->upstream = 0;
	if (forward_send(f) < 0)
		forward_fail(f); /* moves on to the next resolver */
}

/* ---- UDP ---- */

static void
udp_readable(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct dns_server *s = userdata;
	for (int i = 0; i < 64; i++) { /* bounded, so TCP and timers get their turn */
		uint8_t buf[4096];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &flen);
		if (n < 0)
			return;
		uint8_t *wire = NULL;
		size_t len = 0;
		handle_query(s, buf, (size_t)n, &from, NULL, &wire, &len);
		if (wire)
			(void)sendto(fd, wire, len, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
		free(wire);
	}
}

/* ---- TCP ---- */

static void
conn_close(struct tcp_conn *c)
{
	struct dns_server *s = c->server;
	for (struct forward *f = s->forwards; f; f = f->next)
		if (f->conn == c)
			f->conn = NULL; /* the answer is dropped when it comes */
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	loop_source_free(c->io);
	loop_source_free(c->idle);
	close(c->fd);
	free(c->out);
	free(c);
}

static bool
conn_flush(struct tcp_conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return false;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	loop_source_set_events(c->io, EPOLLIN | (c->out_len ? EPOLLOUT : 0), NULL);
	return true;
}

static void
conn_send(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (c->out_len > 1024 * 1024)
		return; /* a client that does not read loses answers */
	uint8_t *out = realloc(c->out, c->out_len + 2 + len);
	if (!out)
		return;
	c->out = out;
	out[c->out_len] = (uint8_t)(len >> 8);
	out[c->out_len + 1] = (uint8_t)len;
	memcpy(out + c->out_len + 2, msg, len);
	c->out_len += 2 + len;
	conn_flush(c);
}

static void
conn_event(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct tcp_conn *c = userdata;
	if ((revents & EPOLLOUT) && !conn_flush(c)) {
		conn_close(c);
		return;
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	loop_timer_set(c->idle, now_ns(c->server) + TCP_IDLE_NS);
	while (c->in_len >= 2) {
		size_t mlen = (size_t)c->in[0] << 8 | c->in[1];
		if (c->in_len < 2 + mlen)
			break;
		uint8_t *wire = NULL;
		size_t len = 0;
		handle_query(c->server, c->in + 2, mlen, NULL, c, &wire, &len);
		if (wire)
			conn_send(c, wire, len);
		free(wire);
		memmove(c->in, c->in + 2 + mlen, c->in_len - 2 - mlen);
		c->in_len -= 2 + mlen;
	}
}

static void
conn_idle(struct loop_source *src, void *userdata)
{
	struct tcp_conn *c = userdata;
	if (c->pending) /* still waiting for an upstream answer */
		loop_timer_set(c->idle, now_ns(c->server) + TCP_IDLE_NS);
	else
		conn_close(c);
}

static void
tcp_accept(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct dns_server *s = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	struct tcp_conn *c = s->n_conns < MAX_TCP_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		close(cfd);
		return;
	}
	c->server = s;
	c->fd = cfd;
	if (loop_add_io(s->loop, cfd, EPOLLIN, conn_event, c, &c->io, NULL) < 0 ||
	    loop_add_timer(s->loop, now_ns(s) + TCP_IDLE_NS, conn_idle, c, &c->idle, NULL) < 0) {
		loop_source_free(c->io);
		close(cfd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
}

/* ---- lifecycle ---- */

static int
bind_socket(int type, uint32_t ip, uint16_t port, int *ret_fd, korch_error **err)
{
	char ipb[NET_IP4_STRLEN];
	_cleanup_close_ int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno(err, errno, "socket");
	/* TCP only: on UDP it would let a second server share the port and its queries. */
	int one = 1;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ip) };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return error_errno(err, errno, "bind %s %s:%u", type == SOCK_DGRAM ? "udp" : "tcp",
				   ip4_format(ip, ipb), port);
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		return error_errno(err, errno, "listen");
	*ret_fd = steal_fd(&fd);
	return 0;
}

int
dns_server_new(korch_loop *loop, const struct dns_server_config *config, struct dns_server **ret,
	       korch_error **err)
{
	struct dns_server *s = calloc(1, sizeof(*s));
	if (!s)
		return error_oom(err);
	s->loop = loop;
	s->udp_fd = s->tcp_fd = -1;
	s->timeout_ns = (config->timeout_ms > 0 ? config->timeout_ms : 2000) * NSEC_PER_MSEC;
	int r = dns_records_new(config->cluster_domain ? config->cluster_domain : "cluster.local",
				&s->records, err);
	if (r == 0 && config->n_upstreams) {
		s->upstreams = calloc(config->n_upstreams, sizeof(*s->upstreams));
		if (!s->upstreams)
			r = error_oom(err);
		else
			memcpy(s->upstreams, config->upstreams,
			       config->n_upstreams * sizeof(*s->upstreams));
		s->n_upstreams = config->n_upstreams;
	}
	if (r == 0)
		r = bind_socket(SOCK_DGRAM, config->listen_ip, config->port, &s->udp_fd, err);
	if (r == 0)
		r = bind_socket(SOCK_STREAM, config->listen_ip, config->port, &s->tcp_fd, err);
	if (r == 0)
		r = loop_add_io(loop, s->udp_fd, EPOLLIN, udp_readable, s, &s->udp_io, err);
	if (r == 0)
		r = loop_add_io(loop, s->tcp_fd, EPOLLIN, tcp_accept, s, &s->tcp_io, err);
	if (r < 0) {
		dns_server_free(s);
		return korch_error_prefix(err, r, "dns");
	}
	*ret = s;
	return 0;
}

void
dns_server_set_records(struct dns_server *s, struct dns_records *records)
{
	dns_records_free(s->records);
	s->records = records;
}

void
dns_server_free(struct dns_server *s)
{
	if (!s)
		return;
	while (s->forwards)
		forward_free(s->forwards);
	while (s->conns)
		conn_close(s->conns);
	loop_source_free(s->udp_io);
	loop_source_free(s->tcp_io);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	dns_records_free(s->records);
	free(s->upstreams);
	free(s);
}
