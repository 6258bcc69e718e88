/* stride-webhooks check without a database: the environment file as
 * systemd reads it, counting the spool, and the findings for the
 * certificate, the secrets and an unreachable database. The database
 * questions themselves run in the system test, against PostgreSQL.
 * Needs openssl for the certificates. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "../src/check.h"

static char dir[] = "/tmp/test_check.XXXXXX";

static const char *path(const char *name)
{
        static char buf[8][256];
        static int next;
        char *p = buf[next++ % 8];

        snprintf(p, 256, "%s/%s", dir, name);
        return p;
}

static void write_text(const char *name, const char *text)
{
        FILE *f = fopen(path(name), "w");

        if (!f) {
                perror(name);
                exit(1);
        }
        fputs(text, f);
        fclose(f);
}

/* The output of check_run for the environment file NAME, in a fresh
 * environment (setenv of an earlier run must not leak into this one). */
static char *run(const char *name, int *ret_status)
{
        static const char *const vars[] = {
                "DATABASE_URL", "WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS",
                "SENTRY_WEBHOOK_SECRET", "DATADOG_WEBHOOK_SECRET",
                "NEWRELIC_WEBHOOK_SECRET", "TLS_CERT_FILE", "TLS_KEY_FILE", "TLS",
                "TRUSTED_PROXIES", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY",
                "PROJECT_MAP", "STRIDE_PROJECT", "STRIDE_REPORTER",
        };
        char *out = NULL;
        size_t size = 0;
        FILE *f;

        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
                unsetenv(vars[i]);
        f = open_memstream(&out, &size);
        *ret_status = check_run(path(name), f);
        fclose(f);
        return out;
}

static void test_environment_file(void)
{
        int r;

        write_text("env", "# a comment\n"
                   "; another\n"
                   "\n"
                   "T_PLAIN=1\n"
                   "  T_SPACED = two words  \n"
                   "T_DOUBLE=\"quoted \\\"inner\\\" value\"\n"
                   "T_SINGLE='single \\ kept'\n"
                   "T_EMPTY=\n"
                   "T_KEPT=from the file\n"
                   "not a variable\n"
                   "9T=starts with a digit\n"
                   "T_OPEN=\"never closed\n");
        setenv("T_KEPT", "from the environment", 1);
        unsetenv("T_OPEN");

        r = check_load_environment_file(path("env"), stderr);
        check_int(r, 3);
        check_str(getenv("T_PLAIN"), "1");
        check_str(getenv("T_SPACED"), "two words");
        check_str(getenv("T_DOUBLE"), "quoted \"inner\" value");
        check_str(getenv("T_SINGLE"), "single \\ kept");
        check_str(getenv("T_EMPTY"), "");
        check_str(getenv("T_KEPT"), "from the environment");
        check(getenv("T_OPEN") == NULL);
        check(getenv("9T") == NULL);

        check_int(check_load_environment_file(path("missing"), stderr), -ENOENT);
}

static void test_count_files(void)
{
        check_int(check_count_files(path("nothing-here")), 0);

        mkdir(path("spool"), 0700);
        check_int(check_count_files(path("spool")), 0);
        write_text("spool/0001", "x");
        write_text("spool/0002", "y");
        write_text("spool/.0003.tmp", "being written");
        mkdir(path("spool/sub"), 0700);
        check_int(check_count_files(path("spool")), 2);
}

static bool make_cert(const char *cert, const char *key)
{
        char cmd[1024];

        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout %s -out %s -days 30 -subj /CN=localhost 2>/dev/null",
                 path(key), path(cert));
        return system(cmd) == 0;
}

/* Missing files, no database, no secret: every problem on a line of its
 * own, and exit status 1. */
