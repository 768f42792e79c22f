package securedpacket

import (
	"encoding/binary"
	"fmt"
)

// User data of a secured-packet SMS (TS 23.040 §9.2.3.24; TS 31.115 §4;
// secured-packet.md §1 and §8):
//
//	+------+-----+------+-----+ ... +----------------------------+
//	| UDHL | IEI | IEDL | IED | ... | command / response packet  |
//	+------+-----+------+-----+ ... +----------------------------+
//
// A single SMS carries 02 70 00 (CPI) or 02 71 00 (RPI). A concatenated
// command packet carries 07 00 03 ref total 01 70 00 in its first part and
// 05 00 03 ref total seq in the others; CPL describes the whole packet.

// Information element identifiers used here (TS 23.040 §9.2.3.24).
const (
	IEIConcat8  = 0x00 // concatenated SM, 8-bit reference (§9.2.3.24.1)
	IEIConcat16 = 0x08 // concatenated SM, 16-bit reference (§9.2.3.24.8)
	IEICommand  = 0x70 // Command Packet Identifier (§9.2.3.24.7; TS 31.115)
	IEIResponse = 0x71 // Response Packet Identifier
)

// MaxUserData is the TP-UD capacity of one 8-bit SMS (TS 23.040 §9.2.3.24).
const MaxUserData = 140

// IE is one user data header information element.
type IE struct {
	ID   byte
	Data []byte
}

// UserData is an SMS user data split into its header's information
// elements and the rest. Unknown IEs are kept so that Append reproduces the
// input.
type UserData struct {
	IEs     []IE
	Payload []byte
}

// Kind says which secured packet a user data header announces.
type Kind uint8

// Kinds.
const (
	KindNone     Kind = iota // neither CPI nor RPI (a later concatenated part)
	KindCommand              // CPI 0x70
	KindResponse             // RPI 0x71
)

// Concat is a concatenation information element.
type Concat struct {
	Ref   uint16 // reference number (8 or 16 bits)
	Total uint8  // number of parts
	Seq   uint8  // this part, from 1
	Wide  bool   // 16-bit reference (IEI 0x08)
}

// DecodeUserData splits ud (which must start with a UDHL, TP-UDHI being
// set, or assumed for a PoR in a DELIVER-REPORT, 03.48 §6.1) into IEs and
// payload. The result does not alias ud.
func DecodeUserData(ud []byte) (UserData, error) {
	var u UserData
	if len(ud) < 1 {
		return u, decodeErr("UDHL", 0, ErrTruncated)
	}
	udhl := int(ud[0])
	if len(ud) < 1+udhl {
		return u, decodeErr("UDH", len(ud), ErrTruncated)
	}
	for off := 1; off < 1+udhl; {
		if off+2 > 1+udhl {
			return UserData{}, decodeErr("IEDL", off, ErrLength)
		}
		id, n := ud[off], int(ud[off+1])
		if off+2+n > 1+udhl {
			return UserData{}, decodeErr("IED", off+2, ErrLength)
		}
		data := ud[off+2 : off+2+n]
		if err := checkIE(id, len(data)); err != nil {
			return UserData{}, decodeErr(fmt.Sprintf("IE %02x", id), off, err)
		}
		u.IEs = append(u.IEs, IE{ID: id, Data: append([]byte{}, data...)})
		off += 2 + n
	}
	u.Payload = append([]byte{}, ud[1+udhl:]...)
	return u, nil
}

func checkIE(id byte, n int) error {
	want := -1
	switch id {
	case IEIConcat8:
		want = 3
	case IEIConcat16:
		want = 4
	case IEICommand, IEIResponse:
		want = 0
	}
	if want >= 0 && n != want {
		return ErrLength
	}
	return nil
}

// Append encodes the user data.
func (u UserData) Append(dst []byte) ([]byte, error) {
	udhl := 0
	for _, ie := range u.IEs {
		if err := checkIE(ie.ID, len(ie.Data)); err != nil || len(ie.Data) > 0xFF {
			return nil, fmt.Errorf("securedpacket: IE %02x of %d octets: %w", ie.ID, len(ie.Data), ErrLength)
		}
		udhl += 2 + len(ie.Data)
	}
	if udhl > 0xFF {
		return nil, fmt.Errorf("securedpacket: user data header of %d octets: %w", udhl, ErrTooLong)
	}
	dst = append(dst, byte(udhl))
	for _, ie := range u.IEs {
		dst = append(dst, ie.ID, byte(len(ie.Data)))
		dst = append(dst, ie.Data...)
	}
	return append(dst, u.Payload...), nil
}

// Kind reports the packet identifier in the header.
func (u UserData) Kind() Kind {
	for _, ie := range u.IEs {
		switch ie.ID {
		case IEICommand:
			return KindCommand
		case IEIResponse:
			return KindResponse
		}
	}
	return KindNone
}

// Concat returns the concatenation IE, if any.
func (u UserData) Concat() (Concat, bool) {
	for _, ie := range u.IEs {
		switch ie.ID {
		case IEIConcat8:
			return Concat{Ref: uint16(ie.Data[0]), Total: ie.Data[1], Seq: ie.Data[2]}, true
		case IEIConcat16:
			return Concat{Ref: binary.BigEndian.Uint16(ie.Data), Total: ie.Data[2], Seq: ie.Data[3], Wide: true}, true
		}
	}
	return Concat{}, false
}

