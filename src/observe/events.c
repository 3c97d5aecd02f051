/* Supervision events: the log handler that copies reports into every
 * observer (a ring for /api/events, a short history per supervisor for
 * /api/tree), and the server-sent event stream.
 *
 * The handler runs on whatever thread logs, often a scheduler in the
 * middle of a process's exit, under the logger's lock: it renders the
 * event once on its own stack, copies it in under each observer's mutex
 * (held for a copy, never across a wait) and wakes each stream with at
 * most one message until that stream has caught up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs.h"

/* Bytes of one value kept in an event (a backtrace is cut). */
#define VALUE_MAX 300
/* A stream with nothing to say writes a comment this often, which also
 * finds clients that went away. */
#define PING_MS 15000

/* ---- the handler -------------------------------------------------------- */

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static grove_log_handler_t *handler; /* under install_lock */

static bool wanted(const char *kind)
{
    return strcmp(kind, "supervisor_report") == 0 ||
           strcmp(kind, "crash_report") == 0 ||
           strcmp(kind, "application_exited") == 0;
}

/* A bounded text being built. Every piece is given a budget that leaves
 * room for what must follow, so the object always closes. */
typedef struct sbuf {
    char *b;
    size_t n, cap; /* cap: bytes usable, the NUL excluded */
} sbuf_t;

static size_t sb_left(const sbuf_t *s) { return s->cap - s->n; }

static void sb_raw(sbuf_t *s, const char *t)
{
    size_t k = strlen(t);
    if (k <= sb_left(s)) {
        memcpy(s->b + s->n, t, k);
        s->n += k;
    }
}

/* A JSON string of at most budget bytes (quotes included, >= 2). */
static void sb_str(sbuf_t *s, const char *t, size_t budget)
{
    if (budget > sb_left(s))
        budget = sb_left(s);
    if (budget < 2)
        return;
    s->n += grove__obs_json_escape(s->b + s->n, budget + 1, t,
                                   t ? strlen(t) : 0);
}

/* The event as a JSON object without its opening brace, so a stream can
 * put the sequence number first. Fields that no longer fit are left
 * out; the object is always closed. */
static uint32_t render(const grove_log_event_t *ev, char *out, size_t size)
{
    sbuf_t s = {out, 0, size - 3}; /* "}}" and the NUL are kept */
    char pid[GROVE_PID_STR_MAX], num[128];
    sb_raw(&s, "\"kind\":");
    sb_str(&s, ev->kind, 64);
    snprintf(num, sizeof num,
             ",\"level\":\"%s\",\"time_ms\":%llu,\"pid\":%s%s%s",
             grove_log_level_name(ev->level),
             (unsigned long long)(ev->time_ns / 1000000u),
             ev->pid.id ? "\"" : "",
             ev->pid.id ? grove_pid_format(ev->pid, pid, sizeof pid) : "null",
             ev->pid.id ? "\"" : "");
    sb_raw(&s, num);
    sb_raw(&s, ",\"text\":");
    sb_str(&s, ev->text, VALUE_MAX);
    sb_raw(&s, ",\"fields\":{");
    bool first = true;
    for (size_t i = 0; i < ev->nfields; i++) {
        const char *k = ev->fields[i].key, *v = ev->fields[i].value;
        /* A field needs a comma, a key of up to 40 bytes, a colon and
         * at least an empty value. */
        if (!k || sb_left(&s) < 48)
            continue;
        sb_raw(&s, first ? "" : ",");
        sb_str(&s, k, 40);
        sb_raw(&s, ":");
        sb_str(&s, v ? v : "", VALUE_MAX);
        first = false;
    }
    memcpy(s.b + s.n, "}}", 3);
    return (uint32_t)(s.n + 2);
}

static const char *field(const grove_log_event_t *ev, const char *key)
{
    for (size_t i = 0; i < ev->nfields; i++)
        if (ev->fields[i].key && strcmp(ev->fields[i].key, key) == 0)
            return ev->fields[i].value ? ev->fields[i].value : "";
    return "";
}

/* The spec's name, where the report has one: a DynamicSupervisor's
 * reports all say "dynamic_supervisor", which names nothing. */
