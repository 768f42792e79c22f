package smsbind

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// mrSubmitter records SMS and numbers them like a modem: TP-MR 1, 2, ...
// modulo 256 (TS 23.040 §9.2.3.6).
type mrSubmitter struct {
	mu   sync.Mutex
	sent [][]byte
	mr   int
	// during, if set, runs inside SubmitSMSMR with the TP-MR about to be
	// returned (not under mu): a report overtaking the +CMGS answer.
	during func(mr int)
}

func (s *mrSubmitter) SubmitSMS(ctx context.Context, tpdu []byte) error {
	_, err := s.SubmitSMSMR(ctx, tpdu)
	return err
}

func (s *mrSubmitter) SubmitSMSMR(_ context.Context, tpdu []byte) (int, error) {
	s.mu.Lock()
	s.mr = (s.mr + 1) % 256
	mr, during := s.mr, s.during
	s.sent = append(s.sent, bytes.Clone(tpdu))
	s.mu.Unlock()
	if during != nil {
		during(mr)
	}
	return mr, nil
}

type deliveryRig struct {
	b   *Binding
	sub *mrSubmitter
	clk *fakeClock
	log *bytes.Buffer
	ctx context.Context
}

func newDeliveryRig(t *testing.T, request bool) *deliveryRig {
	t.Helper()
	r := &deliveryRig{sub: &mrSubmitter{}, clk: newFakeClock(), log: new(bytes.Buffer), ctx: testCtx(t, 10*time.Second)}
	cfg := Config{
		Servers: []Server{
			{ID: 1, Number: nosecNumber, Mode: ModeNoSec},
			{ID: 4, Number: "+33600000004", Mode: ModeNoSec},
		},
		CountryCode:          "33",
		RequestStatusReports: request,
		PerSender:            Limit{Count: 1000, Interval: time.Minute},
		Global:               Limit{Count: 1000, Interval: time.Minute},
	}
	b, err := New(cfg, r.sub, WithClock(r.clk),
		WithLogger(slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r.b = b
	return r
}

func (r *deliveryRig) send(t *testing.T, id int) {
	t.Helper()
	c, err := r.b.Conn(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(r.ctx, coapChanged); err != nil {
		t.Fatal(err)
	}
}

// report hands the binding an SMS-STATUS-REPORT (TS 23.040 §9.2.2.3).
func (r *deliveryRig) report(t *testing.T, mr byte, recipient string, st atpdu.Status) {
	t.Helper()
	ra, err := atpdu.ParseAddress(recipient)
	if err != nil {
		t.Fatal(err)
	}
	ts := atpdu.Timestamp{Year: 2026, Month: 11, Day: 28}
	tpdu, err := atpdu.StatusReport{MR: mr, RA: ra, SCTS: ts, DT: ts, ST: st}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.b.HandleSMS(r.ctx, SMS{TPDU: tpdu}); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryTracking(t *testing.T) {
	r := newDeliveryRig(t, true)
	r.send(t, 1) // MR 1
	r.send(t, 1) // MR 2
	r.send(t, 4) // MR 3
	r.send(t, 1) // MR 4
	for i, tpdu := range r.sub.sent {
		s, err := atpdu.DecodeSubmit(tpdu)
		if err != nil || !s.SRR {
			t.Fatalf("SMS %d: TP-SRR not set (%v)", i, err)
		}
	}
	r.report(t, 1, nosecNumber, atpdu.StatusDelivered)
	// TS 23.040 §9.2.3.15: 0x21 is temporary, the SC keeps trying; the
	// final report follows.
	r.report(t, 2, nosecNumber, atpdu.StatusSMEBusy)
	if st := r.b.Stats().Delivery; st.Temporary != 1 || st.Pending != 3 {
		t.Errorf("after a temporary report: %+v", st)
	}
	r.report(t, 2, nosecNumber, atpdu.StatusValidityExpired)
	// The recipient in national format matches with the country code.
	r.report(t, 3, "0600000004", atpdu.StatusForwarded)
	// Right MR, wrong recipient; and an MR nobody used.
	r.report(t, 4, "+33600000004", atpdu.StatusDelivered)
	r.report(t, 99, nosecNumber, atpdu.StatusDelivered)
	// A report for an SMS already closed.
	r.report(t, 1, nosecNumber, atpdu.StatusDelivered)

	want := DeliveryCounters{Tracked: 4, Delivered: 2, Failed: 1, Temporary: 1, Unmatched: 3, Pending: 1}
	if st := r.b.Stats(); st.Delivery != want || st.StatusReports != 7 {
		t.Errorf("delivery %+v, want %+v (status reports %d)", st.Delivery, want, st.StatusReports)
	}
	// The failure is logged above debug with who and why.
	var warn string
	for _, l := range strings.Split(r.log.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "not delivered") {
			warn = l
		}
	}
	for _, k := range []string{"msisdn=" + nosecNumber, "mr=2", `status="validity period expired"`, "server_id=1"} {
		if !strings.Contains(warn, k) {
			t.Errorf("failure log %q lacks %s", warn, k)
		}
	}

	// The last one never gets a final report: it expires.
	r.clk.Advance(DefaultDeliveryReportTimeout)
	if st := r.b.Stats().Delivery; st.PendingExpired != 1 || st.Pending != 0 {
		t.Errorf("after the timeout: %+v", st)
	}
	r.report(t, 4, nosecNumber, atpdu.StatusDelivered)
	if st := r.b.Stats().Delivery; st.Unmatched != 4 || st.Delivered != 2 {
		t.Errorf("a report after expiry: %+v", st)
	}
}

// TestDeliveryReportBeforeMR: a service centre may answer before the
// modem's +CMGS gives us the TP-MR; such a report waits for the submit in
// flight and then closes its SMS. One for no SMS is unmatched once no
// submit is in flight.
func TestDeliveryReportBeforeMR(t *testing.T) {
	r := newDeliveryRig(t, true)
	r.sub.during = func(mr int) {
		r.report(t, byte(mr), nosecNumber, atpdu.StatusDelivered)
		r.report(t, byte(mr+100), nosecNumber, atpdu.StatusDelivered)
	}
	r.send(t, 1)
	want := DeliveryCounters{Tracked: 1, Delivered: 1, Unmatched: 1}
	if st := r.b.Stats().Delivery; st != want {
		t.Errorf("delivery %+v, want %+v", st, want)
	}
}

// TestDeliveryTrackingBounded: the table never holds more than one SMS per
// TP-MR and recipient nor more than 256 SMS; what it forgets counts as
// pending-expired.
func TestDeliveryTrackingBounded(t *testing.T) {
	r := newDeliveryRig(t, true)
	for range 300 { // TP-MR wraps after 255: the older SMS with that MR and recipient is forgotten
		r.send(t, 1)
	}
	st := r.b.Stats().Delivery
	if st.Tracked != 300 || st.Pending != 256 || st.PendingExpired != 44 {
		t.Errorf("after 300 SMS to one server: %+v", st)
	}
	for range 300 { // two recipients: now the cap bounds the table
		r.send(t, 4)
	}
	st = r.b.Stats().Delivery
	if st.Pending != deliveryTrackCap || st.PendingExpired != 600-deliveryTrackCap {
		t.Errorf("after 600 SMS: %+v", st)
	}
	if n := len(r.b.track.byMR); n > 256 {
		t.Errorf("index holds %d TP-MRs", n)
	}
}

// TestDeliveryTrackingOff: by default no status report is requested and
// nothing is tracked; a report that still arrives is unmatched.
func TestDeliveryTrackingOff(t *testing.T) {
	r := newDeliveryRig(t, false)
	r.send(t, 1)
	s, err := atpdu.DecodeSubmit(r.sub.sent[0])
	if err != nil || s.SRR {
		t.Fatalf("TP-SRR set without RequestStatusReports (%v)", err)
	}
	r.report(t, 1, nosecNumber, atpdu.StatusDelivered)
	if st := r.b.Stats().Delivery; st != (DeliveryCounters{Unmatched: 1}) {
		t.Errorf("delivery %+v", st)
	}
}

// TestE2EDeliveryTracking: over the emulated modem and network, the SMS the
// device sends carry TP-SRR, the network's SMS-STATUS-REPORTs come back
// through the AT driver (+CDS) and close them: delivered, or failed when
// the server's side refuses until the network gives up.
func TestE2EDeliveryTracking(t *testing.T) {
	w := newWorldWith(t, worldOpts{statusReports: true, netRetry: 20 * time.Millisecond, netAttempts: 3})
	waitReport := func() {
		t.Helper()
		select {
		case <-w.reports:
		case <-w.ctx.Done():
			t.Fatalf("no status report; stats %+v", w.b.Stats())
		}
	}
	w.from(nosecNumber, eightBit(coapTrigger))
	if got := w.read(1); !bytes.Equal(got, coapTrigger) {
		t.Fatalf("read %x", got)
	}
	w.write(1, coapChanged)
	if d := w.recv(nosecNumber); !bytes.Equal(d.UD, coapChanged) || !d.SRI {
		t.Errorf("reply %+v: TP-SRI should say a report was asked for", d)
	}
	waitReport()
	if st := w.b.Stats().Delivery; st != (DeliveryCounters{Tracked: 1, Delivered: 1}) {
		t.Errorf("after a delivered SMS: %+v", st)
	}

	// The server's side refuses: 3 attempts, then a failure report.
	w.boxes[nosecNumber].setRefuse(true)
	w.write(1, coapChanged)
	waitReport()
	st := w.b.Stats()
	if st.Delivery != (DeliveryCounters{Tracked: 2, Delivered: 1, Failed: 1}) || st.StatusReports != 2 {
		t.Errorf("after a failed SMS: %+v (reports %d)", st.Delivery, st.StatusReports)
	}
	for _, s := range w.deviceSent() {
		if !s.SRR {
			t.Errorf("device SMS without TP-SRR: %+v", s)
		}
	}
}
