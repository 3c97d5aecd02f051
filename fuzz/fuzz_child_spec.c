/* Fuzz target: supervisor child specs and flags.
 *
 * Part one builds a grove_child_spec_t and grove_sup_flags_t from the
 * input: ids of arbitrary bytes (terminated copies, so with embedded NULs,
 * empty or too long), any combination of start functions, restart,
 * shutdown, type and backoff values in and out of range, NULL flags and
 * NULL why. grove_child_spec_check must agree with the rules the header
 * states, and say which field is wrong in a terminated, formattable why.
 *
 * Part two starts a supervisor (from a process) with flags and up to six
 * child specs from the input. Start functions succeed (spawning a linked
 * process that waits, or one that exits at once with an arbitrary reason,
 * a few times per input), return ignore, return an error with an
 * arbitrary why (kind out of range, text without a terminator), or return
 * 0 with no pid. The result must be the one the specs imply. Then the
 * child API is called with ids from the input, a child spec from the
 * input is added with start_child, and the supervisor is stopped. Every
 * report the supervisor logs goes through the JSON and text handlers and
 * must come out as valid JSON lines. Afterwards no process may be left.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_KIDS 6
#define ID_MAX 64

/* ---- reports: every log event, as JSON and text, into memory ------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_json, *log_text;
static char *json_buf, *text_buf;
static size_t json_len, text_len;

static void capture(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_lock);
    if (log_json) {
        grove_log_json_handler(ev, log_json);
        grove_log_text_handler(ev, log_text);
    }
    pthread_mutex_unlock(&log_lock);
}

static void capture_begin(void)
{
    pthread_mutex_lock(&log_lock);
    log_json = open_memstream(&json_buf, &json_len);
    log_text = open_memstream(&text_buf, &text_len);
    FZ_CHECK(log_json && log_text, "open_memstream");
    pthread_mutex_unlock(&log_lock);
}

static void capture_end(void)
{
    pthread_mutex_lock(&log_lock);
    fclose(log_json);
    fclose(log_text);
    log_json = log_text = NULL;
    pthread_mutex_unlock(&log_lock);
    for (char *line = json_buf; line < json_buf + json_len;) {
        char *nl = memchr(line, '\n', (size_t)(json_buf + json_len - line));
        FZ_CHECK(nl, "a JSON log line without a newline: %s", line);
        const char *err = fz_json_check(line, (size_t)(nl - line));
        FZ_CHECK(!err, "invalid JSON log line (%s): %.*s", err,
                 (int)(nl - line), line);
        line = nl + 1;
    }
    FZ_CHECK(strlen(text_buf) == text_len, "a NUL in the text log");
    free(json_buf);
    free(text_buf);
}

/* ---- part one: grove_child_spec_check ------------------------------------- */

static int dummy_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)pid;
    (void)why;
    return GROVE_EIGNORE;
}
static int dummy_start_extra(void *extra, void *arg, grove_pid_t *pid,
                             grove_reason_t *why)
{
    (void)extra;
    return dummy_start(arg, pid, why);
}
static const grove_gs_callbacks_t plain_server = {.name = "fuzz_server"};
static const grove_sup_spec_t empty_sup = {.name = "fuzz_empty"};

/* The rules of grove_child_spec_t and grove_sup_flags_t, in the order the
 * supervisor checks them: the name of the first broken one, or NULL. */
