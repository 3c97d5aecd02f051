/* What the soak counts and prints: a log handler that counts crash and
 * supervisor reports instead of printing them (keeping the latest to
 * print if a violation happens), the shared counters, violations, RSS
 * samples and descriptor counts. */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "soak.h"

soak_cfg_t soak_cfg;
grove_registry_t *soak_reg;
soak_counters_t soak_ctr;
atomic_bool soak_paused;
atomic_ulong soak_session_next;
atomic_bool soak_oom_busy;

const char *const soak_fault_names[F__COUNT] = {
    "NULL dereference", "stack overflow", "GROVE_ASSERT",
    "unexpected message", "normal stop", "allocation failure"};
const char *const soak_kill_names[K__COUNT] = {
    "worker", "session", "service", "supervisor", "prober", "fragile"};

uint64_t soak_seed_for(uint64_t salt)
{
    /* splitmix64 of the run's seed and the salt. */
    uint64_t z = soak_cfg.seed + salt * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) | 1;
}

/* ---- output and violations ---------------------------------------------- */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static int violations;

void soak_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_mu);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    va_end(ap);
}

void soak_violation(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_mu);
    violations++;
    printf("VIOLATION: ");
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    va_end(ap);
}

int soak_violations(void)
{
    pthread_mutex_lock(&out_mu);
    int v = violations;
    pthread_mutex_unlock(&out_mu);
    return v;
}

void soak_count_call(int rc)
{
    switch (rc) {
    case 0:
        soak_inc(&soak_ctr.calls_ok);
        break;
    case GROVE_ETIMEDOUT:
        soak_inc(&soak_ctr.calls_timeout);
        break;
    case GROVE_ENOPROC:
        soak_inc(&soak_ctr.calls_noproc);
        break;
    case GROVE_EEXITED:
        soak_inc(&soak_ctr.calls_exited);
        break;
    default:
        soak_violation("grove_gs_try_call returned %s", grove_errname(rc));
    }
}

int soak_call(grove_server_t srv, uint64_t tag, const void *req, size_t size,
              grove_timeout_t timeout)
{
    grove_msg_t *r = NULL;
    int rc = grove_gs_try_call(srv, tag, req, size, &r, timeout, NULL);
    soak_count_call(rc);
    grove_msg_free(r);
    return rc;
}

grove_pid_t soak_key_pid(const char *key)
{
    grove_pid_t p;
    if (grove_registry_whereis(soak_reg, key, strlen(key), &p) != 0)
        return GROVE_PID_NONE;
    return p;
}

grove_pid_t soak_name_pid(const char *name)
{
    grove_pid_t p;
    return grove_whereis(name, &p) == 0 ? p : GROVE_PID_NONE;
}

/* ---- the log handler ---------------------------------------------------- */

#define RECENT 64
#define NOTABLE 32
#define TEXT_MAX 240
#define MAX_NAMES 32
#define INST_BITS 17
#define INST_SIZE (1u << INST_BITS)

typedef struct name_counts {
    char name[32];
    soak_sup_counts_t c;
    char run_child[64]; /* the child failing to start, if any */
    unsigned long run;
    uint64_t run_first_ns;
} name_counts_t;

typedef struct inst {
    uint64_t pid;
    unsigned long restarts;
} inst_t;

/* Everything below is under log_mu: handlers run on many threads. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static grove_log_handler_t *handler;
static name_counts_t names[MAX_NAMES];
static size_t nnames;
static inst_t *inst;
static size_t ninst;
static bool inst_full;
static unsigned long fragile_shutdowns, fragile_restarts;
static unsigned long crash_reports, sup_reports, long_schedules, others;
static unsigned long crash_kinds[GROVE_EXIT__COUNT + 1];
static char recent[RECENT][TEXT_MAX];
static size_t nrecent;
static char notable[NOTABLE][TEXT_MAX];
static size_t nnotable, notable_total;

static const char *field(const grove_log_event_t *ev, const char *key)
{
    for (size_t i = 0; i < ev->nfields; i++)
        if (strcmp(ev->fields[i].key, key) == 0)
            return ev->fields[i].value ? ev->fields[i].value : "";
    return "";
}

static name_counts_t *by_name(const char *name)
{
    for (size_t i = 0; i < nnames; i++)
        if (strcmp(names[i].name, name) == 0)
            return &names[i];
    if (nnames == MAX_NAMES)
        return &names[MAX_NAMES - 1];
    snprintf(names[nnames].name, sizeof names[nnames].name, "%s", name);
    return &names[nnames++];
}

static inst_t *inst_slot(uint64_t pid, bool add)
{
    size_t i = (size_t)((pid * 0x9e3779b97f4a7c15ull) >> (64 - INST_BITS));
    for (;; i = (i + 1) & (INST_SIZE - 1)) {
        if (inst[i].pid == pid)
            return &inst[i];
        if (inst[i].pid == 0) {
            if (!add || ninst >= INST_SIZE * 3 / 4) {
                inst_full |= add;
                return NULL;
            }
            ninst++;
            inst[i].pid = pid;
            return &inst[i];
        }
    }
}

static void note(const grove_log_event_t *ev)
{
    notable_total++;
    if (nnotable < NOTABLE)
        snprintf(notable[nnotable++], TEXT_MAX, "[%s] %s", ev->kind,
                 ev->text);
}

/* Runs of failed starts: from the first start_error of a child to the
 * child_started that ends them. */
