/* links.c: links and exit signals.
 *
 * Shows:
 *   1. a linked worker that crashes takes its non-trapping partner down
 *      with it, with the same reason;
 *   2. a process that traps exits receives each linked process's exit as
 *      an EXIT message carrying the reason (normal included) instead;
 *   3. grove_exit_signal: a normal reason is ignored by a non-trapping
 *      process, any other reason kills it, a trapping process gets it as a
 *      message, and kill cannot be trapped (the target dies with killed).
 *
 * Run:  build/release/examples/links
 * Exits 0 when every signal had the effect described above.
 */
#include <stdio.h>

#include <grove.h>

enum { TAG_PING = 1, TAG_PONG, TAG_CRASH, TAG_READY, TAG_GOT_EXIT };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static const char *fmt_reason(const grove_reason_t *r, char *buf,
                              size_t size)
{
    grove_reason_format(r, buf, size);
    return buf;
}

/* ---- 1. a crash spreads along links -------------------------------------- */

/* Crashes with an application error when told to. */
static void worker(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    grove_recv_tag(&m, TAG_CRASH, GROVE_INFINITY);
    grove_exit_error(42, "worker gave up");
}

/* Links itself to a worker, reports the worker's pid and waits. It does
 * not trap exits, so the worker's crash ends it too. */
static void partner(void *arg)
{
    grove_pid_t parent = *(const grove_pid_t *)arg;
    grove_pid_t w;
    grove_spawn_opts_t o = {.link = true};
    grove_spawn(worker, NULL, &o, &w);
    grove_send(parent, TAG_READY, &w, sizeof w);
    grove_msg_t *m;
    grove_recv(&m, GROVE_INFINITY); /* never returns: the link ends us */
    grove_exit_error(1, "the partner outlived its worker");
}

static void crash_spreads(void)
{
    printf("1. a crash spreads along links\n");
    grove_pid_t self = grove_self(), p, w;
    grove_spawn_opts_t o = {.link = true};
    grove_spawn(partner, &self, &o, &p);

    grove_msg_t *m;
    grove_recv_tag(&m, TAG_READY, GROVE_INFINITY);
    w = *(const grove_pid_t *)grove_msg_data(m);
    grove_msg_free(m);

    grove_send(w, TAG_CRASH, NULL, 0);
    /* We trap exits, so the partner's death reaches us as a message. */
    if (grove_recv(&m, 2000) != 0) {
        check(false, "an EXIT message from the partner");
        return;
    }
    const grove_reason_t *r = grove_msg_reason(m);
    grove_reason_t want = grove_reason_error(42, "worker gave up");
    char buf[160], line[320];
    snprintf(line, sizeof line, "partner exited with the worker's reason %s",
             fmt_reason(r, buf, sizeof buf));
    check(grove_msg_kind(m) == GROVE_MSG_EXIT &&
              grove_pid_equal(grove_msg_from(m), p) &&
              grove_reason_equal(r, &want),
          line);
    check(!grove_is_alive(w) && !grove_is_alive(p),
          "worker and partner are both gone");
    grove_msg_free(m);
}

/* ---- 2. trapping exits --------------------------------------------------- */

static void exit_with(void *arg)
{
    grove_exit((const grove_reason_t *)arg);
}

static void trapping_parent(void)
{
    printf("2. a trapping parent receives EXIT messages\n");
    /* These reasons must outlive the children: they are static. */
    static grove_reason_t reasons[3];
    reasons[0] = grove_reason_normal();
    reasons[1] = grove_reason_shutdown("maintenance");
    reasons[2] = grove_reason_error(7, "disk full");
    grove_pid_t kids[3];
    grove_spawn_opts_t o = {.link = true};
    for (int i = 0; i < 3; i++)
        grove_spawn(exit_with, &reasons[i], &o, &kids[i]);

    /* The EXITs may arrive in any order: match each by its sender. */
    for (int n = 0; n < 3; n++) {
        grove_msg_t *m;
        if (grove_recv(&m, 2000) != 0) {
            check(false, "an EXIT message per child");
            return;
        }
        for (int i = 0; i < 3; i++) {
            if (!grove_pid_equal(grove_msg_from(m), kids[i]))
                continue;
            char pid[GROVE_PID_STR_MAX], buf[160], line[320];
            snprintf(line, sizeof line, "EXIT from %s: %s",
                     grove_pid_format(kids[i], pid, sizeof pid),
                     fmt_reason(grove_msg_reason(m), buf, sizeof buf));
            check(grove_msg_kind(m) == GROVE_MSG_EXIT &&
                      grove_reason_equal(grove_msg_reason(m), &reasons[i]),
                  line);
        }
        grove_msg_free(m);
    }
}

