/* Compiled, not run: the compatibility headers in the orders Windows code
 * includes them, next to iphlpapi.h itself, with every warning an error.
 * Uses what each provides so a missing or clashing name fails the build. */
#include <iphlpapi.h>
#include <tcpmib.h>
#include <iprtrmib.h>
#include <netioapi.h>
#include <Iphlpapi.h>
#include <ws2tcpip.h>
#include <winsock.h>
#include <windows.h>
#include <winbase.h>
#include <windef.h>
#include <winsock2.h>
#include <winerror.h>

int compat_order(void);

int compat_order(void)
{
    BYTE b = LOBYTE(MAKEWORD(2, 2));
    WORD w = HIWORD(0x00020000UL);
    LONG l = -1;
    ULONGLONG q = 1;
    LARGE_INTEGER li;
    ULARGE_INTEGER uli;
    FILETIME ft;
    u_char uc = 1;
    u_short us = htons(80);
    u_long ul = ntohl(1);
    WSADATA wsa;
    HANDLE heap = GetProcessHeap();
    LPVOID p = HeapAlloc(heap, HEAP_ZERO_MEMORY, 16);
    HMODULE lib = LoadLibraryA("iphlpapi");
    FARPROC proc = GetProcAddress(lib, "GetTcpStatistics");
    DWORD pid = GetCurrentProcessId();
    int af6 = AF_INET6;

    li.QuadPart = 0;
    li.LowPart = li.u.LowPart;
    uli.QuadPart = q;
    GetSystemTimeAsFileTime(&ft);
    ZeroMemory(&wsa, sizeof wsa);
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0 || WSACleanup() != 0)
        return 1;
    HeapFree(heap, 0, p);
    FreeLibrary(lib);
    return (int)(b + w + (DWORD)l + uli.LowPart + ft.dwLowDateTime + uc + us + ul + pid +
                 (proc != NULL) + af6 + ERROR_SUCCESS + ERROR_NO_DATA + NO_ERROR +
                 ERROR_NOT_FOUND + ERROR_INSUFFICIENT_BUFFER + (int)sizeof(MIB_TCPSTATS2));
}
