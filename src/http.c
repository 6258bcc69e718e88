/* h2o: routes, authentication order, JSON answers, and the one log entry
 * per request outcome. A delivery goes: on_req -> route -> authenticate
 * -> parse -> map -> store_submit; the store's answer comes back through
 * h2o's multithread queue to on_stored, which answers the client. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <h2o/http1.h>
#include <h2o/http2.h>

#include "auth.h"
#include "delivery.h"
#include "spool.h"
#include "json.h"
#include "log.h"
#include "ratelimit.h"
#include "text.h"

#define RETRY_AFTER_SEC "30"
#define KEEPALIVE_SLOTS 1024
#define HANDSHAKE_FAILURES_PER_MINUTE 30
#define LOGGED_REFUSALS_PER_MINUTE 60

struct Http {
        const Config *config;
        h2o_globalconf_t globalconf;
        h2o_context_t ctx;
        h2o_accept_ctx_t accept_ctx;
        h2o_multithread_receiver_t stored;
        h2o_multithread_receiver_t spooled;
        h2o_timeout_t deadline;
        Store *store;
        Spool *spool;
        bool closed;                /* the store and spool are going away */
        RateLimit *per_address;     /* connections held, per address */
        RateLimit *auth_failures;   /* failed authentications, per address */
        RateLimit *handshake_failures;
        RateLimit *quiet_closes;    /* connections that brought no request: logs */
        RateLimit *refusal_logs;    /* refusals logged, per address */
        struct { uint64_t id; unsigned n; } keepalive[KEEPALIVE_SLOTS];
        TlsServer *tls;
        unsigned connections;
        unsigned in_flight;
        uint64_t requests;
};

typedef struct {
        h2o_handler_t super;
        Http *http;
} Handler;

typedef struct {
        h2o_logger_t super;
        Http *http;
} Logger;

typedef enum {
        ROUTE_PROVIDER,
        ROUTE_HEALTH,
} RouteKind;

typedef struct {
        const char *path;
        RouteKind kind;
        Provider provider;
} Route;

static const Route routes[] = {
        { "/api/webhooks/sentry", ROUTE_PROVIDER, PROVIDER_SENTRY },
        { "/api/webhooks/datadog", ROUTE_PROVIDER, PROVIDER_DATADOG },
        { "/api/webhooks/newrelic", ROUTE_PROVIDER, PROVIDER_NEWRELIC },
        { "/api/webhooks/health", ROUTE_HEALTH, PROVIDER_COUNT },
};

/* One request while this file handles it: what every log entry names. */
typedef struct {
        Http *http;
        h2o_req_t *req;
        const Route *route;
        char remote_addr[INET6_ADDRSTRLEN];
        char request_id[40];
        uint64_t start_usec;
} Call;

/* A delivery between its request and a durable home: first the store;
 * the spool when the store has not committed it by the answer deadline,
 * or cannot reach the database. call.req becomes NULL if h2o disposes of
 * the request first (the client went away). */
typedef struct Inflight {
        h2o_multithread_message_t stored_msg;
        h2o_multithread_message_t spooled_msg;
        h2o_timeout_entry_t deadline;
        Call call;
        Delivery *delivery;
        SpoolEntry *entry;        /* the request as the spool keeps it */
        struct Inflight **slot;   /* in the request's pool, while it lives */
        int spool_error;
        bool at_store;            /* submitted, the store has not answered */
        bool spooling;            /* a spool write is under way */
        bool in_spool;            /* the spool holds entry->name */
        bool committed;           /* the store committed it */
        bool answered;            /* the sender has its answer (or is gone) */
} Inflight;

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static const Route *find_route(h2o_iovec_t path)
{
        /* Providers are configured by hand: accept a trailing slash rather
         * than redirect, since Sentry follows no redirects. */
        if (path.len > 1 && path.base[path.len - 1] == '/')
                path.len--;
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
                if (strlen(routes[i].path) == path.len &&
                    !memcmp(routes[i].path, path.base, path.len))
                        return &routes[i];
        return NULL;
}

static void address_text(const struct sockaddr_storage *ss, socklen_t len,
                         char *out, size_t size)
{
        snprintf(out, size, "unknown");
        if (len == 0)
                return;
        if (ss->ss_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) ss)->sin_addr, out, size);
        else if (ss->ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ss)->sin6_addr, out,
                          size);
        else if (ss->ss_family == AF_UNIX)
                snprintf(out, size, "local");
}

static void peer_address(h2o_req_t *req, char *out, size_t size)
{
        struct sockaddr_storage ss;
        socklen_t len = req->conn->callbacks->get_peername(req->conn, (void *) &ss);

        address_text(&ss, len, out, size);
}

