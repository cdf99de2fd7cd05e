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
    SHOW("ext_module_listener", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET, TCP_TABLE_OWNER_MODULE_LISTENER, 0));
    SHOW("ext_module_connections", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET6, TCP_TABLE_OWNER_MODULE_CONNECTIONS, 0));
    SHOW("ext_module_all", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET, TCP_TABLE_OWNER_MODULE_ALL, 0));
    SHOW("ext_bad_class", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET, (TCP_TABLE_CLASS)9, 0));
    SHOW("ext_linux_af_inet6", GetExtendedTcpTable(buf, &size, FALSE, 10, TCP_TABLE_BASIC_ALL, 0));
    SHOW("ext_af_unspec", GetExtendedTcpTable(buf, &size, FALSE, 0, TCP_TABLE_BASIC_ALL, 0));
    SHOW("ext_reserved", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET, TCP_TABLE_BASIC_ALL, 1));
    SHOW("ext_ok", GetExtendedTcpTable(buf, &size, FALSE, WINAPI_AF_INET6, TCP_TABLE_OWNER_PID_ALL, 0));
    SHOW("format_null", IpHlpFormatError(5, NULL, 8));
    memset(text, 'x', sizeof text);
    SHOW("format_short", IpHlpFormatError(5, text, sizeof text));
    printf("format_short_text %s\n", text);
    SHOW("format_zero", IpHlpFormatError(5, text, 0));
    return 0;
}
