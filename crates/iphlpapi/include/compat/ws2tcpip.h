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
 * from <arpa/inet.h> and <netinet/in.h> (through <winsock2.h>).
 */
#ifndef TCPDROP_COMPAT_WS2TCPIP_H
#define TCPDROP_COMPAT_WS2TCPIP_H

#include <winsock2.h>

#endif /* TCPDROP_COMPAT_WS2TCPIP_H */
