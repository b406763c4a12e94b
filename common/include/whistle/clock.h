/* clock.h: wall-clock and monotonic milliseconds. */
#ifndef WHISTLE_CLOCK_H
#define WHISTLE_CLOCK_H
#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock: for timestamps stored in cases). */
int64_t wh_now_ms(void);
/* Monotonic milliseconds (for timeouts and durations). */
int64_t wh_mono_ms(void);

#endif
