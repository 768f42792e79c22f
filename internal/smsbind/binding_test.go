package smsbind

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

const (
	nosecNumber = "+33600000001"
	dtlsNumber  = "+33600000002"
	spNumber    = "+33600000003"
	strangerNr  = "+33699999999"
)

type rig struct {
	b    *Binding
	sub  *submitter
	card *fakeUICC
	clk  *fakeClock
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{sub: &submitter{}, card: &fakeUICC{}, clk: newFakeClock()}
	if cfg.Servers == nil {
		cfg.Servers = []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}, {ID: 3, Number: spNumber, Mode: ModeSecurePacket}}
	}
	b, err := New(cfg, r.sub, WithUICC(r.card), WithClock(r.clk), WithLogger(testLog(t)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	r.b = b
	return r
}

func (r *rig) conn(t testing.TB, id int) *Conn {
	t.Helper()
	c, err := r.b.Conn(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// queued returns what waits on the Conn without blocking.
func queued(c *Conn) [][]byte {
	var out [][]byte
	for {
		select {
		case m := <-c.in:
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestSenderFilter(t *testing.T) {
	national := atpdu.Address{TON: atpdu.TONNational, NPI: atpdu.NPIISDN, Number: "0600000001"}
	unknownTON := atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "33600000001"}
	alpha := atpdu.Address{TON: atpdu.TONAlphanumeric, Number: "SERVER"}
	for _, tc := range []struct {
		name    string
		cc      string
		tpdu    func(t testing.TB) []byte
		accept  bool
		dropped uint64
	}{
		{name: "international match", tpdu: func(t testing.TB) []byte { return deliver(t, nosecNumber, 0, 0x04, nil, coapGet) }, accept: true},
		{name: "other number", tpdu: func(t testing.TB) []byte { return deliver(t, strangerNr, 0, 0x04, nil, coapGet) }, dropped: 1},
		{name: "national with country code", cc: "33", tpdu: func(t testing.TB) []byte { return deliverOA(t, national, coapGet) }, accept: true},
		{name: "national without country code", tpdu: func(t testing.TB) []byte { return deliverOA(t, national, coapGet) }, dropped: 1},
		{name: "unknown TON, full digits", tpdu: func(t testing.TB) []byte { return deliverOA(t, unknownTON, coapGet) }, accept: true},
		{name: "alphanumeric sender", tpdu: func(t testing.TB) []byte { return deliverOA(t, alpha, coapGet) }, dropped: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{CountryCode: tc.cc})
			if err := r.b.HandleSMS(testCtx(t, 5*time.Second), SMS{TPDU: tc.tpdu(t)}); err != nil {
				t.Fatalf("HandleSMS: %v", err)
			}
			got := queued(r.conn(t, 1))
			if tc.accept != (len(got) == 1) {
				t.Fatalf("accepted %d messages, want accept=%v", len(got), tc.accept)
			}
			st := r.b.Stats()
			if st.Total.DroppedSender != tc.dropped || st.Total.Received != 1 {
				t.Errorf("stats %+v", st.Total)
			}
			if r.sub.count() != 0 || len(r.card.envelopes) != 0 || r.card.getData != 0 {
				t.Errorf("a filtered SMS caused traffic: %d SMS, %d envelopes, %d GET DATA", r.sub.count(), len(r.card.envelopes), r.card.getData)
			}
		})
	}
}

func TestNoSecInbound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tpdu  func(t testing.TB) []byte
		field func(Counters) uint64
	}{
		{name: "coap", tpdu: func(t testing.TB) []byte { return deliver(t, nosecNumber, 0, 0x04, nil, coapGet) }, field: func(c Counters) uint64 { return c.Accepted }},
		{name: "class 1 8-bit", tpdu: func(t testing.TB) []byte { return deliver(t, nosecNumber, 0, 0xF5, nil, coapGet) }, field: func(c Counters) uint64 { return c.Accepted }},
		{name: "garbage", tpdu: func(t testing.TB) []byte {
			return deliver(t, nosecNumber, 0, 0x04, nil, []byte{0xde, 0xad, 0xbe, 0xef, 0x00})
		}, field: func(c Counters) uint64 { return c.DroppedMalform }},
		{name: "empty", tpdu: func(t testing.TB) []byte { return deliver(t, nosecNumber, 0, 0x04, nil, nil) }, field: func(c Counters) uint64 { return c.DroppedMalform }},
		{name: "gsm7 text", tpdu: func(t testing.TB) []byte { return deliver(t, nosecNumber, 0, 0x00, nil, []byte{0x41, 0x42}) }, field: func(c Counters) uint64 { return c.DroppedFormat }},
		{name: "with udh", tpdu: func(t testing.TB) []byte {
			return deliver(t, nosecNumber, 0, 0x04, atpdu.UDH{atpdu.Concat8IE(1, 2, 1)}, coapGet)
		}, field: func(c Counters) uint64 { return c.DroppedFormat }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{})
			if err := r.b.HandleSMS(testCtx(t, 5*time.Second), SMS{TPDU: tc.tpdu(t)}); err != nil {
				t.Fatal(err)
			}
			st := r.b.Stats()
			if tc.field(st.NoSec) != 1 || tc.field(st.Total) != 1 || st.NoSec.Received != 1 {
				t.Errorf("stats %+v", st.NoSec)
			}
			if got := queued(r.conn(t, 1)); (st.NoSec.Accepted == 1) != (len(got) == 1) {
				t.Errorf("queued %d", len(got))
			}
			if r.sub.count() != 0 {
				t.Errorf("a reply was sent")
			}
		})
	}
}

