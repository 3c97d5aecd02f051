/* gen_server start: OTP-SEMANTICS.md items G-1 to G-11 (synchronous
 * start and start_link, every outcome of init, init timeouts, names taken
 * and freed), plus names given through a via module.
 *
 * Where a test must see how a server that failed to start exited, init
 * itself asks a watcher (an echo process) to monitor it before returning,
 * so the monitor exists before the exit whatever start returns; the
 * watcher forwards the DOWN to the test. */
#include <pthread.h>
#include <string.h>

#include "behaviours.h"

enum init_mode { M_OK, M_IGNORE, M_STOP, M_ERROR, M_SLEEP };

typedef struct start_cfg {
    int mode;
    grove_reason_t reason;  /* M_STOP, M_ERROR */
    int sleep_ms;           /* slept in init before returning */
    grove_pid_t watcher;    /* asked to monitor the server from init */
    grove_pid_t parent;     /* the parent init must see */
    int next;               /* modifier on an ok: 0, 1 timeout, 2 hib, 3 cont */
    bool send_self;         /* init sends the server a message first */
} start_cfg_t;

static const uint64_t CONT_MARK = 77;
enum { TAG_SELF = 0x5301, TAG_CAST, TAG_CALL, TAG_INFO };

static grove_gs_ret_t st_init(grove_gs_t *gs, void *arg)
{
    start_cfg_t *cfg = arg;
    gt_ev("init");
    if (!grove_pid_is_none(cfg->parent) &&
        !grove_pid_equal(grove_gs_parent(gs), cfg->parent))
        gt_ev("wrong parent");
    if (!grove_pid_is_none(cfg->watcher)) {
        grove_pid_t self = grove_self();
        gt_ack_t ack;
        if (!gt_echo_call(cfg->watcher, GT_TAG_MONITOR, &self, sizeof self,
                          &ack) ||
            ack.rc != 0)
            gt_ev("watch failed");
    }
    if (cfg->send_self)
        grove_send(grove_self(), TAG_SELF, NULL, 0);
    if (cfg->sleep_ms > 0)
        grove_sleep(cfg->sleep_ms);
    switch (cfg->mode) {
    case M_IGNORE:
        return GROVE_GS_INIT_IGNORE();
    case M_STOP:
        return GROVE_GS_INIT_STOP(cfg->reason);
    case M_ERROR:
        return GROVE_GS_INIT_ERROR(cfg->reason);
    default:
        break;
    }
    grove_gs_ret_t r = GROVE_GS_INIT_OK();
    if (cfg->next == 1)
        r = grove_gs_with_timeout(r, GROVE_INFINITY);
    else if (cfg->next == 2)
        r = grove_gs_with_hibernate(r);
    else if (cfg->next == 3)
        r = grove_gs_with_continue(r, (void *)&CONT_MARK);
    return r;
}

static grove_gs_ret_t st_call(grove_gs_t *gs, const grove_msg_t *req,
                              grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    gt_ev("call");
    return GROVE_GS_REPLY(grove_msg_tag(req), grove_msg_data(req),
                          grove_msg_size(req));
}

static grove_gs_ret_t st_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    (void)gs;
    (void)msg;
    gt_ev("cast");
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t st_info(grove_gs_t *gs, const grove_msg_t *msg)
{
    (void)gs;
    gt_ev(grove_msg_tag(msg) == TAG_SELF ? "info:self" : "info");
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t st_continue(grove_gs_t *gs, void *cont)
{
    (void)gs;
    gt_ev(cont == &CONT_MARK ? "continue" : "continue?");
    return GROVE_GS_NOREPLY();
}

static void st_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    (void)gs;
    (void)reason;
    gt_ev("terminate");
}

static const grove_gs_callbacks_t st_cb = {
    .name = "start_test",
    .init = st_init,
    .handle_call = st_call,
    .handle_cast = st_cast,
    .handle_info = st_info,
    .handle_continue = st_continue,
    .terminate = st_terminate,
};

