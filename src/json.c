/* JSON through yajl 2.1's callback parser into a tree held in an arena.
 * Nothing here recurses: containers being built sit on an explicit
 * stack. The writer is in json_writer.c. */
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json.h"
#include "text.h"

#define JSON_DEFAULT_DEPTH 64
#define JSON_DEFAULT_VALUES 200000
#define ARENA_FIRST_CHUNK (16 * 1024)
#define ARENA_MAX_CHUNK (4 * 1024 * 1024)

struct JsonValue {
        JsonType type;
        bool boolean;
        const char *key;        /* set on object members */
        size_t key_len;
        const char *text;       /* string, or number literal; NUL-terminated */
        size_t len;
        JsonValue *parent;
        JsonValue *child;       /* first child of an array or object */
        JsonValue *next;
        JsonValue **items;      /* an array's children by index */
        size_t count;
};

typedef struct ArenaChunk {
        struct ArenaChunk *next;
        size_t size;
        size_t used;
        alignas(max_align_t) unsigned char data[];
} ArenaChunk;

struct Json {
        ArenaChunk *chunks;     /* newest first */
        size_t next_chunk;
        JsonValue *root;
};

static void *arena_alloc(Json *doc, size_t size, size_t align)
{
        ArenaChunk *c = doc->chunks;
        size_t at, want;

        if (c) {
                at = (c->used + align - 1) & ~(align - 1);
                if (at <= c->size && size <= c->size - at) {
                        c->used = at + size;
                        return c->data + at;
                }
        }

        /* A request larger than the next chunk gets a chunk of its own. */
        want = size > doc->next_chunk ? size : doc->next_chunk;
        c = malloc(sizeof(ArenaChunk) + want);
        if (!c)
                return NULL;
        c->size = want;
        c->used = size;
        c->next = doc->chunks;
        doc->chunks = c;
        if (doc->next_chunk < ARENA_MAX_CHUNK)
                doc->next_chunk *= 2;
        return c->data;
}

void json_free(Json *doc)
{
        ArenaChunk *c, *next;

        if (!doc)
                return;
        for (c = doc->chunks; c; c = next) {
                next = c->next;
                free(c);
        }
        free(doc);
}

/* A sanitized, NUL-terminated copy of yajl's bytes in the arena. */
static char *arena_text(Json *doc, const unsigned char *s, size_t len,
                        size_t *ret_len)
{
        const char *in = (const char *) s;
        size_t n;
        char *r;

        n = utf8_valid(in, len) && !memchr(in, '\0', len)
                ? len : utf8_sanitize_to(in, len, NULL);
        r = arena_alloc(doc, n + 1, 1);
        if (!r)
                return NULL;

        if (n == len) {
                memcpy(r, in, len);
                r[len] = '\0';
        } else
                utf8_sanitize_to(in, len, r);
        *ret_len = n;
        return r;
}

/* The code unit of a \uXXXX escape at s, or -1 when s is not one. */
static long unicode_escape(const char *s, size_t avail)
{
        long unit = 0;
        size_t i;
        char c;

        if (avail < 6 || s[0] != '\\' || s[1] != 'u')
                return -1;
        for (i = 2; i < 6; i++) {
                c = s[i];
                unit <<= 4;
                if (c >= '0' && c <= '9')
                        unit |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        unit |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        unit |= c - 'A' + 10;
                else
                        return -1;
        }
        return unit;
}

static bool is_high(long u) { return u >= 0xd800 && u <= 0xdbff; }
static bool is_low(long u) { return u >= 0xdc00 && u <= 0xdfff; }

/* yajl 2.1 turns \u0000 into a NUL byte, a high surrogate without a
 * following \u into "?", combines a high surrogate with whatever \u
 * follows, and emits a lone low one as CESU-8. Rewriting those escapes
 * to \ufffd, which has the same length, leaves only pairs that yajl
 * decodes right, and keeps yajl's byte offsets valid for the caller's
 * buffer. The input is copied only when an escape needs rewriting.
 * Returns the text to parse (buf or *ret_copy), or NULL on ENOMEM. */
static const char *guard_escapes(const char *buf, size_t len,
                                 char **ret_copy)
{
        const char *text = buf;
        bool in_string = false;
        size_t i;
        long u;

        *ret_copy = NULL;
        for (i = 0; i < len; i++) {
                if (text[i] == '"') {
                        in_string = !in_string;
                        continue;
                }
                if (!in_string || text[i] != '\\')
                        continue;

                u = unicode_escape(text + i, len - i);
                if (u < 0) {
                        i++;    /* a one-character escape, or bad input */
                        continue;
                }
                if (is_high(u) && is_low(unicode_escape(text + i + 6,
                                                        len - i - 6))) {
                        i += 11;
                        continue;
                }
                if (u == 0 || is_high(u) || is_low(u)) {
                        if (!*ret_copy) {
                                *ret_copy = malloc(len);
                                if (!*ret_copy)
                                        return NULL;
                                memcpy(*ret_copy, buf, len);
                                text = *ret_copy;
                        }
                        memcpy(*ret_copy + i + 2, "fffd", 4);
                }
                i += 5;
        }
        return text;
}

