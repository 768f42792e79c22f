package sim

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	emumodem "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Options are the emulated card's behaviours beyond its profile.
type Options struct {
	// CounterFile persists the counters (JSON); empty keeps them in
	// memory only.
	CounterFile string
	// Submit, when set, is the "modem handles the toolkit" variant: the
	// SMS the application sends go straight to it (the emulated modem's
	// SubmitFromSIM) instead of being raised as SEND SHORT MESSAGE with
	// 91xx for the host to fetch. It is called after Transmit's state
	// changes are done and the card's lock is released.
	Submit func(tpdu []byte) error
	// T0 answers case-4 commands (SELECT, ENVELOPE) with 61xx, as a T=0
	// card does, so that the host must GET RESPONSE.
	T0 bool
	// Policy is the LwM2M policy applied to received packets (zero value:
	// the default TAR ranges).
	Policy sp.Policy
	// MaxInbox bounds the CoAP messages waiting for GET DATA (default 16);
	// the oldest is dropped beyond it.
	MaxInbox int
	// Logger receives the card's logs (component=sim); nil discards.
	Logger *slog.Logger
	// OnDownload, when set, learns the outcome of every SMS-PP download
	// of a complete secured packet (accepted or dropped), after the card's
	// lock is released: tests wait on it instead of sleeping.
	OnDownload func(accepted bool)
}

// Stats count what the LwM2M application did.
type Stats struct {
	Accepted int // command packets accepted and queued for GET DATA
	Dropped  int // packets dropped (bad CC, replay, wrong TAR/algorithm, malformed)
	Sent     int // SMS the application sent (after STORE DATA)
}

// Card is an emulated UICC with the LwM2M UICC application. Safe for
// concurrent use: the emulated modem calls Transmit from its AT goroutine and
// DownloadSMS from its network side.
type Card struct {
	profile Profile      // immutable
	header  sp.Header    // the application's SPI/KIc/KID/TAR, immutable
	keys    sp.Keys      // immutable
	opts    Options      // immutable
	log     *slog.Logger // non-nil

	mu        sync.Mutex // guards everything below
	ctr       counters
	open      [4]bool // logical channels; 0 is always open
	selected  [4]bool // the LwM2M application is selected on the channel
	asm       sp.Assembler
	inbox     []uicc.Record // CoAP messages for GET DATA, oldest first
	proactive [][]byte      // encoded proactive commands, oldest first
	fetched   bool          // proactive[0] was fetched and awaits TERMINAL RESPONSE
	cmdNumber byte          // last proactive command number
	pending   []byte        // response data awaiting GET RESPONSE (T=0)
	store     []byte        // STORE DATA blocks received so far
	storeNext int           // next expected STORE DATA block number
	ref       byte          // concatenation reference of the last SMS sent
	stats     Stats
}

// maxStore bounds a STORE DATA chain (a CoAP message over SMS is far
// smaller).
const maxStore = 4096

