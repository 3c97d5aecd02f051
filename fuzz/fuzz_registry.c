/* Fuzz target: Registry keys of any bytes.
 *
 * The runtime and two registries (unique and duplicate, both telling a
 * listener of explicit register/unregister) are made once. Each input is
 * a program run by one process: register, unregister, lookup, whereis,
 * match, dispatch, update_value, keys and select with keys of arbitrary
 * bytes (empty, embedded NULs, up to 1 KiB, and NULL with length 0),
 * helper processes that hold keys and then exit, gen_servers named
 * through the via interface with such keys, short-lived registries made
 * from arbitrary options (freed while their entries' owner is alive), and
 * metadata under arbitrary names. A model of who holds what predicts
 * every result and every listener message, including the key bytes they
 * carry. After the process exits, both registries must be empty.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_ENTRIES 256
#define LISTENER "fuzz_registry_listener"
#define TAG_ACK 77

static grove_registry_t *regs[2]; /* unique, duplicate */

typedef struct entry {
    int reg;
    unsigned char *key;
    size_t len;
    uint64_t value;
    grove_pid_t pid;
} entry_t;

typedef struct prog {
    fz_t in;
    grove_pid_t self;
    entry_t e[MAX_ENTRIES];
    size_t n;
    grove_pid_t helper;
    grove_ref_t helper_mon;
} prog_t;

/* ---- the model ------------------------------------------------------------------ */

static bool same_key(const entry_t *e, int reg, const void *key, size_t len)
{
    return e->reg == reg && e->len == len &&
           (len == 0 || memcmp(e->key, key, len) == 0);
}

static size_t model_count(const prog_t *p, int reg, const void *key,
                          size_t len, grove_pid_t *holder)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (same_key(&p->e[i], reg, key, len)) {
            if (holder && !k)
                *holder = p->e[i].pid;
            k++;
        }
    return k;
}

static void model_add(prog_t *p, int reg, const void *key, size_t len,
                      uint64_t value, grove_pid_t pid)
{
    FZ_CHECK(p->n < MAX_ENTRIES, "model full");
    entry_t *e = &p->e[p->n++];
    e->reg = reg;
    e->key = malloc(len ? len : 1);
    if (len)
        memcpy(e->key, key, len);
    e->len = len;
    e->value = value;
    e->pid = pid;
}

static void model_del(prog_t *p, size_t i)
{
    free(p->e[i].key);
    p->e[i] = p->e[--p->n];
}

/* Removes pid's entries under key (every key when key is NULL and len is
 * SIZE_MAX); returns how many. */
static size_t model_remove(prog_t *p, int reg, const void *key, size_t len,
                           grove_pid_t pid)
{
    size_t k = 0;
    for (size_t i = p->n; i-- > 0;)
        if (p->e[i].pid.id == pid.id &&
            (len == SIZE_MAX ? p->e[i].reg == reg
                             : same_key(&p->e[i], reg, key, len))) {
            model_del(p, i);
            k++;
        }
    return k;
}

/* ---- keys -------------------------------------------------------------------------- */

typedef struct key {
    unsigned char *buf; /* owned */
    const void *ptr;    /* what is passed: buf, or NULL for length 0 */
    size_t len;
} fkey_t;

static fkey_t pick_key(prog_t *p)
{
    fkey_t k = {0};
    uint8_t m = fz_u8(&p->in);
    if (m < 0x20 && p->n) { /* a key already held */
        entry_t *e = &p->e[m % p->n];
        k.len = e->len;
        k.buf = malloc(k.len ? k.len : 1);
        if (k.len)
            memcpy(k.buf, e->key, k.len);
    } else {
        size_t max = (m & 0xc0) == 0xc0 ? 1024 : 24;
        k.buf = (unsigned char *)fz_str(&p->in, max, &k.len);
    }
    k.ptr = k.buf;
    if (k.len == 0 && (m & 1) && !fz_known("registry_null_key"))
        k.ptr = NULL; /* NULL with length 0 is a valid key: the empty one */
    return k;
}

static void free_key(fkey_t *k) { free(k->buf); }

/* ---- listener messages ------------------------------------------------------------- */

