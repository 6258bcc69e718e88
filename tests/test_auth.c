/* Unit tests for src/auth.c. argv[1] is tests/data, where the Sentry
 * payload is looked up. */
#include <stdlib.h>

#include "auth.h"
#include "check.h"
#include "text.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *data_dir = "tests/data";

#define SECRET "test-sentry-client-secret"
#define OLD_SECRET "old-secret-2023"

/* openssl dgst -sha256 -hmac 'test-sentry-client-secret' \
 *         sentry_issue_created.json */
#define ISSUE_SIG \
        "3f26f24c249fd4f1d63b5e03cf57e6320e940377485a66b2f2bab9f1ae63c6eb"
#define ISSUE_SIG_UPPER \
        "3F26F24C249FD4F1D63B5E03CF57E6320E940377485A66B2F2BAB9F1AE63C6EB"
/* The same with 'old-secret-2023'. */
#define ISSUE_SIG_OLD \
        "69dd3cbdf8b97a6b4e99dfc8601745c2e4a3c831e0d1f3545062c4bc1bb15ee6"
/* printf '{"test":"webhook"}' | \
 *         openssl dgst -sha256 -hmac 'test-sentry-client-secret' */
#define TEST_BODY "{\"test\":\"webhook\"}"
#define TEST_SIG \
        "3fe6ae9a936c677b010ec993837927d6e352f834d8a4bdcb74057b407ce9c871"
/* printf '' | openssl dgst -sha256 -hmac 'test-sentry-client-secret' */
#define EMPTY_SIG \
        "b50587ff2184ff9478031859aa732dd2e05dba729218153dde25fd2c731e849d"

static const SecretPair secrets = { .current = SECRET };
static const SecretPair rotating = { .current = SECRET,
                                     .previous = OLD_SECRET };
static const SecretPair no_secret = { 0 };
static const SecretPair empty = { .current = "" };
static const SecretPair empty_previous = { .current = SECRET,
                                           .previous = "" };

static char *read_payload(const char *name, size_t *ret_len)
{
        return check_read_payload(data_dir, name, ret_len);
}

static void check_hex(const unsigned char mac[32], const char *want)
{
        char hex[65];

        text_hex(mac, 32, hex);
        check_str(hex, want);
}

/* RFC 4231 section 4; test case 5 truncates the output and is left out. */
static void test_hmac_vectors(void)
{
        unsigned char key[131], data[152], mac[32];
        size_t i;

        memset(key, 0x0b, 20);
        check_int(auth_hmac_sha256(key, 20, S("Hi There"), mac), 0);
        check_hex(mac, "b0344c61d8db38535ca8afceaf0bf12b"
                       "881dc200c9833da726e9376c2e32cff7");

        check_int(auth_hmac_sha256(S("Jefe"),
                                   S("what do ya want for nothing?"), mac), 0);
        check_hex(mac, "5bdcc146bf60754e6a042426089575c7"
                       "5a003f089d2739839dec58b964ec3843");

        memset(key, 0xaa, 20);
        memset(data, 0xdd, 50);
        check_int(auth_hmac_sha256(key, 20, data, 50, mac), 0);
        check_hex(mac, "773ea91e36800e46854db8ebd09181a7"
                       "2959098b3ef8c122d9635514ced565fe");

        for (i = 0; i < 25; i++)
                key[i] = (unsigned char) (i + 1);
        memset(data, 0xcd, 50);
        check_int(auth_hmac_sha256(key, 25, data, 50, mac), 0);
        check_hex(mac, "82558a389a443c0ea4cc819899f2083a"
                       "85f0faa3e578f8077a2e3ff46729665b");

        memset(key, 0xaa, 131);
        check_int(auth_hmac_sha256(key, 131, S("Test Using Larger Than "
                                   "Block-Size Key - Hash Key First"), mac),
                  0);
        check_hex(mac, "60e431591ee0b67f0d8a26aacbf5b77f"
                       "8e0bc6213728c5140546040f0ee37f54");

        check_int(auth_hmac_sha256(key, 131, S("This is a test using a "
                                   "larger than block-size key and a larger "
                                   "than block-size data. The key needs to "
                                   "be hashed before being used by the HMAC "
                                   "algorithm."), mac), 0);
        check_hex(mac, "9b09ffa71b942fcb27635fbcd5b0e944"
                       "bfdc63644f0713938a7f51535c3a35e2");
}

