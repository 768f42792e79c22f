package modem

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// pduInput is a +CMGS waiting for its PDU after the "> " prompt.
type pduInput struct {
	length int
	hex    []byte
}

// execute runs one command line on pty p and answers it. It returns a
// pduInput when it issued a "> " prompt.
func (m *Modem) execute(p *pty, line string) *pduInput {
	cmd := strings.ToUpper(line)
	m.mu.Lock()
	m.seen = append(m.seen, line)
	echo := m.st.echo
	q := m.quirks
	delay := m.slowFor(cmd)
	code, failed := m.failFor(cmd)
	cmee := m.st.cmee
	m.mu.Unlock()

	if echo {
		m.write(p, []byte(line+"\r"))
	}
	if q.UnplugOn != "" && strings.HasPrefix(cmd, q.UnplugOn) {
		m.Unplug()
		return nil
	}
	if !m.sleep(delay) {
		return nil
	}
	if failed {
		m.respond(p, fmt.Sprintf("+CMS ERROR: %d", code))
		return nil
	}
	if !strings.HasPrefix(cmd, "AT") {
		m.respond(p, "ERROR")
		return nil
	}
	// ITU-T V.250 §5.2.1: one line may hold several commands separated by
	// ';'; they run in order and the first error ends the line.
	var r reply
	subs := splitCompound(cmd[2:])
	for i, body := range subs {
		in := m.execOne(p, body, q, cmee, &r)
		if in != nil {
			if i != len(subs)-1 {
				r.final = errText(cmee, "+CMS ERROR", 302) // a PDU must end the line
				break
			}
			return in
		}
		if r.final != "" {
			break
		}
	}
	if r.final == "" {
		r.final = "OK"
	}
	m.respond(p, append(r.lines, r.final)...)
	return nil
}

// reply collects the answer of a command line.
type reply struct {
	lines []string // information responses
	final string   // "" until an error ends the line
}

func errText(cmee int, kind string, n int) string {
	if cmee == 0 {
		return "ERROR"
	}
	return fmt.Sprintf("%s: %d", kind, n)
}

// splitCompound splits the body of a command line at ';' outside quotes.
func splitCompound(body string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, body[start:i])
				start = i + 1
			}
		}
	}
	return append(out, body[start:])
}

