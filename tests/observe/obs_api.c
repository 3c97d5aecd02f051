/* The observer's endpoints against a small tree: the page, the probes,
 * the process list, the tree with its restarts and history, kill, the
 * event stream, schedulers, and starting and stopping observers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "obs_util.h"

/* Polls GET /api/tree (every 20 ms, up to 5 s scaled) until cond holds
 * for the parsed tree t; evaluates to the tree (the caller frees it). */
#define WAIT_TREE(port, t, cond)                                             \
    do {                                                                     \
        int64_t wt_dl_ = gt_now_ms() + gt_scaled_ms(5000);                   \
        for (;;) {                                                           \
            (t) = OBS_GET_JSON((port), "/api/tree", 200);                    \
            if (cond)                                                        \
                break;                                                       \
            if (gt_now_ms() > wt_dl_)                                        \
                GT_FAIL("tree never showed: %s", #cond);                     \
            gj_free(t);                                                      \
            grove_sleep(20);                                                 \
        }                                                                    \
    } while (0)

static const char *child_pid(const gj_t *tree, grove_pid_t sup, const char *id)
{
    return gj_str(obs_find_id(obs_find_root(tree, sup), id), "pid", "");
}

/* ---- the page and the probes -------------------------------------------- */

typedef struct file_job {
    char *text;
    char path[1024];
} file_job_t;

static void read_file(void *arg)
{
    file_job_t *j = arg;
    FILE *f = fopen(j->path, "rb");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    j->text = calloc(1, (size_t)n + 1);
    if (fread(j->text, 1, (size_t)n, f) != (size_t)n)
        j->text[0] = '\0';
    fclose(f);
}

/* The page served is page.html as it is in the tree: the generated
 * page.c was regenerated after the last edit. */
PROC_TEST(observe_page_is_page_html)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    obs_resp_t r = obs_get(port, "/");
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(obs_header(&r, "Content-Type"), "text/html; charset=utf-8");
    ASSERT_TRUE(strstr(obs_header(&r, "Content-Security-Policy"),
                       "default-src 'none'") != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/observe/");
    ASSERT_NOT_NULL(cut);
    strcpy(cut, "src/observe/page.html");
    file_job_t *j = calloc(1, sizeof *j);
    snprintf(j->path, sizeof j->path, "%s", path);
    obs_blocking(read_file, j, free);
    ASSERT_NOT_NULL(j->text);
    if (strcmp(j->text, r.body) != 0)
        GT_FAIL("the page served differs from %s: run "
                "tools/observer-page.py", path);
    free(j->text);
    free(j);
    obs_resp_free(&r);
    ASSERT_OK(grove_observer_stop(obs));
}

PROC_TEST(observe_healthz_get_and_head)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    obs_resp_t r = obs_get(port, "/healthz");
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, "ok\n");
    ASSERT_STREQ(obs_header(&r, "Connection"), "close");
    obs_resp_free(&r);
    r = obs_request(port, "HEAD", "/healthz");
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(obs_header(&r, "Content-Length"), "3");
    ASSERT_EQ(r.body_len, 0);
    obs_resp_free(&r);
    ASSERT_OK(grove_observer_stop(obs));
}

/* ---- processes ---------------------------------------------------------- */

static const char *const FIELDS[] = {
    "pid", "name", "status", "mailbox_len", "memory", "links", "monitors",
    "monitored_by", "behaviour", "parent", "reductions", "stack_used",
    "trap_exit", "dictionary", "heap_size", "max_heap_size"};

static const gj_t *find_pid(const gj_t *list, grove_pid_t pid)
{
    for (size_t i = 0; i < gj_len(list); i++)
        if (strcmp(gj_str(gj_at(list, i), "pid", ""), obs_pid(pid)) == 0)
            return gj_at(list, i);
    return NULL;
}

