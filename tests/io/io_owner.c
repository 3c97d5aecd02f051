/* Ownership: a socket is its opener's resource and closes when the opener
 * dies for any reason (counted in /proc/self/fd); only the owner may use
 * it; handoff and adopt move it, and a socket in transit closes when its
 * message cannot reach a live adopter. */
#include <string.h>

#include "io_util.h"

enum how { HOW_RETURN, HOW_ERROR, HOW_KILL, HOW_CRASH };

typedef struct opener_arg {
    enum how how;
    grove_pid_t parent;
    int port;
} opener_arg_t;

#define TAG_READY 0x494f000000000010ull
#define TAG_GO 0x494f000000000011ull

/* Opens a listener and a connection, then ends as told; a killed one is
 * parked in a read when the kill comes. */
static void opener(void *arg)
{
    opener_arg_t *o = arg;
    grove_io_t l, c, s;
    if (grove_io_listen_tcp("127.0.0.1", 0, 0, &l) != 0 ||
        grove_io_connect_tcp("127.0.0.1", grove_io_port(l), &c, 5000) != 0 ||
        grove_io_accept(l, &s, 5000) != 0)
        grove_exit_error(1, "setup failed");
    grove_send(o->parent, TAG_READY, NULL, 0);
    grove_msg_t *go;
    if (grove_recv_tag(&go, TAG_GO, GROVE_INFINITY) == 0)
        grove_msg_free(go);
    const char *line;
    switch (o->how) {
    case HOW_RETURN:
        return;
    case HOW_ERROR:
        grove_exit_error(7, "gives up");
    case HOW_KILL:
        grove_io_read_until(s, '\n', &line, GROVE_INFINITY);
        break;
    case HOW_CRASH:
        gt_fault_null_write();
    }
    grove_exit_error(2, "should not get here");
}

static void owner_dies(enum how how, int kind)
{
    int base = io_fd_baseline();
    grove_io_stats_t st0, st;
    ASSERT_OK(grove_io_stats(&st0));
    opener_arg_t o = {how, grove_self(), 0};
    grove_pid_t p = SPAWN_MON(opener, &o, NULL);
    grove_msg_free(EXPECT_TAG(TAG_READY));
    ASSERT_EQ(io_fd_count(), base + 3);
    ASSERT_OK(grove_send(p, TAG_GO, NULL, 0));
    if (how == HOW_KILL) {
        gt_nap(20); /* let it park in the read */
        grove_reason_t k = grove_reason_of(GROVE_EXIT_KILL);
        ASSERT_OK(grove_exit_signal(p, &k));
    }
    ASSERT_REASON_KIND(AWAIT_EXIT(p), kind);
    WAIT_FDS(base);
    ASSERT_OK(grove_io_stats(&st));
    ASSERT_EQ(st.sockets_open, st0.sockets_open);
}

PROC_TEST(io_fds_closed_when_owner_returns)
{
    owner_dies(HOW_RETURN, GROVE_EXIT_NORMAL);
}

PROC_TEST(io_fds_closed_when_owner_exits_with_error)
{
    owner_dies(HOW_ERROR, GROVE_EXIT_ERROR);
}

PROC_TEST(io_fds_closed_when_owner_is_killed_while_parked)
{
    owner_dies(HOW_KILL, GROVE_EXIT_KILLED);
}

PROC_TEST(io_fds_closed_when_owner_crashes)
{
    owner_dies(HOW_CRASH, GROVE_EXIT_FAULT);
}

/* Tries to use a socket it does not own, then reports. */
static void stranger(void *arg)
{
    grove_io_t *s = arg;
    char b;
    if (grove_io_read(*s, &b, 1, 0) != GROVE_EINVAL ||
        grove_io_close(*s) != GROVE_EINVAL)
        grove_exit_error(1, "a stranger used the socket");
}

