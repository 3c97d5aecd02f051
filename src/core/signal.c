/* Links, monitors and exit signals: the caller's side. Each request
 * updates the caller's own tables and sends a signal that the target
 * applies when it next handles its inbox, in order with everything else
 * the caller sent it. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "base/failpoint.h"

GROVE_EXPORT int grove_trap_exit(bool on)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    int old = p->trap_exit;
    p->trap_exit = on;
    atomic_store_explicit(&p->st_trap, on, memory_order_relaxed);
    return old;
}

GROVE_EXPORT int grove_set_priority(grove_priority_t level)
{
    grove__proc_t *p = grove__current();
    if (!p)
        return GROVE_ENOTPROC;
    if ((unsigned)level > GROVE_PRIO_MAX)
        return GROVE_EINVAL;
    /* Running, it is in no queue: the next queue it joins is its new
     * level's. */
    return atomic_exchange_explicit(&p->prio, (uint8_t)level,
                                    memory_order_relaxed);
}

GROVE_EXPORT int grove_exit_signal(grove_pid_t pid,
                                   const grove_reason_t *reason)
{
    if (!reason || reason->kind < 0 || reason->kind >= GROVE_EXIT__COUNT)
        return GROVE_EINVAL;
    if (!atomic_load(&grove__rt.started))
        return GROVE_ENOTSTARTED;
    int saved = grove__tls_get_in_rt();
    RT_ENTER();
    grove__proc_t *self = grove__current();
    int rc = grove__send_signal(pid, SIG_EXIT, grove_self(), GROVE_REF_NONE,
                                reason, 0);
    /* A signal to oneself takes effect before the call returns. */
    if (rc == 0 && self && self->pid.id == pid.id)
        grove__drain(self);
    grove__tls_set_in_rt(saved);
    return rc;
}

int grove__links_reserve(size_t n)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    return grove__map_reserve(&self->links, self->links.len + n);
}

GROVE_EXPORT int grove_link(grove_pid_t pid)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (pid.id == 0)
        return GROVE_EINVAL;
    if (pid.id == self->pid.id)
        return 0;
    RT_ENTER();
    grove__proc_t *t;
    int rc = grove__proc_lookup(pid, &t);
    if (rc == GROVE_EINVAL)
        goto out;
    if (rc == GROVE_ENOPROC) {
        if (self->trap_exit) {
            /* A trapping caller hears of it as an EXIT message. */
            grove_reason_t noproc = grove_reason_of(GROVE_EXIT_NOPROC);
            if (grove__map_put(&self->links, pid.id, 1) == 1)
                GROVE__OWN_ADD(self->st_links, 1);
            grove__send_signal(self->pid, SIG_EXIT, pid, GROVE_REF_NONE,
                               &noproc, MSGF_VIA_LINK);
            rc = 0;
        }
        goto out;
    }
    rc = grove__map_put(&self->links, pid.id, 1);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        GROVE__OWN_ADD(self->st_links, 1);
        /* If the target dies before it sees this, the dead-letter path
         * answers with an exit signal noproc through the link. */
        grove__send_signal(pid, SIG_LINK, self->pid, GROVE_REF_NONE, NULL, 0);
    }
    rc = 0;
out:
    RT_LEAVE();
    return rc;
}

/* Drops the caller's side of a link to pid; whether there was one. */
static bool unlink_local(grove__proc_t *self, grove_pid_t pid)
{
    if (!grove__map_del(&self->links, pid.id, NULL))
        return false;
    GROVE__OWN_ADD(self->st_links, -(1));
    return true;
}

GROVE_EXPORT int grove_unlink(grove_pid_t pid)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (pid.id == 0)
        return GROVE_EINVAL;
    RT_ENTER();
    if (unlink_local(self, pid))
        grove__send_signal(pid, SIG_UNLINK, self->pid, GROVE_REF_NONE, NULL,
                           0);
    RT_LEAVE();
    return 0;
}

/* The caller's side of a monitor on pid: its table entries under *ref
 * (made here when ref->id is 0), with bits (GROVE__MON_ALIAS or 0).
 * Sends nothing. 0 or GROVE_ENOMEM. */
static int monitor_record(grove__proc_t *self, grove_pid_t pid,
                          const char *name, grove_ref_t *ref, uint64_t bits)
{
    uint64_t r = ref->id ? ref->id : grove__ref_new();
    int rc = grove__map_put(&self->mon_out, r, pid.id | bits);
    if (rc < 0)
        return rc;
    if (name) {
        grove__proc_ext_t *ext = grove__proc_ext(self);
        char *copy = ext ? grove__strdup(name) : NULL;
        if (!copy || grove__map_put(&ext->mon_names, r,
                                    (uint64_t)(uintptr_t)copy) < 0) {
            free(copy);
            grove__map_del(&self->mon_out, r, NULL);
            return GROVE_ENOMEM;
        }
    }
    GROVE__OWN_ADD(self->st_mon_out, 1);
    ref->id = r;
    return 0;
}

