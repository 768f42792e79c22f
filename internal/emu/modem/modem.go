package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// SIM is the card behind the emulated modem.
type SIM interface {
	// Transmit executes one command APDU (AT+CSIM) and returns the response APDU (data ‖ SW1 SW2).
	Transmit(apdu []byte) []byte
	// DownloadSMS is what a real modem does with a class 2 / PID 0x7F SMS-DELIVER (TS 31.111 §7.1.1,
	// ENVELOPE SMS-PP DOWNLOAD): it gives the TPDU to the SIM instead of the host. ok reports whether
	// the SIM accepted it (on false the modem stores/pushes it to the host as a normal SMS).
	DownloadSMS(tpdu []byte) (ok bool)
	ICCID() string // for AT+CCID / AT+ICCID / AT^ICCID
	IMSI() string  // for AT+CIMI
}

// SIMResetter is implemented by a SIM that models a card reset. A reboot
// of the modem powers the card down and up again (TS 102 221 §6.2
// activation): Reboot calls Reset so that logical channels close and the
// selected application is forgotten, as on a real gateway.
type SIMResetter interface {
	Reset()
}

// Network is where the emulated modem submits SMS (emu/network implements
// it). from is the modem's own number; tpdu is the SMS-SUBMIT with the
// modem's TP-MR.
type Network interface {
	Submit(ctx context.Context, from string, tpdu []byte) error
}

// Errors Deliver returns to the network, which then keeps the SMS and
// retries (TS 24.011 RP-ERROR).
var (
	ErrUnplugged  = errors.New("emulated modem: unplugged")
	ErrMemoryFull = errors.New("emulated modem: SMS storage full")
	ErrNoAck      = errors.New("emulated modem: +CMT not acknowledged in time")
	ErrRejected   = errors.New("emulated modem: host rejected the SMS (+CNMA=2)")
	ErrClosed     = errors.New("emulated modem: closed")
)

// Config configures an emulated modem. Zero values are defaults.
type Config struct {
	// Link is the symlink created to the pty slave (required).
	Link string
	// Number is the modem's own MSISDN (+CNUM, and the sender of SUBMITs).
	Number string
	// SIM is the card; nil means a fixed ICCID/IMSI and no +CSIM.
	SIM SIM
	// Network receives SUBMITs; nil rejects +CMGS with +CMS ERROR: 331.
	Network Network
	// Capacity is the number of SMS slots (default 20).
	Capacity int
	// SMSC is the service centre address put before received TPDUs in
	// +CMT/+CMGR/+CMGL (RP-SC address, sms-pdu.md §1); default
	// DefaultSMSC.
	SMSC string
	// Log receives the emulator's own log (default discard).
	Log *slog.Logger
}

// Identity answers of the emulated modem.
const (
	Manufacturer = "lwm2m-clientd"
	ModelName    = "EMU-LTE"
	Revision     = "EMU 1.0"
	IMEI         = "356938035643809"
	// DefaultSMSC is the emulated network's service centre.
	DefaultSMSC  = "+33609001390"
	defaultICCID = "8933150319000000019"
	defaultIMSI  = "208150000000001"
)

// Modem is an emulated modem on a pseudo-terminal.
type Modem struct {
	cfg  Config
	log  *slog.Logger
	smsc []byte // the PDU-mode SMSC prefix of cfg.SMSC (read-only)

	deliverMu sync.Mutex // serialises Deliver: one +CMT outstanding at a time

	wmu sync.Mutex // serialises writes to the master, so lines never interleave

	mu     sync.Mutex
	pty    *pty // guarded by mu; nil while unplugged
	st     state
	quirks Quirks                   // guarded by mu
	slots  []*slot                  // guarded by mu; len = capacity, nil = free
	ackCh  chan bool                // guarded by mu: the outstanding +CMT's ack, nil when none
	midURC []string                 // guarded by mu: lines to inject in the next response
	slow   map[string]time.Duration // guarded by mu: command prefix → reply delay
	fail   map[string][]int         // guarded by mu: command prefix → queued +CMS errors
	closed bool                     // guarded by mu
	full   bool                     // guarded by mu: full indication sent
	mr     byte                     // guarded by mu: last TP-MR
	seen   []string                 // guarded by mu: commands received, for tests
	radio  radio                    // guarded by mu: +CSQ/+CESQ values (signal.go)

	intr chan struct{} // guarded by mu: closed and replaced by a reboot or hang-up (ends slow replies)

	wg   sync.WaitGroup // reader goroutines
	gone chan struct{}  // closed on Close
}