static h2o_iovec_t header(h2o_req_t *req, const char *name)
{
        ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

        return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

/* Behind a reverse proxy (TLS=off) the client is the last address in
 * X-Forwarded-For that is not itself a trusted proxy; the header is
 * believed only when the connection comes from TRUSTED_PROXIES. */
static void forwarded_address(const Config *cfg, h2o_req_t *req, char *addr,
                              size_t size)
{
        h2o_iovec_t xff = header(req, "x-forwarded-for");
        size_t end = xff.len;

        if (cfg->tls || xff.len == 0 || !config_is_trusted_proxy(cfg, addr))
                return;
        while (end > 0) {
                size_t start = end, n;
                char hop[INET6_ADDRSTRLEN];

                while (start > 0 && xff.base[start - 1] != ',')
                        start--;
                while (start < end && xff.base[start] == ' ')
                        start++;
                n = end - start;
                while (n > 0 && xff.base[start + n - 1] == ' ')
                        n--;
                if (n > 0 && n < sizeof(hop)) {
                        memcpy(hop, xff.base + start, n);
                        hop[n] = '\0';
                        snprintf(addr, size, "%s", hop);
                        if (!config_is_trusted_proxy(cfg, hop))
                                return;
                }
                end = start > 0 ? start - 1 : 0;
        }
}

static void call_init(Call *c, Http *h, h2o_req_t *req, const Route *route)
{
        h2o_iovec_t rid = header(req, "request-id");

        *c = (Call) { .http = h, .req = req, .route = route, .start_usec = now_usec() };
        peer_address(req, c->remote_addr, sizeof(c->remote_addr));
        forwarded_address(h->config, req, c->remote_addr, sizeof(c->remote_addr));
        h->requests++;
        if (rid.len > 0)
                text_escape_for_log(rid.base, rid.len, c->request_id,
                                    sizeof(c->request_id));
        else
                snprintf(c->request_id, sizeof(c->request_id), "%08lx%08llx",
                         (unsigned long) time(NULL), (unsigned long long) h->requests);
}

static const char *call_provider(const Call *c)
{
        return c->route && c->route->kind == ROUTE_PROVIDER ?
                provider_name(c->route->provider) : NULL;
}

/* ---- Answers ---- */

static const char *status_reason(int status)
{
        switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 413: return "Payload Too Large";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Error";
        }
}

/* Finishes w and sends it as the answer. */
static void send_json(h2o_req_t *req, int status, JsonWriter *w)
{
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        size_t len = 0;
        char *body = json_writer_finish(w, &len);

        if (!body) {
                status = 503;
                len = sizeof(fallback) - 1;
        }
        req->res.status = status;
        req->res.reason = status_reason(status);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
        if (status == 503 || status == 429)
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER,
                               NULL, H2O_STRLIT(RETRY_AFTER_SEC));
        req->res.content_length = len;
        h2o_send_inline(req, body ? body : fallback, len);
        free(body);
}

/* Refusals and tests cost a client nothing to provoke: past
 * LOGGED_REFUSALS_PER_MINUTE from one address the rest of the minute is
 * one line, so that one client cannot push real entries out of the
 * journal's rate limit. Stored deliveries are always logged. */
static bool log_allowed(const Call *c, LogId id)
{
        RateVerdict v;

        if (id == LOGID_STORED || id == LOGID_SPOOLED)
                return true;
        v = ratelimit_hit(c->http->refusal_logs, c->remote_addr, now_usec() / 1000000);
        if (v.refused && v.first_refusal) {
                LogField f[] = { { "REMOTE_ADDR", c->remote_addr } };

                log_fields(LOG_NOTICE, LOGID_REFUSED, f, "webhook requests from %s: more "
                           "than %d refusals or tests this minute; the rest of them "
                           "are not logged until the minute is over", c->remote_addr,
                           LOGGED_REFUSALS_PER_MINUTE);
        }
        return !v.refused;
}

static void call_log(const Call *c, int status, int priority, LogId id,
                     const LogField *extra, size_t n_extra, const char *what)
{
        char status_s[8], duration_s[24];
        LogField fields[12] = {
                { "PROVIDER", call_provider(c) },
                { "REMOTE_ADDR", c->remote_addr },
                { "HTTP_STATUS", status_s },
                { "REQUEST_ID", c->request_id },
                { "DURATION_USEC", duration_s },
        };
        size_t n = 5;

        if (!log_allowed(c, id))
                return;
        snprintf(status_s, sizeof(status_s), "%d", status);
        snprintf(duration_s, sizeof(duration_s), "%llu",
                 (unsigned long long) (now_usec() - c->start_usec));
        for (size_t i = 0; i < n_extra && n < 12; i++)
                fields[n++] = extra[i];

        log_entry(priority, id, fields, n, "webhook %s%s%s from %s: %d, %s",
                  call_provider(c) ? "delivery " : "request",
                  call_provider(c) ? "for " : "", call_provider(c) ? call_provider(c) : "",
                  c->remote_addr, status, what);
}

/* Refuses a request: {"error": why} to the client, and the same words
 * in the journal with what the operator can do. */
static void refuse(const Call *c, int status, LogId id, const char *why)
{
        JsonWriter *w = json_writer_new();
        LogField reason = { "REASON", why };

        json_write_object_open(w);
        json_write_key(w, "error");
        json_write_string(w, why);
        json_write_object_close(w);
        if (status == 405)
                h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_ALLOW,
                               NULL, H2O_STRLIT("GET, HEAD, POST"));
        send_json(c->req, status, w);
        call_log(c, status, status >= 500 ? LOG_WARNING : LOG_NOTICE, id, &reason, 1,
                 why);
}

