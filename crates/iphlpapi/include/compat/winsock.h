/*
 * winsock.h -- the Windows Sockets names IP Helper TCP programs use
 * (tcpdrop).
 *
 * One of tcpdrop's compatibility headers (pkg-config module
 * iphlpapi-compat): <windows.h>, <windef.h>, <winbase.h>, <winerror.h>,
 * <winsock.h>, <winsock2.h>, <ws2tcpip.h>, <iprtrmib.h>, <tcpmib.h>,
 * <netioapi.h> and <Iphlpapi.h>, so that Windows C code calling the IP
 * Helper TCP functions compiles unchanged on Linux. They hold what such
 * programs need and no more. This is not a Win32 emulation: anything else
 * of Win32 is absent, and code that uses it fails to compile rather than
 * misbehave.
 *
 * The sockets are Linux's, and so are the socket calls: this header
 * brings <sys/socket.h>, <netinet/in.h>, <arpa/inet.h> and <sys/ioctl.h>
 * (socket, bind, connect, send, recv, htons, inet_ntop, ...), and adds
 * Windows' names around them:
 *  - SOCKET is the descriptor, an int (Windows: UINT_PTR), so that
 *    `socket(...) == INVALID_SOCKET` compares Linux's int result with no
 *    sign warning; INVALID_SOCKET is (SOCKET)~0, i.e. -1, what a failed
 *    socket() or accept() returns; SOCKET_ERROR is -1.
 *  - SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_STORAGE, IN_ADDR (and
 *    their P and LP pointers), ADDRESS_FAMILY, TIMEVAL, LINGER: Linux's
 *    structures, which have Windows' layout.
 *  - closesocket (close), ioctlsocket (FIONBIO, FIONREAD, SIOCATMARK;
 *    another command is WSAEINVAL), SD_RECEIVE/SD_SEND/SD_BOTH.
 *  - WSAGetLastError and WSASetLastError: GetLastError and SetLastError
 *    of <winbase.h>, i.e. errno mapped to WSAE... codes (ECONNREFUSED is
 *    WSAECONNREFUSED, a non-blocking connect under way WSAEWOULDBLOCK).
 *  - WSAStartup and WSACleanup succeed and do nothing else: Linux sockets
 *    need no start-up.
 *  - Windows' address families that Linux lacks, with Windows' numbers
 *    (AF_BAN 21, AF_NETBIOS 17, AF_BTH 32, ...), for the IP Helper calls
 *    to refuse as Windows does (ERROR_INVALID_PARAMETER). Passed to
 *    socket() they name whatever Linux family has that number (21 is
 *    AF_RDS): do not. AF_CCITT is left out: its 10 is Linux's AF_INET6,
 *    which the IP Helper calls accept. Names both systems define keep
 *    Linux's number (AF_INET6 10, AF_IPX, AF_APPLETALK, AF_IRDA, ...).
 *  - In C++, accept, getsockname, getpeername, getsockopt and recvfrom
 *    also take Windows' int * lengths (Linux's are socklen_t *). C
 *    converts int * with a -Wpointer-sign warning, and runs the same.
 *
 * Where Windows sockets differ and the compiler cannot tell:
 *  - select's first argument is Linux's nfds, the highest descriptor + 1.
 *    Windows ignores it and code often passes 0, which here waits on no
 *    descriptor at all.
 *  - u_char, u_short, u_int and u_long are those of <sys/types.h>: u_long
 *    is Linux's 64-bit unsigned long. ioctlsocket reads and writes a whole
 *    u_long: pass one, not a DWORD cast to u_long *.
 *  - AF_IRDA is Linux's 23, which is Windows' AF_INET6: the IP Helper
 *    calls take it for AF_INET6. AF_INET6 itself is 10 and
 *    INET6_ADDRSTRLEN 46 (Windows: 23 and 65); SOL_SOCKET, SO_* and
 *    IPPROTO_* are Linux's numbers too.
 * Outside, so failing to compile: struct in_addr is Linux's, with s_addr
 * only, so Windows' S_un (S_un.S_addr, S_un_b) does not compile, nor
 * in6_addr's u.Byte (use s_addr and s6_addr, which Windows has too): glibc's
 * structure cannot gain a member without breaking the Linux socket code
 * that shares it. Winsock's own calls (WSASocket, WSAPoll, WSAIoctl,
 * WSASend, overlapped I/O, WSAAsyncSelect, getaddrinfo's GetAddrInfoW, ...)
 * and its fd_set layout (fd_count, fd_array) are absent.
 */
