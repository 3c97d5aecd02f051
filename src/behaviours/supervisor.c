/* supervisor: OTP's supervisor, as a gen_server of its own.
 *
 * Children live in an array in start order and in a pid -> child map, so
 * an exit finds its child in O(1). Restart intensity is a ring of the last
 * max_restarts + 1 restart times (whole seconds, as OTP): a restart is O(1)
 * whatever the limit. A child's lifecycle is explicit: running,
 * restarting (a failed or delayed restart pending), undefined (stopped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "behaviours/sup_common.h"
#include "base/failpoint.h"

enum {
    REQ_START_CHILD = 1,
    REQ_TERMINATE_CHILD,
    REQ_RESTART_CHILD,
    REQ_DELETE_CHILD,
    REQ_WHICH_CHILDREN,
    REQ_COUNT_CHILDREN,
    REQ_GET_CHILDSPEC,
    REQ_STATS,
    MSG_RETRY /* a pending restart is due (retry or backoff) */
};

#define ID_MAX 64
#define DEFAULT_RESTARTS 3
#define DEFAULT_SECONDS 5

typedef struct child {
    grove_child_spec_t spec; /* spec.id points to id */
    char id[ID_MAX];
    grove_pid_t pid;
    int state;          /* grove_child_state_t */
    uint64_t restarts;  /* automatic restarts of this child */
    uint32_t delay_ms;  /* backoff: the delay in force */
    uint64_t started_ms;
    uint64_t retry_gen; /* matches a pending MSG_RETRY */
    grove_pid_t last_pid; /* the incarnation that ended last, for reports */
    uint64_t id_hash;
} child_t;

typedef struct sup {
    grove_sup_flags_t flags;
    char name[ID_MAX];
    child_t **kids; /* start order */
    size_t n, cap;
    grove__map_t by_pid; /* pid.id -> child_t* */
    /* id_hash -> the first child with that hash (ids are looked up by
     * hash, then compared; another id with the same hash is scanned for) */
    grove__map_t by_id;
    grove__intensity_t intensity;
    uint64_t total_restarts;
    uint64_t retry_gen;
    unsigned seed;
} sup_t;

/* The request for start_child and get_childspec's answer: a spec whose id
 * is copied in, so nothing points into the caller's stack. */
typedef struct spec_msg {
    grove_child_spec_t spec;
    char id[ID_MAX];
} spec_msg_t;

/* ---- reports ------------------------------------------------------------------ */

/* The report's text and fields; apart, so that a report the logger
 * drops costs no more than the level check. */
static __attribute__((noinline)) void
sup_report_emit(int level, const char *sup_name, grove_pid_t sup,
                const char *context, const char *child_id, grove_pid_t child,
                const grove_reason_t *reason, const char *extra)
{
    char spid[GROVE_PID_STR_MAX], cpid[GROVE_PID_STR_MAX], why[256] = "",
         text[512];
    grove_pid_format(sup, spid, sizeof spid);
    grove_pid_format(child, cpid, sizeof cpid);
    if (reason)
        grove_reason_format(reason, why, sizeof why);
    snprintf(text, sizeof text, "supervisor %s%s%s: %s, child %s %s%s%s%s%s",
             spid, sup_name && sup_name[0] ? " " : "",
             sup_name ? sup_name : "", context, child_id ? child_id : "",
             cpid, why[0] ? " reason " : "", why, extra ? " " : "",
             extra ? extra : "");
    grove_log_field_t f[] = {{"supervisor", spid},
                             {"supervisor_name", sup_name ? sup_name : ""},
                             {"context", context},
                             {"child_id", child_id ? child_id : ""},
                             {"child_pid", cpid},
                             {"reason", why},
                             {"detail", extra ? extra : ""}};
    grove_log_event(level, "supervisor_report", sup, text, f, 7);
}

void grove__sup_report(int level, const char *sup_name, const char *context,
                       const char *child_id, grove_pid_t child,
                       const grove_reason_t *reason, const char *extra)
{
    if (grove_log_enabled(level))
        sup_report_emit(level, sup_name, grove_self(), context, child_id,
                        child, reason, extra);
}

static void report(sup_t *s, int level, const char *ctx, const child_t *c,
                   grove_pid_t pid, const grove_reason_t *r, const char *x)
{
    grove__sup_report(level, s->name, ctx, c ? c->id : NULL, pid, r, x);
}

/* ---- validation ------------------------------------------------------------------ */

static int invalid(grove_reason_t *why, const char *what, const char *id)
{
    if (why) {
        *why = grove_reason_error(GROVE_EINVAL, "%s%s%s", what,
                                  id ? " " : "", id ? id : "");
        why->kind = GROVE_EXIT_BADARG;
    }
    return GROVE_EINVAL;
}

