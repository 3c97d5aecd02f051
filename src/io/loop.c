/* The socket table and the poller's reports: slots that outlive their
 * sockets, what turns a report into a message, and the parking of a
 * process on a descriptor. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "io/io.h"

grove__io_counters_t grove__io_count;

/* ---- the table ---------------------------------------------------------- */

/* Slots come in chunks that are never freed or moved, so a poller report
 * or a stale handle can always look at its slot and compare generations
 * without a use-after-free. */
#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS (1u << 14) /* 16M sockets */
#define NO_SLOT UINT32_MAX

/* Published with release after the chunk is initialized; readers load
 * with acquire, so they see initialized slots. */
static _Atomic(grove__io_slot_t *) chunks[MAX_CHUNKS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t nchunks;           /* under table_lock */
static uint32_t free_head = NO_SLOT; /* under table_lock */

grove__io_slot_t *grove__io_slot(uint32_t index)
{
    if (index >> CHUNK_BITS >= MAX_CHUNKS)
        return NULL;
    grove__io_slot_t *c = atomic_load_explicit(&chunks[index >> CHUNK_BITS],
                                               memory_order_acquire);
    return c ? &c[index & (CHUNK_SIZE - 1)] : NULL;
}

static int grow_locked(void)
{
    if (nchunks == MAX_CHUNKS)
        return GROVE_ELIMIT;
    grove__io_slot_t *c = grove__calloc(CHUNK_SIZE, sizeof *c);
    if (!c)
        return GROVE_ENOMEM;
    uint32_t base = nchunks << CHUNK_BITS;
    for (uint32_t i = 0; i < CHUNK_SIZE; i++) {
        c[i].gen = 1;
        c[i].next_free = i + 1 < CHUNK_SIZE ? base + i + 1 : free_head;
    }
    atomic_store_explicit(&chunks[nchunks], c, memory_order_release);
    nchunks++;
    free_head = base;
    return 0;
}

static int slot_alloc(uint32_t *out)
{
    pthread_mutex_lock(&table_lock);
    int rc = free_head == NO_SLOT ? grow_locked() : 0;
    if (rc == 0) {
        *out = free_head;
        free_head = grove__io_slot(free_head)->next_free;
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

static void slot_release(uint32_t index)
{
    pthread_mutex_lock(&table_lock);
    grove__io_slot(index)->next_free = free_head;
    free_head = index;
    pthread_mutex_unlock(&table_lock);
}

grove_io_t grove__io_handle(const grove__io_sock_t *s, uint32_t gen)
{
    grove_io_t h = {((uint64_t)gen << 32) | (uint64_t)(s->slot + 1)};
    return h;
}

int grove__io_get(grove_io_t h, grove__io_sock_t **out)
{
    grove_pid_t self = grove_self();
    if (grove_pid_is_none(self))
        return GROVE_ENOTPROC;
    grove__io_slot_t *sl = (uint32_t)h.id ? grove__io_slot((uint32_t)h.id - 1)
                                          : NULL;
    if (!sl)
        return GROVE_EINVAL;
    int rc = 0;
    grove__spin_lock(&sl->lock);
    if (sl->gen != (uint32_t)(h.id >> 32) || !sl->sock)
        rc = GROVE_ECLOSED;
    else if (!grove_pid_equal(sl->owner, self))
        rc = GROVE_EINVAL;
    else
        *out = sl->sock;
    grove__spin_unlock(&sl->lock);
    return rc;
}

/* ---- sockets ------------------------------------------------------------ */

int grove__io_sock_new(int fd, int kind, int family, grove_io_t *out)
{
    grove_pid_t self = grove_self();
    int rc = grove_pid_is_none(self) ? GROVE_ENOTPROC : grove__io_start();
    grove__io_sock_t *s = rc == 0 ? grove__calloc(1, sizeof *s) : NULL;
    if (rc == 0 && !s)
        rc = GROVE_ENOMEM;
    uint32_t index = 0;
    if (rc == 0 && (rc = slot_alloc(&index)) < 0)
        free(s);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    s->fd = fd;
    s->slot = index;
    s->kind = (uint8_t)kind;
    s->family = (uint8_t)family;
    s->max_line = GROVE_IO_MAX_LINE_DEFAULT;
    grove__io_slot_t *sl = grove__io_slot(index);
    grove__spin_lock(&sl->lock);
    sl->sock = s;
    sl->owner = self;
    uint32_t gen = sl->gen;
    grove__spin_unlock(&sl->lock);
    atomic_fetch_add_explicit(&grove__io_count.sockets, 1,
                              memory_order_relaxed);
    rc = grove_resource_attach(grove__io_sock_dtor, s, &s->res);
    if (rc < 0) {
        grove__io_sock_free(s);
        return rc;
    }
    *out = grove__io_handle(s, gen);
    return 0;
}

void grove__io_sock_free(grove__io_sock_t *s)
{
    grove__io_slot_t *sl = grove__io_slot(s->slot);
    grove__spin_lock(&sl->lock);
    /* From here on every handle and poller report of this socket carries
     * an old generation and is ignored. */
    sl->gen++;
    sl->sock = NULL;
    sl->owner = GROVE_PID_NONE;
    sl->wait_ev = sl->arm_ev = 0;
    bool added = sl->added;
    sl->added = false;
    grove__spin_unlock(&sl->lock);
    if (added)
        grove__poller_forget(s->fd);
    close(s->fd);
    slot_release(s->slot);
    free(s->buf);
    free(s);
    atomic_fetch_sub_explicit(&grove__io_count.sockets, 1,
                              memory_order_relaxed);
}

void grove__io_sock_dtor(void *sock)
{
    grove__io_sock_t *s = sock;
    s->res = NULL;
    grove__io_sock_free(s);
}

/* ---- the poller's reports ----------------------------------------------- */

/* The tag of the wake-up a parked caller receives (matched by its ref;
 * the tag only makes it recognizable in a crash report). */
#define WAKE_TAG UINT64_C(0xffffffffffff0301)

int grove__io_register_locked(grove__io_slot_t *sl, int fd, uint32_t index)
{
    if (sl->added)
        return 0;
    uint64_t token = ((uint64_t)sl->gen << 32) | index;
    int rc = grove__poller_add(fd, token);
    if (rc == 0)
        sl->added = true;
    return rc;
}

/* Sends what a report satisfies and remembers the rest (edge-triggered:
 * it is reported once). The sends happen under the slot's lock: a waiter
 * that times out takes the same lock to learn whether its wake-up was
 * sent, so none is ever left behind in a mailbox. */
static void dispatch(const grove__poll_event_t *e)
{
    uint32_t index = (uint32_t)e->token;
    grove__io_slot_t *sl = grove__io_slot(index);
    if (!sl)
        return;
    grove__spin_lock(&sl->lock);
    if (sl->gen == (uint32_t)(e->token >> 32) && sl->sock) {
        unsigned left = e->events;
        if (sl->wait_ev & e->events) {
            left &= ~sl->wait_ev;
            sl->wait_ev = 0;
            grove__send_reliable(sl->wait_pid, WAKE_TAG, sl->wait_ref, NULL,
                                 0, 0);
        }
        if (sl->arm_ev & e->events) {
            grove_io_t h = grove__io_handle(sl->sock, sl->gen);
            left &= ~sl->arm_ev;
            sl->arm_ev = 0;
            grove__send_reliable(sl->arm_pid, sl->arm_tag, GROVE_REF_NONE,
                                 &h, sizeof h, 0);
        }
        if (left)
            atomic_fetch_or(&sl->ready, left);
    }
    grove__spin_unlock(&sl->lock);
}

/* Takes what the poller has, waiting up to timeout_ms; the schedulers
 * call it through netpoll (or the I/O thread, deterministic builds). */
static int poll_dispatch(int timeout_ms)
{
    grove__poll_event_t ev[256];
    int n = grove__poller_wait(ev, 256, timeout_ms);
    for (int i = 0; i < n; i++)
        dispatch(&ev[i]);
    if (n > 0)
        atomic_fetch_add_explicit(&grove__io_count.events, (uint64_t)n,
                                  memory_order_relaxed);
    return n;
}

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool started;  /* release after the poller is open */

#if defined(GROVE_DETERMINISTIC)
/* One OS thread steps every scheduler and none may sleep in the poller:
 * an I/O thread does, from the first socket of a run to grove_stop. */
static atomic_bool stopping; /* read by the I/O thread each round */
static pthread_t io_thread;  /* under start_lock */

static void *io_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stopping, memory_order_acquire))
        poll_dispatch(-1);
    return NULL;
}

