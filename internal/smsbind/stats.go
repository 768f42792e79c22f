package smsbind

import "sync/atomic"

// Counters count what happened to SMS of one security mode (or of all).
// All fields only grow.
type Counters struct {
	Received        uint64 `json:"received"`                // SMS-DELIVERs handed to HandleSMS
	Accepted        uint64 `json:"accepted"`                // CoAP messages queued for the engine
	DroppedSender   uint64 `json:"dropped_sender"`          // no server number matched TP-OA (or the data_rcv address)
	DroppedFormat   uint64 `json:"dropped_format"`          // wrong SMS form for the mode (not 8-bit, UDH, not class 2 + PID 0x7F, undecodable)
	DroppedBadlySec uint64 `json:"dropped_badly_protected"` // DTLS record not authenticated or replayed, secured packet refused by the SIM
	DroppedMalform  uint64 `json:"dropped_malformed"`       // not a well-formed CoAP message
	DroppedRate     uint64 `json:"dropped_rate_limit"`      // over the per-sender or global limit
	DroppedDup      uint64 `json:"dropped_duplicate"`       // exact duplicate of a recent TPDU
	DroppedQueue    uint64 `json:"dropped_queue_full"`      // the engine did not read fast enough
	Sent            uint64 `json:"sent"`                    // SMS submitted (modes 1, 3) or messages given to STORE DATA (mode 2)
	SendFailures    uint64 `json:"send_failures"`
	Oversize        uint64 `json:"oversize"` // outbound messages refused for their size
}

// Stats is a snapshot of the binding's counters: totals and per mode.
// DroppedSender and StatusReports have no mode (except NoSec debug
// acceptance) and appear in Total only.
type Stats struct {
	Total         Counters `json:"total"`
	DTLS          Counters `json:"dtls"`
	SecurePacket  Counters `json:"secure_packet"`
	NoSec         Counters `json:"nosec"`
	StatusReports uint64   `json:"status_reports"`
	// Delivery is what the status reports said (Config.RequestStatusReports).
	Delivery DeliveryCounters `json:"delivery"`
}

// counters is the live, atomic form of Counters.
type counters struct {
	received, accepted, sender, format, badly, malformed, rate, dup, queue, sent, sendFail, oversize atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Received: c.received.Load(), Accepted: c.accepted.Load(), DroppedSender: c.sender.Load(),
		DroppedFormat: c.format.Load(), DroppedBadlySec: c.badly.Load(), DroppedMalform: c.malformed.Load(),
		DroppedRate: c.rate.Load(), DroppedDup: c.dup.Load(), DroppedQueue: c.queue.Load(),
		Sent: c.sent.Load(), SendFailures: c.sendFail.Load(), Oversize: c.oversize.Load(),
	}
}

// stats holds the counters; mode 0 is "no mode yet" and counts into the
// total only.
type stats struct {
	total   counters
	byMode  [4]counters // index: Mode; 0 unused
	reports atomic.Uint64
}

// add increments one counter of mode m and of the total.
func (s *stats) add(m Mode, f func(*counters) *atomic.Uint64) {
	f(&s.total).Add(1)
	if m.valid() {
		f(&s.byMode[m]).Add(1)
	}
}

func (s *stats) snapshot() Stats {
	return Stats{
		Total: s.total.snapshot(), DTLS: s.byMode[ModeDTLS].snapshot(),
		SecurePacket: s.byMode[ModeSecurePacket].snapshot(), NoSec: s.byMode[ModeNoSec].snapshot(),
		StatusReports: s.reports.Load(),
	}
}

// Field selectors for stats.add.
func cAccepted(c *counters) *atomic.Uint64  { return &c.accepted }
func cSender(c *counters) *atomic.Uint64    { return &c.sender }
func cFormat(c *counters) *atomic.Uint64    { return &c.format }
func cBadly(c *counters) *atomic.Uint64     { return &c.badly }
func cMalformed(c *counters) *atomic.Uint64 { return &c.malformed }
func cRate(c *counters) *atomic.Uint64      { return &c.rate }
func cDup(c *counters) *atomic.Uint64       { return &c.dup }
func cQueue(c *counters) *atomic.Uint64     { return &c.queue }
func cSent(c *counters) *atomic.Uint64      { return &c.sent }
func cSendFail(c *counters) *atomic.Uint64  { return &c.sendFail }
func cOversize(c *counters) *atomic.Uint64  { return &c.oversize }
