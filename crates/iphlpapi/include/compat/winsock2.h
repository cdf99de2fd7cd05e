/*
 * winsock2.h -- Windows Sockets 2, as far as IP Helper TCP programs use
 * it (tcpdrop).
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
 * Everything is in <winsock.h>; as on Windows, <winsock2.h> also brings
 * <windows.h>.
 */
#ifndef TCPDROP_COMPAT_WINSOCK2_H
#define TCPDROP_COMPAT_WINSOCK2_H

#include <winsock.h>
#include <windows.h>

#endif /* TCPDROP_COMPAT_WINSOCK2_H */