static int check_flags(const grove_sup_flags_t *f, grove_reason_t *why)
{
    if (f->strategy < GROVE_ONE_FOR_ONE || f->strategy > GROVE_REST_FOR_ONE)
        return invalid(why, "invalid_strategy", NULL);
    if (f->max_restarts < GROVE_NO_RESTARTS)
        return invalid(why, "invalid_intensity", NULL);
    if (f->max_seconds < 0)
        return invalid(why, "invalid_period", NULL);
    if (f->auto_shutdown < GROVE_AUTO_SHUTDOWN_NEVER ||
        f->auto_shutdown > GROVE_AUTO_SHUTDOWN_ALL_SIGNIFICANT)
        return invalid(why, "invalid_auto_shutdown", NULL);
    return 0;
}

GROVE_EXPORT int grove_child_spec_check(const grove_child_spec_t *c,
                                        const grove_sup_flags_t *flags,
                                        grove_reason_t *why)
{
    static const grove_sup_flags_t none;
    const grove_sup_flags_t *f = flags ? flags : &none;
    if (!c)
        return invalid(why, "invalid_child_spec", NULL);
    if (!c->id || !c->id[0] || strlen(c->id) >= ID_MAX)
        return invalid(why, "missing_id", NULL);
    int ways = !!c->start + !!c->start_extra + !!c->gen_server + !!c->entry +
               !!c->supervisor;
    if (ways == 0)
        return invalid(why, "missing_start", c->id);
    if (ways > 1)
        return invalid(why, "invalid_mfa", c->id);
    if (c->restart < GROVE_PERMANENT || c->restart > GROVE_TEMPORARY)
        return invalid(why, "invalid_restart_type", c->id);
    if (c->significant && f->auto_shutdown == GROVE_AUTO_SHUTDOWN_NEVER)
        return invalid(why, "bad_combination auto_shutdown never", c->id);
    if (c->significant && c->restart == GROVE_PERMANENT)
        return invalid(why, "bad_combination restart permanent", c->id);
    if (c->type < GROVE_WORKER || c->type > GROVE_SUPERVISOR ||
        (c->supervisor && c->type == GROVE_WORKER && 0))
        return invalid(why, "invalid_child_type", c->id);
    if (c->shutdown < GROVE_SHUTDOWN_IMMEDIATE)
        return invalid(why, "invalid_shutdown", c->id);
    if (c->backoff.jitter_pct > 100 ||
        (c->backoff.max_ms && c->backoff.max_ms < c->backoff.initial_ms))
        return invalid(why, "invalid_backoff", c->id);
    return 0;
}

/* Fills in what a zero field means. */
static void fill_defaults(grove_child_spec_t *c)
{
    if (c->supervisor)
        c->type = GROVE_SUPERVISOR;
    if (c->shutdown == 0)
        c->shutdown = c->type == GROVE_SUPERVISOR ? GROVE_SHUTDOWN_INFINITY
                                                  : 5000;
    if (c->backoff.initial_ms) {
        if (!c->backoff.max_ms)
            c->backoff.max_ms = 30000;
        if (!c->backoff.reset_after_ms)
            c->backoff.reset_after_ms = 10000;
    }
}

/* ---- the child table -------------------------------------------------------------- */

/* Copies id into dst[ID_MAX], cut to fit (an over-long id is refused by
 * validation; this only keeps the copy in bounds). snprintf's format
 * parsing costs more than the rest of a child's bookkeeping. */
static void copy_id(char *dst, const char *id)
{
    size_t n = strnlen(id, ID_MAX - 1);
    memcpy(dst, id, n);
    dst[n] = '\0';
}

/* Never 0 or ~0, which the map reserves. */
static uint64_t hash_id(const char *id)
{
    uint64_t h = grove__hash_bytes(id, strlen(id));
    return h == 0 || h == UINT64_MAX ? 1 : h;
}

static child_t *find_id(sup_t *s, const char *id)
{
    uint64_t h = hash_id(id), v;
    if (!grove__map_get(&s->by_id, h, &v))
        return NULL;
    child_t *c = (child_t *)(uintptr_t)v;
    if (strcmp(c->id, id) == 0)
        return c;
    for (size_t i = 0; i < s->n; i++) /* two ids with one hash */
        if (s->kids[i]->id_hash == h && strcmp(s->kids[i]->id, id) == 0)
            return s->kids[i];
    return NULL;
}

static child_t *find_pid(sup_t *s, grove_pid_t pid)
{
    uint64_t v;
    return grove__map_get(&s->by_pid, pid.id, &v) ? (child_t *)(uintptr_t)v
                                                   : NULL;
}

static size_t index_of(sup_t *s, const child_t *c)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->kids[i] == c)
            return i;
    return s->n;
}

static void set_pid(sup_t *s, child_t *c, grove_pid_t pid)
{
    if (c->pid.id)
        grove__map_del(&s->by_pid, c->pid.id, NULL);
    c->pid = pid;
    if (pid.id) {
        grove__map_put(&s->by_pid, pid.id, (uint64_t)(uintptr_t)c);
        c->state = GROVE_CHILD_RUNNING;
        c->started_ms = grove__backoff_started(&c->spec.backoff);
    } else if (c->state == GROVE_CHILD_RUNNING) {
        c->state = GROVE_CHILD_UNDEFINED;
    }
}

