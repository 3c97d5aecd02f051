/* The process table and the process lifecycle: spawn, exit, cleanup.
 *
 * Slots live in chunks that are never freed while the runtime runs, so a
 * pointer to a slot is always valid memory; whether it still holds the
 * incarnation a pid names is decided by the slot's generation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/internal.h"
#include "base/failpoint.h"

/* The leak checker does not look into mapped memory, and the slots' chunks
 * are the only holders of their rarely used parts (grove__proc_ext): it is
 * told to look there. */
#if defined(GROVE_ASAN) || defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define CHUNK_ROOT(mem) __lsan_register_root_region((mem), CHUNK_BYTES)
#define CHUNK_UNROOT(mem) __lsan_unregister_root_region((mem), CHUNK_BYTES)
#else
#define CHUNK_ROOT(mem) ((void)0)
#define CHUNK_UNROOT(mem) ((void)0)
#endif

#define CHUNK_BITS 12
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define CHUNK_BYTES (CHUNK_SIZE * sizeof(grove__proc_t))

static struct {
    _Atomic(grove__proc_t *) *chunks;
    uint32_t max;
    atomic_uint hwm; /* slots carved so far */
    /* Free slots: a Treiber stack of slot+1 with an ABA tag in the high
     * half. */
    atomic_uint_fast64_t free_head;
    _Atomic uint32_t *free_next;
    pthread_mutex_t grow_lock;
} T = {.grow_lock = PTHREAD_MUTEX_INITIALIZER};

int grove__proc_table_init(uint32_t max)
{
    T.max = max;
    uint32_t nchunks = (max + CHUNK_SIZE - 1) / CHUNK_SIZE;
    T.chunks = grove__calloc(nchunks, sizeof *T.chunks);
    T.free_next = grove__calloc(max, sizeof *T.free_next);
    atomic_store(&T.hwm, 0);
    atomic_store(&T.free_head, 0);
    if (!T.chunks || !T.free_next) {
        grove__proc_table_fini();
        return GROVE_ENOMEM;
    }
    return 0;
}

void grove__proc_table_fini(void)
{
    uint32_t nchunks = (T.max + CHUNK_SIZE - 1) / CHUNK_SIZE;
    for (uint32_t c = 0; T.chunks && c < nchunks; c++) {
        grove__proc_t *chunk = atomic_load(&T.chunks[c]);
        if (!chunk)
            continue;
        for (uint32_t i = 0; i < CHUNK_SIZE; i++) {
            grove__fiber_release(&chunk[i].fiber);
            free(chunk[i].ext);
        }
        CHUNK_UNROOT(chunk);
        munmap(chunk, CHUNK_BYTES);
    }
    free(T.chunks);
    free((void *)T.free_next);
    T.chunks = NULL;
    T.free_next = NULL;
}

grove__proc_t *grove__proc_slot(uint32_t slot)
{
    grove__proc_t *chunk = atomic_load_explicit(
        &T.chunks[slot >> CHUNK_BITS], memory_order_acquire);
    return chunk ? &chunk[slot & (CHUNK_SIZE - 1)] : NULL;
}

uint32_t grove__proc_slots_used(void)
{
    return atomic_load_explicit(&T.hwm, memory_order_acquire);
}

int grove__proc_lookup(grove_pid_t pid, grove__proc_t **out)
{
    uint32_t slot = grove_pid_slot(pid), gen = grove_pid_generation(pid);
    if (gen == 0 || !atomic_load(&grove__rt.started) || slot >= T.max)
        return GROVE_EINVAL;
    if (slot >= grove__proc_slots_used())
        return GROVE_ENOPROC;
    grove__proc_t *p = grove__proc_slot(slot);
    if (!p || atomic_load_explicit(&p->gen, memory_order_acquire) != gen)
        return GROVE_ENOPROC;
    int st = atomic_load_explicit(&p->state, memory_order_acquire);
    if (st == PS_FREE || st == PS_EXITING)
        return GROVE_ENOPROC;
    *out = p;
    return 0;
}

grove__proc_t *grove__proc_get(grove_pid_t pid)
{
    grove__proc_t *p = NULL;
    return grove__proc_lookup(pid, &p) == 0 ? p : NULL;
}

