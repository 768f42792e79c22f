package smsdtls

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
)

// ErrClosed is returned by a closed Session.
var ErrClosed = errors.New("smsdtls: session closed")

// ErrRecordTooLarge is returned by Write for more than MaxPlaintext octets:
// DTLS does not fragment application data and SMS may not be concatenated
// (LwM2M-TS 1.0 §7.2.2.1.2); the CoAP layer must use block-wise transfer.
var ErrRecordTooLarge = fmt.Errorf("smsdtls: record larger than one SMS (%d octets of plaintext)", MaxPlaintext)

// Client holds the DTLS-over-SMS sessions of one process, at most one per
// server number, and remembers which snapshots it has restored so that none
// is restored twice.
type Client struct {
	sender Sender       // non-nil, immutable
	store  SessionStore // non-nil, immutable
	log    *slog.Logger // non-nil, immutable
	rand   io.Reader    // non-nil, immutable; snapshot ids

	mu       sync.Mutex
	consumed map[[16]byte]bool   // guarded by mu: snapshot ids restored by this process
	live     map[string]*Session // guarded by mu: open sessions by number
}

// Option configures a Client.
type Option func(*Client)

// WithLogger sets the logger (default: discard). Records get component=smsdtls.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithRand sets the randomness for snapshot ids (default crypto/rand).
func WithRand(r io.Reader) Option {
	return func(c *Client) {
		if r != nil {
			c.rand = r
		}
	}
}

// New returns a Client sending through sender and persisting sessions in store.
func New(sender Sender, store SessionStore, opts ...Option) (*Client, error) {
	if sender == nil || store == nil {
		return nil, errors.New("smsdtls: nil sender or session store")
	}
	c := &Client{
		sender:   sender,
		store:    store,
		log:      slog.New(slog.DiscardHandler),
		rand:     rand.Reader,
		consumed: make(map[[16]byte]bool),
		live:     make(map[string]*Session),
	}
	for _, o := range opts {
		o(c)
	}
	c.log = c.log.With("component", "smsdtls")
	return c, nil
}

// Session returns the session for cfg.Number. It sends nothing: the DTLS
// association is restored or handshaken when first needed (Open, Write,
// Read, or a record arriving). A configuration that is not PSK is refused
// with ErrNotPSK.
func (c *Client) Session(cfg Config) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.live[cfg.Number]; ok {
		return nil, fmt.Errorf("smsdtls: a session for %s is already open", cfg.Number)
	}
	log := c.log.With("msisdn", cfg.Number)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		client:  c,
		cfg:     cfg,
		log:     log,
		opts:    cfg.pionOptions(log),
		binding: bindingFor(cfg),
		ctx:     ctx,
		cancel:  cancel,
	}
	c.live[cfg.Number] = s
	return s, nil
}

// consume marks a snapshot id restored; false if it already was.
func (c *Client) consume(id [16]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.consumed[id] {
		return false
	}
	c.consumed[id] = true
	return true
}

func (c *Client) unconsume(id [16]byte) {
	c.mu.Lock()
	delete(c.consumed, id)
	c.mu.Unlock()
}

func (c *Client) release(s *Session) {
	c.mu.Lock()
	if c.live[s.cfg.Number] == s {
		delete(c.live, s.cfg.Number)
	}
	c.mu.Unlock()
}

// Stats counts what a Session did. All fields only grow.
type Stats struct {
	Handshakes             uint64 // full handshakes started
	HandshakeFailures      uint64 // handshakes that did not complete
	Restores               uint64 // sessions restored from a snapshot (no SMS)
	SnapshotsRefused       uint64 // snapshots not restored (reused, unusable, other key)
	Unauthenticated        uint64 // inbound SMS dropped: no session could authenticate them
	Replayed               uint64 // inbound SMS dropped: authentic, but every record in them was received before (RFC 6347 §4.1.2.6)
	RehandshakesSuppressed uint64 // re-handshakes not started: interval not elapsed
	SMSSent                uint64 // datagrams handed to the Sender successfully
	SendFailures           uint64 // Sender errors (handshake ones count as loss)
	Oversize               uint64 // datagrams refused for being larger than one SMS
}

type sessionStats struct {
	handshakes, handshakeFailures, restores, refused, unauthenticated, replayed, suppressed atomic.Uint64
}

// State is where a Session's association stands.
type State int

