package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// CSIM sends one command APDU with AT+CSIM=<length>,"<hex>" (TS 27.007
// §8.17: <length> counts hex characters) and returns the response APDU
// (data ‖ SW1 SW2). A status word other than 9000 is a value, not an error.
func (m *Modem) CSIM(ctx context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) < 4 {
		return nil, fmt.Errorf("modem: +CSIM: APDU of %d bytes is shorter than a header", len(apdu))
	}
	h := strings.ToUpper(hex.EncodeToString(apdu))
	lines, err := m.do(ctx, "AT+CSIM="+strconv.Itoa(len(h))+`,"`+h+`"`, cmdOpts{prefixes: []string{"+CSIM:"}, strict: true})
	if err != nil {
		return nil, fmt.Errorf("modem: +CSIM: %w", err)
	}
	for _, l := range lines {
		v, ok := strings.CutPrefix(l, "+CSIM:")
		if !ok {
			continue
		}
		n, data, ok := strings.Cut(strings.TrimSpace(v), ",")
		if !ok {
			break
		}
		data = strings.Trim(strings.TrimSpace(data), `"`)
		resp, err := hex.DecodeString(data)
		if err != nil || len(resp) < 2 {
			return nil, fmt.Errorf("modem: +CSIM: bad response %q", l)
		}
		if want, err := strconv.Atoi(strings.TrimSpace(n)); err != nil || want != len(data) {
			return nil, fmt.Errorf("modem: +CSIM: length %s does not match %d hex characters", n, len(data))
		}
		return resp, nil
	}
	return nil, errors.New("modem: +CSIM: no +CSIM answer")
}

// Info is what the Device (3) and Connectivity Monitoring (4) objects need
// from the modem. Fields the modem did not answer are zero; SignalDBm etc.
// are nil when unknown.
type Info struct {
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Revision     string `json:"revision,omitempty"`
	IMEI         string `json:"imei,omitempty"`
	IMSI         string `json:"imsi,omitempty"`
	ICCID        string `json:"iccid,omitempty"`
	OwnNumber    string `json:"own_number,omitempty"`

	// SignalDBm is from +CSQ (TS 27.007 §8.5): -113 + 2·rssi.
	SignalDBm *int `json:"signal_dbm,omitempty"`
	// BitErrorRate is +CSQ <ber> (0–7), nil when 99.
	BitErrorRate *int `json:"bit_error_rate,omitempty"`
	// RSRPDBm and RSRQDB are from +CESQ (TS 27.007 §8.69): rsrp − 140 dBm,
	// rsrq/2 − 19.5 dB; nil when 255.
	RSRPDBm *int     `json:"rsrp_dbm,omitempty"`
	RSRQDB  *float64 `json:"rsrq_db,omitempty"`

	// APNs are the defined PDP contexts' access point names (+CGDCONT?,
	// TS 27.007 §10.1.1); IPAddresses the addresses of the contexts that
	// have one (+CGPADDR, §10.1.14), in context order.
	APNs        []string `json:"apns,omitempty"`
	IPAddresses []string `json:"ip_addresses,omitempty"`

	Registration Registration `json:"registration"`
	Operator     string       `json:"operator,omitempty"`
	MCC          string       `json:"mcc,omitempty"`
	MNC          string       `json:"mnc,omitempty"`
}

// Registration is +CREG/+CEREG <stat> and location (TS 27.007 §7.2, §10.1.22).
type Registration struct {
	// Stat: 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown,
	// 5 roaming; -1 unknown.
	Stat   int    `json:"stat"`
	State  string `json:"state"`
	LAC    int    `json:"lac,omitempty"` // 2G/3G location area code (+CREG)
	TAC    int    `json:"tac,omitempty"` // LTE tracking area code (+CEREG)
	CellID int    `json:"cell_id,omitempty"`
	AcT    int    `json:"act,omitempty"` // access technology, -1 unknown
}

var regStates = []string{"not registered", "registered, home", "searching", "denied", "unknown", "registered, roaming"}

// Info queries identity, SIM, signal, registration and operator. Each item
// is best effort (modems lack some commands); only a link failure or the
// end of ctx is an error.
func (m *Modem) Info(ctx context.Context) (Info, error) {
	var in Info
	var ferr error
	q := func(cmd string, prefixes ...string) []string {
		if ferr != nil {
			return nil
		}
		lines, err := m.do(ctx, cmd, cmdOpts{prefixes: prefixes, strict: true})
		if err != nil {
			if fatal(ctx, err) || errors.Is(err, ErrNotConnected) {
				ferr = fmt.Errorf("modem: info: %s: %w", cmd, err)
			}
			return nil
		}
		return lines
	}
	in.Manufacturer = value(q("AT+CGMI", "+CGMI:"), "+CGMI:")
	in.Model = value(q("AT+CGMM", "+CGMM:"), "+CGMM:")
	in.Revision = value(q("AT+CGMR", "+CGMR:"), "+CGMR:")
	in.IMEI = value(q("AT+CGSN", "+CGSN:"), "+CGSN:")
	in.IMSI = value(q("AT+CIMI", "+CIMI:"), "+CIMI:")
	// TS 27.007 has no ICCID command: +CCID, +ICCID and ^ICCID are the
	// common vendor spellings.
	for _, c := range []struct{ cmd, prefix string }{{"AT+CCID", "+CCID:"}, {"AT+ICCID", "+ICCID:"}, {"AT^ICCID?", "^ICCID:"}} {
		if in.ICCID = strings.TrimRight(value(q(c.cmd, c.prefix), c.prefix), "Ff"); in.ICCID != "" || ferr != nil {
			break
		}
	}
	for _, l := range q("AT+CNUM", "+CNUM:") {
		// +CNUM: [<alpha>],<number>,<type> (TS 27.007 §7.1)
		if f := splitFields(strings.TrimPrefix(l, "+CNUM:")); len(f) >= 2 && f[1] != "" {
			in.OwnNumber = f[1]
			break
		}
	}
	if f := fieldsOf(q("AT+CSQ", "+CSQ:"), "+CSQ:"); len(f) >= 2 {
		if rssi, err := strconv.Atoi(f[0]); err == nil {
			if v, ok := CSQDBm(rssi); ok {
				in.SignalDBm = &v
			}
		}
		if ber, err := strconv.Atoi(f[1]); err == nil && ber >= 0 && ber <= 7 {
			in.BitErrorRate = &ber
		}
	}
	if f := fieldsOf(q("AT+CESQ", "+CESQ:"), "+CESQ:"); len(f) >= 6 {
		if rsrq, err := strconv.Atoi(f[4]); err == nil && rsrq >= 0 && rsrq <= 34 {
			v := float64(rsrq)/2 - 19.5
			in.RSRQDB = &v
		}
		if rsrp, err := strconv.Atoi(f[5]); err == nil && rsrp >= 0 && rsrp <= 97 {
			v := rsrp - 140
			in.RSRPDBm = &v
		}
	}
	in.Registration = Registration{Stat: -1, AcT: -1}
	// <n>=2 adds location to the read answer (and to the URC, which the
	// reader knows as unsolicited).
	q("AT+CEREG=2")
	if r, ok := parseReg(fieldsOf(q("AT+CEREG?", "+CEREG:"), "+CEREG:")); ok && (r.Stat == 1 || r.Stat == 5) {
		r.TAC, r.LAC = r.LAC, 0
		in.Registration = r
	}
	q("AT+CREG=2")
	if in.Registration.Stat != 1 && in.Registration.Stat != 5 {
		if r, ok := parseReg(fieldsOf(q("AT+CREG?", "+CREG:"), "+CREG:")); ok {
			in.Registration = r
		}
	}
	if in.Registration.Stat >= 0 && in.Registration.Stat < len(regStates) {
		in.Registration.State = regStates[in.Registration.Stat]
	}
	// +COPS? with <format> 2 gives the numeric MCC+MNC, then 0 the name
	// (TS 27.007 §7.3).
	q("AT+COPS=3,2")
	if f := fieldsOf(q("AT+COPS?", "+COPS:"), "+COPS:"); len(f) >= 3 && len(f[2]) >= 5 {
		in.MCC, in.MNC = f[2][:3], f[2][3:]
	}
	q("AT+COPS=3,0")
	if f := fieldsOf(q("AT+COPS?", "+COPS:"), "+COPS:"); len(f) >= 3 {
		in.Operator = f[2]
	}
	in.APNs, in.IPAddresses = pdpContexts(q("AT+CGDCONT?", "+CGDCONT:"), q("AT+CGPADDR", "+CGPADDR:"))
	return in, ferr
}

