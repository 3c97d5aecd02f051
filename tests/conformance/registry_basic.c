/* Registry basics: OTP-SEMANTICS.md items
 * and R-14 adapted to the C API (creating, naming and freeing
 * registries; registering the caller only; unique and duplicate keys;
 * lookup; keys as byte strings of any length; unregister; match, count,
 * select and keys; metadata), plus bad input and calls from a thread
 * that is not a process. */
#include <pthread.h>
#include <stdlib.h>
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
    ASSERT_NOT_NULL(r);
    return r;
}

static size_t lookup(grove_registry_t *r, const void *key, size_t len,
                     grove_reg_entry_t *out, size_t max)
{
    size_t n = 12345;
    ASSERT_OK(grove_registry_lookup(r, key, len, out, max, &n));
    return n;
}

/* The value under key in a unique registry, which must hold it for
 * pid. */
static uint64_t value_of(grove_registry_t *r, const void *key, size_t len,
                         grove_pid_t pid)
{
    grove_reg_entry_t e;
    ASSERT_EQ(lookup(r, key, len, &e, 1), 1);
    ASSERT_PID_EQ(e.pid, pid);
    return e.value;
}

/* registries with and without a name; a name is unique among live
 * registries and comes free with grove_registry_free. */
PROC_TEST(registry_R01_new_find_free)
{
    grove_registry_opts_t o;
    memset(&o, 0, sizeof o);
    o.keys = GROVE_REG_UNIQUE;
    o.name = "registry_r01";
    grove_registry_t *r = NULL, *found = NULL, *other = NULL;
    ASSERT_OK(grove_registry_new(&o, &r));
    ASSERT_OK(grove_registry_find("registry_r01", &found));
    ASSERT_TRUE(found == r);
    ASSERT_ERR(grove_registry_new(&o, &other), GROVE_EEXIST);
    o.keys = GROVE_REG_DUPLICATE;
    ASSERT_ERR(grove_registry_new(&o, &other), GROVE_EEXIST);
    ASSERT_ERR(grove_registry_find("registry_r02", &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_free(r));
    ASSERT_ERR(grove_registry_find("registry_r01", &found), GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_new(&o, &r));
    ASSERT_OK(grove_registry_find("registry_r01", &found));
    ASSERT_TRUE(found == r);
    ASSERT_NULL(grove_registry_via(r)); /* a duplicate registry */
    ASSERT_OK(grove_registry_free(r));

    /* No options: an unnamed unique registry. */
    ASSERT_OK(grove_registry_new(NULL, &r));
    ASSERT_NOT_NULL(grove_registry_via(r));
    ASSERT_OK(grove_registry_register(r, "k", 1, 1, NULL));
    grove_pid_t h = GROVE_PID_NONE;
    ASSERT_ERR(grove_registry_register(r, "k", 1, 2, &h), GROVE_EEXIST);
    ASSERT_PID_EQ(h, grove_self());
    ASSERT_OK(grove_registry_unregister(r, "k", 1));
    ASSERT_OK(grove_registry_free(r));

    /* Any number of partitions gives a working registry. */
    unsigned parts[4] = {1, 2, 3, 64};
    for (int i = 0; i < 4; i++) {
        r = new_reg(GROVE_REG_UNIQUE, parts[i]);
        ASSERT_OK(grove_registry_register(r, "p", 1, parts[i], &h));
        ASSERT_EQ(value_of(r, "p", 1, grove_self()), parts[i]);
        ASSERT_OK(grove_registry_unregister(r, "p", 1));
        ASSERT_OK(grove_registry_free(r));
    }

    /* Bad options. */
    memset(&o, 0, sizeof o);
    o.keys = 7;
    ASSERT_ERR(grove_registry_new(&o, &r), GROVE_EINVAL);
    o.keys = -1;
    ASSERT_ERR(grove_registry_new(&o, &r), GROVE_EINVAL);
    o.keys = GROVE_REG_UNIQUE;
    o.nlisteners = 2;
    ASSERT_ERR(grove_registry_new(&o, &r), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_new(NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_free(NULL), GROVE_EINVAL);
}

TEST(registry_R01_needs_a_runtime)
{
    grove_registry_t *r = NULL;
    ASSERT_ERR(grove_registry_new(NULL, &r), GROVE_ENOTSTARTED);
}

/* register stores the caller with its value; there is no way to
 * register another process: the via interface refuses a pid that is not
 * the caller's. */
PROC_TEST(registry_R02_registers_the_caller)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    grove_pid_t h = GROVE_PID_NONE;
    ASSERT_OK(grove_registry_register(r, "me", 2, 41, &h));
    ASSERT_EQ(value_of(r, "me", 2, grove_self()), 41);
    grove_pid_t w = GROVE_PID_NONE;
    ASSERT_OK(grove_registry_whereis(r, "me", 2, &w));
    ASSERT_PID_EQ(w, grove_self());
    ASSERT_EQ(grove_registry_count(r), 1);

    grove_pid_t agent = RA_SPAWN();
    const grove_via_t *via = grove_registry_via(r);
    ASSERT_NOT_NULL(via);
    ASSERT_NE(via->register_name(via->reg, "other", 5, agent, &h), 0);
    ASSERT_EQ(lookup(r, "other", 5, NULL, 0), 0);
    ASSERT_EQ(grove_registry_count(r), 1);

    RA_REG(agent, r, "theirs", 6, 5);
    ASSERT_EQ(value_of(r, "theirs", 6, agent), 5);
    ASSERT_EQ(value_of(r, "me", 2, grove_self()), 41);
    ASSERT_EQ(grove_registry_count(r), 2);
    RA_STOP(agent);
    ASSERT_OK(grove_registry_unregister(r, "me", 2));
    ASSERT_OK(grove_registry_free(r));
}

/* a unique key held by a live process, the caller itself included,
 * cannot be registered again: GROVE_EEXIST with the holder, and nothing
 * changes (no extra entry, value untouched). */
PROC_TEST(registry_R03_unique_already_registered)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    grove_pid_t agent = RA_SPAWN();
    RA_REG(agent, r, "k", 1, 1);
    grove_pid_t h = GROVE_PID_NONE;
    ASSERT_ERR(grove_registry_register(r, "k", 1, 2, &h), GROVE_EEXIST);
    ASSERT_PID_EQ(h, agent);
    ASSERT_EQ(value_of(r, "k", 1, agent), 1);
    ASSERT_EQ(grove_registry_count(r), 1);
    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, grove_self(), ra_collect_key, &ks), 0);

    ASSERT_OK(grove_registry_register(r, "mine", 4, 3, &h));
    h = GROVE_PID_NONE;
    ASSERT_ERR(grove_registry_register(r, "mine", 4, 4, &h), GROVE_EEXIST);
    ASSERT_PID_EQ(h, grove_self());
    ASSERT_EQ(value_of(r, "mine", 4, grove_self()), 3);
    ra_result_t res = RA_CALL(agent, RA_REGISTER, r, "mine", 4, 9);
    ASSERT_ERR(res.rc, GROVE_EEXIST);
    ASSERT_PID_EQ(res.holder, grove_self());
    ASSERT_EQ(grove_registry_count(r), 2);
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, grove_self(), ra_collect_key, &ks), 1);
    ASSERT_EQ(ra_keys_count(&ks, "mine", 4), 1);
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, agent, ra_collect_key, &ks), 1);
    ASSERT_EQ(ra_keys_count(&ks, "k", 1), 1);
    RA_STOP(agent);
    ASSERT_OK(grove_registry_unregister(r, "mine", 4));
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_OK(grove_registry_free(r));
}

