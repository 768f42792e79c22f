package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// Delivery is how new SMS reach the driver (TS 27.005 §3.4.1 +CNMI).
type Delivery string

// Delivery modes.
const (
	// DeliveryNone leaves SMS reception alone (tools such as
	// "lwm2m-clientd modem info" must not steal the daemon's SMS).
	DeliveryNone Delivery = "none"
	// DeliveryDirect routes SMS-DELIVERs as +CMT, acknowledged with +CNMA
	// after hand-off.
	DeliveryDirect Delivery = "direct"
	// DeliveryStored stores them and indicates +CMTI; read with +CMGR,
	// deleted with +CMGD after hand-off.
	DeliveryStored Delivery = "stored"
	// DeliveryAuto is direct where the modem accepts +CSMS=1, +CNMI mt=2
	// and +CNMA, else stored.
	DeliveryAuto Delivery = "auto"
)

// Project defaults (PROJECT DEFAULT: not from a standard).
const (
	// DefaultBaud is the serial speed when Config.Baud is 0.
	DefaultBaud = 115200
	// DefaultStorage is the +CPMS storage when Config.Storage is "".
	DefaultStorage = "SM"
	// DefaultSweepInterval is how often stored SMS are swept and +CNMI is
	// re-asserted: a modem that missed a +CNMA switches routing off
	// (TS 27.005 §3.4.4) and then stores SMS silently.
	DefaultSweepInterval = 2 * time.Minute
	// DefaultReconnectMin and DefaultReconnectMax bound the reconnect
	// backoff.
	DefaultReconnectMin = 500 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
)

// SMS is one received SMS-DELIVER as the modem gave it.
type SMS struct {
	// TPDU is the SMS-DELIVER TPDU (TS 23.040 §9.2.2.1), SMSC prefix removed.
	TPDU []byte
	// SMSC is the service centre address from the PDU prefix (zero when
	// the modem gave none).
	SMSC atpdu.Address
	// Storage and Index say where it was stored ("" and -1 for +CMT).
	Storage string
	Index   int
	// Received is when the driver saw it.
	Received time.Time
}

// StatusReport is one SMS-STATUS-REPORT (+CDS or +CDSI), delivered on its
// own channel, never mixed with SMS data.
type StatusReport struct {
	// TPDU is the SMS-STATUS-REPORT TPDU (TS 23.040 §9.2.2.3).
	TPDU []byte
	// Report is TPDU decoded: TP-MR and TP-ST match it to a sent SMS.
	Report   atpdu.StatusReport
	Received time.Time
}

// Port is an open serial link. go.bug.st/serial ports satisfy it.
type Port interface {
	io.ReadWriteCloser
}

// Opener opens the port; the default uses go.bug.st/serial.
type Opener func(ctx context.Context, path string, baud int) (Port, error)

// Config configures a Modem. The zero value of each field is its default.
type Config struct {
	// Port is the AT port, e.g. /dev/ttyUSB2. Required.
	Port string
	// Baud is the serial speed (default DefaultBaud).
	Baud int
	// Delivery is the SMS delivery mode (default DeliveryAuto).
	Delivery Delivery
	// Storage is the preferred message storage (default DefaultStorage).
	Storage string
	// HandleSMS receives every SMS, one at a time in arrival order, from
	// the driver's single dispatch goroutine. The SMS is acknowledged
	// (+CNMA) or deleted (+CMGD) only after it returned nil; on an error
	// it is negatively acknowledged or left in storage for the next sweep.
	// Required unless Delivery is DeliveryNone. Consumers must tolerate a
	// duplicate: a crash between hand-off and deletion delivers it again.
	// Keep it short (queue the SMS and return): the network waits for the
	// +CNMA, typically some tens of seconds, and a SendSMS made from
	// inside it would put a whole +CMGS before the ack.
	HandleSMS func(ctx context.Context, sms SMS) error
	// SweepInterval is the periodic sweep (default DefaultSweepInterval).
	SweepInterval time.Duration
	// Trace logs the AT dialogue at debug level.
	Trace bool
}

// Option configures hooks of a Modem.
type Option func(*Modem)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(m *Modem) { m.log = l } }

// WithClock sets the clock of backoffs and sweeps.
func WithClock(c Clock) Option { return func(m *Modem) { m.clock = c } }

// WithOpener replaces how the port is opened (tests wrap the port).
func WithOpener(o Opener) Option { return func(m *Modem) { m.open = o } }

// WithReconnectBackoff sets the reconnect backoff bounds.
func WithReconnectBackoff(lo, hi time.Duration) Option {
	return func(m *Modem) { m.reconnect = backoff{min: lo, max: hi} }
}

