/* spool.c: the file format, arrival order, SPOOL_MAX_BYTES, a full disk,
 * corrupt files, the counts across a restart; and replay through a real
 * store into a real PostgreSQL when STRIDE_TEST_DATABASE_URL is set (a
 * role that may create databases; the test creates its own database and
 * drops it). Without it that part is skipped, and the test says so. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check.h"
#include "pg_check.h"
#include "spool.h"

#define MB (1024 * 1024)

static PGconn *db;            /* the test's own connection to its database */
static PGconn *admin;         /* to STRIDE_TEST_DATABASE_URL's database */
static char test_dbname[64];

/* ---- small helpers ---- */

static void sleep_ms(long ms)
{
        struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

        nanosleep(&t, NULL);
}

static char *path_in(const char *dir, const char *sub, const char *name)
{
        static char bufs[4][4096];
        static unsigned next;
        char *out = bufs[next++ % 4];

        snprintf(out, sizeof(bufs[0]), "%s/%s%s%s", dir, sub, name ? "/" : "",
                 name ? name : "");
        return out;
}

/* Regular files in dir/sub, not counting dot files. */
static int count_files(const char *dir, const char *sub)
{
        DIR *d = opendir(path_in(dir, sub, NULL));
        struct dirent *de;
        int n = 0;

        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static long long file_bytes(const char *dir, const char *sub)
{
        DIR *d = opendir(path_in(dir, sub, NULL));
        struct dirent *de;
        long long n = 0;
        struct stat st;

        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && stat(path_in(dir, sub, de->d_name), &st) == 0)
                        n += st.st_size;
        closedir(d);
        return n;
}

static int compare_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names in dir/spool, sorted; returns how many (at most max). */
static size_t list_spool(const char *dir, char names[][64], size_t max)
{
        DIR *d = opendir(path_in(dir, "spool", NULL));
        char *sorted[512];
        struct dirent *de;
        size_t n = 0;

        while (d && (de = readdir(d)) && n < max && n < 512)
                if (de->d_name[0] != '.')
                        sorted[n++] = strdup(de->d_name);
        if (d)
                closedir(d);
        qsort(sorted, n, sizeof(sorted[0]), compare_strings);
        for (size_t i = 0; i < n; i++) {
                snprintf(names[i], 64, "%s", sorted[i]);
                free(sorted[i]);
        }
        return n;
}

static void write_file(const char *path, const void *bytes, size_t len)
{
        FILE *f = fopen(path, "wb");

        if (!f || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s\n", path);
                exit(1);
        }
}

static void remove_tree(const char *dir)
{
        static const char *const subs[] = { "spool", "incoming", "dead" };

        for (size_t i = 0; i < 3; i++) {
                DIR *d = opendir(path_in(dir, subs[i], NULL));
                struct dirent *de;

                while (d && (de = readdir(d)))
                        if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
                                unlink(path_in(dir, subs[i], de->d_name));
                if (d)
                        closedir(d);
                rmdir(path_in(dir, subs[i], NULL));
        }
        rmdir(dir);
}

static char *new_state_dir(void)
{
        char *dir = strdup("/tmp/test_spool.XXXXXX");

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                exit(1);
        }
        return dir;
}

static Config config_for(const char *state_dir, uint64_t max_bytes, const char *url)
{
        Config c = { 0 };

        c.state_directory = (char *) state_dir;
        c.spool_max_bytes = max_bytes;
        c.database_url = (char *) url;
        c.replay_window_sec = 86400;
        c.reopen_status = (char *) "Backlog";
        return c;
}

static Spool *open_spool(const Config *c, Store *store)
{
        char *error = NULL;
        Spool *s = NULL;
        int r = spool_open(&s, c, store, &error);

        if (r < 0) {
                fprintf(stderr, "spool_open: %s\n", error ? error : strerror(-r));
                exit(1);
        }
        return s;
}

/* Polls until cond holds, for at most 30 s: a test's patience. */
#define wait_until(cond) do { \
        for (int i_ = 0; i_ < 3000 && !(cond); i_++) \
                sleep_ms(10); \
} while (0)

/* ---- writing and waiting for the spool thread ---- */

static pthread_mutex_t written_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t written_cond = PTHREAD_COND_INITIALIZER;

typedef struct {
        bool done;
        int error;
} Written;

