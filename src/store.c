/* The store thread: one libpq connection, group commit, and the call of
 * stride_webhooks.ingest() that does each delivery in one round trip
 * (src/sql/daemon-schema.sql holds the logic). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "auth.h"
#include "log.h"
#include "store.h"
#include "text.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_BACKOFF_MIN_MS 200
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_INGEST_PARAMS 23

#define _cleanup_(f) __attribute__((cleanup(f)))

static void freep(void *p)
{
        free(*(void **) p);
}

static void pqclearp(PGresult **r)
{
        PQclear(*r);
}

static void pqfinishp(PGconn **c)
{
        if (*c)
                PQfinish(*c);
}

typedef enum {
        DB_UNKNOWN,   /* no attempt yet */
        DB_UP,
        DB_DOWN,
} DbState;

struct Store {
        /* copied from the Config, so its lifetime is ours */
        char *database_url;
        char *stride_project;
        char *stride_reporter;
        char *auto_resolve_status;
        char *reopen_status;
        char replay_window[16];

        StoreDoneCb done;
        void *data;
        unsigned batch_max;            /* 0: everything queued */
        pthread_t thread;
        atomic_bool connected;
        atomic_bool down;        /* an attempt failed, none succeeded since */

        /* guarded by lock */
        pthread_mutex_t lock;
        pthread_cond_t wake;
        Delivery *head, *tail;
        bool stopping;

        /* the store thread's own */
        PGconn *conn;
        DbState state;
        unsigned backoff_ms;
        struct timespec next_attempt;  /* CLOCK_MONOTONIC */
        char why[256];                 /* why deliveries cannot be stored */
};

/* One ingest() call's parameters, rendered before the transaction
 * starts so that it stays short. */
typedef struct {
        char *description;
        char *error_trace;
        char digest[2 + 64 + 1];
        char event_ms[24];
        char occurrence_id[8 + 64 + 1];  /* a long one, hashed */
        const char *values[STORE_INGEST_PARAMS];
} Call;

/* Occurrence ids are part of a primary key, and PostgreSQL refuses index
 * entries of more than about 2.7 kB: a longer id (nothing real sends
 * one) is stored as its hash, which keeps it unique. */
#define OCCURRENCE_ID_MAX 256

static const char *occurrence_key(const char *id, char out[8 + 64 + 1])
{
        unsigned char h[32];

        if (!id || strlen(id) <= OCCURRENCE_ID_MAX)
                return id;
        if (auth_sha256(id, strlen(id), h) < 0)
                return NULL;
        memcpy(out, "sha256:", 7);
        text_hex(h, sizeof(h), out + 7);
        return out;
}

static const char *const action_names[] = {
        [ACTION_CREATED] = "created",
        [ACTION_UPDATED] = "updated",
        [ACTION_RESOLVED] = "resolved",
        [ACTION_REOPENED] = "reopened",
        [ACTION_RECORDED] = "recorded",
        [ACTION_FAILED] = "failed",
};

static const char *const event_names[] = {
        [ALERT_OPEN] = "open",
        [ALERT_UPDATE] = "update",
        [ALERT_ASSIGN] = "assign",
        [ALERT_ACKNOWLEDGE] = "acknowledge",
        [ALERT_MUTE] = "mute",
        [ALERT_RESOLVE] = "resolve",
};

/* The parameters' order is ingest()'s in daemon-schema.sql. */
static const char ingest_sql[] =
        "SELECT * FROM stride_webhooks.ingest($1::text, $2::text, "
        "$3::boolean, $4::text, $5::text, $6::text, $7::text, $8::text, "
        "$9::text, $10::text, $11::text, $12::integer, $13::bytea, "
        "$14::text, $15::text, $16::text, $17::text, $18::text, $19::text, "
        "$20::bigint, $21::text, $22::text, $23::text)";

const char *store_action_name(StoreAction a)
{
        if ((size_t) a >= sizeof(action_names) / sizeof(action_names[0]))
                return "failed";
        return action_names[a];
}

static StoreAction action_from_name(const char *name)
{
        for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
                if (strcmp(name, action_names[i]) == 0)
                        return (StoreAction) i;
        return ACTION_FAILED;
}

/* libpq's messages end in a newline and may go on with DETAIL lines: the
 * first line is what a log line and a client can take. */
static void first_line(const char *msg, char *out, size_t size)
{
        size_t n;

        if (!msg || !*msg)
                msg = "unknown error";
        n = strcspn(msg, "\n");
        while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\r'))
                n--;
        snprintf(out, size, "%.*s", (int) n, msg);
}

