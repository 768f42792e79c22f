package smsdtls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol"
)

// Test world: a client Session and a pion/dtls v3 server joined by an
// in-memory SMS network. Everything runs inside a testing/synctest bubble so
// pion's retransmission timers run in fake time (style.md rule 13).

const (
	serverNumber = "+33600000002"
	deviceNumber = "+33611111111"
)

var (
	testIdentity = []byte("lwm2m-clientd-test")
	testKey      = Secret{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
)

// sms is one SMS handed to the network.
type sms struct {
	at       time.Duration // since the network started
	toServer bool
	ud       []byte
	vp       time.Duration
	lost     bool
}

// network carries SMS between the device and the server with optional
// seeded loss, a fixed latency and a fault hook on the device's sends.
type network struct {
	t       testing.TB
	start   time.Time
	latency time.Duration

	mu       sync.Mutex
	log      []sms                                 // guarded by mu
	lossRate float64                               // guarded by mu
	rng      *rand.Rand                            // guarded by mu
	sendErr  func(n int, ud []byte) error          // guarded by mu: device send fault (n counts device sends)
	tamper   func(toServer bool, ud []byte) []byte // guarded by mu
	nDevice  int                                   // guarded by mu
	device   func(ud []byte)                       // guarded by mu: delivers to the device
	server   func(ud []byte)                       // guarded by mu: delivers to the server
	timers   []*time.Timer                         // guarded by mu
}

func newNetwork(t testing.TB) *network {
	return &network{t: t, start: time.Now()}
}

func (n *network) setLoss(rate float64, seed uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lossRate = rate
	n.rng = rand.New(rand.NewPCG(seed, seed^0x5eed))
}

func (n *network) carry(toServer bool, ud []byte, vp time.Duration) {
	n.mu.Lock()
	m := sms{at: time.Since(n.start), toServer: toServer, ud: append([]byte(nil), ud...), vp: vp}
	if n.rng != nil && n.rng.Float64() < n.lossRate {
		m.lost = true
	}
	n.log = append(n.log, m)
	deliver := n.device
	if toServer {
		deliver = n.server
	}
	if n.tamper != nil {
		ud = n.tamper(toServer, append([]byte(nil), ud...))
	}
	if m.lost || deliver == nil || ud == nil {
		n.mu.Unlock()
		return
	}
	ud = append([]byte(nil), ud...)
	if n.latency == 0 {
		n.mu.Unlock()
		deliver(ud)
		return
	}
	n.timers = append(n.timers, time.AfterFunc(n.latency, func() { deliver(ud) }))
	n.mu.Unlock()
}

func (n *network) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.timers {
		t.Stop()
	}
	n.device, n.server = nil, nil
}

// messages returns a copy of the SMS log.
func (n *network) messages() []sms {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sms(nil), n.log...)
}

// deviceSender is the device's Sender.
type deviceSender struct{ n *network }

func (d deviceSender) SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error {
	if to != serverNumber {
		return fmt.Errorf("send to unknown number %s", to)
	}
	d.n.mu.Lock()
	d.n.nDevice++
	k := d.n.nDevice
	fault := d.n.sendErr
	d.n.mu.Unlock()
	if fault != nil {
		if err := fault(k, ud); err != nil {
			return err
		}
	}
	d.n.carry(true, ud, vp)
	return nil
}

// serverSender is the emulated server's Sender.
type serverSender struct{ n *network }

func (s serverSender) SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error {
	s.n.carry(false, ud, vp)
	return nil
}

// memStore is an in-memory SessionStore that counts writes and can fail.
type memStore struct {
	mu    sync.Mutex
	m     map[string][]byte
	saves int
	fail  error
}

func newMemStore() *memStore { return &memStore{m: make(map[string][]byte)} }

func (s *memStore) Load(number string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.m[number]), nil
}

func (s *memStore) Save(number string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.saves++
	if b == nil {
		delete(s.m, number)
		return nil
	}
	s.m[number] = bytes.Clone(b)
	return nil
}

