package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
)

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

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sockPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "run", "control.sock")
}

func intp(i int) *int { return &i }

// sample is a Status with every field set.
func sample() control.Status {
	at := func(s string) control.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return control.At(v)
	}
	return control.Status{
		Version: "1.2.3",
		Uptime:  control.Duration(3*time.Hour + 25*time.Minute + 10*time.Second),
		Servers: []control.ServerStatus{
			{ShortServerID: 101, URI: "coaps://lwm2m.example.net:5684", Registration: "registered", Registered: true, Location: "/rd/5a3f",
				LastUpdate: at("2026-11-28T18:00:00Z"), NextUpdate: at("2026-11-28T19:00:00Z"), Binding: "UQS",
				SMSMode: "dtls", DTLSSMSSession: control.DTLSSessionEstablished},
			{ShortServerID: 102, URI: "coap://10.0.0.1", Registration: "backoff", Binding: "U",
				LastError: "register: 4.03 Forbidden"},
		},
		Modem: &control.ModemStatus{Port: "/dev/ttyUSB2", State: control.ModemUp, Since: at("2026-11-28T15:00:00Z"),
			SignalDBm: intp(-71), Operator: "Orange F", LastSMSIn: at("2026-11-28T17:59:58Z"), LastSMSOut: at("2026-11-28T17:59:59Z")},
		SIM: &control.SIMStatus{State: control.SIMOK, Since: at("2026-11-28T15:00:05Z"), LastOK: at("2026-11-28T17:59:59Z"),
			LastError: "uicc: transmit 00a4: modem: +CSIM: +CME ERROR: 13", AID: "f04c574d324d"},
		Counters: control.Counters{SMSReceived: 12, SMSDroppedSender: 3, SMSDroppedProtection: 1, SMSDroppedRateLimit: 2,
			SMSDroppedOther: 1, SMSSent: 9, SMSSendFailures: 1},
	}
}

// serve runs a Server on a fresh path until the test ends.
func serve(t *testing.T, cfg control.Config, p control.Provider) *control.Server {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = sockPath(t)
	}
	s, err := control.Listen(cfg, p)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return s
}