static child_t *add_child(sup_t *s, const grove_child_spec_t *spec)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        child_t **k = grove__realloc(s->kids, ncap * sizeof *k);
        if (!k)
            return NULL;
        s->kids = k;
        s->cap = ncap;
    }
    child_t *c = grove__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->spec = *spec;
    copy_id(c->id, spec->id);
    c->spec.id = c->id;
    fill_defaults(&c->spec);
    c->state = GROVE_CHILD_UNDEFINED;
    c->id_hash = hash_id(c->id);
    if (!grove__map_get(&s->by_id, c->id_hash, NULL) &&
        grove__map_put(&s->by_id, c->id_hash, (uint64_t)(uintptr_t)c) < 0) {
        free(c);
        return NULL;
    }
    s->kids[s->n++] = c;
    return c;
}

static void remove_child(sup_t *s, child_t *c)
{
    size_t i = index_of(s, c);
    if (i == s->n)
        return;
    set_pid(s, c, GROVE_PID_NONE);
    memmove(&s->kids[i], &s->kids[i + 1], (s->n - i - 1) * sizeof *s->kids);
    s->n--;
    uint64_t v;
    if (grove__map_get(&s->by_id, c->id_hash, &v) &&
        (child_t *)(uintptr_t)v == c) {
        /* Another child with the same hash takes the entry over (an
         * update in place, which cannot fail). */
        child_t *other = NULL;
        for (size_t j = 0; j < s->n && !other; j++)
            if (s->kids[j]->id_hash == c->id_hash)
                other = s->kids[j];
        if (other)
            grove__map_put(&s->by_id, c->id_hash,
                           (uint64_t)(uintptr_t)other);
        else
            grove__map_del(&s->by_id, c->id_hash, NULL);
    }
    free(c);
}

/* ---- starting and stopping children --------------------------------------------------- */

/* Starts c; 0 (running or ignored) or an error with *why. On a name
 * clash c->last_pid gets the holder. */
static int start_one(sup_t *s, child_t *c, grove_reason_t *why)
{
    grove_pid_t pid;
    grove_reason_t r = grove_reason_normal();
    int rc = grove__child_start(&c->spec, NULL, &pid, &r);
    if (rc == 0 && pid.id) {
        set_pid(s, c, pid);
        report(s, GROVE_LOG_INFO, "child_started", c, pid, NULL, NULL);
        return 0;
    }
    if (rc == 0 || rc == GROVE_EIGNORE) {
        set_pid(s, c, GROVE_PID_NONE);
        c->state = GROVE_CHILD_UNDEFINED;
        return GROVE_EIGNORE;
    }
    if (why)
        *why = r;
    if (rc == GROVE_EALREADYSTARTED)
        c->last_pid = pid;
    report(s, GROVE_LOG_ERROR, "start_error", c, GROVE_PID_NONE, &r, NULL);
    return rc < 0 ? rc : GROVE_ESTARTFAIL;
}

/* The shutdown procedure, then a report if the end was unexpected. */
static void shutdown_child(sup_t *s, child_t *c)
{
    grove_pid_t pid = c->pid;
    if (!pid.id)
        return;
    grove_reason_t end;
    grove__child_shutdown(pid, c->spec.shutdown, &end);
    if (!grove__shutdown_accepted(c->spec.restart, c->spec.shutdown, &end))
        report(s, GROVE_LOG_ERROR, "shutdown_error", c, pid, &end, NULL);
    set_pid(s, c, GROVE_PID_NONE);
    c->state = GROVE_CHILD_UNDEFINED;
}

/* Stops children [from, n) in reverse start order; temporary ones are
 * dropped (they are never restarted). */
static void shutdown_range(sup_t *s, size_t from, const child_t *keep)
{
    for (size_t i = s->n; i-- > from;) {
        child_t *c = s->kids[i];
        if (c == keep)
            continue;
        if (c->pid.id)
            shutdown_child(s, c);
        if (c->spec.restart == GROVE_TEMPORARY)
            remove_child(s, c);
    }
}

/* ---- restart intensity --------------------------------------------------------------- */

static int max_restarts(const sup_t *s)
{
    return s->flags.max_restarts == GROVE_NO_RESTARTS ? 0
                                                      : s->flags.max_restarts;
}

static bool add_restart(sup_t *s)
{
    if (!grove__intensity_add(&s->intensity))
        return false;
    s->total_restarts++; /* counted only when it happens */
    return true;
}

/* ---- restarting -------------------------------------------------------------------- */

