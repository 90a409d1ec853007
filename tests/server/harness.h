/*
 * harness.h - an API server on a unix socket in a temporary directory, running its loop on a
 * thread of its own, and raw HTTP over that socket for the tests of lib/server.
 */
#ifndef KORCH_TEST_SERVER_HARNESS_H
#define KORCH_TEST_SERVER_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <korch.h>
#include "server/server.h"

struct harness {
	char dir[64];               /* temporary directory */
	char socket[128];           /* DIR/korchd.sock */
	char tokens[128];           /* DIR/tokens.csv */
	struct server_options opts; /* given to server_new (socket and tokens filled in) */
	pthread_t thread;           /* runs the loop */
	int stop_fd;                /* eventfd: ends the loop */
	int ready_fd;               /* eventfd: the server listens (or failed) */
	int start_status;           /* 0, or the error server_new returned */
	char start_error[512];      /* its message */
	int64_t compact_keep;       /* store: revisions automatic compaction keeps (0: default) */
};

/* Writes the token file (CSV lines), then starts the server. Fails the test on error. */
void harness_start(struct harness *h, const char *tokens_csv);
void harness_stop(struct harness *h);

/* A client of the public API over the socket (token may be NULL: peer credentials). */
korch_client *harness_client(struct harness *h, const char *token);

struct http_reply {
	int status;            /* the HTTP status */
	char *headers;         /* the header block */
	char *body;            /* the body (chunked bodies joined) */
	size_t body_len;       /* its length */
	bool chunked_complete; /* chunked: every chunk well framed, and the last one came */
};

/*
 * Sends one request (a whole "METHOD PATH HTTP/1.1\r\n..." head without the blank line; a
 * Host, Connection: close and Content-Length are added) with body, reads the reply until the
 * server closes. Returns -1 when the connection fails.
 */
int http_raw(struct harness *h, const char *head, const char *body, size_t body_len,
	     struct http_reply *ret);
/* http_raw in two steps: sends the request and returns the connected socket (or -1) ... */
int http_send(struct harness *h, const char *head, const char *body, size_t body_len);
/* ... then reads the reply until the server closes, and closes the socket. */
int http_read(int fd, struct http_reply *ret);
void http_reply_free(struct http_reply *r);
/* The value of a header of the reply (the first one), or NULL; caller frees. */
char *http_header(const struct http_reply *r, const char *name);

#endif
