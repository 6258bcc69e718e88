/* The environment and systemd credentials into one Config. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CREDENTIAL_MAX 65536

static int fail(char **ret_error, const char *format, ...)
        __attribute__((format(printf, 2, 3)));

static int fail(char **ret_error, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return -EINVAL;
}

/* WEBHOOK_SECRET is the credential "webhook-secret". */
static void credential_name(const char *var, char *out, size_t size)
{
        size_t i;

        for (i = 0; var[i] && i + 1 < size; i++)
                out[i] = var[i] == '_' ? '-' : (char) tolower((unsigned char) var[i]);
        out[i] = '\0';
}

static char *read_credential(const char *var)
{
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char name[128], path[PATH_MAX];
        char *buf;
        ssize_t n;
        int fd;

        if (!dir)
                return NULL;
        credential_name(var, name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;

        buf = malloc(CREDENTIAL_MAX + 1);
        n = buf ? read(fd, buf, CREDENTIAL_MAX) : -1;
        close(fd);
        if (n < 0) {
                free(buf);
                return NULL;
        }

        /* A credential written with echo ends in a newline that is not
         * part of the value. */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        buf[n] = '\0';
        return buf;
}

/* A credential wins over the environment: it is the deliberate, private
 * way of passing a value. */
static char *lookup(const char *var)
{
        char *v = read_credential(var);
        const char *e;

        if (v)
                return v;
        e = getenv(var);
        return e ? strdup(e) : NULL;
}

/* For the TLS files the credential is the file itself, not its name. */
static char *lookup_file(const char *var, const char *def)
{
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char name[128], *path;

        if (dir) {
                credential_name(var, name, sizeof(name));
                if (asprintf(&path, "%s/%s", dir, name) < 0)
                        return NULL;
                if (access(path, F_OK) == 0)
                        return path;
                free(path);
        }
        path = getenv(var) ? strdup(getenv(var)) : NULL;
        return path ? path : strdup(def);
}

static char *lookup_default(const char *var, const char *def)
{
        char *v = lookup(var);

        if (!v && def)
                v = strdup(def);
        return v;
}

static int parse_uint(const char *var, const char *def, uint64_t min,
                      uint64_t max, uint64_t *ret, char **ret_error)
{
        char *v = lookup_default(var, def), *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(v ? v : "", &end, 10);
        if (!v || !*v || *end || errno || v[0] == '-' || n < min || n > max) {
                int r = fail(ret_error, "%s=%s is not a whole number from %llu to %llu",
                             var, v ? v : "", (unsigned long long) min,
                             (unsigned long long) max);
                free(v);
                return r;
        }
        free(v);
        *ret = n;
        return 0;
}

static int parse_bool(const char *var, bool def, bool *ret, char **ret_error)
{
        char *v = lookup(var);
        int r = 0;

        if (!v)
                *ret = def;
        else if (!strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "true") || !strcmp(v, "1"))
                *ret = true;
        else if (!strcasecmp(v, "off") || !strcasecmp(v, "no") ||
                 !strcasecmp(v, "false") || !strcmp(v, "0"))
                *ret = false;
        else
                r = fail(ret_error, "%s=%s is neither on nor off", var, v);
        free(v);
        return r;
}

static bool blank(const char *s)
{
        for (; *s; s++)
                if (!isspace((unsigned char) *s))
                        return false;
        return true;
}

/* An empty secret would silently mean "authentication off"; refuse it. */
static int load_secret(const char *var, char **ret, char **ret_error)
{
        char *v = lookup(var);

        if (v && blank(v)) {
                free(v);
                return fail(ret_error, "%s is set but empty: set a long random value, "
                            "or unset it to turn authentication off", var);
        }
        *ret = v;
        return 0;
}

static int load_secrets(Config *c, char **ret_error)
{
        static const char *const vars[PROVIDER_COUNT] = {
                [PROVIDER_SENTRY] = "SENTRY_WEBHOOK_SECRET",
                [PROVIDER_DATADOG] = "DATADOG_WEBHOOK_SECRET",
                [PROVIDER_NEWRELIC] = "NEWRELIC_WEBHOOK_SECRET",
        };
        char *shared, *previous;
        int r;

        r = load_secret("WEBHOOK_SECRET", &shared, ret_error);
        if (r < 0)
                return r;
        r = load_secret("WEBHOOK_SECRET_PREVIOUS", &previous, ret_error);
        if (r < 0) {
                free(shared);
                return r;
        }

        for (int p = 0; p < PROVIDER_COUNT && r == 0; p++) {
                SecretPair *s = &c->secrets[p];

                r = load_secret(vars[p], &s->current, ret_error);
                if (r == 0 && !s->current && shared) {
                        s->current = strdup(shared);
                        s->previous = previous ? strdup(previous) : NULL;
                }
        }
        free(shared);
        free(previous);
        return r;
}

