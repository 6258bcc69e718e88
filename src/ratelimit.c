/* Per-address counters in a fixed table with open addressing. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS 4096   /* a power of two */
#define PROBES 16
#define ADDR_MAX 48

typedef struct {
        char addr[ADDR_MAX];
        uint64_t window_start;
        unsigned count;
        bool logged;
} Slot;

struct RateLimit {
        unsigned limit;
        unsigned window_sec;
        Slot slots[SLOTS];
};

RateLimit *ratelimit_new(unsigned limit, unsigned window_sec)
{
        RateLimit *r = calloc(1, sizeof(*r));

        if (r) {
                r->limit = limit;
                r->window_sec = window_sec;
        }
        return r;
}

void ratelimit_free(RateLimit *r)
{
        free(r);
}

static uint32_t hash(const char *s)
{
        uint32_t h = 2166136261u;

        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 16777619u;
        return h;
}

/* Free to take over: empty, counting nothing, or a window that ended. */
static bool idle(const RateLimit *r, const Slot *s, uint64_t now)
{
        return s->addr[0] == '\0' || s->count == 0 ||
               (r->window_sec && now >= s->window_start + r->window_sec);
}

/* The slot of addr, or a free or stale one in its probe range taken over
 * for it. Past PROBES busy slots the oldest is reused: a flood of
 * addresses can make us forget one, never grow. */
static Slot *find(RateLimit *r, const char *addr, uint64_t now, bool create)
{
        uint32_t h = hash(addr);
        Slot *victim = NULL;

        for (unsigned i = 0; i < PROBES; i++) {
                Slot *s = &r->slots[(h + i) & (SLOTS - 1)];

                if (!strcmp(s->addr, addr))
                        return s;
                if (!victim || (idle(r, s, now) && !idle(r, victim, now)) ||
                    (!idle(r, victim, now) && s->window_start < victim->window_start))
                        victim = s;
        }
        if (!create)
                return NULL;
        *victim = (Slot) { .window_start = now };
        strncpy(victim->addr, addr, ADDR_MAX - 1);
        return victim;
}

static void roll(RateLimit *r, Slot *s, uint64_t now)
{
        if (r->window_sec && now >= s->window_start + r->window_sec) {
                s->window_start = now;
                s->count = 0;
                s->logged = false;
        }
}

static RateVerdict verdict(RateLimit *r, Slot *s, uint64_t now, bool over)
{
        RateVerdict v = { .refused = over };

        if (over) {
                v.first_refusal = !s->logged;
                s->logged = true;
                v.retry_after = r->window_sec ?
                        (unsigned) (s->window_start + r->window_sec - now) : 1;
                if (v.retry_after == 0)
                        v.retry_after = 1;
        }
        return v;
}

RateVerdict ratelimit_hit(RateLimit *r, const char *addr, uint64_t now)
{
        Slot *s = find(r, addr, now, true);

        roll(r, s, now);
        if (s->count < r->limit) {
                s->count++;
                return (RateVerdict) { 0 };
        }
        return verdict(r, s, now, true);
}

RateVerdict ratelimit_check(RateLimit *r, const char *addr, uint64_t now)
{
        Slot *s = find(r, addr, now, false);

        if (!s)
                return (RateVerdict) { 0 };
        roll(r, s, now);
        return verdict(r, s, now, s->count >= r->limit);
}

RateVerdict ratelimit_up(RateLimit *r, const char *addr, uint64_t now)
{
        Slot *s = find(r, addr, now, true);

        if (s->count < r->limit) {
                s->count++;
                s->logged = false;
                return (RateVerdict) { 0 };
        }
        return verdict(r, s, now, true);
}

void ratelimit_down(RateLimit *r, const char *addr)
{
        Slot *s = find(r, addr, 0, false);

        if (s && s->count > 0)
                s->count--;
}
