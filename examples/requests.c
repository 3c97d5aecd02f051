/* requests.c: asking many processes at once, and never hearing back late.
 *
 * Shows:
 *   1. gen_server requests (gen_server:send_request and friends): a sum
 *      is asked of four shard servers at once and the answers are
 *      gathered as they come with grove_gs_wait_any;
 *   2. a slow shard: grove_gs_wait_response times out and the request
 *      stays outstanding, so the answer is still collected later;
 *   3. giving up: grove_gs_receive_response times out and abandons the
 *      request, and the answer the shard sends afterwards never arrives;
 *   4. a shard that crashed before answering: the response is its exit
 *      reason, not a hang;
 *   5. aliases (EEP 53) with plain processes: a worker answers through a
 *      monitor alias made with GROVE_ALIAS_REPLY_DEMONITOR, so the first
 *      answer also ends the monitor, and a second answer is dropped.
 *
 * Run:  build/release/examples/requests
 * Exits 0 when every step behaved as described above.
 */
#include <stdio.h>
#include <string.h>

#include <grove.h>

enum {
    TAG_SUM = 1,  /* call: the shard's sum (uint64_t) */
    TAG_SLOW,     /* call: answered only when TAG_GO is cast */
    TAG_GO,       /* cast: answer the held TAG_SLOW */
    TAG_CRASH,    /* call: the shard crashes instead of answering */
    TAG_JOB,      /* to the worker: a grove_alias_t to answer through */
    TAG_ANSWER,
    SHARDS = 4
};

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* ---- a shard: holds the numbers base+1 .. base+100 --------------------- */

typedef struct shard {
    uint64_t base;
    grove_gs_from_t held;
} shard_t;

static uint64_t shard_sum(uint64_t base) { return 100 * base + 5050; }

static grove_gs_ret_t shard_init(grove_gs_t *gs, void *arg)
{
    shard_t *s = grove_alloc(sizeof *s);
    if (!s)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "no memory"));
    s->base = (uint64_t)(uintptr_t)arg;
    grove_gs_set_state(gs, s);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t shard_call(grove_gs_t *gs, const grove_msg_t *req,
                                 grove_gs_from_t from)
{
    shard_t *s = grove_gs_state(gs);
    uint64_t sum = shard_sum(s->base);
    switch (grove_msg_tag(req)) {
    case TAG_SLOW:
        s->held = from;
        return GROVE_GS_NOREPLY();
    case TAG_CRASH:
        grove_exit_error(7, "shard %llu lost its disk",
                         (unsigned long long)s->base);
    default:
        return GROVE_GS_REPLY(TAG_ANSWER, &sum, sizeof sum);
    }
}

static grove_gs_ret_t shard_cast(grove_gs_t *gs, const grove_msg_t *msg)
{
    shard_t *s = grove_gs_state(gs);
    uint64_t sum = shard_sum(s->base);
    if (grove_msg_tag(msg) == TAG_GO)
        grove_gs_reply(s->held, TAG_ANSWER, &sum, sizeof sum);
    return GROVE_GS_NOREPLY();
}

static const grove_gs_callbacks_t shard_cb = {
    .name = "shard",
    .init = shard_init,
    .handle_call = shard_call,
    .handle_cast = shard_cast,
};

static uint64_t answer_of(grove_msg_t *m)
{
    uint64_t v = 0;
    if (grove_msg_size(m) == sizeof v)
        memcpy(&v, grove_msg_data(m), sizeof v);
    grove_msg_free(m);
    return v;
}

/* ---- a plain worker that answers through an alias ---------------------- */

static void worker(void *arg)
{
    grove_msg_t *m;
    grove_alias_t to;
    uint64_t answer = 42;
    (void)arg;
    if (grove_recv_tag(&m, TAG_JOB, GROVE_INFINITY) != 0)
        return;
    memcpy(&to, grove_msg_data(m), sizeof to);
    grove_msg_free(m);
    grove_send_alias(to, TAG_ANSWER, &answer, sizeof answer);
    answer = 43; /* a second answer: the alias is off by now */
    grove_send_alias(to, TAG_ANSWER, &answer, sizeof answer);
    grove_recv_tag(&m, TAG_GO, GROVE_INFINITY);
    grove_msg_free(m);
}

