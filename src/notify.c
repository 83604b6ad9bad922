/* notify.c - systemd notifications through libsystemd's sd_notify (see tad/notify.h).
 *
 * sd_notify does the socket work (path or abstract '@' names, one datagram per message) and
 * returns at once when NOTIFY_SOCKET is unset. No state is kept here, so every function is
 * thread-safe as long as nobody changes the environment concurrently.
 */
#include "tad/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define STATUS_MAX 480

static void send_msg(const char *msg)
{
    int saved = errno;
    int r = sd_notify(0, msg); /* advisory: a lost notification is not an error */
    (void)r;
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
