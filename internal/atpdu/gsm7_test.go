package atpdu_test

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// gsm7Table is TS 23.038 §6.2.1 written out row by row, independently of
// the package's table.
const gsm7Table = "@£$¥èéùìòÇ\nØø\rÅå" + "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ" + " !\"#¤%&'()*+,-./" + "0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" + "PQRSTUVWXYZÄÖÑÜ§" + "¿abcdefghijklmno" + "pqrstuvwxyzäöñüà"

func TestGSM7DefaultAlphabet(t *testing.T) {
	if n := utf8.RuneCountInString(gsm7Table); n != 128 {
		t.Fatalf("test table has %d characters", n)
	}
	i := 0
	for _, r := range gsm7Table {
		if r == 0x1b {
			i++
			continue
		}
		got, err := atpdu.EncodeGSM7(string(r))
		if err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Errorf("EncodeGSM7(%q) = %X, %v; want %02X", r, got, err, i)
		}
		if back := atpdu.DecodeGSM7([]byte{byte(i)}); back != string(r) {
			t.Errorf("DecodeGSM7(%02X) = %q, want %q", i, back, r)
		}
		i++
	}
}

func TestGSM7Extension(t *testing.T) {
	// TS 23.038 §6.2.1.1 extension table.
	for r, code := range map[rune]byte{'\f': 0x0A, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F, '[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65} {
		got, err := atpdu.EncodeGSM7(string(r))
		if err != nil || !bytes.Equal(got, []byte{0x1B, code}) {
			t.Errorf("EncodeGSM7(%q) = %X, %v", r, got, err)
		}
		if back := atpdu.DecodeGSM7(got); back != string(r) {
			t.Errorf("DecodeGSM7(%X) = %q", got, back)
		}
	}
	// Undefined extension code: the default-table character; a trailing
	// escape: a space (TS 23.038 §6.2.1 note 1, §6.2.1.1 note).
	if got := atpdu.DecodeGSM7([]byte{0x1B, 0x41, 0x42, 0x1B}); got != "AB " {
		t.Errorf("got %q", got)
	}
	if _, err := atpdu.EncodeGSM7("日本"); !errors.Is(err, atpdu.ErrInvalid) {
		t.Errorf("EncodeGSM7 of CJK: err = %v", err)
	}
}

// TestGSM7PackingVector: "hellohello" packs to E8329BFD4697D9EC37 (the
// dreamfabric.com example, also in the vectors).
func TestGSM7PackingVector(t *testing.T) {
	s := atpdu.Submit{DA: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "46708251358"},
		VP: atpdu.ValidityPeriod{Format: atpdu.VPFRelative, Relative: 0xAA}, UD: septets(t, "hellohello")}
	out, err := s.Append(nil)
	if err != nil || !bytes.Equal(out, unhex(t, "11000B916407281553F80000AA0AE8329BFD4697D9EC37")) {
		t.Errorf("got %X, %v", out, err)
	}
}

func TestUCS2(t *testing.T) {
	for _, tc := range []struct {
		s   string
		hex string
	}{
		{s: "łóśćąę", hex: "014200F3015B010701050119"},
		{s: "Ω€", hex: "03A920AC"},
		{s: "😀", hex: "D83DDE00"}, // surrogate pair
	} {
		if got := atpdu.EncodeUCS2(tc.s); !bytes.Equal(got, unhex(t, tc.hex)) {
			t.Errorf("EncodeUCS2(%q) = %X", tc.s, got)
		}
		if got := atpdu.DecodeUCS2(unhex(t, tc.hex)); got != tc.s {
			t.Errorf("DecodeUCS2(%s) = %q", tc.hex, got)
		}
	}
	if got := atpdu.DecodeUCS2([]byte{0x00, 0x41, 0x00}); got != "A\uFFFD" {
		t.Errorf("odd length: %q", got)
	}
}

func TestEncodeText(t *testing.T) {
	if c, ud := atpdu.EncodeText("Hi {x}"); c != atpdu.CodingGSM7 || len(ud) != 8 {
		t.Errorf("GSM text: %s %X", c, ud)
	}
	if c, ud := atpdu.EncodeText("Grüße 日本"); c != atpdu.CodingUCS2 || len(ud) != 16 {
		t.Errorf("UCS2 text: %s %X", c, ud)
	}
	if _, err := (atpdu.Deliver{DCS: 0x04}).Text(); !errors.Is(err, atpdu.ErrNotText) {
		t.Errorf("8-bit Text: %v", err)
	}
}
