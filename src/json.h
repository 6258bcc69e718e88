/* JSON in and out. Parsing goes through yajl's callback API into a tree
 * of our own, bounded in depth and number of values, built without
 * recursion; strings keep their lengths and are valid UTF-8 without NUL
 * bytes (\u0000 and lone surrogates become U+FFFD). Writing is in
 * json_writer.h, included here for the callers that do both. Only json.c
 * includes yajl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_writer.h"

typedef enum {
        JSON_NULL,
        JSON_BOOL,
        JSON_NUMBER,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
} JsonType;

typedef struct Json Json;           /* a parsed document; owns every value */
typedef struct JsonValue JsonValue;

typedef struct {
        size_t max_depth;   /* nesting of arrays and objects; 0: 64 */
        size_t max_values;  /* scalars, arrays and objects together; 0: 200000 */
} JsonLimits;

typedef enum {
        JSON_ERROR_SYNTAX,
        JSON_ERROR_TOO_DEEP,
        JSON_ERROR_TOO_MANY_VALUES,
        JSON_ERROR_NO_MEMORY,
} JsonErrorKind;

typedef struct {
        JsonErrorKind kind;
        size_t offset;       /* byte offset into the input where it failed */
        char message[160];   /* for the client and the log; never quotes input */
} JsonError;

/* Parses exactly one JSON text (whitespace around it allowed). Returns 0
 * and *ret, or a negative errno (-EINVAL syntax, -E2BIG limits, -ENOMEM)
 * with *ret_error filled. */
int json_parse(const char *buf, size_t len, const JsonLimits *limits,
               Json **ret, JsonError *ret_error);
void json_free(Json *doc);
const JsonValue *json_root(const Json *doc);

JsonType json_type(const JsonValue *v);  /* JSON_NULL for v == NULL */

/* Member of an object by key (first match); NULL if v is not an object
 * or has no such key. */
const JsonValue *json_get(const JsonValue *v, const char *key);
/* Walks members by a dotted path: "data.issue.id". Array elements by
 * decimal index: "exception.values.0". */
const JsonValue *json_path(const JsonValue *v, const char *path);

/* Children of an array or object, in document order. */
size_t json_count(const JsonValue *v);
const JsonValue *json_first(const JsonValue *v);
const JsonValue *json_next(const JsonValue *v);
const JsonValue *json_at(const JsonValue *v, size_t index);
/* The array or object that holds v, NULL for the root. */
const JsonValue *json_parent(const JsonValue *v);
/* The key of an object member (as returned by json_first/json_next on an
 * object), else NULL. */
const char *json_key(const JsonValue *member);

/* The text of a string, NULL for any other type. */
const char *json_string(const JsonValue *v, size_t *ret_len);
/* The text of a string, or the literal of a number ("8306082202796025694"
 * stays exact), or "true"/"false"; NULL for null, arrays, objects and the
 * empty string. */
const char *json_text(const JsonValue *v);
/* A number, or a string holding one. Returns 0, or -EINVAL / -ERANGE. */
int json_int64(const JsonValue *v, int64_t *ret);
int json_double(const JsonValue *v, double *ret);
/* true, "true", 1 and "1" are true. */
bool json_bool(const JsonValue *v);
