/* The Registry's lock-free lookups under churn: lookers on every
 * scheduler read while owners register, unregister, die and have their
 * entries reused, and while stripes grow. Every entry's value is its
 * owner's pid, so a lookup that mixed two entries (a pid from one, a value
 * from another) fails; keys that a steady holder owns must be found by
 * every lookup, whatever is relinked around them; a dead owner's keys are
 * never returned once its DOWN has come. Keys both short (kept in the
 * entry) and long (the locked path). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

#if defined(GROVE_TSAN)
enum { CHURNERS = 16, CHURN_TOTAL = 300, CHURN_OPS = 60 };
#elif defined(GROVE_ASAN)
enum { CHURNERS = 32, CHURN_TOTAL = 1500, CHURN_OPS = 150 };
#else
enum { CHURNERS = 64, CHURN_TOTAL = 6000, CHURN_OPS = 300 };
#endif
enum { STEADY = 64, HOT = 16, LOOKERS = 4 };

static grove_registry_t *ureg, *dreg;
static atomic_int looking, holding;
static atomic_int steady_ready;

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Short keys fit in an entry; "long" ones are past its 24 bytes. */
static int key_of(char *buf, size_t size, const char *kind, unsigned i,
                  bool longer)
{
    return snprintf(buf, size, longer ? "%s-%u-a-key-longer-than-an-entry"
                                      : "%s-%u",
                    kind, i);
}

static void check_entries(const grove_reg_entry_t *e, size_t k, size_t max)
{
    for (size_t i = 0; i < k && i < max; i++)
        if (e[i].value != e[i].pid.id)
            GT_FAIL("lookup mixed two entries: pid %llx, value %llx",
                    (unsigned long long)e[i].pid.id,
                    (unsigned long long)e[i].value);
}

/* Holds its steady keys (and a fresh batch that makes stripes grow and
 * shrink back) until told to stop. */
static void steady_main(void *arg)
{
    (void)arg;
    grove_pid_t self = grove_self(), h;
    char key[64];
    for (unsigned i = 0; i < STEADY; i++) {
        int n = key_of(key, sizeof key, "steady", i, i % 4 == 0);
        ASSERT_OK(grove_registry_register(ureg, key, (size_t)n, self.id, &h));
        ASSERT_OK(grove_registry_register(dreg, key, (size_t)n, self.id, &h));
    }
    atomic_store(&steady_ready, 1);
    for (unsigned round = 0; atomic_load(&holding); round++) {
        /* Many keys at once: the stripes grow while lookers walk them. */
        for (unsigned i = 0; i < 512; i++) {
            int n = key_of(key, sizeof key, "bulk", round * 512 + i, false);
            ASSERT_OK(grove_registry_register(ureg, key, (size_t)n, self.id,
                                              &h));
        }
        for (unsigned i = 0; i < 512; i++) {
            int n = key_of(key, sizeof key, "bulk", round * 512 + i, false);
            ASSERT_OK(grove_registry_unregister(ureg, key, (size_t)n));
        }
        grove_yield();
    }
}

static void looker_main(void *arg)
{
    uint32_t s = (uint32_t)(uintptr_t)arg * 977u + 3;
    grove_reg_entry_t e[8];
    char key[64];
    size_t k;
    while (atomic_load(&looking)) {
        unsigned r = next_rand(&s);
        unsigned i = r % STEADY;
        int n = key_of(key, sizeof key, "steady", i, i % 4 == 0);
        ASSERT_OK(grove_registry_lookup(ureg, key, (size_t)n, e, 8, &k));
        ASSERT_EQ(k, 1);
        check_entries(e, k, 8);
        ASSERT_OK(grove_registry_lookup(dreg, key, (size_t)n, e, 8, &k));
        ASSERT_EQ(k, 1);
        check_entries(e, k, 8);
        n = key_of(key, sizeof key, "hot", r % HOT, r & 1);
        ASSERT_OK(grove_registry_lookup(ureg, key, (size_t)n, e, 8, &k));
        ASSERT_LE(k, 1);
        check_entries(e, k, 8);
        ASSERT_OK(grove_registry_lookup(dreg, key, (size_t)n, e, 8, &k));
        check_entries(e, k, 8);
        if (r % 16 == 0)
            grove_yield();
    }
}

/* Takes and drops hot keys, in both registries, then ends one of four
 * ways. */
