/* Unit tests for src/alert.c: names, ownership, the helpers the mappers
 * share, and the two renderings (description and errorTrace). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "auth.h"
#include "check.h"
#include "json.h"
#include "text.h"
#include "alert.h"
#include "mapping.h"

#define EMOJI "\xf0\x9f\x92\xa5"        /* U+1F4A5, four bytes */

static Json *parse(const char *s)
{
        JsonError e;
        Json *doc = NULL;

        check_int(json_parse(s, strlen(s), NULL, &doc, &e), 0);
        return doc;
}

static void test_names(void)
{
        Provider p = PROVIDER_COUNT;

        check_str(provider_name(PROVIDER_SENTRY), "sentry");
        check_str(provider_name(PROVIDER_NEWRELIC), "newrelic");
        check_str(provider_display_name(PROVIDER_DATADOG), "Datadog");
        check_str(provider_display_name(PROVIDER_NEWRELIC), "New Relic");
        check_int(provider_from_name("datadog", &p), 0);
        check_int(p, PROVIDER_DATADOG);
        check_int(provider_from_name("Datadog", &p), -EINVAL);
        check_int(provider_from_name(NULL, &p), -EINVAL);
        check_str(severity_priority(SEVERITY_LOW), "Low");
        check_str(severity_priority(SEVERITY_CRITICAL), "Critical");
        check_str(severity_name(SEVERITY_MEDIUM), "medium");
        check_str(severity_name(SEVERITY_HIGH), "high");
}

static void test_set_and_free(void)
{
        Alert a = { 0 }, zero = { 0 };

        alert_free(&a);
        check(memcmp(&a, &zero, sizeof(a)) == 0);

        check_int(alert_set(&a.title, "x"), 0);
        check_int(alert_set(&a.title, ""), 0);
        check_str(a.title, NULL);
        check_int(alert_set(&a.message, "caf\xc3\xa9 \xff!"), 0);
        check_str(a.message, "caf\xc3\xa9 \xef\xbf\xbd!");
        check_int(alert_set(&a.message, NULL), 0);
        check_str(a.message, NULL);
        check_int(alert_setf(&a.external_id, "sentry:%s:%d", "issue", 7), 0);
        check_str(a.external_id, "sentry:issue:7");
        check_int(alert_add_tag(&a, "k", "v"), 0);
        check_int(alert_set(&a.context_json, "{}"), 0);

        alert_free(&a);
        check(memcmp(&a, &zero, sizeof(a)) == 0);
        alert_free(&a);
        alert_free(NULL);
}

static void test_personal_tags(void)
{
        static const char *const personal_keys[] = {
                "user", "user.email", "userId", "username", "email", "customer_email",
                "ip", "client_ip", "ip_address", "clientIP", "remote-ip", "cookie",
                "X-Cookie", "db_password",
        };
        static const char *const fine_keys[] = {
                "zip", "description", "shipping", "script", "browser", "server_name",
                "environment", "superuser_mode",
        };

        for (size_t i = 0; i < sizeof(personal_keys) / sizeof(personal_keys[0]); i++) {
                bool p = alert_tag_is_personal(personal_keys[i], "x");

                if (!p)
                        fprintf(stderr, "key %s\n", personal_keys[i]);
                check(p);
        }
        for (size_t i = 0; i < sizeof(fine_keys) / sizeof(fine_keys[0]); i++) {
                bool p = alert_tag_is_personal(fine_keys[i], "x");

                if (p)
                        fprintf(stderr, "key %s\n", fine_keys[i]);
                check(!p);
        }
        check(alert_tag_is_personal("owner", "Jo <jo.doe+x@mail.example.org>"));
        check(alert_tag_is_personal("host", "192.0.2.44"));
        check(alert_tag_is_personal("peer", "192.0.2.44:8080"));
        check(alert_tag_is_personal("peer", "2001:db8::1"));
        check(alert_tag_is_personal("peer", "[2001:db8::1]:443"));
        check(!alert_tag_is_personal("release", "checkout-api@2.14.0+9f2c1ab"));
        check(!alert_tag_is_personal("version", "1.2.3.4.5"));
        check(!alert_tag_is_personal("mention", "@webhook-issue-tracker"));
        check(!alert_tag_is_personal("time", "12:30"));
}