static void fail(Delivery *d, int status, const char *error)
{
        d->status = status;
        d->action = ACTION_FAILED;
        d->is_new = false;
        d->duplicate = false;
        d->issue_id[0] = '\0';
        d->issue_key[0] = '\0';
        d->occurrences = 0;
        snprintf(d->error, sizeof(d->error), "%s", error);
}

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

/* ---- connection ---- */

static void timespec_add_ms(struct timespec *t, unsigned ms)
{
        t->tv_sec += ms / 1000;
        t->tv_nsec += (long) (ms % 1000) * 1000000L;
        if (t->tv_nsec >= 1000000000L) {
                t->tv_sec++;
                t->tv_nsec -= 1000000000L;
        }
}

static bool attempt_due(const Store *s)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec != s->next_attempt.tv_sec)
                return now.tv_sec > s->next_attempt.tv_sec;
        return now.tv_nsec >= s->next_attempt.tv_nsec;
}

static void went_down(Store *s, const char *why)
{
        snprintf(s->why, sizeof(s->why), "%s", why);
        atomic_store(&s->connected, false);
        atomic_store(&s->down, true);

        clock_gettime(CLOCK_MONOTONIC, &s->next_attempt);
        timespec_add_ms(&s->next_attempt, s->backoff_ms);
        s->backoff_ms *= 2;
        if (s->backoff_ms > STORE_BACKOFF_MAX_MS)
                s->backoff_ms = STORE_BACKOFF_MAX_MS;

        if (s->state != DB_DOWN)
                log_plain(LOG_ERR, LOGID_DB_UNAVAILABLE,
                          "%s; webhook deliveries go to the spool until it "
                          "answers (retrying every %u s at most)",
                          why, STORE_BACKOFF_MAX_MS / 1000);
        s->state = DB_DOWN;
}

static void went_up(Store *s)
{
        if (s->state == DB_DOWN)
                log_plain(LOG_INFO, LOGID_DB_UNAVAILABLE,
                          "database reachable again; storing webhook "
                          "deliveries");
        s->state = DB_UP;
        s->backoff_ms = STORE_BACKOFF_MIN_MS;
        s->why[0] = '\0';
        atomic_store(&s->connected, true);
        atomic_store(&s->down, false);
}

static void disconnect(Store *s)
{
        if (s->conn)
                PQfinish(s->conn);
        s->conn = NULL;
}

/* Opens a connection. The keywords before dbname are our defaults:
 * DATABASE_URL may override them. */
static PGconn *connect_db(const char *url, char *why, size_t size)
{
        static const char *const keys[] = {
                "connect_timeout", "keepalives_idle", "keepalives_interval",
                "keepalives_count", "dbname", NULL,
        };
        const char *values[] = { "5", "30", "10", "3", url, NULL };
        char msg[200], *err = NULL;
        PQconninfoOption *opts;
        PGconn *conn;

        /* libpq's parse errors quote the URL, password and all: check it
         * first and say no more than that it is wrong. */
        opts = PQconninfoParse(url, &err);
        PQfreemem(err);
        if (!opts) {
                snprintf(why, size, "database unavailable: DATABASE_URL is not a valid "
                         "libpq URI or conninfo string (not shown: it may hold a password)");
                return NULL;
        }
        PQconninfoFree(opts);

        conn = PQconnectdbParams(keys, values, 1);
        if (!conn) {
                snprintf(why, size, "database unavailable: out of memory");
                return NULL;
        }
        if (PQstatus(conn) != CONNECTION_OK) {
                first_line(PQerrorMessage(conn), msg, sizeof(msg));
                snprintf(why, size, "database unavailable: %s", msg);
                PQfinish(conn);
                return NULL;
        }
        return conn;
}

static int exec_ok(PGconn *conn, const char *sql, char *msg, size_t size)
{
        _cleanup_(pqclearp) PGresult *r = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(r);

        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                return 0;
        first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), msg, size);
        return -EIO;
}

/* Is this the database the daemon can write to: its schema at our
 * version, Stride's tables visible? The answer names what to do. */
