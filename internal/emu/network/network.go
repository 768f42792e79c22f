package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// Endpoint is a subscriber the network delivers to: the emulated modem,
// an emulated server. An error means "not now": the network keeps the SMS
// and retries (TS 24.011 RP-ERROR, store and forward).
type Endpoint interface {
	Deliver(ctx context.Context, tpdu []byte) error
	DeliverStatusReport(ctx context.Context, tpdu []byte) error
}

// Clock is the network's time source (delivery delays and retries).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Faults are the network's injectable misbehaviours. The zero value is a
// perfect network.
type Faults struct {
	// Loss is the probability (0–1) that an SMS silently vanishes.
	Loss float64 `json:"loss"`
	// Duplication is the probability that an SMS is delivered twice.
	Duplication float64 `json:"duplication"`
	// Delay is added to every delivery.
	Delay Duration `json:"delay"`
	// Jitter adds a uniform random extra delay in [0, Jitter): SMS sent
	// closer together than Jitter may arrive reordered. Without jitter
	// the network keeps the order in which SMS to one number were sent
	// (first delivery attempts; a retry after a refusal may overtake).
	Jitter Duration `json:"jitter"`
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// MarshalText writes "1.5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "1.5s", "200ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Config configures a Network. Zero values are defaults.
type Config struct {
	// SMSC is the service centre address (reported in logs only).
	SMSC string
	// RetryInterval is the wait before re-delivering to an endpoint that
	// refused (default 2 s).
	RetryInterval time.Duration
	// MaxAttempts bounds deliveries of one SMS (default 10); then the
	// originator gets a failed status report if it asked for one.
	MaxAttempts int
	Clock       Clock
	Log         *slog.Logger
	// Seed makes loss/duplication/jitter reproducible (0: random).
	Seed uint64
}

// Sent is one SMS a subscriber submitted.
type Sent struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	PDU  []byte    `json:"pdu"` // the SMS-SUBMIT TPDU (JSON: base64; the control API writes hex)
	Time time.Time `json:"time"`
}

// Network routes SMS between numbers.
type Network struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // ended by Close; deliveries run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // delivery and bridge goroutines

	mu        sync.Mutex
	endpoints map[string]Endpoint      // guarded by mu: by number
	bridges   map[string]*bridge       // guarded by mu: by number
	faults    Faults                   // guarded by mu
	sent      []Sent                   // guarded by mu
	order     map[string]chan struct{} // guarded by mu: by number, closed when the last SMS queued to it had its first delivery attempt
	rnd       *rand.Rand               // guarded by mu
}

// New returns a running network; Close stops it.
func New(cfg Config) *Network {
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 2 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Network{
		cfg: cfg, log: cfg.Log.With("component", "emu_network"),
		ctx: ctx, cancel: cancel,
		endpoints: map[string]Endpoint{},
		bridges:   map[string]*bridge{},
		order:     map[string]chan struct{}{},
		rnd:       rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)),
	}
}

// Close stops deliveries and bridges and waits for their goroutines.
func (n *Network) Close() error {
	n.cancel()
	n.mu.Lock()
	for _, b := range n.bridges {
		b.conn.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
	return nil
}

// Attach makes number reachable at ep.
func (n *Network) Attach(number string, ep Endpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.endpoints[number] = ep
}

// SetFaults replaces the faults.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f
}

// Faults returns the current faults.
func (n *Network) Faults() Faults {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults
}

// Sent lists the SMS submitted so far, oldest first.
func (n *Network) Sent() []Sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Sent(nil), n.sent...)
}

// lookup finds the endpoint or bridge of a number, comparing as MSISDNs. A
// bridge wins over an endpoint of the same number: bridging a number is an
// explicit override (a test replaces an emulated server by a real one).
func (n *Network) lookup(number string) (Endpoint, *bridge) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, b := range n.bridges {
		if atpdu.SameMSISDN(k, number, "") {
			return nil, b
		}
	}
	for k, ep := range n.endpoints {
		if atpdu.SameMSISDN(k, number, "") {
			return ep, nil
		}
	}
	return nil, nil
}

// ErrUnknownNumber: no subscriber or bridge has that number.
var ErrUnknownNumber = errors.New("emulated network: unknown number")

