/* Deterministic mode: the same seed replays the same interleaving; other
 * seeds explore others. Meaningful only in GROVE_DETERMINISTIC builds. */
#include <string.h>

#include "grove_test.h"

#define RACERS 12
#define ROUNDS 4

static grove_pid_t collector;
static int order[RACERS * ROUNDS];
static int norder;

/* Each racer sends its number a few times, yielding in between; the order
 * the collector sees depends only on scheduling decisions. */
__attribute__((unused)) static void racer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        grove_send(collector, 1, &id, sizeof id);
        grove_yield();
    }
}

__attribute__((unused)) static void collect(void *arg)
{
    (void)arg;
    collector = grove_self();
    for (int i = 0; i < RACERS; i++)
        grove_spawn(racer, (void *)(intptr_t)i, NULL, NULL);
    for (norder = 0; norder < RACERS * ROUNDS; norder++) {
        grove_msg_t *m;
        if (grove_recv(&m, 10000) != 0)
            return;
        memcpy(&order[norder], grove_msg_data(m), sizeof(int));
        grove_msg_free(m);
    }
}

#if defined(GROVE_DETERMINISTIC)
static void run_with_seed(uint64_t seed, int *out)
{
    grove_config_t cfg = {.schedulers = 3, .seed = seed};
    ASSERT_OK(grove_start(&cfg));
    grove_reason_t why;
    ASSERT_OK(grove_run(collect, NULL, &why));
    ASSERT_OK(grove_stop());
    ASSERT_EQ(norder, RACERS * ROUNDS);
    memcpy(out, order, sizeof order);
}
#endif

TEST(deterministic_seed_replays_and_varies)
{
#if !defined(GROVE_DETERMINISTIC)
    SKIP_TEST("needs a GROVE_DETERMINISTIC build");
#else
    int a[RACERS * ROUNDS], b[RACERS * ROUNDS], c[RACERS * ROUNDS];
    run_with_seed(7, a);
    run_with_seed(7, b);
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
    bool varied = false;
    for (uint64_t seed = 8; seed < 16 && !varied; seed++) {
        run_with_seed(seed, c);
        varied = memcmp(a, c, sizeof a) != 0;
    }
    ASSERT_TRUE(varied);
#endif
}