PROC_TEST(observe_processes_lists_every_process)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(NULL, &obs);
    gj_t *list = OBS_GET_JSON(port, "/api/processes", 200);
    ASSERT_EQ(list->type, GJ_ARR);
    /* The tree (4), the observer (4 + this connection), the test. */
    ASSERT_GE(gj_len(list), 10);
    for (size_t i = 0; i < gj_len(list); i++)
        for (size_t k = 0; k < sizeof FIELDS / sizeof FIELDS[0]; k++)
            if (!gj_get(gj_at(list, i), FIELDS[k]))
                GT_FAIL("process %zu has no %s", i, FIELDS[k]);
    const gj_t *s = find_pid(list, sup);
    ASSERT_NOT_NULL(s);
    ASSERT_STREQ(gj_str(s, "behaviour", ""), "supervisor");
    ASSERT_STREQ(gj_str(s, "parent", ""), obs_pid(grove_self()));
    ASSERT_EQ(gj_get(s, "trap_exit")->b, true);
    ASSERT_EQ(gj_num(s, "links", -1), 3);
    const gj_t *me = find_pid(list, grove_self());
    ASSERT_NOT_NULL(me);
    ASSERT_EQ(gj_get(me, "parent")->type, GJ_NULL);
    gj_free(list);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

PROC_TEST(observe_processes_one_sorted_and_refused)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(NULL, &obs);
    char path[128];
    snprintf(path, sizeof path, "/api/processes?pid=%s", obs_pid_q(sup));
    gj_t *one = OBS_GET_JSON(port, path, 200);
    ASSERT_EQ(gj_len(one), 1);
    ASSERT_STREQ(gj_str(gj_at(one, 0), "pid", ""), obs_pid(sup));
    gj_free(one);
    gj_t *top = OBS_GET_JSON(port, "/api/processes?sort=memory&limit=3", 200);
    ASSERT_EQ(gj_len(top), 3);
    for (size_t i = 1; i < 3; i++)
        ASSERT_GE(gj_num(gj_at(top, i - 1), "memory", 0),
                  gj_num(gj_at(top, i), "memory", 0));
    gj_free(top);
    gj_free(OBS_GET_JSON(port, "/api/processes?sort=mailbox", 200));
    gj_free(OBS_GET_JSON(port, "/api/processes?sort=reductions&limit=1",
                         200));
    gj_free(OBS_GET_JSON(port, "/api/processes?sort=size", 400));
    gj_free(OBS_GET_JSON(port, "/api/processes?limit=0", 400));
    gj_free(OBS_GET_JSON(port, "/api/processes?pid=%3C0.999999.7%3E", 404));
    gj_free(OBS_GET_JSON(port, "/api/processes?pid=nonsense", 400));
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

/* ---- the tree, kill, restarts ------------------------------------------- */

PROC_TEST(observe_tree_shows_the_supervisor_and_its_children)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(NULL, &obs);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    ASSERT_STREQ(gj_str(t, "observer", ""), obs_pid(obs));
    ASSERT_EQ(gj_get(t, "kill")->b, true);
    const gj_t *root = obs_find_root(t, sup);
    ASSERT_NOT_NULL(root);
    ASSERT_STREQ(gj_str(root, "behaviour", ""), "supervisor");
    ASSERT_STREQ(gj_str(root, "query", ""), "ok");
    ASSERT_STREQ(gj_str(root, "strategy", ""), "one_for_one");
    ASSERT_EQ(gj_num(root, "max_restarts", 0), 50);
    ASSERT_EQ(gj_num(root, "max_seconds", 0), 60);
    ASSERT_EQ(gj_num(root, "restarts", -1), 0);
    ASSERT_EQ(gj_num(root, "children_total", 0), 3);
    ASSERT_EQ(gj_get(root, "observer")->b, false);
    const gj_t *kids = gj_get(root, "children");
    ASSERT_EQ(gj_len(kids), 3);
    static const char *const ids[] = {"w1", "w2", "w3"};
    for (size_t i = 0; i < 3; i++) { /* start order */
        const gj_t *k = gj_at(kids, i);
        ASSERT_STREQ(gj_str(k, "id", ""), ids[i]);
        ASSERT_STREQ(gj_str(k, "state", ""), "running");
        ASSERT_STREQ(gj_str(k, "type", ""), "worker");
        ASSERT_STREQ(gj_str(k, "restart", ""), "permanent");
        grove_pid_t p;
        ASSERT_OK(grove_pid_parse(gj_str(k, "pid", ""), &p));
        ASSERT_TRUE(grove_is_alive(p));
    }
    /* The observer's own tree is a root too, marked as such. */
    const gj_t *self = obs_find_root(t, obs);
    ASSERT_NOT_NULL(self);
    ASSERT_EQ(gj_get(self, "observer")->b, true);
    ASSERT_NOT_NULL(obs_find_id(self, "acceptor"));
    ASSERT_NOT_NULL(obs_find_id(self, "connections"));
    gj_free(t);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

