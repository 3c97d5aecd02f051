/* The load generator of the tcp_echo_rps workload, shared by the three
 * sides so that only the echo server differs.
 *
 *     tcp_echo_client PORT [CONNECTIONS [SECONDS]]
 *
 * Opens CONNECTIONS (default 100) TCP connections to 127.0.0.1:PORT from
 * one thread with epoll. Once all are up, each connection sends a request
 * of REQ_SIZE bytes, waits for all of it to come back, checks every byte,
 * and sends the next, for SECONDS (default 3). After the deadline no new
 * request is sent; the ones in flight are waited for and checked too.
 * Prints the requests answered per second on stdout; a wrong or missing
 * echo, a closed connection or a stall of STALL_MS prints a message on
 * stderr and exits with status 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE 64
#define DEFAULT_CONNS 100
#define DEFAULT_SECONDS 3
#define STALL_MS 10000

struct conn {
    int fd;
    uint64_t seq;         /* the request in flight */
    size_t got;           /* bytes of its echo received */
    int busy;             /* a request is in flight */
    unsigned char req[REQ_SIZE];
};

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "tcp_echo_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static _Noreturn void bad(const char *msg, size_t conn)
{
    fprintf(stderr, "tcp_echo_client: connection %zu: %s\n", conn, msg);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Request bytes depend on the connection and the sequence number, so an
 * echo sent to the wrong connection or a stale one fails the check. */
static void fill(struct conn *c, size_t index)
{
    uint64_t x = (uint64_t)index * UINT64_C(0x9e3779b97f4a7c15) ^ c->seq;

    for (size_t i = 0; i < REQ_SIZE; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c->req[i] = (unsigned char)x;
    }
}

static void send_req(struct conn *c, size_t index)
{
    ssize_t n;

    fill(c, index);
    c->got = 0;
    c->busy = 1;
    /* 64 bytes always fit an empty socket buffer: the previous request's
     * echo has come back, so nothing of ours is queued. */
    n = send(c->fd, c->req, REQ_SIZE, MSG_NOSIGNAL);
    if (n < 0)
        die("send");
    if (n != REQ_SIZE)
        bad("short send", index);
}

int main(int argc, char **argv)
{
    int port, nconns = DEFAULT_CONNS, seconds = DEFAULT_SECONDS, ep;
    struct sockaddr_in addr;
    struct conn *conns;
    struct epoll_event evs[256];
    uint64_t t0, deadline, last_progress, done = 0;
    size_t inflight = 0;
    int sending = 1;

    if (argc < 2 || argc > 4) {
        fputs("usage: tcp_echo_client PORT [CONNECTIONS [SECONDS]]\n",
              stderr);
        return 2;
    }
    port = atoi(argv[1]);
    if (argc > 2)
        nconns = atoi(argv[2]);
    if (argc > 3)
        seconds = atoi(argv[3]);
    if (port <= 0 || port > 65535 || nconns <= 0 || seconds <= 0) {
        fputs("tcp_echo_client: bad arguments\n", stderr);
        return 2;
    }

    conns = calloc((size_t)nconns, sizeof *conns);
    if (conns == NULL)
        die("calloc");
    ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* Blocking connects: set-up is not timed. */
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        struct epoll_event ev = {.events = EPOLLIN};
        int one = 1;

        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0)
            die("socket");
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
            die("connect");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ev.data.u64 = (uint64_t)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("epoll_ctl");
    }

    t0 = now_ns();
    deadline = t0 + (uint64_t)seconds * UINT64_C(1000000000);
    last_progress = t0;
    for (int i = 0; i < nconns; i++) {
        send_req(&conns[i], (size_t)i);
        inflight++;
    }
    while (inflight > 0) {
        int n = epoll_wait(ep, evs, 256, 100);
        uint64_t now;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            size_t i = (size_t)evs[k].data.u64;
            struct conn *c = &conns[i];
            unsigned char buf[REQ_SIZE];
            ssize_t r;

            if (!c->busy)
                bad("data with no request in flight", i);
            r = recv(c->fd, buf, REQ_SIZE - c->got, MSG_DONTWAIT);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    continue;
                die("recv");
            }
            if (r == 0)
                bad("closed by the server", i);
            if (memcmp(buf, c->req + c->got, (size_t)r) != 0)
                bad("wrong echo", i);
            c->got += (size_t)r;
            if (c->got < REQ_SIZE)
                continue;
            c->busy = 0;
            done++;
            c->seq++;
            if (sending && now_ns() >= deadline)
                sending = 0;
            if (sending)
                send_req(c, i);
            else
                inflight--;
        }
        now = now_ns();
        if (n > 0)
            last_progress = now;
        else if (now - last_progress > (uint64_t)STALL_MS * 1000000u) {
            fprintf(stderr, "tcp_echo_client: no echo for %d ms, %zu "
                    "requests in flight\n", STALL_MS, inflight);
            return 1;
        }
        if (sending && now >= deadline)
            sending = 0;
    }
    /* Every connection was answered for each of its requests. */
    {
        uint64_t sum = 0, t1 = now_ns();

        for (int i = 0; i < nconns; i++)
            sum += conns[i].seq;
        if (sum != done) {
            fprintf(stderr, "tcp_echo_client: %llu echoes, %llu requests\n",
                    (unsigned long long)done, (unsigned long long)sum);
            return 1;
        }
        for (int i = 0; i < nconns; i++)
            close(conns[i].fd);
        printf("%.1f\n", (double)done / ((double)(t1 - t0) / 1e9));
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