static int check_schema(PGconn *conn, char *why, size_t size)
{
        _cleanup_(pqclearp) PGresult *r = NULL;
        _cleanup_(pqclearp) PGresult *v = NULL;
        char msg[200];
        long version;

        r = PQexec(conn,
                   "SELECT to_regclass('stride_webhooks.schema_version') "
                   "IS NOT NULL, to_regclass('projects') IS NOT NULL AND "
                   "to_regclass('users') IS NOT NULL AND "
                   "to_regclass('issues') IS NOT NULL AND "
                   "to_regclass('comments') IS NOT NULL");
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                first_line(PQresultErrorMessage(r), msg, sizeof(msg));
                snprintf(why, size, "database unavailable: %s", msg);
                return -EIO;
        }
        if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
                snprintf(why, size, "the daemon's schema stride_webhooks is "
                         "missing from the database: run stride-webhooks "
                         "migrate");
                return -ENOENT;
        }
        if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
                snprintf(why, size, "Stride's tables (projects, users, "
                         "issues, comments) are not in the database: check "
                         "DATABASE_URL, or run stride-webhooks migrate "
                         "--stride-schema for a database without Stride");
                return -ENOENT;
        }

        v = PQexec(conn, "SELECT version FROM stride_webhooks.schema_version");
        if (PQresultStatus(v) != PGRES_TUPLES_OK || PQntuples(v) != 1) {
                snprintf(why, size, "the daemon's schema has no version: "
                         "run stride-webhooks migrate");
                return -ENOENT;
        }
        version = strtol(PQgetvalue(v, 0, 0), NULL, 10);
        if (version > STORE_SCHEMA_VERSION) {
                snprintf(why, size, "the daemon's schema is at version %ld, "
                         "newer than this stride-webhooks (%d): install the "
                         "newer stride-webhooks", version, STORE_SCHEMA_VERSION);
                return -EPROTO;
        }
        if (version != STORE_SCHEMA_VERSION) {
                snprintf(why, size, "the daemon's schema is at version %ld, "
                         "this stride-webhooks needs %d: run stride-webhooks "
                         "migrate", version, STORE_SCHEMA_VERSION);
                return -EPROTO;
        }
        return 0;
}

static int setup_session(PGconn *conn, char *why, size_t size)
{
        _cleanup_(pqclearp) PGresult *p = NULL;
        char msg[160];
        int r;

        if (exec_ok(conn, "SET statement_timeout = '5s'; "
                    "SET lock_timeout = '2s'; "
                    "SET application_name = 'stride-webhooks'",
                    msg, sizeof(msg)) < 0) {
                snprintf(why, size, "database unavailable: %s", msg);
                return -EIO;
        }

        r = check_schema(conn, why, size);
        if (r < 0)
                return r;

        p = PQprepare(conn, "ingest", ingest_sql, STORE_INGEST_PARAMS, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
                first_line(PQresultErrorMessage(p), msg, sizeof(msg));
                snprintf(why, size, "the daemon's schema does not match "
                         "(%s): run stride-webhooks migrate", msg);
                return -EPROTO;
        }
        return 0;
}

static void store_connect(Store *s)
{
        char why[sizeof(s->why)];
        PGconn *conn;

        conn = connect_db(s->database_url, why, sizeof(why));
        if (conn && setup_session(conn, why, sizeof(why)) < 0) {
                PQfinish(conn);
                conn = NULL;
        }
        if (!conn) {
                went_down(s, why);
                return;
        }
        s->conn = conn;
        went_up(s);
}

/* ---- one batch ---- */

static void call_free(Call *c)
{
        free(c->description);
        free(c->error_trace);
}

static const char *nonempty(const char *s)
{
        return s && *s ? s : NULL;
}

static int call_prepare(const Store *s, const Delivery *d, Call *c)
{
        const Alert *a = &d->alert;
        const char **v = c->values;

        assert((size_t) a->event < sizeof(event_names) / sizeof(event_names[0]));
        c->description = alert_render_description(a);
        c->error_trace = alert_render_error_trace(a, 0);
        if (!c->description || !c->error_trace)
                return -ENOMEM;

        memcpy(c->digest, "\\x", 2);
        text_hex(d->digest, sizeof(d->digest), c->digest + 2);
        snprintf(c->event_ms, sizeof(c->event_ms), "%" PRId64, a->timestamp_ms);

        v[0] = provider_name(a->provider);
        v[1] = event_names[a->event];
        v[2] = a->occurrence ? "true" : "false";
        v[3] = occurrence_key(a->occurrence_id, c->occurrence_id);
        v[4] = a->external_id;
        v[5] = nonempty(d->url_project);
        v[6] = nonempty(d->mapped_project);
        v[7] = nonempty(s->stride_project);
        v[8] = nonempty(s->stride_reporter);
        v[9] = nonempty(s->auto_resolve_status);
        v[10] = nonempty(s->reopen_status);
        v[11] = s->replay_window;
        v[12] = c->digest;
        v[13] = nonempty(d->remote_addr);
        v[14] = a->title;
        v[15] = severity_priority(a->severity);
        v[16] = c->description;
        v[17] = c->error_trace;
        v[18] = a->link;
        v[19] = c->event_ms;
        v[20] = a->actor;
        v[21] = a->kind;
        v[22] = provider_display_name(a->provider);
        return 0;
}