// New builds a card from a profile.
func New(p Profile, opts Options) (*Card, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	ctr, err := loadCounters(opts.CounterFile, p.Counter)
	if err != nil {
		return nil, err
	}
	if opts.MaxInbox <= 0 {
		opts.MaxInbox = 16
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Card{profile: p, header: p.header(), keys: p.keys(), opts: opts, ctr: ctr,
		log: log.With("component", "sim")}
	c.open[0] = true
	return c, nil
}

// Load reads a profile file and builds the card.
func Load(path string, opts Options) (*Card, error) {
	p, err := LoadProfile(path)
	if err != nil {
		return nil, err
	}
	return New(p, opts)
}

// ICCID is the card's ICCID (AT+CCID).
func (c *Card) ICCID() string { return c.profile.ICCID }

// IMSI is the subscriber identity (AT+CIMI).
func (c *Card) IMSI() string { return c.profile.IMSI }

// Stats returns the application's counts so far.
func (c *Card) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Counters returns the last counter accepted from the server and the last
// one sent.
func (c *Card) Counters() (received, sent uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctr.Received, c.ctr.Sent
}

// DownloadSMS is the ENVELOPE (SMS-PP DOWNLOAD) a modem performs for a
// class-2 / PID-0x7F SMS-DELIVER (TS 31.111 §7.1.1). It reports false only
// for a TPDU that is no data download at all; a secured packet that fails
// a check is consumed and dropped without a trace (LwM2M-TS 1.0
// §7.2.2.2.1).
func (c *Card) DownloadSMS(tpdu []byte) bool {
	c.mu.Lock()
	before := c.stats
	_, out, ok := c.download(tpdu)
	after := c.stats
	c.mu.Unlock()
	c.submit(out)
	c.notify(before, after)
	return ok
}

// submit hands SMS to the modem ("modem handles the toolkit"), outside the
// card's lock: the network may call back into modems and cards.
func (c *Card) submit(tpdus [][]byte) {
	for _, tpdu := range tpdus {
		if err := c.opts.Submit(tpdu); err != nil {
			c.log.Warn("toolkit submit failed", "err", err)
		}
	}
}

// emit sends SMS the application built: returned for submit when the
// modem handles the toolkit, else queued as SEND SHORT MESSAGE proactive
// commands (announced with 91xx).
func (c *Card) emit(tpdus [][]byte) ([][]byte, error) {
	if c.opts.Submit != nil {
		return tpdus, nil
	}
	for _, tpdu := range tpdus {
		c.cmdNumber++
		pc, err := uicc.NewSendShortMessage(c.cmdNumber, nil, tpdu).Append(nil)
		if err != nil {
			return nil, err
		}
		c.proactive = append(c.proactive, pc)
	}
	return nil, nil
}

// notify tells OnDownload what a download did.
func (c *Card) notify(before, after Stats) {
	if c.opts.OnDownload == nil {
		return
	}
	switch {
	case after.Accepted > before.Accepted:
		c.opts.OnDownload(true)
	case after.Dropped > before.Dropped:
		c.opts.OnDownload(false)
	}
}

// Reset is a card reset, as when the modem reboots (TS 102 221 §6.2: the
// card is deactivated and activated again). Volatile state goes: the
// logical channels other than the basic one close (TS 102 221 §11.1.17),
// no application stays selected, and a half-received STORE DATA chain and
// a pending GET RESPONSE are lost. What a real card keeps in NVM stays: the
// replay counters, the CoAP messages waiting for GET DATA, the parts of a
// concatenated command packet received so far, and the proactive commands
// waiting to be fetched (offered again, even one fetched before the
// reset).
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.open {
		c.open[ch] = ch == 0
		c.selected[ch] = false
	}
	c.pending = nil
	c.store, c.storeNext = nil, 0
	c.fetched = false
	c.log.Info("card reset", "pending_get_data", len(c.inbox))
}

// Transmit executes one command APDU and returns the response APDU.
func (c *Card) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	before := c.stats
	rsp, out := c.transmit(apdu)
	after := c.stats
	c.mu.Unlock()
	c.submit(out)
	c.notify(before, after)
	return rsp.Append(nil)
}

func sw(s uicc.StatusWord) uicc.Response { return uicc.Response{SW: s} }

func (c *Card) transmit(apdu []byte) (uicc.Response, [][]byte) {
	cmd, err := uicc.DecodeCommand(apdu)
	if err != nil {
		return sw(uicc.SWWrongLength), nil
	}
	if cmd.INS != uicc.InsGetResponse {
		c.pending = nil
	}
	ch := uicc.ChannelOf(cmd.CLA)
	if ch >= len(c.open) || !c.open[ch] {
		return sw(uicc.SWChannelRefused), nil
	}
	rsp, out := c.dispatch(cmd, ch)
	// TS 102 221 §14.7.1: a pending proactive command turns 9000 into 91xx.
	if rsp.SW == uicc.SWOK && len(c.proactive) > 0 && !c.fetched {
		rsp.SW = 0x9100 | uicc.StatusWord(byte(len(c.proactive[0])))
	}
	return rsp, out
}

