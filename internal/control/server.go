package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultSocket is where the daemon listens unless configured otherwise: in
// the RuntimeDirectory systemd creates for the service.
const DefaultSocket = "/run/lwm2m-clientd/control.sock"

// RequestStatus is the request line asking for the Status.
const RequestStatus = "status"

// Defaults of Config (PROJECT DEFAULT: not from a standard).
const (
	// DefaultProviderTimeout bounds how long the Provider may take.
	DefaultProviderTimeout = 5 * time.Second
	// DefaultIOTimeout bounds each connection: a client that neither asks
	// nor reads within it is dropped.
	DefaultIOTimeout = 5 * time.Second
	// DefaultMaxClients is how many connections are served at once; more
	// wait (a status query is tiny; this only bounds abuse).
	DefaultMaxClients = 8
)

const (
	socketMode    = 0o600       // only the daemon's user (and root) may ask
	dirMode       = 0o700       // a runtime directory this package has to create
	maxRequest    = 256         // longest request line
	probeTimeout  = time.Second // connecting to a possibly live daemon at start-up
	acceptBackoff = 5 * time.Millisecond
	maxBackoff    = time.Second
	maxSocketPath = 107 // sizeof(sockaddr_un.sun_path) − 1 on Linux, unix(7)
)

// ErrAlreadyRunning is returned by Listen when another daemon answers on the
// socket or holds its lock.
var ErrAlreadyRunning = errors.New("another lwm2m-clientd is already running")

// Provider returns the daemon's current Status. It is called once per client
// request, possibly from several goroutines at once, and must return soon
// after ctx ends.
type Provider func(ctx context.Context) Status

// Config configures a Server. The zero value serves DefaultSocket.
type Config struct {
	// Path of the socket (default DefaultSocket). Its directory is created
	// (0700) when missing.
	Path string
	// ProviderTimeout, IOTimeout and MaxClients default to
	// DefaultProviderTimeout, DefaultIOTimeout and DefaultMaxClients.
	ProviderTimeout time.Duration
	IOTimeout       time.Duration
	MaxClients      int
}

