/* Registry entries and their owners' lives: OTP-SEMANTICS.md items R-4,
 * adapted to the C API. Entries go when
 * their owner exits, whatever the reason, before its links and monitors
 * fire, so a DOWN or EXIT for the owner means no lookup finds it any
 * more; a dead holder never blocks a new registration; listeners hear of
 * explicit register and unregister only; dispatch calls its function
 * once with every entry; update_value changes the caller's own entry in
 * a unique registry only. R-16 (partition supervision) has no process to
 * supervise here: instead, one owner's death leaves every other entry,
 * in every partition, alone. */
#include <stdatomic.h>
#include <string.h>

#include "registry_agent.h"

static grove_registry_t *new_reg(int keys, unsigned partitions)
{
    grove_registry_opts_t o;
    memset(&o, 0, sizeof o);
    o.keys = keys;
    o.partitions = partitions;
    grove_registry_t *r = NULL;
    ASSERT_OK(grove_registry_new(&o, &r));
    return r;
}

static size_t lookup(grove_registry_t *r, const void *key, size_t len,
                     grove_reg_entry_t *out, size_t max)
{
    size_t n = 12345;
    ASSERT_OK(grove_registry_lookup(r, key, len, out, max, &n));
    return n;
}

/* ---- entries go with their owner, before anyone hears of it ---- */

enum how {
    H_RETURN,   /* the entry function returns: normal */
    H_ERROR,    /* grove_exit with an error */
    H_SHUTDOWN, /* an exit signal shutdown (it does not trap) */
    H_KILL,     /* an exit signal kill */
    H_ASSERT,   /* a failed GROVE_ASSERT */
    H_LINKED    /* a linked process dies with an error */
};

static void bomb(void *arg)
{
    grove_pid_t victim = {(uint64_t)(uintptr_t)arg};
    grove_link(victim);
    grove_exit_error(66, "took it down");
}

/* What the registries hold right after the owner's death was heard of:
 * nothing of the owner's, everything of the test's. */
static void check_gone(grove_registry_t *u, grove_registry_t *d,
                       grove_pid_t owner)
{
    grove_pid_t w = GROVE_PID_NONE;
    ASSERT_EQ(lookup(u, "own", 3, NULL, 0), 0);
    ASSERT_EQ(lookup(u, "own\0two", 7, NULL, 0), 0);
    ASSERT_ERR(grove_registry_whereis(u, "own", 3, &w), GROVE_ENOTFOUND);
    grove_reg_entry_t e[4];
    ASSERT_EQ(lookup(d, "topic", 5, e, 4), 1);
    ASSERT_PID_EQ(e[0].pid, grove_self());
    ASSERT_EQ(ra_entries_of(u, owner), 0);
    ASSERT_EQ(ra_entries_of(d, owner), 0);
    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(u, owner, ra_collect_key, &ks), 0);
    ASSERT_EQ(grove_registry_keys(d, owner, ra_collect_key, &ks), 0);
    ASSERT_EQ(grove_registry_count(u), 0);
    ASSERT_EQ(grove_registry_count(d), 1);
    ASSERT_EQ(grove_registry_match(d, "topic", 5, NULL, NULL, e, 4), 1);
}

static bool exit_or_down_of(const grove_msg_t *m, void *arg)
{
    int k = grove_msg_kind(m);
    return (k == GROVE_MSG_EXIT || k == GROVE_MSG_DOWN) &&
           grove_pid_equal(grove_msg_from(m), *(grove_pid_t *)arg);
}

