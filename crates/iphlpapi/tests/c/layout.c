/* Prints the size of every structure of iphlpapi.h and the offset of every
 * field, one "sizeof(T) N" / "offsetof(T, f) N" line each, for the Rust
 * test to compare with iphlpapi::LAYOUT. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>

#include <iphlpapi.h>

#define SZ(T) printf("sizeof(%s) %zu\n", #T, sizeof(T))
#define OFF(T, f) printf("offsetof(%s, %s) %zu\n", #T, #f, offsetof(T, f))

int main(void)
{
    SZ(MIB_TCPROW);
    OFF(MIB_TCPROW, dwState);
    OFF(MIB_TCPROW, dwLocalAddr);
    OFF(MIB_TCPROW, dwLocalPort);
    OFF(MIB_TCPROW, dwRemoteAddr);
    OFF(MIB_TCPROW, dwRemotePort);
    SZ(MIB_TCPTABLE);
    OFF(MIB_TCPTABLE, dwNumEntries);
    OFF(MIB_TCPTABLE, table);
    SZ(MIB_TCPROW_OWNER_PID);
    OFF(MIB_TCPROW_OWNER_PID, dwState);
    OFF(MIB_TCPROW_OWNER_PID, dwLocalAddr);
    OFF(MIB_TCPROW_OWNER_PID, dwLocalPort);
    OFF(MIB_TCPROW_OWNER_PID, dwRemoteAddr);
    OFF(MIB_TCPROW_OWNER_PID, dwRemotePort);
    OFF(MIB_TCPROW_OWNER_PID, dwOwningPid);
    SZ(MIB_TCPTABLE_OWNER_PID);
    OFF(MIB_TCPTABLE_OWNER_PID, dwNumEntries);
    OFF(MIB_TCPTABLE_OWNER_PID, table);
    SZ(MIB_TCPROW2);
    OFF(MIB_TCPROW2, dwState);
    OFF(MIB_TCPROW2, dwLocalAddr);
    OFF(MIB_TCPROW2, dwLocalPort);
    OFF(MIB_TCPROW2, dwRemoteAddr);
    OFF(MIB_TCPROW2, dwRemotePort);
    OFF(MIB_TCPROW2, dwOwningPid);
    OFF(MIB_TCPROW2, dwOffloadState);
    SZ(MIB_TCPTABLE2);
    OFF(MIB_TCPTABLE2, dwNumEntries);
    OFF(MIB_TCPTABLE2, table);
    SZ(MIB_TCP6ROW);
    OFF(MIB_TCP6ROW, State);
    OFF(MIB_TCP6ROW, LocalAddr);
    OFF(MIB_TCP6ROW, dwLocalScopeId);
    OFF(MIB_TCP6ROW, dwLocalPort);
    OFF(MIB_TCP6ROW, RemoteAddr);
    OFF(MIB_TCP6ROW, dwRemoteScopeId);
    OFF(MIB_TCP6ROW, dwRemotePort);
    SZ(MIB_TCP6TABLE);
    OFF(MIB_TCP6TABLE, dwNumEntries);
    OFF(MIB_TCP6TABLE, table);
    SZ(MIB_TCP6ROW_OWNER_PID);
    OFF(MIB_TCP6ROW_OWNER_PID, ucLocalAddr);
    OFF(MIB_TCP6ROW_OWNER_PID, dwLocalScopeId);
    OFF(MIB_TCP6ROW_OWNER_PID, dwLocalPort);
    OFF(MIB_TCP6ROW_OWNER_PID, ucRemoteAddr);
    OFF(MIB_TCP6ROW_OWNER_PID, dwRemoteScopeId);
    OFF(MIB_TCP6ROW_OWNER_PID, dwRemotePort);
    OFF(MIB_TCP6ROW_OWNER_PID, dwState);
    OFF(MIB_TCP6ROW_OWNER_PID, dwOwningPid);
    SZ(MIB_TCP6TABLE_OWNER_PID);
    OFF(MIB_TCP6TABLE_OWNER_PID, dwNumEntries);
    OFF(MIB_TCP6TABLE_OWNER_PID, table);
    SZ(MIB_TCP6ROW2);
    OFF(MIB_TCP6ROW2, LocalAddr);
    OFF(MIB_TCP6ROW2, dwLocalScopeId);
    OFF(MIB_TCP6ROW2, dwLocalPort);
    OFF(MIB_TCP6ROW2, RemoteAddr);
    OFF(MIB_TCP6ROW2, dwRemoteScopeId);
    OFF(MIB_TCP6ROW2, dwRemotePort);
    OFF(MIB_TCP6ROW2, State);
    OFF(MIB_TCP6ROW2, dwOwningPid);
    OFF(MIB_TCP6ROW2, dwOffloadState);
    SZ(MIB_TCP6TABLE2);
    OFF(MIB_TCP6TABLE2, dwNumEntries);
    OFF(MIB_TCP6TABLE2, table);
    SZ(MIB_TCPROW_OWNER_MODULE);
    OFF(MIB_TCPROW_OWNER_MODULE, dwState);
    OFF(MIB_TCPROW_OWNER_MODULE, dwLocalAddr);
    OFF(MIB_TCPROW_OWNER_MODULE, dwLocalPort);
    OFF(MIB_TCPROW_OWNER_MODULE, dwRemoteAddr);
    OFF(MIB_TCPROW_OWNER_MODULE, dwRemotePort);
    OFF(MIB_TCPROW_OWNER_MODULE, dwOwningPid);
    OFF(MIB_TCPROW_OWNER_MODULE, liCreateTimestamp);
    OFF(MIB_TCPROW_OWNER_MODULE, OwningModuleInfo);
    SZ(MIB_TCPTABLE_OWNER_MODULE);
    OFF(MIB_TCPTABLE_OWNER_MODULE, dwNumEntries);
    OFF(MIB_TCPTABLE_OWNER_MODULE, table);
    SZ(MIB_TCP6ROW_OWNER_MODULE);
    OFF(MIB_TCP6ROW_OWNER_MODULE, ucLocalAddr);
    OFF(MIB_TCP6ROW_OWNER_MODULE, dwLocalScopeId);
    OFF(MIB_TCP6ROW_OWNER_MODULE, dwLocalPort);
    OFF(MIB_TCP6ROW_OWNER_MODULE, ucRemoteAddr);
    OFF(MIB_TCP6ROW_OWNER_MODULE, dwRemoteScopeId);
    OFF(MIB_TCP6ROW_OWNER_MODULE, dwRemotePort);
    OFF(MIB_TCP6ROW_OWNER_MODULE, dwState);
    OFF(MIB_TCP6ROW_OWNER_MODULE, dwOwningPid);
    OFF(MIB_TCP6ROW_OWNER_MODULE, liCreateTimestamp);
    OFF(MIB_TCP6ROW_OWNER_MODULE, OwningModuleInfo);
    SZ(MIB_TCP6TABLE_OWNER_MODULE);
    OFF(MIB_TCP6TABLE_OWNER_MODULE, dwNumEntries);
    OFF(MIB_TCP6TABLE_OWNER_MODULE, table);
    SZ(TCPIP_OWNER_MODULE_BASIC_INFO);
    OFF(TCPIP_OWNER_MODULE_BASIC_INFO, pModuleName);
    OFF(TCPIP_OWNER_MODULE_BASIC_INFO, pModulePath);
    SZ(MIB_TCPSTATS);
    OFF(MIB_TCPSTATS, dwRtoAlgorithm);
    OFF(MIB_TCPSTATS, dwRtoMin);
    OFF(MIB_TCPSTATS, dwRtoMax);
    OFF(MIB_TCPSTATS, dwMaxConn);
    OFF(MIB_TCPSTATS, dwActiveOpens);
    OFF(MIB_TCPSTATS, dwPassiveOpens);
    OFF(MIB_TCPSTATS, dwAttemptFails);
    OFF(MIB_TCPSTATS, dwEstabResets);
    OFF(MIB_TCPSTATS, dwCurrEstab);
    OFF(MIB_TCPSTATS, dwInSegs);
    OFF(MIB_TCPSTATS, dwOutSegs);
    OFF(MIB_TCPSTATS, dwRetransSegs);
    OFF(MIB_TCPSTATS, dwInErrs);
    OFF(MIB_TCPSTATS, dwOutRsts);
    OFF(MIB_TCPSTATS, dwNumConns);
    SZ(MIB_TCPSTATS2);
    OFF(MIB_TCPSTATS2, RtoAlgorithm);
    OFF(MIB_TCPSTATS2, dwRtoMin);
    OFF(MIB_TCPSTATS2, dwRtoMax);
    OFF(MIB_TCPSTATS2, dwMaxConn);
    OFF(MIB_TCPSTATS2, dwActiveOpens);
    OFF(MIB_TCPSTATS2, dwPassiveOpens);
    OFF(MIB_TCPSTATS2, dwAttemptFails);
    OFF(MIB_TCPSTATS2, dwEstabResets);
    OFF(MIB_TCPSTATS2, dwCurrEstab);
    OFF(MIB_TCPSTATS2, dw64InSegs);
    OFF(MIB_TCPSTATS2, dw64OutSegs);
    OFF(MIB_TCPSTATS2, dwRetransSegs);
    OFF(MIB_TCPSTATS2, dwInErrs);
    OFF(MIB_TCPSTATS2, dwOutRsts);
    OFF(MIB_TCPSTATS2, dwNumConns);
    /* Facts of the C side only. */
    SZ(MIB_TCPROW_W2K);
    SZ(IN6_ADDR);
    printf("sizeof(struct in6_addr) %zu\n", sizeof(struct in6_addr));
    SZ(DWORD);
    SZ(ULONG);
    SZ(MIB_TCP_STATE);
    SZ(TCP_TABLE_CLASS);
    SZ(LARGE_INTEGER);
    SZ(WCHAR);
    SZ(MIB_TCPSTATS_LH);
    return 0;
}
