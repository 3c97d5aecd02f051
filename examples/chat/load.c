/* chat_server --load: simulated clients and random faults (see load.h).
 *
 * Each simulated client is a plain process under chat.load.clients: it
 * connects over TCP like any IRC client, registers as simN, joins one to
 * three channels, says something every second or two, now and then hops
 * to another channel, and after half a minute or so quits and comes back.
 * When its connection dies under it (killed by the chaos) it reconnects;
 * when a room it was in crashes (the server sends PART :Room crashed) it
 * joins again. Killing the client process itself is a crash its
 * supervisor repairs.
 *
 * The chaos process wakes every fault_every_ms (half to one and a half
 * times that), picks one fault, injects it, waits to see what the tree
 * did about it and prints one line.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "load.h"

#define NCHANS 4
static const char *const chans[NCHANS] = {"#grove", "#erlang", "#c",
                                          "#otp"};

static const char *const phrases[] = {
    "let it crash",
    "who restarted the room?",
    "supervisors all the way down",
    "is anyone else seeing this?",
    "one_for_one is enough here",
    "my connection just died, back now",
    "hello from a green thread",
    "the observer shows my pid changed",
};
#define NPHRASES (sizeof phrases / sizeof phrases[0])

#define LINE_MAX_ 600
#define RESTART_WAIT_MS 3000 /* how long the chaos waits for a restart */

static const chat_load_opts_t *cfg;
static uint64_t seed;

static struct {
    atomic_uint_fast64_t connected, sent, delivered, faults, restarts;
} totals;

void chat_load_totals(chat_load_totals_t *out)
{
    out->connected = atomic_load(&totals.connected);
    out->sent = atomic_load(&totals.sent);
    out->delivered = atomic_load(&totals.delivered);
    out->faults = atomic_load(&totals.faults);
    out->restarts = atomic_load(&totals.restarts);
}

/* xorshift64*: plenty for picking phrases and faults. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717u;
}

static uint64_t seeded(uint64_t salt)
{
    uint64_t z = seed + salt * 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (z ^ (z >> 31)) | 1;
}

/* A number in [lo, hi). */
static uint64_t between(uint64_t *rng, uint64_t lo, uint64_t hi)
{
    return lo + next_random(rng) % (hi - lo);
}

static int chan_index(const char *name)
{
    for (int i = 0; i < NCHANS; i++)
        if (strcmp(name, chans[i]) == 0)
            return i;
    return -1;
}

/* ---- a simulated client ------------------------------------------------- */

typedef struct sim {
    chat_client_t c;
    char nick[16];
    uint64_t rng;
    bool in[NCHANS];
    uint64_t rejoin_at[NCHANS]; /* 0: no rejoin pending */
    uint64_t next_say, leave_at;
    unsigned said;
} sim_t;

/* Our own JOIN or PART (":nick!user@host JOIN #c"): which channels we are
 * in, as the server sees it. A room that crashed or closed under us is
 * joined again a moment later. */
static void own_line(sim_t *s, const char *line)
{
    const char *sp = strchr(line, ' ');
    if (!sp)
        return;
    char cmd[8] = "", chan[64] = "";
    if (sscanf(sp + 1, "%7s %63s", cmd, chan) != 2)
        return;
    int i = chan_index(chan[0] == ':' ? chan + 1 : chan);
    if (i < 0)
        return;
    if (strcmp(cmd, "JOIN") == 0) {
        s->in[i] = true;
        s->rejoin_at[i] = 0;
    } else if (strcmp(cmd, "PART") == 0) {
        s->in[i] = false;
        if (strstr(sp, ":Room crashed") || strstr(sp, ":Room closed"))
            s->rejoin_at[i] = grove_now_ms() + between(&s->rng, 300, 1200);
    }
}

static void on_line(sim_t *s, const char *line)
{
    char own[24];
    snprintf(own, sizeof own, ":%s!", s->nick);
    if (strncmp(line, own, strlen(own)) == 0)
        own_line(s, line);
    else if (strstr(line, " PRIVMSG #"))
        atomic_fetch_add(&totals.delivered, 1);
}

static int joined(const sim_t *s, int *pick, uint64_t *rng)
{
    int n = 0, which[NCHANS];
    for (int i = 0; i < NCHANS; i++)
        if (s->in[i])
            which[n++] = i;
    if (n)
        *pick = which[next_random(rng) % (unsigned)n];
    return n;
}

