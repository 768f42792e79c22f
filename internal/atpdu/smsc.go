package atpdu

import "fmt"

// maxSMSCOctets is the longest SMSC address after its length octet: TOA and
// 10 octets of BCD (TS 24.011 §8.2.5.1 RP-Destination Address, 2–11 octets
// of value; TS 27.005 §3.1 <pdu>).
const maxSMSCOctets = 11

// SplitSMSC splits a PDU-mode string as AT+CMGR, +CMT and +CMGL give it
// (TS 27.005 §3.1 <pdu>) into the SMSC address and a copy of the TPDU.
//
//	octet 0     length: octets that follow (TOA + BCD); 0 = no address,
//	            the modem uses the SMSC stored in the SIM
//	octet 1     Type-of-Address (as TS 23.040 §9.1.2.5)
//	octets 2..  BCD digits, F-filled
//
// A zero-length prefix gives the zero Address.
func SplitSMSC(pdu []byte) (smsc Address, tpdu []byte, err error) {
	r := reader{b: pdu}
	n, err := r.u8("SMSC")
	if err != nil {
		return Address{}, nil, err
	}
	if n > maxSMSCOctets {
		return Address{}, nil, r.fail("SMSC", 0, fmt.Errorf("%w: length %d, at most %d", ErrInvalid, n, maxSMSCOctets))
	}
	if n > 0 {
		v, err := r.next("SMSC", int(n))
		if err != nil {
			return Address{}, nil, err
		}
		smsc = Address{TON: TON(v[0]>>4) & 0x07, NPI: NPI(v[0] & 0x0F)}
		if smsc.TON == TONAlphanumeric {
			return Address{}, nil, r.fail("SMSC", 1, fmt.Errorf("%w: alphanumeric SMSC address", ErrInvalid))
		}
		digits := 2 * (int(n) - 1)
		if digits > 0 && v[n-1]>>4 == 0x0F {
			digits--
		}
		if smsc.Number, err = decodeBCD(v[1:], digits); err != nil {
			return Address{}, nil, r.fail("SMSC", 2, err)
		}
	}
	return smsc, append([]byte(nil), pdu[r.off:]...), nil
}

// AppendSMSC appends smsc as the PDU-mode SMSC prefix that AT+CMGS and
// AT+CMGW take in front of the TPDU; the zero Address appends "00" (use the
// SMSC stored in the SIM).
func AppendSMSC(dst []byte, smsc Address) ([]byte, error) {
	if smsc.IsZero() {
		return append(dst, 0x00), nil
	}
	if smsc.TON == TONAlphanumeric {
		return dst, encodeErr("SMSC", fmt.Errorf("%w: alphanumeric SMSC address", ErrInvalid))
	}
	if len(smsc.Number) > 2*(maxSMSCOctets-1) {
		return dst, encodeErr("SMSC", fmt.Errorf("%w: %d digits, at most %d", ErrTooLong, len(smsc.Number), 2*(maxSMSCOctets-1)))
	}
	toa, err := smsc.toa()
	if err != nil {
		return dst, encodeErr("SMSC", err)
	}
	start := len(dst)
	dst, err = appendBCD(append(dst, 0, toa), smsc.Number)
	if err != nil {
		return dst[:start], encodeErr("SMSC", err)
	}
	dst[start] = byte(len(dst) - start - 1)
	return dst, nil
}

// CMGSLength returns the <length> argument of AT+CMGS / AT+CMGW for an
// SMSC-prefixed PDU: the TPDU octets only, the SMSC prefix not counted
// (TS 27.005 §3.5.1, §4.3).
func CMGSLength(pdu []byte) (int, error) {
	if len(pdu) == 0 {
		return 0, &DecodeError{Field: "SMSC", Offset: 0, Err: ErrTruncated}
	}
	n := 1 + int(pdu[0])
	if len(pdu) < n {
		return 0, &DecodeError{Field: "SMSC", Offset: 1, Err: ErrTruncated}
	}
	return len(pdu) - n, nil
}
