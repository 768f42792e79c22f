package lwm2m

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// maxTrackedMIDs bounds the notification Message IDs remembered for RST
// matching (an RST answers within EXCHANGE_LIFETIME; 64 is plenty at
// pmin ≥ 1 s).
const maxTrackedMIDs = 64

// observation is one Observe relationship (RFC 7641) of one server.
type observation struct {
	token    message.Token
	req      Request // the Read it repeats (Path, Accept)
	seq      uint32  // last Observe sequence number sent
	lastSent time.Time
	lastBody []byte
	lastNum  *float64 // last value sent, for gt/lt/st on numeric resources
	dirty    bool     // a change was reported since lastSent
}

// sendLock is a mutex whose lock gives up when a context ends: over SMS one
// exchange can take minutes, and a shutdown or an Update must not wait
// behind it without bound.
type sendLock chan struct{}

func (l sendLock) lock(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the exchange in progress: %w", ctx.Err())
	}
}

func (l sendLock) unlock() { <-l }

// note is a notification waiting for the server to be reachable.
type note struct {
	token  message.Token
	seq    uint32
	format Format
	body   []byte
}

// observer owns the observations of one DM server and sends their
// notifications (LwM2M-TS 1.0 §5.5, lwm2m.md §8.4). Its run goroutine is the
// only sender; handlers add and cancel through the mutex.
type observer struct {
	e    *Engine
	ssid uint16
	kick chan struct{} // buffered(1): re-evaluate now
	// sendMu serialises the client's own exchanges on the connection
	// (Register/Update/De-register and notifications): NSTART = 1
	// (RFC 7252 §4.7), and it keeps the MID tagging exact.
	sendMu sendLock

	mu       sync.Mutex              // guards the fields below
	obs      map[string]*observation // by token
	mids     map[int32]string        // notification MID → token
	midOrder []int32                 // FIFO bounding mids
	conn     *udpclient.Conn         // nil while offline
	account  Account                 // defaults (pmin/pmax) and storing flag
	stored   []note                  // notifications kept while offline
	sent     func()                  // called after a notification went out
	timeout  time.Duration           // bounds one notification exchange (the connection's RequestTimeout)
	non      bool                    // NON notifications (SMS), with a CON every ConfirmableNotifyInterval
	lastCON  time.Time               // when the last CON notification was acknowledged
}

func newObserver(e *Engine, acc Account, sent func()) *observer {
	return &observer{
		e: e, ssid: acc.ShortID, account: acc, sent: sent,
		kick:   make(chan struct{}, 1),
		obs:    map[string]*observation{},
		mids:   map[int32]string{},
		sendMu: make(sendLock, 1),
	}
}

func (o *observer) poke() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// setOnline hands the observer the connection to notify on (nil: offline).
func (o *observer) setOnline(cc *udpclient.Conn, acc Account) {
	o.mu.Lock()
	o.conn, o.account = cc, acc
	o.mu.Unlock()
	o.poke()
}

// setTransport sets the bound of one notification exchange (the current
// connection's request timeout: SMS-sized on an SMS connection) and whether
// notifications go NON.
func (o *observer) setTransport(d time.Duration, non bool) {
	o.mu.Lock()
	o.timeout, o.non = d, non
	if non && o.lastCON.IsZero() {
		o.lastCON = o.e.clock.Now() // the first CON one interval from now
	}
	o.mu.Unlock()
}

// reset drops every observation and stored notification: a new Register
// starts a new registration, and the server observes again (§5.3.1).
func (o *observer) reset() {
	o.mu.Lock()
	n := len(o.obs)
	o.obs = map[string]*observation{}
	o.stored = nil
	o.mu.Unlock()
	if n > 0 {
		o.e.log.Info("observations dropped on new registration", "server_id", o.ssid, "count", n)
	}
}

