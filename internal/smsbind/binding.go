package smsbind

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// SMS is one received SMS as the modem driver hands it over.
type SMS struct {
	// TPDU is the SMS-DELIVER or SMS-STATUS-REPORT TPDU, SMSC prefix
	// removed.
	TPDU []byte
	// SMSC is the service centre address of the PDU prefix (zero when
	// absent); mode 2 gives it to the UICC with the ENVELOPE.
	SMSC atpdu.Address
}

// Binding is the SMS binding: the router of inbound SMS and the Conns of
// the servers. HandleSMS is called by the modem driver's single dispatch
// goroutine; Run owns the GET DATA poll and the DTLS readers; Conns are used
// by the engine. All methods are safe for concurrent use.
type Binding struct {
	cfg      Config                   // immutable after New
	sub      Submitter                // non-nil
	log      *slog.Logger             // non-nil
	clock    Clock                    // non-nil
	uicc     UICC                     // nil unless a mode-2 server exists
	store    smsdtls.SessionStore     // nil unless a mode-1 server exists
	onReport func(atpdu.StatusReport) // may be nil
	dtls     *smsdtls.Client          // nil unless a mode-1 server exists
	servers  []*server                // immutable after New
	nosec    *server                  // the NoSec server of AcceptAnySenderNoSec, or nil
	lim      *limiter                 // non-nil
	track    *tracker                 // non-nil
	st       stats

	uiccMu sync.Mutex // serialises APDU sequences: ENVELOPE+GET DATA, poll, STORE DATA

	dedupMu sync.Mutex
	recent  [dedupWindow][sha256.Size]byte // guarded by dedupMu: ring of recent TPDU hashes
	seen    map[[sha256.Size]byte]struct{} // guarded by dedupMu
	next    int                            // guarded by dedupMu: next ring slot

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	running   atomic.Bool   // a Run is active
}

// server is one row of the server table with its Conn.
type server struct {
	cfg  Server
	log  *slog.Logger     // carries server_id, msisdn, sms_mode
	conn *Conn            // non-nil
	dtls *smsdtls.Session // mode 1 only
	wake chan struct{}    // mode 1: cap 1, starts the DTLS reader once a session exists
	addr uicc.Address     // mode 2: the number as a data_rcv address, for messages no request prompted
}

