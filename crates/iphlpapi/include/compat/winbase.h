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
 *    ZeroMemory, SecureZeroMemory (not optimised away). Every heap is the
 *    C library's malloc heap.
 *  - GetLastError, SetLastError: the thread's last error is errno (below).
 *  - LoadLibraryA (LoadLibrary without UNICODE), GetProcAddress,
 *    FreeLibrary, for "iphlpapi.dll" only (in any case, with or without
 *    ".dll" or a directory): it resolves to this library, and
 *    GetProcAddress finds its exported calls by name. Any other library
 *    gives NULL and ERROR_MOD_NOT_FOUND, any other name NULL and
 *    ERROR_PROC_NOT_FOUND, as GetLastError says.
 *  - Sleep (INFINITE sleeps for ever; 0 yields; a signal does not cut it
 *    short), GetSystemTimeAsFileTime (the real-time clock as a FILETIME),
 *    GetCurrentProcessId (getpid()).
 *  - INVALID_HANDLE_VALUE and INFINITE. No call here makes or takes a
 *    HANDLE but the heap's: there are no files, processes or threads.
 */
#ifndef TCPDROP_COMPAT_WINBASE_H
#define TCPDROP_COMPAT_WINBASE_H

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <windef.h>
#include <winerror.h>
#include <iphlpapi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define INFINITE 0xFFFFFFFF

/* ---- the last error ----------------------------------------------------
 * Windows keeps one last-error code per thread, which Winsock shares
 * (WSAGetLastError is GetLastError). Here that slot is errno, which every
 * Linux call already sets per thread. GetLastError reads errno through
 * the table below: an errno a socket call left becomes the code Windows
 * reports for it (ECONNREFUSED: WSAECONNREFUSED), an errno not in the
 * table comes back as it is (ENOENT: 2). SetLastError(code) stores code
 * in errno so that GetLastError gives it back: a code of the table as its
 * errno (WSASetLastError(WSAEWOULDBLOCK) leaves EWOULDBLOCK, which Linux
 * code understands), another code from 1 to 4095 negated (errno's own
 * values are 1 to 4095), any other as it is. So every code reads back as
 * it was set, but those from 0xFFFFF001 to 0xFFFFFFFF, which read back
 * negated. Calls that set no last error on Windows may leave errno set
 * here (the IP Helper calls return their code and say nothing through
 * GetLastError on either system). */

#define TCPDROP_COMPAT_ERRNO_MAX 4095

struct tcpdrop_compat_errno_code {
    int errnum;
    DWORD code;
};

/* errno -> Windows code. The first pair of a code gives the errno
 * SetLastError stores for it. */
static inline const struct tcpdrop_compat_errno_code *tcpdrop_compat_errno_codes(size_t *count)
{
    static const struct tcpdrop_compat_errno_code codes[] = {
        {EINTR, WSAEINTR},
        {EACCES, WSAEACCES},
        {EPERM, WSAEACCES},
        {EFAULT, WSAEFAULT},
        {EINVAL, WSAEINVAL},
        {EMFILE, WSAEMFILE},
        {ENFILE, WSAEMFILE},
        {EWOULDBLOCK, WSAEWOULDBLOCK},
        {EAGAIN, WSAEWOULDBLOCK},
        /* A non-blocking connect under way: Windows says WSAEWOULDBLOCK
         * (its WSAEINPROGRESS means a blocking call is in progress). */
        {EINPROGRESS, WSAEWOULDBLOCK},
        {EALREADY, WSAEALREADY},
        {ENOTSOCK, WSAENOTSOCK},
        /* Winsock calls given a SOCKET that is not one say WSAENOTSOCK. */
        {EBADF, WSAENOTSOCK},
        {EDESTADDRREQ, WSAEDESTADDRREQ},
        {EMSGSIZE, WSAEMSGSIZE},
        {EPROTOTYPE, WSAEPROTOTYPE},
        {ENOPROTOOPT, WSAENOPROTOOPT},
        {EPROTONOSUPPORT, WSAEPROTONOSUPPORT},
        {ESOCKTNOSUPPORT, WSAESOCKTNOSUPPORT},
        {EOPNOTSUPP, WSAEOPNOTSUPP},
        {EPFNOSUPPORT, WSAEPFNOSUPPORT},
        {EAFNOSUPPORT, WSAEAFNOSUPPORT},
        {EADDRINUSE, WSAEADDRINUSE},
        {EADDRNOTAVAIL, WSAEADDRNOTAVAIL},
        {ENETDOWN, WSAENETDOWN},
        {ENETUNREACH, WSAENETUNREACH},
        {ENETRESET, WSAENETRESET},
        {ECONNABORTED, WSAECONNABORTED},
        {ECONNRESET, WSAECONNRESET},
        {ENOBUFS, WSAENOBUFS},
        {EISCONN, WSAEISCONN},
        {ENOTCONN, WSAENOTCONN},
        {ESHUTDOWN, WSAESHUTDOWN},
        /* Linux's EPIPE: the sending side is shut, by shutdown() or by a
         * reset or abort that an earlier call already reported. */
        {EPIPE, WSAESHUTDOWN},
        {ETOOMANYREFS, WSAETOOMANYREFS},
        {ETIMEDOUT, WSAETIMEDOUT},
        {ECONNREFUSED, WSAECONNREFUSED},
        {ELOOP, WSAELOOP},
        {ENAMETOOLONG, WSAENAMETOOLONG},
        {EHOSTDOWN, WSAEHOSTDOWN},
        {EHOSTUNREACH, WSAEHOSTUNREACH},
        {ENOTEMPTY, WSAENOTEMPTY},
        {EUSERS, WSAEUSERS},
        {EDQUOT, WSAEDQUOT},
        {ESTALE, WSAESTALE},
        {EREMOTE, WSAEREMOTE},
        {ENOMEM, WSA_NOT_ENOUGH_MEMORY},
    };
    *count = sizeof codes / sizeof codes[0];
    return codes;
}

