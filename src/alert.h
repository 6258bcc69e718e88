/* The provider-neutral alert: what a mapper reads out of a webhook and
 * what the store writes into an issue. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
        PROVIDER_SENTRY,
        PROVIDER_DATADOG,
        PROVIDER_NEWRELIC,
        PROVIDER_COUNT,
} Provider;

/* What the delivery says happened to the incident. */
typedef enum {
        ALERT_OPEN,        /* fired: creates the issue, or is an occurrence */
        ALERT_UPDATE,      /* changed (priority, merge) without firing again */
        ALERT_ASSIGN,      /* someone took it: a comment */
        ALERT_ACKNOWLEDGE, /* someone acknowledged it: a comment */
        ALERT_MUTE,        /* ignored or archived: recorded, not closed */
        ALERT_RESOLVE,     /* recovered or resolved */
} AlertEvent;

typedef enum {
        SEVERITY_LOW,
        SEVERITY_MEDIUM,
        SEVERITY_HIGH,
        SEVERITY_CRITICAL,
} Severity;

typedef struct {
        char *key;
        char *value;
} AlertTag;

/* Every string is owned by the Alert (malloc'd, NUL-terminated, valid
 * UTF-8 without NUL bytes) or NULL when the payload has no such value. */
typedef struct {
        Provider provider;
        AlertEvent event;
        /* A new occurrence of the incident (DESIGN section 7): counts
         * towards occurrenceCount. Only ever true with ALERT_OPEN. */
        bool occurrence;

        char *kind;             /* "issue.created", "Triggered", ...: for logs and comments */
        char *external_id;      /* FORMATS section 4 dedup key, never NULL in a mapped alert */
        char *provider_project; /* for PROJECT_MAP: Sentry slug, Datadog service, NR policy */
        char *occurrence_id;    /* event id of this occurrence, when the provider has one */

        char *title;            /* cleaned of provider prefixes, at most 255 bytes */
        char *message;
        char *culprit;
        char *environment;
        char *release;
        char *fingerprint;
        char *stack_trace;      /* plain text, newest frame first */
        char *link;             /* back to the provider's UI */
        char *actor;            /* who assigned/acknowledged/resolved, a display name */
        char *context_json;     /* a JSON object for errorTrace.context, or NULL */

        Severity severity;
        int64_t timestamp_ms;   /* provider's time of the event; 0: unknown */

        AlertTag *tags;
        size_t n_tags;
} Alert;

const char *provider_name(Provider p);          /* "sentry" */
const char *provider_display_name(Provider p);  /* "Sentry", "Datadog", "New Relic" */
int provider_from_name(const char *name, Provider *ret);

const char *severity_priority(Severity s);      /* Stride's "Low" ... "Critical" */
const char *severity_name(Severity s);          /* "low" ... "critical" */

void alert_free(Alert *a);

/* Sets *field to a copy of s (NULL or "" leave NULL), sanitised to valid
 * UTF-8; a previous value is freed. Returns 0 or -ENOMEM. */
int alert_set(char **field, const char *s);
/* alert_set of a printf-style text. Returns 0 or -ENOMEM. */
int alert_setf(char **field, const char *format, ...)
        __attribute__((format(printf, 2, 3)));
/* Adds a tag, unless it is personal (alert_tag_is_personal) or there are
 * already ALERT_TAGS_MAX. A value that is a URL loses its query string.
 * A key that is already there gets the new value appended (", "), so keys
 * stay unique. Returns 0 or -ENOMEM. */
int alert_add_tag(Alert *a, const char *key, const char *value);
/* The value of a tag, or NULL. */
const char *alert_tag(const Alert *a, const char *key);

/* Personal data, which never goes into an issue (DESIGN section 7): a
 * key naming a user, an email, an IP address, a cookie or a secret; a
 * value holding an email address or being an IP address. */
bool alert_tag_is_personal(const char *key, const char *value);
/* Does s contain something that looks like an email address? */
bool alert_has_email(const char *s);
/* A copy of s with every email address replaced by "[email]"; NULL on
 * ENOMEM. */
char *alert_redact_emails(const char *s);

/* The Markdown description of the issue: message, culprit, stack trace,
 * environment, release, tags, links. Caller frees. */
char *alert_render_description(const Alert *a);

/* customFields.errorTrace as Stride reads it (DESIGN section 7), as a
 * JSON object text. Caller frees. */
char *alert_render_error_trace(const Alert *a, int64_t occurrence_count);

/* ---- What every provider mapper takes and gives (src/providers/). ---- */

struct JsonValue;

typedef struct {
        const struct JsonValue *root;  /* the parsed body */
        const char *resource;          /* Sentry-Hook-Resource, or NULL */
} MapInput;

typedef enum {
        MAP_ALERT,        /* the Alert is filled: store it */
        MAP_TEST,         /* a test notification: answer as a test, write nothing */
        MAP_IGNORED,      /* valid, but not something that becomes an issue */
        MAP_UNRECOGNISED, /* 422: the reason names what was expected */
        MAP_NO_MEMORY,    /* our own failure (ENOMEM): 503, the sender retries */
} MapResult;

typedef MapResult (*MapFunc)(const MapInput *in, Alert *ret,
                             char *reason, size_t reason_size);

/* {"test":"webhook"}: the setup guide's endpoint check. */
bool alert_is_setup_test(const struct JsonValue *root);

/* What a mapped Alert keeps to. The helpers the mappers share are in
 * src/providers/mapping.h. */
#define ALERT_TITLE_MAX 255      /* bytes: issues."title" is varchar(255) */
#define ALERT_TRACE_MAX 65536    /* bytes of stack trace in an issue */
#define ALERT_TAGS_MAX 100
#define ALERT_ID_MAX 512         /* bytes of external id, see alert_map_done */
/* The times alert_time_ms accepts and errorTrace.timestamp shows. */
#define ALERT_TIME_MIN_MS INT64_C(946684800000)     /* 2000-01-01T00:00:00Z */
#define ALERT_TIME_MAX_MS INT64_C(253402300799999)  /* 9999-12-31T23:59:59.999Z */
