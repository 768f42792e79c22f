package smsbind

import (
	"context"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// FuzzHandleSMS feeds arbitrary TPDUs to the router: it must never panic,
// never send an SMS or STORE DATA by itself (replies come only from the
// engine), never return an error for a TPDU (the fake card never fails),
// and queue only well-formed CoAP from a configured number.
func FuzzHandleSMS(f *testing.F) {
	seeds := [][]byte{
		deliver(f, nosecNumber, 0, 0x04, nil, coapGet),
		deliver(f, nosecNumber, 0, 0x04, nil, []byte{0xde, 0xad}),
		deliver(f, strangerNr, 0, 0x04, nil, coapTrigger),
		deliver(f, spNumber, atpdu.PIDUSIMDataDownload, 0xF6, atpdu.UDH{atpdu.CommandPacketIE()}, []byte{0, 0x30, 0x16}),
		deliver(f, spNumber, 0, 0x04, nil, coapGet),
		{0x02, 0x07, 0x0B, 0x91, 0x33, 0x06, 0x00, 0x00, 0x00, 0xF1}, // truncated status report
		{0x01},
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tpdu []byte) {
		sub := &submitter{}
		card := &fakeUICC{onEnv: func([]byte) []uicc.Record {
			return []uicc.Record{{Address: mustAddr(t, spNumber), Message: coapGet}}
		}}
		b, err := New(Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}, {ID: 3, Number: spNumber, Mode: ModeSecurePacket}}},
			sub, WithUICC(card), WithClock(newFakeClock()))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.HandleSMS(ctx, SMS{TPDU: tpdu}); err != nil {
			t.Fatalf("HandleSMS(%x) = %v", tpdu, err)
		}
		if sub.count() != 0 || len(card.stored) != 0 {
			t.Fatalf("HandleSMS(%x) sent something", tpdu)
		}
		for _, id := range []int{1, 3} {
			c, _ := b.Conn(id)
			for _, m := range queued(c) {
				if !wellFormedCoAP(m) {
					t.Fatalf("queued malformed %x", m)
				}
			}
		}
		if d, err := atpdu.DecodeDeliver(tpdu); err == nil && b.match(d.OA) == nil {
			if st := b.Stats(); st.Total.Accepted != 0 {
				t.Fatalf("SMS from %s accepted", d.OA)
			}
		}
	})
}

// FuzzWellFormedCoAP checks the CoAP syntax check never panics and never
// accepts what RFC 7252 §3 forbids in the fixed header.
func FuzzWellFormedCoAP(f *testing.F) {
	for _, s := range [][]byte{coapGet, coapTrigger, coapChanged, {0x60, 0, 0, 1}, {0x40, 1, 0, 1, 0xFF}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !wellFormedCoAP(b) {
			return
		}
		if len(b) < 4 || b[0]>>6 != 1 || b[0]&0x0F > 8 || 4+int(b[0]&0x0F) > len(b) {
			t.Fatalf("accepted %x", b)
		}
	})
}
