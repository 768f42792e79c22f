package atpdu

import "fmt"

// Status is TP-ST, TS 23.040 §9.2.3.15.
type Status byte

// Selected TP-ST values, TS 23.040 §9.2.3.15.
const (
	StatusDelivered           Status = 0x00 // short message received by the SME
	StatusForwarded           Status = 0x01 // forwarded, delivery unconfirmed
	StatusReplaced            Status = 0x02 // replaced by the SC
	StatusCongestion          Status = 0x20 // temporary, SC still trying
	StatusSMEBusy             Status = 0x21
	StatusNoResponse          Status = 0x22
	StatusServiceRejected     Status = 0x23
	StatusRemoteProcedure     Status = 0x40 // permanent
	StatusIncompatibleDest    Status = 0x41
	StatusRejectedBySME       Status = 0x42
	StatusNotObtainable       Status = 0x43
	StatusNoInterworking      Status = 0x45
	StatusValidityExpired     Status = 0x46
	StatusDeletedByOriginator Status = 0x47
	StatusDeletedBySC         Status = 0x48
	StatusSMDoesNotExist      Status = 0x49
)

// Completed reports a finished transaction (0x00–0x1F): delivered,
// forwarded or replaced, or an SC-specific completion.
func (s Status) Completed() bool { return s < 0x20 }

// Pending reports a temporary error while the SC is still trying
// (0x20–0x3F).
func (s Status) Pending() bool { return s >= 0x20 && s < 0x40 }

// Failed reports a permanent error (0x40–0x5F), a temporary error after
// which the SC stopped trying (0x60–0x7F), or a reserved value (0x80–0xFF),
// which §9.2.3.15 does not define and we treat as a failure.
func (s Status) Failed() bool { return s >= 0x40 }

// String names the status.
func (s Status) String() string {
	switch s {
	case StatusDelivered:
		return "delivered"
	case StatusForwarded:
		return "forwarded, delivery unconfirmed"
	case StatusReplaced:
		return "replaced"
	case StatusCongestion:
		return "congestion, SC still trying"
	case StatusSMEBusy:
		return "SME busy, SC still trying"
	case StatusNoResponse:
		return "no response from SME, SC still trying"
	case StatusServiceRejected:
		return "service rejected, SC still trying"
	case StatusRemoteProcedure:
		return "remote procedure error"
	case StatusIncompatibleDest:
		return "incompatible destination"
	case StatusRejectedBySME:
		return "connection rejected by SME"
	case StatusNotObtainable:
		return "not obtainable"
	case StatusNoInterworking:
		return "no interworking available"
	case StatusValidityExpired:
		return "validity period expired"
	case StatusDeletedByOriginator:
		return "deleted by originating SME"
	case StatusDeletedBySC:
		return "deleted by SC administration"
	case StatusSMDoesNotExist:
		return "SM does not exist"
	}
	switch {
	case s.Completed():
		return fmt.Sprintf("completed (0x%02X)", byte(s))
	case s.Pending():
		return fmt.Sprintf("temporary error, SC still trying (0x%02X)", byte(s))
	case s < 0x60:
		return fmt.Sprintf("permanent error (0x%02X)", byte(s))
	case s < 0x80:
		return fmt.Sprintf("temporary error, SC stopped trying (0x%02X)", byte(s))
	default:
		return fmt.Sprintf("reserved (0x%02X)", byte(s))
	}
}

// TP-PI bits, TS 23.040 §9.2.3.27.
const (
	piPID = 0x01
	piDCS = 0x02
	piUDL = 0x04
	piExt = 0x80
)

// StatusReport is an SMS-STATUS-REPORT, TS 23.040 §9.2.2.3: the SMSC's
// report on an SMS-SUBMIT sent with TP-SRR. It says the SMSC delivered (or
// failed to deliver) the message, nothing about the application.
//
//	octet 0       0(b7) UDHI(b6) SRQ(b5) 0(b4) LP(b3) MMS(b2) MTI=10(b1b0)
//	octet 1       TP-MR of the SMS-SUBMIT reported on (§9.2.3.6)
//	octets 2..    TP-RA, 2–12 octets (§9.1.2.5)
//	+0..+6        TP-SCTS (§9.2.3.11)
//	+7..+13       TP-DT, discharge time (§9.2.3.13)
//	+14           TP-ST (§9.2.3.15)
//	then, optional: TP-PI (§9.2.3.27) | [TP-PID] | [TP-DCS] | [TP-UDL | TP-UD]
type StatusReport struct {
	UDHI bool // TP-UDHI; Append also sets it when UDH is non-empty
	SRQ  bool // TP-SRQ: false = report on an SMS-SUBMIT, true = on an SMS-COMMAND
	LP   bool // TP-LP
	MMS  bool // TP-MMS as on the wire: true (1) = no more messages waiting
	MR   byte
	RA   Address
	SCTS Timestamp
	DT   Timestamp
	ST   Status
	// PI holds the TP-Parameter-Indicator octets (more than one when b7,
	// the extension bit, is set), nil when the report ends after TP-ST.
	// b0, b1 and b2 of PI[0] say whether PID, DCS and UDL/UD follow;
	// reserved bits are kept and otherwise ignored.
	PI  []byte
	PID PID // when PI[0] b0 is set
	DCS DCS // when PI[0] b1 is set; else 0x00 (GSM 7-bit) applies to UD
	UDH UDH // when PI[0] b2 is set
	UD  []byte
}

