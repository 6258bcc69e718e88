/* The JSON writer: text grows in one buffer, and a stack of levels
 * tracks commas, keys and the one-top-level-value rule. It copies a
 * parsed tree through json.h's accessors, walking it by parent links so
 * that nothing here recurses. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_writer.h"
#include "text.h"

typedef struct {
        bool object;
        bool has_key;           /* an object's key is waiting for its value */
        size_t count;
} JsonLevel;

struct JsonWriter {
        char *buf;
        size_t len;
        size_t size;
        JsonLevel *levels;
        size_t depth;
        size_t levels_size;
        bool done;              /* the top-level value has begun */
        bool failed;
};

JsonWriter *json_writer_new(void)
{
        return calloc(1, sizeof(JsonWriter));
}

void json_writer_free(JsonWriter *w)
{
        if (!w)
                return;
        free(w->buf);
        free(w->levels);
        free(w);
}

static void put(JsonWriter *w, const char *s, size_t n)
{
        size_t size;
        char *b;

        if (w->failed)
                return;
        if (w->size - w->len <= n) {
                size = w->size ? w->size : 256;
                while (size - w->len <= n) {
                        if (size > SIZE_MAX / 2) {
                                w->failed = true;
                                return;
                        }
                        size *= 2;
                }
                b = realloc(w->buf, size);
                if (!b) {
                        w->failed = true;
                        return;
                }
                w->buf = b;
                w->size = size;
        }
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
}

/* Escapes as RFC 8259 section 7 requires, with short forms where JSON
 * has them; everything else stays raw UTF-8, '/' included. */
static void put_string(JsonWriter *w, const char *s, size_t len)
{
        static const char digits[] = "0123456789abcdef";
        size_t i = 0, run, n;
        char esc[6];
        bool valid;
        unsigned char c;

        put(w, "\"", 1);
        while (i < len) {
                for (run = i; run < len; run++) {
                        c = (unsigned char) s[run];
                        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                                break;
                }
                put(w, s + i, run - i);
                i = run;
                if (i == len)
                        break;

                c = (unsigned char) s[i];
                if (c >= 0x80) {
                        n = utf8_unit(s + i, len - i, &valid);
                        if (valid)
                                put(w, s + i, n);
                        else
                                put(w, "\xef\xbf\xbd", 3);
                        i += n;
                        continue;
                }

                esc[0] = '\\';
                esc[1] = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n'
                        : c == '\t' ? 't' : c == '\r' ? 'r' : c == '\b' ? 'b'
                        : c == '\f' ? 'f' : 'u';
                if (esc[1] != 'u')
                        put(w, esc, 2);
                else {
                        memcpy(esc + 2, "00", 2);
                        esc[4] = digits[c >> 4];
                        esc[5] = digits[c & 0xf];
                        put(w, esc, 6);
                }
                i++;
        }
        put(w, "\"", 1);
}

/* Commas and the one-top-level-value rule; false when the value may
 * not go here (the error is then sticky). */
static bool begin_value(JsonWriter *w)
{
        JsonLevel *l;

        if (!w || w->failed)
                return false;

        if (w->depth == 0) {
                if (w->done)
                        w->failed = true;
                w->done = true;
                return !w->failed;
        }

        l = &w->levels[w->depth - 1];
        if (l->object) {
                if (!l->has_key)
                        w->failed = true;
                l->has_key = false;
        } else if (l->count++ > 0)
                put(w, ",", 1);
        return !w->failed;
}

static void open_level(JsonWriter *w, bool object)
{
        JsonLevel *levels;
        size_t n;

        if (!begin_value(w))
                return;

        if (w->depth == w->levels_size) {
                n = w->levels_size ? 2 * w->levels_size : 16;
                levels = reallocarray(w->levels, n, sizeof(JsonLevel));
                if (!levels) {
                        w->failed = true;
                        return;
                }
                w->levels = levels;
                w->levels_size = n;
        }
        w->levels[w->depth++] = (JsonLevel) { .object = object };
        put(w, object ? "{" : "[", 1);
}

static void close_level(JsonWriter *w, bool object)
{
        JsonLevel *l;

        if (!w || w->failed)
                return;

        l = w->depth > 0 ? &w->levels[w->depth - 1] : NULL;
        if (!l || l->object != object || l->has_key) {
                w->failed = true;
                return;
        }
        w->depth--;
        put(w, object ? "}" : "]", 1);
}

