/* The provider-neutral Alert: names, ownership, tags, what counts as
 * personal data, and the two renderings Stride reads (the Markdown
 * description and customFields.errorTrace). The helpers only the mappers
 * use are in providers/mapping.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alert.h"
#include "json.h"
#include "text.h"

#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 1024

static const char *const provider_names[PROVIDER_COUNT] = {
        [PROVIDER_SENTRY] = "sentry",
        [PROVIDER_DATADOG] = "datadog",
        [PROVIDER_NEWRELIC] = "newrelic",
};

static const char *const provider_display_names[PROVIDER_COUNT] = {
        [PROVIDER_SENTRY] = "Sentry",
        [PROVIDER_DATADOG] = "Datadog",
        [PROVIDER_NEWRELIC] = "New Relic",
};

const char *provider_name(Provider p)
{
        return (unsigned) p < PROVIDER_COUNT ? provider_names[p] : "unknown";
}

const char *provider_display_name(Provider p)
{
        return (unsigned) p < PROVIDER_COUNT ? provider_display_names[p]
                                             : "Unknown";
}

int provider_from_name(const char *name, Provider *ret)
{
        for (unsigned p = 0; name && p < PROVIDER_COUNT; p++)
                if (strcmp(name, provider_names[p]) == 0) {
                        *ret = (Provider) p;
                        return 0;
                }
        return -EINVAL;
}

const char *severity_priority(Severity s)
{
        static const char *const names[] = { "Low", "Medium", "High", "Critical" };

        return (unsigned) s <= SEVERITY_CRITICAL ? names[s] : "High";
}

const char *severity_name(Severity s)
{
        static const char *const names[] = { "low", "medium", "high", "critical" };

        return (unsigned) s <= SEVERITY_CRITICAL ? names[s] : "high";
}

void alert_free(Alert *a)
{
        if (!a)
                return;

        char **fields[] = {
                &a->kind, &a->external_id, &a->provider_project,
                &a->occurrence_id, &a->title, &a->message, &a->culprit,
                &a->environment, &a->release, &a->fingerprint,
                &a->stack_trace, &a->link, &a->actor, &a->context_json,
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                free(*fields[i]);
        for (size_t i = 0; i < a->n_tags; i++) {
                free(a->tags[i].key);
                free(a->tags[i].value);
        }
        free(a->tags);
        *a = (Alert) { 0 };
}

int alert_set(char **field, const char *s)
{
        char *copy = NULL;

        if (s && *s) {
                copy = utf8_sanitize(s, strlen(s));
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

int alert_setf(char **field, const char *format, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = alert_set(field, s);
        free(s);
        return r;
}

/* ---- Personal data. ---- */

static bool local_char(char c)
{
        return c != '\0' && (isalnum((unsigned char) c) || strchr("._%+-", c));
}

/* The end of a domain of at least two labels whose last label is two or
 * more letters, starting at p; NULL if there is none. */
static const char *domain_end(const char *p)
{
        const char *label, *end = NULL;
        unsigned labels = 0;
        bool alpha;

        for (;;) {
                label = p;
                alpha = true;
                while (isalnum((unsigned char) *p) || *p == '-') {
                        alpha = alpha && isalpha((unsigned char) *p);
                        p++;
                }
                if (p == label)
                        break;
                if (++labels >= 2 && alpha && p - label >= 2)
                        end = p;
                if (*p != '.')
                        break;
                p++;
        }
        return end;
}

/* Finds the first email address in s: its start and end. */
static bool find_email(const char *s, const char **ret_start,
                       const char **ret_end)
{
        const char *at, *start, *end;

        for (at = strchr(s, '@'); at; at = strchr(at + 1, '@')) {
                for (start = at; start > s && local_char(start[-1]); start--)
                        ;
                end = domain_end(at + 1);
                if (start < at && end) {
                        *ret_start = start;
                        *ret_end = end;
                        return true;
                }
        }
        return false;
}

bool alert_has_email(const char *s)
{
        const char *start, *end;

        return s && find_email(s, &start, &end);
}

