/* A process that makes Registry calls on a test's behalf (registry_*.c).
 *
 * A registry registers only its caller, so a test that needs entries
 * owned by several processes asks agents to make the calls. An agent
 * waits for requests, performs each in its own process and answers with
 * the result; it can also be told to exit with any reason.
 */
#ifndef GROVE_TEST_REGISTRY_AGENT_H
#define GROVE_TEST_REGISTRY_AGENT_H

#include "grove_test.h"

enum { RA_REGISTER = 1, RA_UNREGISTER, RA_UPDATE, RA_EXIT, RA_ASSERT };

#define RA_KEY_MAX 128

typedef struct ra_result {
    int rc;
    grove_pid_t holder; /* RA_REGISTER */
    uint64_t old;       /* RA_UPDATE */
} ra_result_t;

/* Spawns an agent with a monitor (AWAIT_EXIT works on it). */
grove_pid_t ra_spawn_at(const char *file, int line);
#define RA_SPAWN() ra_spawn_at(__FILE__, __LINE__)
/* Has the agent perform op on reg and returns the result. */
ra_result_t ra_call_at(const char *file, int line, grove_pid_t agent, int op,
                       grove_registry_t *reg, const void *key, size_t len,
                       uint64_t value);
#define RA_CALL(agent, op, reg, key, len, value)                             \
    ra_call_at(__FILE__, __LINE__, (agent), (op), (reg), (key), (len),       \
               (value))
/* Registers through the agent, asserting 0. */
#define RA_REG(agent, reg, key, len, value)                                  \
    ASSERT_OK(RA_CALL((agent), RA_REGISTER, (reg), (key), (len), (value)).rc)
/* Tells the agent to exit with r (kill: an exit signal kill); does not
 * wait. RA_ASSERT makes it fail a GROVE_ASSERT instead. */
void ra_exit(grove_pid_t agent, grove_reason_t r);
void ra_assert_fail(grove_pid_t agent);
/* Tells the agent to exit normally and waits for it. */
void ra_stop_at(const char *file, int line, grove_pid_t agent);
#define RA_STOP(agent) ra_stop_at(__FILE__, __LINE__, (agent))

/* Key helpers for the checks. */
typedef struct ra_keys {
    int n;
    size_t len[16];
    unsigned char key[16][RA_KEY_MAX];
} ra_keys_t;
/* A grove_registry_keys callback collecting into an ra_keys_t. */
void ra_collect_key(const void *key, size_t len, void *arg);
/* How many collected keys equal key[0..len). */
int ra_keys_count(const ra_keys_t *k, const void *key, size_t len);
/* The number of entries of pid in reg (every key), by select. */
int ra_entries_of(grove_registry_t *reg, grove_pid_t pid);

#endif
