package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test: a child process (this test binary re-executed) writes
// generation after generation of a value; the parent SIGKILLs it at a
// random point and checks that the state loads as exactly the last
// acknowledged generation or the one being written, complete.

const (
	crashEnvDir = "LWM2M_STORE_CRASH_DIR"
	crashKey    = "crash"
	crashRuns   = 200
	// testExecEnv names a command prefix for re-executing this test binary
	// when the kernel cannot run it directly: scripts/test-arm sets it to
	// qemu-arm, because a linux/arm binary under qemu-user on an amd64 host
	// without binfmt_misc cannot exec itself (the forked child hangs).
	testExecEnv = "LWM2M_TEST_EXEC"
)

// crashValue is generation g: its number, then a body whose length and
// bytes depend on g, so a torn or mixed write cannot pass as valid.
func crashValue(g uint64) []byte {
	n := 1 + int(g*7919%65536)
	b := binary.BigEndian.AppendUint64(nil, g)
	for k := range n {
		b = append(b, byte(g)+byte(k))
	}
	return b
}

func crashGeneration(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("value of %d bytes", len(b))
	}
	g := binary.BigEndian.Uint64(b)
	if !bytes.Equal(b, crashValue(g)) {
		return 0, fmt.Errorf("value for generation %d has wrong content", g)
	}
	return g, nil
}

// TestCrashChild is the child; it does nothing unless re-executed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("crash-test child; runs only under TestCrashAtomicity")
	}
	s, err := Open(dir, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	var g uint64
	if b, err := s.ReadState(crashKey); err == nil {
		if g, err = crashGeneration(b); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
	} else if !errors.Is(err, ErrNotExist) {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	for {
		g++
		if err := s.WriteState(crashKey, crashValue(g)); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println("ok", g) // os.Stdout is unbuffered: the parent sees it at once
	}
}

func TestCrashAtomicity(t *testing.T) {
	if os.Getenv(crashEnvDir) != "" {
		t.Skip("inside the child")
	}
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Independent state directories in parallel: a run is dominated by
	// process start-up and fsync latency, not CPU.
	const workers = 8
	type result struct {
		final, torn uint64
		err         error
	}
	results := make(chan result, workers)
	for w := range workers {
		dir := t.TempDir()
		seed := uint64(time.Now().UnixNano()) + uint64(w)
		go func() {
			final, torn, err := crashRunsIn(ctx, dir, crashRuns/workers, seed)
			results <- result{final, torn, err}
		}()
	}
	var gens, torn uint64
	for range workers {
		r := <-results
		if r.err != nil {
			t.Error(r.err)
		}
		gens += r.final
		torn += r.torn
	}
	t.Logf("%d kills; %d generations written; %d kills landed between rename and acknowledgement", crashRuns, gens, torn)
}

// crashRunsIn kills runs children writing into dir and checks each time
// that the state is the last acknowledged generation or the next one.
func crashRunsIn(ctx context.Context, dir string, runs int, seed uint64) (acked, tornWrites uint64, _ error) {
	rng := rand.New(rand.NewPCG(seed, 6))
	for run := range runs {
		args := []string{os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1"}
		if w := os.Getenv(testExecEnv); w != "" {
			args = append([]string{w}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), crashEnvDir+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return acked, tornWrites, err
		}
		if err := cmd.Start(); err != nil {
			return acked, tornWrites, err
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			return acked, tornWrites, fmt.Errorf("run %d: child did not start: %q", run, sc.Text())
		}
		// Let it complete 0–3 writes, then kill it after a random delay
		// of up to 5 ms: the fault lands anywhere in the write sequence.
		want := rng.IntN(4)
		for k := 0; k < want && sc.Scan(); k++ {
			f := strings.Fields(sc.Text())
			if len(f) != 2 || f[0] != "ok" {
				cmd.Process.Kill()
				cmd.Wait()
				return acked, tornWrites, fmt.Errorf("run %d: child said %q", run, sc.Text())
			}
			acked, _ = strconv.ParseUint(f[1], 10, 64)
		}
		kill := time.NewTimer(time.Duration(rng.IntN(5000)) * time.Microsecond)
		<-kill.C // fault-injection delay, not a wait for an event
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // acknowledgements written before the kill count too
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "ok" {
				acked, _ = strconv.ParseUint(f[1], 10, 64)
			}
		}
		cmd.Wait()

		s, err := Open(dir, nil)
		if err != nil {
			return acked, tornWrites, fmt.Errorf("run %d: open after kill: %w", run, err)
		}
		b, recovered, err := s.ReadStateChecked(crashKey)
		if err != nil {
			if errors.Is(err, ErrNotExist) && acked == 0 {
				continue
			}
			return acked, tornWrites, fmt.Errorf("run %d: read after kill (acked %d): %w", run, acked, err)
		}
		if recovered {
			return acked, tornWrites, fmt.Errorf("run %d: a kill must never need the last good copy", run)
		}
		g, err := crashGeneration(b)
		if err != nil {
			return acked, tornWrites, fmt.Errorf("run %d: %w", run, err)
		}
		switch g {
		case acked:
		case acked + 1:
			tornWrites++ // killed after the rename, before the acknowledgement
			acked = g
		default:
			return acked, tornWrites, fmt.Errorf("run %d: loaded generation %d, last acknowledged %d", run, g, acked)
		}
	}
	return acked, tornWrites, nil
}
