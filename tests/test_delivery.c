/* delivery.c: a request's bytes into a Delivery, JSON or a form
 * (EDGE-CASES item 23: Datadog's "Encode as form", New Relic's classic
 * "Form" payload type). */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "check.h"
#include "delivery.h"

#define FORM "application/x-www-form-urlencoded"

static const char *data_dir = "tests/data";
static const Config config = { 0 };

static char *read_data(const char *path, size_t *ret_len)
{
        char full[512];
        char *r;

        snprintf(full, sizeof(full), "%s/%s", data_dir, path);
        r = check_read_file(full, ret_len);
        if (!r)
                fprintf(stderr, "cannot read %s\n", full);
        check(r != NULL);
        return r;
}

static PrepareResult prepare(Provider p, const char *body, size_t len,
                             const char *content_type, Delivery **ret,
                             char *reason)
{
        Request r = {
                .provider = p, .body = body, .len = len,
                .content_type = content_type, .remote_addr = "192.0.2.1",
                .request_id = "r1",
        };

        return delivery_prepare(&config, &r, ret, reason, 256);
}

static Delivery *prepare_file(Provider p, const char *path, const char *content_type)
{
        char reason[256];
        Delivery *d = NULL;
        size_t len = 0;
        char *body = read_data(path, &len);

        if (body)
                check_int(prepare(p, body, len, content_type, &d, reason), PREPARED);
        free(body);
        return d;
}

/* What a Delivery from a form must share with the one from its JSON. */
static void check_same_alert(const Alert *a, const Alert *b)
{
        check_int(a->event, b->event);
        check_int(a->occurrence, b->occurrence);
        check_int(a->severity, b->severity);
        check_int(a->timestamp_ms, b->timestamp_ms);
        check_str(a->kind, b->kind);
        check_str(a->external_id, b->external_id);
        check_str(a->occurrence_id, b->occurrence_id);
        check_str(a->provider_project, b->provider_project);
        check_str(a->title, b->title);
        check_str(a->message, b->message);
        check_str(a->environment, b->environment);
        check_str(a->release, b->release);
        check_str(a->link, b->link);
        check_str(a->context_json, b->context_json);
        check_int(a->n_tags, b->n_tags);
        for (size_t i = 0; i < a->n_tags && i < b->n_tags; i++) {
                check_str(a->tags[i].key, b->tags[i].key);
                check_str(a->tags[i].value, b->tags[i].value);
        }
}

static void check_digest_of(const Delivery *d, const char *path)
{
        unsigned char digest[32];
        size_t len = 0;
        char *body = read_data(path, &len);

        check(body != NULL);
        if (!body)
                return;
        auth_sha256(body, len, digest);
        check(memcmp(d->digest, digest, sizeof(digest)) == 0);
        free(body);
}

/* Datadog with "Encode as form": the same alert as its JSON, the digest
 * of the bytes that came. */
static void test_datadog_form(void)
{
        const char *form = "sequences/bodies/datadog/datadog_custom_triggered_form.json";
        Delivery *json = prepare_file(PROVIDER_DATADOG, "datadog/datadog_custom_triggered.json",
                                      "application/json");
        Delivery *d = prepare_file(PROVIDER_DATADOG, form, FORM);

        if (!json || !d)
                goto out;
        check_str(d->alert.external_id, "datadog:1100001:6a9c4e1f2b7d8c3e");
        check_str(d->alert.title, "Checkout error rate high");
        check_int(d->alert.severity, SEVERITY_HIGH);
        check_str(alert_tag(&d->alert, "team"), "payments");
        check_same_alert(&d->alert, &json->alert);
        check_digest_of(d, form);
        check(memcmp(d->digest, json->digest, sizeof(d->digest)) != 0);
out:
        delivery_free(json);
        delivery_free(d);
}

/* New Relic's classic channel with the Form payload type: numbers come
 * as text, the counts as JSON, no targets. */
static void test_newrelic_form(void)
{
        const char *form = "sequences/bodies/newrelic/newrelic_legacy_channel_open_form.json";
        Delivery *d = prepare_file(PROVIDER_NEWRELIC, form, FORM "; charset=UTF-8");

        if (!d)
                return;
        check_str(d->alert.external_id, "newrelic:3300123:incident:98765432");
        check_str(d->alert.kind, "classic.open");
        check_str(d->alert.title, "Checkout error rate: Error percentage > 5.0% for at "
                  "least 5 minutes on 'checkout-api'");
        check_int(d->alert.severity, SEVERITY_CRITICAL);
        check_int(d->alert.timestamp_ms, INT64_C(1718801461807));
        check_str(alert_tag(&d->alert, "policy"), "Checkout Golden Signals");
        check_str(alert_tag(&d->alert, "target"), NULL);
        check_digest_of(d, form);
        delivery_free(d);
}

