package atpdu_test

import (
	"errors"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// TestDCS checks the groups of TS 23.038 §4 and the bytes listed in the
// spec digest sms-pdu.md §6.
func TestDCS(t *testing.T) {
	for _, tc := range []struct {
		dcs        atpdu.DCS
		coding     atpdu.Coding
		class      atpdu.MessageClass
		compressed bool
	}{
		{dcs: 0x00, coding: atpdu.CodingGSM7, class: atpdu.ClassNone},
		{dcs: 0x04, coding: atpdu.Coding8Bit, class: atpdu.ClassNone},
		{dcs: 0x08, coding: atpdu.CodingUCS2, class: atpdu.ClassNone},
		{dcs: 0x0C, coding: atpdu.CodingGSM7, class: atpdu.ClassNone}, // reserved alphabet → GSM 7-bit
		{dcs: 0x10, coding: atpdu.CodingGSM7, class: atpdu.Class0},
		{dcs: 0x16, coding: atpdu.Coding8Bit, class: atpdu.Class2},
		{dcs: 0x19, coding: atpdu.CodingUCS2, class: atpdu.Class1},
		{dcs: 0x03, coding: atpdu.CodingGSM7, class: atpdu.ClassNone}, // class bits without b4
		{dcs: 0x24, coding: atpdu.Coding8Bit, class: atpdu.ClassNone, compressed: true},
		{dcs: 0x44, coding: atpdu.Coding8Bit, class: atpdu.ClassNone}, // automatic deletion group
		{dcs: 0x84, coding: atpdu.CodingGSM7, class: atpdu.ClassNone}, // reserved group → GSM 7-bit
		{dcs: 0xC0, coding: atpdu.CodingGSM7, class: atpdu.ClassNone}, // MWI discard
		{dcs: 0xD8, coding: atpdu.CodingGSM7, class: atpdu.ClassNone}, // MWI store
		{dcs: 0xE0, coding: atpdu.CodingUCS2, class: atpdu.ClassNone}, // MWI store UCS2
		{dcs: 0xF0, coding: atpdu.CodingGSM7, class: atpdu.Class0},
		{dcs: 0xF4, coding: atpdu.Coding8Bit, class: atpdu.Class0},
		{dcs: 0xF5, coding: atpdu.Coding8Bit, class: atpdu.Class1},
		{dcs: 0xF6, coding: atpdu.Coding8Bit, class: atpdu.Class2},
		{dcs: 0xF7, coding: atpdu.Coding8Bit, class: atpdu.Class3},
	} {
		if got := tc.dcs.Coding(); got != tc.coding {
			t.Errorf("DCS 0x%02X Coding = %s, want %s", byte(tc.dcs), got, tc.coding)
		}
		if got := tc.dcs.Class(); got != tc.class {
			t.Errorf("DCS 0x%02X Class = %d, want %d", byte(tc.dcs), got, tc.class)
		}
		if got := tc.dcs.Compressed(); got != tc.compressed {
			t.Errorf("DCS 0x%02X Compressed = %v", byte(tc.dcs), got)
		}
	}
	if !atpdu.DCS(0x44).AutoDelete() || atpdu.DCS(0x04).AutoDelete() {
		t.Error("AutoDelete wrong")
	}
}

func TestNewDCS(t *testing.T) {
	for _, tc := range []struct {
		coding atpdu.Coding
		class  atpdu.MessageClass
		want   atpdu.DCS
	}{
		{coding: atpdu.CodingGSM7, class: atpdu.ClassNone, want: 0x00},
		{coding: atpdu.Coding8Bit, class: atpdu.ClassNone, want: 0x04},
		{coding: atpdu.CodingUCS2, class: atpdu.ClassNone, want: 0x08},
		{coding: atpdu.Coding8Bit, class: atpdu.Class2, want: 0xF6},
		{coding: atpdu.Coding8Bit, class: atpdu.Class1, want: 0xF5},
		{coding: atpdu.CodingGSM7, class: atpdu.Class0, want: 0xF0},
		{coding: atpdu.CodingUCS2, class: atpdu.Class3, want: 0x1B},
	} {
		got, err := atpdu.NewDCS(tc.coding, tc.class)
		if err != nil || got != tc.want {
			t.Errorf("NewDCS(%s, %d) = 0x%02X, %v; want 0x%02X", tc.coding, tc.class, byte(got), err, byte(tc.want))
		}
		if got.Coding() != tc.coding || got.Class() != tc.class {
			t.Errorf("NewDCS(%s, %d) reads back as %s, %d", tc.coding, tc.class, got.Coding(), got.Class())
		}
	}
	if _, err := atpdu.NewDCS(atpdu.Coding8Bit, 4); !errors.Is(err, atpdu.ErrInvalid) {
		t.Errorf("class 4: err = %v", err)
	}
}

// TestCompressedRejected: TS 23.038 §4 compression is refused on decode and
// on encode with ErrCompressed, naming TP-DCS.
func TestCompressedRejected(t *testing.T) {
	tpdu := unhex(t, "04 04 81 21 43 00 24 62 11 82 41 53 00 40 01 AA")
	_, err := atpdu.DecodeDeliver(tpdu)
	var de *atpdu.DecodeError
	if !errors.As(err, &de) || de.Field != "TP-DCS" || de.Offset != 6 || !errors.Is(err, atpdu.ErrCompressed) {
		t.Errorf("decode: err = %v", err)
	}
	if _, err := (atpdu.Submit{DCS: 0x24}).Append(nil); !errors.Is(err, atpdu.ErrCompressed) {
		t.Errorf("encode: err = %v", err)
	}
}