// WithSendRetryBackoff sets the bounds of the backoff between attempts of
// one SendSMS after a transient +CMS ERROR (default 2 s doubling to 30 s;
// tests scale it down).
func WithSendRetryBackoff(lo, hi time.Duration) Option {
	return func(m *Modem) { m.sendRetry = backoff{min: lo, max: hi} }
}

// Health is the driver's state for a health report.
type Health struct {
	Up        bool
	DownSince time.Time // zero when up
	LastError error     // why it went down (nil when never down)
	Delivery  Delivery  // the delivery mode in use while up
	// LastSweep is when the last sweep of stored SMS completed on this
	// link (zero before the start-up sweep finished).
	LastSweep time.Time
	// Link counts the links initialised since New (1 for the
	// first). It grows at every reconnect and after every reboot the
	// driver noticed (RDY, +CFUN: 1, echo back on): the modem's state, and
	// the SIM's (a reboot resets the card), may have been lost since the
	// value a watcher last saw, even if it never saw Up false.
	Link uint64
}

func (h Health) String() string {
	if h.Up {
		return "modem up (" + string(h.Delivery) + ")"
	}
	if h.DownSince.IsZero() {
		return "modem not yet connected"
	}
	s := "modem down since " + h.DownSince.UTC().Format(time.RFC3339)
	if h.LastError != nil {
		s += ": " + h.LastError.Error()
	}
	return s
}

// Modem is the AT driver. Run owns the connection; the other methods may be
// called from any goroutine and wait (within their context) for a link.
type Modem struct {
	cfg       Config // copied at New, read-only
	log       *slog.Logger
	clock     Clock
	open      Opener
	reconnect backoff // owned by Run
	sendRetry backoff // immutable after New: the bounds each SendSMS starts from

	reports chan StatusReport // buffered; written by the dispatcher only

	mu       sync.Mutex
	eng      *engine       // guarded by mu: the initialised link, nil while down
	changed  chan struct{} // guarded by mu: closed and replaced on every up/down change
	health   Health        // guarded by mu
	delivery Delivery      // guarded by mu: mode in use on the current link
	running  bool          // guarded by mu
}

// New checks the configuration and returns a Modem; call Run to connect.
func New(cfg Config, opts ...Option) (*Modem, error) {
	if cfg.Port == "" {
		return nil, errors.New("modem: no port configured")
	}
	if cfg.Baud == 0 {
		cfg.Baud = DefaultBaud
	}
	if cfg.Storage == "" {
		cfg.Storage = DefaultStorage
	}
	if cfg.Delivery == "" {
		cfg.Delivery = DeliveryAuto
	}
	switch cfg.Delivery {
	case DeliveryNone, DeliveryDirect, DeliveryStored, DeliveryAuto:
	default:
		return nil, fmt.Errorf("modem: unknown SMS delivery mode %q", cfg.Delivery)
	}
	if cfg.Delivery != DeliveryNone && cfg.HandleSMS == nil {
		return nil, errors.New("modem: SMS delivery configured without a handler")
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	m := &Modem{
		cfg:       cfg,
		log:       slog.New(slog.DiscardHandler),
		clock:     realClock{},
		open:      openSerial,
		reconnect: backoff{min: DefaultReconnectMin, max: DefaultReconnectMax},
		sendRetry: backoff{min: sendRetryMin, max: sendRetryMax},
		reports:   make(chan StatusReport, 64),
		changed:   make(chan struct{}),
	}
	for _, o := range opts {
		o(m)
	}
	m.log = m.log.With("component", "modem")
	return m, nil
}

// StatusReports delivers SMS-STATUS-REPORTs. The channel is never closed;
// reports are dropped (logged) when nobody reads and 64 are waiting.
func (m *Modem) StatusReports() <-chan StatusReport { return m.reports }

// Health returns the current health.
func (m *Modem) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health
}

// HealthChanged returns a channel closed at the next change of Health
// (for sd_notify STATUS lines and tests).
func (m *Modem) HealthChanged() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// WaitUp waits until a link is initialised.
func (m *Modem) WaitUp(ctx context.Context) error {
	_, err := m.current(ctx)
	return err
}

func (m *Modem) current(ctx context.Context) (*engine, error) {
	for {
		m.mu.Lock()
		e, changed := m.eng, m.changed
		m.mu.Unlock()
		if e != nil {
			select {
			case <-e.Done(): // dying: the session is about to report it
			default:
				return e, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNotConnected, context.Cause(ctx))
		}
	}
}

func (m *Modem) setUp(e *engine, d Delivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eng, m.delivery = e, d
	m.health = Health{Up: true, Delivery: d, Link: m.health.Link + 1}
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Modem) setDown(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eng = nil
	if m.health.Up || m.health.DownSince.IsZero() {
		m.health.DownSince = m.clock.Now()
	}
	m.health.Up = false
	if err != nil {
		m.health.LastError = err
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Modem) setSwept() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.health.LastSweep = m.clock.Now()
	close(m.changed)
	m.changed = make(chan struct{})
}