static void schedule_retry(sup_t *s, child_t *c, uint32_t delay)
{
    c->state = GROVE_CHILD_RESTARTING;
    c->retry_gen = ++s->retry_gen;
    struct {
        uint64_t gen;
        char id[ID_MAX];
    } msg;
    msg.gen = c->retry_gen;
    memcpy(msg.id, c->id, sizeof msg.id);
    /* A delay whose timer cannot be set becomes an immediate retry. */
    if (!delay || grove_send_after(grove_self(), delay, MSG_RETRY, &msg,
                                   sizeof msg, NULL) != 0)
        grove__send_reliable(grove_self(), MSG_RETRY, GROVE_REF_NONE, &msg,
                             sizeof msg, GROVE__MSGF_CAST);
}

/* Starts children [from, n) in order after a group restart; on a failure
 * the child is marked restarting and retried (the group with it). */
/* A restart whose start failed is retried (OTP), after the child's next
 * backoff delay when it has a backoff. */
static void retry_failed(sup_t *s, child_t *c)
{
    schedule_retry(s, c,
                   grove__backoff_failed_start(&c->spec.backoff,
                                               &c->delay_ms, &s->seed));
}

static bool start_range(sup_t *s, size_t from)
{
    for (size_t i = from; i < s->n; i++) {
        child_t *c = s->kids[i];
        grove_reason_t why;
        int rc = start_one(s, c, &why);
        if (rc < 0 && rc != GROVE_EIGNORE) {
            retry_failed(s, c);
            return false;
        }
    }
    return true;
}

static uint32_t backoff_delay(sup_t *s, child_t *c)
{
    return grove__backoff_next(&c->spec.backoff, &c->delay_ms, c->started_ms,
                               &s->seed);
}

/* Restarts after c failed, by the strategy. */
static void restart(sup_t *s, child_t *c)
{
    size_t i = index_of(s, c);
    switch (s->flags.strategy) {
    case GROVE_ONE_FOR_ONE: {
        grove_reason_t why;
        int rc = start_one(s, c, &why);
        if (rc < 0 && rc != GROVE_EIGNORE)
            retry_failed(s, c);
        break;
    }
    case GROVE_ONE_FOR_ALL:
        shutdown_range(s, 0, c);
        start_range(s, 0);
        break;
    case GROVE_REST_FOR_ONE:
        shutdown_range(s, i + 1, c);
        start_range(s, index_of(s, c));
        break;
    }
}

/* Gives up: too many restarts. The gen_server's terminate (sup_terminate)
 * then stops the rest in reverse order. */
static grove_gs_ret_t give_up(sup_t *s, child_t *c)
{
    report(s, GROVE_LOG_ERROR, "reached_max_restart_intensity", c,
           c ? c->last_pid : GROVE_PID_NONE, NULL, NULL);
    return GROVE_GS_STOP(grove_reason_shutdown(NULL));
}

static grove_gs_ret_t restart_counted(sup_t *s, child_t *c)
{
    if (!add_restart(s))
        return give_up(s, c);
    c->restarts++;
    report(s, GROVE_LOG_INFO, "restart", c, c->last_pid, NULL, NULL);
    restart(s, c);
    return GROVE_GS_NOREPLY();
}

static bool significant_left(sup_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->kids[i]->spec.significant && s->kids[i]->pid.id)
            return true;
    return false;
}

/* A significant child ended for good by itself: maybe end the supervisor
 * (auto_shutdown). */
static bool auto_shutdown(sup_t *s, bool significant)
{
    if (!significant)
        return false;
    if (s->flags.auto_shutdown == GROVE_AUTO_SHUTDOWN_ANY_SIGNIFICANT)
        return true;
    return s->flags.auto_shutdown == GROVE_AUTO_SHUTDOWN_ALL_SIGNIFICANT &&
           !significant_left(s);
}

static grove_gs_ret_t child_exited(sup_t *s, child_t *c,
                                   const grove_reason_t *r)
{
    grove_pid_t pid = c->pid;
    c->last_pid = pid;
    set_pid(s, c, GROVE_PID_NONE);
    c->state = GROVE_CHILD_UNDEFINED;
    int rt = c->spec.restart;
    bool again = rt == GROVE_PERMANENT ||
                 (rt == GROVE_TRANSIENT && !grove_reason_is_shutdown_class(r));
    if (rt == GROVE_PERMANENT || !grove_reason_is_shutdown_class(r))
        report(s, GROVE_LOG_ERROR, "child_terminated", c, pid, r, NULL);
    if (!again) {
        bool sig = c->spec.significant;
        if (rt == GROVE_TEMPORARY)
            remove_child(s, c);
        if (auto_shutdown(s, sig))
            return GROVE_GS_STOP(grove_reason_shutdown(NULL));
        return GROVE_GS_NOREPLY();
    }
    uint32_t delay = backoff_delay(s, c);
    if (delay) {
        report(s, GROVE_LOG_INFO, "restart_delayed", c, pid, NULL, NULL);
        schedule_retry(s, c, delay);
        return GROVE_GS_NOREPLY();
    }
    return restart_counted(s, c);
}