/* Says something in one of its channels; sometimes moves to another. */
static int say(sim_t *s)
{
    int i, rc;
    if (joined(s, &i, &s->rng) == 0) {
        i = (int)(next_random(&s->rng) % NCHANS);
        return chat_client_send(&s->c, "JOIN %s", chans[i]);
    }
    if (next_random(&s->rng) % 12 == 0) {
        int j = (int)(next_random(&s->rng) % NCHANS);
        if (!s->in[j])
            return chat_client_send(&s->c, "PART %s :off to %s\r\nJOIN %s",
                                    chans[i], chans[j], chans[j]);
    }
    rc = chat_client_send(&s->c, "PRIVMSG %s :%s (#%u from %s)", chans[i],
                          phrases[next_random(&s->rng) % NPHRASES],
                          ++s->said, s->nick);
    if (rc == 0)
        atomic_fetch_add(&totals.sent, 1);
    return rc;
}

/* Rejoins the rooms that crashed under it, once their time has come. */
static int rejoin(sim_t *s, uint64_t now)
{
    for (int i = 0; i < NCHANS; i++)
        if (s->rejoin_at[i] && s->rejoin_at[i] <= now) {
            s->rejoin_at[i] = 0;
            int rc = chat_client_send(&s->c, "JOIN %s", chans[i]);
            if (rc < 0)
                return rc;
        }
    return 0;
}

/* One connection's life: returns when it quit or the socket died. */
static void session(sim_t *s)
{
    memset(s->in, 0, sizeof s->in);
    memset(s->rejoin_at, 0, sizeof s->rejoin_at);
    int first = (int)(next_random(&s->rng) % NCHANS);
    int count = 1 + (int)(next_random(&s->rng) % 3);
    for (int k = 0; k < count; k++)
        if (chat_client_send(&s->c, "JOIN %s",
                             chans[(first + k) % NCHANS]) < 0)
            return;
    uint64_t now = grove_now_ms();
    s->next_say = now + between(&s->rng, 300, 1500);
    s->leave_at = now + between(&s->rng, 20000, 60000);
    char line[LINE_MAX_];
    for (;;) {
        now = grove_now_ms();
        if (now >= s->leave_at) {
            chat_client_send(&s->c, "QUIT :back in a moment");
            return;
        }
        if (rejoin(s, now) < 0)
            return;
        if (now >= s->next_say) {
            if (say(s) < 0)
                return;
            s->next_say = now + between(&s->rng, 700, 2500);
        }
        uint64_t until = s->next_say < s->leave_at ? s->next_say
                                                    : s->leave_at;
        grove_timeout_t wait = until > now ? (grove_timeout_t)(until - now)
                                           : 0;
        if (wait > 250)
            wait = 250; /* rejoins come due in between */
        int n = chat_client_line(&s->c, line, sizeof line, wait);
        if (n == GROVE_ETIMEDOUT)
            continue;
        if (n < 0)
            return; /* the connection died: killed, or the server left */
        on_line(s, line);
    }
}

static void client_main(void *arg)
{
    sim_t s;
    memset(&s, 0, sizeof s);
    intptr_t n = (intptr_t)arg;
    snprintf(s.nick, sizeof s.nick, "sim%d", (int)n);
    s.rng = seeded((uint64_t)n * 7919 + grove_now_ms());
    /* Not all at once. */
    grove_sleep((grove_timeout_t)between(&s.rng, 0, 500));
    for (;;) {
        int rc = chat_client_open(&s.c, NULL, chat_port(), s.nick, 5000);
        if (rc == 0) {
            atomic_fetch_add(&totals.connected, 1);
            session(&s);
            chat_client_close(&s.c);
        }
        /* The nick may still be held by the connection that just died:
         * it goes when that process has ended. */
        grove_sleep((grove_timeout_t)between(&s.rng, 200, 1500));
    }
}

/* ---- the chaos ---------------------------------------------------------- */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    uint64_t n = atomic_fetch_add(&totals.faults, 1) + 1;
    printf("%8.1fs  fault %-3llu %s\n", (double)grove_now_ms() / 1000.0,
           (unsigned long long)n, text);
    fflush(stdout);
}

