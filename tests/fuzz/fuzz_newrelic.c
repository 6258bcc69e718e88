/* New Relic payloads through newrelic_map and delivery_prepare. */
#include "fuzz.h"
#include "fuzz_map.h"
#include "newrelic.h"

/* New Relic sends no resource header: a stray one must change nothing. */
static const char *const resources[] = { NULL, "issue" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_map_run(PROVIDER_NEWRELIC, newrelic_map, resources,
                     sizeof(resources) / sizeof(resources[0]), data, size);
        return 0;
}
