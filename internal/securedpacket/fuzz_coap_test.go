package securedpacket_test

import (
	"bytes"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// FuzzDecodeCoAP: the secured data inside an opened command packet is
// whatever the sender put there. No panic; only the minimal (DER) length
// forms are accepted, so what decodes re-encodes to the same bytes; the
// message does not alias the input.
func FuzzDecodeCoAP(f *testing.F) {
	for _, n := range []int{0, 4, 0x7F, 0x80, 0xFF, 0x100} {
		b, err := sp.AppendCoAP(nil, bytes.Repeat([]byte{0x40}, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x05, 0x81, 0x05, 0x40, 0x01, 0x12, 0x34, 0xFF}) // non-minimal length
	f.Add([]byte{0x05, 0x83, 0x00, 0x00, 0x01})                   // long form beyond 2 octets
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := sp.DecodeCoAP(b)
		if err != nil {
			if m != nil {
				t.Fatalf("message %x returned with %v", m, err)
			}
			return
		}
		re, err := sp.AppendCoAP(nil, m)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x, %v; from %x", re, err, b)
		}
		if len(m) > 0 {
			in := append([]byte(nil), b...)
			m[0] ^= 0xFF
			if !bytes.Equal(b, in) {
				t.Fatal("message aliases the input")
			}
		}
	})
}
