/* The benchmark's sender: N threads POST New Relic alerts, each with an
 * incident id of its own (so no request is a redelivery), over TLS, on
 * keep-alive connections or on a new connection per request, for a
 * number of seconds. An answer's time runs from the moment the sender
 * starts on the request, connecting and the TLS handshake included for
 * new connections, to the last byte of the answer: what a provider
 * waits for. (wrk starts its clock after the handshake, so it cannot
 * give that figure for new connections.)
 *
 *   sender -p PORT [-c SENDERS] [-d SECONDS] [-n] [-t TAG] [-C CA_FILE]
 *          [-P PATH] [-1]
 *
 * -n: a new connection per request. -1: one request, then exit.
 * Prints one line:
 *   SENDER requests seconds p50_ms p99_ms answered_2xx answered_202 other errors
 * Built by tests/bench/bench.sh; not part of the daemon or its tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

typedef struct {
        int port;
        unsigned senders;
        double seconds;
        bool new_connections;
        bool once;
        const char *tag;
        const char *path;
        const char *ca_file;
} Options;

typedef struct {
        unsigned id;
        uint64_t requests, ok, queued, other, errors;
        uint32_t *usec;
        size_t n_usec, cap_usec;
} Sender;

typedef struct {
        int fd;
        gnutls_session_t tls;
} Conn;

static Options opt = { .senders = 1, .seconds = 10, .tag = "run",
                       .path = "/api/webhooks/newrelic" };
static gnutls_certificate_credentials_t creds;
static pthread_barrier_t start_line;
static uint64_t deadline_usec;

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void conn_close(Conn *c)
{
        if (c->tls) {
                gnutls_bye(c->tls, GNUTLS_SHUT_WR);
                gnutls_deinit(c->tls);
        }
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->tls = NULL;
}

static int conn_open(Conn *c)
{
        struct sockaddr_in sa = {
                .sin_family = AF_INET, .sin_port = htons((uint16_t) opt.port),
        };
        int one = 1, r;

        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        c->tls = NULL;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                conn_close(c);
                return -1;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

        if (gnutls_init(&c->tls, GNUTLS_CLIENT) < 0) {
                c->tls = NULL;
                conn_close(c);
                return -1;
        }
        gnutls_set_default_priority(c->tls);
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, creds);
        if (opt.ca_file)
                gnutls_session_set_verify_cert(c->tls, NULL, 0);
        gnutls_transport_set_int(c->tls, c->fd);
        gnutls_handshake_set_timeout(c->tls, 10000);
        do
                r = gnutls_handshake(c->tls);
        while (r < 0 && !gnutls_error_is_fatal(r));
        if (r < 0) {
                conn_close(c);
                return -1;
        }
        return 0;
}

static int send_all(Conn *c, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = gnutls_record_send(c->tls, buf, len);

                if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                        continue;
                if (n <= 0)
                        return -1;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

static const char *find_header(const char *head, const char *name)
{
        size_t n = strlen(name);

        for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
                if (strncasecmp(p + 2, name, n) == 0)
                        return p + 2 + n;
        return NULL;
}

/* Reads one answer; returns its status, or -1. *ret_close: the server
 * closes the connection after it. */
static int read_answer(Conn *c, bool *ret_close)
{
        char buf[65536];
        size_t used = 0, need = 0;
        char *end = NULL;
        const char *cl, *conn;
        int status = -1;

        while (!end || used < need) {
                ssize_t n;

                if (used == sizeof(buf) - 1)
                        return -1;
                n = gnutls_record_recv(c->tls, buf + used, sizeof(buf) - 1 - used);
                if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                        continue;
                if (n <= 0)
                        return -1;
                used += (size_t) n;
                buf[used] = '\0';
                if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                        *end = '\0';
                        cl = find_header(buf, "content-length:");
                        need = (size_t) (end + 4 - buf);
                        if (cl)
                                need += strtoul(cl, NULL, 10);
                        conn = find_header(buf, "connection:");
                        if (conn && !strncasecmp(conn + strspn(conn, " "), "close", 5))
                                *ret_close = true;
                        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                                return -1;
                }
        }
        return status;
}

static void record(Sender *s, uint64_t usec)
{
        if (s->n_usec == s->cap_usec) {
                size_t cap = s->cap_usec ? 2 * s->cap_usec : 4096;
                uint32_t *grown = realloc(s->usec, cap * sizeof(*grown));

                if (!grown)
                        return;
                s->usec = grown;
                s->cap_usec = cap;
        }
        s->usec[s->n_usec++] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t) usec;
}

