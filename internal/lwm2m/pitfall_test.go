package lwm2m_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// rawServer is a CoAP peer written with the codec only, so a test sees
// every datagram the engine sends (go-coap would hide ACKs and RSTs).
type rawServer struct {
	t    *testing.T
	conn *net.UDPConn
	peer *net.UDPAddr
}

func newRawServer(t *testing.T) *rawServer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawServer{t: t, conn: c}
}

func (s *rawServer) uri() string { return "coap://" + s.conn.LocalAddr().String() }

// recv returns the next datagram decoded, or nil at the deadline.
func (s *rawServer) recv(d time.Duration) *pool.Message {
	s.t.Helper()
	buf := make([]byte, 2048)
	_ = s.conn.SetReadDeadline(time.Now().Add(d))
	n, addr, err := s.conn.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	s.peer = addr
	m := pool.NewMessage(context.Background())
	if _, err := m.UnmarshalWithDecoder(coder.DefaultCoder, buf[:n]); err != nil {
		s.t.Fatalf("engine sent an undecodable datagram % X: %v", buf[:n], err)
	}
	return m
}

func (s *rawServer) send(typ message.Type, code codes.Code, mid int32, token []byte, build func(m *pool.Message)) {
	s.t.Helper()
	m := pool.NewMessage(context.Background())
	m.SetType(typ)
	m.SetCode(code)
	m.SetMessageID(mid)
	m.SetToken(token)
	if build != nil {
		build(m)
	}
	b, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.conn.WriteToUDP(b, s.peer); err != nil {
		s.t.Fatal(err)
	}
}

// acceptRegister answers the Register with 2.01 Location-Path rd/1.
func (s *rawServer) acceptRegister(timeout time.Duration) {
	s.t.Helper()
	m := s.recv(timeout)
	if m == nil || m.Code() != codes.POST {
		s.t.Fatalf("expected a Register, got %v", m)
	}
	s.send(message.Acknowledgement, codes.Created, m.MessageID(), m.Token(), func(r *pool.Message) {
		r.AddOptionString(message.LocationPath, "rd")
		r.AddOptionString(message.LocationPath, "1")
	})
}

func rawRig(t *testing.T, srv *rawServer, cfg lwm2m.Config, tweak func(*fakeTree)) (*lwm2m.Engine, func()) {
	t.Helper()
	tree := newFakeTree(time.Now)
	tree.addDevice()
	tree.addServer(0, 7, srv.uri(), 300, "U", "", "")
	if tweak != nil {
		tweak(tree)
	}
	cfg.Endpoint = "raw"
	if cfg.DeregisterTimeout == 0 {
		cfg.DeregisterTimeout = 200 * time.Millisecond
	}
	eng, err := lwm2m.New(cfg, tree, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("engine did not stop")
		}
	}
	t.Cleanup(stop)
	return eng, stop
}

// Pitfall 1: a handler that answers ACKs or RSTs makes two peers ping-pong
// forever. The engine must send nothing back for them: the first datagram
// after an RST, an empty ACK and a GET is the GET's response.
func TestHandlerAnswersRequestsOnly(t *testing.T) {
	checkLeaks(t)
	srv := newRawServer(t)
	_, _ = rawRig(t, srv, lwm2m.Config{}, nil)
	srv.acceptRegister(5 * time.Second)
	srv.send(message.Reset, codes.Empty, 4242, nil, nil)
	srv.send(message.Acknowledgement, codes.Empty, 4243, nil, nil)
	srv.send(message.Acknowledgement, codes.Content, 4244, []byte{1, 2, 3, 4}, nil) // stray response
	srv.send(message.Confirmable, codes.GET, 4245, []byte{9, 9}, func(m *pool.Message) {
		_ = m.SetPath("/3/0/0")
	})
	got := srv.recv(5 * time.Second)
	if got == nil {
		t.Fatal("no answer to the GET")
	}
	if got.MessageID() != 4245 || got.Code() != codes.Content || got.Type() != message.Acknowledgement {
		t.Fatalf("first datagram after RST/ACK/GET: type %v code %v mid %d, want the GET's 2.05 piggy-backed ACK", got.Type(), got.Code(), got.MessageID())
	}
	body, _ := got.ReadBody()
	if string(body) != "Open Mobile Alliance" {
		t.Errorf("payload %q", body)
	}
}

