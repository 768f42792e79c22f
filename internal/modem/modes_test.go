package modem_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// class2PDU is deliverPDU(n) with DCS 0xF6 (TS 23.038 §4: class 2, 8-bit)
// and the given PID (0x7F = (U)SIM data download, TS 23.040 §9.2.3.9).
func class2PDU(n int, pid byte) []byte {
	b := deliverPDU(n)
	b[9], b[10] = pid, 0xF6
	return b
}

// TestDirectHandOffBeforeAck: +CMT is acknowledged only after the handler
// returned, and the ack goes ahead of queued +CMGS commands.
func TestDirectHandOffBeforeAck(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect})
	if h := r.m.Health(); h.Delivery != modem.DeliveryDirect {
		t.Fatalf("delivery %v", h.Delivery)
	}
	release := make(chan struct{})
	r.mu.Lock()
	r.block = release
	r.mu.Unlock()
	res := r.deliverAsync(deliverPDU(1))
	// The handler is blocked: the network must still be waiting for the ack.
	select {
	case err := <-res:
		t.Fatalf("network got its ack before hand-off: %v", err)
	default:
	}
	r.mu.Lock()
	r.block = nil
	r.mu.Unlock()
	close(release)
	if err := <-res; err != nil {
		t.Fatalf("delivery: %v", err)
	}
	r.waitSMS(1)
	cmds := r.emu.Commands()
	if !slices.Contains(cmds, "AT+CNMA") {
		t.Fatalf("no +CNMA in %q", cmds)
	}
	r.noDuplicates()
}

func TestAckNotBehindSendQueue(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect})
	r.emu.SlowReply("AT+CMGS", 800*time.Millisecond) // the +CMT arrives during the first
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.m.SendSMS(r.ctx, submitPDU()); err != nil {
				t.Error(err)
			}
		}()
	}
	if err := <-r.deliverAsync(deliverPDU(1)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var order []string
	for _, c := range r.emu.Commands() {
		if strings.HasPrefix(c, "AT+CMGS") || c == "AT+CNMA" {
			order = append(order, c[:7])
		}
	}
	if i := slices.Index(order, "AT+CNMA"); i < 0 || i > 1 {
		t.Fatalf("+CNMA waited behind the +CMGS queue: %v", order)
	}
}

func TestStoredDelivery(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored})
	for i := range 5 {
		r.must(r.emu.Deliver(r.ctx, deliverPDU(i)))
	}
	got := r.waitSMS(5)
	for i := range 5 {
		if string(got[i]) != string(deliverPDU(i)) {
			t.Fatalf("SMS %d: %x", i, got[i])
		}
	}
	r.waitStoredEmpty()
	if slices.Contains(r.emu.Commands(), "AT+CNMA") {
		t.Fatal("+CNMA in stored mode")
	}
	r.noDuplicates()
}

// TestClass2InDirectMode: class 2 arrives as +CMTI even with +CMT routing
// (TS 27.005 §3.4.1) and is read, handed off and deleted.
func TestClass2InDirectMode(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryAuto})
	r.must(r.emu.Deliver(r.ctx, class2PDU(1, 0x00)))
	r.must(<-r.deliverAsync(deliverPDU(2)))
	got := r.waitSMS(2)
	if string(got[0]) != string(class2PDU(1, 0)) || string(got[1]) != string(deliverPDU(2)) {
		t.Fatalf("got %x", got)
	}
	r.waitStoredEmpty()
	r.noDuplicates()
}

type fakeSIM struct {
	mu         sync.Mutex
	downloaded [][]byte
	accept     bool
}

func (s *fakeSIM) Transmit(apdu []byte) []byte { return append([]byte{0xAB, apdu[1]}, 0x90, 0x00) }
func (s *fakeSIM) DownloadSMS(tpdu []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downloaded = append(s.downloaded, tpdu)
	return s.accept
}
func (s *fakeSIM) ICCID() string { return "8944000000000000001" }
func (s *fakeSIM) IMSI() string  { return "234150000000009" }

var _ emu.SIM = (*fakeSIM)(nil)