// AppendCommandUserData appends the single-SMS user data of a command
// packet: 02 70 00 ‖ pkt.
func AppendCommandUserData(dst, pkt []byte) []byte {
	return append(append(dst, 0x02, IEICommand, 0x00), pkt...)
}

// AppendResponseUserData appends the user data of a response packet:
// 02 71 00 ‖ pkt.
func AppendResponseUserData(dst, pkt []byte) []byte {
	return append(append(dst, porUDH[:]...), pkt...)
}

// SplitCommand returns the SMS user data (UDH included) carrying the
// command packet pkt: one user data when it fits MaxUserData, else parts
// with an 8-bit concatenation IE referenced ref, the CPI in the first part
// only (secured-packet.md §8; TS 31.115 §4.4).
func SplitCommand(pkt []byte, ref uint8) ([][]byte, error) {
	if 3+len(pkt) <= MaxUserData {
		return [][]byte{AppendCommandUserData(nil, pkt)}, nil
	}
	const firstHdr, nextHdr = 8, 6 // 07 00 03 r t s 70 00 / 05 00 03 r t s
	first, next := MaxUserData-firstHdr, MaxUserData-nextHdr
	total := 1 + (len(pkt)-first+next-1)/next
	if total > 255 {
		return nil, fmt.Errorf("securedpacket: command packet of %d octets needs %d SMS: %w", len(pkt), total, ErrTooLong)
	}
	parts := make([][]byte, 0, total)
	for seq, off := 1, 0; off < len(pkt); seq++ {
		n := next
		if seq == 1 {
			n = first
		}
		n = min(n, len(pkt)-off)
		var ud []byte
		if seq == 1 {
			ud = append(ud, 0x07, IEIConcat8, 0x03, ref, byte(total), 1, IEICommand, 0x00)
		} else {
			ud = append(ud, 0x05, IEIConcat8, 0x03, ref, byte(total), byte(seq))
		}
		parts = append(parts, append(ud, pkt[off:off+n]...))
		off += n
	}
	return parts, nil
}

// Assembler reassembles concatenated command packets received part by part
// (each part reaches the UICC in its own ENVELOPE). It is pure state, not
// safe for concurrent use; the caller owns it. The zero value keeps
// DefaultPending incomplete packets.
type Assembler struct {
	// Max is the number of incomplete packets kept; the oldest is dropped
	// when a new one would exceed it. 0 means DefaultPending.
	Max int

	pending []*partial // oldest first
}

// DefaultPending is the Assembler's default number of incomplete packets.
const DefaultPending = 8

type partial struct {
	source string
	ref    uint16
	total  uint8
	parts  [][]byte // index seq-1; nil until received
	have   int
}

// Add takes the user data of one SMS from source (the originating address)
// and returns the complete command packet when u completes one: directly
// for an unconcatenated command packet, after the last missing part for a
// concatenated one. Duplicated parts are ignored.
func (a *Assembler) Add(source string, u UserData) (pkt []byte, complete bool, err error) {
	c, ok := u.Concat()
	if !ok {
		if u.Kind() != KindCommand {
			return nil, false, fmt.Errorf("securedpacket: user data: %w", ErrNotSecuredPacket)
		}
		return append([]byte(nil), u.Payload...), true, nil
	}
	if c.Total == 0 || c.Seq == 0 || c.Seq > c.Total {
		return nil, false, fmt.Errorf("securedpacket: concatenated part %d of %d: %w", c.Seq, c.Total, ErrLength)
	}
	if c.Seq == 1 && u.Kind() != KindCommand {
		return nil, false, fmt.Errorf("securedpacket: first concatenated part: %w", ErrNotSecuredPacket)
	}
	p := a.find(source, c)
	if p.parts[c.Seq-1] == nil {
		p.parts[c.Seq-1] = append([]byte{}, u.Payload...)
		p.have++
	}
	if p.have < int(p.total) {
		return nil, false, nil
	}
	a.remove(p)
	n := 0
	for _, part := range p.parts {
		n += len(part)
	}
	pkt = make([]byte, 0, n)
	for _, part := range p.parts {
		pkt = append(pkt, part...)
	}
	return pkt, true, nil
}

// Pending is the number of incomplete packets held.
func (a *Assembler) Pending() int { return len(a.pending) }

func (a *Assembler) find(source string, c Concat) *partial {
	for _, p := range a.pending {
		if p.source == source && p.ref == c.Ref {
			if p.total == c.Total {
				return p
			}
			a.remove(p) // a new packet reusing the reference
			break
		}
	}
	limit := a.Max
	if limit <= 0 {
		limit = DefaultPending
	}
	for len(a.pending) >= limit {
		a.pending = a.pending[1:]
	}
	p := &partial{source: source, ref: c.Ref, total: c.Total, parts: make([][]byte, c.Total)}
	a.pending = append(a.pending, p)
	return p
}

func (a *Assembler) remove(p *partial) {
	for i, q := range a.pending {
		if q == p {
			a.pending = append(a.pending[:i:i], a.pending[i+1:]...)
			return
		}
	}
}