func TestDuplicateAndStatusReport(t *testing.T) {
	var reports []atpdu.StatusReport
	r := &rig{sub: &submitter{}, clk: newFakeClock()}
	b, err := New(Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}}}, r.sub, WithClock(r.clk),
		WithStatusReports(func(s atpdu.StatusReport) { reports = append(reports, s) }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testCtx(t, 5*time.Second)
	tpdu := deliver(t, nosecNumber, 0, 0x04, nil, coapGet)
	for range 2 {
		if err := b.HandleSMS(ctx, SMS{TPDU: tpdu}); err != nil {
			t.Fatal(err)
		}
	}
	ra, _ := atpdu.ParseAddress(nosecNumber)
	ts := atpdu.Timestamp{Year: 2026, Month: 11, Day: 28}
	sr, err := atpdu.StatusReport{MR: 7, RA: ra, SCTS: ts, DT: ts, ST: atpdu.StatusDelivered}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.HandleSMS(ctx, SMS{TPDU: sr}); err != nil {
		t.Fatal(err)
	}
	c, _ := b.Conn(1)
	if got := queued(c); len(got) != 1 || !bytes.Equal(got[0], coapGet) {
		t.Errorf("queued %x", got)
	}
	st := b.Stats()
	if st.Total.DroppedDup != 1 || st.StatusReports != 1 || len(reports) != 1 || reports[0].MR != 7 {
		t.Errorf("stats %+v reports %v", st, reports)
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, Config{
		Servers:   []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}, {ID: 2, Number: "+33600000004", Mode: ModeNoSec}},
		PerSender: Limit{Count: 2, Interval: time.Minute},
		Global:    Limit{Count: 3, Interval: time.Minute},
	})
	ctx := testCtx(t, 5*time.Second)
	send := func(from string, mid byte) {
		msg := bytes.Clone(coapGet)
		msg[3] = mid
		if err := r.b.HandleSMS(ctx, SMS{TPDU: deliver(t, from, 0, 0x04, nil, msg)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		send(nosecNumber, byte(i)) // third: over the per-sender limit
	}
	send("+33600000004", 10) // global token 3
	send("+33600000004", 11) // global exhausted
	if st := r.b.Stats().Total; st.Accepted != 3 || st.DroppedRate != 2 {
		t.Fatalf("after the burst: %+v", st)
	}
	r.clk.Advance(30 * time.Second) // refills 1 per sender, 1.5 global
	send(nosecNumber, 20)
	send("+33600000004", 21) // global has 0.5 left
	if st := r.b.Stats().Total; st.Accepted != 4 || st.DroppedRate != 3 {
		t.Fatalf("after refill: %+v", st)
	}
}

func TestSecurePacketRateLimitBeforeEnvelope(t *testing.T) {
	r := newRig(t, Config{PerSender: Limit{Count: 1, Interval: time.Hour}})
	r.card.onEnv = func([]byte) []uicc.Record {
		return []uicc.Record{{Address: mustAddr(t, spNumber), Message: coapTrigger}}
	}
	ctx := testCtx(t, 5*time.Second)
	for i := range 2 {
		tpdu := deliver(t, spNumber, atpdu.PIDUSIMDataDownload, 0xF6, atpdu.UDH{atpdu.CommandPacketIE()}, []byte{0x00, 0x30, byte(i)})
		if err := r.b.HandleSMS(ctx, SMS{TPDU: tpdu}); err != nil {
			t.Fatal(err)
		}
	}
	// The first SMS costs one token for the download and its message; the
	// second never reaches the card (whose answer could send a PoR).
	if st := r.b.Stats().SecurePacket; st.Accepted != 1 || st.DroppedRate != 1 || len(r.card.envelopes) != 1 {
		t.Errorf("stats %+v, %d envelopes", st, len(r.card.envelopes))
	}
	// Polled messages are charged one by one.
	r.card.queue(uicc.Record{Address: mustAddr(t, spNumber), Message: coapGet})
	r.b.uiccMu.Lock()
	got, err := r.b.fetch(ctx, nil)
	r.b.uiccMu.Unlock()
	if err != nil || len(got) != 0 || r.b.Stats().SecurePacket.DroppedRate != 2 {
		t.Errorf("polled over the limit: %v %v %+v", got, err, r.b.Stats().SecurePacket)
	}
}

func TestAcceptAnySenderNoSec(t *testing.T) {
	r := newRig(t, Config{AcceptAnySenderNoSec: true})
	if err := r.b.HandleSMS(testCtx(t, 5*time.Second), SMS{TPDU: deliver(t, strangerNr, 0, 0x04, nil, coapGet)}); err != nil {
		t.Fatal(err)
	}
	c := r.conn(t, 1)
	if got := queued(c); len(got) != 1 {
		t.Fatalf("debug switch did not accept: %d", len(got))
	}
	if err := c.WriteMessage(testCtx(t, 5*time.Second), coapChanged); err != nil {
		t.Fatal(err)
	}
	s, err := atpdu.DecodeSubmit(r.sub.sent[0])
	if err != nil || s.DA.String() != nosecNumber {
		t.Errorf("reply to %v (%v), want the configured number", s.DA, err)
	}
	if _, err := New(Config{AcceptAnySenderNoSec: true, Servers: []Server{{ID: 3, Number: spNumber, Mode: ModeSecurePacket}}},
		&submitter{}, WithUICC(&fakeUICC{})); err == nil {
		t.Error("debug switch without a nosec server accepted")
	}
}

func TestNoSecOutbound(t *testing.T) {
	r := newRig(t, Config{})
	c := r.conn(t, 1)
	ctx := testCtx(t, 5*time.Second)
	if err := c.WriteMessage(ctx, coapChanged); err != nil {
		t.Fatal(err)
	}
	s, err := atpdu.DecodeSubmit(r.sub.sent[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.DA.String() != nosecNumber || s.PID != 0 || byte(s.DCS) != 0x04 || s.UDHI || len(s.UDH) != 0 ||
		s.VP.Format != atpdu.VPFRelative || !bytes.Equal(s.UD, coapChanged) {
		t.Errorf("SUBMIT %+v", s)
	}
	if d, _ := s.VP.Duration(); d < DefaultNoSecValidity {
		t.Errorf("VP %s", d)
	}
	big := append(bytes.Clone(coapChanged), make([]byte, 141-len(coapChanged))...)
	err = c.WriteMessage(ctx, big)
	var se *SizeError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &se) || se.Size != 141 || se.Mode != ModeNoSec {
		t.Errorf("141 octets: %v", err)
	}
	if n, err := c.Write(big[:140]); n != 140 || err != nil {
		t.Errorf("140 octets: %d, %v", n, err)
	}
	if st := r.b.Stats().NoSec; st.Sent != 2 || st.Oversize != 1 || r.sub.count() != 2 {
		t.Errorf("stats %+v", st)
	}
	r.sub.err = errors.New("+CMS ERROR: 331")
	if err := c.WriteMessage(ctx, coapChanged); err == nil || r.b.Stats().NoSec.SendFailures != 1 {
		t.Errorf("send failure: %v", err)
	}
}

func TestCheckOutbound(t *testing.T) {
	da, _ := atpdu.ParseAddress(nosecNumber)
	for _, tc := range []struct {
		name string
		s    atpdu.Submit
		ok   bool
	}{
		{name: "good", s: atpdu.Submit{DA: da, DCS: 0x04, UD: coapGet}, ok: true},
		{name: "class 2", s: atpdu.Submit{DA: da, DCS: 0xF6, UD: coapGet}},
		{name: "pid 7f", s: atpdu.Submit{DA: da, DCS: 0x04, PID: 0x7F, UD: coapGet}},
		{name: "gsm7", s: atpdu.Submit{DA: da, DCS: 0x00, UD: []byte{0x41}}},
		{name: "udh", s: atpdu.Submit{DA: da, DCS: 0x04, UDH: atpdu.UDH{atpdu.Concat8IE(1, 2, 1)}, UD: coapGet}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.s.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkOutbound(b); (err == nil) != tc.ok {
				t.Errorf("checkOutbound = %v", err)
			}
		})
	}
}

func TestSecurePacketInbound(t *testing.T) {
	spTPDU := func(t testing.TB, from string) []byte {
		return deliver(t, from, atpdu.PIDUSIMDataDownload, 0xF6, atpdu.UDH{atpdu.CommandPacketIE()}, []byte{0x00, 0x30, 0x16, 0x00})
	}
	yields := func(from string, msg []byte) func([]byte) []uicc.Record {
		return func([]byte) []uicc.Record { return []uicc.Record{{Address: mustAddr(t, from), Message: msg}} }
	}
	for _, tc := range []struct {
		name    string
		tpdu    func(t testing.TB) []byte
		sw      uicc.StatusWord
		envErr  error
		onEnv   func([]byte) []uicc.Record
		wantErr bool
		field   func(Counters) uint64
		envs    int
	}{
		{name: "accepted", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, onEnv: yields(spNumber, coapTrigger), field: func(c Counters) uint64 { return c.Accepted }, envs: 1},
		{name: "not class 2", tpdu: func(t testing.TB) []byte { return deliver(t, spNumber, atpdu.PIDUSIMDataDownload, 0x04, nil, coapGet) }, field: func(c Counters) uint64 { return c.DroppedFormat }},
		{name: "not pid 7f", tpdu: func(t testing.TB) []byte { return deliver(t, spNumber, 0, 0xF6, nil, coapGet) }, field: func(c Counters) uint64 { return c.DroppedFormat }},
		{name: "card refuses", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, sw: 0x6F00, field: func(c Counters) uint64 { return c.DroppedBadlySec }, envs: 1},
		{name: "card discards silently", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, field: func(c Counters) uint64 { return c.DroppedBadlySec }, envs: 1},
		{name: "data_rcv from another number", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, onEnv: yields(strangerNr, coapTrigger), field: func(c Counters) uint64 { return c.DroppedSender }, envs: 1},
		{name: "garbage coap from the card", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, onEnv: yields(spNumber, []byte{1, 2, 3}), field: func(c Counters) uint64 { return c.DroppedMalform }, envs: 1},
		{name: "toolkit busy: keep it", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, sw: uicc.SWToolkitBusy, wantErr: true, field: func(c Counters) uint64 { return c.Received }, envs: 1},
		{name: "transport failure: keep it", tpdu: func(t testing.TB) []byte { return spTPDU(t, spNumber) }, envErr: errors.New("link down"), wantErr: true, field: func(c Counters) uint64 { return c.Received }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{})
			r.card.sw, r.card.envErr, r.card.onEnv = tc.sw, tc.envErr, tc.onEnv
			smsc, _ := atpdu.ParseAddress("+33609001390")
			err := r.b.HandleSMS(testCtx(t, 5*time.Second), SMS{TPDU: tc.tpdu(t), SMSC: smsc})
			if (err != nil) != tc.wantErr {
				t.Fatalf("HandleSMS = %v", err)
			}
			st := r.b.Stats().SecurePacket
			if tc.field(st) != 1 {
				t.Errorf("stats %+v", st)
			}
			if len(r.card.envelopes) != tc.envs {
				t.Errorf("%d envelopes, want %d", len(r.card.envelopes), tc.envs)
			}
			if tc.envs == 1 && !bytes.Equal(r.card.smsc[0], []byte{0x91, 0x33, 0x06, 0x09, 0x10, 0x93, 0xF0}) {
				t.Errorf("SMSC for the envelope %x", r.card.smsc[0])
			}
			got := queued(r.conn(t, 3))
			if (st.Accepted == 1) != (len(got) == 1) {
				t.Errorf("queued %d", len(got))
			}
			if r.sub.count() != 0 || len(r.card.stored) != 0 {
				t.Error("something was sent")
			}
		})
	}
}

