/* Unit tests for src/text.c. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "text.h"

#define S(lit) lit, sizeof(lit) - 1
#define FFFD "\xef\xbf\xbd"

static void test_valid(void)
{
        check(utf8_valid(S("")));
        check(utf8_valid(S("plain ascii")));
        check(utf8_valid(S("a\0b")));
        check(utf8_valid(S("\xc3\xa9")));               /* U+00E9 */
        check(utf8_valid(S("\xe2\x82\xac")));           /* U+20AC */
        check(utf8_valid(S("\xf0\x9f\x92\xa5")));       /* U+1F4A5 */
        check(utf8_valid(S("\xed\x9f\xbf")));           /* U+D7FF */
        check(utf8_valid(S("\xee\x80\x80")));           /* U+E000 */
        check(utf8_valid(S("\xf4\x8f\xbf\xbf")));       /* U+10FFFF */

        check(!utf8_valid(S("\xc0\x80")));              /* overlong NUL */
        check(!utf8_valid(S("\xc1\xbf")));
        check(!utf8_valid(S("\xe0\x80\xaf")));          /* overlong '/' */
        check(!utf8_valid(S("\xe0\x9f\xbf")));
        check(!utf8_valid(S("\xf0\x8f\xbf\xbf")));      /* overlong U+FFFF */
        check(!utf8_valid(S("\xed\xa0\x80")));          /* U+D800 */
        check(!utf8_valid(S("\xed\xbf\xbf")));          /* U+DFFF */
        check(!utf8_valid(S("\xed\xa0\xbd\xed\xb2\xa5"))); /* CESU-8 pair */
        check(!utf8_valid(S("\xf4\x90\x80\x80")));      /* U+110000 */
        check(!utf8_valid(S("\xf5\x80\x80\x80")));
        check(!utf8_valid(S("\xff")));
        check(!utf8_valid(S("a\x80")));                 /* lone continuation */
        check(!utf8_valid(S("\xe2\x82")));              /* truncated */
        check(!utf8_valid(S("\xf0\x9f\x92")));
        check(!utf8_valid(S("ok\xc3")));
        check(!utf8_valid(S("\xc3\x28")));              /* bad continuation */
}

static void check_sanitized(const char *in, size_t len, const char *want)
{
        char *s = utf8_sanitize(in, len);

        check_str(s, want);
        check_int(utf8_sanitize_to(in, len, NULL), strlen(want));
        free(s);
}