/* The next listener message of this kind must describe exactly this. */
static void expect_event(uint64_t tag, grove_pid_t pid, uint64_t value,
                         const void *key, size_t len)
{
    grove_msg_t *m;
    int rc = grove_recv_tag(&m, tag, 0);
    FZ_CHECK(rc == 0, "no listener message %#llx: %s",
             (unsigned long long)tag, grove_errname(rc));
    grove_reg_event_t ev;
    FZ_CHECK(grove_msg_size(m) == sizeof ev + len,
             "listener message of %zu bytes for a %zu-byte key",
             grove_msg_size(m), len);
    const unsigned char *d = grove_msg_data(m);
    memcpy(&ev, d, sizeof ev);
    FZ_CHECK(ev.pid.id == pid.id && ev.value == value && ev.key_len == len,
             "listener event: pid %#llx value %llu len %zu",
             (unsigned long long)ev.pid.id, (unsigned long long)ev.value,
             ev.key_len);
    FZ_CHECK(len == 0 || memcmp(d + sizeof ev, key, len) == 0,
             "listener event key bytes differ");
    grove_msg_free(m);
}

static void expect_no_event(void)
{
    grove_msg_t *m;
    FZ_CHECK(grove_recv_tag(&m, GROVE_REG_LISTEN_REGISTER, 0) ==
                     GROVE_ETIMEDOUT &&
                 grove_recv_tag(&m, GROVE_REG_LISTEN_UNREGISTER, 0) ==
                     GROVE_ETIMEDOUT,
             "an unexpected listener message");
}

/* ---- checks against the model ----------------------------------------------------------- */

static void check_lookup(prog_t *p, int reg, const void *key, size_t len,
                         size_t max)
{
    grove_reg_entry_t out[8];
    size_t n = 99;
    int rc = grove_registry_lookup(regs[reg], key, len, max ? out : NULL,
                                   max, &n);
    FZ_CHECK(rc == 0, "lookup: %s", grove_errname(rc));
    size_t want = model_count(p, reg, key, len, NULL);
    FZ_CHECK(n == want, "lookup of a %zu-byte key: %zu entries, expected %zu",
             len, n, want);
    FZ_CHECK(reg == 1 || n <= 1, "%zu entries in a unique registry", n);
    for (size_t i = 0; i < n && i < max; i++) {
        bool found = false;
        for (size_t j = 0; j < p->n && !found; j++)
            found = same_key(&p->e[j], reg, key, len) &&
                    p->e[j].pid.id == out[i].pid.id &&
                    p->e[j].value == out[i].value;
        FZ_CHECK(found, "lookup returned pid %#llx value %llu, not held",
                 (unsigned long long)out[i].pid.id,
                 (unsigned long long)out[i].value);
    }
}

typedef struct keys_ctx {
    prog_t *p;
    int reg;
    size_t n;
} keys_ctx_t;

static void on_key(const void *key, size_t len, void *arg)
{
    keys_ctx_t *c = arg;
    c->n++;
    grove_pid_t h = GROVE_PID_NONE;
    FZ_CHECK(model_count(c->p, c->reg, key, len, &h) > 0,
             "keys() listed a %zu-byte key nobody holds", len);
}

static bool on_select_pred(const void *key, size_t len, grove_pid_t pid,
                           uint64_t value, void *arg)
{
    (void)key;
    (void)pid;
    (void)arg;
    return len % 2 == 0 || value % 2 == 0;
}

static void on_select(const void *key, size_t len, grove_pid_t pid,
                      uint64_t value, void *arg)
{
    keys_ctx_t *c = arg;
    c->n++;
    bool found = false;
    for (size_t j = 0; j < c->p->n && !found; j++)
        found = same_key(&c->p->e[j], c->reg, key, len) &&
                c->p->e[j].pid.id == pid.id && c->p->e[j].value == value;
    FZ_CHECK(found, "select visited an entry nobody holds");
}

static bool value_odd(uint64_t value, void *arg)
{
    (void)arg;
    return value & 1;
}

static void on_dispatch(const grove_reg_entry_t *e, size_t n, void *arg)
{
    size_t *calls = arg;
    (*calls)++;
    FZ_CHECK(n > 0 && e, "dispatch with no entries");
}

/* ---- helpers holding keys ------------------------------------------------------------------ */

typedef struct helper {
    grove_pid_t parent;
    size_t n;
    int reg[8];
    fkey_t keys[8];
    uint64_t value[8];
    int rc[8];
    grove_pid_t holder[8];
} helper_t;

