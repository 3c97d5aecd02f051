/* Grove Agent: Elixir's Agent, state kept in a process and read or
 * changed by functions that run inside it.
 *
 * An agent is a gen_server whose whole protocol is "run this function on
 * your state": get copies data out of the state, update replaces the
 * state, get_and_update does both at once, cast updates without waiting.
 * The functions run in the agent process, one at a time, in arrival
 * order, so the state needs no lock.
 *
 * Arguments travel by copy: arg[0..arg_size) is copied into the request
 * and the function gets a pointer to that copy (NULL when arg_size is 0),
 * valid while it runs. To hand over a pointer, pass the pointer's bytes
 * (&ptr, sizeof ptr). Results travel by copy too: the function writes
 * into a buffer of cap bytes inside the agent and those bytes are copied
 * to the caller's out.
 *
 * State memory is best taken with grove_alloc inside the init and update
 * functions (they run in the agent process): it is then released with the
 * agent however it ends. Otherwise set opts.terminate to free it.
 */
#ifndef GROVE_AGENT_H
#define GROVE_AGENT_H

#include "gen_server.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the initial state; runs in the new agent. */
typedef void *(*grove_agent_init_fn)(void *arg);
/* Writes what the caller wants to out (at most cap bytes) and returns the
 * full length, which may exceed cap (the copy is then cut, as snprintf). */
typedef size_t (*grove_agent_get_fn)(void *state, const void *arg, void *out,
                                     size_t cap);
/* Returns the new state (which may be the same pointer). */
typedef void *(*grove_agent_update_fn)(void *state, const void *arg);
/* Both: writes the reply to out, its full length to *len, and returns
 * the new state. */
typedef void *(*grove_agent_get_update_fn)(void *state, const void *arg,
                                           void *out, size_t cap,
                                           size_t *len);

typedef struct grove_agent_opts {
    bool link;              /* start_link (default: no link) */
    const char *name;       /* local name */
    const grove_via_t *via; /* or a via name */
    const void *via_key;
    size_t via_key_len;
    grove_timeout_t timeout; /* time init may take; 0: no limit */
    /* Runs with the state when the agent stops through grove_agent_stop,
     * its parent's shutdown or an exit of its own (not when killed). */
    void (*terminate)(void *state);
} grove_agent_opts_t;

/* Starts an agent whose state is init(arg), and waits for init to
 * return, as Agent.start / start_link. arg is passed as is. opts may be
 * NULL. Returns as grove_gs_start: 0 (*pid set), GROVE_EINVAL (NULL
 * init, a bad option), GROVE_ESTARTFAIL (init exited: *why),
 * GROVE_EALREADYSTARTED, GROVE_ETIMEDOUT, GROVE_ENOMEM, GROVE_ELIMIT,
 * GROVE_ENOTPROC, GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_agent_start(grove_agent_init_fn init, void *arg,
                                   const grove_agent_opts_t *opts,
                                   grove_pid_t *pid, grove_reason_t *why);

/* An agent as a supervisor's child: .start = grove_agent_child_start,
 * .arg = a grove_agent_spec_t that outlives the supervisor. It is started
 * linked to the supervisor whatever opts.link says. */
typedef struct grove_agent_spec {
    grove_agent_init_fn init;
    void *arg;
    grove_agent_opts_t opts;
} grove_agent_spec_t;

GROVE_EXPORT int grove_agent_child_start(void *spec, grove_pid_t *pid,
                                         grove_reason_t *why);

/* Runs fn(state, arg copy, buf, cap) in the agent and copies what it
 * wrote to out[0..min(len, cap)), as Agent.get. *len (may be NULL) gets
 * the length fn returned. Returns 0; GROVE_EINVAL (NULL fn, NULL arg with
 * arg_size, NULL out with cap, arg_size or cap beyond what a message
 * carries, a malformed reference, bad timeout) without calling; on any
 * other failure the CALLER EXITS as from grove_gs_call (timeout, noproc,
 * the agent's reason when fn made it exit). Outside a process it returns
 * GROVE_ENOTPROC. */
GROVE_EXPORT int grove_agent_get(grove_server_t agent, grove_agent_get_fn fn,
                                 const void *arg, size_t arg_size, void *out,
                                 size_t cap, size_t *len,
                                 grove_timeout_t timeout);

/* Replaces the state with fn(state, arg copy) and waits until done, as
 * Agent.update. Returns and exits as grove_agent_get. */
GROVE_EXPORT int grove_agent_update(grove_server_t agent,
                                    grove_agent_update_fn fn, const void *arg,
                                    size_t arg_size, grove_timeout_t timeout);

/* Runs fn in the agent: its reply is copied to out and its return value
 * becomes the state, as Agent.get_and_update. Returns and exits as
 * grove_agent_get. */
GROVE_EXPORT int grove_agent_get_and_update(grove_server_t agent,
                                            grove_agent_get_update_fn fn,
                                            const void *arg, size_t arg_size,
                                            void *out, size_t cap,
                                            size_t *len,
                                            grove_timeout_t timeout);

/* The same three without ever exiting: they return what
 * grove_gs_try_call would (GROVE_ETIMEDOUT, GROVE_ENOPROC, GROVE_EEXITED
 * with *why, GROVE_ECALLINGSELF, GROVE_EINVAL, GROVE_ENOTPROC), plus
 * GROVE_ENOMEM when the agent could not make a cap-byte buffer. */
GROVE_EXPORT int grove_agent_try_get(grove_server_t agent,
                                     grove_agent_get_fn fn, const void *arg,
                                     size_t arg_size, void *out, size_t cap,
                                     size_t *len, grove_timeout_t timeout,
                                     grove_reason_t *why);
GROVE_EXPORT int grove_agent_try_update(grove_server_t agent,
                                        grove_agent_update_fn fn,
                                        const void *arg, size_t arg_size,
                                        grove_timeout_t timeout,
                                        grove_reason_t *why);
GROVE_EXPORT int grove_agent_try_get_and_update(
    grove_server_t agent, grove_agent_get_update_fn fn, const void *arg,
    size_t arg_size, void *out, size_t cap, size_t *len,
    grove_timeout_t timeout, grove_reason_t *why);

/* Updates the state without waiting, as Agent.cast. Returns 0 once the
 * arguments are valid, even if there is no such agent; GROVE_EINVAL or
 * GROVE_ENOMEM otherwise. From any thread. */
GROVE_EXPORT int grove_agent_cast(grove_server_t agent,
                                  grove_agent_update_fn fn, const void *arg,
                                  size_t arg_size);

/* Stops the agent, as Agent.stop: opts.terminate runs, then it exits with
 * *reason (NULL: normal). Returns as grove_gs_stop. */
GROVE_EXPORT int grove_agent_stop(grove_server_t agent,
                                  const grove_reason_t *reason,
                                  grove_timeout_t timeout,
                                  grove_reason_t *why);

#ifdef __cplusplus
}
#endif
#endif
