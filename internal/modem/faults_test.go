package modem_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// TestUnplugReplugIdle: the pty hangs up while idle; health says since
// when it is down; after the replug at the same path the driver
// re-initialises, sweeps what arrived meanwhile and receives again.
func TestUnplugReplugIdle(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect})
	r.emu.Unplug()
	r.waitHealth(func(h modem.Health) bool { return !h.Up })
	h := r.m.Health()
	if h.DownSince.IsZero() || !strings.Contains(h.String(), "modem down since") || h.LastError == nil {
		t.Fatalf("health while unplugged: %v", h)
	}
	if err := r.emu.Deliver(r.ctx, deliverPDU(1)); !errors.Is(err, emu.ErrUnplugged) {
		t.Fatalf("delivery while unplugged: %v", err)
	}
	r.must(r.emu.Replug())
	r.waitHealth(func(h modem.Health) bool { return h.Up && !h.LastSweep.IsZero() })
	r.must(<-r.deliverAsync(deliverPDU(1)))
	r.waitSMS(1)
	r.noDuplicates()
	if n := countCmd(r.emu, "ATE0"); n != 2 {
		t.Fatalf("%d initialisations", n)
	}
}

// TestUnplugDuringSendBeforePDU: the link dies after "AT+CMGS=" but before
// the PDU: nothing left, so the driver resends after the replug.
func TestUnplugDuringSendBeforePDU(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone, quirks: func(q *emu.Quirks) { q.UnplugOn = "AT+CMGS" }})
	res := make(chan error, 1)
	go func() {
		_, err := r.m.SendSMS(r.ctx, submitPDU())
		res <- err
	}()
	r.waitHealth(func(h modem.Health) bool { return !h.Up })
	r.emu.SetQuirks(func(q *emu.Quirks) { q.UnplugOn = "" })
	r.must(r.emu.Replug())
	r.must(<-res)
	if n := r.net.count(); n != 1 {
		t.Fatalf("%d SMS reached the network", n)
	}
}

// TestUnplugDuringSendAfterPDU: the link dies after the PDU went out: the
// outcome is unknown, the driver says so and does not resend.
func TestUnplugDuringSendAfterPDU(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone, quirks: func(q *emu.Quirks) { q.UnplugAfterSubmit = true }})
	_, err := r.m.SendSMS(r.ctx, submitPDU())
	if !errors.Is(err, modem.ErrSendUncertain) {
		t.Fatalf("want ErrSendUncertain, got %v", err)
	}
	r.emu.SetQuirks(func(q *emu.Quirks) { q.UnplugAfterSubmit = false })
	r.must(r.emu.Replug())
	r.waitHealth(func(h modem.Health) bool { return h.Up })
	if n := r.net.count(); n != 1 {
		t.Fatalf("%d SMS reached the network", n)
	}
	if _, err := r.m.SendSMS(r.ctx, submitPDU()); err != nil {
		t.Fatal(err)
	}
}

// TestReboot: RDY, +CFUN: 1 or a sudden echo make the driver
// re-initialise (routing was lost with the reboot) and receive again.
func TestReboot(t *testing.T) {
	for _, ind := range []string{"RDY", "+CFUN: 1", ""} {
		t.Run(fmt.Sprintf("indication=%q", ind), func(t *testing.T) {
			r := newRig(t, rigOpt{delivery: modem.DeliveryDirect, quirks: func(q *emu.Quirks) { q.RebootIndication = ind }})
			r.waitHealth(func(h modem.Health) bool { return h.Up })
			if h := r.m.Health(); h.Link != 1 {
				t.Fatalf("first link: Health.Link = %d, want 1", h.Link)
			}
			r.emu.Reboot()
			if ind == "" {
				// Only the echo of the next command shows it.
				if _, err := r.m.AT(r.ctx, "AT+CSQ"); err != nil && !errors.Is(err, modem.ErrLinkDown) {
					t.Fatal(err)
				}
			}
			r.waitHealth(func(h modem.Health) bool {
				return h.Up && !h.LastSweep.IsZero() && countCmd(r.emu, "ATE0") == 2
			})
			// The watcher's signal that the modem (and its SIM) was
			// re-initialised.
			if h := r.m.Health(); h.Link != 2 {
				t.Errorf("after the reboot: Health.Link = %d, want 2", h.Link)
			}
			r.must(<-r.deliverAsync(deliverPDU(1)))
			r.waitSMS(1)
			r.noDuplicates()
		})
	}
}

