/* Journal entries with fields (DESIGN section 8), or one line each on
 * stderr when there is no journal. Every value and the message are made
 * printable and cut to a bounded length here, so callers may pass
 * strings that came from clients. */
#pragma once

#include <stddef.h>
#include <syslog.h>

typedef enum {
        LOGID_STORED,          /* a delivery was stored */
        LOGID_REFUSED,         /* a request was refused (4xx/5xx) */
        LOGID_AUTH_FAILED,
        LOGID_REJECTED,        /* the payload was not an alert we accept */
        LOGID_DB_UNAVAILABLE,
        LOGID_SPOOLED,
        LOGID_REPLAYED,
        LOGID_DEAD_LETTER,
        LOGID_TLS_FAILURE,
        LOGID_STARTED,
        LOGID_IDLE_EXIT,
        LOGID_TEST,            /* a test delivery was acknowledged */
        LOGID_IGNORED,         /* a valid event that becomes no issue */
        LOGID_CONFIG,          /* configuration warnings at start */
        LOGID_STOPPING,
        LOGID_COUNT,
} LogId;

typedef struct {
        const char *name;   /* journal field name, upper case */
        const char *value;  /* NULL: field left out */
} LogField;

/* Decides once between the journal and stderr. */
void log_setup(const char *identifier);

void log_entry(int priority, LogId id, const LogField *fields, size_t n,
               const char *format, ...)
        __attribute__((format(printf, 5, 6)));

/* The MESSAGE_ID of an entry kind, as 32 hex digits. */
const char *log_message_id(LogId id);

#define log_fields(prio, id, fields, ...) \
        log_entry(prio, id, fields, sizeof(fields) / sizeof((fields)[0]), __VA_ARGS__)
#define log_plain(prio, id, ...) log_entry(prio, id, NULL, 0, __VA_ARGS__)
