/* chat_server: the Grove chat server as a program.
 *
 *   chat_server [--port N] [--host ADDR] [--max-clients N] [--poison]
 *               [--verbose] [--selftest]
 *
 * --port N         TCP port (default 6667; 0: any free port)
 * --host ADDR      address to listen on (default 127.0.0.1; 0.0.0.0 or ::
 *                  for every interface)
 * --max-clients N  connections at once (default: what descriptors allow)
 * --poison         enable GROVE-POISON (the sender's connection process
 *                  dereferences NULL) and GROVE-CRASHROOM #chan (that
 *                  room's process does): crash demonstrations
 * --verbose        log the server's events (connections, joins) to stderr
 * --selftest       start on a free port, chat between two clients, stop;
 *                  exit 0 if all went as expected (the smoke test)
 *
 * SIGINT or SIGTERM stops the tree in reverse start order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_internal.h"

static chat_opts_t opts = {.port = 6667};
static bool verbose, selftest;

static int app_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    opts.link = true;
    int rc = chat_start(&opts, pid, why);
    if (rc == 0)
        printf("chat_server: listening on %s:%d (max %u clients, poison "
               "%s)\n", chat_ctx->host, chat_port(),
               chat_ctx->opts.max_clients, opts.poison ? "on" : "off");
    fflush(stdout);
    return rc;
}

static void app_stop(void *arg)
{
    (void)arg;
    chat_cleanup();
}

static int self_test_steps(void)
{
    chat_client_t a, b;
    char line[600];
    int port = chat_port();
    if (chat_client_open(&a, NULL, port, "alice", 5000) != 0 ||
        chat_client_open(&b, NULL, port, "bob", 5000) != 0 ||
        chat_client_join(&a, "#grove", 5000) != 0 ||
        chat_client_join(&b, "#grove", 5000) != 0)
        return 1;
    chat_client_send(&a, "PRIVMSG #grove :hello from alice");
    if (chat_client_expect(&b, "hello from alice", line, sizeof line,
                           5000) < 0)
        return 2;
    chat_client_send(&b, "PRIVMSG alice :hi back");
    if (chat_client_expect(&a, "PRIVMSG alice :hi back", line, sizeof line,
                           5000) < 0)
        return 3;
    chat_client_send(&a, "QUIT :bye");
    if (chat_client_expect(&b, "QUIT :Quit: bye", line, sizeof line, 5000) <
        0)
        return 4;
    chat_client_close(&a);
    chat_client_close(&b);
    return 0;
}

static void self_test(void *arg)
{
    int *status = arg;
    opts.port = 0;
    grove_pid_t root;
    grove_reason_t why;
    if (chat_start(&opts, &root, &why) != 0) {
        *status = 10;
        return;
    }
    *status = self_test_steps();
    chat_stop();
    printf("chat_server selftest: %s (%d)\n", *status ? "FAILED" : "ok",
           *status);
}

static void usage(void)
{
    fprintf(stderr, "usage: chat_server [--port N] [--host ADDR] "
                    "[--max-clients N] [--poison] [--verbose] "
                    "[--selftest]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--port") == 0 && more)
            opts.port = atoi(argv[++i]);
        else if (strcmp(a, "--host") == 0 && more)
            opts.host = argv[++i];
        else if (strcmp(a, "--max-clients") == 0 && more)
            opts.max_clients = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--poison") == 0)
            opts.poison = true;
        else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
            verbose = true;
        else if (strcmp(a, "--selftest") == 0)
            selftest = true;
        else
            usage();
    }
    if (opts.port < 0 || opts.port > 65535)
        usage();
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (verbose)
        grove_log_add_handler(grove_log_text_handler, NULL, GROVE_LOG_INFO,
                              NULL);
    if (selftest) {
        int status = 99;
        if (grove_run(self_test, &status, NULL) != 0)
            return 99;
        return status;
    }
    grove_app_t app = {.name = "chat", .type = GROVE_APP_PERMANENT,
                       .start = app_start, .stop = app_stop};
    return grove_app_run(&app, 1, NULL);
}