// state is what a reboot resets (guarded by Modem.mu).
type state struct {
	echo       bool
	cmee       int
	cmgf       int
	csms       int
	mt         int // +CNMI <mt>
	ds         int // +CNMI <ds>
	creg       int
	cereg      int
	copsFormat int
}

type slot struct {
	stat int    // 0 received unread, 1 received read
	pdu  []byte // SMSC ‖ TPDU
}

// New creates the pty, links cfg.Link to its slave and starts
// interpreting. Close stops it.
func New(cfg Config) (*Modem, error) {
	if cfg.Link == "" {
		return nil, errors.New("emulated modem: no link path")
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 20
	}
	if cfg.SMSC == "" {
		cfg.SMSC = DefaultSMSC
	}
	smsc, err := atpdu.ParseAddress(cfg.SMSC)
	if err != nil {
		return nil, fmt.Errorf("emulated modem: SMSC: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m := &Modem{
		cfg:    cfg,
		log:    cfg.Log.With("component", "emu_modem"),
		slots:  make([]*slot, cfg.Capacity),
		quirks: DefaultQuirks(),
		slow:   map[string]time.Duration{},
		fail:   map[string][]int{},
		gone:   make(chan struct{}),
		intr:   make(chan struct{}),
	}
	if m.smsc, err = atpdu.AppendSMSC(nil, smsc); err != nil {
		return nil, fmt.Errorf("emulated modem: SMSC: %w", err)
	}
	m.powerOn()
	if err := m.Replug(); err != nil {
		return nil, err
	}
	return m, nil
}

// powerOn resets the volatile state as a power-up does (caller holds mu or
// no one else runs yet).
func (m *Modem) powerOn() {
	m.st = state{echo: m.quirks.EchoAtStart, copsFormat: 0}
	m.full = false
	close(m.intr)
	m.intr = make(chan struct{})
}

// Path is the pty slave currently behind the link ("" while unplugged).
func (m *Modem) Path() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pty == nil {
		return ""
	}
	return m.pty.slave
}

// Link is the stable path to open.
func (m *Modem) Link() string { return m.cfg.Link }

// Close hangs up, removes the link and waits for the goroutines.
func (m *Modem) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.gone)
	p := m.pty
	m.pty = nil
	m.mu.Unlock()
	if p != nil {
		p.close()
	}
	m.wg.Wait()
	_ = os.Remove(m.cfg.Link)
	return nil
}

// Unplug hangs the pty up, as pulling the USB cable does: the driver's
// reads fail, and the link goes as udev removes the device's symlink. (A
// link left pointing at the old /dev/pts/N would lead the driver into
// whatever pseudo-terminal reuses that number next, another process's.)
func (m *Modem) Unplug() {
	m.mu.Lock()
	p := m.pty
	m.pty = nil
	close(m.intr)
	m.intr = make(chan struct{})
	if m.ackCh != nil {
		close(m.ackCh)
		m.ackCh = nil
	}
	m.mu.Unlock()
	if p != nil {
		m.log.Info("unplugged", "pty", p.slave)
		if target, err := os.Readlink(m.cfg.Link); err == nil && target == p.slave {
			_ = os.Remove(m.cfg.Link)
		}
		p.close()
	}
}

// Replug creates a new pty at the same link path; the modem powers up
// again (echo on, no routing), SIM storage survives.
func (m *Modem) Replug() error {
	m.Unplug()
	p, err := openPTY()
	if err != nil {
		return fmt.Errorf("emulated modem: %w", err)
	}
	if err := link(m.cfg.Link, p.slave); err != nil {
		p.close()
		return fmt.Errorf("emulated modem: link %s: %w", m.cfg.Link, err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		p.close()
		return ErrClosed
	}
	m.powerOn()
	m.pty = p
	m.wg.Add(1)
	m.mu.Unlock()
	m.log.Info("plugged", "pty", p.slave, "link", m.cfg.Link)
	go m.readLoop(p)
	return nil
}

// Reboot restarts the modem without hanging up the pty (AT+CFUN=1,1, a
// watchdog, a brown-out): volatile settings are lost, echo is back on, and
// the quirk's power-up indication (RDY, +CFUN: 1 or nothing) is sent. The
// SIM is reset with the modem when it implements SIMResetter.
func (m *Modem) Reboot() {
	m.mu.Lock()
	m.powerOn()
	if m.ackCh != nil {
		close(m.ackCh)
		m.ackCh = nil
	}
	ind := m.quirks.RebootIndication
	m.mu.Unlock()
	m.log.Info("reboot")
	if r, ok := m.cfg.SIM.(SIMResetter); ok {
		r.Reset() // outside m.mu: the card has its own lock
	}
	if ind != "" {
		m.urc(ind)
	}
}

// Commands returns the command lines received so far, in order.
func (m *Modem) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

// Stored returns the PDUs (SMSC ‖ TPDU) in storage, by index order.
func (m *Modem) Stored() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, s := range m.slots {
		if s != nil {
			out = append(out, append([]byte(nil), s.pdu...))
		}
	}
	return out
}

