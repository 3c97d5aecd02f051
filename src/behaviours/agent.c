/* Agent: a gen_server whose requests are functions to run on its state.
 *
 * A request is a header (the function, the reply capacity, the argument
 * size) followed by a copy of the argument's bytes. Functions and
 * arguments are copied, never shared: the caller's stack may be parked
 * while it waits, so nothing in the agent may point into it. A reply is
 * the full length the function reported followed by the bytes that fit.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours/behaviours.h"
#include "base/failpoint.h"
#include "grove/agent.h"

enum {
    A_GET = 0x46e70001,
    A_UPDATE,
    A_GET_UPDATE,
    A_CAST,
    A_REPLY
};

/* The reply length that says the agent had no memory for the buffer. */
#define LEN_NOMEM UINT64_MAX
#define SMALL 256

typedef union afn {
    grove_agent_get_fn get;
    grove_agent_update_fn update;
    grove_agent_get_update_fn get_update;
} afn_t;

typedef struct areq {
    afn_t fn;
    uint64_t cap;
    uint64_t arg_size;
    uint64_t pad; /* keeps the argument 16-byte aligned in the buffer */
} areq_t;

typedef struct agent {
    void *state;
    void (*terminate)(void *state);
} agent_t;

/* Handed to init on the heap: the starter's stack may be parked. Two
 * references: the new agent's, dropped once init has copied it, and the
 * starter's, held as its resource so that a starter killed while it
 * waits lets go of it too. */
typedef struct start_block {
    atomic_int refs;
    grove_agent_init_fn init;
    void *arg;
    void (*terminate)(void *state);
} start_block_t;

static void block_unref(void *arg)
{
    start_block_t *b = arg;
    /* acq_rel: the last holder frees after the other is done reading. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* ---- the agent process -------------------------------------------------- */

static grove_gs_ret_t ag_init(grove_gs_t *gs, void *arg)
{
    start_block_t *b = arg;
    start_block_t copy = {.init = b->init, .arg = b->arg,
                          .terminate = b->terminate};
    block_unref(b);
    agent_t *a = grove_alloc(sizeof *a);
    if (!a)
        return GROVE_GS_INIT_STOP(
            grove_reason_error(GROVE_ENOMEM, "agent: out of memory"));
    a->terminate = copy.terminate;
    a->state = copy.init(copy.arg);
    grove_gs_set_state(gs, a);
    return GROVE_GS_INIT_OK();
}

static void ag_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)r;
    agent_t *a = grove_gs_state(gs);
    if (a && a->terminate)
        a->terminate(a->state);
}

static grove_gs_ret_t bad_request(void)
{
    grove_reason_t r = grove_reason_error(0, "agent: malformed request");
    r.kind = GROVE_EXIT_BADARG;
    return GROVE_GS_STOP(r);
}

/* Reads a request; false if malformed. The argument is copied when the
 * message's bytes are not aligned for any type. */
static bool parse(const grove_msg_t *m, areq_t *rq, const void **arg,
                  void **copy)
{
    size_t size = grove_msg_size(m);
    *copy = NULL;
    if (size < sizeof *rq)
        return false;
    memcpy(rq, grove_msg_data(m), sizeof *rq);
    if (rq->arg_size != size - sizeof *rq || !rq->fn.get)
        return false;
    const unsigned char *p = (const unsigned char *)grove_msg_data(m);
    *arg = rq->arg_size ? p + sizeof *rq : NULL;
    if (*arg && (uintptr_t)*arg % _Alignof(max_align_t)) {
        /* The agent's own memory: a function that crashes it leaks
         * nothing. */
        *copy = grove_alloc(rq->arg_size);
        if (*copy)
            memcpy(*copy, *arg, rq->arg_size);
        *arg = *copy;
    }
    return !rq->arg_size || *arg;
}

/* get and get_and_update: run fn into a cap-byte buffer, reply. */
static grove_gs_ret_t run_get(agent_t *a, uint64_t tag, const areq_t *rq,
                              const void *arg)
{
    unsigned char small[SMALL];
    size_t cap = (size_t)rq->cap;
    unsigned char *buf = cap <= SMALL - 8 ? small : grove_alloc(8 + cap);
    if (!buf) {
        uint64_t oom = LEN_NOMEM;
        return GROVE_GS_REPLY(A_REPLY, &oom, sizeof oom);
    }
    size_t len = 0;
    if (tag == A_GET)
        len = rq->fn.get(a->state, arg, buf + 8, cap);
    else
        a->state = rq->fn.get_update(a->state, arg, buf + 8, cap, &len);
    uint64_t full = len;
    memcpy(buf, &full, sizeof full);
    size_t n = len < cap ? len : cap;
    grove_gs_ret_t r = GROVE_GS_REPLY(A_REPLY, buf, 8 + n);
    if (buf != small)
        grove_free(buf);
    return r;
}

