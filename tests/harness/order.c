/* Event-order recorder: a mutex-protected list of short strings. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gt_order {
    pthread_mutex_t mu;
    int n;
    char ev[GT_ORDER_MAX][GT_ORDER_EVENT_MAX];
};

gt_order_t *gt_order_new(void)
{
    gt_order_t *o = calloc(1, sizeof *o);
    if (!o)
        GT_FAIL("out of memory");
    pthread_mutex_init(&o->mu, NULL);
    return o;
}

void gt_order_free(gt_order_t *o)
{
    if (!o)
        return;
    pthread_mutex_destroy(&o->mu);
    free(o);
}

void gt_order_add(gt_order_t *o, const char *fmt, ...)
{
    char buf[GT_ORDER_EVENT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&o->mu);
    if (o->n >= GT_ORDER_MAX) {
        pthread_mutex_unlock(&o->mu);
        GT_FAIL("order recorder full (%d events)", GT_ORDER_MAX);
    }
    memcpy(o->ev[o->n++], buf, sizeof buf);
    pthread_mutex_unlock(&o->mu);
}

int gt_order_count(gt_order_t *o)
{
    pthread_mutex_lock(&o->mu);
    int n = o->n;
    pthread_mutex_unlock(&o->mu);
    return n;
}

/* Prints both sequences on a mismatch, so the failure shows where they
 * part ways. */
void gt_order_check(gt_order_t *o, const char *file, int line,
                    const char *const *expect)
{
    pthread_mutex_lock(&o->mu);
    int n = 0;
    while (expect[n])
        n++;
    int bad = -1;
    for (int i = 0; i < n || i < o->n; i++) {
        if (i >= n || i >= o->n || strcmp(expect[i], o->ev[i]) != 0) {
            bad = i;
            break;
        }
    }
    if (bad < 0) {
        pthread_mutex_unlock(&o->mu);
        return;
    }
    fprintf(stderr, "# event order (%d recorded, %d expected):\n", o->n, n);
    for (int i = 0; i < n || i < o->n; i++)
        fprintf(stderr, "#   %3d %c %-30s %s\n", i, i == bad ? '>' : ' ',
                i < o->n ? o->ev[i] : "-", i < n ? expect[i] : "-");
    pthread_mutex_unlock(&o->mu);
    gt_fail(file, line, "event order differs at index %d", bad);
}