/* a duplicate key takes any number of registrations, from the same
 * process too; keys() lists it once per registration. */
PROC_TEST(registry_R05_duplicate_keys)
{
    grove_registry_t *r = new_reg(GROVE_REG_DUPLICATE, 0);
    for (uint64_t v = 1; v <= 3; v++)
        ASSERT_OK(grove_registry_register(r, "topic", 5, v, NULL));
    grove_pid_t agent = RA_SPAWN();
    RA_REG(agent, r, "topic", 5, 10);
    grove_reg_entry_t e[8];
    ASSERT_EQ(lookup(r, "topic", 5, e, 8), 4);
    uint64_t sum = 0;
    int mine = 0;
    for (int i = 0; i < 4; i++) {
        sum += e[i].value;
        if (grove_pid_equal(e[i].pid, grove_self()))
            mine++;
        else
            ASSERT_PID_EQ(e[i].pid, agent);
    }
    ASSERT_EQ(mine, 3);
    ASSERT_EQ(sum, 16);
    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, grove_self(), ra_collect_key, &ks), 3);
    ASSERT_EQ(ra_keys_count(&ks, "topic", 5), 3);
    ASSERT_EQ(grove_registry_count(r), 4);
    RA_STOP(agent);
    ASSERT_EQ(grove_registry_count(r), 3);
    ASSERT_OK(grove_registry_unregister(r, "topic", 5));
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_OK(grove_registry_free(r));
}