typedef struct {
        JsonValue *container;
        JsonValue *last;
} JsonFrame;

typedef struct {
        Json *doc;
        JsonFrame *stack;
        size_t depth;
        size_t stack_size;
        const char *key;        /* the member key waiting for its value */
        size_t key_len;
        size_t values;
        size_t max_depth;
        size_t max_values;
        JsonErrorKind error;
} JsonParser;

static JsonValue *add_value(JsonParser *p, JsonType type)
{
        JsonFrame *f;
        JsonValue *v;

        if (++p->values > p->max_values) {
                p->error = JSON_ERROR_TOO_MANY_VALUES;
                return NULL;
        }

        v = arena_alloc(p->doc, sizeof(JsonValue), alignof(JsonValue));
        if (!v) {
                p->error = JSON_ERROR_NO_MEMORY;
                return NULL;
        }
        *v = (JsonValue) { .type = type };

        if (p->depth == 0) {
                p->doc->root = v;
                return v;
        }

        f = &p->stack[p->depth - 1];
        v->parent = f->container;
        if (f->container->type == JSON_OBJECT) {
                v->key = p->key;
                v->key_len = p->key_len;
                p->key = NULL;
        }
        if (f->last)
                f->last->next = v;
        else
                f->container->child = v;
        f->last = v;
        f->container->count++;
        return v;
}

static int on_null(void *ctx)
{
        return add_value(ctx, JSON_NULL) != NULL;
}

static int on_boolean(void *ctx, int b)
{
        JsonValue *v = add_value(ctx, JSON_BOOL);

        if (!v)
                return 0;
        v->boolean = b;
        return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
        JsonParser *p = ctx;
        JsonValue *v = add_value(p, JSON_NUMBER);
        char *t;

        if (!v)
                return 0;

        /* yajl has checked the literal; it is ASCII. */
        t = arena_alloc(p->doc, len + 1, 1);
        if (!t) {
                p->error = JSON_ERROR_NO_MEMORY;
                return 0;
        }
        memcpy(t, s, len);
        t[len] = '\0';
        v->text = t;
        v->len = len;
        return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
        JsonParser *p = ctx;
        JsonValue *v = add_value(p, JSON_STRING);

        if (!v)
                return 0;
        v->text = arena_text(p->doc, s, len, &v->len);
        if (!v->text) {
                p->error = JSON_ERROR_NO_MEMORY;
                return 0;
        }
        return 1;
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
        JsonParser *p = ctx;

        p->key = arena_text(p->doc, s, len, &p->key_len);
        if (!p->key) {
                p->error = JSON_ERROR_NO_MEMORY;
                return 0;
        }
        return 1;
}

static int open_container(JsonParser *p, JsonType type)
{
        JsonFrame *stack;
        JsonValue *v;
        size_t n;

        if (p->depth >= p->max_depth) {
                p->error = JSON_ERROR_TOO_DEEP;
                return 0;
        }

        v = add_value(p, type);
        if (!v)
                return 0;

        if (p->depth == p->stack_size) {
                n = p->stack_size ? 2 * p->stack_size : 16;
                stack = reallocarray(p->stack, n, sizeof(JsonFrame));
                if (!stack) {
                        p->error = JSON_ERROR_NO_MEMORY;
                        return 0;
                }
                p->stack = stack;
                p->stack_size = n;
        }
        p->stack[p->depth++] = (JsonFrame) { .container = v };
        return 1;
}

static int on_start_map(void *ctx)
{
        return open_container(ctx, JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
        return open_container(ctx, JSON_ARRAY);
}

static int on_end_map(void *ctx)
{
        JsonParser *p = ctx;

        p->depth--;
        return 1;
}

/* Arrays get an index so that json_at is O(1) in a provider's loop. */
static int on_end_array(void *ctx)
{
        JsonParser *p = ctx;
        JsonValue *a = p->stack[--p->depth].container, *c;
        size_t i = 0;

        if (a->count == 0)
                return 1;

        a->items = arena_alloc(p->doc, a->count * sizeof(JsonValue *),
                               alignof(JsonValue *));
        if (!a->items) {
                p->error = JSON_ERROR_NO_MEMORY;
                return 0;
        }
        for (c = a->child; c; c = c->next)
                a->items[i++] = c;
        return 1;
}

static const yajl_callbacks json_callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_boolean,
        .yajl_number = on_number,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_map_key,
        .yajl_end_map = on_end_map,
        .yajl_start_array = on_start_array,
        .yajl_end_array = on_end_array,
};

