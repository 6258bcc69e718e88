/* GnuTLS in front of h2o (notes/tls-bridge.md). libh2o 2.2.5 can only
 * drive OpenSSL, so each accepted TCP connection gets a GnuTLS server
 * session here and its plaintext crosses a socket pair to an h2o socket.
 *
 * h2o owns all polling: the TCP socket and our end of the pair are h2o
 * sockets with H2O_SOCKET_FLAG_DONT_READ, used for read readiness and
 * one-shot write notification only. GnuTLS pulls from a buffer that one
 * recv() fills with up to a full record or more, and pushes with one
 * sendmsg() per flush. Per connection and direction at most one buffer's
 * worth is in flight in user space: a decrypted record on its way to h2o,
 * or a chunk of h2o's output that GnuTLS has not yet accepted. The side
 * whose peer is full is not polled, since the evloop is level-triggered. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"
#include "tls.h"

/* TLS 1.2 and 1.3 with AEAD ciphers and forward secrecy only: -RSA drops
 * static RSA key exchange, -DHE-RSA the slow finite-field one. */
#define TLS_DEFAULT_PRIORITY \
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:" \
        "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-RSA:-DHE-RSA"

#define TLS_DEFAULT_DEADLINE_MS 10000
#define TLS_MAX_PEM_BYTES (1024 * 1024)

/* A full TLS record (5 bytes of header, at most 2^14 + 256 of payload) and
 * the start of the next; plaintext in records of at most 2^14 bytes. */
#define TLS_IN_SIZE 17408
#define TLS_OUT_SIZE 16384

/* Non-fatal GnuTLS results (warning alerts, post-handshake messages) in
 * a row before the connection counts as abusive. */
#define TLS_MAX_RETRIES 64

struct TlsServer {
        gnutls_certificate_credentials_t cred;
        gnutls_priority_t priority;
        gnutls_datum_t ticket_key;
        gnutls_datum_t alpn[2];
        unsigned alpn_count;
        time_t expires;
        unsigned deadline_ms;
        h2o_loop_t *loop;          /* the loop of the first tls_accept */
        h2o_timeout_t deadline;    /* handshake, then closing */
        h2o_linklist_t conns;
};

typedef struct {
        TlsServer *server;
        h2o_linklist_t link;
        h2o_socket_t *tcp;         /* NULL once closed */
        h2o_socket_t *pair;        /* our end; NULL before ready, after EOF */
        gnutls_session_t session;
        h2o_timeout_entry_t deadline;
        TlsReadyCb ready;
        TlsClosedCb closed;
        void *data;
        struct sockaddr_storage peer;
        socklen_t peer_len;
        gnutls_packet_t packet;    /* decrypted, on its way to h2o */
        size_t packet_off;
        size_t in_off, in_len;     /* ciphertext from the client */
        size_t out_off, out_len;   /* h2o's output not yet taken by GnuTLS */
        bool handshaken;
        bool received_any;
        bool plaintext_client;     /* the first byte was not TLS */
        bool tcp_readable;         /* the loop said so; no short read since */
        bool tcp_starved;          /* GnuTLS waits for bytes from the client */
        bool tcp_blocked;          /* a push met a full socket */
        bool tcp_eof;
        bool client_done;          /* close_notify received: no more input */
        bool bye_done;             /* our close_notify is out */
        bool lingering;            /* write side shut; draining the client */
        bool pair_readable;
        bool pair_blocked;         /* h2o is not reading its end */
        bool pair_wr_closed;       /* h2o closed: EPIPE, or we shut it */
        unsigned char in[TLS_IN_SIZE];
        unsigned char out[TLS_OUT_SIZE];
} TlsConn;

static void conn_run(TlsConn *c);

/* ---- credentials ---- */

