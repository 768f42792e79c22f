package smsdtls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3/pkg/protocol"
)

// Sender sends one SMS. The daemon binds it to the modem through smsbind.
type Sender interface {
	// SendSMS sends ud as the 8-bit user data of one SMS-SUBMIT to the MSISDN
	// to (8-bit DCS without message class, PID 0x00, no UDH, never
	// concatenated: LwM2M-TS 1.0 §7.2.2.1.2) with relative validity period
	// at least vp (TS 23.040 §9.2.3.12; LwM2M-TS 1.0 §7.2.2.1.5 wants it ≥ the
	// current RTO on handshake SMS). len(ud) is at most MaxDatagram.
	SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error
}

// Addr is an SMS peer address: an MSISDN such as "+33600000002".
type Addr string

// Network is "sms".
func (Addr) Network() string { return "sms" }

func (a Addr) String() string { return string(a) }

// ErrDatagramTooLarge is returned by WriteTo for a datagram that does not fit
// one SMS. Nothing is sent.
var ErrDatagramTooLarge = errors.New("datagram larger than one SMS")

// inboundQueue is how many received datagrams wait for pion's reader. SMS
// arrive seconds apart; a full queue drops (loss, which DTLS tolerates).
const inboundQueue = 16

// PacketConn is a net.PacketConn to one server number over SMS: WriteTo sends
// one SMS per datagram, Deliver feeds it the user data of each SMS from that
// number, ReadFrom returns them. It never carries a datagram larger than
// MaxDatagram, treats a failed send of a handshake datagram as loss (the DTLS
// flight is retransmitted on its timer), and gives each SMS a validity period
// at least the retransmission timeout that follows it.
//
// The caller must not Deliver SMS-STATUS-REPORTs: a status report is not a
// DTLS acknowledgement (LwM2M-TS 1.0 §7.2.2.1.5).
type PacketConn struct {
	number     string        // immutable
	sender     Sender        // non-nil, immutable
	log        *slog.Logger  // non-nil, immutable
	initialRTO time.Duration // immutable
	recordVP   time.Duration // immutable

	in     chan []byte        // Deliver → ReadFrom; never closed
	closed chan struct{}      // closed by Close
	ctx    context.Context    // ends on Close; parent of every send
	cancel context.CancelFunc // ends ctx
	once   sync.Once          // Close

	mu            sync.Mutex
	readDeadline  time.Time            // guarded by mu
	readNotify    chan struct{}        // guarded by mu; closed and replaced when readDeadline changes
	writeDeadline time.Time            // guarded by mu
	writes        map[*sendOp]struct{} // guarded by mu: sends in progress
	sends         map[fragmentKey]int  // guarded by mu: transmissions of each handshake fragment
	lastVP        time.Duration        // guarded by mu: validity of the flight being sent
	beforeSend    func([]record) error // guarded by mu: set by Session (sequence reservation)
	held          []byte               // guarded by mu: a datagram ending in ChangeCipherSpec, waiting for its Finished

	stats *packetStats // non-nil; shared by the Session's conns
}

type packetStats struct {
	sent, sendFailed, oversize, received, inboundDropped atomic.Uint64
}

type fragmentKey struct {
	seq    uint16
	offset uint32
}

type sendOp struct{ cancel context.CancelFunc }

var _ net.PacketConn = (*PacketConn)(nil)

// NewPacketConn returns the PacketConn for one server number. initialRTO is
// the handshake's first retransmission timeout and recordVP the validity of
// SMS carrying application data (zero: the package defaults). log may be nil.
func NewPacketConn(number string, sender Sender, initialRTO, recordVP time.Duration, log *slog.Logger) *PacketConn {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if initialRTO <= 0 {
		initialRTO = DefaultInitialRTO
	}
	if recordVP <= 0 {
		recordVP = DefaultRecordValidity
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &PacketConn{
		number:     number,
		sender:     sender,
		log:        log,
		initialRTO: initialRTO,
		recordVP:   recordVP,
		in:         make(chan []byte, inboundQueue),
		closed:     make(chan struct{}),
		ctx:        ctx,
		cancel:     cancel,
		readNotify: make(chan struct{}),
		writes:     make(map[*sendOp]struct{}),
		sends:      make(map[fragmentKey]int),
		stats:      new(packetStats),
	}
}

// Deliver hands the user data of one SMS from this number to the reader. It
// never blocks: when the queue is full or the conn is closed the datagram is
// dropped, which DTLS treats as loss. ud is copied.
func (c *PacketConn) Deliver(ud []byte) {
	if len(ud) > MaxDatagram || len(ud) == 0 {
		c.stats.inboundDropped.Add(1)
		return
	}
	select {
	case <-c.closed:
		return
	default:
	}
	select {
	case c.in <- append([]byte(nil), ud...):
		c.stats.received.Add(1)
	default:
		c.stats.inboundDropped.Add(1)
		c.log.Debug("inbound SMS dropped: queue full", "msisdn", c.number)
	}
}

// ReadFrom returns the next delivered datagram.
func (c *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, err, again := c.readOnce(b)
		if !again {
			if err != nil {
				return 0, nil, err
			}
			return n, Addr(c.number), nil
		}
	}
}

