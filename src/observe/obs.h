/* The observer's internals, shared by the files of src/observe.
 *
 * One observer is one grove__obs_t and a supervision tree:
 *
 *     observer supervisor (rest_for_one)
 *     ├── sampler       samples threads and counters each second
 *     ├── connections   a DynamicSupervisor: one process per HTTP request
 *     └── acceptor      a gen_server owning the listening socket
 *
 * Lifetime of the state. Many processes use the grove__obs_t, and any of
 * them may be killed at any moment, so it is reference counted and every
 * reference is held by something the runtime releases for us: the
 * supervisor's own reference is a resource attached to the supervisor
 * process (by its first child's start function, which runs in it), the
 * acceptor attaches one in its init, and every other process receives
 * its reference as an owned message whose destructor drops it (so a
 * process that dies before it even ran still lets it go). The last
 * release unlinks the state from the list the log handler walks and
 * frees it.
 *
 * Events. One log handler per runtime run (installed with the first
 * observer, removed at grove_stop) copies supervisor, crash and
 * application reports into each observer's ring and per-supervisor
 * history, under short mutexes, and wakes the event streams by message:
 * it never blocks.
 */
#ifndef GROVE_OBSERVE_OBS_H
#define GROVE_OBSERVE_OBS_H

#include <pthread.h>

#include "base/base.h"
#include "base/failpoint.h"
#include "behaviours/behaviours.h"
#include "grove/application.h"
#include "grove/observer.h"
#include "http.h"
#include "io/io.h"

/* ---- sizes ------------------------------------------------------------- */

#define GROVE__OBS_EVENTS 256     /* events kept for /api/events */
#define GROVE__OBS_EVENT_MAX 1024 /* bytes of one event's JSON */
#define GROVE__OBS_HIST_SUPS 128  /* supervisors whose history is kept */
#define GROVE__OBS_HIST 12        /* events kept per supervisor */
#define GROVE__OBS_SUBS 16        /* event streams at once */
#define GROVE__OBS_SAMPLES 60     /* scheduler samples kept (one a second) */
#define GROVE__OBS_THREADS 64     /* OS threads followed */

/* Message tags between the observer's processes. */
#define GROVE__OBS_TAG_STATE UINT64_C(0x4f42530000000001)  /* a reference */
#define GROVE__OBS_TAG_SOCKET UINT64_C(0x4f42530000000002) /* a handoff */
#define GROVE__OBS_TAG_WAKE UINT64_C(0x4f42530000000003)   /* new events */
#define GROVE__OBS_TAG_READY UINT64_C(0x4f42530000000004)  /* socket ready */
#define GROVE__OBS_TAG_JOB UINT64_C(0x4f42530000000005)    /* helper job */
#define GROVE__OBS_TAG_ANSWER UINT64_C(0x4f42530000000006) /* its answer */

/* ---- the state ---------------------------------------------------------- */

/* One supervisor event, as the tree's history shows it. */
typedef struct grove__obs_hist_ev {
    uint64_t seq, time_ms; /* time_ms: wall clock, ms since the epoch */
    uint64_t child_pid;
    char context[32];
    char child_id[64];
    char reason[96];
} grove__obs_hist_ev_t;

typedef struct grove__obs_hist {
    uint64_t sup;     /* the supervisor's pid id */
    char name[64];    /* its spec's name, as its reports give it */
    uint64_t touched; /* seq of its last event: the oldest is replaced */
    uint32_t next, count;
    grove__obs_hist_ev_t ev[GROVE__OBS_HIST];
} grove__obs_hist_t;

typedef struct grove__obs_event {
    uint64_t seq;
    uint32_t len;
    char json[GROVE__OBS_EVENT_MAX]; /* an object without its seq */
} grove__obs_event_t;

/* An event stream: the handler sends one wake-up while pending is 0. */
typedef struct grove__obs_sub {
    _Atomic uint64_t pid;
    atomic_int pending;
} grove__obs_sub_t;