bool grove__pid_valid(grove_pid_t pid)
{
    grove__proc_t *p;
    return grove__proc_lookup(pid, &p) != GROVE_EINVAL;
}

static grove__proc_t *carve_slot(uint32_t *slot_out)
{
    uint32_t slot = atomic_fetch_add(&T.hwm, 1);
    *slot_out = slot;
    if (slot >= T.max) {
        atomic_fetch_sub(&T.hwm, 1);
        return NULL;
    }
    uint32_t c = slot >> CHUNK_BITS;
    grove__proc_t *chunk = atomic_load_explicit(&T.chunks[c],
                                                memory_order_acquire);
    if (!chunk) {
        pthread_mutex_lock(&T.grow_lock);
        chunk = atomic_load(&T.chunks[c]);
        if (!chunk) {
            /* Zeroed pages, faulted in by one call rather than one
             * fault per page as the slots are first used. */
            void *mem = grove__mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                                    -1, 0);
            chunk = mem == MAP_FAILED ? NULL : mem;
            if (chunk) {
                CHUNK_ROOT(chunk);
                for (uint32_t i = 0; i < CHUNK_SIZE; i++)
                    atomic_store(&chunk[i].gen, 1);
                atomic_store_explicit(&T.chunks[c], chunk,
                                      memory_order_release);
            }
        }
        pthread_mutex_unlock(&T.grow_lock);
        if (!chunk) {
            /* The slot number is lost; the table is merely one smaller. */
            return NULL;
        }
    }
    return &chunk[slot & (CHUNK_SIZE - 1)];
}

/* Free slots: a global Treiber stack, and a few per scheduler. A
 * scheduler spawning and one finishing exits would otherwise take turns
 * on the stack's head for every process; between a scheduler's cache and
 * the stack they move SLOT_BATCH at a time, in one compare-and-swap. */
#define SLOT_BATCH (GROVE__SLOT_CACHE / 2)

/* Pops up to want slots into out; returns how many. A successful swap
 * proves the chain walked was the stack's: every push and pop changes the
 * head's tag. */
static unsigned global_pop(uint32_t *out, unsigned want)
{
    uint_fast64_t head = atomic_load_explicit(&T.free_head,
                                              memory_order_acquire);
    for (;;) {
        uint32_t cur = (uint32_t)head;
        unsigned k = 0;
        while (cur && k < want) {
            out[k++] = cur - 1;
            cur = atomic_load_explicit(&T.free_next[cur - 1],
                                       memory_order_relaxed);
        }
        if (k == 0)
            return 0;
        uint_fast64_t nh = ((head >> 32) + 1) << 32 | cur;
        if (atomic_compare_exchange_weak_explicit(&T.free_head, &head, nh,
                                                  memory_order_acquire,
                                                  memory_order_acquire))
            return k;
    }
}