static void test_tags(void)
{
        Alert a = { 0 };

        check_int(alert_add_tag(&a, "user", "id:1"), 0);
        check_int(alert_add_tag(&a, "owner", "pat@example.com"), 0);
        check_int(alert_add_tag(&a, "", "x"), 0);
        check_int(alert_add_tag(&a, NULL, "x"), 0);
        check_int(a.n_tags, 0);

        check_int(alert_add_tag(&a, "url", "https://shop.example.com/cart?session=1#top"), 0);
        check_str(alert_tag(&a, "url"), "https://shop.example.com/cart");
        check_int(alert_add_tag(&a, "note", "a?b"), 0);
        check_str(alert_tag(&a, "note"), "a?b");

        /* One key, one value: repeats join, duplicates do not. */
        check_int(alert_add_tag(&a, "team", "a"), 0);
        check_int(alert_add_tag(&a, "team", "b"), 0);
        check_int(alert_add_tag(&a, "team", "a"), 0);
        check_int(alert_add_tag(&a, "team", "a, b"), 0);
        check_str(alert_tag(&a, "team"), "a, b");
        check_int(alert_add_tag(&a, "monitor", NULL), 0);
        check_str(alert_tag(&a, "monitor"), "");
        check_int(alert_add_tag(&a, "monitor", "m"), 0);
        check_str(alert_tag(&a, "monitor"), "m");
        check_int(a.n_tags, 4);
        alert_free(&a);

        check_int(alert_add_tag_list(&a, " env:prod,monitor, image:reg.example.com:5000/a:1.4 ,,"
                                         " :x, user:pat , role : web "), 0);
        check_int(a.n_tags, 4);
        check_str(a.tags[0].key, "env");
        check_str(a.tags[0].value, "prod");
        check_str(alert_tag(&a, "monitor"), "");
        check_str(alert_tag(&a, "image"), "reg.example.com:5000/a:1.4");
        check_str(alert_tag(&a, "role"), "web");
        check_str(alert_tag(&a, "user"), NULL);
        check_int(alert_add_tag_list(&a, NULL), 0);
        alert_free(&a);

        for (int i = 0; i < ALERT_TAGS_MAX + 5; i++) {
                char key[16];

                snprintf(key, sizeof(key), "k%d", i);
                check_int(alert_add_tag(&a, key, "v"), 0);
        }
        check_int(a.n_tags, ALERT_TAGS_MAX);
        alert_free(&a);
}

static void test_tag_values(void)
{
        Json *doc = parse("{\"list\":[\"a\",\"\",null,\"NA\",\"b\"],\"one\":\"c\",\"n\":5}");
        const JsonValue *root = json_root(doc);
        Alert a = { 0 };

        check_int(alert_add_tag_values(&a, "list", json_get(root, "list")), 0);
        check_int(alert_add_tag_values(&a, "one", json_get(root, "one")), 0);
        check_int(alert_add_tag_values(&a, "n", json_get(root, "n")), 0);
        check_str(alert_tag(&a, "list"), "a, b");
        check_str(alert_tag(&a, "one"), "c");
        check_str(alert_tag(&a, "n"), "5");
        check_str(alert_first_text(json_get(root, "list")), "a");
        check_str(alert_first_text(json_get(root, "one")), "c");
        check_str(alert_first_text(json_get(root, "missing")), NULL);
        alert_free(&a);
        json_free(doc);
}

static void test_opt_text(void)
{
        Json *doc = parse("{\"a\":\"NA\",\"b\":\"n/a\",\"c\":\"Not Available\",\"d\":\"\","
                          "\"e\":null,\"f\":\"  \",\"g\":\"0\",\"h\":0,\"i\":\"NAB\","
                          "\"j\":{\"k\":\"v\"},\"l\":[1]}");
        const JsonValue *root = json_root(doc);

        check_str(alert_opt_path(root, "a"), NULL);
        check_str(alert_opt_path(root, "b"), NULL);
        check_str(alert_opt_path(root, "c"), NULL);
        check_str(alert_opt_path(root, "d"), NULL);
        check_str(alert_opt_path(root, "e"), NULL);
        check_str(alert_opt_path(root, "f"), NULL);
        check_str(alert_opt_path(root, "missing"), NULL);
        check_str(alert_opt_path(root, "g"), "0");
        check_str(alert_opt_path(root, "h"), "0");
        check_str(alert_opt_path(root, "i"), "NAB");
        check_str(alert_opt_path(root, "j.k"), "v");
        check_str(alert_opt_path(root, "j"), NULL);
        check_str(alert_opt_path(root, "l"), NULL);
        check_str(alert_opt_text(NULL), NULL);
        json_free(doc);
}

static void test_times(void)
{
        Json *doc = parse("{\"s\":1718801437.412,\"ms\":1718801462000,\"str\":\"1718801462000\","
                          "\"strs\":\"1718801437\",\"iso\":\"2024-06-19T12:50:37.412000Z\","
                          "\"off\":\"2024-06-19T14:50:37.412+02:00\",\"neg\":\"2024-06-19T"
                          "07:50:37-0500\",\"big\":160513393115100000,\"old\":\"1969-12-31 "
                          "23:59:55\",\"bad\":\"yesterday\",\"t\":true,\"zero\":0}");
        const JsonValue *root = json_root(doc);

        check_int(alert_time_ms(json_get(root, "s")), INT64_C(1718801437412));
        check_int(alert_time_ms(json_get(root, "ms")), INT64_C(1718801462000));
        check_int(alert_time_ms(json_get(root, "str")), INT64_C(1718801462000));
        check_int(alert_time_ms(json_get(root, "strs")), INT64_C(1718801437000));
        check_int(alert_time_ms(json_get(root, "iso")), INT64_C(1718801437412));
        check_int(alert_time_ms(json_get(root, "off")), INT64_C(1718801437412));
        check_int(alert_time_ms(json_get(root, "neg")), INT64_C(1718801437000));
        check_int(alert_time_ms(json_get(root, "big")), 0);
        check_int(alert_time_ms(json_get(root, "old")), 0);
        check_int(alert_time_ms(json_get(root, "bad")), 0);
        check_int(alert_time_ms(json_get(root, "t")), 0);
        check_int(alert_time_ms(json_get(root, "zero")), 0);
        check_int(alert_time_ms(json_get(root, "missing")), 0);
        json_free(doc);

        check_int(alert_parse_time("2024-06-19T12:50:37+00:00"), INT64_C(1718801437000));
        check_int(alert_parse_time("2024-06-19 12:50:37"), INT64_C(1718801437000));
        check_int(alert_parse_time("2024-06-19T12:50Z"), INT64_C(1718801400000));
        check_int(alert_parse_time("2024-06-19, 12:51 UTC"), INT64_C(1718801460000));
        check_int(alert_parse_time("2024-06-19"), INT64_C(1718755200000));
        check_int(alert_parse_time("2024-06-19T12:50:37.4Z"), INT64_C(1718801437400));
        check_int(alert_parse_time("2024-13-19T12:50:37Z"), 0);
        check_int(alert_parse_time("2024-06-19T25:50:37Z"), 0);
        check_int(alert_parse_time("2024-06-19T12:50:37+25:00"), 0);
        check_int(alert_parse_time("2024-06-19T12:50:37Zjunk"), 0);
        check_int(alert_parse_time("99999999999999999999"), 0);
        check_int(alert_parse_time("nan"), 0);
        check_int(alert_parse_time(""), 0);
        check_int(alert_parse_time(NULL), 0);
}

static void test_titles(void)
{
        char long_title[300];
        Alert a = { 0 };

        /* 252 + 4 bytes is one too many: the emoji goes whole. */
        memset(long_title, 'a', 252);
        strcpy(long_title + 252, EMOJI);
        check_int(alert_set_title(&a, long_title, "fallback"), 0);
        check_int(strlen(a.title), 252);
        check(utf8_valid(a.title, strlen(a.title)));

        /* 251 + 4 = 255 fits exactly. */
        memset(long_title, 'a', 251);
        strcpy(long_title + 251, EMOJI "tail");
        check_int(alert_set_title(&a, long_title, NULL), 0);
        check_int(strlen(a.title), 255);
        check_str(a.title + 251, EMOJI);

        check_int(alert_set_title(&a, "  Disk\n\tfull \r\n on  db-1 ", NULL), 0);
        check_str(a.title, "Disk full on db-1");
        check_int(alert_set_title(&a, " \n ", "Sentry issue 4711001"), 0);
        check_str(a.title, "Sentry issue 4711001");
        check_int(alert_set_title(&a, NULL, NULL), 0);
        check_str(a.title, "Alert");
        check_int(alert_set_title(&a, "bad \xc3 byte", NULL), 0);
        check_str(a.title, "bad \xef\xbf\xbd byte");
        alert_free(&a);
}

static void test_emails(void)
{
        check(alert_has_email("a@b.co"));
        check(alert_has_email("mail jo.doe+x@sub.example.org."));
        check(alert_has_email("@jamie@example.com"));
        check(!alert_has_email("@webhook-issue-tracker @slack-ops"));
        check(!alert_has_email("x@192.0.2.1"));
        check(!alert_has_email("user@localhost"));
        check(!alert_has_email("checkout-api@2.14.0+9f2c1ab"));
        check(!alert_has_email("a@b.c"));
        check(!alert_has_email(NULL));
}

static void test_setup_test(void)
{
        static const struct {
                const char *json;
                bool test;
        } cases[] = {
                { "{\"test\":\"webhook\"}", true },
                { " { \"test\" : \"webhook\" } ", true },
                { "{\"test\":\"webhook\",\"action\":\"created\"}", true },
                { "{\"test\":\"webhooks\"}", false },
                { "{\"test\":\"Webhook\"}", false },
                { "{\"test\":true}", false },
                { "{\"Test\":\"webhook\"}", false },
                { "[\"test\",\"webhook\"]", false },
                { "\"webhook\"", false },
                { "{}", false },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Json *doc = parse(cases[i].json);

                if (alert_is_setup_test(json_root(doc)) != cases[i].test)
                        fprintf(stderr, "setup test: %s\n", cases[i].json);
                check(alert_is_setup_test(json_root(doc)) == cases[i].test);
                json_free(doc);
        }
        check(!alert_is_setup_test(NULL));
}

/* ---- Renderings. ---- */

static void fill(Alert *a)
{
        *a = (Alert) { .provider = PROVIDER_SENTRY, .severity = SEVERITY_CRITICAL,
                       .timestamp_ms = INT64_C(1718801437412) };
        check_int(alert_set(&a->external_id, "sentry:issue:1"), 0);
        check_int(alert_set(&a->title, "E: boom"), 0);
        check_int(alert_set(&a->message, "Boom"), 0);
        check_int(alert_set(&a->culprit, "app.x in f"), 0);
        check_int(alert_set(&a->stack_trace, "E: boom\n> at f (x.py:1)"), 0);
        check_int(alert_set(&a->environment, "prod"), 0);
        check_int(alert_set(&a->release, "1.0"), 0);
        check_int(alert_set(&a->fingerprint, "fp"), 0);
        check_int(alert_set(&a->link, "https://sentry.example.com/i/1/"), 0);
        check_int(alert_set(&a->context_json, "{\"platform\":\"python\"}"), 0);
        check_int(alert_add_tag(a, "env", "prod"), 0);
        check_int(alert_add_tag(a, "team", "a|b"), 0);
}

static void test_description_full(void)
{
        Alert a;
        char *d;

        fill(&a);
        d = alert_render_description(&a);
        check_str(d, "Boom\n"
                     "\n"
                     "**Culprit:** `app.x in f`\n"
                     "\n"
                     "**Stack trace:**\n"
                     "\n"
                     "```\n"
                     "E: boom\n"
                     "> at f (x.py:1)\n"
                     "```\n"
                     "\n"
                     "**Environment:** `prod`\n"
                     "\n"
                     "**Release:** `1.0`\n"
                     "\n"
                     "**Tags:**\n"
                     "\n"
                     "| Tag | Value |\n"
                     "| --- | --- |\n"
                     "| env | prod |\n"
                     "| team | a\\|b |\n"
                     "\n"
                     "[View in Sentry](https://sentry.example.com/i/1/)");
        free(d);
        alert_free(&a);
}

static void test_description_sections(void)
{
        Alert a = { .provider = PROVIDER_NEWRELIC };
        char *d;

        d = alert_render_description(&a);
        check_str(d, "");
        free(d);

        check_int(alert_set(&a.message, "Only this"), 0);
        d = alert_render_description(&a);
        check_str(d, "Only this");
        free(d);

        check_int(alert_set(&a.message, NULL), 0);
        check_int(alert_set(&a.release, "r`1"), 0);
        check_int(alert_set(&a.link, "https://x.example.com/a (b)<c>"), 0);
        check_int(alert_add_tag(&a, "k", "*bold* [x](javascript:y)"), 0);
        d = alert_render_description(&a);
        check_str(d, "**Release:** ``r`1``\n"
                     "\n"
                     "**Tags:**\n"
                     "\n"
                     "| Tag | Value |\n"
                     "| --- | --- |\n"
                     "| k | \\*bold\\* \\[x\\](javascript:y) |\n"
                     "\n"
                     "[View in New Relic](https://x.example.com/a%20%28b%29%3Cc%3E)");
        free(d);

        /* Only web links become links. */
        check_int(alert_set(&a.link, "javascript:alert(1)"), 0);
        check_int(alert_set(&a.culprit, "`tick` in\nf"), 0);
        d = alert_render_description(&a);
        check(!strstr(d, "View in"));
        check_contains(d, "**Culprit:** `` `tick` in f ``");
        free(d);
        alert_free(&a);
}