// readOnce waits for a datagram until the read deadline; again reports that
// the deadline changed while waiting.
func (c *PacketConn) readOnce(b []byte) (n int, err error, again bool) {
	c.mu.Lock()
	deadline, notify := c.readDeadline, c.readNotify
	c.mu.Unlock()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return 0, os.ErrDeadlineExceeded, false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-c.closed:
		return 0, net.ErrClosed, false
	case ud := <-c.in:
		return copy(b, ud), nil, false
	case <-notify:
		return 0, nil, true
	case <-expired:
		return 0, os.ErrDeadlineExceeded, false
	}
}

// WriteTo sends b as one SMS to the server. addr must be nil or this conn's
// number.
func (c *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if addr != nil && addr.String() != c.number {
		return 0, fmt.Errorf("smsdtls: write to %s on the conn for %s", addr, c.number)
	}
	if len(b) > MaxDatagram {
		c.stats.oversize.Add(1)
		c.log.Error("datagram refused: larger than one SMS", "msisdn", c.number, "size", len(b))
		return 0, fmt.Errorf("smsdtls: send %d octets to %s: %w", len(b), c.number, ErrDatagramTooLarge)
	}
	n := len(b)
	b = append([]byte(nil), b...) // pion reuses its buffer
	recs, err := splitRecords(b)
	if err != nil {
		return 0, fmt.Errorf("smsdtls: send to %s: %w", c.number, err)
	}

	c.mu.Lock()
	held := c.held
	c.held = nil
	c.mu.Unlock()
	if held != nil {
		if startsWithEncryptedHandshake(recs) && len(held)+len(b) <= MaxDatagram {
			b = append(held, b...)
			recs, _ = splitRecords(b)
		} else if err := c.send(held); err != nil {
			return 0, err
		}
	}
	if endsWithChangeCipherSpec(recs) {
		// RFC 5246 §7.1: the Finished follows the ChangeCipherSpec at once,
		// in pion's next WriteTo. pion packs records only while they stay
		// under its MTU (115, the fragment size), which would send a
		// 21..46-octet PSK identity's ClientKeyExchange+CCS and the Finished
		// in two SMS; holding this datagram lets both share one SMS when
		// they fit in 140 octets (dtls-over-sms.md §4 flight 5).
		c.mu.Lock()
		c.held = b
		c.mu.Unlock()
		return n, nil
	}
	if err := c.send(b); err != nil {
		return 0, err
	}
	return n, nil
}

// send hands one datagram to the Sender. A failed handshake datagram is
// loss (nil error); a failed application-data datagram is an error.
func (c *PacketConn) send(b []byte) error {
	recs, err := splitRecords(b)
	if err != nil {
		return fmt.Errorf("smsdtls: send to %s: %w", c.number, err)
	}
	if len(b) > MaxDatagram { // cannot happen: merges are bounded
		c.stats.oversize.Add(1)
		return fmt.Errorf("smsdtls: send %d octets to %s: %w", len(b), c.number, ErrDatagramTooLarge)
	}
	appData := false
	for _, r := range recs {
		if r.contentType == protocol.ContentTypeApplicationData {
			appData = true
		}
	}

	c.mu.Lock()
	vp := c.validityLocked(recs, appData)
	hook := c.beforeSend
	c.mu.Unlock()
	if hook != nil {
		if err := hook(recs); err != nil {
			return fmt.Errorf("smsdtls: send to %s: %w", c.number, err)
		}
	}

	ctx, done := c.startSend()
	defer done()
	err = c.sender.SendSMS(ctx, c.number, b, vp)
	if err == nil {
		c.stats.sent.Add(1)
		return nil
	}
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	if ctx.Err() != nil { // write deadline passed (Close was handled above)
		return os.ErrDeadlineExceeded
	}
	c.stats.sendFailed.Add(1)
	if appData {
		return fmt.Errorf("smsdtls: send record to %s: %w", c.number, err)
	}
	// A lost handshake SMS is what the DTLS retransmission timer is for
	// (RFC 6347 §4.2.4); returning the error would abort the handshake.
	c.log.Warn("handshake SMS not sent, treated as lost", "msisdn", c.number, "err", err)
	return nil
}