typedef struct grove__obs_sample {
    uint64_t t_ms;            /* grove_now_ms() */
    double cpu;               /* cores the OS process used */
    uint32_t running, runnable, processes;
    double reductions_per_s, spawned_per_s, exited_per_s, steals_per_s;
    uint64_t messages;
} grove__obs_sample_t;

typedef struct grove__obs_thread {
    int tid;
    char name[16];
    bool scheduler; /* a Grove process was seen running on it */
    double utilisation;
    uint64_t ticks;  /* user + system clock ticks at the last sample */
} grove__obs_thread_t;

typedef struct grove__obs grove__obs_t;
struct grove__obs {
    atomic_int refs;
    grove__obs_t *next; /* the list of observers, under its lock */

    /* Options, fixed before the tree starts. */
    char bind[128];
    int want_port;
    int kill_mode;
    grove_pid_t roots[GROVE_OBSERVER_MAX_ROOTS];
    size_t nroots;
    char apps[GROVE_OBSERVER_MAX_ROOTS][64];
    size_t napps;
    grove_pid_t above; /* topmost supervisor above the starter, or none */
    uint32_t max_conns;
    grove_timeout_t req_timeout, call_timeout;

    /* Set by the tree's processes (relaxed: plain values, read later). */
    _Atomic uint64_t sup;   /* the observer's supervisor */
    _Atomic uint64_t conns; /* the connection supervisor */
    atomic_int port;
    atomic_bool loopback;
    atomic_int listen_error;
    bool sup_ref; /* the supervisor holds its reference (its process only) */

    /* Events, under ev_lock. */
    pthread_mutex_t ev_lock;
    uint64_t ev_seq; /* the last seq given */
    grove__obs_event_t *ring;
    grove__obs_hist_t *hist[GROVE__OBS_HIST_SUPS];
    grove__obs_sub_t subs[GROVE__OBS_SUBS];

    /* Scheduler samples, under smp_lock. */
    pthread_mutex_t smp_lock;
    grove__obs_sample_t samples[GROVE__OBS_SAMPLES];
    uint32_t nsamples, next_sample;
    grove__obs_thread_t threads[GROVE__OBS_THREADS];
    uint32_t nthreads;
    atomic_int sched_tids[GROVE__OBS_THREADS]; /* 0: free */
};

/* observer.c */
GROVE__HIDDEN void grove__obs_hold(grove__obs_t *o);
GROVE__HIDDEN void grove__obs_release(grove__obs_t *o);
/* Destructor form of grove__obs_release, for resources and messages. */
GROVE__HIDDEN void grove__obs_release_dtor(void *o);
/* Holds a reference for the calling process, released when it exits.
 * Returns 0 or GROVE_ENOMEM. */
GROVE__HIDDEN int grove__obs_attach(grove__obs_t *o);
/* Holds a reference for process pid and sends it there; the process
 * takes it with grove__obs_take. Returns as grove_send_owned. */
GROVE__HIDDEN int grove__obs_give(grove__obs_t *o, grove_pid_t pid);
/* The reference given to the calling process (waits up to 5 s), or
 * NULL. The message stays queued: it drops the reference at exit. */
GROVE__HIDDEN grove__obs_t *grove__obs_take(void);
/* Records that the calling thread runs Grove processes. */
GROVE__HIDDEN void grove__obs_note_thread(grove__obs_t *o);
/* Records that thread tid runs Grove processes. */
GROVE__HIDDEN void grove__obs_note_tid(grove__obs_t *o, int tid);
/* Calls fn for every observer, under the list lock. */
GROVE__HIDDEN void grove__obs_each(void (*fn)(grove__obs_t *o, void *arg),
                                   void *arg);
/* True for a process whose behaviour is a supervisor's. */
GROVE__HIDDEN bool grove__obs_is_sup(const grove_process_info_t *pi);

