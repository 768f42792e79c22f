package lwm2m_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// countingConn is a net.Conn transport of the kind the SMS binding
// provides (here a UDP socket behind the interface), counting writes.
type countingConn struct {
	net.Conn
	writes chan int
}

func (c *countingConn) Write(b []byte) (int, error) {
	select {
	case c.writes <- len(b):
	default:
	}
	return c.Conn.Write(b)
}

// Config.Dial with ConnClient: the engine runs over any datagram net.Conn.
func TestDialSeamWithNetConn(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 20*time.Second)
	writes := make(chan int, 64)
	dial := func(ctx context.Context, acc lwm2m.Account, opts ...udp.Option) (*udpclient.Conn, error) {
		c, err := net.Dial("udp", strings.TrimPrefix(acc.URI, "coap://"))
		if err != nil {
			return nil, err
		}
		return lwm2m.ConnClient(&countingConn{Conn: c, writes: writes}, opts...), nil
	}
	r := startRig(t, false, 300, "U", lwm2m.Config{Dial: dial})
	waitEvent(t, ctx, r.events, kind(server.Registered))
	select {
	case n := <-writes:
		if n == 0 {
			t.Error("empty write")
		}
	default:
		t.Error("the Register did not go through the dialled net.Conn")
	}
	c := r.srv.Client("lwm2m-clientd-test")
	if resp, err := c.Read(ctx, "/3/0/0", -1); err != nil || string(resp.Payload) != "Open Mobile Alliance" {
		t.Fatalf("read over the seam: %+v %v", resp, err)
	}
	r.stop(t)
	waitEvent(t, ctx, r.events, kind(server.Deregistered))
}

// Notifications produced while a queue-mode client sleeps are stored and
// sent after the wake-up Update (Server resource 6 true).
func TestNotificationsStoredWhileAsleep(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	clk := newFakeClock()
	r := startRig(t, false, 3600, "UQ", lwm2m.Config{QueueAwake: 10 * time.Second}, lwm2m.WithClock(clk))
	waitEvent(t, ctx, r.events, kind(server.Registered))
	c := r.srv.Client("lwm2m-clientd-test")
	o := observeAndSleep(t, ctx, r, clk, c)
	if !r.eng.Trigger(101) {
		t.Fatal("trigger")
	}
	waitEvent(t, ctx, r.events, kind(server.Updated))
	for want := uint32(1); want <= 2; want++ {
		select {
		case n := <-o.C():
			if n.Seq != want || string(n.Payload) != "Lightweight M2M Client" {
				t.Errorf("stored notification seq %d payload %q, want seq %d", n.Seq, n.Payload, want)
			}
		case <-ctx.Done():
			t.Fatalf("stored notification %d not sent after the wake-up", want)
		}
	}
}

// observeAndSleep observes /3/0/1 with pmax 15 s on a client whose awake
// time is 10 s, lets it fall asleep, then lets two pmax periods pass: the
// notifications with seq 1 and 2 fall due while it sleeps.
func observeAndSleep(t *testing.T, ctx context.Context, r *rig, clk *fakeClock, c *server.Client) *server.Observation {
	t.Helper()
	if resp, err := c.WriteAttributes(ctx, "/3/0/1", "pmax=15"); err != nil || resp.Code != codes.Changed {
		t.Fatalf("write-attributes: %v %v", resp.Code, err)
	}
	o, err := c.Observe(ctx, "/3/0/1", -1)
	if err != nil {
		t.Fatal(err)
	}
	state := func() string { return r.eng.State()[0].State }
	eventually(t, ctx, "registered", func() bool { return state() == "registered" })
	clk.waitTimer(t, ctx, 15*time.Second) // the observation's pmax
	clk.waitTimer(t, ctx, 10*time.Second) // the queue-mode awake time
	clk.Advance(10 * time.Second)
	eventually(t, ctx, "asleep", func() bool { return state() == "sleeping" })
	clk.waitTimer(t, ctx, 5*time.Second)
	clk.Advance(5 * time.Second)
	clk.waitTimer(t, ctx, 15*time.Second)
	clk.Advance(15 * time.Second)
	clk.waitTimer(t, ctx, 15*time.Second)
	select {
	case n := <-o.C():
		t.Fatalf("notification %d delivered while asleep", n.Seq)
	default:
	}
	return o
}

// Execute /1/x/4 (Disable): 2.04, De-register, silence for the Disable
// Timeout, then Register again.
func TestDisable(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	clk := newFakeClock()
	r := startRig(t, false, 300, "U", lwm2m.Config{}, lwm2m.WithClock(clk))
	waitEvent(t, ctx, r.events, kind(server.Registered))
	c := r.srv.Client("lwm2m-clientd-test")
	if resp, err := c.Execute(ctx, "/1/0/4", ""); err != nil || resp.Code != codes.Changed {
		t.Fatalf("execute disable: %v %v", resp.Code, err)
	}
	waitEvent(t, ctx, r.events, kind(server.Deregistered))
	eventually(t, ctx, "disabled", func() bool { return r.eng.State()[0].State == "disabled" })
	clk.waitTimer(t, ctx, lwm2m.DefaultDisableTimeout)
	clk.Advance(lwm2m.DefaultDisableTimeout - time.Second)
	if st := r.eng.State()[0].State; st != "disabled" {
		t.Fatalf("left disabled early: %s", st)
	}
	clk.Advance(time.Second)
	waitEvent(t, ctx, r.events, kind(server.Registered))
}

