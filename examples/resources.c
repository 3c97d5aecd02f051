/* resources.c: memory and resources a process owns are released with it.
 *
 * Shows: grove_alloc (per-process memory), grove_resource_attach (any
 * pointer with a destructor) and grove_resource_fd (a file descriptor).
 * A process that takes all three and then crashes, or is killed, leaks
 * nothing: each destructor runs exactly once, the descriptor is closed,
 * and grove_stats shows the live resources and arena bytes back where they
 * were. grove_resource_release runs a destructor early.
 *
 * Run:  build/release/examples/resources
 * Exits 0 when everything was released exactly once in every case.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <grove.h>

enum { TAG_READY = 1, TAG_GO };

static int failures;

static void check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* A stand-in for a connection, a parser or any heap object. Its
 * destructor counts its runs (it must not block, so it does not print). */
typedef struct session {
    int id;
    char buffer[1024];
} session_t;

static atomic_int sessions_closed;

static void close_session(void *p)
{
    free(p);
    atomic_fetch_add(&sessions_closed, 1);
}

/* Kept out of line and out of the sanitizers' sight: the point is the
 * hardware fault. */
#if defined(__clang__)
#define NOCLONE
#else
#define NOCLONE __attribute__((noclone))
#endif
static int *volatile null_ptr;
NOCLONE __attribute__((noinline, no_sanitize("address", "undefined",
                                             "thread"))) static void
crash(void)
{
    *null_ptr = 1;
}

typedef enum { END_CRASH, END_WAIT_FOR_KILL, END_NORMAL } ending_t;

typedef struct job {
    int write_fd;   /* the pipe's write end: the process owns it */
    ending_t ending;
} job_t;

/* Takes memory, a session and a descriptor, reports ready, then ends as
 * its job says. It never frees or closes anything itself. */
static void owner(void *arg)
{
    const job_t *job = arg;
    for (int i = 0; i < 4; i++)
        grove_alloc(4096);
    session_t *s = malloc(sizeof *s);
    if (!s || grove_resource_attach(close_session, s, NULL) != 0)
        grove_exit_error(1, "cannot attach the session");
    if (grove_resource_fd(job->write_fd, NULL) != 0)
        grove_exit_error(1, "cannot attach the descriptor");

    grove_msg_t *m;
    grove_recv_tag(&m, TAG_GO, GROVE_INFINITY); /* from our parent */
    grove_send(grove_msg_from(m), TAG_READY, NULL, 0);
    grove_msg_free(m);
    /* Wait for the word to end (a kill, for END_WAIT_FOR_KILL). */
    grove_recv_tag(&m, TAG_GO, GROVE_INFINITY);
    if (job->ending == END_CRASH)
        crash();
}

/* True when every write end of the pipe is closed: a non-blocking read
 * then sees end of file (0) rather than "would block". */
static bool write_end_closed(int read_fd)
{
    char c;
    return read(read_fd, &c, 1) == 0;
}

static void scenario(const char *title, ending_t ending)
{
    printf("%s\n", title);
    int fds[2];
    if (pipe(fds) != 0) {
        check(false, "pipe()");
        return;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    job_t job = {.write_fd = fds[1], .ending = ending};
    int closed_before = atomic_load(&sessions_closed);
    grove_stats_t base, during, after;
    grove_stats(&base);

    grove_pid_t pid;
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(owner, &job, &o, &pid);
    grove_msg_t *m;
    grove_send(pid, TAG_GO, NULL, 0);
    if (grove_recv_tag(&m, TAG_READY, 2000) == 0)
        grove_msg_free(m);
    grove_stats(&during);
    check(during.resources_live == base.resources_live + 2 &&
              during.arena_bytes_live >= base.arena_bytes_live + 4 * 4096,
          "while it runs: 2 more live resources, 16 KiB more arena");

    if (ending == END_WAIT_FOR_KILL) {
        grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
        grove_exit_signal(pid, &kill);
    } else {
        grove_send(pid, TAG_GO, NULL, 0);
    }
    grove_reason_t r = grove_reason_of(GROVE_EXIT_TIMEOUT);
    if (grove_recv_ref(&m, ref, 2000) == 0) {
        r = *grove_msg_reason(m);
        grove_msg_free(m);
    }
    char why[GROVE_REASON_TEXT_MAX + 64], line[GROVE_REASON_TEXT_MAX + 96];
    grove_reason_format(&r, why, sizeof why);
    snprintf(line, sizeof line, "it exited: %s", why);
    int want = ending == END_CRASH           ? GROVE_EXIT_FAULT
               : ending == END_WAIT_FOR_KILL ? GROVE_EXIT_KILLED
                                             : GROVE_EXIT_NORMAL;
    check(r.kind == want, line);

    /* Its exit released everything before the DOWN was sent. */
    grove_stats(&after);
    check(atomic_load(&sessions_closed) == closed_before + 1,
          "the session's destructor ran once");
    check(write_end_closed(fds[0]), "the descriptor was closed");
    check(after.resources_live == base.resources_live &&
              after.arena_bytes_live == base.arena_bytes_live,
          "grove_stats: live resources and arena bytes are back");
    close(fds[0]);
}

/* grove_resource_release: the destructor runs now, and not again. */
static void release_early(void *arg)
{
    (void)arg;
    session_t *s = malloc(sizeof *s);
    grove_resource_t *res;
    if (!s || grove_resource_attach(close_session, s, &res) != 0)
        grove_exit_error(1, "cannot attach the session");
    int before = atomic_load(&sessions_closed);
    grove_resource_release(res);
    if (atomic_load(&sessions_closed) != before + 1)
        grove_exit_error(1, "the destructor did not run at release");
}

static void main_process(void *arg)
{
    (void)arg;
    scenario("a process that crashes", END_CRASH);
    scenario("a process that is killed", END_WAIT_FOR_KILL);
    scenario("a process that returns", END_NORMAL);

    printf("grove_resource_release\n");
    int before = atomic_load(&sessions_closed);
    grove_ref_t ref;
    grove_spawn_opts_t o = {.monitor = true, .monitor_ref = &ref};
    grove_spawn(release_early, NULL, &o, NULL);
    grove_msg_t *m;
    bool normal = false;
    if (grove_recv_ref(&m, ref, 2000) == 0) {
        normal = grove_msg_reason(m)->kind == GROVE_EXIT_NORMAL;
        grove_msg_free(m);
    }
    check(normal && atomic_load(&sessions_closed) == before + 1,
          "the destructor ran at release, and not again at exit");
}

int main(void)
{
    grove_reason_t reason;
    if (grove_run(main_process, NULL, &reason) != 0 ||
        reason.kind != GROVE_EXIT_NORMAL)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
