/* Sentry webhooks into an Alert: the integration platform's resources,
 * dispatched on Sentry-Hook-Resource and action, and the legacy WebHooks
 * plugin (reference/FORMATS.md section 1). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "mapping.h"
#include "sentry.h"
#include "text.h"

#define FRAMES_MAX 50           /* newest frames shown per exception */
#define EXCEPTIONS_MAX 10
#define CONTEXT_LINE_MAX 300

typedef struct {
        const JsonValue *root;
        const JsonValue *data;
        const char *action;
        const char *uuid;       /* installation.uuid, or NULL */
        char *reason;
        size_t reason_size;
        int error;              /* -ENOMEM met while filling the Alert */
} Delivery;

static MapResult unrecognised(const Delivery *d, const char *what)
{
        return alert_map_reason(MAP_UNRECOGNISED, d->reason, d->reason_size,
                                "expected %s", what);
}

static MapResult not_handled(const Delivery *d, const char *what,
                             const char *name)
{
        /* At most 40 bytes of the name, cut on a character boundary. */
        return alert_map_reason(MAP_IGNORED, d->reason, d->reason_size,
                                "Sentry %s '%.*s' is not turned into issues",
                                what, (int) utf8_cut(name, strlen(name), 40),
                                name);
}

static const char *text(const JsonValue *v, const char *path)
{
        return alert_opt_path(v, path);
}

/* FORMATS section 4: the installation scopes the id; without one the
 * provider's id stands alone. */
static int set_external_id(Alert *a, const Delivery *d, const char *what,
                           const char *id)
{
        if (d->uuid)
                return alert_setf(&a->external_id, "sentry:%s:%s:%s", d->uuid,
                                  what, id);
        return alert_setf(&a->external_id, "sentry:%s:%s", what, id);
}

/* DESIGN section 7: fatal is always Critical; otherwise the issue's
 * priority when it has one, else the level. */
static Severity severity_of(const char *level, const char *priority)
{
        if (level && strcasecmp(level, "fatal") == 0)
                return SEVERITY_CRITICAL;
        if (priority && strcasecmp(priority, "high") == 0)
                return SEVERITY_HIGH;
        if (priority && strcasecmp(priority, "medium") == 0)
                return SEVERITY_MEDIUM;
        if (priority && strcasecmp(priority, "low") == 0)
                return SEVERITY_LOW;
        if (level && strcasecmp(level, "warning") == 0)
                return SEVERITY_MEDIUM;
        if (level && (strcasecmp(level, "info") == 0 ||
                      strcasecmp(level, "debug") == 0))
                return SEVERITY_LOW;
        return SEVERITY_HIGH;
}

static int64_t first_time(const JsonValue *v, const char *a, const char *b)
{
        int64_t t = alert_time_ms(json_path(v, a));

        return t != 0 || !b ? t : alert_time_ms(json_path(v, b));
}

/* ---- Stack traces. ---- */

static void put_context_line(FILE *f, const char *line)
{
        size_t n;

        while (*line == ' ' || *line == '\t')
                line++;
        n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
                n--;
        n = utf8_cut(line, n, CONTEXT_LINE_MAX);
        if (n == 0)
                return;
        fputs("    ", f);
        for (size_t i = 0; i < n; i++)
                fputc(line[i] == '\n' || line[i] == '\r' ? ' ' : line[i], f);
        fputc('\n', f);
}

/* "> at charge (app/services/payment.py:95)" for an in-app frame, two
 * spaces instead of "> " for any other; never the frame's vars. */
static void put_frame(FILE *f, const JsonValue *fr)
{
        const char *fn = text(fr, "function");
        const char *file = text(fr, "filename");
        const char *line = text(fr, "context_line");
        int64_t lineno = 0, colno = 0;

        if (!fn)
                fn = text(fr, "raw_function");
        if (!file)
                file = text(fr, "abs_path");
        if (!file)
                file = text(fr, "module");
        json_int64(json_get(fr, "lineno"), &lineno);
        json_int64(json_get(fr, "colno"), &colno);

        fprintf(f, "%s at %s (%s", json_bool(json_get(fr, "in_app")) ? ">" : " ",
                fn ? fn : "<unknown>", file ? file : "<unknown>");
        if (lineno > 0)
                fprintf(f, ":%" PRId64, lineno);
        if (lineno > 0 && colno > 0)
                fprintf(f, ":%" PRId64, colno);
        fputs(")\n", f);
        if (line)
                put_context_line(f, line);
}

