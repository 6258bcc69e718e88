/* The daemon's configuration: environment variables, or systemd
 * credentials named after them (DESIGN section 4), read once at start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* A provider's secret and the one it replaces during a rotation. */
typedef struct {
        char *current;   /* NULL: authentication off for this provider */
        char *previous;  /* NULL unless rotating */
} SecretPair;

typedef struct {
        char *database_url;
        SecretPair secrets[PROVIDER_COUNT];
        char *tls_cert_file;
        char *tls_key_file;
        char *tls_priority;
        bool tls;
        bool http2;
        unsigned handshake_timeout_ms;
        unsigned request_timeout_ms;
        unsigned idle_timeout_sec;
        unsigned answer_deadline_ms;
        char *state_directory;
        uint64_t spool_max_bytes;
        char *stride_project;
        char *project_map;
        char *stride_reporter;
        char *auto_resolve_status;
        char *reopen_status;
        size_t max_body_bytes;
        unsigned max_connections;
        unsigned max_requests_per_connection;
        unsigned auth_failures_per_minute;
        unsigned replay_window_sec;
        char *trusted_proxies;
} Config;

/* Fills c from the environment and $CREDENTIALS_DIRECTORY. On a bad value
 * returns -EINVAL with a malloc'd sentence in *ret_error naming the
 * variable and what it expects. */
int config_load(Config *c, char **ret_error);
void config_free(Config *c);

/* Is addr (text) one of TRUSTED_PROXIES (addresses or address/prefix,
 * separated by commas or spaces)? */
bool config_is_trusted_proxy(const Config *c, const char *addr);

/* The Stride project key PROJECT_MAP gives for a provider's own project
 * ("checkout-api" for Sentry, "service:billing" for Datadog, a policy name
 * for New Relic), or NULL. Writes into buf. */
const char *config_map_project(const Config *c, Provider p,
                               const char *provider_project,
                               char *buf, size_t size);