PROC_TEST(observe_kill_restarts_a_worker_under_a_new_pid)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(NULL, &obs);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    char old[GROVE_PID_STR_MAX], path[128];
    snprintf(old, sizeof old, "%s", child_pid(t, sup, "w2"));
    gj_free(t);
    grove_pid_t w2;
    ASSERT_OK(grove_pid_parse(old, &w2));
    snprintf(path, sizeof path, "/api/kill?pid=%s", obs_pid_q(w2));
    obs_resp_t r = obs_request(port, "POST", path);
    ASSERT_EQ(r.status, 200);
    gj_t *k = OBS_JSON(&r);
    ASSERT_STREQ(gj_str(k, "killed", ""), old);
    gj_free(k);
    obs_resp_free(&r);
    WAIT_TREE(port, t, child_pid(t, sup, "w2")[0] &&
                           strcmp(child_pid(t, sup, "w2"), old) != 0 &&
                           gj_num(obs_find_root(t, sup), "restarts", 0) == 1);
    const gj_t *root = obs_find_root(t, sup);
    ASSERT_FALSE(grove_is_alive(w2));
    ASSERT_EQ(gj_num(obs_find_id(root, "w2"), "restarts", 0), 1);
    ASSERT_EQ(gj_num(obs_find_id(root, "w1"), "restarts", -1), 0);
    /* The history: the old pid terminated (killed), then a restart. */
    const gj_t *h = gj_get(root, "history");
    bool terminated = false, restarted = false;
    for (size_t i = 0; i < gj_len(h); i++) {
        const gj_t *e = gj_at(h, i);
        if (strcmp(gj_str(e, "context", ""), "child_terminated") == 0 &&
            strcmp(gj_str(e, "child_pid", ""), old) == 0 &&
            strcmp(gj_str(e, "reason", ""), "killed") == 0)
            terminated = true;
        if (strcmp(gj_str(e, "context", ""), "restart") == 0)
            restarted = terminated;
    }
    ASSERT_TRUE(terminated && restarted);
    ASSERT_STREQ(gj_str(root, "label", ""), "Obs.Sup");
    gj_free(t);
    /* A stale pid is no process. */
    r = obs_request(port, "POST", path);
    ASSERT_EQ(r.status, 404);
    obs_resp_free(&r);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

/* A DynamicSupervisor shows its own restart statistics: its limits, and
 * restarts that outlive the children they happened to (a child that was
 * restarted and then terminated still counts). */
PROC_TEST(observe_tree_shows_dynamic_supervisor_stats)
{
    grove_dynsup_opts_t o = {.max_restarts = 9, .max_seconds = 4};
    grove_pid_t ds, obs, kid;
    grove_reason_t why;
    ASSERT_OK(grove_dynsup_start(&o, &ds, &why));
    grove_child_spec_t spec = {.entry = obs_worker_main};
    ASSERT_OK(grove_dynsup_start_child(grove_server_pid(ds), &spec, &kid,
                                       &why));
    grove_sup_stats_t st;
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(grove_exit_signal(kid, &(grove_reason_t){
                                              .kind = GROVE_EXIT_KILL}));
        grove_child_info_t ci;
        size_t n = 0;
        WAIT_UNTIL(grove_dynsup_which_children(grove_server_pid(ds), &ci, 1,
                                               &n) == 0 &&
                   n == 1 && !grove_pid_equal(ci.pid, kid) &&
                   ci.state == GROVE_CHILD_RUNNING);
        kid = ci.pid;
    }
    ASSERT_OK(grove_dynsup_terminate_child(grove_server_pid(ds), kid));
    ASSERT_OK(grove_dynsup_stats(grove_server_pid(ds), &st));
    ASSERT_EQ(st.restarts, 2);
    int port = OBS_START(NULL, &obs);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    const gj_t *root = obs_find_root(t, ds);
    ASSERT_NOT_NULL(root);
    ASSERT_STREQ(gj_str(root, "behaviour", ""), "dynamic_supervisor");
    ASSERT_STREQ(gj_str(root, "strategy", ""), "one_for_one");
    ASSERT_EQ(gj_num(root, "max_restarts", 0), 9);
    ASSERT_EQ(gj_num(root, "max_seconds", 0), 4);
    ASSERT_EQ(gj_num(root, "restarts", -1), 2);
    ASSERT_EQ(gj_num(root, "restarts_in_window", -1), 2);
    ASSERT_EQ(gj_num(root, "children_total", -1), 0);
    gj_free(t);
    ASSERT_OK(grove_observer_stop(obs));
    grove_ref_t ref;
    ASSERT_OK(grove_monitor(ds, &ref));
    ASSERT_OK(grove_exit_signal(ds, &(grove_reason_t){
                                        .kind = GROVE_EXIT_SHUTDOWN}));
    grove_msg_t *m;
    ASSERT_OK(grove_recv_ref(&m, ref, gt_scaled_ms(GT_WAIT_MS)));
    grove_msg_free(m);
}