// errReboot ends a session when the modem announced a restart.
var errReboot = errors.New("modem rebooted")

// Run connects, initialises, sweeps and dispatches until ctx ends; it
// reconnects with capped backoff whenever the link fails or the modem
// reboots. It returns ctx's error. Only one Run may be active.
func (m *Modem) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("modem: already running")
	}
	m.running = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		m.mu.Unlock()
	}()
	for {
		start := m.clock.Now()
		err := m.session(ctx)
		if ctx.Err() != nil {
			m.setDown(context.Cause(ctx))
			return ctx.Err()
		}
		m.setDown(err)
		if m.clock.Now().Sub(start) > m.reconnect.max {
			m.reconnect.reset()
		}
		d := m.reconnect.delay()
		if errors.Is(err, errReboot) {
			d = 0
		}
		m.log.Warn("modem link down, reconnecting", "err", err, "retry_in", d.String())
		if d > 0 {
			select {
			case <-m.clock.After(d):
			case <-ctx.Done():
				m.setDown(context.Cause(ctx))
				return ctx.Err()
			}
		}
	}
}

// session runs one connection: open, init, sweep, dispatch.
func (m *Modem) session(ctx context.Context) error {
	port, err := m.open(ctx, m.cfg.Port, m.cfg.Baud)
	if err != nil {
		return fmt.Errorf("modem: open %s: %w", m.cfg.Port, err)
	}
	e := newEngine(port, m.log, m.cfg.Trace, m.clock.Now)
	defer e.Close()
	delivery, err := m.initialise(ctx, e)
	if err != nil {
		return fmt.Errorf("modem: initialise %s: %w", m.cfg.Port, err)
	}
	m.log.Info("modem initialised", "port", m.cfg.Port, "sms_delivery", string(delivery))
	d := &dispatcher{m: m, e: e, delivery: delivery}
	m.setUp(e, delivery)
	return d.run(ctx)
}

// initialise brings a freshly opened modem into the state the driver needs
// (sms-pdu.md §11 recommended set-up) and returns the delivery mode in use.
func (m *Modem) initialise(ctx context.Context, e *engine) (Delivery, error) {
	// The port may hold a half-typed command or a pending "> " prompt from
	// before: ESC and a resync clear both.
	if err := e.write([]byte{0x1B, '\r'}); err != nil {
		return "", err
	}
	e.needResync = true
	// ITU-T V.250 §6.2.4: echo off, so responses carry only results.
	if _, err := e.exec(ctx, "ATE0", cmdOpts{}); err != nil {
		return "", fmt.Errorf("ATE0: %w", err)
	}
	e.setEchoOff()
	// TS 27.007 §9.1: numeric +CME ERROR.
	if _, err := e.exec(ctx, "AT+CMEE=1", cmdOpts{}); err != nil {
		return "", fmt.Errorf("AT+CMEE=1: %w", err)
	}
	if m.cfg.Delivery == DeliveryNone {
		return DeliveryNone, nil
	}
	// TS 27.005 §3.2.3: PDU mode.
	if _, err := e.exec(ctx, "AT+CMGF=0", cmdOpts{}); err != nil {
		return "", fmt.Errorf("AT+CMGF=0: %w", err)
	}
	st := quote(m.cfg.Storage)
	if _, err := e.exec(ctx, "AT+CPMS="+st+","+st+","+st, cmdOpts{prefixes: []string{"+CPMS:"}}); err != nil {
		return "", fmt.Errorf("AT+CPMS: %w", err)
	}
	delivery := m.cfg.Delivery
	// TS 27.005 §3.2.1: service 1 makes the TE acknowledge +CMT with
	// +CNMA, which is what lets us ack only after hand-off.
	_, csmsErr := e.exec(ctx, "AT+CSMS=1", cmdOpts{prefixes: []string{"+CSMS:"}})
	if csmsErr != nil {
		if ctx.Err() != nil || errors.Is(csmsErr, ErrLinkDown) {
			return "", csmsErr
		}
		if delivery == DeliveryAuto {
			m.log.Info("modem refuses +CSMS=1, using stored delivery", "err", csmsErr)
			delivery = DeliveryStored
		} else if delivery == DeliveryDirect {
			m.log.Warn("modem refuses +CSMS=1: it acknowledges +CMT itself, an SMS can be lost if the daemon dies during hand-off", "err", csmsErr)
		}
	}
	if delivery == DeliveryAuto {
		delivery = DeliveryDirect
	}
	if csmsErr == nil {
		if err := m.rejectStaleCMT(ctx, e); err != nil {
			return "", err
		}
	}
	if err := m.setCNMI(ctx, e, delivery); err != nil {
		if m.cfg.Delivery == DeliveryAuto && delivery == DeliveryDirect && !errors.Is(err, ErrLinkDown) && ctx.Err() == nil {
			m.log.Info("modem refuses +CMT routing, using stored delivery", "err", err)
			delivery = DeliveryStored
			err = m.setCNMI(ctx, e, delivery)
		}
		if err != nil {
			return "", err
		}
	}
	return delivery, nil
}