static void answer_flag(const Call *c, LogId id, const char *flag,
                        const char *reason)
{
        JsonWriter *w = json_writer_new();
        LogField f = { "REASON", reason };

        json_write_object_open(w);
        json_write_key(w, "success");
        json_write_bool(w, true);
        json_write_key(w, flag);
        json_write_bool(w, true);
        if (reason) {
                json_write_key(w, "reason");
                json_write_string(w, reason);
        }
        json_write_object_close(w);
        send_json(c->req, 200, w);
        call_log(c, 200, LOG_INFO, id, &f, reason ? 1 : 0,
                 reason ? reason : "test delivery acknowledged, no issue written");
}

/* ---- GET endpoints ---- */

static void answer_endpoint(const Call *c)
{
        const SecretPair *s = &c->http->config->secrets[c->route->provider];
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        json_write_key(w, "status");
        json_write_string(w, "ok");
        json_write_key(w, "provider");
        json_write_string(w, provider_name(c->route->provider));
        json_write_key(w, "authentication");
        json_write_string(w, s->current ? "required" : "off");
        json_write_object_close(w);
        send_json(c->req, 200, w);
}

static void answer_health(const Call *c)
{
        bool db = store_connected(c->http->store);
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        json_write_key(w, "status");
        json_write_string(w, db ? "ok" : "degraded");
        json_write_key(w, "database");
        json_write_string(w, db ? "up" : "down");
        json_write_key(w, "spooled");
        json_write_int(w, c->http->spool ? (int64_t) spool_pending(c->http->spool) : 0);
        json_write_key(w, "deadLetters");
        json_write_int(w, c->http->spool ? (int64_t) spool_dead(c->http->spool) : 0);
        json_write_object_close(w);
        send_json(c->req, db ? 200 : 503, w);
}

/* ---- Deliveries ---- */

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        ch |= 0x20;
        return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The value of name in the query string, percent-decoded into out;
 * NULL when absent. */
static const char *query_param(h2o_req_t *req, const char *name, char *out,
                               size_t size)
{
        const char *p, *end = req->path.base + req->path.len;
        size_t name_len = strlen(name);

        if (req->query_at == SIZE_MAX)
                return NULL;
        for (p = req->path.base + req->query_at + 1; p < end;) {
                const char *amp = memchr(p, '&', (size_t) (end - p));
                const char *stop = amp ? amp : end;
                size_t n = 0;

                if ((size_t) (stop - p) > name_len && !memcmp(p, name, name_len) &&
                    p[name_len] == '=') {
                        for (p += name_len + 1; p < stop && n + 1 < size; p++) {
                                if (*p == '%' && stop - p > 2 && hexval(p[1]) >= 0 &&
                                    hexval(p[2]) >= 0) {
                                        out[n] = (char) (hexval(p[1]) * 16 + hexval(p[2]));
                                        if (out[n++] == '\0')
                                                return NULL;  /* no C string holds it */
                                        p += 2;
                                } else {
                                        out[n++] = *p == '+' ? ' ' : *p;
                                }
                        }
                        out[n] = '\0';
                        return n > 0 ? out : NULL;
                }
                p = stop + 1;
        }
        return NULL;
}

static AuthOutcome authenticate(const Call *c, h2o_iovec_t body)
{
        h2o_iovec_t sig = header(c->req, "sentry-hook-signature");
        h2o_iovec_t authz = header(c->req, "authorization");
        h2o_iovec_t xsig = header(c->req, "x-webhook-signature");
        char token[512];
        const char *tok = query_param(c->req, "token", token, sizeof(token));
        AuthCredentials cred = {
                .sentry_signature = sig.base, .sentry_signature_len = sig.len,
                .authorization = authz.base, .authorization_len = authz.len,
                .webhook_signature = xsig.base, .webhook_signature_len = xsig.len,
                .query_token = tok, .query_token_len = tok ? strlen(tok) : 0,
        };
        Provider p = c->route->provider;

        return auth_check(&c->http->config->secrets[p], p, &cred, body.base, body.len);
}

/* A failed authentication is counted against the address; past
 * AUTH_FAILURES_PER_MINUTE the answer is 429, logged once a minute per
 * address so that one client cannot flood the journal. A request with
 * valid credentials never gets here. */
