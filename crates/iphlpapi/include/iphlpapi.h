/*
 * iphlpapi.h -- the Windows IP Helper TCP calls on Linux (tcpdrop).
 *
 * SetTcpEntry, GetTcpTable, GetTcpTable2, GetTcp6Table, GetTcp6Table2,
 * GetExtendedTcpTable, GetOwnerModuleFromTcpEntry,
 * GetOwnerModuleFromTcp6Entry, GetTcpStatistics, GetTcpStatisticsEx and
 * GetTcpStatisticsEx2 with Windows' names, types, structure layouts and
 * return codes, implemented by libiphlpapi (the `iphlpapi` crate of
 * tcpdrop) over Linux's NETLINK_SOCK_DIAG and /proc. Link with -liphlpapi,
 * or use `pkg-config --cflags --libs iphlpapi`.
 *
 * This header stands alone. Windows programs that include <windows.h>,
 * <winsock2.h> and the like get those from the compatibility headers:
 * `pkg-config --cflags --libs iphlpapi-compat`. They hold what IP Helper
 * TCP programs need and no more; they are not a Win32 emulation, and what
 * they lack fails to compile rather than misbehave.
 *
 * Differences from Windows, all on purpose:
 *  - Windows numbers AF_INET6 23, Linux 10. Every call that takes a family
 *    accepts both, so the AF_INET6 of <sys/socket.h> works, and so does
 *    WINAPI_AF_INET6 (23). AF_INET is 2 on both.
 *  - DWORD and ULONG are 32 bits, as on Windows (not Linux's 64-bit
 *    `unsigned long`); WCHAR is 16 bits, as on Windows (not wchar_t).
 *  - TCP_TABLE_OWNER_MODULE_* rows have liCreateTimestamp 0: Linux keeps no
 *    creation time for a connection. The owner module is the owning
 *    process's program: its command name and /proc/PID/exe.
 *  - GetTcpStatistics* read the kernel's TCP MIB, which Linux keeps for
 *    IPv4 and IPv6 together: both families get the same counters; only
 *    dwNumConns counts the family's own connections.
 *  - IpHlpFormatError() stands in for FormatMessage() on these codes; for
 *    317, where Windows has only a placeholder text, it says what these
 *    calls mean by it.
 *  - Everything acts on the calling thread's network namespace. SetTcpEntry
 *    aborts by the kernel's SOCK_DESTROY (CAP_NET_ADMIN); where that cannot
 *    be used, through the holding process's own descriptor (no privilege
 *    for the caller's own processes: a Linux extension of Windows'
 *    administrators-only rule) or an injected reset (CAP_NET_RAW). When no
 *    way is allowed it returns ERROR_ACCESS_DENIED, or 317 when
 *    CAP_NET_ADMIN is permitted but not effective (Windows' "not
 *    elevated"); 50 when no way can work at all.
 *
 * Compiles as C99, C11 and C++ with -Wall -Wextra -Wpedantic -Werror, next
 * to <netinet/in.h> and <arpa/inet.h>. In C99 the state of MIB_TCPROW is
 * dwState only, and that of MIB_TCPSTATS dwRtoAlgorithm only: the State /
 * RtoAlgorithm union members need C11 or C++.
 */
#ifndef TCPDROP_IPHLPAPI_H
#define TCPDROP_IPHLPAPI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Calling-convention and linkage decorations: nothing on Linux. */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef IPHLPAPI
#define IPHLPAPI
#endif
#ifndef IPHLPAPI_DLL_LINKAGE
#define IPHLPAPI_DLL_LINKAGE
#endif

/* ---- Windows types ---------------------------------------------------- */

/* BEGIN tcpdrop base types: the same block, under the same guard, is in
 * iphlpapi.h and in the compatibility <windef.h>, so the two headers can
 * come in either order. */
