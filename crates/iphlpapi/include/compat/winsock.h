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
 * The sockets are Linux's: this header brings <sys/socket.h>,
 * <netinet/in.h> and <arpa/inet.h> (htons, ntohs, inet_ntoa, inet_ntop,
 * ...). So AF_INET6 is Linux's 10, which the IP Helper calls accept as
 * they accept Windows' 23. struct in_addr has s_addr only (no S_un).
 * u_char, u_short, u_int and u_long are those of <sys/types.h>: u_long is
 * Linux's 64-bit unsigned long (the IP Helper structures use DWORD).
 * WSAStartup and WSACleanup succeed and do nothing else: Linux sockets
 * need no start-up.
 */
#ifndef TCPDROP_COMPAT_WINSOCK_H
#define TCPDROP_COMPAT_WINSOCK_H

#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

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

#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128
#define WSAEFAULT 10014
#define WSAVERNOTSUPPORTED 10092

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
#endif

#endif /* TCPDROP_COMPAT_WINSOCK_H */