/* ---- 3. grove_exit_signal ------------------------------------------------ */

/* Answers pings; when it traps exits, reports each EXIT message it gets
 * back to the process that sent the signal. */
static void sitter(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        grove_recv(&m, GROVE_INFINITY);
        if (grove_msg_kind(m) == GROVE_MSG_EXIT)
            grove_send(grove_msg_from(m), TAG_GOT_EXIT, grove_msg_reason(m),
                       sizeof(grove_reason_t));
        else if (grove_msg_tag(m) == TAG_PING)
            grove_send(grove_msg_from(m), TAG_PONG, NULL, 0);
        grove_msg_free(m);
    }
}

static grove_pid_t spawn_sitter(bool trap, grove_ref_t *mref)
{
    grove_pid_t pid;
    grove_spawn_opts_t o = {.trap_exit = trap, .monitor = true,
                            .monitor_ref = mref};
    grove_spawn(sitter, NULL, &o, &pid);
    return pid;
}

/* True when pid answers a ping. Signals and messages from one sender
 * arrive in order, so a pong also proves an earlier signal was handled. */
static bool answers_ping(grove_pid_t pid)
{
    grove_msg_t *m;
    grove_send(pid, TAG_PING, NULL, 0);
    if (grove_recv_tag(&m, TAG_PONG, 1000) != 0)
        return false;
    grove_msg_free(m);
    return true;
}

static grove_reason_t await_down(grove_ref_t ref)
{
    grove_msg_t *m;
    grove_reason_t r = grove_reason_of(GROVE_EXIT_TIMEOUT);
    if (grove_recv_ref(&m, ref, 2000) == 0) {
        r = *grove_msg_reason(m);
        grove_msg_free(m);
    }
    return r;
}

static void exit_signals(void)
{
    printf("3. grove_exit_signal\n");
    grove_reason_t normal = grove_reason_normal();
    grove_reason_t shutdown = grove_reason_shutdown(NULL);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    grove_ref_t ref;
    char buf[160];

    grove_pid_t a = spawn_sitter(false, &ref);
    grove_exit_signal(a, &normal);
    check(answers_ping(a), "normal to a non-trapping process: ignored");
    grove_exit_signal(a, &shutdown);
    grove_reason_t r = await_down(ref);
    check(grove_reason_equal(&r, &shutdown),
          "shutdown to a non-trapping process: it exits with shutdown");

    grove_pid_t b = spawn_sitter(true, &ref);
    grove_exit_signal(b, &normal);
    grove_msg_t *m;
    bool got = grove_recv_tag(&m, TAG_GOT_EXIT, 1000) == 0;
    if (got) {
        r = *(const grove_reason_t *)grove_msg_data(m);
        grove_msg_free(m);
    }
    check(got && grove_reason_equal(&r, &normal),
          "normal to a trapping process: it gets EXIT(us, normal)");
    check(answers_ping(b), "... and keeps running");

    grove_exit_signal(b, &kill);
    r = await_down(ref);
    char line[320];
    snprintf(line, sizeof line,
             "kill to a trapping process: it dies anyway, reason %s",
             fmt_reason(&r, buf, sizeof buf));
    check(r.kind == GROVE_EXIT_KILLED, line);
}

static void main_process(void *arg)
{
    (void)arg;
    grove_trap_exit(true);
    crash_spreads();
    trapping_parent();
    exit_signals();
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
