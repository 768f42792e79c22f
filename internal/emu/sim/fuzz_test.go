package sim_test

import (
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
)

// FuzzTransmit feeds the emulated card a sequence of arbitrary APDUs (each
// prefixed by its length) after a download: whatever a host sends, the
// card answers with at least SW1 SW2, never panics, and its counters never
// go back.
func FuzzTransmit(f *testing.F) {
	f.Add([]byte("\x0c\x00\xa4\x04\x0c\x06\xf0\x4c\x57\x4d\x32\x4d\x05\x80\xca\x00\x05\x00"))
	f.Add([]byte("\x05\x00\x70\x00\x00\x01\x0c\x01\xa4\x04\x0c\x06\xf0\x4c\x57\x4d\x32\x4d\x05\x81\xca\x00\x05\x00"))
	f.Add([]byte("\x0c\x00\xa4\x04\x0c\x06\xf0\x4c\x57\x4d\x32\x4d\x10\x80\xe2\x90\x00\x0b\x08\x91\x33\x06\x00\x00\x00\xf3\x05\x00\x00\x05\x80\x12\x00\x00\x20"))
	p := profile(f)
	srv := newServer(f)
	tpdu := srv.deliver(f, srv.h, coapGet)[0]
	f.Fuzz(func(t *testing.T, script []byte) {
		card, err := sim.New(p, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		card.DownloadSMS(tpdu)
		rx0, tx0 := card.Counters()
		for len(script) > 0 {
			n := int(script[0])
			script = script[1:]
			n = min(n, len(script))
			rsp := card.Transmit(script[:n])
			script = script[n:]
			if len(rsp) < 2 {
				t.Fatalf("response %x without a status word", rsp)
			}
		}
		if rx, tx := card.Counters(); rx < rx0 || tx < tx0 {
			t.Fatalf("counters went back: %d/%d → %d/%d", rx0, tx0, rx, tx)
		}
	})
}