static void test_nothing_configured(void)
{
        char conf[1024];
        char *out;
        int status;

        snprintf(conf, sizeof(conf),
                 "TLS_CERT_FILE=%s\nTLS_KEY_FILE=%s\n"
                 "DATABASE_URL=host=%s dbname=stride connect_timeout=2\n"
                 "STATE_DIRECTORY=%s\n",
                 path("no-cert.pem"), path("no-key.pem"), path("no-pg"), dir);
        write_text("empty.conf", conf);
        chmod(path("empty.conf"), 0640);

        out = run("empty.conf", &status);
        check_int(status, 1);
        check_contains(out, "error   TLS certificate ");
        check_contains(out, "no-cert.pem is missing: put the server's certificate");
        check_contains(out, "no-key.pem is missing: put the certificate's private key");
        check_contains(out, "warning no secret for sentry: its deliveries are accepted "
                       "without authentication; set WEBHOOK_SECRET or SENTRY_WEBHOOK_SECRET");
        check_contains(out, "warning no secret for newrelic");
        check_contains(out, "error   database unavailable: ");
        check_contains(out, "check DATABASE_URL");
        check_contains(out, "warning 2 deliveries wait in the spool ");
        check_contains(out, "stride-webhooks would not serve: 3 error(s), 5 warning(s)\n");
        free(out);
}

/* A certificate and key that match; secrets set but never printed. */
static void test_certificate_and_secrets(void)
{
        char conf[1024];
        char *out;
        int status;

        if (!make_cert("cert.pem", "key.pem") || !make_cert("other.pem", "other-key.pem")) {
                fprintf(stderr, "openssl cannot make certificates: TLS checks skipped\n");
                check(false);
                return;
        }
        chmod(path("key.pem"), 0644);
        snprintf(conf, sizeof(conf),
                 "TLS_CERT_FILE=%s\nTLS_KEY_FILE=%s\n"
                 "WEBHOOK_SECRET=\"a-long-shared-secret-value\"\n"
                 "DATADOG_WEBHOOK_SECRET=short\n"
                 "DATABASE_URL=host=%s dbname=stride\n",
                 path("cert.pem"), path("key.pem"), path("no-pg"));
        write_text("tls.conf", conf);
        chmod(path("tls.conf"), 0644);

        out = run("tls.conf", &status);
        check_int(status, 1);  /* the database is still missing */
        /* 30 days from the second openssl ran, rounded down. */
        check(strstr(out, "match; the certificate is valid for 29 more days\n") ||
              strstr(out, "match; the certificate is valid for 30 more days\n"));
        check_contains(out, "warning TLS_CERT_FILE or TLS_KEY_FILE names another file");
        check_contains(out, "is readable by others (mode 0644): chmod 600");
        check_contains(out, "tls.conf is readable by every user and may hold secrets");
        check_contains(out, "ok      secret for sentry is set (WEBHOOK_SECRET)\n");
        check_contains(out, "ok      secret for datadog is set (DATADOG_WEBHOOK_SECRET)\n");
        check_contains(out, "warning the secret for datadog is shorter than 16 characters");
        check(strstr(out, "a-long-shared-secret-value") == NULL);
        check(strstr(out, "short\n") == NULL);
        free(out);

        /* The key of another certificate. */
        snprintf(conf, sizeof(conf), "TLS_CERT_FILE=%s\nTLS_KEY_FILE=%s\n"
                 "DATABASE_URL=host=%s dbname=stride\n",
                 path("cert.pem"), path("other-key.pem"), path("no-pg"));
        write_text("mismatch.conf", conf);
        out = run("mismatch.conf", &status);
        check_int(status, 1);
        check_contains(out, "other-key.pem does not match the certificate");
        free(out);
}

static void test_bad_configuration(void)
{
        char *out;
        int status;

        write_text("bad.conf", "WEBHOOK_SECRET=\"  \"\n");
        out = run("bad.conf", &status);
        check_int(status, 1);
        check_contains(out, "error   WEBHOOK_SECRET is set but empty");
        check_contains(out, "correct it in ");
        free(out);

        out = run("does-not-exist.conf", &status);
        check_int(status, 1);
        check_contains(out, "error   cannot read ");
        free(out);
}

static void test_tls_off(void)
{
        char conf[512];
        char *out;
        int status;

        snprintf(conf, sizeof(conf), "TLS=off\nDATABASE_URL=host=%s dbname=stride\n",
                 path("no-pg"));
        write_text("off.conf", conf);
        out = run("off.conf", &status);
        check_contains(out, "ok      TLS=off: plain HTTP");
        check_contains(out, "warning TRUSTED_PROXIES is unset");
        check(strstr(out, "TLS certificate") == NULL);
        free(out);
}

int main(int argc, char **argv)
{
        char cmd[64];

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_environment_file();
        test_count_files();
        test_nothing_configured();
        test_certificate_and_secrets();
        test_bad_configuration();
        test_tls_off();

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return check_done();
}