/* Pushes slots[0..n) (n >= 1) as one chain. */
static void global_push(const uint32_t *slots, unsigned n)
{
    for (unsigned i = 0; i + 1 < n; i++)
        atomic_store_explicit(&T.free_next[slots[i]], slots[i + 1] + 1,
                              memory_order_relaxed);
    uint_fast64_t head = atomic_load_explicit(&T.free_head,
                                              memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&T.free_next[slots[n - 1]], (uint32_t)head,
                              memory_order_relaxed);
        uint_fast64_t nh = ((head >> 32) + 1) << 32 | (slots[0] + 1);
        if (atomic_compare_exchange_weak_explicit(&T.free_head, &head, nh,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

/* A slot from another scheduler's cache: only when the table is at its
 * limit, so that slots cached elsewhere never make a spawn fail. */
static bool slot_from_others(uint32_t *slot)
{
    for (int i = 0; i < grove__rt.nsched; i++) {
        grove__sched_t *o = &grove__rt.scheds[i];
        grove__spin_lock(&o->slot_lock);
        bool got = o->nslots > 0;
        if (got)
            *slot = o->slots[--o->nslots];
        grove__spin_unlock(&o->slot_lock);
        if (got)
            return true;
    }
    return false;
}

static grove__proc_t *slot_alloc(grove__sched_t *s, uint32_t *slot_out)
{
    if (s) {
        grove__spin_lock(&s->slot_lock);
        if (!s->nslots)
            s->nslots = global_pop(s->slots, SLOT_BATCH);
        bool got = s->nslots > 0;
        if (got)
            *slot_out = s->slots[--s->nslots];
        grove__spin_unlock(&s->slot_lock);
        if (got)
            return grove__proc_slot(*slot_out);
    } else if (global_pop(slot_out, 1)) {
        return grove__proc_slot(*slot_out);
    }
    grove__proc_t *p = carve_slot(slot_out);
    if (!p && slot_from_others(slot_out))
        p = grove__proc_slot(*slot_out);
    return p;
}

static void slot_free(grove__sched_t *s, uint32_t slot)
{
    if (!s) {
        global_push(&slot, 1);
        return;
    }
    grove__spin_lock(&s->slot_lock);
    if (s->nslots == GROVE__SLOT_CACHE) {
        /* Full: the older half goes to the stack. */
        global_push(s->slots, SLOT_BATCH);
        memmove(s->slots, s->slots + SLOT_BATCH,
                (GROVE__SLOT_CACHE - SLOT_BATCH) * sizeof s->slots[0]);
        s->nslots -= SLOT_BATCH;
    }
    s->slots[s->nslots++] = slot;
    grove__spin_unlock(&s->slot_lock);
}

/* The end of a process whose function returned. Kept out of proc_entry:
 * a reason is a few hundred bytes, and in proc_entry's frame they would
 * sit under every frame of the process for its whole life, resident in
 * every idle process's parked stack. */
static __attribute__((noinline, noreturn)) void proc_end(grove__proc_t *p)
{
    RT_ENTER();
    grove_reason_t r = grove_reason_normal();
    grove__exit_self(p, &r);
}

static void proc_entry(void *arg)
{
    grove__fiber_started();
    grove__handoff_finish();
    grove__proc_t *p = arg;
    RT_LEAVE();
    p->fn(p->arg);
    proc_end(p);
}

int grove__proc_restack(grove__sched_t *s, grove__proc_t *p)
{
    int err = 0;
    p->stack = grove__stack_get(s ? &s->stacks : NULL,
                                (size_t)p->stack_req * 1024, &err);
    if (!p->stack)
        return err ? err : GROVE_ENOMEM;
    grove__fiber_make(&p->fiber, p->stack->lo, p->stack->size, proc_entry, p);
    atomic_store_explicit(&p->st_stack_size, p->stack->size,
                          memory_order_relaxed);
    atomic_store_explicit(&p->st_parked, false, memory_order_relaxed);
    return 0;
}

grove__proc_ext_t *grove__proc_ext(grove__proc_t *p)
{
    if (p->ext)
        return p->ext;
    grove__proc_ext_t *e = grove__calloc(1, sizeof *e);
    if (!e)
        return NULL;
    grove__dlist_init(&e->dict_order);
    grove__dlist_init(&e->arena);
    grove__dlist_init(&e->resources);
    return p->ext = e;
}

static void proc_reset(grove__proc_t *p)
{
    atomic_store_explicit(&p->inbox, NULL, memory_order_relaxed);
    p->rq_next = NULL;
    p->pending = NULL;
    grove__dlist_init(&p->mbox);
    grove__dlist_init(&p->received);
    grove__dlist_init(&p->rtimer.link);
    p->rtimer.wheel = NULL;
    p->mark = &p->mbox;
    p->mark_ref = 0;
    p->request = REQ_NONE;
    p->trap_exit = false;
    p->crashed = false;
    p->exit_hook = NULL;
    p->report_hook = NULL;
    p->hibernate_next = false;
    p->sl_cont = false;
    p->sl_armed = false;
    atomic_store_explicit(&p->pinned, false, memory_order_relaxed);
    p->wait_seq = 0;
    p->sched = NULL;
    p->name = NULL;
    atomic_store_explicit(&p->timeout_seq, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_mbox, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_links, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_mon_out, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_mon_in, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_arena, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_dict, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_dict_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_mbox_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_stack_used, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_reductions, 0, memory_order_relaxed);
    atomic_store_explicit(&p->st_trap, false, memory_order_relaxed);
    atomic_store_explicit(&p->st_parked, false, memory_order_relaxed);
    atomic_store_explicit(&p->ext_wait, grove__tls_get_spawn_watched(),
                          memory_order_relaxed);
}

static int check_stack_size(size_t size)
{
    if (size == 0)
        return 0;
    if (size < 16 * 1024 || size > ((size_t)256 << 20))
        return GROVE_EINVAL;
    return 0;
}

/* Links and monitors asked for at spawn are set up before the child can
 * run, which makes spawn_link and spawn_monitor atomic. */
static int spawn_attach(grove__proc_t *self, grove__proc_t *p,
                        const grove_spawn_opts_t *o, uint64_t mref)
{
    if (o->link) {
        if (grove__map_put(&self->links, p->pid.id, 1) < 0 ||
            grove__map_put(&p->links, self->pid.id, 1) < 0)
            return GROVE_ENOMEM;
        GROVE__OWN_ADD(self->st_links, 1);
        atomic_store_explicit(&p->st_links, 1, memory_order_relaxed);
    }
    if (o->monitor) {
        /* An internal caller may supply the reference (grove__spawn). */
        uint64_t ref = mref ? mref : grove__ref_new();
        if (grove__map_put(&self->mon_out, ref, p->pid.id) < 0 ||
            grove__map_put(&p->mon_in, ref, self->pid.id) < 0)
            return GROVE_ENOMEM;
        GROVE__OWN_ADD(self->st_mon_out, 1);
        atomic_store_explicit(&p->st_mon_in, 1, memory_order_relaxed);
        if (o->monitor_ref)
            o->monitor_ref->id = ref;
    }
    return 0;
}

static void spawn_undo(grove__proc_t *self, grove__proc_t *p, uint32_t slot)
{
    if (self) {
        if (grove__map_del(&self->links, p->pid.id, NULL))
            GROVE__OWN_ADD(self->st_links, -(1));
        uint64_t k, v;
        for (uint32_t i = 0; grove__map_next(&p->mon_in, &i, &k, &v);)
            if (grove__map_del(&self->mon_out, k, NULL))
                GROVE__OWN_ADD(self->st_mon_out, -(1));
    }
    grove__map_free(&p->links);
    grove__map_free(&p->mon_in);
    if (p->has_name)
        grove__name_release(p);
    if (p->stack) {
        grove__fiber_destroy(&p->fiber);
        grove__stack_put(grove__tls_get_sched() ? &grove__tls_get_sched()->stacks : NULL,
                         p->stack);
    }
    p->stack = NULL;
    atomic_store_explicit(&p->state, PS_FREE, memory_order_release);
    slot_free(grove__tls_get_sched(), slot);
}

GROVE_EXPORT int grove_spawn(grove_entry_fn fn, void *arg,
                             const grove_spawn_opts_t *opts, grove_pid_t *out)
{
    return grove__spawn(fn, arg, 0, opts, out, 0, 0);
}

int grove__spawn(grove_entry_fn fn, void *arg, size_t arg_copy,
                 const grove_spawn_opts_t *opts, grove_pid_t *out,
                 uint64_t mref, unsigned flags)
{
    static const grove_spawn_opts_t none;
    const grove_spawn_opts_t *o = opts ? opts : &none;
    if (!atomic_load(&grove__rt.started) ||
        atomic_load_explicit(&grove__rt.closing, memory_order_relaxed))
        return GROVE_ENOTSTARTED;
    grove__proc_t *self = grove__current();
    if (!fn || check_stack_size(o->stack_size) < 0 ||
        ((o->link || o->monitor) && !self) ||
        (unsigned)o->priority > GROVE_PRIO_MAX ||
        arg_copy > GROVE__OWNED_INLINE)
        return GROVE_EINVAL;
    if (o->name && !grove__name_valid(o->name))
        return GROVE_EINVAL;
    int saved = grove__tls_get_in_rt();
    RT_ENTER();
    uint32_t slot = 0;
    grove__proc_t *p = slot_alloc(grove__tls_get_sched(), &slot);
    if (!p) {
        grove__tls_set_in_rt(saved);
        return GROVE_ELIMIT;
    }
    proc_reset(p);
    p->fn = fn;
    p->arg = arg;
    if (arg_copy) {
        memcpy(p->owned_inline, arg, arg_copy);
        p->arg = p->owned_inline;
    }
    p->stack_req = (uint32_t)((o->stack_size + 1023) / 1024);
    p->pid = grove__pid_make(slot, atomic_load(&p->gen));
    atomic_store_explicit(&p->pid_atomic, p->pid.id, memory_order_relaxed);
    atomic_store_explicit(&p->parent_atomic, self ? self->pid.id : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&p->behaviour, NULL, memory_order_relaxed);
    p->trap_exit = o->trap_exit;
    atomic_store_explicit(&p->prio, (uint8_t)o->priority,
                          memory_order_relaxed);
    p->low_skips = 0;
    atomic_store_explicit(&p->st_trap, o->trap_exit, memory_order_relaxed);
    grove__max_heap_set(p, o->max_heap.size ? &o->max_heap
                                            : &grove__rt.cfg.max_heap);
    /* Release, not a full fence: nothing here waits on another thread's
     * store (a lookup only loads), and a fence would stall the spawner
     * until every store into the cold slot above had reached memory. */
    atomic_store_explicit(&p->state, PS_RUNNABLE, memory_order_release);
    /* The same start a stackless process gets when it wakes. */
    int err = grove__proc_restack(grove__tls_get_sched(), p);
    if (err < 0 || (o->name && (err = grove__name_claim(p, o->name)) < 0) ||
        (self && (err = spawn_attach(self, p, o, mref)) < 0)) {
        spawn_undo(self, p, slot);
        grove__tls_set_in_rt(saved);
        return err;
    }
    grove__count(CNT_ALIVE, 1);
    grove__count(CNT_SPAWNED, 1);
    if (out)
        *out = p->pid;
    if (flags & GROVE__SPAWN_AWAITED)
        grove__enqueue(p);
    else
        grove__enqueue_spawned(p);
    grove__tls_set_in_rt(saved);
    return 0;
}

GROVE_EXPORT grove_pid_t grove_self(void)
{
    grove__proc_t *p = grove__current();
    return p ? p->pid : GROVE_PID_NONE;
}

void grove__exit_self(grove__proc_t *p, const grove_reason_t *r)
{
    RT_ENTER();
    p->sched->exit_reason = *r;
    p->request = REQ_EXIT;
    grove__fiber_switch(&p->fiber, &p->sched->fiber, true);
    grove__panic("grove: an exited process was resumed");
}

/* Runs the exit hook, once, on the process's own stack. */
void grove__run_exit_hook(grove__proc_t *p, const grove_reason_t *r)
{
    grove__exit_hook_fn fn = p->exit_hook;
    if (!fn)
        return;
    p->exit_hook = NULL;
    int saved = grove__tls_get_in_rt();
    RT_LEAVE();
    fn(p->exit_hook_arg, r);
    grove__tls_set_in_rt(saved);
}

GROVE_EXPORT void grove_exit(const grove_reason_t *reason)
{
    grove__proc_t *p = grove__current();
    if (!p)
        grove__panic("grove: grove_exit called outside a process");
    grove_reason_t r = reason ? *reason : grove_reason_normal();
    grove__run_exit_hook(p, &r);
    p = grove__current(); /* the hook may have run long: re-read */
    grove__exit_self(p, &r);
}

void grove__set_exit_hook(grove__exit_hook_fn fn, void *arg)
{
    grove__proc_t *p = grove__current();
    if (p) {
        p->exit_hook = fn;
        p->exit_hook_arg = arg;
    }
}

void grove__set_report_hook(grove__report_fn fn, void *arg)
{
    grove__proc_t *p = grove__current();
    if (p) {
        p->report_hook = fn;
        p->report_hook_arg = arg;
    }
}

void *grove__owned_inline(size_t size)
{
    grove__proc_t *p = grove__current();
    if (!p || size > sizeof p->owned_inline)
        return NULL;
    memset(p->owned_inline, 0, size);
    return p->owned_inline;
}

void grove__set_behaviour(const char *name)
{
    grove__proc_t *p = grove__current();
    if (p)
        atomic_store_explicit(&p->behaviour, name, memory_order_relaxed);
}

bool grove__pin_stack(bool on)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return false;
    return atomic_exchange_explicit(&p->pinned, on, memory_order_relaxed);
}

void grove__hibernate_next(void)
{
    grove__proc_t *p = grove__current();
    if (p)
        p->hibernate_next = true;
}

GROVE_EXPORT void grove_exit_error(int code, const char *fmt, ...)
{
    grove_reason_t r = grove_reason_of(GROVE_EXIT_ERROR);
    r.code = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r.text, sizeof r.text, fmt, ap);
        va_end(ap);
    }
    grove_exit(&r);
}

