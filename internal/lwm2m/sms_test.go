package lwm2m_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
)

// smsAddr names an end of the in-memory SMS link.
type smsAddr string

func (smsAddr) Network() string  { return "sms" }
func (a smsAddr) String() string { return string(a) }

// smsEnd is the client's end of an in-memory datagram link standing in
// for an smsbind.Conn: each Write is one message to the server, each Read
// one from it.
type smsEnd struct {
	in   chan []byte
	out  chan<- []byte
	done chan struct{}
	once sync.Once
}

func (e *smsEnd) Read(b []byte) (int, error) {
	select {
	case m := <-e.in:
		return copy(b, m), nil
	case <-e.done:
		return 0, net.ErrClosed
	}
}

func (e *smsEnd) Write(b []byte) (int, error) {
	select {
	case e.out <- append([]byte(nil), b...):
		return len(b), nil
	case <-e.done:
		return 0, net.ErrClosed
	}
}

func (e *smsEnd) Close() error                     { e.once.Do(func() { close(e.done) }); return nil }
func (e *smsEnd) LocalAddr() net.Addr              { return smsAddr("") }
func (e *smsEnd) RemoteAddr() net.Addr             { return smsAddr("+33600000002") }
func (e *smsEnd) SetDeadline(time.Time) error      { return nil }
func (e *smsEnd) SetReadDeadline(time.Time) error  { return nil }
func (e *smsEnd) SetWriteDeadline(time.Time) error { return nil }

// smsLink is the server side: it sees every message the client writes and
// answers through the client's current end.
type smsLink struct {
	toServer chan []byte
	mu       sync.Mutex
	cur      *smsEnd // guarded by mu
	dials    int     // guarded by mu
}

func newSMSLink() *smsLink { return &smsLink{toServer: make(chan []byte, 256)} }

func (l *smsLink) dial(tr lwm2m.Transport) lwm2m.SMSDialer {
	return func(context.Context, lwm2m.Account) (net.Conn, lwm2m.Transport, error) {
		e := &smsEnd{in: make(chan []byte, 64), out: l.toServer, done: make(chan struct{})}
		l.mu.Lock()
		l.cur = e
		l.dials++
		l.mu.Unlock()
		return e, tr, nil
	}
}

func (l *smsLink) reply(t *testing.T, m message.Message) {
	t.Helper()
	raw := make([]byte, 256)
	n, err := coder.DefaultCoder.Encode(m, raw)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	e := l.cur
	l.mu.Unlock()
	select {
	case e.in <- raw[:n]:
	case <-e.done:
	}
}

// smsTransport is the daemon's SMS transport for a DTLS-mode server: one
// SMS carries 111 octets of CoAP.
func smsTransport(maxDatagram int) lwm2m.Transport {
	zero := uint32(0)
	return lwm2m.Transport{AckTimeout: 50 * time.Millisecond, MaxRetransmit: &zero, BlockSize: 64,
		MaxDatagram: maxDatagram, TokenLength: 2, RequestTimeout: 2 * time.Second, QueueAwake: time.Second}
}

func decode(t *testing.T, b []byte) message.Message {
	t.Helper()
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(b, &m); err != nil {
		t.Fatalf("client sent %x: %v", b, err)
	}
	m.Token = append(message.Token(nil), m.Token...)
	m.Payload = append([]byte(nil), m.Payload...)
	return m
}

func ack(req message.Message, code codes.Code, opts message.Options) message.Message {
	return message.Message{Type: message.Acknowledgement, Code: code, MessageID: req.MessageID, Token: req.Token, Options: opts}
}

