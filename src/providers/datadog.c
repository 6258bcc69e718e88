/* Datadog webhooks into an Alert: the recommended template, which names
 * the transition and the alert cycle (FORMATS.md section 2.4), and the
 * default payload, which only has the state in its title's "[...]"
 * prefixes (section 2.2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "datadog.h"
#include "json.h"
#include "mapping.h"
#include "text.h"

typedef struct {
        const char *name;
        AlertEvent event;
} Transition;

/* $ALERT_TRANSITION: every one but Recovered says the monitor fired
 * (again); the first creates the issue, the rest count as occurrences. */
static const Transition transitions[] = {
        { "Triggered", ALERT_OPEN },
        { "Re-Triggered", ALERT_OPEN },
        { "Warn", ALERT_OPEN },
        { "Re-Warn", ALERT_OPEN },
        { "No Data", ALERT_OPEN },
        { "Re-No Data", ALERT_OPEN },
        { "Renotify", ALERT_OPEN },
        { "Recovered", ALERT_RESOLVE },
};

#define N_TRANSITIONS (sizeof(transitions) / sizeof(transitions[0]))

/* What the leading "[P2] [Triggered on {env:prod}] [TEST]" blocks of a
 * title say. */
typedef struct {
        int priority;                   /* 1 to 5 from "[P1]", 0: none */
        bool test;
        const Transition *transition;
        const char *display;            /* after the blocks we know */
        const char *bare;               /* after all blocks */
} TitleInfo;

typedef struct {
        const JsonValue *root;
        char *reason;
        size_t reason_size;
        int error;                      /* -ENOMEM met while filling */
} Delivery;

static const char *text(const JsonValue *v, const char *path)
{
        return alert_opt_path(v, path);
}

static const Transition *find_transition(const char *name)
{
        for (size_t i = 0; i < N_TRANSITIONS; i++)
                if (strcasecmp(name, transitions[i].name) == 0)
                        return &transitions[i];
        return NULL;
}

/* "Triggered" or "Triggered on {host:a}" at the start of a block. */
static const Transition *block_transition(const char *s, size_t len)
{
        for (size_t i = 0; i < N_TRANSITIONS; i++) {
                size_t n = strlen(transitions[i].name);

                if (len >= n && strncasecmp(s, transitions[i].name, n) == 0 &&
                    (len == n || s[n] == ' '))
                        return &transitions[i];
        }
        return NULL;
}

/* The length of the "[...]" block at s, 0 when s does not start one;
 * "]" inside the braces of a scope does not end it. */
static size_t block_len(const char *s)
{
        unsigned depth = 0;

        if (*s != '[')
                return 0;
        for (size_t i = 1; s[i]; i++) {
                if (s[i] == '{')
                        depth++;
                else if (s[i] == '}' && depth > 0)
                        depth--;
                else if (s[i] == ']' && depth == 0)
                        return i + 1;
        }
        return 0;
}

/* Notes what one block's content s[0..len) says; false if nothing. */
static bool read_block(const char *s, size_t len, TitleInfo *t)
{
        const Transition *tr;

        if (len == 2 && (s[0] == 'P' || s[0] == 'p') && s[1] >= '1' && s[1] <= '5') {
                if (!t->priority)
                        t->priority = s[1] - '0';
                return true;
        }
        if (len == 4 && strncasecmp(s, "TEST", 4) == 0) {
                t->test = true;
                return true;
        }
        tr = block_transition(s, len);
        if (tr && !t->transition)
                t->transition = tr;
        return tr != NULL;
}

static void read_title(const char *title, TitleInfo *t)
{
        const char *p = title;
        bool known = true;
        size_t n;

        *t = (TitleInfo) { .display = title, .bare = title };
        if (!p)
                return;
        for (;;) {
                while (*p == ' ')
                        p++;
                n = block_len(p);
                if (n == 0)
                        break;
                known = read_block(p + 1, n - 2, t) && known;
                p += n;
                if (known)
                        t->display = p;
        }
        t->bare = p;
}

/* DESIGN section 7: the P-level (template or title prefix), else the
 * alert type, else High. */
