package modem_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

func TestInfo(t *testing.T) {
	for _, iccidCmd := range []string{"AT+CCID", "AT+ICCID", "AT^ICCID?"} {
		t.Run(iccidCmd, func(t *testing.T) {
			r := newRig(t, rigOpt{delivery: modem.DeliveryNone, quirks: func(q *emu.Quirks) { q.ICCIDCommand = iccidCmd }})
			in, err := r.m.Info(r.ctx)
			r.must(err)
			if in.Manufacturer != emu.Manufacturer || in.Model != emu.ModelName || in.Revision != emu.Revision || in.IMEI != emu.IMEI {
				t.Errorf("identity %+v", in)
			}
			if in.ICCID != "8933150319000000019" || in.IMSI != "208150000000001" || in.OwnNumber != "+33600000001" {
				t.Errorf("SIM %+v", in)
			}
			if in.SignalDBm == nil || *in.SignalDBm != -73 || in.RSRPDBm == nil || *in.RSRPDBm != -90 || in.RSRQDB == nil || *in.RSRQDB != -9.5 {
				t.Errorf("signal %+v", in)
			}
			reg := in.Registration
			if reg.Stat != 1 || reg.TAC != 0x3C4D || reg.CellID != 0x01A2B3C5 || reg.AcT != 7 || reg.State != "registered, home" {
				t.Errorf("registration %+v", reg)
			}
			if in.MCC != "208" || in.MNC != "15" || in.Operator != "EMU Telecom" {
				t.Errorf("operator %+v", in)
			}
		})
	}
}

func TestCSIM(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	_, err := r.m.CSIM(r.ctx, []byte{0x00, 0xA4, 0x04, 0x00})
	var cme *modem.CMEError
	if !errors.As(err, &cme) || cme.Code != 10 {
		t.Fatalf("no SIM: want +CME ERROR: 10, got %v", err)
	}
}

// Defect (1): an unsolicited line arriving during a command is not part of
// that command's result, and is still dispatched.
func TestDefect1URCDuringCommand(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored})
	r.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = true })
	r.must(r.emu.Deliver(r.ctx, deliverPDU(1)))
	r.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = false })
	r.emu.InjectMidResponse(`+CMTI: "SM",1`, "+CREG: 1", "+QIND: foo")
	lines, err := r.m.AT(r.ctx, "AT+CGMI")
	r.must(err)
	if !slices.Equal(lines, []string{emu.Manufacturer}) {
		t.Fatalf("AT+CGMI answer %q contains unsolicited lines", lines)
	}
	r.emu.InjectMidResponse("+CREG: 1")
	lines, err = r.m.AT(r.ctx, "AT+CSQ")
	r.must(err)
	if !slices.Equal(lines, []string{"+CSQ: 20,0"}) {
		t.Fatalf("AT+CSQ answer %q", lines)
	}
	got := r.waitSMS(1)
	if string(got[0]) != string(deliverPDU(1)) {
		t.Fatalf("handed off %x", got[0])
	}
	r.waitStoredEmpty()
	r.noDuplicates()
}

// Defect (2): after a command times out, its late OK does not complete
// the next command.
func TestDefect2LateResult(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	r.emu.SlowReply("AT+CGMM", 600*time.Millisecond)
	ctx, cancel := context.WithTimeout(r.ctx, 150*time.Millisecond)
	_, err := r.m.AT(ctx, "AT+CGMM")
	cancel()
	if !errors.Is(err, modem.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	r.emu.SlowReply("AT+CGMM", 0)
	for _, c := range []struct{ cmd, want string }{{"AT+CGMI", emu.Manufacturer}, {"AT+CGSN", emu.IMEI}, {"AT+CGMR", emu.Revision}} {
		lines, err := r.m.AT(r.ctx, c.cmd)
		r.must(err)
		if !slices.Equal(lines, []string{c.want}) {
			t.Fatalf("%s answered %q (late answer of the timed-out command?)", c.cmd, lines)
		}
	}
}

// countingPort counts empty reads of a real serial port opened with a
// very short read timeout.
type countingPort struct {
	modem.Port
	empty atomic.Int64
	sig   chan struct{}
}

func (c *countingPort) Read(p []byte) (int, error) {
	n, err := c.Port.Read(p)
	if n == 0 && err == nil {
		if c.empty.Add(1) == 300 {
			close(c.sig)
		}
	}
	return n, err
}

// Defect (3): serial read timeouts (empty reads) never end the session.
func TestDefect3ReadTimeouts(t *testing.T) {
	cp := &countingPort{sig: make(chan struct{})}
	opener := func(ctx context.Context, path string, baud int) (modem.Port, error) {
		p, err := modem.OpenSerial(ctx, path, baud, time.Millisecond)
		if err != nil {
			return nil, err
		}
		cp.Port = p
		return cp, nil
	}
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone, opener: opener})
	select {
	case <-cp.sig:
	case <-r.ctx.Done():
		t.Fatal("no empty reads seen")
	}
	lines, err := r.m.AT(r.ctx, "AT+CGMI")
	r.must(err)
	if !slices.Equal(lines, []string{emu.Manufacturer}) || !r.m.Health().Up {
		t.Fatalf("after %d empty reads: %q %v", cp.empty.Load(), lines, r.m.Health())
	}
}

