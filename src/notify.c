/* notify.c - systemd notifications (see tad/notify.h): one datagram per message to the
 * AF_UNIX socket named by NOTIFY_SOCKET (a path, or '@' for an abstract name), nothing when it
 * is unset. The send never blocks (MSG_DONTWAIT): a listener that stops reading loses
 * notifications instead of stalling the daemon's main thread, which also handles the signals.
 * The watchdog interval comes from libsystemd. No state is kept here, so every function is
 * thread-safe as long as nobody changes the environment concurrently.
 */
#include "tad/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define STATUS_MAX 480

/* Advisory: a lost notification is not an error, so failures are ignored. */
static void send_msg(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract name: not NUL-terminated, length counts */
    socklen_t salen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
    int saved = errno;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
        ssize_t n = sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
                           (const struct sockaddr *)&sa, salen);
        (void)n;
        close(fd);
    }
    errno = saved;
}

void tad_notify_ready(void)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld", (long)getpid());
    send_msg(msg);
}

void tad_notify_status(const char *fmt, ...)
{
    char msg[sizeof("STATUS=") + STATUS_MAX];
    static const char key[] = "STATUS=";
    for (size_t i = 0; i < sizeof(key); i++)
        msg[i] = key[i];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + sizeof(key) - 1, sizeof(msg) - (sizeof(key) - 1), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* one assignment per line in the protocol: keep the status on one line */
    for (char *p = msg + sizeof(key) - 1; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    send_msg(msg);
}

void tad_notify_watchdog(void)
{
    send_msg("WATCHDOG=1");
}

void tad_notify_stopping(void)
{
    send_msg("STOPPING=1");
}

void tad_notify_reloading(void)
{
    send_msg("RELOADING=1");
}

uint64_t tad_notify_watchdog_usec(void)
{
    int saved = errno;
    uint64_t usec = 0;
    int r = sd_watchdog_enabled(0, &usec);
    errno = saved;
    return r > 0 ? usec : 0;
}