/* A limit or ENOMEM, which the callback recorded in p->error. */
static int fail(JsonError *e, JsonErrorKind kind, size_t offset,
                const JsonParser *p)
{
        e->kind = kind;
        e->offset = offset;

        switch (kind) {
        case JSON_ERROR_TOO_DEEP:
                snprintf(e->message, sizeof(e->message),
                         "JSON nested deeper than %zu levels at byte %zu",
                         p->max_depth, offset);
                return -E2BIG;
        case JSON_ERROR_TOO_MANY_VALUES:
                snprintf(e->message, sizeof(e->message),
                         "JSON has more than %zu values at byte %zu",
                         p->max_values, offset);
                return -E2BIG;
        default:
                break;
        }
        e->kind = JSON_ERROR_NO_MEMORY;
        snprintf(e->message, sizeof(e->message),
                 "out of memory parsing JSON at byte %zu", offset);
        return -ENOMEM;
}

/* With yajl's short reason ("lexical error: invalid char in json
 * text."), which names the problem and never quotes the input. */
static int fail_syntax(JsonError *e, yajl_handle h, size_t offset)
{
        unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
        const char *reason = msg ? (const char *) msg : "parse error";
        int n = (int) strcspn(reason, "\n");

        e->kind = JSON_ERROR_SYNTAX;
        e->offset = offset;
        snprintf(e->message, sizeof(e->message),
                 "invalid JSON at byte %zu: %.*s", offset, n, reason);
        if (msg)
                yajl_free_error(h, msg);
        return -EINVAL;
}

/* Runs yajl over the whole text; returns 0 or fills e. */
static int run_yajl(JsonParser *p, const char *text, size_t len,
                    JsonError *e)
{
        yajl_handle h;
        yajl_status s;
        size_t offset;
        int r = 0;

        h = yajl_alloc(&json_callbacks, NULL, p);
        if (!h)
                return fail(e, JSON_ERROR_NO_MEMORY, 0, p);
        yajl_config(h, yajl_dont_validate_strings, 1);

        s = yajl_parse(h, (const unsigned char *) (len ? text : ""), len);
        offset = yajl_get_bytes_consumed(h);
        if (s == yajl_status_ok) {
                /* The end of input completes a top-level number, and
                 * yajl counts the bytes of this call afresh. */
                s = yajl_complete_parse(h);
                offset = len;
        }

        if (s == yajl_status_client_canceled)
                r = fail(e, p->error, offset, p);
        else if (s == yajl_status_error)
                r = fail_syntax(e, h, offset);

        yajl_free(h);
        return r;
}

int json_parse(const char *buf, size_t len, const JsonLimits *limits,
               Json **ret, JsonError *ret_error)
{
        JsonError ignored;
        JsonParser p = { 0 };
        const char *text;
        char *copy;
        Json *doc;
        int r;

        if (!ret_error)
                ret_error = &ignored;
        *ret = NULL;
        p.max_depth = limits && limits->max_depth
                ? limits->max_depth : JSON_DEFAULT_DEPTH;
        p.max_values = limits && limits->max_values
                ? limits->max_values : JSON_DEFAULT_VALUES;

        doc = calloc(1, sizeof(Json));
        if (!doc)
                return fail(ret_error, JSON_ERROR_NO_MEMORY, 0, &p);
        doc->next_chunk = ARENA_FIRST_CHUNK;
        p.doc = doc;

        text = guard_escapes(buf, len, &copy);
        if (!text) {
                json_free(doc);
                return fail(ret_error, JSON_ERROR_NO_MEMORY, 0, &p);
        }

        r = run_yajl(&p, text, len, ret_error);
        free(copy);
        free(p.stack);
        if (r < 0) {
                json_free(doc);
                return r;
        }

        *ret = doc;
        return 0;
}

const JsonValue *json_root(const Json *doc)
{
        return doc ? doc->root : NULL;
}

JsonType json_type(const JsonValue *v)
{
        return v ? v->type : JSON_NULL;
}

static const JsonValue *get_n(const JsonValue *v, const char *key,
                              size_t len)
{
        const JsonValue *c;

        if (json_type(v) != JSON_OBJECT)
                return NULL;
        for (c = v->child; c; c = c->next)
                if (c->key_len == len && memcmp(c->key, key, len) == 0)
                        return c;
        return NULL;
}

