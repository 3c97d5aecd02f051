/* Naming servers through a Registry: OTP-SEMANTICS.md item R-15 adapted
 * to the C API. A gen_server (or a DynamicSupervisor) started with a via
 * name from a unique registry is found, called and stopped by that name;
 * a second start under a taken name gives GROVE_EALREADYSTARTED with the
 * holder and never runs init; the name goes with the holder's death (a
 * dead holder is never returned) and with a failed start; a duplicate
 * registry has no via interface. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dynsup_kid.h"
#include "registry_agent.h"

static atomic_int inits;
static const int FAIL_MARK = 1, IGNORE_MARK = 2;

static grove_gs_ret_t v_init(grove_gs_t *gs, void *arg)
{
    (void)gs;
    atomic_fetch_add(&inits, 1);
    if (arg == &FAIL_MARK)
        return GROVE_GS_INIT_ERROR(grove_reason_error(4, "no thanks"));
    if (arg == &IGNORE_MARK)
        return GROVE_GS_INIT_IGNORE();
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t v_call(grove_gs_t *gs, const grove_msg_t *req,
                             grove_gs_from_t from)
{
    (void)gs;
    (void)from;
    return GROVE_GS_REPLY(grove_msg_tag(req), "pong", 4);
}

static const grove_gs_callbacks_t v_cb = {
    .name = "via_server",
    .init = v_init,
    .handle_call = v_call,
};

static grove_registry_t *new_reg(int keys)
{
    grove_registry_opts_t o;
    memset(&o, 0, sizeof o);
    o.keys = keys;
    grove_registry_t *r = NULL;
    ASSERT_OK(grove_registry_new(&o, &r));
    return r;
}

static grove_pid_t start_via(const grove_via_t *via, const void *key,
                             size_t len)
{
    grove_gs_opts_t o;
    memset(&o, 0, sizeof o);
    o.via = via;
    o.via_key = key;
    o.via_key_len = len;
    grove_pid_t p = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_OK(grove_gs_start(&v_cb, NULL, &o, &p, &why));
    ASSERT_TRUE(grove_is_alive(p));
    return p;
}

static void stop_server(grove_pid_t p)
{
    grove_reason_t why;
    ASSERT_OK(grove_gs_stop(grove_server_pid(p), NULL, gt_scaled_ms(5000),
                            &why));
}

/* found, called and stopped by its via name; the name is taken
 * while it runs and free again once it is gone. */
PROC_TEST(registry_R15_via_names_a_gen_server)
{
    atomic_store(&inits, 0);
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE);
    const grove_via_t *via = grove_registry_via(r);
    ASSERT_NOT_NULL(via);
    const char key[] = "srv\0one";
    grove_pid_t p = start_via(via, key, 7);
    grove_server_t srv = grove_server_via(via, key, 7);
    grove_pid_t w = GROVE_PID_NONE;
    ASSERT_OK(grove_server_whereis(srv, &w));
    ASSERT_PID_EQ(w, p);
    grove_reg_entry_t e;
    size_t n = 0;
    ASSERT_OK(grove_registry_lookup(r, key, 7, &e, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT_PID_EQ(e.pid, p);
    ra_keys_t ks;
    memset(&ks, 0, sizeof ks);
    ASSERT_EQ(grove_registry_keys(r, p, ra_collect_key, &ks), 1);
    ASSERT_EQ(ra_keys_count(&ks, key, 7), 1);

    grove_msg_t *reply = NULL;
    grove_reason_t why;
    ASSERT_OK(grove_gs_try_call(srv, 9, "ping", 4, &reply,
                                gt_scaled_ms(GT_WAIT_MS), &why));
    ASSERT_EQ(grove_msg_size(reply), 4);
    ASSERT_EQ(memcmp(grove_msg_data(reply), "pong", 4), 0);
    grove_msg_free(reply);

    /* Taken: the holder comes back and init does not run. */
    ASSERT_EQ(atomic_load(&inits), 1);
    grove_gs_opts_t o;
    memset(&o, 0, sizeof o);
    o.via = via;
    o.via_key = key;
    o.via_key_len = 7;
    grove_pid_t h = GROVE_PID_NONE;
    ASSERT_ERR(grove_gs_start(&v_cb, NULL, &o, &h, &why),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(h, p);
    ASSERT_EQ(atomic_load(&inits), 1);

    /* The bytes up to the NUL are another name. */
    grove_pid_t q = start_via(via, key, 3);
    ASSERT_PID_NE(q, p);
    stop_server(q);

    ASSERT_OK(grove_gs_stop(srv, NULL, gt_scaled_ms(5000), &why));
    ASSERT_FALSE(grove_is_alive(p));
    ASSERT_ERR(grove_server_whereis(srv, &w), GROVE_ENOPROC);
    ASSERT_OK(grove_registry_lookup(r, key, 7, &e, 1, &n));
    ASSERT_EQ(n, 0);
    ASSERT_ERR(grove_gs_try_call(srv, 9, "ping", 4, &reply, 100, &why),
               GROVE_ENOPROC);
    ASSERT_OK(grove_gs_cast(srv, 9, NULL, 0)); /* to nobody: still 0 */

    grove_pid_t p2 = start_via(via, key, 7);
    ASSERT_PID_NE(p2, p);
    ASSERT_OK(grove_server_whereis(srv, &w));
    ASSERT_PID_EQ(w, p2);
    stop_server(p2);
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_OK(grove_registry_free(r));
}

/* a holder that died is never returned by whereis, and its name
 * can be taken at once. */
PROC_TEST(registry_R15_dead_holder_not_returned)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE);
    const grove_via_t *via = grove_registry_via(r);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    for (int round = 0; round < 20; round++) {
        grove_pid_t p = start_via(via, "svc", 3);
        WATCH(p);
        ASSERT_OK(grove_exit_signal(p, &kill));
        ASSERT_REASON_EQ(AWAIT_EXIT(p), grove_reason_of(GROVE_EXIT_KILLED));
        grove_pid_t w = GROVE_PID_NONE;
        ASSERT_ERR(via->whereis_name(via->reg, "svc", 3, &w),
                   GROVE_ENOTFOUND);
        ASSERT_ERR(grove_server_whereis(grove_server_via(via, "svc", 3), &w),
                   GROVE_ENOPROC);
        ASSERT_ERR(grove_registry_whereis(r, "svc", 3, &w), GROVE_ENOTFOUND);
    }
    grove_pid_t p = start_via(via, "svc", 3);
    stop_server(p);
    ASSERT_OK(grove_registry_free(r));
}

