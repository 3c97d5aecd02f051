/* dictionary.c: per-process context in the process dictionary.
 *
 * Shows: grove_dict_put, grove_dict_get, grove_dict_erase, grove_dict_keys
 * and grove_dict_clear (Erlang's put, get, erase, get_keys, erase/0). A
 * helper deep in the call chain, log_line, tags each line with the
 * request id of whichever process calls it, without the id being passed
 * down: each worker keeps it in its own dictionary. A thread-local would
 * be wrong here, since a process may move between scheduler threads.
 * Process info counts a live worker's entries; worker 3 crashes at the
 * end, and its dictionary is freed with it.
 *
 * Run:  build/release/examples/dictionary
 * Exits 0 when every worker saw only its own context.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <grove.h>

enum { WORKERS = 4, TAG_LINE = 1, TAG_GO };

static int failures;
static grove_pid_t collector;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* Library code: knows nothing of requests, reads the caller's context. */
static void log_line(const char *text)
{
    const uint64_t *id = grove_dict_get("request_id", NULL);
    char line[96];
    snprintf(line, sizeof line, "[req %" PRIu64 "] %s", id ? *id : 0, text);
    grove_send(collector, TAG_LINE, line, strlen(line) + 1);
}

static void handle(uint64_t id)
{
    grove_dict_put("request_id", &id, sizeof id);
    grove_dict_put("user", "alice", 6);
    log_line("started");
    grove_yield(); /* others run, perhaps on the other thread */
    log_line("done");
    grove_dict_erase("user");
}

static void worker(void *arg)
{
    handle((uint64_t)(uintptr_t)arg);
    /* Wait so the main process can look at this one's dictionary. */
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
    if ((uintptr_t)arg == 3)
        GROVE_ASSERT(!"worker 3 crashes with its dictionary full");
}

static void print_entry(const char *key, const void *value, size_t size,
                        void *arg)
{
    (void)value;
    (void)arg;
    printf("    %s (%zu bytes)\n", key, size);
}

static void main_process(void *arg)
{
    grove_pid_t pids[WORKERS];
    (void)arg;
    collector = grove_self();
    grove_dict_put("role", "main", 5);
    for (int i = 0; i < WORKERS; i++)
        grove_spawn(worker, (void *)(uintptr_t)(i + 1), NULL, &pids[i]);
    int right = 0;
    for (int i = 0; i < 2 * WORKERS; i++) {
        grove_msg_t *m;
        if (grove_recv_tag(&m, TAG_LINE, 5000) != 0)
            break;
        const char *line = grove_msg_data(m);
        printf("  %s\n", line);
        right += strncmp(line, "[req ", 5) == 0 && line[5] >= '1' &&
                 line[5] <= '0' + WORKERS;
        grove_msg_free(m);
    }
    check(right == 2 * WORKERS, "every line carries its own worker's id");
    grove_process_info_t info;
    grove_process_info(pids[0], &info);
    check(info.dictionary == 1, "a worker keeps request_id, user erased");
    printf("  the main process's dictionary:\n");
    check(grove_dict_keys(print_entry, NULL) == 1,
          "the workers' entries are not the main process's");
    for (int i = 0; i < WORKERS; i++)
        grove_send(pids[i], TAG_GO, NULL, 0);
    check(grove_dict_clear() == 1, "grove_dict_clear removes what is left");
    check(grove_dict_get("role", NULL) == NULL, "and it is gone");
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
