package uicc_test

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"
)

// step is one expected command APDU and the card's answer, both hex.
type step struct {
	want  string
	reply string
}

// script is a Transport that checks every APDU against a script.
type script struct {
	tb    testing.TB
	mu    sync.Mutex
	steps []step
	i     int
}

func newScript(tb testing.TB, steps ...step) *script {
	tb.Helper()
	s := &script{tb: tb, steps: steps}
	tb.Cleanup(func() {
		if s.i != len(s.steps) {
			tb.Errorf("script: %d of %d APDUs sent; next expected %s", s.i, len(s.steps), s.steps[s.i].want)
		}
	})
	return s
}

func (s *script) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := strings.ToUpper(hex.EncodeToString(apdu))
	if s.i >= len(s.steps) {
		s.tb.Errorf("unexpected APDU %s", got)
		return []byte{0x6F, 0x00}, nil
	}
	st := s.steps[s.i]
	s.i++
	if want := strings.ToUpper(strings.ReplaceAll(st.want, " ", "")); got != want {
		s.tb.Errorf("APDU %d\n got %s\nwant %s", s.i, got, want)
	}
	return unhex(s.tb, st.reply), nil
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(strings.ReplaceAll(s, " ", "")) }
