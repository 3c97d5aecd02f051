/* The Logger: a gen_server that logs the server's events (connections,
 * registrations, joins, crashes) through Grove's logger at INFO, and
 * counts them. It can crash and restart without touching anything else:
 * senders cast, so they never wait on it. */
#include <stdio.h>
#include <string.h>

#include "chat_internal.h"

#define EVENT_MAX 200

static grove_gs_ret_t logger_init(grove_gs_t *gs, void *arg)
{
    (void)arg;
    uint64_t *count = grove_calloc(1, sizeof *count);
    if (!count)
        return GROVE_GS_INIT_STOP(grove_reason_error(1, "out of memory"));
    grove_gs_set_state(gs, count);
    return GROVE_GS_INIT_OK();
}

static grove_gs_ret_t logger_cast(grove_gs_t *gs, const grove_msg_t *m)
{
    uint64_t *count = grove_gs_state(gs);
    ++*count;
    grove_log(GROVE_LOG_INFO, "chat: %.*s", (int)grove_msg_size(m),
              (const char *)grove_msg_data(m));
    return GROVE_GS_NOREPLY();
}

static grove_gs_ret_t logger_call(grove_gs_t *gs, const grove_msg_t *req,
                                  grove_gs_from_t from)
{
    (void)req;
    (void)from;
    uint64_t *count = grove_gs_state(gs);
    return GROVE_GS_REPLY(LOG_COUNT, count, sizeof *count);
}

const grove_gs_callbacks_t chat_logger_cb = {
    .name = "Chat.Logger",
    .init = logger_init,
    .handle_call = logger_call,
    .handle_cast = logger_cast,
};

void chat_log(const char *fmt, ...)
{
    char text[EVENT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof text)
        n = (int)sizeof text - 1;
    grove_gs_cast(grove_server_name(NAME_LOGGER), LOG_EVENT, text,
                  (size_t)n);
}
