/* The command line, the sockets systemd passes, sd_notify, the loop and
 * the idle exit. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "check.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "spool.h"
#include "store.h"
#include "tls.h"

#define MAX_LISTENERS 16
#define DRAIN_SEC 10
#define CERT_WARN_DAYS 14
#define QUIET_MS 1000

typedef struct {
        Config config;
        h2o_loop_t *loop;
        Http *http;
        Store *store;
        Spool *spool;
        TlsServer *tls;
        h2o_socket_t *listeners[MAX_LISTENERS];
        size_t n_listeners;
        bool activated;     /* the sockets came from systemd */
        bool accepting;
        unsigned idle_exit_sec;  /* 0: never */
} Server;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        stop_requested = sig;
}

static void usage(FILE *f)
{
        fputs("usage: stride-webhooks serve [--listen ADDR:PORT]\n"
              "       stride-webhooks migrate [--stride-schema]\n"
              "       stride-webhooks check [--config FILE]\n"
              "       stride-webhooks --version\n"
              "\n"
              "serve    receive webhooks on the sockets systemd passes, or on\n"
              "         --listen ADDR:PORT (development and tests)\n"
              "migrate  create or upgrade the daemon's schema in DATABASE_URL;\n"
              "         --stride-schema also creates Stride's tables it writes\n"
              "check    check the configuration the unit gives the daemon (FILE:\n"
              "         default /etc/stride-webhooks/stride-webhooks.conf)\n"
              "\n"
              "Configuration comes from the environment: see stride-webhooks(8).\n", f);
}

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t now_sec(void)
{
        return now_ms() / 1000;
}

/* ---- Sockets ---- */

static int bind_listen(const char *spec)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
        char host[256];
        const char *colon = strrchr(spec, ':');
        struct addrinfo *ai;
        int fd, one = 1, r;
        size_t n;

        if (!colon || colon == spec)
                return -EINVAL;
        n = (size_t) (colon - spec);
        if (spec[0] == '[' && n > 2 && spec[n - 1] == ']') {
                spec++;
                n -= 2;
        }
        if (n >= sizeof(host))
                return -EINVAL;
        memcpy(host, spec, n);
        host[n] = '\0';

        r = getaddrinfo(host, colon + 1, &hints, &ai);
        if (r != 0)
                return -EINVAL;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
                        r = -errno;
                        close(fd);
                        fd = r;
                }
        } else {
                fd = -errno;
        }
        freeaddrinfo(ai);
        return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err);