static void helper_entry(void *arg)
{
    helper_t *h = arg;
    for (size_t i = 0; i < h->n; i++)
        h->rc[i] = grove_registry_register(regs[h->reg[i]], h->keys[i].ptr,
                                           h->keys[i].len, h->value[i],
                                           &h->holder[i]);
    grove_send(h->parent, TAG_ACK, NULL, 0);
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

static bool from_pid(const grove_msg_t *m, void *arg)
{
    return grove_msg_from(m).id == *(const uint64_t *)arg;
}

static void stop_helper(prog_t *p)
{
    if (!p->helper.id)
        return;
    grove_send(p->helper, 1, NULL, 0);
    grove_msg_t *m;
    int rc = grove_recv_ref(&m, p->helper_mon, GROVE_INFINITY);
    FZ_CHECK(rc == 0 && grove_msg_kind(m) == GROVE_MSG_DOWN, "helper DOWN");
    grove_msg_free(m);
    /* Its entries went before its monitors heard. */
    for (int reg = 0; reg < 2; reg++)
        model_remove(p, reg, NULL, SIZE_MAX, p->helper);
    for (size_t i = 0; i < p->n; i++)
        check_lookup(p, p->e[i].reg, p->e[i].key, p->e[i].len, 8);
    p->helper = GROVE_PID_NONE;
}

static void op_helper(prog_t *p)
{
    stop_helper(p);
    helper_t *h = calloc(1, sizeof *h);
    h->parent = p->self;
    h->n = fz_range(&p->in, 0, 8);
    for (size_t i = 0; i < h->n; i++) {
        h->reg[i] = fz_u8(&p->in) & 1;
        h->keys[i] = pick_key(p);
        h->value[i] = fz_u64(&p->in);
    }
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &p->helper_mon};
    int rc = grove_spawn(helper_entry, h, &o, &p->helper);
    FZ_CHECK(rc == 0, "spawn: %s", grove_errname(rc));
    grove_msg_t *m;
    rc = grove_recv_tag(&m, TAG_ACK, GROVE_INFINITY);
    FZ_CHECK(rc == 0, "helper ack: %s", grove_errname(rc));
    grove_msg_free(m);
    size_t events = 0;
    for (size_t i = 0; i < h->n; i++) {
        int reg = h->reg[i];
        grove_pid_t holder = GROVE_PID_NONE;
        size_t held =
            model_count(p, reg, h->keys[i].ptr, h->keys[i].len, &holder);
        int want = reg == 0 && held ? GROVE_EEXIST : 0;
        FZ_CHECK(h->rc[i] == want, "helper register: %s, expected %s",
                 grove_errname(h->rc[i]), grove_errname(want));
        if (want == GROVE_EEXIST)
            FZ_CHECK(h->holder[i].id == holder.id, "helper told holder %#llx",
                     (unsigned long long)h->holder[i].id);
        if (h->rc[i] == 0) {
            model_add(p, reg, h->keys[i].ptr, h->keys[i].len, h->value[i],
                      p->helper);
            events++;
        }
        free_key(&h->keys[i]);
    }
    uint64_t hid = p->helper.id;
    int n = grove_flush(from_pid, &hid);
    FZ_CHECK(n >= 0 && (size_t)n == events,
             "%d listener messages from the helper, expected %zu", n, events);
    free(h);
    if (fz_bool(&p->in))
        stop_helper(p);
}

/* ---- operations ------------------------------------------------------------------------------- */

static void op_register(prog_t *p)
{
    int reg = fz_u8(&p->in) & 1;
    fkey_t k = pick_key(p);
    uint64_t value = fz_u64(&p->in);
    grove_pid_t holder = GROVE_PID_NONE, want_holder = GROVE_PID_NONE;
    size_t held = model_count(p, reg, k.ptr, k.len, &want_holder);
    int rc = grove_registry_register(regs[reg], k.ptr, k.len, value, &holder);
    int want = reg == 0 && held ? GROVE_EEXIST : 0;
    if (p->n >= MAX_ENTRIES && want == 0) {
        /* The model is full: take it back out again. */
        FZ_CHECK(rc == 0, "register: %s", grove_errname(rc));
        grove_registry_unregister(regs[reg], k.ptr, k.len);
        model_remove(p, reg, k.ptr, k.len, p->self);
        expect_event(GROVE_REG_LISTEN_REGISTER, p->self, value, k.ptr, k.len);
        expect_event(GROVE_REG_LISTEN_UNREGISTER, p->self, 0, k.ptr, k.len);
        free_key(&k);
        return;
    }
    FZ_CHECK(rc == want, "register of a %zu-byte key in %s: %s, expected %s",
             k.len, reg ? "duplicate" : "unique", grove_errname(rc),
             grove_errname(want));
    if (rc == GROVE_EEXIST) {
        FZ_CHECK(holder.id == want_holder.id, "holder %#llx, expected %#llx",
                 (unsigned long long)holder.id,
                 (unsigned long long)want_holder.id);
        expect_no_event();
    } else {
        model_add(p, reg, k.ptr, k.len, value, p->self);
        expect_event(GROVE_REG_LISTEN_REGISTER, p->self, value, k.ptr, k.len);
    }
    free_key(&k);
}

