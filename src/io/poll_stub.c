/* The poller on platforms without a backend: every call says so, and the
 * io functions return GROVE_ENOSYS instead of limping on. */
#include "io/io.h"

#if defined(GROVE__POLL_STUB)

int grove__poller_open(void) { return GROVE_ENOSYS; }

void grove__poller_close(void) {}

void grove__poller_wake(void) {}

int grove__poller_arm(int fd, unsigned events, uint64_t token, bool *added)
{
    (void)fd;
    (void)events;
    (void)token;
    (void)added;
    return GROVE_ENOSYS;
}

void grove__poller_forget(int fd) { (void)fd; }

int grove__poller_wait(grove__poll_event_t *out, int max)
{
    (void)out;
    (void)max;
    return 0;
}

#endif
