package smsbind

// End-to-end tests at the SMS level over the emulated world: the emulated
// modem on a real pty (internal/emu/modem) driven by the real AT driver
// (internal/modem), the emulated SMS network (internal/emu/network) and the
// emulated UICC (internal/emu/sim). The test plays the LwM2M servers: it
// sends SMS-DELIVERs into the network from the server numbers and reads what
// the device submits to them.

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

const deviceNumber = "+33611111111"

var (
	e2eIdentity = []byte("lwm2m-clientd-test")
	e2eKey      = smsdtls.Secret{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
)

// inbox is a server number's endpoint on the emulated network.
type inbox struct {
	ch chan []byte // SMS-DELIVER TPDUs the device sent to this number

	mu     sync.Mutex
	fn     func([]byte) // guarded by mu: when set, it takes the SMS instead of ch
	refuse bool         // guarded by mu: refuse every SMS (the network retries, then gives up)
}

func (i *inbox) setRefuse(r bool) {
	i.mu.Lock()
	i.refuse = r
	i.mu.Unlock()
}

func (i *inbox) setFn(fn func([]byte)) {
	i.mu.Lock()
	i.fn = fn
	i.mu.Unlock()
}

func (i *inbox) Deliver(_ context.Context, tpdu []byte) error {
	i.mu.Lock()
	fn, refuse := i.fn, i.refuse
	i.mu.Unlock()
	if refuse {
		return errors.New("inbox: refused")
	}
	if fn != nil {
		fn(tpdu)
		return nil
	}
	i.ch <- bytes.Clone(tpdu)
	return nil
}

func (i *inbox) DeliverStatusReport(context.Context, []byte) error { return nil }

// memStore is an in-memory smsdtls.SessionStore.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Load(n string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.m[n]), nil
}

func (s *memStore) Save(n string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b == nil {
		delete(s.m, n)
	} else {
		s.m[n] = bytes.Clone(b)
	}
	return nil
}

type world struct {
	t     *testing.T
	ctx   context.Context
	net   *network.Network
	emu   *emu.Modem
	card  *sim.Card
	m     *modem.Modem
	store *memStore // DTLS sessions, kept across binding restarts
	cfg   Config
	clk   *fakeClock

	bmu   sync.Mutex
	b     *Binding // guarded by bmu (the driver's handler reads it)
	bstop func()   // stops the binding's Run and waits

	handled chan struct{} // one per SMS the driver handed to the binding
	reports chan struct{} // one per status report the driver handed to the binding
	dl      chan bool     // one per complete SMS-PP download on the card
	boxes   map[string]*inbox
}

// newWorld builds the emulated world with three servers (NoSec, DTLS,
// secure packet). hostDownload makes the modem hand class-2 / PID-0x7F SMS
// to the host instead of downloading them to the SIM itself.
func newWorld(t *testing.T, hostDownload bool) *world {
	t.Helper()
	return newWorldWith(t, worldOpts{hostDownload: hostDownload})
}

type worldOpts struct {
	hostDownload bool
	initialRTO   time.Duration // DTLS; zero: the smsdtls default
	// statusReports: the binding requests status reports (TP-SRR) and
	// the world forwards the driver's +CDS to it, as the daemon does.
	statusReports bool
	// netRetry and netAttempts: the network's store-and-forward retry
	// interval and attempts (zero: the network's defaults).
	netRetry    time.Duration
	netAttempts int
	// seed of the network's faults (zero: 1).
	seed uint64
}

