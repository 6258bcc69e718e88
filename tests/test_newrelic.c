/* Unit tests for src/providers/newrelic.c: every recorded New Relic payload
 * in tests/data/newrelic (argv[1] is tests/data) mapped and checked field
 * by field, then the shapes that have no recording. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"
#include "mapper_check.h"
#include "newrelic.h"

#define ISSUE "3f6c0d52-8b7e-4a1d-9c2f-6e5b4a3d2c1b"
#define ISSUE_URL "https://radar-api.newrelic.example.com/accounts/3300123/issues/"
#define WORKFLOW_TITLE "checkout-api query result is > 5.0 for 5 minutes on " \
        "'Checkout error rate'"
#define DETAILS "Error percentage > 5.0% for at least 5 minutes on 'checkout-api'"
#define INCIDENT_URL "https://alerts.newrelic.example.com/accounts/3300123/incidents/98765432"

/* ---- The recorded payloads. ---- */

#define WORKFLOW_CONTEXT(state, trigger, total, correlated) \
        "{\"state\":\"" state "\",\"trigger\":\"" trigger "\",\"totalIncidents\":" \
        total ",\"isCorrelated\":" correlated "}"

#define WORKFLOW_SAMPLE \
        .result = MAP_ALERT, .reason = "", .external_id = "newrelic:" ISSUE, \
        .title = WORKFLOW_TITLE, .severity = SEVERITY_CRITICAL, \
        .link = ISSUE_URL ISSUE "?notifier=WEBHOOK", .project = "Checkout Golden Signals"

#define WORKFLOW_TAGS \
        { { "entity", "checkout-api (prod)" }, { "condition", "Checkout error rate" }, \
          { "policy", "Checkout Golden Signals" }, { "workflow", "Checkout → Tracker" }, \
          { "source", "newrelic" } }

#define CLASSIC_SAMPLE \
        .result = MAP_ALERT, .reason = "", \
        .external_id = "newrelic:3300123:incident:98765432", \
        .title = "Checkout error rate: " DETAILS, .severity = SEVERITY_CRITICAL, \
        .message = DETAILS, .link = INCIDENT_URL, .project = "Checkout Golden Signals", \
        .tags = { { "policy", "Checkout Golden Signals" }, \
                  { "condition", "Checkout error rate" }, { "target", "checkout-api" }, \
                  { "env", "prod" }, { "team", "payments" } }, \
        .context = "{\"accountId\":\"3300123\",\"accountName\":\"Acme Synthetic\"," \
                   "\"incidentId\":\"98765432\",\"conditionId\":\"23456789\"," \
                   "\"eventType\":\"INCIDENT\",\"runbookUrl\":" \
                   "\"https://wiki.example.com/runbooks/checkout-errors\",\"product\":\"APM\"}"