/* a start that fails or is ignored leaves the name free when it
 * returns. */
PROC_TEST(registry_R15_failed_start_frees_the_name)
{
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE);
    const grove_via_t *via = grove_registry_via(r);
    grove_gs_opts_t o;
    memset(&o, 0, sizeof o);
    o.via = via;
    o.via_key = "x";
    o.via_key_len = 1;
    grove_pid_t p;
    grove_reason_t why;
    memset(&why, 0, sizeof why);
    ASSERT_ERR(grove_gs_start(&v_cb, (void *)&FAIL_MARK, &o, &p, &why),
               GROVE_ESTARTFAIL);
    ASSERT_REASON_EQ(why, grove_reason_error(4, "no thanks"));
    size_t n = 1;
    ASSERT_OK(grove_registry_lookup(r, "x", 1, NULL, 0, &n));
    ASSERT_EQ(n, 0);
    ASSERT_ERR(grove_gs_start(&v_cb, (void *)&IGNORE_MARK, &o, &p, &why),
               GROVE_EIGNORE);
    ASSERT_OK(grove_registry_lookup(r, "x", 1, NULL, 0, &n));
    ASSERT_EQ(n, 0);
    ASSERT_EQ(grove_registry_count(r), 0);
    p = start_via(via, "x", 1);
    stop_server(p);
    ASSERT_OK(grove_registry_free(r));
}

/* via names are bytes too: the empty key and a long binary key. */
PROC_TEST(registry_R15_empty_and_binary_names)
{
    enum { LONG = 1000 };
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE);
    const grove_via_t *via = grove_registry_via(r);
    unsigned char *big = malloc(LONG);
    ASSERT_NOT_NULL(big);
    for (int i = 0; i < LONG; i++)
        big[i] = (unsigned char)(i % 3 ? i : 0);
    grove_pid_t a = start_via(via, NULL, 0);
    grove_pid_t b = start_via(via, big, LONG);
    grove_pid_t w;
    ASSERT_OK(grove_server_whereis(grove_server_via(via, "", 0), &w));
    ASSERT_PID_EQ(w, a);
    ASSERT_OK(grove_server_whereis(grove_server_via(via, big, LONG), &w));
    ASSERT_PID_EQ(w, b);
    ASSERT_ERR(grove_server_whereis(grove_server_via(via, big, LONG - 1),
                                    &w),
               GROVE_ENOPROC);
    stop_server(a);
    stop_server(b);
    free(big);
    ASSERT_OK(grove_registry_free(r));
}

/* a duplicate registry cannot name servers. */
PROC_TEST(registry_R15_duplicate_registry_has_no_via)
{
    grove_registry_t *d = new_reg(GROVE_REG_DUPLICATE);
    ASSERT_NULL(grove_registry_via(d));
    ASSERT_OK(grove_registry_free(d));
}

static dk_t kid;

/* R-15 for a DynamicSupervisor: reached through its via name; a second
 * one under the same name gives the holder. */
PROC_TEST(registry_R15_via_names_a_dynamic_supervisor)
{
    dk_init(&kid);
    grove_registry_t *r = new_reg(GROVE_REG_UNIQUE);
    const grove_via_t *via = grove_registry_via(r);
    grove_dynsup_opts_t o;
    memset(&o, 0, sizeof o);
    o.via = via;
    o.via_key = "pool";
    o.via_key_len = 4;
    grove_pid_t sup = DS_START(&o);
    grove_server_t srv = grove_server_via(via, "pool", 4);
    grove_child_spec_t s = dk_spec(&kid, GROVE_PERMANENT);
    grove_pid_t c = GROVE_PID_NONE;
    grove_reason_t why;
    ASSERT_OK(grove_dynsup_start_child(srv, &s, &c, &why));
    grove_child_counts_t k;
    ASSERT_OK(grove_dynsup_count_children(srv, &k));
    ASSERT_EQ(k.specs, 1);
    grove_pid_t h = GROVE_PID_NONE;
    o.link = true;
    ASSERT_ERR(grove_dynsup_start(&o, &h, &why), GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(h, sup);
    ASSERT_OK(grove_dynsup_terminate_child(srv, c));
    DS_STOP(sup);
    ASSERT_ERR(grove_dynsup_count_children(srv, &k), GROVE_ENOPROC);
    ASSERT_EQ(grove_registry_count(r), 0);
    ASSERT_OK(grove_registry_free(r));
}
