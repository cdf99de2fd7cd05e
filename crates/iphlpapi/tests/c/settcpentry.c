/* settcpentry null
 * settcpentry STATE LOCAL_ADDR LOCAL_PORT REMOTE_ADDR REMOTE_PORT
 * Calls SetTcpEntry and prints "code N: TEXT"; exits 0 whatever the code. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include <iphlpapi.h>

static void report(DWORD code)
{
    char text[256];
    DWORD fmt = IpHlpFormatError(code, text, sizeof text);
    printf("code %u: %s\n", (unsigned)code, fmt == NO_ERROR ? text : "?");
}

int main(int argc, char **argv)
{
    MIB_TCPROW row;
    struct in_addr local, remote;

    if (argc == 2) {
        report(SetTcpEntry(NULL));
        return 0;
    }
    if (argc != 6 || inet_pton(AF_INET, argv[2], &local) != 1 ||
        inet_pton(AF_INET, argv[4], &remote) != 1) {
        fprintf(stderr, "usage: settcpentry null | STATE LADDR LPORT RADDR RPORT\n");
        return 2;
    }
    row.dwState = (DWORD)strtoul(argv[1], NULL, 10);
    row.dwLocalAddr = local.s_addr;
    row.dwLocalPort = htons((unsigned short)atoi(argv[3]));
    row.dwRemoteAddr = remote.s_addr;
    row.dwRemotePort = htons((unsigned short)atoi(argv[5]));
    report(SetTcpEntry(&row));
    return 0;
}