// Pitfall 2: go-coap closes the connection when a response cannot be
// written. With block-wise off, a response larger than one message becomes
// 5.00 instead, and the session survives.
func TestOversizedResponseIsAnErrorNotAClosedSession(t *testing.T) {
	checkLeaks(t)
	srv := newRawServer(t)
	_, _ = rawRig(t, srv, lwm2m.Config{DisableBlockwise: true, MaxMessageSize: 256}, func(f *fakeTree) {
		f.res["/3/0/2"] = strings.Repeat("S", 400)
	})
	srv.acceptRegister(5 * time.Second)
	for i, path := range []string{"/3/0/2", "/3/0/0"} {
		mid := int32(100 + i)
		srv.send(message.Confirmable, codes.GET, mid, []byte{byte(i)}, func(m *pool.Message) { _ = m.SetPath(path) })
		got := srv.recv(5 * time.Second)
		if got == nil || got.MessageID() != mid {
			t.Fatalf("GET %s: no answer (%v)", path, got)
		}
		want := codes.Content
		if i == 0 {
			want = codes.InternalServerError
		}
		if got.Code() != want {
			t.Errorf("GET %s: %v, want %v", path, got.Code(), want)
		}
	}
}

// Pitfall 3: the block size comes from the configuration (64 bytes here,
// what one SMS can carry), not go-coap's UDP default of 1024.
func TestBlockSizeFromConfig(t *testing.T) {
	checkLeaks(t)
	srv := newRawServer(t)
	_, _ = rawRig(t, srv, lwm2m.Config{BlockSize: 64}, func(f *fakeTree) {
		f.res["/3/0/2"] = strings.Repeat("0123456789", 15)
	})
	srv.acceptRegister(5 * time.Second)
	var all []byte
	for num := uint32(0); ; num++ {
		srv.send(message.Confirmable, codes.GET, int32(200+num), []byte{7}, func(m *pool.Message) {
			_ = m.SetPath("/3/0/2")
			if num > 0 {
				m.SetOptionUint32(message.Block2, num<<4|2) // NUM, M=0, SZX=2 (RFC 7959 §2.2)
			}
		})
		got := srv.recv(5 * time.Second)
		if got == nil {
			t.Fatalf("block %d: no answer", num)
		}
		b2, err := got.GetOptionUint32(message.Block2)
		if err != nil {
			t.Fatalf("block %d: no Block2 option in a 150-byte response with 64-byte blocks", num)
		}
		if b2&7 != 2 || b2>>4 != num {
			t.Fatalf("block %d: Block2 = %#x, want NUM %d SZX 2", num, b2, num)
		}
		body, _ := got.ReadBody()
		if len(body) > 64 {
			t.Fatalf("block %d carries %d bytes", num, len(body))
		}
		all = append(all, body...)
		if b2&8 == 0 {
			break
		}
	}
	if !bytes.Equal(all, []byte(strings.Repeat("0123456789", 15))) {
		t.Errorf("reassembled %q", all)
	}
}

// Pitfall 3b: the ACK timeout and retransmission count come from the
// configuration: with MaxRetransmit 2 an unanswered Register goes out
// exactly 3 times with one Message ID.
func TestTransmissionFromConfig(t *testing.T) {
	checkLeaks(t)
	srv := newRawServer(t)
	eng, _ := rawRig(t, srv, lwm2m.Config{AckTimeout: 50 * time.Millisecond, AckRandomFactor: 1, MaxRetransmit: 2,
		RetryInitial: time.Hour}, nil)
	first := srv.recv(5 * time.Second)
	if first == nil || first.Code() != codes.POST {
		t.Fatalf("no Register")
	}
	ctx := testCtx(t, 10*time.Second)
	eventually(t, ctx, "register failure", func() bool {
		st := eng.State()
		return len(st) == 1 && st[0].Failures == 1
	})
	// MAX_TRANSMIT_WAIT = 50 ms × (2³ − 1) × 1 = 350 ms bounds the request.
	if d := lwm2m.MaxTransmitWait(50*time.Millisecond, 1, 2); d != 350*time.Millisecond {
		t.Errorf("MaxTransmitWait = %v", d)
	}
	if d := lwm2m.MaxTransmitWait(lwm2m.DefaultAckTimeout, lwm2m.DefaultAckRandomFactor, lwm2m.DefaultMaxRetransmit); d != lwm2m.DefaultMaxTransmitWait {
		t.Errorf("MaxTransmitWait(defaults) = %v, want 93 s", d)
	}
	n := 1
	for m := srv.recv(100 * time.Millisecond); m != nil; m = srv.recv(100 * time.Millisecond) {
		if m.MessageID() != first.MessageID() {
			t.Errorf("datagram with MID %d, want only retransmissions of %d", m.MessageID(), first.MessageID())
		}
		n++
	}
	if n != 3 {
		t.Errorf("Register sent %d times, want 1 + MaxRetransmit(2)", n)
	}
}
