/* extended AF CLASS ORDER [own]
 * Calls GetExtendedTcpTable for family AF (2, 23 or 10) and TCP_TABLE_CLASS
 * CLASS with bOrder ORDER, growing the buffer as the size protocol asks,
 * and prints "pid P" (its own pid), "code N", then one line per row:
 *   STATE LOCAL_ADDR LOCAL_SCOPE LOCAL_PORT REMOTE_ADDR REMOTE_SCOPE REMOTE_PORT PID
 * (scope and PID are 0 where the table has none; OWNER_MODULE rows must
 * have liCreateTimestamp 0, or the program fails). With "own", it first
 * opens a listener on 127.0.0.1 and connects to it, so the table holds
 * sockets this process owns. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iphlpapi.h>

static void own_sockets(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || client < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listener, 4) != 0 || getsockname(listener, (struct sockaddr *)&sa, &len) != 0 ||
        connect(client, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("own sockets");
        exit(2);
    }
    /* Left open (and unaccepted) until exit: the table shows them. */
}

static void print_end(int family, const void *addr, DWORD scope, DWORD port)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family, addr, text, sizeof text);
    printf(" %s %u %u", text, (unsigned)scope, (unsigned)ntohs((unsigned short)port));
}

int main(int argc, char **argv)
{
    ULONG af;
    TCP_TABLE_CLASS cls;
    BOOL order;
    DWORD size = 0, code, i, n;
    void *table = NULL;

    if (argc < 4) {
        fprintf(stderr, "usage: extended AF CLASS ORDER [own]\n");
        return 2;
    }
    af = (ULONG)strtoul(argv[1], NULL, 10);
    cls = (TCP_TABLE_CLASS)strtoul(argv[2], NULL, 10);
    order = atoi(argv[3]) ? TRUE : FALSE;
    if (argc > 4 && strcmp(argv[4], "own") == 0)
        own_sockets();
    printf("pid %d\n", (int)getpid());

    code = GetExtendedTcpTable(NULL, &size, order, af, cls, 0);
    while (code == ERROR_INSUFFICIENT_BUFFER) {
        free(table);
        table = malloc(size);
        if (table == NULL)
            return 1;
        code = GetExtendedTcpTable(table, &size, order, af, cls, 0);
    }
    printf("code %u\n", (unsigned)code);
    if (code != NO_ERROR)
        return 0;
    n = *(DWORD *)table;
    for (i = 0; i < n; i++) {
        if (af == WINAPI_AF_INET && cls >= TCP_TABLE_OWNER_MODULE_LISTENER) {
            MIB_TCPROW_OWNER_MODULE *r = &((PMIB_TCPTABLE_OWNER_MODULE)table)->table[i];
            if (r->liCreateTimestamp.QuadPart != 0)
                return 3;
            printf("%u", (unsigned)r->dwState);
            print_end(AF_INET, &r->dwLocalAddr, 0, r->dwLocalPort);
            print_end(AF_INET, &r->dwRemoteAddr, 0, r->dwRemotePort);
            printf(" %u\n", (unsigned)r->dwOwningPid);
        } else if (cls >= TCP_TABLE_OWNER_MODULE_LISTENER) {
            MIB_TCP6ROW_OWNER_MODULE *r = &((PMIB_TCP6TABLE_OWNER_MODULE)table)->table[i];
            if (r->liCreateTimestamp.QuadPart != 0)
                return 3;
            printf("%u", (unsigned)r->dwState);
            print_end(AF_INET6, r->ucLocalAddr, r->dwLocalScopeId, r->dwLocalPort);
            print_end(AF_INET6, r->ucRemoteAddr, r->dwRemoteScopeId, r->dwRemotePort);
            printf(" %u\n", (unsigned)r->dwOwningPid);
        } else if (af == WINAPI_AF_INET && cls <= TCP_TABLE_BASIC_ALL) {
            MIB_TCPROW *r = &((PMIB_TCPTABLE)table)->table[i];
            printf("%u", (unsigned)r->dwState);
            print_end(AF_INET, &r->dwLocalAddr, 0, r->dwLocalPort);
            print_end(AF_INET, &r->dwRemoteAddr, 0, r->dwRemotePort);
            printf(" 0\n");
        } else if (af == WINAPI_AF_INET) {
            MIB_TCPROW_OWNER_PID *r = &((PMIB_TCPTABLE_OWNER_PID)table)->table[i];
            printf("%u", (unsigned)r->dwState);
            print_end(AF_INET, &r->dwLocalAddr, 0, r->dwLocalPort);
            print_end(AF_INET, &r->dwRemoteAddr, 0, r->dwRemotePort);
            printf(" %u\n", (unsigned)r->dwOwningPid);
        } else if (cls <= TCP_TABLE_BASIC_ALL) {
            MIB_TCP6ROW *r = &((PMIB_TCP6TABLE)table)->table[i];
            printf("%u", (unsigned)r->State);
            print_end(AF_INET6, &r->LocalAddr, r->dwLocalScopeId, r->dwLocalPort);
            print_end(AF_INET6, &r->RemoteAddr, r->dwRemoteScopeId, r->dwRemotePort);
            printf(" 0\n");
        } else {
            MIB_TCP6ROW_OWNER_PID *r = &((PMIB_TCP6TABLE_OWNER_PID)table)->table[i];
            printf("%u", (unsigned)r->dwState);
            print_end(AF_INET6, r->ucLocalAddr, r->dwLocalScopeId, r->dwLocalPort);
            print_end(AF_INET6, r->ucRemoteAddr, r->dwRemoteScopeId, r->dwRemotePort);
            printf(" %u\n", (unsigned)r->dwOwningPid);
        }
    }
    free(table);
    return 0;
}
