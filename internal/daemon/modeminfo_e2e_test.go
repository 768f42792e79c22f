package daemon_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// startWithInfo runs the daemon on configs/sms-nosec.yaml like
// world.start, with the device serial left to the modem and the modem
// information refreshed every interval; it returns once registered.
func startWithInfo(w *world, interval time.Duration) {
	w.t.Helper()
	cfg, err := config.Load("../../configs/sms-nosec.yaml")
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.Servers[0].URI = w.srv.URI()
	cfg.Device.Serial = "" // the IMEI, from the modem
	d, err := daemon.New(cfg, daemon.Options{
		StateDir: w.dir, ModemPort: w.link, Logger: testLog(),
		ModemOptions:      []modem.Option{modem.WithReconnectBackoff(10*time.Millisecond, 200*time.Millisecond)},
		ModemInfoInterval: interval,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	w.t.Cleanup(func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					w.t.Errorf("Run: %v", err)
				}
			case <-w.ctx.Done():
				w.t.Errorf("Run did not return")
			}
		})
	})
	w.next(server.Registered)
}

// TestModemValuesInObjects: a server reads the emulated modem's signal in
// Connectivity Monitoring /4/0/2 and its IMEI as the Device serial
// /3/0/2, and an observation of /4/0/2 notifies when the emulated signal
// changes.
func TestModemValuesInObjects(t *testing.T) {
	w := newWorld(t, false)
	startWithInfo(w, 20*time.Millisecond)
	c := w.srv.Client("lwm2m-clientd-test")
	if c == nil {
		t.Fatal("client not in the registry")
	}
	// The first refresh may still be under way: observe the Device
	// instance until its serial is the IMEI (the cache sets every value at
	// once, so /4/0/2 is then known too).
	dev, err := c.Observe(w.ctx, "/3/0", -1)
	if err != nil {
		t.Fatalf("observe /3/0: %v", err)
	}
	for payload := dev.First.Payload; !bytes.Contains(payload, []byte(emu.IMEI)); {
		select {
		case n := <-dev.C():
			payload = n.Payload
		case <-w.ctx.Done():
			t.Fatal("the Device serial never became the modem's IMEI")
		}
	}
	if r, err := dev.Cancel(w.ctx); err != nil || r.Code != codes.Content {
		t.Fatalf("cancel /3/0: %v %v", r, err)
	}

	const textPlain = 0
	read := func(path string) string {
		t.Helper()
		r, err := c.Read(w.ctx, path, textPlain)
		if err != nil || r.Code != codes.Content {
			t.Fatalf("read %s: %v %v", path, r, err)
		}
		return string(r.Payload)
	}
	if got := read("/3/0/2"); got != emu.IMEI {
		t.Errorf("/3/0/2 serial %q, want the IMEI %s", got, emu.IMEI)
	}
	// The emulated modem is registered on LTE (+CEREG <AcT> 7): resource 2
	// is the RSRP, rsrp − 140 dBm (TS 27.007 §8.69).
	dbm := func(s emu.Signal) string { return strconv.Itoa(s.RSRP - 140) }
	if got, want := read("/4/0/2"), dbm(emu.DefaultSignal); got != want {
		t.Errorf("/4/0/2 radio signal strength %s dBm, want %s", got, want)
	}
	if got := read("/4/0/0"); got != "6" {
		t.Errorf("/4/0/0 network bearer %s, want 6 (LTE-FDD)", got)
	}
	for path, want := range map[string]string{
		"/4/0/8":  strconv.Itoa(0x01A2B3C5), // +CEREG <ci>
		"/4/0/10": "208",                    // +COPS "20815"
		"/4/0/9":  "15",
	} {
		if got := read(path); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}

	// Multiple-instance resources read as TLV: the PDP context's address
	// and APN (+CGPADDR, +CGDCONT).
	for path, want := range map[string]string{"/4/0/4": emu.PDPAddrV4, "/4/0/7": emu.APN} {
		r, err := c.Read(w.ctx, path, -1)
		if err != nil || r.Code != codes.Content || !bytes.Contains(r.Payload, []byte(want)) {
			t.Errorf("read %s: %v %v, want %s in it", path, r, err, want)
		}
	}

	o, err := c.Observe(w.ctx, "/4/0/2", textPlain)
	if err != nil {
		t.Fatalf("observe /4/0/2: %v", err)
	}
	weaker := emu.DefaultSignal
	weaker.RSRP -= 17
	w.emu.SetSignal(weaker)
	for {
		select {
		case n := <-o.C():
			if string(n.Payload) != dbm(weaker) {
				continue // a notification from before the change
			}
			t.Logf("signal %s → %s dBm notified", dbm(emu.DefaultSignal), n.Payload)
			if r, err := o.Cancel(w.ctx); err != nil || r.Code != codes.Content {
				t.Fatalf("cancel /4/0/2: %v %v", r, err)
			}
			return
		case <-w.ctx.Done():
			t.Fatal("no notification of the new signal strength")
		}
	}
}
