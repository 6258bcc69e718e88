/* Byte and UTF-8 helpers. UTF-8 follows Unicode's table of well-formed
 * byte sequences (Unicode 15, table 3-7), which rules out overlongs,
 * surrogates and code points above U+10FFFF by the range of the second
 * byte alone. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define REPLACEMENT "\xef\xbf\xbd"   /* U+FFFD */
#define REPLACEMENT_LEN 3

/* Total length of the sequence a lead byte opens, and the range its
 * second byte must fall in; 0 for a byte that cannot lead. */
static size_t lead(unsigned char b, unsigned char *ret_lo,
                   unsigned char *ret_hi)
{
        *ret_lo = 0x80;
        *ret_hi = 0xbf;

        if (b >= 0xc2 && b <= 0xdf)
                return 2;
        if (b >= 0xe0 && b <= 0xef) {
                if (b == 0xe0)
                        *ret_lo = 0xa0;
                else if (b == 0xed)
                        *ret_hi = 0x9f;
                return 3;
        }
        if (b >= 0xf0 && b <= 0xf4) {
                if (b == 0xf0)
                        *ret_lo = 0x90;
                else if (b == 0xf4)
                        *ret_hi = 0x8f;
                return 4;
        }
        return 0;
}

size_t utf8_unit(const char *s, size_t len, bool *ret_valid)
{
        const unsigned char *u = (const unsigned char *) s;
        unsigned char lo, hi;
        size_t n, i;

        *ret_valid = false;
        if (u[0] < 0x80) {
                *ret_valid = true;
                return 1;
        }

        n = lead(u[0], &lo, &hi);
        if (n == 0)
                return 1;

        for (i = 1; i < n; i++) {
                if (i >= len || u[i] < lo || u[i] > hi)
                        return i;
                lo = 0x80;
                hi = 0xbf;
        }

        *ret_valid = true;
        return n;
}

bool utf8_valid(const char *s, size_t len)
{
        size_t i = 0;
        bool valid;

        while (i < len) {
                if ((unsigned char) s[i] < 0x80) {
                        i++;
                        continue;
                }
                i += utf8_unit(s + i, len - i, &valid);
                if (!valid)
                        return false;
        }
        return true;
}

size_t utf8_sanitize_to(const char *s, size_t len, char *out)
{
        size_t i = 0, o = 0, n;
        bool valid;

        while (i < len) {
                n = utf8_unit(s + i, len - i, &valid);
                if (valid && s[i] != '\0') {
                        if (out)
                                memcpy(out + o, s + i, n);
                        o += n;
                } else {
                        if (out)
                                memcpy(out + o, REPLACEMENT, REPLACEMENT_LEN);
                        o += REPLACEMENT_LEN;
                }
                i += n;
        }

        if (out)
                out[o] = '\0';
        return o;
}

char *utf8_sanitize(const char *s, size_t len)
{
        size_t n;
        char *r;

        /* Measuring first keeps a 4 MB body from costing 12 MB. */
        n = utf8_sanitize_to(s, len, NULL);
        r = malloc(n + 1);
        if (!r)
                return NULL;

        utf8_sanitize_to(s, len, r);
        return r;
}

size_t utf8_cut(const char *s, size_t len, size_t max_bytes)
{
        size_t start, back, n;
        bool valid;

        if (max_bytes >= len)
                return len;

        /* Find the lead byte of the character that s[max_bytes] belongs
         * to; a cut there keeps it whole. Stray bytes of invalid input
         * count as characters of their own. */
        for (back = 0; back < 4 && back <= max_bytes; back++) {
                start = max_bytes - back;
                if (((unsigned char) s[start] & 0xc0) != 0x80)
                        break;
        }
        if (back == 4 || back > max_bytes || back == 0)
                return max_bytes;

        n = utf8_unit(s + start, len - start, &valid);
        if (valid && start + n > max_bytes)
                return start;
        return max_bytes;
}

/* The log form of the unit at s[0]: raw when printable UTF-8, else \xNN
 * per byte. Returns its length in piece (at most 16 bytes) and sets the
 * number of input bytes it covers. */
static size_t escape_unit(const char *s, size_t len, char piece[16],
                          size_t *ret_used)
{
        static const char digits[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *) s;
        size_t n, i, o = 0;
        bool valid;

        n = utf8_unit(s, len, &valid);
        *ret_used = n;

        /* Only the backslash, so that \xNN stays unambiguous; quotes
         * read better as they are in the journal. */
        if (u[0] == '\\') {
                piece[0] = '\\';
                piece[1] = (char) u[0];
                return 2;
        }

        /* C1 controls (U+0080..U+009F) are as unprintable as C0 ones. */
        if (valid && !(u[0] < 0x20 || u[0] == 0x7f ||
                       (u[0] == 0xc2 && u[1] < 0xa0))) {
                memcpy(piece, s, n);
                return n;
        }

        for (i = 0; i < n; i++) {
                piece[o++] = '\\';
                piece[o++] = 'x';
                piece[o++] = digits[u[i] >> 4];
                piece[o++] = digits[u[i] & 0xf];
        }
        return o;
}

void text_escape_for_log(const char *s, size_t len, char *out, size_t max_out)
{
        size_t cap, o = 0, safe = 0, i = 0, used, n;
        char piece[16];

        if (max_out == 0)
                return;
        cap = max_out - 1;

        while (i < len) {
                n = escape_unit(s + i, len - i, piece, &used);
                if (o + n > cap) {
                        /* Back to the last unit boundary that leaves
                         * room for the ellipsis. */
                        o = safe;
                        n = cap - o < 3 ? cap - o : 3;
                        memcpy(out + o, "...", n);
                        o += n;
                        break;
                }
                memcpy(out + o, piece, n);
                o += n;
                if (o + 3 <= cap)
                        safe = o;
                i += used;
        }

        out[o] = '\0';
}

void text_hex(const unsigned char *bytes, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        size_t i;

        for (i = 0; i < n; i++) {
                out[2 * i] = digits[bytes[i] >> 4];
                out[2 * i + 1] = digits[bytes[i] & 0xf];
        }
        out[2 * n] = '\0';
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int text_unhex(const char *hex, size_t len, unsigned char *out, size_t n)
{
        int hi, lo;
        size_t i;

        if (len != 2 * n)
                return -EINVAL;

        for (i = 0; i < n; i++) {
                hi = hex_digit(hex[2 * i]);
                lo = hex_digit(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (unsigned char) (hi << 4 | lo);
        }
        return 0;
}

bool text_equal_ct(const void *a, size_t alen, const void *b, size_t blen)
{
        const volatile unsigned char *x = a, *y = b;
        volatile unsigned char d = 0;
        size_t i;

        /* Different lengths: compare a with itself, so the loop still
         * runs alen times, and fail through d. */
        if (alen != blen) {
                y = x;
                d = 1;
        }

        for (i = 0; i < alen; i++)
                d |= x[i] ^ y[i];

        return d == 0;
}