void json_write_object_open(JsonWriter *w)
{
        open_level(w, true);
}

void json_write_object_close(JsonWriter *w)
{
        close_level(w, true);
}

void json_write_array_open(JsonWriter *w)
{
        open_level(w, false);
}

void json_write_array_close(JsonWriter *w)
{
        close_level(w, false);
}

void json_write_key(JsonWriter *w, const char *key)
{
        JsonLevel *l;

        if (!w || w->failed)
                return;

        l = w->depth > 0 ? &w->levels[w->depth - 1] : NULL;
        if (!key || !l || !l->object || l->has_key) {
                w->failed = true;
                return;
        }
        if (l->count++ > 0)
                put(w, ",", 1);
        put_string(w, key, strlen(key));
        put(w, ":", 1);
        l->has_key = true;
}

void json_write_stringn(JsonWriter *w, const char *s, size_t len)
{
        if (!s)
                json_write_null(w);
        else if (begin_value(w))
                put_string(w, s, len);
}

void json_write_string(JsonWriter *w, const char *s)
{
        json_write_stringn(w, s, s ? strlen(s) : 0);
}

void json_write_int(JsonWriter *w, int64_t n)
{
        char b[24];
        int k;

        if (!begin_value(w))
                return;
        k = snprintf(b, sizeof(b), "%" PRId64, n);
        put(w, b, (size_t) k);
}

void json_write_bool(JsonWriter *w, bool b)
{
        if (begin_value(w))
                put(w, b ? "true" : "false", b ? 4 : 5);
}

void json_write_null(JsonWriter *w)
{
        if (begin_value(w))
                put(w, "null", 4);
}

void json_write_raw(JsonWriter *w, const char *json)
{
        if (!json)
                json_write_null(w);
        else if (*json == '\0') {
                if (w)
                        w->failed = true;
        } else if (begin_value(w))
                put(w, json, strlen(json));
}

/* One value, or the opening of a container. A number is copied as its
 * literal, so that "8306082202796025694" stays exact. */
static void write_node(JsonWriter *w, const JsonValue *v)
{
        const char *s;
        size_t len;

        switch (json_type(v)) {
        case JSON_NULL:
                json_write_null(w);
                break;
        case JSON_BOOL:
                json_write_bool(w, json_bool(v));
                break;
        case JSON_NUMBER:
                s = json_text(v);
                if (begin_value(w))
                        put(w, s, strlen(s));
                break;
        case JSON_STRING:
                s = json_string(v, &len);
                json_write_stringn(w, s, len);
                break;
        case JSON_ARRAY:
        case JSON_OBJECT:
                open_level(w, json_type(v) == JSON_OBJECT);
                break;
        }
}

static void close_node(JsonWriter *w, const JsonValue *v)
{
        close_level(w, json_type(v) == JSON_OBJECT);
}

void json_write_value(JsonWriter *w, const JsonValue *v)
{
        const JsonValue *cur = v;

        if (!w)
                return;
        if (!v) {
                json_write_null(w);
                return;
        }

        /* Depth first by child, next and parent links, so a deep tree
         * costs no stack. */
        for (;;) {
                if (cur != v && json_type(json_parent(cur)) == JSON_OBJECT)
                        json_write_key(w, json_key(cur));
                write_node(w, cur);
                if (w->failed)
                        return;

                if (json_first(cur)) {
                        cur = json_first(cur);
                        continue;
                }
                if (json_type(cur) == JSON_ARRAY ||
                    json_type(cur) == JSON_OBJECT)
                        close_node(w, cur);

                while (cur != v && !json_next(cur)) {
                        cur = json_parent(cur);
                        close_node(w, cur);
                }
                if (cur == v)
                        return;
                cur = json_next(cur);
        }
}

char *json_writer_finish(JsonWriter *w, size_t *ret_len)
{
        char *r;

        if (!w)
                return NULL;
        if (w->failed || w->depth != 0 || !w->done) {
                json_writer_free(w);
                return NULL;
        }

        r = w->buf;
        if (ret_len)
                *ret_len = w->len;
        w->buf = NULL;
        json_writer_free(w);
        return r;
}