func newWorldWith(t *testing.T, o worldOpts) *world {
	t.Helper()
	hostDownload := o.hostDownload
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	w := &world{t: t, ctx: ctx, clk: newFakeClock(), handled: make(chan struct{}, 1000), dl: make(chan bool, 100), boxes: map[string]*inbox{}}
	if o.seed == 0 {
		o.seed = 1
	}
	w.net = network.New(network.Config{Log: testLog(t).With("side", "net"), Seed: o.seed, RetryInterval: o.netRetry, MaxAttempts: o.netAttempts})
	prof, err := sim.LoadProfile("../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w.card, err = sim.New(prof, sim.Options{Logger: testLog(t), OnDownload: func(ok bool) { w.dl <- ok }})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ttyEMU")
	w.emu, err = emu.New(emu.Config{Link: link, Number: deviceNumber, SIM: w.card, Network: w.net, Log: testLog(t).With("side", "emu")})
	if err != nil {
		t.Fatal(err)
	}
	w.emu.SetQuirks(func(q *emu.Quirks) { q.DownloadToSIM = !hostDownload })
	w.net.Attach(deviceNumber, w.emu)
	for _, n := range []string{nosecNumber, dtlsNumber, spNumber, strangerNr} {
		w.boxes[n] = &inbox{ch: make(chan []byte, 100)}
		w.net.Attach(n, w.boxes[n])
	}

	w.m, err = modem.New(modem.Config{Port: link, Delivery: modem.DeliveryDirect, HandleSMS: func(ctx context.Context, s modem.SMS) error {
		w.bmu.Lock()
		b := w.b
		w.bmu.Unlock()
		err := b.HandleSMS(ctx, SMS{TPDU: s.TPDU, SMSC: s.SMSC})
		w.handled <- struct{}{}
		return err
	}}, modem.WithLogger(testLog(t).With("side", "driver")))
	if err != nil {
		t.Fatal(err)
	}
	w.store = &memStore{m: map[string][]byte{}}
	w.cfg = Config{
		Servers: []Server{
			{ID: 1, Number: nosecNumber, Mode: ModeNoSec},
			{ID: 2, Number: dtlsNumber, Mode: ModeDTLS, PSKIdentity: e2eIdentity, PSK: e2eKey},
			{ID: 3, Number: spNumber, Mode: ModeSecurePacket},
		},
		CountryCode:          "33",
		PollInterval:         30 * time.Second,
		InitialRTO:           o.initialRTO,
		RequestStatusReports: o.statusReports,
	}
	w.startBinding()

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.m.Run(runCtx) })
	// The driver's status reports go to the binding (daemon
	// forwardStatusReports); w.reports gets one signal per report handled.
	w.reports = make(chan struct{}, 1000)
	wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case sr := <-w.m.StatusReports():
				w.bmu.Lock()
				b := w.b
				w.bmu.Unlock()
				_ = b.HandleSMS(runCtx, SMS{TPDU: sr.TPDU})
				w.reports <- struct{}{}
			}
		}
	})
	t.Cleanup(func() {
		w.stopBinding()
		stop()
		wg.Wait()
		w.emu.Close()
		w.net.Close()
		cancel()
	})
	if err := w.m.WaitUp(ctx); err != nil {
		t.Fatalf("modem: %v", err)
	}
	for !func() bool { h := w.m.Health(); return !h.LastSweep.IsZero() }() {
		select {
		case <-w.m.HealthChanged():
		case <-ctx.Done():
			t.Fatal("no start-up sweep")
		}
	}
	return w
}

// startBinding builds a binding over the world's modem, card and session
// store and runs it: a daemon (re)start.
func (w *world) startBinding() {
	w.t.Helper()
	send := func(ctx context.Context, tpdu []byte) error { _, err := w.m.SendSMS(ctx, tpdu); return err }
	app, err := uicc.New(uicc.TransportFunc(w.m.CSIM), uicc.Config{}, send, uicc.WithLogger(testLog(w.t)))
	if err != nil {
		w.t.Fatal(err)
	}
	sendMR := func(ctx context.Context, tpdu []byte) (int, error) { return w.m.SendSMS(ctx, tpdu) }
	b, err := New(w.cfg, SubmitMRFunc(sendMR), WithUICC(app), WithSessionStore(w.store), WithClock(w.clk), WithLogger(testLog(w.t)))
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	w.bmu.Lock()
	w.b = b
	w.bstop = func() { cancel(); <-done; b.Close() }
	w.bmu.Unlock()
}