func (c *Card) dispatch(cmd uicc.Command, ch int) (uicc.Response, [][]byte) {
	switch cmd.INS {
	case uicc.InsManageChannel:
		return c.manageChannel(cmd), nil
	case uicc.InsSelect:
		return c.selectApp(cmd, ch), nil
	case uicc.InsGetResponse:
		return c.getResponse(cmd), nil
	case uicc.InsGetData:
		return c.getData(cmd, ch), nil
	case uicc.InsStoreData:
		return c.storeData(cmd, ch)
	case uicc.InsEnvelope:
		return c.envelope(cmd)
	case uicc.InsFetch:
		return c.fetch(cmd), nil
	case uicc.InsTerminalResponse:
		return c.terminalResponse(cmd), nil
	case uicc.InsTerminalProfile, uicc.InsStatus:
		return sw(uicc.SWOK), nil
	}
	return sw(uicc.SWINSNotSupported), nil
}

// manageChannel opens (P1 00) or closes (P1 80) a logical channel, TS 102
// 221 §11.1.17.
func (c *Card) manageChannel(cmd uicc.Command) uicc.Response {
	switch cmd.P1 {
	case 0x00:
		for ch := 1; ch < len(c.open); ch++ {
			if !c.open[ch] {
				c.open[ch] = true
				c.selected[ch] = false
				return uicc.Response{Data: []byte{byte(ch)}, SW: uicc.SWOK}
			}
		}
		return sw(0x6A81) // no channel left
	case 0x80:
		ch := int(cmd.P2)
		if ch < 1 || ch >= len(c.open) || !c.open[ch] {
			return sw(uicc.SWIncorrectP1P2)
		}
		c.open[ch], c.selected[ch] = false, false
		return sw(uicc.SWOK)
	}
	return sw(uicc.SWIncorrectP1P2)
}

// selectApp handles SELECT by DF name of the LwM2M application, and of the
// MF (3F00) so that ordinary tools work.
func (c *Card) selectApp(cmd uicc.Command, ch int) uicc.Response {
	switch {
	case cmd.P1 == 0x04 && bytes.Equal(cmd.Data, c.profile.AID):
		c.selected[ch] = true
		if cmd.P2&0x0C == 0x0C {
			return sw(uicc.SWOK) // no data requested
		}
		// A minimal FCP template (TS 102 221 §11.1.1.3): descriptor of an
		// ADF and its DF name.
		fcp := []byte{0x82, 0x02, 0x78, 0x21, 0x84, byte(len(c.profile.AID))}
		fcp = append(fcp, c.profile.AID...)
		fcp = append([]byte{0x62, byte(len(fcp))}, fcp...)
		return c.withData(fcp, cmd.Ne)
	case cmd.P1 == 0x00 && bytes.Equal(cmd.Data, []byte{0x3F, 0x00}):
		c.selected[ch] = false
		return sw(uicc.SWOK)
	}
	return sw(uicc.SWFileNotFound)
}

// withData answers a case-4 command: directly, or with 61xx under T=0.
func (c *Card) withData(data []byte, ne int) uicc.Response {
	if c.opts.T0 || len(data) > ne {
		c.pending = data
		return sw(0x6100 | uicc.StatusWord(byte(min(len(data), 256))))
	}
	return uicc.Response{Data: data, SW: uicc.SWOK}
}

func (c *Card) getResponse(cmd uicc.Command) uicc.Response {
	if c.pending == nil {
		return sw(uicc.SWNoDiagnosis)
	}
	n := min(cmd.Ne, len(c.pending))
	data := c.pending[:n]
	rest := c.pending[n:]
	c.pending = nil
	if len(rest) > 0 {
		c.pending = rest
		return uicc.Response{Data: data, SW: 0x6100 | uicc.StatusWord(byte(min(len(rest), 256)))}
	}
	return uicc.Response{Data: data, SW: uicc.SWOK}
}

