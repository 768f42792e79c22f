package securedpacket_test

import (
	"bytes"
	"errors"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

func TestUserDataVectors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ud     []byte
		kind   sp.Kind
		concat *sp.Concat
	}{
		// secured-packet.md §1 / V1: single command packet.
		{name: "CPI", ud: sp.AppendCommandUserData(nil, v1Packet), kind: sp.KindCommand},
		// secured-packet.md §11 V1 PoR from a card.
		{name: "RPI", ud: v1PoRUD, kind: sp.KindResponse},
		// secured-packet.md §8: first part of a concatenated command packet.
		{name: "first part", ud: mustHex("070003420301700000"), kind: sp.KindCommand,
			concat: &sp.Concat{Ref: 0x42, Total: 3, Seq: 1}},
		// sms-pdu.md §9: a later part, 8-bit reference.
		{name: "later part", ud: mustHex("05000342030201"), concat: &sp.Concat{Ref: 0x42, Total: 3, Seq: 2}},
		// TS 23.040 §9.2.3.24.8: 16-bit reference, plus an unknown IE kept.
		{name: "16-bit ref", ud: mustHex("0b08041234020124010070 00ff"), kind: sp.KindCommand,
			concat: &sp.Concat{Ref: 0x1234, Total: 2, Seq: 1, Wide: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := sp.DecodeUserData(tc.ud)
			if err != nil {
				t.Fatalf("DecodeUserData: %v", err)
			}
			if u.Kind() != tc.kind {
				t.Errorf("Kind = %v, want %v", u.Kind(), tc.kind)
			}
			c, ok := u.Concat()
			if (tc.concat != nil) != ok || ok && c != *tc.concat {
				t.Errorf("Concat = %+v %v", c, ok)
			}
			re, err := u.Append(nil)
			if err != nil || !bytes.Equal(re, tc.ud) {
				t.Errorf("Append = %x, %v", re, err)
			}
		})
	}
	for _, bad := range []string{"", "05", "027001", "0370", "03000201", "020001"} {
		if _, err := sp.DecodeUserData(mustHex(bad)); err == nil {
			t.Errorf("DecodeUserData(%s) accepted", bad)
		}
	}
}

// TestConcatenation splits a long command packet, delivers the parts out of
// order with a duplicate and a stray packet in between, and reassembles it.
func TestConcatenation(t *testing.T) {
	alg := lwm2mAlgorithms[0]
	h := sp.Header{SPI: spi(0x16, 0x00), KIc: alg.ref, KID: alg.ref, TAR: sp.TAR{0xB2, 0x02, 0x03}}
	pkt, err := sp.SealCommand(nil, sp.Command{Header: h, Counter: 1, Data: seq(400, 0)}, alg.keys)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := sp.SplitCommand(pkt, 0x42)
	if err != nil {
		t.Fatalf("SplitCommand: %v", err)
	}
	if len(parts) != 4 {
		t.Fatalf("%d parts for %d octets", len(parts), len(pkt))
	}
	for i, p := range parts {
		if len(p) > sp.MaxUserData {
			t.Errorf("part %d: %d octets", i+1, len(p))
		}
	}
	if !bytes.HasPrefix(parts[0], []byte{0x07, 0x00, 0x03, 0x42, 0x04, 0x01, 0x70, 0x00}) ||
		!bytes.HasPrefix(parts[1], []byte{0x05, 0x00, 0x03, 0x42, 0x04, 0x02}) {
		t.Errorf("headers %x / %x", parts[0][:8], parts[1][:6])
	}
	var a sp.Assembler
	add := func(src string, ud []byte) ([]byte, bool) {
		t.Helper()
		u, err := sp.DecodeUserData(ud)
		if err != nil {
			t.Fatal(err)
		}
		got, done, err := a.Add(src, u)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		return got, done
	}
	for _, i := range []int{2, 0, 2, 3} {
		if _, done := add("+33600000003", parts[i]); done {
			t.Fatalf("complete after part %d", i+1)
		}
	}
	// A single-SMS packet from elsewhere passes straight through.
	if got, done := add("+33600000009", sp.AppendCommandUserData(nil, v1Packet)); !done || !bytes.Equal(got, v1Packet) {
		t.Errorf("single packet: %x %v", got, done)
	}
	got, done := add("+33600000003", parts[1])
	if !done || !bytes.Equal(got, pkt) {
		t.Fatalf("reassembled %v %x", done, got)
	}
	if a.Pending() != 0 {
		t.Errorf("%d pending", a.Pending())
	}
	if _, err := sp.DecodeCommandPacket(got); err != nil {
		t.Errorf("reassembled packet: %v", err)
	}
	// A first part without the CPI is refused.
	u, _ := sp.DecodeUserData(mustHex("05000342020100"))
	if _, _, err := a.Add("x", u); !errors.Is(err, sp.ErrNotSecuredPacket) {
		t.Errorf("first part without CPI: %v", err)
	}
}

func TestAssemblerBounded(t *testing.T) {
	a := sp.Assembler{Max: 2}
	for ref := byte(0); ref < 5; ref++ {
		u, _ := sp.DecodeUserData([]byte{0x05, 0x00, 0x03, ref, 0x02, 0x02, 0xAA})
		if _, _, err := a.Add("s", u); err != nil {
			t.Fatal(err)
		}
	}
	if a.Pending() != 2 {
		t.Errorf("Pending = %d, want 2", a.Pending())
	}
}