func TestStatusRoundTrip(t *testing.T) {
	checkLeaks(t)
	want := sample()
	s := serve(t, control.Config{}, func(context.Context) control.Status { return want })
	got, err := control.Fetch(testContext(t), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

// TestJSONKeys pins the interface: scripts read these keys.
func TestJSONKeys(t *testing.T) {
	s := serve(t, control.Config{}, func(context.Context) control.Status { return sample() })
	raw, err := control.FetchRaw(testContext(t), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v is not an object", v)
		}
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	for _, tc := range []struct {
		name string
		obj  any
		want []string
	}{
		{name: "top", obj: doc, want: []string{"counters", "modem", "servers", "sim", "uptime", "version"}},
		{name: "server", obj: doc["servers"].([]any)[0], want: []string{"binding", "dtls_sms_session", "last_error", "last_update",
			"location", "next_update", "registered", "registration", "short_server_id", "sms_mode", "uri"}},
		{name: "modem", obj: doc["modem"], want: []string{"last_error", "last_sms_in", "last_sms_out", "operator", "port",
			"signal_dbm", "since", "state"}},
		{name: "sim", obj: doc["sim"], want: []string{"aid", "last_error", "last_ok", "since", "state"}},
		{name: "counters", obj: doc["counters"], want: []string{"sms_delivered", "sms_delivery_failed", "sms_delivery_pending",
			"sms_dropped_other", "sms_dropped_protection", "sms_dropped_rate_limit",
			"sms_dropped_sender", "sms_received", "sms_send_failures", "sms_sent"}},
	} {
		if got := keys(tc.obj); !slices.Equal(got, tc.want) {
			t.Errorf("%s keys %q, want %q", tc.name, got, tc.want)
		}
	}
	if doc["uptime"] != float64(12310) {
		t.Errorf("uptime %v, want 12310 (seconds)", doc["uptime"])
	}
	srv := doc["servers"].([]any)[1].(map[string]any)
	if srv["last_update"] != nil || srv["next_update"] != nil {
		t.Errorf("unknown times are %v, %v; want null", srv["last_update"], srv["next_update"])
	}
	if m := doc["modem"].(map[string]any); m["last_sms_in"] != "2026-11-28T17:59:58Z" {
		t.Errorf("last_sms_in %v", m["last_sms_in"])
	}
	if m := doc["sim"].(map[string]any); m["state"] != "ok" || m["aid"] != "f04c574d324d" || m["last_ok"] != "2026-11-28T17:59:59Z" {
		t.Errorf("sim %v", m)
	}
}

func TestNoModemIsNull(t *testing.T) {
	s := serve(t, control.Config{}, func(context.Context) control.Status { return control.Status{Version: "x"} })
	raw, err := control.FetchRaw(testContext(t), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"modem": null`) {
		t.Errorf("UDP-only status %s: want \"modem\": null", raw)
	}
	if !strings.Contains(string(raw), `"sim": null`) {
		t.Errorf("UDP-only status %s: want \"sim\": null", raw)
	}
}

func TestSocketMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "dir", "control.sock")
	s := serve(t, control.Config{Path: path}, func(context.Context) control.Status { return control.Status{} })
	fi, err := os.Lstat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("created runtime directory has mode %v, want 0700", di.Mode().Perm())
	}
	// Only the socket and its lock are left in the directory.
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"control.sock", "control.sock.lock"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestConcurrentClients(t *testing.T) {
	checkLeaks(t)
	const n = 6
	var in atomic.Int32
	all := make(chan struct{})
	// Every request waits until all n are inside the provider: this passes
	// only if the server serves them at the same time.
	s := serve(t, control.Config{MaxClients: n}, func(ctx context.Context) control.Status {
		if in.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return control.Status{Version: "ok"}
		case <-ctx.Done():
			return control.Status{Version: "timeout"}
		}
	})
	ctx := testContext(t)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			st, err := control.Fetch(ctx, s.Path())
			if err != nil || st.Version != "ok" {
				t.Errorf("Fetch = %+v, %v", st, err)
			}
		})
	}
	wg.Wait()
}

func TestMaxClients(t *testing.T) {
	checkLeaks(t)
	const clients = 3
	var inflight, most atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, clients)
	s := serve(t, control.Config{MaxClients: 1}, func(ctx context.Context) control.Status {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return control.Status{Version: "ok"}
	})
	ctx := testContext(t)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			if st, err := control.Fetch(ctx, s.Path()); err != nil || st.Version != "ok" {
				t.Errorf("Fetch = %+v, %v", st, err)
			}
		})
	}
	<-entered
	close(release)
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("%d requests served at once, MaxClients 1", m)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	checkLeaks(t)
	path := sockPath(t)
	s, err := control.Listen(control.Config{Path: path, IOTimeout: time.Hour, ProviderTimeout: time.Hour},
		func(ctx context.Context) control.Status { <-ctx.Done(); return control.Status{} })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	// One client idles without a request, one waits in the provider.
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := io.WriteString(busy, "status\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Serve: %v", err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Errorf("second Close = %v", err)
	}
	// The path is free again.
	s2, err := control.Listen(control.Config{Path: path}, func(context.Context) control.Status { return control.Status{} })
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	s2.Close()
}

func TestCloseWithoutServe(t *testing.T) {
	checkLeaks(t)
	path := sockPath(t)
	s, err := control.Listen(control.Config{Path: path}, func(context.Context) control.Status { return control.Status{} })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if err := s.Serve(t.Context()); err == nil {
		t.Error("Serve after Close succeeded")
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	s := serve(t, control.Config{}, func(context.Context) control.Status { return control.Status{Version: "first"} })
	_, err := control.Listen(control.Config{Path: s.Path()}, func(context.Context) control.Status { return control.Status{} })
	if !errors.Is(err, control.ErrAlreadyRunning) {
		t.Fatalf("second Listen = %v, want ErrAlreadyRunning", err)
	}
	// The first one still answers.
	st, err := control.Fetch(testContext(t), s.Path())
	if err != nil || st.Version != "first" {
		t.Errorf("first daemon after the refused second: %+v, %v", st, err)
	}
}

// TestForeignListenerRefused: a process that answers on the socket without
// holding the lock (an older build, another tool) is not displaced either.
func TestForeignListenerRefused(t *testing.T) {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = control.Listen(control.Config{Path: path}, func(context.Context) control.Status { return control.Status{} })
	if !errors.Is(err, control.ErrAlreadyRunning) {
		t.Fatalf("Listen = %v, want ErrAlreadyRunning", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("the other process's socket was touched: %v", err)
	}
}

// staleSocket leaves a socket file nobody listens on, as a crash does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

func TestStaleSocketReplaced(t *testing.T) {
	path := sockPath(t)
	staleSocket(t, path)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	s := serve(t, control.Config{Path: path}, func(context.Context) control.Status { return control.Status{Version: "new"} })
	st, err := control.Fetch(testContext(t), s.Path())
	if err != nil || st.Version != "new" {
		t.Fatalf("Fetch = %+v, %v", st, err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced socket: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestNotASocketRefused(t *testing.T) {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := control.Listen(control.Config{Path: path}, func(context.Context) control.Status { return control.Status{} })
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Error("the regular file was replaced")
	}
}

// TestCloseLeavesAnotherSocket: if someone replaced the socket file after
// Listen, Close must not delete the newcomer's.
func TestCloseLeavesAnotherSocket(t *testing.T) {
	path := sockPath(t)
	s, err := control.Listen(control.Config{Path: path}, func(context.Context) control.Status { return control.Status{} })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	staleSocket(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Close removed a socket it did not create: %v", err)
	}
}

func TestNotRunning(t *testing.T) {
	path := sockPath(t)
	_, err := control.Fetch(testContext(t), path)
	var nr *control.NotRunningError
	if !errors.As(err, &nr) {
		t.Fatalf("Fetch without a daemon = %v, want *NotRunningError", err)
	}
	if want := "daemon not running (no socket at " + path + ")"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	staleSocket(t, path)
	_, err = control.Fetch(testContext(t), path)
	if !errors.As(err, &nr) || err.Error() != "daemon not running (nothing listens on "+path+")" {
		t.Errorf("Fetch on a stale socket = %v", err)
	}
}

func TestUnknownRequest(t *testing.T) {
	s := serve(t, control.Config{}, func(context.Context) control.Status { return control.Status{} })
	c, err := net.Dial("unix", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "reboot\n"); err != nil {
		t.Fatal(err)
	}
	line, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	var resp map[string]string
	if err := json.Unmarshal(line, &resp); err != nil || resp["error"] != `unknown request "reboot"` {
		t.Errorf("answer %q (%v)", line, err)
	}
}

func TestProviderGetsDeadline(t *testing.T) {
	s := serve(t, control.Config{ProviderTimeout: 50 * time.Millisecond}, func(ctx context.Context) control.Status {
		<-ctx.Done() // a provider that honours ctx cannot hold the request longer than ProviderTimeout
		return control.Status{Version: "partial"}
	})
	st, err := control.Fetch(testContext(t), s.Path())
	if err != nil || st.Version != "partial" {
		t.Errorf("Fetch = %+v, %v", st, err)
	}
}

func TestTimeJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   control.Time
		json string
	}{
		{name: "zero", in: control.Time{}, json: "null"},
		{name: "utc", in: control.At(time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)), json: `"2026-11-28T18:00:00Z"`},
		{name: "zone and fraction", in: control.At(time.Date(2026, 11, 28, 19, 0, 0, 9e8, time.FixedZone("CET", 3600))),
			json: `"2026-11-28T18:00:00Z"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil || string(b) != tc.json {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tc.json)
			}
			var back control.Time
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.Time().Equal(tc.in.Time().Truncate(time.Second)) {
				t.Errorf("round trip %v, want %v", back.Time(), tc.in.Time())
			}
		})
	}
	var bad control.Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Error("\"yesterday\" decoded")
	}
	var d control.Duration
	for _, in := range []string{`-1`, `1e30`, `"5s"`, `99999999999999999`} {
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("duration %s decoded", in)
		}
	}
}

