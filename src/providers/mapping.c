/* What the three mappers share: reading optional fields, a provider's
 * times, titles, tags from lists and arrays, errorTrace.context, and the
 * last step of every mapping, which scrubs personal data and bounds the
 * external id. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alert.h"
#include "auth.h"
#include "json.h"
#include "mapping.h"
#include "text.h"

/* ---- Reading optional fields. ---- */

const char *alert_opt_text(const JsonValue *v)
{
        static const char *const placeholders[] = { "NA", "N/A", "Not Available" };
        const char *s = json_text(v);
        const char *p = s;

        if (!s)
                return NULL;
        while (isspace((unsigned char) *p))
                p++;
        if (!*p)
                return NULL;
        for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
                if (strcasecmp(s, placeholders[i]) == 0)
                        return NULL;
        return s;
}

const char *alert_opt_path(const JsonValue *root, const char *path)
{
        return alert_opt_text(json_path(root, path));
}

const char *alert_first_text(const JsonValue *v)
{
        if (json_type(v) != JSON_ARRAY)
                return alert_opt_text(v);
        for (const JsonValue *e = json_first(v); e; e = json_next(e))
                if (alert_opt_text(e))
                        return alert_opt_text(e);
        return NULL;
}

/* ---- Times. ---- */

static int64_t time_from_number(double d)
{
        double ms = d >= 1e12 ? d : d * 1000.0;

        if (!(ms >= (double) ALERT_TIME_MIN_MS && ms <= (double) ALERT_TIME_MAX_MS))
                return 0;
        return (int64_t) floor(ms + 0.5);
}

/* Exactly n digits at *p. */
static bool digits(const char **p, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

/* "HH:MM[:SS[.fff...]]" into seconds of the day and milliseconds. */
static bool parse_clock(const char **p, struct tm *tm, int *ret_ms)
{
        int ms = 0, scale = 100;

        if (!digits(p, 2, &tm->tm_hour) || *(*p)++ != ':' ||
            !digits(p, 2, &tm->tm_min))
                return false;
        if (**p == ':') {
                (*p)++;
                if (!digits(p, 2, &tm->tm_sec))
                        return false;
        }
        if (**p == '.' || **p == ',') {
                if (!isdigit((unsigned char) (*p)[1]))
                        return false;
                for ((*p)++; isdigit((unsigned char) **p); (*p)++, scale /= 10)
                        ms += (**p - '0') * scale;
        }
        *ret_ms = ms;
        return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* "Z", "+hh:mm", "+hhmm", "+hh", " UTC" or nothing: the offset east of
 * UTC in minutes; false for anything else. */
static bool parse_zone(const char *p, int *ret_minutes)
{
        int sign, h, m = 0;

        *ret_minutes = 0;
        while (*p == ' ')
                p++;
        if (*p == '\0' || strcasecmp(p, "Z") == 0 || strcasecmp(p, "UTC") == 0 ||
            strcasecmp(p, "GMT") == 0)
                return true;
        if (*p != '+' && *p != '-')
                return false;
        sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, 2, &h))
                return false;
        if (*p == ':')
                p++;
        if (*p && !digits(&p, 2, &m))
                return false;
        *ret_minutes = sign * (h * 60 + m);
        return *p == '\0' && h <= 23 && m <= 59;
}

static int64_t parse_iso(const char *p)
{
        struct tm tm = { 0 };
        int year, month, ms = 0, zone;
        time_t t;

        if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &month) ||
            *p++ != '-' || !digits(&p, 2, &tm.tm_mday))
                return 0;
        if (*p == 'T' || *p == 't' || *p == ' ')
                p++;
        else if (p[0] == ',' && p[1] == ' ')  /* New Relic classic */
                p += 2;
        if (isdigit((unsigned char) *p) && !parse_clock(&p, &tm, &ms))
                return 0;
        if (!parse_zone(p, &zone) || month < 1 || month > 12 ||
            tm.tm_mday < 1 || tm.tm_mday > 31)
                return 0;

        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        t = timegm(&tm);
        return time_from_number(((double) t - zone * 60.0) * 1000.0 + ms);
}

int64_t alert_parse_time(const char *s)
{
        char *end;
        double d;

        if (!s)
                return 0;
        while (isspace((unsigned char) *s))
                s++;
        if (!isdigit((unsigned char) *s))
                return 0;

        d = strtod(s, &end);
        while (isspace((unsigned char) *end))
                end++;
        if (*end == '\0')
                return time_from_number(d);
        return parse_iso(s);
}

int64_t alert_time_ms(const JsonValue *v)
{
        double d;

        if (json_type(v) == JSON_NUMBER)
                return json_double(v, &d) == 0 ? time_from_number(d) : 0;
        return alert_parse_time(json_string(v, NULL));
}

/* ---- Titles. ---- */

/* s on one line: controls and runs of white space become one space,
 * trimmed, cut at ALERT_TITLE_MAX bytes. *ret is NULL when nothing is
 * left. */
static int one_line(const char *s, char **ret)
{
        char *clean, *o;
        size_t n;

        *ret = NULL;
        if (!s)
                return 0;
        clean = utf8_sanitize(s, strlen(s));
        if (!clean)
                return -ENOMEM;

        o = clean;
        for (const char *p = clean; *p; p++) {
                bool space = (unsigned char) *p < 0x20 || *p == 0x7f || *p == ' ';

                if (!space)
                        *o++ = *p;
                else if (o > clean && o[-1] != ' ')
                        *o++ = ' ';
        }
        *o = '\0';
        n = utf8_cut(clean, (size_t) (o - clean), ALERT_TITLE_MAX);
        while (n > 0 && clean[n - 1] == ' ')
                n--;
        clean[n] = '\0';

        if (n == 0)
                free(clean);
        else
                *ret = clean;
        return 0;
}

