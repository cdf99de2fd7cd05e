/* Linux socket code that includes the compatibility headers -- first, as
 * a portable program that also speaks Windows would -- and goes on using
 * Linux's own sockets: descriptors, errno, fcntl, poll, select with nfds,
 * ioctl with an int, sockaddr_in6's s6_addr, in_addr's s_addr, socklen_t
 * lengths, AF_INET6 as 10, getaddrinfo. The headers add Windows names only,
 * so all of this compiles (every language mode, every warning an error)
 * and runs as without them. Prints "linux sockets ok" after an exchange
 * over IPv4 and IPv6 loopback. */
#define _POSIX_C_SOURCE 200809L
#include <windows.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#include <Iphlpapi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static int check(int ok, const char *what)
{
    if (!ok) {
        printf("%s: %s\n", what, strerror(errno));
        return 1;
    }
    return 0;
}

/* Listen on `addr`, connect to it, and send one byte both ways. */
static int exchange(struct sockaddr *addr, socklen_t len)
{
    int listener = socket(addr->sa_family, SOCK_STREAM, 0);
    int client = socket(addr->sa_family, SOCK_STREAM, 0);
    int server, nonblocking = 1;
    struct pollfd pfd;
    fd_set readable;
    struct timeval timeout = {5, 0};
    char c = 'x';

    if (check(listener >= 0 && client >= 0, "socket") ||
        check(bind(listener, addr, len) == 0, "bind") || check(listen(listener, 1) == 0, "listen") ||
        check(getsockname(listener, addr, &len) == 0, "getsockname") ||
        check(connect(client, addr, len) == 0, "connect"))
        return 1;
    server = accept(listener, NULL, NULL);
    if (check(server >= 0, "accept") || check(ioctl(client, FIONBIO, &nonblocking) == 0, "ioctl"))
        return 1;
    if (check(recv(client, &c, 1, 0) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "EAGAIN"))
        return 1;
    if (check(fcntl(server, F_SETFL, fcntl(server, F_GETFL) | O_NONBLOCK) == 0, "fcntl") ||
        check(write(server, "y", 1) == 1, "write"))
        return 1;
    pfd.fd = client;
    pfd.events = POLLIN;
    FD_ZERO(&readable);
    FD_SET(client, &readable);
    if (check(poll(&pfd, 1, 5000) == 1, "poll") ||
        check(select(client + 1, &readable, NULL, NULL, &timeout) == 1, "select") ||
        check(read(client, &c, 1) == 1 && c == 'y', "read"))
        return 1;
    close(server);
    close(client);
    close(listener);
    return 0;
}

int main(void)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct addrinfo hints, *found = NULL;

    if (AF_INET6 != 10 || sizeof(struct in_addr) != 4 || sizeof(SOCKET) != sizeof(int)) {
        printf("unexpected sizes\n");
        return 1;
    }
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr.s6_addr[15] = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo("127.0.0.1", NULL, &hints, &found) != 0 || found == NULL)
        return 1;
    freeaddrinfo(found);

    if (exchange((struct sockaddr *)&v4, sizeof v4) || exchange((struct sockaddr *)&v6, sizeof v6))
        return 1;
    printf("linux sockets ok\n");
    return 0;
}
