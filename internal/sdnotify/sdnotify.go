package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment variables set by systemd for a Type=notify service
// (sd_notify(3), sd_watchdog_enabled(3)).
const (
	EnvNotifySocket  = "NOTIFY_SOCKET"
	EnvWatchdogUSec  = "WATCHDOG_USEC"
	EnvWatchdogPID   = "WATCHDOG_PID"
	maxStatusLength  = 512 // a STATUS= longer than this is cut: systemd shows one line in `systemctl status`
	statusEllipsis   = "…"
	msgReady         = "READY=1"
	msgStopping      = "STOPPING=1"
	msgWatchdog      = "WATCHDOG=1"
	msgStatusPrefix  = "STATUS="
	abstractPrefix   = "@"
	unixgramNet      = "unixgram"
	sendTimeout      = time.Second // systemd reads its notify socket promptly; never block the daemon on it
	watchdogFraction = 2           // keep-alive at half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises
)

// Clock makes the keep-alive ticker injectable for tests.
type Clock interface {
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of *time.Ticker the watchdog uses.
type Ticker interface {
	Chan() <-chan time.Time
	Stop()
}

type realClock struct{}

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) Chan() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()                  { r.t.Stop() }

// Option configures a Notifier.
type Option func(*Notifier)

// WithLogger sets the logger (default: discard). The Notifier adds
// component=sdnotify.
func WithLogger(l *slog.Logger) Option {
	return func(n *Notifier) {
		if l != nil {
			n.log = l
		}
	}
}

// WithGetenv replaces os.Getenv for reading NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID (tests).
func WithGetenv(getenv func(string) string) Option {
	return func(n *Notifier) {
		if getenv != nil {
			n.getenv = getenv
		}
	}
}

// WithPID replaces os.Getpid for the WATCHDOG_PID check (tests).
func WithPID(pid int) Option { return func(n *Notifier) { n.pid = pid } }

// WithClock replaces the real ticker of RunWatchdog (tests).
func WithClock(c Clock) Option {
	return func(n *Notifier) {
		if c != nil {
			n.clock = c
		}
	}
}

// Notifier sends service notifications to systemd. Its methods may be called
// from any goroutine; all of them are no-ops when the process does not run
// under systemd.
type Notifier struct {
	log   *slog.Logger // non-nil
	clock Clock        // non-nil

	// Set by New, read-only afterwards.
	getenv   func(string) string
	pid      int
	addr     *net.UnixAddr // nil: not under systemd (or an unusable NOTIFY_SOCKET)
	watchdog time.Duration // keep-alive interval; 0: no watchdog requested for this process

	mu         sync.Mutex // guards the fields below and serialises sends
	ready      bool       // READY=1 was delivered
	status     string     // last STATUS= delivered
	failing    bool       // the last send failed and was logged
	lastHealth error      // the last health verdict RunWatchdog logged (nil: healthy)
}

// New reads the environment systemd gave the process. A missing
// NOTIFY_SOCKET gives a Notifier whose methods do nothing; a malformed one
// or a malformed WATCHDOG_USEC is logged once here and disables the part it
// concerns.
func New(opts ...Option) *Notifier {
	n := &Notifier{
		log:    slog.New(slog.DiscardHandler),
		clock:  realClock{},
		getenv: os.Getenv,
		pid:    os.Getpid(),
	}
	for _, o := range opts {
		o(n)
	}
	n.log = n.log.With("component", "sdnotify")

	sock := n.getenv(EnvNotifySocket)
	if sock == "" {
		n.log.Debug("not started by systemd: notifications disabled")
		return n
	}
	addr, err := socketAddr(sock)
	if err != nil {
		n.log.Warn("notifications disabled", "err", err)
		return n
	}
	n.addr = addr
	n.watchdog, err = watchdogInterval(n.getenv(EnvWatchdogUSec), n.getenv(EnvWatchdogPID), n.pid)
	if err != nil {
		n.log.Warn("watchdog keep-alives disabled", "err", err)
	}
	n.log.Debug("systemd notifications enabled", "socket", sock, "watchdog_interval", n.watchdog)
	return n
}

// socketAddr checks NOTIFY_SOCKET as sd_notify(3) does: an absolute path or
// an abstract socket name ('@' stands for the leading NUL; Go's net package
// makes the same translation, so the name is passed through).
func socketAddr(s string) (*net.UnixAddr, error) {
	switch {
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, abstractPrefix) && len(s) > 1:
		return &net.UnixAddr{Name: s, Net: unixgramNet}, nil
	default:
		// systemd ≥ 254 may also pass "vsock:CID:PORT" (for VMs); a gateway
		// service never gets one.
		return nil, fmt.Errorf("sdnotify: %s=%q is neither an absolute path nor an abstract socket (@name)", EnvNotifySocket, s)
	}
}