// add starts (or restarts) an observation and returns the Observe value
// of the first response.
func (o *observer) add(_ *udpclient.Conn, token message.Token, req Request, resp Response) uint32 {
	now := o.e.clock.Now()
	ob := &observation{token: append(message.Token(nil), token...), req: req, lastSent: now, lastBody: resp.Payload}
	ob.lastNum = o.numeric(req)
	o.mu.Lock()
	o.obs[string(token)] = ob
	seq := ob.seq
	o.mu.Unlock()
	o.e.log.Info("observation started", "server_id", o.ssid, "path", req.Path.String(), "token", token.String())
	o.poke()
	return seq
}

func (o *observer) cancel(token message.Token, why string) {
	o.mu.Lock()
	ob, ok := o.obs[string(token)]
	delete(o.obs, string(token))
	o.mu.Unlock()
	if ok {
		o.e.log.Info("observation cancelled", "server_id", o.ssid, "path", ob.req.Path.String(), "token", token.String(), "by", why)
	}
}

// resetByMID cancels the observation whose notification the server
// answered with RST (RFC 7641 §3.6).
func (o *observer) resetByMID(mid int32) {
	o.mu.Lock()
	tok, ok := o.mids[mid]
	o.mu.Unlock()
	if ok {
		o.cancel(message.Token(tok), "rst")
	}
}

// count returns the number of active observations.
func (o *observer) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.obs)
}

// changed marks observations covering or below p as changed.
func (o *observer) changed(p Path) {
	hit := false
	o.mu.Lock()
	for _, ob := range o.obs {
		if ob.req.Path.Covers(p) || p.Covers(ob.req.Path) {
			ob.dirty, hit = true, true
		}
	}
	o.mu.Unlock()
	if hit {
		o.poke()
	}
}

// attrs returns the effective attributes of p: the most specific level that
// sets each one, then the Server object's defaults (LwM2M-TS 1.0 §5.1.2).
func (o *observer) attrs(p Path, acc Account) (pmin, pmax time.Duration, gt, lt, st *float64) {
	pmin, pmax = acc.DefaultPmin, acc.DefaultPmax
	var gotMin, gotMax bool
	for n := len(p); n >= 1; n-- {
		a := o.e.objs.Attributes(o.ssid, p[:n])
		if !gotMin && a.Pmin != nil {
			pmin, gotMin = *a.Pmin, true
		}
		if !gotMax && a.Pmax != nil {
			pmax, gotMax = *a.Pmax, true
		}
		if n == len(p) && len(p) == 3 {
			gt, lt, st = a.Gt, a.Lt, a.St
		}
	}
	return pmin, pmax, gt, lt, st
}

// numeric reads a single resource as plain text and parses it as a
// number; nil when it is not one (gt/lt/st then do not apply).
func (o *observer) numeric(req Request) *float64 {
	if len(req.Path) != 3 {
		return nil
	}
	r := o.e.serve(context.Background(), Request{ServerID: o.ssid, Op: OpRead, Path: req.Path, Format: FormatNone, Accept: FormatText})
	if r.Code != codes.Content {
		return nil
	}
	v, err := strconv.ParseFloat(string(r.Payload), 64)
	if err != nil {
		return nil
	}
	return &v
}

