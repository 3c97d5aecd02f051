/* Sockets: listen, accept, connect, read, write, read_until, timeouts,
 * peer close, half-close, UNIX sockets, name resolution, and the argument
 * checks of every call. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io_util.h"

PROC_TEST(io_listen_port_zero_picks_a_port)
{
    grove_io_t l;
    int port = io_listen_local(&l);
    ASSERT_GT(port, 1023);
    grove_io_t l2;
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", port, 0, &l2), GROVE_EEXIST);
    ASSERT_OK(grove_io_close(l));
}

PROC_TEST(io_echo_round_trip)
{
    grove_pid_t echo;
    int port = io_spawn_echo(&echo);
    grove_io_t c;
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c, 5000));
    ASSERT_OK(grove_io_write(c, "hello\nworld\n", 12, 5000));
    EXPECT_LINE(c, "hello\n");
    EXPECT_LINE(c, "world\n");
    ASSERT_OK(grove_io_close(c));
    ASSERT_REASON_EQ(AWAIT_EXIT(echo), grove_reason_normal());
}

PROC_TEST(io_accept_times_out)
{
    grove_io_t l, c;
    io_listen_local(&l);
    ASSERT_ERR(grove_io_accept(l, &c, 30), GROVE_ETIMEDOUT);
    ASSERT_ERR(grove_io_accept(l, &c, 0), GROVE_ETIMEDOUT);
    ASSERT_OK(grove_io_close(l));
}

PROC_TEST(io_read_times_out_then_reads)
{
    grove_io_t l, c, s;
    int port = io_listen_local(&l);
    ASSERT_OK(grove_io_connect_tcp(NULL, port, &c, 5000));
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    const char *line;
    char buf[8];
    ASSERT_ERR(grove_io_read_until(s, '\n', &line, 20), GROVE_ETIMEDOUT);
    ASSERT_ERR(grove_io_read(s, buf, sizeof buf, 0), GROVE_ETIMEDOUT);
    /* A partial line stays buffered across the timeout. */
    ASSERT_OK(grove_io_write(c, "par", 3, 1000));
    ASSERT_ERR(grove_io_read_until(s, '\n', &line, 20), GROVE_ETIMEDOUT);
    ASSERT_EQ(grove_io_buffered(s), 3);
    ASSERT_OK(grove_io_write(c, "tial\nrest", 9, 1000));
    EXPECT_LINE(s, "partial\n");
    ASSERT_EQ(grove_io_read(s, buf, sizeof buf, 1000), 4);
    ASSERT_EQ(memcmp(buf, "rest", 4), 0);
    grove_io_close(c);
    grove_io_close(s);
    grove_io_close(l);
}

PROC_TEST(io_peer_close_is_eclosed)
{
    grove_io_t l, c, s;
    io_pair_local(&l, &c, &s);
    ASSERT_OK(grove_io_write(c, "line\nunterminated", 17, 1000));
    ASSERT_OK(grove_io_close(c));
    EXPECT_LINE(s, "line\n");
    const char *line;
    ASSERT_ERR(grove_io_read_until(s, '\n', &line, 5000), GROVE_ECLOSED);
    /* What came before the close is still readable. */
    char buf[32];
    ASSERT_EQ(grove_io_read(s, buf, sizeof buf, 1000), 12);
    ASSERT_ERR(grove_io_read(s, buf, sizeof buf, 1000), GROVE_ECLOSED);
    /* Writing to a closed peer fails with ECLOSED, never SIGPIPE. */
    static char big[65536];
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = grove_io_write(s, big, sizeof big, 1000);
    ASSERT_ERR(rc, GROVE_ECLOSED);
    grove_io_close(s);
    grove_io_close(l);
}

PROC_TEST(io_half_close_still_answers)
{
    grove_pid_t echo;
    int port = io_spawn_echo(&echo);
    grove_io_t c;
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c, 5000));
    ASSERT_OK(grove_io_write(c, "last words\n", 11, 1000));
    ASSERT_OK(grove_io_shutdown(c));
    EXPECT_LINE(c, "last words\n");
    char b;
    ASSERT_ERR(grove_io_read(c, &b, 1, 5000), GROVE_ECLOSED);
    ASSERT_REASON_EQ(AWAIT_EXIT(echo), grove_reason_normal());
    grove_io_close(c);
}

