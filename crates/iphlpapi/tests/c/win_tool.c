/* A Windows IP Helper program, compiled unchanged on Linux with
 *   cc win_tool.c $(pkg-config --cflags --libs iphlpapi-compat)
 * It includes what Windows code includes, uses Windows' AF_INET6 from the
 * socket headers, the process heap and WSAStartup, and calls the IP Helper
 * functions directly.
 *
 *   win_tool            print both OWNER_MODULE tables with each row's
 *                       owner module, then the TCP statistics
 *   win_tool drop PORT  abort the IPv4 connection whose local port is PORT
 *
 * Rows: "v4|v6 STATE LADDR LPORT RADDR RPORT PID TIMESTAMP CODE NAME PATH"
 * (CODE: GetOwnerModuleFromTcp(6)Entry's; NAME and PATH "-" unless 0).
 * Then "stats FIELD VALUE" lines and "drop CODE". */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "iphlpapi.lib")
#pragma comment(lib, "ws2_32.lib")

static void print_wide(const WCHAR *text)
{
    putchar(' ');
    for (; *text != 0; text++)
        putchar(*text < 128 ? (char)*text : '?');
}

static void print_module(DWORD code, BYTE *info)
{
    PTCPIP_OWNER_MODULE_BASIC_INFO module = (PTCPIP_OWNER_MODULE_BASIC_INFO)info;
    printf(" %lu", (unsigned long)code);
    if (code == NO_ERROR) {
        print_wide(module->pModuleName);
        print_wide(module->pModulePath);
    } else {
        printf(" - -");
    }
    printf("\n");
}

static PVOID get_table(ULONG family)
{
    DWORD size = 0;
    PVOID table = NULL;
    DWORD rc = GetExtendedTcpTable(NULL, &size, TRUE, family, TCP_TABLE_OWNER_MODULE_ALL, 0);
    while (rc == ERROR_INSUFFICIENT_BUFFER) {
        if (table != NULL)
            HeapFree(GetProcessHeap(), 0, table);
        table = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, size);
        if (table == NULL)
            return NULL;
        rc = GetExtendedTcpTable(table, &size, TRUE, family, TCP_TABLE_OWNER_MODULE_ALL, 0);
    }
    if (rc != NO_ERROR) {
        printf("GetExtendedTcpTable failed: %lu\n", (unsigned long)rc);
        exit(1);
    }
    return table;
}

static DWORD module_of4(PMIB_TCPROW_OWNER_MODULE row, BYTE **info)
{
    DWORD size = 0;
    DWORD rc = GetOwnerModuleFromTcpEntry(row, TCPIP_OWNER_MODULE_INFO_BASIC, NULL, &size);
    if (rc != ERROR_INSUFFICIENT_BUFFER)
        return rc;
    *info = (BYTE *)HeapAlloc(GetProcessHeap(), 0, size);
    return GetOwnerModuleFromTcpEntry(row, TCPIP_OWNER_MODULE_INFO_BASIC, *info, &size);
}

static DWORD module_of6(PMIB_TCP6ROW_OWNER_MODULE row, BYTE **info)
{
    DWORD size = 0;
    DWORD rc = GetOwnerModuleFromTcp6Entry(row, TCPIP_OWNER_MODULE_INFO_BASIC, NULL, &size);
    if (rc != ERROR_INSUFFICIENT_BUFFER)
        return rc;
    *info = (BYTE *)HeapAlloc(GetProcessHeap(), 0, size);
    return GetOwnerModuleFromTcp6Entry(row, TCPIP_OWNER_MODULE_INFO_BASIC, *info, &size);
}

