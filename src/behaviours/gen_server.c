/* gen_server: OTP's generic server.
 *
 * The server is an ordinary process running gs_loop. Calls, casts and stop
 * requests are messages carrying internal flags; everything else is info.
 * A call is a message whose ref is both a monitor on the server and an
 * alias of the caller: the reply is sent to the alias, so a reply that
 * comes after the caller gave up is dropped before it reaches the mailbox,
 * and the server's death arrives on the same ref as a DOWN.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours/behaviours.h"
#include "base/failpoint.h"

struct grove_gs {
    const grove_gs_callbacks_t *cb;
    void *state;
    grove_pid_t parent;
    const grove_via_t *via; /* registered through a via-interface */
    void *via_key;          /* copy of the via key */
    uint64_t last_tag;      /* what the server was handling, for reports */
    uint32_t last_size;
    uint32_t via_key_len;
    uint8_t last_kind;
    uint8_t last_flags;
    uint8_t name_kind;      /* 1: local name, 2: via, 0: none */
    bool in_terminate;
    bool cold; /* hibernate_after: every wait gives the stack back */
    /* What the last callback asked for next (the loop's state, kept here:
     * the server holds no stack between messages). */
    int next;
    grove_timeout_t timeout;
    void *cont;
    unsigned handled;
};
/* A server's state fits its process's inline room. */
_Static_assert(sizeof(struct grove_gs) <= GROVE__OWNED_INLINE &&
                   _Alignof(struct grove_gs) <= 8,
               "grove_gs_t outgrew the process's inline room");

/* Handed from the starter to the new process in the process's inline
 * room (grove__spawn's arg_copy): a waiting starter's stack may be parked
 * and unreadable by others, and the starter may die first. */
typedef struct start_block {
    const grove_gs_callbacks_t *cb;
    void *arg;
    grove_pid_t parent;
    grove_ref_t ack_ref;
    const grove_via_t *via;
    void *via_key;
    size_t via_key_len;
    bool keep_monitor; /* start_monitor: the starter's monitor stays */
    bool named;        /* spawned under a local name */
    grove_timeout_t hibernate_after;
} start_block_t;
_Static_assert(sizeof(start_block_t) <= GROVE__OWNED_INLINE,
               "the start block outgrew the process's inline room");

/* The acknowledgement a new server sends its starter. */
typedef struct ack {
    int rc;
    grove_pid_t holder;
    grove_reason_t reason;
} ack_t;

GROVE_EXPORT void *grove_gs_state(const grove_gs_t *gs)
{
    return gs ? gs->state : NULL;
}

GROVE_EXPORT void grove_gs_set_state(grove_gs_t *gs, void *state)
{
    if (gs)
        gs->state = state;
}

GROVE_EXPORT grove_pid_t grove_gs_parent(const grove_gs_t *gs)
{
    return gs ? gs->parent : GROVE_PID_NONE;
}

GROVE_EXPORT int grove_server_whereis(grove_server_t srv, grove_pid_t *pid)
{
    if (!pid)
        return GROVE_EINVAL;
    switch (srv.kind) {
    case 0:
        if (srv.pid.id == 0)
            return GROVE_EINVAL;
        *pid = srv.pid;
        return grove_is_alive(srv.pid) ? 0 : GROVE_ENOPROC;
    case 1:
        if (!srv.name)
            return GROVE_EINVAL;
        return grove_whereis(srv.name, pid) == 0 ? 0 : GROVE_ENOPROC;
    case 2:
        if (!srv.via || !srv.via->whereis_name || (!srv.key && srv.key_len))
            return GROVE_EINVAL;
        if (srv.via->whereis_name(srv.via->reg, srv.key, srv.key_len, pid))
            return GROVE_ENOPROC;
        return grove_is_alive(*pid) ? 0 : GROVE_ENOPROC;
    default:
        return GROVE_EINVAL;
    }
}

/* ---- reports ---------------------------------------------------------------- */

static int describe_last(const grove_gs_t *gs, char *buf, size_t size)
{
    const char *what = gs->last_flags & GROVE__MSGF_CALL   ? "call"
                       : gs->last_flags & GROVE__MSGF_CAST ? "cast"
                       : gs->last_kind == GROVE_MSG_EXIT   ? "EXIT"
                       : gs->last_kind == GROVE_MSG_DOWN   ? "DOWN"
                                                           : "info";
    return snprintf(buf, size, "%s tag=%llu size=%u", what,
                    (unsigned long long)gs->last_tag, (unsigned)gs->last_size);
}

static int report_hook(void *arg, char *buf, size_t size)
{
    grove_gs_t *gs = arg;
    char last[96], st[512] = "";
    describe_last(gs, last, sizeof last);
    if (gs->cb->format_status)
        gs->cb->format_status(gs, st, sizeof st);
    return snprintf(buf, size, "%s; last message: %s%s%s",
                    gs->cb->name ? gs->cb->name : "gen_server", last,
                    st[0] ? "; state: " : "", st);
}