func (s *server) wakeReader() {
	if s.wake == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// New builds the binding for the server table in cfg. Mode-1 servers need
// WithSessionStore, mode-2 servers WithUICC.
func New(cfg Config, sub Submitter, opts ...Option) (*Binding, error) {
	if sub == nil {
		return nil, errors.New("smsbind: no SMS submitter")
	}
	cfg.applyDefaults()
	cfg.Servers = append([]Server(nil), cfg.Servers...)
	b := &Binding{cfg: cfg, sub: sub, seen: make(map[[sha256.Size]byte]struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(b)
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.log = b.log.With("component", "smsbind")
	if b.clock == nil {
		b.clock = realClock{}
	}
	for _, l := range []Limit{cfg.PerSender, cfg.Global} {
		if l.Count < 1 || l.Interval <= 0 {
			return nil, fmt.Errorf("smsbind: rate limit %s is not a positive count per positive interval", l)
		}
	}
	b.lim = newLimiter(b.clock, cfg.PerSender, cfg.Global)
	b.track = newTracker(b.clock, cfg.DeliveryReportTimeout, cfg.CountryCode, b.log)
	if cfg.RequestStatusReports {
		if _, ok := sub.(MRSubmitter); !ok {
			b.log.Warn("status reports requested but the SMS submitter gives no TP-MR: deliveries cannot be tracked")
		}
	}
	var nosec []*server
	for i, sc := range cfg.Servers {
		if err := b.addServer(i, sc); err != nil {
			b.Close()
			return nil, err
		}
		if sc.Mode == ModeNoSec {
			nosec = append(nosec, b.servers[len(b.servers)-1])
		}
	}
	if cfg.AcceptAnySenderNoSec {
		if len(nosec) != 1 {
			b.Close()
			return nil, fmt.Errorf("smsbind: accepting any sender needs exactly one nosec server, there are %d", len(nosec))
		}
		b.nosec = nosec[0]
		b.log.Warn("DEBUG ONLY: SMS from ANY sender are accepted for the NoSec server; LwM2M-TS 1.0 §7.2 requires ignoring unknown senders in production",
			"server_id", b.nosec.cfg.ID, "msisdn", b.nosec.cfg.Number)
	}
	return b, nil
}

func (b *Binding) addServer(i int, sc Server) error {
	if sc.ID <= 0 {
		return fmt.Errorf("smsbind: server %d: no short server id", i)
	}
	if !sc.Mode.valid() {
		return fmt.Errorf("smsbind: server %d: SMS security mode %d is not 1, 2 or 3", sc.ID, int(sc.Mode))
	}
	oa, err := atpdu.ParseAddress(sc.Number)
	if err != nil || oa.TON == tonAlphanumeric {
		return fmt.Errorf("smsbind: server %d: %q is not an MSISDN", sc.ID, sc.Number)
	}
	for _, o := range b.servers {
		if o.cfg.ID == sc.ID {
			return fmt.Errorf("smsbind: server %d: short server id used twice", sc.ID)
		}
		if oa.SameMSISDN(o.cfg.Number, b.cfg.CountryCode) {
			return fmt.Errorf("smsbind: servers %d and %d: number %s used twice; the sender filter could not tell them apart", o.cfg.ID, sc.ID, sc.Number)
		}
	}
	s := &server{cfg: sc, log: b.log.With("server_id", sc.ID, "msisdn", sc.Number, "sms_mode", sc.Mode.String())}
	s.conn = newConn(b, s, b.cfg.QueueLen)
	switch sc.Mode {
	case ModeDTLS:
		if b.store == nil {
			return fmt.Errorf("smsbind: server %d: DTLS over SMS needs a session store", sc.ID)
		}
		if b.dtls == nil {
			if b.dtls, err = smsdtls.New(dtlsSender{b}, b.store, smsdtls.WithLogger(b.log)); err != nil {
				return fmt.Errorf("smsbind: start DTLS client: %w", err)
			}
		}
		s.dtls, err = b.dtls.Session(smsdtls.Config{Number: sc.Number, Mode: smsdtls.ModePSK,
			PSKIdentity: sc.PSKIdentity, PSK: sc.PSK, InitialRTO: b.cfg.InitialRTO,
			HandshakeTimeout: b.cfg.HandshakeTimeout, RehandshakeInterval: b.cfg.RehandshakeInterval})
		if err != nil {
			return fmt.Errorf("smsbind: server %d: DTLS session: %w", sc.ID, err)
		}
		s.wake = make(chan struct{}, 1)
	case ModeSecurePacket:
		if b.uicc == nil {
			return fmt.Errorf("smsbind: server %d: secure-packet mode needs the UICC application", sc.ID)
		}
		if s.addr, err = encodeAddressField(sc.Number); err != nil {
			return fmt.Errorf("smsbind: server %d: %q as a TS 23.040 address: %w", sc.ID, sc.Number, err)
		}
	}
	b.servers = append(b.servers, s)
	return nil
}

// Conn returns the Conn of the server with that Short Server ID.
func (b *Binding) Conn(serverID int) (*Conn, error) {
	for _, s := range b.servers {
		if s.cfg.ID == serverID {
			return s.conn, nil
		}
	}
	return nil, fmt.Errorf("%w: short server id %d", ErrUnknownServer, serverID)
}

// Conns returns the Conns of all servers, in the order of Config.Servers.
func (b *Binding) Conns() []*Conn {
	out := make([]*Conn, len(b.servers))
	for i, s := range b.servers {
		out[i] = s.conn
	}
	return out
}

// Stats returns the counters.
func (b *Binding) Stats() Stats {
	st := b.st.snapshot()
	st.Delivery = b.track.snapshot()
	return st
}

// DTLSState returns where the DTLS session of a mode-1 server stands.
func (b *Binding) DTLSState(serverID int) (smsdtls.State, bool) {
	for _, s := range b.servers {
		if s.cfg.ID == serverID && s.dtls != nil {
			return s.dtls.State(), true
		}
	}
	return smsdtls.StateIdle, false
}

// DTLSStats returns the DTLS session counters of a mode-1 server.
func (b *Binding) DTLSStats(serverID int) (smsdtls.Stats, bool) {
	for _, s := range b.servers {
		if s.cfg.ID == serverID && s.dtls != nil {
			return s.dtls.Stats(), true
		}
	}
	return smsdtls.Stats{}, false
}

// Close closes every Conn and DTLS session (no close_notify: the stored
// sessions stay valid). Idempotent; call it after Run returned.
func (b *Binding) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		for _, s := range b.servers {
			s.conn.Close()
			if s.dtls != nil {
				s.dtls.Close()
			}
		}
	})
	return nil
}

