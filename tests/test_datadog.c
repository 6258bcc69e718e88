/* Unit tests for src/providers/datadog.c: every recorded Datadog payload
 * in tests/data/datadog (argv[1] is tests/data) mapped and checked field
 * by field, then the shapes that have no recording. */
#include <stdbool.h>
#include <stdlib.h>

#include "auth.h"
#include "check.h"
#include "datadog.h"
#include "json.h"
#include "mapper_check.h"
#include "text.h"

/* SHA-256 of "Checkout error rate high", the title without its prefixes. */
#define TITLE_KEY "datadog:1100001:title:" \
        "85a8977415701c05b1cfd2edab26c42d5081df851931aa7046c34694010749c1"
#define CYCLE_KEY "datadog:1100001:6a9c4e1f2b7d8c3e"
#define EVENT_LINK "https://datadog.example.com/event/event?id="
#define MONITOR_LINK "https://datadog.example.com/monitors/4400123?"
#define SNAPSHOT "https://datadog.example.com/snapshot/view/dd-snapshots-prod/" \
        "org_1100001/2024-06-19/5f2e8d3c0a9b7e6f1d2c3b4a5968778695a4b3c2.png"

/* ---- The recorded payloads. ---- */

static const char default_triggered_message[] =
        "Error rate on **checkout** is above 5%. Runbook: "
        "https://wiki.example.com/runbooks/checkout-errors\n"
        "\n"
        "@webhook-issue-tracker @slack-payments-oncall\n"
        "\n"
        "[![Metric Graph](" SNAPSHOT ")](" MONITOR_LINK
        "from_ts=1718800562000&to_ts=1718801762000&event_id=7701234567890123456"
        "&link_source=monitor_notif)\n"
        "\n"
        "**sum:trace.django.request.errors{env:prod,service:checkout}.as_rate()** "
        "was **> 5.0** on average during the **last 5m**.\n"
        "\n"
        "The monitor was last triggered at Wed Jun 19 2024 12:51:02 UTC.\n"
        "\n"
        "- - -\n"
        "\n"
        "[[Monitor Status](" MONITOR_LINK "from_ts=1718800562000&to_ts=1718801762000"
        "&event_id=7701234567890123456&link_source=monitor_notif)] · "
        "[[Edit Monitor](https://datadog.example.com/monitors/4400123/edit?"
        "link_source=monitor_notif)] · "
        "[[Related Logs](https://datadog.example.com/logs?query=service%3Acheckout"
        "%20env%3Aprod&from_ts=1718800562000&to_ts=1718801762000&live=false)]";

static const char default_recovered_message[] =
        "Error rate on **checkout** is above 5%. Runbook: "
        "https://wiki.example.com/runbooks/checkout-errors\n"
        "\n"
        "@webhook-issue-tracker @slack-payments-oncall\n"
        "\n"
        "**sum:trace.django.request.errors{env:prod,service:checkout}.as_rate()** "
        "was **<= 5.0** on average during the **last 5m**.\n"
        "\n"
        "The monitor was last triggered at Wed Jun 19 2024 12:51:02 UTC.\n"
        "\n"
        "- - -\n"
        "\n"
        "[[Monitor Status](" MONITOR_LINK "from_ts=1718802380000&to_ts=1718803580000"
        "&event_id=7701234599990001111&link_source=monitor_notif)] · "
        "[[Edit Monitor](https://datadog.example.com/monitors/4400123/edit?"
        "link_source=monitor_notif)]";

#define CUSTOM_MESSAGE(op) \
        "Error rate on checkout is above 5%. Runbook: " \
        "https://wiki.example.com/runbooks/checkout-errors\n\n" \
        "@webhook-issue-tracker @slack-payments-oncall\n\n" \
        "sum:trace.django.request.errors{env:prod,service:checkout}.as_rate() was " \
        op " 5.0 on average during the last 5m."

#define CUSTOM_CONTEXT(op, snapshot) \
        "{\"eventType\":\"query_alert_monitor\",\"monitorId\":\"4400123\"," \
        "\"metric\":\"trace.django.request.errors\",\"query\":\"sum(last_5m):" \
        "sum:trace.django.request.errors{env:prod,service:checkout}.as_rate() > 5\"," \
        "\"scope\":\"env:prod, service:checkout\",\"status\":\"sum:trace.django." \
        "request.errors{env:prod,service:checkout}.as_rate() over env:prod," \
        "service:checkout was " op " 5.0 on average during the last 5m.\"" \
        snapshot ",\"org\":\"Acme Synthetic\"}"

