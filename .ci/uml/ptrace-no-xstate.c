/*
 * LD_PRELOAD shim for Debian's linux.uml (6.1) on hosts whose XSAVE area is
 * bigger than UML's copy of it (AVX-512, AMX).
 *
 * UML 6.1 saves and restores its processes' FPU state with
 * ptrace(PTRACE_GETREGSET/SETREGSET, NT_X86_XSTATE) into a struct _xstate
 * (832 bytes: legacy area, header, upper YMM halves). The host kernel refuses
 * a SETREGSET of less than its whole XSAVE area with EFAULT
 * (arch/x86/kernel/fpu/regset.c, xstateregs_set: "A whole standard-format
 * XSAVE buffer is needed"), so UML panics at its first process:
 *   userspace - ptrace set fp regs failed, errno = 14
 * Here a SETREGSET of a short buffer becomes: read the whole current area,
 * lay UML's bytes over its beginning, write the whole area back. The state
 * past UML's 832 bytes (AVX-512, AMX) is then not switched between threads
 * of one UML process, so .ci/uml/run keeps glibc inside off AVX-512.
 * (Hiding NT_X86_XSTATE instead, so that UML falls back to the 512-byte
 * FXSAVE area, loses the upper YMM halves and corrupted strings inside.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Bigger than any XSAVE area so far (AMX: about 11 KB). UML runs on one
 * host thread per CPU and has one CPU: one buffer is enough. */
static unsigned char whole[32768] __attribute__((aligned(64)));

long ptrace(enum __ptrace_request request, ...)
{
	static long (*real)(enum __ptrace_request, ...);
	va_list ap;
	va_start(ap, request);
	pid_t pid = va_arg(ap, pid_t);
	void *addr = va_arg(ap, void *);
	void *data = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (long (*)(enum __ptrace_request, ...))dlsym(RTLD_NEXT, "ptrace");
	if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE) {
		struct iovec *mine = data;
		struct iovec all = { whole, sizeof whole };
		long got = real(PTRACE_GETREGSET, pid, addr, &all);
		if (got < 0)
			return got;
		if (mine->iov_len < all.iov_len) {
			memcpy(whole, mine->iov_base, mine->iov_len);
			return real(PTRACE_SETREGSET, pid, addr, &all);
		}
	}
	return real(request, pid, addr, data);
}