static void death_case(int how)
{
    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE, 3);
    grove_pid_t agent = RA_SPAWN();
    RA_REG(agent, u, "own", 3, 1);
    RA_REG(agent, u, "own\0two", 7, 2);
    RA_REG(agent, d, "topic", 5, 3);
    RA_REG(agent, d, "topic", 5, 4);
    ASSERT_OK(grove_registry_register(d, "topic", 5, 5, NULL));
    ASSERT_EQ(grove_registry_count(u), 2);
    ASSERT_EQ(grove_registry_count(d), 3);
    /* Watched twice: a monitor (SPAWN_MON) and a link. */
    ASSERT_GE(grove_trap_exit(true), 0);
    ASSERT_OK(grove_link(agent));

    grove_reason_t sd = grove_reason_shutdown(NULL);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    switch (how) {
    case H_RETURN:
        ra_exit(agent, grove_reason_normal());
        break;
    case H_ERROR:
        ra_exit(agent, grove_reason_error(12, "gave up"));
        break;
    case H_SHUTDOWN:
        ASSERT_OK(grove_exit_signal(agent, &sd));
        break;
    case H_KILL:
        ASSERT_OK(grove_exit_signal(agent, &kill));
        break;
    case H_ASSERT:
        ra_assert_fail(agent);
        break;
    default:
        SPAWN(bomb, (void *)(uintptr_t)agent.id, NULL);
        break;
    }
    /* Whichever of EXIT and DOWN comes first, the entries are gone. */
    int kinds = 0;
    for (int i = 0; i < 2; i++) {
        grove_msg_t *m = NULL;
        ASSERT_OK(grove_recv_match(&m, exit_or_down_of, &agent,
                                   gt_scaled_ms(GT_WAIT_MS)));
        check_gone(u, d, agent);
        kinds |= grove_msg_kind(m) == GROVE_MSG_DOWN ? 1 : 2;
        grove_msg_free(m);
    }
    ASSERT_EQ(kinds, 3);
    ASSERT_FALSE(grove_is_alive(agent));
    grove_pid_t h = GROVE_PID_NONE;
    ASSERT_OK(grove_registry_register(u, "own", 3, 9, &h));
    ASSERT_OK(grove_registry_unregister(u, "own", 3));
    ASSERT_OK(grove_registry_unregister(d, "topic", 5));
    ASSERT_OK(grove_registry_free(u));
    ASSERT_OK(grove_registry_free(d));
}

PROC_TEST(registry_R09_entries_gone_on_return)
{
    death_case(H_RETURN);
}

PROC_TEST(registry_R09_entries_gone_on_error)
{
    death_case(H_ERROR);
}

PROC_TEST(registry_R09_entries_gone_on_shutdown_signal)
{
    death_case(H_SHUTDOWN);
}

PROC_TEST(registry_R09_entries_gone_on_kill)
{
    death_case(H_KILL);
}

PROC_TEST(registry_R09_entries_gone_on_failed_assert)
{
    death_case(H_ASSERT);
}

PROC_TEST(registry_R09_entries_gone_on_linked_death)
{
    death_case(H_LINKED);
}

/* R-9 from another process's point of view: an echo monitoring the
 * owner forwards the DOWN, and by then the entries are gone. */
PROC_TEST(registry_R09_observer_sees_no_entries)
{
    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    for (int round = 0; round < 20; round++) {
        grove_pid_t echo = SPAWN_ECHO(grove_self(), NULL);
        grove_pid_t agent = RA_SPAWN();
        RA_REG(agent, u, "k", 1, (uint64_t)round);
        gt_ack_t ack;
        ASSERT_TRUE(gt_echo_call(echo, GT_TAG_MONITOR, &agent, sizeof agent,
                                 &ack));
        ASSERT_OK(ack.rc);
        ra_exit(agent, round % 2 ? grove_reason_of(GROVE_EXIT_KILL)
                                 : grove_reason_error(1, "bye"));
        gt_fwd_t f = EXPECT_FWD(echo);
        ASSERT_EQ(f.kind, GROVE_MSG_DOWN);
        ASSERT_PID_EQ(f.from, agent);
        ASSERT_EQ(lookup(u, "k", 1, NULL, 0), 0);
        AWAIT_EXIT(agent);
        STOP_ECHO(echo);
    }
    ASSERT_OK(grove_registry_free(u));
}

/* ---- a dead holder never blocks a registration ------------------ */

/* Once the holder is seen dead, registering its key succeeds: it is
 * never refused with GROVE_EEXIST naming the dead holder. Before that,
 * a refusal names the holder. */
