/* Many clients at once: 1,000 (200 under the sanitizers) in 10 rooms,
 * each sending a few messages; every message must reach every other
 * member of its room exactly once. Then they all leave, and every
 * descriptor and process is gone. */
#include "chat_util.h"

#if defined(GROVE_HAVE_CHAT)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(GROVE_ASAN) || defined(GROVE_TSAN)
#define CLIENTS 200
#else
#define CLIENTS 1000
#endif
#define ROOMS 10
#define PER_CLIENT 5

enum { TAG_JOINED = 0x4354000000000001ull, TAG_GO, TAG_DONE };

typedef struct load_arg {
    grove_pid_t parent;
    int id;
} load_arg_t;

typedef struct done {
    int id;
    int got, dups, strays;
    int rc;
} done_t;

/* Counts the messages of one client until it has them all. */
static void receive_all(chat_client_t *c, int id, done_t *d)
{
    int members = CLIENTS / ROOMS;
    int want = (members - 1) * PER_CLIENT;
    unsigned char *seen = calloc(CLIENTS * PER_CLIENT, 1);
    char line[600];
    while (d->got < want) {
        int rc = chat_client_line(c, line, sizeof line, gt_scaled_ms(20000));
        if (rc < 0) {
            d->rc = rc;
            break;
        }
        const char *p = strstr(line, " PRIVMSG #");
        int from, k;
        if (!p || !(p = strstr(p, " :m ")) ||
            sscanf(p + 4, "%d %d", &from, &k) != 2)
            continue; /* JOINs of later members */
        if (from < 0 || from >= CLIENTS || k < 0 || k >= PER_CLIENT ||
            from % ROOMS != id % ROOMS || from == id) {
            d->strays++;
            continue;
        }
        if (seen[from * PER_CLIENT + k]++)
            d->dups++;
        else
            d->got++;
    }
    free(seen);
}

static void load_client(void *arg)
{
    load_arg_t *a = arg;
    done_t d = {a->id, 0, 0, 0, 0};
    chat_client_t c;
    char nick[16], chan[16];
    snprintf(nick, sizeof nick, "u%d", a->id);
    snprintf(chan, sizeof chan, "#r%d", a->id % ROOMS);
    int64_t t = gt_scaled_ms(30000);
    if ((d.rc = chat_client_open(&c, NULL, chat_port(), nick, t)) != 0 ||
        (d.rc = chat_client_join(&c, chan, t)) != 0)
        grove_exit_error(1, "%s: %s", nick, grove_errname(d.rc));
    grove_send(a->parent, TAG_JOINED, NULL, 0);
    grove_msg_t *go;
    if (grove_recv_tag(&go, TAG_GO, GROVE_INFINITY) == 0)
        grove_msg_free(go);
    for (int k = 0; k < PER_CLIENT && d.rc == 0; k++)
        d.rc = chat_client_send(&c, "PRIVMSG %s :m %d %d", chan, a->id, k);
    if (d.rc == 0)
        receive_all(&c, a->id, &d);
    grove_send(a->parent, TAG_DONE, &d, sizeof d);
    /* Stay until told, so no QUIT disturbs the others' counts. */
    if (grove_recv_tag(&go, TAG_GO, GROVE_INFINITY) == 0)
        grove_msg_free(go);
    chat_client_send(&c, "QUIT :bye");
    chat_client_close(&c);
}

/* The next message with tag, within a minute (scaled): a thousand
 * clients take longer than the usual wait. */
static grove_msg_t *next_tag(uint64_t tag)
{
    grove_msg_t *m;
    int rc = grove_recv_tag(&m, tag, gt_scaled_ms(60000));
    if (rc != 0)
        GT_FAIL("waiting for tag %llx: %s", (unsigned long long)tag,
                grove_errname(rc));
    return m;
}

static void await_all(uint64_t tag, int n)
{
    for (int i = 0; i < n; i++)
        grove_msg_free(next_tag(tag));
}

PROC_TEST_OPTS(chat_many_clients_every_message_once, .timeout_s = 120,
               .schedulers = 2)
{
    ct_start(false);
    static load_arg_t args[CLIENTS];
    static grove_pid_t pids[CLIENTS];
    int64_t t0 = gt_now_ms();
    for (int i = 0; i < CLIENTS; i++) {
        args[i] = (load_arg_t){grove_self(), i};
        pids[i] = SPAWN_MON(load_client, &args[i], NULL);
    }
    await_all(TAG_JOINED, CLIENTS);
    int64_t t1 = gt_now_ms();
    CT_WAIT_CLIENTS(CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        grove_send(pids[i], TAG_GO, NULL, 0);
    for (int i = 0; i < CLIENTS; i++) {
        grove_msg_t *m = next_tag(TAG_DONE);
        done_t d;
        memcpy(&d, grove_msg_data(m), sizeof d);
        grove_msg_free(m);
        if (d.rc || d.dups || d.strays || d.got != (CLIENTS / ROOMS - 1) *
                                                       PER_CLIENT)
            GT_FAIL("client %d: %d messages, %d duplicates, %d strays, %s",
                    d.id, d.got, d.dups, d.strays, grove_errname(d.rc));
    }
    int64_t t2 = gt_now_ms();
    chat_stats_t st;
    ASSERT_OK(chat_stats(&st));
    ASSERT_EQ(st.messages, CLIENTS * PER_CLIENT);
    ASSERT_EQ(st.rooms, ROOMS);
    for (int i = 0; i < CLIENTS; i++)
        grove_send(pids[i], TAG_GO, NULL, 0);
    for (int i = 0; i < CLIENTS; i++)
        ASSERT_REASON_EQ(AWAIT_EXIT(pids[i]), grove_reason_normal());
    gt_note("%d clients: connected and joined in %lld ms, %d messages "
            "delivered %d times in %lld ms",
            CLIENTS, (long long)(t1 - t0), CLIENTS * PER_CLIENT,
            CLIENTS / ROOMS - 1, (long long)(t2 - t1));
    ct_stop();
}

#endif
