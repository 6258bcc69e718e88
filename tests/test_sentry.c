/* Unit tests for src/providers/sentry.c: every recorded Sentry payload in
 * tests/data/sentry (argv[1] is tests/data) mapped and checked field by
 * field, then the shapes that have no recording. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"
#include "sentry.h"

#define UUID "7d3c1e52-1f0a-4c6e-9b8a-2e5f4a6b7c80"
#define ISSUE_ID "sentry:" UUID ":issue:4711001"
#define PAYMENT_TITLE "PaymentError: Zahlung fehlgeschlagen für Bestellung #A-1042 💥"
#define PAYMENT_VALUE "Zahlung fehlgeschlagen für Bestellung #A-1042 💥"
#define ISSUE_LINK "https://sentry.example.com/organizations/acme-synth/issues/4711001/"
#define CULPRIT "app.services.payment in charge"
#define RELEASE "checkout-api@2.14.0+9f2c1ab"
#define METRIC_LINK "https://sentry.example.com/organizations/acme-synth/alerts/rules/" \
        "details/44021/?alert=118"
#define METRIC_ID "sentry:" UUID ":incident:630512"

static const char *data_dir = "tests/data";

typedef struct {
        const char *name;
        MapResult result;
        const char *reason;             /* MAP_ALERT: "" */
        AlertEvent event;
        bool occurrence;
        const char *kind, *external_id, *occurrence_id, *title;
        Severity severity;
        const char *message, *culprit, *environment, *release, *link;
        const char *project, *actor, *fingerprint;
        int64_t timestamp_ms;
        const char *tags[8][2];         /* value NULL: the tag must be absent */
        const char *trace;              /* its first lines, exactly */
        const char *context;
        int personal;                   /* emails and IP addresses in the body */
} Sample;

/* ---- The harness (the same in each mapper's test). ---- */

static char *read_sample(const char *name, const char *ext, size_t *ret_len)
{
        char path[512];
        char *r;

        snprintf(path, sizeof(path), "%s/sentry/%s.%s", data_dir, name, ext);
        r = check_read_file(path, ret_len);
        if (!r)
                fprintf(stderr, "cannot read %s\n", path);
        check(r != NULL);
        return r;
}

/* The Sentry-Hook-Resource line of the .headers file, as http.c passes it. */
static char *resource_of(const char *name, char *buf, size_t size)
{
        char *headers = read_sample(name, "headers", NULL);
        const char *p = headers ? strstr(headers, "\nSentry-Hook-Resource: ") : NULL;
        char *r = NULL;

        if (p) {
                p += strlen("\nSentry-Hook-Resource: ");
                snprintf(buf, size, "%.*s", (int) strcspn(p, "\r\n"), p);
                r = buf;
        }
        free(headers);
        return r;
}

static MapResult map_text(const char *body, size_t len, const char *resource,
                          Alert *a, char *reason, size_t size)
{
        JsonError e;
        Json *doc = NULL;
        MapInput in = { .resource = resource };
        MapResult r = MAP_UNRECOGNISED;

        check_int(json_parse(body, len, NULL, &doc, &e), 0);
        in.root = json_root(doc);
        if (doc)
                r = sentry_map(&in, a, reason, size);
        json_free(doc);
        return r;
}

static bool local_char(char c)
{
        return isalnum((unsigned char) c) || (c && strchr("._%+-", c));
}

/* Emails (a domain ending in letters) and dotted-quad IPv4 addresses in
 * the raw body, found independently of the code under test. */