static void op_unregister(prog_t *p)
{
    int reg = fz_u8(&p->in) & 1;
    fkey_t k = pick_key(p);
    size_t removed = model_remove(p, reg, k.ptr, k.len, p->self);
    int rc = grove_registry_unregister(regs[reg], k.ptr, k.len);
    FZ_CHECK(rc == 0, "unregister: %s", grove_errname(rc));
    if (removed)
        expect_event(GROVE_REG_LISTEN_UNREGISTER, p->self, 0, k.ptr, k.len);
    else
        expect_no_event();
    check_lookup(p, reg, k.ptr, k.len, 8);
    free_key(&k);
}

static void op_read(prog_t *p)
{
    int reg = fz_u8(&p->in) & 1;
    fkey_t k = pick_key(p);
    grove_pid_t holder = GROVE_PID_NONE;
    size_t want = model_count(p, reg, k.ptr, k.len, &holder);
    switch (fz_u8(&p->in) % 6) {
    case 0:
        check_lookup(p, reg, k.ptr, k.len, fz_u8(&p->in) % 9);
        break;
    case 1: {
        grove_pid_t pid = GROVE_PID_NONE;
        int rc = grove_registry_whereis(regs[reg], k.ptr, k.len, &pid);
        FZ_CHECK(rc == (want ? 0 : GROVE_ENOTFOUND), "whereis: %s",
                 grove_errname(rc));
        if (rc == 0 && reg == 0)
            FZ_CHECK(pid.id == holder.id, "whereis gave another pid");
        break;
    }
    case 2: {
        size_t odd = 0;
        for (size_t i = 0; i < p->n; i++)
            odd += same_key(&p->e[i], reg, k.ptr, k.len) &&
                   (p->e[i].value & 1);
        grove_reg_entry_t out[4];
        int n = grove_registry_match(regs[reg], k.ptr, k.len, value_odd,
                                     NULL, out, 4);
        FZ_CHECK(n >= 0 && (size_t)n == odd, "match: %d, expected %zu", n,
                 odd);
        n = grove_registry_match(regs[reg], k.ptr, k.len, NULL, NULL, NULL,
                                 0);
        FZ_CHECK(n >= 0 && (size_t)n == want, "match all: %d, expected %zu",
                 n, want);
        break;
    }
    case 3: {
        size_t calls = 0;
        int rc = grove_registry_dispatch(regs[reg], k.ptr, k.len,
                                         on_dispatch, &calls);
        FZ_CHECK(rc == 0 && calls == (want ? 1u : 0u),
                 "dispatch: %s, %zu calls for %zu entries", grove_errname(rc),
                 calls, want);
        break;
    }
    case 4: {
        uint64_t old = 0, value = fz_u64(&p->in);
        int rc = grove_registry_update_value(regs[reg], k.ptr, k.len, value,
                                             &old);
        if (reg == 1) {
            FZ_CHECK(rc == GROVE_ENOTSUP, "update_value on duplicate: %s",
                     grove_errname(rc));
            break;
        }
        bool mine = want && holder.id == p->self.id;
        FZ_CHECK(rc == (mine ? 0 : GROVE_ENOTFOUND), "update_value: %s",
                 grove_errname(rc));
        if (rc == 0)
            for (size_t i = 0; i < p->n; i++)
                if (same_key(&p->e[i], reg, k.ptr, k.len)) {
                    FZ_CHECK(old == p->e[i].value, "old value %llu",
                             (unsigned long long)old);
                    p->e[i].value = value;
                }
        break;
    }
    default: {
        keys_ctx_t c = {p, reg, 0};
        int n = grove_registry_keys(regs[reg], p->self, on_key, &c);
        size_t mine = 0, all = 0;
        for (size_t i = 0; i < p->n; i++)
            if (p->e[i].reg == reg) {
                all++;
                mine += p->e[i].pid.id == p->self.id;
            }
        FZ_CHECK(n >= 0 && (size_t)n == mine && c.n == mine,
                 "keys: %d, expected %zu", n, mine);
        FZ_CHECK(grove_registry_count(regs[reg]) == all, "count %zu of %zu",
                 grove_registry_count(regs[reg]), all);
        c.n = 0;
        n = grove_registry_select(regs[reg], fz_bool(&p->in) ? on_select_pred
                                                             : NULL,
                                  on_select, &c);
        FZ_CHECK(n >= 0 && (size_t)n == c.n && c.n <= all,
                 "select: %d, %zu visited", n, c.n);
        break;
    }
    }
    free_key(&k);
}