static int start(start_cfg_t *cfg, const grove_gs_opts_t *o, grove_pid_t *pid,
                 grove_reason_t *why)
{
    *pid = GROVE_PID_NONE;
    memset(why, 0, sizeof *why);
    return grove_gs_start(&st_cb, cfg, o, pid, why);
}

static void stop_ok(grove_pid_t pid)
{
    WATCH(pid);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
}

static size_t links_of(grove_pid_t p)
{
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    return info.links;
}

/* G-1: start returns only after init returned, and makes no link. */
PROC_TEST(gen_server_G01_start_waits_for_init)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK, .sleep_ms = 50,
                        .parent = grove_self()};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, NULL, &pid, &why));
    gt_ev("returned");
    ASSERT_EVENTS("init", "returned");
    ASSERT_TRUE(grove_is_alive(pid));
    ASSERT_EQ(links_of(grove_self()), 0);
    ASSERT_EQ(links_of(pid), 0);
    stop_ok(pid);
}

/* G-1: start_link does the same and links caller and server; the
 * server's parent is the caller. */
PROC_TEST(gen_server_G01_start_link_links)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK, .sleep_ms = 50,
                        .parent = grove_self()};
    grove_gs_opts_t o = {.link = true};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, &o, &pid, &why));
    gt_ev("returned");
    ASSERT_EVENTS("init", "returned");
    ASSERT_EQ(links_of(grove_self()), 1);
    ASSERT_EQ(links_of(pid), 1);
    ASSERT_EQ(grove_trap_exit(true), 0);
    stop_ok(pid);
    ASSERT_REASON_EQ(EXPECT_EXIT(pid), grove_reason_normal());
    EXPECT_NO_MSG(20);
}

/* A start's monitor ends with the acknowledgement on both sides at once:
 * the server drops its side before answering, so the starter neither
 * holds a monitor nor is watched through one, and no demonitor has to
 * travel to (and wake) the new server. Nothing is left in the mailbox. */
PROC_TEST(gen_server_G01_start_leaves_no_monitor)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK, .parent = grove_self()};
    grove_pid_t pid;
    grove_reason_t why;
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(start(&cfg, NULL, &pid, &why));
        grove_process_info_t info;
        ASSERT_OK(grove_process_info(grove_self(), &info));
        ASSERT_EQ(info.monitors, 0);
        ASSERT_EQ(info.mailbox_len, 0);
        ASSERT_OK(grove_process_info(pid, &info));
        ASSERT_EQ(info.monitored_by, 0);
        stop_ok(pid);
    }
    /* A failed start too: its DOWN never reaches the starter. */
    cfg = (start_cfg_t){.mode = M_STOP, .reason = grove_reason_shutdown(NULL)};
    ASSERT_ERR(start(&cfg, NULL, &pid, &why), GROVE_ESTARTFAIL);
    grove_process_info_t info;
    EXPECT_NO_MSG(20);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.monitors, 0);
    ASSERT_EQ(info.mailbox_len, 0);
}

/* G-2: ok with a timeout, hibernate or continue is a successful start. */
PROC_TEST(gen_server_G02_init_ok_with_modifiers)
{
    static start_cfg_t cfg;
    for (int next = 0; next < 4; next++) {
        cfg = (start_cfg_t){.mode = M_OK, .next = next};
        grove_pid_t pid;
        grove_reason_t why;
        ASSERT_OK(start(&cfg, NULL, &pid, &why));
        grove_msg_t *rep = NULL;
        ASSERT_OK(grove_gs_call(grove_server_pid(pid), TAG_CALL, "x", 1,
                                &rep, gt_scaled_ms(GT_WAIT_MS)));
        ASSERT_EQ(grove_msg_size(rep), 1);
        grove_msg_free(rep);
        stop_ok(pid);
    }
}

/* G-3: a continue from init runs before any message, even one the server
 * sent itself in init, and start has returned by then: a cast and a call
 * made at once after start are handled after it. */
