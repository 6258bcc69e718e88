/* Unit tests for src/json.c. argv[1] is tests/data, where the recorded
 * payloads are looked up (flat or in a folder per provider). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"

#define S(lit) lit, sizeof(lit) - 1
#define FFFD "\xef\xbf\xbd"

static const char *data_dir = "tests/data";

/* The recorded payload called name, or NULL (a failed check). */
static char *read_payload(const char *name, size_t *ret_len)
{
        return check_read_payload(data_dir, name, ret_len);
}

static Json *parse_ok(const char *buf, size_t len)
{
        JsonError e = { 0 };
        Json *doc = NULL;
        int r;

        r = json_parse(buf, len, NULL, &doc, &e);
        if (r < 0)
                fprintf(stderr, "parse failed: %s\n", e.message);
        check_int(r, 0);
        return doc;
}

/* Parses and expects failure: returns the error. */
static JsonError parse_fail(const char *buf, size_t len,
                            const JsonLimits *limits, int want)
{
        JsonError e = { 0 };
        Json *doc = (Json *) &e;

        check_int(json_parse(buf, len, limits, &doc, &e), want);
        check(doc == NULL);
        return e;
}

/* The single string of a document '"..."', or NULL. */
static char *string_of(const char *json, size_t len, size_t *ret_len)
{
        Json *doc = parse_ok(json, len);
        const char *s = json_string(json_root(doc), ret_len);
        char *r = s ? strndup(s, *ret_len) : NULL;

        json_free(doc);
        return r;
}

static void check_decoded(const char *json, size_t len, const char *want)
{
        size_t n = 0;
        char *s = string_of(json, len, &n);

        check_str(s, want);
        check_int(n, strlen(want));
        free(s);
}

static void check_path(const JsonValue *root, const char *path,
                       const char *want)
{
        check_str(json_text(json_path(root, path)), want);
}

static bool is_payload(const char *name)
{
        size_t n = strlen(name);

        return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* Every recorded payload in dir parses; returns how many there were. */
static int parse_all_in(const char *dir)
{
        char path[512];
        struct dirent *de;
        int count = 0;
        size_t len;
        DIR *d;

        d = opendir(dir);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                if (!is_payload(de->d_name))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                char *buf = check_read_file(path, &len);
                check(buf != NULL);
                if (!buf)
                        continue;
                Json *doc = parse_ok(buf, len);
                if (!doc)
                        fprintf(stderr, "in %s\n", path);
                check_int(json_type(json_root(doc)), JSON_OBJECT);
                json_free(doc);
                free(buf);
                count++;
        }
        closedir(d);
        return count;
}

static void test_all_payloads(void)
{
        static const char *const providers[] = { "sentry", "datadog",
                                                 "newrelic" };
        char dir[512];
        int n = 0;
        size_t i;

        n += parse_all_in(data_dir);
        for (i = 0; i < 3; i++) {
                snprintf(dir, sizeof(dir), "%s/%s", data_dir, providers[i]);
                n += parse_all_in(dir);
        }
        check(n >= 18);
}

static void test_known_paths(void)
{
        const JsonValue *root, *v;
        size_t len;
        int64_t n;
        double d;
        char *buf;
        Json *doc;

        buf = read_payload("sentry_issue_created.json", &len);
        doc = buf ? parse_ok(buf, len) : NULL;
        root = json_root(doc);
        check_path(root, "data.issue.id", "4711001");
        check_path(root, "data.issue.title",
                   "PaymentError: Zahlung fehlgeschlagen f\xc3\xbcr "
                   "Bestellung #A-1042 \xf0\x9f\x92\xa5");
        check_path(root, "action", "created");
        check(json_type(json_path(root, "data.issue.shareId")) == JSON_NULL);
        check(json_path(root, "data.issue.shareId") != NULL);
        check(json_path(root, "data.issue.nope") == NULL);
        check(json_path(root, "data.issue.id.deeper") == NULL);
        json_free(doc);
        free(buf);

        buf = read_payload("datadog_default_triggered.json", &len);
        doc = buf ? parse_ok(buf, len) : NULL;
        root = json_root(doc);
        check_path(root, "id", "7701234567890123456");
        check_int(json_int64(json_get(root, "id"), &n), 0);
        check(n == INT64_C(7701234567890123456));
        json_free(doc);
        free(buf);

        buf = read_payload("sentry_metric_alert_critical.json", &len);
        doc = buf ? parse_ok(buf, len) : NULL;
        root = json_root(doc);
        v = json_path(root, "data.metric_alert.alert_rule.triggers.0."
                            "alert_threshold");
        check_int(json_type(v), JSON_NUMBER);
        check_str(json_text(v), "100.0");
        check_int(json_double(v, &d), 0);
        check(d == 100.0);
        check_int(json_int64(v, &n), 0);
        check_int(n, 100);
        json_free(doc);
        free(buf);

        buf = read_payload("newrelic_legacy_channel_open.json", &len);
        doc = buf ? parse_ok(buf, len) : NULL;
        root = json_root(doc);
        check_path(root, "targets.0.labels.team", "payments");
        check_path(root, "timestamp", "1718801461807");
        check_int(json_int64(json_get(root, "incident_id"), &n), 0);
        check_int(n, 98765432);
        json_free(doc);
        free(buf);
}