static int one_request(Sender *s, Conn *c)
{
        char body[512], req[1024];
        bool close_after = opt.new_connections;
        int n, len, status;

        n = snprintf(body, sizeof(body),
                     "{\"id\":\"bench-%s-%u-%llu\",\"title\":\"Benchmark alert "
                     "%s-%u-%llu\",\"priority\":\"HIGH\",\"state\":\"ACTIVATED\","
                     "\"createdAt\":1718801460513,\"updatedAt\":1718801461807}",
                     opt.tag, s->id, (unsigned long long) s->requests, opt.tag,
                     s->id, (unsigned long long) s->requests);
        len = snprintf(req, sizeof(req),
                       "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n"
                       "%s\r\n%s", opt.path, n,
                       opt.new_connections ? "Connection: close\r\n" : "", body);
        s->requests++;

        if (c->fd < 0 && conn_open(c) < 0)
                return -1;
        if (send_all(c, req, (size_t) len) < 0)
                return -1;
        status = read_answer(c, &close_after);
        if (status < 0)
                return -1;
        if (close_after)
                conn_close(c);
        return status;
}

static void *sender_main(void *arg)
{
        Sender *s = arg;
        Conn c = { -1, NULL };

        pthread_barrier_wait(&start_line);
        do {
                uint64_t t0 = now_usec();
                int status = one_request(s, &c);

                if (status < 0) {
                        s->errors++;
                        conn_close(&c);
                        continue;
                }
                record(s, now_usec() - t0);
                if (status == 202)
                        s->queued++;
                else if (status >= 200 && status < 300)
                        s->ok++;
                else
                        s->other++;
        } while (!opt.once && now_usec() < deadline_usec);
        conn_close(&c);
        return NULL;
}

static int compare_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

static double percentile_ms(const uint32_t *v, size_t n, double p)
{
        size_t i;

        if (n == 0)
                return 0;
        i = (size_t) (p / 100.0 * (double) (n - 1) + 0.5);
        return v[i] / 1000.0;
}

static void report(Sender *all, unsigned n, double seconds)
{
        uint64_t ok = 0, queued = 0, other = 0, errors = 0;
        size_t total = 0, k = 0;
        uint32_t *v;

        for (unsigned i = 0; i < n; i++)
                total += all[i].n_usec;
        v = malloc((total + 1) * sizeof(*v));
        for (unsigned i = 0; i < n; i++) {
                memcpy(v + k, all[i].usec, all[i].n_usec * sizeof(*v));
                k += all[i].n_usec;
                ok += all[i].ok;
                queued += all[i].queued;
                other += all[i].other;
                errors += all[i].errors;
        }
        qsort(v, total, sizeof(*v), compare_u32);
        printf("SENDER %zu %.3f %.2f %.2f %llu %llu %llu %llu\n", total, seconds,
               percentile_ms(v, total, 50), percentile_ms(v, total, 99),
               (unsigned long long) ok, (unsigned long long) queued,
               (unsigned long long) other, (unsigned long long) errors);
        free(v);
}

static int parse_args(int argc, char **argv)
{
        int c;

        while ((c = getopt(argc, argv, "p:c:d:nt:C:P:1")) != -1) {
                switch (c) {
                case 'p': opt.port = atoi(optarg); break;
                case 'c': opt.senders = (unsigned) atoi(optarg); break;
                case 'd': opt.seconds = atof(optarg); break;
                case 'n': opt.new_connections = true; break;
                case 't': opt.tag = optarg; break;
                case 'C': opt.ca_file = optarg; break;
                case 'P': opt.path = optarg; break;
                case '1': opt.once = true; opt.senders = 1; break;
                default: return -1;
                }
        }
        return opt.port > 0 && opt.senders > 0 && opt.senders <= 1024 ? 0 : -1;
}

int main(int argc, char **argv)
{
        Sender *all;
        pthread_t *threads;
        uint64_t t0;

        if (parse_args(argc, argv) < 0) {
                fprintf(stderr, "usage: sender -p PORT [-c SENDERS] [-d SECONDS] [-n] "
                        "[-t TAG] [-C CA_FILE] [-P PATH] [-1]\n");
                return 2;
        }
        gnutls_certificate_allocate_credentials(&creds);
        if (opt.ca_file && gnutls_certificate_set_x509_trust_file(creds, opt.ca_file,
                                                                  GNUTLS_X509_FMT_PEM) <= 0) {
                fprintf(stderr, "sender: cannot read %s\n", opt.ca_file);
                return 1;
        }

        all = calloc(opt.senders, sizeof(*all));
        threads = calloc(opt.senders, sizeof(*threads));
        pthread_barrier_init(&start_line, NULL, opt.senders + 1);
        for (unsigned i = 0; i < opt.senders; i++) {
                all[i].id = i;
                pthread_create(&threads[i], NULL, sender_main, &all[i]);
        }
        t0 = now_usec();
        deadline_usec = t0 + (uint64_t) (opt.seconds * 1e6);
        pthread_barrier_wait(&start_line);
        for (unsigned i = 0; i < opt.senders; i++)
                pthread_join(threads[i], NULL);

        report(all, opt.senders, (double) (now_usec() - t0) / 1e6);
        for (unsigned i = 0; i < opt.senders; i++)
                free(all[i].usec);
        free(all);
        free(threads);
        gnutls_certificate_free_credentials(creds);
        return 0;
}
