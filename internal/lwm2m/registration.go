package lwm2m

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// regState is a state of the registration state machine of one server
// (LwM2M-TS 1.0 §5.3, lwm2m.md §8.2):
//
//	       ┌────────── backoff ◄──────────── failure ─────────┐
//	       ▼                                                   │
//	connecting ──► registering ──2.01──► registered ──timer/trigger/change──► updating
//	     ▲               ▲                 │  │   ▲                             │ │
//	     │               └──── 4.04 / new session ─────────────────────────────┘ │2.04
//	     │                                 │  └─────────────────────────────────┘
//	     │        queue mode awake time    ▼
//	     └──────── wake (timer/trigger) ── sleeping
//	ctx done in any state ──► deregistering ──► stopped;  Execute /1/x/4 ──► disabled
type regState int

const (
	stateConnecting regState = iota
	stateRegistering
	stateRegistered
	stateUpdating
	stateSleeping
	stateBackoff
	stateDisabled
	stateDeregistering
	stateStopped
)

var regStateNames = [...]string{"connecting", "registering", "registered", "updating", "sleeping",
	"backoff", "disabled", "deregistering", "stopped"}

func (s regState) String() string {
	if int(s) < len(regStateNames) {
		return regStateNames[s]
	}
	return "unknown"
}

// regParams are the registration parameters an Update must repeat when they
// change (lwm2m.md §8.2 Update query table).
type regParams struct {
	lifetime time.Duration
	binding  string
	sms      string
	links    []byte
}

// registration is one DM server's registration. Its run goroutine owns
// every field without a guard comment.
type registration struct {
	e            *Engine
	ssid         uint16  // immutable
	acc          Account // written by run under actMu; others read via account()
	canBootstrap bool
	obs          *observer

	// Signals from handlers and the engine (buffered 1, coalescing).
	trigger, changed, disable chan struct{}

	conn     *udpclient.Conn
	connDone <-chan struct{} // closed when conn dies (go-coap closes it on write errors)
	// tcfg is the engine's Config with the current connection's Transport
	// (SMS settings over SMS); sms tells that conn is the account's SMS
	// connection (Config.DialSMS), mon takes the answers to the blocks
	// the registration writes itself there (sms.go).
	tcfg      Config
	sms       bool
	mon       *b1Monitor
	localAddr *net.UDPAddr // kept across queue-mode sleeps
	location  string       // "/rd/xyz" after a successful Register
	params    regParams    // as last told to the server
	failures  int
	retry     regState // state to retry after backoff
	nextUpd   time.Time
	lastUpd   time.Time
	lastErr   string
	wake      bool // reconnecting after a queue-mode sleep

	actMu   sync.Mutex // guards lastAct
	lastAct time.Time
}

func (e *Engine) newRegistration(acc Account, canBootstrap bool) *registration {
	r := &registration{
		e: e, ssid: acc.ShortID, acc: acc, canBootstrap: canBootstrap, tcfg: e.cfg, mon: &b1Monitor{},
		trigger: make(chan struct{}, 1), changed: make(chan struct{}, 1), disable: make(chan struct{}, 1),
	}
	r.obs = newObserver(e, acc, r.touched)
	return r
}

func (r *registration) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// peer implementation (called on go-coap goroutines).
func (r *registration) serverID() uint16    { return r.ssid }
func (r *registration) bootstrap() bool     { return false }
func (r *registration) observer() *observer { return r.obs }
func (r *registration) touched() {
	r.actMu.Lock()
	r.lastAct = r.e.clock.Now()
	r.actMu.Unlock()
}

func (r *registration) served(req Request, _ Response) {
	switch req.Op {
	case OpExecute:
		if len(req.Path) == 3 && req.Path[0] == 1 && req.Path[1] == r.account().ServerInstance {
			switch req.Path[2] {
			case 8: // Registration Update Trigger, LwM2M-TS 1.0 App. E.2
				r.signal(r.trigger)
			case 4: // Disable
				r.signal(r.disable)
			}
		}
	case OpWrite, OpWritePartial, OpCreate, OpDelete:
		// Values, instances or Server parameters changed: observations
		// re-evaluate everywhere, registrations compare their parameters.
		r.e.Changed(req.Path)
	}
}

