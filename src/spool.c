/* The spool: requests written and synced under $STATE_DIRECTORY before
 * they are answered 202, and replayed through the store in arrival order.
 *
 * An entry is written into incoming/, synced, renamed into spool/ and
 * spool/ synced: a crash leaves either a whole entry in spool/ or a
 * leftover in incoming/, which the next start removes. Files in spool/
 * never change; whoever removes one (replay, a late commit's forget, the
 * move to dead/) is the one whose unlink or rename succeeded, and only
 * that one updates the counts. */
#include "spool.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* File format version 1, integers little-endian:
 *   "STRWHSPL" u32 version i64 received_ms
 *   six strings, each u32 length (UINT32_MAX: absent) and bytes:
 *     provider name, remote_addr, request_id, resource, content_type,
 *     project
 *   u64 body length, body bytes, and nothing after them. */
#define SPOOL_MAGIC "STRWHSPL"
#define SPOOL_MAGIC_LEN 8
#define SPOOL_VERSION 1
#define SPOOL_ABSENT UINT32_MAX
#define SPOOL_SUFFIX ".req"

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

static void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

/* A file name in a list: forgets queued, entries held. */
typedef struct Name {
        struct Name *next;
        char name[64];
        struct timespec until;   /* a hold ends by itself then */
} Name;

typedef struct {
        struct dirent **entries;
        size_t n;
} Listing;

typedef enum {
        REPLAY_DONE,    /* the entry is gone: stored, dead, or forgotten */
        REPLAY_RETRY,   /* keep it and everything behind it for later */
        REPLAY_STUCK,   /* it should be gone but could not be moved */
} ReplayOutcome;

struct Spool {
        const Config *config;
        Store *store;
        char *root;
        int spool_fd, incoming_fd, dead_fd;
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

/* ---- the file format ---- */

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                *p++ = (unsigned char) (v >> (8 * i));
        return p;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                *p++ = (unsigned char) (v >> (8 * i));
        return p;
}

static unsigned char *put_string(unsigned char *p, const char *s)
{
        size_t n = s ? strlen(s) : 0;

        p = put_u32(p, s ? (uint32_t) n : SPOOL_ABSENT);
        memcpy(p, s ? s : "", n);
        return p + n;
}

static const char *entry_strings(const SpoolEntry *e, size_t i)
{
        const char *strings[] = {
                provider_name(e->provider), e->remote_addr, e->request_id,
                e->resource, e->content_type, e->project,
        };

        return strings[i];
}

#define ENTRY_STRINGS 6

/* Everything before the body, malloc'd. */
static unsigned char *header_encode(const SpoolEntry *e, size_t *ret_len)
{
        size_t len = SPOOL_MAGIC_LEN + 4 + 8 + 8;
        unsigned char *buf, *p;

        for (size_t i = 0; i < ENTRY_STRINGS; i++) {
                const char *s = entry_strings(e, i);

                len += 4 + (s ? strlen(s) : 0);
        }
        buf = malloc(len);
        if (!buf)
                return NULL;

        memcpy(buf, SPOOL_MAGIC, SPOOL_MAGIC_LEN);
        p = put_u32(buf + SPOOL_MAGIC_LEN, SPOOL_VERSION);
        p = put_u64(p, (uint64_t) e->received_ms);
        for (size_t i = 0; i < ENTRY_STRINGS; i++)
                p = put_string(p, entry_strings(e, i));
        p = put_u64(p, e->len);
        assert((size_t) (p - buf) == len);
        *ret_len = len;
        return buf;
}

typedef struct {
        const unsigned char *p;
        size_t left;
        const char *error;   /* the first thing wrong, or NULL */
        bool no_memory;
} Reader;

static uint64_t get_uint(Reader *r, size_t bytes)
{
        uint64_t v = 0;

        if (r->error)
                return 0;
        if (r->left < bytes) {
                r->error = "truncated";
                return 0;
        }
        for (size_t i = 0; i < bytes; i++)
                v |= (uint64_t) r->p[i] << (8 * i);
        r->p += bytes;
        r->left -= bytes;
        return v;
}

