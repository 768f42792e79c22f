package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
)

// TestHelperProcess is the daemon when re-executed by TestRunSIGTERM.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("LWM2M_CLIENTD_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

func waitFor(t *testing.T, ctx context.Context, ch <-chan server.Event, k server.EventKind) server.Event {
	t.Helper()
	for {
		select {
		case ev := <-ch:
			if ev.Kind == k {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %s event: %v", k, ctx.Err())
		}
	}
}

// `run` as a separate process against the emulated server: it registers
// with what the configuration says, serves a Read, and on SIGTERM
// de-registers and exits 0. A second start reuses the stored state.
func TestRunSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := server.Start(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Subscribe()
	src, err := os.ReadFile("../../configs/udp-nosec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfgText := strings.ReplaceAll(string(src), "coap://127.0.0.1:5683", srv.URI())
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	for round := 1; round <= 2; round++ {
		stderr := &logBuffer{grew: make(chan struct{}, 1)}
		sock := filepath.Join(dir, "control.sock")
		cmd := selfCommand(ctx, "run", "--config", cfgPath, "--state-dir", state, "--control-socket", sock)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				_ = cmd.Process.Kill()
				t.Logf("daemon stderr:\n%s", stderr.String())
			}
		})
		reg := waitFor(t, ctx, events, server.Registered)
		if reg.Endpoint != "lwm2m-clientd-test" || reg.Query["b"] != "U" || reg.Query["lt"] != "300" {
			t.Errorf("round %d: register %+v", round, reg)
		}
		resp, err := srv.Client("lwm2m-clientd-test").Read(ctx, "/3/0/0", 0)
		if err != nil || string(resp.Payload) != "lwm2m-clientd" {
			t.Errorf("round %d: read /3/0/0: %q %v", round, resp.Payload, err)
		}
		// `status` asks the running daemon over its control socket once
		// the daemon has seen the 2.01 the server's event precedes.
		stderr.waitFor(t, ctx, "from=registering to=registered")
		st := statusUntil(t, ctx, sock, func(st control.Status) bool { return len(st.Servers) == 1 && st.Servers[0].Registered })
		if len(st.Servers) != 1 || !st.Servers[0].Registered || st.Servers[0].Location == "" || st.Servers[0].Binding != "U" || st.Modem != nil {
			t.Errorf("round %d: status %+v", round, st)
		}
		if round == 1 {
			// SIGHUP re-reads the log level.
			if err := os.WriteFile(cfgPath, []byte(strings.Replace(cfgText, "level: info", "level: debug", 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			stderr.waitFor(t, ctx, `msg="SIGHUP: log level changed" component=run from=INFO to=DEBUG`)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, events, server.Deregistered)
		err = cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Fatalf("round %d: exit %v\n%s", round, err, stderr.String())
		}
		for _, want := range []string{"msg=registered", "msg=de-registered", "server_id=1"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("round %d: log lacks %q:\n%s", round, want, stderr.String())
			}
		}
		if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("state dir: %v %v", fi, err)
		}
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "--config FILE is required") {
		t.Errorf("run without --config: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"run", "--config", "/nonexistent.yaml"}, &out, &errb); code != exitFail {
		t.Errorf("run with a missing file: %d %q", code, errb.String())
	}
}

// logBuffer collects a child's stderr; waitFor waits for a line.
type logBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer  // guarded by mu
	grew chan struct{} // signalled after each Write
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	n, err := l.b.Write(p)
	l.mu.Unlock()
	select {
	case l.grew <- struct{}{}:
	default:
	}
	return n, err
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) waitFor(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	for !strings.Contains(l.String(), want) {
		select {
		case <-l.grew:
		case <-ctx.Done():
			t.Fatalf("log lacks %q:\n%s", want, l.String())
		}
	}
}

// Under journald log records carry their priority and no timestamp.
func TestJournalLogger(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Setenv("JOURNAL_STREAM", "8:1234")
		var b bytes.Buffer
		log := newLogger(&b, config.Log{Format: config.LogFormat(format)}, slog.LevelDebug)
		log.Debug("d")
		log.Info("i", "k", 1)
		log.Warn("w")
		log.Error("e")
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(lines) != 4 {
			t.Fatalf("%s: %q", format, b.String())
		}
		for i, prio := range []string{"<7>", "<6>", "<4>", "<3>"} {
			if !strings.HasPrefix(lines[i], prio) || strings.Contains(lines[i], "time") {
				t.Errorf("%s: line %q, want prefix %s and no time", format, lines[i], prio)
			}
		}
	}
	t.Setenv("JOURNAL_STREAM", "")
	var b bytes.Buffer
	newLogger(&b, config.Log{}, slog.LevelInfo).Info("i")
	if !strings.HasPrefix(b.String(), "time=") {
		t.Errorf("outside journald: %q", b.String())
	}
}

