package atpdu_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

var oa = atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"}

// TestUDHKeepsEveryIE: known and unknown elements (and known ones of the
// wrong length) come back in wire order, byte for byte.
func TestUDHKeepsEveryIE(t *testing.T) {
	// Source: constructed from TS 23.040 §9.2.3.24: 16-bit ports, an
	// unknown IEI 0x24 (national language single shift), concat 8-bit, an
	// 8-bit port IE of wrong length, CPI 70, RPI 71, 16-bit concat.
	hdr := "1D 05 04 16 34 C0 00 24 01 01 00 03 07 02 01 04 03 01 02 03 70 00 71 00 08 04 12 34 02 02"
	tpdu := unhex(t, "44 0B 91 33 16 32 54 76 F8 00 04 62 11 82 41 53 00 40 20"+hdr+"AA BB")
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		t.Fatal(err)
	}
	want := atpdu.UDH{
		atpdu.Ports16IE(5684, 49152),
		{IEI: 0x24, Data: []byte{0x01}},
		atpdu.Concat8IE(7, 2, 1),
		{IEI: atpdu.IEIPorts8, Data: []byte{1, 2, 3}},
		atpdu.CommandPacketIE(),
		atpdu.ResponsePacketIE(),
		atpdu.Concat16IE(0x1234, 2, 2),
	}
	if !reflect.DeepEqual(d.UDH, want) || !bytes.Equal(d.UD, []byte{0xAA, 0xBB}) {
		t.Fatalf("UDH %+v UD %X", d.UDH, d.UD)
	}
	if ref, total, seq, ok := d.UDH.Concat(); !ok || ref != 7 || total != 2 || seq != 1 {
		t.Errorf("Concat = %d %d %d %v", ref, total, seq, ok)
	}
	if dst, src, ok := d.UDH.Ports(); !ok || dst != 5684 || src != 49152 {
		t.Errorf("Ports = %d %d %v", dst, src, ok)
	}
	if ie, ok := d.UDH.Find(0x24); !ok || ie.Data[0] != 1 {
		t.Errorf("Find(0x24) = %+v %v", ie, ok)
	}
	out, err := d.Append(nil)
	if err != nil || !bytes.Equal(out, tpdu) {
		t.Errorf("re-encoded %X, %v", out, err)
	}
	// A wrong-length port IE alone is ignored by the accessor.
	if _, _, ok := (atpdu.UDH{{IEI: atpdu.IEIPorts8, Data: []byte{1}}}).Ports(); ok {
		t.Error("Ports accepted a 1-octet 8-bit port IE")
	}
	if _, _, _, ok := (atpdu.UDH{{IEI: atpdu.IEIConcat16, Data: []byte{1}}}).Concat(); ok {
		t.Error("Concat accepted a 1-octet 16-bit concat IE")
	}
}

func TestPayloadLeft(t *testing.T) {
	for _, tc := range []struct {
		name            string
		udh             atpdu.UDH
		octets, septets int
	}{
		{name: "no header", octets: 140, septets: 160},
		{name: "concat 8-bit", udh: atpdu.UDH{atpdu.Concat8IE(1, 2, 1)}, octets: 134, septets: 153},
		{name: "concat 16-bit", udh: atpdu.UDH{atpdu.Concat16IE(1, 2, 1)}, octets: 133, septets: 152},
		{name: "CPI", udh: atpdu.UDH{atpdu.CommandPacketIE()}, octets: 137, septets: 156},
		{name: "16-bit ports + concat", udh: atpdu.UDH{atpdu.Ports16IE(1, 2), atpdu.Concat8IE(1, 2, 1)}, octets: 128, septets: 146},
	} {
		if got := atpdu.PayloadOctets(tc.udh); got != tc.octets {
			t.Errorf("%s: PayloadOctets = %d, want %d", tc.name, got, tc.octets)
		}
		if got := atpdu.PayloadSeptets(tc.udh); got != tc.septets {
			t.Errorf("%s: PayloadSeptets = %d, want %d", tc.name, got, tc.septets)
		}
		// Exactly the payload fits; one more does not.
		s := atpdu.Submit{DA: oa, DCS: 0x04, UDH: tc.udh, UD: make([]byte, tc.octets)}
		if _, err := s.Append(nil); err != nil {
			t.Errorf("%s: %d octets: %v", tc.name, tc.octets, err)
		}
		s.UD = append(s.UD, 0)
		if _, err := s.Append(nil); !errors.Is(err, atpdu.ErrTooLong) {
			t.Errorf("%s: %d octets: err = %v, want ErrTooLong", tc.name, tc.octets+1, err)
		}
		g := atpdu.Submit{DA: oa, DCS: 0x00, UDH: tc.udh, UD: make([]byte, tc.septets)}
		out, err := g.Append(nil)
		if err != nil {
			t.Errorf("%s: %d septets: %v", tc.name, tc.septets, err)
		} else if back, err := atpdu.DecodeSubmit(out); err != nil || !reflect.DeepEqual(back.UDH, g.UDH) || len(back.UD) != tc.septets {
			t.Errorf("%s: %d septets do not round-trip: %v", tc.name, tc.septets, err)
		}
		g.UD = append(g.UD, 0)
		if _, err := g.Append(nil); !errors.Is(err, atpdu.ErrTooLong) {
			t.Errorf("%s: %d septets: err = %v, want ErrTooLong", tc.name, tc.septets+1, err)
		}
	}
}