/* lookup gives 0 or 1 entry in a unique registry and every entry in
 * a duplicate one; it writes at most max and always gives the total. */
PROC_TEST(registry_R06_lookup)
{
    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE, 0);
    grove_reg_entry_t e[4];
    ASSERT_EQ(lookup(u, "none", 4, e, 4), 0);
    ASSERT_EQ(lookup(d, "none", 4, e, 4), 0);
    grove_pid_t w;
    ASSERT_ERR(grove_registry_whereis(u, "none", 4, &w), GROVE_ENOTFOUND);
    for (uint64_t v = 0; v < 5; v++)
        ASSERT_OK(grove_registry_register(d, "five", 4, v, NULL));
    memset(e, 0xab, sizeof e);
    ASSERT_EQ(lookup(d, "five", 4, e, 2), 5);
    unsigned char untouched[sizeof e[2]];
    memset(untouched, 0xab, sizeof untouched);
    ASSERT_EQ(memcmp(&e[2], untouched, sizeof untouched), 0);
    ASSERT_PID_EQ(e[0].pid, grove_self());
    ASSERT_PID_EQ(e[1].pid, grove_self());
    ASSERT_NE(e[0].value, e[1].value);
    ASSERT_EQ(lookup(d, "five", 4, NULL, 0), 5);
    ASSERT_OK(grove_registry_unregister(d, "five", 4));
    ASSERT_OK(grove_registry_free(u));
    ASSERT_OK(grove_registry_free(d));
}

/* keys are byte strings compared byte for byte: any length, the
 * empty key, embedded NULs, a trailing NUL, a 100 kB key. */
PROC_TEST(registry_R07_keys_are_bytes)
{
    enum { LONG = 100000 };
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    unsigned char *big = malloc(LONG);
    unsigned char *big2 = malloc(LONG);
    ASSERT_NOT_NULL(big);
    ASSERT_NOT_NULL(big2);
    for (size_t i = 0; i < LONG; i++)
        big[i] = (unsigned char)(i * 131 + 7);
    memcpy(big2, big, LONG);
    big2[LONG - 1] ^= 1;
    struct {
        const void *key;
        size_t len;
    } keys[] = {{"1", 1},    {"1\0", 2},      {"\0", 1},   {"x", 0},
                {"a\0b", 3}, {"a\0c", 3},     {big, LONG}, {big2, LONG},
                {big, LONG - 1}};
    int nk = (int)(sizeof keys / sizeof keys[0]);
    grove_pid_t h;
    for (int i = 0; i < nk; i++)
        ASSERT_OK(grove_registry_register(r, keys[i].key, keys[i].len,
                                          (uint64_t)i + 100, &h));
    ASSERT_EQ(grove_registry_count(r), nk);
    for (int i = 0; i < nk; i++)
        ASSERT_EQ(value_of(r, keys[i].key, keys[i].len, grove_self()),
                  (uint64_t)i + 100);
    /* The empty key is the same whatever pointer comes with it. */
    ASSERT_EQ(value_of(r, "y", 0, grove_self()), 103);
    h = GROVE_PID_NONE;
    ASSERT_ERR(grove_registry_register(r, "z", 0, 1, &h), GROVE_EEXIST);
    ASSERT_PID_EQ(h, grove_self());
    ASSERT_EQ(lookup(r, "1\0\0", 3, NULL, 0), 0);
    ASSERT_EQ(lookup(r, "a", 1, NULL, 0), 0);

    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, grove_self(), ra_collect_key, &ks), nk);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(ra_keys_count(&ks, keys[i].key, keys[i].len), 1);
    ASSERT_EQ(ra_keys_count(&ks, big, LONG - 1), 1);

    for (int i = 0; i < nk; i++) {
        ASSERT_OK(grove_registry_unregister(r, keys[i].key, keys[i].len));
        ASSERT_EQ(lookup(r, keys[i].key, keys[i].len, NULL, 0), 0);
        ASSERT_EQ(grove_registry_count(r), nk - 1 - i);
    }
    free(big);
    free(big2);
    ASSERT_OK(grove_registry_free(r));
}

