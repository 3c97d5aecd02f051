/* Shared pieces of the fuzz targets; see common.h. */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sanitizer defaults for every target. SIGSEGV and friends stay with
 * AddressSanitizer (Grove's own fault handler is not installed), so a
 * memory fault inside a process is a crash the fuzzer sees instead of an
 * exit reason. Fibers do not mix with fake stacks. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allow_user_segv_handler=0:detect_stack_use_after_return=0";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "print_stacktrace=1:halt_on_error=1";
}

/* ---- reading the input ---------------------------------------------------- */

uint8_t fz_u8(fz_t *f)
{
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

uint16_t fz_u16(fz_t *f)
{
    uint16_t v = fz_u8(f);
    return (uint16_t)(v | (uint16_t)fz_u8(f) << 8);
}

uint32_t fz_u32(fz_t *f)
{
    uint32_t v = fz_u16(f);
    return v | (uint32_t)fz_u16(f) << 16;
}

uint64_t fz_u64(fz_t *f)
{
    uint64_t v = fz_u32(f);
    return v | (uint64_t)fz_u32(f) << 32;
}

bool fz_bool(fz_t *f) { return fz_u8(f) & 1; }

uint32_t fz_range(fz_t *f, uint32_t lo, uint32_t hi)
{
    uint64_t span = (uint64_t)hi - lo + 1;
    uint32_t v = span <= 0x100 ? fz_u8(f) : span <= 0x10000 ? fz_u16(f)
                                                             : fz_u32(f);
    return lo + (uint32_t)(v % span);
}

size_t fz_bytes(fz_t *f, size_t want, const uint8_t **out)
{
    size_t k = want < f->n ? want : f->n;
    *out = f->p;
    f->p += k;
    f->n -= k;
    return k;
}

char *fz_str(fz_t *f, size_t max, size_t *len_out)
{
    size_t want = fz_range(f, 0, (uint32_t)max);
    const uint8_t *b;
    size_t k = fz_bytes(f, want, &b);
    char *s = malloc(k + 1);
    if (!s)
        abort();
    if (k)
        memcpy(s, b, k);
    s[k] = '\0';
    if (len_out)
        *len_out = k;
    return s;
}

void fz_fill(fz_t *f, void *dst, size_t n)
{
    const uint8_t *b;
    size_t k = fz_bytes(f, n, &b);
    if (k)
        memcpy(dst, b, k);
    memset((char *)dst + k, 0, n - k);
}

/* ---- checks ----------------------------------------------------------------- */

void fz_fail(const char *file, int line, const char *cond, const char *fmt,
             ...)
{
    fprintf(stderr, "\nFUZZ CHECK FAILED %s:%d: %s\n  ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

bool fz_known(const char *bug)
{
    static const char *list;
    static bool read;
    if (!read) {
        list = getenv("GROVE_FUZZ_KNOWN");
        read = true;
    }
    if (!list)
        return false;
    size_t n = strlen(bug);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        if (k == n && memcmp(p, bug, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* ---- the runtime -------------------------------------------------------------- */

static void nap_entry(void *arg)
{
    (void)arg;
    grove_sleep(3);
    grove_msg_t *m;
    if (grove_send_after(grove_self(), 2, 0, NULL, 0, NULL) == 0 &&
        grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

static void start_once(void)
{
    grove_config_t cfg = {0};
    const char *s = getenv("GROVE_FUZZ_SCHEDULERS");
    cfg.schedulers = s && *s ? atoi(s) : 1;
    cfg.stack_size = 256 * 1024;
    cfg.long_schedule_ms = -1;
    cfg.stack_trim_ms = -1;
    grove_log_clear_handlers();
    int rc = grove_start(&cfg);
    FZ_CHECK(rc == 0, "grove_start: %s", grove_errname(rc));
    /* Move the clocks off zero: the first input then meets the timer
     * wheels as every later one does, and replays behave the same. */
    fz_run(nap_entry, NULL);
}

void fz_runtime_start(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_once);
}

typedef struct run_arg {
    void (*fn)(void *);
    void *arg;
    atomic_bool returned;
} run_arg_t;

static void run_entry(void *arg)
{
    run_arg_t *ra = arg;
    ra->fn(ra->arg);
    atomic_store(&ra->returned, true);
}

void fz_run(void (*fn)(void *), void *arg)
{
    run_arg_t ra = {fn, arg, false};
    grove_pid_t pid;
    int rc = grove_spawn(run_entry, &ra, NULL, &pid);
    FZ_CHECK(rc == 0, "grove_spawn: %s", grove_errname(rc));
    grove_reason_t why;
    rc = grove_wait(pid, GROVE_INFINITY, &why);
    if (rc == GROVE_ENOPROC) {
        /* Gone before the wait began: its entry must have returned. */
        FZ_CHECK(atomic_load(&ra.returned),
                 "the fuzz process exited before returning");
        while (grove_is_alive(pid))
            nanosleep(&(struct timespec){0, 100000}, NULL);
        return;
    }
    FZ_CHECK(rc == 0, "grove_wait: %s", grove_errname(rc));
    char text[256];
    grove_reason_format(&why, text, sizeof text);
    FZ_CHECK(why.kind == GROVE_EXIT_NORMAL, "the fuzz process exited %s",
             text);
}

void fz_quiesce(const grove_stats_t *before)
{
    grove_stats_t now;
    for (int i = 0; i < 5100; i++) {
        grove_stats(&now);
        if (now.processes_alive <= before->processes_alive &&
            now.messages_live <= before->messages_live)
            return;
        if (i < 100)
            sched_yield();
        else
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    FZ_CHECK(false,
             "not back to the baseline after 5 s: %llu processes alive "
             "(was %llu), %llu messages live (was %llu)",
             (unsigned long long)now.processes_alive,
             (unsigned long long)before->processes_alive,
             (unsigned long long)now.messages_live,
             (unsigned long long)before->messages_live);
}

void fz_idle_entry(void *arg)
{
    (void)arg;
    grove_msg_t *m;
    if (grove_recv(&m, GROVE_INFINITY) == 0)
        grove_msg_free(m);
}

/* ---- JSON ------------------------------------------------------------------------- */

typedef struct jp {
    const unsigned char *s;
    size_t n, i;
    const char *err;
    int depth;
} jp_t;

static void jp_ws(jp_t *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool jp_fail(jp_t *p, const char *why)
{
    if (!p->err)
        p->err = why;
    return false;
}

static bool ishex(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static bool jp_string(jp_t *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return jp_fail(p, "expected a string");
    p->i++;
    while (p->i < p->n) {
        unsigned c = p->s[p->i++];
        if (c == '"')
            return true;
        if (c < 0x20)
            return jp_fail(p, "raw control character in a string");
        if (c != '\\')
            continue;
        if (p->i >= p->n)
            break;
        c = p->s[p->i++];
        if (c == 'u') {
            for (int k = 0; k < 4; k++)
                if (p->i >= p->n || !ishex(p->s[p->i++]))
                    return jp_fail(p, "bad \\u escape");
        } else if (!strchr("\"\\/bfnrt", (int)c) || c == 0) {
            return jp_fail(p, "bad escape");
        }
    }
    return jp_fail(p, "unterminated string");
}

static bool jp_digits(jp_t *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > start;
}

static bool jp_number(jp_t *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!jp_digits(p))
        return jp_fail(p, "bad number");
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!jp_digits(p))
            return jp_fail(p, "bad fraction");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!jp_digits(p))
            return jp_fail(p, "bad exponent");
    }
    return true;
}

static bool jp_value(jp_t *p);

static bool jp_word(jp_t *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0)
        return jp_fail(p, "unexpected character");
    p->i += k;
    return true;
}

static bool jp_container(jp_t *p, char close, bool object)
{
    p->i++;
    if (++p->depth > 64)
        return jp_fail(p, "nested too deep");
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == (unsigned char)close) {
        p->i++;
        p->depth--;
        return true;
    }
    for (;;) {
        jp_ws(p);
        if (object) {
            if (!jp_string(p))
                return false;
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return jp_fail(p, "expected ':'");
            p->i++;
        }
        if (!jp_value(p))
            return false;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == (unsigned char)close) {
            p->i++;
            p->depth--;
            return true;
        }
        return jp_fail(p, object ? "expected ',' or '}'"
                                 : "expected ',' or ']'");
    }
}

static bool jp_value(jp_t *p)
{
    jp_ws(p);
    if (p->i >= p->n)
        return jp_fail(p, "expected a value");
    switch (p->s[p->i]) {
    case '"':
        return jp_string(p);
    case '{':
        return jp_container(p, '}', true);
    case '[':
        return jp_container(p, ']', false);
    case 't':
        return jp_word(p, "true");
    case 'f':
        return jp_word(p, "false");
    case 'n':
        return jp_word(p, "null");
    default:
        return jp_number(p);
    }
}

const char *fz_json_check(const char *s, size_t n)
{
    jp_t p = {(const unsigned char *)s, n, 0, NULL, 0};
    if (!jp_value(&p))
        return p.err;
    jp_ws(&p);
    if (p.i != n)
        return "trailing bytes after the value";
    return NULL;
}

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return (int)(c - 'A' + 10);
}

long fz_json_unquote(const char *s, size_t n, char *out, size_t cap)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return -1;
    size_t k = 0;
    for (size_t i = 1; i < n - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c < 0x20)
            return -1;
        if (c == '\\') {
            if (++i >= n - 1)
                return -1;
            switch (s[i]) {
            case '"':
            case '\\':
            case '/':
                c = (unsigned char)s[i];
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                if (i + 4 > n - 2)
                    return -1;
                unsigned v = 0;
                for (int d = 1; d <= 4; d++) {
                    if (!ishex((unsigned char)s[i + d]))
                        return -1;
                    v = v * 16 + (unsigned)hexval((unsigned char)s[i + d]);
                }
                if (v > 0xff)
                    return -1;
                c = (unsigned char)v;
                i += 4;
                break;
            }
            default:
                return -1;
            }
        }
        if (k >= cap)
            return -1;
        out[k++] = (char)c;
    }
    return (long)k;
}

uint64_t fz_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h ^ n;
}