static void op_meta(prog_t *p)
{
    int reg = fz_u8(&p->in) & 1;
    size_t klen, vlen;
    char *key = fz_str(&p->in, 40, &klen);
    char *val = fz_str(&p->in, 200, &vlen);
    int rc = grove_registry_put_meta(regs[reg], key, val, vlen);
    FZ_CHECK(rc == 0, "put_meta: %s", grove_errname(rc));
    char out[256];
    size_t cap = fz_range(&p->in, 0, sizeof out);
    /* NULL with capacity 0 asks for the length only. */
    rc = grove_registry_meta(regs[reg], key, cap ? out : NULL, cap);
    FZ_CHECK(rc >= 0 && (size_t)rc == vlen, "meta: %d, expected %zu", rc,
             vlen);
    size_t k = vlen < cap ? vlen : cap;
    FZ_CHECK(k == 0 || memcmp(out, val, k) == 0, "meta bytes differ");
    if (fz_bool(&p->in)) {
        FZ_CHECK(grove_registry_delete_meta(regs[reg], key) == 0, "delete");
        FZ_CHECK(grove_registry_meta(regs[reg], key, NULL, 0) ==
                     GROVE_ENOTFOUND,
                 "meta after delete");
    }
    free(key);
    free(val);
}

/* A registry made from arbitrary options; keys registered in it; freed
 * while its owner (this process) is alive. */
static void op_temp_registry(prog_t *p)
{
    grove_registry_opts_t o = {0};
    uint8_t m = fz_u8(&p->in);
    o.keys = (m & 1) ? (int)fz_u32(&p->in) : (m >> 1) % 2;
    /* Up to 8 partitions, or too many (thousands of valid ones cost
     * milliseconds of table set-up each). */
    o.partitions = (m & 0x34) == 0x34 ? 4097 + fz_u32(&p->in) % 0x7fffffff
                                      : fz_u8(&p->in) % 9;
    char *name = NULL;
    if (m & 8) {
        name = fz_str(&p->in, 40, NULL);
        o.name = name;
    }
    grove_registry_t *r = NULL;
    int rc = grove_registry_new(&o, &r);
    bool valid = o.keys >= 0 && o.keys <= 1 && o.partitions <= 4096;
    if (!valid) {
        FZ_CHECK(rc == GROVE_EINVAL, "registry_new of bad options: %s",
                 grove_errname(rc));
        free(name);
        return;
    }
    bool taken = name && strcmp(name, "fuzz_unique") == 0;
    FZ_CHECK(rc == (taken ? GROVE_EEXIST : 0), "registry_new: %s",
             grove_errname(rc));
    if (rc == 0) {
        if (name) {
            grove_registry_t *found = NULL;
            FZ_CHECK(grove_registry_find(name, &found) == 0 && found == r,
                     "registry_find");
        }
        size_t nk = fz_range(&p->in, 0, 6);
        for (size_t i = 0; i < nk; i++) {
            fkey_t k = pick_key(p);
            rc = grove_registry_register(r, k.ptr, k.len, i, NULL);
            FZ_CHECK(rc == 0 || rc == GROVE_EEXIST, "register: %s",
                     grove_errname(rc));
            size_t n = 0;
            FZ_CHECK(grove_registry_lookup(r, k.ptr, k.len, NULL, 0, &n) ==
                             0 &&
                         n >= 1,
                     "lookup in a new registry");
            if (fz_bool(&p->in))
                grove_registry_unregister(r, k.ptr, k.len);
            free_key(&k);
        }
        FZ_CHECK(grove_registry_free(r) == 0, "registry_free");
        if (name)
            FZ_CHECK(grove_registry_find(name, &r) == GROVE_ENOTFOUND,
                     "a freed registry is still found");
    }
    free(name);
}

static const grove_gs_callbacks_t plain_server = {.name = "fuzz_via"};

/* A gen_server named with a key of any bytes through the unique
 * registry's via interface. */
