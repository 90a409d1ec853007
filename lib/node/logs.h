/*
 * logs.h - reading a container's CRI log files (internal) as `kubectl logs` shows them: the
 * text of each line (parts of a split line joined), optionally with its timestamp, the last N
 * lines, lines since a time, the previous instance's log, a byte limit, and following the file
 * while the container runs.
 */
#ifndef KORCH_NODE_LOGS_H
#define KORCH_NODE_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <korch/common.h>

struct log_read_options {
	int64_t tail_lines;    /* the last N lines only; < 0: all */
	int64_t since_wall_ns; /* only lines written at or after this; 0: all */
	bool timestamps;       /* each line starts with its RFC 3339 time and a space */
	int64_t limit_bytes;   /* stop after this many bytes of output; 0: no limit */
	bool follow;           /* at the end, wait for more while still_running says so */
	/* follow: whether the writer may still write (checked about once a second) */
	bool (*still_running)(void *userdata);
	void *userdata; /* for still_running */
};

/* Receives output; a non-zero return stops the read (which then returns 0). */
typedef int (*log_output_fn)(const char *data, size_t len, void *userdata);

/*
 * Reads the log file at path, with its rotated predecessors (PATH.N ... PATH.1) first. A missing
 * file is KORCH_ENOTFOUND. Lines that are not CRI lines are passed through as they are.
 */
int logs_read_file(const char *path, const struct log_read_options *o, log_output_fn fn,
		   void *userdata, korch_error **err);

#endif
