package sim_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// TestCardReset: a card reset (modem reboot) closes the logical channels
// and forgets the selection; GET DATA on the basic channel then reaches the
// default application and answers 6A88 although a message is pending. The
// message and the replay counter survive: after a new SELECT the message is
// there and the replayed SMS is still refused.
func TestCardReset(t *testing.T) {
	card, err := sim.New(profile(t), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	apdu := func(name, cmd, want string) {
		t.Helper()
		got := strings.ToUpper(hex.EncodeToString(card.Transmit(mustHex(t, cmd))))
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s: %s → %s, want %s…", name, cmd, got, want)
		}
	}
	apdu("select on the basic channel", "00A4040C06F04C574D324D", "9000")
	apdu("open channel 1", "0070000001", "019000")
	apdu("select on channel 1", "01A4040C06F04C574D324D", "9000")
	tpdus := srv.deliver(t, srv.h, coapGet)
	if !card.DownloadSMS(tpdus[0]) {
		t.Fatal("DownloadSMS refused a data download")
	}

	card.Reset()

	apdu("GET DATA on the basic channel after reset", "80CA000500", "6A88")
	apdu("STORE DATA on the basic channel after reset", "80E2900001AA", "6985")
	apdu("GET DATA on closed channel 1", "81CA000500", "6881")
	if card.DownloadSMS(tpdus[0]); card.Stats().Dropped != 1 {
		t.Errorf("replay after reset not dropped: %+v", card.Stats())
	}

	app := host(t, card, uicc.Config{}, nil)
	recs, err := app.GetData(ctx(t))
	if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Message, coapGet) {
		t.Fatalf("after reset and SELECT: GetData = %v, %v; want the pending message", recs, err)
	}
}
