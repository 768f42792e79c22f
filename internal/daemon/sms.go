package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// CoAP over SMS (PROJECT DEFAULT values; LwM2M-TS 1.0 §8.6.2 and the issue's
// "ACK timeouts sized for SMS").
const (
	// SMSAckTimeout is the CoAP ACK timeout on an SMS connection: an SMS
	// round trip takes seconds to minutes, never UDP's 2 s.
	SMSAckTimeout = 60 * time.Second
	// SMSBlockSize is the block-wise size on an SMS connection: the largest
	// power of two whose block, with the CoAP header and options and the
	// DTLS record overhead (29 octets with CCM_8), fits 140 octets. A
	// Register's many Uri-Query options leave less room: the engine picks
	// its Block1 size from SMSMaxCoAP instead (lwm2m.Transport.MaxDatagram).
	SMSBlockSize = 64
	// SMSTokenLength is the length of the client's tokens over SMS (the
	// issue's "short client tokens"; RFC 7252 §5.3.1 allows 0–8).
	SMSTokenLength = 2
	// smsAckRandomFactor is RFC 7252 §4.8's ACK_RANDOM_FACTOR, used for
	// the queue-mode awake time over SMS.
	smsAckRandomFactor = 1.5
	// SMSDeregisterTimeout bounds the De-register over SMS on shutdown: an
	// SMS round trip takes seconds, and the shipped unit's TimeoutStopSec
	// (30 s) must still cover it and the modem's shutdown.
	SMSDeregisterTimeout = 20 * time.Second
	// identityRetry is how long the daemon waits before asking the modem
	// again for the IMEI/ICCID the endpoint name needs.
	identityRetry = 5 * time.Second
	// restoreWait bounds how long start-up waits for a stored DTLS
	// session to be restored before SMS reception starts.
	restoreWait = 2 * time.Second
	// uiccCloseTimeout bounds closing the UICC application at shutdown.
	uiccCloseTimeout = 5 * time.Second
)

// smsTransport is what ServeConn needs to know of an SMS connection: no CoAP
// retransmission over SMS (LwM2M-TS 1.0 §8.6.2), SMS-sized ACK timeout and
// blocks.
var smsTransport = func() lwm2m.Transport {
	zero := uint32(0)
	return lwm2m.Transport{AckTimeout: SMSAckTimeout, MaxRetransmit: &zero, BlockSize: SMSBlockSize}
}()

// SMSMaxCoAP is the largest CoAP message one SMS carries in mode m:
//   - NoSec: the 140 octets of 8-bit user data (TS 23.040 §9.2.3.24).
//   - DTLS: 140 minus the CCM_8 record overhead of 29 octets = 111
//     (smsdtls.MaxPlaintext; RFC 6347 §4.1, RFC 6655 §3).
//   - Secure packet: the command packet the SIM sends (TS 102 225 §5.1,
//     TS 31.115 §4) is UDH 3 (CPI) + CPL 2 + CHL 1 + SPI 2 + KIc 1 +
//     KID 1 + TAR 3 in clear, then CNTR 5 + PCNTR 1 + CC 8 (AES CMAC) +
//     the secured data (CoAP tag 0x05 and a one-octet length, then the
//     message) padded to the 16-octet AES block: 13 + 112 ≤ 140 gives 112
//     ciphered octets, 112 − 14 − 2 = 96. TestSecurePacketBudget checks it
//     against internal/securedpacket. The SIM concatenates a longer packet
//     (TS 31.115 §4; every SMS still ≤ 140), which costs 6–8 octets per
//     extra SMS where a Block1 block repeats the whole request header and
//     costs an answer SMS: registrations in this mode send their Register
//     whole (see smsRegTransport).
func SMSMaxCoAP(m smsbind.Mode) int {
	switch m {
	case smsbind.ModeDTLS:
		return smsdtls.MaxPlaintext
	case smsbind.ModeSecurePacket:
		return securePacketMaxCoAP
	}
	return atpdu.MaxUDOctets
}

