/* Per-process memory (grove_alloc) and resources (grove_resource_*):
 * released when the process exits, whatever the reason: normal, error,
 * kill or crash. Each destructor runs exactly once. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "grove_test.h"

enum how { HOW_RETURN, HOW_ERROR, HOW_KILL, HOW_CRASH, HOW_ASSERT };

enum { SLOTS = 4, BLOCKS = 10, BLOCK_SIZE = 1000 };

/* One counter per resource, so "exactly once" is checked per resource. */
static atomic_int runs[SLOTS];

static void count_dtor(void *ptr)
{
    atomic_fetch_add(&runs[(uintptr_t)ptr], 1);
}

typedef struct holder_arg {
    enum how how;
    grove_pid_t parent;
    int pipe_w;
} holder_arg_t;

/* Slot 0 is kept, slot 1 released early, slot 2 detached, slot 3 kept. */
static void holder(void *arg)
{
    holder_arg_t *h = arg;
    for (int i = 0; i < BLOCKS; i++) {
        char *p = grove_alloc(BLOCK_SIZE);
        if (!p)
            grove_exit_error(1, "grove_alloc failed");
        memset(p, i, BLOCK_SIZE);
    }
    char *z = grove_calloc(10, 100);
    if (!z || z[0] || z[999])
        grove_exit_error(2, "grove_calloc failed");
    grove_resource_t *res[SLOTS];
    for (uintptr_t i = 0; i < SLOTS; i++)
        if (grove_resource_attach(count_dtor, (void *)i, &res[i]) != 0)
            grove_exit_error(3, "attach failed");
    if (grove_resource_release(res[1]) != 0)
        grove_exit_error(4, "release failed");
    if (grove_resource_detach(res[2]) != 0)
        grove_exit_error(5, "detach failed");
    if (grove_resource_fd(h->pipe_w, NULL) != 0)
        grove_exit_error(6, "attach fd failed");
    grove_send(h->parent, 1, NULL, 0);
    /* Wait for the go, so the parent can look at the live counters. */
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    switch (h->how) {
    case HOW_RETURN:
        return;
    case HOW_ERROR:
        grove_exit_error(50, "error exit");
    case HOW_KILL:
        grove_recv(&m, GROVE_INFINITY);
        break;
    case HOW_CRASH:
        gt_fault_null_write();
        break;
    case HOW_ASSERT: {
        volatile int one = 1;
        GROVE_ASSERT(one == 2);
        break;
    }
    }
    grove_exit_error(51, "should not get here");
}

static void exit_releases(enum how how, int want_kind)
{
    for (int i = 0; i < SLOTS; i++)
        atomic_store(&runs[i], 0);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    grove_stats_t before = gt_stats();
    static holder_arg_t h;
    h.how = how;
    h.parent = grove_self();
    h.pipe_w = fds[1];
    grove_pid_t p = SPAWN_MON(holder, &h, NULL);
    grove_msg_free(EXPECT_TAG(1));

    /* While it lives: its memory and two resources plus the fd count. */
    grove_stats_t live = gt_stats();
    ASSERT_GE(live.arena_bytes_live,
              before.arena_bytes_live + BLOCKS * BLOCK_SIZE + 1000);
    ASSERT_EQ(live.resources_live, before.resources_live + 3);
    ASSERT_EQ(atomic_load(&runs[1]), 1);
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(p, &info));
    ASSERT_GE(info.memory, BLOCKS * BLOCK_SIZE);

    ASSERT_OK(grove_send(p, 2, NULL, 0));
    if (how == HOW_KILL) {
        grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
        ASSERT_OK(grove_exit_signal(p, &kill));
    }
    grove_reason_t r = AWAIT_EXIT(p);
    ASSERT_REASON_KIND(r, want_kind);
    if (how == HOW_CRASH)
        ASSERT_EQ(r.code, SIGSEGV);

    WAIT_UNTIL(atomic_load(&runs[0]) == 1 && atomic_load(&runs[3]) == 1);
    grove_sleep(10);
    ASSERT_EQ(atomic_load(&runs[0]), 1);
    ASSERT_EQ(atomic_load(&runs[1]), 1);
    ASSERT_EQ(atomic_load(&runs[2]), 0);
    ASSERT_EQ(atomic_load(&runs[3]), 1);
    /* The fd was closed: the pipe's only write end is gone. */
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 0);
    close(fds[0]);
    WAIT_UNTIL(gt_stats().resources_live == before.resources_live &&
               gt_stats().arena_bytes_live == before.arena_bytes_live);
}

PROC_TEST(resources_released_on_normal_exit)
{
    exit_releases(HOW_RETURN, GROVE_EXIT_NORMAL);
}

PROC_TEST(resources_released_on_error_exit)
{
    exit_releases(HOW_ERROR, GROVE_EXIT_ERROR);
}

PROC_TEST(resources_released_on_kill)
{
    exit_releases(HOW_KILL, GROVE_EXIT_KILLED);
}

PROC_TEST(resources_released_on_crash)
{
    exit_releases(HOW_CRASH, GROVE_EXIT_FAULT);
}

PROC_TEST(resources_released_on_assert)
{
    exit_releases(HOW_ASSERT, GROVE_EXIT_ASSERT);
}

