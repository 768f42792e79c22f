package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// dispatcher is the one goroutine (Modem.session) that handles unsolicited
// result codes and sweeps, in arrival order (style rule 12).
type dispatcher struct {
	m        *Modem
	e        *engine
	delivery Delivery // owned by the dispatcher; may fall back to stored
}

// fullURCs are vendor "SMS storage full" indications (Huawei ^SMMEMFULL,
// SIMCom/Quectel variants); TS 27.005 itself only has +CMS ERROR: 322.
var fullURCs = []string{"^SMMEMFULL", "+SMS FULL", "+QIND: SMS FULL", "+QIND: \"SMS FULL\""}

// rebootURCs announce a modem restart: V.250 "RDY" after power-up,
// TS 27.007 §8.2 "+CFUN: 1" from modems that report it, ^SYSSTART.
var rebootURCs = []string{"RDY", "+CFUN: 1", "^SYSSTART"}

func (d *dispatcher) run(ctx context.Context) error {
	if d.delivery != DeliveryNone {
		if err := d.sweep(ctx, "start-up"); err != nil {
			return err
		}
	}
	var tick <-chan time.Time // the periodic sweep, renewed when it fires
	if d.delivery != DeliveryNone {
		tick = d.m.clock.After(d.m.cfg.SweepInterval)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.e.Done():
			return d.e.Err()
		case <-d.e.URCReady():
			for _, u := range d.e.nextURCs() {
				if err := d.handle(ctx, u); err != nil {
					return err
				}
			}
		case <-d.e.fullSig:
			if err := d.sweep(ctx, "storage full"); err != nil {
				return err
			}
		case <-tick:
			tick = d.m.clock.After(d.m.cfg.SweepInterval)
			// A modem that missed a +CNMA turns routing off (TS 27.005
			// §3.4.4): re-assert it, then collect what it stored quietly.
			if err := d.m.setCNMI(ctx, d.e, d.delivery); err != nil && fatal(ctx, err) {
				return err
			}
			if err := d.sweep(ctx, "periodic"); err != nil {
				return err
			}
		}
	}
}

// fatal reports whether an error ends the session.
func fatal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, ErrLinkDown)
}

func (d *dispatcher) handle(ctx context.Context, u indication) error {
	switch {
	case u.Line == echoURC || hasAnyPrefix(u.Line, rebootURCs):
		d.m.log.Warn("modem restarted", "indication", strings.TrimPrefix(u.Line, "\x00"))
		return errReboot
	case d.delivery == DeliveryNone:
		// Someone else owns SMS reception: leave every SMS where it is.
		d.m.log.Debug("unsolicited result ignored (SMS delivery none)", "line", u.Line)
		return nil
	case strings.HasPrefix(u.Line, "+CMT:"):
		return d.direct(ctx, u)
	case strings.HasPrefix(u.Line, "+CDS:"):
		return d.directReport(ctx, u)
	case strings.HasPrefix(u.Line, "+CMTI:"):
		return d.stored(ctx, u, false)
	case strings.HasPrefix(u.Line, "+CDSI:"):
		return d.stored(ctx, u, true)
	case hasAnyPrefix(u.Line, fullURCs):
		return d.sweep(ctx, "storage full")
	}
	d.m.log.Debug("unsolicited result ignored", "line", u.Line)
	return nil
}

// direct hands off a +CMT SMS and acknowledges it afterwards (TS 27.005
// §3.4.4 +CNMA; sms-pdu.md §11).
func (d *dispatcher) direct(ctx context.Context, u indication) error {
	sms, err := parsePDU(u.PDU)
	if err != nil {
		d.m.log.Warn("undecodable +CMT dropped", "err", err)
		// RP-ERROR so the network keeps it (TS 27.005 §4.6 +CNMA=2).
		return d.ack(ctx, false)
	}
	sms.Index, sms.Received = -1, u.At
	herr := d.m.cfg.HandleSMS(ctx, sms)
	if herr != nil {
		d.m.log.Warn("SMS handler failed, asking the network to resend", "err", herr)
	}
	return d.ack(ctx, herr == nil)
}

