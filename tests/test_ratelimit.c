/* Per-address limits: windows, the first refusal, gauges, and a table
 * that does not grow when many addresses come. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "ratelimit.h"

static void test_window(void)
{
        RateLimit *r = ratelimit_new(3, 60);
        RateVerdict v;

        for (int i = 0; i < 3; i++)
                check(!ratelimit_hit(r, "192.0.2.1", 1000).refused);
        v = ratelimit_hit(r, "192.0.2.1", 1010);
        check(v.refused);
        check(v.first_refusal);
        check_int(v.retry_after, 50);
        v = ratelimit_hit(r, "192.0.2.1", 1011);
        check(v.refused);
        check(!v.first_refusal);
        check(ratelimit_check(r, "192.0.2.1", 1011).refused);
        check(!ratelimit_check(r, "192.0.2.2", 1011).refused);
        check(!ratelimit_hit(r, "192.0.2.2", 1011).refused);

        /* A new window starts counting again, and logs again. */
        check(!ratelimit_hit(r, "192.0.2.1", 1060).refused);
        check(!ratelimit_check(r, "192.0.2.1", 1060).refused);
        ratelimit_free(r);
}

static void test_gauge(void)
{
        RateLimit *r = ratelimit_new(2, 0);

        check(!ratelimit_up(r, "198.51.100.7", 5).refused);
        check(!ratelimit_up(r, "198.51.100.7", 5).refused);
        check(ratelimit_up(r, "198.51.100.7", 9999).refused);
        ratelimit_down(r, "198.51.100.7");
        check(!ratelimit_up(r, "198.51.100.7", 9999).refused);
        check(ratelimit_up(r, "198.51.100.7", 9999).refused);
        check(!ratelimit_up(r, "198.51.100.8", 5).refused);
        ratelimit_down(r, "203.0.113.1");   /* unknown: nothing happens */
        ratelimit_free(r);
}

static void test_many_addresses(void)
{
        RateLimit *r = ratelimit_new(1, 60);
        char addr[48];
        int refused = 0;

        /* 100000 addresses through a 4096-slot table: each first hit is
         * allowed, and a known address over its limit is still caught
         * right after its own hit. */
        for (int i = 0; i < 100000; i++) {
                snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
                refused += ratelimit_hit(r, addr, 100).refused;
                refused += !ratelimit_hit(r, addr, 100).refused;
        }
        check_int(refused, 0);
        ratelimit_free(r);
}

int main(void)
{
        test_window();
        test_gauge();
        test_many_addresses();
        return check_done();
}
