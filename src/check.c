/* stride-webhooks check: the configuration the unit would give the
 * daemon, checked piece by piece, one line per finding. */
#include "check.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "tls.h"

#define CHECK_DAYS_WARN 21
#define CHECK_SECRET_MIN 16
#define CHECK_DEFAULT_CERT "/etc/stride-webhooks/tls/cert.pem"
#define CHECK_DEFAULT_KEY "/etc/stride-webhooks/tls/key.pem"

typedef struct {
        FILE *out;
        unsigned errors;
        unsigned warnings;
} Check;

static void finding(Check *k, int priority, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

static void finding(Check *k, int priority, const char *format, ...)
{
        const char *word = "ok";
        va_list ap;

        if (priority <= LOG_ERR) {
                word = "error";
                k->errors++;
        } else if (priority == LOG_WARNING) {
                word = "warning";
                k->warnings++;
        }
        fprintf(k->out, "%-8s", word);
        va_start(ap, format);
        vfprintf(k->out, format, ap);
        va_end(ap);
        fputc('\n', k->out);
}

/* ---- the environment file ---- */

static bool env_name_valid(const char *s)
{
        if (!*s || isdigit((unsigned char) *s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '_')
                        return false;
        return true;
}

static char *trim(char *s)
{
        char *end;

        while (isspace((unsigned char) *s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char) end[-1]))
                *--end = '\0';
        return s;
}

/* A quoted value loses its quotes; in double quotes a backslash keeps
 * the next character, as systemd reads it. False when the closing quote
 * is missing or text follows it. */
static bool unquote(char *v)
{
        char quote = *v, *w = v;
        const char *r = v + 1;

        if (quote != '"' && quote != '\'')
                return true;
        for (; *r && *r != quote; r++) {
                if (quote == '"' && *r == '\\' && r[1])
                        r++;
                *w++ = *r;
        }
        if (*r != quote || r[1])
                return false;
        *w = '\0';
        return true;
}

/* One line: 1 when systemd would ignore it, else 0. */
static int env_line(char *line)
{
        char *s = trim(line), *eq, *key, *value;

        if (!*s || *s == '#' || *s == ';')
                return 0;
        eq = strchr(s, '=');
        if (!eq)
                return 1;
        *eq = '\0';
        key = trim(s);
        value = trim(eq + 1);
        if (!env_name_valid(key) || !unquote(value))
                return 1;
        setenv(key, value, 0);
        return 0;
}

int check_load_environment_file(const char *path, FILE *out)
{
        char *line = NULL;
        size_t size = 0;
        unsigned lineno = 0;
        int ignored = 0;
        FILE *f;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) >= 0) {
                lineno++;
                if (env_line(line) == 0)
                        continue;
                ignored++;
                fprintf(out, "%-8s%s line %u is not KEY=VALUE (or its quotes do "
                        "not close): systemd ignores it; correct or remove it\n",
                        "warning", path, lineno);
        }
        free(line);
        fclose(f);
        return ignored;
}

static void check_environment_file(Check *k, const char *path)
{
        const char *file = path ? path : CHECK_CONFIG_FILE;
        struct stat st;
        int r;

        r = check_load_environment_file(file, k->out);
        if (r == -ENOENT && !path) {
                finding(k, LOG_WARNING, "%s does not exist: only the environment "
                        "is checked; the package installs a commented one", file);
                return;
        }
        if (r < 0) {
                finding(k, LOG_ERR, "cannot read %s: %s", file, strerror(-r));
                return;
        }
        k->warnings += (unsigned) r;
        finding(k, LOG_INFO, "configuration read from %s (variables already in "
                "the environment win)", file);
        if (stat(file, &st) == 0 && (st.st_mode & S_IROTH))
                finding(k, LOG_WARNING, "%s is readable by every user and may hold "
                        "secrets: chmod 640 %s", file, file);
}

/* ---- TLS ---- */

static bool readable(Check *k, const char *what, const char *path)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd >= 0) {
                close(fd);
                return true;
        }
        if (errno == ENOENT)
                finding(k, LOG_ERR, "TLS %s %s is missing: put the %s there (PEM); "
                        "the service does not start without it", what, path,
                        strcmp(what, "key") ? "server's certificate, with its chain,"
                        : "certificate's private key");
        else
                finding(k, LOG_ERR, "cannot read the TLS %s %s: %s", what, path,
                        strerror(errno));
        return false;
}

