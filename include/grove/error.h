/* Grove error codes.
 *
 * Every fallible function returns 0 (or a non-negative value where its
 * comment says so) on success and a negative GROVE_E* code on failure.
 * A call that fails has changed nothing. Codes come from one list, which
 * also generates grove_strerror() and grove_errname().
 */
#ifndef GROVE_ERROR_H
#define GROVE_ERROR_H

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message) */
#define GROVE_ERRNO_MAP(X)                                                    \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(ENOPROC, -3, "no such process (dead or never existed)")                \
    X(ENOTPROC, -4, "not called from a Grove process")                        \
    X(ETIMEDOUT, -5, "timed out")                                             \
    X(EEXIST, -6, "already exists (a name taken, an address in use)")      \
    X(ENOTFOUND, -7, "not found")                                             \
    X(EALREADY, -8, "already done (process already named, already running)") \
    X(ELIMIT, -9, "limit reached (process table full)")                       \
    X(ENOTSTARTED, -10, "runtime not started")                                \
    X(ESTARTED, -11, "runtime already started")                               \
    X(EBUSY, -12, "resource busy")                                            \
    X(ENOSYS, -13, "not supported on this platform or build")                 \
    X(ESYSCALL, -14, "a system call failed")                                  \
    X(ECALLINGSELF, -15, "a process called itself")                           \
    X(EEXITED, -16, "the target exited before answering")                     \
    X(EIGNORE, -17, "start ignored (init returned ignore)")                   \
    X(ESTARTFAIL, -18, "start failed")                                        \
    X(ERUNNING, -19, "child is running")                                      \
    X(ERESTARTING, -20, "child is restarting")                                \
    X(EPRESENT, -21, "child spec already present")                            \
    X(EALREADYSTARTED, -22, "already started")                                \
    X(EMAXCHILDREN, -23, "maximum number of children reached")                \
    X(ENOTSUP, -24, "operation not supported by this object")                \
    X(ECLOSED, -25, "closed")                                                 \
    X(EAGAIN, -26, "try again")                                               \
    X(ETOOLONG, -27, "too long (a line past its maximum length)")

typedef enum grove_errno {
#define GROVE__ERR_ENUM(name, val, msg) GROVE_##name = (val),
    GROVE_ERRNO_MAP(GROVE__ERR_ENUM)
#undef GROVE__ERR_ENUM
    GROVE_OK = 0
} grove_errno_t;

/* Returns a sentence describing err ("unknown error" for unknown codes). */
GROVE_EXPORT const char *grove_strerror(int err);
/* Returns the code's name, e.g. "GROVE_ENOPROC" ("GROVE_OK" for 0,
 * "GROVE_E?" for unknown codes). */
GROVE_EXPORT const char *grove_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