static void refuse_auth(const Call *c, const AuthOutcome *a)
{
        RateVerdict v = ratelimit_hit(c->http->auth_failures, c->remote_addr,
                                      now_usec() / 1000000);
        LogField f[] = { { "AUTH_SCHEME", a->scheme }, { "REASON", a->reason } };
        JsonWriter *w = json_writer_new();
        char why[200], retry[16];

        if (v.refused)
                snprintf(why, sizeof(why), "too many failed authentications from %s: "
                         "retry after %u seconds", c->remote_addr, v.retry_after);
        else
                snprintf(why, sizeof(why), "authentication failed: %s", a->reason);
        json_write_object_open(w);
        json_write_key(w, "error");
        json_write_string(w, why);
        json_write_object_close(w);

        if (v.refused) {
                snprintf(retry, sizeof(retry), "%u", v.retry_after);
                h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER,
                               NULL, retry, strlen(retry));
                send_json(c->req, 429, w);
                if (v.first_refusal)
                        call_log(c, 429, LOG_NOTICE, LOGID_AUTH_FAILED, f, 2, why);
                return;
        }
        send_json(c->req, 401, w);
        call_log(c, 401, LOG_NOTICE, LOGID_AUTH_FAILED, f, 2, why);
}

/* Sentry-Hook-Timestamp is not signed, but a delivery whose timestamp is
 * far from now was recorded and sent again: refuse it. Sentry's own
 * retries carry a fresh timestamp. */
static const char *stale_timestamp(const Call *c)
{
        h2o_iovec_t v = header(c->req, "sentry-hook-timestamp");
        unsigned window = c->http->config->replay_window_sec;
        char buf[24], *end;
        long long ts, now = (long long) time(NULL);

        if (v.len == 0 || window == 0 || c->route->provider != PROVIDER_SENTRY)
                return NULL;
        if (v.len >= sizeof(buf))
                return "Sentry-Hook-Timestamp is not a Unix time";
        memcpy(buf, v.base, v.len);
        buf[v.len] = '\0';
        ts = strtoll(buf, &end, 10);
        if (*end || end == buf)
                return "Sentry-Hook-Timestamp is not a Unix time";
        if (ts < now - (long long) window || ts > now + (long long) window)
                return "Sentry-Hook-Timestamp is outside REPLAY_WINDOW_SEC: a replayed "
                       "or delayed delivery";
        return NULL;
}

/* When h2o disposes of the request before it is answered, the answer
 * has nowhere to go: forget the request, keep the delivery. */
static void on_req_disposed(void *p)
{
        Inflight **slot = p;

        if (*slot)
                (*slot)->call.req = NULL;
}

static void inflight_free(Http *h, Inflight *f)
{
        if (f->call.req)
                *f->slot = NULL;
        if (h2o_timeout_is_linked(&f->deadline))
                h2o_timeout_unlink(&f->deadline);
        delivery_free(f->delivery);
        spool_entry_free(f->entry);
        free(f);
        h->in_flight--;
}

/* Frees f once neither the store nor the spool holds it. */
static void settle(Http *h, Inflight *f)
{
        if (!f->at_store && !f->spooling)
                inflight_free(h, f);
}

static void on_spool_written(SpoolEntry *e, int error, void *data)
{
        Inflight *f = data;

        f->spool_error = error;
        h2o_multithread_send_message(&f->call.http->spooled, &f->spooled_msg);
}

static void spool(Inflight *f)
{
        f->spooling = true;
        if (f->call.http->spool)
                spool_write(f->call.http->spool, f->entry, on_spool_written, f);
        else
                on_spool_written(f->entry, -EROFS, f);  /* the spool did not open */
}

/* The store still has the alert: the spool keeps it from replay until
 * the store's answer says whether it is committed (spool_forget) or
 * not (spool_release), so a slow database does not get it twice. */
static void on_deadline(h2o_timeout_entry_t *entry)
{
        Inflight *f = H2O_STRUCT_FROM_MEMBER(Inflight, deadline, entry);

        if (!f->answered && !f->spooling && !f->in_spool) {
                f->entry->held = f->at_store;
                spool(f);
        }
}

static void submit(const Call *c, Delivery *d, const Request *r)
{
        Http *h = c->http;
        Inflight *f = calloc(1, sizeof(*f));

        if (f)
                f->entry = spool_entry_new(r);
        if (!f || !f->entry) {
                free(f);
                delivery_free(d);
                refuse(c, 503, LOGID_REFUSED, "out of memory: try again");
                return;
        }
        f->call = *c;
        f->delivery = d;
        d->owner = f;
        f->slot = h2o_mem_alloc_shared(&c->req->pool, sizeof(*f->slot), on_req_disposed);
        *f->slot = f;
        f->deadline.cb = on_deadline;
        h->in_flight++;

        /* With the database known to be down, waiting helps no one. */
        if (store_down(h->store)) {
                spool(f);
                return;
        }
        f->at_store = true;
        h2o_timeout_link(h->ctx.loop, &h->deadline, &f->deadline);
        store_submit(h->store, d);
}

/* Copies a header into buf as a C string; NULL when absent or too long. */
static const char *header_string(h2o_req_t *req, const char *name, char *buf,
                                 size_t size)
{
        h2o_iovec_t v = header(req, name);

        if (v.len == 0 || v.len >= size)
                return NULL;
        memcpy(buf, v.base, v.len);
        buf[v.len] = '\0';
        return buf;
}