#ifndef TCPDROP_COMPAT_WINSOCK_H
#define TCPDROP_COMPAT_WINSOCK_H

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <windef.h>
#include <winerror.h>
#include <winbase.h>

#ifdef __cplusplus
extern "C" {
#endif

/* glibc declares them under _DEFAULT_SOURCE (the default, and always in
 * C++); strict ISO modes (-std=c11) do not, so this header does, with the
 * same types. */
#if !defined(__USE_MISC)
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
#endif

#define WSAAPI
#define PASCAL

/* ---- sockets ------------------------------------------------------------ */

typedef int SOCKET;
#define INVALID_SOCKET ((SOCKET)(~0))
#define SOCKET_ERROR (-1)

typedef USHORT ADDRESS_FAMILY;
typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;
typedef struct sockaddr_in6 SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;
typedef struct sockaddr_in6 SOCKADDR_IN6_LH, *PSOCKADDR_IN6_LH;
typedef struct sockaddr_storage SOCKADDR_STORAGE, *PSOCKADDR_STORAGE, *LPSOCKADDR_STORAGE;
typedef struct in_addr IN_ADDR, *PIN_ADDR, *LPIN_ADDR;
typedef struct timeval TIMEVAL, *PTIMEVAL, *LPTIMEVAL;
typedef struct linger LINGER, *PLINGER, *LPLINGER;

/* shutdown(): Linux's SHUT_RD, SHUT_WR, SHUT_RDWR have the same numbers. */
#define SD_RECEIVE 0x00
#define SD_SEND 0x01
#define SD_BOTH 0x02

/* Windows' address families that Linux has no name for (see above). */
#ifndef AF_IMPLINK
#define AF_IMPLINK 3
#endif
#ifndef AF_PUP
#define AF_PUP 4
#endif
#ifndef AF_CHAOS
#define AF_CHAOS 5
#endif
#ifndef AF_NS
#define AF_NS 6
#endif
#ifndef AF_ISO
#define AF_ISO 7
#endif
#ifndef AF_OSI
#define AF_OSI AF_ISO
#endif
#ifndef AF_ECMA
#define AF_ECMA 8
#endif
#ifndef AF_DATAKIT
#define AF_DATAKIT 9
#endif
#ifndef AF_DLI
#define AF_DLI 13
#endif
#ifndef AF_LAT
#define AF_LAT 14
#endif
#ifndef AF_HYLINK
#define AF_HYLINK 15
#endif
#ifndef AF_NETBIOS
#define AF_NETBIOS 17
#endif
#ifndef AF_VOICEVIEW
#define AF_VOICEVIEW 18
#endif
#ifndef AF_FIREFOX
#define AF_FIREFOX 19
#endif
#ifndef AF_UNKNOWN1
#define AF_UNKNOWN1 20
#endif
#ifndef AF_BAN
#define AF_BAN 21
#endif
#ifndef AF_ATM
#define AF_ATM 22
#endif
#ifndef AF_CLUSTER
#define AF_CLUSTER 24
#endif
#ifndef AF_12844
#define AF_12844 25
#endif
#ifndef AF_NETDES
#define AF_NETDES 28
#endif
#ifndef AF_TCNPROCESS
#define AF_TCNPROCESS 29
#endif
#ifndef AF_TCNMESSAGE
#define AF_TCNMESSAGE 30
#endif
#ifndef AF_ICLFXBM
#define AF_ICLFXBM 31
#endif
#ifndef AF_BTH
#define AF_BTH 32
#endif
#ifndef AF_LINK
#define AF_LINK 33
#endif
#ifndef AF_HYPERV
#define AF_HYPERV 34
#endif

static inline int WSAGetLastError(void)
{
    return (int)GetLastError();
}

static inline void WSASetLastError(int iError)
{
    SetLastError((DWORD)iError);
}

static inline int closesocket(SOCKET s)
{
    return close(s) == 0 ? 0 : SOCKET_ERROR;
}

/* Windows' three commands, on an int as Linux takes them. */
static inline int ioctlsocket(SOCKET s, long cmd, u_long *argp)
{
    int value;

    if (argp == NULL) {
        errno = EFAULT;
        return SOCKET_ERROR;
    }
    switch (cmd) {
    case FIONBIO:
        value = *argp != 0;
        return ioctl(s, FIONBIO, &value) == 0 ? 0 : SOCKET_ERROR;
    case FIONREAD:
#ifdef SIOCATMARK /* strict ISO modes hide it */
    case SIOCATMARK:
#endif
        if (ioctl(s, (unsigned long)cmd, &value) != 0)
            return SOCKET_ERROR;
        *argp = (u_long)value;
        return 0;
    default:
        errno = EINVAL;
        return SOCKET_ERROR;
    }
}

/* ---- start-up ------------------------------------------------------------ */

#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128

/* Windows' 64-bit layout. */
typedef struct WSAData {
    WORD wVersion;
    WORD wHighVersion;
    unsigned short iMaxSockets;
    unsigned short iMaxUdpDg;
    char *lpVendorInfo;
    char szDescription[WSADESCRIPTION_LEN + 1];
    char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

/* 0, filling *lpWSAData: version 2.2 at most, the one asked for if lower;
 * WSAVERNOTSUPPORTED for a version below 1.0; WSAEFAULT for NULL. */
static inline int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData)
{
    static const char description[] = "Linux sockets (tcpdrop iphlpapi-compat)";
    static const char status[] = "Running";

    if (lpWSAData == NULL)
        return WSAEFAULT;
    memset(lpWSAData, 0, sizeof *lpWSAData);
    lpWSAData->wHighVersion = MAKEWORD(2, 2);
    if (LOBYTE(wVersionRequested) < 1)
        return WSAVERNOTSUPPORTED;
    if (LOBYTE(wVersionRequested) > 2 ||
        (LOBYTE(wVersionRequested) == 2 && HIBYTE(wVersionRequested) > 2))
        lpWSAData->wVersion = MAKEWORD(2, 2);
    else
        lpWSAData->wVersion = wVersionRequested;
    memcpy(lpWSAData->szDescription, description, sizeof description);
    memcpy(lpWSAData->szSystemStatus, status, sizeof status);
    return 0;
}

static inline int WSACleanup(void)
{
    return 0;
}

#ifdef __cplusplus
}

