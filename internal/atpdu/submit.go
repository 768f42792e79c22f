package atpdu

import "fmt"

// Submit is an SMS-SUBMIT, TS 23.040 §9.2.2.2: a short message from the
// mobile to the SMSC.
//
//	octet 0       RP(b7) UDHI(b6) SRR(b5) VPF(b4b3) RD(b2) MTI=01(b1b0)
//	octet 1       TP-MR (§9.2.3.6)
//	octets 2..    TP-DA, 2–12 octets (§9.1.2.5)
//	+0            TP-PID (§9.2.3.9)
//	+1            TP-DCS (§9.2.3.10)
//	+2..          TP-VP, 0, 1 or 7 octets as VPF says (§9.2.3.12)
//	then          TP-UDL (§9.2.3.16), TP-UD 0–140 octets (§9.2.3.24)
type Submit struct {
	RP   bool // TP-RP: reply path requested
	UDHI bool // TP-UDHI; Append also sets it when UDH is non-empty
	SRR  bool // TP-SRR: status report requested
	RD   bool // TP-RD: the SMSC rejects a duplicate (same MR and DA)
	MR   byte // TP-MR; a modem's AT+CMGS overwrites it with its own
	DA   Address
	PID  PID
	DCS  DCS
	VP   ValidityPeriod // its Format is TP-VPF
	UDH  UDH
	// UD is the user data after the header: unpacked septets (one per
	// byte) when DCS.Coding() is CodingGSM7, else octets.
	UD []byte
}

// DecodeSubmit decodes an SMS-SUBMIT TPDU (no SMSC prefix; see SplitSMSC).
func DecodeSubmit(tpdu []byte) (Submit, error) {
	r := reader{b: tpdu}
	fo, err := firstOctet(&r, TypeSubmit)
	if err != nil {
		return Submit{}, err
	}
	s := Submit{RP: flag(fo, bitRP), UDHI: flag(fo, bitUDHI), SRR: flag(fo, bitSR), RD: flag(fo, bitMMS)}
	if s.MR, err = r.u8("TP-MR"); err != nil {
		return Submit{}, err
	}
	if s.DA, err = decodeAddress(&r, "TP-DA"); err != nil {
		return Submit{}, err
	}
	pid, err := r.u8("TP-PID")
	if err != nil {
		return Submit{}, err
	}
	s.PID = PID(pid)
	dcsAt := r.off
	dcs, err := r.u8("TP-DCS")
	if err != nil {
		return Submit{}, err
	}
	s.DCS = DCS(dcs)
	if err := s.DCS.check(); err != nil {
		return Submit{}, r.fail("TP-DCS", dcsAt, err)
	}
	if s.VP, err = decodeVP(&r, VPFormat((fo&bitVPF)>>3)); err != nil {
		return Submit{}, err
	}
	u, err := decodeUserData(&r, s.UDHI, s.DCS.Coding())
	if err != nil {
		return Submit{}, err
	}
	s.UDH, s.UD = u.udh, u.ud
	if err := r.end(); err != nil {
		return Submit{}, err
	}
	return s, nil
}

// Append appends s as an SMS-SUBMIT TPDU to dst (without the SMSC prefix:
// see AppendSMSC; the AT+CMGS length is the length of what Append adds).
func (s Submit) Append(dst []byte) ([]byte, error) {
	if err := s.DCS.check(); err != nil {
		return dst, encodeErr("TP-DCS", err)
	}
	if s.VP.Format > VPFAbsolute {
		return dst, encodeErr("TP-VPF", fmt.Errorf("%w: %d", ErrInvalid, s.VP.Format))
	}
	start := len(dst)
	udhi := s.UDHI || len(s.UDH) > 0
	dst = append(dst, byte(TypeSubmit)|setIf(s.RP, bitRP)|setIf(udhi, bitUDHI)|
		setIf(s.SRR, bitSR)|byte(s.VP.Format)<<3|setIf(s.RD, bitMMS), s.MR)
	var err error
	if dst, err = appendAddress(dst, s.DA); err != nil {
		return dst[:start], encodeErr("TP-DA", err)
	}
	dst = append(dst, byte(s.PID), byte(s.DCS))
	if dst, err = appendVP(dst, s.VP); err != nil {
		return dst[:start], encodeErr("TP-VP", err)
	}
	if dst, err = appendUserData(dst, udhi, s.UDH, s.UD, s.DCS.Coding()); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// Text returns the user data as text for GSM 7-bit and UCS2, or ErrNotText.
func (s Submit) Text() (string, error) {
	t, err := text(s.DCS.Coding(), s.UD)
	if err != nil {
		return "", fmt.Errorf("atpdu: text of SMS-SUBMIT: %w", err)
	}
	return t, nil
}

// ToDeliver returns the SMS-DELIVER an SMSC makes of s for its recipient
// (TS 23.040 §9.2.2.1): originator oa, timestamp scts, TP-SRI from TP-SRR,
// TP-MMS set (no more messages), and the same TP-RP, TP-PID, TP-DCS, header
// and user data (copied).
func (s Submit) ToDeliver(oa Address, scts Timestamp) Deliver {
	d := Deliver{RP: s.RP, UDHI: s.UDHI, SRI: s.SRR, MMS: true, OA: oa, PID: s.PID, DCS: s.DCS, SCTS: scts}
	for _, ie := range s.UDH {
		d.UDH = append(d.UDH, IE{IEI: ie.IEI, Data: append([]byte(nil), ie.Data...)})
	}
	if len(s.UD) > 0 {
		d.UD = append([]byte(nil), s.UD...)
	}
	return d
}
