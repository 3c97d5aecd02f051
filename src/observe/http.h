/* The observer's HTTP request parser: pure functions over a byte buffer,
 * with no runtime, no allocation and no I/O, so a fuzzer can drive them
 * directly (fuzz/fuzz_http.c). The connection process reads bytes and
 * calls grove__http_parse until it answers; what it answers decides the
 * response (see obs.h for the rest of the observer). */
#ifndef GROVE_OBSERVE_HTTP_H
#define GROVE_OBSERVE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Self-contained on purpose (the fuzz target includes it alone); the
 * same definition as base.h's. */
#ifndef GROVE__HIDDEN
#define GROVE__HIDDEN __attribute__((visibility("hidden")))
#endif

/* A request head may not be longer than this (request line and headers,
 * the blank line included): past it the answer is 431 (414 if the request
 * line alone is too long). */
#define GROVE__HTTP_HEAD_MAX 8192
#define GROVE__HTTP_LINE_MAX 2048
#define GROVE__HTTP_HEADERS_MAX 64

enum {
    GROVE__HTTP_OTHER = 0, /* a well-formed method we do not serve */
    GROVE__HTTP_GET,
    GROVE__HTTP_HEAD,
    GROVE__HTTP_POST
};

/* A parsed request head. Every pointer points into the buffer given to
 * grove__http_parse and is valid as long as it is; a missing part has a
 * NULL pointer and length 0. */
typedef struct grove__http_req {
    int method;           /* GROVE__HTTP_* */
    int minor;            /* HTTP/1.minor: 0 or 1 */
    const char *path;     /* the target up to '?', starting with '/' */
    size_t path_len;
    const char *query;    /* after '?', without it */
    size_t query_len;
    const char *host;     /* the Host header's value */
    size_t host_len;
    const char *origin;   /* the Origin header's value */
    size_t origin_len;
    const char *last_event_id; /* Last-Event-ID (server-sent events) */
    size_t last_event_id_len;
    int64_t content_length;    /* -1 when absent */
    bool chunked;              /* Transfer-Encoding names a coding */
    bool close;                /* Connection: close (or HTTP/1.0) */
    int nheaders;
    int status; /* on an error: the status to answer (400, 414, 431, 505) */
} grove__http_req_t;

/* Parses the request head at the start of buf[0..len). Returns the length
 * of the head, blank line included (the body, if any, follows it); 0 when
 * the head is not complete yet (read more, unless len has reached
 * GROVE__HTTP_HEAD_MAX); or -1 for a request that must be refused, with
 * req->status saying how. Lines may end in CRLF or a bare LF. Never reads
 * outside buf[0..len). */
GROVE__HIDDEN int grove__http_parse(const char *buf, size_t len,
                                    grove__http_req_t *req);

/* Finds parameter name in a query string (a=1&b=2) and writes its value,
 * percent-decoded ('+' is a space), with a terminating NUL to out.
 * Returns the value's length; -1 when absent; -2 when it is malformed (a
 * bad escape, a NUL byte) or does not fit in size - 1 bytes. */
GROVE__HIDDEN int grove__http_query_get(const char *query, size_t len,
                                        const char *name, char *out,
                                        size_t size);

/* Writes a JSON string for s[0..n) (it stops early at a NUL) into
 * dst[0..cap), quotes included and NUL-terminated, cut before an escape
 * or character that would not fit; invalid UTF-8 becomes U+FFFD. Returns
 * the bytes written; cap must be at least 3. In json.c, declared here as
 * the parser's twin: the other pure function over untrusted bytes. */
GROVE__HIDDEN size_t grove__obs_json_escape(char *dst, size_t cap,
                                            const char *s, size_t n);

/* True when a and b[0..blen) are equal ignoring ASCII case. */
GROVE__HIDDEN bool grove__http_ieq(const char *a, const char *b,
                                   size_t blen);

#endif