static void nested(char *buf, size_t depth)
{
        memset(buf, '[', depth);
        memset(buf + depth, ']', depth);
}

static void test_depth(void)
{
        const JsonLimits three = { .max_depth = 3 };
        size_t big = 1024 * 1024;
        char *buf = malloc(big);
        JsonError e;
        Json *doc;

        nested(buf, 64);
        doc = parse_ok(buf, 128);
        check_int(json_count(json_root(doc)), 1);
        json_free(doc);

        nested(buf, 65);
        e = parse_fail(buf, 130, NULL, -E2BIG);
        check_int(e.kind, JSON_ERROR_TOO_DEEP);
        check_int(e.offset, 65);
        check_str(e.message, "JSON nested deeper than 64 levels at byte 65");

        json_free(parse_ok(S("{\"a\":{\"b\":[]}}")));
        check_int(json_parse(S("{\"a\":{\"b\":[]}}"), &three, &doc, &e), 0);
        json_free(doc);
        e = parse_fail(S("{\"a\":{\"b\":[{}]}}"), &three, -E2BIG);
        check_int(e.kind, JSON_ERROR_TOO_DEEP);
        check_int(e.offset, 12);

        /* A megabyte of '[' stops at the limit. */
        memset(buf, '[', big);
        e = parse_fail(buf, big, NULL, -E2BIG);
        check_int(e.kind, JSON_ERROR_TOO_DEEP);
        check_int(e.offset, 65);
        free(buf);
}

/* Parsing, writing and freeing a tree far deeper than any stack of
 * recursive calls would survive. */
static void test_no_recursion(void)
{
        const size_t depth = 300000;
        const JsonLimits loose = { .max_depth = depth, .max_values = depth };
        char *buf = malloc(2 * depth + 1), *out;
        JsonWriter *w;
        Json *doc = NULL;
        JsonError e;
        size_t len = 0;

        nested(buf, depth);
        buf[2 * depth] = '\0';
        check_int(json_parse(buf, 2 * depth, &loose, &doc, &e), 0);

        w = json_writer_new();
        json_write_value(w, json_root(doc));
        out = json_writer_finish(w, &len);
        check_int(len, 2 * depth);
        check(out && strcmp(out, buf) == 0);

        free(out);
        json_free(doc);
        free(buf);
}

static void test_max_values(void)
{
        const JsonLimits five = { .max_values = 5 };
        JsonError e;
        Json *doc;

        check_int(json_parse(S("[1,2,3,4]"), &five, &doc, &e), 0);
        json_free(doc);
        /* Keys are not values. */
        check_int(json_parse(S("{\"a\":1,\"b\":{\"c\":null},\"d\":[]}"),
                             &five, &doc, &e), 0);
        json_free(doc);

        e = parse_fail(S("[1,2,3,4,5]"), &five, -E2BIG);
        check_int(e.kind, JSON_ERROR_TOO_MANY_VALUES);
        check_int(e.offset, 10);
        check_str(e.message, "JSON has more than 5 values at byte 10");

        e = parse_fail(S("[[],[],[],[],[]]"), &five, -E2BIG);
        check_int(e.kind, JSON_ERROR_TOO_MANY_VALUES);
}