static void copy_field(char *out, size_t size, const PGresult *r, int col)
{
        snprintf(out, size, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

static void take_result(Delivery *d, const PGresult *r)
{
        d->status = (int) strtol(PQgetvalue(r, 0, 0), NULL, 10);
        d->action = action_from_name(PQgetvalue(r, 0, 1));
        d->is_new = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        d->duplicate = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
        copy_field(d->issue_id, sizeof(d->issue_id), r, 4);
        copy_field(d->issue_key, sizeof(d->issue_key), r, 5);
        d->occurrences = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
        copy_field(d->error, sizeof(d->error), r, 7);
        if (d->status < 200 || d->status >= 300)
                d->action = ACTION_FAILED;
}

/* Errors that go away by themselves, or once an operator fixes the
 * schema or the grants: 503, so the alert is kept and retried. Anything
 * else is the database refusing this alert: 500. */
static bool sqlstate_transient(const char *state)
{
        static const char *const classes[] = { "08", "40", "42", "53", "55", "57", "58", "XX" };

        if (!state || strlen(state) != 5)
                return true;
        for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
                if (strncmp(state, classes[i], 2) == 0)
                        return true;
        return false;
}

typedef enum {
        CALL_DONE,     /* the delivery has its answer */
        CALL_FAILED,   /* this delivery failed; roll back to the savepoint */
        CALL_BUSY,     /* a lock or statement timeout: the rest would wait too */
        CALL_BROKEN,   /* the connection is gone */
} CallOutcome;

/* lock_not_available and query_canceled: what lock_timeout and
 * statement_timeout raise. */
static bool sqlstate_busy(const char *state)
{
        return state && (!strcmp(state, "55P03") || !strcmp(state, "57014"));
}

/* Calls ingest() for one delivery. When the connection broke, *msg says
 * how. */
static CallOutcome call_run(Store *s, Delivery *d, const Call *c,
                            char *msg, size_t size, bool *ret_reset)
{
        _cleanup_(pqclearp) PGresult *r = NULL;
        const char *state;
        char error[sizeof(d->error)];

        r = PQexecPrepared(s->conn, "ingest", STORE_INGEST_PARAMS, c->values,
                           NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                take_result(d, r);
                return CALL_DONE;
        }
        first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn),
                   msg, size);
        if (PQstatus(s->conn) == CONNECTION_BAD)
                return CALL_BROKEN;

        state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (sqlstate_transient(state)) {
                snprintf(error, sizeof(error), "database unavailable: %s", msg);
                fail(d, 503, error);
                /* A schema or grant problem: check it again on a new
                 * connection rather than failing every batch the same way. */
                if (state && strncmp(state, "42", 2) == 0)
                        *ret_reset = true;
                if (sqlstate_busy(state))
                        return CALL_BUSY;
        } else {
                snprintf(error, sizeof(error),
                         "database rejected the alert: %s (SQLSTATE %s)", msg, state);
                fail(d, 500, error);
        }
        return CALL_FAILED;
}

/* Runs every call in one transaction, each behind a savepoint so that a
 * failing one does not take the others down. Returns -EPIPE when the
 * connection broke; then no result of the batch stands. */
static int batch_run(Store *s, Delivery *batch, Call *calls, char *why, size_t size)
{
        bool reset = false;
        size_t i = 0;
        char msg[200], busy[sizeof(batch->error)] = "";

        if (exec_ok(s->conn, "BEGIN; SAVEPOINT delivery", msg, sizeof(msg)) < 0)
                goto broken;

        for (Delivery *d = batch; d; d = d->next_, i++) {
                const char *next;

                if (busy[0]) {
                        fail(d, 503, busy);
                        continue;
                }
                if (!calls[i].values[0]) {
                        fail(d, 503, "out of memory rendering the issue");
                        continue;
                }
                switch (call_run(s, d, &calls[i], msg, sizeof(msg), &reset)) {
                case CALL_DONE:
                        next = "RELEASE SAVEPOINT delivery; SAVEPOINT delivery";
                        break;
                case CALL_BUSY:
                        /* Behind a held lock every delivery would wait its
                         * own lock_timeout: hand the rest back at once,
                         * for the spool and its replay. */
                        snprintf(busy, sizeof(busy), "%s", d->error);
                        next = "ROLLBACK TO SAVEPOINT delivery";
                        break;
                case CALL_FAILED:
                        next = "ROLLBACK TO SAVEPOINT delivery";
                        break;
                default:
                        goto broken;
                }
                if (exec_ok(s->conn, next, msg, sizeof(msg)) < 0)
                        goto broken;
        }

        if (exec_ok(s->conn, "COMMIT", msg, sizeof(msg)) < 0)
                goto broken;
        if (reset) {
                disconnect(s);
                went_down(s, "the daemon's schema or grants changed: "
                          "run stride-webhooks migrate");
        }
        return 0;

broken:
        snprintf(why, size, "database unavailable: %s", msg);
        return -EPIPE;
}

