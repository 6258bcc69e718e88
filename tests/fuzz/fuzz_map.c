/* The mapper fuzz driver (fuzz_map.h). */
#include "fuzz_map.h"

#include "config.h"
#include "delivery.h"
#include "fuzz.h"
#include "json.h"
#include "store.h"

#define REASON_SIZE 256
#define RESOURCES_MAX 16

/* As an operator would write it, so that delivery_prepare also looks
 * projects up. */
static char project_map[] = "sentry:checkout-api=SHOP,"
        "datadog:service:billing=BILL,newrelic:Checkout policy=SHOP";

/* One mapper call with its contract checked; *ret_id gets a copy of the
 * external id on MAP_ALERT. */
static MapResult map_once(Provider p, MapFunc map, const JsonValue *root,
                          const char *resource, char **ret_id)
{
        MapInput in = { .root = root, .resource = resource };
        char reason[REASON_SIZE];
        MapResult r;
        Alert a;

        /* Garbage in *ret and reason shows what the mapper leaves. */
        memset(reason, 'x', sizeof(reason));
        memset(&a, 0xa5, sizeof(a));
        r = map(&in, &a, reason, sizeof(reason));
        fuzz_check_reason(reason, sizeof(reason));
        *ret_id = NULL;

        switch (r) {
        case MAP_ALERT:
                fuzz_assert(reason[0] == '\0');
                fuzz_check_alert(&a, p);
                *ret_id = strdup(a.external_id);
                fuzz_assert(*ret_id);
                alert_free(&a);
                return r;
        case MAP_TEST:
                break;
        case MAP_IGNORED:
        case MAP_UNRECOGNISED:
        case MAP_NO_MEMORY:
                fuzz_assert(reason[0] != '\0');
                break;
        default:
                fuzz_assert(!"a MapResult");
        }
        fuzz_check_empty(&a);
        return r;
}

static PrepareResult expected(bool parsed, bool setup_test, MapResult m)
{
        if (!parsed)
                return PREPARED_BAD_JSON;
        if (setup_test)
                return PREPARED_TEST;
        switch (m) {
        case MAP_ALERT:
                return PREPARED;
        case MAP_TEST:
                return PREPARED_TEST;
        case MAP_IGNORED:
                return PREPARED_IGNORED;
        case MAP_UNRECOGNISED:
                return PREPARED_UNRECOGNISED;
        case MAP_NO_MEMORY:
                break;
        }
        return PREPARED_NO_MEMORY;
}

/* The bytes through delivery_prepare must come out as the direct call
 * said: the same result, and on PREPARED the same incident. */
static void prepare_once(Provider p, const uint8_t *data, size_t size,
                         const char *resource, PrepareResult want,
                         const char *want_id)
{
        Config c = { .project_map = project_map };
        const char *project = size % 2 ? "SHOP" : NULL;
        Request r = {
                .provider = p,
                .body = (const char *) data,
                .len = size,
                .resource = resource,
                .content_type = "application/json",
                .project = project,
                .remote_addr = "127.0.0.1",
                .request_id = "fuzz",
        };
        static Delivery sentinel;   /* *ret must become NULL or a delivery */
        Delivery *d = &sentinel;
        char reason[REASON_SIZE];
        PrepareResult res;

        memset(reason, 'x', sizeof(reason));
        res = delivery_prepare(&c, &r, &d, reason, sizeof(reason));
        fuzz_check_reason(reason, sizeof(reason));
        fuzz_assert(res == want);

        if (res != PREPARED) {
                fuzz_assert(d == NULL);
                fuzz_assert(reason[0] != '\0');
                return;
        }
        fuzz_assert(d && d != &sentinel);
        fuzz_check_alert(&d->alert, p);
        fuzz_assert(strcmp(d->alert.external_id, want_id) == 0);
        fuzz_assert(project ? d->url_project && !strcmp(d->url_project, project)
                            : !d->url_project);
        fuzz_assert(!d->mapped_project || !strcmp(d->mapped_project, "SHOP") ||
                    !strcmp(d->mapped_project, "BILL"));
        fuzz_assert(strcmp(d->remote_addr, "127.0.0.1") == 0);
        delivery_free(d);
}

static bool same_id(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

void fuzz_map_run(Provider p, MapFunc map, const char *const *resources,
                  size_t n, const uint8_t *data, size_t size)
{
        size_t pick = size % n;
        MapResult r[RESOURCES_MAX];
        char *id[RESOURCES_MAX] = { 0 };
        bool parsed, setup_test;
        Json *doc = NULL;

        fuzz_assert(n > 0 && n <= RESOURCES_MAX);
        parsed = json_parse((const char *) data, size, NULL, &doc, NULL) == 0;
        setup_test = parsed && alert_is_setup_test(json_root(doc));
        if (delivery_is_setup_check((const char *) data, size))
                fuzz_assert(setup_test && json_count(json_root(doc)) == 1);

        for (size_t i = 0; parsed && i < n; i++) {
                r[i] = map_once(p, map, json_root(doc), resources[i], &id[i]);
                /* The header is Sentry's: the other mappers must not read it. */
                if (p != PROVIDER_SENTRY)
                        fuzz_assert(r[i] == r[0] && same_id(id[i], id[0]));
        }
        json_free(doc);

        prepare_once(p, data, size, resources[pick],
                     expected(parsed, setup_test, parsed ? r[pick] : MAP_UNRECOGNISED),
                     id[pick]);
        for (size_t i = 0; i < n; i++)
                free(id[i]);
}