// Run polls GET DATA every PollInterval when a mode-2 server exists and
// reads the DTLS sessions of mode-1 servers, until ctx ends or Close. It
// returns ctx's error after its goroutines stopped. Only one Run may be
// active; without it no DTLS message reaches a Conn.
func (b *Binding) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("smsbind: Run is already active")
	}
	defer b.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	poll := false
	for _, s := range b.servers {
		switch s.cfg.Mode {
		case ModeDTLS:
			wg.Go(func() { b.readDTLS(ctx, s) })
		case ModeSecurePacket:
			poll = true
		}
	}
	if poll {
		wg.Go(func() { b.poll(ctx) })
	}
	wg.Wait()
	<-ctx.Done()
	return ctx.Err()
}

// poll fetches what the UICC received without the host being told (real
// modems download class-2 / PID-0x7F SMS to the SIM silently, sms-pdu.md
// §13; LwM2M-TS 1.0 §7.2.2.2.1 NOTE: "polling mechanisms").
func (b *Binding) poll(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.clock.After(b.cfg.PollInterval):
		}
		b.uiccMu.Lock()
		_, err := b.fetch(ctx, nil)
		b.uiccMu.Unlock()
		if err != nil && ctx.Err() == nil {
			b.log.Warn("GET DATA poll failed", "err", err)
		}
	}
}

// readDTLS moves CoAP messages from a server's DTLS session to its Conn.
// It waits for a session to exist (a Write, Open or authenticated record)
// so that it never starts a handshake by itself.
func (b *Binding) readDTLS(ctx context.Context, s *server) {
	buf := make([]byte, smsdtls.MaxDatagram)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			n, err := s.dtls.Read(ctx, buf)
			if err != nil {
				switch {
				case ctx.Err() != nil, errors.Is(err, smsdtls.ErrClosed):
					return
				case errors.Is(err, smsdtls.ErrPeerClosed):
					s.log.Info("DTLS session closed by the server; waiting for the next message")
				default:
					s.log.Warn("DTLS read failed; waiting for the next message", "err", err)
				}
				break
			}
			b.accept(s, append([]byte(nil), buf[:n]...))
		}
	}
}