static void batch_store(Store *s, Delivery *batch)
{
        _cleanup_(freep) Call *calls = NULL;
        char why[sizeof(s->why)];
        size_t n = 0, i = 0;

        for (Delivery *d = batch; d; d = d->next_)
                n++;
        calls = calloc(n, sizeof(Call));

        for (Delivery *d = batch; calls && d; d = d->next_, i++)
                if (call_prepare(s, d, &calls[i]) < 0)
                        calls[i].values[0] = NULL;

        if (!calls)
                snprintf(why, sizeof(why), "out of memory");
        else if (!s->conn)
                snprintf(why, sizeof(why), "%s", s->why);
        else if (batch_run(s, batch, calls, why, sizeof(why)) == 0)
                why[0] = '\0';
        else {
                disconnect(s);
                went_down(s, why);
        }

        for (Delivery *d = batch; why[0] && d; d = d->next_)
                fail(d, 503, why);
        for (i = 0; calls && i < n; i++)
                call_free(&calls[i]);
}

static void batch_finish(Store *s, Delivery *batch)
{
        while (batch) {
                Delivery *next = batch->next_;

                batch->next_ = NULL;
                if (batch->done)
                        batch->done(batch, batch->done_data);
                else
                        s->done(batch, s->data);
                batch = next;
        }
}

/* ---- the thread ---- */

/* Takes the first batch_max deliveries of the queue, or all of them. */
static Delivery *take_queued(Store *s)
{
        Delivery *batch = s->head, *last = s->head;

        for (unsigned n = 1; last && n != s->batch_max; n++)
                last = last->next_;
        if (!last) {
                s->head = s->tail = NULL;
                return batch;
        }
        s->head = last->next_;
        if (!s->head)
                s->tail = NULL;
        last->next_ = NULL;
        return batch;
}

/* Waits for work: what is queued, or NULL when a reconnection is due or
 * the store stops with nothing queued. */
static Delivery *take_batch(Store *s, bool *ret_stop)
{
        Delivery *batch;

        pthread_mutex_lock(&s->lock);
        while (!s->head && !s->stopping) {
                if (!s->conn) {
                        if (pthread_cond_timedwait(&s->wake, &s->lock,
                                                   &s->next_attempt) == ETIMEDOUT)
                                break;
                } else
                        pthread_cond_wait(&s->wake, &s->lock);
        }
        batch = take_queued(s);
        *ret_stop = s->stopping && !batch;
        pthread_mutex_unlock(&s->lock);
        return batch;
}

static void *store_main(void *arg)
{
        Store *s = arg;

        for (;;) {
                Delivery *batch;
                bool stop;

                batch = take_batch(s, &stop);
                if (stop)
                        break;
                if (!s->conn && attempt_due(s))
                        store_connect(s);
                if (batch) {
                        batch_store(s, batch);
                        batch_finish(s, batch);
                }
        }
        disconnect(s);
        atomic_store(&s->connected, false);
        return NULL;
}

static void store_free(Store *s)
{
        if (!s)
                return;
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s->database_url);
        free(s->stride_project);
        free(s->stride_reporter);
        free(s->auto_resolve_status);
        free(s->reopen_status);
        free(s);
}

/* STORE_BATCH_MAX caps the deliveries of one transaction; unset or 0,
 * one transaction takes everything queued (group commit). It is a knob
 * for the benchmark (tests/bench), which compares group commit with
 * STORE_BATCH_MAX=1, one transaction per delivery; not a setting for
 * production. */
static unsigned batch_max_from_env(void)
{
        const char *v = getenv("STORE_BATCH_MAX");
        char *end;
        unsigned long n;

        if (!v || !*v)
                return 0;
        errno = 0;
        n = strtoul(v, &end, 10);
        return errno || *end || n > UINT_MAX ? 0 : (unsigned) n;
}