static void test_sanitize(void)
{
        check_sanitized(S(""), "");
        check_sanitized(S("caf\xc3\xa9 \xf0\x9f\x92\xa5"),
                        "caf\xc3\xa9 \xf0\x9f\x92\xa5");
        check_sanitized(S("a\x80" "b"), "a" FFFD "b");
        check_sanitized(S("a\0b"), "a" FFFD "b");
        check_sanitized(S("\0\0"), FFFD FFFD);
        /* One replacement per maximal invalid subpart (Unicode 3.9). */
        check_sanitized(S("\xe2\x82"), FFFD);
        check_sanitized(S("\xe2\x82x"), FFFD "x");
        check_sanitized(S("\xf0\x9f\x92!"), FFFD "!");
        check_sanitized(S("\xed\xa0\x80"), FFFD FFFD FFFD);
        check_sanitized(S("\xc0\xaf"), FFFD FFFD);
        check_sanitized(S("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
        check_sanitized(S("\xff\xfe"), FFFD FFFD);
        check_sanitized(S("x\xc3"), "x" FFFD);
}

static void test_cut(void)
{
        static const char two[] = "a\xc3\xa9";                  /* a é */
        static const char three[] = "a\xe2\x82\xac";            /* a € */
        static const char four[] = "a\xf0\x9f\x92\xa5";         /* a 💥 */
        static const char pair[] = "\xc3\xa9\xc3\xa9";

        check_int(utf8_cut(S(two), 0), 0);
        check_int(utf8_cut(S(two), 1), 1);
        check_int(utf8_cut(S(two), 2), 1);
        check_int(utf8_cut(S(two), 3), 3);
        check_int(utf8_cut(S(two), 99), 3);

        check_int(utf8_cut(S(three), 2), 1);
        check_int(utf8_cut(S(three), 3), 1);
        check_int(utf8_cut(S(three), 4), 4);

        check_int(utf8_cut(S(four), 2), 1);
        check_int(utf8_cut(S(four), 3), 1);
        check_int(utf8_cut(S(four), 4), 1);
        check_int(utf8_cut(S(four), 5), 5);

        check_int(utf8_cut(S(pair), 2), 2);
        check_int(utf8_cut(S(pair), 3), 2);
        check_int(utf8_cut(S("\xf0\x9f\x92\xa5"), 3), 0);

        /* Stray continuation bytes are characters of their own. */
        check_int(utf8_cut(S("ab\x80\x80"), 3), 3);
        check_int(utf8_cut(S("a\xe2\x82x"), 2), 2);
}

static const char *escaped(const char *s, size_t len, size_t max_out)
{
        static char out[256];

        memset(out, 'Z', sizeof(out));
        text_escape_for_log(s, len, out, max_out);
        return out;
}

static void test_escape(void)
{
        static const char quoted[] = "say \"hi\" \\o/";
        char big[300];
        char tiny[2] = "Z";

        check_str(escaped(S("plain"), 64), "plain");
        check_str(escaped(S("a\nb\tc\rd"), 64), "a\\x0ab\\x09c\\x0dd");
        check_str(escaped(S("nul\0!"), 64), "nul\\x00!");
        check_str(escaped(S("\x1b[31mred"), 64), "\\x1b[31mred");
        check_str(escaped(S(quoted), 64), "say \"hi\" \\\\o/");
        check_str(escaped(S("del\x7f"), 64), "del\\x7f");
        check_str(escaped(S("c1\xc2\x85"), 64), "c1\\xc2\\x85");
        check_str(escaped(S("bad\xff\xe2\x82"), 64), "bad\\xff\\xe2\\x82");
        check_str(escaped(S("caf\xc3\xa9 \xf0\x9f\x92\xa5"), 64),
                  "caf\xc3\xa9 \xf0\x9f\x92\xa5");

        /* Fits exactly in max_out - 1; one more byte brings the cut. */
        check_str(escaped(S("aaaaaaaaaaaaaaa"), 16), "aaaaaaaaaaaaaaa");
        check_str(escaped(S("aaaaaaaaaaaaaaaa"), 16), "aaaaaaaaaaaa...");

        /* The cut never splits an escape or a character. */
        check_str(escaped(S("aaaaaaaaaaa\n\n"), 16), "aaaaaaaaaaa...");
        check_str(escaped(S("aaaaaaaaaaa\xe2\x82\xac\xe2\x82\xac"), 16),
                  "aaaaaaaaaaa...");
        check_str(escaped(S("aaaaaaaaa\xe2\x82\xac!!!!"), 16),
                  "aaaaaaaaa\xe2\x82\xac...");

        memset(big, 'x', sizeof(big));
        check_int(strlen(escaped(big, sizeof(big), 200)), 199);
        check_str(escaped(big, sizeof(big), 200) + 196, "...");
        check_str(escaped(S("abc"), 1), "");
        check_str(escaped(S("abcdef"), 3), "..");

        text_escape_for_log(S("abc"), tiny, 0);
        check_int(tiny[0], 'Z');
}

static void test_hex(void)
{
        static const unsigned char bytes[] = { 0x00, 0x9f, 0xff, 0x10 };
        unsigned char out[4];
        char hex[9];

        text_hex(bytes, 4, hex);
        check_str(hex, "009fff10");
        text_hex(bytes, 0, hex);
        check_str(hex, "");

        check_int(text_unhex(S("009FfF10"), out, 4), 0);
        check(memcmp(out, bytes, 4) == 0);
        check_int(text_unhex(S("009fff1"), out, 4), -EINVAL);
        check_int(text_unhex(S("009fff100"), out, 4), -EINVAL);
        check_int(text_unhex(S("009fgf10"), out, 4), -EINVAL);
        check_int(text_unhex(S("009f ff1"), out, 4), -EINVAL);
}

static void test_equal_ct(void)
{
        check(text_equal_ct(S("secret"), S("secret")));
        check(text_equal_ct(S(""), S("")));
        check(!text_equal_ct(S("secret"), S("secreT")));
        check(!text_equal_ct(S("Secret"), S("secret")));
        check(!text_equal_ct(S("secret"), S("secret2")));
        check(!text_equal_ct(S("secret2"), S("secret")));
        check(!text_equal_ct(S(""), S("secret")));
        check(!text_equal_ct(S("a\0b"), S("a\0c")));
}

int main(void)
{
        test_valid();
        test_sanitize();
        test_cut();
        test_escape();
        test_hex();
        test_equal_ct();
        return check_done();
}