/* ---- the gen_server callbacks ------------------------------------------------------ */

/* Checks the children in list order and copies them into s's table: the
 * first bad one is the error. */
static int setup_children(sup_t *s, const grove_child_spec_t *kids, size_t n,
                          grove_reason_t *why)
{
    /* Sized once for the whole list: nothing grows child by child. */
    if (n && (!(s->kids = grove__calloc(n, sizeof *s->kids)) ||
              grove__map_reserve(&s->by_id, n) < 0 ||
              grove__map_reserve(&s->by_pid, n) < 0))
        return GROVE_ENOMEM;
    s->cap = n;
    for (size_t i = 0; i < n; i++) {
        const grove_child_spec_t *cs = &kids[i];
        int rc = grove_child_spec_check(cs, &s->flags, why);
        if (rc < 0)
            return rc;
        if (find_id(s, cs->id))
            return invalid(why, "duplicate_child_name", cs->id);
        if (!add_child(s, cs))
            return GROVE_ENOMEM;
    }
    return 0;
}

static grove_gs_ret_t fail_init(sup_t *s, child_t *c, grove_reason_t *why)
{
    char text[GROVE_REASON_TEXT_MAX], r[96];
    grove_reason_format(why, r, sizeof r);
    /* Truncation is fine here: the text is a summary. */
    if (snprintf(text, sizeof text, "failed_to_start_child %s: %s", c->id,
                 r) < 0)
        text[0] = '\0';
    shutdown_range(s, 0, NULL);
    return GROVE_GS_INIT_STOP(grove_reason_shutdown(text));
}

static void free_sup(sup_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->kids[i]);
    free(s->kids);
    grove__intensity_free(&s->intensity);
    grove__map_free(&s->by_pid);
    grove__map_free(&s->by_id);
    free(s);
}

static void release_sup(void *p) { free_sup(p); }

/* Takes over the table grove_sup_start built and checked (make_sup). */
static grove_gs_ret_t sup_init(grove_gs_t *gs, void *arg)
{
    sup_t *s = arg;
    grove_trap_exit(true);
    grove_reason_t why = grove_reason_normal();
    if (grove_resource_attach(release_sup, s, NULL) < 0) {
        free_sup(s);
        return GROVE_GS_INIT_STOP(grove_reason_error(GROVE_ENOMEM, "oom"));
    }
    grove_gs_set_state(gs, s);
    s->seed = (unsigned)grove_self().id;
    if (!s->flags.max_restarts)
        s->flags.max_restarts = DEFAULT_RESTARTS;
    if (!s->flags.max_seconds)
        s->flags.max_seconds = DEFAULT_SECONDS;
    int rc = grove__intensity_init(&s->intensity, max_restarts(s),
                                   s->flags.max_seconds);
    if (rc < 0)
        return GROVE_GS_INIT_STOP(
            grove_reason_error(GROVE_ENOMEM, "out of memory"));
    /* A hint only: without the room, each link makes its own. */
    (void)grove__links_reserve(s->n);
    for (size_t i = 0; i < s->n; i++) {
        child_t *c = s->kids[i];
        rc = start_one(s, c, &why);
        if (rc == GROVE_EIGNORE && c->spec.restart == GROVE_TEMPORARY) {
            remove_child(s, c);
            i--;
        } else if (rc < 0 && rc != GROVE_EIGNORE) {
            return fail_init(s, c, &why);
        }
    }
    return GROVE_GS_INIT_OK();
}

static void sup_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)r;
    sup_t *s = grove_gs_state(gs);
    if (s)
        shutdown_range(s, 0, NULL);
}

static grove_gs_ret_t on_retry(sup_t *s, const grove_msg_t *m)
{
    struct {
        uint64_t gen;
        char id[ID_MAX];
    } msg;
    if (grove_msg_size(m) != sizeof msg)
        return GROVE_GS_NOREPLY();
    memcpy(&msg, grove_msg_data(m), sizeof msg);
    if (!memchr(msg.id, '\0', sizeof msg.id))
        return GROVE_GS_NOREPLY(); /* not one of its own: a forged id */
    child_t *c = find_id(s, msg.id);
    if (!c || c->state != GROVE_CHILD_RESTARTING || c->retry_gen != msg.gen)
        return GROVE_GS_NOREPLY(); /* terminated or deleted meanwhile */
    return restart_counted(s, c);
}

