package atpdu_test

import (
	"errors"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

func TestDecodeErrorFormat(t *testing.T) {
	// A SUBMIT cut inside TP-UD: UDL 4 announces 4 octets, 2 follow.
	_, err := atpdu.DecodeSubmit(unhex(t, "01 00 01 81 F1 00 04 04 AA BB"))
	var de *atpdu.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, not a *DecodeError", err)
	}
	if de.Field != "TP-UD" || de.Offset != 8 || !errors.Is(err, atpdu.ErrTruncated) {
		t.Errorf("got %+v", de)
	}
	if got, want := err.Error(), "atpdu: TP-UD at octet 8: truncated"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestWrongType(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func([]byte) error
		fo   byte
	}{
		{name: "deliver given submit", fn: func(b []byte) error { _, err := atpdu.DecodeDeliver(b); return err }, fo: 0x01},
		{name: "deliver given status report", fn: func(b []byte) error { _, err := atpdu.DecodeDeliver(b); return err }, fo: 0x02},
		{name: "submit given deliver", fn: func(b []byte) error { _, err := atpdu.DecodeSubmit(b); return err }, fo: 0x00},
		{name: "status report given deliver", fn: func(b []byte) error { _, err := atpdu.DecodeStatusReport(b); return err }, fo: 0x00},
		{name: "submit given reserved", fn: func(b []byte) error { _, err := atpdu.DecodeSubmit(b); return err }, fo: 0x03},
	} {
		err := tc.fn([]byte{tc.fo, 0, 0, 0})
		var de *atpdu.DecodeError
		if !errors.As(err, &de) || de.Field != "TP-MTI" || !errors.Is(err, atpdu.ErrWrongType) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// TestReservedMTIIsDeliver: TS 23.040 §9.2.3.1 tells a receiving MS to
// process a reserved TP-MTI (11) as an SMS-DELIVER.
func TestReservedMTIIsDeliver(t *testing.T) {
	tpdu := unhex(t, "07 01 81 F1 00 04 62 11 82 41 53 00 40 00")
	if typ, err := atpdu.TypeOf(tpdu); err != nil || typ != atpdu.TypeDeliver {
		t.Errorf("TypeOf = %v, %v", typ, err)
	}
	if d, err := atpdu.DecodeDeliver(tpdu); err != nil || !d.MMS {
		t.Errorf("DecodeDeliver = %+v, %v", d, err)
	}
	if _, err := atpdu.TypeOf(nil); !errors.Is(err, atpdu.ErrTruncated) {
		t.Errorf("TypeOf(nil): %v", err)
	}
	for typ, want := range map[atpdu.Type]string{atpdu.TypeDeliver: "SMS-DELIVER", atpdu.TypeSubmit: "SMS-SUBMIT", atpdu.TypeStatusReport: "SMS-STATUS-REPORT"} {
		if typ.String() != want {
			t.Errorf("%d.String() = %q", typ, typ.String())
		}
	}
}
