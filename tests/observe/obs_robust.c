/* Nothing a client sends can crash or hang the observer: malformed,
 * huge, slow and silent requests, too many connections, requests from
 * the wrong origin, garbage; after each, the observer still answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs_util.h"

/* A Host header the observer accepts (a loopback name). */
#define H "Host: localhost\r\n"
#define HLF "Host: localhost\n"

/* The observer still answers, and its processes are all there. */
static void still_fine(int port, grove_pid_t obs)
{
    obs_resp_t r = obs_get(port, "/healthz");
    ASSERT_EQ(r.status, 200);
    obs_resp_free(&r);
    ASSERT_TRUE(grove_is_alive(obs));
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    const gj_t *self = obs_find_root(t, obs);
    ASSERT_NOT_NULL(self);
    ASSERT_EQ(gj_num(self, "restarts", -1), 0);
    gj_free(t);
}

static int status_of(int port, const char *raw)
{
    obs_resp_t r = obs_raw(port, raw, strlen(raw), 5000);
    int st = r.status;
    if (st >= 400 && !strstr(r.body, "\"error\""))
        GT_FAIL("an error without a JSON body: %s", r.body);
    obs_resp_free(&r);
    return st;
}

PROC_TEST(observe_malformed_requests_get_400)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    ASSERT_EQ(status_of(port, "GARBAGE\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET /healthz\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET healthz HTTP/1.1\r\n" H "\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET /  HTTP/1.1\r\n" H "\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\n\r\n"), 400); /* no Host */
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n"),
              400);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\n" H " folded\r\n\r\n"),
              400);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\n" H "Host: b\r\n\r\n"),
              400);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET /\x01 HTTP/1.1\r\n" H "\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET / HTTP/2.0\r\n" H "\r\n"), 505);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\n" H
                              "Content-Length: 1\r\nContent-Length: 2\r\n"
                              "\r\n"),
              400);
    ASSERT_EQ(status_of(port, "GET / HTTP/1.1\r\n" H
                              "Content-Length: -1\r\n\r\n"),
              400);
    ASSERT_EQ(status_of(port, "POST /api/kill HTTP/1.1\r\n" H
                              "Transfer-Encoding: chunked\r\n\r\n"),
              501);
    static const char nul[] = "GET /\0 HTTP/1.1\r\n" H "\r\n";
    obs_resp_t r = obs_raw(port, nul, sizeof nul - 1, 5000);
    ASSERT_EQ(r.status, 400);
    obs_resp_free(&r);
    /* HTTP/1.0 without Host, and bare LF line ends, are fine. */
    ASSERT_EQ(status_of(port, "GET /healthz HTTP/1.0\r\n\r\n"), 200);
    ASSERT_EQ(status_of(port, "GET /healthz HTTP/1.1\n" HLF "\n"), 200);
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

PROC_TEST(observe_unknown_paths_and_methods)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    obs_resp_t r = obs_get(port, "/nope");
    ASSERT_EQ(r.status, 404);
    obs_resp_free(&r);
    r = obs_get(port, "/api/tree/");
    ASSERT_EQ(r.status, 404);
    obs_resp_free(&r);
    r = obs_request(port, "POST", "/api/tree");
    ASSERT_EQ(r.status, 405);
    ASSERT_STREQ(obs_header(&r, "Allow"), "GET, HEAD");
    obs_resp_free(&r);
    r = obs_request(port, "DELETE", "/healthz");
    ASSERT_EQ(r.status, 405);
    obs_resp_free(&r);
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

static char *repeat(const char *prefix, const char *unit, size_t times,
                    const char *suffix)
{
    size_t u = strlen(unit), p = strlen(prefix), s = strlen(suffix);
    char *b = malloc(p + u * times + s + 1), *o = b;
    memcpy(o, prefix, p);
    o += p;
    for (size_t i = 0; i < times; i++, o += u)
        memcpy(o, unit, u);
    memcpy(o, suffix, s + 1);
    return b;
}

