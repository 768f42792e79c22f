package daemon_test

// End-to-end tests of the daemon with a modem, one per SMS security mode,
// over the real emulated world: the emulated modem on a pty (internal/emu/
// modem) driven by the real AT driver through daemon.New/Run, the emulated
// SMS network and the emulated SIM (configs/emulator-sim.yaml), and the
// emulated LwM2M server (internal/emu/server) on loopback UDP for the
// registration. The test plays the server's SMS side the way smsbind's
// end-to-end tests do: plain CoAP (NoSec), a pion DTLS server with
// HelloVerifyRequest over smsdtls.PacketConn (DTLS), secured packets sealed
// with the SIM's keys (secure packet). The configurations are the shipped
// configs/sms-*.yaml with the server's URI and the pty patched in.

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/emutest"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
)

const (
	deviceNumber = "+33611111111" // configs/sms-*.yaml modem.own_number
	nosecNumber  = "+33600000001"
	dtlsNumber   = "+33600000002"
	spNumber     = "+33600000003"
	strangerNr   = "+33699999999"
)

var dtlsKey = []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}

func testLog() *slog.Logger {
	return emutest.Log()
}

// checkLeaks fails the test if goroutines started during it still run after
// its cleanups (bounded wait).
func checkLeaks(t testing.TB) {
	t.Helper()
	emutest.CheckLeaks(t, 10*time.Second)
}

// triggerCoAP is CON POST /1/0/8 (Execute of the Registration Update
// Trigger, LwM2M-TS 1.0 §5.3.5 / App. E.2) with message ID mid and a 2-byte
// token (RFC 7252 §3: 0x42 = ver 1, CON, TKL 2; 0x02 = POST; Uri-Path
// option 11).
func triggerCoAP(mid uint16) []byte {
	b := []byte{0x42, 0x02, 0, 0, byte(mid), byte(mid >> 8), 0xB1, '1', 0x01, '0', 0x01, '8'}
	binary.BigEndian.PutUint16(b[2:], mid)
	return b
}

// checkChanged checks that resp is the piggy-backed 2.04 (ACK, code 0x44)
// answering triggerCoAP(mid).
func checkChanged(t testing.TB, resp []byte, mid uint16) {
	t.Helper()
	req := triggerCoAP(mid)
	if len(resp) < 6 || resp[0] != 0x62 || resp[1] != 0x44 || !bytes.Equal(resp[2:6], req[2:6]) {
		t.Fatalf("reply %x is not the 2.04 ACK of %x", resp, req)
	}
}

func eightBit(ud []byte) atpdu.Deliver { return atpdu.Deliver{DCS: 0x04, UD: ud} }

// inbox is a server number on the emulated network.
type inbox struct {
	ch chan []byte // SMS-DELIVER TPDUs the device sent to this number

	mu sync.Mutex
	fn func([]byte) // guarded by mu: when set, it takes the SMS instead of ch
}

func (i *inbox) Deliver(_ context.Context, tpdu []byte) error {
	i.mu.Lock()
	fn := i.fn
	i.mu.Unlock()
	if fn != nil {
		fn(bytes.Clone(tpdu))
		return nil
	}
	i.ch <- bytes.Clone(tpdu)
	return nil
}

func (i *inbox) DeliverStatusReport(context.Context, []byte) error { return nil }

type world struct {
	t      testing.TB
	ctx    context.Context
	net    *network.Network
	emu    *emu.Modem
	card   *sim.Card
	srv    *server.Server
	events <-chan server.Event
	link   string
	dir    string // the daemon's state directory, kept across restarts
	boxes  map[string]*inbox
	tweak  func(*config.Config) // applied to the loaded configuration
	imei   string               // the emulated modem's IMEI (when a test needs it)

	handled chan struct{} // one per SMS the daemon's binding handled
	dl      chan bool     // one per SMS-PP download on the card

	mu       sync.Mutex
	toDevice int // guarded by mu: SMS the servers sent to the device
}

