/* Per-process memory and resources: everything here is released when its
 * process exits, whatever the reason, which is what makes a crash in C
 * leak-free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "base/failpoint.h"

/* Block header: list link, size, owner incarnation. 16-byte aligned data. */
typedef struct hdr {
    grove__dlist_t link;
    size_t size;
    uint64_t owner; /* pid.id */
} hdr_t;
_Static_assert(sizeof(hdr_t) % 16 == 0, "arena data stays 16-aligned");

static hdr_t *hdr_of(void *p) { return (hdr_t *)p - 1; }

static void *arena_alloc(grove__proc_t *p, size_t size)
{
    size_t bytes = grove__block16(sizeof(hdr_t), size);
    if (!p || size == 0 || bytes == 0 || !grove__proc_ext(p))
        return NULL;
    hdr_t *h = grove__aligned_alloc(16, bytes);
    if (!h)
        return NULL; /* size is rounded to the alignment, as C11 asks */
    h->size = size;
    h->owner = p->pid.id;
    grove__dlist_push_back(&p->ext->arena, &h->link);
    GROVE__OWN_ADD(p->st_arena, size);
    grove__count(CNT_ARENA, (int64_t)size);
    return h + 1;
}

GROVE_EXPORT void *grove_alloc(size_t size)
{
    grove__proc_t *p = grove__current();
    void *m = arena_alloc(p, size);
    if (m)
        grove__heap_check(p); /* over its limit, it ends here */
    return m;
}

void grove__max_heap_set(grove__proc_t *p, const grove_max_heap_t *mh)
{
    unsigned f = (mh->no_kill ? HEAP_NO_KILL : 0) |
                 (mh->no_report ? HEAP_NO_REPORT : 0);
    atomic_store_explicit(&p->heap_flags, (uint8_t)f, memory_order_relaxed);
    atomic_store_explicit(&p->max_heap, mh->size, memory_order_relaxed);
}

void grove__max_heap_get(const grove__proc_t *p, grove_max_heap_t *out)
{
    unsigned f = atomic_load_explicit(&p->heap_flags, memory_order_relaxed);
    out->size = atomic_load_explicit(&p->max_heap, memory_order_relaxed);
    out->no_kill = f & HEAP_NO_KILL;
    out->no_report = f & HEAP_NO_REPORT;
}

static void heap_report(grove__proc_t *p, size_t heap, size_t max, bool kill)
{
    char pid[GROVE_PID_STR_MAX], name[GROVE_NAME_MAX], h[24], mx[24],
        q[16], text[256];
    grove_pid_format(p->pid, pid, sizeof pid);
    grove__names_info(p, name, sizeof name);
    snprintf(h, sizeof h, "%zu", heap);
    snprintf(mx, sizeof mx, "%zu", max);
    snprintf(q, sizeof q, "%u",
             (unsigned)atomic_load_explicit(&p->st_mbox,
                                            memory_order_relaxed));
    snprintf(text, sizeof text,
             "process %s%s%s reached its maximum heap size: %zu bytes of "
             "%zu allowed, %s messages queued%s", pid, name[0] ? " " : "",
             name, heap, max, q, kill ? "; killed" : "");
    grove_log_field_t f[] = {{"pid", pid},       {"name", name},
                             {"heap_size", h},   {"max_heap_size", mx},
                             {"message_queue_len", q},
                             {"kill", kill ? "true" : "false"}};
    grove_log_event(GROVE_LOG_ERROR, "max_heap_size", p->pid, text, f, 6);
}

bool grove__heap_check_slow(grove__proc_t *p)
{
    size_t max = atomic_load_explicit(&p->max_heap, memory_order_relaxed);
    size_t heap = grove__heap_size(p);
    unsigned f = atomic_load_explicit(&p->heap_flags, memory_order_relaxed);
    if (heap <= max) {
        if (f & HEAP_OVER) /* back under: the next crossing reports anew */
            atomic_store_explicit(&p->heap_flags, (uint8_t)(f & ~HEAP_OVER),
                                  memory_order_relaxed);
        return false;
    }
    if (f & HEAP_OVER)
        return false; /* still over, reported, not killed (no_kill) */
    atomic_store_explicit(&p->heap_flags, (uint8_t)(f | HEAP_OVER),
                          memory_order_relaxed);
    bool kill = !(f & HEAP_NO_KILL);
    if (!(f & HEAP_NO_REPORT)) {
        int saved = grove__tls_get_in_rt();
        RT_ENTER(); /* a fault in a log handler is the runtime's own */
        heap_report(p, heap, max, kill);
        grove__tls_set_in_rt(saved);
    }
    if (!kill)
        return false;
    grove_reason_t killed = grove_reason_of(GROVE_EXIT_KILLED);
    grove__end_process(p, &killed);
    return true;
}

GROVE_EXPORT int grove_max_heap(const grove_max_heap_t *set,
                                grove_max_heap_t *old)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (old)
        grove__max_heap_get(p, old);
    if (set)
        grove__max_heap_set(p, set);
    return 0;
}

