/* Helpers for the chat server tests: a server per case, clients that
 * fail the test when the server does not answer as expected. */
#ifndef GROVE_TEST_CHAT_UTIL_H
#define GROVE_TEST_CHAT_UTIL_H

#if defined(GROVE_HAVE_CHAT)

#include "chat.h"
#include "io_util.h"

/* Starts a server on a free loopback port; returns the port. */
int ct_start(bool poison);
/* Stops it and checks that no descriptor and no client process is left. */
void ct_stop(void);

/* Opens a registered client, failing the test otherwise. */
void ct_open_at(const char *file, int line, chat_client_t *c,
                const char *nick);
#define CT_OPEN(c, nick) ct_open_at(__FILE__, __LINE__, (c), (nick))
/* Sends a line, failing the test otherwise. */
#define CT_SEND(c, ...) ASSERT_OK(chat_client_send((c), __VA_ARGS__))
/* Waits for a line containing needle; copies it to out (size bytes) if
 * out is not NULL. No static or thread-local buffer: a process may
 * resume on another scheduler thread after any wait. */
void ct_expect_at(const char *file, int line, chat_client_t *c,
                  const char *needle, char *out, size_t size);
#define CT_EXPECT(c, needle)                                                 \
    ct_expect_at(__FILE__, __LINE__, (c), (needle), NULL, 0)
#define CT_EXPECT_INTO(c, needle, buf)                                       \
    ct_expect_at(__FILE__, __LINE__, (c), (needle), (buf), sizeof(buf))
/* Joins, failing the test otherwise. */
#define CT_JOIN(c, chan)                                                     \
    ASSERT_OK(chat_client_join((c), (chan), gt_scaled_ms(GT_WAIT_MS)))
/* Asserts that the client gets no line within ms. */
void ct_quiet_at(const char *file, int line, chat_client_t *c, int64_t ms);
#define CT_QUIET(c, ms) ct_quiet_at(__FILE__, __LINE__, (c), (ms))
/* Waits until the server counts this many clients. */
void ct_wait_clients_at(const char *file, int line, uint64_t n);
#define CT_WAIT_CLIENTS(n) ct_wait_clients_at(__FILE__, __LINE__, (n))
/* The connection processes now (sorted), for before/after checks. */
size_t ct_conn_pids(grove_pid_t *out, size_t max);

#endif
#endif
