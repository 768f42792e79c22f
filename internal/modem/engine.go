package modem

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// The AT engine. It is written here instead of wrapping
// github.com/warthog618/modem/at v0.4.0 because that package's defects sit
// in its structure, not at its edges:
//
//  1. its command loop takes every line that is not a registered indication
//     prefix as part of the current command's result, so an unsolicited line
//     arriving mid-command is returned as the command's data;
//  2. a command that times out is forgotten but its late "OK" is not: it
//     completes the next command;
//  3. it reads through bufio.Scanner, which gives up with io.ErrNoProgress
//     after 100 empty reads, and a serial read timeout is an empty read, so
//     an idle port closes the AT object;
//  4. each indication handler runs in its own goroutine, so two SMS
//     indications can be handled out of order;
//  5. the default command timeout is 1 s and commands take no context, so a
//     +CMGS (up to minutes on a busy network) cannot be given its deadline
//     and a caller cannot cancel.
//
// Here: one reader goroutine classifies every line under e.mu (final result
// codes including +CME/+CMS ERROR, the bare "> " prompt, unsolicited result
// codes with their trailing PDU line, echo); a command only sees lines the
// reader classified as its response; unsolicited results go to an unbounded
// FIFO consumed by one dispatcher goroutine (in Modem); every command takes a
// context and a per-command deadline; after a timeout the next command first
// resynchronises with a marker command whose answer cannot be confused with
// the late result of the abandoned one; empty reads are skipped.

// indication is one unsolicited result code (URC) as it arrived.
type indication struct {
	Line string // e.g. `+CMTI: "SM",3`
	PDU  string // hex PDU line following +CMT/+CDS/+CBM, else ""
	At   time.Time
}

// echoURC is a synthetic URC the reader emits when a command is echoed
// although echo was switched off: the modem has rebooted (echo is on by
// default after power-up, ITU-T V.250 §6.2.4).
const echoURC = "\x00ECHO"

// cmdOpts tunes one command.
type cmdOpts struct {
	// prefixes are the information-response prefixes of the command (e.g.
	// "+CMGS:"); lines with a URC prefix not listed here are unsolicited.
	prefixes []string
	// strict makes any undeclared '+'/'^' line unsolicited.
	strict bool
	// timeout is the command's own deadline (0: defaultTimeout).
	timeout time.Duration
	// pdu, when non-nil, is sent in hex after the "> " prompt, ended by
	// Ctrl-Z (TS 27.005 §3.5.1 +CMGS).
	pdu []byte
	// prio queues the command ahead of normal ones (+CNMA).
	prio bool
	// marker: final results seen before a line with this prefix belong to
	// an abandoned command and are discarded (resync).
	marker string
}

// pending is the command in progress. Its fields are guarded by engine.mu
// and written by the reader goroutine, except cmd/opts which are fixed.
type pending struct {
	cmd      string
	opts     cmdOpts
	lines    []string
	sawMark  bool
	prompt   chan struct{} // closed by the reader on "> "
	prompted bool
	done     chan struct{} // closed by the reader on a final result
	kind     finalKind
	code     int
}

// engine runs the AT dialogue over one open port. One engine lives as long
// as one connection; Modem makes a new one after a reconnect.
type engine struct {
	rw    io.ReadWriter // written only by the holder of lock; read only by reader
	log   *slog.Logger
	trace bool
	now   func() time.Time

	lock cmdLock // serialises commands (priority for +CNMA)

	// needResync is owned by the holder of lock.
	needResync bool

	mu      sync.Mutex
	active  *pending     // guarded by mu
	echoOff bool         // guarded by mu: ATE0 succeeded, so an echo means reboot
	stopped bool         // guarded by mu: the reader has exited
	urcs    []indication // guarded by mu: FIFO of unsolicited results
	urcSig  chan struct{}
	dropped int // guarded by mu: URCs dropped because the FIFO was full

	// fullSig is signalled (non-blocking) when a command fails with
	// +CMS ERROR: 322, so the dispatcher sweeps.
	fullSig chan struct{}

	done   chan struct{} // closed when the reader exits
	err    error         // reader exit cause, written before done is closed
	closer io.Closer     // may be nil
	once   sync.Once
}

// maxURCs bounds the unsolicited FIFO. An overflow drops the line (logged):
// a dropped +CMTI is found by the next sweep, an unacknowledged +CMT is kept
// by the network or the modem.
const maxURCs = 4096

