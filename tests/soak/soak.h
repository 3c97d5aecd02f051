/* The chaos soak: what its files share. main.c says what the soak runs
 * and checks; app.c holds the application's servers, tree.c the
 * supervision tree and its invariants, chaos.c the processes that attack
 * it, report.c the log handler, counters and the summary, faults.c the
 * deliberate faults. */
#ifndef GROVE_SOAK_H
#define GROVE_SOAK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <grove.h>

/* ---- message tags ------------------------------------------------------- */

enum {
    TAG_PING = 1, /* call: a worker answers with its message count */
    TAG_GET,      /* call: db/cache lookup (kv_t) */
    TAG_PUT,      /* call or cast: db store (kv_t) */
    TAG_NOW,      /* call: the clock's tick count */
    TAG_STATS,    /* call: a service's operation count */
    TAG_FAULT,    /* cast: fault_kind_t to inject */
    TAG_TICK,     /* info: a send_after tick */
    TAG_SYNC,     /* call: the session manager answers once idle */
    TAG_STOP      /* a helper process stops */
};
/* A message no server of the soak expects: it stops with an error. */
#define TAG_ROGUE UINT64_C(0x5eedbad0)

typedef struct kv {
    uint64_t key, val;
} kv_t;

#define DB_SLOTS 1024

/* ---- names -------------------------------------------------------------- */

#define N_ROOT "soak.root"
#define N_CORE "soak.core"
#define N_CLUSTER "soak.cluster"
#define N_FRAGILE "soak.fragile"
#define N_SESSIONS "soak.sessions"
#define N_DB "soak.db"
#define N_CLOCK "soak.clock"
#define N_SESSMGR "soak.sessmgr"
/* Registry (via) names of services; workers use "w/<group>/<i>", the
 * fragile subtree "f/<i>" and sessions "s/<n>". */
#define K_CACHE "svc/cache"
#define K_AUDITOR "svc/auditor"

/* ---- faults and kills --------------------------------------------------- */

typedef enum fault_kind {
    F_NULL = 0,   /* NULL dereference: SIGSEGV */
    F_STACK,      /* unbounded recursion into the guard page */
    F_ASSERT,     /* a failed GROVE_ASSERT */
    F_UNEXPECTED, /* a message the server does not expect */
    F_QUIT,       /* the server stops with reason normal */
    F_OOM,        /* grove_alloc until an allocation fails */
    F__COUNT
} fault_kind_t;

typedef enum kill_class {
    K_WORKER = 0,
    K_SESSION,
    K_SERVICE,
    K_SUPERVISOR,
    K_PROBE,   /* the latency prober's kills */
    K_FRAGILE, /* the fragile driver's kills */
    K__COUNT
} kill_class_t;

extern const char *const soak_fault_names[F__COUNT];
extern const char *const soak_kill_names[K__COUNT];

/* ---- configuration ------------------------------------------------------ */

typedef struct soak_cfg {
    int seconds;
    int schedulers;    /* 0: the runtime's default */
    int pool_workers;  /* workers in each of the two pools */
    int shards;        /* shard supervisors in the one_for_all subtree */
    int shard_workers; /* workers per shard */
    int sessions;      /* sessions the session manager keeps, about */
    double kill_rate;  /* kills per second, all chaos processes together */
    double fault_rate; /* faults per second, likewise */
    int oom_every_s;   /* one allocation-failure fault this often */
    bool sup_kills;    /* the chaos kills supervisors too (default) */
    uint64_t seed;
    int mult;          /* timeout multiplier for slow builds */
    bool verbose;      /* print every report as it comes */
} soak_cfg_t;

extern soak_cfg_t soak_cfg;
extern grove_registry_t *soak_reg;

/* Workers of the fragile subtree and its intensity limit. */
#define FRAGILE_WORKERS 6
#define FRAGILE_MAX_RESTARTS 3
#define FRAGILE_MAX_SECONDS 60
/* The intensity limit every other supervisor has: far above what the
 * chaos rate can reach, so none may ever escalate. */