func TestSecurePacketPollAndReply(t *testing.T) {
	checkLeaks(t)
	r := newRig(t, Config{PollInterval: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- r.b.Run(ctx) }()
	c := r.conn(t, 3)

	// A reply before any request goes to the configured number.
	if err := c.WriteMessage(ctx, coapGet); err != nil {
		t.Fatal(err)
	}
	// The modem downloaded silently; the card holds a request whose TP-OA
	// is in national format.
	oa := []byte{0x0A, 0xA1, 0x60, 0x00, 0x00, 0x00, 0x30} // 0600000003, TON national
	r.card.queue(uicc.Record{Address: oa, Message: coapTrigger})
	<-r.clk.added // the poll waits
	r.clk.Advance(10 * time.Second)
	<-r.clk.added // the poll fetched and waits again
	// National numbers need the country code: the record is ignored.
	if got := queued(c); len(got) != 0 {
		t.Fatalf("national record accepted without a country code: %x", got)
	}
	cancel()
	<-runDone
	if st := r.b.Stats().SecurePacket; st.DroppedSender != 1 || r.card.getData != 1 {
		t.Errorf("stats %+v, %d GET DATA", st, r.card.getData)
	}

	r2 := newRig(t, Config{PollInterval: 10 * time.Second, CountryCode: "33"})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	go func() { runDone <- r2.b.Run(ctx2) }()
	c2 := r2.conn(t, 3)
	r2.card.queue(uicc.Record{Address: oa, Message: coapTrigger})
	<-r2.clk.added
	r2.clk.Advance(10 * time.Second)
	msg, err := c2.ReadMessage(ctx2)
	if err != nil || !bytes.Equal(msg, coapTrigger) {
		t.Fatalf("polled message %x, %v", msg, err)
	}
	if err := c2.WriteMessage(ctx2, coapChanged); err != nil {
		t.Fatal(err)
	}
	if err := r2.b.Run(ctx2); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("second Run = %v", err)
	}
	cancel2()
	<-runDone
	if len(r.card.stored) != 1 || !bytes.Equal(r.card.stored[0].Address, mustAddr(t, spNumber)) {
		t.Errorf("unprompted STORE DATA to %v", r.card.stored)
	}
	if len(r2.card.stored) != 1 || !bytes.Equal(r2.card.stored[0].Address, oa) || !bytes.Equal(r2.card.stored[0].Message, coapChanged) {
		t.Errorf("reply STORE DATA %v, want TP-DA = the request's TP-OA", r2.card.stored)
	}
}