static const char *pidstr(grove_pid_t pid, char buf[GROVE_PID_STR_MAX])
{
    return grove_pid_format(pid, buf, GROVE_PID_STR_MAX);
}

static const grove_reason_t *kill_reason(void)
{
    static grove_reason_t k;
    k = grove_reason_of(GROVE_EXIT_KILL);
    return &k;
}

/* Waits until get() names a live process other than old; writes it. */
static bool wait_replaced(int (*get)(const void *key, grove_pid_t *pid),
                          const void *key, grove_pid_t old,
                          grove_pid_t *now, uint64_t *ms)
{
    uint64_t t0 = grove_now_ms();
    while (grove_now_ms() - t0 < RESTART_WAIT_MS) {
        if (get(key, now) == 0 && !grove_pid_is_none(*now) &&
            !grove_pid_equal(*now, old) && grove_is_alive(*now)) {
            *ms = grove_now_ms() - t0;
            atomic_fetch_add(&totals.restarts, 1);
            return true;
        }
        grove_sleep(5);
    }
    return false;
}

/* A running child of a supervisor, picked at random. */
static bool random_child(grove_server_t sup, bool dynamic, uint64_t *rng,
                         grove_child_info_t *out)
{
    grove_child_info_t kids[CHAT_LOAD_MAX_CLIENTS + 64];
    size_t n = 0, cap = sizeof kids / sizeof kids[0], live = 0;
    int rc = dynamic ? grove_dynsup_which_children(sup, kids, cap, &n)
                     : grove_sup_which_children(sup, kids, cap, &n);
    if (rc != 0)
        return false;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        if (kids[i].state == GROVE_CHILD_RUNNING &&
            !grove_pid_is_none(kids[i].pid))
            kids[live++] = kids[i];
    if (!live)
        return false;
    *out = kids[next_random(rng) % live];
    return true;
}

static bool kill_connection(uint64_t *rng)
{
    grove_child_info_t c;
    if (!random_child(grove_server_name("chat.conns"), true, rng, &c))
        return false;
    grove_exit_signal(c.pid, kill_reason());
    char p[GROVE_PID_STR_MAX];
    report("kill connection %s (exit signal kill): a temporary child, not "
           "restarted; its client sees the socket close and reconnects",
           pidstr(c.pid, p));
    return true;
}

static int room_of(const void *chan, grove_pid_t *pid)
{
    return chat_room_pid(chan, pid);
}

/* A registered client of the chaos's own, for the poison commands. */
static bool chaos_client(chat_client_t *c, uint64_t *rng)
{
    char nick[16];
    snprintf(nick, sizeof nick, "chaos%u",
             (unsigned)(next_random(rng) % 100000));
    return chat_client_open(c, NULL, chat_port(), nick, 3000) == 0;
}

/* GROVE-CRASHROOM from a client of our own, then a PING whose PONG says
 * the server has read the command. */
static bool crashroom_command(const char *chan, uint64_t *rng)
{
    chat_client_t c;
    char line[LINE_MAX_];
    if (!chaos_client(&c, rng))
        return false;
    bool ok = chat_client_send(&c, "GROVE-CRASHROOM %s", chan) == 0 &&
              chat_client_send(&c, "PING :chaos") == 0 &&
              chat_client_expect(&c, "PONG", line, sizeof line, 3000) >= 0;
    chat_client_send(&c, "QUIT :done");
    chat_client_close(&c);
    return ok;
}

static bool crash_room(uint64_t *rng)
{
    int first = (int)(next_random(rng) % NCHANS), i = -1;
    grove_pid_t old = GROVE_PID_NONE, now;
    for (int k = 0; k < NCHANS && i < 0; k++)
        if (chat_room_pid(chans[(first + k) % NCHANS], &old) == 0)
            i = (first + k) % NCHANS;
    if (i < 0)
        return false;
    const char *how;
    if (cfg->poison) {
        if (!crashroom_command(chans[i], rng))
            return false;
        how = "GROVE-CRASHROOM: a NULL write in the room's process";
    } else {
        grove_exit_signal(old, kill_reason());
        how = "exit signal kill";
    }
    char p[GROVE_PID_STR_MAX], q[GROVE_PID_STR_MAX];
    uint64_t ms;
    if (wait_replaced(room_of, chans[i], old, &now, &ms))
        report("crash room %s %s (%s) -> restarted empty as %s after %llu "
               "ms; its members rejoin",
               chans[i], pidstr(old, p), how, pidstr(now, q),
               (unsigned long long)ms);
    else
        report("crash room %s %s (%s) -> not back within %d ms", chans[i],
               pidstr(old, p), how, RESTART_WAIT_MS);
    return true;
}

