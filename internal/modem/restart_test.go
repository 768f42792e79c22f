package modem_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// TestStartWithStaleCMT: the previous daemon died (SIGKILL) while a +CMT
// waited for its +CNMA. The new driver discards the stale bytes at open,
// so nobody would ever acknowledge that SMS; the modem's acknowledgement
// timer would then expire after the new +CNMI and switch routing to the
// host off (TS 27.005 §3.4.4), leaving every later SMS stored silently
// until a periodic sweep. Found by the SIGKILL test in cmd/lwm2m-clientd.
// The driver now rejects it at start-up (+CNMA=2): the network keeps the
// SMS and delivers it again, and routing stays on.
func TestStartWithStaleCMT(t *testing.T) {
	// The acknowledgement timer outlasts the test's deadline: only the
	// start-up +CNMA=2 can end that delivery in time.
	r := newRig(t, rigOpt{delivery: modem.DeliveryDirect, noStart: true, quirks: func(q *emu.Quirks) { q.AckTimeout = 10 * time.Minute }})
	// The previous daemon's set-up, then it is gone.
	f, err := os.OpenFile(r.emu.Link(), os.O_RDWR|unix.O_NOCTTY, 0)
	r.must(err)
	_, err = f.WriteString("AT+CSMS=1\rAT+CNMI=2,2,0,1,0\r")
	r.must(err)
	for !slices.Contains(r.emu.Commands(), "AT+CNMI=2,2,0,1,0") {
		select {
		case <-r.ctx.Done():
			t.Fatalf("the emulator never saw the set-up: %q", r.emu.Commands())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// An SMS arrives as +CMT; the daemon dies before acknowledging it.
	stale := r.deliverAsync(deliverPDU(1))
	r.must(f.SetReadDeadline(time.Now().Add(10 * time.Second)))
	var seen []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(seen), "+CMT:") {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("no +CMT on the port (%q): %v", seen, err)
		}
		seen = append(seen, buf[:n]...)
	}
	r.must(f.Close())
	r.start()
	select {
	case err := <-stale:
		if !errors.Is(err, emu.ErrRejected) {
			t.Fatalf("the stale +CMT ended with %v, want the driver's RP-ERROR", err)
		}
	case <-r.ctx.Done():
		t.Fatal("the stale +CMT was never answered")
	}
	// The network delivers it again: routing is still on, it comes as
	// +CMT and is handed off once.
	r.must(<-r.deliverAsync(deliverPDU(1)))
	r.waitSMS(1)
	r.noDuplicates()
	if n := len(r.emu.Stored()); n != 0 {
		t.Fatalf("%d SMS stored: routing was switched off", n)
	}
}
