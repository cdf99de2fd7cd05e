/* Compiled, not run: iphlpapi.h next to the system's socket headers, as C99,
 * C11 and C++, with every warning an error. Uses each type and declaration
 * so that a clash or a wrong signature fails the build. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <iphlpapi.h>

/* Linux's AF_INET6 survives; Windows' is separate. */
typedef char af_inet6_is_linux[(AF_INET6 == 10) ? 1 : -1];
typedef char winapi_af_inet6_is_windows[(WINAPI_AF_INET6 == 23) ? 1 : -1];
typedef char af_inet_agrees[(AF_INET == WINAPI_AF_INET) ? 1 : -1];
typedef char in6_addr_size[(sizeof(IN6_ADDR) == sizeof(struct in6_addr)) ? 1 : -1];
typedef char dword_is_32_bits[(sizeof(DWORD) == 4 && sizeof(ULONG) == 4) ? 1 : -1];

/* Each declaration has exactly the Windows signature. */
struct api {
    DWORD (*set_entry)(PMIB_TCPROW);
    ULONG (*get_table)(PMIB_TCPTABLE, PULONG, BOOL);
    ULONG (*get_table2)(PMIB_TCPTABLE2, PULONG, BOOL);
    ULONG (*get_table6)(PMIB_TCP6TABLE, PULONG, BOOL);
    ULONG (*get_table62)(PMIB_TCP6TABLE2, PULONG, BOOL);
    DWORD (*get_extended)(PVOID, PDWORD, BOOL, ULONG, TCP_TABLE_CLASS, ULONG);
    DWORD (*format_error)(DWORD, char *, DWORD);
    DWORD (*owner_module)(PMIB_TCPROW_OWNER_MODULE, TCPIP_OWNER_MODULE_INFO_CLASS, PVOID, PDWORD);
    DWORD (*owner_module6)(PMIB_TCP6ROW_OWNER_MODULE, TCPIP_OWNER_MODULE_INFO_CLASS, PVOID,
                           PDWORD);
    ULONG (*stats)(PMIB_TCPSTATS);
    ULONG (*stats_ex)(PMIB_TCPSTATS, ULONG);
    ULONG (*stats_ex2)(PMIB_TCPSTATS2, ULONG);
};
extern struct api header_check_api;
struct api header_check_api = {SetTcpEntry,         GetTcpTable,
                               GetTcpTable2,        GetTcp6Table,
                               GetTcp6Table2,       GetExtendedTcpTable,
                               IpHlpFormatError,    GetOwnerModuleFromTcpEntry,
                               GetOwnerModuleFromTcp6Entry, GetTcpStatistics,
                               GetTcpStatisticsEx,  GetTcpStatisticsEx2};

int header_check(void);

int header_check(void)
{
    MIB_TCPROW row;
    MIB_TCPROW_W2K w2k;
    PMIB_TCPROW_LH lh = &row;
    MIB_TCP6ROW row6;
    MIB_TCP6ROW_OWNER_PID owner6;
    MIB_TCP6ROW2 row62;
    MIB_TCPROW2 row2;
    MIB_TCPROW_OWNER_PID owner;
    char text[INET6_ADDRSTRLEN];
    struct in_addr v4;
    TCP_TABLE_CLASS cls = TCP_TABLE_OWNER_MODULE_ALL;
    MIB_TCPROW_OWNER_MODULE module;
    MIB_TCP6ROW_OWNER_MODULE module6;
    TCPIP_OWNER_MODULE_BASIC_INFO info;
    MIB_TCPSTATS stats;
    MIB_TCPSTATS2 stats2;
    WCHAR name[2] = {'x', 0};
    MIB_TCP_STATE state = MIB_TCP_STATE_DELETE_TCB;

    memset(&row, 0, sizeof row);
    memset(&module, 0, sizeof module);
    memset(&module6, 0, sizeof module6);
    memset(&stats, 0, sizeof stats);
    memset(&stats2, 0, sizeof stats2);
    module.liCreateTimestamp.QuadPart = 0;
    module.liCreateTimestamp.u.LowPart = module.liCreateTimestamp.LowPart;
    module6.OwningModuleInfo[TCPIP_OWNING_MODULE_SIZE - 1] = module.OwningModuleInfo[0];
    info.pModuleName = name;
    info.pModulePath = name;
    stats2.RtoAlgorithm = TcpRtoAlgorithmVanj;
    stats.dwMaxConn = MIB_TCP_MAXCONN_DYNAMIC;
    memset(&row6, 0, sizeof row6);
    memset(&row62, 0, sizeof row62);
    memset(&owner6, 0, sizeof owner6);
    row.dwState = MIB_TCP_STATE_DELETE_TCB;
    row.dwLocalAddr = htonl(INADDR_LOOPBACK);
    row.dwLocalPort = htons(80);
    row.dwRemoteAddr = 0;
    row.dwRemotePort = 0;
    w2k.dwState = lh->dwState;
    v4.s_addr = row.dwLocalAddr;
    row6.State = state;
    row6.LocalAddr.u.Byte[15] = 1;
    row62.LocalAddr = row6.LocalAddr;
    owner6.ucLocalAddr[0] = row6.LocalAddr.u.Byte[0];
    row2.dwOffloadState = TcpConnectionOffloadStateInHost;
    owner.dwOwningPid = 0;
    if (inet_ntop(AF_INET6, &row6.LocalAddr, text, sizeof text) == NULL)
        return 1;
    if (inet_ntop(AF_INET, &v4, text, sizeof text) == NULL)
        return 1;
    switch (row.dwState) {
    case MIB_TCP_STATE_ESTAB:
        return 2;
    case MIB_TCP_STATE_DELETE_TCB:
        break;
    default:
        return 3;
    }
    return (int)(w2k.dwState + owner6.ucLocalAddr[0] + row62.State + row2.dwOffloadState +
                 owner.dwOwningPid + (DWORD)cls + ANY_SIZE + (DWORD)TRUE + (DWORD)FALSE +
                 NO_ERROR + ERROR_ACCESS_DENIED + ERROR_NOT_SUPPORTED +
                 ERROR_NETWORK_ACCESS_DENIED + ERROR_INVALID_PARAMETER +
                 ERROR_INSUFFICIENT_BUFFER + ERROR_MR_MID_NOT_FOUND + ERROR_NOT_FOUND +
                 ERROR_GEN_FAILURE + info.pModulePath[0] + stats.dwRtoAlgorithm +
                 (DWORD)stats2.dw64InSegs + (DWORD)module6.OwningModuleInfo[0] +
                 (DWORD)TCPIP_OWNER_MODULE_INFO_BASIC + MIB_TCP_RTO_OTHER);
}