/* The thread must not take the application's signals (SIGTERM handling,
 * SIGINT): it inherits a mask blocking them. */
static int poll_begin(void)
{
    atomic_store_explicit(&stopping, false, memory_order_relaxed);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = grove__pthread_create(&io_thread, NULL, io_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e ? GROVE_ESYSCALL : 0;
}

/* The thread is joined, so no send of its own outlives the runtime. */
static void poll_end(void)
{
    atomic_store_explicit(&stopping, true, memory_order_release);
    grove__poller_wake();
    pthread_join(io_thread, NULL);
}
#else
static const grove__netpoll_t netpoll = {poll_dispatch, grove__poller_wake};

static int poll_begin(void)
{
    grove__netpoll_set(&netpoll);
    return 0;
}

/* Returns once no scheduler is inside the poller, so none of its sends
 * outlives the runtime. */
static void poll_end(void) { grove__netpoll_clear(); }
#endif

/* At grove_stop every process has exited, so every socket is closed:
 * the poller is taken back and its descriptors closed. The next run
 * starts afresh. */
static void io_stop(void)
{
    pthread_mutex_lock(&start_lock);
    if (atomic_load_explicit(&started, memory_order_relaxed)) {
        poll_end();
        grove__poller_close();
        atomic_store_explicit(&started, false, memory_order_relaxed);
    }
    pthread_mutex_unlock(&start_lock);
}

int grove__io_start(void)
{
    /* Acquire pairs with the release below: a caller that sees started
     * sees the poller open. */
    if (atomic_load_explicit(&started, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&start_lock);
    int rc = 0;
    if (!atomic_load_explicit(&started, memory_order_relaxed)) {
        rc = grove__poller_open();
        if (rc == 0 && ((rc = grove__at_stop(io_stop)) < 0 ||
                        (rc = poll_begin()) < 0))
            grove__poller_close();
        if (rc == 0)
            atomic_store_explicit(&started, true, memory_order_release);
    }
    pthread_mutex_unlock(&start_lock);
    return rc;
}

/* ---- parking ------------------------------------------------------------ */

int64_t grove__io_deadline(grove_timeout_t timeout)
{
    if (timeout == GROVE_INFINITY)
        return GROVE__IO_NEVER;
    return (int64_t)grove_now_ms() + timeout;
}

ssize_t grove__io_read_sys(grove__io_sock_t *s, void *buf, size_t size)
{
    grove__io_slot_t *sl = grove__io_slot(s->slot);
    if (s->drained) {
        s->drained = false;
        /* Nothing reported since the queue emptied: nothing to read. */
        if (!(atomic_load(&sl->ready) & (GROVE_IO_READABLE | GROVE__IO_HUP))) {
            errno = EAGAIN;
            return -1;
        }
    }
    /* Cleared before the call: a byte that comes after it reports. */
    if (atomic_load_explicit(&sl->ready, memory_order_relaxed) &
        GROVE_IO_READABLE)
        atomic_fetch_and(&sl->ready, ~(unsigned)GROVE_IO_READABLE);
    ssize_t n = read(s->fd, buf, size);
    s->drained = n > 0 && (size_t)n < size && sl->added;
    return n;
}

/* After a timeout: either the wait is still recorded (no wake-up will
 * come: forget it) or a poller report took it and has already sent the
 * wake-up, which is removed from the mailbox. Returns true if it fired. */
static bool cancel_wait(grove__io_slot_t *sl, grove_ref_t ref)
{
    grove__spin_lock(&sl->lock);
    bool pending = sl->wait_ev && sl->wait_ref.id == ref.id;
    if (pending)
        sl->wait_ev = 0;
    grove__spin_unlock(&sl->lock);
    grove_msg_t *m;
    if (!pending && grove_recv_ref(&m, ref, 0) == 0)
        grove_msg_free(m);
    return !pending;
}

int grove__io_wait(grove__io_sock_t *s, unsigned ev, int64_t deadline)
{
    int64_t now = (int64_t)grove_now_ms();
    if (deadline != GROVE__IO_NEVER && deadline <= now)
        return GROVE_ETIMEDOUT;
    grove_ref_t ref = grove_make_ref();
    grove__io_slot_t *sl = grove__io_slot(s->slot);
    grove__spin_lock(&sl->lock);
    int rc = grove__io_register_locked(sl, s->fd, s->slot);
    bool reported = rc == 0 && (atomic_load(&sl->ready) & ev);
    if (reported) {
        /* reported since the call was tried: try again */
        atomic_fetch_and(&sl->ready, ~ev);
    } else if (rc == 0) {
        sl->wait_ev = ev;
        sl->wait_pid = grove_self();
        sl->wait_ref = ref;
    }
    grove__spin_unlock(&sl->lock);
    if (rc == GROVE_ENOTSUP || reported)
        return 0; /* a regular file is always ready */
    if (rc < 0)
        return rc;
    atomic_fetch_add_explicit(&grove__io_count.waits, 1, memory_order_relaxed);
    grove_msg_t *m;
    grove_timeout_t t = deadline == GROVE__IO_NEVER ? GROVE_INFINITY
                                                    : deadline - now;
    if (grove_recv_ref(&m, ref, t) == 0) {
        grove_msg_free(m);
        /* The wake-up was sent under the slot's lock: taking it once
         * waits for the thread that handled the report to leave the send,
         * so no runtime call of its own outlives what this caller does
         * next. */
        grove__spin_lock(&sl->lock);
        grove__spin_unlock(&sl->lock);
        return 0;
    }
    return cancel_wait(sl, ref) ? 0 : GROVE_ETIMEDOUT;
}

/* Whether fd is ready for events now (a look at its level). */
static bool ready_now(int fd, unsigned events)
{
    struct pollfd p = {.fd = fd};
    if (events & GROVE_IO_READABLE)
        p.events |= POLLIN;
#if defined(POLLRDHUP)
    if (events & GROVE_IO_READABLE)
        p.events |= POLLRDHUP;
#endif
    if (events & GROVE_IO_WRITABLE)
        p.events |= POLLOUT;
    return poll(&p, 1, 0) > 0 && p.revents != 0;
}

GROVE_EXPORT int grove_io_arm(grove_io_t h, unsigned events, uint64_t tag)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(h, &s);
    if (rc < 0)
        return rc;
    if (!events || (events & ~(GROVE_IO_READABLE | GROVE_IO_WRITABLE)))
        return GROVE_EINVAL;
    grove__io_settle(s);
    grove__io_slot_t *sl = grove__io_slot(s->slot);
    grove__spin_lock(&sl->lock);
    rc = grove__io_register_locked(sl, s->fd, s->slot);
    if (rc == 0) {
        sl->arm_ev = events;
        sl->arm_pid = grove_self();
        sl->arm_tag = tag;
    }
    grove__spin_unlock(&sl->lock);
    if (rc == GROVE_ENOTSUP) /* never blocks: ready now */
        return grove_send(grove_self(), tag, &h, sizeof h);
    if (rc < 0 || !ready_now(s->fd, events))
        return rc;
    /* Ready already, and edges only report changes: answer at once,
     * unless a report took the request meanwhile (then it answered). */
    grove__spin_lock(&sl->lock);
    bool ours = sl->arm_ev != 0;
    sl->arm_ev = 0;
    grove__spin_unlock(&sl->lock);
    return ours ? grove_send(grove_self(), tag, &h, sizeof h) : 0;
}

GROVE_EXPORT int grove_io_stats(grove_io_stats_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    out->sockets_open = atomic_load_explicit(&grove__io_count.sockets,
                                             memory_order_relaxed);
    out->waits = atomic_load_explicit(&grove__io_count.waits,
                                      memory_order_relaxed);
    out->events = atomic_load_explicit(&grove__io_count.events,
                                       memory_order_relaxed);
    out->pool_threads = atomic_load_explicit(&grove__io_count.threads,
                                             memory_order_relaxed);
    out->pool_jobs = atomic_load_explicit(&grove__io_count.jobs,
                                          memory_order_relaxed);
    return 0;
}