func TestConnDeadlinesAndClose(t *testing.T) {
	checkLeaks(t)
	r := newRig(t, Config{})
	c := r.conn(t, 1)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("past deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	if err := r.b.HandleSMS(testCtx(t, 5*time.Second), SMS{TPDU: deliver(t, nosecNumber, 0, 0x04, nil, coapGet)}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if n, err := c.Read(buf); n != 3 || !errors.Is(err, io.ErrShortBuffer) {
		t.Errorf("short read: %d %v", n, err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 100))
		readErr <- err
	}()
	c.Close()
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if _, err := c.Write(coapGet); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	c.Close()
	if c.RemoteAddr().String() != nosecNumber || c.RemoteAddr().Network() != "sms" || c.ServerID() != 1 || c.Mode() != ModeNoSec {
		t.Error("addresses")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{name: "duplicate number", cfg: Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}, {ID: 2, Number: "0033600000001", Mode: ModeNoSec}}}},
		{name: "duplicate id", cfg: Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}, {ID: 1, Number: dtlsNumber, Mode: ModeNoSec}}}},
		{name: "mode 0", cfg: Config{Servers: []Server{{ID: 1, Number: nosecNumber}}}},
		{name: "mode 4", cfg: Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: 4}}}},
		{name: "alphanumeric number", cfg: Config{Servers: []Server{{ID: 1, Number: "SERVER", Mode: ModeNoSec}}}},
		{name: "dtls without store", cfg: Config{Servers: []Server{{ID: 1, Number: dtlsNumber, Mode: ModeDTLS, PSKIdentity: []byte("id"), PSK: make([]byte, 16)}}}},
		{name: "negative limit", cfg: Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}}, Global: Limit{Count: -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := New(tc.cfg, &submitter{}); err == nil {
				b.Close()
				t.Error("accepted")
			}
		})
	}
	if b, err := New(Config{Servers: []Server{{ID: 3, Number: spNumber, Mode: ModeSecurePacket}}}, &submitter{}); err == nil {
		b.Close()
		t.Error("secure packet without a UICC accepted")
	}
}

