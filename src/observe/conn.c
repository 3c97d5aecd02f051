/* One HTTP connection, one process, one request: read the head within
 * the request deadline, check it, route it, answer, close. A client that
 * is slow, silent, huge or malformed costs this process and nothing
 * else: every read and write has a deadline, every buffer a bound, and a
 * crash here ends only this connection (the connection supervisor does
 * not restart it). */
#include <stdio.h>
#include <string.h>

#include "obs.h"

/* A request body is read and dropped; no endpoint takes one this big. */
#define BODY_MAX 8192
/* A response (but an event stream) must be out within this. */
#define RESPONSE_MS 60000
/* The socket must come within this once the process runs. */
#define HANDOFF_MS 5000
/* After the response: how long, and how much, to drain before closing. */
#define LINGER_MS 500
#define LINGER_MAX (256u * 1024u)

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ---- responses ---------------------------------------------------------- */

static void head(grove__obs_conn_t *c, int status, const char *ctype)
{
    grove__obs_out_t *w = &c->out;
    grove__obs_printf(w, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status,
                      reason_phrase(status), ctype);
    /* Nothing here may be cached, framed or sniffed into something else,
     * and the page runs only its own inline code. */
    grove__obs_puts(w, "Cache-Control: no-store\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "X-Frame-Options: DENY\r\n"
                       "Content-Security-Policy: default-src 'none'; "
                       "script-src 'unsafe-inline'; style-src "
                       "'unsafe-inline'; connect-src 'self'; "
                       "img-src data:; frame-ancestors 'none'\r\n"
                       "Connection: close\r\n");
    if (status == 405 && c->allow)
        grove__obs_printf(w, "Allow: %s\r\n", c->allow);
}

void grove__obs_begin(grove__obs_conn_t *c, int status, const char *ctype)
{
    head(c, status, ctype);
    grove__obs_puts(&c->out, "\r\n");
    /* HEAD: the head goes out now and the body is counted, not sent. */
    if (c->req.method == GROVE__HTTP_HEAD) {
        grove__obs_flush(&c->out);
        c->out.discard = true;
    }
}

void grove__obs_respond(grove__obs_conn_t *c, int status, const char *ctype,
                        const char *body, size_t len)
{
    head(c, status, ctype);
    grove__obs_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
    if (c->req.method != GROVE__HTTP_HEAD)
        grove__obs_put(&c->out, body, len);
}

void grove__obs_error(grove__obs_conn_t *c, int status, const char *msg)
{
    char body[256];
    size_t n = grove__obs_json_escape(body + 9, sizeof body - 12, msg,
                                      strlen(msg));
    memcpy(body, "{\"error\":", 9);
    memcpy(body + 9 + n, "}\n", 3);
    grove__obs_respond(c, status, "application/json", body, n + 11);
}

int grove__obs_param(const grove__obs_conn_t *c, const char *name, char *out,
                     size_t size)
{
    return grove__http_query_get(c->req.query, c->req.query_len, name, out,
                                 size);
}

/* ---- reading the request ------------------------------------------------ */

/* Reads until the head parses (> 0), must be refused (-1, req.status
 * set) or the client gave up (0). */
static int read_head(grove__obs_conn_t *c, int64_t deadline, size_t *len)
{
    *len = 0;
    for (;;) {
        int64_t left = deadline - (int64_t)grove_now_ms();
        int n = left > 0 ? grove_io_read(c->sock, c->head + *len,
                                         sizeof c->head - *len, left)
                         : GROVE_ETIMEDOUT;
        if (n == GROVE_ETIMEDOUT) {
            c->req.status = 408;
            return -1;
        }
        if (n <= 0)
            return 0;
        /* Parse only when a line ended (or there is no room left): a
         * client dribbling bytes costs a memchr per read. */
        bool line = memchr(c->head + *len, '\n', (size_t)n) != NULL;
        *len += (size_t)n;
        if (!line && *len < sizeof c->head)
            continue;
        int rc = grove__http_parse(c->head, *len, &c->req);
        if (rc != 0)
            return rc;
    }
}

/* Reads and drops a small body; refuses a big or chunked one. */
static int skip_body(grove__obs_conn_t *c, size_t have, int64_t deadline)
{
    if (c->req.chunked) {
        c->req.status = 501;
        return -1;
    }
    int64_t want = c->req.content_length > 0 ? c->req.content_length : 0;
    if (want > BODY_MAX) {
        c->req.status = 413;
        return -1;
    }
    want -= (int64_t)have;
    while (want > 0) {
        int64_t left = deadline - (int64_t)grove_now_ms();
        int n = left > 0 ? grove_io_read(c->sock, c->head, sizeof c->head,
                                         left)
                         : GROVE_ETIMEDOUT;
        if (n < 0) {
            c->req.status = 408;
            return -1;
        }
        want -= n;
    }
    return 0;
}

/* ---- who may ask -------------------------------------------------------- */

/* A loopback name, with or without a port: what a Host header on a
 * loopback observer must say, or a page elsewhere could reach it
 * through a name that resolves to 127.0.0.1 (DNS rebinding). */
