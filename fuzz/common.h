/* Shared pieces of the fuzz targets: a reader over the fuzzer's bytes,
 * checks that abort (libFuzzer then saves the input), the runtime started
 * once per fuzzing process, a JSON syntax checker and the list of known
 * bugs whose checks are skipped (fuzz/regressions/KNOWN). */
#ifndef GROVE_FUZZ_COMMON_H
#define GROVE_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grove.h>

/* ---- reading the input ---------------------------------------------------- */

/* A cursor over the input. Reads past the end yield zeros, so every input
 * is a complete program. */
typedef struct fz {
    const uint8_t *p;
    size_t n;
} fz_t;

uint8_t fz_u8(fz_t *f);
uint16_t fz_u16(fz_t *f);
uint32_t fz_u32(fz_t *f);
uint64_t fz_u64(fz_t *f);
bool fz_bool(fz_t *f);
/* A value in [lo, hi] (hi - lo < 2^32). */
uint32_t fz_range(fz_t *f, uint32_t lo, uint32_t hi);
/* Up to want bytes of the input, by pointer; returns how many. */
size_t fz_bytes(fz_t *f, size_t want, const uint8_t **out);
/* A malloc'd, NUL-terminated copy of the next len bytes (len read from the
 * input, at most max); the bytes themselves may contain NULs. *len_out
 * gets the number of bytes copied. Never NULL. */
char *fz_str(fz_t *f, size_t max, size_t *len_out);
/* Fills dst[0..n) with input bytes, zeros once the input runs out. */
void fz_fill(fz_t *f, void *dst, size_t n);
static inline bool fz_empty(const fz_t *f) { return f->n == 0; }

/* ---- checks ----------------------------------------------------------------- */

__attribute__((noreturn, format(printf, 4, 5))) void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...);

/* Aborts with a message when cond is false: libFuzzer reports a crash and
 * keeps the input. */
#define FZ_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond))                                                         \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                 \
    } while (0)

/* True when bug is named in GROVE_FUZZ_KNOWN (a comma-separated list that
 * fuzz/run.sh builds from fuzz/regressions/KNOWN): the target then steps
 * around that bug instead of reporting it again. */
bool fz_known(const char *bug);

/* ---- the runtime -------------------------------------------------------------- */

/* Starts the runtime once for the life of the fuzzing process: one
 * scheduler (GROVE_FUZZ_SCHEDULERS overrides), 256 KiB stacks, no
 * long-schedule reports, no default log handler. */
void fz_runtime_start(void);

/* Runs fn(arg) as a process and waits for it; it must exit normal. */
void fz_run(void (*fn)(void *), void *arg);

/* Waits (up to 5 s) until no more processes are alive and no more
 * messages are live than in *before; aborts otherwise. */
void fz_quiesce(const grove_stats_t *before);

/* A process that waits until it is told to stop (any message) or killed. */
void fz_idle_entry(void *arg);

/* ---- JSON ------------------------------------------------------------------------- */

/* Checks that s[0..n) is exactly one JSON value (RFC 8259 syntax; bytes
 * >= 0x80 in strings are taken as they are). Returns NULL or a message
 * saying what is wrong. */
const char *fz_json_check(const char *s, size_t n);

/* Decodes the JSON string literal at s[0..n) (quotes included) into out
 * (capacity cap); returns the decoded length or -1 if malformed or a
 * \u escape is above 0xff. */
long fz_json_unquote(const char *s, size_t n, char *out, size_t cap);

/* FNV-1a over bytes. */
uint64_t fz_hash(const void *p, size_t n);

#endif
