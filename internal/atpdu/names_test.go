package atpdu_test

import (
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{atpdu.TONUnknown.String(), "unknown"},
		{atpdu.TONInternational.String(), "international"},
		{atpdu.TONNational.String(), "national"},
		{atpdu.TONNetworkSpecific.String(), "network-specific"},
		{atpdu.TONSubscriber.String(), "subscriber"},
		{atpdu.TONAlphanumeric.String(), "alphanumeric"},
		{atpdu.TONAbbreviated.String(), "abbreviated"},
		{atpdu.TONReserved.String(), "reserved(7)"},
		{atpdu.CodingGSM7.String(), "gsm7"},
		{atpdu.Coding8Bit.String(), "8bit"},
		{atpdu.CodingUCS2.String(), "ucs2"},
		{atpdu.Coding(9).String(), "coding(9)"},
		{atpdu.VPFNone.String(), "none"},
		{atpdu.VPFRelative.String(), "relative"},
		{atpdu.VPFAbsolute.String(), "absolute"},
		{atpdu.VPFEnhanced.String(), "enhanced"},
		{atpdu.VPFormat(4).String(), "vpf(4)"},
		{atpdu.Type(3).String(), "type(3)"},
		{atpdu.StatusDelivered.String(), "delivered"},
		{atpdu.StatusValidityExpired.String(), "validity period expired"},
		{atpdu.Status(0x10).String(), "completed (0x10)"},
		{atpdu.Status(0x2F).String(), "temporary error, SC still trying (0x2F)"},
		{atpdu.Status(0x50).String(), "permanent error (0x50)"},
		{atpdu.Status(0x61).String(), "temporary error, SC stopped trying (0x61)"},
		{atpdu.Status(0x80).String(), "reserved (0x80)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestStatusCategories follows the ranges of TS 23.040 §9.2.3.15.
func TestStatusCategories(t *testing.T) {
	for v := range 256 {
		s := atpdu.Status(v)
		n := 0
		for _, b := range []bool{s.Completed(), s.Pending(), s.Failed()} {
			if b {
				n++
			}
		}
		if n != 1 {
			t.Errorf("status 0x%02X is in %d categories", v, n)
		}
		want := "failed"
		switch {
		case v < 0x20:
			want = "completed"
		case v < 0x40:
			want = "pending"
		}
		got := ""
		switch {
		case s.Completed():
			got = "completed"
		case s.Pending():
			got = "pending"
		case s.Failed():
			got = "failed"
		}
		if got != want {
			t.Errorf("status 0x%02X is %s, want %s", v, got, want)
		}
	}
}

func TestIEConstructors(t *testing.T) {
	h := atpdu.UDH{atpdu.Ports8IE(0x10, 0x20)}
	if dst, src, ok := h.Ports(); !ok || dst != 0x10 || src != 0x20 {
		t.Errorf("Ports8IE: %d %d %v", dst, src, ok)
	}
	if _, ok := h.Find(atpdu.IEICommandPacket); ok {
		t.Error("Find found a missing IE")
	}
	if h.Len() != 5 || (atpdu.UDH{}).Len() != 0 {
		t.Errorf("Len = %d", h.Len())
	}
}

func TestTextOfEachType(t *testing.T) {
	if s, err := (atpdu.StatusReport{UD: []byte("Hi")}).Text(); err != nil || s != "Hi" {
		t.Errorf("StatusReport.Text = %q, %v", s, err)
	}
	if _, err := (atpdu.StatusReport{DCS: 0x04}).Text(); err == nil {
		t.Error("8-bit StatusReport.Text: no error")
	}
	if _, err := (atpdu.Submit{DCS: 0xF6}).Text(); err == nil {
		t.Error("8-bit Submit.Text: no error")
	}
}
