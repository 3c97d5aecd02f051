/* The chat server speaks enough IRC for ordinary clients: registration
 * and its numerics, channel commands, messages to channels and nicks, and
 * the error replies clients rely on. */
#include "chat_util.h"

#if defined(GROVE_HAVE_CHAT)

#include <string.h>

PROC_TEST(chat_registration)
{
    ct_start(false);
    chat_client_t c;
    ASSERT_OK(chat_client_connect(&c, NULL, chat_port(), 5000));
    strcpy(c.nick, "*");
    CT_SEND(&c, "JOIN #early");
    CT_EXPECT(&c, " 451 * :You have not registered");
    CT_SEND(&c, "CAP LS 302");
    CT_EXPECT(&c, " CAP * LS :");
    CT_SEND(&c, "NICK");
    CT_EXPECT(&c, " 431 ");
    CT_SEND(&c, "NICK 9lives");
    CT_EXPECT(&c, " 432 * 9lives :Erroneous nickname");
    CT_SEND(&c, "USER only two");
    CT_EXPECT(&c, " 461 * USER :Not enough parameters");
    CT_SEND(&c, "NICK alice");
    CT_SEND(&c, "USER alice 0 * :Alice Liddell");
    /* Registration waits for the end of capability negotiation. */
    CT_QUIET(&c, 50);
    CT_SEND(&c, "CAP END");
    CT_EXPECT(&c, ":grove-chat 001 alice :Welcome");
    CT_EXPECT(&c, " 002 alice ");
    CT_EXPECT(&c, " 003 alice ");
    CT_EXPECT(&c, " 004 alice grove-chat ");
    CT_EXPECT(&c, " 005 alice ");
    CT_EXPECT(&c, " 422 alice ");
    CT_SEND(&c, "USER again 0 * :x");
    CT_EXPECT(&c, " 462 alice ");
    CT_SEND(&c, "PING :token-1");
    CT_EXPECT(&c, "PONG grove-chat :token-1");
    CT_SEND(&c, "PING");
    CT_EXPECT(&c, " 409 alice ");
    CT_SEND(&c, "FROBNICATE now");
    CT_EXPECT(&c, " 421 alice FROBNICATE :Unknown command");
    CT_SEND(&c, "GROVE-POISON"); /* not enabled: just unknown */
    CT_EXPECT(&c, " 421 alice GROVE-POISON ");
    CT_SEND(&c, "MODE alice");
    CT_EXPECT(&c, " 221 alice +");
    CT_SEND(&c, "QUIT :done here");
    CT_EXPECT(&c, "ERROR :Closing Link: 127.0.0.1 (Quit: done here)");
    char buf[64];
    ASSERT_ERR(chat_client_line(&c, buf, sizeof buf, 5000), GROVE_ECLOSED);
    chat_client_close(&c);
    ct_stop();
}

PROC_TEST(chat_nicks)
{
    ct_start(false);
    chat_client_t a, b;
    CT_OPEN(&a, "alice");
    ASSERT_ERR(chat_client_open(&b, NULL, chat_port(), "ALICE", 5000),
               GROVE_EEXIST); /* case-insensitive (rfc1459) */
    CT_OPEN(&b, "bob");
    CT_SEND(&b, "NICK Alice");
    CT_EXPECT(&b, " 433 bob Alice :Nickname is already in use");
    CT_JOIN(&a, "#room");
    CT_JOIN(&b, "#room");
    CT_EXPECT(&a, ":bob!bob@127.0.0.1 JOIN #room");
    CT_SEND(&b, "NICK robert");
    CT_EXPECT(&b, ":bob!bob@127.0.0.1 NICK :robert");
    CT_EXPECT(&a, ":bob!bob@127.0.0.1 NICK :robert");
    strcpy(b.nick, "robert");
    /* The old nick is free again; the new one is taken. */
    CT_SEND(&a, "PRIVMSG bob :anyone?");
    CT_EXPECT(&a, " 401 alice bob :No such nick/channel");
    CT_SEND(&a, "PRIVMSG robert :hi robert");
    CT_EXPECT(&b, ":alice!alice@127.0.0.1 PRIVMSG robert :hi robert");
    CT_SEND(&b, "NAMES #room");
    char l[1024];
    CT_EXPECT_INTO(&b, " 353 robert = #room :", l);
    if (!strstr(l, "alice") || !strstr(l, "robert"))
        GT_FAIL("names: %s", l);
    CT_EXPECT(&b, " 366 robert #room :End of NAMES list");
    chat_client_close(&a);
    CT_EXPECT(&b, ":alice!alice@127.0.0.1 QUIT :Connection closed");
    chat_client_close(&b);
    ct_stop();
}

