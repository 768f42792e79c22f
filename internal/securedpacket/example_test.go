package securedpacket_test

import (
	"fmt"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// A server secures a CoAP request for the LwM2M UICC application, and the
// application opens it: AES-128, SPI 16 00, TAR B2 02 03.
func Example() {
	keys := sp.Keys{
		KIc: []byte("0123456789abcdef"), // 16 octets: AES-128 (test key)
		KID: []byte("fedcba9876543210"),
	}
	spi, _ := sp.DecodeSPI([]byte{0x16, 0x00})
	h := sp.Header{SPI: spi, KIc: 0x12, KID: 0x12, TAR: sp.TAR{0xB2, 0x02, 0x03}}
	if err := (sp.Policy{}).Check(h, &keys); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := sp.AppendCoAP(nil, []byte{0x40, 0x01, 0x12, 0x34}) // CON GET, MID 0x1234
	pkt, _ := sp.SealCommand(nil, sp.Command{Header: h, Counter: 1, Data: data}, keys)
	ud := sp.AppendCommandUserData(nil, pkt)
	fmt.Printf("user data: %d octets, UDH %x, CPL %x\n", len(ud), ud[:3], ud[3:5])

	p, _ := sp.DecodeCommandPacket(ud[3:])
	c, err := p.Open(keys, 0) // last counter accepted: 0
	if err != nil {
		fmt.Println(err)
		return
	}
	coap, _ := sp.DecodeCoAP(c.Data)
	fmt.Printf("counter %d, CoAP %x\n", c.Counter, coap)
	_, err = p.Open(keys, c.Counter) // the same packet again
	fmt.Println(err)
	// Output:
	// user data: 45 octets, UDH 027000, CPL 0028
	// counter 1, CoAP 40011234
	// securedpacket: counter 1, stored 1: counter too low
}
