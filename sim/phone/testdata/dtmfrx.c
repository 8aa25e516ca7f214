/* dtmfrx: spandsp's DTMF receiver as an independent reference decoder.
 * Reads raw 8 kHz s16le mono on stdin; prints one line per digit:
 * "<digit> <start-ms> <end-ms> <level-dBm0>". Exit 0 if any digit, 1 if none. */
#include <stdio.h>
#include <stdint.h>
#include <spandsp.h>

static long pos;      /* samples processed before the current block */
static int cur;       /* digit in progress */
static long start;
static int lvl;
static int found;

static void report(void *user, int code, int level, int delay)
{
    (void) user;
    long at = pos - delay;
    if (code) {
        cur = code;
        start = at;
        lvl = level;
    } else if (cur) {
        printf("%c %ld %ld %d\n", cur, start / 8, at / 8, lvl);
        fflush(stdout);
        found = 1;
        cur = 0;
    }
}

int main(void)
{
    dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
    int16_t buf[160];
    size_t n;
    if (!rx)
        return 2;
    dtmf_rx_set_realtime_callback(rx, report, NULL);
    while ((n = fread(buf, sizeof(int16_t), 160, stdin)) > 0) {
        pos += (long) n;
        dtmf_rx(rx, buf, (int) n);
    }
    /* Flush the end of the last digit with silence. */
    for (int i = 0; i < 160; i++)
        buf[i] = 0;
    for (int k = 0; k < 10; k++) {
        pos += 160;
        dtmf_rx(rx, buf, 160);
    }
    return found ? 0 : 1;
}