static void retry_run(name_counts_t *nc, const grove_log_event_t *ev,
                      const char *child, bool failed)
{
    if (failed) {
        if (nc->run && strcmp(nc->run_child, child) == 0) {
            if (++nc->run == 500)
                soak_tree_retry_storm(nc->name, child, nc->run);
            return;
        }
        snprintf(nc->run_child, sizeof nc->run_child, "%s", child);
        nc->run = 1;
        nc->run_first_ns = ev->time_ns;
        return;
    }
    if (!nc->run || strcmp(nc->run_child, child) != 0)
        return;
    unsigned long ms = (unsigned long)((ev->time_ns - nc->run_first_ns) /
                                       1000000u);
    if (nc->run > nc->c.retry_run) {
        nc->c.retry_run = nc->run;
        nc->c.retry_run_ms = ms;
    }
    nc->run = 0;
}

static void on_sup_report(const grove_log_event_t *ev)
{
    const char *ctx = field(ev, "context"), *child = field(ev, "child_id");
    name_counts_t *nc = by_name(field(ev, "supervisor_name"));
    bool fragile_at_root = strcmp(nc->name, "root") == 0 &&
                           strcmp(child, "fragile") == 0;
    sup_reports++;
    if (strcmp(ctx, "child_started") == 0) {
        nc->c.started++;
        retry_run(nc, ev, child, false);
    } else if (strcmp(ctx, "restart") == 0) {
        nc->c.restarts++;
        fragile_restarts += fragile_at_root;
        inst_t *in = inst_slot(ev->pid.id, true);
        if (in)
            in->restarts++;
    } else if (strcmp(ctx, "child_terminated") == 0) {
        nc->c.terminated++;
        fragile_shutdowns += fragile_at_root &&
                             strcmp(field(ev, "reason"), "shutdown") == 0;
    } else if (strcmp(ctx, "reached_max_restart_intensity") == 0) {
        nc->c.escalations++;
        if (strcmp(nc->name, "fragile") != 0) /* its own are expected */
            note(ev);
    } else if (strcmp(ctx, "start_error") == 0) {
        nc->c.start_errors++;
        retry_run(nc, ev, child, true);
    } else if (strcmp(ctx, "shutdown_error") == 0) {
        nc->c.shutdown_errors++;
        note(ev);
    } else {
        note(ev);
    }
}

/* Crash reports by the kind of their reason: "{fault,...", "killed". */
static void on_crash_report(const grove_log_event_t *ev)
{
    const char *r = field(ev, "reason");
    char kind[24];
    size_t n = 0;
    r += *r == '{';
    while (r[n] && r[n] != ',' && r[n] != '}' && n < sizeof kind - 1) {
        kind[n] = r[n];
        n++;
    }
    kind[n] = '\0';
    crash_reports++;
    for (int k = 0; k < GROVE_EXIT__COUNT; k++)
        if (strcmp(kind, grove_exit_kind_name(k)) == 0) {
            crash_kinds[k]++;
            return;
        }
    crash_kinds[GROVE_EXIT__COUNT]++;
}

static void on_event(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_mu);
    snprintf(recent[nrecent++ % RECENT], TEXT_MAX, "[%s] %s", ev->kind,
             ev->text);
    if (strcmp(ev->kind, "supervisor_report") == 0) {
        on_sup_report(ev);
    } else if (strcmp(ev->kind, "crash_report") == 0) {
        on_crash_report(ev);
    } else if (strcmp(ev->kind, "long_schedule") == 0) {
        long_schedules++;
        note(ev);
    } else {
        others++;
        if (ev->level >= GROVE_LOG_WARNING)
            note(ev);
    }
    pthread_mutex_unlock(&log_mu);
    if (soak_cfg.verbose)
        soak_say("  log: [%s] %s", ev->kind, ev->text);
}

int soak_log_install(void)
{
    inst = calloc(INST_SIZE, sizeof *inst);
    if (!inst)
        return GROVE_ENOMEM;
    grove_log_clear_handlers();
    return grove_log_add_handler(on_event, NULL, GROVE_LOG_INFO, &handler);
}

void soak_log_remove(void)
{
    if (handler)
        grove_log_remove_handler(handler);
    handler = NULL;
    free(inst);
    inst = NULL;
}

