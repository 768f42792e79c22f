package server

// End-to-end tests of the SMS side: the emulated server sends requests over
// the emulated network to a client built from the real parts — the AT
// driver (internal/modem) on the emulated modem's pty (internal/emu/modem),
// the emulated SIM (internal/emu/sim) through internal/uicc, and the SMS
// binding (internal/smsbind) — whose Conns a tiny CoAP responder answers.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/emutest"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

const (
	tDevice   = "+33611111111"
	tNoSec    = "+33600000001"
	tDTLS     = "+33600000002"
	tSP       = "+33600000003"
	tStranger = "+33699999999"
)

var (
	tIdentity = []byte("lwm2m-clientd-test")
	tKey      = []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
)

func smsTestLog() *slog.Logger {
	return emutest.Log()
}

// leakCheck fails the test if goroutines started during it still run after
// cleanup (bounded wait).
func leakCheck(t *testing.T) {
	t.Helper()
	emutest.CheckLeaks(t, 5*time.Second)
}

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

// smsWorld is the device side plus the emulated server's SMS side.
type smsWorld struct {
	t     *testing.T
	ctx   context.Context
	net   *network.Network
	m     *modem.Modem
	srv   *SMSServer
	store *memStore
	cfg   smsbind.Config

	mu    sync.Mutex
	b     *smsbind.Binding // guarded by mu
	bstop func()
}

func newSMSWorld(t *testing.T, skipHVR bool, tune ...func(*smsbind.Config)) *smsWorld {
	t.Helper()
	leakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	w := &smsWorld{t: t, ctx: ctx, store: &memStore{m: map[string][]byte{}}}
	w.net = network.New(network.Config{Log: smsTestLog(), Seed: 1})
	prof, err := sim.LoadProfile("../../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	card, err := sim.New(prof, sim.Options{Logger: smsTestLog()})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ttyEMU")
	em, err := emu.New(emu.Config{Link: link, Number: tDevice, SIM: card, Network: w.net, Log: smsTestLog()})
	if err != nil {
		t.Fatal(err)
	}
	em.SetQuirks(func(q *emu.Quirks) { q.DownloadToSIM = false })
	w.net.Attach(tDevice, em)
	spc, err := SecurePacketFromProfile(prof)
	if err != nil {
		t.Fatal(err)
	}
	w.srv, err = StartSMS(SMSConfig{Network: w.net,
		Numbers:     map[SMSMode]string{SMSNoSec: tNoSec, SMSDTLS: tDTLS, SMSSecurePacket: tSP},
		PSKIdentity: tIdentity, PSK: tKey, SkipHelloVerify: skipHVR, SecurePacket: &spc,
		RequestTimeout: 30 * time.Second, Log: smsTestLog()})
	if err != nil {
		t.Fatal(err)
	}
	w.m, err = modem.New(modem.Config{Port: link, Delivery: modem.DeliveryDirect, HandleSMS: func(ctx context.Context, s modem.SMS) error {
		w.mu.Lock()
		b := w.b
		w.mu.Unlock()
		return b.HandleSMS(ctx, smsbind.SMS{TPDU: s.TPDU, SMSC: s.SMSC})
	}}, modem.WithLogger(smsTestLog()))
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = smsbind.Config{
		Servers: []smsbind.Server{
			{ID: 1, Number: tNoSec, Mode: smsbind.ModeNoSec},
			{ID: 2, Number: tDTLS, Mode: smsbind.ModeDTLS, PSKIdentity: tIdentity, PSK: tKey},
			{ID: 3, Number: tSP, Mode: smsbind.ModeSecurePacket},
		},
		CountryCode: "33",
	}
	for _, f := range tune {
		f(&w.cfg)
	}
	w.startBinding()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.m.Run(runCtx) })
	t.Cleanup(func() {
		w.stopBinding()
		_ = w.srv.Close()
		stop()
		wg.Wait()
		em.Close()
		w.net.Close()
		cancel()
	})
	if err := w.m.WaitUp(ctx); err != nil {
		t.Fatalf("modem: %v", err)
	}
	return w
}