func newWorld(t testing.TB, hostDownload bool) *world {
	t.Helper()
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	w := &world{t: t, ctx: ctx, dir: t.TempDir(), boxes: map[string]*inbox{}, handled: make(chan struct{}, 100), dl: make(chan bool, 100)}
	dev := newDevice(t, sim.Options{Logger: testLog(), OnDownload: func(ok bool) { w.dl <- ok }})
	w.net, w.card, w.link, w.emu = dev.net, dev.card, dev.link, dev.emu
	w.emu.SetQuirks(func(q *emu.Quirks) { q.DownloadToSIM = !hostDownload })
	for _, n := range []string{nosecNumber, dtlsNumber, spNumber, strangerNr} {
		w.boxes[n] = &inbox{ch: make(chan []byte, 100)}
		w.net.Attach(n, w.boxes[n])
	}
	var err error
	w.srv, err = server.Start(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w.events = w.srv.Subscribe()
	t.Cleanup(func() {
		w.srv.Close()
		cancel()
	})
	return w
}

// from sends an SMS-DELIVER from a server number to the device.
func (w *world) from(number string, d atpdu.Deliver) {
	w.t.Helper()
	if len(d.UD)+d.UDH.Len() > atpdu.MaxUDOctets {
		w.t.Errorf("server SMS with %d octets of user data", len(d.UD)+d.UDH.Len())
	}
	w.mu.Lock()
	w.toDevice++
	w.mu.Unlock()
	if err := w.net.SendFrom(number, deviceNumber, d); err != nil {
		w.t.Fatalf("SendFrom %s: %v", number, err)
	}
}

func (w *world) sentToDevice() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.toDevice
}

// deviceSent returns the SMS-SUBMITs the device sent so far, checking the
// 140-octet rule on each (TS 23.040 §9.2.3.24).
func (w *world) deviceSent() []atpdu.Submit {
	w.t.Helper()
	return deviceSubmits(w.t, w.net)
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
		w.t.Fatalf("no SMS to %s", number)
	}
	return atpdu.Deliver{}
}

// next waits for the server's next event of kind k.
func (w *world) next(k server.EventKind) server.Event {
	w.t.Helper()
	return nextEvent(w.t, w.ctx, w.events, k)
}

// drainHandled forgets the SMS handled so far.
func (w *world) drainHandled() {
	for {
		select {
		case <-w.handled:
		default:
			return
		}
	}
}

// waitHandled waits until the daemon handled one more SMS from the modem.
func (w *world) waitHandled() {
	w.t.Helper()
	select {
	case <-w.handled:
	case <-w.ctx.Done():
		w.t.Fatal("SMS not handled")
	}
}

// waitDownload waits until the card got one more SMS-PP download.
func (w *world) waitDownload() {
	w.t.Helper()
	select {
	case <-w.dl:
	case <-w.ctx.Done():
		w.t.Fatal("no SMS-PP download")
	}
}

// waitModem waits until the daemon's modem is up (or down).
func (w *world) waitModem(r *running, up bool) {
	w.t.Helper()
	m := r.d.Modem()
	for {
		ch := m.HealthChanged()
		h := m.Health()
		if h.Up == up && (!up || !h.LastSweep.IsZero()) {
			return
		}
		select {
		case <-ch:
		case <-w.ctx.Done():
			w.t.Fatalf("modem never %s: %v", map[bool]string{true: "up", false: "down"}[up], h)
		}
	}
}

// running is one daemon process-equivalent: daemon.New + Run.
type running struct {
	d    *daemon.Daemon
	stop func() // cancels Run, waits for it, checks it returned nil
}

// launch loads configs/sms-<mode>.yaml, points it at the emulated server
// and the pty, applies w.tweak, and runs the daemon with its options
// adjusted by opts; it returns once Run was started.
func (w *world) launch(mode string, opts ...func(*daemon.Options)) (*running, *config.Config) {
	w.t.Helper()
	cfg, err := config.Load("../../configs/sms-" + mode + ".yaml")
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.Servers[0].URI = w.srv.URI()
	if w.tweak != nil {
		w.tweak(cfg)
	}
	o := daemonOptions(w.dir, w.link)
	o.SMSHandled = func() { w.handled <- struct{}{} }
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	d, err := daemon.New(cfg, o)
	if err != nil {
		w.t.Fatal(err)
	}
	return &running{d: d, stop: runDaemon(w.t, w.ctx, d)}, cfg
}

// start loads configs/sms-<mode>.yaml, points it at the emulated server
// and the pty, and runs the daemon (its options adjusted by opts) until it
// registered, checking the Register's binding, endpoint and MSISDN.
func (w *world) start(mode string, opts ...func(*daemon.Options)) *running {
	w.t.Helper()
	r, cfg := w.launch(mode, opts...)
	reg := w.next(server.Registered)
	wantEP := cfg.Endpoint
	if strings.Contains(wantEP, "{") {
		wantEP = strings.NewReplacer("{imei}", w.imei, "{iccid}", w.card.ICCID()).Replace(wantEP)
	}
	if reg.Query["b"] != "UQS" || reg.Endpoint != wantEP || reg.Query["sms"] != strings.TrimPrefix(deviceNumber, "+") {
		w.t.Errorf("registered %+v, want endpoint %s", reg, wantEP)
	}
	return r
}