#define GENEROUS_MAX_RESTARTS 10000
#define GENEROUS_MAX_SECONDS 5
/* Bound on one allocation-failure attempt. */
#define OOM_CAP ((size_t)64 << 20)
#define OOM_CHUNK ((size_t)1 << 20)

/* ---- workers ------------------------------------------------------------ */

#define W_TRAP 1u      /* traps exits; casts only, so it ends promptly */
#define W_TIMEOUT 2u   /* idles with gen_server timeouts */
#define W_HIBERNATE 4u /* hibernates between messages now and then */
#define W_PIPE 8u      /* owns a pipe (two fds) as resources */
#define W_BUFFER 16u   /* owns a malloc'ed buffer as a resource */

/* One static worker: its registry key is also its child id. The struct
 * outlives every restart: the child spec points at opts. */
typedef struct wdef {
    char key[24];
    unsigned flags;
    int restart;          /* grove_restart_t */
    int peer;             /* index of a worker it calls, or -1 */
    bool chaos;           /* the chaos may attack it */
    grove_gs_opts_t opts; /* via name in soak_reg */
} wdef_t;

extern wdef_t *soak_workers;
extern size_t soak_nworkers;

/* ---- counters (report.c) ------------------------------------------------ */

/* Plain event counters. Relaxed atomics: they are only read for the
 * summary, after the processes that bump them have ended. */
typedef struct soak_counters {
    atomic_ulong kills[K__COUNT];
    atomic_ulong kill_misses; /* target gone or not found */
    atomic_ulong faults_sent[F__COUNT];
    atomic_ulong faults_run[F__COUNT];
    atomic_ulong oom_null;      /* attempts that ended in a NULL */
    atomic_ulong oom_max_bytes; /* most held by one attempt */
    atomic_ulong calls_ok, calls_timeout, calls_noproc, calls_exited;
    atomic_ulong ticks, gs_timeouts, terminates;
    atomic_ulong sessions_started, sessions_start_failed;
    atomic_ulong sessions_stopped, sessions_reconnected;
    atomic_ulong probes, probe_failures;
    atomic_ulong fragile_cycles, fragile_escalations;
    atomic_ulong migrations;
} soak_counters_t;

extern soak_counters_t soak_ctr;