func (s *memStore) put(number string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[number] = bytes.Clone(b)
}

// server is a pion/dtls v3 PSK server reachable over the network.
type server struct {
	pc   *PacketConn
	conn *dtls.Conn
	hvr  bool
}

// newServer starts a server conn for the device; it handshakes when the
// first ClientHello arrives.
func newServer(t testing.TB, n *network, hvr bool) *server {
	t.Helper()
	pc := NewPacketConn(deviceNumber, serverSender{n}, DefaultInitialRTO, 0, nil)
	opts := []dtls.ServerOption{
		dtls.WithPSK(func([]byte) ([]byte, error) { return testKey, nil }),
		dtls.WithCipherSuites(dtls.TLS_PSK_WITH_AES_128_CCM_8),
		dtls.WithMTU(HandshakeMTU),
		dtls.WithFlightInterval(DefaultInitialRTO),
		dtls.WithInsecureSkipVerifyHello(!hvr),
	}
	conn, err := dtls.ServerWithOptions(pc, Addr(deviceNumber), opts...)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	n.mu.Lock()
	n.server = pc.Deliver
	n.mu.Unlock()
	return &server{pc: pc, conn: conn, hvr: hvr}
}

func (s *server) close() {
	_ = s.pc.Close()
	_ = s.conn.Close()
}

// read reads one application record with a deadline.
func (s *server) read(t testing.TB, d time.Duration) ([]byte, error) {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 256)
	k, err := s.conn.Read(b)
	if err != nil {
		return nil, err
	}
	return b[:k], nil
}

// world is one device session plus server.
type world struct {
	t      testing.TB
	net    *network
	store  *memStore
	client *Client
	sess   *Session
	srv    *server
	logBuf *bytes.Buffer
}

func testConfig() Config {
	return Config{Number: serverNumber, Mode: ModePSK, PSKIdentity: testIdentity, PSK: testKey}
}

func newWorld(t testing.TB, hvr bool, cfg Config) *world {
	t.Helper()
	w := &world{t: t, net: newNetwork(t), store: newMemStore(), logBuf: new(bytes.Buffer)}
	w.srv = newServer(t, w.net, hvr)
	w.restartClient(cfg)
	return w
}

// restartClient simulates a new daemon process: a fresh Client over the same
// store and network.
func (w *world) restartClient(cfg Config) {
	w.t.Helper()
	w.restartClientOn(w.store, cfg)
}

