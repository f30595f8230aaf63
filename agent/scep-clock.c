#include "config.h"

#include "scep-clock.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "scep-clock-private.h"

/* how far ahead the timer is armed when there is no deadline (only to notice clock changes) */
#define SCEP_CLOCK_IDLE_ARM_SECONDS (G_GINT64_CONSTANT(100) * 365 * 24 * 3600)

typedef struct {
	guint id;
	gint64 deadline;
	GSourceFunc func;
	gpointer data;
	GDestroyNotify notify;
} ScepClockDeadline;

struct _ScepClock {
	GObject parent_instance;
	gboolean fake;
	gint64 fake_now;
	gint64 offset;         /* system: SCEP_AGENT_TIME_OFFSET */
	GMainContext *context; /* owned */
	GSequence *deadlines;  /* owned, of owned ScepClockDeadline, by (deadline, id) */
	GHashTable *by_id;     /* id -> GSequenceIter, not owning */
	guint next_id;
	gint timer_fd;         /* system: -1 until created */
	GSource *timer_source; /* owned, nullable */
	GSource *idle_source;  /* owned, nullable: dispatches due deadlines */
};

enum { SIGNAL_TIME_JUMPED, SIGNAL_LAST };

static guint signals[SIGNAL_LAST] = { 0 };

G_DEFINE_TYPE(ScepClock, scep_clock, G_TYPE_OBJECT)

static void
scep_clock_deadline_free(ScepClockDeadline *deadline)
{
	if (deadline->notify != NULL)
		deadline->notify(deadline->data);
	g_free(deadline);
}

static gint
scep_clock_deadline_cmp(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const ScepClockDeadline *da = a;
	const ScepClockDeadline *db = b;

	if (da->deadline != db->deadline)
		return da->deadline < db->deadline ? -1 : 1;
	if (da->id != db->id)
		return da->id < db->id ? -1 : 1;
	return 0;
}

static gint64
scep_clock_get_real_seconds(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

gint64
scep_clock_get_wall(ScepClock *self)
{
	g_return_val_if_fail(SCEP_IS_CLOCK(self), 0);
	if (self->fake)
		return self->fake_now;
	return scep_clock_get_real_seconds() + self->offset;
}

gboolean
scep_clock_is_fake(ScepClock *self)
{
	g_return_val_if_fail(SCEP_IS_CLOCK(self), FALSE);
	return self->fake;
}

gint64
scep_clock_get_next_deadline(ScepClock *self)
{
	ScepClockDeadline *first;

	g_return_val_if_fail(SCEP_IS_CLOCK(self), G_MAXINT64);
	if (g_sequence_is_empty(self->deadlines))
		return G_MAXINT64;
	first = g_sequence_get(g_sequence_get_begin_iter(self->deadlines));
	return first->deadline;
}

/* fires every deadline that is due now, earliest first; callbacks may add and remove deadlines */
static void
scep_clock_dispatch_due(ScepClock *self)
{
	g_object_ref(self);
	while (!g_sequence_is_empty(self->deadlines)) {
		GSequenceIter *iter = g_sequence_get_begin_iter(self->deadlines);
		ScepClockDeadline *deadline = g_sequence_get(iter);

		if (deadline->deadline > scep_clock_get_wall(self))
			break;
		/* taken out before the call, so scep_clock_remove() from inside is a no-op */
		g_hash_table_remove(self->by_id, GUINT_TO_POINTER(deadline->id));
		g_sequence_remove(iter);
		deadline->func(deadline->data);
		scep_clock_deadline_free(deadline);
	}
	g_object_unref(self);
}

static void
scep_clock_arm(ScepClock *self)
{
	struct itimerspec spec = { 0 };
	gint64 target;

	if (self->fake || self->timer_fd < 0)
		return;
	/* with no deadline (or one beyond that, such as G_MAXINT64 for "never"), armed far ahead
	 * only to notice clock changes; firing early there just re-arms */
	target = MIN(scep_clock_get_next_deadline(self),
		     scep_clock_get_real_seconds() + self->offset + SCEP_CLOCK_IDLE_ARM_SECONDS);
	/* realtime second at which the shifted wall clock reaches the deadline; 0 would disarm */
	target -= self->offset;
	spec.it_value.tv_sec = (time_t)MAX(target, 1);
	if (timerfd_settime(
		self->timer_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, NULL) < 0) {
		g_warning("clock: cannot arm timerfd: %s", g_strerror(errno));
	}
}

static void
scep_clock_handle_timer(ScepClock *self, gboolean cancelled)
{
	g_object_ref(self);
	if (cancelled) {
		g_debug("clock: wall clock changed, now %" G_GINT64_FORMAT,
			scep_clock_get_wall(self));
		/* re-arm at once: until then every read() keeps failing with ECANCELED */
		scep_clock_arm(self);
		g_signal_emit(self, signals[SIGNAL_TIME_JUMPED], 0);
	}
	scep_clock_dispatch_due(self);
	scep_clock_arm(self);
	g_object_unref(self);
}

void
scep_clock_system_handle_cancel(ScepClock *self)
{
	g_return_if_fail(SCEP_IS_CLOCK(self));
	g_return_if_fail(!self->fake);
	scep_clock_handle_timer(self, TRUE);
}

gint64
scep_clock_system_get_armed(ScepClock *self)
{
	struct itimerspec spec = { 0 };
	gint64 now_real;

	g_return_val_if_fail(SCEP_IS_CLOCK(self), -1);
	if (self->fake || self->timer_fd < 0)
		return -1;
	if (timerfd_gettime(self->timer_fd, &spec) < 0)
		return -1;
	if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0)
		return -1;
	/* timerfd_gettime() reports the time left, rounded down; the target is a whole second */
	now_real = g_get_real_time();
	return (now_real + (gint64)spec.it_value.tv_sec * G_USEC_PER_SEC +
		spec.it_value.tv_nsec / 1000 + G_USEC_PER_SEC / 2) /
	       G_USEC_PER_SEC;
}