static Store *store_new(const Config *c, StoreDoneCb done, void *data)
{
        pthread_condattr_t attr;
        bool failed = false;
        Store *s;

        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->database_url = strdup_or_null(c->database_url ? c->database_url
                                         : "postgresql:///stride", &failed);
        s->stride_project = strdup_or_null(c->stride_project, &failed);
        s->stride_reporter = strdup_or_null(c->stride_reporter, &failed);
        s->auto_resolve_status = strdup_or_null(c->auto_resolve_status, &failed);
        s->reopen_status = strdup_or_null(c->reopen_status, &failed);
        snprintf(s->replay_window, sizeof(s->replay_window), "%u",
                 c->replay_window_sec > INT_MAX ? INT_MAX : c->replay_window_sec);
        s->done = done;
        s->data = data;
        s->batch_max = batch_max_from_env();
        s->state = DB_UNKNOWN;
        s->backoff_ms = STORE_BACKOFF_MIN_MS;
        snprintf(s->why, sizeof(s->why), "database unavailable: not connected yet");
        clock_gettime(CLOCK_MONOTONIC, &s->next_attempt);
        atomic_init(&s->connected, false);
        atomic_init(&s->down, false);

        /* The reconnection timer must not jump with the wall clock. */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&s->wake, &attr);
        pthread_condattr_destroy(&attr);
        pthread_mutex_init(&s->lock, NULL);

        if (failed) {
                store_free(s);
                return NULL;
        }
        return s;
}

int store_start(Store **ret, const Config *c, StoreDoneCb done, void *data)
{
        Store *s;
        int r;

        assert(ret && c && done);

        s = store_new(c, done, data);
        if (!s)
                return -ENOMEM;
        r = pthread_create(&s->thread, NULL, store_main, s);
        if (r != 0) {
                store_free(s);
                return -r;
        }
        *ret = s;
        return 0;
}

void store_submit(Store *s, Delivery *d)
{
        assert(s && d);

        d->next_ = NULL;
        pthread_mutex_lock(&s->lock);
        assert(!s->stopping);
        if (s->tail)
                s->tail->next_ = d;
        else
                s->head = d;
        s->tail = d;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
}

void store_stop(Store *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        store_free(s);
}

bool store_connected(const Store *s)
{
        return s && atomic_load(&s->connected);
}

bool store_down(const Store *s)
{
        return !s || atomic_load(&s->down);
}

/* ---- migrate ---- */

static bool sql_dir_has_files(const char *dir)
{
        char path[PATH_MAX];

        if (snprintf(path, sizeof(path), "%s/daemon-schema.sql", dir) >= (int) sizeof(path))
                return false;
        return access(path, R_OK) == 0;
}

/* Where the .sql files are: $STRIDE_SQL_DIR, else beside the installed
 * binary, else where meson installs them, else the source tree. */
static int sql_dir_find(char *out, size_t size, char **ret_error)
{
        const char *env = getenv("STRIDE_SQL_DIR");
        char exe[PATH_MAX];
        ssize_t n;

        if (env && *env) {
                snprintf(out, size, "%s", env);
                if (sql_dir_has_files(out))
                        return 0;
                if (asprintf(ret_error, "STRIDE_SQL_DIR=%s holds no "
                             "daemon-schema.sql", env) < 0)
                        *ret_error = NULL;
                return -ENOENT;
        }

        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                snprintf(out, size, "%s/../share/stride-webhooks/sql", dirname(exe));
                if (sql_dir_has_files(out))
                        return 0;
        }
#ifdef SQL_DIR
        snprintf(out, size, "%s", SQL_DIR);
        if (sql_dir_has_files(out))
                return 0;
#endif
        snprintf(out, size, "src/sql");
        if (sql_dir_has_files(out))
                return 0;

        if (asprintf(ret_error, "cannot find daemon-schema.sql: set "
                     "STRIDE_SQL_DIR to the folder that holds it") < 0)
                *ret_error = NULL;
        return -ENOENT;
}

static int read_text(const char *path, char **ret)
{
        _cleanup_(freep) char *buf = NULL;
        FILE *f;
        long n = 0;
        int r = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
                r = -errno;
        else if (!(buf = malloc((size_t) n + 1)))
                r = -ENOMEM;
        else if (fread(buf, 1, (size_t) n, f) != (size_t) n)
                r = -EIO;
        fclose(f);
        if (r < 0)
                return r;
        buf[n] = '\0';
        *ret = buf;
        buf = NULL;
        return 0;
}