/* GROVE-POISON from a client in a channel: its connection process writes
 * through NULL, and the channel sees it quit. */
static bool poison(uint64_t *rng)
{
    chat_client_t c;
    char line[LINE_MAX_];
    const char *chan = chans[next_random(rng) % NCHANS];
    if (!chaos_client(&c, rng))
        return false;
    bool crashed = false;
    if (chat_client_join(&c, chan, 3000) == 0 &&
        chat_client_send(&c, "GROVE-POISON") == 0) {
        /* Nothing more comes: the socket closes with the process. */
        int n;
        while ((n = chat_client_line(&c, line, sizeof line, 3000)) >= 0)
            ;
        crashed = n != GROVE_ETIMEDOUT;
    }
    report("client %s in %s sent GROVE-POISON -> %s", c.nick, chan,
           crashed ? "its connection process crashed (SIGSEGV) alone; the "
                     "channel saw QUIT :Client crashed"
                   : "no crash seen within 3 s");
    chat_client_close(&c);
    return true;
}

typedef struct child_key {
    const char *sup;
    char id[64];
} child_key_t;

static int child_pid(const void *key, grove_pid_t *pid)
{
    const child_key_t *k = key;
    grove_child_info_t kids[CHAT_LOAD_MAX_CLIENTS + 8];
    size_t n = 0;
    int rc = grove_sup_which_children(grove_server_name(k->sup), kids,
                                      sizeof kids / sizeof kids[0], &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && i < sizeof kids / sizeof kids[0]; i++)
        if (strcmp(kids[i].id, k->id) == 0 &&
            kids[i].state == GROVE_CHILD_RUNNING) {
            *pid = kids[i].pid;
            return 0;
        }
    return GROVE_ENOTFOUND;
}

static bool kill_sim(uint64_t *rng)
{
    child_key_t k = {.sup = "chat.load.clients"};
    grove_child_info_t c;
    if (!random_child(grove_server_name(k.sup), false, rng, &c))
        return false;
    snprintf(k.id, sizeof k.id, "%s", c.id);
    grove_exit_signal(c.pid, kill_reason());
    char p[GROVE_PID_STR_MAX], q[GROVE_PID_STR_MAX];
    grove_pid_t now;
    uint64_t ms;
    if (wait_replaced(child_pid, &k, c.pid, &now, &ms))
        report("kill simulated client %s %s -> restarted by "
               "Chat.Load.Clients as %s after %llu ms",
               c.id, pidstr(c.pid, p), pidstr(now, q),
               (unsigned long long)ms);
    else
        report("kill simulated client %s %s -> not back within %d ms",
               c.id, pidstr(c.pid, p), RESTART_WAIT_MS);
    return true;
}

static int whereis(const void *name, grove_pid_t *pid)
{
    return grove_whereis(name, pid);
}

static bool kill_logger(void)
{
    grove_pid_t old, now;
    if (grove_whereis("chat.logger", &old) != 0)
        return false;
    grove_exit_signal(old, kill_reason());
    char p[GROVE_PID_STR_MAX], q[GROVE_PID_STR_MAX];
    uint64_t ms;
    if (wait_replaced(whereis, "chat.logger", old, &now, &ms))
        report("kill Chat.Logger %s -> restarted by Chat.Supervisor as %s "
               "after %llu ms; nobody else noticed",
               pidstr(old, p), pidstr(now, q), (unsigned long long)ms);
    else
        report("kill Chat.Logger %s -> not back within %d ms",
               pidstr(old, p), RESTART_WAIT_MS);
    return true;
}

enum { F_CONN, F_ROOM, F_POISON, F_SIM, F_LOGGER, F_COUNT };
/* How often each is picked, out of the sum. */
static const unsigned weights[F_COUNT] = {3, 3, 2, 2, 1};