PROC_TEST(registry_R04_dead_holder_does_not_block)
{
    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    for (int round = 0; round < 50; round++) {
        grove_pid_t agent = RA_SPAWN();
        RA_REG(agent, u, "seat", 4, 1);
        ASSERT_OK(grove_exit_signal(agent, &kill));
        for (;;) {
            bool dead = !grove_is_alive(agent);
            grove_pid_t h = GROVE_PID_NONE;
            int rc = grove_registry_register(u, "seat", 4, 2, &h);
            if (rc == 0)
                break;
            ASSERT_ERR(rc, GROVE_EEXIST);
            ASSERT_PID_EQ(h, agent);
            if (dead)
                GT_FAIL("round %d: refused by a dead holder", round);
            grove_yield();
        }
        grove_pid_t w;
        ASSERT_OK(grove_registry_whereis(u, "seat", 4, &w));
        ASSERT_PID_EQ(w, grove_self());
        ASSERT_REASON_EQ(AWAIT_EXIT(agent),
                         grove_reason_of(GROVE_EXIT_KILLED));
        ASSERT_OK(grove_registry_unregister(u, "seat", 4));
    }
    ASSERT_OK(grove_registry_free(u));
}

/* ---- listeners --------------------------------------------------- */

static const char *const listeners[3] = {"registry_lst_a", "registry_lst_b",
                                         "registry_lst_absent"};

static void expect_event(uint64_t tag, grove_pid_t pid, uint64_t value,
                         const void *key, size_t len)
{
    grove_msg_t *m = EXPECT_TAG(tag);
    ASSERT_PID_EQ(grove_msg_from(m), pid);
    ASSERT_EQ(grove_msg_size(m), sizeof(grove_reg_event_t) + len);
    grove_reg_event_t ev;
    memcpy(&ev, grove_msg_data(m), sizeof ev);
    ASSERT_PID_EQ(ev.pid, pid);
    if (tag == GROVE_REG_LISTEN_REGISTER)
        ASSERT_EQ(ev.value, value);
    ASSERT_EQ(ev.key_len, len);
    ASSERT_EQ(memcmp((const char *)grove_msg_data(m) + sizeof ev, key, len),
              0);
    grove_msg_free(m);
}

/* every listener hears of each explicit register and unregister,
 * with the pid, value and key bytes; a refused registration and a death
 * tell nobody; a listener name nobody holds is skipped. */
PROC_TEST(registry_R10_listeners)
{
    ASSERT_OK(grove_register("registry_lst_a", grove_self()));
    grove_pid_t echo = SPAWN_ECHO(grove_self(), NULL);
    ASSERT_OK(grove_register("registry_lst_b", echo));
    grove_registry_opts_t o;
    memset(&o, 0, sizeof o);
    o.keys = GROVE_REG_UNIQUE;
    o.listeners = listeners;
    o.nlisteners = 3;
    grove_registry_t *r = NULL;
    ASSERT_OK(grove_registry_new(&o, &r));

    grove_pid_t agent = RA_SPAWN();
    RA_REG(agent, r, "k\0x", 3, 7);
    expect_event(GROVE_REG_LISTEN_REGISTER, agent, 7, "k\0x", 3);
    gt_fwd_t f = EXPECT_FWD(echo);
    ASSERT_EQ(f.tag, GROVE_REG_LISTEN_REGISTER);
    ASSERT_PID_EQ(f.from, agent);

    grove_pid_t h;
    ASSERT_ERR(grove_registry_register(r, "k\0x", 3, 8, &h), GROVE_EEXIST);
    EXPECT_NO_MSG(50);

    ASSERT_OK(RA_CALL(agent, RA_UNREGISTER, r, "k\0x", 3, 0).rc);
    expect_event(GROVE_REG_LISTEN_UNREGISTER, agent, 0, "k\0x", 3);
    f = EXPECT_FWD(echo);
    ASSERT_EQ(f.tag, GROVE_REG_LISTEN_UNREGISTER);
    ASSERT_PID_EQ(f.from, agent);

    RA_REG(agent, r, "", 0, 9);
    expect_event(GROVE_REG_LISTEN_REGISTER, agent, 9, "", 0);
    ASSERT_EQ(EXPECT_FWD(echo).tag, GROVE_REG_LISTEN_REGISTER);
    ra_exit(agent, grove_reason_of(GROVE_EXIT_KILL));
    AWAIT_EXIT(agent);
    EXPECT_NO_MSG(100);
    ASSERT_EQ(grove_registry_count(r), 0);

    STOP_ECHO(echo);
    ASSERT_OK(grove_unregister("registry_lst_a"));
    ASSERT_OK(grove_registry_free(r));
}

