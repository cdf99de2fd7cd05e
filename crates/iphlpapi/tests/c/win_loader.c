/* A Windows IP Helper program in the style of Wine's conformance tests,
 * compiled unchanged on Linux with
 *   cc win_loader.c $(pkg-config --cflags --libs iphlpapi-compat)
 * It includes <windows.h> and <Iphlpapi.h> and reaches the calls through
 * LoadLibraryA("iphlpapi.dll") and GetProcAddress.
 *
 *   win_loader            print both OWNER_MODULE tables with each row's
 *                         owner module, the TCP statistics (Ex2, AF_INET),
 *                         the time and the process id
 *   win_loader drop PORT  abort the IPv4 connection whose local port is PORT
 *
 * The output is win_tool's, plus "now UNIX_SECONDS", "pid PID" and
 * "loader ok" once the loader's refusals were checked. */
#include <windows.h>
#include <Iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>

static DWORD(WINAPI *pGetExtendedTcpTable)(PVOID, PDWORD, BOOL, ULONG, TCP_TABLE_CLASS, ULONG);
static DWORD(WINAPI *pGetOwnerModuleFromTcpEntry)(PMIB_TCPROW_OWNER_MODULE,
                                                  TCPIP_OWNER_MODULE_INFO_CLASS, PVOID, PDWORD);
static DWORD(WINAPI *pGetOwnerModuleFromTcp6Entry)(PMIB_TCP6ROW_OWNER_MODULE,
                                                   TCPIP_OWNER_MODULE_INFO_CLASS, PVOID, PDWORD);
static ULONG(WINAPI *pGetTcpStatisticsEx2)(PMIB_TCPSTATS2, ULONG);
static DWORD(WINAPI *pSetTcpEntry)(PMIB_TCPROW);

static void fail(const char *what)
{
    printf("%s\n", what);
    exit(1);
}

static void load(void)
{
    HMODULE lib = LoadLibraryA("IPHLPAPI.DLL");
    if (lib == NULL)
        fail("LoadLibraryA failed");
    if (LoadLibraryA("kernel32.dll") != NULL || LoadLibraryA("iphlpapi.dll.bak") != NULL)
        fail("LoadLibraryA loaded another library");
    if (GetProcAddress(lib, "GetTcpTableX") != NULL || GetProcAddress(lib, "malloc") != NULL)
        fail("GetProcAddress found a call that is not there");
    pGetExtendedTcpTable = (DWORD(WINAPI *)(PVOID, PDWORD, BOOL, ULONG, TCP_TABLE_CLASS, ULONG))
        GetProcAddress(lib, "GetExtendedTcpTable");
    pGetOwnerModuleFromTcpEntry =
        (DWORD(WINAPI *)(PMIB_TCPROW_OWNER_MODULE, TCPIP_OWNER_MODULE_INFO_CLASS, PVOID, PDWORD))
            GetProcAddress(lib, "GetOwnerModuleFromTcpEntry");
    pGetOwnerModuleFromTcp6Entry =
        (DWORD(WINAPI *)(PMIB_TCP6ROW_OWNER_MODULE, TCPIP_OWNER_MODULE_INFO_CLASS, PVOID, PDWORD))
            GetProcAddress(lib, "GetOwnerModuleFromTcp6Entry");
    pGetTcpStatisticsEx2 =
        (ULONG(WINAPI *)(PMIB_TCPSTATS2, ULONG))GetProcAddress(lib, "GetTcpStatisticsEx2");
    pSetTcpEntry = (DWORD(WINAPI *)(PMIB_TCPROW))GetProcAddress(lib, "SetTcpEntry");
    if (!pGetExtendedTcpTable || !pGetOwnerModuleFromTcpEntry || !pGetOwnerModuleFromTcp6Entry ||
        !pGetTcpStatisticsEx2 || !pSetTcpEntry)
        fail("GetProcAddress failed");
    if (!FreeLibrary(lib))
        fail("FreeLibrary failed");
    printf("loader ok\n");
}

static PVOID get_table(ULONG family)
{
    DWORD size = 0, rc;
    PVOID table;
    rc = pGetExtendedTcpTable(NULL, &size, TRUE, family, TCP_TABLE_OWNER_MODULE_ALL, 0);
    if (rc != ERROR_INSUFFICIENT_BUFFER)
        fail("GetExtendedTcpTable did not ask for a size");
    /* Room for a few more rows, as Windows code does. */
    size += 4 * sizeof(MIB_TCP6ROW_OWNER_MODULE);
    table = HeapAlloc(GetProcessHeap(), 0, size);
    rc = pGetExtendedTcpTable(table, &size, TRUE, family, TCP_TABLE_OWNER_MODULE_ALL, 0);
    if (rc != NO_ERROR)
        fail("GetExtendedTcpTable failed");
    return table;
}

static void print_end(int family, const void *addr, DWORD port)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family, addr, text, sizeof text);
    printf(" %s %u", text, ntohs((u_short)port));
}

static void print_module(DWORD rc, BYTE *buffer)
{
    printf(" %lu", (unsigned long)rc);
    if (rc == NO_ERROR) {
        TCPIP_OWNER_MODULE_BASIC_INFO *info = (TCPIP_OWNER_MODULE_BASIC_INFO *)buffer;
        PWCHAR texts[2];
        int t;
        texts[0] = info->pModuleName;
        texts[1] = info->pModulePath;
        for (t = 0; t < 2; t++) {
            PWCHAR c;
            putchar(' ');
            for (c = texts[t]; *c; c++)
                putchar(*c < 128 ? (char)*c : '?');
        }
    } else {
        printf(" - -");
    }
    printf("\n");
}