// TestSMSRegisterBlock1: a Register whose links do not fit one SMS goes
// Block1 in the largest block for which every message fits 111 octets, with
// one 2-byte token; the Update and De-register follow on the same link.
func TestSMSRegisterBlock1(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tree := newFakeTree(time.Now)
	tree.addServer(0, 1, "coap://sms-only.invalid", 300, "S", "", "")
	tree.addDevice()
	for i := range 20 { // 20 instances of /1024: about 200 octets of links
		tree.res[fmt.Sprintf("/1024/%d/0", i)] = "x"
	}
	links, _ := tree.Links()
	const budget = 111
	link := newSMSLink()
	eng, err := lwm2m.New(lwm2m.Config{Endpoint: "urn:imei:350000000000001", MSISDN: "33611111111",
		DialSMS: link.dial(smsTransport(budget)), RetryInitial: time.Hour}, tree, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(rctx) }()

	var got []byte
	var token message.Token
	blocks, size := 0, 0
	for registered := false; !registered; {
		var b []byte
		select {
		case b = <-link.toServer:
		case <-ctx.Done():
			t.Fatal("no Register over SMS")
		}
		if len(b) > budget {
			t.Errorf("message of %d octets, over %d", len(b), budget)
		}
		m := decode(t, b)
		if len(m.Token) != 2 {
			t.Errorf("token %v: want 2 octets", m.Token)
		}
		if token == nil {
			token = m.Token
		} else if string(token) != string(m.Token) {
			t.Errorf("block token %v, first %v", m.Token, token)
		}
		qs, _ := m.Options.Queries()
		if !strings.Contains(strings.Join(qs, "&"), "b=S&sms=33611111111") {
			t.Errorf("queries %v", qs)
		}
		v, err := m.Options.GetUint32(message.Block1)
		if err != nil {
			t.Fatalf("Register of %d octets of links without Block1", len(links))
		}
		num, more, sz := int(v>>4), v&8 != 0, 16<<(v&7)
		if size == 0 {
			size = sz
		}
		if num != blocks || sz != size {
			t.Errorf("block %d size %d, want %d size %d", num, sz, blocks, size)
		}
		if more && len(b) > budget || more && len(m.Payload) != size {
			t.Errorf("block %d: %d octets of payload", num, len(m.Payload))
		}
		got = append(got, m.Payload...)
		blocks++
		if more {
			link.reply(t, ack(m, codes.Continue, message.Options{{ID: message.Block1, Value: []byte{byte(v)}}}))
			continue
		}
		link.reply(t, ack(m, codes.Created, message.Options{{ID: message.LocationPath, Value: []byte("rd")}, {ID: message.LocationPath, Value: []byte("5")}}))
		registered = true
		// The largest fitting block: the next size up would not fit.
		if first := len(b) - len(m.Payload); first+2*size <= budget {
			t.Errorf("block size %d: %d would fit too", size, 2*size)
		}
	}
	if string(got) != string(links) {
		t.Errorf("blocks carry %q, want %q", got, links)
	}
	t.Logf("Register: %d octets of links in %d blocks of %d, every message ≤ %d octets", len(links), blocks, size, budget)
	eventually(t, ctx, "registered", func() bool { return eng.State()[0].Registered })

	eng.Trigger(1)
	m := decode(t, <-link.toServer)
	if p, _ := m.Options.Path(); strings.Trim(p, "/") != "rd/5" || m.Code != codes.POST || len(m.Token) != 2 {
		t.Errorf("Update %v", m)
	}
	link.reply(t, ack(m, codes.Changed, nil))

	stop()
	select {
	case b := <-link.toServer:
		m := decode(t, b)
		if m.Code != codes.DELETE || len(m.Token) != 2 {
			t.Errorf("De-register %v", m)
		}
		link.reply(t, ack(m, codes.Deleted, nil))
	case <-ctx.Done():
		t.Fatal("no De-register over SMS")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSMSNoRetransmission: over SMS the client never retransmits (LwM2M-TS
// 1.0 §8.6.2): an unanswered Register goes out once, and after the request
// bound the registration backs off.
func TestSMSNoRetransmission(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tree := newFakeTree(time.Now)
	tree.addServer(0, 1, "coap://sms-only.invalid", 300, "SQ", "", "")
	tree.addDevice()
	link := newSMSLink()
	tr := smsTransport(140)
	tr.RequestTimeout = 500 * time.Millisecond // 10 ACK timeouts
	eng, err := lwm2m.New(lwm2m.Config{Endpoint: "ep", DialSMS: link.dial(tr), RetryInitial: time.Hour}, tree, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(rctx) }()
	eventually(t, ctx, "backoff after the unanswered Register", func() bool {
		st := eng.State()
		return len(st) == 1 && st[0].State == "backoff"
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(link.toServer)
	n := 0
	for b := range link.toServer {
		m := decode(t, b)
		if len(b) > 140 {
			t.Errorf("%d octets", len(b))
		}
		if m.Code != codes.POST {
			t.Errorf("unexpected %v", m)
		}
		n++
	}
	if n != 1 {
		t.Errorf("the Register went out %d times over SMS, want once", n)
	}
}

// TestSMSFallbackUSAndBack: binding US. While UDP fails the client registers
// over SMS after SMSFallbackAfter attempts; at its Update time it tries UDP
// again and registers there once UDP works.
func TestSMSFallbackUSAndBack(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 20*time.Second)
	var mu sync.Mutex
	udpDown := true
	udpTries := 0
	dial := func(ctx context.Context, acc lwm2m.Account, opts ...udp.Option) (*udpclient.Conn, error) {
		mu.Lock()
		udpTries++
		down := udpDown
		mu.Unlock()
		if down {
			return nil, fmt.Errorf("network unreachable (test)")
		}
		c, err := net.Dial("udp", strings.TrimPrefix(acc.URI, "coap://"))
		if err != nil {
			return nil, err
		}
		return lwm2m.ConnClient(c, opts...), nil
	}
	link := newSMSLink()
	smsRegistered := make(chan struct{})
	go func() { // the server's SMS side
		for {
			select {
			case b := <-link.toServer:
				m := decode(t, b)
				switch m.Code {
				case codes.POST:
					qs, _ := m.Options.Queries()
					if !strings.Contains(strings.Join(qs, "&"), "b=US") {
						t.Errorf("SMS Register %v", qs)
					}
					link.reply(t, ack(m, codes.Created, message.Options{{ID: message.LocationPath, Value: []byte("rd")}, {ID: message.LocationPath, Value: []byte("9")}}))
					mu.Lock()
					udpDown = false // UDP comes back meanwhile
					mu.Unlock()
					close(smsRegistered)
				default:
					link.reply(t, ack(m, codes.Deleted, nil))
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	r := startRig(t, false, 2, "US", lwm2m.Config{Dial: dial, DialSMS: link.dial(smsTransport(140)), RetryInitial: 10 * time.Millisecond})
	select {
	case <-smsRegistered:
	case <-ctx.Done():
		t.Fatal("no Register over SMS")
	}
	mu.Lock()
	tries := udpTries
	mu.Unlock()
	if tries != lwm2m.SMSFallbackAfter {
		t.Errorf("%d UDP attempts before the SMS fallback, want %d", tries, lwm2m.SMSFallbackAfter)
	}
	ev := waitEvent(t, ctx, r.events, kind(server.Registered)) // back on UDP at the Update time
	if ev.Query["b"] != "US" {
		t.Errorf("UDP Register %v", ev.Query)
	}
	r.stop(t)
	waitEvent(t, ctx, r.events, kind(server.Deregistered))
}