static int monitor_common(grove__proc_t *self, grove_pid_t pid,
                          const char *name, grove_ref_t *ref, uint64_t bits)
{
    int rc = monitor_record(self, pid, name, ref, bits);
    if (rc < 0)
        return rc;
    if (pid.id == 0) {
        grove_reason_t noproc = grove_reason_of(GROVE_EXIT_NOPROC);
        grove__send_signal(self->pid, SIG_DOWN, pid, *ref, &noproc, 0);
        return 0;
    }
    /* A dead target answers DOWN noproc through the dead-letter path. */
    grove__send_signal(pid, SIG_MONITOR, self->pid, *ref, NULL, 0);
    return 0;
}

int grove__shutdown_signal(grove_pid_t pid, const grove_reason_t *reason,
                           grove_ref_t *mref)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (!reason || !mref || pid.id == 0 || pid.id == self->pid.id)
        return GROVE_EINVAL;
    RT_ENTER();
    mref->id = 0;
    int rc = monitor_record(self, pid, NULL, mref, 0);
    if (rc == 0) {
        unlink_local(self, pid);
        /* A dead target answers DOWN noproc through the dead-letter path. */
        grove__send_signal(pid, SIG_SHUTDOWN, self->pid, *mref, reason, 0);
    }
    RT_LEAVE();
    return rc;
}

void grove__prefetch_peer(grove_pid_t pid)
{
    uint32_t slot = grove_pid_slot(pid);
    if (slot < grove__proc_slots_used()) {
        grove__proc_t *p = grove__proc_slot(slot);
        if (p) {
            __builtin_prefetch(&p->inbox);
            __builtin_prefetch(&p->rq_next);
        }
    }
    grove__proc_t *self = grove__current();
    if (self)
        grove__map_prefetch(&self->links, pid.id);
}

int grove__monitor_with_ref(grove_pid_t pid, grove_ref_t ref)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    RT_ENTER();
    int rc = monitor_common(self, pid, NULL, &ref, GROVE__MON_ALIAS);
    RT_LEAVE();
    return rc;
}

GROVE_EXPORT int grove_monitor(grove_pid_t pid, grove_ref_t *ref)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (!ref || !grove__pid_valid(pid))
        return GROVE_EINVAL;
    ref->id = 0;
    RT_ENTER();
    int rc = monitor_common(self, pid, NULL, ref, 0);
    RT_LEAVE();
    return rc;
}

GROVE_EXPORT int grove_monitor_name(const char *name, grove_ref_t *ref)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (!ref || !grove__name_valid(name))
        return GROVE_EINVAL;
    grove_pid_t pid = GROVE_PID_NONE;
    grove_whereis(name, &pid);
    ref->id = 0;
    RT_ENTER();
    int rc = monitor_common(self, pid, name, ref, 0);
    RT_LEAVE();
    return rc;
}

/* Removes a queued DOWN for ref; starts from the mark when ref is the
 * last reference the process made, since nothing before it can carry
 * it. */
static void flush_down(grove__proc_t *p, uint64_t ref)
{
    grove__dlist_t *it = ref == p->mark_ref ? p->mark->next : p->mbox.next;
    while (it != &p->mbox) {
        grove_msg_t *m = GROVE__CONTAINER(it, grove_msg_t, link);
        it = it->next;
        if (m->kind == GROVE_MSG_DOWN && m->ref.id == ref) {
            grove__mbox_remove(p, m);
            grove__msg_destroy(m);
        }
    }
}

/* On every call's path (the caller's end of it): aligned so that its
 * flush loop's placement does not move with unrelated edits to this file
 * (a 2-3% swing of the call benchmark was measured from that alone). */
__attribute__((aligned(64))) void grove__demonitor_replied(grove_ref_t ref)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return;
    RT_ENTER();
    if (grove__map_del(&self->mon_out, ref.id, NULL))
        GROVE__OWN_ADD(self->st_mon_out, -(1));
    /* The server may have died right after replying: a DOWN drained
     * before this goes; one drained later finds no monitor and is
     * dropped. */
    flush_down(self, ref.id);
    RT_LEAVE();
}

/* Removes p's side of its monitor ref, tells the target, and deactivates
 * an alias tied to the monitor. Returns whether the monitor was there. */
static bool monitor_drop(grove__proc_t *p, uint64_t ref)
{
    uint64_t v, name;
    if (!grove__map_del(&p->mon_out, ref, &v))
        return false;
    GROVE__OWN_ADD(p->st_mon_out, -(1));
    if (p->ext && grove__map_del(&p->ext->mon_names, ref, &name))
        free((void *)(uintptr_t)name);
    grove_pid_t target = grove__mon_target(v);
    if (target.id)
        grove__send_signal(target, SIG_DEMONITOR, p->pid, (grove_ref_t){ref},
                           NULL, 0);
    grove__alias_monitor_gone(p, ref);
    return true;
}