PROC_TEST(observe_kill_refused_when_disabled_or_malformed)
{
    grove_observer_opts_t o = {.kill = GROVE_OBSERVER_KILL_OFF};
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(&o, &obs);
    char path[128];
    snprintf(path, sizeof path, "/api/kill?pid=%s", obs_pid_q(sup));
    obs_resp_t r = obs_request(port, "POST", path);
    ASSERT_EQ(r.status, 403);
    obs_resp_free(&r);
    ASSERT_TRUE(grove_is_alive(sup));
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    ASSERT_EQ(gj_get(t, "kill")->b, false);
    gj_free(t);
    ASSERT_OK(grove_observer_stop(obs));
    port = OBS_START(NULL, &obs);
    r = obs_request(port, "POST", "/api/kill?pid=12");
    ASSERT_EQ(r.status, 400);
    obs_resp_free(&r);
    r = obs_request(port, "POST", "/api/kill");
    ASSERT_EQ(r.status, 400);
    obs_resp_free(&r);
    r = obs_request(port, "GET", path);
    ASSERT_EQ(r.status, 405);
    ASSERT_STREQ(obs_header(&r, "Allow"), "POST");
    obs_resp_free(&r);
    ASSERT_TRUE(grove_is_alive(sup));
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

/* ---- readiness ---------------------------------------------------------- */

static int readyz(int port, char *reason, size_t size)
{
    obs_resp_t r = obs_get(port, "/readyz");
    gj_t *v = OBS_JSON(&r);
    snprintf(reason, size, "%s", gj_str(v, "reason", ""));
    if ((r.status == 200) != gj_get(v, "ready")->b)
        GT_FAIL("readyz status %d says %s", r.status, r.body);
    int st = r.status;
    gj_free(v);
    obs_resp_free(&r);
    return st;
}

/* w3 restarts only after a backoff: while it waits, the tree is not
 * ready, and the tree shows it restarting without a process. */
PROC_TEST_OPTS(observe_readyz_503_while_a_child_restarts, .timeout_s = 60)
{
    uint32_t backoff = (uint32_t)gt_scaled_ms(2500);
    grove_pid_t sup = obs_start_tree(backoff), obs;
    grove_observer_opts_t o = {.roots = &sup, .nroots = 1};
    int port = OBS_START(&o, &obs);
    char why[200], path[128];
    ASSERT_EQ(readyz(port, why, sizeof why), 200);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    grove_pid_t w3;
    ASSERT_OK(grove_pid_parse(child_pid(t, sup, "w3"), &w3));
    gj_free(t);
    snprintf(path, sizeof path, "/api/kill?pid=%s", obs_pid_q(w3));
    int64_t killed = gt_now_ms();
    obs_resp_t r = obs_request(port, "POST", path);
    ASSERT_EQ(r.status, 200);
    obs_resp_free(&r);
    int st = 200;
    while (st == 200 && gt_now_ms() - killed < backoff / 2)
        st = readyz(port, why, sizeof why);
    ASSERT_EQ(st, 503);
    ASSERT_TRUE(strstr(why, "w3") && strstr(why, "restarting"));
    t = OBS_GET_JSON(port, "/api/tree", 200);
    const gj_t *n = obs_find_id(obs_find_root(t, sup), "w3");
    if (gt_now_ms() - killed < backoff) {
        ASSERT_STREQ(gj_str(n, "state", ""), "restarting");
        ASSERT_EQ(gj_get(n, "pid")->type, GJ_NULL);
    }
    gj_free(t);
    WAIT_UNTIL_MS(readyz(port, why, sizeof why) == 200, 10000);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

PROC_TEST(observe_readyz_503_when_a_root_is_gone)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    grove_observer_opts_t o = {.roots = &sup, .nroots = 1};
    int port = OBS_START(&o, &obs);
    char why[200];
    ASSERT_EQ(readyz(port, why, sizeof why), 200);
    obs_stop_tree(sup);
    ASSERT_EQ(readyz(port, why, sizeof why), 503);
    ASSERT_TRUE(strstr(why, "gone") != NULL);
    ASSERT_TRUE(strstr(why, obs_pid(sup)) != NULL);
    /* Liveness is the observer's own: still fine. */
    obs_resp_t r = obs_get(port, "/healthz");
    ASSERT_EQ(r.status, 200);
    obs_resp_free(&r);
    ASSERT_OK(grove_observer_stop(obs));
}

/* With nothing named, an observer started inside a tree watches that
 * tree's root. */
static grove_observer_opts_t inside_opts;

PROC_TEST(observe_readyz_watches_the_tree_it_is_started_in)
{
    static grove_child_spec_t k[2];
    k[0] = (grove_child_spec_t){.id = "w", .entry = obs_worker_main};
    k[1] = (grove_child_spec_t){.id = "observer",
                                .start = grove_observer_child_start,
                                .arg = &inside_opts,
                                .type = GROVE_SUPERVISOR};
    grove_sup_spec_t s = {.name = "Outer", .children = k, .nchildren = 2};
    grove_pid_t outer;
    grove_reason_t why;
    ASSERT_OK(grove_sup_start(&s, NULL, &outer, &why));
    grove_child_info_t ci[2];
    size_t n;
    ASSERT_OK(grove_sup_which_children(grove_server_pid(outer), ci, 2, &n));
    ASSERT_STREQ(ci[0].id, "observer");
    int port = grove_observer_port(ci[0].pid);
    ASSERT_GT(port, 0);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    const gj_t *root = obs_find_root(t, outer);
    ASSERT_NOT_NULL(root);
    /* Inside the tree, not a root of its own. */
    ASSERT_EQ(gj_get(obs_find_id(root, "observer"), "observer")->b, true);
    ASSERT_NULL(obs_find_root(t, ci[0].pid));
    gj_free(t);
    gj_t *rz = OBS_GET_JSON(port, "/readyz", 200);
    ASSERT_GE(gj_num(rz, "supervisors", 0), 3); /* outer, observer, conns */
    gj_free(rz);
    obs_stop_tree(outer);
}

/* A supervisor stuck in a slow child start answers nothing: the tree
 * and the probe say so within the call timeout, and do not wait. */
static int slow_start(void *arg, grove_pid_t *pid, grove_reason_t *why)
{
    (void)arg;
    (void)why;
    grove_sleep(gt_scaled_ms(3000));
    grove_spawn_opts_t so = {.link = true};
    return grove_spawn(obs_worker_main, NULL, &so, pid);
}

static void add_slow_child(void *arg)
{
    grove_pid_t sup = *(grove_pid_t *)arg;
    grove_child_spec_t c = {.id = "slow", .start = slow_start};
    grove_sup_start_child(grove_server_pid(sup), &c, NULL, NULL);
}

PROC_TEST_OPTS(observe_busy_supervisor_never_holds_a_request, .timeout_s = 60)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    grove_observer_opts_t o = {.roots = &sup, .nroots = 1,
                               .call_timeout = 300};
    int port = OBS_START(&o, &obs);
    grove_pid_t adder = SPAWN_MON(add_slow_child, &sup, NULL);
    grove_sleep(100); /* the supervisor is now inside slow_start */
    obs_resp_t r = obs_get(port, "/api/tree");
    ASSERT_EQ(r.status, 200);
    ASSERT_LT(r.ms, gt_scaled_ms(2000));
    gj_t *t = OBS_JSON(&r);
    ASSERT_STREQ(gj_str(obs_find_root(t, sup), "query", ""), "busy");
    gj_free(t);
    obs_resp_free(&r);
    char why[200];
    ASSERT_EQ(readyz(port, why, sizeof why), 503);
    ASSERT_TRUE(strstr(why, "busy") != NULL);
    AWAIT_EXIT(adder);
    ASSERT_EQ(readyz(port, why, sizeof why), 200);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

/* ---- events ------------------------------------------------------------- */

PROC_TEST(observe_events_stream_delivers_child_terminated)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(NULL, &obs);
    int fd = obs_connect(port);
    char req[128];
    int n = snprintf(req, sizeof req,
                     "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                     port);
    obs_send(fd, req, (size_t)n);
    char *head = obs_read_until(fd, "grove observer events", 5000);
    ASSERT_TRUE(strstr(head, "HTTP/1.1 200") == head);
    ASSERT_TRUE(strstr(head, "Content-Type: text/event-stream") != NULL);
    free(head);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    grove_pid_t w1;
    ASSERT_OK(grove_pid_parse(child_pid(t, sup, "w1"), &w1));
    gj_free(t);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(w1, &kill));
    char *ev = obs_read_until(fd, "\"context\":\"child_terminated\"", 5000);
    ASSERT_TRUE(strstr(ev, "\"context\":\"child_terminated\"") != NULL);
    /* Server-sent events: an id line, then one JSON object per data. */
    char *id = strstr(ev, "\nid: ");
    ASSERT_NOT_NULL(id);
    char *data = strstr(id, "\ndata: ");
    ASSERT_NOT_NULL(data);
    char *end = strstr(data, "\n\n");
    ASSERT_NOT_NULL(end);
    gj_t *e = gj_parse(data + 7, (size_t)(end - data - 7), NULL);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ(gj_num(e, "seq", 0), atof(id + 5));
    ASSERT_STREQ(gj_str(e, "kind", ""), "supervisor_report");
    ASSERT_STREQ(gj_str(e, "pid", ""), obs_pid(sup));
    gj_free(e);
    ASSERT_TRUE(strstr(ev, obs_pid(w1)) != NULL);
    free(ev);
    close(fd);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

static void assert_fails(void *arg)
{
    GROVE_ASSERT(arg != NULL);
}

/* Whether the supervisor has replaced child id's pid old. */
static bool replaced(int port, grove_pid_t sup, const char *id,
                     grove_pid_t old)
{
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    grove_pid_t now = GROVE_PID_NONE;
    bool ok = grove_pid_parse(child_pid(t, sup, id), &now) == 0 &&
              now.id != old.id;
    gj_free(t);
    return ok;
}

/* A stream resumes after Last-Event-ID: what it missed is sent first. */
PROC_TEST(observe_events_resume_and_crash_reports)
{
    grove_pid_t sup = obs_start_tree(0), obs;
    int port = OBS_START(NULL, &obs);
    gj_t *t = OBS_GET_JSON(port, "/api/tree", 200);
    grove_pid_t w2;
    ASSERT_OK(grove_pid_parse(child_pid(t, sup, "w2"), &w2));
    gj_free(t);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(w2, &kill));
    /* The supervisor's report comes first in the log once it restarted
     * the child. */
    WAIT_UNTIL(replaced(port, sup, "w2", w2));
    grove_pid_t crasher = SPAWN_MON(assert_fails, NULL, NULL);
    AWAIT_EXIT(crasher);
    int fd = obs_connect(port);
    char req[160];
    int n = snprintf(req, sizeof req,
                     "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Last-Event-ID: 0\r\n\r\n",
                     port);
    obs_send(fd, req, (size_t)n);
    char *ev = obs_read_until(fd, "\"kind\":\"crash_report\"", 5000);
    ASSERT_TRUE(strstr(ev, "\"context\":\"child_terminated\"") != NULL);
    ASSERT_TRUE(strstr(ev, "\"kind\":\"crash_report\"") != NULL);
    ASSERT_TRUE(strstr(ev, "id: 1\n") != NULL);
    free(ev);
    close(fd);
    ASSERT_OK(grove_observer_stop(obs));
    obs_stop_tree(sup);
}