func (c *Config) applyDefaults() {
	if c.Path == "" {
		c.Path = DefaultSocket
	}
	if c.ProviderTimeout <= 0 {
		c.ProviderTimeout = DefaultProviderTimeout
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default: discard). The Server adds
// component=control.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// Server answers status requests on the control socket. Listen creates it,
// Serve runs it, Close (or the end of Serve's context) stops it.
type Server struct {
	cfg      Config       // copied at Listen, read-only
	provider Provider     // non-nil
	log      *slog.Logger // non-nil
	ln       *net.UnixListener
	lock     *os.File    // holds the flock on cfg.Path+".lock"
	inode    os.FileInfo // the socket file this Server created

	ctx    context.Context // ends when the Server closes; parent of every request
	cancel context.CancelFunc
	slots  chan struct{} // one token per connection being served

	mu      sync.Mutex     // guards closed and wg.Add
	closed  bool           // Close has begun
	serving bool           // Serve has been called
	wg      sync.WaitGroup // one per connection goroutine

	closeOnce sync.Once
	closeErr  error
}

// Listen creates the control socket and returns a Server ready to Serve.
// It fails with ErrAlreadyRunning when another daemon answers on the socket
// or holds its lock; a socket file nobody answers on (left by a crash) is
// replaced. The socket is never reachable with a mode other than 0600: it is
// bound inside a fresh 0700 directory, set to 0600, and renamed into place.
func Listen(cfg Config, p Provider, opts ...Option) (*Server, error) {
	if p == nil {
		return nil, errors.New("control: listen: nil Provider")
	}
	cfg.applyDefaults()
	s := &Server{cfg: cfg, provider: p, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("component", "control")
	path := cfg.Path
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("control: create %s: %w", dir, err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	stale, err := probe(path)
	if err != nil {
		return nil, err
	}
	ln, inode, err := createSocket(dir, path)
	if err != nil {
		return nil, err
	}
	if stale {
		s.log.Info("replaced a stale control socket (the previous daemon did not remove it)", "path", path)
	}
	s.ln, s.lock, s.inode = ln, lock, inode
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.slots = make(chan struct{}, cfg.MaxClients)
	ok = true
	s.log.Debug("control socket listening", "path", path)
	return s, nil
}

// lockFile takes an exclusive flock on name, so that two daemons starting at
// the same moment cannot both pass the probe. The lock file stays behind on
// purpose: removing it would race with the next daemon's lock.
func lockFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, socketMode)
	if err != nil {
		return nil, fmt.Errorf("control: open lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("control: %s is locked: %w", name, ErrAlreadyRunning)
		}
		return nil, fmt.Errorf("control: lock %s: %w", name, err)
	}
	return f, nil
}

// probe looks at what is at path: nothing (false), a socket nobody answers
// on (true: stale), or a live daemon (ErrAlreadyRunning). Anything that is
// not a socket is left alone and refused.
func probe(path string) (stale bool, err error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("control: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return false, fmt.Errorf("control: %s exists and is not a socket (%s); remove it or choose another path", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return false, fmt.Errorf("control: a process answers on %s: %w", path, ErrAlreadyRunning)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true, nil
	}
	return false, fmt.Errorf("control: probe %s: %w", path, err)
}

// createSocket binds a listening socket in a private directory, makes it
// 0600 and renames it to path (replacing a stale one atomically). No umask
// change (process-wide, racy with other goroutines) is needed: while the
// socket has its initial mode, only this user can reach its directory.
func createSocket(dir, path string) (*net.UnixListener, os.FileInfo, error) {
	tmpDir, err := os.MkdirTemp(dir, ".control-")
	if err != nil {
		return nil, nil, fmt.Errorf("control: create socket: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	if len(tmp) > maxSocketPath {
		return nil, nil, fmt.Errorf("control: socket path %s is too long: the socket is created as %s, and a unix socket path has at most %d bytes", path, tmp, maxSocketPath)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("control: listen on %s: %w", path, err)
	}
	// The file is renamed away: Close must not unlink by the old name, and
	// the Server removes the new one itself (only if it is still its own).
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		ln.Close()
		return nil, nil, err
	}
	if err := os.Chmod(tmp, socketMode); err != nil {
		return fail(fmt.Errorf("control: chmod socket: %w", err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("control: create %s: %w", path, err))
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("control: %w", err))
	}
	return ln, fi, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.cfg.Path }

// Serve answers clients until ctx ends or Close is called, then closes the
// Server (waiting for the requests in flight) and returns what Close
// returns: nil unless the socket could not be removed. It also returns an
// error if accepting fails for good; the Server is closed then too. Serve
// may be called once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("control: Serve called twice or after Close")
	}
	s.serving = true
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, s.shutdown)
	defer stop()
	backoff := time.Duration(0)
	for {
		// Take a slot before accepting: clients beyond MaxClients wait in
		// the listen backlog (their own timeout applies) instead of being
		// dropped.
		select {
		case s.slots <- struct{}{}:
		case <-s.ctx.Done():
			return s.Close()
		}
		c, err := s.ln.AcceptUnix()
		if err != nil {
			<-s.slots
			if s.ctx.Err() != nil {
				return s.Close()
			}
			if errors.Is(err, net.ErrClosed) {
				_ = s.Close()
				return fmt.Errorf("control: accept: %w", err)
			}
			// EMFILE and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, acceptBackoff), maxBackoff)
			s.log.Warn("accept failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-s.ctx.Done():
				return s.Close()
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			<-s.slots
			c.Close()
			return s.Close()
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

// shutdown stops accepting and ends the requests in flight.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.ln.Close()
}

// Close stops the Server, waits for the requests in flight, removes the
// socket (if it is still the one Listen created) and releases the lock. It is
// idempotent and safe to call while Serve runs.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.shutdown()
		s.wg.Wait()
		if fi, err := os.Lstat(s.cfg.Path); err == nil && os.SameFile(fi, s.inode) {
			if err := os.Remove(s.cfg.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.closeErr = fmt.Errorf("control: remove %s: %w", s.cfg.Path, err)
			}
		}
		if err := s.lock.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("control: release lock: %w", err)
		}
		s.log.Debug("control socket closed", "path", s.cfg.Path)
	})
	return s.closeErr
}

// handle serves one connection: one request line, one answer.
func (s *Server) handle(c *net.UnixConn) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	defer c.Close()
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	defer stop()
	if err := c.SetReadDeadline(time.Now().Add(s.cfg.IOTimeout)); err != nil {
		return
	}
	req, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest), maxRequest).ReadString('\n')
	if err != nil {
		s.log.Debug("control client sent no request", "err", err)
		return
	}
	var resp any
	switch r := strings.TrimSpace(req); r {
	case RequestStatus:
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ProviderTimeout)
		resp = s.provider(ctx)
		cancel()
	default:
		resp = errorResponse{Error: fmt.Sprintf("unknown request %q", r)}
	}
	b, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		s.log.Error("cannot encode the status", "err", err)
		b, _ = json.Marshal(errorResponse{Error: "daemon could not encode its status"})
	}
	b = append(b, '\n')
	if err := c.SetWriteDeadline(time.Now().Add(s.cfg.IOTimeout)); err != nil {
		return
	}
	if _, err := c.Write(b); err != nil {
		s.log.Debug("control client went away", "err", err)
	}
}

// errorResponse is the answer to a request the daemon cannot serve.
type errorResponse struct {
	Error string `json:"error"`
}
