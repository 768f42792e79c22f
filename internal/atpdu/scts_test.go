package atpdu_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// deliverWithSCTS wraps 7 timestamp octets in a minimal SMS-DELIVER.
func deliverWithSCTS(tb testing.TB, scts string) []byte {
	tb.Helper()
	b := append(unhex(tb, "00 01 81 F1 00 04"), unhex(tb, scts)...)
	return append(b, 0x00)
}

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name, scts string
		want       time.Time
	}{
		{name: "spec digest §7 example", scts: "22 70 52 00 00 00 00", want: time.Date(2022, 7, 25, 0, 0, 0, 0, time.UTC)},
		{name: "+1h (TZ 0x40)", scts: "11 10 11 71 95 51 40", want: time.Date(2011, 1, 11, 17, 59, 15, 0, time.FixedZone("", 3600))},
		{name: "-5h (TZ 0x0A)", scts: "62 11 82 41 53 00 0A", want: time.Date(2026, 11, 28, 14, 35, 0, 0, time.FixedZone("", -5*3600))},
		{name: "+5:45 Nepal (TZ 0x32)", scts: "62 11 82 41 53 00 32", want: time.Date(2026, 11, 28, 14, 35, 0, 0, time.FixedZone("", 5*3600+45*60))},
		{name: "-3:30 Newfoundland (TZ 0x49)", scts: "62 11 82 41 53 00 49", want: time.Date(2026, 11, 28, 14, 35, 0, 0, time.FixedZone("", -(3*3600+30*60)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := atpdu.DecodeDeliver(deliverWithSCTS(t, tc.scts))
			if err != nil {
				t.Fatal(err)
			}
			got := d.SCTS.Time()
			_, off := got.Zone()
			_, wantOff := tc.want.Zone()
			if !got.Equal(tc.want) || off != wantOff {
				t.Errorf("SCTS = %s, want %s", got, tc.want)
			}
			ts, err := atpdu.TimestampOf(tc.want)
			if err != nil || ts != d.SCTS {
				t.Errorf("TimestampOf(%s) = %+v, %v; want %+v", tc.want, ts, err, d.SCTS)
			}
		})
	}
}

// TestTimestampNegativeZero: a TZ octet 0x08 (sign set, zero offset, seen
// in python-gsmmodem test PDUs) decodes as UTC and re-encodes as 0x00.
func TestTimestampNegativeZero(t *testing.T) {
	d, err := atpdu.DecodeDeliver(deliverWithSCTS(t, "20 80 62 91 73 14 08"))
	if err != nil || d.SCTS.TZ != 0 {
		t.Fatalf("SCTS %+v, %v", d.SCTS, err)
	}
}

func TestTimestampErrors(t *testing.T) {
	for _, scts := range []string{"2A 70 52 00 00 00 00", "22 70 52 00 00 00 A0"} {
		_, err := atpdu.DecodeDeliver(deliverWithSCTS(t, scts))
		var de *atpdu.DecodeError
		if !errors.As(err, &de) || de.Field != "TP-SCTS" || !errors.Is(err, atpdu.ErrInvalid) {
			t.Errorf("%s: err = %v", scts, err)
		}
	}
	for _, tm := range []time.Time{
		time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 20*3600)),
	} {
		if _, err := atpdu.TimestampOf(tm); !errors.Is(err, atpdu.ErrInvalid) {
			t.Errorf("TimestampOf(%s): err = %v", tm, err)
		}
	}
}
