/* A webhook request as the daemon keeps it (what arrived, from whom, and
 * when) and how it becomes a Delivery for the store: parse, recognise
 * tests, map. The live path (http.c) and replay from the spool (spool.c)
 * both go through here, so a replayed alert is read exactly as it would
 * have been on arrival. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "store.h"

typedef struct {
        Provider provider;
        const char *body;
        size_t len;
        const char *resource;     /* Sentry-Hook-Resource, or NULL */
        const char *content_type; /* or NULL */
        const char *project;      /* ?project=KEY, or NULL */
        const char *remote_addr;
        const char *request_id;
} Request;

typedef enum {
        PREPARED,       /* *ret is a Delivery for store_submit */
        PREPARED_TEST,  /* a test notification: write nothing */
        PREPARED_IGNORED,
        PREPARED_BAD_JSON,     /* 400 */
        PREPARED_UNRECOGNISED, /* 422 */
        PREPARED_NO_MEMORY,    /* 503 */
} PrepareResult;

/* Reads r into a Delivery. Whatever the result, reason says what
 * happened in words for the sender and the journal (empty on PREPARED). */
PrepareResult delivery_prepare(const Config *c, const Request *r, Delivery **ret,
                               char *reason, size_t reason_size);

/* Is the body Stride's setup check, {"test":"webhook"} and nothing else? */
bool delivery_is_setup_check(const char *body, size_t len);