/* the empty key may come as (NULL, 0), as every call accepts: it
 * finds, refuses and removes the same entry as any other empty key. */
PROC_TEST(registry_R07_empty_key_as_null)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    grove_pid_t h = GROVE_PID_NONE;
    ASSERT_OK(grove_registry_register(r, "", 0, 5, &h));
    ASSERT_EQ(value_of(r, NULL, 0, grove_self()), 5);
    grove_pid_t w = GROVE_PID_NONE;
    ASSERT_OK(grove_registry_whereis(r, NULL, 0, &w));
    ASSERT_PID_EQ(w, grove_self());
    ASSERT_ERR(grove_registry_register(r, NULL, 0, 6, &h), GROVE_EEXIST);
    ASSERT_PID_EQ(h, grove_self());
    uint64_t old = 0;
    ASSERT_OK(grove_registry_update_value(r, NULL, 0, 7, &old));
    ASSERT_EQ(old, 5);
    ASSERT_EQ(grove_registry_match(r, NULL, 0, NULL, NULL, NULL, 0), 1);
    ASSERT_OK(grove_registry_unregister(r, NULL, 0));
    ASSERT_EQ(lookup(r, "", 0, NULL, 0), 0);
    ASSERT_OK(grove_registry_register(r, NULL, 0, 8, &h));
    ASSERT_EQ(value_of(r, "", 0, grove_self()), 8);
    ASSERT_OK(grove_registry_unregister(r, "", 0));
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_OK(grove_registry_free(r));
}

/* unregister always succeeds; it removes all of the caller's
 * entries under the key and nobody else's. */
PROC_TEST(registry_R08_unregister)
{
    grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE, 0);
    grove_pid_t agent = RA_SPAWN();
    ASSERT_OK(grove_registry_register(d, "t", 1, 1, NULL));
    ASSERT_OK(grove_registry_register(d, "t", 1, 2, NULL));
    ASSERT_OK(grove_registry_register(d, "u", 1, 3, NULL));
    RA_REG(agent, d, "t", 1, 4);
    ASSERT_OK(grove_registry_unregister(d, "t", 1));
    grove_reg_entry_t e[4];
    ASSERT_EQ(lookup(d, "t", 1, e, 4), 1);
    ASSERT_PID_EQ(e[0].pid, agent);
    ASSERT_EQ(e[0].value, 4);
    ASSERT_EQ(lookup(d, "u", 1, e, 4), 1);
    ASSERT_OK(grove_registry_unregister(d, "t", 1));
    ASSERT_OK(grove_registry_unregister(d, "never", 5));
    ASSERT_OK(grove_registry_unregister(d, NULL, 0));
    ASSERT_EQ(grove_registry_count(d), 2);

    grove_registry_t *u = new_reg(GROVE_REG_UNIQUE, 0);
    ASSERT_OK(grove_registry_register(u, "k", 1, 1, NULL));
    ASSERT_OK(RA_CALL(agent, RA_UNREGISTER, u, "k", 1, 0).rc);
    ASSERT_EQ(value_of(u, "k", 1, grove_self()), 1); /* not the agent's */
    ASSERT_OK(grove_registry_unregister(u, "k", 1));
    grove_pid_t w;
    ASSERT_ERR(grove_registry_whereis(u, "k", 1, &w), GROVE_ENOTFOUND);
    RA_REG(agent, u, "k", 1, 2); /* free to take again */
    ASSERT_OK(grove_registry_unregister(d, "u", 1));
    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(d, grove_self(), ra_collect_key, &ks), 0);
    ASSERT_EQ(grove_registry_keys(u, grove_self(), ra_collect_key, &ks), 0);
    RA_STOP(agent);
    ASSERT_EQ(grove_registry_count(u), 0);
    ASSERT_EQ(grove_registry_count(d), 0);
    ASSERT_OK(grove_registry_free(u));
    ASSERT_OK(grove_registry_free(d));
}

