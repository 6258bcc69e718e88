/* Per-address counters for what attackers do: failed authentication,
 * failed TLS handshakes, connections held open. Fixed windows in a
 * bounded table: memory does not grow with the number of addresses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RateLimit RateLimit;

/* At most limit events per window_sec per address; window_sec 0 makes a
 * gauge of concurrent things (ratelimit_up/down). */
RateLimit *ratelimit_new(unsigned limit, unsigned window_sec);
void ratelimit_free(RateLimit *r);

typedef struct {
        bool refused;          /* over the limit: refuse this one */
        bool first_refusal;    /* the first refusal of this window: log it */
        unsigned retry_after;  /* seconds until the window ends */
} RateVerdict;

/* Counts one event of addr at now. */
RateVerdict ratelimit_hit(RateLimit *r, const char *addr, uint64_t now);
/* Whether addr is over the limit now, without counting. */
RateVerdict ratelimit_check(RateLimit *r, const char *addr, uint64_t now);

/* Concurrent things per address (connections), on a gauge: up on open,
 * down on close; ratelimit_up refuses (and does not count) past the
 * limit. */
RateVerdict ratelimit_up(RateLimit *r, const char *addr, uint64_t now);
void ratelimit_down(RateLimit *r, const char *addr);
