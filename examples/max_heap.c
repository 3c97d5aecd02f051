/* max_heap.c: a runaway process dies on its own, the service goes on.
 *
 * Shows: grove_gs_opts_t.max_heap (Erlang's spawn_opt max_heap_size) on a
 * supervised gen_server, the max_heap_size error report, and
 * grove_max_heap (process_flag) on a plain process. A parser server keeps
 * what it parses in its arena; it is given 256 KiB. Ordinary documents
 * parse; a hostile one claims a million fields and the parser, trusting
 * it, allocates until its limit kills it (the error report, logged to
 * stderr, says how far over it went). Its supervisor restarts it and
 * the next documents parse again: the OS process never ran out of memory
 * and nothing else noticed. Then a consumer that falls behind its
 * producer is killed by its mailbox growing past its limit.
 *
 * Run:  build/release/examples/max_heap
 * Exits 0 when the hostile document cost one restart and nothing else.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

enum { TAG_PARSE = 1, TAG_FIELDS, TAG_ITEM, TAG_READY };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* ---- the parser: a document is "fields=N"; each field costs 1 KiB ---- */

static grove_gs_ret_t parser_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    (void)arg;
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t parser_call(grove_gs_t *gs, const grove_msg_t *req,
                                  grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    unsigned long fields = 0;
    sscanf(grove_msg_data(req), "fields=%lu", &fields);
    void **table = grove_calloc(fields ? fields : 1, sizeof *table);
    for (unsigned long i = 0; table && i < fields; i++)
        table[i] = grove_alloc(1024); /* trusts the header: no cap */
    for (unsigned long i = 0; table && i < fields; i++)
        grove_free(table[i]);
    grove_free(table);
    uint64_t n = fields;
    return GROVE_GS_REPLY(TAG_FIELDS, &n, sizeof n);
}

static const grove_gs_callbacks_t parser_cb = {
    .name = "parser",
    .init = parser_init,
    .handle_call = parser_call,
};

static int parse(const char *doc, uint64_t *fields)
{
    grove_msg_t *reply = NULL;
    grove_reason_t why;
    int rc = grove_gs_try_call(grove_server_name("parser"), TAG_PARSE, doc,
                               strlen(doc) + 1, &reply, 5000, &why);
    if (rc == 0)
        memcpy(fields, grove_msg_data(reply), sizeof *fields);
    else if (rc == GROVE_EEXITED) {
        char text[128];
        grove_reason_format(&why, text, sizeof text);
        printf("  parser exited during the call: %s\n", text);
    }
    grove_msg_free(reply);
    return rc;
}

/* ---- a consumer slower than its producer -------------------------------- */

static void slow_consumer(void *arg)
{
    grove_pid_t parent = *(grove_pid_t *)arg;
    grove_max_heap_t limit = {.size = 64 * 1024};
    grove_max_heap(&limit, NULL);
    grove_send(parent, TAG_READY, NULL, 0);
    for (;;) {
        grove_msg_t *m = NULL;
        if (grove_recv_tag(&m, TAG_ITEM, GROVE_INFINITY) == 0)
            grove_msg_free(m);
        grove_sleep(10); /* 100 items a second, at best */
    }
}

static void demo(void *arg)
{
    (void)arg;
    grove_gs_opts_t gso = {.name = "parser",
                           .max_heap = {.size = 256 * 1024}};
    grove_child_spec_t child = {.id = "parser", .gen_server = &parser_cb,
                                .gs_opts = &gso};
    grove_sup_spec_t spec = {.name = "parser_sup",
                             .flags = {.strategy = GROVE_ONE_FOR_ONE},
                             .children = &child,
                             .nchildren = 1};
    grove_pid_t sup, before, after;
    grove_reason_t why;
    uint64_t n = 0;

    if (grove_sup_start(&spec, NULL, &sup, &why) != 0) {
        check(false, "supervisor started");
        return;
    }
    grove_whereis("parser", &before);
    printf("parser %s, limit 256 KiB\n",
           grove_pid_format(before, (char[GROVE_PID_STR_MAX]){0},
                            GROVE_PID_STR_MAX));
    check(parse("fields=100", &n) == 0 && n == 100, "a 100-field document");
    check(parse("fields=1000000", &n) == GROVE_EEXITED,
          "the hostile document ended the parser, not the program");
    /* The supervisor restarts it as soon as it hears of the exit. */
    for (int i = 0; i < 500; i++) {
        if (grove_whereis("parser", &after) == 0 &&
            !grove_pid_equal(before, after))
            break;
        grove_sleep(1);
    }
    check(parse("fields=200", &n) == 0 && n == 200,
          "the restarted parser takes the next document");
    check(grove_whereis("parser", &after) == 0 &&
              !grove_pid_equal(before, after),
          "the parser has a new pid");
    grove_sup_stats_t st;
    grove_sup_stats(grove_server_pid(sup), &st);
    check(st.restarts == 1, "one restart");
    grove_reason_t sd = grove_reason_shutdown(NULL);
    grove_gs_stop(grove_server_pid(sup), &sd, GROVE_INFINITY, NULL);

    printf("a producer floods a consumer limited to 64 KiB\n");
    grove_pid_t self = grove_self(), consumer;
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(slow_consumer, &self, &o, &consumer);
    grove_msg_t *m = NULL;
    grove_recv_tag(&m, TAG_READY, 5000);
    grove_msg_free(m);
    static char item[512];
    for (int i = 0; i < 1000 && grove_is_alive(consumer); i++)
        grove_send(consumer, TAG_ITEM, item, sizeof item);
    m = NULL;
    grove_recv_ref(&m, ref, 5000);
    const grove_reason_t *r = m ? grove_msg_reason(m) : NULL;
    check(r && r->kind == GROVE_EXIT_KILLED,
          "the consumer was killed, the producer was not");
    grove_msg_free(m);
}

int main(void)
{
    grove_reason_t r;

    setvbuf(stdout, NULL, _IOLBF, 0); /* in step with the log on stderr */
    if (grove_run(demo, NULL, &r) != 0 || r.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