// account returns the account for goroutines other than run.
func (r *registration) account() Account {
	r.actMu.Lock()
	defer r.actMu.Unlock()
	return r.acc
}

func (r *registration) lastActivity() time.Time {
	r.actMu.Lock()
	defer r.actMu.Unlock()
	return r.lastAct
}

// run drives the state machine until ctx ends (nil after De-register) or
// the engine must bootstrap (errNeedBootstrap).
func (r *registration) run(ctx context.Context) error {
	octx, cancel := context.WithCancel(context.Background())
	var owg sync.WaitGroup
	owg.Add(1)
	go func() { defer owg.Done(); r.obs.run(octx) }()
	defer func() {
		cancel()
		owg.Wait()
	}()
	state := stateConnecting
	r.publish(state)
	for state != stateStopped {
		var next regState
		var err error
		switch state {
		case stateConnecting:
			next = r.connecting(ctx)
		case stateRegistering:
			next = r.registering(ctx)
		case stateRegistered:
			next = r.registered(ctx)
		case stateUpdating:
			next = r.updating(ctx)
		case stateSleeping:
			next = r.sleeping(ctx)
		case stateBackoff:
			next, err = r.backingOff(ctx)
		case stateDisabled:
			next = r.disabled(ctx)
		case stateDeregistering:
			next = r.deregistering()
		}
		if err != nil {
			r.closeConn()
			r.publish(stateStopped)
			return err
		}
		if next != state {
			r.e.log.Info("registration state", "server_id", r.acc.ShortID, "from", state.String(), "to", next.String())
		}
		state = next
		r.publish(state)
	}
	return nil
}

func (r *registration) publish(s regState) {
	r.e.setState(ServerState{
		ShortID: r.acc.ShortID, URI: r.acc.URI, Binding: r.acc.Binding, State: s.String(),
		Registered: r.location != "" && (s == stateRegistered || s == stateUpdating || s == stateSleeping),
		Location:   r.location, LastUpdate: r.lastUpd, NextUpdate: r.nextUpd, LastError: r.lastErr,
		Failures: r.failures,
	})
}

func (r *registration) fail(retry regState, format string, args ...any) regState {
	err := fmt.Errorf(format, args...)
	r.lastErr = err.Error()
	r.failures++
	r.retry = retry
	r.e.log.Warn("registration error", "server_id", r.acc.ShortID, "err", err, "failures", r.failures)
	return stateBackoff
}

// refreshAccount re-reads this server's account (lifetime, binding may
// have been written).
func (r *registration) refreshAccount() {
	accs, err := r.e.objs.Accounts()
	if err != nil {
		return
	}
	for _, a := range accs {
		if !a.Bootstrap && a.ShortID == r.ssid {
			r.actMu.Lock()
			r.acc = a
			r.actMu.Unlock()
			return
		}
	}
}

func (r *registration) currentParams() (regParams, error) {
	links, err := r.e.objs.Links()
	if err != nil {
		return regParams{}, err
	}
	p := regParams{lifetime: r.acc.Lifetime, binding: r.acc.Binding, links: links}
	if strings.Contains(r.acc.Binding, "S") {
		p.sms = strings.TrimPrefix(r.e.cfg.MSISDN, "+")
	}
	return p, nil
}

func (r *registration) connecting(ctx context.Context) regState {
	if ctx.Err() != nil {
		return stateStopped
	}
	r.closeConn()
	r.refreshAccount()
	prevSMS := r.sms
	if r.e.cfg.DialSMS != nil && registersOverSMS(r.acc.Binding) {
		return r.connectSMS(ctx, prevSMS)
	}
	if r.e.cfg.DialSMS != nil && fallsBackToSMS(r.acc.Binding) && r.failures >= SMSFallbackAfter {
		r.e.log.Warn("registration over UDP keeps failing: registering over SMS", "server_id", r.acc.ShortID,
			"binding", r.acc.Binding, "failures", r.failures)
		return r.connectSMS(ctx, prevSMS)
	}
	r.sms, r.tcfg = false, r.e.cfg
	r.obs.setTransport(r.tcfg.RequestTimeout, false)
	opts, err := r.e.coapOptions(r.e.serveCoAP(r))
	if err != nil {
		return r.fail(stateConnecting, "coap options: %w", err)
	}
	var cc *udpclient.Conn
	if r.e.cfg.Dial != nil {
		cc, err = r.e.cfg.Dial(ctx, r.acc, opts...)
	} else {
		cc, err = r.e.dialNet(ctx, r.acc, r.localAddr, opts...)
	}
	if err != nil {
		return r.fail(stateConnecting, "connect to %s: %w", r.acc.URI, err)
	}
	r.conn, r.connDone = cc, cc.Done()
	if ua, ok := cc.LocalAddr().(*net.UDPAddr); ok {
		r.localAddr = ua
	}
	r.touched()
	_, secure, _ := splitURI(r.acc.URI)
	if r.wake && !secure && r.location != "" && !prevSMS {
		// Same socket address, no security session: an Update is enough.
		r.wake = false
		r.obs.setOnline(cc, r.acc)
		return stateUpdating
	}
	// A new DTLS session (or a new address) needs a fresh Register
	// (lwm2m.md §8.2; LwM2M 1.1 Transport §5.2).
	r.wake = false
	return stateRegistering
}

