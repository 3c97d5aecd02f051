/* monitors.c: watching a process without being tied to its fate.
 *
 * Shows:
 *   1. grove_monitor, then a DOWN message carrying the monitor's
 *      reference, the dead process's pid and its exit reason;
 *   2. monitoring a pid that is already dead: DOWN with reason noproc;
 *   3. grove_demonitor before the process dies: no DOWN ever arrives;
 *   4. grove_demonitor with GROVE_DEMONITOR_FLUSH after the DOWN was
 *      already queued: the flush removes it from the mailbox;
 *   5. a gen_server started with a monitor (gen_server:start_monitor):
 *      the monitor exists from the spawn on, so a server that stops
 *      right after init still reports its own reason, not noproc.
 *
 * Run:  build/release/examples/monitors
 * Exits 0 when every monitor behaved as described above.
 */
#include <stdio.h>

#include <grove.h>

enum { TAG_QUIT = 1 };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* Waits for TAG_QUIT, then exits with the application error given. */
static void worker(void *arg)
{
    int code = *(const int *)arg;
    grove_msg_t *m;
    grove_recv_tag(&m, TAG_QUIT, GROVE_INFINITY);
    if (code == 0)
        return; /* normal */
    grove_exit_error(code, "job %d failed", code);
}

static grove_pid_t spawn_worker(const int *code)
{
    grove_pid_t pid;
    grove_spawn(worker, (void *)code, NULL, &pid);
    return pid;
}

/* A predicate for grove_recv_match that never takes a message: it only
 * notes whether a DOWN for the given monitor is queued. */
struct peek {
    grove_ref_t ref;
    bool seen;
};

static bool note_down(const grove_msg_t *m, void *arg)
{
    struct peek *pk = arg;
    if (grove_msg_kind(m) == GROVE_MSG_DOWN &&
        grove_msg_ref(m).id == pk->ref.id)
        pk->seen = true;
    return false;
}

/* A server that stops as soon as it has started: init queues it a
 * message, and the message stops it. */
static grove_gs_ret_t brief_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    grove_send(grove_self(), TAG_QUIT, NULL, 0);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t brief_info(grove_gs_t *gs, const grove_msg_t *m)
{
    (void)gs;
    (void)m;
    return GROVE_GS_STOP(grove_reason_error(5, "done at once"));
}

static const grove_gs_callbacks_t brief_server = {
    .name = "brief",
    .init = brief_init,
    .handle_info = brief_info,
};

static void main_process(void *arg)
{
    (void)arg;
    static const int failing = 3, clean = 0;
    grove_msg_t *m;
    grove_ref_t ref, ref2;
    char pid[GROVE_PID_STR_MAX], why[160], line[256];

    printf("1. monitor, then DOWN with the reason\n");
    grove_pid_t w = spawn_worker(&failing);
    grove_monitor(w, &ref);
    grove_send(w, TAG_QUIT, NULL, 0);
    if (grove_recv_ref(&m, ref, 2000) == 0) {
        grove_reason_t want = grove_reason_error(3, "job 3 failed");
        grove_reason_format(grove_msg_reason(m), why, sizeof why);
        snprintf(line, sizeof line, "DOWN for %s: %s",
                 grove_pid_format(grove_msg_from(m), pid, sizeof pid), why);
        check(grove_msg_kind(m) == GROVE_MSG_DOWN &&
                  grove_pid_equal(grove_msg_from(m), w) &&
                  grove_reason_equal(grove_msg_reason(m), &want),
              line);
        grove_msg_free(m);
    } else {
        check(false, "a DOWN message");
    }

    printf("2. monitoring a dead pid\n");
    grove_monitor(w, &ref); /* w is dead by now */
    if (grove_recv_ref(&m, ref, 2000) == 0) {
        grove_reason_format(grove_msg_reason(m), why, sizeof why);
        snprintf(line, sizeof line, "DOWN at once, reason %s", why);
        check(grove_msg_reason(m)->kind == GROVE_EXIT_NOPROC, line);
        grove_msg_free(m);
    } else {
        check(false, "a DOWN message with noproc");
    }

    printf("3. demonitor before the process dies\n");
    w = spawn_worker(&clean);
    grove_monitor(w, &ref);
    grove_monitor(w, &ref2); /* a second, independent monitor */
    int had_not_fired = grove_demonitor(ref, GROVE_DEMONITOR_INFO);
    check(had_not_fired == 1, "grove_demonitor says it removed a live one");
    grove_send(w, TAG_QUIT, NULL, 0);
    bool down2 = grove_recv_ref(&m, ref2, 2000) == 0;
    if (down2)
        grove_msg_free(m);
    check(down2, "the other monitor still fires");
    check(grove_recv_ref(&m, ref, 100) == GROVE_ETIMEDOUT,
          "no DOWN for the removed monitor");

    printf("4. demonitor with flush after the DOWN was queued\n");
    w = spawn_worker(&clean);
    grove_monitor(w, &ref);
    grove_send(w, TAG_QUIT, NULL, 0);
    /* Wait until the DOWN is in the mailbox, leaving it there. */
    struct peek pk = {.ref = ref};
    for (int i = 0; i < 200 && !pk.seen; i++)
        grove_recv_match(&m, note_down, &pk, 10);
    check(pk.seen, "the DOWN is queued");
    int removed = grove_demonitor(ref, GROVE_DEMONITOR_FLUSH |
                                           GROVE_DEMONITOR_INFO);
    check(removed == 0, "grove_demonitor says the monitor had fired");
    check(grove_recv_ref(&m, ref, 0) == GROVE_ETIMEDOUT,
          "the flush removed the queued DOWN");

    printf("5. start_monitor: a gen_server watched from its spawn on\n");
    grove_gs_opts_t opts = {.monitor = true, .monitor_ref = &ref};
    grove_reason_t start_why;
    int rc = grove_gs_start(&brief_server, NULL, &opts, &w, &start_why);
    check(rc == 0 && ref.id != 0, "started, with the monitor's reference");
    if (rc == 0 && grove_recv_ref(&m, ref, 2000) == 0) {
        grove_reason_format(grove_msg_reason(m), why, sizeof why);
        snprintf(line, sizeof line, "DOWN with its own reason: %s", why);
        check(grove_msg_reason(m)->kind == GROVE_EXIT_ERROR &&
                  grove_msg_reason(m)->code == 5,
              line);
        grove_msg_free(m);
    } else {
        check(false, "a DOWN from the started server");
    }
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
