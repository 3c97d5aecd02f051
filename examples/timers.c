/* timers.c: time in Grove.
 *
 * Shows: grove_send_after (a message delivered later), receive with a
 * timeout, grove_cancel_timer (before and after the timer fired),
 * grove_sleep (which leaves arriving messages queued), and the rest of
 * Erlang's timer calls: grove_start_timer (the message carries the
 * timer's reference), grove_read_timer and grove_cancel_timer_left (the
 * time left), and a timer addressed to a name that is looked up when it
 * fires.
 *
 * Run:  build/release/examples/timers
 * Exits 0 when every timer fired, or did not, as described.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grove.h>

enum { TAG_TICK = 1, TAG_LATE, TAG_SOON, TAG_TIMEOUT, TAG_NAMED };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void main_process(void *arg)
{
    (void)arg;
    grove_pid_t self = grove_self();
    grove_timer_t t;
    grove_msg_t *m;
    char line[128];

    printf("grove_send_after and receive with a timeout\n");
    double t0 = now_ms();
    grove_send_after(self, 200, TAG_TICK, "tick", 5, &t);
    check(grove_recv_tag(&m, TAG_TICK, 20) == GROVE_ETIMEDOUT,
          "nothing after 20 ms: the receive timed out");
    int rc = grove_recv_tag(&m, TAG_TICK, 2000);
    double waited = now_ms() - t0;
    snprintf(line, sizeof line, "\"%s\" arrived after %.1f ms",
             rc == 0 ? (const char *)grove_msg_data(m) : "?", waited);
    check(rc == 0 && waited >= 199.0, line); /* never early */
    if (rc == 0)
        grove_msg_free(m);
    check(grove_cancel_timer(t) == GROVE_ENOTFOUND,
          "cancelling a timer that fired: GROVE_ENOTFOUND");

    printf("grove_cancel_timer\n");
    grove_send_after(self, 150, TAG_LATE, NULL, 0, &t);
    check(grove_cancel_timer(t) == 0, "cancelled before it fired");
    check(grove_recv_tag(&m, TAG_LATE, 400) == GROVE_ETIMEDOUT,
          "and its message never arrives");
    check(grove_cancel_timer(t) == GROVE_ENOTFOUND,
          "cancelling it again: GROVE_ENOTFOUND");

    printf("grove_sleep\n");
    grove_send_after(self, 10, TAG_SOON, NULL, 0, NULL);
    t0 = now_ms();
    grove_sleep(30);
    waited = now_ms() - t0;
    snprintf(line, sizeof line, "slept %.1f ms", waited);
    check(waited >= 29.0, line);
    rc = grove_recv_tag(&m, TAG_SOON, 0); /* 0: poll */
    check(rc == 0, "the message that arrived meanwhile is queued");
    if (rc == 0)
        grove_msg_free(m);

    printf("grove_start_timer, grove_read_timer, grove_cancel_timer_left\n");
    grove_timer_t a, b;
    grove_timeout_t left = 0;
    grove_start_timer(self, 30, TAG_TIMEOUT, "a", 2, &a);
    grove_start_timer(self, 5000, TAG_TIMEOUT, "b", 2, &b);
    /* Two timers with one tag: the reference tells them apart. */
    rc = grove_recv_ref(&m, grove_timer_ref(a), 2000);
    check(rc == 0 && strcmp(grove_msg_data(m), "a") == 0,
          "timer a's message, picked out by its reference");
    if (rc == 0)
        grove_msg_free(m);
    check(grove_read_timer(b, &left) == 0 && left > 4000 && left <= 5000,
          "timer b is pending, with less than 5000 ms left");
    snprintf(line, sizeof line, "cancelled timer b with %lld ms left",
             (long long)left);
    check(grove_cancel_timer_left(b, &left) == 0 && left <= 5000, line);
    check(grove_read_timer(b, &left) == GROVE_ENOTFOUND,
          "reading it now: GROVE_ENOTFOUND (Erlang's false)");

    printf("a timer to a name, looked up when it fires\n");
    grove_timer_opts_t to_name = {.name = "alarm_clock"};
    grove_send_after_opts(GROVE_PID_NONE, 30, TAG_NAMED, NULL, 0, &to_name,
                          NULL);
    grove_register("alarm_clock", self); /* after the timer was set */
    rc = grove_recv_tag(&m, TAG_NAMED, 2000);
    check(rc == 0, "it reached the process that took the name meanwhile");
    if (rc == 0)
        grove_msg_free(m);
    grove_unregister("alarm_clock");
}

int main(void)
{
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
