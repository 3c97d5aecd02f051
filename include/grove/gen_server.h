/* Grove gen_server: OTP's generic server in C.
 *
 * A server is a process that runs a loop the runtime drives: each message
 * is a call (answered), a cast (not answered) or anything else (info), and
 * each goes to the matching callback in arrival order, one at a time. The
 * callbacks return what to do next (reply, noreply, stop), optionally with
 * a timeout, hibernation or a continue step, exactly as in OTP.
 *
 * State: a server's state is a void* the callbacks read with
 * grove_gs_state() and replace with grove_gs_set_state(). Memory for it is
 * best taken with grove_alloc(): it then goes away with the process
 * whatever way it ends.
 */
#ifndef GROVE_GEN_SERVER_H
#define GROVE_GEN_SERVER_H

#include "message.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The server context handed to every callback (valid during the call). */
typedef struct grove_gs grove_gs_t;

/* Who is waiting for a reply (OTP's From). A plain value: keep it to
 * reply later with grove_gs_reply(). */
typedef struct grove_gs_from {
    grove_pid_t pid;
    grove_ref_t ref;
} grove_gs_from_t;

/* What a callback returns. Build it with the GROVE_GS_* macros below. */
typedef enum grove_gs_action {
    GROVE_GS_OK = 0,   /* init: started */
    GROVE_GS_REPLY,    /* handle_call: answer now */
    GROVE_GS_NOREPLY,  /* no answer (or answer later with grove_gs_reply) */
    GROVE_GS_STOP,     /* stop with reason (handle_call: optionally reply) */
    GROVE_GS_IGNORE,   /* init: start returns GROVE_EIGNORE, exit normal */
    GROVE_GS_ERROR     /* init: start fails with reason, exit normal */
} grove_gs_action_t;

/* What happens after the callback, beside the action. */
typedef enum grove_gs_next {
    GROVE_GS_NEXT_NONE = 0,
    GROVE_GS_NEXT_TIMEOUT,   /* handle_info(timeout) after idle ms */
    GROVE_GS_NEXT_HIBERNATE, /* give the stack back while waiting */
    GROVE_GS_NEXT_CONTINUE   /* handle_continue(cont) before any message */
} grove_gs_next_t;

#define GROVE_GS_REPLY_INLINE 64

typedef struct grove_gs_ret {
    int action;            /* grove_gs_action_t */
    int next;              /* grove_gs_next_t */
    grove_timeout_t timeout; /* for GROVE_GS_NEXT_TIMEOUT */
    void *cont;            /* for GROVE_GS_NEXT_CONTINUE */
    bool has_reply;        /* a reply goes out (REPLY, or STOP_REPLY) */
    uint64_t reply_tag;
    size_t reply_size;
    /* The reply's bytes are copied when the return value is made (the
     * callback's locals are gone once it returns): small ones here,
     * larger ones to the heap, freed by the runtime after sending. */
    void *reply_heap;
    unsigned char reply_buf[GROVE_GS_REPLY_INLINE];
    grove_reason_t reason; /* STOP and ERROR */
} grove_gs_ret_t;

/* Builds a REPLY (or, with stop set, a STOP with reply) carrying a copy of
 * data[0..size). If the copy cannot be allocated, the server will stop
 * with an out-of-memory error instead. Used by the macros below. */
GROVE_EXPORT grove_gs_ret_t grove_gs_make_reply(uint64_t tag, const void *data,
                                                size_t size, bool stop,
                                                const grove_reason_t *reason);

/* Return values, as OTP's tuples (macro arguments are evaluated once): */
/* {ok, State} from init */
#define GROVE_GS_INIT_OK() ((grove_gs_ret_t){.action = GROVE_GS_OK})
/* {reply, Reply, State}; the reply is a message with tag and a copy of
 * data[0..size) */
#define GROVE_GS_REPLY(tag_, data_, size_)                                  \
    grove_gs_make_reply((tag_), (data_), (size_), false, NULL)