/* OTP's "Generic server terminating" report, for abnormal reasons. */
static void terminating_report(grove_gs_t *gs, const grove_reason_t *r)
{
    /* Crashes (faults, assertions) get the runtime's crash report, which
     * carries this server's last message and state through the report
     * hook: one report per crash. */
    if (grove_reason_is_shutdown_class(r) || r->kind == GROVE_EXIT_FAULT ||
        r->kind == GROVE_EXIT_ASSERT)
        return;
    char pid[GROVE_PID_STR_MAX], reason[256], extra[1024], text[400];
    grove_pid_t self = grove_self();
    grove_pid_format(self, pid, sizeof pid);
    grove_reason_format(r, reason, sizeof reason);
    report_hook(gs, extra, sizeof extra);
    snprintf(text, sizeof text, "gen_server %s terminating: %s", pid,
             reason);
    grove_log_field_t f[] = {
        {"pid", pid}, {"reason", reason}, {"server", extra}};
    grove_log_event(GROVE_LOG_ERROR, "crash_report", self, text, f, 3);
}

/* ---- termination ------------------------------------------------------------- */

static void run_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    grove__set_exit_hook(NULL, NULL);
    if (gs->in_terminate)
        return;
    gs->in_terminate = true;
    if (gs->cb->terminate)
        gs->cb->terminate(gs, r);
    terminating_report(gs, r);
}

/* A callback ended the process itself (grove_exit, a failed assertion):
 * terminate still runs, as when an OTP callback raises or exits. */
static void exit_hook(void *arg, const grove_reason_t *r)
{
    run_terminate(arg, r);
}

static _Noreturn void gs_stop(grove_gs_t *gs, const grove_reason_t *r)
{
    run_terminate(gs, r);
    grove_exit(r);
}

/* ---- start ---------------------------------------------------------------------- */

/* The starter waits for this or for our death: if the ack cannot even be
 * sent, die, and its monitor reports the failed start. */
static void send_ack(const start_block_t *sb, int rc, grove_pid_t holder,
                     const grove_reason_t *r)
{
    ack_t a = {.rc = rc, .holder = holder};
    if (r)
        a.reason = *r;
    /* Without a reason the ack fits a small message node. */
    int err = grove__send_ex(sb->parent, 0, sb->ack_ref, &a,
                             r ? sizeof a : offsetof(ack_t, reason),
                             GROVE__MSGF_ACK);
    /* The starter's monitor ends with the answer, unless it asked to
     * keep it and the start succeeded. */
    if (err == 0 && !(rc == 0 && sb->keep_monitor))
        grove__monitor_answered(sb->parent, sb->ack_ref);
    if (err == GROVE_ENOMEM) {
        grove_reason_t oom = grove_reason_error(GROVE_ENOMEM,
                                                "start acknowledgement");
        grove_exit(&oom);
    }
}

static void unregister_names(grove_gs_t *gs)
{
    if (gs->name_kind == 1)
        grove__unregister_self();
    else if (gs->name_kind == 2 && gs->via->unregister_name)
        gs->via->unregister_name(gs->via->reg, gs->via_key,
                                 gs->via_key_len, grove_self());
    gs->name_kind = 0;
}

/* The server takes its via name from the start block. */
static void adopt_via(grove_gs_t *gs, start_block_t *sb)
{
    gs->name_kind = 2;
    gs->via = sb->via;
    gs->via_key_len = (uint32_t)sb->via_key_len;
    gs->via_key = sb->via_key;
    sb->via_key = NULL; /* now the server's, freed at its exit */
}

static bool claim_via(grove_gs_t *gs, start_block_t *sb)
{
    if (!sb->via)
        return true;
    grove_pid_t holder = GROVE_PID_NONE;
    int rc = sb->via->register_name(sb->via->reg, sb->via_key,
                                    sb->via_key_len, grove_self(), &holder);
    if (rc != 0) {
        if (holder.id == 0)
            sb->via->whereis_name(sb->via->reg, sb->via_key, sb->via_key_len,
                                  &holder);
        send_ack(sb, GROVE_EALREADYSTARTED, holder, NULL);
        return false;
    }
    adopt_via(gs, sb);
    return true;
}

static void free_key(void *key) { free(key); }

static void gs_loop(void *arg);
static void remember(grove_gs_t *gs, const grove_gs_ret_t *r);

/* The server's state lives off the stack, since between messages the
 * process holds none: in the process's own inline room. A local name is
 * not copied there: the name table holds it, and a failed init releases
 * whatever name the process holds. */
static grove_gs_t *gs_adopt(const start_block_t *sb)
{
    grove_gs_t *gs = grove__owned_inline(sizeof *gs); /* fits: asserted */
    gs->cb = sb->cb;
    gs->parent = sb->parent;
    gs->cold = sb->hibernate_after != 0;
    if (sb->named)
        gs->name_kind = 1;
    return gs;
}

/* Makes the calling process the server's: its key freed at exit, its
 * reports, its label. */
static void gs_begin(grove_gs_t *gs)
{
    if (gs->via_key)
        grove_resource_attach(free_key, gs->via_key, NULL);
    grove__set_report_hook(report_hook, gs);
    grove__set_behaviour(gs->cb->name ? gs->cb->name : "gen_server");
}

/* Runs the loop from the first action (init's result); never returns. */
static void gs_serve(grove_gs_t *gs, const grove_gs_ret_t *first)
{
    grove__set_exit_hook(exit_hook, gs);
    remember(gs, first);
    gs_loop(gs);
}

