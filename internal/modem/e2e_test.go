package modem_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// TestReconnectBackoff: a port that cannot be opened is retried after
// 0.5 s, 1 s, 2 s, ... capped, on the injected clock, and health says
// since when the modem is down.
func TestReconnectBackoff(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	clk := newFakeClock()
	opens := make(chan struct{}, 100)
	m, err := modem.New(modem.Config{Port: "/dev/ttyGONE", Delivery: modem.DeliveryNone},
		modem.WithClock(clk), modem.WithReconnectBackoff(500*time.Millisecond, 4*time.Second),
		modem.WithOpener(func(context.Context, string, int) (modem.Port, error) {
			opens <- struct{}{}
			return nil, errors.New("no such device")
		}))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	for _, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		<-opens
		clk.waitTimer(ctx, t, d)
		clk.Advance(d)
	}
	<-opens
	h := m.Health()
	if h.Up || !h.DownSince.Equal(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)) || h.LastError == nil {
		t.Fatalf("health %v", h)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// TestEndToEnd: another subscriber sends SMS to the gateway through the
// emulated network (duplication and jitter on), the gateway answers one
// with a status report requested: every SMS arrives (duplicates only as
// the network made them), the answer reaches the subscriber and the
// status report comes back on its own channel.
func TestEndToEnd(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const gw, peer = "+33600000001", "+33600000002"
	nw := network.New(network.Config{Seed: 3, RetryInterval: 50 * time.Millisecond})
	defer nw.Close()
	link := filepath.Join(t.TempDir(), "tty")
	e, err := emu.New(emu.Config{Link: link, Number: gw, Network: nw})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	nw.Attach(gw, e)
	other := &sink{got: make(chan []byte, 10)}
	nw.Attach(peer, other)
	got := make(chan []byte, 100)
	m, err := modem.New(modem.Config{Port: link, Delivery: modem.DeliveryAuto, HandleSMS: func(_ context.Context, s modem.SMS) error {
		got <- s.TPDU
		return nil
	}}, modem.WithLogger(testLog(t)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	if err := m.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	nw.SetFaults(network.Faults{Duplication: 0.3, Jitter: network.Duration(30 * time.Millisecond)})
	const n = 10
	for i := range n {
		if err := nw.SendFrom(peer, gw, atpdu.Deliver{DCS: 0x04, UD: []byte(fmt.Sprint("m", i)), MMS: true}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for len(seen) < n {
		select {
		case tpdu := <-got:
			d, err := atpdu.DecodeDeliver(tpdu)
			if err != nil || d.OA.String() != peer {
				t.Fatalf("handed off %x: %v", tpdu, err)
			}
			seen[string(d.UD)]++
		case <-ctx.Done():
			t.Fatalf("only %d of %d SMS arrived", len(seen), n)
		}
	}
	for k, c := range seen {
		if c > 2 {
			t.Errorf("%s handed off %d times; the network duplicates at most once", k, c)
		}
	}
	nw.SetFaults(network.Faults{})
	da, _ := atpdu.ParseAddress(peer)
	answer, err := atpdu.Submit{DA: da, DCS: 0x04, SRR: true, UD: []byte("ack")}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := m.SendSMS(ctx, answer)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-m.StatusReports():
		if int(r.Report.MR) != mr || r.Report.ST != atpdu.StatusDelivered || r.Report.RA.String() != peer {
			t.Fatalf("report %+v for mr %d", r.Report, mr)
		}
	case <-ctx.Done():
		t.Fatal("no status report")
	}
	select {
	case tpdu := <-other.got:
		if d, err := atpdu.DecodeDeliver(tpdu); err != nil || d.OA.String() != gw || string(d.UD) != "ack" || !d.SRI {
			t.Fatalf("peer got %+v %v", d, err)
		}
	case <-ctx.Done():
		t.Fatal("answer never reached the peer")
	}
	sent := nw.Sent()
	if len(sent) != 1 || sent[0].From != gw || sent[0].To != peer {
		t.Fatalf("network saw %+v", sent)
	}
}

// sink is a subscriber that records what reaches it.
type sink struct{ got chan []byte }

func (s *sink) Deliver(_ context.Context, tpdu []byte) error {
	s.got <- tpdu
	return nil
}

func (s *sink) DeliverStatusReport(context.Context, []byte) error { return nil }