/* A string field into a malloc'd copy (*ret NULL when absent). */
static void get_string(Reader *r, char **ret)
{
        uint64_t n = get_uint(r, 4);

        *ret = NULL;
        if (r->error || n == SPOOL_ABSENT)
                return;
        if (n > r->left) {
                r->error = "a field is longer than the file";
                return;
        }
        if (memchr(r->p, '\0', n)) {
                r->error = "a field holds a NUL byte";
                return;
        }
        *ret = strndup((const char *) r->p, n);
        if (!*ret) {
                r->error = "out of memory";
                r->no_memory = true;
        }
        r->p += n;
        r->left -= n;
}

static bool copy_bounded(char *out, size_t size, const char *s)
{
        if (!s || strlen(s) >= size)
                return false;
        memcpy(out, s, strlen(s) + 1);
        return true;
}

/* The fields after the version into e; sets r->error when they are not
 * an entry. */
static void entry_decode(Reader *r, SpoolEntry *e)
{
        _cleanup_(freep) char *provider = NULL;
        _cleanup_(freep) char *addr = NULL;
        _cleanup_(freep) char *request_id = NULL;
        uint64_t len;

        e->received_ms = (int64_t) get_uint(r, 8);
        get_string(r, &provider);
        get_string(r, &addr);
        get_string(r, &request_id);
        get_string(r, &e->resource);
        get_string(r, &e->content_type);
        get_string(r, &e->project);
        len = get_uint(r, 8);
        if (r->error)
                return;
        if (!provider || provider_from_name(provider, &e->provider) < 0)
                r->error = "unknown provider";
        else if (!copy_bounded(e->remote_addr, sizeof(e->remote_addr), addr) ||
                 !copy_bounded(e->request_id, sizeof(e->request_id), request_id))
                r->error = "client address or request id missing or too long";
        else if (len != r->left)
                r->error = "the body length does not match the file's size";
        if (r->error)
                return;

        e->body = malloc(len + 1);
        if (!e->body) {
                r->error = "out of memory";
                r->no_memory = true;
                return;
        }
        memcpy(e->body, r->p, len);
        e->body[len] = '\0';
        e->len = len;
}

/* 0, -EBADMSG with *ret_why, or -ENOMEM. */
static int file_decode(const unsigned char *buf, size_t size, SpoolEntry *e,
                       const char **ret_why)
{
        Reader r = { buf, size, NULL, false };
        uint64_t version;

        if (size < SPOOL_MAGIC_LEN || memcmp(buf, SPOOL_MAGIC, SPOOL_MAGIC_LEN) != 0) {
                *ret_why = "not a spool file (bad magic)";
                return -EBADMSG;
        }
        r.p += SPOOL_MAGIC_LEN;
        r.left -= SPOOL_MAGIC_LEN;
        version = get_uint(&r, 4);
        if (!r.error && version != SPOOL_VERSION)
                r.error = "unknown format version (this stride-webhooks reads "
                          "version 1; a newer one wrote it)";
        if (!r.error)
                entry_decode(&r, e);
        *ret_why = r.error;
        return r.no_memory ? -ENOMEM : r.error ? -EBADMSG : 0;
}