static void handle_delivery(const Call *c)
{
        h2o_iovec_t body = c->req->entity.base ? c->req->entity : h2o_iovec_init("", 0);
        AuthOutcome a = authenticate(c, body);
        char resource[64], content_type[128], project[128], reason[256];
        Request r = {
                .provider = c->route->provider,
                .body = body.base,
                .len = body.len,
                .resource = header_string(c->req, "sentry-hook-resource", resource,
                                          sizeof(resource)),
                .content_type = header_string(c->req, "content-type", content_type,
                                              sizeof(content_type)),
                .project = query_param(c->req, "project", project, sizeof(project)),
                .remote_addr = c->remote_addr,
                .request_id = c->request_id,
        };
        Delivery *d = NULL;
        const char *stale;

        /* Stride's setup guide checks an endpoint with an unsigned
         * {"test":"webhook"}; it writes nothing, so it is answered even
         * without credentials. Anything else without them is refused. */
        if (a.result == AUTH_FAILED) {
                if (delivery_is_setup_check(body.base, body.len))
                        answer_flag(c, LOGID_TEST, "test", "endpoint check without "
                                    "credentials: deliveries need them");
                else
                        refuse_auth(c, &a);
                return;
        }
        if ((stale = stale_timestamp(c))) {
                refuse(c, 401, LOGID_AUTH_FAILED, stale);
                return;
        }

        switch (delivery_prepare(c->http->config, &r, &d, reason, sizeof(reason))) {
        case PREPARED:
                submit(c, d, &r);
                break;
        case PREPARED_TEST:
                answer_flag(c, LOGID_TEST, "test", NULL);
                break;
        case PREPARED_IGNORED:
                answer_flag(c, LOGID_IGNORED, "ignored", reason);
                break;
        case PREPARED_BAD_JSON:
                refuse(c, 400, LOGID_REJECTED, reason);
                break;
        case PREPARED_UNRECOGNISED:
                refuse(c, 422, LOGID_REJECTED, reason);
                break;
        case PREPARED_NO_MEMORY:
                refuse(c, 503, LOGID_REFUSED, reason);
                break;
        }
}

/* A connection serves at most MAX_REQUESTS_PER_CONNECTION requests, then
 * closes after its answer: a sender reconnects, a client that would hold
 * one connection for ever cannot. Counted by h2o's connection id in a
 * small table; a collision only restarts a count. */
static void limit_keepalive(Http *h, h2o_req_t *req)
{
        struct { uint64_t id; unsigned n; } *slot;

        slot = (void *) &h->keepalive[req->conn->id % KEEPALIVE_SLOTS];
        if (slot->id != req->conn->id) {
                slot->id = req->conn->id;
                slot->n = 0;
        }
        if (++slot->n >= h->config->max_requests_per_connection)
                req->http1_is_persistent = 0;
}

static bool method_is(h2o_req_t *req, const char *m)
{
        return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
        Http *h = ((Handler *) self)->http;
        const Route *route = find_route(req->path_normalized);
        bool read_only = method_is(req, "GET") || method_is(req, "HEAD");
        Call c;

        call_init(&c, h, req, route);
        limit_keepalive(h, req);
        if (h->closed) {
                req->http1_is_persistent = 0;
                refuse(&c, 503, LOGID_REFUSED, "the webhook receiver is stopping: retry");
        } else if (!route)
                refuse(&c, 404, LOGID_REFUSED, "no such endpoint: the webhook endpoints are "
                       "/api/webhooks/sentry, /api/webhooks/datadog and "
                       "/api/webhooks/newrelic");
        else if (route->kind == ROUTE_HEALTH && read_only)
                answer_health(&c);
        else if (read_only)
                answer_endpoint(&c);
        else if (route->kind == ROUTE_PROVIDER && method_is(req, "POST"))
                handle_delivery(&c);
        else
                refuse(&c, 405, LOGID_REFUSED, route->kind == ROUTE_HEALTH ?
                       "method not allowed: use GET" :
                       "method not allowed: webhooks are delivered with POST");
        return 0;
}

/* ---- The store's answers ---- */

static JsonWriter *stored_body(const Delivery *d)
{
        JsonWriter *w = json_writer_new();

        json_write_object_open(w);
        json_write_key(w, "success");
        json_write_bool(w, true);
        if (d->issue_id[0]) {
                json_write_key(w, "issueId");
                json_write_string(w, d->issue_id);
                json_write_key(w, "issueKey");
                json_write_string(w, d->issue_key);
                json_write_key(w, "occurrences");
                json_write_int(w, d->occurrences);
        }
        json_write_key(w, "isNew");
        json_write_bool(w, d->is_new);
        json_write_key(w, "action");
        json_write_string(w, store_action_name(d->action));
        if (d->duplicate) {
                json_write_key(w, "duplicate");
                json_write_bool(w, true);
        }
        json_write_object_close(w);
        return w;
}