static void on_written(SpoolEntry *e, int error, void *data)
{
        Written *w = data;

        (void) e;
        pthread_mutex_lock(&written_lock);
        w->error = error;
        w->done = true;
        pthread_cond_broadcast(&written_cond);
        pthread_mutex_unlock(&written_lock);
}

/* Writes e, waits for the spool thread's answer, returns its error. */
static int write_wait(Spool *s, SpoolEntry *e)
{
        Written w = { false, 0 };

        spool_write(s, e, on_written, &w);
        pthread_mutex_lock(&written_lock);
        while (!w.done)
                pthread_cond_wait(&written_cond, &written_lock);
        pthread_mutex_unlock(&written_lock);
        return w.error;
}

static SpoolEntry *entry(Provider p, const char *body, size_t len, const char *project)
{
        Request r = {
                .provider = p, .body = body, .len = len, .project = project,
                .content_type = "application/json",
                .remote_addr = "192.0.2.7", .request_id = "req-test",
        };
        SpoolEntry *e = spool_entry_new(&r);

        if (!e) {
                fprintf(stderr, "out of memory\n");
                exit(1);
        }
        return e;
}

/* A New Relic workflow alert: one issue per id. */
static SpoolEntry *alert_entry(const char *id, const char *title, const char *project)
{
        char body[512];
        int n = snprintf(body, sizeof(body),
                         "{\"id\":\"%s\",\"title\":\"%s\",\"priority\":\"HIGH\","
                         "\"state\":\"ACTIVATED\",\"createdAt\":1718801460513,"
                         "\"updatedAt\":1718801461807}", id, title);

        return entry(PROVIDER_NEWRELIC, body, (size_t) n, project);
}

/* Writes and hands back the file name. */
static void spool_alert(Spool *s, const char *id, const char *title,
                        const char *project, int64_t received_ms, char *name)
{
        SpoolEntry *e = alert_entry(id, title, project);

        if (received_ms)
                e->received_ms = received_ms;
        check_int(write_wait(s, e), 0);
        if (name)
                snprintf(name, 64, "%s", e->name);
        spool_entry_free(e);
}

static pthread_mutex_t stored_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stored_cond = PTHREAD_COND_INITIALIZER;
static int stored_count;

/* The store's answers to the live path's deliveries. */
static void on_stored(Delivery *d, void *data)
{
        (void) d;
        (void) data;
        pthread_mutex_lock(&stored_lock);
        stored_count++;
        pthread_cond_broadcast(&stored_cond);
        pthread_mutex_unlock(&stored_lock);
}

/* ---- without a database ---- */

static void test_round_trip(void)
{
        static const char body[] = "{\"a\":\"\0\xff\x01\"}\0tail";
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, NULL);
        Spool *s = open_spool(&c, NULL);
        Request r = {
                .provider = PROVIDER_SENTRY, .body = body, .len = sizeof(body) - 1,
                .resource = "event_alert",
                .content_type = "application/json; charset=utf-8",
                .project = "SHOP", .remote_addr = "2001:db8::7", .request_id = "req-ä-1",
        };
        SpoolEntry *e = spool_entry_new(&r), *back = NULL;
        char why[200], name[64];

        check_int(count_files(dir, "spool"), 0);
        check_int(count_files(dir, "incoming"), 0);
        check_int(count_files(dir, "dead"), 0);
        check_int(spool_pending(s), 0);

        e->received_ms = 1718801462123;
        check_int(write_wait(s, e), 0);
        snprintf(name, sizeof(name), "%s", e->name);
        check_int(strncmp(name, "1718801462123-", 14), 0);
        check_int(strcmp(name + strlen(name) - 4, ".req"), 0);
        check_int(spool_pending(s), 1);
        check_int(count_files(dir, "spool"), 1);
        check_int(count_files(dir, "incoming"), 0);
        check_int(spool_bytes(s), file_bytes(dir, "spool"));

        check_int(spool_read(s, name, &back, why, sizeof(why)), 0);
        check_int(back->provider, PROVIDER_SENTRY);
        check_int(back->received_ms, 1718801462123);
        check_int(back->len, sizeof(body) - 1);
        check(back->len == sizeof(body) - 1 && memcmp(back->body, body, back->len) == 0);
        check_str(back->resource, "event_alert");
        check_str(back->content_type, "application/json; charset=utf-8");
        check_str(back->project, "SHOP");
        check_str(back->remote_addr, "2001:db8::7");
        check_str(back->request_id, "req-ä-1");
        check_str(back->name, name);
        spool_entry_free(back);
        spool_entry_free(e);

        /* Absent fields stay absent; an empty body stays empty. */
        r = (Request) { .provider = PROVIDER_DATADOG, .body = "", .len = 0,
                        .remote_addr = "192.0.2.8", .request_id = "r2" };
        e = spool_entry_new(&r);
        check_int(write_wait(s, e), 0);
        check_int(spool_read(s, e->name, &back, why, sizeof(why)), 0);
        check_int(back->provider, PROVIDER_DATADOG);
        check_int(back->len, 0);
        check_str(back->resource, NULL);
        check_str(back->content_type, NULL);
        check_str(back->project, NULL);
        check_str(back->remote_addr, "192.0.2.8");
        spool_entry_free(back);
        check_int(spool_pending(s), 2);
        check_int(spool_bytes(s), file_bytes(dir, "spool"));

        /* A late commit forgets its entry. */
        spool_forget(s, e->name);
        wait_until(spool_pending(s) == 1);
        check_int(spool_pending(s), 1);
        check_int(count_files(dir, "spool"), 1);
        check_int(spool_bytes(s), file_bytes(dir, "spool"));
        check_int(spool_read(s, e->name, &back, why, sizeof(why)), -ENOENT);
        spool_forget(s, e->name);       /* twice changes nothing */
        spool_forget(s, "no-such-entry.req");
        spool_entry_free(e);

        spool_close(s);
        remove_tree(dir);
        free(dir);
}

