/* Stride's PostgreSQL: the store thread with its one libpq connection,
 * batching, the issue upsert, key allocation, and the schema. Only
 * store.c includes libpq. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"

typedef enum {
        ACTION_CREATED,
        ACTION_UPDATED,
        ACTION_RESOLVED,
        ACTION_REOPENED,
        ACTION_RECORDED,   /* remembered without an issue (resolve before trigger) */
        ACTION_FAILED,     /* see status and error */
} StoreAction;

const char *store_action_name(StoreAction a);  /* "created", ... */

/* One delivery on its way to the database. The loop thread fills the
 * inputs and hands it to store_submit; the store thread fills the results
 * and passes it to the StoreDoneCb; the loop owns it again after that. */
typedef struct Delivery {
        /* inputs */
        Alert alert;
        char *url_project;             /* ?project=KEY, or NULL */
        char *mapped_project;          /* from PROJECT_MAP, or NULL */
        unsigned char digest[32];      /* SHA-256 of the raw body */
        char remote_addr[64];
        char request_id[40];

        /* results */
        /* HTTP status: 201, 200, 422; 503 when the database cannot be
         * used now (retry later: spool it); 500 when the database refused
         * this alert for another reason (retrying will not help). */
        int status;
        StoreAction action;
        bool is_new;
        bool duplicate;                /* a redelivery: the first answer again */
        char issue_id[48];
        char issue_key[48];
        int64_t occurrences;
        char error[256];               /* why, when status is not 2xx */

        /* free for the submitter */
        void *owner;
        /* When set, called instead of the store's StoreDoneCb. */
        void (*done)(struct Delivery *d, void *data);
        void *done_data;
        struct Delivery *next_;        /* the store's queue */
} Delivery;

typedef struct Store Store;

/* Called on the store thread once the delivery's transaction has
 * committed (or failed); must not block. */
typedef void (*StoreDoneCb)(Delivery *d, void *data);

/* Starts the store thread. It connects in the background; deliveries
 * submitted before it is connected wait in the queue. */
int store_start(Store **ret, const Config *c, StoreDoneCb done, void *data);
/* Queues a delivery; thread-safe, never blocks on the database. */
void store_submit(Store *s, Delivery *d);
/* Finishes what is queued, closes the connection and joins the thread. */
void store_stop(Store *s);
/* Does the database answer, with the daemon's schema at the version this
 * build needs? Set by the store thread, read by anyone. */
bool store_connected(const Store *s);
/* Has the database failed to answer, with no success since? False while
 * the first connection is still being made. */
bool store_down(const Store *s);

/* Creates or upgrades the daemon's schema (and with stride_schema Stride's
 * tables too), synchronously. Returns 0 or a negative errno with a
 * malloc'd sentence in *ret_error. */
int store_migrate(const Config *c, bool stride_schema, char **ret_error);

void delivery_free(Delivery *d);

/* ---- stride-webhooks check ---- */

/* One finding of store_check: priority LOG_INFO (fine), LOG_WARNING
 * (works, but needs attention) or LOG_ERR (deliveries cannot be stored);
 * line says what, and what to do about it. */
typedef void (*StoreCheckCb)(int priority, const char *line, void *data);

/* Connects to c->database_url synchronously, as the daemon would, and
 * checks what the daemon needs there: the connection, its schema's
 * version, the grants, the project of deliveries whose URL names none
 * (STRIDE_PROJECT, else the only one), each of project_keys (the keys
 * PROJECT_MAP names) and the reporter of new issues. Each finding goes
 * to report. Returns 0 when every check ran, or -ECONNREFUSED or -EPROTO
 * when a failure left nothing more to check. Never logs, and never
 * reports the password. */
int store_check(const Config *c, const char *const *project_keys,
                size_t n_keys, StoreCheckCb report, void *data);