// restartClientOn is restartClient with the new Client on store st (a slow
// or failing disk) instead of w.store.
func (w *world) restartClientOn(st SessionStore, cfg Config) {
	w.t.Helper()
	if w.sess != nil {
		_ = w.sess.Close()
	}
	log := slog.New(slog.NewTextHandler(w.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(deviceSender{w.net}, st, WithLogger(log))
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := c.Session(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.client, w.sess = c, s
	w.net.mu.Lock()
	w.net.device = s.Deliver
	w.net.mu.Unlock()
}

func (w *world) close() {
	w.net.stop()
	if w.sess != nil {
		_ = w.sess.Close()
	}
	w.srv.close()
}

// serverHandshake runs the server side in the background and returns its result.
func (w *world) serverHandshake(ctx context.Context) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- w.srv.conn.HandshakeContext(ctx) }()
	return ch
}

// handshake opens the session and waits for both sides.
func (w *world) handshake(ctx context.Context) error {
	srv := w.serverHandshake(ctx)
	if err := w.sess.Open(ctx); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := <-srv; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// clientRecords lists (epoch, seq) of every epoch ≥ 1 record the device sent.
func clientRecords(t testing.TB, msgs []sms) [][2]uint64 {
	t.Helper()
	var out [][2]uint64
	for _, m := range msgs {
		if !m.toServer {
			continue
		}
		recs, err := splitRecords(m.ud)
		if err != nil {
			t.Fatalf("device sent a datagram that is not DTLS: %v", err)
		}
		for _, r := range recs {
			if r.epoch >= 1 {
				out = append(out, [2]uint64{uint64(r.epoch), r.seq})
			}
		}
	}
	return out
}

func describe(m sms) string {
	recs, _ := splitRecords(m.ud)
	var parts []string
	for _, r := range recs {
		switch {
		case r.hasHandshake:
			parts = append(parts, r.hsType.String())
		case r.contentType == protocol.ContentTypeChangeCipherSpec:
			parts = append(parts, "ChangeCipherSpec")
		case r.contentType == protocol.ContentTypeHandshake:
			parts = append(parts, "encrypted handshake (Finished)")
		case r.contentType == protocol.ContentTypeApplicationData:
			parts = append(parts, "application data")
		case r.contentType == protocol.ContentTypeAlert:
			parts = append(parts, "alert")
		}
	}
	dir := "S→C"
	if m.toServer {
		dir = "C→S"
	}
	lost := ""
	if m.lost {
		lost = " LOST"
	}
	return fmt.Sprintf("t=%-5v %s %3d octets vp=%-4v %v%s", m.at, dir, len(m.ud), m.vp, parts, lost)
}

var errInjected = errors.New("injected: +CMS ERROR: 38 (network out of order)")

// reopen closes the session and opens a new one on the same Client (same
// process).
func (w *world) reopen(cfg Config) {
	w.t.Helper()
	_ = w.sess.Close()
	s, err := w.client.Session(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.sess = s
	w.net.mu.Lock()
	w.net.device = s.Deliver
	w.net.mu.Unlock()
}

// pingPong sends one record each way and checks both arrive.
func (w *world) pingPong(ctx context.Context, tag string) {
	w.t.Helper()
	if err := w.sess.Write(ctx, []byte("ping "+tag)); err != nil {
		w.t.Fatalf("%s: client write: %v", tag, err)
	}
	got, err := w.srv.read(w.t, time.Minute)
	if err != nil || string(got) != "ping "+tag {
		w.t.Fatalf("%s: server read %q, %v", tag, got, err)
	}
	if _, err := w.srv.conn.Write([]byte("pong " + tag)); err != nil {
		w.t.Fatalf("%s: server write: %v", tag, err)
	}
	b := make([]byte, MaxPlaintext)
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	k, err := w.sess.Read(rctx, b)
	if err != nil || string(b[:k]) != "pong "+tag {
		w.t.Fatalf("%s: client read %q, %v", tag, b[:k], err)
	}
}

// handshakeSMS counts SMS carrying epoch-0 handshake records.
func handshakeSMS(msgs []sms) int {
	n := 0
	for _, m := range msgs {
		recs, _ := splitRecords(m.ud)
		for _, r := range recs {
			if r.epoch == 0 {
				n++
				break
			}
		}
	}
	return n
}

func checkUniqueSeqs(t testing.TB, msgs []sms) {
	t.Helper()
	seen := make(map[[2]uint64]int)
	for _, k := range clientRecords(t, msgs) {
		seen[k]++
		if seen[k] == 2 {
			t.Errorf("record sequence number reused: epoch %d seq %d (AES-CCM nonce reuse)", k[0], k[1])
		}
	}
}

// fallbackStore keeps the previous copy of each value, like internal/store,
// and can be told that the latest copy is damaged.
type fallbackStore struct {
	memStore
	prev    map[string][]byte
	damaged bool
}

func newFallbackStore() *fallbackStore {
	return &fallbackStore{memStore: *newMemStore(), prev: make(map[string][]byte)}
}

func (s *fallbackStore) Load(number string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.damaged {
		s.damaged = false
		return bytes.Clone(s.prev[number]), nil
	}
	return bytes.Clone(s.m[number]), nil
}

func (s *fallbackStore) Save(number string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	s.prev[number] = s.m[number]
	if b == nil {
		delete(s.m, number)
		return nil
	}
	s.m[number] = bytes.Clone(b)
	return nil
}