// Session states.
const (
	// StateIdle: no association and none being established (not needed
	// yet, or ended by the server). A stored one may still be restorable.
	StateIdle State = iota
	// StateRestoring: the stored association is being restored (no SMS).
	StateRestoring
	// StateHandshaking: a full handshake is running over SMS.
	StateHandshaking
	// StateEstablished: records flow.
	StateEstablished
	// StateFailed: the last attempt to establish failed; the next Open,
	// Write or Read, or a server record that asks for it, tries again.
	StateFailed
	// StateClosed: Close was called.
	StateClosed
)

// String gives "idle", "restoring", "handshaking", "established",
// "failed" or "closed".
func (st State) String() string {
	switch st {
	case StateIdle:
		return "idle"
	case StateRestoring:
		return "restoring"
	case StateHandshaking:
		return "handshaking"
	case StateEstablished:
		return "established"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("state(%d)", int(st))
}

// maxPending bounds the SMS a Session holds while a restore is in progress
// (a few records of the server: a trigger and its retransmissions).
const maxPending = 8

// Session is the DTLS association with one server over SMS. Its methods are
// safe for concurrent use; one goroutine at a time should Read.
type Session struct {
	client  *Client         // non-nil, immutable
	cfg     Config          // immutable, defaults applied
	log     *slog.Logger    // non-nil, immutable
	opts    []dtls.Option   // immutable
	binding [32]byte        // immutable
	ctx     context.Context // ends on Close; bounds background handshakes
	cancel  context.CancelFunc
	wg      sync.WaitGroup // background restores and handshakes
	writeMu sync.Mutex     // one Write at a time

	mu          sync.Mutex
	cur         *link         // guarded by mu: the established association, nil if none
	hs          *PacketConn   // guarded by mu: conn of the handshake in progress (gets every SMS)
	handshaking bool          // guarded by mu: the attempt under opening is a full handshake (not a restore)
	opening     chan struct{} // guarded by mu: non-nil while establishing; closed when done
	openErr     error         // guarded by mu: result of the last handshake attempt
	pending     [][]byte      // guarded by mu: SMS that arrived during a restore, or application data during a handshake; handled when it ends
	// lastHandshake is when the last full handshake began, whoever started
	// it (the client's first one included; restores are not handshakes);
	// zero if none did. Handshakes that server records ask for are
	// rate-limited from it: a session younger than RehandshakeInterval is
	// not replaced because of records anyone can forge.
	lastHandshake time.Time // guarded by mu
	closed        bool      // guarded by mu

	stats  sessionStats
	pstats packetStats // shared by every PacketConn of this session
}

// link is one established association: the conn pion reads and writes, and
// the reservation of record sequence numbers behind the persisted snapshot.
type link struct {
	s      *Session    // non-nil
	pc     *PacketConn // non-nil
	conn   *dtls.Conn  // non-nil
	verify *verifier   // non-nil

	resMu    sync.Mutex // guards the fields below; held while a snapshot is saved
	persist  bool       // a snapshot of this association is in the store
	reserved uint64     // first sequence number the stored snapshot does not cover
	cutoff   uint64     // server records below this are refused after a restore

	winMu  sync.Mutex
	replay replayWindow // guarded by winMu: server records already received
}

// replayWindow is the receive window of RFC 6347 §4.1.2.6 over the server's
// epoch-1 sequence numbers: the highest received and a bitmap of the 64
// below it. Numbers below floor (what a restored snapshot had received)
// count as received.
type replayWindow struct {
	floor uint64
	top   uint64 // highest received; valid when any
	bits  uint64 // bit i: top-i was received
	any   bool
}

// replayWindowSize is the window of RFC 6347 §4.1.2.6 (its minimum, 32, and
// pion's default, 64, are both honoured: pion drops what is older anyway).
const replayWindowSize = 64

// mark reports whether seq was received before (or is too old to tell) and
// otherwise records it as received.
func (w *replayWindow) mark(seq uint64) (replayed bool) {
	switch {
	case seq < w.floor:
		return true
	case !w.any:
		w.any, w.top, w.bits = true, seq, 1
		return false
	case seq > w.top:
		if d := seq - w.top; d >= replayWindowSize {
			w.bits = 1
		} else {
			w.bits = w.bits<<d | 1
		}
		w.top = seq
		return false
	case w.top-seq >= replayWindowSize:
		return true
	}
	bit := uint64(1) << (w.top - seq)
	if w.bits&bit != 0 {
		return true
	}
	w.bits |= bit
	return false
}

// fresh marks the sequence numbers of recs received and returns those that
// were not before.
func (l *link) fresh(recs []record) []record {
	l.winMu.Lock()
	defer l.winMu.Unlock()
	out := recs[:0:0]
	for _, r := range recs {
		if !l.replay.mark(r.seq) {
			out = append(out, r)
		}
	}
	return out
}

// close ends the association without a close_notify: the PacketConn closes
// first, so nothing reaches the air and the persisted session stays valid.
func (l *link) close() {
	_ = l.pc.Close()
	_ = l.conn.Close()
}

// Open establishes the association if there is none: it restores the stored
// snapshot (no SMS) or runs a full handshake bounded by HandshakeTimeout. The
// handshake goes on if ctx ends first; Open then returns ctx's error.
func (s *Session) Open(ctx context.Context) error {
	_, err := s.get(ctx)
	return err
}

func (s *Session) get(ctx context.Context) (*link, error) {
	for {
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			return nil, ErrClosed
		case s.cur != nil:
			l := s.cur
			s.mu.Unlock()
			return l, nil
		case s.opening != nil:
			ch := s.opening
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			s.mu.Lock()
			err, ok := s.openErr, s.cur != nil
			s.mu.Unlock()
			if !ok && err != nil {
				return nil, err
			}
			continue
		}
		// Establish in the background, bounded by HandshakeTimeout and the
		// session's life but not by this caller's ctx: a handshake abandoned
		// because one caller gave up would waste its SMS.
		ch := make(chan struct{})
		s.opening = ch
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			l, err := s.restore()
			if l == nil {
				if err != nil {
					s.log.Warn("stored DTLS session not restored, full handshake", "err", err)
				}
				l, err = s.handshake(s.ctx)
			}
			s.finishOpen(ch, l, err)
		}()
	}
}

