package sdnotify_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/sdnotify"
)

// systemd is the receiving end of NOTIFY_SOCKET: a real unixgram socket.
type systemd struct {
	t    testing.TB
	conn *net.UnixConn
	name string
}

func listen(t testing.TB, name string) *systemd {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return &systemd{t: t, conn: c, name: name}
}

func newSystemd(t testing.TB) *systemd {
	t.Helper()
	return listen(t, filepath.Join(t.TempDir(), "notify"))
}

// next returns the next datagram, failing the test after 5 s.
func (s *systemd) next() string {
	s.t.Helper()
	if err := s.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		s.t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, _, err := s.conn.ReadFromUnix(b)
	if err != nil {
		s.t.Fatalf("no notification: %v", err)
	}
	return string(b[:n])
}

func env(vars map[string]string) sdnotify.Option {
	return sdnotify.WithGetenv(func(k string) string { return vars[k] })
}

// logs records what a Notifier logged.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

func (l *logs) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level {
			n++
		}
	}
	return n
}

func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Errorf("goroutine leak: %d before, %d after", before, runtime.NumGoroutine())
				return
			}
			<-time.After(10 * time.Millisecond)
		}
	})
}

func TestOutsideSystemdIsANoOp(t *testing.T) {
	checkLeaks(t)
	var l logs
	n := sdnotify.New(env(nil), sdnotify.WithLogger(slog.New(&l)))
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatalf("Enabled %v, WatchdogInterval %v without NOTIFY_SOCKET", n.Enabled(), n.WatchdogInterval())
	}
	n.Ready()
	n.Status("x")
	n.Stopping()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.RunWatchdog(ctx, nil) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunWatchdog = %v", err)
	}
	if w, e := l.count(slog.LevelWarn), l.count(slog.LevelError); w+e != 0 {
		t.Errorf("%d warnings and %d errors outside systemd; want none", w, e)
	}
}

func TestMessages(t *testing.T) {
	sd := newSystemd(t)
	n := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": sd.name}))
	if !n.Enabled() {
		t.Fatal("not enabled")
	}
	n.Status("starting:\nopening the modem\r\n")
	n.Status("starting: opening the modem") // unchanged: not sent again
	n.Ready()
	n.Ready() // once only
	n.Status("1/1 servers registered; modem up")
	n.Stopping()
	for _, want := range []string{
		"STATUS=starting: opening the modem",
		"READY=1",
		"STATUS=1/1 servers registered; modem up",
		"STOPPING=1",
	} {
		if got := sd.next(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestLongStatusIsCut(t *testing.T) {
	sd := newSystemd(t)
	n := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": sd.name}))
	n.Status(strings.Repeat("é", 1000))
	got := sd.next()
	if !strings.HasPrefix(got, "STATUS=éé") || !strings.HasSuffix(got, "…") || len(got) > 600 {
		t.Errorf("status of %d bytes: %q…", len(got), got[:20])
	}
	if !isUTF8(got) {
		t.Error("cut inside a character")
	}
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestAbstractSocket(t *testing.T) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	sd := listen(t, "@lwm2m-clientd-test-"+hex.EncodeToString(r[:]))
	n := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": sd.name}))
	n.Ready()
	if got := sd.next(); got != "READY=1" {
		t.Errorf("got %q", got)
	}
}

func TestFailuresLoggedOnce(t *testing.T) {
	var l logs
	path := filepath.Join(t.TempDir(), "notify")
	n := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": path}), sdnotify.WithLogger(slog.New(&l)))
	n.Status("a")
	n.Status("b")
	n.Ready()
	if got := l.count(slog.LevelWarn); got != 1 {
		t.Errorf("%d warnings for three failed sends, want 1", got)
	}
	// systemd comes back: the failed READY=1 is retried, and the recovery logged.
	sd := listen(t, path)
	n.Ready()
	if got := sd.next(); got != "READY=1" {
		t.Errorf("got %q", got)
	}
	if got := l.count(slog.LevelInfo); got < 2 { // "works again", "ready"
		t.Errorf("%d info lines after recovery, want 2", got)
	}
	sd.conn.Close()
	n.Status("c")
	if got := l.count(slog.LevelWarn); got != 2 {
		t.Errorf("%d warnings after a second outage, want 2", got)
	}
}

func TestBadEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name         string
		vars         map[string]string
		enabled      bool
		watchdog     time.Duration
		wantWarnings int
	}{
		{name: "relative socket", vars: map[string]string{"NOTIFY_SOCKET": "notify"}, wantWarnings: 1},
		{name: "bare @", vars: map[string]string{"NOTIFY_SOCKET": "@"}, wantWarnings: 1},
		{name: "vsock", vars: map[string]string{"NOTIFY_SOCKET": "vsock:2:1234"}, wantWarnings: 1},
		{name: "no watchdog", vars: map[string]string{"NOTIFY_SOCKET": "/run/x"}, enabled: true},
		{name: "watchdog", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}, enabled: true, watchdog: 15 * time.Second},
		{name: "watchdog for us", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "4242"}, enabled: true, watchdog: 10 * time.Second},
		{name: "watchdog for another process", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, enabled: true},
		{name: "bad watchdog pid", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "x"}, enabled: true, wantWarnings: 1},
		{name: "bad watchdog usec", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "20s"}, enabled: true, wantWarnings: 1},
		{name: "zero watchdog usec", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "0"}, enabled: true, wantWarnings: 1},
		{name: "huge watchdog usec", vars: map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "18446744073709551615"}, enabled: true, wantWarnings: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l logs
			n := sdnotify.New(env(tc.vars), sdnotify.WithPID(4242), sdnotify.WithLogger(slog.New(&l)))
			if n.Enabled() != tc.enabled || n.WatchdogInterval() != tc.watchdog {
				t.Errorf("Enabled %v, WatchdogInterval %v; want %v, %v", n.Enabled(), n.WatchdogInterval(), tc.enabled, tc.watchdog)
			}
			if got := l.count(slog.LevelWarn); got != tc.wantWarnings {
				t.Errorf("%d warnings, want %d", got, tc.wantWarnings)
			}
		})
	}
}