static size_t find_personal(const char *body, char found[][128], size_t max)
{
        size_t n = 0;

        for (const char *p = body; *p && n < max; p++) {
                const char *s = p, *e = p, *tld = NULL;
                unsigned dots = 0;

                if (*p == '@' && p > body && local_char(p[-1])) {
                        for (s = p; s > body && local_char(s[-1]); s--)
                                ;
                        for (e = p + 1; isalnum((unsigned char) *e) || *e == '-' ||
                             (*e == '.' && isalnum((unsigned char) e[1])); e++)
                                if (*e == '.')
                                        tld = e + 1;
                        if (!tld || e - tld < 2)
                                continue;
                        for (const char *t = tld; t < e; t++)
                                if (!isalpha((unsigned char) *t))
                                        tld = NULL;
                        if (!tld)
                                continue;
                } else if (isdigit((unsigned char) *p) &&
                           (p == body || (!isdigit((unsigned char) p[-1]) && p[-1] != '.'))) {
                        for (e = p; isdigit((unsigned char) *e) ||
                             (*e == '.' && isdigit((unsigned char) e[1])); e++)
                                dots += *e == '.';
                        if (dots != 3 || *e == '.')
                                continue;
                } else
                        continue;

                snprintf(found[n], 128, "%.*s", (int) (e - s), s);
                bool seen = false;
                for (size_t i = 0; i < n; i++)
                        seen = seen || strcmp(found[i], found[n]) == 0;
                n += !seen;
                p = e - 1;
        }
        return n;
}

static void check_absent(const char *s, char found[][128], size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (strstr(s, found[i])) {
                        fprintf(stderr, "personal data \"%s\" in \"%.200s\"\n", found[i], s);
                        check(!strstr(s, found[i]));
                }
}

static void check_no_personal(const Alert *a, const char *body, int want)
{
        char found[16][128];
        size_t n = find_personal(body, found, 16);
        char *description = alert_render_description(a);
        char *trace = alert_render_error_trace(a, 1);
        const char *fields[] = {
                a->kind, a->external_id, a->provider_project, a->occurrence_id,
                a->title, a->message, a->culprit, a->environment, a->release,
                a->fingerprint, a->stack_trace, a->link, a->actor,
                a->context_json, description, trace,
        };

        check_int(n, want);
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                check_absent(fields[i], found, n);
        for (size_t i = 0; i < a->n_tags; i++) {
                check_absent(a->tags[i].key, found, n);
                check_absent(a->tags[i].value, found, n);
        }
        free(description);
        free(trace);
}

static void check_trace_start(const char *trace, const char *want)
{
        char got[4096];

        if (!want) {
                check_str(trace, NULL);
                return;
        }
        snprintf(got, sizeof(got), "%.*s", (int) strlen(want), trace ? trace : "");
        check_str(got, want);
}

static void check_sample(const Sample *s)
{
        char resource[64], reason[256] = "x";
        size_t len;
        char *body = read_sample(s->name, "json", &len);
        Alert a;
        MapResult r;

        if (!body)
                return;
        fprintf(stderr, "-- %s\n", s->name);
        r = map_text(body, len, resource_of(s->name, resource, sizeof(resource)),
                     &a, reason, sizeof(reason));
        check_int(r, s->result);
        check_str(reason, s->reason);
        if (r != MAP_ALERT) {
                check_str(a.external_id, NULL);
                check_int(a.n_tags, 0);
                free(body);
                return;
        }

        check_int(a.provider, PROVIDER_SENTRY);
        check_int(a.event, s->event);
        check_int(a.occurrence, s->occurrence);
        check_str(a.kind, s->kind);
        check_str(a.external_id, s->external_id);
        check_str(a.occurrence_id, s->occurrence_id);
        check_str(a.title, s->title);
        check_int(a.severity, s->severity);
        check_str(a.message, s->message);
        check_str(a.culprit, s->culprit);
        check_str(a.environment, s->environment);
        check_str(a.release, s->release);
        check_str(a.link, s->link);
        check_str(a.provider_project, s->project);
        check_str(a.actor, s->actor);
        check_str(a.fingerprint, s->fingerprint);
        check_int(a.timestamp_ms, s->timestamp_ms);
        check_str(a.context_json, s->context);
        for (size_t i = 0; i < 8 && s->tags[i][0]; i++)
                check_str(alert_tag(&a, s->tags[i][0]), s->tags[i][1]);
        check_trace_start(a.stack_trace, s->trace);
        check_no_personal(&a, body, s->personal);
        alert_free(&a);
        free(body);
}

/* ---- The recorded payloads. ---- */