PROC_TEST(observe_huge_requests_are_refused)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    /* 20 KiB of headers: 431, and the answer is not lost to a reset. */
    char *big = repeat("GET / HTTP/1.1\r\n" H, "X-Pad: 0123456789\r\n",
                       1000, "\r\n");
    ASSERT_EQ(status_of(port, big), 431);
    free(big);
    /* Too many headers, each small. */
    big = repeat("GET / HTTP/1.1\r\n" H, "A: b\r\n", 100, "\r\n");
    ASSERT_EQ(status_of(port, big), 431);
    free(big);
    /* A request line of 3 KiB, then one of 9 KiB never ended. */
    big = repeat("GET /", "a", 3000, " HTTP/1.1\r\n" H "\r\n");
    ASSERT_EQ(status_of(port, big), 414);
    free(big);
    big = repeat("GET /", "a", 9000, "");
    ASSERT_EQ(status_of(port, big), 414);
    free(big);
    /* A body announced bigger than any endpoint takes. */
    ASSERT_EQ(status_of(port, "POST /api/kill?pid=%3C0.1.1%3E HTTP/1.1\r\n"
                              "" H "Content-Length: 1048576\r\n\r\n"),
              413);
    /* A small body is read and ignored. */
    ASSERT_EQ(status_of(port, "POST /api/kill?pid=%3C0.999999.1%3E HTTP/1.1"
                              "\r\n" H "Content-Length: 5\r\n\r\nhello"),
              404);
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

/* A client that connects and says nothing is answered 408 and closed
 * once the request timeout passes; others are served meanwhile. */
