#pragma once

#include "scep-clock.h"

G_BEGIN_DECLS

/*
 * Test hooks for the system clock (the real wall clock cannot be set in tests).
 *
 * scep_clock_system_handle_cancel() runs exactly what the timerfd callback runs when read()
 * fails with ECANCELED (the wall clock was set): re-arm, emit "time-jumped", fire what is due.
 * scep_clock_system_get_armed() returns the realtime (Unix seconds) the timerfd is armed for, from
 * timerfd_gettime(), or -1 when it is not armed.
 */
void scep_clock_system_handle_cancel(ScepClock *self);
gint64 scep_clock_system_get_armed(ScepClock *self);

G_END_DECLS
