/* What Supervisor and DynamicSupervisor share: starting a child from its
 * spec, the restart-intensity ring, the shutdown procedure for one child
 * and the backoff delay. Private to src/behaviours. */
#ifndef GROVE_SUP_COMMON_H
#define GROVE_SUP_COMMON_H

#include "behaviours/behaviours.h"

/* Starts a child as its spec says (start, start_extra, gen_server, entry
 * or supervisor), linked to the caller. 0 with *pid, GROVE_EIGNORE, or an
 * error with *why. */
int grove__child_start(const grove_child_spec_t *sp, void *extra,
                       grove_pid_t *pid, grove_reason_t *why);

/* Restart intensity: the times (s) of the last max + 1 restarts. The ring
 * grows with the restarts that really happen, up to max + 1, so a huge
 * limit costs nothing until it is used. */
typedef struct grove__intensity {
    uint64_t *ring;
    size_t cap, head, len;
    int max;
    uint64_t period;
} grove__intensity_t;

int grove__intensity_init(grove__intensity_t *in, int max, int period);
/* Records a restart now; false when it goes over the limit. O(1)
 * amortized whatever max is. */
bool grove__intensity_add(grove__intensity_t *in);
void grove__intensity_free(grove__intensity_t *in);
/* A supervisor's statistics record: restarts so far, the window and the
 * limits of in. */
grove_sup_stats_t grove__intensity_stats(const grove__intensity_t *in,
                                         uint64_t restarts, int strategy);

/* Starts OTP's shutdown of one child: monitor (*mref), unlink and kill
 * or shutdown as its shutdown setting says, as one signal. False when
 * there was no memory for the monitor: it was unlinked and killed, and
 * cannot be waited for. */
bool grove__child_shutdown_begin(grove_pid_t pid, grove_timeout_t shutdown,
                                 grove_ref_t *mref);
/* OTP's whole shutdown procedure for one child: the above (an EXIT
 * already queued is then taken as its end), then wait up to the shutdown
 * time, then kill. Writes how it ended. */
void grove__child_shutdown(grove_pid_t pid, grove_timeout_t shutdown,
                           grove_reason_t *end);
/* Whether an end seen during shutdown is expected (else the supervisor
 * logs shutdown_error). */
bool grove__shutdown_accepted(int restart, grove_timeout_t shutdown,
                              const grove_reason_t *end);
/* The reason shutdown with no detail: what a child is asked to stop
 * with, accepted whatever its spec. */
static inline bool grove__reason_plain_shutdown(const grove_reason_t *r)
{
    return r->kind == GROVE_EXIT_SHUTDOWN && !r->text[0] && !r->code;
}

/* When a child with backoff b starts: the time its stable period counts
 * from; 0 without backoff, which never needs it (a clock read saved per
 * start and restart). */
uint64_t grove__backoff_started(const grove_backoff_t *b);
/* The next backoff delay (0: restart at once). *delay holds the delay in
 * force and is updated; started_ms is when the child last started. */
uint32_t grove__backoff_next(const grove_backoff_t *b, uint32_t *delay,
                             uint64_t started_ms, unsigned *seed);
/* The delay before retrying a restart whose start failed: the backoff's
 * next delay, growing from the last one (0 without backoff, so the retry
 * is immediate as in OTP). */
uint32_t grove__backoff_failed_start(const grove_backoff_t *b,
                                     uint32_t *delay, unsigned *seed);

uint64_t grove__mono_ms(void);

/* The client side of both supervisors' APIs. A call with no timeout (as
 * OTP's); a supervisor that dies before answering is GROVE_ENOPROC. */
int grove__sup_call(grove_server_t sup, uint64_t req, const void *data,
                    size_t size, grove_msg_t **reply);
/* The same, copying a reply of size bytes into out. */
int grove__sup_call_copy(grove_server_t sup, uint64_t req, const void *data,
                         size_t size, void *out, size_t out_size);
/* A which_children request: up to max entries into out, the total in *n. */
int grove__sup_call_children(grove_server_t sup, uint64_t req,
                             grove_child_info_t *out, size_t max, size_t *n);

#endif
