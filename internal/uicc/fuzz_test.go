package uicc_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Each target: no panic; what decodes encodes and decodes again to the
// same value (and, where the coding is canonical, to the same bytes).

func FuzzDecodeDataRcv(f *testing.F) {
	f.Add(unhexF(dataRcv))
	f.Add(unhexF(dataRcv + dataRcv))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := uicc.DecodeDataRcv(b, uicc.DefaultCoAPTag)
		if err != nil {
			return
		}
		var re []byte
		for _, r := range recs {
			if re, err = uicc.AppendRecord(re, r, uicc.DefaultCoAPTag); err != nil {
				t.Fatalf("AppendRecord: %v", err)
			}
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x from %x", re, b)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{"00708001", "80CA000500", "0070000001", "80E2900003AABBCC", "00A4040406F04C574D324D00"} {
		f.Add(unhexF(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := uicc.DecodeCommand(b)
		if err != nil {
			return
		}
		re, err := c.Append(nil)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("Append = %x, %v; from %x", re, err, b)
		}
	})
}

func FuzzDecodeProactiveCommand(f *testing.F) {
	f.Add(unhexF(fetchSendSM))
	f.Add(unhexF(fetchDisplay))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := uicc.DecodeProactiveCommand(b)
		if err != nil {
			return
		}
		re, err := p.Append(nil)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		p2, err := uicc.DecodeProactiveCommand(re)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("second decode %+v, %v", p2, err)
		}
	})
}

func FuzzDecodeSMSPPDownload(f *testing.F) {
	f.Add(unhexF(envelopeVector))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := uicc.DecodeSMSPPDownload(b)
		if err != nil {
			return
		}
		re, err := d.Append(nil)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		d2, err := uicc.DecodeSMSPPDownload(re)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("second decode %+v, %v", d2, err)
		}
	})
}

func FuzzDecodeTerminalResponse(f *testing.F) {
	f.Add(unhexF(trSendSMOK))
	f.Add(unhexF(trDisplayBeyond))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := uicc.DecodeTerminalResponse(b)
		if err != nil {
			return
		}
		re, err := r.Append(nil)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		r2, err := uicc.DecodeTerminalResponse(re)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("second decode %+v, %v", r2, err)
		}
	})
}

func BenchmarkDecodeDataRcv(b *testing.B) {
	rec, err := uicc.AppendRecord(nil, uicc.Record{Address: uicc.Address(unhexF(serverAddr)), Message: bytes.Repeat([]byte{0x42}, 120)}, 5)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if _, err := uicc.DecodeDataRcv(rec, uicc.DefaultCoAPTag); err != nil {
			b.Fatal(err)
		}
	}
}

func unhexF(s string) []byte {
	b, err := hexDecode(s)
	if err != nil {
		panic(err)
	}
	return b
}
