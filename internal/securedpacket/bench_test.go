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

// A PoR to a typical command: ciphered, with a cryptographic checksum, and
// 20 octets of additional data (secured-packet.md §5; TS 102 225 §5.2).
func benchResponse(alg int) (sp.Response, sp.Header, sp.Keys) {
	a := lwm2mAlgorithms[alg]
	// SPI second octet 0x39: PoR always (b2b1 01), CC (b4b3 10), ciphered
	// (b5), sent by SMS-SUBMIT (b6) (TS 102 225 §5.1.1).
	h := sp.Header{SPI: spi(0x16, 0x39), KIc: a.ref, KID: a.ref, TAR: sp.TAR{0xB2, 0x02, 0x03}}
	return sp.Response{TAR: h.TAR, Counter: 42, Status: sp.StatusOK, Data: seq(20, 0)}, h, a.keys
}

func BenchmarkSealResponse(b *testing.B) {
	for _, alg := range []int{0, 3} {
		r, h, keys := benchResponse(alg)
		b.Run(lwm2mAlgorithms[alg].name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 128)
			for b.Loop() {
				if _, err := sp.SealResponse(buf[:0], r, h, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenResponse(b *testing.B) {
	for _, alg := range []int{0, 3} {
		r, h, keys := benchResponse(alg)
		pkt, err := sp.SealResponse(nil, r, h, keys)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(lwm2mAlgorithms[alg].name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				p, err := sp.DecodeResponsePacket(pkt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Open(h, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