// readLoop interprets what the host writes on one pty until it hangs up.
func (m *Modem) readLoop(p *pty) {
	defer m.wg.Done()
	buf := make([]byte, 512)
	var line []byte
	var pdu *pduInput // non-nil after a "> " prompt
	for {
		n, err := p.master.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.EOF) {
				m.log.Debug("pty read ended", "err", err)
			}
			return
		}
		for _, c := range buf[:n] {
			if pdu != nil {
				switch c {
				case 0x1A: // Ctrl-Z ends the PDU (TS 27.005 §3.5.1)
					in := pdu
					pdu = nil
					m.finishPDU(p, in)
				case 0x1B: // ESC cancels
					pdu = nil
					m.respond(p, "OK")
				case '\r', '\n':
				default:
					pdu.hex = append(pdu.hex, c)
				}
				continue
			}
			switch c {
			case '\r':
				cmd := strings.TrimSpace(string(line))
				line = line[:0]
				if cmd == "" {
					continue
				}
				pdu = m.execute(p, cmd)
			case '\n', 0x1B, 0x1A:
				line = line[:0]
			default:
				if len(line) < 1024 {
					line = append(line, c)
				}
			}
		}
	}
}

// write sends raw bytes to the host on pty p (dropped if p was unplugged).
func (m *Modem) write(p *pty, b []byte) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.Lock()
	cur := m.pty
	m.mu.Unlock()
	if cur != p || p == nil {
		return
	}
	_, _ = p.master.Write(b)
}

// urc sends an unsolicited line (with optional PDU line) to the host.
func (m *Modem) urc(lines ...string) {
	m.mu.Lock()
	p := m.pty
	m.mu.Unlock()
	if p == nil {
		return
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\r\n" + l + "\r\n")
	}
	m.write(p, []byte(b.String()))
}

// respond sends information lines and a final result code, injecting any
// queued mid-response URC before the final line (the fault of defect 1).
func (m *Modem) respond(p *pty, lines ...string) {
	m.mu.Lock()
	inject := m.midURC
	m.midURC = nil
	m.mu.Unlock()
	var b strings.Builder
	for i, l := range lines {
		if i == len(lines)-1 {
			for _, u := range inject {
				b.WriteString("\r\n" + u + "\r\n")
			}
		}
		b.WriteString("\r\n" + l + "\r\n")
	}
	m.write(p, []byte(b.String()))
}

// sleep waits d (a slow reply); false when a reboot, hang-up or Close
// came first and the answer must not be sent.
func (m *Modem) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	m.mu.Lock()
	intr := m.intr
	m.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-intr:
	case <-m.gone:
	}
	return false
}

// Deliver is the network handing the modem an SMS-DELIVER TPDU over the
// air. It returns nil once the modem (or its SIM) has accepted it, or an
// error that makes the network keep the SMS and retry: unplugged, storage
// full, +CMT not acknowledged (after which the modem switches routing off,
// TS 27.005 §3.4.4), rejected with +CNMA=2.
func (m *Modem) Deliver(ctx context.Context, tpdu []byte) error {
	return m.deliver(ctx, tpdu, false)
}

// DeliverStatusReport hands the modem an SMS-STATUS-REPORT TPDU; with +CNMI
// <ds>=1 it goes to the host as +CDS, with 2 it is stored with +CDSI.
func (m *Modem) DeliverStatusReport(ctx context.Context, tpdu []byte) error {
	return m.deliver(ctx, tpdu, true)
}