// measure runs one trigger: inject sends it, reply waits for and checks the
// 2.04; it checks the Update over UDP follows within one second of the
// trigger SMS being processed (the 2.04 reaching the server proves it was)
// and returns the SMS counts.
func (w *world) measure(name string, inject func(), reply func()) (in, out int) {
	w.t.Helper()
	in0, out0 := w.sentToDevice(), len(w.deviceSent())
	t0 := time.Now()
	inject()
	reply()
	replied := time.Now()
	up := w.next(server.Updated)
	in, out = w.sentToDevice()-in0, len(w.deviceSent())-out0
	w.t.Logf("%s: trigger sent → 2.04 back by SMS %v, → Update over UDP %v; %d SMS in, %d SMS out",
		name, replied.Sub(t0).Round(time.Millisecond), up.At.Sub(t0).Round(time.Millisecond), in, out)
	if lat := up.At.Sub(replied); lat > time.Second {
		w.t.Errorf("%s: Update %v after the 2.04, want within 1 s", name, lat)
	}
	return in, out
}

func TestSMSTriggerNoSec(t *testing.T) {
	w := newWorld(t, false)
	r := w.start("nosec")
	defer r.stop()

	// A spoofed sender: the same trigger from another number is ignored
	// (nothing sent, no Update); the real one that follows is answered.
	w.from(strangerNr, eightBit(triggerCoAP(0x100)))
	w.waitHandled()
	in, out := w.measure("nosec", func() { w.from(nosecNumber, eightBit(triggerCoAP(0x101))) }, func() {
		d := w.recv(nosecNumber)
		if d.PID != 0 || byte(d.DCS) != 0x04 || len(d.UDH) != 0 {
			t.Errorf("reply SMS PID %02x DCS %02x UDH %v", byte(d.PID), byte(d.DCS), d.UDH)
		}
		checkChanged(t, d.UD, 0x101)
	})
	if in != 1 || out != 1 { // the spoofed SMS went in before: nothing answered it
		t.Errorf("%d SMS in, %d out; want 1, 1", in, out)
	}
	st, _ := r.d.SMSStats()
	if st.Total.DroppedSender != 1 || st.NoSec.Accepted != 1 || st.NoSec.Sent != 1 {
		t.Errorf("stats %+v", st)
	}

	// The modem is unplugged and comes back: the daemon recovers without a
	// restart and the next trigger works the same.
	w.emu.Unplug()
	w.waitModem(r, false)
	if err := w.emu.Replug(); err != nil {
		t.Fatal(err)
	}
	w.waitModem(r, true)
	in, out = w.measure("nosec after replug", func() { w.from(nosecNumber, eightBit(triggerCoAP(0x102))) }, func() {
		checkChanged(t, w.recv(nosecNumber).UD, 0x102)
	})
	if in != 1 || out != 1 {
		t.Errorf("after replug: %d SMS in, %d out; want 1, 1", in, out)
	}
	r.stop()
	w.next(server.Deregistered)
}

// dtlsServer is the LwM2M server's DTLS-over-SMS side: pion's server
// (HelloVerifyRequest on, its default) over an smsdtls.PacketConn on the
// emulated network. Its session survives daemon restarts.
type dtlsServer struct {
	w    *world
	pc   *smsdtls.PacketConn
	conn *dtls.Conn
	hs   chan error

	mu   sync.Mutex
	last []byte // guarded by mu: the user data of the server's last SMS
}

type senderFunc func(ctx context.Context, to string, ud []byte, vp time.Duration) error

func (f senderFunc) SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error {
	return f(ctx, to, ud, vp)
}

