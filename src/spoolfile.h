/* The spool on disk: its three folders under $STATE_DIRECTORY (spool/,
 * incoming/, dead/), the names of its files, and the format of one entry
 * in a file. Nothing here counts, locks or logs: spool.c decides when to
 * call these and keeps the counts from what they return. */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

/* The folders as open descriptors; -1 when not open. */
typedef struct {
        int spool_fd;       /* entries waiting for replay */
        int incoming_fd;    /* entries being written */
        int dead_fd;        /* dead letters */
} SpoolFolders;

/* The regular files of a folder, sorted by name. */
typedef struct {
        struct dirent **entries;
        size_t n;
} SpoolListing;

/* Creates root and its folders if needed (0700), syncing root when it
 * made one, and opens them into *f. On failure returns a negative errno
 * and *ret_error is a malloc'd sentence (NULL without memory); what was
 * opened stays in *f for spoolfile_close. */
int spoolfile_open(SpoolFolders *f, const char *root, char **ret_error);
/* Closes what is open. */
void spoolfile_close(SpoolFolders *f);

/* Removes every file in incoming/: leftovers of writes never answered. */
void spoolfile_clean_incoming(const SpoolFolders *f);
/* The number and total size of the regular files in a folder. Returns 0
 * or a negative errno. */
int spoolfile_count(int dir_fd, size_t *ret_n, uint64_t *ret_bytes);
/* Lists a folder (files not starting with '.'), sorted by name in byte
 * order. Returns 0 or a negative errno. */
int spoolfile_list(int dir_fd, SpoolListing *ret);
void spoolfile_list_free(SpoolListing *l);

/* Sets e->name for its received_ms, the writer's pid and a sequence
 * number: "<13 digits>-<7 digits>-<10 digits>.req", which sorts in
 * arrival order. */
void spoolfile_name(SpoolEntry *e, unsigned pid, unsigned seq);
/* Is name one that spoolfile_name makes? */
bool spoolfile_is_entry_name(const char *name);

/* The file's bytes before the body, malloc'd; NULL on ENOMEM. */
unsigned char *spoolfile_header(const SpoolEntry *e, size_t *ret_len);
/* Writes header and body as incoming/<e->name>, created exclusively, and
 * syncs it; on failure removes it. Returns 0 or a negative errno, a full
 * disk or quota as -ENOSPC. */
int spoolfile_write(const SpoolFolders *f, const SpoolEntry *e,
                    const unsigned char *hdr, size_t hdr_len);
/* Renames incoming/name into spool/ without replacing a file there (then
 * -EEXIST); on failure removes incoming/name. spool/ is not synced. */
int spoolfile_publish(const SpoolFolders *f, const char *name);

/* Reads spool/name, at most max_bytes: 0 and *ret (with its name set),
 * -ENOENT when it is gone, -EBADMSG when it is not a valid entry,
 * -ENOMEM, or another negative errno when it cannot be read; why then
 * says what is wrong. */
int spoolfile_read(const SpoolFolders *f, uint64_t max_bytes,
                   const char *name, SpoolEntry **ret, char *why,
                   size_t why_size);

/* Unlinks spool/name: 0 and its size if this call removed it, else a
 * negative errno (-ENOENT: someone else did). */
int spoolfile_unlink(const SpoolFolders *f, const char *name,
                     uint64_t *ret_size);
/* Moves spool/name to dead/: 0, its size, and whether it replaced a dead
 * letter of that name; else a negative errno (-ENOENT: gone). */
int spoolfile_bury(const SpoolFolders *f, const char *name,
                   uint64_t *ret_size, bool *ret_replaced);