/* The line of a 1-based character position in the text we sent. */
static unsigned line_of(const char *text, const char *position)
{
        long pos = position ? strtol(position, NULL, 10) : 0;
        unsigned line = 1;

        for (long i = 0; i < pos - 1 && text[i]; i++)
                if (text[i] == '\n')
                        line++;
        return line;
}

static int run_sql_file(PGconn *conn, const char *dir, const char *name, char **ret_error)
{
        _cleanup_(freep) char *text = NULL;
        _cleanup_(pqclearp) PGresult *r = NULL;
        char path[PATH_MAX], msg[200];
        ExecStatusType st;
        int k;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        k = read_text(path, &text);
        if (k < 0) {
                if (asprintf(ret_error, "cannot read %s: %s", path, strerror(-k)) < 0)
                        *ret_error = NULL;
                return k;
        }

        r = PQexec(conn, text);
        st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                return 0;

        first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), msg, sizeof(msg));
        if (asprintf(ret_error, "%s:%u: %s", path,
                     line_of(text, PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION)),
                     msg) < 0)
                *ret_error = NULL;
        return -EIO;
}

int store_migrate(const Config *c, bool stride_schema, char **ret_error)
{
        _cleanup_(pqfinishp) PGconn *conn = NULL;
        char dir[PATH_MAX], why[256];
        int r;

        assert(c && ret_error);
        *ret_error = NULL;

        r = sql_dir_find(dir, sizeof(dir), ret_error);
        if (r < 0)
                return r;

        conn = connect_db(c->database_url ? c->database_url : "postgresql:///stride",
                          why, sizeof(why));
        if (!conn) {
                *ret_error = strdup(why);
                return -ECONNREFUSED;
        }

        if (stride_schema) {
                r = run_sql_file(conn, dir, "stride-schema.sql", ret_error);
                if (r < 0)
                        return r;
        }
        return run_sql_file(conn, dir, "daemon-schema.sql", ret_error);
}

void delivery_free(Delivery *d)
{
        if (!d)
                return;
        alert_free(&d->alert);
        free(d->url_project);
        free(d->mapped_project);
        free(d);
}

/* ---- stride-webhooks check ----
 *
 * The questions `stride-webhooks check` asks the database, answered
 * synchronously on a connection of their own. Each finding goes to the
 * caller's callback with what to do about it; nothing here logs. */

typedef struct {
        PGconn *conn;
        StoreCheckCb report;
        void *data;
} Checker;

