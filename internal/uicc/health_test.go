package uicc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// cmeError stands for the modem driver's typed +CME ERROR.
type cmeError struct{ code int }

func (e *cmeError) Error() string { return fmt.Sprintf("+CME ERROR: %d", e.code) }

// flaky is a Transport that answers from a script while up and fails with
// +CME ERROR: 13 (SIM failure) while mute.
type flaky struct {
	*script
	mu   sync.Mutex
	mute bool
}

func (f *flaky) setMute(m bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mute = m
}

func (f *flaky) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	f.mu.Lock()
	mute := f.mute
	f.mu.Unlock()
	if mute {
		return nil, &cmeError{code: 13}
	}
	return f.script.Transmit(ctx, apdu)
}

// fakeClock is the health timestamps' clock: each reading advances it by
// one second.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// TestHealth follows the application through ok, not answering (transport
// failure), ok again, error (bad status word), and a cancelled call that
// must not change the state.
func TestHealth(t *testing.T) {
	f := &flaky{script: newScript(t,
		step{want: selectAID, reply: "9000"},
		step{want: "80CA000500", reply: "6A88"},
		step{want: selectAID, reply: "9000"},
		step{want: "80CA000500", reply: "6A88"},
		step{want: "80CA000500", reply: "6F00"},
	)}
	clk := &fakeClock{t: time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)}
	a, err := uicc.New(f, uicc.Config{}, nil, uicc.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)

	h := a.Health()
	if h.State != uicc.HealthUnknown || h.State.String() != "unknown" || !h.Since.IsZero() || !h.LastOK.IsZero() ||
		h.LastError != nil || h.Selected || !bytes.Equal(h.AID, uicc.DefaultAID) {
		t.Fatalf("before any APDU: %+v", h)
	}
	h.AID[0] ^= 0xFF // a copy
	if !bytes.Equal(a.Health().AID, uicc.DefaultAID) {
		t.Fatal("Health().AID aliases the App's AID")
	}

	if _, err := a.GetData(ctx); err != nil {
		t.Fatal(err)
	}
	ok1 := a.Health()
	if ok1.State != uicc.HealthOK || ok1.State.String() != "ok" || ok1.Since.IsZero() || ok1.LastOK.IsZero() ||
		ok1.LastError != nil || !ok1.Selected || ok1.Channel != 0 {
		t.Fatalf("after GET DATA: %+v", ok1)
	}

	f.setMute(true)
	_, err = a.GetData(ctx)
	var te *uicc.TransportError
	var ce *cmeError
	if !errors.As(err, &te) || !errors.As(err, &ce) || ce.code != 13 {
		t.Fatalf("GetData through a mute card = %v, want a TransportError wrapping +CME ERROR: 13", err)
	}
	mute := a.Health()
	if mute.State != uicc.HealthNotAnswering || mute.State.String() != "not answering" || !mute.Since.After(ok1.Since) ||
		!mute.LastOK.Equal(ok1.LastOK) || !errors.As(mute.LastError, &ce) || mute.LastErrorAt.IsZero() || mute.Selected {
		t.Fatalf("while mute: %+v", mute)
	}
	// Still mute: the state's Since does not move, the error's time does.
	if _, err := a.GetData(ctx); err == nil {
		t.Fatal("second GetData through a mute card succeeded")
	}
	if h := a.Health(); h.State != uicc.HealthNotAnswering || !h.Since.Equal(mute.Since) || !h.LastErrorAt.After(mute.LastErrorAt) {
		t.Fatalf("still mute: %+v", h)
	}

	// A call whose context has ended says nothing about the card.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = a.GetData(cctx)
	if h := a.Health(); h.State != uicc.HealthNotAnswering || !h.Since.Equal(mute.Since) {
		t.Fatalf("after a cancelled call: %+v", h)
	}

	f.setMute(false)
	if _, err := a.GetData(ctx); err != nil {
		t.Fatal(err)
	}
	back := a.Health()
	if back.State != uicc.HealthOK || !back.Since.After(mute.Since) || !back.LastOK.After(mute.Since) ||
		back.LastError == nil || !back.Selected {
		t.Fatalf("answering again: %+v (the last error stays)", back)
	}

	_, err = a.GetData(ctx)
	var se *uicc.StatusError
	if !errors.As(err, &se) || se.SW != 0x6F00 {
		t.Fatalf("GetData = %v, want status 6F00", err)
	}
	bad := a.Health()
	if bad.State != uicc.HealthError || bad.State.String() != "error" || !errors.As(bad.LastError, &se) ||
		!bad.LastOK.After(back.LastOK) {
		t.Fatalf("after 6F00: %+v", bad)
	}
}

// TestHealthLogicalChannel: the health names the logical channel; Reset
// forgets it.
func TestHealthLogicalChannel(t *testing.T) {
	s := newScript(t,
		step{want: "0070000001", reply: "019000"},
		step{want: "01A4040406F04C574D324D00", reply: "9000"},
		step{want: "81CA000500", reply: "6A88"},
	)
	a := newApp(t, s, uicc.Config{LogicalChannel: true}, nil)
	if _, err := a.GetData(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if h := a.Health(); h.State != uicc.HealthOK || !h.Selected || h.Channel != 1 {
		t.Fatalf("on channel 1: %+v", h)
	}
	a.Reset()
	if h := a.Health(); h.State != uicc.HealthOK || h.Selected || h.Channel != 0 {
		t.Fatalf("after Reset: %+v", h)
	}
}

// TestHealthDoesNotBlock: Health answers while an APDU hangs in the
// transport.
func TestHealthDoesNotBlock(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	tr := uicc.TransportFunc(func(ctx context.Context, apdu []byte) ([]byte, error) {
		close(entered)
		select {
		case <-release:
			return []byte{0x90, 0x00}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	a, err := uicc.New(tr, uicc.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() { done <- a.Open(ctx) }()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("SELECT never reached the transport")
	}
	got := make(chan uicc.Health, 1)
	go func() { got <- a.Health() }()
	select {
	case h := <-got:
		if h.State != uicc.HealthUnknown {
			t.Errorf("during the first SELECT: %+v", h)
		}
	case <-ctx.Done():
		t.Fatal("Health blocked behind an APDU in flight")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h := a.Health(); h.State != uicc.HealthOK || !h.Selected {
		t.Fatalf("after SELECT: %+v", h)
	}
}