static Delivery *prepare_text(Provider p, const char *body, const char *content_type,
                              PrepareResult expected, char *reason)
{
        Delivery *d = NULL;

        check_int(prepare(p, body, strlen(body), content_type, &d, reason), expected);
        check(expected == PREPARED ? d != NULL : d == NULL);
        return d;
}

/* '+' is a space, %XX a byte, a '%' that starts no escape stays; object
 * values are objects, text that only looks like JSON a string; keys
 * without '=' and empty fields do no harm. */
static void test_decoding(void)
{
        char reason[256];
        Delivery *d;

        d = prepare_text(PROVIDER_DATADOG,
                         "&&flag&title=%5BP1%5D+%5BTriggered%5D+100%25+down%2C+5%+%zz+%4"
                         "&alert=%7B%22cycle_key%22%3A%22k%22%2C%22transition%22%3A%22"
                         "Triggered%22%7D&org=%7B%22id%22%3A%2242%22%7D"
                         "&message=%7Bnot+json%C3%BC&tags=env%3Aprod%2Cteam%3Aa+b&&",
                         "Application/X-WWW-Form-Urlencoded", PREPARED, reason);
        if (d) {
                check_str(d->alert.external_id, "datadog:42:k");
                check_str(d->alert.title, "100% down, 5% %zz %4");
                check_int(d->alert.severity, SEVERITY_CRITICAL);
                check_str(d->alert.message, "{not jsonü");
                check_str(alert_tag(&d->alert, "team"), "a b");
                check_str(alert_tag(&d->alert, "env"), "prod");
        }
        delivery_free(d);

        /* A test marker reads the same in a form. */
        prepare_text(PROVIDER_DATADOG, "title=%5BTriggered%5D+%5BTEST%5D+Disk+full&id=1",
                     FORM, PREPARED_TEST, reason);
}

/* One field holding JSON (the oldest New Relic webhooks' alert=...):
 * that JSON is the body. */
static void test_single_json_field(void)
{
        char reason[256];
        Delivery *d;

        d = prepare_text(PROVIDER_NEWRELIC,
                         "alert=%7B%22current_state%22%3A%22open%22%2C%22incident_id%22%3A7"
                         "%2C%22condition_name%22%3A%22CPU+high%22%7D",
                         FORM, PREPARED, reason);
        if (d) {
                check_str(d->alert.external_id, "newrelic:incident:7");
                check_str(d->alert.title, "CPU high");
        }
        delivery_free(d);

        /* One field that is not JSON is a field like any other. */
        prepare_text(PROVIDER_NEWRELIC, "alert=open", FORM, PREPARED_UNRECOGNISED, reason);
        check_contains(reason, "expected a New Relic webhook");
}

/* curl -d sends JSON as a form unless told otherwise: JSON it is. Only
 * that exact media type is a form. */
static void test_content_types(void)
{
        const char *json = "{\"current_state\":\"open\",\"incident_id\":8,"
                           "\"condition_name\":\"Disk\"}";
        char reason[256];
        Delivery *d;

        d = prepare_text(PROVIDER_NEWRELIC, json, FORM, PREPARED, reason);
        if (d)
                check_str(d->alert.external_id, "newrelic:incident:8");
        delivery_free(d);
        d = prepare_text(PROVIDER_NEWRELIC, "  \n[1]", FORM, PREPARED_UNRECOGNISED, reason);
        delivery_free(d);

        prepare_text(PROVIDER_NEWRELIC, "current_state=open&incident_id=8",
                     FORM "x", PREPARED_BAD_JSON, reason);
        check_contains(reason, "invalid JSON at byte");
        prepare_text(PROVIDER_NEWRELIC, "current_state=open&incident_id=8",
                     NULL, PREPARED_BAD_JSON, reason);
        d = prepare_text(PROVIDER_NEWRELIC, "current_state=open&incident_id=8",
                         " " FORM " ;charset=utf-8", PREPARED, reason);
        delivery_free(d);
}

/* A field nesting as deep as the parser allows cannot go one deeper
 * into the body's object: a 400 that says so. */
static void test_too_deep(void)
{
        char body[256], reason[256];
        size_t n = 0;

        n += (size_t) snprintf(body + n, sizeof(body) - n, "a=1&b=");
        for (int i = 0; i < 64; i++)
                body[n++] = '[';
        for (int i = 0; i < 64; i++)
                body[n++] = ']';
        body[n] = '\0';
        prepare_text(PROVIDER_DATADOG, body, FORM, PREPARED_BAD_JSON, reason);
        check_str(reason, "the form fields nest too deeply or hold too many values");
}

int main(int argc, char **argv)
{
        if (argc > 1)
                data_dir = argv[1];

        test_datadog_form();
        test_newrelic_form();
        test_decoding();
        test_single_json_field();
        test_content_types();
        test_too_deep();
        return check_done();
}
