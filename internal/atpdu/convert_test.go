package atpdu_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

func TestSubmitToDeliver(t *testing.T) {
	s := atpdu.Submit{RP: true, SRR: true, MR: 9, DA: oa, PID: atpdu.PIDUSIMDataDownload, DCS: 0xF6,
		UDH: atpdu.UDH{atpdu.CommandPacketIE()}, UD: []byte{1, 2, 3}}
	from := atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33609001390"}
	d := s.ToDeliver(from, ts2026)
	want := atpdu.Deliver{RP: true, SRI: true, MMS: true, OA: from, PID: atpdu.PIDUSIMDataDownload, DCS: 0xF6, SCTS: ts2026,
		UDH: atpdu.UDH{atpdu.CommandPacketIE()}, UD: []byte{1, 2, 3}}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %+v\nwant %+v", d, want)
	}
	s.UD[0] = 0xFF
	if d.UD[0] != 1 {
		t.Error("ToDeliver shares the user data")
	}
	if !d.SIMDataDownload() {
		t.Error("PID 7F class 2 is not a SIM data download")
	}
	b, err := d.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	// FO 0xE4: RP, UDHI, SRI, MMS; UDL 6 = 02 70 00 + 3 octets.
	if want := unhex(t, "E4 0B 91 33 06 09 10 93 F0 7F F6 62 11 82 41 53 00 00 06 02 70 00 01 02 03"); !bytes.Equal(b, want) {
		t.Errorf("got  %X\nwant %X", b, want)
	}
}

func TestSIMDataDownload(t *testing.T) {
	for _, tc := range []struct {
		pid  atpdu.PID
		dcs  atpdu.DCS
		want bool
	}{
		{pid: 0x7F, dcs: 0xF6, want: true},
		{pid: 0x7F, dcs: 0x16, want: true},
		{pid: 0x7F, dcs: 0xF5, want: false},
		{pid: 0x7F, dcs: 0x04, want: false},
		{pid: 0x00, dcs: 0xF6, want: false},
	} {
		if got := (atpdu.Deliver{PID: tc.pid, DCS: tc.dcs}).SIMDataDownload(); got != tc.want {
			t.Errorf("PID 0x%02X DCS 0x%02X: %v", byte(tc.pid), byte(tc.dcs), got)
		}
	}
}
