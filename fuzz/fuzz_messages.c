/* Fuzz target: message payloads with hostile sizes and contents, and
 * selective receive.
 *
 * The runtime is started once. Each input is a program run by one
 * process: it sends payloads taken from the input (sizes 0, small,
 * medium and up to 4 MiB) to itself by copy, by ownership transfer with a
 * destructor, by registered name and with refs, has short-lived helper
 * processes send batches to it, and takes them out again with receive,
 * receive by tag, by ref, by predicate, and flush. A model of the mailbox
 * predicts every result: which message comes out, its tag, size, bytes,
 * sender and ref, and how many a flush removes. Invalid sends (NULL data,
 * sizes over GROVE_MSG_MAX_SIZE, dead and malformed pids) must fail
 * without reading the payload, and an owned payload's destructor must run
 * exactly once whatever happens. After the process exits, messages_live
 * and processes_alive return to where they were, and every owned payload
 * has been destroyed.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_SENDS 256
#define MAX_HELD 8
#define NTAGS 8
#define LARGE_MAX ((size_t)4 << 20)
#define LARGE_BUDGET ((size_t)8 << 20)
#define NAME "fuzz_messages"

/* Owned payloads: made by this target, destroyed by the runtime. */
static atomic_ulong owned_made, owned_freed;

static void owned_dtor(void *p)
{
    atomic_fetch_add(&owned_freed, 1);
    free(p);
}

typedef struct expect {
    uint64_t tag;
    size_t size;
    unsigned char *copy; /* the bytes sent (owned by the model), or NULL */
    int first;           /* first byte, -1 when empty */
    const void *ptr;     /* owned: the payload itself */
    grove_pid_t from;
    grove_ref_t ref;
} expect_t;

typedef struct prog {
    fz_t in;
    grove_pid_t self;
    expect_t q[MAX_SENDS * 2];
    size_t nq;
    size_t sends;
    size_t large_used;
    grove_msg_t *held[MAX_HELD];
    grove_ref_t refs[16];
    size_t nrefs;
    grove_pid_t dead; /* a helper that has exited */
} prog_t;

/* ---- payloads --------------------------------------------------------------- */

static size_t pick_size(prog_t *p)
{
    uint8_t mode = fz_u8(&p->in);
    switch (mode & 7) {
    case 0:
        return 0;
    case 1:
    case 2:
    case 3:
        return fz_u8(&p->in);
    case 4:
    case 5:
        return fz_u16(&p->in) % 4096;
    case 6:
        return fz_u32(&p->in) % 65536;
    default: {
        size_t want = ((size_t)1 << 20) + fz_u32(&p->in) % (LARGE_MAX - (1u << 20) + 1);
        if (p->large_used + want > LARGE_BUDGET)
            return fz_u8(&p->in);
        p->large_used += want;
        return want;
    }
    }
}

/* A payload of size bytes: input bytes, repeated when the input is
 * shorter. Returned malloc'd (at least one byte). */
static unsigned char *make_payload(prog_t *p, size_t size)
{
    unsigned char *b = malloc(size ? size : 1);
    FZ_CHECK(b, "malloc %zu", size);
    const uint8_t *src;
    size_t k = fz_bytes(&p->in, size < 64 ? size : 64, &src);
    if (size && !k) {
        memset(b, 0xa5, size);
    } else if (size) {
        memcpy(b, src, k);
        for (size_t i = k; i < size; i *= 2) /* doubling copies */
            memcpy(b + i, b, size - i < i ? size - i : i);
    }
    return b;
}

/* What a message sent from b should look like. A copied payload's bytes
 * are kept (b itself, which the model then frees); an owned one is
 * checked by identity. */
static expect_t expect_of(unsigned char *b, size_t size, uint64_t tag,
                          grove_pid_t from, grove_ref_t ref, const void *ptr)
{
    expect_t e = {.tag = tag,
                  .size = size,
                  .copy = ptr ? NULL : b,
                  .first = size ? b[0] : -1,
                  .ptr = ptr,
                  .from = from,
                  .ref = ref};
    return e;
}

