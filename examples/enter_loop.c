/* enter_loop.c: a process that sets itself up, then becomes a gen_server.
 *
 * gen_server:enter_loop is for servers whose setup does not fit init.
 * Here a lookup table is loaded slowly, and the supervisor must not wait
 * for it: the child's start function spawns the process, which registers
 * its name and answers the start at once (OTP's proc_lib:init_ack), then
 * loads the table and enters the gen_server loop with a continue that
 * marks it ready. Calls made meanwhile wait in the mailbox and are
 * answered once the loop runs.
 *
 * Shows: grove_gs_enter_loop with a name the process already holds and a
 * first continue; calls by name; the supervisor as the server's parent,
 * so its shutdown runs terminate (the server traps exits); and the error
 * code a name that is not the caller's gives.
 *
 * Run:  build/release/examples/enter_loop
 * Exits 0 when every step behaved as described.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

enum { TAG_STARTED = 1, TAG_LOOKUP, TAG_READY };

static int failures;
static bool terminated;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

typedef struct table {
    int squares[100];
    bool ready;
} table_t;

static grove_gs_ret_t table_call(grove_gs_t *gs, const grove_msg_t *req,
                                 grove_gs_from_t from)
{
    (void)from;
    const table_t *t = grove_gs_state(gs);
    if (grove_msg_tag(req) == TAG_READY) {
        int ready = t->ready;
        return GROVE_GS_REPLY(TAG_READY, &ready, sizeof ready);
    }
    int key = -1;
    if (grove_msg_size(req) == sizeof key)
        memcpy(&key, grove_msg_data(req), sizeof key);
    int value = key >= 0 && key < 100 ? t->squares[key] : -1;
    return GROVE_GS_REPLY(TAG_LOOKUP, &value, sizeof value);
}

static grove_gs_ret_t table_continue(grove_gs_t *gs, void *cont)
{
    (void)cont;
    table_t *t = grove_gs_state(gs);
    t->ready = true;
    return GROVE_GS_NOREPLY();
}

static void table_terminate(grove_gs_t *gs, const grove_reason_t *reason)
{
    (void)gs;
    char text[64];
    grove_reason_format(reason, text, sizeof text);
    printf("  (terminate ran: %s)\n", text);
    terminated = true;
}

static const grove_gs_callbacks_t table_cb = {
    .name = "squares",
    .handle_call = table_call,
    .handle_continue = table_continue,
    .terminate = table_terminate,
};

/* The process: name, answer the start, load, enter. */
static void table_main(void *arg)
{
    grove_pid_t starter = *(const grove_pid_t *)arg;
    grove_trap_exit(true); /* so the supervisor's shutdown runs terminate */
    grove_register("squares", grove_self());
    grove_send(starter, TAG_STARTED, NULL, 0); /* proc_lib:init_ack */

    table_t *t = grove_calloc(1, sizeof *t); /* freed with the process */
    for (int i = 0; i < 100; i++) {
        t->squares[i] = i * i;
        grove_sleep(1); /* a slow load */
    }
    grove_gs_opts_t opts = {.name = "squares"};
    int rc = grove_gs_enter_loop(
        &table_cb, t, &opts, grove_gs_with_continue(GROVE_GS_INIT_OK(), t));
    grove_exit_error(rc, "enter_loop: %s", grove_strerror(rc));
}

/* The child's start function: spawn linked, wait for the early answer. */
static int table_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    static grove_pid_t starter;
    starter = grove_self();
    grove_spawn_opts_t o = {.link = true};
    int rc = grove_spawn(table_main, &starter, &o, pid);
    grove_msg_t *m;
    if (rc == 0 && (rc = grove_recv_tag(&m, TAG_STARTED, 5000)) == 0)
        grove_msg_free(m);
    if (rc < 0 && why)
        *why = grove_reason_error(rc, "table did not start");
    return rc;
}

static int lookup(int key)
{
    grove_msg_t *reply;
    int value = -1;
    if (grove_gs_call(grove_server_name("squares"), TAG_LOOKUP, &key,
                      sizeof key, &reply, 5000) == 0) {
        memcpy(&value, grove_msg_data(reply), sizeof value);
        grove_msg_free(reply);
    }
    return value;
}

static void not_mine(void *arg)
{
    int *rc = arg;
    grove_gs_opts_t opts = {.name = "squares"}; /* someone else's */
    *rc = grove_gs_enter_loop(&table_cb, NULL, &opts, GROVE_GS_INIT_OK());
}

static void main_process(void *arg)
{
    (void)arg;
    grove_child_spec_t child = {.id = "squares", .start = table_start};
    grove_sup_spec_t spec = {.flags = {.strategy = GROVE_ONE_FOR_ONE},
                             .children = &child, .nchildren = 1};
    grove_pid_t sup, table;
    grove_reason_t why;

    printf("a supervisor starts the table; the start does not wait for "
           "the load\n");
    check(grove_sup_start(&spec, NULL, &sup, &why) == 0,
          "supervisor started");
    check(grove_whereis("squares", &table) == 0,
          "the table holds its name already");

    printf("calls made during the load are answered after it\n");
    check(lookup(12) == 144, "squares[12] = 144");
    grove_msg_t *reply;
    int ready = 0;
    if (grove_gs_call(grove_server_name("squares"), TAG_READY, NULL, 0,
                      &reply, 5000) == 0) {
        memcpy(&ready, grove_msg_data(reply), sizeof ready);
        grove_msg_free(reply);
    }
    check(ready, "the continue ran before any call");
    grove_process_info_t info;
    check(grove_process_info(table, &info) == 0 &&
              grove_pid_equal(info.parent, sup) &&
              strcmp(info.behaviour, "squares") == 0,
          "a gen_server now, whose parent is the supervisor");

    printf("enter_loop with a name that is not the caller's\n");
    static int rc;
    grove_pid_t p;
    grove_ref_t ref;
    grove_spawn_opts_t mon = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(not_mine, &rc, &mon, &p);
    grove_msg_t *down;
    if (grove_recv_ref(&down, ref, 5000) == 0)
        grove_msg_free(down);
    check(rc == GROVE_ENOTFOUND, "GROVE_ENOTFOUND, and it went on as a "
                                 "plain process");

    printf("the supervisor's shutdown\n");
    grove_gs_stop(grove_server_pid(sup), NULL, 10000, NULL);
    check(terminated, "the table's terminate ran");
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
