/* The environment and credentials into a Config: defaults, refusals of
 * bad values, secrets and their precedence, PROJECT_MAP, TRUSTED_PROXIES. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static const char *const vars[] = {
        "DATABASE_URL", "WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS", "SENTRY_WEBHOOK_SECRET",
        "DATADOG_WEBHOOK_SECRET", "NEWRELIC_WEBHOOK_SECRET", "TLS", "HTTP2",
        "IDLE_TIMEOUT_SEC", "PROJECT_MAP", "TRUSTED_PROXIES", "CREDENTIALS_DIRECTORY",
        "TLS_CERT_FILE", "TLS_KEY_FILE", "STATE_DIRECTORY", "MAX_BODY_BYTES",
};

static void clear_env(void)
{
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
                unsetenv(vars[i]);
}

static int load(Config *c, char **err)
{
        *err = NULL;
        return config_load(c, err);
}

static void test_defaults(void)
{
        Config c;
        char *err;

        clear_env();
        check_int(load(&c, &err), 0);
        check_str(c.database_url, "postgresql:///stride");
        check_str(c.tls_cert_file, "/etc/stride-webhooks/tls/cert.pem");
        check_str(c.state_directory, "/var/lib/stride-webhooks");
        check_str(c.reopen_status, "Backlog");
        check(c.tls);
        check(!c.http2);
        check_int(c.idle_timeout_sec, 60);
        check_int(c.answer_deadline_ms, 500);
        check_int(c.max_body_bytes, 4194304);
        check_int(c.max_connections, 256);
        check_int(c.replay_window_sec, 86400);
        check(c.secrets[PROVIDER_SENTRY].current == NULL);
        config_free(&c);
}

static void test_refusals(void)
{
        Config c;
        char *err;

        clear_env();
        setenv("IDLE_TIMEOUT_SEC", "soon", 1);
        check_int(load(&c, &err), -EINVAL);
        check_contains(err, "IDLE_TIMEOUT_SEC=soon");
        free(err);

        clear_env();
        setenv("TLS", "maybe", 1);
        check_int(load(&c, &err), -EINVAL);
        check_contains(err, "TLS=maybe");
        free(err);

        clear_env();
        setenv("WEBHOOK_SECRET", "  \t", 1);
        check_int(load(&c, &err), -EINVAL);
        check_contains(err, "WEBHOOK_SECRET is set but empty");
        free(err);

        clear_env();
        setenv("PROJECT_MAP", "sentry=SHOP", 1);
        check_int(load(&c, &err), -EINVAL);
        check_contains(err, "PROJECT_MAP entry \"sentry=SHOP\"");
        free(err);

        clear_env();
        setenv("PROJECT_MAP", "jira:x=SHOP", 1);
        check_int(load(&c, &err), -EINVAL);
        free(err);
}

static void test_secrets(void)
{
        Config c;
        char *err;

        clear_env();
        setenv("WEBHOOK_SECRET", "shared", 1);
        setenv("WEBHOOK_SECRET_PREVIOUS", "old", 1);
        setenv("DATADOG_WEBHOOK_SECRET", "dd-own", 1);
        check_int(load(&c, &err), 0);
        check_str(c.secrets[PROVIDER_SENTRY].current, "shared");
        check_str(c.secrets[PROVIDER_SENTRY].previous, "old");
        check_str(c.secrets[PROVIDER_NEWRELIC].current, "shared");
        check_str(c.secrets[PROVIDER_DATADOG].current, "dd-own");
        check(c.secrets[PROVIDER_DATADOG].previous == NULL);
        config_free(&c);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        fputs(text, f);
        fclose(f);
}

static void test_credentials(void)
{
        char dir[] = "/tmp/stride-cred.XXXXXX", path[256];
        Config c;
        char *err;

        check(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/webhook-secret", dir);
        write_file(path, "from-credential\n");
        snprintf(path, sizeof(path), "%s/tls-key-file", dir);
        write_file(path, "-----BEGIN PRIVATE KEY-----\n");

        clear_env();
        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        setenv("WEBHOOK_SECRET", "from-environment", 1);
        check_int(load(&c, &err), 0);
        /* The credential wins, without its trailing newline. */
        check_str(c.secrets[PROVIDER_SENTRY].current, "from-credential");
        /* For the TLS files the credential is the file. */
        check_str(c.tls_key_file, path);
        check_str(c.tls_cert_file, "/etc/stride-webhooks/tls/cert.pem");
        config_free(&c);

        unlink(path);
        snprintf(path, sizeof(path), "%s/webhook-secret", dir);
        unlink(path);
        rmdir(dir);
}

static void test_project_map(void)
{
        Config c;
        char *err, buf[64];

        clear_env();
        setenv("PROJECT_MAP", "sentry:checkout-api=SHOP,datadog:service:billing=BILL,"
               "newrelic:Checkout policy=SHOP", 1);
        check_int(load(&c, &err), 0);
        check_str(config_map_project(&c, PROVIDER_SENTRY, "checkout-api", buf, sizeof(buf)),
                  "SHOP");
        check_str(config_map_project(&c, PROVIDER_DATADOG, "service:billing", buf,
                                     sizeof(buf)), "BILL");
        check_str(config_map_project(&c, PROVIDER_NEWRELIC, "Checkout policy", buf,
                                     sizeof(buf)), "SHOP");
        check(config_map_project(&c, PROVIDER_SENTRY, "checkout", buf, sizeof(buf)) == NULL);
        check(config_map_project(&c, PROVIDER_DATADOG, "checkout-api", buf, sizeof(buf)) ==
              NULL);
        check(config_map_project(&c, PROVIDER_SENTRY, NULL, buf, sizeof(buf)) == NULL);
        config_free(&c);
}

static void test_trusted_proxies(void)
{
        Config c;
        char *err;

        clear_env();
        setenv("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1", 1);
        check_int(load(&c, &err), 0);
        check(config_is_trusted_proxy(&c, "127.0.0.1"));
        check(!config_is_trusted_proxy(&c, "127.0.0.2"));
        check(config_is_trusted_proxy(&c, "10.200.3.4"));
        check(!config_is_trusted_proxy(&c, "11.0.0.1"));
        check(config_is_trusted_proxy(&c, "::1"));
        check(!config_is_trusted_proxy(&c, "::2"));
        check(!config_is_trusted_proxy(&c, "unknown"));
        config_free(&c);
}

int main(void)
{
        test_defaults();
        test_refusals();
        test_secrets();
        test_credentials();
        test_project_map();
        test_trusted_proxies();
        return check_done();
}
