/* The application the soak runs: a small service of gen_servers.
 *
 *  - db (local name): a key/value table; everyone reads and writes it.
 *  - cache (registry name): answers reads, asking db on a miss: a call
 *    made from inside a call.
 *  - clock (local name): ticks every 20 ms with send_after; answers NOW.
 *  - auditor (registry name): every 500 ms asks db and cache for stats.
 *  - migrator (no name, temporary): runs a while, then ends normally.
 *  - workers (registry names): tick with send_after at random intervals,
 *    idle with gen_server timeouts, call db, cache, the clock and a peer,
 *    own file descriptors and buffers as resources, and run the faults
 *    the chaos asks for.
 *  - sessions (registry names, under the DynamicSupervisor) and the
 *    session manager (local name) that starts and stops them without
 *    pause.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "soak.h"

/* An error code for "a message nobody expects". */
#define SOAK_EUNEXPECTED 77

/* ---- shared pieces ------------------------------------------------------ */

typedef struct wstate {
    const wdef_t *def; /* NULL for sessions */
    uint64_t n;        /* session number */
    uint64_t rng;
    uint64_t handled;
} wstate_t;

static wstate_t *new_state(const wdef_t *def, uint64_t n)
{
    wstate_t *st = grove_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->def = def;
    st->n = n;
    st->rng = soak_seed_for(grove_self().id);
    return st;
}

static grove_gs_ret_t stop_error(int code, const char *what)
{
    return GROVE_GS_STOP(grove_reason_error(code, "%s", what));
}

/* How a worker waits for its next message. */
static grove_gs_ret_t idle(wstate_t *st, grove_gs_ret_t r)
{
    unsigned f = st->def ? st->def->flags : W_TIMEOUT;
    if (f & W_TIMEOUT)
        return grove_gs_with_timeout(
            r, 50 + (grove_timeout_t)(soak_rand(&st->rng) % 250));
    if ((f & W_HIBERNATE) && soak_rand(&st->rng) % 4 == 0)
        return grove_gs_with_hibernate(r);
    return r;
}

static void schedule_tick(wstate_t *st)
{
    grove_timeout_t ms = 100 + (grove_timeout_t)(soak_rand(&st->rng) % 900);
    grove_send_after(grove_self(), ms, TAG_TICK, NULL, 0, NULL);
}

static void close_buffer(void *p) { free(p); }

/* Resources a worker owns: released by the runtime however it ends. */
static int own_resources(unsigned flags)
{
    if (flags & W_PIPE) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            return GROVE_ESYSCALL;
        int rc = grove_resource_fd(fds[0], NULL);
        if (rc != 0) {
            close(fds[0]);
            close(fds[1]);
            return rc;
        }
        if ((rc = grove_resource_fd(fds[1], NULL)) != 0) {
            close(fds[1]);
            return rc;
        }
    }
    if (flags & W_BUFFER) {
        void *buf = malloc(256);
        if (!buf)
            return GROVE_ENOMEM;
        int rc = grove_resource_attach(close_buffer, buf, NULL);
        if (rc != 0) {
            free(buf);
            return rc;
        }
    }
    return 0;
}

/* Runs at the worker's exit, whatever ends it (a kill included): the
 * next allocation-failure fault may start. */
static void oom_over(void *unused)
{
    (void)unused;
    atomic_store(&soak_oom_busy, false);
}

/* grove_alloc until an allocation fails, bounded: 1 MiB blocks, touched,
 * up to OOM_CAP; then one request no machine can grant (1 PiB), which
 * must fail. Everything is released by the exit that follows. */