static grove_gs_ret_t ag_call(grove_gs_t *gs, const grove_msg_t *m,
                              grove_gs_from_t from)
{
    (void)from;
    agent_t *a = grove_gs_state(gs);
    uint64_t tag = grove_msg_tag(m);
    areq_t rq;
    const void *arg;
    void *copy = NULL;
    if ((tag != A_GET && tag != A_UPDATE && tag != A_GET_UPDATE) ||
        !parse(m, &rq, &arg, &copy)) {
        grove_free(copy);
        return bad_request();
    }
    grove_gs_ret_t r;
    if (tag == A_UPDATE) {
        a->state = rq.fn.update(a->state, arg);
        uint64_t zero = 0;
        r = GROVE_GS_REPLY(A_REPLY, &zero, sizeof zero);
    } else {
        r = run_get(a, tag, &rq, arg);
    }
    grove_free(copy);
    return r;
}

static grove_gs_ret_t ag_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    agent_t *a = grove_gs_state(gs);
    areq_t rq;
    const void *arg;
    void *copy = NULL;
    if (grove_msg_tag(m) != A_CAST || !parse(m, &rq, &arg, &copy)) {
        grove_free(copy);
        return bad_request();
    }
    a->state = rq.fn.update(a->state, arg);
    grove_free(copy);
    return GROVE_GS_NOREPLY();
}

static int ag_status(grove_gs_t *gs, char *buf, size_t size)
{
    const agent_t *a = grove_gs_state(gs);
    return snprintf(buf, size, "state=%p", a ? a->state : NULL);
}

static const grove_gs_callbacks_t ag_callbacks = {
    .name = "agent",
    .init = ag_init,
    .handle_call = ag_call,
    .handle_cast = ag_cast,
    .terminate = ag_terminate,
    .format_status = ag_status,
};

/* ---- start and stop ----------------------------------------------------- */

/* The results of grove_gs_start that mean init never ran. */
static bool init_never_ran(int rc)
{
    return rc == GROVE_EALREADYSTARTED || rc == GROVE_EINVAL ||
           rc == GROVE_ENOTSTARTED || rc == GROVE_ENOTPROC ||
           rc == GROVE_ELIMIT || rc == GROVE_ENOMEM;
}

GROVE_EXPORT int grove_agent_start(grove_agent_init_fn init, void *arg,
                                   const grove_agent_opts_t *opts,
                                   grove_pid_t *pid, grove_reason_t *why)
{
    static const grove_agent_opts_t none;
    const grove_agent_opts_t *o = opts ? opts : &none;
    if (!init)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return grove_running() ? GROVE_ENOTPROC : GROVE_ENOTSTARTED;
    start_block_t *b = grove__malloc(sizeof *b);
    grove_resource_t *hold = NULL;
    if (!b || grove_resource_attach(block_unref, b, &hold) < 0) {
        free(b);
        return GROVE_ENOMEM;
    }
    atomic_init(&b->refs, 2);
    b->init = init;
    b->arg = arg;
    b->terminate = o->terminate;
    grove_gs_opts_t g = {.link = o->link, .name = o->name, .via = o->via,
                         .via_key = o->via_key, .via_key_len = o->via_key_len,
                         .timeout = o->timeout};
    int rc = grove_gs_start(&ag_callbacks, b, &g, pid, why);
    if (init_never_ran(rc))
        block_unref(b); /* the agent's reference, never taken up */
    grove_resource_release(hold);
    return rc;
}

GROVE_EXPORT int grove_agent_child_start(void *spec, grove_pid_t *pid,
                                         grove_reason_t *why)
{
    const grove_agent_spec_t *s = spec;
    if (!s)
        return GROVE_EINVAL;
    grove_agent_opts_t o = s->opts;
    o.link = true;
    return grove_agent_start(s->init, s->arg, &o, pid, why);
}

GROVE_EXPORT int grove_agent_stop(grove_server_t agent,
                                  const grove_reason_t *reason,
                                  grove_timeout_t timeout,
                                  grove_reason_t *why)
{
    return grove_gs_stop(agent, reason, timeout, why);
}

/* ---- requests ----------------------------------------------------------- */

typedef struct request {
    unsigned char small[SMALL];
    unsigned char *buf;
    size_t size;
    bool owned; /* buf is the calling process's memory (else malloc) */
} request_t;

/* A call's request lives in the caller's own memory, gone with it if it
 * is killed while it waits; a cast, which may come from any thread,
 * uses malloc. */
static int make_request(request_t *q, afn_t fn, const void *arg,
                        size_t arg_size, size_t cap, bool owned)
{
    if (!fn.get || (arg_size && !arg) ||
        arg_size > GROVE_MSG_MAX_SIZE - sizeof(areq_t) ||
        cap > GROVE_MSG_MAX_SIZE - 8)
        return GROVE_EINVAL;
    q->size = sizeof(areq_t) + arg_size;
    q->owned = owned;
    q->buf = q->size <= sizeof q->small ? q->small
             : owned                    ? grove_alloc(q->size)
                                        : grove__malloc(q->size);
    if (!q->buf)
        return GROVE_ENOMEM;
    areq_t rq = {.fn = fn, .cap = cap, .arg_size = arg_size};
    memcpy(q->buf, &rq, sizeof rq);
    if (arg_size)
        memcpy(q->buf + sizeof rq, arg, arg_size);
    return 0;
}

