/* Request authentication (DESIGN section 5). Every comparison with a
 * secret, or with an HMAC keyed by one, is constant-time; what a failure
 * reports names the scheme and the kind of mismatch, never a value. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "auth.h"
#include "text.h"

#define AUTH_MAC_LEN 32

static int from_gnutls(int r)
{
        if (r >= 0)
                return 0;
        if (r == GNUTLS_E_MEMORY_ERROR)
                return -ENOMEM;
        if (r == GNUTLS_E_INVALID_REQUEST)
                return -EINVAL;
        return -EIO;
}

int auth_hmac_sha256(const void *key, size_t key_len, const void *msg,
                     size_t len, unsigned char out[32])
{
        return from_gnutls(gnutls_hmac_fast(GNUTLS_MAC_SHA256,
                                            key_len ? key : "", key_len,
                                            len ? msg : "", len, out));
}

int auth_sha256(const void *msg, size_t len, unsigned char out[32])
{
        return from_gnutls(gnutls_hash_fast(GNUTLS_DIG_SHA256,
                                            len ? msg : "", len, out));
}

void auth_fingerprint(const char *secret, char out[13])
{
        unsigned char digest[32];

        out[0] = '\0';
        if (!secret || auth_sha256(secret, strlen(secret), digest) < 0)
                return;
        text_hex(digest, 6, out);
}

/* What one check found. */
typedef enum {
        CHECK_ABSENT,
        CHECK_PASSED,
        CHECK_FAILED,
} CheckResult;

/* One request's check: the secrets, the body, and the HMACs of the body
 * under each secret, computed at most once (bodies reach megabytes). */
typedef struct {
        const char *secret[2];          /* current, previous (or NULL) */
        const void *body;
        size_t len;
        unsigned char mac[2][AUTH_MAC_LEN];
        int mac_state[2];               /* 0 not yet, 1 done, < 0 error */
        const char *reason;             /* why the last check failed */
        bool previous;                  /* the previous secret matched */
} AuthCheck;

/* Is s[0..len) one of the secrets? Sets previous when the older one. */
static bool match_secret(AuthCheck *c, const char *s, size_t len)
{
        size_t i;

        for (i = 0; i < 2; i++) {
                if (!c->secret[i])
                        continue;
                if (text_equal_ct(s, len, c->secret[i],
                                  strlen(c->secret[i]))) {
                        c->previous = i == 1;
                        return true;
                }
        }
        return false;
}

/* Compares hex, of either case, with the body's HMAC under each secret. */
static CheckResult match_mac(AuthCheck *c, const char *hex, size_t len)
{
        unsigned char mac[AUTH_MAC_LEN];
        size_t i;

        if (text_unhex(hex, len, mac, sizeof(mac)) < 0) {
                c->reason = "malformed signature";
                return CHECK_FAILED;
        }

        for (i = 0; i < 2; i++) {
                if (!c->secret[i])
                        continue;
                if (c->mac_state[i] == 0)
                        c->mac_state[i] = auth_hmac_sha256(
                                c->secret[i], strlen(c->secret[i]),
                                c->body, c->len, c->mac[i]) < 0 ? -1 : 1;
                if (c->mac_state[i] < 0)
                        continue;
                if (text_equal_ct(mac, sizeof(mac), c->mac[i],
                                  sizeof(c->mac[i]))) {
                        c->previous = i == 1;
                        return CHECK_PASSED;
                }
        }

        c->reason = c->mac_state[0] < 0 ? "signature could not be computed"
                                        : "signature does not match";
        return CHECK_FAILED;
}

static CheckResult check_token(AuthCheck *c, const char *s, size_t len,
                               const char *reason)
{
        if (match_secret(c, s, len))
                return CHECK_PASSED;
        c->reason = reason;
        return CHECK_FAILED;
}

/* The credentials after an Authorization scheme word followed by one or
 * more spaces (RFC 9110 section 11.4), or NULL for another scheme.
 * Trailing whitespace is not part of the field value (section 5.5). */
static const char *auth_param(const AuthCredentials *cred, const char *word,
                              size_t *ret_len)
{
        const char *a = cred->authorization;
        size_t n = strlen(word), i, end = cred->authorization_len;

        if (!a || end <= n || strncasecmp(a, word, n) != 0 || a[n] != ' ')
                return NULL;

        for (i = n; i < end && a[i] == ' '; i++)
                ;
        while (end > i && (a[end - 1] == ' ' || a[end - 1] == '\t'))
                end--;
        *ret_len = end - i;
        return a + i;
}

static int b64_value(char ch)
{
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        if (ch == '+')
                return 62;
        if (ch == '/')
                return 63;
        return -1;
}

/* Strict base64 (RFC 4648 section 4): padded to a multiple of four, '='
 * only at the end, no stray bits. out holds len / 4 * 3 bytes. Returns
 * the decoded length or -EINVAL. */
