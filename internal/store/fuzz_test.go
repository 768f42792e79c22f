package store

import (
	"bytes"
	"testing"
)

// FuzzDecodeFile: the state-file decoder never panics, and whatever it
// accepts re-encodes to the same bytes (the format has one encoding).
func FuzzDecodeFile(f *testing.F) {
	f.Add(encodeFile([]byte("payload")))
	f.Add(encodeFile(nil))
	f.Add([]byte("LWMS\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeFile(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeFile(v), b) {
			t.Fatalf("accepted %x but re-encodes differently", b)
		}
	})
}
