/* Grove messages: send (copy or ownership transfer) and selective receive. */
#ifndef GROVE_MESSAGE_H
#define GROVE_MESSAGE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A received message. Owned by the receiving process until
 * grove_msg_free(); freed automatically when that process exits. */
typedef struct grove_msg grove_msg_t;

typedef enum grove_msg_kind {
    GROVE_MSG_USER = 0, /* sent with grove_send*() or a timer */
    GROVE_MSG_EXIT,     /* {'EXIT', From, Reason}: trap_exit is on */
    GROVE_MSG_DOWN      /* {'DOWN', Ref, process, From, Reason} */
} grove_msg_kind_t;

/* Largest payload grove_send copies: 1 GiB. */
#define GROVE_MSG_MAX_SIZE ((size_t)1 << 30)

/* Sends a copy of data[0..size) with a user tag to pid. From any thread.
 * Messages from one sender to one receiver arrive in send order. Returns 0,
 * GROVE_ENOPROC (pid dead: nothing sent), GROVE_EINVAL (NULL data with
 * size > 0, size too big, malformed pid), GROVE_ENOMEM or
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_send(grove_pid_t to, uint64_t tag, const void *data,
                            size_t size);

/* As grove_send, also carrying ref (match it with grove_recv_ref). */
GROVE_EXPORT int grove_send_ref(grove_pid_t to, uint64_t tag, grove_ref_t ref,
                                const void *data, size_t size);

/* Sends to the process registered as name. Returns as grove_send, and
 * GROVE_ENOTFOUND if no process has the name. */
GROVE_EXPORT int grove_send_name(const char *name, uint64_t tag,
                                 const void *data, size_t size);

/* Hands data (size bytes, any allocation) to pid without copying. The
 * receiver reads it through grove_msg_data(); dtor(data) runs when the
 * message is freed, or at once if it cannot be delivered (return value
 * GROVE_ENOPROC included). dtor may be NULL. Returns as grove_send. */
GROVE_EXPORT int grove_send_owned(grove_pid_t to, uint64_t tag, void *data,
                                  size_t size, void (*dtor)(void *data));

/* Receives the oldest message. timeout_ms: 0 polls, GROVE_INFINITY waits.
 * Returns 0 and sets *out, GROVE_ETIMEDOUT, GROVE_EINVAL or
 * GROVE_ENOTPROC (then *out is NULL). Exit signals that arrive meanwhile
 * take effect. */
GROVE_EXPORT int grove_recv(grove_msg_t **out, grove_timeout_t timeout_ms);

/* Receives the oldest message with this tag (user messages only). */
GROVE_EXPORT int grove_recv_tag(grove_msg_t **out, uint64_t tag,
                                grove_timeout_t timeout_ms);

/* Receives the oldest message carrying ref (a reply, or a DOWN for a
 * monitor ref). When ref was made by the caller with grove_make_ref() and
 * is the most recent one made, only messages that arrived after it was
 * made are examined: waiting for a reply does not rescan an old queue. */
GROVE_EXPORT int grove_recv_ref(grove_msg_t **out, grove_ref_t ref,
                                grove_timeout_t timeout_ms);

/* A predicate for selective receive; runs in the receiving process. */
typedef bool (*grove_match_fn)(const grove_msg_t *msg, void *arg);

/* Receives the oldest message for which match(msg, arg) is true. Messages
 * that do not match stay queued, in order. */
GROVE_EXPORT int grove_recv_match(grove_msg_t **out, grove_match_fn match,
                                  void *arg, grove_timeout_t timeout_ms);

/* Removes every queued message for which match is true (NULL: all),
 * freeing them. Returns the number removed or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_flush(grove_match_fn match, void *arg);

/* Makes a reference unique for the life of the runtime. From a process it
 * also marks the mailbox position for grove_recv_ref(). Outside a process
 * it still returns a unique reference. */
GROVE_EXPORT grove_ref_t grove_make_ref(void);

/* Message accessors. All accept NULL and then return a zero value. */
GROVE_EXPORT int grove_msg_kind(const grove_msg_t *m);
GROVE_EXPORT uint64_t grove_msg_tag(const grove_msg_t *m);
/* The sender (EXIT: the exiting or signalling process; DOWN: the monitored
 * process); GROVE_PID_NONE for a sender outside any process. */
