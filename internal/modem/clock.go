package modem

import "time"

// Clock is the time source of the reconnect backoff, the send retry backoff
// and the periodic sweep, so tests can see and drive those timers.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// backoff is a capped exponential delay: min, 2·min, 4·min, ... max.
type backoff struct {
	min, max time.Duration
	next     time.Duration // owned by the goroutine using it
}

func (b *backoff) delay() time.Duration {
	if b.next < b.min {
		b.next = b.min
	}
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}

func (b *backoff) reset() { b.next = 0 }