func (m *Modem) deliver(ctx context.Context, tpdu []byte, report bool) error {
	m.deliverMu.Lock()
	defer m.deliverMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.pty == nil {
		m.mu.Unlock()
		return ErrUnplugged
	}
	q := m.quirks
	sim := m.cfg.SIM
	mt, ds, csms := m.st.mt, m.st.ds, m.st.csms
	m.mu.Unlock()

	pdu := append(append([]byte(nil), m.smsc...), tpdu...)
	var direct bool
	switch {
	case report:
		if ds == 0 {
			return nil // no status report indication: discarded
		}
		direct = ds == 1
	default:
		toSIM, class2 := simDownload(tpdu)
		if toSIM && sim != nil && q.DownloadToSIM && !q.SIMMute {
			// TS 31.111 §7.1.1: ENVELOPE (SMS-PP DOWNLOAD), not shown
			// to the host. A mute card takes nothing: the SMS goes to
			// the host like any other.
			if sim.DownloadSMS(tpdu) {
				return nil
			}
		}
		// TS 27.005 §3.4.1 <mt>=2: class 2 behaves as <mt>=1.
		direct = mt == 2 && !(class2 && q.Class2Stored)
		if mt == 0 || q.SilentStore {
			return m.store(pdu, false, "")
		}
	}
	if !direct {
		kind := "+CMTI"
		if report {
			kind = "+CDSI"
		}
		return m.store(pdu, true, kind)
	}
	kind := "+CMT: ,"
	if report {
		kind = "+CDS: "
	}
	line := fmt.Sprintf("%s%d", kind, len(tpdu))
	h := strings.ToUpper(fmt.Sprintf("%x", pdu))
	if csms == 0 {
		m.urc(line, h)
		return nil
	}
	ack := make(chan bool, 1)
	m.mu.Lock()
	m.ackCh = ack
	timeout := q.AckTimeout
	m.mu.Unlock()
	m.urc(line, h)
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case ok, open := <-ack:
		switch {
		case !open:
			err = ErrUnplugged
		case !ok:
			err = ErrRejected
		}
	case <-t.C:
		// TS 27.005 §3.4.4: no ack in time → error to the network and
		// routing to the TE off (<mt> and <ds> set to 0).
		m.mu.Lock()
		m.st.mt, m.st.ds = 0, 0
		m.mu.Unlock()
		m.log.Info("+CMT not acknowledged: routing switched off")
		err = ErrNoAck
	case <-ctx.Done():
		err = ctx.Err()
	case <-m.gone:
		err = ErrClosed
	}
	m.mu.Lock()
	if m.ackCh == ack {
		m.ackCh = nil
	}
	m.mu.Unlock()
	return err
}

// store puts a PDU in the first free slot and indicates it with kind
// ("+CMTI"/"+CDSI") when indicate is set.
func (m *Modem) store(pdu []byte, indicate bool, kind string) error {
	m.mu.Lock()
	idx := -1
	for i, s := range m.slots {
		if s == nil {
			idx = i
			break
		}
	}
	if idx < 0 {
		sendFull := !m.full
		m.full = true
		m.mu.Unlock()
		if sendFull {
			m.urc(FullIndication)
		}
		return ErrMemoryFull
	}
	m.slots[idx] = &slot{stat: 0, pdu: pdu}
	mem := m.quirks.IndicateStorage
	if mem == "" {
		mem = "SM"
	}
	nowFull := true
	for _, s := range m.slots {
		if s == nil {
			nowFull = false
		}
	}
	sendFull := nowFull && !m.full
	if nowFull {
		m.full = true
	}
	m.mu.Unlock()
	if indicate {
		m.urc(fmt.Sprintf(`%s: "%s",%d`, kind, mem, idx+1))
	}
	if sendFull {
		m.urc(FullIndication)
	}
	return nil
}

// FullIndication is the emulated modem's "SMS storage full" URC (Huawei
// style; TS 27.005 has none besides +CMS ERROR: 322).
const FullIndication = "^SMMEMFULL"

// SubmitFromSIM routes a SIM's proactive SEND SHORT MESSAGE TPDU into the
// network exactly like a +CMGS ("modem handles the toolkit" variant).
func (m *Modem) SubmitFromSIM(tpdu []byte) error {
	m.mu.Lock()
	nw := m.cfg.Network
	m.mr++
	mr := m.mr
	m.mu.Unlock()
	if nw == nil {
		return errors.New("emulated modem: no network")
	}
	if len(tpdu) < 2 {
		return errors.New("emulated modem: SUBMIT too short")
	}
	t := append([]byte(nil), tpdu...)
	t[1] = mr // TS 23.040 §9.2.2.2: TP-MR is octet 1; the ME sets it
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return nw.Submit(ctx, m.cfg.Number, t)
}