// securePacketMaxCoAP: see SMSMaxCoAP.
const securePacketMaxCoAP = 96

// smsRegTransport is the transmission of a registration over SMS (bindings
// S and SQ) in mode m: smsTransport, 2-byte tokens, Register blocks sized to
// one SMS in modes 1 and 3, and a request bound that fits a DTLS handshake (the first message
// may need one, bounded by sms.dtls.handshake_timeout) plus two SMS round
// trips at the SMS ACK timeout, since nothing is retransmitted. The queue-mode
// awake time is MAX_TRANSMIT_WAIT of these parameters (LwM2M-TS 1.0 §8.3;
// 90 s with a 60 s ACK timeout and no retransmission).
func (d *Daemon) smsRegTransport(m smsbind.Mode) lwm2m.Transport {
	tr := smsTransport
	tr.TokenLength = SMSTokenLength
	if m != smsbind.ModeSecurePacket {
		// One record (DTLS) or one SMS (NoSec) per message: no
		// concatenation in these modes (LwM2M-TS 1.0 §7.2.2.1.2), so a
		// larger Register goes Block1. In mode 2 the SIM concatenates.
		tr.MaxDatagram = SMSMaxCoAP(m)
	}
	hs := d.cfg.SMS.DTLS.HandshakeTimeout.D()
	if hs <= 0 {
		hs = smsdtls.DefaultHandshakeTimeout
	}
	ack := tr.AckTimeout
	if d.opts.SMSAckTimeout > 0 {
		ack = d.opts.SMSAckTimeout
		tr.AckTimeout = ack
	}
	tr.RequestTimeout = hs + 2*ack
	tr.DeregisterTimeout = SMSDeregisterTimeout
	tr.QueueAwake = lwm2m.MaxTransmitWait(ack, smsAckRandomFactor, 0)
	if d.opts.SMSQueueAwake > 0 {
		tr.QueueAwake = d.opts.SMSQueueAwake
	}
	return tr
}

// registersOverSMS reports whether a binding registers over SMS (S, SQ);
// the engine decides the same way (US and UQS register over UDP).
func registersOverSMS(binding string) bool {
	return strings.Contains(binding, "S") && !strings.Contains(binding, "U")
}

// dialSMS is the engine's SMSDialer: the account's smsbind.Conn, leased to
// the registration (closing the lease leaves the Conn and its DTLS session
// to the next one). Only accounts whose binding registered over SMS at
// start-up have one: for them no ServeConn reads the Conn, so the lease is
// its only reader.
func (d *Daemon) dialSMS(ctx context.Context, acc lwm2m.Account) (net.Conn, lwm2m.Transport, error) {
	if p := d.ports[acc.ShortID]; p != nil && fallsBackToSMS(acc.Binding) {
		c := p.c
		tr := d.smsRegTransport(c.Mode())
		l := newSMSLease(c, tr.RequestTimeout)
		p.acquire(l) // ServeConn lets go of the Conn until the lease closes
		return l, tr, nil
	}
	if !d.smsRegistered[acc.ShortID] {
		return nil, lwm2m.Transport{}, fmt.Errorf("server %d has no SMS connection for registration (binding %s at start-up; a changed binding takes effect after a restart)", acc.ShortID, acc.Binding)
	}
	c, err := d.bind.Conn(int(acc.ShortID))
	if err != nil {
		return nil, lwm2m.Transport{}, err
	}
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	if old := d.leases[acc.ShortID]; old != nil {
		_ = old.Close() // the engine closed it already; make sure
	}
	tr := d.smsRegTransport(c.Mode())
	l := newSMSLease(c, tr.RequestTimeout)
	d.leases[acc.ShortID] = l
	return l, tr, nil
}

// fallsBackToSMS reports whether a binding registers over UDP but falls
// back to SMS when UDP keeps failing (the engine decides the same way): US.
func fallsBackToSMS(binding string) bool { return binding == "US" }