// stopBinding stops the running binding (a daemon stop; the session store
// survives).
func (w *world) stopBinding() {
	w.bmu.Lock()
	stop := w.bstop
	w.bstop = nil
	w.bmu.Unlock()
	if stop != nil {
		stop()
	}
}

// from sends an SMS-DELIVER into the network from number.
func (w *world) from(number string, d atpdu.Deliver) {
	w.t.Helper()
	if err := w.net.SendFrom(number, deviceNumber, d); err != nil {
		w.t.Fatalf("SendFrom %s: %v", number, err)
	}
}

// waitHandled waits until the driver handed n more SMS to the binding.
func (w *world) waitHandled(n int) {
	w.t.Helper()
	for range n {
		select {
		case <-w.handled:
		case <-w.ctx.Done():
			w.t.Fatalf("SMS not handed to the binding; stats %+v", w.b.Stats())
		}
	}
}

// recv waits for the next SMS the device sent to number.
func (w *world) recv(number string) atpdu.Deliver {
	w.t.Helper()
	select {
	case tpdu := <-w.boxes[number].ch:
		d, err := atpdu.DecodeDeliver(tpdu)
		if err != nil {
			w.t.Fatalf("device SMS to %s: %v", number, err)
		}
		return d
	case <-w.ctx.Done():
		w.t.Fatalf("no SMS to %s; stats %+v", number, w.b.Stats())
	}
	return atpdu.Deliver{}
}

// armed waits until the binding's poll waits on the fake clock.
func (w *world) armed() {
	w.t.Helper()
	select {
	case <-w.clk.added:
	case <-w.ctx.Done():
		w.t.Fatal("the GET DATA poll never waited")
	}
}

// read waits for one CoAP message on a server's Conn.
func (w *world) read(id int) []byte {
	w.t.Helper()
	c, err := w.b.Conn(id)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	m, err := c.ReadMessage(ctx)
	if err != nil {
		w.t.Fatalf("read server %d: %v; stats %+v", id, err, w.b.Stats())
	}
	return m
}

func (w *world) write(id int, msg []byte) {
	w.t.Helper()
	c, err := w.b.Conn(id)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.WriteMessage(w.ctx, msg); err != nil {
		w.t.Fatalf("write server %d: %v", id, err)
	}
}

// deviceSent lists the SMS-SUBMITs the device sent so far, checking the
// size rule on every one (TS 23.040 §9.2.3.24: 140 octets).
func (w *world) deviceSent() []atpdu.Submit {
	w.t.Helper()
	var out []atpdu.Submit
	for _, s := range w.net.Sent() {
		if s.From != deviceNumber {
			continue
		}
		sub, err := atpdu.DecodeSubmit(s.PDU)
		if err != nil {
			w.t.Fatalf("device SUBMIT %x: %v", s.PDU, err)
		}
		if n := len(sub.UD) + sub.UDH.Len(); n > atpdu.MaxUDOctets {
			w.t.Errorf("device SMS with %d octets of user data", n)
		}
		out = append(out, sub)
	}
	return out
}

// noQueued checks that nothing waits on any Conn.
func (w *world) noQueued() {
	w.t.Helper()
	for _, id := range []int{1, 2, 3} {
		c, _ := w.b.Conn(id)
		if got := queued(c); len(got) != 0 {
			w.t.Errorf("server %d got %x", id, got)
		}
	}
}

func eightBit(ud []byte) atpdu.Deliver { return atpdu.Deliver{DCS: 0x04, UD: ud} }

