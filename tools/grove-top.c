/* grove-top: a running Grove program's processes and supervision tree in
 * a terminal, from its observer's JSON (include/grove/observer.h).
 *
 *   grove-top [--host ADDR] [--port N] [--sort mailbox|memory|reductions]
 *             [--limit N] [--once]
 *   grove-top http://127.0.0.1:PORT
 *
 * Every second it shows the scheduler threads' utilisation, the top
 * processes by mailbox length (or memory, or reductions) and the tree,
 * with plain ANSI sequences. Keys: m, e, r sort by mailbox, memory,
 * reductions; q quits. --once prints one frame without escape sequences
 * and exits: 0 when the observer answered, 1 otherwise.
 *
 * It needs no Grove: only sockets, to the observer's address (loopback
 * unless the program exposed it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "grove-json.h"

#define TIMEOUT_S 3
#define BODY_MAX (64u << 20)

static struct {
    const char *host;
    int port;
    const char *sort;
    int limit;
    bool once;
    int rows; /* terminal rows; 0: no limit */
} opt = {"127.0.0.1", 8080, "mailbox", 25, false, 0};

/* ---- HTTP --------------------------------------------------------------- */

static int dial(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", opt.port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(opt.host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {TIMEOUT_S, 0};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

/* GETs path and parses the JSON body; NULL on any failure. */
static gj_t *get_json(const char *path, int *status)
{
    int fd = dial();
    if (fd < 0)
        return NULL;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close"
                     "\r\n\r\n",
                     path, opt.host, opt.port);
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    bool ok = buf && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
    while (ok) {
        if (len + 1 >= cap) {
            char *b = cap < BODY_MAX ? realloc(buf, cap *= 2) : NULL;
            ok = b != NULL;
            if (ok)
                buf = b;
            continue;
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0) {
            ok = k == 0;
            break;
        }
        len += (size_t)k;
    }
    close(fd);
    gj_t *v = NULL;
    char *body = ok ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    if (body && sscanf(buf, "HTTP/1.%*d %d", status) == 1)
        v = gj_parse(body + 4, len - (size_t)(body + 4 - buf), NULL);
    free(buf);
    return v;
}

/* ---- drawing ------------------------------------------------------------ */

static int lines; /* printed in this frame */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
    if (opt.rows && lines >= opt.rows - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputs(opt.once ? "\n" : "\033[K\n", stdout);
    lines++;
}

static const char *human(double b, char *buf)
{
    if (b < 1024)
        snprintf(buf, 16, "%.0f", b);
    else if (b < 1048576)
        snprintf(buf, 16, "%.1fK", b / 1024);
    else
        snprintf(buf, 16, "%.1fM", b / 1048576);
    return buf;
}

static void bar(double u, char *b, size_t width)
{
    size_t full = (size_t)(u * (double)width + 0.5);
    for (size_t i = 0; i < width; i++)
        b[i] = i < full ? '#' : ' ';
    b[width] = '\0';
}

static void draw_schedulers(const gj_t *s)
{
    const gj_t *u = gj_get(s, "utilisation");
    char line[512] = "schedulers", b[16];
    size_t n = strlen(line);
    for (size_t i = 0; i < gj_len(u) && n < sizeof line - 40; i++) {
        double x = gj_num(gj_at(u, i), "utilisation", 0);
        bar(x > 1 ? 1 : x, b, 10);
        n += (size_t)snprintf(line + n, sizeof line - n, "  %zu [%s] %3.0f%%",
                              i + 1, b, x * 100);
    }
    const gj_t *samples = gj_get(s, "samples");
    const gj_t *last = gj_at(samples, gj_len(samples) ? gj_len(samples) - 1
                                                      : 0);
    out("%s", line);
    if (last)
        out("cpu %.2f cores   reductions/s %.0f   spawns/s %.0f   "
            "runnable %.0f   messages %.0f",
            gj_num(last, "cpu", 0), gj_num(last, "reductions_per_s", 0),
            gj_num(last, "spawned_per_s", 0), gj_num(last, "runnable", 0),
            gj_num(last, "messages", 0));
}

static const char *label(const gj_t *p)
{
    const char *s = gj_str(p, "name", NULL);
    if (!s)
        s = gj_str(p, "id", NULL);
    if (!s)
        s = gj_str(p, "label", NULL);
    if (!s)
        s = gj_str(p, "behaviour", "");
    return s;
}

static void draw_processes(const gj_t *ps)
{
    char m[16];
    out("%s%-16s %-28s %-9s %8s %8s %11s%s", opt.once ? "" : "\033[7m",
        "PID", "NAME / BEHAVIOUR", "STATUS", "MAILBOX", "MEMORY",
        "REDUCTIONS", opt.once ? "" : "\033[0m");
    for (size_t i = 0; i < gj_len(ps); i++) {
        const gj_t *p = gj_at(ps, i);
        out("%-16s %-28.28s %-9s %8.0f %8s %11.0f",
            gj_str(p, "pid", "?"), label(p), gj_str(p, "status", "?"),
            gj_num(p, "mailbox_len", 0), human(gj_num(p, "memory", 0), m),
            gj_num(p, "reductions", 0));
    }
}

