/* A netstat clone for Windows, compiled unchanged on Linux with
 *   cc win_netstat.c $(pkg-config --cflags --libs iphlpapi-compat)
 * It prints what `netstat -ano -p TCP` and `-p TCPv6` print on Windows:
 * every TCP socket of both families from GetExtendedTcpTable
 * (TCP_TABLE_OWNER_PID_ALL, sorted), one line each:
 *   "  TCP    LOCAL    FOREIGN    STATE    PID"
 * with IPv6 addresses in brackets ([::1]:80, [fe80::1%2]:80), written by
 * InetNtopA, and Windows' state names (LISTENING, ESTABLISHED, ...). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "iphlpapi.lib")
#pragma comment(lib, "ws2_32.lib")

static const char *const states[] = {
    "UNKNOWN",     "CLOSED",     "LISTENING",  "SYN_SENT", "SYN_RECEIVED",
    "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",
    "LAST_ACK",    "TIME_WAIT",  "DELETE_TCB",
};

static const char *state_name(DWORD state)
{
    return state < _countof(states) ? states[state] : states[0];
}

static PVOID table_of(ULONG family)
{
    PVOID table = NULL;
    DWORD size = 0, rc;

    rc = GetExtendedTcpTable(NULL, &size, TRUE, family, TCP_TABLE_OWNER_PID_ALL, 0);
    while (rc == ERROR_INSUFFICIENT_BUFFER) {
        HeapFree(GetProcessHeap(), 0, table);
        table = HeapAlloc(GetProcessHeap(), 0, size);
        if (table == NULL)
            return NULL;
        rc = GetExtendedTcpTable(table, &size, TRUE, family, TCP_TABLE_OWNER_PID_ALL, 0);
    }
    if (rc != NO_ERROR) {
        fprintf(stderr, "GetExtendedTcpTable failed: %lu\n", (unsigned long)rc);
        exit(1);
    }
    return table;
}

static void endpoint4(char *out, size_t len, DWORD addr, DWORD port)
{
    char text[INET_ADDRSTRLEN];
    IN_ADDR in;
    in.s_addr = addr;
    InetNtopA(AF_INET, &in, text, sizeof text);
    snprintf(out, len, "%s:%u", text, ntohs((u_short)port));
}

static void endpoint6(char *out, size_t len, const UCHAR *addr, DWORD scope, DWORD port)
{
    char text[INET6_ADDRSTRLEN];
    InetNtopA(AF_INET6, addr, text, sizeof text);
    if (scope != 0)
        snprintf(out, len, "[%s%%%lu]:%u", text, (unsigned long)scope, ntohs((u_short)port));
    else
        snprintf(out, len, "[%s]:%u", text, ntohs((u_short)port));
}

int main(void)
{
    WSADATA wsa;
    PMIB_TCPTABLE_OWNER_PID table4;
    PMIB_TCP6TABLE_OWNER_PID table6;
    char local[INET6_ADDRSTRLEN + 32], remote[INET6_ADDRSTRLEN + 32];
    DWORD i;

    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return 1;
    table4 = (PMIB_TCPTABLE_OWNER_PID)table_of(AF_INET);
    table6 = (PMIB_TCP6TABLE_OWNER_PID)table_of(AF_INET6);
    if (table4 == NULL || table6 == NULL)
        return 1;

    printf("\nActive Connections\n\n");
    printf("  %-6s %-22s %-22s %-15s %s\n", "Proto", "Local Address", "Foreign Address", "State",
           "PID");
    for (i = 0; i < table4->dwNumEntries; i++) {
        MIB_TCPROW_OWNER_PID *r = &table4->table[i];
        endpoint4(local, sizeof local, r->dwLocalAddr, r->dwLocalPort);
        endpoint4(remote, sizeof remote, r->dwRemoteAddr, r->dwRemotePort);
        printf("  %-6s %-22s %-22s %-15s %lu\n", "TCP", local, remote, state_name(r->dwState),
               (unsigned long)r->dwOwningPid);
    }
    for (i = 0; i < table6->dwNumEntries; i++) {
        MIB_TCP6ROW_OWNER_PID *r = &table6->table[i];
        endpoint6(local, sizeof local, r->ucLocalAddr, r->dwLocalScopeId, r->dwLocalPort);
        endpoint6(remote, sizeof remote, r->ucRemoteAddr, r->dwRemoteScopeId, r->dwRemotePort);
        printf("  %-6s %-22s %-22s %-15s %lu\n", "TCP", local, remote, state_name(r->dwState),
               (unsigned long)r->dwOwningPid);
    }
    HeapFree(GetProcessHeap(), 0, table4);
    HeapFree(GetProcessHeap(), 0, table6);
    return WSACleanup();
}
