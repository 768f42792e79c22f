package securedpacket

import (
	"crypto/cipher"
	"crypto/subtle"
)

// cmac computes AES-CMAC (NIST SP 800-38B, RFC 4493 §2.4) of msg with the
// 16-octet-block cipher b and appends the full 16-octet tag to dst.
//
// Written here because the standard library exposes no CMAC and the
// third-party packages found (aead/cmac, archived since 2020) would add an
// unmaintained dependency for 40 lines that RFC 4493 §4 test vectors pin
// down completely (cmac_test.go).
func cmac(dst []byte, b cipher.Block, msg []byte) []byte {
	const bs = 16
	// RFC 4493 §2.3 Generate_Subkey: L = AES-128(K, 0^128); K1 = L<<1 ^
	// (Rb if MSB(L)); K2 = K1<<1 ^ (Rb if MSB(K1)), Rb = 0x87.
	var l, k1, k2 [bs]byte
	b.Encrypt(l[:], l[:])
	shiftXor(&k1, &l)
	shiftXor(&k2, &k1)

	// RFC 4493 §2.4 steps 2–4: n blocks, the last complete one XORed with
	// K1, an incomplete (or empty) one padded 10* and XORed with K2.
	n := (len(msg) + bs - 1) / bs
	complete := n > 0 && len(msg)%bs == 0
	if n == 0 {
		n = 1
	}
	var last [bs]byte
	tail := msg[(n-1)*bs:]
	if complete {
		subtle.XORBytes(last[:], tail, k1[:])
	} else {
		copy(last[:], tail)
		last[len(tail)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	// Steps 5–7: CBC over the blocks with a zero IV.
	var x [bs]byte
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x[:], x[:], msg[i*bs:(i+1)*bs])
		b.Encrypt(x[:], x[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	b.Encrypt(x[:], x[:])
	return append(dst, x[:]...)
}

// shiftXor sets dst = src << 1, XORed with Rb = 0x87 when the MSB of src
// was set (RFC 4493 §2.3).
func shiftXor(dst, src *[16]byte) {
	var carry byte
	for i := 15; i >= 0; i-- {
		dst[i] = src[i]<<1 | carry
		carry = src[i] >> 7
	}
	if carry != 0 {
		dst[15] ^= 0x87
	}
}