static grove_gs_ret_t sup_info(grove_gs_t *gs, const grove_msg_t *m)
{
    sup_t *s = grove_gs_state(gs);
    if (grove_msg_kind(m) == GROVE_MSG_EXIT) {
        child_t *c = find_pid(s, grove_msg_from(m));
        if (!c)
            return GROVE_GS_NOREPLY(); /* a stranger: ignored (OTP) */
        return child_exited(s, c, grove_msg_reason(m));
    }
    if (grove_msg_kind(m) == GROVE_MSG_USER && grove_msg_tag(m) == MSG_RETRY)
        return on_retry(s, m);
    char from[GROVE_PID_STR_MAX];
    grove_log(GROVE_LOG_WARNING, "supervisor %s: unexpected message "
              "(tag %llu) from %s dropped", s->name,
              (unsigned long long)grove_msg_tag(m),
              grove_pid_format(grove_msg_from(m), from, sizeof from));
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t sup_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    sup_t *s = grove_gs_state(gs);
    if (grove_msg_tag(m) == MSG_RETRY)
        return on_retry(s, m);
    return GROVE_GS_NOREPLY();
}

/* ---- API requests ------------------------------------------------------------------- */

typedef struct result {
    int rc;
    grove_pid_t pid;
    grove_reason_t why;
} result_t;

static grove_gs_ret_t answer(const result_t *res)
{
    return GROVE_GS_REPLY(0, res, sizeof *res); /* copied here */
}
static void req_start_child(sup_t *s, const grove_msg_t *m, result_t *res)
{
    spec_msg_t sm;
    memcpy(&sm, grove_msg_data(m), sizeof sm);
    sm.spec.id = sm.id;
    if ((res->rc = grove_child_spec_check(&sm.spec, &s->flags, &res->why)))
        return;
    child_t *c = find_id(s, sm.id);
    if (c) {
        res->rc = c->pid.id ? GROVE_EALREADYSTARTED : GROVE_EPRESENT;
        res->pid = c->pid;
        return;
    }
    if (!(c = add_child(s, &sm.spec))) {
        res->rc = GROVE_ENOMEM;
        return;
    }
    int rc = start_one(s, c, &res->why);
    res->pid = c->pid;
    if (rc == GROVE_EIGNORE) {
        if (c->spec.restart == GROVE_TEMPORARY)
            remove_child(s, c);
        return;
    }
    if (rc < 0) {
        if (rc == GROVE_EALREADYSTARTED)
            res->pid = c->last_pid; /* the holder, passed through (OTP) */
        remove_child(s, c);
        res->rc = rc == GROVE_EALREADYSTARTED ? rc : GROVE_ESTARTFAIL;
    }
}

static void req_terminate(sup_t *s, const char *id, result_t *res)
{
    child_t *c = find_id(s, id);
    if (!c) {
        res->rc = GROVE_ENOTFOUND;
        return;
    }
    shutdown_child(s, c);
    c->state = GROVE_CHILD_UNDEFINED; /* drops a pending retry */
    c->retry_gen = 0;
    if (c->spec.restart == GROVE_TEMPORARY)
        remove_child(s, c);
}

static void req_restart(sup_t *s, const char *id, result_t *res)
{
    child_t *c = find_id(s, id);
    if (!c)
        res->rc = GROVE_ENOTFOUND;
    else if (c->pid.id)
        res->rc = GROVE_ERUNNING;
    else if (c->state == GROVE_CHILD_RESTARTING)
        res->rc = GROVE_ERESTARTING;
    else {
        int rc = start_one(s, c, &res->why);
        res->pid = c->pid;
        if (rc < 0 && rc != GROVE_EIGNORE)
            res->rc = GROVE_ESTARTFAIL;
    }
}

static void req_delete(sup_t *s, const char *id, result_t *res)
{
    child_t *c = find_id(s, id);
    if (!c)
        res->rc = GROVE_ENOTFOUND;
    else if (c->pid.id)
        res->rc = GROVE_ERUNNING;
    else if (c->state == GROVE_CHILD_RESTARTING)
        res->rc = GROVE_ERESTARTING;
    else
        remove_child(s, c);
}

static void fill_info(const child_t *c, grove_child_info_t *o)
{
    memset(o, 0, sizeof *o);
    memcpy(o->id, c->id, sizeof o->id);
    o->pid = c->pid;
    o->state = c->pid.id ? GROVE_CHILD_RUNNING
               : c->state == GROVE_CHILD_RESTARTING ? GROVE_CHILD_RESTARTING
                                                     : GROVE_CHILD_UNDEFINED;
    o->type = c->spec.type;
    o->restart = c->spec.restart;
    o->restart_delay_ms = c->delay_ms;
    o->restarts = c->restarts;
}

static grove_gs_ret_t req_which(sup_t *s)
{
    size_t size = s->n * sizeof(grove_child_info_t);
    grove_child_info_t *out = grove__malloc(size ? size : 1);
    if (!out)
        return GROVE_GS_REPLY(0, NULL, 0);
    for (size_t i = 0; i < s->n; i++)
        fill_info(s->kids[s->n - 1 - i], &out[i]); /* newest first */
    grove_gs_ret_t r = GROVE_GS_REPLY(0, out, size);
    free(out);
    return r;
}