static void push(prog_t *p, expect_t e)
{
    FZ_CHECK(p->nq < sizeof p->q / sizeof p->q[0], "model full");
    p->q[p->nq++] = e;
}

static void drop(prog_t *p, size_t i)
{
    free(p->q[i].copy);
    memmove(&p->q[i], &p->q[i + 1], (p->nq - i - 1) * sizeof p->q[0]);
    p->nq--;
}

/* ---- checking a received message ---------------------------------------------- */

static void check_msg(const grove_msg_t *m, const expect_t *e)
{
    FZ_CHECK(grove_msg_kind(m) == GROVE_MSG_USER, "kind %d",
             grove_msg_kind(m));
    FZ_CHECK(grove_msg_tag(m) == e->tag, "tag %llu, expected %llu",
             (unsigned long long)grove_msg_tag(m),
             (unsigned long long)e->tag);
    FZ_CHECK(grove_msg_size(m) == e->size, "size %zu, expected %zu",
             grove_msg_size(m), e->size);
    FZ_CHECK(grove_msg_from(m).id == e->from.id, "sender %#llx, expected %#llx",
             (unsigned long long)grove_msg_from(m).id,
             (unsigned long long)e->from.id);
    FZ_CHECK(grove_msg_ref(m).id == e->ref.id, "ref %llu, expected %llu",
             (unsigned long long)grove_msg_ref(m).id,
             (unsigned long long)e->ref.id);
    FZ_CHECK(!grove_msg_reason(m) && !grove_msg_name(m),
             "a user message with a reason or name");
    const void *d = grove_msg_data(m);
    FZ_CHECK(d || e->size == 0, "no data for %zu bytes", e->size);
    if (e->ptr)
        FZ_CHECK(d == e->ptr, "owned payload %p came back as %p", e->ptr, d);
    FZ_CHECK(!e->copy || !e->size || memcmp(d, e->copy, e->size) == 0,
             "payload of %zu bytes changed", e->size);
}

static void keep_or_free(prog_t *p, grove_msg_t *m)
{
    uint8_t slot = fz_u8(&p->in);
    if (slot < MAX_HELD && !p->held[slot]) {
        p->held[slot] = m;
        return;
    }
    grove_msg_free(m);
}

/* ---- predicates ------------------------------------------------------------------ */

typedef struct pred {
    int how;
    size_t lo, hi;
    int byte;
    uint64_t parity;
    unsigned calls;
} pred_t;

static bool pred_expect(const pred_t *pr, const expect_t *e)
{
    switch (pr->how) {
    case 0:
        return e->size >= pr->lo && e->size <= pr->hi;
    case 1:
        return e->first == pr->byte;
    case 2:
        return (e->tag & 1) == pr->parity;
    default:
        return false;
    }
}

static bool pred_msg(const grove_msg_t *m, void *arg)
{
    pred_t *pr = arg;
    pr->calls++;
    FZ_CHECK(grove_msg_kind(m) == GROVE_MSG_USER, "predicate saw kind %d",
             grove_msg_kind(m));
    const unsigned char *d = grove_msg_data(m);
    expect_t e = {.tag = grove_msg_tag(m),
                  .size = grove_msg_size(m),
                  .first = grove_msg_size(m) ? d[0] : -1};
    return pred_expect(pr, &e);
}

static pred_t make_pred(prog_t *p)
{
    pred_t pr = {0};
    pr.how = fz_u8(&p->in) % 4;
    pr.lo = fz_u16(&p->in);
    pr.hi = pr.lo + fz_u32(&p->in);
    pr.byte = fz_u8(&p->in);
    pr.parity = fz_u8(&p->in) & 1;
    return pr;
}

/* ---- helpers that send ---------------------------------------------------------------- */

typedef struct batch_item {
    uint64_t tag;
    unsigned char *buf;
    size_t size;
    bool owned;
} batch_item_t;

typedef struct batch {
    grove_pid_t to;
    size_t n;
    batch_item_t items[16];
} batch_t;

