/* Who may deliver: HMAC signatures, Bearer tokens, Basic passwords and
 * URL tokens checked in constant time against a provider's current and
 * previous secret (DESIGN section 5). Hashing is GnuTLS's crypto API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* The credentials a request carries; each NULL when absent. Values are
 * not NUL-terminated: each comes with its length. */
typedef struct {
        const char *sentry_signature;  size_t sentry_signature_len;
        const char *authorization;     size_t authorization_len;
        const char *webhook_signature; size_t webhook_signature_len;
        const char *query_token;       size_t query_token_len;
} AuthCredentials;

typedef enum {
        AUTH_PASSED,
        AUTH_OFF,      /* no secret is configured for the provider */
        AUTH_FAILED,
} AuthResult;

typedef struct {
        AuthResult result;
        /* Which scheme was tried: "sentry-signature", "bearer", "basic",
         * "x-webhook-signature", "token", or "none". */
        const char *scheme;
        /* Why it failed, revealing nothing about the expected value:
         * "no credentials", "signature does not match", ...; NULL unless
         * result is AUTH_FAILED. */
        const char *reason;
        bool previous_secret; /* passed with the previous secret */
} AuthOutcome;

/* Checks the credentials of a request for provider p over the raw body
 * bytes. The Sentry signature header counts only for Sentry. The first
 * scheme present that passes wins; when none passes, the outcome names
 * the first one present. An Authorization header of another scheme counts
 * as absent ("unsupported Authorization scheme" when nothing else is
 * there). An empty secret matches nothing. */
AuthOutcome auth_check(const SecretPair *secrets, Provider p,
                       const AuthCredentials *cred,
                       const void *body, size_t len);

/* HMAC-SHA256 and SHA-256; return 0 or a negative errno. */
int auth_hmac_sha256(const void *key, size_t key_len, const void *msg,
                     size_t len, unsigned char out[32]);
int auth_sha256(const void *msg, size_t len, unsigned char out[32]);

/* Short fingerprint of a secret for the journal: the first 6 bytes of its
 * SHA-256 in hex (13 bytes with the NUL); "" for NULL. */
void auth_fingerprint(const char *secret, char out[13]);