// TestSIMDownload: class 2 / PID 0x7F goes to the SIM (TS 31.111 §7.1.1)
// when the modem downloads it; when the SIM refuses, the host gets it.
func TestSIMDownload(t *testing.T) {
	for _, accept := range []bool{true, false} {
		t.Run(fmt.Sprint("accept=", accept), func(t *testing.T) {
			sim := &fakeSIM{accept: accept}
			r := newRig(t, rigOpt{delivery: modem.DeliveryDirect, sim: sim})
			r.must(r.emu.Deliver(r.ctx, class2PDU(1, 0x7F)))
			r.must(<-r.deliverAsync(deliverPDU(2)))
			got := r.waitSMS(1)
			want := [][]byte{deliverPDU(2)}
			if !accept {
				want = [][]byte{class2PDU(1, 0x7F), deliverPDU(2)}
				got = r.waitSMS(2)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("host got %x, want %x", got, want)
			}
			sim.mu.Lock()
			n := len(sim.downloaded)
			sim.mu.Unlock()
			if n != 1 {
				t.Fatalf("SIM got %d downloads", n)
			}
			resp, err := r.m.CSIM(r.ctx, []byte{0x80, 0xC2, 0x00, 0x00})
			r.must(err)
			if string(resp) != string([]byte{0xAB, 0xC2, 0x90, 0x00}) {
				t.Fatalf("+CSIM response %x", resp)
			}
		})
	}
}

// TestAutoFallsBackWithoutCNMA: a modem that routes +CMT but refuses +CNMA
// makes auto mode switch to stored delivery. The modem then also turns
// routing off for the missed ack (TS 27.005 §3.4.4), so the network's
// resend is stored silently: the periodic sweep re-asserts +CNMI and
// collects it. The SMS is handed off twice, for that reason.
func TestAutoFallsBackWithoutCNMA(t *testing.T) {
	clk := newFakeClock()
	r := newRig(t, rigOpt{delivery: modem.DeliveryAuto, opts: []modem.Option{modem.WithClock(clk)}, quirks: func(q *emu.Quirks) {
		q.NoCNMA = true
		q.AckTimeout = 200 * time.Millisecond
	}})
	err := <-r.deliverAsync(deliverPDU(1))
	if !errors.Is(err, emu.ErrNoAck) {
		t.Fatalf("first delivery: %v", err)
	}
	r.waitHealth(func(h modem.Health) bool { return h.Delivery == modem.DeliveryStored })
	r.must(r.emu.Deliver(r.ctx, deliverPDU(1))) // the network's retry
	clk.waitTimer(r.ctx, t, modem.DefaultSweepInterval)
	clk.Advance(modem.DefaultSweepInterval)
	got := r.waitSMS(2)
	if string(got[1]) != string(deliverPDU(1)) {
		t.Fatalf("retry not handed off: %x", got)
	}
	r.waitStoredEmpty()
}

func TestAutoWithoutCSMS(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryAuto, quirks: func(q *emu.Quirks) { q.NoCSMS = true }})
	if d := r.m.Health().Delivery; d != modem.DeliveryStored {
		t.Fatalf("delivery %v", d)
	}
	r.must(r.emu.Deliver(r.ctx, deliverPDU(1)))
	r.waitSMS(1)
	r.waitStoredEmpty()
}

func TestStartupSweep(t *testing.T) {
	var pre [][]byte
	for i := range 5 {
		pre = append(pre, deliverPDU(i))
	}
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect, prestore: pre})
	got := r.waitSMS(5)
	if fmt.Sprint(got) != fmt.Sprint(pre) {
		t.Fatalf("sweep handed off %x", got)
	}
	r.waitStoredEmpty()
	r.noDuplicates()
}

// TestHandlerErrorKeepsSMS: an SMS whose hand-off failed stays in storage
// and is handed off again by the next sweep.
func TestHandlerErrorKeepsSMS(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored})
	r.mu.Lock()
	r.handlerErr = errors.New("consumer busy")
	r.mu.Unlock()
	r.must(r.emu.Deliver(r.ctx, deliverPDU(1)))
	// +CMS ERROR: 322 on a command triggers a sweep; by then the handler works.
	r.emu.FailNext("AT+CMGS", modem.CMSMemoryFull)
	for len(r.emu.Commands()) == 0 || !slices.ContainsFunc(r.emu.Commands(), func(c string) bool { return strings.HasPrefix(c, "AT+CMGR") }) {
		select {
		case <-r.ctx.Done():
			t.Fatal("SMS never read")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if len(r.emu.Stored()) != 1 {
		t.Fatal("SMS deleted although its hand-off failed")
	}
	r.mu.Lock()
	r.handlerErr = nil
	r.mu.Unlock()
	_, err := r.m.SendSMS(r.ctx, submitPDU())
	var cms *modem.CMSError
	if !errors.As(err, &cms) || cms.Code != modem.CMSMemoryFull {
		t.Fatalf("send: %v", err)
	}
	r.waitSMS(1)
	r.waitStoredEmpty()
}

// TestStorageFull: SMS stored silently fill the storage; the modem's full
// indication triggers a sweep that empties it.
func TestStorageFull(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect, capacity: 3})
	r.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = true })
	for i := range 3 {
		r.must(r.emu.Deliver(r.ctx, deliverPDU(i)))
	}
	r.waitSMS(3)
	r.waitStoredEmpty()
	// The network's next delivery fits again.
	r.must(r.emu.Deliver(r.ctx, deliverPDU(3)))
	r.noDuplicates()
}