// ack sends +CNMA (positive) or +CNMA=2 (RP-ERROR) with priority over
// queued commands, so the ack does not wait behind a row of +CMGS.
func (d *dispatcher) ack(ctx context.Context, ok bool) error {
	cmd := "AT+CNMA"
	if !ok {
		cmd = "AT+CNMA=2"
	}
	_, err := d.e.exec(ctx, cmd, cmdOpts{prio: true})
	var cms *CMSError
	switch {
	case err == nil:
		return nil
	case fatal(ctx, err):
		return err
	case errors.As(err, &cms) && cms.Code == CMSNoCNMAExpected:
		return nil // the modem acknowledged itself (+CSMS service 0)
	}
	d.m.log.Warn("+CNMA failed", "err", err)
	if d.m.cfg.Delivery == DeliveryAuto && d.delivery == DeliveryDirect {
		// The modem routes +CMT but cannot take the ack: stored delivery
		// is the only safe mode left.
		d.m.log.Warn("modem does not accept +CNMA, switching to stored delivery")
		d.delivery = DeliveryStored
		d.m.mu.Lock()
		d.m.delivery, d.m.health.Delivery = DeliveryStored, DeliveryStored
		d.m.mu.Unlock()
		if err := d.m.setCNMI(ctx, d.e, DeliveryStored); err != nil && fatal(ctx, err) {
			return err
		}
	}
	return nil
}

func (d *dispatcher) directReport(ctx context.Context, u indication) error {
	sms, err := parsePDU(u.PDU)
	if err != nil {
		d.m.log.Warn("undecodable +CDS dropped", "err", err)
	} else {
		d.report(sms.TPDU, u.At)
	}
	return d.ack(ctx, true)
}

// report decodes a status report (TS 23.040 §9.2.2.3) and offers it on
// the reports channel; an undecodable one is logged and dropped.
func (d *dispatcher) report(tpdu []byte, at time.Time) {
	sr, err := atpdu.DecodeStatusReport(tpdu)
	if err != nil {
		d.m.log.Warn("undecodable status report dropped", "err", err)
		return
	}
	r := StatusReport{TPDU: tpdu, Report: sr, Received: at}
	select {
	case d.m.reports <- r:
	default:
		d.m.log.Warn("status report dropped: nobody reads them")
	}
}

// stored handles +CMTI/+CDSI: read, hand off, then delete.
func (d *dispatcher) stored(ctx context.Context, u indication, report bool) error {
	mem, idx, err := parseStoredIndication(u.Line)
	if err != nil {
		d.m.log.Warn("bad indication", "line", u.Line, "err", err)
		return nil
	}
	if !strings.EqualFold(mem, d.m.cfg.Storage) {
		// +CMGR reads mem1 only; select it for this read.
		d.m.log.Info("SMS stored in another storage, sweeping it", "storage", mem)
		return d.sweepStorage(ctx, mem, "indication")
	}
	lines, err := d.e.exec(ctx, "AT+CMGR="+strconv.Itoa(idx), cmdOpts{prefixes: []string{"+CMGR:"}, strict: true})
	var cms *CMSError
	switch {
	case err == nil:
	case fatal(ctx, err):
		return err
	case errors.As(err, &cms) && cms.Code == CMSInvalidIndex:
		return nil // already taken by a sweep
	default:
		d.m.log.Warn("read stored SMS failed", "index", idx, "err", err)
		return nil // left in storage for the next sweep
	}
	msgs := parseListing(lines, "+CMGR:", idx)
	if len(msgs) == 0 {
		return nil // empty slot: already handled
	}
	msg := msgs[0]
	msg.sms.Storage, msg.sms.Received = mem, u.At
	if report {
		d.report(msg.sms.TPDU, u.At)
		return d.delete(ctx, idx)
	}
	return d.handOff(ctx, msg)
}

func (d *dispatcher) handOff(ctx context.Context, msg stored) error {
	if msg.stat > 1 {
		return nil // stored MO message (unsent/sent): not ours
	}
	// A received message is an SMS-DELIVER or, on modems that store them
	// beside SMS, an SMS-STATUS-REPORT (TS 23.040 §9.2.3.1 TP-MTI).
	if t, err := atpdu.TypeOf(msg.sms.TPDU); err == nil && t == atpdu.TypeStatusReport {
		d.report(msg.sms.TPDU, msg.sms.Received)
		return d.delete(ctx, msg.sms.Index)
	}
	if err := d.m.cfg.HandleSMS(ctx, msg.sms); err != nil {
		d.m.log.Warn("SMS handler failed, SMS kept in storage", "index", msg.sms.Index, "err", err)
		return nil
	}
	return d.delete(ctx, msg.sms.Index)
}

