/* The durable local queue (DESIGN section 7). Requests the store did not
 * commit by the answer deadline, or could not reach, are written and
 * synced by the spool thread under $STATE_DIRECTORY/spool before they are
 * answered 202, and replayed through the store in arrival order as soon
 * as the database answers and at every start. A spooled request the
 * database rejects for any reason but being unreachable becomes a dead
 * letter in $STATE_DIRECTORY/dead (outside spool/, so that the .path
 * unit's DirectoryNotEmpty= sees only what still needs the daemon). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "delivery.h"
#include "store.h"

typedef struct Spool Spool;

/* What a spooled request keeps: everything delivery_prepare needs, plus
 * when it arrived. Strings are owned by the entry. */
typedef struct SpoolEntry {
        Provider provider;
        int64_t received_ms;       /* wall clock, ms since the epoch */
        char *body;
        size_t len;
        char *resource;            /* or NULL */
        char *content_type;        /* or NULL */
        char *project;             /* or NULL */
        char remote_addr[64];
        char request_id[40];
        /* Set before spool_write when the store still has the alert (the
         * answer deadline passed): replay leaves the entry alone until
         * spool_forget or spool_release, so the alert is not sent to the
         * database twice while it is slow. */
        bool held;

        /* Set by the spool: the file it lives in once written. */
        char name[64];

        /* The spool's own, while the entry is queued. */
        void (*written_)(struct SpoolEntry *e, int error, void *data);
        void *written_data_;
        int error_;
        struct SpoolEntry *next_;
} SpoolEntry;

/* Called on the spool thread once the entry is synced (error 0), or when
 * it cannot be: -ENOSPC (SPOOL_MAX_BYTES reached or the disk full), or
 * the errno of the failed write. Must not block. */
typedef void (*SpoolWrittenCb)(SpoolEntry *e, int error, void *data);

/* Creates the folders if needed, counts what is there, and starts the
 * spool thread and the replay thread. Replay submits to store, and logs
 * when it starts draining and when the spool is empty. c must outlive
 * the spool. With store NULL nothing is replayed (tests, `check`). On
 * failure *ret_error is a malloc'd sentence. */
int spool_open(Spool **ret, const Config *c, Store *store, char **ret_error);
/* Lets replay finish the entry in hand, writes what is queued (its
 * callbacks run), and joins both threads. Call it before store_stop:
 * replay submits to the store until then. */
void spool_close(Spool *s);

/* A copy of r as an entry; NULL on ENOMEM. */
SpoolEntry *spool_entry_new(const Request *r);
void spool_entry_free(SpoolEntry *e);

/* Queues e to be written and synced; thread-safe, never blocks on disk.
 * cb then owns e again. */
void spool_write(Spool *s, SpoolEntry *e, SpoolWrittenCb cb, void *data);

/* The alert of a written entry was committed by the live path after all:
 * remove its file (asynchronously). */
void spool_forget(Spool *s, const char *name);

/* The live path's attempt at a held entry ended without a commit (503,
 * 500, 422): replay takes it from here, and stores it or makes it a
 * dead letter. */
void spool_release(Spool *s, const char *name);

/* Wakes replay now (the store just connected). */
void spool_kick(Spool *s);

/* Reads the entry in file name of spool/ (e.g. e->name of a written
 * entry): 0, -ENOENT when it is gone, -EBADMSG when it is not a valid
 * entry (why says what is wrong), another negative errno when it cannot
 * be read. */
int spool_read(Spool *s, const char *name, SpoolEntry **ret, char *why,
               size_t why_size);

/* Entries waiting for replay, their bytes, and dead letters. */
size_t spool_pending(const Spool *s);
uint64_t spool_bytes(const Spool *s);
size_t spool_dead(const Spool *s);
