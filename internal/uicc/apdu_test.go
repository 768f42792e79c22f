package uicc_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// TestCommandVectors: the APDUs of secured-packet.md §10.1 in all four
// ISO/IEC 7816-4 cases.
func TestCommandVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		cmd  uicc.Command
		cas  int
	}{
		// §10.1 MANAGE CHANNEL close channel 1 (case 1).
		{name: "manage channel close", hex: "00708001", cmd: uicc.Command{CLA: 0x00, INS: 0x70, P1: 0x80, P2: 0x01}, cas: 1},
		// §10.1 example: AT+CGLA=1,10,"80CA000500" (case 2).
		{name: "get data", hex: "80CA000500", cmd: uicc.Command{CLA: 0x80, INS: 0xCA, P1: 0x00, P2: 0x05, Ne: 256}, cas: 2},
		// §10.1 MANAGE CHANNEL open, Le 01 (case 2).
		{name: "manage channel open", hex: "0070000001", cmd: uicc.Command{CLA: 0x00, INS: 0x70, Ne: 1}, cas: 2},
		// §10.1 STORE DATA P1 90, block 0 (case 3).
		{name: "store data", hex: "80E2900003AABBCC", cmd: uicc.Command{CLA: 0x80, INS: 0xE2, P1: 0x90, P2: 0x00, Data: []byte{0xAA, 0xBB, 0xCC}}, cas: 3},
		// §10.1 SELECT by AID, pySim select_adf form (case 4).
		{name: "select", hex: "00A4040406F04C574D324D00", cmd: uicc.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x04, Data: uicc.DefaultAID, Ne: 256}, cas: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			got, err := uicc.DecodeCommand(b)
			if err != nil {
				t.Fatalf("DecodeCommand: %v", err)
			}
			if got.CLA != tc.cmd.CLA || got.INS != tc.cmd.INS || got.P1 != tc.cmd.P1 || got.P2 != tc.cmd.P2 ||
				!bytes.Equal(got.Data, tc.cmd.Data) || got.Ne != tc.cmd.Ne {
				t.Errorf("DecodeCommand = %+v, want %+v", got, tc.cmd)
			}
			if got.Case() != tc.cas {
				t.Errorf("Case = %d, want %d", got.Case(), tc.cas)
			}
			re, err := tc.cmd.Append(nil)
			if err != nil || !bytes.Equal(re, b) {
				t.Errorf("Append = %x, %v", re, err)
			}
		})
	}
	for _, bad := range []string{"", "00", "00A404", "00A4040406F04C", "00A4040400AA", "00A4040402AABBCCDD"} {
		if _, err := uicc.DecodeCommand(unhex(t, bad)); err == nil {
			t.Errorf("DecodeCommand(%s) accepted", bad)
		}
	}
	if _, err := (uicc.Command{Data: make([]byte, 256)}).Append(nil); !errors.Is(err, uicc.ErrLength) {
		t.Errorf("256-octet data: %v", err)
	}
}

func TestStatusWords(t *testing.T) {
	for _, tc := range []struct {
		sw        uicc.StatusWord
		ok        bool
		proactive int
		more      int
		wrongLe   int
		meaning   string
	}{
		{sw: 0x9000, ok: true, meaning: "normal ending"},
		{sw: 0x9120, ok: true, proactive: 32, meaning: "normal ending, proactive command of 32 octets pending"},
		{sw: 0x6110, more: 16, meaning: "16 response octets available"},
		{sw: 0x6100, more: 256, meaning: "256 response octets available"},
		{sw: 0x9F0A, more: 10, meaning: "10 response octets available (GSM SIM)"},
		{sw: 0x6C05, wrongLe: 5, meaning: "wrong Le, 5 octets available"},
		{sw: 0x6A88, meaning: "referenced data not found"},
		{sw: 0x6A82, meaning: "file or application not found"},
		{sw: 0x9300, meaning: "SIM toolkit busy"},
		{sw: 0x63C2, meaning: "verification failed, 2 retries left"},
		{sw: 0x6881, meaning: "logical channel not supported"},
	} {
		if tc.sw.OK() != tc.ok {
			t.Errorf("%04x OK = %v", uint16(tc.sw), tc.sw.OK())
		}
		if n, _ := tc.sw.ProactivePending(); n != tc.proactive {
			t.Errorf("%04x ProactivePending = %d", uint16(tc.sw), n)
		}
		if n, _ := tc.sw.ResponseAvailable(); n != tc.more {
			t.Errorf("%04x ResponseAvailable = %d", uint16(tc.sw), n)
		}
		if n, _ := tc.sw.WrongLe(); n != tc.wrongLe {
			t.Errorf("%04x WrongLe = %d", uint16(tc.sw), n)
		}
		if tc.sw.Meaning() != tc.meaning {
			t.Errorf("%04x Meaning = %q", uint16(tc.sw), tc.sw.Meaning())
		}
	}
}

// TestChannelCLA: TS 102 221 §10.1.1 class coding of logical channels.
func TestChannelCLA(t *testing.T) {
	for _, tc := range []struct {
		base byte
		ch   int
		want byte
	}{
		{base: 0x00, ch: 0, want: 0x00},
		{base: 0x00, ch: 3, want: 0x03},
		{base: 0x80, ch: 1, want: 0x81},
		{base: 0xA0, ch: 2, want: 0xA2},
		{base: 0x00, ch: 4, want: 0x40},
		{base: 0x00, ch: 19, want: 0x4F},
		{base: 0x80, ch: 5, want: 0xC1},
		{base: 0x41, ch: 1, want: 0x01},
	} {
		got, err := uicc.WithChannel(tc.base, tc.ch)
		if err != nil || got != tc.want {
			t.Errorf("WithChannel(%02x, %d) = %02x, %v; want %02x", tc.base, tc.ch, got, err, tc.want)
		}
		if uicc.ChannelOf(got) != tc.ch {
			t.Errorf("ChannelOf(%02x) = %d, want %d", got, uicc.ChannelOf(got), tc.ch)
		}
	}
	if _, err := uicc.WithChannel(0, 20); err == nil {
		t.Error("channel 20 accepted")
	}
}

func TestResponseAPDU(t *testing.T) {
	r, err := uicc.DecodeResponse(unhex(t, "01029000"))
	if err != nil || !bytes.Equal(r.Data, []byte{1, 2}) || r.SW != uicc.SWOK {
		t.Fatalf("DecodeResponse = %+v, %v", r, err)
	}
	if got := r.Append(nil); !bytes.Equal(got, unhex(t, "01029000")) {
		t.Errorf("Append = %x", got)
	}
	if _, err := uicc.DecodeResponse([]byte{0x90}); !errors.Is(err, uicc.ErrTruncated) {
		t.Errorf("one octet: %v", err)
	}
}