PROC_TEST(gen_server_G03_init_continue_before_any_message)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK, .next = 3, .send_self = true};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, NULL, &pid, &why));
    ASSERT_OK(grove_gs_cast(grove_server_pid(pid), TAG_CAST, NULL, 0));
    ASSERT_OK(grove_gs_call(grove_server_pid(pid), TAG_CALL, NULL, 0, NULL,
                            gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EVENTS("init", "continue", "info:self", "cast", "call");
    stop_ok(pid);
}

/* G-4: ignore: start returns GROVE_EIGNORE, the process exits normal
 * without terminate, the name is free when start returns, and a linked
 * trapping caller finds no EXIT (G-11). */
PROC_TEST(gen_server_G04_init_ignore)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_pid_t w = SPAWN_ECHO(grove_self(), NULL);
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_IGNORE, .watcher = w};
    grove_gs_opts_t o = {.link = true, .name = "g04"};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EIGNORE);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("g04", &found), GROVE_ENOTFOUND);
    gt_fwd_t f = EXPECT_FWD(w);
    ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
    ASSERT_REASON_EQ(f.reason, grove_reason_normal());
    EXPECT_NO_MSG(50);
    ASSERT_EVENTS("init");

    /* The name can be taken again at once. */
    cfg = (start_cfg_t){.mode = M_OK};
    ASSERT_OK(start(&cfg, &o, &pid, &why));
    ASSERT_OK(grove_whereis("g04", &found));
    ASSERT_PID_EQ(found, pid);
    stop_ok(pid);
    ASSERT_REASON_EQ(EXPECT_EXIT(pid), grove_reason_normal());
    STOP_ECHO(w);
}

/* G-5: stop from init: GROVE_ESTARTFAIL with the reason, the process
 * exits with it, no terminate, the name is free, and a linked trapping
 * caller finds no EXIT left (G-11). */
PROC_TEST(gen_server_G05_init_stop_trapping_caller)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    grove_pid_t w = SPAWN_ECHO(grove_self(), NULL);
    static start_cfg_t cfg;
    grove_reason_t r = grove_reason_error(5, "init says stop");
    cfg = (start_cfg_t){.mode = M_STOP, .reason = r, .watcher = w};
    grove_gs_opts_t o = {.link = true, .name = "g05"};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, r);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("g05", &found), GROVE_ENOTFOUND);
    gt_fwd_t f = EXPECT_FWD(w);
    ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
    ASSERT_REASON_EQ(f.reason, r);
    EXPECT_NO_MSG(50);
    ASSERT_EVENTS("init");
    STOP_ECHO(w);
}

/* G-5: with start_link, a stop reason other than normal kills a caller
 * that does not trap exits: start never returns to it. */
typedef struct linked_starter {
    start_cfg_t cfg;
    bool link;
} linked_starter_t;

static void starter_main(void *arg)
{
    linked_starter_t *ls = arg;
    grove_gs_opts_t o = {.link = ls->link};
    grove_pid_t pid;
    grove_reason_t why;
    int rc = start(&ls->cfg, &o, &pid, &why);
    gt_ev("returned %s", grove_errname(rc));
}

PROC_TEST(gen_server_G05_init_stop_kills_linked_caller)
{
    static linked_starter_t ls;
    grove_reason_t r = grove_reason_error(5, "init says stop");
    ls = (linked_starter_t){.cfg = {.mode = M_STOP, .reason = r},
                            .link = true};
    grove_pid_t p = SPAWN_MON(starter_main, &ls, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), r);
    ASSERT_EVENTS("init");
}

