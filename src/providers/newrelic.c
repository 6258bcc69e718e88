/* New Relic webhooks into an Alert: a workflow's default template
 * (FORMATS.md section 3.1) and the classic notification channel, whose
 * field names migrated workflows still send (section 3.2). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "mapping.h"
#include "newrelic.h"
#include "text.h"

typedef struct {
        const JsonValue *root;
        char *reason;
        size_t reason_size;
        int error;              /* -ENOMEM met while filling */
} Delivery;

static const char *text(const JsonValue *v, const char *path)
{
        return alert_opt_path(v, path);
}

static bool is(const char *s, const char *word)
{
        return s && strcasecmp(s, word) == 0;
}

static MapResult unrecognised(const Delivery *d, const char *what)
{
        return alert_map_reason(MAP_UNRECOGNISED, d->reason, d->reason_size,
                                "expected %s", what);
}

/* DESIGN section 7: workflow priority and classic severity. */
static Severity severity_of(const char *s)
{
        if (is(s, "CRITICAL"))
                return SEVERITY_CRITICAL;
        if (is(s, "MEDIUM") || is(s, "WARNING") || is(s, "WARN"))
                return SEVERITY_MEDIUM;
        if (is(s, "LOW") || is(s, "INFO"))
                return SEVERITY_LOW;
        return SEVERITY_HIGH;
}

static void put_int(JsonWriter *w, const char *key, const JsonValue *v)
{
        int64_t n;

        if (json_int64(v, &n) == 0) {
                json_write_key(w, key);
                json_write_int(w, n);
        }
}

/* ---- Workflows. ---- */

/* An acknowledgement arrives as ACTIVATED and USER_ACTION; only
 * isAcknowledged or acknowledgedBy, when the template adds them, tell it
 * from other user actions (FORMATS section 3.1). */
static bool is_acknowledged(const JsonValue *root)
{
        return json_bool(json_get(root, "isAcknowledged")) ||
               text(root, "acknowledgedBy");
}

/* What state and trigger say happened; false for a state we do not know. */
static bool workflow_event(Alert *a, const JsonValue *root, const char *state,
                           const char *trigger, int *error)
{
        const char *updated = text(root, "updatedAt");
        const char *total = text(root, "totalIncidents");

        if (is(state, "CLOSED"))
                a->event = ALERT_RESOLVE;
        else if (is(state, "CREATED"))
                a->event = ALERT_OPEN;
        else if (is(state, "ACKNOWLEDGED"))
                a->event = ALERT_ACKNOWLEDGE;
        else if (!is(state, "ACTIVATED"))
                return false;
        else if (!trigger || is(trigger, "STATE_CHANGE")) {
                a->occurrence = true;
                *error |= alert_set(&a->occurrence_id, "activated");
        } else if (is(trigger, "INCIDENT_ADDED")) {
                a->occurrence = true;
                if (updated)
                        *error |= alert_setf(&a->occurrence_id, "incident:%s", updated);
                else if (total)
                        *error |= alert_setf(&a->occurrence_id, "incidents:%s", total);
        } else if (is(trigger, "USER_ACTION") && is_acknowledged(root))
                a->event = ALERT_ACKNOWLEDGE;
        else
                a->event = ALERT_UPDATE; /* priority, merges, other incidents */
        return true;
}

static int set_workflow_context(Alert *a, const JsonValue *root)
{
        JsonWriter *w = json_writer_new();
        const JsonValue *correlated = json_get(root, "isCorrelated");

        json_write_object_open(w);
        alert_context_string(w, "state", text(root, "state"));
        alert_context_string(w, "trigger", text(root, "trigger"));
        put_int(w, "totalIncidents", json_get(root, "totalIncidents"));
        if (json_type(correlated) == JSON_BOOL || json_type(correlated) == JSON_STRING) {
                json_write_key(w, "isCorrelated");
                json_write_bool(w, json_bool(correlated));
        }
        json_write_object_close(w);
        return alert_set_context(a, w);
}

