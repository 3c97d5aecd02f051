/* chat_idle: holds many idle clients on a chat server, to measure what a
 * client costs the server (and for benchmarks that need a crowd).
 *
 *   chat_idle [--host ADDR] [--port N] [--clients N] [--join CHAN]
 *             [--hold SECONDS]
 *
 * Each client is a Grove process: it connects, registers (NICK idleN),
 * joins CHAN if given (rooms of 100: CHAN0, CHAN1, ...), reports, and
 * stays silent until the hold time is over; then all quit. Prints how
 * long the connecting took. Run the server in another OS process and
 * read its memory (/proc/PID/status) before and after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "chat.h"

enum { TAG_UP = 1, TAG_FAILED, TAG_STOP };

static const char *host = "127.0.0.1";
static const char *chan;
static int port = 6667, clients = 10000, hold_s = 10;

static void idle_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    grove_pid_t parent;
    grove_whereis("chat_idle", &parent);
    chat_client_t c;
    char nick[16], room[64];
    snprintf(nick, sizeof nick, "idle%d", id);
    int rc = chat_client_open(&c, host, port, nick, 60000);
    if (rc == 0 && chan) {
        snprintf(room, sizeof room, "%s%d", chan, id / 100);
        rc = chat_client_join(&c, room, 60000);
    }
    grove_send(parent, rc == 0 ? TAG_UP : TAG_FAILED, &rc, sizeof rc);
    grove_msg_t *m;
    if (grove_recv_tag(&m, TAG_STOP, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    if (rc == 0) {
        chat_client_send(&c, "QUIT :done");
        chat_client_close(&c);
    }
}

static void run(void *arg)
{
    (void)arg;
    grove_register("chat_idle", grove_self());
    grove_pid_t *pids = malloc((size_t)clients * sizeof *pids);
    uint64_t t0 = grove_now_ms();
    for (int i = 0; i < clients; i++) {
        grove_spawn(idle_client, (void *)(intptr_t)i, NULL, &pids[i]);
        if (i % 64 == 63)
            grove_yield(); /* let the first ones connect meanwhile */
    }
    int up = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) != 0)
            break;
        if (grove_msg_tag(m) == TAG_UP)
            up++;
        else if (failed++ == 0)
            fprintf(stderr, "chat_idle: a client failed: %s\n",
                    grove_errname(*(const int *)grove_msg_data(m)));
        grove_msg_free(m);
    }
    printf("chat_idle: %d clients up, %d failed, in %llu ms; holding %d s\n",
           up, failed, (unsigned long long)(grove_now_ms() - t0), hold_s);
    fflush(stdout);
    grove_sleep((grove_timeout_t)hold_s * 1000);
    for (int i = 0; i < clients; i++)
        grove_send(pids[i], TAG_STOP, NULL, 0);
    free(pids);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0)
            host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--clients") == 0)
            clients = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--join") == 0)
            chan = argv[i + 1];
        else if (strcmp(argv[i], "--hold") == 0)
            hold_s = atoi(argv[i + 1]);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return grove_run(run, NULL, NULL) == 0 ? 0 : 1;
}