/* Answers what was still queued for a process that is gone (see
 * grove__dead_letter), including what was meant for an earlier
 * incarnation of its slot (see handle in mailbox.c). */
static void answer_dead_letters(grove__proc_t *p, grove_msg_t *m)
{
    while (m) {
        grove_msg_t *next = (grove_msg_t *)m->link.next;
        grove__dead_letter_queued(p, m);
        m = next;
    }
}

static grove_msg_t *reverse(grove_msg_t *m)
{
    grove_msg_t *r = NULL;
    while (m && m != INBOX_CLOSED) {
        grove_msg_t *next = (grove_msg_t *)m->link.next;
        m->link.next = (grove__dlist_t *)r;
        r = m;
        m = next;
    }
    return r;
}

static void free_list(grove__dlist_t *h)
{
    while (!grove__dlist_empty(h)) {
        grove_msg_t *m = GROVE__CONTAINER(h->next, grove_msg_t, link);
        grove__dlist_remove(&m->link);
        grove__msg_destroy(m);
    }
}

static void notify_peers(grove__sched_t *s, grove__proc_t *p,
                         const grove_reason_t *why)
{
    uint64_t k, v;
    for (uint32_t i = 0; grove__map_next(&p->links, &i, &k, &v);)
        grove__post_signal(s, (grove_pid_t){k}, SIG_EXIT, p->pid,
                           GROVE_REF_NONE, why, MSGF_VIA_LINK);
    for (uint32_t i = 0; grove__map_next(&p->mon_in, &i, &k, &v);)
        grove__post_signal(s, (grove_pid_t){v}, SIG_DOWN, p->pid,
                           (grove_ref_t){k}, why, 0);
    /* Monitors this process held: tell their targets to forget them. */
    for (uint32_t i = 0; grove__map_next(&p->mon_out, &i, &k, &v);)
        grove__post_signal(s, grove__mon_target(v), SIG_DEMONITOR, p->pid,
                           (grove_ref_t){k}, NULL, 0);
    grove__map_free(&p->aliases);
    grove__map_free(&p->links);
    grove__map_free(&p->mon_in);
    grove__map_free(&p->mon_out);
    if (p->ext) {
        grove__map_t *names = &p->ext->mon_names;
        for (uint32_t i = 0; grove__map_next(names, &i, &k, &v);)
            free((void *)(uintptr_t)v);
        grove__map_free(names);
    }
}