/* File names sort in arrival order, whatever the order of the writes. */
static void test_order(void)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, NULL);
        Spool *s = open_spool(&c, NULL);
        static char names[64][64];
        char why[200];
        size_t n;
        bool ordered = true;

        for (int i = 0; i < 40; i++) {
                char id[32];
                int64_t ms = 1718801462000 + 1000 * (i % 10) + (i % 3 == 0 ? 0 : 5);
                SpoolEntry *e;

                snprintf(id, sizeof(id), "order-%02d", i);
                e = alert_entry(id, id, NULL);
                e->received_ms = ms;
                snprintf(e->request_id, sizeof(e->request_id), "%02d", i);
                check_int(write_wait(s, e), 0);
                spool_entry_free(e);
        }
        n = list_spool(dir, names, 64);
        check_int(n, 40);
        check_int(spool_pending(s), 40);

        /* Arrival time first; at the same millisecond, the order of the
         * writes. */
        for (size_t i = 1; i < n; i++) {
                SpoolEntry *a = NULL, *b = NULL;

                check_int(spool_read(s, names[i - 1], &a, why, sizeof(why)), 0);
                check_int(spool_read(s, names[i], &b, why, sizeof(why)), 0);
                if (a && b && (a->received_ms > b->received_ms ||
                               (a->received_ms == b->received_ms &&
                                strcmp(a->request_id, b->request_id) > 0)))
                        ordered = false;
                spool_entry_free(a);
                spool_entry_free(b);
        }
        check(ordered);

        spool_close(s);
        remove_tree(dir);
        free(dir);
}

static void test_max_bytes(void)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, NULL);
        Spool *s = open_spool(&c, NULL);
        SpoolEntry *e = alert_entry("size-probe", "size", NULL);
        char name[64];
        long long one;

        check_int(write_wait(s, e), 0);
        one = (long long) spool_bytes(s);
        check_int(one, file_bytes(dir, "spool"));
        snprintf(name, sizeof(name), "%s", e->name);
        spool_entry_free(e);
        spool_close(s);

        /* Room for exactly three entries of that size. */
        c.spool_max_bytes = (uint64_t) one * 3 + (uint64_t) one / 2;
        s = open_spool(&c, NULL);
        check_int(spool_pending(s), 1);
        check_int(spool_bytes(s), one);
        spool_alert(s, "size-probe", "size", NULL, 0, NULL);
        spool_alert(s, "size-probe", "size", NULL, 0, NULL);
        check_int(spool_pending(s), 3);

        e = alert_entry("size-probe", "size", NULL);
        check_int(write_wait(s, e), -ENOSPC);
        check_str(e->name, "");
        check_int(spool_pending(s), 3);
        check_int(spool_bytes(s), one * 3);
        check_int(count_files(dir, "spool"), 3);
        check_int(count_files(dir, "incoming"), 0);

        /* Room again once an entry leaves. */
        spool_forget(s, name);
        wait_until(spool_pending(s) == 2);
        check_int(write_wait(s, e), 0);
        check_int(spool_pending(s), 3);
        check_int(count_files(dir, "spool"), 3);
        spool_entry_free(e);

        spool_close(s);
        remove_tree(dir);
        free(dir);
}