// watchdogInterval follows sd_watchdog_enabled(3): WATCHDOG_USEC is the
// timeout in microseconds; WATCHDOG_PID, when set, names the one process that
// must send the keep-alives. The interval is half the timeout.
func watchdogInterval(usec, pidStr string, pid int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pidStr != "" {
		p, err := strconv.Atoi(pidStr)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("sdnotify: %s=%q is not a process id", EnvWatchdogPID, pidStr)
		}
		if p != pid {
			return 0, nil // the watchdog is another process's business (sd_watchdog_enabled returns 0)
		}
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || us == 0 {
		return 0, fmt.Errorf("sdnotify: %s=%q is not a positive number of microseconds", EnvWatchdogUSec, usec)
	}
	if us > uint64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0, fmt.Errorf("sdnotify: %s=%q is too large", EnvWatchdogUSec, usec)
	}
	d := time.Duration(us) * time.Microsecond / watchdogFraction
	if d <= 0 {
		d = time.Microsecond
	}
	return d, nil
}

// Enabled reports whether the process runs under systemd with a usable
// NOTIFY_SOCKET.
func (n *Notifier) Enabled() bool { return n.addr != nil }

// WatchdogInterval is how often RunWatchdog sends a keep-alive: half of
// WATCHDOG_USEC, or 0 when systemd asked this process for none.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n.addr == nil {
		return 0
	}
	return n.watchdog
}

// Ready tells systemd that start-up is complete (READY=1). Only the first
// delivered READY=1 is sent; later calls do nothing. Call it after the store
// opened and the modem initialised (style.md rule 18).
func (n *Notifier) Ready() {
	if n.addr == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ready {
		return
	}
	if n.sendLocked(msgReady) {
		n.ready = true
		n.log.Info("told systemd the daemon is ready")
	}
}

// Status sets the one-line status `systemctl status` shows (STATUS=...).
// Line breaks become spaces, a very long text is cut, and a status equal to
// the last one delivered is not sent again.
func (n *Notifier) Status(s string) {
	if n.addr == nil {
		return
	}
	s = oneLine(s)
	n.mu.Lock()
	defer n.mu.Unlock()
	if s == n.status {
		return
	}
	if n.sendLocked(msgStatusPrefix + s) {
		n.status = s
	}
}

// Stopping tells systemd that the daemon is shutting down (STOPPING=1).
func (n *Notifier) Stopping() {
	if n.addr == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sendLocked(msgStopping)
}

// RunWatchdog sends WATCHDOG=1 now and then every WatchdogInterval until ctx
// ends, but only while healthy returns nil: a non-nil error means the daemon
// is wedged, so systemd should see the keep-alives stop and restart it. The
// verdict is logged when it changes. Without a watchdog RunWatchdog just
// waits for ctx. It always returns nil. healthy must not block for long; it
// runs on RunWatchdog's goroutine.
func (n *Notifier) RunWatchdog(ctx context.Context, healthy func() error) error {
	d := n.WatchdogInterval()
	if d == 0 {
		<-ctx.Done()
		return nil
	}
	t := n.clock.NewTicker(d)
	defer t.Stop()
	for {
		n.keepAlive(healthy)
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
	}
}

// keepAlive asks healthy and sends one WATCHDOG=1 when it is.
func (n *Notifier) keepAlive(healthy func() error) {
	var verdict error
	if healthy != nil {
		verdict = healthy()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case verdict != nil && n.lastHealth == nil:
		n.log.Error("withholding watchdog keep-alives: the daemon reports itself wedged; systemd will restart it when WatchdogSec runs out", "err", verdict)
	case verdict == nil && n.lastHealth != nil:
		n.log.Info("daemon healthy again: watchdog keep-alives resume", "was", n.lastHealth.Error())
	}
	n.lastHealth = verdict
	if verdict == nil {
		n.sendLocked(msgWatchdog)
	}
}

// sendLocked sends one datagram and reports whether it was delivered. The
// first failure of a run of failures is logged, and the first success after
// one. n.mu must be held.
func (n *Notifier) sendLocked(msg string) bool {
	err := n.send(msg)
	if err != nil {
		if !n.failing {
			n.failing = true
			n.log.Warn("cannot notify systemd (further failures not logged until it works again)",
				"socket", n.addr.Name, "msg", firstField(msg), "err", err)
		}
		return false
	}
	if n.failing {
		n.failing = false
		n.log.Info("notifying systemd works again", "socket", n.addr.Name)
	}
	return true
}

// send writes msg as one datagram on a fresh unbound unixgram socket, as
// sd_notify(3) does: systemd attributes it to this process by its
// credentials, and a restarted systemd (new socket inode) is reached too.
func (n *Notifier) send(msg string) error {
	c, err := net.DialUnix(unixgramNet, nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: connect to %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return fmt.Errorf("sdnotify: set deadline: %w", err)
	}
	w, err := c.Write([]byte(msg))
	if err != nil {
		return fmt.Errorf("sdnotify: send %s: %w", firstField(msg), err)
	}
	if w != len(msg) {
		return fmt.Errorf("sdnotify: send %s: %w", firstField(msg), errShortWrite)
	}
	return nil
}

var errShortWrite = errors.New("short write")

// oneLine makes s fit systemd's one-line STATUS=.
func oneLine(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
	s = strings.TrimSpace(s)
	if len(s) > maxStatusLength {
		cut := maxStatusLength - len(statusEllipsis)
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + statusEllipsis
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// firstField names a message in logs: "STATUS" rather than its whole text.
func firstField(msg string) string {
	if i := strings.IndexByte(msg, '='); i >= 0 {
		return msg[:i]
	}
	return msg
}
