/* The spool: requests written and synced under $STATE_DIRECTORY before
 * they are answered 202, and replayed through the store in arrival order.
 *
 * An entry is written into incoming/, synced, renamed into spool/ and
 * spool/ synced: a crash leaves either a whole entry in spool/ or a
 * leftover in incoming/, which the next start removes. Files in spool/
 * never change; whoever removes one (replay, a late commit's forget, the
 * move to dead/) is the one whose unlink or rename succeeded, and only
 * that one updates the counts. The files themselves, their names and
 * their format are spoolfile.c's. */
#include "spool.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spoolfile.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000
#define POLL_MS 100
/* A hold outlives any answer the store gives in time; should the live
 * path never release one, replay takes the entry after this anyway. */
#define HOLD_MAX_MS 30000

#define _cleanup_(f) __attribute__((cleanup(f)))

static void freep(void *p)
{
        free(*(void **) p);
}

/* A file name in a list: forgets queued, entries held. */
typedef struct Name {
        struct Name *next;
        char name[64];
        struct timespec until;   /* a hold ends by itself then */
} Name;

typedef enum {
        REPLAY_DONE,    /* the entry is gone: stored, dead, or forgotten */
        REPLAY_RETRY,   /* keep it and everything behind it for later */
        REPLAY_STUCK,   /* it should be gone but could not be moved */
} ReplayOutcome;

struct Spool {
        const Config *config;
        Store *store;
        char *root;
        SpoolFolders folders;
        uint64_t max_bytes;
        unsigned pid;

        atomic_size_t pending;
        _Atomic uint64_t bytes;
        atomic_size_t dead;
        /* Logged as fallen back to the spool, not yet as drained. */
        atomic_bool fallback;
        atomic_uint forgotten;   /* since the spool was last drained */

        /* the spool thread; the queues guarded by write_lock */
        pthread_t writer;
        bool writer_started;
        pthread_mutex_t write_lock;
        pthread_cond_t write_wake;
        SpoolEntry *head, *tail;
        Name *forgets;
        bool write_stop;
        unsigned seq;            /* the spool thread's own */
        int failing;             /* the spool thread's own: the last error */
        bool tell_fallback;      /* the spool thread's own */

        /* the replay thread; the flags guarded by replay_lock */
        pthread_t replayer;
        bool replayer_started;
        pthread_mutex_t replay_lock;
        pthread_cond_t replay_wake;
        bool replay_stop;
        bool work;               /* an entry was written */
        bool kicked;             /* spool_kick */
        bool answered;           /* the store's answer to the replayed entry */
        Name *held;              /* entries the live path still has at the store */
        unsigned replayed, buried;  /* the replay thread's own */
        bool waiting;               /* the replay thread's own */
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec monotonic_in(unsigned ms)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += ms / 1000;
        t.tv_nsec += (long) (ms % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
        }
        return t;
}