static grove_gs_ret_t run_oom(void)
{
    size_t held = 0;
    bool failed = false;
    if (grove_resource_attach(oom_over, NULL, NULL) != 0)
        oom_over(NULL);
    while (held < OOM_CAP) {
        char *p = grove_alloc(OOM_CHUNK);
        if (!p) {
            failed = true;
            break;
        }
        memset(p, 0xa5, OOM_CHUNK);
        held += OOM_CHUNK;
        if (held % (4 * OOM_CHUNK) == 0)
            grove_yield(); /* be fair to the scheduler's other processes */
    }
    if (!failed)
        failed = grove_alloc((size_t)1 << 50) == NULL;
    if (failed)
        soak_inc(&soak_ctr.oom_null);
    else
        soak_violation("a 1 PiB grove_alloc succeeded");
    unsigned long prev = soak_get(&soak_ctr.oom_max_bytes);
    while (held > prev &&
           !atomic_compare_exchange_weak(&soak_ctr.oom_max_bytes, &prev,
                                         held))
        ;
    char why[80];
    snprintf(why, sizeof why, "allocation failed with %zu MiB held",
             held >> 20);
    return stop_error(GROVE_ENOMEM, why);
}

static grove_gs_ret_t inject(wstate_t *st, const grove_msg_t *m)
{
    int kind = -1;
    if (grove_msg_size(m) == sizeof kind)
        memcpy(&kind, grove_msg_data(m), sizeof kind);
    if (kind < 0 || kind >= F__COUNT)
        return stop_error(SOAK_EUNEXPECTED, "bad fault request");
    soak_inc(&soak_ctr.faults_run[kind]);
    switch (kind) {
    case F_NULL:
        soak_fault_null();
        break;
    case F_STACK:
        soak_fault_stack();
        break;
    case F_ASSERT:
        GROVE_ASSERT(st->handled == 0 && "injected assertion");
        break;
    case F_QUIT:
        return GROVE_GS_STOP(grove_reason_normal());
    case F_OOM:
        return run_oom();
    default:
        break;
    }
    return stop_error(SOAK_EUNEXPECTED, "fault did not happen");
}

/* What every server does with a message it has no case for: an EXIT
 * from a stranger (only trapping servers get one) ends it with that
 * reason; anything else is unexpected and stops it with an error. */
static grove_gs_ret_t unexpected(const grove_msg_t *m)
{
    if (grove_msg_kind(m) == GROVE_MSG_EXIT)
        return GROVE_GS_STOP(*grove_msg_reason(m));
    if (grove_msg_tag(m) == TAG_ROGUE)
        soak_inc(&soak_ctr.faults_run[F_UNEXPECTED]);
    char why[64];
    snprintf(why, sizeof why, "unexpected message tag %llu",
             (unsigned long long)grove_msg_tag(m));
    return stop_error(SOAK_EUNEXPECTED, why);
}

static grove_gs_ret_t reply_u64(uint64_t v)
{
    return GROVE_GS_REPLY(0, &v, sizeof v);
}

static void count_terminate(grove_gs_t *gs, const grove_reason_t *r)
{
    (void)gs;
    (void)r;
    soak_inc(&soak_ctr.terminates);
}

/* ---- workers ------------------------------------------------------------ */

static grove_gs_ret_t worker_init(grove_gs_t *gs, void *arg)
{
    const wdef_t *def = arg;
    wstate_t *st = new_state(def, 0);
    if (!st)
        return stop_error(GROVE_ENOMEM, "no memory for state");
    grove_gs_set_state(gs, st);
    if (own_resources(def->flags) != 0)
        return stop_error(GROVE_ESYSCALL, "no resources");
    schedule_tick(st);
    return idle(st, GROVE_GS_INIT_OK());
}

/* One tick's work. A trapping worker only casts: it must end as soon as
 * its supervisor goes, and a call could hold it up to its timeout while
 * a restarted supervisor already wants its name. */
static void worker_work(wstate_t *st)
{
    const wdef_t *d = st->def;
    kv_t kv = {soak_rand(&st->rng) % DB_SLOTS, st->handled};
    if (d->flags & W_TRAP) {
        grove_gs_cast(grove_server_name(N_DB), TAG_PUT, &kv, sizeof kv);
        return;
    }
    switch (soak_rand(&st->rng) % 8) {
    case 0:
        soak_call(grove_server_name(N_DB), TAG_GET, &kv, sizeof kv, 300);
        break;
    case 1:
        soak_call(grove_server_name(N_DB), TAG_PUT, &kv, sizeof kv, 300);
        break;
    case 2:
        soak_call(soak_via(K_CACHE), TAG_GET, &kv, sizeof kv, 300);
        break;
    case 3:
        soak_call(grove_server_name(N_CLOCK), TAG_NOW, NULL, 0, 300);
        break;
    case 4:
        if (d->peer >= 0)
            soak_call(soak_via(soak_workers[d->peer].key), TAG_PING, NULL,
                      0, 200);
        break;
    case 5:
        grove_gs_cast(grove_server_name(N_DB), TAG_PUT, &kv, sizeof kv);
        break;
    default:
        break;
    }
}