/* {noreply, State} */
#define GROVE_GS_NOREPLY() ((grove_gs_ret_t){.action = GROVE_GS_NOREPLY})
/* {stop, Reason, State} */
#define GROVE_GS_STOP(reason_)                                              \
    ((grove_gs_ret_t){.action = GROVE_GS_STOP, .reason = (reason_)})
/* {stop, Reason, Reply, State} from handle_call */
#define GROVE_GS_STOP_REPLY(reason_, tag_, data_, size_)                    \
    grove_gs__stop_reply((reason_), (tag_), (data_), (size_))
/* ignore and {error, Reason} from init */
#define GROVE_GS_INIT_IGNORE() ((grove_gs_ret_t){.action = GROVE_GS_IGNORE})
#define GROVE_GS_INIT_ERROR(reason_)                                        \
    ((grove_gs_ret_t){.action = GROVE_GS_ERROR, .reason = (reason_)})
/* {stop, Reason} from init: start fails and the process exits Reason */
#define GROVE_GS_INIT_STOP(reason_) GROVE_GS_STOP(reason_)

static inline grove_gs_ret_t grove_gs__stop_reply(grove_reason_t reason,
                                                  uint64_t tag,
                                                  const void *data,
                                                  size_t size)
{
    return grove_gs_make_reply(tag, data, size, true, &reason);
}

/* Modifiers: wrap any non-stop return value. */
static inline grove_gs_ret_t grove_gs_with_timeout(grove_gs_ret_t r,
                                                   grove_timeout_t ms)
{
    r.next = GROVE_GS_NEXT_TIMEOUT;
    r.timeout = ms;
    return r;
}
static inline grove_gs_ret_t grove_gs_with_hibernate(grove_gs_ret_t r)
{
    r.next = GROVE_GS_NEXT_HIBERNATE;
    return r;
}
static inline grove_gs_ret_t grove_gs_with_continue(grove_gs_ret_t r,
                                                    void *cont)
{
    r.next = GROVE_GS_NEXT_CONTINUE;
    r.cont = cont;
    return r;
}

/* The tag of the message handle_info receives when a timeout set with
 * grove_gs_with_timeout expires (OTP's 'timeout' atom). */
#define GROVE_GS_TIMEOUT_TAG UINT64_C(0xffffffffffff0001)

/* The callbacks. NULL members get OTP's defaults: init returns ok with a
 * NULL state; handle_call and handle_cast make the server exit with
 * badarg (Elixir raises on an unexpected call or cast); handle_info logs a
 * warning and drops the message; handle_continue exits with badarg;
 * terminate does nothing. */
typedef struct grove_gs_callbacks {
    const char *name; /* shown in reports ("module") */
    grove_gs_ret_t (*init)(grove_gs_t *gs, void *arg);
    grove_gs_ret_t (*handle_call)(grove_gs_t *gs, const grove_msg_t *req,
                                  grove_gs_from_t from);
    grove_gs_ret_t (*handle_cast)(grove_gs_t *gs, const grove_msg_t *msg);
    grove_gs_ret_t (*handle_info)(grove_gs_t *gs, const grove_msg_t *msg);
    grove_gs_ret_t (*handle_continue)(grove_gs_t *gs, void *cont);
    void (*terminate)(grove_gs_t *gs, const grove_reason_t *reason);
    /* Writes a short summary of the state for crash reports; returns its
     * length. */
    int (*format_status)(grove_gs_t *gs, char *buf, size_t size);
} grove_gs_callbacks_t;

/* The server's state. */
GROVE_EXPORT void *grove_gs_state(const grove_gs_t *gs);
/* Replaces the server's state. */
GROVE_EXPORT void grove_gs_set_state(grove_gs_t *gs, void *state);

/* ---- names ---------------------------------------------------------------- */

/* A name service for servers: OTP's {via, Module, Name}. The Registry
 * plugs in here. Keys are bytes. */
