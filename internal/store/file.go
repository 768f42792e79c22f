package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// File is a Store keeping one file per key in a directory: KEY.state (the
// current value) and KEY.prev (the value before the last write, the last
// good copy). See doc.go for the write sequence and the format.
type File struct {
	dir string       // immutable
	log *slog.Logger // non-nil
	// link is os.Link; tests replace it to exercise file systems
	// without hard links. Immutable after Open.
	link func(oldname, newname string) error

	mu sync.Mutex
	// good caches the value of each key whose KEY.state is known valid;
	// guarded by mu.
	good map[string][]byte
}

var _ Store = (*File)(nil)

const (
	stateSuffix = ".state"
	prevSuffix  = ".prev"
	tmpMarker   = ".tmp-"
)

// Open opens (creating it 0700 if needed) the state directory. A directory
// readable by others is tightened to 0700 and the fact logged. Temporary
// files left by a crash are removed.
func Open(dir string, log *slog.Logger) (*File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create state directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("store: open state directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store: state directory %s is not a directory", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: restrict state directory %s to 0700: %w", dir, err)
		}
		log.Warn("state directory permissions tightened", "dir", dir, "from", fi.Mode().Perm().String(), "to", "-rwx------")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("store: read state directory: %w", err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), tmpMarker) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("store: remove leftover %s: %w", e.Name(), err)
			}
			log.Info("removed temporary file left by an interrupted write", "file", e.Name())
		}
	}
	return &File{dir: dir, log: log, link: os.Link, good: map[string][]byte{}}, nil
}

// Dir is the state directory.
func (s *File) Dir() string { return s.dir }

func (s *File) path(key, suffix string) string { return filepath.Join(s.dir, key+suffix) }

// ReadState implements Store; see ReadStateChecked.
func (s *File) ReadState(key string) ([]byte, error) {
	b, _, err := s.ReadStateChecked(key)
	return b, err
}

// ReadStateChecked returns the value of key and whether it came from the
// last good copy because KEY.state is damaged or missing (logged at error
// level every time: the operator must know). The damaged file is left in
// place until the next write replaces it, so the recovery stays visible.
func (s *File) ReadStateChecked(key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, curErr := readChecked(s.path(key, stateSuffix))
	if curErr == nil {
		s.good[key] = cur
		return bytes.Clone(cur), false, nil
	}
	delete(s.good, key)
	prev, prevErr := readChecked(s.path(key, prevSuffix))
	if errors.Is(curErr, fs.ErrNotExist) && errors.Is(prevErr, fs.ErrNotExist) {
		return nil, false, ErrNotExist
	}
	if prevErr != nil {
		s.log.Error("STATE DAMAGED: no good copy left", "key", key, "state_err", curErr, "prev_err", prevErr)
		return nil, false, fmt.Errorf("%w: %s: %v; last good copy: %v", ErrDamaged, key, curErr, prevErr)
	}
	s.log.Error("STATE DAMAGED: using the last good copy; the latest change may be lost",
		"key", key, "file", s.path(key, stateSuffix), "err", curErr)
	return prev, true, nil
}

func readChecked(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeFile(b)
}

// WriteState implements Store: skip when unchanged; otherwise write a
// temporary file in the directory (0600), fsync it, keep the current good
// value as KEY.prev (hard link, so KEY.state never disappears), rename the
// temporary file over KEY.state and fsync the directory.
func (s *File) WriteState(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	statePath := s.path(key, stateSuffix)
	cur, known := s.good[key]
	if !known {
		if b, err := readChecked(statePath); err == nil {
			cur, known = b, true
		}
	}
	if known && bytes.Equal(cur, value) {
		return nil
	}
	tmp, err := s.writeTemp(key, encodeFile(value))
	if err != nil {
		return fmt.Errorf("store: write %s: %w", key, err)
	}
	defer os.Remove(tmp) // no-op after the rename
	if known {
		if err := s.keepPrev(key, cur); err != nil {
			return fmt.Errorf("store: write %s: keep previous copy: %w", key, err)
		}
	}
	if err := os.Rename(tmp, statePath); err != nil {
		return fmt.Errorf("store: write %s: rename: %w", key, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("store: write %s: %w", key, err)
	}
	s.good[key] = bytes.Clone(value)
	return nil
}

// keepPrev makes KEY.prev a copy of the current (valid) KEY.state.
func (s *File) keepPrev(key string, cur []byte) error {
	linkTmp := s.path(key, tmpMarker+randSuffix())
	if err := s.link(s.path(key, stateSuffix), linkTmp); err == nil {
		if err := os.Rename(linkTmp, s.path(key, prevSuffix)); err != nil {
			os.Remove(linkTmp)
			return err
		}
		return nil
	}
	// File systems without hard links: write the copy out.
	tmp, err := s.writeTemp(key, encodeFile(cur))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path(key, prevSuffix)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func randSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeTemp writes data to a new 0600 file in the directory and fsyncs it.
func (s *File) writeTemp(key string, data []byte) (string, error) {
	name := s.path(key, tmpMarker+randSuffix())
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for fsync: %w", err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	return nil
}

// DeleteState implements Store: both copies go, then the directory is
// fsynced. This is the deliberate reset.
func (s *File) DeleteState(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.good, key)
	for _, suf := range []string{stateSuffix, prevSuffix} {
		if err := os.Remove(s.path(key, suf)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: delete %s: %w", key, err)
		}
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("store: delete %s: %w", key, err)
	}
	s.log.Info("state deleted", "key", key)
	return nil
}
