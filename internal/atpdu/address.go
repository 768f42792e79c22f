package atpdu

import (
	"fmt"
	"strings"
)

// TON is the Type-of-Number of an address, TS 23.040 §9.1.2.5 (b6..b4 of
// the Type-of-Address octet).
type TON uint8

// Types of number, TS 23.040 §9.1.2.5.
const (
	TONUnknown         TON = 0b000
	TONInternational   TON = 0b001
	TONNational        TON = 0b010
	TONNetworkSpecific TON = 0b011
	TONSubscriber      TON = 0b100
	TONAlphanumeric    TON = 0b101 // GSM 7-bit default alphabet text (TS 23.038)
	TONAbbreviated     TON = 0b110
	TONReserved        TON = 0b111
)

// String returns the lower-case name used in the CLI's JSON address_type.
func (t TON) String() string {
	switch t {
	case TONUnknown:
		return "unknown"
	case TONInternational:
		return "international"
	case TONNational:
		return "national"
	case TONNetworkSpecific:
		return "network-specific"
	case TONSubscriber:
		return "subscriber"
	case TONAlphanumeric:
		return "alphanumeric"
	case TONAbbreviated:
		return "abbreviated"
	default:
		return fmt.Sprintf("reserved(%d)", uint8(t))
	}
}

// NPI is the Numbering-Plan-Identification of an address, TS 23.040 §9.1.2.5
// (b3..b0 of the Type-of-Address octet; meaningful for TON 000, 001, 010).
type NPI uint8

// Numbering plans, TS 23.040 §9.1.2.5.
const (
	NPIUnknown  NPI = 0b0000
	NPIISDN     NPI = 0b0001 // ISDN/telephone, E.164/E.163
	NPIData     NPI = 0b0011 // X.121
	NPITelex    NPI = 0b0100
	NPINational NPI = 0b1000
	NPIPrivate  NPI = 0b1001
	NPIERMES    NPI = 0b1010
)

// maxAddressDigits is the longest address value: 20 semi-octets, 12 octets
// with length and TOA (TS 23.040 §9.1.2.5).
const maxAddressDigits = 20

// maxAlphanumericSeptets is the longest alphanumeric address: 11 septets
// pack into 77 bits, 20 semi-octets (TS 23.040 §9.1.2.5).
const maxAlphanumericSeptets = 11

// Address is a TP-OA, TP-DA or TP-RA (TS 23.040 §9.1.2.5), or an SMSC
// address. Number holds the digits ('0'–'9', and '*', '#', 'a', 'b', 'c' for
// the BCD values A–E) without any '+'; for TONAlphanumeric it holds the text.
//
// Wire layout:
//
//	octet 0     Address-Length: useful semi-octets (digits, no F filler);
//	            for TON 101 the semi-octets the packed 7-bit text occupies
//	octet 1     Type-of-Address: 1 | TON (b6..b4) | NPI (b3..b0)
//	octets 2..  Address-Value: BCD, first digit in the low nibble, an odd
//	            count padded with F in the last high nibble; or, for TON
//	            101, GSM 7-bit packed text
type Address struct {
	TON    TON
	NPI    NPI
	Number string
}

// String gives the address as people write it: "+33612345678" for an
// international number, the digits or text otherwise.
func (a Address) String() string {
	if a.TON == TONInternational && a.Number != "" {
		return "+" + a.Number
	}
	return a.Number
}

// IsZero reports whether a is the zero Address (in an SMSC prefix: "use the
// SMSC stored in the SIM").
func (a Address) IsZero() bool { return a == Address{} }

// addressSeparators are dropped from numbers written by people.
const addressSeparators = " -.()"

// ParseAddress reads an address as people write it: "+33612345678" is
// international/ISDN, digits (with '*' and '#') are TON unknown/ISDN, and
// anything else is an alphanumeric sender (at most 11 GSM 7-bit septets).
// Spaces, dashes, dots and parentheses inside numbers are ignored.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, fmt.Errorf("atpdu: parse address: empty: %w", ErrInvalid)
	}
	stripped := strings.Map(func(r rune) rune {
		if strings.ContainsRune(addressSeparators, r) {
			return -1
		}
		return r
	}, s)
	num, international := strings.CutPrefix(stripped, "+")
	if num != "" && isDialString(num) {
		a := Address{TON: TONUnknown, NPI: NPIISDN, Number: num}
		if international {
			if strings.Trim(num, "0123456789") != "" {
				return Address{}, fmt.Errorf("atpdu: parse address %q: international number with non-digits: %w", s, ErrInvalid)
			}
			a.TON = TONInternational
		}
		if len(num) > maxAddressDigits {
			return Address{}, fmt.Errorf("atpdu: parse address %q: %d digits, at most %d: %w", s, len(num), maxAddressDigits, ErrTooLong)
		}
		return a, nil
	}
	if international {
		return Address{}, fmt.Errorf("atpdu: parse address %q: not a number after '+': %w", s, ErrInvalid)
	}
	a := Address{TON: TONAlphanumeric, NPI: NPIUnknown, Number: s}
	if _, err := appendAddress(nil, a); err != nil {
		return Address{}, fmt.Errorf("atpdu: parse address %q: %w", s, err)
	}
	return a, nil
}

