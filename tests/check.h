/* A tiny assertion kit for the unit tests: each failed check prints the
 * file, the line and both values, and the test goes on; check_done()
 * prints "N passed, N failed" and gives the exit status. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed_, check_failed_;

#define CHECK_FAIL_(fmt, ...) \
        (check_failed_++, fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__))

#define check(cond) \
        ((cond) ? (void) check_passed_++ : (void) CHECK_FAIL_("check failed: %s", #cond))

#define check_int(a, b) do { \
        long long a_ = (long long) (a), b_ = (long long) (b); \
        if (a_ == b_) check_passed_++; \
        else CHECK_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_); \
} while (0)

#define check_str(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if ((a_ == NULL && b_ == NULL) || (a_ && b_ && strcmp(a_, b_) == 0)) check_passed_++; \
        else CHECK_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
} while (0)

/* a contains b */
#define check_contains(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if (a_ && b_ && strstr(a_, b_)) check_passed_++; \
        else CHECK_FAIL_("%s contains %s: \"%s\" lacks \"%s\"", #a, #b, a_ ? a_ : "(null)", b_); \
} while (0)

static inline int check_done(void)
{
        printf("%d passed, %d failed\n", check_passed_, check_failed_);
        return check_failed_ == 0 ? 0 : 1;
}

/* Reads a whole file (tests/data is small); NULL if unreadable. */
static inline char *check_read_file(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        long n;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
                buf = malloc((size_t) n + 1);
                if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n) {
                        free(buf);
                        buf = NULL;
                }
                if (buf) {
                        buf[n] = '\0';
                        if (ret_len)
                                *ret_len = (size_t) n;
                }
        }
        fclose(f);
        return buf;
}

/* A recorded payload of tests/data by its file name: in the folder of its
 * provider (the name's first word, "sentry_issue_created.json"), or at
 * the top. NULL, after a failed check, when it is in neither. */
static inline char *check_read_payload(const char *data_dir, const char *name,
                                       size_t *ret_len)
{
        char path[512];
        char *r;

        snprintf(path, sizeof(path), "%s/%.*s/%s", data_dir,
                 (int) strcspn(name, "_"), name, name);
        r = check_read_file(path, ret_len);
        if (!r) {
                snprintf(path, sizeof(path), "%s/%s", data_dir, name);
                r = check_read_file(path, ret_len);
        }
        if (!r)
                fprintf(stderr, "payload %s not found in %s\n", name, data_dir);
        check(r != NULL);
        return r;
}