// Submit takes an SMS-SUBMIT from subscriber from (TS 23.040 §9.2.2.2),
// turns it into an SMS-DELIVER for its TP-DA (§9.2.2.1: TP-OA = from,
// same PID, DCS, UDH, UD; TP-SRI = TP-SRR) and delivers it with the
// faults. With TP-SRR, the originator gets an SMS-STATUS-REPORT (§9.2.2.3)
// with TP-MR once it was delivered or given up.
func (n *Network) Submit(ctx context.Context, from string, tpdu []byte) error {
	s, err := atpdu.DecodeSubmit(tpdu)
	if err != nil {
		return fmt.Errorf("emulated network: submit from %s: %w", from, err)
	}
	to := s.DA.String()
	now := n.cfg.Clock.Now()
	n.mu.Lock()
	n.sent = append(n.sent, Sent{From: from, To: to, PDU: append([]byte(nil), tpdu...), Time: now})
	n.mu.Unlock()
	ep, br := n.lookup(to)
	if ep == nil && br == nil {
		n.log.Info("SMS to an unknown number dropped", "from", from, "to", to)
		if s.SRR {
			n.report(from, s.MR, s.DA, now, 0x43) // TS 23.040 §9.2.3.15: not obtainable
		}
		return nil
	}
	if br != nil {
		n.toBridge(br, from, s, now)
		return nil
	}
	oa, err := atpdu.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("emulated network: sender %q: %w", from, err)
	}
	d := atpdu.Deliver{OA: oa, PID: s.PID, DCS: s.DCS, UDH: s.UDH, UD: s.UD, SRI: s.SRR, MMS: true}
	var onDone func(bool)
	if s.SRR {
		onDone = func(ok bool) {
			st := byte(atpdu.StatusDelivered)
			if !ok {
				st = 0x46 // TS 23.040 §9.2.3.15: validity period expired
			}
			n.report(from, s.MR, s.DA, n.cfg.Clock.Now(), st)
		}
	}
	return n.deliver(to, ep, d, onDone)
}

// SendFrom delivers an SMS-DELIVER from an outside number (an emulated
// server, the control API) to subscriber to. TP-OA is set to from and
// TP-SCTS to now.
func (n *Network) SendFrom(from, to string, d atpdu.Deliver) error {
	oa, err := atpdu.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("emulated network: sender %q: %w", from, err)
	}
	d.OA = oa
	ep, _ := n.lookup(to)
	if ep == nil {
		return fmt.Errorf("emulated network: deliver to %s: %w", to, ErrUnknownNumber)
	}
	return n.deliver(to, ep, d, nil)
}

