package lwm2m_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// With a fake clock: the Update goes out at lifetime − margin, and after
// the server writes a new lifetime the next Update is scheduled from it.
func TestUpdateFollowsLifetime(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	clk := newFakeClock()
	r := startRig(t, false, 300, "U", lwm2m.Config{}, lwm2m.WithClock(clk))
	reg := waitEvent(t, ctx, r.events, kind(server.Registered))
	t0 := clk.Now()
	// 300 s lifetime: margin max(30 s, 93 s) = 93 s → Update at +207 s.
	eventually(t, ctx, "next update scheduled", func() bool {
		st := r.eng.State()
		return len(st) == 1 && st[0].Registered && st[0].NextUpdate.Equal(t0.Add(207*time.Second))
	})
	clk.waitTimer(t, ctx, 207*time.Second)
	clk.Advance(206 * time.Second)
	select {
	case ev := <-r.events:
		t.Fatalf("event %s before the update time", ev.Kind)
	default:
	}
	clk.Advance(time.Second)
	up := waitEvent(t, ctx, r.events, kind(server.Updated))
	if up.Location != reg.Location || len(up.Query) != 0 {
		t.Errorf("update %+v", up)
	}
	// The server writes lifetime 120 s: an Update with lt=120 right away,
	// then the next one at +60 s (margin capped at half the lifetime).
	c := r.srv.Client("lwm2m-clientd-test")
	if resp, err := c.Write(ctx, "/1/0/1", int(lwm2m.FormatText), []byte("120"), false); err != nil || resp.Code != codes.Changed {
		t.Fatalf("write lifetime: %v %v", resp.Code, err)
	}
	up = waitEvent(t, ctx, r.events, kind(server.Updated))
	if up.Query["lt"] != "120" {
		t.Fatalf("update after lifetime write: %v", up.Query)
	}
	t1 := clk.Now()
	eventually(t, ctx, "next update from the new lifetime", func() bool {
		return r.eng.State()[0].NextUpdate.Equal(t1.Add(60 * time.Second))
	})
	clk.waitTimer(t, ctx, 60*time.Second)
	clk.Advance(60 * time.Second)
	up = waitEvent(t, ctx, r.events, kind(server.Updated))
	if len(up.Query) != 0 {
		t.Errorf("periodic update repeats unchanged parameters: %v", up.Query)
	}
}

// Queue mode: after the awake time without exchanges the client stops
// listening; the next Update time (or a trigger) wakes it, and it sends an
// Update — not a Register — from the same address.
func TestQueueModeSleepsAndWakes(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	clk := newFakeClock()
	r := startRig(t, false, 600, "UQ", lwm2m.Config{QueueAwake: 93 * time.Second}, lwm2m.WithClock(clk))
	reg := waitEvent(t, ctx, r.events, kind(server.Registered))
	if reg.Query["b"] != "UQ" {
		t.Errorf("b=%q", reg.Query["b"])
	}
	state := func() string { return r.eng.State()[0].State }
	eventually(t, ctx, "registered", func() bool { return state() == "registered" })
	clk.waitTimer(t, ctx, 93*time.Second)
	clk.Advance(94 * time.Second)
	eventually(t, ctx, "asleep after the awake time", func() bool { return state() == "sleeping" })
	if !r.eng.Trigger(101) {
		t.Fatal("trigger: no such server")
	}
	up := waitEvent(t, ctx, r.events, func(ev server.Event) bool { return ev.Kind == server.Updated || ev.Kind == server.Registered })
	if up.Kind != server.Updated || up.Location != reg.Location {
		t.Fatalf("wake-up sent %s at %s, want an Update at %s", up.Kind, up.Location, reg.Location)
	}
	// Awake again: the server's queued request goes through.
	c := r.srv.Client("lwm2m-clientd-test")
	if resp, err := c.Read(ctx, "/3/0/0", -1); err != nil || !bytes.Equal(resp.Payload, []byte("Open Mobile Alliance")) {
		t.Fatalf("read after wake-up: %+v %v", resp, err)
	}
	eventually(t, ctx, "registered", func() bool { return state() == "registered" })
	clk.waitTimer(t, ctx, 93*time.Second)
	clk.Advance(94 * time.Second)
	eventually(t, ctx, "asleep again", func() bool { return state() == "sleeping" })
	// 600 s lifetime: the Update time wakes it too.
	clk.waitTimer(t, ctx, r.eng.State()[0].NextUpdate.Sub(clk.Now()))
	clk.Advance(600 * time.Second)
	up = waitEvent(t, ctx, r.events, func(ev server.Event) bool { return ev.Kind == server.Updated || ev.Kind == server.Registered })
	if up.Kind != server.Updated {
		t.Fatalf("timed wake-up sent %s", up.Kind)
	}
}

// Backoff: capped exponential with jitter in [d/2, d].
func TestBackoffSchedule(t *testing.T) {
	checkLeaks(t)
	srv := newRawServer(t)
	_ = srv.conn.Close() // nothing listens: every Register fails
	clk := newFakeClock()
	tree := newFakeTree(clk.Now)
	tree.addServer(0, 5, srv.uri(), 60, "U", "", "")
	eng, err := lwm2m.New(lwm2m.Config{Endpoint: "b", AckTimeout: 10 * time.Millisecond, MaxRetransmit: 1,
		RetryInitial: 10 * time.Second, RetryMax: 40 * time.Second}, tree, testLogger(t),
		lwm2m.WithClock(clk), lwm2m.WithRand(bytes.NewReader(bytes.Repeat([]byte{0xFF}, 1024))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	tctx := testCtx(t, 20*time.Second)
	// With rand = all ones the jitter picks the top of [d/2, d]: 10, 20, 40, 40 s.
	for i, want := range []time.Duration{10, 20, 40, 40} {
		eventually(t, tctx, "backoff", func() bool {
			st := eng.State()
			return len(st) == 1 && st[0].State == "backoff" && st[0].Failures == i+1
		})
		clk.waitPending(t, tctx)
		clk.Advance(want*time.Second - time.Millisecond)
		if st := eng.State()[0]; st.Failures != i+1 || st.State != "backoff" {
			t.Fatalf("retry %d left backoff before %v", i+1, want*time.Second)
		}
		clk.Advance(time.Millisecond)
	}
}