/* Frames come oldest first (the caller before the callee): shown
 * reversed, so the frame that raised leads. */
static bool put_frames(FILE *f, const JsonValue *frames)
{
        size_t n = json_type(frames) == JSON_ARRAY ? json_count(frames) : 0;
        size_t shown = n < FRAMES_MAX ? n : FRAMES_MAX;

        for (size_t i = 0; i < shown; i++)
                put_frame(f, json_at(frames, n - 1 - i));
        if (n > shown)
                fprintf(f, "  ... %zu older frames not shown\n", n - shown);
        return n > 0;
}

static bool put_exception(FILE *f, const JsonValue *exc, bool cause)
{
        const char *type = text(exc, "type"), *value = text(exc, "value");

        if (cause)
                fputs("\nCaused by: ", f);
        if (type && value)
                fprintf(f, "%s: %s\n", type, value);
        else
                fprintf(f, "%s\n", type ? type : value ? value : "Error");
        return put_frames(f, json_path(exc, "stacktrace.frames"));
}

/* Native and JVM events may keep their frames under threads: the crashed
 * thread, else the current one, else the first with frames. */
static const JsonValue *pick_thread(const JsonValue *ev)
{
        const JsonValue *best = NULL, *current = NULL;

        for (const JsonValue *t = json_first(json_path(ev, "threads.values"));
             t; t = json_next(t)) {
                if (json_count(json_path(t, "stacktrace.frames")) == 0)
                        continue;
                if (json_bool(json_get(t, "crashed")))
                        return t;
                if (!current && json_bool(json_get(t, "current")))
                        current = t;
                if (!best)
                        best = t;
        }
        return current ? current : best;
}

static void put_thread(FILE *f, const JsonValue *t, bool after)
{
        const char *name = text(t, "name");

        if (!name)
                name = text(t, "id");
        fprintf(f, "%sThread %s%s\n", after ? "\n" : "", name ? name : "?",
                json_bool(json_get(t, "crashed")) ? " (crashed)" : "");
        put_frames(f, json_path(t, "stacktrace.frames"));
}

static const JsonValue *exception_values(const JsonValue *ev)
{
        const JsonValue *exc = json_get(ev, "exception");
        const JsonValue *values;

        if (!exc)
                exc = json_get(ev, "sentry.interfaces.Exception");
        values = json_type(exc) == JSON_ARRAY ? exc : json_get(exc, "values");
        return json_type(values) == JSON_ARRAY ? values : NULL;
}

/* exception.values runs oldest to newest: the last value is the
 * outermost exception, which leads, its causes after it. */
static void put_trace(FILE *f, const JsonValue *ev)
{
        const JsonValue *values = exception_values(ev), *thread;
        size_t n = json_count(values), shown = 0;
        bool frames = false;

        for (size_t i = n; i > 0 && shown < EXCEPTIONS_MAX; i--, shown++)
                frames |= put_exception(f, json_at(values, i - 1), shown > 0);
        if (n > shown)
                fprintf(f, "\n... %zu more exceptions not shown\n", n - shown);
        thread = frames ? NULL : pick_thread(ev);
        if (thread)
                put_thread(f, thread, shown > 0);
}

static int set_trace(Alert *a, const JsonValue *ev)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bool failed;
        int r;

        if (!f)
                return -ENOMEM;
        put_trace(f, ev);
        failed = ferror(f);
        if (fclose(f) != 0 || failed) {
                free(buf);
                return -ENOMEM;
        }
        while (len > 0 && buf[len - 1] == '\n')
                len--;
        buf[utf8_cut(buf, len, ALERT_TRACE_MAX)] = '\0';
        r = alert_set(&a->stack_trace, buf);
        free(buf);
        return r;
}

/* ---- Events (event_alert, error, the legacy plugin). ---- */

/* Tags are [key, value] pairs; keys lose Sentry's "sentry:" prefix. */
static int add_event_tags(Alert *a, const JsonValue *tags)
{
        int r = 0;

        for (const JsonValue *t = json_first(tags); t; t = json_next(t)) {
                const char *key, *value;

                if (json_type(t) == JSON_ARRAY) {
                        key = json_text(json_at(t, 0));
                        value = json_text(json_at(t, 1));
                } else if (json_type(t) == JSON_OBJECT) {
                        key = json_text(json_get(t, "key"));
                        value = json_text(json_get(t, "value"));
                } else {
                        key = json_key(t);
                        value = json_text(t);
                }
                if (key && strncmp(key, "sentry:", 7) == 0)
                        key += 7;
                r |= alert_add_tag(a, key, value);
        }
        return r;
}

