/* json.c: the parser under default and small limits, every accessor on
 * every value of the tree, json_path to each value, the writer round trip
 * (parse, write, parse: the same values, and the same text again), and
 * the writer's state machine driven by the input bytes. */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"

/* A value met on the walk, and the dotted path that reaches it (NULL when
 * no path can: a key with a dot, a key that an earlier one shadows; or
 * when it is not looked up, see LOOKUPS_MAX). */
typedef struct {
        const JsonValue *v;
        size_t depth;
        char *path;
} Frame;

typedef struct {
        size_t values;
        size_t depth;   /* nesting of containers, as JsonLimits counts */
} Shape;

/* "-?[0-9]+" without leading zeros or "-0": json_int64 must give back
 * exactly this number. */
static bool plain_integer(const char *s)
{
        const char *p = s + (*s == '-');

        if (!*p)
                return false;
        for (; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return (s[0] != '0' || !s[1]) && (s[0] != '-' || s[1] != '0');
}

static void check_scalar(const JsonValue *v)
{
        const char *text = json_text(v), *s;
        char back[32];
        int64_t n;
        double d;
        size_t len;
        int r;

        s = json_string(v, &len);
        fuzz_assert(!s == (json_type(v) != JSON_STRING));
        if (s) {
                fuzz_assert(strlen(s) == len);
                fuzz_assert(utf8_valid(s, len));
                fuzz_assert(text == (len ? s : NULL));
        }
        if (json_type(v) == JSON_NUMBER)
                fuzz_assert(text && text[0]);
        if (json_type(v) == JSON_NULL)
                fuzz_assert(!text);

        r = json_int64(v, &n);
        fuzz_assert(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0 && text && plain_integer(text)) {
                snprintf(back, sizeof(back), "%" PRId64, n);
                fuzz_assert(strcmp(back, text) == 0);
        }
        r = json_double(v, &d);
        fuzz_assert(r == 0 || r == -EINVAL || r == -ERANGE);
        (void) json_bool(v);
}

/* The path of a child, or NULL when json_path cannot name it. */
static char *child_path(const Frame *parent, const JsonValue *child,
                        size_t index)
{
        const char *key = json_key(child);
        char *p = NULL;
        int n;

        if (!parent->path)
                return NULL;
        /* The root's path is empty; "" is also a key, so the separator
         * depends on the depth, not on the text so far. */
        if (json_type(parent->v) == JSON_OBJECT) {
                if (strchr(key, '.') || json_get(parent->v, key) != child)
                        return NULL;
                n = asprintf(&p, "%s%s%s", parent->path,
                             parent->depth ? "." : "", key);
        } else
                n = asprintf(&p, "%s%s%zu", parent->path,
                             parent->depth ? "." : "", index);
        fuzz_assert(n >= 0);
        return p;
}

/* Lookups by key are linear: only the first children of a container are
 * looked up, so a wide object costs no quadratic time. */
#define LOOKUPS_MAX 64

static void check_children(const JsonValue *root, Frame *stack, size_t *top,
                           const Frame *f)
{
        const JsonValue *c;
        size_t i = 0;

        for (c = json_first(f->v); c; c = json_next(c), i++) {
                if (i >= LOOKUPS_MAX) {
                        stack[(*top)++] = (Frame) { .v = c, .depth = f->depth + 1 };
                        continue;
                }
                if (json_type(f->v) == JSON_OBJECT) {
                        fuzz_assert(json_key(c));
                        fuzz_assert(strcmp(json_key(json_get(f->v, json_key(c))),
                                           json_key(c)) == 0);
                } else {
                        fuzz_assert(!json_key(c));
                        fuzz_assert(json_at(f->v, i) == c);
                }
                stack[(*top)++] = (Frame) {
                        .v = c, .depth = f->depth + 1,
                        .path = child_path(f, c, i),
                };
                if (stack[*top - 1].path)
                        fuzz_assert(json_path(root, stack[*top - 1].path) == c);
        }
        fuzz_assert(i == json_count(f->v));
        fuzz_assert(json_at(f->v, i) == NULL);
}

/* Walks the tree without recursion, checking every value. */
static Shape walk(const JsonValue *root)
{
        Shape shape = { 0 };
        Frame *stack;
        size_t top = 0, cap = 1024;

        stack = malloc(cap * sizeof(*stack));
        fuzz_assert(stack);
        stack[top++] = (Frame) { .v = root, .path = strdup("") };

        while (top > 0) {
                Frame f = stack[--top];
                bool container = json_type(f.v) == JSON_ARRAY ||
                                 json_type(f.v) == JSON_OBJECT;

                shape.values++;
                if (container && f.depth + 1 > shape.depth)
                        shape.depth = f.depth + 1;
                if (!container) {
                        fuzz_assert(json_count(f.v) == 0 && !json_first(f.v));
                        check_scalar(f.v);
                } else {
                        if (top + json_count(f.v) > cap) {
                                cap = 2 * (top + json_count(f.v));
                                stack = realloc(stack, cap * sizeof(*stack));
                                fuzz_assert(stack);
                        }
                        check_children(root, stack, &top, &f);
                }
                free(f.path);
        }
        free(stack);
        return shape;
}

static void check_error(int r, const JsonError *e, size_t size)
{
        fuzz_assert(r == -EINVAL || r == -E2BIG || r == -ENOMEM);
        fuzz_assert(memchr(e->message, '\0', sizeof(e->message)));
        fuzz_assert(e->message[0]);
        fuzz_assert(e->offset <= size);
        fuzz_assert((r == -EINVAL) == (e->kind == JSON_ERROR_SYNTAX));
        fuzz_assert((r == -E2BIG) == (e->kind == JSON_ERROR_TOO_DEEP ||
                                      e->kind == JSON_ERROR_TOO_MANY_VALUES));
}

/* Written text parses into as many values, and writes the same again. */
static void round_trip(const JsonValue *root, Shape shape)
{
        JsonWriter *w = json_writer_new();
        char *text, *again;
        size_t len, len2;
        Json *doc = NULL;

        json_write_value(w, root);
        text = json_writer_finish(w, &len);
        fuzz_assert(text && strlen(text) == len);
        fuzz_assert(utf8_valid(text, len));
        fuzz_assert(json_parse(text, len, NULL, &doc, NULL) == 0);
        fuzz_assert(walk(json_root(doc)).values == shape.values);

        w = json_writer_new();
        json_write_value(w, json_root(doc));
        again = json_writer_finish(w, &len2);
        fuzz_assert(again && len2 == len && memcmp(again, text, len) == 0);
        free(again);
        free(text);
        json_free(doc);
}

/* The limits that apply; a small pair from the size of the input. */
static void parse_both(const uint8_t *data, size_t size)
{
        JsonLimits small = { .max_depth = 1 + size % 7,
                             .max_values = 1 + size % 61 };
        Json *full = NULL, *part = NULL;
        JsonError e_full, e_part;
        int r_full, r_part;
        Shape shape = { 0 };

        r_full = json_parse((const char *) data, size, NULL, &full, &e_full);
        r_part = json_parse((const char *) data, size, &small, &part, &e_part);
        fuzz_assert((r_full == 0) == (full != NULL));
        fuzz_assert((r_part == 0) == (part != NULL));

        if (r_full == 0) {
                shape = walk(json_root(full));
                fuzz_assert(shape.values <= 200000 && shape.depth <= 64);
                round_trip(json_root(full), shape);
        } else
                check_error(r_full, &e_full, size);

        if (r_part == 0) {
                /* What fits the small limits fits the default ones. */
                fuzz_assert(r_full == 0);
                fuzz_assert(shape.values <= small.max_values);
                fuzz_assert(shape.depth <= small.max_depth);
        } else {
                check_error(r_part, &e_part, size);
                /* A syntax error comes before any limit: it is the same
                 * error whatever the limits. */
                if (r_part == -EINVAL)
                        fuzz_assert(r_full == -EINVAL &&
                                    e_full.offset == e_part.offset);
                if (r_full == 0)
                        fuzz_assert(r_part == -E2BIG);
        }
        if (r_full == -E2BIG)
                fuzz_assert(r_part == -E2BIG);
        json_free(full);
        json_free(part);
}

/* One writer call per input byte, with the following bytes as its
 * argument: whatever the order, finish gives NULL or one JSON text. */
static void drive_writer(const uint8_t *data, size_t size)
{
        JsonWriter *w = json_writer_new();
        JsonLimits deep = { .max_depth = 1000 };
        size_t i, n, len;
        Json *doc = NULL;
        char *text;

        for (i = 0; i < size && i < 512; i++) {
                n = size - i - 1 < 8 ? size - i - 1 : 8;
                switch (data[i] % 11) {
                case 0: json_write_object_open(w); break;
                case 1: json_write_object_close(w); break;
                case 2: json_write_array_open(w); break;
                case 3: json_write_array_close(w); break;
                case 4: json_write_key(w, n ? "k" : ""); break;
                case 5: json_write_stringn(w, (const char *) data + i + 1, n); break;
                case 6:
                        json_write_int(w, (int64_t) ((uint64_t) data[i] << 56 | i));
                        break;
                case 7: json_write_bool(w, data[i] & 16); break;
                case 8: json_write_null(w); break;
                case 9: json_write_raw(w, data[i] & 16 ? "[1,{}]" : ""); break;
                case 10: json_write_string(w, NULL); break;
                }
        }

        text = json_writer_finish(w, &len);
        if (!text)
                return;
        fuzz_assert(strlen(text) == len && utf8_valid(text, len));
        fuzz_assert(json_parse(text, len, &deep, &doc, NULL) == 0);
        json_free(doc);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        parse_both(data, size);
        drive_writer(data, size);
        return 0;
}