/* Counts survive a restart; leftovers of interrupted writes do not. */
static void test_reopen(void)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, NULL);
        Spool *s = open_spool(&c, NULL);
        uint64_t bytes;

        for (int i = 0; i < 5; i++)
                spool_alert(s, "reopen", "reopen", NULL, 0, NULL);
        bytes = spool_bytes(s);
        spool_close(s);

        write_file(path_in(dir, "incoming", "1718801462000-0000001-0000000000.req"),
                   "STRWHSPL\1\0", 10);
        write_file(path_in(dir, "incoming", "half-written"), "x", 1);
        write_file(path_in(dir, "dead", "1718801462000-0000001-0000000001.req"),
                   "old dead letter", 15);
        check_int(count_files(dir, "incoming"), 2);

        s = open_spool(&c, NULL);
        check_int(count_files(dir, "incoming"), 0);
        check_int(spool_pending(s), 5);
        check_int(spool_bytes(s), bytes);
        check_int(spool_dead(s), 1);
        check_int(count_files(dir, "spool"), 5);
        spool_close(s);

        /* A state directory that does not exist yet is made. */
        remove_tree(dir);
        s = open_spool(&c, NULL);
        check_int(spool_pending(s), 0);
        check_int(spool_dead(s), 0);
        check_int(count_files(dir, "spool"), 0);
        spool_close(s);
        remove_tree(dir);
        free(dir);
}

/* What spool_read refuses, and replay moving it to dead/ while the valid
 * entry behind it waits for the database. */
static void test_corrupt(void)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, "host=/nonexistent/stride-webhooks dbname=x");
        Spool *s = open_spool(&c, NULL);
        SpoolEntry *e = alert_entry("valid", "valid", NULL), *back = NULL;
        char why[200], good[64];
        static const char *const bad[] = {
                "1000000000000-0000001-0000000000.req",   /* bad magic */
                "1000000000000-0000001-0000000001.req",   /* truncated */
                "1000000000000-0000001-0000000002.req",   /* version 2 */
                "1000000000000-0000001-0000000003.req",   /* longer */
                "stray-file",
        };
        unsigned char *bytes;
        size_t len = 0;
        Store *store;
        char *raw;

        e->received_ms = 2000000000000;
        check_int(write_wait(s, e), 0);
        snprintf(good, sizeof(good), "%s", e->name);
        spool_entry_free(e);
        raw = check_read_file(path_in(dir, "spool", good), &len);
        if (!raw || len < 16)
                exit(1);
        bytes = (unsigned char *) raw;

        write_file(path_in(dir, "spool", bad[0]), "NOTASPOOLFILE", 13);
        write_file(path_in(dir, "spool", bad[1]), bytes, len - 3);
        bytes[8] = 2;
        write_file(path_in(dir, "spool", bad[2]), bytes, len);
        bytes[8] = 1;
        raw = realloc(raw, len + 1);
        raw[len] = 'x';
        write_file(path_in(dir, "spool", bad[3]), raw, len + 1);
        write_file(path_in(dir, "spool", bad[4]), "x", 1);
        free(raw);

        check_int(spool_read(s, bad[0], &back, why, sizeof(why)), -EBADMSG);
        check_str(why, "not a spool file (bad magic)");
        check_int(spool_read(s, bad[1], &back, why, sizeof(why)), -EBADMSG);
        check_str(why, "the body length does not match the file's size");
        check_int(spool_read(s, bad[2], &back, why, sizeof(why)), -EBADMSG);
        check_contains(why, "unknown format version");
        check_int(spool_read(s, bad[3], &back, why, sizeof(why)), -EBADMSG);
        check_str(why, "the body length does not match the file's size");
        check(back == NULL);
        spool_close(s);
        s = open_spool(&c, NULL);
        check_int(spool_pending(s), 6);
        check_int(spool_bytes(s), file_bytes(dir, "spool"));
        spool_close(s);

        /* The database is unreachable: the bad files go to dead/, the
         * valid one is kept for later. */
        if (store_start(&store, &c, on_stored, NULL) < 0)
                exit(1);
        s = open_spool(&c, store);
        wait_until(spool_dead(s) == 5);
        check_int(spool_dead(s), 5);
        check_int(spool_pending(s), 1);
        check_int(count_files(dir, "dead"), 5);
        check_int(count_files(dir, "spool"), 1);
        check_int(access(path_in(dir, "spool", good), F_OK), 0);
        check_int(access(path_in(dir, "dead", bad[2]), F_OK), 0);
        check_int(access(path_in(dir, "dead", "stray-file"), F_OK), 0);
        check(!store_connected(store));
        spool_close(s);
        store_stop(store);

        s = open_spool(&c, NULL);
        check_int(spool_pending(s), 1);
        check_int(spool_dead(s), 5);
        check_int(spool_bytes(s), file_bytes(dir, "spool"));
        spool_close(s);
        remove_tree(dir);
        free(dir);
}