static int read_all(int fd, unsigned char *buf, size_t size)
{
        size_t done = 0;

        while (done < size) {
                ssize_t n = read(fd, buf + done, size - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EBADMSG;
                done += (size_t) n;
        }
        return 0;
}

static int open_entry(Spool *s, const char *name, size_t *ret_size,
                      char *why, size_t why_size)
{
        struct stat st;
        int fd, r;

        fd = openat(s->spool_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                snprintf(why, why_size, "cannot read it: %s", strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > s->max_bytes ||
            (uint64_t) st.st_size >= SIZE_MAX) {
                close(fd);
                snprintf(why, why_size, "not a spool file (%s)", S_ISREG(st.st_mode) ?
                         "larger than SPOOL_MAX_BYTES" : "not a regular file");
                return -EBADMSG;
        }
        *ret_size = (size_t) st.st_size;
        return fd;
}

int spool_read(Spool *s, const char *name, SpoolEntry **ret, char *why,
               size_t why_size)
{
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) unsigned char *buf = NULL;
        const char *bad = NULL;
        SpoolEntry *e;
        size_t size = 0;
        int r;

        *ret = NULL;
        why[0] = '\0';
        fd = open_entry(s, name, &size, why, why_size);
        if (fd < 0)
                return fd;

        buf = malloc(size + 1);
        e = calloc(1, sizeof(*e));
        if (!buf || !e) {
                free(e);
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        r = read_all(fd, buf, size);
        if (r == 0)
                r = file_decode(buf, size, e, &bad);
        else if (r == -EBADMSG)
                bad = "truncated";
        if (r < 0) {
                spool_entry_free(e);
                if (bad)
                        snprintf(why, why_size, "%s", bad);
                else
                        snprintf(why, why_size, "cannot read it: %s", strerror(-r));
                return r;
        }
        snprintf(e->name, sizeof(e->name), "%s", name);
        *ret = e;
        return 0;
}

/* ---- the folders ---- */

/* "<13 digits>-<7 digits>-<10 digits>.req", as entry_store names them. */
static bool is_entry_name(const char *name)
{
        static const char pattern[] = "ddddddddddddd-ddddddd-dddddddddd" SPOOL_SUFFIX;

        for (size_t i = 0; i < sizeof(pattern); i++) {
                bool digit = name[i] >= '0' && name[i] <= '9';

                if (pattern[i] == 'd' ? !digit : name[i] != pattern[i])
                        return false;
        }
        return true;
}

static int listed(const struct dirent *de)
{
        return de->d_name[0] != '.' && (de->d_type == DT_REG || de->d_type == DT_UNKNOWN);
}

/* Byte order, whatever the locale: entry names sort in arrival order. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* The files of a folder, sorted by name. */
static int listing_read(int dir_fd, Listing *ret)
{
        int n = scandirat(dir_fd, ".", &ret->entries, listed, by_name);

        if (n < 0)
                return -errno;
        ret->n = (size_t) n;
        return 0;
}

static void listing_free(Listing *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i]);
        free(l->entries);
        *l = (Listing) { NULL, 0 };
}

static int open_subdir(int root_fd, const char *root, const char *name,
                       bool *created, char **ret_error)
{
        int fd;

        if (mkdirat(root_fd, name, 0700) == 0)
                *created = true;
        else if (errno != EEXIST)
                goto fail;
        fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                return fd;
fail:
        fd = -errno;
        if (asprintf(ret_error, "cannot use %s/%s: %s", root, name, strerror(-fd)) < 0)
                *ret_error = NULL;
        return fd;
}

