/* The runtime's u64 hash map (src/base), which holds every process's
 * links, monitors and dictionary keys and every supervisor's children,
 * checked against a plain array model through long random runs of puts,
 * deletes, lookups and deletes made while iterating. Keys are drawn from
 * a small range, so the same slots are filled, emptied and reused over
 * and over (the churn of monitors made and taken down), and from
 * counters, as pids and references are. */
#include <stdlib.h>
#include <string.h>

#include "../../src/base/base.h"
#include "grove_test.h"

enum { RANGE = 512, STEPS = 200000 };

typedef struct model {
    bool in[RANGE + 1];
    uint64_t val[RANGE + 1];
    uint32_t len;
} model_t;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every model key is found with its value, nothing else is found, and
 * iteration yields each live key exactly once. */
static void check_same(const grove__map_t *m, const model_t *md)
{
    static bool seen[RANGE + 1];
    memset(seen, 0, sizeof seen);
    ASSERT_EQ(m->len, md->len);
    for (uint64_t k = 1; k <= RANGE; k++) {
        uint64_t v = 0;
        bool got = grove__map_get(m, k, &v);
        ASSERT_EQ(got, md->in[k]);
        if (got)
            ASSERT_EQ(v, md->val[k]);
    }
    uint64_t k, v;
    uint32_t n = 0;
    for (uint32_t i = 0; grove__map_next(m, &i, &k, &v);) {
        ASSERT_TRUE(k >= 1 && k <= RANGE);
        ASSERT_FALSE(seen[k]);
        seen[k] = true;
        ASSERT_TRUE(md->in[k]);
        ASSERT_EQ(v, md->val[k]);
        n++;
    }
    ASSERT_EQ(n, md->len);
    /* The count of deleted slots, which decides when the table is
     * rebuilt, is the number of slots marked deleted (key ~0). */
    uint32_t tomb = 0;
    for (uint32_t i = 0; i < m->cap; i++)
        tomb += m->slots[i] == UINT64_MAX;
    ASSERT_EQ(tomb, m->tomb);
}

static void run_model(uint64_t seed, uint32_t range)
{
    grove__map_t m = {0};
    static model_t md;
    memset(&md, 0, sizeof md);
    for (uint32_t step = 0; step < STEPS; step++) {
        uint64_t r = rng_next(&seed);
        uint64_t k = 1 + (r >> 8) % range;
        switch (r % 8) {
        case 0: case 1: case 2: { /* put */
            uint64_t v = rng_next(&seed);
            int rc = grove__map_put(&m, k, v);
            ASSERT_EQ(rc, md.in[k] ? 0 : 1);
            if (!md.in[k])
                md.len++;
            md.in[k] = true;
            md.val[k] = v;
            break;
        }
        case 3: case 4: case 5: { /* delete */
            uint64_t v = 0;
            bool got = grove__map_del(&m, k, &v);
            ASSERT_EQ(got, md.in[k]);
            if (got) {
                ASSERT_EQ(v, md.val[k]);
                md.in[k] = false;
                md.len--;
            }
            break;
        }
        case 6: { /* lookup */
            uint64_t v = 0;
            ASSERT_EQ(grove__map_get(&m, k, &v), md.in[k]);
            if (md.in[k])
                ASSERT_EQ(v, md.val[k]);
            break;
        }
        default: /* now and then: a full check, or delete while iterating */
            if (step % 64 == 7) {
                check_same(&m, &md);
            } else if (step % 512 == 31) {
                /* Room made ahead changes nothing that is seen. */
                ASSERT_OK(grove__map_reserve(&m, md.len + (uint32_t)(r % 64)));
                check_same(&m, &md);
            } else if (step % 256 == 15) {
                uint64_t key, v;
                for (uint32_t i = 0; grove__map_next(&m, &i, &key, &v);) {
                    ASSERT_TRUE(md.in[key]);
                    if (key % 3 == r % 3) {
                        ASSERT_TRUE(grove__map_del(&m, key, NULL));
                        md.in[key] = false;
                        md.len--;
                    }
                }
                check_same(&m, &md);
            }
        }
    }
    check_same(&m, &md);
    /* Emptied key by key, it holds nothing and still works. */
    for (uint64_t k = 1; k <= RANGE; k++)
        if (md.in[k]) {
            ASSERT_TRUE(grove__map_del(&m, k, NULL));
            md.in[k] = false;
            md.len--;
        }
    check_same(&m, &md);
    ASSERT_EQ(grove__map_put(&m, 42, 7), 1);
    ASSERT_EQ(m.len, 1u);
    grove__map_free(&m);
}