func TestE2ENoSec(t *testing.T) {
	w := newWorld(t, false)
	w.from(nosecNumber, eightBit(coapTrigger))
	if got := w.read(1); !bytes.Equal(got, coapTrigger) {
		t.Fatalf("server conn read %x, want %x", got, coapTrigger)
	}
	w.write(1, coapChanged)
	d := w.recv(nosecNumber)
	if !bytes.Equal(d.UD, coapChanged) || byte(d.DCS) != 0x04 || d.PID != 0 || len(d.UDH) != 0 || d.OA.String() != deviceNumber {
		t.Errorf("reply SMS %+v", d)
	}
	before := len(w.deviceSent())

	w.from(strangerNr, eightBit(coapTrigger))                     // spoofed sender
	w.from(nosecNumber, eightBit([]byte{0xde, 0xad, 0xbe, 0xef})) // garbage CoAP
	w.waitHandled(3)
	w.noQueued()
	st := w.b.Stats()
	if st.Total.DroppedSender != 1 || st.NoSec.DroppedMalform != 1 || st.NoSec.Accepted != 1 || st.NoSec.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
	if n := len(w.deviceSent()); n != before {
		t.Errorf("%d SMS sent in reply to bad SMS", n-before)
	}
}

// dtlsServer is the LwM2M server's DTLS side over the emulated network.
type dtlsServer struct {
	pc   *smsdtls.PacketConn
	conn *dtls.Conn

	mu     sync.Mutex
	tamper bool     // guarded by mu: flip a byte of the next SMS
	last   [][]byte // guarded by mu: SMS user data sent, as sent
}

// sent is how many SMS the server sent.
func (s *dtlsServer) sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.last)
}

func newDTLSServer(w *world) *dtlsServer { return newDTLSServerRTO(w, smsdtls.DefaultInitialRTO) }

func newDTLSServerRTO(w *world, rto time.Duration) *dtlsServer {
	w.t.Helper()
	s := &dtlsServer{}
	sender := senderFunc(func(_ context.Context, to string, ud []byte, _ time.Duration) error {
		ud = bytes.Clone(ud)
		s.mu.Lock()
		if s.tamper {
			ud[len(ud)-1] ^= 0x01
			s.tamper = false
		}
		s.last = append(s.last, bytes.Clone(ud))
		s.mu.Unlock()
		return w.net.SendFrom(dtlsNumber, to, eightBit(ud))
	})
	s.pc = smsdtls.NewPacketConn(deviceNumber, sender, rto, 0, nil)
	w.boxes[dtlsNumber].setFn(func(tpdu []byte) {
		if d, err := atpdu.DecodeDeliver(tpdu); err == nil {
			s.pc.Deliver(d.UD)
		}
	})
	conn, err := dtls.ServerWithOptions(s.pc, smsdtls.Addr(deviceNumber),
		dtls.WithPSK(func([]byte) ([]byte, error) { return e2eKey, nil }),
		dtls.WithCipherSuites(dtls.TLS_PSK_WITH_AES_128_CCM_8),
		dtls.WithMTU(smsdtls.HandshakeMTU),
		dtls.WithFlightInterval(rto))
	if err != nil {
		w.t.Fatal(err)
	}
	s.conn = conn
	w.t.Cleanup(func() { _ = s.conn.Close(); _ = s.pc.Close() })
	return s
}

type senderFunc func(ctx context.Context, to string, ud []byte, vp time.Duration) error

func (f senderFunc) SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error {
	return f(ctx, to, ud, vp)
}

