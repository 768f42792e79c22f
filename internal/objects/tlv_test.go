package objects

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// deviceTLV is the "Read /3/0" response of LwM2M-TS 1.0 §6.4.3.1 (the
// single-instance Device example; excerpt in lwm2m.md §7.3).
const deviceTLV = `
C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
C8 02 09 33 34 35 30 30 30 31 32 33
C3 03 31 2E 30
86 06 41 00 01 41 01 05
88 07 08 42 00 0E D8 42 01 13 88
87 08 41 00 7D 42 01 03 84
C1 09 64
C1 0A 0F
83 0B 41 00 00
C4 0D 51 82 42 8F
C6 0E 2B 30 32 3A 30 30
C1 10 55`

// accessControlTLV is the "Read /2" response of LwM2M-TS 1.0 §6.4.3.2
// (two Access Control instances; the second ACL has a 16-bit resource
// instance ID 0x0136 = 310). 38 octets.
const accessControlTLV = `
08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F
08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F`

func res(id uint16, v ...byte) TLV { return TLV{Kind: TLVResource, ID: id, Value: v} }
func resInst(id uint16, v ...byte) TLV {
	return TLV{Kind: TLVResourceInstance, ID: id, Value: v}
}

func TestTLVVectors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want TLVs
	}{
		{name: "device /3/0 (§6.4.3.1)", hex: deviceTLV, want: TLVs{
			{Kind: TLVResource, ID: 0, Value: []byte("Open Mobile Alliance")},
			{Kind: TLVResource, ID: 1, Value: []byte("Lightweight M2M Client")},
			{Kind: TLVResource, ID: 2, Value: []byte("345000123")},
			{Kind: TLVResource, ID: 3, Value: []byte("1.0")},
			{Kind: TLVMultipleResource, ID: 6, Children: []TLV{resInst(0, 1), resInst(1, 5)}},
			{Kind: TLVMultipleResource, ID: 7, Children: []TLV{resInst(0, 0x0E, 0xD8), resInst(1, 0x13, 0x88)}},
			{Kind: TLVMultipleResource, ID: 8, Children: []TLV{resInst(0, 0x7D), resInst(1, 0x03, 0x84)}},
			res(9, 0x64),
			res(10, 0x0F),
			{Kind: TLVMultipleResource, ID: 11, Children: []TLV{resInst(0, 0)}},
			res(13, 0x51, 0x82, 0x42, 0x8F),
			{Kind: TLVResource, ID: 14, Value: []byte("+02:00")},
			{Kind: TLVResource, ID: 16, Value: []byte("U")},
		}},
		{name: "access control /2 (§6.4.3.2)", hex: accessControlTLV, want: TLVs{
			{Kind: TLVObjectInstance, ID: 0, Children: []TLV{
				res(0, 1), res(1, 0),
				{Kind: TLVMultipleResource, ID: 2, Children: []TLV{resInst(127, 7)}},
				res(3, 127),
			}},
			{Kind: TLVObjectInstance, ID: 2, Children: []TLV{
				res(0, 3), res(1, 0),
				{Kind: TLVMultipleResource, ID: 2, Children: []TLV{resInst(127, 7), resInst(310, 1)}},
				res(3, 127),
			}},
		}},
		// Table 21 field variants: 16-bit ID, 16- and 24-bit lengths,
		// an empty value and an empty multiple resource.
		{name: "16-bit id", hex: "E1 01 00 2A", want: TLVs{res(256, 0x2A)}},
		{name: "empty value", hex: "C0 05", want: TLVs{{Kind: TLVResource, ID: 5, Value: []byte{}}}},
		{name: "empty multiple resource", hex: "80 06", want: TLVs{{Kind: TLVMultipleResource, ID: 6, Children: []TLV{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			got, err := DecodeTLV(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !tlvEqual(got, tc.want) {
				t.Fatalf("decode = %+v\nwant %+v", got, tc.want)
			}
			enc, err := got.Append(nil)
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("re-encode = % X (%v)\nwant      % X", enc, err, b)
			}
			for n := 1; n < len(b); n++ {
				if _, err := DecodeTLV(b[:n]); err == nil && !validPrefixBoundary(b, n) {
					t.Errorf("strict prefix of %d bytes decoded", n)
				}
			}
		})
	}
}

// validPrefixBoundary: a TLV payload is a sequence, so cutting it exactly
// between two top-level entries yields a valid shorter payload; every
// other strict prefix must fail.
func validPrefixBoundary(b []byte, n int) bool {
	ts, err := DecodeTLV(b)
	if err != nil {
		return false
	}
	off := 0
	for _, e := range ts {
		enc, _ := e.Append(nil)
		off += len(enc)
		if off == n {
			return true
		}
	}
	return false
}

func TestTLVLongLengths(t *testing.T) {
	for _, n := range []int{7, 8, 255, 256, 65535, 65536, 70000} {
		v := bytes.Repeat([]byte{0x42}, n)
		b, err := TLVs{{Kind: TLVResource, ID: 1, Value: v}}.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		wantLenBytes := map[bool]int{true: 0}[n <= 7]
		switch {
		case n <= 7:
		case n <= 0xff:
			wantLenBytes = 1
		case n <= 0xffff:
			wantLenBytes = 2
		default:
			wantLenBytes = 3
		}
		if len(b) != 2+wantLenBytes+n {
			t.Errorf("len %d: encoded %d bytes", n, len(b))
		}
		got, err := DecodeTLV(b)
		if err != nil || !bytes.Equal(got[0].Value, v) {
			t.Errorf("len %d: round trip failed: %v", n, err)
		}
	}
	if _, err := (TLVs{{Kind: TLVResource, ID: 1, Value: make([]byte, 1<<24)}}).Append(nil); !errors.Is(err, ErrBadLength) {
		t.Errorf("oversized value: %v", err)
	}
}

func TestTLVNestingRules(t *testing.T) {
	for _, tc := range []struct{ name, hex string }{
		{name: "object instance inside object instance", hex: "02 00 00 00"},
		{name: "resource instance inside object instance", hex: "03 00 41 00 01"},
		{name: "resource inside multiple resource", hex: "83 06 C1 00 01"},
		{name: "truncated id", hex: "E1 01"},
		{name: "truncated length", hex: "C8 00"},
		{name: "truncated value", hex: "C3 00 01 02"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTLV(unhex(t, tc.hex))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DecodeError", err)
			}
		})
	}
}

