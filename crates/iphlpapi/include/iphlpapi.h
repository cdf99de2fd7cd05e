/*
 * iphlpapi.h -- the Windows IP Helper TCP calls on Linux (tcpdrop).
 *
 * SetTcpEntry, GetTcpTable, GetTcpTable2, GetTcp6Table, GetTcp6Table2 and
 * GetExtendedTcpTable with Windows' names, types, structure layouts and
 * return codes, implemented by libiphlpapi (the `iphlpapi` crate of
 * tcpdrop) over Linux's NETLINK_SOCK_DIAG. Link with -liphlpapi, or use
 * `pkg-config --cflags --libs iphlpapi`.
 *
 * Differences from Windows, all on purpose:
 *  - Windows numbers AF_INET6 23, Linux 10. GetExtendedTcpTable takes the
 *    Windows value: pass WINAPI_AF_INET6 (23). This header does not touch
 *    <netinet/in.h>'s AF_INET6, so socket code keeps working; Linux's 10 is
 *    refused with ERROR_INVALID_PARAMETER. AF_INET is 2 on both.
 *  - DWORD and ULONG are 32 bits, as on Windows (not Linux's 64-bit
 *    `unsigned long`).
 *  - TCP_TABLE_OWNER_MODULE_* classes return ERROR_NOT_SUPPORTED.
 *  - IpHlpFormatError() stands in for FormatMessage() on these codes.
 *  - Everything acts on the calling thread's network namespace. Aborting
 *    needs CAP_NET_ADMIN: without it SetTcpEntry returns ERROR_ACCESS_DENIED,
 *    with it permitted but not effective 317 (Windows' "not elevated").
 *
 * Compiles as C99, C11 and C++ with -Wall -Wextra -Wpedantic -Werror, next
 * to <netinet/in.h> and <arpa/inet.h>.
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

typedef uint32_t DWORD, *PDWORD;
typedef uint32_t ULONG, *PULONG;
typedef int BOOL, *PBOOL;
typedef unsigned char UCHAR, *PUCHAR;
typedef uint16_t USHORT, *PUSHORT;
typedef void *PVOID;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

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

/* ---- address families for GetExtendedTcpTable ------------------------- */

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

/* ulAf: WINAPI_AF_INET (2) or WINAPI_AF_INET6 (23). TableClass BASIC_* fills
 * MIB_TCPTABLE / MIB_TCP6TABLE, OWNER_PID_* MIB_TCPTABLE_OWNER_PID /
 * MIB_TCP6TABLE_OWNER_PID; OWNER_MODULE_* -> ERROR_NOT_SUPPORTED. Another
 * family or class, or Reserved != 0 -> ERROR_INVALID_PARAMETER. */
IPHLPAPI_DLL_LINKAGE DWORD WINAPI GetExtendedTcpTable(PVOID pTcpTable, PDWORD pdwSize,
                                                      BOOL bOrder, ULONG ulAf,
                                                      TCP_TABLE_CLASS TableClass,
                                                      ULONG Reserved);

/* tcpdrop's stand-in for FormatMessage: the English text of a Win32 code,
 * NUL-terminated, into buf. NO_ERROR; ERROR_INVALID_PARAMETER if buf is
 * NULL; ERROR_INSUFFICIENT_BUFFER if len bytes cannot hold the text and its
 * NUL (buf then holds the truncated text, NUL-terminated, if len > 0). */
DWORD IpHlpFormatError(DWORD code, char *buf, DWORD len);

#ifdef __cplusplus
}
#endif

#endif /* TCPDROP_IPHLPAPI_H */