// startBinding is a daemon (re)start: a binding over the modem, the card
// and the session store, with a responder on every Conn.
func (w *smsWorld) startBinding() {
	w.t.Helper()
	send := func(ctx context.Context, tpdu []byte) error { _, err := w.m.SendSMS(ctx, tpdu); return err }
	app, err := uicc.New(uicc.TransportFunc(w.m.CSIM), uicc.Config{}, send, uicc.WithLogger(smsTestLog()))
	if err != nil {
		w.t.Fatal(err)
	}
	b, err := smsbind.New(w.cfg, smsbind.SubmitFunc(send), smsbind.WithUICC(app), smsbind.WithSessionStore(w.store), smsbind.WithLogger(smsTestLog()))
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.Run(ctx) })
	for _, c := range b.Conns() {
		wg.Go(func() { respond(ctx, c) })
	}
	w.mu.Lock()
	w.b = b
	w.bstop = func() { cancel(); b.Close(); wg.Wait() }
	w.mu.Unlock()
}

func (w *smsWorld) stopBinding() {
	w.mu.Lock()
	stop := w.bstop
	w.bstop = nil
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// respond answers every CoAP request on c with a piggy-backed response:
// 2.04 to POST, 2.05 "mode N" (text/plain) to GET.
func respond(ctx context.Context, c *smsbind.Conn) {
	for {
		b, err := c.ReadMessage(ctx)
		if err != nil {
			return
		}
		req := message.Message{Options: make(message.Options, 0, 16)}
		if _, err := coder.DefaultCoder.Decode(b, &req); err != nil || req.Type != message.Confirmable {
			smsTestLog().Info("responder decode", "err", err, "msg", req.String())
			continue
		}
		resp := message.Message{Type: message.Acknowledgement, MessageID: req.MessageID, Token: req.Token, Code: codes.Changed}
		if req.Code == codes.GET {
			resp.Code = codes.Content
			resp.Payload = []byte("mode " + string(rune('0'+int(c.Mode()))))
			resp.Options, _, _ = message.Options{}.SetContentFormat(make([]byte, 4), message.TextPlain)
		}
		n, _ := coder.DefaultCoder.Size(resp)
		out := make([]byte, n)
		if _, err := coder.DefaultCoder.Encode(resp, out); err != nil {
			continue
		}
		if err := c.WriteMessage(ctx, out); err != nil {
			smsTestLog().Info("responder write", "err", err)
		}
	}
}

// openDTLS opens the device's DTLS session (a binding with S at start-up).
func (w *smsWorld) openDTLS() {
	w.t.Helper()
	c, err := w.b.Conn(2)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.Open(w.ctx); err != nil {
		w.t.Fatalf("client DTLS Open: %v", err)
	}
}

// checkSizes checks that no SMS on the network carried more than 140
// octets of user data (TS 23.040 §9.2.3.24).
func (w *smsWorld) checkSizes() {
	w.t.Helper()
	for _, s := range w.net.Sent() {
		sub, err := atpdu.DecodeSubmit(s.PDU)
		if err != nil {
			w.t.Fatalf("SUBMIT %x: %v", s.PDU, err)
		}
		if n := len(sub.UD) + sub.UDH.Len(); n > atpdu.MaxUDOctets {
			w.t.Errorf("device SMS with %d octets of user data", n)
		}
	}
	for m, c := range w.srv.Stats() {
		if c.Largest > atpdu.MaxUDOctets || c.Largest == 0 && c.In+c.Out > 0 {
			w.t.Errorf("%s: largest SMS %d", m, c.Largest)
		}
	}
}

func delta(a, b SMSCounters) (in, out uint64) { return b.In - a.In, b.Out - a.Out }

func TestSMSExecuteAndReadEachMode(t *testing.T) {
	w := newSMSWorld(t, false)
	w.openDTLS()
	st := w.srv.Stats()[SMSDTLS]
	t.Logf("DTLS handshake with HelloVerifyRequest: %d SMS in, %d out", st.HandshakeIn, st.HandshakeOut)
	if st.Handshakes != 1 || st.HandshakeIn+st.HandshakeOut > 6 {
		t.Errorf("handshake counters %+v", st)
	}
	for _, mode := range SMSModes {
		t.Run(mode.String(), func(t *testing.T) {
			before := w.srv.Stats()[mode]
			rctx, rcancel := context.WithTimeout(w.ctx, 10*time.Second)
			defer rcancel()
			r, err := w.srv.SMS(mode, tDevice).Execute(rctx, "/1/1/8", "")
			if err != nil || r.Code != codes.Changed {
				t.Fatalf("Execute: %v %v", r.Code, err)
			}
			after := w.srv.Stats()[mode]
			if in, out := delta(before, after); in != 1 || out != 1 {
				t.Errorf("a trigger cost %d SMS in, %d out; want 1 and 1", in, out)
			}
			r, err = w.srv.SMS(mode, tDevice).Read(w.ctx, "/3/0", -1)
			want := "mode " + string(rune('0'+int(mode)))
			if err != nil || r.Code != codes.Content || string(r.Payload) != want || r.Format != int(message.TextPlain) {
				t.Fatalf("Read: %v %q %d %v", r.Code, r.Payload, r.Format, err)
			}
			t.Logf("%s: %+v", mode, w.srv.Stats()[mode])
		})
	}
	w.checkSizes()
	t.Logf("\n%s", FormatSMSTable(w.srv.Stats()))
}

func TestSMSDTLSWithoutHelloVerifyAndRestart(t *testing.T) {
	w := newSMSWorld(t, true)
	w.openDTLS()
	st := w.srv.Stats()[SMSDTLS]
	t.Logf("DTLS handshake without HelloVerifyRequest: %d SMS in, %d out", st.HandshakeIn, st.HandshakeOut)
	if st.Handshakes != 1 || st.HandshakeIn+st.HandshakeOut > 4 {
		t.Errorf("handshake counters %+v", st)
	}
	if _, err := w.srv.SMS(SMSDTLS, tDevice).Execute(w.ctx, "/1/1/8", ""); err != nil {
		t.Fatal(err)
	}
	// A daemon restart: the client restores its session from the store
	// and the server keeps its own: no handshake SMS.
	w.stopBinding()
	w.startBinding()
	before := w.srv.Stats()[SMSDTLS]
	if r, err := w.srv.SMS(SMSDTLS, tDevice).Execute(w.ctx, "/1/1/8", ""); err != nil || r.Code != codes.Changed {
		t.Fatalf("Execute after restart: %v %v", r.Code, err)
	}
	after := w.srv.Stats()[SMSDTLS]
	if in, out := delta(before, after); in != 1 || out != 1 || after.Handshakes != 1 {
		t.Errorf("after restart: %d in, %d out, counters %+v", in, out, after)
	}
	w.checkSizes()
}

func TestSMSTimeoutAndDrops(t *testing.T) {
	w := newSMSWorld(t, false)
	// A client number nobody answers from: the network accepts the SMS
	// for an attached number but the binding filters the sender, so the
	// request times out.
	w.net.Attach(tStranger, nopEndpoint{})
	ctx, cancel := context.WithTimeout(w.ctx, 500*time.Millisecond)
	defer cancel()
	_, err := w.srv.SMS(SMSNoSec, tStranger).Execute(ctx, "/1/1/8", "")
	if !errors.Is(err, ErrSMSTimeout) {
		t.Fatalf("err %v, want ErrSMSTimeout", err)
	}
	// Garbage to the NoSec and secure-packet numbers is counted as
	// dropped, never answered.
	if err := w.net.SendFrom(tStranger, tNoSec, atpdu.Deliver{DCS: 0x04, UD: []byte{0xde, 0xad}}); err != nil {
		t.Fatal(err)
	}
	if err := w.net.SendFrom(tStranger, tSP, atpdu.Deliver{DCS: 0x04, UD: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	for !func() bool {
		s := w.srv.Stats()
		return s[SMSNoSec].Dropped == 1 && s[SMSSecurePacket].Dropped == 1
	}() {
		select {
		case <-w.ctx.Done():
			t.Fatalf("drops not counted: %+v", w.srv.Stats())
		case <-time.After(5 * time.Millisecond): // polling a counter, not waiting for time
		}
	}
}

type nopEndpoint struct{}

func (nopEndpoint) Deliver(context.Context, []byte) error             { return nil }
func (nopEndpoint) DeliverStatusReport(context.Context, []byte) error { return nil }

func TestIsClientHello(t *testing.T) {
	ch := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 1}
	if !isClientHello(ch) {
		t.Error("ClientHello not recognised")
	}
	if isClientHello(helloRequest) {
		t.Error("HelloRequest taken for a ClientHello")
	}
	epoch1 := bytes.Clone(ch)
	epoch1[4] = 1
	if isClientHello(epoch1) || isClientHello(ch[:13]) {
		t.Error("epoch 1 or truncated record taken for a ClientHello")
	}
}

// A server that lost its DTLS session (restarted) sends a HelloRequest;
// the client, whose stored session no longer matches, handshakes again and
// the request goes through. (The client allows one re-handshake per
// RehandshakeInterval, 10 min by default; the test shortens it.)
func TestSMSDTLSServerRestartHelloRequest(t *testing.T) {
	w := newSMSWorld(t, false, func(c *smsbind.Config) { c.RehandshakeInterval = time.Millisecond })
	w.openDTLS()
	if _, err := w.srv.SMS(SMSDTLS, tDevice).Execute(w.ctx, "/1/1/8", ""); err != nil {
		t.Fatal(err)
	}
	_ = w.srv.Close()
	prof, err := sim.LoadProfile("../../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spc, err := SecurePacketFromProfile(prof)
	if err != nil {
		t.Fatal(err)
	}
	w.srv, err = StartSMS(SMSConfig{Network: w.net, Numbers: map[SMSMode]string{SMSDTLS: tDTLS},
		PSKIdentity: tIdentity, PSK: tKey, SecurePacket: &spc, Log: smsTestLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	r, err := w.srv.SMS(SMSDTLS, tDevice).Execute(ctx, "/1/1/8", "")
	if err != nil || r.Code != codes.Changed {
		t.Fatalf("Execute after the server lost its session: %v %v", r.Code, err)
	}
	st := w.srv.Stats()[SMSDTLS]
	t.Logf("re-handshake on HelloRequest: %+v", st)
	if st.Handshakes != 1 || st.HandshakeOut < 1 {
		t.Errorf("counters %+v", st)
	}
	w.checkSizes()
}

// tokenRecorder records the CoAP message ID and token of every SMS
// request it is sent.
type tokenRecorder struct {
	mu   sync.Mutex
	toks map[int32]string // by message ID
}

func (r *tokenRecorder) Deliver(_ context.Context, tpdu []byte) error {
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		return nil
	}
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(d.UD, &m); err != nil {
		return nil
	}
	r.mu.Lock()
	r.toks[m.MessageID] = string(m.Token)
	r.mu.Unlock()
	return nil
}

func (r *tokenRecorder) DeliverStatusReport(context.Context, []byte) error { return nil }

// TestSMSRequestTokensDistinct: requests in flight at once never share a
// 2-byte token (random tokens collided: with 300 in flight, more often
// than not), so each answer finds its request.
func TestSMSRequestTokensDistinct(t *testing.T) {
	w := newSMSWorld(t, false)
	rec := &tokenRecorder{toks: make(map[int32]string)}
	w.net.Attach(tStranger, rec)
	const n = 300
	ctx, cancel := context.WithTimeout(w.ctx, 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := w.srv.SMS(SMSNoSec, tStranger).Read(ctx, "/3/0/0", 0); !errors.Is(err, ErrSMSTimeout) {
				t.Errorf("request: %v", err)
			}
		})
	}
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.toks) != n {
		t.Fatalf("%d requests seen, want %d", len(rec.toks), n)
	}
	seen := make(map[string]int32, n)
	for mid, tok := range rec.toks {
		if len(tok) != 2 {
			t.Errorf("request %d: %d-byte token", mid, len(tok))
		}
		if other, dup := seen[tok]; dup {
			t.Errorf("requests %d and %d share token %x", other, mid, tok)
		}
		seen[tok] = mid
	}
}