// HandleSMS routes one received SMS. It is synchronous: when it returns nil
// the SMS has been handed off (queued for the engine, given to DTLS or the
// UICC) or deliberately dropped, and the driver may delete it. It returns an
// error only when the SMS could not be processed yet and must be kept for a
// later attempt (the UICC transport failed or the toolkit was busy).
// Duplicates are tolerated: an exact repeat of a recent TPDU is dropped.
func (b *Binding) HandleSMS(ctx context.Context, sms SMS) error {
	typ, err := atpdu.TypeOf(sms.TPDU)
	if err != nil || typ != atpdu.TypeStatusReport {
		b.st.total.received.Add(1)
	}
	if err != nil {
		b.st.add(0, cFormat)
		b.log.Debug("SMS dropped: undecodable", "err", err)
		return nil
	}
	switch typ {
	case atpdu.TypeStatusReport:
		// Delivery tracking only, never DTLS (LwM2M-TS 1.0 §7.2.2.1.5).
		r, err := atpdu.DecodeStatusReport(sms.TPDU)
		if err != nil {
			b.st.add(0, cFormat)
			b.log.Debug("status report dropped: undecodable", "err", err)
			return nil
		}
		b.st.reports.Add(1)
		b.track.report(r)
		if b.onReport != nil {
			b.onReport(r)
		}
		return nil
	case atpdu.TypeSubmit:
		b.st.add(0, cFormat)
		b.log.Debug("SMS dropped: an SMS-SUBMIT is not received traffic")
		return nil
	}
	d, err := atpdu.DecodeDeliver(sms.TPDU)
	if err != nil {
		b.st.add(0, cFormat)
		b.log.Debug("SMS dropped: undecodable SMS-DELIVER", "err", err)
		return nil
	}
	sum := sha256.Sum256(sms.TPDU)
	if b.isDuplicate(sum) {
		b.st.add(0, cDup)
		b.log.Debug("SMS dropped: duplicate", "msisdn", d.OA.String())
		return nil
	}
	if err := b.route(ctx, sms, d); err != nil {
		return err
	}
	b.remember(sum)
	return nil
}

// match finds the server whose resource 9 names addr (LwM2M-TS 1.0 §7.2;
// lwm2m.md §2.5: compared by TON, "+" and trunk prefixes normalised).
func (b *Binding) match(addr atpdu.Address) *server {
	for _, s := range b.servers {
		if addr.SameMSISDN(s.cfg.Number, b.cfg.CountryCode) {
			return s
		}
	}
	return nil
}

func (b *Binding) route(ctx context.Context, sms SMS, d atpdu.Deliver) error {
	s := b.match(d.OA)
	if s == nil {
		if b.nosec == nil {
			// LwM2M-TS 1.0 §7.2: "MUST be silently ignored".
			b.st.add(0, cSender)
			b.log.Debug("SMS ignored: sender is no server's SMS number", "msisdn", d.OA.String())
			return nil
		}
		s = b.nosec
		s.log.Info("DEBUG: SMS from an unknown sender accepted for the NoSec server", "sender", d.OA.String())
	}
	mode := s.cfg.Mode
	b.st.byMode[mode].received.Add(1)
	switch mode {
	case ModeNoSec, ModeDTLS:
		// sms-pdu.md §14: 8-bit data, no header; the user data is the
		// whole datagram (no concatenation, LwM2M-TS 1.0 §7.2.2.1.2).
		if d.DCS.Coding() != atpdu.Coding8Bit || len(d.UDH) > 0 || d.UDHI || d.DCS.Compressed() {
			b.st.add(mode, cFormat)
			s.log.Debug("SMS dropped: not 8-bit data without header", "dcs", byte(d.DCS), "udhi", d.UDHI)
			return nil
		}
		if mode == ModeNoSec {
			if b.allow(s) {
				b.accept(s, d.UD)
			}
			return nil
		}
		// With an established session, a record the session does not
		// authenticate costs the device no SMS (dropped without reply;
		// re-handshakes have their own limit in smsdtls), so only
		// authenticated records are charged: whoever forges the server's
		// number cannot use up the server's budget and starve its
		// triggers. During a handshake every record may be answered, so
		// each is charged up front.
		afterAuth := s.dtls.State() == smsdtls.StateEstablished
		if afterAuth && !b.lim.check(s.cfg.Number) {
			b.st.add(mode, cRate)
			s.log.Debug("SMS dropped: rate limit")
			return nil
		}
		if !afterAuth && !b.allow(s) {
			return nil
		}
		before := s.dtls.Stats()
		s.dtls.Deliver(d.UD)
		if after := s.dtls.Stats(); after.Unauthenticated != before.Unauthenticated || after.Replayed != before.Replayed {
			b.st.add(mode, cBadly)
			s.log.Debug("SMS dropped: DTLS record not authenticated or replayed", "size", len(d.UD))
			return nil
		}
		if afterAuth {
			b.lim.take(s.cfg.Number)
		}
		s.wakeReader()
		return nil
	default: // ModeSecurePacket
		return b.routeSecurePacket(ctx, s, sms, d)
	}
}