/* Without a link, or with reason normal, the caller survives. */
PROC_TEST(gen_server_G05_init_stop_spares_caller)
{
    static linked_starter_t ls;
    grove_reason_t r = grove_reason_error(5, "init says stop");
    ls = (linked_starter_t){.cfg = {.mode = M_STOP, .reason = r},
                            .link = false};
    grove_pid_t p = SPAWN_MON(starter_main, &ls, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_EVENTS("init", "returned GROVE_ESTARTFAIL");

    ls = (linked_starter_t){
        .cfg = {.mode = M_STOP, .reason = grove_reason_normal()},
        .link = true};
    p = SPAWN_MON(starter_main, &ls, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_EVENTS("init", "returned GROVE_ESTARTFAIL", "init",
                  "returned GROVE_ESTARTFAIL");
}

/* G-6: error from init: GROVE_ESTARTFAIL with the reason, but the process
 * exits normal, so a linked caller that does not trap survives. */
PROC_TEST(gen_server_G06_init_error_exits_normal)
{
    grove_pid_t w = SPAWN_ECHO(grove_self(), NULL);
    static start_cfg_t cfg;
    grove_reason_t r = grove_reason_error(6, "init error");
    cfg = (start_cfg_t){.mode = M_ERROR, .reason = r, .watcher = w};
    grove_gs_opts_t o = {.link = true, .name = "g06"};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, r);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("g06", &found), GROVE_ENOTFOUND);
    gt_fwd_t f = EXPECT_FWD(w);
    ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
    ASSERT_REASON_EQ(f.reason, grove_reason_normal());
    ASSERT_EVENTS("init");
    /* Still alive (not trapping), nothing in the mailbox. */
    EXPECT_NO_MSG(30);
    STOP_ECHO(w);
}

/* G-9: an init that outlives opts.timeout: the process is killed, start
 * returns GROVE_ETIMEDOUT, the linked caller survives (trapping or not,
 * and a trapping one finds no EXIT), the name is free. */
PROC_TEST(gen_server_G09_init_timeout)
{
    grove_pid_t w = SPAWN_ECHO(grove_self(), NULL);
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK, .sleep_ms = 20000, .watcher = w};
    grove_gs_opts_t o = {.link = true, .name = "g09",
                         .timeout = gt_scaled_ms(300)};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ETIMEDOUT);
    gt_fwd_t f = EXPECT_FWD(w);
    ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
    ASSERT_REASON_EQ(f.reason, grove_reason_of(GROVE_EXIT_KILLED));
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("g09", &found), GROVE_ENOTFOUND);
    ASSERT_EVENTS("init");

    ASSERT_EQ(grove_trap_exit(true), 0);
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ETIMEDOUT);
    f = EXPECT_FWD(w);
    ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
    ASSERT_REASON_EQ(f.reason, grove_reason_of(GROVE_EXIT_KILLED));
    EXPECT_NO_MSG(50);
    ASSERT_EVENTS("init", "init");
    STOP_ECHO(w);
}

/* G-7/G-5: a process that exits inside init (here: grove_exit) fails the
 * start with its reason. */
static grove_gs_ret_t exiting_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    const grove_reason_t *r = arg;
    gt_ev("init");
    grove_exit(r);
}

static const grove_gs_callbacks_t exiting_cb = {.init = exiting_init};

PROC_TEST(gen_server_G07_init_exits)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    static grove_reason_t r;
    r = grove_reason_error(7, "exit in init");
    grove_gs_opts_t o = {.link = true, .name = "g07"};
    grove_pid_t pid;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_start(&exiting_cb, &r, &o, &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, r);
    grove_pid_t found;
    ASSERT_ERR(grove_whereis("g07", &found), GROVE_ENOTFOUND);
    EXPECT_NO_MSG(50);
    ASSERT_EVENTS("init");
}

/* G-10: a name that is taken: GROVE_EALREADYSTARTED with the holder, and
 * the new server's init never runs. */
