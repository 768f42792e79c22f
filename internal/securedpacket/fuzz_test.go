package securedpacket_test

import (
	"bytes"
	"reflect"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// fuzzKeys opens whatever the fuzzer builds with every algorithm family.
var fuzzKeys = []sp.Keys{v1Keys, v2Keys, {KIc: seq(24, 1), KID: seq(24, 101)}}

// FuzzDecodeCommandPacket: no panic; an accepted packet re-encodes to the
// same bytes and decodes again to the same value; opening it with any key
// set never panics and never returns data on error.
func FuzzDecodeCommandPacket(f *testing.F) {
	f.Add(v1Packet)
	f.Add(v2Packet)
	for _, alg := range lwm2mAlgorithms {
		h := sp.Header{SPI: spi(0x16, 0x39), KIc: alg.ref, KID: alg.ref, TAR: sp.TAR{0xB2, 0x02, 0x03}}
		pkt, _ := sp.SealCommand(nil, sp.Command{Header: h, Counter: 7, Data: []byte{0x05, 0x02, 0x40, 0x01}}, alg.keys)
		f.Add(pkt)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := sp.DecodeCommandPacket(b)
		if err != nil {
			return
		}
		re, err := p.Append(nil)
		if err != nil {
			t.Fatalf("Append of a decoded packet: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoded\n %x\nfrom\n %x", re, b)
		}
		p2, err := sp.DecodeCommandPacket(re)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("second decode %+v, %v", p2, err)
		}
		for _, k := range fuzzKeys {
			c, err := p.Open(k, 0)
			if err != nil && c.Data != nil {
				t.Fatalf("Open returned data with %v", err)
			}
		}
	})
}

// FuzzDecodeResponsePacket: as FuzzDecodeCommandPacket for PoRs.
func FuzzDecodeResponsePacket(f *testing.F) {
	f.Add(v1PoRUD[3:])
	f.Add(v3PoRUD[3:])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := sp.DecodeResponsePacket(b)
		if err != nil {
			return
		}
		re, err := p.Append(nil)
		if err != nil {
			t.Fatalf("Append of a decoded packet: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoded\n %x\nfrom\n %x", re, b)
		}
		p2, err := sp.DecodeResponsePacket(re)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("second decode %+v, %v", p2, err)
		}
		for _, h := range []sp.Header{v1Cmd.Header, v3Cmd} {
			for _, k := range fuzzKeys {
				r, err := p.Open(h, k)
				if err != nil && r.Data != nil {
					t.Fatalf("Open returned data with %v", err)
				}
			}
		}
	})
}

// FuzzDecodeUserData: no panic, exact re-encoding, and the assembler takes
// whatever decodes without panicking.
func FuzzDecodeUserData(f *testing.F) {
	f.Add(sp.AppendCommandUserData(nil, v1Packet))
	f.Add(v1PoRUD)
	f.Add(mustHex("070003420301700000"))
	f.Add(mustHex("05000342030201"))
	var a sp.Assembler
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := sp.DecodeUserData(b)
		if err != nil {
			return
		}
		re, err := u.Append(nil)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("Append = %x, %v; from %x", re, err, b)
		}
		_, _, _ = a.Add("fuzz", u)
	})
}
