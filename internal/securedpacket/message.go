package securedpacket

import (
	"errors"
	"fmt"
)

// Secured data of LwM2M mode 2 (LwM2M-TS 1.0 §7.2.2.2.3): "the Secured
// Application Message which MUST be coded as a BER-TLV, the Tag (TBD: e.g.
// 0x05) will indicate the type (e.g. CoAP type)". PROJECT DEFAULT
// (secured-packet.md §9):
//
//	+------+------------------------------------+--------------+
//	| 0x05 | BER length (X.690 §8.1.3 definite) | CoAP message |
//	|      | 00–7F | 81 xx | 82 xx xx            |              |
//	+------+------------------------------------+--------------+

// CoAPTag is the BER-TLV tag of a CoAP message in the secured data (PROJECT
// DEFAULT; the seed's "TBD e.g. 0x05").
const CoAPTag = 0x05

// ErrNotCoAP: the secured data is not a CoAP BER-TLV.
var ErrNotCoAP = errors.New("secured data is not a CoAP BER-TLV")

// AppendCoAP appends the secured data carrying one CoAP message.
func AppendCoAP(dst, coap []byte) ([]byte, error) {
	n := len(coap)
	dst = append(dst, CoAPTag)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		return nil, fmt.Errorf("securedpacket: CoAP message of %d octets: %w", n, ErrTooLong)
	}
	return append(dst, coap...), nil
}

// DecodeCoAP returns the CoAP message of secured data. Only the minimal
// definite length form is accepted (X.690 §10.1, DER), and nothing may
// follow the TLV.
func DecodeCoAP(data []byte) ([]byte, error) {
	if len(data) < 2 {
		return nil, decodeErr("CoAP TLV", len(data), ErrTruncated)
	}
	if data[0] != CoAPTag {
		return nil, decodeErr("CoAP tag", 0, ErrNotCoAP)
	}
	n, off := int(data[1]), 2
	switch data[1] {
	case 0x81:
		if len(data) < 3 {
			return nil, decodeErr("CoAP length", len(data), ErrTruncated)
		}
		n, off = int(data[2]), 3
		if n < 0x80 {
			return nil, decodeErr("CoAP length", 1, ErrLength)
		}
	case 0x82:
		if len(data) < 4 {
			return nil, decodeErr("CoAP length", len(data), ErrTruncated)
		}
		n, off = int(data[2])<<8|int(data[3]), 4
		if n <= 0xFF {
			return nil, decodeErr("CoAP length", 1, ErrLength)
		}
	default:
		if n >= 0x80 {
			return nil, decodeErr("CoAP length", 1, ErrLength)
		}
	}
	if len(data) < off+n {
		return nil, decodeErr("CoAP message", len(data), ErrTruncated)
	}
	if len(data) > off+n {
		return nil, decodeErr("CoAP message", off+n, ErrLength)
	}
	return append([]byte{}, data[off:]...), nil
}
