/* store.c against a real PostgreSQL: the schema, the issue upsert, key
 * allocation, redeliveries and group commit. Needs
 * STRIDE_TEST_DATABASE_URL (a role that may create databases); creates
 * its own database there and drops it at the end. Skips (77) without. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check.h"
#include "pg_check.h"
#include "store.h"
#include "text.h"

static PGconn *db;            /* the test's own connection */
static char *test_url;        /* conninfo of the test database */
static int next_shop = 1;     /* the SHOP key the next created issue gets */
static unsigned digest_seq;

/* ---- waiting for the store ---- */

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;

static void on_done(Delivery *d, void *data)
{
        (void) d;
        (void) data;
        pthread_mutex_lock(&done_lock);
        done_count++;
        pthread_cond_broadcast(&done_cond);
        pthread_mutex_unlock(&done_lock);
}

static void wait_done(int target)
{
        pthread_mutex_lock(&done_lock);
        while (done_count < target)
                pthread_cond_wait(&done_cond, &done_lock);
        pthread_mutex_unlock(&done_lock);
}

static void sleep_ms(long ms)
{
        struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

        nanosleep(&t, NULL);
}

/* ---- the test's own SQL ---- */

static void sql(const char *format, ...) __attribute__((format(printf, 1, 2)));
static const char *q(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void sql(const char *format, ...)
{
        char text[4096];
        PGresult *r;
        va_list ap;

        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);
        r = PQexec(db, text);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
                fprintf(stderr, "SQL failed: %s\n%s", text, PQresultErrorMessage(r));
                exit(1);
        }
        PQclear(r);
}

/* The first column of the first row ("(none)" without a row, "(null)"
 * for NULL), in one of a few rotating buffers. */
static const char *q(const char *format, ...)
{
        static char bufs[8][2048];
        static unsigned next;
        char text[4096], *out = bufs[next++ % 8];
        PGresult *r;
        va_list ap;

        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);
        r = PQexec(db, text);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                fprintf(stderr, "query failed: %s\n%s", text, PQresultErrorMessage(r));
                exit(1);
        }
        snprintf(out, sizeof(bufs[0]), "%s",
                 PQntuples(r) == 0 ? "(none)" :
                 PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
        PQclear(r);
        return out;
}

static long qn(const char *query)
{
        return strtol(q("%s", query), NULL, 10);
}

/* ---- deliveries ---- */

static Delivery *delivery(AlertEvent ev, const char *external_id,
                          const char *occurrence_id, int64_t ts)
{
        Delivery *d = calloc(1, sizeof(*d));
        Alert *a = &d->alert;
        unsigned n = ++digest_seq;

        a->provider = PROVIDER_SENTRY;
        a->event = ev;
        a->occurrence = ev == ALERT_OPEN && occurrence_id;
        a->severity = SEVERITY_HIGH;
        a->timestamp_ms = ts;
        alert_set(&a->kind, ev == ALERT_OPEN ? "event_alert" :
                  ev == ALERT_RESOLVE ? "resolved" : "issue");
        alert_set(&a->external_id, external_id);
        alert_set(&a->occurrence_id, occurrence_id);
        alert_set(&a->title, "TypeError: cart is undefined");
        alert_set(&a->message, "cart is undefined");
        alert_set(&a->culprit, "checkout/cart.js in total");
        alert_set(&a->stack_trace, "at total (cart.js:10)\nat main (app.js:1)");
        alert_set(&a->environment, "production");
        memcpy(d->digest, &n, sizeof(n));
        snprintf(d->remote_addr, sizeof(d->remote_addr), "192.0.2.7");
        return d;
}

/* The digest as a bytea literal, in one of a few rotating buffers. */
static const char *digest_hex(const Delivery *d)
{
        static char bufs[4][2 + 64 + 1];
        static unsigned next;
        char *out = bufs[next++ % 4];

        memcpy(out, "\\x", 2);
        text_hex(d->digest, sizeof(d->digest), out + 2);
        return out;
}

/* Submits and waits for the answer. */
static Delivery *run(Store *s, Delivery *d)
{
        int target;

        pthread_mutex_lock(&done_lock);
        target = done_count + 1;
        pthread_mutex_unlock(&done_lock);
        store_submit(s, d);
        wait_done(target);
        return d;
}

static const char *next_key(void)
{
        static char key[32];

        snprintf(key, sizeof(key), "SHOP-%d", next_shop++);
        return key;
}

static Config config_for(const char *url)
{
        Config c = { 0 };

        c.database_url = (char *) url;
        c.replay_window_sec = 86400;
        c.auto_resolve_status = (char *) "Done";
        return c;
}

static Store *start(const Config *c)
{
        Store *s = NULL;

        if (store_start(&s, c, on_done, NULL) < 0) {
                fprintf(stderr, "store_start failed\n");
                exit(1);
        }
        return s;
}

static bool wait_connected(Store *s)
{
        for (int i = 0; i < 200 && !store_connected(s); i++)
                sleep_ms(50);
        return store_connected(s);
}

/* ---- the tests ---- */

