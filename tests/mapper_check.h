/* The harness the three mapper tests share (test_sentry.c,
 * test_datadog.c, test_newrelic.c): a recorded payload from
 * tests/data/<provider>/ mapped and checked field by field, and scanned
 * for the emails and IP addresses in its body, found independently of
 * the code under test. A test calls mapper_check_init first. */
#pragma once

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "check.h"
#include "json.h"

/* What one recorded payload must map to. */
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
} MapperSample;

/* The test's provider, its mapper and tests/data (argv[1]). */
static struct {
        const char *data_dir;
        Provider provider;
        MapFunc map;
} mapper_check_;

static inline void mapper_check_init(int argc, char **argv, Provider p,
                                     MapFunc map)
{
        mapper_check_.data_dir = argc > 1 ? argv[1] : "tests/data";
        mapper_check_.provider = p;
        mapper_check_.map = map;
}

/* tests/data/<provider>/NAME.EXT, or NULL (a failed check). */
static inline char *mapper_read_sample(const char *name, const char *ext,
                                       size_t *ret_len)
{
        char path[512];
        char *r;

        snprintf(path, sizeof(path), "%s/%s/%s.%s", mapper_check_.data_dir,
                 provider_name(mapper_check_.provider), name, ext);
        r = check_read_file(path, ret_len);
        if (!r)
                fprintf(stderr, "cannot read %s\n", path);
        check(r != NULL);
        return r;
}

/* The Sentry-Hook-Resource line of the .headers file, as http.c passes it. */
static inline char *mapper_resource_of(const char *name, char *buf,
                                       size_t size)
{
        char *headers = mapper_read_sample(name, "headers", NULL);
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

/* Parses body (a check) and maps it with the test's mapper. */
static inline MapResult mapper_map_text(const char *body, size_t len,
                                        const char *resource, Alert *a,
                                        char *reason, size_t size)
{
        JsonError e;
        Json *doc = NULL;
        MapInput in = { .resource = resource };
        MapResult r = MAP_UNRECOGNISED;

        check_int(json_parse(body, len, NULL, &doc, &e), 0);
        in.root = json_root(doc);
        if (doc)
                r = mapper_check_.map(&in, a, reason, size);
        json_free(doc);
        return r;
}

static inline bool mapper_local_char(char c)
{
        return isalnum((unsigned char) c) || (c && strchr("._%+-", c));
}

/* Emails (a domain ending in letters) and dotted-quad IPv4 addresses in
 * the raw body, found independently of the code under test. */
static inline size_t mapper_find_personal(const char *body, char found[][128],
                                          size_t max)
{
        size_t n = 0;

        for (const char *p = body; *p && n < max; p++) {
                const char *s = p, *e = p, *tld = NULL;
                unsigned dots = 0;

                if (*p == '@' && p > body && mapper_local_char(p[-1])) {
                        for (s = p; s > body && mapper_local_char(s[-1]); s--)
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

static inline void mapper_check_absent(const char *s, char found[][128],
                                       size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (strstr(s, found[i])) {
                        fprintf(stderr, "personal data \"%s\" in \"%.200s\"\n", found[i], s);
                        check(!strstr(s, found[i]));
                }
}

/* No email or IP address of the body in any field, tag or rendering of
 * a; the body has want of them. */
static inline void mapper_check_no_personal(const Alert *a, const char *body,
                                            int want)
{
        char found[16][128];
        size_t n = mapper_find_personal(body, found, 16);
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
                mapper_check_absent(fields[i], found, n);
        for (size_t i = 0; i < a->n_tags; i++) {
                mapper_check_absent(a->tags[i].key, found, n);
                mapper_check_absent(a->tags[i].value, found, n);
        }
        free(description);
        free(trace);
}

/* trace starts with want; want NULL: there is no trace. */
static inline void mapper_check_trace_start(const char *trace,
                                            const char *want)
{
        char got[4096];

        if (!want) {
                check_str(trace, NULL);
                return;
        }
        snprintf(got, sizeof(got), "%.*s", (int) strlen(want), trace ? trace : "");
        check_str(got, want);
}

/* Maps the recorded sample s->name and checks every field of s. Only
 * Sentry names the resource in a header (Sentry-Hook-Resource). */
static inline void mapper_check_sample(const MapperSample *s)
{
        char resource[64], reason[256] = "x";
        size_t len;
        char *body = mapper_read_sample(s->name, "json", &len);
        const char *res = NULL;
        Alert a;
        MapResult r;

        if (!body)
                return;
        fprintf(stderr, "-- %s\n", s->name);
        if (mapper_check_.provider == PROVIDER_SENTRY)
                res = mapper_resource_of(s->name, resource, sizeof(resource));
        r = mapper_map_text(body, len, res, &a, reason, sizeof(reason));
        check_int(r, s->result);
        check_str(reason, s->reason);
        if (r != MAP_ALERT) {
                check_str(a.external_id, NULL);
                check_int(a.n_tags, 0);
                free(body);
                return;
        }

        check_int(a.provider, mapper_check_.provider);
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
        mapper_check_trace_start(a.stack_trace, s->trace);
        mapper_check_no_personal(&a, body, s->personal);
        alert_free(&a);
        free(body);
}