// run sends notifications until ctx ends.
func (o *observer) run(ctx context.Context) {
	for {
		wait := o.evaluate(ctx)
		var tc <-chan time.Time
		var t Timer
		if wait >= 0 {
			t = o.e.clock.NewTimer(wait)
			tc = t.C()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-o.kick:
		case <-tc:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// evaluate sends what is due and returns the time until the next check
// (-1: nothing scheduled).
func (o *observer) evaluate(ctx context.Context) time.Duration {
	now := o.e.clock.Now()
	o.mu.Lock()
	acc := o.account
	list := make([]*observation, 0, len(o.obs))
	for _, ob := range o.obs {
		list = append(list, ob)
	}
	o.mu.Unlock()
	next := time.Duration(-1)
	sooner := func(d time.Duration) {
		if d < 0 {
			d = 0
		}
		if next < 0 || d < next {
			next = d
		}
	}
	for _, ob := range list {
		pmin, pmax, gt, lt, st := o.attrs(ob.req.Path, acc)
		if pmax > 0 && pmax < pmin {
			pmax = pmin // §5.1.2: pmax is ignored when smaller than pmin
		}
		o.mu.Lock()
		dirty, last := ob.dirty, ob.lastSent
		o.mu.Unlock()
		since := now.Sub(last)
		maxDue := pmax > 0 && since >= pmax
		minOK := since >= pmin
		if maxDue || (dirty && minOK) {
			o.notify(ctx, ob, maxDue, gt, lt, st)
			o.mu.Lock()
			last = ob.lastSent
			o.mu.Unlock()
			since = o.e.clock.Now().Sub(last)
		}
		if pmax > 0 {
			sooner(pmax - since)
		}
		o.mu.Lock()
		dirty = ob.dirty
		o.mu.Unlock()
		if dirty {
			sooner(pmin - since)
		}
	}
	return next
}

// notify reads the observed node and sends (or stores) a notification when
// the attributes allow it.
func (o *observer) notify(ctx context.Context, ob *observation, maxDue bool, gt, lt, st *float64) {
	resp := o.e.serve(ctx, ob.req)
	if resp.Code != codes.Content {
		// The node went away (e.g. the instance was deleted): RFC 7641
		// §3.2 ends the observation with an error notification; we end it.
		o.cancel(ob.token, "read "+resp.Code.String())
		return
	}
	num := o.numeric(ob.req)
	o.mu.Lock()
	ob.dirty = false
	prevNum, prevBody := ob.lastNum, ob.lastBody
	o.mu.Unlock()
	if !maxDue {
		if bytes.Equal(prevBody, resp.Payload) {
			return
		}
		if num != nil && !thresholdsAllow(prevNum, *num, gt, lt, st) {
			return
		}
	}
	o.mu.Lock()
	ob.seq = (ob.seq + 1) & 0xFFFFFF // Observe is 24 bits, RFC 7641 §3.4
	n := note{token: ob.token, seq: ob.seq, format: resp.Format, body: resp.Payload}
	ob.lastSent, ob.lastBody, ob.lastNum = o.e.clock.Now(), resp.Payload, num
	cc := o.conn
	o.mu.Unlock()
	if cc == nil {
		o.store(n)
		return
	}
	if err := o.send(ctx, cc, n); err != nil {
		o.e.log.Warn("notification not delivered", "server_id", o.ssid, "path", ob.req.Path.String(), "err", err)
		o.store(n)
	}
}

// thresholdsAllow applies gt/lt (crossing) and st (step) of LwM2M-TS 1.0
// §5.1.2 to a numeric change.
func thresholdsAllow(prev *float64, cur float64, gt, lt, st *float64) bool {
	if gt == nil && lt == nil && st == nil {
		return true
	}
	if prev == nil {
		return true
	}
	if gt != nil && (*prev <= *gt) != (cur <= *gt) {
		return true
	}
	if lt != nil && (*prev < *lt) != (cur < *lt) {
		return true
	}
	if st != nil {
		d := cur - *prev
		if d < 0 {
			d = -d
		}
		if d >= *st {
			return true
		}
	}
	return false
}

// store keeps n for the next connection when the server's Notification
// Storing (Server resource 6) is on, read from the tree at this moment (a
// server may have written it since the registration).
func (o *observer) store(n note) {
	storing := true
	if accs, err := o.e.objs.Accounts(); err == nil {
		for _, a := range accs {
			if !a.Bootstrap && a.ShortID == o.ssid {
				storing = a.NotificationStoring
			}
		}
	}
	if !storing {
		o.e.log.Debug("notification dropped while offline (notification storing off)", "server_id", o.ssid)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.stored) >= MaxStoredNotifications {
		o.e.log.Warn("stored notifications full: dropping the oldest", "server_id", o.ssid)
		o.stored = o.stored[1:]
	}
	o.stored = append(o.stored, n)
}

// flush sends the notifications stored while offline, oldest first
// (LwM2M-TS 1.0 §5.5, Server resource 6), after an Update.
func (o *observer) flush(ctx context.Context) {
	o.mu.Lock()
	pending, cc := o.stored, o.conn
	o.stored = nil
	o.mu.Unlock()
	if cc == nil || len(pending) == 0 {
		return
	}
	o.e.log.Info("sending stored notifications", "server_id", o.ssid, "count", len(pending))
	for i, n := range pending {
		o.mu.Lock()
		_, live := o.obs[string(n.token)]
		o.mu.Unlock()
		if !live {
			continue
		}
		if err := o.send(ctx, cc, n); err != nil {
			o.mu.Lock()
			o.stored = append(pending[i:], o.stored...)
			o.mu.Unlock()
			return
		}
	}
}

// send writes one notification as a 2.05 with the observation's token and
// Observe sequence, remembering its MID so an RST can cancel it. It is a
// CON, except over SMS: there an ACK costs an SMS, nothing retransmits a
// lost one (LwM2M-TS 1.0 §8.6.2) and the wait for it would hold up the
// registration's own exchanges, so notifications go NON (allowed for Notify,
// LwM2M-TS 1.0 §8.2) with a CON at least every ConfirmableNotifyInterval
// (RFC 7641 §4.5).
func (o *observer) send(ctx context.Context, cc *udpclient.Conn, n note) error {
	o.mu.Lock()
	timeout := o.timeout
	typ := message.Confirmable
	if o.non && o.e.clock.Now().Sub(o.lastCON) < ConfirmableNotifyInterval {
		typ = message.NonConfirmable
	}
	o.mu.Unlock()
	if timeout <= 0 {
		timeout = o.e.cfg.RequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg := cc.AcquireMessage(ctx)
	defer cc.ReleaseMessage(msg)
	msg.SetCode(codes.Content)
	msg.SetToken(n.token)
	msg.SetObserve(n.seq)
	msg.SetType(typ)
	if n.format != FormatNone {
		msg.SetContentFormat(message.MediaType(n.format))
	}
	msg.SetBody(bytes.NewReader(n.body))
	// go-coap answers an RST to a CON like an ACK (WriteMessage returns
	// nil), so the RST is matched in the handler by Message ID. Which MID
	// goes on the wire: without block-wise, the one set here; with it,
	// the block-wise layer re-creates the message and udp/client
	// writeMessage takes the connection's next MID (v3.8.1 conn.go
	// writeMessage: UpsertMessageID(cc.GetMessageID())). Under sendMu
	// nothing else of ours takes one in between, so both mid and mid+1
	// are tagged with the token.
	if err := o.sendMu.lock(ctx); err != nil {
		return err
	}
	defer o.sendMu.unlock()
	mid := cc.GetMessageID()
	msg.SetMessageID(mid)
	o.mu.Lock()
	for _, m := range []int32{mid, int32(uint16(mid + 1))} {
		o.mids[m] = string(n.token)
		o.midOrder = append(o.midOrder, m)
	}
	for len(o.midOrder) > maxTrackedMIDs {
		delete(o.mids, o.midOrder[0])
		o.midOrder = o.midOrder[1:]
	}
	o.mu.Unlock()
	o.e.log.Debug("sending notification", "server_id", o.ssid, "token", n.token.String(), "seq", n.seq, "type", typ.String())
	if err := cc.WriteMessage(msg); err != nil {
		return err
	}
	if typ == message.Confirmable {
		o.mu.Lock()
		o.lastCON = o.e.clock.Now()
		o.mu.Unlock()
	}
	if o.sent != nil {
		o.sent()
	}
	return nil
}