static bool even(uint64_t v, void *arg)
{
    (*(int *)arg)++;
    return v % 2 == 0;
}

typedef struct sel {
    int calls;
    uint64_t sum;
    grove_pid_t pid;
} sel_t;

static bool sel_pid_m(const void *key, size_t len, grove_pid_t pid,
                      uint64_t value, void *arg)
{
    (void)value;
    const sel_t *s = arg;
    return len == 1 && memcmp(key, "m", 1) == 0 &&
           grove_pid_equal(pid, s->pid);
}

static bool sel_big(const void *key, size_t len, grove_pid_t pid,
                    uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)pid;
    (void)arg;
    return value > 4;
}

static void sel_fn(const void *key, size_t len, grove_pid_t pid,
                   uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)pid;
    sel_t *s = arg;
    s->calls++;
    s->sum += value;
}

/* match filters the entries under a key by a predicate on the
 * value; count counts every entry; select visits every entry a
 * predicate on (key, pid, value) accepts; keys lists a pid's keys. */
PROC_TEST(registry_R13_match_count_select_keys)
{
    grove_registry_t *r = new_reg(GROVE_REG_DUPLICATE, 0);
    grove_pid_t agent = RA_SPAWN();
    for (uint64_t v = 1; v <= 5; v++)
        ASSERT_OK(grove_registry_register(r, "m", 1, v, NULL));
    RA_REG(agent, r, "m", 1, 10);
    RA_REG(agent, r, "m", 1, 20);
    ASSERT_OK(grove_registry_register(r, "other", 5, 7, NULL));
    ASSERT_EQ(grove_registry_count(r), 8);

    grove_reg_entry_t out[8];
    int calls = 0;
    ASSERT_EQ(grove_registry_match(r, "m", 1, even, &calls, out, 8), 4);
    ASSERT_EQ(calls, 7);
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(out[i].value % 2, 0);
        sum += out[i].value;
        ASSERT_PID_EQ(out[i].pid,
                      out[i].value >= 10 ? agent : grove_self());
    }
    ASSERT_EQ(sum, 36);
    ASSERT_EQ(grove_registry_match(r, "m", 1, NULL, NULL, out, 8), 7);
    memset(out, 0xab, sizeof out);
    calls = 0;
    ASSERT_EQ(grove_registry_match(r, "m", 1, even, &calls, out, 2), 4);
    unsigned char untouched[sizeof out[2]];
    memset(untouched, 0xab, sizeof untouched);
    ASSERT_EQ(memcmp(&out[2], untouched, sizeof untouched), 0);
    ASSERT_EQ(grove_registry_match(r, "nothing", 7, NULL, NULL, out, 8), 0);
    ASSERT_EQ(grove_registry_match(r, "m", 1, NULL, NULL, NULL, 0), 7);

    sel_t s = {0, 0, agent};
    ASSERT_EQ(grove_registry_select(r, sel_pid_m, sel_fn, &s), 2);
    ASSERT_EQ(s.calls, 2);
    ASSERT_EQ(s.sum, 30);
    s = (sel_t){0, 0, GROVE_PID_NONE};
    ASSERT_EQ(grove_registry_select(r, NULL, sel_fn, &s), 8);
    ASSERT_EQ(s.calls, 8);
    ASSERT_EQ(s.sum, 15 + 30 + 7);
    s = (sel_t){0, 0, GROVE_PID_NONE};
    ASSERT_EQ(grove_registry_select(r, sel_big, sel_fn, &s), 4);
    ASSERT_EQ(s.sum, 5 + 10 + 20 + 7);

    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, agent, ra_collect_key, &ks), 2);
    ASSERT_EQ(ra_keys_count(&ks, "m", 1), 2);
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, grove_self(), ra_collect_key, &ks), 6);
    ASSERT_EQ(ra_keys_count(&ks, "m", 1), 5);
    ASSERT_EQ(ra_keys_count(&ks, "other", 5), 1);
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, GROVE_PID_NONE, ra_collect_key, &ks),
              0);
    ASSERT_EQ(ks.n, 0);

    RA_STOP(agent);
    ASSERT_EQ(grove_registry_count(r), 6);
    ASSERT_EQ(grove_registry_keys(r, agent, ra_collect_key, &ks), 0);
    ASSERT_OK(grove_registry_unregister(r, "m", 1));
    ASSERT_OK(grove_registry_unregister(r, "other", 5));
    ASSERT_OK(grove_registry_free(r));
}