// execOne runs one command of a line (body without "AT"); a "> " prompt
// is the only output it writes itself.
func (m *Modem) execOne(p *pty, body string, q Quirks, cmee int, r *reply) *pduInput {
	cmd := "AT" + body
	errCME := func(n int) { r.final = errText(cmee, "+CME ERROR", n) }
	errCMS := func(n int) { r.final = errText(cmee, "+CMS ERROR", n) }
	ok := func(lines ...string) { r.lines = append(r.lines, lines...) }

	switch {
	case body == "":
		ok()
	case body == "E0" || body == "E1":
		m.mu.Lock()
		m.st.echo = body == "E1"
		m.mu.Unlock()
		ok()
	case body == "I":
		ok(Manufacturer+" "+ModelName, "Revision: "+Revision)
	case body == "+CGMI":
		ok(Manufacturer)
	case body == "+CGMM":
		ok(ModelName)
	case body == "+CGMR":
		ok(Revision)
	case body == "+CGSN":
		ok(IMEI)
	case body == "+CIMI":
		ok(m.imsi())
	case cmd == q.ICCIDCommand:
		prefix := strings.TrimSuffix(strings.TrimPrefix(q.ICCIDCommand, "AT"), "?")
		ok(prefix + ": " + m.iccid())
	case body == "+CNUM":
		ok(fmt.Sprintf(`+CNUM: "","%s",145`, m.cfg.Number))
	case body == "+CSQ":
		ok(m.signal().csq())
	case body == "+CESQ" && !q.NoCESQ:
		ok(m.signal().cesq())
	case strings.HasPrefix(body, "+CMEE="):
		m.setInt(body, &m.st.cmee, 0, 2, errCME, ok)
	case body == "+CMEE?":
		ok(fmt.Sprintf("+CMEE: %d", cmee))
	case strings.HasPrefix(body, "+CREG="):
		m.setInt(body, &m.st.creg, 0, 2, errCME, ok)
	case strings.HasPrefix(body, "+CEREG="):
		m.setInt(body, &m.st.cereg, 0, 2, errCME, ok)
	case body == "+CREG?":
		m.mu.Lock()
		n := m.st.creg
		m.mu.Unlock()
		if n == 2 {
			ok(`+CREG: 2,1,"1A2B","01A2B3C4",7`)
		} else {
			ok(fmt.Sprintf("+CREG: %d,1", n))
		}
	case body == "+CEREG?":
		m.mu.Lock()
		n := m.st.cereg
		m.mu.Unlock()
		if n == 2 {
			ok(`+CEREG: 2,1,"3C4D","01A2B3C5",7`)
		} else {
			ok(fmt.Sprintf("+CEREG: %d,1", n))
		}
	case strings.HasPrefix(body, "+COPS=3,"):
		m.setInt("="+body[len("+COPS=3,"):], &m.st.copsFormat, 0, 2, errCME, ok)
	case body == "+COPS?":
		m.mu.Lock()
		f := m.st.copsFormat
		m.mu.Unlock()
		if f == 2 {
			ok(`+COPS: 0,2,"20815",7`)
		} else {
			ok(`+COPS: 0,0,"EMU Telecom",7`)
		}
	case body == "+CGDCONT?":
		ok(cgdcont())
	case body == "+CGPADDR":
		ok(cgpaddr())
	case body == "+CFUN?":
		ok("+CFUN: 1")
	case body == "+CFUN=1,1" || body == "Z":
		ok()
		m.wg.Add(1) // the reader holds a count, so Close's Wait cannot have passed
		go func() {
			defer m.wg.Done()
			m.Reboot()
		}()
	case body == "+CMGF=0":
		ok()
	case strings.HasPrefix(body, "+CMGF="):
		errCMS(303) // text mode is not emulated
	case strings.HasPrefix(body, "+CSMS="):
		v := strings.TrimPrefix(body, "+CSMS=")
		if (v != "0" && v != "1") || (v == "1" && q.NoCSMS) {
			errCMS(303)
			return nil
		}
		m.mu.Lock()
		m.st.csms, _ = strconv.Atoi(v)
		m.mu.Unlock()
		ok("+CSMS: 1,1,1")
	case strings.HasPrefix(body, "+CPMS="):
		used, total := m.usage()
		ok(fmt.Sprintf("+CPMS: %d,%d,%d,%d,%d,%d", used, total, used, total, used, total))
	case strings.HasPrefix(body, "+CNMI="):
		f := strings.Split(strings.TrimPrefix(body, "+CNMI="), ",")
		var v [5]int
		for i := range f {
			n, err := strconv.Atoi(f[i])
			if i >= 5 || err != nil {
				errCMS(303)
				return nil
			}
			v[i] = n
		}
		if v[1] > 3 || v[3] > 2 {
			errCMS(303)
			return nil
		}
		m.mu.Lock()
		m.st.mt, m.st.ds = v[1], v[3]
		m.mu.Unlock()
		ok()
	case body == "+CNMA" || strings.HasPrefix(body, "+CNMA="):
		m.cnma(body, q, errCMS, ok)
	case strings.HasPrefix(body, "+CMGR="):
		idx, err := strconv.Atoi(strings.TrimPrefix(body, "+CMGR="))
		s := m.read(idx)
		if err != nil || s == nil {
			errCMS(321)
			return nil
		}
		ok(fmt.Sprintf("+CMGR: %d,,%d", s.stat, len(s.pdu)-int(s.pdu[0])-1), strings.ToUpper(hex.EncodeToString(s.pdu)))
	case strings.HasPrefix(body, "+CMGL="):
		stat, err := strconv.Atoi(strings.TrimPrefix(body, "+CMGL="))
		if err != nil || stat < 0 || stat > 4 {
			errCMS(303)
			return nil
		}
		ok(m.list(stat)...)
	case strings.HasPrefix(body, "+CMGD="):
		f := strings.Split(strings.TrimPrefix(body, "+CMGD="), ",")
		idx, err := strconv.Atoi(f[0])
		if err != nil || !m.delete(idx) {
			errCMS(321)
			return nil
		}
		ok()
	case strings.HasPrefix(body, "+CMGS="):
		n, err := strconv.Atoi(strings.TrimPrefix(body, "+CMGS="))
		if err != nil || n < 1 || n > 164 {
			errCMS(304)
			return nil
		}
		m.write(p, []byte("\r\n> "))
		return &pduInput{length: n}
	case strings.HasPrefix(body, "+CSIM="):
		m.csim(body, errCME, ok)
	default:
		errCME(4)
	}
	return nil
}

func (m *Modem) respondErr(p *pty, cmee int, kind string, n int) {
	m.respond(p, errText(cmee, kind, n))
}

// setInt parses "...=<n>" into *dst (guarded by mu) within [lo, hi].
func (m *Modem) setInt(body string, dst *int, lo, hi int, fail func(int), ok func(...string)) {
	_, v, _ := strings.Cut(body, "=")
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		fail(3)
		return
	}
	m.mu.Lock()
	*dst = n
	m.mu.Unlock()
	ok()
}