/* The unit hands the default paths to the daemon as credentials, and a
 * credential wins over the variable, so another path in the file would
 * be checked here and ignored there. */
static void check_tls_paths(Check *k)
{
        const char *cert = getenv("TLS_CERT_FILE"), *key = getenv("TLS_KEY_FILE");

        if ((cert && strcmp(cert, CHECK_DEFAULT_CERT)) ||
            (key && strcmp(key, CHECK_DEFAULT_KEY)))
                finding(k, LOG_WARNING, "TLS_CERT_FILE or TLS_KEY_FILE names another "
                        "file, but the unit passes %s and %s as credentials, which "
                        "win: change LoadCredential= in a drop-in instead",
                        CHECK_DEFAULT_CERT, CHECK_DEFAULT_KEY);
}

static void check_key_mode(Check *k, const char *path)
{
        struct stat st;

        if (stat(path, &st) == 0 && (st.st_mode & 077))
                finding(k, LOG_WARNING, "TLS key %s is readable by others (mode "
                        "%04o): chmod 600 %s", path, (unsigned) (st.st_mode & 07777),
                        path);
}

static void check_expiry(Check *k, const Config *c, long days)
{
        if (days < 0)
                finding(k, LOG_ERR, "TLS certificate %s expired %ld day(s) ago: "
                        "renew it, then restart stride-webhooks.service",
                        c->tls_cert_file, -days);
        else if (days < CHECK_DAYS_WARN)
                finding(k, LOG_WARNING, "TLS certificate %s expires in %ld day(s): "
                        "renew it soon", c->tls_cert_file, days);
        else
                finding(k, LOG_INFO, "TLS certificate %s and key %s match; the "
                        "certificate is valid for %ld more days",
                        c->tls_cert_file, c->tls_key_file, days);
}

static void check_tls(Check *k, const Config *c)
{
        TlsServer *t = NULL;
        char *err = NULL;
        bool cert_ok, key_ok;

        if (!c->tls) {
                finding(k, LOG_INFO, "TLS=off: plain HTTP, for a web server on this "
                        "host that proxies /api/webhooks/ (the socket must listen "
                        "on loopback only)");
                if (!c->trusted_proxies)
                        finding(k, LOG_WARNING, "TRUSTED_PROXIES is unset: the "
                                "journal shows the proxy's address as REMOTE_ADDR; "
                                "set TRUSTED_PROXIES=127.0.0.1");
                return;
        }

        check_tls_paths(k);
        cert_ok = readable(k, "certificate", c->tls_cert_file);
        key_ok = readable(k, "key", c->tls_key_file);
        if (!cert_ok || !key_ok)
                return;
        check_key_mode(k, c->tls_key_file);

        if (tls_server_new(&t, c, &err) < 0) {
                finding(k, LOG_ERR, "%s: the service cannot start until this is "
                        "fixed", err ? err : "TLS cannot start");
                free(err);
                return;
        }
        check_expiry(k, c, tls_server_days_left(t));
        tls_server_free(t);
}

/* ---- secrets ---- */

/* Whether var comes from the environment or a credential; never what it
 * is. */
static bool variable_set(const char *var)
{
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char path[PATH_MAX];
        size_t n;

        if (getenv(var))
                return true;
        if (!dir)
                return false;
        n = (size_t) snprintf(path, sizeof(path), "%s/", dir);
        for (size_t i = 0; var[i] && n + 1 < sizeof(path); i++)
                path[n++] = var[i] == '_' ? '-' : (char) tolower((unsigned char) var[i]);
        path[n] = '\0';
        return access(path, F_OK) == 0;
}

static void check_secrets(Check *k, const Config *c)
{
        static const char *const vars[PROVIDER_COUNT] = {
                [PROVIDER_SENTRY] = "SENTRY_WEBHOOK_SECRET",
                [PROVIDER_DATADOG] = "DATADOG_WEBHOOK_SECRET",
                [PROVIDER_NEWRELIC] = "NEWRELIC_WEBHOOK_SECRET",
        };

        for (int p = 0; p < PROVIDER_COUNT; p++) {
                const SecretPair *s = &c->secrets[p];
                const char *name = provider_name((Provider) p);

                if (!s->current) {
                        finding(k, LOG_WARNING, "no secret for %s: its deliveries "
                                "are accepted without authentication; set "
                                "WEBHOOK_SECRET or %s", name, vars[p]);
                        continue;
                }
                finding(k, LOG_INFO, "secret for %s is set (%s)%s", name,
                        variable_set(vars[p]) ? vars[p] : "WEBHOOK_SECRET",
                        s->previous ? "; WEBHOOK_SECRET_PREVIOUS is accepted too" : "");
                if (strlen(s->current) < CHECK_SECRET_MIN)
                        finding(k, LOG_WARNING, "the secret for %s is shorter than "
                                "%d characters: use a long random one (openssl "
                                "rand -hex 32)", name, CHECK_SECRET_MIN);
        }
}