static int set_fingerprint(Alert *a, const JsonValue *fp)
{
        char *buf = NULL;
        size_t len = 0;
        bool first = true;
        FILE *f;
        int r;

        if (json_type(fp) != JSON_ARRAY)
                return alert_set(&a->fingerprint, alert_opt_text(fp));
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (const JsonValue *e = json_first(fp); e; e = json_next(e))
                if (json_text(e)) {
                        fprintf(f, "%s%s", first ? "" : ", ", json_text(e));
                        first = false;
                }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        r = alert_set(&a->fingerprint, buf);
        free(buf);
        return r;
}

/* The message, else the formatted log entry, else the issue's metadata,
 * else the outermost exception's value. */
static const char *event_message(const JsonValue *ev)
{
        const JsonValue *values = exception_values(ev);
        const char *m = text(ev, "message");

        if (!m)
                m = text(ev, "logentry.formatted");
        if (!m)
                m = text(ev, "metadata.value");
        if (!m && json_count(values) > 0)
                m = text(json_at(values, json_count(values) - 1), "value");
        return m;
}

/* The slug inside ".../projects/<org>/<slug>/events/...". */
static int set_slug_from_url(Alert *a, const char *url)
{
        const char *p = url ? strstr(url, "/projects/") : NULL;
        const char *slug, *end;

        if (!p || !(slug = strchr(p + 10, '/')))
                return 0;
        slug++;
        end = strchr(slug, '/');
        if (!end || end == slug)
                return 0;
        return alert_setf(&a->provider_project, "%.*s", (int) (end - slug), slug);
}

static void put_name_version(JsonWriter *w, const char *key,
                             const JsonValue *c)
{
        const char *name = text(c, "name"), *version = text(c, "version");
        char buf[256];

        if (!name)
                return;
        snprintf(buf, sizeof(buf), "%s%s%s", name, version ? " " : "",
                 version ? version : "");
        alert_context_string(w, key, buf);
}

static int set_event_context(Alert *a, const JsonValue *ev, const char *rule)
{
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        alert_context_string(w, "platform", text(ev, "platform"));
        put_name_version(w, "runtime", json_path(ev, "contexts.runtime"));
        put_name_version(w, "os", json_path(ev, "contexts.os"));
        put_name_version(w, "sdk", json_get(ev, "sdk"));
        alert_context_string(w, "eventId", text(ev, "event_id"));
        alert_context_string(w, "triggeredRule", rule);
        json_write_object_close(w);
        return alert_set_context(a, w);
}

/* What every event shape shares. The title falls back to alt_title, then
 * to "Sentry issue <id>". */
static int fill_event(Alert *a, const JsonValue *ev, const char *issue_id,
                      const char *alt_title)
{
        const char *title = text(ev, "title");
        char fallback[128];
        int r = 0;

        snprintf(fallback, sizeof(fallback), "Sentry issue %s", issue_id);
        a->event = ALERT_OPEN;
        a->occurrence = true;
        a->severity = severity_of(text(ev, "level"), NULL);
        a->timestamp_ms = first_time(ev, "timestamp", "datetime");

        r |= alert_set_title(a, title ? title : alt_title, fallback);
        r |= alert_set(&a->occurrence_id, text(ev, "event_id"));
        r |= alert_set(&a->message, event_message(ev));
        r |= alert_set(&a->culprit, text(ev, "culprit"));
        r |= alert_set(&a->environment, text(ev, "environment"));
        r |= alert_set(&a->release, text(ev, "release"));
        r |= alert_set(&a->link, text(ev, "web_url"));
        r |= set_slug_from_url(a, text(ev, "url"));
        r |= set_fingerprint(a, json_get(ev, "fingerprint"));
        r |= add_event_tags(a, json_get(ev, "tags"));
        r |= set_trace(a, ev);
        return r;
}

static bool is_test_notification(const Delivery *d)
{
        int64_t id;

        return json_int64(json_path(d->data, "issue_alert.id"), &id) == 0 &&
               id == -1;
}

/* event_alert (data.event) and error (data.error): one occurrence of the
 * issue, on the same external id as the issue resource. */
