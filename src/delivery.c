/* A request's bytes into a Delivery. */
#include "delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "datadog.h"
#include "json.h"
#include "newrelic.h"
#include "sentry.h"

static const MapFunc mappers[PROVIDER_COUNT] = {
        [PROVIDER_SENTRY] = sentry_map,
        [PROVIDER_DATADOG] = datadog_map,
        [PROVIDER_NEWRELIC] = newrelic_map,
};

bool delivery_is_setup_check(const char *body, size_t len)
{
        Json *doc = NULL;
        JsonError err;
        bool r;

        if (len > 256 || json_parse(body, len, NULL, &doc, &err) < 0)
                return false;
        r = alert_is_setup_test(json_root(doc)) && json_count(json_root(doc)) == 1;
        json_free(doc);
        return r;
}

static Delivery *make(const Config *c, const Request *r, Alert *alert)
{
        Delivery *d = calloc(1, sizeof(*d));
        char mapped[128];
        const char *map = config_map_project(c, r->provider, alert->provider_project,
                                             mapped, sizeof(mapped));

        if (!d)
                return NULL;
        d->url_project = r->project ? strdup(r->project) : NULL;
        d->mapped_project = map ? strdup(map) : NULL;
        if ((r->project && !d->url_project) || (map && !d->mapped_project)) {
                delivery_free(d);
                return NULL;
        }
        d->alert = *alert;
        *alert = (Alert) { 0 };
        auth_sha256(r->body, r->len, d->digest);
        snprintf(d->remote_addr, sizeof(d->remote_addr), "%s", r->remote_addr);
        snprintf(d->request_id, sizeof(d->request_id), "%s", r->request_id);
        return d;
}

static PrepareResult map(const Config *c, const Request *r, const JsonValue *root,
                         Delivery **ret, char *reason, size_t size)
{
        MapInput in = { .root = root, .resource = r->resource };
        Alert alert = { 0 };

        if (alert_is_setup_test(root)) {
                snprintf(reason, size, "test delivery acknowledged, no issue written");
                return PREPARED_TEST;
        }

        switch (mappers[r->provider](&in, &alert, reason, size)) {
        case MAP_ALERT:
                *ret = make(c, r, &alert);
                alert_free(&alert);
                if (!*ret) {
                        snprintf(reason, size, "out of memory: try again");
                        return PREPARED_NO_MEMORY;
                }
                return PREPARED;
        case MAP_TEST:
                snprintf(reason, size, "test notification acknowledged, no issue written");
                return PREPARED_TEST;
        case MAP_IGNORED:
                return PREPARED_IGNORED;
        case MAP_UNRECOGNISED:
                return PREPARED_UNRECOGNISED;
        case MAP_NO_MEMORY:
                break;
        }
        snprintf(reason, size, "out of memory: try again");
        return PREPARED_NO_MEMORY;
}

PrepareResult delivery_prepare(const Config *c, const Request *r, Delivery **ret,
                               char *reason, size_t reason_size)
{
        JsonError err;
        Json *doc = NULL;
        PrepareResult res;
        int k;

        *ret = NULL;
        reason[0] = '\0';
        k = json_parse(r->body, r->len, NULL, &doc, &err);
        if (k < 0) {
                snprintf(reason, reason_size, "%s", err.message);
                return err.kind == JSON_ERROR_NO_MEMORY ? PREPARED_NO_MEMORY :
                                                          PREPARED_BAD_JSON;
        }
        res = map(c, r, json_root(doc), ret, reason, reason_size);
        json_free(doc);
        return res;
}
