package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
		var stderr bytes.Buffer
		args := []string{os.Args[0], "-test.run=^TestHelperProcess$", "--", "run", "--config", cfgPath, "--state-dir", state}
		// scripts/test-arm runs this binary under qemu-arm on an amd64
		// host without binfmt_misc, where it cannot exec itself: it sets
		// LWM2M_TEST_EXEC=qemu-arm as the command prefix.
		if w := os.Getenv("LWM2M_TEST_EXEC"); w != "" {
			args = append([]string{w}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "LWM2M_CLIENTD_HELPER=1")
		cmd.Stderr = &stderr
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