PROC_TEST(gen_server_G10_name_taken)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK};
    grove_gs_opts_t o = {.name = "g10"};
    grove_pid_t first, pid;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, &o, &first, &why));
    ASSERT_EVENTS("init");
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, first);
    /* {error, {already_started, Pid}}: the reason names the holder. */
    char want[96], holder[GROVE_PID_STR_MAX];
    grove_pid_format(first, holder, sizeof holder);
    snprintf(want, sizeof want, "already_started %s", holder);
    ASSERT_EQ(why.kind, GROVE_EXIT_ERROR);
    ASSERT_EQ(why.code, GROVE_EALREADYSTARTED);
    ASSERT_STREQ(why.text, want);
    o.link = true;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, first);
    ASSERT_EVENTS("init");
    ASSERT_EQ(links_of(grove_self()), 0);

    /* A plain process holding the name counts as well. */
    grove_spawn_opts_t so = {.name = "g10b"};
    grove_pid_t e = SPAWN_ECHO(GROVE_PID_NONE, &so);
    o = (grove_gs_opts_t){.name = "g10b"};
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, e);
    ASSERT_EVENTS("init");
    STOP_ECHO(e);
    stop_ok(first);
}

/* Bad arguments are refused before anything starts. */
PROC_TEST(gen_server_G_start_bad_arguments)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_ERR(grove_gs_start(NULL, &cfg, NULL, &pid, &why), GROVE_EINVAL);
    grove_gs_opts_t o = {.timeout = -5};
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EINVAL);
    ASSERT_EVENTS(NULL);
}

/* ---- via names --------------------------------------------------------- */

/* A trivial name service: a few slots under a mutex. Like a registry
 * that monitors its members, it does not report dead holders. */
#define VIA_SLOTS 8

typedef struct via_reg {
    pthread_mutex_t mu;
    struct {
        char key[32];
        size_t len;
        grove_pid_t pid;
    } slot[VIA_SLOTS];
    int registers, unregisters;
} via_reg_t;

static via_reg_t the_reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int via_find(via_reg_t *r, const void *key, size_t len)
{
    for (int i = 0; i < VIA_SLOTS; i++)
        if (!grove_pid_is_none(r->slot[i].pid) && r->slot[i].len == len &&
            memcmp(r->slot[i].key, key, len) == 0)
            return i;
    return -1;
}

