/* names.c: registered names.
 *
 * Shows: grove_register, grove_whereis and grove_send_name; a name maps to
 * one process and a process has at most one name; the name is released
 * when its process dies (already free when the DOWN arrives) and can then
 * be taken by a new process, which is how a restarted server stays
 * reachable while its pid changes.
 *
 * Run:  build/release/examples/names
 * Exits 0 when every name operation behaved as described.
 */
#include <stdio.h>

#include <grove.h>

enum { TAG_PING = 1, TAG_PONG, TAG_STOP };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* Answers each ping with its own pid, until told to stop. */
static void server(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        grove_recv(&m, GROVE_INFINITY);
        if (grove_msg_tag(m) == TAG_STOP) {
            grove_msg_free(m);
            return;
        }
        grove_pid_t me = grove_self();
        grove_send(grove_msg_from(m), TAG_PONG, &me, sizeof me);
        grove_msg_free(m);
    }
}

/* Pings whoever has the name; returns the pid that answered. */
static grove_pid_t ping_name(const char *name)
{
    grove_msg_t *m;
    if (grove_send_name(name, TAG_PING, NULL, 0) != 0 ||
        grove_recv_tag(&m, TAG_PONG, 1000) != 0)
        return GROVE_PID_NONE;
    grove_pid_t who = *(const grove_pid_t *)grove_msg_data(m);
    grove_msg_free(m);
    return who;
}

static void main_process(void *arg)
{
    (void)arg;
    char a[GROVE_PID_STR_MAX], b[GROVE_PID_STR_MAX], line[160];
    grove_pid_t s1, s2, found;

    printf("register, whereis, send_name\n");
    grove_spawn(server, NULL, NULL, &s1);
    check(grove_register("clock", s1) == 0, "registered \"clock\"");
    check(grove_whereis("clock", &found) == 0 && grove_pid_equal(found, s1),
          "grove_whereis(\"clock\") finds it");
    grove_pid_t who = ping_name("clock");
    snprintf(line, sizeof line, "a message to \"clock\" reached %s",
             grove_pid_format(who, a, sizeof a));
    check(grove_pid_equal(who, s1), line);

    /* The spawn option registers the name before the process runs. */
    grove_spawn_opts_t o = {.name = "calendar"};
    check(grove_spawn(server, NULL, &o, &s2) == 0 &&
              grove_pid_equal(ping_name("calendar"), s2),
          "spawned straight under the name \"calendar\"");
    check(grove_register("clock", s2) == GROVE_EEXIST,
          "a taken name: GROVE_EEXIST");
    check(grove_register("timer", s1) == GROVE_EALREADY,
          "a second name for one process: GROVE_EALREADY");

    printf("the name is freed when its process dies\n");
    grove_ref_t ref;
    grove_msg_t *m;
    grove_monitor(s1, &ref);
    grove_send_name("clock", TAG_STOP, NULL, 0);
    if (grove_recv_ref(&m, ref, 2000) == 0)
        grove_msg_free(m);
    /* By the time the DOWN arrives, the name is already free. */
    check(grove_whereis("clock", &found) == GROVE_ENOTFOUND,
          "grove_whereis(\"clock\"): GROVE_ENOTFOUND");
    check(grove_send_name("clock", TAG_PING, NULL, 0) == GROVE_ENOTFOUND,
          "grove_send_name(\"clock\"): GROVE_ENOTFOUND");

    grove_pid_t s3;
    grove_spawn_opts_t o3 = {.name = "clock"};
    check(grove_spawn(server, NULL, &o3, &s3) == 0,
          "a new process takes the name");
    who = ping_name("clock");
    snprintf(line, sizeof line, "\"clock\" is now %s (was %s)",
             grove_pid_format(who, a, sizeof a),
             grove_pid_format(s1, b, sizeof b));
    check(grove_pid_equal(who, s3), line);

    check(grove_unregister("calendar") == 0 &&
              grove_whereis("calendar", &found) == GROVE_ENOTFOUND,
          "grove_unregister(\"calendar\") removes the name");
    grove_send(s2, TAG_STOP, NULL, 0);
    grove_send(s3, TAG_STOP, NULL, 0);
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
