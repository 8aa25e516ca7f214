/* Independent caller-ID decoder for the fxs tests: spandsp's adsi_rx
 * (Bell 202 CLASS, checksum verified by spandsp) over raw s16le 8 kHz
 * samples on stdin. Prints one line per message and field:
 *   MSG <type hex> <len>
 *   FIELD <code hex> <value>
 * Exit 0 when at least one message decoded, 1 when none.
 * Build: gcc -O2 -Wall -Wextra -o adsi_rx adsi_rx.c -lspandsp -lm */
#include <stdio.h>
#include <stdint.h>
#include <inttypes.h>
#include <spandsp.h>

static int messages;
static adsi_rx_state_t *rx;

static void put_msg(void *user, const uint8_t *msg, int len)
{
    (void)user;
    if (len < 2 || messages > 16)
        return;
    messages++;
    printf("MSG %02x %d\n", msg[0], len);
    uint8_t code;
    const uint8_t *field;
    int field_len;
    int pos = 0;
    int guard = 0;
    while (guard++ < 32) {
        pos = adsi_next_field(rx, msg, len, pos, &code, &field, &field_len);
        if (pos < 0)
            break;
        if (field_len <= 0 || field == NULL)
            continue;
        printf("FIELD %02x ", code);
        for (int i = 0; i < field_len; i++) {
            uint8_t c = field[i];
            if (c >= 0x20 && c < 0x7f && c != '\\')
                putchar(c);
            else
                printf("\\x%02x", c);
        }
        putchar('\n');
    }
    fflush(stdout);
}

int main(void)
{
    rx = adsi_rx_init(NULL, ADSI_STANDARD_CLASS, put_msg, NULL);
    if (rx == NULL)
        return 2;
    int16_t buf[40];
    size_t n;
    while ((n = fread(buf, sizeof(int16_t), 40, stdin)) > 0)
        adsi_rx(rx, buf, (int)n);
    return messages > 0 ? 0 : 1;
}