// finishOpen publishes the result of an attempt started with s.opening = ch,
// then handles the SMS that arrived while it was restoring.
func (s *Session) finishOpen(ch chan struct{}, l *link, err error) {
	s.mu.Lock()
	s.opening = nil
	s.openErr = err
	s.hs = nil
	s.handshaking = false
	if l != nil {
		if s.closed {
			l.close()
		} else {
			s.cur = l
		}
	}
	pending := s.pending
	s.pending = nil
	up := s.cur != nil
	close(ch)
	s.mu.Unlock()
	for _, ud := range pending {
		if up {
			s.Deliver(ud)
			continue
		}
		s.stats.unauthenticated.Add(1)
		s.log.Debug("SMS dropped: no DTLS session after the restore", "size", len(ud))
	}
}

func (s *Session) newPacketConn() *PacketConn {
	pc := NewPacketConn(s.cfg.Number, s.client.sender, s.cfg.InitialRTO, s.cfg.RecordValidity, s.log)
	pc.stats = &s.pstats
	return pc
}

func (s *Session) newID() ([16]byte, error) {
	var id [16]byte
	if _, err := io.ReadFull(s.client.rand, id[:]); err != nil {
		return id, fmt.Errorf("snapshot id: %w", err)
	}
	return id, nil
}

// save persists a snapshot of st reserving every sequence number below next.
func (s *Session) save(st serializedState, next uint64) error {
	id, err := s.newID()
	if err != nil {
		return err
	}
	b, err := snapshot{id: id, next: next, binding: s.binding, state: st}.marshal()
	if err != nil {
		return err
	}
	if err := s.client.store.Save(s.cfg.Number, b); err != nil {
		return fmt.Errorf("save session snapshot: %w", err)
	}
	return nil
}

// reserve saves a snapshot that raises the reservation to next, twice (two
// ids, so two different files): a store that keeps the previous copy and
// falls back to it when the latest is damaged (internal/store does) then
// still returns this reservation, never the one before it, whose numbers
// may already be in use.
func (s *Session) reserve(st serializedState, next uint64) error {
	for range 2 {
		if err := s.save(st, next); err != nil {
			return err
		}
	}
	return nil
}