static void main_process(void *arg)
{
    grove_pid_t shard[SHARDS];
    grove_gs_request_t rq[SHARDS];
    grove_reason_t why;
    grove_msg_t *m;
    size_t which;
    char line[200], text[120];
    (void)arg;

    for (uintptr_t i = 0; i < SHARDS; i++)
        if (grove_gs_start(&shard_cb, (void *)(i * 100), NULL, &shard[i],
                           NULL) != 0)
            check(false, "start a shard");

    printf("1. one request to each shard, answers gathered as they come\n");
    uint64_t total = 0, want = 0;
    for (int i = 0; i < SHARDS; i++) {
        grove_gs_send_request(grove_server_pid(shard[i]), TAG_SUM, NULL, 0,
                              &rq[i]);
        want += shard_sum((uint64_t)i * 100);
    }
    int answered = 0;
    while (grove_gs_wait_any(rq, SHARDS, 1000, &which, &m, NULL) == 0) {
        total += answer_of(m);
        answered++;
    }
    snprintf(line, sizeof line, "%d answers, total %llu", answered,
             (unsigned long long)total);
    check(answered == SHARDS && total == want, line);

    printf("2. a slow shard: the wait times out, the request stays\n");
    grove_gs_send_request(grove_server_pid(shard[0]), TAG_SLOW, NULL, 0,
                          &rq[0]);
    check(grove_gs_wait_response(&rq[0], 50, &m, NULL) == GROVE_ETIMEDOUT,
          "no answer within 50 ms");
    grove_gs_cast(grove_server_pid(shard[0]), TAG_GO, NULL, 0);
    check(grove_gs_wait_response(&rq[0], 1000, &m, NULL) == 0 &&
              answer_of(m) == shard_sum(0),
          "the answer is collected by the next wait");

    printf("3. giving up: a late answer never arrives\n");
    grove_gs_send_request(grove_server_pid(shard[1]), TAG_SLOW, NULL, 0,
                          &rq[1]);
    check(grove_gs_receive_response(&rq[1], 50, &m, NULL) ==
              GROVE_ETIMEDOUT,
          "receive_response times out and abandons the request");
    grove_gs_cast(grove_server_pid(shard[1]), TAG_GO, NULL, 0);
    check(grove_recv(&m, 200) == GROVE_ETIMEDOUT,
          "the answer sent afterwards is dropped before the mailbox");

    printf("4. a shard that crashes instead of answering\n");
    grove_gs_send_request(grove_server_pid(shard[2]), TAG_CRASH, NULL, 0,
                          &rq[2]);
    int rc = grove_gs_wait_response(&rq[2], 1000, &m, &why);
    grove_reason_format(&why, text, sizeof text);
    snprintf(line, sizeof line, "response: %s, %s", grove_errname(rc), text);
    check(rc == GROVE_EEXITED && why.code == 7, line);

    printf("5. a worker answers through a reply_demonitor alias\n");
    grove_pid_t w;
    grove_alias_t alias;
    grove_spawn(worker, NULL, NULL, &w);
    grove_monitor_alias(w, GROVE_ALIAS_REPLY_DEMONITOR, &alias);
    grove_send(w, TAG_JOB, &alias, sizeof alias);
    check(grove_recv_ref(&m, alias.ref, 1000) == 0 && answer_of(m) == 42,
          "the first answer arrives");
    grove_process_info_t info;
    grove_process_info(grove_self(), &info);
    grove_send(w, TAG_GO, NULL, 0); /* the worker ends now */
    check(grove_recv_ref(&m, alias.ref, 200) == GROVE_ETIMEDOUT,
          "neither the second answer nor a DOWN follows");
    check(info.monitors == 0, "the answer ended the monitor");

    for (int i = 0; i < SHARDS; i++)
        if (i != 2)
            grove_gs_stop(grove_server_pid(shard[i]), NULL, GROVE_INFINITY,
                          NULL);
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
