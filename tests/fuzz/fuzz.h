/* What the fuzz targets share: an assertion that stops the run (libFuzzer
 * keeps the input that made it fail), and the checks every mapped Alert
 * must pass however hostile the payload was. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "json.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant that failed is a finding: abort, so that libFuzzer saves
 * the input and the sanitizers print the stack. */
#define fuzz_assert(cond) do { \
        if (!(cond)) { \
                fprintf(stderr, "%s:%d: invariant failed: %s\n", \
                        __FILE__, __LINE__, #cond); \
                abort(); \
        } \
} while (0)

/* Epoch milliseconds of 2000-01-01 and of 10000-01-01 (alert_time_ms's
 * range). */
#define FUZZ_TIME_MIN INT64_C(946684800000)
#define FUZZ_TIME_END INT64_C(253402300800000)

static inline bool fuzz_utf8(const char *s)
{
        return !s || utf8_valid(s, strlen(s));
}

/* A reason is a terminated string, and valid UTF-8: what it quotes comes
 * from parsed JSON (valid UTF-8) and must be cut on a character. */
static inline void fuzz_check_reason(const char *reason, size_t size)
{
        fuzz_assert(memchr(reason, '\0', size) != NULL);
        fuzz_assert(fuzz_utf8(reason));
}

static inline void fuzz_check_tags(const Alert *a)
{
        fuzz_assert(a->n_tags <= ALERT_TAGS_MAX);
        fuzz_assert(a->n_tags == 0 || a->tags);

        for (size_t i = 0; i < a->n_tags; i++) {
                const AlertTag *t = &a->tags[i];

                fuzz_assert(t->key && t->value);
                fuzz_assert(fuzz_utf8(t->key) && fuzz_utf8(t->value));
                fuzz_assert(!alert_tag_is_personal(t->key, t->value));
                for (size_t j = 0; j < i; j++)
                        fuzz_assert(strcmp(a->tags[j].key, t->key) != 0);
        }
}

/* The free text alert_map_done scrubs of email addresses (DESIGN section
 * 7: nothing personal goes into an issue). */
static inline void fuzz_check_scrubbed(const Alert *a)
{
        const char *text[] = {
                a->kind, a->provider_project, a->message, a->culprit,
                a->environment, a->release, a->fingerprint, a->stack_trace,
                a->title, a->actor, a->link,
        };

        for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
                fuzz_assert(!text[i] || !alert_has_email(text[i]));
}

static inline void fuzz_check_strings(const Alert *a)
{
        const char *all[] = {
                a->kind, a->external_id, a->provider_project,
                a->occurrence_id, a->title, a->message, a->culprit,
                a->environment, a->release, a->fingerprint, a->stack_trace,
                a->link, a->actor, a->context_json,
        };

        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                fuzz_assert(fuzz_utf8(all[i]));
}

/* A JSON text that must parse into an object. */
static inline void fuzz_check_object_text(const char *text, bool nonempty)
{
        Json *doc = NULL;

        fuzz_assert(text);
        fuzz_assert(json_parse(text, strlen(text), NULL, &doc, NULL) == 0);
        fuzz_assert(json_type(json_root(doc)) == JSON_OBJECT);
        fuzz_assert(!nonempty || json_count(json_root(doc)) > 0);
        json_free(doc);
}

/* What the store and Stride rely on in a mapped Alert (alert.h), and
 * that it renders into an issue. */
static inline void fuzz_check_alert(const Alert *a, Provider p)
{
        char *text;

        fuzz_assert(a->provider == p);
        fuzz_assert(a->event >= ALERT_OPEN && a->event <= ALERT_RESOLVE);
        fuzz_assert(a->severity >= SEVERITY_LOW &&
                    a->severity <= SEVERITY_CRITICAL);
        fuzz_assert(!a->occurrence || a->event == ALERT_OPEN);
        fuzz_assert(a->external_id && a->external_id[0]);
        fuzz_assert(strlen(a->external_id) <= ALERT_ID_MAX);
        fuzz_assert(a->title && a->title[0]);
        fuzz_assert(strlen(a->title) <= ALERT_TITLE_MAX);
        fuzz_assert(!strpbrk(a->title, "\r\n"));
        fuzz_assert(a->timestamp_ms == 0 ||
                    (a->timestamp_ms >= FUZZ_TIME_MIN &&
                     a->timestamp_ms < FUZZ_TIME_END));
        fuzz_check_strings(a);
        fuzz_check_tags(a);
        fuzz_check_scrubbed(a);
        if (a->context_json)
                fuzz_check_object_text(a->context_json, true);

        text = alert_render_description(a);
        fuzz_assert(text && fuzz_utf8(text));
        free(text);

        text = alert_render_error_trace(a, 1);
        fuzz_check_object_text(text, true);
        free(text);
}

/* What a mapper leaves in *ret when it maps nothing. */
static inline void fuzz_check_empty(const Alert *a)
{
        fuzz_assert(!a->external_id && !a->title && !a->kind);
        fuzz_assert(!a->message && !a->stack_trace && !a->context_json);
        fuzz_assert(!a->tags && a->n_tags == 0);
}