static const char event_trace[] =
        PAYMENT_TITLE "\n"
        "> at charge (app/services/payment.py:95)\n"
        "    raise PaymentError(f\"Zahlung fehlgeschlagen für Bestellung "
        "#{order.ref} 💥\") from exc\n"
        "> at submit_order (app/views/checkout.py:41)\n"
        "    receipt = payments.charge(order)\n"
        "  at _get_response (django/core/handlers/base.py:197)\n"
        "    response = wrapped_callback(request, *callback_args, **callback_kwargs)\n"
        "  at handle_request (gunicorn/workers/sync.py:178)\n"
        "    respiter = self.wsgi(environ, resp.start_response)\n"
        "\n"
        "Caused by: KeyError: 'card_ref_7731'\n"
        "> at charge (app/services/payment.py:88)\n"
        "    token = card_tokens[order.card_ref]";

#define ISSUE_SAMPLE \
        .result = MAP_ALERT, .reason = "", .external_id = ISSUE_ID, \
        .title = PAYMENT_TITLE, .severity = SEVERITY_HIGH, \
        .message = PAYMENT_VALUE, .culprit = CULPRIT, .project = "checkout-api"

#define METRIC_SAMPLE \
        .result = MAP_ALERT, .reason = "", .external_id = METRIC_ID, \
        .environment = "production", .link = METRIC_LINK, \
        .project = "checkout-api"

#define METRIC_CONTEXT(status) \
        "{\"rule\":\"Checkout error spike\",\"aggregate\":\"count()\"," \
        "\"query\":\"level:error transaction:/api/checkout\",\"dataset\":\"events\"," \
        "\"timeWindowMinutes\":10,\"identifier\":\"118\",\"status\":" status "}"

#define EVENT_TAGS \
        { { "environment", "production" }, { "handled", "no" }, \
          { "release", RELEASE }, { "url", "https://shop.example.com/api/checkout" }, \
          { "payment.provider", "acquirer-b" }, { "user", NULL }, \
          { "server_name", "web-3.shop.example.com" } }