// smsPort shares the smsbind.Conn of a server with binding US between
// ServeConn, which answers the server's SMS requests while the registration
// is on UDP, and the registration when it falls back to SMS: exactly one of
// them reads the Conn at a time.
type smsPort struct {
	c *smsbind.Conn

	mu      sync.Mutex
	held    *smsLease     // guarded by mu: the registration's lease, nil when ServeConn may read
	serving *smsLease     // guarded by mu: ServeConn's lease
	changed chan struct{} // guarded by mu: closed and replaced when held changes
}

// acquire gives the Conn to the registration's lease l until it closes.
func (p *smsPort) acquire(l *smsLease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = l
	if p.serving != nil {
		_ = p.serving.Close()
	}
	l.onClose = func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.held == l {
			p.held = nil
			close(p.changed)
			p.changed = make(chan struct{})
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// serve runs ServeConn on the Conn whenever the registration does not hold
// it, until ctx ends.
func (p *smsPort) serve(ctx context.Context, eng *lwm2m.Engine, ssid uint16, log *slog.Logger) {
	for ctx.Err() == nil {
		p.mu.Lock()
		held, ch := p.held != nil, p.changed
		var l *smsLease
		if !held {
			l = newSMSLease(p.c, SMSAckTimeout)
			p.serving = l
		}
		p.mu.Unlock()
		if held {
			select {
			case <-ch:
			case <-ctx.Done():
			}
			continue
		}
		start := time.Now()
		if err := eng.ServeConn(ctx, ssid, l, smsTransport); err != nil {
			log.Error("SMS connection not served", "server_id", ssid, "err", err)
			return
		}
		_ = l.Close()
		if ctx.Err() == nil && time.Since(start) < time.Second {
			// The Conn failed at once (it closes only at shutdown):
			// do not spin.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// smsLease is one registration connection's hold on an smsbind.Conn: reads
// and writes go through with the lease's context, Close ends the lease only.
// A message the Conn hands over at the very moment the lease closes is lost
// with it (the server's application retry covers it, as for any lost SMS).
type smsLease struct {
	c      *smsbind.Conn
	ctx    context.Context
	cancel context.CancelFunc
	// writeTimeout bounds one Write (go-coap passes no deadline down): a
	// modem that does not come back cannot hold the connection forever.
	writeTimeout time.Duration
	// onClose, set before the lease is handed out, runs once on Close.
	onClose   func()
	closeOnce sync.Once
}

var _ net.Conn = (*smsLease)(nil)

func newSMSLease(c *smsbind.Conn, writeTimeout time.Duration) *smsLease {
	ctx, cancel := context.WithCancel(context.Background())
	return &smsLease{c: c, ctx: ctx, cancel: cancel, writeTimeout: writeTimeout}
}

func (l *smsLease) closedErr(err error) error {
	if l.ctx.Err() != nil || errors.Is(err, smsbind.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// Read returns the next CoAP message from the server.
func (l *smsLease) Read(b []byte) (int, error) {
	m, err := l.c.ReadMessage(l.ctx)
	if err != nil {
		return 0, l.closedErr(err)
	}
	n := copy(b, m)
	if n < len(m) {
		return n, io.ErrShortBuffer
	}
	return n, nil
}

// Write sends one CoAP message to the server.
func (l *smsLease) Write(b []byte) (int, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.writeTimeout)
	defer cancel()
	if err := l.c.WriteMessage(ctx, b); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && l.ctx.Err() == nil {
			return 0, os.ErrDeadlineExceeded
		}
		return 0, l.closedErr(err)
	}
	return len(b), nil
}

// Close ends the lease (idempotent); the Conn stays.
func (l *smsLease) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		if l.onClose != nil {
			l.onClose()
		}
	})
	return nil
}

func (l *smsLease) LocalAddr() net.Addr  { return l.c.LocalAddr() }
func (l *smsLease) RemoteAddr() net.Addr { return l.c.RemoteAddr() }

// Deadlines: go-coap's connection never sets them; the lease's context
// bounds everything.
func (l *smsLease) SetDeadline(time.Time) error      { return nil }
func (l *smsLease) SetReadDeadline(time.Time) error  { return nil }
func (l *smsLease) SetWriteDeadline(time.Time) error { return nil }

// SMSServers builds the SMS binding's server table from the DM server
// accounts: one entry per account whose Security instance has an SMS number
// (resource 9) and an SMS security mode (resource 6). In mode 1 the PSK is
// resources 7 and 8 when they are set (psk_source sms, as the only shipping
// implementation does), else resources 3 and 5 (psk_source udp).
func SMSServers(accounts []objects.ServerAccount) ([]smsbind.Server, error) {
	var out []smsbind.Server
	for _, a := range accounts {
		if a.SMSNumber == "" || a.SMSSecurityMode == 0 {
			continue
		}
		s := smsbind.Server{
			ID:     int(a.ShortServerID),
			Number: "+" + strings.TrimPrefix(a.SMSNumber, "+"),
			Mode:   smsbind.Mode(a.SMSSecurityMode),
		}
		if s.Mode == smsbind.ModeDTLS {
			id, key := a.SMSKeyParameters, a.SMSSecretKey
			if len(id) == 0 && key.IsZero() {
				id, key = a.PSKIdentity, a.PSK
			}
			if len(id) == 0 || key.IsZero() {
				return nil, fmt.Errorf("server %d: SMS security mode dtls without a PSK identity and key (Security resources 7/8 or 3/5)", a.ShortServerID)
			}
			s.PSKIdentity = append([]byte(nil), id...)
			s.PSK = smsdtls.Secret(append([]byte(nil), key.Bytes()...))
		}
		out = append(out, s)
	}
	return out, nil
}

// newSMS builds the modem driver, the UICC application (only when a server
// uses secure-packet) and the SMS binding from the configuration and the
// object tree's Security instances. Nothing runs until runWithModem.
func (d *Daemon) newSMS() error {
	servers, err := SMSServers(d.tree.Servers())
	if err != nil {
		return err
	}
	mc := d.cfg.Modem
	if mc == nil {
		if len(servers) > 0 {
			d.log.Warn("servers have an SMS binding but modem is none: SMS are neither received nor sent", "sms_servers", len(servers))
		}
		return nil
	}
	port := mc.Port
	if d.opts.ModemPort != "" {
		port = d.opts.ModemPort
	}
	delivery := modem.Delivery(mc.SMSDelivery)
	if len(servers) == 0 {
		// Nothing would consume SMS: leave them on the modem.
		delivery = modem.DeliveryNone
		d.log.Info("no server has an SMS number and mode: SMS reception is off")
	}
	mopts := append([]modem.Option{modem.WithLogger(d.opts.Logger)}, d.opts.ModemOptions...)
	d.modem, err = modem.New(modem.Config{
		Port: port, Baud: mc.Baud, Delivery: delivery, Storage: mc.Storage,
		HandleSMS: d.handleSMS, Trace: mc.Trace,
	}, mopts...)
	if err != nil {
		return fmt.Errorf("modem %s: %w", port, err)
	}
	if len(servers) == 0 {
		return nil
	}
	// The TP-MR the modem returns lets the binding match status reports
	// to the SMS they are about (delivery tracking).
	submit := smsbind.SubmitMRFunc(func(ctx context.Context, tpdu []byte) (int, error) {
		mr, err := d.modem.SendSMS(ctx, tpdu)
		if err == nil {
			d.ops.sms(false)
		}
		return mr, err
	})
	bopts := []smsbind.Option{
		smsbind.WithLogger(d.opts.Logger),
		smsbind.WithSessionStore(sessionStore{st: d.st}),
		smsbind.WithStatusReports(d.statusReport),
	}
	for _, s := range servers {
		if s.Mode == smsbind.ModeSecurePacket && d.app == nil {
			d.app, err = newUICC(d.cfg.UICC, d.modem, submit.SubmitSMS, d.opts)
			if err != nil {
				return err
			}
			bopts = append(bopts, smsbind.WithUICC(d.app))
		}
	}
	sc := d.cfg.SMS
	d.bind, err = smsbind.New(smsbind.Config{
		Servers:              servers,
		CountryCode:          mc.CountryCode,
		AcceptAnySenderNoSec: sc.AcceptAnySenderNoSec,
		RequestStatusReports: sc.StatusReports,
		PerSender:            smsbind.Limit{Count: sc.RateLimit.PerSender.Count, Interval: sc.RateLimit.PerSender.Interval.D()},
		Global:               smsbind.Limit{Count: sc.RateLimit.Global.Count, Interval: sc.RateLimit.Global.Interval.D()},
		PollInterval:         d.cfg.UICC.PollInterval.D(),
		HandshakeTimeout:     sc.DTLS.HandshakeTimeout.D(),
		RehandshakeInterval:  sc.DTLS.RehandshakeInterval.D(),
		InitialRTO:           d.opts.SMSInitialRTO,
	}, submit, bopts...)
	if err != nil {
		return fmt.Errorf("SMS binding: %w", err)
	}
	for _, a := range d.tree.Servers() {
		if strings.Contains(a.Binding, "S") && a.SMSNumber != "" && a.SMSSecurityMode != 0 {
			d.openAtStart = append(d.openAtStart, a.ShortServerID)
			if registersOverSMS(a.Binding) {
				d.smsRegistered[a.ShortServerID] = true
				d.log.Info("server registers over SMS", "server_id", a.ShortServerID, "binding", a.Binding)
			}
			if fallsBackToSMS(a.Binding) {
				if c, err := d.bind.Conn(int(a.ShortServerID)); err == nil {
					d.ports[a.ShortServerID] = &smsPort{c: c, changed: make(chan struct{})}
				}
			}
		}
	}
	for _, s := range servers {
		d.log.Info("SMS server", "server_id", s.ID, "number", s.Number, "sms_mode", s.Mode.String())
	}
	return nil
}

// newUICC builds the LwM2M UICC application client over the modem's +CSIM.
func newUICC(c config.UICC, m *modem.Modem, submit func(context.Context, []byte) error, opts Options) (*uicc.App, error) {
	ucfg := uicc.Config{AID: c.AID}
	if c.CoAPTag != nil {
		if *c.CoAPTag < 0 || *c.CoAPTag > 0xFF {
			return nil, fmt.Errorf("uicc: coap_tag %d is not one octet", *c.CoAPTag)
		}
		ucfg.CoAPTag = byte(*c.CoAPTag)
	}
	app, err := uicc.New(uicc.TransportFunc(m.CSIM), ucfg, uicc.SMSSender(submit), uicc.WithLogger(opts.Logger))
	if err != nil {
		return nil, fmt.Errorf("uicc: %w", err)
	}
	return app, nil
}

// handleSMS is the modem driver's hand-off: synchronous and short (the
// binding queues the CoAP message, gives the record to DTLS or the SMS to the
// UICC); it never sends an SMS itself.
func (d *Daemon) handleSMS(ctx context.Context, s modem.SMS) error {
	if d.bind == nil {
		return nil // DeliveryNone: not reached
	}
	d.ops.sms(true)
	if d.opts.SMSHandled != nil {
		defer d.opts.SMSHandled()
	}
	return d.bind.HandleSMS(ctx, smsbind.SMS{TPDU: s.TPDU, SMSC: s.SMSC})
}

// statusReport logs every SMS-STATUS-REPORT; the binding itself matches
// them to the SMS it sent (delivery tracking, counted in status).
func (d *Daemon) statusReport(r atpdu.StatusReport) {
	d.log.Debug("SMS status report", "mr", r.MR, "recipient", r.RA.String(), "status", int(r.ST))
}

// SMSStats returns the SMS binding's counters; false without one.
func (d *Daemon) SMSStats() (smsbind.Stats, bool) {
	if d.bind == nil {
		return smsbind.Stats{}, false
	}
	return d.bind.Stats(), true
}

// DTLSStats returns the DTLS-over-SMS session counters of server ssid.
func (d *Daemon) DTLSStats(ssid uint16) (smsdtls.Stats, bool) {
	if d.bind == nil {
		return smsdtls.Stats{}, false
	}
	return d.bind.DTLSStats(int(ssid))
}

// Modem is the modem driver (nil for a UDP-only gateway), for status.
func (d *Daemon) Modem() *modem.Modem { return d.modem }

// runWithModem is Run with a modem: the driver runs for the whole of Run;
// the endpoint name is completed from the modem; the binding, its status
// reports and one ServeConn per SMS server that registers over UDP (US,
// UQS) run beside the engine until the engine has de-registered (a server
// with binding S or SQ is served on its registration's own SMS connection,
// dialSMS); then they stop, the UICC application is closed
// and the driver stops last.
func (d *Daemon) runWithModem(ctx context.Context, ready func()) error {
	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	stopped := false
	stopServices := func() {
		if stopped {
			return
		}
		stopped = true
		stopSvc()
		wg.Wait()
		if d.bind != nil {
			_ = d.bind.Close()
		}
		if d.app != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), uiccCloseTimeout)
			if cerr := d.app.Close(cctx); cerr != nil {
				d.log.Warn("close the UICC application", "err", cerr)
			}
			cancel()
		}
	}
	modemCtx, stopModem := context.WithCancel(context.WithoutCancel(ctx))
	var modemWG sync.WaitGroup
	defer func() {
		stopServices()
		stopModem()
		modemWG.Wait()
	}()

	if d.bind != nil {
		wg.Go(func() { _ = d.bind.Run(svcCtx) })
		// Stored DTLS sessions are restored before the modem hands over
		// the first SMS: a record arriving while a session is still being
		// restored would be dropped as unauthenticated.
		d.restoreSessions(svcCtx)
	}
	modemWG.Go(func() { _ = d.modem.Run(modemCtx) })
	modemWG.Go(func() { d.runModemInfo(modemCtx) })
	if d.app != nil {
		// In svc's group: it stops before the App is closed.
		wg.Go(func() { d.watchUICCLink(svcCtx) })
	}
	modemWG.Go(func() {
		// READY=1 once the modem is initialised (style.md rule 18).
		if d.modem.WaitUp(modemCtx) == nil {
			ready()
		}
	})

	endpoint, msisdn, err := d.identity(ctx)
	if err != nil {
		if ctx.Err() != nil {
			d.log.Info("stopped before the modem answered")
			return nil
		}
		return err
	}
	eng, err := d.newEngine(endpoint, msisdn)
	if err != nil {
		return err
	}

	if d.bind != nil {
		wg.Go(func() { d.forwardStatusReports(svcCtx) })
		for _, c := range d.bind.Conns() {
			ssid := uint16(c.ServerID())
			if d.smsRegistered[ssid] {
				continue // the registration's own connection reads this Conn
			}
			if p := d.ports[ssid]; p != nil { // US: shared with a fallback registration
				wg.Go(func() { p.serve(svcCtx, eng, ssid, d.log) })
				continue
			}
			wg.Go(func() {
				if err := eng.ServeConn(svcCtx, ssid, datagramConn{Conn: c, log: d.log, ssid: ssid}, smsTransport); err != nil {
					d.log.Error("SMS connection not served", "server_id", ssid, "err", err)
				} else if svcCtx.Err() == nil {
					d.log.Warn("SMS connection closed", "server_id", ssid)
				}
			})
		}
		for _, ssid := range d.openAtStart {
			c, err := d.bind.Conn(int(ssid))
			if err != nil {
				continue
			}
			wg.Go(func() {
				dtlsMode := c.Mode() == smsbind.ModeDTLS
				if dtlsMode && d.dtlsSessionState(ssid) != control.DTLSSessionEstablished {
					d.ops.setSession(ssid, control.DTLSSessionHandshaking)
				}
				err := c.Open(svcCtx)
				switch {
				case err == nil:
					d.log.Info("SMS connection open", "server_id", ssid, "sms_mode", c.Mode().String())
					if dtlsMode {
						d.ops.setSession(ssid, "") // the counters tell from here
					}
				case svcCtx.Err() == nil:
					d.log.Warn("SMS connection not opened at start-up; the first message will try again", "server_id", ssid, "sms_mode", c.Mode().String(), "err", err)
					if dtlsMode {
						d.ops.setSession(ssid, "")
					}
				}
			})
		}
	}

	err = eng.Run(ctx)
	stopServices()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.log.Info("stopped")
	return nil
}