PROC_TEST(chat_channels)
{
    ct_start(false);
    chat_client_t a, b;
    CT_OPEN(&a, "alice");
    CT_OPEN(&b, "bob");
    CT_SEND(&a, "JOIN bad");
    CT_EXPECT(&a, " 403 alice bad :No such channel");
    CT_SEND(&a, "JOIN #lobby");
    CT_EXPECT(&a, ":alice!alice@127.0.0.1 JOIN #lobby");
    CT_EXPECT(&a, " 353 alice = #lobby :alice");
    CT_EXPECT(&a, " 366 alice #lobby ");
    CT_SEND(&a, "TOPIC #lobby");
    CT_EXPECT(&a, " 331 alice #lobby :No topic is set");
    CT_SEND(&b, "TOPIC #lobby");
    CT_EXPECT(&b, " 442 bob #lobby :You're not on that channel");
    CT_SEND(&b, "TOPIC #nowhere");
    CT_EXPECT(&b, " 403 bob #nowhere ");
    CT_SEND(&b, "PRIVMSG #lobby :let me in");
    CT_EXPECT(&b, " 404 bob #lobby :Cannot send to channel");
    CT_SEND(&b, "PART #lobby");
    CT_EXPECT(&b, " 442 bob #lobby ");
    CT_SEND(&b, "PART #nowhere");
    CT_EXPECT(&b, " 403 bob #nowhere ");
    CT_SEND(&a, "TOPIC #lobby :Grove talk");
    CT_EXPECT(&a, ":alice!alice@127.0.0.1 TOPIC #lobby :Grove talk");
    CT_JOIN(&b, "#lobby");
    CT_SEND(&b, "TOPIC #lobby");
    CT_EXPECT(&b, " 332 bob #lobby :Grove talk");
    CT_SEND(&b, "LIST");
    CT_EXPECT(&b, " 321 bob Channel :Users");
    CT_EXPECT(&b, " 322 bob #lobby 2 :Grove talk");
    CT_EXPECT(&b, " 323 bob :End of LIST");
    CT_SEND(&a, "PRIVMSG");
    CT_EXPECT(&a, " 411 alice ");
    CT_SEND(&a, "PRIVMSG #lobby");
    CT_EXPECT(&a, " 412 alice ");
    CT_SEND(&a, "PRIVMSG #nowhere :x");
    CT_EXPECT(&a, " 401 alice #nowhere ");
    CT_SEND(&a, "NOTICE #nowhere :no error for notices");
    CT_SEND(&a, "PRIVMSG #lobby :hello all");
    CT_EXPECT(&b, ":alice!alice@127.0.0.1 PRIVMSG #lobby :hello all");
    CT_SEND(&a, "NOTICE #lobby :a notice");
    CT_EXPECT(&b, ":alice!alice@127.0.0.1 NOTICE #lobby :a notice");
    CT_QUIET(&a, 30); /* no echo, no error for the notice */
    CT_SEND(&b, "PART #lobby :see you");
    CT_EXPECT(&b, ":bob!bob@127.0.0.1 PART #lobby :see you");
    CT_EXPECT(&a, ":bob!bob@127.0.0.1 PART #lobby :see you");
    CT_SEND(&b, "MODE #lobby");
    CT_EXPECT(&b, " 324 bob #lobby +");
    CT_SEND(&b, "WHO #lobby");
    CT_EXPECT(&b, " 315 bob #lobby ");
    /* The last member leaving ends the room. */
    grove_pid_t room;
    ASSERT_OK(chat_room_pid("#lobby", &room));
    WATCH(room);
    CT_SEND(&a, "JOIN 0");
    CT_EXPECT(&a, ":alice!alice@127.0.0.1 PART #lobby");
    ASSERT_REASON_EQ(AWAIT_EXIT(room), grove_reason_normal());
    ASSERT_ERR(chat_room_pid("#lobby", &room), GROVE_ENOTFOUND);
    chat_client_close(&a);
    chat_client_close(&b);
    ct_stop();
}

#endif
