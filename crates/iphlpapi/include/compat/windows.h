/*
 * windows.h -- for Windows programs that call the IP Helper TCP functions
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
 * As on Windows, <windows.h> brings <windef.h>, <winerror.h>, <winbase.h>
 * and, unless WIN32_LEAN_AND_MEAN is defined, <winsock.h>.
 */
#ifndef TCPDROP_COMPAT_WINDOWS_H
#define TCPDROP_COMPAT_WINDOWS_H

#include <windef.h>
#include <winerror.h>
#include <winbase.h>
#ifndef WIN32_LEAN_AND_MEAN
#include <winsock.h>
#endif

#endif /* TCPDROP_COMPAT_WINDOWS_H */
