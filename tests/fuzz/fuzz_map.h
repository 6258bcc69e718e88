/* One fuzz input through a provider mapper, the way the daemon reads a
 * delivery: directly, with each Sentry-Hook-Resource a sender may name,
 * and through delivery_prepare (parse, setup check, map, Delivery). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* resources: the header values to try (NULL: no header), n of them
 * (at most 16); the delivery_prepare call takes one by the size. */
void fuzz_map_run(Provider p, MapFunc map, const char *const *resources,
                  size_t n, const uint8_t *data, size_t size);