// getData returns the oldest CoAP message as a data_rcv record
// (secured-packet.md §10: P1 P2 = 00 COAP_TAG, 6A88 when nothing is
// pending, 6Cxx when Le is too short).
func (c *Card) getData(cmd uicc.Command, ch int) uicc.Response {
	if !c.selected[ch] {
		if ch == 0 {
			// Nothing selected on the basic channel (after a card
			// reset): the command goes to the card's default
			// application, the Issuer Security Domain on a
			// GlobalPlatform UICC, which does not know the tag and
			// answers "referenced data not found" (GP Card Spec v2.3
			// §11.3.3) — the same status word as "nothing pending".
			return sw(uicc.SWNotFound)
		}
		return sw(uicc.SWConditions)
	}
	if cmd.P1 != 0x00 || cmd.P2 != uicc.DefaultCoAPTag || len(c.inbox) == 0 {
		return sw(uicc.SWNotFound)
	}
	rec, err := uicc.AppendRecord(nil, c.inbox[0], uicc.DefaultCoAPTag)
	if err != nil {
		return sw(uicc.SWNoDiagnosis)
	}
	if len(rec) <= 256 && cmd.Ne < len(rec) {
		return sw(0x6C00 | uicc.StatusWord(byte(len(rec))))
	}
	c.inbox = c.inbox[1:]
	if len(rec) > 256 {
		c.pending = rec[256:]
		return uicc.Response{Data: rec[:256], SW: 0x6100 | uicc.StatusWord(byte(min(len(rec)-256, 256)))}
	}
	return uicc.Response{Data: rec, SW: uicc.SWOK}
}

// storeData collects STORE DATA blocks (GP Card Spec v2.3 §11.11: P2 block
// number, P1 b8 last block) and sends the message on the last one.
func (c *Card) storeData(cmd uicc.Command, ch int) (uicc.Response, [][]byte) {
	if !c.selected[ch] {
		return sw(uicc.SWConditions), nil
	}
	if int(cmd.P2) != c.storeNext {
		c.store, c.storeNext = nil, 0
		return sw(uicc.SWIncorrectP1P2), nil
	}
	if len(c.store)+len(cmd.Data) > maxStore {
		c.store, c.storeNext = nil, 0
		return sw(uicc.SWNotEnoughMemory), nil
	}
	c.store = append(c.store, cmd.Data...)
	c.storeNext++
	if cmd.P1&0x80 == 0 {
		return sw(uicc.SWOK), nil
	}
	data := c.store
	c.store, c.storeNext = nil, 0
	tpdus, status := c.send(data)
	if status != uicc.SWOK {
		return sw(status), nil
	}
	out, err := c.emit(tpdus)
	if err != nil {
		return sw(uicc.SWNoDiagnosis), nil
	}
	return sw(uicc.SWOK), out
}

