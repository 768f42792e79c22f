package securedpacket_test

import (
	"bytes"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

func TestCoAPSecuredData(t *testing.T) {
	for _, tc := range []struct {
		n    int
		head string
	}{
		{n: 0, head: "0500"},
		{n: 4, head: "0504"},
		{n: 0x7F, head: "057F"},
		{n: 0x80, head: "058180"},
		{n: 0xFF, head: "0581FF"},
		{n: 0x100, head: "05820100"},
	} {
		coap := seq(tc.n, 0x40)
		got, err := sp.AppendCoAP(nil, coap)
		if err != nil {
			t.Fatal(err)
		}
		want := append(mustHex(tc.head), coap...)
		if !bytes.Equal(got, want) {
			t.Errorf("n=%d: %x", tc.n, got[:len(tc.head)/2])
		}
		back, err := sp.DecodeCoAP(got)
		if err != nil || !bytes.Equal(back, coap) {
			t.Errorf("n=%d: DecodeCoAP %v", tc.n, err)
		}
		for i := 0; i < len(got); i++ {
			if _, err := sp.DecodeCoAP(got[:i]); err == nil {
				t.Errorf("n=%d: prefix of %d decoded", tc.n, i)
			}
		}
	}
	for _, bad := range []string{"0604aabbccdd", "05817f", "05820080" + "00", "0501aabb"} {
		if _, err := sp.DecodeCoAP(mustHex(bad)); err == nil {
			t.Errorf("DecodeCoAP(%s) accepted", bad)
		}
	}
}