static grove_gs_ret_t worker_call(grove_gs_t *gs, const grove_msg_t *m,
                                  grove_gs_from_t from)
{
    (void)from;
    wstate_t *st = grove_gs_state(gs);
    st->handled++;
    if (grove_msg_tag(m) == TAG_PING)
        return idle(st, reply_u64(st->handled));
    return stop_error(SOAK_EUNEXPECTED, "unexpected call");
}

static grove_gs_ret_t worker_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    wstate_t *st = grove_gs_state(gs);
    st->handled++;
    if (grove_msg_tag(m) == TAG_FAULT)
        return inject(st, m);
    return stop_error(SOAK_EUNEXPECTED, "unexpected cast");
}

static grove_gs_ret_t worker_info(grove_gs_t *gs, const grove_msg_t *m)
{
    wstate_t *st = grove_gs_state(gs);
    st->handled++;
    if (grove_msg_kind(m) == GROVE_MSG_USER) {
        if (grove_msg_tag(m) == TAG_TICK) {
            soak_inc(&soak_ctr.ticks);
            if (st->def)
                worker_work(st);
            else
                soak_call(soak_via(K_CACHE), TAG_GET, &st->n,
                          sizeof st->n, 200);
            schedule_tick(st);
            return idle(st, GROVE_GS_NOREPLY());
        }
        if (grove_msg_tag(m) == GROVE_GS_TIMEOUT_TAG) {
            soak_inc(&soak_ctr.gs_timeouts);
            return GROVE_GS_NOREPLY();
        }
    }
    return unexpected(m);
}

static int worker_status(grove_gs_t *gs, char *buf, size_t size)
{
    const wstate_t *st = grove_gs_state(gs);
    if (!st)
        return snprintf(buf, size, "starting");
    return snprintf(buf, size, "%s, %llu messages",
                    st->def ? st->def->key : "session",
                    (unsigned long long)st->handled);
}

const grove_gs_callbacks_t soak_worker_cb = {
    .name = "soak_worker",
    .init = worker_init,
    .handle_call = worker_call,
    .handle_cast = worker_cast,
    .handle_info = worker_info,
    .terminate = count_terminate,
    .format_status = worker_status,
};

/* ---- sessions ----------------------------------------------------------- */

/* A session: a worker without a static definition, which owns an open
 * descriptor and idles with gen_server timeouts. */
static grove_gs_ret_t session_init(grove_gs_t *gs, void *arg)
{
    wstate_t *st = new_state(NULL, (uint64_t)(uintptr_t)arg);
    if (!st)
        return stop_error(GROVE_ENOMEM, "no memory for state");
    grove_gs_set_state(gs, st);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return stop_error(GROVE_ESYSCALL, "open /dev/null");
    if (grove_resource_fd(fd, NULL) != 0) {
        close(fd);
        return stop_error(GROVE_ENOMEM, "resource");
    }
    schedule_tick(st);
    return idle(st, GROVE_GS_INIT_OK());
}

static const grove_gs_callbacks_t session_cb = {
    .name = "soak_session",
    .init = session_init,
    .handle_call = worker_call,
    .handle_cast = worker_cast,
    .handle_info = worker_info,
    .terminate = count_terminate,
    .format_status = worker_status,
};

int soak_session_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    char key[24];
    snprintf(key, sizeof key, "s/%llu",
             (unsigned long long)(uintptr_t)arg);
    grove_gs_opts_t o = {.link = true,
                         .via = grove_registry_via(soak_reg),
                         .via_key = key,
                         .via_key_len = strlen(key)};
    return grove_gs_start(&session_cb, arg, &o, pid, why);
}

/* ---- db ----------------------------------------------------------------- */

typedef struct db {
    uint64_t v[DB_SLOTS];
    uint64_t ops;
} db_t;

