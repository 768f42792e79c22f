package uicc

import (
	"context"
	"fmt"
	"log/slog"
)

// Transport carries one command APDU to the card and returns the response
// APDU (data ‖ SW1 SW2). The daemon adapts the modem driver's AT+CSIM
// (modem.CSIM) to it; an error is a transport failure, never a status word.
type Transport interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}

// TransportFunc adapts a function to Transport.
type TransportFunc func(ctx context.Context, apdu []byte) ([]byte, error)

// Transmit calls f.
func (f TransportFunc) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	return f(ctx, apdu)
}

// maxGetResponse bounds the GET RESPONSE chain after 61xx (16 × 256 octets
// is far more than any LwM2M object here).
const maxGetResponse = 16

// Card exchanges APDUs with a UICC over a Transport and hides the T=0
// transport procedures: 61xx is followed by GET RESPONSE, 6Cxx by the same
// command with Le = xx (ISO/IEC 7816-4 §5.1.3, TS 102 221 §7.3.1.1.4).
// Every other status word is returned as a value. A Card has no state of
// its own; callers serialise APDU sequences.
type Card struct {
	t   Transport    // non-nil
	log *slog.Logger // non-nil
}

// NewCard returns a Card on t. log may be nil (no logging).
func NewCard(t Transport, log *slog.Logger) *Card {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Card{t: t, log: log}
}

// Exchange sends cmd and returns the final response.
func (c *Card) Exchange(ctx context.Context, cmd Command) (Response, error) {
	rsp, err := c.once(ctx, cmd)
	if err != nil {
		return Response{}, err
	}
	if n, ok := rsp.SW.WrongLe(); ok {
		// 6Cxx: re-issue the same command with the exact Le, once.
		cmd.Ne = n
		if rsp, err = c.once(ctx, cmd); err != nil {
			return Response{}, err
		}
	}
	data := rsp.Data
	for i := 0; ; i++ {
		n, ok := rsp.SW.ResponseAvailable()
		if !ok {
			break
		}
		if i == maxGetResponse {
			return Response{}, fmt.Errorf("uicc: %02x%02x: more than %d GET RESPONSE: %w", cmd.CLA, cmd.INS, maxGetResponse, ErrLength)
		}
		cla, _ := WithChannel(ClaISO, ChannelOf(cmd.CLA))
		if cmd.CLA&0xF0 == 0xA0 { // GSM SIM class (TS 51.011 §9.2)
			cla = 0xA0
		}
		if rsp, err = c.once(ctx, Command{CLA: cla, INS: InsGetResponse, Ne: n}); err != nil {
			return Response{}, err
		}
		data = append(data, rsp.Data...)
	}
	rsp.Data = data
	return rsp, nil
}

func (c *Card) once(ctx context.Context, cmd Command) (Response, error) {
	raw, err := cmd.Append(nil)
	if err != nil {
		return Response{}, err
	}
	out, err := c.t.Transmit(ctx, raw)
	if err != nil {
		return Response{}, &TransportError{CLA: cmd.CLA, INS: cmd.INS, Err: err}
	}
	rsp, err := DecodeResponse(out)
	if err != nil {
		return Response{}, fmt.Errorf("uicc: response to %02x%02x: %w", cmd.CLA, cmd.INS, err)
	}
	c.log.Debug("apdu", "cla", cmd.CLA, "ins", cmd.INS, "p1", cmd.P1, "p2", cmd.P2,
		"lc", len(cmd.Data), "ne", cmd.Ne, "response_len", len(rsp.Data), "sw", fmt.Sprintf("%04x", uint16(rsp.SW)))
	return rsp, nil
}

// OpenChannel opens a logical channel with MANAGE CHANNEL (TS 102 221
// §11.1.17: P1 00, P2 00 = the card assigns, Le 01) and returns its number.
func (c *Card) OpenChannel(ctx context.Context) (int, error) {
	rsp, err := c.Exchange(ctx, Command{CLA: ClaISO, INS: InsManageChannel, P1: 0x00, P2: 0x00, Ne: 1})
	if err != nil {
		return 0, err
	}
	if rsp.SW != SWOK {
		return 0, &StatusError{Op: "manage channel open", SW: rsp.SW}
	}
	if len(rsp.Data) != 1 || rsp.Data[0] == 0 || rsp.Data[0] > 19 {
		return 0, fmt.Errorf("uicc: manage channel open: channel %x: %w", rsp.Data, ErrLength)
	}
	return int(rsp.Data[0]), nil
}

// CloseChannel closes a logical channel (MANAGE CHANNEL P1 80, P2 = ch).
func (c *Card) CloseChannel(ctx context.Context, ch int) error {
	rsp, err := c.Exchange(ctx, Command{CLA: ClaISO, INS: InsManageChannel, P1: 0x80, P2: byte(ch)})
	if err != nil {
		return err
	}
	if rsp.SW != SWOK {
		return &StatusError{Op: "manage channel close", SW: rsp.SW}
	}
	return nil
}