// connectSMS opens the account's SMS connection (bindings S and SQ, and US
// after SMSFallbackAfter failures over UDP). The client's address (its MSISDN) and a DTLS-over-SMS session outlive the
// connection, so with a registration in place (a queue-mode wake-up, a
// connection go-coap closed after a failed write) an Update is enough; the
// server answers 4.04 if it lost the registration, and the client
// registers again.
func (r *registration) connectSMS(ctx context.Context, prevSMS bool) regState {
	conn, tr, err := r.e.cfg.DialSMS(ctx, r.acc)
	if err != nil {
		return r.fail(stateConnecting, "open the SMS connection for server %d: %w", r.acc.ShortID, err)
	}
	r.sms, r.tcfg = true, r.e.cfg.withTransport(tr)
	r.obs.setTransport(r.tcfg.RequestTimeout, true)
	opts, err := r.e.coapOptionsFor(r.tcfg, r.e.serveCoAP(r))
	if err != nil {
		_ = conn.Close()
		return r.fail(stateConnecting, "coap options: %w", err)
	}
	opts = append(opts, options.WithRequestMonitor(udpclient.RequestMonitorFunc(r.mon.monitor)))
	cc := ConnClient(conn, opts...)
	r.conn, r.connDone = cc, cc.Done()
	r.touched()
	r.wake = false
	if r.location != "" && prevSMS {
		r.obs.setOnline(cc, r.acc)
		return stateUpdating
	}
	// First SMS connection, or a fallback from UDP: a fresh Register on
	// the new transport.
	return stateRegistering
}

func (r *registration) closeConn() {
	r.obs.setOnline(nil, r.acc)
	if r.conn != nil {
		_ = r.conn.Close()
		<-r.conn.Done()
		r.conn, r.connDone = nil, nil
	}
}

// exchangeContext bounds a Register or Update. A shutdown during the
// exchange gives it DeregisterTimeout more, so that the client learns its
// location and can De-register instead of leaving a registration behind.
func (r *registration) exchangeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.tcfg.RequestTimeout)
	var t *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		t = time.AfterFunc(r.tcfg.DeregisterTimeout, cancel)
		mu.Unlock()
	})
	return rctx, func() {
		stop()
		mu.Lock()
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// post sends a Register (path /rd) or an Update (path the location): POST
// with the queries and, when links is non-nil, the CoRE links; on the SMS
// connection block-wise when it does not fit one SMS (sms.go).
func (r *registration) post(ctx context.Context, path string, q []string, links []byte) (regAnswer, error) {
	if err := r.obs.sendMu.lock(ctx); err != nil {
		return regAnswer{}, err
	}
	defer r.obs.sendMu.unlock()
	if r.sms && links != nil {
		opts := queryOpts(q)
		cf := message.Option{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}}
		plan, err := planBlocks(codes.POST, path, append(message.Options{cf}, opts...), r.tcfg.tokenLength, links, r.tcfg.maxDatagram)
		if err != nil {
			return regAnswer{}, err
		}
		if plan.size > 0 {
			r.e.log.Info("request sent block-wise over SMS", "server_id", r.acc.ShortID, "path", path,
				"size", len(links), "block_size", plan.size, "blocks", plan.blocks)
		}
		ans, err := postBlocks(ctx, r.conn, r.mon, path, opts, links, plan)
		if err == nil {
			r.touched()
		}
		return ans, err
	}
	var req *pool.Message
	var err error
	if links != nil {
		req, err = r.conn.NewPostRequest(ctx, path, message.AppLinkFormat, bytes.NewReader(links), queryOpts(q)...)
	} else {
		req, err = r.conn.NewPostRequest(ctx, path, message.TextPlain, nil, queryOpts(q)...)
	}
	if err != nil {
		return regAnswer{}, fmt.Errorf("build request: %w", err)
	}
	defer r.conn.ReleaseMessage(req)
	resp, err := r.conn.Do(req)
	if err != nil {
		return regAnswer{}, err
	}
	defer r.conn.ReleaseMessage(resp)
	r.touched()
	ans := regAnswer{code: resp.Code()}
	if lp, err := resp.Options().LocationPath(); err == nil {
		ans.location = lp
	}
	return ans, nil
}

