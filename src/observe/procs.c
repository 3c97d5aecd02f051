/* GET /api/processes and POST /api/kill.
 *
 * The process list is streamed: pids are collected first (8 bytes each),
 * then each one's info is read and written out, so the memory a request
 * needs does not grow with the size of each entry. With sort=, only the
 * top `limit` entries are kept, in a heap. */
#include <stdlib.h>
#include <string.h>

#include "obs.h"

#define SORTED_DEFAULT 100
#define LIMIT_MAX 100000
/* Processes looked at between two yields: a scan of a million
 * processes must not hold a scheduler. */
#define YIELD_EVERY 1024

typedef struct pids {
    grove_pid_t *v;
    size_t n, cap;
    bool short_of_memory;
} pids_t;

static void collect(grove_pid_t pid, void *arg)
{
    pids_t *p = arg;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        grove_pid_t *v = grove_realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->short_of_memory = true;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = pid;
}

static const char *status_name(int st)
{
    switch (st) {
    case GROVE_STATUS_RUNNABLE: return "runnable";
    case GROVE_STATUS_RUNNING: return "running";
    case GROVE_STATUS_WAITING: return "waiting";
    default: return "exiting";
    }
}

static void json_text_or_null(grove__obs_out_t *w, const char *s)
{
    if (s[0])
        grove__obs_json_str(w, s, 0);
    else
        grove__obs_puts(w, "null");
}

static void process_json(grove__obs_out_t *w, const grove_process_info_t *pi)
{
    grove__obs_puts(w, "{\"pid\":");
    grove__obs_json_pid(w, pi->pid);
    grove__obs_puts(w, ",\"name\":");
    json_text_or_null(w, pi->name);
    grove__obs_printf(w,
                      ",\"status\":\"%s\",\"mailbox_len\":%zu,"
                      "\"memory\":%zu,\"links\":%zu,\"monitors\":%zu,"
                      "\"monitored_by\":%zu,\"behaviour\":",
                      status_name(pi->status), pi->mailbox_len, pi->memory,
                      pi->links, pi->monitors, pi->monitored_by);
    json_text_or_null(w, pi->behaviour);
    grove__obs_puts(w, ",\"parent\":");
    grove__obs_json_pid(w, pi->parent);
    grove__obs_printf(w,
                      ",\"reductions\":%llu,\"stack_used\":%zu,"
                      "\"stack_size\":%zu,\"stack_parked\":%s,"
                      "\"trap_exit\":%s,\"dictionary\":%zu,"
                      "\"heap_size\":%zu,\"max_heap_size\":%zu,"
                      "\"priority\":\"%s\"}",
                      (unsigned long long)pi->reductions, pi->stack_used,
                      pi->stack_size, pi->stack_parked ? "true" : "false",
                      pi->trap_exit ? "true" : "false", pi->dictionary,
                      pi->heap_size, pi->max_heap.size,
                      grove_priority_name(pi->priority));
}

/* ---- top entries -------------------------------------------------------- */

enum { BY_NONE, BY_MAILBOX, BY_MEMORY, BY_REDUCTIONS };

static uint64_t key_of(const grove_process_info_t *pi, int by)
{
    return by == BY_MAILBOX  ? pi->mailbox_len
           : by == BY_MEMORY ? pi->memory
                             : pi->reductions;
}

/* A min-heap of at most cap entries: the smallest kept is at the top,
 * replaced whenever a bigger one comes. */
typedef struct heap {
    grove_process_info_t *v;
    size_t n, cap;
    int by;
} heap_t;

static void heap_swap(heap_t *h, size_t a, size_t b)
{
    grove_process_info_t t = h->v[a];
    h->v[a] = h->v[b];
    h->v[b] = t;
}

