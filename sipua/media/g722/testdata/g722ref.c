/* spandsp G.722 reference: "enc IN OUT" encodes raw s16le 16 kHz samples to
   G.722 octets (64 kbit/s); "dec IN OUT" decodes octets to raw s16le. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <spandsp.h>

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    FILE *in = fopen(argv[2], "rb");
    FILE *out = fopen(argv[3], "wb");
    if (in == NULL || out == NULL)
        return 2;
    if (strcmp(argv[1], "enc") == 0) {
        g722_encode_state_t *s = g722_encode_init(NULL, 64000, 0);
        int16_t amp[320];
        uint8_t code[160];
        size_t n;
        while ((n = fread(amp, 2, 320, in)) > 0) {
            int m = g722_encode(s, code, amp, (int) n);
            fwrite(code, 1, (size_t) m, out);
        }
    } else if (strcmp(argv[1], "dec") == 0) {
        g722_decode_state_t *s = g722_decode_init(NULL, 64000, 0);
        uint8_t code[160];
        int16_t amp[320];
        size_t n;
        while ((n = fread(code, 1, 160, in)) > 0) {
            int m = g722_decode(s, amp, code, (int) n);
            fwrite(amp, 2, (size_t) m, out);
        }
    } else {
        return 2;
    }
    fclose(out);
    return 0;
}
