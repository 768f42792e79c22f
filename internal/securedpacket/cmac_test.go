package securedpacket

import (
	"crypto/aes"
	"encoding/hex"
	"testing"
)

// TestCMACRFC4493 checks the hand-written AES-CMAC against every example of
// RFC 4493 §4 (AES-128, key 2b7e1516...) including the subkeys of §4.
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"+
		"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var l, k1, k2 [16]byte
	b.Encrypt(l[:], l[:])
	shiftXor(&k1, &l)
	shiftXor(&k2, &k1)
	if got := hex.EncodeToString(k1[:]); got != "fbeed618357133667c85e08f7236a8de" {
		t.Errorf("K1 = %s", got)
	}
	if got := hex.EncodeToString(k2[:]); got != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("K2 = %s", got)
	}
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{name: "example 1 (empty)", n: 0, want: "bb1d6929e95937287fa37d129b756746"},
		{name: "example 2 (16 octets)", n: 16, want: "070a16b46b4d4144f79bdd9dd04a287c"},
		{name: "example 3 (40 octets)", n: 40, want: "dfa66747de9ae63030ca32611497c827"},
		{name: "example 4 (64 octets)", n: 64, want: "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hex.EncodeToString(cmac(nil, b, msg[:tc.n]))
			if got != tc.want {
				t.Errorf("CMAC = %s, want %s", got, tc.want)
			}
		})
	}
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