static int fill_workflow(Alert *a, const JsonValue *root, const char *id)
{
        const char *title = text(root, "title");
        char fallback[128];
        int r = 0;

        snprintf(fallback, sizeof(fallback), "New Relic issue %s", id);
        if (!title)
                title = text(root, "issueTitle");
        a->severity = severity_of(text(root, "priority"));
        a->timestamp_ms = alert_time_ms(json_get(root, "updatedAt"));
        if (a->timestamp_ms == 0)
                a->timestamp_ms = alert_time_ms(json_get(root, "createdAt"));

        r |= alert_setf(&a->external_id, "newrelic:%s", id);
        r |= alert_set_title(a, title, fallback);
        r |= alert_set(&a->message, text(root, "description"));
        r |= alert_set(&a->link, text(root, "issueUrl"));
        r |= alert_set(&a->provider_project,
                       alert_first_text(json_get(root, "alertPolicyNames")));
        if (a->event == ALERT_ACKNOWLEDGE)
                r |= alert_set(&a->actor, text(root, "acknowledgedBy"));
        r |= alert_add_tag_values(a, "entity", json_get(root, "impactedEntities"));
        r |= alert_add_tag_values(a, "condition", json_get(root, "alertConditionNames"));
        r |= alert_add_tag_values(a, "policy", json_get(root, "alertPolicyNames"));
        r |= alert_add_tag_values(a, "workflow", json_get(root, "workflowName"));
        r |= alert_add_tag_values(a, "source", json_get(root, "sources"));
        r |= set_workflow_context(a, root);
        return r;
}

/* Workflow test notifications carry real data and no marker
 * (FORMATS section 3.5): they are ordinary deliveries. */
static MapResult map_workflow(Delivery *d, Alert *a)
{
        const JsonValue *root = d->root;
        const char *id = text(root, "id"), *state = text(root, "state");
        const char *trigger = text(root, "trigger");

        if (!id)
                return unrecognised(d, "id, the New Relic issueId");
        if (!state)
                return unrecognised(d, "state (ACTIVATED, CLOSED or CREATED) in "
                                    "the New Relic workflow payload");
        if (!workflow_event(a, root, state, trigger, &d->error))
                return alert_map_reason(MAP_IGNORED, d->reason, d->reason_size,
                                        "New Relic workflow state '%.*s' is not "
                                        "turned into issues",
                                        (int) utf8_cut(state, strlen(state), 40),
                                        state);

        d->error |= alert_setf(&a->kind, "%.40s/%.40s", state, trigger ? trigger : "-");
        d->error |= fill_workflow(a, root, id);
        return MAP_ALERT;
}

/* ---- Classic channels. ---- */

/* After migration issue_id (the workflow's issueId) is there and wins,
 * so both payload shapes land on one issue (FORMATS section 3.2). */
static int set_classic_id(Alert *a, const JsonValue *root)
{
        const char *issue = text(root, "issue_id");
        const char *incident = text(root, "incident_id");
        const char *account = text(root, "account_id");

        if (issue)
                return alert_setf(&a->external_id, "newrelic:%s", issue);
        if (!incident || strcmp(incident, "-1") == 0)
                return -ENODATA;
        if (account)
                return alert_setf(&a->external_id, "newrelic:%s:incident:%s",
                                  account, incident);
        return alert_setf(&a->external_id, "newrelic:incident:%s", incident);
}

static int set_classic_context(Alert *a, const JsonValue *root)
{
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        alert_context_string(w, "accountId", text(root, "account_id"));
        alert_context_string(w, "accountName", text(root, "account_name"));
        alert_context_string(w, "incidentId", text(root, "incident_id"));
        alert_context_string(w, "conditionId", text(root, "condition_id"));
        alert_context_string(w, "eventType", text(root, "event_type"));
        alert_context_string(w, "runbookUrl", text(root, "runbook_url"));
        alert_context_string(w, "product", text(json_at(json_get(root, "targets"), 0),
                                                "product"));
        json_write_object_close(w);
        return alert_set_context(a, w);
}