static void test_sha256(void)
{
        unsigned char digest[32];
        char fp[13];

        check_int(auth_sha256("", 0, digest), 0);
        check_hex(digest, "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855");
        check_int(auth_sha256(NULL, 0, digest), 0);
        check_hex(digest, "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855");
        check_int(auth_sha256(S("abc"), digest), 0);
        check_hex(digest, "ba7816bf8f01cfea414140de5dae2223"
                          "b00361a396177a9cb410ff61f20015ad");

        /* printf abc | sha256sum | cut -c1-12 */
        auth_fingerprint("abc", fp);
        check_str(fp, "ba7816bf8f01");
        auth_fingerprint(NULL, fp);
        check_str(fp, "");
}

static void expect(AuthOutcome o, AuthResult result, const char *scheme,
                   const char *reason, bool previous)
{
        check_int(o.result, result);
        check_str(o.scheme, scheme);
        check_str(o.reason, reason);
        check_int(o.previous_secret, previous);
}

static AuthCredentials sentry_sig(const char *hex)
{
        return (AuthCredentials) { .sentry_signature = hex,
                                   .sentry_signature_len = strlen(hex) };
}

static void test_sentry_signature(void)
{
        AuthCredentials c;
        size_t len = 0;
        char *body = read_payload("sentry_issue_created.json", &len);
        char flipped[] = ISSUE_SIG;

        if (!body)
                return;

        c = sentry_sig(ISSUE_SIG);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_PASSED, "sentry-signature", NULL, false);
        c = sentry_sig(ISSUE_SIG_UPPER);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_PASSED, "sentry-signature", NULL, false);

        flipped[17] = flipped[17] == '0' ? '1' : '0';
        c = sentry_sig(flipped);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_FAILED, "sentry-signature", "signature does not match",
               false);

        /* One byte more in the body is another body. */
        c = sentry_sig(ISSUE_SIG);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len - 1),
               AUTH_FAILED, "sentry-signature", "signature does not match",
               false);

        c = sentry_sig(ISSUE_SIG "00");
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_FAILED, "sentry-signature", "malformed signature", false);
        c.sentry_signature_len = 62;
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_FAILED, "sentry-signature", "malformed signature", false);
        flipped[3] = 'g';
        c = sentry_sig(flipped);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_FAILED, "sentry-signature", "malformed signature", false);
        c = sentry_sig("");
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_FAILED, "sentry-signature", "malformed signature", false);

        /* Rotation: the old secret still signs, and says so. */
        c = sentry_sig(ISSUE_SIG_OLD);
        expect(auth_check(&rotating, PROVIDER_SENTRY, &c, body, len),
               AUTH_PASSED, "sentry-signature", NULL, true);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, body, len),
               AUTH_FAILED, "sentry-signature", "signature does not match",
               false);
        c = sentry_sig(ISSUE_SIG);
        expect(auth_check(&rotating, PROVIDER_SENTRY, &c, body, len),
               AUTH_PASSED, "sentry-signature", NULL, false);

        /* The header means nothing from another provider. */
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, body, len),
               AUTH_FAILED, "none", "no credentials", false);
        c.query_token = SECRET;
        c.query_token_len = strlen(SECRET);
        expect(auth_check(&secrets, PROVIDER_NEWRELIC, &c, body, len),
               AUTH_PASSED, "token", NULL, false);

        /* An empty body is signed like any other. */
        c = sentry_sig(EMPTY_SIG);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_PASSED, "sentry-signature", NULL, false);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, "", 0),
               AUTH_PASSED, "sentry-signature", NULL, false);

        free(body);
}

static AuthCredentials authorization(const char *value)
{
        return (AuthCredentials) { .authorization = value,
                                   .authorization_len = strlen(value) };
}

static AuthOutcome check_header(const SecretPair *sp, const char *value)
{
        AuthCredentials c = authorization(value);

        return auth_check(sp, PROVIDER_DATADOG, &c, S(TEST_BODY));
}