GROVE_EXPORT void *grove_calloc(size_t n, size_t size)
{
    /* No object is larger than PTRDIFF_MAX; refused here, the size is
     * visibly bounded for the memset below too. */
    if (size && n > (size_t)PTRDIFF_MAX / size)
        return NULL;
    void *m = grove_alloc(n * size);
    if (m)
        memset(m, 0, n * size);
    return m;
}

static void check_owner(grove__proc_t *p, hdr_t *h)
{
    if (!p || h->owner != p->pid.id)
        grove__panic("grove: grove_free/grove_realloc of a block that the "
                     "calling process does not own");
}

GROVE_EXPORT void grove_free(void *m)
{
    if (!m)
        return;
    grove__proc_t *p = grove__current();
    hdr_t *h = hdr_of(m);
    check_owner(p, h);
    grove__dlist_remove(&h->link);
    GROVE__OWN_ADD(p->st_arena, -(h->size));
    grove__count(CNT_ARENA, -(int64_t)h->size);
    free(h);
}

GROVE_EXPORT void *grove_realloc(void *m, size_t size)
{
    if (!m)
        return grove_alloc(size);
    grove__proc_t *p = grove__current();
    hdr_t *h = hdr_of(m);
    check_owner(p, h);
    if (size == 0)
        return NULL;
    void *n = arena_alloc(p, size);
    if (!n)
        return NULL;
    memcpy(n, m, h->size < size ? h->size : size);
    grove_free(m);
    grove__heap_check(p); /* counted after the old block went */
    return n;
}

/* Links r to p, the calling process: 0, or GROVE_ENOMEM when p's
 * extension cannot be made. */
static int resource_link(grove__proc_t *p, grove_resource_t *r,
                         bool embedded, void (*dtor)(void *ptr), void *ptr)
{
    grove__proc_ext_t *ext = grove__proc_ext(p);
    if (!ext)
        return GROVE_ENOMEM;
    r->dtor = dtor;
    r->ptr = ptr;
    r->owner = p;
    r->embedded = embedded;
    grove__dlist_push_back(&ext->resources, &r->link);
    grove__count(CNT_RES, 1);
    return 0;
}

GROVE_EXPORT int grove_resource_attach(void (*dtor)(void *ptr), void *ptr,
                                       grove_resource_t **out)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (!dtor)
        return GROVE_EINVAL;
    grove_resource_t *r = grove__malloc(sizeof *r);
    if (!r)
        return GROVE_ENOMEM;
    int rc = resource_link(p, r, false, dtor, ptr);
    if (rc < 0) {
        free(r);
        return rc;
    }
    if (out)
        *out = r;
    return 0;
}

int grove__resource_embed(grove_resource_t *r, void (*dtor)(void *),
                          void *ptr)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (!r || !dtor)
        return GROVE_EINVAL;
    return resource_link(p, r, true, dtor, ptr);
}

void grove__resource_unembed(grove_resource_t *r)
{
    grove__dlist_remove(&r->link);
    grove__count(CNT_RES, -1);
}

static void close_fd(void *ptr) { close((int)(intptr_t)ptr); }

GROVE_EXPORT int grove_resource_fd(int fd, grove_resource_t **out)
{
    if (fd < 0)
        return grove__current() ? GROVE_EINVAL : GROVE_ENOTPROC;
    return grove_resource_attach(close_fd, (void *)(intptr_t)fd, out);
}

static int take(grove_resource_t *r, bool run)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if (!r || r->owner != p)
        return GROVE_EINVAL;
    grove__dlist_remove(&r->link);
    grove__count(CNT_RES, -1);
    if (run)
        r->dtor(r->ptr);
    free(r);
    return 0;
}

GROVE_EXPORT int grove_resource_release(grove_resource_t *r)
{
    return take(r, true);
}

GROVE_EXPORT int grove_resource_detach(grove_resource_t *r)
{
    return take(r, false);
}

/* Runs on the scheduler's stack after the process is gone. Resources go
 * in reverse attach order (later ones may depend on earlier ones). */
void grove__mem_release_all(grove__proc_t *p)
{
    grove__proc_ext_t *ext = p->ext;
    if (!ext)
        return;
    while (!grove__dlist_empty(&ext->resources)) {
        grove_resource_t *r =
            GROVE__CONTAINER(ext->resources.prev, grove_resource_t, link);
        grove__dlist_remove(&r->link);
        grove__count(CNT_RES, -1);
        bool embedded = r->embedded; /* r may go with its holder */
        r->dtor(r->ptr);
        if (!embedded)
            free(r);
    }
    size_t total = 0;
    while (!grove__dlist_empty(&ext->arena)) {
        hdr_t *h = GROVE__CONTAINER(ext->arena.next, hdr_t, link);
        grove__dlist_remove(&h->link);
        total += h->size;
        free(h);
    }
    grove__count(CNT_ARENA, -(int64_t)total);
}
