/* A Windows program that closes one of its own connections, compiled
 * unchanged on Linux with
 *   cc win_selfdrop.c $(pkg-config --cflags --libs iphlpapi-compat)
 * It opens a listener and two connections to it with socket(), finds the
 * first in GetExtendedTcpTable by its own process id and port, and aborts
 * it with SetTcpEntry, the way Windows tools close a connection they own
 * (or test a drop). Then it checks what each socket sees: the owner of
 * the dropped connection WSAECONNABORTED, its peer WSAECONNRESET, the
 * other connection still carries data, and the table holds exactly the
 * other connection. It prints one "NAME VALUE" line per fact, then
 * "listener PORT", "dropped PORT", "kept PORT" and "waiting", and waits for
 * a line on stdin (so a test can look at the sockets from outside) before
 * it closes everything. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "iphlpapi.lib")
#pragma comment(lib, "ws2_32.lib")

static void fail(const char *what)
{
    printf("%s failed: %d\n", what, WSAGetLastError());
    exit(1);
}

static SOCKET connected(const SOCKADDR_IN *to)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        fail("socket");
    if (connect(s, (const SOCKADDR *)to, sizeof *to) == SOCKET_ERROR)
        fail("connect");
    return s;
}

static u_short local_port(SOCKET s)
{
    SOCKADDR_IN addr;
    socklen_t len = sizeof addr;
    if (getsockname(s, (SOCKADDR *)&addr, &len) == SOCKET_ERROR)
        fail("getsockname");
    return ntohs(addr.sin_port);
}

/* This process's IPv4 connections, in Windows' owner-pid table. */
static PMIB_TCPTABLE_OWNER_PID own_table(void)
{
    PMIB_TCPTABLE_OWNER_PID table = NULL;
    DWORD size = 0, rc;

    rc = GetExtendedTcpTable(NULL, &size, FALSE, AF_INET, TCP_TABLE_OWNER_PID_CONNECTIONS, 0);
    while (rc == ERROR_INSUFFICIENT_BUFFER) {
        free(table);
        table = (PMIB_TCPTABLE_OWNER_PID)malloc(size);
        if (table == NULL)
            fail("malloc");
        rc = GetExtendedTcpTable(table, &size, FALSE, AF_INET, TCP_TABLE_OWNER_PID_CONNECTIONS, 0);
    }
    if (rc != NO_ERROR) {
        printf("GetExtendedTcpTable failed: %lu\n", (unsigned long)rc);
        exit(1);
    }
    return table;
}

/* How many of this process's rows have local port `port`. */
static int rows_with_port(PMIB_TCPTABLE_OWNER_PID table, u_short port)
{
    DWORD i;
    int n = 0;
    for (i = 0; i < table->dwNumEntries; i++)
        if (table->table[i].dwOwningPid == GetCurrentProcessId() &&
            ntohs((u_short)table->table[i].dwLocalPort) == port)
            n++;
    return n;
}

/* How many rows this process owns. */
static int own_rows(PMIB_TCPTABLE_OWNER_PID table)
{
    DWORD i;
    int n = 0;
    for (i = 0; i < table->dwNumEntries; i++)
        n += table->table[i].dwOwningPid == GetCurrentProcessId();
    return n;
}

/* The failure code of a recv on `s` (0 if it did not fail). */
static int recv_error(SOCKET s)
{
    char c;
    return recv(s, &c, 1, 0) == SOCKET_ERROR ? WSAGetLastError() : 0;
}

int main(void)
{
    WSADATA wsa;
    SOCKET listener, dropped, dropped_peer, kept, kept_peer;
    SOCKADDR_IN addr;
    socklen_t len = sizeof addr;
    PMIB_TCPTABLE_OWNER_PID table;
    MIB_TCPROW row;
    u_short dropped_port, kept_port;
    DWORD i, rc = ERROR_NOT_FOUND;
    char buf[8];

    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return 1;

    listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (listener == INVALID_SOCKET)
        fail("socket");
    ZeroMemory(&addr, sizeof addr);
    addr.sin_family = AF_INET;
    InetPtonA(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(listener, (SOCKADDR *)&addr, sizeof addr) == SOCKET_ERROR ||
        listen(listener, SOMAXCONN) == SOCKET_ERROR ||
        getsockname(listener, (SOCKADDR *)&addr, &len) == SOCKET_ERROR)
        fail("listen");

    dropped = connected(&addr);
    dropped_peer = accept(listener, NULL, NULL);
    kept = connected(&addr);
    kept_peer = accept(listener, NULL, NULL);
    if (dropped_peer == INVALID_SOCKET || kept_peer == INVALID_SOCKET)
        fail("accept");
    dropped_port = local_port(dropped);
    kept_port = local_port(kept);

    /* Find the connection as Windows tools do: by owner and port. */
    table = own_table();
    printf("own_rows_before %d\n", own_rows(table));
    printf("found %d\n", rows_with_port(table, dropped_port));
    for (i = 0; i < table->dwNumEntries; i++) {
        MIB_TCPROW_OWNER_PID *r = &table->table[i];
        if (r->dwOwningPid == GetCurrentProcessId() &&
            ntohs((u_short)r->dwLocalPort) == dropped_port) {
            row.dwState = MIB_TCP_STATE_DELETE_TCB;
            row.dwLocalAddr = r->dwLocalAddr;
            row.dwLocalPort = r->dwLocalPort;
            row.dwRemoteAddr = r->dwRemoteAddr;
            row.dwRemotePort = r->dwRemotePort;
            rc = SetTcpEntry(&row);
            break;
        }
    }
    free(table);
    printf("SetTcpEntry %lu\n", (unsigned long)rc);

    /* What each end sees. */
    printf("owner %d\n", recv_error(dropped));
    printf("peer %d\n", recv_error(dropped_peer));
    if (send(kept, "ping", 4, 0) != 4 || recv(kept_peer, buf, 4, MSG_WAITALL) != 4 ||
        send(kept_peer, "pong", 4, 0) != 4 || recv(kept, buf, 4, MSG_WAITALL) != 4)
        fail("the kept connection");
    printf("kept_carries_data 1\n");

    /* And what the table says now. */
    table = own_table();
    printf("dropped_rows %d\n", rows_with_port(table, dropped_port));
    printf("kept_rows %d\n", rows_with_port(table, kept_port));
    printf("own_rows_after %d\n", own_rows(table));
    free(table);

    printf("listener %u\ndropped %u\nkept %u\nwaiting\n", ntohs(addr.sin_port), dropped_port,
           kept_port);
    fflush(stdout);
    if (fgets(buf, sizeof buf, stdin) == NULL)
        buf[0] = '\0';

    closesocket(dropped);
    closesocket(dropped_peer);
    closesocket(kept);
    closesocket(kept_peer);
    closesocket(listener);
    printf("closed\n");
    return WSACleanup();
}