/* metadata: small byte values under string keys; reading copies
 * at most cap bytes and returns the full length. */
PROC_TEST(registry_R14_meta)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    char buf[16];
    ASSERT_ERR(grove_registry_meta(r, "custom", buf, sizeof buf),
               GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_put_meta(r, "custom", "value", 5));
    ASSERT_EQ(grove_registry_meta(r, "custom", buf, sizeof buf), 5);
    ASSERT_EQ(memcmp(buf, "value", 5), 0);
    memset(buf, 'x', sizeof buf);
    ASSERT_EQ(grove_registry_meta(r, "custom", buf, 2), 5);
    ASSERT_EQ(memcmp(buf, "vax", 3), 0);

    ASSERT_OK(grove_registry_put_meta(r, "custom", "\0\1\2", 3));
    ASSERT_EQ(grove_registry_meta(r, "custom", buf, sizeof buf), 3);
    ASSERT_EQ(memcmp(buf, "\0\1\2", 3), 0);
    ASSERT_OK(grove_registry_put_meta(r, "empty", NULL, 0));
    ASSERT_EQ(grove_registry_meta(r, "empty", buf, sizeof buf), 0);
    ASSERT_OK(grove_registry_put_meta(r, "second", "2", 1));

    ASSERT_OK(grove_registry_delete_meta(r, "custom"));
    ASSERT_ERR(grove_registry_meta(r, "custom", buf, sizeof buf),
               GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_delete_meta(r, "custom"));
    ASSERT_EQ(grove_registry_meta(r, "second", buf, sizeof buf), 1);
    ASSERT_EQ(grove_registry_meta(r, "empty", buf, sizeof buf), 0);
    ASSERT_OK(grove_registry_free(r)); /* frees the remaining meta */
}

/* a meta value's length alone, with no buffer (NULL, 0), as the
 * argument check allows. */
PROC_TEST(registry_R14_meta_length_only)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    ASSERT_OK(grove_registry_put_meta(r, "custom", "value", 5));
    ASSERT_EQ(grove_registry_meta(r, "custom", NULL, 0), 5);
    ASSERT_ERR(grove_registry_meta(r, "absent", NULL, 0), GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_free(r));
}

static void never_fn(const void *key, size_t len, void *arg)
{
    (void)key;
    (void)len;
    (*(int *)arg)++;
}

static void never_sel(const void *key, size_t len, grove_pid_t pid,
                      uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)pid;
    (void)value;
    (*(int *)arg)++;
}

static void never_dispatch(const grove_reg_entry_t *e, size_t n, void *arg)
{
    (void)e;
    (void)n;
    (*(int *)arg)++;
}

/* Bad input: a NULL registry, a NULL key with a length, NULL outputs
 * where something must be written, NULL callbacks. */
