package atpdu

import "fmt"

// First-octet bits shared by the TPDUs (TS 23.040 §9.2.3.1–.5, .17, .23,
// .26, .28).
const (
	bitMTI  = 0x03 // TP-MTI, b1b0
	bitMMS  = 0x04 // TP-MMS (DELIVER, STATUS-REPORT) / TP-RD (SUBMIT)
	bitLP   = 0x08 // TP-LP (DELIVER, STATUS-REPORT)
	bitVPF  = 0x18 // TP-VPF (SUBMIT), b4b3
	bitSR   = 0x20 // TP-SRI (DELIVER) / TP-SRR (SUBMIT) / TP-SRQ (STATUS-REPORT)
	bitUDHI = 0x40 // TP-UDHI
	bitRP   = 0x80 // TP-RP (DELIVER, SUBMIT)
)

// Type is the message type of a TPDU as this package decodes it.
type Type uint8

// TP-MTI values (TS 23.040 §9.2.3.1) as seen by a modem's host: received
// messages are SMS-DELIVER or SMS-STATUS-REPORT, sent or stored-unsent ones
// SMS-SUBMIT. MTI 11 is reserved; §9.2.3.1 says to process it as an
// SMS-DELIVER, so TypeOf reports TypeDeliver.
const (
	TypeDeliver      Type = 0b00
	TypeSubmit       Type = 0b01
	TypeStatusReport Type = 0b10
)

// String returns "SMS-DELIVER", "SMS-SUBMIT" or "SMS-STATUS-REPORT".
func (t Type) String() string {
	switch t {
	case TypeDeliver:
		return "SMS-DELIVER"
	case TypeSubmit:
		return "SMS-SUBMIT"
	case TypeStatusReport:
		return "SMS-STATUS-REPORT"
	default:
		return fmt.Sprintf("type(%d)", uint8(t))
	}
}

// TypeOf returns the message type named by the first octet of tpdu.
func TypeOf(tpdu []byte) (Type, error) {
	if len(tpdu) == 0 {
		return 0, &DecodeError{Field: "TP-MTI", Offset: 0, Err: ErrTruncated}
	}
	t := Type(tpdu[0] & bitMTI)
	if t == 0b11 {
		return TypeDeliver, nil
	}
	return t, nil
}

// firstOctet reads the first octet and checks TP-MTI.
func firstOctet(r *reader, want Type) (byte, error) {
	fo, err := r.u8("TP-MTI")
	if err != nil {
		return 0, err
	}
	got := Type(fo & bitMTI)
	if got == 0b11 && want == TypeDeliver {
		return fo, nil // reserved MTI: process as SMS-DELIVER (§9.2.3.1)
	}
	if got != want {
		return 0, r.fail("TP-MTI", 0, fmt.Errorf("%w: %s, want %s", ErrWrongType, got, want))
	}
	return fo, nil
}

func flag(fo, bit byte) bool { return fo&bit != 0 }

func setIf(b bool, bit byte) byte {
	if b {
		return bit
	}
	return 0
}
