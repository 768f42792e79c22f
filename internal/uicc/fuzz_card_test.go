package uicc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// FuzzCardResponses drives the application client against a card whose
// response APDUs (what AT+CSIM hands back) come from the fuzzer: every
// status word, 61xx/6Cxx/91xx chains, FETCH data, data_rcv from GET DATA.
// The input is a script of responses, each a length octet and that many
// octets; when it runs out the card repeats its last answer forever, the
// way a wedged card would. Properties: no panic; every APDU the host sends
// is a well-formed command (it decodes and re-encodes to the same bytes);
// the host sends a bounded number of APDUs however the card answers; what
// GET DATA returns re-encodes.
func FuzzCardResponses(f *testing.F) {
	script := func(rs ...string) []byte {
		var b []byte
		for _, r := range rs {
			x := unhexF(r)
			b = append(append(b, byte(len(x))), x...)
		}
		return b
	}
	// Select OK, GET DATA with one record, then everything 9000.
	f.Add(script("9000", dataRcv+"9000", "9000"), false)
	// Select announces a proactive SEND SHORT MESSAGE (91xx), FETCH
	// returns it, the terminal response is accepted.
	fetch := unhexF(fetchSendSM)
	f.Add(script("9000", fmt.Sprintf("91%02X", len(fetch)), fetchSendSM+"9000", "9000"), false)
	// MANAGE CHANNEL gives channel 1, select answers 61xx, GET RESPONSE,
	// GET DATA 6A88 (nothing pending).
	f.Add(script("019000", "6105", "0102030405"+"9000", "6A88", "9000"), true)
	// Wrong Le (6Cxx) then the data; a card stuck on 6110; one stuck on 910F.
	f.Add(script("9000", "6C04", "AABBCCDD9000"), false)
	f.Add(script("6110"), false)
	f.Add(script("910F"), true)
	f.Add([]byte{}, false)
	f.Add(script("90"), false) // a response shorter than SW1 SW2

	// Budget per operation: a select (with its channel), and
	// maxProactive (8) FETCH / TERMINAL RESPONSE rounds, each exchange at
	// most 1 + 1 (6Cxx) + 16 GET RESPONSE transmits. 1000 is far above.
	const maxTransmits = 1000
	da := uicc.Address(unhexF(serverAddr))
	f.Fuzz(func(t *testing.T, in []byte, logical bool) {
		card := &scriptedCard{t: t, script: in, limit: maxTransmits}
		var sent int
		send := func(_ context.Context, tpdu []byte) error {
			sent++
			return nil
		}
		a, err := uicc.New(card, uicc.Config{LogicalChannel: logical}, send)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		ops := []func() error{
			func() error { return a.Open(ctx) },
			func() error {
				recs, err := a.GetData(ctx)
				for _, r := range recs {
					if _, err := uicc.AppendRecord(nil, r, uicc.DefaultCoAPTag); err != nil {
						t.Fatalf("GET DATA record %+v does not re-encode: %v", r, err)
					}
				}
				return err
			},
			func() error { return a.StoreData(ctx, da, []byte{0x40, 0x01, 0x12, 0x34}) },
			func() error { _, err := a.DownloadSMS(ctx, nil, unhexF("400290217FF6227052000000002D00")); return err },
			func() error { return a.Proactive(ctx, uicc.StatusWord(0x910F)) },
			func() error { return a.Close(ctx) },
		}
		for i, op := range ops {
			card.calls = 0
			_ = op() // any error is fine; hanging, looping or panicking is not
			if card.calls > maxTransmits {
				t.Fatalf("operation %d sent more than %d APDUs", i, maxTransmits)
			}
		}
		if sent > 6*8 {
			t.Fatalf("%d SMS sent for 6 operations of at most 8 proactive commands each", sent)
		}
	})
}

// scriptedCard answers each APDU with the next response of its script and
// repeats the last one when the script is exhausted (9000 if it was empty).
type scriptedCard struct {
	t      *testing.T
	script []byte
	last   []byte
	calls  int
	limit  int
}

func (c *scriptedCard) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	c.calls++
	if c.calls > c.limit {
		// Fail the exchange so that the caller returns; the test then
		// reports the runaway loop.
		return nil, fmt.Errorf("card: more than %d APDUs", c.limit)
	}
	cmd, err := uicc.DecodeCommand(apdu)
	if err != nil {
		c.t.Fatalf("host sent a malformed APDU %x: %v", apdu, err)
	}
	if re, err := cmd.Append(nil); err != nil || !bytes.Equal(re, apdu) {
		c.t.Fatalf("host APDU %x re-encodes as %x, %v", apdu, re, err)
	}
	if len(c.script) > 0 {
		n := int(c.script[0])
		rest := c.script[1:]
		n = min(n, len(rest))
		c.last = append([]byte(nil), rest[:n]...)
		c.script = rest[n:]
	} else if c.last == nil {
		c.last = binary.BigEndian.AppendUint16(nil, 0x9000)
	}
	return append([]byte(nil), c.last...), nil
}