func TestStatusReport(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect})
	ra, err := atpdu.ParseAddress("+33612345678")
	r.must(err)
	ts := atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 12}
	sr := atpdu.StatusReport{MR: 7, RA: ra, SCTS: ts, DT: ts, ST: atpdu.StatusDelivered}
	tpdu, err := sr.Append(nil)
	r.must(err)
	done := make(chan error, 1)
	go func() { done <- r.emu.DeliverStatusReport(r.ctx, tpdu) }()
	select {
	case got := <-r.m.StatusReports():
		if got.Report.MR != 7 || got.Report.ST != atpdu.StatusDelivered || string(got.TPDU) != string(tpdu) {
			t.Fatalf("report %+v", got)
		}
	case <-r.ctx.Done():
		t.Fatal("no status report")
	}
	r.must(<-done)
	r.mu.Lock()
	n := len(r.got)
	r.mu.Unlock()
	if n != 0 {
		t.Fatal("status report handed off as SMS")
	}
}

// fakeClock fires After channels only when advanced.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	added   chan time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), added: make(chan time.Duration, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	select {
	case c.added <- d:
	default:
	}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// waitTimer waits until someone asked the clock for a timer of d.
func (c *fakeClock) waitTimer(ctx context.Context, t *testing.T, d time.Duration) {
	t.Helper()
	for {
		select {
		case got := <-c.added:
			if got == d {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %v timer requested", d)
		}
	}
}

// TestSendTransientRetry: transient +CMS errors are retried with backoff
// on the injected clock; the SMS leaves once.
func TestSendTransientRetry(t *testing.T) {
	clk := newFakeClock()
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone, opts: []modem.Option{modem.WithClock(clk)}})
	r.emu.FailNext("AT+CMGS", modem.CMSNoNetworkService, modem.CMSUnknown)
	res := make(chan error, 1)
	go func() {
		mr, err := r.m.SendSMS(r.ctx, submitPDU())
		if err == nil && mr != 1 {
			err = fmt.Errorf("mr %d", mr)
		}
		res <- err
	}()
	clk.waitTimer(r.ctx, t, 2*time.Second)
	clk.Advance(2 * time.Second)
	clk.waitTimer(r.ctx, t, 4*time.Second)
	clk.Advance(4 * time.Second)
	r.must(<-res)
	if n := countCmd(r.emu, "AT+CMGS"); n != 3 || r.net.count() != 1 {
		t.Fatalf("%d +CMGS, %d submitted", n, r.net.count())
	}
}

// TestSendRetryBoundedByDeadline: retries stop at the caller's deadline.
func TestSendRetryBoundedByDeadline(t *testing.T) {
	clk := newFakeClock()
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone, opts: []modem.Option{modem.WithClock(clk)}})
	r.emu.FailNext("AT+CMGS", modem.CMSNetworkTimeout)
	ctx, cancel := context.WithTimeout(r.ctx, time.Second)
	defer cancel()
	_, err := r.m.SendSMS(ctx, submitPDU())
	var cms *modem.CMSError
	if !errors.As(err, &cms) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want +CMS ERROR and deadline, got %v", err)
	}
}

// TestIndicationInOtherStorage: a +CMTI naming another storage than the
// configured one is swept there (+CPMS switched for the read, then back).
func TestIndicationInOtherStorage(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored, quirks: func(q *emu.Quirks) { q.IndicateStorage = "ME" }})
	before := r.m.Health().LastSweep
	r.must(r.emu.Deliver(r.ctx, deliverPDU(1)))
	r.waitSMS(1)
	r.waitHealth(func(h modem.Health) bool { return h.LastSweep.After(before) }) // after the restore
	if len(r.emu.Stored()) != 0 {
		t.Fatal("SMS not deleted")
	}
	cmds := r.emu.Commands()
	i := slices.Index(cmds, `AT+CPMS="ME"`)
	if i < 0 || !slices.Contains(cmds[i:], `AT+CPMS="SM","SM","SM"`) {
		t.Fatalf("storage not switched and restored: %q", cmds)
	}
	r.noDuplicates()
}
