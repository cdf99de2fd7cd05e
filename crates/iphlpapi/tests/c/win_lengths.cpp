// A Windows C++ socket program passing lengths as int *, as Winsock
// declares them (Linux: socklen_t *), compiled unchanged with g++ and
// clang++ against the compatibility headers, every warning an error. It
// also passes NULL, nullptr and socklen_t lengths, which must still reach
// Linux's calls. Prints "NAME VALUE" lines; run in a network namespace.
// It includes the Winsock headers in an extern "C" block, as C++ code
// wrapping C headers does: the overloads must not be given C linkage.
extern "C" {
#include <winsock2.h>
#include <ws2tcpip.h>
}
#include <cstdio>

#pragma comment(lib, "ws2_32.lib")

static void show(const char *name, long value)
{
    std::printf("%s %ld\n", name, value);
}

int main()
{
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return 1;

    SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    SOCKADDR_IN addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof addr;
    if (listener == INVALID_SOCKET || bind(listener, (SOCKADDR *)&addr, len) == SOCKET_ERROR ||
        listen(listener, SOMAXCONN) == SOCKET_ERROR)
        return 1;
    show("getsockname", getsockname(listener, (SOCKADDR *)&addr, &len));
    show("getsockname_len", len);

    SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    SOCKET client2 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    SOCKET client3 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (connect(client, (SOCKADDR *)&addr, sizeof addr) == SOCKET_ERROR ||
        connect(client2, (SOCKADDR *)&addr, sizeof addr) == SOCKET_ERROR ||
        connect(client3, (SOCKADDR *)&addr, sizeof addr) == SOCKET_ERROR)
        return 1;

    SOCKADDR_IN peer = {};
    int peer_len = sizeof peer;
    SOCKET server = accept(listener, (SOCKADDR *)&peer, &peer_len);
    show("accept_int", server != INVALID_SOCKET);
    show("accept_int_len", peer_len);
    SOCKET server2 = accept(listener, NULL, NULL);
    show("accept_null", server2 != INVALID_SOCKET);
    socklen_t linux_len = sizeof peer;
    SOCKET server3 = accept(listener, (SOCKADDR *)&peer, &linux_len);
    show("accept_socklen", server3 != INVALID_SOCKET && linux_len == sizeof peer);

    int name_len = sizeof peer;
    show("getpeername", getpeername(client, (SOCKADDR *)&peer, &name_len));
    show("getpeername_port_matches", peer.sin_port == addr.sin_port);

    int type = 0;
    int type_len = sizeof type;
    show("getsockopt", getsockopt(client, SOL_SOCKET, SO_TYPE, (char *)&type, &type_len));
    show("getsockopt_type", type == SOCK_STREAM);
    show("getsockopt_len", type_len);

    SOCKET udp = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    SOCKADDR_IN udp_addr = {};
    udp_addr.sin_family = AF_INET;
    udp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int udp_len = sizeof udp_addr;
    if (bind(udp, (SOCKADDR *)&udp_addr, sizeof udp_addr) == SOCKET_ERROR ||
        getsockname(udp, (SOCKADDR *)&udp_addr, &udp_len) == SOCKET_ERROR ||
        sendto(udp, "d", 1, 0, (SOCKADDR *)&udp_addr, sizeof udp_addr) != 1)
        return 1;
    char c = 0;
    SOCKADDR_IN from = {};
    int from_len = sizeof from;
    show("recvfrom", recvfrom(udp, &c, 1, 0, (SOCKADDR *)&from, &from_len));
    show("recvfrom_len", from_len);
    show("recvfrom_from_port_matches", from.sin_port == udp_addr.sin_port);
    if (sendto(udp, "e", 1, 0, (SOCKADDR *)&udp_addr, sizeof udp_addr) != 1)
        return 1;
    show("recvfrom_nullptr", recvfrom(udp, &c, 1, 0, nullptr, nullptr));

    closesocket(udp);
    closesocket(server3);
    closesocket(server2);
    closesocket(server);
    closesocket(client3);
    closesocket(client2);
    closesocket(client);
    closesocket(listener);
    return WSACleanup();
}