// pdpContexts reads the APNs from +CGDCONT: <cid>,<PDP_type>,<APN>,...
// lines and the addresses from +CGPADDR: <cid>[,<PDP_addr_1>[,<PDP_addr_2>]]
// lines (TS 27.007 §10.1.1, §10.1.14). An empty or all-zero address (a
// context not activated) is left out; an IPv6 address in the 27.007
// default notation (16 dot-separated octets) is converted to the usual
// text form.
func pdpContexts(cgdcont, cgpaddr []string) (apns, addrs []string) {
	for _, l := range cgdcont {
		if f := splitFields(strings.TrimPrefix(l, "+CGDCONT:")); len(f) >= 3 && f[2] != "" {
			apns = append(apns, f[2])
		}
	}
	for _, l := range cgpaddr {
		f := splitFields(strings.TrimPrefix(l, "+CGPADDR:"))
		for _, a := range f[1:] {
			if ip, ok := pdpAddr(a); ok {
				addrs = append(addrs, ip)
			}
		}
	}
	return apns, addrs
}

func pdpAddr(a string) (string, bool) {
	if f := strings.Split(a, "."); len(f) == 16 {
		var b [16]byte
		for i, x := range f {
			v, err := strconv.ParseUint(x, 10, 8)
			if err != nil {
				return "", false
			}
			b[i] = byte(v)
		}
		ip := netip.AddrFrom16(b)
		return ip.String(), !ip.IsUnspecified()
	}
	ip, err := netip.ParseAddr(a)
	if err != nil || ip.IsUnspecified() {
		return "", false
	}
	return ip.String(), true
}

// CSQDBm maps a +CSQ <rssi> to dBm (TS 27.007 §8.5): 0 is -113 dBm or
// less, 1 is -111 dBm, 2–30 are -109 to -53 dBm in 2 dB steps, 31 is
// -51 dBm or greater. ok is false for 99 (not known or not detectable) and
// for anything else outside 0–31 (the TD-SCDMA range 100–191 included).
func CSQDBm(rssi int) (dbm int, ok bool) {
	if rssi < 0 || rssi > 31 {
		return 0, false
	}
	return -113 + 2*rssi, true
}

// parseReg reads "<n>,<stat>[,<lac>,<ci>[,<AcT>]]".
func parseReg(f []string) (Registration, bool) {
	if len(f) < 2 {
		return Registration{}, false
	}
	r := Registration{AcT: -1}
	var err error
	if r.Stat, err = strconv.Atoi(f[1]); err != nil {
		return Registration{}, false
	}
	if len(f) >= 4 {
		lac, _ := strconv.ParseInt(f[2], 16, 64)
		ci, _ := strconv.ParseInt(f[3], 16, 64)
		r.LAC, r.CellID = int(lac), int(ci)
	}
	if len(f) >= 5 {
		if act, err := strconv.Atoi(f[4]); err == nil {
			r.AcT = act
		}
	}
	return r, true
}

// value returns the first answer line without its prefix and quotes.
func value(lines []string, prefix string) string {
	for _, l := range lines {
		v := strings.TrimSpace(strings.TrimPrefix(l, prefix))
		if v != "" {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// fieldsOf splits the first line with prefix into comma-separated fields.
func fieldsOf(lines []string, prefix string) []string {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return splitFields(v)
		}
	}
	return nil
}

func splitFields(v string) []string {
	f := strings.Split(strings.TrimSpace(v), ",")
	for i := range f {
		f[i] = strings.Trim(strings.TrimSpace(f[i]), `"`)
	}
	return f
}