static const char *spec_rule(const grove_child_spec_t *c,
                             const grove_sup_flags_t *f, bool *with_id)
{
    *with_id = true;
    if (!c->id || !c->id[0] || strlen(c->id) >= ID_MAX) {
        *with_id = false;
        return "missing_id";
    }
    int ways = !!c->start + !!c->start_extra + !!c->gen_server +
               !!c->entry + !!c->supervisor;
    if (ways == 0)
        return "missing_start";
    if (ways > 1)
        return "invalid_mfa";
    if (c->restart < GROVE_PERMANENT || c->restart > GROVE_TEMPORARY)
        return "invalid_restart_type";
    int auto_shutdown = f ? f->auto_shutdown : GROVE_AUTO_SHUTDOWN_NEVER;
    if (c->significant && auto_shutdown == GROVE_AUTO_SHUTDOWN_NEVER)
        return "bad_combination";
    if (c->significant && c->restart == GROVE_PERMANENT)
        return "bad_combination";
    if (c->type < GROVE_WORKER || c->type > GROVE_SUPERVISOR)
        return "invalid_child_type";
    if (c->shutdown < GROVE_SHUTDOWN_IMMEDIATE)
        return "invalid_shutdown";
    if (c->backoff.jitter_pct > 100 ||
        (c->backoff.max_ms && c->backoff.max_ms < c->backoff.initial_ms))
        return "invalid_backoff";
    return NULL;
}

static const char *flags_rule(const grove_sup_flags_t *f)
{
    if (f->strategy < GROVE_ONE_FOR_ONE || f->strategy > GROVE_REST_FOR_ONE)
        return "invalid_strategy";
    if (f->max_restarts < GROVE_NO_RESTARTS)
        return "invalid_intensity";
    if (f->max_seconds < 0)
        return "invalid_period";
    if (f->auto_shutdown < GROVE_AUTO_SHUTDOWN_NEVER ||
        f->auto_shutdown > GROVE_AUTO_SHUTDOWN_ALL_SIGNIFICANT)
        return "invalid_auto_shutdown";
    return NULL;
}

/* A why for a rejected spec: a badarg whose text is terminated, names the
 * rule, and formats. */
static void check_why(const grove_reason_t *why, const char *rule,
                      const char *id)
{
    FZ_CHECK(why->kind == GROVE_EXIT_BADARG, "why kind %d", why->kind);
    FZ_CHECK(memchr(why->text, '\0', sizeof why->text),
             "why text not terminated");
    FZ_CHECK(strncmp(why->text, rule, strlen(rule)) == 0,
             "why \"%s\", expected %s", why->text, rule);
    if (id && strlen(why->text) < sizeof why->text - 1)
        FZ_CHECK(strstr(why->text, id), "why \"%s\" does not name %s",
                 why->text, id);
    char buf[300];
    int n = grove_reason_format(why, buf, sizeof buf);
    FZ_CHECK(n > 0 && (size_t)n < sizeof buf, "format why: %d", n);
}

static int32_t pick_int(fz_t *f, int32_t lo, int32_t hi)
{
    uint8_t m = fz_u8(f);
    if ((m & 3) == 3)
        return (int32_t)fz_u32(f); /* anything at all */
    return lo + (int32_t)(m >> 2) % (hi - lo + 1);
}

static void pick_flags(fz_t *f, grove_sup_flags_t *fl)
{
    fl->strategy = pick_int(f, -1, 3);
    fl->max_restarts = pick_int(f, -2, 5);
    fl->max_seconds = pick_int(f, -1, 5);
    fl->auto_shutdown = pick_int(f, -1, 3);
}

static grove_timeout_t pick_shutdown(fz_t *f)
{
    switch (fz_u8(f) % 8) {
    case 0:
        return 0;
    case 1:
        return GROVE_SHUTDOWN_INFINITY;
    case 2:
        return GROVE_SHUTDOWN_BRUTAL_KILL;
    case 3:
        return GROVE_SHUTDOWN_IMMEDIATE;
    case 4:
        return -4 - (grove_timeout_t)fz_u8(f);
    case 5: {
        grove_timeout_t t = (grove_timeout_t)fz_u64(f);
        if (t > 0 && fz_known("timer_wheel_level"))
            t &= ((grove_timeout_t)1 << 35) - 1; /* in the wheel's range */
        return t;
    }
    default:
        return 1 + fz_u8(f) % 50;
    }
}

