/* Grove Registry: Elixir's process registry — keys to processes, unique
 * or duplicate, partitioned so registration and lookup scale across
 * schedulers.
 *
 * A registry is a shared table, not a process: register, lookup and
 * unregister run in the caller. Writers take the lock of one of many
 * stripes; lookups take no lock (they read under a sequence count).
 * Every entry belongs to the process that registered it and is removed
 * when that process exits, whatever the reason, before its links and
 * monitors hear of the death: once a DOWN or EXIT for a process has
 * arrived, no lookup returns it (a lookup racing with the exit itself
 * may still see the entry for a moment).
 * Keys are byte strings of any length (no atom table to exhaust); values
 * are 64-bit (an integer, or a pointer the registry does not own).
 */
#ifndef GROVE_REGISTRY_H
#define GROVE_REGISTRY_H

#include "gen_server.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grove_registry grove_registry_t;

typedef enum grove_reg_keys {
    GROVE_REG_UNIQUE = 0,
    GROVE_REG_DUPLICATE
} grove_reg_keys_t;

typedef struct grove_registry_opts {
    int keys;          /* grove_reg_keys_t */
    unsigned partitions; /* 0: one per scheduler */
    /* Processes told of explicit register/unregister, by local name:
     * messages with tag GROVE_REG_LISTEN_REGISTER / _UNREGISTER whose data
     * is a grove_reg_event_t followed by the key bytes. */
    const char *const *listeners;
    size_t nlisteners;
    const char *name; /* optional: findable with grove_registry_find */
} grove_registry_opts_t;

#define GROVE_REG_LISTEN_REGISTER UINT64_C(0xffffffffffff0101)
#define GROVE_REG_LISTEN_UNREGISTER UINT64_C(0xffffffffffff0102)

typedef struct grove_reg_event {
    grove_pid_t pid;
    uint64_t value;
    size_t key_len; /* the key bytes follow the struct */
} grove_reg_event_t;

/* One lookup result. */
typedef struct grove_reg_entry {
    grove_pid_t pid;
    uint64_t value;
} grove_reg_entry_t;

/* Creates a registry. Returns 0 and *out, GROVE_EINVAL, GROVE_EEXIST
 * (name taken), GROVE_ENOMEM or GROVE_ENOTSTARTED. */
GROVE_EXPORT int grove_registry_new(const grove_registry_opts_t *opts,
                                    grove_registry_t **out);
/* Frees a registry; its entries are dropped. No other call may be in
 * flight on it; its owners may be alive or exiting (the free waits for
 * exits already taking their entries out). Returns 0 or GROVE_EINVAL. */
GROVE_EXPORT int grove_registry_free(grove_registry_t *reg);
/* Finds a registry created with a name. Returns 0, GROVE_ENOTFOUND or
 * GROVE_EINVAL. */
GROVE_EXPORT int grove_registry_find(const char *name,
                                     grove_registry_t **out);

/* Registers the calling process under key with value. Unique registry:
 * GROVE_EEXIST with *holder set when a live process holds the key (the
 * caller itself included). Returns 0, GROVE_EEXIST, GROVE_EINVAL,
 * GROVE_ENOMEM or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_registry_register(grove_registry_t *reg,
                                         const void *key, size_t len,
                                         uint64_t value, grove_pid_t *holder);
/* Removes the caller's entries under key. Always 0 for a valid call
 * (GROVE_EINVAL, GROVE_ENOTPROC otherwise). */
GROVE_EXPORT int grove_registry_unregister(grove_registry_t *reg,
                                           const void *key, size_t len);
/* Entries under key: writes up to max to out and the total to *n
 * (unique: 0 or 1). Returns 0 or GROVE_EINVAL. From any thread. */
GROVE_EXPORT int grove_registry_lookup(grove_registry_t *reg, const void *key,
                                       size_t len, grove_reg_entry_t *out,
                                       size_t max, size_t *n);
