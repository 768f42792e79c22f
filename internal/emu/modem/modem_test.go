package modem_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
)

func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Errorf("goroutine leak: %d before, %d after", before, runtime.NumGoroutine())
				return
			}
			<-time.After(10 * time.Millisecond)
		}
	})
}

// host is a bare AT client on the link: no driver in between.
type host struct {
	t  *testing.T
	f  *os.File
	rd *bufio.Reader
}

func open(t *testing.T, link string) *host {
	t.Helper()
	f, err := os.OpenFile(link, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &host{t: t, f: f, rd: bufio.NewReader(f)}
}

func (h *host) send(s string) {
	h.t.Helper()
	if _, err := h.f.WriteString(s); err != nil {
		h.t.Fatal(err)
	}
}

// until reads lines until one equals final (or a +CME/+CMS ERROR) and
// returns all non-empty lines.
func (h *host) until(final string) []string {
	h.t.Helper()
	_ = h.f.SetReadDeadline(time.Now().Add(5 * time.Second))
	var lines []string
	for {
		l, err := h.rd.ReadString('\n')
		if err != nil {
			h.t.Fatalf("read after %q: %v", lines, err)
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		lines = append(lines, l)
		if l == final || strings.Contains(l, "ERROR") {
			return lines
		}
	}
}

func newModem(t *testing.T, cfg modem.Config) *modem.Modem {
	t.Helper()
	checkLeaks(t)
	cfg.Link = filepath.Join(t.TempDir(), "tty")
	if cfg.Number == "" {
		cfg.Number = "+33600000001"
	}
	m, err := modem.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestEchoAndRawMode(t *testing.T) {
	m := newModem(t, modem.Config{})
	h := open(t, m.Link())
	h.send("AT\r")
	// Echo is on at power-up (V.250); the raw pty passes CR untranslated.
	if got := h.until("OK"); strings.Join(got, "|") != "AT|OK" {
		t.Fatalf("got %q", got)
	}
	h.send("ATE0\r")
	h.until("OK")
	h.send("AT+CGMI\r")
	if got := h.until("OK"); strings.Join(got, "|") != modem.Manufacturer+"|OK" {
		t.Fatalf("got %q", got)
	}
	// V.250 compound line: in order, the first error ends it.
	h.send("AT+CMEE=1;+CGMI;+CSQ\r")
	if got := h.until("OK"); strings.Join(got, "|") != modem.Manufacturer+"|+CSQ: 20,0|OK" {
		t.Fatalf("compound: %q", got)
	}
	h.send("AT+CGMI;+NOPE;+CSQ\r")
	if got := h.until("OK"); strings.Join(got, "|") != modem.Manufacturer+"|+CME ERROR: 4" {
		t.Fatalf("compound with error: %q", got)
	}
}

type recNet struct {
	mu   sync.Mutex
	subs [][]byte
}

func (n *recNet) Submit(_ context.Context, _ string, tpdu []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subs = append(n.subs, tpdu)
	return nil
}

func TestCMGS(t *testing.T) {
	nw := &recNet{}
	m := newModem(t, modem.Config{Network: nw})
	h := open(t, m.Link())
	h.send("ATE0\r")
	h.until("OK")
	h.send("AT+CMEE=1\r")
	h.until("OK")
	// TS 27.005 §3.5.1: <length> counts the TPDU without the SMSC octet.
	h.send("AT+CMGS=4\r")
	_ = h.f.SetReadDeadline(time.Now().Add(5 * time.Second))
	prompt := make([]byte, 4)
	if _, err := h.rd.Read(prompt[:1]); err != nil {
		t.Fatal(err)
	}
	for !strings.HasSuffix(string(prompt), "> ") {
		b, err := h.rd.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		prompt = append(prompt, b)
	}
	h.send("0011000000\x1a")
	if got := h.until("OK"); strings.Join(got, "|") != "+CMGS: 1|OK" {
		t.Fatalf("got %q", got)
	}
	nw.mu.Lock()
	sub := nw.subs
	nw.mu.Unlock()
	if len(sub) != 1 || string(sub[0]) != "\x11\x01\x00\x00" {
		t.Fatalf("network got %x", sub)
	}
	h.send("AT+CMGS=9\r")
	h.rd.ReadString(' ')
	h.send("0011000000\x1a")
	if got := h.until("OK"); got[len(got)-1] != "+CMS ERROR: 304" {
		t.Fatalf("length mismatch answered %q", got)
	}
}

type simStub struct{}

func (simStub) Transmit(apdu []byte) []byte { return []byte{0x6A, 0x82} }
func (simStub) DownloadSMS([]byte) bool     { return true }
func (simStub) ICCID() string               { return "8944000000000000001" }
func (simStub) IMSI() string                { return "234150000000009" }

func TestCSIMAndIdentity(t *testing.T) {
	m := newModem(t, modem.Config{SIM: simStub{}})
	m.SetQuirks(func(q *modem.Quirks) { q.EchoAtStart = false; q.ICCIDCommand = "AT^ICCID?" })
	m.Reboot()
	h := open(t, m.Link())
	h.until("RDY")
	h.send(`AT+CSIM=10,"00A4040000"` + "\r")
	if got := h.until("OK"); strings.Join(got, "|") != `+CSIM: 4,"6A82"|OK` {
		t.Fatalf("got %q", got)
	}
	h.send("AT^ICCID?\r")
	if got := h.until("OK"); got[0] != "^ICCID: 8944000000000000001" {
		t.Fatalf("got %q", got)
	}
	h.send("AT+CCID\r")
	if got := h.until("OK"); !strings.Contains(got[len(got)-1], "ERROR") {
		t.Fatalf("unsupported ICCID variant answered %q", got)
	}
	h.send("AT+CIMI\r")
	if got := h.until("OK"); got[0] != "234150000000009" {
		t.Fatalf("got %q", got)
	}
	// A card that stopped answering: SIM failure.
	m.SetQuirks(func(q *modem.Quirks) { q.SIMMute = true })
	h.send("AT+CMEE=1\r")
	h.until("OK")
	h.send(`AT+CSIM=10,"00A4040000"` + "\r")
	if got := h.until("OK"); got[len(got)-1] != "+CME ERROR: 13" {
		t.Fatalf("mute SIM: got %q", got)
	}
}

// TestUnplugReplug: the driver side of a hang-up reads EIO; the replug
// makes a new pty behind the same link.
func TestUnplugReplug(t *testing.T) {
	m := newModem(t, modem.Config{})
	before := m.Path()
	h := open(t, m.Link())
	m.Unplug()
	_ = h.f.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := h.f.Read(make([]byte, 10)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after hang-up: %v", err)
	}
	if err := m.Deliver(context.Background(), []byte{0x04}); !errors.Is(err, modem.ErrUnplugged) {
		t.Fatalf("deliver while unplugged: %v", err)
	}
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(m.Link())
	if err != nil || target != m.Path() {
		t.Fatalf("link %q → %q, path %q", m.Link(), target, m.Path())
	}
	if m.Path() == before {
		t.Log("kernel reused the pty number")
	}
	h2 := open(t, m.Link())
	h2.send("AT\r")
	h2.until("OK")
}

// TestStorage: stored SMS are listed, read and deleted by 1-based index;
// a full store refuses the network and says so once.
func TestStorage(t *testing.T) {
	m := newModem(t, modem.Config{Capacity: 2})
	m.SetQuirks(func(q *modem.Quirks) { q.EchoAtStart = false })
	m.Reboot()
	h := open(t, m.Link())
	h.until("RDY")
	h.send("AT+CNMI=2,1,0,1,0\r")
	h.until("OK")
	h.send("AT+CMEE=1\r")
	h.until("OK")
	ctx := context.Background()
	tpdu := []byte{0x04, 0x02, 0x81, 0x21, 0x00, 0x04, 0x62, 0x11, 0x82, 0x21, 0x00, 0x00, 0x00, 0x01, 0x41}
	for i := 1; i <= 2; i++ {
		if err := m.Deliver(ctx, tpdu); err != nil {
			t.Fatal(err)
		}
		if got := h.until(`+CMTI: "SM",` + string(rune('0'+i))); len(got) != 1 {
			t.Fatalf("indication %q", got)
		}
	}
	h.until(modem.FullIndication)
	if err := m.Deliver(ctx, tpdu); !errors.Is(err, modem.ErrMemoryFull) {
		t.Fatalf("deliver to a full store: %v", err)
	}
	h.send("AT+CMGL=4\r")
	got := h.until("OK")
	if len(got) != 5 || !strings.HasPrefix(got[0], "+CMGL: 1,0,,15") || !strings.HasSuffix(got[1], strings.ToUpper("040281210004621182210000000141")) {
		t.Fatalf("list %q", got)
	}
	h.send("AT+CMGD=1\r")
	h.until("OK")
	h.send("AT+CMGR=1\r")
	if got := h.until("OK"); got[len(got)-1] != "+CMS ERROR: 321" {
		t.Fatalf("read deleted: %q", got)
	}
	h.send("AT+CMGR=2\r")
	if got := h.until("OK"); got[0] != "+CMGR: 1,,15" {
		t.Fatalf("read: %q", got)
	}
}

// TestSubmitFromSIM: a SIM's SEND SHORT MESSAGE goes to the network like
// a +CMGS, with the modem's TP-MR.
func TestSubmitFromSIM(t *testing.T) {
	nw := &recNet{}
	m := newModem(t, modem.Config{Network: nw})
	for want := byte(1); want <= 2; want++ {
		if err := m.SubmitFromSIM([]byte{0x11, 0x00, 0x00, 0x00}); err != nil {
			t.Fatal(err)
		}
		nw.mu.Lock()
		got := nw.subs[len(nw.subs)-1]
		nw.mu.Unlock()
		if got[1] != want {
			t.Fatalf("TP-MR %d, want %d", got[1], want)
		}
	}
	if err := m.SubmitFromSIM([]byte{0x11}); err == nil {
		t.Fatal("a one-octet SUBMIT was accepted")
	}
}

// resettableSIM counts the card resets the modem caused.
type resettableSIM struct {
	simStub
	resets atomic.Int32
}

func (s *resettableSIM) Reset() { s.resets.Add(1) }

// TestRebootResetsSIM: a reboot, direct or by AT+CFUN=1,1, resets the
// card before the power-up indication, as the modem's power cycle resets
// a real SIM.
func TestRebootResetsSIM(t *testing.T) {
	sim := &resettableSIM{}
	m := newModem(t, modem.Config{SIM: sim})
	m.Reboot()
	h := open(t, m.Link())
	h.until("RDY")
	if n := sim.resets.Load(); n != 1 {
		t.Fatalf("%d SIM resets after Reboot, want 1", n)
	}
	h.send("AT+CFUN=1,1\r")
	h.until("RDY")
	if n := sim.resets.Load(); n != 2 {
		t.Fatalf("%d SIM resets after AT+CFUN=1,1, want 2", n)
	}
}