static MapResult map_event(Delivery *d, Alert *a, const char *member,
                           const char *action)
{
        const JsonValue *ev = json_get(d->data, member);
        const char *issue_id = text(ev, "issue_id");
        const char *resource = strcmp(member, "event") == 0 ? "event_alert" : "error";
        char expected[32];

        if (d->action && strcmp(d->action, action) != 0)
                return not_handled(d, strcmp(member, "event") == 0
                                   ? "event_alert action" : "error action",
                                   d->action);
        if (strcmp(member, "event") == 0 && is_test_notification(d))
                return alert_map_reason(MAP_TEST, d->reason, d->reason_size,
                                        "Sentry test notification");
        snprintf(expected, sizeof(expected), "data.%s.issue_id", member);
        if (!issue_id)
                return unrecognised(d, expected);

        d->error |= alert_setf(&a->kind, "%s.%s", resource, action);
        d->error |= set_external_id(a, d, "issue", issue_id);
        d->error |= fill_event(a, ev, issue_id, NULL);
        d->error |= set_event_context(a, ev, text(d->data, "triggered_rule"));
        return MAP_ALERT;
}

static MapResult map_event_alert(Delivery *d, Alert *a)
{
        return map_event(d, a, "event", "triggered");
}

static MapResult map_error(Delivery *d, Alert *a)
{
        return map_event(d, a, "error", "created");
}

/* The WebHooks plugin: group fields at the top, the raw event inside,
 * no installation (FORMATS section 1.9). */
static MapResult map_legacy(Delivery *d, Alert *a)
{
        const JsonValue *root = d->root, *ev = json_get(root, "event");
        const char *id = text(root, "id"), *level = text(root, "level");
        const char *culprit = text(root, "culprit");
        const char *slug = text(root, "project_slug");
        const char *rule = alert_first_text(json_get(root, "triggering_rules"));

        if (!id)
                return unrecognised(d, "id, the Sentry issue id of the WebHooks plugin body");

        d->error |= alert_set(&a->kind, "webhooks_plugin");
        d->error |= set_external_id(a, d, "issue", id);
        d->error |= fill_event(a, ev, id, text(root, "message"));
        if (level)
                a->severity = severity_of(level, NULL);
        if (culprit)
                d->error |= alert_set(&a->culprit, culprit);
        d->error |= alert_set(&a->provider_project, slug ? slug : text(root, "project"));
        d->error |= alert_set(&a->link, text(root, "url"));
        d->error |= set_event_context(a, ev, rule);
        return MAP_ALERT;
}

/* ---- Issues. ---- */

static const struct {
        const char *action;
        AlertEvent event;
} issue_actions[] = {
        { "created", ALERT_OPEN },
        { "unresolved", ALERT_OPEN },   /* a regression or escalation */
        { "resolved", ALERT_RESOLVE },
        { "assigned", ALERT_ASSIGN },
        { "ignored", ALERT_MUTE },      /* what the code sends ... */
        { "archived", ALERT_MUTE },     /* ... and what the docs call it */
};

static int set_issue_context(Alert *a, const Delivery *d,
                             const JsonValue *issue)
{
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        alert_context_string(w, "platform", text(issue, "platform"));
        alert_context_string(w, "shortId", text(issue, "shortId"));
        alert_context_string(w, "count", text(issue, "count"));
        alert_context_string(w, "issueCategory", text(issue, "issueCategory"));
        alert_context_string(w, "substatus", text(issue, "substatus"));
        alert_context_string(w, "resolutionType", text(d->data, "resolution_type"));
        json_write_object_close(w);
        return alert_set_context(a, w);
}

/* Who did it, by display name only: the assignee for an assignment,
 * else the actor of the change. */
static const char *issue_actor(const Delivery *d, const JsonValue *issue)
{
        const char *name = NULL;

        if (strcmp(d->action, "assigned") == 0) {
                name = text(d->data, "assignee.name");
                if (!name)
                        name = text(issue, "assignedTo.name");
                return name;
        }
        return text(d->root, "actor.name");
}