/* ---- schedulers --------------------------------------------------------- */

PROC_TEST_OPTS(observe_schedulers_over_time, .schedulers = 2)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    grove_sleep(gt_scaled_ms(2200));
    gj_t *s = OBS_GET_JSON(port, "/api/schedulers", 200);
    ASSERT_EQ(gj_num(s, "schedulers", 0), 2);
    ASSERT_GE(gj_len(gj_get(s, "samples")), 2);
    ASSERT_GE(gj_num(s, "identified", 0), 1);
    ASSERT_GE(gj_len(gj_get(s, "utilisation")), 1);
    ASSERT_LE(gj_len(gj_get(s, "utilisation")), 2);
    ASSERT_GE(gj_len(gj_get(s, "threads")), 3);
    const gj_t *last = gj_at(gj_get(s, "samples"),
                             gj_len(gj_get(s, "samples")) - 1);
    ASSERT_GE(gj_num(last, "processes", 0), 5);
    gj_free(s);
    ASSERT_OK(grove_observer_stop(obs));
}

/* ---- starting and stopping ---------------------------------------------- */

PROC_TEST(observe_start_errors)
{
    grove_pid_t obs, other;
    int port = OBS_START(NULL, &obs);
    grove_observer_opts_t o = {.port = port};
    ASSERT_ERR(grove_observer_start(&o, &other), GROVE_EEXIST);
    o = (grove_observer_opts_t){.port = 70000};
    ASSERT_ERR(grove_observer_start(&o, &other), GROVE_EINVAL);
    grove_pid_t many[GROVE_OBSERVER_MAX_ROOTS + 1] = {{0}};
    o = (grove_observer_opts_t){.roots = many,
                                .nroots = GROVE_OBSERVER_MAX_ROOTS + 1};
    ASSERT_ERR(grove_observer_start(&o, &other), GROVE_EINVAL);
    o = (grove_observer_opts_t){.name = "obs_named"};
    ASSERT_OK(grove_observer_start(&o, &other));
    ASSERT_ERR(grove_observer_start(&o, &obs), GROVE_EALREADYSTARTED);
    ASSERT_OK(grove_observer_stop(other));
    ASSERT_ERR(grove_observer_port(other), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_stop(other), GROVE_ENOPROC);
    ASSERT_ERR(grove_observer_port(GROVE_PID_NONE), GROVE_EINVAL);
    ASSERT_OK(grove_observer_stop(obs));
    /* The port is free again once it has stopped. */
    o = (grove_observer_opts_t){.port = port};
    ASSERT_OK(grove_observer_start(&o, &obs));
    ASSERT_EQ(grove_observer_port(obs), port);
    ASSERT_OK(grove_observer_stop(obs));
}