static Severity severity_of(const JsonValue *root, const TitleInfo *t)
{
        static const Severity levels[] = {
                SEVERITY_CRITICAL, SEVERITY_HIGH, SEVERITY_MEDIUM,
                SEVERITY_LOW, SEVERITY_LOW,
        };
        const char *p = text(root, "alert.priority");
        const char *type = text(root, "alert.type");
        int level = t->priority;

        if (p && (p[0] == 'P' || p[0] == 'p') && p[1] >= '1' && p[1] <= '5' && !p[2])
                level = p[1] - '0';
        if (level)
                return levels[level - 1];
        if (type && strcasecmp(type, "warning") == 0)
                return SEVERITY_MEDIUM;
        if (type && (strcasecmp(type, "info") == 0 ||
                     strcasecmp(type, "success") == 0))
                return SEVERITY_LOW;
        return SEVERITY_HIGH;
}

/* Without a cycle key, the title minus its "[...]" prefixes is all that
 * a trigger and its recovery share. -ENODATA when it is empty too. */
static int set_title_key(Alert *a, const char *org, const TitleInfo *t)
{
        unsigned char digest[32];
        char hex[65];
        size_t n = t->bare ? strlen(t->bare) : 0;

        while (n > 0 && t->bare[n - 1] == ' ')
                n--;
        if (n == 0)
                return -ENODATA;
        if (auth_sha256(t->bare, n, digest) < 0)
                return -ENOMEM;
        text_hex(digest, sizeof(digest), hex);
        if (org)
                return alert_setf(&a->external_id, "datadog:%s:title:%s", org, hex);
        return alert_setf(&a->external_id, "datadog:title:%s", hex);
}

/* FORMATS section 4: alert.cycle_key, else aggreg_key, else the monitor
 * id and scope, else the title. */
