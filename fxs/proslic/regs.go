package proslic

// Direct registers (decimal numbering of the Si321x data sheet, as used by
// the open drivers quoted in reference/telephony.md §1.2).
const (
	regSPIMode     = 0  // read: part (bits 5:4) and revision (bits 3:0)
	regPCMMode     = 1  // PCME bit 5, PCMF bits 4:3, WBE bit 2; bit 7 = Si3215 family on read
	regPCMTXLo     = 2  // PCM TX start count LSB
	regPCMTXHi     = 3  // PCM TX start count MSB
	regPCMRXLo     = 4  // PCM RX start count LSB (also the SPI self-test register)
	regPCMRXHi     = 5  // PCM RX start count MSB
	regFamilyID    = 6  // Si3215 family: bits 7:5 part
	regLoopback    = 8  // audio loopback, 0x02 after reset
	regLineImp     = 11 // 0x33 after reset (sanity check only)
	regPowerDown1  = 14 // 0x10 = DC-DC off
	regIRQ1        = 18 // interrupt status 1 (write 1 to clear)
	regIRQ2        = 19
	regIRQ3        = 20
	regIRQEn1      = 21 // interrupt enables, same layout
	regIRQEn2      = 22
	regIRQEn3      = 23
	regIDALo       = 28 // indirect data LSB
	regIDAHi       = 29 // indirect data MSB
	regIAA         = 30 // indirect address (write triggers the access)
	regIStatus     = 31 // indirect access busy
	regOSC1Ctl     = 32
	regOSC2Ctl     = 33
	regRingOscCtl  = 34 // bits 4:3 = ring active/inactive timers enabled
	regRingOnLo    = 48 // ring active timer, 125 µs/LSB
	regRingOnHi    = 49
	regRingOffLo   = 50 // ring inactive timer
	regRingOffHi   = 51
	regLinefeed    = 64 // bits 2:0 set, bits 6:4 actual state
	regBiasSquelch = 65
	regAutoManual  = 67
	regLoopStatus  = 68 // bit0 LCR (off-hook), bit1 RTP (ring trip)
	regLCRDebounce = 69
	regRTDebounce  = 70
	regLoopILimit  = 71 // 20 mA + 3 mA/LSB
	regVOC         = 72 // 1.5 V/LSB
	regVCM         = 73 // 1.5 V/LSB
	regVBATH       = 74 // 1.5 V/LSB
	regVBATSense   = 82 // ≈0.376 V/LSB
	regDCDCPWM     = 92
	regDCDCCal     = 93 // bit7 = DC-DC calibration busy
	regCal1        = 96 // reads 0 when calibration is done
	regCal2        = 97
	regEnhance     = 108
)

// Indirect registers (Si3210 numbering, telephony.md §1.5).
const (
	irOsc1Coef = 13
	irOsc1X    = 14
	irOsc1Y    = 15
	irOsc2Coef = 16
	irOsc2X    = 17
	irOsc2Y    = 18
	irRingVOff = 19
	irRingCoef = 20
	irRingX    = 21
	irRingY    = 22
	irRXGain   = 26
	irTXGain   = 27
)

// Interrupt bits (reg 18/19/20), telephony.md §1.3.
const (
	irq1RingActive   = 1 << 4
	irq1RingInactive = 1 << 5
	irq2RingTrip     = 1 << 0
	irq2LoopStatus   = 1 << 1
	irq2PowerAlarms  = 0xFC // Q1..Q6 in bits 2..7
)

// Values after a hardware reset used as sanity checks (§1.1).
const (
	resetLoopback = 0x02
	resetLineImp  = 0x33
)

// irEntry is one indirect register's start-up value.
type irEntry struct {
	ir, alt uint8 // Si3210 number; Si3215 address (255: absent on the Si3215)
	val     uint16
}

// irInit returns the indirect register table loaded at initialisation: the
// defaults of the open Si321x drivers (DAHDI wctdm indirect_regs[]).
func irInit() [44]irEntry {
	return [44]irEntry{
		{0, 255, 0x55C2}, {1, 255, 0x51E6}, {2, 255, 0x4B85}, {3, 255, 0x4937},
		{4, 255, 0x3333}, {5, 255, 0x0202}, {6, 255, 0x0202}, {7, 255, 0x0198},
		{8, 255, 0x0198}, {9, 255, 0x0611}, {10, 255, 0x0202}, {11, 255, 0x00E5},
		{12, 255, 0x0A1C},
		{13, 0, 0x7B30}, {14, 1, 0x0063}, {15, 2, 0x0000}, // OSC1 350 Hz −18 dBm
		{16, 3, 0x7870}, {17, 4, 0x007D}, {18, 5, 0x0000}, // OSC2 440 Hz −18 dBm
		{19, 6, 0x0000}, {20, 7, 0x7EF0}, {21, 8, 0x0160}, {22, 9, 0x0000}, // ring
		{23, 10, 0x2000}, {24, 11, 0x2000}, {25, 12, 0x0000}, // pulse metering
		{26, 13, 0x2000}, {27, 14, 0x4000}, // RX / TX digital gain
		{28, 15, 0x1000}, {29, 16, 0x3600}, // loop-closure / ring-trip threshold
		{30, 17, 0x1000}, {31, 18, 0x0200}, // common-mode min / max
		{32, 19, 0x07C0}, {33, 20, 0x2600}, {34, 21, 0x1B80}, // power alarm Q1..Q6
		{35, 22, 0x8000}, {36, 23, 0x0320}, // loop-closure / ring-trip filter
		{37, 24, 0x008C}, {38, 25, 0x0100}, {39, 26, 0x0010}, // power-alarm LP poles
		{40, 27, 0x0C00}, {41, 64, 0x0C00}, {42, 255, 0x1000}, {43, 66, 0x1000},
	}
}
