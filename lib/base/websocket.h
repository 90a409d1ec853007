/*
 * websocket.h - RFC 6455 framing for korch's two ends of `exec` (the API server over
 * libmicrohttpd's upgraded socket, the remote client over libcurl's raw connection): the
 * handshake's accept key, frames in and out, and the channel byte of Kubernetes'
 * v5.channel.k8s.io protocol. No library in Debian does this over a socket someone else owns.
 */
#ifndef KORCH_BASE_WEBSOCKET_H
#define KORCH_BASE_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/strbuf.h"

enum ws_opcode {
	WS_CONTINUATION = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

/* Kubernetes' streaming channels (the first byte of each binary message). */
enum ws_channel {
	WS_CHANNEL_STDIN = 0,
	WS_CHANNEL_STDOUT = 1,
	WS_CHANNEL_STDERR = 2,
	WS_CHANNEL_ERROR = 3,
	WS_CHANNEL_RESIZE = 4,
	WS_CHANNEL_CLOSE = 255, /* v5: [255, N] closes channel N */
};

#define WS_PROTOCOL_V5 "v5.channel.k8s.io"

/* One frame as parsed; payload points into the caller's buffer, unmasked in place. */
struct ws_frame {
	bool fin;         /* the last frame of a message */
	uint8_t opcode;   /* enum ws_opcode */
	uint8_t *payload; /* len bytes */
	size_t len;       /* payload length */
};

/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)); out holds
 * 28 characters and a NUL.
 */
void ws_accept_key(const char *key, char out[static 29]);

/*
 * Parses the frame at the start of buf (len bytes). Returns the bytes it takes (header and
 * payload), 0 when more bytes are needed, or -1 for a protocol error: a reserved bit set, an
 * unknown opcode, a control frame longer than 125 bytes or fragmented, a payload over
 * max_payload, or masking that is not what must_be_masked says (clients mask, servers do not).
 */
ssize_t ws_parse_frame(uint8_t *buf, size_t len, size_t max_payload, bool must_be_masked,
		       struct ws_frame *ret);

/*
 * Appends one final frame; mask (4 bytes) masks it as a client must, NULL leaves it unmasked as a
 * server sends. prefix (may be NULL with prefix_len 0) goes before data inside the payload:
 * the channel byte. Returns 0 or KORCH_ENOMEM.
 */
int ws_put_frame(struct strbuf *out, uint8_t opcode, const void *prefix, size_t prefix_len,
		 const void *data, size_t len, const uint8_t *mask);

#endif