static int set_external_id(Alert *a, const JsonValue *root, const TitleInfo *t)
{
        const char *org = text(root, "org.id");
        const char *key = text(root, "alert.cycle_key");
        const char *monitor = text(root, "alert.id");
        const char *scope = text(root, "alert.scope");
        char *id;
        int r;

        if (!key)
                key = text(root, "alert.aggreg_key");
        if (!key && !monitor)
                return set_title_key(a, org, t);
        if (key)
                r = asprintf(&id, "%s", key);
        else if (scope)
                r = asprintf(&id, "%s:%s", monitor, scope);
        else
                r = asprintf(&id, "%s", monitor);
        if (r < 0)
                return -ENOMEM;
        r = org ? alert_setf(&a->external_id, "datadog:%s:%s", org, id)
                : alert_setf(&a->external_id, "datadog:%s", id);
        free(id);
        return r;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim_span(const char **s, size_t *n)
{
        while (*n > 0 && is_blank(**s))
                (*s)++, (*n)--;
        while (*n > 0 && is_blank((*s)[*n - 1]))
                (*n)--;
}

/* $EVENT_MSG comes wrapped in "%%%" lines that mark it as Markdown. */
static int set_message(Alert *a, const JsonValue *root)
{
        const char *m = text(root, "message");
        size_t n;

        if (m)
                return alert_set(&a->message, m);
        m = text(root, "body_markdown");
        if (!m)
                m = text(root, "body");
        if (!m)
                return 0;

        n = strlen(m);
        trim_span(&m, &n);
        if (n >= 3 && strncmp(m, "%%%", 3) == 0)
                m += 3, n -= 3;
        if (n >= 3 && strncmp(m + n - 3, "%%%", 3) == 0)
                n -= 3;
        trim_span(&m, &n);
        return alert_setf(&a->message, "%.*s", (int) n, m);
}

/* The default payload has no link field; its body links the monitor. */
static int set_link(Alert *a, const JsonValue *root)
{
        const char *link = text(root, "link");
        const char *body = text(root, "body_markdown");
        const char *p, *end;

        if (link)
                return alert_set(&a->link, link);
        if (!body)
                body = text(root, "body");
        p = body ? strstr(body, "[Monitor Status](") : NULL;
        if (!p)
                return 0;
        p += strlen("[Monitor Status](");
        end = strchr(p, ')');
        return end ? alert_setf(&a->link, "%.*s", (int) (end - p), p) : 0;
}

/* $TAGS is one comma-separated string; a template may also give a list,
 * and env, service and version fields ($TAGS[env] ...). */
static int add_tags(Alert *a, const JsonValue *root)
{
        const JsonValue *tags = json_get(root, "tags");
        static const char *const fields[] = { "env", "service", "version" };
        int r = 0;

        if (json_type(tags) == JSON_ARRAY)
                for (const JsonValue *t = json_first(tags); t; t = json_next(t))
                        r |= alert_add_tag_list(a, json_text(t));
        else
                r |= alert_add_tag_list(a, json_string(tags, NULL));
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                if (text(root, fields[i]))
                        r |= alert_add_tag(a, fields[i], text(root, fields[i]));
        return r;
}

static int set_context(Alert *a, const JsonValue *root)
{
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        alert_context_string(w, "eventType", text(root, "event_type"));
        alert_context_string(w, "monitorId", text(root, "alert.id"));
        alert_context_string(w, "metric", text(root, "alert.metric"));
        alert_context_string(w, "query", text(root, "alert.query"));
        alert_context_string(w, "scope", text(root, "alert.scope"));
        alert_context_string(w, "status", text(root, "alert.status"));
        alert_context_string(w, "hostname", text(root, "hostname"));
        alert_context_string(w, "snapshot", text(root, "snapshot"));
        alert_context_string(w, "org", text(root, "org.name"));
        json_write_object_close(w);
        return alert_set_context(a, w);
}

static int fill(Alert *a, const JsonValue *root, const TitleInfo *t)
{
        const char *monitor = text(root, "alert.id");
        const char *event_id = text(root, "event_id");
        const char *service, *env, *version;
        char fallback[128];
        int r = 0;

        if (!event_id)
                event_id = text(root, "id");
        if (monitor)
                snprintf(fallback, sizeof(fallback), "Datadog monitor %s", monitor);
        else
                snprintf(fallback, sizeof(fallback), "Datadog alert %s",
                         event_id ? event_id : "");
        a->severity = severity_of(root, t);
        a->timestamp_ms = alert_time_ms(json_get(root, "date"));
        if (a->timestamp_ms == 0)
                a->timestamp_ms = alert_time_ms(json_get(root, "last_updated"));

        r |= alert_set_title(a, t->display, fallback);
        r |= alert_set(&a->occurrence_id, event_id);
        r |= alert_set(&a->fingerprint, text(root, "alert.aggreg_key"));
        r |= set_message(a, root);
        r |= set_link(a, root);
        r |= add_tags(a, root);
        r |= set_context(a, root);

        service = text(root, "service") ? text(root, "service") : alert_tag(a, "service");
        env = text(root, "env") ? text(root, "env") : alert_tag(a, "env");
        version = text(root, "version") ? text(root, "version") : alert_tag(a, "version");
        r |= alert_set(&a->environment, env);
        r |= alert_set(&a->release, version);
        if (service && *service)
                r |= alert_setf(&a->provider_project, "service:%s", service);
        return r;
}

static MapResult map(Delivery *d, Alert *a)
{
        const JsonValue *root = d->root;
        const char *name = text(root, "alert.transition");
        const char *title = text(root, "title");
        const Transition *tr = name ? find_transition(name) : NULL;
        TitleInfo t, alert_title;
        int r;

        read_title(title, &t);
        read_title(text(root, "alert.title"), &alert_title);
        if (!title)
                t = alert_title;
        if (t.test || alert_title.test)
                return alert_map_reason(MAP_TEST, d->reason, d->reason_size,
                                        "Datadog test notification");
        if (name && !tr)
                return alert_map_reason(MAP_IGNORED, d->reason, d->reason_size,
                                        "Datadog transition '%.*s' is not "
                                        "turned into issues",
                                        (int) utf8_cut(name, strlen(name), 40),
                                        name);
        if (!tr)
                tr = t.transition ? t.transition : alert_title.transition;
        if (!tr)
                return alert_map_reason(MAP_UNRECOGNISED, d->reason, d->reason_size,
                                        "expected a Datadog webhook: title and "
                                        "alert.transition or a [..] title prefix");

        r = set_external_id(a, root, &t);
        if (r == -ENODATA)
                return alert_map_reason(MAP_UNRECOGNISED, d->reason, d->reason_size,
                                        "expected alert.cycle_key, or a Datadog "
                                        "title with text after its [..] prefixes");
        a->event = tr->event;
        a->occurrence = tr->event == ALERT_OPEN;
        d->error |= r;
        d->error |= alert_set(&a->kind, tr->name);
        d->error |= fill(a, root, &t);
        return MAP_ALERT;
}

MapResult datadog_map(const MapInput *in, Alert *ret, char *reason,
                      size_t reason_size)
{
        Alert a = { .provider = PROVIDER_DATADOG };
        Delivery d = { .root = in->root, .reason = reason,
                       .reason_size = reason_size };
        MapResult r;

        if (json_type(in->root) != JSON_OBJECT)
                r = alert_map_reason(MAP_UNRECOGNISED, reason, reason_size,
                                     "expected a JSON object from Datadog");
        else
                r = map(&d, &a);
        return alert_map_done(&a, r, d.error, ret, reason, reason_size);
}
