/* Byte and UTF-8 helpers that need no library. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Is s[0..len) valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? */
bool utf8_valid(const char *s, size_t len);

/* Length of the UTF-8 unit at s[0] (len > 0): of the character when it
 * is valid (*ret_valid true), else of its maximal invalid subpart, which
 * one U+FFFD replaces (Unicode 15, section 3.9). Always >= 1. */
size_t utf8_unit(const char *s, size_t len, bool *ret_valid);

/* Sanitizes like utf8_sanitize into out and NUL-terminates it; returns the
 * length written. With out == NULL only returns the length it would
 * write (without the NUL). Never more than 3 * len. */
size_t utf8_sanitize_to(const char *s, size_t len, char *out);

/* A malloc'd NUL-terminated copy of s[0..len) with every invalid sequence
 * and every NUL byte replaced by U+FFFD. NULL on ENOMEM. */
char *utf8_sanitize(const char *s, size_t len);

/* The largest n <= max_bytes such that s[0..n) ends on a character
 * boundary of the valid UTF-8 string s of length len. */
size_t utf8_cut(const char *s, size_t len, size_t max_bytes);

/* Writes a printable, bounded copy of untrusted bytes for a log line:
 * controls and invalid UTF-8 as \xNN, backslash escaped, cut at
 * max_out - 1 bytes with "..." when longer. Always NUL-terminates. */
void text_escape_for_log(const char *s, size_t len, char *out, size_t max_out);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void text_hex(const unsigned char *bytes, size_t n, char *out);

/* Decodes exactly 2n hex digits of either case into n bytes. Returns 0, or
 * -EINVAL when len != 2n or a character is not a hex digit. */
int text_unhex(const char *hex, size_t len, unsigned char *out, size_t n);

/* Constant-time comparison of two byte strings; the time depends only on
 * the lengths. When they differ it still reads all of a (pass the
 * untrusted string as a) and returns false. */
bool text_equal_ct(const void *a, size_t alen, const void *b, size_t blen);