int alert_set_title(Alert *a, const char *s, const char *fallback)
{
        char *t;

        if (one_line(s, &t) < 0)
                return -ENOMEM;
        if (!t && one_line(fallback, &t) < 0)
                return -ENOMEM;
        if (!t)
                t = strdup("Alert");
        if (!t)
                return -ENOMEM;
        free(a->title);
        a->title = t;
        return 0;
}

/* ---- Tags from lists and arrays. ---- */

static char *trim(char *s)
{
        size_t n;

        while (isspace((unsigned char) *s))
                s++;
        n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        return s;
}

int alert_add_tag_list(Alert *a, const char *list)
{
        int r = 0;

        for (const char *p = list; p && *p;) {
                size_t n = strcspn(p, ",");
                char *piece = strndup(p, n), *key, *colon;

                if (!piece)
                        return -ENOMEM;
                key = trim(piece);
                colon = strchr(key, ':');
                if (colon)
                        *colon = '\0';
                r |= alert_add_tag(a, trim(key), colon ? trim(colon + 1) : "");
                free(piece);
                p += n + (p[n] == ',');
        }
        return r;
}

int alert_add_tag_values(Alert *a, const char *key, const JsonValue *v)
{
        int r = 0;

        if (json_type(v) != JSON_ARRAY)
                return alert_add_tag(a, key, alert_opt_text(v));
        for (const JsonValue *e = json_first(v); e; e = json_next(e))
                if (alert_opt_text(e))
                        r |= alert_add_tag(a, key, alert_opt_text(e));
        return r;
}

/* ---- Context and results. ---- */

void alert_context_string(JsonWriter *w, const char *key, const char *value)
{
        if (!value || alert_has_email(value))
                return;
        json_write_key(w, key);
        json_write_string(w, value);
}

int alert_set_context(Alert *a, JsonWriter *w)
{
        char *s = json_writer_finish(w, NULL);

        if (!s)
                return -ENOMEM;
        if (strcmp(s, "{}") == 0) {
                free(s);
                return 0;
        }
        free(a->context_json);
        a->context_json = s;
        return 0;
}

static int redact_field(char **field)
{
        char *r;

        if (!*field || !alert_has_email(*field))
                return 0;
        r = alert_redact_emails(*field);
        if (!r)
                return -ENOMEM;
        free(*field);
        *field = r;
        return 0;
}

/* Emails can hide in any free text: an exception message, a monitor
 * message naming who is on call, a context line of source code.
 * XXX: IP addresses in free text (a log message naming a client's
 * address) are not redacted, only tags that are one; a version or a
 * server's address looks the same, and redacting those loses the cause. */
static int scrub(Alert *a)
{
        char **fields[] = {
                &a->kind, &a->provider_project, &a->message, &a->culprit,
                &a->environment, &a->release, &a->fingerprint,
                &a->stack_trace,
        };
        int r = 0;

        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                r |= redact_field(fields[i]);
        if (alert_has_email(a->title)) {
                char *t = alert_redact_emails(a->title);

                r |= t ? alert_set_title(a, t, NULL) : -ENOMEM;
                free(t);
        }
        if (alert_has_email(a->actor))
                r |= alert_set(&a->actor, NULL);
        if (a->link && alert_has_email(a->link))
                a->link[strcspn(a->link, "?#")] = '\0';
        if (alert_has_email(a->link))
                r |= alert_set(&a->link, NULL);
        return r;
}

MapResult alert_map_reason(MapResult r, char *reason, size_t reason_size,
                           const char *format, ...)
{
        va_list ap;

        if (reason && reason_size > 0) {
                va_start(ap, format);
                vsnprintf(reason, reason_size, format, ap);
                va_end(ap);
        }
        return r;
}

/* An id from the payload can be of any length, and a unique index
 * entry cannot: a long one keeps its start and gets the SHA-256 of the
 * whole, which stays as stable and as unique. */
static int shorten_id(Alert *a)
{
        unsigned char digest[32];
        char hex[65];
        size_t len = strlen(a->external_id), n;

        if (len <= ALERT_ID_MAX)
                return 0;
        if (auth_sha256(a->external_id, len, digest) < 0)
                return -ENOMEM;
        text_hex(digest, sizeof(digest), hex);
        n = utf8_cut(a->external_id, len, ALERT_ID_MAX - sizeof(hex) - 1);
        sprintf(a->external_id + n, ":%s", hex);
        return 0;
}

MapResult alert_map_done(Alert *a, MapResult r, int r_errno, Alert *ret,
                         char *reason, size_t reason_size)
{
        *ret = (Alert) { 0 };
        if (r == MAP_ALERT && r_errno >= 0) {
                assert(a->external_id && a->title);
                r_errno = scrub(a) | shorten_id(a);
        }
        if (r_errno < 0) {
                alert_free(a);
                return alert_map_reason(MAP_NO_MEMORY, reason, reason_size,
                                        "out of memory while reading the webhook");
        }
        if (r != MAP_ALERT) {
                alert_free(a);
                return r;
        }
        *ret = *a;
        *a = (Alert) { 0 };
        return alert_map_reason(MAP_ALERT, reason, reason_size, "%s", "");
}