/* ---- dispatch ------------------------------------------------------ */

typedef struct dlog {
    grove_registry_t *r;
    int calls;
    size_t n;
    grove_reg_entry_t e[8];
    grove_pid_t ran_in;
    size_t inner_n;
    int inner_rc;
} dlog_t;

static void on_dispatch(const grove_reg_entry_t *e, size_t n, void *arg)
{
    dlog_t *l = arg;
    l->calls++;
    l->n = n;
    memcpy(l->e, e, (n < 8 ? n : 8) * sizeof *e);
    l->ran_in = grove_self();
    /* It runs outside the registry's locks: it may use the registry. */
    grove_registry_lookup(l->r, "topic", 5, NULL, 0, &l->inner_n);
    grove_pid_t h;
    l->inner_rc = grove_registry_register(l->r, "inside", 6, 1, &h);
}

static void count_only(const grove_reg_entry_t *e, size_t n, void *arg)
{
    dlog_t *l = arg;
    (void)e;
    l->calls++;
    l->n = n;
}

/* the function is called once, in the caller, with every entry
 * under the key; never for a key without entries. */
PROC_TEST(registry_R11_dispatch)
{
    grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE, 0);
    grove_pid_t a1 = RA_SPAWN();
    grove_pid_t a2 = RA_SPAWN();
    RA_REG(a1, d, "topic", 5, 1);
    RA_REG(a2, d, "topic", 5, 2);
    ASSERT_OK(grove_registry_register(d, "topic", 5, 3, NULL));
    dlog_t l;
    memset(&l, 0, sizeof l);
    l.r = d;
    ASSERT_OK(grove_registry_dispatch(d, "topic", 5, on_dispatch, &l));
    ASSERT_EQ(l.calls, 1);
    ASSERT_EQ(l.n, 3);
    ASSERT_PID_EQ(l.ran_in, grove_self());
    ASSERT_EQ(l.inner_n, 3);
    ASSERT_OK(l.inner_rc);
    grove_pid_t want[3] = {a1, a2, grove_self()};
    for (int i = 0; i < 3; i++) {
        int hits = 0;
        for (int j = 0; j < 3; j++)
            hits += grove_pid_equal(l.e[j].pid, want[i]) &&
                    l.e[j].value == (uint64_t)i + 1;
        ASSERT_EQ(hits, 1);
    }

    memset(&l, 0, sizeof l);
    ASSERT_OK(grove_registry_dispatch(d, "nobody", 6, count_only, &l));
    ASSERT_EQ(l.calls, 0);
    RA_STOP(a1);
    RA_STOP(a2);
    ASSERT_OK(grove_registry_unregister(d, "topic", 5));
    ASSERT_OK(grove_registry_dispatch(d, "topic", 5, count_only, &l));
    ASSERT_EQ(l.calls, 0);

    /* Many entries still come in one call. */
    for (int i = 0; i < 200; i++)
        ASSERT_OK(grove_registry_register(d, "wide", 4, (uint64_t)i, NULL));
    ASSERT_OK(grove_registry_dispatch(d, "wide", 4, count_only, &l));
    ASSERT_EQ(l.calls, 1);
    ASSERT_EQ(l.n, 200);
    ASSERT_OK(grove_registry_unregister(d, "wide", 4));
    ASSERT_OK(grove_registry_unregister(d, "inside", 6));
    ASSERT_OK(grove_registry_free(d));

    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    ASSERT_OK(grove_registry_register(u, "one", 3, 11, NULL));
    memset(&l, 0, sizeof l);
    ASSERT_OK(grove_registry_dispatch(u, "one", 3, count_only, &l));
    ASSERT_EQ(l.calls, 1);
    ASSERT_EQ(l.n, 1);
    ASSERT_OK(grove_registry_unregister(u, "one", 3));
    ASSERT_OK(grove_registry_free(u));
}

/* ---- update_value ------------------------------------------------- */

/* a unique registry only; only the caller's own entry; the old
 * value comes back. */
