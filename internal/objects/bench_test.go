package objects

import (
	"sync"
	"testing"
)

func BenchmarkDecodeTLV(b *testing.B) {
	for _, bc := range []struct{ name, hex string }{{"device", deviceTLV}, {"access_control", accessControlTLV}} {
		in := unhex(b, bc.hex)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := DecodeTLV(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendTLV(b *testing.B) {
	for _, bc := range []struct{ name, hex string }{{"device", deviceTLV}, {"access_control", accessControlTLV}} {
		ts, err := DecodeTLV(unhex(b, bc.hex))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				if _, err := ts.Append(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadDeviceTLV(b *testing.B) {
	tr := specTree(b)
	p := InstancePath(3, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, code := tr.Read(Server(101), p, FormatTLV); code != Content {
			b.Fatal(code)
		}
	}
}

// TestConcurrentOperations runs reads, writes, attribute writes and
// executes from several goroutines (meaningful under -race).
func TestConcurrentOperations(t *testing.T) {
	tr := specTree(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 200 {
				switch (g + k) % 5 {
				case 0:
					tr.Read(Server(101), InstancePath(3, 0), FormatJSON)
				case 1:
					tr.Write(Server(101), ResourcePath(1, 0, 1), WriteReplace, FormatText, []byte("300"))
				case 2:
					tr.WriteAttributes(Server(101), ResourcePath(3, 0, 9), []string{"pmin=1"})
				case 3:
					tr.Discover(Server(101), ObjectPath(3))
				case 4:
					tr.RaiseError(ErrorLowSignal)
					tr.ClearErrors()
				}
			}
		})
	}
	wg.Wait()
	if v := ValueOf(t, tr, "/1/0/1"); v != "300" {
		t.Errorf("lifetime = %s", v)
	}
}
