package uicc

import (
	"encoding/binary"
	"fmt"
)

// Command APDU, short length fields only (ISO/IEC 7816-4 §5.1, §5.2):
//
//	case 1: CLA INS P1 P2
//	case 2: CLA INS P1 P2 Le
//	case 3: CLA INS P1 P2 Lc data
//	case 4: CLA INS P1 P2 Lc data Le
//
// Lc is 1..255; Le 00 means 256.

// Command is a command APDU.
type Command struct {
	CLA, INS, P1, P2 byte
	// Data is the command data field (Lc = len(Data), at most 255).
	Data []byte
	// Ne is the number of response octets expected: 0 = no Le field,
	// 1..256 (256 is coded 00).
	Ne int
}

// Case is the ISO/IEC 7816-4 case of the command (1–4).
func (c Command) Case() int {
	switch {
	case len(c.Data) == 0 && c.Ne == 0:
		return 1
	case len(c.Data) == 0:
		return 2
	case c.Ne == 0:
		return 3
	}
	return 4
}

// Append encodes the command.
func (c Command) Append(dst []byte) ([]byte, error) {
	if len(c.Data) > 255 {
		return nil, fmt.Errorf("uicc: command data of %d octets: %w", len(c.Data), ErrLength)
	}
	if c.Ne < 0 || c.Ne > 256 {
		return nil, fmt.Errorf("uicc: Ne %d: %w", c.Ne, ErrLength)
	}
	dst = append(dst, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		dst = append(dst, byte(len(c.Data)))
		dst = append(dst, c.Data...)
	}
	if c.Ne > 0 {
		dst = append(dst, byte(c.Ne)) // 256 → 00
	}
	return dst, nil
}

// DecodeCommand decodes a short command APDU. The case follows from the
// length: 4 octets case 1, 5 case 2, 5+Lc case 3, 6+Lc case 4.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, decodeErr("header", len(b), ErrTruncated)
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	switch {
	case len(b) == 4:
		return c, nil
	case len(b) == 5:
		c.Ne = lenOf(b[4])
		return c, nil
	}
	lc := int(b[4])
	if lc == 0 {
		// Extended length (00 Lc1 Lc2) is not a short APDU.
		return Command{}, decodeErr("Lc", 4, ErrLength)
	}
	switch len(b) {
	case 5 + lc:
	case 6 + lc:
		c.Ne = lenOf(b[5+lc])
	default:
		if len(b) < 5+lc {
			return Command{}, decodeErr("data", len(b), ErrTruncated)
		}
		return Command{}, decodeErr("Lc", 4, ErrLength)
	}
	c.Data = append([]byte(nil), b[5:5+lc]...)
	return c, nil
}

// Response is a response APDU: data ‖ SW1 SW2.
type Response struct {
	Data []byte
	SW   StatusWord
}

// DecodeResponse splits a response APDU. The data does not alias b.
func DecodeResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, decodeErr("SW1 SW2", len(b), ErrTruncated)
	}
	n := len(b) - 2
	return Response{Data: append([]byte(nil), b[:n]...), SW: StatusWord(binary.BigEndian.Uint16(b[n:]))}, nil
}

// Append encodes the response APDU.
func (r Response) Append(dst []byte) []byte {
	dst = append(dst, r.Data...)
	return binary.BigEndian.AppendUint16(dst, uint16(r.SW))
}

// Instruction codes used here (TS 102 221 §10.1.2, GP Card Spec v2.3 §11).
const (
	InsSelect           = 0xA4
	InsManageChannel    = 0x70
	InsGetResponse      = 0xC0
	InsGetData          = 0xCA
	InsStoreData        = 0xE2
	InsEnvelope         = 0xC2
	InsFetch            = 0x12
	InsTerminalResponse = 0x14
	InsTerminalProfile  = 0x10
	InsStatus           = 0xF2
)

// Class bytes.
const (
	ClaISO = 0x00 // interindustry (TS 102 221 §10.1.1)
	ClaGP  = 0x80 // proprietary: toolkit, GlobalPlatform
)

// WithChannel returns cla with the logical channel number ch coded
// (TS 102 221 §10.1.1, ISO/IEC 7816-4 §5.1.1): channels 0–3 in b2 b1 of a
// first-interindustry (0x0X) or proprietary (0x8X, 0xAX) class, channels
// 4–19 as 0x40+(ch−4) (interindustry) or 0xC0+(ch−4) (proprietary).
func WithChannel(cla byte, ch int) (byte, error) {
	if ch < 0 || ch > 19 {
		return 0, fmt.Errorf("uicc: logical channel %d: %w", ch, ErrLength)
	}
	proprietary := cla&0x80 != 0
	if ch < 4 {
		if cla&0x40 != 0 { // a further-interindustry class back to first
			if proprietary {
				return 0x80 | byte(ch), nil
			}
			return byte(ch), nil
		}
		return cla&^0x03 | byte(ch), nil
	}
	if proprietary {
		return 0xC0 | byte(ch-4), nil
	}
	return 0x40 | byte(ch-4), nil
}

// ChannelOf returns the logical channel number coded in cla.
func ChannelOf(cla byte) int {
	if cla&0x40 != 0 {
		return 4 + int(cla&0x0F)
	}
	return int(cla & 0x03)
}
