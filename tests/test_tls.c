/* The GnuTLS bridge against real clients: an h2o loop on 127.0.0.1 with a
 * handler that answers the request body's length, tls_accept in front of
 * it, and curl, gnutls-cli and small forked clients driving it. Every
 * connection must end with exactly one closed callback and no descriptor
 * left open. Skips (77) without curl or certtool. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "tls.h"

#include <h2o/http1.h>
#include <h2o/http2.h>

extern char **environ;

#define MAX_CONNS 512
#define CHILD_LIMIT_SEC 60

typedef struct {
        TlsServer *tls;
        h2o_socket_t *listener;
        int port;
        bool small_buffers;     /* TCP send buffer small: backpressure */
} Server;

typedef struct {
        bool ready;
        bool closed;
} Conn;

static h2o_evloop_t *loop;
static h2o_globalconf_t globalconf;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static Conn conns[MAX_CONNS];
static int n_accepted, n_ready, n_closed, n_h2, n_double_close, n_requests;
static bool refuse;     /* ready closes the plaintext socket at once */
static char tmp[64];
static char stderr_log[96];     /* what the children say */
static char log_text[65536];
static int n_logs;

/* Stands in for log.c, so that the test can read what tls.c logs. */
void log_entry(int priority, LogId id, const LogField *fields, size_t n,
               const char *format, ...)
{
        size_t len = strlen(log_text);
        va_list ap;

        if (len + 1024 > sizeof(log_text))
                return;
        n_logs++;
        len += (size_t) snprintf(log_text + len, sizeof(log_text) - len,
                                 "<%d:%d> ", priority, (int) id);
        va_start(ap, format);
        len += (size_t) vsnprintf(log_text + len, sizeof(log_text) - len,
                                  format, ap);
        va_end(ap);
        for (size_t i = 0; i < n; i++)
                if (fields[i].value)
                        len += (size_t) snprintf(log_text + len,
                                                 sizeof(log_text) - len,
                                                 " %s=%s", fields[i].name,
                                                 fields[i].value);
        snprintf(log_text + len, sizeof(log_text) - len, "\n");
}

/* ---- the h2o side ---- */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
        char buf[32];
        int n;

        n_requests++;
        req->res.status = 200;
        req->res.reason = "OK";
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len,
                      H2O_STRLIT("/peer"))) {
                struct sockaddr_storage sa;
                socklen_t len = req->conn->callbacks->get_peername(
                        req->conn, (struct sockaddr *) &sa);
                char host[NI_MAXHOST] = "none";

                if (len > 0)
                        h2o_socket_getnumerichost((struct sockaddr *) &sa,
                                                  len, host);
                n = snprintf(buf, sizeof(buf), "%s", host);
        } else if (h2o_memis(req->path_normalized.base,
                             req->path_normalized.len, H2O_STRLIT("/big"))) {
                size_t size = 2 * 1024 * 1024;
                char *body = h2o_mem_alloc_pool(&req->pool, size);

                for (size_t i = 0; i < size; i++)
                        body[i] = (char) ('a' + i % 26);
                req->res.content_length = size;
                h2o_send_inline(req, body, size);
                return 0;
        } else {
                n = snprintf(buf, sizeof(buf), "%zu", req->entity.len);
        }
        req->res.content_length = (size_t) n;
        h2o_send_inline(req, buf, (size_t) n);
        return 0;
}

static void on_ready(void *data, h2o_socket_t *plain, bool h2)
{
        Conn *c = data;
        struct timeval now;

        c->ready = true;
        n_ready++;
        n_h2 += h2;
        if (refuse) {
                h2o_socket_close(plain);
                return;
        }
        gettimeofday(&now, NULL);
        if (h2)
                h2o_http2_accept(&accept_ctx, plain, now);
        else
                h2o_http1_accept(&accept_ctx, plain, now);
}

static void on_closed(void *data)
{
        Conn *c = data;

        if (c->closed)
                n_double_close++;
        c->closed = true;
        n_closed++;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
        Server *s = listener->data;
        h2o_socket_t *sock;

        while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
                if (n_accepted == MAX_CONNS) {
                        h2o_socket_close(sock);
                        continue;
                }
                if (s->small_buffers) {
                        int size = 8192;

                        setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET,
                                   SO_SNDBUF, &size, sizeof(size));
                }
                tls_accept(s->tls, sock, on_ready, on_closed,
                           &conns[n_accepted++]);
        }
}

static int listen_loopback(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(fd, 128) < 0)
                return -1;
        return fd;
}

static int port_of(int fd)
{
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -1;
        return ntohs(sa.sin_port);
}

static void config_init(Config *c, bool http2)
{
        static char cert[128], key[128];

        memset(c, 0, sizeof(*c));
        snprintf(cert, sizeof(cert), "%s/cert.pem", tmp);
        snprintf(key, sizeof(key), "%s/key.pem", tmp);
        c->tls_cert_file = cert;
        c->tls_key_file = key;
        c->tls = true;
        c->http2 = http2;
        c->handshake_timeout_ms = 5000;
}

