package radio

import "crypto/aes"

// The device side of the authentication processes (docs/radio-protocol.md
// §6), written from the document.

// pinKey turns a PIN into the 128-bit pairing key: BCD digits, left-padded
// with F nibbles to 8 nibbles (4 bytes), repeated four times.
func pinKey(pin string) [16]byte {
	var nibbles [8]byte
	pad := 8 - len(pin)
	for i := 0; i < 8; i++ {
		if i < pad {
			nibbles[i] = 0x0F
		} else {
			nibbles[i] = pin[i-pad] - '0'
		}
	}
	var k [16]byte
	for i := 0; i < 16; i++ {
		j := (i % 4) * 2
		k[i] = nibbles[j]<<4 | nibbles[j+1]
	}
	return k
}

func encryptHalf(key [16]byte, half [8]byte) [16]byte {
	blk, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 16-byte key cannot fail
	}
	var in, out [16]byte
	copy(in[:], half[:])
	blk.Encrypt(out[:], in[:])
	return out
}

// sessionKey is A11; res1 is A12's RES1; ksPrime is A21; res2 is A22.
func sessionKey(k [16]byte, rs [8]byte) [16]byte { return encryptHalf(k, rs) }

func res1(ks [16]byte, randF [8]byte) (r [4]byte) {
	e := encryptHalf(ks, randF)
	copy(r[:], e[12:])
	return r
}

func ksPrime(ks [16]byte) [16]byte {
	var o [16]byte
	for i, b := range ks {
		o[i] = b ^ 0xAA
	}
	return o
}

func res2(ks2 [16]byte, randP [8]byte) (r [4]byte) {
	e := encryptHalf(ks2, randP)
	copy(r[:], e[12:])
	return r
}