func (r *registration) registering(ctx context.Context) regState {
	if ctx.Err() != nil {
		return stateDeregistering
	}
	params, err := r.currentParams()
	if err != nil {
		return r.fail(stateRegistering, "registration payload: %w", err)
	}
	rctx, cancel := r.exchangeContext(ctx)
	defer cancel()
	// Register: POST /rd?ep=&lt=&lwm2m=1.0&b=[&sms=], CoRE link payload
	// (LwM2M-TS 1.0 §5.3.1, §8.2 Table 2).
	q := []string{"ep=" + r.e.cfg.Endpoint, "lt=" + strconv.FormatInt(int64(params.lifetime/time.Second), 10),
		"lwm2m=1.0", "b=" + params.binding}
	if params.sms != "" {
		q = append(q, "sms="+params.sms)
	}
	// A new registration ends the old one's observations and attributes
	// (LwM2M-TS 1.0 §5.3.1). Drop them before the Register goes out: the
	// server may observe and write attributes as soon as it has answered,
	// before the 2.01 is processed here.
	r.obs.reset()
	if f, ok := r.e.objs.(interface{ ForgetAttributes(uint16) }); ok {
		f.ForgetAttributes(r.ssid)
	}
	r.obs.setOnline(r.conn, r.acc)
	start := r.e.clock.Now()
	resp, err := r.post(rctx, "/rd", q, params.links)
	if err != nil && ctx.Err() != nil {
		return stateDeregistering // nothing to De-register: no location
	}
	if errors.Is(err, ErrTooLargeForSMS) {
		return r.fail(stateRegistering, "register with server %d over SMS: %w", r.acc.ShortID, err)
	}
	if err != nil {
		return r.fail(stateConnecting, "register with %s: %w", r.acc.URI, err)
	}
	if resp.code != codes.Created {
		return r.fail(stateRegistering, "register with %s: server answered %v", r.acc.URI, resp.code)
	}
	loc := resp.location
	if loc == "" {
		return r.fail(stateRegistering, "register with %s: 2.01 without Location-Path", r.acc.URI)
	}
	r.location = "/" + strings.Trim(loc, "/")
	r.params = params
	r.registeredOK()
	r.e.log.Info("registered", "server_id", r.acc.ShortID, "uri", r.acc.URI, "location", r.location,
		"lifetime", params.lifetime, "binding", params.binding, "duration", r.e.clock.Now().Sub(start).Round(time.Millisecond))
	return stateRegistered
}

func (r *registration) registeredOK() {
	r.failures, r.lastErr = 0, ""
	r.lastUpd = r.e.clock.Now()
	r.nextUpd = r.lastUpd.Add(updateDelay(r.params.lifetime))
}

// updateDelay is when to send the Update: before the lifetime ends by a
// margin that fits retransmissions (MinUpdateMargin), but never later than
// half the lifetime for short lifetimes.
func updateDelay(lifetime time.Duration) time.Duration {
	margin := max(lifetime/10, MinUpdateMargin)
	margin = min(margin, lifetime/2)
	return lifetime - margin
}

func queryOpts(q []string) []message.Option {
	opts := make([]message.Option, 0, len(q))
	for _, s := range q {
		opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(s)})
	}
	return opts
}

func (r *registration) queueMode() bool { return strings.Contains(r.acc.Binding, "Q") }