/* Targets' names, and the first target's labels. */
static int add_classic_tags(Alert *a, const JsonValue *root)
{
        const JsonValue *targets = json_get(root, "targets");
        const JsonValue *labels = json_path(targets, "0.labels");
        int r = 0;

        r |= alert_add_tag(a, "policy", text(root, "policy_name"));
        r |= alert_add_tag(a, "condition", text(root, "condition_name"));
        for (const JsonValue *t = json_first(targets); t; t = json_next(t))
                r |= alert_add_tag(a, "target", text(t, "name"));
        if (json_type(labels) == JSON_OBJECT)
                for (const JsonValue *l = json_first(labels); l; l = json_next(l))
                        r |= alert_add_tag(a, json_key(l), alert_opt_text(l));
        return r;
}

static int fill_classic(Alert *a, const JsonValue *root)
{
        const char *condition = text(root, "condition_name");
        const char *details = text(root, "details");
        const char *message = text(root, "condition_description");
        char fallback[128], *title = NULL;
        int r = 0;

        snprintf(fallback, sizeof(fallback), "New Relic incident %s",
                 text(root, "incident_id") ? text(root, "incident_id") : "");
        a->severity = severity_of(text(root, "severity"));
        a->timestamp_ms = alert_time_ms(json_get(root, "timestamp"));
        if (a->timestamp_ms == 0)
                a->timestamp_ms = alert_time_ms(json_get(root, "timestamp_utc_string"));

        if (condition && details && asprintf(&title, "%s: %s", condition, details) < 0)
                return -ENOMEM;
        r |= alert_set_title(a, title ? title : condition ? condition : details,
                             fallback);
        free(title);
        r |= alert_set(&a->message, message ? message : details);
        r |= alert_set(&a->link, text(root, "incident_url"));
        r |= alert_set(&a->provider_project, text(root, "policy_name"));
        /* owner is who acknowledged: not who closed, which may be nobody */
        if (a->event == ALERT_ACKNOWLEDGE)
                r |= alert_set(&a->actor, text(root, "owner"));
        r |= add_classic_tags(a, root);
        r |= set_classic_context(a, root);
        return r;
}

static MapResult map_classic(Delivery *d, Alert *a)
{
        const JsonValue *root = d->root;
        const char *state = text(root, "current_state");
        int r;

        if (is(text(root, "event_type"), "NOTIFICATION") || is(state, "test"))
                return alert_map_reason(MAP_TEST, d->reason, d->reason_size,
                                        "New Relic channel test");
        if (!state)
                return unrecognised(d, "current_state (open, acknowledged or "
                                    "closed) in the New Relic channel payload");
        if (is(state, "open")) {
                a->occurrence = true;
                d->error |= alert_set(&a->occurrence_id, "open");
        } else if (is(state, "acknowledged"))
                a->event = ALERT_ACKNOWLEDGE;
        else if (is(state, "closed"))
                a->event = ALERT_RESOLVE;
        else
                return alert_map_reason(MAP_IGNORED, d->reason, d->reason_size,
                                        "New Relic incident state '%.*s' is not "
                                        "turned into issues",
                                        (int) utf8_cut(state, strlen(state), 40),
                                        state);

        r = set_classic_id(a, root);
        if (r == -ENODATA)
                return unrecognised(d, "issue_id or incident_id in the New Relic "
                                    "channel payload");
        d->error |= r;
        d->error |= alert_setf(&a->kind, "classic.%s", state);
        d->error |= fill_classic(a, root);
        return MAP_ALERT;
}

MapResult newrelic_map(const MapInput *in, Alert *ret, char *reason,
                       size_t reason_size)
{
        const JsonValue *root = in->root;
        Alert a = { .provider = PROVIDER_NEWRELIC };
        Delivery d = { .root = root, .reason = reason,
                       .reason_size = reason_size };
        MapResult r;

        if (json_get(root, "current_state") || json_get(root, "incident_id"))
                r = map_classic(&d, &a);
        else if (json_get(root, "state") || json_get(root, "trigger") ||
                 json_get(root, "issueUrl"))
                r = map_workflow(&d, &a);
        else
                r = unrecognised(&d, "a New Relic webhook: a workflow payload "
                                 "with id and state, or a classic channel payload "
                                 "with incident_id and current_state");
        return alert_map_done(&a, r, d.error, ret, reason, reason_size);
}