// rejectStaleCMT answers a +CMT that may still wait for its +CNMA from
// before the port was opened (the previous daemon died during the hand-off;
// its bytes were discarded with the stale input) with +CNMA=2: RP-ERROR,
// the network keeps the SMS and delivers it again (TS 27.005 §3.4.4). Left
// alone, its acknowledgement timer would expire after the +CNMI below and
// the modem would switch routing to the host off (<mt>=<ds>=0), storing
// every later SMS silently until the next periodic sweep. With nothing
// outstanding the modem answers +CMS ERROR: 340, which is the usual case.
func (m *Modem) rejectStaleCMT(ctx context.Context, e *engine) error {
	_, err := e.exec(ctx, "AT+CNMA=2", cmdOpts{})
	var cms *CMSError
	switch {
	case err == nil:
		m.log.Info("a +CMT from before start-up was still unacknowledged: rejected so that the network delivers it again")
	case fatal(ctx, err):
		return fmt.Errorf("AT+CNMA=2: %w", err)
	case errors.As(err, &cms) && cms.Code == CMSNoCNMAExpected:
	default:
		m.log.Debug("AT+CNMA=2 at start-up", "err", err)
	}
	return nil
}

// setCNMI asks for the indications of the delivery mode (TS 27.005 §3.4.1):
// mode 2 (buffer while the link is reserved), mt 2 (+CMT) or 1 (+CMTI),
// no cell broadcast, ds 1 (+CDS), bfr 0 (flush buffered URCs). Modems
// that refuse a value get the next set: without status reports, then
// mode 1.
func (m *Modem) setCNMI(ctx context.Context, e *engine, d Delivery) error {
	mt := "1"
	if d == DeliveryDirect {
		mt = "2"
	}
	var err error
	for i, args := range []string{"2," + mt + ",0,1,0", "2," + mt + ",0,0,0", "1," + mt + ",0,0,0"} {
		cmd := "AT+CNMI=" + args
		if _, err = e.exec(ctx, cmd, cmdOpts{}); err == nil {
			if i > 0 {
				m.log.Warn("modem accepts only reduced SMS indications", "cnmi", args)
			}
			return nil
		}
		err = fmt.Errorf("%s: %w", cmd, err)
		if fatal(ctx, err) {
			return err
		}
	}
	return err
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, "") + `"` }

// do runs a command on the current link (waiting for one).
func (m *Modem) do(ctx context.Context, cmd string, o cmdOpts) ([]string, error) {
	e, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	return e.exec(ctx, cmd, o)
}

// AT sends one raw command line (e.g. "AT+CSQ") and returns its information
// lines. Lines starting with '+' or '^' other than the command's own
// prefix ("+CSQ:") are taken as unsolicited and are not part of the answer.
func (m *Modem) AT(ctx context.Context, cmd string) ([]string, error) {
	cmd = strings.TrimSpace(cmd)
	if !strings.HasPrefix(strings.ToUpper(cmd), "AT") {
		cmd = "AT" + cmd
	}
	if u := strings.ToUpper(cmd); strings.HasPrefix(u, "AT+CMGS=") || strings.HasPrefix(u, "AT+CMGW=") ||
		strings.HasPrefix(u, "AT+CNMA=") && strings.Contains(u, ",") {
		// These wait for a PDU after "> "; a raw line cannot give one.
		return nil, fmt.Errorf("modem: %s takes a PDU after a prompt: use SendSMS", cmd)
	}
	lines, err := m.do(ctx, cmd, cmdOpts{prefixes: ownPrefixes(cmd), strict: true})
	if err != nil {
		return lines, fmt.Errorf("modem: %s: %w", redactCmd(cmd), err)
	}
	return lines, nil
}

// ownPrefixes returns the information-response prefixes a command line can
// produce: "AT+CREG?;+CSQ" → "+CREG:", "+CSQ:".
func ownPrefixes(cmd string) []string {
	var out []string
	for _, part := range strings.Split(cmd[2:], ";") {
		part = strings.TrimSpace(part)
		if len(part) < 2 || (part[0] != '+' && part[0] != '^') {
			continue
		}
		end := strings.IndexAny(part, "=?")
		if end < 0 {
			end = len(part)
		}
		out = append(out, part[:end]+":")
	}
	return out
}