// send builds the secured SMS for a STORE DATA record: TP-DA ‖ CoAP
// (LwM2M-TS 1.0 §7.2.2.2.2) → BER-TLV secured data → command packet with
// the next counter → one SMS-SUBMIT per part, class 2, PID 0x7F.
func (c *Card) send(data []byte) ([][]byte, uicc.StatusWord) {
	rec, err := uicc.DecodeRecord(data, uicc.DefaultCoAPTag)
	if err != nil {
		c.log.Warn("store data: not a record", "err", err)
		return nil, uicc.SWIncorrectData
	}
	da, err := addressOf(rec.Address)
	if err != nil {
		c.log.Warn("store data: bad TP-DA", "err", err)
		return nil, uicc.SWIncorrectData
	}
	sd, err := sp.AppendCoAP(nil, rec.Message)
	if err != nil {
		return nil, uicc.SWIncorrectData
	}
	next := c.ctr
	if next.Sent >= sp.MaxCounter {
		c.log.Error("send counter exhausted")
		return nil, uicc.SWConditions
	}
	next.Sent++
	pkt, err := sp.SealCommand(nil, sp.Command{Header: c.header, Counter: next.Sent, Data: sd}, c.keys)
	if err != nil {
		c.log.Error("seal command packet", "err", err)
		return nil, uicc.SWNoDiagnosis
	}
	c.ref++
	parts, err := sp.SplitCommand(pkt, c.ref)
	if err != nil {
		return nil, uicc.SWNotEnoughMemory
	}
	var tpdus [][]byte
	for _, part := range parts {
		u, err := sp.DecodeUserData(part)
		if err != nil {
			return nil, uicc.SWNoDiagnosis
		}
		s := atpdu.Submit{DA: da, PID: atpdu.PIDUSIMDataDownload, DCS: dcsClass2Binary, UDH: toUDH(u.IEs), UD: u.Payload}
		tpdu, err := s.Append(nil)
		if err != nil {
			c.log.Error("build SMS-SUBMIT", "err", err)
			return nil, uicc.SWNoDiagnosis
		}
		tpdus = append(tpdus, tpdu)
	}
	// The counter is on disk before any SMS leaves with it.
	if err := next.save(c.opts.CounterFile); err != nil {
		c.log.Error("persist counters", "err", err)
		return nil, uicc.SWMemory
	}
	c.ctr = next
	c.stats.Sent++
	c.log.Info("coap message secured for sending", "msisdn", da.String(), "counter", next.Sent, "parts", len(tpdus))
	return tpdus, uicc.SWOK
}

// dcsClass2Binary is DCS F6: 8-bit data, class 2 (secured-packet.md §9).
const dcsClass2Binary atpdu.DCS = 0xF6

// envelope handles ENVELOPE; only SMS-PP DOWNLOAD is known.
func (c *Card) envelope(cmd uicc.Command) (uicc.Response, [][]byte) {
	d, err := uicc.DecodeSMSPPDownload(cmd.Data)
	if err != nil {
		return sw(uicc.SWIncorrectData), nil
	}
	por, out, ok := c.download(d.TPDU)
	if !ok {
		return sw(0x6F00), nil // TS 31.111 §7.1.1.1: data download error
	}
	if por == nil {
		return sw(uicc.SWOK), out
	}
	return c.withData(por, cmd.Ne), out
}

