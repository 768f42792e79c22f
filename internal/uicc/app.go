package uicc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultAID is the AID of the LwM2M UICC application. None is registered
// anywhere; this is the PROJECT DEFAULT placeholder of secured-packet.md §10
// ("F" proprietary RID + "LWM2M" in ASCII), the same as
// config.DefaultUICCAID. Replace it with the card vendor's AID.
var DefaultAID = []byte{0xF0, 0x4C, 0x57, 0x4D, 0x32, 0x4D}

// Project defaults for the application's APDUs (secured-packet.md §10).
const (
	// DefaultStoreBlock is the largest STORE DATA block (short Lc).
	DefaultStoreBlock = 255
	// storeDataLast is STORE DATA P1 b8 "last block"; storeDataBERTLV is
	// b5 b4 = 10 "BER-TLV" (GP Card Spec v2.3 §11.11.2.1, PROJECT DEFAULT
	// 0x90 for the last block).
	storeDataLast   = 0x80
	storeDataBERTLV = 0x10
	// maxProactive bounds the FETCH / TERMINAL RESPONSE rounds after one
	// command, so that a card that keeps announcing commands cannot hang
	// the caller.
	maxProactive = 8
)

// SMSSender submits an SMS-SUBMIT TPDU (without SMSC prefix) to the
// network; the daemon passes the modem driver's SendSMS. It serves the
// proactive SEND SHORT MESSAGE.
type SMSSender func(ctx context.Context, tpdu []byte) error

// ErrNoSender: the card asked for SEND SHORT MESSAGE and no SMSSender was
// configured (the terminal response says so to the card too).
var ErrNoSender = errors.New("uicc: no SMS sender for SEND SHORT MESSAGE")

// Config configures the application client. The zero value uses the
// project defaults on the basic channel.
type Config struct {
	// AID selects the LwM2M UICC application (default DefaultAID).
	AID []byte
	// CoAPTag is data_rcv's COAP_TAG (default DefaultCoAPTag).
	CoAPTag byte
	// LogicalChannel opens a logical channel for the application instead
	// of selecting it on the basic channel. Many modems accept only the
	// basic channel through AT+CSIM (sms-pdu.md §12), hence the default.
	LogicalChannel bool
	// StoreBlock is the largest STORE DATA block (default and maximum
	// DefaultStoreBlock).
	StoreBlock int
}

// Option configures an App.
type Option func(*App)

// WithLogger sets the logger (default: no logging). The App adds
// component=uicc.
func WithLogger(l *slog.Logger) Option { return func(a *App) { a.log = l } }

// App is the client of the LwM2M UICC application (LwM2M-TS 1.0
// §7.2.2.2): GET DATA for CoAP messages the card received, STORE DATA for
// those it must send, ENVELOPE SMS-PP DOWNLOAD when the SMS reached the
// host instead of the card, and the proactive commands that follow. Its
// methods are safe for concurrent use; each runs its APDU sequence alone.
// Health reports how the card answered, without waiting for a sequence.
type App struct {
	card *Card            // non-nil; its transport records answers in health
	cfg  Config           // copied at construction, defaults applied
	send SMSSender        // may be nil
	log  *slog.Logger     // non-nil
	now  func() time.Time // non-nil: the health timestamps' clock

	mu       sync.Mutex // serialises APDU sequences; guards the fields below
	channel  int        // logical channel of the application, 0 = basic
	selected bool       // the application is selected on channel

	// hmu guards health. It is taken alone (or inside mu, never the other
	// way round) and never across an APDU, so Health never blocks on the
	// card.
	hmu    sync.Mutex
	health health
}

// New returns an App on t. send serves SEND SHORT MESSAGE (nil: refused).
func New(t Transport, cfg Config, send SMSSender, opts ...Option) (*App, error) {
	if t == nil {
		return nil, errors.New("uicc: nil transport")
	}
	if len(cfg.AID) == 0 {
		cfg.AID = DefaultAID
	}
	if len(cfg.AID) < 5 || len(cfg.AID) > 16 {
		return nil, fmt.Errorf("uicc: AID %x: want 5 to 16 octets (ISO/IEC 7816-4 §8.2.1.2)", cfg.AID)
	}
	cfg.AID = append([]byte(nil), cfg.AID...)
	if cfg.CoAPTag == 0 {
		cfg.CoAPTag = DefaultCoAPTag
	}
	if cfg.StoreBlock <= 0 || cfg.StoreBlock > DefaultStoreBlock {
		cfg.StoreBlock = DefaultStoreBlock
	}
	a := &App{cfg: cfg, send: send}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.log = a.log.With("component", "uicc")
	a.card = NewCard(healthTransport{t: t, a: a}, a.log)
	return a, nil
}

