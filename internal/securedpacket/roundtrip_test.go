package securedpacket_test

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"errors"
	"fmt"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// lwm2mAlgorithms are the KIc/KID codings and keys LwM2M-TS 1.0
// §7.2.2.2.3 allows: AES (0xk2, any key length) and 3DES 3-key (0xk9).
var lwm2mAlgorithms = []struct {
	name string
	ref  sp.KeyRef
	keys sp.Keys
}{
	{name: "AES-128", ref: 0x12, keys: sp.Keys{KIc: seq(16, 1), KID: seq(16, 101)}},
	{name: "AES-192", ref: 0x22, keys: sp.Keys{KIc: seq(24, 1), KID: seq(24, 101)}},
	{name: "AES-256", ref: 0xF2, keys: sp.Keys{KIc: seq(32, 1), KID: seq(32, 101)}},
	{name: "3DES-3key", ref: 0x19, keys: sp.Keys{KIc: seq(24, 1), KID: seq(24, 101)}},
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// allSPI2 lists every valid second SPI octet (PoR request × PoR RC/CC/DS ×
// ciphered × SMS-SUBMIT): the PoR is the server's choice under LwM2M.
func allSPI2() []byte {
	var out []byte
	for por := byte(0); por < 3; por++ {
		for integ := byte(0); integ < 4; integ++ {
			for _, c := range []byte{0, 0x10} {
				for _, s := range []byte{0, 0x20} {
					out = append(out, por|integ<<2|c|s)
				}
			}
		}
	}
	return out
}

// TestRoundTripLwM2M seals and opens a command packet for every algorithm
// and SPI LwM2M allows (SPI1 0x16 with every SPI2), several data lengths
// around the block sizes, and checks the bytes decode and re-encode
// unchanged; a PoR is sealed and opened wherever the SPI2 asks for a CC
// or nothing.
func TestRoundTripLwM2M(t *testing.T) {
	for _, alg := range lwm2mAlgorithms {
		for _, s2 := range allSPI2() {
			for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 99, 300} {
				name := fmt.Sprintf("%s/SPI16%02x/%d", alg.name, s2, n)
				t.Run(name, func(t *testing.T) {
					h := sp.Header{SPI: spi(0x16, s2), KIc: alg.ref, KID: alg.ref, TAR: sp.TAR{0xB2, 0x02, 0x03}}
					if err := (sp.Policy{}).Check(h, &alg.keys); err != nil {
						t.Fatalf("policy refuses an allowed combination: %v", err)
					}
					c := sp.Command{Header: h, Counter: 0x0102030405, Data: seq(n, 7)}
					pkt, err := sp.SealCommand(nil, c, alg.keys)
					if err != nil {
						t.Fatalf("SealCommand: %v", err)
					}
					p, err := sp.DecodeCommandPacket(pkt)
					if err != nil {
						t.Fatalf("DecodeCommandPacket: %v", err)
					}
					if re, err := p.Append(nil); err != nil || !bytes.Equal(re, pkt) {
						t.Fatalf("Append: %v\n got %x\nwant %x", err, re, pkt)
					}
					got, err := p.Open(alg.keys, 0x0102030404)
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					if got.Counter != c.Counter || got.Header != h || !bytes.Equal(got.Data, c.Data) {
						t.Fatalf("Open = %+v", got)
					}
					if _, err := p.Open(alg.keys, c.Counter); !errors.Is(err, sp.ErrCounterLow) {
						t.Fatalf("replay: %v, want ErrCounterLow", err)
					}
					r := sp.Response{TAR: h.TAR, Counter: c.Counter, Status: sp.StatusOK, Data: seq(n%20, 3)}
					rpkt, err := sp.SealResponse(nil, r, h, alg.keys)
					if h.SPI.PoRIntegrity == sp.IntegrityRC || h.SPI.PoRIntegrity == sp.IntegrityDS {
						if !errors.Is(err, sp.ErrUnsupportedAlgorithm) {
							t.Fatalf("SealResponse with %s: %v", h.SPI.PoRIntegrity, err)
						}
						return
					}
					if err != nil {
						t.Fatalf("SealResponse: %v", err)
					}
					rp, err := sp.DecodeResponsePacket(rpkt)
					if err != nil {
						t.Fatalf("DecodeResponsePacket: %v", err)
					}
					if re, err := rp.Append(nil); err != nil || !bytes.Equal(re, rpkt) {
						t.Fatalf("response Append: %v", err)
					}
					gr, err := rp.Open(h, alg.keys)
					if err != nil {
						t.Fatalf("response Open: %v", err)
					}
					if gr.TAR != r.TAR || gr.Counter != r.Counter || gr.Status != r.Status || !bytes.Equal(gr.Data, r.Data) {
						t.Fatalf("response Open = %+v", gr)
					}
				})
			}
		}
	}
}