static int server_start(Server *s, bool http2, unsigned timeout_ms)
{
        Config c;
        char *error = NULL;
        int fd, r;

        config_init(&c, http2);
        c.handshake_timeout_ms = timeout_ms;
        r = tls_server_new(&s->tls, &c, &error);
        if (r < 0) {
                fprintf(stderr, "tls_server_new: %s\n", error);
                free(error);
                return r;
        }
        fd = listen_loopback();
        if (fd < 0)
                return -errno;
        s->port = port_of(fd);
        s->listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        s->listener->data = s;
        h2o_socket_read_start(s->listener, on_accept);
        return 0;
}

/* ---- children ---- */

/* Starts a child with stdin from the file in (or in_fd, or /dev/null),
 * stdout to the file out and stderr to the children's log. */
static pid_t spawn_io(const char *const argv[], const char *in, int in_fd,
                      const char *out)
{
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r;

        posix_spawn_file_actions_init(&fa);
        if (in_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
        else
                posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null",
                                                 O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
        posix_spawn_file_actions_addopen(&fa, 2, stderr_log,
                                         O_WRONLY | O_CREAT | O_APPEND, 0600);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *) argv,
                         environ);
        posix_spawn_file_actions_destroy(&fa);
        return r == 0 ? pid : -1;
}

static pid_t spawn(const char *const argv[], const char *in, const char *out)
{
        return spawn_io(argv, in, -1, out);
}

/* Runs the loop until every child has exited; returns their statuses. */
static void wait_children(const pid_t *pids, int *statuses, int n)
{
        time_t limit = time(NULL) + CHILD_LIMIT_SEC;
        int left = n;

        for (int i = 0; i < n; i++)
                statuses[i] = -1;
        while (left > 0) {
                h2o_evloop_run(loop, 10);
                for (int i = 0; i < n; i++) {
                        int st;

                        if (statuses[i] != -1 || pids[i] <= 0)
                                continue;
                        if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
                                statuses[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
                                left--;
                        } else if (time(NULL) > limit) {
                                kill(pids[i], SIGKILL);
                        }
                }
                for (int i = 0; i < n; i++)
                        if (pids[i] <= 0 && statuses[i] == -1) {
                                statuses[i] = 127;
                                left--;
                        }
        }
}

static int run_child(const char *const argv[], const char *in, const char *out)
{
        pid_t pid = spawn(argv, in, out);
        int status;

        wait_children(&pid, &status, 1);
        return status;
}

/* Lets the loop finish closing: every accepted connection closed. */
static void settle(void)
{
        time_t limit = time(NULL) + 10;

        while (n_closed < n_accepted && time(NULL) < limit)
                h2o_evloop_run(loop, 10);
        /* h2o frees closed sockets on the next turn. */
        h2o_evloop_run(loop, 0);
}

static char *slurp(const char *name)
{
        char path[128];

        snprintf(path, sizeof(path), "%s/%s", tmp, name);
        return check_read_file(path, NULL);
}

static void path_of(char *buf, size_t size, const char *name)
{
        snprintf(buf, size, "%s/%s", tmp, name);
}

static bool have_program(const char *name)
{
        const char *path = getenv("PATH");
        char buf[512];

        while (path && *path) {
                size_t n = strcspn(path, ":");

                snprintf(buf, sizeof(buf), "%.*s/%s", (int) n, path, name);
                if (access(buf, X_OK) == 0)
                        return true;
                path += n + (path[n] == ':');
        }
        return false;
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)) != NULL)
                n += e->d_name[0] != '.';
        closedir(d);
        return n - 1;   /* the directory itself */
}

/* ---- fixtures ---- */

static int write_file(const char *name, const char *text, size_t len)
{
        char path[128];
        FILE *f;

        path_of(path, sizeof(path), name);
        f = fopen(path, "wb");
        if (!f)
                return -1;
        fwrite(text, 1, len, f);
        return fclose(f);
}

static int write_body(const char *name, size_t size)
{
        char *buf = malloc(size + 1);
        int r;

        if (!buf)
                return -1;
        for (size_t i = 0; i < size; i++)
                buf[i] = (char) ('0' + i % 10);
        r = write_file(name, buf, size);
        free(buf);
        return r;
}