/* A real full file system: a 64 KiB tmpfs in a mount namespace of the
 * test's own, which ends with the process. */
static void test_disk_full(void)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, 64 * MB, NULL);
        char body[9000], why[200], names[64][64];
        int r = 0, written = 0, readable = 0;
        size_t n;
        Spool *s;

        if (unshare(CLONE_NEWNS) < 0 ||
            mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") < 0) {
                printf("# skipped the full-disk test: mounting a tmpfs needs "
                       "root (%s)\n", strerror(errno));
                rmdir(dir);
                free(dir);
                return;
        }

        memset(body, 'x', sizeof(body));
        s = open_spool(&c, NULL);
        for (int i = 0; i < 20; i++) {
                SpoolEntry *e = entry(PROVIDER_DATADOG, body, sizeof(body), NULL);

                r = write_wait(s, e);
                spool_entry_free(e);
                if (r < 0)
                        break;
                written++;
        }
        check_int(r, -ENOSPC);
        check(written > 0);
        check_int(spool_pending(s), written);
        check_int(count_files(dir, "spool"), written);
        check_int(count_files(dir, "incoming"), 0);
        check_int(spool_bytes(s), file_bytes(dir, "spool"));
        n = list_spool(dir, names, 64);
        for (size_t i = 0; i < n; i++) {
                SpoolEntry *back = NULL;

                if (spool_read(s, names[i], &back, why, sizeof(why)) == 0 &&
                    back->len == sizeof(body))
                        readable++;
                spool_entry_free(back);
        }
        check_int(readable, written);

        /* Read-only: the errno comes back, nothing is written. */
        check_int(mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL), 0);
        {
                SpoolEntry *e = entry(PROVIDER_DATADOG, "{}", 2, NULL);

                check_int(write_wait(s, e), -EROFS);
                spool_entry_free(e);
        }
        check_int(spool_pending(s), written);
        spool_close(s);
        umount2(dir, MNT_DETACH);
        rmdir(dir);
        free(dir);
}

/* ---- against PostgreSQL ---- */

static void sql(const char *format, ...) __attribute__((format(printf, 1, 2)));
static long qn(const char *format, ...) __attribute__((format(printf, 1, 2)));
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

static const char *vq(const char *format, va_list ap)
{
        static char bufs[8][1024];
        static unsigned next;
        char text[4096], *out = bufs[next++ % 8];
        PGresult *r;

        vsnprintf(text, sizeof(text), format, ap);
        r = PQexec(db, text);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                fprintf(stderr, "query failed: %s\n%s", text, PQresultErrorMessage(r));
                exit(1);
        }
        snprintf(out, sizeof(bufs[0]), "%s", PQntuples(r) == 0 ? "(none)" :
                 PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
        PQclear(r);
        return out;
}

static const char *q(const char *format, ...)
{
        const char *out;
        va_list ap;

        va_start(ap, format);
        out = vq(format, ap);
        va_end(ap);
        return out;
}

static long qn(const char *format, ...)
{
        const char *out;
        va_list ap;

        va_start(ap, format);
        out = vq(format, ap);
        va_end(ap);
        return strtol(out, NULL, 10);
}

