package smsbind

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// Delivery tracking: every SMS the binding sends with TP-SRR (modes 1 and 3,
// Config.RequestStatusReports) is remembered by its TP-MR and recipient
// until the SMS-STATUS-REPORT that closes it arrives (TS 23.040 §9.2.2.3,
// matched by TP-MR and TP-RA) or it expires. A status report only says what
// the service centre did with the SMS: it never reaches DTLS and is never
// taken for an acknowledgement (LwM2M-TS 1.0 §7.2.2.1.5).

// Project defaults of delivery tracking (PROJECT DEFAULT: not from a
// standard).
const (
	// DefaultDeliveryReportTimeout is how long a sent SMS waits for its
	// final status report before it counts as pending-expired. An SC sends
	// one at the latest when the SMS's validity period ends (at most 5 min
	// for what this package sends: smsdtls.DefaultRecordValidity,
	// DefaultNoSecValidity); the rest covers a modem that was unreachable.
	DefaultDeliveryReportTimeout = time.Hour
	// deliveryTrackCap bounds the SMS remembered: TP-MR has 256 values
	// (TS 23.040 §9.2.3.6), so with more outstanding a report could not be
	// matched to one SMS anyway. The oldest is forgotten first.
	deliveryTrackCap = 256
)

// MRSubmitter is a Submitter that also returns the TP-MR the modem gave the
// SMS (+CMGS: <mr>, TS 27.005 §3.5.1). Delivery tracking needs it; with a
// plain Submitter status reports are counted as unmatched.
type MRSubmitter interface {
	Submitter
	SubmitSMSMR(ctx context.Context, tpdu []byte) (mr int, err error)
}

// SubmitMRFunc adapts a function like the modem driver's SendSMS to
// MRSubmitter.
type SubmitMRFunc func(ctx context.Context, tpdu []byte) (mr int, err error)

// SubmitSMS calls f and drops the TP-MR.
func (f SubmitMRFunc) SubmitSMS(ctx context.Context, tpdu []byte) error {
	_, err := f(ctx, tpdu)
	return err
}

// SubmitSMSMR calls f.
func (f SubmitMRFunc) SubmitSMSMR(ctx context.Context, tpdu []byte) (int, error) { return f(ctx, tpdu) }

var _ MRSubmitter = SubmitMRFunc(nil)

// DeliveryCounters count what status reports said about the SMS the binding
// sent. All fields but Pending only grow.
type DeliveryCounters struct {
	Tracked uint64 `json:"tracked"` // SMS sent with a status report requested and a known TP-MR
	// Delivered: final report "completed" (TS 23.040 §9.2.3.15 0x00–0x1F:
	// received by the recipient, forwarded, or replaced).
	Delivered uint64 `json:"delivered"`
	// Failed: final report of a permanent error, or of a temporary error
	// after which the SC stopped trying (0x40–0xFF).
	Failed uint64 `json:"failed"`
	// Temporary: intermediate reports, the SC still trying (0x20–0x3F);
	// the SMS stays pending.
	Temporary uint64 `json:"temporary"`
	// PendingExpired: SMS whose final report did not come within the
	// report timeout, or forgotten to keep the table bounded.
	PendingExpired uint64 `json:"pending_expired"`
	// Unmatched: reports for no SMS the binding remembers (expired, sent
	// by something else such as the SIM, or a plain Submitter).
	Unmatched uint64 `json:"unmatched"`
	// Pending is how many SMS wait for their final report now.
	Pending uint64 `json:"pending"`
}

// tracked is one SMS waiting for its final status report.
type tracked struct {
	mr   byte
	srv  *server
	sent time.Time
	el   *list.Element // in tracker.order
}

// tracker is the delivery tracking table. HandleSMS (reports) and the
// engine's writes (adds) use it concurrently.
type tracker struct {
	clock   Clock         // non-nil, immutable
	timeout time.Duration // immutable
	cc      string        // immutable: country code for national-format TP-RA
	log     *slog.Logger  // non-nil, immutable

	mu    sync.Mutex
	byMR  map[byte][]*tracked // guarded by mu: outstanding SMS by TP-MR
	order *list.List          // guarded by mu: of *tracked, oldest first
	// inflight counts submits with TP-SRR whose TP-MR is not known yet; a
	// report that matches nothing meanwhile may be for one of them (a fast
	// service centre answers before the modem's +CMGS reaches us) and
	// waits in early until they end.
	inflight int                  // guarded by mu
	early    []atpdu.StatusReport // guarded by mu: at most maxEarlyReports

	tracked, delivered, failed, temporary, expired, unmatched atomic.Uint64
}

// maxEarlyReports bounds the reports held while submits are in flight.
const maxEarlyReports = 16

func newTracker(clock Clock, timeout time.Duration, countryCode string, log *slog.Logger) *tracker {
	return &tracker{clock: clock, timeout: timeout, cc: countryCode, log: log, byMR: map[byte][]*tracked{}, order: list.New()}
}

// begin announces a submit with TP-SRR; end must follow.
func (t *tracker) begin() {
	t.mu.Lock()
	t.inflight++
	t.mu.Unlock()
}

