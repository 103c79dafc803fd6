/* The monotonic clock and deadlines (clock.h). */
#include "sqlflume/clock.h"

long long sf_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long sf_mono_ms(void)
{
    return sf_mono_us() / 1000;
}

void sf_deadline_after_us(struct timespec *ts, long long us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += (us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

void sf_deadline_after_ms(struct timespec *ts, long long ms)
{
    sf_deadline_after_us(ts, ms * 1000);
}