static void sift_down(heap_t *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && key_of(&h->v[l], h->by) < key_of(&h->v[m], h->by))
            m = l;
        if (r < h->n && key_of(&h->v[r], h->by) < key_of(&h->v[m], h->by))
            m = r;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_offer(heap_t *h, const grove_process_info_t *pi)
{
    if (h->n < h->cap) {
        size_t i = h->n++;
        h->v[i] = *pi;
        while (i && key_of(&h->v[(i - 1) / 2], h->by) >
                        key_of(&h->v[i], h->by)) {
            heap_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    } else if (h->n && key_of(pi, h->by) > key_of(&h->v[0], h->by)) {
        h->v[0] = *pi;
        sift_down(h, 0);
    }
}

/* Writes the heap biggest first (it is emptied). */
static void heap_write(heap_t *h, grove__obs_out_t *w)
{
    size_t n = h->n;
    while (h->n > 1) {
        heap_swap(h, 0, h->n - 1);
        h->n--;
        sift_down(h, 0);
    }
    for (size_t i = 0; i < n; i++) {
        grove__obs_puts(w, i ? ",\n" : "\n");
        process_json(w, &h->v[i]);
    }
}

/* ---- the endpoint ------------------------------------------------------- */

static int parse_sort(grove__obs_conn_t *c)
{
    char v[16];
    if (grove__obs_param(c, "sort", v, sizeof v) < 0)
        return BY_NONE;
    if (strcmp(v, "mailbox") == 0)
        return BY_MAILBOX;
    if (strcmp(v, "memory") == 0)
        return BY_MEMORY;
    if (strcmp(v, "reductions") == 0)
        return BY_REDUCTIONS;
    return -1;
}

static long parse_limit(grove__obs_conn_t *c, int by)
{
    char v[16];
    if (grove__obs_param(c, "limit", v, sizeof v) < 0)
        return by == BY_NONE ? LIMIT_MAX * 100L : SORTED_DEFAULT;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n <= 0 || n > LIMIT_MAX || v[0] == '\0' ? -1 : n;
}

static void serve_one(grove__obs_conn_t *c, const char *text)
{
    grove_pid_t pid;
    grove_process_info_t pi;
    if (grove_pid_parse(text, &pid) < 0) {
        grove__obs_error(c, 400, "pid must be <0.N.G>");
        return;
    }
    if (grove_process_info(pid, &pi) < 0) {
        grove__obs_error(c, 404, "no such process");
        return;
    }
    grove__obs_begin(c, 200, "application/json");
    grove__obs_puts(&c->out, "[");
    process_json(&c->out, &pi);
    grove__obs_puts(&c->out, "]\n");
}

static void write_all(grove__obs_out_t *w, const pids_t *p, long limit)
{
    long k = 0;
    for (size_t i = 0; i < p->n && k < limit && !w->err; i++) {
        grove_process_info_t pi;
        if ((i + 1) % YIELD_EVERY == 0)
            grove_yield();
        if (grove_process_info(p->v[i], &pi) < 0)
            continue; /* it exited meanwhile */
        grove__obs_puts(w, k++ ? ",\n" : "\n");
        process_json(w, &pi);
    }
}

static void write_top(grove__obs_conn_t *c, const pids_t *p, long limit,
                      int by)
{
    heap_t h = {grove_alloc((size_t)limit * sizeof *h.v), 0, (size_t)limit,
                by};
    if (!h.v) {
        c->out.err = GROVE_ENOMEM;
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        grove_process_info_t pi;
        if ((i + 1) % YIELD_EVERY == 0)
            grove_yield();
        if (grove_process_info(p->v[i], &pi) == 0)
            heap_offer(&h, &pi);
    }
    heap_write(&h, &c->out);
    grove_free(h.v);
}

void grove__obs_serve_processes(grove__obs_conn_t *c)
{
    char one[64];
    int r = grove__obs_param(c, "pid", one, sizeof one);
    if (r != -1) {
        serve_one(c, r >= 0 ? one : "");
        return;
    }
    int by = parse_sort(c);
    long limit = by < 0 ? -1 : parse_limit(c, by);
    if (limit < 0) {
        grove__obs_error(c, 400, "sort: mailbox, memory or reductions; "
                                 "limit: 1 to 100000");
        return;
    }
    pids_t p = {0};
    grove_processes(collect, &p);
    if (p.short_of_memory) {
        grove_free(p.v);
        grove__obs_error(c, 503, "out of memory");
        return;
    }
    grove__obs_begin(c, 200, "application/json");
    grove__obs_puts(&c->out, "[");
    if (by == BY_NONE)
        write_all(&c->out, &p, limit);
    else
        write_top(c, &p, limit, by);
    grove__obs_puts(&c->out, "\n]\n");
    grove_free(p.v);
}

/* ---- kill --------------------------------------------------------------- */

static bool kill_enabled(const grove__obs_t *o)
{
    if (o->kill_mode == GROVE_OBSERVER_KILL_AUTO)
        return atomic_load_explicit(&o->loopback, memory_order_relaxed);
    return o->kill_mode == GROVE_OBSERVER_KILL_ON;
}

void grove__obs_serve_kill(grove__obs_conn_t *c)
{
    char text[64];
    grove_pid_t pid;
    if (!kill_enabled(c->o)) {
        grove__obs_error(c, 403, "kill is disabled on this observer");
        return;
    }
    if (grove__obs_param(c, "pid", text, sizeof text) < 0 ||
        grove_pid_parse(text, &pid) < 0) {
        grove__obs_error(c, 400, "pid must be <0.N.G>");
        return;
    }
    if (grove_pid_equal(pid, grove_self())) {
        grove__obs_error(c, 409, "that is the process answering you");
        return;
    }
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    if (grove_exit_signal(pid, &kill) < 0) {
        grove__obs_error(c, 404, "no such process");
        return;
    }
    grove__obs_begin(c, 200, "application/json");
    grove__obs_puts(&c->out, "{\"killed\":");
    grove__obs_json_pid(&c->out, pid);
    grove__obs_puts(&c->out, "}\n");
}
