/* Reference values from spandsp's g711.h inline functions: for every 16-bit
   input the µ-law and A-law codes, then for every code its decoded value.
   Output: binary, little-endian. */
#include <stdint.h>
#include <stdio.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

int main(void)
{
    for (int i = -32768; i <= 32767; i++) {
        uint8_t b[2] = { linear_to_ulaw(i), linear_to_alaw(i) };
        fwrite(b, 1, 2, stdout);
    }
    for (int c = 0; c < 256; c++) {
        int16_t v[2] = { ulaw_to_linear((uint8_t) c), alaw_to_linear((uint8_t) c) };
        fwrite(v, 2, 2, stdout);
    }
    return 0;
}