typedef struct grove_via {
    /* Registers pid under key: 0, GROVE_EEXIST (writes the holder to
     * *holder when known). Called from the new process. */
    int (*register_name)(void *reg, const void *key, size_t len,
                         grove_pid_t pid, grove_pid_t *holder);
    /* Removes key if pid holds it. */
    void (*unregister_name)(void *reg, const void *key, size_t len,
                            grove_pid_t pid);
    /* Looks key up: 0 and *pid, or GROVE_ENOTFOUND. */
    int (*whereis_name)(void *reg, const void *key, size_t len,
                        grove_pid_t *pid);
    void *reg;
} grove_via_t;

/* How to reach a server: by pid, local name or via name. */
typedef struct grove_server {
    int kind; /* 0 pid, 1 local name, 2 via */
    grove_pid_t pid;
    const char *name;
    const grove_via_t *via;
    const void *key;
    size_t key_len;
} grove_server_t;

static inline grove_server_t grove_server_pid(grove_pid_t pid)
{
    grove_server_t s = {0, pid, NULL, NULL, NULL, 0};
    return s;
}
static inline grove_server_t grove_server_name(const char *name)
{
    grove_server_t s = {1, {0}, name, NULL, NULL, 0};
    return s;
}
static inline grove_server_t grove_server_via(const grove_via_t *via,
                                              const void *key, size_t len)
{
    grove_server_t s = {2, {0}, NULL, via, key, len};
    return s;
}

/* Resolves a server reference to a live pid now. Returns 0,
 * GROVE_ENOPROC (nothing there) or GROVE_EINVAL. */
GROVE_EXPORT int grove_server_whereis(grove_server_t srv, grove_pid_t *pid);

/* ---- start ---------------------------------------------------------------- */

typedef struct grove_gs_opts {
    bool link;              /* start_link (default: start, no link) */
    const char *name;       /* register this local name */
    const grove_via_t *via; /* or register key through via */
    const void *via_key;
    size_t via_key_len;
    /* Time init may take; 0 or GROVE_INFINITY: no limit. On expiry the
     * new process is killed and start returns GROVE_ETIMEDOUT. */
    grove_timeout_t timeout;
    size_t stack_size;       /* 0: runtime default */
    /* Hibernate after this many ms without messages (0: never). Any
     * other value makes every wait give the stack back at once. */
    grove_timeout_t hibernate_after;
    /* Spawn with trap_exit already set (before init runs). */
    bool trap_exit;
    /* start_monitor: the caller monitors the new server from its spawn
     * on, and a successful start writes the monitor's reference to
     * *monitor_ref (required with monitor); the DOWN comes when the
     * server exits. A start that fails leaves no monitor and no DOWN
     * behind, and writes GROVE_REF_NONE. Ignored in a child spec: a
     * supervisor links to its children instead. */
    bool monitor;
    grove_ref_t *monitor_ref;
    /* spawn_opt max_heap_size for the server's process (size 0: the
     * runtime's default). */
    grove_max_heap_t max_heap;
    /* spawn_opt priority for the server's process (0: normal). */
    grove_priority_t priority;
} grove_gs_opts_t;

/* Starts a server and waits until its init has returned (OTP's start and
 * start_link). cb must stay valid for the server's life. opts may be NULL.
 * Returns:
 *  0                    started; *pid set
 *  GROVE_EIGNORE        init returned ignore (the process exited normal)
 *  GROVE_ESTARTFAIL     init returned stop or error, or exited: *why holds
 *                       the reason (may be NULL)
 *  GROVE_EALREADYSTARTED the name is taken: *pid is the holder; init never
 *                       ran
 *  GROVE_ETIMEDOUT      init took longer than opts->timeout
 *  GROVE_EINVAL, GROVE_ENOMEM, GROVE_ELIMIT, GROVE_ENOTSTARTED,
 *  GROVE_ENOTPROC       (not called from a process)
 * With link set and init stopping with a reason other than normal, a
 * caller that does not trap exits is killed by the link (as in OTP); a
 * trapping caller finds no EXIT message left behind by a failed start.
 * With monitor set (OTP's start_monitor), the monitor stays after a
 * successful start; see grove_gs_opts_t. */
GROVE_EXPORT int grove_gs_start(const grove_gs_callbacks_t *cb, void *arg,
                                const grove_gs_opts_t *opts, grove_pid_t *pid,
                                grove_reason_t *why);