static int via_register(void *reg, const void *key, size_t len,
                        grove_pid_t pid, grove_pid_t *holder)
{
    via_reg_t *r = reg;
    if (len > sizeof r->slot[0].key)
        return GROVE_EINVAL;
    pthread_mutex_lock(&r->mu);
    int i = via_find(r, key, len);
    if (i >= 0 && grove_is_alive(r->slot[i].pid)) {
        if (holder)
            *holder = r->slot[i].pid;
        pthread_mutex_unlock(&r->mu);
        return GROVE_EEXIST;
    }
    if (i < 0)
        for (i = 0; i < VIA_SLOTS; i++)
            if (grove_pid_is_none(r->slot[i].pid))
                break;
    if (i == VIA_SLOTS) {
        pthread_mutex_unlock(&r->mu);
        return GROVE_ENOMEM;
    }
    memcpy(r->slot[i].key, key, len);
    r->slot[i].len = len;
    r->slot[i].pid = pid;
    r->registers++;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void via_unregister(void *reg, const void *key, size_t len,
                           grove_pid_t pid)
{
    via_reg_t *r = reg;
    pthread_mutex_lock(&r->mu);
    int i = via_find(r, key, len);
    if (i >= 0 && grove_pid_equal(r->slot[i].pid, pid)) {
        r->slot[i].pid = GROVE_PID_NONE;
        r->unregisters++;
    }
    pthread_mutex_unlock(&r->mu);
}

static int via_whereis(void *reg, const void *key, size_t len,
                       grove_pid_t *pid)
{
    via_reg_t *r = reg;
    pthread_mutex_lock(&r->mu);
    int i = via_find(r, key, len);
    int rc = GROVE_ENOTFOUND;
    if (i >= 0 && grove_is_alive(r->slot[i].pid)) {
        *pid = r->slot[i].pid;
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static const grove_via_t the_via = {via_register, via_unregister,
                                    via_whereis, &the_reg};

static bool via_holds(const char *key)
{
    pthread_mutex_lock(&the_reg.mu);
    bool held = via_find(&the_reg, key, strlen(key)) >= 0;
    pthread_mutex_unlock(&the_reg.mu);
    return held;
}

PROC_TEST(gen_server_G_via_names)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK};
    grove_gs_opts_t o = {.via = &the_via, .via_key = "k1",
                         .via_key_len = 2};
    grove_pid_t pid, other, found;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, &o, &pid, &why));
    ASSERT_TRUE(via_holds("k1"));
    grove_server_t srv = grove_server_via(&the_via, "k1", 2);
    ASSERT_OK(grove_server_whereis(srv, &found));
    ASSERT_PID_EQ(found, pid);

    /* Calls and casts through the name reach the server. */
    grove_msg_t *rep = NULL;
    ASSERT_OK(grove_gs_call(srv, TAG_CALL, "via", 3, &rep,
                            gt_scaled_ms(GT_WAIT_MS)));
    ASSERT_EQ(grove_msg_size(rep), 3);
    ASSERT_EQ(memcmp(grove_msg_data(rep), "via", 3), 0);
    grove_msg_free(rep);
    ASSERT_OK(grove_gs_cast(srv, TAG_CAST, NULL, 0));
    ASSERT_OK(grove_gs_call(srv, TAG_CALL, NULL, 0, NULL,
                            gt_scaled_ms(GT_WAIT_MS)));

    /* Taken: the holder, and init never runs. */
    ASSERT_ERR(start(&cfg, &o, &other, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(other, pid);
    ASSERT_EVENTS("init", "call", "cast", "call");

    /* Stop through the name; then nothing answers it. */
    WATCH(pid);
    ASSERT_OK(grove_gs_stop(srv, NULL, GROVE_INFINITY, NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
    ASSERT_ERR(grove_server_whereis(srv, &found), GROVE_ENOPROC);
    ASSERT_ERR(grove_gs_try_call(srv, TAG_CALL, NULL, 0, NULL,
                                 GROVE_INFINITY, NULL),
               GROVE_ENOPROC);
    ASSERT_OK(grove_gs_cast(srv, TAG_CAST, NULL, 0));

    /* A start that is ignored gives the name back before it returns. */
    cfg = (start_cfg_t){.mode = M_IGNORE};
    o.via_key = "k2";
    ASSERT_ERR(start(&cfg, &o, &other, &why), GROVE_EIGNORE);
    ASSERT_FALSE(via_holds("k2"));
    cfg = (start_cfg_t){.mode = M_ERROR, .reason = grove_reason_error(1, "x")};
    ASSERT_ERR(start(&cfg, &o, &other, &why), GROVE_ESTARTFAIL);
    ASSERT_FALSE(via_holds("k2"));
}

/* grove_server_whereis for each kind of reference. */
PROC_TEST(gen_server_G_server_whereis)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK};
    grove_gs_opts_t o = {.name = "gwh"};
    grove_pid_t pid, found;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, &o, &pid, &why));
    ASSERT_OK(grove_server_whereis(grove_server_name("gwh"), &found));
    ASSERT_PID_EQ(found, pid);
    ASSERT_OK(grove_server_whereis(grove_server_pid(pid), &found));
    ASSERT_PID_EQ(found, pid);
    ASSERT_ERR(grove_server_whereis(grove_server_name("gwh_none"), &found),
               GROVE_ENOPROC);
    grove_server_t bad = grove_server_pid(pid);
    bad.kind = 9;
    ASSERT_ERR(grove_server_whereis(bad, &found), GROVE_EINVAL);
    ASSERT_ERR(grove_server_whereis(grove_server_name(NULL), &found),
               GROVE_EINVAL);
    stop_ok(pid);
    ASSERT_ERR(grove_server_whereis(grove_server_pid(pid), &found),
               GROVE_ENOPROC);
    ASSERT_ERR(grove_server_whereis(grove_server_name("gwh"), &found),
               GROVE_ENOPROC);
}