static int make_certificates(void)
{
        static const char tpl[] =
                "cn = \"localhost\"\ndns_name = \"localhost\"\n"
                "ip_address = \"127.0.0.1\"\n"
                "expiration_date = \"2099-01-01 00:00:00\"\n"
                "tls_www_server\nsigning_key\n";
        static const char old_tpl[] =
                "cn = \"localhost\"\ntls_www_server\nsigning_key\n"
                "activation_date = \"2020-01-01 00:00:00\"\n"
                "expiration_date = \"2021-01-01 00:00:00\"\n";
        char key[128], key2[128], key3[128], cert[128], old[128], tplf[128];
        char oldf[128], log[128];
        const char *k1[] = { "certtool", "--generate-privkey", "--key-type",
                             "ecdsa", "--outfile", key, NULL };
        const char *k2[] = { "certtool", "--generate-privkey", "--key-type",
                             "ecdsa", "--outfile", key2, NULL };
        const char *k3[] = { "certtool", "--generate-privkey", "--key-type",
                             "ecdsa", "--pkcs8", "--password", "secret",
                             "--outfile", key3, NULL };
        const char *c1[] = { "certtool", "--generate-self-signed",
                             "--load-privkey", key, "--template", tplf,
                             "--outfile", cert, NULL };
        const char *c2[] = { "certtool", "--generate-self-signed",
                             "--load-privkey", key, "--template", oldf,
                             "--outfile", old, NULL };

        path_of(key, sizeof(key), "key.pem");
        path_of(key2, sizeof(key2), "other-key.pem");
        path_of(key3, sizeof(key3), "encrypted-key.pem");
        path_of(cert, sizeof(cert), "cert.pem");
        path_of(old, sizeof(old), "expired.pem");
        path_of(tplf, sizeof(tplf), "template");
        path_of(oldf, sizeof(oldf), "expired-template");
        path_of(log, sizeof(log), "certtool.log");
        if (write_file("template", tpl, sizeof(tpl) - 1) < 0 ||
            write_file("expired-template", old_tpl, sizeof(old_tpl) - 1) < 0)
                return -1;
        /* certtool reads the dates in local time. */
        setenv("TZ", "UTC", 1);
        if (run_child(k1, NULL, log) != 0 || run_child(k2, NULL, log) != 0 ||
            run_child(k3, NULL, log) != 0 || run_child(c1, NULL, log) != 0 ||
            run_child(c2, NULL, log) != 0)
                return -1;
        return 0;
}

/* ---- credentials ---- */

static int try_new(const char *cert, const char *key, const char *priority,
                   char **ret_error)
{
        TlsServer *t = NULL;
        char certp[128], keyp[128];
        Config c;
        int r;

        config_init(&c, false);
        path_of(certp, sizeof(certp), cert);
        path_of(keyp, sizeof(keyp), key);
        c.tls_cert_file = certp;
        c.tls_key_file = keyp;
        c.tls_priority = (char *) priority;
        r = tls_server_new(&t, &c, ret_error);
        if (r == 0)
                tls_server_free(t);
        return r;
}

/* Whole days from now to a UTC date, rounded down. */
static long days_until(int year)
{
        struct tm tm = { .tm_year = year - 1900, .tm_mon = 0, .tm_mday = 1 };
        long long left = (long long) timegm(&tm) - (long long) time(NULL);

        return (long) (left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
}

static void check_days_left(const char *cert, int year)
{
        TlsServer *t = NULL;
        char certp[128], *error = NULL;
        long before, days;
        Config c;

        config_init(&c, false);
        path_of(certp, sizeof(certp), cert);
        c.tls_cert_file = certp;
        check_int(tls_server_new(&t, &c, &error), 0);
        if (!t)
                return;
        before = days_until(year);
        days = tls_server_days_left(t);
        /* Only a day boundary passing between the two calls changes it. */
        if (days != before)
                check_int(days, days_until(year));
        else
                check_int(days, before);
        tls_server_free(t);
}

static void test_credentials(void)
{
        char *error = NULL, *key;

        check_int(try_new("cert.pem", "key.pem", NULL, &error), 0);
        check_str(error, NULL);

        check_int(try_new("missing.pem", "key.pem", NULL, &error), -ENOENT);
        check_contains(error, "missing.pem");
        check_contains(error, "No such file or directory");
        free(error);

        write_file("garbage.pem", "hello\n", 6);
        check_int(try_new("garbage.pem", "key.pem", NULL, &error), -EINVAL);
        check_contains(error, "garbage.pem is not PEM");
        free(error);

        check_int(try_new("cert.pem", "garbage.pem", NULL, &error), -EINVAL);
        check_contains(error, "garbage.pem is not a PEM private key");
        free(error);

        check_int(try_new("cert.pem", "other-key.pem", NULL, &error), -EINVAL);
        check_contains(error, "other-key.pem does not match the certificate");
        free(error);

        /* openssl ecparam -genkey writes the curve before the key. */
        key = slurp("key.pem");
        if (key) {
                static const char params[] = "-----BEGIN EC PARAMETERS-----\n"
                                             "BggqhkjOPQMBBw==\n"
                                             "-----END EC PARAMETERS-----\n";
                size_t len = strlen(params) + strlen(key) + 1;
                char *both = malloc(len);

                if (both) {
                        snprintf(both, len, "%s%s", params, key);
                        write_file("params-key.pem", both, strlen(both));
                }
                free(both);
        }
        free(key);
        check_int(try_new("cert.pem", "params-key.pem", NULL, &error), 0);
        check_str(error, NULL);

        check_int(try_new("cert.pem", "encrypted-key.pem", NULL, &error),
                  -EINVAL);
        check_contains(error, "encrypted-key.pem needs a passphrase");
        free(error);

        check_int(try_new("cert.pem", "key.pem", "NORMAL:-VERS-ALL", &error),
                  -EINVAL);
        check_contains(error, "leaves no usable protocol");
        free(error);

        check_int(try_new("cert.pem", "key.pem", "NORMAL:+VERS-TLS9.9:-RSA",
                          &error), -EINVAL);
        check_contains(error, "GnuTLS does not know \"+VERS-TLS9.9\"");
        free(error);

        check_int(try_new("cert.pem", "key.pem", "NORMAL", &error), 0);
        check_str(error, NULL);

        check_days_left("cert.pem", 2099);
        check_days_left("expired.pem", 2021);
        check(days_until(2021) < 0);
}

/* ---- real clients ---- */

static const char *port_url(char *buf, size_t size, const Server *s,
                            const char *scheme, const char *path)
{
        snprintf(buf, size, "%s://127.0.0.1:%d%s", scheme, s->port, path);
        return buf;
}

/* One curl upload; returns "CODE SIZE VERSION" and the body in *ret_body. */
static char *curl_post(const Server *s, const char *body_file, bool http2,
                       int *ret_status, char **ret_body)
{
        char url[128], cert[128], out[128], data[160], wout[128];
        const char *argv[] = { "curl", "-sS", "--cacert", cert, "-o", out,
                               "-w", "%{http_code} %{size_download} %{http_version}",
                               http2 ? "--http2" : "--http1.1",
                               "--data-binary", data, url, NULL };

        path_of(cert, sizeof(cert), "cert.pem");
        path_of(out, sizeof(out), "body.out");
        path_of(wout, sizeof(wout), "curl.out");
        snprintf(data, sizeof(data), "@%s/%s", tmp, body_file);
        port_url(url, sizeof(url), s, "https", "/echo");
        unlink(out);
        *ret_status = run_child(argv, NULL, wout);
        *ret_body = slurp("body.out");
        return slurp("curl.out");
}

static void test_uploads(const Server *s, bool http2)
{
        static const struct { const char *file; const char *len; } cases[] = {
                { "empty.body", "0" },
                { "1k.body", "1024" },
                { "2m.body", "2097152" },
        };
        int accepted = n_accepted, closed = n_closed;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char expect[64], *body, *w;
                int status;

                w = curl_post(s, cases[i].file, http2, &status, &body);
                snprintf(expect, sizeof(expect), "200 %zu %s",
                         strlen(cases[i].len), http2 ? "2" : "1.1");
                check_int(status, 0);
                check_str(w, expect);
                check_str(body, cases[i].len);
                free(w);
                free(body);
        }
        settle();
        check_int(n_accepted - accepted, 3);
        check_int(n_closed - closed, 3);
}

