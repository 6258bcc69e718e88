/* Unit tests for src/providers/sentry.c: every recorded Sentry payload in
 * tests/data/sentry (argv[1] is tests/data) mapped and checked field by
 * field, then the shapes that have no recording. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"
#include "mapper_check.h"
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

static const MapperSample samples[] = {
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
                mapper_check_sample(&samples[i]);
}

/* The whole trace of the event alert: nothing after the cause. */
static void test_event_trace_whole(void)
{
        static const char name[] = "sentry_event_alert_triggered";
        char resource[64], reason[256];
        size_t len;
        char *body = mapper_read_sample(name, "json", &len);
        const char *res = mapper_resource_of(name, resource, sizeof(resource));
        Alert a;

        check_int(mapper_map_text(body, len, res, &a, reason, sizeof(reason)),
                  MAP_ALERT);
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
        return mapper_map_text(json, strlen(json), resource, a, reason, 256);
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
        mapper_check_trace_start(a.stack_trace, "E\n  at f59 (x.py:60)\n  at f58 (x.py:59)\n");
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
        mapper_check_init(argc, argv, PROVIDER_SENTRY, sentry_map);
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