// routeSecurePacket gives a secured packet that reached the host to the UICC
// (ENVELOPE SMS-PP DOWNLOAD, as the modem would have, TS 31.111 §7.1.1) and
// fetches what it yields with GET DATA (LwM2M-TS 1.0 §7.2.2.2.1).
func (b *Binding) routeSecurePacket(ctx context.Context, s *server, sms SMS, d atpdu.Deliver) error {
	mode := s.cfg.Mode
	// LwM2M-TS 1.0 §7.2.2.2: class 2, TP-PID (U)SIM data download; anything
	// else is not a secured packet for the UICC.
	if !d.SIMDataDownload() {
		b.st.add(mode, cFormat)
		s.log.Debug("SMS dropped: secure-packet mode needs class 2 and PID 0x7F", "pid", byte(d.PID), "dcs", byte(d.DCS))
		return nil
	}
	var smsc []byte
	if !sms.SMSC.IsZero() {
		p, err := atpdu.AppendSMSC(nil, sms.SMSC)
		if err == nil && len(p) > 1 {
			smsc = p[1:] // TS 102 223 §8.1: TON/NPI ‖ BCD, without the length octet
		}
	}
	// The card may answer a download with proactive commands that send
	// SMS (a PoR by SEND SHORT MESSAGE): the flood limit applies here. The
	// CoAP message this download yields is not charged again.
	if !b.allow(s) {
		return nil
	}
	b.uiccMu.Lock()
	defer b.uiccMu.Unlock()
	rsp, err := b.uicc.DownloadSMS(ctx, smsc, sms.TPDU)
	switch {
	case err != nil && rsp.SW.OK():
		// The card took the packet; only serving its proactive commands
		// failed. Re-downloading would be a replay, so go on.
		s.log.Warn("proactive command after SMS-PP download failed", "err", err)
	case err != nil:
		return fmt.Errorf("smsbind: ENVELOPE SMS-PP download from %s: %w", d.OA.String(), err)
	}
	switch {
	case rsp.SW == uicc.SWToolkitBusy:
		// TS 31.111 §7.1.1.1: the ME retries later; so do we (the driver
		// keeps the SMS).
		return fmt.Errorf("smsbind: ENVELOPE SMS-PP download from %s: %s", d.OA.String(), rsp.SW)
	case !rsp.SW.OK():
		b.st.add(mode, cBadly)
		s.log.Debug("SMS dropped: the UICC refused the secured packet", "sw", rsp.SW.String())
		return nil
	}
	got, err := b.fetch(ctx, s)
	if err != nil {
		// The packet is on the card; the next poll fetches it.
		s.log.Warn("GET DATA after SMS-PP download failed; the poll will retry", "err", err)
		return nil
	}
	if got[s] == 0 {
		if _, _, seq, ok := d.UDH.Concat(); ok && seq >= 1 {
			s.log.Debug("part of a concatenated secured packet given to the UICC")
			return nil
		}
		// A single-SMS packet that yields no message was discarded by the
		// UICC (bad checksum, replayed counter, wrong keys: TS 102 225 §5).
		b.st.add(mode, cBadly)
		s.log.Debug("SMS dropped: the UICC discarded the secured packet")
	}
	return nil
}

// fetch runs GET DATA and routes each record; b.uiccMu must be held. It
// returns how many messages each server got. One record of prepaid (the
// server whose SMS was just downloaded) was charged to the rate limit
// already.
func (b *Binding) fetch(ctx context.Context, prepaid *server) (map[*server]int, error) {
	recs, err := b.uicc.GetData(ctx)
	if err != nil {
		return nil, fmt.Errorf("smsbind: GET DATA: %w", err)
	}
	got := make(map[*server]int)
	for _, r := range recs {
		addr, err := decodeAddressField(r.Address)
		s := b.match(addr)
		if err != nil || s == nil || s.cfg.Mode != ModeSecurePacket {
			// The data_rcv address must name the server again
			// (LwM2M-TS 1.0 §7.2: unknown senders are ignored).
			b.st.add(ModeSecurePacket, cSender)
			b.log.Debug("UICC message ignored: address is no secure-packet server's number", "msisdn", r.Address.String())
			continue
		}
		if s == prepaid {
			prepaid = nil
		} else if !b.allow(s) {
			continue
		}
		s.conn.setReplyTo(r.Address)
		if b.accept(s, r.Message) {
			got[s]++
		}
	}
	return got, nil
}