static void check_syntax(const char *buf, size_t len, size_t offset,
                         const char *message)
{
        JsonError e = parse_fail(buf, len, NULL, -EINVAL);

        check_int(e.kind, JSON_ERROR_SYNTAX);
        check_int(e.offset, offset);
        check_str(e.message, message);
}

static void test_syntax(void)
{
        JsonError e;

        check_syntax(S(""), 0, "invalid JSON at byte 0: parse error: "
                     "premature EOF");
        check_syntax(S(" \n\t "), 4, "invalid JSON at byte 4: parse error: "
                     "premature EOF");
        check_syntax(S("{\"a\":1,}"), 8, "invalid JSON at byte 8: parse "
                     "error: invalid object key (must be a string)");
        check_syntax(S("[1,2"), 4, "invalid JSON at byte 4: parse error: "
                     "premature EOF");
        check_syntax(S("{\"a\" 1}"), 6, "invalid JSON at byte 6: parse "
                     "error: object key and value must be separated by a "
                     "colon (':')");
        check_syntax(S("nul"), 3, "invalid JSON at byte 3: lexical error: "
                     "invalid string in json text.");

        /* Trailing garbage. */
        check_syntax(S("[1] x"), 5, "invalid JSON at byte 5: parse error: "
                     "trailing garbage");
        check_syntax(S("{}{}"), 3, "invalid JSON at byte 3: parse error: "
                     "trailing garbage");
        check_syntax(S("1 2"), 3, "invalid JSON at byte 3: parse error: "
                     "trailing garbage");
        json_free(parse_ok(S(" [1]\r\n\n ")));

        /* Any type may stand alone. */
        json_free(parse_ok(S("17")));
        json_free(parse_ok(S("\"s\"")));
        json_free(parse_ok(S("null")));

        /* A raw control character or NUL in a string is not JSON. */
        e = parse_fail(S("\"a\nb\""), NULL, -EINVAL);
        check_int(e.offset, 2);
        e = parse_fail(S("\"a\0b\""), NULL, -EINVAL);
        check_int(e.kind, JSON_ERROR_SYNTAX);

        /* The message names a place, never the text around it. */
        e = parse_fail(S("{\"password\":\"hunter2\" x}"), NULL, -EINVAL);
        check(strstr(e.message, "hunter2") == NULL);
        check_contains(e.message, "invalid JSON at byte 23: ");
}

static void test_escapes(void)
{
        check_decoded(S("\"caf\\u00e9\""), "caf\xc3\xa9");
        check_decoded(S("\"\\ud83d\\udca5\""), "\xf0\x9f\x92\xa5");
        check_decoded(S("\"\\uD83D\\uDCA5\""), "\xf0\x9f\x92\xa5");
        check_decoded(S("\"\\u001B\\u001b\""), "\x1b\x1b");
        check_decoded(S("\"a\\u0000b\""), "a" FFFD "b");
        check_decoded(S("\"\\ud83d\""), FFFD);
        check_decoded(S("\"\\ud83dx\""), FFFD "x");
        check_decoded(S("\"\\ud83d\\n\""), FFFD "\n");
        check_decoded(S("\"\\udca5\""), FFFD);
        check_decoded(S("\"\\ud83d\\u0041\""), FFFD "A");
        check_decoded(S("\"\\ud83d\\ud83d\\udca5\""),
                      FFFD "\xf0\x9f\x92\xa5");
        check_decoded(S("\"\\udca5\\ud83d\""), FFFD FFFD);
        /* An escaped backslash is not the start of an escape. */
        check_decoded(S("\"\\\\u0000\""), "\\u0000");
        check_decoded(S("\"\\\"\\u0000\""), "\"" FFFD);
        check_decoded(S("\"\\/\\b\\f\\r\\t\""), "/\b\f\r\t");

        /* Keys get the same treatment. */
        Json *doc = parse_ok(S("{\"k\\u0000\":1,\"\\udc00\":2}"));
        const JsonValue *m = json_first(json_root(doc));
        check_str(json_key(m), "k" FFFD);
        check_str(json_key(json_next(m)), FFFD);
        check_str(json_text(json_get(json_root(doc), FFFD)), "2");
        json_free(doc);

        /* Escapes outside strings are not rewritten: still errors. */
        parse_fail(S("[\\u0000]"), NULL, -EINVAL);
        parse_fail(S("\"\\u00\""), NULL, -EINVAL);
        parse_fail(S("\"\\UD83D\""), NULL, -EINVAL);
}