static grove_gs_ret_t db_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    db_t *db = grove_calloc(1, sizeof *db);
    if (!db)
        return stop_error(GROVE_ENOMEM, "no memory for the table");
    grove_gs_set_state(gs, db);
    return GROVE_GS_INIT_OK();
}

static bool read_kv(const grove_msg_t *m, kv_t *kv)
{
    if (grove_msg_size(m) < sizeof kv->key)
        return false;
    memset(kv, 0, sizeof *kv);
    size_t n = grove_msg_size(m) < sizeof *kv ? grove_msg_size(m)
                                              : sizeof *kv;
    memcpy(kv, grove_msg_data(m), n);
    kv->key %= DB_SLOTS;
    return true;
}

static grove_gs_ret_t db_call(grove_gs_t *gs, const grove_msg_t *m,
                              grove_gs_from_t from)
{
    (void)from;
    db_t *db = grove_gs_state(gs);
    kv_t kv;
    db->ops++;
    switch (grove_msg_tag(m)) {
    case TAG_GET:
        if (!read_kv(m, &kv))
            break;
        return reply_u64(db->v[kv.key]);
    case TAG_PUT:
        if (!read_kv(m, &kv))
            break;
        db->v[kv.key] = kv.val;
        return reply_u64(0);
    case TAG_STATS:
        return reply_u64(db->ops);
    default:
        break;
    }
    return stop_error(SOAK_EUNEXPECTED, "bad db request");
}

static grove_gs_ret_t db_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    db_t *db = grove_gs_state(gs);
    kv_t kv;
    if (grove_msg_tag(m) != TAG_PUT || !read_kv(m, &kv))
        return stop_error(SOAK_EUNEXPECTED, "bad db cast");
    db->ops++;
    db->v[kv.key] = kv.val;
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t any_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    return unexpected(m);
}

const grove_gs_callbacks_t soak_db_cb = {
    .name = "soak_db",
    .init = db_init,
    .handle_call = db_call,
    .handle_cast = db_cast,
    .handle_info = any_info,
};

/* ---- cache -------------------------------------------------------------- */

#define CACHE_SLOTS 64

typedef struct cache {
    uint64_t key[CACHE_SLOTS], val[CACHE_SLOTS];
    bool ok[CACHE_SLOTS];
    uint64_t hits, misses;
} cache_t;

static grove_gs_ret_t cache_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    cache_t *c = grove_calloc(1, sizeof *c);
    if (!c)
        return stop_error(GROVE_ENOMEM, "no memory for the cache");
    grove_gs_set_state(gs, c);
    return GROVE_GS_INIT_OK();
}

/* A miss asks db, from inside this call: a nested call between servers
 * in two subtrees' reach (db may be restarting; then the answer is an
 * error tag). */
static grove_gs_ret_t cache_get(cache_t *c, const kv_t *kv)
{
    size_t i = kv->key % CACHE_SLOTS;
    if (c->ok[i] && c->key[i] == kv->key) {
        c->hits++;
        return reply_u64(c->val[i]);
    }
    c->misses++;
    grove_msg_t *r = NULL;
    int rc = grove_gs_try_call(grove_server_name(N_DB), TAG_GET, kv,
                               sizeof *kv, &r, 200, NULL);
    soak_count_call(rc);
    if (rc != 0 || grove_msg_size(r) != sizeof(uint64_t)) {
        grove_msg_free(r);
        return GROVE_GS_REPLY(1, NULL, 0);
    }
    memcpy(&c->val[i], grove_msg_data(r), sizeof(uint64_t));
    grove_msg_free(r);
    c->key[i] = kv->key;
    c->ok[i] = true;
    return reply_u64(c->val[i]);
}

static grove_gs_ret_t cache_call(grove_gs_t *gs, const grove_msg_t *m,
                                 grove_gs_from_t from)
{
    (void)from;
    cache_t *c = grove_gs_state(gs);
    kv_t kv;
    if (grove_msg_tag(m) == TAG_GET && read_kv(m, &kv))
        return cache_get(c, &kv);
    if (grove_msg_tag(m) == TAG_STATS)
        return reply_u64(c->hits + c->misses);
    return stop_error(SOAK_EUNEXPECTED, "bad cache request");
}