/* grove_free, grove_realloc and the accounting of arena bytes. */
static void arena_ops(void *arg)
{
    (void)arg;
    grove_stats_t s0 = gt_stats();
    char *p = grove_alloc(100);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ((uintptr_t)p % 16, 0);
    memcpy(p, "hello", 6);
    grove_stats_t s1 = gt_stats();
    ASSERT_GE(s1.arena_bytes_live, s0.arena_bytes_live + 100);
    p = grove_realloc(p, 100000);
    ASSERT_NOT_NULL(p);
    ASSERT_STREQ(p, "hello");
    grove_stats_t s2 = gt_stats();
    ASSERT_GE(s2.arena_bytes_live, s0.arena_bytes_live + 100000);
    grove_free(p);
    grove_stats_t s3 = gt_stats();
    ASSERT_EQ(s3.arena_bytes_live, s0.arena_bytes_live);
    char *q = grove_realloc(NULL, 64);
    ASSERT_NOT_NULL(q);
    grove_free(q);
    grove_free(NULL);
    ASSERT_NULL(grove_alloc(0));
    ASSERT_NULL(grove_calloc(SIZE_MAX / 2, 4));
    ASSERT_EQ(gt_stats().arena_bytes_live, s0.arena_bytes_live);
}

PROC_TEST(arena_alloc_free_realloc)
{
    grove_pid_t p = SPAWN_MON(arena_ops, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
}

/* release and detach work only on the caller's own resources. */
static grove_resource_t *shared_res;

static void attach_and_wait(void *arg)
{
    grove_pid_t *parent = arg;
    if (grove_resource_attach(count_dtor, (void *)(uintptr_t)0,
                              &shared_res) != 0)
        grove_exit_error(1, "attach failed");
    grove_send(*parent, 1, NULL, 0);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

PROC_TEST(resource_of_another_process_is_einval)
{
    static grove_pid_t self;
    self = grove_self();
    atomic_store(&runs[0], 0);
    grove_pid_t p = SPAWN_MON(attach_and_wait, &self, NULL);
    grove_msg_free(EXPECT_TAG(1));
    ASSERT_ERR(grove_resource_release(shared_res), GROVE_EINVAL);
    ASSERT_ERR(grove_resource_detach(shared_res), GROVE_EINVAL);
    ASSERT_ERR(grove_resource_release(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_resource_detach(NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_resource_attach(NULL, NULL, NULL), GROVE_EINVAL);
    ASSERT_EQ(atomic_load(&runs[0]), 0);
    ASSERT_OK(grove_send(p, 2, NULL, 0));
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    WAIT_UNTIL(atomic_load(&runs[0]) == 1);
    /* A released resource is gone: releasing again runs nothing. */
    grove_resource_t *res;
    ASSERT_OK(grove_resource_attach(count_dtor, (void *)(uintptr_t)1, &res));
    atomic_store(&runs[1], 0);
    ASSERT_OK(grove_resource_release(res));
    ASSERT_EQ(atomic_load(&runs[1]), 1);
}

/* L-2 for resources: what a process owned is released before its links
 * and monitors hear of its exit, so a linked process that dies in turn
 * releases its own after, and the last EXIT comes after all of them.
 * Chain: T (trapping) - P1 - P2 - P3, each P holding a resource that
 * records its release; P3 exits with an error and takes the chain down. */
static gt_order_t *chain_order;

static void record_release(void *ptr)
{
    gt_order_add(chain_order, "release P%d", (int)(uintptr_t)ptr);
}

typedef struct chain_arg {
    int index;
    grove_pid_t link_to;
    grove_pid_t parent;
} chain_arg_t;

static void chain_member(void *arg)
{
    const chain_arg_t *c = arg;
    if (grove_resource_attach(record_release, (void *)(uintptr_t)c->index,
                              NULL) != 0)
        grove_exit_error(1, "attach failed");
    if (!grove_pid_is_none(c->link_to) && grove_link(c->link_to) != 0)
        grove_exit_error(2, "link failed");
    grove_send(c->parent, 1, NULL, 0);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    grove_exit_error(3, "P%d ends the chain", c->index);
}

PROC_TEST(L02_resources_released_before_links_fire)
{
    ASSERT_EQ(grove_trap_exit(true), 0);
    for (int round = 0; round < 50; round++) {
        chain_order = gt_order_new();
        static chain_arg_t args[4];
        grove_pid_t pids[4] = {grove_self()};
        for (int i = 1; i <= 3; i++) {
            args[i] = (chain_arg_t){i, pids[i - 1], grove_self()};
            pids[i] = SPAWN(chain_member, &args[i], NULL);
            grove_msg_free(EXPECT_TAG(1));
        }
        ASSERT_OK(grove_send(pids[3], 9, NULL, 0));
        grove_reason_t r = EXPECT_EXIT(pids[1]);
        gt_order_add(chain_order, "EXIT from P1");
        ASSERT_REASON_EQ(r, grove_reason_error(3, "P3 ends the chain"));
        ASSERT_ORDER(chain_order, "release P3", "release P2", "release P1",
                     "EXIT from P1");
        gt_order_free(chain_order);
    }
}