// restoreSessions opens the DTLS-over-SMS sessions that have a stored
// snapshot: restoring costs no SMS. Should a snapshot be refused, the
// session's handshake goes on in the background once the modem is up (its
// SMS wait for the link); restoreWait bounds how long start-up waits.
func (d *Daemon) restoreSessions(ctx context.Context) {
	ss := sessionStore{st: d.st}
	for _, c := range d.bind.Conns() {
		if c.Mode() != smsbind.ModeDTLS {
			continue
		}
		if b, err := ss.Load(c.RemoteAddr().String()); err != nil || b == nil {
			continue
		}
		octx, cancel := context.WithTimeout(ctx, restoreWait)
		err := c.Open(octx)
		cancel()
		if err != nil {
			d.log.Info("stored DTLS session not restored at start-up", "server_id", c.ServerID(), "err", err)
		}
	}
}

// forwardStatusReports gives the modem's SMS-STATUS-REPORTs to the binding's
// delivery tracking (never to DTLS).
func (d *Daemon) forwardStatusReports(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case sr := <-d.modem.StatusReports():
			if err := d.bind.HandleSMS(ctx, smsbind.SMS{TPDU: sr.TPDU}); err != nil && ctx.Err() == nil {
				d.log.Debug("status report not handled", "err", err)
			}
		}
	}
}