// allow applies the flood limits to an SMS that could make the daemon send
// SMS (a CoAP request is answered; DTLS handshake records are answered).
func (b *Binding) allow(s *server) bool {
	if b.lim.allow(s.cfg.Number) {
		return true
	}
	b.st.add(s.cfg.Mode, cRate)
	s.log.Debug("SMS dropped: rate limit")
	return false
}

// accept checks that msg is a CoAP message and queues it for the engine.
func (b *Binding) accept(s *server, msg []byte) bool {
	mode := s.cfg.Mode
	if !wellFormedCoAP(msg) {
		b.st.add(mode, cMalformed)
		s.log.Debug("message dropped: not a well-formed CoAP message", "size", len(msg))
		return false
	}
	if !s.conn.deliver(append([]byte(nil), msg...)) {
		b.st.add(mode, cQueue)
		s.log.Debug("message dropped: the engine's queue is full or closed", "size", len(msg))
		return false
	}
	b.st.add(mode, cAccepted)
	return true
}

func (b *Binding) isDuplicate(sum [sha256.Size]byte) bool {
	b.dedupMu.Lock()
	defer b.dedupMu.Unlock()
	_, ok := b.seen[sum]
	return ok
}

func (b *Binding) remember(sum [sha256.Size]byte) {
	b.dedupMu.Lock()
	defer b.dedupMu.Unlock()
	if _, ok := b.seen[sum]; ok {
		return
	}
	if old := b.recent[b.next]; old != ([sha256.Size]byte{}) {
		delete(b.seen, old)
	}
	b.recent[b.next] = sum
	b.seen[sum] = struct{}{}
	b.next = (b.next + 1) % dedupWindow
}

// send writes one CoAP message the mode's way.
func (b *Binding) send(ctx context.Context, c *Conn, msg []byte) error {
	s := c.srv
	switch s.cfg.Mode {
	case ModeNoSec:
		return b.submit(ctx, s, msg, b.cfg.NoSecValidity)
	case ModeDTLS:
		if len(msg) > smsdtls.MaxPlaintext {
			b.st.add(ModeDTLS, cOversize)
			return &SizeError{Mode: ModeDTLS, Size: len(msg), Max: smsdtls.MaxPlaintext}
		}
		if err := s.dtls.Write(ctx, msg); err != nil {
			return fmt.Errorf("smsbind: DTLS write to %s: %w", s.cfg.Number, err)
		}
		s.wakeReader()
		return nil
	default: // ModeSecurePacket
		da := c.replyAddress()
		b.uiccMu.Lock()
		err := b.uicc.StoreData(ctx, da, msg)
		b.uiccMu.Unlock()
		if err != nil {
			b.st.add(ModeSecurePacket, cSendFail)
			return fmt.Errorf("smsbind: STORE DATA for %s: %w", da.String(), err)
		}
		b.st.add(ModeSecurePacket, cSent)
		return nil
	}
}

// dtlsSender is the smsdtls.Sender of the DTLS sessions.
type dtlsSender struct{ b *Binding }