func TestE2EDTLS(t *testing.T) {
	w := newWorld(t, false)
	srv := newDTLSServer(w)
	if st, ok := w.b.DTLSState(2); !ok || st != smsdtls.StateIdle {
		t.Errorf("DTLS state before Open: %v %v", st, ok)
	}
	if _, ok := w.b.DTLSState(1); ok {
		t.Error("a NoSec server has a DTLS state")
	}
	w.handshake(srv)
	if st, _ := w.b.DTLSState(2); st != smsdtls.StateEstablished {
		t.Errorf("DTLS state after Open: %v", st)
	}
	// Issue 8: a full handshake with HelloVerifyRequest costs at most 6 SMS.
	devHS, srvHS := len(w.deviceSent()), srv.sent()
	w.waitHandled(srvHS)
	t.Logf("handshake: %d device SMS + %d server SMS", devHS, srvHS)
	if devHS+srvHS > 6 {
		t.Errorf("handshake took %d device + %d server SMS", devHS, srvHS)
	}

	// With a live session a trigger costs 1 SMS in and 1 out.
	if _, err := srv.conn.Write(coapTrigger); err != nil {
		t.Fatal(err)
	}
	if got := w.read(2); !bytes.Equal(got, coapTrigger) {
		t.Fatalf("server conn read %x, want %x", got, coapTrigger)
	}
	w.write(2, coapChanged)
	_ = srv.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 200)
	n, err := srv.conn.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], coapChanged) {
		t.Fatalf("server read %x, %v", buf[:n], err)
	}
	w.waitHandled(1)
	if in, out := srv.sent()-srvHS, len(w.deviceSent())-devHS; in != 1 || out != 1 {
		t.Errorf("trigger cost %d SMS in, %d out", in, out)
	}
	before := len(w.deviceSent())
	st0 := w.b.Stats()
	dst0, _ := w.b.DTLSStats(2)

	// A status report on one of the device's SMS goes to delivery tracking,
	// never to DTLS.
	ra, _ := atpdu.ParseAddress(dtlsNumber)
	ts := atpdu.Timestamp{Year: 2026, Month: 11, Day: 28}
	sr, err := atpdu.StatusReport{MR: 1, RA: ra, SCTS: ts, DT: ts, ST: atpdu.StatusDelivered}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.b.HandleSMS(w.ctx, SMS{TPDU: sr}); err != nil {
		t.Fatal(err)
	}
	if dst, _ := w.b.DTLSStats(2); dst != dst0 {
		t.Errorf("a status report changed the DTLS session: %+v → %+v", dst0, dst)
	}

	// A HelloRequest from the server's number asks for a new session, but
	// the session is younger than RehandshakeInterval (10 min, counted from
	// the first handshake): anyone can forge one, so it is suppressed,
	// nothing is sent and the session keeps working. (smsdtls tests the
	// renewal after the interval with a fake clock.)
	sentBefore := len(w.deviceSent())
	w.from(dtlsNumber, eightBit(helloRequest))
	w.waitHandled(1)
	if dst, _ := w.b.DTLSStats(2); dst.Handshakes != 1 || dst.RehandshakesSuppressed != 1 {
		t.Errorf("after the HelloRequest: %+v", dst)
	}
	if n := len(w.deviceSent()) - sentBefore; n != 0 {
		t.Errorf("a HelloRequest within the interval made the device send %d SMS", n)
	}
	w.trigger(srv)
	w.drainHandled()
	w.clk.Advance(time.Minute) // refill the per-sender rate limit (10 SMS so far)
	before = len(w.deviceSent())
	st0 = w.b.Stats()

	// A tampered record from the right number, a valid record from the
	// wrong number, and a record replayed are all dropped without reply.
	srv.mu.Lock()
	srv.tamper = true
	srv.mu.Unlock()
	if _, err := srv.conn.Write(coapGet); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	prev := srv.last[len(srv.last)-2] // the coapTrigger record, already accepted
	srv.mu.Unlock()
	w.waitHandled(1)
	w.from(strangerNr, eightBit(prev))
	w.waitHandled(1)
	// Replayed: the accepted trigger record again from the right number
	// (TP-LP set so that it is not an exact duplicate TPDU): the DTLS
	// replay window drops it.
	replay := eightBit(prev)
	replay.LP = true
	w.from(dtlsNumber, replay)
	w.waitHandled(1)
	w.noQueued()
	st := w.b.Stats()
	if st.StatusReports != 1 || st.DTLS.Received != st0.DTLS.Received+2 {
		t.Errorf("stats %+v", st)
	}
	if dst, _ := w.b.DTLSStats(2); dst.Handshakes != 1 || dst.RehandshakesSuppressed != 2 || dst.Replayed != 1 {
		t.Errorf("DTLS stats after the bad records %+v", dst)
	}
	// Tampered and replayed are both badly protected.
	if st.DTLS.DroppedBadlySec != st0.DTLS.DroppedBadlySec+2 || st.Total.DroppedSender != st0.Total.DroppedSender+1 {
		t.Errorf("stats %+v (before %+v)", st, st0)
	}
	if n := len(w.deviceSent()); n != before {
		t.Errorf("%d SMS sent in reply to bad SMS", n-before)
	}
	if st.DTLS.Sent != uint64(before) || st.DTLS.Accepted != 2 {
		t.Errorf("DTLS counters %+v with %d SMS sent", st.DTLS, before)
	}
}