func TestSummary(t *testing.T) {
	down := sample()
	down.Modem = &control.ModemStatus{Port: "/dev/ttyUSB2", State: control.ModemDown,
		Since: control.At(time.Date(2026, 11, 28, 18, 2, 11, 0, time.UTC)), LastError: "open /dev/ttyUSB2: no such file or directory"}
	mute := sample()
	mute.SIM = &control.SIMStatus{State: control.SIMNotAnswering, Since: control.At(time.Date(2026, 11, 28, 18, 3, 0, 0, time.UTC))}
	noModem := sample()
	noModem.Modem = nil
	noModem.Servers = noModem.Servers[:1]
	for _, tc := range []struct {
		name string
		in   control.Status
		want string
	}{
		{name: "up", in: sample(), want: "1/2 servers registered; modem up, -71 dBm, Orange F; server 102 backoff: register: 4.03 Forbidden"},
		{name: "modem down", in: down, want: "1/2 servers registered; modem down since 18:02:11Z: open /dev/ttyUSB2: no such file or directory; server 102 backoff: register: 4.03 Forbidden"},
		{name: "sim not answering", in: mute, want: "1/2 servers registered; modem up, -71 dBm, Orange F; SIM not answering since 18:03:00Z; server 102 backoff: register: 4.03 Forbidden"},
		{name: "no modem", in: noModem, want: "1/1 servers registered; no modem"},
		{name: "empty", in: control.Status{}, want: "0/0 servers registered; no modem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Summary(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestMisuse(t *testing.T) {
	if _, err := control.Listen(control.Config{Path: sockPath(t)}, nil); err == nil {
		t.Error("Listen with a nil Provider succeeded")
	}
	s := serve(t, control.Config{}, func(context.Context) control.Status { return control.Status{} })
	if _, err := control.Fetch(testContext(t), s.Path()); err != nil { // the first Serve runs
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // should the second Serve run after all, it returns at once
	if err := s.Serve(ctx); err == nil {
		t.Error("second Serve succeeded")
	}
}