static grove_gs_ret_t req_count(sup_t *s)
{
    grove_child_counts_t k = {.specs = s->n};
    for (size_t i = 0; i < s->n; i++) {
        const child_t *c = s->kids[i];
        if (c->pid.id && grove_is_alive(c->pid))
            k.active++;
        if (c->spec.type == GROVE_SUPERVISOR)
            k.supervisors++;
        else
            k.workers++;
    }
    return GROVE_GS_REPLY(0, &k, sizeof k);
}

static grove_gs_ret_t req_spec(sup_t *s, const char *id)
{
    spec_msg_t out;
    memset(&out, 0, sizeof out);
    child_t *c = find_id(s, id);
    if (!c)
        return GROVE_GS_REPLY(GROVE_ENOTFOUND, NULL, 0);
    out.spec = c->spec;
    memcpy(out.id, c->id, sizeof out.id);
    return GROVE_GS_REPLY(0, &out, sizeof out);
}

static grove_gs_ret_t req_stats(sup_t *s)
{
    grove_sup_stats_t st = grove__intensity_stats(
        &s->intensity, s->total_restarts, s->flags.strategy);
    return GROVE_GS_REPLY(0, &st, sizeof st);
}

/* Request payloads carry ids inline; make sure one is terminated. */
static const char *msg_id(const grove_msg_t *m)
{
    const char *id = grove_msg_data(m);
    size_t n = grove_msg_size(m);
    if (!id || n == 0 || n > ID_MAX || id[n - 1] != '\0')
        return "";
    return id;
}

static grove_gs_ret_t sup_call(grove_gs_t *gs, const grove_msg_t *m,
                               grove_gs_from_t from)
{
    (void)from;
    sup_t *s = grove_gs_state(gs);
    result_t res;
    memset(&res, 0, sizeof res);
    switch (grove_msg_tag(m)) {
    case REQ_START_CHILD:
        if (grove_msg_size(m) != sizeof(spec_msg_t))
            res.rc = GROVE_EINVAL;
        else
            req_start_child(s, m, &res);
        return answer(&res);
    case REQ_TERMINATE_CHILD:
        req_terminate(s, msg_id(m), &res);
        return answer(&res);
    case REQ_RESTART_CHILD:
        req_restart(s, msg_id(m), &res);
        return answer(&res);
    case REQ_DELETE_CHILD:
        req_delete(s, msg_id(m), &res);
        return answer(&res);
    case REQ_WHICH_CHILDREN:
        return req_which(s);
    case REQ_COUNT_CHILDREN:
        return req_count(s);
    case REQ_GET_CHILDSPEC:
        return req_spec(s, msg_id(m));
    case REQ_STATS:
        return req_stats(s);
    default:
        res.rc = GROVE_EINVAL;
        return answer(&res);
    }
}

static int sup_status(grove_gs_t *gs, char *buf, size_t size)
{
    const sup_t *s = grove_gs_state(gs);
    if (!s)
        return snprintf(buf, size, "starting");
    return snprintf(buf, size, "%zu children, %llu restarts", s->n,
                    (unsigned long long)s->total_restarts);
}

static const grove_gs_callbacks_t sup_callbacks = {
    .name = "supervisor",
    .init = sup_init,
    .handle_call = sup_call,
    .handle_cast = sup_cast,
    .handle_info = sup_info,
    .terminate = sup_terminate,
    .format_status = sup_status,
};

/* ---- the API ------------------------------------------------------------------------ */

/* Builds the supervisor's table from spec in the caller, every child
 * checked in list order before anything starts (as OTP checks the whole
 * list first); the new process adopts it (sup_init). Returns NULL with
 * *rc (and *why) set on an error. */
static sup_t *make_sup(const grove_sup_spec_t *spec, int *rc,
                       grove_reason_t *why)
{
    grove_sup_spec_t sp = *spec;
    if (spec->init) {
        memset(&sp, 0, sizeof sp);
        sp.name = spec->name;
        int r = spec->init(spec->init_arg, &sp);
        if (r == GROVE_EIGNORE || r < 0) {
            *rc = r < 0 && r != GROVE_EIGNORE ? GROVE_ESTARTFAIL : r;
            if (why && r != GROVE_EIGNORE)
                *why = grove_reason_error(r, "supervisor init failed");
            return NULL;
        }
        if (!sp.name)
            sp.name = spec->name;
    }
    if ((*rc = check_flags(&sp.flags, why)) < 0)
        return NULL;
    if (sp.nchildren && !sp.children) {
        *rc = invalid(why, "invalid_child_spec", NULL);
        return NULL;
    }
    sup_t *s = grove__calloc(1, sizeof *s);
    if (!s) {
        *rc = GROVE_ENOMEM;
        return NULL;
    }
    s->flags = sp.flags;
    snprintf(s->name, sizeof s->name, "%s", sp.name ? sp.name : "");
    if ((*rc = setup_children(s, sp.children, sp.nchildren, why)) < 0) {
        free_sup(s);
        return NULL;
    }
    return s;
}

