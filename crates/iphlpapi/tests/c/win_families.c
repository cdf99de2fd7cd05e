/* Every address family a Windows program can name through the
 * compatibility headers, passed to the IP Helper calls that take one,
 * compiled unchanged on Linux with
 *   cc win_families.c $(pkg-config --cflags --libs iphlpapi-compat)
 * Prints "NAME NUMBER TABLE STATS STATS2": the codes of
 * GetExtendedTcpTable (size query), GetTcpStatisticsEx and
 * GetTcpStatisticsEx2. Windows takes AF_INET and AF_INET6 (its 23) and
 * refuses every other family with ERROR_INVALID_PARAMETER, as Wine's tests
 * check with AF_BAN; Linux's AF_INET6 (10) is accepted too. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>

#pragma comment(lib, "iphlpapi.lib")

#define FAMILY(name) {#name, name}

static const struct {
    const char *name;
    int number;
} families[] = {
    FAMILY(AF_UNSPEC),     FAMILY(AF_UNIX),       FAMILY(AF_INET),       FAMILY(AF_IMPLINK),
    FAMILY(AF_PUP),        FAMILY(AF_CHAOS),      FAMILY(AF_NS),         FAMILY(AF_IPX),
    FAMILY(AF_ISO),        FAMILY(AF_OSI),        FAMILY(AF_ECMA),       FAMILY(AF_DATAKIT),
    FAMILY(AF_SNA),        FAMILY(AF_DECnet),     FAMILY(AF_DLI),        FAMILY(AF_LAT),
    FAMILY(AF_HYLINK),     FAMILY(AF_APPLETALK),  FAMILY(AF_NETBIOS),    FAMILY(AF_VOICEVIEW),
    FAMILY(AF_FIREFOX),    FAMILY(AF_UNKNOWN1),   FAMILY(AF_BAN),        FAMILY(AF_ATM),
    FAMILY(AF_INET6),      FAMILY(AF_CLUSTER),    FAMILY(AF_12844),      FAMILY(AF_IRDA),
    FAMILY(AF_NETDES),     FAMILY(AF_TCNPROCESS), FAMILY(AF_TCNMESSAGE), FAMILY(AF_ICLFXBM),
    FAMILY(AF_BTH),        FAMILY(AF_LINK),       FAMILY(AF_HYPERV),     FAMILY(AF_MAX),
    FAMILY(WINAPI_AF_INET6),
};

int main(void)
{
    size_t i;

    for (i = 0; i < ARRAYSIZE(families); i++) {
        ULONG af = (ULONG)families[i].number;
        DWORD size = 0;
        MIB_TCPSTATS stats;
        MIB_TCPSTATS2 stats2;
        DWORD table = GetExtendedTcpTable(NULL, &size, FALSE, af, TCP_TABLE_BASIC_ALL, 0);
        DWORD ex = GetTcpStatisticsEx(&stats, af);
        DWORD ex2 = GetTcpStatisticsEx2(&stats2, af);
        printf("%s %d %lu %lu %lu\n", families[i].name, families[i].number, (unsigned long)table,
               (unsigned long)ex, (unsigned long)ex2);
    }
    return 0;
}