static void gs_entry(void *arg)
{
    /* The block is in the room the server's state takes over. */
    start_block_t copy = *(start_block_t *)arg;
    grove_gs_t *gs = gs_adopt(&copy);
    bool ok = claim_via(gs, &copy);
    free(copy.via_key); /* the server's now, unless the claim failed */
    if (!ok)
        return; /* exit normal; the starter got already_started */
    gs_begin(gs);
    grove_gs_ret_t r = gs->cb->init ? gs->cb->init(gs, copy.arg)
                                    : GROVE_GS_INIT_OK();
    switch (r.action) {
    case GROVE_GS_OK:
        break;
    case GROVE_GS_IGNORE:
        unregister_names(gs);
        send_ack(&copy, GROVE_EIGNORE, GROVE_PID_NONE, NULL);
        return;
    case GROVE_GS_ERROR:
        /* OTP 26: {error, R} fails the start but exits normal. */
        unregister_names(gs);
        send_ack(&copy, GROVE_ESTARTFAIL, GROVE_PID_NONE, &r.reason);
        return;
    case GROVE_GS_STOP:
        unregister_names(gs);
        send_ack(&copy, GROVE_ESTARTFAIL, GROVE_PID_NONE, &r.reason);
        grove_exit(&r.reason);
    default: {
        grove_reason_t bad = grove_reason_error(0, "bad_return_value");
        bad.kind = GROVE_EXIT_BADARG;
        unregister_names(gs);
        send_ack(&copy, GROVE_ESTARTFAIL, GROVE_PID_NONE, &bad);
        grove_exit(&bad);
    }
    }
    send_ack(&copy, 0, GROVE_PID_NONE, NULL);
    gs_serve(gs, &r);
}

static bool is_exit_from(const grove_msg_t *m, void *arg)
{
    return grove_msg_kind(m) == GROVE_MSG_EXIT &&
           grove_msg_from(m).id == ((grove_pid_t *)arg)->id;
}

/* A failed start_link leaves no EXIT behind in a trapping caller (OTP 26):
 * wait for it and drop it. */