static void sender_entry(void *arg)
{
    batch_t *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        batch_item_t *it = &b->items[i];
        int rc = it->owned
                     ? grove_send_owned(b->to, it->tag, it->buf, it->size,
                                        owned_dtor)
                     : grove_send(b->to, it->tag, it->buf, it->size);
        FZ_CHECK(rc == 0, "helper send: %s", grove_errname(rc));
    }
}

static void op_helper(prog_t *p)
{
    batch_t *b = calloc(1, sizeof *b);
    b->to = p->self;
    b->n = fz_range(&p->in, 0, 16);
    if (p->sends + b->n > MAX_SENDS)
        b->n = 0;
    p->sends += b->n;
    for (size_t i = 0; i < b->n; i++) {
        batch_item_t *it = &b->items[i];
        it->tag = fz_u8(&p->in) % NTAGS;
        it->size = pick_size(p);
        it->buf = make_payload(p, it->size);
        it->owned = fz_bool(&p->in);
        if (it->owned)
            atomic_fetch_add(&owned_made, 1);
    }
    grove_ref_t mref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &mref};
    grove_pid_t h;
    int rc = grove_spawn(sender_entry, b, &o, &h);
    FZ_CHECK(rc == 0, "spawn helper: %s", grove_errname(rc));
    /* Its DOWN comes after everything it sent (one sender, in order). */
    grove_msg_t *m;
    rc = grove_recv_ref(&m, mref, GROVE_INFINITY);
    FZ_CHECK(rc == 0 && grove_msg_kind(m) == GROVE_MSG_DOWN,
             "no DOWN from the helper: %s", grove_errname(rc));
    const grove_reason_t *r = grove_msg_reason(m);
    FZ_CHECK(r && r->kind == GROVE_EXIT_NORMAL, "helper exited kind %d",
             r ? r->kind : -1);
    FZ_CHECK(grove_msg_from(m).id == h.id, "DOWN from someone else");
    grove_msg_free(m);
    for (size_t i = 0; i < b->n; i++) {
        batch_item_t *it = &b->items[i];
        push(p, expect_of(it->buf, it->size, it->tag, h, GROVE_REF_NONE,
                          it->owned ? it->buf : NULL));
    }
    free(b);
    p->dead = h;
}

/* ---- operations ------------------------------------------------------------------------ */

static void op_send(prog_t *p, int how)
{
    if (p->sends >= MAX_SENDS)
        return;
    p->sends++;
    uint64_t tag = fz_u8(&p->in) % NTAGS;
    size_t size = pick_size(p);
    unsigned char *b = make_payload(p, size);
    grove_ref_t ref = GROVE_REF_NONE;
    int rc;
    switch (how) {
    case 0:
        rc = grove_send(p->self, tag, b, size);
        break;
    case 1:
        ref = grove_make_ref();
        if (p->nrefs < 16)
            p->refs[p->nrefs++] = ref;
        rc = grove_send_ref(p->self, tag, ref, b, size);
        break;
    default:
        rc = grove_send_name(NAME, tag, b, size);
        break;
    }
    FZ_CHECK(rc == 0, "send of %zu bytes: %s", size, grove_errname(rc));
    push(p, expect_of(b, size, tag, p->self, ref, NULL));
}

static void op_send_owned(prog_t *p)
{
    if (p->sends >= MAX_SENDS)
        return;
    p->sends++;
    uint64_t tag = fz_u8(&p->in) % NTAGS;
    size_t size = pick_size(p);
    unsigned char *b = make_payload(p, size);
    bool null_zero = size == 0 && fz_bool(&p->in);
    if (null_zero) { /* no data at all: valid for size 0, and the
                        * destructor still runs, with NULL */
        free(b);
        b = NULL;
    }
    atomic_fetch_add(&owned_made, 1);
    static unsigned char none[1];
    expect_t e = expect_of(b ? b : none, size, tag, p->self, GROVE_REF_NONE,
                           b ? (void *)b : (void *)none);
    e.ptr = b;
    int rc = grove_send_owned(p->self, tag, b, size, owned_dtor);
    FZ_CHECK(rc == 0, "send_owned: %s", grove_errname(rc));
    push(p, e);
}