/* events.c */
GROVE__HIDDEN int grove__obs_events_init(grove__obs_t *o);
GROVE__HIDDEN void grove__obs_events_free(grove__obs_t *o);
/* Installs the log handler once per runtime run. Returns 0 or an error
 * of grove_log_add_handler. */
GROVE__HIDDEN int grove__obs_events_install(void);

/* ---- output ------------------------------------------------------------- */

/* A response body being written: kept in memory and flushed to the
 * socket whenever it passes a threshold. Errors stick: once a write
 * failed, later output is dropped and grove__obs_flush returns it. */
typedef struct grove__obs_out {
    grove_io_t sock;
    char *buf; /* grove_alloc'd: the connection process owns it */
    size_t len, cap;
    int err;
    bool discard;     /* a HEAD request: headers only */
    int64_t deadline; /* grove_now_ms() by which the response must be out */
} grove__obs_out_t;

GROVE__HIDDEN void grove__obs_put(grove__obs_out_t *w, const char *s,
                                  size_t n);
GROVE__HIDDEN void grove__obs_puts(grove__obs_out_t *w, const char *s);
GROVE__HIDDEN void grove__obs_printf(grove__obs_out_t *w, const char *fmt,
                                     ...) __attribute__((format(printf, 2, 3)));
/* A JSON string for s, at most max bytes of it (0: all). */
GROVE__HIDDEN void grove__obs_json_str(grove__obs_out_t *w, const char *s,
                                       size_t max);
/* "<0.N.G>" as a JSON string, or null for none. */
GROVE__HIDDEN void grove__obs_json_pid(grove__obs_out_t *w, grove_pid_t p);
/* Sends what is buffered. Returns 0 or the first error. */
GROVE__HIDDEN int grove__obs_flush(grove__obs_out_t *w);
/* grove__obs_json_escape (json.c) is declared in http.h. */

/* ---- connections -------------------------------------------------------- */

typedef struct grove__obs_conn {
    grove__obs_t *o;
    grove_io_t sock;
    grove__http_req_t req;
    grove__obs_out_t out;
    const char *allow; /* the Allow header of a 405 */
    char head[GROVE__HTTP_HEAD_MAX];
} grove__obs_conn_t;

/* conn.c */
GROVE__HIDDEN void grove__obs_conn_main(void *arg);
/* Starts a response: the status line and headers; the body follows
 * through c->out and ends when the connection closes. */
GROVE__HIDDEN void grove__obs_begin(grove__obs_conn_t *c, int status,
                                    const char *ctype);
/* A whole response with a body. */
GROVE__HIDDEN void grove__obs_respond(grove__obs_conn_t *c, int status,
                                      const char *ctype, const char *body,
                                      size_t len);
/* A JSON error response: {"error": msg}. */
GROVE__HIDDEN void grove__obs_error(grove__obs_conn_t *c, int status,
                                    const char *msg);
/* A query parameter of the request (see grove__http_query_get). */
GROVE__HIDDEN int grove__obs_param(const grove__obs_conn_t *c,
                                   const char *name, char *out, size_t size);

/* The endpoints. */
GROVE__HIDDEN void grove__obs_serve_processes(grove__obs_conn_t *c);
GROVE__HIDDEN void grove__obs_serve_kill(grove__obs_conn_t *c);
GROVE__HIDDEN void grove__obs_serve_tree(grove__obs_conn_t *c);
GROVE__HIDDEN void grove__obs_serve_readyz(grove__obs_conn_t *c);
GROVE__HIDDEN void grove__obs_serve_events(grove__obs_conn_t *c);
GROVE__HIDDEN void grove__obs_serve_schedulers(grove__obs_conn_t *c);
GROVE__HIDDEN void grove__obs_serve_page(grove__obs_conn_t *c);

/* events.c: what the reports said of supervisor sup, as two members:
 * "label" (its spec's name, or null) and "history" (an array). */
