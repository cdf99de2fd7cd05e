/* example LADDR LPORT RADDR RPORT: abort that IPv4 connection, as the
 * README's example does, and print the code and its text. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include <iphlpapi.h>

int main(int argc, char **argv)
{
    char text[256];
    if (argc != 5)
        return 2;
    MIB_TCPROW row = {.dwState = MIB_TCP_STATE_DELETE_TCB,
                      .dwLocalAddr = inet_addr(argv[1]),
                      .dwLocalPort = htons((unsigned short)atoi(argv[2])),
                      .dwRemoteAddr = inet_addr(argv[3]),
                      .dwRemotePort = htons((unsigned short)atoi(argv[4]))};
    DWORD rc = SetTcpEntry(&row);
    IpHlpFormatError(rc, text, sizeof text);
    printf("%u %s\n", (unsigned)rc, text);
    return rc == NO_ERROR ? 0 : 1;
}
