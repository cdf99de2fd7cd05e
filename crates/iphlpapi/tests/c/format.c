/* format CODE...: prints "CODE TEXT" with IpHlpFormatError's text. */
#include <stdio.h>
#include <stdlib.h>

#include <iphlpapi.h>

int main(int argc, char **argv)
{
    char text[512];
    int i;
    for (i = 1; i < argc; i++) {
        DWORD code = (DWORD)strtoul(argv[i], NULL, 10);
        DWORD rc = IpHlpFormatError(code, text, sizeof text);
        if (rc != NO_ERROR) {
            printf("%u failed %u\n", (unsigned)code, (unsigned)rc);
            return 1;
        }
        printf("%u %s\n", (unsigned)code, text);
    }
    return 0;
}
