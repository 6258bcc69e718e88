/* Datadog webhooks into an Alert (reference/FORMATS.md). */
#pragma once

#include "alert.h"

/* Maps one delivery. On MAP_ALERT *ret is filled and the caller frees it
 * with alert_free; otherwise *ret is left empty and reason says why. */
MapResult datadog_map(const MapInput *in, Alert *ret, char *reason,
                   size_t reason_size);
