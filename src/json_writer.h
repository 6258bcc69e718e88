/* A writer of compact JSON text. It is our own rather than yajl_gen,
 * which cannot embed raw JSON, and needs no library. Errors (a value
 * where none may go, a close that does not match, ENOMEM) are sticky and
 * reported by json_writer_finish; every function accepts w == NULL as
 * failed. Strings must be UTF-8; invalid bytes become U+FFFD. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct JsonValue JsonValue;     /* a parsed value, see json.h */
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
