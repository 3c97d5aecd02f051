/* The process dictionary (Erlang's put, get, erase, get_keys, erase/0):
 * values private to each process, replaced on put, listed in insertion
 * order, counted by process info and freed when the process exits. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

static const char *get_str(const char *key)
{
    return grove_dict_get(key, NULL);
}

static void collect(const char *key, const void *value, size_t size,
                    void *arg)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s=%.*s;", key, (int)size,
             (const char *)value);
}

PROC_TEST(dict_put_get_replace_erase)
{
    size_t size = 99;
    ASSERT_TRUE(grove_dict_get("missing", &size) == NULL);
    ASSERT_EQ(size, 0);
    ASSERT_OK(grove_dict_put("a", "one", 4));
    ASSERT_OK(grove_dict_put("b", "two", 4));
    ASSERT_STREQ(get_str("a"), "one");
    const void *v = grove_dict_get("b", &size);
    ASSERT_EQ(size, 4);
    ASSERT_EQ((uintptr_t)v % 16, 0);
    ASSERT_STREQ(v, "two");
    /* A put replaces the value (and its size). */
    ASSERT_OK(grove_dict_put("a", "uno!", 5));
    ASSERT_STREQ(grove_dict_get("a", &size), "uno!");
    ASSERT_EQ(size, 5);
    /* An empty value is a present one. */
    ASSERT_OK(grove_dict_put("empty", NULL, 0));
    ASSERT_TRUE(grove_dict_get("empty", &size) != NULL);
    ASSERT_EQ(size, 0);
    ASSERT_EQ(grove_dict_keys(NULL, NULL), 3);
    ASSERT_OK(grove_dict_erase("a"));
    ASSERT_TRUE(grove_dict_get("a", NULL) == NULL);
    ASSERT_ERR(grove_dict_erase("a"), GROVE_ENOTFOUND);
    ASSERT_STREQ(get_str("b"), "two");
    ASSERT_EQ(grove_dict_clear(), 2);
    ASSERT_EQ(grove_dict_keys(NULL, NULL), 0);
    ASSERT_TRUE(grove_dict_get("b", NULL) == NULL);
}

/* Keys come oldest first; a replaced key keeps its place. */
PROC_TEST(dict_keys_in_insertion_order)
{
    char seen[256] = "";
    ASSERT_OK(grove_dict_put("x", "1", 1));
    ASSERT_OK(grove_dict_put("y", "2", 1));
    ASSERT_OK(grove_dict_put("z", "3", 1));
    ASSERT_OK(grove_dict_put("y", "22", 2));
    ASSERT_EQ(grove_dict_keys(collect, seen), 3);
    ASSERT_STREQ(seen, "x=1;y=22;z=3;");
}

/* Many keys, including ones whose hashes share a chain: every one is
 * found, replaced and erased on its own. */
PROC_TEST(dict_many_keys)
{
    enum { N = 5000 };
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        ASSERT_OK(grove_dict_put(key, &i, sizeof i));
    }
    ASSERT_EQ(grove_dict_keys(NULL, NULL), N);
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof key, "key-%d", i);
        ASSERT_OK(grove_dict_erase(key));
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        const int *v = grove_dict_get(key, NULL);
        if (i % 2 == 0) {
            ASSERT_TRUE(v == NULL);
        } else {
            ASSERT_TRUE(v != NULL);
            ASSERT_EQ(*v, i);
        }
    }
    ASSERT_EQ(grove_dict_clear(), N / 2);
}

static grove_pid_t tester;

/* Writes its own "who" and reports what it reads. */
static void writer(void *arg)
{
    const char *who = arg;
    grove_dict_put("who", who, strlen(who) + 1);
    grove_dict_put("big", NULL, 0);
    grove_send(tester, 1, NULL, 0);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    const char *seen = grove_dict_get("who", NULL);
    grove_send(tester, 2, seen, seen ? strlen(seen) + 1 : 0);
    if (strcmp(who, "crasher") == 0)
        GROVE_ASSERT(!"crash with a dictionary");
}

/* Each process has its own; process info counts the entries; a process
 * that crashes leaves nothing behind. */
PROC_TEST(dict_private_counted_and_freed)
{
    tester = grove_self();
    ASSERT_OK(grove_dict_put("who", "tester", 7));
    grove_pid_t a = SPAWN_MON(writer, "first", NULL);
    grove_pid_t b = SPAWN_MON(writer, "crasher", NULL);
    grove_msg_free(EXPECT_TAG(1));
    grove_msg_free(EXPECT_TAG(1));
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(a, &info));
    ASSERT_EQ(info.dictionary, 2);
    ASSERT_OK(grove_process_info(grove_self(), &info));
    ASSERT_EQ(info.dictionary, 1);
    ASSERT_OK(grove_send(a, 0, NULL, 0));
    ASSERT_OK(grove_send(b, 0, NULL, 0));
    char got[2][16];
    for (int i = 0; i < 2; i++) {
        grove_msg_t *m = EXPECT_TAG(2);
        snprintf(got[i], sizeof got[i], "%s", (const char *)grove_msg_data(m));
        grove_msg_free(m);
    }
    ASSERT_TRUE((strcmp(got[0], "first") == 0 &&
                 strcmp(got[1], "crasher") == 0) ||
                (strcmp(got[0], "crasher") == 0 &&
                 strcmp(got[1], "first") == 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(a), grove_reason_normal());
    ASSERT_EQ(AWAIT_EXIT(b).kind, GROVE_EXIT_ASSERT);
    ASSERT_STREQ(get_str("who"), "tester");
    /* The crashed process's entries are freed: the leak checkers of the
     * sanitizer and valgrind runs see to it. */
}