func (m *Modem) imsi() string {
	if m.cfg.SIM != nil {
		return m.cfg.SIM.IMSI()
	}
	return defaultIMSI
}

func (m *Modem) iccid() string {
	if m.cfg.SIM != nil {
		return m.cfg.SIM.ICCID()
	}
	return defaultICCID
}

// cnma acknowledges the outstanding +CMT/+CDS (TS 27.005 §3.4.4): plain or
// =0/=1 is RP-ACK, =2 RP-ERROR; +CMS ERROR: 340 when none is expected.
func (m *Modem) cnma(body string, q Quirks, errCMS func(int), ok func(...string)) {
	if q.NoCNMA {
		errCMS(303)
		return
	}
	positive := body != "+CNMA=2" && !strings.HasPrefix(body, "+CNMA=2,")
	m.mu.Lock()
	ch := m.ackCh
	m.ackCh = nil
	m.mu.Unlock()
	if ch == nil {
		errCMS(340)
		return
	}
	ch <- positive
	ok()
}

func (m *Modem) usage() (used, total int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.slots {
		if s != nil {
			used++
		}
	}
	return used, len(m.slots)
}

// read returns slot idx (1-based) and marks it read.
func (m *Modem) read(idx int) *slot {
	m.mu.Lock()
	defer m.mu.Unlock()
	if idx < 1 || idx > len(m.slots) || m.slots[idx-1] == nil {
		return nil
	}
	s := m.slots[idx-1]
	out := *s
	s.stat = 1
	return &out
}

// list answers +CMGL=<stat> (TS 27.005 §3.4.2, stat 4 = all).
func (m *Modem) list(stat int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for i, s := range m.slots {
		if s == nil || (stat != 4 && s.stat != stat) {
			continue
		}
		out = append(out, fmt.Sprintf("+CMGL: %d,%d,,%d", i+1, s.stat, len(s.pdu)-int(s.pdu[0])-1),
			strings.ToUpper(hex.EncodeToString(s.pdu)))
		if s.stat == 0 {
			s.stat = 1
		}
	}
	return out
}

func (m *Modem) delete(idx int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if idx < 1 || idx > len(m.slots) {
		return false
	}
	m.slots[idx-1] = nil
	m.full = false
	return true
}

// finishPDU completes a +CMGS once Ctrl-Z arrived (TS 27.005 §3.5.1).
func (m *Modem) finishPDU(p *pty, in *pduInput) {
	m.mu.Lock()
	cmee := m.st.cmee
	q := m.quirks
	nw := m.cfg.Network
	m.mu.Unlock()
	errCMS := func(n int) { m.respondErr(p, cmee, "+CMS ERROR", n) }
	pdu, err := hex.DecodeString(string(in.hex))
	// <length> counts the TPDU only, not the SMSC prefix (sms-pdu.md §1).
	if err != nil || len(pdu) < 2 || len(pdu)-int(pdu[0])-1 != in.length {
		errCMS(304)
		return
	}
	if nw == nil {
		errCMS(331)
		return
	}
	tpdu := append([]byte(nil), pdu[int(pdu[0])+1:]...)
	if len(tpdu) < 2 {
		errCMS(304)
		return
	}
	m.mu.Lock()
	m.mr++
	mr := m.mr
	m.mu.Unlock()
	tpdu[1] = mr // TS 23.040 §9.2.2.2: the ME sets TP-MR (octet 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nw.Submit(ctx, m.cfg.Number, tpdu); err != nil {
		m.log.Info("network refused SUBMIT", "err", err)
		errCMS(332)
		return
	}
	if q.UnplugAfterSubmit {
		m.Unplug()
		return
	}
	m.respond(p, fmt.Sprintf("+CMGS: %d", mr), "OK")
}

// csim forwards AT+CSIM=<length>,"<hex>" to the SIM (TS 27.007 §8.17).
func (m *Modem) csim(body string, errCME func(int), ok func(...string)) {
	sim := m.cfg.SIM
	n, h, found := strings.Cut(strings.TrimPrefix(body, "+CSIM="), ",")
	h = strings.Trim(h, `"`)
	length, err := strconv.Atoi(n)
	apdu, herr := hex.DecodeString(h)
	if !found || err != nil || herr != nil || length != len(h) || len(apdu) < 4 {
		errCME(3)
		return
	}
	if sim == nil {
		errCME(10) // SIM not inserted
		return
	}
	m.mu.Lock()
	mute := m.quirks.SIMMute
	m.mu.Unlock()
	if mute {
		errCME(13) // SIM failure
		return
	}
	resp := strings.ToUpper(hex.EncodeToString(sim.Transmit(apdu)))
	ok(fmt.Sprintf(`+CSIM: %d,"%s"`, len(resp), resp))
}
