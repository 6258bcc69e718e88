/* text.c against independent definitions: UTF-8 validity from the code
 * point ranges of RFC 3629, utf8_sanitize giving valid UTF-8, utf8_cut
 * giving the largest boundary, text_escape_for_log bounded, printable and
 * reversible, and the hex and comparison helpers. */
#include <ctype.h>

#include "fuzz.h"

/* RFC 3629 by decoding: no overlongs, no surrogates, nothing above
 * U+10FFFF. Written apart from text.c's table on purpose. */
static bool ref_valid(const unsigned char *s, size_t len)
{
        static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t i = 0, n, k;
        uint32_t cp;

        while (i < len) {
                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                if ((s[i] & 0xe0) == 0xc0)
                        n = 2, cp = s[i] & 0x1f;
                else if ((s[i] & 0xf0) == 0xe0)
                        n = 3, cp = s[i] & 0x0f;
                else if ((s[i] & 0xf8) == 0xf0)
                        n = 4, cp = s[i] & 0x07;
                else
                        return false;
                if (n > len - i)
                        return false;
                for (k = 1; k < n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if (cp < least[n] || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += n;
        }
        return true;
}

static void check_units(const char *s, size_t len)
{
        size_t i = 0, n, out = 0;
        bool valid;

        while (i < len) {
                n = utf8_unit(s + i, len - i, &valid);
                fuzz_assert(n >= 1 && n <= 4 && n <= len - i);
                fuzz_assert(valid == ref_valid((const unsigned char *) s + i, n));
                out += valid && s[i] ? n : 3;
                i += n;
        }
        fuzz_assert(out == utf8_sanitize_to(s, len, NULL));
}

static void check_sanitize(const char *s, size_t len, char **ret, size_t *ret_len)
{
        bool valid = ref_valid((const unsigned char *) s, len);
        char *r = utf8_sanitize(s, len);
        size_t n;

        fuzz_assert(utf8_valid(s, len) == valid);
        fuzz_assert(r);
        n = strlen(r);
        fuzz_assert(n == utf8_sanitize_to(s, len, NULL));
        fuzz_assert(n <= 3 * len);
        fuzz_assert(ref_valid((const unsigned char *) r, n));
        fuzz_assert(utf8_valid(r, n));
        if (valid && !memchr(s, '\0', len))
                fuzz_assert(n == len && memcmp(r, s, len) == 0);
        *ret = r;
        *ret_len = n;
}

/* On valid UTF-8, the cut is the largest character boundary <= max. */
static void check_cut(const char *s, size_t len, size_t max)
{
        size_t c = utf8_cut(s, len, max);

        if (max >= len) {
                fuzz_assert(c == len);
                return;
        }
        /* s is valid: a cut before a lead byte leaves a valid prefix. */
        fuzz_assert(c <= max && max - c <= 3);
        fuzz_assert(((unsigned char) s[c] & 0xc0) != 0x80);
        for (size_t b = c + 1; b <= max; b++)
                fuzz_assert(((unsigned char) s[b] & 0xc0) == 0x80);
}

static void check_cuts(const char *valid, size_t vlen, const char *raw,
                       size_t rlen)
{
        size_t step = vlen / 128 + 1;

        for (size_t max = 0; max <= vlen + 1; max += step)
                check_cut(valid, vlen, max);
        /* Stray bytes are characters of their own: any cut stays inside. */
        for (size_t max = 0; max <= rlen; max += rlen / 64 + 1)
                fuzz_assert(utf8_cut(raw, rlen, max) <= (max < rlen ? max : rlen));
}

static bool printable(const char *s)
{
        const unsigned char *u = (const unsigned char *) s;

        for (size_t i = 0; u[i]; i++) {
                if (u[i] < 0x20 || u[i] == 0x7f)
                        return false;
                if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] < 0xa0)
                        return false;
        }
        return utf8_valid(s, strlen(s));
}

