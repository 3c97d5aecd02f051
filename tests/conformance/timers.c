/* Erlang's timer calls beyond send_after: start_timer (the message
 * carries the timer's reference), read_timer, cancel_timer's time left,
 * a destination given by name and looked up when the timer fires, and
 * absolute times ({abs, true}). */
#include <string.h>

#include "grove_test.h"

/* start_timer: the message carries the timer's reference, which no
 * other timer or reference shares, so a receive by that reference takes
 * this timer's message and leaves the others. */
PROC_TEST(timers_start_timer_carries_its_reference)
{
    grove_pid_t self = grove_self();
    grove_timer_t a, b, plain;
    ASSERT_OK(grove_start_timer(self, 10, 1, "A", 1, &a));
    ASSERT_OK(grove_start_timer(self, 10, 1, "B", 1, &b));
    ASSERT_OK(grove_send_after(self, 5, 1, "P", 1, &plain));
    ASSERT_NE(a.id, b.id);
    ASSERT_EQ(grove_timer_ref(a).id, a.id);
    grove_ref_t r = grove_make_ref();
    ASSERT_NE(r.id, a.id);
    ASSERT_NE(r.id, b.id);
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, grove_timer_ref(b), GT_WAIT_MS));
    ASSERT_EQ(grove_msg_size(m), 1);
    ASSERT_EQ(((const char *)grove_msg_data(m))[0], 'B');
    ASSERT_PID_EQ(grove_msg_from(m), self);
    grove_msg_free(m);
    ASSERT_OK(grove_recv_ref(&m, grove_timer_ref(a), GT_WAIT_MS));
    ASSERT_EQ(((const char *)grove_msg_data(m))[0], 'A');
    grove_msg_free(m);
    /* send_after's message carries no reference. */
    m = EXPECT_TAG(1);
    ASSERT_EQ(((const char *)grove_msg_data(m))[0], 'P');
    ASSERT_EQ(grove_msg_ref(m).id, 0);
    grove_msg_free(m);
    EXPECT_NO_MSG(20);
    /* Fired timers are gone. */
    ASSERT_ERR(grove_read_timer(a, NULL), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_cancel_timer(b), GROVE_ENOTFOUND);
    grove_stats_t st;
    ASSERT_OK(grove_stats(&st));
    ASSERT_EQ(st.timers_live, 0);
}

/* read_timer: the time left, never more than was asked and shrinking as
 * time passes; cancel_timer with the time left; neither works on a
 * timer that fired or was cancelled. */
PROC_TEST(timers_read_and_cancel_report_time_left)
{
    grove_pid_t self = grove_self();
    grove_timer_t t;
    grove_timeout_t left = -1, later = -1;
    ASSERT_OK(grove_send_after(self, 100000, 2, NULL, 0, &t));
    ASSERT_OK(grove_read_timer(t, &left));
    ASSERT_TRUE(left <= 100000 && left >= 100000 - gt_scaled_ms(1000));
    ASSERT_OK(grove_sleep(30));
    ASSERT_OK(grove_read_timer(t, &later));
    ASSERT_TRUE(later <= left - 30);
    ASSERT_OK(grove_read_timer(t, NULL));
    ASSERT_OK(grove_cancel_timer_left(t, &left));
    ASSERT_TRUE(left <= later && left > 0);
    ASSERT_ERR(grove_cancel_timer_left(t, &left), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_read_timer(t, &left), GROVE_ENOTFOUND);
    EXPECT_NO_MSG(20);

    /* A timer that fired reads as not found, its message delivered. */
    ASSERT_OK(grove_start_timer(self, 1, 3, NULL, 0, &t));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, grove_timer_ref(t), GT_WAIT_MS));
    grove_msg_free(m);
    ASSERT_ERR(grove_read_timer(t, &left), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_cancel_timer_left(t, NULL), GROVE_ENOTFOUND);

    /* Zero and unknown handles. */
    ASSERT_ERR(grove_read_timer((grove_timer_t){0}, &left), GROVE_ENOTFOUND);
    ASSERT_ERR(grove_read_timer((grove_timer_t){UINT64_C(1) << 62}, &left),
               GROVE_ENOTFOUND);
    ASSERT_EQ(grove_timer_ref((grove_timer_t){0}).id, 0);
}

/* A timer to a name: the name is looked up when the timer fires, so it
 * reaches whoever holds the name then, and is dropped when nobody does. */
