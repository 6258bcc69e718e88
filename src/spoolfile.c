/* The spool's files. An entry is written into incoming/ and synced,
 * then renamed into spool/; replay removes it from spool/ or moves it to
 * dead/. The format is fixed below and never changes within a version:
 * files in spool/ outlive the daemon that wrote them. */
#include "spoolfile.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- names ---- */

void spoolfile_name(SpoolEntry *e, unsigned pid, unsigned seq)
{
        snprintf(e->name, sizeof(e->name), "%013" PRId64 "-%07u-%010u" SPOOL_SUFFIX,
                 e->received_ms > 0 ? e->received_ms : 0, pid, seq);
}

/* "<13 digits>-<7 digits>-<10 digits>.req", as spoolfile_name makes them. */
bool spoolfile_is_entry_name(const char *name)
{
        static const char pattern[] = "ddddddddddddd-ddddddd-dddddddddd" SPOOL_SUFFIX;

        for (size_t i = 0; i < sizeof(pattern); i++) {
                bool digit = name[i] >= '0' && name[i] <= '9';

                if (pattern[i] == 'd' ? !digit : name[i] != pattern[i])
                        return false;
        }
        return true;
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
unsigned char *spoolfile_header(const SpoolEntry *e, size_t *ret_len)
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

static int open_entry(const SpoolFolders *f, uint64_t max_bytes,
                      const char *name, size_t *ret_size, char *why,
                      size_t why_size)
{
        struct stat st;
        int fd, r;

        fd = openat(f->spool_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                snprintf(why, why_size, "cannot read it: %s", strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > max_bytes ||
            (uint64_t) st.st_size >= SIZE_MAX) {
                close(fd);
                snprintf(why, why_size, "not a spool file (%s)", S_ISREG(st.st_mode) ?
                         "larger than SPOOL_MAX_BYTES" : "not a regular file");
                return -EBADMSG;
        }
        *ret_size = (size_t) st.st_size;
        return fd;
}

int spoolfile_read(const SpoolFolders *f, uint64_t max_bytes,
                   const char *name, SpoolEntry **ret, char *why,
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
        fd = open_entry(f, max_bytes, name, &size, why, why_size);
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

/* ---- writing ---- */

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
int spoolfile_write(const SpoolFolders *f, const SpoolEntry *e,
                    const unsigned char *hdr, size_t hdr_len)
{
        int fd, r;

        fd = openat(f->incoming_fd, e->name,
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
                unlinkat(f->incoming_fd, e->name, 0);
        return disk_error(r);
}

int spoolfile_publish(const SpoolFolders *f, const char *name)
{
        int r;

        if (renameat2(f->incoming_fd, name, f->spool_fd, name,
                      RENAME_NOREPLACE) == 0)
                return 0;
        r = -errno;
        unlinkat(f->incoming_fd, name, 0);
        return r;
}

/* ---- the folders ---- */

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
int spoolfile_list(int dir_fd, SpoolListing *ret)
{
        int n = scandirat(dir_fd, ".", &ret->entries, listed, by_name);

        if (n < 0)
                return -errno;
        ret->n = (size_t) n;
        return 0;
}

void spoolfile_list_free(SpoolListing *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i]);
        free(l->entries);
        *l = (SpoolListing) { NULL, 0 };
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

int spoolfile_open(SpoolFolders *f, const char *root, char **ret_error)
{
        _cleanup_(closep) int root_fd = -1;
        bool created = false;

        *f = (SpoolFolders) { -1, -1, -1 };
        if (mkdir(root, 0700) < 0 && errno != EEXIST)
                goto fail;
        root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                goto fail;

        f->spool_fd = open_subdir(root_fd, root, "spool", &created, ret_error);
        if (f->spool_fd < 0)
                return f->spool_fd;
        f->incoming_fd = open_subdir(root_fd, root, "incoming", &created, ret_error);
        if (f->incoming_fd < 0)
                return f->incoming_fd;
        f->dead_fd = open_subdir(root_fd, root, "dead", &created, ret_error);
        if (f->dead_fd < 0)
                return f->dead_fd;

        /* A new spool/ must itself survive a crash for its entries to. */
        if (created && fsync(root_fd) < 0)
                goto fail;
        return 0;

fail:
        {
                int r = -errno;

                if (asprintf(ret_error, "cannot use the state directory %s: %s",
                             root, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
}

void spoolfile_close(SpoolFolders *f)
{
        closep(&f->spool_fd);
        closep(&f->incoming_fd);
        closep(&f->dead_fd);
        *f = (SpoolFolders) { -1, -1, -1 };
}

/* Leftovers in incoming/ were never answered: their senders retry. */
void spoolfile_clean_incoming(const SpoolFolders *f)
{
        SpoolListing l;

        if (spoolfile_list(f->incoming_fd, &l) < 0)
                return;
        for (size_t i = 0; i < l.n; i++)
                unlinkat(f->incoming_fd, l.entries[i]->d_name, 0);
        spoolfile_list_free(&l);
}

int spoolfile_count(int dir_fd, size_t *ret_n, uint64_t *ret_bytes)
{
        SpoolListing l;
        int r;

        r = spoolfile_list(dir_fd, &l);
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
        spoolfile_list_free(&l);
        return 0;
}

/* ---- leaving spool/ ---- */

int spoolfile_unlink(const SpoolFolders *f, const char *name,
                     uint64_t *ret_size)
{
        struct stat st;

        if (fstatat(f->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            unlinkat(f->spool_fd, name, 0) < 0)
                return -errno;
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

int spoolfile_bury(const SpoolFolders *f, const char *name,
                   uint64_t *ret_size, bool *ret_replaced)
{
        struct stat st, there;
        bool replaces;

        if (fstatat(f->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        replaces = fstatat(f->dead_fd, name, &there, AT_SYMLINK_NOFOLLOW) == 0;
        if (renameat(f->spool_fd, name, f->dead_fd, name) < 0)
                return -errno;
        *ret_size = (uint64_t) st.st_size;
        *ret_replaced = replaces;
        return 0;
}
