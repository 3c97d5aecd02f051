/* Moving a socket between processes. The socket travels inside an owned
 * message: while it is in transit it belongs to that message, so a
 * receiver that dies before adopting it, or a message that cannot be
 * delivered, closes it. Nothing leaks whichever side fails. */
#include <string.h>

#include "io/io.h"

#define ENVELOPE_MAGIC UINT64_C(0x67726f7665696f68) /* "groveioh" */

typedef struct envelope {
    uint64_t magic;
    struct envelope *self; /* a copy of the bytes is not an envelope */
    grove_io_t handle;
    grove__io_sock_t *sock; /* NULL once adopted */
} envelope_t;

/* Runs when the message is freed, or at once if it was not delivered. */
static void envelope_dtor(void *p)
{
    envelope_t *env = p;
    grove__io_sock_t *s = env->sock;
    if (s) {
        grove__io_slot_t *sl = grove__io_slot(s->slot);
        grove__spin_lock(&sl->lock);
        bool in_transit = sl->gen == (uint32_t)(env->handle.id >> 32) &&
                          sl->sock == s && grove_pid_is_none(sl->owner);
        grove__spin_unlock(&sl->lock);
        if (in_transit)
            grove__io_sock_free(s);
    }
    free(env);
}

GROVE_EXPORT int grove_io_handoff(grove_io_t sock, grove_pid_t to,
                                  uint64_t tag)
{
    grove__io_sock_t *s;
    int rc = grove__io_get(sock, &s);
    if (rc < 0)
        return rc;
    /* A malformed pid is refused before the socket leaves the caller:
     * grove_send_owned would close it. */
    if (!grove__pid_valid(to))
        return GROVE_EINVAL;
    envelope_t *env = grove__malloc(sizeof *env);
    if (!env)
        return GROVE_ENOMEM;
    grove_resource_detach(s->res);
    s->res = NULL;
    grove__io_slot_t *sl = grove__io_slot(s->slot);
    grove__spin_lock(&sl->lock);
    /* The old owner's requests die with its ownership. */
    sl->owner = GROVE_PID_NONE;
    sl->wait_ev = sl->arm_ev = 0;
    grove__spin_unlock(&sl->lock);
    env->magic = ENVELOPE_MAGIC;
    env->self = env;
    env->handle = sock;
    env->sock = s;
    return grove_send_owned(to, tag, env, sizeof *env, envelope_dtor);
}

GROVE_EXPORT int grove_io_adopt(const grove_msg_t *msg, grove_io_t *out)
{
    grove_pid_t self = grove_self();
    if (grove_pid_is_none(self))
        return GROVE_ENOTPROC;
    /* The envelope is the caller's own message data, written only by this
     * layer: dropping const here is how it marks the socket taken. */
    envelope_t *env = (envelope_t *)(uintptr_t)grove_msg_data(msg);
    if (!out || !env || grove_msg_size(msg) != sizeof *env ||
        env->magic != ENVELOPE_MAGIC || env->self != env || !env->sock)
        return GROVE_EINVAL;
    grove__io_sock_t *s = env->sock;
    grove__io_slot_t *sl = grove__io_slot(s->slot);
    grove__spin_lock(&sl->lock);
    bool ok = sl->gen == (uint32_t)(env->handle.id >> 32) && sl->sock == s &&
              grove_pid_is_none(sl->owner);
    if (ok)
        sl->owner = self;
    grove__spin_unlock(&sl->lock);
    if (!ok)
        return GROVE_ECLOSED;
    int rc = grove_resource_attach(grove__io_sock_dtor, s, &s->res);
    if (rc < 0) {
        grove__spin_lock(&sl->lock);
        sl->owner = GROVE_PID_NONE;
        grove__spin_unlock(&sl->lock);
        return rc;
    }
    env->sock = NULL;
    *out = env->handle;
    return 0;
}
