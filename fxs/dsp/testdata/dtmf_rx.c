/* dtmf_rx: decode DTMF with spandsp's dtmf_rx (the strict reference).
 *
 *   dtmf_rx FILE.s16            print one line per digit: "<digit> <start_ms> <end_ms>"
 *   dtmf_rx -bench N FILE.s16   run dtmf_rx over the file N times in 80-sample
 *                               chunks and print "ns/sample <mean> min <best pass>"
 *                               (its own clock; the best pass is the least
 *                               disturbed by other load on the machine)
 *
 * FILE is raw signed 16-bit little-endian mono at 8 kHz. Exit 0 if a digit was
 * found, 1 if none, 2 on usage or file errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <spandsp.h>

static long pos;        /* samples fed so far */
static long start_at;
static int digits;

static void on_tone(void *user, int code, int level, int delay)
{
    (void)user; (void)level; (void)delay;
    if (code) {
        start_at = pos;
        printf("%c %ld", code, start_at / 8);
    } else {
        printf(" %ld\n", pos / 8);
        digits++;
    }
    if (digits > 10000)
        exit(3);
}

static int16_t *load(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *buf = malloc(bytes + 2);
    if (!buf || fread(buf, 1, bytes, f) != (size_t)bytes) { fprintf(stderr, "read %s failed\n", path); exit(2); }
    fclose(f);
    *n = bytes / 2;
    return buf;
}

int main(int argc, char **argv)
{
    long n;
    if (argc == 4 && strcmp(argv[1], "-bench") == 0) {
        int loops = atoi(argv[2]);
        int16_t *x = load(argv[3], &n);
        dtmf_rx_state_t *s = dtmf_rx_init(NULL, NULL, NULL);
        struct timespec t0, t1;
        double total = 0, best = 1e30;
        long used = n - n % 80;
        for (int l = 0; l < loops; l++) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (long i = 0; i + 80 <= n; i += 80)
                dtmf_rx(s, x + i, 80);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
            total += ns;
            if (ns < best)
                best = ns;
        }
        char d[64];
        size_t got = dtmf_rx_get(s, d, sizeof d - 1);
        printf("ns/sample %.4f min %.4f digits %zu\n", total / ((double)loops * (double)used), best / (double)used, got);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: dtmf_rx FILE.s16 | dtmf_rx -bench N FILE.s16\n");
        return 2;
    }
    int16_t *x = load(argv[1], &n);
    dtmf_rx_state_t *s = dtmf_rx_init(NULL, NULL, NULL);
    dtmf_rx_set_realtime_callback(s, on_tone, NULL);
    for (long i = 0; i < n; i += 40) {
        int k = n - i < 40 ? (int)(n - i) : 40;
        dtmf_rx(s, x + i, k);
        pos += k;
    }
    int16_t zero[40] = {0};
    for (int i = 0; i < 100; i++) { dtmf_rx(s, zero, 40); pos += 40; }
    fflush(stdout);
    return digits ? 0 : 1;
}