// restore resumes the stored snapshot, if any, without sending anything. The
// snapshot is replaced by one reserving the next SequenceReservation numbers
// before the keys are used, so the same snapshot never comes back (RFC 6655
// §6: a nonce must never repeat under one key).
func (s *Session) restore() (*link, error) {
	b, err := s.client.store.Load(s.cfg.Number)
	if err != nil {
		return nil, fmt.Errorf("load session snapshot: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	snap, err := unmarshalSnapshot(b)
	if err == nil && !snap.boundTo(s.cfg) {
		err = fmt.Errorf("%w: made for another server or key", errBadSnapshot)
	}
	if err != nil {
		s.stats.refused.Add(1)
		return nil, err
	}
	if !s.client.consume(snap.id) {
		s.stats.refused.Add(1)
		return nil, ErrSnapshotReused
	}
	reserved := snap.next + s.cfg.SequenceReservation
	if err := s.reserve(snap.state, reserved); err != nil {
		s.client.unconsume(snap.id) // its keys were not used
		return nil, err
	}
	st, err := snap.state.resumable(snap.next)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(snap.state)
	if err != nil {
		return nil, err
	}
	pc := s.newPacketConn()
	conn, err := dtls.ResumeWithOptions(st, pc, Addr(s.cfg.Number), s.opts...)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("resume DTLS session: %w", err)
	}
	l := &link{s: s, pc: pc, conn: conn, verify: v, persist: true, reserved: reserved, cutoff: snap.state.RemoteSequenceNumber}
	l.replay.floor = snap.state.RemoteSequenceNumber
	pc.setBeforeSend(l.beforeSend)
	if err := conn.HandshakeContext(s.ctx); err != nil { // resumed: sends nothing
		l.close()
		return nil, fmt.Errorf("resume DTLS session: %w", err)
	}
	s.stats.restores.Add(1)
	s.log.Info("DTLS session restored without handshake", "next_seq", snap.next, "reserved_to", reserved)
	return l, nil
}

// handshake runs a full DTLS handshake over SMS.
func (s *Session) handshake(ctx context.Context) (*link, error) {
	s.stats.handshakes.Add(1)
	s.mu.Lock()
	s.handshaking = true
	s.lastHandshake = time.Now()
	s.mu.Unlock()
	// Forget the previous association first; its snapshot must not be
	// restored once the server has moved on.
	if err := s.client.store.Save(s.cfg.Number, nil); err != nil {
		s.log.Warn("old DTLS session snapshot not deleted", "err", err)
	}
	pc := s.newPacketConn()
	copts := make([]dtls.ClientOption, len(s.opts))
	for i, o := range s.opts {
		copts[i] = o
	}
	conn, err := dtls.ClientWithOptions(pc, Addr(s.cfg.Number), copts...)
	if err != nil {
		_ = pc.Close()
		s.stats.handshakeFailures.Add(1)
		return nil, fmt.Errorf("smsdtls: handshake with %s: %w", s.cfg.Number, err)
	}
	// SMS held during a restore that failed belong to the association that
	// could not be restored; the new handshake has no use for them.
	s.mu.Lock()
	s.hs = pc
	stale := len(s.pending)
	s.pending = nil
	s.mu.Unlock()
	if stale > 0 {
		s.stats.unauthenticated.Add(uint64(stale))
		s.log.Debug("SMS dropped: held for a session that could not be restored", "count", stale)
	}
	s.log.Info("DTLS handshake started", "initial_rto", s.cfg.InitialRTO, "budget", s.cfg.HandshakeTimeout)

	hctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	stop := context.AfterFunc(s.ctx, cancel)
	err = conn.HandshakeContext(hctx)
	stop()
	cancel()

	// s.hs stays set until finishOpen publishes the result, so no SMS falls
	// between the handshake conn and the established link.
	fail := func(err error) (*link, error) {
		_ = pc.Close()
		_ = conn.Close()
		s.stats.handshakeFailures.Add(1)
		s.log.Warn("DTLS handshake failed", "err", err)
		return nil, fmt.Errorf("smsdtls: handshake with %s: %w", s.cfg.Number, err)
	}
	if err != nil {
		return fail(err)
	}
	st, err := stateOf(conn)
	if err != nil {
		return fail(err)
	}
	v, err := newVerifier(st)
	if err != nil {
		return fail(err)
	}
	l := &link{s: s, pc: pc, conn: conn, verify: v, cutoff: st.RemoteSequenceNumber}
	l.replay.floor = st.RemoteSequenceNumber
	reserved := st.SequenceNumber + s.cfg.SequenceReservation
	if err := s.reserve(st, reserved); err != nil {
		// Nothing of this association is stored, so nothing can be restored
		// and no reservation is needed; a restart will cost a handshake.
		s.log.Error("DTLS session not persisted: a restart will need a new handshake", "err", err)
	} else {
		l.persist, l.reserved = true, reserved
	}
	pc.setBeforeSend(l.beforeSend)
	s.log.Info("DTLS handshake complete", "sms_sent_total", s.pstats.sent.Load())
	return l, nil
}

// beforeSend runs before every datagram of an established association
// reaches the Sender: a record whose sequence number the stored snapshot
// does not cover waits until a new snapshot reserving it is saved. If that
// fails the record is not sent.
func (l *link) beforeSend(recs []record) error {
	var top uint64
	found := false
	for _, r := range recs {
		if r.epoch >= 1 {
			top = max(top, r.seq)
			found = true
		}
	}
	if !found {
		return nil
	}
	l.resMu.Lock()
	defer l.resMu.Unlock()
	if !l.persist || top < l.reserved {
		return nil
	}
	return l.reserveLocked(top)
}

// reserveLocked saves a snapshot of the live state reserving the numbers
// up to top+SequenceReservation. Needs resMu.
func (l *link) reserveLocked(top uint64) error {
	st, err := stateOf(l.conn)
	if err != nil {
		return fmt.Errorf("reserve sequence numbers: %w", err)
	}
	next := top + 1 + l.s.cfg.SequenceReservation
	st.RemoteSequenceNumber = max(st.RemoteSequenceNumber, l.cutoff)
	if err := l.s.reserve(st, next); err != nil {
		l.s.log.Error("record not sent: sequence numbers not reserved", "err", err)
		return fmt.Errorf("reserve sequence numbers: %w", err)
	}
	l.reserved = next
	l.cutoff = st.RemoteSequenceNumber
	return nil
}

// noteReceived stores, before pion acts on an authenticated server record
// with sequence number seq, that records up to seq were seen: a restored
// session refuses them (pion's replay cutoff), so an SMS recorded off the air
// cannot be replayed after a daemon restart (RFC 6347 §4.1.2.6 protects only
// within one process). One store write per inbound SMS; SMS are rare.
func (l *link) noteReceived(seq uint64) {
	l.resMu.Lock()
	defer l.resMu.Unlock()
	if !l.persist || seq < l.cutoff {
		return
	}
	st, err := stateOf(l.conn)
	if err == nil {
		st.RemoteSequenceNumber = max(st.RemoteSequenceNumber, seq+1)
		err = l.s.save(st, l.reserved)
	}
	if err != nil {
		l.s.log.Warn("replay cutoff not saved: this record could be replayed after a restart", "err", err)
		return
	}
	l.cutoff = st.RemoteSequenceNumber
}

// Deliver hands the session the user data of one SMS from its server (after
// the sender filter; never a status report). During a handshake every SMS
// goes to pion. Afterwards only records that the session's keys authenticate
// and that were not received before reach pion; anything else is dropped
// without a reply (LwM2M-TS 1.0 §7.2.2 "MUST NOT respond with an error
// message"). An epoch-1 record that does not authenticate, or a
// HelloRequest (RFC 5246 §7.4.1.1), starts a new handshake, also when there
// is no session at all, at most once per RehandshakeInterval counted from
// the start of the last handshake of any origin. Deliver never
// blocks on the air: with no association yet it restores the stored one (no
// SMS) so that a trigger can be read, and an SMS arriving while a restore
// runs is held and handled when the restore ends.
func (s *Session) Deliver(ud []byte) {
	appData := isAppData(ud)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.hs != nil {
		// Application data the server sent after its Finished waits for
		// the established association, which checks it for replay: pion
		// would take it during the handshake unseen.
		if appData && len(s.pending) < maxPending {
			s.pending = append(s.pending, append([]byte(nil), ud...))
			s.mu.Unlock()
			s.log.Debug("application record held until the handshake completes", "size", len(ud))
			return
		}
		pc := s.hs
		s.mu.Unlock()
		pc.Deliver(ud)
		return
	}
	l, idle := s.cur, s.opening == nil
	if l == nil && !idle {
		// A restore (or the start of a handshake) is in progress.
		if len(s.pending) < maxPending {
			s.pending = append(s.pending, append([]byte(nil), ud...))
			s.mu.Unlock()
			s.log.Debug("SMS held until the DTLS session is restored", "size", len(ud))
			return
		}
		s.mu.Unlock()
		s.stats.unauthenticated.Add(1)
		s.log.Debug("SMS dropped: too many held during the restore", "size", len(ud))
		return
	}
	s.mu.Unlock()
	if l == nil {
		l = s.restoreForDelivery()
	}
	recs, err := splitRecords(ud)
	if err != nil {
		s.stats.unauthenticated.Add(1)
		s.log.Debug("SMS dropped: not DTLS records", "size", len(ud))
		return
	}
	if l == nil {
		s.stats.unauthenticated.Add(1)
		if asksHandshake(recs, nil) {
			s.log.Debug("SMS from the server without a DTLS session: handshake", "size", len(ud))
			s.maybeRehandshake(nil)
			return
		}
		s.log.Debug("SMS dropped: no DTLS session", "size", len(ud))
		return
	}
	if asksHandshake(recs, l.verify) {
		s.stats.unauthenticated.Add(1)
		s.log.Debug("SMS dropped: record not authenticated by the session", "size", len(ud))
		s.maybeRehandshake(l)
		return
	}
	for _, r := range recs {
		if !l.verify.authentic(r) {
			s.stats.unauthenticated.Add(1)
			s.log.Debug("SMS dropped: record not authenticated by the session", "size", len(ud))
			return
		}
	}
	fresh := l.fresh(recs)
	if len(fresh) == 0 {
		s.stats.replayed.Add(1)
		s.log.Debug("SMS dropped: replayed record", "size", len(ud), "seq", recs[0].seq)
		return
	}
	var top uint64
	for _, r := range fresh {
		top = max(top, r.seq)
	}
	l.noteReceived(top)
	l.pc.Deliver(ud)
}

// isAppData reports whether the datagram holds only protected application
// data records (epoch ≥ 1).
func isAppData(ud []byte) bool {
	recs, err := splitRecords(ud)
	if err != nil || len(recs) == 0 {
		return false
	}
	for _, r := range recs {
		if r.contentType != protocol.ContentTypeApplicationData || r.epoch == 0 {
			return false
		}
	}
	return true
}

// asksHandshake reports whether recs hold a record that the association of
// v (nil: none) cannot authenticate and that asks for a handshake: a
// HelloRequest, or any epoch-1 record (the server holds keys the client
// does not).
func asksHandshake(recs []record, v *verifier) bool {
	for _, r := range recs {
		if v != nil && v.authentic(r) {
			continue
		}
		if r.epoch >= 1 || (r.hasHandshake && r.hsType == handshake.TypeHelloRequest) {
			return true
		}
	}
	return false
}

// restoreForDelivery restores the stored association for an SMS that arrived
// before anything opened the session. It never handshakes.
func (s *Session) restoreForDelivery() *link {
	s.mu.Lock()
	if s.closed || s.cur != nil || s.opening != nil || s.hs != nil {
		l := s.cur
		s.mu.Unlock()
		return l
	}
	ch := make(chan struct{})
	s.opening = ch
	s.mu.Unlock()
	l, err := s.restore()
	if err != nil {
		s.log.Warn("stored DTLS session not restored", "err", err)
	}
	s.finishOpen(ch, l, nil) // waiters retry and handshake themselves
	return l
}

// maybeRehandshake replaces the association old (nil: there is none) by a
// new handshake that a server record asked for, unless a handshake (any)
// started less than RehandshakeInterval ago (anyone can put the
// server's number on an SMS: this bounds what forged records cost). The
// handshake runs in the background; Write and Read wait for it.
func (s *Session) maybeRehandshake(old *link) {
	s.mu.Lock()
	if s.closed || s.cur != old || s.opening != nil {
		s.mu.Unlock()
		return
	}
	if since := time.Since(s.lastHandshake); !s.lastHandshake.IsZero() && since < s.cfg.RehandshakeInterval {
		s.mu.Unlock()
		s.stats.suppressed.Add(1)
		s.log.Debug("re-handshake suppressed", "since_last", since, "interval", s.cfg.RehandshakeInterval)
		return
	}
	s.lastHandshake = time.Now()
	s.cur = nil
	ch := make(chan struct{})
	s.opening = ch
	s.handshaking = true
	s.wg.Add(1)
	s.mu.Unlock()
	if old != nil {
		old.close()
		s.log.Info("records the session cannot authenticate: new DTLS handshake")
	} else {
		s.log.Info("the server asks for a DTLS session: handshake")
	}
	go func() {
		defer s.wg.Done()
		l, err := s.handshake(s.ctx)
		s.finishOpen(ch, l, err)
	}()
}

// Write sends p as one application-data record in one SMS, establishing the
// association first if needed. If the server has closed the association
// (close_notify or a fatal alert), a new one is established and p sent on it.
func (s *Session) Write(ctx context.Context, p []byte) error {
	if len(p) > MaxPlaintext {
		return fmt.Errorf("smsdtls: write %d octets to %s: %w", len(p), s.cfg.Number, ErrRecordTooLarge)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		l, err := s.get(ctx)
		if err != nil {
			return err
		}
		dl, _ := ctx.Deadline()
		_ = l.conn.SetWriteDeadline(dl)
		stop := context.AfterFunc(ctx, func() { _ = l.conn.SetWriteDeadline(time.Unix(1, 0)) })
		_, err = l.conn.Write(p)
		stop()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, dtls.ErrConnClosed) && attempt == 0:
			s.dropLink(l)
			continue
		}
		return fmt.Errorf("smsdtls: write to %s: %w", s.cfg.Number, err)
	}
}