static void answer_stored(const Call *c, const Delivery *d)
{
        LogField f[] = {
                { "ISSUE_KEY", d->issue_key[0] ? d->issue_key : NULL },
                { "ISSUE_ID", d->issue_id[0] ? d->issue_id : NULL },
                { "EXTERNAL_ID", d->alert.external_id },
                { "ACTION", store_action_name(d->action) },
                { "DUPLICATE", d->duplicate ? "1" : NULL },
        };
        char what[160];

        send_json(c->req, d->status, stored_body(d));
        snprintf(what, sizeof(what), "%s%s%s%s", d->duplicate ? "redelivery, " : "",
                 store_action_name(d->action), d->issue_key[0] ? " " : "", d->issue_key);
        call_log(c, d->status, LOG_INFO, LOGID_STORED, f, 5, what);
}

static void answer_queued(Inflight *f)
{
        JsonWriter *w = json_writer_new();
        LogField fl[] = {
                { "EXTERNAL_ID", f->delivery ? f->delivery->alert.external_id : NULL },
                { "SPOOL_FILE", f->entry->name },
        };

        json_write_object_open(w);
        json_write_key(w, "success");
        json_write_bool(w, true);
        json_write_key(w, "queued");
        json_write_bool(w, true);
        json_write_object_close(w);
        send_json(f->call.req, 202, w);
        call_log(&f->call, 202, LOG_INFO, LOGID_SPOOLED, fl, 2,
                 "spooled: the database did not commit it in time; it is replayed "
                 "as soon as the database answers");
}

/* The answer, if the sender still waits for one. */
static void answer(Inflight *f, int status)
{
        Delivery *d = f->delivery;

        if (f->answered)
                return;
        f->answered = true;
        if (!f->call.req) {
                call_log(&f->call, status, LOG_WARNING, LOGID_REFUSED, NULL, 0,
                         "the sender went away before the answer");
        } else if (status == 202) {
                answer_queued(f);
        } else if (status >= 200 && status < 300) {
                answer_stored(&f->call, d);
        } else if (status == 503 && !d) {
                refuse(&f->call, 503, LOGID_REFUSED, "cannot store or spool the webhook: "
                       "the spool is full or unwritable; retry later");
        } else {
                refuse(&f->call, status, LOGID_REFUSED, d->error);
        }
}

/* The store is done with f->delivery. A commit answers; an unreachable
 * or refusing database hands the alert to the spool, whose replay
 * retries it or keeps it as a dead letter; a 4xx is final. */
static void on_stored(Http *h, Inflight *f)
{
        int status = f->delivery->status;

        f->at_store = false;
        if (status >= 200 && status < 300) {
                f->committed = true;
                answer(f, status);
                if (f->in_spool) {
                        spool_forget(h->spool, f->entry->name);
                        f->in_spool = false;
                }
        } else if (f->in_spool) {
                /* Answered 202 already: replay takes it from here. */
                spool_release(h->spool, f->entry->name);
        } else if (status > 500) {
                /* Unreachable or busy: the spool keeps it for replay. A 500
                 * is the database refusing this alert for good: answered
                 * as such, since a 202 would promise what replay cannot. */
                if (!f->answered && !f->spooling && !f->in_spool)
                        spool(f);
        } else {
                answer(f, status);
        }
        settle(h, f);
}

static void on_spooled(Http *h, Inflight *f)
{
        f->spooling = false;
        if (f->spool_error < 0) {
                if (!f->committed) {
                        delivery_free(f->delivery);
                        f->delivery = NULL;
                        answer(f, 503);
                }
        } else if (f->committed || (f->answered && !f->at_store)) {
                /* Committed, or refused for good, while it was written. */
                spool_forget(h->spool, f->entry->name);
        } else {
                f->in_spool = true;
                answer(f, 202);
                /* The store gave up on it while it was being written. */
                if (!f->at_store && f->entry->held)
                        spool_release(h->spool, f->entry->name);
        }
        settle(h, f);
}

static Inflight *next_message(h2o_linklist_t *messages, size_t offset)
{
        h2o_multithread_message_t *m =
                H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);

        h2o_linklist_unlink(&m->link);
        return (Inflight *) ((char *) m - offset);
}

static void on_stored_messages(h2o_multithread_receiver_t *receiver,
                               h2o_linklist_t *messages)
{
        Http *h = H2O_STRUCT_FROM_MEMBER(Http, stored, receiver);

        while (!h2o_linklist_is_empty(messages))
                on_stored(h, next_message(messages, offsetof(Inflight, stored_msg)));
}

static void on_spooled_messages(h2o_multithread_receiver_t *receiver,
                                h2o_linklist_t *messages)
{
        Http *h = H2O_STRUCT_FROM_MEMBER(Http, spooled, receiver);

        while (!h2o_linklist_is_empty(messages))
                on_spooled(h, next_message(messages, offsetof(Inflight, spooled_msg)));
}

void http_on_stored(Delivery *d, void *data)
{
        Http *h = data;
        Inflight *f = d->owner;

        h2o_multithread_send_message(&h->stored, &f->stored_msg);
}

/* ---- h2o's own refusals ---- */

/* h2o answers some requests itself before any handler runs (a body over
 * MAX_BODY_BYTES gets 413); they land on the fallback path, and this
 * logger gives each its journal entry. */