// TestUDLimitsOnDecode: a UDL over 140 octets / 160 septets is refused.
func TestUDLimitsOnDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		dcs  byte
		udl  int
		ud   int
	}{
		{name: "8-bit 141", dcs: 0x04, udl: 141, ud: 141},
		{name: "gsm7 161", dcs: 0x00, udl: 161, ud: 141},
	} {
		tpdu := append(unhex(t, "04 01 81 F1 00"), tc.dcs)
		tpdu = append(tpdu, unhex(t, "62 11 82 41 53 00 40")...)
		tpdu = append(tpdu, byte(tc.udl))
		tpdu = append(tpdu, make([]byte, tc.ud)...)
		_, err := atpdu.DecodeDeliver(tpdu)
		var de *atpdu.DecodeError
		if !errors.As(err, &de) || de.Field != "TP-UDL" || de.Offset != 13 || !errors.Is(err, atpdu.ErrTooLong) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestUDHDecodeErrors(t *testing.T) {
	base := "44 01 81 F1 00 04 62 11 82 41 53 00 40"
	for _, tc := range []struct {
		name, ud string
		field    string
		want     error
	}{
		{name: "UDHL overruns UD", ud: "03 05 00 03", field: "TP-UDH", want: atpdu.ErrInvalid},
		{name: "IE overruns UDHL", ud: "04 03 00 04 01 02 03", field: "TP-UDH", want: atpdu.ErrTruncated},
		{name: "IE header cut", ud: "04 03 70 00 71", field: "TP-UDH", want: atpdu.ErrTruncated},
	} {
		_, err := atpdu.DecodeDeliver(unhex(t, base+tc.ud))
		var de *atpdu.DecodeError
		if !errors.As(err, &de) || de.Field != tc.field || !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	// GSM 7-bit: a header longer than UDL allows.
	if _, err := atpdu.DecodeDeliver(unhex(t, "44 01 81 F1 00 00 62 11 82 41 53 00 40 03 02 70 00")); !errors.Is(err, atpdu.ErrInvalid) {
		t.Errorf("gsm7 header over UDL: err = %v", err)
	}
}

// TestUDHIWithoutHeaderOctets: UDHI set but UDL 0 decodes (nothing to
// lose) and re-encodes as an empty header.
func TestUDHIWithoutHeaderOctets(t *testing.T) {
	d, err := atpdu.DecodeDeliver(unhex(t, "44 01 81 F1 00 04 62 11 82 41 53 00 40 00"))
	if err != nil || !d.UDHI || d.UDH != nil || d.UD != nil {
		t.Fatalf("%+v %v", d, err)
	}
	out, err := d.Append(nil)
	if err != nil || !bytes.Equal(out, unhex(t, "44 01 81 F1 00 04 62 11 82 41 53 00 40 01 00")) {
		t.Errorf("re-encoded %X %v", out, err)
	}
}

// TestGSM7WithHeaderFill: the septet after a 6-octet header starts on bit
// 49 (one fill bit), TS 23.040 §9.2.3.24.
func TestGSM7WithHeaderFill(t *testing.T) {
	s := atpdu.Submit{DA: oa, UDH: atpdu.UDH{atpdu.Concat8IE(0xAB, 2, 1)}, UD: septets(t, "Hi")}
	out, err := s.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	// UDL = 7 header septets + 2 = 9; UD = 05 00 03 AB 02 01, then 'H'
	// (0x48) shifted by one fill bit = 0x90, 'i' (0x69) from bit 56 = 0x69.
	want := unhex(t, "41 00 0B 91 33 16 32 54 76 F8 00 00 09 05 00 03 AB 02 01 90 69")
	if !bytes.Equal(out, want) {
		t.Errorf("got  %X\nwant %X", out, want)
	}
	back, err := atpdu.DecodeSubmit(out)
	if txt, _ := back.Text(); err != nil || txt != "Hi" {
		t.Errorf("decoded %q, %v", txt, err)
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    interface{ Append([]byte) ([]byte, error) }
		want error
	}{
		{name: "septet over 0x7F", a: atpdu.Submit{DA: oa, UD: []byte{0x80}}, want: atpdu.ErrInvalid},
		{name: "IE data over 255", a: atpdu.Submit{DA: oa, DCS: 0x04, UDH: atpdu.UDH{{IEI: 1, Data: make([]byte, 256)}}}, want: atpdu.ErrTooLong},
		{name: "21 digits", a: atpdu.Submit{DA: atpdu.Address{Number: strings.Repeat("1", 21)}}, want: atpdu.ErrTooLong},
		{name: "bad digit", a: atpdu.Submit{DA: atpdu.Address{Number: "12x"}}, want: atpdu.ErrInvalid},
		{name: "TON 8", a: atpdu.Submit{DA: atpdu.Address{TON: 8, Number: "1"}}, want: atpdu.ErrInvalid},
		{name: "VPF 4", a: atpdu.Submit{DA: oa, VP: atpdu.ValidityPeriod{Format: 4}}, want: atpdu.ErrInvalid},
		{name: "SCTS year 1999", a: atpdu.Deliver{OA: oa, SCTS: atpdu.Timestamp{Year: 1999}}, want: atpdu.ErrInvalid},
		{name: "status report PID without PI", a: atpdu.StatusReport{RA: oa, SCTS: ts2026, DT: ts2026, PID: 0x7F}, want: atpdu.ErrInvalid},
		{name: "status report UD without PI b2", a: atpdu.StatusReport{RA: oa, SCTS: ts2026, DT: ts2026, PI: []byte{0x01}, UD: []byte{1}}, want: atpdu.ErrInvalid},
		{name: "status report PI extension bit on last", a: atpdu.StatusReport{RA: oa, SCTS: ts2026, DT: ts2026, PI: []byte{0x80}}, want: atpdu.ErrInvalid},
	} {
		out, err := tc.a.Append([]byte{0xEE})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if !bytes.Equal(out, []byte{0xEE}) {
			t.Errorf("%s: failed Append changed dst: %X", tc.name, out)
		}
	}
}

var ts2026 = atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 14, Minute: 35}
