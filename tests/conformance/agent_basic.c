/* Agent: start, get, update, get_and_update, cast and stop; arguments
 * and results travel by copy; names; terminate; an agent under a
 * supervisor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviours.h"

/* The state: a counter and a short log of the values added. */
typedef struct counter {
    long value;
    int adds;
    char last[32];
} counter_t;

static void *counter_init(void *arg)
{
    counter_t *c = grove_calloc(1, sizeof *c);
    if (c)
        c->value = arg ? *(const long *)arg : 0;
    return c;
}

static size_t get_value(void *state, const void *arg, void *out, size_t cap)
{
    (void)arg;
    const counter_t *c = state;
    if (cap >= sizeof c->value)
        memcpy(out, &c->value, sizeof c->value);
    return sizeof c->value;
}

static void *add(void *state, const void *arg)
{
    counter_t *c = state;
    long d;
    memcpy(&d, arg, sizeof d);
    c->value += d;
    c->adds++;
    return c;
}

/* Returns the old value and doubles it. */
static void *get_and_double(void *state, const void *arg, void *out,
                            size_t cap, size_t *len)
{
    (void)arg;
    counter_t *c = state;
    if (cap >= sizeof c->value)
        memcpy(out, &c->value, sizeof c->value);
    *len = sizeof c->value;
    c->value *= 2;
    return c;
}

static long value_of(grove_server_t a)
{
    long v = -1;
    size_t len = 0;
    ASSERT_OK(grove_agent_get(a, get_value, NULL, 0, &v, sizeof v, &len,
                              5000));
    ASSERT_EQ(len, sizeof v);
    return v;
}

PROC_TEST(agent_basics)
{
    long start = 10;
    grove_pid_t pid;
    ASSERT_OK(grove_agent_start(counter_init, &start, NULL, &pid, NULL));
    grove_server_t a = grove_server_pid(pid);
    ASSERT_EQ(value_of(a), 10);
    long d = 5;
    ASSERT_OK(grove_agent_update(a, add, &d, sizeof d, 5000));
    ASSERT_EQ(value_of(a), 15);
    long old = 0;
    size_t len = 0;
    ASSERT_OK(grove_agent_get_and_update(a, get_and_double, NULL, 0, &old,
                                         sizeof old, &len, 5000));
    ASSERT_EQ(old, 15);
    ASSERT_EQ(len, sizeof old);
    ASSERT_EQ(value_of(a), 30);
    /* A cast is applied before a later request from the same caller. */
    d = -4;
    ASSERT_OK(grove_agent_cast(a, add, &d, sizeof d));
    ASSERT_EQ(value_of(a), 26);
    WATCH(pid);
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
    ASSERT_REASON_EQ(AWAIT_EXIT(pid), grove_reason_normal());
}

/* Requests run one at a time, in arrival order: many concurrent adders
 * lose no update. */
static grove_pid_t shared_agent;

static void adder(void *arg)
{
    (void)arg;
    long one = 1;
    for (int i = 0; i < 100; i++) {
        if (i % 2)
            grove_agent_update(grove_server_pid(shared_agent), add, &one,
                               sizeof one, GROVE_INFINITY);
        else
            grove_agent_cast(grove_server_pid(shared_agent), add, &one,
                             sizeof one);
    }
}

PROC_TEST_OPTS(agent_serializes_requests, .schedulers = 4)
{
    ASSERT_OK(grove_agent_start(counter_init, NULL, NULL, &shared_agent,
                                NULL));
    grove_pid_t p[8];
    for (int i = 0; i < 8; i++)
        p[i] = SPAWN_MON(adder, NULL, NULL);
    for (int i = 0; i < 8; i++)
        AWAIT_EXIT(p[i]);
    grove_server_t a = grove_server_pid(shared_agent);
    WAIT_UNTIL(value_of(a) == 800);
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
}

/* The argument is copied: the function sees the bytes as they were at
 * the call, wherever they came from. */
typedef struct label_arg {
    char text[8];
    int n;
} label_arg_t;

static void *set_label(void *state, const void *arg)
{
    counter_t *c = state;
    const label_arg_t *l = arg;
    snprintf(c->last, sizeof c->last, "%s%d", l->text, l->n);
    return c;
}

static size_t get_label(void *state, const void *arg, void *out, size_t cap)
{
    (void)arg;
    const counter_t *c = state;
    size_t n = strlen(c->last);
    memcpy(out, c->last, n < cap ? n : cap);
    return n;
}

PROC_TEST(agent_arguments_and_results_by_copy)
{
    grove_pid_t pid;
    ASSERT_OK(grove_agent_start(counter_init, NULL, NULL, &pid, NULL));
    grove_server_t a = grove_server_pid(pid);
    label_arg_t l = {"room", 42};
    ASSERT_OK(grove_agent_update(a, set_label, &l, sizeof l, 5000));
    char buf[16] = "";
    size_t len = 0;
    ASSERT_OK(grove_agent_get(a, get_label, NULL, 0, buf, sizeof buf - 1,
                              &len, 5000));
    ASSERT_EQ(len, 6);
    ASSERT_STREQ(buf, "room42");
    /* A reply longer than cap is cut; len says how long it was. */
    char small[3] = {0};
    ASSERT_OK(grove_agent_get(a, get_label, NULL, 0, small, 2, &len, 5000));
    ASSERT_EQ(len, 6);
    ASSERT_EQ(small[0], 'r');
    ASSERT_EQ(small[1], 'o');
    ASSERT_EQ(small[2], 0);
    /* cap 0: only the length. */
    ASSERT_OK(grove_agent_get(a, get_label, NULL, 0, NULL, 0, &len, 5000));
    ASSERT_EQ(len, 6);
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
}

