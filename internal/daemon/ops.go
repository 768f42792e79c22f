package daemon

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/sdnotify"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Operations (issue 9): the control socket's status, systemd's READY,
// STATUS and WATCHDOG.
const (
	// statusEvery is how often the STATUS line is recomputed; it is sent
	// only when it changed (PROJECT DEFAULT).
	statusEvery = 2 * time.Second
	// wedgedAfter: the watchdog keep-alives stop when the status loop has
	// not run for this long, i.e. the daemon is wedged (PROJECT DEFAULT).
	wedgedAfter = 10 * statusEvery
	// modemInfoTimeout bounds the modem query behind a status request.
	modemInfoTimeout = 3 * time.Second
	// modemInfoMaxAge: signal and operator are asked of the modem at most
	// this often (status requests and STATUS= lines reuse the last answer)
	// so that monitoring does not keep the AT port busy (PROJECT DEFAULT).
	modemInfoMaxAge = time.Minute
)

// opsState is what the status loop and the status provider share.
type opsState struct {
	started time.Time
	notify  *sdnotify.Notifier

	mu       sync.Mutex
	lastTick time.Time         // guarded by mu: the status loop's last run
	sessions map[uint16]string // guarded by mu: DTLS-over-SMS session state set by start-up opens
	signal   *int              // guarded by mu: the modem's last signal (dBm)
	operator string            // guarded by mu: the modem's last operator
	infoAt   time.Time         // guarded by mu: when signal/operator were asked
	smsIn    time.Time         // guarded by mu: when the modem last handed over an SMS
	smsOut   time.Time         // guarded by mu: when an SMS was last submitted
}

func (o *opsState) sms(in bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if in {
		o.smsIn = time.Now()
	} else {
		o.smsOut = time.Now()
	}
}

func (o *opsState) setSession(ssid uint16, state string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sessions == nil {
		o.sessions = map[uint16]string{}
	}
	o.sessions[ssid] = state
}

func (o *opsState) session(ssid uint16) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sessions[ssid]
}

// Status is the daemon's state for the control socket and STATUS=.
func (d *Daemon) Status(ctx context.Context) control.Status {
	st := control.Status{Version: d.opts.Version, Uptime: control.Duration(time.Since(d.ops.started).Truncate(time.Second))}
	modes := map[uint16]smsbind.Mode{}
	if d.bind != nil {
		for _, c := range d.bind.Conns() {
			modes[uint16(c.ServerID())] = c.Mode()
		}
	}
	if eng := d.engine.Load(); eng != nil {
		for _, s := range eng.State() {
			ss := control.ServerStatus{
				ShortServerID: s.ShortID, URI: s.URI, Registration: s.State, Registered: s.Registered,
				Location: s.Location, LastUpdate: control.At(s.LastUpdate), NextUpdate: control.At(s.NextUpdate),
				Binding: s.Binding, LastError: s.LastError,
			}
			if m, ok := modes[s.ShortID]; ok {
				ss.SMSMode = m.String()
				if m == smsbind.ModeDTLS {
					ss.DTLSSMSSession = d.dtlsSessionState(s.ShortID)
				}
			}
			st.Servers = append(st.Servers, ss)
		}
	}
	if d.modem != nil {
		h := d.modem.Health()
		ms := &control.ModemStatus{Port: d.modemPort(), State: control.ModemDown, Since: control.At(h.DownSince)}
		if h.Up {
			ms.State = control.ModemUp
			ms.SignalDBm, ms.Operator = d.modemInfo(ctx)
		}
		d.ops.mu.Lock()
		ms.LastSMSIn, ms.LastSMSOut = control.At(d.ops.smsIn), control.At(d.ops.smsOut)
		d.ops.mu.Unlock()
		if h.LastError != nil {
			ms.LastError = h.LastError.Error()
		}
		st.Modem = ms
	}
	if d.app != nil {
		st.SIM = simStatus(d.app.Health())
	}
	if s, ok := d.SMSStats(); ok {
		t := s.Total
		st.Counters = control.Counters{
			SMSReceived: t.Received, SMSDroppedSender: t.DroppedSender, SMSDroppedProtection: t.DroppedBadlySec,
			SMSDroppedRateLimit: t.DroppedRate, SMSDroppedOther: t.DroppedFormat + t.DroppedMalform + t.DroppedDup + t.DroppedQueue,
			SMSSent: t.Sent, SMSSendFailures: t.SendFailures,
			SMSDelivered: s.Delivery.Delivered, SMSDeliveryFailed: s.Delivery.Failed, SMSDeliveryPending: s.Delivery.Pending,
		}
	}
	return st
}

