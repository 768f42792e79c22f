package uicc

import "fmt"

// StatusWord is SW1 SW2 of a response APDU (ISO/IEC 7816-4 §5.1.3; TS 102 221
// §10.2; table in secured-packet.md §10.2).
type StatusWord uint16

// Status words the client branches on.
const (
	SWOK              StatusWord = 0x9000 // normal ending
	SWNotFound        StatusWord = 0x6A88 // referenced data not found: GET DATA "nothing pending" (PROJECT DEFAULT)
	SWFileNotFound    StatusWord = 0x6A82 // file or application not found (wrong AID)
	SWWrongLength     StatusWord = 0x6700
	SWSecurityStatus  StatusWord = 0x6982
	SWConditions      StatusWord = 0x6985
	SWIncorrectData   StatusWord = 0x6A80
	SWIncorrectP1P2   StatusWord = 0x6A86
	SWWrongP1P2       StatusWord = 0x6B00
	SWINSNotSupported StatusWord = 0x6D00
	SWCLANotSupported StatusWord = 0x6E00
	SWNoDiagnosis     StatusWord = 0x6F00
	SWChannelRefused  StatusWord = 0x6881 // logical channel not supported
	SWToolkitBusy     StatusWord = 0x9300
	SWMemory          StatusWord = 0x6581
	SWNotEnoughMemory StatusWord = 0x6A84
)

// SW1 is the first status octet.
func (s StatusWord) SW1() byte { return byte(s >> 8) }

// SW2 is the second status octet.
func (s StatusWord) SW2() byte { return byte(s) }

// OK reports normal ending: 9000, or 91xx / 92xx which also end normally
// (TS 102 221 §10.2.1.1).
func (s StatusWord) OK() bool {
	return s == SWOK || s.SW1() == 0x91 || s.SW1() == 0x92
}

// ProactivePending reports 91xx: a proactive command of xx octets waits for
// FETCH (TS 102 221 §10.2.1.1).
func (s StatusWord) ProactivePending() (n int, ok bool) {
	if s.SW1() != 0x91 {
		return 0, false
	}
	return lenOf(s.SW2()), true
}

// ResponseAvailable reports 61xx (or 9Fxx of GSM SIMs): xx octets wait for
// GET RESPONSE (T=0, ISO/IEC 7816-4 §5.1.3; TS 51.011 §9.4.1).
func (s StatusWord) ResponseAvailable() (n int, ok bool) {
	if s.SW1() != 0x61 && s.SW1() != 0x9F {
		return 0, false
	}
	return lenOf(s.SW2()), true
}

// WrongLe reports 6Cxx: the command must be re-issued with Le = xx.
func (s StatusWord) WrongLe() (n int, ok bool) {
	if s.SW1() != 0x6C {
		return 0, false
	}
	return lenOf(s.SW2()), true
}

// lenOf reads a short length octet: 00 means 256.
func lenOf(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

// Meaning describes the status word in words.
func (s StatusWord) Meaning() string {
	if m, ok := swText[s]; ok {
		return m
	}
	sw1, sw2 := s.SW1(), s.SW2()
	switch sw1 {
	case 0x61:
		return fmt.Sprintf("%d response octets available", lenOf(sw2))
	case 0x6C:
		return fmt.Sprintf("wrong Le, %d octets available", lenOf(sw2))
	case 0x91:
		return fmt.Sprintf("normal ending, proactive command of %d octets pending", lenOf(sw2))
	case 0x92:
		return "normal ending, data transfer session information"
	case 0x9F:
		return fmt.Sprintf("%d response octets available (GSM SIM)", lenOf(sw2))
	case 0x62:
		return "warning, non-volatile memory unchanged"
	case 0x63:
		if sw2&0xF0 == 0xC0 {
			return fmt.Sprintf("verification failed, %d retries left", sw2&0x0F)
		}
		return "warning, non-volatile memory changed"
	case 0x64:
		return "execution error, memory unchanged"
	case 0x65:
		return "execution error, memory changed"
	case 0x67:
		return "wrong length"
	case 0x68:
		return "function in CLA not supported"
	case 0x69:
		return "command not allowed"
	case 0x6A, 0x6B:
		return "wrong parameters P1-P2"
	case 0x6D:
		return "instruction not supported"
	case 0x6E:
		return "class not supported"
	case 0x6F:
		return "technical problem, no precise diagnosis"
	}
	return "unknown status"
}

var swText = map[StatusWord]string{
	0x9000: "normal ending",
	0x9300: "SIM toolkit busy",
	0x6200: "warning, no information given",
	0x6281: "warning, part of returned data may be corrupted",
	0x6282: "warning, end of file reached before reading Le octets",
	0x6283: "warning, selected file invalidated",
	0x6284: "warning, selected file not in a valid state",
	0x62F1: "warning, more data available",
	0x62F2: "warning, more data available and proactive command pending",
	0x62F3: "warning, response data available",
	0x63F1: "warning, more data expected",
	0x63F2: "warning, more data expected and proactive command pending",
	0x6400: "execution error, no information given",
	0x6500: "execution error, memory changed",
	0x6581: "memory problem",
	0x6700: "wrong length",
	0x6881: "logical channel not supported",
	0x6882: "secure messaging not supported",
	0x6982: "security status not satisfied",
	0x6985: "conditions of use not satisfied",
	0x6986: "command not allowed, no EF selected",
	0x6A80: "incorrect parameters in the data field",
	0x6A81: "function not supported",
	0x6A82: "file or application not found",
	0x6A84: "not enough memory space",
	0x6A86: "incorrect parameters P1 to P2",
	0x6A88: "referenced data not found",
	0x6B00: "wrong parameters P1-P2",
	0x6D00: "instruction code not supported",
	0x6E00: "class not supported",
	0x6F00: "technical problem, no precise diagnosis",
}

// String gives "6a88 (referenced data not found)".
func (s StatusWord) String() string {
	return fmt.Sprintf("%04x (%s)", uint16(s), s.Meaning())
}