PROC_TEST(registry_bad_input)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE, 0);
    grove_pid_t h, w;
    grove_reg_entry_t e;
    size_t n;
    uint64_t old;
    char buf[4];
    int calls = 0;

    ASSERT_ERR(grove_registry_register(NULL, "k", 1, 0, &h), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_unregister(NULL, "k", 1), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_lookup(NULL, "k", 1, &e, 1, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_whereis(NULL, "k", 1, &w), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_keys(NULL, grove_self(), never_fn, &calls),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_match(NULL, "k", 1, NULL, NULL, &e, 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_select(NULL, NULL, never_sel, &calls),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_dispatch(NULL, "k", 1, never_dispatch, &calls),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_update_value(NULL, "k", 1, 0, &old),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_put_meta(NULL, "k", "v", 1), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_meta(NULL, "k", buf, sizeof buf),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_delete_meta(NULL, "k"), GROVE_EINVAL);
    ASSERT_EQ(grove_registry_count(NULL), 0);
    ASSERT_NULL(grove_registry_via(NULL));

    ASSERT_ERR(grove_registry_register(r, NULL, 3, 0, &h), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_unregister(r, NULL, 3), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_lookup(r, NULL, 3, &e, 1, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_whereis(r, NULL, 3, &w), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_match(r, NULL, 3, NULL, NULL, &e, 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_dispatch(r, NULL, 3, never_dispatch, &calls),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_update_value(r, NULL, 3, 0, &old),
               GROVE_EINVAL);

    ASSERT_ERR(grove_registry_lookup(r, "k", 1, NULL, 1, &n), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_lookup(r, "k", 1, &e, 1, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_whereis(r, "k", 1, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_match(r, "k", 1, NULL, NULL, NULL, 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_keys(r, grove_self(), NULL, NULL),
               GROVE_EINVAL);
    ASSERT_ERR(grove_registry_select(r, NULL, NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_dispatch(r, "k", 1, NULL, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_put_meta(r, NULL, "v", 1), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_put_meta(r, "k", NULL, 3), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_meta(r, NULL, buf, sizeof buf), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_meta(r, "k", NULL, 3), GROVE_EINVAL);
    ASSERT_ERR(grove_registry_delete_meta(r, NULL), GROVE_EINVAL);
    ASSERT_EQ(calls, 0);
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_OK(grove_registry_free(r));
}

/* From a thread that is not a process: register, unregister (and
 * update_value) need a process; reading works from any thread. */
static grove_registry_t *thread_reg;

static void holder_main(void *arg)
{
    (void)arg;
    grove_pid_t h;
    if (grove_registry_register(thread_reg, "held", 4, 5, &h) != 0)
        grove_exit_error(1, "register failed");
    grove_msg_t *m = NULL;
    grove_recv(&m, GROVE_INFINITY);
    grove_msg_free(m);
}

static void count_dispatch(const grove_reg_entry_t *e, size_t n, void *arg)
{
    (void)e;
    *(size_t *)arg += n;
}

TEST(registry_calls_from_a_plain_thread)
{
    grove_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = 2;
    ASSERT_OK(grove_start(&cfg));
    grove_registry_t *r = NULL;
    ASSERT_OK(grove_registry_new(NULL, &r));
    thread_reg = r;
    grove_pid_t h;
    uint64_t old;
    ASSERT_ERR(grove_registry_register(r, "k", 1, 1, &h), GROVE_ENOTPROC);
    ASSERT_ERR(grove_registry_unregister(r, "k", 1), GROVE_ENOTPROC);
    ASSERT_ERR2(grove_registry_update_value(r, "k", 1, 1, &old),
                GROVE_ENOTPROC, GROVE_ENOTFOUND);
    ASSERT_EQ(grove_registry_count(r), 0);

    grove_pid_t holder = GROVE_PID_NONE;
    ASSERT_OK(grove_spawn(holder_main, NULL, NULL, &holder));
    WAIT_UNTIL(grove_registry_count(r) == 1);
    grove_reg_entry_t e;
    size_t n = 0;
    ASSERT_OK(grove_registry_lookup(r, "held", 4, &e, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT_PID_EQ(e.pid, holder);
    ASSERT_EQ(e.value, 5);
    grove_pid_t w;
    ASSERT_OK(grove_registry_whereis(r, "held", 4, &w));
    ASSERT_PID_EQ(w, holder);
    ASSERT_EQ(grove_registry_match(r, "held", 4, NULL, NULL, &e, 1), 1);
    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, holder, ra_collect_key, &ks), 1);
    ASSERT_EQ(ra_keys_count(&ks, "held", 4), 1);
    ASSERT_EQ(ra_entries_of(r, holder), 1);
    size_t seen = 0;
    ASSERT_OK(grove_registry_dispatch(r, "held", 4, count_dispatch, &seen));
    ASSERT_EQ(seen, 1);
    ASSERT_ERR2(grove_registry_update_value(r, "held", 4, 1, &old),
                GROVE_ENOTPROC, GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_lookup(r, "held", 4, &e, 1, &n));
    ASSERT_EQ(e.value, 5);

    /* The message goes out once this thread is already waiting. */
    ASSERT_OK(grove_send_after(holder, 200, 1, NULL, 0, NULL));
    grove_reason_t why;
    ASSERT_OK(grove_wait(holder, gt_scaled_ms(GT_WAIT_MS), &why));
    ASSERT_REASON_EQ(why, grove_reason_normal());
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_ERR(grove_registry_whereis(r, "held", 4, &w), GROVE_ENOTFOUND);
    ASSERT_OK(grove_registry_free(r));
    ASSERT_OK(grove_stop());
}

/* keys, match and select run their callbacks outside the registry's
 * locks, on copies, as dispatch does: a callback may call into the same
 * registry, even on the entry it is shown, or block while other
 * processes on its scheduler register. Under a held spin lock each of
 * these hung the scheduler. */
static grove_registry_t *cb_reg;

static void cb_unregister_key(const void *key, size_t len, void *arg)
{
    (void)arg;
    ASSERT_OK(grove_registry_unregister(cb_reg, key, len));
}

static bool cb_pred_looks_up(uint64_t value, void *arg)
{
    (void)arg;
    grove_reg_entry_t e;
    size_t n = 0;
    ASSERT_OK(grove_registry_lookup(cb_reg, "a", 1, &e, 1, &n));
    return value == 2 && n == 1;
}

static void cb_unregister_and_sleep(const void *key, size_t len,
                                    grove_pid_t pid, uint64_t value,
                                    void *arg)
{
    (void)pid;
    (void)arg;
    ASSERT_OK(grove_registry_unregister(cb_reg, key, len));
    if (value) /* one of the test's own: the registrar's are 0 */
        ASSERT_OK(grove_sleep(5));
}

static void cb_registrar(void *arg)
{
    (void)arg;
    char key[16];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(key, sizeof key, "o%d", i);
        if (grove_registry_register(cb_reg, key, (size_t)n, 0, NULL) < 0)
            grove_exit_error(1, "register failed");
    }
    grove_msg_t *m; /* holds its keys until told */
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

PROC_TEST_OPTS(registry_callbacks_may_call_back_and_block, .schedulers = 1)
{
    cb_reg = new_reg(GROVE_REG_UNIQUE, 1);
    const char *keys[3] = {"a", "b", "c"};
    for (uint64_t i = 0; i < 3; i++)
        ASSERT_OK(grove_registry_register(cb_reg, keys[i], 1, i + 1, NULL));
    ASSERT_EQ(grove_registry_keys(cb_reg, grove_self(), cb_unregister_key,
                                  NULL),
              3);
    ASSERT_EQ(grove_registry_count(cb_reg), 0);
    for (uint64_t i = 0; i < 3; i++)
        ASSERT_OK(grove_registry_register(cb_reg, keys[i], 1, i + 1, NULL));
    grove_reg_entry_t e[2];
    ASSERT_EQ(grove_registry_match(cb_reg, "b", 1, cb_pred_looks_up, NULL,
                                   e, 2),
              1);
    ASSERT_EQ(e[0].value, 2);
    /* The registrar runs on this scheduler while select's callback
     * sleeps, and its keys land in the stripes select is walking. */
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_pid_t registrar;
    ASSERT_OK(grove_spawn(cb_registrar, NULL, &o, &registrar));
    int n = grove_registry_select(cb_reg, NULL, cb_unregister_and_sleep,
                                  NULL);
    ASSERT_TRUE(n >= 3); /* and whichever of the registrar's it saw, which
                            its unregister leaves alone */
    WAIT_UNTIL(grove_registry_count(cb_reg) == 200);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(grove_registry_whereis(cb_reg, keys[i], 1,
                                         &(grove_pid_t){0}),
                  GROVE_ENOTFOUND);
    ASSERT_OK(grove_send(registrar, 1, NULL, 0));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, ref, gt_scaled_ms(10000)));
    ASSERT_EQ(grove_msg_reason(m)->kind, GROVE_EXIT_NORMAL);
    grove_msg_free(m);
    ASSERT_EQ(grove_registry_count(cb_reg), 0);
    ASSERT_OK(grove_registry_free(cb_reg));
}
