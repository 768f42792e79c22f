package securedpacket

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
)

// Keys are the two keys of a key set: KIc ciphers, KID computes the
// cryptographic checksum. For 3DES 2-key give 16 octets (K1‖K2, used as
// K1‖K2‖K1), for 3DES 3-key 24 octets; AES takes 16, 24 or 32. The slices
// are only read.
type Keys struct {
	KIc []byte
	KID []byte
}

// String keeps key material out of %v and slog's text handler (style rule
// 17; this codec may not import log/slog to implement LogValue).
func (Keys) String() string { return "[redacted]" }

// GoString keeps key material out of %#v.
func (Keys) GoString() string { return "securedpacket.Keys{[redacted]}" }

// MarshalText keeps key material out of JSON logs and encodings.
func (Keys) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// ccLen is the length of the cryptographic checksum this package produces:
// 8 octets for DES/3DES (the last CBC block) and AES-CMAC truncated to its
// leftmost 8 octets (secured-packet.md §5; the 4-octet reading is
// UNCONFIRMED and not produced).
const ccLen = 8

// newBlock returns the block cipher for a KIc/KID algorithm and key. DES is
// refused: parse only (LwM2M-TS 1.0 §7.2.2.2.3 forbids single DES, and no
// LwM2M peer may use it).
func newBlock(alg Algorithm, key []byte) (cipher.Block, error) {
	switch alg {
	case AlgAES:
		switch len(key) {
		case 16, 24, 32:
			return aes.NewCipher(key)
		}
		return nil, fmt.Errorf("AES key of %d octets: %w", len(key), ErrKeyLength)
	case AlgTripleDES2:
		if len(key) != 16 {
			return nil, fmt.Errorf("3DES 2-key key of %d octets: %w", len(key), ErrKeyLength)
		}
		// TS 102 225 §5.1.2: 2-key triple DES is K1‖K2‖K1.
		k := make([]byte, 0, 24)
		k = append(append(k, key...), key[:8]...)
		return des.NewTripleDESCipher(k)
	case AlgTripleDES3:
		if len(key) != 24 {
			return nil, fmt.Errorf("3DES 3-key key of %d octets: %w", len(key), ErrKeyLength)
		}
		return des.NewTripleDESCipher(key)
	}
	return nil, fmt.Errorf("algorithm nibble 0x%x: %w", byte(alg), ErrUnsupportedAlgorithm)
}

// cipherBlock is the KIc's block cipher.
func cipherBlock(kic KeyRef, keys Keys) (cipher.Block, error) {
	b, err := newBlock(kic.Algorithm(), keys.KIc)
	if err != nil {
		return nil, fmt.Errorf("securedpacket: KIc %02x: %w", byte(kic), err)
	}
	return b, nil
}

// blockSize is the padding unit for a ciphered packet (8 for DES family, 16
// for AES), or an error for algorithms this package does not cipher with.
func blockSize(kic KeyRef) (int, error) {
	switch kic.Algorithm() {
	case AlgAES:
		return aes.BlockSize, nil
	case AlgTripleDES2, AlgTripleDES3:
		return des.BlockSize, nil
	}
	return 0, fmt.Errorf("securedpacket: KIc %02x: %w", byte(kic), ErrUnsupportedAlgorithm)
}

// encryptCBC ciphers span in place with a zero IV (secured-packet.md §4).
func encryptCBC(b cipher.Block, span []byte) {
	iv := make([]byte, b.BlockSize())
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(span, span)
}

// decryptCBC deciphers src into dst with a zero IV.
func decryptCBC(b cipher.Block, dst, src []byte) {
	iv := make([]byte, b.BlockSize())
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(dst, src)
}

// checksum computes the cryptographic checksum of the concatenated parts
// with the KID key (TS 102 225 §5.1.3; secured-packet.md §5) and appends
// it to dst.
func checksum(dst []byte, integ Integrity, kid KeyRef, keys Keys, parts ...[]byte) ([]byte, error) {
	if integ != IntegrityCC {
		return nil, fmt.Errorf("securedpacket: %s: %w", integ, ErrUnsupportedAlgorithm)
	}
	alg := kid.Algorithm()
	b, err := newBlock(alg, keys.KID)
	if err != nil {
		return nil, fmt.Errorf("securedpacket: KID %02x: %w", byte(kid), err)
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	bs := b.BlockSize()
	msg := make([]byte, 0, n+bs)
	for _, p := range parts {
		msg = append(msg, p...)
	}
	if alg == AlgAES {
		// AES-CMAC with its own 10* padding; CC = leftmost 8 octets.
		var tag [16]byte
		cmac(tag[:0], b, msg)
		return append(dst, tag[:ccLen]...), nil
	}
	// DES family: zero-pad to the block size (not sent, not counted in
	// PCNTR), CBC with zero IV, CC = last block.
	for len(msg)%bs != 0 {
		msg = append(msg, 0)
	}
	encryptCBC(b, msg)
	return append(dst, msg[len(msg)-bs:]...), nil
}

// checksumLen is the RC/CC/DS length the SPI and KID call for, for the
// algorithms this package can compute.
func checksumLen(integ Integrity, kid KeyRef) (int, error) {
	switch integ {
	case IntegrityNone:
		return 0, nil
	case IntegrityCC:
		switch kid.Algorithm() {
		case AlgAES, AlgTripleDES2, AlgTripleDES3:
			return ccLen, nil
		}
		return 0, fmt.Errorf("securedpacket: KID %02x: %w", byte(kid), ErrUnsupportedAlgorithm)
	}
	return 0, fmt.Errorf("securedpacket: %s: %w", integ, ErrUnsupportedAlgorithm)
}

// verify recomputes the checksum and compares it in constant time.
func verify(got []byte, integ Integrity, kid KeyRef, keys Keys, parts ...[]byte) error {
	want, err := checksum(nil, integ, kid, keys, parts...)
	if err != nil {
		return err
	}
	if len(got) != len(want) || subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrChecksum
	}
	return nil
}