func TestWellFormedCoAP(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{name: "get", b: coapGet, ok: true},
		{name: "trigger", b: coapTrigger, ok: true},
		{name: "ack 2.04", b: coapChanged, ok: true},
		{name: "empty ack", b: []byte{0x60, 0x00, 0x12, 0x34}, ok: true},
		{name: "payload", b: []byte{0x40, 0x02, 0, 1, 0xFF, 'x'}, ok: true},
		{name: "ext delta 13", b: []byte{0x40, 0x01, 0, 1, 0xD1, 0x02, 'a'}, ok: true},  // option 15 (Uri-Query)
		{name: "ext delta 14", b: []byte{0x40, 0x01, 0, 1, 0xE0, 0x00, 0x01}, ok: true}, // option 270, empty
		{name: "short", b: []byte{0x40, 0x01, 0}},
		{name: "version 2", b: []byte{0x80, 0x01, 0, 1}},
		{name: "tkl 9", b: []byte{0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "token truncated", b: []byte{0x44, 0x01, 0, 1, 1, 2}},
		{name: "empty with token", b: []byte{0x61, 0x00, 0, 1, 9}},
		{name: "class 1 code", b: []byte{0x40, 0x20, 0, 1}},
		{name: "class 7 code", b: []byte{0x40, 0xE0, 0, 1}},
		{name: "marker without payload", b: []byte{0x40, 0x02, 0, 1, 0xFF}},
		{name: "option overruns", b: []byte{0x40, 0x01, 0, 1, 0xB5, 'a'}},
		{name: "nibble 15 length", b: []byte{0x40, 0x01, 0, 1, 0xBF}},
		{name: "ext truncated", b: []byte{0x40, 0x01, 0, 1, 0xE0, 0x00}},
	} {
		if got := wellFormedCoAP(tc.b); got != tc.ok {
			t.Errorf("%s: %x → %v", tc.name, tc.b, got)
		}
	}
}