#define DEFAULT_SAMPLE \
        .result = MAP_ALERT, .reason = "", .external_id = TITLE_KEY, \
        .title = "Checkout error rate high", .severity = SEVERITY_HIGH, \
        .tags = { { "env", NULL }, { "service", NULL } }, \
        .context = "{\"eventType\":\"query_alert_monitor\",\"org\":\"Acme Synthetic\"}"

#define CUSTOM_SAMPLE \
        .result = MAP_ALERT, .reason = "", .external_id = CYCLE_KEY, \
        .title = "Checkout error rate high", .severity = SEVERITY_HIGH, \
        .environment = "prod", .release = "2.14.0", .project = "service:checkout", \
        .fingerprint = "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6", \
        .tags = { { "env", "prod" }, { "monitor", "" }, { "service", "checkout" }, \
                  { "team", "payments" }, { "version", "2.14.0" } }

static const MapperSample samples[] = {
        {
                .name = "datadog_default_triggered", DEFAULT_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "Triggered",
                .occurrence_id = "7701234567890123456",
                .message = default_triggered_message,
                .link = MONITOR_LINK "from_ts=1718800562000&to_ts=1718801762000"
                        "&event_id=7701234567890123456&link_source=monitor_notif",
                .timestamp_ms = INT64_C(1718801462000),
        },
        {
                .name = "datadog_default_recovered", DEFAULT_SAMPLE,
                .event = ALERT_RESOLVE, .occurrence = false, .kind = "Recovered",
                .occurrence_id = "7701234599990001111",
                .message = default_recovered_message,
                .link = MONITOR_LINK "from_ts=1718802380000&to_ts=1718803580000"
                        "&event_id=7701234599990001111&link_source=monitor_notif",
                .timestamp_ms = INT64_C(1718803580000),
        },
        {
                .name = "datadog_custom_triggered", CUSTOM_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "Triggered",
                .occurrence_id = "7701234567890123456",
                .message = CUSTOM_MESSAGE(">"),
                .link = EVENT_LINK "7701234567890123456",
                .timestamp_ms = INT64_C(1718801462000),
                .context = CUSTOM_CONTEXT(">", ",\"snapshot\":\"" SNAPSHOT "\""),
        },
        {
                .name = "datadog_custom_retriggered", CUSTOM_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "Re-Triggered",
                .occurrence_id = "7701234570000004444",
                .message = CUSTOM_MESSAGE(">"),
                .link = EVENT_LINK "7701234570000004444",
                .timestamp_ms = INT64_C(1718801762000),
                .context = CUSTOM_CONTEXT(">", ",\"snapshot\":\"" SNAPSHOT "\""),
        },
        {
                .name = "datadog_custom_renotify", CUSTOM_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "Renotify",
                .occurrence_id = "7701234570000005555",
                .message = CUSTOM_MESSAGE(">"),
                .link = EVENT_LINK "7701234570000005555",
                .timestamp_ms = INT64_C(1718803262000),
                .context = CUSTOM_CONTEXT(">", ",\"snapshot\":\"" SNAPSHOT "\""),
        },
        {
                .name = "datadog_custom_recovered", CUSTOM_SAMPLE,
                .event = ALERT_RESOLVE, .occurrence = false, .kind = "Recovered",
                .occurrence_id = "7701234599990001111",
                .message = CUSTOM_MESSAGE("<="),
                .link = EVENT_LINK "7701234599990001111",
                .timestamp_ms = INT64_C(1718803580000),
                .context = CUSTOM_CONTEXT("<=", ""),
        },
        {
                .name = "datadog_custom_warn", .result = MAP_ALERT, .reason = "",
                .event = ALERT_OPEN, .occurrence = true, .kind = "Warn",
                .external_id = "datadog:1100001:7b0d5f2a3c8e9d4f",
                .occurrence_id = "7701234580000006666",
                .title = "Checkout p95 latency high", .severity = SEVERITY_MEDIUM,
                .message = "p95 latency of checkout is above 800 ms.\n\n"
                           "@webhook-issue-tracker @[email]",
                .environment = "prod", .release = "2.14.0",
                .link = EVENT_LINK "7701234580000006666", .project = "service:checkout",
                .fingerprint = "c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7",
                .timestamp_ms = INT64_C(1718804000000),
                .tags = { { "env", "prod" }, { "service", "checkout" } },
                .context = "{\"eventType\":\"query_alert_monitor\",\"monitorId\":\"4400456\","
                           "\"metric\":\"trace.django.request\",\"query\":\"avg(last_10m):"
                           "p95:trace.django.request{env:prod,service:checkout} > 1000\","
                           "\"scope\":\"env:prod, service:checkout\",\"status\":\"p95:trace."
                           "django.request{env:prod,service:checkout} over env:prod,service:"
                           "checkout was > 800.0 on average during the last 10m.\","
                           "\"org\":\"Acme Synthetic\"}",
                .personal = 1,
        },
        {
                .name = "datadog_custom_no_data", .result = MAP_ALERT, .reason = "",
                .event = ALERT_OPEN, .occurrence = true, .kind = "No Data",
                .external_id = "datadog:1100001:4400789:env:staging, service:inventory",
                .occurrence_id = "7701234590000007777",
                .title = "Inventory sync heartbeat missing", .severity = SEVERITY_LOW,
                .message = "No heartbeat from the inventory sync job.\n\n"
                           "@webhook-issue-tracker",
                .environment = "staging", .link = EVENT_LINK "7701234590000007777",
                .project = "service:inventory",
                .timestamp_ms = INT64_C(1718805000000),
                .tags = { { "env", "staging" }, { "service", "inventory" },
                          { "host", "inv-01" }, { "monitor", "" },
                          { "image", "registry.example.com:5000/inventory:1.4" },
                          { "version", NULL } },
                .context = "{\"eventType\":\"query_alert_monitor\",\"monitorId\":\"4400789\","
                           "\"metric\":\"inventory.sync.heartbeat\",\"query\":\"sum(last_30m):"
                           "sum:inventory.sync.heartbeat{env:staging,service:inventory}."
                           "as_count() < 1\",\"scope\":\"env:staging, service:inventory\","
                           "\"hostname\":\"inv-01\",\"org\":\"Acme Synthetic\"}",
        },
        {
                .name = "datadog_test_notification", .result = MAP_TEST,
                .reason = "Datadog test notification",
        },
};

