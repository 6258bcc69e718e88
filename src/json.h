/* JSON in and out. Parsing goes through yajl's callback API into a tree
 * of our own, bounded in depth and number of values, built without
 * recursion; strings keep their lengths and are valid UTF-8 without NUL
 * bytes (\u0000 and lone surrogates become U+FFFD). Writing is a small
 * writer of our own (yajl_gen cannot embed raw JSON). Only json.c
 * includes yajl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Writer: builds compact JSON text. Errors (a value where none may go, a
 * close that does not match, ENOMEM) are sticky and reported by
 * json_writer_finish; every function accepts w == NULL as failed. Strings
 * must be UTF-8; invalid bytes become U+FFFD. */
typedef struct JsonWriter JsonWriter;
JsonWriter *json_writer_new(void);
void json_writer_free(JsonWriter *w);
void json_write_object_open(JsonWriter *w);
void json_write_object_close(JsonWriter *w);
void json_write_array_open(JsonWriter *w);
void json_write_array_close(JsonWriter *w);
void json_write_key(JsonWriter *w, const char *key);
void json_write_string(JsonWriter *w, const char *s);      /* NULL writes null */
void json_write_stringn(JsonWriter *w, const char *s, size_t len);
void json_write_int(JsonWriter *w, int64_t n);
void json_write_bool(JsonWriter *w, bool b);
void json_write_null(JsonWriter *w);
/* Copies a parsed value (any type, recursively without recursion limit
 * issues: the tree is already bounded). */
void json_write_value(JsonWriter *w, const JsonValue *v);
/* Embeds text that is already JSON (e.g. from another writer), unchecked;
 * NULL writes null, "" is an error. */
void json_write_raw(JsonWriter *w, const char *json);
/* Returns the malloc'd text and its length, and frees the writer; NULL on
 * error. */
char *json_writer_finish(JsonWriter *w, size_t *ret_len);
