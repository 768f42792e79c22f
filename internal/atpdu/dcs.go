package atpdu

import "fmt"

// DCS is the TP-Data-Coding-Scheme octet, TS 23.040 §9.2.3.10, coded as in
// TS 23.038 §4:
//
//	b7..b4 = 00xx  general data coding: b5 compressed, b4 class meaningful,
//	               b3b2 alphabet (00 GSM 7-bit, 01 8-bit, 10 UCS2,
//	               11 reserved), b1b0 message class
//	b7..b4 = 01xx  the same, message marked for automatic deletion
//	b7..b4 = 1000–1011  reserved
//	b7..b4 = 1100, 1101, 1110  message waiting indication (GSM 7-bit,
//	               GSM 7-bit, UCS2)
//	b7..b4 = 1111  data coding / message class: b3 reserved, b2 alphabet
//	               (0 GSM 7-bit, 1 8-bit), b1b0 message class
//
// TS 23.038 §4: a receiver treats any reserved coding as the GSM 7-bit
// default alphabet; Coding does exactly that.
type DCS byte

// Coding is the alphabet of the user data.
type Coding uint8

// Alphabets, TS 23.038 §4.
const (
	CodingGSM7 Coding = iota // GSM 7-bit default alphabet, UDL in septets
	Coding8Bit               // 8-bit data, UDL in octets
	CodingUCS2               // UCS2, UDL in octets
)

// String returns "gsm7", "8bit" or "ucs2" (the CLI's JSON coding values).
func (c Coding) String() string {
	switch c {
	case CodingGSM7:
		return "gsm7"
	case Coding8Bit:
		return "8bit"
	case CodingUCS2:
		return "ucs2"
	default:
		return fmt.Sprintf("coding(%d)", uint8(c))
	}
}

// MessageClass is the message class of TS 23.038 §4, or ClassNone.
type MessageClass int8

// Message classes, TS 23.038 §4.
const (
	ClassNone MessageClass = -1
	Class0    MessageClass = 0 // flash: displayed, not stored
	Class1    MessageClass = 1 // ME-specific
	Class2    MessageClass = 2 // (U)SIM-specific
	Class3    MessageClass = 3 // TE-specific
)

// NewDCS returns the DCS for an alphabet and a class. Without a class it
// uses the general data coding group (0x00, 0x04, 0x08); with a class, the
// data coding/message class group for GSM 7-bit and 8-bit (0xF0–0xF7, e.g.
// 0xF6 for 8-bit class 2 as TS 31.111 SMS-PP data download uses it) and the
// general group with b4 set for UCS2 (0x18–0x1B).
func NewDCS(c Coding, class MessageClass) (DCS, error) {
	if class < ClassNone || class > Class3 {
		return 0, fmt.Errorf("atpdu: DCS: message class %d: %w", class, ErrInvalid)
	}
	var alpha byte
	switch c {
	case CodingGSM7:
	case Coding8Bit:
		alpha = 0b01
	case CodingUCS2:
		alpha = 0b10
	default:
		return 0, fmt.Errorf("atpdu: DCS: coding %d: %w", c, ErrInvalid)
	}
	switch {
	case class == ClassNone:
		return DCS(alpha << 2), nil
	case c == CodingUCS2:
		return DCS(0x10 | alpha<<2 | byte(class)), nil
	default:
		return DCS(0xF0 | alpha<<2 | byte(class)), nil
	}
}

// group returns the coding group, b7..b4.
func (d DCS) group() byte { return byte(d) >> 4 }

// general reports whether d is in the general data coding groups 00xx/01xx.
func (d DCS) general() bool { return d.group() < 0b1000 }

// Coding returns the alphabet; reserved codings read as CodingGSM7
// (TS 23.038 §4).
func (d DCS) Coding() Coding {
	switch g := d.group(); {
	case d.general():
		switch (byte(d) >> 2) & 0b11 {
		case 0b01:
			return Coding8Bit
		case 0b10:
			return CodingUCS2
		}
		return CodingGSM7
	case g == 0b1110:
		return CodingUCS2
	case g == 0b1111:
		if byte(d)&0x04 != 0 {
			return Coding8Bit
		}
	}
	return CodingGSM7
}

// Class returns the message class, or ClassNone when d carries none.
func (d DCS) Class() MessageClass {
	switch {
	case d.general() && byte(d)&0x10 != 0, d.group() == 0b1111:
		return MessageClass(byte(d) & 0b11)
	}
	return ClassNone
}

// Compressed reports the compression flag of the general data coding group.
func (d DCS) Compressed() bool { return d.general() && byte(d)&0x20 != 0 }

// AutoDelete reports the "marked for automatic deletion" group 01xx.
func (d DCS) AutoDelete() bool { return d.group()&0b1100 == 0b0100 }

// check refuses what this package cannot represent faithfully.
func (d DCS) check() error {
	if d.Compressed() {
		return fmt.Errorf("%w (DCS 0x%02X)", ErrCompressed, byte(d))
	}
	return nil
}
