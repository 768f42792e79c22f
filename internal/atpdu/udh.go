package atpdu

import (
	"encoding/binary"
	"fmt"
)

// Information element identifiers, TS 23.040 §9.2.3.24 table.
const (
	IEIConcat8         byte = 0x00 // concatenated SM, 8-bit reference, §9.2.3.24.1
	IEISpecialSMS      byte = 0x01 // special SMS message indication, §9.2.3.24.2
	IEIPorts8          byte = 0x04 // application port addressing, 8-bit, §9.2.3.24.3
	IEIPorts16         byte = 0x05 // application port addressing, 16-bit, §9.2.3.24.4
	IEISMSCControl     byte = 0x06 // SMSC control parameters, §9.2.3.24.5
	IEISourceIndicator byte = 0x07 // UDH source indicator, §9.2.3.24.6
	IEIConcat16        byte = 0x08 // concatenated SM, 16-bit reference, §9.2.3.24.8
	// IEICommandPacket: (U)SIM toolkit security header, command packet
	// identifier, no data (§9.2.3.24.7; TS 31.115 §4).
	IEICommandPacket byte = 0x70
	// IEIResponsePacket: response packet identifier, no data (§9.2.3.24.7).
	IEIResponsePacket byte = 0x71
)

// Maximum user data, TS 23.040 §9.2.3.24 and §9.2.3.16.
const (
	MaxUDOctets  = 140
	MaxUDSeptets = 160
)

// IE is one information element of a user data header, kept byte for byte
// (TS 23.040 §9.2.3.24: IEI, IEDL, IED).
type IE struct {
	IEI  byte
	Data []byte // IED, 0–255 octets
}

// UDH is a user data header: its information elements in wire order,
// including unknown ones. Known elements of the wrong length are kept too;
// the accessors ignore them as §9.2.3.24 tells a receiver to.
//
//	UDHL | IEI a | IEDL a | IED a | … | IEI n | IEDL n | IED n
//	UDHL counts the octets after itself.
type UDH []IE

// Len returns the octets the header occupies in TP-UD, UDHL included; 0 for
// an empty header.
func (h UDH) Len() int {
	if len(h) == 0 {
		return 0
	}
	n := 1
	for _, ie := range h {
		n += 2 + len(ie.Data)
	}
	return n
}

// Find returns the first element with the identifier iei.
func (h UDH) Find(iei byte) (IE, bool) {
	for _, ie := range h {
		if ie.IEI == iei {
			return ie, true
		}
	}
	return IE{}, false
}

// Concat returns the first well-formed concatenation element (8- or 16-bit
// reference, §9.2.3.24.1 / .8): reference, total parts and this part's
// 1-based sequence number.
func (h UDH) Concat() (ref uint16, total, seq byte, ok bool) {
	for _, ie := range h {
		switch {
		case ie.IEI == IEIConcat8 && len(ie.Data) == 3:
			return uint16(ie.Data[0]), ie.Data[1], ie.Data[2], true
		case ie.IEI == IEIConcat16 && len(ie.Data) == 4:
			return binary.BigEndian.Uint16(ie.Data), ie.Data[2], ie.Data[3], true
		}
	}
	return 0, 0, 0, false
}

// Ports returns the first well-formed application port element (8- or
// 16-bit, §9.2.3.24.3 / .4): destination and originator port.
func (h UDH) Ports() (dst, src uint16, ok bool) {
	for _, ie := range h {
		switch {
		case ie.IEI == IEIPorts8 && len(ie.Data) == 2:
			return uint16(ie.Data[0]), uint16(ie.Data[1]), true
		case ie.IEI == IEIPorts16 && len(ie.Data) == 4:
			return binary.BigEndian.Uint16(ie.Data), binary.BigEndian.Uint16(ie.Data[2:]), true
		}
	}
	return 0, 0, false
}

// Concat8IE returns a concatenation element with an 8-bit reference.
func Concat8IE(ref, total, seq byte) IE {
	return IE{IEI: IEIConcat8, Data: []byte{ref, total, seq}}
}

// Concat16IE returns a concatenation element with a 16-bit reference.
func Concat16IE(ref uint16, total, seq byte) IE {
	return IE{IEI: IEIConcat16, Data: []byte{byte(ref >> 8), byte(ref), total, seq}}
}

// Ports8IE returns an 8-bit application port addressing element.
func Ports8IE(dst, src byte) IE { return IE{IEI: IEIPorts8, Data: []byte{dst, src}} }

// Ports16IE returns a 16-bit application port addressing element.
func Ports16IE(dst, src uint16) IE {
	return IE{IEI: IEIPorts16, Data: []byte{byte(dst >> 8), byte(dst), byte(src >> 8), byte(src)}}
}

// CommandPacketIE returns the Command Packet Identifier element (IEI 0x70,
// no data) that starts a TS 31.115 secured command packet.
func CommandPacketIE() IE { return IE{IEI: IEICommandPacket} }

// ResponsePacketIE returns the Response Packet Identifier element (IEI 0x71,
// no data).
func ResponsePacketIE() IE { return IE{IEI: IEIResponsePacket} }

// PayloadOctets returns how many octets of 8-bit or UCS2 user data fit in
// one SMS after the header h: 140 − h.Len() (134 after a concatenation
// element, 133 after its 16-bit form).
func PayloadOctets(h UDH) int { return MaxUDOctets - h.Len() }

// PayloadSeptets returns how many GSM 7-bit septets fit in one SMS after the
// header h, which is padded to a septet boundary (TS 23.040 §9.2.3.24):
// 160 − ⌈8·h.Len()/7⌉ (153 after a concatenation element).
func PayloadSeptets(h UDH) int { return MaxUDSeptets - septetsFor(h.Len()) }

// decodeUDH parses the octets after UDHL; at is their offset for errors.
func decodeUDH(b []byte, at int) (UDH, error) {
	var h UDH
	for i := 0; i < len(b); {
		if len(b)-i < 2 {
			return nil, &DecodeError{Field: "TP-UDH", Offset: at + i, Err: fmt.Errorf("%w: information element header", ErrTruncated)}
		}
		iei, n := b[i], int(b[i+1])
		if len(b)-i-2 < n {
			return nil, &DecodeError{Field: "TP-UDH", Offset: at + i, Err: fmt.Errorf("%w: IEI 0x%02X needs %d octets, UDHL leaves %d", ErrTruncated, iei, n, len(b)-i-2)}
		}
		var data []byte
		if n > 0 {
			data = append([]byte(nil), b[i+2:i+2+n]...)
		}
		h = append(h, IE{IEI: iei, Data: data})
		i += 2 + n
	}
	return h, nil
}

// appendUDH appends UDHL and the elements.
func appendUDH(dst []byte, h UDH) ([]byte, error) {
	n := h.Len() - 1
	if n < 0 {
		n = 0
	}
	if n > MaxUDOctets-1 {
		return dst, fmt.Errorf("%w: header of %d octets", ErrTooLong, n+1)
	}
	dst = append(dst, byte(n))
	for _, ie := range h {
		if len(ie.Data) > 255 {
			return dst, fmt.Errorf("%w: IEI 0x%02X with %d octets", ErrTooLong, ie.IEI, len(ie.Data))
		}
		dst = append(dst, ie.IEI, byte(len(ie.Data)))
		dst = append(dst, ie.Data...)
	}
	return dst, nil
}
