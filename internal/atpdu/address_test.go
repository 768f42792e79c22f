package atpdu_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// submitWithDA wraps an address field in a minimal SMS-SUBMIT so that the
// black-box test reaches the address codec.
func submitWithDA(addr []byte) []byte {
	b := append([]byte{0x01, 0x00}, addr...)
	return append(b, 0x00, 0x04, 0x00) // PID, DCS 8-bit, UDL 0
}

func TestAddressVectors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source string
		field  string // hex of the address field
		want   atpdu.Address
		str    string
	}{
		{name: "unknown ISDN even", source: "spec digest sms-pdu.md §2 example",
			field: "08 81 21 43 65 87", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "12345678"}, str: "12345678"},
		{name: "international odd with F filler", source: "spec digest sms-pdu.md §2 example",
			field: "0B 91 94 71 12 32 54 F6", want: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "49172123456"}, str: "+49172123456"},
		{name: "national", source: "TOA 0xA1, TS 23.040 §9.1.2.5",
			field: "0A A1 60 21 43 65 87", want: atpdu.Address{TON: atpdu.TONNational, NPI: atpdu.NPIISDN, Number: "0612345678"}, str: "0612345678"},
		{name: "short code network specific", source: "TS 23.040 §9.1.2.5 TON 011",
			field: "05 B1 63 71 F9", want: atpdu.Address{TON: atpdu.TONNetworkSpecific, NPI: atpdu.NPIISDN, Number: "36179"}, str: "36179"},
		{name: "star hash and a-c", source: "TS 24.008 §10.5.4.7 BCD values A–E",
			field: "05 81 BA DC FE", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "*#abc"}, str: "*#abc"},
		{name: "empty", source: "TS 23.040 §9.1.2.5 length 0",
			field: "00 81", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN}, str: ""},
		{name: "alphanumeric 7 chars", source: "jackkum/PHPPDU testDeliverParse 'diafaan'",
			field: "0D D0 E4 74 D8 1C 0E BB 01", want: atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "diafaan"}, str: "diafaan"},
		{name: "alphanumeric 11 chars", source: "constructed, TS 23.040 §9.1.2.5 maximum (20 semi-octets)",
			field: "14 D0 C1 60 30 18 0C 06 83 C1 20 00", want: atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "AAAAAAAAAA@"}, str: "AAAAAAAAAA@"},
		{name: "alphanumeric with extension char", source: "constructed, TS 23.038 §6.2.1.1 euro sign",
			field: "06 D0 9B 32 15", want: atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "€T"}, str: "€T"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpdu := submitWithDA(unhex(t, tc.field))
			s, err := atpdu.DecodeSubmit(tpdu)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if s.DA != tc.want {
				t.Errorf("DA = %#v, want %#v", s.DA, tc.want)
			}
			if got := s.DA.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			out, err := s.Append(nil)
			if err != nil || !bytes.Equal(out, tpdu) {
				t.Errorf("re-encoded %X, %v; want %X", out, err, tpdu)
			}
			// The bare field codec agrees with the one inside the TPDU.
			field := unhex(t, tc.field)
			a, err := atpdu.DecodeAddress(field)
			if err != nil || a != tc.want {
				t.Errorf("DecodeAddress = %#v, %v; want %#v", a, err, tc.want)
			}
			if enc, err := atpdu.AppendAddress([]byte{0xAA}, a); err != nil || !bytes.Equal(enc, append([]byte{0xAA}, field...)) {
				t.Errorf("AppendAddress = %X, %v; want AA%X", enc, err, field)
			}
			for n := range len(field) {
				if _, err := atpdu.DecodeAddress(field[:n]); !errors.Is(err, atpdu.ErrTruncated) {
					t.Errorf("DecodeAddress(prefix %d) err = %v, want ErrTruncated", n, err)
				}
			}
			if _, err := atpdu.DecodeAddress(append(field, 0)); !errors.Is(err, atpdu.ErrTrailingBytes) {
				t.Errorf("DecodeAddress(field+00) err = %v, want ErrTrailingBytes", err)
			}
		})
	}
}

func TestAddressDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string
		want  error
	}{
		{name: "F inside the digits", field: "04 81 F1 32", want: atpdu.ErrInvalid},
		{name: "length over 20", field: "15 91 11 11 11 11 11 11 11 11 11 11 F1", want: atpdu.ErrInvalid},
		{name: "value shorter than length", field: "0B 91 94 71", want: atpdu.ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := atpdu.DecodeSubmit(submitWithDA(unhex(t, tc.field)))
			var de *atpdu.DecodeError
			if !errors.As(err, &de) || de.Field != "TP-DA" || !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want TP-DA %v", err, tc.want)
			}
		})
	}
}

// TestAddressOddFillerTolerated: a filler other than F in the unused
// nibble decodes (networks send 0) and re-encodes with F.
func TestAddressOddFillerTolerated(t *testing.T) {
	s, err := atpdu.DecodeSubmit(submitWithDA(unhex(t, "03 81 21 03")))
	if err != nil || s.DA.Number != "123" {
		t.Fatalf("decode: %+v, %v", s.DA, err)
	}
	out, _ := s.Append(nil)
	if !bytes.Equal(out, submitWithDA(unhex(t, "03 81 21 F3"))) {
		t.Errorf("re-encoded %X", out)
	}
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    atpdu.Address
		wantErr error
	}{
		{in: "+33612345678", want: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"}},
		{in: "+33 6 12-34.56 (78)", want: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"}},
		{in: "0612345678", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "0612345678"}},
		{in: "36179", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "36179"}},
		{in: "*100#", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "*100#"}},
		{in: "MyBank", want: atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "MyBank"}},
		{in: "", wantErr: atpdu.ErrInvalid},
		{in: "+", wantErr: atpdu.ErrInvalid},
		{in: "+33*1", wantErr: atpdu.ErrInvalid},
		{in: "+123456789012345678901", wantErr: atpdu.ErrTooLong},
		{in: "TwelveChars!", wantErr: atpdu.ErrTooLong},
		{in: "Ω日本", wantErr: atpdu.ErrInvalid},
	} {
		got, err := atpdu.ParseAddress(tc.in)
		if !errors.Is(err, tc.wantErr) || got != tc.want {
			t.Errorf("ParseAddress(%q) = %#v, %v; want %#v, %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSMSC(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		want      atpdu.Address
	}{
		{name: "stored SMSC", hex: "00", want: atpdu.Address{}},
		{name: "odd digits", hex: "07 91 72 83 01 00 10 F5", want: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "27381000015"}},
		{name: "even digits", hex: "07 91 13 26 04 00 00 F0", want: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "31624000000"}},
		{name: "TOA only", hex: "01 81", want: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pdu := append(unhex(t, tc.hex), 0x11, 0x22)
			smsc, tpdu, err := atpdu.SplitSMSC(pdu)
			if err != nil || smsc != tc.want || !bytes.Equal(tpdu, []byte{0x11, 0x22}) {
				t.Fatalf("SplitSMSC = %#v, %X, %v", smsc, tpdu, err)
			}
			out, err := atpdu.AppendSMSC(nil, smsc)
			if err != nil || !bytes.Equal(out, unhex(t, tc.hex)) {
				t.Errorf("AppendSMSC = %X, %v", out, err)
			}
		})
	}
	if _, _, err := atpdu.SplitSMSC(unhex(t, "0C 91 11 11 11 11 11 11 11 11 11 11 11")); !errors.Is(err, atpdu.ErrInvalid) {
		t.Errorf("12-octet SMSC: err = %v", err)
	}
	if _, err := atpdu.AppendSMSC(nil, atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "x"}); !errors.Is(err, atpdu.ErrInvalid) {
		t.Errorf("alphanumeric SMSC: err = %v", err)
	}
	if _, err := atpdu.CMGSLength(unhex(t, "07 91 72")); !errors.Is(err, atpdu.ErrTruncated) {
		t.Errorf("CMGSLength of a short prefix: err = %v", err)
	}
}