// helloRequest is a DTLS HelloRequest in one epoch-0 record (RFC 6347 §4.1
// record header, §4.2.2 handshake header; RFC 5246 §7.4.1.1).
var helloRequest = []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func (w *world) drainHandled() {
	for {
		select {
		case <-w.handled:
		default:
			return
		}
	}
}

// spServer is the LwM2M server's secured-packet side, with the SIM profile's
// keys (as the emulated server will have them from Security resources 7, 8).
type spServer struct {
	h    sp.Header
	keys sp.Keys
	ctr  uint64
}

func newSPServer(t testing.TB) *spServer {
	p, err := sim.LoadProfile("../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spi, err := sp.DecodeSPI(p.SPI)
	if err != nil {
		t.Fatal(err)
	}
	var tar sp.TAR
	copy(tar[:], p.TAR)
	return &spServer{h: sp.Header{SPI: spi, KIc: sp.KeyRef(p.KIc[0]), KID: sp.KeyRef(p.KID[0]), TAR: tar},
		keys: sp.Keys{KIc: p.KIcKey, KID: p.KIDKey}}
}

// seal returns the class-2 / PID-0x7F SMS-DELIVER carrying coap in one
// command packet with the next counter.
func (s *spServer) seal(t testing.TB, coap []byte) atpdu.Deliver {
	t.Helper()
	s.ctr++
	sd, err := sp.AppendCoAP(nil, coap)
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := sp.SealCommand(nil, sp.Command{Header: s.h, Counter: s.ctr, Data: sd}, s.keys)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := sp.SplitCommand(pkt, byte(s.ctr))
	if err != nil || len(parts) != 1 {
		t.Fatalf("SplitCommand: %d parts, %v", len(parts), err)
	}
	u, err := sp.DecodeUserData(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var udh atpdu.UDH
	for _, ie := range u.IEs {
		udh = append(udh, atpdu.IE{IEI: ie.ID, Data: ie.Data})
	}
	return atpdu.Deliver{PID: atpdu.PIDUSIMDataDownload, DCS: 0xF6, UDH: udh, UD: u.Payload}
}

// open decodes what the SIM sent and returns the CoAP message.
func (s *spServer) open(t testing.TB, d atpdu.Deliver) []byte {
	t.Helper()
	if d.PID != atpdu.PIDUSIMDataDownload || byte(d.DCS) != 0xF6 {
		t.Errorf("SIM's SMS PID %02x DCS %02x", byte(d.PID), byte(d.DCS))
	}
	var ies []sp.IE
	for _, ie := range d.UDH {
		ies = append(ies, sp.IE{ID: ie.IEI, Data: ie.Data})
	}
	var a sp.Assembler
	pkt, done, err := a.Add(deviceNumber, sp.UserData{IEs: ies, Payload: d.UD})
	if err != nil || !done {
		t.Fatalf("assemble: %v %v", done, err)
	}
	p, err := sp.DecodeCommandPacket(pkt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Open(s.keys, 0)
	if err != nil {
		t.Fatalf("open the SIM's packet: %v", err)
	}
	coap, err := sp.DecodeCoAP(c.Data)
	if err != nil {
		t.Fatal(err)
	}
	return coap
}

func TestE2ESecurePacket(t *testing.T) {
	for _, hostDownload := range []bool{true, false} {
		name := map[bool]string{true: "modem hands it to the host", false: "modem downloads silently"}[hostDownload]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, hostDownload)
			srv := newSPServer(t)
			// waitIn waits for the SMS to reach the binding (host
			// download) or the card (silent download, then the poll).
			waitIn := func(accepted bool) {
				t.Helper()
				if hostDownload {
					w.waitHandled(1)
					return
				}
				select {
				case ok := <-w.dl:
					if ok != accepted {
						t.Errorf("card accepted=%v, want %v", ok, accepted)
					}
				case <-w.ctx.Done():
					t.Fatal("no SMS-PP download")
				}
				// The poll is armed (its After was consumed below or
				// at start); fire it and wait until it re-arms, i.e.
				// its GET DATA is done.
				w.clk.Advance(30 * time.Second)
				w.armed()
			}
			if !hostDownload {
				w.armed() // the poll's first wait
			}

			req := srv.seal(t, coapTrigger)
			w.from(spNumber, req)
			waitIn(true)
			if got := w.read(3); !bytes.Equal(got, coapTrigger) {
				t.Fatalf("server conn read %x, want %x", got, coapTrigger)
			}
			w.write(3, coapChanged)
			if got := srv.open(t, w.recv(spNumber)); !bytes.Equal(got, coapChanged) {
				t.Errorf("reply %x, want %x", got, coapChanged)
			}
			before := len(w.deviceSent())
			st0 := w.b.Stats()

			// Tampered: one octet of the ciphertext flipped.
			bad := srv.seal(t, coapGet)
			bad.UD = bytes.Clone(bad.UD)
			bad.UD[len(bad.UD)-1] ^= 0x01
			w.from(spNumber, bad)
			waitIn(false)
			// Replayed: the accepted request again (its counter is not
			// higher any more); TP-LP set so the TPDU is not an exact
			// duplicate of the first one.
			replay := req
			replay.LP = true
			w.from(spNumber, replay)
			waitIn(false)
			// Spoofed: a valid packet from another number.
			w.from(strangerNr, srv.seal(t, coapGet))
			if hostDownload {
				w.waitHandled(1)
			} else {
				waitIn(true) // the card accepts it: its keys are right
			}
			w.noQueued()
			st := w.b.Stats()
			if n := len(w.deviceSent()); n != before {
				t.Errorf("%d SMS sent in reply to bad SMS", n-before)
			}
			// The card saw the tampered and the replayed packet and
			// dropped both; the spoofed one reaches it only when the
			// modem downloads by itself.
			cs := w.card.Stats()
			wantAccepted := map[bool]int{true: 1, false: 2}[hostDownload]
			if cs.Dropped != 2 || cs.Accepted != wantAccepted || cs.Sent != 1 {
				t.Errorf("card stats %+v", cs)
			}
			if hostDownload {
				if st.SecurePacket.DroppedBadlySec != st0.SecurePacket.DroppedBadlySec+2 || st.Total.DroppedSender != st0.Total.DroppedSender+1 {
					t.Errorf("stats %+v (before %+v)", st, st0)
				}
			} else if st.SecurePacket.DroppedSender != st0.SecurePacket.DroppedSender+1 {
				// The spoofed packet reached the card by itself; its
				// data_rcv address fails the filter.
				t.Errorf("stats %+v (before %+v)", st, st0)
			}
			if st.SecurePacket.Accepted != 1 || st.SecurePacket.Sent != 1 {
				t.Errorf("counters %+v", st.SecurePacket)
			}
		})
	}
}