/* start_monitor (gen_server:start_monitor): a successful start leaves the
 * caller monitoring the server, under the reference it wrote, and the
 * DOWN carries the server's real exit reason, even when the server dies
 * right after init. No link is made. */
static grove_gs_ret_t exit_after_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    grove_send(grove_self(), TAG_SELF, NULL, 0);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t exit_on_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    (void)m;
    return GROVE_GS_STOP(grove_reason_error(4, "right after init"));
}

PROC_TEST(gen_server_start_monitor_keeps_the_monitor)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK};
    grove_ref_t ref = {12345};
    grove_gs_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_pid_t pid;
    grove_reason_t why;
    ASSERT_OK(start(&cfg, &o, &pid, &why));
    ASSERT_NE(ref.id, 0);
    ASSERT_NE(ref.id, 12345);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.monitors, 1);
    ASSERT_EQ(info.links, 0);
    ASSERT_EQ(info.mailbox_len, 0);
    ASSERT_OK(grove_process_info(pid, &info));
    ASSERT_EQ(info.monitored_by, 1);
    ASSERT_OK(grove_gs_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                            NULL));
    ASSERT_REASON_EQ(EXPECT_DOWN(ref, pid), grove_reason_normal());
    ASSERT_EVENTS("init", "terminate");

    /* A server that stops at once after init: the DOWN has its reason,
     * not noproc, since the monitor existed from the spawn on. */
    static const grove_gs_callbacks_t quick = {
        .init = exit_after_init,
        .handle_info = exit_on_info,
    };
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(grove_gs_start(&quick, NULL, &o, &pid, &why));
        grove_reason_t r = EXPECT_DOWN(ref, pid);
        ASSERT_EQ(r.kind, GROVE_EXIT_ERROR);
        ASSERT_EQ(r.code, 4);
    }
    /* The monitor is an ordinary one: grove_demonitor removes it. */
    ASSERT_OK(start(&cfg, &o, &pid, &why));
    ASSERT_EQ(grove_demonitor(ref, GROVE_DEMONITOR_INFO), 1);
    stop_ok(pid);
    EXPECT_NO_MSG(30);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.monitors, 0);
}

/* start_monitor that fails: no monitor, no DOWN and no EXIT are left
 * behind, and the reference written is none. */
PROC_TEST(gen_server_start_monitor_failures_leave_nothing)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    static start_cfg_t cfg;
    static grove_reason_t r;
    r = grove_reason_error(7, "exit in init");
    grove_ref_t ref;
    grove_gs_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_pid_t pid, first;
    grove_reason_t why;
    grove_process_info_t info;

    cfg = (start_cfg_t){.mode = M_STOP, .reason = grove_reason_shutdown(NULL)};
    ref.id = 1;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ESTARTFAIL);
    ASSERT_EQ(ref.id, 0);
    cfg = (start_cfg_t){.mode = M_ERROR, .reason = r};
    ref.id = 1;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ESTARTFAIL);
    ASSERT_EQ(ref.id, 0);
    cfg = (start_cfg_t){.mode = M_IGNORE};
    ref.id = 1;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EIGNORE);
    ASSERT_EQ(ref.id, 0);
    /* Exiting inside init, with a link as well. */
    o.link = true;
    ref.id = 1;
    ASSERT_ERR(grove_gs_start(&exiting_cb, &r, &o, &pid, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, r);
    ASSERT_EQ(ref.id, 0);
    o.link = false;
    /* init overrunning its time. */
    cfg = (start_cfg_t){.mode = M_OK, .sleep_ms = 20000};
    o.timeout = gt_scaled_ms(200);
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_ETIMEDOUT);
    o.timeout = 0;
    /* A taken name: init never runs and nothing is monitored. */
    cfg = (start_cfg_t){.mode = M_OK};
    grove_gs_opts_t named = {.name = "gsm"};
    ASSERT_OK(start(&cfg, &named, &first, &why));
    o.name = "gsm";
    ref.id = 1;
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(pid, first);
    ASSERT_EQ(ref.id, 0);
    EXPECT_NO_MSG(50);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.monitors, 0);
    ASSERT_EQ(info.mailbox_len, 0);
    stop_ok(first);
    /* monitor without a place for the reference is refused. */
    o = (grove_gs_opts_t){.monitor = true};
    ASSERT_ERR(start(&cfg, &o, &pid, &why), GROVE_EINVAL);
    ASSERT_EVENTS("init", "init", "init", "init", "init", "init",
                  "terminate");
}

