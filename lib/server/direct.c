/*
 * direct.c - a stream's connection written by korch itself while libmicrohttpd has it
 * suspended.
 *
 * A watch spends its life waiting for the next event. Through libmicrohttpd each event costs a
 * resume, a pass of the daemon, the content reader, a send and a suspend again, all on the
 * loop's thread. Instead, once libmicrohttpd has sent everything it holds (its content reader
 * is only called when its write buffer is empty) and the stream has nothing queued, the
 * connection is parked: suspended, and its socket and TLS session used directly to write
 * whole chunks of the chunked body. Writes to different streams are independent, so a fan-out
 * can spread them over threads (parallel.h). When the stream ends, the connection is handed
 * back (resumed) with nothing pending, and libmicrohttpd writes the last chunk and goes on with
 * the connection as if it had written every chunk itself.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

#include "base/loop.h"
#include "server/server-internal.h"

bool
direct_park(struct request *req, struct direct *d)
{
	if (!req->conn_ctx || req->conn_ctx->fd < 0 || req->peer_gone)
		return false;
	gnutls_session_t tls = NULL;
	if (req->conn_ctx->listener->tls) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (!ci || !ci->tls_session)
			return false;
		tls = ci->tls_session;
	}
	request_suspend(req);
	if (!req->suspended || !req->hup)
		return false;
	*d = (struct direct){
		.parked = true, .fd = req->conn_ctx->fd, .tls = tls, .max = DIRECT_MAX_BYTES
	};
	if (tls) {
		/* A record may be smaller (the client's record_size_limit): one chunk, one record. */
		size_t m = gnutls_record_get_max_size(tls);
		if (m && m < d->max)
			d->max = m;
	}
	if (!req->conn_ctx->listener->unix_socket) {
		/* Each chunk is pushed at once, whatever libmicrohttpd left set on the socket. */
		int one = 1, zero = 0;
		setsockopt(d->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
		setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return true;
}

int
direct_send(struct direct *d, const char *data, size_t len)
{
	if (d->failed)
		return -1;
	if (d->tls) {
		gnutls_session_t tls = d->tls;
		/* len fits one record: either all of it is written, or GnuTLS keeps the encrypted
		 * record and direct_flush writes the rest. */
		ssize_t n;
		do
			n = gnutls_record_send(tls, data, len);
		while (n == GNUTLS_E_INTERRUPTED);
		if (n == GNUTLS_E_AGAIN) {
			d->blocked = true;
			return 0;
		}
		if (n < 0 || (size_t)n != len) {
			d->failed = true;
			return -1;
		}
		return 0;
	}
	ssize_t n;
	do
		n = send(d->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		d->failed = true;
		return -1;
	}
	size_t sent = n < 0 ? 0 : (size_t)n;
	if (sent == len)
		return 0;
	d->pend = malloc(len - sent);
	if (!d->pend) {
		d->failed = true;
		return -1;
	}
	memcpy(d->pend, data + sent, len - sent);
	d->pend_len = len - sent;
	d->pend_off = 0;
	d->blocked = true;
	return 0;
}

int
direct_flush(struct direct *d)
{
	if (d->failed)
		return -1;
	if (!d->blocked)
		return 0;
	if (d->tls) {
		gnutls_session_t tls = d->tls;
		ssize_t n;
		do
			n = gnutls_record_send(tls, NULL, 0);
		while (n == GNUTLS_E_INTERRUPTED);
		if (n == GNUTLS_E_AGAIN)
			return 0;
		if (n < 0) {
			d->failed = true;
			return -1;
		}
		d->blocked = false;
		return 0;
	}
	while (d->pend_off < d->pend_len) {
		ssize_t n = send(d->fd, d->pend + d->pend_off, d->pend_len - d->pend_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			d->failed = true;
			return -1;
		}
		d->pend_off += (size_t)n;
	}
	free(d->pend);
	d->pend = NULL;
	d->pend_len = d->pend_off = 0;
	d->blocked = false;
	return 0;
}

void
direct_watch_writable(struct request *req, bool on)
{
	if (req->hup)
		loop_source_set_events(req->hup, EPOLLRDHUP | (on ? EPOLLOUT : 0), NULL);
}

void
direct_unpark(struct request *req, struct direct *d)
{
	free(d->pend);
	*d = (struct direct){ 0 };
	direct_watch_writable(req, false);
	request_wake(req);
}
