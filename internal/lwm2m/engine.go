package lwm2m

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// ErrNoServer reports a tree without any server account.
var ErrNoServer = errors.New("no LwM2M server or bootstrap server account")

// errNeedBootstrap ends the registrations so the engine can bootstrap.
var errNeedBootstrap = errors.New("registration keeps failing: bootstrap needed")

// ServerState is a snapshot of one server's registration for status and
// health.
type ServerState struct {
	ShortID    uint16    `json:"short_server_id"`
	URI        string    `json:"uri"`
	Binding    string    `json:"binding"`
	State      string    `json:"state"`
	Registered bool      `json:"registered"`
	Location   string    `json:"location,omitempty"`
	LastUpdate time.Time `json:"last_update"`
	NextUpdate time.Time `json:"next_update"`
	LastError  string    `json:"last_error,omitempty"`
	Failures   int       `json:"failures"`
	Observing  int       `json:"observations"`
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock sets the clock (default SystemClock).
func WithClock(c Clock) Option { return func(e *Engine) { e.clock = c } }

// WithRand sets the randomness of the backoff jitter (default crypto/rand).
func WithRand(r io.Reader) Option { return func(e *Engine) { e.rand = r } }

// Engine is the LwM2M client. Run drives it; the other methods are safe
// for concurrent use.
type Engine struct {
	cfg   Config       // read-only after New
	objs  Objects      // non-nil
	log   *slog.Logger // non-nil, component=lwm2m
	clock Clock
	rand  io.Reader

	mu     sync.Mutex               // guards the fields below
	states map[uint16]ServerState   // written by each registration goroutine
	regs   map[uint16]*registration // the running registrations
	bsDone chan struct{}            // closed on Bootstrap-Finish 2.04 (nil outside a bootstrap)
	runs   bool
}

// New returns an engine over objs.
func New(cfg Config, objs Objects, log *slog.Logger, opts ...Option) (*Engine, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("lwm2m: endpoint name is empty")
	}
	if objs == nil || log == nil {
		return nil, errors.New("lwm2m: objects and logger are required")
	}
	cfg = cfg.withDefaults()
	if _, err := szx(cfg.BlockSize); err != nil {
		return nil, fmt.Errorf("lwm2m: %w", err)
	}
	e := &Engine{
		cfg: cfg, objs: objs, log: log.With("component", "lwm2m"),
		clock: SystemClock{}, rand: rand.Reader,
		states: map[uint16]ServerState{}, regs: map[uint16]*registration{},
	}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// State returns a snapshot of every server's registration, by Short Server ID.
func (e *Engine) State() []ServerState {
	e.mu.Lock()
	out := make([]ServerState, 0, len(e.states))
	for _, s := range e.states {
		if r := e.regs[s.ShortID]; r != nil {
			s.Observing = r.obs.count()
		}
		out = append(out, s)
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ShortID < out[j].ShortID })
	return out
}

func (e *Engine) setState(s ServerState) {
	e.mu.Lock()
	e.states[s.ShortID] = s
	e.mu.Unlock()
}

// Trigger is the Registration Update Trigger for server ssid (Server
// resource 8, also reached by an SMS trigger): an Update now, or a Register
// when not registered. It reports whether such a server is running.
func (e *Engine) Trigger(ssid uint16) bool {
	e.mu.Lock()
	r := e.regs[ssid]
	e.mu.Unlock()
	if r == nil {
		return false
	}
	r.signal(r.trigger)
	return true
}

// Changed tells the engine that values at or below paths changed outside a
// server request (modem data, the clock): observations re-evaluate and the
// registrations check whether their Update parameters changed.
func (e *Engine) Changed(paths ...Path) {
	e.mu.Lock()
	regs := make([]*registration, 0, len(e.regs))
	for _, r := range e.regs {
		regs = append(regs, r)
	}
	e.mu.Unlock()
	for _, r := range regs {
		for _, p := range paths {
			r.obs.changed(p)
		}
		r.signal(r.changed)
	}
}

// Run registers with every server account and serves them until ctx ends,
// then de-registers (bounded by Config.DeregisterTimeout) and returns nil.
// With no DM server account, or when registrations keep failing, it
// bootstraps from the bootstrap account first.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.runs {
		e.mu.Unlock()
		return errors.New("lwm2m: engine already running")
	}
	e.runs = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.runs = false
		e.mu.Unlock()
	}()
	bsFailures := 0
	needBootstrap := false
	for ctx.Err() == nil {
		accs, err := e.objs.Accounts()
		if err != nil {
			return fmt.Errorf("lwm2m: read server accounts: %w", err)
		}
		var dm []Account
		var bs *Account
		for i := range accs {
			if accs[i].Bootstrap {
				bs = &accs[i]
			} else {
				dm = append(dm, accs[i])
			}
		}
		if len(dm) == 0 && bs == nil {
			return fmt.Errorf("lwm2m: %w", ErrNoServer)
		}
		if len(dm) == 0 || needBootstrap {
			if bs == nil {
				return fmt.Errorf("lwm2m: registrations failing and no bootstrap account: %w", ErrNoServer)
			}
			if err := e.bootstrap(ctx, *bs); err != nil {
				if ctx.Err() != nil {
					break
				}
				bsFailures++
				e.log.Warn("bootstrap failed", "err", err, "failures", bsFailures)
				if !e.sleep(ctx, e.backoff(bsFailures)) {
					break
				}
				continue
			}
			bsFailures, needBootstrap = 0, false
			continue
		}
		err = e.runRegistrations(ctx, dm, bs != nil)
		if errors.Is(err, errNeedBootstrap) {
			needBootstrap = true
		}
	}
	return nil
}

// runRegistrations runs one registration goroutine per DM server until ctx
// ends (all de-register) or one asks for bootstrap (all stop).
func (e *Engine) runRegistrations(ctx context.Context, dm []Account, canBootstrap bool) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(dm))
	for _, acc := range dm {
		r := e.newRegistration(acc, canBootstrap)
		e.mu.Lock()
		e.regs[acc.ShortID] = r
		e.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- r.run(rctx)
		}()
	}
	var first error
	for range dm {
		err := <-errs
		if err != nil && first == nil {
			first = err
			cancel()
		}
	}
	wg.Wait()
	e.mu.Lock()
	for _, acc := range dm {
		delete(e.regs, acc.ShortID)
	}
	e.mu.Unlock()
	return first
}

// backoff is the capped exponential delay before attempt n+1 with "equal
// jitter" (a uniform draw from [d/2, d]) so that thousands of gateways
// restarted together do not retry in step.
func (e *Engine) backoff(failures int) time.Duration {
	d := e.cfg.RetryInitial
	for i := 1; i < failures && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.RetryMax)
	var b [8]byte
	if _, err := io.ReadFull(e.rand, b[:]); err != nil {
		return d
	}
	frac := float64(binary.BigEndian.Uint64(b[:])>>11) / float64(1<<53)
	return d/2 + time.Duration(frac*float64(d/2))
}

// sleep waits d on the engine clock; false when ctx ended first.
func (e *Engine) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