static void test_raw_utf8(void)
{
        check_decoded(S("\"a\xff" "b\""), "a" FFFD "b");
        check_decoded(S("\"\xed\xa0\x80\""), FFFD FFFD FFFD);
        check_decoded(S("\"\xc0\xaf\""), FFFD FFFD);
        check_decoded(S("\"\xe2\x82\""), FFFD);
        check_decoded(S("\"\xc2\xb7 \xe2\x86\x92\""), "\xc2\xb7 \xe2\x86\x92");

        Json *doc = parse_ok(S("{\"k\xff\":\"v\"}"));
        check_str(json_key(json_first(json_root(doc))), "k" FFFD);
        json_free(doc);
}

static void check_int64(const char *json, size_t len, int want_r,
                        int64_t want)
{
        Json *doc = parse_ok(json, len);
        int64_t n = -12345;

        check_int(json_int64(json_root(doc), &n), want_r);
        if (want_r == 0)
                check(n == want);
        else
                check(n == -12345);
        json_free(doc);
}

static void test_numbers(void)
{
        const JsonValue *v;
        double d;
        Json *doc;

        doc = parse_ok(S("[12345678901234567890123,-0.000001e-7,1E+2]"));
        check_str(json_text(json_at(json_root(doc), 0)),
                  "12345678901234567890123");
        check_str(json_text(json_at(json_root(doc), 1)), "-0.000001e-7");
        check_str(json_text(json_at(json_root(doc), 2)), "1E+2");
        json_free(doc);

        check_int64(S("12"), 0, 12);
        check_int64(S("-3"), 0, -3);
        check_int64(S("\"12\""), 0, 12);
        check_int64(S("\"-3\""), 0, -3);
        check_int64(S("9223372036854775807"), 0, INT64_MAX);
        check_int64(S("-9223372036854775808"), 0, INT64_MIN);
        check_int64(S("\"8306082202796025694\""), 0,
                    INT64_C(8306082202796025694));
        check_int64(S("9223372036854775808"), -ERANGE, 0);
        check_int64(S("-9223372036854775809"), -ERANGE, 0);
        check_int64(S("\"99999999999999999999\""), -ERANGE, 0);
        check_int64(S("1e300"), -ERANGE, 0);
        check_int64(S("1.5"), -EINVAL, 0);
        check_int64(S("\"1.5\""), -EINVAL, 0);
        check_int64(S("1e3"), 0, 1000);
        check_int64(S("\"\""), -EINVAL, 0);
        check_int64(S("\"12abc\""), -EINVAL, 0);
        check_int64(S("\" 12\""), -EINVAL, 0);
        check_int64(S("\"-\""), -EINVAL, 0);
        check_int64(S("\"1.\""), -EINVAL, 0);
        check_int64(S("true"), -EINVAL, 0);
        check_int64(S("null"), -EINVAL, 0);
        check_int64(S("[1]"), -EINVAL, 0);

        doc = parse_ok(S("[2.5,\"-0.25\",\"x\",1e999,true]"));
        v = json_root(doc);
        check_int(json_double(json_at(v, 0), &d), 0);
        check(d == 2.5);
        check_int(json_double(json_at(v, 1), &d), 0);
        check(d == -0.25);
        check_int(json_double(json_at(v, 2), &d), -EINVAL);
        check_int(json_double(json_at(v, 3), &d), -ERANGE);
        check_int(json_double(json_at(v, 4), &d), -EINVAL);
        check_int(json_double(NULL, &d), -EINVAL);
        json_free(doc);
}