// DecodeStatusReport decodes an SMS-STATUS-REPORT TPDU (no SMSC prefix;
// +CDS gives one with the prefix: see SplitSMSC).
func DecodeStatusReport(tpdu []byte) (StatusReport, error) {
	r := reader{b: tpdu}
	fo, err := firstOctet(&r, TypeStatusReport)
	if err != nil {
		return StatusReport{}, err
	}
	s := StatusReport{UDHI: flag(fo, bitUDHI), SRQ: flag(fo, bitSR), LP: flag(fo, bitLP), MMS: flag(fo, bitMMS)}
	if s.MR, err = r.u8("TP-MR"); err != nil {
		return StatusReport{}, err
	}
	if s.RA, err = decodeAddress(&r, "TP-RA"); err != nil {
		return StatusReport{}, err
	}
	if s.SCTS, err = decodeTimestamp(&r, "TP-SCTS"); err != nil {
		return StatusReport{}, err
	}
	if s.DT, err = decodeTimestamp(&r, "TP-DT"); err != nil {
		return StatusReport{}, err
	}
	st, err := r.u8("TP-ST")
	if err != nil {
		return StatusReport{}, err
	}
	s.ST = Status(st)
	if r.off == len(r.b) {
		return s, nil // TP-PI is optional (§9.2.2.3)
	}
	for {
		pi, err := r.u8("TP-PI")
		if err != nil {
			return StatusReport{}, err
		}
		s.PI = append(s.PI, pi)
		if pi&piExt == 0 {
			break
		}
	}
	if s.PI[0]&piPID != 0 {
		pid, err := r.u8("TP-PID")
		if err != nil {
			return StatusReport{}, err
		}
		s.PID = PID(pid)
	}
	if s.PI[0]&piDCS != 0 {
		dcsAt := r.off
		dcs, err := r.u8("TP-DCS")
		if err != nil {
			return StatusReport{}, err
		}
		s.DCS = DCS(dcs)
		if err := s.DCS.check(); err != nil {
			return StatusReport{}, r.fail("TP-DCS", dcsAt, err)
		}
	}
	if s.PI[0]&piUDL != 0 {
		u, err := decodeUserData(&r, s.UDHI, s.DCS.Coding())
		if err != nil {
			return StatusReport{}, err
		}
		s.UDH, s.UD = u.udh, u.ud
	}
	if err := r.end(); err != nil {
		return StatusReport{}, err
	}
	return s, nil
}

// Append appends s as an SMS-STATUS-REPORT TPDU to dst. PID, DCS and user
// data are written only as PI says; a value that PI leaves out is an error
// rather than silently dropped.
func (s StatusReport) Append(dst []byte) ([]byte, error) {
	if err := s.checkPI(); err != nil {
		return dst, encodeErr("TP-PI", err)
	}
	if err := s.DCS.check(); err != nil {
		return dst, encodeErr("TP-DCS", err)
	}
	start := len(dst)
	udhi := s.UDHI || len(s.UDH) > 0
	dst = append(dst, byte(TypeStatusReport)|setIf(udhi, bitUDHI)|setIf(s.SRQ, bitSR)|
		setIf(s.LP, bitLP)|setIf(s.MMS, bitMMS), s.MR)
	var err error
	if dst, err = appendAddress(dst, s.RA); err != nil {
		return dst[:start], encodeErr("TP-RA", err)
	}
	if dst, err = appendTimestamp(dst, s.SCTS); err != nil {
		return dst[:start], encodeErr("TP-SCTS", err)
	}
	if dst, err = appendTimestamp(dst, s.DT); err != nil {
		return dst[:start], encodeErr("TP-DT", err)
	}
	dst = append(dst, byte(s.ST))
	if len(s.PI) == 0 {
		return dst, nil
	}
	dst = append(dst, s.PI...)
	if s.PI[0]&piPID != 0 {
		dst = append(dst, byte(s.PID))
	}
	if s.PI[0]&piDCS != 0 {
		dst = append(dst, byte(s.DCS))
	}
	if s.PI[0]&piUDL != 0 {
		if dst, err = appendUserData(dst, udhi, s.UDH, s.UD, s.DCS.Coding()); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

func (s StatusReport) checkPI() error {
	for i, pi := range s.PI {
		if last := i == len(s.PI)-1; (pi&piExt != 0) == last {
			return fmt.Errorf("%w: octet %d extension bit must be set on all but the last", ErrInvalid, i)
		}
	}
	var pi byte
	if len(s.PI) > 0 {
		pi = s.PI[0]
	}
	switch {
	case s.PID != 0 && pi&piPID == 0:
		return fmt.Errorf("%w: PID 0x%02X without TP-PI b0", ErrInvalid, byte(s.PID))
	case s.DCS != 0 && pi&piDCS == 0:
		return fmt.Errorf("%w: DCS 0x%02X without TP-PI b1", ErrInvalid, byte(s.DCS))
	case (len(s.UDH) > 0 || len(s.UD) > 0) && pi&piUDL == 0:
		return fmt.Errorf("%w: user data without TP-PI b2", ErrInvalid)
	}
	return nil
}

// Text returns the user data as text for GSM 7-bit and UCS2, or ErrNotText.
func (s StatusReport) Text() (string, error) {
	t, err := text(s.DCS.Coding(), s.UD)
	if err != nil {
		return "", fmt.Errorf("atpdu: text of SMS-STATUS-REPORT: %w", err)
	}
	return t, nil
}