// Card returns the underlying card session for raw APDUs.
func (a *App) Card() *Card { return a.card }

// Open opens the logical channel (if configured) and selects the
// application. Other methods call it when needed.
func (a *App) Open(ctx context.Context) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() { a.recordLocked(ctx, err) }()
	return a.openLocked(ctx)
}

func (a *App) openLocked(ctx context.Context) error {
	if a.selected {
		return nil
	}
	if a.cfg.LogicalChannel && a.channel == 0 {
		ch, err := a.card.OpenChannel(ctx)
		if err != nil {
			return fmt.Errorf("uicc: open logical channel: %w", err)
		}
		a.channel = ch
	}
	cla, err := WithChannel(ClaISO, a.channel)
	if err != nil {
		return err
	}
	// SELECT by DF name, first occurrence, return FCP (TS 102 221
	// §11.1.1; pySim select_adf sends A4 04 04 Lc AID 00).
	rsp, err := a.card.Exchange(ctx, Command{CLA: cla, INS: InsSelect, P1: 0x04, P2: 0x04, Data: a.cfg.AID, Ne: 256})
	if err != nil {
		a.resetLocked()
		return fmt.Errorf("uicc: select %s: %w", hex.EncodeToString(a.cfg.AID), err)
	}
	if !rsp.SW.OK() {
		return fmt.Errorf("uicc: select %s: %w", hex.EncodeToString(a.cfg.AID), &StatusError{Op: "select", SW: rsp.SW})
	}
	a.selected = true
	a.log.Info("lwm2m uicc application selected", "aid", hex.EncodeToString(a.cfg.AID), "channel", a.channel)
	return a.proactiveLocked(ctx, rsp.SW)
}

// Close closes the logical channel, if one was opened.
func (a *App) Close(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.selected = false
	if a.channel == 0 {
		a.hmu.Lock()
		a.health.selected = false
		a.hmu.Unlock()
		return nil
	}
	ch := a.channel
	a.channel = 0
	err := a.card.CloseChannel(ctx, ch)
	if err != nil {
		err = fmt.Errorf("uicc: close logical channel %d: %w", ch, err)
	}
	a.recordLocked(ctx, err)
	return err
}

// cla returns the application's class byte for a GlobalPlatform command.
func (a *App) claGP() byte {
	cla, _ := WithChannel(ClaGP, a.channel) // channel validated at open
	return cla
}

// GetData retrieves the CoAP messages the application received (GET DATA,
// P1 P2 = 00 COAP_TAG, secured-packet.md §10). "Nothing pending" (6A88) is
// an empty result, not an error.
func (a *App) GetData(ctx context.Context) (_ []Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() { a.recordLocked(ctx, err) }()
	if err := a.openLocked(ctx); err != nil {
		return nil, err
	}
	rsp, err := a.card.Exchange(ctx, Command{CLA: a.claGP(), INS: InsGetData, P1: 0x00, P2: a.cfg.CoAPTag, Ne: 256})
	if err != nil {
		a.resetLocked()
		return nil, fmt.Errorf("uicc: get data: %w", err)
	}
	a.forgetIfGone(rsp.SW)
	switch {
	case rsp.SW == SWNotFound:
		return nil, nil
	case !rsp.SW.OK():
		return nil, &StatusError{Op: "get data", SW: rsp.SW}
	}
	recs, err := DecodeDataRcv(rsp.Data, a.cfg.CoAPTag)
	if err != nil {
		return nil, fmt.Errorf("uicc: get data: %w", err)
	}
	for _, r := range recs {
		a.log.Debug("coap message from the uicc", "msisdn", r.Address.String(), "len", len(r.Message))
	}
	if err := a.proactiveLocked(ctx, rsp.SW); err != nil {
		return recs, err
	}
	return recs, nil
}

// StoreData gives the application a CoAP message to send to da, the TS
// 23.040 address field of the destination (LwM2M-TS 1.0 §7.2.2.2.2:
// "TP-DA concatenated with the CoAP message", coded as a data_rcv record),
// in as many STORE DATA blocks as needed. The card then normally asks for
// SEND SHORT MESSAGE, which StoreData carries out before returning.
func (a *App) StoreData(ctx context.Context, da Address, coap []byte) (err error) {
	data, err := AppendRecord(nil, Record{Address: da, Message: coap}, a.cfg.CoAPTag)
	if err != nil {
		return fmt.Errorf("uicc: store data: %w", err)
	}
	blocks := (len(data) + a.cfg.StoreBlock - 1) / a.cfg.StoreBlock
	if blocks > 256 {
		return fmt.Errorf("uicc: store data of %d octets needs %d blocks: %w", len(data), blocks, ErrLength)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() { a.recordLocked(ctx, err) }()
	if err := a.openLocked(ctx); err != nil {
		return err
	}
	var sw StatusWord
	for i := 0; i < blocks; i++ {
		blk := data[i*a.cfg.StoreBlock : min((i+1)*a.cfg.StoreBlock, len(data))]
		p1 := byte(storeDataBERTLV)
		if i == blocks-1 {
			p1 |= storeDataLast
		}
		// GP Card Spec v2.3 §11.11: P2 is the block number.
		rsp, err := a.card.Exchange(ctx, Command{CLA: a.claGP(), INS: InsStoreData, P1: p1, P2: byte(i), Data: blk})
		if err != nil {
			a.resetLocked()
			return fmt.Errorf("uicc: store data block %d: %w", i, err)
		}
		a.forgetIfGone(rsp.SW)
		if !rsp.SW.OK() {
			return fmt.Errorf("uicc: store data block %d of %d: %w", i+1, blocks, &StatusError{Op: "store data", SW: rsp.SW})
		}
		sw = rsp.SW
	}
	a.log.Debug("coap message to the uicc", "msisdn", da.String(), "len", len(coap), "blocks", blocks)
	return a.proactiveLocked(ctx, sw)
}

// DownloadSMS hands a class-2 / PID-0x7F SMS-DELIVER that reached the host
// to the card with ENVELOPE (SMS-PP DOWNLOAD), as the modem would have done
// (TS 31.111 §7.1.1). smsc is the service centre address as the address
// TLV carries it (TS 102 223 §8.1: TON/NPI octet ‖ BCD digits), or nil. It returns the card's answer: SW 9000/91xx (accepted; Data is the
// PoR for the SMS-DELIVER-REPORT, if any), 9300 (toolkit busy, retry) or
// an error status, which the caller maps to an RP-ERROR.
func (a *App) DownloadSMS(ctx context.Context, smsc, tpdu []byte) (_ Response, err error) {
	data, err := SMSPPDownload{SMSC: smsc, TPDU: tpdu}.Append(nil)
	if err != nil {
		return Response{}, fmt.Errorf("uicc: envelope sms-pp download: %w", err)
	}
	if len(data) > 255 {
		return Response{}, fmt.Errorf("uicc: envelope of %d octets: %w", len(data), ErrLength)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() { a.recordLocked(ctx, err) }()
	// ENVELOPE goes to the card's toolkit on the basic channel (TS 102 221
	// §10.1.1: CLA 80).
	rsp, err := a.card.Exchange(ctx, Command{CLA: ClaGP, INS: InsEnvelope, Data: data, Ne: 256})
	if err != nil {
		return Response{}, fmt.Errorf("uicc: envelope sms-pp download: %w", err)
	}
	a.log.Debug("sms-pp download", "tpdu_len", len(tpdu), "sw", fmt.Sprintf("%04x", uint16(rsp.SW)), "por_len", len(rsp.Data))
	if err := a.proactiveLocked(ctx, rsp.SW); err != nil {
		return rsp, err
	}
	return rsp, nil
}

// Reset forgets the selection and the logical channel without talking to
// the card: call it when the modem reconnected or rebooted (the SIM was
// reset with it). The next call selects the application again. Transport
// failures reset the same way by themselves.
func (a *App) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resetLocked()
	a.hmu.Lock()
	a.health.selected, a.health.channel = false, 0
	a.hmu.Unlock()
}

// resetLocked: after a transport failure the card's state is unknown (a
// modem reboot resets the SIM; GET DATA on a card whose default
// application answers 6A88 would then look like "nothing pending"
// forever), so select again next time.
func (a *App) resetLocked() {
	a.selected = false
	a.channel = 0
}

// forgetIfGone forgets the selection when the card says the application or
// channel is gone (after a card reset), so that the next call selects
// again.
func (a *App) forgetIfGone(sw StatusWord) {
	switch sw {
	case SWFileNotFound, SWConditions, SWCLANotSupported, SWChannelRefused:
		a.selected = false
		a.channel = 0
	}
}

// Proactive fetches and serves pending proactive commands after a status
// word 91xx that the caller received elsewhere (e.g. a raw APDU).
func (a *App) Proactive(ctx context.Context, sw StatusWord) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() { a.recordLocked(ctx, err) }()
	return a.proactiveLocked(ctx, sw)
}