PROC_TEST(registry_R12_update_value)
{
    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    grove_reg_entry_t e;
    uint64_t old = 0;
    ASSERT_OK(grove_registry_register(u, "mine", 4, 1, NULL));
    ASSERT_OK(grove_registry_update_value(u, "mine", 4, 2, &old));
    ASSERT_EQ(old, 1);
    ASSERT_EQ(lookup(u, "mine", 4, &e, 1), 1);
    ASSERT_EQ(e.value, 2);

    grove_pid_t agent = RA_SPAWN();
    RA_REG(agent, u, "theirs", 6, 5);
    ASSERT_ERR(grove_registry_update_value(u, "theirs", 6, 9, &old),
               GROVE_ENOTFOUND);
    ASSERT_EQ(lookup(u, "theirs", 6, &e, 1), 1);
    ASSERT_EQ(e.value, 5);
    ASSERT_ERR(RA_CALL(agent, RA_UPDATE, u, "mine", 4, 9).rc,
               GROVE_ENOTFOUND);
    ASSERT_EQ(lookup(u, "mine", 4, &e, 1), 1);
    ASSERT_EQ(e.value, 2);
    ra_result_t res = RA_CALL(agent, RA_UPDATE, u, "theirs", 6, 6);
    ASSERT_OK(res.rc);
    ASSERT_EQ(res.old, 5);
    ASSERT_EQ(lookup(u, "theirs", 6, &e, 1), 1);
    ASSERT_EQ(e.value, 6);
    ASSERT_ERR(grove_registry_update_value(u, "nobody", 6, 1, &old),
               GROVE_ENOTFOUND);
    RA_STOP(agent);
    ASSERT_ERR(grove_registry_update_value(u, "theirs", 6, 1, &old),
               GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_unregister(u, "mine", 4));
    ASSERT_OK(grove_registry_free(u));

    grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE, 0);
    ASSERT_OK(grove_registry_register(d, "dup", 3, 1, NULL));
    ASSERT_ERR(grove_registry_update_value(d, "dup", 3, 2, &old),
               GROVE_ENOTSUP);
    ASSERT_EQ(lookup(d, "dup", 3, &e, 1), 1);
    ASSERT_EQ(e.value, 1);
    ASSERT_OK(grove_registry_unregister(d, "dup", 3));
    ASSERT_OK(grove_registry_free(d));
}

/* ---- R-16, adapted: owners are independent ------------------------------ */

/* With one partition or many, one owner's death takes its own entries
 * and leaves every other owner's alone. */
PROC_TEST(registry_R16_owners_are_independent)
{
    enum { KEYS = 40 };
    unsigned parts[3] = {1, 4, 64};
    for (int p = 0; p < 3; p++) {
        grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, parts[p]);
        grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE, parts[p]);
        grove_pid_t a = RA_SPAWN();
        grove_pid_t b = RA_SPAWN();
        char key[16];
        for (int i = 0; i < KEYS; i++) {
            int n = snprintf(key, sizeof key, "a%d", i);
            RA_REG(a, u, key, (size_t)n, (uint64_t)i);
            n = snprintf(key, sizeof key, "b%d", i);
            RA_REG(b, u, key, (size_t)n, (uint64_t)i);
            n = snprintf(key, sizeof key, "t%d", i % 5);
            RA_REG(a, d, key, (size_t)n, 1);
            RA_REG(b, d, key, (size_t)n, 2);
        }
        ASSERT_EQ(grove_registry_count(u), 2 * KEYS);
        ASSERT_EQ(grove_registry_count(d), 2 * KEYS);
        ra_exit(a, grove_reason_of(GROVE_EXIT_KILL));
        AWAIT_EXIT(a);
        ASSERT_EQ(grove_registry_count(u), KEYS);
        ASSERT_EQ(grove_registry_count(d), KEYS);
        grove_reg_entry_t e[KEYS];
        for (int i = 0; i < KEYS; i++) {
            int n = snprintf(key, sizeof key, "a%d", i);
            ASSERT_EQ(lookup(u, key, (size_t)n, e, 1), 0);
            n = snprintf(key, sizeof key, "b%d", i);
            ASSERT_EQ(lookup(u, key, (size_t)n, e, 1), 1);
            ASSERT_PID_EQ(e[0].pid, b);
            ASSERT_EQ(e[0].value, (uint64_t)i);
        }
        for (int t = 0; t < 5; t++) {
            int n = snprintf(key, sizeof key, "t%d", t);
            size_t got = lookup(d, key, (size_t)n, e, KEYS);
            ASSERT_EQ(got, KEYS / 5);
            for (size_t i = 0; i < got; i++)
                ASSERT_PID_EQ(e[i].pid, b);
        }
        RA_STOP(b);
        ASSERT_EQ(grove_registry_count(u), 0);
        ASSERT_EQ(grove_registry_count(d), 0);
        ASSERT_OK(grove_registry_free(u));
        ASSERT_OK(grove_registry_free(d));
    }
}