static bool timespec_passed(const struct timespec *t)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return now.tv_sec > t->tv_sec ||
               (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* ---- entries ---- */

static char *strdup_or_null(const char *s, bool *failed)
{
        char *copy;

        if (!s)
                return NULL;
        copy = strdup(s);
        if (!copy)
                *failed = true;
        return copy;
}

SpoolEntry *spool_entry_new(const Request *r)
{
        SpoolEntry *e = calloc(1, sizeof(*e));
        bool failed = false;

        if (!e)
                return NULL;
        e->provider = r->provider;
        e->received_ms = now_ms();
        e->len = r->len;
        e->body = malloc(r->len + 1);
        if (e->body) {
                if (r->len > 0)
                        memcpy(e->body, r->body, r->len);
                e->body[r->len] = '\0';
        }
        e->resource = strdup_or_null(r->resource, &failed);
        e->content_type = strdup_or_null(r->content_type, &failed);
        e->project = strdup_or_null(r->project, &failed);
        snprintf(e->remote_addr, sizeof(e->remote_addr), "%s",
                 r->remote_addr ? r->remote_addr : "");
        snprintf(e->request_id, sizeof(e->request_id), "%s",
                 r->request_id ? r->request_id : "");
        if (failed || !e->body) {
                spool_entry_free(e);
                return NULL;
        }
        return e;
}

void spool_entry_free(SpoolEntry *e)
{
        if (!e)
                return;
        free(e->body);
        free(e->resource);
        free(e->content_type);
        free(e->project);
        free(e);
}

static void entry_request(const SpoolEntry *e, Request *r)
{
        *r = (Request) {
                .provider = e->provider,
                .body = e->body,
                .len = e->len,
                .resource = e->resource,
                .content_type = e->content_type,
                .project = e->project,
                .remote_addr = e->remote_addr,
                .request_id = e->request_id,
        };
}

int spool_read(Spool *s, const char *name, SpoolEntry **ret, char *why,
               size_t why_size)
{
        return spoolfile_read(&s->folders, s->max_bytes, name, ret, why,
                              why_size);
}

/* ---- entries the live path still has at the store ---- */

static Name *name_new(const char *name)
{
        Name *n;

        if (!name[0] || strlen(name) >= sizeof(n->name))
                return NULL;
        n = calloc(1, sizeof(*n));
        if (n)
                memcpy(n->name, name, strlen(name) + 1);
        return n;
}

/* Without memory an entry is not held: replay then stores it while the
 * live path may too, and the second is a redelivery that changes
 * nothing. */
static void hold(Spool *s, const char *name)
{
        Name *n = name_new(name);

        if (!n)
                return;
        n->until = monotonic_in(HOLD_MAX_MS);
        pthread_mutex_lock(&s->replay_lock);
        for (Name **p = &s->held; *p;) {
                Name *old = *p;

                if (timespec_passed(&old->until)) {
                        *p = old->next;
                        free(old);
                } else
                        p = &old->next;
        }
        n->next = s->held;
        s->held = n;
        pthread_mutex_unlock(&s->replay_lock);
}

/* Lets replay have the entry, and wakes it. */
static void unhold(Spool *s, const char *name)
{
        pthread_mutex_lock(&s->replay_lock);
        for (Name **p = &s->held; *p; p = &(*p)->next) {
                Name *n = *p;

                if (strcmp(n->name, name) != 0)
                        continue;
                *p = n->next;
                free(n);
                s->work = true;
                pthread_cond_broadcast(&s->replay_wake);
                break;
        }
        pthread_mutex_unlock(&s->replay_lock);
}

static bool is_held(Spool *s, const char *name)
{
        bool found = false;

        pthread_mutex_lock(&s->replay_lock);
        for (const Name *n = s->held; n && !found; n = n->next)
                found = strcmp(n->name, name) == 0 && !timespec_passed(&n->until);
        pthread_mutex_unlock(&s->replay_lock);
        return found;
}

/* ---- leaving spool/ ---- */

static void account_removed(Spool *s, uint64_t size)
{
        atomic_fetch_sub(&s->pending, 1);
        atomic_fetch_sub(&s->bytes, size);
}

/* Unlinks an entry: 0 if this call removed it, else a negative errno
 * (-ENOENT: someone else did). */
static int entry_unlink(Spool *s, const char *name)
{
        uint64_t size;
        int r;

        r = spoolfile_unlink(&s->folders, name, &size);
        if (r == 0)
                account_removed(s, size);
        return r;
}

/* Moves an entry to dead/: 0, or a negative errno (-ENOENT: gone). */
static int entry_bury(Spool *s, const char *name)
{
        uint64_t size;
        bool replaced;
        int r;

        r = spoolfile_bury(&s->folders, name, &size, &replaced);
        if (r < 0)
                return r;
        account_removed(s, size);
        if (!replaced)
                atomic_fetch_add(&s->dead, 1);
        return 0;
}

/* ---- the spool thread ---- */

static int entry_store_as(Spool *s, SpoolEntry *e, unsigned seq);

/* Writes e into spool/, not yet synced there. The counts include it
 * before it is visible to replay, which may remove it at once. A name
 * already taken (a restart that got the same pid within the same
 * millisecond) moves on to the next sequence number. */
static int entry_store(Spool *s, SpoolEntry *e)
{
        int r;

        for (int tries = 0; tries < 100; tries++) {
                r = entry_store_as(s, e, s->seq++);
                if (r != -EEXIST)
                        break;
        }
        return r;
}

static int entry_store_as(Spool *s, SpoolEntry *e, unsigned seq)
{
        _cleanup_(freep) unsigned char *hdr = NULL;
        size_t hdr_len = 0;
        uint64_t size;
        int r;

        spoolfile_name(e, s->pid, seq);
        hdr = spoolfile_header(e, &hdr_len);
        if (!hdr)
                return -ENOMEM;
        size = hdr_len + e->len;
        if (atomic_load(&s->bytes) + size > s->max_bytes)
                return -ENOSPC;

        r = spoolfile_write(&s->folders, e, hdr, hdr_len);
        if (r < 0)
                return r;

        atomic_fetch_add(&s->pending, 1);
        atomic_fetch_add(&s->bytes, size);
        if (e->held)
                hold(s, e->name);
        /* Before replay can see the entry, so that it says when the
         * spool is drained again. */
        if (!atomic_exchange(&s->fallback, true))
                s->tell_fallback = true;
        r = spoolfile_publish(&s->folders, e->name);
        if (r < 0) {
                unhold(s, e->name);
                account_removed(s, size);
        }
        return r;
}

/* Once for each cause, until a write succeeds again. */
static void log_write_failure(Spool *s, int r)
{
        if (s->failing == r)
                return;
        s->failing = r;
        if (r == -ENOSPC)
                log_plain(LOG_ERR, LOGID_SPOOLED, "webhook spool %s/spool is full "
                          "(SPOOL_MAX_BYTES or the disk): deliveries that cannot "
                          "be stored now are refused with 503", s->root);
        else
                log_plain(LOG_ERR, LOGID_SPOOLED, "cannot write the webhook spool "
                          "%s/spool: %s; deliveries that cannot be stored now are "
                          "refused with 503", s->root, strerror(-r));
}

static void wake_replay(Spool *s)
{
        pthread_mutex_lock(&s->replay_lock);
        s->work = true;
        pthread_cond_broadcast(&s->replay_wake);
        pthread_mutex_unlock(&s->replay_lock);
}

/* Writes a batch with one sync of spool/ for all of it, then answers
 * each entry. */
static void write_batch(Spool *s, SpoolEntry *batch)
{
        size_t written = 0;
        int r;

        for (SpoolEntry *e = batch; e; e = e->next_) {
                e->error_ = entry_store(s, e);
                if (e->error_ == 0)
                        written++;
                else
                        log_write_failure(s, e->error_);
        }

        if (written > 0 && fsync(s->folders.spool_fd) < 0) {
                r = -errno;
                log_write_failure(s, r);
                for (SpoolEntry *e = batch; e; e = e->next_)
                        if (e->error_ == 0) {
                                entry_unlink(s, e->name);
                                unhold(s, e->name);
                                e->error_ = r;
                        }
                written = 0;
        }

        if (written > 0 && s->tell_fallback) {
                s->tell_fallback = false;
                log_plain(LOG_WARNING, LOGID_SPOOLED, "database unavailable or slow: "
                          "webhooks are spooled to %s/spool and stored once it "
                          "answers", s->root);
        }
        if (written > 0) {
                s->failing = 0;
                wake_replay(s);
        }

        while (batch) {
                SpoolEntry *next = batch->next_;

                batch->next_ = NULL;
                if (batch->error_ < 0)
                        batch->name[0] = '\0';
                batch->written_(batch, batch->error_, batch->written_data_);
                batch = next;
        }
}

static void forget_all(Spool *s, Name *f)
{
        if (!f)
                return;
        while (f) {
                Name *next = f->next;

                /* Held until gone, so that replay does not take it in
                 * between. */
                if (entry_unlink(s, f->name) == 0)
                        atomic_fetch_add(&s->forgotten, 1);
                unhold(s, f->name);
                free(f);
                f = next;
        }
        /* Replay says so when that emptied the spool. */
        wake_replay(s);
}

static void *writer_main(void *arg)
{
        Spool *s = arg;

        for (;;) {
                SpoolEntry *batch;
                Name *forgets;
                bool stop;

                pthread_mutex_lock(&s->write_lock);
                while (!s->head && !s->forgets && !s->write_stop)
                        pthread_cond_wait(&s->write_wake, &s->write_lock);
                batch = s->head;
                forgets = s->forgets;
                s->head = s->tail = NULL;
                s->forgets = NULL;
                stop = s->write_stop && !batch && !forgets;
                pthread_mutex_unlock(&s->write_lock);

                if (stop)
                        break;
                forget_all(s, forgets);
                if (batch)
                        write_batch(s, batch);
        }
        return NULL;
}

void spool_write(Spool *s, SpoolEntry *e, SpoolWrittenCb cb, void *data)
{
        assert(s && e && cb);

        e->written_ = cb;
        e->written_data_ = data;
        e->error_ = 0;
        e->next_ = NULL;
        pthread_mutex_lock(&s->write_lock);
        if (s->tail)
                s->tail->next_ = e;
        else
                s->head = e;
        s->tail = e;
        pthread_cond_signal(&s->write_wake);
        pthread_mutex_unlock(&s->write_lock);
}

void spool_forget(Spool *s, const char *name)
{
        Name *f;

        assert(s && name);
        /* Without memory the entry stays: its replay is then recognised
         * as a redelivery and changes nothing. */
        f = name_new(name);
        if (!f) {
                unhold(s, name);
                return;
        }
        pthread_mutex_lock(&s->write_lock);
        f->next = s->forgets;
        s->forgets = f;
        pthread_cond_signal(&s->write_wake);
        pthread_mutex_unlock(&s->write_lock);
}

void spool_release(Spool *s, const char *name)
{
        assert(s && name);
        unhold(s, name);
}

/* ---- replay ---- */

static bool replay_stopping(Spool *s)
{
        bool stop;

        pthread_mutex_lock(&s->replay_lock);
        stop = s->replay_stop;
        pthread_mutex_unlock(&s->replay_lock);
        return stop;
}

static void on_replayed(Delivery *d, void *data)
{
        Spool *s = data;

        (void) d;
        pthread_mutex_lock(&s->replay_lock);
        s->answered = true;
        pthread_cond_broadcast(&s->replay_wake);
        pthread_mutex_unlock(&s->replay_lock);
}

/* Submits d and waits for its answer. The store always answers: its
 * session has statement and lock timeouts, its connection a timeout. */
static void submit_wait(Spool *s, Delivery *d)
{
        d->done = on_replayed;
        d->done_data = s;
        pthread_mutex_lock(&s->replay_lock);
        s->answered = false;
        pthread_mutex_unlock(&s->replay_lock);

        store_submit(s->store, d);

        pthread_mutex_lock(&s->replay_lock);
        while (!s->answered)
                pthread_cond_wait(&s->replay_wake, &s->replay_lock);
        pthread_mutex_unlock(&s->replay_lock);
}

/* Waits until new entries are written or released, spool_kick, or the
 * stop; with timeout_ms, that long at most. */
static void wait_work(Spool *s, unsigned timeout_ms)
{
        struct timespec until = monotonic_in(timeout_ms);

        pthread_mutex_lock(&s->replay_lock);
        while (!s->work && !s->kicked && !s->replay_stop) {
                if (!timeout_ms)
                        pthread_cond_wait(&s->replay_wake, &s->replay_lock);
                else if (pthread_cond_timedwait(&s->replay_wake, &s->replay_lock,
                                                &until) == ETIMEDOUT)
                        break;
        }
        s->kicked = false;
        pthread_mutex_unlock(&s->replay_lock);
}

/* After a 503: waits *backoff_ms, or less when the store connects again
 * or spool_kick says so, and doubles the next wait. New entries do not
 * end the wait: the database is what replay waits for. */
static void wait_retry(Spool *s, unsigned *backoff_ms)
{
        struct timespec until = monotonic_in(*backoff_ms);
        bool was_up = store_connected(s->store);

        pthread_mutex_lock(&s->replay_lock);
        while (!s->kicked && !s->replay_stop && !timespec_passed(&until)) {
                struct timespec poll = monotonic_in(POLL_MS);

                if (!was_up && store_connected(s->store))
                        break;
                pthread_cond_timedwait(&s->replay_wake, &s->replay_lock, &poll);
        }
        s->kicked = false;
        pthread_mutex_unlock(&s->replay_lock);

        *backoff_ms = *backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : *backoff_ms * 2;
}

static ReplayOutcome bury(Spool *s, const char *name, const SpoolEntry *e,
                          int status, const char *why)
{
        char status_s[8];
        LogField f[] = {
                { "PROVIDER", e ? provider_name(e->provider) : NULL },
                { "REMOTE_ADDR", e ? e->remote_addr : NULL },
                { "REQUEST_ID", e ? e->request_id : NULL },
                { "HTTP_STATUS", status ? status_s : NULL },
                { "REASON", why },
                { "SPOOL_FILE", name },
        };
        int r;

        snprintf(status_s, sizeof(status_s), "%d", status);
        r = entry_bury(s, name);
        if (r == -ENOENT)
                return REPLAY_DONE;
        if (r < 0) {
                log_fields(LOG_ERR, LOGID_DEAD_LETTER, f, "webhook spool entry %s "
                           "cannot be replayed (%s) and cannot be moved to %s/dead: "
                           "%s; replay goes on with the entries behind it",
                           name, why, s->root, strerror(-r));
                return REPLAY_STUCK;
        }
        s->buried++;
        if (e)
                log_fields(LOG_ERR, LOGID_DEAD_LETTER, f, "webhook delivery for %s "
                           "from the spool refused: %s; it is kept as %s/dead/%s. "
                           "Fix the cause, then move the file back into %s/spool/ "
                           "to replay it, or delete it", provider_name(e->provider),
                           why, s->root, name, s->root);
        else
                log_fields(LOG_ERR, LOGID_DEAD_LETTER, f, "webhook spool file %s "
                           "is not a spool entry (%s): moved to %s/dead/ where it "
                           "can be inspected and deleted", name, why, s->root);
        return REPLAY_DONE;
}

static void log_replayed(const SpoolEntry *e, const Delivery *d)
{
        char status_s[8];
        LogField f[] = {
                { "PROVIDER", provider_name(e->provider) },
                { "EXTERNAL_ID", d->alert.external_id },
                { "ISSUE_KEY", d->issue_key[0] ? d->issue_key : NULL },
                { "ISSUE_ID", d->issue_id[0] ? d->issue_id : NULL },
                { "ACTION", store_action_name(d->action) },
                { "DUPLICATE", d->duplicate ? "1" : NULL },
                { "HTTP_STATUS", status_s },
                { "REMOTE_ADDR", e->remote_addr },
                { "REQUEST_ID", e->request_id },
                { "SPOOL_FILE", e->name },
        };

        snprintf(status_s, sizeof(status_s), "%d", d->status);
        log_fields(LOG_INFO, LOGID_REPLAYED, f, "webhook delivery for %s replayed "
                   "from the spool: %s%s%s%s", provider_name(e->provider),
                   d->duplicate ? "already stored, " : "", store_action_name(d->action),
                   d->issue_key[0] ? " " : "", d->issue_key);
}

/* Through the store; the answer decides the entry's fate. */
/* A stored entry leaves spool/; one that cannot must not be stored
 * again at once, pass after pass. */
static ReplayOutcome leave_spool(Spool *s, const char *name)
{
        int r = entry_unlink(s, name);

        if (r == 0 || r == -ENOENT)
                return REPLAY_DONE;
        log_plain(LOG_ERR, LOGID_REPLAYED, "cannot remove the replayed webhook %s/spool/%s: "
                  "%s; it is replayed again later, as a redelivery", s->root, name,
                  strerror(-r));
        return REPLAY_STUCK;
}

static ReplayOutcome replay_delivery(Spool *s, const SpoolEntry *e, Delivery *d)
{
        char why[sizeof(d->error) + 16];

        submit_wait(s, d);
        if (d->status != 503)
                s->waiting = false;
        if (d->status >= 200 && d->status < 300) {
                log_replayed(e, d);
                s->replayed++;
                return leave_spool(s, e->name);
        }
        if (d->status == 503) {
                if (!s->waiting)
                        log_plain(LOG_WARNING, LOGID_DB_UNAVAILABLE, "webhook spool "
                                  "replay waits for the database: %s", d->error);
                s->waiting = true;
                return REPLAY_RETRY;
        }
        snprintf(why, sizeof(why), "%d, %s", d->status, d->error);
        return bury(s, e->name, e, d->status, why);
}

static ReplayOutcome replay_one(Spool *s, const char *name)
{
        SpoolEntry *e = NULL;
        Delivery *d = NULL;
        ReplayOutcome out;
        char why[256];
        Request req;
        int r;

        r = spool_read(s, name, &e, why, sizeof(why));
        if (r == -ENOENT)
                return REPLAY_DONE;        /* forgotten after a late commit */
        if (r == -ENOMEM)
                return REPLAY_RETRY;
        if (r < 0)
                return bury(s, name, NULL, 0, why);

        entry_request(e, &req);
        switch (delivery_prepare(s->config, &req, &d, why, sizeof(why))) {
        case PREPARED:
                out = replay_delivery(s, e, d);
                break;
        case PREPARED_TEST:
        case PREPARED_IGNORED:
                log_plain(LOG_INFO, LOGID_REPLAYED, "webhook %s from the spool needs "
                          "no issue: %s", name, why[0] ? why : "a test delivery");
                out = leave_spool(s, name);
                break;
        case PREPARED_NO_MEMORY:
                out = REPLAY_RETRY;
                break;
        case PREPARED_BAD_JSON:
                out = bury(s, name, e, 400, why);
                break;
        case PREPARED_UNRECOGNISED:
        default:
                out = bury(s, name, e, 422, why);
                break;
        }
        delivery_free(d);
        spool_entry_free(e);
        return out;
}

/* One pass over spool/ in arrival order, stopping at the first entry the
 * database cannot take now, and passing over those the live path still
 * has at the store. Files that no spool wrote go to dead/ first,
 * wherever they sort. *ret_progress: some entry was dealt with. */
static ReplayOutcome replay_pass(Spool *s, const SpoolListing *l,
                                 bool *ret_progress)
{
        ReplayOutcome worst = REPLAY_DONE;

        *ret_progress = false;
        for (size_t i = 0; i < l->n; i++)
                if (!spoolfile_is_entry_name(l->entries[i]->d_name) &&
                    bury(s, l->entries[i]->d_name, NULL, 0, "not a spool entry's name") ==
                    REPLAY_STUCK)
                        worst = REPLAY_STUCK;

        for (size_t i = 0; i < l->n && !replay_stopping(s); i++) {
                ReplayOutcome o;

                if (!spoolfile_is_entry_name(l->entries[i]->d_name) ||
                    is_held(s, l->entries[i]->d_name))
                        continue;
                *ret_progress = true;
                o = replay_one(s, l->entries[i]->d_name);
                if (o == REPLAY_RETRY)
                        return o;
                if (o == REPLAY_STUCK)
                        worst = o;
        }
        return worst;
}

/* Once after each fallback to the spool, when it is empty again. */
static void log_drained(Spool *s)
{
        unsigned late = atomic_exchange(&s->forgotten, 0);
        char dead[64] = "";

        if (!atomic_exchange(&s->fallback, false))
                return;
        if (s->buried > 0)
                snprintf(dead, sizeof(dead), ", %u moved to dead/", s->buried);
        log_plain(LOG_NOTICE, LOGID_REPLAYED, "spool drained: %u webhook%s replayed%s, "
                  "%u stored late by their own delivery; %s/spool is empty",
                  s->replayed, s->replayed == 1 ? "" : "s", dead, late, s->root);
        s->replayed = s->buried = 0;
}

static void *replay_main(void *arg)
{
        Spool *s = arg;
        unsigned backoff_ms = RETRY_MIN_MS;

        while (!replay_stopping(s)) {
                ReplayOutcome o = REPLAY_RETRY;
                SpoolListing l = { NULL, 0 };
                bool progress = true;

                /* Entries written from here on are seen by this pass or
                 * set work again for the next. */
                pthread_mutex_lock(&s->replay_lock);
                s->work = false;
                pthread_mutex_unlock(&s->replay_lock);

                if (spoolfile_list(s->folders.spool_fd, &l) == 0) {
                        if (l.n == 0) {
                                log_drained(s);
                                wait_work(s, 0);
                                continue;
                        }
                        o = replay_pass(s, &l, &progress);
                        spoolfile_list_free(&l);
                }
                if (o != REPLAY_DONE) {
                        wait_retry(s, &backoff_ms);
                        continue;
                }
                backoff_ms = RETRY_MIN_MS;
                /* All of it held: the live path releases or forgets it,
                 * or the holds run out. */
                if (!progress)
                        wait_work(s, 1000);
        }
        return NULL;
}

void spool_kick(Spool *s)
{
        pthread_mutex_lock(&s->replay_lock);
        s->kicked = true;
        pthread_cond_broadcast(&s->replay_wake);
        pthread_mutex_unlock(&s->replay_lock);
}

/* ---- open and close ---- */

static Spool *spool_new(const Config *c, Store *store)
{
        pthread_condattr_t attr;
        Spool *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->root = strdup(c->state_directory);
        if (!s->root) {
                free(s);
                return NULL;
        }
        s->config = c;
        s->store = store;
        s->max_bytes = c->spool_max_bytes;
        s->pid = (unsigned) getpid();
        s->folders = (SpoolFolders) { -1, -1, -1 };
        atomic_init(&s->pending, 0);
        atomic_init(&s->bytes, 0);
        atomic_init(&s->dead, 0);
        atomic_init(&s->fallback, false);
        atomic_init(&s->forgotten, 0);

        pthread_mutex_init(&s->write_lock, NULL);
        pthread_cond_init(&s->write_wake, NULL);
        pthread_mutex_init(&s->replay_lock, NULL);
        /* Retry waits must not jump with the wall clock. */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&s->replay_wake, &attr);
        pthread_condattr_destroy(&attr);
        return s;
}