// TestRoundTripOtherAlgorithms covers what the codec supports beyond
// LwM2M: 3DES 2-key, no ciphering, no checksum, other counter modes.
func TestRoundTripOtherAlgorithms(t *testing.T) {
	k2 := sp.Keys{KIc: seq(16, 1), KID: seq(16, 50)}
	for _, tc := range []struct {
		name string
		h    sp.Header
		keys sp.Keys
	}{
		{name: "3DES-2key ciphered CC", h: sp.Header{SPI: spi(0x16, 0x39), KIc: 0x15, KID: 0x15}, keys: k2},
		{name: "3DES-2key CC only", h: sp.Header{SPI: spi(0x02, 0x09), KIc: 0x15, KID: 0x15}, keys: k2},
		{name: "AES ciphered no CC", h: sp.Header{SPI: spi(0x0C, 0x00), KIc: 0x12, KID: 0x12}, keys: k2},
		{name: "clear", h: sp.Header{SPI: spi(0x00, 0x00), KIc: 0x00, KID: 0x00}},
		{name: "mixed AES KIc 3DES KID", h: sp.Header{SPI: spi(0x1E, 0x00), KIc: 0x12, KID: 0x15}, keys: k2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sp.Command{Header: tc.h, Counter: 9, Data: []byte("hello, secured world")}
			pkt, err := sp.SealCommand(nil, c, tc.keys)
			if err != nil {
				t.Fatalf("SealCommand: %v", err)
			}
			p, err := sp.DecodeCommandPacket(pkt)
			if err != nil {
				t.Fatalf("DecodeCommandPacket: %v", err)
			}
			got, err := p.Open(tc.keys, 8)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got.Data, c.Data) {
				t.Errorf("data = %q", got.Data)
			}
		})
	}
}

// TestEveryStrictPrefixFails: no strict prefix of a packet decodes.
func TestEveryStrictPrefixFails(t *testing.T) {
	for _, pkt := range [][]byte{v1Packet, v2Packet, v1PoRUD[3:], v3PoRUD[3:]} {
		isCmd := bytes.Equal(pkt, v1Packet) || bytes.Equal(pkt, v2Packet)
		for i := 0; i < len(pkt); i++ {
			var err error
			if isCmd {
				_, err = sp.DecodeCommandPacket(pkt[:i])
			} else {
				_, err = sp.DecodeResponsePacket(pkt[:i])
			}
			var de *sp.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("prefix %x decoded (err %v)", pkt[:i], err)
			}
		}
		// A trailing octet is refused too.
		extra := append(append([]byte{}, pkt...), 0)
		if _, err := sp.DecodeCommandPacket(extra); isCmd && !errors.Is(err, sp.ErrLength) {
			t.Errorf("trailing octet: %v", err)
		}
	}
}

// TestTamperedFailsClosed flips every bit of a sealed LwM2M packet: Open
// must fail each time, and never return data.
func TestTamperedFailsClosed(t *testing.T) {
	for _, alg := range lwm2mAlgorithms {
		h := sp.Header{SPI: spi(0x16, 0x00), KIc: alg.ref, KID: alg.ref, TAR: sp.TAR{0xBF, 0xFF, 0x01}}
		pkt, err := sp.SealCommand(nil, sp.Command{Header: h, Counter: 5, Data: []byte("coap")}, alg.keys)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(pkt)*8; i++ {
			bad := append([]byte{}, pkt...)
			bad[i/8] ^= 1 << (i % 8)
			p, err := sp.DecodeCommandPacket(bad)
			if err != nil {
				continue
			}
			if c, err := p.Open(alg.keys, 4); err == nil {
				t.Fatalf("%s: bit %d flipped, Open accepted %+v", alg.name, i, c)
			}
		}
	}
}