/* Freeing a registry drops its entries; owners that exit afterwards do
 * not touch it. */
PROC_TEST(registry_free_with_live_owners)
{
    grove_registry_t *r = new_reg(GROVE_REG_DUPLICATE, 0);
    grove_pid_t agent = RA_SPAWN();
    RA_REG(agent, r, "k", 1, 1);
    ASSERT_OK(grove_registry_register(r, "s", 1, 2, NULL));
    ASSERT_OK(grove_registry_free(r));
    RA_STOP(agent);
    grove_registry_t *r2 = new_reg(GROVE_REG_UNIQUE, 0);
    ASSERT_OK(grove_registry_register(r2, "s", 1, 3, NULL));
    ASSERT_EQ(grove_registry_count(r2), 1);
    ASSERT_OK(grove_registry_unregister(r2, "s", 1));
    ASSERT_OK(grove_registry_free(r2));
}

/* Freeing a registry while its owners are exiting on the other
 * scheduler: the free waits for every exit that took the registry, and
 * the exits that come later find it gone. A use of the freed registry
 * shows under ASan (it did in most runs before the free waited). */
enum { FREE_RACE_OWNERS = 48, FREE_RACE_ROUNDS = 300 };
static grove_registry_t *free_race_reg;
static atomic_int free_race_ready;

static void free_race_owner(void *arg)
{
    char key[16];
    int n = snprintf(key, sizeof key, "k%d", (int)(intptr_t)arg);
    if (grove_registry_register(free_race_reg, key, (size_t)n, 1, NULL) < 0)
        grove_exit_error(1, "register failed");
    atomic_fetch_add(&free_race_ready, 1);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0) /* exits when told */
        grove_msg_free(m);
}

PROC_TEST_OPTS(registry_free_while_its_owners_exit, .schedulers = 2)
{
    for (int round = 0; round < FREE_RACE_ROUNDS; round++) {
        free_race_reg = new_reg(GROVE_REG_UNIQUE, 0);
        atomic_store(&free_race_ready, 0);
        grove_pid_t p[FREE_RACE_OWNERS];
        grove_ref_t ref[FREE_RACE_OWNERS];
        for (int i = 0; i < FREE_RACE_OWNERS; i++) {
            grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref[i]};
            ASSERT_OK(grove_spawn(free_race_owner, (void *)(intptr_t)i, &o,
                                  &p[i]));
        }
        while (atomic_load(&free_race_ready) < FREE_RACE_OWNERS)
            grove_yield();
        ASSERT_EQ(grove_registry_count(free_race_reg), FREE_RACE_OWNERS);
        for (int i = 0; i < FREE_RACE_OWNERS; i++)
            ASSERT_OK(grove_send(p[i], 1, NULL, 0));
        /* The free lands at a different point of the exits each round. */
        for (volatile int spin = 0; spin < (round % 50) * 100; spin++)
            ;
        ASSERT_OK(grove_registry_free(free_race_reg));
        for (int i = 0; i < FREE_RACE_OWNERS; i++) {
            grove_msg_t *m;
            ASSERT_OK(grove_recv_ref(&m, ref[i], gt_scaled_ms(10000)));
            ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
            ASSERT_EQ(grove_msg_reason(m)->kind, GROVE_EXIT_NORMAL);
            grove_msg_free(m);
        }
    }
}
