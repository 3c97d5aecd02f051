/* hello.c: the smallest Grove program.
 *
 * Shows: grove_run (start the runtime, run one process, stop), spawning a
 * process, sending it a message, receiving it, and replying to the sender.
 *
 * Run:  build/release/examples/hello
 * Exits 0 when the greeter answered every request as expected.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

/* Message tags: a tag is a number the receiver dispatches on. */
enum { TAG_GREET = 1, TAG_GREETING, TAG_STOP };

/* The greeter: a server process. It waits for a request, answers the
 * process that sent it and loops until told to stop. */
static void greeter(void *arg)
{
    const char *salutation = arg;
    for (;;) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            return;
        if (grove_msg_tag(m) == TAG_STOP) {
            grove_msg_free(m);
            return; /* returning exits with reason normal */
        }
        /* The payload is a copy owned by this process until freed. */
        char reply[128];
        int n = snprintf(reply, sizeof reply, "%s, %.*s!", salutation,
                         (int)grove_msg_size(m),
                         (const char *)grove_msg_data(m));
        /* grove_msg_from() is the sender: reply to it. */
        grove_send(grove_msg_from(m), TAG_GREETING, reply, (size_t)n + 1);
        grove_msg_free(m);
    }
}

static int failures;

/* Asks the greeter to greet who and checks the answer. */
static void ask(grove_pid_t greeter_pid, const char *who, const char *want)
{
    grove_send(greeter_pid, TAG_GREET, who, strlen(who));
    grove_msg_t *m;
    int rc = grove_recv_tag(&m, TAG_GREETING, 1000);
    if (rc != 0) {
        printf("no answer for %s: %s\n", who, grove_strerror(rc));
        failures++;
        return;
    }
    const char *text = grove_msg_data(m);
    printf("  %s\n", text);
    if (strcmp(text, want) != 0)
        failures++;
    grove_msg_free(m);
}

/* The first process: grove_run() runs it and returns when it ends. */
static void main_process(void *arg)
{
    (void)arg;
    char me[GROVE_PID_STR_MAX], him[GROVE_PID_STR_MAX];
    grove_pid_t g;
    /* arg points to a string literal, which outlives the greeter. */
    int rc = grove_spawn(greeter, (void *)"Hello", NULL, &g);
    if (rc != 0) {
        printf("spawn failed: %s\n", grove_strerror(rc));
        failures++;
        return;
    }
    printf("main process %s spawned greeter %s\n",
           grove_pid_format(grove_self(), me, sizeof me),
           grove_pid_format(g, him, sizeof him));

    ask(g, "world", "Hello, world!");
    ask(g, "Grove", "Hello, Grove!");

    /* Stop the greeter and wait for it to be gone: a monitor tells us. */
    grove_ref_t ref;
    grove_monitor(g, &ref);
    grove_send(g, TAG_STOP, NULL, 0);
    grove_msg_t *down;
    if (grove_recv_ref(&down, ref, 1000) != 0) {
        failures++;
        return;
    }
    char why[64];
    grove_reason_format(grove_msg_reason(down), why, sizeof why);
    printf("greeter exited: %s\n", why);
    if (grove_msg_reason(down)->kind != GROVE_EXIT_NORMAL)
        failures++;
    grove_msg_free(down);
}

int main(void)
{
    grove_reason_t reason;
    /* Starts the runtime, runs main_process, stops the runtime. */
    int rc = grove_run(main_process, NULL, &reason);
    if (rc != 0) {
        printf("grove_run: %s\n", grove_strerror(rc));
        return 1;
    }
    if (reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
