/* Faults stay where they happen: a poisoned connection dies alone, a
 * crashed room restarts empty and alone and its members are told, and
 * clients that misbehave at the socket level (vanish, half-close, send a
 * megabyte line, send garbage, send nothing) leak nothing and never take
 * the server down. */
#include "chat_util.h"

#if defined(GROVE_HAVE_CHAT)

#include <stdlib.h>
#include <string.h>

static grove_pid_t named(const char *name)
{
    grove_pid_t p = GROVE_PID_NONE;
    ASSERT_OK(grove_whereis(name, &p));
    return p;
}

PROC_TEST(chat_poison_kills_only_its_connection)
{
    ct_start(true);
    chat_client_t a, b;
    CT_OPEN(&a, "victim");
    CT_OPEN(&b, "witness");
    CT_JOIN(&a, "#p");
    CT_JOIN(&b, "#p");
    grove_pid_t room, before[8], after[8];
    ASSERT_OK(chat_room_pid("#p", &room));
    grove_pid_t logger = named("chat.logger");
    grove_pid_t acceptor = named("chat.acceptor");
    ASSERT_EQ(ct_conn_pids(before, 8), 2);
    CT_SEND(&a, "GROVE-POISON");
    char buf[256];
    ASSERT_ERR(chat_client_expect(&a, "never", buf, sizeof buf, 5000),
               GROVE_ECLOSED);
    CT_EXPECT(&b, ":victim!victim@127.0.0.1 QUIT :Client crashed");
    CT_WAIT_CLIENTS(1);
    /* Everything else is the same process as before. */
    ASSERT_EQ(ct_conn_pids(after, 8), 1);
    ASSERT_TRUE(grove_pid_equal(after[0], before[0]) ||
                grove_pid_equal(after[0], before[1]));
    grove_pid_t room2;
    ASSERT_OK(chat_room_pid("#p", &room2));
    ASSERT_PID_EQ(room2, room);
    ASSERT_PID_EQ(named("chat.logger"), logger);
    ASSERT_PID_EQ(named("chat.acceptor"), acceptor);
    /* The nick is free again, and the room still works. */
    chat_client_close(&a);
    CT_OPEN(&a, "victim");
    CT_JOIN(&a, "#p");
    CT_SEND(&b, "PRIVMSG #p :still here");
    CT_EXPECT(&a, "PRIVMSG #p :still here");
    chat_client_close(&a);
    chat_client_close(&b);
    ct_stop();
}

PROC_TEST(chat_room_crash_restarts_only_that_room)
{
    ct_start(true);
    chat_client_t a, b, c;
    CT_OPEN(&a, "ann");
    CT_OPEN(&b, "ben");
    CT_OPEN(&c, "cat");
    CT_JOIN(&a, "#one");
    CT_JOIN(&b, "#one");
    CT_JOIN(&b, "#two");
    CT_JOIN(&c, "#two");
    CT_SEND(&a, "TOPIC #one :before the crash");
    CT_EXPECT(&b, "TOPIC #one :before the crash");
    grove_pid_t one, two, conns[8], conns_after[8];
    ASSERT_OK(chat_room_pid("#one", &one));
    ASSERT_OK(chat_room_pid("#two", &two));
    grove_pid_t logger = named("chat.logger");
    ASSERT_EQ(ct_conn_pids(conns, 8), 3);
    CT_SEND(&a, "GROVE-CRASHROOM #one");
    /* Both members are told, and leave the channel on their side. */
    CT_EXPECT(&a, "NOTICE ann :Room #one crashed and was restarted empty");
    CT_EXPECT(&a, ":ann!ann@127.0.0.1 PART #one :Room crashed");
    CT_EXPECT(&b, "NOTICE ben :Room #one crashed");
    /* A fresh room, empty, under the same name. */
    grove_pid_t fresh = GROVE_PID_NONE;
    WAIT_UNTIL(chat_room_pid("#one", &fresh) == 0 &&
               !grove_pid_equal(fresh, one));
    CT_SEND(&a, "NAMES #one");
    CT_EXPECT(&a, " 366 ann #one ");
    CT_SEND(&a, "JOIN #one");
    CT_EXPECT(&a, " 353 ann = #one :ann");
    CT_SEND(&a, "TOPIC #one");
    CT_EXPECT(&a, " 331 ann #one :No topic is set");
    /* Nothing else moved: the other room, the clients, the logger. */
    grove_pid_t two_after;
    ASSERT_OK(chat_room_pid("#two", &two_after));
    ASSERT_PID_EQ(two_after, two);
    ASSERT_EQ(ct_conn_pids(conns_after, 8), 3);
    for (int i = 0; i < 3; i++)
        ASSERT_PID_EQ(conns_after[i], conns[i]);
    ASSERT_PID_EQ(named("chat.logger"), logger);
    CT_SEND(&c, "PRIVMSG #two :two is fine");
    CT_EXPECT(&b, "PRIVMSG #two :two is fine");
    chat_stats_t st;
    ASSERT_OK(chat_stats(&st));
    ASSERT_EQ(st.room_crashes, 2);
    chat_client_close(&a);
    chat_client_close(&b);
    chat_client_close(&c);
    ct_stop();
}