func (d *dispatcher) delete(ctx context.Context, idx int) error {
	_, err := d.e.exec(ctx, "AT+CMGD="+strconv.Itoa(idx), cmdOpts{})
	if err != nil {
		if fatal(ctx, err) {
			return err
		}
		// Kept: handed off again by the next sweep (a documented duplicate).
		d.m.log.Warn("delete of handed-off SMS failed", "index", idx, "err", err)
	}
	return nil
}

// sweep hands off and deletes every received SMS in the configured
// storage (+CMGL=4, TS 27.005 §3.4.2).
func (d *dispatcher) sweep(ctx context.Context, why string) error {
	return d.sweepStorage(ctx, d.m.cfg.Storage, why)
}

func (d *dispatcher) sweepStorage(ctx context.Context, mem string, why string) error {
	other := !strings.EqualFold(mem, d.m.cfg.Storage)
	if other {
		// +CMGL/+CMGR/+CMGD work on <mem1> (TS 27.005 §3.2.2).
		if _, err := d.e.exec(ctx, "AT+CPMS="+quote(mem), cmdOpts{prefixes: []string{"+CPMS:"}}); err != nil {
			if fatal(ctx, err) {
				return err
			}
			d.m.log.Warn("select storage failed", "storage", mem, "err", err)
			return nil
		}
	}
	swept, err := d.sweepSelected(ctx, mem, why)
	if err != nil {
		return err
	}
	if other {
		st := quote(d.m.cfg.Storage)
		if _, err := d.e.exec(ctx, "AT+CPMS="+st+","+st+","+st, cmdOpts{prefixes: []string{"+CPMS:"}}); err != nil && fatal(ctx, err) {
			return err
		}
	}
	if swept {
		d.m.setSwept()
	}
	return nil
}

// sweepSelected lists the selected storage and hands off what it holds;
// swept is false when the listing failed (left for the next sweep).
func (d *dispatcher) sweepSelected(ctx context.Context, mem string, why string) (swept bool, err error) {
	lines, err := d.e.exec(ctx, "AT+CMGL=4", cmdOpts{prefixes: []string{"+CMGL:"}, strict: true})
	if err != nil {
		if fatal(ctx, err) {
			return false, err
		}
		d.m.log.Warn("sweep failed", "reason", why, "storage", mem, "err", err)
		return false, nil
	}
	msgs := parseListing(lines, "+CMGL:", -1)
	d.m.log.Debug("sweep", "reason", why, "storage", mem, "count", len(msgs))
	for _, msg := range msgs {
		msg.sms.Storage, msg.sms.Received = mem, d.m.clock.Now()
		if err := d.handOff(ctx, msg); err != nil {
			return false, err
		}
	}
	return true, nil
}

type stored struct {
	stat int
	sms  SMS
}

// parseListing reads +CMGL/+CMGR answers: a header line
// "+CMGL: <index>,<stat>,[<alpha>],<length>" (or "+CMGR: <stat>,[<alpha>],<length>")
// followed by the PDU line (TS 27.005 §4.1, §4.2). Malformed entries are skipped.
func parseListing(lines []string, prefix string, index int) []stored {
	var out []stored
	for i := 0; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(lines[i], prefix)
		if !ok || i+1 >= len(lines) {
			continue
		}
		f := strings.Split(strings.TrimSpace(rest), ",")
		idx := index
		if prefix == "+CMGL:" {
			if len(f) < 2 {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(f[0]))
			if err != nil {
				continue
			}
			idx, f = n, f[1:]
		}
		stat, err := strconv.Atoi(strings.TrimSpace(f[0]))
		if err != nil {
			continue
		}
		sms, err := parsePDU(lines[i+1])
		i++
		if err != nil {
			continue
		}
		sms.Index = idx
		out = append(out, stored{stat: stat, sms: sms})
	}
	return out
}

