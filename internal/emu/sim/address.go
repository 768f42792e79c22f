package sim

import (
	"fmt"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// atpdu exports no encoder for a bare TS 23.040 §9.1.2.5 address field, so
// these bridge data_rcv addresses and atpdu.Address through atpdu's own
// SMS-SUBMIT codec: the field is TP-DA, starting at octet 2.

// fieldOf encodes a as the address field of a TPDU.
func fieldOf(a atpdu.Address) (uicc.Address, error) {
	tpdu, err := atpdu.Submit{DA: a}.Append(nil)
	if err != nil {
		return nil, fmt.Errorf("sim: encode address %s: %w", a, err)
	}
	// FO, MR | DA | PID, DCS, UDL
	return uicc.Address(tpdu[2 : len(tpdu)-3]), nil
}

// addressOf decodes an address field.
func addressOf(f uicc.Address) (atpdu.Address, error) {
	tpdu := append(append([]byte{0x01, 0x00}, f...), 0x00, 0x04, 0x00)
	s, err := atpdu.DecodeSubmit(tpdu)
	if err != nil {
		return atpdu.Address{}, fmt.Errorf("sim: decode address %x: %w", []byte(f), err)
	}
	return s.DA, nil
}

// fromUDH and toUDH convert between the two packages' IE types.
func fromUDH(h atpdu.UDH) []sp.IE {
	out := make([]sp.IE, 0, len(h))
	for _, ie := range h {
		out = append(out, sp.IE{ID: ie.IEI, Data: ie.Data})
	}
	return out
}

func toUDH(ies []sp.IE) atpdu.UDH {
	out := make(atpdu.UDH, 0, len(ies))
	for _, ie := range ies {
		out = append(out, atpdu.IE{IEI: ie.ID, Data: ie.Data})
	}
	return out
}