static inline void soak_inc(atomic_ulong *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
static inline unsigned long soak_get(atomic_ulong *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Set while the session manager must not start or stop sessions. */
extern atomic_bool soak_paused;
/* The next session number: global so a restarted manager never reuses
 * one. */
extern atomic_ulong soak_session_next;
/* Set while a worker runs an allocation-failure fault. */
extern atomic_bool soak_oom_busy;

/* ---- helpers ------------------------------------------------------------ */

static inline uint64_t soak_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}
/* A non-zero seed for one process, from the run's seed. */
uint64_t soak_seed_for(uint64_t salt);
/* Milliseconds scaled by the slow-build multiplier. */
static inline int64_t soak_ms(int64_t ms) { return ms * soak_cfg.mult; }

/* Records a violation: printed now, and the run fails. */
void soak_violation(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int soak_violations(void);
/* Prints a line of the report (stdout, flushed). */
void soak_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Counts an outcome of grove_gs_try_call. */
void soak_count_call(int rc);
/* try_call that frees the reply and counts the outcome. */
int soak_call(grove_server_t srv, uint64_t tag, const void *req, size_t size,
              grove_timeout_t timeout);
static inline grove_server_t soak_via(const char *key)
{
    return grove_server_via(grove_registry_via(soak_reg), key,
                            strlen(key));
}
/* The pid behind a registry key or a local name; NONE if there is none. */
grove_pid_t soak_key_pid(const char *key);
grove_pid_t soak_name_pid(const char *name);

/* ---- the application (app.c) -------------------------------------------- */

extern const grove_gs_callbacks_t soak_worker_cb, soak_db_cb, soak_cache_cb,
    soak_clock_cb, soak_auditor_cb, soak_migrator_cb, soak_sessmgr_cb;
int soak_session_start(void *arg, grove_pid_t *pid, grove_reason_t *why);
/* A random running session from the registry (NONE if there is none);
 * *n gets its number. */
grove_pid_t soak_random_session(uint64_t *rng, uint64_t *n);

/* ---- faults (faults.c) -------------------------------------------------- */

void soak_fault_null(void);
void soak_fault_stack(void);

/* ---- the tree (tree.c) -------------------------------------------------- */

int soak_tree_build(void);
void soak_tree_free(void);
/* Starts the root supervisor (named, not linked). */
int soak_tree_start(grove_pid_t *root, grove_reason_t *why);

/* What a walk of the running tree found. */
typedef struct soak_walk {
    uint64_t *pids; /* every process of the tree, root included */
    size_t npids, cap;
    size_t workers, supervisors, sessions, registered;
    int issues;     /* shape or count problems found */
    char first_issue[256];
} soak_walk_t;

/* Walks the tree from the root; with report set, every issue is a
 * violation, else issues are only counted (while the tree settles). */
void soak_tree_walk(grove_pid_t root, bool report, soak_walk_t *w);
void soak_walk_free(soak_walk_t *w);
/* Prints one line per supervisor: restarts (grove_sup_stats and
 * reports), intensity window, children; checks the stats against the
 * supervisor's own restart reports. */
void soak_tree_print(grove_pid_t root);
/* Samples each supervisor's intensity window (grove_sup_stats), keeping
 * the peak per supervisor for the table. */
void soak_tree_sample_windows(void);
/* Called (from the log handler) when supervisor sup has failed to start
 * child `child` many times in a row: says who holds the child's name. */
void soak_tree_retry_storm(const char *sup, const char *child,
                           unsigned long run);
/* Names of every supervisor (as in reports), for the escalation check. */
size_t soak_sup_names(const char **out, size_t max);
/* Local names of the supervisors the chaos may kill: all but the root
 * and the fragile subtree. */
size_t soak_chaos_sup_names(const char **out, size_t max);

/* ---- chaos (chaos.c) ---------------------------------------------------- */

void soak_chaos_main(void *arg);   /* arg: its index */
void soak_prober_main(void *arg);
void soak_fragile_main(void *arg);
/* Restart latency samples, kill to replacement answering (ms). */
void soak_latency_summary(uint64_t *n, uint64_t *max, double *mean,
                          uint64_t *p99);

/* ---- reports (report.c) ------------------------------------------------- */

int soak_log_install(void);
void soak_log_remove(void);
/* Supervisor report counts by supervisor name and by instance pid. */
typedef struct soak_sup_counts {
    unsigned long restarts, terminated, escalations, start_errors,
        shutdown_errors, started;
    /* The longest run of failed starts of one child in a row, until it
     * started: how many, and over how long. */
    unsigned long retry_run, retry_run_ms;
} soak_sup_counts_t;
void soak_sup_counts_by_name(const char *name, soak_sup_counts_t *out);
/* Restart reports a supervisor instance emitted; -1 if not tracked. */
long soak_restart_reports_of(grove_pid_t sup);
/* Restart reports of every supervisor so far. */
unsigned long soak_total_restarts(void);
/* Reports by root about its child "fragile": terminated with reason
 * shutdown, and restarted. */
void soak_fragile_seen(unsigned long *shutdowns, unsigned long *restarts);
/* Prints the recent reports (on a violation). */
void soak_dump_recent(void);
void soak_print_reports(void);
/* RSS in bytes, and the sampled series. */
uint64_t soak_rss(void);
void soak_rss_sample(uint64_t t_ms);
void soak_print_rss(void);
/* Open file descriptors of the OS process. */
int soak_count_fds(void);

#endif