static void test_keepalive(const Server *s)
{
        char cert[128], o1[128], o2[128], o3[128], wout[128];
        char u1[128], u2[128], u3[128];
        const char *argv[] = { "curl", "-sS", "--cacert", cert,
                               "-w", "%{http_code} %{num_connects};",
                               "-o", o1, "-o", o2, "-o", o3,
                               u1, u2, u3, NULL };
        int accepted = n_accepted, closed = n_closed, requests = n_requests;
        char *w, *b;

        path_of(cert, sizeof(cert), "cert.pem");
        path_of(o1, sizeof(o1), "ka1.out");
        path_of(o2, sizeof(o2), "ka2.out");
        path_of(o3, sizeof(o3), "ka3.out");
        path_of(wout, sizeof(wout), "curl.out");
        port_url(u1, sizeof(u1), s, "https", "/one");
        port_url(u2, sizeof(u2), s, "https", "/peer");
        port_url(u3, sizeof(u3), s, "https", "/big");

        check_int(run_child(argv, NULL, wout), 0);
        w = slurp("curl.out");
        check_str(w, "200 1;200 0;200 0;");
        free(w);
        b = slurp("ka1.out");
        check_str(b, "0");
        free(b);
        b = slurp("ka2.out");
        check_str(b, "127.0.0.1");
        free(b);

        b = slurp("ka3.out");
        check(b != NULL);
        if (b) {
                size_t bad = 0, len = strlen(b);

                for (size_t i = 0; i < len; i++)
                        bad += b[i] != (char) ('a' + i % 26);
                check_int(len, 2 * 1024 * 1024);
                check_int(bad, 0);
        }
        free(b);
        settle();
        check_int(n_accepted - accepted, 1);
        check_int(n_closed - closed, 1);
        check_int(n_requests - requests, 3);
}

/* A client that reads slowly: h2o's writes back up through the bridge. */
static void test_slow_reader(const Server *s)
{
        char cert[128], out[128], wout[128], url[128];
        const char *argv[] = { "curl", "-sS", "--cacert", cert,
                               "--limit-rate", "2M", "-o", out,
                               "-w", "%{http_code} %{size_download}", url, NULL };
        char *w;

        path_of(cert, sizeof(cert), "cert.pem");
        path_of(out, sizeof(out), "slow.out");
        path_of(wout, sizeof(wout), "curl.out");
        port_url(url, sizeof(url), s, "https", "/big");
        check_int(run_child(argv, NULL, wout), 0);
        w = slurp("curl.out");
        check_str(w, "200 2097152");
        free(w);
        settle();
}