/* Writes a megabyte with no newline; the server must cut it off. */
static void big_liner(void *arg)
{
    (void)arg;
    chat_client_t c;
    if (chat_client_connect(&c, NULL, chat_port(), 5000) != 0)
        grove_exit_error(1, "connect");
    size_t n = 1 << 20;
    char *buf = malloc(n);
    memset(buf, 'A', n);
    int rc = grove_io_write(c.sock, buf, n, gt_scaled_ms(10000));
    free(buf);
    if (rc != 0 && rc != GROVE_ECLOSED)
        grove_exit_error(2, "write: %s", grove_errname(rc));
    char line[256];
    rc = chat_client_line(&c, line, sizeof line, gt_scaled_ms(5000));
    if (rc >= 0 && !strstr(line, "ERROR :Line too long"))
        grove_exit_error(3, "got \"%s\"", line);
    chat_client_close(&c);
}

PROC_TEST(chat_misbehaving_clients_leak_nothing)
{
    int port = ct_start(false);
    chat_client_t c;
    char buf[256];
    /* Connect and vanish, many times. */
    for (int i = 0; i < 50; i++) {
        ASSERT_OK(chat_client_connect(&c, NULL, port, 5000));
        chat_client_close(&c);
    }
    /* Register, join, half-close: the server ends the connection. */
    CT_OPEN(&c, "halfway");
    CT_JOIN(&c, "#x");
    ASSERT_OK(grove_io_shutdown(c.sock));
    ASSERT_ERR(chat_client_line(&c, buf, sizeof buf, 5000), GROVE_ECLOSED);
    chat_client_close(&c);
    /* A megabyte line. */
    grove_pid_t big = SPAWN_MON(big_liner, NULL, NULL);
    ASSERT_REASON_EQ(AWAIT_EXIT(big), grove_reason_normal());
    /* Garbage with NUL bytes: a malformed line ends that connection. */
    ASSERT_OK(chat_client_connect(&c, NULL, port, 5000));
    ASSERT_OK(grove_io_write(c.sock, "\x01\x00\x02 junk\r\n", 10, 1000));
    CT_EXPECT(&c, "ERROR :Malformed line");
    ASSERT_ERR(chat_client_line(&c, buf, sizeof buf, 5000), GROVE_ECLOSED);
    chat_client_close(&c);
    ASSERT_OK(chat_client_connect(&c, NULL, port, 5000));
    CT_SEND(&c, ":prefix-only");
    CT_EXPECT(&c, "ERROR :Malformed line");
    chat_client_close(&c);
    /* Silent clients stay; the server still serves others meanwhile. */
    chat_client_t quiet[5], ok;
    for (int i = 0; i < 5; i++)
        ASSERT_OK(chat_client_connect(&quiet[i], NULL, port, 5000));
    CT_OPEN(&ok, "survivor");
    CT_JOIN(&ok, "#x");
    CT_SEND(&ok, "PING :alive");
    CT_EXPECT(&ok, "PONG grove-chat :alive");
    CT_WAIT_CLIENTS(6);
    for (int i = 0; i < 5; i++)
        chat_client_close(&quiet[i]);
    chat_client_close(&ok);
    ct_stop(); /* every descriptor is back */
}

#endif