/* A fence inside the trace cannot close the block around it. */
static void test_description_fence(void)
{
        Alert a = { .provider = PROVIDER_SENTRY };
        char *d;

        check_int(alert_set(&a.stack_trace, "Error\n```\n**not bold**\n``````x"), 0);
        d = alert_render_description(&a);
        check_str(d, "**Stack trace:**\n"
                     "\n"
                     "```````\n"
                     "Error\n"
                     "```\n"
                     "**not bold**\n"
                     "``````x\n"
                     "```````");
        free(d);

        check_int(alert_set(&a.stack_trace, "no ticks\n"), 0);
        d = alert_render_description(&a);
        check_str(d, "**Stack trace:**\n\n```\nno ticks\n```");
        free(d);

        check_int(alert_set(&a.stack_trace, "a `b` c"), 0);
        d = alert_render_description(&a);
        check_str(d, "**Stack trace:**\n\n```\na `b` c\n```");
        free(d);
        alert_free(&a);
}

/* Past 64 KiB the trace is cut on a character boundary, with a note. */
static void test_description_bounded(void)
{
        size_t n = 70000;
        char *trace = malloc(n + 1), *d;
        Alert a = { .provider = PROVIDER_SENTRY };
        const char *open, *close;

        /* One ASCII byte, then two-byte characters: byte 65536 is the
         * middle of one. No line breaks, so the cut is not at one. */
        trace[0] = 'x';
        for (size_t i = 1; i + 1 < n; i += 2)
                memcpy(trace + i, "\xc3\xa9", 2);
        trace[n - 1] = '\0';
        check_int(alert_set(&a.stack_trace, trace), 0);
        d = alert_render_description(&a);

        check(utf8_valid(d, strlen(d)));
        open = strstr(d, "```\n");
        close = open ? strstr(open + 4, "\n```") : NULL;
        check(close != NULL);
        if (close)
                check_int(close - (open + 4), 65535);
        check_contains(d, "*(stack trace cut at 64 KiB)*");
        check(strlen(d) < 65536 + 100);
        free(d);

        /* A line break in the second half is where the cut goes. */
        memset(trace, 'y', n);
        trace[n] = '\0';
        trace[60000] = '\n';
        check_int(alert_set(&a.stack_trace, trace), 0);
        d = alert_render_description(&a);
        open = strstr(d, "```\n");
        close = open ? strstr(open + 4, "\n```") : NULL;
        check(close != NULL);
        if (close)
                check_int(close - (open + 4), 60000);
        free(d);
        free(trace);
        alert_free(&a);
}

static void test_error_trace(void)
{
        Alert a;
        char *t;

        fill(&a);
        a.provider = PROVIDER_DATADOG;
        t = alert_render_error_trace(&a, 4);
        check_str(t, "{\"service\":\"Datadog\",\"severity\":\"critical\","
                     "\"timestamp\":\"2024-06-19T12:50:37.412Z\",\"environment\":\"prod\","
                     "\"release\":\"1.0\",\"tags\":{\"env\":\"prod\",\"team\":\"a|b\"},"
                     "\"context\":{\"platform\":\"python\"},\"fingerprint\":\"fp\","
                     "\"stackTrace\":\"E: boom\\n> at f (x.py:1)\",\"occurrenceCount\":4,"
                     "\"link\":\"https://sentry.example.com/i/1/\","
                     "\"externalId\":\"sentry:issue:1\"}");
        free(t);
        alert_free(&a);

        /* Nothing known: no timestamp, empty objects. */
        a = (Alert) { .provider = PROVIDER_NEWRELIC, .severity = SEVERITY_LOW };
        t = alert_render_error_trace(&a, 1);
        check_str(t, "{\"service\":\"New Relic\",\"severity\":\"low\",\"tags\":{},"
                     "\"context\":{},\"occurrenceCount\":1}");
        free(t);

        /* A context that is not an object, and a personal tag put in by
         * hand, stay out. */
        check_int(alert_set(&a.context_json, "[1,2]"), 0);
        a.tags = calloc(1, sizeof(AlertTag));
        a.tags[0].key = strdup("user.email");
        a.tags[0].value = strdup("pat@example.com");
        a.n_tags = 1;
        a.timestamp_ms = 5;
        t = alert_render_error_trace(&a, 2);
        check_str(t, "{\"service\":\"New Relic\",\"severity\":\"low\",\"tags\":{},"
                     "\"context\":{},\"occurrenceCount\":2}");
        free(t);
        t = alert_render_description(&a);
        check_str(t, "");
        free(t);
        check_int(alert_set(&a.context_json, "{\"a\":"), 0);
        t = alert_render_error_trace(&a, 2);
        check_contains(t, "\"context\":{}");
        free(t);
        alert_free(&a);
}

