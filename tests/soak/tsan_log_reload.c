/* tsan_log_reload.c - ThreadSanitizer check of the logger against a reload: one thread keeps
 * changing the level and format (as the daemon's SIGHUP reload does through tad_log_setup())
 * while the main thread logs. Built and run by tests/soak/tsan.sh against build-tsan/libtad.a;
 * TSan's exit code reports a race. Threading: the two threads share only the logger. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "tad/log.h"

#define ROUNDS 20000

static void *reloader(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        tad_log_setup(i & 1 ? TAD_LOG_INFO : TAD_LOG_WARN,
                      i & 2 ? TAD_LOG_FMT_JSON : TAD_LOG_FMT_TEXT);
    return NULL;
}

int main(void)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("/dev/null");
        return 1;
    }
    tad_log_set_fd(fd);
    pthread_t t;
    if (pthread_create(&t, NULL, reloader, NULL) != 0) {
        fputs("pthread_create failed\n", stderr);
        return 1;
    }
    for (int i = 0; i < ROUNDS; i++)
        log_info("line %d", i);
    pthread_join(t, NULL);
    close(fd);
    return 0;
}
