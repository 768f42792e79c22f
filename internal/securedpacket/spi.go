package securedpacket

import (
	"encoding/hex"
	"fmt"
)

// Integrity is the RC/CC/DS choice of the SPI (TS 102 225 §5.1.1, first
// octet b2 b1 for the command, second octet b4 b3 for the PoR).
type Integrity uint8

// Integrity values.
const (
	IntegrityNone Integrity = 0 // no RC, CC or DS
	IntegrityRC   Integrity = 1 // redundancy check
	IntegrityCC   Integrity = 2 // cryptographic checksum
	IntegrityDS   Integrity = 3 // digital signature
)

func (i Integrity) String() string {
	switch i {
	case IntegrityNone:
		return "none"
	case IntegrityRC:
		return "RC"
	case IntegrityCC:
		return "CC"
	case IntegrityDS:
		return "DS"
	}
	return fmt.Sprintf("Integrity(%d)", uint8(i))
}

// CounterMode is the counter handling of the SPI first octet b5 b4
// (TS 102 225 §5.1.1).
type CounterMode uint8

// Counter modes.
const (
	CounterNone      CounterMode = 0 // no counter (field present, ignored)
	CounterAvailable CounterMode = 1 // counter available, no replay check
	CounterHigher    CounterMode = 2 // process only if higher than the stored value (LwM2M)
	CounterOneHigher CounterMode = 3 // process only if exactly one higher
)

func (m CounterMode) String() string {
	switch m {
	case CounterNone:
		return "none"
	case CounterAvailable:
		return "available"
	case CounterHigher:
		return "higher"
	case CounterOneHigher:
		return "one-higher"
	}
	return fmt.Sprintf("CounterMode(%d)", uint8(m))
}

// PoRMode is the Proof of Receipt request of the SPI second octet b2 b1.
type PoRMode uint8

// PoR modes (value 3 is reserved and refused by DecodeSPI).
const (
	PoRNone     PoRMode = 0 // no PoR
	PoRRequired PoRMode = 1 // PoR required
	PoROnError  PoRMode = 2 // PoR required only when an error occurred
)

func (m PoRMode) String() string {
	switch m {
	case PoRNone:
		return "none"
	case PoRRequired:
		return "required"
	case PoROnError:
		return "on-error"
	}
	return fmt.Sprintf("PoRMode(%d)", uint8(m))
}

// SPI is the Security Parameter Indicator, both octets decoded
// (TS 102 225 §5.1.1; TS 31.115 for second-octet b6).
//
//	first octet:  b8 b7 b6 reserved | b5 b4 counter | b3 ciphering | b2 b1 RC/CC/DS
//	second octet: b8 b7 reserved | b6 PoR via SMS-SUBMIT | b5 PoR ciphered |
//	              b4 b3 PoR RC/CC/DS | b2 b1 PoR request
type SPI struct {
	Integrity Integrity   // command RC/CC/DS
	Ciphered  bool        // command ciphered
	Counter   CounterMode // counter handling

	PoR          PoRMode   // PoR request
	PoRIntegrity Integrity // RC/CC/DS on the PoR
	PoRCiphered  bool      // PoR ciphered
	PoRSubmit    bool      // PoR sent in an SMS-SUBMIT rather than the SMS-DELIVER-REPORT
}

// Bit masks of the SPI octets.
const (
	spi1Integrity = 0x03
	spi1Cipher    = 0x04
	spi1Counter   = 0x18
	spi1Reserved  = 0xE0
	spi2PoR       = 0x03
	spi2Integrity = 0x0C
	spi2Cipher    = 0x10
	spi2Submit    = 0x20
	spi2Reserved  = 0xC0
)