static const Sample samples[] = {
        {
                .name = "sentry_issue_created", ISSUE_SAMPLE,
                .event = ALERT_OPEN, .occurrence = false, .kind = "issue.created",
                .link = ISSUE_LINK, .timestamp_ms = INT64_C(1718801437412),
                .context = "{\"platform\":\"python\",\"shortId\":\"CHECKOUT-API-1F3\","
                           "\"count\":\"1\",\"issueCategory\":\"error\",\"substatus\":\"new\"}",
        },
        {
                .name = "sentry_issue_resolved", ISSUE_SAMPLE,
                .event = ALERT_RESOLVE, .kind = "issue.resolved",
                .actor = "Alex Example", .timestamp_ms = INT64_C(1718803202090),
                .context = "{\"platform\":\"python\",\"shortId\":\"CHECKOUT-API-1F3\","
                           "\"count\":\"57\",\"issueCategory\":\"error\","
                           "\"resolutionType\":\"in_next_release\"}",
                .personal = 1,
        },
        {
                .name = "sentry_issue_assigned", ISSUE_SAMPLE,
                .event = ALERT_ASSIGN, .kind = "issue.assigned",
                .actor = "Jamie Example", .timestamp_ms = INT64_C(1718801890771),
                .context = "{\"platform\":\"python\",\"shortId\":\"CHECKOUT-API-1F3\","
                           "\"count\":\"12\",\"issueCategory\":\"error\","
                           "\"substatus\":\"ongoing\"}",
                .personal = 1,
        },
        {
                .name = "sentry_issue_ignored", ISSUE_SAMPLE,
                .event = ALERT_MUTE, .kind = "issue.ignored",
                .actor = "Alex Example", .timestamp_ms = INT64_C(1718802344020),
                .context = "{\"platform\":\"python\",\"shortId\":\"CHECKOUT-API-1F3\","
                           "\"count\":\"23\",\"issueCategory\":\"error\","
                           "\"substatus\":\"archived_until_condition_met\"}",
                .personal = 1,
        },
        {
                .name = "sentry_issue_archived", ISSUE_SAMPLE,
                .event = ALERT_MUTE, .kind = "issue.archived",
                .actor = "Alex Example", .timestamp_ms = INT64_C(1718802370300),
                .context = "{\"platform\":\"python\",\"shortId\":\"CHECKOUT-API-1F3\","
                           "\"count\":\"24\",\"issueCategory\":\"error\","
                           "\"substatus\":\"archived_until_escalating\"}",
                .personal = 1,
        },
        {
                .name = "sentry_issue_unresolved", ISSUE_SAMPLE,
                .event = ALERT_OPEN, .occurrence = false, .kind = "issue.unresolved",
                .timestamp_ms = INT64_C(1718871249551),
                .context = "{\"platform\":\"python\",\"shortId\":\"CHECKOUT-API-1F3\","
                           "\"count\":\"58\",\"issueCategory\":\"error\","
                           "\"substatus\":\"regressed\"}",
        },
        {
                .name = "sentry_event_alert_triggered", .result = MAP_ALERT, .reason = "",
                .event = ALERT_OPEN, .occurrence = true, .kind = "event_alert.triggered",
                .external_id = ISSUE_ID, .occurrence_id = "9a1f5c2e7b4d4e0f8c3a6b2d1e0f9a8b",
                .title = PAYMENT_TITLE, .severity = SEVERITY_HIGH,
                .message = PAYMENT_VALUE, .culprit = CULPRIT,
                .environment = "production", .release = RELEASE,
                .link = ISSUE_LINK "events/9a1f5c2e7b4d4e0f8c3a6b2d1e0f9a8b/",
                .project = "checkout-api", .fingerprint = "{{ default }}",
                .timestamp_ms = INT64_C(1718801437412),
                .tags = EVENT_TAGS,
                .trace = event_trace,
                .context = "{\"platform\":\"python\",\"runtime\":\"CPython 3.11.9\","
                           "\"os\":\"Linux 6.1.0\",\"sdk\":\"sentry.python.django 2.5.1\","
                           "\"eventId\":\"9a1f5c2e7b4d4e0f8c3a6b2d1e0f9a8b\","
                           "\"triggeredRule\":\"Checkout errors → tracker\"}",
                .personal = 2,
        },
        {
                .name = "sentry_event_alert_test_notification", .result = MAP_TEST,
                .reason = "Sentry test notification",
        },
        {
                .name = "sentry_error_created", .result = MAP_ALERT, .reason = "",
                .event = ALERT_OPEN, .occurrence = true, .kind = "error.created",
                .external_id = ISSUE_ID, .occurrence_id = "1e2d3c4b5a6978879695a4b3c2d1e0f1",
                .title = PAYMENT_TITLE, .severity = SEVERITY_HIGH,
                .message = PAYMENT_VALUE, .culprit = CULPRIT,
                .environment = "production", .release = RELEASE,
                .link = ISSUE_LINK "events/1e2d3c4b5a6978879695a4b3c2d1e0f1/",
                .project = "checkout-api", .fingerprint = "{{ default }}",
                .timestamp_ms = INT64_C(1718801462006),
                .tags = EVENT_TAGS,
                .trace = PAYMENT_TITLE "\n"
                         "> at charge (app/services/payment.py:95)\n",
                .context = "{\"platform\":\"python\",\"runtime\":\"CPython 3.11.9\","
                           "\"os\":\"Linux 6.1.0\",\"sdk\":\"sentry.python.django 2.5.1\","
                           "\"eventId\":\"1e2d3c4b5a6978879695a4b3c2d1e0f1\"}",
                .personal = 2,
        },
        {
                .name = "sentry_metric_alert_critical", METRIC_SAMPLE,
                .event = ALERT_UPDATE, .occurrence = false, .kind = "metric_alert.critical",
                .title = "Checkout error spike", .severity = SEVERITY_CRITICAL,
                .message = "152 events in the last 10 minutes",
                .timestamp_ms = INT64_C(1718801700000),
                .context = METRIC_CONTEXT("20"),
        },
        {
                .name = "sentry_metric_alert_warning", METRIC_SAMPLE,
                .event = ALERT_UPDATE, .occurrence = false, .kind = "metric_alert.warning",
                .title = "Checkout error spike", .severity = SEVERITY_MEDIUM,
                .message = "76 events in the last 10 minutes",
                .timestamp_ms = INT64_C(1718801700000),
                .context = METRIC_CONTEXT("10"),
        },
        {
                .name = "sentry_metric_alert_resolved", METRIC_SAMPLE,
                .event = ALERT_RESOLVE, .occurrence = false, .kind = "metric_alert.resolved",
                .title = "Checkout error spike", .severity = SEVERITY_HIGH,
                .message = "12 events in the last 10 minutes",
                .timestamp_ms = INT64_C(1718803500000),
                .context = METRIC_CONTEXT("2"),
        },
        {
                .name = "sentry_comment_created", .result = MAP_IGNORED,
                .reason = "Sentry comments are not turned into issues",
        },
        {
                .name = "sentry_installation_created", .result = MAP_IGNORED,
                .reason = "Sentry installation events are not turned into issues",
        },
        {
                .name = "sentry_legacy_plugin", .result = MAP_ALERT, .reason = "",
                .event = ALERT_OPEN, .occurrence = true, .kind = "webhooks_plugin",
                .external_id = "sentry:issue:4712002",
                .occurrence_id = "5c4b3a29180f4e6d8c7b6a5f4e3d2c1b",
                .title = "TypeError: Cannot read properties of undefined (reading 'total')",
                .severity = SEVERITY_HIGH,
                .message = "Cannot read properties of undefined (reading 'total')",
                .culprit = "app/cart(cart.min.js)", .environment = "production",
                .release = "storefront@5.2.1",
                .link = "https://sentry.example.com/organizations/acme-synth/issues/"
                        "4712002/?referrer=webhooks_plugin",
                .project = "storefront", .fingerprint = "{{ default }}, cart-total",
                .timestamp_ms = INT64_C(1718802011204),
                .tags = { { "browser", "Chrome 126.0" },
                          { "url", "https://shop.example.com/cart" },
                          { "user", NULL }, { "client_ip", NULL }, { "handled", "no" } },
                .trace = "TypeError: Cannot read properties of undefined (reading 'total')\n"
                         "> at updateTotals (/static/cart.min.js:1:48213)\n"
                         "    {snip} var t=e.summary.total;n.textContent=fmt(t) {snip}\n"
                         "  at <unknown> (/static/vendor.min.js)",
                .context = "{\"platform\":\"javascript\",\"os\":\"Windows 10\","
                           "\"sdk\":\"sentry.javascript.browser 8.9.2\","
                           "\"eventId\":\"5c4b3a29180f4e6d8c7b6a5f4e3d2c1b\","
                           "\"triggeredRule\":\"Storefront errors\"}",
                .personal = 2,
        },
};

