package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// counters are the application's two counters (secured-packet.md §6): the
// last CNTR accepted from the server and the last CNTR it sent. Whether the
// LwM2M UICC application shares one counter for both directions is
// UNCONFIRMED; keeping two is what the Receiving Entity rule needs.
type counters struct {
	Received uint64 `json:"received"`
	Sent     uint64 `json:"sent"`
}

// loadCounters reads the counter file, or starts both counters at initial
// when the file does not exist yet (or path is empty: no persistence).
func loadCounters(path string, initial uint64) (counters, error) {
	c := counters{Received: initial, Sent: initial}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("sim: read counters: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("sim: counters %s: %w", path, err)
	}
	return c, nil
}

// save writes the counters atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory. A counter that went
// back after a crash would let a replay through.
func (c counters) save(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".counters-*")
	if err != nil {
		return fmt.Errorf("sim: save counters: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("sim: save counters: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sim: save counters: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sim: save counters: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sim: save counters: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sim: save counters: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sim: save counters: sync %s: %w", dir, err)
	}
	return nil
}
