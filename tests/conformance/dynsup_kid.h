/* A configurable child for the DynamicSupervisor tests (dynsup_*.c), and
 * short-hands for driving a DynamicSupervisor from a test process.
 *
 * A kid (dk_t) describes one kind of child; every process started from
 * it shares the description. Start attempts are numbered from 1 and can
 * be made to fail or to return ignore, by number or with a switch the
 * test flips while the supervisor runs. A started kid waits for
 * messages: an exit signal it traps is reported to the kid's observer
 * (DK_TAG_SAW with a dk_saw_t), after which it sleeps stop_ms and exits
 * with the same reason, or with `leave` when set, or keeps running when
 * ignore_shutdown is set; a DK_TAG_EXIT message (data: grove_reason_t)
 * makes it exit with that reason. The gen_server flavour (dk_gs_spec)
 * does the same from terminate/2.
 */
#ifndef GROVE_TEST_DYNSUP_KID_H
#define GROVE_TEST_DYNSUP_KID_H

#include <pthread.h>

#include "behaviours.h"

enum {
    DK_TAG_SAW = 0x444b000000000001ull, /* kid -> observer: dk_saw_t */
    DK_TAG_EXIT                         /* test -> kid: grove_reason_t */
};

typedef struct dk_saw {
    grove_pid_t kid;       /* the reporting process */
    grove_pid_t from;      /* who sent the exit signal */
    grove_reason_t reason; /* what it carried (gen_server: terminate's) */
} dk_saw_t;

typedef struct dk {
    pthread_mutex_t mu;
    /* configuration */
    bool trap;            /* trap exits (true unless dk_init says not) */
    bool ignore_shutdown; /* keep running after a trapped exit signal */
    int stop_ms;          /* sleep this long before exiting on a signal */
    bool has_leave;
    grove_reason_t leave; /* exit with this instead of the signal's reason */
    int fail_from, fail_count;     /* attempts in [from, from+count) fail */
    int ignore_from, ignore_count; /* ... or return ignore (count<0: all) */
    bool failing;                  /* while set, every attempt fails */
    int fail_sleep_ms;             /* a failing attempt sleeps this first */
    int start_sleep_ms;            /* a successful attempt sleeps first */
    grove_reason_t fail_reason;    /* *why of a failed attempt */
    int fail_code;                 /* its return code (ESTARTFAIL) */
    grove_pid_t observer;          /* gets DK_TAG_SAW; NONE: nobody */
    size_t stack_size;             /* 0: the runtime's default */
    grove_gs_opts_t gs_opts;       /* the gen_server flavour's options */
    /* what happened */
    int attempts, starts;
    int extra_starts;     /* starts through dk_start_extra */
    void *last_extra;     /* the extra pointer it was given last */
    void *last_arg;       /* the arg dk_start_extra was given last */
    int in_start;         /* successful start attempts begun */
    grove_pid_t last_pid; /* the latest process started */
} dk_t;

/* Resets k: trapping, no failures, observer = the caller. */
void dk_init(dk_t *k);
/* A spec starting k through a start function; restart as given. */
grove_child_spec_t dk_spec(dk_t *k, int restart);
/* The same through start_extra (records the extra pointer it gets). */
grove_child_spec_t dk_extra_spec(dk_t *k, int restart);
/* A gen_server child: init counts attempts as above, terminate reports
 * DK_TAG_SAW and sleeps stop_ms. It traps exits unless k->trap is off. */
grove_child_spec_t dk_gs_spec(dk_t *k, int restart);
/* A plain entry-function child (spec.entry): no start attempts of its
 * own to fail; starts and last_pid are counted when it runs. */
grove_child_spec_t dk_entry_spec(dk_t *k, int restart);

/* Locked reads and writes of the fields above. */
int dk_attempts(dk_t *k);
int dk_starts(dk_t *k);
grove_pid_t dk_last_pid(dk_t *k);
void dk_set_failing(dk_t *k, bool on);
void dk_set_stop(dk_t *k, int stop_ms, bool ignore_shutdown);

/* Tells a kid process to exit with r (kill: an exit signal kill). */
void dk_exit(grove_pid_t kid, grove_reason_t r);
/* Waits for the next DK_TAG_SAW (from kid, unless kid is NONE). */
dk_saw_t dk_expect_saw_at(const char *file, int line, grove_pid_t kid);
#define DK_EXPECT_SAW(kid) dk_expect_saw_at(__FILE__, __LINE__, (kid))
/* Counts the DK_TAG_SAW messages queued now, removing them. */
int dk_drain_saw(void);

/* ---- the supervisor -------------------------------------------------- */

/* Traps exits in the caller and starts a DynamicSupervisor linked to it
 * (opts may be NULL); fails the test unless that returns 0. */
grove_pid_t ds_start_at(const char *file, int line,
                        const grove_dynsup_opts_t *opts);
#define DS_START(opts) ds_start_at(__FILE__, __LINE__, (opts))
/* As its parent: exit signal shutdown, then the EXIT, which must carry
 * shutdown. Returns the milliseconds that took. */
int64_t ds_stop_at(const char *file, int line, grove_pid_t sup);
#define DS_STOP(sup) ds_stop_at(__FILE__, __LINE__, (sup))
/* start_child, asserting 0 and a live pid. */
grove_pid_t ds_child_at(const char *file, int line, grove_pid_t sup,
                        const grove_child_spec_t *spec);
#define DS_CHILD(sup, spec) ds_child_at(__FILE__, __LINE__, (sup), (spec))
/* which_children (up to max into out); returns the total. */
size_t ds_which(grove_pid_t sup, grove_child_info_t *out, size_t max);
/* count_children, asserting success. */
grove_child_counts_t ds_counts(grove_pid_t sup);
#define ASSERT_DS_COUNTS(sup, s, a, sv, w)                                   \
    do {                                                                     \
        grove_child_counts_t ds_c_ = ds_counts(sup);                         \
        ASSERT_EQ(ds_c_.specs, (s));                                         \
        ASSERT_EQ(ds_c_.active, (a));                                        \
        ASSERT_EQ(ds_c_.supervisors, (sv));                                  \
        ASSERT_EQ(ds_c_.workers, (w));                                       \
    } while (0)
/* The state which_children shows for the only child (0: no child). */
int ds_only_state(grove_pid_t sup, grove_pid_t *pid);
/* Waits until the supervisor's only child runs with a pid other than
 * old; returns that pid. */
grove_pid_t ds_wait_new_at(const char *file, int line, grove_pid_t sup,
                           grove_pid_t old);
#define DS_WAIT_NEW(sup, old) ds_wait_new_at(__FILE__, __LINE__, (sup), (old))
/* Waits until count_children shows specs children. */
#define DS_WAIT_SPECS(sup, n) WAIT_UNTIL(ds_counts(sup).specs == (size_t)(n))

#endif