// fakeClock hands out one ticker whose ticks the test sends.
type fakeClock struct {
	d  chan time.Duration
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{d: make(chan time.Duration, 1), ch: make(chan time.Time)}
}

func (c *fakeClock) NewTicker(d time.Duration) sdnotify.Ticker {
	c.d <- d
	return fakeTicker{c.ch}
}

type fakeTicker struct{ ch chan time.Time }

func (f fakeTicker) Chan() <-chan time.Time { return f.ch }
func (f fakeTicker) Stop()                  {}

// tick delivers one tick; the send returns only once RunWatchdog took it,
// i.e. after it finished with the previous one.
func (c *fakeClock) tick(t *testing.T) {
	t.Helper()
	select {
	case c.ch <- time.Time{}:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog does not take ticks")
	}
}

func TestWatchdog(t *testing.T) {
	checkLeaks(t)
	sd := newSystemd(t)
	clock := newFakeClock()
	var l logs
	n := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": sd.name, "WATCHDOG_USEC": "6000000", "WATCHDOG_PID": "77"}),
		sdnotify.WithPID(77), sdnotify.WithClock(clock), sdnotify.WithLogger(slog.New(&l)))

	wedged := errors.New("modem command queue stuck for 5m")
	// Health verdicts, in call order: at start, then after each tick.
	verdicts := []error{nil, nil, wedged, wedged, nil}
	var calls int
	health := func() error {
		v := verdicts[calls]
		calls++
		return v
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.RunWatchdog(ctx, health) }()
	if d := <-clock.d; d != 3*time.Second {
		t.Errorf("ticker interval %v, want 3s (half of WATCHDOG_USEC)", d)
	}
	for range len(verdicts) - 1 {
		clock.tick(t)
	}
	// RunWatchdog acts on the last tick before it looks at ctx again.
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunWatchdog = %v", err)
	}
	n.Stopping()

	var got []string
	for {
		m := sd.next()
		if m == "STOPPING=1" {
			break
		}
		got = append(got, m)
	}
	// Verdicts nil, nil, wedged, wedged, nil → three keep-alives.
	if len(got) != 3 {
		t.Errorf("sent %q; want 3 keep-alives for 3 healthy verdicts out of 5", got)
	}
	for _, m := range got {
		if m != "WATCHDOG=1" {
			t.Errorf("sent %q, want WATCHDOG=1", m)
		}
	}
	if e, i := l.count(slog.LevelError), l.count(slog.LevelInfo); e != 1 || i != 1 {
		t.Errorf("%d error and %d info lines; want 1 (wedged) and 1 (healthy again)", e, i)
	}
}

func TestWatchdogForAnotherProcess(t *testing.T) {
	checkLeaks(t)
	sd := newSystemd(t)
	n := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": sd.name, "WATCHDOG_USEC": "6000000", "WATCHDOG_PID": "1"}),
		sdnotify.WithPID(77), sdnotify.WithClock(newFakeClock()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- n.RunWatchdog(ctx, func() error { t.Error("health asked without a watchdog"); return nil })
	}()
	cancel()
	<-done
	n.Stopping()
	if got := sd.next(); got != "STOPPING=1" {
		t.Errorf("sent %q before STOPPING=1", got)
	}
}
