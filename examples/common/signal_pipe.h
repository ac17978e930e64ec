/* SIGINT and SIGTERM as loop events, for the example programs: the
 * handler writes the signal's number to a non-blocking self-pipe, and the
 * program watches the read end with cws_loop_watch_fd(), where any cws
 * call is allowed (in the handler itself none is). Header-only, so that
 * each example stays one folder that builds on its own. */
#ifndef CWS_EXAMPLES_SIGNAL_PIPE_H
#define CWS_EXAMPLES_SIGNAL_PIPE_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* A handler can reach nothing but globals; set once before the handlers
 * are installed, never changed after. */
static volatile sig_atomic_t signal_pipe_write_fd = -1;

static void signal_pipe_handler(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    /* write() is async-signal-safe; a full pipe already holds a wake-up. */
    if (write(signal_pipe_write_fd, &b, 1) < 0) { /* nothing to do */ }
    errno = saved;
}

/* Makes the pipe (fds[0] to watch, fds[1] for the handler) and installs
 * the handler for SIGINT and SIGTERM. 0, or -1 with errno set. */
static int signal_pipe_install(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) < 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0)
            return -1;
    }
    signal_pipe_write_fd = fds[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_pipe_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) return -1;
    return 0;
}

/* Empties the pipe (from the watch callback); returns how many signals
 * arrived since the last call. */
static int signal_pipe_drain(int fd) {
    unsigned char buf[16];
    ssize_t n;
    int count = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) count += (int)n;
    return count;
}

#endif