PROC_TEST(dict_bad_input)
{
    ASSERT_ERR(grove_dict_put(NULL, "x", 1), GROVE_EINVAL);
    ASSERT_ERR(grove_dict_put("", "x", 1), GROVE_EINVAL);
    ASSERT_ERR(grove_dict_put("k", NULL, 1), GROVE_EINVAL);
    ASSERT_ERR(grove_dict_erase(NULL), GROVE_EINVAL);
    ASSERT_TRUE(grove_dict_get(NULL, NULL) == NULL);
    ASSERT_EQ(grove_dict_keys(NULL, NULL), 0);
}

TEST(dict_outside_a_process)
{
    size_t size = 5;
    ASSERT_ERR(grove_dict_put("k", "v", 1), GROVE_ENOTPROC);
    ASSERT_TRUE(grove_dict_get("k", &size) == NULL);
    ASSERT_EQ(size, 0);
    ASSERT_ERR(grove_dict_erase("k"), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dict_keys(NULL, NULL), GROVE_ENOTPROC);
    ASSERT_ERR(grove_dict_clear(), GROVE_ENOTPROC);
}

static atomic_int slot_dtor_runs;

static void count_dtor(void *ptr)
{
    (void)ptr;
    atomic_fetch_add(&slot_dtor_runs, 1);
}

/* Reports whether it starts with nothing of an earlier incarnation, then
 * (every other one) fills its dictionary, arena, resources and monitors
 * by name, and ends normally or by a crash. */
static void slot_user(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    grove_process_info_t info;
    int clean = grove_dict_keys(NULL, NULL) == 0 &&
                grove_dict_get("k", NULL) == NULL &&
                grove_process_info(grove_self(), &info) == 0 &&
                info.dictionary == 0 && info.monitors == 0 &&
                info.heap_size == 0;
    grove_send(tester, 3, &clean, sizeof clean);
    if (i % 2)
        return;
    grove_ref_t ref;
    char *block = grove_alloc(100);
    GROVE_ASSERT(block != NULL);
    memset(block, 'x', 100);
    GROVE_ASSERT(grove_dict_put("k", "v", 2) == 0);
    GROVE_ASSERT(grove_dict_put("j", "w", 2) == 0);
    GROVE_ASSERT(grove_resource_attach(count_dtor, NULL, NULL) == 0);
    GROVE_ASSERT(grove_monitor_name("dict_tester", &ref) == 0);
    if (i % 4 == 0)
        GROVE_ASSERT(!"crash holding a dictionary, blocks and resources");
}

/* A process that takes over a slot starts with an empty dictionary, no
 * blocks, resources or monitors by name, whatever the one before it left
 * there at its end; each earlier one's resources ran and its blocks went. */
PROC_TEST_OPTS(dict_and_resources_fresh_in_a_reused_slot, .max_processes = 64)
{
    tester = grove_self();
    ASSERT_OK(grove_register("dict_tester", tester));
    grove_stats_t st;
    ASSERT_OK(grove_stats(&st));
    uint64_t arena0 = st.arena_bytes_live, res0 = st.resources_live;
    atomic_store(&slot_dtor_runs, 0);
    bool seen[64] = {false};
    int reused = 0;
    enum { N = 200 };
    for (unsigned i = 0; i < N; i++) {
        grove_pid_t pid = SPAWN_MON(slot_user, (void *)(uintptr_t)i, NULL);
        grove_msg_t *m = EXPECT_TAG(3);
        int clean;
        memcpy(&clean, grove_msg_data(m), sizeof clean);
        grove_msg_free(m);
        ASSERT_TRUE(clean);
        grove_reason_t why = AWAIT_EXIT(pid);
        if (i % 4 == 0)
            ASSERT_EQ(why.kind, GROVE_EXIT_ASSERT);
        else
            ASSERT_REASON_EQ(why, grove_reason_normal());
        uint32_t slot = grove_pid_slot(pid) % 64;
        reused += seen[slot];
        seen[slot] = true;
    }
    ASSERT_GE(reused, N / 2);
    ASSERT_EQ(atomic_load(&slot_dtor_runs), N / 2);
    WAIT_UNTIL(grove_stats(&st) == 0 && st.arena_bytes_live == arena0 &&
               st.resources_live == res0);
    ASSERT_OK(grove_unregister("dict_tester"));
}
