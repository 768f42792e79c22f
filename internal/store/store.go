package store

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrNotExist is returned by ReadState for a key that was never written
// (or was deleted).
var ErrNotExist = errors.New("store: state does not exist")

// ErrDamaged is returned when a key's file and its previous copy both fail
// their checks.
var ErrDamaged = errors.New("store: state damaged and no good copy left")

// Store is durable key/value state.
type Store interface {
	// ReadState returns the value of key, or ErrNotExist.
	ReadState(key string) ([]byte, error)
	// WriteState stores value atomically; writing the value already
	// stored does nothing.
	WriteState(key string, value []byte) error
	// DeleteState removes key (the deliberate reset); deleting a missing
	// key is not an error.
	DeleteState(key string) error
}

var keyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// checkKey restricts keys to safe file names.
func checkKey(key string) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("store: invalid key %q", key)
	}
	return nil
}
