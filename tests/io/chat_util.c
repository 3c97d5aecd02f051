/* Helpers for the chat server tests. */
#include "chat_util.h"

#if defined(GROVE_HAVE_CHAT)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fd_base;

int ct_start(bool poison)
{
    io_raise_nofile();
    fd_base = io_fd_baseline();
    chat_opts_t o = {.host = "127.0.0.1", .port = 0, .poison = poison};
    grove_pid_t root;
    grove_reason_t why;
    int rc = chat_start(&o, &root, &why);
    if (rc != 0)
        GT_FAIL("chat_start: %s (%s)", grove_errname(rc), gt_reason_str(why));
    int port = chat_port();
    ASSERT_GT(port, 0);
    return port;
}

void ct_stop(void)
{
    CT_WAIT_CLIENTS(0);
    ASSERT_OK(chat_stop());
    WAIT_FDS(fd_base);
}

void ct_open_at(const char *file, int line, chat_client_t *c,
                const char *nick)
{
    int rc = chat_client_open(c, NULL, chat_port(), nick,
                              gt_scaled_ms(GT_WAIT_MS));
    if (rc != 0)
        gt_fail(file, line, "chat_client_open(%s): %s", nick,
                grove_errname(rc));
}

void ct_expect_at(const char *file, int line, chat_client_t *c,
                  const char *needle, char *out, size_t size)
{
    char buf[1024];
    int rc = chat_client_expect(c, needle, buf, sizeof buf,
                                gt_scaled_ms(GT_WAIT_MS));
    if (rc < 0)
        gt_fail(file, line, "%s: no line with \"%s\": %s", c->nick, needle,
                grove_errname(rc));
    if (out)
        snprintf(out, size, "%s", buf);
}

void ct_quiet_at(const char *file, int line, chat_client_t *c, int64_t ms)
{
    char buf[1024];
    int rc = chat_client_line(c, buf, sizeof buf, ms);
    if (rc != GROVE_ETIMEDOUT)
        gt_fail(file, line, "%s: expected nothing, got %s \"%s\"", c->nick,
                grove_errname(rc < 0 ? rc : 0), rc >= 0 ? buf : "");
}

void ct_wait_clients_at(const char *file, int line, uint64_t n)
{
    int64_t dl = gt_now_ms() + gt_scaled_ms(10000);
    chat_stats_t st;
    for (;;) {
        if (chat_stats(&st) != 0)
            gt_fail(file, line, "chat_stats failed");
        if (st.clients == n)
            return;
        if (gt_now_ms() > dl)
            gt_fail(file, line, "server clients: %llu, expected %llu",
                    (unsigned long long)st.clients, (unsigned long long)n);
        grove_sleep(5);
    }
}

static int cmp_pid(const void *a, const void *b)
{
    const grove_pid_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

size_t ct_conn_pids(grove_pid_t *out, size_t max)
{
    grove_child_info_t info[64];
    size_t n = 0;
    ASSERT_OK(grove_dynsup_which_children(grove_server_name("chat.conns"),
                                          info, 64, &n));
    ASSERT_LE(n, max);
    for (size_t i = 0; i < n; i++)
        out[i] = info[i].pid;
    qsort(out, n, sizeof *out, cmp_pid);
    return n;
}

#endif