/* gen_server:enter_loop: makes the calling process a gen_server running
 * cb with state, without a start or an init. how is what init would have
 * returned: GROVE_GS_INIT_OK(), optionally with a timeout, hibernate or
 * continue (grove_gs_with_*). opts may be NULL; of its fields only name,
 * or via with its key, and hibernate_after are read, and a name must
 * already be the caller's. The server's parent is the process that
 * spawned the caller. On success it does not return: the process ends
 * when the server does. Returns GROVE_EINVAL (NULL cb, how not an ok,
 * link, monitor, timeout, stack_size or trap_exit set, a malformed name,
 * via or hibernate_after), GROVE_ENOTFOUND (the name or via key is not
 * registered to the caller), GROVE_EBUSY (the caller already runs a
 * behaviour), GROVE_ENOTPROC (not called from a process) or
 * GROVE_ENOMEM. */
GROVE_EXPORT int grove_gs_enter_loop(const grove_gs_callbacks_t *cb,
                                     void *state, const grove_gs_opts_t *opts,
                                     grove_gs_ret_t how);

/* ---- call, cast, reply, stop ------------------------------------------------ */

#define GROVE_GS_DEFAULT_TIMEOUT 5000

/* Sends a request and waits for the reply, as GenServer.call: on success
 * returns 0 and *reply (free it with grove_msg_free; may be NULL to drop
 * it). On failure the CALLER EXITS, as in OTP: with reason timeout when no
 * reply came in time (a late reply never reaches it), noproc when there is
 * no such server, calling_self when calling itself, the server's own
 * exit reason when it died first, or an error reason carrying
 * GROVE_ENOMEM when the request could not be sent. A malformed reference,
 * request or timeout is GROVE_EINVAL, returned without exiting. Outside a
 * process it returns the error code that grove_gs_try_call would. */
GROVE_EXPORT int grove_gs_call(grove_server_t srv, uint64_t tag,
                               const void *req, size_t size,
                               grove_msg_t **reply, grove_timeout_t timeout);

/* As grove_gs_call but never exits: returns 0, GROVE_ETIMEDOUT,
 * GROVE_ENOPROC, GROVE_ECALLINGSELF, GROVE_EEXITED (the server exited
 * before replying; *why gets its reason, may be NULL), GROVE_EINVAL,
 * GROVE_ENOMEM (the request could not be sent) or GROVE_ENOTPROC (not
 * called from a process). */
GROVE_EXPORT int grove_gs_try_call(grove_server_t srv, uint64_t tag,
                                   const void *req, size_t size,
                                   grove_msg_t **reply,
                                   grove_timeout_t timeout,
                                   grove_reason_t *why);

/* Sends a cast. Always returns 0 once the arguments are valid, even if
 * there is no such server (OTP); GROVE_EINVAL for a malformed reference
 * (GROVE_PID_NONE, NULL name or via) or NULL data with a size. From any
 * thread. */
GROVE_EXPORT int grove_gs_cast(grove_server_t srv, uint64_t tag,
                               const void *msg, size_t size);

/* Answers a call later (after returning NOREPLY), from any process or
 * thread. A reply to a caller that is gone or gave up is dropped.
 * Returns 0 or GROVE_EINVAL. */
GROVE_EXPORT int grove_gs_reply(grove_gs_from_t from, uint64_t tag,
                                const void *data, size_t size);

/* Stops a server synchronously, as GenServer.stop: terminate runs (even
 * if it does not trap exits), then it exits with *reason (NULL: normal).
 * Returns 0 when it exited with that reason; GROVE_EEXITED if it exited
 * with another (*why); GROVE_ENOPROC; GROVE_ECALLINGSELF; GROVE_ETIMEDOUT
 * (the server is not killed); GROVE_EINVAL (a malformed reference, a bad
 * timeout); GROVE_ENOTPROC outside a process. */
GROVE_EXPORT int grove_gs_stop(grove_server_t srv,
                               const grove_reason_t *reason,
                               grove_timeout_t timeout, grove_reason_t *why);