static long issues(void)
{
        return qn("SELECT count(*) FROM issues");
}

static long deliveries(void)
{
        return qn("SELECT count(*) FROM stride_webhooks.deliveries");
}

/* The live path: the same request straight to the store. */
static Delivery *store_live(Store *store, const Config *c, SpoolEntry *e)
{
        Request r = {
                .provider = e->provider, .body = e->body, .len = e->len,
                .project = e->project, .remote_addr = e->remote_addr,
                .request_id = e->request_id,
        };
        char reason[256];
        Delivery *d = NULL;
        int target;

        check_int(delivery_prepare(c, &r, &d, reason, sizeof(reason)), PREPARED);
        if (!d)
                exit(1);
        pthread_mutex_lock(&stored_lock);
        target = stored_count + 1;
        pthread_mutex_unlock(&stored_lock);
        store_submit(store, d);
        pthread_mutex_lock(&stored_lock);
        while (stored_count < target)
                pthread_cond_wait(&stored_cond, &stored_lock);
        pthread_mutex_unlock(&stored_lock);
        return d;
}

static Store *start_store(const Config *c)
{
        Store *store = NULL;

        if (store_start(&store, c, on_stored, NULL) < 0) {
                fprintf(stderr, "store_start failed\n");
                exit(1);
        }
        for (int i = 0; i < 500 && !store_connected(store); i++)
                sleep_ms(20);
        return store;
}

/* Written while nothing replays; replayed at the next start, in arrival
 * order, whatever the order of the writes. */
static void test_replay_order(const char *url)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, url);
        Spool *s = open_spool(&c, NULL);
        long before = issues();
        Store *store;

        for (int i = 5; i >= 1; i--) {
                char id[32], title[32];

                snprintf(id, sizeof(id), "order-%d", i);
                snprintf(title, sizeof(title), "Replay order %d", i);
                spool_alert(s, id, title, NULL, 1718801462000 + i, NULL);
        }
        spool_close(s);

        store = start_store(&c);
        s = open_spool(&c, store);
        wait_until(spool_pending(s) == 0);
        check_int(spool_pending(s), 0);
        check_int(spool_bytes(s), 0);
        check_int(spool_dead(s), 0);
        check_int(count_files(dir, "spool"), 0);
        check_int(issues(), before + 5);
        for (int i = 1; i <= 5; i++) {
                char title[32];

                snprintf(title, sizeof(title), "Replay order %d", i);
                check_str(q("SELECT \"title\" FROM issues WHERE \"key\" = 'SHOP-%ld'",
                            before + i), title);
        }
        spool_close(s);
        store_stop(store);
        remove_tree(dir);
        free(dir);
}

/* The live path committed it, the spool has it too (spooled at the
 * deadline, or written twice): replay is a redelivery and changes
 * nothing. */
static void test_committed_twice(const char *url)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, url);
        Store *store = start_store(&c);
        Spool *s = open_spool(&c, store);
        SpoolEntry *e = alert_entry("twice-1", "Committed twice", NULL);
        long n_issues, n_deliveries;
        char *updated;
        Delivery *d;

        d = store_live(store, &c, e);
        check_int(d->status, 201);
        delivery_free(d);
        n_issues = issues();
        n_deliveries = deliveries();
        updated = strdup(q("SELECT \"updatedAt\" FROM issues WHERE \"title\" = "
                           "'Committed twice'"));

        check_int(write_wait(s, e), 0);
        spool_entry_free(e);
        spool_alert(s, "twice-1", "Committed twice", NULL, 0, NULL);
        wait_until(spool_pending(s) == 0);
        check_int(spool_pending(s), 0);
        check_int(spool_dead(s), 0);
        check_int(issues(), n_issues);
        check_int(deliveries(), n_deliveries);
        check_int(qn("SELECT occurrences FROM stride_webhooks.incidents WHERE "
                     "external_id = 'newrelic:twice-1'"), 1);
        check_str(q("SELECT \"updatedAt\" FROM issues WHERE \"title\" = "
                    "'Committed twice'"), updated);
        free(updated);

        spool_close(s);
        store_stop(store);
        remove_tree(dir);
        free(dir);
}

/* An entry the live path still has at the store waits for it: replayed
 * once released, never once forgotten. */
