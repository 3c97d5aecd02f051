/* The core layer's interface for the layers above it (io, behaviours,
 * observe). Everything else in src/core is private. */
#ifndef GROVE_CORE_H
#define GROVE_CORE_H

#include "base/base.h"
#include "grove/logger.h"
#include "grove/message.h"
#include "grove/process.h"
#include "grove/resource.h"
#include "grove/runtime.h"

/* Formats a backtrace (addresses) into text lines "  #N 0xADDR sym+off". */
GROVE__HIDDEN int grove__format_backtrace(void *const *bt, int n, char *buf,
                                          size_t size);

/* The log sink: the logger's handlers are registered here. */
GROVE__HIDDEN void grove__log_emit(const grove_log_event_t *ev);

#endif
