/* Fuzz target: formatting of values that come from outside.
 *
 *  - grove_reason_format on arbitrary grove_reason_t bytes (kinds out of
 *    range, text with no NUL in the array), into buffers of every size;
 *    grove_reason_error / grove_reason_shutdown with arbitrary text.
 *  - grove_json_escape on arbitrary bytes: the output must be one valid
 *    JSON string (quotes, escapes, no raw control characters) that decodes
 *    back to the input, and truncation must keep a terminated prefix.
 *  - grove_log_json_handler and grove_log_text_handler writing events
 *    whose kind, text and fields are fuzzer bytes to an open_memstream:
 *    JSON output must be exactly one valid JSON object per line; text
 *    output must have the lines the event implies. The same events also
 *    go through grove_log_event to a registered handler.
 *  - grove_pid_format / grove_pid_parse: format-parse round trips, and
 *    arbitrary text must parse only if it is "<0.SLOT.GEN>".
 *
 * No runtime is started: all of these work outside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ---- exit reasons --------------------------------------------------------- */

static size_t text_len(const grove_reason_t *r)
{
    const char *z = memchr(r->text, '\0', sizeof r->text);
    return z ? (size_t)(z - r->text) : sizeof r->text;
}

static bool shows_text(const grove_reason_t *r)
{
    switch (r->kind) {
    case GROVE_EXIT_ERROR:
    case GROVE_EXIT_FAULT:
    case GROVE_EXIT_ASSERT:
        return true;
    default:
        return r->text[0] != '\0';
    }
}

static void check_reason(const grove_reason_t *r, fz_t *f)
{
    char big[1024];
    int n = grove_reason_format(r, big, sizeof big);
    FZ_CHECK(n >= 0 && (size_t)n < sizeof big, "grove_reason_format: %d", n);
    FZ_CHECK(strlen(big) == (size_t)n, "length %d but %zu bytes written", n,
             strlen(big));
    const char *kind = grove_exit_kind_name(r->kind);
    FZ_CHECK(kind && *kind, "no kind name for %d", (int)r->kind);
    size_t klen = strlen(kind);
    bool plain = memcmp(big, kind, klen) == 0 && big[klen] == '\0';
    bool tuple = big[0] == '{' && memcmp(big + 1, kind, klen) == 0 &&
                 big[n - 1] == '}';
    FZ_CHECK(plain || tuple, "kind %d formatted as %s", (int)r->kind, big);
    if (shows_text(r)) {
        size_t tl = text_len(r);
        FZ_CHECK(tl == 0 || memmem(big, (size_t)n, r->text, tl),
                 "text missing from %s", big);
    }

    /* Every buffer size: a terminated prefix and the same return value. */
    size_t sz = fz_range(f, 0, (uint32_t)n + 2);
    char *small = malloc(sz ? sz : 1);
    int m = grove_reason_format(r, sz ? small : NULL, sz);
    FZ_CHECK(m == n, "size %zu: returned %d, not %d", sz, m, n);
    if (sz) {
        size_t k = (size_t)n < sz - 1 ? (size_t)n : sz - 1;
        FZ_CHECK(memcmp(small, big, k) == 0 && small[k] == '\0',
                 "size %zu: not a terminated prefix", sz);
    }
    free(small);

    grove_reason_t copy;
    memcpy(&copy, r, sizeof copy);
    FZ_CHECK(grove_reason_equal(r, &copy), "a reason differs from its copy");
    (void)grove_reason_is_shutdown_class(r);
}

static void fuzz_reason(fz_t *f)
{
    /* On the heap, exactly its size: a read past the struct is caught. */
    grove_reason_t *r = malloc(sizeof *r);
    fz_fill(f, r, sizeof *r);
    uint8_t mode = fz_u8(f);
    if (mode & 1) /* a kind near the valid range */
        r->kind = (int32_t)(mode >> 1) % (GROVE_EXIT__COUNT + 3) - 1;
    if (mode & 0x80) /* no terminator anywhere in the text */
        for (size_t i = 0; i < sizeof r->text; i++)
            if (!r->text[i])
                r->text[i] = (char)('a' + i % 26);
    check_reason(r, f);
    free(r);

    char buf[16];
    FZ_CHECK(grove_reason_format(NULL, buf, sizeof buf) == 6 &&
                 strcmp(buf, "(null)") == 0,
             "NULL reason");

    /* The constructors truncate and terminate. */
    size_t len;
    char *s = fz_str(f, 300, &len);
    size_t want = strlen(s) < GROVE_REASON_TEXT_MAX - 1
                      ? strlen(s)
                      : GROVE_REASON_TEXT_MAX - 1;
    grove_reason_t e = grove_reason_error((int)fz_u32(f), "%s", s);
    FZ_CHECK(text_len(&e) == want && memcmp(e.text, s, want) == 0,
             "grove_reason_error kept %zu of %zu bytes", text_len(&e), want);
    check_reason(&e, f);
    grove_reason_t sd = grove_reason_shutdown(s);
    FZ_CHECK(text_len(&sd) == want && sd.kind == GROVE_EXIT_SHUTDOWN,
             "grove_reason_shutdown kept %zu of %zu bytes", text_len(&sd),
             want);
    FZ_CHECK(grove_reason_is_shutdown_class(&sd), "shutdown not shutdown");
    check_reason(&sd, f);
    free(s);
}

