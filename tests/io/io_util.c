/* Helpers shared by the I/O tests. */
#include <dirent.h>
#include <string.h>
#include <sys/resource.h>

#include "io_util.h"

int io_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int io_fd_baseline(void)
{
    grove_io_t l;
    ASSERT_OK(grove_io_listen_tcp("127.0.0.1", 0, 0, &l));
    ASSERT_OK(grove_io_close(l));
    return io_fd_count();
}

void io_wait_fds_at(const char *file, int line, int want, int64_t ms)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(ms);
    int n;
    while ((n = io_fd_count()) > want) {
        if (gt_now_ms() > dl)
            gt_fail(file, line, "descriptors: %d open, expected at most %d",
                    n, want);
        gt_nap(2);
    }
}

long io_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

int io_listen_local(grove_io_t *out)
{
    ASSERT_OK(grove_io_listen_tcp("127.0.0.1", 0, 0, out));
    int port = grove_io_port(*out);
    ASSERT_GT(port, 0);
    return port;
}

void io_pair_local(grove_io_t *l, grove_io_t *c, grove_io_t *s)
{
    int port = io_listen_local(l);
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, c, 5000));
    ASSERT_OK(grove_io_accept(*l, s, 5000));
}

void io_echo_main(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    grove_io_t l, c;
    if (grove_recv_tag(&m, IO_TAG_LISTENER, GROVE_INFINITY) != 0 ||
        grove_io_adopt(m, &l) != 0)
        grove_exit_error(1, "no listener");
    grove_msg_free(m);
    if (grove_io_accept(l, &c, gt_scaled_ms(GT_WAIT_MS)) != 0)
        grove_exit_error(2, "accept failed");
    grove_io_close(l);
    for (;;) {
        const char *line;
        int n = grove_io_read_until(c, '\n', &line, GROVE_INFINITY);
        if (n == GROVE_ECLOSED)
            return;
        if (n < 0)
            grove_exit_error(3, "read_until: %s", grove_errname(n));
        if (grove_io_write(c, line, (size_t)n, GROVE_INFINITY) != 0)
            grove_exit_error(4, "write failed");
    }
}

int io_spawn_echo(grove_pid_t *pid)
{
    grove_io_t l;
    int port = io_listen_local(&l);
    *pid = SPAWN_MON(io_echo_main, NULL, NULL);
    ASSERT_OK(grove_io_handoff(l, *pid, IO_TAG_LISTENER));
    return port;
}

void io_expect_line_at(const char *file, int line, grove_io_t s,
                       const char *want)
{
    const char *got;
    int n = grove_io_read_until(s, '\n', &got, gt_scaled_ms(GT_WAIT_MS));
    if (n < 0)
        gt_fail(file, line, "read_until: %s, expected \"%s\"",
                grove_errname(n), want);
    if ((size_t)n != strlen(want) || memcmp(got, want, (size_t)n) != 0)
        gt_fail(file, line, "read \"%.*s\", expected \"%s\"", n, got, want);
}
