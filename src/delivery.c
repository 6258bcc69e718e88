/* A request's bytes into a Delivery. */
#include "delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "datadog.h"
#include "json.h"
#include "newrelic.h"
#include "sentry.h"

static const MapFunc mappers[PROVIDER_COUNT] = {
        [PROVIDER_SENTRY] = sentry_map,
        [PROVIDER_DATADOG] = datadog_map,
        [PROVIDER_NEWRELIC] = newrelic_map,
};

bool delivery_is_setup_check(const char *body, size_t len)
{
        Json *doc = NULL;
        JsonError err;
        bool r;

        if (len > 256 || json_parse(body, len, NULL, &doc, &err) < 0)
                return false;
        r = alert_is_setup_test(json_root(doc)) && json_count(json_root(doc)) == 1;
        json_free(doc);
        return r;
}

static Delivery *make(const Config *c, const Request *r, Alert *alert)
{
        Delivery *d = calloc(1, sizeof(*d));
        char mapped[128];
        const char *map = config_map_project(c, r->provider, alert->provider_project,
                                             mapped, sizeof(mapped));

        if (!d)
                return NULL;
        d->url_project = r->project ? strdup(r->project) : NULL;
        d->mapped_project = map ? strdup(map) : NULL;
        if ((r->project && !d->url_project) || (map && !d->mapped_project)) {
                delivery_free(d);
                return NULL;
        }
        d->alert = *alert;
        *alert = (Alert) { 0 };
        auth_sha256(r->body, r->len, d->digest);
        snprintf(d->remote_addr, sizeof(d->remote_addr), "%s", r->remote_addr);
        snprintf(d->request_id, sizeof(d->request_id), "%s", r->request_id);
        return d;
}

static PrepareResult map(const Config *c, const Request *r, const JsonValue *root,
                         Delivery **ret, char *reason, size_t size)
{
        MapInput in = { .root = root, .resource = r->resource };
        Alert alert = { 0 };

        if (alert_is_setup_test(root)) {
                snprintf(reason, size, "test delivery acknowledged, no issue written");
                return PREPARED_TEST;
        }

        switch (mappers[r->provider](&in, &alert, reason, size)) {
        case MAP_ALERT:
                *ret = make(c, r, &alert);
                alert_free(&alert);
                if (!*ret) {
                        snprintf(reason, size, "out of memory: try again");
                        return PREPARED_NO_MEMORY;
                }
                return PREPARED;
        case MAP_TEST:
                snprintf(reason, size, "test notification acknowledged, no issue written");
                return PREPARED_TEST;
        case MAP_IGNORED:
                return PREPARED_IGNORED;
        case MAP_UNRECOGNISED:
                return PREPARED_UNRECOGNISED;
        case MAP_NO_MEMORY:
                break;
        }
        snprintf(reason, size, "out of memory: try again");
        return PREPARED_NO_MEMORY;
}

/* ---- Form bodies ----
 *
 * Datadog's "Encode as form" and New Relic's classic "Form" payload type
 * post application/x-www-form-urlencoded (EDGE-CASES item 23). The
 * fields become the JSON object the mappers read; the raw bytes stay
 * what was authenticated and what the digest covers. */

typedef struct {
        const char *key, *value;        /* still escaped */
        size_t key_len, value_len;
} FormField;

static bool is_form(const char *content_type)
{
        static const char form[] = "application/x-www-form-urlencoded";
        const size_t n = sizeof(form) - 1;
        const char *p = content_type;

        if (!p)
                return false;
        p += strspn(p, " \t");
        /* strchr finds the terminator too: the type may end there. */
        return strncasecmp(p, form, n) == 0 && strchr("; \t", p[n]);
}

/* Fields are separated by '&', and their key from their value by the
 * first '='; empty fields are skipped. False after the last. */
static bool form_next(const char **p, const char *end, FormField *f)
{
        const char *s = *p, *amp, *eq;

        while (s < end && *s == '&')
                s++;
        if (s == end)
                return false;
        amp = memchr(s, '&', (size_t) (end - s));
        if (!amp)
                amp = end;
        eq = memchr(s, '=', (size_t) (amp - s));
        f->key = s;
        f->key_len = (size_t) ((eq ? eq : amp) - s);
        f->value = eq ? eq + 1 : amp;
        f->value_len = (size_t) (amp - f->value);
        *p = amp;
        return true;
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* '+' is a space and %XX a byte; a '%' without two hex digits stays, as
 * the WHATWG URL standard decodes forms. out has room for n + 1 bytes;
 * returns the decoded length. */
static size_t form_unescape(const char *s, size_t n, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                int hi = -1, lo = -1;

                if (s[i] == '%' && i + 2 < n) {
                        hi = hex_digit(s[i + 1]);
                        lo = hex_digit(s[i + 2]);
                }
                if (hi >= 0 && lo >= 0) {
                        out[o++] = (char) (hi << 4 | lo);
                        i += 2;
                } else {
                        out[o++] = s[i] == '+' ? ' ' : s[i];
                }
        }
        out[o] = '\0';
        return o;
}

