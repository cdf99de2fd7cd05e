/*
 * windef.h -- Windows' base types for IP Helper TCP programs (tcpdrop).
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
 * Widths are Windows': BYTE 8, WORD 16, DWORD/ULONG/LONG 32, ULONGLONG 64
 * bits; WCHAR is a 16-bit UTF-16 unit. Windows' `#pragma comment(lib,
 * ...)` has no meaning for GCC, which would warn about it: pkg-config
 * links the library, so this header turns -Wunknown-pragmas off for the
 * rest of the file that includes it.
 *
 * printf and DWORD. Windows is LLP64: its DWORD, ULONG and LONG are
 * `unsigned long`/`long`, 32 bits, printed with %lu/%ld/%lx. Here they
 * are 32-bit `unsigned int`/`int` (Linux's long is 64 bits, and the IP
 * Helper structures need 32), so Windows' "%lu" with a DWORD draws
 * -Wformat, and when such an argument goes on the stack (past the sixth
 * on x86-64) the upper half printed is whatever was there. Print a DWORD
 * with %u (or PRIu32), or cast it: printf("%lu", (unsigned long)dw)
 * works on both systems. Windows' %I64d/%I64u are %lld/%llu (or PRId64),
 * %Iu (SIZE_T) is %zu, and %ls/%S print wchar_t (32-bit here), not WCHAR
 * strings. Assigning a Linux `unsigned long` (strtoul, u_long) to a
 * DWORD narrows: C++11 brace initialisation rejects it (clang++) or
 * warns (-Wnarrowing, g++).
 */
#ifndef TCPDROP_COMPAT_WINDEF_H
#define TCPDROP_COMPAT_WINDEF_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN tcpdrop base types: the same block, under the same guard, is in
 * iphlpapi.h and in the compatibility <windef.h>, so the two headers can
 * come in either order. */
#ifndef TCPDROP_WINDOWS_BASE_TYPES
#define TCPDROP_WINDOWS_BASE_TYPES
#if defined(__GNUC__)
#define TCPDROP_EXTENSION __extension__
#else
#define TCPDROP_EXTENSION
#endif
typedef uint32_t DWORD, *PDWORD;
typedef uint32_t ULONG, *PULONG;
typedef int32_t LONG, *PLONG;
typedef int BOOL, *PBOOL;
typedef unsigned char UCHAR, *PUCHAR;
typedef uint16_t USHORT, *PUSHORT;
typedef void *PVOID;
typedef int64_t LONGLONG, *PLONGLONG;
typedef uint64_t ULONGLONG, *PULONGLONG;
typedef uint64_t DWORD64, *PDWORD64;
/* Windows' 16-bit wide character: a UTF-16 code unit (Linux's wchar_t and
 * L"" literals are 32 bits wide and are not WCHAR strings). */
typedef uint16_t WCHAR, *PWCHAR;
typedef union _LARGE_INTEGER {
    TCPDROP_EXTENSION struct {
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#endif /* TCPDROP_WINDOWS_BASE_TYPES */
/* END tcpdrop base types */

typedef uint8_t BYTE, *PBYTE, *LPBYTE;
typedef uint16_t WORD, *PWORD, *LPWORD;
typedef DWORD *LPDWORD;
typedef BOOL *LPBOOL;
typedef LONG *LPLONG;
typedef int INT, *PINT, *LPINT;
typedef unsigned int UINT, *PUINT;
typedef char CHAR, *PCHAR, *PSTR, *LPSTR;
typedef const char *PCSTR, *LPCSTR;
typedef WCHAR *PWSTR, *LPWSTR;
typedef const WCHAR *PCWSTR, *LPCWSTR;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef uint64_t ULONG64, *PULONG64;
typedef int64_t LONG64, *PLONG64;
typedef intptr_t INT_PTR, LONG_PTR;
typedef uintptr_t UINT_PTR, ULONG_PTR, DWORD_PTR;
typedef size_t SIZE_T;

typedef union _ULARGE_INTEGER {
    TCPDROP_EXTENSION struct {
        DWORD LowPart;
        DWORD HighPart;
    };
    struct {
        DWORD LowPart;
        DWORD HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

/* 100-nanosecond intervals since 1601-01-01 UTC, in two halves. */
typedef struct _FILETIME {
    DWORD dwLowDateTime;
    DWORD dwHighDateTime;
} FILETIME, *PFILETIME, *LPFILETIME;

typedef void *HANDLE, **PHANDLE;
/* Only LoadLibraryA("iphlpapi.dll") makes one (see <winbase.h>). */
typedef struct tcpdrop_compat_module *HMODULE, *HINSTANCE;
/* Windows returns INT_PTR from an unprototyped FARPROC. Here it is
 * void (*)(void), the one function pointer type GCC and Clang let a cast
 * turn into any other without -Wcast-function-type, in C and C++: code
 * casts it to the call's own type, as it must on Windows too. */
typedef void (*FARPROC)(void);

/* Calling conventions and decorations: nothing on Linux. */
#ifndef WINAPI
#define WINAPI
#endif
#define WINAPIV
#define APIENTRY
#define CALLBACK
#define FAR
#define NEAR
#define CONST const
#define VOID void
#define IN
#define OUT
#define OPTIONAL

#define ANYSIZE_ARRAY 1

/* winnt.h's BOOLEAN: one byte, TRUE or FALSE (BOOL is an int). */
typedef BYTE BOOLEAN, *PBOOLEAN;

/* The number of elements of an array (not of a pointer: sizeof would
 * give the pointer's). */
#define ARRAYSIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RTL_NUMBER_OF(a) ARRAYSIZE(a)
#ifndef _countof
#define _countof(a) ARRAYSIZE(a)
#endif
#define MAKEWORD(low, high) ((WORD)(((BYTE)((low) & 0xff)) | ((WORD)((BYTE)((high) & 0xff))) << 8))
#define LOBYTE(w) ((BYTE)((w) & 0xff))
#define HIBYTE(w) ((BYTE)(((w) >> 8) & 0xff))
#define LOWORD(l) ((WORD)((l) & 0xffff))
#define HIWORD(l) ((WORD)(((l) >> 16) & 0xffff))

#ifdef __cplusplus
}
#endif

#endif /* TCPDROP_COMPAT_WINDEF_H */
