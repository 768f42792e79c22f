package atpdu_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// gen builds random but valid values from a seeded source (style rule 7b).
type gen struct{ r *rand.Rand }

func (g gen) bool() bool     { return g.r.IntN(2) == 1 }
func (g gen) byte() byte     { return byte(g.r.IntN(256)) }
func (g gen) intn(n int) int { return g.r.IntN(n) }
func (g gen) bytes(n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = g.byte()
	}
	return b
}

func (g gen) address() atpdu.Address {
	if g.intn(5) == 0 {
		names := []string{"MyBank", "@home", "€uro{}", "Ωmega", "A", "ElevenChars"}
		return atpdu.Address{TON: atpdu.TONAlphanumeric, NPI: atpdu.NPI(g.intn(16)), Number: names[g.intn(len(names))]}
	}
	n := g.intn(21)
	d := make([]byte, n)
	for i := range d {
		d[i] = "0123456789*#abc"[g.intn(15)]
	}
	return atpdu.Address{TON: atpdu.TON(g.intn(8) &^ 0b100 /* not alphanumeric */), NPI: atpdu.NPI(g.intn(16)), Number: string(d)}
}

func (g gen) timestamp() atpdu.Timestamp {
	return atpdu.Timestamp{Year: 2000 + g.intn(100), Month: g.intn(100), Day: g.intn(100),
		Hour: g.intn(100), Minute: g.intn(100), Second: g.intn(100), TZ: g.intn(159) - 79}
}

// dcs avoids compressed codings, which are refused by design.
func (g gen) dcs() atpdu.DCS {
	for {
		if d := atpdu.DCS(g.byte()); !d.Compressed() {
			return d
		}
	}
}

// userData returns a header and a payload that fit the coding.
func (g gen) userData(c atpdu.Coding) (bool, atpdu.UDH, []byte) {
	var h atpdu.UDH
	udhi := g.bool()
	if udhi {
		for range g.intn(4) {
			h = append(h, atpdu.IE{IEI: g.byte(), Data: g.bytes(g.intn(8))})
		}
	}
	// UDHI with no elements still takes a UDHL octet (2 septets).
	emptyHdr := 0
	if udhi && len(h) == 0 {
		emptyHdr = 1
	}
	if c == atpdu.CodingGSM7 {
		ud := g.bytes(g.intn(atpdu.PayloadSeptets(h) - 2*emptyHdr + 1))
		for i := range ud {
			ud[i] &= 0x7F
		}
		if udhi && len(h) == 0 && len(ud) == 0 {
			ud = []byte{0x20} // UDHI with nothing at all re-encodes as UDHL 00; keep the value exact
		}
		return udhi, h, ud
	}
	ud := g.bytes(g.intn(atpdu.PayloadOctets(h) - emptyHdr + 1))
	if udhi && len(h) == 0 && len(ud) == 0 {
		ud = []byte{0}
	}
	return udhi, h, ud
}

func TestRoundTripGenerated(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(23040, 23038))}
	for i := range 3000 {
		var v any
		switch i % 3 {
		case 0:
			d := atpdu.Deliver{RP: g.bool(), SRI: g.bool(), LP: g.bool(), MMS: g.bool(), OA: g.address(),
				PID: atpdu.PID(g.byte()), DCS: g.dcs(), SCTS: g.timestamp()}
			d.UDHI, d.UDH, d.UD = g.userData(d.DCS.Coding())
			v = d
		case 1:
			s := atpdu.Submit{RP: g.bool(), SRR: g.bool(), RD: g.bool(), MR: g.byte(), DA: g.address(),
				PID: atpdu.PID(g.byte()), DCS: g.dcs()}
			switch atpdu.VPFormat(g.intn(4)) {
			case atpdu.VPFRelative:
				s.VP = atpdu.ValidityPeriod{Format: atpdu.VPFRelative, Relative: g.byte()}
			case atpdu.VPFAbsolute:
				s.VP = atpdu.ValidityPeriod{Format: atpdu.VPFAbsolute, Absolute: g.timestamp()}
			case atpdu.VPFEnhanced:
				s.VP = atpdu.ValidityPeriod{Format: atpdu.VPFEnhanced}
				copy(s.VP.Enhanced[:], g.bytes(7))
			}
			s.UDHI, s.UDH, s.UD = g.userData(s.DCS.Coding())
			v = s
		default:
			r := atpdu.StatusReport{SRQ: g.bool(), LP: g.bool(), MMS: g.bool(), MR: g.byte(), RA: g.address(),
				SCTS: g.timestamp(), DT: g.timestamp(), ST: atpdu.Status(g.byte())}
			if g.bool() {
				pi := byte(g.intn(8)) | byte(g.intn(16))<<3
				r.PI = []byte{pi}
				if pi&1 != 0 {
					r.PID = atpdu.PID(g.byte())
				}
				if pi&2 != 0 {
					r.DCS = g.dcs()
				}
				if pi&4 != 0 {
					r.UDHI, r.UDH, r.UD = g.userData(r.DCS.Coding())
				}
			}
			v = r
		}
		b, err := v.(appender).Append(nil)
		if err != nil {
			t.Fatalf("#%d Append(%+v): %v", i, v, err)
		}
		got, err := decodeAny(b)
		if err != nil {
			t.Fatalf("#%d decode %X: %v", i, b, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("#%d round trip\n got %+v\nwant %+v\n pdu %X", i, got, v, b)
		}
	}
}