/* A child spec's gs_opts asking for a monitor is not the supervisor's
 * business: the child is linked, not monitored. */
PROC_TEST(gen_server_start_monitor_ignored_in_child_spec)
{
    static start_cfg_t cfg;
    cfg = (start_cfg_t){.mode = M_OK};
    static grove_ref_t ref;
    static grove_gs_opts_t o;
    o = (grove_gs_opts_t){.monitor = true, .monitor_ref = &ref};
    grove_child_spec_t child = {.id = "c", .gen_server = &st_cb, .arg = &cfg,
                                .gs_opts = &o};
    grove_sup_spec_t spec = {.flags = {.strategy = GROVE_ONE_FOR_ONE},
                             .children = &child, .nchildren = 1};
    grove_pid_t sup = SUP_START(&spec);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(gt_sup_child_pid(sup, "c"), &info));
    ASSERT_EQ(info.monitored_by, 0);
    ASSERT_EQ(info.links, 1);
    SUP_SHUTDOWN(sup);
    /* It does not trap exits: the shutdown ends it without terminate. */
    ASSERT_EVENTS("init");
}

/* A server's state is fresh whatever ran before it in the same process
 * slot, and its name, short or as long as names go, is its own: servers
 * started and stopped one after another (so slots are reused) alternate
 * between setting a state and leaving it unset, and take names of every
 * length. */
static grove_gs_ret_t fresh_init(grove_gs_t *gs, void *arg)
{
    if (arg != NULL)
        grove_gs_set_state(gs, arg);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t fresh_call(grove_gs_t *gs, const grove_msg_t *req,
                                 grove_gs_from_t from)
{
    (void)req;
    (void)from;
    uint64_t state = (uint64_t)(uintptr_t)grove_gs_state(gs);
    return GROVE_GS_REPLY(TAG_CALL, &state, sizeof state);
}

static const grove_gs_callbacks_t fresh_cb = {
    .init = fresh_init,
    .handle_call = fresh_call,
};

PROC_TEST(gen_server_state_fresh_in_a_reused_slot)
{
    char name[GROVE_NAME_MAX];
    for (unsigned i = 0; i < 2 * (GROVE_NAME_MAX - 1); i++) {
        size_t len = 1 + i % (GROVE_NAME_MAX - 1);
        memset(name, 'a' + (int)(i % 26), len);
        name[len] = '\0';
        bool set = i % 2 == 0;
        grove_gs_opts_t o = {.name = i % 3 ? name : NULL};
        grove_pid_t pid, found;
        grove_reason_t why;
        ASSERT_OK(grove_gs_start(&fresh_cb,
                                 set ? (void *)(uintptr_t)(i + 1) : NULL, &o,
                                 &pid, &why));
        grove_server_t srv = grove_server_pid(pid);
        if (o.name) {
            ASSERT_OK(grove_whereis(name, &found));
            ASSERT_PID_EQ(found, pid);
            srv = grove_server_name(name);
        }
        grove_msg_t *reply;
        ASSERT_OK(grove_gs_call(srv, TAG_CALL, NULL, 0, &reply, 5000));
        uint64_t state;
        memcpy(&state, grove_msg_data(reply), sizeof state);
        grove_msg_free(reply);
        ASSERT_EQ(state, set ? i + 1 : 0);
        stop_ok(pid);
        if (o.name)
            ASSERT_ERR(grove_whereis(name, &found), GROVE_ENOTFOUND);
    }
}