static bool loopback_host(const char *h, size_t n)
{
    const char *colon = NULL;
    if (n && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (!close)
            return false;
        colon = close + 1 < h + n ? close + 1 : NULL;
        if (colon && *colon != ':')
            return false;
    } else {
        colon = memchr(h, ':', n);
    }
    size_t k = colon ? (size_t)(colon - h) : n;
    return grove__http_ieq("localhost", h, k) ||
           grove__http_ieq("[::1]", h, k) ||
           (k >= 4 && memcmp(h, "127.", 4) == 0 &&
            strspn(h, "0123456789.") >= k);
}

/* A POST from a page of another origin is refused: the Origin's host
 * must be the Host the request was sent to. */
static bool same_origin(const grove__http_req_t *r)
{
    if (!r->origin)
        return true;
    const char *o = r->origin;
    size_t n = r->origin_len;
    if (n > 7 && memcmp(o, "http://", 7) == 0)
        o += 7, n -= 7;
    else
        return false;
    return r->host && n == r->host_len && memcmp(o, r->host, n) == 0;
}

static const char *refusal(grove__obs_conn_t *c)
{
    const grove__http_req_t *r = &c->req;
    if (atomic_load_explicit(&c->o->loopback, memory_order_relaxed) &&
        r->host && !loopback_host(r->host, r->host_len))
        return "this observer answers loopback names only";
    if (r->method == GROVE__HTTP_POST && !same_origin(r))
        return "cross-origin request refused";
    return NULL;
}

/* ---- routing ------------------------------------------------------------ */

static bool path_is(const grove__obs_conn_t *c, const char *p)
{
    size_t n = strlen(p);
    return c->req.path_len == n && memcmp(c->req.path, p, n) == 0;
}

typedef struct route {
    const char *path;
    bool post;
    void (*serve)(grove__obs_conn_t *c);
} route_t;

static void serve_healthz(grove__obs_conn_t *c)
{
    grove__obs_respond(c, 200, "text/plain", "ok\n", 3);
}

static const route_t routes[] = {
    {"/", false, grove__obs_serve_page},
    {"/index.html", false, grove__obs_serve_page},
    {"/healthz", false, serve_healthz},
    {"/readyz", false, grove__obs_serve_readyz},
    {"/api/processes", false, grove__obs_serve_processes},
    {"/api/tree", false, grove__obs_serve_tree},
    {"/api/schedulers", false, grove__obs_serve_schedulers},
    {"/api/events", false, grove__obs_serve_events},
    {"/api/kill", true, grove__obs_serve_kill},
};

static void route(grove__obs_conn_t *c)
{
    const char *no = refusal(c);
    if (no) {
        grove__obs_error(c, 403, no);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_is(c, routes[i].path))
            continue;
        int m = c->req.method;
        bool ok = routes[i].post ? m == GROVE__HTTP_POST
                                 : m == GROVE__HTTP_GET ||
                                       m == GROVE__HTTP_HEAD;
        if (ok) {
            routes[i].serve(c);
            return;
        }
        c->allow = routes[i].post ? "POST" : "GET, HEAD";
        grove__obs_error(c, 405, "method not allowed here");
        return;
    }
    grove__obs_error(c, 404, "no such endpoint");
}

static void refuse(grove__obs_conn_t *c)
{
    int st = c->req.status ? c->req.status : 400;
    /* The head could not be trusted: answer as to HTTP/1.1 GET. */
    c->req.method = GROVE__HTTP_GET;
    c->req.path_len = 0;
    grove__obs_error(c, st, reason_phrase(st));
}

static void serve(grove__obs_conn_t *c)
{
    int64_t deadline = (int64_t)grove_now_ms() + c->o->req_timeout;
    size_t len;
    int rc = read_head(c, deadline, &len);
    if (rc == 0)
        return;
    c->out.sock = c->sock;
    c->out.deadline = (int64_t)grove_now_ms() + RESPONSE_MS;
    if (rc < 0 || skip_body(c, len - (size_t)rc, deadline) < 0)
        refuse(c);
    else
        route(c);
    grove__obs_flush(&c->out);
}

/* Closing with unread bytes from the client makes the kernel reset the
 * connection, which can destroy a response still in flight (a 431 to a
 * client still sending). So: end our side, drain what still comes for a
 * short while, then close. */
static void linger_close(grove__obs_conn_t *c)
{
    grove_io_shutdown(c->sock);
    int64_t until = (int64_t)grove_now_ms() + LINGER_MS;
    for (size_t total = 0; total < LINGER_MAX;) {
        int64_t left = until - (int64_t)grove_now_ms();
        int n = left > 0 ? grove_io_read(c->sock, c->head, sizeof c->head,
                                         left)
                         : GROVE_ETIMEDOUT;
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    grove_io_close(c->sock);
}

void grove__obs_conn_main(void *arg)
{
    (void)arg;
    grove__set_behaviour("observer_connection");
    grove__obs_t *o = grove__obs_take();
    if (!o)
        return;
    grove__obs_note_thread(o);
    grove_msg_t *m;
    grove__obs_conn_t *c = grove_calloc(1, sizeof *c);
    if (!c || grove_recv_tag(&m, GROVE__OBS_TAG_SOCKET, HANDOFF_MS) < 0)
        return;
    int rc = grove_io_adopt(m, &c->sock);
    grove_msg_free(m);
    if (rc < 0)
        return;
    c->o = o;
    serve(c);
    linger_close(c);
}
