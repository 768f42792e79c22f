package smsbind

import (
	"errors"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// The data_rcv address (secured-packet.md §10, PROJECT DEFAULT) is a TS 23.040
// §9.1.2.5 address field as in a TPDU:
//
//	octet 0   Address-Length: useful semi-octets (digits)
//	octet 1   Type-of-Address: 1 | TON (b6..b4) | NPI (b3..b0)
//	octets 2… BCD digits, first digit in the low nibble, F-filled

const tonAlphanumeric = 0b101

var errAddress = errors.New("malformed address field")

// decodeAddressField reads a data_rcv address into an atpdu.Address so the
// sender filter can compare it by its TON. Alphanumeric addresses are kept
// as TON only (they never match a number).
func decodeAddressField(b []byte) (atpdu.Address, error) {
	if len(b) < 2 {
		return atpdu.Address{}, errAddress
	}
	n, toa := int(b[0]), b[1]
	ton := atpdu.TON(toa >> 4 & 0x07)
	a := atpdu.Address{TON: ton, NPI: atpdu.NPI(toa & 0x0F)}
	if len(b) != 2+(n+1)/2 {
		return atpdu.Address{}, errAddress
	}
	if ton == tonAlphanumeric {
		return a, nil
	}
	digits := make([]byte, 0, n)
	for i := range n {
		v := b[2+i/2]
		if i%2 == 1 {
			v >>= 4
		}
		v &= 0x0F
		if v > 9 {
			return atpdu.Address{}, errAddress // *, #, a–c never name a server
		}
		digits = append(digits, '0'+v)
	}
	a.Number = string(digits)
	return a, nil
}

// encodeAddressField codes an MSISDN as a data_rcv address, for STORE DATA
// when no request gave a TP-OA to answer (TS 23.040 §9.1.2.5).
func encodeAddressField(msisdn string) (uicc.Address, error) {
	a, err := atpdu.ParseAddress(msisdn)
	if err != nil {
		return nil, err
	}
	if a.TON == tonAlphanumeric || len(a.Number) == 0 || len(a.Number) > 20 {
		return nil, errAddress
	}
	out := []byte{byte(len(a.Number)), 0x80 | byte(a.TON)<<4 | byte(a.NPI)}
	for i := 0; i < len(a.Number); i += 2 {
		lo := a.Number[i] - '0'
		hi := byte(0x0F)
		if i+1 < len(a.Number) {
			hi = a.Number[i+1] - '0'
		}
		if lo > 9 || hi > 9 && hi != 0x0F {
			return nil, errAddress
		}
		out = append(out, hi<<4|lo)
	}
	return out, nil
}