static void draw_node(const gj_t *n, const char *indent, bool last,
                      int depth)
{
    char m[16], more[512] = "", next[256];
    const gj_t *kids = gj_get(n, "children");
    const char *state = gj_str(n, "state", NULL);
    if (kids) {
        double mr = gj_num(n, "max_restarts", -1);
        snprintf(more, sizeof more, "  %s%s restarts %.0f",
                 gj_str(n, "strategy", "?"),
                 gj_str(n, "query", "ok")[0] == 'o' ? "" : " BUSY",
                 gj_num(n, "restarts", 0));
        if (mr >= 0)
            snprintf(more + strlen(more), sizeof more - strlen(more),
                     " (max %.0f in %.0f s)", mr, gj_num(n, "max_seconds", 0));
    } else {
        snprintf(more, sizeof more, "  %s mbox %.0f mem %s%s",
                 state ? state : gj_str(n, "status", ""),
                 gj_num(n, "mailbox_len", 0),
                 human(gj_num(n, "memory", 0), m),
                 gj_num(n, "restarts", 0) > 0 ? "  restarted" : "");
    }
    const char *l = label(n);
    out("%s%s%s%s%s%s", indent, depth ? (last ? "└─ " : "├─ ") : "", l,
        l[0] ? " " : "", gj_str(n, "pid", "(no process)"), more);
    snprintf(next, sizeof next, "%s%s", indent,
             depth ? (last ? "   " : "│  ") : "");
    for (size_t i = 0; i < gj_len(kids) && depth < 32; i++)
        draw_node(gj_at(kids, i), next, i + 1 == gj_len(kids), depth + 1);
    double total = gj_num(n, "children_total", 0);
    if (kids && total > (double)gj_len(kids))
        out("%s└─ … %.0f more", next, total - (double)gj_len(kids));
}

static void draw_tree(const gj_t *t)
{
    const gj_t *roots = gj_get(t, "roots");
    out("%sSUPERVISION TREE%s", opt.once ? "" : "\033[7m",
        opt.once ? "" : "\033[0m");
    for (size_t i = 0; i < gj_len(roots); i++)
        draw_node(gj_at(roots, i), "", true, 0);
}

/* One frame; false when the observer did not answer. */
static bool frame(void)
{
    char path[128];
    int st = 0, rst = 0;
    snprintf(path, sizeof path, "/api/processes?sort=%s&limit=%d", opt.sort,
             opt.limit);
    gj_t *tree = get_json("/api/tree", &st);
    gj_t *procs = tree ? get_json(path, &st) : NULL;
    gj_t *sched = procs ? get_json("/api/schedulers", &st) : NULL;
    gj_t *ready = sched ? get_json("/readyz", &rst) : NULL;
    bool ok = ready != NULL;
    lines = 0;
    if (!opt.once)
        fputs("\033[H", stdout);
    if (!ok) {
        out("grove-top: no observer answers at %s:%d", opt.host, opt.port);
    } else {
        time_t now = time(NULL);
        char hm[16];
        strftime(hm, sizeof hm, "%H:%M:%S", localtime(&now));
        out("grove-top  %s:%d  %s  processes %.0f  supervisors %.0f  %s  "
            "(sort: %s)",
            opt.host, opt.port, hm, gj_num(tree, "processes", 0),
            gj_num(tree, "supervisors", 0),
            rst == 200 ? "ready" : "NOT READY", opt.sort);
        draw_schedulers(sched);
        out("%s", "");
        draw_processes(procs);
        out("%s", "");
        draw_tree(tree);
    }
    if (!opt.once)
        fputs("\033[J", stdout);
    fflush(stdout);
    gj_free(tree);
    gj_free(procs);
    gj_free(sched);
    gj_free(ready);
    return ok;
}

/* ---- the terminal ------------------------------------------------------- */

static struct termios saved;
static bool raw;

static void restore(void)
{
    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    fputs("\033[?25h", stdout);
}

static void on_signal(int sig)
{
    (void)sig;
    restore();
    _exit(0);
}

static void setup_terminal(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        opt.rows = ws.ws_row;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios t = saved;
        t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
    atexit(restore);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fputs("\033[?25l\033[2J", stdout);
}

/* Waits up to a second for a key; false on q. */
static bool keys(void)
{
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0 || !(p.revents & POLLIN))
        return true;
    char c;
    if (read(STDIN_FILENO, &c, 1) != 1)
        return true;
    if (c == 'm')
        opt.sort = "mailbox";
    else if (c == 'e')
        opt.sort = "memory";
    else if (c == 'r')
        opt.sort = "reductions";
    return c != 'q';
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--host ADDR] [--port N] [--sort mailbox|memory|"
            "reductions] [--limit N] [--once]\n       %s http://HOST:PORT\n",
            argv0, argv0);
    return 2;
}

static bool parse_url(const char *u)
{
    static char host[256];
    if (strncmp(u, "http://", 7) != 0)
        return false;
    u += 7;
    const char *colon = strrchr(u, ':');
    size_t n = colon ? (size_t)(colon - u) : strcspn(u, "/");
    if (n == 0 || n >= sizeof host)
        return false;
    memcpy(host, u, n);
    host[n] = '\0';
    if (host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    opt.host = host;
    opt.port = colon ? atoi(colon + 1) : 80;
    return true;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--once") == 0)
            opt.once = true;
        else if (strcmp(a, "--host") == 0 && v)
            opt.host = argv[++i];
        else if (strcmp(a, "--port") == 0 && v)
            opt.port = atoi(argv[++i]);
        else if (strcmp(a, "--limit") == 0 && v)
            opt.limit = atoi(argv[++i]);
        else if (strcmp(a, "--sort") == 0 && v)
            opt.sort = argv[++i];
        else if (!parse_url(a))
            return usage(argv[0]);
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.limit <= 0 ||
        (strcmp(opt.sort, "mailbox") && strcmp(opt.sort, "memory") &&
         strcmp(opt.sort, "reductions")))
        return usage(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    if (opt.once)
        return frame() ? 0 : 1;
    setup_terminal();
    do
        frame();
    while (keys());
    return 0;
}