static void test_parallel(const Server *s)
{
        enum { N = 24 };
        char cert[128], outs[N][128], url[128], url2[128], data[160];
        pid_t pids[N];
        int statuses[N];
        int accepted = n_accepted, closed = n_closed;

        path_of(cert, sizeof(cert), "cert.pem");
        snprintf(data, sizeof(data), "@%s/1k.body", tmp);
        port_url(url, sizeof(url), s, "https", "/a");
        port_url(url2, sizeof(url2), s, "https", "/b");
        for (int i = 0; i < N; i++) {
                const char *argv[] = { "curl", "-sS", "--cacert", cert,
                                       "-o", "/dev/null", "-o", "/dev/null",
                                       "-w", "%{http_code} %{size_download};",
                                       "--data-binary", data, url, url2, NULL };

                snprintf(outs[i], sizeof(outs[i]), "%s/par%d.out", tmp, i);
                pids[i] = spawn(argv, NULL, outs[i]);
        }
        wait_children(pids, statuses, N);
        for (int i = 0; i < N; i++) {
                char *w = check_read_file(outs[i], NULL);

                check_int(statuses[i], 0);
                check_str(w, "200 4;200 4;");
                free(w);
        }
        settle();
        check_int(n_accepted - accepted, N);
        check_int(n_closed - closed, N);
}

static int run_gnutls_cli(const Server *s, const char *priority,
                          const char *option, const char *input, char **ret_out)
{
        char cert[128], port[16], prio[160], in[128], out[128];
        const char *argv[] = { "gnutls-cli", "--x509cafile", cert, "--port",
                               port, "--priority", prio, "localhost", option,
                               NULL };
        int status;

        path_of(cert, sizeof(cert), "cert.pem");
        path_of(in, sizeof(in), "request.txt");
        path_of(out, sizeof(out), "gnutls-cli.out");
        snprintf(port, sizeof(port), "%d", s->port);
        snprintf(prio, sizeof(prio), "%s", priority);
        write_file("request.txt", input, strlen(input));
        status = run_child(argv, in, out);
        *ret_out = slurp("gnutls-cli.out");
        settle();
        return status;
}

static const char echo_request[] =
        "POST /echo HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Length: 5\r\n\r\nhello";

/* gnutls-cli connects, resumes with the session ticket it got (-r), sends
 * the request, then close_notify at the end of its input, and still
 * reads: the answer must come through the half-close. */
static void test_gnutls_cli(const Server *s, const char *priority,
                            const char *version)
{
        int accepted = n_accepted, closed = n_closed, logs = n_logs;
        char *o;

        check_int(run_gnutls_cli(s, priority, "-r", echo_request, &o), 0);
        check_contains(o, version);
        check_contains(o, "*** This is a resumed session");
        check_contains(o, "HTTP/1.1 200 OK");
        check_contains(o, "\r\n\r\n5");
        free(o);
        check_int(n_accepted - accepted, 2);
        check_int(n_closed - closed, 2);
        check_int(n_logs - logs, 0);
}

/* The client asks for a TLS 1.3 key update first: GnuTLS answers it from
 * inside record_recv and returns E_AGAIN with bytes still buffered. */
static void test_key_update(const Server *s)
{
        char input[256], *o;

        snprintf(input, sizeof(input), "^rekey1^\n%s", echo_request);
        check_int(run_gnutls_cli(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                                 "--inline-commands", input, &o), 0);
        check_contains(o, "Rekey was completed");
        check_contains(o, "\r\n\r\n5");
        free(o);
}

static void test_refused_version(const Server *s, const char *priority,
                                 const char *error)
{
        int closed = n_closed, logs = n_logs;
        char *o;

        check(run_gnutls_cli(s, priority, NULL, echo_request, &o) != 0);
        check(o == NULL || !strstr(o, "HTTP/1.1"));
        free(o);
        check_int(n_closed - closed, 1);
        check_int(n_logs - logs, 1);
        check_contains(log_text, error);
}

static int connect_loopback(int port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -1;
        return fd;
}

static void close_inherited(int keep)
{
        for (int fd = 3; fd < 1024; fd++)
                if (fd != keep)
                        close(fd);
}

/* Connects and sends nothing: exits 0 once the server closed on it. */
static void test_handshake_timeout(void)
{
        int accepted = n_accepted, closed = n_closed, ready = n_ready;
        int logs = n_logs, status;
        Server s = { 0 };
        pid_t pid;

        check_int(server_start(&s, false, 300), 0);
        pid = fork();
        if (pid == 0) {
                char c;
                int fd;

                close_inherited(-1);
                fd = connect_loopback(s.port);
                _exit(fd >= 0 && read(fd, &c, 1) == 0 ? 0 : 1);
        }
        wait_children(&pid, &status, 1);
        settle();
        check_int(status, 0);
        check_int(n_accepted - accepted, 1);
        check_int(n_closed - closed, 1);
        check_int(n_ready - ready, 0);
        check_int(n_logs - logs, 1);
        check_contains(log_text, "TLS handshake with 127.0.0.1 failed: "
                       "no handshake within 300 ms (webhook connection closed)");
        check_contains(log_text, "REMOTE_ADDR=127.0.0.1 TLS_ERROR=");
        h2o_socket_close(s.listener);
        tls_server_free(s.tls);
}