static const MapperSample samples[] = {
        {
                .name = "newrelic_workflow_activated", WORKFLOW_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "ACTIVATED/STATE_CHANGE",
                .occurrence_id = "activated", .timestamp_ms = INT64_C(1718801461807),
                .tags = WORKFLOW_TAGS,
                .context = WORKFLOW_CONTEXT("ACTIVATED", "STATE_CHANGE", "1", "false"),
        },
        {
                .name = "newrelic_workflow_closed", WORKFLOW_SAMPLE,
                .event = ALERT_RESOLVE, .occurrence = false, .kind = "CLOSED/STATE_CHANGE",
                .timestamp_ms = INT64_C(1718803590044),
                .tags = WORKFLOW_TAGS,
                .context = WORKFLOW_CONTEXT("CLOSED", "STATE_CHANGE", "1", "false"),
        },
        {
                /* No marker: an ordinary delivery of an older issue. */
                .name = "newrelic_workflow_test_notification", .result = MAP_ALERT,
                .reason = "", .event = ALERT_OPEN, .occurrence = true,
                .kind = "ACTIVATED/STATE_CHANGE",
                .external_id = "newrelic:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                .occurrence_id = "activated", .title = WORKFLOW_TITLE,
                .severity = SEVERITY_CRITICAL,
                .link = ISSUE_URL "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e?notifier=WEBHOOK",
                .project = "Checkout Golden Signals",
                .timestamp_ms = INT64_C(1718712000004), .tags = WORKFLOW_TAGS,
                .context = WORKFLOW_CONTEXT("ACTIVATED", "STATE_CHANGE", "1", "false"),
        },
        {
                .name = "newrelic_workflow_incident_added", WORKFLOW_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "ACTIVATED/INCIDENT_ADDED",
                .occurrence_id = "incident:1718802061530",
                .timestamp_ms = INT64_C(1718802061530),
                .tags = { { "entity", "checkout-api (prod), checkout-worker (prod)" },
                          { "condition", "Checkout error rate, Checkout worker errors" } },
                .context = WORKFLOW_CONTEXT("ACTIVATED", "INCIDENT_ADDED", "2", "true"),
        },
        {
                .name = "newrelic_workflow_priority_changed", .result = MAP_ALERT,
                .reason = "", .external_id = "newrelic:" ISSUE, .title = WORKFLOW_TITLE,
                .link = ISSUE_URL ISSUE "?notifier=WEBHOOK",
                .project = "Checkout Golden Signals",
                .event = ALERT_UPDATE, .occurrence = false,
                .kind = "ACTIVATED/PRIORITY_CHANGED", .severity = SEVERITY_HIGH,
                .timestamp_ms = INT64_C(1718802361004), .tags = WORKFLOW_TAGS,
                .context = WORKFLOW_CONTEXT("ACTIVATED", "PRIORITY_CHANGED", "1", "false"),
        },
        {
                .name = "newrelic_workflow_acknowledged", WORKFLOW_SAMPLE,
                .event = ALERT_ACKNOWLEDGE, .occurrence = false,
                .kind = "ACTIVATED/USER_ACTION", .actor = "Jamie Example",
                .timestamp_ms = INT64_C(1718802500300), .tags = WORKFLOW_TAGS,
                .context = WORKFLOW_CONTEXT("ACTIVATED", "USER_ACTION", "1", "false"),
        },
        {
                .name = "newrelic_legacy_channel_open", CLASSIC_SAMPLE,
                .event = ALERT_OPEN, .occurrence = true, .kind = "classic.open",
                .occurrence_id = "open", .timestamp_ms = INT64_C(1718801461807),
        },
        {
                .name = "newrelic_legacy_channel_acknowledged", CLASSIC_SAMPLE,
                .event = ALERT_ACKNOWLEDGE, .occurrence = false,
                .kind = "classic.acknowledged", .actor = "Jamie Example",
                .timestamp_ms = INT64_C(1718802500311),
        },
        {
                .name = "newrelic_legacy_channel_closed", CLASSIC_SAMPLE,
                .event = ALERT_RESOLVE, .occurrence = false, .kind = "classic.closed",
                .timestamp_ms = INT64_C(1718803590044),
        },
        {
                .name = "newrelic_legacy_test_notification", .result = MAP_TEST,
                .reason = "New Relic channel test",
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

static void test_workflow_events(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"id\":\"i1\",\"state\":\"ACTIVATED\",\"trigger\":\"USER_ACTION\","
                           "\"priority\":\"LOW\"}", &a, reason), MAP_ALERT);
        check_int(a.event, ALERT_UPDATE);
        check_int(a.severity, SEVERITY_LOW);
        check_str(a.actor, NULL);
        check_str(a.title, "New Relic issue i1");
        alert_free(&a);

        check_int(map_json("{\"id\":\"i1\",\"state\":\"ACTIVATED\",\"trigger\":\"USER_ACTION\","
                           "\"isAcknowledged\":true,\"acknowledgedBy\":\"pat@example.com\"}",
                           &a, reason), MAP_ALERT);
        check_int(a.event, ALERT_ACKNOWLEDGE);
        check_str(a.actor, NULL);
        alert_free(&a);

        check_int(map_json("{\"id\":\"i1\",\"state\":\"CREATED\",\"trigger\":\"STATE_CHANGE\","
                           "\"priority\":\"MEDIUM\",\"title\":\"t\"}", &a, reason), MAP_ALERT);
        check_int(a.event, ALERT_OPEN);
        check_int(a.occurrence, false);
        check_str(a.occurrence_id, NULL);
        check_int(a.severity, SEVERITY_MEDIUM);
        alert_free(&a);

        check_int(map_json("{\"id\":\"i1\",\"state\":\"ACTIVATED\",\"trigger\":\"INCIDENT_ADDED\","
                           "\"totalIncidents\":3}", &a, reason), MAP_ALERT);
        check_str(a.occurrence_id, "incidents:3");
        check_int(a.occurrence, true);
        alert_free(&a);

        check_int(map_json("{\"id\":\"i1\",\"state\":\"SNOOZED\"}", &a, reason), MAP_IGNORED);
        check_str(reason, "New Relic workflow state 'SNOOZED' is not turned into issues");

        check_int(map_json("{\"issueUrl\":\"https://x\",\"state\":\"ACTIVATED\"}", &a, reason),
                  MAP_UNRECOGNISED);
        check_str(reason, "expected id, the New Relic issueId");

        check_int(map_json("{\"id\":\"i1\",\"trigger\":\"STATE_CHANGE\"}", &a, reason),
                  MAP_UNRECOGNISED);
        check_contains(reason, "expected state");
}