// TestURCStorm: unsolicited lines (known, vendor, mid-response) flood the
// port while commands run: every answer is right, every SMS is handed off
// exactly once and deleted.
func TestURCStorm(t *testing.T) {
	const nSMS = 20
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored, capacity: 30})
	r.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = true })
	for i := range nSMS {
		r.must(r.emu.Deliver(r.ctx, deliverPDU(i)))
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 60 {
			r.emu.InjectMidResponse("+CREG: 1", "^RSSI: 20")
			lines, err := r.m.AT(r.ctx, "AT+CGMI")
			if err != nil || len(lines) != 1 || lines[0] != emu.Manufacturer {
				t.Errorf("command %d: %q %v", i, lines, err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range nSMS {
			r.emu.Inject("+CREG: 5", "+QIND: \"csq\",20,99", fmt.Sprintf(`+CMTI: "SM",%d`, i+1), "+CEREG: 1", "^BOOT: 1,0")
		}
	}()
	wg.Wait()
	got := r.waitSMS(nSMS)
	for i := range nSMS {
		if string(got[i]) != string(deliverPDU(i)) {
			t.Fatalf("SMS %d out of order", i)
		}
	}
	r.waitStoredEmpty()
	r.noDuplicates()
}

// TestGarbageOnTheLine: binary junk, an overlong line, lone prompts and
// unknown vendor lines neither end the session nor leak into answers,
// even when they arrive during a command. (A stray bare "OK" during a
// command cannot be told from the answer by any engine; the one that
// happens, a late answer after a timeout, is defect 2.)
func TestGarbageOnTheLine(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryStored})
	junk := append([]byte("\r\n\x00\xff\xfe>\r\n> \r\n\x1b[0m\r\n"), []byte(strings.Repeat("Z", 10000)+"\r\n")...)
	r.emu.InjectRaw(junk)
	r.emu.Inject("+GARBAGE: 1", "^NOISE")
	r.emu.InjectMidResponse(string(junk), "+XYZ: 0")
	for _, c := range []struct{ cmd, want string }{{"AT+CGMI", emu.Manufacturer}, {"AT+CGMM", emu.ModelName}} {
		lines, err := r.m.AT(r.ctx, c.cmd)
		r.must(err)
		if len(lines) != 1 || lines[0] != c.want {
			t.Fatalf("%s answered %q", c.cmd, lines)
		}
	}
	r.must(r.emu.Deliver(r.ctx, deliverPDU(1)))
	r.waitSMS(1)
	if !r.m.Health().Up {
		t.Fatal("garbage took the link down")
	}
}

// TestSendTimeoutBeforePrompt: no prompt before the caller's deadline:
// the PDU never left, so the error is not ErrSendUncertain.
func TestSendTimeoutBeforePrompt(t *testing.T) {
	clk := newFakeClock()
	r := newRig(t, rigOpt{delivery: modem.DeliveryNone, opts: []modem.Option{modem.WithClock(clk)}})
	r.emu.SlowReply("AT+CMGS", 2*time.Hour) // beyond +CMGS's own 120 s
	ctx, cancel := context.WithTimeout(r.ctx, 200*time.Millisecond)
	defer cancel()
	_, err := r.m.SendSMS(ctx, submitPDU())
	if errors.Is(err, modem.ErrSendUncertain) || r.net.count() != 0 {
		t.Fatalf("no PDU was written, yet: %v (%d submitted)", err, r.net.count())
	}
}

// TestUnplugDuringHandOff: the link dies while a +CMT is being handed
// off, so its +CNMA never reaches the modem: the network keeps the SMS
// and delivers it again after the replug. Nothing is lost; the second
// hand-off is the documented duplicate (its ack was lost).
func TestUnplugDuringHandOff(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect})
	release := make(chan struct{})
	r.mu.Lock()
	r.block = release
	r.mu.Unlock()
	res := r.deliverAsync(deliverPDU(1))
	select {
	case <-r.entered: // the hand-off has started
	case <-r.ctx.Done():
		t.Fatal("no hand-off")
	}
	r.emu.Unplug()
	if err := <-res; !errors.Is(err, emu.ErrUnplugged) {
		t.Fatalf("network saw %v, want the modem gone", err)
	}
	r.mu.Lock()
	r.block = nil
	r.mu.Unlock()
	close(release)
	r.waitHealth(func(h modem.Health) bool { return !h.Up })
	r.must(r.emu.Replug())
	r.waitHealth(func(h modem.Health) bool { return h.Up && !h.LastSweep.IsZero() })
	r.must(<-r.deliverAsync(deliverPDU(1))) // the network's retry
	got := r.waitSMS(2)
	if string(got[0]) != string(deliverPDU(1)) || string(got[1]) != string(deliverPDU(1)) {
		t.Fatalf("got %x", got)
	}
}

// TestDirectWithoutCSMS: a modem that refuses +CSMS=1 acknowledges +CMT
// itself; in direct mode the driver still receives (and sends no +CNMA).
func TestDirectWithoutCSMS(t *testing.T) {
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect, quirks: func(q *emu.Quirks) { q.NoCSMS = true }})
	r.must(<-r.deliverAsync(deliverPDU(1)))
	r.waitSMS(1)
	if n := countCmd(r.emu, "AT+CNMA"); n != 0 {
		// The driver may try; the modem answers 340 (no ack expected).
		t.Logf("%d +CNMA sent", n)
	}
}