func endsWithChangeCipherSpec(recs []record) bool {
	return len(recs) > 0 && recs[len(recs)-1].contentType == protocol.ContentTypeChangeCipherSpec
}

func startsWithEncryptedHandshake(recs []record) bool {
	return len(recs) > 0 && recs[0].contentType == protocol.ContentTypeHandshake && recs[0].epoch >= 1
}

// validityLocked is the TP-VP for a datagram: for handshake SMS the RTO that
// follows this transmission (initial RTO doubled per earlier transmission of
// the same fragment, capped at MaxRTO; LwM2M-TS 1.0 §7.2.2.1.5 "validity
// period ... at least equal to the DTLS retransmission timeout"); for
// application data the configured record validity.
func (c *PacketConn) validityLocked(recs []record, appData bool) time.Duration {
	if appData {
		return c.recordVP
	}
	for _, r := range recs {
		if !r.hasHandshake {
			continue
		}
		k := fragmentKey{seq: r.hsSeq, offset: r.hsOffset}
		n := c.sends[k]
		c.sends[k] = n + 1
		rto := c.initialRTO
		for range n {
			rto = min(rto*2, MaxRTO)
		}
		c.lastVP = max(rto, c.initialRTO)
		return c.lastVP
	}
	handshakePhase := false
	for _, r := range recs {
		if r.contentType == protocol.ContentTypeHandshake || r.contentType == protocol.ContentTypeChangeCipherSpec {
			handshakePhase = true
		}
	}
	if handshakePhase && c.lastVP > 0 {
		return c.lastVP // the encrypted Finished travelling alone, same flight
	}
	if handshakePhase {
		return c.initialRTO
	}
	return c.recordVP
}

// startSend returns the context for one send, cancelled by Close or by a
// write deadline (also one set while the send is in progress).
func (c *PacketConn) startSend() (context.Context, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithCancel(c.ctx)
	if !c.writeDeadline.IsZero() {
		var cancel2 context.CancelFunc
		ctx, cancel2 = context.WithDeadline(ctx, c.writeDeadline)
		cancel1 := cancel
		cancel = func() { cancel2(); cancel1() }
	}
	op := &sendOp{cancel: cancel}
	c.writes[op] = struct{}{}
	return ctx, func() {
		c.mu.Lock()
		delete(c.writes, op)
		c.mu.Unlock()
		cancel()
	}
}

// Close ends the conn: blocked reads and sends return. It is idempotent and
// sends nothing (no close_notify reaches the air through a closed conn).
func (c *PacketConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.cancel()
	})
	return nil
}

// LocalAddr is the device side, which has no number of its own here.
func (c *PacketConn) LocalAddr() net.Addr { return Addr("") }

// RemoteAddr is the server number.
func (c *PacketConn) RemoteAddr() net.Addr { return Addr(c.number) }

// SetDeadline sets both deadlines.
func (c *PacketConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds ReadFrom, including a ReadFrom already blocked.
func (c *PacketConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	close(c.readNotify)
	c.readNotify = make(chan struct{})
	return nil
}

// SetWriteDeadline bounds WriteTo; a deadline in the past also cancels sends
// in progress.
func (c *PacketConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeDeadline = t
	if !t.IsZero() && !time.Now().Before(t) {
		for op := range c.writes {
			op.cancel()
		}
	}
	return nil
}

// setBeforeSend installs the hook run before each datagram is sent; an error
// stops the send.
func (c *PacketConn) setBeforeSend(f func([]record) error) {
	c.mu.Lock()
	c.beforeSend = f
	c.mu.Unlock()
}