/* Connects and closes at once, as load balancers probe: no log. */
static void test_probe(const Server *s)
{
        int closed = n_closed, logs = n_logs, status;
        pid_t pid = fork();

        if (pid == 0) {
                close_inherited(-1);
                _exit(connect_loopback(s->port) >= 0 ? 0 : 1);
        }
        wait_children(&pid, &status, 1);
        settle();
        check_int(status, 0);
        check_int(n_closed - closed, 1);
        check_int(n_logs - logs, 0);
}

static void test_plaintext(const Server *s)
{
        char url[128], out[128], wout[128];
        const char *argv[] = { "curl", "-sS", "-o", out, "-w", "%{http_code}",
                               url, NULL };
        int closed = n_closed, logs = n_logs;
        char *w, *b;

        path_of(out, sizeof(out), "plain.out");
        path_of(wout, sizeof(wout), "curl.out");
        port_url(url, sizeof(url), s, "http", "/echo");
        check_int(run_child(argv, NULL, wout), 0);
        w = slurp("curl.out");
        b = slurp("plain.out");
        check_str(w, "400");
        check_contains(b, "HTTPS");
        free(w);
        free(b);
        settle();
        check_int(n_closed - closed, 1);
        check_int(n_logs - logs, 1);
        check_contains(log_text, "failed: the client sent plaintext");
}

enum { MOVED, FROM_EOF, FROM_FAILED, TO_FAILED };

/* Forwards what is readable on from to to, counting it in *moved. */
static int forward(int from, int to, size_t *moved)
{
        char buf[16384];
        ssize_t n = read(from, buf, sizeof(buf));

        if (n == 0)
                return FROM_EOF;
        if (n < 0)
                return FROM_FAILED;
        if (to >= 0 && write(to, buf, (size_t) n) != n)
                return TO_FAILED;
        *moved += (size_t) n;
        return MOVED;
}

/* After the server's FIN: passes on what the client still sends until it
 * is done; the server must take it without a reset. */
static void relay_drain(int cfd, int sfd, bool client_open)
{
        size_t moved = 0;
        int r = MOVED;

        shutdown(cfd, SHUT_WR);
        while (client_open && (r = forward(cfd, sfd, &moved)) == MOVED)
                ;
        _exit(r == TO_FAILED ? 1 : 0);
}

/* Child: relays one connection from curl to the server. With limit set,
 * resets (RST) the server's side after that many bytes from the client,
 * as a sender that dies mid-upload; exits 0. Without, relays until the
 * server ends and exits 0 if it ended with FIN, 1 if with a reset. */
static void relay(int lfd, int port, size_t limit)
{
        int cfd = accept(lfd, NULL, NULL), sfd = connect_loopback(port);
        bool client_open = true;
        size_t sent = 0, received = 0;

        if (cfd < 0 || sfd < 0)
                _exit(2);
        for (;;) {
                fd_set fds;
                int r;

                FD_ZERO(&fds);
                FD_SET(sfd, &fds);
                if (client_open)
                        FD_SET(cfd, &fds);
                if (select((cfd > sfd ? cfd : sfd) + 1, &fds, NULL, NULL,
                           NULL) < 0)
                        _exit(3);
                if (FD_ISSET(cfd, &fds)) {
                        r = forward(cfd, sfd, &sent);
                        if (r == TO_FAILED)
                                _exit(1);
                        if (r != MOVED) {
                                /* The client is done: so is its side. */
                                shutdown(sfd, SHUT_WR);
                                client_open = false;
                        }
                }
                if (limit > 0 && sent >= limit) {
                        struct linger lg = { 1, 0 };

                        setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                        _exit(0);
                }
                if (FD_ISSET(sfd, &fds)) {
                        /* A client that went away gets nothing more. */
                        r = forward(sfd, client_open ? cfd : -1, &received);
                        if (r == FROM_FAILED)
                                _exit(1);
                        if (r == FROM_EOF)
                                relay_drain(cfd, sfd, client_open);
                        if (r == TO_FAILED) {
                                shutdown(sfd, SHUT_WR);
                                client_open = false;
                        }
                }
        }
}