static void list(void)
{
    PMIB_TCPTABLE_OWNER_MODULE table4;
    PMIB_TCP6TABLE_OWNER_MODULE table6;
    char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
    DWORD i;

    table6 = (PMIB_TCP6TABLE_OWNER_MODULE)get_table(AF_INET6);
    for (i = 0; i < table6->dwNumEntries; i++) {
        MIB_TCP6ROW_OWNER_MODULE *r = &table6->table[i];
        BYTE *info = NULL;
        DWORD rc = module_of6(r, &info);
        inet_ntop(AF_INET6, r->ucLocalAddr, local, sizeof local);
        inet_ntop(AF_INET6, r->ucRemoteAddr, remote, sizeof remote);
        printf("v6 %lu %s %u %s %u %lu %lld", (unsigned long)r->dwState, local,
               ntohs((u_short)r->dwLocalPort), remote, ntohs((u_short)r->dwRemotePort),
               (unsigned long)r->dwOwningPid, (long long)r->liCreateTimestamp.QuadPart);
        print_module(rc, info);
        HeapFree(GetProcessHeap(), 0, info);
    }
    HeapFree(GetProcessHeap(), 0, table6);

    table4 = (PMIB_TCPTABLE_OWNER_MODULE)get_table(AF_INET);
    for (i = 0; i < table4->dwNumEntries; i++) {
        MIB_TCPROW_OWNER_MODULE *r = &table4->table[i];
        struct in_addr a;
        BYTE *info = NULL;
        DWORD rc = module_of4(r, &info);
        a.s_addr = r->dwLocalAddr;
        inet_ntop(AF_INET, &a, local, sizeof local);
        a.s_addr = r->dwRemoteAddr;
        inet_ntop(AF_INET, &a, remote, sizeof remote);
        printf("v4 %lu %s %u %s %u %lu %lld", (unsigned long)r->dwState, local,
               ntohs((u_short)r->dwLocalPort), remote, ntohs((u_short)r->dwRemotePort),
               (unsigned long)r->dwOwningPid, (long long)r->liCreateTimestamp.QuadPart);
        print_module(rc, info);
        HeapFree(GetProcessHeap(), 0, info);
    }
    HeapFree(GetProcessHeap(), 0, table4);
}

static void statistics(void)
{
    MIB_TCPSTATS s;
    ZeroMemory(&s, sizeof s);
    if (GetTcpStatistics(&s) != NO_ERROR) {
        printf("GetTcpStatistics failed\n");
        exit(1);
    }
    printf("stats RtoAlgorithm %lu\n", (unsigned long)s.dwRtoAlgorithm);
    printf("stats RtoMin %lu\n", (unsigned long)s.dwRtoMin);
    printf("stats RtoMax %lu\n", (unsigned long)s.dwRtoMax);
    printf("stats MaxConn %lu\n", (unsigned long)s.dwMaxConn);
    printf("stats ActiveOpens %lu\n", (unsigned long)s.dwActiveOpens);
    printf("stats PassiveOpens %lu\n", (unsigned long)s.dwPassiveOpens);
    printf("stats AttemptFails %lu\n", (unsigned long)s.dwAttemptFails);
    printf("stats EstabResets %lu\n", (unsigned long)s.dwEstabResets);
    printf("stats CurrEstab %lu\n", (unsigned long)s.dwCurrEstab);
    printf("stats InSegs %lu\n", (unsigned long)s.dwInSegs);
    printf("stats OutSegs %lu\n", (unsigned long)s.dwOutSegs);
    printf("stats RetransSegs %lu\n", (unsigned long)s.dwRetransSegs);
    printf("stats InErrs %lu\n", (unsigned long)s.dwInErrs);
    printf("stats OutRsts %lu\n", (unsigned long)s.dwOutRsts);
    printf("stats NumConns %lu\n", (unsigned long)s.dwNumConns);
}

static void drop(u_short port)
{
    PMIB_TCPTABLE_OWNER_MODULE table = (PMIB_TCPTABLE_OWNER_MODULE)get_table(AF_INET);
    DWORD i, rc = ERROR_NOT_FOUND;
    for (i = 0; i < table->dwNumEntries; i++) {
        MIB_TCPROW_OWNER_MODULE *r = &table->table[i];
        if (ntohs((u_short)r->dwLocalPort) == port && r->dwState == MIB_TCP_STATE_ESTAB) {
            MIB_TCPROW row;
            row.dwState = MIB_TCP_STATE_DELETE_TCB;
            row.dwLocalAddr = r->dwLocalAddr;
            row.dwLocalPort = r->dwLocalPort;
            row.dwRemoteAddr = r->dwRemoteAddr;
            row.dwRemotePort = r->dwRemotePort;
            rc = SetTcpEntry(&row);
            break;
        }
    }
    printf("drop %lu\n", (unsigned long)rc);
    HeapFree(GetProcessHeap(), 0, table);
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        printf("WSAStartup failed\n");
        return 1;
    }
    if (argc == 3)
        drop((u_short)atoi(argv[2]));
    else {
        list();
        statistics();
    }
    WSACleanup();
    return 0;
}
