package atpdu_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// TestRelativeVP checks TS 23.040 §9.2.3.12.1 and that a requested
// validity is never shortened (the warthog618/sms v0.3.0 defect encoded
// 5 min as 10 min and rounded other values down).
func TestRelativeVP(t *testing.T) {
	const m, h, d, w = time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour
	for _, tc := range []struct {
		in   time.Duration
		want byte
	}{
		{in: 0, want: 0},
		{in: time.Second, want: 0},
		{in: 5 * m, want: 0},
		{in: 5*m + time.Nanosecond, want: 1},
		{in: 10 * m, want: 1},
		{in: h, want: 11},
		{in: 12 * h, want: 143},
		{in: 12*h + time.Second, want: 144},
		{in: 12*h + 30*m, want: 144},
		{in: 24 * h, want: 167},
		{in: 24*h + time.Second, want: 168},
		{in: 2 * d, want: 168},
		{in: 3 * d, want: 169},
		{in: 4 * d, want: 170},
		{in: 30 * d, want: 196},
		{in: 30*d + time.Second, want: 197},
		{in: 5 * w, want: 197},
		{in: 63 * w, want: 255},
	} {
		vp, err := atpdu.RelativeVP(tc.in)
		if err != nil || vp.Format != atpdu.VPFRelative || vp.Relative != tc.want {
			t.Errorf("RelativeVP(%s) = %+v, %v; want octet %d", tc.in, vp, err, tc.want)
			continue
		}
		if got, ok := vp.Duration(); !ok || got < tc.in {
			t.Errorf("RelativeVP(%s).Duration() = %s, shorter than requested", tc.in, got)
		}
	}
	for _, bad := range []time.Duration{-time.Second, 63*w + time.Nanosecond} {
		if _, err := atpdu.RelativeVP(bad); err == nil {
			t.Errorf("RelativeVP(%s): no error", bad)
		}
	}
}

// TestRelativeVPAllOctets: for every octet, its duration maps back to it,
// and durations grow strictly.
func TestRelativeVPAllOctets(t *testing.T) {
	prev := time.Duration(0)
	for v := range 256 {
		d := atpdu.RelativeDuration(byte(v))
		if d <= prev {
			t.Errorf("RelativeDuration(%d) = %s, not above %s", v, d, prev)
		}
		prev = d
		vp, err := atpdu.RelativeVP(d)
		if err != nil || vp.Relative != byte(v) {
			t.Errorf("RelativeVP(RelativeDuration(%d) = %s) = %d, %v", v, d, vp.Relative, err)
		}
	}
	if atpdu.RelativeDuration(0) != 5*time.Minute || atpdu.RelativeDuration(255) != 63*7*24*time.Hour {
		t.Error("RelativeDuration ends wrong")
	}
}

func TestEnhancedVP(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want [7]byte
		dur  time.Duration
	}{
		{in: 30 * time.Second, want: [7]byte{0x02, 30}, dur: 30 * time.Second},
		{in: 1500 * time.Millisecond, want: [7]byte{0x02, 2}, dur: 2 * time.Second},
		{in: 255 * time.Second, want: [7]byte{0x02, 255}, dur: 255 * time.Second},
		{in: 256 * time.Second, want: [7]byte{0x03, 0x00, 0x40, 0x61}, dur: 256 * time.Second},
		{in: 25*time.Hour + 59*time.Minute + 3*time.Second, want: [7]byte{0x03, 0x52, 0x95, 0x30}, dur: 25*time.Hour + 59*time.Minute + 3*time.Second},
	} {
		vp, err := atpdu.EnhancedVP(tc.in)
		if err != nil || vp.Format != atpdu.VPFEnhanced || vp.Enhanced != tc.want {
			t.Errorf("EnhancedVP(%s) = % X, %v; want % X", tc.in, vp.Enhanced, err, tc.want)
		}
		if d, ok := vp.Duration(); !ok || d != tc.dur {
			t.Errorf("EnhancedVP(%s).Duration() = %s, %v; want %s", tc.in, d, ok, tc.dur)
		}
	}
	if _, err := atpdu.EnhancedVP(100 * time.Hour); err == nil {
		t.Error("EnhancedVP(100h): no error")
	}
	// Enhanced format 001 (relative octet) and a reserved format.
	if d, ok := (atpdu.ValidityPeriod{Format: atpdu.VPFEnhanced, Enhanced: [7]byte{0x01, 0xA9}}).Duration(); !ok || d != 72*time.Hour {
		t.Errorf("enhanced relative: %s %v", d, ok)
	}
	if _, ok := (atpdu.ValidityPeriod{Format: atpdu.VPFEnhanced, Enhanced: [7]byte{0x07}}).Duration(); ok {
		t.Error("reserved enhanced format has a duration")
	}
	if _, ok := (atpdu.ValidityPeriod{Format: atpdu.VPFNone}).Duration(); ok {
		t.Error("no VP has a duration")
	}
}

func TestAbsoluteVP(t *testing.T) {
	at := time.Date(2026, 11, 28, 14, 35, 0, 0, time.FixedZone("", -5*3600))
	vp, err := atpdu.AbsoluteVP(at)
	if err != nil {
		t.Fatal(err)
	}
	s := atpdu.Submit{DA: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "1"}, VP: vp}
	out, err := s.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	// FO 0x19 (VPF 11), TZ −20 quarters = 0x0A (units 0 high, sign b3, tens 2).
	want := unhex(t, "19 00 01 81 F1 00 00 62 11 82 41 53 00 0A 00")
	if !bytes.Equal(out, want) {
		t.Errorf("got %X want %X", out, want)
	}
	if _, err := atpdu.AbsoluteVP(time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 20*60))); !errors.Is(err, atpdu.ErrInvalid) {
		t.Errorf("20-minute offset: err = %v", err)
	}
}