func TestAddressField(t *testing.T) {
	for _, tc := range []struct {
		msisdn string
		wire   []byte // TS 23.040 §9.1.2.5: length, TOA, swapped BCD
	}{
		{"+33600000003", []byte{0x0B, 0x91, 0x33, 0x06, 0x00, 0x00, 0x00, 0xF3}},
		{"+447700900123", []byte{0x0C, 0x91, 0x44, 0x77, 0x00, 0x09, 0x10, 0x32}},
		{"12345", []byte{0x05, 0x81, 0x21, 0x43, 0xF5}},
	} {
		got, err := encodeAddressField(tc.msisdn)
		if err != nil || !bytes.Equal(got, tc.wire) {
			t.Errorf("encode %s = %x, %v; want %x", tc.msisdn, []byte(got), err, tc.wire)
		}
		a, err := decodeAddressField(tc.wire)
		if err != nil || a.String() != tc.msisdn {
			t.Errorf("decode %x = %v, %v", tc.wire, a, err)
		}
		if uicc.Address(tc.wire).String() != tc.msisdn {
			t.Errorf("uicc reads %x as %s", tc.wire, uicc.Address(tc.wire))
		}
		for i := range len(tc.wire) {
			if _, err := decodeAddressField(tc.wire[:i]); err == nil {
				t.Errorf("prefix %x decoded", tc.wire[:i])
			}
		}
	}
	if a, err := decodeAddressField([]byte{0x08, 0xD0, 0xD3, 0xE2, 0x94, 0x0A}); err != nil || a.SameMSISDN(spNumber, "33") {
		t.Errorf("alphanumeric: %v %v", a, err)
	}
	if _, err := decodeAddressField([]byte{0x02, 0x81, 0xBA}); err == nil {
		t.Error("* # digits accepted")
	}
}

