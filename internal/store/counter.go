package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// RecoveryGap is how far a counter jumps ahead when its current file was
// damaged and the last good copy had to be used. Every durable step of a
// Counter is at most RecoveryGap, so the lost value was at most the
// recovered one plus RecoveryGap: jumping by it can never reuse a value.
// PROJECT DEFAULT: 2^32 leaves room in 48-bit DTLS sequence numbers and
// 40-bit TS 102 225 counters.
const RecoveryGap = 1 << 32

// ErrBackwards is returned when a counter would move back.
var ErrBackwards = errors.New("store: counter would move backwards")

// ErrExhausted is returned when a counter cannot move further.
var ErrExhausted = errors.New("store: counter exhausted")

// CheckedReader is implemented by stores that can tell a value recovered
// from the last good copy (File).
type CheckedReader interface {
	ReadStateChecked(key string) (value []byte, recovered bool, err error)
}

// Counter is a persisted unsigned 64-bit value that only moves forward:
// replay-protection high-water marks and reservations of sequence numbers.
// There is no way to set it lower; every change is durable before the
// method returns. Safe for concurrent use.
type Counter struct {
	st  Store  // non-nil
	key string // immutable

	mu sync.Mutex
	v  uint64 // guarded by mu
}

// OpenCounter loads the counter stored under key (0 if never written).
// When the store had to fall back to the last good copy, the counter jumps
// RecoveryGap ahead and stores that before returning.
func OpenCounter(st Store, key string) (*Counter, error) {
	var (
		b         []byte
		recovered bool
		err       error
	)
	if cr, ok := st.(CheckedReader); ok {
		b, recovered, err = cr.ReadStateChecked(key)
	} else {
		b, err = st.ReadState(key)
	}
	c := &Counter{st: st, key: key}
	switch {
	case errors.Is(err, ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("store: open counter %s: %w", key, err)
	case len(b) != 8:
		return nil, fmt.Errorf("store: open counter %s: %d bytes, want 8", key, len(b))
	}
	c.v = binary.BigEndian.Uint64(b)
	if recovered {
		if c.v > math.MaxUint64-RecoveryGap {
			return nil, fmt.Errorf("store: open counter %s: recovery: %w", key, ErrExhausted)
		}
		if err := c.write(c.v + RecoveryGap); err != nil {
			return nil, fmt.Errorf("store: open counter %s: store recovery jump: %w", key, err)
		}
	}
	return c, nil
}

// Value is the current value.
func (c *Counter) Value() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

func (c *Counter) write(v uint64) error {
	if err := c.st.WriteState(c.key, binary.BigEndian.AppendUint64(nil, v)); err != nil {
		return err
	}
	c.v = v
	return nil
}

// Advance moves the counter to v (durably, in steps of at most
// RecoveryGap). v equal to the current value does nothing; a smaller v
// fails with ErrBackwards and changes nothing.
func (c *Counter) Advance(v uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v < c.v {
		return fmt.Errorf("%w: %s at %d, asked %d", ErrBackwards, c.key, c.v, v)
	}
	for c.v < v {
		next := v
		if v-c.v > RecoveryGap {
			next = c.v + RecoveryGap
		}
		if err := c.write(next); err != nil {
			return fmt.Errorf("store: advance counter %s: %w", c.key, err)
		}
	}
	return nil
}

// Reserve moves the counter forward by n (1 ≤ n ≤ RecoveryGap) and
// returns the new value: the caller owns the values (new-n, new].
func (c *Counter) Reserve(n uint64) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == 0 || n > RecoveryGap {
		return 0, fmt.Errorf("store: reserve %d on counter %s: want 1..%d", n, c.key, uint64(RecoveryGap))
	}
	if c.v > math.MaxUint64-n {
		return 0, fmt.Errorf("store: reserve on counter %s: %w", c.key, ErrExhausted)
	}
	if err := c.write(c.v + n); err != nil {
		return 0, fmt.Errorf("store: reserve on counter %s: %w", c.key, err)
	}
	return c.v, nil
}