TEST(map_model_small_range)
{
    run_model(0x9e3779b97f4a7c15ull, 24);
}

TEST(map_model_wide_range)
{
    run_model(0xd1b54a32d192ed03ull, RANGE);
}

/* Keys put in counter order and deleted in the same order, a window of
 * them live at a time (a stopping supervisor's monitors): the map stays
 * the size the window needs, not the size of everything ever put. */
TEST(map_sliding_window_stays_small)
{
    enum { WINDOW = 40, TOTAL = 200000 };
    grove__map_t m = {0};
    for (uint64_t k = 1; k <= TOTAL; k++) {
        ASSERT_EQ(grove__map_put(&m, k, k * 3), 1);
        if (k > WINDOW) {
            uint64_t v = 0;
            ASSERT_TRUE(grove__map_del(&m, k - WINDOW, &v));
            ASSERT_EQ(v, (k - WINDOW) * 3);
        }
        ASSERT_TRUE(m.len <= WINDOW);
    }
    ASSERT_TRUE(m.cap <= 4 * WINDOW);
    for (uint64_t k = TOTAL - WINDOW + 1; k <= TOTAL; k++) {
        uint64_t v = 0;
        ASSERT_TRUE(grove__map_get(&m, k, &v));
        ASSERT_EQ(v, k * 3);
    }
    ASSERT_FALSE(grove__map_get(&m, TOTAL - WINDOW, NULL));
    grove__map_free(&m);
}

/* Room made for n keys holds n keys put afterwards without a rehash (the
 * table stays where it is), keeps what the map held, and a request past
 * what the map can hold fails and changes nothing. */
TEST(map_reserve_holds_n_without_rehash)
{
    enum { N = 1000 };
    grove__map_t m = {0};
    ASSERT_EQ(grove__map_put(&m, 77, 1), 1); /* the inline entry */
    ASSERT_OK(grove__map_reserve(&m, N + 1));
    uint64_t *slots = m.slots;
    uint32_t cap = m.cap;
    ASSERT_TRUE(cap >= 2 * (N + 1));
    uint64_t v = 0;
    ASSERT_TRUE(grove__map_get(&m, 77, &v));
    ASSERT_EQ(v, 1u);
    for (uint64_t k = 1000; k < 1000 + N; k++)
        ASSERT_EQ(grove__map_put(&m, k, k + 5), 1);
    ASSERT_TRUE(m.slots == slots);
    ASSERT_EQ(m.cap, cap);
    ASSERT_EQ(m.len, (uint32_t)N + 1);
    for (uint64_t k = 1000; k < 1000 + N; k++) {
        ASSERT_TRUE(grove__map_get(&m, k, &v));
        ASSERT_EQ(v, k + 5);
    }
    /* Already room: nothing moves. */
    ASSERT_OK(grove__map_reserve(&m, N));
    ASSERT_TRUE(m.slots == slots);
    ASSERT_ERR(grove__map_reserve(&m, UINT32_C(1) << 31), GROVE_ENOMEM);
    ASSERT_TRUE(m.slots == slots);
    ASSERT_EQ(m.len, (uint32_t)N + 1);
    grove__map_free(&m);
}
