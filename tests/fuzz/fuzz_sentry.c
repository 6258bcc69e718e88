/* Sentry payloads through sentry_map and delivery_prepare. */
#include "fuzz.h"
#include "fuzz_map.h"
#include "sentry.h"

/* Every Sentry-Hook-Resource the mapper knows, none, and one it does not. */
static const char *const resources[] = {
        NULL, "issue", "event_alert", "error", "metric_alert", "comment",
        "installation", "seer", "Issue", "uninstall",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_map_run(PROVIDER_SENTRY, sentry_map, resources,
                     sizeof(resources) / sizeof(resources[0]), data, size);
        return 0;
}
