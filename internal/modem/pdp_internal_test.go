package modem

import (
	"slices"
	"testing"
)

// TestPDPContexts checks the +CGDCONT? / +CGPADDR parsing (TS 27.007
// §10.1.1, §10.1.14).
func TestPDPContexts(t *testing.T) {
	apns, addrs := pdpContexts(
		[]string{
			`+CGDCONT: 1,"IP","internet.example","0.0.0.0",0,0`,
			`+CGDCONT: 2,"IPV4V6","ims","",0,0`,
			`+CGDCONT: 3,"IP","",,0,0`, // no APN: left out
		},
		[]string{
			`+CGPADDR: 1,"10.64.0.2"`,
			// IPv4v6: the IPv6 address in the 27.007 default notation,
			// 16 dot-separated octets (§10.1.14 with +CGPIAF off).
			`+CGPADDR: 2,"100.64.1.9","32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.1"`,
			`+CGPADDR: 3,"0.0.0.0"`, // not activated
			`+CGPADDR: 4`,           // defined, no address
			`+CGPADDR: 5,"2001:db8::2"`,
			`+CGPADDR: 6,"300.1.1.1"`, // not an address
		})
	if want := []string{"internet.example", "ims"}; !slices.Equal(apns, want) {
		t.Errorf("APNs %q, want %q", apns, want)
	}
	if want := []string{"10.64.0.2", "100.64.1.9", "2001:db8::1", "2001:db8::2"}; !slices.Equal(addrs, want) {
		t.Errorf("addresses %q, want %q", addrs, want)
	}
	if a, b := pdpContexts(nil, nil); a != nil || b != nil {
		t.Errorf("no answers: %q %q", a, b)
	}
}