void soak_sup_counts_by_name(const char *name, soak_sup_counts_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < nnames; i++)
        if (strcmp(names[i].name, name) == 0)
            *out = names[i].c;
    pthread_mutex_unlock(&log_mu);
}

long soak_restart_reports_of(grove_pid_t sup)
{
    pthread_mutex_lock(&log_mu);
    inst_t *in = inst ? inst_slot(sup.id, false) : NULL;
    long n = in ? (long)in->restarts : inst_full ? -1 : 0;
    pthread_mutex_unlock(&log_mu);
    return n;
}

unsigned long soak_total_restarts(void)
{
    unsigned long n = 0;
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < nnames; i++)
        n += names[i].c.restarts;
    pthread_mutex_unlock(&log_mu);
    return n;
}

void soak_fragile_seen(unsigned long *shutdowns, unsigned long *restarts)
{
    pthread_mutex_lock(&log_mu);
    *shutdowns = fragile_shutdowns;
    *restarts = fragile_restarts;
    pthread_mutex_unlock(&log_mu);
}

static void print_notable(size_t max)
{
    size_t n = nnotable < max ? nnotable : max;
    if (notable_total)
        soak_say("notable reports (the first %zu of %zu):", n,
                 notable_total);
    for (size_t i = 0; i < n; i++)
        soak_say("  %.200s", notable[i]);
}

void soak_dump_recent(void)
{
    pthread_mutex_lock(&log_mu);
    print_notable(NOTABLE);
    size_t n = nrecent < RECENT ? nrecent : RECENT;
    soak_say("the last %zu reports:", n);
    for (size_t i = nrecent - n; i < nrecent; i++)
        soak_say("  %s", recent[i % RECENT]);
    pthread_mutex_unlock(&log_mu);
}

void soak_print_reports(void)
{
    pthread_mutex_lock(&log_mu);
    char kinds[512] = "";
    size_t used = 0;
    for (int k = 0; k <= GROVE_EXIT__COUNT; k++)
        if (crash_kinds[k] && used < sizeof kinds)
            used += (size_t)snprintf(
                kinds + used, sizeof kinds - used, "%s%s %lu",
                used ? ", " : "",
                k < GROVE_EXIT__COUNT ? grove_exit_kind_name(k) : "other",
                crash_kinds[k]);
    unsigned long started = 0, terminated = 0, start_err = 0, shut_err = 0;
    for (size_t i = 0; i < nnames; i++) {
        started += names[i].c.started;
        terminated += names[i].c.terminated;
        start_err += names[i].c.start_errors;
        shut_err += names[i].c.shutdown_errors;
    }
    soak_say("reports: %lu crash (%s)", crash_reports, kinds);
    soak_say("         %lu supervisor (child_started %lu, "
             "child_terminated %lu, start_error %lu, shutdown_error %lu)",
             sup_reports, started, terminated, start_err, shut_err);
    soak_say("         %lu long_schedule, %lu other", long_schedules,
             others);
    print_notable(8);
    pthread_mutex_unlock(&log_mu);
}

/* ---- RSS and descriptors ------------------------------------------------ */

#define RSS_MAX 4096

static pthread_mutex_t rss_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rss_t[RSS_MAX], rss_v[RSS_MAX];
static size_t nrss;

uint64_t soak_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

void soak_rss_sample(uint64_t t_ms)
{
    uint64_t v = soak_rss();
    pthread_mutex_lock(&rss_mu);
    if (nrss < RSS_MAX) {
        rss_t[nrss] = t_ms;
        rss_v[nrss++] = v;
    }
    pthread_mutex_unlock(&rss_mu);
}

void soak_print_rss(void)
{
    pthread_mutex_lock(&rss_mu);
    if (nrss == 0) {
        pthread_mutex_unlock(&rss_mu);
        return;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < nrss; i++) {
        lo = rss_v[i] < lo ? rss_v[i] : lo;
        hi = rss_v[i] > hi ? rss_v[i] : hi;
    }
    char line[512];
    size_t used = 0, shown = nrss < 11 ? nrss : 11;
    for (size_t k = 0; k < shown && used < sizeof line; k++) {
        size_t i = shown > 1 ? k * (nrss - 1) / (shown - 1) : 0;
        used += (size_t)snprintf(line + used, sizeof line - used,
                                 "%s%llus %.0f", k ? " | " : "",
                                 (unsigned long long)(rss_t[i] / 1000),
                                 (double)rss_v[i] / (1 << 20));
    }
    soak_say("RSS MiB over time (%zu samples): %s", nrss, line);
    soak_say("        min %.0f, max %.0f, last %.0f",
             (double)lo / (1 << 20), (double)hi / (1 << 20),
             (double)rss_v[nrss - 1] / (1 << 20));
    pthread_mutex_unlock(&rss_mu);
}

int soak_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}
