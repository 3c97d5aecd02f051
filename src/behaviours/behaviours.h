/* The behaviours layer's interface for the observe layer above it. */
#ifndef GROVE_BEHAVIOURS_H
#define GROVE_BEHAVIOURS_H

#include "core/core.h"
#include "grove/gen_server.h"
#include "grove/supervisor.h"
#include "grove/dynamic_supervisor.h"
#include "grove/registry.h"

/* Reports through the logger on behalf of the calling supervisor: a
 * supervisor report (context: child_started, child_terminated,
 * start_error, shutdown_error, reached_max_restart_intensity, shutdown,
 * restart). Nothing is formatted when the level is not logged. */
GROVE__HIDDEN void grove__sup_report(int level, const char *sup_name,
                                     const char *context,
                                     const char *child_id, grove_pid_t child,
                                     const grove_reason_t *reason,
                                     const char *extra);

#endif