/* A copy of s with every email address replaced; NULL on ENOMEM. */
char *alert_redact_emails(const char *s)
{
        static const char mark[] = "[email]";
        const char *start, *end;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        while (find_email(s, &start, &end)) {
                fwrite(s, 1, (size_t) (start - s), f);
                fputs(mark, f);
                s = end;
        }
        fputs(s, f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static bool is_ip(const char *s, size_t n)
{
        unsigned char addr[16];
        char host[64];

        if (n >= sizeof(host))
                return false;
        memcpy(host, s, n);
        host[n] = '\0';
        return inet_pton(AF_INET, host, addr) == 1 ||
               inet_pton(AF_INET6, host, addr) == 1;
}

/* An address alone, "192.0.2.1:8080" or "[2001:db8::1]:443". */
static bool is_ip_address(const char *s)
{
        const char *colon = strchr(s, ':'), *bracket;

        if (is_ip(s, strlen(s)))
                return true;
        if (*s == '[' && (bracket = strchr(s, ']')))
                return is_ip(s + 1, (size_t) (bracket - s - 1));
        return colon && !strchr(colon + 1, ':') && is_ip(s, (size_t) (colon - s));
}

/* Is this word of a key (lower case) personal? user only as the first. */
static bool word_is_personal(const char *w, bool first)
{
        static const char *const words[] = { "ip", "ipv4", "ipv6", "ipaddr",
                                             "ipaddress" };

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strcmp(w, words[i]) == 0)
                        return true;
        return first && (strcmp(w, "user") == 0 || strcmp(w, "username") == 0);
}

/* Words split at anything but letters and digits, and at a lower case
 * letter followed by an upper case one ("clientIP", "userId"). */
static bool key_is_personal(const char *key)
{
        static const char *const parts[] = { "email", "cookie", "password",
                                             "secret", "authorization" };
        char word[32];
        size_t n = 0;
        bool first = true;

        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
                if (strcasestr(key, parts[i]))
                        return true;

        for (const char *p = key;; p++) {
                bool alnum = isalnum((unsigned char) *p);
                bool split = !alnum || (p > key && islower((unsigned char) p[-1]) &&
                                        isupper((unsigned char) *p));

                if (split && n > 0) {
                        word[n] = '\0';
                        if (word_is_personal(word, first))
                                return true;
                        first = false;
                        n = 0;
                }
                if (!*p)
                        return false;
                if (alnum && n < sizeof(word) - 1)
                        word[n++] = (char) tolower((unsigned char) *p);
        }
}

bool alert_tag_is_personal(const char *key, const char *value)
{
        return (key && key_is_personal(key)) ||
               (value && (alert_has_email(value) || is_ip_address(value)));
}

/* ---- Tags. ---- */

static AlertTag *find_tag(const Alert *a, const char *key)
{
        for (size_t i = 0; i < a->n_tags; i++)
                if (strcmp(a->tags[i].key, key) == 0)
                        return &a->tags[i];
        return NULL;
}

const char *alert_tag(const Alert *a, const char *key)
{
        const AlertTag *t = find_tag(a, key);

        return t ? t->value : NULL;
}

/* A sanitised copy of s cut at max bytes; a URL loses its query string
 * and fragment, which may carry personal data. */
static char *tag_text(const char *s, size_t max, bool url)
{
        size_t len = strlen(s);
        char *r;

        if (url && (strncasecmp(s, "http://", 7) == 0 ||
                    strncasecmp(s, "https://", 8) == 0))
                len = strcspn(s, "?#");
        r = utf8_sanitize(s, len);
        if (r)
                r[utf8_cut(r, strlen(r), max)] = '\0';
        return r;
}

/* Is v one of the ", "-separated items of list? */
static bool has_item(const char *list, const char *v)
{
        size_t n = strlen(v);

        for (const char *p = list;; p += 2) {
                if (strncmp(p, v, n) == 0 &&
                    (p[n] == '\0' || strncmp(p + n, ", ", 2) == 0))
                        return true;
                p = strstr(p, ", ");
                if (!p)
                        return false;
        }
}

static int append_value(AlertTag *t, char *value)
{
        size_t old = strlen(t->value), n = strlen(value);
        char *r;

        if (n == 0 || has_item(t->value, value) || old + 2 + n > TAG_VALUE_MAX) {
                free(value);
                return 0;
        }
        if (old == 0) {
                free(t->value);
                t->value = value;
                return 0;
        }
        r = realloc(t->value, old + 2 + n + 1);
        if (!r) {
                free(value);
                return -ENOMEM;
        }
        memcpy(r + old, ", ", 2);
        memcpy(r + old + 2, value, n + 1);
        t->value = r;
        free(value);
        return 0;
}

int alert_add_tag(Alert *a, const char *key, const char *value)
{
        char *k, *v;
        AlertTag *t, *tags;

        if (!key || !*key || alert_tag_is_personal(key, value))
                return 0;

        k = tag_text(key, TAG_KEY_MAX, false);
        v = tag_text(value ? value : "", TAG_VALUE_MAX, true);
        if (!k || !v)
                goto nomem;

        t = find_tag(a, k);
        if (t) {
                free(k);
                return append_value(t, v);
        }
        if (a->n_tags >= ALERT_TAGS_MAX) {
                free(k);
                free(v);
                return 0;
        }
        tags = realloc(a->tags, (a->n_tags + 1) * sizeof(*tags));
        if (!tags)
                goto nomem;
        a->tags = tags;
        a->tags[a->n_tags++] = (AlertTag) { .key = k, .value = v };
        return 0;

nomem:
        free(k);
        free(v);
        return -ENOMEM;
}

/* ---- The setup guide's endpoint check. ---- */

bool alert_is_setup_test(const JsonValue *root)
{
        size_t n;
        const char *s = json_string(json_get(root, "test"), &n);

        return json_type(root) == JSON_OBJECT && s && n == 7 &&
               memcmp(s, "webhook", 7) == 0;
}

/* ---- The Markdown description. ---- */

static size_t longest_run(const char *s, size_t len, char c)
{
        size_t best = 0, run = 0;

        for (size_t i = 0; i < len; i++) {
                run = s[i] == c ? run + 1 : 0;
                if (run > best)
                        best = run;
        }
        return best;
}

/* Where to cut text longer than max: on a character boundary, at the
 * last line break when one is in the second half. */
static size_t cut_text(const char *s, size_t len, size_t max)
{
        size_t n = utf8_cut(s, len, max);
        const char *nl;

        if (n == len)
                return n;
        nl = memrchr(s, '\n', n);
        return nl && (size_t) (nl - s) > n / 2 ? (size_t) (nl - s) : n;
}

/* Inline code that no backtick inside can close, on one line. */
static void put_inline_code(FILE *f, const char *s)
{
        size_t len = strlen(s), ticks = longest_run(s, len, '`') + 1;
        bool pad = len > 0 && (s[0] == '`' || s[len - 1] == '`');

        for (size_t i = 0; i < ticks; i++)
                fputc('`', f);
        if (pad)
                fputc(' ', f);
        for (const char *p = s; *p; p++)
                fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
        if (pad)
                fputc(' ', f);
        for (size_t i = 0; i < ticks; i++)
                fputc('`', f);
}

static void put_message(FILE *f, const char *msg)
{
        size_t len = strlen(msg), n = cut_text(msg, len, ALERT_TRACE_MAX);

        fwrite(msg, 1, n, f);
        if (n < len)
                fputs("\n\n*(message cut at 64 KiB)*", f);
        fputs("\n\n", f);
}

/* A fenced block longer than any run of backticks in the trace, so no
 * line of it can end the block. */
static void put_trace(FILE *f, const char *trace)
{
        size_t len = strlen(trace), n = cut_text(trace, len, ALERT_TRACE_MAX);
        size_t ticks = longest_run(trace, n, '`') + 1;

        if (ticks < 3)
                ticks = 3;
        fputs("**Stack trace:**\n\n", f);
        for (size_t i = 0; i < ticks; i++)
                fputc('`', f);
        fputc('\n', f);
        fwrite(trace, 1, n, f);
        if (n > 0 && trace[n - 1] != '\n')
                fputc('\n', f);
        for (size_t i = 0; i < ticks; i++)
                fputc('`', f);
        fputs("\n\n", f);
        if (n < len)
                fputs("*(stack trace cut at 64 KiB)*\n\n", f);
}

static void put_cell(FILE *f, const char *s)
{
        for (const char *p = s; *p; p++) {
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        fputc(' ', f);
                else if (strchr("\\`*_[]<>|~", *p))
                        fprintf(f, "\\%c", *p);
                else
                        fputc(*p, f);
        }
}

static void put_tags(FILE *f, const Alert *a)
{
        bool any = false;

        for (size_t i = 0; i < a->n_tags; i++) {
                const AlertTag *t = &a->tags[i];

                if (!t->key || alert_tag_is_personal(t->key, t->value))
                        continue;
                if (!any)
                        fputs("**Tags:**\n\n| Tag | Value |\n| --- | --- |\n", f);
                any = true;
                fputs("| ", f);
                put_cell(f, t->key);
                fputs(" | ", f);
                put_cell(f, t->value ? t->value : "");
                fputs(" |\n", f);
        }
        if (any)
                fputc('\n', f);
}

/* Only web links; characters that would end a Markdown link target are
 * percent-encoded. */
static void put_link(FILE *f, const Alert *a)
{
        const char *url = a->link;

        if (!url || (strncasecmp(url, "https://", 8) != 0 &&
                     strncasecmp(url, "http://", 7) != 0))
                return;
        fprintf(f, "[View in %s](", provider_display_name(a->provider));
        for (const char *p = url; *p; p++) {
                if ((unsigned char) *p <= 0x20 || strchr("()<>\"\\`", *p))
                        fprintf(f, "%%%02X", (unsigned char) *p);
                else
                        fputc(*p, f);
        }
        fputs(")\n", f);
}

/* fclose fills in the stream's buffer and length, so both are read
 * only after it. */
static char *close_stream(FILE *f, char **buf, size_t *len)
{
        bool failed = ferror(f);

        if (fclose(f) != 0 || failed) {
                free(*buf);
                return NULL;
        }
        while (*len > 0 && (*buf)[*len - 1] == '\n')
                (*buf)[--*len] = '\0';
        return *buf;
}

char *alert_render_description(const Alert *a)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        if (a->message)
                put_message(f, a->message);
        if (a->culprit) {
                fputs("**Culprit:** ", f);
                put_inline_code(f, a->culprit);
                fputs("\n\n", f);
        }
        if (a->stack_trace)
                put_trace(f, a->stack_trace);
        if (a->environment) {
                fputs("**Environment:** ", f);
                put_inline_code(f, a->environment);
                fputs("\n\n", f);
        }
        if (a->release) {
                fputs("**Release:** ", f);
                put_inline_code(f, a->release);
                fputs("\n\n", f);
        }
        put_tags(f, a);
        put_link(f, a);
        return close_stream(f, &buf, &len);
}