// selfCommand runs this test binary as `lwm2m-clientd args...`.
// scripts/test-arm runs it under qemu-arm on an amd64 host without
// binfmt_misc, where it cannot exec itself: it sets LWM2M_TEST_EXEC=qemu-arm
// as the command prefix.
func selfCommand(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string{os.Args[0], "-test.run=^TestHelperProcess$", "--"}, args...)
	if w := os.Getenv("LWM2M_TEST_EXEC"); w != "" {
		argv = append([]string{w}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LWM2M_CLIENTD_HELPER=1")
	return cmd
}

// helper starts this test binary as `lwm2m-clientd args...`.
func helper(t *testing.T, ctx context.Context, stdout io.Writer, stderr io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := selfCommand(ctx, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// `run` and `emulator` as separate processes, configs/sms-nosec.yaml: an
// SMS trigger through the emulator's control API is answered 2.04 by SMS
// and followed by the Update over UDP; the modem's pty is hung up and comes
// back and the next trigger works without restarting the daemon; `status`
// tells the truth; SIGTERM de-registers and exits 0.
func TestRunSMSAgainstEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	link := filepath.Join(dir, "modem")

	emuOut := &logBuffer{grew: make(chan struct{}, 1)}
	emuErr := &logBuffer{grew: make(chan struct{}, 1)}
	emuCmd := helper(t, ctx, emuOut, emuErr, "emulator", "--link", link, "--number", "+33611111111",
		"--sim", "../../configs/emulator-sim.yaml", "--sim-counters", filepath.Join(dir, "counters.json"), "--control", "127.0.0.1:0")
	defer func() {
		_ = emuCmd.Process.Signal(os.Interrupt)
		_ = emuCmd.Wait()
	}()
	emuOut.waitFor(t, ctx, "control API on http://")
	api := strings.TrimSpace(strings.SplitN(strings.SplitN(emuOut.String(), "control API on ", 2)[1], "\n", 2)[0])
	post := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
	}
	sentTo := func(to string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/sms/sent", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sent []struct{ From, To, PDU string }
		if err := json.NewDecoder(resp.Body).Decode(&sent); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range sent {
			if s.From == "+33611111111" && s.To == to {
				n++
			}
		}
		return n
	}

	srv, err := server.Start(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Subscribe()
	src, err := os.ReadFile("../../configs/sms-nosec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfgText := strings.Replace(strings.ReplaceAll(string(src), "coap://127.0.0.1:5683", srv.URI()), "level: info", "level: debug", 1)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "control.sock")
	stderr := &logBuffer{grew: make(chan struct{}, 1)}
	cmd := helper(t, ctx, io.Discard, stderr, "run", "--config", cfgPath, "--state-dir", filepath.Join(dir, "state"),
		"--modem-port", link, "--control-socket", sock)
	t.Cleanup(func() {
		if t.Failed() {
			_ = cmd.Process.Kill()
			t.Logf("daemon stderr:\n%s\nemulator stderr:\n%s", stderr.String(), emuErr.String())
		}
	})
	waitFor(t, ctx, events, server.Registered)
	stderr.waitFor(t, ctx, "from=registering to=registered")
	stderr.waitFor(t, ctx, "msg=\"modem initialised\"")

	// Execute /1/0/8 as CON POST, 8-bit SMS from the NoSec server number.
	trigger := func(mid byte) {
		t.Helper()
		before := sentTo("+33600000001")
		post("/sms", fmt.Sprintf(`{"from":"+33600000001","dcs":4,"ud":"4202%04X0102B13101300138"}`, uint16(mid)))
		waitFor(t, ctx, events, server.Updated)
		if n := sentTo("+33600000001") - before; n != 1 {
			t.Errorf("trigger %d: %d SMS answered, want 1", mid, n)
		}
	}
	trigger(1)
	// A spoofed sender gets nothing.
	post("/sms", `{"from":"+33699999999","dcs":4,"ud":"420200090102B13101300138"}`)
	stderr.waitFor(t, ctx, `msg="SMS ignored: sender is no server's SMS number" component=smsbind msisdn=+33699999999`)

	post("/modem/unplug", "")
	stderr.waitFor(t, ctx, "msg=\"modem link down")
	post("/modem/replug", "")
	for strings.Count(stderr.String(), "msg=\"modem initialised\"") < 2 {
		select {
		case <-stderr.grew:
		case <-ctx.Done():
			t.Fatal("modem not back")
		}
	}
	trigger(2)
	if n := sentTo("+33699999999"); n != 0 {
		t.Errorf("%d SMS to the spoofed sender", n)
	}

	st := statusUntil(t, ctx, sock, func(st control.Status) bool { return len(st.Servers) == 1 && st.Servers[0].Registered })
	if len(st.Servers) != 1 || !st.Servers[0].Registered || st.Servers[0].SMSMode != "nosec" || st.Modem == nil || st.Modem.State != control.ModemUp {
		t.Errorf("status %+v", st)
	}
	if c := st.Counters; c.SMSReceived != 3 || c.SMSDroppedSender != 1 || c.SMSSent != 2 {
		t.Errorf("counters %+v", c)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, events, server.Deregistered)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit %v", err)
	}
}

// statusUntil runs `status --json` until ok holds or ctx ends, and returns
// the last status. The engine logs a state change just before it publishes
// it, so a status asked right after the log line may still lag by one.
func statusUntil(t *testing.T, ctx context.Context, sock string, ok func(control.Status) bool) control.Status {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var out, errb bytes.Buffer
		if code := run([]string{"status", "--socket", sock, "--json"}, &out, &errb); code != 0 {
			t.Fatalf("status: %d %s", code, errb.String())
		}
		st, err := control.Decode(out.Bytes())
		if err != nil {
			t.Fatalf("status: %v\n%s", err, out.String())
		}
		if ok(st) {
			return st
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return st
		}
	}
}