static void pick_backoff(fz_t *f, grove_backoff_t *b, bool hostile)
{
    if (hostile) { /* large delays, mostly with a valid jitter */
        uint8_t m = fz_u8(f);
        b->initial_ms = fz_u32(f);
        b->max_ms = (m & 1) ? 0 : fz_u32(f);
        b->jitter_pct = (m & 2) ? fz_u32(f) : fz_u8(f) % 101;
        b->reset_after_ms = fz_u32(f);
        return;
    }
    uint8_t m = fz_u8(f);
    b->initial_ms = (m & 1) ? fz_u8(f) % 20 : 0;
    b->max_ms = (m & 2) ? fz_u8(f) % 40 : 0;
    b->jitter_pct = (m & 4) ? fz_u8(f) % 120 : 0;
    b->reset_after_ms = (m & 8) ? fz_u8(f) % 50 : 0;
}

/* Sets the start fields named by the bits of ways. */
static void set_ways(grove_child_spec_t *c, unsigned ways,
                     int (*start)(void *, grove_pid_t *, grove_reason_t *),
                     int (*start_extra)(void *, void *, grove_pid_t *,
                                        grove_reason_t *))
{
    c->start = (ways & 1) ? start : NULL;
    c->start_extra = (ways & 2) ? start_extra : NULL;
    c->gen_server = (ways & 4) ? &plain_server : NULL;
    c->entry = (ways & 8) ? fz_idle_entry : NULL;
    c->supervisor = (ways & 16) ? &empty_sup : NULL;
}

static unsigned pick_ways(fz_t *f)
{
    uint8_t m = fz_u8(f);
    if (m & 0x80)
        return m & 31; /* any combination, none included */
    return 1u << (m % 5);
}

static void fuzz_check(fz_t *f)
{
    grove_child_spec_t c;
    memset(&c, 0, sizeof c);
    uint8_t mode = fz_u8(f);
    char *id = NULL;
    if ((mode & 3) != 3)
        id = fz_str(f, 100, NULL);
    c.id = id;
    set_ways(&c, pick_ways(f), dummy_start, dummy_start_extra);
    c.restart = pick_int(f, -1, 3);
    c.shutdown = pick_shutdown(f);
    c.type = pick_int(f, -1, 2);
    c.significant = fz_bool(f);
    pick_backoff(f, &c.backoff, fz_bool(f));
    grove_sup_flags_t fl;
    pick_flags(f, &fl);
    const grove_sup_flags_t *flp = (mode & 4) ? NULL : &fl;

    bool with_id;
    const char *rule = spec_rule(&c, flp, &with_id);
    grove_reason_t why;
    memset(&why, 0x5a, sizeof why);
    int rc = grove_child_spec_check(&c, flp, (mode & 8) ? NULL : &why);
    FZ_CHECK((rc == 0) == (rule == NULL),
             "grove_child_spec_check returned %s; expected %s",
             grove_errname(rc), rule ? rule : "0");
    if (rc) {
        FZ_CHECK(rc == GROVE_EINVAL, "rc %s", grove_errname(rc));
        if (!(mode & 8))
            check_why(&why, rule, with_id ? c.id : NULL);
    }
    FZ_CHECK(grove_child_spec_check(NULL, flp, &why) == GROVE_EINVAL,
             "NULL spec");
    free(id);
}

/* ---- part two: a supervisor ----------------------------------------------------- */

enum { KID_IDLE, KID_IGNORE, KID_ERROR, KID_NOPID, KID_CRASH, KID__N };

typedef struct kid {
    int behaviour;
    int err_rc;
    grove_reason_t err_why;     /* raw bytes: any kind, no terminator */
    grove_reason_t exit_reason; /* raw bytes too */
    atomic_int *crashes_left;
    atomic_int starts;
} kid_t;

static void crash_entry(void *arg)
{
    kid_t *k = arg;
    grove_reason_t r = k->exit_reason;
    grove_exit(&r);
}