/* Runs curl through a relay child; returns the relay's status. */
static int curl_via_relay(const Server *s, const char *const extra[],
                          size_t limit, int *ret_curl_status)
{
        char cert[128], url[128], data[160], wout[128], connect_to[64];
        const char *argv[24] = { "curl", "-sS", "--cacert", cert, "-o",
                                 "/dev/null", "-w", "%{http_code}",
                                 "--connect-to", connect_to,
                                 "--data-binary", data, url };
        int lfd = listen_loopback(), statuses[2], argc = 13;
        pid_t pids[2];

        path_of(cert, sizeof(cert), "cert.pem");
        path_of(wout, sizeof(wout), "curl.out");
        snprintf(data, sizeof(data), "@%s/2m.body", tmp);
        snprintf(connect_to, sizeof(connect_to), "localhost:%d:127.0.0.1:%d",
                 s->port, port_of(lfd));
        snprintf(url, sizeof(url), "https://localhost:%d/echo", s->port);
        for (int i = 0; extra[i] && argc < 23; i++)
                argv[argc++] = extra[i];
        argv[argc] = NULL;

        pids[0] = fork();
        if (pids[0] == 0) {
                close_inherited(lfd);
                relay(lfd, s->port, limit);
        }
        close(lfd);
        pids[1] = spawn(argv, NULL, wout);
        wait_children(pids, statuses, 2);
        *ret_curl_status = statuses[1];
        return statuses[0];
}

static void test_reset_mid_upload(const Server *s)
{
        static const char *const extra[] = { NULL };
        int accepted = n_accepted, closed = n_closed, ready = n_ready;
        int requests = n_requests, logs = n_logs, curl_status;

        check_int(curl_via_relay(s, extra, 512 * 1024, &curl_status), 0);
        settle();
        check(curl_status != 0);
        check_int(n_accepted - accepted, 1);
        check_int(n_ready - ready, 1);
        check_int(n_closed - closed, 1);
        check_int(n_requests - requests, 0);
        /* A sender going away is no TLS failure. */
        check_int(n_logs - logs, 0);
}

/* h2o refuses a body over its limit and closes while the client is still
 * sending. Closing a socket with unread input sends RST, which can destroy
 * the answer before the client reads it: the bridge must end with FIN and
 * drain the rest, so the relay must see FIN and curl the 413. */
static void test_refused_upload(const Server *s)
{
        static const char *const extra[] = { "-H", "Expect:", NULL };
        size_t limit = globalconf.max_request_entity_size;
        int closed = n_closed, curl_status, relay_status;
        char *w;

        globalconf.max_request_entity_size = 64 * 1024;
        relay_status = curl_via_relay(s, extra, 0, &curl_status);
        globalconf.max_request_entity_size = limit;
        check_int(relay_status, 0);
        check_int(curl_status, 0);
        w = slurp("curl.out");
        check_str(w, "413");
        free(w);
        settle();
        check_int(n_closed - closed, 1);
}

/* The caller may refuse the connection in ready by closing its socket:
 * the client gets close_notify and the connection ends once. */
static void test_refused_in_ready(const Server *s)
{
        char cert[128], url[128], wout[128];
        const char *argv[] = { "curl", "-sS", "--cacert", cert, "-o", "/dev/null",
                               url, NULL };
        int closed = n_closed, ready = n_ready, status;

        path_of(cert, sizeof(cert), "cert.pem");
        path_of(wout, sizeof(wout), "curl.out");
        port_url(url, sizeof(url), s, "https", "/echo");
        refuse = true;
        status = run_child(argv, NULL, wout);
        refuse = false;
        settle();
        check_int(status, 52);  /* curl: empty reply from server */
        check_int(n_ready - ready, 1);
        check_int(n_closed - closed, 1);
}

/* Freeing the server ends its connections, each with one closed call:
 * one still in the handshake, one handed to h2o. */
static void test_free_with_connections(void)
{
        char cert[128], port[16], out[128];
        const char *argv[] = { "gnutls-cli", "--x509cafile", cert, "--port",
                               port, "localhost", NULL };
        int accepted = n_accepted, closed = n_closed, ready = n_ready;
        int statuses[2], in[2] = { -1, -1 };
        time_t limit = time(NULL) + 10;
        Server s = { 0 };
        pid_t pids[2];

        check_int(server_start(&s, false, 10000), 0);
        check_int(pipe2(in, O_CLOEXEC), 0);
        pids[0] = fork();
        if (pids[0] == 0) {
                char c;
                int fd;

                close_inherited(-1);
                fd = connect_loopback(s.port);
                _exit(fd >= 0 && read(fd, &c, 1) == 0 ? 0 : 1);
        }
        path_of(cert, sizeof(cert), "cert.pem");
        path_of(out, sizeof(out), "gnutls-cli.out");
        snprintf(port, sizeof(port), "%d", s.port);
        pids[1] = spawn_io(argv, NULL, in[0], out);
        close(in[0]);

        while ((n_accepted - accepted < 2 || n_ready - ready < 1) &&
               time(NULL) < limit)
                h2o_evloop_run(loop, 10);
        check_int(n_accepted - accepted, 2);
        check_int(n_ready - ready, 1);
        check_int(n_closed - closed, 0);

        tls_server_free(s.tls);
        check_int(n_closed - closed, 2);
        h2o_socket_close(s.listener);
        close(in[1]);
        wait_children(pids, statuses, 2);
        check_int(statuses[0], 0);
        settle();
}