// proactiveLocked serves 91xx: FETCH, carry out SEND SHORT MESSAGE or
// answer "beyond terminal's capabilities", TERMINAL RESPONSE; repeat while
// the card announces more (TS 102 221 §14.7, TS 102 223 §6.2).
func (a *App) proactiveLocked(ctx context.Context, sw StatusWord) error {
	for i := 0; ; i++ {
		n, ok := sw.ProactivePending()
		if !ok {
			return nil
		}
		if i == maxProactive {
			return fmt.Errorf("uicc: card announced more than %d proactive commands in a row", maxProactive)
		}
		rsp, err := a.card.Exchange(ctx, Command{CLA: ClaGP, INS: InsFetch, Ne: n})
		if err != nil {
			return fmt.Errorf("uicc: fetch: %w", err)
		}
		if !rsp.SW.OK() {
			return &StatusError{Op: "fetch", SW: rsp.SW}
		}
		pc, err := DecodeProactiveCommand(rsp.Data)
		if err != nil {
			return fmt.Errorf("uicc: fetch: %w", err)
		}
		tr, runErr := a.perform(ctx, pc)
		data, err := tr.Append(nil)
		if err != nil {
			return fmt.Errorf("uicc: terminal response: %w", err)
		}
		trRsp, err := a.card.Exchange(ctx, Command{CLA: ClaGP, INS: InsTerminalResponse, Data: data})
		if err != nil {
			return fmt.Errorf("uicc: terminal response: %w", err)
		}
		if !trRsp.SW.OK() {
			return &StatusError{Op: "terminal response", SW: trRsp.SW}
		}
		if runErr != nil {
			return runErr
		}
		sw = trRsp.SW
	}
}

// perform carries out one proactive command and says how it went.
func (a *App) perform(ctx context.Context, pc ProactiveCommand) (TerminalResponse, error) {
	log := a.log.With("command", typeName(pc.Type), "number", pc.Number)
	if pc.Type != TypeSendShortMessage {
		// The daemon is no toolkit terminal: everything else is beyond its
		// capabilities (TS 102 223 §8.12.2, result 0x30).
		log.Info("proactive command refused: beyond terminal capabilities")
		return ResponseTo(pc, ResultBeyondCapabilities), nil
	}
	tpdu, ok := pc.Item(TagSMSTPDU)
	if !ok {
		log.Warn("send short message without an SMS TPDU")
		return ResponseTo(pc, ResultDataNotUnderstood), nil
	}
	if pc.Qualifier&0x01 != 0 {
		// Packing by the terminal requested (TS 102 223 §8.6): not offered.
		log.Warn("send short message asks the terminal to pack the text")
		return ResponseTo(pc, ResultBeyondCapabilities), nil
	}
	if a.send == nil {
		log.Warn("send short message refused: no SMS sender")
		return ResponseTo(pc, ResultUnableNow), ErrNoSender
	}
	if err := a.send(ctx, tpdu); err != nil {
		log.Warn("send short message failed", "err", err)
		return ResponseTo(pc, ResultNetworkUnable), &sendError{err: err}
	}
	log.Info("send short message done", "tpdu_len", len(tpdu))
	return ResponseTo(pc, ResultOK), nil
}
