package lwm2m_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/emutest"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
)

// fakeClock is a manual Clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    chan time.Time
	at   time.Time
	done bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool {
	was := !t.done
	t.done = true
	return was
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) lwm2m.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.done = true
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves time forward and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.done {
			continue
		}
		if !t.at.After(c.now) {
			t.done = true
			t.c <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// waitTimer blocks until a timer due exactly d from now is pending, so
// that an Advance cannot race the goroutine arming it.
func (c *fakeClock) waitTimer(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	eventually(t, ctx, "timer armed for "+d.String(), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, tm := range c.timers {
			if !tm.done && tm.at.Equal(c.now.Add(d)) {
				return true
			}
		}
		return false
	})
}

// waitPending blocks until at least one timer is pending.
func (c *fakeClock) waitPending(t *testing.T, ctx context.Context) {
	t.Helper()
	eventually(t, ctx, "a timer armed", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, tm := range c.timers {
			if !tm.done {
				return true
			}
		}
		return false
	})
}

// testLogger logs to the test output only with -v and LWM2M_TEST_LOG=1.
func testLogger(t testing.TB) *slog.Logger {
	return emutest.Log()
}

// checkLeaks fails the test if goroutines started by it outlive it.
func checkLeaks(t *testing.T) {
	t.Helper()
	emutest.CheckLeaks(t, 5*time.Second)
}

// waitEvent returns the first event matching pred, failing at ctx's end.
func waitEvent(t *testing.T, ctx context.Context, ch <-chan server.Event, pred func(server.Event) bool) server.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("event channel closed")
			}
			if pred(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no matching event: %v", ctx.Err())
		}
	}
}

func kind(k server.EventKind) func(server.Event) bool {
	return func(ev server.Event) bool { return ev.Kind == k }
}

// eventually polls cond until it holds or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		}
	}
}
