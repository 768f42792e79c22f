package atpdu_test

import (
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// BenchmarkDecodeDeliver decodes the mode-2 secured-packet SMS-DELIVER
// (59 octets with UDH).
func BenchmarkDecodeDeliver(b *testing.B) {
	_, tpdu, err := atpdu.SplitSMSC(unhex(b, mode2Deliver))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(tpdu)))
	for b.Loop() {
		if _, err := atpdu.DecodeDeliver(tpdu); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeDeliverGSM7 decodes a full 160-septet concatenated part.
func BenchmarkDecodeDeliverGSM7(b *testing.B) {
	_, tpdu, err := atpdu.SplitSMSC(unhex(b, vectors(b)[3].pdu))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(tpdu)))
	for b.Loop() {
		if _, err := atpdu.DecodeDeliver(tpdu); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeSubmit encodes the LwM2M mode-1 shape: one 140-octet DTLS
// record, 8-bit, relative VP, into a reused buffer.
func BenchmarkEncodeSubmit(b *testing.B) {
	vp, _ := atpdu.RelativeVP(time.Minute)
	s := atpdu.Submit{
		MR: 1, DA: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"},
		DCS: 0x04, VP: vp, UD: make([]byte, 140),
	}
	buf := make([]byte, 0, 200)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = s.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStatusReport decodes the 25-octet +CDS report.
func BenchmarkDecodeStatusReport(b *testing.B) {
	tpdu := unhex(b, "06D60B911326880736F4111011719551401110117195714000")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := atpdu.DecodeStatusReport(tpdu); err != nil {
			b.Fatal(err)
		}
	}
}