static int add_listener(Server *s, int fd)
{
        h2o_socket_t *sock;

        if (s->n_listeners == MAX_LISTENERS)
                return -EMFILE;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        sock = h2o_evloop_socket_create(s->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        sock->data = s;
        s->listeners[s->n_listeners++] = sock;
        return 0;
}

static int open_listeners(Server *s, const char *listen_spec)
{
        int n = sd_listen_fds(1), fd;

        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                if (add_listener(s, SD_LISTEN_FDS_START + i) < 0)
                        return -EMFILE;
        s->activated = n > 0;
        if (n > 0 || !listen_spec)
                return n > 0 ? 0 : -ENOENT;

        fd = bind_listen(listen_spec);
        if (fd < 0)
                return fd;
        return add_listener(s, fd);
}

static void set_accepting(Server *s, bool on)
{
        if (s->accepting == on)
                return;
        for (size_t i = 0; i < s->n_listeners; i++) {
                if (on)
                        h2o_socket_read_start(s->listeners[i], on_accept);
                else
                        h2o_socket_read_stop(s->listeners[i]);
        }
        s->accepting = on;
}

/* Past MAX_CONNECTIONS new connections wait in the socket's backlog. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
        Server *s = listener->data;
        h2o_socket_t *sock;

        if (err)
                return;
        while (http_connections(s->http) < s->config.max_connections &&
               (sock = h2o_evloop_socket_accept(listener)) != NULL)
                http_accept(s->http, sock);
        if (http_connections(s->http) >= s->config.max_connections)
                set_accepting(s, false);
}

/* ---- serve ---- */

static void warn_configuration(const Config *c)
{
        for (int p = 0; p < PROVIDER_COUNT; p++) {
                LogField f[] = { { "PROVIDER", provider_name((Provider) p) } };

                if (!c->secrets[p].current)
                        log_fields(LOG_WARNING, LOGID_CONFIG, f,
                                   "no webhook secret for %s: its deliveries are accepted "
                                   "without authentication; set WEBHOOK_SECRET or %s",
                                   provider_name((Provider) p),
                                   p == PROVIDER_SENTRY ? "SENTRY_WEBHOOK_SECRET" :
                                   p == PROVIDER_DATADOG ? "DATADOG_WEBHOOK_SECRET" :
                                   "NEWRELIC_WEBHOOK_SECRET");
        }
}

static int load_tls(Server *s)
{
        char *err = NULL;
        long days;
        int r;

        if (!s->config.tls)
                return 0;
        r = tls_server_new(&s->tls, &s->config, &err);
        if (r < 0) {
                log_plain(LOG_ERR, LOGID_TLS_FAILURE, "webhook receiver cannot start TLS: %s",
                          err ? err : strerror(-r));
                free(err);
                return r;
        }
        days = tls_server_days_left(s->tls);
        if (days < 0)
                log_plain(LOG_WARNING, LOGID_TLS_FAILURE, "webhook TLS certificate %s "
                          "expired %ld days ago: providers refuse it; renew it, then "
                          "systemctl restart stride-webhooks", s->config.tls_cert_file, -days);
        else if (days < CERT_WARN_DAYS)
                log_plain(LOG_WARNING, LOGID_TLS_FAILURE, "webhook TLS certificate %s "
                          "expires in %ld days: renew it, then systemctl restart "
                          "stride-webhooks (connections wait in the socket meanwhile)",
                          s->config.tls_cert_file, days);
        return 0;
}

static int start(Server *s, const char *listen_spec)
{
        char *err = NULL;
        int r;

        r = config_load(&s->config, &err);
        if (r < 0) {
                log_plain(LOG_ERR, LOGID_CONFIG, "webhook receiver not started: %s",
                          err ? err : strerror(-r));
                free(err);
                return r;
        }
        warn_configuration(&s->config);

        s->loop = h2o_evloop_create();
        r = open_listeners(s, listen_spec);
        if (r < 0) {
                log_plain(LOG_ERR, LOGID_CONFIG, "webhook receiver has no socket: %s",
                          r == -ENOENT ? "start it through stride-webhooks.socket, or "
                          "pass --listen ADDR:PORT" : strerror(-r));
                return r;
        }
        if ((r = load_tls(s)) < 0)
                return r;
        if ((r = http_new(&s->http, &s->config, s->loop, s->tls)) < 0)
                return r;
        r = store_start(&s->store, &s->config, http_on_stored, s->http);
        if (r < 0) {
                log_plain(LOG_ERR, LOGID_CONFIG, "webhook receiver cannot start its "
                          "database thread: %s", strerror(-r));
                return r;
        }
        r = spool_open(&s->spool, &s->config, s->store, &err);
        if (r < 0) {
                /* Still serve what the database commits in time; the rest
                 * gets 503, which Datadog and published Sentry apps retry. */
                log_plain(LOG_ERR, LOGID_CONFIG, "webhook spool unusable, so deliveries "
                          "the database cannot take in time get 503: %s",
                          err ? err : strerror(-r));
                free(err);
        }
        http_use_store(s->http, s->store, s->spool);
        set_accepting(s, true);
        return 0;
}

/* Spooled alerts keep the daemon up until replay has stored them. */
static bool busy(const Server *s)
{
        return http_connections(s->http) > 0 || http_in_flight(s->http) > 0 ||
               (s->spool && spool_pending(s->spool) > 0);
}

/* Runs until a signal, or until nothing has happened for
 * IDLE_TIMEOUT_SEC; returns true for an idle exit. */
static bool run(Server *s)
{
        uint64_t last_busy = now_sec();

        while (!stop_requested) {
                h2o_evloop_run(s->loop, 1000);
                if (busy(s))
                        last_busy = now_sec();
                if (http_connections(s->http) < s->config.max_connections)
                        set_accepting(s, true);
                if (s->idle_exit_sec > 0 && !busy(s) &&
                    now_sec() - last_busy >= s->idle_exit_sec)
                        return true;
        }
        return false;
}

/* Stops accepting (what arrives now waits in the socket for the next
 * process) and gives what is in flight up to DRAIN_SEC to be answered or
 * spooled; then open connections get a moment to send what they were
 * sending before they are closed. */
static void drain(Server *s)
{
        uint64_t until = now_sec() + DRAIN_SEC, quiet = 0;

        set_accepting(s, false);
        http_shutdown(s->http);
        while (now_sec() < until) {
                if (http_in_flight(s->http) > 0)
                        quiet = 0;
                else if (http_connections(s->http) == 0)
                        break;
                else if (quiet == 0)
                        quiet = now_ms();
                else if (now_ms() - quiet >= QUIET_MS)
                        break;
                h2o_evloop_run(s->loop, 50);
        }
}

/* The order matters: no request may reach the store or the spool once
 * they stop, and h2o's context may go only without connections (else the
 * exit frees what they hold). */
static void stop(Server *s)
{
        for (size_t i = 0; i < s->n_listeners; i++)
                h2o_socket_close(s->listeners[i]);
        if (s->http)
                http_close(s->http);
        /* Ending the open TLS connections calls back into http.c; their
         * h2o ends close on the next turns of the loop. */
        tls_server_free(s->tls);
        for (int i = 0; i < 20 && s->http && !http_can_free(s->http); i++)
                h2o_evloop_run(s->loop, 10);
        if (s->spool)
                spool_close(s->spool);
        if (s->store)
                store_stop(s->store);
        if (!s->http || http_can_free(s->http)) {
                http_free(s->http);
                if (s->loop) {
                        h2o_evloop_run(s->loop, 0);  /* disposes the closed listeners */
                        h2o_evloop_destroy(s->loop);
                }
        }
        config_free(&s->config);
}

static int serve(const char *listen_spec)
{
        struct sigaction sa = { .sa_handler = on_signal };
        Server s = { 0 };
        bool idle;

        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (start(&s, listen_spec) < 0) {
                stop(&s);
                return 1;
        }
        /* Only a socket systemd holds outlives the process: with
         * --listen an idle exit would close the port for good. */
        s.idle_exit_sec = s.activated ? s.config.idle_timeout_sec : 0;
        sd_notify(0, "READY=1\nSTATUS=Receiving webhooks");
        if (s.idle_exit_sec > 0)
                log_plain(LOG_INFO, LOGID_STARTED, "webhook receiver started (TLS %s; "
                          "exits after %us idle, systemd keeps the socket)",
                          s.config.tls ? "on" : "off", s.idle_exit_sec);
        else
                log_plain(LOG_INFO, LOGID_STARTED, "webhook receiver started (TLS %s; "
                          "no idle exit)", s.config.tls ? "on" : "off");

        idle = run(&s);
        sd_notify(0, "STOPPING=1");
        if (idle)
                log_plain(LOG_INFO, LOGID_IDLE_EXIT, "webhook receiver idle for %us: "
                          "exiting; systemd keeps the socket and starts it again on "
                          "the next connection", s.idle_exit_sec);
        else
                log_plain(LOG_INFO, LOGID_STOPPING, "webhook receiver stopping on signal %d",
                          (int) stop_requested);
        drain(&s);
        stop(&s);
        return 0;
}

/* ---- migrate ---- */

static int migrate(bool stride_schema)
{
        Config c;
        char *err = NULL;
        int r;

        r = config_load(&c, &err);
        if (r < 0) {
                fprintf(stderr, "stride-webhooks: %s\n", err ? err : strerror(-r));
                free(err);
                return 1;
        }
        r = store_migrate(&c, stride_schema, &err);
        if (r < 0)
                fprintf(stderr, "stride-webhooks: migration failed: %s\n",
                        err ? err : strerror(-r));
        else
                printf("stride-webhooks: schema is up to date%s\n",
                       stride_schema ? " (with Stride's tables)" : "");
        free(err);
        config_free(&c);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
        const char *cmd = argc > 1 ? argv[1] : NULL;

        log_setup("stride-webhooks");
        if (cmd && !strcmp(cmd, "serve")) {
                if (argc == 2)
                        return serve(NULL);
                if (argc == 4 && !strcmp(argv[2], "--listen"))
                        return serve(argv[3]);
        } else if (cmd && !strcmp(cmd, "migrate")) {
                if (argc == 2 || (argc == 3 && !strcmp(argv[2], "--stride-schema")))
                        return migrate(argc == 3);
        } else if (cmd && !strcmp(cmd, "check")) {
                if (argc == 2)
                        return check_run(NULL, stdout);
                if (argc == 4 && !strcmp(argv[2], "--config"))
                        return check_run(argv[3], stdout);
        } else if (cmd && !strcmp(cmd, "--version")) {
                printf("stride-webhooks %s\n", STRIDE_VERSION);
                return 0;
        } else if (cmd && (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))) {
                usage(stdout);
                return 0;
        }
        if (cmd)
                fprintf(stderr, "stride-webhooks: unknown command or arguments: %s\n", cmd);
        usage(stderr);
        return 2;
}
