/*
 * RFC 6455 framing: the handshake key of the RFC's own example, frames of every length form in
 * both directions (client frames masked, server frames not), and each protocol error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <korch/common.h>
#include "base/websocket.h"

static void
test_accept_key(void **state)
{
	char out[29];
	/* RFC 6455 section 1.3. */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* A frame made and parsed back, masked (client to server) or not. */
static void
roundtrip(size_t len, bool masked, size_t want_header)
{
	char *data = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + i % 26);
	static const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t ch = WS_CHANNEL_STDOUT;
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(ws_put_frame(&sb, WS_BINARY, &ch, 1, data, len, masked ? mask : NULL), 0);
	assert_int_equal(sb.len, want_header + 1 + len);
	assert_int_equal((uint8_t)sb.buf[0], 0x82);
	/* Every prefix shorter than the frame is incomplete. */
	struct ws_frame f;
	for (size_t cut = 0; cut < sb.len; cut += 1 + sb.len / 50)
		assert_int_equal(ws_parse_frame((uint8_t *)sb.buf, cut, 1 << 20, masked, &f), 0);
	assert_int_equal(ws_parse_frame((uint8_t *)sb.buf, sb.len, 1 << 20, masked, &f),
			 (ssize_t)sb.len);
	assert_true(f.fin);
	assert_int_equal(f.opcode, WS_BINARY);
	assert_int_equal(f.len, len + 1);
	assert_int_equal(f.payload[0], WS_CHANNEL_STDOUT);
	assert_memory_equal(f.payload + 1, data, len);
	strbuf_free(&sb);
	free(data);
}

static void
test_frame_lengths(void **state)
{
	/* 7-bit, 16-bit and 64-bit length forms, at their edges. */
	roundtrip(0, false, 2);
	roundtrip(124, false, 2);
	roundtrip(125, false, 4);
	roundtrip(65534, false, 4);
	roundtrip(65535, false, 10);
	roundtrip(200000, false, 10);
	roundtrip(0, true, 6);
	roundtrip(125, true, 8);
	roundtrip(65535, true, 14);
}

static void
test_frame_errors(void **state)
{
	struct ws_frame f;
	/* A server frame where a client frame (masked) is required, and the reverse. */
	uint8_t unmasked[] = { 0x82, 0x01, 0x00 };
	assert_int_equal(ws_parse_frame(unmasked, sizeof(unmasked), 100, true, &f), -1);
	uint8_t masked[] = { 0x82, 0x81, 1, 2, 3, 4, 0x00 };
	assert_int_equal(ws_parse_frame(masked, sizeof(masked), 100, false, &f), -1);
	/* RSV1 without an extension. */
	uint8_t rsv[] = { 0xc2, 0x00 };
	assert_int_equal(ws_parse_frame(rsv, sizeof(rsv), 100, false, &f), -1);
	/* Opcode 3 is reserved. */
	uint8_t op[] = { 0x83, 0x00 };
	assert_int_equal(ws_parse_frame(op, sizeof(op), 100, false, &f), -1);
	/* A control frame of 126 bytes, and a fragmented one. */
	uint8_t big_ping[4] = { 0x89, 126, 0, 126 };
	assert_int_equal(ws_parse_frame(big_ping, sizeof(big_ping), 1000, false, &f), -1);
	uint8_t frag_close[] = { 0x08, 0x00 };
	assert_int_equal(ws_parse_frame(frag_close, sizeof(frag_close), 100, false, &f), -1);
	/* Over the caller's limit. */
	uint8_t big[] = { 0x82, 126, 0x01, 0x00 };
	assert_int_equal(ws_parse_frame(big, sizeof(big), 255, false, &f), -1);
}

static void
test_close_and_ping(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	uint8_t code[2] = { 0x03, 0xe8 };
	assert_int_equal(ws_put_frame(&sb, WS_CLOSE, NULL, 0, code, 2, NULL), 0);
	assert_int_equal(sb.len, 4);
	assert_memory_equal(sb.buf, "\x88\x02\x03\xe8", 4);
	struct ws_frame f;
	assert_int_equal(ws_parse_frame((uint8_t *)sb.buf, sb.len, 100, false, &f), 4);
	assert_int_equal(f.opcode, WS_CLOSE);
	assert_int_equal(f.len, 2);
	strbuf_free(&sb);
	/* Two frames back to back: each parse takes exactly one. */
	uint8_t two[] = { 0x89, 0x01, 'x', 0x82, 0x02, 0x00, 'y' };
	assert_int_equal(ws_parse_frame(two, sizeof(two), 100, false, &f), 3);
	assert_int_equal(f.opcode, WS_PING);
	assert_int_equal(ws_parse_frame(two + 3, sizeof(two) - 3, 100, false, &f), 4);
	assert_int_equal(f.payload[0], WS_CHANNEL_STDIN);
	assert_int_equal(f.payload[1], 'y');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_frame_lengths),
		cmocka_unit_test(test_frame_errors),
		cmocka_unit_test(test_close_and_ping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