static void test_held(const char *url)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, url);
        Store *store = start_store(&c);
        Spool *s = open_spool(&c, store);
        SpoolEntry *a = alert_entry("held-1", "Held and released", NULL);
        SpoolEntry *b = alert_entry("held-2", "Held and forgotten", NULL);
        long before = issues();

        a->held = b->held = true;
        check_int(write_wait(s, a), 0);
        check_int(write_wait(s, b), 0);
        spool_alert(s, "held-3", "Not held", NULL, 0, NULL);
        wait_until(spool_pending(s) == 2);
        sleep_ms(1500);      /* replay passes over the held ones */
        check_int(spool_pending(s), 2);
        check_int(issues(), before + 1);
        check_int(qn("SELECT count(*) FROM issues WHERE \"title\" = 'Not held'"), 1);

        spool_forget(s, b->name);
        spool_release(s, a->name);
        wait_until(spool_pending(s) == 0);
        check_int(spool_pending(s), 0);
        check_int(issues(), before + 2);
        check_int(qn("SELECT count(*) FROM issues WHERE \"title\" = "
                     "'Held and released'"), 1);
        check_int(qn("SELECT count(*) FROM issues WHERE \"title\" = "
                     "'Held and forgotten'"), 0);
        spool_entry_free(a);
        spool_entry_free(b);

        spool_close(s);
        store_stop(store);
        remove_tree(dir);
        free(dir);
}

/* A 422 and a body that is not JSON become dead letters; the alert
 * behind them is still stored. */
static void test_dead_letter(const char *url)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, url);
        Spool *s = open_spool(&c, NULL);
        SpoolEntry *e = entry(PROVIDER_DATADOG, "not json", 8, NULL);
        char nope[64], garbage[64];
        long before = issues();
        Store *store;

        spool_alert(s, "dead-1", "Unknown project", "NOPE", 1718801462001, nope);
        e->received_ms = 1718801462002;
        check_int(write_wait(s, e), 0);
        snprintf(garbage, sizeof(garbage), "%s", e->name);
        spool_entry_free(e);
        spool_alert(s, "dead-2", "Behind the dead letters", NULL, 1718801462003, NULL);
        spool_close(s);

        store = start_store(&c);
        s = open_spool(&c, store);
        wait_until(spool_pending(s) == 0);
        check_int(spool_pending(s), 0);
        check_int(spool_dead(s), 2);
        check_int(count_files(dir, "dead"), 2);
        check_int(access(path_in(dir, "dead", nope), F_OK), 0);
        check_int(access(path_in(dir, "dead", garbage), F_OK), 0);
        check_int(issues(), before + 1);
        check_int(qn("SELECT count(*) FROM issues WHERE \"title\" = "
                     "'Behind the dead letters'"), 1);
        check_int(qn("SELECT count(*) FROM issues WHERE \"title\" = "
                     "'Unknown project'"), 0);

        /* Moved back by an operator once the project exists, it replays. */
        sql("INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", "
            "\"updatedAt\") VALUES ('p-nope', 'NOPE', 'Nope', '', now())");
        check_int(rename(path_in(dir, "dead", nope), path_in(dir, "spool", nope)), 0);
        spool_close(s);
        s = open_spool(&c, store);
        wait_until(spool_pending(s) == 0);
        check_int(spool_dead(s), 1);
        check_str(q("SELECT \"key\" FROM issues WHERE \"title\" = 'Unknown project'"),
                  "NOPE-1");
        sql("DELETE FROM stride_webhooks.deliveries WHERE project_id = 'p-nope'");
        sql("DELETE FROM stride_webhooks.incidents WHERE project_id = 'p-nope'");
        sql("DELETE FROM stride_webhooks.issue_numbers WHERE project_id = 'p-nope'");
        sql("DELETE FROM issues WHERE \"projectId\" = 'p-nope'");
        sql("DELETE FROM projects WHERE \"id\" = 'p-nope'");

        spool_close(s);
        store_stop(store);
        remove_tree(dir);
        free(dir);
}

/* From another database: no one may change the one connected to. */
static void allow_connections(bool allow)
{
        PGconn *own = db;

        db = admin;
        sql("ALTER DATABASE %s ALLOW_CONNECTIONS %s", test_dbname,
            allow ? "true" : "false");
        db = own;
}

