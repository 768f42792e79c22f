package smsbind

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/emutest"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// testLog is where logs go; LWM2M_TEST_LOG=1 shows them.
func testLog(t testing.TB) *slog.Logger {
	return emutest.Log()
}

// checkLeaks fails the test if goroutines started during it still run after
// cleanup (bounded wait).
func checkLeaks(t *testing.T) {
	t.Helper()
	emutest.CheckLeaks(t, 5*time.Second)
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fakeClock is a Clock moved by Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	added   chan struct{} // signalled when After registers a waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC), added: make(chan struct{}, 100)}
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
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	select {
	case c.added <- struct{}{}:
	default:
	}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	var keep []waiter
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// submitter records what would go to the modem.
type submitter struct {
	mu   sync.Mutex
	sent [][]byte
	err  error
}

func (s *submitter) SubmitSMS(_ context.Context, tpdu []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, bytes.Clone(tpdu))
	return nil
}

func (s *submitter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// fakeUICC is a scripted LwM2M UICC application.
type fakeUICC struct {
	mu        sync.Mutex
	sw        uicc.StatusWord // answer to ENVELOPE
	envErr    error
	onEnv     func(tpdu []byte) []uicc.Record // records the card yields for a download
	pending   []uicc.Record
	envelopes [][]byte
	smsc      [][]byte
	stored    []uicc.Record
	getData   int
}

func (f *fakeUICC) DownloadSMS(_ context.Context, smsc, tpdu []byte) (uicc.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.envErr != nil {
		return uicc.Response{}, f.envErr
	}
	f.envelopes = append(f.envelopes, bytes.Clone(tpdu))
	f.smsc = append(f.smsc, bytes.Clone(smsc))
	sw := f.sw
	if sw == 0 {
		sw = uicc.SWOK
	}
	if sw.OK() && f.onEnv != nil {
		f.pending = append(f.pending, f.onEnv(tpdu)...)
	}
	return uicc.Response{SW: sw}, nil
}

func (f *fakeUICC) GetData(context.Context) ([]uicc.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getData++
	r := f.pending
	f.pending = nil
	return r, nil
}

func (f *fakeUICC) StoreData(_ context.Context, da uicc.Address, coap []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored = append(f.stored, uicc.Record{Address: bytes.Clone(da), Message: bytes.Clone(coap)})
	return nil
}

func (f *fakeUICC) queue(r uicc.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, r)
}

// deliver builds an SMS-DELIVER TPDU.
func deliver(t testing.TB, from string, pid atpdu.PID, dcs atpdu.DCS, udh atpdu.UDH, ud []byte) []byte {
	t.Helper()
	oa, err := atpdu.ParseAddress(from)
	if err != nil {
		t.Fatal(err)
	}
	b, err := atpdu.Deliver{OA: oa, PID: pid, DCS: dcs, UDH: udh, UD: ud,
		SCTS: atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 18}}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliverOA builds an SMS-DELIVER with a raw originating address.
func deliverOA(t testing.TB, oa atpdu.Address, ud []byte) []byte {
	t.Helper()
	b, err := atpdu.Deliver{OA: oa, DCS: 0x04, UD: ud, SCTS: atpdu.Timestamp{Year: 2026, Month: 11, Day: 28}}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// coapGet is CON GET /1/1/8-ish request bytes: Ver 1, CON, TKL 2, GET,
// MID 0x1234, token 0xAB 0xCD, Uri-Path "1".
var coapGet = []byte{0x42, 0x01, 0x12, 0x34, 0xAB, 0xCD, 0xB1, '1'}

// coapTrigger is CON POST /1/0/8 (the registration update trigger, LwM2M-TS
// 1.0 §5.3.1.1), token 0x01 0x02.
var coapTrigger = []byte{0x42, 0x02, 0x00, 0x07, 0x01, 0x02, 0xB1, '1', 0x01, '0', 0x01, '8'}

// coapChanged is the piggy-backed 2.04 answer to coapTrigger.
var coapChanged = []byte{0x62, 0x44, 0x00, 0x07, 0x01, 0x02}

func mustAddr(t testing.TB, msisdn string) uicc.Address {
	t.Helper()
	a, err := encodeAddressField(msisdn)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
