#include "config.h"

#include <glib.h>
#include <string.h>

#include "scep-clock-private.h"
#include "scep-clock.h"
#include "scep-test-util.h"

/* ---- helpers ---- */

typedef struct {
	ScepClock *clock; /* not owned */
	GString *log;     /* owned: one letter per fired deadline */
	gint64 deadline;  /* of the last added, for the "never early" check */
	guint fired;
	guint notified;
	gint64 fired_at_real; /* microseconds, g_get_real_time() of the last firing */
	gint64 fired_at_wall; /* scep_clock_get_wall() at the last firing */
	guint jumps;
} Recorder;

typedef struct {
	Recorder *rec;
	gchar letter;
	gint64 deadline;
} Item;

static Recorder *
recorder_new(ScepClock *clock)
{
	Recorder *rec = g_new0(Recorder, 1);

	rec->clock = clock;
	rec->log = g_string_new(NULL);
	return rec;
}

static ScepClock *
recorder_attach(Recorder *rec, ScepClock *clock)
{
	rec->clock = clock;
	return clock;
}

static void
recorder_free(Recorder *rec)
{
	g_string_free(rec->log, TRUE);
	g_free(rec);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Recorder, recorder_free)

static gboolean
item_fired_cb(gpointer user_data)
{
	Item *item = user_data;
	Recorder *rec = item->rec;

	/* never early */
	g_assert_cmpint(scep_clock_get_wall(rec->clock), >=, item->deadline);
	g_string_append_c(rec->log, item->letter);
	rec->fired++;
	rec->fired_at_real = g_get_real_time();
	rec->fired_at_wall = scep_clock_get_wall(rec->clock);
	return G_SOURCE_CONTINUE; /* ignored: a deadline fires once */
}

static void
item_notify_cb(gpointer user_data)
{
	Item *item = user_data;

	item->rec->notified++;
	g_free(item);
}

static guint
add_item(Recorder *rec, gint64 deadline, gchar letter)
{
	Item *item = g_new0(Item, 1);

	item->rec = rec;
	item->letter = letter;
	item->deadline = deadline;
	return scep_clock_add_deadline(rec->clock, deadline, item_fired_cb, item, item_notify_cb);
}

static void
jumped_cb(ScepClock *clock, gpointer user_data)
{
	Recorder *rec = user_data;

	rec->jumps++;
	g_string_append_c(rec->log, '!');
}

/* runs every pending idle of the default context (the fake clock fires from an idle) */
static void
drain(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static gboolean
set_flag_cb(gpointer user_data)
{
	gboolean *flag = user_data;

	*flag = TRUE;
	return G_SOURCE_REMOVE;
}

/* iterates until @rec saw @count firings or @seconds passed (a guard, not a sleep) */
static gboolean
wait_fired(Recorder *rec, guint count, guint seconds)
{
	gboolean expired = FALSE;
	guint guard = g_timeout_add_seconds(seconds, set_flag_cb, &expired);

	while (rec->fired < count && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(guard);
	return rec->fired >= count;
}

/* ---- fake clock ---- */

static void
test_fake_order(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(1000));

	g_assert_true(scep_clock_is_fake(clock));
	g_assert_cmpint(scep_clock_get_wall(clock), ==, 1000);
	add_item(rec, 1300, 'A');
	add_item(rec, 1100, 'B');
	add_item(rec, 1200, 'C');
	add_item(rec, 1200, 'D');
	add_item(rec, 1150, 'E');
	g_assert_cmpint(scep_clock_get_next_deadline(clock), ==, 1100);

	scep_clock_fake_advance(clock, 150);
	drain();
	g_assert_cmpstr(rec->log->str, ==, "BE");
	scep_clock_fake_advance(clock, 100);
	drain();
	/* same deadline: in the order they were added */
	g_assert_cmpstr(rec->log->str, ==, "BECD");
	scep_clock_fake_advance(clock, 1000);
	drain();
	g_assert_cmpstr(rec->log->str, ==, "BECDA");
	g_assert_cmpuint(rec->notified, ==, 5);
	g_assert_cmpint(scep_clock_get_next_deadline(clock), ==, G_MAXINT64);
}

static void
test_fake_never_early(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(1000));

	add_item(rec, 2000, 'A');
	scep_clock_fake_advance(clock, 999);
	drain();
	g_assert_cmpuint(rec->fired, ==, 0);
	scep_clock_fake_set(clock, 1999);
	drain();
	g_assert_cmpuint(rec->fired, ==, 0);
	scep_clock_fake_advance(clock, 1);
	drain();
	g_assert_cmpuint(rec->fired, ==, 1);
	g_assert_cmpint(rec->fired_at_wall, ==, 2000);
}

