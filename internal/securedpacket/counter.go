package securedpacket

import (
	"errors"
	"fmt"
)

// Check applies the counter mode to a received counter and the value the
// Receiving Entity stored last (TS 102 225 §5.1.1 first octet b5 b4;
// secured-packet.md §6). A stored MaxCounter blocks every higher-than
// check.
func (m CounterMode) Check(received, stored uint64) error {
	switch m {
	case CounterNone, CounterAvailable:
		return nil
	case CounterHigher, CounterOneHigher:
		if stored >= maxCounter {
			return fmt.Errorf("securedpacket: stored counter %d: %w", stored, ErrCounterBlocked)
		}
		if received <= stored {
			return fmt.Errorf("securedpacket: counter %d, stored %d: %w", received, stored, ErrCounterLow)
		}
		if m == CounterOneHigher && received != stored+1 {
			return fmt.Errorf("securedpacket: counter %d, stored %d: %w", received, stored, ErrCounterHigh)
		}
		return nil
	}
	return fmt.Errorf("securedpacket: counter mode %d: %w", uint8(m), ErrReserved)
}

// StatusFor maps a receiving-side error to the Response Status Code a PoR
// would carry (TS 102 225 Table 5). nil maps to StatusOK. Note that LwM2M
// (LwM2M-TS 1.0 §7.2.2) wants failed packets dropped without an answer.
func StatusFor(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrChecksum):
		return StatusChecksumFailed
	case errors.Is(err, ErrCounterLow):
		return StatusCounterLow
	case errors.Is(err, ErrCounterHigh):
		return StatusCounterHigh
	case errors.Is(err, ErrCounterBlocked):
		return StatusCounterBlocked
	case errors.Is(err, ErrCipherLength), errors.Is(err, ErrPadding):
		return StatusCipheringError
	case errors.Is(err, ErrUnsupportedAlgorithm), errors.Is(err, ErrKeyLength):
		return StatusInsufficientSecurity
	}
	return StatusSecurityError
}