static void test_samples(void)
{
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
                check_sample(&samples[i]);
}

/* The whole trace of the event alert: nothing after the cause. */
static void test_event_trace_whole(void)
{
        char resource[64], reason[256];
        size_t len;
        char *body = read_sample("sentry_event_alert_triggered", "json", &len);
        Alert a;

        check_int(map_text(body, len, resource_of("sentry_event_alert_triggered",
                                                  resource, sizeof(resource)),
                           &a, reason, sizeof(reason)), MAP_ALERT);
        check_str(a.stack_trace, event_trace);
        check(!strstr(a.stack_trace, "vars"));
        check(!strstr(a.stack_trace, "PaymentService object"));
        alert_free(&a);
        free(body);
}

/* ---- Shapes without a recording. ---- */

static MapResult map_json(const char *json, const char *resource, Alert *a,
                          char *reason)
{
        return map_text(json, strlen(json), resource, a, reason, 256);
}

/* The setup guide's hand-typed request, without any Sentry header. */
static void test_hand_typed_issue(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"action\":\"created\",\"data\":{\"issue\":{\"id\":\"test-123\","
                           "\"title\":\"Test Error\",\"culprit\":\"test.ts:1\","
                           "\"level\":\"error\"}}}", NULL, &a, reason), MAP_ALERT);
        check_str(a.kind, "issue.created");
        check_int(a.event, ALERT_OPEN);
        check_int(a.occurrence, false);
        check_str(a.external_id, "sentry:issue:test-123");
        check_str(a.title, "Test Error");
        check_str(a.culprit, "test.ts:1");
        check_int(a.severity, SEVERITY_HIGH);
        check_str(a.provider_project, NULL);
        alert_free(&a);
}