static void consume_exit(grove_pid_t pid, bool linked)
{
    if (!linked)
        return;
    int trap = grove_trap_exit(true);
    grove_trap_exit(trap > 0);
    if (trap <= 0)
        return;
    grove_msg_t *m;
    if (grove_recv_match(&m, is_exit_from, &pid, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

/* Fills *sb for a start; 0 or GROVE_ENOMEM. */
static int make_block(start_block_t *sb, const grove_gs_callbacks_t *cb,
                      void *arg, const grove_gs_opts_t *o)
{
    memset(sb, 0, sizeof *sb);
    sb->cb = cb;
    sb->arg = arg;
    sb->parent = grove_self();
    sb->hibernate_after = o->hibernate_after;
    sb->keep_monitor = o->monitor;
    if (o->via) {
        sb->via = o->via;
        sb->via_key_len = o->via_key_len;
        sb->via_key = grove__malloc(o->via_key_len ? o->via_key_len : 1);
        if (!sb->via_key)
            return GROVE_ENOMEM;
        if (o->via_key_len)
            memcpy(sb->via_key, o->via_key, o->via_key_len);
    }
    sb->named = o->name != NULL;
    return 0;
}

static int check_opts(const grove_gs_callbacks_t *cb, const grove_gs_opts_t *o)
{
    if (o->monitor && !o->monitor_ref)
        return GROVE_EINVAL;
    if (!cb || o->timeout < GROVE_INFINITY || o->hibernate_after < 0)
        return GROVE_EINVAL;
    if (o->name && !grove__name_valid(o->name))
        return GROVE_EINVAL;
    if (o->via && (!o->via->register_name || !o->via->whereis_name ||
                   (!o->via_key && o->via_key_len) || o->name ||
                   o->via_key_len > UINT32_MAX))
        return GROVE_EINVAL;
    /* A key without a via (e.g. a duplicate registry's NULL via) is a
     * mistake, not a request for an unnamed server. */
    if (!o->via && (o->via_key || o->via_key_len))
        return GROVE_EINVAL;
    return 0;
}

/* Kills a server whose init overran its time (OTP: the caller unlinks
 * first so it is not taken down). */
static void kill_slow_init(grove_pid_t pid, grove_ref_t mref, bool linked)
{
    if (linked)
        grove_unlink(pid);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(pid, &kill);
    grove_msg_t *m;
    if (grove_recv_ref(&m, mref, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    if (linked) {
        int trap = grove_trap_exit(true);
        grove_trap_exit(trap > 0);
        if (trap > 0) {
            grove_flush(is_exit_from, &pid);
        }
    }
}

/* OTP's {error, {already_started, Pid}}: the reason names the holder. */
static int already_started(grove_pid_t holder, grove_pid_t *pid,
                           grove_reason_t *why)
{
    if (pid)
        *pid = holder;
    if (why) {
        char h[GROVE_PID_STR_MAX];
        grove_pid_format(holder, h, sizeof h);
        *why = grove_reason_error(GROVE_EALREADYSTARTED, "already_started %s",
                                  h);
    }
    return GROVE_EALREADYSTARTED;
}

static int await_ack(grove_pid_t pid, grove_ref_t refs[2], const grove_gs_opts_t *o,
                     grove_pid_t *out, grove_reason_t *why)
{
    grove_timeout_t t = o->timeout == 0 ? GROVE_INFINITY : o->timeout;
    grove_msg_t *m;
    /* The ack and the monitor share one reference, made just before the
     * spawn: the wait skips everything queued earlier (a supervisor
     * restarting many children may have thousands of EXITs queued). */
    int rc = grove_recv_ref(&m, refs[0], t);
    if (rc == GROVE_ETIMEDOUT) {
        kill_slow_init(pid, refs[1], o->link);
        return GROVE_ETIMEDOUT;
    }
    if (rc < 0)
        return rc;
    if (grove_msg_kind(m) == GROVE_MSG_DOWN) {
        /* It died during init (an exit or a crash). */
        if (why)
            *why = *grove_msg_reason(m);
        grove_msg_free(m);
        consume_exit(pid, o->link);
        return GROVE_ESTARTFAIL;
    }
    ack_t a;
    size_t got = grove_msg_size(m);
    memset(&a, 0, sizeof a);
    memcpy(&a, grove_msg_data(m), got < sizeof a ? got : sizeof a);
    bool answered = grove_msg_from(m).id == pid.id;
    grove_msg_free(m);
    if (a.rc == 0 && o->monitor) {
        /* start_monitor: the start's monitor is the caller's now. */
        *o->monitor_ref = refs[1];
        if (out)
            *out = pid;
        return 0;
    }
    if (answered)
        grove__demonitor_replied(refs[1]); /* the child dropped its side */
    else
        grove_demonitor(refs[1], GROVE_DEMONITOR_FLUSH);
    if (a.rc == 0) {
        if (out)
            *out = pid;
        return 0;
    }
    consume_exit(pid, o->link);
    if (a.rc == GROVE_EALREADYSTARTED)
        return already_started(a.holder, out, why);
    if (why)
        *why = a.reason;
    return a.rc;
}

GROVE_EXPORT int grove_gs_start(const grove_gs_callbacks_t *cb, void *arg,
                                const grove_gs_opts_t *opts, grove_pid_t *pid,
                                grove_reason_t *why)
{
    static const grove_gs_opts_t none;
    const grove_gs_opts_t *o = opts ? opts : &none;
    /* A start that fails, however, leaves no reference behind. */
    if (o->monitor && o->monitor_ref)
        *o->monitor_ref = GROVE_REF_NONE;
    if (!grove_running())
        return GROVE_ENOTSTARTED;
    int rc = check_opts(cb, o);
    if (rc < 0)
        return rc;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    /* A taken name fails before init can run: a local name is claimed by
     * the spawn itself, before the process first runs (GROVE_EEXIST
     * below); a via name is looked up first, and claimed by the new
     * process before its init. */
    grove_pid_t holder;
    if (o->via &&
        o->via->whereis_name(o->via->reg, o->via_key, o->via_key_len,
                             &holder) == 0 &&
        grove_is_alive(holder))
        return already_started(holder, pid, why);
    start_block_t sb;
    if ((rc = make_block(&sb, cb, arg, o)) < 0)
        return rc;
    grove_ref_t refs[2] = {grove_make_ref(), GROVE_REF_NONE};
    refs[1] = refs[0]; /* the monitor uses the ack's reference */
    sb.ack_ref = refs[0];
    grove_spawn_opts_t so = {.stack_size = o->stack_size, .link = o->link,
                             .monitor = true, .monitor_ref = &refs[1],
                             .name = o->name, .trap_exit = o->trap_exit,
                             .max_heap = o->max_heap,
                             .priority = o->priority};
    grove_pid_t child;
    rc = grove__spawn(gs_entry, &sb, sizeof sb, &so, &child, refs[0].id,
                      GROVE__SPAWN_AWAITED);
    if (rc < 0) {
        free(sb.via_key);
        if (rc == GROVE_EEXIST) { /* the name is taken */
            if (grove_whereis(o->name, &holder) != 0)
                holder = GROVE_PID_NONE;
            return already_started(holder, pid, why);
        }
        return rc;
    }
    return await_ack(child, refs, o, pid, why);
}

/* enter_loop's name must be the caller's already (OTP exits with
 * process_not_registered otherwise). */
static int enter_name_ok(const grove_gs_opts_t *o, grove_pid_t self)
{
    grove_pid_t holder;
    if (o->name)
        return grove_whereis(o->name, &holder) == 0 &&
                       grove_pid_equal(holder, self)
                   ? 0
                   : GROVE_ENOTFOUND;
    if (o->via)
        return o->via->whereis_name(o->via->reg, o->via_key, o->via_key_len,
                                    &holder) == 0 &&
                       grove_pid_equal(holder, self)
                   ? 0
                   : GROVE_ENOTFOUND;
    return 0;
}

GROVE_EXPORT int grove_gs_enter_loop(const grove_gs_callbacks_t *cb,
                                     void *state, const grove_gs_opts_t *opts,
                                     grove_gs_ret_t how)
{
    static const grove_gs_opts_t none;
    const grove_gs_opts_t *o = opts ? opts : &none;
    int rc = check_opts(cb, o);
    if (rc < 0)
        return rc;
    /* What only a start can do has no meaning here. */
    if (o->link || o->monitor || o->timeout || o->stack_size ||
        o->trap_exit || how.action != GROVE_GS_OK)
        return GROVE_EINVAL;
    grove_process_info_t info;
    grove_pid_t self = grove_self();
    if (self.id == 0)
        return GROVE_ENOTPROC;
    if (grove_process_info(self, &info) < 0)
        return GROVE_ENOTPROC;
    if (info.behaviour[0])
        return GROVE_EBUSY; /* already a behaviour's process */
    rc = enter_name_ok(o, self);
    if (rc < 0)
        return rc;
    /* The server is set up as a start would set it up, with the
     * spawner as its parent (OTP takes it from proc_lib's ancestors). */
    start_block_t sb;
    if ((rc = make_block(&sb, cb, NULL, o)) < 0)
        return rc;
    sb.parent = info.parent;
    grove_gs_t *gs = gs_adopt(&sb);
    if (sb.via)
        adopt_via(gs, &sb);
    gs->state = state;
    gs_begin(gs);
    gs_serve(gs, &how);
    return 0; /* not reached: the loop ends with the process */
}

/* ---- the loop --------------------------------------------------------------------- */

static void reply_to(grove_gs_from_t from, uint64_t tag, const void *data,
                     size_t size)
{
    grove__send_reply(from.pid, tag, from.ref, data, size,
                      GROVE__MSGF_ALIAS);
}

GROVE_EXPORT int grove_gs_reply(grove_gs_from_t from, uint64_t tag,
                                const void *data, size_t size)
{
    if (from.pid.id == 0 || from.ref.id == 0 || (size && !data))
        return GROVE_EINVAL;
    reply_to(from, tag, data, size);
    return 0;
}

/* Never inlined (link-time optimisation would): out of line it builds the
 * result in the return slot its caller passes, which for a callback's
 * `return GROVE_GS_REPLY(...)` is the runtime's own. Inlined, it was built
 * field by field in a temporary and copied out with wide loads that stall
 * on those narrow stores, a tenth of a call's round trip. */
__attribute__((noinline)) GROVE_EXPORT grove_gs_ret_t
grove_gs_make_reply(uint64_t tag, const void *data, size_t size, bool stop,
                    const grove_reason_t *reason)
{
    grove_gs_ret_t r;
    memset(&r, 0, offsetof(grove_gs_ret_t, reply_buf));
    r.action = stop ? GROVE_GS_STOP : GROVE_GS_REPLY;
    r.has_reply = true;
    r.reply_tag = tag;
    if (stop && reason) {
        r.reason = *reason;
    } else {
        /* Normal with no text; the bytes past the text's end are never
         * read, and zeroing all of them costs more than the reply. */
        r.reason.kind = GROVE_EXIT_NORMAL;
        r.reason.code = 0;
        r.reason.addr = 0;
        r.reason.text[0] = '\0';
    }
    if (!data)
        size = 0;
    r.reply_size = size;
    if (size <= sizeof r.reply_buf) {
        if (size)
            memcpy(r.reply_buf, data, size);
        return r;
    }
    r.reply_heap = grove__malloc(size);
    if (!r.reply_heap) {
        r.action = GROVE_GS_STOP;
        r.has_reply = false;
        r.reason = grove_reason_error(GROVE_ENOMEM, "reply too large to copy");
        return r;
    }
    memcpy(r.reply_heap, data, size);
    return r;
}

static void send_reply(const grove_gs_from_t *from, grove_gs_ret_t *r)
{
    const void *data = r->reply_heap ? r->reply_heap : r->reply_buf;
    reply_to(*from, r->reply_tag, data, r->reply_size);
    free(r->reply_heap);
    r->reply_heap = NULL;
}

static _Noreturn void bad_callback(grove_gs_t *gs, const char *what)
{
    grove_reason_t r = grove_reason_error(0, "%s", what);
    r.kind = GROVE_EXIT_BADARG;
    gs_stop(gs, &r);
}

static void remember(grove_gs_t *gs, const grove_gs_ret_t *r)
{
    gs->next = r->next;
    gs->timeout = r->timeout;
    gs->cont = r->cont;
}

/* Acts on a callback's result and remembers what it asked for next. The
 * result is large: it is handled in place, never copied. */
static void apply(grove_gs_t *gs, grove_gs_ret_t *r,
                  const grove_gs_from_t *from)
{
    switch (r->action) {
    case GROVE_GS_REPLY:
        if (!from) {
            free(r->reply_heap);
            bad_callback(gs, "bad_return_value: reply outside handle_call");
        }
        send_reply(from, r);
        break;
    case GROVE_GS_NOREPLY:
    case GROVE_GS_OK:
        break;
    case GROVE_GS_STOP:
        /* terminate runs first, then the reply goes out (OTP). */
        run_terminate(gs, &r->reason);
        if (from && r->has_reply)
            send_reply(from, r);
        free(r->reply_heap);
        grove_exit(&r->reason);
    default:
        bad_callback(gs, "bad_return_value");
    }
    remember(gs, r);
}

static bool is_parent_exit(const grove_gs_t *gs, const grove_msg_t *m)
{
    return grove_msg_kind(m) == GROVE_MSG_EXIT &&
           grove_msg_from(m).id == gs->parent.id;
}

/* A callback's result is a large struct: each is a fresh local initialised
 * by the call, so the callee builds it in place. Assigning to one variable
 * shared by the branches, whose address apply takes, makes the compiler
 * build it in a temporary and copy it. */
static void dispatch(grove_gs_t *gs, grove_msg_t *m)
{
    unsigned flags = grove__msg_flags(m);
    gs->last_tag = grove_msg_tag(m);
    gs->last_kind = (uint8_t)grove_msg_kind(m);
    gs->last_flags = (uint8_t)flags;
    gs->last_size = (uint32_t)grove_msg_size(m);
    if (flags & GROVE__MSGF_CALL) {
        grove_gs_from_t from = {grove_msg_from(m), grove_msg_ref(m)};
        if (!gs->cb->handle_call)
            bad_callback(gs, "unexpected call");
        grove_gs_ret_t r = gs->cb->handle_call(gs, m, from);
        apply(gs, &r, &from);
        return;
    }
    if (flags & GROVE__MSGF_CAST) {
        if (!gs->cb->handle_cast)
            bad_callback(gs, "unexpected cast");
        grove_gs_ret_t r = gs->cb->handle_cast(gs, m);
        apply(gs, &r, NULL);
        return;
    }
    if (flags & GROVE__MSGF_STOP) {
        grove_reason_t why;
        memcpy(&why, grove_msg_data(m), sizeof why);
        gs_stop(gs, &why);
    }
    if (is_parent_exit(gs, m)) {
        grove_reason_t why = *grove_msg_reason(m);
        gs_stop(gs, &why);
    }
    if (!gs->cb->handle_info) {
        grove_log(GROVE_LOG_WARNING,
                  "%s: undelivered message (tag %llu) dropped: no "
                  "handle_info",
                  gs->cb->name ? gs->cb->name : "gen_server",
                  (unsigned long long)grove_msg_tag(m));
        grove_gs_ret_t r = GROVE_GS_NOREPLY();
        remember(gs, &r);
        return;
    }
    grove_gs_ret_t r = gs->cb->handle_info(gs, m);
    apply(gs, &r, NULL);
}

static void on_timeout(grove_gs_t *gs)
{
    static const char none = 0;
    grove_pid_t self = grove_self();
    /* handle_info(timeout): deliver a real message so the callback sees
     * the usual shape; it is the next one taken. */
    grove_send(self, GROVE_GS_TIMEOUT_TAG, &none, 0);
    grove_msg_t *m = NULL;
    if (grove_recv_tag(&m, GROVE_GS_TIMEOUT_TAG, 0) == 0 &&
        gs->cb->handle_info) {
        grove_gs_ret_t r = gs->cb->handle_info(gs, m); /* see dispatch */
        apply(gs, &r, NULL);
        grove_msg_free(m);
        return;
    }
    grove_msg_free(m);
    grove_gs_ret_t r = GROVE_GS_NOREPLY();
    remember(gs, &r);
}

/* Waits for a message without holding a stack: if none is queued the
 * process gives its stack back and starts again in gs_loop when one
 * comes (or the timeout passes). The wait is warm, keeping the stack
 * while the scheduler has work and few others wait so
 * (grove__recv_stackless), unless the server hibernates: a busy server
 * answers on the stack it waited on. */
static int wait_message(grove_gs_t *gs, grove_msg_t **m,
                        grove_timeout_t timeout)
{
    bool warm = !gs->cold && gs->next != GROVE_GS_NEXT_HIBERNATE;
    return grove__recv_stackless(m, timeout, gs_loop, gs, warm);
}

/* Waits for the next message as the last result asked; runs continues
 * and timeouts. Returns a message, or NULL when a callback ran instead. */
static grove_msg_t *next_message(grove_gs_t *gs)
{
    grove_msg_t *m = NULL;
    switch (gs->next) {
    case GROVE_GS_NEXT_CONTINUE: {
        if (!gs->cb->handle_continue)
            bad_callback(gs, "unexpected continue");
        grove_gs_ret_t r = gs->cb->handle_continue(gs, gs->cont);
        apply(gs, &r, NULL);
        return NULL;
    }
    case GROVE_GS_NEXT_TIMEOUT:
        if (wait_message(gs, &m, gs->timeout < 0 &&
                                         gs->timeout != GROVE_INFINITY
                                     ? 0
                                     : gs->timeout) == 0)
            return m;
        on_timeout(gs);
        return NULL;
    default:
        if (wait_message(gs, &m, GROVE_INFINITY) == 0)
            return m;
        return NULL;
    }
}

/* Messages handled before a busy server lets others run: C cannot be
 * preempted, so a server whose mailbox never empties must give the
 * scheduler back by itself (BEAM counts reductions for the same end). It
 * also yields sooner after sending much (grove__slice_spent). With
 * nothing queued it does not: its wait gives the scheduler back anyway,
 * and a yield would put it where an idle scheduler steals it, so a caller
 * and its server would end up exchanging messages across cores. */
#define GS_BATCH 64

/* The server's loop; also where it starts again after a stackless wait. */
static void gs_loop(void *arg)
{
    grove_gs_t *gs = arg;
    for (;;) {
        grove_msg_t *m = next_message(gs);
        if (!m)
            continue;
        dispatch(gs, m);
        grove_msg_free(m);
        if ((++gs->handled % GS_BATCH == 0 || grove__slice_spent()) &&
            grove__mail_waiting())
            grove_yield();
    }
}

/* ---- call, cast, stop ----------------------------------------------------------- */

static bool same_ref(const grove_msg_t *m, void *arg)
{
    return grove_msg_ref(m).id == *(uint64_t *)arg;
}

/* What m, a message carrying ref, says of the request to pid: 0 for the
 * reply, GROVE_ENOPROC or GROVE_EEXITED (*why) for the server's DOWN.
 * Either way the request's alias and monitor are gone; m is untouched. */
static int response_of(const grove_msg_t *m, grove_pid_t pid, grove_ref_t ref,
                       grove_reason_t *why)
{
    if (grove_msg_kind(m) == GROVE_MSG_DOWN) {
        const grove_reason_t *r = grove_msg_reason(m);
        if (why)
            *why = *r;
        return r->kind == GROVE_EXIT_NOPROC ? GROVE_ENOPROC : GROVE_EEXITED;
    }
    if (grove_msg_from(m).id == pid.id)
        grove__demonitor_replied(ref); /* the server dropped its side */
    else
        grove_demonitor(ref, GROVE_DEMONITOR_FLUSH);
    return 0;
}

/* response_of for a message the caller received for the request: hands
 * the reply over, or frees it. */
static int finish_call(grove_msg_t *m, grove_pid_t pid, grove_ref_t ref,
                       grove_msg_t **reply, grove_reason_t *why)
{
    int rc = response_of(m, pid, ref, why);
    if (rc == 0 && reply)
        *reply = m;
    else
        grove_msg_free(m);
    return rc;
}

/* The caller gives up on its request under ref: no reply or DOWN for it
 * can arrive after this. A reply that arrived meanwhile still counts
 * (OTP's race rule): returns 0 with it, or GROVE_ETIMEDOUT. */
static int give_up(grove_ref_t ref, grove_msg_t **reply)
{
    grove_msg_t *m;
    grove_demonitor(ref, 0);
    /* A DOWN for ref now could only be the one just cancelled. */
    uint64_t id = ref.id;
    bool late = grove_recv_match(&m, same_ref, &id, 0) == 0;
    if (late && grove_msg_kind(m) == GROVE_MSG_USER) {
        grove_flush(same_ref, &id);
        if (reply)
            *reply = m;
        else
            grove_msg_free(m);
        return 0;
    }
    if (late)
        grove_msg_free(m);
    grove_flush(same_ref, &id);
    return GROVE_ETIMEDOUT;
}

/* Sends a call to pid under a new reference, which becomes the caller's
 * monitor of pid and its alias while the monitor lasts (*ref). On an
 * error nothing is left set up. */
static int request_send(grove_pid_t pid, uint64_t tag, const void *req,
                        size_t size, grove_ref_t *ref)
{
    *ref = grove_make_ref();
    return grove__send_call(pid, tag, *ref, req, size, GROVE__MSGF_CALL);
}

/* Waits for the response to the request under ref to pid; on the
 * timeout, gives the request up when abandon is set. */
static int request_await(grove_pid_t pid, grove_ref_t ref,
                         grove_timeout_t timeout, bool abandon,
                         grove_msg_t **reply, grove_reason_t *why)
{
    grove_msg_t *m;
    int rc = grove_recv_ref(&m, ref, timeout);
    if (rc == GROVE_ETIMEDOUT)
        return abandon ? give_up(ref, reply) : rc;
    if (rc < 0) {
        grove_demonitor(ref, GROVE_DEMONITOR_FLUSH);
        return rc;
    }
    return finish_call(m, pid, ref, reply, why);
}

GROVE_EXPORT int grove_gs_try_call(grove_server_t srv, uint64_t tag,
                                   const void *req, size_t size,
                                   grove_msg_t **reply,
                                   grove_timeout_t timeout,
                                   grove_reason_t *why)
{
    if (timeout < GROVE_INFINITY || (size && !req))
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (self.id == 0)
        return GROVE_ENOTPROC;
    grove_pid_t pid;
    int rc = grove_server_whereis(srv, &pid);
    if (rc < 0)
        return rc;
    if (pid.id == self.id)
        return GROVE_ECALLINGSELF;
    grove_ref_t ref;
    rc = request_send(pid, tag, req, size, &ref);
    if (rc < 0) {
        /* A dead server: noproc at once (the monitor is gone). */
        if (rc == GROVE_ENOPROC && why)
            *why = grove_reason_of(GROVE_EXIT_NOPROC);
        return rc;
    }
    return request_await(pid, ref, timeout, true, reply, why);
}

GROVE_EXPORT int grove_gs_call(grove_server_t srv, uint64_t tag,
                               const void *req, size_t size,
                               grove_msg_t **reply, grove_timeout_t timeout)
{
    grove_reason_t why;
    int rc = grove_gs_try_call(srv, tag, req, size, reply, timeout, &why);
    if (rc == 0 || rc == GROVE_ENOTPROC || rc == GROVE_EINVAL)
        return rc;
    /* As GenServer.call: the caller exits. */
    grove_reason_t r;
    switch (rc) {
    case GROVE_ETIMEDOUT:
        r = grove_reason_of(GROVE_EXIT_TIMEOUT);
        snprintf(r.text, sizeof r.text, "gen_server call (tag %llu)",
                 (unsigned long long)tag);
        break;
    case GROVE_ENOPROC:
        r = grove_reason_of(GROVE_EXIT_NOPROC);
        snprintf(r.text, sizeof r.text, "gen_server call (tag %llu)",
                 (unsigned long long)tag);
        break;
    case GROVE_ECALLINGSELF:
        r = grove_reason_of(GROVE_EXIT_CALLING_SELF);
        break;
    case GROVE_EEXITED:
        r = why;
        break;
    default:
        r = grove_reason_error(rc, "gen_server call failed: %s",
                               grove_errname(rc));
        break;
    }
    grove_exit(&r);
}

/* ---- asynchronous requests ------------------------------------------------------ */

GROVE_EXPORT int grove_gs_send_request(grove_server_t srv, uint64_t tag,
                                       const void *req, size_t size,
                                       grove_gs_request_t *rq)
{
    if (!rq || (size && !req))
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    grove_pid_t pid = GROVE_PID_NONE;
    int rc = grove_server_whereis(srv, &pid);
    if (rc < 0 && rc != GROVE_ENOPROC)
        return rc;
    grove_ref_t ref;
    rc = pid.id ? request_send(pid, tag, req, size, &ref) : GROVE_ENOPROC;
    if (rc == GROVE_ENOPROC) {
        /* Nobody to ask: the response is the DOWN noproc this monitor
         * brings, as in OTP. */
        ref = grove_make_ref();
        rc = grove__monitor_with_ref(pid, ref);
    }
    if (rc < 0)
        return rc;
    rq->server = pid;
    rq->ref = ref;
    return 0;
}

static int response_wait(grove_gs_request_t *rq, grove_timeout_t timeout,
                         bool abandon, grove_msg_t **reply,
                         grove_reason_t *why)
{
    if (!rq || rq->ref.id == 0 || timeout < GROVE_INFINITY)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    int rc = request_await(rq->server, rq->ref, timeout, abandon, reply, why);
    if (rc != GROVE_ETIMEDOUT || abandon)
        rq->ref = GROVE_REF_NONE;
    return rc;
}

GROVE_EXPORT int grove_gs_wait_response(grove_gs_request_t *rq,
                                        grove_timeout_t timeout,
                                        grove_msg_t **reply,
                                        grove_reason_t *why)
{
    return response_wait(rq, timeout, false, reply, why);
}

GROVE_EXPORT int grove_gs_receive_response(grove_gs_request_t *rq,
                                           grove_timeout_t timeout,
                                           grove_msg_t **reply,
                                           grove_reason_t *why)
{
    return response_wait(rq, timeout, true, reply, why);
}

typedef struct {
    const grove_gs_request_t *rqs;
    size_t n, hit;
} any_t;

static bool any_ref(const grove_msg_t *m, void *arg)
{
    any_t *a = arg;
    uint64_t id = grove_msg_ref(m).id;
    if (id == 0)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->rqs[i].ref.id == id) {
            a->hit = i;
            return true;
        }
    return false;
}

GROVE_EXPORT int grove_gs_wait_any(grove_gs_request_t *rqs, size_t n,
                                   grove_timeout_t timeout, size_t *which,
                                   grove_msg_t **reply, grove_reason_t *why)
{
    if ((n && !rqs) || !which || timeout < GROVE_INFINITY)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    any_t a = {rqs, n, 0};
    size_t open = 0;
    for (size_t i = 0; i < n; i++)
        open += rqs[i].ref.id != 0;
    if (open == 0)
        return GROVE_ENOTFOUND;
    grove_msg_t *m;
    int rc = grove_recv_match(&m, any_ref, &a, timeout);
    if (rc < 0)
        return rc;
    grove_gs_request_t *rq = &rqs[a.hit];
    *which = a.hit;
    rc = finish_call(m, rq->server, rq->ref, reply, why);
    rq->ref = GROVE_REF_NONE;
    return rc;
}

GROVE_EXPORT int grove_gs_check_response(const grove_msg_t *m,
                                         grove_gs_request_t *rq,
                                         grove_reason_t *why)
{
    if (!m || !rq || rq->ref.id == 0)
        return GROVE_EINVAL;
    if (grove_self().id == 0)
        return GROVE_ENOTPROC;
    grove_msg_kind_t kind = grove_msg_kind(m);
    if (grove_msg_ref(m).id != rq->ref.id ||
        (kind != GROVE_MSG_USER && kind != GROVE_MSG_DOWN))
        return GROVE_ENOTFOUND;
    int rc = response_of(m, rq->server, rq->ref, why);
    rq->ref = GROVE_REF_NONE;
    return rc;
}

GROVE_EXPORT int grove_gs_cast(grove_server_t srv, uint64_t tag,
                               const void *msg, size_t size)
{
    if ((size && !msg) || (srv.kind == 0 && srv.pid.id == 0) ||
        (srv.kind == 1 && !srv.name) || (srv.kind == 2 && !srv.via) ||
        srv.kind < 0 || srv.kind > 2)
        return GROVE_EINVAL;
    grove_pid_t pid;
    if (grove_server_whereis(srv, &pid) == 0)
        grove__send_ex(pid, tag, GROVE_REF_NONE, msg, size,
                       GROVE__MSGF_CAST);
    return 0;
}

GROVE_EXPORT int grove_gs_stop(grove_server_t srv,
                               const grove_reason_t *reason,
                               grove_timeout_t timeout, grove_reason_t *why)
{
    if (timeout < GROVE_INFINITY)
        return GROVE_EINVAL;
    grove_pid_t self = grove_self();
    if (self.id == 0)
        return GROVE_ENOTPROC;
    grove_pid_t pid;
    int rc = grove_server_whereis(srv, &pid);
    if (rc < 0)
        return rc;
    if (pid.id == self.id)
        return GROVE_ECALLINGSELF;
    grove_reason_t r = reason ? *reason : grove_reason_normal();
    grove_ref_t mref;
    if ((rc = grove_monitor(pid, &mref)) < 0)
        return rc;
    rc = grove__send_ex(pid, 0, GROVE_REF_NONE, &r, sizeof r,
                        GROVE__MSGF_STOP);
    if (rc == GROVE_ENOMEM) {
        grove_demonitor(mref, GROVE_DEMONITOR_FLUSH);
        return rc;
    }
    grove_msg_t *m;
    rc = grove_recv_ref(&m, mref, timeout);
    if (rc == GROVE_ETIMEDOUT) {
        grove_demonitor(mref, GROVE_DEMONITOR_FLUSH);
        return GROVE_ETIMEDOUT;
    }
    if (rc < 0)
        return rc;
    const grove_reason_t *got = grove_msg_reason(m);
    if (got->kind == GROVE_EXIT_NOPROC)
        rc = GROVE_ENOPROC;
    else if (!grove_reason_equal(got, &r)) {
        rc = GROVE_EEXITED;
        if (why)
            *why = *got;
    }
    grove_msg_free(m);
    return rc;
}
