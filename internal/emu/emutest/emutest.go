package emutest

import (
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"
)

// Log is where a test's logs go: discarded, or with LWM2M_TEST_LOG set,
// every level to stderr.
func Log() *slog.Logger {
	if os.Getenv("LWM2M_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// CheckLeaks fails t if goroutines started during it still run after its
// cleanups, waiting at most within for exiting goroutines to finish, and
// prints every goroutine's stack when they do not.
func CheckLeaks(t testing.TB, within time.Duration) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(within)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			<-time.After(10 * time.Millisecond)
		}
	})
}
