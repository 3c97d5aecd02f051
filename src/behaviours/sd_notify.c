/* The sd_notify protocol, written out so that Grove needs no libsystemd.
 *
 * A service manager that wants to hear from its service puts the address
 * of a datagram socket in NOTIFY_SOCKET; the service sends newline
 * separated KEY=VALUE lines to it, one datagram per message. The manager
 * learns the sender's pid from the kernel (SCM_CREDENTIALS), so nothing
 * else goes with the text.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"
#include "grove/application.h"

/* Fills *sa from NOTIFY_SOCKET's value. A leading '@' names a socket in
 * Linux's abstract namespace: its address starts with a zero byte and is
 * exactly as long as the name, with no terminator. Returns the address
 * length, or 0 when the value is no socket path we can reach. */
static socklen_t notify_addr(const char *path, struct sockaddr_un *sa)
{
    size_t len = strlen(path);
    if (len < 2 || len > sizeof sa->sun_path - 1)
        return 0;
    if (path[0] != '/' && path[0] != '@')
        return 0; /* e.g. systemd's vsock: form, which we do not speak */
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len);
    if (path[0] == '@') {
        sa->sun_path[0] = '\0';
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

GROVE_EXPORT int grove_sd_notify(const char *state)
{
    if (state == NULL || state[0] == '\0')
        return GROVE_EINVAL;
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return GROVE_ENOTFOUND;
    struct sockaddr_un sa;
    socklen_t salen = notify_addr(path, &sa);
    if (salen == 0)
        return GROVE_EINVAL;
    int saved = errno;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        errno = saved;
        return GROVE_ESYSCALL;
    }
    /* Never block a scheduler thread on a manager that reads slowly, and
     * never take SIGPIPE for a manager that went away. */
    size_t len = strlen(state);
    ssize_t n = sendto(fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&sa, salen);
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : GROVE_ESYSCALL;
}