PROC_TEST(io_only_the_owner_uses_a_socket)
{
    grove_io_t l;
    io_listen_local(&l);
    grove_pid_t p = SPAWN_MON(stranger, &l, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    ASSERT_GT(grove_io_port(l), 0);
    grove_io_close(l);
}

#define TAG_SOCK 0x494f000000000020ull

/* Adopts the socket it is given and echoes one line on it. */
static void adopter(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    grove_io_t s;
    if (grove_recv_tag(&m, TAG_SOCK, GROVE_INFINITY) != 0)
        grove_exit_error(1, "no message");
    int rc = grove_io_adopt(m, &s);
    if (rc != 0)
        grove_exit_error(2, "adopt: %s", grove_errname(rc));
    if (grove_io_adopt(m, &s) != GROVE_EINVAL)
        grove_exit_error(3, "adopted twice");
    grove_msg_free(m);
    const char *line;
    int n = grove_io_read_until(s, '\n', &line, 5000);
    if (n < 0 || grove_io_write(s, line, (size_t)n, 5000) != 0)
        grove_exit_error(4, "echo failed");
}

PROC_TEST(io_handoff_moves_a_socket)
{
    int base = io_fd_baseline();
    grove_io_t l, c, s;
    io_pair_local(&l, &c, &s);
    grove_pid_t p = SPAWN_MON(adopter, NULL, NULL);
    ASSERT_OK(grove_io_handoff(s, p, TAG_SOCK));
    /* The sender lost it at once. */
    char b;
    ASSERT_ERR(grove_io_read(s, &b, 1, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_handoff(s, p, TAG_SOCK), GROVE_EINVAL);
    ASSERT_OK(grove_io_write(c, "moved\n", 6, 1000));
    EXPECT_LINE(c, "moved\n");
    ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_normal());
    /* The adopter's exit closed it. */
    ASSERT_ERR(grove_io_read(c, &b, 1, 5000), GROVE_ECLOSED);
    grove_io_close(c);
    grove_io_close(l);
    WAIT_FDS(base);
}

/* Receives the handoff message but never adopts it. */
static void refuser(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_SOCK, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    grove_recv(&m, GROVE_INFINITY); /* killed here */
}

static void never_reads(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    grove_recv_tag(&m, 0x1234, GROVE_INFINITY); /* killed here */
}

static void stranger_done(void *arg) { (void)arg; }

PROC_TEST(io_socket_in_transit_never_leaks)
{
    int base = io_fd_baseline();
    grove_io_t l, s;
    int port = io_listen_local(&l);
    grove_io_t c[3];
    for (int i = 0; i < 3; i++)
        ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c[i], 5000));
    ASSERT_EQ(io_fd_count(), base + 4);
    /* 1: to a process that frees the message without adopting. */
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    grove_pid_t p1 = SPAWN_MON(refuser, NULL, NULL);
    ASSERT_OK(grove_io_handoff(s, p1, TAG_SOCK));
    /* 2: to a process that dies with the message unread. */
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    grove_pid_t p2 = SPAWN_MON(never_reads, NULL, NULL);
    ASSERT_OK(grove_io_handoff(s, p2, TAG_SOCK));
    /* 3: to a dead process. */
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    grove_pid_t dead = SPAWN_MON(stranger_done, NULL, NULL);
    AWAIT_EXIT(dead);
    ASSERT_ERR(grove_io_handoff(s, dead, TAG_SOCK), GROVE_ENOPROC);
    /* Only the socket waiting in p2's mailbox is still open. */
    WAIT_FDS(base + 5);
    grove_reason_t k = grove_reason_of(GROVE_EXIT_KILL);
    grove_exit_signal(p1, &k);
    grove_exit_signal(p2, &k);
    AWAIT_EXIT(p1);
    AWAIT_EXIT(p2);
    for (int i = 0; i < 3; i++) {
        char b;
        ASSERT_ERR(grove_io_read(c[i], &b, 1, 5000), GROVE_ECLOSED);
        grove_io_close(c[i]);
    }
    grove_io_close(l);
    WAIT_FDS(base);
}

PROC_TEST(io_adopt_rejects_other_messages)
{
    grove_io_t s;
    grove_msg_t *m;
    char fake[32];
    memset(fake, 0, sizeof fake);
    ASSERT_OK(grove_send(grove_self(), 1, fake, sizeof fake));
    ASSERT_OK(grove_recv(&m, 1000));
    ASSERT_ERR(grove_io_adopt(m, &s), GROVE_EINVAL);
    ASSERT_ERR(grove_io_adopt(NULL, &s), GROVE_EINVAL);
    grove_msg_free(m);
}