// ErrPeerClosed is returned by Read when the server ended the association
// (close_notify or a fatal alert). The stored snapshot is deleted; the next
// Open, Write or Read runs a new handshake.
var ErrPeerClosed = errors.New("smsdtls: DTLS session closed by the server")

// Read returns the next application-data record from the server. It follows
// the session across re-handshakes.
func (s *Session) Read(ctx context.Context, b []byte) (int, error) {
	for {
		l, err := s.get(ctx)
		if err != nil {
			return 0, err
		}
		dl, _ := ctx.Deadline()
		_ = l.conn.SetReadDeadline(dl)
		stop := context.AfterFunc(ctx, func() { _ = l.conn.SetReadDeadline(time.Unix(1, 0)) })
		n, err := l.conn.Read(b)
		stop()
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		s.mu.Lock()
		replaced, closed := s.cur != l, s.closed
		s.mu.Unlock()
		switch {
		case closed:
			return 0, ErrClosed
		case replaced:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, dtls.ErrConnClosed):
			s.dropLink(l)
			return 0, ErrPeerClosed
		}
		return 0, fmt.Errorf("smsdtls: read from %s: %w", s.cfg.Number, err)
	}
}

// dropLink forgets an association the server has closed, and its snapshot.
func (s *Session) dropLink(l *link) {
	s.mu.Lock()
	if s.cur != l {
		s.mu.Unlock()
		return
	}
	s.cur = nil
	s.mu.Unlock()
	l.close()
	if err := s.client.store.Save(s.cfg.Number, nil); err != nil {
		s.log.Warn("snapshot of the closed DTLS session not deleted", "err", err)
	}
	s.log.Info("DTLS session closed by the server")
}

