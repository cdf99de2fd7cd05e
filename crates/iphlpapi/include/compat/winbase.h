/*
 * winbase.h -- the few Win32 functions IP Helper TCP programs call around
 * the IP Helper calls (tcpdrop).
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
 * Here, as static inline functions over the C library:
 *  - GetProcessHeap, HeapAlloc (HEAP_ZERO_MEMORY honoured), HeapFree;
 *    ZeroMemory. Every heap is the C library's malloc heap.
 *  - LoadLibraryA, GetProcAddress, FreeLibrary, for "iphlpapi.dll" only
 *    (in any case, with or without ".dll" or a directory): it resolves to
 *    this library, and GetProcAddress finds its exported calls by name.
 *    Any other library name gives NULL; there is no GetLastError.
 *  - GetSystemTimeAsFileTime (the real-time clock as a FILETIME) and
 *    GetCurrentProcessId (getpid()).
 */
#ifndef TCPDROP_COMPAT_WINBASE_H
#define TCPDROP_COMPAT_WINBASE_H

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <windef.h>
#include <winerror.h>
#include <iphlpapi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- heap ------------------------------------------------------------- */

#define HEAP_ZERO_MEMORY 0x00000008

#define ZeroMemory(Destination, Length) memset((Destination), 0, (Length))

static inline HANDLE GetProcessHeap(void)
{
    /* A tag, never dereferenced: every heap is malloc's. */
    return (HANDLE)(uintptr_t)0x4845;
}

static inline LPVOID HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes)
{
    (void)hHeap;
    /* HeapAlloc(0) returns a block, as Windows does. */
    if (dwBytes == 0)
        dwBytes = 1;
    return (dwFlags & HEAP_ZERO_MEMORY) ? calloc(1, dwBytes) : malloc(dwBytes);
}

static inline BOOL HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem)
{
    (void)hHeap;
    (void)dwFlags;
    free(lpMem);
    return TRUE;
}

/* ---- the library, by name --------------------------------------------- */

/* Whether a LoadLibraryA name means iphlpapi.dll: its last path component
 * is "iphlpapi" or "iphlpapi.dll", in any case. */
static inline BOOL tcpdrop_compat_is_iphlpapi(LPCSTR name)
{
    static const char want[] = "iphlpapi.dll";
    const char *base = name;
    size_t i;

    if (name == NULL)
        return FALSE;
    for (; *name != '\0'; name++)
        if (*name == '/' || *name == '\\')
            base = name + 1;
    for (i = 0; base[i] != '\0'; i++) {
        char c = base[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (i >= sizeof want - 1 || c != want[i])
            return FALSE;
    }
    return (i == sizeof want - 1 || i == sizeof "iphlpapi" - 1) ? TRUE : FALSE;
}

static inline HMODULE tcpdrop_compat_iphlpapi_module(void)
{
    /* A tag, never dereferenced: the library is linked in already. */
    return (HMODULE)(uintptr_t)0x1d11;
}

static inline HMODULE LoadLibraryA(LPCSTR lpLibFileName)
{
    return tcpdrop_compat_is_iphlpapi(lpLibFileName) ? tcpdrop_compat_iphlpapi_module() : NULL;
}

static inline BOOL FreeLibrary(HMODULE hLibModule)
{
    return hLibModule == tcpdrop_compat_iphlpapi_module() ? TRUE : FALSE;
}

/* FARPROC is void (*)(void), which any function pointer casts to cleanly. */
#define TCPDROP_COMPAT_PROC(name) {#name, (FARPROC)name}

static inline FARPROC GetProcAddress(HMODULE hModule, LPCSTR lpProcName)
{
    static const struct {
        const char *name;
        FARPROC proc;
    } procs[] = {
        TCPDROP_COMPAT_PROC(SetTcpEntry),
        TCPDROP_COMPAT_PROC(GetTcpTable),
        TCPDROP_COMPAT_PROC(GetTcpTable2),
        TCPDROP_COMPAT_PROC(GetTcp6Table),
        TCPDROP_COMPAT_PROC(GetTcp6Table2),
        TCPDROP_COMPAT_PROC(GetExtendedTcpTable),
        TCPDROP_COMPAT_PROC(GetOwnerModuleFromTcpEntry),
        TCPDROP_COMPAT_PROC(GetOwnerModuleFromTcp6Entry),
        TCPDROP_COMPAT_PROC(GetTcpStatistics),
        TCPDROP_COMPAT_PROC(GetTcpStatisticsEx),
        TCPDROP_COMPAT_PROC(GetTcpStatisticsEx2),
    };
    size_t i;

    if (hModule != tcpdrop_compat_iphlpapi_module() || lpProcName == NULL)
        return NULL;
    for (i = 0; i < sizeof procs / sizeof procs[0]; i++)
        if (strcmp(procs[i].name, lpProcName) == 0)
            return procs[i].proc;
    return NULL;
}

/* ---- time and process ------------------------------------------------- */

static inline void GetSystemTimeAsFileTime(LPFILETIME lpSystemTimeAsFileTime)
{
    /* Seconds from 1601-01-01 to 1970-01-01, and 100 ns per tick. */
    const ULONGLONG epoch = 11644473600ULL;
    ULONGLONG ticks;
#ifdef CLOCK_REALTIME
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ticks = ((ULONGLONG)now.tv_sec + epoch) * 10000000ULL + (ULONGLONG)now.tv_nsec / 100;
#else
    /* Strict ISO modes hide clock_gettime; gettimeofday is always there. */
    struct timeval now;
    gettimeofday(&now, NULL);
    ticks = ((ULONGLONG)now.tv_sec + epoch) * 10000000ULL + (ULONGLONG)now.tv_usec * 10;
#endif
    lpSystemTimeAsFileTime->dwLowDateTime = (DWORD)ticks;
    lpSystemTimeAsFileTime->dwHighDateTime = (DWORD)(ticks >> 32);
}

static inline DWORD GetCurrentProcessId(void)
{
    return (DWORD)getpid();
}

#ifdef __cplusplus
}
#endif

#endif /* TCPDROP_COMPAT_WINBASE_H */