// simStatus is the UICC application's cached health as the control
// socket shows it: reading it never sends an APDU.
func simStatus(h uicc.Health) *control.SIMStatus {
	ss := &control.SIMStatus{Since: control.At(h.Since), LastOK: control.At(h.LastOK), AID: hex.EncodeToString(h.AID)}
	switch h.State {
	case uicc.HealthOK:
		ss.State = control.SIMOK
	case uicc.HealthNotAnswering:
		ss.State = control.SIMNotAnswering
	case uicc.HealthError:
		ss.State = control.SIMError
	default:
		ss.State = control.SIMUnknown
	}
	if h.LastError != nil {
		ss.LastError = h.LastError.Error()
	}
	return ss
}

// modemInfo returns the modem's signal and operator, asking the modem when
// the last answer is older than modemInfoMaxAge.
func (d *Daemon) modemInfo(ctx context.Context) (*int, string) {
	if in, at, ok := d.info.last(); ok && time.Since(at) < modemInfoMaxAge {
		return in.SignalDBm, in.Operator // the objects' refresher asked (modeminfo.go)
	}
	d.ops.mu.Lock()
	fresh := time.Since(d.ops.infoAt) < modemInfoMaxAge
	sig, op := d.ops.signal, d.ops.operator
	d.ops.mu.Unlock()
	if fresh {
		return sig, op
	}
	ictx, cancel := context.WithTimeout(ctx, modemInfoTimeout)
	defer cancel()
	info, err := d.modem.Info(ictx)
	if err != nil {
		return sig, op
	}
	d.ops.mu.Lock()
	d.ops.signal, d.ops.operator, d.ops.infoAt = info.SignalDBm, info.Operator, time.Now()
	d.ops.mu.Unlock()
	return info.SignalDBm, info.Operator
}

// dtlsSessionState tells the DTLS-over-SMS session's state from what the
// daemon's own opens saw and the session counters.
func (d *Daemon) dtlsSessionState(ssid uint16) string {
	if s := d.ops.session(ssid); s != "" {
		return s
	}
	ds, ok := d.DTLSStats(ssid)
	switch {
	case !ok:
		return ""
	case ds.Restores > 0 || ds.Handshakes > ds.HandshakeFailures:
		return control.DTLSSessionEstablished
	case ds.HandshakeFailures > 0:
		return control.DTLSSessionFailed
	}
	return control.DTLSSessionNone
}

func (d *Daemon) modemPort() string {
	if d.opts.ModemPort != "" {
		return d.opts.ModemPort
	}
	return d.cfg.Modem.Port
}

// listenControl opens the control socket when one is configured. Another
// daemon on it is fatal; any other failure only costs the status command.
func (d *Daemon) listenControl() (*control.Server, error) {
	if d.opts.ControlSocket == "" {
		return nil, nil
	}
	srv, err := control.Listen(control.Config{Path: d.opts.ControlSocket}, d.Status, control.WithLogger(d.opts.Logger))
	if errors.Is(err, control.ErrAlreadyRunning) {
		return nil, fmt.Errorf("daemon: control socket %s: %w", d.opts.ControlSocket, err)
	}
	if err != nil {
		d.log.Error("no control socket: `lwm2m-clientd status` will not reach this daemon", "path", d.opts.ControlSocket, "err", err)
		return nil, nil
	}
	return srv, nil
}

// runOps sends STATUS= whenever the one-line summary changes and keeps the
// watchdog fed while this loop keeps running, until ctx ends.
func (d *Daemon) runOps(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		_ = d.ops.notify.RunWatchdog(ctx, func() error {
			d.ops.mu.Lock()
			last := d.ops.lastTick
			d.ops.mu.Unlock()
			if since := time.Since(last); since > wedgedAfter {
				return fmt.Errorf("status loop stalled for %v", since.Round(time.Second))
			}
			return nil
		})
	})
	var modemChanged <-chan struct{}
	prev := ""
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	for {
		d.ops.mu.Lock()
		d.ops.lastTick = time.Now()
		d.ops.mu.Unlock()
		if d.modem != nil {
			modemChanged = d.modem.HealthChanged()
		}
		sctx, cancel := context.WithTimeout(ctx, modemInfoTimeout)
		if line := d.Status(sctx).Summary(); line != prev {
			d.ops.notify.Status(line)
			prev = line
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-modemChanged:
		}
	}
}