// Defect (4): indications are handled in arrival order, one at a time.
func TestDefect4ArrivalOrder(t *testing.T) {
	const n = 30
	var pdus [][]byte
	for i := range n {
		pdus = append(pdus, deliverPDU(i))
	}
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored, capacity: 40})
	r.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = true })
	for _, p := range pdus {
		r.must(r.emu.Deliver(r.ctx, p))
	}
	// All indications in one burst, in index order.
	var burst []string
	for i := range n {
		burst = append(burst, fmt.Sprintf(`+CMTI: "SM",%d`, i+1))
	}
	r.emu.Inject(burst...)
	got := r.waitSMS(n)
	for i := range n {
		if string(got[i]) != string(pdus[i]) {
			t.Fatalf("SMS %d out of order: %q", i, got[i][19:])
		}
	}
	r.waitStoredEmpty()
	r.noDuplicates()
}

// Defect (5): commands take a context, and a +CMGS gets a deadline longer
// than one second.
func TestDefect5Context(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	r.emu.SlowReply("AT+CGMI", time.Hour)
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() {
		_, err := r.m.AT(ctx, "AT+CGMI")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled command: %v", err)
	}
	r.emu.SlowReply("AT+CGMI", 0)
	r.emu.Reboot() // ends the hour-long wait inside the emulator
	r.waitHealth(func(h modem.Health) bool { return h.Up })
	// A +CMGS answered after 1.5 s succeeds: its deadline is ~120 s.
	r.emu.SlowReply("AT+CMGS", 1500*time.Millisecond)
	mr, err := r.m.SendSMS(r.ctx, submitPDU())
	r.must(err)
	if mr != 1 || r.net.count() != 1 {
		t.Fatalf("mr %d, %d submitted", mr, r.net.count())
	}
}

// submitPDU is a TS 23.040 §9.2.2.2 SMS-SUBMIT: FO 0x11 (MTI 01, VPF
// relative), MR 00, DA +33612345678, PID 00, DCS 04, VP 0xA7 (24 h), UD "hi".
func submitPDU() []byte {
	return []byte{0x11, 0x00, 0x0B, 0x91, 0x33, 0x16, 0x32, 0x54, 0x76, 0xF8, 0x00, 0x04, 0xA7, 0x02, 'h', 'i'}
}

func TestSendSMS(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	for want := 1; want <= 3; want++ {
		mr, err := r.m.SendSMS(r.ctx, submitPDU())
		r.must(err)
		if mr != want {
			t.Fatalf("mr %d want %d", mr, want)
		}
	}
	r.net.mu.Lock()
	got := r.net.subs[2]
	r.net.mu.Unlock()
	want := submitPDU()
	want[1] = 3 // the modem sets TP-MR
	if string(got) != string(want) {
		t.Fatalf("network got %x want %x", got, want)
	}
}

func TestATCompound(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	lines, err := r.m.AT(r.ctx, "AT+CGMI;+CSQ")
	r.must(err)
	if !slices.Equal(lines, []string{emu.Manufacturer, "+CSQ: 20,0"}) {
		t.Fatalf("got %q", lines)
	}
}

func TestATRefusesPromptCommands(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	if _, err := r.m.AT(r.ctx, "AT+CMGS=12"); err == nil || !strings.Contains(err.Error(), "use SendSMS") {
		t.Fatalf("raw +CMGS: %v", err)
	}
	if countCmd(r.emu, "AT+CMGS") != 0 {
		t.Fatal("raw +CMGS reached the modem")
	}
}

func TestSendSMSPermanentError(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone})
	r.emu.FailNext("AT+CMGS", modem.CMSInvalidPDUParam)
	_, err := r.m.SendSMS(r.ctx, submitPDU())
	var cms *modem.CMSError
	if !errors.As(err, &cms) || cms.Code != 304 || cms.Transient() {
		t.Fatalf("want permanent +CMS ERROR: 304, got %v", err)
	}
	if n := countCmd(r.emu, "AT+CMGS"); n != 1 || r.net.count() != 0 {
		t.Fatalf("permanent error retried: %d +CMGS, %d submitted", n, r.net.count())
	}
}

func countCmd(e *emu.Modem, prefix string) int {
	n := 0
	for _, c := range e.Commands() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}
