/* The poller on platforms without a backend: every call says so, and the
 * io functions return GROVE_ENOSYS instead of limping on. */
#include "io/io.h"

#if defined(GROVE__POLL_STUB)

int grove__poller_open(void) { return GROVE_ENOSYS; }

void grove__poller_close(void) {}

void grove__poller_wake(void) {}

int grove__poller_add(int fd, uint64_t token)
{
    (void)fd;
    (void)token;
    return GROVE_ENOSYS;
}

void grove__poller_forget(int fd) { (void)fd; }

int grove__poller_wait(grove__poll_event_t *out, int max, int timeout_ms)
{
    (void)out;
    (void)max;
    (void)timeout_ms;
    return 0;
}

#endif