static void
test_fake_fires_once(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(0));

	add_item(rec, 10, 'A');
	scep_clock_fake_advance(clock, 20);
	drain();
	scep_clock_fake_advance(clock, 20);
	drain();
	scep_clock_fake_set(clock, 5);
	scep_clock_fake_set(clock, 50);
	drain();
	g_assert_cmpuint(rec->fired, ==, 1);
	g_assert_cmpuint(rec->notified, ==, 1);
}

static void
test_fake_remove(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(100));
	guint a = add_item(rec, 200, 'A');
	guint b = add_item(rec, 300, 'B');

	g_assert_cmpuint(a, >, 0);
	g_assert_cmpuint(b, >, 0);
	g_assert_cmpuint(a, !=, b);
	scep_clock_remove(clock, a);
	g_assert_cmpuint(rec->notified, ==, 1);
	/* removing again, an unknown id and 0 are harmless */
	scep_clock_remove(clock, a);
	scep_clock_remove(clock, 0);
	scep_clock_remove(clock, 4242);
	g_assert_cmpuint(rec->notified, ==, 1);
	g_assert_cmpint(scep_clock_get_next_deadline(clock), ==, 300);

	scep_clock_fake_advance(clock, 1000);
	drain();
	g_assert_cmpstr(rec->log->str, ==, "B");
	/* a fired id is gone too */
	scep_clock_remove(clock, b);
	g_assert_cmpuint(rec->notified, ==, 2);
}

static void
test_fake_due_fires_from_loop(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(500));

	add_item(rec, 100, 'A');
	add_item(rec, 500, 'B');
	/* never from inside add_deadline() */
	g_assert_cmpuint(rec->fired, ==, 0);
	drain();
	g_assert_cmpstr(rec->log->str, ==, "AB");
}

static void
test_fake_remove_before_idle(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(500));
	guint id = add_item(rec, 100, 'A');

	scep_clock_remove(clock, id);
	drain();
	g_assert_cmpuint(rec->fired, ==, 0);
	g_assert_cmpuint(rec->notified, ==, 1);
}

static void
test_fake_time_jumped(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(1000));

	g_signal_connect(clock, "time-jumped", G_CALLBACK(jumped_cb), rec);
	add_item(rec, 1500, 'A');
	scep_clock_fake_advance(clock, 100);
	drain();
	g_assert_cmpuint(rec->jumps, ==, 0);
	scep_clock_fake_set(clock, 2000);
	drain();
	/* the signal comes before the due deadlines fire, so owners can re-plan first */
	g_assert_cmpstr(rec->log->str, ==, "!A");
}

typedef struct {
	Recorder *rec;
	guint victim;
} Remover;

static gboolean
remove_other_cb(gpointer user_data)
{
	Remover *remover = user_data;

	g_string_append_c(remover->rec->log, 'R');
	scep_clock_remove(remover->rec->clock, remover->victim);
	add_item(remover->rec, scep_clock_get_wall(remover->rec->clock), 'N');
	return G_SOURCE_REMOVE;
}

static void
test_fake_callback_reentrancy(void)
{
	/* declared first so that it is freed last: the clock notifies it when finalized */
	g_autoptr(Recorder) rec = recorder_new(NULL);
	g_autoptr(ScepClock) clock = recorder_attach(rec, scep_clock_new_fake(0));
	Remover remover = { rec, 0 };

	scep_clock_add_deadline(clock, 10, remove_other_cb, &remover, NULL);
	remover.victim = add_item(rec, 20, 'V');
	add_item(rec, 30, 'W');
	scep_clock_fake_advance(clock, 100);
	drain();
	/* V was removed by R before its turn; N (added due) fired after W's turn came */
	g_assert_cmpstr(rec->log->str, ==, "RWN");
	g_assert_cmpuint(rec->notified, ==, 3);
}

static void
test_fake_finalize_notifies(void)
{
	ScepClock *clock = scep_clock_new_fake(0);
	g_autoptr(Recorder) rec = recorder_new(clock);

	add_item(rec, 10, 'A');
	add_item(rec, 20, 'B');
	g_object_unref(clock);
	g_assert_cmpuint(rec->notified, ==, 2);
	g_assert_cmpuint(rec->fired, ==, 0);
}