static void op_recv(prog_t *p, int how)
{
    grove_msg_t *m = NULL;
    size_t want = p->nq;
    int rc;
    pred_t pr = {0};
    switch (how) {
    case 0:
        want = p->nq ? 0 : p->nq;
        rc = grove_recv(&m, 0);
        break;
    case 1: {
        uint64_t tag = fz_u8(&p->in) % (NTAGS + 1);
        for (size_t i = 0; i < p->nq && want == p->nq; i++)
            if (p->q[i].tag == tag)
                want = i;
        rc = grove_recv_tag(&m, tag, 0);
        break;
    }
    case 2: {
        grove_ref_t ref = p->nrefs ? p->refs[fz_u8(&p->in) % p->nrefs]
                                   : grove_make_ref();
        if (fz_u8(&p->in) == 0xff)
            ref = grove_make_ref(); /* fresh: nothing carries it */
        for (size_t i = 0; i < p->nq && want == p->nq; i++)
            if (p->q[i].ref.id == ref.id)
                want = i;
        rc = grove_recv_ref(&m, ref, 0);
        break;
    }
    default:
        pr = make_pred(p);
        for (size_t i = 0; i < p->nq && want == p->nq; i++)
            if (pred_expect(&pr, &p->q[i]))
                want = i;
        rc = grove_recv_match(&m, pred_msg, &pr, 0);
        FZ_CHECK(pr.calls <= p->nq, "predicate called %u times for %zu",
                 pr.calls, p->nq);
        break;
    }
    if (want == p->nq) {
        FZ_CHECK(rc == GROVE_ETIMEDOUT, "receive %d: expected a timeout, "
                 "got %s", how, grove_errname(rc));
        return;
    }
    FZ_CHECK(rc == 0, "receive %d: expected message %zu of %zu, got %s", how,
             want, p->nq, grove_errname(rc));
    check_msg(m, &p->q[want]);
    drop(p, want);
    keep_or_free(p, m);
}

static void op_flush(prog_t *p)
{
    bool all = fz_bool(&p->in);
    pred_t pr = make_pred(p);
    size_t want = 0;
    for (size_t i = p->nq; i-- > 0;)
        if (all || pred_expect(&pr, &p->q[i])) {
            drop(p, i);
            want++;
        }
    int n = grove_flush(all ? NULL : pred_msg, &pr);
    FZ_CHECK(n >= 0 && (size_t)n == want, "flush removed %d, expected %zu",
             n, want);
}

static void op_free_held(prog_t *p)
{
    uint8_t slot = fz_u8(&p->in) % MAX_HELD;
    grove_msg_free(p->held[slot]); /* NULL is fine */
    p->held[slot] = NULL;
}

