/* selective_receive.c: taking the message you want, not the oldest one.
 *
 * Shows three ways to pick a message out of the mailbox; the ones not
 * picked stay queued in their order:
 *   1. by tag (grove_recv_tag);
 *   2. by reference: grove_make_ref + grove_send_ref + grove_recv_ref, the
 *      request/reply pattern, which finds the reply to this request
 *      among unrelated traffic;
 *   3. by predicate (grove_recv_match), and grove_flush with one.
 *
 * Run:  build/release/examples/selective_receive
 * Exits 0 when every receive picked the message described.
 */
#include <stdio.h>

#include <grove.h>

enum { TAG_LOW = 1, TAG_HIGH, TAG_NOISE, TAG_SQUARE, TAG_RESULT, TAG_NUM };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static int msg_int(const grove_msg_t *m)
{
    return *(const int *)grove_msg_data(m);
}

/* Takes the oldest message without waiting and returns its number, or -1
 * when the mailbox is empty. */
static int take_any(void)
{
    grove_msg_t *m;
    if (grove_recv(&m, 0) != 0)
        return -1;
    int v = msg_int(m);
    grove_msg_free(m);
    return v;
}

/* The same for the oldest message with this tag, waiting up to 1 s. */
static int take_tag(uint64_t tag)
{
    grove_msg_t *m;
    if (grove_recv_tag(&m, tag, 1000) != 0)
        return -1;
    int v = msg_int(m);
    grove_msg_free(m);
    return v;
}

/* ... for the message carrying this reference ... */
static int take_ref(grove_ref_t ref)
{
    grove_msg_t *m;
    if (grove_recv_ref(&m, ref, 1000) != 0)
        return -1;
    int v = msg_int(m);
    grove_msg_free(m);
    return v;
}

/* ... and for the oldest message match() accepts, without waiting. */
static int take_match(grove_match_fn match, void *arg)
{
    grove_msg_t *m;
    if (grove_recv_match(&m, match, arg, 0) != 0)
        return -1;
    int v = msg_int(m);
    grove_msg_free(m);
    return v;
}

/* ---- 1. by tag ----------------------------------------------------------- */

static void by_tag(void)
{
    printf("1. by tag\n");
    grove_pid_t self = grove_self();
    int v[] = {1, 2, 3};
    grove_send(self, TAG_LOW, &v[0], sizeof v[0]);
    grove_send(self, TAG_LOW, &v[1], sizeof v[1]);
    grove_send(self, TAG_HIGH, &v[2], sizeof v[2]);

    check(take_tag(TAG_HIGH) == 3,
          "the TAG_HIGH message first, though it was sent last");
    int a = take_any(), b = take_any();
    check(a == 1 && b == 2, "the others are still there, in order");
}

/* ---- 2. by reference ----------------------------------------------------- */

/* Squares numbers; answers with the request's reference. */
static void squarer(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        grove_recv(&m, GROVE_INFINITY);
        int x = msg_int(m), sq = x * x;
        grove_send_ref(grove_msg_from(m), TAG_RESULT, grove_msg_ref(m), &sq,
                       sizeof sq);
        grove_msg_free(m);
    }
}

/* Sends 50 messages to the pid it is given: traffic unrelated to the
 * replies we wait for, some of it with the very same tag. */
static void noisy(void *arg)
{
    grove_pid_t to = *(const grove_pid_t *)arg;
    int junk = -1;
    for (int i = 0; i < 50; i++)
        grove_send(to, i % 2 ? TAG_RESULT : TAG_NOISE, &junk, sizeof junk);
}

static void by_ref(void)
{
    printf("2. by reference\n");
    grove_pid_t self = grove_self(), sq;
    grove_ref_t noisy_ref;
    grove_spawn_opts_t mon = {.monitor = true, .monitor_ref = &noisy_ref};
    grove_spawn(squarer, NULL, NULL, &sq);
    grove_spawn(noisy, &self, &mon, NULL);

    /* Two requests in flight, each with a fresh reference. */
    int x1 = 7, x2 = 12;
    grove_ref_t r1 = grove_make_ref();
    grove_send_ref(sq, TAG_SQUARE, r1, &x1, sizeof x1);
    grove_ref_t r2 = grove_make_ref();
    grove_send_ref(sq, TAG_SQUARE, r2, &x2, sizeof x2);

    /* Take the replies in the opposite order; the noise is skipped. */
    check(take_ref(r2) == 144,
          "the reply to the second request: 12 * 12 = 144");
    check(take_ref(r1) == 49, "the reply to the first request: 7 * 7 = 49");
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    grove_exit_signal(sq, &shutdown);

    /* Once the noisy process's DOWN is here, so is all it sent (one
     * sender's messages arrive in order). Then grove_flush with no
     * predicate drops the noise. */
    grove_msg_t *m;
    if (grove_recv_ref(&m, noisy_ref, 1000) == 0)
        grove_msg_free(m);
    int dropped = grove_flush(NULL, NULL);
    char line[96];
    snprintf(line, sizeof line, "grove_flush dropped the %d noise messages",
             dropped);
    check(dropped == 50, line);
}

/* ---- 3. by predicate ----------------------------------------------------- */

static bool above(const grove_msg_t *m, void *arg)
{
    return grove_msg_tag(m) == TAG_NUM && msg_int(m) > *(const int *)arg;
}

static bool is_odd(const grove_msg_t *m, void *arg)
{
    (void)arg;
    return grove_msg_tag(m) == TAG_NUM && msg_int(m) % 2 != 0;
}

static void by_predicate(void)
{
    printf("3. by predicate\n");
    grove_pid_t self = grove_self();
    int nums[] = {5, 42, 8, 150, 3, 999, 16};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        grove_send(self, TAG_NUM, &nums[i], sizeof nums[i]);

    int limit = 100;
    check(take_match(above, &limit) == 150,
          "the oldest number above 100 is 150");
    check(take_match(above, &limit) == 999, "the next one is 999");
    grove_msg_t *m;
    check(grove_recv_match(&m, above, &limit, 0) == GROVE_ETIMEDOUT,
          "no third one: the poll times out at once");

    int odd = grove_flush(is_odd, NULL);
    int a = take_any(), b = take_any(), c = take_any(), d = take_any();
    check(odd == 2 && a == 42 && b == 8 && c == 16 && d == -1,
          "grove_flush(is_odd) removed 5 and 3; 42, 8, 16 remain in order");
}

static void main_process(void *arg)
{
    (void)arg;
    by_tag();
    by_ref();
    by_predicate();
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
