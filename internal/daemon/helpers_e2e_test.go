package daemon_test

// Scaffolding shared by the end-to-end tests of this package (sms_e2e,
// smsreg_e2e, fault_e2e, flood_e2e, delivery_e2e, daemon_test): the
// emulated device (network, SIM, modem on a pty), the daemon's base
// options, running the daemon, and waiting for the emulated server's
// events.

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// device is the emulated device side: the SMS network, the SIM loaded from
// configs/emulator-sim.yaml and the emulated modem on a pty, attached to
// the network as deviceNumber. The modem and the network are closed when
// the test ends.
type device struct {
	net  *network.Network
	prof sim.Profile
	card *sim.Card
	link string
	emu  *emu.Modem
}

func newDevice(t testing.TB, simOpts sim.Options) device {
	t.Helper()
	var d device
	d.net = network.New(network.Config{Log: testLog().With("side", "net"), Seed: 1})
	t.Cleanup(func() { d.net.Close() })
	var err error
	d.prof, err = sim.LoadProfile("../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d.card, err = sim.New(d.prof, simOpts)
	if err != nil {
		t.Fatal(err)
	}
	d.link = filepath.Join(t.TempDir(), "ttyEMU")
	d.emu, err = emu.New(emu.Config{Link: d.link, Number: deviceNumber, SIM: d.card, Network: d.net, Log: testLog().With("side", "emu")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.emu.Close() })
	d.net.Attach(deviceNumber, d.emu)
	return d
}

// deviceSubmits returns the SMS-SUBMITs the device sent on nw so far,
// checking the 140-octet rule on each (TS 23.040 §9.2.3.24).
func deviceSubmits(t testing.TB, nw *network.Network) []atpdu.Submit {
	t.Helper()
	var out []atpdu.Submit
	for _, s := range nw.Sent() {
		if s.From != deviceNumber {
			continue
		}
		sub, err := atpdu.DecodeSubmit(s.PDU)
		if err != nil {
			t.Fatalf("device SUBMIT %x: %v", s.PDU, err)
		}
		if n := len(sub.UD) + sub.UDH.Len(); n > atpdu.MaxUDOctets {
			t.Errorf("device SMS with %d octets of user data", n)
		}
		out = append(out, sub)
	}
	return out
}

// daemonOptions are the options every end-to-end test gives the daemon:
// state in dir, the modem on the pty link, the test logger and a quick
// reconnect backoff.
func daemonOptions(dir, link string) daemon.Options {
	return daemon.Options{
		StateDir: dir, ModemPort: link, Logger: testLog(),
		ModemOptions: []modem.Option{modem.WithReconnectBackoff(10*time.Millisecond, 200*time.Millisecond)},
	}
}

// runDaemon runs d until the returned stop is called (or the test ends):
// stop cancels Run, waits for it to return (at most until ctx ends) and
// reports a non-nil error. stop is idempotent.
func runDaemon(t testing.TB, ctx context.Context, d *daemon.Daemon) (stop func()) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-ctx.Done():
				t.Errorf("Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// nextEvent waits for the next event of kind k on events, skipping others;
// it fails the test when ctx ends first.
func nextEvent(t testing.TB, ctx context.Context, events <-chan server.Event, k server.EventKind) server.Event {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.Kind == k {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", k)
		}
	}
}

// background runs loop in a goroutine with a context that ends with the
// test; the test's cleanup waits for loop to return.
func background(t testing.TB, ctx context.Context, loop func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}