/* ---- JSON escaping -------------------------------------------------------------- */

static char *escape(const char *s, int *n_out)
{
    int n = grove_json_escape(s, NULL, 0);
    FZ_CHECK(n >= 2, "grove_json_escape needs %d", n);
    char *out = malloc((size_t)n + 1);
    int m = grove_json_escape(s, out, (size_t)n + 1);
    FZ_CHECK(m == n && strlen(out) == (size_t)n,
             "grove_json_escape: %d then %d, %zu bytes", n, m, strlen(out));
    if (n_out)
        *n_out = n;
    return out;
}

static void fuzz_json_escape(fz_t *f)
{
    size_t len;
    char *s = fz_str(f, 4096, &len);
    size_t slen = strlen(s);
    int n;
    char *out = escape(s, &n);
    FZ_CHECK((size_t)n >= slen + 2 && (size_t)n <= 6 * slen + 2,
             "%zu bytes escaped to %d", slen, n);
    const char *err = fz_json_check(out, (size_t)n);
    FZ_CHECK(!err, "not a JSON string (%s): %s", err, out);
    FZ_CHECK(out[0] == '"', "no opening quote: %s", out);
    char *dec = malloc(slen + 1);
    long d = fz_json_unquote(out, (size_t)n, dec, slen + 1);
    FZ_CHECK(d == (long)slen && memcmp(dec, s, slen) == 0,
             "does not decode back (%ld of %zu bytes): %s", d, slen, out);
    free(dec);

    size_t sz = fz_range(f, 1, (uint32_t)n + 1);
    char *t = malloc(sz);
    int m = grove_json_escape(s, t, sz);
    size_t k = (size_t)n < sz - 1 ? (size_t)n : sz - 1;
    FZ_CHECK(m == n && strlen(t) == k && memcmp(t, out, k) == 0,
             "size %zu: returned %d, wrote %zu bytes", sz, m, strlen(t));
    free(t);
    free(out);
    free(s);

    char two[3];
    FZ_CHECK(grove_json_escape(NULL, two, sizeof two) == 2 &&
                 strcmp(two, "\"\"") == 0,
             "NULL string");
}

/* ---- log handlers ----------------------------------------------------------------- */

#define MAX_FIELDS 8

typedef struct ev_buf {
    grove_log_event_t ev;
    grove_log_field_t fields[MAX_FIELDS];
    char *strs[2 + 2 * MAX_FIELDS];
    size_t nstrs;
} ev_buf_t;

static char *ev_str(fz_t *f, ev_buf_t *b, size_t max)
{
    char *s = fz_str(f, max, NULL);
    b->strs[b->nstrs++] = s;
    return s;
}

static void make_event(fz_t *f, ev_buf_t *b, bool null_keys)
{
    memset(b, 0, sizeof *b);
    uint8_t mode = fz_u8(f);
    b->ev.level = (mode & 1) ? (int)fz_u32(f) : (int)(mode >> 1) % 7 - 1;
    b->ev.kind = (mode & 2) ? ev_str(f, b, 64) : "log";
    b->ev.time_ns = fz_u64(f);
    b->ev.pid.id = (mode & 4) ? fz_u64(f) : 0;
    b->ev.text = ev_str(f, b, 600);
    size_t nf = fz_range(f, 0, MAX_FIELDS);
    for (size_t i = 0; i < nf; i++) {
        uint8_t fm = fz_u8(f);
        b->fields[i].key =
            null_keys && (fm & 3) == 3 ? NULL : ev_str(f, b, 40);
        b->fields[i].value = (fm & 12) == 12 ? NULL : ev_str(f, b, 600);
    }
    b->ev.fields = nf ? b->fields : NULL;
    b->ev.nfields = nf;
}

static void free_event(ev_buf_t *b)
{
    for (size_t i = 0; i < b->nstrs; i++)
        free(b->strs[i]);
}