static void test_classic(void)
{
        char reason[256];
        Alert a;

        /* Migrated channels add the workflow's issue id, which wins. */
        check_int(map_json("{\"account_id\":1,\"incident_id\":-1,\"issue_id\":\"" ISSUE "\","
                           "\"current_state\":\"acknowledged\",\"owner\":\"NA\","
                           "\"severity\":\"WARN\",\"condition_name\":\"N/A\","
                           "\"details\":\"Disk full\",\"policy_name\":\"Not Available\","
                           "\"timestamp_utc_string\":\"2024-06-19T12:51:02.006Z\"}",
                           &a, reason), MAP_ALERT);
        check_str(a.external_id, "newrelic:" ISSUE);
        check_int(a.event, ALERT_ACKNOWLEDGE);
        check_str(a.actor, NULL);
        check_int(a.severity, SEVERITY_MEDIUM);
        check_str(a.title, "Disk full");
        check_str(a.provider_project, NULL);
        check_int(a.timestamp_ms, INT64_C(1718801462006));
        alert_free(&a);

        check_int(map_json("{\"incident_id\":77,\"current_state\":\"open\",\"severity\":\"INFO\","
                           "\"timestamp_utc_string\":\"2024-06-19, 12:51 UTC\"}", &a, reason),
                  MAP_ALERT);
        check_str(a.external_id, "newrelic:incident:77");
        check_int(a.severity, SEVERITY_LOW);
        check_str(a.title, "New Relic incident 77");
        check_int(a.timestamp_ms, INT64_C(1718801460000));
        alert_free(&a);

        check_int(map_json("{\"account_id\":1,\"incident_id\":-1,\"current_state\":\"open\"}",
                           &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected issue_id or incident_id in the New Relic channel payload");

        check_int(map_json("{\"incident_id\":5,\"current_state\":\"muted\"}", &a, reason),
                  MAP_IGNORED);
        check_str(reason, "New Relic incident state 'muted' is not turned into issues");

        check_int(map_json("{\"incident_id\":5}", &a, reason), MAP_UNRECOGNISED);
        check_contains(reason, "expected current_state");

        check_int(map_json("{\"incident_id\":0,\"current_state\":\"test\"}", &a, reason),
                  MAP_TEST);
}

static void test_unrecognised(void)
{
        char reason[256];
        Alert a;

        check_int(map_json("{\"hello\":\"world\"}", &a, reason), MAP_UNRECOGNISED);
        check_str(reason, "expected a New Relic webhook: a workflow payload with id and "
                          "state, or a classic channel payload with incident_id and "
                          "current_state");
        check_int(map_json("[{\"state\":\"ACTIVATED\"}]", &a, reason), MAP_UNRECOGNISED);
        check_str(a.external_id, NULL);
}

/* A state quoted in a reason is cut at 40 bytes on a character boundary,
 * so the reason stays valid UTF-8 (found by tests/fuzz). */
static void test_reason_cut(void)
{
        char name[64] = "x", body[256], want[256], reason[256];
        Alert a;

        for (int i = 0; i < 30; i++)
                strcat(name, "\xc3\xa9");   /* e acute: 2 bytes */
        snprintf(body, sizeof(body), "{\"id\":\"1\",\"state\":\"%s\"}", name);
        check_int(map_json(body, &a, reason), MAP_IGNORED);
        snprintf(want, sizeof(want),
                 "New Relic workflow state '%.39s' is not turned into issues", name);
        check_str(reason, want);

        snprintf(body, sizeof(body),
                 "{\"incident_id\":1,\"current_state\":\"%s\"}", name);
        check_int(map_json(body, &a, reason), MAP_IGNORED);
        snprintf(want, sizeof(want),
                 "New Relic incident state '%.39s' is not turned into issues", name);
        check_str(reason, want);
}

int main(int argc, char **argv)
{
        mapper_check_init(argc, argv, PROVIDER_NEWRELIC, newrelic_map);
        test_samples();
        test_workflow_events();
        test_classic();
        test_unrecognised();
        test_reason_cut();
        return check_done();
}
