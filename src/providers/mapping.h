/* The helpers the three mappers share: optional fields, times, titles,
 * tags from lists and arrays, errorTrace.context, and a mapper's last
 * step. They keep the alert_ prefix because each reads a payload for an
 * Alert or writes into one. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "json.h"

/* alert_set, alert_setf, alert_add_tag*, alert_set_title and
 * alert_set_context return only 0 or -ENOMEM, so a mapper may OR a run of
 * them into one result. */

/* The text of an optional field (json_text): NULL for null, missing, ""
 * and the placeholders "NA", "N/A", "Not Available". */
const char *alert_opt_text(const JsonValue *v);
/* The same for json_path(root, path). */
const char *alert_opt_path(const JsonValue *root, const char *path);
/* The first element's text of an array, or the text of a scalar. */
const char *alert_first_text(const JsonValue *v);

/* A provider's time as epoch milliseconds: numbers or numeric strings in
 * seconds (fractions allowed) or milliseconds (>= 1e12), or ISO 8601 text
 * with Z, +hh:mm or no zone (UTC) and an optional fraction. 0 when
 * missing, unparsable, or outside the years 2000 to 9999. */
int64_t alert_time_ms(const JsonValue *v);
int64_t alert_parse_time(const char *s);

/* Sets a->title to s made one line, trimmed and cut at ALERT_TITLE_MAX
 * bytes on a character boundary; when s has no text, to fallback. */
int alert_set_title(Alert *a, const char *s, const char *fallback);

/* Adds tags from one comma-separated string ("env:prod, monitor,
 * image:reg:5000/app"): split on ',', trimmed, key and value split at the
 * first ':', a tag without one keeps an empty value. */
int alert_add_tag_list(Alert *a, const char *list);
/* Adds each element of an array (or a scalar) as a tag named key. */
int alert_add_tag_values(Alert *a, const char *key, const JsonValue *v);

/* errorTrace.context: writes "key":value when value is not NULL and is
 * not personal. */
void alert_context_string(JsonWriter *w, const char *key, const char *value);
/* Finishes w (an object) into a->context_json; "{}" leaves it NULL.
 * Returns 0 or -ENOMEM. */
int alert_set_context(Alert *a, JsonWriter *w);

/* A mapper's last step. On MAP_ALERT (a has its external id and title)
 * redacts email addresses from the free text, drops an actor that is an
 * email address, shortens an external id longer than ALERT_ID_MAX (its
 * start, ':' and the SHA-256 hex of the whole), and moves *a into *ret,
 * or answers MAP_NO_MEMORY when that fails; for any other r, or
 * r_errno < 0 (MAP_NO_MEMORY), frees *a and leaves *ret empty. */
MapResult alert_map_done(Alert *a, MapResult r, int r_errno, Alert *ret,
                         char *reason, size_t reason_size);
/* Writes a printf-style reason (when reason_size > 0) and returns r. */
MapResult alert_map_reason(MapResult r, char *reason, size_t reason_size,
                           const char *format, ...)
        __attribute__((format(printf, 4, 5)));