/* Unique registries: the holder of key. Returns 0, GROVE_ENOTFOUND or
 * GROVE_EINVAL. */
GROVE_EXPORT int grove_registry_whereis(grove_registry_t *reg,
                                        const void *key, size_t len,
                                        grove_pid_t *pid);
/* The keys the process pid holds in reg: calls fn for each, on a copy
 * taken first (fn may call into reg or block). Returns the number,
 * GROVE_EINVAL or GROVE_ENOMEM. */
GROVE_EXPORT int grove_registry_keys(grove_registry_t *reg, grove_pid_t pid,
                                     void (*fn)(const void *key, size_t len,
                                                void *arg),
                                     void *arg);
/* Number of entries. */
GROVE_EXPORT size_t grove_registry_count(grove_registry_t *reg);
/* Entries under key whose value satisfies pred (NULL: all), pred run on a
 * copy outside the locks: writes up to max, returns the number matched,
 * GROVE_EINVAL or GROVE_ENOMEM. */
GROVE_EXPORT int grove_registry_match(grove_registry_t *reg, const void *key,
                                      size_t len,
                                      bool (*pred)(uint64_t value, void *arg),
                                      void *arg, grove_reg_entry_t *out,
                                      size_t max);
/* Calls fn(key, len, pid, value, arg) for every entry for which pred is
 * true (NULL: every entry). Both run on a copy of each lock stripe's
 * entries, outside the locks: they may call into reg or block. Returns
 * the number visited, GROVE_EINVAL or GROVE_ENOMEM. */
GROVE_EXPORT int grove_registry_select(
    grove_registry_t *reg,
    bool (*pred)(const void *key, size_t len, grove_pid_t pid,
                 uint64_t value, void *arg),
    void (*fn)(const void *key, size_t len, grove_pid_t pid, uint64_t value,
               void *arg),
    void *arg);
/* Calls fn once with every entry under key (a pub/sub fan-out over a
 * duplicate key); not called when there is none. Runs in the caller,
 * outside the registry's locks. Returns 0, GROVE_EINVAL or GROVE_ENOMEM. */
GROVE_EXPORT int grove_registry_dispatch(grove_registry_t *reg,
                                         const void *key, size_t len,
                                         void (*fn)(const grove_reg_entry_t *e,
                                                    size_t n, void *arg),
                                         void *arg);
/* Unique registries: replaces the caller's value under key. Returns 0
 * (*old set), GROVE_ENOTFOUND (caller does not hold key), GROVE_ENOTSUP
 * (duplicate registry), GROVE_EINVAL or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_registry_update_value(grove_registry_t *reg,
                                             const void *key, size_t len,
                                             uint64_t value, uint64_t *old);
/* Registry metadata: small byte values under string keys. put_meta
 * stores a copy of val[0..len), replacing an earlier value: 0,
 * GROVE_EINVAL or GROVE_ENOMEM. delete_meta removes key: 0 (also when it
 * was absent) or GROVE_EINVAL. */
GROVE_EXPORT int grove_registry_put_meta(grove_registry_t *reg,
                                         const char *key, const void *val,
                                         size_t len);
/* Copies a meta value: returns its length (may exceed cap),
 * GROVE_ENOTFOUND or GROVE_EINVAL. */
GROVE_EXPORT int grove_registry_meta(grove_registry_t *reg, const char *key,
                                     void *val, size_t cap);
GROVE_EXPORT int grove_registry_delete_meta(grove_registry_t *reg,
                                            const char *key);

/* The via interface for naming gen_servers (and supervisors) in a unique
 * registry: grove_server_via(grove_registry_via(reg), key, len) and
 * grove_gs_opts_t.via. Returns NULL for a duplicate registry. */
GROVE_EXPORT const grove_via_t *grove_registry_via(grove_registry_t *reg);

#ifdef __cplusplus
}
#endif
#endif