// download runs the LwM2M application on one SMS-DELIVER: reassemble,
// decode, check TAR, algorithms and policy, decipher/verify/counter (in
// securedpacket's order), persist the counter, queue the CoAP message. It
// returns the PoR to put in the SMS-DELIVER-REPORT (when the SPI asks for
// one on success, TS 31.115 §5 SPI2 b6 = 0), the SMS to submit (a PoR by
// SMS-SUBMIT, b6 = 1, when the modem handles the toolkit), and whether the
// TPDU was a data download at all.
func (c *Card) download(tpdu []byte) (por []byte, out [][]byte, ok bool) {
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		c.log.Warn("sms-pp download: not an SMS-DELIVER", "err", err)
		return nil, nil, false
	}
	if !d.SIMDataDownload() {
		return nil, nil, false
	}
	from := d.OA.String()
	drop := func(reason string, err error) ([]byte, [][]byte, bool) {
		c.stats.Dropped++
		c.log.Info("secured packet dropped", "reason", reason, "msisdn", from, "err", err)
		return nil, nil, true
	}
	pkt, done, err := c.asm.Add(from, sp.UserData{IEs: fromUDH(d.UDH), Payload: d.UD})
	if err != nil {
		return drop("not a command packet", err)
	}
	if !done {
		return nil, nil, true
	}
	p, err := sp.DecodeCommandPacket(pkt)
	if err != nil {
		return drop("malformed command packet", err)
	}
	if p.TAR != c.header.TAR {
		return drop("wrong TAR", fmt.Errorf("TAR %s", p.TAR))
	}
	if p.KIc != c.header.KIc || p.KID != c.header.KID {
		return drop("wrong algorithm or key set", fmt.Errorf("KIc %02x KID %02x", byte(p.KIc), byte(p.KID)))
	}
	if err := c.opts.Policy.Check(p.Header, &c.keys); err != nil {
		return drop("lwm2m policy", err)
	}
	cmd, err := p.Open(c.keys, c.ctr.Received)
	if err != nil {
		reason := "security check failed"
		switch {
		case errors.Is(err, sp.ErrChecksum):
			reason = "bad cryptographic checksum"
		case errors.Is(err, sp.ErrCounterLow), errors.Is(err, sp.ErrCounterHigh), errors.Is(err, sp.ErrCounterBlocked):
			reason = "replay or counter out of range"
		}
		return drop(reason, err)
	}
	coap, err := sp.DecodeCoAP(cmd.Data)
	if err != nil {
		return drop("secured data is not CoAP", err)
	}
	addr, err := fieldOf(d.OA)
	if err != nil {
		return drop("originating address", err)
	}
	next := c.ctr
	next.Received = cmd.Counter
	if err := next.save(c.opts.CounterFile); err != nil {
		// Without the counter on disk a replay could pass after a
		// restart: fail closed.
		return drop("cannot persist counter", err)
	}
	c.ctr = next
	if len(c.inbox) >= c.opts.MaxInbox {
		c.log.Warn("inbox full, oldest coap message dropped")
		c.inbox = c.inbox[1:]
	}
	c.inbox = append(c.inbox, uicc.Record{Address: addr, Message: coap})
	c.stats.Accepted++
	c.log.Info("secured packet accepted", "msisdn", from, "counter", cmd.Counter, "len", len(coap))
	if p.SPI.PoR != sp.PoRRequired {
		// PoR "on error" is never sent: LwM2M drops failures silently.
		return nil, nil, true
	}
	r, err := sp.SealResponse(nil, sp.Response{TAR: p.TAR, Counter: cmd.Counter, Status: sp.StatusOK}, p.Header, c.keys)
	if err != nil {
		c.log.Warn("PoR not built", "err", err)
		return nil, nil, true
	}
	ud := sp.AppendResponseUserData(nil, r)
	if !p.SPI.PoRSubmit {
		return ud, nil, true
	}
	// The PoR in its own SMS-SUBMIT back to the sender (TS 31.115 §5).
	u, err := sp.DecodeUserData(ud)
	if err != nil {
		return nil, nil, true
	}
	s := atpdu.Submit{DA: d.OA, PID: atpdu.PIDUSIMDataDownload, DCS: dcsClass2Binary, UDH: toUDH(u.IEs), UD: u.Payload}
	sub, err := s.Append(nil)
	if err != nil {
		c.log.Warn("PoR SMS-SUBMIT not built", "err", err)
		return nil, nil, true
	}
	out, err = c.emit([][]byte{sub})
	if err != nil {
		c.log.Warn("PoR not queued", "err", err)
	}
	return nil, out, true
}

// fetch returns the oldest proactive command (TS 102 221 §10.1.2 FETCH).
func (c *Card) fetch(cmd uicc.Command) uicc.Response {
	if len(c.proactive) == 0 {
		return sw(uicc.SWConditions)
	}
	pc := c.proactive[0]
	if cmd.Ne < len(pc) {
		return sw(0x6C00 | uicc.StatusWord(byte(len(pc))))
	}
	c.fetched = true
	return uicc.Response{Data: pc, SW: uicc.SWOK}
}

// terminalResponse closes the fetched proactive command.
func (c *Card) terminalResponse(cmd uicc.Command) uicc.Response {
	if !c.fetched {
		return sw(uicc.SWConditions)
	}
	tr, err := uicc.DecodeTerminalResponse(cmd.Data)
	if err != nil {
		return sw(uicc.SWIncorrectData)
	}
	c.fetched = false
	c.proactive = c.proactive[1:]
	if tr.Result != uicc.ResultOK {
		c.log.Warn("terminal reports the proactive command failed", "result", tr.Result)
	}
	return sw(uicc.SWOK)
}

// The emulated modem's +CSIM, AT+CCID/AT+CIMI and SMS-PP download reach
// the card through this interface.
var _ emumodem.SIM = (*Card)(nil)