#ifndef TCPDROP_WINDOWS_BASE_TYPES
#define TCPDROP_WINDOWS_BASE_TYPES
#if defined(__GNUC__)
#define TCPDROP_EXTENSION __extension__
#else
#define TCPDROP_EXTENSION
#endif
typedef uint32_t DWORD, *PDWORD;
typedef uint32_t ULONG, *PULONG;
typedef int32_t LONG, *PLONG;
typedef int BOOL, *PBOOL;
typedef unsigned char UCHAR, *PUCHAR;
typedef uint16_t USHORT, *PUSHORT;
typedef void *PVOID;
typedef int64_t LONGLONG, *PLONGLONG;
typedef uint64_t ULONGLONG, *PULONGLONG;
typedef uint64_t DWORD64, *PDWORD64;
/* Windows' 16-bit wide character: a UTF-16 code unit (Linux's wchar_t and
 * L"" literals are 32 bits wide and are not WCHAR strings). */
typedef uint16_t WCHAR, *PWCHAR;
typedef union _LARGE_INTEGER {
    TCPDROP_EXTENSION struct {
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#endif /* TCPDROP_WINDOWS_BASE_TYPES */
/* END tcpdrop base types */

/* Windows' IN6_ADDR: the 16 address bytes in network order, as in
 * struct in6_addr (pass &row.LocalAddr to inet_ntop(AF_INET6, ...)). The
 * tag differs from <netinet/in.h>'s so both can be included. */
typedef struct _IN6_ADDR {
    union {
        UCHAR Byte[16];
        USHORT Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR;

/* ---- return codes (winerror.h) ---------------------------------------- */

#define NO_ERROR 0
#define ERROR_ACCESS_DENIED 5
#define ERROR_GEN_FAILURE 31
#define ERROR_NOT_SUPPORTED 50
#define ERROR_NETWORK_ACCESS_DENIED 65
#define ERROR_INVALID_PARAMETER 87
#define ERROR_INSUFFICIENT_BUFFER 122
#define ERROR_MR_MID_NOT_FOUND 317
#define ERROR_NOT_FOUND 1168

/* ---- address families ------------------------------------------------
 * The calls take AF_INET (2) and AF_INET6 as either system numbers it:
 * Windows' 23 or Linux's 10 (<sys/socket.h>'s AF_INET6). */

#define WINAPI_AF_INET 2
#define WINAPI_AF_INET6 23

/* ---- states, classes -------------------------------------------------- */

typedef enum {
    MIB_TCP_STATE_CLOSED = 1,
    MIB_TCP_STATE_LISTEN = 2,
    MIB_TCP_STATE_SYN_SENT = 3,
    MIB_TCP_STATE_SYN_RCVD = 4,
    MIB_TCP_STATE_ESTAB = 5,
    MIB_TCP_STATE_FIN_WAIT1 = 6,
    MIB_TCP_STATE_FIN_WAIT2 = 7,
    MIB_TCP_STATE_CLOSE_WAIT = 8,
    MIB_TCP_STATE_CLOSING = 9,
    MIB_TCP_STATE_LAST_ACK = 10,
    MIB_TCP_STATE_TIME_WAIT = 11,
    /* The only state SetTcpEntry accepts: abort the connection. */
    MIB_TCP_STATE_DELETE_TCB = 12,
    MIB_TCP_STATE_RESERVED = 100
} MIB_TCP_STATE;

typedef enum _TCP_TABLE_CLASS {
    TCP_TABLE_BASIC_LISTENER = 0,
    TCP_TABLE_BASIC_CONNECTIONS = 1,
    TCP_TABLE_BASIC_ALL = 2,
    TCP_TABLE_OWNER_PID_LISTENER = 3,
    TCP_TABLE_OWNER_PID_CONNECTIONS = 4,
    TCP_TABLE_OWNER_PID_ALL = 5,
    TCP_TABLE_OWNER_MODULE_LISTENER = 6,
    TCP_TABLE_OWNER_MODULE_CONNECTIONS = 7,
    TCP_TABLE_OWNER_MODULE_ALL = 8
} TCP_TABLE_CLASS, *PTCP_TABLE_CLASS;

typedef enum {
    TcpConnectionOffloadStateInHost = 0,
    TcpConnectionOffloadStateOffloading = 1,
    TcpConnectionOffloadStateOffloaded = 2,
    TcpConnectionOffloadStateUploading = 3,
    TcpConnectionOffloadStateMax = 4
} TCP_CONNECTION_OFFLOAD_STATE, *PTCP_CONNECTION_OFFLOAD_STATE;

/* The declared length of a table's row array; a real table holds
 * dwNumEntries rows. */
#define ANY_SIZE 1

/* ---- rows and tables ---------------------------------------------------
 * IPv4 addresses are in_addr values (network order). Ports are in network
 * order in the low 16 bits of their DWORD: ntohs((u_short)row.dwLocalPort).
 * LISTEN rows carry remote address and port 0. */

/* MIB_TCPROW_LH's union needs anonymous unions: C11 or C++. In C99 the
 * state is dwState only. */
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L)
#define TCPDROP_IPHLPAPI_ANON_UNION 1
#endif

typedef struct _MIB_TCPROW_LH {
#ifdef TCPDROP_IPHLPAPI_ANON_UNION
    union {
        DWORD dwState;
        MIB_TCP_STATE State;
    };
#else
    DWORD dwState;
#endif
    DWORD dwLocalAddr;
    DWORD dwLocalPort;
    DWORD dwRemoteAddr;
    DWORD dwRemotePort;
} MIB_TCPROW_LH, *PMIB_TCPROW_LH;

typedef struct _MIB_TCPROW_W2K {
    DWORD dwState;
    DWORD dwLocalAddr;
    DWORD dwLocalPort;
    DWORD dwRemoteAddr;
    DWORD dwRemotePort;
} MIB_TCPROW_W2K, *PMIB_TCPROW_W2K;

typedef MIB_TCPROW_LH MIB_TCPROW;
typedef MIB_TCPROW_LH *PMIB_TCPROW;

typedef struct _MIB_TCPTABLE {
    DWORD dwNumEntries;
    MIB_TCPROW table[ANY_SIZE];
} MIB_TCPTABLE, *PMIB_TCPTABLE;

typedef struct _MIB_TCPROW_OWNER_PID {
    DWORD dwState;
    DWORD dwLocalAddr;
    DWORD dwLocalPort;
    DWORD dwRemoteAddr;
    DWORD dwRemotePort;
    DWORD dwOwningPid;
} MIB_TCPROW_OWNER_PID, *PMIB_TCPROW_OWNER_PID;

typedef struct _MIB_TCPTABLE_OWNER_PID {
    DWORD dwNumEntries;
    MIB_TCPROW_OWNER_PID table[ANY_SIZE];
} MIB_TCPTABLE_OWNER_PID, *PMIB_TCPTABLE_OWNER_PID;

typedef struct _MIB_TCPROW2 {
    DWORD dwState;
    DWORD dwLocalAddr;
    DWORD dwLocalPort;
    DWORD dwRemoteAddr;
    DWORD dwRemotePort;
    DWORD dwOwningPid;
    TCP_CONNECTION_OFFLOAD_STATE dwOffloadState;
} MIB_TCPROW2, *PMIB_TCPROW2;

typedef struct _MIB_TCPTABLE2 {
    DWORD dwNumEntries;
    MIB_TCPROW2 table[ANY_SIZE];
} MIB_TCPTABLE2, *PMIB_TCPTABLE2;

typedef struct _MIB_TCP6ROW {
    MIB_TCP_STATE State;
    IN6_ADDR LocalAddr;
    DWORD dwLocalScopeId;
    DWORD dwLocalPort;
    IN6_ADDR RemoteAddr;
    DWORD dwRemoteScopeId;
    DWORD dwRemotePort;
} MIB_TCP6ROW, *PMIB_TCP6ROW;

typedef struct _MIB_TCP6TABLE {
    DWORD dwNumEntries;
    MIB_TCP6ROW table[ANY_SIZE];
} MIB_TCP6TABLE, *PMIB_TCP6TABLE;

typedef struct _MIB_TCP6ROW_OWNER_PID {
    UCHAR ucLocalAddr[16];
    DWORD dwLocalScopeId;
    DWORD dwLocalPort;
    UCHAR ucRemoteAddr[16];
    DWORD dwRemoteScopeId;
    DWORD dwRemotePort;
    DWORD dwState;
    DWORD dwOwningPid;
} MIB_TCP6ROW_OWNER_PID, *PMIB_TCP6ROW_OWNER_PID;

typedef struct _MIB_TCP6TABLE_OWNER_PID {
    DWORD dwNumEntries;
    MIB_TCP6ROW_OWNER_PID table[ANY_SIZE];
} MIB_TCP6TABLE_OWNER_PID, *PMIB_TCP6TABLE_OWNER_PID;

typedef struct _MIB_TCP6ROW2 {
    IN6_ADDR LocalAddr;
    DWORD dwLocalScopeId;
    DWORD dwLocalPort;
    IN6_ADDR RemoteAddr;
    DWORD dwRemoteScopeId;
    DWORD dwRemotePort;
    MIB_TCP_STATE State;
    DWORD dwOwningPid;
    TCP_CONNECTION_OFFLOAD_STATE dwOffloadState;
} MIB_TCP6ROW2, *PMIB_TCP6ROW2;

typedef struct _MIB_TCP6TABLE2 {
    DWORD dwNumEntries;
    MIB_TCP6ROW2 table[ANY_SIZE];
} MIB_TCP6TABLE2, *PMIB_TCP6TABLE2;

/* ---- owner modules ------------------------------------------------------
 * TCP_TABLE_OWNER_MODULE_* rows. Their 64-bit members make them 8-byte
 * aligned: a table's rows start at offset 8, after dwNumEntries and 4 bytes
 * of padding. liCreateTimestamp is always 0 (Linux keeps no creation time
 * for a connection). OwningModuleInfo is opaque: pass the row as the table
 * gave it to GetOwnerModuleFromTcpEntry / GetOwnerModuleFromTcp6Entry. */

#define TCPIP_OWNING_MODULE_SIZE 16

typedef struct _MIB_TCPROW_OWNER_MODULE {
    DWORD dwState;
    DWORD dwLocalAddr;
    DWORD dwLocalPort;
    DWORD dwRemoteAddr;
    DWORD dwRemotePort;
    DWORD dwOwningPid;
    LARGE_INTEGER liCreateTimestamp;
    ULONGLONG OwningModuleInfo[TCPIP_OWNING_MODULE_SIZE];
} MIB_TCPROW_OWNER_MODULE, *PMIB_TCPROW_OWNER_MODULE;

typedef struct _MIB_TCPTABLE_OWNER_MODULE {
    DWORD dwNumEntries;
    MIB_TCPROW_OWNER_MODULE table[ANY_SIZE];
} MIB_TCPTABLE_OWNER_MODULE, *PMIB_TCPTABLE_OWNER_MODULE;

typedef struct _MIB_TCP6ROW_OWNER_MODULE {
    UCHAR ucLocalAddr[16];
    DWORD dwLocalScopeId;
    DWORD dwLocalPort;
    UCHAR ucRemoteAddr[16];
    DWORD dwRemoteScopeId;
    DWORD dwRemotePort;
    DWORD dwState;
    DWORD dwOwningPid;
    LARGE_INTEGER liCreateTimestamp;
    ULONGLONG OwningModuleInfo[TCPIP_OWNING_MODULE_SIZE];
} MIB_TCP6ROW_OWNER_MODULE, *PMIB_TCP6ROW_OWNER_MODULE;

typedef struct _MIB_TCP6TABLE_OWNER_MODULE {
    DWORD dwNumEntries;
    MIB_TCP6ROW_OWNER_MODULE table[ANY_SIZE];
} MIB_TCP6TABLE_OWNER_MODULE, *PMIB_TCP6TABLE_OWNER_MODULE;

typedef enum _TCPIP_OWNER_MODULE_INFO_CLASS {
    TCPIP_OWNER_MODULE_INFO_BASIC = 0
} TCPIP_OWNER_MODULE_INFO_CLASS, *PTCPIP_OWNER_MODULE_INFO_CLASS;

/* What GetOwnerModuleFrom*Entry writes at the start of its buffer: two
 * pointers to NUL-terminated UTF-16 strings that follow it in the same
 * buffer. pModuleName is the owner's command name (/proc/PID/comm, at most
 * 15 characters), pModulePath its executable (/proc/PID/exe). */
typedef struct _TCPIP_OWNER_MODULE_BASIC_INFO {
    PWCHAR pModuleName;
    PWCHAR pModulePath;
} TCPIP_OWNER_MODULE_BASIC_INFO, *PTCPIP_OWNER_MODULE_BASIC_INFO;

/* ---- statistics ---------------------------------------------------------
 * The kernel's TCP MIB (the Tcp: lines of /proc/net/snmp in the calling
 * thread's network namespace), field by field. 32-bit counters wrap, as on
 * Windows. dwMaxConn is MIB_TCP_MAXCONN_DYNAMIC: Linux sets no limit.
 * dwNumConns is the number of the family's sockets in any state but
 * LISTEN. */

typedef enum {
    TcpRtoAlgorithmOther = 1,
    TcpRtoAlgorithmConstant = 2,
    TcpRtoAlgorithmRsre = 3,
    TcpRtoAlgorithmVanj = 4
} TCP_RTO_ALGORITHM, *PTCP_RTO_ALGORITHM;

#define MIB_TCP_RTO_OTHER 1
#define MIB_TCP_RTO_CONSTANT 2
#define MIB_TCP_RTO_RSRE 3
#define MIB_TCP_RTO_VANJ 4
#define MIB_TCP_MAXCONN_DYNAMIC ((ULONG)-1)

/* MIB_TCPSTATS_LH's union needs anonymous unions, as MIB_TCPROW_LH's. */
typedef struct _MIB_TCPSTATS_LH {
#ifdef TCPDROP_IPHLPAPI_ANON_UNION
    union {
        DWORD dwRtoAlgorithm;
        TCP_RTO_ALGORITHM RtoAlgorithm;
    };
#else
    DWORD dwRtoAlgorithm;
#endif
    DWORD dwRtoMin;
    DWORD dwRtoMax;
    DWORD dwMaxConn;
    DWORD dwActiveOpens;
    DWORD dwPassiveOpens;
    DWORD dwAttemptFails;
    DWORD dwEstabResets;
    DWORD dwCurrEstab;
    DWORD dwInSegs;
    DWORD dwOutSegs;
    DWORD dwRetransSegs;
    DWORD dwInErrs;
    DWORD dwOutRsts;
    DWORD dwNumConns;
} MIB_TCPSTATS_LH, *PMIB_TCPSTATS_LH;

typedef MIB_TCPSTATS_LH MIB_TCPSTATS;
typedef MIB_TCPSTATS_LH *PMIB_TCPSTATS;

typedef struct _MIB_TCPSTATS2 {
    TCP_RTO_ALGORITHM RtoAlgorithm;
    DWORD dwRtoMin;
    DWORD dwRtoMax;
    DWORD dwMaxConn;
    DWORD dwActiveOpens;
    DWORD dwPassiveOpens;
    DWORD dwAttemptFails;
    DWORD dwEstabResets;
    DWORD dwCurrEstab;
    DWORD64 dw64InSegs;
    DWORD64 dw64OutSegs;
    DWORD dwRetransSegs;
    DWORD dwInErrs;
    DWORD dwOutRsts;
    DWORD dwNumConns;
} MIB_TCPSTATS2, *PMIB_TCPSTATS2;

/* ---- functions ----------------------------------------------------------
 * Table size protocol: *SizePointer NULL -> ERROR_INVALID_PARAMETER; table
 * NULL or *SizePointer too small -> ERROR_INSUFFICIENT_BUFFER with the
 * needed size (offset of the rows + n * row size) written back; NO_ERROR
 * writes the size too. Order (bOrder) TRUE sorts by local address, local
 * port, remote address, remote port as numbers (IPv6: scope id after each
 * address). */

/* Abort the IPv4 connection pTcpRow names; pTcpRow->dwState must be
 * MIB_TCP_STATE_DELETE_TCB. NO_ERROR; ERROR_INVALID_PARAMETER (NULL row or
 * another state, nothing touched); ERROR_MR_MID_NOT_FOUND (no such
 * connection, or not elevated); ERROR_ACCESS_DENIED (no CAP_NET_ADMIN);
 * ERROR_NOT_SUPPORTED (kernel without socket destroy). Also finds an IPv4
 * connection on a dual-stack IPv6 socket. */
IPHLPAPI_DLL_LINKAGE DWORD WINAPI SetTcpEntry(PMIB_TCPROW pTcpRow);

/* AF_INET TCP sockets, every state. */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcpTable(PMIB_TCPTABLE TcpTable, PULONG SizePointer,
                                              BOOL Order);

/* The same with owning pids (0 when none is visible) and offload state. */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcpTable2(PMIB_TCPTABLE2 TcpTable, PULONG SizePointer,
                                               BOOL Order);

/* AF_INET6 TCP sockets, v4-mapped connections included (::ffff:a.b.c.d). */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcp6Table(PMIB_TCP6TABLE TcpTable, PULONG SizePointer,
                                               BOOL Order);

/* The same with owning pids and offload state. */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcp6Table2(PMIB_TCP6TABLE2 TcpTable, PULONG SizePointer,
                                                BOOL Order);

/* ulAf: AF_INET (2), or AF_INET6 as Windows (23) or Linux (10) numbers it.
 * TableClass BASIC_* fills MIB_TCPTABLE / MIB_TCP6TABLE, OWNER_PID_*
 * MIB_TCPTABLE_OWNER_PID / MIB_TCP6TABLE_OWNER_PID, OWNER_MODULE_*
 * MIB_TCPTABLE_OWNER_MODULE / MIB_TCP6TABLE_OWNER_MODULE (rows from offset
 * 8). Another family or class, or Reserved != 0 -> ERROR_INVALID_PARAMETER. */
IPHLPAPI_DLL_LINKAGE DWORD WINAPI GetExtendedTcpTable(PVOID pTcpTable, PDWORD pdwSize,
                                                      BOOL bOrder, ULONG ulAf,
                                                      TCP_TABLE_CLASS TableClass,
                                                      ULONG Reserved);

/* The program of the process owning the socket of an OWNER_MODULE row:
 * a TCPIP_OWNER_MODULE_BASIC_INFO and its two strings in pBuffer.
 * NO_ERROR; ERROR_INVALID_PARAMETER (pTcpEntry or pdwSize NULL, Class not
 * TCPIP_OWNER_MODULE_INFO_BASIC); ERROR_NOT_FOUND (dwOwningPid 0: no
 * owner, e.g. TIME-WAIT; or the owner has exited since the table was read,
 * even if its pid was taken by another process); ERROR_ACCESS_DENIED (the
 * caller may not read the owner's /proc/PID/exe: another user's process,
 * without CAP_SYS_PTRACE; note that such owners are usually not even
 * visible, their rows having dwOwningPid 0); ERROR_INSUFFICIENT_BUFFER
 * (pBuffer NULL or *pdwSize too small; the size needed, the structure and
 * both strings, is written to *pdwSize). */
IPHLPAPI_DLL_LINKAGE DWORD WINAPI GetOwnerModuleFromTcpEntry(
    PMIB_TCPROW_OWNER_MODULE pTcpEntry, TCPIP_OWNER_MODULE_INFO_CLASS Class, PVOID pBuffer,
    PDWORD pdwSize);

/* The same for an IPv6 row. */
IPHLPAPI_DLL_LINKAGE DWORD WINAPI GetOwnerModuleFromTcp6Entry(
    PMIB_TCP6ROW_OWNER_MODULE pTcpEntry, TCPIP_OWNER_MODULE_INFO_CLASS Class, PVOID pBuffer,
    PDWORD pdwSize);

/* TCP statistics for AF_INET. NO_ERROR; ERROR_INVALID_PARAMETER (NULL);
 * ERROR_NOT_SUPPORTED (no /proc/net/snmp with a TCP MIB). */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcpStatistics(PMIB_TCPSTATS Statistics);

/* The same for Family AF_INET or AF_INET6 (23 or 10); another family ->
 * ERROR_INVALID_PARAMETER. */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcpStatisticsEx(PMIB_TCPSTATS Statistics, ULONG Family);

/* The same with 64-bit segment counters. */
IPHLPAPI_DLL_LINKAGE ULONG WINAPI GetTcpStatisticsEx2(PMIB_TCPSTATS2 Statistics, ULONG Family);

/* tcpdrop's stand-in for FormatMessage: the English text of a Win32 code,
 * NUL-terminated, into buf. NO_ERROR; ERROR_INVALID_PARAMETER if buf is
 * NULL; ERROR_INSUFFICIENT_BUFFER if len bytes cannot hold the text and its
 * NUL (buf then holds the truncated text, NUL-terminated, if len > 0). */
DWORD IpHlpFormatError(DWORD code, char *buf, DWORD len);

#ifdef __cplusplus
}
#endif

#endif /* TCPDROP_IPHLPAPI_H */