static int kid_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    kid_t *k = arg;
    atomic_fetch_add(&k->starts, 1);
    grove_spawn_opts_t o = {.link = true};
    switch (k->behaviour) {
    case KID_IGNORE:
        return GROVE_EIGNORE;
    case KID_ERROR:
        if (why)
            memcpy(why, &k->err_why, sizeof *why);
        return k->err_rc;
    case KID_NOPID:
        return 0;
    case KID_CRASH:
        if (atomic_fetch_sub(k->crashes_left, 1) > 0)
            return grove_spawn(crash_entry, k, &o, pid);
        return grove_spawn(fz_idle_entry, NULL, &o, pid);
    default:
        return grove_spawn(fz_idle_entry, NULL, &o, pid);
    }
}

static int kid_start_extra(void *extra, void *arg, grove_pid_t *pid,
                           grove_reason_t *why)
{
    FZ_CHECK(extra == NULL, "a plain supervisor passed extra %p", extra);
    return kid_start(arg, pid, why);
}

typedef struct sup_prog {
    fz_t in;
    grove_sup_flags_t flags;
    size_t n;
    grove_child_spec_t specs[MAX_KIDS + 1];
    kid_t kids[MAX_KIDS + 1];
    char *ids[MAX_KIDS + 1];
    atomic_int crashes_left;
} sup_prog_t;

static void make_kid(sup_prog_t *p, size_t i, bool hostile_backoff)
{
    fz_t *f = &p->in;
    grove_child_spec_t *c = &p->specs[i];
    kid_t *k = &p->kids[i];
    memset(c, 0, sizeof *c);
    uint8_t mode = fz_u8(f);
    p->ids[i] = (mode & 0x0f) == 0x0f ? NULL : fz_str(f, 80, NULL);
    if ((mode & 0x30) == 0 && p->ids[i]) { /* a short printable id */
        free(p->ids[i]);
        p->ids[i] = malloc(4);
        snprintf(p->ids[i], 4, "k%u", (unsigned)(mode >> 6));
    }
    c->id = p->ids[i];
    set_ways(c, pick_ways(f), kid_start, kid_start_extra);
    c->arg = k;
    c->restart = pick_int(f, -1, 3);
    c->shutdown = pick_shutdown(f);
    c->type = pick_int(f, -1, 2);
    c->significant = (fz_u8(f) & 7) == 7;
    pick_backoff(f, &c->backoff, hostile_backoff);
    k->behaviour = fz_u8(f) % KID__N;
    uint8_t em = fz_u8(f);
    k->err_rc = (em & 1) ? (int)fz_u32(f) | INT32_MIN : -(int)(em >> 1) % 27;
    if (k->err_rc == 0 || k->err_rc == GROVE_EIGNORE)
        k->err_rc = GROVE_ESTARTFAIL;
    fz_fill(f, &k->err_why, sizeof k->err_why);
    fz_fill(f, &k->exit_reason, sizeof k->exit_reason);
    if (fz_bool(f)) /* mostly a kind in range */
        k->exit_reason.kind = (int32_t)((uint32_t)k->exit_reason.kind %
                                        GROVE_EXIT__COUNT);
    k->crashes_left = &p->crashes_left;
}

/* What grove_sup_start must return for these flags and specs. */
static int expected_start(const sup_prog_t *p, const char **rule)
{
    *rule = flags_rule(&p->flags);
    if (*rule)
        return GROVE_EINVAL;
    for (size_t i = 0; i < p->n; i++) {
        bool with_id;
        *rule = spec_rule(&p->specs[i], &p->flags, &with_id);
        if (*rule)
            return GROVE_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->specs[j].id, p->specs[i].id) == 0) {
                *rule = "duplicate_child_name";
                return GROVE_EINVAL;
            }
    }
    for (size_t i = 0; i < p->n; i++) {
        const grove_child_spec_t *c = &p->specs[i];
        if ((c->start || c->start_extra) &&
            p->kids[i].behaviour == KID_ERROR)
            return GROVE_ESTARTFAIL;
    }
    return 0;
}