// placeholders are the endpoint name's modem-filled parts.
var placeholders = []string{"{imei}", "{iccid}"}

// identity returns the endpoint name with {imei} and {iccid} filled from the
// modem, and the gateway's MSISDN (modem.own_number, else AT+CNUM) when a
// binding contains S. It waits for the modem only when it needs it.
func (d *Daemon) identity(ctx context.Context) (endpoint, msisdn string, err error) {
	endpoint = d.cfg.Endpoint
	msisdn = d.cfg.Modem.OwnNumber
	needEP := false
	for _, p := range placeholders {
		needEP = needEP || strings.Contains(endpoint, p)
	}
	needNumber := msisdn == "" && len(d.openAtStart) > 0
	if !needEP && !needNumber {
		return endpoint, msisdn, nil
	}
	for attempt := 0; ; attempt++ {
		if err := d.modem.WaitUp(ctx); err != nil {
			return "", "", fmt.Errorf("daemon: wait for the modem: %w", err)
		}
		info, err := d.modem.Info(ctx)
		var missing []string
		if err == nil {
			if strings.Contains(endpoint, "{imei}") && info.IMEI == "" {
				missing = append(missing, "IMEI")
			}
			if strings.Contains(endpoint, "{iccid}") && info.ICCID == "" {
				missing = append(missing, "ICCID")
			}
			if len(missing) == 0 {
				ep := strings.NewReplacer("{imei}", info.IMEI, "{iccid}", info.ICCID).Replace(endpoint)
				if needNumber {
					msisdn = info.OwnNumber
					if msisdn == "" {
						d.log.Warn("the gateway's own number is unknown (set modem.own_number): Register carries no sms= parameter")
					}
				}
				if needEP {
					d.log.Info("endpoint name from the modem", "endpoint", ep)
				}
				return ep, msisdn, nil
			}
			err = fmt.Errorf("modem did not report its %s", strings.Join(missing, " and "))
		}
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		if attempt == 0 {
			d.log.Warn("the endpoint name needs the modem's identity; retrying", "endpoint", endpoint, "err", err, "retry", identityRetry)
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(identityRetry):
		}
	}
}
