package securedpacket_test

import (
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// A typical LwM2M command: a 100-octet CoAP message in its BER-TLV.
func benchCommand(alg int) (sp.Command, sp.Keys) {
	a := lwm2mAlgorithms[alg]
	h := sp.Header{SPI: spi(0x16, 0x00), KIc: a.ref, KID: a.ref, TAR: sp.TAR{0xB2, 0x02, 0x03}}
	return sp.Command{Header: h, Counter: 42, Data: seq(102, 0)}, a.keys
}

func BenchmarkSealCommand(b *testing.B) {
	for _, alg := range []int{0, 3} {
		c, keys := benchCommand(alg)
		b.Run(lwm2mAlgorithms[alg].name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				if _, err := sp.SealCommand(buf[:0], c, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenCommand(b *testing.B) {
	for _, alg := range []int{0, 3} {
		c, keys := benchCommand(alg)
		pkt, err := sp.SealCommand(nil, c, keys)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(lwm2mAlgorithms[alg].name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				p, err := sp.DecodeCommandPacket(pkt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Open(keys, 41); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeCommandPacket(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sp.DecodeCommandPacket(v1Packet); err != nil {
			b.Fatal(err)
		}
	}
}