/* PROJECT_MAP is "provider:project=KEY,...". */
static int check_project_map(const char *map, char **ret_error)
{
        const char *p = map;

        while (p && *p) {
                const char *end = strchrnul(p, ',');
                const char *colon = memchr(p, ':', (size_t) (end - p));
                const char *eq = memrchr(p, '=', (size_t) (end - p));
                char name[16];
                Provider prov;
                size_t n;

                n = colon ? (size_t) (colon - p) : 0;
                if (n >= sizeof(name))
                        n = 0;
                memcpy(name, p, n);
                name[n] = '\0';
                if (!colon || !eq || eq < colon || eq == end - 1 ||
                    provider_from_name(name, &prov) < 0)
                        return fail(ret_error, "PROJECT_MAP entry \"%.*s\" is not of the "
                                    "form provider:project=KEY (provider sentry, datadog "
                                    "or newrelic)", (int) (end - p), p);
                p = *end ? end + 1 : end;
        }
        return 0;
}

const char *config_map_project(const Config *c, Provider prov,
                               const char *provider_project,
                               char *buf, size_t size)
{
        const char *name = provider_name(prov);
        const char *p = c->project_map;
        size_t name_len = strlen(name);

        if (!p || !provider_project)
                return NULL;

        while (*p) {
                const char *end = strchrnul(p, ',');
                const char *eq = memrchr(p, '=', (size_t) (end - p));
                const char *proj = p + name_len + 1;

                if (eq && (size_t) (end - p) > name_len + 1 &&
                    !strncmp(p, name, name_len) && p[name_len] == ':' &&
                    (size_t) (eq - proj) == strlen(provider_project) &&
                    !strncmp(proj, provider_project, (size_t) (eq - proj)) &&
                    (size_t) (end - eq) <= size) {
                        memcpy(buf, eq + 1, (size_t) (end - eq - 1));
                        buf[end - eq - 1] = '\0';
                        return buf;
                }
                p = *end ? end + 1 : end;
        }
        return NULL;
}

/* addr in text form against one TRUSTED_PROXIES entry: an address, or
 * an address/prefix. */
static bool in_network(const char *addr, const char *entry, size_t len)
{
        unsigned char a[16], n[16];
        char net[64];
        const char *slash = memchr(entry, '/', len);
        int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        long bits = family == AF_INET6 ? 128 : 32, max = bits;
        size_t nlen = slash ? (size_t) (slash - entry) : len;

        if (nlen >= sizeof(net))
                return false;
        memcpy(net, entry, nlen);
        net[nlen] = '\0';
        if (slash)
                bits = strtol(slash + 1, NULL, 10);
        if (bits < 0 || bits > max || inet_pton(family, addr, a) != 1 ||
            inet_pton(family, net, n) != 1)
                return false;
        for (long i = 0; i < bits; i++)
                if (((a[i / 8] ^ n[i / 8]) >> (7 - i % 8)) & 1)
                        return false;
        return true;
}

bool config_is_trusted_proxy(const Config *c, const char *addr)
{
        const char *p = c->trusted_proxies;

        while (p && *p) {
                size_t n;

                p += strspn(p, ", ");
                n = strcspn(p, ", ");
                if (n > 0 && in_network(addr, p, n))
                        return true;
                p += n;
        }
        return false;
}

