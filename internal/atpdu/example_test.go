package atpdu_test

import (
	"fmt"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// A +CMT / AT+CMGR PDU: split off the SMSC, decode, filter the sender.
func ExampleDecodeDeliver() {
	pdu := []byte{0x07, 0x91, 0x13, 0x26, 0x04, 0x00, 0x11, 0xF5, // SMSC +31624000115
		0x24, 0x0B, 0x91, 0x13, 0x26, 0x88, 0x07, 0x36, 0xF4, 0x00, 0x00, // FO, OA, PID, DCS
		0x11, 0x10, 0x81, 0x01, 0x73, 0x62, 0x40, // SCTS
		0x05, 0xE8, 0x32, 0x9B, 0xFD, 0x06} // "hello"
	smsc, tpdu, err := atpdu.SplitSMSC(pdu)
	if err != nil {
		panic(err)
	}
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		panic(err)
	}
	text, _ := d.Text()
	fmt.Println(smsc, d.OA, d.SCTS.Time().Format(time.RFC3339), text)
	fmt.Println(d.OA.SameMSISDN("0031628870634", ""))
	// Output:
	// +31624000115 +31628870634 2011-01-18T10:37:26+01:00 hello
	// true
}

// An LwM2M mode-1 SMS-SUBMIT: 8-bit, no class, validity of at least 90 s.
func ExampleSubmit_Append() {
	da, _ := atpdu.ParseAddress("+33612345678")
	vp, _ := atpdu.RelativeVP(90 * time.Second) // rounds up to 5 min
	dcs, _ := atpdu.NewDCS(atpdu.Coding8Bit, atpdu.ClassNone)
	s := atpdu.Submit{DA: da, DCS: dcs, VP: vp, UD: []byte{0x16, 0xFE, 0xFD}}
	pdu, _ := atpdu.AppendSMSC(nil, atpdu.Address{}) // 00: the SIM's SMSC
	pdu, err := s.Append(pdu)
	if err != nil {
		panic(err)
	}
	n, _ := atpdu.CMGSLength(pdu)
	fmt.Printf("AT+CMGS=%d\n%X\n", n, pdu)
	// Output:
	// AT+CMGS=17
	// 0011000B913316325476F80004000316FEFD
}