PROC_TEST(io_connect_refused)
{
    grove_io_t l, c;
    int port = io_listen_local(&l);
    ASSERT_OK(grove_io_close(l));
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", port, &c, 5000),
               GROVE_ECLOSED);
    ASSERT_ERR(grove_io_connect_unix("@grove-test-nobody", &c, 1000),
               GROVE_ECLOSED);
    ASSERT_ERR(grove_io_connect_unix("/nonexistent/grove.sock", &c, 1000),
               GROVE_ENOTFOUND);
}

PROC_TEST(io_unix_sockets)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/grove-io-%d.sock", (int)getpid());
    unlink(path);
    const char *names[] = {"@grove-io-abstract", path};
    for (int i = 0; i < 2; i++) {
        grove_io_t l, c, s;
        ASSERT_OK(grove_io_listen_unix(names[i], 0, &l));
        ASSERT_ERR(grove_io_port(l), GROVE_ENOTSUP);
        ASSERT_OK(grove_io_connect_unix(names[i], &c, 5000));
        ASSERT_OK(grove_io_accept(l, &s, 5000));
        ASSERT_OK(grove_io_write(c, "over unix\n", 10, 1000));
        EXPECT_LINE(s, "over unix\n");
        char peer[32];
        ASSERT_EQ(grove_io_peer(s, peer, sizeof peer), 4);
        ASSERT_STREQ(peer, "unix");
        grove_io_close(s);
        grove_io_close(c);
        grove_io_close(l);
    }
    unlink(path);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    grove_io_t l;
    ASSERT_ERR(grove_io_listen_unix(longpath, 0, &l), GROVE_EINVAL);
}

PROC_TEST(io_names_resolve_on_the_pool)
{
    grove_io_t l, c, s;
    ASSERT_OK(grove_io_listen_tcp("localhost", 0, 0, &l));
    int port = grove_io_port(l);
    ASSERT_GT(port, 0);
    ASSERT_OK(grove_io_connect_tcp("localhost", port, &c, 5000));
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    char peer[64];
    ASSERT_GT(grove_io_peer(s, peer, sizeof peer), 0);
    ASSERT_TRUE(strcmp(peer, "127.0.0.1") == 0 || strcmp(peer, "::1") == 0);
    grove_io_stats_t st;
    ASSERT_OK(grove_io_stats(&st));
    ASSERT_GE(st.pool_jobs, 2);
    ASSERT_ERR(grove_io_connect_tcp("no-such-host.invalid", port, &c, 5000),
               GROVE_ENOTFOUND);
    grove_io_close(s);
    grove_io_close(c);
    grove_io_close(l);
}

PROC_TEST(io_ipv6_loopback)
{
    grove_io_t l, c, s;
    if (grove_io_listen_tcp("::1", 0, 0, &l) != 0)
        SKIP_TEST("no IPv6 loopback here");
    ASSERT_OK(grove_io_connect_tcp("[::1]", grove_io_port(l), &c, 5000));
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    char peer[64];
    ASSERT_GT(grove_io_peer(s, peer, sizeof peer), 0);
    ASSERT_STREQ(peer, "::1");
    grove_io_close(s);
    grove_io_close(c);
    grove_io_close(l);
}

