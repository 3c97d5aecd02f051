/* logger_json.c: structured logs and crash reports as JSON lines.
 *
 * Shows: replacing the default text handler with grove_log_json_handler,
 * logging a plain message (grove_log) and a structured event with fields
 * (grove_log_event), the level filter, and the crash report Grove emits
 * when a process crashes, as one JSON object per line. A second handler
 * of our own checks what was logged.
 *
 * Run:  build/release/examples/logger_json
 *       build/release/examples/logger_json | grep -v '^#' | jq .
 * Lines starting with '#' are commentary; every other line is JSON.
 * Exits 0 when the expected events, and only those, were logged.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

static int failures;

static void check(bool ok, const char *what)
{
    printf("# %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* What our checking handler saw. It runs on the thread that logs, which
 * for a crash report is a scheduler thread; the report is emitted before
 * the crashed process's DOWN is sent, so after the DOWN it is here. */
static struct {
    int logs;
    int debug_events;
    int audits;
    int crash_reports;
    grove_pid_t crashed;
    char reason[256];
} seen;

static void checker(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (strcmp(ev->kind, "log") == 0)
        seen.logs++;
    if (ev->level == GROVE_LOG_DEBUG)
        seen.debug_events++;
    if (strcmp(ev->kind, "audit") == 0)
        seen.audits++;
    if (strcmp(ev->kind, "crash_report") != 0)
        return;
    seen.crash_reports++;
    seen.crashed = ev->pid;
    for (size_t i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, "reason") == 0)
            snprintf(seen.reason, sizeof seen.reason, "%s",
                     ev->fields[i].value);
}

static void validate_order(void *arg)
{
    int quantity = *(const int *)arg;
    GROVE_ASSERT(quantity > 0);
}

static void main_process(void *arg)
{
    (void)arg;
    printf("# a plain message and a structured event\n");
    grove_log(GROVE_LOG_INFO, "order service listening on port %d", 8080);
    grove_log_field_t fields[] = {{"user", "ada"}, {"action", "refund"},
                                  {"amount", "12.50"}};
    grove_log_event(GROVE_LOG_NOTICE, "audit", grove_self(),
                    "refund approved", fields, 3);
    grove_log(GROVE_LOG_DEBUG, "below the handlers' level: not shown");
    check(seen.logs == 1 && seen.audits == 1 && seen.debug_events == 0,
          "two events logged; the debug one was filtered out");

    printf("# a process that fails an assertion\n");
    static const int bad_quantity = -3;
    grove_pid_t pid;
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(validate_order, (void *)&bad_quantity, &o, &pid);
    grove_msg_t *m;
    if (grove_recv_ref(&m, ref, 2000) != 0) {
        check(false, "a DOWN message");
        return;
    }
    char why[256];
    grove_reason_format(grove_msg_reason(m), why, sizeof why);
    grove_msg_free(m);
    check(seen.crash_reports == 1 && grove_pid_equal(seen.crashed, pid) &&
              strcmp(seen.reason, why) == 0,
          "one crash report, for that process, with its exit reason");
}

int main(void)
{
    /* Handlers can be changed before the runtime starts. Clearing removes
     * the default text handler on stderr. */
    grove_log_clear_handlers();
    grove_log_handler_t *json;
    grove_log_add_handler(grove_log_json_handler, stdout, GROVE_LOG_INFO,
                          &json);
    grove_log_add_handler(checker, NULL, GROVE_LOG_INFO, NULL);

    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;

    /* After removal the handler is never called again. */
    grove_log_remove_handler(json);
    grove_log(GROVE_LOG_ERROR, "not shown: no JSON handler any more");
    check(seen.logs == 2, "the checker still saw that last event");
    printf("# %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