static void report(const Checker *k, int priority, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

static void report(const Checker *k, int priority, const char *format, ...)
{
        char line[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(line, sizeof(line), format, ap);
        va_end(ap);
        k->report(priority, line, k->data);
}

/* A one-row query with text parameters; NULL after reporting why. */
static PGresult *check_query(const Checker *k, const char *sql, int n,
                             const char *const *params)
{
        PGresult *r = PQexecParams(k->conn, sql, n, NULL, params, NULL, NULL, 0);
        char msg[200];

        if (PQresultStatus(r) == PGRES_TUPLES_OK)
                return r;
        first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(k->conn),
                   msg, sizeof(msg));
        report(k, LOG_ERR, "database query failed: %s", msg);
        PQclear(r);
        return NULL;
}

static void check_connected(const Checker *k)
{
        const char *host = PQhost(k->conn);

        report(k, LOG_INFO, "database %s reachable on %s as role %s",
               PQdb(k->conn), host && *host ? host : "the default socket",
               PQuser(k->conn));
}

/* The privileges README lists for the daemon's role, and those on the
 * daemon's own tables (which it has when it ran migrate itself). */
static const char grants_sql[] =
        "SELECT t, p FROM (VALUES ('projects', 'SELECT'), ('users', 'SELECT'), "
        "('issues', 'SELECT'), ('issues', 'INSERT'), ('issues', 'UPDATE'), "
        "('comments', 'INSERT')) AS g(t, p) "
        "WHERE NOT has_table_privilege(t, p) "
        "UNION ALL "
        "SELECT 'stride_webhooks.' || c.relname, p "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE')) AS g(p) "
        "WHERE n.nspname = 'stride_webhooks' AND c.relkind IN ('r', 'p') "
        "AND NOT has_table_privilege(c.oid, p) "
        "ORDER BY 1, 2";

static bool check_grants(const Checker *k)
{
        _cleanup_(pqclearp) PGresult *r = check_query(k, grants_sql, 0, NULL);
        const char *role = PQuser(k->conn);
        int n;

        if (!r)
                return false;
        n = PQntuples(r);
        for (int i = 0; i < n; i++)
                report(k, LOG_ERR, "role %s may not %s on %s: GRANT %s ON %s "
                       "TO \"%s\", as the owner of the table",
                       role, PQgetvalue(r, i, 1), PQgetvalue(r, i, 0),
                       PQgetvalue(r, i, 1), PQgetvalue(r, i, 0), role);
        if (n == 0)
                report(k, LOG_INFO, "role %s has the privileges the daemon "
                       "needs", role);
        return n == 0;
}

/* The project deliveries go to when neither ?project= nor PROJECT_MAP
 * chooses, decided by the function ingest() itself uses. */
static void check_default_project(const Checker *k, const char *stride_project)
{
        static const char sql[] =
                "SELECT o_key, o_error, (SELECT count(*) FROM projects) "
                "FROM stride_webhooks.find_project(NULL, NULL, $1)";
        const char *params[] = { stride_project };
        _cleanup_(pqclearp) PGresult *r = check_query(k, sql, 1, params);

        if (!r || PQntuples(r) != 1)
                return;
        if (!PQgetisnull(r, 0, 0))
                report(k, LOG_INFO, "deliveries whose URL names no project "
                       "go to project %s", PQgetvalue(r, 0, 0));
        else if (stride_project)
                report(k, LOG_ERR, "STRIDE_PROJECT=%s is not the key of a "
                       "Stride project: set it to an existing project's key",
                       stride_project);
        else if (strcmp(PQgetvalue(r, 0, 2), "0") == 0)
                report(k, LOG_ERR, "Stride has no project yet: create one "
                       "in Stride, then deliveries go to it");
        else
                report(k, LOG_WARNING, "Stride has several projects and "
                       "STRIDE_PROJECT is unset: deliveries need ?project=KEY "
                       "in the URL or a PROJECT_MAP entry, else they get 422");
}

static void check_mapped_project(const Checker *k, const char *key)
{
        static const char sql[] = "SELECT 1 FROM projects WHERE \"key\" = $1";
        const char *params[] = { key };
        _cleanup_(pqclearp) PGresult *r = check_query(k, sql, 1, params);

        if (r && PQntuples(r) == 0)
                report(k, LOG_ERR, "PROJECT_MAP names project %s, which is "
                       "not the key of a Stride project: correct the entry",
                       key);
}

static void check_reporter(const Checker *k, const char *stride_reporter)
{
        static const char sql[] =
                "SELECT f.o_error, u.\"username\" "
                "FROM stride_webhooks.find_reporter($1) f "
                "LEFT JOIN users u ON u.\"id\" = f.o_id";
        const char *params[] = { stride_reporter };
        _cleanup_(pqclearp) PGresult *r = check_query(k, sql, 1, params);

        if (!r || PQntuples(r) != 1)
                return;
        if (!PQgetisnull(r, 0, 0))
                report(k, LOG_ERR, "%s", PQgetvalue(r, 0, 0));
        else
                report(k, LOG_INFO, "new issues are reported by Stride user %s",
                       PQgetvalue(r, 0, 1));
}

int store_check(const Config *c, const char *const *project_keys,
                size_t n_keys, StoreCheckCb report_cb, void *data)
{
        _cleanup_(pqfinishp) PGconn *conn = NULL;
        char why[256];
        Checker k = { .report = report_cb, .data = data };

        assert(c && report_cb);

        conn = connect_db(c->database_url ? c->database_url : "postgresql:///stride",
                          why, sizeof(why));
        if (!conn) {
                report(&k, LOG_ERR, "%s: check DATABASE_URL, that PostgreSQL "
                       "runs, and that it lets this role in", why);
                return -ECONNREFUSED;
        }
        k.conn = conn;
        check_connected(&k);

        if (setup_session(conn, why, sizeof(why)) < 0) {
                report(&k, LOG_ERR, "%s", why);
                return -EPROTO;
        }
        report(&k, LOG_INFO, "schema stride_webhooks is at version %d and "
               "Stride's tables are there", STORE_SCHEMA_VERSION);

        if (!check_grants(&k))
                return -EPROTO;
        check_default_project(&k, nonempty(c->stride_project));
        for (size_t i = 0; i < n_keys; i++)
                check_mapped_project(&k, project_keys[i]);
        check_reporter(&k, nonempty(c->stride_reporter));
        return 0;
}
