package store

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logBuf captures log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openTest(tb testing.TB, dir string) (*File, *logBuf) {
	tb.Helper()
	lb := &logBuf{}
	s, err := Open(dir, slog.New(slog.NewTextHandler(lb, nil)))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s, lb
}

func TestStores(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   func(t *testing.T) Store
	}{
		{name: "file", st: func(t *testing.T) Store { s, _ := openTest(t, t.TempDir()); return s }},
		{name: "mem", st: func(t *testing.T) Store { return &Mem{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.st(t)
			if _, err := s.ReadState("k"); !errors.Is(err, ErrNotExist) {
				t.Fatalf("read missing: %v", err)
			}
			for _, v := range [][]byte{[]byte("one"), {}, []byte("two")} {
				if err := s.WriteState("k", v); err != nil {
					t.Fatal(err)
				}
				got, err := s.ReadState("k")
				if err != nil || !bytes.Equal(got, v) {
					t.Fatalf("read = %q, %v; want %q", got, err, v)
				}
			}
			if err := s.DeleteState("k"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadState("k"); !errors.Is(err, ErrNotExist) {
				t.Fatalf("read after delete: %v", err)
			}
			if err := s.DeleteState("k"); err != nil {
				t.Fatalf("delete twice: %v", err)
			}
			for _, bad := range []string{"", "../x", "A", "a/b", ".hidden", strings.Repeat("a", 65)} {
				if err := s.WriteState(bad, nil); err == nil {
					t.Errorf("key %q accepted", bad)
				}
			}
		})
	}
}

func TestFileModesAndUnchangedSkipped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k.tmp-abc"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, lb := openTest(t, dir)
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", fi.Mode().Perm())
	}
	if !strings.Contains(lb.String(), "permissions tightened") {
		t.Errorf("no log about tightened permissions: %s", lb)
	}
	if _, err := os.Stat(filepath.Join(dir, "k.tmp-abc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temp file kept: %v", err)
	}
	if err := s.WriteState("k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "k.state")
	fi1, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi1.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", fi1.Mode().Perm())
	}
	// Unchanged value: no new file (same inode), also from a fresh handle.
	s2, _ := openTest(t, dir)
	for _, st := range []*File{s, s2} {
		if err := st.WriteState("k", []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	fi2, _ := os.Stat(p)
	if !os.SameFile(fi1, fi2) {
		t.Errorf("unchanged write replaced the file")
	}
	if _, err := os.Stat(filepath.Join(dir, "k.prev")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("prev written for the first value: %v", err)
	}
	if err := s.WriteState("k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if b, err := readChecked(filepath.Join(dir, "k.prev")); err != nil || string(b) != "v1" {
		t.Errorf("prev = %q, %v", b, err)
	}
}

func TestFileDamage(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	for _, v := range []string{"old", "new"} {
		if err := s.WriteState("k", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "k.state")
	b, _ := os.ReadFile(p)
	for _, damage := range []struct {
		name string
		data []byte
	}{
		{name: "bit flip", data: func() []byte { c := bytes.Clone(b); c[headerLen] ^= 0x01; return c }()},
		{name: "truncated", data: b[:len(b)-1]},
		{name: "empty", data: nil},
		{name: "bad magic", data: append([]byte("XXXX"), b[4:]...)},
	} {
		t.Run(damage.name, func(t *testing.T) {
			if err := os.WriteFile(p, damage.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s2, lb := openTest(t, dir)
			got, recovered, err := s2.ReadStateChecked("k")
			if err != nil || string(got) != "old" || !recovered {
				t.Fatalf("read = %q %v %v; want the last good copy", got, recovered, err)
			}
			if !strings.Contains(lb.String(), "STATE DAMAGED") || !strings.Contains(lb.String(), "level=ERROR") {
				t.Errorf("damage not logged loudly: %s", lb)
			}
		})
	}
	// A write after damage keeps the good prev and replaces the state.
	s3, _ := openTest(t, dir)
	if err := s3.WriteState("k", []byte("newer")); err != nil {
		t.Fatal(err)
	}
	if b, err := readChecked(filepath.Join(dir, "k.prev")); err != nil || string(b) != "old" {
		t.Errorf("prev after damaged write = %q %v", b, err)
	}
	// Both damaged: an error, never an empty value.
	os.WriteFile(p, []byte("junk"), 0o600)
	os.WriteFile(filepath.Join(dir, "k.prev"), []byte("junk"), 0o600)
	s4, lb := openTest(t, dir)
	if _, err := s4.ReadState("k"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("both damaged: %v", err)
	}
	if !strings.Contains(lb.String(), "no good copy") {
		t.Errorf("not logged: %s", lb)
	}
}

func TestDecodeFileEveryPrefixFails(t *testing.T) {
	b := encodeFile([]byte("payload"))
	for n := range len(b) {
		if _, err := decodeFile(b[:n]); err == nil {
			t.Errorf("prefix %d decoded", n)
		}
	}
	if _, err := decodeFile(append(bytes.Clone(b), 0)); err == nil {
		t.Errorf("trailing byte accepted")
	}
}

func TestCounter(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	c, err := OpenCounter(s, "ctr")
	if err != nil || c.Value() != 0 {
		t.Fatalf("open: %v %d", err, c.Value())
	}
	if v, err := c.Reserve(10); err != nil || v != 10 {
		t.Fatalf("reserve = %d %v", v, err)
	}
	if err := c.Advance(5); !errors.Is(err, ErrBackwards) || c.Value() != 10 {
		t.Fatalf("advance back: %v, value %d", err, c.Value())
	}
	if err := c.Advance(10); err != nil {
		t.Fatalf("advance same: %v", err)
	}
	if err := c.Advance(3*RecoveryGap + 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reserve(0); err == nil {
		t.Errorf("reserve 0 accepted")
	}
	c2, err := OpenCounter(s, "ctr")
	if err != nil || c2.Value() != 3*RecoveryGap+7 {
		t.Fatalf("reopen = %d %v", c2.Value(), err)
	}
	// Damage the current file: the counter must jump ahead, never back.
	p := filepath.Join(dir, "ctr.state")
	os.WriteFile(p, []byte("junk"), 0o600)
	s2, _ := openTest(t, dir)
	c3, err := OpenCounter(s2, "ctr")
	if err != nil {
		t.Fatal(err)
	}
	if c3.Value() < 3*RecoveryGap+7 {
		t.Fatalf("counter went back after damage: %d", c3.Value())
	}
	// And the jump is durable.
	s3, _ := openTest(t, dir)
	c4, err := OpenCounter(s3, "ctr")
	if err != nil || c4.Value() != c3.Value() {
		t.Fatalf("jump not durable: %d vs %d (%v)", c4.Value(), c3.Value(), err)
	}
}

func TestFileWithoutHardLinks(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	s.link = func(string, string) error { return errors.New("operation not permitted") }
	for _, v := range []string{"a", "b", "c"} {
		if err := s.WriteState("k", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := readChecked(filepath.Join(dir, "k.prev")); err != nil || string(b) != "b" {
		t.Errorf("prev = %q %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), tmpMarker) {
			t.Errorf("temporary file left: %s", e.Name())
		}
		if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", e.Name(), fi.Mode().Perm())
		}
	}
	if s.Dir() != dir {
		t.Errorf("Dir = %s", s.Dir())
	}
}