const grove_gs_callbacks_t soak_cache_cb = {
    .name = "soak_cache",
    .init = cache_init,
    .handle_call = cache_call,
    .handle_info = any_info,
};

/* ---- clock -------------------------------------------------------------- */

static grove_gs_ret_t clock_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    uint64_t *ticks = grove_calloc(1, sizeof *ticks);
    if (!ticks)
        return stop_error(GROVE_ENOMEM, "no memory");
    grove_gs_set_state(gs, ticks);
    grove_send_after(grove_self(), 20, TAG_TICK, NULL, 0, NULL);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t clock_call(grove_gs_t *gs, const grove_msg_t *m,
                                 grove_gs_from_t from)
{
    (void)from;
    if (grove_msg_tag(m) != TAG_NOW)
        return stop_error(SOAK_EUNEXPECTED, "bad clock request");
    return reply_u64(*(uint64_t *)grove_gs_state(gs));
}

static grove_gs_ret_t clock_info(grove_gs_t *gs, const grove_msg_t *m)
{
    if (grove_msg_kind(m) != GROVE_MSG_USER || grove_msg_tag(m) != TAG_TICK)
        return unexpected(m);
    (*(uint64_t *)grove_gs_state(gs))++;
    grove_send_after(grove_self(), 20, TAG_TICK, NULL, 0, NULL);
    return GROVE_GS_NOREPLY();
}

const grove_gs_callbacks_t soak_clock_cb = {
    .name = "soak_clock",
    .init = clock_init,
    .handle_call = clock_call,
    .handle_info = clock_info,
};

/* ---- auditor ------------------------------------------------------------ */

static grove_gs_ret_t auditor_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    grove_send_after(grove_self(), 500, TAG_TICK, NULL, 0, NULL);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t auditor_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    if (grove_msg_kind(m) != GROVE_MSG_USER || grove_msg_tag(m) != TAG_TICK)
        return unexpected(m);
    soak_call(grove_server_name(N_DB), TAG_STATS, NULL, 0, 300);
    soak_call(soak_via(K_CACHE), TAG_STATS, NULL, 0, 300);
    grove_send_after(grove_self(), 500, TAG_TICK, NULL, 0, NULL);
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t auditor_call(grove_gs_t *gs, const grove_msg_t *m,
                                   grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    if (grove_msg_tag(m) == TAG_PING)
        return reply_u64(1);
    return stop_error(SOAK_EUNEXPECTED, "bad auditor request");
}

const grove_gs_callbacks_t soak_auditor_cb = {
    .name = "soak_auditor",
    .init = auditor_init,
    .handle_call = auditor_call,
    .handle_info = auditor_info,
};

/* ---- migrator ----------------------------------------------------------- */

/* A temporary child: does its one job (here: waits a little), ends
 * normally, and its supervisor forgets it. */
static grove_gs_ret_t migrator_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    uint64_t s = soak_seed_for(grove_self().id);
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(),
                                 300 + (grove_timeout_t)(soak_rand(&s) %
                                                         1200));
}

static grove_gs_ret_t migrator_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    if (grove_msg_kind(m) == GROVE_MSG_USER &&
        grove_msg_tag(m) == GROVE_GS_TIMEOUT_TAG) {
        soak_inc(&soak_ctr.migrations);
        return GROVE_GS_STOP(grove_reason_normal());
    }
    return unexpected(m);
}

const grove_gs_callbacks_t soak_migrator_cb = {
    .name = "soak_migrator",
    .init = migrator_init,
    .handle_info = migrator_info,
};

/* ---- session manager ---------------------------------------------------- */

typedef struct pick {
    uint64_t rng;
    size_t seen;
    grove_pid_t pid;
    uint64_t n;
} pick_t;

static bool is_session(const void *key, size_t len, grove_pid_t pid,
                       uint64_t value, void *arg)
{
    (void)pid;
    (void)value;
    (void)arg;
    return len > 2 && memcmp(key, "s/", 2) == 0;
}