void grove__notify_waiters(grove__proc_t *p, const grove_reason_t *why);

void grove__proc_finish(grove__sched_t *s, grove__proc_t *p)
{
    atomic_store(&p->state, PS_EXITING);
    grove__timer_cancel_recv(p);
    /* Close the inbox: senders from now on see a dead process. */
    grove_msg_t *late = atomic_exchange_explicit(&p->inbox, INBOX_CLOSED,
                                                 memory_order_acq_rel);
    answer_dead_letters(p, p->pending);
    p->pending = NULL;
    answer_dead_letters(p, reverse(late));
    /* Names first: by the time links and monitors hear of the death, the
     * name is free (OTP's order). */
    const grove_reason_t *why = &s->exit_reason;
    if (p->crashed)
        grove__crash_report(s, p);
    if (p->has_name)
        grove__name_release(p);
    /* Destructors run with the exiting process as the current one, so one
     * may grove_free() the process's own blocks. */
    s->current = p;
    grove__mem_release_all(p);
    grove__dict_release(p);
    s->current = NULL;
    free_list(&p->mbox);
    free_list(&p->received);
    notify_peers(s, p, why);
    grove__fiber_destroy(&p->fiber);
    if (p->stack)
        grove__stack_put(&s->stacks, p->stack);
    p->stack = NULL;
    grove__count(CNT_ALIVE, -1);
    grove__count(CNT_EXITED, 1);
    if (p->crashed)
        grove__count(CNT_CRASHED, 1);
    /* A new generation makes every old pid of this slot stale. */
    uint32_t gen = atomic_load(&p->gen) + 1;
    if (gen == 0)
        gen = 1;
    atomic_store_explicit(&p->gen, gen, memory_order_release);
    grove__notify_waiters(p, why);
    atomic_store_explicit(&p->state, PS_FREE, memory_order_release);
    slot_free(s, grove_pid_slot(p->pid));
}