static void on_h2o_answer(h2o_logger_t *self, h2o_req_t *req)
{
        Call c;

        if (req->res.status < 400)
                return;
        call_init(&c, ((Logger *) self)->http, req, find_route(req->path_normalized));
        limit_keepalive(c.http, req);  /* counted: its connection brought a request */
        call_log(&c, req->res.status, LOG_NOTICE, LOGID_REFUSED, NULL, 0,
                 req->res.status == 413 ? "body larger than MAX_BODY_BYTES" :
                 "refused by the HTTP layer");
}

/* ---- Connections ---- */

typedef struct {
        Http *http;
        char addr[INET6_ADDRSTRLEN];
        uint64_t conn_id;   /* h2o's, once the HTTP layer has it */
        bool counted;       /* in the per-address gauge */
        bool tls;
        bool tls_ready;     /* the handshake completed */
} Conn;

static void sock_address(h2o_socket_t *sock, char *out, size_t size)
{
        struct sockaddr_storage ss;
        socklen_t len = h2o_socket_getpeername(sock, (void *) &ss);

        address_text(&ss, len, out, size);
}

/* Did any request of this h2o connection reach on_req or the logger
 * (see limit_keepalive)? A slot taken over by a later connection reads
 * as none. */
static bool brought_request(Http *h, uint64_t conn_id)
{
        return h->keepalive[conn_id % KEEPALIVE_SLOTS].id == conn_id &&
               h->keepalive[conn_id % KEEPALIVE_SLOTS].n > 0;
}

/* h2o answers a request head it will not take (malformed, longer than
 * its limit, too many headers) with its own 400 and closes; no handler
 * sees it. Such a connection closes having brought us no request: say
 * so, once a minute per address. */
static void log_no_request(Conn *c)
{
        RateVerdict v = ratelimit_hit(c->http->quiet_closes, c->addr,
                                      now_usec() / 1000000);
        LogField f[] = { { "REMOTE_ADDR", c->addr } };

        if (v.first_refusal)
                log_fields(LOG_NOTICE, LOGID_REFUSED, f, "webhook connection from %s "
                           "closed before any request reached the daemon: the HTTP "
                           "layer refused a malformed or oversized request head (400), "
                           "or none came within REQUEST_TIMEOUT_MS", c->addr);
}

static void on_closed(void *data)
{
        Conn *c = data;
        Http *h = c->http;

        if (c->tls && !c->tls_ready)
                ratelimit_hit(h->handshake_failures, c->addr, now_usec() / 1000000);
        else if (c->conn_id && !brought_request(h, c->conn_id))
                log_no_request(c);
        if (c->counted)
                ratelimit_down(h->per_address, c->addr);
        h->connections--;
        free(c);
}

/* h2o's HTTP/1 and HTTP/2 connections begin with their h2o_conn_t, and
 * the accept functions leave it in sock->data: its id is how requests
 * are counted per connection. */
static uint64_t conn_id_of(h2o_socket_t *sock)
{
        return sock->data ? ((h2o_conn_t *) sock->data)->id : 0;
}

static void on_tls_ready(void *data, h2o_socket_t *plain, bool h2)
{
        Conn *c = data;
        struct timeval now;

        c->tls_ready = true;
        gettimeofday(&now, NULL);
        if (h2)
                h2o_http2_accept(&c->http->accept_ctx, plain, now);
        else
                h2o_http1_accept(&c->http->accept_ctx, plain, now);
        c->conn_id = conn_id_of(plain);
}

/* One address may hold at most a share of MAX_CONNECTIONS, so that slow
 * or idle connections from one place cannot crowd out the providers.
 * A trusted proxy speaks for many senders and is not limited. */
static bool admit(Http *h, Conn *c)
{
        RateVerdict v;

        if (config_is_trusted_proxy(h->config, c->addr))
                return true;
        v = ratelimit_check(h->handshake_failures, c->addr, now_usec() / 1000000);
        if (v.refused) {
                LogField f[] = { { "REMOTE_ADDR", c->addr } };

                if (v.first_refusal)
                        log_fields(LOG_NOTICE, LOGID_REFUSED, f, "webhook connections "
                                   "from %s refused for %u s: too many failed TLS "
                                   "handshakes", c->addr, v.retry_after);
                return false;
        }
        v = ratelimit_up(h->per_address, c->addr, now_usec() / 1000000);
        if (v.refused) {
                LogField f[] = { { "REMOTE_ADDR", c->addr } };

                if (v.first_refusal)
                        log_fields(LOG_NOTICE, LOGID_REFUSED, f, "webhook connection from %s "
                                   "refused: it holds too many connections already "
                                   "(a share of MAX_CONNECTIONS)", c->addr);
                return false;
        }
        c->counted = true;
        return true;
}