static const char *sup_name(const grove_log_event_t *ev)
{
    const char *n = field(ev, "supervisor_name");
    return strcmp(n, "dynamic_supervisor") == 0 ? "" : n;
}

static void hist_from(const grove_log_event_t *ev, grove__obs_hist_ev_t *h)
{
    memset(h, 0, sizeof *h);
    h->time_ms = ev->time_ns / 1000000u;
    snprintf(h->context, sizeof h->context, "%s", field(ev, "context"));
    snprintf(h->child_id, sizeof h->child_id, "%s", field(ev, "child_id"));
    snprintf(h->reason, sizeof h->reason, "%s", field(ev, "reason"));
    grove_pid_t p;
    if (grove_pid_parse(field(ev, "child_pid"), &p) == 0)
        h->child_pid = p.id;
}

/* The history slot of supervisor sup: its own, a free one, or the one
 * that has been quiet longest. NULL out of memory. Under ev_lock. */
static grove__obs_hist_t *hist_slot(grove__obs_t *o, uint64_t sup)
{
    grove__obs_hist_t *old = NULL;
    for (int i = 0; i < GROVE__OBS_HIST_SUPS; i++) {
        grove__obs_hist_t *h = o->hist[i];
        if (!h) {
            h = o->hist[i] = grove__calloc(1, sizeof *h);
            if (h)
                h->sup = sup;
            return h;
        }
        if (h->sup == sup)
            return h;
        if (!old || h->touched < old->touched)
            old = h;
    }
    memset(old, 0, sizeof *old);
    old->sup = sup;
    return old;
}

typedef struct push {
    const char *json;
    uint32_t len;
    uint64_t sup; /* 0 unless a supervisor report */
    const char *name;
    grove__obs_hist_ev_t *h;
} push_t;

static void wake_streams(grove__obs_t *o)
{
    for (int i = 0; i < GROVE__OBS_SUBS; i++) {
        grove__obs_sub_t *sub = &o->subs[i];
        /* Acquire pairs with the stream's release of its slot. */
        uint64_t pid = atomic_load_explicit(&sub->pid, memory_order_acquire);
        /* One wake-up until the stream clears pending; acq_rel orders
         * the ring write above before the stream's read. */
        if (pid && atomic_exchange_explicit(&sub->pending, 1,
                                            memory_order_acq_rel) == 0)
            grove_send((grove_pid_t){pid}, GROVE__OBS_TAG_WAKE, NULL, 0);
    }
}

static void push_one(grove__obs_t *o, void *arg)
{
    push_t *p = arg;
    pthread_mutex_lock(&o->ev_lock);
    uint64_t seq = ++o->ev_seq;
    grove__obs_event_t *e = &o->ring[seq % GROVE__OBS_EVENTS];
    e->seq = seq;
    e->len = p->len;
    memcpy(e->json, p->json, p->len + 1);
    grove__obs_hist_t *h = p->sup ? hist_slot(o, p->sup) : NULL;
    if (h) {
        p->h->seq = seq;
        h->ev[h->next] = *p->h;
        h->next = (h->next + 1) % GROVE__OBS_HIST;
        if (h->count < GROVE__OBS_HIST)
            h->count++;
        h->touched = seq;
        if (p->name[0])
            snprintf(h->name, sizeof h->name, "%s", p->name);
    }
    pthread_mutex_unlock(&o->ev_lock);
    wake_streams(o);
}

static void on_log(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    if (!ev->kind || !wanted(ev->kind))
        return;
    char json[GROVE__OBS_EVENT_MAX];
    grove__obs_hist_ev_t h;
    push_t p = {json, render(ev, json, sizeof json), 0, "", &h};
    if (strcmp(ev->kind, "supervisor_report") == 0 && ev->pid.id) {
        hist_from(ev, &h);
        p.sup = ev->pid.id;
        p.name = sup_name(ev);
    }
    grove__obs_each(push_one, &p);
}

/* At grove_stop every process has exited, so every observer has gone:
 * the handler goes too, and the next run installs it again. */