/* From main, outside any process. */
TEST(observe_start_and_stop_from_a_thread)
{
    ASSERT_ERR(grove_observer_start(NULL, NULL), GROVE_ENOTSTARTED);
    ASSERT_OK(grove_start(&(grove_config_t){.schedulers = 2}));
    grove_pid_t obs;
    grove_observer_opts_t bad = {.link = true};
    ASSERT_ERR(grove_observer_start(&bad, &obs), GROVE_EINVAL);
    ASSERT_OK(grove_observer_start(NULL, &obs));
    int port = grove_observer_port(obs);
    ASSERT_GT(port, 0);
    int fd = obs_connect(port);
    static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
    ASSERT_EQ(send(fd, req, sizeof req - 1, 0), (ssize_t)sizeof req - 1);
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_WAITALL);
    ASSERT_GT(n, 0);
    buf[n] = '\0';
    ASSERT_TRUE(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    close(fd);
    ASSERT_OK(grove_observer_stop(obs));
    ASSERT_OK(grove_stop());
}

/* A killed observer supervisor takes its whole tree, and frees its
 * state and socket with it (the leak and descriptor checks). */
PROC_TEST(observe_killed_observer_leaves_nothing)
{
    grove_pid_t obs;
    int port = OBS_START(NULL, &obs);
    int fd = obs_connect(port); /* a connection in progress */
    WATCH(obs);
    grove_reason_t kill = grove_reason_of(GROVE_EXIT_KILL);
    ASSERT_OK(grove_exit_signal(obs, &kill));
    ASSERT_REASON_KIND(AWAIT_EXIT(obs), GROVE_EXIT_KILLED);
    char *rest = obs_read_until(fd, NULL, 5000); /* closed, not hung */
    free(rest);
    close(fd);
    WAIT_UNTIL(grove_observer_port(obs) == GROVE_ENOPROC);
}