// deliver applies the faults and hands d to ep in the background,
// retrying refusals. onDone (may be nil) learns the final outcome.
func (n *Network) deliver(to string, ep Endpoint, d atpdu.Deliver, onDone func(ok bool)) error {
	ts, err := atpdu.TimestampOf(n.cfg.Clock.Now())
	if err != nil {
		return err
	}
	d.SCTS = ts
	tpdu, err := d.Append(nil)
	if err != nil {
		return fmt.Errorf("emulated network: build SMS-DELIVER: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.faults
	lost := n.rnd.Float64() < f.Loss
	copies := 1
	if n.rnd.Float64() < f.Duplication {
		copies = 2
	}
	delays := make([]time.Duration, copies)
	for i := range delays {
		delays[i] = time.Duration(f.Delay)
		if f.Jitter > 0 {
			delays[i] += time.Duration(n.rnd.Int64N(int64(f.Jitter)))
		}
	}
	if lost {
		n.log.Info("SMS lost (fault)", "to", to)
		return nil
	}
	for i := range copies {
		n.wg.Add(1)
		done := onDone
		if i > 0 {
			done = nil // one report per submitted SMS
		}
		var prev chan struct{}
		attempted := make(chan struct{})
		if f.Jitter == 0 {
			prev = n.order[to]
			n.order[to] = attempted
		}
		go n.run(to, ep, tpdu, delays[i], prev, attempted, done)
	}
	return nil
}

// run is one delivery goroutine: wait, deliver, retry, report. Its first
// attempt waits until prev (nil: none) is closed, and closes attempted once
// made (or abandoned), so that SMS to one number keep their order.
func (n *Network) run(to string, ep Endpoint, tpdu []byte, delay time.Duration, prev, attempted chan struct{}, onDone func(bool)) {
	defer n.wg.Done()
	first := true
	defer func() {
		if first {
			close(attempted)
		}
	}()
	if !n.wait(delay) {
		return
	}
	if prev != nil {
		select {
		case <-prev:
		case <-n.ctx.Done():
			return
		}
	}
	for attempt := 1; attempt <= n.cfg.MaxAttempts; attempt++ {
		err := ep.Deliver(n.ctx, tpdu)
		if first {
			first = false
			close(attempted)
		}
		if err == nil {
			if onDone != nil {
				onDone(true)
			}
			return
		}
		if n.ctx.Err() != nil {
			return
		}
		n.log.Info("delivery refused, will retry", "to", to, "attempt", attempt, "err", err)
		if !n.wait(n.cfg.RetryInterval) {
			return
		}
	}
	n.log.Warn("delivery given up", "to", to)
	if onDone != nil {
		onDone(false)
	}
}

func (n *Network) wait(d time.Duration) bool {
	if d <= 0 {
		return n.ctx.Err() == nil
	}
	select {
	case <-n.cfg.Clock.After(d):
		return true
	case <-n.ctx.Done():
		return false
	}
}

// report sends an SMS-STATUS-REPORT about TP-MR mr to subscriber to.
func (n *Network) report(to string, mr byte, ra atpdu.Address, submitted time.Time, st byte) {
	ep, _ := n.lookup(to)
	if ep == nil {
		return
	}
	scts, err1 := atpdu.TimestampOf(submitted)
	dt, err2 := atpdu.TimestampOf(n.cfg.Clock.Now())
	if err1 != nil || err2 != nil {
		return
	}
	tpdu, err := atpdu.StatusReport{MR: mr, RA: ra, SCTS: scts, DT: dt, ST: atpdu.Status(st), MMS: true}.Append(nil)
	if err != nil {
		n.log.Warn("build status report", "err", err)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for attempt := 1; attempt <= n.cfg.MaxAttempts; attempt++ {
			if err := ep.DeliverStatusReport(n.ctx, tpdu); err == nil || n.ctx.Err() != nil {
				return
			}
			if !n.wait(n.cfg.RetryInterval) {
				return
			}
		}
	}()
}

// BridgeStats counts what one UDP bridge carried. Every SMS maps to exactly
// one datagram and every datagram to exactly one SMS: no concatenation, no
// splitting.
type BridgeStats struct {
	ToPeer         int `json:"to_peer"`          // SMS sent on as datagrams
	FromPeer       int `json:"from_peer"`        // datagrams handed to the network as SMS (the Loss fault may still drop them)
	OctetsToPeer   int `json:"octets_to_peer"`   // user data octets of ToPeer
	OctetsFromPeer int `json:"octets_from_peer"` // user data octets of FromPeer
	LargestToPeer  int `json:"largest_to_peer"`  // octets of the largest SMS sent on
	// LargestFromPeer is the largest datagram that arrived from the peer,
	// including those dropped as oversize.
	LargestFromPeer int `json:"largest_from_peer"`
	// DroppedOversize: datagrams over 140 octets (TS 23.040 §9.2.3.24) not
	// delivered; DroppedIncompatible: SMS whose user data is no datagram
	// (not 8-bit, compressed, or with a header) not sent on.
	DroppedOversize     int `json:"dropped_oversize"`
	DroppedIncompatible int `json:"dropped_incompatible"`
	DroppedLoss         int `json:"dropped_loss"` // SMS to the peer lost to the Loss fault
	SendErrors          int `json:"send_errors"`  // datagrams the socket refused
}

// bridge carries SMS to and from one number over UDP.
type bridge struct {
	number string
	conn   *net.UDPConn // connected to the peer
	log    *slog.Logger

	mu    sync.Mutex
	stats BridgeStats // guarded by mu
}

func (b *bridge) count(f func(*BridgeStats)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}

// toBridge sends the user data of an SMS-SUBMIT as one datagram to the
// bridge's peer, with the faults' loss (delay and jitter apply to the way
// back, through deliver). Only an SMS whose user data is a datagram goes:
// 8-bit data (TS 23.038 §4), uncompressed, without a user data header (a
// concatenated SMS would have to be reassembled, which LwM2M-TS 1.0
// §7.2.2.1.2 forbids anyway). The originator's status report says what
// happened (TS 23.040 §9.2.3.15).
func (n *Network) toBridge(b *bridge, from string, s atpdu.Submit, submitted time.Time) {
	status := atpdu.StatusDelivered
	switch {
	case s.DCS.Coding() != atpdu.Coding8Bit || s.DCS.Compressed() || s.UDHI || len(s.UDH) > 0:
		b.count(func(st *BridgeStats) { st.DroppedIncompatible++ })
		b.log.Info("SMS not carried over the UDP bridge: not 8-bit data without header",
			"to", b.number, "dcs", byte(s.DCS), "udh", len(s.UDH) > 0)
		status = atpdu.StatusIncompatibleDest
	default:
		n.mu.Lock()
		lost := n.rnd.Float64() < n.faults.Loss
		n.mu.Unlock()
		if lost {
			// The network accepted it; a lost SMS gets no report, like
			// one lost between the SMSC and the handset.
			b.count(func(st *BridgeStats) { st.DroppedLoss++ })
			b.log.Info("SMS lost (fault)", "to", b.number)
			return
		}
		if _, err := b.conn.Write(s.UD); err != nil {
			b.count(func(st *BridgeStats) { st.SendErrors++ })
			b.log.Warn("UDP bridge send", "to", b.number, "err", err)
			status = atpdu.StatusNotObtainable
			break
		}
		b.count(func(st *BridgeStats) {
			st.ToPeer++
			st.OctetsToPeer += len(s.UD)
			st.LargestToPeer = max(st.LargestToPeer, len(s.UD))
		})
	}
	if s.SRR {
		n.report(from, s.MR, s.DA, submitted, byte(status))
	}
}

// AllBridgeStats returns the counters of every bridge by its number.
func (n *Network) AllBridgeStats() map[string]BridgeStats {
	n.mu.Lock()
	bs := make(map[string]*bridge, len(n.bridges))
	for k, b := range n.bridges {
		bs[k] = b
	}
	n.mu.Unlock()
	out := make(map[string]BridgeStats, len(bs))
	for k, b := range bs {
		b.mu.Lock()
		out[k] = b.stats
		b.mu.Unlock()
	}
	return out
}

// BridgeStats returns the counters of the bridge of number; false if there
// is none.
func (n *Network) BridgeStats(number string) (BridgeStats, bool) {
	_, b := n.lookup(number)
	if b == nil {
		return BridgeStats{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats, true
}

// Bridge makes number a UDP peer: SMS sent to number leave as datagrams
// (their user data) to peer, and each datagram from peer arrives at
// subscriber to as an 8-bit SMS (DCS 0x04, PID 0x00) from number. It
// returns the local UDP address.
func (n *Network) Bridge(number string, peer *net.UDPAddr, to string) (*net.UDPAddr, error) {
	conn, err := net.DialUDP("udp", nil, peer)
	if err != nil {
		return nil, fmt.Errorf("emulated network: bridge %s: %w", number, err)
	}
	b := &bridge{number: number, conn: conn, log: n.log}
	n.mu.Lock()
	if old := n.bridges[number]; old != nil {
		old.conn.Close()
	}
	n.bridges[number] = b
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		buf := make([]byte, 2048)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				if n.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					n.log.Warn("UDP bridge read", "number", number, "err", err)
					continue
				}
				return
			}
			b.count(func(st *BridgeStats) { st.LargestFromPeer = max(st.LargestFromPeer, k) })
			if k > atpdu.MaxUDOctets {
				b.count(func(st *BridgeStats) { st.DroppedOversize++ })
				n.log.Warn("datagram larger than one SMS dropped", "number", number, "size", k)
				continue
			}
			// One datagram, one 8-bit SMS without class (DCS 0x04) and PID
			// 0x00: what a server sends in SMS security modes 1 and 3.
			d := atpdu.Deliver{DCS: 0x04, UD: append([]byte(nil), buf[:k]...), MMS: true}
			if err := n.SendFrom(number, to, d); err != nil {
				n.log.Warn("UDP bridge deliver", "number", number, "err", err)
				continue
			}
			b.count(func(st *BridgeStats) { st.FromPeer++; st.OctetsFromPeer += k })
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr), nil
}