static void at_stop(void)
{
    pthread_mutex_lock(&install_lock);
    if (handler)
        grove_log_remove_handler(handler);
    handler = NULL;
    pthread_mutex_unlock(&install_lock);
}

int grove__obs_events_install(void)
{
    pthread_mutex_lock(&install_lock);
    int rc = 0;
    if (!handler) {
        rc = grove_log_add_handler(on_log, NULL, GROVE_LOG_DEBUG, &handler);
        if (rc == 0 && (rc = grove__at_stop(at_stop)) < 0) {
            grove_log_remove_handler(handler);
            handler = NULL;
        }
    }
    pthread_mutex_unlock(&install_lock);
    return rc;
}

int grove__obs_events_init(grove__obs_t *o)
{
    o->ring = grove__calloc(GROVE__OBS_EVENTS, sizeof *o->ring);
    if (!o->ring)
        return GROVE_ENOMEM;
    pthread_mutex_init(&o->ev_lock, NULL);
    return 0;
}

void grove__obs_events_free(grove__obs_t *o)
{
    for (int i = 0; i < GROVE__OBS_HIST_SUPS; i++)
        free(o->hist[i]);
    free(o->ring);
    pthread_mutex_destroy(&o->ev_lock);
}

/* ---- history ------------------------------------------------------------ */

void grove__obs_history_json(grove__obs_t *o, grove_pid_t sup,
                             grove__obs_out_t *w)
{
    grove__obs_hist_t h;
    h.count = 0;
    h.name[0] = '\0';
    pthread_mutex_lock(&o->ev_lock);
    for (int i = 0; i < GROVE__OBS_HIST_SUPS && o->hist[i]; i++)
        if (o->hist[i]->sup == sup.id) {
            h = *o->hist[i];
            break;
        }
    pthread_mutex_unlock(&o->ev_lock);
    grove__obs_puts(w, "\"label\":");
    if (h.name[0])
        grove__obs_json_str(w, h.name, 0);
    else
        grove__obs_puts(w, "null");
    grove__obs_puts(w, ",\"history\":[");
    for (uint32_t k = 0; k < h.count; k++) {
        uint32_t i = (h.next + GROVE__OBS_HIST - h.count + k) %
                     GROVE__OBS_HIST;
        grove__obs_hist_ev_t *e = &h.ev[i];
        grove__obs_printf(w, "%s{\"seq\":%llu,\"time_ms\":%llu,\"context\":",
                          k ? "," : "", (unsigned long long)e->seq,
                          (unsigned long long)e->time_ms);
        grove__obs_json_str(w, e->context, 0);
        grove__obs_puts(w, ",\"child_id\":");
        grove__obs_json_str(w, e->child_id, 0);
        grove__obs_puts(w, ",\"child_pid\":");
        grove__obs_json_pid(w, (grove_pid_t){e->child_pid});
        grove__obs_puts(w, ",\"reason\":");
        grove__obs_json_str(w, e->reason, 0);
        grove__obs_puts(w, "}");
    }
    grove__obs_puts(w, "]");
}

/* ---- the stream --------------------------------------------------------- */

static void sub_clear(void *slot)
{
    /* Release: the handler's acquire load then sees a free slot. */
    atomic_store_explicit(&((grove__obs_sub_t *)slot)->pid, 0,
                          memory_order_release);
}

/* Takes a stream slot, freed when the caller exits. */
static grove__obs_sub_t *subscribe(grove__obs_t *o)
{
    uint64_t self = grove_self().id;
    for (int i = 0; i < GROVE__OBS_SUBS; i++) {
        grove__obs_sub_t *sub = &o->subs[i];
        uint64_t z = 0;
        if (!atomic_compare_exchange_strong_explicit(
                &sub->pid, &z, self, memory_order_acq_rel,
                memory_order_relaxed))
            continue;
        atomic_store_explicit(&sub->pending, 0, memory_order_relaxed);
        if (grove_resource_attach(sub_clear, sub, NULL) == 0)
            return sub;
        sub_clear(sub);
        return NULL;
    }
    return NULL;
}