static void churner_main(void *arg)
{
    uint32_t s = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    grove_pid_t self = grove_self(), h;
    char key[64];
    for (int it = 0; it < CHURN_OPS; it++) {
        unsigned r = next_rand(&s);
        int n = key_of(key, sizeof key, "hot", r % HOT, (r >> 4) & 1);
        switch ((r >> 8) % 4) {
        case 0: {
            int rc = grove_registry_register(ureg, key, (size_t)n, self.id,
                                             &h);
            if (rc != 0 && rc != GROVE_EEXIST)
                GT_FAIL("register: %s", grove_errname(rc));
            break;
        }
        case 1:
            ASSERT_OK(grove_registry_register(dreg, key, (size_t)n, self.id,
                                              &h));
            break;
        case 2:
            ASSERT_OK(grove_registry_unregister(ureg, key, (size_t)n));
            ASSERT_OK(grove_registry_unregister(dreg, key, (size_t)n));
            break;
        default:
            grove_yield();
        }
    }
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    switch (next_rand(&s) % 3) {
    case 0:
        return;
    case 1:
        grove_exit_error(3, "churner gives up");
    default:
        grove_exit_signal(self, &kill);
        grove_yield();
        GT_FAIL("survived its own kill");
    }
}

/* Once its DOWN is here, no lookup returns the churner. */
static void check_gone(grove_pid_t p)
{
    grove_reg_entry_t e[64];
    char key[64];
    size_t k;
    for (unsigned i = 0; i < HOT; i++)
        for (int longer = 0; longer < 2; longer++) {
            int n = key_of(key, sizeof key, "hot", i, longer);
            ASSERT_OK(grove_registry_lookup(ureg, key, (size_t)n, e, 64, &k));
            for (size_t j = 0; j < k && j < 64; j++)
                ASSERT_NE(e[j].pid.id, p.id);
            ASSERT_OK(grove_registry_lookup(dreg, key, (size_t)n, e, 64, &k));
            for (size_t j = 0; j < k && j < 64; j++)
                ASSERT_NE(e[j].pid.id, p.id);
        }
    ASSERT_EQ(grove_registry_select(ureg, gt_reg_pid_is, gt_reg_ignore_entry, &p), 0);
    ASSERT_EQ(grove_registry_select(dreg, gt_reg_pid_is, gt_reg_ignore_entry, &p), 0);
}

static void run(void)
{
    grove_registry_opts_t ro;
    memset(&ro, 0, sizeof ro);
    ro.keys = GROVE_REG_UNIQUE;
    ASSERT_OK(grove_registry_new(&ro, &ureg));
    ro.keys = GROVE_REG_DUPLICATE;
    ASSERT_OK(grove_registry_new(&ro, &dreg));
    atomic_store(&looking, 1);
    atomic_store(&holding, 1);
    atomic_store(&steady_ready, 0);
    grove_pid_t steady = SPAWN_MON(steady_main, NULL, NULL);
    WAIT_UNTIL(atomic_load(&steady_ready));
    grove_pid_t lookers[LOOKERS];
    for (int i = 0; i < LOOKERS; i++)
        lookers[i] = SPAWN_MON(looker_main, (void *)(uintptr_t)i, NULL);

    grove_pid_t pids[CHURNERS];
    grove_ref_t refs[CHURNERS];
    int spawned = 0, live = 0;
    for (; spawned < CHURNERS; spawned++, live++) {
        grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[spawned],
                                .stack_size = 32 * 1024};
        pids[spawned] = SPAWN(churner_main, (void *)(uintptr_t)spawned, &o);
    }
    while (live > 0) {
        grove_msg_t *m = NULL;
        ASSERT_OK(grove_recv(&m, gt_scaled_ms(60000)));
        ASSERT_EQ(grove_msg_kind(m), GROVE_MSG_DOWN);
        int i = 0;
        while (i < CHURNERS && refs[i].id != grove_msg_ref(m).id)
            i++;
        ASSERT_LT(i, CHURNERS);
        grove_msg_free(m);
        check_gone(pids[i]);
        live--;
        if (spawned < CHURN_TOTAL) {
            grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &refs[i],
                                    .stack_size = 32 * 1024};
            pids[i] = SPAWN(churner_main, (void *)(uintptr_t)spawned++, &o);
            live++;
        }
    }
    atomic_store(&looking, 0);
    for (int i = 0; i < LOOKERS; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(lookers[i]), grove_reason_normal());
    atomic_store(&holding, 0); /* only once no looker expects its keys */
    ASSERT_REASON_EQ(AWAIT_EXIT(steady), grove_reason_normal());
    ASSERT_EQ(grove_registry_count(ureg), 0);
    ASSERT_EQ(grove_registry_count(dreg), 0);
    ASSERT_OK(grove_registry_free(ureg));
    ASSERT_OK(grove_registry_free(dreg));
}

PROC_TEST_OPTS(registry_stress_lookups_during_churn, .stack_trim_ms = -1,
               .timeout_s = 180)
{
    run();
}

PROC_TEST_OPTS(registry_stress_lookups_during_churn_4_schedulers,
               .schedulers = 4, .stack_trim_ms = -1, .timeout_s = 180)
{
    run();
}
