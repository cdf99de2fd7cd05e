/* A Windows sockets program, compiled unchanged on Linux with
 *   cc win_winsock.c $(pkg-config --cflags --libs iphlpapi-compat)
 * It uses the Winsock and base pieces the compatibility headers add
 * around IP Helper -- SOCKET, SOCKADDR_IN, closesocket, ioctlsocket,
 * WSAGetLastError, InetPtonA/InetNtopA, GetLastError/SetLastError, Sleep,
 * SecureZeroMemory, _countof, BOOLEAN, INVALID_HANDLE_VALUE -- on real
 * sockets, and prints "NAME VALUE" for each outcome, for the test to
 * compare with what Windows reports. Run it in a network namespace with
 * only lo up (10.255.255.1 must be unreachable). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma comment(lib, "ws2_32.lib")

static void show(const char *name, long value)
{
    printf("%s %ld\n", name, value);
}

/* The Windows way to report a failed socket call. */
static void show_call(const char *name, int result)
{
    if (result == SOCKET_ERROR)
        show(name, WSAGetLastError());
    else
        show(name, result);
}

static SOCKET tcp_socket(void)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
        printf("socket failed: %d\n", WSAGetLastError());
        exit(1);
    }
    return s;
}

static void loopback(SOCKADDR_IN *addr, u_short port)
{
    ZeroMemory(addr, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons(port);
    if (InetPtonA(AF_INET, "127.0.0.1", &addr->sin_addr) != 1) {
        printf("InetPtonA failed\n");
        exit(1);
    }
}

static long elapsed_ms(const FILETIME *from, const FILETIME *to)
{
    ULARGE_INTEGER a, b;
    a.LowPart = from->dwLowDateTime;
    a.HighPart = from->dwHighDateTime;
    b.LowPart = to->dwLowDateTime;
    b.HighPart = to->dwHighDateTime;
    return (long)((b.QuadPart - a.QuadPart) / 10000);
}

int main(void)
{
    static const int seven[] = {1, 2, 3, 4, 5, 6, 7};
    WSADATA wsa;
    SOCKET listener, client, server, other;
    SOCKADDR_IN addr, unreachable;
    socklen_t len = sizeof addr;
    u_long value;
    char buf[64], secret[16];
    unsigned char in6[16];
    struct in_addr in4;
    FILETIME before, after;
    BOOLEAN flag = TRUE;
    HMODULE lib;

    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return 1;

    /* A listener and one connection to it. */
    listener = tcp_socket();
    loopback(&addr, 0);
    show_call("bind", bind(listener, (SOCKADDR *)&addr, sizeof addr));
    show_call("listen", listen(listener, SOMAXCONN));
    show_call("getsockname", getsockname(listener, (SOCKADDR *)&addr, &len));
    client = tcp_socket();
    show_call("connect", connect(client, (SOCKADDR *)&addr, sizeof addr));
    server = accept(listener, NULL, NULL);
    show("accepted", server != INVALID_SOCKET);

    /* Non-blocking: nothing to read yet. */
    value = 1;
    show_call("fionbio", ioctlsocket(client, FIONBIO, &value));
    show_call("recv_nothing", recv(client, buf, sizeof buf, 0));
    show_call("send", send(server, "hello", 5, 0));
    Sleep(50);
    value = 0;
    show_call("fionread_call", ioctlsocket(client, FIONREAD, &value));
    show("fionread", (long)value);
    show_call("ioctl_other", ioctlsocket(client, 0x4004667f, &value));

    /* closesocket, twice: the second is on no socket. */
    show_call("closesocket", closesocket(client));
    show_call("closesocket_again", closesocket(client));

    /* Errors the kernel reports, as Windows numbers them. */
    other = tcp_socket();
    show_call("bind_in_use", bind(other, (SOCKADDR *)&addr, sizeof addr));
    closesocket(other);
    closesocket(listener);
    other = tcp_socket();
    show_call("connect_refused", connect(other, (SOCKADDR *)&addr, sizeof addr));
    closesocket(other);
    other = tcp_socket();
    ZeroMemory(&unreachable, sizeof unreachable);
    unreachable.sin_family = AF_INET;
    unreachable.sin_port = htons(9);
    InetPtonA(AF_INET, "10.255.255.1", &unreachable.sin_addr);
    show_call("connect_unreachable", connect(other, (SOCKADDR *)&unreachable, sizeof unreachable));
    closesocket(other);
    show("socket_bad_family", socket(200, SOCK_STREAM, 0) == INVALID_SOCKET ? WSAGetLastError() : 0);

    /* A non-blocking connect is under way, not refused. */
    listener = tcp_socket();
    loopback(&addr, 0);
    len = sizeof addr;
    if (bind(listener, (SOCKADDR *)&addr, sizeof addr) == SOCKET_ERROR ||
        listen(listener, SOMAXCONN) == SOCKET_ERROR ||
        getsockname(listener, (SOCKADDR *)&addr, &len) == SOCKET_ERROR)
        return 1;
    other = tcp_socket();
    value = 1;
    ioctlsocket(other, FIONBIO, &value);
    show_call("connect_nonblocking", connect(other, (SOCKADDR *)&addr, sizeof addr));
    closesocket(other);
    closesocket(server);
    closesocket(listener);

    /* The last error: what is set is what is read, and Winsock's codes
     * are the errno Linux code knows. */
    SetLastError(0);
    show("last_error_0", (long)GetLastError());
    SetLastError(ERROR_INVALID_PARAMETER);
    show("last_error_87", (long)GetLastError());
    SetLastError(ERROR_INSUFFICIENT_BUFFER);
    show("last_error_122", (long)GetLastError());
    SetLastError(0xDEADBEEF);
    show("last_error_deadbeef", GetLastError() == 0xDEADBEEF);
    SetLastError(12345678);
    show("last_error_12345678", (long)GetLastError());
    WSASetLastError(WSAECONNRESET);
    show("wsa_last_error", WSAGetLastError());
    WSASetLastError(WSAEWOULDBLOCK);
    show("wsa_errno_is_ewouldblock", errno == EWOULDBLOCK);
    Sleep(0);
    show("sleep_keeps_last_error", GetLastError());

    /* Addresses. */
    show("pton_v6_23", InetPtonA(23, "::1", in6));
    show("pton_v6_10", InetPtonA(AF_INET6, "::1", in6));
    show("pton_bad", InetPtonA(AF_INET, "nope", &in4));
    show("pton_af_ban", InetPtonA(AF_BAN, "1.2.3.4", &in4) == -1 ? WSAGetLastError() : 0);
    show("pton_null", InetPtonA(AF_INET, NULL, &in4) == -1 ? WSAGetLastError() : 0);
    show("ntop_small", InetNtopA(AF_INET, &addr.sin_addr, buf, 4) == NULL ? (long)GetLastError() : 0);
    printf("ntop_v6 %s\n", InetNtopA(23, in6, buf, sizeof buf));
    printf("ntop_v4 %s\n", InetNtop(AF_INET, &addr.sin_addr, buf, sizeof buf));

    /* Base pieces. */
    GetSystemTimeAsFileTime(&before);
    Sleep(100);
    GetSystemTimeAsFileTime(&after);
    show("slept_100ms", elapsed_ms(&before, &after) >= 100);
    memset(secret, 'k', sizeof secret);
    show("secure_zero", SecureZeroMemory(secret, sizeof secret) == secret && secret[0] == 0 &&
                            secret[sizeof secret - 1] == 0);
    show("countof", (long)_countof(seven));
    show("arraysize", (long)ARRAYSIZE(seven));
    show("boolean", (long)(sizeof flag * 10 + flag));
    show("invalid_handle", INVALID_HANDLE_VALUE == (HANDLE)(LONG_PTR)-1);
    lib = LoadLibraryA("ws2_32.dll");
    show("load_ws2_32", lib == NULL ? (long)GetLastError() : 0);
    lib = LoadLibrary("iphlpapi.dll");
    show("proc_missing", GetProcAddress(lib, "NoSuchCall") == NULL ? (long)GetLastError() : 0);
    FreeLibrary(lib);

    return WSACleanup();
}
