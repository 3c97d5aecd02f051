/* Helpers shared by the observer's tests: a small supervision tree to
 * look at, the observer started on a free loopback port, and an HTTP
 * client written with plain sockets (run on the blocking pool, as every
 * blocking call from a process must be), so the tests speak to the
 * observer exactly as an outside client does. */
#ifndef GROVE_TEST_OBS_UTIL_H
#define GROVE_TEST_OBS_UTIL_H

#include "grove_test.h"
/* The same JSON reader grove-top uses: a client needs no Grove. */
#include "../../tools/grove-json.h"

/* ---- the tree under observation ----------------------------------------- */

/* A worker that waits for messages until it is killed. */
void obs_worker_main(void *arg);

/* Starts "Obs.Sup" (one_for_one, linked to the caller, which must trap
 * exits) with workers w1, w2 and w3; w3 restarts after backoff_ms (0: at
 * once). Returns its pid. */
grove_pid_t obs_start_tree(uint32_t backoff_ms);
/* Stops it (grove_gs_stop) and waits for its EXIT. */
void obs_stop_tree(grove_pid_t sup);

/* Starts an observer (opts may be NULL); returns its port, *pid its pid. */
int obs_start_at(const char *file, int line, const grove_observer_opts_t *o,
                 grove_pid_t *pid);
#define OBS_START(opts, pid) obs_start_at(__FILE__, __LINE__, (opts), (pid))

/* ---- the client --------------------------------------------------------- */

typedef struct obs_resp {
    int status;  /* 0: no response (refused, closed, timed out) */
    char *head;  /* status line and headers, NUL-terminated */
    char *body;  /* the body, NUL-terminated */
    size_t body_len;
    int64_t ms;  /* how long until the observer closed */
} obs_resp_t;

/* Sends raw[0..len) and reads until the observer closes or timeout_ms
 * passes. */
obs_resp_t obs_raw(int port, const char *raw, size_t len, int timeout_ms);
/* A GET, a HEAD or a POST of path with a proper Host header. */
obs_resp_t obs_get(int port, const char *path);
obs_resp_t obs_request(int port, const char *method, const char *path);
void obs_resp_free(obs_resp_t *r);
/* The body as JSON; fails the test if it is not. Free with gj_free. */
gj_t *obs_json_at(const char *file, int line, const obs_resp_t *r);
#define OBS_JSON(r) obs_json_at(__FILE__, __LINE__, (r))
/* GET path, expect status, and return the JSON body. */
gj_t *obs_get_json_at(const char *file, int line, int port, const char *path,
                      int status);
#define OBS_GET_JSON(port, path, status)                                     \
    obs_get_json_at(__FILE__, __LINE__, (port), (path), (status))

/* A header's value in r->head ("" if absent), in a static buffer. */
const char *obs_header(const obs_resp_t *r, const char *name);

/* Runs fn(job) on the blocking pool. job must be heap memory (dtor frees
 * it if the caller dies meanwhile): a waiting process's stack may be
 * trimmed, and the pool thread must never touch it. */
void obs_blocking(void (*fn)(void *), void *job, void (*dtor)(void *));
/* A connected loopback socket (blocking, with timeouts), or fails. */
int obs_connect(int port);
/* send() on the blocking pool. */
void obs_send(int fd, const void *data, size_t len);
/* Reads on the blocking pool until the text contains needle, the peer
 * closes or timeout_ms passes; returns what was read (malloc'd). */
char *obs_read_until(int fd, const char *needle, int timeout_ms);

/* ---- finding things ----------------------------------------------------- */

/* The tree node whose "id" is id, searched depth first, or NULL. */
const gj_t *obs_find_id(const gj_t *node, const char *id);
/* The root whose pid is pid, or NULL. */
const gj_t *obs_find_root(const gj_t *tree, grove_pid_t pid);
/* "<0.N.G>" of pid, in a static per-thread buffer. */
const char *obs_pid(grove_pid_t pid);
/* Percent-encodes a pid for a query string, in a static buffer. */
const char *obs_pid_q(grove_pid_t pid);

#endif