static const char *pick_id(sup_prog_t *p, char **fresh)
{
    uint8_t m = fz_u8(&p->in);
    if (m < 0xc0 && p->n)
        return p->ids[m % p->n];
    *fresh = fz_str(&p->in, 80, NULL);
    return *fresh;
}

static bool rc_in(int rc, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == set[i])
            return true;
    return false;
}
#define RC_IN(rc, ...)                                                       \
    rc_in((rc), (const int[]){__VA_ARGS__},                                  \
          sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static void child_api(sup_prog_t *p, grove_server_t sup)
{
    int nops = (int)fz_range(&p->in, 0, 8);
    for (int op = 0; op < nops; op++) {
        char *fresh = NULL;
        grove_pid_t pid;
        grove_reason_t why;
        int rc;
        switch (fz_u8(&p->in) % 9) {
        case 0: {
            grove_child_info_t info[MAX_KIDS + 2];
            size_t n = 0;
            size_t max = fz_range(&p->in, 0, MAX_KIDS + 2);
            rc = grove_sup_which_children(sup, max ? info : NULL, max, &n);
            FZ_CHECK(RC_IN(rc, 0, GROVE_ENOPROC), "which_children: %s",
                     grove_errname(rc));
            FZ_CHECK(rc || n <= MAX_KIDS + 1, "%zu children", n);
            for (size_t i = 0; rc == 0 && i < n && i < max; i++)
                FZ_CHECK(memchr(info[i].id, '\0', sizeof info[i].id),
                         "child id not terminated");
            break;
        }
        case 1: {
            grove_child_counts_t k;
            rc = grove_sup_count_children(sup, &k);
            FZ_CHECK(RC_IN(rc, 0, GROVE_ENOPROC), "count_children: %s",
                     grove_errname(rc));
            FZ_CHECK(rc || (k.active <= k.specs &&
                            k.supervisors + k.workers == k.specs),
                     "counts %zu %zu %zu %zu", k.specs, k.active,
                     k.supervisors, k.workers);
            break;
        }
        case 2:
            rc = grove_sup_terminate_child(sup, pick_id(p, &fresh));
            FZ_CHECK(RC_IN(rc, 0, GROVE_ENOTFOUND, GROVE_EINVAL,
                           GROVE_ENOPROC),
                     "terminate_child: %s", grove_errname(rc));
            break;
        case 3:
            rc = grove_sup_restart_child(sup, pick_id(p, &fresh), &pid, &why);
            FZ_CHECK(RC_IN(rc, 0, GROVE_ERUNNING, GROVE_ERESTARTING,
                           GROVE_ENOTFOUND, GROVE_ESTARTFAIL, GROVE_EINVAL,
                           GROVE_ENOPROC),
                     "restart_child: %s", grove_errname(rc));
            break;
        case 4:
            rc = grove_sup_delete_child(sup, pick_id(p, &fresh));
            FZ_CHECK(RC_IN(rc, 0, GROVE_ERUNNING, GROVE_ERESTARTING,
                           GROVE_ENOTFOUND, GROVE_EINVAL, GROVE_ENOPROC),
                     "delete_child: %s", grove_errname(rc));
            break;
        case 5: {
            grove_child_spec_t out;
            char idbuf[ID_MAX];
            const char *id = pick_id(p, &fresh);
            rc = grove_sup_get_childspec(sup, id, &out, idbuf);
            FZ_CHECK(RC_IN(rc, 0, GROVE_ENOTFOUND, GROVE_EINVAL,
                           GROVE_ENOPROC),
                     "get_childspec: %s", grove_errname(rc));
            if (rc == 0)
                FZ_CHECK(out.id == idbuf && strcmp(idbuf, id) == 0,
                         "get_childspec(\"%s\") gave \"%s\"", id, idbuf);
            break;
        }
        case 6: {
            if (p->n > MAX_KIDS)
                break;
            size_t i = p->n;
            make_kid(p, i, false);
            if (p->kids[i].behaviour == KID_CRASH)
                p->kids[i].behaviour = KID_IDLE;
            p->n++;
            bool with_id;
            const char *rule =
                spec_rule(&p->specs[i], &p->flags, &with_id);
            rc = grove_sup_start_child(sup, &p->specs[i], &pid, &why);
            FZ_CHECK(rule == NULL || RC_IN(rc, GROVE_EINVAL, GROVE_ENOPROC),
                     "start_child of a spec breaking %s: %s", rule,
                     grove_errname(rc));
            FZ_CHECK(rule != NULL || rc != GROVE_EINVAL,
                     "start_child of a valid spec: %s", grove_errname(rc));
            FZ_CHECK(RC_IN(rc, 0, GROVE_EALREADYSTARTED, GROVE_EPRESENT,
                           GROVE_EINVAL, GROVE_ESTARTFAIL, GROVE_ENOPROC),
                     "start_child: %s", grove_errname(rc));
            if (rc == GROVE_EINVAL && rule)
                check_why(&why, rule, NULL);
            break;
        }
        case 7: {
            /* Whatever another process may send it: calls, casts and
             * plain messages with its own request tags and arbitrary
             * bytes (never a start request of spec size: that one carries
             * function pointers). */
            uint8_t how = fz_u8(&p->in);
            uint64_t tag = fz_u8(&p->in) % 12;
            const uint8_t *b;
            size_t len = fz_bytes(&p->in, fz_range(&p->in, 0, 100), &b);
            if (how % 3 == 0) {
                grove_msg_t *reply = NULL;
                rc = grove_gs_try_call(sup, tag, len ? b : NULL, len, &reply,
                                       GROVE_INFINITY, &why);
                FZ_CHECK(RC_IN(rc, 0, GROVE_ENOPROC, GROVE_EEXITED),
                         "a call with tag %llu: %s", (unsigned long long)tag,
                         grove_errname(rc));
                grove_msg_free(reply);
            } else if (how % 3 == 1) {
                rc = grove_gs_cast(sup, tag, len ? b : NULL, len);
                FZ_CHECK(rc == 0, "cast: %s", grove_errname(rc));
            } else {
                grove_pid_t sp = GROVE_PID_NONE;
                if (grove_server_whereis(sup, &sp) == 0)
                    grove_send(sp, tag, len ? b : NULL, len);
            }
            break;
        }
        default: {
            grove_sup_stats_t st;
            rc = grove_sup_stats(sup, &st);
            FZ_CHECK(RC_IN(rc, 0, GROVE_ENOPROC), "stats: %s",
                     grove_errname(rc));
            break;
        }
        }
        free(fresh);
    }
}

/* Right after a start with no crashing children: the specs kept (an
 * ignored temporary child is dropped), the ones running, the kinds. */
static void check_counts(const sup_prog_t *p, grove_server_t sup)
{
    grove_child_counts_t want = {0};
    for (size_t i = 0; i < p->n; i++) {
        const grove_child_spec_t *c = &p->specs[i];
        bool custom = c->start || c->start_extra;
        int b = p->kids[i].behaviour;
        if (custom && b == KID_CRASH)
            return; /* it may be exiting or restarting right now */
        bool runs = !custom || b == KID_IDLE;
        if (!runs && c->restart == GROVE_TEMPORARY)
            continue;
        want.specs++;
        want.active += runs;
        if (c->supervisor || c->type == GROVE_SUPERVISOR)
            want.supervisors++;
        else
            want.workers++;
    }
    grove_child_counts_t k;
    int rc = grove_sup_count_children(sup, &k);
    FZ_CHECK(rc == 0, "count_children: %s", grove_errname(rc));
    FZ_CHECK(k.specs == want.specs && k.active == want.active &&
                 k.supervisors == want.supervisors &&
                 k.workers == want.workers,
             "counts specs %zu active %zu supervisors %zu workers %zu, "
             "expected %zu %zu %zu %zu",
             k.specs, k.active, k.supervisors, k.workers, want.specs,
             want.active, want.supervisors, want.workers);
    grove_child_info_t info[MAX_KIDS];
    size_t n = 0;
    rc = grove_sup_which_children(sup, info, MAX_KIDS, &n);
    FZ_CHECK(rc == 0 && n == want.specs, "which_children: %s, %zu",
             grove_errname(rc), n);
    /* Newest first: the reverse of the start order of the kept specs. */
    size_t j = n;
    for (size_t i = 0; i < p->n; i++) {
        const grove_child_spec_t *c = &p->specs[i];
        bool runs = !(c->start || c->start_extra) ||
                    p->kids[i].behaviour == KID_IDLE;
        if (!runs && c->restart == GROVE_TEMPORARY)
            continue;
        j--;
        FZ_CHECK(strcmp(info[j].id, c->id) == 0,
                 "which_children[%zu] is \"%s\", expected \"%s\"", j,
                 info[j].id, c->id);
        FZ_CHECK((info[j].pid.id != 0) == runs &&
                     info[j].state == (runs ? GROVE_CHILD_RUNNING
                                            : GROVE_CHILD_UNDEFINED),
                 "child %s: pid %#llx state %d", c->id,
                 (unsigned long long)info[j].pid.id, info[j].state);
    }
}

static void sup_proc(void *arg)
{
    sup_prog_t *p = arg;
    fz_t *f = &p->in;
    pick_flags(f, &p->flags);
    uint8_t mode = fz_u8(f);
    bool hostile_backoff = mode & 1;
    atomic_store(&p->crashes_left, hostile_backoff ? 1 : (int)(mode >> 1) % 4);
    if (p->flags.max_restarts > (1 << 16) && fz_known("sup_intensity_alloc"))
        p->flags.max_restarts = 1 << 16;
    p->n = fz_range(f, 0, MAX_KIDS);
    for (size_t i = 0; i < p->n; i++)
        make_kid(p, i, hostile_backoff);

    grove_sup_spec_t spec = {.name = NULL,
                             .flags = p->flags,
                             .children = p->n ? p->specs : NULL,
                             .nchildren = p->n};
    char *name = NULL;
    if (fz_bool(f)) {
        name = fz_str(f, 80, NULL);
        spec.name = name;
    }
    const char *rule;
    int want = expected_start(p, &rule);
    grove_pid_t sup = GROVE_PID_NONE;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    int rc = grove_sup_start(&spec, NULL, &sup, &why);
    char text[300];
    grove_reason_format(&why, text, sizeof text);
    FZ_CHECK(rc == want, "grove_sup_start returned %s (%s), expected %s%s%s",
             grove_errname(rc), text, grove_errname(want),
             rule ? " for " : "", rule ? rule : "");
    if (rc == GROVE_EINVAL)
        check_why(&why, rule, NULL);
    if (rc == 0) {
        check_counts(p, grove_server_pid(sup));
        child_api(p, grove_server_pid(sup));
        grove_reason_t end;
        rc = grove_gs_stop(grove_server_pid(sup), NULL, GROVE_INFINITY, &end);
        FZ_CHECK(RC_IN(rc, 0, GROVE_ENOPROC, GROVE_EEXITED),
                 "stopping the supervisor: %s", grove_errname(rc));
    }
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_runtime_start();
    static bool handler;
    if (!handler) {
        handler = true;
        grove_log_add_handler(capture, NULL, GROVE_LOG_DEBUG, NULL);
    }
    fz_t f = {data, size};
    uint8_t sel = fz_u8(&f);
    int checks = sel & 3;
    for (int i = 0; i <= checks; i++)
        fuzz_check(&f);
    if (!(sel & 4))
        return 0;

    grove_stats_t before;
    grove_stats(&before);
    sup_prog_t *p = calloc(1, sizeof *p);
    p->in = f;
    capture_begin();
    fz_run(sup_proc, p);
    fz_quiesce(&before);
    capture_end();
    for (size_t i = 0; i <= MAX_KIDS; i++)
        free(p->ids[i]);
    free(p);
    return 0;
}
