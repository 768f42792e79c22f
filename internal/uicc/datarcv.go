package uicc

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// data_rcv (LwM2M-TS 1.0 §7.2.2.2.1; secured-packet.md §10), the GET DATA
// response of the LwM2M UICC application, and its mirror, the STORE DATA
// data field of §7.2.2.2.2:
//
//	+-----------------------------------+----------+--------+--------------+
//	| address (TS 23.040 §9.1.2.5)      | COAP_TAG | length | CoAP message |
//	| digits | TOA | BCD (2–12 octets)  | 1        | 2 (BE) | length       |
//	+-----------------------------------+----------+--------+--------------+
//
// The address is the TP-OA of the incoming SMS (GET DATA) or the TP-DA to
// send to (STORE DATA), coded as in the TPDU.

// DefaultCoAPTag is COAP_TAG ("TBD e.g. 0x05" in the seed; PROJECT DEFAULT,
// secured-packet.md §10; the same value as config.DefaultCoAPTag).
const DefaultCoAPTag = 0x05

// Address is a TS 23.040 §9.1.2.5 address field as in a TPDU: number of
// useful semi-octets, type of address, BCD digits.
type Address []byte

// maxAddressDigits is 20 semi-octets (12 octets with the length and TOA).
const maxAddressDigits = 20

// addressLen is the encoded length of the address field starting at b[0].
func addressLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, ErrTruncated
	}
	if int(b[0]) > maxAddressDigits {
		return 0, ErrLength
	}
	n := 2 + (int(b[0])+1)/2
	if len(b) < n {
		return 0, ErrTruncated
	}
	return n, nil
}

// String gives "+33600000003" for an international number, the digits for
// other numeric types, and "toa=XX:hex" for others (alphanumeric).
func (a Address) String() string {
	n, err := addressLen(a)
	if err != nil || n != len(a) {
		return fmt.Sprintf("invalid:%x", []byte(a))
	}
	toa := a[1]
	ton := toa >> 4 & 0x7
	if ton == 5 { // alphanumeric (TS 23.040 §9.1.2.5): not BCD
		return fmt.Sprintf("toa=%02x:%x", toa, []byte(a[2:]))
	}
	var sb strings.Builder
	if ton == 1 {
		sb.WriteByte('+')
	}
	const digits = "0123456789*#abc?"
	for i := 0; i < int(a[0]); i++ {
		o := a[2+i/2]
		if i%2 == 1 {
			o >>= 4
		}
		sb.WriteByte(digits[o&0x0F])
	}
	return sb.String()
}

// Record is one data_rcv entry.
type Record struct {
	Address Address // TP-OA (GET DATA) or TP-DA (STORE DATA)
	Message []byte  // the CoAP message
}

// AppendRecord encodes a record with the given COAP_TAG.
func AppendRecord(dst []byte, r Record, tag byte) ([]byte, error) {
	n, err := addressLen(r.Address)
	if err != nil || n != len(r.Address) {
		return nil, fmt.Errorf("uicc: data_rcv address %x: %w", []byte(r.Address), ErrLength)
	}
	if len(r.Message) > 0xFFFF {
		return nil, fmt.Errorf("uicc: CoAP message of %d octets: %w", len(r.Message), ErrLength)
	}
	dst = append(dst, r.Address...)
	dst = append(dst, tag)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Message)))
	return append(dst, r.Message...), nil
}

// DecodeRecord decodes exactly one record.
func DecodeRecord(b []byte, tag byte) (Record, error) {
	r, n, err := decodeRecordAt(b, 0, tag)
	if err != nil {
		return Record{}, err
	}
	if n != len(b) {
		return Record{}, decodeErr("CoAP message", n, ErrLength)
	}
	return r, nil
}

// DecodeDataRcv decodes a GET DATA response: zero or more records back to
// back. Empty input is no record. The result does not alias b.
func DecodeDataRcv(b []byte, tag byte) ([]Record, error) {
	var out []Record
	for off := 0; off < len(b); {
		r, next, err := decodeRecordAt(b, off, tag)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		off = next
	}
	return out, nil
}

func decodeRecordAt(b []byte, off int, tag byte) (Record, int, error) {
	n, err := addressLen(b[off:])
	if err != nil {
		return Record{}, 0, decodeErr("address", off, err)
	}
	r := Record{Address: append(Address{}, b[off:off+n]...)}
	off += n
	if off >= len(b) {
		return Record{}, 0, decodeErr("COAP_TAG", off, ErrTruncated)
	}
	if b[off] != tag {
		return Record{}, 0, decodeErr("COAP_TAG", off, ErrTag)
	}
	off++
	if off+2 > len(b) {
		return Record{}, 0, decodeErr("length", off, ErrTruncated)
	}
	l := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if off+l > len(b) {
		return Record{}, 0, decodeErr("CoAP message", len(b), ErrTruncated)
	}
	r.Message = append([]byte{}, b[off:off+l]...)
	return r, off + l, nil
}
