/* cidgen: spandsp's Bell 202 / CLASS caller-ID transmitter as an
 * independent reference generator. Usage:
 *   cidgen SEIZURE_BITS MARK_BITS HEXMSG
 * HEXMSG is type, length and body without checksum (spandsp forces the
 * length and appends the checksum). Writes raw 8 kHz s16le to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <spandsp.h>

int main(int argc, char **argv)
{
    uint8_t msg[256];
    int len = 0;
    if (argc != 4)
        return 2;
    const char *h = argv[3];
    while (h[0] && h[1] && len < 250) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            return 2;
        msg[len++] = (uint8_t) v;
        h += 2;
    }
    adsi_tx_state_t *tx = adsi_tx_init(NULL, ADSI_STANDARD_CLASS);
    if (!tx)
        return 2;
    adsi_tx_set_preamble(tx, atoi(argv[1]), atoi(argv[2]), 5, 1);
    if (adsi_tx_put_message(tx, msg, len) <= 0)
        return 2;
    int16_t buf[160];
    int n, total = 0;
    while ((n = adsi_tx(tx, buf, 160)) > 0 && total < 8000 * 10) {
        fwrite(buf, sizeof(int16_t), (size_t) n, stdout);
        total += n;
    }
    return 0;
}