static void test_access(void)
{
        const JsonValue *root, *m, *a;
        Json *doc;

        doc = parse_ok(S("{\"b\":1,\"a\":[10,{\"x\":\"y\"},[]],\"b\":2,"
                         "\"e\":\"\",\"n\":null,\"t\":true,\"f\":false,"
                         "\"s\":\"1\",\"0\":\"zero\"}"));
        root = json_root(doc);

        check_int(json_type(root), JSON_OBJECT);
        check_int(json_count(root), 9);
        check_str(json_text(json_get(root, "b")), "1");
        m = json_first(root);
        check_str(json_key(m), "b");
        m = json_next(m);
        check_str(json_key(m), "a");
        check_str(json_key(json_next(json_next(m))), "e");
        check_str(json_key(json_at(root, 8)), "0");
        check(json_at(root, 9) == NULL);
        check(json_get(root, "missing") == NULL);
        check(json_get(json_get(root, "a"), "x") == NULL);

        a = json_get(root, "a");
        check_int(json_type(a), JSON_ARRAY);
        check_int(json_count(a), 3);
        check(json_key(json_at(a, 0)) == NULL);
        check_str(json_text(json_at(a, 0)), "10");
        check(json_at(a, 3) == NULL);
        check_str(json_text(json_path(root, "a.1.x")), "y");
        check_int(json_count(json_path(root, "a.2")), 0);
        check(json_path(root, "a.3") == NULL);
        check(json_path(root, "a.x") == NULL);
        check(json_path(root, "a.-1") == NULL);
        check(json_path(root, "a.99999999999999999999999") == NULL);
        check_str(json_text(json_path(root, "0")), "zero");

        check(json_text(json_get(root, "e")) == NULL);
        check(json_text(json_get(root, "n")) == NULL);
        check(json_text(a) == NULL);
        check(json_text(root) == NULL);
        check_str(json_text(json_get(root, "t")), "true");
        check_str(json_text(json_get(root, "f")), "false");
        check(json_string(json_at(a, 0), NULL) == NULL);

        check(json_bool(json_get(root, "t")));
        check(!json_bool(json_get(root, "f")));
        check(json_bool(json_get(root, "s")));
        check(!json_bool(json_get(root, "e")));
        check(!json_bool(json_get(root, "n")));
        check(!json_bool(json_at(a, 0)));
        check(!json_bool(NULL));
        json_free(doc);

        doc = parse_ok(S("[1,\"true\",false]"));
        check(json_bool(json_at(json_root(doc), 0)));
        check(json_bool(json_at(json_root(doc), 1)));
        json_free(doc);

        check_int(json_type(NULL), JSON_NULL);
        check(json_root(NULL) == NULL);
        check(json_get(NULL, "a") == NULL);
        check_int(json_count(NULL), 0);
        json_free(NULL);
}

static char *write_tree(const JsonValue *v, size_t *ret_len)
{
        JsonWriter *w = json_writer_new();

        json_write_value(w, v);
        return json_writer_finish(w, ret_len);
}

static void test_round_trip(void)
{
        static const char *const paths[] = {
                "data.event.event_id", "data.event.title",
                "data.event.metadata.value", "data.event.received",
                "data.event.timestamp", "data.event.fingerprint.0",
                "data.event.project", "data.event.dist",
        };
        char *buf, *once, *twice;
        size_t len, n1 = 0, n2 = 0, i;
        Json *a, *b;

        buf = read_payload("sentry_event_alert_triggered.json", &len);
        a = buf ? parse_ok(buf, len) : NULL;
        once = write_tree(json_root(a), &n1);
        check(once != NULL);
        b = once ? parse_ok(once, n1) : NULL;
        twice = write_tree(json_root(b), &n2);
        check_str(twice, once);
        check_int(n2, n1);

        for (i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
                check_str(json_text(json_path(json_root(b), paths[i])),
                          json_text(json_path(json_root(a), paths[i])));
                check_int(json_type(json_path(json_root(b), paths[i])),
                          json_type(json_path(json_root(a), paths[i])));
        }
        check_str(json_text(json_path(json_root(b), "data.event.title")),
                  "PaymentError: Zahlung fehlgeschlagen f\xc3\xbcr "
                  "Bestellung #A-1042 \xf0\x9f\x92\xa5");
        check_int(json_count(json_root(b)), json_count(json_root(a)));

        /* A member written alone loses its key. */
        free(twice);
        twice = write_tree(json_path(json_root(a), "data.event.sdk"), &n2);
        check_str(twice, "{\"integrations\":[\"django\",\"logging\","
                  "\"stdlib\",\"threading\"],\"name\":"
                  "\"sentry.python.django\",\"packages\":[{\"name\":"
                  "\"pypi:sentry-sdk\",\"version\":\"2.5.1\"}],"
                  "\"version\":\"2.5.1\"}");

        free(twice);
        free(once);
        json_free(b);
        json_free(a);
        free(buf);
}