PROC_TEST(timers_named_destination_resolved_on_firing)
{
    grove_pid_t self = grove_self();
    grove_timer_opts_t o = {.name = "timer_dest"};
    grove_timer_t t;
    /* Nobody holds the name when the timer is set. */
    ASSERT_OK(grove_send_after_opts(GROVE_PID_NONE, 40, 4, "n", 1, &o, &t));
    ASSERT_OK(grove_register("timer_dest", self));
    grove_msg_t *m = EXPECT_TAG(4);
    ASSERT_EQ(((const char *)grove_msg_data(m))[0], 'n');
    grove_msg_free(m);

    /* The holder changes before it fires: the new holder gets it. */
    grove_pid_t echo = SPAWN_ECHO(self, NULL);
    ASSERT_OK(grove_send_after_opts(GROVE_PID_NONE, 40, 5, NULL, 0, &o, &t));
    ASSERT_OK(grove_unregister("timer_dest"));
    ASSERT_OK(grove_register("timer_dest", echo));
    gt_fwd_t f = EXPECT_FWD(echo);
    ASSERT_EQ(f.tag, 5);
    ASSERT_OK(grove_unregister("timer_dest"));

    /* Nobody holds it when it fires: dropped, nothing left pending. */
    ASSERT_OK(grove_send_after_opts(GROVE_PID_NONE, 5, 6, NULL, 0, &o, &t));
    WAIT_UNTIL(grove_read_timer(t, NULL) == GROVE_ENOTFOUND);
    EXPECT_NO_MSG(30);
    STOP_ECHO(echo);

    /* With start_timer's reference as well. */
    o.with_ref = true;
    ASSERT_OK(grove_register("timer_dest", self));
    ASSERT_OK(grove_send_after_opts(GROVE_PID_NONE, 1, 7, NULL, 0, &o, &t));
    ASSERT_OK(grove_recv_ref(&m, grove_timer_ref(t), GT_WAIT_MS));
    ASSERT_EQ(grove_msg_tag(m), 7);
    grove_msg_free(m);
    ASSERT_OK(grove_unregister("timer_dest"));
}

/* {abs, true}: the time is on grove_now_ms()'s clock; it fires once the
 * clock has passed it, and a time already past fires at once. */
PROC_TEST(timers_absolute_times)
{
    grove_pid_t self = grove_self();
    grove_timer_opts_t o = {.abs = true};
    grove_timer_t t;
    uint64_t at = grove_now_ms() + 50;
    ASSERT_OK(grove_send_after_opts(self, (grove_timeout_t)at, 8, NULL, 0,
                                    &o, &t));
    grove_timeout_t left;
    ASSERT_OK(grove_read_timer(t, &left));
    ASSERT_TRUE(left <= 50);
    grove_msg_t *m = EXPECT_TAG(8);
    grove_msg_free(m);
    ASSERT_TRUE(grove_now_ms() > at);

    /* In the past (time 0 is the runtime's start): at once. */
    ASSERT_OK(grove_send_after_opts(self, 0, 9, NULL, 0, &o, &t));
    m = EXPECT_TAG(9);
    grove_msg_free(m);

    /* Far in the future: pending until cancelled. */
    ASSERT_OK(grove_send_after_opts(self, (grove_timeout_t)at + 1000000, 10,
                                    NULL, 0, &o, &t));
    ASSERT_OK(grove_read_timer(t, &left));
    ASSERT_TRUE(left > 900000 && left <= 1000000);
    ASSERT_OK(grove_cancel_timer(t));
    EXPECT_NO_MSG(20);
}

/* Bad arguments: refused, nothing set. */
PROC_TEST(timers_opts_bad_input)
{
    grove_pid_t self = grove_self();
    grove_timer_t t = {0};
    grove_timer_opts_t named = {.name = "x"};
    grove_timer_opts_t empty = {.name = ""};
    char long_name[GROVE_NAME_MAX + 1];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    grove_timer_opts_t too_long = {.name = long_name};
    ASSERT_ERR(grove_send_after_opts(self, 10, 1, NULL, 0, &named, &t),
               GROVE_EINVAL); /* a pid and a name */
    ASSERT_ERR(grove_send_after_opts(GROVE_PID_NONE, 10, 1, NULL, 0, NULL,
                                     &t),
               GROVE_EINVAL); /* neither */
    ASSERT_ERR(grove_send_after_opts(GROVE_PID_NONE, 10, 1, NULL, 0, &empty,
                                     &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_after_opts(GROVE_PID_NONE, 10, 1, NULL, 0,
                                     &too_long, &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_send_after_opts(GROVE_PID_NONE, -5, 1, NULL, 0, &named,
                                     &t),
               GROVE_EINVAL);
    ASSERT_ERR(grove_start_timer(self, 10, 1, NULL, 3, &t), GROVE_EINVAL);
    ASSERT_ERR(grove_start_timer(GROVE_PID_NONE, 10, 1, NULL, 0, &t),
               GROVE_EINVAL);
    ASSERT_EQ(t.id, 0);
    grove_stats_t st;
    ASSERT_OK(grove_stats(&st));
    ASSERT_EQ(st.timers_live, 0);
    EXPECT_NO_MSG(20);
}