// parsePDU splits the hex PDU line into SMSC address and TPDU (TS 27.005
// §3.1 <pdu>).
func parsePDU(h string) (SMS, error) {
	b, err := hex.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return SMS{}, fmt.Errorf("PDU hex: %w", err)
	}
	smsc, tpdu, err := atpdu.SplitSMSC(b)
	if err != nil {
		return SMS{}, err
	}
	if len(tpdu) == 0 {
		return SMS{}, errors.New("PDU without TPDU")
	}
	return SMS{SMSC: smsc, TPDU: tpdu}, nil
}

// parseStoredIndication parses `+CMTI: "SM",3` (TS 27.005 §3.4.1).
func parseStoredIndication(line string) (string, int, error) {
	_, rest, _ := strings.Cut(line, ":")
	f := strings.Split(rest, ",")
	if len(f) < 2 {
		return "", 0, errors.New("want <mem>,<index>")
	}
	idx, err := strconv.Atoi(strings.TrimSpace(f[len(f)-1]))
	if err != nil {
		return "", 0, fmt.Errorf("index: %w", err)
	}
	return strings.Trim(strings.TrimSpace(f[0]), `"`), idx, nil
}

// Send retry backoff after a transient +CMS ERROR.
const (
	sendRetryMin = 2 * time.Second
	sendRetryMax = 30 * time.Second
)

// SendSMS submits one SMS-SUBMIT TPDU (no SMSC: "00" is prefixed, meaning
// the SIM's SMSC) with +CMGS=<TPDU length> (TS 27.005 §3.5.1) and returns
// the message reference TP-MR. A transient +CMS ERROR, or a link failure
// or timeout before the PDU was written, is retried with backoff within
// ctx; a permanent +CMS ERROR is returned as *CMSError. If the link fails
// or the answer does not come after the PDU was written, ErrSendUncertain
// is returned and nothing is resent: the SMS may have left, and a resend
// could deliver it twice.
func (m *Modem) SendSMS(ctx context.Context, tpdu []byte) (int, error) {
	if len(tpdu) == 0 || len(tpdu) > 164 {
		return 0, fmt.Errorf("modem: send SMS: TPDU length %d out of range", len(tpdu))
	}
	pdu := append([]byte{0x00}, tpdu...)
	cmd := "AT+CMGS=" + strconv.Itoa(len(tpdu))
	b := backoff{min: m.sendRetry.min, max: m.sendRetry.max}
	for attempt := 1; ; attempt++ {
		lines, err := m.do(ctx, cmd, cmdOpts{prefixes: []string{"+CMGS:"}, strict: true, pdu: pdu})
		if err == nil {
			for _, l := range lines {
				if v, ok := strings.CutPrefix(l, "+CMGS:"); ok {
					f, _, _ := strings.Cut(strings.TrimSpace(v), ",")
					mr, perr := strconv.Atoi(f)
					if perr != nil {
						return 0, fmt.Errorf("modem: send SMS: bad answer %q", l)
					}
					return mr, nil
				}
			}
			return 0, errors.New("modem: send SMS: no +CMGS answer")
		}
		var cms *CMSError
		retry := false
		switch {
		case errors.Is(err, ErrSendUncertain):
		case errors.As(err, &cms):
			retry = cms.Transient()
		case errors.Is(err, ErrLinkDown), errors.Is(err, ErrTimeout) && ctx.Err() == nil:
			// The link failed, or the modem gave no prompt within the
			// command's deadline: the PDU never left, so resending
			// cannot duplicate it.
			retry = true
		}
		if !retry || ctx.Err() != nil {
			return 0, fmt.Errorf("modem: send SMS (attempt %d): %w", attempt, err)
		}
		delay := b.delay()
		if errors.Is(err, ErrLinkDown) {
			delay = 0 // m.do waits for the link to come back
		}
		m.log.Info("SMS submission failed, retrying", "attempt", attempt, "err", err, "retry_in", delay.String())
		if delay > 0 {
			select {
			case <-m.clock.After(delay):
			case <-ctx.Done():
				return 0, fmt.Errorf("modem: send SMS (attempt %d): %w", attempt, errors.Join(err, context.Cause(ctx)))
			}
		}
	}
}