GROVE_EXPORT bool grove_is_alive(grove_pid_t pid)
{
    return grove__proc_get(pid) != NULL;
}

GROVE_EXPORT int grove_processes(void (*fn)(grove_pid_t pid, void *arg),
                                 void *arg)
{
    if (!fn || !atomic_load(&grove__rt.started))
        return GROVE_EINVAL;
    uint32_t n = grove__proc_slots_used();
    int visited = 0;
    for (uint32_t i = 0; i < n; i++) {
        grove__proc_t *p = grove__proc_slot(i);
        if (!p)
            continue;
        int st = atomic_load(&p->state);
        if (st == PS_FREE || st == PS_EXITING)
            continue;
        uint32_t gen = atomic_load(&p->gen);
        fn(grove__pid_make(i, gen), arg);
        visited++;
    }
    return visited;
}

GROVE_EXPORT int grove_process_info(grove_pid_t pid, grove_process_info_t *out)
{
    if (!out)
        return GROVE_EINVAL;
    grove__proc_t *p;
    int rc = grove__proc_lookup(pid, &p);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    out->pid = pid;
    switch (atomic_load(&p->state)) {
    case PS_RUNNABLE:
        out->status = GROVE_STATUS_RUNNABLE;
        break;
    case PS_RUNNING:
        out->status = GROVE_STATUS_RUNNING;
        break;
    case PS_WAITING:
    case PS_TRIMMING:
        out->status = GROVE_STATUS_WAITING;
        break;
    default:
        return GROVE_ENOPROC;
    }
    out->mailbox_len = atomic_load_explicit(&p->st_mbox, memory_order_relaxed);
    out->links = atomic_load_explicit(&p->st_links, memory_order_relaxed);
    out->monitors = atomic_load_explicit(&p->st_mon_out, memory_order_relaxed);
    out->monitored_by =
        atomic_load_explicit(&p->st_mon_in, memory_order_relaxed);
    out->trap_exit = atomic_load_explicit(&p->st_trap, memory_order_relaxed);
    out->dictionary = atomic_load_explicit(&p->st_dict, memory_order_relaxed);
    out->stack_parked =
        atomic_load_explicit(&p->st_parked, memory_order_relaxed);
    out->stack_used =
        atomic_load_explicit(&p->st_stack_used, memory_order_relaxed);
    out->reductions =
        atomic_load_explicit(&p->st_reductions, memory_order_relaxed);
    out->stack_size =
        atomic_load_explicit(&p->st_stack_size, memory_order_relaxed);
    out->heap_size = grove__heap_size(p);
    out->memory = sizeof(grove__proc_t) + out->stack_used + out->heap_size;
    grove__max_heap_get(p, &out->max_heap);
    out->priority = atomic_load_explicit(&p->prio, memory_order_relaxed);
    grove__names_info(p, out->name, sizeof out->name);
    out->parent.id =
        atomic_load_explicit(&p->parent_atomic, memory_order_relaxed);
    const char *b = atomic_load_explicit(&p->behaviour, memory_order_relaxed);
    snprintf(out->behaviour, sizeof out->behaviour, "%s", b ? b : "");
    if (atomic_load(&p->gen) != grove_pid_generation(pid))
        return GROVE_ENOPROC;
    return 0;
}
