/* The HTTP/1.x request parser (RFC 9112), strict where leniency would let
 * two readers disagree (whitespace before a colon, folded lines, two
 * lengths) and bounded everywhere: it looks at no byte past len, and a
 * head that does not end within GROVE__HTTP_HEAD_MAX bytes is refused.
 * It parses the whole buffer again on each call: the head is at most
 * 8 KiB and the caller calls only when a line ended. */
#include <string.h>

#include "http.h"

/* RFC 9110 tchar: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool grove__http_ieq(const char *a, const char *b, size_t blen)
{
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return i == blen && a[i] == '\0';
}

static int fail(grove__http_req_t *req, int status)
{
    req->status = status;
    return -1;
}

static int method_of(const char *m, size_t n)
{
    if (n == 3 && memcmp(m, "GET", 3) == 0)
        return GROVE__HTTP_GET;
    if (n == 4 && memcmp(m, "HEAD", 4) == 0)
        return GROVE__HTTP_HEAD;
    if (n == 4 && memcmp(m, "POST", 4) == 0)
        return GROVE__HTTP_POST;
    return GROVE__HTTP_OTHER;
}

/* The target: origin-form only ("/path?query"), visible ASCII. */
static int parse_target(const char *t, size_t n, grove__http_req_t *req)
{
    if (n == 0 || t[0] != '/')
        return fail(req, 400);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return fail(req, 400);
    }
    const char *q = memchr(t, '?', n);
    req->path = t;
    req->path_len = q ? (size_t)(q - t) : n;
    if (q) {
        req->query = q + 1;
        req->query_len = n - req->path_len - 1;
    }
    return 0;
}

/* "HTTP/1.1": a major version other than 1 is 505, not 400. */
static int parse_version(const char *v, size_t n, grove__http_req_t *req)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
        v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return fail(req, 400);
    if (v[5] != '1')
        return fail(req, 505);
    req->minor = v[7] == '0' ? 0 : 1;
    req->close = req->minor == 0;
    return 0;
}

static int parse_request_line(const char *l, size_t n, grove__http_req_t *req)
{
    size_t m = 0;
    while (m < n && is_tchar((unsigned char)l[m]))
        m++;
    if (m == 0 || m > 16 || m >= n || l[m] != ' ')
        return fail(req, 400);
    req->method = method_of(l, m);
    const char *t = l + m + 1;
    const char *sp = memchr(t, ' ', n - m - 1);
    if (!sp)
        return fail(req, 400);
    if (parse_target(t, (size_t)(sp - t), req) < 0)
        return -1;
    return parse_version(sp + 1, n - (size_t)(sp + 1 - l), req);
}

/* Content-Length: digits only, and the same value if repeated. */
static int parse_length(const char *v, size_t n, grove__http_req_t *req)
{
    if (n == 0 || n > 18)
        return fail(req, 400);
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(req, 400);
        x = x * 10 + (v[i] - '0');
    }
    if (req->content_length >= 0 && req->content_length != x)
        return fail(req, 400);
    req->content_length = x;
    return 0;
}

/* Connection: a comma-separated token list; "close" anywhere counts. */
static bool has_close(const char *v, size_t n)
{
    for (size_t i = 0; i + 5 <= n; i++)
        if (grove__http_ieq("close", v + i, 5) &&
            (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + 5 == n || v[i + 5] == ',' || v[i + 5] == ' '))
            return true;
    return false;
}

static int set_once(const char **p, size_t *plen, const char *v, size_t n,
                    grove__http_req_t *req)
{
    if (*p)
        return fail(req, 400);
    *p = v;
    *plen = n;
    return 0;
}

static int use_header(const char *k, size_t kn, const char *v, size_t vn,
                      grove__http_req_t *req)
{
    if (grove__http_ieq("host", k, kn))
        return set_once(&req->host, &req->host_len, v, vn, req);
    if (grove__http_ieq("origin", k, kn))
        return set_once(&req->origin, &req->origin_len, v, vn, req);
    if (grove__http_ieq("last-event-id", k, kn))
        return set_once(&req->last_event_id, &req->last_event_id_len, v,
                        vn, req);
    if (grove__http_ieq("content-length", k, kn))
        return parse_length(v, vn, req);
    if (grove__http_ieq("transfer-encoding", k, kn))
        req->chunked = true;
    else if (grove__http_ieq("connection", k, kn) && has_close(v, vn))
        req->close = true;
    return 0;
}

