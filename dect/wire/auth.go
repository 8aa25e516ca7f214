package wire

import (
	"crypto/aes"
	"fmt"
)

// The authentication processes (docs/radio-protocol.md §6). They follow the
// structure of DECT's DSAA processes A11/A12/A21/A22 (ETSI EN 300 175-7 §4.5;
// libdect src/auth.c) with AES-128 in place of the DSAA cipher, the way
// DSAA2 does. The exact DSAA2 specification was not available to this
// project, so this is the project's own algorithm, documented so module
// firmware and devices can implement it; it is not interoperable with ETSI
// DSAA2 devices.
//
//	AC      = PIN as BCD, left-padded with 0xF nibbles to 4 bytes
//	K       = AC repeated to 16 bytes (pairing) or UAK (attach and call)
//	A11: KS  = AES-128(key K,   RS     ‖ 00×8)
//	A12: E   = AES-128(key KS,  RAND_F ‖ 00×8); RES1 = E[12..15]; DCK = E[4..11]
//	A21: KS' = KS ⊕ AA×16
//	A22: E'  = AES-128(key KS', RAND_P ‖ 00×8); RES2 = E'[12..15]
//	UAK      = KS' of the pairing exchange

// PINToAC converts a 4–8 digit PIN to the 4-byte authentication code.
func PINToAC(pin string) ([4]byte, error) {
	var ac [4]byte
	if err := CheckPIN(pin); err != nil {
		return ac, err
	}
	nib := make([]byte, 8)
	for i := range nib {
		nib[i] = 0xF
	}
	copy(nib[8-len(pin):], pin)
	for i := 8 - len(pin); i < 8; i++ {
		nib[i] -= '0'
	}
	for i := range ac {
		ac[i] = nib[2*i]<<4 | nib[2*i+1]
	}
	return ac, nil
}

// KeyFromAC expands an authentication code to a 128-bit key.
func KeyFromAC(ac [4]byte) (k [16]byte) {
	for i := range k {
		k[i] = ac[i%4]
	}
	return k
}

func aesBlock(key [16]byte, half [8]byte) [16]byte {
	c, err := aes.NewCipher(key[:])
	if err != nil {
		panic(fmt.Sprintf("unexpected: aes.NewCipher with 16-byte key: %v", err))
	}
	var in, out [16]byte
	copy(in[:8], half[:])
	c.Encrypt(out[:], in[:])
	return out
}

// A11 derives the session key KS from K and RS.
func A11(k [16]byte, rs [8]byte) [16]byte { return aesBlock(k, rs) }

// A12 computes RES1 and the derived cipher key from KS and RAND_F.
func A12(ks [16]byte, randF [8]byte) (res1 [4]byte, dck [8]byte) {
	e := aesBlock(ks, randF)
	copy(res1[:], e[12:16])
	copy(dck[:], e[4:12])
	return res1, dck
}

// A21 derives KS' from KS.
func A21(ks [16]byte) (ks2 [16]byte) {
	for i := range ks {
		ks2[i] = ks[i] ^ 0xAA
	}
	return ks2
}

// A22 computes RES2 from KS' and RAND_P.
func A22(ks2 [16]byte, randP [8]byte) (res2 [4]byte) {
	e := aesBlock(ks2, randP)
	copy(res2[:], e[12:16])
	return res2
}

// Authenticate computes the RES1 a device holding key k must return for the
// challenge (RS, RAND_F).
func Authenticate(k [16]byte, rs, randF [8]byte) [4]byte {
	res, _ := A12(A11(k, rs), randF)
	return res
}

// KeyAllocation runs the pairing computation with the PIN: it returns the
// RES1 the device must return, the RES2 the base returns to prove it knows
// the PIN too, and the new user authentication key.
func KeyAllocation(pin string, rs, randF, randP [8]byte) (res1, res2 [4]byte, uak [16]byte, err error) {
	ac, err := PINToAC(pin)
	if err != nil {
		return res1, res2, uak, err
	}
	ks := A11(KeyFromAC(ac), rs)
	res1, _ = A12(ks, randF)
	uak = A21(ks)
	res2 = A22(uak, randP)
	return res1, res2, uak, nil
}