/* ---- asynchronous requests (gen_server:send_request and its answers) --------- */

/* An outstanding request: the server it went to (GROVE_PID_NONE when the
 * reference named no process) and the reference that is both the
 * caller's monitor of the server and the alias the reply comes through.
 * Once its response has been collected, ref is GROVE_REF_NONE. */
typedef struct grove_gs_request {
    grove_pid_t server;
    grove_ref_t ref;
} grove_gs_request_t;

/* Sends a call request without waiting for the reply
 * (gen_server:send_request/2); the server sees an ordinary call. The
 * response is collected later with grove_gs_wait_response,
 * grove_gs_receive_response, grove_gs_wait_any or grove_gs_check_response;
 * until then the caller monitors the server. A server that is not there
 * is no error here: its response is GROVE_ENOPROC. Returns 0 (*rq set),
 * GROVE_EINVAL (NULL rq, malformed reference, NULL req with a size),
 * GROVE_ENOMEM or GROVE_ENOTPROC (not called from a process). */
GROVE_EXPORT int grove_gs_send_request(grove_server_t srv, uint64_t tag,
                                       const void *req, size_t size,
                                       grove_gs_request_t *rq);

/* Waits up to timeout ms for the response to rq
 * (gen_server:wait_response/2). Returns 0 with *reply (free it with
 * grove_msg_free; NULL drops it), GROVE_ENOPROC or GROVE_EEXITED (the
 * server was not there, or exited before replying: *why gets the reason,
 * may be NULL), GROVE_ETIMEDOUT (no response yet: rq stays outstanding
 * and may be waited on again), GROVE_EINVAL (NULL rq, or its response was
 * already collected) or GROVE_ENOTPROC. Any answer but the timeout
 * completes rq. */
GROVE_EXPORT int grove_gs_wait_response(grove_gs_request_t *rq,
                                        grove_timeout_t timeout,
                                        grove_msg_t **reply,
                                        grove_reason_t *why);

/* As grove_gs_wait_response, but on the timeout rq is abandoned
 * (gen_server:receive_response/2): its monitor and alias are removed, so
 * a reply sent later never reaches the caller, and rq is completed. A
 * reply that arrived just before that still counts. */
GROVE_EXPORT int grove_gs_receive_response(grove_gs_request_t *rq,
                                           grove_timeout_t timeout,
                                           grove_msg_t **reply,
                                           grove_reason_t *why);

/* Waits for the response to whichever of the n requests answers first
 * (gen_server:wait_response/3 over a request-id collection, deleting the
 * one answered). Completed entries (ref GROVE_REF_NONE) are skipped.
 * Returns as grove_gs_wait_response, with *which set to the index of the
 * request answered; GROVE_ENOTFOUND when none is outstanding; on
 * GROVE_ETIMEDOUT every request stays outstanding. Each message looked
 * at is compared with every entry: keep n moderate. */
GROVE_EXPORT int grove_gs_wait_any(grove_gs_request_t *rqs, size_t n,
                                   grove_timeout_t timeout, size_t *which,
                                   grove_msg_t **reply, grove_reason_t *why);

/* Tells whether m, a message the caller received by other means, is the
 * response to rq (gen_server:check_response/2). Returns 0 when m is the
 * reply, GROVE_ENOPROC or GROVE_EEXITED (*why set) when m is the server's
 * DOWN for rq — either completes rq — or GROVE_ENOTFOUND when m is not
 * about rq (OTP's no_reply). m stays the caller's in every case.
 * GROVE_EINVAL for NULL arguments or a completed rq; GROVE_ENOTPROC. */
GROVE_EXPORT int grove_gs_check_response(const grove_msg_t *m,
                                         grove_gs_request_t *rq,
                                         grove_reason_t *why);

/* ---- from inside a server ---------------------------------------------------- */

/* The pid that started this server (its parent). */
GROVE_EXPORT grove_pid_t grove_gs_parent(const grove_gs_t *gs);

#ifdef __cplusplus
}
#endif
#endif
