package uicc

import "fmt"

// TLV is a BER-TLV or COMPREHENSION-TLV data object with a one-octet tag
// (TS 102 223 §8, Annex C). For COMPREHENSION-TLVs b8 of the tag is the
// comprehension-required flag; Tag keeps it as received.
type TLV struct {
	Tag   byte
	Value []byte
}

// appendTLV encodes one TLV with the minimal length coding of TS 102 223
// Annex C (00–7F in one octet, 80–FF as 81 xx).
func appendTLV(dst []byte, tag byte, v []byte) ([]byte, error) {
	if len(v) > 0xFF {
		return nil, fmt.Errorf("uicc: TLV %02x of %d octets: %w", tag, len(v), ErrLength)
	}
	dst = append(dst, tag)
	if len(v) >= 0x80 {
		dst = append(dst, 0x81)
	}
	dst = append(dst, byte(len(v)))
	return append(dst, v...), nil
}

// readTLV reads the TLV at b[off:] and returns it with the offset after it.
// Non-minimal length codings are refused so that encoding reproduces the
// input.
func readTLV(b []byte, off int) (TLV, int, error) {
	if off+2 > len(b) {
		return TLV{}, 0, decodeErr("TLV", len(b), ErrTruncated)
	}
	tag := b[off]
	n := int(b[off+1])
	hdr := 2
	switch {
	case n == 0x81:
		if off+3 > len(b) {
			return TLV{}, 0, decodeErr("TLV length", len(b), ErrTruncated)
		}
		n = int(b[off+2])
		if n < 0x80 {
			return TLV{}, 0, decodeErr("TLV length", off+1, ErrLength)
		}
		hdr = 3
	case n >= 0x80:
		return TLV{}, 0, decodeErr("TLV length", off+1, ErrLength)
	}
	if off+hdr+n > len(b) {
		return TLV{}, 0, decodeErr(fmt.Sprintf("TLV %02x value", tag), len(b), ErrTruncated)
	}
	return TLV{Tag: tag, Value: append([]byte{}, b[off+hdr:off+hdr+n]...)}, off + hdr + n, nil
}

// decodeTLVs reads TLVs until the end of b.
func decodeTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for off := 0; off < len(b); {
		t, next, err := readTLV(b, off)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		off = next
	}
	return out, nil
}

// decodeOuter reads the single BER-TLV wrapping a toolkit object (D0, D1)
// and returns its value; nothing may follow it.
func decodeOuter(b []byte, tag byte, field string) ([]byte, error) {
	t, next, err := readTLV(b, 0)
	if err != nil {
		return nil, err
	}
	if t.Tag != tag {
		return nil, decodeErr(field, 0, ErrTag)
	}
	if next != len(b) {
		return nil, decodeErr(field, next, ErrLength)
	}
	return t.Value, nil
}
