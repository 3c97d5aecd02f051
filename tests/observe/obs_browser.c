/* The observer's page in a real browser: tests/observe/browser.js drives
 * Debian's chromium, headless, over the DevTools protocol. This case sets
 * up the tree and the observer, installs chromium and node when they are
 * missing (tools/install-deps.sh browser), runs the script and reads its
 * verdict. Without a browser it is skipped, saying why.
 *
 * GROVE_BROWSER_SHOT=FILE.png keeps a screenshot of the page. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "obs_util.h"

extern char **environ;

/* On the heap, strings and all: see obs_blocking. */
typedef struct run_job {
    int timeout_s;
    int status; /* the exit status; -1 if it did not run or was killed */
    char *argv[16];
} run_job_t;

static void run_job_free(void *arg)
{
    run_job_t *j = arg;
    for (int i = 0; j->argv[i]; i++)
        free(j->argv[i]);
    free(j);
}

/* Runs argv[0] (through PATH) and waits, killing it past its time. */
static void run(void *arg)
{
    run_job_t *j = arg;
    pid_t pid;
    j->status = -1;
    if (posix_spawnp(&pid, j->argv[0], NULL, NULL, j->argv, environ) != 0)
        return;
    int64_t end = gt_now_ms() + (int64_t)j->timeout_s * 1000;
    int st = 0;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 ||
           (w < 0 && errno == EINTR)) {
        if (gt_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return;
        }
        usleep(50000);
    }
    if (w == pid && WIFEXITED(st))
        j->status = WEXITSTATUS(st);
}

/* argv: NULL-terminated, at most 15 entries. */
static int run_cmd(char *const *argv, int timeout_s)
{
    run_job_t *j = calloc(1, sizeof *j);
    ASSERT_NOT_NULL(j);
    j->timeout_s = timeout_s;
    for (int i = 0; argv[i] && i < 15; i++)
        j->argv[i] = strdup(argv[i]);
    obs_blocking(run, j, run_job_free);
    int st = j->status;
    run_job_free(j);
    return st;
}

static bool have(const char *cmd)
{
    char line[128];
    snprintf(line, sizeof line, "command -v %s >/dev/null 2>&1", cmd);
    char *argv[] = {"sh", "-c", line, NULL};
    return run_cmd(argv, 10) == 0;
}

static bool have_chromium(void)
{
    return have("chromium") || have("chromium-browser") ||
           have("google-chrome");
}

/* The source tree's root, from this file's path. */
static void source_root(char *buf, size_t size)
{
    snprintf(buf, size, "%s", __FILE__);
    char *cut = strstr(buf, "tests/observe/");
    if (!cut)
        SKIP_TEST("cannot find the source tree from __FILE__");
    *cut = '\0';
}

static void need_browser(const char *root)
{
    if (have("node") && have_chromium())
        return;
    char script[1100];
    snprintf(script, sizeof script, "%stools/install-deps.sh", root);
    gt_note("installing chromium and node: %s browser", script);
    char *argv[] = {"bash", script, "browser", NULL};
    int st = run_cmd(argv, 900);
    if (!have("node"))
        SKIP_TEST("node is missing and tools/install-deps.sh browser could "
                  "not install it");
    if (!have_chromium())
        SKIP_TEST("chromium is missing and tools/install-deps.sh browser "
                  "could not install it");
    (void)st;
}

PROC_TEST_OPTS(observe_browser_page, .timeout_s = 1200)
{
    char root[1024], script[1100], url[64];
    source_root(root, sizeof root);
    need_browser(root);
    /* The observer first: it then hears the tree's first reports, which
     * give the supervisor's name. */
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    grove_pid_t sup = obs_start_tree(0);
    snprintf(script, sizeof script, "%stests/observe/browser.js", root);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld",
             (long long)gt_scaled_ms(120000) / 1000);
    const char *shot = getenv("GROVE_BROWSER_SHOT");
    char *argv[] = {"node", script, "--url", url, "--sup", "Obs.Sup",
                    "--worker", "w2", "--timeout", timeout,
                    shot ? "--shot" : NULL, (char *)shot, NULL};
    int st = run_cmd(argv, (int)gt_scaled_ms(180000) / 1000);
    if (st == 77)
        SKIP_TEST("the browser could not run (see above)");
    ASSERT_EQ(st, 0);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}
