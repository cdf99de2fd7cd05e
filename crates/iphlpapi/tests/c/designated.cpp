// C++20 designated initialisers on the IP Helper structures, with the
// compatibility headers, as Windows C++ code writes them:
//
//   designated LADDR LPORT RADDR RPORT   abort that IPv4 connection
//
// prints "stats OK" once GetTcpStatistics answered, then "code N"
// (SetTcpEntry's).
#include <winsock2.h>
#include <iphlpapi.h>

#include <cstdio>
#include <cstdlib>

static_assert(sizeof(MIB_TCPROW) == 20, "MIB_TCPROW is 20 bytes");
static_assert(sizeof(MIB_TCPROW_OWNER_MODULE) == 160, "MIB_TCPROW_OWNER_MODULE is 160 bytes");

int main(int argc, char **argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: designated LADDR LPORT RADDR RPORT\n");
        return 2;
    }
    MIB_TCPROW row = {
        .State = MIB_TCP_STATE_DELETE_TCB,
        .dwLocalAddr = inet_addr(argv[1]),
        .dwLocalPort = htons(static_cast<u_short>(std::atoi(argv[2]))),
        .dwRemoteAddr = inet_addr(argv[3]),
        .dwRemotePort = htons(static_cast<u_short>(std::atoi(argv[4]))),
    };
    // Partly designated aggregates draw g++'s -Wmissing-field-initializers;
    // these are value-initialised instead.
    MIB_TCPSTATS stats{};
    MIB_TCPROW_OWNER_MODULE module{};  // no owner: dwOwningPid 0
    DWORD size = 0;
    if (GetOwnerModuleFromTcpEntry(&module, TCPIP_OWNER_MODULE_INFO_BASIC, nullptr, &size) !=
        ERROR_NOT_FOUND)
        return 1;
    if (GetTcpStatistics(&stats) == NO_ERROR && stats.dwMaxConn == MIB_TCP_MAXCONN_DYNAMIC)
        std::printf("stats OK\n");
    std::printf("code %lu\n", static_cast<unsigned long>(SetTcpEntry(&row)));
    return 0;
}