static int parse_header(const char *l, size_t n, grove__http_req_t *req)
{
    if (++req->nheaders > GROVE__HTTP_HEADERS_MAX)
        return fail(req, 431);
    size_t k = 0;
    while (k < n && is_tchar((unsigned char)l[k]))
        k++;
    /* No name, a space before the colon, or a folded line: refused. */
    if (k == 0 || k >= n || l[k] != ':')
        return fail(req, 400);
    size_t a = k + 1, b = n;
    while (a < b && (l[a] == ' ' || l[a] == '\t'))
        a++;
    while (b > a && (l[b - 1] == ' ' || l[b - 1] == '\t'))
        b--;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)l[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(req, 400);
    }
    return use_header(l, k, l + a, b - a, req);
}

/* Checks what the complete head said as a whole. */
static int finish(grove__http_req_t *req)
{
    if (req->minor == 1 && !req->host)
        return fail(req, 400);
    if (req->chunked && req->content_length >= 0)
        return fail(req, 400);
    return 0;
}

/* The head is incomplete: fine unless it can no longer fit. */
static int incomplete(size_t len, size_t line_start, bool first,
                      grove__http_req_t *req)
{
    if (first && len - line_start > GROVE__HTTP_LINE_MAX)
        return fail(req, 414);
    if (len >= GROVE__HTTP_HEAD_MAX)
        return fail(req, 431);
    return 0;
}

static void req_init(grove__http_req_t *req)
{
    memset(req, 0, sizeof *req);
    req->content_length = -1;
}

int grove__http_parse(const char *buf, size_t len, grove__http_req_t *req)
{
    req_init(req);
    bool first = true;
    size_t pos = 0;
    for (;;) {
        const char *nl = pos < len ? memchr(buf + pos, '\n', len - pos)
                                   : NULL;
        if (!nl)
            return incomplete(len, pos, first, req);
        size_t end = (size_t)(nl - buf), n = end - pos;
        if (end + 1 > GROVE__HTTP_HEAD_MAX)
            return fail(req, first ? 414 : 431);
        if (n > 0 && buf[end - 1] == '\r')
            n--;
        const char *l = buf + pos;
        pos = end + 1;
        if (memchr(l, '\r', n))
            return fail(req, 400); /* a bare CR inside a line */
        if (first && n == 0 && pos <= 4)
            continue; /* a stray blank line before the request line */
        if (first && n > GROVE__HTTP_LINE_MAX)
            return fail(req, 414);
        int rc = 0;
        if (first)
            rc = parse_request_line(l, n, req);
        else if (n == 0)
            return finish(req) < 0 ? -1 : (int)pos;
        else
            rc = parse_header(l, n, req);
        if (rc < 0)
            return -1;
        first = false;
    }
}

static int hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes v[0..n) into out; returns the length or -2. */
static int decode(const char *v, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)v[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int h = i + 2 < n ? hex((unsigned char)v[i + 1]) : -1;
            int l = h >= 0 ? hex((unsigned char)v[i + 2]) : -1;
            if (l < 0)
                return -2;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= size)
            return -2;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

int grove__http_query_get(const char *query, size_t len, const char *name,
                          char *out, size_t size)
{
    if (!out || size == 0)
        return -2;
    size_t nl = strlen(name), pos = 0;
    while (query && pos < len) {
        const char *amp = memchr(query + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *p = query + pos;
        size_t n = end - pos;
        if (n >= nl && memcmp(p, name, nl) == 0 && (n == nl || p[nl] == '='))
            return n == nl ? decode("", 0, out, size)
                           : decode(p + nl + 1, n - nl - 1, out, size);
        pos = end + 1;
    }
    return -1;
}