static int spool_count(Spool *s, char **ret_error)
{
        size_t n, dead;
        uint64_t bytes, ignored;
        int r;

        r = spoolfile_count(s->folders.spool_fd, &n, &bytes);
        if (r == 0)
                r = spoolfile_count(s->folders.dead_fd, &dead, &ignored);
        if (r < 0) {
                if (asprintf(ret_error, "cannot read the spool in %s: %s", s->root,
                             strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        atomic_store(&s->pending, n);
        atomic_store(&s->bytes, bytes);
        atomic_store(&s->dead, dead);
        atomic_store(&s->fallback, n > 0);
        return 0;
}

static int start_threads(Spool *s, char **ret_error)
{
        int r;

        r = pthread_create(&s->writer, NULL, writer_main, s);
        if (r == 0) {
                s->writer_started = true;
                if (s->store)
                        r = pthread_create(&s->replayer, NULL, replay_main, s);
                s->replayer_started = s->store && r == 0;
        }
        if (r != 0 && asprintf(ret_error, "cannot start the spool's threads: %s",
                               strerror(r)) < 0)
                *ret_error = NULL;
        return -r;
}

int spool_open(Spool **ret, const Config *c, Store *store, char **ret_error)
{
        Spool *s;
        int r;

        assert(ret && c && c->state_directory && ret_error);
        *ret_error = NULL;

        s = spool_new(c, store);
        if (!s)
                return -ENOMEM;
        r = spoolfile_open(&s->folders, s->root, ret_error);
        if (r == 0) {
                spoolfile_clean_incoming(&s->folders);
                r = spool_count(s, ret_error);
        }
        if (r == 0)
                r = start_threads(s, ret_error);
        if (r < 0) {
                spool_close(s);
                return r;
        }
        if (atomic_load(&s->pending) > 0)
                log_plain(LOG_INFO, LOGID_SPOOLED, "%zu webhook%s wait in the spool "
                          "%s/spool%s", atomic_load(&s->pending),
                          atomic_load(&s->pending) == 1 ? "" : "s", s->root,
                          store ? ": replaying" : "");
        *ret = s;
        return 0;
}

void spool_close(Spool *s)
{
        if (!s)
                return;
        if (s->replayer_started) {
                pthread_mutex_lock(&s->replay_lock);
                s->replay_stop = true;
                pthread_cond_broadcast(&s->replay_wake);
                pthread_mutex_unlock(&s->replay_lock);
                pthread_join(s->replayer, NULL);
        }
        if (s->writer_started) {
                pthread_mutex_lock(&s->write_lock);
                s->write_stop = true;
                pthread_cond_signal(&s->write_wake);
                pthread_mutex_unlock(&s->write_lock);
                pthread_join(s->writer, NULL);
        }
        while (s->held) {
                Name *n = s->held;

                s->held = n->next;
                free(n);
        }
        spoolfile_close(&s->folders);
        pthread_cond_destroy(&s->replay_wake);
        pthread_mutex_destroy(&s->replay_lock);
        pthread_cond_destroy(&s->write_wake);
        pthread_mutex_destroy(&s->write_lock);
        free(s->root);
        free(s);
}

size_t spool_pending(const Spool *s)
{
        return s ? atomic_load(&s->pending) : 0;
}

uint64_t spool_bytes(const Spool *s)
{
        return s ? atomic_load(&s->bytes) : 0;
}

size_t spool_dead(const Spool *s)
{
        return s ? atomic_load(&s->dead) : 0;
}