GROVE_EXPORT int grove_demonitor(grove_ref_t ref, unsigned flags)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (ref.id == 0 || (flags & ~(GROVE_DEMONITOR_FLUSH | GROVE_DEMONITOR_INFO)))
        return GROVE_EINVAL;
    RT_ENTER();
    /* Handle what has arrived, so "already fired" is decided on every DOWN
     * the target sent before this call. */
    grove__drain(self);
    int removed = monitor_drop(self, ref.id);
    /* A DOWN is queued only as its monitor is removed, so while the
     * monitor was still there none can be queued: flushing is needed only
     * when it had fired, and then only past the mark of the reference. */
    if ((flags & GROVE_DEMONITOR_FLUSH) && !removed)
        flush_down(self, ref.id);
    RT_LEAVE();
    return (flags & GROVE_DEMONITOR_INFO) ? removed : 0;
}

/* ---- aliases ------------------------------------------------------------------ */


void grove__alias_monitor_gone(grove__proc_t *p, uint64_t ref)
{
    uint64_t v;
    if (grove__map_get(&p->aliases, ref, &v) &&
        v == GROVE__ALIAS_VAL(GROVE_ALIAS_REPLY_DEMONITOR))
        grove__map_del(&p->aliases, ref, NULL);
}

void grove__alias_used(grove__proc_t *p, uint64_t ref, uint64_t v)
{
    if (v == GROVE__ALIAS_VAL(GROVE_ALIAS_REPLY)) {
        grove__map_del(&p->aliases, ref, NULL);
    } else if (v == GROVE__ALIAS_VAL(GROVE_ALIAS_REPLY_DEMONITOR)) {
        grove__map_del(&p->aliases, ref, NULL);
        monitor_drop(p, ref);
    }
}

/* Makes a new alias of self in mode; with monitor, also monitors that
 * process under the alias's reference. An alias that ends with its
 * monitor (GROVE_ALIAS_DEMONITOR) is the monitor's entry alone
 * (GROVE__MON_ALIAS), as a call's is. */
static int alias_new(grove__proc_t *self, grove_alias_mode_t mode,
                     const grove_pid_t *monitor, grove_alias_t *alias)
{
    grove_ref_t ref = grove_make_ref();
    bool tied = monitor && mode == GROVE_ALIAS_DEMONITOR;
    RT_ENTER();
    int rc = tied ? 0
                  : grove__map_put(&self->aliases, ref.id,
                                   GROVE__ALIAS_VAL(mode));
    if (rc >= 0 && monitor) {
        rc = monitor_common(self, *monitor, NULL, &ref,
                            tied ? GROVE__MON_ALIAS : 0);
        if (rc < 0 && !tied)
            grove__map_del(&self->aliases, ref.id, NULL);
    }
    RT_LEAVE();
    if (rc < 0)
        return GROVE_ENOMEM;
    alias->pid = self->pid;
    alias->ref = ref;
    return 0;
}

GROVE_EXPORT int grove_alias(grove_alias_mode_t mode, grove_alias_t *alias)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (!alias || (mode != GROVE_ALIAS_EXPLICIT_UNALIAS &&
                   mode != GROVE_ALIAS_REPLY))
        return GROVE_EINVAL;
    return alias_new(self, mode, NULL, alias);
}

GROVE_EXPORT int grove_unalias(grove_alias_t alias)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (alias.pid.id != self->pid.id || alias.ref.id == 0)
        return 0;
    RT_ENTER();
    /* What was sent before this call is kept: handle it first. */
    grove__drain(self);
    bool was = grove__map_del(&self->aliases, alias.ref.id, NULL);
    uint64_t v;
    if (!was && grove__map_get(&self->mon_out, alias.ref.id, &v) &&
        (v & GROVE__MON_ALIAS)) {
        /* An alias tied to its monitor: the monitor stays. */
        grove__map_put(&self->mon_out, alias.ref.id, v & ~GROVE__MON_ALIAS);
        was = true;
    }
    RT_LEAVE();
    return was ? 1 : 0;
}

GROVE_EXPORT int grove_monitor_alias(grove_pid_t pid, grove_alias_mode_t mode,
                                     grove_alias_t *alias)
{
    grove__proc_t *self = grove__current();
    if (!self)
        return GROVE_ENOTPROC;
    if (!alias || !grove__pid_valid(pid) ||
        (mode != GROVE_ALIAS_EXPLICIT_UNALIAS &&
         mode != GROVE_ALIAS_DEMONITOR && mode != GROVE_ALIAS_REPLY_DEMONITOR))
        return GROVE_EINVAL;
    return alias_new(self, mode, &pid, alias);
}