static void test_map_done(void)
{
        Alert a = { .provider = PROVIDER_SENTRY }, ret;
        char reason[64] = "kept";

        check_int(alert_set(&a.title, "t"), 0);
        check_int(alert_map_done(&a, MAP_IGNORED, 0, &ret, reason, sizeof(reason)),
                  MAP_IGNORED);
        check_str(reason, "kept");
        check_str(a.title, NULL);
        check_str(ret.title, NULL);

        check_int(alert_map_done(&a, MAP_ALERT, -ENOMEM, &ret, reason, sizeof(reason)),
                  MAP_NO_MEMORY);
        check_str(reason, "out of memory while reading the webhook");

        check_int(alert_set(&a.external_id, "sentry:issue:1"), 0);
        check_int(alert_set(&a.title, "Login failed for pat@example.com"), 0);
        check_int(alert_set(&a.message, "pat@example.com and jo@example.org"), 0);
        check_int(alert_set(&a.actor, "pat@example.com"), 0);
        check_int(alert_set(&a.link, "https://x.example.com/u?who=pat@example.com"), 0);
        check_int(alert_set(&a.release, "app@1.2.3"), 0);
        check_int(alert_map_done(&a, MAP_ALERT, 0, &ret, reason, sizeof(reason)), MAP_ALERT);
        check_str(reason, "");
        check_str(a.external_id, NULL);
        check_str(ret.external_id, "sentry:issue:1");
        check_str(ret.title, "Login failed for [email]");
        check_str(ret.message, "[email] and [email]");
        check_str(ret.actor, NULL);
        check_str(ret.link, "https://x.example.com/u");
        check_str(ret.release, "app@1.2.3");
        alert_free(&ret);

        check_int(alert_set(&a.title, "t"), 0);
        check_int(alert_set(&a.external_id, "sentry:issue:short"), 0);
        check_int(alert_map_done(&a, MAP_ALERT, 0, &ret, reason, sizeof(reason)), MAP_ALERT);
        check_str(ret.external_id, "sentry:issue:short");
        alert_free(&ret);
}

/* A long id keeps its start and gets the hash of the whole. */
static void test_long_id(void)
{
        Alert a = { .provider = PROVIDER_DATADOG }, ret;
        char id[601], want[600], hex[65], reason[64];
        unsigned char digest[32];

        memset(id, 'x', 600);
        id[600] = '\0';
        check_int(auth_sha256(id, 600, digest), 0);
        text_hex(digest, sizeof(digest), hex);
        snprintf(want, sizeof(want), "%.446s:%s", id, hex);

        check_int(alert_set(&a.title, "t"), 0);
        check_int(alert_set(&a.external_id, id), 0);
        check_int(alert_map_done(&a, MAP_ALERT, 0, &ret, reason, sizeof(reason)), MAP_ALERT);
        check_str(ret.external_id, want);
        check_int(strlen(ret.external_id), 511);
        alert_free(&ret);
}

static void test_reasons(void)
{
        char reason[64];

        check_int(alert_map_reason(MAP_UNRECOGNISED, reason, sizeof(reason), "expected %s",
                                   "data.issue.id"), MAP_UNRECOGNISED);
        check_str(reason, "expected data.issue.id");
        check_int(alert_map_reason(MAP_TEST, NULL, 0, "x"), MAP_TEST);
}

int main(void)
{
        test_names();
        test_set_and_free();
        test_personal_tags();
        test_tags();
        test_tag_values();
        test_opt_text();
        test_times();
        test_titles();
        test_emails();
        test_setup_test();
        test_description_full();
        test_description_sections();
        test_description_fence();
        test_description_bounded();
        test_error_trace();
        test_map_done();
        test_long_id();
        test_reasons();
        return check_done();
}
