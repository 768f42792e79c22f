package main

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the whole demo (the real daemon against the emulated
// world) so that `make test` proves what `make demo` shows.
func TestDemo(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := runDemo(ctx, &out, io.Discard, "../../configs/emulator-sim.yaml"); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{"registered at the 3 servers over UDP with binding UQS", "full handshake in",
		"nosec ", "dtls ", "secure-packet ", "spoofed trigger", "no DTLS handshake after the restart", "dtls (restart)", "demo passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Everything the demo started has stopped (bounded wait).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		<-time.After(10 * time.Millisecond)
	}
}

func TestDemoCommandUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"demo", "extra"})
	if err := root.Execute(); err == nil {
		t.Fatal("demo with an argument succeeded")
	} else if _, ok := err.(*usageError); !ok {
		t.Errorf("error %T %v, want a usage error", err, err)
	}
}
