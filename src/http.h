/* h2o: configuration, routes, body limits, authentication order, status
 * codes and JSON answers. The only place that logs request outcomes. */
#pragma once

#include "config.h"
#include "spool.h"
#include "store.h"
#include "tls.h"

typedef struct Http Http;

/* tls is NULL when TLS=off. The store and the spool come after, since
 * the store's completion callback needs the Http. */
int http_new(Http **ret, const Config *c, h2o_loop_t *loop, TlsServer *tls);
void http_use_store(Http *h, Store *store, Spool *spool);
/* Only once http_can_free: h2o 2.2 cannot close its connections for us,
 * and asserts when a context goes with connections on it. */
void http_free(Http *h);
bool http_can_free(Http *h);

/* Asks open connections to end after their current request (HTTP/1
 * keep-alive off, HTTP/2 GOAWAY). */
void http_shutdown(Http *h);

/* From now on every request gets 503: the store and the spool are about
 * to stop. */
void http_close(Http *h);

/* Serves a newly accepted connection. */
void http_accept(Http *h, h2o_socket_t *sock);

/* Open connections, and deliveries waiting on the store. */
unsigned http_connections(const Http *h);
unsigned http_in_flight(const Http *h);

/* The store's completion callback: hands d back to the loop thread. */
void http_on_stored(Delivery *d, void *data);
