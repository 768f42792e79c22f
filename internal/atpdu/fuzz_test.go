package atpdu_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// addSeeds adds the TPDUs of every vector (and of the element tests) whose
// type is want. More seeds live in testdata/fuzz/<target>/.
func addSeeds(f *testing.F, want atpdu.Type) {
	for _, v := range vectors(f) {
		_, tpdu, err := atpdu.SplitSMSC(unhex(f, v.pdu))
		if err != nil {
			f.Fatal(err)
		}
		if t, _ := atpdu.TypeOf(tpdu); t == want {
			f.Add(tpdu)
		}
	}
}

// checkStable is the fuzz property (style rule 7d): a decoded value
// encodes, the encoding decodes to the same value, and encoding is then a
// fixed point. It also checks that the value does not alias the input.
func checkStable[T any](t *testing.T, in []byte, decode func([]byte) (T, error), enc func(T) ([]byte, error)) {
	v, err := decode(in)
	if err != nil {
		return
	}
	b1, err := enc(v)
	if err != nil {
		t.Fatalf("decoded %X to %+v, which does not encode: %v", in, v, err)
	}
	v2, err := decode(b1)
	if err != nil {
		t.Fatalf("re-encoded %X to %X, which does not decode: %v", in, b1, err)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("unstable:\n in %X\n v1 %+v\n re %X\n v2 %+v", in, v, b1, v2)
	}
	b2, _ := enc(v2)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("encoding not a fixed point: %X then %X", b1, b2)
	}
	for i := range in {
		in[i] ^= 0xFF
	}
	if b3, _ := enc(v); !bytes.Equal(b1, b3) {
		t.Fatalf("decoded value aliases its input")
	}
}

func FuzzDecodeDeliver(f *testing.F) {
	addSeeds(f, atpdu.TypeDeliver)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkStable(t, in, atpdu.DecodeDeliver, func(d atpdu.Deliver) ([]byte, error) { return d.Append(nil) })
	})
}

func FuzzDecodeSubmit(f *testing.F) {
	addSeeds(f, atpdu.TypeSubmit)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkStable(t, in, atpdu.DecodeSubmit, func(s atpdu.Submit) ([]byte, error) { return s.Append(nil) })
	})
}

func FuzzDecodeStatusReport(f *testing.F) {
	addSeeds(f, atpdu.TypeStatusReport)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkStable(t, in, atpdu.DecodeStatusReport, func(s atpdu.StatusReport) ([]byte, error) { return s.Append(nil) })
	})
}

// FuzzSplitSMSC: the SMSC prefix splits, re-appends to the same prefix or
// a canonical one that splits to the same address, and never panics.
func FuzzSplitSMSC(f *testing.F) {
	for _, v := range vectors(f) {
		f.Add(unhex(f, v.pdu))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		smsc, tpdu, err := atpdu.SplitSMSC(in)
		if err != nil {
			return
		}
		n, err := atpdu.CMGSLength(in)
		if err != nil || n != len(tpdu) {
			t.Fatalf("CMGSLength %d, %v; TPDU %d octets", n, err, len(tpdu))
		}
		p, err := atpdu.AppendSMSC(nil, smsc)
		if err != nil {
			t.Fatalf("SMSC %+v from %X does not encode: %v", smsc, in, err)
		}
		smsc2, rest, err := atpdu.SplitSMSC(append(p, tpdu...))
		if err != nil || smsc2 != smsc || !bytes.Equal(rest, tpdu) {
			t.Fatalf("unstable: %+v %X → %+v %X %v", smsc, tpdu, smsc2, rest, err)
		}
	})
}

// FuzzGSM7 checks the alphabet: decode → encode → decode is stable.
func FuzzGSM7(f *testing.F) {
	f.Add([]byte("hello\x1b\x65\x1b"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := atpdu.DecodeGSM7(in)
		sep, err := atpdu.EncodeGSM7(s)
		if err != nil {
			t.Fatalf("DecodeGSM7(%X) = %q does not encode: %v", in, s, err)
		}
		if s2 := atpdu.DecodeGSM7(sep); s2 != s {
			t.Fatalf("unstable: %q → %X → %q", s, sep, s2)
		}
	})
}

// FuzzDecodeAddress: the bare address field (the UICC's data_rcv address)
// decodes stably and never panics.
func FuzzDecodeAddress(f *testing.F) {
	for _, s := range []string{"0B91947112325 4F6", "0881214365 87", "0DD0E474D81C0EBB01", "0581BADCFE", "0081"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkStable(t, in, atpdu.DecodeAddress, func(a atpdu.Address) ([]byte, error) { return atpdu.AppendAddress(nil, a) })
	})
}