static gboolean
scep_clock_timer_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	ScepClock *self = SCEP_CLOCK(user_data);
	guint64 expirations = 0;
	ssize_t n;

	n = read(fd, &expirations, sizeof(expirations));
	if (n < 0 && errno == ECANCELED) {
		scep_clock_handle_timer(self, TRUE);
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		g_warning("clock: cannot read timerfd: %s", g_strerror(errno));
	scep_clock_handle_timer(self, FALSE);
	return G_SOURCE_CONTINUE;
}

static gboolean
scep_clock_idle_cb(gpointer user_data)
{
	ScepClock *self = SCEP_CLOCK(user_data);

	g_clear_pointer(&self->idle_source, g_source_unref);
	scep_clock_dispatch_due(self);
	return G_SOURCE_REMOVE;
}

/* fake clock, or a due deadline on the system clock: dispatch from the main loop soon */
static void
scep_clock_schedule_idle(ScepClock *self)
{
	if (self->idle_source != NULL)
		return;
	self->idle_source = g_idle_source_new();
	g_source_set_priority(self->idle_source, G_PRIORITY_DEFAULT);
	g_source_set_callback(self->idle_source, scep_clock_idle_cb, self, NULL);
	g_source_set_static_name(self->idle_source, "[scep-agent] clock deadlines");
	g_source_attach(self->idle_source, self->context);
}

guint
scep_clock_add_deadline(
    ScepClock *self, gint64 deadline_unix, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
	ScepClockDeadline *deadline;
	GSequenceIter *iter;

	g_return_val_if_fail(SCEP_IS_CLOCK(self), 0);
	g_return_val_if_fail(func != NULL, 0);

	deadline = g_new0(ScepClockDeadline, 1);
	deadline->id = self->next_id++;
	if (self->next_id == 0)
		self->next_id = 1;
	deadline->deadline = deadline_unix;
	deadline->func = func;
	deadline->data = data;
	deadline->notify = notify;
	iter = g_sequence_insert_sorted(self->deadlines, deadline, scep_clock_deadline_cmp, NULL);
	g_hash_table_insert(self->by_id, GUINT_TO_POINTER(deadline->id), iter);

	if (self->fake) {
		if (deadline_unix <= self->fake_now)
			scep_clock_schedule_idle(self);
	} else if (g_sequence_iter_is_begin(iter)) {
		/* a deadline in the past makes the timerfd readable at once */
		scep_clock_arm(self);
	}
	return deadline->id;
}

void
scep_clock_remove(ScepClock *self, guint id)
{
	ScepClockDeadline *deadline;
	GSequenceIter *iter;
	gboolean was_first;

	g_return_if_fail(SCEP_IS_CLOCK(self));
	if (id == 0)
		return;
	iter = g_hash_table_lookup(self->by_id, GUINT_TO_POINTER(id));
	if (iter == NULL)
		return;
	deadline = g_sequence_get(iter);
	was_first = g_sequence_iter_is_begin(iter);
	g_hash_table_remove(self->by_id, GUINT_TO_POINTER(id));
	g_sequence_remove(iter);
	if (was_first)
		scep_clock_arm(self);
	scep_clock_deadline_free(deadline);
}