/* s parsed, when it is a JSON object or array; else NULL. */
static Json *form_json(const char *s, size_t n)
{
        size_t i = strspn(s, " \t\r\n");
        Json *doc = NULL;
        JsonError err;

        if (i >= n || (s[i] != '{' && s[i] != '['))
                return NULL;
        return json_parse(s, n, NULL, &doc, &err) < 0 ? NULL : doc;
}

/* A form of one field whose value is a JSON object or array (the oldest
 * New Relic webhooks post alert=<JSON>): that value. */
static Json *form_single(const char *body, size_t len)
{
        const char *p = body, *end = body + len;
        FormField f, more;
        char *buf;
        Json *doc;

        if (!form_next(&p, end, &f) || form_next(&p, end, &more))
                return NULL;
        buf = malloc(f.value_len + 1);
        if (!buf)
                return NULL;
        doc = form_json(buf, form_unescape(f.value, f.value_len, buf));
        free(buf);
        return doc;
}

/* The fields as one JSON object: values that are JSON objects or arrays
 * as such, any other as a string. NULL on ENOMEM. */
static char *form_to_json(const char *body, size_t len, size_t *ret_len)
{
        const char *p = body, *end = body + len;
        JsonWriter *w = json_writer_new();
        char *buf = malloc(len + 1);
        FormField f;

        json_write_object_open(w);
        while (buf && form_next(&p, end, &f)) {
                size_t n;
                Json *doc;

                form_unescape(f.key, f.key_len, buf);
                json_write_key(w, buf);
                n = form_unescape(f.value, f.value_len, buf);
                doc = form_json(buf, n);
                if (doc)
                        json_write_value(w, json_root(doc));
                else
                        json_write_stringn(w, buf, n);
                json_free(doc);
        }
        json_write_object_close(w);
        if (!buf) {
                json_writer_free(w);
                return NULL;
        }
        free(buf);
        return json_writer_finish(w, ret_len);
}

static int parse_form(const Request *r, Json **doc, JsonError *err)
{
        char *text;
        size_t len;
        int k;

        *doc = form_single(r->body, r->len);
        if (*doc)
                return 0;
        text = form_to_json(r->body, r->len, &len);
        if (!text) {
                *err = (JsonError) { .kind = JSON_ERROR_NO_MEMORY };
                snprintf(err->message, sizeof(err->message),
                         "out of memory: try again");
                return -ENOMEM;
        }
        k = json_parse(text, len, NULL, doc, err);
        free(text);
        if (k < 0 && err->kind != JSON_ERROR_NO_MEMORY)
                snprintf(err->message, sizeof(err->message),
                         "the form fields nest too deeply or hold too many values");
        return k;
}

/* JSON, or a form. A form body that is JSON is JSON whose sender left
 * the Content-Type at curl -d's default. */
static int parse_body(const Request *r, Json **doc, JsonError *err)
{
        size_t i = 0;

        while (i < r->len && r->body[i] && strchr(" \t\r\n", r->body[i]))
                i++;
        if (is_form(r->content_type) && i < r->len &&
            r->body[i] != '{' && r->body[i] != '[')
                return parse_form(r, doc, err);
        return json_parse(r->body, r->len, NULL, doc, err);
}

PrepareResult delivery_prepare(const Config *c, const Request *r, Delivery **ret,
                               char *reason, size_t reason_size)
{
        JsonError err;
        Json *doc = NULL;
        PrepareResult res;
        int k;

        *ret = NULL;
        reason[0] = '\0';
        k = parse_body(r, &doc, &err);
        if (k < 0) {
                snprintf(reason, reason_size, "%s", err.message);
                return err.kind == JSON_ERROR_NO_MEMORY ? PREPARED_NO_MEMORY :
                                                          PREPARED_BAD_JSON;
        }
        res = map(c, r, json_root(doc), ret, reason, reason_size);
        json_free(doc);
        return res;
}