static int load_numbers(Config *c, char **ret_error)
{
        uint64_t v;
        int r;

        if ((r = parse_uint("IDLE_TIMEOUT_SEC", "60", 0, 86400 * 365, &v, ret_error)) < 0)
                return r;
        c->idle_timeout_sec = (unsigned) v;
        if ((r = parse_uint("ANSWER_DEADLINE_MS", "500", 10, 60000, &v, ret_error)) < 0)
                return r;
        c->answer_deadline_ms = (unsigned) v;
        if ((r = parse_uint("SPOOL_MAX_BYTES", "268435456", 65536, UINT64_MAX, &v,
                            ret_error)) < 0)
                return r;
        c->spool_max_bytes = v;
        if ((r = parse_uint("MAX_BODY_BYTES", "4194304", 1024, 1024 * 1024 * 1024,
                            &v, ret_error)) < 0)
                return r;
        c->max_body_bytes = (size_t) v;
        if ((r = parse_uint("MAX_CONNECTIONS", "256", 1, 1000000, &v, ret_error)) < 0)
                return r;
        c->max_connections = (unsigned) v;
        if ((r = parse_uint("REPLAY_WINDOW_SEC", "86400", 0, 86400 * 365, &v,
                            ret_error)) < 0)
                return r;
        c->replay_window_sec = (unsigned) v;
        if ((r = parse_uint("TLS_HANDSHAKE_TIMEOUT_MS", "10000", 100, 600000, &v,
                            ret_error)) < 0)
                return r;
        c->handshake_timeout_ms = (unsigned) v;
        if ((r = parse_uint("REQUEST_TIMEOUT_MS", "10000", 100, 600000, &v,
                            ret_error)) < 0)
                return r;
        c->request_timeout_ms = (unsigned) v;
        if ((r = parse_uint("MAX_REQUESTS_PER_CONNECTION", "1000", 1, 1000000, &v,
                            ret_error)) < 0)
                return r;
        c->max_requests_per_connection = (unsigned) v;
        if ((r = parse_uint("AUTH_FAILURES_PER_MINUTE", "20", 1, 1000000, &v,
                            ret_error)) < 0)
                return r;
        c->auth_failures_per_minute = (unsigned) v;
        return 0;
}

static void load_strings(Config *c)
{
        c->database_url = lookup_default("DATABASE_URL", "postgresql:///stride");
        c->tls_cert_file = lookup_file("TLS_CERT_FILE",
                                       "/etc/stride-webhooks/tls/cert.pem");
        c->tls_key_file = lookup_file("TLS_KEY_FILE",
                                      "/etc/stride-webhooks/tls/key.pem");
        c->tls_priority = lookup("TLS_PRIORITY");
        c->state_directory = lookup_default("STATE_DIRECTORY",
                                            "/var/lib/stride-webhooks");
        c->stride_project = lookup("STRIDE_PROJECT");
        c->project_map = lookup("PROJECT_MAP");
        c->stride_reporter = lookup("STRIDE_REPORTER");
        c->auto_resolve_status = lookup("AUTO_RESOLVE_STATUS");
        c->reopen_status = lookup_default("REOPEN_STATUS", "Backlog");
        c->trusted_proxies = lookup("TRUSTED_PROXIES");

        /* systemd's StateDirectory= may list several folders with ':'. */
        if (c->state_directory)
                c->state_directory[strcspn(c->state_directory, ":")] = '\0';
}

int config_load(Config *c, char **ret_error)
{
        int r;

        *c = (Config) { 0 };
        *ret_error = NULL;
        load_strings(c);
        if (!c->database_url || !c->tls_cert_file || !c->tls_key_file ||
            !c->state_directory || !c->reopen_status) {
                config_free(c);
                return -ENOMEM;
        }

        r = load_numbers(c, ret_error);
        if (r == 0)
                r = parse_bool("TLS", true, &c->tls, ret_error);
        if (r == 0)
                r = parse_bool("HTTP2", false, &c->http2, ret_error);
        if (r == 0)
                r = load_secrets(c, ret_error);
        if (r == 0)
                r = check_project_map(c->project_map, ret_error);
        if (r < 0)
                config_free(c);
        return r;
}

void config_free(Config *c)
{
        free(c->database_url);
        for (int p = 0; p < PROVIDER_COUNT; p++) {
                free(c->secrets[p].current);
                free(c->secrets[p].previous);
        }
        free(c->tls_cert_file);
        free(c->tls_key_file);
        free(c->tls_priority);
        free(c->state_directory);
        free(c->stride_project);
        free(c->project_map);
        free(c->stride_reporter);
        free(c->auto_resolve_status);
        free(c->reopen_status);
        free(c->trusted_proxies);
        *c = (Config) { 0 };
}