static int read_pem(const char *path, gnutls_datum_t *ret)
{
        struct stat st;
        ssize_t n;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        else if (st.st_size > TLS_MAX_PEM_BYTES)
                r = -EFBIG;
        else if (!(ret->data = gnutls_malloc((size_t) st.st_size + 1)))
                r = -ENOMEM;
        if (r < 0) {
                close(fd);
                return r;
        }

        n = read(fd, ret->data, (size_t) st.st_size);
        if (n < 0)
                r = -errno;
        close(fd);
        if (r < 0) {
                gnutls_free(ret->data);
                return r;
        }
        ret->data[n] = '\0';
        ret->size = (unsigned) n;
        return 0;
}

static void free_pem(gnutls_datum_t *d)
{
        if (d->data)
                gnutls_memset(d->data, 0, d->size);
        gnutls_free(d->data);
        d->data = NULL;
}

/* Sets *ret_error and returns r, for one-statement error exits. */
__attribute__((format(printf, 3, 4)))
static int fail(char **ret_error, int r, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

static int read_pem_or_fail(const char *what, const char *path,
                            gnutls_datum_t *ret, char **ret_error)
{
        int r;

        if (!path || !*path)
                return fail(ret_error, -EINVAL, "no TLS %s file is configured",
                            what);
        r = read_pem(path, ret);
        if (r == -EINVAL)
                return fail(ret_error, r, "TLS %s %s is not a regular file",
                            what, path);
        if (r == -EFBIG)
                return fail(ret_error, -EFBIG,
                            "TLS %s %s is larger than %d bytes: not a PEM file",
                            what, path, TLS_MAX_PEM_BYTES);
        if (r < 0)
                return fail(ret_error, r, "cannot read the TLS %s %s: %s",
                            what, path, strerror(-r));
        return 0;
}

/* Whether a "-----BEGIN ...-----" line names label. A key file may start
 * with other blocks (EC PARAMETERS), a certificate file with text. */
static bool has_pem_label(const gnutls_datum_t *d, const char *label)
{
        const char *p = (const char *) d->data, *end;

        while ((p = strstr(p, "-----BEGIN ")) != NULL) {
                end = strstr(p + 11, "-----");
                if (!end)
                        return false;
                if (memmem(p, (size_t) (end - p), label, strlen(label)))
                        return true;
                p = end;
        }
        return false;
}

static int read_expiry(const gnutls_datum_t *pem, time_t *ret)
{
        gnutls_x509_crt_t *crts = NULL;
        unsigned n = 0;
        int r;

        r = gnutls_x509_crt_list_import2(&crts, &n, pem, GNUTLS_X509_FMT_PEM,
                                         0);
        if (r < 0)
                return r;
        *ret = n > 0 ? gnutls_x509_crt_get_expiration_time(crts[0]) : -1;
        for (unsigned i = 0; i < n; i++)
                gnutls_x509_crt_deinit(crts[i]);
        gnutls_free(crts);
        return *ret == (time_t) -1 ? GNUTLS_E_CERTIFICATE_ERROR : 0;
}

static int check_pem(const Config *c, const gnutls_datum_t *cert,
                     const gnutls_datum_t *key, char **ret_error)
{
        if (!has_pem_label(cert, "CERTIFICATE"))
                return fail(ret_error, -EINVAL,
                            "TLS certificate %s is not PEM: no BEGIN CERTIFICATE line",
                            c->tls_cert_file);
        if (!has_pem_label(key, "PRIVATE KEY"))
                return fail(ret_error, -EINVAL,
                            "TLS key %s is not a PEM private key: no BEGIN PRIVATE KEY line",
                            c->tls_key_file);
        if (has_pem_label(key, "ENCRYPTED") ||
            strstr((const char *) key->data, "Proc-Type: 4,ENCRYPTED"))
                return fail(ret_error, -EINVAL,
                            "TLS key %s needs a passphrase; give the daemon an unencrypted key",
                            c->tls_key_file);
        return 0;
}

static int load_pair(TlsServer *t, const Config *c, const gnutls_datum_t *cert,
                     const gnutls_datum_t *key, char **ret_error)
{
        int r;

        r = check_pem(c, cert, key, ret_error);
        if (r < 0)
                return r;

        r = read_expiry(cert, &t->expires);
        if (r < 0)
                return fail(ret_error, -EINVAL,
                            "TLS certificate %s cannot be parsed: %s",
                            c->tls_cert_file, gnutls_strerror(r));

        r = gnutls_certificate_set_x509_key_mem2(t->cred, cert, key,
                                                 GNUTLS_X509_FMT_PEM, NULL, 0);
        if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
                return fail(ret_error, -EINVAL,
                            "TLS key %s does not match the certificate %s",
                            c->tls_key_file, c->tls_cert_file);
        if (r < 0)
                return fail(ret_error, -EINVAL, "TLS key %s cannot be used: %s",
                            c->tls_key_file, gnutls_strerror(r));
        return 0;
}

static int load_credentials(TlsServer *t, const Config *c, char **ret_error)
{
        gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
        int r;

        r = read_pem_or_fail("certificate", c->tls_cert_file, &cert, ret_error);
        if (r < 0)
                return r;
        r = read_pem_or_fail("key", c->tls_key_file, &key, ret_error);
        if (r == 0)
                r = load_pair(t, c, &cert, &key, ret_error);
        free_pem(&key);
        free_pem(&cert);
        return r;
}

static int load_priority(TlsServer *t, const Config *c, char **ret_error)
{
        const char *s = c->tls_priority && *c->tls_priority ?
                        c->tls_priority : TLS_DEFAULT_PRIORITY;
        const char *err_pos = NULL;
        int r;

        r = gnutls_priority_init(&t->priority, s, &err_pos);
        if (r == GNUTLS_E_MEMORY_ERROR)
                return fail(ret_error, -ENOMEM, "out of memory");
        if (r == GNUTLS_E_INVALID_REQUEST && err_pos && err_pos >= s &&
            err_pos < s + strlen(s))
                return fail(ret_error, -EINVAL,
                            "TLS_PRIORITY \"%s\": GnuTLS does not know \"%.*s\"",
                            s, (int) strcspn(err_pos, ":"), err_pos);
        if (r == GNUTLS_E_NO_PRIORITIES_WERE_SET)
                return fail(ret_error, -EINVAL,
                            "TLS_PRIORITY \"%s\" leaves no usable protocol or cipher",
                            s);
        if (r < 0)
                return fail(ret_error, -EINVAL, "TLS_PRIORITY \"%s\": %s", s,
                            gnutls_strerror(r));
        return 0;
}

static void set_alpn(TlsServer *t, bool http2)
{
        static const char h2[] = "h2", http11[] = "http/1.1";

        t->alpn_count = 0;
        if (http2)
                t->alpn[t->alpn_count++] = (gnutls_datum_t) {
                        (unsigned char *) h2, sizeof(h2) - 1 };
        t->alpn[t->alpn_count++] = (gnutls_datum_t) {
                (unsigned char *) http11, sizeof(http11) - 1 };
}

static int server_init(TlsServer *t, const Config *c, char **ret_error)
{
        int r;

        if (gnutls_certificate_allocate_credentials(&t->cred) < 0)
                return fail(ret_error, -ENOMEM, "out of memory");
        r = load_credentials(t, c, ret_error);
        if (r < 0)
                return r;
        /* Only used when an operator's priority string enables DHE. */
        gnutls_certificate_set_known_dh_params(t->cred, GNUTLS_SEC_PARAM_MEDIUM);

        r = load_priority(t, c, ret_error);
        if (r < 0)
                return r;

        if (gnutls_session_ticket_key_generate(&t->ticket_key) < 0)
                return fail(ret_error, -ENOMEM,
                            "cannot generate the TLS session ticket key");
        set_alpn(t, c->http2);
        t->deadline_ms = c->handshake_timeout_ms ?
                         c->handshake_timeout_ms : TLS_DEFAULT_DEADLINE_MS;
        return 0;
}

int tls_server_new(TlsServer **ret, const Config *c, char **ret_error)
{
        TlsServer *t;
        int r;

        *ret_error = NULL;
        r = gnutls_global_init();
        if (r < 0)
                return fail(ret_error, -EIO, "cannot initialise GnuTLS: %s",
                            gnutls_strerror(r));

        t = calloc(1, sizeof(*t));
        if (!t) {
                gnutls_global_deinit();
                return fail(ret_error, -ENOMEM, "out of memory");
        }
        h2o_linklist_init_anchor(&t->conns);

        r = server_init(t, c, ret_error);
        if (r < 0) {
                tls_server_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

long tls_server_days_left(const TlsServer *t)
{
        long long left = (long long) t->expires - (long long) time(NULL);

        /* Rounded down, so that a negative count means expired. */
        if (left >= 0)
                return (long) (left / 86400);
        return (long) -((-left + 86399) / 86400);
}

/* ---- logging ---- */

static void conn_address(const TlsConn *c, char *buf)
{
        if (c->peer_len == 0 ||
            h2o_socket_getnumerichost((struct sockaddr *) &c->peer,
                                      c->peer_len, buf) == SIZE_MAX)
                strcpy(buf, "unknown");
}

static void conn_log(const TlsConn *c, int priority, const char *stage,
                     const char *error, const char *alert, const char *detail)
{
        char addr[NI_MAXHOST];
        const LogField fields[] = {
                { "REMOTE_ADDR", addr },
                { "TLS_ERROR", error },
                { "TLS_ALERT", alert },
        };

        conn_address(c, addr);
        log_fields(priority, LOGID_TLS_FAILURE, fields,
                   "TLS %s with %s failed: %s (webhook connection closed)",
                   stage, addr, detail);
}

/* Logs a GnuTLS error in the words an operator needs. */
static void conn_log_error(const TlsConn *c, const char *stage, int r)
{
        const char *error = gnutls_strerror(r), *alert = NULL;
        char detail[256];

        if (r == GNUTLS_E_FATAL_ALERT_RECEIVED ||
            r == GNUTLS_E_WARNING_ALERT_RECEIVED)
                alert = gnutls_alert_get_name(gnutls_alert_get(c->session));

        if (c->plaintext_client && !c->handshaken)
                snprintf(detail, sizeof(detail),
                         "the client sent plaintext, not TLS (HTTP to the HTTPS port?)");
        else if (alert)
                snprintf(detail, sizeof(detail), "the client sent the alert \"%s\"",
                         alert);
        else
                snprintf(detail, sizeof(detail), "%.*s",
                         (int) strcspn(error, "."), error);
        conn_log(c, LOG_NOTICE, stage, error, alert, detail);
}

/* ---- GnuTLS transport over the h2o sockets ---- */

static ssize_t on_pull(gnutls_transport_ptr_t p, void *buf, size_t size)
{
        TlsConn *c = p;
        size_t n;

        if (c->in_off == c->in_len) {
                ssize_t r = 0;

                if (c->tcp_eof || !c->tcp)
                        return 0;
                while (c->tcp_readable &&
                       (r = recv(h2o_socket_get_fd(c->tcp), c->in,
                                 sizeof(c->in), 0)) < 0 && errno == EINTR)
                        ;
                if (!c->tcp_readable || (r < 0 && errno == EAGAIN)) {
                        c->tcp_readable = false;
                        c->tcp_starved = true;
                        gnutls_transport_set_errno(c->session, EAGAIN);
                        return -1;
                }
                if (r < 0) {
                        gnutls_transport_set_errno(c->session, errno);
                        return -1;
                }
                if (r == 0) {
                        c->tcp_eof = true;
                        return 0;
                }
                if (!c->received_any)
                        c->plaintext_client = c->in[0] >= 'A' && c->in[0] <= 'Z';
                c->received_any = true;
                c->tcp_readable = (size_t) r == sizeof(c->in);
                c->in_off = 0;
                c->in_len = (size_t) r;
        }

        n = c->in_len - c->in_off < size ? c->in_len - c->in_off : size;
        memcpy(buf, c->in + c->in_off, n);
        c->in_off += n;
        return (ssize_t) n;
}

/* Only reached when GnuTLS wants to wait for input; never block. */
static int on_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
        TlsConn *c = p;

        return c->in_off < c->in_len || c->tcp_eof;
}

static ssize_t on_push(gnutls_transport_ptr_t p, const giovec_t *iov, int n)
{
        TlsConn *c = p;
        struct msghdr m = { .msg_iov = (struct iovec *) iov,
                            .msg_iovlen = (size_t) n };
        size_t total = 0;
        ssize_t r;

        if (!c->tcp) {
                gnutls_transport_set_errno(c->session, EPIPE);
                return -1;
        }
        for (int i = 0; i < n; i++)
                total += iov[i].iov_len;

        do
                r = sendmsg(h2o_socket_get_fd(c->tcp), &m, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);

        if (r < 0) {
                if (errno == EAGAIN)
                        c->tcp_blocked = true;
                gnutls_transport_set_errno(c->session, errno);
                return -1;
        }
        /* A short write means the socket is full: GnuTLS will say E_AGAIN. */
        if ((size_t) r < total)
                c->tcp_blocked = true;
        return r;
}

/* ---- connection states ---- */

static void close_tcp(TlsConn *c)
{
        if (!c->tcp)
                return;
        h2o_socket_close(c->tcp);
        c->tcp = NULL;
        c->tcp_blocked = false;
        h2o_timeout_unlink(&c->deadline);
}

static void drop_packet(TlsConn *c)
{
        if (c->packet)
                gnutls_packet_deinit(c->packet);
        c->packet = NULL;
        c->packet_off = 0;
}

static void shut_pair(TlsConn *c)
{
        if (c->pair && !c->pair_wr_closed)
                shutdown(h2o_socket_get_fd(c->pair), SHUT_WR);
        c->pair_wr_closed = true;
        c->pair_blocked = false;
        drop_packet(c);
}

/* The client is gone, or must go: let h2o see the end of its input and
 * wait for h2o to close its end, discarding what it still writes. */
static void client_gone(TlsConn *c)
{
        close_tcp(c);
        c->client_done = true;
        c->out_off = c->out_len = 0;
        shut_pair(c);
}

/* h2o has closed its end: what it wrote before is read already. */
static void h2o_gone(TlsConn *c)
{
        h2o_socket_close(c->pair);
        c->pair = NULL;
        c->pair_wr_closed = true;
        c->pair_blocked = false;
        drop_packet(c);
        if (c->tcp && !h2o_timeout_is_linked(&c->deadline))
                h2o_timeout_link(c->server->loop, &c->server->deadline,
                                 &c->deadline);
}

#define TLS_REFUSAL_BODY "{\"error\":\"this port only speaks HTTPS\"}\n"

static void send_plaintext_refusal(TlsConn *c)
{
        static const char answer[] =
                "HTTP/1.1 400 Bad Request\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: 40\r\n"
                "Connection: close\r\n"
                "\r\n"
                TLS_REFUSAL_BODY;
        _Static_assert(sizeof(TLS_REFUSAL_BODY) - 1 == 40, "Content-Length");

        /* Best effort: the client gets a hint, the log has the details. */
        (void) send(h2o_socket_get_fd(c->tcp), answer, sizeof(answer) - 1,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void handshake_failed(TlsConn *c, int r)
{
        if (c->received_any)
                conn_log_error(c, "handshake", r);
        if (c->plaintext_client)
                send_plaintext_refusal(c);
        else if (!c->tcp_eof && r != GNUTLS_E_PREMATURE_TERMINATION &&
                 r != GNUTLS_E_PULL_ERROR && r != GNUTLS_E_PUSH_ERROR)
                (void) gnutls_alert_send_appropriate(c->session, r);
        close_tcp(c);
}

static bool alpn_is_h2(TlsConn *c)
{
        gnutls_datum_t p;

        return gnutls_alpn_get_selected_protocol(c->session, &p) == 0 &&
               p.size == 2 && memcmp(p.data, "h2", 2) == 0;
}

static void handshake_done(TlsConn *c)
{
        h2o_loop_t *loop = c->server->loop;
        h2o_socket_t *plain;
        int fds[2];

        h2o_timeout_unlink(&c->deadline);
        c->handshaken = true;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                       fds) < 0) {
                char detail[128];
                const char *error = strerror(errno);

                snprintf(detail, sizeof(detail),
                         "cannot create a socket pair: %s", error);
                conn_log(c, LOG_ERR, "connection", error, NULL, detail);
                close_tcp(c);
                return;
        }

        plain = h2o_evloop_socket_create(loop, fds[0],
                                         H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
        if (c->peer_len > 0)
                h2o_socket_setpeername(plain, (struct sockaddr *) &c->peer,
                                       c->peer_len);
        c->pair = h2o_evloop_socket_create(loop, fds[1], H2O_SOCKET_FLAG_DONT_READ);
        c->pair->data = c;
        c->ready(c->data, plain, alpn_is_h2(c));
}

/* GnuTLS also answers E_AGAIN after a message that needed no more bytes
 * (a TLS 1.3 key update, say) and could go on at once: only our flags say
 * whether it waits for the socket. */
static bool waits_for_socket(const TlsConn *c)
{
        return c->tcp_starved || c->tcp_blocked;
}

static void handshake_step(TlsConn *c)
{
        int r, tries = 0;

        do {
                c->tcp_starved = false;
                r = gnutls_handshake(c->session);
                if (r == GNUTLS_E_AGAIN && waits_for_socket(c))
                        return;
        } while (r < 0 && !gnutls_error_is_fatal(r) && ++tries < TLS_MAX_RETRIES);

        if (r < 0)
                handshake_failed(c, r);
        else
                handshake_done(c);
}

/* ---- the pump ---- */

/* Writes the decrypted record to h2o; false while h2o's end is full. */
static bool flush_packet(TlsConn *c)
{
        gnutls_datum_t d;
        ssize_t n;

        gnutls_packet_get(c->packet, &d, NULL);
        while (c->packet_off < d.size) {
                n = send(h2o_socket_get_fd(c->pair), d.data + c->packet_off,
                         d.size - c->packet_off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        c->pair_blocked = true;
                        return false;
                }
                if (n < 0) {
                        /* h2o closed; its last output is still to be read. */
                        shut_pair(c);
                        return false;
                }
                c->packet_off += (size_t) n;
        }
        drop_packet(c);
        return true;
}

static bool is_departure(int r)
{
        return r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR ||
               r == GNUTLS_E_PUSH_ERROR;
}

/* Client to h2o: records in, plaintext out to the pair. */
static void pump_in(TlsConn *c)
{
        int r, tries = 0;

        while (c->tcp && !c->client_done && c->pair && !c->pair_wr_closed) {
                if (c->packet && !flush_packet(c))
                        return;

                c->tcp_starved = false;
                r = (int) gnutls_record_recv_packet(c->session, &c->packet);
                if (r > 0) {
                        tries = 0;
                        continue;
                }
                if (r == 0) {
                        /* close_notify: h2o sees the end of the request. */
                        drop_packet(c);
                        c->client_done = true;
                        shut_pair(c);
                        return;
                }
                if (r == GNUTLS_E_AGAIN && waits_for_socket(c))
                        return;
                if (!gnutls_error_is_fatal(r) && r != GNUTLS_E_REHANDSHAKE &&
                    ++tries < TLS_MAX_RETRIES)
                        continue;
                if (!is_departure(r))
                        conn_log_error(c, "connection", r);
                client_gone(c);
        }
}

/* h2o to the client: plaintext from the pair into records. */
static void pump_out(TlsConn *c)
{
        for (;;) {
                ssize_t n;

                if (c->out_len > 0) {
                        /* After E_AGAIN, GnuTLS wants the same data again. */
                        n = gnutls_record_send(c->session, c->out + c->out_off,
                                               c->out_len - c->out_off);
                        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                                return;
                        if (n < 0) {
                                if (!is_departure((int) n))
                                        conn_log_error(c, "connection", (int) n);
                                client_gone(c);
                                continue;
                        }
                        c->out_off += (size_t) n;
                        if (c->out_off == c->out_len)
                                c->out_off = c->out_len = 0;
                        continue;
                }

                if (!c->pair || !c->pair_readable)
                        return;
                n = recv(h2o_socket_get_fd(c->pair), c->out, sizeof(c->out), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        c->pair_readable = false;
                        return;
                }
                if (n <= 0) {
                        h2o_gone(c);
                        return;
                }
                c->pair_readable = (size_t) n == sizeof(c->out);
                /* With the client gone, h2o's output goes nowhere. */
                if (c->tcp)
                        c->out_len = (size_t) n;
        }
}

/* Reads and drops what the client still sends after our close_notify, so
 * that closing does not reset the connection before it read the answer. */
static void linger(TlsConn *c)
{
        while (c->tcp_readable) {
                ssize_t n = recv(h2o_socket_get_fd(c->tcp), c->in,
                                 sizeof(c->in), 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        c->tcp_readable = false;
                        return;
                }
                if (n <= 0) {
                        close_tcp(c);
                        return;
                }
                c->tcp_readable = (size_t) n == sizeof(c->in);
        }
}

/* h2o is done: flush, send close_notify, then close or linger. */
static void wind_down(TlsConn *c)
{
        int r;

        if (!c->tcp || c->pair || c->out_len > 0)
                return;

        if (!c->bye_done) {
                r = gnutls_bye(c->session, GNUTLS_SHUT_WR);
                if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
                        return;
                if (r < 0) {
                        close_tcp(c);
                        return;
                }
                c->bye_done = true;
        }
        if (!c->lingering) {
                if (c->client_done || c->tcp_eof) {
                        close_tcp(c);
                        return;
                }
                shutdown(h2o_socket_get_fd(c->tcp), SHUT_WR);
                c->lingering = true;
        }
        linger(c);
}

/* ---- polling ---- */

static void on_readable(h2o_socket_t *sock, const char *err);
static void on_writable(h2o_socket_t *sock, const char *err);

static void set_reading(h2o_socket_t *sock, bool want, h2o_socket_cb cb)
{
        if (want && !h2o_socket_is_reading(sock))
                h2o_socket_read_start(sock, cb);
        else if (!want && h2o_socket_is_reading(sock))
                h2o_socket_read_stop(sock);
}

static void set_writing(h2o_socket_t *sock, bool want, h2o_socket_cb cb)
{
        /* One-shot, and h2o asserts when it is armed twice. */
        if (want && !h2o_socket_is_writing(sock))
                h2o_socket_notify_write(sock, cb);
}

static bool wants_client_input(const TlsConn *c)
{
        if (c->lingering)
                return true;
        if (!c->tcp_starved)
                return false;
        if (!c->handshaken)
                return true;
        return !c->client_done && c->pair && !c->pair_wr_closed && !c->packet;
}

static void update_polling(TlsConn *c)
{
        if (c->tcp) {
                set_reading(c->tcp, !c->tcp_eof && wants_client_input(c),
                            on_readable);
                set_writing(c->tcp, c->tcp_blocked, on_writable);
        }
        if (c->pair) {
                set_reading(c->pair, c->out_len == 0 && !c->pair_readable,
                            on_readable);
                set_writing(c->pair, c->pair_blocked, on_writable);
        }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
        TlsConn *c = sock->data;

        if (sock == c->tcp)
                c->tcp_readable = true;
        else
                c->pair_readable = true;
        conn_run(c);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
        TlsConn *c = sock->data;

        if (sock == c->tcp)
                c->tcp_blocked = false;
        else
                c->pair_blocked = false;
        conn_run(c);
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
        TlsConn *c = H2O_STRUCT_FROM_MEMBER(TlsConn, deadline, entry);
        char detail[64];

        if (!c->handshaken) {
                snprintf(detail, sizeof(detail), "no handshake within %u ms",
                         c->server->deadline_ms);
                conn_log(c, LOG_NOTICE, "handshake",
                         gnutls_strerror(GNUTLS_E_TIMEDOUT), NULL, detail);
        }
        client_gone(c);
        conn_run(c);
}

/* ---- lifetime ---- */

static void conn_free(TlsConn *c)
{
        TlsClosedCb closed = c->closed;
        void *data = c->data;

        close_tcp(c);
        if (c->pair)
                h2o_socket_close(c->pair);
        drop_packet(c);
        h2o_timeout_unlink(&c->deadline);
        gnutls_deinit(c->session);
        h2o_linklist_unlink(&c->link);
        free(c);
        closed(data);
}

/* Every event ends here; the only place a connection is freed. */
static void conn_run(TlsConn *c)
{
        if (!c->handshaken && c->tcp)
                handshake_step(c);
        if (c->handshaken) {
                pump_in(c);
                pump_out(c);
                wind_down(c);
        }
        if (!c->tcp && !c->pair) {
                conn_free(c);
                return;
        }
        update_polling(c);
}

static int session_new(TlsConn *c)
{
        TlsServer *t = c->server;
        gnutls_session_t s;

        if (gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK |
                                     GNUTLS_NO_SIGNAL) < 0)
                return -ENOMEM;
        s = c->session;
        if (gnutls_priority_set(s, t->priority) < 0 ||
            gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) < 0 ||
            gnutls_session_ticket_enable_server(s, &t->ticket_key) < 0 ||
            gnutls_alpn_set_protocols(s, t->alpn, t->alpn_count,
                                      GNUTLS_ALPN_SERVER_PRECEDENCE) < 0)
                return -ENOMEM;

        /* The deadline is ours, on the loop. */
        gnutls_handshake_set_timeout(s, GNUTLS_INDEFINITE_TIMEOUT);
        gnutls_transport_set_ptr(s, c);
        gnutls_transport_set_pull_function(s, on_pull);
        gnutls_transport_set_pull_timeout_function(s, on_pull_timeout);
        gnutls_transport_set_vec_push_function(s, on_push);
        return 0;
}

void tls_accept(TlsServer *t, h2o_socket_t *tcp, TlsReadyCb ready,
                TlsClosedCb closed, void *data)
{
        int one = 1;
        TlsConn *c;

        if (!t->loop) {
                t->loop = h2o_socket_get_loop(tcp);
                h2o_timeout_init(t->loop, &t->deadline, t->deadline_ms);
        }
        assert(t->loop == h2o_socket_get_loop(tcp));

        /* The buffers need no zeroing. */
        c = malloc(sizeof(*c));
        if (c) {
                memset(c, 0, offsetof(TlsConn, in));
                c->server = t;
        }
        if (!c || session_new(c) < 0) {
                if (c && c->session)
                        gnutls_deinit(c->session);
                free(c);
                h2o_socket_close(tcp);
                closed(data);
                return;
        }
        c->tcp = tcp;
        c->ready = ready;
        c->closed = closed;
        c->data = data;
        c->peer_len = h2o_socket_getpeername(tcp, (struct sockaddr *) &c->peer);
        h2o_linklist_insert(&t->conns, &c->link);

        setsockopt(h2o_socket_get_fd(tcp), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof(one));
        tcp->data = c;
        h2o_socket_dont_read(tcp, 1);
        c->tcp_starved = true;
        h2o_socket_read_start(tcp, on_readable);
        c->deadline.cb = on_deadline;
        h2o_timeout_link(t->loop, &t->deadline, &c->deadline);
}

void tls_server_free(TlsServer *t)
{
        if (!t)
                return;

        while (!h2o_linklist_is_empty(&t->conns))
                conn_free(H2O_STRUCT_FROM_MEMBER(TlsConn, link, t->conns.next));
        if (t->loop)
                h2o_timeout_dispose(t->loop, &t->deadline);
        if (t->priority)
                gnutls_priority_deinit(t->priority);
        if (t->cred)
                gnutls_certificate_free_credentials(t->cred);
        if (t->ticket_key.data)
                free_pem(&t->ticket_key);
        free(t);
        gnutls_global_deinit();
}
