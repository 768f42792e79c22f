package modem_test

import (
	"testing"

	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// TestCSQDBm checks the +CSQ <rssi> → dBm table of TS 27.007 §8.5.
func TestCSQDBm(t *testing.T) {
	for _, c := range []struct {
		rssi, dbm int
		ok        bool
	}{
		{0, -113, true}, // "-113 dBm or less"
		{1, -111, true}, // "-111 dBm"
		{2, -109, true}, // "2...30: -109... -53 dBm"
		{20, -73, true}, // the emulated modem's default
		{30, -53, true}, // end of the 2 dB steps
		{31, -51, true}, // "-51 dBm or greater"
		{99, 0, false},  // "not known or not detectable"
		{32, 0, false},  // reserved
		{-1, 0, false},  // not a 27.007 value
		{100, 0, false}, // TD-SCDMA extended range: not mapped
		{191, 0, false}, // idem
	} {
		dbm, ok := modem.CSQDBm(c.rssi)
		if dbm != c.dbm || ok != c.ok {
			t.Errorf("CSQDBm(%d) = %d, %v; want %d, %v", c.rssi, dbm, ok, c.dbm, c.ok)
		}
	}
}

// TestInfoPDPContexts: Info reads the emulated modem's PDP context.
func TestInfoPDPContexts(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	in, err := r.m.Info(r.ctx)
	r.must(err)
	if len(in.APNs) != 1 || in.APNs[0] != emu.APN || len(in.IPAddresses) != 1 || in.IPAddresses[0] != emu.PDPAddrV4 {
		t.Errorf("PDP contexts: APNs %q, addresses %q", in.APNs, in.IPAddresses)
	}
}