static int open_folders(Spool *s, char **ret_error)
{
        _cleanup_(closep) int root_fd = -1;
        bool created = false;

        if (mkdir(s->root, 0700) < 0 && errno != EEXIST)
                goto fail;
        root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                goto fail;

        s->spool_fd = open_subdir(root_fd, s->root, "spool", &created, ret_error);
        if (s->spool_fd < 0)
                return s->spool_fd;
        s->incoming_fd = open_subdir(root_fd, s->root, "incoming", &created, ret_error);
        if (s->incoming_fd < 0)
                return s->incoming_fd;
        s->dead_fd = open_subdir(root_fd, s->root, "dead", &created, ret_error);
        if (s->dead_fd < 0)
                return s->dead_fd;

        /* A new spool/ must itself survive a crash for its entries to. */
        if (created && fsync(root_fd) < 0)
                goto fail;
        return 0;

fail:
        {
                int r = -errno;

                if (asprintf(ret_error, "cannot use the state directory %s: %s",
                             s->root, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
}

/* Leftovers in incoming/ were never answered: their senders retry. */
static void clean_incoming(Spool *s)
{
        Listing l;

        if (listing_read(s->incoming_fd, &l) < 0)
                return;
        for (size_t i = 0; i < l.n; i++)
                unlinkat(s->incoming_fd, l.entries[i]->d_name, 0);
        listing_free(&l);
}

static int count_folder(int dir_fd, size_t *ret_n, uint64_t *ret_bytes)
{
        Listing l;
        int r;

        r = listing_read(dir_fd, &l);
        if (r < 0)
                return r;
        *ret_n = 0;
        *ret_bytes = 0;
        for (size_t i = 0; i < l.n; i++) {
                struct stat st;

                if (fstatat(dir_fd, l.entries[i]->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                (*ret_n)++;
                *ret_bytes += (uint64_t) st.st_size;
        }
        listing_free(&l);
        return 0;
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
        struct stat st;

        if (fstatat(s->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            unlinkat(s->spool_fd, name, 0) < 0)
                return -errno;
        account_removed(s, (uint64_t) st.st_size);
        return 0;
}

/* Moves an entry to dead/: 0, or a negative errno (-ENOENT: gone). */
static int entry_bury(Spool *s, const char *name)
{
        struct stat st, there;
        bool replaces;

        if (fstatat(s->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        replaces = fstatat(s->dead_fd, name, &there, AT_SYMLINK_NOFOLLOW) == 0;
        if (renameat(s->spool_fd, name, s->dead_fd, name) < 0)
                return -errno;
        account_removed(s, (uint64_t) st.st_size);
        if (!replaces)
                atomic_fetch_add(&s->dead, 1);
        return 0;
}

/* ---- the spool thread ---- */

static int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* A full disk, or a quota, is a full spool to the sender. */
static int disk_error(int r)
{
        return r == -EDQUOT || r == -EFBIG ? -ENOSPC : r;
}

/* Writes and syncs e as incoming/NAME. */
static int file_write(Spool *s, const SpoolEntry *e, const unsigned char *hdr,
                      size_t hdr_len)
{
        int fd, r;

        fd = openat(s->incoming_fd, e->name,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return disk_error(-errno);
        r = write_all(fd, hdr, hdr_len);
        if (r == 0)
                r = write_all(fd, e->body, e->len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                unlinkat(s->incoming_fd, e->name, 0);
        return disk_error(r);
}

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

        snprintf(e->name, sizeof(e->name), "%013" PRId64 "-%07u-%010u" SPOOL_SUFFIX,
                 e->received_ms > 0 ? e->received_ms : 0, s->pid, seq);
        hdr = header_encode(e, &hdr_len);
        if (!hdr)
                return -ENOMEM;
        size = hdr_len + e->len;
        if (atomic_load(&s->bytes) + size > s->max_bytes)
                return -ENOSPC;

        r = file_write(s, e, hdr, hdr_len);
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
        if (renameat2(s->incoming_fd, e->name, s->spool_fd, e->name,
                      RENAME_NOREPLACE) < 0) {
                r = -errno;
                unhold(s, e->name);
                account_removed(s, size);
                unlinkat(s->incoming_fd, e->name, 0);
                return r;
        }
        return 0;
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

        if (written > 0 && fsync(s->spool_fd) < 0) {
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
static ReplayOutcome replay_pass(Spool *s, const Listing *l, bool *ret_progress)
{
        ReplayOutcome worst = REPLAY_DONE;

        *ret_progress = false;
        for (size_t i = 0; i < l->n; i++)
                if (!is_entry_name(l->entries[i]->d_name) &&
                    bury(s, l->entries[i]->d_name, NULL, 0, "not a spool entry's name") ==
                    REPLAY_STUCK)
                        worst = REPLAY_STUCK;

        for (size_t i = 0; i < l->n && !replay_stopping(s); i++) {
                ReplayOutcome o;

                if (!is_entry_name(l->entries[i]->d_name) || is_held(s, l->entries[i]->d_name))
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
                Listing l = { NULL, 0 };
                bool progress = true;

                /* Entries written from here on are seen by this pass or
                 * set work again for the next. */
                pthread_mutex_lock(&s->replay_lock);
                s->work = false;
                pthread_mutex_unlock(&s->replay_lock);

                if (listing_read(s->spool_fd, &l) == 0) {
                        if (l.n == 0) {
                                log_drained(s);
                                wait_work(s, 0);
                                continue;
                        }
                        o = replay_pass(s, &l, &progress);
                        listing_free(&l);
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
        s->spool_fd = s->incoming_fd = s->dead_fd = -1;
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

        r = count_folder(s->spool_fd, &n, &bytes);
        if (r == 0)
                r = count_folder(s->dead_fd, &dead, &ignored);
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
        r = open_folders(s, ret_error);
        if (r == 0) {
                clean_incoming(s);
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
        closep(&s->spool_fd);
        closep(&s->incoming_fd);
        closep(&s->dead_fd);
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