/* Large arguments and results. */
static size_t echo_arg(void *state, const void *arg, void *out, size_t cap)
{
    (void)state;
    memcpy(out, arg, cap);
    return cap;
}

PROC_TEST(agent_large_payloads)
{
    grove_pid_t pid;
    ASSERT_OK(grove_agent_start(counter_init, NULL, NULL, &pid, NULL));
    size_t n = 256 * 1024;
    unsigned char *in = malloc(n), *out = malloc(n);
    ASSERT_NOT_NULL(in);
    ASSERT_NOT_NULL(out);
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)(i * 7);
    size_t len = 0;
    ASSERT_OK(grove_agent_get(grove_server_pid(pid), echo_arg, in, n, out, n,
                              &len, GROVE_INFINITY));
    ASSERT_EQ(len, n);
    ASSERT_EQ(memcmp(in, out, n), 0);
    free(in);
    free(out);
    ASSERT_OK(grove_agent_stop(grove_server_pid(pid), NULL, GROVE_INFINITY,
                               NULL));
}

/* Names: a local name and a via name from a Registry. */
PROC_TEST(agent_names)
{
    grove_agent_opts_t o = {.name = "counter"};
    grove_pid_t pid;
    ASSERT_OK(grove_agent_start(counter_init, NULL, &o, &pid, NULL));
    grove_server_t a = grove_server_name("counter");
    long d = 3;
    ASSERT_OK(grove_agent_update(a, add, &d, sizeof d, 5000));
    ASSERT_EQ(value_of(a), 3);
    grove_pid_t holder;
    ASSERT_ERR(grove_agent_start(counter_init, NULL, &o, &holder, NULL),
               GROVE_EALREADYSTARTED);
    ASSERT_PID_EQ(holder, pid);
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));

    grove_registry_t *reg;
    ASSERT_OK(grove_registry_new(NULL, &reg));
    grove_agent_opts_t v = {.via = grove_registry_via(reg),
                            .via_key = "acct-7", .via_key_len = 6};
    ASSERT_OK(grove_agent_start(counter_init, NULL, &v, &pid, NULL));
    a = grove_server_via(grove_registry_via(reg), "acct-7", 6);
    ASSERT_OK(grove_agent_update(a, add, &d, sizeof d, 5000));
    ASSERT_EQ(value_of(a), 3);
    WATCH(pid);
    ASSERT_OK(grove_agent_stop(a, NULL, GROVE_INFINITY, NULL));
    AWAIT_EXIT(pid);
    ASSERT_OK(grove_registry_free(reg));
}

/* terminate runs with the state on stop; the state may be malloc'd. */
static long terminated_with = -1;

static void *malloc_init(void *arg)
{
    (void)arg;
    long *v = malloc(sizeof *v);
    *v = 99;
    return v;
}

static void free_state(void *state)
{
    terminated_with = *(long *)state;
    free(state);
}

PROC_TEST(agent_terminate_frees_state)
{
    grove_agent_opts_t o = {.terminate = free_state};
    grove_pid_t pid;
    ASSERT_OK(grove_agent_start(malloc_init, NULL, &o, &pid, NULL));
    grove_reason_t bye = grove_reason_shutdown("closing");
    ASSERT_OK(grove_agent_stop(grove_server_pid(pid), &bye, GROVE_INFINITY,
                               NULL));
    ASSERT_EQ(terminated_with, 99);
}

/* An agent as a supervisor's child: killed, it comes back with its
 * initial state. */
static long sup_start_value = 7;
static grove_agent_spec_t agent_child = {
    .init = counter_init, .arg = &sup_start_value,
    .opts = {.name = "sup_counter"}};

PROC_TEST(agent_supervised)
{
    grove_child_spec_t kids[] = {{.id = "counter",
                                  .start = grove_agent_child_start,
                                  .arg = &agent_child}};
    grove_sup_spec_t spec = {.children = kids, .nchildren = 1};
    grove_pid_t sup = SUP_START(&spec);
    grove_server_t a = grove_server_name("sup_counter");
    long d = 100;
    ASSERT_OK(grove_agent_update(a, add, &d, sizeof d, 5000));
    ASSERT_EQ(value_of(a), 107);
    grove_pid_t old;
    ASSERT_OK(grove_whereis("sup_counter", &old));
    grove_process_info_t info;
    ASSERT_OK(grove_process_info(old, &info));
    ASSERT_EQ(info.links, 1);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(old, &kill));
    WAIT_RESTARTED(sup, "counter", old);
    ASSERT_EQ(value_of(a), 7);
    SUP_SHUTDOWN(sup);
}