/* Sends that must fail, and must not read (or keep) the payload. */
static void op_bad_send(prog_t *p)
{
    unsigned char small[8] = {0};
    uint8_t how = fz_u8(&p->in) % 8;
    size_t size = pick_size(p);
    int rc;
    switch (how) {
    case 0:
        rc = grove_send(p->self, 1, NULL, size ? size : 1);
        FZ_CHECK(rc == GROVE_EINVAL, "NULL data: %s", grove_errname(rc));
        break;
    case 1: {
        size_t huge = GROVE_MSG_MAX_SIZE + 1 + fz_u64(&p->in) %
                                                   (SIZE_MAX - GROVE_MSG_MAX_SIZE);
        rc = grove_send(p->self, 1, small, huge);
        FZ_CHECK(rc == GROVE_EINVAL, "%zu bytes: %s", huge,
                 grove_errname(rc));
        break;
    }
    case 2:
        rc = grove_send(GROVE_PID_NONE, 1, small, sizeof small);
        FZ_CHECK(rc == GROVE_EINVAL, "no pid: %s", grove_errname(rc));
        break;
    case 3:
        if (!p->dead.id)
            return;
        rc = grove_send(p->dead, 1, small, sizeof small);
        FZ_CHECK(rc == GROVE_ENOPROC, "dead pid: %s", grove_errname(rc));
        break;
    case 4:
    case 5: {
        /* Owned, to a pid that is dead, none or anything: on failure the
         * destructor has run, at once and once. */
        grove_pid_t to = how == 4 ? p->dead : (grove_pid_t){fz_u64(&p->in)};
        if (to.id == p->self.id || (to.id && grove_is_alive(to)))
            return;
        unsigned char *b = make_payload(p, size);
        atomic_fetch_add(&owned_made, 1);
        unsigned long before = atomic_load(&owned_freed);
        rc = grove_send_owned(to, 1, b, size, owned_dtor);
        FZ_CHECK(rc == GROVE_EINVAL || rc == GROVE_ENOPROC,
                 "owned to %#llx: %s", (unsigned long long)to.id,
                 grove_errname(rc));
        FZ_CHECK(atomic_load(&owned_freed) == before + 1,
                 "undeliverable owned payload not destroyed once");
        break;
    }
    case 6: {
        grove_pid_t to = {fz_u64(&p->in)};
        if (to.id == p->self.id || (to.id && grove_is_alive(to)))
            return;
        unsigned char *b = make_payload(p, size);
        rc = grove_send(to, 1, b, size);
        free(b);
        FZ_CHECK(rc == GROVE_EINVAL || rc == GROVE_ENOPROC, "to %#llx: %s",
                 (unsigned long long)to.id, grove_errname(rc));
        break;
    }
    default: {
        size_t len;
        char *name = fz_str(&p->in, 80, &len);
        if (strcmp(name, NAME) != 0) {
            rc = grove_send_name(name, 1, small, sizeof small);
            FZ_CHECK(rc == GROVE_ENOTFOUND || rc == GROVE_EINVAL,
                     "send to name \"%s\": %s", name, grove_errname(rc));
        }
        free(name);
        break;
    }
    }
}

/* Receive calls with invalid arguments. */
static void op_bad_recv(prog_t *p)
{
    grove_msg_t *m = NULL;
    int64_t t = -2 - (int64_t)(fz_u64(&p->in) >> 2);
    FZ_CHECK(grove_recv(&m, t) == GROVE_EINVAL, "timeout %lld",
             (long long)t);
    FZ_CHECK(grove_recv_ref(&m, GROVE_REF_NONE, 0) == GROVE_EINVAL, "ref 0");
    FZ_CHECK(grove_recv_match(&m, NULL, NULL, 0) == GROVE_EINVAL,
             "NULL predicate");
    FZ_CHECK(grove_msg_kind(NULL) == 0 && grove_msg_tag(NULL) == 0 &&
                 grove_msg_size(NULL) == 0 && !grove_msg_data(NULL) &&
                 grove_msg_from(NULL).id == 0 && !grove_msg_reason(NULL),
             "accessors on NULL");
}

/* A timeout in ms: infinity, short, or anything up to INT64_MAX. Beyond
 * 2^35 ms only while timer_wheel_level is not a known bug. */
static grove_timeout_t pick_timeout(prog_t *p)
{
    uint8_t m = fz_u8(&p->in);
    grove_timeout_t t;
    if (m < 0x80)
        return GROVE_INFINITY;
    if (m < 0xc0)
        t = 5 + m % 200;
    else
        t = (grove_timeout_t)(fz_u64(&p->in) >> 1);
    if (fz_known("timer_wheel_level"))
        t &= ((grove_timeout_t)1 << 35) - 1;
    return t;
}

/* A timer message: sent after 0..2 ms, taken out by its own tag while the
 * receive itself has a timeout armed. Then a timer with a long delay,
 * cancelled. */