void http_accept(Http *h, h2o_socket_t *sock)
{
        Conn *c = calloc(1, sizeof(*c));
        struct timeval now;

        if (!c) {
                h2o_socket_close(sock);
                return;
        }
        c->http = h;
        sock_address(sock, c->addr, sizeof(c->addr));
        if (!admit(h, c)) {
                free(c);
                h2o_socket_close(sock);
                return;
        }

        h->connections++;
        if (h->tls) {
                c->tls = true;
                tls_accept(h->tls, sock, on_tls_ready, on_closed, c);
                return;
        }
        sock->on_close.cb = on_closed;
        sock->on_close.data = c;
        gettimeofday(&now, NULL);
        h2o_http1_accept(&h->accept_ctx, sock, now);
        c->conn_id = conn_id_of(sock);
}

void http_shutdown(Http *h)
{
        h2o_context_request_shutdown(&h->ctx);
}

void http_close(Http *h)
{
        h->closed = true;
}

bool http_can_free(Http *h)
{
        return h->connections == 0 && h->in_flight == 0 &&
               h2o_linklist_is_empty(&h->ctx.http1._conns) &&
               h2o_linklist_is_empty(&h->ctx.http2._conns);
}

unsigned http_connections(const Http *h)
{
        return h->connections;
}

unsigned http_in_flight(const Http *h)
{
        return h->in_flight;
}

/* ---- Set-up ---- */

static void configure(Http *h)
{
        h2o_hostconf_t *host;
        h2o_pathconf_t *path;
        Handler *handler;
        Logger *logger;

        h2o_config_init(&h->globalconf);
        h->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("stride-webhooks"));
        h->globalconf.max_request_entity_size = h->config->max_body_bytes;
        h->globalconf.http1.req_timeout = h->config->request_timeout_ms;
        /* Every bridged connection is TLS already; h2c upgrade is never
         * wanted (notes/tls-bridge.md). */
        h->globalconf.http1.upgrade_to_http2 = 0;
        h->globalconf.http2.idle_timeout = h->config->request_timeout_ms;
        /* h2o buffers every stream's body before we can authenticate it:
         * a few streams per connection keep that memory near what HTTP/1
         * would hold (MAX_CONNECTIONS times MAX_BODY_BYTES). */
        h->globalconf.http2.max_concurrent_requests_per_connection = 4;

        host = h2o_config_register_host(&h->globalconf,
                                        h2o_iovec_init(H2O_STRLIT("default")), 65535);
        path = h2o_config_register_path(host, "/", 0);
        handler = (Handler *) h2o_create_handler(path, sizeof(*handler));
        handler->super.on_req = on_req;
        handler->http = h;

        logger = (Logger *) h2o_create_logger(&host->fallback_path, sizeof(*logger));
        logger->super.log_access = on_h2o_answer;
        logger->http = h;
}

static void free_limits(Http *h)
{
        ratelimit_free(h->per_address);
        ratelimit_free(h->auth_failures);
        ratelimit_free(h->handshake_failures);
        ratelimit_free(h->quiet_closes);
        ratelimit_free(h->refusal_logs);
}

int http_new(Http **ret, const Config *c, h2o_loop_t *loop, TlsServer *tls)
{
        Http *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->config = c;
        h->tls = tls;
        h->per_address = ratelimit_new(c->max_connections > 8 ? c->max_connections / 4 : 2, 0);
        h->auth_failures = ratelimit_new(c->auth_failures_per_minute, 60);
        h->handshake_failures = ratelimit_new(HANDSHAKE_FAILURES_PER_MINUTE, 60);
        h->quiet_closes = ratelimit_new(0, 60);
        h->refusal_logs = ratelimit_new(LOGGED_REFUSALS_PER_MINUTE, 60);
        if (!h->per_address || !h->auth_failures || !h->handshake_failures ||
            !h->quiet_closes || !h->refusal_logs) {
                free_limits(h);
                free(h);
                return -ENOMEM;
        }
        configure(h);
        h2o_context_init(&h->ctx, loop, &h->globalconf);
        h->accept_ctx.ctx = &h->ctx;
        h->accept_ctx.hosts = h->globalconf.hosts;
        h2o_multithread_register_receiver(h->ctx.queue, &h->stored, on_stored_messages);
        h2o_multithread_register_receiver(h->ctx.queue, &h->spooled, on_spooled_messages);
        h2o_timeout_init(loop, &h->deadline, c->answer_deadline_ms);
        *ret = h;
        return 0;
}

void http_use_store(Http *h, Store *store, Spool *spool)
{
        h->store = store;
        h->spool = spool;
}

void http_free(Http *h)
{
        if (!h)
                return;
        h2o_multithread_unregister_receiver(h->ctx.queue, &h->stored);
        h2o_multithread_unregister_receiver(h->ctx.queue, &h->spooled);
        h2o_timeout_dispose(h->ctx.loop, &h->deadline);
        /* h2o_context_request_shutdown armed it; dispose asserts it is not. */
        if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
                h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
        /* Its multithread queue stays: h2o 2.2's destroy_queue crashes on
         * a context's queue after dispose (tests/sanitize/lsan.supp). */
        h2o_context_dispose(&h->ctx);
        h2o_config_dispose(&h->globalconf);
        free_limits(h);
        free(h);
}
