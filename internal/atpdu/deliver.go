package atpdu

import "fmt"

// Deliver is an SMS-DELIVER, TS 23.040 §9.2.2.1: a short message from the
// SMSC to the mobile.
//
//	octet 0       RP(b7) UDHI(b6) SRI(b5) 0(b4) LP(b3) MMS(b2) MTI=00(b1b0)
//	octets 1..    TP-OA, 2–12 octets (§9.1.2.5)
//	+0            TP-PID (§9.2.3.9)
//	+1            TP-DCS (§9.2.3.10)
//	+2..+8        TP-SCTS (§9.2.3.11)
//	+9            TP-UDL (§9.2.3.16)
//	+10..         TP-UD, 0–140 octets (§9.2.3.24)
type Deliver struct {
	RP   bool // TP-RP: a reply path exists
	UDHI bool // TP-UDHI: UD starts with a header; Append also sets it when UDH is non-empty
	SRI  bool // TP-SRI: a status report will be returned to the originator
	LP   bool // TP-LP: loop prevention
	// MMS is the TP-MMS bit as on the wire: true (1) means no more
	// messages are waiting in the SMSC, false (0) more are waiting.
	MMS  bool
	OA   Address
	PID  PID
	DCS  DCS
	SCTS Timestamp
	UDH  UDH
	// UD is the user data after the header: unpacked septets (one per
	// byte) when DCS.Coding() is CodingGSM7, else octets.
	UD []byte
}

// DecodeDeliver decodes an SMS-DELIVER TPDU (no SMSC prefix; see SplitSMSC).
func DecodeDeliver(tpdu []byte) (Deliver, error) {
	r := reader{b: tpdu}
	fo, err := firstOctet(&r, TypeDeliver)
	if err != nil {
		return Deliver{}, err
	}
	d := Deliver{
		RP: flag(fo, bitRP), UDHI: flag(fo, bitUDHI), SRI: flag(fo, bitSR),
		LP: flag(fo, bitLP), MMS: flag(fo, bitMMS),
	}
	if d.OA, err = decodeAddress(&r, "TP-OA"); err != nil {
		return Deliver{}, err
	}
	pid, err := r.u8("TP-PID")
	if err != nil {
		return Deliver{}, err
	}
	d.PID = PID(pid)
	dcsAt := r.off
	dcs, err := r.u8("TP-DCS")
	if err != nil {
		return Deliver{}, err
	}
	d.DCS = DCS(dcs)
	if err := d.DCS.check(); err != nil {
		return Deliver{}, r.fail("TP-DCS", dcsAt, err)
	}
	if d.SCTS, err = decodeTimestamp(&r, "TP-SCTS"); err != nil {
		return Deliver{}, err
	}
	u, err := decodeUserData(&r, d.UDHI, d.DCS.Coding())
	if err != nil {
		return Deliver{}, err
	}
	d.UDH, d.UD = u.udh, u.ud
	if err := r.end(); err != nil {
		return Deliver{}, err
	}
	return d, nil
}

// Append appends d as an SMS-DELIVER TPDU to dst.
func (d Deliver) Append(dst []byte) ([]byte, error) {
	if err := d.DCS.check(); err != nil {
		return dst, encodeErr("TP-DCS", err)
	}
	start := len(dst)
	udhi := d.UDHI || len(d.UDH) > 0
	dst = append(dst, byte(TypeDeliver)|setIf(d.RP, bitRP)|setIf(udhi, bitUDHI)|
		setIf(d.SRI, bitSR)|setIf(d.LP, bitLP)|setIf(d.MMS, bitMMS))
	var err error
	if dst, err = appendAddress(dst, d.OA); err != nil {
		return dst[:start], encodeErr("TP-OA", err)
	}
	dst = append(dst, byte(d.PID), byte(d.DCS))
	if dst, err = appendTimestamp(dst, d.SCTS); err != nil {
		return dst[:start], encodeErr("TP-SCTS", err)
	}
	if dst, err = appendUserData(dst, udhi, d.UDH, d.UD, d.DCS.Coding()); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// Text returns the user data as text for GSM 7-bit and UCS2, or ErrNotText.
func (d Deliver) Text() (string, error) {
	s, err := text(d.DCS.Coding(), d.UD)
	if err != nil {
		return "", fmt.Errorf("atpdu: text of SMS-DELIVER: %w", err)
	}
	return s, nil
}

// SIMDataDownload reports whether a modem gives this SMS to the UICC with
// ENVELOPE (SMS-PP DOWNLOAD) instead of the host: TP-PID (U)SIM data
// download and message class 2 (TS 31.111 §7.1.1.1; TS 23.040 §9.2.3.9).
func (d Deliver) SIMDataDownload() bool {
	return d.PID == PIDUSIMDataDownload && d.DCS.Class() == Class2
}