func (r *registration) registered(ctx context.Context) regState {
	now := r.e.clock.Now()
	upd := r.e.clock.NewTimer(r.nextUpd.Sub(now))
	defer upd.Stop()
	var sleepC <-chan time.Time
	if r.queueMode() {
		st := r.e.clock.NewTimer(r.lastActivity().Add(r.tcfg.QueueAwake).Sub(now))
		defer st.Stop()
		sleepC = st.C()
	}
	select {
	case <-ctx.Done():
		return stateDeregistering
	case <-upd.C():
		if r.sms && !registersOverSMS(r.acc.Binding) {
			// Registered over SMS as a fallback (US): try UDP again
			// rather than Update; the SMS registration stays valid at
			// the server while UDP is tried.
			r.e.log.Info("registered over SMS as a fallback: trying UDP again", "server_id", r.acc.ShortID)
			return stateConnecting
		}
		return stateUpdating
	case <-r.trigger:
		r.e.log.Info("registration update triggered", "server_id", r.acc.ShortID)
		return stateUpdating
	case <-r.changed:
		r.refreshAccount()
		p, err := r.currentParams()
		if err == nil && !sameParams(p, r.params) {
			return stateUpdating
		}
		return stateRegistered
	case <-r.disable:
		return stateDisabled
	case <-r.connDone:
		r.lastErr = "connection closed"
		r.e.log.Warn("connection lost", "server_id", r.acc.ShortID)
		return stateConnecting
	case <-sleepC:
		if r.e.clock.Now().Sub(r.lastActivity()) < r.tcfg.QueueAwake {
			return stateRegistered // activity since: re-arm
		}
		return stateSleeping
	}
}

func sameParams(a, b regParams) bool {
	return a.lifetime == b.lifetime && a.binding == b.binding && a.sms == b.sms && bytes.Equal(a.links, b.links)
}

func (r *registration) updating(ctx context.Context) regState {
	if ctx.Err() != nil {
		return stateDeregistering
	}
	r.refreshAccount()
	params, err := r.currentParams()
	if err != nil {
		return r.fail(stateUpdating, "update payload: %w", err)
	}
	// Update: POST /{location}?[lt][&b][&sms], payload only when the
	// objects changed (LwM2M-TS 1.0 §5.3.2, §8.2 Table 2).
	var q []string
	if params.lifetime != r.params.lifetime {
		q = append(q, "lt="+strconv.FormatInt(int64(params.lifetime/time.Second), 10))
	}
	if params.binding != r.params.binding {
		q = append(q, "b="+params.binding)
	}
	if params.sms != r.params.sms {
		q = append(q, "sms="+params.sms)
	}
	var body []byte
	if !bytes.Equal(params.links, r.params.links) {
		body = params.links
	}
	rctx, cancel := r.exchangeContext(ctx)
	defer cancel()
	resp, err := r.post(rctx, r.location, q, body)
	if err != nil && ctx.Err() != nil {
		return stateDeregistering // shutting down mid-Update
	}
	if err != nil {
		// No answer: the session or the address may be gone; a new
		// connection registers afresh.
		return r.fail(stateConnecting, "update at %s: %w", r.acc.URI, err)
	}
	code := resp.code
	switch code {
	case codes.Changed:
	case codes.NotFound:
		r.e.log.Warn("registration unknown to the server: registering again", "server_id", r.acc.ShortID)
		r.location = ""
		return stateRegistering
	default:
		r.location = ""
		return r.fail(stateRegistering, "update at %s: server answered %v", r.acc.URI, code)
	}
	r.params = params
	r.registeredOK()
	r.e.log.Info("registration updated", "server_id", r.acc.ShortID, "location", r.location,
		"lifetime", params.lifetime, "query", strings.Join(q, "&"), "next_update", r.nextUpd.Format(time.RFC3339))
	r.obs.setOnline(r.conn, r.acc)
	r.obs.flush(ctx)
	return stateRegistered
}

