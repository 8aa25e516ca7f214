// Package g722 is the ITU-T G.722 wideband codec (sub-band ADPCM, 64 kbit/s
// mode 1): 16 kHz 16-bit linear audio ↔ 8000 octets per second. The
// arithmetic follows the recommendation's blocks (QMF, QUANTL/QUANTH,
// INVQAL/INVQAH, LOGSCL/SCALEL, block 4 predictors) with 16-bit
// saturation, and is tested bit-exact against spandsp's g722_encode and
// g722_decode through a C harness.
//
// RTP carries it as payload type 9 with an 8000 Hz clock although it samples
// at 16 kHz (RFC 3551 §4.5.2); that mapping is the media package's concern.
// This package imports nothing of the project.
package g722
