/*
 * The monotonic clock and condition-variable deadlines, in one place. Every condition variable
 * that waits with a deadline from here must be created with pthread_condattr_setclock(...,
 * CLOCK_MONOTONIC), so that wall clock steps (NTP, an operator) neither shorten nor stretch waits.
 */
#ifndef SQLFLUME_CLOCK_H
#define SQLFLUME_CLOCK_H

#include <time.h>

/** CLOCK_MONOTONIC now, in microseconds since an arbitrary epoch. Thread: any. */
long long sf_mono_us(void);
/** CLOCK_MONOTONIC now, in milliseconds since an arbitrary epoch. Thread: any. */
long long sf_mono_ms(void);
/** *ts = CLOCK_MONOTONIC now plus us microseconds (us >= 0), normalised, for
 *  pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable. */
void sf_deadline_after_us(struct timespec *ts, long long us);
/** As sf_deadline_after_us, in milliseconds. */
void sf_deadline_after_ms(struct timespec *ts, long long ms);

#endif
