/*
 * monitor-log.h - container log files in the CRI format kubelet and kubectl logs read
 * (internal): "2026-11-26T15:27:40.123456789Z stdout F text", P for the parts of a line split
 * at 16 KiB, size rotation into PATH.1 ... PATH.N-1.
 */
#ifndef KORCH_RUNTIME_MONITOR_LOG_H
#define KORCH_RUNTIME_MONITOR_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>
#include "base/macro.h"

/* The longest CRI line content; longer lines go out as P parts (containerd's limit). */
#define LOG_LINE_MAX 16384

struct log_writer;

/*
 * Opens (appending to) the log file at path, creating its directory. max_bytes 0 never
 * rotates; otherwise a line that would take the file past max_bytes first rotates it, keeping
 * max_files files in all (1: the file is truncated).
 */
int log_writer_open(const char *path, int64_t max_bytes, int max_files, struct log_writer **ret,
		    korch_error **err);
void log_writer_free(struct log_writer *w);
DEFINE_CLEANUP_FUNC(log_writer_free, struct log_writer, log_writer_free)

/* Writes one line: the time, the stream name, the tag ('F' or 'P') and len bytes of text. */
int log_writer_line(struct log_writer *w, int64_t wall_ns, const char *stream, char tag,
		    const char *text, size_t len, korch_error **err);

/* One output stream of a container: the part of a line not written yet. */
struct log_stream {
	const char *name; /* "stdout" or "stderr" */
	char *pending;    /* LOG_LINE_MAX bytes once needed */
	size_t len;       /* bytes in pending */
};

/*
 * Feeds what the container wrote: every complete line goes out tagged F, every 16 KiB of a
 * longer line tagged P; the rest waits for more.
 */
int log_stream_feed(struct log_stream *s, struct log_writer *w, int64_t wall_ns, const char *data,
		    size_t len, korch_error **err);

/* At the end of the stream: what is left goes out as a last F line. */
int log_stream_flush(struct log_stream *s, struct log_writer *w, int64_t wall_ns,
		     korch_error **err);
void log_stream_clear(struct log_stream *s);

/* "2026-11-26T15:27:40.123456789Z": RFC 3339 in UTC with nanoseconds. Returns buf. */
char *format_time_nano(int64_t wall_ns, char buf[static 40]);

#endif
