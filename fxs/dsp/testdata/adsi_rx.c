/* adsi_rx: decode Bell 202 caller ID with spandsp's adsi_rx in CLASS mode
 * (the strict reference: it drops messages whose checksum is wrong).
 *
 *   adsi_rx FILE.s16
 *
 * FILE is raw signed 16-bit little-endian mono at 8 kHz. For each message it
 * prints
 *   MSG <hex bytes as delivered>
 *   FIELD <type hex> <body hex>        (one per field, from adsi_next_field)
 * Exit 0 if a message was decoded, 1 if none, 2 on usage or file errors. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <spandsp.h>

static int msgs;
static adsi_rx_state_t *rx;

static void hex(const uint8_t *p, int n)
{
    for (int i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void put_msg(void *user, const uint8_t *msg, int len)
{
    (void)user;
    if (len <= 0)
        return;
    if (++msgs > 100)
        exit(3);
    printf("MSG ");
    hex(msg, len);
    printf("\n");
    uint8_t type;
    const uint8_t *body;
    int flen;
    int pos = -1;
    /* adsi_next_field returns the next position, -1 at the end, -2 if
       corrupt; bound the walk anyway. */
    for (int i = 0; i < 64; i++) {
        pos = adsi_next_field(rx, msg, len, pos, &type, &body, &flen);
        if (pos < 0)
            break;
        printf("FIELD %02x ", type);
        if (body && flen > 0)
            hex(body, flen);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: adsi_rx FILE.s16\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    rx = adsi_rx_init(NULL, ADSI_STANDARD_CLASS, put_msg, NULL);
    int16_t buf[40];
    size_t n;
    while ((n = fread(buf, 2, 40, f)) > 0)
        adsi_rx(rx, buf, (int)n);
    int16_t zero[40] = {0};
    for (int i = 0; i < 20; i++)
        adsi_rx(rx, zero, 40);
    fclose(f);
    fflush(stdout);
    return msgs ? 0 : 1;
}
