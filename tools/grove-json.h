/* A small JSON reader for the observer's clients (tools/grove-top.c and
 * the tests in tests/observe): parses a document into a tree of values
 * and finds members by key. Header-only, C11 and libc, no Grove: a
 * client of the observer must not need the runtime it watches.
 *
 * Values are trusted to be small (an observer's answer): the parser is
 * recursive, with a depth limit, and allocates one block per value. */
#ifndef GROVE_JSON_H
#define GROVE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { GJ_NULL, GJ_BOOL, GJ_NUM, GJ_STR, GJ_ARR, GJ_OBJ };

typedef struct gj {
    int type;
    bool b;
    double num;
    char *str;        /* GJ_STR: decoded, NUL-terminated */
    struct gj **item; /* GJ_ARR, GJ_OBJ: the values */
    char **key;       /* GJ_OBJ: the keys */
    size_t n;
} gj_t;

typedef struct gj_in {
    const char *p, *end;
    int depth;
    const char *err;
} gj_in_t;

#define GJ_DEPTH_MAX 64

static inline void gj_free(gj_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        gj_free(v->item[i]);
        if (v->key)
            free(v->key[i]);
    }
    free(v->item);
    free(v->key);
    free(v->str);
    free(v);
}

static inline void gj_ws(gj_in_t *in)
{
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' ||
                               *in->p == '\n' || *in->p == '\r'))
        in->p++;
}

static inline gj_t *gj_fail(gj_in_t *in, const char *why, gj_t *v)
{
    if (!in->err)
        in->err = why;
    gj_free(v);
    return NULL;
}

static inline int gj_hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static inline size_t gj_utf8(unsigned long c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* One escape after the backslash; writes its bytes to o. */
static inline size_t gj_escape(gj_in_t *in, char *o)
{
    char c = *in->p++;
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = c ? strchr(from, c) : NULL;
    if (k) {
        o[0] = to[k - from];
        return 1;
    }
    if (c != 'u' || in->end - in->p < 4 || gj_hex4(in->p) < 0) {
        in->err = "bad escape";
        return 0;
    }
    unsigned long u = (unsigned long)gj_hex4(in->p);
    in->p += 4;
    if (u >= 0xd800 && u < 0xdc00 && in->end - in->p >= 6 &&
        in->p[0] == '\\' && in->p[1] == 'u' && gj_hex4(in->p + 2) >= 0xdc00 &&
        gj_hex4(in->p + 2) < 0xe000) {
        u = 0x10000 + ((u - 0xd800) << 10) +
            ((unsigned long)gj_hex4(in->p + 2) - 0xdc00);
        in->p += 6;
    }
    return gj_utf8(u, o);
}

static inline char *gj_string(gj_in_t *in)
{
    in->p++; /* the opening quote */
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (s && in->p < in->end && *in->p != '"') {
        if (n + 5 > cap) {
            char *t = realloc(s, cap *= 2);
            if (!t)
                break;
            s = t;
        }
        unsigned char c = (unsigned char)*in->p;
        if (c < 0x20) {
            in->err = "control character in a string";
            break;
        }
        if (c == '\\') {
            in->p++;
            size_t k = in->p < in->end ? gj_escape(in, s + n) : 0;
            if (!k)
                break;
            n += k;
        } else {
            s[n++] = (char)c;
            in->p++;
        }
    }
    if (!s || in->err || in->p >= in->end) {
        free(s);
        if (!in->err)
            in->err = "unterminated string";
        return NULL;
    }
    in->p++;
    s[n] = '\0';
    return s;
}

static inline gj_t *gj_value(gj_in_t *in);

static inline bool gj_push(gj_t *v, gj_t *item, char *key)
{
    gj_t **it = realloc(v->item, (v->n + 1) * sizeof *it);
    if (!it)
        return false;
    v->item = it;
    if (v->type == GJ_OBJ) {
        char **k = realloc(v->key, (v->n + 1) * sizeof *k);
        if (!k)
            return false;
        v->key = k;
        v->key[v->n] = key;
    }
    v->item[v->n++] = item;
    return true;
}

/* An array or an object, after its opening bracket. */
static inline gj_t *gj_list(gj_in_t *in, gj_t *v, char close)
{
    gj_ws(in);
    if (in->p < in->end && *in->p == close) {
        in->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        gj_ws(in);
        if (close == '}') {
            if (in->p >= in->end || *in->p != '"' || !(key = gj_string(in)))
                return gj_fail(in, "bad key", v);
            gj_ws(in);
            if (in->p >= in->end || *in->p++ != ':') {
                free(key);
                return gj_fail(in, "missing colon", v);
            }
        }
        gj_t *item = gj_value(in);
        if (!item || !gj_push(v, item, key)) {
            free(key);
            gj_free(item);
            return gj_fail(in, "bad value", v);
        }
        gj_ws(in);
        if (in->p < in->end && *in->p == ',') {
            in->p++;
            continue;
        }
        if (in->p < in->end && *in->p++ == close)
            return v;
        return gj_fail(in, "missing comma or bracket", v);
    }
}

static inline bool gj_word(gj_in_t *in, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(in->end - in->p) < n || memcmp(in->p, w, n) != 0)
        return false;
    in->p += n;
    return true;
}

