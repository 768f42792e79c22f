package smsbind

import (
	"sync"
	"time"
)

// bucket is a token bucket: capacity Count, refilled continuously at Count
// per Interval. The zero value is empty; newBucket fills it.
type bucket struct {
	tokens float64
	last   time.Time
}

// limiter holds the per-sender buckets and the global one.
type limiter struct {
	clock     Clock
	perSender Limit
	global    Limit

	mu      sync.Mutex
	senders map[string]*bucket // guarded by mu; keyed by server number
	all     bucket             // guarded by mu
	started bool               // guarded by mu: all was filled
}

func newLimiter(clock Clock, perSender, global Limit) *limiter {
	return &limiter{clock: clock, perSender: perSender, global: global, senders: make(map[string]*bucket)}
}

// allow takes one token from sender's bucket and one from the global bucket,
// or none when either is empty.
func (l *limiter) allow(sender string) bool {
	return l.use(sender, true)
}

// check reports whether allow would succeed, without taking a token: for an
// SMS that is charged only once it proved genuine (see take).
func (l *limiter) check(sender string) bool {
	return l.use(sender, false)
}

// take charges one token to sender and to the global bucket after a
// successful check (a bucket never goes below empty).
func (l *limiter) take(sender string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.senders[sender]; s != nil {
		s.tokens = max(0, s.tokens-1)
	}
	l.all.tokens = max(0, l.all.tokens-1)
}

func (l *limiter) use(sender string, take bool) bool {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.all = bucket{tokens: float64(l.global.Count), last: now}
		l.started = true
	}
	s := l.senders[sender]
	if s == nil {
		s = &bucket{tokens: float64(l.perSender.Count), last: now}
		l.senders[sender] = s
	}
	refill(s, l.perSender, now)
	refill(&l.all, l.global, now)
	if s.tokens < 1 || l.all.tokens < 1 {
		return false
	}
	if !take {
		return true
	}
	s.tokens--
	l.all.tokens--
	return true
}

func refill(b *bucket, lim Limit, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(lim.Count), b.tokens+float64(lim.Count)*float64(el)/float64(lim.Interval))
		b.last = now
	}
}