// DecodeSPI decodes the two SPI octets. Reserved bits and the reserved PoR
// value 11 are refused: a security parameter this package does not know
// must not be silently ignored.
func DecodeSPI(b []byte) (SPI, error) {
	if len(b) < 2 {
		return SPI{}, decodeErr("SPI", len(b), ErrTruncated)
	}
	if len(b) > 2 {
		return SPI{}, decodeErr("SPI", 2, ErrLength)
	}
	s1, s2 := b[0], b[1]
	if s1&spi1Reserved != 0 {
		return SPI{}, decodeErr("SPI first octet", 0, ErrReserved)
	}
	if s2&spi2Reserved != 0 || s2&spi2PoR == 3 {
		return SPI{}, decodeErr("SPI second octet", 1, ErrReserved)
	}
	return SPI{
		Integrity:    Integrity(s1 & spi1Integrity),
		Ciphered:     s1&spi1Cipher != 0,
		Counter:      CounterMode(s1 & spi1Counter >> 3),
		PoR:          PoRMode(s2 & spi2PoR),
		PoRIntegrity: Integrity(s2 & spi2Integrity >> 2),
		PoRCiphered:  s2&spi2Cipher != 0,
		PoRSubmit:    s2&spi2Submit != 0,
	}, nil
}

// Bytes encodes the SPI. Values out of range are masked to their bit width;
// use Validate to refuse them.
func (s SPI) Bytes() [2]byte {
	s1 := byte(s.Integrity)&spi1Integrity | byte(s.Counter)<<3&spi1Counter
	if s.Ciphered {
		s1 |= spi1Cipher
	}
	s2 := byte(s.PoR)&spi2PoR | byte(s.PoRIntegrity)<<2&spi2Integrity
	if s.PoRCiphered {
		s2 |= spi2Cipher
	}
	if s.PoRSubmit {
		s2 |= spi2Submit
	}
	return [2]byte{s1, s2}
}

// Validate reports a field outside its coding.
func (s SPI) Validate() error {
	switch {
	case s.Integrity > IntegrityDS, s.PoRIntegrity > IntegrityDS:
		return fmt.Errorf("securedpacket: SPI integrity: %w", ErrReserved)
	case s.Counter > CounterOneHigher:
		return fmt.Errorf("securedpacket: SPI counter mode: %w", ErrReserved)
	case s.PoR > PoROnError:
		return fmt.Errorf("securedpacket: SPI PoR mode: %w", ErrReserved)
	}
	return nil
}

// String gives the SPI as four hex digits, as written in the specifications.
func (s SPI) String() string {
	b := s.Bytes()
	return hex.EncodeToString(b[:])
}

// Algorithm is the low nibble of a KIc or KID octet (TS 102 225 §5.1.2,
// §5.1.3). Its meaning for a KID depends on the SPI: see KeyRef.
type Algorithm uint8

// Algorithm values (b4..b1 of KIc/KID).
const (
	AlgImplicit    Algorithm = 0x0 // xx00: known implicitly by both entities
	AlgDES         Algorithm = 0x1 // DES-CBC (KIc), DES CBC-MAC (KID/CC), CRC16 (KID/RC)
	AlgAES         Algorithm = 0x2 // AES-CBC (KIc), AES-CMAC (KID/CC)
	AlgTripleDES2  Algorithm = 0x5 // 3DES outer CBC, 2 keys (KIc and KID/CC), CRC32 (KID/RC)
	AlgTripleDES3  Algorithm = 0x9 // 3DES outer CBC, 3 keys (KIc and KID/CC)
	AlgDESECB      Algorithm = 0xD // DES-ECB (KIc only)
	algProprietary Algorithm = 0x3 // xx11: proprietary
)

// KeyRef is a KIc or KID octet: b8..b5 key version number, b4..b1 algorithm
// (TS 102 225 §5.1.2, §5.1.3). The values LwM2M allows are 0xk2 (AES) and
// 0xk9 (3DES 3-key), k being the key version.
type KeyRef byte

// NewKeyRef builds a KIc/KID octet from a key version (0..15) and an
// algorithm.
func NewKeyRef(version uint8, alg Algorithm) KeyRef {
	return KeyRef(version<<4 | uint8(alg)&0x0F)
}