// handshake opens the device's DTLS session to the server.
func (w *world) handshake(srv *dtlsServer) {
	w.t.Helper()
	c, _ := w.b.Conn(2)
	hsDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, 60*time.Second)
		defer cancel()
		hsDone <- srv.conn.HandshakeContext(ctx)
	}()
	if err := c.Open(w.ctx); err != nil {
		w.t.Fatalf("Open: %v; DTLS stats %+v", err, func() smsdtls.Stats { s, _ := w.b.DTLSStats(2); return s }())
	}
	if err := <-hsDone; err != nil {
		w.t.Fatalf("server handshake: %v", err)
	}
}

// trigger sends a CoAP request from the DTLS server and answers it.
func (w *world) trigger(srv *dtlsServer) {
	w.t.Helper()
	if _, err := srv.conn.Write(coapTrigger); err != nil {
		w.t.Fatal(err)
	}
	if got := w.read(2); !bytes.Equal(got, coapTrigger) {
		w.t.Fatalf("server conn read %x, want %x", got, coapTrigger)
	}
	w.write(2, coapChanged)
	_ = srv.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 200)
	n, err := srv.conn.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], coapChanged) {
		w.t.Fatalf("server read %x, %v", buf[:n], err)
	}
}

// TestE2EDTLSLossAndRestart: the handshake completes under 20 % SMS loss
// with shortened timers, and a daemon restart between two triggers costs
// no handshake SMS (the session is restored from the store).
func TestE2EDTLSLossAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("retransmits on real timers")
	}
	w := newWorldWith(t, worldOpts{initialRTO: 300 * time.Millisecond})
	srv := newDTLSServerRTO(w, 300*time.Millisecond)
	w.net.SetFaults(network.Faults{Loss: 0.2})
	w.handshake(srv)
	w.net.SetFaults(network.Faults{})
	st, _ := w.b.DTLSStats(2)
	t.Logf("handshake under 20%% loss: %d device SMS, %d server SMS, %d handshakes", st.SMSSent, srv.sent(), st.Handshakes)
	w.trigger(srv)

	w.stopBinding()
	w.startBinding()
	before := len(w.deviceSent())
	w.trigger(srv)
	if n := len(w.deviceSent()) - before; n != 1 {
		t.Errorf("a trigger after a restart cost %d device SMS, want 1", n)
	}
	if st, _ := w.b.DTLSStats(2); st.Handshakes != 0 || st.Restores != 1 {
		t.Errorf("after restart: %+v", st)
	}
}