/* ---- the database ---- */

static void on_store_finding(int priority, const char *line, void *data)
{
        finding(data, priority, "%s", line);
}

/* The Stride keys of PROJECT_MAP's entries ("provider:project=KEY"),
 * each once; config_load has checked the form. */
static size_t project_map_keys(const char *map, char ***ret)
{
        char **keys = NULL;
        size_t n = 0;

        for (const char *p = map; p && *p;) {
                const char *end = strchrnul(p, ',');
                const char *eq = memrchr(p, '=', (size_t) (end - p));
                char **grown;

                p = *end ? end + 1 : end;
                if (!eq || !(grown = realloc(keys, (n + 1) * sizeof(*keys))))
                        continue;
                keys = grown;
                keys[n] = strndup(eq + 1, (size_t) (end - eq - 1));
                for (size_t i = 0; keys[n] && i < n; i++)
                        if (!strcmp(keys[i], keys[n])) {
                                free(keys[n]);
                                keys[n] = NULL;
                        }
                if (keys[n])
                        n++;
        }
        *ret = keys;
        return n;
}

static void check_database(Check *k, const Config *c)
{
        char **keys = NULL;
        size_t n = project_map_keys(c->project_map, &keys);

        store_check(c, (const char *const *) keys, n, on_store_finding, k);
        for (size_t i = 0; i < n; i++)
                free(keys[i]);
        free(keys);
}

/* ---- the spool ---- */

long check_count_files(const char *dir)
{
        struct dirent *e;
        long n = 0;
        DIR *d;

        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((e = readdir(d))) {
                struct stat st;

                if (e->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(st.st_mode))
                        n++;
        }
        closedir(d);
        return n;
}

static void check_spool(Check *k, const Config *c)
{
        char spool[PATH_MAX], dead[PATH_MAX];
        long queued, letters;

        snprintf(spool, sizeof(spool), "%s/spool", c->state_directory);
        snprintf(dead, sizeof(dead), "%s/dead", c->state_directory);
        queued = check_count_files(spool);
        letters = check_count_files(dead);

        if (queued < 0)
                finding(k, LOG_WARNING, "cannot read the spool %s: %s", spool,
                        strerror((int) -queued));
        else if (queued > 0)
                finding(k, LOG_WARNING, "%ld deliveries wait in the spool %s: the "
                        "service stores them once it runs and the database "
                        "answers", queued, spool);
        else
                finding(k, LOG_INFO, "nothing waits in the spool %s", spool);

        if (letters < 0)
                finding(k, LOG_WARNING, "cannot read the dead letters %s: %s", dead,
                        strerror((int) -letters));
        else if (letters > 0)
                finding(k, LOG_WARNING, "%ld dead letters in %s: the database "
                        "refused them; journalctl MESSAGE_ID=%s says why; move "
                        "them away once handled", letters, dead,
                        log_message_id(LOGID_DEAD_LETTER));
}

/* ---- all of it ---- */

static int summary(const Check *k)
{
        if (k->errors > 0) {
                fprintf(k->out, "stride-webhooks would not serve: %u error(s), "
                        "%u warning(s)\n", k->errors, k->warnings);
                return 1;
        }
        fprintf(k->out, "stride-webhooks would serve: %u warning(s)\n", k->warnings);
        return 0;
}

int check_run(const char *config_file, FILE *out)
{
        Check k = { .out = out };
        char *err = NULL;
        Config c;
        int r;

        check_environment_file(&k, config_file);
        r = config_load(&c, &err);
        if (r < 0) {
                finding(&k, LOG_ERR, "%s: correct it in %s",
                        err ? err : strerror(-r),
                        config_file ? config_file : CHECK_CONFIG_FILE);
                free(err);
                return summary(&k);
        }

        check_tls(&k, &c);
        check_secrets(&k, &c);
        check_database(&k, &c);
        check_spool(&k, &c);
        config_free(&c);
        return summary(&k);
}
