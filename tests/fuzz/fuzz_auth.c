/* auth_check against a model of DESIGN section 5, on fuzzed credentials
 * and on valid ones built from the fuzzed secret and body.
 *
 * An input is lines: the provider (its first byte mod 3: 0 Sentry,
 * 1 Datadog, 2 New Relic), the current secret, the previous secret,
 * Authorization, Sentry-Hook-Signature, X-Webhook-Signature and the
 * ?token= value ("-" for an absent one, a missing line is absent too),
 * and then the body, which is all the rest. */
#include <strings.h>

#include "auth.h"
#include "fuzz.h"

enum { FIELD_PROVIDER, FIELD_CURRENT, FIELD_PREVIOUS, FIELD_AUTHORIZATION,
       FIELD_SENTRY, FIELD_SIGNATURE, FIELD_TOKEN, FIELD_COUNT };

typedef struct {
        const char *s[FIELD_COUNT];   /* NULL when absent */
        size_t len[FIELD_COUNT];
        const char *body;
        size_t body_len;
} Input;

typedef enum { ABSENT, PASS, FAIL } Verdict;

/* The model's view of one request. */
typedef struct {
        const char *secret[2];        /* usable secrets: NULL or non-empty */
        unsigned char mac[2][32];
        int matched;                  /* index of the secret that passed */
} Model;

static const char *const schemes[] = {
        "sentry-signature", "bearer", "basic", "x-webhook-signature", "token",
};

static void split(const uint8_t *data, size_t size, Input *in)
{
        const char *p = (const char *) data, *end = p + size, *nl;

        memset(in, 0, sizeof(*in));
        for (int f = 0; f < FIELD_COUNT && p < end; f++) {
                nl = memchr(p, '\n', (size_t) (end - p));
                if (!nl)
                        nl = end;
                if (nl - p != 1 || *p != '-') {
                        in->s[f] = p;
                        in->len[f] = (size_t) (nl - p);
                }
                p = nl < end ? nl + 1 : end;
        }
        in->body = p;
        in->body_len = (size_t) (end - p);
}

static int secret_index(const Model *m, const char *s, size_t len)
{
        for (int i = 0; i < 2; i++)
                if (m->secret[i] && strlen(m->secret[i]) == len &&
                    memcmp(m->secret[i], s, len) == 0)
                        return i;
        return -1;
}

static int nibble(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) (c | 0x20);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 hex digits of either case that spell one secret's HMAC. */
static Verdict mac_verdict(Model *m, const char *hex, size_t len)
{
        unsigned char mac[32];

        if (len != 64)
                return FAIL;
        for (size_t i = 0; i < 32; i++) {
                int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return FAIL;
                mac[i] = (unsigned char) (hi << 4 | lo);
        }
        for (int i = 0; i < 2; i++)
                if (m->secret[i] && memcmp(mac, m->mac[i], 32) == 0) {
                        m->matched = i;
                        return PASS;
                }
        return FAIL;
}

static Verdict token_verdict(Model *m, const char *s, size_t len)
{
        m->matched = secret_index(m, s, len);
        return m->matched >= 0 ? PASS : FAIL;
}

/* The credentials of "Word SP+ credentials", trailing SP and HTAB not
 * part of them; NULL for another scheme. */
