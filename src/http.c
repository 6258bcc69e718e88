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
#include "json.h"
#include "log.h"
#include "text.h"

#define RETRY_AFTER_SEC "30"

struct Http {
        const Config *config;
        h2o_globalconf_t globalconf;
        h2o_context_t ctx;
        h2o_accept_ctx_t accept_ctx;
        h2o_multithread_receiver_t stored;
        Store *store;
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

/* A delivery at the store. req becomes NULL if the client's request is
 * disposed of first (the client went away). */
typedef struct Inflight {
        h2o_multithread_message_t msg;
        Call call;
        Delivery *delivery;
        struct Inflight **slot;  /* in the request's pool, while it lives */
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

static void peer_address(h2o_req_t *req, char *out, size_t size)
{
        struct sockaddr_storage ss;
        socklen_t len = req->conn->callbacks->get_peername(req->conn, (void *) &ss);

        snprintf(out, size, "unknown");
        if (len == 0)
                return;
        if (ss.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, out, size);
        else if (ss.ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, out, size);
        else if (ss.ss_family == AF_UNIX)
                snprintf(out, size, "local");
}

static h2o_iovec_t header(h2o_req_t *req, const char *name)
{
        ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

        return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static void call_init(Call *c, Http *h, h2o_req_t *req, const Route *route)
{
        h2o_iovec_t rid = header(req, "request-id");

        *c = (Call) { .http = h, .req = req, .route = route, .start_usec = now_usec() };
        peer_address(req, c->remote_addr, sizeof(c->remote_addr));
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
        json_write_int(w, 0);
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
                                        out[n++] = (char) (hexval(p[1]) * 16 + hexval(p[2]));
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

static void refuse_auth(const Call *c, const AuthOutcome *a)
{
        LogField f[] = { { "AUTH_SCHEME", a->scheme }, { "REASON", a->reason } };
        char why[160];
        JsonWriter *w = json_writer_new();

        snprintf(why, sizeof(why), "authentication failed: %s", a->reason);
        json_write_object_open(w);
        json_write_key(w, "error");
        json_write_string(w, why);
        json_write_object_close(w);
        send_json(c->req, 401, w);
        call_log(c, 401, LOG_NOTICE, LOGID_AUTH_FAILED, f, 2, why);
}

/* When h2o disposes of the request before the store answers, the answer
 * has nowhere to go: forget the request, keep the delivery. */
static void on_req_disposed(void *p)
{
        Inflight **slot = p;

        if (*slot)
                (*slot)->call.req = NULL;
}

static void submit(const Call *c, Delivery *d)
{
        Inflight *f = calloc(1, sizeof(*f));
        Inflight **slot;

        if (!f) {
                delivery_free(d);
                refuse(c, 503, LOGID_REFUSED, "out of memory: try again");
                return;
        }
        f->call = *c;
        f->delivery = d;
        d->owner = f;
        slot = h2o_mem_alloc_shared(&c->req->pool, sizeof(*slot), on_req_disposed);
        *slot = f;
        f->slot = slot;
        c->http->in_flight++;
        store_submit(c->http->store, d);
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

        switch (delivery_prepare(c->http->config, &r, &d, reason, sizeof(reason))) {
        case PREPARED:
                submit(c, d);
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
        if (!route)
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

static void finish(Http *h, Inflight *f)
{
        Delivery *d = f->delivery;

        /* From here on f must not be reached through the request's pool. */
        if (f->call.req)
                *f->slot = NULL;
        if (!f->call.req) {
                LogField fl[] = { { "EXTERNAL_ID", d->alert.external_id } };

                call_log(&f->call, d->status, LOG_WARNING, LOGID_STORED, fl, 1,
                         "stored, but the sender had gone before the answer");
        } else if (d->status >= 200 && d->status < 300) {
                answer_stored(&f->call, d);
        } else {
                refuse(&f->call, d->status, LOGID_REFUSED, d->error);
        }
        h->in_flight--;
        delivery_free(d);
        free(f);
}

static void on_stored_messages(h2o_multithread_receiver_t *receiver,
                               h2o_linklist_t *messages)
{
        Http *h = H2O_STRUCT_FROM_MEMBER(Http, stored, receiver);

        while (!h2o_linklist_is_empty(messages)) {
                h2o_multithread_message_t *m =
                        H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
                Inflight *f = H2O_STRUCT_FROM_MEMBER(Inflight, msg, m);

                h2o_linklist_unlink(&m->link);
                finish(h, f);
        }
}

void http_on_stored(Delivery *d, void *data)
{
        Http *h = data;
        Inflight *f = d->owner;

        h2o_multithread_send_message(&h->stored, &f->msg);
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
        call_log(&c, req->res.status, LOG_NOTICE, LOGID_REFUSED, NULL, 0,
                 req->res.status == 413 ? "body larger than MAX_BODY_BYTES" :
                 "refused by the HTTP layer");
}

/* ---- Connections ---- */

static void on_closed(void *data)
{
        Http *h = data;

        h->connections--;
}

static void on_plain_closed(void *data)
{
        on_closed(data);
}

static void on_tls_ready(void *data, h2o_socket_t *plain, bool h2)
{
        Http *h = data;
        struct timeval now;

        gettimeofday(&now, NULL);
        if (h2)
                h2o_http2_accept(&h->accept_ctx, plain, now);
        else
                h2o_http1_accept(&h->accept_ctx, plain, now);
}

void http_accept(Http *h, h2o_socket_t *sock)
{
        struct timeval now;

        h->connections++;
        if (h->tls) {
                tls_accept(h->tls, sock, on_tls_ready, on_closed, h);
                return;
        }
        sock->on_close.cb = on_plain_closed;
        sock->on_close.data = h;
        gettimeofday(&now, NULL);
        h2o_http1_accept(&h->accept_ctx, sock, now);
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

int http_new(Http **ret, const Config *c, h2o_loop_t *loop, TlsServer *tls)
{
        Http *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->config = c;
        h->tls = tls;
        configure(h);
        h2o_context_init(&h->ctx, loop, &h->globalconf);
        h->accept_ctx.ctx = &h->ctx;
        h->accept_ctx.hosts = h->globalconf.hosts;
        h2o_multithread_register_receiver(h->ctx.queue, &h->stored, on_stored_messages);
        *ret = h;
        return 0;
}

void http_use_store(Http *h, Store *store)
{
        h->store = store;
}

void http_free(Http *h)
{
        if (!h)
                return;
        h2o_multithread_unregister_receiver(h->ctx.queue, &h->stored);
        h2o_context_dispose(&h->ctx);
        h2o_config_dispose(&h->globalconf);
        free(h);
}