func TestTLVValueTypes(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		hex  string
	}{
		{name: "int8", v: IntValue(-1), hex: "FF"},
		{name: "int8 max", v: IntValue(127), hex: "7F"},
		{name: "int16", v: IntValue(128), hex: "00 80"},
		{name: "int16 min", v: IntValue(-32768), hex: "80 00"},
		{name: "int32", v: IntValue(1 << 20), hex: "00 10 00 00"},
		{name: "int64", v: IntValue(math.MinInt64), hex: "80 00 00 00 00 00 00 00"},
		{name: "time (§6.4.3.1 /3/0/13)", v: UnixValue(1367491215), hex: "51 82 42 8F"},
		{name: "float32", v: FloatValue(1.5), hex: "3F C0 00 00"},
		{name: "float64", v: FloatValue(0.1), hex: "3F B9 99 99 99 99 99 9A"},
		{name: "bool true", v: BoolValue(true), hex: "01"},
		{name: "bool false", v: BoolValue(false), hex: "00"},
		{name: "objlnk", v: ObjlnkValue(Objlnk{Object: 2, Instance: 0xFFFF}), hex: "00 02 FF FF"},
		{name: "string", v: StringValue("U"), hex: "55"},
		{name: "opaque", v: OpaqueValue([]byte{0, 1, 2}), hex: "00 01 02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := appendTLVValue(nil, tc.v)
			if want := unhex(t, tc.hex); !bytes.Equal(b, want) {
				t.Fatalf("encode = % X, want % X", b, want)
			}
			got, err := parseTLVValue(b, tc.v.Type())
			if err != nil || !got.Equal(tc.v) {
				t.Fatalf("decode = %#v (%v), want %#v", got, err, tc.v)
			}
		})
	}
	for _, bad := range []struct {
		typ Type
		hex string
	}{
		{TypeInteger, "00 00 00"}, {TypeInteger, ""}, {TypeFloat, "00 00"}, {TypeBoolean, "02"},
		{TypeBoolean, "00 00"}, {TypeObjlnk, "00 00 00"}, {TypeString, "FF FE"}, {TypeNone, "00"},
	} {
		if _, err := parseTLVValue(unhex(t, bad.hex), bad.typ); err == nil {
			t.Errorf("%s % s accepted", bad.typ, bad.hex)
		}
	}
}

// TestTLVRoundTripGenerated: random entry trees encode and decode back.
func TestTLVRoundTripGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		ts := randomTLVs(rng, 0)
		b, err := ts.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeTLV(b)
		if err != nil {
			t.Fatalf("decode % X: %v", b, err)
		}
		if !tlvEqual(got, ts) {
			t.Fatalf("round trip mismatch\n got %+v\nwant %+v", got, ts)
		}
	}
}

func randomTLVs(rng *rand.Rand, level int) TLVs {
	n := rng.IntN(4)
	ts := TLVs{}
	for range n {
		id := uint16(rng.IntN(3)) * uint16(rng.IntN(400))
		switch {
		case level == 2:
			ts = append(ts, TLV{Kind: TLVResourceInstance, ID: id, Value: randBytes(rng)})
		case level == 0 && rng.IntN(3) == 0:
			ts = append(ts, TLV{Kind: TLVObjectInstance, ID: id, Children: randomTLVs(rng, 1)})
		case rng.IntN(3) == 0:
			ts = append(ts, TLV{Kind: TLVMultipleResource, ID: id, Children: randomTLVs(rng, 2)})
		default:
			ts = append(ts, TLV{Kind: TLVResource, ID: id, Value: randBytes(rng)})
		}
	}
	return ts
}

func randBytes(rng *rand.Rand) []byte {
	sizes := []int{0, 1, 7, 8, 255, 256, 300}
	b := make([]byte, sizes[rng.IntN(len(sizes))])
	for k := range b {
		b[k] = byte(rng.Uint32())
	}
	return b
}

// tlvEqual compares treating nil and empty slices alike.
func tlvEqual(a, b TLVs) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		x, y := a[k], b[k]
		if x.Kind != y.Kind || x.ID != y.ID || !bytes.Equal(x.Value, y.Value) || !tlvEqual(x.Children, y.Children) {
			return false
		}
	}
	return true
}

func TestTLVDecodeDoesNotAlias(t *testing.T) {
	b := unhex(t, "C1 00 01")
	ts, err := DecodeTLV(b)
	if err != nil {
		t.Fatal(err)
	}
	b[2] = 9
	if !reflect.DeepEqual(ts[0].Value, []byte{1}) {
		t.Fatalf("decoded value aliases input")
	}
}
