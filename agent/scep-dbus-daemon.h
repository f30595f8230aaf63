#pragma once

#include <gio/gio.h>

#include "scep-engine.h"

G_BEGIN_DECLS

/* the bus name and the object paths of data/org.scepagent.Agent1.xml */
#define SCEP_DBUS_NAME              "org.scepagent.Agent1"
#define SCEP_DBUS_PATH              "/org/scepagent/Agent1"
#define SCEP_DBUS_CERTIFICATES_PATH SCEP_DBUS_PATH "/certificates"

#define SCEP_TYPE_DBUS_DAEMON (scep_dbus_daemon_get_type())
G_DECLARE_FINAL_TYPE(ScepDbusDaemon, scep_dbus_daemon, SCEP, DBUS_DAEMON, GObject)

/*
 * The D-Bus face of @engine (a reference is kept): the Manager at SCEP_DBUS_PATH with the
 * ObjectManager, one certificate object per profile (added and removed with the engine's
 * profiles), properties bound to the profiles, StateChanged from their "state-changed", and the
 * mutating methods, which check the caller's uid (root or the daemon's own user) before acting.
 * The engine should be loaded first, so that the tree is complete when the name is taken.
 */
ScepDbusDaemon *scep_dbus_daemon_new(ScepEngine *engine);

/*
 * Connects to @bus ("system", "session" or a D-Bus address), exports the objects and requests
 * SCEP_DBUS_NAME (without replacing an owner). "name-acquired" follows once the name is owned;
 * "name-lost" when it cannot be had or is lost later.
 */
gboolean scep_dbus_daemon_set_admin_group(ScepDbusDaemon *self, const gchar *group, GError **error);
gboolean scep_dbus_daemon_start(ScepDbusDaemon *self, const gchar *bus, GError **error);

/* releases the name and unexports everything */
void scep_dbus_daemon_stop(ScepDbusDaemon *self);

G_END_DECLS
