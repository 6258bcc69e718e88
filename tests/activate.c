/* A socket activator for the integration tests, doing what systemd's
 * stride-webhooks.socket does: it holds the listening socket, starts the
 * daemon on the first connection with the socket as fd 3 (LISTEN_FDS=1),
 * waits for it to exit, and starts a new one on the next connection.
 * systemd-socket-activate cannot do this: it becomes the program.
 *
 *   activate -l ADDR:PORT -e EVENTS_FILE -- PROGRAM ARGS...
 *
 * EVENTS_FILE gets one line per event, for the tests to assert on:
 *   listening PORT / started PID / notify PID READY=1 / exited PID STATUS
 * SIGTERM is passed on to a running daemon; the activator then exits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t terminate;
static FILE *events;

static void on_term(int sig)
{
        terminate = sig;
}

static void event(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void event(const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        vfprintf(events, format, ap);
        va_end(ap);
        fputc('\n', events);
        fflush(events);
}

static int listen_on(const char *spec)
{
        struct sockaddr_in sa = { .sin_family = AF_INET };
        char host[64];
        const char *colon = strrchr(spec, ':');
        int fd, one = 1;

        if (!colon || (size_t) (colon - spec) >= sizeof(host))
                return -1;
        memcpy(host, spec, (size_t) (colon - spec));
        host[colon - spec] = '\0';
        sa.sin_port = htons((uint16_t) atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                return -1;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
                return -1;
        return fd;
}

static int notify_socket(char *path, size_t size)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        snprintf(path, size, "/tmp/activate-notify-%d", (int) getpid());
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -1;
        return fd;
}

static pid_t start(int listen_fd, const char *notify_path, char **argv)
{
        pid_t pid = fork();
        char buf[32];

        if (pid != 0)
                return pid;

        if (listen_fd != 3) {
                dup2(listen_fd, 3);
                close(listen_fd);
        }
        snprintf(buf, sizeof(buf), "%d", (int) getpid());
        setenv("LISTEN_PID", buf, 1);
        setenv("LISTEN_FDS", "1", 1);
        setenv("NOTIFY_SOCKET", notify_path, 1);
        signal(SIGTERM, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
}

static void read_notify(int fd, pid_t pid)
{
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        char *line, *save = NULL;

        if (n <= 0)
                return;
        buf[n] = '\0';
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                event("notify %d %s", (int) pid, line);
}

static void reap(pid_t pid)
{
        int status;

        if (waitpid(pid, &status, 0) != pid)
                return;
        if (WIFEXITED(status))
                event("exited %d %d", (int) pid, WEXITSTATUS(status));
        else
                event("exited %d signal %d", (int) pid, WTERMSIG(status));
}

int main(int argc, char **argv)
{
        const char *listen_spec = NULL, *events_path = NULL;
        char notify_path[108];
        int opt, lfd, nfd;
        pid_t child = 0;

        while ((opt = getopt(argc, argv, "l:e:")) != -1) {
                if (opt == 'l')
                        listen_spec = optarg;
                else if (opt == 'e')
                        events_path = optarg;
                else
                        return 2;
        }
        if (!listen_spec || !events_path || optind >= argc) {
                fprintf(stderr, "usage: activate -l ADDR:PORT -e EVENTS -- PROGRAM ARGS...\n");
                return 2;
        }

        events = fopen(events_path, "a");
        lfd = listen_on(listen_spec);
        nfd = notify_socket(notify_path, sizeof(notify_path));
        if (!events || lfd < 0 || nfd < 0) {
                perror("activate");
                return 1;
        }
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        event("listening %s", listen_spec);

        while (!terminate) {
                struct pollfd p[2] = { { lfd, POLLIN, 0 }, { nfd, POLLIN, 0 } };

                /* While the daemon runs it owns the listening socket. */
                if (poll(child ? p + 1 : p, child ? 1 : 2, 100) < 0 && errno != EINTR)
                        break;
                if (child) {
                        read_notify(nfd, child);
                        siginfo_t info = { 0 };

                        if (waitid(P_PID, (id_t) child, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                            info.si_pid == child) {
                                read_notify(nfd, child);
                                reap(child);
                                child = 0;
                        }
                } else if (p[0].revents & POLLIN) {
                        child = start(lfd, notify_path, argv + optind);
                        event("started %d", (int) child);
                }
        }

        if (child) {
                kill(child, SIGTERM);
                reap(child);
        }
        unlink(notify_path);
        return 0;
}
