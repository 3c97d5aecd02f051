/* read_until's limits: the maximum line, lines just at it, a megabyte
 * line that must not grow the buffer past the limit, and many lines in
 * one read. */
#include <stdlib.h>
#include <string.h>

#include "io_util.h"

typedef struct pair {
    grove_io_t l, c, s;
} pair_t;

static pair_t connected(void)
{
    pair_t p;
    int port = io_listen_local(&p.l);
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &p.c, 5000));
    ASSERT_OK(grove_io_accept(p.l, &p.s, 5000));
    return p;
}

static void close_pair(pair_t *p)
{
    grove_io_close(p->c);
    grove_io_close(p->s);
    grove_io_close(p->l);
}

/* Writes size bytes of 'x' then a newline, from its own process so that
 * the test can read meanwhile (the socket buffers are smaller). */
typedef struct writer_arg {
    grove_pid_t parent;
    size_t size;
    const char *after;
} writer_arg_t;

static void writer(void *arg)
{
    writer_arg_t *w = arg;
    grove_msg_t *m;
    grove_io_t s;
    if (grove_recv_tag(&m, IO_TAG_LISTENER, GROVE_INFINITY) != 0 ||
        grove_io_adopt(m, &s) != 0)
        grove_exit_error(1, "no socket");
    grove_msg_free(m);
    char *buf = malloc(w->size + 1);
    memset(buf, 'x', w->size);
    buf[w->size] = '\n';
    int rc = grove_io_write(s, buf, w->size + 1, gt_scaled_ms(10000));
    free(buf);
    if (rc == 0 && w->after)
        rc = grove_io_write(s, w->after, strlen(w->after), 5000);
    if (rc != 0)
        grove_exit_error(2, "write: %s", grove_errname(rc));
}

PROC_TEST(io_huge_line_is_etoolong_and_skipped)
{
    pair_t p = connected();
    ASSERT_OK(grove_io_set_max_line(p.s, 1024));
    writer_arg_t w = {grove_self(), 1 << 20, "next\n"};
    grove_pid_t wp = SPAWN_MON(writer, &w, NULL);
    ASSERT_OK(grove_io_handoff(p.c, wp, IO_TAG_LISTENER));
    const char *line;
    ASSERT_ERR(grove_io_read_until(p.s, '\n', &line, 5000), GROVE_ETOOLONG);
    /* The rest of the long line is dropped; the next line is intact. */
    EXPECT_LINE(p.s, "next\n");
    ASSERT_REASON_EQ(AWAIT_EXIT(wp), grove_reason_normal());
    grove_io_close(p.s);
    grove_io_close(p.l);
}

PROC_TEST(io_line_at_the_limit)
{
    pair_t p = connected();
    ASSERT_OK(grove_io_set_max_line(p.s, 8));
    ASSERT_OK(grove_io_write(p.c, "1234567\n12345678\nok\n", 20, 1000));
    EXPECT_LINE(p.s, "1234567\n");
    const char *line;
    ASSERT_ERR(grove_io_read_until(p.s, '\n', &line, 1000), GROVE_ETOOLONG);
    EXPECT_LINE(p.s, "ok\n");
    close_pair(&p);
}

PROC_TEST(io_many_lines_in_one_read)
{
    pair_t p = connected();
    char buf[4000];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%d\n", i);
    ASSERT_OK(grove_io_write(p.c, buf, n, 1000));
    for (int i = 0; i < 300; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d\n", i);
        EXPECT_LINE(p.s, want);
    }
    const char *line;
    ASSERT_ERR(grove_io_read_until(p.s, '\n', &line, 0), GROVE_ETIMEDOUT);
    ASSERT_EQ(grove_io_buffered(p.s), 0);
    close_pair(&p);
}

PROC_TEST(io_other_delimiters)
{
    pair_t p = connected();
    ASSERT_OK(grove_io_write(p.c, "a\0bc\0", 5, 1000));
    const char *line;
    ASSERT_EQ(grove_io_read_until(p.s, 0, &line, 1000), 2);
    ASSERT_EQ(memcmp(line, "a", 2), 0);
    ASSERT_EQ(grove_io_read_until(p.s, 0, &line, 1000), 3);
    ASSERT_EQ(memcmp(line, "bc", 3), 0);
    close_pair(&p);
}