static size_t count_nl(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* The JSON handler: one line holding one object whose text and fields are
 * the event's, escaped. */
static void check_json_line(const grove_log_event_t *ev, const char *out,
                            size_t len)
{
    FZ_CHECK(len > 0 && out[len - 1] == '\n' && count_nl(out) == 1,
             "not one line (%zu newlines): %s", count_nl(out), out);
    const char *err = fz_json_check(out, len - 1);
    FZ_CHECK(!err, "invalid JSON (%s): %s", err, out);
    FZ_CHECK(out[0] == '{', "not an object: %s", out);
    char *t = escape(ev->text, NULL);
    size_t need = strlen(t) + 32;
    char *frag = malloc(need);
    snprintf(frag, need, ",\"text\":%s,\"fields\":{", t);
    FZ_CHECK(strstr(out, frag), "text missing: %s", out);
    free(frag);
    free(t);
    for (size_t i = 0; i < ev->nfields; i++) {
        char *k = escape(ev->fields[i].key ? ev->fields[i].key : "", NULL);
        char *v =
            escape(ev->fields[i].value ? ev->fields[i].value : "", NULL);
        size_t fl = strlen(k) + strlen(v) + 2;
        char *kv = malloc(fl);
        snprintf(kv, fl, "%s:%s", k, v);
        FZ_CHECK(strstr(out, kv), "field %zu missing: %s", i, out);
        free(kv);
        free(k);
        free(v);
    }
}

/* The text handler: a header line (with the text, which may span lines),
 * then per field one line, or a key line and one line per line of a
 * multi-line value. */
static void check_text(const grove_log_event_t *ev, const char *out,
                       size_t len)
{
    size_t want = count_nl(ev->text) + 1;
    for (size_t i = 0; i < ev->nfields; i++) {
        const char *v = ev->fields[i].value ? ev->fields[i].value : "";
        want += count_nl(ev->fields[i].key);
        if (!strchr(v, '\n'))
            want += 1;
        else
            want += 1 + count_nl(v) + (v[strlen(v) - 1] != '\n');
    }
    FZ_CHECK(len > 0 && out[len - 1] == '\n', "no final newline");
    FZ_CHECK(strlen(out) == len, "a NUL in the output");
    FZ_CHECK(count_nl(out) == want, "%zu lines, expected %zu:\n%s",
             count_nl(out), want, out);
    const char *lvl = grove_log_level_name(ev->level);
    FZ_CHECK(lvl, "no level name for %d", ev->level);
    char head[64];
    snprintf(head, sizeof head, "Z [%s] ", lvl);
    FZ_CHECK(strstr(out, head), "no level in: %s", out);
    if (ev->pid.id && strcmp(ev->kind, "log") == 0) {
        char pid[GROVE_PID_STR_MAX], frag[GROVE_PID_STR_MAX + 4];
        snprintf(frag, sizeof frag, " (%s)",
                 grove_pid_format(ev->pid, pid, sizeof pid));
        FZ_CHECK(strstr(out, frag), "pid missing: %s", out);
    }
}

static void run_handler(void (*h)(const grove_log_event_t *, void *),
                        const grove_log_event_t *ev, char **out,
                        size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *mf = open_memstream(out, len);
    FZ_CHECK(mf, "open_memstream");
    h(ev, mf);
    fclose(mf);
}

/* Events logged through grove_log_event land here. */
static struct {
    int calls;
    const grove_log_event_t *want;
} seen;

static void recording_handler(const grove_log_event_t *ev, void *arg)
{
    (void)arg;
    seen.calls++;
    const grove_log_event_t *w = seen.want;
    FZ_CHECK(ev->level == w->level && strcmp(ev->text, w->text) == 0 &&
                 strcmp(ev->kind, w->kind) == 0 && ev->pid.id == w->pid.id &&
                 ev->nfields == w->nfields,
             "grove_log_event changed the event");
    char *out;
    size_t len;
    run_handler(grove_log_json_handler, ev, &out, &len);
    check_json_line(ev, out, len);
    free(out);
}

static void fuzz_handlers(fz_t *f)
{
    ev_buf_t b;
    make_event(f, &b, true);
    char *out;
    size_t len;
    run_handler(grove_log_json_handler, &b.ev, &out, &len);
    check_json_line(&b.ev, out, len);
    free(out);

    /* The text handler is given what grove_log_event hands handlers: a
     * kind and keys that are never NULL. */
    for (size_t i = 0; i < b.ev.nfields; i++)
        if (!b.fields[i].key)
            b.fields[i].key = "";
    run_handler(grove_log_text_handler, &b.ev, &out, &len);
    check_text(&b.ev, out, len);
    free(out);

    seen.calls = 0;
    seen.want = &b.ev;
    grove_log_event(b.ev.level, b.ev.kind, b.ev.pid, b.ev.text, b.ev.fields,
                    b.ev.nfields);
    bool passes = b.ev.level >= GROVE_LOG_DEBUG && b.ev.level < GROVE_LOG_NONE;
    FZ_CHECK(seen.calls == (passes ? 1 : 0),
             "level %d reached the handler %d times", b.ev.level,
             seen.calls);
    free_event(&b);
}

/* ---- pids ---------------------------------------------------------------------------- */

/* "<0.SLOT.GEN>" with SLOT and GEN decimal digits, in range, GEN != 0. */
static bool pid_grammar(const char *s, grove_pid_t *out)
{
    if (strncmp(s, "<0.", 3) != 0)
        return false;
    s += 3;
    uint64_t v[2];
    for (int k = 0; k < 2; k++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t x = 0;
        while (*s >= '0' && *s <= '9') {
            x = x * 10 + (uint64_t)(*s++ - '0');
            if (x > UINT32_MAX)
                x = UINT64_C(1) << 40; /* saturate: out of range */
        }
        v[k] = x;
        if (*s++ != (k == 0 ? '.' : '>'))
            return false;
    }
    if (*s || v[0] > UINT32_MAX || v[1] == 0 || v[1] > UINT32_MAX)
        return false;
    out->id = v[1] << 32 | v[0];
    return true;
}

static void fuzz_pid(fz_t *f)
{
    /* A value: format, then parse back. */
    grove_pid_t p = {fz_u64(f)};
    char buf[GROVE_PID_STR_MAX];
    FZ_CHECK(grove_pid_format(p, buf, sizeof buf) == buf, "format");
    grove_pid_t q = {0};
    int rc = grove_pid_parse(buf, &q);
    if (p.id == 0)
        FZ_CHECK(strcmp(buf, "<none>") == 0 && rc == GROVE_EINVAL,
                 "none: %s, %d", buf, rc);
    else if (grove_pid_generation(p) == 0)
        FZ_CHECK(rc == GROVE_EINVAL, "generation 0 parsed: %s", buf);
    else
        FZ_CHECK(rc == 0 && q.id == p.id, "%s parsed to %#llx (rc %d)", buf,
                 (unsigned long long)q.id, rc);

    /* Small buffers: a terminated prefix. */
    size_t sz = fz_range(f, 0, GROVE_PID_STR_MAX);
    char small[GROVE_PID_STR_MAX + 1];
    memset(small, 'x', sizeof small);
    FZ_CHECK(grove_pid_format(p, small, sz) == small, "format small");
    if (sz) {
        size_t k = strlen(buf) < sz - 1 ? strlen(buf) : sz - 1;
        FZ_CHECK(memcmp(small, buf, k) == 0 && small[k] == '\0',
                 "size %zu: not a terminated prefix", sz);
    } else {
        FZ_CHECK(small[0] == 'x', "size 0 wrote");
    }

    /* Text: parses exactly when it is "<0.SLOT.GEN>". */
    size_t len;
    char *s = fz_str(f, 64, &len);
    grove_pid_t got = {0}, want = {0};
    rc = grove_pid_parse(s, &got);
    bool ok = pid_grammar(s, &want);
    if (rc == 0 && !ok && fz_known("pid_parse_lenient")) {
        free(s);
        return;
    }
    FZ_CHECK((rc == 0) == ok,
             "grove_pid_parse(\"%s\") returned %d; the text %s a pid", s, rc,
             ok ? "is" : "is not");
    FZ_CHECK(rc == GROVE_EINVAL || rc == 0, "rc %d", rc);
    if (ok) {
        FZ_CHECK(got.id == want.id, "\"%s\" parsed to %#llx", s,
                 (unsigned long long)got.id);
        grove_pid_format(got, buf, sizeof buf);
        FZ_CHECK(grove_pid_parse(buf, &q) == 0 && q.id == got.id,
                 "round trip of %s", buf);
    }
    FZ_CHECK(grove_pid_parse(NULL, &q) == GROVE_EINVAL &&
                 grove_pid_parse(s, NULL) == GROVE_EINVAL,
             "NULL arguments");
    free(s);
}

/* ---- entry ------------------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    grove_log_clear_handlers();
    int rc = grove_log_add_handler(recording_handler, NULL, GROVE_LOG_DEBUG,
                                   NULL);
    FZ_CHECK(rc == 0, "grove_log_add_handler: %d", rc);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f = {data, size};
    /* The first byte picks which parts run, and in what order. */
    uint8_t sel = fz_u8(&f);
    for (int round = 0; round < 4 && !fz_empty(&f); round++) {
        switch ((sel + round) & 3) {
        case 0:
            fuzz_reason(&f);
            break;
        case 1:
            fuzz_json_escape(&f);
            break;
        case 2:
            fuzz_handlers(&f);
            break;
        default:
            fuzz_pid(&f);
            break;
        }
    }
    return 0;
}