// SendSMS submits one DTLS datagram to the server numbered to.
func (d dtlsSender) SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error {
	for _, s := range d.b.servers {
		if s.cfg.Number == to {
			return d.b.submit(ctx, s, ud, vp)
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownServer, to)
}

// submit sends ud as one SMS-SUBMIT to the server (modes 1 and 3).
func (b *Binding) submit(ctx context.Context, s *server, ud []byte, vp time.Duration) error {
	mode := s.cfg.Mode
	srr := b.cfg.RequestStatusReports
	tpdu, err := outboundSubmit(s.cfg.Number, ud, vp, srr)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			b.st.add(mode, cOversize)
			if se := (*SizeError)(nil); errors.As(err, &se) {
				se.Mode = mode
			}
		}
		return err
	}
	ms, withMR := b.sub.(MRSubmitter)
	if !srr || !withMR {
		if err := b.sub.SubmitSMS(ctx, tpdu); err != nil {
			b.st.add(mode, cSendFail)
			return fmt.Errorf("smsbind: send SMS to %s: %w", s.cfg.Number, err)
		}
		b.st.add(mode, cSent)
		return nil
	}
	b.track.begin()
	mr, err := ms.SubmitSMSMR(ctx, tpdu)
	if err != nil {
		b.track.end(0, s, false)
		b.st.add(mode, cSendFail)
		return fmt.Errorf("smsbind: send SMS to %s: %w", s.cfg.Number, err)
	}
	b.st.add(mode, cSent)
	if mr < 0 || mr > 0xFF {
		b.track.end(0, s, false)
		s.log.Warn("SMS sent but its TP-MR is out of range: delivery not tracked", "mr", mr)
		return nil
	}
	b.track.end(byte(mr), s, true)
	return nil
}

// outboundSubmit builds the SMS-SUBMIT of modes 1 and 3 (sms-pdu.md §14):
// 8-bit data without message class (DCS 0x04: class 2 + PID 0x7F would route
// it to the server's SIM), PID 0x00, no UDH, no concatenation, a relative
// validity period of at least vp (TS 23.040 §9.2.3.12.1), TP-SRR as asked
// (§9.2.3.5), and, checked on the encoded TPDU as the last step before the
// modem, at most 140 octets of user data (TS 23.040 §9.2.3.24).
func outboundSubmit(number string, ud []byte, vp time.Duration, srr bool) ([]byte, error) {
	if len(ud) > atpdu.MaxUDOctets {
		return nil, &SizeError{Size: len(ud), Max: atpdu.MaxUDOctets}
	}
	da, err := atpdu.ParseAddress(number)
	if err != nil {
		return nil, fmt.Errorf("smsbind: server number %q: %w", number, err)
	}
	v, err := atpdu.RelativeVP(vp)
	if err != nil {
		return nil, fmt.Errorf("smsbind: validity period %s: %w", vp, err)
	}
	dcs, err := atpdu.NewDCS(atpdu.Coding8Bit, atpdu.ClassNone)
	if err != nil {
		return nil, err
	}
	tpdu, err := atpdu.Submit{DA: da, PID: atpdu.PIDNormal, DCS: dcs, VP: v, SRR: srr, UD: ud}.Append(nil)
	if err != nil {
		return nil, fmt.Errorf("smsbind: encode SMS-SUBMIT to %s: %w", number, err)
	}
	if err := checkOutbound(tpdu); err != nil {
		return nil, err
	}
	return tpdu, nil
}

// checkOutbound is the last gate before the modem: it decodes the TPDU about
// to be sent and refuses anything but one 8-bit, classless, PID 0x00,
// header-less SMS of at most 140 octets.
func checkOutbound(tpdu []byte) error {
	s, err := atpdu.DecodeSubmit(tpdu)
	if err != nil {
		return fmt.Errorf("smsbind: outbound SMS-SUBMIT does not decode: %w", err)
	}
	switch {
	case len(s.UD)+s.UDH.Len() > atpdu.MaxUDOctets:
		return &SizeError{Size: len(s.UD) + s.UDH.Len(), Max: atpdu.MaxUDOctets}
	case s.DCS.Coding() != atpdu.Coding8Bit, s.DCS.Class() != atpdu.ClassNone, s.PID != atpdu.PIDNormal,
		s.UDHI, len(s.UDH) > 0:
		return fmt.Errorf("smsbind: outbound SMS-SUBMIT is not 8-bit, classless, PID 0x00 without header (DCS %02x PID %02x)", byte(s.DCS), byte(s.PID))
	}
	return nil
}