func newEngine(rw io.ReadWriter, log *slog.Logger, trace bool, now func() time.Time) *engine {
	e := &engine{
		rw:      rw,
		log:     log,
		trace:   trace,
		now:     now,
		urcSig:  make(chan struct{}, 1),
		fullSig: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if c, ok := rw.(io.Closer); ok {
		e.closer = c
	}
	go e.readLoop()
	return e
}

// Close closes the port and waits for the reader to exit. Idempotent.
func (e *engine) Close() error {
	e.once.Do(func() {
		if e.closer != nil {
			_ = e.closer.Close()
		}
	})
	<-e.done
	return nil
}

// Done is closed when the link has failed or was closed.
func (e *engine) Done() <-chan struct{} { return e.done }

// Err is the reason the reader stopped (valid after Done).
func (e *engine) Err() error {
	<-e.done
	return e.err
}

// skipEmpty turns empty reads into a retry: go.bug.st/serial returns (0,
// nil) when its read timeout expires, and bufio.Scanner gives up after 100
// of them (defect 3). A real failure is an error.
type skipEmpty struct {
	r io.Reader
}

func (s skipEmpty) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (e *engine) readLoop() {
	sc := bufio.NewScanner(skipEmpty{e.rw})
	sc.Buffer(make([]byte, 0, 1024), 64*1024)
	var split lineSplitter
	sc.Split(split.split)
	var urcPDU *indication // a +CMT/+CDS whose PDU line is next; owned by this goroutine
	for sc.Scan() {
		line := sc.Text()
		if line != promptToken {
			line = strings.TrimRight(line, " \t")
		}
		if line == "" {
			continue
		}
		if !printable(line) {
			e.log.Debug("garbage dropped", "bytes", len(line))
			continue
		}
		if e.trace {
			e.log.Debug("at rx", "line", redactLine(line))
		}
		if urcPDU != nil {
			u := *urcPDU
			urcPDU = nil
			if isHex(line) {
				u.PDU = line
				e.pushURC(u)
				continue
			}
			// The PDU line never came (a reboot, a lost line): without
			// an ack the network or the modem keeps that SMS; this line
			// is classified on its own.
			e.log.Warn("indication without its PDU line dropped", "line", u.Line)
		}
		if u := e.classify(line); u != nil {
			if hasAnyPrefix(line, urcWithPDU) {
				urcPDU = u
				continue
			}
			e.pushURC(*u)
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	e.err = fmt.Errorf("%w: %w", ErrLinkDown, err)
	e.mu.Lock()
	e.stopped = true
	if p := e.active; p != nil {
		e.active = nil
		p.kind = notFinal
		close(p.done)
	}
	e.mu.Unlock()
	close(e.done)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return len(s) > 0 && len(s)%2 == 0
}

// classify routes one line: to the command in progress, or returns it as a
// URC (nil when consumed or dropped).
func (e *engine) classify(line string) *indication {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.active
	if p == nil {
		if k, _ := parseFinal(line); k != notFinal {
			// A late result of an abandoned command (defect 2): never
			// allowed to complete anything.
			e.log.Debug("stray final result dropped", "line", line)
			return nil
		}
		if line == promptToken {
			return nil
		}
		if hasAnyPrefix(line, urcPrefixes) {
			return &indication{Line: line, At: e.now()}
		}
		e.log.Debug("unexpected line dropped", "line", line)
		return nil
	}
	if line == p.cmd {
		if e.echoOff {
			e.echoOff = false
			return &indication{Line: echoURC, At: e.now()}
		}
		return nil
	}
	if line == promptToken {
		if p.opts.pdu != nil && !p.prompted {
			p.prompted = true
			close(p.prompt)
		}
		return nil
	}
	if k, code := parseFinal(line); k != notFinal {
		if p.opts.marker != "" && !p.sawMark {
			e.log.Debug("result of an abandoned command dropped", "line", line)
			return nil
		}
		p.kind, p.code = k, code
		e.active = nil
		close(p.done)
		return nil
	}
	if isURC(line, p.opts.prefixes, p.opts.strict) {
		return &indication{Line: line, At: e.now()}
	}
	if p.opts.marker != "" && strings.HasPrefix(line, p.opts.marker) {
		p.sawMark = true
	}
	p.lines = append(p.lines, line)
	return nil
}

func (e *engine) pushURC(u indication) {
	e.mu.Lock()
	if len(e.urcs) >= maxURCs {
		e.dropped++
		n := e.dropped
		e.mu.Unlock()
		if n&(n-1) == 0 { // 1st, 2nd, 4th, 8th, ...: a storm must not flood the log
			e.log.Warn("unsolicited queue full, lines dropped", "dropped", n, "line", u.Line)
		}
		return
	}
	e.urcs = append(e.urcs, u)
	e.mu.Unlock()
	select {
	case e.urcSig <- struct{}{}:
	default:
	}
}

// nextURCs takes every queued URC, in arrival order.
func (e *engine) nextURCs() []indication {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.urcs
	e.urcs = nil
	return u
}

// setEchoOff records that ATE0 succeeded: from now on an echoed command
// means the modem rebooted.
func (e *engine) setEchoOff() {
	e.mu.Lock()
	e.echoOff = true
	e.mu.Unlock()
}

// URCReady is signalled when URCs may be queued.
func (e *engine) URCReady() <-chan struct{} { return e.urcSig }

// defaultTimeout is the deadline of a command without a better one.
const defaultTimeout = 10 * time.Second

// timeoutFor returns the deadline suited to a command (module manuals:
// +CMGS waits for the network, +COPS=? scans every band).
func timeoutFor(cmd string) time.Duration {
	u := strings.ToUpper(cmd)
	switch {
	case strings.HasPrefix(u, "AT+CMGS"), strings.HasPrefix(u, "AT+CMSS"):
		return 120 * time.Second
	case strings.HasPrefix(u, "AT+COPS=?"):
		return 180 * time.Second
	case strings.HasPrefix(u, "AT+COPS"), strings.HasPrefix(u, "AT+CFUN"):
		return 60 * time.Second
	case strings.HasPrefix(u, "AT+CMGL"), strings.HasPrefix(u, "AT+CPMS"):
		return 30 * time.Second
	case strings.HasPrefix(u, "AT+CSIM"), strings.HasPrefix(u, "AT+CNMA"), strings.HasPrefix(u, "AT+CMGR"),
		strings.HasPrefix(u, "AT+CMGD"):
		return 20 * time.Second
	}
	return defaultTimeout
}

// resyncTimeout bounds each resynchronisation attempt.
const resyncTimeout = 3 * time.Second

// exec runs one command and returns its information lines. The error is
// nil for OK, *CMEError/*CMSError/ErrError for an error result, ErrTimeout
// (wrapped with the context's error when the caller's context ended) or
// ErrLinkDown.
func (e *engine) exec(ctx context.Context, cmd string, o cmdOpts) ([]string, error) {
	if err := e.lock.acquire(ctx, o.prio, e.done); err != nil {
		return nil, err
	}
	defer e.lock.release()
	if e.needResync {
		if err := e.resync(ctx); err != nil {
			return nil, err
		}
	}
	return e.run(ctx, cmd, o)
}

// resync recovers the dialogue after a timeout: ESC cancels a pending "> "
// prompt, then "AT+CMEE?" is sent with a marker. The modem executes
// commands in order, so any final result before the "+CMEE:" line is the
// late answer of the abandoned command and is discarded; the final result
// after it is ours. A modem that answers nothing is declared down.
func (e *engine) resync(ctx context.Context) error {
	for attempt := 0; attempt < 2; attempt++ {
		cmd, o := "AT+CMEE?", cmdOpts{prefixes: []string{"+CMEE:"}, timeout: resyncTimeout, marker: "+CMEE:"}
		if attempt > 0 {
			// A modem without +CMEE? never sends the marker: a bare AT
			// still proves it is listening (weaker: a late OK can pass).
			cmd, o = "AT", cmdOpts{timeout: resyncTimeout}
		}
		_, err := e.run(ctx, cmd, o)
		if err == nil {
			e.needResync = false
			e.log.Debug("resynchronised")
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrLinkDown) {
			return err
		}
	}
	err := fmt.Errorf("%w: no answer to resynchronisation", ErrLinkDown)
	e.fail()
	return err
}

// fail closes the port so the reader stops and the supervisor reconnects.
func (e *engine) fail() {
	e.once.Do(func() {
		if e.closer != nil {
			_ = e.closer.Close()
		}
	})
}

func (e *engine) write(b []byte) error {
	if e.trace {
		e.log.Debug("at tx", "data", redactCmd(strings.TrimRight(string(b), "\r\x1a")))
	}
	if _, err := e.rw.Write(b); err != nil {
		e.fail()
		return fmt.Errorf("%w: write: %w", ErrLinkDown, err)
	}
	return nil
}

// run sends one command; the caller holds lock.
func (e *engine) run(ctx context.Context, cmd string, o cmdOpts) ([]string, error) {
	if o.timeout == 0 {
		o.timeout = timeoutFor(cmd)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	p := &pending{cmd: cmd, opts: o, prompt: make(chan struct{}), done: make(chan struct{})}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil, e.Err()
	}
	e.active = p
	e.mu.Unlock()

	if err := e.write([]byte(cmd + "\r")); err != nil {
		e.abandon(p)
		return nil, err
	}
	pduSent := false
	if o.pdu != nil {
		select {
		case <-p.prompt:
			buf := make([]byte, 0, 2*len(o.pdu)+1)
			buf = hex.AppendEncode(buf, o.pdu)
			buf = append(buf, 0x1A)
			if err := e.write([]byte(strings.ToUpper(string(buf)))); err != nil {
				e.abandon(p)
				return nil, fmt.Errorf("%w: %w", ErrSendUncertain, err)
			}
			pduSent = true
		case <-p.done:
		case <-ctx.Done():
			return nil, e.timedOut(ctx, p, cmd)
		}
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		err := e.timedOut(ctx, p, cmd)
		if pduSent {
			// The PDU is out: the SMS may have left.
			err = fmt.Errorf("%w: %w", ErrSendUncertain, err)
		}
		return nil, err
	}
	e.mu.Lock()
	lines, kind, code := p.lines, p.kind, p.code
	e.mu.Unlock()
	switch kind {
	case finalOK:
		return lines, nil
	case finalCME:
		return lines, &CMEError{Code: code}
	case finalCMS:
		err := &CMSError{Code: code}
		if code == CMSMemoryFull {
			select {
			case e.fullSig <- struct{}{}:
			default:
			}
		}
		return lines, err
	case finalError, finalOther:
		if kind == finalOther {
			return lines, fmt.Errorf("%w (%s)", ErrError, "call result")
		}
		return lines, ErrError
	}
	// notFinal: the reader stopped
	if pduSent {
		return nil, fmt.Errorf("%w: %w", ErrSendUncertain, e.err)
	}
	return nil, e.err
}

func (e *engine) abandon(p *pending) {
	e.mu.Lock()
	if e.active == p {
		e.active = nil
	}
	e.mu.Unlock()
}

func (e *engine) timedOut(ctx context.Context, p *pending, cmd string) error {
	e.abandon(p)
	select {
	case <-p.done:
		// The reader completed it in the same instant; still resync, the
		// result is discarded because the caller's deadline has passed.
	default:
	}
	if p.opts.pdu != nil {
		// ESC aborts a pending "> " prompt (TS 27.005 §3.5.1) so the
		// resync command is not taken as PDU text.
		_ = e.write([]byte{0x1B})
	}
	e.needResync = true
	e.log.Warn("command timed out", "cmd", redactCmd(cmd))
	return fmt.Errorf("%w: %s: %w", ErrTimeout, redactCmd(cmd), context.Cause(ctx))
}

// redactCmd keeps APDUs out of logs and errors: +CSIM can carry keys
// (STORE DATA, secured packets).
func redactCmd(cmd string) string {
	if strings.HasPrefix(strings.ToUpper(cmd), "AT+CSIM") {
		return "AT+CSIM=[redacted]"
	}
	return cmd
}

// redactLine does the same for received lines.
func redactLine(line string) string {
	if strings.HasPrefix(line, "+CSIM:") {
		return "+CSIM: [redacted]"
	}
	return line
}

// cmdLock serialises commands. Waiters with prio are served first, so a
// +CNMA does not queue behind a row of +CMGS.
type cmdLock struct {
	mu     sync.Mutex
	held   bool            // guarded by mu
	hi, lo []chan struct{} // guarded by mu: waiters, FIFO per class
}

func (l *cmdLock) acquire(ctx context.Context, prio bool, dead <-chan struct{}) error {
	l.mu.Lock()
	if !l.held {
		l.held = true
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if prio {
		l.hi = append(l.hi, ch)
	} else {
		l.lo = append(l.lo, ch)
	}
	l.mu.Unlock()
	var err error
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		err = fmt.Errorf("%w: waiting for the port: %w", ErrTimeout, context.Cause(ctx))
	case <-dead:
		err = ErrLinkDown
	}
	l.mu.Lock()
	removed := false
	for _, q := range []*[]chan struct{}{&l.hi, &l.lo} {
		for i, c := range *q {
			if c == ch {
				*q = append((*q)[:i], (*q)[i+1:]...)
				removed = true
				break
			}
		}
	}
	l.mu.Unlock()
	if !removed { // granted while giving up: pass it on
		l.release()
	}
	return err
}

func (l *cmdLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var next chan struct{}
	switch {
	case len(l.hi) > 0:
		next, l.hi = l.hi[0], l.hi[1:]
	case len(l.lo) > 0:
		next, l.lo = l.lo[0], l.lo[1:]
	default:
		l.held = false
		return
	}
	close(next)
}
