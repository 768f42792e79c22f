package modem

import "fmt"

// Signal is what the emulated modem reports in +CSQ (TS 27.007 §8.5) and
// +CESQ (§8.69), as the raw 27.007 values.
type Signal struct {
	RSSI int // +CSQ <rssi>: 0–31 (-113 + 2·rssi dBm), 99 not known
	BER  int // +CSQ <ber>: RXQUAL 0–7, 99 not known
	RSRQ int // +CESQ <rsrq>: 0–34 (rsrq/2 − 19.5 dB), 255 not known
	RSRP int // +CESQ <rsrp>: 0–97 (rsrp − 140 dBm), 255 not known
}

// DefaultSignal is the signal until SetSignal: -73 dBm RSSI, RXQUAL 0,
// RSRQ -9.5 dB, RSRP -90 dBm.
var DefaultSignal = Signal{RSSI: 20, BER: 0, RSRQ: 20, RSRP: 50}

// radio is the emulated radio's state (guarded by Modem.mu); a reboot keeps
// it.
type radio struct {
	sig Signal
	set bool // false: DefaultSignal
}

// SetSignal changes what +CSQ and +CESQ report from the next command on.
func (m *Modem) SetSignal(s Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.radio = radio{sig: s, set: true}
}

func (m *Modem) signal() Signal {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.radio.set {
		return DefaultSignal
	}
	return m.radio.sig
}

func (s Signal) csq() string { return fmt.Sprintf("+CSQ: %d,%d", s.RSSI, s.BER) }

// cesq leaves the 2G (<rxlev>, <ber>) and 3G (<rscp>, <ecno>) fields "not
// known" (99, 99, 255, 255): the emulated modem is on LTE.
func (s Signal) cesq() string { return fmt.Sprintf("+CESQ: 99,99,255,255,%d,%d", s.RSRQ, s.RSRP) }

// The emulated modem's one PDP context (TS 27.007 §10.1.1, §10.1.14): the
// APN it is defined with and the address the network gave it.
const (
	APN       = "emu.apn"
	PDPAddrV4 = "10.64.0.2"
)

func cgdcont() string { return `+CGDCONT: 1,"IP","` + APN + `","0.0.0.0",0,0` }
func cgpaddr() string { return `+CGPADDR: 1,"` + PDPAddrV4 + `"` }