func newDTLSServer(w *world) *dtlsServer {
	w.t.Helper()
	s := &dtlsServer{w: w, hs: make(chan error, 1)}
	s.pc = smsdtls.NewPacketConn(deviceNumber, senderFunc(func(_ context.Context, to string, ud []byte, _ time.Duration) error {
		w.mu.Lock()
		w.toDevice++
		w.mu.Unlock()
		if len(ud) > atpdu.MaxUDOctets {
			w.t.Errorf("server DTLS SMS with %d octets", len(ud))
		}
		s.mu.Lock()
		s.last = bytes.Clone(ud)
		s.mu.Unlock()
		return w.net.SendFrom(dtlsNumber, to, eightBit(bytes.Clone(ud)))
	}), smsdtls.DefaultInitialRTO, 0, nil)
	w.boxes[dtlsNumber].mu.Lock()
	w.boxes[dtlsNumber].fn = func(tpdu []byte) {
		if d, err := atpdu.DecodeDeliver(tpdu); err == nil {
			s.pc.Deliver(d.UD)
		}
	}
	w.boxes[dtlsNumber].mu.Unlock()
	conn, err := dtls.ServerWithOptions(s.pc, smsdtls.Addr(deviceNumber),
		dtls.WithPSK(func([]byte) ([]byte, error) { return dtlsKey, nil }),
		dtls.WithCipherSuites(dtls.TLS_PSK_WITH_AES_128_CCM_8),
		dtls.WithMTU(smsdtls.HandshakeMTU),
		dtls.WithFlightInterval(smsdtls.DefaultInitialRTO))
	if err != nil {
		w.t.Fatal(err)
	}
	s.conn = conn
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, 90*time.Second)
		defer cancel()
		s.hs <- conn.HandshakeContext(ctx)
	}()
	w.t.Cleanup(func() { _ = s.conn.Close(); _ = s.pc.Close() })
	return s
}

// trigger sends the trigger over the DTLS session and checks the 2.04.
func (s *dtlsServer) trigger(name string, mid uint16) (in, out int) {
	t := s.w.t
	t.Helper()
	return s.w.measure(name, func() {
		if _, err := s.conn.Write(triggerCoAP(mid)); err != nil {
			t.Fatal(err)
		}
	}, func() {
		_ = s.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		buf := make([]byte, 200)
		n, err := s.conn.Read(buf)
		if err != nil {
			t.Fatalf("server read: %v", err)
		}
		checkChanged(t, buf[:n], mid)
	})
}

func TestSMSTriggerDTLS(t *testing.T) {
	w := newWorld(t, false)
	srv := newDTLSServer(w)
	r := w.start("dtls")

	// Binding UQS: the daemon opens the DTLS session at start-up.
	select {
	case err := <-srv.hs:
		if err != nil {
			t.Fatalf("server handshake: %v", err)
		}
	case <-w.ctx.Done():
		t.Fatal("no handshake")
	}
	hsOut, hsIn := len(w.deviceSent()), w.sentToDevice()
	t.Logf("DTLS handshake with HelloVerifyRequest: %d device SMS + %d server SMS", hsOut, hsIn)
	if hsOut+hsIn > 6 {
		t.Errorf("handshake took %d + %d SMS, want at most 6", hsOut, hsIn)
	}

	in, out := srv.trigger("dtls", 0x200)
	if in != 1 || out != 1 {
		t.Errorf("trigger with a live session: %d SMS in, %d out; want 1, 1", in, out)
	}
	// A daemon restart between two triggers costs no handshake SMS: the
	// session is restored from the state directory.
	r.stop()
	w.next(server.Deregistered)
	out0 := len(w.deviceSent())
	r2 := w.start("dtls")
	defer r2.stop()
	// A spoofed sender: the server's trigger record, valid for the session,
	// from another number: dropped, nothing sent, no Update.
	srv.mu.Lock()
	spoofed := srv.last
	srv.mu.Unlock()
	w.drainHandled() // all earlier SMS were answered: none is in flight
	w.from(strangerNr, eightBit(spoofed))
	w.waitHandled()
	in, out = srv.trigger("dtls after restart", 0x201)
	if in != 1 || out != 1 || len(w.deviceSent())-out0 != 1 {
		t.Errorf("trigger after a restart: %d SMS in, %d out; want 1, 1", in, out)
	}
	if st, _ := r2.d.SMSStats(); st.Total.DroppedSender != 1 || st.DTLS.Accepted != 1 || st.DTLS.Sent != 1 {
		t.Errorf("stats after restart %+v", st)
	}
	if st, ok := r2.d.DTLSStats(1); !ok || st.Handshakes != 0 || st.Restores != 1 {
		t.Errorf("DTLS after restart: %+v", st)
	}
	// What `lwm2m-clientd status` shows.
	st := r2.d.Status(w.ctx)
	if len(st.Servers) != 1 || st.Servers[0].SMSMode != "dtls" || st.Servers[0].DTLSSMSSession != control.DTLSSessionEstablished ||
		!st.Servers[0].Registered || st.Servers[0].Binding != "UQS" {
		t.Errorf("status servers %+v", st.Servers)
	}
	if st.Modem == nil || st.Modem.State != control.ModemUp || st.Modem.Port != w.link || st.Modem.LastSMSIn.IsZero() || st.Modem.LastSMSOut.IsZero() {
		t.Errorf("status modem %+v", st.Modem)
	}
	if st.SIM != nil { // DTLS on the device: no UICC application
		t.Errorf("status sim %+v, want null without a secure-packet server", *st.SIM)
	}
	if c := st.Counters; c.SMSReceived != 2 || c.SMSDroppedSender != 1 || c.SMSSent != 1 {
		t.Errorf("status counters %+v", c)
	}
	r2.stop()
	w.next(server.Deregistered)
}

