/* Helpers of the observer's tests: see obs_util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "obs_util.h"

/* ---- the tree ----------------------------------------------------------- */

void obs_worker_main(void *arg)
{
    (void)arg;
    for (;;) {
        grove_msg_t *m;
        if (grove_recv(&m, GROVE_INFINITY) == 0)
            grove_msg_free(m);
    }
}

static grove_child_spec_t tree_kids[3];
static grove_sup_spec_t spec;

grove_pid_t obs_start_tree(uint32_t backoff_ms)
{
    memset(tree_kids, 0, sizeof tree_kids);
    tree_kids[0] = (grove_child_spec_t){.id = "w1", .entry = obs_worker_main};
    tree_kids[1] = (grove_child_spec_t){.id = "w2", .entry = obs_worker_main};
    tree_kids[2] = (grove_child_spec_t){.id = "w3", .entry = obs_worker_main,
                                   .backoff = {.initial_ms = backoff_ms}};
    spec = (grove_sup_spec_t){.name = "Obs.Sup",
                              .flags = {.max_restarts = 50,
                                        .max_seconds = 60},
                              .children = tree_kids,
                              .nchildren = 3};
    grove_pid_t sup;
    grove_reason_t why;
    ASSERT_OK(grove_sup_start(&spec, NULL, &sup, &why));
    return sup;
}

void obs_stop_tree(grove_pid_t sup)
{
    grove_reason_t why;
    int rc = grove_gs_stop(grove_server_pid(sup), NULL, 10000, &why);
    if (rc != 0 && rc != GROVE_ENOPROC)
        GT_FAIL("stopping the tree: %s", grove_errname(rc));
}

int obs_start_at(const char *file, int line, const grove_observer_opts_t *o,
                 grove_pid_t *pid)
{
    int rc = grove_observer_start(o, pid);
    if (rc != 0)
        gt_fail(file, line, "grove_observer_start: %s", grove_errname(rc));
    int port = grove_observer_port(*pid);
    if (port <= 0)
        gt_fail(file, line, "grove_observer_port: %d", port);
    return port;
}

/* ---- sockets on the blocking pool --------------------------------------- */

int obs_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A connect to loopback completes or is refused at once. */
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        GT_FAIL("connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

/* Blocking jobs live on the heap, never on the caller's stack: a process
 * waiting longer than the runtime's stack_trim_ms has its stack pages
 * taken away, and the pool thread must not write into them. */
typedef struct io_job {
    int fd;
    const char *needle;
    int timeout_ms;
    char *got;
    size_t got_len;
    int64_t ms;
    size_t len;
    char data[]; /* what to send */
} io_job_t;

static io_job_t *job_new(int fd, const void *data, size_t len)
{
    io_job_t *j = calloc(1, sizeof *j + len + 1);
    ASSERT_NOT_NULL(j);
    j->fd = fd;
    j->len = len;
    if (len)
        memcpy(j->data, data, len);
    return j;
}

static void job_free(void *arg)
{
    io_job_t *j = arg;
    free(j->got);
    free(j);
}

void obs_blocking(void (*fn)(void *), void *job, void (*dtor)(void *))
{
    ASSERT_OK(grove_io_blocking_owned(fn, job, dtor));
}

static void do_send(void *arg)
{
    io_job_t *j = arg;
    size_t off = 0;
    while (off < j->len) {
        ssize_t n = send(j->fd, j->data + off, j->len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the observer may close on a request it refused */
        off += (size_t)n;
    }
}

void obs_send(int fd, const void *data, size_t len)
{
    io_job_t *j = job_new(fd, data, len);
    obs_blocking(do_send, j, job_free);
    job_free(j);
}

/* Reads until needle shows, the peer closes, or the time is up. */
static void do_read(void *arg)
{
    io_job_t *j = arg;
    size_t cap = 1 << 16;
    int64_t t0 = gt_now_ms(), end = t0 + j->timeout_ms;
    j->got = malloc(cap);
    j->got_len = 0;
    j->got[0] = '\0';
    for (;;) {
        int64_t left = end - gt_now_ms();
        struct pollfd p = {j->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (j->got_len + 4096 + 1 > cap)
            j->got = realloc(j->got, cap *= 2);
        ssize_t n = recv(j->fd, j->got + j->got_len, 4096, 0);
        if (n <= 0)
            break;
        j->got_len += (size_t)n;
        j->got[j->got_len] = '\0';
        if (j->len && memmem(j->got, j->got_len, j->data, j->len))
            break;
    }
    j->ms = gt_now_ms() - t0;
}

/* Reads into a new job (the needle, if any, is its data). */
static io_job_t *read_job(int fd, const char *needle, int timeout_ms)
{
    io_job_t *j = job_new(fd, needle, needle ? strlen(needle) : 0);
    j->timeout_ms = (int)gt_scaled_ms(timeout_ms);
    obs_blocking(do_read, j, job_free);
    return j;
}

char *obs_read_until(int fd, const char *needle, int timeout_ms)
{
    io_job_t *j = read_job(fd, needle, timeout_ms);
    char *got = j->got;
    free(j);
    return got;
}

/* ---- HTTP --------------------------------------------------------------- */

static void split(obs_resp_t *r, char *all, size_t len)
{
    char *end = strstr(all, "\r\n\r\n");
    if (!end || sscanf(all, "HTTP/1.1 %d", &r->status) != 1) {
        r->status = 0;
        r->head = all;
        r->body = strdup("");
        return;
    }
    size_t hl = (size_t)(end - all) + 2;
    r->body_len = len - hl - 2;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, end + 4, r->body_len);
    r->body[r->body_len] = '\0';
    all[hl] = '\0';
    r->head = all;
}

obs_resp_t obs_raw(int port, const char *raw, size_t len, int timeout_ms)
{
    obs_resp_t r = {0};
    int fd = obs_connect(port);
    obs_send(fd, raw, len);
    io_job_t *j = read_job(fd, NULL, timeout_ms);
    close(fd);
    r.ms = j->ms;
    split(&r, j->got, j->got_len);
    free(j);
    return r;
}

obs_resp_t obs_request(int port, const char *method, const char *path)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "User-Agent: grove-test\r\n\r\n",
                     method, path, port);
    return obs_raw(port, req, (size_t)n, 10000);
}

