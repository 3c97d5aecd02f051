/* Helpers shared by the I/O tests: descriptor counts, a listener on a
 * loopback port, a process that echoes lines, and a raw loopback client
 * for tests that must misbehave below the API (half-close, vanish). */
#ifndef GROVE_TEST_IO_UTIL_H
#define GROVE_TEST_IO_UTIL_H

#include "grove_test.h"

/* Open descriptors of this OS process (/proc/self/fd). */
int io_fd_count(void);
/* The count once the I/O layer runs (its poller holds a descriptor from
 * the first socket on): the baseline for leak checks. From a process. */
int io_fd_baseline(void);
/* Waits (scaled ms) until the descriptor count is at most want; fails the
 * test otherwise, printing both. */
void io_wait_fds_at(const char *file, int line, int want, int64_t ms);
#define WAIT_FDS(want) io_wait_fds_at(__FILE__, __LINE__, (want), 5000)

/* Raises the soft descriptor limit to the hard one; returns the soft. */
long io_raise_nofile(void);

/* Listens on 127.0.0.1 with a free port; returns the port. */
int io_listen_local(grove_io_t *out);
/* A connected loopback pair: the listener *l, the client *c and the
 * server side *s it accepted. */
void io_pair_local(grove_io_t *l, grove_io_t *c, grove_io_t *s);

/* An echo server: accepts one connection on the listener it is handed
 * (grove_io_handoff with IO_TAG_LISTENER), then echoes lines until the
 * peer closes. */
#define IO_TAG_LISTENER 0x494f000000000001ull
void io_echo_main(void *arg);
/* Spawns an echo server on a fresh listener; returns its port. */
int io_spawn_echo(grove_pid_t *pid);

/* Reads one line within GT_WAIT_MS and compares it with want. */
void io_expect_line_at(const char *file, int line, grove_io_t s,
                       const char *want);
#define EXPECT_LINE(s, want) io_expect_line_at(__FILE__, __LINE__, (s), (want))

#endif