/* ---- customFields.errorTrace. ---- */

static void put_key_string(JsonWriter *w, const char *key, const char *value)
{
        if (!value)
                return;
        json_write_key(w, key);
        json_write_string(w, value);
}

/* ISO 8601 with milliseconds in UTC; false when ms is not a time. */
static bool iso_time(int64_t ms, char *out, size_t size)
{
        time_t t;
        struct tm tm;

        if (ms < ALERT_TIME_MIN_MS || ms > ALERT_TIME_MAX_MS)
                return false;
        t = (time_t) (ms / 1000);
        if (!gmtime_r(&t, &tm))
                return false;
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int) (ms % 1000));
        return true;
}

static void put_tag_object(JsonWriter *w, const Alert *a)
{
        json_write_key(w, "tags");
        json_write_object_open(w);
        for (size_t i = 0; i < a->n_tags; i++) {
                const AlertTag *t = &a->tags[i];

                if (!t->key || alert_tag_is_personal(t->key, t->value))
                        continue;
                json_write_key(w, t->key);
                json_write_string(w, t->value ? t->value : "");
        }
        json_write_object_close(w);
}

/* The mapper's context when it is a JSON object, else {}. */
static void put_context(JsonWriter *w, const char *context)
{
        JsonError error;
        Json *doc = NULL;
        bool object = context &&
                json_parse(context, strlen(context), NULL, &doc, &error) == 0 &&
                json_type(json_root(doc)) == JSON_OBJECT;

        json_free(doc);
        json_write_key(w, "context");
        if (object) {
                json_write_raw(w, context);
                return;
        }
        json_write_object_open(w);
        json_write_object_close(w);
}

char *alert_render_error_trace(const Alert *a, int64_t occurrence_count)
{
        JsonWriter *w = json_writer_new();
        char when[64];

        json_write_object_open(w);
        put_key_string(w, "service", provider_display_name(a->provider));
        put_key_string(w, "severity", severity_name(a->severity));
        if (iso_time(a->timestamp_ms, when, sizeof(when)))
                put_key_string(w, "timestamp", when);
        put_key_string(w, "environment", a->environment);
        put_key_string(w, "release", a->release);
        put_tag_object(w, a);
        put_context(w, a->context_json);
        put_key_string(w, "fingerprint", a->fingerprint);
        if (a->stack_trace) {
                size_t len = strlen(a->stack_trace);

                json_write_key(w, "stackTrace");
                json_write_stringn(w, a->stack_trace,
                                   cut_text(a->stack_trace, len, ALERT_TRACE_MAX));
        }
        json_write_key(w, "occurrenceCount");
        json_write_int(w, occurrence_count);
        put_key_string(w, "link", a->link);
        put_key_string(w, "externalId", a->external_id);
        json_write_object_close(w);
        return json_writer_finish(w, NULL);
}