static inline DWORD GetLastError(void)
{
    int e = errno;
    size_t i, count;
    const struct tcpdrop_compat_errno_code *codes;

    if (e >= 1 && e <= TCPDROP_COMPAT_ERRNO_MAX) {
        codes = tcpdrop_compat_errno_codes(&count);
        for (i = 0; i < count; i++)
            if (codes[i].errnum == e)
                return codes[i].code;
        return (DWORD)e;
    }
    if (e < 0 && e >= -TCPDROP_COMPAT_ERRNO_MAX)
        return (DWORD)-e;
    return (DWORD)e;
}

static inline void SetLastError(DWORD dwErrCode)
{
    size_t i, count;
    const struct tcpdrop_compat_errno_code *codes = tcpdrop_compat_errno_codes(&count);

    for (i = 0; i < count; i++) {
        if (codes[i].code == dwErrCode) {
            errno = codes[i].errnum;
            return;
        }
    }
    if (dwErrCode >= 1 && dwErrCode <= TCPDROP_COMPAT_ERRNO_MAX)
        errno = -(int)dwErrCode;
    else
        errno = (int)dwErrCode;
}

/* ---- heap ------------------------------------------------------------- */

#define HEAP_ZERO_MEMORY 0x00000008

#define ZeroMemory(Destination, Length) memset((Destination), 0, (Length))

/* Zeroes through a volatile pointer, so the stores survive even when the
 * block is freed or goes out of scope right after (secrets). */
static inline PVOID SecureZeroMemory(PVOID ptr, SIZE_T cnt)
{
    volatile unsigned char *p = (volatile unsigned char *)ptr;
    while (cnt-- > 0)
        *p++ = 0;
    return ptr;
}

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
    if (!tcpdrop_compat_is_iphlpapi(lpLibFileName)) {
        SetLastError(ERROR_MOD_NOT_FOUND);
        return NULL;
    }
    return tcpdrop_compat_iphlpapi_module();
}

/* Windows' LoadLibrary is LoadLibraryW under UNICODE; wide strings are
 * outside these headers, so there it stays undeclared. */
#ifndef UNICODE
#define LoadLibrary LoadLibraryA
#endif

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

    if (hModule != tcpdrop_compat_iphlpapi_module()) {
        SetLastError(ERROR_MOD_NOT_FOUND);
        return NULL;
    }
    if (lpProcName != NULL)
        for (i = 0; i < sizeof procs / sizeof procs[0]; i++)
            if (strcmp(procs[i].name, lpProcName) == 0)
                return procs[i].proc;
    SetLastError(ERROR_PROC_NOT_FOUND);
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

static inline void Sleep(DWORD dwMilliseconds)
{
    int saved = errno;

    if (dwMilliseconds == 0) {
        sched_yield();
    } else if (dwMilliseconds == INFINITE) {
        for (;;)
            select(0, NULL, NULL, NULL, NULL);
    } else {
        struct timeval left;
        left.tv_sec = (time_t)(dwMilliseconds / 1000);
        left.tv_usec = (long)(dwMilliseconds % 1000) * 1000;
        /* Linux's select leaves the time still to sleep in `left` when a
         * signal interrupts it. */
        while (select(0, NULL, NULL, NULL, &left) < 0 && errno == EINTR)
            ;
    }
    /* Sleep sets no last error. */
    errno = saved;
}

#ifdef __cplusplus
}
#endif

#endif /* TCPDROP_COMPAT_WINBASE_H */
