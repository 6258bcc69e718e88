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
 * that names the file and what is wrong. */
int tls_server_new(TlsServer **ret, const Config *c, char **ret_error);
void tls_server_free(TlsServer *t);

/* Days until the certificate expires (negative: expired). */
long tls_server_days_left(const TlsServer *t);

/* The handshake is done: plain is an h2o socket on the loop that carries
 * the connection's plaintext, with the client's address as its peer name;
 * h2 tells whether ALPN chose HTTP/2. */
typedef void (*TlsReadyCb)(void *data, h2o_socket_t *plain, bool h2);
/* The connection is gone, whatever happened; called exactly once. */
typedef void (*TlsClosedCb)(void *data);

/* Takes over tcp: runs the handshake within c->handshake_timeout_ms,
 * logs TLS failures, and calls ready once the plaintext side exists. */
void tls_accept(TlsServer *t, h2o_socket_t *tcp, TlsReadyCb ready,
                TlsClosedCb closed, void *data);
