/* Readiness messages (grove_io_arm): one message per arm, carrying the
 * handle; a blocking call meanwhile keeps the arm; many sockets served by
 * one process. */
#include <string.h>

#include "io_util.h"

#define TAG_READY 0x494f000000000030ull

PROC_TEST(io_arm_sends_one_message)
{
    grove_io_t l, c, s;
    io_pair_local(&l, &c, &s);
    ASSERT_OK(grove_io_arm(s, GROVE_IO_READABLE, TAG_READY));
    EXPECT_NO_MSG(30);
    ASSERT_OK(grove_io_write(c, "a\nb\n", 4, 1000));
    grove_msg_t *m = EXPECT_TAG(TAG_READY);
    grove_io_t h;
    ASSERT_EQ(grove_msg_size(m), sizeof h);
    memcpy(&h, grove_msg_data(m), sizeof h);
    ASSERT_EQ(h.id, s.id);
    grove_msg_free(m);
    /* Spent: more data brings nothing until armed again. */
    ASSERT_OK(grove_io_write(c, "c\n", 2, 1000));
    EXPECT_NO_MSG(30);
    EXPECT_LINE(s, "a\n");
    EXPECT_LINE(s, "b\n");
    EXPECT_LINE(s, "c\n");
    const char *line;
    ASSERT_ERR(grove_io_read_until(s, '\n', &line, 0), GROVE_ETIMEDOUT);
    ASSERT_OK(grove_io_arm(s, GROVE_IO_READABLE, TAG_READY));
    EXPECT_NO_MSG(30);
    /* A peer that closes makes it readable too. */
    grove_io_close(c);
    grove_msg_free(EXPECT_TAG(TAG_READY));
    ASSERT_ERR(grove_io_read_until(s, '\n', &line, 0), GROVE_ECLOSED);
    grove_io_close(s);
    grove_io_close(l);
}

/* Readiness reports are edges: data that came while nobody waited must
 * still answer an arm at once, and a blocking read after it must not
 * wait for an edge that already went by. */
PROC_TEST(io_arm_when_already_readable)
{
    grove_io_t l, c, s;
    io_pair_local(&l, &c, &s);
    ASSERT_OK(grove_io_write(c, "x\n", 2, 1000));
    EXPECT_NO_MSG(50); /* the report comes and finds nobody */
    ASSERT_OK(grove_io_arm(s, GROVE_IO_READABLE, TAG_READY));
    grove_msg_free(EXPECT_TAG(TAG_READY));
    EXPECT_NO_MSG(30); /* one message per arm, not one per look */
    EXPECT_LINE(s, "x\n");
    /* Writable from the start, armed late. */
    ASSERT_OK(grove_io_arm(s, GROVE_IO_WRITABLE, TAG_READY));
    grove_msg_free(EXPECT_TAG(TAG_READY));
    /* Data that arrived before a blocking read even started. */
    ASSERT_OK(grove_io_write(c, "y\n", 2, 1000));
    EXPECT_NO_MSG(50);
    EXPECT_LINE(s, "y\n");
    grove_io_close(c);
    grove_io_close(s);
    grove_io_close(l);
}

PROC_TEST(io_arm_survives_a_blocking_write)
{
    grove_io_t l, c, s;
    io_pair_local(&l, &c, &s);
    ASSERT_OK(grove_io_arm(s, GROVE_IO_READABLE, TAG_READY));
    /* Fill the pipe so the write parks, then let the peer drain it. */
    static char big[1 << 20];
    int rc = 0;
    for (int i = 0; i < 256 && rc == 0; i++)
        rc = grove_io_write(s, big, sizeof big, 50);
    ASSERT_ERR(rc, GROVE_ETIMEDOUT);
    ASSERT_OK(grove_io_write(c, "x\n", 2, 1000));
    grove_msg_free(EXPECT_TAG(TAG_READY));
    grove_io_close(c);
    grove_io_close(s);
    grove_io_close(l);
}

PROC_TEST(io_arm_writable)
{
    grove_io_t l, c;
    int port = io_listen_local(&l);
    ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c, 5000));
    ASSERT_OK(grove_io_arm(c, GROVE_IO_WRITABLE, TAG_READY));
    grove_msg_free(EXPECT_TAG(TAG_READY));
    grove_io_close(c);
    /* A message already sent for a closed socket is harmless. */
    grove_io_close(l);
}

/* One process serves many sockets by readiness messages alone. */
PROC_TEST(io_one_process_many_sockets)
{
    enum { N = 50 };
    grove_io_t l, c[N], s[N];
    int port = io_listen_local(&l);
    for (int i = 0; i < N; i++) {
        ASSERT_OK(grove_io_connect_tcp("127.0.0.1", port, &c[i], 5000));
        ASSERT_OK(grove_io_accept(l, &s[i], 5000));
        ASSERT_OK(grove_io_arm(s[i], GROVE_IO_READABLE, TAG_READY));
    }
    for (int i = N - 1; i >= 0; i--) {
        char line[16];
        int n = snprintf(line, sizeof line, "%d\n", i);
        ASSERT_OK(grove_io_write(c[i], line, (size_t)n, 1000));
    }
    int seen = 0;
    while (seen < N) {
        grove_msg_t *m = EXPECT_TAG(TAG_READY);
        grove_io_t h;
        memcpy(&h, grove_msg_data(m), sizeof h);
        grove_msg_free(m);
        const char *line;
        int n = grove_io_read_until(h, '\n', &line, 0);
        ASSERT_GT(n, 0);
        seen++;
    }
    for (int i = 0; i < N; i++) {
        grove_io_close(c[i]);
        grove_io_close(s[i]);
    }
    grove_io_close(l);
}