static void drop_request(request_t *q)
{
    if (q->buf != q->small && q->owned)
        grove_free(q->buf);
    else if (q->buf != q->small)
        free(q->buf);
}

/* Copies a reply into out; returns 0 or GROVE_ENOMEM. */
static int read_reply(grove_msg_t *m, void *out, size_t cap, size_t *len)
{
    uint64_t full = 0;
    size_t size = grove_msg_size(m);
    if (size >= sizeof full)
        memcpy(&full, grove_msg_data(m), sizeof full);
    int rc = full == LEN_NOMEM ? GROVE_ENOMEM : 0;
    if (rc == 0 && out && size > sizeof full)
        memcpy(out, (const unsigned char *)grove_msg_data(m) + sizeof full,
               size - sizeof full < cap ? size - sizeof full : cap);
    if (rc == 0 && len)
        *len = (size_t)full;
    grove_msg_free(m);
    return rc;
}

typedef struct call {
    uint64_t tag;
    afn_t fn;
    const void *arg;
    size_t arg_size;
    void *out;
    size_t cap;
    size_t *len;
} call_t;

static int agent_call(grove_server_t agent, const call_t *c,
                      grove_timeout_t timeout, bool exits,
                      grove_reason_t *why)
{
    if (c->cap && !c->out)
        return GROVE_EINVAL;
    request_t q;
    /* Outside a process, which the call then refuses, there is no
     * process memory to hold the request. */
    int rc = make_request(&q, c->fn, c->arg, c->arg_size, c->cap,
                          grove_self().id != 0);
    if (rc < 0)
        return rc;
    grove_msg_t *m = NULL;
    rc = exits ? grove_gs_call(agent, c->tag, q.buf, q.size, &m, timeout)
               : grove_gs_try_call(agent, c->tag, q.buf, q.size, &m, timeout,
                                   why);
    drop_request(&q);
    if (rc < 0)
        return rc;
    return read_reply(m, c->out, c->cap, c->len);
}

GROVE_EXPORT int grove_agent_get(grove_server_t agent, grove_agent_get_fn fn,
                                 const void *arg, size_t arg_size, void *out,
                                 size_t cap, size_t *len,
                                 grove_timeout_t timeout)
{
    call_t c = {A_GET, {.get = fn}, arg, arg_size, out, cap, len};
    return agent_call(agent, &c, timeout, true, NULL);
}

GROVE_EXPORT int grove_agent_try_get(grove_server_t agent,
                                     grove_agent_get_fn fn, const void *arg,
                                     size_t arg_size, void *out, size_t cap,
                                     size_t *len, grove_timeout_t timeout,
                                     grove_reason_t *why)
{
    call_t c = {A_GET, {.get = fn}, arg, arg_size, out, cap, len};
    return agent_call(agent, &c, timeout, false, why);
}

GROVE_EXPORT int grove_agent_update(grove_server_t agent,
                                    grove_agent_update_fn fn, const void *arg,
                                    size_t arg_size, grove_timeout_t timeout)
{
    call_t c = {A_UPDATE, {.update = fn}, arg, arg_size, NULL, 0, NULL};
    return agent_call(agent, &c, timeout, true, NULL);
}

GROVE_EXPORT int grove_agent_try_update(grove_server_t agent,
                                        grove_agent_update_fn fn,
                                        const void *arg, size_t arg_size,
                                        grove_timeout_t timeout,
                                        grove_reason_t *why)
{
    call_t c = {A_UPDATE, {.update = fn}, arg, arg_size, NULL, 0, NULL};
    return agent_call(agent, &c, timeout, false, why);
}

GROVE_EXPORT int grove_agent_get_and_update(grove_server_t agent,
                                            grove_agent_get_update_fn fn,
                                            const void *arg, size_t arg_size,
                                            void *out, size_t cap,
                                            size_t *len,
                                            grove_timeout_t timeout)
{
    call_t c = {A_GET_UPDATE, {.get_update = fn}, arg, arg_size, out, cap,
                len};
    return agent_call(agent, &c, timeout, true, NULL);
}

GROVE_EXPORT int grove_agent_try_get_and_update(
    grove_server_t agent, grove_agent_get_update_fn fn, const void *arg,
    size_t arg_size, void *out, size_t cap, size_t *len,
    grove_timeout_t timeout, grove_reason_t *why)
{
    call_t c = {A_GET_UPDATE, {.get_update = fn}, arg, arg_size, out, cap,
                len};
    return agent_call(agent, &c, timeout, false, why);
}

GROVE_EXPORT int grove_agent_cast(grove_server_t agent,
                                  grove_agent_update_fn fn, const void *arg,
                                  size_t arg_size)
{
    request_t q;
    afn_t f = {.update = fn};
    int rc = make_request(&q, f, arg, arg_size, 0, false);
    if (rc < 0)
        return rc;
    rc = grove_gs_cast(agent, A_CAST, q.buf, q.size);
    drop_request(&q);
    return rc;
}