static int hex_value(char c)
{
        return c >= '0' && c <= '9' ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes the log escaping: "\\\\" and "\\xNN" (lowercase digits). */
static size_t unescape(const char *s, char *out)
{
        size_t i = 0, o = 0;
        int hi, lo;

        while (s[i]) {
                if (s[i] != '\\') {
                        out[o++] = s[i++];
                        continue;
                }
                if (s[i + 1] == '\\') {
                        out[o++] = '\\';
                        i += 2;
                        continue;
                }
                fuzz_assert(s[i + 1] == 'x');
                hi = hex_value(s[i + 2]);
                lo = hex_value(hi < 0 ? '\0' : s[i + 3]);
                fuzz_assert(hi >= 0 && lo >= 0);
                out[o++] = (char) (hi << 4 | lo);
                i += 4;
        }
        return o;
}

/* The same escape into a buffer of max_out bytes: the full text when it
 * fits, else a prefix of it and as much of "..." as fits. */
static void check_bounded(const char *s, size_t len, const char *full,
                          size_t max_out)
{
        size_t cap = max_out - 1, n, full_len = strlen(full);
        char *out = malloc(max_out);

        fuzz_assert(out);
        text_escape_for_log(s, len, out, max_out);
        n = strlen(out);
        fuzz_assert(n <= cap && printable(out));
        if (full_len <= cap)
                fuzz_assert(strcmp(out, full) == 0);
        else if (cap < 3)
                fuzz_assert(n == cap && strspn(out, ".") == cap);
        else {
                fuzz_assert(n >= 3 && memcmp(out + n - 3, "...", 3) == 0);
                fuzz_assert(memcmp(out, full, n - 3) == 0);
        }
        free(out);
}

static void check_escape(const char *s, size_t len)
{
        static const size_t sizes[] = { 1, 2, 3, 4, 5, 8, 17, 64, 200 };
        size_t max_out = 4 * len + 1, n;
        char *full = malloc(max_out), *back = malloc(len + 1);
        char untouched = 'u';

        fuzz_assert(full && back);
        text_escape_for_log(s, len, full, max_out);
        fuzz_assert(printable(full));
        n = unescape(full, back);
        fuzz_assert(n == len && memcmp(back, s, len) == 0);

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
                check_bounded(s, len, full, sizes[i]);
        check_bounded(s, len, full, 1 + len % 97);
        text_escape_for_log(s, len, &untouched, 0);
        fuzz_assert(untouched == 'u');
        free(full);
        free(back);
}

static void check_hex(const char *s, size_t len)
{
        size_t m = len < 64 ? len : 64, n = len / 2;
        unsigned char *bytes = malloc(n + 1), back[64];
        char hex[129], lower[129];
        bool digits = len % 2 == 0;
        int r;

        fuzz_assert(bytes);
        text_hex((const unsigned char *) s, m, hex);
        fuzz_assert(strlen(hex) == 2 * m);
        fuzz_assert(text_unhex(hex, 2 * m, back, m) == 0);
        fuzz_assert(memcmp(back, s, m) == 0);

        for (size_t i = 0; i < len; i++)
                digits = digits && isxdigit((unsigned char) s[i]);
        r = text_unhex(s, len, bytes, n);
        fuzz_assert((r == 0) == digits);
        if (r == 0 && n <= 64) {
                text_hex(bytes, n, hex);
                for (size_t i = 0; i < len; i++)
                        lower[i] = (char) tolower((unsigned char) s[i]);
                fuzz_assert(memcmp(hex, lower, len) == 0);
        }
        free(bytes);
}

static void check_equal(const char *s, size_t len)
{
        size_t h = len / 2;
        bool same = len - h == h && memcmp(s, s + h, h) == 0;
        char *copy = malloc(len + 1);

        fuzz_assert(copy);
        memcpy(copy, s, len);
        fuzz_assert(text_equal_ct(s, h, s + h, len - h) == same);
        fuzz_assert(text_equal_ct(s, len, copy, len));
        if (len > 0) {
                copy[len - 1] ^= 1;
                fuzz_assert(!text_equal_ct(s, len, copy, len));
                fuzz_assert(!text_equal_ct(s, len, copy, len - 1));
        }
        free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* libFuzzer passes each input in a buffer of exactly its size, so
         * a read past the end is caught. */
        const char *s = (const char *) data;
        size_t clean_len;
        char *clean;

        check_units(s, size);
        check_sanitize(s, size, &clean, &clean_len);
        check_cuts(clean, clean_len, s, size);
        check_escape(s, size);
        check_hex(s, size);
        check_equal(s, size);
        free(clean);
        return 0;
}