static bool inject(int f, uint64_t *rng)
{
    switch (f) {
    case F_CONN:
        return kill_connection(rng);
    case F_ROOM:
        return crash_room(rng);
    case F_POISON:
        return cfg->poison && poison(rng);
    case F_SIM:
        return kill_sim(rng);
    default:
        return kill_logger();
    }
}

static int pick(uint64_t *rng)
{
    unsigned sum = 0;
    for (int f = 0; f < F_COUNT; f++)
        sum += f == F_POISON && !cfg->poison ? 0 : weights[f];
    unsigned r = (unsigned)(next_random(rng) % sum);
    for (int f = 0; f < F_COUNT; f++) {
        unsigned w = f == F_POISON && !cfg->poison ? 0 : weights[f];
        if (r < w)
            return f;
        r -= w;
    }
    return F_LOGGER;
}

static void status_line(void)
{
    chat_stats_t st;
    if (chat_stats(&st) != 0)
        return;
    chat_load_totals_t t;
    chat_load_totals(&t);
    printf("%8.1fs  status    %llu clients, %llu rooms, %llu messages "
           "relayed, %llu delivered to simulated clients\n",
           (double)grove_now_ms() / 1000.0, (unsigned long long)st.clients,
           (unsigned long long)st.rooms, (unsigned long long)st.messages,
           (unsigned long long)t.delivered);
    fflush(stdout);
}

static void chaos_main(void *arg)
{
    (void)arg;
    uint64_t rng = seeded(0xc4a05 + grove_now_ms());
    uint32_t every = cfg->fault_every_ms ? cfg->fault_every_ms : 3000;
    uint64_t next_status = grove_now_ms() + 10000;
    /* The first fault is one that a supervisor repairs, so that even a
     * short run shows a restart. */
    for (int f = F_SIM;; f = pick(&rng)) {
        grove_sleep((grove_timeout_t)between(&rng, every / 2,
                                             every + every / 2 + 1));
        /* A fault with no target now (no room yet, say) passes its turn
         * to the next kind. */
        for (int k = 0; k < F_COUNT && !inject((f + k) % F_COUNT, &rng);
             k++)
            ;
        if (grove_now_ms() >= next_status) {
            status_line();
            next_status += 10000;
        }
    }
}

/* ---- the tree ----------------------------------------------------------- */

static grove_child_spec_t sim_specs[CHAT_LOAD_MAX_CLIENTS];
static char sim_ids[CHAT_LOAD_MAX_CLIENTS][16];
static grove_sup_spec_t clients_spec;

static int clients_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    int n = cfg->clients > 0 ? cfg->clients : 8;
    if (n > CHAT_LOAD_MAX_CLIENTS)
        n = CHAT_LOAD_MAX_CLIENTS;
    for (int i = 0; i < n; i++) {
        snprintf(sim_ids[i], sizeof sim_ids[i], "sim.%d", i + 1);
        sim_specs[i] = (grove_child_spec_t){.id = sim_ids[i],
                                            .entry = client_main,
                                            .arg = (void *)(intptr_t)(i + 1)};
    }
    /* A simulated client is killed every ten seconds or so. */
    clients_spec = (grove_sup_spec_t){
        .name = "Chat.Load.Clients",
        .flags = {.max_restarts = 50, .max_seconds = 10},
        .children = sim_specs,
        .nchildren = (size_t)n};
    grove_sup_opts_t o = {.link = true, .name = "chat.load.clients"};
    return grove_sup_start(&clients_spec, &o, pid, why);
}

static const grove_child_spec_t load_children[] = {
    {.id = "Chat.Load.Clients", .start = clients_start,
     .type = GROVE_SUPERVISOR},
    {.id = "Chat.Chaos", .entry = chaos_main},
};

static const grove_sup_spec_t load_spec = {
    .name = "Chat.Load",
    .flags = {.max_restarts = 10, .max_seconds = 10},
    .children = load_children,
    .nchildren = sizeof load_children / sizeof load_children[0],
};

int chat_load_child_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    static const chat_load_opts_t defaults;
    cfg = arg ? arg : &defaults;
    seed = cfg->seed ? cfg->seed : grove_now_ms() * 2654435761u + 1;
    grove_sup_opts_t o = {.link = true, .name = "chat.load"};
    return grove_sup_start(&load_spec, &o, pid, why);
}
