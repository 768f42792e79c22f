package securedpacket_test

import (
	"errors"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// TestPolicyRules breaks each rule of LwM2M-TS 1.0 §7.2.2.2.3 alone and
// expects exactly its own error.
func TestPolicyRules(t *testing.T) {
	good := sp.Header{SPI: spi(0x16, 0x00), KIc: 0x12, KID: 0x12, TAR: sp.TAR{0xBF, 0xFF, 0x10}}
	aesKeys := &sp.Keys{KIc: seq(16, 1), KID: seq(16, 50)}
	tdes := sp.Header{SPI: spi(0x16, 0x39), KIc: 0x19, KID: 0x19, TAR: sp.TAR{0xB2, 0x02, 0x03}}
	tdesKeys := &sp.Keys{KIc: seq(24, 1), KID: seq(24, 50)}
	sameKeys := &sp.Keys{KIc: append(append(seq(8, 1), seq(8, 1)...), seq(8, 30)...), KID: seq(24, 50)}

	with := func(f func(*sp.Header)) sp.Header { h := good; f(&h); return h }
	for _, tc := range []struct {
		name string
		pol  sp.Policy
		h    sp.Header
		keys *sp.Keys
		want error
	}{
		{name: "AES ok", h: good, keys: aesKeys},
		{name: "3DES 3-key ok", h: tdes, keys: tdesKeys},
		{name: "no ciphering", h: with(func(h *sp.Header) { h.SPI.Ciphered = false }), want: sp.ErrPolicyCiphering},
		{name: "RC instead of CC", h: with(func(h *sp.Header) { h.SPI.Integrity = sp.IntegrityRC }), want: sp.ErrPolicyChecksum},
		{name: "no checksum", h: with(func(h *sp.Header) { h.SPI.Integrity = sp.IntegrityNone }), want: sp.ErrPolicyChecksum},
		{name: "counter one higher", h: with(func(h *sp.Header) { h.SPI.Counter = sp.CounterOneHigher }), want: sp.ErrPolicyCounter},
		{name: "no counter", h: with(func(h *sp.Header) { h.SPI.Counter = sp.CounterNone }), want: sp.ErrPolicyCounter},
		{name: "single DES", h: with(func(h *sp.Header) { h.KIc, h.KID = 0x11, 0x11 }), want: sp.ErrPolicySingleDES},
		{name: "DES-ECB KIc", h: with(func(h *sp.Header) { h.KIc, h.KID = 0x1D, 0x19 }), want: sp.ErrPolicySingleDES},
		{name: "3DES 2-key", h: with(func(h *sp.Header) { h.KIc, h.KID = 0x15, 0x15 }), want: sp.ErrPolicy3DESTwoKeys},
		{name: "3DES keys not distinct", h: tdes, keys: sameKeys, want: sp.ErrPolicy3DESSameKeys},
		{name: "AES KIc with 3DES KID", h: with(func(h *sp.Header) { h.KID = 0x19 }), want: sp.ErrPolicyAESMode},
		{name: "implicit algorithm", h: with(func(h *sp.Header) { h.KIc, h.KID = 0x10, 0x10 }), want: sp.ErrPolicyAlgorithm},
		{name: "proprietary algorithm", h: with(func(h *sp.Header) { h.KIc, h.KID = 0x13, 0x13 }), want: sp.ErrPolicyAlgorithm},
		{name: "TAR outside default ranges", h: with(func(h *sp.Header) { h.TAR = sp.TAR{0xB0, 0x00, 0x00} }), want: sp.ErrPolicyTAR},
		{name: "TAR outside configured range", pol: sp.Policy{TARs: []sp.TARRange{sp.DraftTAR}}, h: good, want: sp.ErrPolicyTAR},
		{name: "configured TAR", pol: sp.Policy{TARs: []sp.TARRange{{First: sp.TAR{1, 2, 3}, Last: sp.TAR{1, 2, 9}}}},
			h: with(func(h *sp.Header) { h.TAR = sp.TAR{1, 2, 5} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.pol.Check(tc.h, tc.keys)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			for _, other := range policyErrors {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("Check also reports %v", other)
				}
			}
		})
	}
}

var policyErrors = []error{
	sp.ErrPolicyCiphering, sp.ErrPolicyChecksum, sp.ErrPolicyCounter, sp.ErrPolicySingleDES,
	sp.ErrPolicy3DESTwoKeys, sp.ErrPolicy3DESSameKeys, sp.ErrPolicyAESMode, sp.ErrPolicyAlgorithm, sp.ErrPolicyTAR,
}

// TestPolicyReportsEveryRule: a packet breaking several rules names them all.
func TestPolicyReportsEveryRule(t *testing.T) {
	h := sp.Header{SPI: spi(0x00, 0x00), KIc: 0x01, KID: 0x05, TAR: sp.TAR{}}
	err := sp.Policy{}.Check(h, nil)
	for _, want := range []error{sp.ErrPolicyCiphering, sp.ErrPolicyChecksum, sp.ErrPolicyCounter,
		sp.ErrPolicySingleDES, sp.ErrPolicy3DESTwoKeys, sp.ErrPolicyTAR} {
		if !errors.Is(err, want) {
			t.Errorf("Check = %v, missing %v", err, want)
		}
	}
}