// Close ends the session without telling the server: no close_notify is
// sent and the stored snapshot stays valid, so the next process restores it
// without a handshake. Close is idempotent and waits for background work.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	l := s.cur
	s.cur = nil
	opening := s.opening
	s.mu.Unlock()
	s.cancel() // ends handshakes in progress
	if l != nil {
		l.close()
	}
	if opening != nil {
		<-opening
	}
	s.wg.Wait()
	s.client.release(s)
	return nil
}

// State returns where the association stands.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return StateClosed
	case s.cur != nil:
		return StateEstablished
	case s.opening != nil && s.handshaking:
		return StateHandshaking
	case s.opening != nil:
		return StateRestoring
	case s.openErr != nil:
		return StateFailed
	}
	return StateIdle
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	return Stats{
		Handshakes:             s.stats.handshakes.Load(),
		HandshakeFailures:      s.stats.handshakeFailures.Load(),
		Restores:               s.stats.restores.Load(),
		SnapshotsRefused:       s.stats.refused.Load(),
		Unauthenticated:        s.stats.unauthenticated.Load(),
		Replayed:               s.stats.replayed.Load(),
		RehandshakesSuppressed: s.stats.suppressed.Load(),
		SMSSent:                s.pstats.sent.Load(),
		SendFailures:           s.pstats.sendFailed.Load(),
		Oversize:               s.pstats.oversize.Load(),
	}
}
