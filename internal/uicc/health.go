package uicc

import (
	"context"
	"errors"
	"time"
)

// HealthState says whether the LwM2M UICC application answers (App.Health).
type HealthState int

// Health states. The state is that of the last App operation (SELECT, GET
// DATA, STORE DATA, ENVELOPE, ...) that ran to an outcome; an operation
// whose context ended first leaves it as it was.
const (
	// HealthUnknown: no operation has run yet.
	HealthUnknown HealthState = iota
	// HealthOK: the last operation succeeded.
	HealthOK
	// HealthNotAnswering: the last operation got no response APDU: the
	// transport failed (a *TransportError, e.g. "+CME ERROR: 13" SIM
	// failure, an AT+CSIM timeout, the modem being down).
	HealthNotAnswering
	// HealthError: the card answered, but wrongly: an unexpected status
	// word (*StatusError, e.g. 6A82 when the application is missing), a
	// response that did not decode, a runaway proactive session.
	HealthError
)

func (s HealthState) String() string {
	switch s {
	case HealthOK:
		return "ok"
	case HealthNotAnswering:
		return "not answering"
	case HealthError:
		return "error"
	}
	return "unknown"
}

// Health is a snapshot of the application's health. It is kept up to date
// as a side effect of the APDUs the App exchanges: reading it never talks
// to the card.
type Health struct {
	State HealthState
	// Since is when State began (zero while HealthUnknown).
	Since time.Time
	// LastOK is when the card last answered an APDU with a response APDU,
	// whatever its status word (zero: never).
	LastOK time.Time
	// LastError is the last failure of an operation that the card or its
	// transport caused, nil if none; it stays after the card recovers.
	// SMS-send failures of a proactive SEND SHORT MESSAGE are the
	// network's, not the card's, and do not count. LastErrorAt is when.
	LastError   error
	LastErrorAt time.Time
	// AID is the application's AID (a copy).
	AID []byte
	// Selected reports whether the application is selected, on logical
	// channel Channel (0: the basic channel), as far as the App knows: it
	// forgets the selection after a transport failure or Reset.
	Selected bool
	Channel  int
}

// WithClock sets the clock of the health timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(a *App) { a.now = now } }

// health is the App's health record; App.hmu guards it.
type health struct {
	state    HealthState
	since    time.Time
	lastOK   time.Time
	lastErr  error
	errAt    time.Time
	selected bool
	channel  int
}

// Health returns the application's health. It never blocks on the card:
// it takes only the health lock, which no APDU exchange holds.
func (a *App) Health() Health {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	h := a.health
	return Health{
		State: h.state, Since: h.since, LastOK: h.lastOK, LastError: h.lastErr, LastErrorAt: h.errAt,
		AID: append([]byte(nil), a.cfg.AID...), Selected: h.selected, Channel: h.channel,
	}
}

// answered notes that the card gave a response APDU.
func (a *App) answered() {
	now := a.now()
	a.hmu.Lock()
	a.health.lastOK = now
	a.hmu.Unlock()
}

// recordLocked notes the outcome of an operation; the caller holds a.mu
// (so that selected and channel are stable). It logs changes of state
// after releasing hmu.
func (a *App) recordLocked(ctx context.Context, err error) {
	var te *TransportError
	var se *sendError
	state := HealthError
	switch {
	case err == nil, errors.As(err, &se), errors.Is(err, ErrNoSender):
		state = HealthOK
	case ctx.Err() != nil:
		state = HealthUnknown // the caller gave up (or the daemon stops): says nothing about the card
	case errors.As(err, &te):
		state = HealthNotAnswering
	}
	now := a.now()
	a.hmu.Lock()
	h := &a.health
	h.selected, h.channel = a.selected, a.channel
	if state == HealthUnknown {
		a.hmu.Unlock()
		return
	}
	if state != HealthOK {
		h.lastErr, h.errAt = err, now
	}
	prev := h.state
	if state != prev {
		h.state, h.since = state, now
	}
	a.hmu.Unlock()
	switch {
	case state == prev:
	case state != HealthOK:
		a.log.Warn("lwm2m uicc application health changed", "from", prev.String(), "to", state.String(), "err", err)
	case prev != HealthUnknown:
		a.log.Info("lwm2m uicc application answers again", "from", prev.String())
	}
}

// healthTransport records every response APDU as the card answering.
type healthTransport struct {
	t Transport
	a *App
}

func (h healthTransport) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	rsp, err := h.t.Transmit(ctx, apdu)
	if err == nil {
		h.a.answered()
	}
	return rsp, err
}

// sendError is a failure of the SMSSender: the network's, not the card's.
type sendError struct{ err error }

func (e *sendError) Error() string { return "uicc: send short message: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }
