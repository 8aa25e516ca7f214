/* dtmfrx: spandsp's DTMF receiver as an independent reference decoder.
 * Reads raw 8 kHz s16le mono on stdin; prints one line per digit:
 * "<digit> <start-ms> <end-ms> <level-dBm0>". Times are when spandsp
 * declared the start and the end (its detection latency, ~2 blocks of
 * 12.75 ms, applies to both). Exit 0 if any digit, 1 if none. */
#include <stdio.h>
#include <stdint.h>
#include <spandsp.h>

static long pos;      /* samples processed so far (8-sample steps) */
static int cur;       /* digit in progress */
static long start;
static int lvl;
static int found;

static void report(void *user, int code, int level, int delay)
{
    (void) user;
    (void) delay;
    long at = pos;
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
    int16_t buf[8];
    size_t n;
    if (!rx)
        return 2;
    dtmf_rx_set_realtime_callback(rx, report, NULL);
    while ((n = fread(buf, sizeof(int16_t), 8, stdin)) > 0) {
        pos += (long) n;
        dtmf_rx(rx, buf, (int) n);
    }
    /* Flush the end of the last digit with silence. */
    for (int i = 0; i < 8; i++)
        buf[i] = 0;
    for (int k = 0; k < 200; k++) {
        pos += 8;
        dtmf_rx(rx, buf, 8);
    }
    return found ? 0 : 1;
}
