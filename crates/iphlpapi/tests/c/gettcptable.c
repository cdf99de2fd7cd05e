/* A port of Microsoft's documented GetTcpTable usage example: ask with a
 * one-row table, grow the buffer to the size the call asks for, ask again,
 * print every row with its state name, inet_ntoa addresses and ntohs
 * ports. Only the includes and the allocator differ from Windows. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iphlpapi.h>

static const char *state_name(DWORD state)
{
    switch (state) {
    case MIB_TCP_STATE_CLOSED: return "CLOSED";
    case MIB_TCP_STATE_LISTEN: return "LISTEN";
    case MIB_TCP_STATE_SYN_SENT: return "SYN-SENT";
    case MIB_TCP_STATE_SYN_RCVD: return "SYN-RECEIVED";
    case MIB_TCP_STATE_ESTAB: return "ESTABLISHED";
    case MIB_TCP_STATE_FIN_WAIT1: return "FIN-WAIT-1";
    case MIB_TCP_STATE_FIN_WAIT2: return "FIN-WAIT-2";
    case MIB_TCP_STATE_CLOSE_WAIT: return "CLOSE-WAIT";
    case MIB_TCP_STATE_CLOSING: return "CLOSING";
    case MIB_TCP_STATE_LAST_ACK: return "LAST-ACK";
    case MIB_TCP_STATE_TIME_WAIT: return "TIME-WAIT";
    case MIB_TCP_STATE_DELETE_TCB: return "DELETE-TCB";
    default: return "UNKNOWN dwState value";
    }
}

int main(void)
{
    PMIB_TCPTABLE pTcpTable;
    ULONG ulSize = 0;
    DWORD dwRetVal = 0;
    char szLocalAddr[128];
    char szRemoteAddr[128];
    struct in_addr IpAddr;
    int i;

    pTcpTable = (MIB_TCPTABLE *)malloc(sizeof(MIB_TCPTABLE));
    if (pTcpTable == NULL) {
        printf("Error allocating memory\n");
        return 1;
    }
    ulSize = sizeof(MIB_TCPTABLE);
    /* The first call, with room for one row, says how much is needed. */
    if ((dwRetVal = GetTcpTable(pTcpTable, &ulSize, TRUE)) == ERROR_INSUFFICIENT_BUFFER) {
        printf("First call: %u, size needed %u\n", (unsigned)dwRetVal, (unsigned)ulSize);
        free(pTcpTable);
        pTcpTable = (MIB_TCPTABLE *)malloc(ulSize);
        if (pTcpTable == NULL) {
            printf("Error allocating memory\n");
            return 1;
        }
    }
    if ((dwRetVal = GetTcpTable(pTcpTable, &ulSize, TRUE)) == NO_ERROR) {
        printf("\tNumber of entries: %d\n", (int)pTcpTable->dwNumEntries);
        for (i = 0; i < (int)pTcpTable->dwNumEntries; i++) {
            IpAddr.s_addr = (in_addr_t)pTcpTable->table[i].dwLocalAddr;
            strncpy(szLocalAddr, inet_ntoa(IpAddr), sizeof(szLocalAddr) - 1);
            szLocalAddr[sizeof(szLocalAddr) - 1] = '\0';
            IpAddr.s_addr = (in_addr_t)pTcpTable->table[i].dwRemoteAddr;
            strncpy(szRemoteAddr, inet_ntoa(IpAddr), sizeof(szRemoteAddr) - 1);
            szRemoteAddr[sizeof(szRemoteAddr) - 1] = '\0';

            printf("\n\tTCP[%d] State: %u - %s\n", i, (unsigned)pTcpTable->table[i].dwState,
                   state_name(pTcpTable->table[i].dwState));
            printf("\tTCP[%d] Local Addr: %s\n", i, szLocalAddr);
            printf("\tTCP[%d] Local Port: %d \n", i,
                   ntohs((unsigned short)pTcpTable->table[i].dwLocalPort));
            printf("\tTCP[%d] Remote Addr: %s\n", i, szRemoteAddr);
            printf("\tTCP[%d] Remote Port: %d\n", i,
                   ntohs((unsigned short)pTcpTable->table[i].dwRemotePort));
        }
    } else {
        printf("\tGetTcpTable failed with %u\n", (unsigned)dwRetVal);
        free(pTcpTable);
        return 1;
    }
    free(pTcpTable);
    return 0;
}