static void test_bearer(void)
{
        AuthCredentials c;

        expect(check_header(&secrets, "Bearer " SECRET),
               AUTH_PASSED, "bearer", NULL, false);
        expect(check_header(&secrets, "bearer " SECRET),
               AUTH_PASSED, "bearer", NULL, false);
        expect(check_header(&secrets, "BEARER    " SECRET "  "),
               AUTH_PASSED, "bearer", NULL, false);
        expect(check_header(&secrets, "Bearer " SECRET "x"),
               AUTH_FAILED, "bearer", "token does not match", false);
        expect(check_header(&secrets, "Bearer " OLD_SECRET),
               AUTH_FAILED, "bearer", "token does not match", false);
        expect(check_header(&rotating, "Bearer " OLD_SECRET),
               AUTH_PASSED, "bearer", NULL, true);
        expect(check_header(&secrets, "Bearer "),
               AUTH_FAILED, "bearer", "token does not match", false);
        expect(check_header(&secrets, "Bearer" SECRET),
               AUTH_FAILED, "none", "unsupported Authorization scheme",
               false);
        expect(check_header(&secrets, "Digest " SECRET),
               AUTH_FAILED, "none", "unsupported Authorization scheme",
               false);

        /* The value has a length and need not end in a NUL. */
        c = authorization("Bearer " SECRET "-and-more");
        c.authorization_len = strlen("Bearer " SECRET);
        expect(auth_check(&secrets, PROVIDER_NEWRELIC, &c, NULL, 0),
               AUTH_PASSED, "bearer", NULL, false);
}

static void test_basic(void)
{
        static const SecretPair colon = { .current = "pa:ss" };
        static const SecretPair xy = { .current = "xy" };
        static const SecretPair xyz = { .current = "xyz" };

        /* printf 'datadog:test-sentry-client-secret' | base64 */
        expect(check_header(&secrets, "Basic "
                            "ZGF0YWRvZzp0ZXN0LXNlbnRyeS1jbGllbnQtc2VjcmV0"),
               AUTH_PASSED, "basic", NULL, false);
        expect(check_header(&secrets, "basic  "
                            "ZGF0YWRvZzp0ZXN0LXNlbnRyeS1jbGllbnQtc2VjcmV0"),
               AUTH_PASSED, "basic", NULL, false);
        /* ':test-sentry-client-secret': an empty user name is fine. */
        expect(check_header(&secrets, "Basic "
                            "OnRlc3Qtc2VudHJ5LWNsaWVudC1zZWNyZXQ="),
               AUTH_PASSED, "basic", NULL, false);
        /* 'datadog:old-secret-2023' */
        expect(check_header(&rotating,
                            "Basic ZGF0YWRvZzpvbGQtc2VjcmV0LTIwMjM="),
               AUTH_PASSED, "basic", NULL, true);
        /* 'datadog:wrong' */
        expect(check_header(&secrets, "Basic ZGF0YWRvZzp3cm9uZw=="),
               AUTH_FAILED, "basic", "password does not match", false);
        /* 'u:pa:ss': the password runs from the first ':' on. */
        expect(check_header(&colon, "Basic dTpwYTpzcw=="),
               AUTH_PASSED, "basic", NULL, false);

        /* 'test-sentry-client-secret' has no ':' at all. */
        expect(check_header(&secrets, "Basic "
                            "dGVzdC1zZW50cnktY2xpZW50LXNlY3JldA=="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&secrets, "Basic ZGF0YWRvZzp3cm9uZw"),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&secrets, "Basic ZGF0*WRvZzp3cm9uZw=="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&secrets, "Basic ZGF0YWRvZzp3cm9u Zw=="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&secrets, "Basic ZGF0YW=vZzp3cm9uZw=="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        /* 'u:xy' and 'u:xyz', then with stray bits in the last
         * character, which a strict decoder refuses. */
        expect(check_header(&xy, "Basic dTp4eQ=="),
               AUTH_PASSED, "basic", NULL, false);
        expect(check_header(&xy, "Basic dTp4eR=="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&xyz, "Basic dTp4eXo="),
               AUTH_PASSED, "basic", NULL, false);
        expect(check_header(&xyz, "Basic dTp4eXp="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&secrets, "Basic ===="),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
        expect(check_header(&secrets, "Basic  "),
               AUTH_FAILED, "basic", "malformed Basic credentials", false);
}

static AuthCredentials webhook_sig(const char *value)
{
        return (AuthCredentials) { .webhook_signature = value,
                                   .webhook_signature_len = strlen(value) };
}

static void test_webhook_signature(void)
{
        AuthCredentials c;

        c = webhook_sig("sha256=" TEST_SIG);
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_PASSED, "x-webhook-signature", NULL, false);
        c = webhook_sig("SHA256=" TEST_SIG);
        expect(auth_check(&secrets, PROVIDER_NEWRELIC, &c, S(TEST_BODY)),
               AUTH_PASSED, "x-webhook-signature", NULL, false);
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S("{}")),
               AUTH_FAILED, "x-webhook-signature",
               "signature does not match", false);
        c = webhook_sig(TEST_SIG);
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_FAILED, "x-webhook-signature", "malformed signature",
               false);
        c = webhook_sig("sha256=" TEST_SIG "0");
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_FAILED, "x-webhook-signature", "malformed signature",
               false);
        c = webhook_sig("sha256=" EMPTY_SIG);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_PASSED, "x-webhook-signature", NULL, false);
}

