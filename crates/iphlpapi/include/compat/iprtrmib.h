/*
 * iprtrmib.h -- the IP Helper MIB structures (tcpdrop).
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
 * tcpdrop's <iphlpapi.h> holds them all; this header brings it.
 */
#ifndef TCPDROP_COMPAT_IPRTRMIB_H
#define TCPDROP_COMPAT_IPRTRMIB_H

#include <iphlpapi.h>

#endif /* TCPDROP_COMPAT_IPRTRMIB_H */