// spServer is the server's secured-packet side with the SIM profile's keys
// (the ones configs/sms-secure-packet.yaml gives as resources 7 and 8).
type spServer struct {
	h    sp.Header
	keys sp.Keys
	ctr  uint64
}

func newSPServer(t *testing.T) *spServer {
	t.Helper()
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
// command packet (TS 102 225 §5, TS 23.048 UDH IEI 0x70) with the next
// counter.
func (s *spServer) seal(t *testing.T, coap []byte) atpdu.Deliver {
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

// open returns the CoAP message in the SIM's secured packet.
func (s *spServer) open(t *testing.T, d atpdu.Deliver) []byte {
	t.Helper()
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

// Both ways a class-2 / PID-0x7F SMS reaches the SIM: the modem hands it to
// the host, and the daemon gives it to the SIM at once (ENVELOPE SMS-PP
// DOWNLOAD); or the modem downloads it silently (what real modems and the
// emulator do by default), and the GET DATA poll (uicc.poll_interval,
// shortened here) finds it.
func TestSMSTriggerSecurePacket(t *testing.T) {
	for _, hostDownload := range []bool{true, false} {
		name := map[bool]string{true: "modem hands it to the host", false: "modem downloads silently"}[hostDownload]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, hostDownload)
			w.tweak = func(c *config.Config) { c.UICC.PollInterval = config.Duration(300 * time.Millisecond) }
			srv := newSPServer(t)
			r := w.start("secure-packet")
			defer r.stop()

			// A spoofed sender, sealed with the right keys. It must reach
			// the card before the genuine request: the network may reorder
			// two SMS, and the card would then discard the spoofed packet's
			// lower counter as a replay before the sender filter saw it.
			// Host download: the TP-OA filter drops it. Silent download:
			// the card accepts it and the data_rcv address fails the
			// filter at the next GET DATA poll.
			w.from(strangerNr, srv.seal(t, triggerCoAP(0x300)))
			if hostDownload {
				w.waitHandled()
			} else {
				// On the card; the next GET DATA fetches it no later
				// than the trigger that follows.
				w.waitDownload()
			}
			in, out := w.measure("secure-packet, "+name, func() { w.from(spNumber, srv.seal(t, triggerCoAP(0x301))) }, func() {
				d := w.recv(spNumber)
				if d.PID != atpdu.PIDUSIMDataDownload || byte(d.DCS) != 0xF6 {
					t.Errorf("SIM's SMS PID %02x DCS %02x", byte(d.PID), byte(d.DCS))
				}
				checkChanged(t, srv.open(t, d), 0x301)
			})
			if in != 1 || out != 1 {
				t.Errorf("%d SMS in, %d out; want 1, 1", in, out)
			}
			st, _ := r.d.SMSStats()
			if st.Total.DroppedSender != 1 || st.SecurePacket.Accepted != 1 || st.SecurePacket.Sent != 1 {
				t.Errorf("stats %+v", st)
			}
			r.stop()
			w.next(server.Deregistered)
		})
	}
}

// The endpoint name's {imei} and {iccid} are filled from the modem before
// the first Register; the gateway's own number (AT+CNUM, no own_number
// configured) goes in sms=.
func TestEndpointFromModem(t *testing.T) {
	w := newWorld(t, false)
	w.tweak = func(c *config.Config) {
		c.Endpoint = "urn:imei:{imei}:{iccid}"
		c.Modem.OwnNumber = ""
	}
	// What the driver reads is what the emulated modem answers to AT+CGSN.
	info := modemInfo(t, w)
	w.imei = info.IMEI
	if w.imei == "" || info.ICCID != w.card.ICCID() {
		t.Fatalf("modem info %+v", info)
	}
	r := w.start("nosec")
	r.stop()
	w.next(server.Deregistered)
}

// modemInfo asks the emulated modem for its identity with a driver of its
// own, closed before the daemon opens the port.
func modemInfo(t *testing.T, w *world) modem.Info {
	t.Helper()
	m, err := modem.New(modem.Config{Port: w.link, Delivery: modem.DeliveryNone}, modem.WithLogger(testLog()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := m.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := m.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}