static void test_writer(void)
{
        JsonWriter *w = json_writer_new();
        Json *doc;
        size_t len = 0;
        char *s;

        json_write_object_open(w);
        json_write_key(w, "s");
        json_write_string(w, "q\"b\\s/n\nt\tc\x01\x1f\x7f\xc3\xa9\xff!");
        json_write_key(w, "n");
        json_write_stringn(w, "a\0b", 3);
        json_write_key(w, "list");
        json_write_array_open(w);
        json_write_int(w, INT64_MIN);
        json_write_int(w, 0);
        json_write_bool(w, true);
        json_write_bool(w, false);
        json_write_null(w);
        json_write_string(w, NULL);
        json_write_raw(w, "{\"raw\":[1,2]}");
        json_write_array_open(w);
        json_write_array_close(w);
        json_write_object_open(w);
        json_write_object_close(w);
        json_write_array_close(w);
        json_write_key(w, "k\n\xff");
        json_write_raw(w, NULL);
        json_write_object_close(w);
        s = json_writer_finish(w, &len);
        check_str(s, "{\"s\":\"q\\\"b\\\\s/n\\nt\\tc\\u0001\\u001f\x7f"
                  "\xc3\xa9" FFFD "!\",\"n\":\"a\\u0000b\",\"list\":"
                  "[-9223372036854775808,0,true,false,null,null,"
                  "{\"raw\":[1,2]},[],{}],\"k\\n" FFFD "\":null}");
        check_int(len, s ? strlen(s) : 0);

        /* What the writer escapes, the parser reads back. */
        doc = s ? parse_ok(s, len) : NULL;
        check_str(json_text(json_get(json_root(doc), "s")),
                  "q\"b\\s/n\nt\tc\x01\x1f\x7f\xc3\xa9" FFFD "!");
        check_str(json_text(json_get(json_root(doc), "n")), "a" FFFD "b");
        json_free(doc);
        free(s);

        w = json_writer_new();
        json_write_string(w, "\b\f\r");
        s = json_writer_finish(w, NULL);
        check_str(s, "\"\\b\\f\\r\"");
        free(s);
}

static void test_writer_errors(void)
{
        JsonWriter *w;

        check(json_writer_finish(json_writer_new(), NULL) == NULL);

        w = json_writer_new();
        json_write_object_open(w);
        json_write_int(w, 1);            /* a value without a key */
        json_write_object_close(w);
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_array_open(w);
        json_write_key(w, "k");          /* a key in an array */
        json_write_array_close(w);
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_array_open(w);
        json_write_object_close(w);      /* mismatched close */
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_object_open(w);
        json_write_key(w, "k");
        json_write_object_close(w);      /* key without a value */
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_array_open(w);        /* never closed */
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_int(w, 1);
        json_write_int(w, 2);            /* two top-level values */
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_array_close(w);       /* sticky: later writes are fine */
        json_write_array_open(w);
        json_write_array_close(w);
        check(json_writer_finish(w, NULL) == NULL);

        w = json_writer_new();
        json_write_raw(w, "");
        check(json_writer_finish(w, NULL) == NULL);

        json_write_int(NULL, 1);
        json_write_value(NULL, NULL);
        json_writer_free(NULL);
        check(json_writer_finish(NULL, NULL) == NULL);
}

int main(int argc, char **argv)
{
        if (argc > 1)
                data_dir = argv[1];

        test_all_payloads();
        test_known_paths();
        test_depth();
        test_no_recursion();
        test_max_values();
        test_syntax();
        test_escapes();
        test_raw_utf8();
        test_numbers();
        test_access();
        test_round_trip();
        test_writer();
        test_writer_errors();
        return check_done();
}