static int fill_issue(Alert *a, const Delivery *d, const JsonValue *issue,
                      const char *id)
{
        const char *link = text(issue, "web_url");
        char fallback[128];
        int r = 0;

        snprintf(fallback, sizeof(fallback), "Sentry issue %s", id);
        a->severity = severity_of(text(issue, "level"), text(issue, "priority"));
        a->timestamp_ms = first_time(issue, "lastSeen", "firstSeen");

        r |= alert_setf(&a->kind, "issue.%s", d->action);
        r |= set_external_id(a, d, "issue", id);
        r |= alert_set_title(a, text(issue, "title"), fallback);
        r |= alert_set(&a->message, text(issue, "metadata.value"));
        r |= alert_set(&a->culprit, text(issue, "culprit"));
        r |= alert_set(&a->link, link ? link : text(issue, "permalink"));
        r |= alert_set(&a->provider_project, text(issue, "project.slug"));
        if (a->event != ALERT_OPEN)
                r |= alert_set(&a->actor, issue_actor(d, issue));
        r |= set_issue_context(a, d, issue);
        return r;
}

static MapResult map_issue(Delivery *d, Alert *a)
{
        const JsonValue *issue = json_get(d->data, "issue");
        const char *id = text(issue, "id");
        size_t i, n = sizeof(issue_actions) / sizeof(issue_actions[0]);

        if (!id)
                return unrecognised(d, "data.issue.id");
        if (!d->action)
                return unrecognised(d, "an action for the Sentry issue (created, "
                                    "resolved, assigned, ignored or unresolved)");
        for (i = 0; i < n && strcmp(d->action, issue_actions[i].action) != 0; i++)
                ;
        if (i == n)
                return not_handled(d, "issue action", d->action);

        a->event = issue_actions[i].event;
        d->error |= fill_issue(a, d, issue, id);
        return MAP_ALERT;
}

/* ---- Metric alerts. ---- */

/* Incident status (FORMATS section 1.6) when the action is missing. */
static const char *metric_action(const Delivery *d, const JsonValue *m)
{
        int64_t status = 0;

        if (d->action)
                return d->action;
        json_int64(json_get(m, "status"), &status);
        switch (status) {
        case 20: return "critical";
        case 10: return "warning";
        case 2: return "resolved";
        case 1: return "open";
        default: return NULL;
        }
}

/* Not in DESIGN's table, which covers issue levels: a critical trigger
 * is Critical and a warning Medium, like Datadog's and New Relic's. */
static Severity metric_severity(const char *action)
{
        if (strcmp(action, "critical") == 0)
                return SEVERITY_CRITICAL;
        if (strcmp(action, "warning") == 0)
                return SEVERITY_MEDIUM;
        return SEVERITY_HIGH;
}

static int set_metric_context(Alert *a, const JsonValue *m)
{
        JsonWriter *w = json_writer_new();
        int64_t n;

        json_write_object_open(w);
        alert_context_string(w, "rule", text(m, "alert_rule.name"));
        alert_context_string(w, "aggregate", text(m, "alert_rule.aggregate"));
        alert_context_string(w, "query", text(m, "alert_rule.query"));
        alert_context_string(w, "dataset", text(m, "alert_rule.dataset"));
        if (json_int64(json_path(m, "alert_rule.time_window"), &n) == 0) {
                json_write_key(w, "timeWindowMinutes");
                json_write_int(w, n);
        }
        alert_context_string(w, "identifier", text(m, "identifier"));
        if (json_int64(json_get(m, "status"), &n) == 0) {
                json_write_key(w, "status");
                json_write_int(w, n);
        }
        json_write_object_close(w);
        return alert_set_context(a, w);
}

/* The rule's name: description_title says the status too ("Critical:
 * ..."), which the issue's priority and status already tell and which is
 * wrong once the incident has moved on. */
static int fill_metric(Alert *a, const Delivery *d, const JsonValue *m,
                       const char *id, const char *action)
{
        const char *title = text(m, "title");
        const char *project = alert_first_text(json_get(m, "projects"));
        char fallback[128];
        int r = 0;

        snprintf(fallback, sizeof(fallback), "Sentry metric alert %s", id);
        if (!title)
                title = text(m, "alert_rule.name");
        if (!title)
                title = text(d->data, "description_title");
        if (!project)
                project = alert_first_text(json_path(m, "alert_rule.projects"));
        a->severity = metric_severity(action);
        a->timestamp_ms = a->event == ALERT_RESOLVE
                ? first_time(m, "date_closed", "date_detected")
                : first_time(m, "date_detected", "date_started");

        r |= alert_setf(&a->kind, "metric_alert.%s", action);
        r |= set_external_id(a, d, "incident", id);
        r |= alert_set_title(a, title, fallback);
        r |= alert_set(&a->message, text(d->data, "description_text"));
        r |= alert_set(&a->environment, text(m, "alert_rule.environment"));
        r |= alert_set(&a->provider_project, project);
        r |= alert_set(&a->link, text(d->data, "web_url"));
        r |= set_metric_context(a, m);
        return r;
}