static inline gj_t *gj_number(gj_in_t *in, gj_t *v)
{
    char buf[64];
    size_t n = 0;
    while (in->p < in->end && n < sizeof buf - 1 &&
           strchr("+-0123456789.eE", *in->p) && *in->p)
        buf[n++] = *in->p++;
    buf[n] = '\0';
    char *end;
    v->type = GJ_NUM;
    v->num = strtod(buf, &end);
    return n && *end == '\0' ? v : gj_fail(in, "bad number", v);
}

static inline gj_t *gj_value(gj_in_t *in)
{
    gj_ws(in);
    gj_t *v = calloc(1, sizeof *v);
    if (!v || in->p >= in->end || ++in->depth > GJ_DEPTH_MAX)
        return gj_fail(in, "unexpected end or too deep", v);
    char c = *in->p;
    gj_t *r = v;
    if (c == '{' || c == '[') {
        in->p++;
        v->type = c == '{' ? GJ_OBJ : GJ_ARR;
        r = gj_list(in, v, c == '{' ? '}' : ']');
    } else if (c == '"') {
        v->type = GJ_STR;
        if (!(v->str = gj_string(in)))
            r = gj_fail(in, "bad string", v);
    } else if (gj_word(in, "true") || gj_word(in, "false")) {
        v->type = GJ_BOOL;
        v->b = in->p[-1] == 'e' && in->p[-2] == 'u';
    } else if (gj_word(in, "null")) {
        v->type = GJ_NULL;
    } else {
        r = gj_number(in, v);
    }
    in->depth--;
    return r;
}

/* Parses exactly one JSON value from s[0..len). Returns it (free with
 * gj_free) or NULL, with *err saying why when err is not NULL. */
static inline gj_t *gj_parse(const char *s, size_t len, const char **err)
{
    gj_in_t in = {s, s + len, 0, NULL};
    gj_t *v = gj_value(&in);
    gj_ws(&in);
    if (v && in.p != in.end)
        v = gj_fail(&in, "text after the value", v);
    if (err)
        *err = in.err;
    return v;
}

/* The member key of an object, or NULL. */
static inline const gj_t *gj_get(const gj_t *v, const char *key)
{
    if (!v || v->type != GJ_OBJ)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->key[i], key) == 0)
            return v->item[i];
    return NULL;
}

/* Element i of an array, or NULL. */
static inline const gj_t *gj_at(const gj_t *v, size_t i)
{
    return v && v->type == GJ_ARR && i < v->n ? v->item[i] : NULL;
}

static inline size_t gj_len(const gj_t *v)
{
    return v && (v->type == GJ_ARR || v->type == GJ_OBJ) ? v->n : 0;
}

/* A string member, or dflt. */
static inline const char *gj_str(const gj_t *v, const char *key,
                                 const char *dflt)
{
    const gj_t *m = gj_get(v, key);
    return m && m->type == GJ_STR ? m->str : dflt;
}

/* A number member, or dflt. */
static inline double gj_num(const gj_t *v, const char *key, double dflt)
{
    const gj_t *m = gj_get(v, key);
    return m && m->type == GJ_NUM ? m->num : dflt;
}

#endif