static void test_unusable_databases(void)
{
        Config c = config_for("host=/nonexistent/stride-webhooks dbname=x");
        Store *s = start(&c);
        Delivery *d = run(s, delivery(ALERT_OPEN, "x", NULL, 0));

        check_int(d->status, 503);
        check_int(d->action, ACTION_FAILED);
        check_contains(d->error, "database unavailable: ");
        check(!store_connected(s));
        delivery_free(d);
        store_stop(s);

        /* Reachable, but not migrated yet. */
        c = config_for(test_url);
        s = start(&c);
        d = run(s, delivery(ALERT_OPEN, "x", NULL, 0));
        check_int(d->status, 503);
        check_contains(d->error, "run stride-webhooks migrate");
        check(!store_connected(s));
        delivery_free(d);
        store_stop(s);
}

/* What migrate says when it cannot: which file, which line. */
static void test_migrate_errors(void)
{
        Config c = config_for(test_url);
        char dir[] = "/tmp/test_store_sql_XXXXXX", path[64];
        char *saved = strdup(getenv("STRIDE_SQL_DIR"));
        char *error = NULL;
        FILE *f;

        setenv("STRIDE_SQL_DIR", "/nonexistent", 1);
        check_int(store_migrate(&c, false, &error), -ENOENT);
        check_contains(error, "STRIDE_SQL_DIR=/nonexistent");
        free(error);

        check(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/daemon-schema.sql", dir);
        f = fopen(path, "w");
        fputs("SELECT 1;\nSELEC 2;\n", f);
        fclose(f);
        setenv("STRIDE_SQL_DIR", dir, 1);
        check_int(store_migrate(&c, false, &error), -EIO);
        check_contains(error, "daemon-schema.sql:2: ERROR:  syntax error");
        free(error);
        unlink(path);
        rmdir(dir);
        setenv("STRIDE_SQL_DIR", saved, 1);
        free(saved);

        c.database_url = (char *) "host=/nonexistent/stride-webhooks dbname=x";
        check_int(store_migrate(&c, false, &error), -ECONNREFUSED);
        check_contains(error, "database unavailable: ");
        free(error);
}

static void test_migrate(void)
{
        Config c = config_for(test_url);
        char *error = NULL;

        check_int(store_migrate(&c, true, &error), 0);
        check_str(error, NULL);
        free(error);
        /* Idempotent. */
        check_int(store_migrate(&c, true, &error), 0);
        free(error);

        check_str(q("SELECT version FROM stride_webhooks.schema_version"), "1");
        check_str(q("SELECT data_type || ' ' || datetime_precision "
                    "FROM information_schema.columns WHERE table_name = "
                    "'issues' AND column_name = 'createdAt'"),
                  "timestamp without time zone 3");
        check_str(q("SELECT character_maximum_length FROM "
                    "information_schema.columns WHERE table_name = 'issues' "
                    "AND column_name = 'title'"), "255");
        check_str(q("SELECT column_default FROM information_schema.columns "
                    "WHERE table_name = 'issues' AND column_name = 'type'"),
                  "'Task'::\"IssueType\"");

        sql("INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", "
            "\"updatedAt\") VALUES ('p-shop', 'SHOP', 'Shop', '', now())");
        /* The oldest user is no Admin: the reporter is the oldest Admin. */
        sql("INSERT INTO users (\"id\", \"email\", \"username\", "
            "\"passwordHash\", \"role\", \"createdAt\", \"updatedAt\") VALUES "
            "('u-member', 'm@example.com', 'member', 'x', 'Member', "
            "'2020-01-01', now()), "
            "('u-admin', 'admin@example.com', 'admin', 'x', 'Admin', "
            "'2021-01-01', now()), "
            "('u-ops', 'Ops@Example.com', 'ops', 'x', 'Admin', "
            "'2022-01-01', now())");
}

static void check_issue_row(const char *key)
{
        check_str(q("SELECT \"title\" FROM issues WHERE \"key\" = '%s'", key),
                  "TypeError: cart is undefined");
        check_str(q("SELECT \"type\" FROM issues WHERE \"key\" = '%s'", key), "Bug");
        check_str(q("SELECT \"status\" FROM issues WHERE \"key\" = '%s'", key), "Backlog");
        check_str(q("SELECT \"priority\" FROM issues WHERE \"key\" = '%s'", key), "High");
        check_str(q("SELECT \"reporterId\" FROM issues WHERE \"key\" = '%s'", key), "u-admin");
        check_str(q("SELECT \"projectId\" FROM issues WHERE \"key\" = '%s'", key), "p-shop");
        check_str(q("SELECT \"createdAt\" = \"updatedAt\" AND \"closedAt\" IS NULL "
                    "FROM issues WHERE \"key\" = '%s'", key), "t");
        check_contains(q("SELECT \"description\" FROM issues WHERE \"key\" = '%s'", key),
                       "cart is undefined");
        check_str(q("SELECT \"customFields\" #>> '{source,externalId}' FROM issues "
                    "WHERE \"key\" = '%s'", key), "sentry:i:issue:1");
        check_str(q("SELECT \"customFields\" #>> '{errorTrace,service}' FROM issues "
                    "WHERE \"key\" = '%s'", key), "Sentry");
}

static const char *trace_field(const char *key, const char *path)
{
        return q("SELECT \"customFields\" #>> '%s' FROM issues WHERE \"key\" = '%s'",
                 path, key);
}

static void test_lifecycle(Store *s)
{
        const char *ext = "sentry:i:issue:1";
        Delivery *d, *again;
        char updated[64];

        /* No project anywhere, one project in Stride: that one. */
        d = run(s, delivery(ALERT_OPEN, ext, "e1", 0));
        check_int(d->status, 201);
        check_int(d->action, ACTION_CREATED);
        check(d->is_new);
        check(!d->duplicate);
        check_str(d->issue_key, next_key());
        check_int(d->occurrences, 1);
        check_int(strlen(d->issue_id), 36);
        check_str(q("SELECT \"id\" FROM issues WHERE \"key\" = 'SHOP-1'"), d->issue_id);
        check_issue_row("SHOP-1");
        check_str(trace_field("SHOP-1", "{errorTrace,occurrenceCount}"), "1");
        check_str(q("SELECT jsonb_array_length(\"customFields\" -> 'errorTraces') "
                    "FROM issues WHERE \"key\" = 'SHOP-1'"), "0");
        check_str(q("SELECT status || ' ' || action || ' ' || issue_key || ' ' || "
                    "remote_addr || ' ' || occurrences FROM stride_webhooks.deliveries "
                    "WHERE digest = '%s'", digest_hex(d)), "201 created SHOP-1 192.0.2.7 1");
        check_str(q("SELECT state || ' ' || occurrences FROM stride_webhooks.incidents "
                    "WHERE external_id = '%s'", ext), "open 1");
        delivery_free(d);

        /* A second occurrence. */
        d = run(s, delivery(ALERT_OPEN, ext, "e2", 0));
        check_int(d->status, 200);
        check_int(d->action, ACTION_UPDATED);
        check(!d->is_new);
        check_str(d->issue_key, "SHOP-1");
        check_int(d->occurrences, 2);
        check_str(trace_field("SHOP-1", "{errorTrace,occurrenceCount}"), "2");
        check_str(q("SELECT jsonb_array_length(\"customFields\" -> 'errorTraces') "
                    "FROM issues WHERE \"key\" = 'SHOP-1'"), "1");
        check_str(trace_field("SHOP-1", "{errorTraces,0,occurrenceCount}"), "1");
        snprintf(updated, sizeof(updated), "%s",
                 q("SELECT \"updatedAt\" FROM issues WHERE \"key\" = 'SHOP-1'"));

        /* The same body again: the first answer, nothing changed. */
        again = delivery(ALERT_OPEN, ext, "e3", 0);
        memcpy(again->digest, d->digest, sizeof(d->digest));
        run(s, again);
        check_int(again->status, 200);
        check(again->duplicate);
        check_int(again->action, ACTION_UPDATED);
        check_str(again->issue_key, "SHOP-1");
        check_str(again->issue_id, d->issue_id);
        check_int(again->occurrences, 2);
        check_str(q("SELECT occurrences FROM stride_webhooks.incidents "
                    "WHERE external_id = '%s'", ext), "2");
        check_str(q("SELECT \"updatedAt\" FROM issues WHERE \"key\" = 'SHOP-1'"), updated);
        check_str(q("SELECT count(*) FROM stride_webhooks.occurrences "
                    "WHERE occurrence_id = 'e3'"), "0");
        delivery_free(again);

        /* The same body, once the replay window is over: a new delivery. */
        sql("UPDATE stride_webhooks.deliveries SET received_at = received_at "
            "- interval '2 days' WHERE digest = '%s'", digest_hex(d));
        again = delivery(ALERT_OPEN, ext, "e2", 0);
        memcpy(again->digest, d->digest, sizeof(d->digest));
        run(s, again);
        check_int(again->status, 200);
        check(!again->duplicate);
        /* ... whose event was counted already (Sentry's event_alert and
         * error for one event). */
        check_int(again->occurrences, 2);
        check_str(trace_field("SHOP-1", "{errorTrace,occurrenceCount}"), "2");
        check_str(q("SELECT jsonb_array_length(\"customFields\" -> 'errorTraces') "
                    "FROM issues WHERE \"key\" = 'SHOP-1'"), "1");
        delivery_free(again);
        delivery_free(d);

        /* Resolved: a comment, and AUTO_RESOLVE_STATUS. */
        d = run(s, delivery(ALERT_RESOLVE, ext, NULL, 0));
        check_int(d->status, 200);
        check_int(d->action, ACTION_RESOLVED);
        check_str(d->issue_key, "SHOP-1");
        check_str(q("SELECT \"content\" || ' ' || \"isSystem\" || ' ' || \"userId\" "
                    "FROM comments c JOIN issues i ON i.\"id\" = c.\"issueId\" "
                    "WHERE i.\"key\" = 'SHOP-1'"), "Resolved in Sentry (resolved) true u-admin");
        check_str(q("SELECT \"status\" || ' ' || (\"closedAt\" IS NOT NULL) FROM issues "
                    "WHERE \"key\" = 'SHOP-1'"), "Done true");
        check_str(q("SELECT state FROM stride_webhooks.incidents WHERE external_id = '%s'",
                    ext), "resolved");
        delivery_free(d);

        /* Resolved again: no second comment. */
        d = run(s, delivery(ALERT_RESOLVE, ext, NULL, 0));
        check_int(d->status, 200);
        check_int(d->action, ACTION_RESOLVED);
        check_str(q("SELECT count(*) FROM comments"), "1");
        delivery_free(d);

        /* Fires again: reopened. */
        d = run(s, delivery(ALERT_OPEN, ext, "e4", 0));
        check_int(d->status, 200);
        check_int(d->action, ACTION_REOPENED);
        check_int(d->occurrences, 3);
        check_str(q("SELECT \"status\" || ' ' || (\"closedAt\" IS NULL) FROM issues "
                    "WHERE \"key\" = 'SHOP-1'"), "Backlog true");
        check_str(q("SELECT count(*) FROM comments WHERE \"content\" = "
                    "'Reopened: event_alert fired again in Sentry'"), "1");
        check_str(q("SELECT count(*) FROM comments"), "2");
        delivery_free(d);
}

static const char *last_comment(const char *key)
{
        return q("SELECT c.\"content\" FROM comments c JOIN issues i ON "
                 "i.\"id\" = c.\"issueId\" WHERE i.\"key\" = '%s' AND "
                 "c.\"isSystem\" ORDER BY c.\"createdAt\" DESC, c.\"id\" LIMIT 1 "
                 "OFFSET 0", key);
}

static void test_state_changes(Store *s)
{
        const char *ext = "sentry:i:issue:1";
        Delivery *d;

        sql("DELETE FROM comments");

        d = delivery(ALERT_ASSIGN, ext, NULL, 0);
        alert_set(&d->alert.actor, "Jane Doe");
        run(s, d);
        check_int(d->status, 200);
        check_int(d->action, ACTION_UPDATED);
        check_str(last_comment("SHOP-1"), "Assigned to Jane Doe in Sentry");
        delivery_free(d);

        sql("DELETE FROM comments");
        d = run(s, delivery(ALERT_ACKNOWLEDGE, ext, NULL, 0));
        check_int(d->status, 200);
        check_str(last_comment("SHOP-1"), "Acknowledged in Sentry");
        delivery_free(d);

        sql("DELETE FROM comments");
        d = delivery(ALERT_UPDATE, ext, NULL, 0);
        d->alert.severity = SEVERITY_CRITICAL;
        alert_set(&d->alert.release, "shop@2.0.1");
        free(d->alert.stack_trace);
        d->alert.stack_trace = NULL;
        run(s, d);
        check_int(d->status, 200);
        check_int(d->action, ACTION_UPDATED);
        check_int(d->occurrences, 3);
        check_str(q("SELECT \"priority\" FROM issues WHERE \"key\" = 'SHOP-1'"), "Critical");
        check_str(last_comment("SHOP-1"), "Priority changed from High to Critical in Sentry");
        check_str(trace_field("SHOP-1", "{errorTrace,release}"), "shop@2.0.1");
        /* What the update does not say, the stored trace keeps. */
        check_contains(trace_field("SHOP-1", "{errorTrace,stackTrace}"), "cart.js:10");
        check_str(trace_field("SHOP-1", "{errorTrace,occurrenceCount}"), "3");
        delivery_free(d);

        /* The same priority again: no comment. */
        sql("DELETE FROM comments");
        d = delivery(ALERT_UPDATE, ext, NULL, 0);
        d->alert.severity = SEVERITY_CRITICAL;
        run(s, d);
        check_int(d->status, 200);
        check_str(q("SELECT count(*) FROM comments"), "0");
        delivery_free(d);

        d = run(s, delivery(ALERT_MUTE, ext, NULL, 0));
        check_int(d->status, 200);
        check_str(last_comment("SHOP-1"), "Ignored in Sentry: recorded, not closed");
        check_str(q("SELECT state FROM stride_webhooks.incidents WHERE external_id = '%s'",
                    ext), "muted");
        check_str(q("SELECT \"status\" FROM issues WHERE \"key\" = 'SHOP-1'"), "Backlog");
        delivery_free(d);
}

static void test_resolve_before_trigger(Store *s)
{
        Delivery *d;
        const char *key;

        /* A resolve for an incident never seen: a tombstone, no issue. */
        d = run(s, delivery(ALERT_RESOLVE, "sentry:i:issue:2", NULL, 1700000002000));
        check_int(d->status, 200);
        check_int(d->action, ACTION_RECORDED);
        check(!d->is_new);
        check_str(d->issue_id, "");
        check_str(d->issue_key, "");
        check_str(q("SELECT count(*) FROM issues"), "1");
        check_str(q("SELECT state || ' ' || (issue_id IS NULL) FROM "
                    "stride_webhooks.incidents WHERE external_id = 'sentry:i:issue:2'"),
                  "resolved true");
        delivery_free(d);

        /* Its trigger, late: created, already resolved. */
        d = run(s, delivery(ALERT_OPEN, "sentry:i:issue:2", "f1", 1700000001000));
        key = next_key();
        check_int(d->status, 201);
        check_int(d->action, ACTION_CREATED);
        check(d->is_new);
        check_str(d->issue_key, key);
        check_str(q("SELECT \"status\" || ' ' || (\"closedAt\" IS NOT NULL) FROM issues "
                    "WHERE \"key\" = '%s'", key), "Done true");
        check_str(last_comment(key), "Resolved in Sentry before the alert arrived");
        check_str(q("SELECT state FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:2'"), "resolved");
        delivery_free(d);

        /* A trigger newer than the tombstone: a new firing, open. */
        d = run(s, delivery(ALERT_RESOLVE, "sentry:i:issue:3", NULL, 1700000001000));
        check_int(d->action, ACTION_RECORDED);
        delivery_free(d);
        d = run(s, delivery(ALERT_OPEN, "sentry:i:issue:3", "g1", 1700000009000));
        key = next_key();
        check_int(d->status, 201);
        check_str(d->issue_key, key);
        check_str(q("SELECT \"status\" || ' ' || (\"closedAt\" IS NULL) FROM issues "
                    "WHERE \"key\" = '%s'", key), "Backlog true");
        check_str(q("SELECT count(*) FROM comments c JOIN issues i ON "
                    "i.\"id\" = c.\"issueId\" WHERE i.\"key\" = '%s'", key), "0");
        check_str(q("SELECT state FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:3'"), "open");
        delivery_free(d);

        /* An occurrence from before the resolve, delivered after it:
         * counted, still resolved. */
        d = run(s, delivery(ALERT_RESOLVE, "sentry:i:issue:3", NULL, 1700000020000));
        check_int(d->action, ACTION_RESOLVED);
        delivery_free(d);
        d = run(s, delivery(ALERT_OPEN, "sentry:i:issue:3", "g2", 1700000010000));
        check_int(d->status, 200);
        check_int(d->action, ACTION_UPDATED);
        check_int(d->occurrences, 2);
        check_str(q("SELECT state FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:3'"), "resolved");
        delivery_free(d);
}

/* One occurrence in a count of its own: the issue opened by a delivery
 * that names no event (Sentry's issue.created) and the error and
 * event_alert of that first event, which name it. */
/* DESIGN section 7: an occurrence is a delivery with an event id not
 * seen before. An issue opened without one (Sentry's issue.created)
 * counts 1; each new event id counts one more, each one once. */
static void test_event_ids(Store *s)
{
        const int64_t t = INT64_C(1700000100000);
        Delivery *d;
        char key[32];

        d = run(s, delivery(ALERT_OPEN, "sentry:i:first:1", NULL, t));
        check_int(d->status, 201);
        check_int(d->occurrences, 1);
        snprintf(key, sizeof(key), "%s", next_key());
        check_str(d->issue_key, key);
        delivery_free(d);

        /* error.created and event_alert of one event: one more. */
        for (int i = 0; i < 2; i++) {
                d = run(s, delivery(ALERT_OPEN, "sentry:i:first:1", "f1", t));
                check_int(d->status, 200);
                check_int(d->action, ACTION_UPDATED);
                check_int(d->occurrences, 2);
                delivery_free(d);
        }
        check_str(trace_field(key, "{errorTrace,occurrenceCount}"), "2");
        check_str(q("SELECT jsonb_array_length(\"customFields\" -> 'errorTraces') "
                    "FROM issues WHERE \"key\" = '%s'", key), "1");

        d = run(s, delivery(ALERT_OPEN, "sentry:i:first:1", "f2", t + 5000));
        check_int(d->occurrences, 3);
        delivery_free(d);
        check_str(trace_field(key, "{errorTrace,occurrenceCount}"), "3");

        /* Opened by an event with its id: that id is not counted again. */
        d = run(s, delivery(ALERT_OPEN, "sentry:i:first:3", "h1", t));
        check_int(d->occurrences, 1);
        delivery_free(d);
        next_key();
        d = run(s, delivery(ALERT_OPEN, "sentry:i:first:3", "h1", t));
        check_int(d->occurrences, 1);
        delivery_free(d);
        d = run(s, delivery(ALERT_OPEN, "sentry:i:first:3", "h0", t - 1));
        check_int(d->occurrences, 2);
        delivery_free(d);
}

/* An occurrence id longer than an index entry may be (a hostile or
 * broken sender) is stored by its hash, and still counted once. */
static void test_long_occurrence_id(Store *s)
{
        char *id = malloc(12001);
        Delivery *d;

        memset(id, 'e', 12000);
        id[12000] = '\0';
        d = run(s, delivery(ALERT_OPEN, "sentry:i:long:1", NULL, 1));
        check_int(d->status, 201);
        delivery_free(d);
        next_key();
        for (int i = 0; i < 2; i++) {
                d = run(s, delivery(ALERT_OPEN, "sentry:i:long:1", id, 2));
                check_int(d->status, 200);
                check_int(d->occurrences, 2);
                delivery_free(d);
        }
        free(id);
}

/* Occurrences that arrive out of their order (retries, deliveries at
 * once): the newest keeps the details, the others go among the earlier
 * ones by their time, newest first. */
static void test_late_occurrences(Store *s)
{
        const char *ext = "sentry:i:late:1";
        const int64_t t = INT64_C(1700000300000);  /* 2023-11-14T22:18:20Z */
        Delivery *d;
        char key[32];

        d = run(s, delivery(ALERT_OPEN, ext, "l3", t + 3000));
        snprintf(key, sizeof(key), "%s", next_key());
        check_str(d->issue_key, key);
        delivery_free(d);
        d = run(s, delivery(ALERT_OPEN, ext, "l1", t + 1000));
        check_int(d->occurrences, 2);
        delivery_free(d);
        d = run(s, delivery(ALERT_OPEN, ext, "l2", t + 2000));
        check_int(d->occurrences, 3);
        delivery_free(d);

        check_str(trace_field(key, "{errorTrace,timestamp}"), "2023-11-14T22:18:23.000Z");
        check_str(trace_field(key, "{errorTrace,occurrenceCount}"), "3");
        check_str(q("SELECT string_agg(x.e ->> 'timestamp', ' ' ORDER BY x.i) FROM issues, "
                    "jsonb_array_elements(\"customFields\" -> 'errorTraces') "
                    "WITH ORDINALITY AS x(e, i) WHERE \"key\" = '%s'", key),
                  "2023-11-14T22:18:22.000Z 2023-11-14T22:18:21.000Z");

        /* A newer one pushes the current trace in front of them. */
        d = run(s, delivery(ALERT_OPEN, ext, "l4", t + 4000));
        check_int(d->occurrences, 4);
        delivery_free(d);
        check_str(q("SELECT string_agg(x.e ->> 'timestamp', ' ' ORDER BY x.i) FROM issues, "
                    "jsonb_array_elements(\"customFields\" -> 'errorTraces') "
                    "WITH ORDINALITY AS x(e, i) WHERE \"key\" = '%s'", key),
                  "2023-11-14T22:18:23.000Z 2023-11-14T22:18:22.000Z "
                  "2023-11-14T22:18:21.000Z");
}

static void test_projects(Store *s)
{
        Delivery *d;

        d = delivery(ALERT_OPEN, "sentry:i:issue:9", "h1", 0);
        d->url_project = strdup("NOPE");
        run(s, d);
        check_int(d->status, 422);
        check_int(d->action, ACTION_FAILED);
        check_str(d->error, "unknown project \"NOPE\"");
        delivery_free(d);

        /* A project with issues from Stride already: numbers go on
         * after its highest, keys that are not PROJECTKEY-N aside. */
        sql("INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", "
            "\"updatedAt\") VALUES ('p-bill', 'BILL', 'Billing', '', now())");
        sql("INSERT INTO issues (\"id\", \"key\", \"projectId\", \"title\", "
            "\"status\", \"reporterId\", \"updatedAt\") VALUES "
            "('i-b9', 'BILL-9', 'p-bill', 'old', 'Done', 'u-admin', now()), "
            "('i-b41', 'BILL-41', 'p-bill', 'old', 'Done', 'u-admin', now()), "
            "('i-bx', 'BILL-x99', 'p-bill', 'odd', 'Done', 'u-admin', now())");

        d = run(s, delivery(ALERT_OPEN, "sentry:i:issue:9", "h1", 0));
        check_int(d->status, 422);
        check_str(d->error, "no project: add ?project=KEY to the URL, or set "
                  "PROJECT_MAP or STRIDE_PROJECT");
        delivery_free(d);
        check_str(q("SELECT count(*) FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:9'"), "0");

        d = delivery(ALERT_OPEN, "sentry:i:issue:9", "h1", 0);
        d->mapped_project = strdup("BILL");
        run(s, d);
        check_int(d->status, 201);
        check_str(d->issue_key, "BILL-42");
        delivery_free(d);

        /* The URL wins over PROJECT_MAP. */
        d = delivery(ALERT_OPEN, "sentry:i:issue:9", "h2", 0);
        d->url_project = strdup("SHOP");
        d->mapped_project = strdup("BILL");
        run(s, d);
        check_int(d->status, 201);
        check_str(d->issue_key, next_key());
        delivery_free(d);
}

static void test_reporter(void)
{
        Config c = config_for(test_url);
        Store *s;
        Delivery *d;

        c.stride_project = (char *) "SHOP";
        c.stride_reporter = (char *) "ops@example.com";
        s = start(&c);
        d = run(s, delivery(ALERT_OPEN, "sentry:i:issue:10", NULL, 0));
        check_int(d->status, 201);
        check_str(d->issue_key, next_key());
        check_str(q("SELECT \"reporterId\" FROM issues WHERE \"id\" = '%s'", d->issue_id),
                  "u-ops");
        delivery_free(d);
        store_stop(s);

        c.stride_reporter = (char *) "nobody";
        s = start(&c);
        d = run(s, delivery(ALERT_OPEN, "sentry:i:issue:11", NULL, 0));
        check_int(d->status, 503);
        check_contains(d->error, "STRIDE_REPORTER \"nobody\"");
        check_str(q("SELECT count(*) FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:11'"), "0");
        check_str(q("SELECT count(*) FROM stride_webhooks.deliveries "
                    "WHERE digest = '%s'", digest_hex(d)), "0");
        delivery_free(d);
        store_stop(s);
}

/* 16 deliveries of one new incident at once, through two stores (two
 * daemons on one database): one issue, every occurrence counted. */
static void test_concurrent(Store *a, Store *b)
{
        Delivery *d[26];
        int target, created = 0, updated = 0;
        char occ[16];
        const char *key = next_key();

        pthread_mutex_lock(&done_lock);
        target = done_count + 16;
        pthread_mutex_unlock(&done_lock);
        for (int i = 0; i < 16; i++) {
                snprintf(occ, sizeof(occ), "c%d", i);
                d[i] = delivery(ALERT_OPEN, "sentry:i:issue:20", occ, 0);
                d[i]->url_project = strdup("SHOP");
        }
        for (int i = 0; i < 16; i++)
                store_submit(i % 2 ? b : a, d[i]);
        wait_done(target);

        for (int i = 0; i < 16; i++) {
                created += d[i]->status == 201 && d[i]->action == ACTION_CREATED;
                updated += d[i]->status == 200 && d[i]->action == ACTION_UPDATED;
                check_str(d[i]->issue_key, key);
        }
        check_int(created, 1);
        check_int(updated, 15);
        check_str(q("SELECT count(*) FROM issues WHERE \"customFields\" #>> "
                    "'{source,externalId}' = 'sentry:i:issue:20'"), "1");
        check_str(q("SELECT occurrences FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:20'"), "16");
        check_str(trace_field(key, "{errorTrace,occurrenceCount}"), "16");
        check_str(q("SELECT jsonb_array_length(\"customFields\" -> 'errorTraces') "
                    "FROM issues WHERE \"key\" = '%s'", key), "15");

        /* errorTraces keeps the 20 latest, newest first. */
        pthread_mutex_lock(&done_lock);
        target = done_count + 10;
        pthread_mutex_unlock(&done_lock);
        for (int i = 16; i < 26; i++) {
                snprintf(occ, sizeof(occ), "c%d", i);
                d[i] = delivery(ALERT_OPEN, "sentry:i:issue:20", occ, 0);
                d[i]->url_project = strdup("SHOP");
                store_submit(a, d[i]);
        }
        wait_done(target);
        check_int(d[25]->occurrences, 26);
        check_str(q("SELECT jsonb_array_length(\"customFields\" -> 'errorTraces') "
                    "FROM issues WHERE \"key\" = '%s'", key), "20");
        check_str(trace_field(key, "{errorTraces,0,occurrenceCount}"), "25");
        check_str(trace_field(key, "{errorTraces,19,occurrenceCount}"), "6");
        for (int i = 0; i < 26; i++)
                delivery_free(d[i]);
}

/* Waits (less than the store's lock_timeout) until some session waits
 * for a lock of this type: then the store is where the test wants it. */
static bool wait_lock_waiter(const char *locktype)
{
        for (int i = 0; i < 75; i++) {
                if (strcmp(q("SELECT count(*) FROM pg_locks WHERE NOT granted "
                             "AND locktype = '%s'", locktype), "0") != 0)
                        return true;
                sleep_ms(20);
        }
        return false;
}

static void insert_behind_our_back(const char *key)
{
        sql("INSERT INTO issues (\"id\", \"key\", \"projectId\", \"title\", "
            "\"status\", \"reporterId\", \"updatedAt\") VALUES "
            "(gen_random_uuid()::text, '%s', 'p-shop', 'by hand', 'Backlog', "
            "'u-admin', now())", key);
}

/* Stride inserts issues too, without our advisory lock. */
static void test_keys(Store *s)
{
        Delivery *d;
        int target;

        insert_behind_our_back(next_key());
        d = delivery(ALERT_OPEN, "sentry:i:issue:30", NULL, 0);
        d->url_project = strdup("SHOP");
        run(s, d);
        check_int(d->status, 201);
        check_str(d->issue_key, next_key());
        delivery_free(d);

        /* Not yet committed when we look: the unique constraint decides. */
        sql("BEGIN");
        insert_behind_our_back(next_key());
        d = delivery(ALERT_OPEN, "sentry:i:issue:31", NULL, 0);
        d->url_project = strdup("SHOP");
        pthread_mutex_lock(&done_lock);
        target = done_count + 1;
        pthread_mutex_unlock(&done_lock);
        store_submit(s, d);
        check(wait_lock_waiter("transactionid"));
        sql("COMMIT");
        wait_done(target);
        check_int(d->status, 201);
        check_str(d->issue_key, next_key());
        delivery_free(d);
        check_str(q("SELECT count(*) FROM (SELECT \"key\" FROM issues GROUP BY "
                    "\"projectId\", \"key\" HAVING count(*) > 1) s"), "0");
}

/* A delivery the database refuses rolls back alone. */
static void test_failure_isolated(Store *s)
{
        Delivery *d[3];
        int target;

        d[0] = delivery(ALERT_OPEN, "sentry:i:issue:40", NULL, 0);
        d[1] = delivery(ALERT_OPEN, "sentry:i:issue:41", NULL, 0);
        d[2] = delivery(ALERT_OPEN, "sentry:i:issue:42", NULL, 0);
        for (int i = 0; i < 3; i++)
                d[i]->url_project = strdup("SHOP");
        /* Bytes PostgreSQL refuses as UTF-8; a mapper never makes them. */
        free(d[1]->alert.title);
        d[1]->alert.title = strdup("bad \xff title");

        /* Holding the project's key lock makes the store wait in the
         * first delivery, so the other two queue up behind it. */
        sql("SELECT pg_advisory_lock(1398034772, hashtext('p-shop'))");
        pthread_mutex_lock(&done_lock);
        target = done_count + 3;
        pthread_mutex_unlock(&done_lock);
        store_submit(s, d[0]);
        check(wait_lock_waiter("advisory"));
        store_submit(s, d[1]);
        store_submit(s, d[2]);
        sql("SELECT pg_advisory_unlock(1398034772, hashtext('p-shop'))");
        wait_done(target);

        check_int(d[0]->status, 201);
        check_str(d[0]->issue_key, next_key());
        check_int(d[1]->status, 500);
        check_int(d[1]->action, ACTION_FAILED);
        check_contains(d[1]->error, "database rejected the alert: ");
        check_contains(d[1]->error, "SQLSTATE 22021");
        check_int(d[2]->status, 201);
        check_str(d[2]->issue_key, next_key());
        check_str(q("SELECT count(*) FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:41'"), "0");
        check_str(q("SELECT count(*) FROM stride_webhooks.incidents "
                    "WHERE external_id = 'sentry:i:issue:42'"), "1");
        for (int i = 0; i < 3; i++)
                delivery_free(d[i]);
}

/* The server ends the connection: that batch gets 503, the next one is
 * stored on a new connection. */
static void test_reconnect(Store *s)
{
        char pid[32], query[128];
        Delivery *d;

        snprintf(pid, sizeof(pid), "%s",
                 q("SELECT pid FROM pg_stat_activity WHERE application_name = "
                   "'stride-webhooks' AND datname = current_database()"));
        check(strcmp(pid, "(none)") != 0);
        sql("SELECT pg_terminate_backend(%s)", pid);
        snprintf(query, sizeof(query),
                 "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", pid);
        for (int i = 0; i < 250 && qn(query) > 0; i++)
                sleep_ms(20);

        d = delivery(ALERT_OPEN, "sentry:i:issue:1", "r1", 0);
        d->url_project = strdup("SHOP");
        run(s, d);
        check_int(d->status, 503);
        check_contains(d->error, "database unavailable: ");
        delivery_free(d);

        check(wait_connected(s));
        d = delivery(ALERT_OPEN, "sentry:i:issue:1", "r2", 0);
        d->url_project = strdup("SHOP");
        run(s, d);
        check_int(d->status, 200);
        check_str(d->issue_key, "SHOP-1");
        delivery_free(d);
}

int main(int argc, char **argv)
{
        const char *url = getenv("STRIDE_TEST_DATABASE_URL");
        char dbname[64], sql_dir[4096];
        Store *a, *b;
        Config c;
        PGconn *admin;

        if (!url || !*url) {
                printf("SKIP: set STRIDE_TEST_DATABASE_URL to a PostgreSQL "
                       "conninfo whose role may create databases\n");
                return 77;
        }
        if (!getenv("STRIDE_SQL_DIR")) {
                snprintf(sql_dir, sizeof(sql_dir), "%s/../../src/sql",
                         argc > 1 ? argv[1] : "tests/data");
                setenv("STRIDE_SQL_DIR", sql_dir, 1);
        }

        admin = PQconnectdb(url);
        if (PQstatus(admin) != CONNECTION_OK) {
                fprintf(stderr, "cannot connect: %s", PQerrorMessage(admin));
                return 1;
        }
        snprintf(dbname, sizeof(dbname), "stride_test_store_%d", (int) getpid());
        db = admin;
        sql("CREATE DATABASE %s", dbname);
        test_url = pg_check_conninfo_for(admin, dbname);
        db = PQconnectdb(test_url);
        if (PQstatus(db) != CONNECTION_OK) {
                fprintf(stderr, "cannot connect: %s", PQerrorMessage(db));
                return 1;
        }

        test_unusable_databases();
        test_migrate_errors();
        test_migrate();

        c = config_for(test_url);
        a = start(&c);
        b = start(&c);
        test_lifecycle(a);
        test_state_changes(a);
        test_resolve_before_trigger(a);
        test_event_ids(a);
        test_long_occurrence_id(a);
        test_late_occurrences(a);
        test_projects(a);
        test_reporter();
        test_concurrent(a, b);
        test_keys(a);
        test_failure_isolated(a);
        store_stop(b);
        test_reconnect(a);
        store_stop(a);

        PQfinish(db);
        db = admin;
        sql("DROP DATABASE %s WITH (FORCE)", dbname);
        PQfinish(admin);
        free(test_url);
        return check_done();
}
