package sim_test

import (
	"slices"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// TestEnvelopeDiscardAnswers pins what the card answers to an ENVELOPE
// (SMS-PP DOWNLOAD) carrying a secured packet it discards. LwM2M-TS 1.0
// §7.2.2 (spec digest secured-packet.md §7): a message that fails its
// protection checks is discarded and not answered with an error protected
// by the correct keys. Without a PoR there is nothing to report, so the
// card ends the ENVELOPE with 90 00 and the modem sends RP-ACK
// (TS 31.111 §7.1.1.2): the network does not resend what the card will
// never accept. With a PoR requested (SPI2 b2b1 = 01 or 10) the card
// still gives no PoR: an error PoR would be protected with the keys, the
// one answer LwM2M forbids. Only the host-side counters tell a discard.
func TestEnvelopeDiscardAnswers(t *testing.T) {
	for _, por := range []sp.PoRMode{sp.PoRNone, sp.PoRRequired, sp.PoROnError} {
		card, err := sim.New(profile(t), sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(t)
		app := host(t, card, uicc.Config{}, nil)
		h := srv.h
		h.SPI.PoR = por
		if por != sp.PoRNone {
			h.SPI.PoRIntegrity = sp.IntegrityCC
		}
		good := srv.deliver(t, h, coapGet)[0]
		tampered := slices.Clone(good)
		tampered[len(tampered)-5] ^= 0x01
		rsp, err := app.DownloadSMS(ctx(t), nil, tampered)
		if err != nil || rsp.SW != uicc.SWOK || rsp.Data != nil {
			t.Errorf("PoR %v: tampered packet answered %+v, %v; want 90 00 without data", por, rsp, err)
		}
		if st := card.Stats(); st.Dropped != 1 || st.Accepted != 0 {
			t.Errorf("PoR %v: stats %+v", por, st)
		}
		// The genuine packet with the same counter still passes (the
		// discarded one did not move the counter).
		rsp, err = app.DownloadSMS(ctx(t), nil, good)
		if err != nil || rsp.SW != uicc.SWOK || (por == sp.PoRRequired) != (rsp.Data != nil) {
			t.Errorf("PoR %v: genuine packet answered %+v, %v", por, rsp, err)
		}
		if err := app.Close(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
}