static void test_unrecognised_and_ignored(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"action\":\"created\",\"data\":{\"issue\":{\"title\":\"x\"}}}",
                           "issue", &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected data.issue.id");
        check_str(a.title, NULL);

        check_int(map_json("{\"action\":\"triggered\",\"data\":{\"event\":{\"title\":\"x\"}}}",
                           "event_alert", &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected data.event.issue_id");

        check_int(map_json("{\"action\":\"created\",\"data\":{\"error\":{}}}", "error",
                           &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected data.error.issue_id");

        check_int(map_json("{\"action\":\"critical\",\"data\":{\"metric_alert\":{}}}",
                           "metric_alert", &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected data.metric_alert.id");

        check_int(map_json("{\"data\":{\"issue\":{\"id\":\"1\"}}}", "issue", &a, reason),
                  MAP_UNRECOGNISED);
        check_contains(reason, "expected an action for the Sentry issue");

        check_int(map_json("{\"hello\":\"world\"}", NULL, &a, reason), MAP_UNRECOGNISED);
        check_contains(reason, "expected a Sentry webhook");

        check_int(map_json("[1,2,3]", "issue", &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected a JSON object from Sentry");

        check_int(map_json("{\"action\":\"merged\",\"data\":{\"issue\":{\"id\":\"1\"}}}",
                           "issue", &a, reason), MAP_IGNORED);
        check_str(reason, "Sentry issue action 'merged' is not turned into issues");

        check_int(map_json("{\"action\":\"root_cause_started\",\"data\":{}}", "seer",
                           &a, reason), MAP_IGNORED);
        check_str(reason, "Sentry Seer updates are not turned into issues");

        check_int(map_json("{\"action\":\"created\",\"data\":{}}", "uptime_monitor",
                           &a, reason), MAP_IGNORED);
        check_str(reason, "Sentry resource 'uptime_monitor' is not turned into issues");

        check_int(map_json("{\"action\":\"deleted\",\"data\":{\"error\":{\"issue_id\":\"1\"}}}",
                           "error", &a, reason), MAP_IGNORED);
        check_str(reason, "Sentry error action 'deleted' is not turned into issues");

        /* A comment without its header is still known for what it is. */
        check_int(map_json("{\"action\":\"created\",\"data\":{\"comment_id\":1,\"issue_id\":2}}",
                           NULL, &a, reason), MAP_IGNORED);
        check_str(reason, "Sentry comments are not turned into issues");
}

static Severity issue_severity(const char *level, const char *priority)
{
        char json[256], reason[256];
        Alert a;
        Severity s;

        snprintf(json, sizeof(json), "{\"action\":\"created\",\"data\":{\"issue\":{\"id\":\"1\","
                 "\"level\":%s,\"priority\":%s}}}", level, priority);
        check_int(map_json(json, "issue", &a, reason), MAP_ALERT);
        s = a.severity;
        alert_free(&a);
        return s;
}

/* DESIGN section 7: fatal always Critical, then priority, then level. */
static void test_severity(void)
{
        check_int(issue_severity("\"fatal\"", "\"low\""), SEVERITY_CRITICAL);
        check_int(issue_severity("\"error\"", "\"medium\""), SEVERITY_MEDIUM);
        check_int(issue_severity("\"info\"", "\"high\""), SEVERITY_HIGH);
        check_int(issue_severity("\"error\"", "\"low\""), SEVERITY_LOW);
        check_int(issue_severity("\"error\"", "null"), SEVERITY_HIGH);
        check_int(issue_severity("\"warning\"", "null"), SEVERITY_MEDIUM);
        check_int(issue_severity("\"info\"", "null"), SEVERITY_LOW);
        check_int(issue_severity("\"debug\"", "null"), SEVERITY_LOW);
        check_int(issue_severity("null", "null"), SEVERITY_HIGH);
}

/* A native event: no exception frames, the crashed thread's instead. */
static void test_thread_frames(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"action\":\"triggered\",\"data\":{\"event\":{"
                           "\"issue_id\":\"77\",\"event_id\":\"e1\",\"title\":\"SIGSEGV\","
                           "\"exception\":{\"values\":[{\"type\":\"SIGSEGV\","
                           "\"value\":\"Segfault\",\"stacktrace\":null}]},"
                           "\"threads\":{\"values\":["
                           "{\"id\":1,\"name\":\"main\",\"stacktrace\":{\"frames\":["
                           "{\"function\":\"main\",\"filename\":\"main.c\",\"lineno\":3}]}},"
                           "{\"id\":2,\"name\":\"worker\",\"crashed\":true,"
                           "\"stacktrace\":{\"frames\":["
                           "{\"function\":\"run\",\"filename\":\"worker.c\",\"lineno\":10,"
                           "\"in_app\":true},"
                           "{\"function\":\"crash\",\"filename\":\"worker.c\",\"lineno\":42,"
                           "\"in_app\":true,\"context_line\":\"  *p = 0;  \"}]}}]}}}}",
                           "event_alert", &a, reason), MAP_ALERT);
        check_str(a.stack_trace, "SIGSEGV: Segfault\n"
                                 "\n"
                                 "Thread worker (crashed)\n"
                                 "> at crash (worker.c:42)\n"
                                 "    *p = 0;\n"
                                 "> at run (worker.c:10)");
        check_str(a.external_id, "sentry:issue:77");
        check_str(a.message, "Segfault");
        alert_free(&a);
}

/* At most 50 frames per exception, the newest. */
static void test_frame_cap(void)
{
        char json[16384], reason[256];
        size_t n = 0;
        Alert a;

        n += (size_t) snprintf(json + n, sizeof(json) - n,
                               "{\"action\":\"created\",\"data\":{\"error\":{\"issue_id\":\"5\","
                               "\"exception\":{\"values\":[{\"type\":\"E\",\"stacktrace\":"
                               "{\"frames\":[");
        for (int i = 0; i < 60; i++)
                n += (size_t) snprintf(json + n, sizeof(json) - n,
                                       "%s{\"function\":\"f%d\",\"filename\":\"x.py\","
                                       "\"lineno\":%d}", i ? "," : "", i, i + 1);
        snprintf(json + n, sizeof(json) - n, "]}}]}}}}");

        check_int(map_json(json, "error", &a, reason), MAP_ALERT);
        check_trace_start(a.stack_trace, "E\n  at f59 (x.py:60)\n  at f58 (x.py:59)\n");
        check_contains(a.stack_trace, "  at f10 (x.py:11)\n  ... 10 older frames not shown");
        check(!strstr(a.stack_trace, "at f9 "));
        check_str(a.title, "Sentry issue 5");
        alert_free(&a);
}

/* Email addresses in free text are redacted; an assignee whose name is
 * an email is no actor. */
static void test_redaction(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"action\":\"triggered\",\"data\":{\"event\":{\"issue_id\":\"9\","
                           "\"title\":\"No account for bob@example.com\",\"level\":\"warning\","
                           "\"exception\":{\"values\":[{\"type\":\"LookupError\","
                           "\"value\":\"no account for bob@example.com\"}]},"
                           "\"tags\":[[\"sentry:user\",\"email:bob@example.com\"],"
                           "[\"customer\",\"bob@example.com\"],[\"ip_address\",\"192.0.2.9\"],"
                           "[\"sentry:release\",\"web@1.2.3\"]]}}}", "event_alert", &a, reason),
                  MAP_ALERT);
        check_str(a.title, "No account for [email]");
        check_str(a.message, "no account for [email]");
        check_str(a.stack_trace, "LookupError: no account for [email]");
        check_int(a.n_tags, 1);
        check_str(alert_tag(&a, "release"), "web@1.2.3");
        check_int(a.severity, SEVERITY_MEDIUM);
        alert_free(&a);

        check_int(map_json("{\"action\":\"assigned\",\"data\":{\"assignee\":{\"type\":\"user\","
                           "\"name\":\"pat@example.com\",\"email\":\"pat@example.com\"},"
                           "\"issue\":{\"id\":\"3\",\"title\":\"t\"}}}", "issue", &a, reason),
                  MAP_ALERT);
        check_int(a.event, ALERT_ASSIGN);
        check_str(a.actor, NULL);
        alert_free(&a);
}

/* A metric alert without an action: the incident status says which. */
static void test_metric_status(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"data\":{\"metric_alert\":{\"id\":\"8\",\"status\":20,"
                           "\"title\":\"Spike\",\"projects\":[\"api\"],"
                           "\"date_detected\":\"2024-06-19T12:55:00Z\"}}}", NULL, &a, reason),
                  MAP_ALERT);
        check_str(a.kind, "metric_alert.critical");
        check_str(a.external_id, "sentry:incident:8");
        check_str(a.title, "Spike");
        check_str(a.provider_project, "api");
        check_int(a.event, ALERT_UPDATE);
        check(!a.occurrence);
        check_str(a.occurrence_id, NULL);
        check_int(a.severity, SEVERITY_CRITICAL);
        alert_free(&a);

        check_int(map_json("{\"action\":\"paused\",\"data\":{\"metric_alert\":{\"id\":\"8\"}}}",
                           "metric_alert", &a, reason), MAP_IGNORED);
        check_str(reason, "Sentry metric alert action 'paused' is not turned into issues");
}

/* The issue is named after the rule: the incident's title, else the
 * rule's name, and description_title ("Warning: ...") only when neither
 * is there. */
static void test_metric_title(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"action\":\"warning\",\"data\":{\"description_title\":"
                           "\"Warning: Spike\",\"metric_alert\":{\"id\":\"8\","
                           "\"alert_rule\":{\"name\":\"Spike rule\"}}}}",
                           "metric_alert", &a, reason), MAP_ALERT);
        check_str(a.title, "Spike rule");
        alert_free(&a);

        check_int(map_json("{\"action\":\"critical\",\"data\":{\"description_title\":"
                           "\"Critical: Spike\",\"metric_alert\":{\"id\":\"8\"}}}",
                           "metric_alert", &a, reason), MAP_ALERT);
        check_str(a.title, "Critical: Spike");
        check_int(a.event, ALERT_UPDATE);
        alert_free(&a);
}