static void list(void)
{
    PMIB_TCP6TABLE_OWNER_MODULE t6 = (PMIB_TCP6TABLE_OWNER_MODULE)get_table(AF_INET6);
    PMIB_TCPTABLE_OWNER_MODULE t4 = (PMIB_TCPTABLE_OWNER_MODULE)get_table(AF_INET);
    BYTE buffer[4096];
    DWORD i, size, rc;

    for (i = 0; i < t6->dwNumEntries; i++) {
        MIB_TCP6ROW_OWNER_MODULE *r = &t6->table[i];
        printf("v6 %lu", (unsigned long)r->dwState);
        print_end(AF_INET6, r->ucLocalAddr, r->dwLocalPort);
        print_end(AF_INET6, r->ucRemoteAddr, r->dwRemotePort);
        printf(" %lu %lld", (unsigned long)r->dwOwningPid, (long long)r->liCreateTimestamp.QuadPart);
        size = sizeof buffer;
        rc = pGetOwnerModuleFromTcp6Entry(r, TCPIP_OWNER_MODULE_INFO_BASIC, buffer, &size);
        print_module(rc, buffer);
    }
    for (i = 0; i < t4->dwNumEntries; i++) {
        MIB_TCPROW_OWNER_MODULE *r = &t4->table[i];
        printf("v4 %lu", (unsigned long)r->dwState);
        print_end(AF_INET, &r->dwLocalAddr, r->dwLocalPort);
        print_end(AF_INET, &r->dwRemoteAddr, r->dwRemotePort);
        printf(" %lu %lld", (unsigned long)r->dwOwningPid, (long long)r->liCreateTimestamp.QuadPart);
        size = sizeof buffer;
        rc = pGetOwnerModuleFromTcpEntry(r, TCPIP_OWNER_MODULE_INFO_BASIC, buffer, &size);
        print_module(rc, buffer);
    }
    HeapFree(GetProcessHeap(), 0, t6);
    HeapFree(GetProcessHeap(), 0, t4);
}

static void statistics(void)
{
    MIB_TCPSTATS2 s;
    ZeroMemory(&s, sizeof s);
    if (pGetTcpStatisticsEx2(&s, AF_INET) != NO_ERROR)
        fail("GetTcpStatisticsEx2 failed");
    printf("stats RtoAlgorithm %lu\n", (unsigned long)s.RtoAlgorithm);
    printf("stats RtoMin %lu\n", (unsigned long)s.dwRtoMin);
    printf("stats RtoMax %lu\n", (unsigned long)s.dwRtoMax);
    printf("stats MaxConn %lu\n", (unsigned long)s.dwMaxConn);
    printf("stats ActiveOpens %lu\n", (unsigned long)s.dwActiveOpens);
    printf("stats PassiveOpens %lu\n", (unsigned long)s.dwPassiveOpens);
    printf("stats AttemptFails %lu\n", (unsigned long)s.dwAttemptFails);
    printf("stats EstabResets %lu\n", (unsigned long)s.dwEstabResets);
    printf("stats CurrEstab %lu\n", (unsigned long)s.dwCurrEstab);
    printf("stats InSegs %llu\n", (unsigned long long)s.dw64InSegs);
    printf("stats OutSegs %llu\n", (unsigned long long)s.dw64OutSegs);
    printf("stats RetransSegs %lu\n", (unsigned long)s.dwRetransSegs);
    printf("stats InErrs %lu\n", (unsigned long)s.dwInErrs);
    printf("stats OutRsts %lu\n", (unsigned long)s.dwOutRsts);
    printf("stats NumConns %lu\n", (unsigned long)s.dwNumConns);
}

int main(int argc, char **argv)
{
    FILETIME now;
    ULARGE_INTEGER ticks;

    load();
    if (argc == 3) {
        PMIB_TCPTABLE_OWNER_MODULE t4 = (PMIB_TCPTABLE_OWNER_MODULE)get_table(AF_INET);
        DWORD i, rc = ERROR_NOT_FOUND;
        for (i = 0; i < t4->dwNumEntries; i++) {
            MIB_TCPROW_OWNER_MODULE *r = &t4->table[i];
            if (ntohs((u_short)r->dwLocalPort) == atoi(argv[2]) && r->dwState == MIB_TCP_STATE_ESTAB) {
                MIB_TCPROW row;
                row.dwState = MIB_TCP_STATE_DELETE_TCB;
                row.dwLocalAddr = r->dwLocalAddr;
                row.dwLocalPort = r->dwLocalPort;
                row.dwRemoteAddr = r->dwRemoteAddr;
                row.dwRemotePort = r->dwRemotePort;
                rc = pSetTcpEntry(&row);
                break;
            }
        }
        printf("drop %lu\n", (unsigned long)rc);
        HeapFree(GetProcessHeap(), 0, t4);
        return 0;
    }
    list();
    statistics();
    GetSystemTimeAsFileTime(&now);
    ticks.LowPart = now.dwLowDateTime;
    ticks.HighPart = now.dwHighDateTime;
    printf("now %llu\n", (unsigned long long)((ticks.QuadPart - 116444736000000000ULL) / 10000000ULL));
    printf("pid %lu\n", (unsigned long)GetCurrentProcessId());
    return 0;
}
