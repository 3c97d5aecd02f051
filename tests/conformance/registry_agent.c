/* The registry tests' agent process: see registry_agent.h. */
#include "registry_agent.h"

#include <string.h>

enum {
    RA_TAG_REQ = 0x5241000000000001ull,
    RA_TAG_RES
};

typedef struct ra_req {
    int op;
    grove_registry_t *reg;
    uint64_t value;
    size_t len;
    grove_reason_t reason;
    unsigned char key[RA_KEY_MAX];
} ra_req_t;

static void agent_main(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m = NULL;
        if (grove_recv_tag(&m, RA_TAG_REQ, GROVE_INFINITY) != 0)
            grove_exit_error(2, "agent: receive failed");
        ra_req_t q;
        memcpy(&q, grove_msg_data(m), sizeof q);
        ra_result_t r;
        memset(&r, 0, sizeof r);
        switch (q.op) {
        case RA_REGISTER:
            r.rc = grove_registry_register(q.reg, q.key, q.len, q.value,
                                           &r.holder);
            break;
        case RA_UNREGISTER:
            r.rc = grove_registry_unregister(q.reg, q.key, q.len);
            break;
        case RA_UPDATE:
            r.rc = grove_registry_update_value(q.reg, q.key, q.len, q.value,
                                               &r.old);
            break;
        case RA_EXIT:
            grove_msg_free(m);
            if (q.reason.kind == GROVE_EXIT_NORMAL)
                return;
            grove_exit(&q.reason);
        case RA_ASSERT: {
            grove_msg_free(m);
            bool told_to_fail = true;
            GROVE_ASSERT(!told_to_fail);
            return;
        }
        default:
            r.rc = GROVE_EINVAL;
        }
        grove_send_ref(grove_msg_from(m), RA_TAG_RES, grove_msg_ref(m), &r,
                       sizeof r);
        grove_msg_free(m);
    }
}

grove_pid_t ra_spawn_at(const char *file, int line)
{
    return gt_spawn_mon_at(file, line, agent_main, NULL, NULL);
}

ra_result_t ra_call_at(const char *file, int line, grove_pid_t agent, int op,
                       grove_registry_t *reg, const void *key, size_t len,
                       uint64_t value)
{
    ra_req_t q;
    memset(&q, 0, sizeof q);
    if (len > RA_KEY_MAX)
        gt_fail(file, line, "agent key too long: %zu", len);
    q.op = op;
    q.reg = reg;
    q.value = value;
    q.len = len;
    if (len)
        memcpy(q.key, key, len);
    grove_ref_t ref = grove_make_ref();
    int rc = grove_send_ref(agent, RA_TAG_REQ, ref, &q, sizeof q);
    if (rc != 0)
        gt_fail(file, line, "request to the agent: %s", grove_errname(rc));
    grove_msg_t *m = NULL;
    rc = grove_recv_ref(&m, ref, gt_scaled_ms(GT_WAIT_MS));
    if (rc != 0)
        gt_fail(file, line, "no answer from the agent: %s",
                grove_errname(rc));
    ra_result_t r;
    memcpy(&r, grove_msg_data(m), sizeof r);
    grove_msg_free(m);
    return r;
}

void ra_exit(grove_pid_t agent, grove_reason_t r)
{
    if (r.kind == GROVE_EXIT_KILL) {
        ASSERT_OK(grove_exit_signal(agent, &r));
        return;
    }
    ra_req_t q;
    memset(&q, 0, sizeof q);
    q.op = RA_EXIT;
    q.reason = r;
    ASSERT_OK(grove_send(agent, RA_TAG_REQ, &q, sizeof q));
}

void ra_assert_fail(grove_pid_t agent)
{
    ra_req_t q;
    memset(&q, 0, sizeof q);
    q.op = RA_ASSERT;
    ASSERT_OK(grove_send(agent, RA_TAG_REQ, &q, sizeof q));
}

void ra_stop_at(const char *file, int line, grove_pid_t agent)
{
    ra_exit(agent, grove_reason_normal());
    grove_reason_t r = gt_await_exit_at(file, line, agent);
    gt_assert_reason(file, line, "the agent's exit", r,
                     grove_reason_normal());
}

void ra_collect_key(const void *key, size_t len, void *arg)
{
    ra_keys_t *k = arg;
    if (k->n < 16) {
        k->len[k->n] = len;
        memcpy(k->key[k->n], key, len < RA_KEY_MAX ? len : RA_KEY_MAX);
    }
    k->n++;
}

int ra_keys_count(const ra_keys_t *k, const void *key, size_t len)
{
    /* Keys longer than RA_KEY_MAX were kept in part: compare that part. */
    size_t cmp = len < RA_KEY_MAX ? len : RA_KEY_MAX;
    int hits = 0;
    for (int i = 0; i < k->n && i < 16; i++)
        hits += k->len[i] == len &&
                (cmp == 0 || memcmp(k->key[i], key, cmp) == 0);
    return hits;
}

int ra_entries_of(grove_registry_t *reg, grove_pid_t pid)
{
    return grove_registry_select(reg, gt_reg_pid_is, gt_reg_ignore_entry, &pid);
}