/* ---- system clock ---- */

static void
test_system_fires(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	gint64 deadline;

	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	clock = scep_clock_new_system();
	rec = recorder_new(clock);
	g_assert_false(scep_clock_is_fake(clock));
	deadline = scep_clock_get_wall(clock) + 2;
	add_item(rec, deadline, 'A');
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, deadline);
	g_assert_true(wait_fired(rec, 1, 10));
	/* at the deadline's second, not before */
	g_assert_cmpint(rec->fired_at_real, >=, deadline * G_USEC_PER_SEC);
	g_assert_cmpint(rec->fired_at_real, <, (deadline + 2) * G_USEC_PER_SEC);
}

static void
test_system_past(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	gint64 start;

	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	clock = scep_clock_new_system();
	rec = recorder_new(clock);
	start = g_get_monotonic_time();
	add_item(rec, scep_clock_get_wall(clock) - 3600, 'A');
	add_item(rec, scep_clock_get_wall(clock) - 10, 'B');
	g_assert_cmpuint(rec->fired, ==, 0);
	g_assert_true(wait_fired(rec, 2, 5));
	g_assert_cmpstr(rec->log->str, ==, "AB");
	g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC / 2);
}

static void
test_system_offset(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	gint64 offset = 30 * 24 * 3600;
	gint64 real;
	gint64 wall;
	gint64 deadline;

	g_setenv("SCEP_AGENT_TIME_OFFSET", "2592000", TRUE);
	clock = scep_clock_new_system();
	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	rec = recorder_new(clock);

	real = g_get_real_time() / G_USEC_PER_SEC;
	wall = scep_clock_get_wall(clock);
	g_assert_cmpint(wall - real, >=, offset - 1);
	g_assert_cmpint(wall - real, <=, offset + 1);

	/* a deadline on the shifted clock: armed in real time, and it fires */
	deadline = wall + 1;
	add_item(rec, deadline, 'A');
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, deadline - offset);
	g_assert_true(wait_fired(rec, 1, 10));
	g_assert_cmpint(rec->fired_at_wall, >=, deadline);
}

static void
test_system_offset_invalid(void)
{
	g_autoptr(ScepClock) clock = NULL;
	gint64 real;

	g_setenv("SCEP_AGENT_TIME_OFFSET", "soon", TRUE);
	scep_test_expect_warning("*SCEP_AGENT_TIME_OFFSET*");
	clock = scep_clock_new_system();
	scep_test_assert_expected_warning();
	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	real = g_get_real_time() / G_USEC_PER_SEC;
	g_assert_cmpint(scep_clock_get_wall(clock) - real, >=, -1);
	g_assert_cmpint(scep_clock_get_wall(clock) - real, <=, 1);
}

static void
test_system_rearm(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	gint64 now;
	guint first;
	guint second;

	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	clock = scep_clock_new_system();
	rec = recorder_new(clock);
	now = scep_clock_get_wall(clock);
	/* with no deadline, armed far ahead only to notice clock changes */
	g_assert_cmpint(scep_clock_system_get_armed(clock), >, now + 50 * 365 * 24 * 3600LL);

	/* "never" (G_MAXINT64) as the only deadline does not overflow: armed as if there were none
	 */
	first = scep_clock_add_deadline(clock, G_MAXINT64, item_fired_cb, NULL, NULL);
	g_assert_cmpint(scep_clock_system_get_armed(clock), >, now + 50 * 365 * 24 * 3600LL);
	g_assert_cmpint(scep_clock_system_get_armed(clock), <, now + 200 * 365 * 24 * 3600LL);
	scep_clock_remove(clock, first);

	first = add_item(rec, now + 100, 'A');
	add_item(rec, now + 200, 'B');
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, now + 100);
	add_item(rec, now + 50, 'C');
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, now + 50);
	scep_clock_remove(clock, first);
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, now + 50);
	second = add_item(rec, now + 20, 'D');
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, now + 20);
	scep_clock_remove(clock, second);
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, now + 50);
}