static void test_samples(void)
{
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
                mapper_check_sample(&samples[i]);
}

/* ---- Shapes without a recording. ---- */

static MapResult map_json(const char *json, Alert *a, char *reason)
{
        return mapper_map_text(json, strlen(json), NULL, a, reason, 256);
}

static void title_key(const char *org, const char *bare, char *out, size_t size)
{
        unsigned char digest[32];
        char hex[65];

        check_int(auth_sha256(bare, strlen(bare), digest), 0);
        text_hex(digest, sizeof(digest), hex);
        snprintf(out, size, "datadog:%s:title:%s", org, hex);
}

/* An admin who wrote "id": $ID unquoted sends 64-bit numbers. */
static void test_unquoted_numbers(void)
{
        char reason[256], key[128];
        Alert a;

        check_int(map_json("{\"title\":\"[Triggered on {host:db-1}] [prod] Disk full\","
                           "\"id\":8306082202796025694,\"date\":1718801462000,"
                           "\"org\":{\"id\":1100001}}", &a, reason), MAP_ALERT);
        title_key("1100001", "Disk full", key, sizeof(key));
        check_str(a.external_id, key);
        check_str(a.occurrence_id, "8306082202796025694");
        check_int(a.timestamp_ms, INT64_C(1718801462000));
        check_str(a.title, "[prod] Disk full");
        check_str(a.kind, "Triggered");
        check_int(a.severity, SEVERITY_HIGH);
        alert_free(&a);
}

static Severity severity_of(const char *json)
{
        char reason[256];
        Alert a;
        Severity s;

        check_int(map_json(json, &a, reason), MAP_ALERT);
        s = a.severity;
        alert_free(&a);
        return s;
}

static void test_severity(void)
{
        check_int(severity_of("{\"title\":\"[P1] [Triggered] X\"}"), SEVERITY_CRITICAL);
        check_int(severity_of("{\"title\":\"[Triggered] [P3] X\"}"), SEVERITY_MEDIUM);
        check_int(severity_of("{\"title\":\"[P5] [Warn] X\"}"), SEVERITY_LOW);
        check_int(severity_of("{\"title\":\"[P4] [Triggered] X\",\"alert\":{\"transition\":"
                              "\"Triggered\",\"priority\":\"P1\"}}"), SEVERITY_CRITICAL);
        check_int(severity_of("{\"title\":\"X\",\"alert\":{\"transition\":\"Triggered\","
                              "\"priority\":\"\",\"type\":\"info\",\"id\":\"1\"}}"), SEVERITY_LOW);
        check_int(severity_of("{\"title\":\"X\",\"alert\":{\"transition\":\"Triggered\","
                              "\"type\":\"error\",\"id\":\"1\"}}"), SEVERITY_HIGH);
        check_int(severity_of("{\"title\":\"[Re-Warn] X\"}"), SEVERITY_HIGH);
}

