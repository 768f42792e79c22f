package securedpacket_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// Known-answer vectors of secured-packet.md §11. Sources: pySim
// tests/unittests/test_ota.py (osmocom/pysim 597f1e0), PoRs captured from
// real sysmoISIM cards; all re-computed for the digest.
var (
	// V1: Test_SMS_AES128, dataset "AES128-SJA5-CIPHERED-CC".
	v1Keys = sp.Keys{
		KIc: mustHex("200102030405060708090a0b0c0d0e0f"),
		KID: mustHex("201102030405060708090a0b0c0d0e0f"),
	}
	v1Cmd = sp.Command{
		Header: sp.Header{
			SPI: spi(0x06, 0x19),
			KIc: 0x22, KID: 0x22,
			TAR: sp.TAR{0xb0, 0x00, 0x11},
		},
		Counter: 0,
		Data:    mustHex("00a40004023f00"),
	}
	v1Packet = mustHex("0028150619222" + "2b00011" +
		"e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058")
	v1CC = mustHex("ecbab1f8f55502c5")
	// V1 PoR, from the card (user data with its UDH).
	v1PoRUD = mustHex("027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f")
	v1PoRCC = mustHex("34d237db461c150b")

	// V2: Test_SMS_3DES.test_cmd_3des_signed (3DES 2-key, CC only; CPL
	// added by the digest).
	v2Keys = sp.Keys{
		KIc: mustHex("12110C78E678C25408233076AA033615"),
		KID: mustHex("12110C78E678C25408233076AA033615"),
	}
	v2Cmd = sp.Command{
		Header: sp.Header{
			SPI: spi(0x02, 0x19),
			KIc: 0x35, KID: 0x35,
			TAR: sp.TAR{0xb0, 0x00, 0x00},
		},
		Data: mustHex("00a40000023f00"),
	}
	v2Packet = mustHex("001D15021935" + "35b00000" + "000000000000" + "072ea17bdb72060e" + "00a40000023f00")

	// V3: 3DES PoR with CC, not ciphered (real card, V2's KID key).
	v3PoRUD = mustHex("027100001612b000110000000000000055f47118381175fb01612f")
	v3Cmd   = sp.Header{SPI: spi(0x02, 0x09), KIc: 0x35, KID: 0x35, TAR: sp.TAR{0xb0, 0x00, 0x11}}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func spi(a, b byte) sp.SPI {
	s, err := sp.DecodeSPI([]byte{a, b})
	if err != nil {
		panic(err)
	}
	return s
}

func TestV1AESCommand(t *testing.T) {
	got, err := sp.SealCommand(nil, v1Cmd, v1Keys)
	if err != nil {
		t.Fatalf("SealCommand: %v", err)
	}
	if !bytes.Equal(got, v1Packet) {
		t.Fatalf("SealCommand\n got %x\nwant %x", got, v1Packet)
	}
	ud := sp.AppendCommandUserData(nil, got)
	if len(ud) != 0x2D || !bytes.HasPrefix(ud, []byte{0x02, 0x70, 0x00}) {
		t.Errorf("user data %x: want 45 octets starting 027000", ud)
	}

	p, err := sp.DecodeCommandPacket(v1Packet)
	if err != nil {
		t.Fatalf("DecodeCommandPacket: %v", err)
	}
	if p.Header != v1Cmd.Header || p.ChecksumLen != 8 {
		t.Errorf("header = %+v, checksum length %d", p.Header, p.ChecksumLen)
	}
	pl, err := p.Decipher(v1Keys)
	if err != nil {
		t.Fatalf("Decipher: %v", err)
	}
	if pl.PCNTR != 0x0B || !bytes.Equal(pl.Checksum, v1CC) || pl.Counter != 0 {
		t.Errorf("plain = PCNTR %d CC %x CNTR %d; want 11, %x, 0", pl.PCNTR, pl.Checksum, pl.Counter, v1CC)
	}
	if err := p.VerifyChecksum(pl, v1Keys); err != nil {
		t.Errorf("VerifyChecksum: %v", err)
	}
	c, err := p.Open(v1Keys, 0) // SPI 06: no counter check
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(c.Data, v1Cmd.Data) {
		t.Errorf("data = %x", c.Data)
	}
	re, err := p.Append(nil)
	if err != nil || !bytes.Equal(re, v1Packet) {
		t.Errorf("Append = %x, %v", re, err)
	}
}

func TestV1AESPoR(t *testing.T) {
	u, err := sp.DecodeUserData(v1PoRUD)
	if err != nil || u.Kind() != sp.KindResponse {
		t.Fatalf("DecodeUserData: %v kind %v", err, u.Kind())
	}
	p, err := sp.DecodeResponsePacket(u.Payload)
	if err != nil {
		t.Fatalf("DecodeResponsePacket: %v", err)
	}
	pl, err := p.Decipher(v1Cmd.Header, v1Keys)
	if err != nil {
		t.Fatalf("Decipher: %v", err)
	}
	if pl.Counter != 0 || pl.PCNTR != 0x0E || pl.Status != sp.StatusOK || !bytes.Equal(pl.Checksum, v1PoRCC) {
		t.Errorf("plain = %+v", pl)
	}
	wantBody := append(mustHex("016132"), make([]byte, 14)...)
	if !bytes.Equal(pl.Body, wantBody) {
		t.Errorf("body = %x", pl.Body)
	}
	r, err := p.Open(v1Cmd.Header, v1Keys)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if r.TAR != v1Cmd.TAR || !bytes.Equal(r.Data, mustHex("016132")) {
		t.Errorf("response = %+v", r)
	}
	// The card's bytes are reproduced exactly by SealResponse.
	got, err := sp.SealResponse(nil, r, v1Cmd.Header, v1Keys)
	if err != nil {
		t.Fatalf("SealResponse: %v", err)
	}
	if ud := sp.AppendResponseUserData(nil, got); !bytes.Equal(ud, v1PoRUD) {
		t.Errorf("SealResponse\n got %x\nwant %x", ud, v1PoRUD)
	}
}

func TestV2TripleDESCommand(t *testing.T) {
	got, err := sp.SealCommand(nil, v2Cmd, v2Keys)
	if err != nil {
		t.Fatalf("SealCommand: %v", err)
	}
	if !bytes.Equal(got, v2Packet) {
		t.Fatalf("SealCommand\n got %x\nwant %x", got, v2Packet)
	}
	p, err := sp.DecodeCommandPacket(v2Packet)
	if err != nil {
		t.Fatalf("DecodeCommandPacket: %v", err)
	}
	c, err := p.Open(v2Keys, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(c.Data, v2Cmd.Data) {
		t.Errorf("data = %x", c.Data)
	}
}

func TestV3TripleDESPoR(t *testing.T) {
	u, err := sp.DecodeUserData(v3PoRUD)
	if err != nil {
		t.Fatalf("DecodeUserData: %v", err)
	}
	p, err := sp.DecodeResponsePacket(u.Payload)
	if err != nil {
		t.Fatalf("DecodeResponsePacket: %v", err)
	}
	r, err := p.Open(v3Cmd, v2Keys)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if r.Status != sp.StatusOK || r.Counter != 0 || !bytes.Equal(r.Data, mustHex("01612f")) {
		t.Errorf("response = %+v", r)
	}
	got, err := sp.SealResponse(nil, r, v3Cmd, v2Keys)
	if err != nil {
		t.Fatalf("SealResponse: %v", err)
	}
	if ud := sp.AppendResponseUserData(nil, got); !bytes.Equal(ud, v3PoRUD) {
		t.Errorf("SealResponse\n got %x\nwant %x", ud, v3PoRUD)
	}
}

// TestSPIDecoding checks every SPI of secured-packet.md §2 and §9 by name.
func TestSPIDecoding(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sp.SPI
	}{
		{in: "1600", want: sp.SPI{Integrity: sp.IntegrityCC, Ciphered: true, Counter: sp.CounterHigher}},
		{in: "1619", want: sp.SPI{Integrity: sp.IntegrityCC, Ciphered: true, Counter: sp.CounterHigher,
			PoR: sp.PoRRequired, PoRIntegrity: sp.IntegrityCC, PoRCiphered: true}},
		{in: "1639", want: sp.SPI{Integrity: sp.IntegrityCC, Ciphered: true, Counter: sp.CounterHigher,
			PoR: sp.PoRRequired, PoRIntegrity: sp.IntegrityCC, PoRCiphered: true, PoRSubmit: true}},
		{in: "161a", want: sp.SPI{Integrity: sp.IntegrityCC, Ciphered: true, Counter: sp.CounterHigher,
			PoR: sp.PoROnError, PoRIntegrity: sp.IntegrityCC, PoRCiphered: true}},
		{in: "0619", want: sp.SPI{Integrity: sp.IntegrityCC, Ciphered: true,
			PoR: sp.PoRRequired, PoRIntegrity: sp.IntegrityCC, PoRCiphered: true}},
		{in: "0219", want: sp.SPI{Integrity: sp.IntegrityCC,
			PoR: sp.PoRRequired, PoRIntegrity: sp.IntegrityCC, PoRCiphered: true}},
		{in: "1f04", want: sp.SPI{Integrity: sp.IntegrityDS, Ciphered: true, Counter: sp.CounterOneHigher,
			PoRIntegrity: sp.IntegrityRC}},
		{in: "0921", want: sp.SPI{Integrity: sp.IntegrityRC, Counter: sp.CounterAvailable,
			PoR: sp.PoRRequired, PoRSubmit: true}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := sp.DecodeSPI(mustHex(tc.in))
			if err != nil {
				t.Fatalf("DecodeSPI: %v", err)
			}
			if got != tc.want {
				t.Errorf("DecodeSPI = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.in {
				t.Errorf("String = %s", got.String())
			}
		})
	}
	for _, bad := range []string{"2000", "4000", "8000", "0003", "0040", "0080", "00"} {
		if _, err := sp.DecodeSPI(mustHex(bad)); err == nil {
			t.Errorf("DecodeSPI(%s) accepted", bad)
		}
	}
}

func TestKeyRef(t *testing.T) {
	for _, tc := range []struct {
		ref     sp.KeyRef
		version uint8
		alg     sp.Algorithm
	}{
		{ref: 0x12, version: 1, alg: sp.AlgAES},
		{ref: 0x22, version: 2, alg: sp.AlgAES},
		{ref: 0x19, version: 1, alg: sp.AlgTripleDES3},
		{ref: 0x35, version: 3, alg: sp.AlgTripleDES2},
		{ref: 0x01, version: 0, alg: sp.AlgDES},
		{ref: 0xFD, version: 15, alg: sp.AlgDESECB},
		{ref: 0x14, version: 1, alg: sp.AlgImplicit},
	} {
		if tc.ref.Version() != tc.version || tc.ref.Algorithm() != tc.alg {
			t.Errorf("%02x: version %d algorithm %x", byte(tc.ref), tc.ref.Version(), tc.ref.Algorithm())
		}
		if sp.NewKeyRef(tc.version, sp.Algorithm(byte(tc.ref)&0xF)) != tc.ref {
			t.Errorf("NewKeyRef(%d, %x) != %02x", tc.version, tc.alg, byte(tc.ref))
		}
	}
	if d := sp.KeyRef(0x12).Describe(true, sp.IntegrityCC); d != "12 (key version 1, AES-CMAC)" {
		t.Errorf("Describe = %q", d)
	}
}

// TestDESParseOnly: a DES packet parses, but is neither built nor opened.
func TestDESParseOnly(t *testing.T) {
	pkt := mustHex("001D15" + "0219" + "11" + "11" + "b00000" + "0000000000" + "00" + "0000000000000000" + "00a40000023f00")
	p, err := sp.DecodeCommandPacket(pkt)
	if err != nil {
		t.Fatalf("DecodeCommandPacket: %v", err)
	}
	if p.KIc.Algorithm() != sp.AlgDES {
		t.Errorf("KIc algorithm %x", p.KIc.Algorithm())
	}
	keys := sp.Keys{KIc: make([]byte, 8), KID: make([]byte, 8)}
	if _, err := p.Open(keys, 0); !errors.Is(err, sp.ErrUnsupportedAlgorithm) {
		t.Errorf("Open: %v, want ErrUnsupportedAlgorithm", err)
	}
	c := sp.Command{Header: p.Header, Data: []byte{1}}
	if _, err := sp.SealCommand(nil, c, keys); !errors.Is(err, sp.ErrUnsupportedAlgorithm) {
		t.Errorf("SealCommand: %v, want ErrUnsupportedAlgorithm", err)
	}
}
