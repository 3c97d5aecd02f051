/* The chat server's tree and its entry points: chat_start builds the
 * context (registries, limits) and starts the root supervisor; chat_stop
 * shuts it down and frees what the processes shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "chat_internal.h"

chat_ctx_t *chat_ctx;

#define STOP_TIMEOUT 60000
/* Descriptors kept for everything but clients (listener, poller, logs). */
#define FD_RESERVE 64

/* Rooms may crash now and then (GROVE-CRASHROOM): their supervisor
 * tolerates more restarts than the default before giving up. */
static int rooms_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true, .name = NAME_ROOMS,
                             .max_restarts = 100, .max_seconds = 10};
    return grove_dynsup_start(&o, pid, why);
}

/* Connections never restart (temporary): a crash there is the client's
 * end, counted by no intensity. */
static int conns_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    grove_dynsup_opts_t o = {.link = true, .name = NAME_CONNS,
                             .max_children = chat_ctx->opts.max_clients};
    return grove_dynsup_start(&o, pid, why);
}

static const grove_gs_opts_t logger_opts = {.name = NAME_LOGGER};
static const grove_gs_opts_t acceptor_opts = {.name = NAME_ACCEPTOR};

static const grove_child_spec_t children[] = {
    {.id = "Chat.Logger", .gen_server = &chat_logger_cb,
     .gs_opts = &logger_opts},
    {.id = "Chat.RoomSupervisor", .start = rooms_start,
     .type = GROVE_SUPERVISOR},
    {.id = "Chat.ConnectionSupervisor", .start = conns_start,
     .type = GROVE_SUPERVISOR},
    {.id = "Chat.Acceptor", .gen_server = &chat_acceptor_cb,
     .gs_opts = &acceptor_opts},
};

#define NCHILDREN (sizeof children / sizeof children[0])

/* The root's spec: the server's children, then the caller's extras. */
static int root_spec_init(chat_ctx_t *x)
{
    size_t n = NCHILDREN + x->opts.nextra_children;
    if (x->opts.nextra_children && !x->opts.extra_children)
        return GROVE_EINVAL;
    x->children = calloc(n, sizeof *x->children);
    if (!x->children)
        return GROVE_ENOMEM;
    memcpy(x->children, children, sizeof children);
    if (x->opts.nextra_children)
        memcpy(x->children + NCHILDREN, x->opts.extra_children,
               x->opts.nextra_children * sizeof *x->children);
    x->root_spec = (grove_sup_spec_t){
        .name = "Chat.Supervisor",
        .flags = {.strategy = GROVE_ONE_FOR_ONE},
        .children = x->children,
        .nchildren = n,
    };
    return 0;
}

/* Raises the soft descriptor limit to the hard one; returns the soft. */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : (long)rl.rlim_cur;
}

static chat_ctx_t *ctx_new(const chat_opts_t *opts)
{
    chat_ctx_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->opts = *opts;
    snprintf(x->host, sizeof x->host, "%s", opts->host ? opts->host
                                                       : "127.0.0.1");
    x->opts.host = x->host;
    long fds = raise_nofile() - FD_RESERVE;
    if (!x->opts.max_clients)
        x->opts.max_clients = fds > 16 ? (uint32_t)fds : 16;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(x->created, sizeof x->created, "%Y-%m-%d %H:%M:%S UTC", &tm);
    pthread_mutex_init(&x->args_lock, NULL);
    grove_registry_opts_t ro = {.keys = GROVE_REG_UNIQUE};
    if (grove_registry_new(&ro, &x->rooms) != 0 ||
        grove_registry_new(&ro, &x->nicks) != 0) {
        if (x->rooms)
            grove_registry_free(x->rooms);
        free(x);
        return NULL;
    }
    return x;
}

int chat_start(const chat_opts_t *opts, grove_pid_t *root,
               grove_reason_t *why)
{
    static const chat_opts_t defaults;
    if (chat_ctx)
        return GROVE_EALREADY;
    chat_ctx_t *x = ctx_new(opts ? opts : &defaults);
    if (!x)
        return GROVE_ENOMEM;
    chat_ctx = x;
    int rc = root_spec_init(x);
    if (rc < 0) {
        chat_cleanup();
        return rc;
    }
    grove_sup_opts_t so = {.name = NAME_ROOT, .link = x->opts.link};
    rc = grove_sup_start(&x->root_spec, &so, root, why);
    if (rc < 0)
        chat_cleanup();
    return rc;
}

int chat_port(void)
{
    return chat_ctx ? atomic_load(&chat_ctx->port) : 0;
}

void chat_cleanup(void)
{
    chat_ctx_t *x = chat_ctx;
    if (!x)
        return;
    grove_registry_free(x->rooms);
    grove_registry_free(x->nicks);
    room_args_free();
    pthread_mutex_destroy(&x->args_lock);
    free(x->children);
    chat_ctx = NULL;
    free(x);
}

int chat_stop(void)
{
    grove_pid_t root;
    grove_ref_t mon;
    if (!chat_ctx || grove_whereis(NAME_ROOT, &root) != 0)
        return GROVE_ENOTFOUND;
    int rc = grove_monitor(root, &mon);
    if (rc < 0)
        return rc;
    grove_reason_t down = grove_reason_shutdown(NULL);
    grove_exit_signal(root, &down);
    grove_msg_t *m;
    rc = grove_recv_ref(&m, mon, STOP_TIMEOUT);
    if (rc < 0) {
        grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
        grove_exit_signal(root, &kill);
        rc = grove_recv_ref(&m, mon, STOP_TIMEOUT);
    }
    if (rc == 0)
        grove_msg_free(m);
    chat_cleanup();
    return 0;
}

int chat_room_pid(const char *chan, grove_pid_t *pid)
{
    if (!chat_ctx || !chan || !irc_valid_chan(chan))
        return GROVE_ENOTFOUND;
    return room_find(chan, pid);
}

int chat_stats(chat_stats_t *out)
{
    chat_ctx_t *x = chat_ctx;
    if (!x || !out)
        return GROVE_ENOTFOUND;
    memset(out, 0, sizeof *out);
    grove_child_counts_t cc;
    if (grove_dynsup_count_children(grove_server_name(NAME_CONNS), &cc) == 0)
        out->clients = cc.active;
    out->rooms = grove_registry_count(x->rooms);
    out->connects = atomic_load(&x->connects);
    out->messages = atomic_load(&x->messages);
    out->room_crashes = atomic_load(&x->room_crashes);
    grove_msg_t *rep;
    if (grove_gs_try_call(grove_server_name(NAME_LOGGER), LOG_COUNT, NULL, 0,
                          &rep, 5000, NULL) == 0) {
        memcpy(&out->log_events, grove_msg_data(rep), sizeof(uint64_t));
        grove_msg_free(rep);
    }
    return 0;
}
