/* Fuzz target: the observer's HTTP request parser and query decoding
 * (src/observe/http.c), and its JSON string escaper (src/observe/json.c).
 *
 * The first input byte picks a mode:
 *  - raw bytes: the rest of the input is a request head, parsed from a
 *    heap block of exactly its size (a read past it is caught). The
 *    answer must be consistent: a refusal names one of the statuses the
 *    observer sends; an accepted head ends in a newline inside the
 *    buffer, its path starts with '/', every part points inside it, and
 *    parsing just the head, or the head split anywhere, agrees (a shorter
 *    prefix is never accepted). Each query parameter the observer reads
 *    decodes to a terminated value that fits.
 *  - built requests: a method, a path, a query and headers are made from
 *    the input out of valid characters, joined with CRLF or bare LF, and
 *    must parse back to exactly those parts.
 *  - JSON: arbitrary bytes escaped into buffers of every size must give
 *    one valid JSON string that fits.
 * No runtime is needed: the parser and the escaper are pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
/* The parser's header stands alone, so no include path is needed. */
#include "../src/observe/http.h"

/* ---- raw heads ---------------------------------------------------------- */

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return !p ? n == 0 : p >= buf && p + n <= buf + len;
}

static void check_params(const grove__http_req_t *r, fz_t *f)
{
    static const char *const names[] = {"pid", "sort", "limit", "since", ""};
    char out[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t size = fz_range(f, 1, sizeof out);
        int n = grove__http_query_get(r->query, r->query_len, names[i], out,
                                      size);
        FZ_CHECK(n >= -2, "query_get: %d", n);
        if (n >= 0) {
            FZ_CHECK((size_t)n < size && out[n] == '\0' &&
                         strlen(out) == (size_t)n,
                     "query value of %d bytes in %zu", n, size);
        }
    }
}

static void check_accepted(const char *buf, size_t len, int rc,
                           const grove__http_req_t *r, fz_t *f)
{
    FZ_CHECK((size_t)rc <= len && buf[rc - 1] == '\n', "head of %d", rc);
    FZ_CHECK(rc <= GROVE__HTTP_HEAD_MAX, "head of %d", rc);
    FZ_CHECK(r->path && r->path_len > 0 && r->path[0] == '/', "path");
    FZ_CHECK(inside(r->path, r->path_len, buf, len) &&
                 inside(r->query, r->query_len, buf, len) &&
                 inside(r->host, r->host_len, buf, len) &&
                 inside(r->origin, r->origin_len, buf, len) &&
                 inside(r->last_event_id, r->last_event_id_len, buf, len),
             "a part points outside the buffer");
    FZ_CHECK(r->minor == 0 || r->minor == 1, "minor %d", r->minor);
    FZ_CHECK(r->method >= GROVE__HTTP_OTHER && r->method <= GROVE__HTTP_POST,
             "method %d", r->method);
    FZ_CHECK(r->nheaders <= GROVE__HTTP_HEADERS_MAX, "%d headers",
             r->nheaders);
    FZ_CHECK(r->minor == 0 || r->host, "HTTP/1.1 without Host accepted");
    check_params(r, f);
}

/* Parses buf[0..n) from its own exact-size copy. */
static int parse_copy(const char *buf, size_t n, grove__http_req_t *r)
{
    char *c = malloc(n ? n : 1);
    memcpy(c, buf, n);
    int rc = grove__http_parse(c, n, r);
    free(c);
    return rc;
}

static void fuzz_raw(fz_t *f)
{
    size_t len = f->n;
    char *buf = malloc(len ? len : 1);
    fz_fill(f, buf, len);
    grove__http_req_t r, again;
    int rc = grove__http_parse(buf, len, &r);
    if (rc < 0) {
        FZ_CHECK(r.status == 400 || r.status == 414 || r.status == 431 ||
                     r.status == 505,
                 "refused with %d", r.status);
    } else if (rc == 0) {
        FZ_CHECK(len < GROVE__HTTP_HEAD_MAX, "%zu bytes still incomplete",
                 len);
    } else {
        fz_t g = {(const uint8_t *)buf, len};
        check_accepted(buf, len, rc, &r, &g);
        FZ_CHECK(parse_copy(buf, (size_t)rc, &again) == rc,
                 "the head alone parses differently");
        for (int i = 0; i < 3; i++) {
            size_t cut = (size_t)(buf[i % len] & 0x7f) * (size_t)rc / 128;
            FZ_CHECK(parse_copy(buf, cut, &again) == 0,
                     "a prefix of %zu bytes of a %d-byte head answered",
                     cut, rc);
        }
    }
    free(buf);
}

