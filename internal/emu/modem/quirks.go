package modem

import (
	"strings"
	"time"
)

// Quirks are behaviours of real modems, switchable per test.
type Quirks struct {
	// EchoAtStart: echo is on after power-up (ITU-T V.250 §6.2.4 default).
	EchoAtStart bool
	// Class2Stored: class 2 SMS are stored with +CMTI even when <mt>=2
	// (TS 27.005 §3.4.1; what every modem does).
	Class2Stored bool
	// NoCNMA: +CNMA is answered with ERROR (the modem still waits for it).
	NoCNMA bool
	// NoCSMS: +CSMS=1 is refused (phase 2 only).
	NoCSMS bool
	// SilentStore: SMS are stored without indication, as after a missed
	// +CNMA (<mt>=0).
	SilentStore bool
	// DownloadToSIM: class 2 / PID 0x7F SMS go to the SIM (ENVELOPE
	// SMS-PP DOWNLOAD) instead of the host.
	DownloadToSIM bool
	// RebootIndication is sent after a reboot: "RDY", "+CFUN: 1" or ""
	// (then only the returning echo shows it).
	RebootIndication string
	// AckTimeout is how long a +CMT waits for +CNMA.
	AckTimeout time.Duration
	// UnplugOn hangs the pty up when a command line with this prefix
	// arrives, before answering (e.g. "AT+CMGS").
	UnplugOn string
	// UnplugAfterSubmit hangs up after a +CMGS PDU reached the network but
	// before the +CMGS answer.
	UnplugAfterSubmit bool
	// ICCIDCommand is the one ICCID command understood: "AT+CCID",
	// "AT+ICCID" or "AT^ICCID?".
	ICCIDCommand string
	// NoCESQ: AT+CESQ is unknown.
	NoCESQ bool
	// IndicateStorage is the <mem> named in +CMTI/+CDSI (default "SM"),
	// e.g. "ME" for a modem that stores in its own memory whatever +CPMS
	// says. The emulated store is one.
	IndicateStorage string
	// SIMMute: the card stopped answering; every AT+CSIM ends with
	// +CME ERROR: 13 (SIM failure, TS 27.007 §9.2.1) once the modem gave
	// up on it (add SlowReply("AT+CSIM", d) for the modem's wait), and
	// class 2 / PID 0x7F SMS are not downloaded but go to the host.
	SIMMute bool
}

// DefaultQuirks are those of a well-behaved modem.
func DefaultQuirks() Quirks {
	return Quirks{
		EchoAtStart:      true,
		Class2Stored:     true,
		DownloadToSIM:    true,
		RebootIndication: "RDY",
		AckTimeout:       20 * time.Second,
		ICCIDCommand:     "AT+CCID",
	}
}

// SetQuirks changes quirks; f runs under the modem's lock.
func (m *Modem) SetQuirks(f func(*Quirks)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.quirks)
}

// InjectMidResponse queues unsolicited lines to be written inside the next
// command response, before its final result code.
func (m *Modem) InjectMidResponse(lines ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.midURC = append(m.midURC, lines...)
}

// SlowReply delays the answer to every command starting with prefix by d
// (0 removes it).
func (m *Modem) SlowReply(prefix string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d == 0 {
		delete(m.slow, prefix)
		return
	}
	m.slow[prefix] = d
}

// FailNext makes the next len(codes) commands starting with prefix fail
// with +CMS ERROR: codes[i].
func (m *Modem) FailNext(prefix string, codes ...int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[prefix] = append(m.fail[prefix], codes...)
}

// Inject writes lines to the host now, as unsolicited output (URCs or
// garbage).
func (m *Modem) Inject(lines ...string) { m.urc(lines...) }

// InjectRaw writes bytes to the host now, unframed.
func (m *Modem) InjectRaw(b []byte) {
	m.mu.Lock()
	p := m.pty
	m.mu.Unlock()
	m.write(p, b)
}

// slowFor and failFor are looked up under mu.
func (m *Modem) slowFor(cmd string) time.Duration {
	for p, d := range m.slow {
		if strings.HasPrefix(cmd, p) {
			return d
		}
	}
	return 0
}

func (m *Modem) failFor(cmd string) (int, bool) {
	for p, codes := range m.fail {
		if strings.HasPrefix(cmd, p) && len(codes) > 0 {
			m.fail[p] = codes[1:]
			return codes[0], true
		}
	}
	return 0, false
}