GROVE__HIDDEN void grove__obs_history_json(grove__obs_t *o, grove_pid_t sup,
                                           grove__obs_out_t *w);

/* ---- the supervision tree (scan.c) -------------------------------------- */

/* A child of a supervisor, as the scan saw it. */
typedef struct grove__obs_kid {
    grove_pid_t pid;
    int status;
    size_t mailbox_len, memory;
    uint64_t reductions;
    char name[GROVE_NAME_MAX];
    char behaviour[32];
    int sup; /* its index among the supervisors, or -1 */
} grove__obs_kid_t;

enum { GROVE__OBS_Q_NONE = 0, GROVE__OBS_Q_OK, GROVE__OBS_Q_BUSY,
       GROVE__OBS_Q_GONE };

/* What a helper learnt from one supervisor. */
typedef struct grove__obs_answer {
    uint64_t sup;
    int rc;                    /* of which_children */
    int stats_rc;              /* of grove_sup_stats (not asked: 1) */
    grove_sup_stats_t stats;
    size_t total;              /* children it has */
    size_t n;                  /* entries below (reverse start order) */
    grove_child_info_t kids[]; /* at most GROVE__OBS_KIDS_INFO */
} grove__obs_answer_t;

#define GROVE__OBS_KIDS_SHOW 200 /* workers listed per supervisor */
#define GROVE__OBS_KIDS_INFO 200 /* which_children entries kept */
#define GROVE__OBS_MAX_SUPS 2048 /* supervisors a scan follows */

typedef struct grove__obs_snode {
    grove_process_info_t pi;
    bool dyn;      /* a DynamicSupervisor */
    bool want;     /* to be asked (grove__obs_query) */
    int query;     /* GROVE__OBS_Q_* */
    int parent;    /* index of its supervisor, or -1: a root */
    grove_pid_t helper;
    grove_msg_t *answer;   /* a grove__obs_answer_t */
    size_t kids_total;     /* processes it is the parent of */
    grove__obs_kid_t *kids; /* the workers shown and every supervisor */
    size_t nkids, kids_cap, workers_shown;
} grove__obs_snode_t;

typedef struct grove__obs_scan {
    grove__obs_snode_t *sups;
    size_t nsups, cap;
    size_t nprocs;
    uint64_t *hkey; /* pid id -> index + 1, open addressing */
    uint32_t *hval;
    size_t hcap;
    bool truncated; /* more supervisors than GROVE__OBS_MAX_SUPS */
} grove__obs_scan_t;

/* Finds every supervisor and, with kids, the children of each. Returns
 * 0 or GROVE_ENOMEM. From a process; its memory is the caller's. */
GROVE__HIDDEN int grove__obs_scan(grove__obs_scan_t *s, bool kids);
GROVE__HIDDEN void grove__obs_scan_free(grove__obs_scan_t *s);
/* The index of supervisor pid, or -1. */
GROVE__HIDDEN int grove__obs_scan_find(const grove__obs_scan_t *s,
                                       grove_pid_t pid);
/* Asks every supervisor marked want for its children and statistics,
 * each from a helper process, waiting at most timeout in all; those that
 * have not answered by then are marked busy. */
GROVE__HIDDEN void grove__obs_query(grove__obs_scan_t *s,
                                    grove_timeout_t timeout);
/* The answer of supervisor i, or NULL. */
GROVE__HIDDEN const grove__obs_answer_t *
grove__obs_answer(const grove__obs_scan_t *s, size_t i);

/* acceptor.c, sampler.c */
extern GROVE__HIDDEN const grove_gs_callbacks_t grove__obs_acceptor_cb;
GROVE__HIDDEN void grove__obs_sampler_main(void *arg);

/* page.c: the page GET / serves. */
extern GROVE__HIDDEN const char grove__obs_page[];
extern GROVE__HIDDEN const size_t grove__obs_page_len;

#endif