/* The database refuses connections: entries written meanwhile stay, and
 * are stored in order once it answers again. */
static void test_database_down(const char *url)
{
        char *dir = new_state_dir();
        Config c = config_for(dir, MB, url);
        Store *store = start_store(&c);
        Spool *s = open_spool(&c, store);
        long before = issues();

        check(store_connected(store));
        allow_connections(false);
        sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
            "application_name = 'stride-webhooks' AND datname = current_database()");

        for (int i = 1; i <= 3; i++) {
                char id[32], title[32];

                snprintf(id, sizeof(id), "down-%d", i);
                snprintf(title, sizeof(title), "While down %d", i);
                spool_alert(s, id, title, NULL, 1718801462000 + i, NULL);
        }
        wait_until(!store_connected(store));
        check(!store_connected(store));
        sleep_ms(1000);      /* replay tries, and keeps them */
        check_int(spool_pending(s), 3);
        check_int(spool_dead(s), 0);
        check_int(count_files(dir, "spool"), 3);
        check_int(issues(), before);

        allow_connections(true);
        wait_until(spool_pending(s) == 0);
        check_int(spool_pending(s), 0);
        check_int(spool_dead(s), 0);
        check_int(issues(), before + 3);
        for (int i = 1; i <= 3; i++)
                check_int(qn("SELECT count(*) FROM issues WHERE \"title\" = "
                             "'While down %d' AND \"key\" = 'SHOP-%ld'", i, before + i),
                          1);

        spool_close(s);
        store_stop(store);
        remove_tree(dir);
        free(dir);
}

static int setup_database(const char *url, const char *data_dir, char **ret_url)
{
        char sql_dir[4096], *error = NULL;
        Config c;

        if (!getenv("STRIDE_SQL_DIR")) {
                snprintf(sql_dir, sizeof(sql_dir), "%s/../../src/sql", data_dir);
                setenv("STRIDE_SQL_DIR", sql_dir, 1);
        }
        admin = PQconnectdb(url);
        if (PQstatus(admin) != CONNECTION_OK) {
                fprintf(stderr, "cannot connect: %s", PQerrorMessage(admin));
                return -1;
        }
        snprintf(test_dbname, sizeof(test_dbname), "stride_test_spool_%d", (int) getpid());
        db = admin;
        sql("CREATE DATABASE %s", test_dbname);
        *ret_url = pg_check_conninfo_for(admin, test_dbname);

        c = config_for("/nonexistent", MB, *ret_url);
        if (store_migrate(&c, true, &error) < 0) {
                fprintf(stderr, "migrate: %s\n", error);
                return -1;
        }
        db = PQconnectdb(*ret_url);
        if (PQstatus(db) != CONNECTION_OK)
                return -1;
        sql("INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", "
            "\"updatedAt\") VALUES ('p-shop', 'SHOP', 'Shop', '', now())");
        sql("INSERT INTO users (\"id\", \"email\", \"username\", \"passwordHash\", "
            "\"role\", \"updatedAt\") VALUES ('u-admin', 'admin@example.com', "
            "'admin', 'x', 'Admin', now())");
        return 0;
}

static void drop_database(void)
{
        PQfinish(db);
        db = admin;
        sql("DROP DATABASE %s WITH (FORCE)", test_dbname);
        PQfinish(admin);
}

static void test_with_database(const char *data_dir)
{
        const char *url = getenv("STRIDE_TEST_DATABASE_URL");
        char *test_url = NULL;

        if (!url || !*url) {
                printf("# skipped replay against PostgreSQL: set "
                       "STRIDE_TEST_DATABASE_URL to a conninfo whose role may "
                       "create databases\n");
                return;
        }
        if (setup_database(url, data_dir, &test_url) < 0)
                exit(1);
        test_replay_order(test_url);
        test_committed_twice(test_url);
        test_held(test_url);
        test_dead_letter(test_url);
        test_database_down(test_url);
        drop_database();
        free(test_url);
}

int main(int argc, char **argv)
{
        test_round_trip();
        test_order();
        test_max_bytes();
        test_reopen();
        test_corrupt();
        test_with_database(argc > 1 ? argv[1] : "tests/data");
        /* Last: it leaves the process in a mount namespace of its own. */
        test_disk_full();
        return check_done();
}