// sleeping is queue mode's offline phase (LwM2M-TS 1.0 §8.3): the
// connection is closed so nothing is listened to; the next Update or a
// trigger wakes the client, which keeps its local address for that.
//
// Over SMS (binding SQ) the connection stays open: SMS reception costs
// nothing while idle and the modem receives them anyway, so a request the
// server sends all the same (typically the Registration Update Trigger) is
// answered and wakes the client. Notifications are stored while asleep and
// sent after the Update, as over UDP.
func (r *registration) sleeping(ctx context.Context) regState {
	var lost <-chan struct{}
	if r.sms && r.conn != nil {
		r.obs.setOnline(nil, r.acc)
		lost = r.connDone
	} else {
		r.closeConn()
	}
	r.e.log.Info("queue mode: sleeping", "server_id", r.acc.ShortID, "next_update", r.nextUpd.Format(time.RFC3339))
	t := r.e.clock.NewTimer(r.nextUpd.Sub(r.e.clock.Now()))
	defer t.Stop()
	select {
	case <-ctx.Done():
		if lost != nil {
			return stateDeregistering
		}
		// De-register needs a connection: wake up for it, bounded.
		dctx, cancel := context.WithTimeout(context.Background(), r.e.cfg.DeregisterTimeout)
		defer cancel()
		r.wake = true
		if r.connecting(dctx) == stateBackoff {
			return stateStopped
		}
		return stateDeregistering
	case <-t.C():
	case <-r.trigger:
	case <-r.changed:
	case <-r.disable:
		return stateDisabled
	case <-lost:
		r.lastErr = "connection closed"
		r.e.log.Warn("connection lost while sleeping", "server_id", r.acc.ShortID)
		return stateConnecting
	}
	if lost != nil {
		select {
		case <-lost:
			return stateConnecting
		default:
		}
		r.obs.setOnline(r.conn, r.acc)
		return stateUpdating
	}
	r.wake = true
	return stateConnecting
}

func (r *registration) backingOff(ctx context.Context) (regState, error) {
	r.closeConn()
	if r.canBootstrap && r.failures >= r.e.cfg.BootstrapAfter {
		r.e.log.Warn("registration keeps failing: falling back to bootstrap", "server_id", r.acc.ShortID, "failures", r.failures)
		return stateStopped, errNeedBootstrap
	}
	d := r.e.backoff(r.failures)
	r.e.log.Info("registration retry scheduled", "server_id", r.acc.ShortID, "in", d.Round(time.Millisecond), "failures", r.failures)
	t := r.e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return stateStopped, nil
	case <-t.C():
	case <-r.trigger:
		// A trigger (e.g. by SMS) asks for a Register now.
		r.e.log.Info("registration retry triggered", "server_id", r.acc.ShortID)
	}
	if r.retry == stateRegistering || r.retry == stateUpdating {
		return stateConnecting, nil // fresh connection, fresh Register
	}
	return r.retry, nil
}

// disabled: De-register, go silent for the Disable Timeout (Server
// resources 4 and 5, LwM2M-TS 1.0 App. E.2), then register again.
func (r *registration) disabled(ctx context.Context) regState {
	r.deregister()
	r.closeConn()
	d := r.acc.DisableTimeout
	if d <= 0 {
		d = DefaultDisableTimeout
	}
	r.e.log.Info("server disabled", "server_id", r.acc.ShortID, "for", d)
	if !r.e.sleep(ctx, d) {
		return stateStopped
	}
	return stateConnecting
}

func (r *registration) deregistering() regState {
	r.deregister()
	r.closeConn()
	return stateStopped
}

// deregister sends DELETE /{location} with a bounded wait (LwM2M-TS 1.0
// §5.3.3); a failure is logged, shutdown goes on.
func (r *registration) deregister() {
	if r.conn == nil || r.location == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.tcfg.DeregisterTimeout)
	defer cancel()
	loc := r.location
	r.location = ""
	if err := r.obs.sendMu.lock(ctx); err != nil {
		r.e.log.Warn("de-register not sent", "server_id", r.acc.ShortID, "location", loc, "err", err)
		return
	}
	resp, err := r.conn.Delete(ctx, loc)
	r.obs.sendMu.unlock()
	if err != nil {
		r.e.log.Warn("de-register failed", "server_id", r.acc.ShortID, "location", loc, "err", err)
		return
	}
	code := resp.Code()
	r.conn.ReleaseMessage(resp)
	if code != codes.Deleted {
		r.e.log.Warn("de-register refused", "server_id", r.acc.ShortID, "location", loc, "code", code.String())
		return
	}
	r.e.log.Info("de-registered", "server_id", r.acc.ShortID, "location", loc)
}

var _ = errors.New
