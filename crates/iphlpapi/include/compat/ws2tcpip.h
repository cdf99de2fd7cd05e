/*
 * ws2tcpip.h -- TCP/IP additions to Windows Sockets 2 (tcpdrop).
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
 * inet_ntop, inet_pton, INET_ADDRSTRLEN and INET6_ADDRSTRLEN are Linux's,
 * from <arpa/inet.h> and <netinet/in.h> (through <winsock2.h>): they take
 * Linux's AF_INET6 (10) only. InetPtonA and InetNtopA are Windows' (on
 * Windows the same functions): they take AF_INET6 as either system
 * numbers it, and fail as Windows does: InetPtonA returns 1, 0 for a
 * string that is no address of the family, or -1 with WSAGetLastError()
 * WSAEAFNOSUPPORT (another family) or WSAEFAULT (a NULL pointer);
 * InetNtopA returns pStringBuf, or NULL with WSAEAFNOSUPPORT, or
 * ERROR_INVALID_PARAMETER when a pointer is NULL or the buffer too small.
 * InetPton and InetNtop are the ...A calls (without UNICODE; the ...W
 * ones take wide strings, which are outside these headers).
 * SOCKADDR_IN6 and socklen_t come from <winsock2.h> and Linux.
 */
#ifndef TCPDROP_COMPAT_WS2TCPIP_H
#define TCPDROP_COMPAT_WS2TCPIP_H

#include <winsock2.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Windows' AF_INET6 (23) as Linux's. */
static inline int tcpdrop_compat_family(INT Family)
{
    return Family == 23 ? AF_INET6 : Family;
}

static inline INT InetPtonA(INT Family, PCSTR pszAddrString, PVOID pAddrBuf)
{
    if (pszAddrString == NULL || pAddrBuf == NULL) {
        WSASetLastError(WSAEFAULT);
        return -1;
    }
    return inet_pton(tcpdrop_compat_family(Family), pszAddrString, pAddrBuf);
}

static inline PCSTR InetNtopA(INT Family, const VOID *pAddr, PSTR pStringBuf,
                              size_t StringBufSize)
{
    const char *text;

    if (pAddr == NULL || pStringBuf == NULL || StringBufSize == 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    /* No address text needs more; and socklen_t is narrower than size_t. */
    if (StringBufSize > 65536)
        StringBufSize = 65536;
    text = inet_ntop(tcpdrop_compat_family(Family), pAddr, pStringBuf,
                     (socklen_t)StringBufSize);
    if (text == NULL && errno == ENOSPC)
        SetLastError(ERROR_INVALID_PARAMETER);
    return text;
}

#ifndef UNICODE
#define InetPton InetPtonA
#define InetNtop InetNtopA
#endif

#ifdef __cplusplus
}
#endif

#endif /* TCPDROP_COMPAT_WS2TCPIP_H */