// A DTLS queue-mode client waking up has no session any more: a new
// handshake, then Register (not Update), lwm2m.md §8.2/§8.5.
func TestQueueModeDTLSWakeRegisters(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	clk := newFakeClock()
	r := startRig(t, true, 600, "UQ", lwm2m.Config{QueueAwake: 10 * time.Second}, lwm2m.WithClock(clk))
	waitEvent(t, ctx, r.events, kind(server.Registered))
	eventually(t, ctx, "registered", func() bool { return r.eng.State()[0].State == "registered" })
	clk.waitTimer(t, ctx, 10*time.Second)
	clk.Advance(11 * time.Second)
	eventually(t, ctx, "asleep", func() bool { return r.eng.State()[0].State == "sleeping" })
	r.eng.Trigger(101)
	ev := waitEvent(t, ctx, r.events, func(ev server.Event) bool { return ev.Kind == server.Registered || ev.Kind == server.Updated })
	if ev.Kind != server.Registered {
		t.Errorf("DTLS wake-up sent %s, want a fresh Register", ev.Kind)
	}
}

// A request arriving on a side connection (how the SMS binding delivers
// the server's Execute /1/x/8) is answered there and makes the
// registration send its Update over UDP within a second.
func TestServeConnTrigger(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 20*time.Second)
	r := startRig(t, false, 300, "UQS", lwm2m.Config{MSISDN: "+33612345678"})
	reg := waitEvent(t, ctx, r.events, kind(server.Registered))
	if reg.Query["sms"] != "33612345678" || reg.Query["b"] != "UQS" {
		t.Errorf("register with binding UQS: %v", reg.Query)
	}
	// A connected UDP pair stands in for the SMS Conn.
	peer := newRawServer(t)
	side, err := net.DialUDP("udp", nil, peer.conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	peer.peer = side.LocalAddr().(*net.UDPAddr)
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	zero := uint32(0)
	go func() {
		served <- r.eng.ServeConn(sctx, 101, side, lwm2m.Transport{AckTimeout: 10 * time.Second, MaxRetransmit: &zero, BlockSize: 64})
	}()
	start := time.Now()
	peer.send(message.Confirmable, codes.POST, 77, []byte{1, 2}, func(m *pool.Message) { _ = m.SetPath("/1/0/8") })
	ack := peer.recv(5 * time.Second)
	if ack == nil || ack.MessageID() != 77 || ack.Code() != codes.Changed {
		t.Fatalf("answer on the side connection: %v", ack)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	waitEvent(t, tctx, r.events, kind(server.Updated))
	t.Logf("side-connection trigger → UDP Update in %v", time.Since(start))
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// Change-driven notifications honour gt: a change that does not cross
// the threshold is not sent, one that does is.
func TestObserveGreaterThan(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 20*time.Second)
	r := startRig(t, false, 300, "U", lwm2m.Config{})
	r.tree.mu.Lock()
	r.tree.res["/3/0/9"] = "40"
	r.tree.mu.Unlock()
	waitEvent(t, ctx, r.events, kind(server.Registered))
	c := r.srv.Client("lwm2m-clientd-test")
	if resp, err := c.WriteAttributes(ctx, "/3/0/9", "gt=50"); err != nil || resp.Code != codes.Changed {
		t.Fatalf("write-attributes: %v %v", resp.Code, err)
	}
	o, err := c.Observe(ctx, "/3/0/9", -1)
	if err != nil {
		t.Fatal(err)
	}
	set := func(v string) {
		r.tree.mu.Lock()
		r.tree.res["/3/0/9"] = v
		r.tree.mu.Unlock()
		r.eng.Changed(lwm2m.Path{3, 0, 9})
	}
	// If the observer evaluates the 45 it must not send it (no crossing of
	// gt=50); either way the first notification received is the 55.
	set("45")
	set("55")
	select {
	case n := <-o.C():
		if string(n.Payload) != "55" {
			t.Errorf("first notification %q, want 55 (45 does not cross gt=50)", n.Payload)
		}
	case <-ctx.Done():
		t.Fatal("no notification after crossing gt")
	}
}

// With Notification Storing off (Server resource 6 written false by the
// server), what falls due while asleep is dropped: the first notification
// after the wake-up is a fresh one (seq 3), not a stored one.
func TestNotificationsDroppedWhenStoringOff(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	clk := newFakeClock()
	r := startRig(t, false, 3600, "UQ", lwm2m.Config{QueueAwake: 10 * time.Second}, lwm2m.WithClock(clk))
	waitEvent(t, ctx, r.events, kind(server.Registered))
	c := r.srv.Client("lwm2m-clientd-test")
	if resp, err := c.Write(ctx, "/1/0/6", int(lwm2m.FormatText), []byte("0"), false); err != nil || resp.Code != codes.Changed {
		t.Fatalf("write notification storing: %v %v", resp.Code, err)
	}
	o := observeAndSleep(t, ctx, r, clk, c)
	r.eng.Trigger(101)
	waitEvent(t, ctx, r.events, kind(server.Updated))
	eventually(t, ctx, "registered again", func() bool { return r.eng.State()[0].State == "registered" })
	// A change while awake: notified at once (pmin 0), as seq 3.
	r.tree.mu.Lock()
	r.tree.res["/3/0/1"] = "model B"
	r.tree.mu.Unlock()
	r.eng.Changed(lwm2m.Path{3, 0, 1})
	select {
	case n := <-o.C():
		if n.Seq != 3 {
			t.Errorf("first notification after the wake-up has seq %d, want 3 (1 and 2 dropped)", n.Seq)
		}
	case <-ctx.Done():
		t.Fatal("no notification after the wake-up")
	}
}