// TestE2EDTLSForgedRecordsDoNotStarve: with an established session, records
// that the session does not authenticate are dropped without being charged
// to the server's rate limit, so a forger of the server's number cannot use
// up the budget (DefaultPerSenderCount a minute) and starve a genuine
// trigger; unauthenticated SMS never reach the engine either way.
func TestE2EDTLSForgedRecordsDoNotStarve(t *testing.T) {
	w := newWorld(t, false)
	srv := newDTLSServer(w)
	w.handshake(srv)
	w.waitHandled(srv.sent())
	before := len(w.deviceSent())
	st0 := w.b.Stats()

	// 3× the per-sender budget of epoch-1 application records with a
	// wrong tag, as anyone can send with the server's number.
	const forged = 3 * DefaultPerSenderCount
	for i := range forged {
		rec := []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0x10, byte(i), 0, 24}
		rec = append(rec, bytes.Repeat([]byte{byte(i)}, 24)...)
		w.from(dtlsNumber, eightBit(rec))
	}
	w.waitHandled(forged)
	st := w.b.Stats()
	if got := st.DTLS.DroppedBadlySec - st0.DTLS.DroppedBadlySec; got != forged {
		t.Errorf("%d forged records dropped as badly protected, want %d (%+v)", got, forged, st.DTLS)
	}
	if got := st.DTLS.DroppedRate - st0.DTLS.DroppedRate; got != 0 {
		t.Errorf("%d SMS dropped by the rate limit: forged records were charged", got)
	}
	// The genuine trigger, with no clock advance: served, 1 SMS out.
	w.trigger(srv)
	w.waitHandled(1)
	if n := len(w.deviceSent()) - before; n != 1 {
		t.Errorf("device sent %d SMS for a flood and one trigger, want 1", n)
	}
}