static MapResult map_metric(Delivery *d, Alert *a)
{
        const JsonValue *m = json_get(d->data, "metric_alert");
        const char *id = text(m, "id"), *action = metric_action(d, m);

        if (!id)
                return unrecognised(d, "data.metric_alert.id");
        if (!action)
                return unrecognised(d, "an action for the Sentry metric alert "
                                    "(critical, warning or resolved)");
        /* One incident fires once: critical and warning after the first
         * change its priority (FORMATS section 4), and the first opens the
         * issue all the same. */
        if (strcmp(action, "resolved") == 0)
                a->event = ALERT_RESOLVE;
        else if (strcmp(action, "critical") == 0 ||
                 strcmp(action, "warning") == 0 || strcmp(action, "open") == 0)
                a->event = ALERT_UPDATE;
        else
                return not_handled(d, "metric alert action", action);

        d->error |= fill_metric(a, d, m, id, action);
        return MAP_ALERT;
}

/* ---- Dispatch. ---- */

static const struct {
        const char *resource;
        MapResult (*map)(Delivery *d, Alert *a);
} resources[] = {
        { "issue", map_issue },
        { "event_alert", map_event_alert },
        { "error", map_error },
        { "metric_alert", map_metric },
};

static const struct {
        const char *resource;
        const char *reason;
} ignored_resources[] = {
        { "comment", "Sentry comments are not turned into issues" },
        { "installation", "Sentry installation events are not turned into issues" },
        { "seer", "Sentry Seer updates are not turned into issues" },
};

/* The plugin has no Sentry-Hook-Resource, a top-level event and id. */
static bool is_legacy(const JsonValue *root)
{
        return json_type(json_get(root, "event")) == JSON_OBJECT &&
               json_get(root, "id");
}

/* A body without its resource header (a hand-typed test, a proxy that
 * drops headers) says what it is by its data member. */
static const char *infer_resource(const JsonValue *data)
{
        if (json_type(json_get(data, "issue")) == JSON_OBJECT)
                return "issue";
        if (json_type(json_get(data, "event")) == JSON_OBJECT)
                return "event_alert";
        if (json_type(json_get(data, "error")) == JSON_OBJECT)
                return "error";
        if (json_type(json_get(data, "metric_alert")) == JSON_OBJECT)
                return "metric_alert";
        if (json_get(data, "comment_id"))
                return "comment";
        if (json_type(json_get(data, "installation")) == JSON_OBJECT)
                return "installation";
        return NULL;
}

static MapResult dispatch(Delivery *d, const char *resource, Alert *a)
{
        d->data = json_get(d->root, "data");
        d->action = text(d->root, "action");
        d->uuid = text(d->root, "installation.uuid");

        if (!resource && is_legacy(d->root))
                return map_legacy(d, a);
        if (!resource)
                resource = infer_resource(d->data);
        if (!resource)
                return unrecognised(d, "a Sentry webhook: a Sentry-Hook-Resource "
                                    "header, data.issue, data.event, data.error or "
                                    "data.metric_alert, or a WebHooks plugin body "
                                    "with id and event");

        for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
                if (strcasecmp(resource, resources[i].resource) == 0)
                        return resources[i].map(d, a);
        for (size_t i = 0; i < sizeof(ignored_resources) / sizeof(ignored_resources[0]); i++)
                if (strcasecmp(resource, ignored_resources[i].resource) == 0)
                        return alert_map_reason(MAP_IGNORED, d->reason,
                                                d->reason_size, "%s",
                                                ignored_resources[i].reason);
        return not_handled(d, "resource", resource);
}

MapResult sentry_map(const MapInput *in, Alert *ret, char *reason,
                     size_t reason_size)
{
        Alert a = { .provider = PROVIDER_SENTRY };
        Delivery d = { .root = in->root, .reason = reason,
                       .reason_size = reason_size };
        MapResult r;

        if (json_type(in->root) != JSON_OBJECT)
                r = unrecognised(&d, "a JSON object from Sentry");
        else
                r = dispatch(&d, in->resource, &a);
        return alert_map_done(&a, r, d.error, ret, reason, reason_size);
}