GROVE_EXPORT int grove_sup_start(const grove_sup_spec_t *spec,
                                 const grove_sup_opts_t *opts,
                                 grove_pid_t *pid, grove_reason_t *why)
{
    /* A start that fails, however, leaves no reference behind. */
    if (opts && opts->monitor && opts->monitor_ref)
        *opts->monitor_ref = GROVE_REF_NONE;
    if (!spec)
        return GROVE_EINVAL;
    int rc = 0;
    sup_t *s = make_sup(spec, &rc, why);
    if (!s)
        return rc;
    grove_gs_opts_t o = {0};
    if (opts)
        o = *opts;
    o.trap_exit = true;
    grove_reason_t r = grove_reason_normal();
    rc = grove_gs_start(&sup_callbacks, s, &o, pid, &r);
    if (rc == GROVE_EALREADYSTARTED || rc == GROVE_EINVAL ||
        rc == GROVE_ENOTSTARTED || rc == GROVE_ENOTPROC ||
        rc == GROVE_ELIMIT || rc == GROVE_ENOMEM)
        free_sup(s); /* init never ran */
    if (why && rc != 0)
        *why = r;
    return rc;
}

static int id_request(grove_server_t sup, uint64_t req, const char *id,
                      result_t *res)
{
    if (!id || !id[0] || strlen(id) >= ID_MAX)
        return GROVE_EINVAL;
    int rc = grove__sup_call_copy(sup, req, id, strlen(id) + 1, res,
                                  sizeof *res);
    return rc < 0 ? rc : res->rc;
}

GROVE_EXPORT int grove_sup_start_child(grove_server_t sup,
                                       const grove_child_spec_t *spec,
                                       grove_pid_t *pid, grove_reason_t *why)
{
    if (!spec)
        return GROVE_EINVAL;
    spec_msg_t sm;
    memset(&sm, 0, sizeof sm);
    sm.spec = *spec;
    if (!spec->id || strlen(spec->id) >= ID_MAX)
        return invalid(why, "missing_id", NULL);
    snprintf(sm.id, sizeof sm.id, "%s", spec->id);
    sm.spec.id = NULL;
    result_t res;
    int rc = grove__sup_call_copy(sup, REQ_START_CHILD, &sm, sizeof sm, &res,
                                  sizeof res);
    if (rc < 0)
        return rc;
    if (pid)
        *pid = res.pid;
    if (why && res.rc < 0)
        *why = res.why;
    return res.rc;
}

GROVE_EXPORT int grove_sup_terminate_child(grove_server_t sup,
                                           const char *id)
{
    result_t res;
    return id_request(sup, REQ_TERMINATE_CHILD, id, &res);
}

GROVE_EXPORT int grove_sup_restart_child(grove_server_t sup, const char *id,
                                         grove_pid_t *pid,
                                         grove_reason_t *why)
{
    result_t res;
    memset(&res, 0, sizeof res);
    int rc = id_request(sup, REQ_RESTART_CHILD, id, &res);
    if (pid)
        *pid = res.pid;
    if (why && rc == GROVE_ESTARTFAIL)
        *why = res.why;
    return rc;
}

GROVE_EXPORT int grove_sup_delete_child(grove_server_t sup, const char *id)
{
    result_t res;
    return id_request(sup, REQ_DELETE_CHILD, id, &res);
}

GROVE_EXPORT int grove_sup_which_children(grove_server_t sup,
                                          grove_child_info_t *out, size_t max,
                                          size_t *n)
{
    return grove__sup_call_children(sup, REQ_WHICH_CHILDREN, out, max, n);
}

GROVE_EXPORT int grove_sup_count_children(grove_server_t sup,
                                          grove_child_counts_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    return grove__sup_call_copy(sup, REQ_COUNT_CHILDREN, NULL, 0, out,
                                sizeof *out);
}

GROVE_EXPORT int grove_sup_get_childspec(grove_server_t sup, const char *id,
                                         grove_child_spec_t *out,
                                         char idbuf[64])
{
    if (!out || !idbuf || !id || !id[0] || strlen(id) >= ID_MAX)
        return GROVE_EINVAL;
    grove_msg_t *m;
    int rc = grove__sup_call(sup, REQ_GET_CHILDSPEC, id, strlen(id) + 1, &m);
    if (rc < 0)
        return rc;
    if (grove_msg_size(m) != sizeof(spec_msg_t)) {
        grove_msg_free(m);
        return GROVE_ENOTFOUND;
    }
    spec_msg_t sm;
    memcpy(&sm, grove_msg_data(m), sizeof sm);
    grove_msg_free(m);
    *out = sm.spec;
    memcpy(idbuf, sm.id, ID_MAX);
    out->id = idbuf;
    return 0;
}

GROVE_EXPORT int grove_sup_stats(grove_server_t sup, grove_sup_stats_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    /* A short reply (a server that is not a supervisor) leaves zeros. */
    return grove__sup_call_copy(sup, REQ_STATS, NULL, 0, out, sizeof *out);
}