/* An action or resource quoted in a reason is cut at 40 bytes on a
 * character boundary, so the reason stays valid UTF-8 (found by
 * tests/fuzz). */
static void test_reason_cut(void)
{
        char name[64] = "x", body[256], want[256], reason[256];
        Alert a;

        for (int i = 0; i < 30; i++)
                strcat(name, "\xc3\xa9");   /* e acute: 2 bytes */
        snprintf(body, sizeof(body),
                 "{\"action\":\"%s\",\"data\":{\"issue\":{\"id\":\"1\"}}}", name);
        check_int(map_json(body, "issue", &a, reason), MAP_IGNORED);
        snprintf(want, sizeof(want),
                 "Sentry issue action '%.39s' is not turned into issues", name);
        check_str(reason, want);

        check_int(map_json("{\"action\":\"x\",\"data\":{}}", name, &a, reason),
                  MAP_IGNORED);
        snprintf(want, sizeof(want),
                 "Sentry resource '%.39s' is not turned into issues", name);
        check_str(reason, want);
}

int main(int argc, char **argv)
{
        if (argc > 1)
                data_dir = argv[1];

        test_samples();
        test_event_trace_whole();
        test_hand_typed_issue();
        test_unrecognised_and_ignored();
        test_severity();
        test_thread_frames();
        test_frame_cap();
        test_redaction();
        test_metric_status();
        test_metric_title();
        test_reason_cut();
        return check_done();
}
