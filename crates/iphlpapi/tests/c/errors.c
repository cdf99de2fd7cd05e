/* Prints "NAME CODE" for each misuse of the calls, for the Rust test to
 * compare with the documented codes. */
#include <stdio.h>
#include <string.h>

#include <iphlpapi.h>

#define SHOW(name, call) printf("%s %u\n", name, (unsigned)(call))

int main(void)
{
    static DWORD buf[4096];
    DWORD size = sizeof buf;
    ULONG usize = sizeof buf;
    MIB_TCPROW row;
    MIB_TCPROW_OWNER_MODULE module;
    MIB_TCP6ROW_OWNER_MODULE module6;
    MIB_TCPSTATS stats;
    MIB_TCPSTATS2 stats2;
    char text[8];

    memset(&row, 0, sizeof row);
    SHOW("set_null", SetTcpEntry(NULL));
    row.dwState = MIB_TCP_STATE_ESTAB;
    SHOW("set_state_estab", SetTcpEntry(&row));
    row.dwState = MIB_TCP_STATE_DELETE_TCB;
    SHOW("set_missing", SetTcpEntry(&row));
    SHOW("table_null_size", GetTcpTable((PMIB_TCPTABLE)buf, NULL, FALSE));
    SHOW("table2_null_size", GetTcpTable2((PMIB_TCPTABLE2)buf, NULL, FALSE));
    SHOW("table6_null_size", GetTcp6Table((PMIB_TCP6TABLE)buf, NULL, FALSE));
    SHOW("table62_null_size", GetTcp6Table2((PMIB_TCP6TABLE2)buf, NULL, FALSE));
    SHOW("table_ok", GetTcpTable((PMIB_TCPTABLE)buf, &usize, FALSE));
    SHOW("ext_null_size", GetExtendedTcpTable(buf, NULL, FALSE, WINAPI_AF_INET, TCP_TABLE_BASIC_ALL, 0));
    SHOW("ext_bad_class", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET, (TCP_TABLE_CLASS)9, 0));
    size = sizeof buf;
    SHOW("ext_linux_af_inet6", GetExtendedTcpTable(buf, &size, FALSE, 10, TCP_TABLE_BASIC_ALL, 0));
    SHOW("ext_af_24", GetExtendedTcpTable(buf, &size, FALSE, 24, TCP_TABLE_BASIC_ALL, 0));
    SHOW("ext_af_unspec", GetExtendedTcpTable(buf, &size, FALSE, 0, TCP_TABLE_BASIC_ALL, 0));
    SHOW("ext_reserved", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET, TCP_TABLE_BASIC_ALL, 1));
    SHOW("ext_ok", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET6, TCP_TABLE_OWNER_PID_ALL, 0));
    SHOW("module_null_row", GetOwnerModuleFromTcpEntry(NULL, TCPIP_OWNER_MODULE_INFO_BASIC, buf, &size));
    SHOW("module6_null_row", GetOwnerModuleFromTcp6Entry(NULL, TCPIP_OWNER_MODULE_INFO_BASIC, buf, &size));
    memset(&module, 0, sizeof module);
    memset(&module6, 0, sizeof module6);
    SHOW("module_null_size", GetOwnerModuleFromTcpEntry(&module, TCPIP_OWNER_MODULE_INFO_BASIC, buf, NULL));
    SHOW("module_bad_class", GetOwnerModuleFromTcpEntry(&module, (TCPIP_OWNER_MODULE_INFO_CLASS)1, buf, &size));
    SHOW("module_no_owner", GetOwnerModuleFromTcpEntry(&module, TCPIP_OWNER_MODULE_INFO_BASIC, buf, &size));
    SHOW("module6_no_owner", GetOwnerModuleFromTcp6Entry(&module6, TCPIP_OWNER_MODULE_INFO_BASIC, buf, &size));
    SHOW("stats_null", GetTcpStatistics(NULL));
    SHOW("stats_ex_null", GetTcpStatisticsEx(NULL, WINAPI_AF_INET));
    SHOW("stats_ex2_null", GetTcpStatisticsEx2(NULL, WINAPI_AF_INET));
    SHOW("stats_ex_af_unspec", GetTcpStatisticsEx(&stats, 0));
    SHOW("stats_ex2_af_24", GetTcpStatisticsEx2(&stats2, 24));
    SHOW("stats_ex_linux_af_inet6", GetTcpStatisticsEx(&stats, 10));
    SHOW("stats_ex2_af_inet6", GetTcpStatisticsEx2(&stats2, WINAPI_AF_INET6));
    SHOW("format_null", IpHlpFormatError(5, NULL, 8));
    memset(text, 'x', sizeof text);
    SHOW("format_short", IpHlpFormatError(5, text, sizeof text));
    printf("format_short_text %s\n", text);
    SHOW("format_zero", IpHlpFormatError(5, text, 0));
    return 0;
}