static void test_tags(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"title\":\"X\",\"org\":{\"id\":\"7\"},\"alert\":{\"transition\":"
                           "\"Triggered\",\"id\":\"42\",\"scope\":\"\"},"
                           "\"tags\":\"a:b:c, d ,e:,  ,user:pat,client_ip:192.0.2.1,"
                           "url:https://x.example.com/p?token=1,service:api\"}", &a, reason),
                  MAP_ALERT);
        check_str(a.external_id, "datadog:7:42");
        check_int(a.n_tags, 5);
        check_str(alert_tag(&a, "a"), "b:c");
        check_str(alert_tag(&a, "d"), "");
        check_str(alert_tag(&a, "e"), "");
        check_str(alert_tag(&a, "user"), NULL);
        check_str(alert_tag(&a, "client_ip"), NULL);
        check_str(alert_tag(&a, "url"), "https://x.example.com/p");
        check_str(a.provider_project, "service:api");
        alert_free(&a);
}

/* A template with a cycle key beats the aggregation key; without either
 * the key is monitor and scope. */
static void test_keys(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"title\":\"X\",\"alert\":{\"transition\":\"Triggered\","
                           "\"aggreg_key\":\"agg\",\"id\":\"1\",\"scope\":\"host:a\"}}",
                           &a, reason), MAP_ALERT);
        check_str(a.external_id, "datadog:agg");
        alert_free(&a);

        check_int(map_json("{\"title\":\"X\",\"alert\":{\"transition\":\"Triggered\","
                           "\"id\":\"1\",\"scope\":\"host:a\"}}", &a, reason), MAP_ALERT);
        check_str(a.external_id, "datadog:1:host:a");
        alert_free(&a);
}

static void test_test_and_unrecognised(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"title\":\"Disk full\",\"alert\":{\"title\":"
                           "\"[Triggered] [TEST] Disk full\",\"transition\":\"Triggered\"}}",
                           &a, reason), MAP_TEST);
        check_str(reason, "Datadog test notification");
        check_int(map_json("{\"title\":\"[P2] [test] [Triggered] X\"}", &a, reason), MAP_TEST);

        /* "[TEST]" after the text is part of the name, not a marker. */
        check_int(map_json("{\"title\":\"[Triggered] Load [TEST] env\"}", &a, reason),
                  MAP_ALERT);
        check_str(a.title, "Load [TEST] env");
        alert_free(&a);

        check_int(map_json("{\"title\":\"X\",\"alert\":{\"transition\":\"Muted\"}}",
                           &a, reason), MAP_IGNORED);
        check_str(reason, "Datadog transition 'Muted' is not turned into issues");

        check_int(map_json("{\"title\":\"Disk full on db-1\",\"id\":\"1\"}", &a, reason),
                  MAP_UNRECOGNISED);
        check_str(reason, "expected a Datadog webhook: title and alert.transition "
                          "or a [..] title prefix");
        check_str(a.external_id, NULL);

        check_int(map_json("{\"title\":\"[P2] [Triggered]  \"}", &a, reason), MAP_UNRECOGNISED);
        check_contains(reason, "expected alert.cycle_key");

        check_int(map_json("\"[Triggered] X\"", &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected a JSON object from Datadog");
}

/* The default template's trigger and recovery land on one issue. */
static void test_default_pair(void)
{
        char reason[256];
        size_t n1, n2;
        char *t = mapper_read_sample("datadog_default_triggered", "json", &n1);
        char *r = mapper_read_sample("datadog_default_recovered", "json", &n2);
        Alert a, b;

        check_int(mapper_map_text(t, n1, NULL, &a, reason, sizeof(reason)), MAP_ALERT);
        check_int(mapper_map_text(r, n2, NULL, &b, reason, sizeof(reason)), MAP_ALERT);
        check_str(a.external_id, b.external_id);
        check(strcmp(a.occurrence_id, b.occurrence_id) != 0);
        alert_free(&a);
        alert_free(&b);
        free(t);
        free(r);
}

/* A name quoted in a reason is cut at 40 bytes on a character boundary,
 * so the reason stays valid UTF-8 (found by tests/fuzz). */
static void test_reason_cut(void)
{
        char name[64] = "x", body[256], want[256], reason[256];
        Alert a;

        for (int i = 0; i < 30; i++)
                strcat(name, "\xc3\xa9");   /* e acute: 2 bytes */
        snprintf(body, sizeof(body),
                 "{\"title\":\"X\",\"alert\":{\"transition\":\"%s\"}}", name);
        check_int(map_json(body, &a, reason), MAP_IGNORED);
        snprintf(want, sizeof(want),
                 "Datadog transition '%.39s' is not turned into issues", name);
        check_str(reason, want);
}

int main(int argc, char **argv)
{
        mapper_check_init(argc, argv, PROVIDER_DATADOG, datadog_map);
        test_samples();
        test_unquoted_numbers();
        test_severity();
        test_tags();
        test_keys();
        test_test_and_unrecognised();
        test_default_pair();
        test_reason_cut();
        return check_done();
}