GROVE_EXPORT grove_pid_t grove_msg_from(const grove_msg_t *m);
GROVE_EXPORT grove_ref_t grove_msg_ref(const grove_msg_t *m);
GROVE_EXPORT const void *grove_msg_data(const grove_msg_t *m);
GROVE_EXPORT size_t grove_msg_size(const grove_msg_t *m);
/* The exit reason of an EXIT or DOWN message; NULL for others. */
GROVE_EXPORT const grove_reason_t *grove_msg_reason(const grove_msg_t *m);
/* For a DOWN of a monitor made by name, that name; otherwise NULL. */
GROVE_EXPORT const char *grove_msg_name(const grove_msg_t *m);

/* Frees a received message (running an owned payload's destructor).
 * NULL is ignored. */
GROVE_EXPORT void grove_msg_free(grove_msg_t *m);

/* Timers. A timer handle; zero is none. */
typedef struct grove_timer {
    uint64_t id;
} grove_timer_t;

/* Sends a copy of data to pid after ms milliseconds (the send happens then;
 * a dead pid then drops it). From any thread. Writes the handle to *out
 * (may be NULL). Returns 0, GROVE_EINVAL, GROVE_ENOMEM or
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_send_after(grove_pid_t to, grove_timeout_t ms,
                                  uint64_t tag, const void *data, size_t size,
                                  grove_timer_t *out);

/* Cancels a timer. Returns 0 if it was cancelled before firing,
 * GROVE_ENOTFOUND if it already fired, was cancelled or never existed. */
GROVE_EXPORT int grove_cancel_timer(grove_timer_t timer);

/* grove_send_after with options; opts may be NULL (then it is
 * grove_send_after). */
typedef struct grove_timer_opts {
    /* Deliver to the process registered under this name when the timer
     * fires (looked up then; no such process drops the message), as
     * erlang:send_after with an atom. to must be GROVE_PID_NONE. */
    const char *name;
    /* ms is a time on grove_now_ms()'s clock rather than a delay
     * ({abs, true}); a time already past fires at once. */
    bool abs;
    /* The message carries grove_timer_ref(timer) as its reference, as
     * erlang:start_timer's {timeout, TimerRef, Msg}. */
    bool with_ref;
} grove_timer_opts_t;

/* Sets a timer as grove_send_after, with opts. Returns 0, GROVE_EINVAL
 * (negative ms, no destination or both a pid and a name, an empty or
 * too long name, data NULL with a size), GROVE_ENOMEM or
 * GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_send_after_opts(grove_pid_t to, grove_timeout_t ms,
                                       uint64_t tag, const void *data,
                                       size_t size,
                                       const grove_timer_opts_t *opts,
                                       grove_timer_t *out);

/* erlang:start_timer: grove_send_after whose message carries the timer's
 * reference (grove_timer_ref), so grove_recv_ref(&m, grove_timer_ref(t),
 * ...) waits for this timer alone. Returns as grove_send_after. */
GROVE_EXPORT int grove_start_timer(grove_pid_t to, grove_timeout_t ms,
                                   uint64_t tag, const void *data,
                                   size_t size, grove_timer_t *out);

/* The reference a start_timer message carries: unique among references.
 * Zero for the zero timer. */
GROVE_EXPORT grove_ref_t grove_timer_ref(grove_timer_t timer);

/* erlang:read_timer: writes the whole milliseconds the timer has left to
 * *left (may be NULL). Returns 0, or GROVE_ENOTFOUND if it already
 * fired, was cancelled or never existed. */
GROVE_EXPORT int grove_read_timer(grove_timer_t timer, grove_timeout_t *left);

/* erlang:cancel_timer's result: grove_cancel_timer that also writes the
 * milliseconds the timer had left (may be NULL). Returns 0 or
 * GROVE_ENOTFOUND as grove_cancel_timer. */
GROVE_EXPORT int grove_cancel_timer_left(grove_timer_t timer,
                                         grove_timeout_t *left);

#ifdef __cplusplus
}
#endif
#endif
