/* notify.h - systemd service notifications (sd_notify protocol, Type=notify units).
 *
 * Each call sends one datagram to the socket named by NOTIFY_SOCKET (a path, or an abstract
 * name starting with '@'); without NOTIFY_SOCKET every call does nothing. Failures are
 * ignored: notifications are advisory and must never stop the daemon. The environment is
 * left as it is (child processes of the daemon are not expected). Safe to call from any
 * thread; errno is preserved.
 */
#ifndef TAD_NOTIFY_H
#define TAD_NOTIFY_H

#include <stdint.h>

#include "tad/error.h"

/* "READY=1\nMAINPID=<pid>" */
void tad_notify_ready(void);
/* "STATUS=<text>"; the text is cut at 480 bytes and newlines in it become spaces. */
void tad_notify_status(const char *fmt, ...) TAD_PRINTF(1, 2);
/* "WATCHDOG=1" */
void tad_notify_watchdog(void);
/* "STOPPING=1" */
void tad_notify_stopping(void);
/* "RELOADING=1" */
void tad_notify_reloading(void);

/* Watchdog interval in microseconds from WATCHDOG_USEC (honouring WATCHDOG_PID when set);
 * 0 when the watchdog is not enabled for this process or the variable is malformed. Ping at
 * half this interval. */
uint64_t tad_notify_watchdog_usec(void);

#endif
