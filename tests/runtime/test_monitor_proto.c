/* korch-monitor's frames: JSON with a length prefix, fds riding along, partial reads, and what
 * a bad peer sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "runtime/monitor-proto.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

static json_t *
next_msg(struct proto_reader *r, int fd)
{
	json_t *msg = NULL;
	for (int i = 0; i < 100; i++) {
		korch_error *err = NULL;
		int n = proto_reader_next(r, &msg, &err);
		if (n < 0)
			fail_msg("%s", korch_error_message(err));
		if (n == 1)
			return msg;
		n = proto_reader_fill(r, fd, &err);
		if (n < 0 && n != -EAGAIN)
			fail_msg("%s", korch_error_message(err));
	}
	return NULL;
}

static void
test_roundtrip_with_fds(void **state)
{
	int sv[2];
	pair(sv);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	json_t *a = json_pack("{s:s, s:i}", "op", "hello", "version", 1);
	json_t *b = json_pack("{s:s, s:i}", "op", "exec", "fds", 3);
	int fds[3] = { devnull, p[1], p[1] };
	assert_int_equal(proto_send(sv[0], a, NULL, 0, NULL), 0);
	assert_int_equal(proto_send(sv[0], b, fds, 3, NULL), 0);
	struct proto_reader r = PROTO_READER_INIT;
	json_t *m1 = next_msg(&r, sv[1]);
	assert_true(json_equal(m1, a));
	json_t *m2 = next_msg(&r, sv[1]);
	assert_true(json_equal(m2, b));
	int got[3];
	assert_int_equal(proto_reader_take_fds(&r, 3, got, NULL), 0);
	struct stat s1, s2;
	assert_int_equal(fstat(got[0], &s1), 0);
	assert_int_equal(fstat(devnull, &s2), 0);
	assert_int_equal(s1.st_rdev, s2.st_rdev);
	/* The received fds are close-on-exec and work: write on one, read the pipe. */
	assert_int_equal(fcntl(got[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(write(got[2], "z", 1), 1);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	korch_error *err = NULL;
	assert_int_equal(proto_reader_take_fds(&r, 1, got, &err), KORCH_EPROTO);
	assert_string_equal(korch_error_message(err), "message announced 1 fds, 0 arrived");
	korch_error_free(err);
	for (int i = 0; i < 3; i++)
		close(got[i]);
	json_decref(a);
	json_decref(b);
	json_decref(m1);
	json_decref(m2);
	proto_reader_clear(&r);
	close(devnull);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* A frame arriving a few bytes at a time is one message, once whole. */
static void
test_partial_frames(void **state)
{
	int sv[2];
	pair(sv);
	json_t *msg = json_pack("{s:s}", "op", "list");
	struct strbuf frame = STRBUF_INIT;
	assert_int_equal(proto_encode(msg, &frame, NULL), 0);
	assert_int_equal(frame.len, 4 + strlen("{\"op\":\"list\"}"));
	struct proto_reader r = PROTO_READER_INIT;
	json_t *got = NULL;
	for (size_t i = 0; i < frame.len; i++) {
		assert_int_equal(proto_reader_next(&r, &got, NULL), 0);
		assert_int_equal(write(sv[0], frame.buf + i, 1), 1);
		assert_int_equal(proto_reader_fill(&r, sv[1], NULL), 1);
	}
	assert_int_equal(proto_reader_next(&r, &got, NULL), 1);
	assert_true(json_equal(got, msg));
	assert_int_equal(proto_reader_fill(&r, sv[1], NULL), -EAGAIN);
	close(sv[0]);
	assert_int_equal(proto_reader_fill(&r, sv[1], NULL), 0);
	json_decref(got);
	json_decref(msg);
	strbuf_free(&frame);
	proto_reader_clear(&r);
	close(sv[1]);
}

static int
feed_raw(const void *bytes, size_t n, korch_error **err)
{
	int sv[2];
	pair(sv);
	assert_int_equal(write(sv[0], bytes, n), (ssize_t)n);
	struct proto_reader r = PROTO_READER_INIT;
	proto_reader_fill(&r, sv[1], NULL);
	json_t *msg = NULL;
	int res = proto_reader_next(&r, &msg, err);
	json_decref(msg);
	proto_reader_clear(&r);
	close(sv[0]);
	close(sv[1]);
	return res;
}

static void
test_bad_frames(void **state)
{
	korch_error *err = NULL;
	/* A length over the limit is refused from its header alone. */
	assert_int_equal(feed_raw("\x7f\xff\xff\xff{", 5, &err), KORCH_ETOOLARGE);
	assert_string_equal(korch_error_message(err),
			    "message of 2147483647 bytes is over the 4194304 limit");
	korch_error_free(err);
	err = NULL;
	assert_int_equal(feed_raw("\0\0\0\x05{\"a\":", 9, &err), KORCH_EPROTO);
	assert_non_null(strstr(korch_error_message(err), "bad message: "));
	korch_error_free(err);
	err = NULL;
	assert_int_equal(feed_raw("\0\0\0\x02[]", 6, &err), KORCH_EPROTO);
	assert_string_equal(korch_error_message(err), "bad message: not a JSON object");
	korch_error_free(err);
	err = NULL;
	/* Duplicate keys are refused, not silently merged. */
	assert_int_equal(feed_raw("\0\0\0\x0d{\"a\":1,\"a\":2}", 17, &err), KORCH_EPROTO);
	korch_error_free(err);
	err = NULL;
	/* More than three fds on one message is refused by the sender. */
	int fds[4] = { 0, 1, 2, 0 };
	json_t *m = json_object();
	assert_int_equal(proto_send(-1, m, fds, 4, &err), KORCH_EINVALID);
	korch_error_free(err);
	json_decref(m);
}

static void
test_error_json(void **state)
{
	korch_error *err = NULL;
	error_set_errno(&err, KORCH_ENOTFOUND, ENOENT, "exec \"x\": No such file or directory");
	json_t *j = proto_error_json(err);
	korch_error_free(err);
	err = NULL;
	assert_int_equal(proto_error_from_json(j, &err), KORCH_ENOTFOUND);
	assert_int_equal(korch_error_errno(err), ENOENT);
	assert_string_equal(korch_error_message(err), "exec \"x\": No such file or directory");
	korch_error_free(err);
	json_decref(j);
	/* A code that is not an error code is a protocol error. */
	err = NULL;
	j = json_pack("{s:i, s:s}", "code", 3, "message", "odd");
	assert_int_equal(proto_error_from_json(j, &err), KORCH_EPROTO);
	assert_string_equal(korch_error_message(err), "odd");
	korch_error_free(err);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_with_fds),
		cmocka_unit_test(test_partial_frames),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_error_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