/* the ECANCELED path: the real clock cannot be set in a test, so the handler runs directly */
static void
test_system_time_jump(void)
{
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	gint64 now;

	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	clock = scep_clock_new_system();
	rec = recorder_new(clock);
	g_signal_connect(clock, "time-jumped", G_CALLBACK(jumped_cb), rec);
	now = scep_clock_get_wall(clock);
	add_item(rec, now + 300, 'A');
	add_item(rec, now - 5, 'P');

	scep_clock_system_handle_cancel(clock);
	/* signalled first, then what is due fired, then re-armed for the next deadline */
	g_assert_cmpstr(rec->log->str, ==, "!P");
	g_assert_cmpint(scep_clock_system_get_armed(clock), ==, now + 300);
	drain();
	g_assert_cmpstr(rec->log->str, ==, "!P");
}

static void
test_system_no_periodic_wakeup(void)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	GPollFD fds[16];
	gint priority = 0;
	gint timeout = 0;
	gint nfds;
	gint ready;
	gint64 start;

	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	g_main_context_push_thread_default(context);
	clock = scep_clock_new_system();
	rec = recorder_new(clock);
	add_item(rec, scep_clock_get_wall(clock) + 3600, 'A');
	while (g_main_context_iteration(context, FALSE))
		;

	/* nothing asks for a timeout: the only wake-up source is the timerfd */
	g_assert_true(g_main_context_acquire(context));
	g_main_context_prepare(context, &priority);
	nfds = g_main_context_query(context, G_MAXINT, &timeout, fds, G_N_ELEMENTS(fds));
	g_assert_cmpint(timeout, ==, -1);
	g_assert_cmpint(nfds, >=, 1);
	g_assert_cmpint(nfds, <=, (gint)G_N_ELEMENTS(fds));

	/* and none of its descriptors becomes ready within a second */
	start = g_get_monotonic_time();
	ready = g_poll(fds, (guint)nfds, 1000);
	g_assert_cmpint(ready, ==, 0);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 900 * 1000);
	g_main_context_check(context, priority, fds, nfds);
	g_main_context_release(context);
	g_assert_cmpuint(rec->fired, ==, 0);

	g_clear_object(&clock);
	g_main_context_pop_thread_default(context);
}

/* the clock works on the context that was the thread-default one when it was created */
static void
test_system_own_context(void)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(Recorder) rec = NULL;
	g_autoptr(ScepClock) clock = NULL;
	gint64 start;

	g_unsetenv("SCEP_AGENT_TIME_OFFSET");
	g_main_context_push_thread_default(context);
	clock = scep_clock_new_system();
	g_main_context_pop_thread_default(context);
	rec = recorder_new(clock);
	add_item(rec, scep_clock_get_wall(clock) - 1, 'A');
	drain();
	g_assert_cmpuint(rec->fired, ==, 0);
	start = g_get_monotonic_time();
	while (rec->fired == 0 && g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC)
		g_main_context_iteration(context, FALSE);
	g_assert_cmpuint(rec->fired, ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	scep_test_log_init();

	g_test_add_func("/scep/clock/fake/order", test_fake_order);
	g_test_add_func("/scep/clock/fake/never-early", test_fake_never_early);
	g_test_add_func("/scep/clock/fake/fires-once", test_fake_fires_once);
	g_test_add_func("/scep/clock/fake/remove", test_fake_remove);
	g_test_add_func("/scep/clock/fake/due-fires-from-loop", test_fake_due_fires_from_loop);
	g_test_add_func("/scep/clock/fake/remove-before-idle", test_fake_remove_before_idle);
	g_test_add_func("/scep/clock/fake/time-jumped", test_fake_time_jumped);
	g_test_add_func("/scep/clock/fake/callback-reentrancy", test_fake_callback_reentrancy);
	g_test_add_func("/scep/clock/fake/finalize-notifies", test_fake_finalize_notifies);
	g_test_add_func("/scep/clock/system/fires", test_system_fires);
	g_test_add_func("/scep/clock/system/past-fires-at-once", test_system_past);
	g_test_add_func("/scep/clock/system/time-offset", test_system_offset);
	g_test_add_func("/scep/clock/system/time-offset-invalid", test_system_offset_invalid);
	g_test_add_func("/scep/clock/system/rearm", test_system_rearm);
	g_test_add_func("/scep/clock/system/time-jump", test_system_time_jump);
	g_test_add_func("/scep/clock/system/no-periodic-wakeup", test_system_no_periodic_wakeup);
	g_test_add_func("/scep/clock/system/own-context", test_system_own_context);
	return g_test_run();
}