func TestQueueFullAndDeadlines(t *testing.T) {
	checkLeaks(t)
	r := newRig(t, Config{QueueLen: 1})
	ctx := testCtx(t, 5*time.Second)
	for i := range 2 {
		msg := bytes.Clone(coapGet)
		msg[3] = byte(i)
		if err := r.b.HandleSMS(ctx, SMS{TPDU: deliver(t, nosecNumber, 0, 0x04, nil, msg)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.b.Stats().NoSec; st.Accepted != 1 || st.DroppedQueue != 1 {
		t.Errorf("stats %+v", st)
	}
	c := r.conn(t, 1)
	if m, err := c.ReadMessage(ctx); err != nil || m[3] != 0 {
		t.Errorf("ReadMessage %x %v", m, err)
	}

	// A deadline moved into the past wakes a blocked Read.
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 64))
		readErr <- err
	}()
	c.SetDeadline(time.Now().Add(time.Hour))
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if err := <-readErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read = %v", err)
	}

	// A write deadline bounds a submit that hangs.
	block := make(chan struct{})
	defer close(block)
	b2, err := New(Config{Servers: []Server{{ID: 1, Number: nosecNumber, Mode: ModeNoSec}}}, SubmitFunc(func(ctx context.Context, _ []byte) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-block:
			return nil
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	c2, _ := b2.Conn(1)
	c2.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c2.Write(coapGet); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write past its deadline = %v", err)
	}
	if st := b2.Stats().NoSec; st.SendFailures != 1 {
		t.Errorf("stats %+v", st)
	}
	if cs := r.b.Conns(); len(cs) != 2 || cs[0].ServerID() != 1 || cs[1].ServerID() != 3 {
		t.Errorf("Conns %v", cs)
	}
	if _, err := b2.Conn(9); !errors.Is(err, ErrUnknownServer) {
		t.Errorf("Conn(9) = %v", err)
	}
	if c2.LocalAddr().Network() != "sms" {
		t.Error("LocalAddr")
	}
}

func TestDTLSWriteTooLarge(t *testing.T) {
	b, err := New(Config{Servers: []Server{{ID: 2, Number: dtlsNumber, Mode: ModeDTLS, PSKIdentity: []byte("id"), PSK: make([]byte, 16)}}},
		&submitter{}, WithSessionStore(&memStore{m: map[string][]byte{}}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, _ := b.Conn(2)
	err = c.WriteMessage(testCtx(t, 5*time.Second), make([]byte, 112))
	var se *SizeError
	if !errors.As(err, &se) || se.Max != 111 || se.Mode != ModeDTLS || !strings.Contains(err.Error(), "112 octets") {
		t.Errorf("WriteMessage(112 octets) = %v", err)
	}
	if st := b.Stats().DTLS; st.Oversize != 1 || st.Sent != 0 {
		t.Errorf("stats %+v", st)
	}
}