PROC_TEST(observe_silent_and_slow_clients_time_out)
{
    grove_observer_opts_t o = {.request_timeout = 400};
    grove_pid_t obs;
    int port = OBS_START(&o, &obs);
    int silent = obs_connect(port);
    obs_resp_t r = obs_get(port, "/healthz"); /* not held up */
    ASSERT_EQ(r.status, 200);
    obs_resp_free(&r);
    char *got = obs_read_until(silent, NULL, 5000);
    ASSERT_TRUE(strncmp(got, "HTTP/1.1 408 ", 13) == 0);
    free(got);
    close(silent);
    /* Slowloris: a byte every 50 ms never makes a request in time. */
    int slow = obs_connect(port);
    static const char req[] = "GET /healthz HTTP/1.1\r\n" H "X: ";
    int64_t t0 = gt_now_ms();
    /* Only before the deadline: bytes that land after the observer has
     * closed would make the kernel reset the connection, and the 408
     * could be lost with it. */
    for (size_t i = 0; i < sizeof req - 1 && gt_now_ms() - t0 < 250; i++) {
        obs_send(slow, req + i, 1);
        grove_sleep(50);
    }
    got = obs_read_until(slow, NULL, 5000);
    ASSERT_TRUE(strncmp(got, "HTTP/1.1 408 ", 13) == 0);
    ASSERT_LT(gt_now_ms() - t0, gt_scaled_ms(4000));
    free(got);
    close(slow);
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

/* Past max_connections a client is told 503 at once, and the observer
 * serves again once the others are gone. */
PROC_TEST(observe_too_many_connections)
{
    grove_observer_opts_t o = {.max_connections = 4, .request_timeout = 2000};
    grove_pid_t obs;
    int port = OBS_START(&o, &obs);
    int fd[8];
    for (int i = 0; i < 8; i++)
        fd[i] = obs_connect(port);
    int turned_away = 0;
    for (int i = 0; i < 8; i++) {
        char *got = obs_read_until(fd[i], NULL, i < 4 ? 300 : 3000);
        turned_away += strncmp(got, "HTTP/1.1 503 ", 13) == 0;
        free(got);
    }
    ASSERT_GE(turned_away, 4);
    for (int i = 0; i < 8; i++)
        close(fd[i]);
    WAIT_UNTIL_MS(status_of(port, "GET /healthz HTTP/1.0\r\n\r\n") == 200,
                  5000);
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

PROC_TEST(observe_other_hosts_and_origins_are_refused)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    /* A page of another site that resolves its name to 127.0.0.1. */
    ASSERT_EQ(status_of(port, "GET /api/tree HTTP/1.1\r\n"
                              "Host: evil.example:80\r\n\r\n"),
              403);
    ASSERT_EQ(status_of(port, "GET /healthz HTTP/1.1\r\n" H
                              "\r\n"),
              200);
    ASSERT_EQ(status_of(port, "GET /healthz HTTP/1.1\r\nHost: [::1]:1\r\n\r\n"),
              200);
    ASSERT_EQ(status_of(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.9\r\n"
                              "\r\n"),
              200);
    /* A cross-site form posting a kill. */
    char req[256];
    snprintf(req, sizeof req,
             "POST /api/kill?pid=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Origin: http://evil.example\r\n\r\n",
             obs_pid_q(obs), port);
    ASSERT_EQ(status_of(port, req), 403);
    ASSERT_TRUE(grove_is_alive(obs));
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

/* Bytes from a seeded generator: request-shaped garbage and plain
 * noise. Every one gets a response or a close, and nothing breaks. */
PROC_TEST_OPTS(observe_garbage_never_breaks_it, .timeout_s = 120)
{
    grove_pid_t obs;
    grove_observer_opts_t o = {.request_timeout = 150};
    int port = OBS_START(&o, &obs);
    static const char *const parts[] = {
        "GET ", "POST ", "/", "/api/", "tree", "kill?pid=", "%3C0.1.1%3E",
        " HTTP/1.1", " HTTP/1.0", "\r\n", "\n", "Host: 127.0.0.1", ": ",
        "Content-Length: ", "99999999999999999999", "\x00", "\xff\xfe",
        "Connection: close", "Last-Event-ID: 5", "?", "&", "=", " ", "\t"};
    unsigned seed = 12345;
    char buf[2048];
    for (int round = 0; round < 120; round++) {
        size_t n = 0;
        int k = (int)(rand_r(&seed) % 24) + 1;
        for (int i = 0; i < k; i++) {
            const char *p = parts[rand_r(&seed) % (sizeof parts /
                                                   sizeof parts[0])];
            size_t l = p[0] ? strlen(p) : 1;
            if (n + l < sizeof buf)
                memcpy(buf + n, p, l), n += l;
        }
        if (round % 3 == 0)
            for (size_t i = 0; i < 64 && n < sizeof buf; i++)
                buf[n++] = (char)rand_r(&seed);
        /* Half end as a head would, the rest leave it open. */
        if (round % 2 && n + 4 < sizeof buf)
            memcpy(buf + n, "\r\n\r\n", 4), n += 4;
        obs_resp_t r = obs_raw(port, buf, n, 3000);
        ASSERT_TRUE(r.status == 0 || (r.status >= 200 && r.status < 600));
        obs_resp_free(&r);
    }
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

/* A client that leaves in the middle of a long answer costs nothing. */
PROC_TEST(observe_client_gone_mid_response)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    for (int i = 0; i < 20; i++) {
        int fd = obs_connect(port);
        static const char req[] =
            "GET /api/processes HTTP/1.1\r\n" H "\r\n";
        obs_send(fd, req, sizeof req - 1);
        close(fd);
    }
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}

/* Event streams are bounded too. */
PROC_TEST(observe_too_many_event_streams)
{
    grove_observer_opts_t o = {.max_connections = 40};
    grove_pid_t obs;
    int port = OBS_START(&o, &obs);
    int fd[20], ok = 0, busy = 0;
    static const char req[] = "GET /api/events HTTP/1.1\r\n" H "\r\n";
    for (int i = 0; i < 20; i++) {
        fd[i] = obs_connect(port);
        obs_send(fd[i], req, sizeof req - 1);
        char *got = obs_read_until(fd[i], "\r\n\r\n", 3000);
        ok += strncmp(got, "HTTP/1.1 200 ", 13) == 0;
        busy += strncmp(got, "HTTP/1.1 503 ", 13) == 0;
        free(got);
    }
    ASSERT_EQ(ok, 16);
    ASSERT_EQ(busy, 4);
    for (int i = 0; i < 20; i++)
        close(fd[i]);
    still_fine(port, obs);
    ASSERT_OK(grove_observer_stop(obs));
}