obs_resp_t obs_get(int port, const char *path)
{
    return obs_request(port, "GET", path);
}

void obs_resp_free(obs_resp_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

gj_t *obs_json_at(const char *file, int line, const obs_resp_t *r)
{
    const char *err = NULL;
    gj_t *v = gj_parse(r->body, r->body_len, &err);
    if (!v)
        gt_fail(file, line, "not JSON (%s): %.400s", err ? err : "?",
                r->body);
    return v;
}

gj_t *obs_get_json_at(const char *file, int line, int port, const char *path,
                      int status)
{
    obs_resp_t r = obs_get(port, path);
    if (r.status != status)
        gt_fail(file, line, "GET %s: status %d, expected %d: %.300s", path,
                r.status, status, r.body);
    if (!strstr(r.head, "Content-Type: application/json"))
        gt_fail(file, line, "GET %s: not JSON: %s", path, r.head);
    gj_t *v = obs_json_at(file, line, &r);
    obs_resp_free(&r);
    return v;
}

const char *obs_header(const obs_resp_t *r, const char *name)
{
    static char val[256];
    size_t n = strlen(name);
    val[0] = '\0';
    for (const char *p = r->head; p && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r\n");
            snprintf(val, sizeof val, "%.*s", (int)k, v);
            break;
        }
    }
    return val;
}

/* ---- finding things ----------------------------------------------------- */

const gj_t *obs_find_id(const gj_t *node, const char *id)
{
    const char *mine = gj_str(node, "id", NULL);
    if (mine && strcmp(mine, id) == 0)
        return node;
    const gj_t *kids = gj_get(node, "children");
    for (size_t i = 0; i < gj_len(kids); i++) {
        const gj_t *f = obs_find_id(gj_at(kids, i), id);
        if (f)
            return f;
    }
    return NULL;
}

const gj_t *obs_find_root(const gj_t *tree, grove_pid_t pid)
{
    const gj_t *roots = gj_get(tree, "roots");
    for (size_t i = 0; i < gj_len(roots); i++)
        if (strcmp(gj_str(gj_at(roots, i), "pid", ""), obs_pid(pid)) == 0)
            return gj_at(roots, i);
    return NULL;
}

const char *obs_pid(grove_pid_t pid)
{
    static char b[4][GROVE_PID_STR_MAX];
    static int k;
    k = (k + 1) % 4;
    return grove_pid_format(pid, b[k], sizeof b[k]);
}

const char *obs_pid_q(grove_pid_t pid)
{
    static char b[64];
    snprintf(b, sizeof b, "%%3C0.%u.%u%%3E", grove_pid_slot(pid),
             grove_pid_generation(pid));
    return b;
}