static void op_timer(prog_t *p)
{
    size_t size = pick_size(p);
    if (size > 65536)
        size = 65536;
    unsigned char *b = make_payload(p, size);
    grove_timer_t t;
    uint64_t tag = 1000 + fz_u8(&p->in);
    int rc = grove_send_after(p->self, fz_u8(&p->in) % 3, tag, b, size, &t);
    FZ_CHECK(rc == 0, "send_after: %s", grove_errname(rc));
    grove_timeout_t wait = pick_timeout(p);
    grove_timer_t later;
    grove_timeout_t delay = pick_timeout(p);
    if (delay < 0)
        delay = 0;
    delay = delay > INT64_MAX - 1000 ? INT64_MAX : delay + 1000;
    rc = grove_send_after(p->self, delay, 999, b, size, &later);
    FZ_CHECK(rc == 0, "send_after(%lld): %s", (long long)delay,
             grove_errname(rc));
    rc = grove_cancel_timer(later);
    FZ_CHECK(rc == 0, "cancel a timer due in %lld ms: %s", (long long)delay,
             grove_errname(rc));
    grove_msg_t *m;
    if (wait != GROVE_INFINITY)
        wait = wait > INT64_MAX - 100 ? INT64_MAX : wait + 100;
    rc = grove_recv_tag(&m, tag, wait);
    FZ_CHECK(rc == 0, "timer message: %s", grove_errname(rc));
    expect_t e = expect_of(b, size, tag, GROVE_PID_NONE, GROVE_REF_NONE, NULL);
    e.from = grove_msg_from(m); /* who a timer sends as is not the point */
    check_msg(m, &e);
    grove_msg_free(m);
    free(e.copy);
    FZ_CHECK(grove_cancel_timer(t) == GROVE_ENOTFOUND, "cancel after firing");
}

static void fuzz_proc(void *arg)
{
    prog_t *p = arg;
    p->self = grove_self();
    int rc = grove_register(NAME, p->self);
    FZ_CHECK(rc == 0, "register: %s", grove_errname(rc));
    for (int steps = 0; steps < 400 && !fz_empty(&p->in); steps++) {
        switch (fz_u8(&p->in) % 16) {
        case 0:
        case 1:
            op_send(p, 0);
            break;
        case 2:
            op_send(p, 1);
            break;
        case 3:
            op_send(p, 2);
            break;
        case 4:
        case 5:
            op_send_owned(p);
            break;
        case 6:
            op_helper(p);
            break;
        case 7:
            op_recv(p, 0);
            break;
        case 8:
            op_recv(p, 1);
            break;
        case 9:
            op_recv(p, 2);
            break;
        case 10:
            op_recv(p, 3);
            break;
        case 11:
            op_flush(p);
            break;
        case 12:
            op_free_held(p);
            break;
        case 13:
            op_bad_send(p);
            break;
        case 14:
            op_bad_recv(p);
            break;
        default:
            if (fz_bool(&p->in))
                op_timer(p);
            else
                grove_yield();
            break;
        }
    }
    /* Either clean up, or leave it all to the exit path. */
    if (fz_bool(&p->in)) {
        for (size_t i = 0; i < MAX_HELD; i++)
            grove_msg_free(p->held[i]);
        int n = grove_flush(NULL, NULL);
        FZ_CHECK(n >= 0 && (size_t)n == p->nq, "final flush %d of %zu", n,
                 p->nq);
        grove_msg_t *m;
        FZ_CHECK(grove_recv(&m, 0) == GROVE_ETIMEDOUT, "mailbox not empty");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_runtime_start();
    grove_stats_t before;
    grove_stats(&before);
    atomic_store(&owned_made, 0);
    atomic_store(&owned_freed, 0);
    prog_t *p = calloc(1, sizeof *p);
    p->in = (fz_t){data, size};
    fz_run(fuzz_proc, p);
    fz_quiesce(&before);
    FZ_CHECK(atomic_load(&owned_freed) == atomic_load(&owned_made),
             "%lu owned payloads made, %lu destroyed",
             atomic_load(&owned_made), atomic_load(&owned_freed));
    for (size_t i = 0; i < p->nq; i++)
        free(p->q[i].copy);
    free(p);
    return 0;
}
