/* Response output: a buffer that grows to a threshold and then goes to
 * the socket, so a response about a million processes needs no more
 * memory than one about ten; and JSON strings that stay valid whatever
 * bytes a process name or an exit reason holds. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "obs.h"

/* Flushed once this much is buffered. */
#define FLUSH_AT (16u * 1024u)
/* One socket write may wait this long for a slow reader. */
#define WRITE_MS 10000

/* ---- JSON strings ------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k;
    unsigned min;
    unsigned c = s[0];
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4, min = 0x10000;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    unsigned v = c & (0x7fu >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    return k;
}

/* The escaped form of the character at s; *used says how many source
 * bytes it stands for. Returns its length in esc. */
static size_t escape_one(const unsigned char *s, size_t n, char esc[8],
                         size_t *used)
{
    unsigned c = s[0];
    *used = 1;
    if (c == '"' || c == '\\') {
        esc[0] = '\\', esc[1] = (char)c;
        return 2;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
        esc[0] = '\\', esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        snprintf(esc, 8, "\\u%04x", c);
        return 6;
    }
    if (c < 0x80) {
        esc[0] = (char)c;
        return 1;
    }
    size_t k = utf8_len(s, n);
    if (k == 0) {
        memcpy(esc, "\\ufffd", 6);
        return 6;
    }
    memcpy(esc, s, k);
    *used = k;
    return k;
}

size_t grove__obs_json_escape(char *dst, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0;
    dst[o++] = '"';
    for (size_t i = 0; i < n && p[i];) {
        char esc[8];
        size_t used;
        size_t k = escape_one(p + i, n - i, esc, &used);
        if (o + k + 2 > cap)
            break; /* room is kept for the closing quote and the NUL */
        memcpy(dst + o, esc, k);
        o += k;
        i += used;
    }
    dst[o++] = '"';
    dst[o] = '\0';
    return o;
}

/* ---- the buffer --------------------------------------------------------- */

static bool reserve(grove__obs_out_t *w, size_t n)
{
    if (w->err)
        return false;
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n)
        cap *= 2;
    char *b = grove_realloc(w->buf, cap);
    if (!b) {
        w->err = GROVE_ENOMEM;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

int grove__obs_flush(grove__obs_out_t *w)
{
    if (w->err || w->len == 0)
        return w->err;
    grove_timeout_t t = WRITE_MS;
    int64_t left = w->deadline - (int64_t)grove_now_ms();
    if (w->deadline && left < t)
        t = left > 0 ? left : 0;
    int rc = w->discard ? 0 : grove_io_write(w->sock, w->buf, w->len, t);
    w->len = 0;
    if (rc < 0)
        w->err = rc;
    return w->err;
}

void grove__obs_put(grove__obs_out_t *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    if (w->len >= FLUSH_AT)
        grove__obs_flush(w);
}

void grove__obs_puts(grove__obs_out_t *w, const char *s)
{
    grove__obs_put(w, s, strlen(s));
}

void grove__obs_printf(grove__obs_out_t *w, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        grove__obs_put(w, small, (size_t)n);
        return;
    }
    if (!reserve(w, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(w->buf + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
    if (w->len >= FLUSH_AT)
        grove__obs_flush(w);
}

void grove__obs_json_str(grove__obs_out_t *w, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (max && n > max)
        n = max;
    /* Each source byte becomes at most 6 bytes ("\u00xx", "\ufffd"). */
    size_t need = n * 6 + 3;
    if (!reserve(w, need))
        return;
    w->len += grove__obs_json_escape(w->buf + w->len, need, s, n);
    if (w->len >= FLUSH_AT)
        grove__obs_flush(w);
}

void grove__obs_json_pid(grove__obs_out_t *w, grove_pid_t p)
{
    if (grove_pid_is_none(p)) {
        grove__obs_puts(w, "null");
        return;
    }
    char b[GROVE_PID_STR_MAX];
    grove_pid_format(p, b, sizeof b);
    grove__obs_printf(w, "\"%s\"", b);
}