/* ---- built requests ----------------------------------------------------- */

static void put(char *b, size_t *n, size_t cap, const char *s, size_t k)
{
    if (*n + k <= cap) {
        memcpy(b + *n, s, k);
        *n += k;
    }
}

/* k characters from the input, mapped into allowed. */
static size_t pick(fz_t *f, char *out, size_t max, const char *allowed)
{
    size_t k = fz_range(f, 0, (uint32_t)max), na = strlen(allowed);
    for (size_t i = 0; i < k; i++)
        out[i] = allowed[fz_u8(f) % na];
    return k;
}

static const char PATH_CHARS[] = "abcdefghijklmnopqrstuvwxyz0123456789"
                                 "-._~!$&'()*+,;=:@/%";
static const char VALUE_CHARS[] = "abcdefghijklmnopqrstuvwxyz 0123456789"
                                  "\t!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

static void fuzz_built(fz_t *f)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT"};
    char path[200] = "/", query[200], host[64], value[200];
    size_t pl = 1 + pick(f, path + 1, 150, PATH_CHARS);
    path[pl] = '\0';
    /* A '?' in the path would start the query: none is made. */
    size_t ql = pick(f, query, 150, PATH_CHARS);
    size_t hl = 1 + pick(f, host + 1, 40, "abc.0123:[]");
    host[0] = 'h';
    size_t vl = pick(f, value, 150, VALUE_CHARS);
    bool lf = fz_bool(f), has_query = fz_bool(f);
    const char *eol = lf ? "\n" : "\r\n";
    int m = (int)fz_range(f, 0, 3);
    char req[1024];
    size_t n = 0;
    n = (size_t)snprintf(req, sizeof req, "%s %.*s%s%.*s HTTP/1.1%s",
                         methods[m], (int)pl, path, has_query ? "?" : "",
                         (int)(has_query ? ql : 0), query, eol);
    put(req, &n, sizeof req, "Host: ", 6);
    put(req, &n, sizeof req, host, hl);
    put(req, &n, sizeof req, eol, strlen(eol));
    put(req, &n, sizeof req, "X-Fuzz:  ", 9);
    put(req, &n, sizeof req, value, vl);
    put(req, &n, sizeof req, eol, strlen(eol));
    put(req, &n, sizeof req, eol, strlen(eol));
    grove__http_req_t r;
    int rc = parse_copy(req, n, &r);
    FZ_CHECK(rc == (int)n, "built request gave %d (status %d): %.*s", rc,
             r.status, (int)n, req);
    FZ_CHECK(r.method == (m == 3 ? GROVE__HTTP_OTHER : m + 1), "method");
    FZ_CHECK(r.path_len == pl && r.minor == 1 && r.host_len == hl,
             "path %zu/%zu host %zu/%zu", r.path_len, pl, r.host_len, hl);
    FZ_CHECK(has_query ? r.query_len == ql : r.query == NULL, "query");
}

/* ---- JSON strings ------------------------------------------------------- */

static void fuzz_json(fz_t *f)
{
    const uint8_t *p;
    size_t n = fz_bytes(f, f->n, &p);
    char *src = malloc(n + 1);
    memcpy(src, p, n);
    src[n] = '\0';
    size_t full = n * 6 + 3;
    char *dst = malloc(full);
    for (size_t cap = 3; cap <= full; cap = cap < 64 ? cap + 1 : cap * 2) {
        size_t w = grove__obs_json_escape(dst, cap, src, n);
        FZ_CHECK(w < cap && dst[w] == '\0', "wrote %zu in %zu", w, cap);
        const char *why = fz_json_check(dst, w);
        FZ_CHECK(!why, "not a JSON string (%s): %s", why, dst);
    }
    free(dst);
    free(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f = {data, size};
    switch (fz_u8(&f) % 3) {
    case 0:
        fuzz_raw(&f);
        break;
    case 1:
        fuzz_built(&f);
        break;
    default:
        fuzz_json(&f);
        break;
    }
    return 0;
}