void
scep_clock_fake_set(ScepClock *self, gint64 now_unix)
{
	g_return_if_fail(SCEP_IS_CLOCK(self));
	g_return_if_fail(self->fake);
	self->fake_now = now_unix;
	g_signal_emit(self, signals[SIGNAL_TIME_JUMPED], 0);
	if (scep_clock_get_next_deadline(self) <= self->fake_now)
		scep_clock_schedule_idle(self);
}

void
scep_clock_fake_advance(ScepClock *self, gint64 seconds)
{
	g_return_if_fail(SCEP_IS_CLOCK(self));
	g_return_if_fail(self->fake);
	self->fake_now += seconds;
	if (scep_clock_get_next_deadline(self) <= self->fake_now)
		scep_clock_schedule_idle(self);
}

static gboolean
scep_clock_parse_offset(gint64 *offset_out)
{
	const gchar *text = g_getenv("SCEP_AGENT_TIME_OFFSET");
	g_autoptr(GError) error = NULL;

	*offset_out = 0;
	if (text == NULL || text[0] == '\0')
		return TRUE;
	if (!g_ascii_string_to_signed(text,
				      10,
				      -(G_GINT64_CONSTANT(1) << 40),
				      G_GINT64_CONSTANT(1) << 40,
				      offset_out,
				      &error)) {
		g_warning("clock: ignoring SCEP_AGENT_TIME_OFFSET: %s", error->message);
		*offset_out = 0;
		return FALSE;
	}
	return TRUE;
}

ScepClock *
scep_clock_new_system(void)
{
	ScepClock *self = g_object_new(SCEP_TYPE_CLOCK, NULL);

	scep_clock_parse_offset(&self->offset);
	if (self->offset != 0)
		g_message("clock: wall clock shifted by %" G_GINT64_FORMAT
			  " s (SCEP_AGENT_TIME_OFFSET)",
			  self->offset);
	self->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (self->timer_fd < 0) {
		/* without a timerfd nothing would ever fire: that is a broken system */
		g_critical("clock: timerfd_create failed: %s", g_strerror(errno));
		return self;
	}
	self->timer_source = g_unix_fd_source_new(self->timer_fd, G_IO_IN);
	g_source_set_callback(self->timer_source, G_SOURCE_FUNC(scep_clock_timer_cb), self, NULL);
	g_source_set_static_name(self->timer_source, "[scep-agent] clock timerfd");
	g_source_attach(self->timer_source, self->context);
	scep_clock_arm(self);
	return self;
}

ScepClock *
scep_clock_new_fake(gint64 start_unix)
{
	ScepClock *self = g_object_new(SCEP_TYPE_CLOCK, NULL);

	self->fake = TRUE;
	self->fake_now = start_unix;
	return self;
}

static void
scep_clock_dispose(GObject *object)
{
	ScepClock *self = SCEP_CLOCK(object);

	if (self->timer_source != NULL) {
		g_source_destroy(self->timer_source);
		g_clear_pointer(&self->timer_source, g_source_unref);
	}
	if (self->idle_source != NULL) {
		g_source_destroy(self->idle_source);
		g_clear_pointer(&self->idle_source, g_source_unref);
	}
	if (self->timer_fd >= 0) {
		close(self->timer_fd);
		self->timer_fd = -1;
	}
	G_OBJECT_CLASS(scep_clock_parent_class)->dispose(object);
}

static void
scep_clock_finalize(GObject *object)
{
	ScepClock *self = SCEP_CLOCK(object);

	g_hash_table_unref(self->by_id);
	while (!g_sequence_is_empty(self->deadlines)) {
		GSequenceIter *iter = g_sequence_get_begin_iter(self->deadlines);
		ScepClockDeadline *deadline = g_sequence_get(iter);

		g_sequence_remove(iter);
		scep_clock_deadline_free(deadline);
	}
	g_sequence_free(self->deadlines);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(scep_clock_parent_class)->finalize(object);
}

static void
scep_clock_class_init(ScepClockClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = scep_clock_dispose;
	object_class->finalize = scep_clock_finalize;

	/**
	 * ScepClock::time-jumped:
	 *
	 * The wall clock was set (or the machine resumed): deadlines computed from the old time
	 * may be wrong, owners should re-plan. Emitted before the due deadlines fire.
	 */
	signals[SIGNAL_TIME_JUMPED] = g_signal_new("time-jumped",
						   G_TYPE_FROM_CLASS(klass),
						   G_SIGNAL_RUN_LAST,
						   0,
						   NULL,
						   NULL,
						   NULL,
						   G_TYPE_NONE,
						   0);
}

static void
scep_clock_init(ScepClock *self)
{
	self->context = g_main_context_ref_thread_default();
	self->deadlines = g_sequence_new(NULL);
	self->by_id = g_hash_table_new(g_direct_hash, g_direct_equal);
	self->next_id = 1;
	self->timer_fd = -1;
}