/* ---- main ---- */

static void h2o_setup(void)
{
        h2o_hostconf_t *host;
        h2o_pathconf_t *path;
        h2o_handler_t *handler;

        h2o_config_init(&globalconf);
        globalconf.http1.upgrade_to_http2 = 0;
        host = h2o_config_register_host(&globalconf,
                                        h2o_iovec_init(H2O_STRLIT("default")),
                                        65535);
        path = h2o_config_register_path(host, "/", 0);
        handler = h2o_create_handler(path, sizeof(*handler));
        handler->on_req = on_req;

        loop = h2o_evloop_create();
        h2o_context_init(&ctx, loop, &globalconf);
        accept_ctx.ctx = &ctx;
        accept_ctx.hosts = globalconf.hosts;
}

static void cleanup_tmp(void)
{
        DIR *d = opendir(tmp);
        struct dirent *e;
        char path[512];

        while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
                unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(tmp);
}

static bool curl_has_http2(void)
{
        const char *argv[] = { "curl", "--version", NULL };
        char out[128], *v;
        bool yes;

        path_of(out, sizeof(out), "curl-version.out");
        if (run_child(argv, NULL, out) != 0)
                return false;
        v = slurp("curl-version.out");
        yes = v && strstr(v, " HTTP2");
        free(v);
        return yes;
}

static void run_clients(const Server *s1, const Server *s2, bool gnutls_cli)
{
        test_uploads(s1, false);
        test_keepalive(s1);
        test_slow_reader(s1);
        if (curl_has_http2()) {
                test_uploads(s2, true);
                check_int(n_h2, 3);
        } else {
                printf("curl without HTTP/2: h2 checks skipped\n");
        }
        test_uploads(s2, false);
        test_parallel(s1);
        if (gnutls_cli) {
                test_gnutls_cli(s1, "NORMAL:-VERS-ALL:+VERS-TLS1.3", "(TLS1.3");
                test_gnutls_cli(s1, "NORMAL:-VERS-ALL:+VERS-TLS1.2", "(TLS1.2");
                test_key_update(s1);
                test_refused_version(s1, "NORMAL:-VERS-ALL:+VERS-TLS1.1",
                                     "TLS handshake with 127.0.0.1 failed: "
                                     "A packet with illegal or unsupported "
                                     "version was received (webhook connection "
                                     "closed) REMOTE_ADDR=127.0.0.1 TLS_ERROR=");
                test_refused_version(s1, "NORMAL:-VERS-ALL:+VERS-TLS1.2:"
                                     "-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC",
                                     "TLS handshake with 127.0.0.1 failed: "
                                     "No supported cipher suites have been "
                                     "found (webhook connection closed)");
        } else {
                printf("gnutls-cli missing: TLS version, resumption and "
                       "half-close checks skipped\n");
        }
        test_handshake_timeout();
        test_probe(s1);
        test_plaintext(s1);
        test_reset_mid_upload(s1);
        test_refused_upload(s1);
        test_refused_in_ready(s1);
        if (gnutls_cli)
                test_free_with_connections();
}

int main(int argc, char **argv)
{
        Server s1 = { 0 }, s2 = { 0 };
        int fds_before, fds_after;

        if (!have_program("curl") || !have_program("certtool")) {
                printf("curl or certtool (gnutls-bin) missing: skipped\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        snprintf(tmp, sizeof(tmp), "/tmp/test_tls.XXXXXX");
        if (!mkdtemp(tmp))
                return 1;
        path_of(stderr_log, sizeof(stderr_log), "children.log");
        h2o_setup();
        if (make_certificates() < 0) {
                fprintf(stderr, "certtool failed: see %s/certtool.log\n", tmp);
                return 1;
        }
        test_credentials();
        write_body("empty.body", 0);
        write_body("1k.body", 1024);
        write_body("2m.body", 2 * 1024 * 1024);

        s1.small_buffers = true;
        /* Long enough for a slow machine: closing waits on it too. */
        check_int(server_start(&s1, false, 5000), 0);
        check_int(server_start(&s2, true, 5000), 0);
        fds_before = count_fds();
        if (s1.tls && s2.tls)
                run_clients(&s1, &s2, have_program("gnutls-cli"));
        settle();
        fds_after = count_fds();

        check_int(fds_after, fds_before);
        check_int(n_closed, n_accepted);
        check_int(n_double_close, 0);
        for (int i = 0; i < n_accepted; i++)
                check(conns[i].closed);

        h2o_socket_close(s1.listener);
        h2o_socket_close(s2.listener);
        tls_server_free(s1.tls);
        tls_server_free(s2.tls);
        h2o_evloop_run(loop, 0);
        h2o_context_dispose(&ctx);
        h2o_config_dispose(&globalconf);
        h2o_evloop_destroy(loop);
        if (check_failed_ == 0)
                cleanup_tmp();
        else
                fprintf(stderr, "files kept in %s; log:\n%s", tmp, log_text);
        return check_done();
}
