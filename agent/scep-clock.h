#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * ScepClock:
 *
 * Wall-clock deadlines (Unix seconds) without periodic wake-ups.
 *
 * The system clock arms one timerfd (CLOCK_REALTIME, TFD_TIMER_ABSTIME |
 * TFD_TIMER_CANCEL_ON_SET) for the earliest deadline and watches it on the main context that was
 * the thread-default one when the clock was created. Absolute realtime timers fire at the right
 * wall time after suspend and resume. When the wall clock is set (or the machine resumes), the
 * kernel cancels the timer: the clock re-arms it, emits "time-jumped" (so that owners can
 * re-plan) and then fires what is still due. With no deadline at all the timer is still armed far
 * in the future, only so that clock changes are noticed.
 *
 * The environment variable SCEP_AGENT_TIME_OFFSET=SECONDS (an integer, may be negative) shifts
 * the system clock's notion of "now" by a constant, for process-level tests and the demo: a
 * deadline D fires when the real time reaches D - offset.
 *
 * The fake clock (tests) only moves when told to with scep_clock_fake_set() or
 * scep_clock_fake_advance(); due deadlines then fire from an idle on the clock's main context,
 * in deadline order (ties in the order they were added), never before wall >= deadline.
 * scep_clock_fake_set() also emits "time-jumped" (it models a clock change or a resume);
 * scep_clock_fake_advance() does not (it models time passing).
 *
 * A deadline fires once; the GSourceFunc's return value is ignored. @notify (if any) is called
 * with @data after the deadline fired or when it is removed, and when the clock is finalized.
 * A deadline added when it is already due fires from the main loop, never from inside
 * scep_clock_add_deadline().
 */
#define SCEP_TYPE_CLOCK (scep_clock_get_type())
G_DECLARE_FINAL_TYPE(ScepClock, scep_clock, SCEP, CLOCK, GObject)

/* the real wall clock (plus SCEP_AGENT_TIME_OFFSET when set) */
ScepClock *scep_clock_new_system(void);
/* tests: time moves only when told */
ScepClock *scep_clock_new_fake(gint64 start_unix);

gboolean scep_clock_is_fake(ScepClock *self);
/* Unix seconds */
gint64 scep_clock_get_wall(ScepClock *self);

/* fires once when wall >= @deadline_unix; returns an id > 0 */
guint scep_clock_add_deadline(
    ScepClock *self, gint64 deadline_unix, GSourceFunc func, gpointer data, GDestroyNotify notify);
/* safe for fired, removed and unknown ids (and 0) */
void scep_clock_remove(ScepClock *self, guint id);
/* the earliest pending deadline, or G_MAXINT64 when there is none */
gint64 scep_clock_get_next_deadline(ScepClock *self);

/* fake clock only */
void scep_clock_fake_set(ScepClock *self, gint64 now_unix);
void scep_clock_fake_advance(ScepClock *self, gint64 seconds);

G_END_DECLS