const JsonValue *json_get(const JsonValue *v, const char *key)
{
        return key ? get_n(v, key, strlen(key)) : NULL;
}

/* A path component as an array index; false unless all digits. */
static bool parse_index(const char *s, size_t len, size_t *ret)
{
        size_t i, n = 0;

        if (len == 0)
                return false;
        for (i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                if (n > (SIZE_MAX - 9) / 10)
                        return false;
                n = n * 10 + (size_t) (s[i] - '0');
        }
        *ret = n;
        return true;
}

const JsonValue *json_path(const JsonValue *v, const char *path)
{
        const char *dot;
        size_t len, index;

        if (!path)
                return NULL;

        while (v) {
                dot = strchr(path, '.');
                len = dot ? (size_t) (dot - path) : strlen(path);

                if (v->type == JSON_ARRAY)
                        v = parse_index(path, len, &index)
                                ? json_at(v, index) : NULL;
                else
                        v = get_n(v, path, len);

                if (!dot)
                        break;
                path = dot + 1;
        }
        return v;
}

size_t json_count(const JsonValue *v)
{
        return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT)
                ? v->count : 0;
}

const JsonValue *json_first(const JsonValue *v)
{
        return v ? v->child : NULL;
}

const JsonValue *json_next(const JsonValue *v)
{
        return v ? v->next : NULL;
}

const JsonValue *json_at(const JsonValue *v, size_t index)
{
        const JsonValue *c;

        if (!v || index >= json_count(v))
                return NULL;
        if (v->items)
                return v->items[index];
        for (c = v->child; c && index > 0; c = c->next)
                index--;
        return c;
}

const JsonValue *json_parent(const JsonValue *v)
{
        return v ? v->parent : NULL;
}

const char *json_key(const JsonValue *member)
{
        return member ? member->key : NULL;
}

const char *json_string(const JsonValue *v, size_t *ret_len)
{
        if (json_type(v) != JSON_STRING)
                return NULL;
        if (ret_len)
                *ret_len = v->len;
        return v->text;
}

const char *json_text(const JsonValue *v)
{
        switch (json_type(v)) {
        case JSON_STRING:
                return v->len > 0 ? v->text : NULL;
        case JSON_NUMBER:
                return v->text;
        case JSON_BOOL:
                return v->boolean ? "true" : "false";
        default:
                return NULL;
        }
}

/* The literal of a number, or a string that holds one in JSON's number
 * syntax (leading zeros allowed); sets whether it is an integer. */
static const char *numeric_text(const JsonValue *v, bool *ret_integer)
{
        const char *s = json_text(v), *p;

        if (!s || v->type == JSON_BOOL)
                return NULL;

        p = s + (*s == '-');
        if (*p < '0' || *p > '9')
                return NULL;
        while (*p >= '0' && *p <= '9')
                p++;
        *ret_integer = *p == '\0';
        if (*p == '.') {
                if (*++p < '0' || *p > '9')
                        return NULL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p == 'e' || *p == 'E') {
                p++;
                p += *p == '+' || *p == '-';
                if (*p < '0' || *p > '9')
                        return NULL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        return *p == '\0' ? s : NULL;
}

int json_int64(const JsonValue *v, int64_t *ret)
{
        const char *s;
        bool integer;
        long long n;
        double d;

        s = numeric_text(v, &integer);
        if (!s)
                return -EINVAL;

        errno = 0;
        if (integer) {
                n = strtoll(s, NULL, 10);
                if (errno == ERANGE)
                        return -ERANGE;
                *ret = n;
                return 0;
        }

        /* "100.0" and "1e3" are integers too; "1.5" is not. */
        d = strtod(s, NULL);
        if (!isfinite(d) || d >= 0x1p63 || d < -0x1p63)
                return -ERANGE;
        if (d != trunc(d))
                return -EINVAL;
        *ret = (int64_t) d;
        return 0;
}

int json_double(const JsonValue *v, double *ret)
{
        const char *s;
        bool integer;
        double d;

        s = numeric_text(v, &integer);
        if (!s)
                return -EINVAL;

        errno = 0;
        d = strtod(s, NULL);
        if (errno == ERANGE && isinf(d))
                return -ERANGE;
        *ret = d;
        return 0;
}

bool json_bool(const JsonValue *v)
{
        switch (json_type(v)) {
        case JSON_BOOL:
                return v->boolean;
        case JSON_STRING:
                return strcmp(v->text, "true") == 0 ||
                       strcmp(v->text, "1") == 0;
        case JSON_NUMBER:
                return strcmp(v->text, "1") == 0;
        default:
                return false;
        }
}