// Version is the key version number (b8..b5).
func (k KeyRef) Version() uint8 { return uint8(k) >> 4 }

// Algorithm is the algorithm nibble with the "implicit" (xx00) and
// "proprietary" (xx11) families folded onto AlgImplicit and a proprietary
// value; reserved nibbles are returned as they are.
func (k KeyRef) Algorithm() Algorithm {
	a := Algorithm(k & 0x0F)
	switch a & 0x3 {
	case 0:
		return AlgImplicit
	case 3:
		return algProprietary
	}
	return a
}

// cipherName names the KIc algorithm.
func (k KeyRef) cipherName() string {
	switch k.Algorithm() {
	case AlgImplicit:
		return "implicit"
	case algProprietary:
		return "proprietary"
	case AlgDES:
		return "DES-CBC"
	case AlgAES:
		return "AES-CBC"
	case AlgTripleDES2:
		return "3DES-2key-CBC"
	case AlgTripleDES3:
		return "3DES-3key-CBC"
	case AlgDESECB:
		return "DES-ECB"
	}
	return "reserved"
}

// macName names the KID algorithm for the given SPI integrity choice.
func (k KeyRef) macName(i Integrity) string {
	a := k.Algorithm()
	switch {
	case a == AlgImplicit:
		return "implicit"
	case a == algProprietary:
		return "proprietary"
	case i == IntegrityRC && a == AlgDES:
		return "CRC16"
	case i == IntegrityRC && a == AlgTripleDES2:
		return "CRC32"
	case i == IntegrityRC:
		return "reserved"
	case a == AlgDES:
		return "DES-CBC-MAC"
	case a == AlgAES:
		return "AES-CMAC"
	case a == AlgTripleDES2:
		return "3DES-2key-CBC-MAC"
	case a == AlgTripleDES3:
		return "3DES-3key-CBC-MAC"
	}
	return "reserved"
}

// Describe names the key reference as a KIc ("KIc") or, with the SPI's
// integrity choice, as a KID.
func (k KeyRef) Describe(kid bool, i Integrity) string {
	name := k.cipherName()
	if kid {
		name = k.macName(i)
	}
	return fmt.Sprintf("%02x (key version %d, %s)", byte(k), k.Version(), name)
}

// TAR is the Toolkit Application Reference, 3 octets (TS 101 220 Annex D).
type TAR [3]byte

func (t TAR) String() string { return hex.EncodeToString(t[:]) }

// ParseTAR decodes six hex digits.
func ParseTAR(s string) (TAR, error) {
	var t TAR
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 3 {
		return t, fmt.Errorf("securedpacket: TAR %q: want 6 hex digits", s)
	}
	copy(t[:], b)
	return t, nil
}

// Status is the Response Status Code of a PoR (TS 102 225 §5.1.4 Table 5,
// TS 31.115 §7).
type Status byte

// Response status codes.
const (
	StatusOK                   Status = 0x00
	StatusChecksumFailed       Status = 0x01
	StatusCounterLow           Status = 0x02
	StatusCounterHigh          Status = 0x03
	StatusCounterBlocked       Status = 0x04
	StatusCipheringError       Status = 0x05
	StatusSecurityError        Status = 0x06
	StatusInsufficientMemory   Status = 0x07
	StatusMoreTime             Status = 0x08
	StatusTARUnknown           Status = 0x09
	StatusInsufficientSecurity Status = 0x0A
	StatusViaSMSSubmit         Status = 0x0B
	StatusViaUSSD              Status = 0x0C
)

var statusText = [...]string{
	"PoR OK", "RC/CC/DS failed", "CNTR low", "CNTR high", "CNTR blocked",
	"ciphering error", "unidentified security error", "insufficient memory",
	"more time needed", "TAR unknown", "insufficient security level",
	"response data will be sent using SMS-SUBMIT", "response data will be sent using USSD",
}

func (s Status) String() string {
	if int(s) < len(statusText) {
		return statusText[s]
	}
	return fmt.Sprintf("reserved status 0x%02x", byte(s))
}