/* Windows passes the address and option lengths of these calls as int *,
 * Linux as socklen_t * (unsigned int *). C converts one to the other with
 * a warning; C++ not at all, so these overloads take int * and call
 * Linux's. They are templates only so that a NULL or nullptr length still
 * selects Linux's call (a template parameter is never deduced from them),
 * and a socklen_t * selects it too (the non-template wins a tie). */
/* extern "C++": Windows code may include <winsock2.h> inside its own
 * extern "C" block, where templates are not allowed. */
extern "C++" {
template <typename T, typename R> struct tcpdrop_compat_int_length {};
template <typename R> struct tcpdrop_compat_int_length<int, R> {
    typedef R type;
};

template <typename T>
inline typename tcpdrop_compat_int_length<T, int>::type accept(int s, struct sockaddr *addr,
                                                                T *addrlen)
{
    socklen_t len = addrlen != 0 ? (socklen_t)*addrlen : 0;
    int r = ::accept(s, addr, addrlen != 0 ? &len : 0);
    if (addrlen != 0)
        *addrlen = (int)len;
    return r;
}

template <typename T>
inline typename tcpdrop_compat_int_length<T, int>::type getsockname(int s, struct sockaddr *name,
                                                                     T *namelen)
{
    socklen_t len = (socklen_t)*namelen;
    int r = ::getsockname(s, name, &len);
    *namelen = (int)len;
    return r;
}

template <typename T>
inline typename tcpdrop_compat_int_length<T, int>::type getpeername(int s, struct sockaddr *name,
                                                                     T *namelen)
{
    socklen_t len = (socklen_t)*namelen;
    int r = ::getpeername(s, name, &len);
    *namelen = (int)len;
    return r;
}

template <typename T>
inline typename tcpdrop_compat_int_length<T, int>::type getsockopt(int s, int level, int optname,
                                                                    void *optval, T *optlen)
{
    socklen_t len = (socklen_t)*optlen;
    int r = ::getsockopt(s, level, optname, optval, &len);
    *optlen = (int)len;
    return r;
}

template <typename T>
inline typename tcpdrop_compat_int_length<T, ssize_t>::type
recvfrom(int s, void *buf, size_t len, int flags, struct sockaddr *from, T *fromlen)
{
    socklen_t flen = fromlen != 0 ? (socklen_t)*fromlen : 0;
    ssize_t r = ::recvfrom(s, buf, len, flags, from, fromlen != 0 ? &flen : 0);
    if (fromlen != 0)
        *fromlen = (int)flen;
    return r;
}
}
#endif

#endif /* TCPDROP_COMPAT_WINSOCK_H */