static void op_via(prog_t *p)
{
    FZ_CHECK(grove_registry_via(regs[1]) == NULL, "via of a duplicate");
    const grove_via_t *via = grove_registry_via(regs[0]);
    FZ_CHECK(via, "no via");
    fkey_t k = pick_key(p);
    grove_pid_t want_holder = GROVE_PID_NONE;
    size_t held = model_count(p, 0, k.ptr, k.len, &want_holder);
    grove_gs_opts_t o = {.via = via, .via_key = k.ptr, .via_key_len = k.len};
    grove_pid_t pid = GROVE_PID_NONE;
    grove_reason_t why;
    int rc = grove_gs_start(&plain_server, NULL, &o, &pid, &why);
    if (held) {
        FZ_CHECK(rc == GROVE_EALREADYSTARTED && pid.id == want_holder.id,
                 "a via name already held: %s, pid %#llx", grove_errname(rc),
                 (unsigned long long)pid.id);
        free_key(&k);
        return;
    }
    FZ_CHECK(rc == 0, "gs_start via a %zu-byte key: %s", k.len,
             grove_errname(rc));
    grove_pid_t found = GROVE_PID_NONE;
    rc = grove_server_whereis(grove_server_via(via, k.ptr, k.len), &found);
    FZ_CHECK(rc == 0 && found.id == pid.id, "whereis via: %s",
             grove_errname(rc));
    rc = grove_gs_stop(grove_server_via(via, k.ptr, k.len), NULL,
                       GROVE_INFINITY, NULL);
    FZ_CHECK(rc == 0, "gs_stop via: %s", grove_errname(rc));
    /* The server's own register (and maybe unregister) reached the
     * listener. */
    uint64_t sid = pid.id;
    int n_events = grove_flush(from_pid, &sid);
    FZ_CHECK(n_events >= 1 && n_events <= 2,
             "%d listener messages from a via-named server", n_events);
    size_t n = 9;
    grove_registry_lookup(regs[0], k.ptr, k.len, NULL, 0, &n);
    FZ_CHECK(n == 0, "a stopped server's via name is still held");
    free_key(&k);
}

static void fuzz_proc(void *arg)
{
    prog_t *p = arg;
    p->self = grove_self();
    int rc = grove_register(LISTENER, p->self);
    FZ_CHECK(rc == 0, "register listener: %s", grove_errname(rc));
    for (int steps = 0; steps < 300 && !fz_empty(&p->in); steps++) {
        switch (fz_u8(&p->in) % 12) {
        case 0:
        case 1:
        case 2:
            op_register(p);
            break;
        case 3:
            op_unregister(p);
            break;
        case 4:
        case 5:
        case 6:
            op_read(p);
            break;
        case 7:
            op_helper(p);
            break;
        case 8:
            op_meta(p);
            break;
        case 9:
            op_temp_registry(p);
            break;
        case 10:
            op_via(p);
            break;
        default:
            stop_helper(p);
            break;
        }
    }
    stop_helper(p);
    if (fz_bool(&p->in)) { /* or leave the entries to the exit path */
        for (size_t i = p->n; i-- > 0;) {
            grove_registry_unregister(regs[p->e[i].reg], p->e[i].key,
                                      p->e[i].len);
            model_del(p, i);
        }
        FZ_CHECK(grove_registry_count(regs[0]) == 0 &&
                     grove_registry_count(regs[1]) == 0,
                 "entries left after unregistering everything");
    }
}

static void make_registries(void)
{
    static const char *const listeners[] = {LISTENER};
    for (int i = 0; i < 2; i++) {
        grove_registry_opts_t o = {.keys = i,
                                   .listeners = listeners,
                                   .nlisteners = 1,
                                   .name = i ? NULL : "fuzz_unique"};
        int rc = grove_registry_new(&o, &regs[i]);
        FZ_CHECK(rc == 0, "registry_new: %s", grove_errname(rc));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_runtime_start();
    if (!regs[0])
        make_registries();
    grove_stats_t before;
    grove_stats(&before);
    prog_t *p = calloc(1, sizeof *p);
    p->in = (fz_t){data, size};
    fz_run(fuzz_proc, p);
    fz_quiesce(&before);
    for (int i = 0; i < 2; i++)
        FZ_CHECK(grove_registry_count(regs[i]) == 0,
                 "%zu entries left in the %s registry after their owners "
                 "exited",
                 grove_registry_count(regs[i]), i ? "duplicate" : "unique");
    for (size_t i = 0; i < p->n; i++)
        free(p->e[i].key);
    free(p);
    return 0;
}
