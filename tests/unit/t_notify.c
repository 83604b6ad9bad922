/* t_notify.c - systemd notifications: each message arrives as one datagram with the exact
 * text on a socket named by NOTIFY_SOCKET (a file path and an abstract '@' name); nothing is
 * sent without NOTIFY_SOCKET; WATCHDOG_USEC / WATCHDOG_PID parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tad/notify.h"

struct sink {
    int fd;
    char dir[64];
    char path[128];
};

/* Binds a datagram socket at a file path in a fresh temporary directory. */
static void sink_open_path(struct sink *k)
{
    snprintf(k->dir, sizeof(k->dir), "/tmp/t_notify.XXXXXX");
    assert_non_null(mkdtemp(k->dir));
    snprintf(k->path, sizeof(k->path), "%s/notify.sock", k->dir);
    k->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(k->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, k->path, strlen(k->path) + 1);
    assert_int_equal(bind(k->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", k->path, 1), 0);
}

/* Binds a datagram socket at an abstract name; NOTIFY_SOCKET spells it with '@'. */
static void sink_open_abstract(struct sink *k)
{
    k->dir[0] = '\0';
    snprintf(k->path, sizeof(k->path), "@t_notify.%ld", (long)getpid());
    k->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(k->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(k->path);
    memcpy(sa.sun_path + 1, k->path + 1, n - 1); /* sun_path[0] stays NUL */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    assert_int_equal(bind(k->fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", k->path, 1), 0);
}

static void sink_close(struct sink *k)
{
    unsetenv("NOTIFY_SOCKET");
    close(k->fd);
    if (k->dir[0]) {
        unlink(k->path);
        rmdir(k->dir);
    }
}

/* Receives one datagram (waiting up to timeout_ms) into buf; returns its length or -1. */
static ssize_t sink_recv(struct sink *k, char *buf, size_t sz, int timeout_ms)
{
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    ssize_t n = recv(k->fd, buf, sz - 1, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static void expect(struct sink *k, const char *want)
{
    char buf[1024];
    ssize_t n = sink_recv(k, buf, sizeof(buf), 2000);
    if (n < 0)
        fail_msg("no datagram, expected \"%s\"", want);
    assert_string_equal(buf, want);
}

static void send_all(void)
{
    tad_notify_ready();
    tad_notify_status("%u files in flight, %s", 3u, "polling");
    tad_notify_watchdog();
    tad_notify_stopping();
    tad_notify_reloading();
}

static void expect_all(struct sink *k)
{
    char ready[64];
    snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%ld", (long)getpid());
    expect(k, ready);
    expect(k, "STATUS=3 files in flight, polling");
    expect(k, "WATCHDOG=1");
    expect(k, "STOPPING=1");
    expect(k, "RELOADING=1");
    char buf[64];
    assert_int_equal(sink_recv(k, buf, sizeof(buf), 50), -1); /* nothing else */
}

static void path_socket(void **state)
{
    (void)state;
    struct sink k;
    sink_open_path(&k);
    errno = 1234;
    send_all();
    assert_int_equal(errno, 1234);
    expect_all(&k);
    /* NOTIFY_SOCKET is kept: later messages still arrive */
    tad_notify_watchdog();
    expect(&k, "WATCHDOG=1");
    sink_close(&k);
}

static void abstract_socket(void **state)
{
    (void)state;
    struct sink k;
    sink_open_abstract(&k);
    send_all();
    expect_all(&k);
    sink_close(&k);
}

static void status_is_one_line_and_bounded(void **state)
{
    (void)state;
    struct sink k;
    sink_open_path(&k);
    tad_notify_status("draining\nREADY=1");
    expect(&k, "STATUS=draining READY=1");
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tad_notify_status("%s", big);
    char buf[4096];
    ssize_t n = sink_recv(&k, buf, sizeof(buf), 2000);
    assert_int_equal(n, (ssize_t)(strlen("STATUS=") + 480));
    assert_true(strncmp(buf, "STATUS=aaaa", 11) == 0);
    sink_close(&k);
}

/* A listener that stops reading must not stall the sender (the daemon's main thread). */
static void full_listener_does_not_block(void **state)
{
    (void)state;
    struct sink k;
    sink_open_path(&k);
    alarm(10); /* a blocking send would hang here; the alarm ends the test instead */
    for (int i = 0; i < 5000; i++)
        tad_notify_status("status %d with some text to fill the socket buffer", i);
    alarm(0);
    sink_close(&k);
}

static void unset_socket_sends_nothing(void **state)
{
    (void)state;
    struct sink k;
    sink_open_path(&k);
    unsetenv("NOTIFY_SOCKET");
    send_all();
    char buf[64];
    assert_int_equal(sink_recv(&k, buf, sizeof(buf), 100), -1);
    /* a socket that does not exist is ignored too */
    assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/t_notify.sock", 1), 0);
    send_all();
    sink_close(&k);
}

static void watchdog_usec(void **state)
{
    (void)state;
    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(tad_notify_watchdog_usec(), 0);
    assert_int_equal(setenv("WATCHDOG_USEC", "30000000", 1), 0);
    assert_int_equal(tad_notify_watchdog_usec(), 30000000u);
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(tad_notify_watchdog_usec(), 30000000u);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0); /* meant for another process */
    assert_int_equal(tad_notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");
    assert_int_equal(setenv("WATCHDOG_USEC", "abc", 1), 0);
    assert_int_equal(tad_notify_watchdog_usec(), 0);
    assert_int_equal(setenv("WATCHDOG_USEC", "0", 1), 0);
    assert_int_equal(tad_notify_watchdog_usec(), 0);
    assert_int_equal(setenv("WATCHDOG_USEC", "-5", 1), 0);
    assert_int_equal(tad_notify_watchdog_usec(), 0);
    assert_int_equal(setenv("WATCHDOG_USEC", "1500", 1), 0);
    assert_int_equal(tad_notify_watchdog_usec(), 1500u);
    unsetenv("WATCHDOG_USEC");
}

int main(void)
{
    unsetenv("NOTIFY_SOCKET");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_socket),
        cmocka_unit_test(full_listener_does_not_block),
        cmocka_unit_test(abstract_socket),
        cmocka_unit_test(status_is_one_line_and_bounded),
        cmocka_unit_test(unset_socket_sends_nothing),
        cmocka_unit_test(watchdog_usec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