static ssize_t b64_decode(const char *s, size_t len, unsigned char *out)
{
        size_t i, j, o = 0, pad = 0;
        uint32_t bits;
        int v;

        if (len == 0 || len % 4 != 0)
                return -EINVAL;
        if (s[len - 1] == '=')
                pad = s[len - 2] == '=' ? 2 : 1;

        for (i = 0; i < len; i += 4) {
                bits = 0;
                for (j = 0; j < 4; j++) {
                        if (i + j >= len - pad) {
                                bits <<= 6;
                                continue;
                        }
                        v = b64_value(s[i + j]);
                        if (v < 0)
                                return -EINVAL;
                        bits = bits << 6 | (uint32_t) v;
                }
                out[o++] = (unsigned char) (bits >> 16);
                out[o++] = (unsigned char) (bits >> 8);
                out[o++] = (unsigned char) bits;
        }

        if ((pad == 1 && (bits & 0xff) != 0) ||
            (pad == 2 && (bits & 0xffff) != 0))
                return -EINVAL;
        return (ssize_t) (o - pad);
}

static CheckResult check_basic(AuthCheck *c, const char *b64, size_t len)
{
        unsigned char *plain;
        const unsigned char *colon;
        ssize_t n;
        CheckResult r;

        c->reason = "malformed Basic credentials";
        plain = malloc(len / 4 * 3 + 1);
        if (!plain)
                return CHECK_FAILED;

        n = b64_decode(b64, len, plain);
        colon = n > 0 ? memchr(plain, ':', (size_t) n) : NULL;
        if (!colon)
                r = CHECK_FAILED;
        else
                r = check_token(c, (const char *) colon + 1,
                                (size_t) n - (size_t) (colon + 1 - plain),
                                "password does not match");

        explicit_bzero(plain, len / 4 * 3 + 1);
        free(plain);
        return r;
}

static CheckResult check_webhook_signature(AuthCheck *c, const char *s,
                                           size_t len)
{
        static const char prefix[] = "sha256=";
        size_t n = sizeof(prefix) - 1;

        if (len < n || strncasecmp(s, prefix, n) != 0) {
                c->reason = "malformed signature";
                return CHECK_FAILED;
        }
        return match_mac(c, s + n, len - n);
}

/* The schemes in the order DESIGN section 5 lists them; index i tries
 * the i-th and says CHECK_ABSENT when the request does not carry it. */
static CheckResult try_scheme(AuthCheck *c, size_t i, Provider p,
                              const AuthCredentials *cred)
{
        const char *s;
        size_t n;

        switch (i) {
        case 0:
                if (p != PROVIDER_SENTRY || !cred->sentry_signature)
                        return CHECK_ABSENT;
                return match_mac(c, cred->sentry_signature,
                                 cred->sentry_signature_len);
        case 1:
                s = auth_param(cred, "Bearer", &n);
                return s ? check_token(c, s, n, "token does not match")
                         : CHECK_ABSENT;
        case 2:
                s = auth_param(cred, "Basic", &n);
                return s ? check_basic(c, s, n) : CHECK_ABSENT;
        case 3:
                if (!cred->webhook_signature)
                        return CHECK_ABSENT;
                return check_webhook_signature(c, cred->webhook_signature,
                                               cred->webhook_signature_len);
        case 4:
                if (!cred->query_token)
                        return CHECK_ABSENT;
                return check_token(c, cred->query_token,
                                   cred->query_token_len,
                                   "token does not match");
        }
        return CHECK_ABSENT;
}

static const char *const auth_schemes[] = {
        "sentry-signature", "bearer", "basic", "x-webhook-signature", "token",
};

AuthOutcome auth_check(const SecretPair *secrets, Provider p,
                       const AuthCredentials *cred,
                       const void *body, size_t len)
{
        AuthOutcome o = { .result = AUTH_FAILED, .scheme = "none" };
        AuthCheck c = { .body = body, .len = len };
        static const AuthCredentials none;
        bool tried = false;
        CheckResult r;
        size_t i;

        if (!secrets || !secrets->current) {
                o.result = AUTH_OFF;
                return o;
        }
        /* An empty secret would let an empty token, or an HMAC anyone
         * can compute, through: it matches nothing, so requests fail. */
        c.secret[0] = *secrets->current ? secrets->current : NULL;
        c.secret[1] = secrets->previous && *secrets->previous
                ? secrets->previous : NULL;
        if (!cred)
                cred = &none;

        for (i = 0; i < sizeof(auth_schemes) / sizeof(*auth_schemes); i++) {
                r = try_scheme(&c, i, p, cred);
                if (r == CHECK_PASSED) {
                        o.result = AUTH_PASSED;
                        o.scheme = auth_schemes[i];
                        o.reason = NULL;
                        o.previous_secret = c.previous;
                        break;
                }
                if (r == CHECK_FAILED && !tried) {
                        tried = true;
                        o.scheme = auth_schemes[i];
                        o.reason = c.reason;
                }
        }

        if (!tried && o.result == AUTH_FAILED)
                o.reason = cred->authorization
                        ? "unsupported Authorization scheme"
                        : "no credentials";

        explicit_bzero(c.mac, sizeof(c.mac));
        return o;
}