// TestReceivingOrder: the checksum is verified before the counter, so a
// forged packet with a fresh counter reports ErrChecksum, and a genuine
// replay reports ErrCounterLow; wrong keys fail on the checksum.
func TestReceivingOrder(t *testing.T) {
	alg := lwm2mAlgorithms[0]
	h := sp.Header{SPI: spi(0x16, 0x00), KIc: alg.ref, KID: alg.ref, TAR: sp.TAR{0xBF, 0xFF, 0x01}}
	pkt, _ := sp.SealCommand(nil, sp.Command{Header: h, Counter: 5, Data: []byte("coap")}, alg.keys)
	p, _ := sp.DecodeCommandPacket(pkt)

	wrong := sp.Keys{KIc: alg.keys.KIc, KID: seq(16, 200)}
	if _, err := p.Open(wrong, 10); !errors.Is(err, sp.ErrChecksum) {
		t.Errorf("wrong KID key, low counter: %v, want ErrChecksum", err)
	}
	if _, err := p.Open(alg.keys, 5); !errors.Is(err, sp.ErrCounterLow) {
		t.Errorf("replay: %v, want ErrCounterLow", err)
	}
	if _, err := p.Open(alg.keys, sp.MaxCounter); !errors.Is(err, sp.ErrCounterBlocked) {
		t.Errorf("blocked: %v, want ErrCounterBlocked", err)
	}
	short := sp.CommandPacket{Header: p.Header, ChecksumLen: 8, Secured: p.Secured[:len(p.Secured)-1]}
	if _, err := short.Open(alg.keys, 0); !errors.Is(err, sp.ErrCipherLength) {
		t.Errorf("cut ciphertext: %v, want ErrCipherLength", err)
	}
	if got := sp.StatusFor(fmt.Errorf("x: %w", sp.ErrChecksum)); got != sp.StatusChecksumFailed {
		t.Errorf("StatusFor(ErrChecksum) = %v", got)
	}
}

func TestCounterModes(t *testing.T) {
	for _, tc := range []struct {
		mode             sp.CounterMode
		received, stored uint64
		want             error
	}{
		{mode: sp.CounterNone, received: 0, stored: 9},
		{mode: sp.CounterAvailable, received: 0, stored: 9},
		{mode: sp.CounterHigher, received: 10, stored: 9},
		{mode: sp.CounterHigher, received: 1000, stored: 9},
		{mode: sp.CounterHigher, received: 9, stored: 9, want: sp.ErrCounterLow},
		{mode: sp.CounterHigher, received: 8, stored: 9, want: sp.ErrCounterLow},
		{mode: sp.CounterOneHigher, received: 10, stored: 9},
		{mode: sp.CounterOneHigher, received: 11, stored: 9, want: sp.ErrCounterHigh},
		{mode: sp.CounterOneHigher, received: 9, stored: 9, want: sp.ErrCounterLow},
		{mode: sp.CounterHigher, received: sp.MaxCounter, stored: sp.MaxCounter - 1},
		{mode: sp.CounterHigher, received: sp.MaxCounter, stored: sp.MaxCounter, want: sp.ErrCounterBlocked},
	} {
		err := tc.mode.Check(tc.received, tc.stored)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%v.Check(%d, %d) = %v, want %v", tc.mode, tc.received, tc.stored, err, tc.want)
		}
	}
}

// TestPaddingStrippedLast: an unciphered packet whose PCNTR exceeds the data
// and whose CC is valid over exactly those octets fails on the padding, and
// only after the counter check (secured-packet.md §5 order).
func TestPaddingStrippedLast(t *testing.T) {
	key := seq(16, 1)
	// CPL 0018 CHL 15 SPI 1200 KIc/KID 15 TAR BFFF01 CNTR 3 PCNTR 05 CC(8) data 0102
	clear := mustHex("0018" + "15" + "1200" + "15" + "15" + "bfff01" + "0000000003" + "05")
	data := []byte{1, 2}
	b, err := des.NewTripleDESCipher(append(append([]byte{}, key...), key[:8]...))
	if err != nil {
		t.Fatal(err)
	}
	msg := append(append([]byte{}, clear...), data...)
	for len(msg)%8 != 0 {
		msg = append(msg, 0)
	}
	cipher.NewCBCEncrypter(b, make([]byte, 8)).CryptBlocks(msg, msg)
	pkt := append(append(append([]byte{}, clear...), msg[len(msg)-8:]...), data...)
	p, err := sp.DecodeCommandPacket(pkt)
	if err != nil {
		t.Fatalf("DecodeCommandPacket: %v", err)
	}
	keys := sp.Keys{KID: key}
	if _, err := p.Open(keys, 3); !errors.Is(err, sp.ErrCounterLow) {
		t.Errorf("Open, stored 3: %v, want ErrCounterLow (counter before padding)", err)
	}
	if _, err := p.Open(keys, 2); !errors.Is(err, sp.ErrPadding) {
		t.Errorf("Open, stored 2: %v, want ErrPadding", err)
	}
}
