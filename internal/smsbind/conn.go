package smsbind

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Addr is an SMS address: the server's MSISDN as configured.
type Addr string

// Network is "sms".
func (Addr) Network() string { return "sms" }

// String is the MSISDN.
func (a Addr) String() string { return string(a) }

// Conn is the CoAP-over-SMS connection to one server, the same in every
// security mode: Read returns one CoAP message the server sent (after the
// sender filter, the mode's protection and the rate limit), Write sends one
// CoAP message to the server (one SMS in modes 1 and 3; STORE DATA in
// mode 2). ReadMessage and WriteMessage are the same with a context.
//
// Reads and writes may run concurrently. A read buffer shorter than the
// message gets the message truncated and io.ErrShortBuffer, as datagram
// sockets do. SetWriteDeadline applies to writes that start after it.
type Conn struct {
	b   *Binding // non-nil
	srv *server  // non-nil

	in        chan []byte   // CoAP messages for the engine; written by HandleSMS, the poll and the DTLS reader
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex
	rdl     time.Time     // guarded by mu: read deadline
	rdlCh   chan struct{} // guarded by mu: closed when rdl changes
	wdl     time.Time     // guarded by mu: write deadline
	replyTo uicc.Address  // guarded by mu: mode 2, TP-OA of the latest request from the server
}

var _ net.Conn = (*Conn)(nil)

func newConn(b *Binding, srv *server, queue int) *Conn {
	return &Conn{b: b, srv: srv, in: make(chan []byte, queue), done: make(chan struct{}), rdlCh: make(chan struct{})}
}

// ServerID is the Short Server ID of the server this Conn talks to.
func (c *Conn) ServerID() int { return c.srv.cfg.ID }

// Mode is the server's SMS security mode.
func (c *Conn) Mode() Mode { return c.srv.cfg.Mode }

// Open establishes what the mode needs before the first message: in mode 1
// the DTLS session (restored from the store, else a handshake, LwM2M-TS 1.0
// §7.2.2.1); nothing in modes 2 and 3. The daemon calls it at start-up for
// bindings with S; otherwise the first Write does it.
func (c *Conn) Open(ctx context.Context) error {
	if c.srv.dtls == nil {
		return nil
	}
	ctx, cancel := c.withDone(ctx)
	defer cancel()
	if err := c.srv.dtls.Open(ctx); err != nil {
		if errors.Is(context.Cause(ctx), ErrClosed) {
			return ErrClosed
		}
		return err
	}
	c.srv.wakeReader()
	return nil
}

// ReadMessage returns the next CoAP message from the server.
func (c *Conn) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case <-c.done:
		return nil, ErrClosed
	default:
	}
	select {
	case m := <-c.in:
		return m, nil
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WriteMessage sends one CoAP message to the server.
func (c *Conn) WriteMessage(ctx context.Context, msg []byte) error {
	ctx, cancel := c.withDone(ctx)
	defer cancel()
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	err := c.b.send(ctx, c, msg)
	if err != nil && errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	return err
}

// withDone returns ctx, also cancelled when the Conn closes.
func (c *Conn) withDone(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() { // exits when the returned cancel runs, at the latest
		select {
		case <-c.done:
			cancel(ErrClosed)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}

// Read reads one CoAP message into b.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		c.mu.Lock()
		dl, changed := c.rdl, c.rdlCh
		c.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			timeout = t.C
		}
		n, again, err := c.readOnce(b, timeout, changed)
		if t != nil {
			t.Stop()
		}
		if !again {
			return n, err
		}
	}
}

// readOnce waits for one message, the deadline, Close or a deadline change
// (again: wait anew).
func (c *Conn) readOnce(b []byte, timeout <-chan time.Time, changed <-chan struct{}) (n int, again bool, err error) {
	select {
	case m := <-c.in:
		n := copy(b, m)
		if n < len(m) {
			return n, false, io.ErrShortBuffer
		}
		return n, false, nil
	case <-c.done:
		return 0, false, net.ErrClosed
	case <-timeout:
		return 0, false, os.ErrDeadlineExceeded
	case <-changed:
		return 0, true, nil
	}
}

// Write sends b as one CoAP message.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	dl := c.wdl
	c.mu.Unlock()
	ctx := context.Background()
	if !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	if err := c.WriteMessage(ctx, b); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, os.ErrDeadlineExceeded
		}
		if errors.Is(err, ErrClosed) {
			return 0, net.ErrClosed
		}
		return 0, err
	}
	return len(b), nil
}

// Close ends the Conn: blocked reads return, queued messages are dropped.
// The server's DTLS session stays (the Binding owns it). Idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	return nil
}

// LocalAddr is the device side, which has no number of its own here.
func (c *Conn) LocalAddr() net.Addr { return Addr("") }

// RemoteAddr is the server's number.
func (c *Conn) RemoteAddr() net.Addr { return Addr(c.srv.cfg.Number) }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds Read, including a Read already blocked.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	close(c.rdlCh)
	c.rdlCh = make(chan struct{})
	return nil
}

// SetWriteDeadline bounds the Writes that start after it.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	return nil
}

// deliver queues one CoAP message for the engine without blocking.
func (c *Conn) deliver(msg []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.in <- msg:
		return true
	default:
		return false
	}
}

func (c *Conn) setReplyTo(a uicc.Address) {
	c.mu.Lock()
	c.replyTo = append(uicc.Address(nil), a...)
	c.mu.Unlock()
}

func (c *Conn) replyAddress() uicc.Address {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replyTo != nil {
		return c.replyTo
	}
	return c.srv.addr
}