/* Reservoir sampling over the registry's session entries. */
static void pick_one(const void *key, size_t len, grove_pid_t pid,
                     uint64_t value, void *arg)
{
    (void)value;
    pick_t *p = arg;
    if (soak_rand(&p->rng) % ++p->seen != 0)
        return;
    char buf[24];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, key, n);
    buf[n] = '\0';
    p->pid = pid;
    p->n = strtoull(buf + 2, NULL, 10);
}

grove_pid_t soak_random_session(uint64_t *rng, uint64_t *n)
{
    pick_t p = {.rng = soak_rand(rng) | 1};
    grove_registry_select(soak_reg, is_session, pick_one, &p);
    if (n)
        *n = p.n;
    return p.pid;
}

static void mgr_start(void)
{
    uint64_t n = atomic_fetch_add(&soak_session_next, 1);
    grove_child_spec_t spec = {.id = "session",
                               .start = soak_session_start,
                               .arg = (void *)(uintptr_t)n,
                               .restart = (int)(n % 3),
                               .shutdown = 2000};
    grove_pid_t pid;
    grove_reason_t why;
    int rc = grove_dynsup_start_child(grove_server_name(N_SESSIONS), &spec,
                                      &pid, &why);
    soak_inc(rc == 0 ? &soak_ctr.sessions_started
                     : &soak_ctr.sessions_start_failed);
}

/* Ends a session: through the supervisor, or by stopping the server
 * itself (a permanent one then comes back: a reconnect). */
static void mgr_stop(wstate_t *st)
{
    uint64_t n;
    grove_pid_t pid = soak_random_session(&st->rng, &n);
    if (!pid.id)
        return;
    if (soak_rand(&st->rng) % 3 == 0) {
        grove_reason_t normal = grove_reason_normal();
        if (grove_gs_stop(grove_server_pid(pid), &normal, 1000, NULL) == 0)
            soak_inc(n % 3 == GROVE_PERMANENT
                         ? &soak_ctr.sessions_reconnected
                         : &soak_ctr.sessions_stopped);
        return;
    }
    if (grove_dynsup_terminate_child(grove_server_name(N_SESSIONS), pid) ==
        0)
        soak_inc(&soak_ctr.sessions_stopped);
}

static grove_gs_ret_t mgr_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    wstate_t *st = new_state(NULL, 0);
    if (!st)
        return stop_error(GROVE_ENOMEM, "no memory for state");
    grove_gs_set_state(gs, st);
    return grove_gs_with_timeout(GROVE_GS_INIT_OK(), 10);
}

static grove_gs_ret_t mgr_info(grove_gs_t *gs, const grove_msg_t *m)
{
    wstate_t *st = grove_gs_state(gs);
    if (grove_msg_kind(m) != GROVE_MSG_USER ||
        grove_msg_tag(m) != GROVE_GS_TIMEOUT_TAG)
        return unexpected(m);
    if (atomic_load(&soak_paused))
        return grove_gs_with_timeout(GROVE_GS_NOREPLY(), 50);
    grove_child_counts_t c;
    if (grove_dynsup_count_children(grove_server_name(N_SESSIONS), &c) ==
        0) {
        size_t target = (size_t)soak_cfg.sessions;
        bool start = c.specs < target * 9 / 10   ? true
                     : c.specs > target * 11 / 10 ? false
                                                 : soak_rand(&st->rng) & 1;
        if (start)
            mgr_start();
        else
            mgr_stop(st);
    }
    return grove_gs_with_timeout(
        GROVE_GS_NOREPLY(), 5 + (grove_timeout_t)(soak_rand(&st->rng) % 20));
}

/* SYNC answers once any start or stop in progress is over: the caller
 * has set soak_paused, so none follows. */
static grove_gs_ret_t mgr_call(grove_gs_t *gs, const grove_msg_t *m,
                               grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    if (grove_msg_tag(m) == TAG_SYNC)
        return grove_gs_with_timeout(reply_u64(0), 50);
    return stop_error(SOAK_EUNEXPECTED, "bad session manager request");
}

const grove_gs_callbacks_t soak_sessmgr_cb = {
    .name = "soak_sessmgr",
    .init = mgr_init,
    .handle_call = mgr_call,
    .handle_info = mgr_info,
};