// isDialString reports whether s holds only digits, '*' and '#'.
func isDialString(s string) bool {
	return strings.Trim(s, "0123456789*#") == ""
}

// bcdDigits maps a semi-octet to its character (TS 23.040 §9.1.2.3; A–E as
// in TS 24.008 §10.5.4.7 called party BCD number). F is the filler.
const bcdDigits = "0123456789*#abc"

func bcdValue(c byte) (byte, bool) {
	i := strings.IndexByte(bcdDigits, c)
	if i < 0 {
		return 0, false
	}
	return byte(i), true
}

// decodeAddress reads an address field (TS 23.040 §9.1.2.5).
func decodeAddress(r *reader, field string) (Address, error) {
	at := r.off
	l, err := r.u8(field)
	if err != nil {
		return Address{}, err
	}
	if l > maxAddressDigits {
		return Address{}, r.fail(field, at, fmt.Errorf("%w: address length %d, at most %d", ErrInvalid, l, maxAddressDigits))
	}
	toa, err := r.u8(field)
	if err != nil {
		return Address{}, err
	}
	v, err := r.next(field, (int(l)+1)/2)
	if err != nil {
		return Address{}, err
	}
	a := Address{TON: TON(toa>>4) & 0x07, NPI: NPI(toa & 0x0F)}
	if a.TON == TONAlphanumeric {
		// l semi-octets = 4*l bits hold floor(4*l/7) septets.
		a.Number = DecodeGSM7(unpackSeptets(v, 0, int(l)*4/7))
		return a, nil
	}
	digits, err := decodeBCD(v, int(l))
	if err != nil {
		return Address{}, r.fail(field, at+2, err)
	}
	a.Number = digits
	return a, nil
}

// decodeBCD reads n semi-octet digits, low nibble first. F is allowed only
// as the filler after the last digit, which the caller excluded from n.
func decodeBCD(v []byte, n int) (string, error) {
	var b strings.Builder
	b.Grow(n)
	for i := range n {
		nib := v[i/2] >> (4 * (i % 2)) & 0x0F
		if nib == 0x0F {
			return "", fmt.Errorf("%w: filler F at digit %d of %d", ErrInvalid, i+1, n)
		}
		b.WriteByte(bcdDigits[nib])
	}
	return b.String(), nil
}

// appendBCD appends digits as semi-octets, F-filled.
func appendBCD(dst []byte, digits string) ([]byte, error) {
	for i := 0; i < len(digits); i += 2 {
		lo, ok := bcdValue(digits[i])
		if !ok {
			return dst, fmt.Errorf("%w: %q is not a BCD digit", ErrInvalid, digits[i])
		}
		hi := byte(0x0F)
		if i+1 < len(digits) {
			if hi, ok = bcdValue(digits[i+1]); !ok {
				return dst, fmt.Errorf("%w: %q is not a BCD digit", ErrInvalid, digits[i+1])
			}
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, nil
}

// toa returns the Type-of-Address octet; bit 7 is always 1.
func (a Address) toa() (byte, error) {
	if a.TON > 0x07 || a.NPI > 0x0F {
		return 0, fmt.Errorf("%w: TON %d / NPI %d out of range", ErrInvalid, a.TON, a.NPI)
	}
	return 0x80 | byte(a.TON)<<4 | byte(a.NPI), nil
}

// appendAddress appends a as an address field (TS 23.040 §9.1.2.5).
func appendAddress(dst []byte, a Address) ([]byte, error) {
	toa, err := a.toa()
	if err != nil {
		return dst, err
	}
	if a.TON == TONAlphanumeric {
		septets, err := EncodeGSM7(a.Number)
		if err != nil {
			return dst, err
		}
		if len(septets) > maxAlphanumericSeptets {
			return dst, fmt.Errorf("%w: alphanumeric address of %d septets, at most %d", ErrTooLong, len(septets), maxAlphanumericSeptets)
		}
		l := (len(septets)*7 + 3) / 4
		dst = append(dst, byte(l), toa)
		packed := make([]byte, (l+1)/2)
		packSeptets(packed, 0, septets)
		return append(dst, packed...), nil
	}
	if len(a.Number) > maxAddressDigits {
		return dst, fmt.Errorf("%w: %d digits, at most %d", ErrTooLong, len(a.Number), maxAddressDigits)
	}
	return appendBCD(append(dst, byte(len(a.Number)), toa), a.Number)
}

// AppendAddress appends a as a bare TS 23.040 §9.1.2.5 address field
// (Address-Length, Type-of-Address, BCD or packed-GSM 7-bit digits), as it
// appears inside a TPDU and in the UICC's data_rcv records.
func AppendAddress(dst []byte, a Address) ([]byte, error) {
	return appendAddress(dst, a)
}

// DecodeAddress decodes b, which must hold exactly one TS 23.040 §9.1.2.5
// address field. The result does not alias b.
func DecodeAddress(b []byte) (Address, error) {
	r := &reader{b: b}
	a, err := decodeAddress(r, "address")
	if err != nil {
		return Address{}, err
	}
	if r.off != len(b) {
		return Address{}, r.fail("address", r.off, fmt.Errorf("%w: %d", ErrTrailingBytes, len(b)-r.off))
	}
	return a, nil
}