/* Where the stream starts: after Last-Event-ID or ?since=, else now. */
static uint64_t start_seq(grove__obs_conn_t *c, uint64_t now)
{
    char v[24];
    size_t n = c->req.last_event_id_len;
    if (c->req.last_event_id && n && n < sizeof v) {
        memcpy(v, c->req.last_event_id, n);
        v[n] = '\0';
    } else if (grove__obs_param(c, "since", v, sizeof v) < 0) {
        return now;
    }
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    return *end || v[0] < '0' || v[0] > '9' || x > now ? now : x;
}

/* Writes the events after *last; a stream that fell behind the ring
 * hears how many it missed. */
static void send_events(grove__obs_t *o, grove__obs_out_t *w, uint64_t *last)
{
    grove__obs_event_t *e = grove_alloc(sizeof *e);
    if (!e) {
        w->err = GROVE_ENOMEM;
        return;
    }
    for (;;) {
        pthread_mutex_lock(&o->ev_lock);
        uint64_t top = o->ev_seq, want = *last + 1;
        uint64_t oldest = top >= GROVE__OBS_EVENTS ? top - GROVE__OBS_EVENTS + 1
                                                   : 1;
        bool have = want <= top;
        if (have && want >= oldest)
            *e = o->ring[want % GROVE__OBS_EVENTS];
        pthread_mutex_unlock(&o->ev_lock);
        if (!have)
            break;
        if (want < oldest) {
            grove__obs_printf(w, "event: dropped\ndata: {\"count\":%llu}\n\n",
                              (unsigned long long)(oldest - want));
            *last = oldest - 1;
            continue;
        }
        grove__obs_printf(w, "id: %llu\ndata: {\"seq\":%llu,",
                          (unsigned long long)e->seq,
                          (unsigned long long)e->seq);
        grove__obs_put(w, e->json, e->len);
        grove__obs_puts(w, "\n\n");
        *last = want;
    }
    grove_free(e);
}

/* A readiness message: the client sent something (ignored) or left. */
static bool client_gone(grove__obs_conn_t *c)
{
    char scratch[512];
    int n = grove_io_read(c->sock, scratch, sizeof scratch, 0);
    if (n == GROVE_ETIMEDOUT || n > 0)
        return grove_io_arm(c->sock, GROVE_IO_READABLE,
                            GROVE__OBS_TAG_READY) < 0;
    return true;
}

/* Waits for the next thing to do; false when the stream is over. */
static bool stream_wait(grove__obs_conn_t *c)
{
    grove_msg_t *m;
    int rc = grove_recv(&m, PING_MS);
    if (rc == GROVE_ETIMEDOUT) {
        grove__obs_puts(&c->out, ": ping\n\n");
        return true;
    }
    if (rc < 0)
        return false;
    uint64_t tag = grove_msg_tag(m);
    grove_msg_free(m);
    return tag != GROVE__OBS_TAG_READY || !client_gone(c);
}

void grove__obs_serve_events(grove__obs_conn_t *c)
{
    grove__obs_t *o = c->o;
    grove__obs_sub_t *sub = subscribe(o);
    if (!sub) {
        grove__obs_error(c, 503, "too many event streams");
        return;
    }
    pthread_mutex_lock(&o->ev_lock);
    uint64_t last = start_seq(c, o->ev_seq);
    pthread_mutex_unlock(&o->ev_lock);
    grove__obs_begin(c, 200, "text/event-stream");
    grove__obs_puts(&c->out, "retry: 2000\n: grove observer events\n\n");
    /* The stream has no end of its own: only its write deadline. */
    c->out.deadline = 0;
    if (grove__obs_flush(&c->out) < 0 ||
        grove_io_arm(c->sock, GROVE_IO_READABLE, GROVE__OBS_TAG_READY) < 0)
        return;
    do {
        /* Cleared before reading: an event pushed after the read wakes
         * the stream again. Acq_rel pairs with the handler's exchange. */
        atomic_exchange_explicit(&sub->pending, 0, memory_order_acq_rel);
        send_events(o, &c->out, &last);
        if (grove__obs_flush(&c->out) < 0)
            return;
    } while (stream_wait(c));
}
