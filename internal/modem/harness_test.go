package modem_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/emutest"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// testLog is where driver logs go; set LWM2M_TEST_LOG=1 to see them.
func testLog(t testing.TB) *slog.Logger {
	return emutest.Log()
}

// checkLeaks fails the test if goroutines started during it are still
// running after cleanup (bounded wait: exiting goroutines need a moment).
func checkLeaks(t *testing.T) {
	t.Helper()
	emutest.CheckLeaks(t, 5*time.Second)
}

// fakeNetwork records SUBMITs.
type fakeNetwork struct {
	mu   sync.Mutex
	subs [][]byte
	sig  chan struct{}
}

func newFakeNetwork() *fakeNetwork { return &fakeNetwork{sig: make(chan struct{}, 1000)} }

func (n *fakeNetwork) Submit(_ context.Context, _ string, tpdu []byte) error {
	n.mu.Lock()
	n.subs = append(n.subs, append([]byte(nil), tpdu...))
	n.mu.Unlock()
	n.sig <- struct{}{}
	return nil
}

func (n *fakeNetwork) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs)
}

// rig is one emulated modem plus one driver running against it.
type rig struct {
	t      *testing.T
	ctx    context.Context
	emu    *emu.Modem
	net    *fakeNetwork
	m      *modem.Modem
	cancel context.CancelFunc
	runErr chan error

	mu         sync.Mutex
	got        [][]byte // TPDUs handed off, in order
	seen       map[string]int
	gotSig     chan struct{}
	block      chan struct{} // when non-nil, the handler waits on it
	entered    chan struct{} // signalled when the handler starts waiting on block
	handlerErr error
}

type rigOpt struct {
	delivery modem.Delivery
	quirks   func(*emu.Quirks)
	capacity int
	prestore [][]byte // stored before the driver starts
	opener   modem.Opener
	opts     []modem.Option
	noStart  bool
	sim      emu.SIM
}

func newRig(t *testing.T, o rigOpt) *rig {
	t.Helper()
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r := &rig{t: t, ctx: ctx, cancel: cancel, net: newFakeNetwork(), seen: map[string]int{}, gotSig: make(chan struct{}, 10000), entered: make(chan struct{}, 1), runErr: make(chan error, 1)}
	link := filepath.Join(t.TempDir(), "ttyEMU")
	e, err := emu.New(emu.Config{Link: link, Number: "+33600000001", Network: r.net, Capacity: o.capacity, SIM: o.sim, Log: testLog(t).With("side", "emu")})
	if err != nil {
		t.Fatal(err)
	}
	r.emu = e
	if o.quirks != nil {
		e.SetQuirks(o.quirks)
	}
	if len(o.prestore) > 0 {
		e.SetQuirks(func(q *emu.Quirks) { q.SilentStore = true })
		for _, p := range o.prestore {
			if err := e.Deliver(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		e.SetQuirks(func(q *emu.Quirks) { q.SilentStore = false })
	}
	if o.delivery == "" {
		o.delivery = modem.DeliveryDirect
	}
	opts := append([]modem.Option{modem.WithLogger(testLog(t)), modem.WithReconnectBackoff(20*time.Millisecond, 100*time.Millisecond)}, o.opts...)
	if o.opener != nil {
		opts = append(opts, modem.WithOpener(o.opener))
	}
	cfg := modem.Config{Port: link, Delivery: o.delivery, Trace: true}
	if o.delivery != modem.DeliveryNone {
		cfg.HandleSMS = r.handle
	}
	m, err := modem.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	t.Cleanup(func() {
		r.cancel()
		if !o.noStart {
			<-r.runErr
		}
		e.Close()
	})
	if !o.noStart {
		r.start()
	}
	return r
}

func (r *rig) start() {
	go func() { r.runErr <- r.m.Run(r.ctx) }()
	if err := r.m.WaitUp(r.ctx); err != nil {
		r.t.Fatalf("modem never came up: %v (%v)", err, r.m.Health())
	}
	if r.m.Health().Delivery != modem.DeliveryNone {
		r.waitHealth(func(h modem.Health) bool { return !h.LastSweep.IsZero() })
	}
}

func (r *rig) handle(ctx context.Context, sms modem.SMS) error {
	r.mu.Lock()
	block, herr := r.block, r.handlerErr
	r.mu.Unlock()
	if block != nil {
		select {
		case r.entered <- struct{}{}:
		default:
		}
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if herr != nil {
		return herr
	}
	r.mu.Lock()
	r.got = append(r.got, sms.TPDU)
	r.seen[string(sms.TPDU)]++
	r.mu.Unlock()
	r.gotSig <- struct{}{}
	return nil
}

// waitSMS waits until n SMS in total were handed off.
func (r *rig) waitSMS(n int) [][]byte {
	r.t.Helper()
	for {
		r.mu.Lock()
		got := append([][]byte(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.gotSig:
		case <-r.ctx.Done():
			r.t.Fatalf("only %d of %d SMS handed off; health %v", len(got), n, r.m.Health())
		}
	}
}

// noDuplicates fails if an SMS was handed off twice.
func (r *rig) noDuplicates() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.seen {
		if n > 1 {
			r.t.Errorf("SMS %x handed off %d times", k, n)
		}
	}
}

// waitHealth waits until cond holds for the driver's health.
func (r *rig) waitHealth(cond func(modem.Health) bool) {
	r.t.Helper()
	for {
		ch := r.m.HealthChanged()
		if h := r.m.Health(); cond(h) {
			return
		}
		select {
		case <-ch:
		case <-r.ctx.Done():
			r.t.Fatalf("health condition never met: %v", r.m.Health())
		}
	}
}

// waitStoredEmpty waits until the emulator's storage is empty, checking
// whenever an SMS is handed off or the wait times out briefly (the delete
// follows the hand-off).
func (r *rig) waitStoredEmpty() {
	r.t.Helper()
	for len(r.emu.Stored()) > 0 {
		select {
		case <-r.ctx.Done():
			r.t.Fatalf("storage still holds %d SMS", len(r.emu.Stored()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// deliverPDU is a TS 23.040 §9.2.2.1 SMS-DELIVER: FO 0x04 (MTI 00, no more
// messages waiting), OA +33612345678 (0B 91 3316325476F8), PID 00, DCS 04
// (8-bit), SCTS 2026-11-28 12:00:00 +00, UDL, UD = "sms <n>".
func deliverPDU(n int) []byte {
	ud := []byte(fmt.Sprintf("sms %d", n))
	b := []byte{0x04, 0x0B, 0x91, 0x33, 0x16, 0x32, 0x54, 0x76, 0xF8, 0x00, 0x04,
		0x62, 0x11, 0x82, 0x21, 0x00, 0x00, 0x00, byte(len(ud))}
	return append(b, ud...)
}

// deliverAsync runs emu.Deliver in the background (it blocks until the
// driver acknowledges a +CMT) and reports its result.
func (r *rig) deliverAsync(tpdu []byte) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- r.emu.Deliver(r.ctx, tpdu) }()
	return ch
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

var _ io.Closer = (*emu.Modem)(nil)
