/*
 * websocket.c - RFC 6455 frames and the handshake key (nettle's SHA-1 and base64).
 */
#include <string.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "base/websocket.h"
#include <korch/common.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void
ws_accept_key(const char *key, char out[static 29])
{
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_SIZE];
	sha1_init(&ctx);
	sha1_update(&ctx, strlen(key), (const uint8_t *)key);
	sha1_update(&ctx, strlen(ws_guid), (const uint8_t *)ws_guid);
	sha1_digest(&ctx, sizeof(digest), digest);
	base64_encode_raw(out, sizeof(digest), digest);
	out[28] = '\0';
}

ssize_t
ws_parse_frame(uint8_t *buf, size_t len, size_t max_payload, bool must_be_masked,
	       struct ws_frame *ret)
{
	if (len < 2)
		return 0;
	uint8_t b0 = buf[0], b1 = buf[1];
	if (b0 & 0x70)
		return -1; /* RSV bits: no extension was negotiated */
	uint8_t op = b0 & 0x0f;
	bool control = op & 0x8;
	if (op != WS_CONTINUATION && op != WS_TEXT && op != WS_BINARY && op != WS_CLOSE &&
	    op != WS_PING && op != WS_PONG)
		return -1;
	bool masked = b1 & 0x80;
	if (masked != must_be_masked)
		return -1;
	uint64_t plen = b1 & 0x7f;
	size_t off = 2;
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (uint64_t)buf[2] << 8 | buf[3];
		off = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		off = 10;
	}
	if (control && (plen > 125 || !(b0 & 0x80)))
		return -1;
	if (plen > max_payload)
		return -1;
	const uint8_t *mask = NULL;
	if (masked) {
		if (len < off + 4)
			return 0;
		mask = buf + off;
		off += 4;
	}
	if (len - off < plen)
		return 0;
	uint8_t *payload = buf + off;
	if (mask)
		for (uint64_t i = 0; i < plen; i++)
			payload[i] ^= mask[i & 3];
	*ret = (struct ws_frame){
		.fin = b0 & 0x80, .opcode = op, .payload = payload, .len = (size_t)plen
	};
	return (ssize_t)(off + plen);
}

int
ws_put_frame(struct strbuf *out, uint8_t opcode, const void *prefix, size_t prefix_len,
	     const void *data, size_t len, const uint8_t *mask)
{
	size_t plen = prefix_len + len;
	uint8_t hdr[14];
	size_t h = 0;
	hdr[h++] = 0x80 | (opcode & 0x0f);
	uint8_t mbit = mask ? 0x80 : 0;
	if (plen < 126) {
		hdr[h++] = mbit | (uint8_t)plen;
	} else if (plen <= 0xffff) {
		hdr[h++] = mbit | 126;
		hdr[h++] = (uint8_t)(plen >> 8);
		hdr[h++] = (uint8_t)plen;
	} else {
		hdr[h++] = mbit | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)((uint64_t)plen >> (8 * i));
	}
	if (mask) {
		memcpy(hdr + h, mask, 4);
		h += 4;
	}
	if (strbuf_append(out, (const char *)hdr, h) < 0 || strbuf_reserve(out, plen) < 0)
		return KORCH_ENOMEM;
	size_t start = out->len;
	if (strbuf_append(out, prefix, prefix_len) < 0 || strbuf_append(out, data, len) < 0)
		return KORCH_ENOMEM;
	if (mask)
		for (size_t i = 0; i < plen; i++)
			out->buf[start + i] ^= mask[i & 3];
	return 0;
}