static const char *param(const Input *in, const char *word, size_t *ret_len)
{
        const char *a = in->s[FIELD_AUTHORIZATION];
        size_t n = strlen(word), len = in->len[FIELD_AUTHORIZATION], i;

        if (!a || len <= n || strncasecmp(a, word, n) != 0 || a[n] != ' ')
                return NULL;
        for (i = n; i < len && a[i] == ' '; i++)
                ;
        while (len > i && (a[len - 1] == ' ' || a[len - 1] == '\t'))
                len--;
        *ret_len = len - i;
        return a + i;
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64(char c)
{
        const char *p = c ? strchr(b64_alphabet, c) : NULL;

        return p ? (int) (p - b64_alphabet) : -1;
}

/* RFC 4648 section 4, strictly: whole quanta, "=" or "==" only at the
 * end, pad bits zero. Returns the length decoded, or -1. */
static long b64_strict(const char *s, size_t len, unsigned char *out)
{
        size_t o = 0;

        if (len == 0 || len % 4)
                return -1;
        for (size_t i = 0; i < len; i += 4) {
                bool last = i + 4 == len;
                int v[4];
                uint32_t bits = 0;
                size_t pad = 0;

                for (int j = 0; j < 4; j++) {
                        v[j] = b64(s[i + j]);
                        if (v[j] < 0 && !(last && s[i + j] == '=' && j >= 2))
                                return -1;
                }
                if (last && s[i + 2] == '=' && s[i + 3] != '=')
                        return -1;
                pad = last ? (s[i + 2] == '=') + (s[i + 3] == '=') : 0;
                for (int j = 0; j < 4; j++)
                        bits = bits << 6 | (uint32_t) (v[j] < 0 ? 0 : v[j]);
                if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
                        return -1;
                out[o++] = (unsigned char) (bits >> 16);
                if (pad < 2)
                        out[o++] = (unsigned char) (bits >> 8);
                if (pad < 1)
                        out[o++] = (unsigned char) bits;
        }
        return (long) o;
}

static Verdict basic_verdict(Model *m, const char *s, size_t len)
{
        unsigned char *plain = malloc(len / 4 * 3 + 1), *colon;
        long n = b64_strict(s, len, plain);
        Verdict v = FAIL;

        colon = n > 0 ? memchr(plain, ':', (size_t) n) : NULL;
        if (colon)
                v = token_verdict(m, (const char *) colon + 1,
                                  (size_t) (plain + n - (colon + 1)));
        free(plain);
        return v;
}

static Verdict scheme_verdict(Model *m, const Input *in, Provider p, int k)
{
        static const char prefix[] = "sha256=";
        const char *s;
        size_t n;

        m->matched = -1;
        switch (k) {
        case 0:
                if (p != PROVIDER_SENTRY || !in->s[FIELD_SENTRY])
                        return ABSENT;
                return mac_verdict(m, in->s[FIELD_SENTRY], in->len[FIELD_SENTRY]);
        case 1:
                s = param(in, "Bearer", &n);
                return s ? token_verdict(m, s, n) : ABSENT;
        case 2:
                s = param(in, "Basic", &n);
                return s ? basic_verdict(m, s, n) : ABSENT;
        case 3:
                s = in->s[FIELD_SIGNATURE];
                n = in->len[FIELD_SIGNATURE];
                if (!s)
                        return ABSENT;
                if (n < 7 || strncasecmp(s, prefix, 7) != 0)
                        return FAIL;
                return mac_verdict(m, s + 7, n - 7);
        default:
                if (!in->s[FIELD_TOKEN])
                        return ABSENT;
                return token_verdict(m, in->s[FIELD_TOKEN], in->len[FIELD_TOKEN]);
        }
}

static size_t base64_encode(const unsigned char *in, size_t len, char *out)
{
        const char *alphabet = b64_alphabet;
        size_t o = 0;

        for (size_t i = 0; i < len; i += 3) {
                uint32_t bits = (uint32_t) in[i] << 16;

                if (i + 1 < len)
                        bits |= (uint32_t) in[i + 1] << 8;
                if (i + 2 < len)
                        bits |= in[i + 2];
                out[o++] = alphabet[bits >> 18];
                out[o++] = alphabet[bits >> 12 & 63];
                out[o++] = i + 1 < len ? alphabet[bits >> 6 & 63] : '=';
                out[o++] = i + 2 < len ? alphabet[bits & 63] : '=';
        }
        return o;
}

/* Copies of the header values of exactly their length, so that reading
 * past one is caught. */
static AuthCredentials credentials(const Input *in, char *copies[4])
{
        static const int fields[4] = { FIELD_SENTRY, FIELD_AUTHORIZATION,
                                       FIELD_SIGNATURE, FIELD_TOKEN };
        AuthCredentials c;

        for (int i = 0; i < 4; i++) {
                int f = fields[i];

                copies[i] = in->s[f] ? malloc(in->len[f] ? in->len[f] : 1) : NULL;
                if (copies[i])
                        memcpy(copies[i], in->s[f], in->len[f]);
        }
        c = (AuthCredentials) {
                .sentry_signature = copies[0],
                .sentry_signature_len = in->len[FIELD_SENTRY],
                .authorization = copies[1],
                .authorization_len = in->len[FIELD_AUTHORIZATION],
                .webhook_signature = copies[2],
                .webhook_signature_len = in->len[FIELD_SIGNATURE],
                .query_token = copies[3],
                .query_token_len = in->len[FIELD_TOKEN],
        };
        return c;
}

/* What DESIGN section 5 says the outcome is. */
typedef struct {
        AuthResult result;
        int scheme;             /* index into schemes, or -1: "none" */
        bool previous;
} Expect;

static Expect model(const SecretPair *secrets, Provider p, const Input *in)
{
        Expect e = { .result = AUTH_FAILED, .scheme = -1 };
        Model m = { .matched = -1 };

        if (!secrets->current) {
                e.result = AUTH_OFF;
                return e;
        }
        for (int i = 0; i < 2; i++) {
                const char *s = i ? secrets->previous : secrets->current;

                m.secret[i] = s && *s ? s : NULL;
                if (m.secret[i])
                        fuzz_assert(auth_hmac_sha256(s, strlen(s), in->body,
                                                     in->body_len, m.mac[i]) == 0);
        }

        /* The first scheme that passes wins; else the first one present
         * is the one the outcome names. */
        for (int k = 0; k < 5; k++) {
                Verdict v = scheme_verdict(&m, in, p, k);

                if (v == PASS)
                        return (Expect) { AUTH_PASSED, k, m.matched == 1 };
                if (v == FAIL && e.scheme < 0)
                        e.scheme = k;
        }
        return e;
}

/* auth_check on in must agree with the model; returns its result. */
static AuthResult check(const SecretPair *secrets, Provider p, const Input *in)
{
        char *copies[4];
        AuthCredentials cred = credentials(in, copies);
        AuthOutcome o = auth_check(secrets, p, &cred, in->body, in->body_len);
        Expect e = model(secrets, p, in);

        fuzz_assert(o.scheme && o.result == e.result);
        switch (e.result) {
        case AUTH_OFF:
                fuzz_assert(!o.reason);
                break;
        case AUTH_PASSED:
                fuzz_assert(!o.reason);
                fuzz_assert(strcmp(o.scheme, schemes[e.scheme]) == 0);
                fuzz_assert(o.previous_secret == e.previous);
                break;
        case AUTH_FAILED:
                fuzz_assert(o.reason && o.reason[0]);
                fuzz_assert(strcmp(o.scheme, e.scheme < 0 ? "none"
                                                          : schemes[e.scheme]) == 0);
                if (e.scheme < 0)
                        fuzz_assert(strcmp(o.reason, in->s[FIELD_AUTHORIZATION]
                                           ? "unsupported Authorization scheme"
                                           : "no credentials") == 0);
                break;
        }

        for (int i = 0; i < 4; i++)
                free(copies[i]);
        return o.result;
}

/* Valid credentials of each scheme for secret s, each of which must
 * pass, alone in a request. */
static void check_valid(const SecretPair *secrets, Provider p, const Input *base,
                        const char *s)
{
        char hex[65], buf[600], b64buf[800];
        unsigned char mac[32];
        size_t len = strlen(s), n;
        Input in = { .body = base->body, .body_len = base->body_len };

        if (!*s || len > 400)
                return;

        fuzz_assert(auth_hmac_sha256(s, len, in.body, in.body_len, mac) == 0);
        text_hex(mac, sizeof(mac), hex);
        if (in.body_len % 2)
                for (char *c = hex; *c; c++)
                        *c = (char) (*c >= 'a' ? *c - 32 : *c);

        in.s[FIELD_SENTRY] = hex;
        in.len[FIELD_SENTRY] = 64;
        fuzz_assert(check(secrets, p, &in) ==
                    (p == PROVIDER_SENTRY ? AUTH_PASSED : AUTH_FAILED));
        in.s[FIELD_SENTRY] = NULL;

        n = (size_t) snprintf(buf, sizeof(buf), "%s%s",
                              in.body_len % 2 ? "SHA256=" : "sha256=", hex);
        in.s[FIELD_SIGNATURE] = buf;
        in.len[FIELD_SIGNATURE] = n;
        fuzz_assert(check(secrets, p, &in) == AUTH_PASSED);
        in.s[FIELD_SIGNATURE] = NULL;

        in.s[FIELD_TOKEN] = s;
        in.len[FIELD_TOKEN] = len;
        fuzz_assert(check(secrets, p, &in) == AUTH_PASSED);
        in.s[FIELD_TOKEN] = NULL;

        /* A token with edge spaces cannot travel in a header. */
        if (s[0] != ' ' && s[len - 1] != ' ' && s[len - 1] != '\t') {
                n = (size_t) snprintf(buf, sizeof(buf), "%s  %s \t",
                                      len % 2 ? "bearer" : "Bearer", s);
                in.s[FIELD_AUTHORIZATION] = buf;
                in.len[FIELD_AUTHORIZATION] = n;
                fuzz_assert(check(secrets, p, &in) == AUTH_PASSED);
        }

        n = (size_t) snprintf(buf, sizeof(buf), "datadog:%s", s);
        memcpy(b64buf, "Basic ", 6);
        n = base64_encode((const unsigned char *) buf, n, b64buf + 6);
        in.s[FIELD_AUTHORIZATION] = b64buf;
        in.len[FIELD_AUTHORIZATION] = 6 + n;
        fuzz_assert(check(secrets, p, &in) == AUTH_PASSED);

        /* The same with a stray bit under the padding is not base64. */
        if (b64buf[6 + n - 1] == '=') {
                char *last = &b64buf[6 + n - (b64buf[6 + n - 2] == '=' ? 3 : 2)];

                *last = b64_alphabet[b64(*last) ^ 1];
                fuzz_assert(check(secrets, p, &in) == AUTH_FAILED);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *current = NULL, *previous = NULL, fp[13];
        SecretPair secrets;
        Provider p;
        Input in;

        split(data, size, &in);
        p = in.s[FIELD_PROVIDER] && in.len[FIELD_PROVIDER]
                ? (Provider) ((unsigned char) in.s[FIELD_PROVIDER][0] % 3)
                : PROVIDER_SENTRY;
        if (in.s[FIELD_CURRENT])
                current = strndup(in.s[FIELD_CURRENT], in.len[FIELD_CURRENT]);
        if (in.s[FIELD_PREVIOUS])
                previous = strndup(in.s[FIELD_PREVIOUS], in.len[FIELD_PREVIOUS]);
        secrets = (SecretPair) { .current = current, .previous = previous };

        check(&secrets, p, &in);
        if (current) {
                check_valid(&secrets, p, &in, current);
                if (previous)
                        check_valid(&secrets, p, &in, previous);
        }
        fuzz_assert(auth_check(NULL, p, NULL, in.body, in.body_len).result == AUTH_OFF);

        auth_fingerprint(current, fp);
        fuzz_assert(strlen(fp) == (current ? 12 : 0));
        free(current);
        free(previous);
        return 0;
}