// end finishes a submit announced by begin: when sent, the SMS to s with
// TP-MR mr is remembered (an older SMS to the same server with the same
// TP-MR is forgotten and counted expired: a report could not tell them
// apart), and reports that came early are matched again.
func (t *tracker) end(mr byte, s *server, sent bool) {
	t.mu.Lock()
	t.inflight--
	now := t.clock.Now()
	t.expireLocked(now)
	if sent {
		for _, e := range t.byMR[mr] {
			if e.srv == s {
				t.forgetLocked(e)
				t.expired.Add(1)
				break
			}
		}
		if t.order.Len() >= deliveryTrackCap {
			e := t.order.Front().Value.(*tracked)
			t.forgetLocked(e)
			t.expired.Add(1)
			t.log.Debug("delivery tracking full: oldest SMS forgotten", "mr", e.mr, "server_id", e.srv.cfg.ID)
		}
		e := &tracked{mr: mr, srv: s, sent: now}
		e.el = t.order.PushBack(e)
		t.byMR[mr] = append(t.byMR[mr], e)
		t.tracked.Add(1)
	}
	var outcomes []outcome
	keep := t.early[:0]
	for _, r := range t.early {
		if o, ok := t.matchLocked(r, now); ok {
			outcomes = append(outcomes, o)
		} else if t.inflight > 0 {
			keep = append(keep, r)
		} else {
			t.unmatchedLocked(r)
		}
	}
	clear(t.early[len(keep):])
	t.early = keep
	t.mu.Unlock()
	for _, o := range outcomes {
		t.count(o)
	}
}

// outcome is one report matched to its SMS.
type outcome struct {
	e     *tracked
	r     atpdu.StatusReport
	after time.Duration // since the SMS was sent
}

// report matches one status report to a sent SMS by TP-MR and TP-RA
// (compared as MSISDNs with the country code) and counts what it says.
func (t *tracker) report(r atpdu.StatusReport) {
	t.mu.Lock()
	now := t.clock.Now()
	t.expireLocked(now)
	o, ok := t.matchLocked(r, now)
	switch {
	case ok:
	case t.inflight > 0 && len(t.early) < maxEarlyReports:
		t.early = append(t.early, r)
	default:
		t.unmatchedLocked(r)
	}
	t.mu.Unlock()
	if ok {
		t.count(o)
	}
}

// matchLocked finds the SMS r reports on; a final report forgets it. Needs mu.
func (t *tracker) matchLocked(r atpdu.StatusReport, now time.Time) (outcome, bool) {
	for _, e := range t.byMR[r.MR] {
		if r.RA.SameMSISDN(e.srv.cfg.Number, t.cc) {
			if !r.ST.Pending() {
				t.forgetLocked(e)
			}
			return outcome{e: e, r: r, after: now.Sub(e.sent)}, true
		}
	}
	return outcome{}, false
}

func (t *tracker) unmatchedLocked(r atpdu.StatusReport) {
	t.unmatched.Add(1)
	t.log.Debug("status report for no SMS awaiting one", "mr", r.MR, "recipient", r.RA.String(), "status", r.ST.String())
}

// count counts and logs what a matched report says (TS 23.040 §9.2.3.15).
func (t *tracker) count(o outcome) {
	log := o.e.srv.log.With("mr", o.r.MR, "status", o.r.ST.String(), "st", int(o.r.ST))
	switch {
	case o.r.ST.Completed():
		t.delivered.Add(1)
		log.Debug("SMS delivered", "after", o.after)
	case o.r.ST.Pending():
		t.temporary.Add(1)
		log.Info("SMS not delivered yet, the service centre keeps trying", "after", o.after)
	default:
		t.failed.Add(1)
		log.Warn("SMS not delivered: the service centre gave up", "after", o.after)
	}
}

// expireLocked forgets SMS older than the timeout. Needs mu.
func (t *tracker) expireLocked(now time.Time) {
	for f := t.order.Front(); f != nil; f = t.order.Front() {
		e := f.Value.(*tracked)
		if now.Sub(e.sent) < t.timeout {
			return
		}
		t.forgetLocked(e)
		t.expired.Add(1)
		e.srv.log.Info("no final status report for an SMS", "mr", e.mr, "waited", t.timeout)
	}
}

// forgetLocked removes e from the table. Needs mu.
func (t *tracker) forgetLocked(e *tracked) {
	t.order.Remove(e.el)
	same := t.byMR[e.mr]
	for i, c := range same {
		if c == e {
			same = append(same[:i], same[i+1:]...)
			break
		}
	}
	if len(same) == 0 {
		delete(t.byMR, e.mr)
	} else {
		t.byMR[e.mr] = same
	}
}

// snapshot returns the counters, expiring what is due first.
func (t *tracker) snapshot() DeliveryCounters {
	t.mu.Lock()
	t.expireLocked(t.clock.Now())
	pending := t.order.Len()
	t.mu.Unlock()
	return DeliveryCounters{
		Tracked: t.tracked.Load(), Delivered: t.delivered.Load(), Failed: t.failed.Load(),
		Temporary: t.temporary.Load(), PendingExpired: t.expired.Load(), Unmatched: t.unmatched.Load(),
		Pending: uint64(pending),
	}
}
