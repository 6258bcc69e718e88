/* GnuTLS: credentials, the handshake, and the pump that carries plaintext
 * between a TLS connection and an h2o socket (notes/tls-bridge.md). Only
 * tls.c includes GnuTLS's TLS headers. */
#pragma once

#include <stdbool.h>

#include "config.h"

#define H2O_USE_LIBUV 0
#include <h2o.h>

typedef struct TlsServer TlsServer;

/* Loads certificate, key and priority (c->tls_cert_file, c->tls_key_file,
 * c->tls_priority) and prepares session tickets and ALPN (h2 only with
 * c->http2). On failure returns a negative errno with a malloc'd sentence
 * that names the file and what is wrong. Calls gnutls_global_init (the
 * daemon may set GNUTLS_NO_IMPLICIT_INIT=1); tls_server_free undoes it. */
int tls_server_new(TlsServer **ret, const Config *c, char **ret_error);
/* Ends the connections still open, each with its closed callback, so it
 * must run before the loop is destroyed. */
void tls_server_free(TlsServer *t);

/* Days until the certificate expires, rounded down (negative: expired). */
long tls_server_days_left(const TlsServer *t);

/* The handshake is done: plain is an h2o socket on the loop that carries
 * the connection's plaintext, with the client's address as its peer name;
 * h2 tells whether ALPN chose HTTP/2. The callee owns plain; closing it
 * ends the connection (after the client got close_notify). */
typedef void (*TlsReadyCb)(void *data, h2o_socket_t *plain, bool h2);
/* The connection is gone, whatever happened: the client's socket is
 * closed and h2o has closed plain. Called exactly once. */
typedef void (*TlsClosedCb)(void *data);

/* Takes over tcp, an accepted socket nothing has read from: runs the
 * handshake within c->handshake_timeout_ms, logs TLS failures, and calls
 * ready once the plaintext side exists. The same deadline bounds closing
 * once h2o closed plain (flushing the answer, then draining the client).
 * Every tcp must be on one loop. Callbacks run from the loop, except
 * closed when memory runs out in tls_accept itself. The process must
 * ignore SIGPIPE, as h2o requires anyway. */
void tls_accept(TlsServer *t, h2o_socket_t *tcp, TlsReadyCb ready,
                TlsClosedCb closed, void *data);