PROC_TEST(io_bad_arguments)
{
    grove_io_t l, c, s;
    const char *line;
    char buf[4];
    int port = io_listen_local(&l);
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", -1, 0, &c), GROVE_EINVAL);
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", 70000, 0, &c), GROVE_EINVAL);
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", 0, 0, NULL), GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", 0, &c, 100), GROVE_EINVAL);
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", port, &c, -5),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_listen_unix(NULL, 0, &c), GROVE_EINVAL);
    ASSERT_ERR(grove_io_listen_unix("", 0, &c), GROVE_EINVAL);
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c, 5000));
    ASSERT_OK(grove_io_accept(l, &s, 5000));
    /* Calls that do not fit the socket's kind. */
    ASSERT_ERR(grove_io_accept(c, &s, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_read(l, buf, sizeof buf, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_read_until(l, '\n', &line, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_write(l, "x", 1, 0), GROVE_ENOTSUP);
    ASSERT_ERR(grove_io_shutdown(l), GROVE_ENOTSUP);
    /* Bad values. */
    ASSERT_ERR(grove_io_read(s, NULL, 4, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_read(s, buf, 0, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_read_until(s, 256, &line, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_read_until(s, '\n', NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_write(s, NULL, 1, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_set_max_line(s, 1), GROVE_EINVAL);
    ASSERT_ERR(grove_io_set_max_line(s, (size_t)GROVE_IO_MAX_LINE_LIMIT + 1),
               GROVE_EINVAL);
    ASSERT_ERR(grove_io_arm(s, 0, 1), GROVE_EINVAL);
    ASSERT_ERR(grove_io_arm(s, 8, 1), GROVE_EINVAL);
    ASSERT_ERR(grove_io_peer(s, NULL, 0), GROVE_EINVAL);
    ASSERT_ERR(grove_io_stats(NULL), GROVE_EINVAL);
    /* Handles that never were, and stale ones. */
    grove_io_t none = GROVE_IO_NONE, forged = {UINT64_C(0xffffffff)};
    ASSERT_ERR(grove_io_close(none), GROVE_EINVAL);
    ASSERT_ERR(grove_io_read(forged, buf, 4, 0), GROVE_EINVAL);
    ASSERT_OK(grove_io_close(c));
    ASSERT_ERR(grove_io_close(c), GROVE_ECLOSED);
    ASSERT_ERR(grove_io_write(c, "x", 1, 0), GROVE_ECLOSED);
    ASSERT_ERR(grove_io_read_until(c, '\n', &line, 0), GROVE_ECLOSED);
    ASSERT_ERR(grove_io_fd(c), GROVE_ECLOSED);
    /* A new socket in the same slot does not answer to the old handle. */
    grove_io_t c2;
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c2, 5000));
    ASSERT_ERR(grove_io_fd(c), GROVE_ECLOSED);
    ASSERT_GE(grove_io_fd(c2), 0);
    grove_io_close(c2);
    grove_io_close(s);
    grove_io_close(l);
}

TEST(io_outside_a_process)
{
    grove_io_t s;
    char b;
    ASSERT_ERR(grove_io_listen_tcp("127.0.0.1", 0, 0, &s), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_connect_tcp("127.0.0.1", 1, &s, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_wrap(0, &s), GROVE_ENOTPROC);
    s.id = 1;
    ASSERT_ERR(grove_io_read(s, &b, 1, 0), GROVE_ENOTPROC);
    ASSERT_ERR(grove_io_blocking(free, NULL), GROVE_ENOTPROC);
}

PROC_TEST(io_wrap_pipes_and_bad_fds)
{
    grove_io_t r, w;
    ASSERT_ERR(grove_io_wrap(-1, &r), GROVE_EINVAL);
    ASSERT_ERR(grove_io_wrap(100000, &r), GROVE_EINVAL);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_OK(grove_io_wrap(p[0], &r));
    ASSERT_OK(grove_io_wrap(p[1], &w));
    const char *line;
    ASSERT_ERR(grove_io_read_until(r, '\n', &line, 10), GROVE_ETIMEDOUT);
    ASSERT_OK(grove_io_write(w, "through a pipe\n", 15, 1000));
    EXPECT_LINE(r, "through a pipe\n");
    ASSERT_OK(grove_io_close(w));
    ASSERT_ERR(grove_io_read_until(r, '\n', &line, 1000), GROVE_ECLOSED);
    /* A descriptor closed behind the socket's back: an error, no crash. */
    ASSERT_OK(grove_io_wrap(dup(1), &w));
    close(grove_io_fd(w));
    ASSERT_ERR(grove_io_write(w, "x", 1, 100), GROVE_ECLOSED);
    grove_io_close(w);
    grove_io_close(r);
}
