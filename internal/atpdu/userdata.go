package atpdu

import "fmt"

// userData is TP-UDL and TP-UD with the header split off (TS 23.040
// §9.2.3.16, §9.2.3.24):
//
//	UDL | UDHL | IEs … | [fill bits to a septet boundary, 7-bit only] | SM
//
// For the GSM 7-bit alphabet UDL counts septets, header and fill included,
// and ud holds one unpacked septet per byte; otherwise UDL counts octets
// and ud holds them.
type userData struct {
	udh UDH
	ud  []byte
}

// decodeUserData reads TP-UDL and TP-UD. With udhi set and UDL 0 there is
// no header to read; the message decodes with an empty header.
func decodeUserData(r *reader, udhi bool, c Coding) (userData, error) {
	at := r.off
	udl, err := r.u8("TP-UDL")
	if err != nil {
		return userData{}, err
	}
	var octets int
	if c == CodingGSM7 {
		if udl > MaxUDSeptets {
			return userData{}, r.fail("TP-UDL", at, fmt.Errorf("%w: %d septets, at most %d", ErrTooLong, udl, MaxUDSeptets))
		}
		octets = octetsFor(int(udl))
	} else {
		if udl > MaxUDOctets {
			return userData{}, r.fail("TP-UDL", at, fmt.Errorf("%w: %d octets, at most %d", ErrTooLong, udl, MaxUDOctets))
		}
		octets = int(udl)
	}
	udAt := r.off
	raw, err := r.next("TP-UD", octets)
	if err != nil {
		return userData{}, err
	}
	var u userData
	hdr := 0 // header octets, UDHL included
	if udhi && octets > 0 {
		hdr = 1 + int(raw[0])
		if hdr > octets {
			return userData{}, r.fail("TP-UDH", udAt, fmt.Errorf("%w: UDHL %d overruns %d octets of user data", ErrInvalid, raw[0], octets))
		}
		if u.udh, err = decodeUDH(raw[1:hdr], udAt+1); err != nil {
			return userData{}, err
		}
	}
	if c == CodingGSM7 {
		hs := septetsFor(hdr)
		if hs > int(udl) {
			return userData{}, r.fail("TP-UDH", udAt, fmt.Errorf("%w: header of %d septets in a UDL of %d", ErrInvalid, hs, udl))
		}
		if n := int(udl) - hs; n > 0 {
			u.ud = unpackSeptets(raw, hs*7, n)
		}
		return u, nil
	}
	if hdr < octets {
		u.ud = append([]byte(nil), raw[hdr:]...)
	}
	return u, nil
}

// appendUserData appends TP-UDL and TP-UD, enforcing the 140-octet /
// 160-septet limit (TS 23.040 §9.2.3.24).
func appendUserData(dst []byte, udhi bool, h UDH, ud []byte, c Coding) ([]byte, error) {
	hdr := h.Len()
	if udhi && hdr == 0 {
		hdr = 1 // a header with no elements: UDHL 00
	}
	if c != CodingGSM7 {
		udl := hdr + len(ud)
		if udl > MaxUDOctets {
			return dst, encodeErr("TP-UD", fmt.Errorf("%w: %d octets of user data, at most %d", ErrTooLong, udl, MaxUDOctets))
		}
		dst = append(dst, byte(udl))
		if hdr > 0 {
			var err error
			if dst, err = appendUDH(dst, h); err != nil {
				return dst, encodeErr("TP-UDH", err)
			}
		}
		return append(dst, ud...), nil
	}
	for i, s := range ud {
		if s > 0x7F {
			return dst, encodeErr("TP-UD", fmt.Errorf("%w: septet %d is 0x%02X", ErrInvalid, i, s))
		}
	}
	hs := septetsFor(hdr)
	udl := hs + len(ud)
	if udl > MaxUDSeptets {
		return dst, encodeErr("TP-UD", fmt.Errorf("%w: %d septets of user data, at most %d", ErrTooLong, udl, MaxUDSeptets))
	}
	dst = append(dst, byte(udl))
	start := len(dst)
	if hdr > 0 {
		var err error
		if dst, err = appendUDH(dst, h); err != nil {
			return dst, encodeErr("TP-UDH", err)
		}
	}
	// Fill bits after the header are zero (§9.2.3.24).
	dst = append(dst, make([]byte, octetsFor(udl)-(len(dst)-start))...)
	packSeptets(dst[start:], hs*7, ud)
	return dst, nil
}

// text decodes ud as the coding says.
func text(c Coding, ud []byte) (string, error) {
	switch c {
	case CodingGSM7:
		return DecodeGSM7(ud), nil
	case CodingUCS2:
		return DecodeUCS2(ud), nil
	default:
		return "", ErrNotText
	}
}