static void test_query_token(void)
{
        AuthCredentials c = { .query_token = SECRET,
                              .query_token_len = strlen(SECRET) };

        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_PASSED, "token", NULL, false);
        c.query_token_len--;
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_FAILED, "token", "token does not match", false);
        c = (AuthCredentials) { .query_token = OLD_SECRET,
                                .query_token_len = strlen(OLD_SECRET) };
        expect(auth_check(&rotating, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_PASSED, "token", NULL, true);
        c.query_token_len = 0;
        expect(auth_check(&rotating, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_FAILED, "token", "token does not match", false);
}

static void test_order(void)
{
        AuthCredentials c;

        /* Wrong signature, right token: the token wins. */
        c = sentry_sig(ISSUE_SIG);
        c.query_token = SECRET;
        c.query_token_len = strlen(SECRET);
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, S(TEST_BODY)),
               AUTH_PASSED, "token", NULL, false);

        /* Everything wrong: the first present is named. */
        c = authorization("Bearer nope");
        c.webhook_signature = "sha256=" ISSUE_SIG;
        c.webhook_signature_len = strlen(c.webhook_signature);
        c.query_token = "nope";
        c.query_token_len = 4;
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_FAILED, "bearer", "token does not match", false);
        c.authorization = NULL;
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_FAILED, "x-webhook-signature",
               "signature does not match", false);
        c.sentry_signature = "zz";
        c.sentry_signature_len = 2;
        expect(auth_check(&secrets, PROVIDER_SENTRY, &c, S(TEST_BODY)),
               AUTH_FAILED, "sentry-signature", "malformed signature",
               false);

        /* An unknown Authorization scheme does not hide a real failure. */
        c = authorization("Digest x");
        c.query_token = "nope";
        c.query_token_len = 4;
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_FAILED, "token", "token does not match", false);

        /* With both schemes right, the earlier one is reported. */
        c = authorization("Bearer " SECRET);
        c.webhook_signature = "sha256=" TEST_SIG;
        c.webhook_signature_len = strlen(c.webhook_signature);
        expect(auth_check(&secrets, PROVIDER_DATADOG, &c, S(TEST_BODY)),
               AUTH_PASSED, "bearer", NULL, false);
}

static void test_off_and_nothing(void)
{
        AuthCredentials none = { 0 }, c = authorization("Bearer " SECRET);

        expect(auth_check(&no_secret, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_OFF, "none", NULL, false);
        expect(auth_check(NULL, PROVIDER_DATADOG, &none, NULL, 0),
               AUTH_OFF, "none", NULL, false);
        expect(auth_check(&secrets, PROVIDER_DATADOG, &none, S(TEST_BODY)),
               AUTH_FAILED, "none", "no credentials", false);
        expect(auth_check(&rotating, PROVIDER_SENTRY, NULL, NULL, 0),
               AUTH_FAILED, "none", "no credentials", false);

        /* An empty secret fails closed, even for an empty token. */
        c = (AuthCredentials) { .query_token = "", .query_token_len = 0 };
        expect(auth_check(&empty, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_FAILED, "token", "token does not match", false);
        c = authorization("Bearer ");
        expect(auth_check(&empty, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_FAILED, "bearer", "token does not match", false);
        c = authorization("Bearer " SECRET);
        expect(auth_check(&empty_previous, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_PASSED, "bearer", NULL, false);
        c = authorization("Bearer ");
        expect(auth_check(&empty_previous, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_FAILED, "bearer", "token does not match", false);
        /* printf '' | openssl dgst -sha256 -hmac '' */
        c = sentry_sig("b613679a0814d9ec772f95d778c35fc5"
                       "ff1697c493715653c6c712144292c5ad");
        expect(auth_check(&empty, PROVIDER_SENTRY, &c, NULL, 0),
               AUTH_FAILED, "sentry-signature", "signature does not match",
               false);
}

int main(int argc, char **argv)
{
        if (argc > 1)
                data_dir = argv[1];

        test_hmac_vectors();
        test_sha256();
        test_sentry_signature();
        test_bearer();
        test_basic();
        test_webhook_signature();
        test_query_token();
        test_order();
        test_off_and_nothing();
        return check_done();
}
