package sim_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

const serverNumber = "+33600000003"

func profile(t testing.TB) sim.Profile {
	t.Helper()
	p, err := sim.LoadProfile("../../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatalf("LoadProfile: %v", err)
	}
	return p
}

// server is the LwM2M server's side of the key set, built from the same
// profile: what the emulated server will do with the Security object.
type server struct {
	h    sp.Header
	keys sp.Keys
	ctr  uint64 // last counter sent
}

func newServer(t testing.TB) *server {
	p := profile(t)
	spi, err := sp.DecodeSPI(p.SPI)
	if err != nil {
		t.Fatal(err)
	}
	var tar sp.TAR
	copy(tar[:], p.TAR)
	return &server{
		h:    sp.Header{SPI: spi, KIc: sp.KeyRef(p.KIc[0]), KID: sp.KeyRef(p.KID[0]), TAR: tar},
		keys: sp.Keys{KIc: p.KIcKey, KID: p.KIDKey},
	}
}

// deliver secures coap and returns the class-2 / PID-0x7F SMS-DELIVER
// TPDUs (several when concatenated).
func (s *server) deliver(t testing.TB, h sp.Header, coap []byte) [][]byte {
	t.Helper()
	s.ctr++
	sd, err := sp.AppendCoAP(nil, coap)
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := sp.SealCommand(nil, sp.Command{Header: h, Counter: s.ctr, Data: sd}, s.keys)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := sp.SplitCommand(pkt, byte(s.ctr))
	if err != nil {
		t.Fatal(err)
	}
	oa, err := atpdu.ParseAddress(serverNumber)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, part := range parts {
		u, err := sp.DecodeUserData(part)
		if err != nil {
			t.Fatal(err)
		}
		var udh atpdu.UDH
		for _, ie := range u.IEs {
			udh = append(udh, atpdu.IE{IEI: ie.ID, Data: ie.Data})
		}
		d := atpdu.Deliver{OA: oa, PID: atpdu.PIDUSIMDataDownload, DCS: 0xF6,
			SCTS: atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 18}, UDH: udh, UD: u.Payload}
		tpdu, err := d.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tpdu)
	}
	return out
}

// open decodes an SMS-SUBMIT the SIM sent and opens its secured packet.
func (s *server) open(t testing.TB, tpdus [][]byte, lastRx uint64) (string, []byte, uint64) {
	t.Helper()
	var a sp.Assembler
	var da string
	for _, tpdu := range tpdus {
		sub, err := atpdu.DecodeSubmit(tpdu)
		if err != nil {
			t.Fatalf("DecodeSubmit: %v", err)
		}
		if sub.PID != atpdu.PIDUSIMDataDownload || sub.DCS != 0xF6 {
			t.Errorf("SUBMIT PID %02x DCS %02x", byte(sub.PID), byte(sub.DCS))
		}
		da = sub.DA.String()
		var ies []sp.IE
		for _, ie := range sub.UDH {
			ies = append(ies, sp.IE{ID: ie.IEI, Data: ie.Data})
		}
		pkt, done, err := a.Add(da, sp.UserData{IEs: ies, Payload: sub.UD})
		if err != nil {
			t.Fatal(err)
		}
		if !done {
			continue
		}
		p, err := sp.DecodeCommandPacket(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if err := (sp.Policy{}).Check(p.Header, &s.keys); err != nil {
			t.Errorf("SIM's packet breaks the policy: %v", err)
		}
		c, err := p.Open(s.keys, lastRx)
		if err != nil {
			t.Fatalf("server Open: %v", err)
		}
		coap, err := sp.DecodeCoAP(c.Data)
		if err != nil {
			t.Fatal(err)
		}
		return da, coap, c.Counter
	}
	t.Fatal("no complete packet")
	return "", nil, 0
}

// host is the daemon's side: a uicc.App on the card's Transmit.
func host(t testing.TB, c *sim.Card, cfg uicc.Config, send uicc.SMSSender) *uicc.App {
	t.Helper()
	a, err := uicc.New(uicc.TransportFunc(func(_ context.Context, apdu []byte) ([]byte, error) {
		return c.Transmit(apdu), nil
	}), cfg, send)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var coapGet = []byte{0x40, 0x01, 0x12, 0x34, 0xB1, 0x31} // CON GET /1

func TestDownloadGetDataReplayTamper(t *testing.T) {
	var outcomes []bool
	card, err := sim.New(profile(t), sim.Options{CounterFile: filepath.Join(t.TempDir(), "ctr.json"),
		OnDownload: func(ok bool) { outcomes = append(outcomes, ok) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	app := host(t, card, uicc.Config{}, nil)

	tpdus := srv.deliver(t, srv.h, coapGet)
	if !card.DownloadSMS(tpdus[0]) {
		t.Fatal("DownloadSMS refused a data download")
	}
	recs, err := app.GetData(ctx(t))
	if err != nil || len(recs) != 1 {
		t.Fatalf("GetData = %v, %v", recs, err)
	}
	if recs[0].Address.String() != serverNumber || !bytes.Equal(recs[0].Message, coapGet) {
		t.Errorf("record %s %x", recs[0].Address, recs[0].Message)
	}

	// Replay, tamper, wrong TAR, wrong algorithm: consumed, nothing queued.
	tampered := append([]byte{}, tpdus[0]...)
	tampered[len(tampered)-5] ^= 0x01
	wrongTAR := srv.h
	wrongTAR.TAR = sp.TAR{0xBF, 0xFF, 0x01}
	wrongAlg := srv.h
	wrongAlg.KIc, wrongAlg.KID = 0x19, 0x19
	badTPDUs := [][]byte{tpdus[0], tampered, srv.deliver(t, wrongTAR, coapGet)[0]}
	srv3 := &server{h: wrongAlg, keys: sp.Keys{KIc: bytes.Repeat([]byte{1, 2, 3}, 8), KID: bytes.Repeat([]byte{4, 5, 6}, 8)}, ctr: srv.ctr}
	badTPDUs = append(badTPDUs, srv3.deliver(t, wrongAlg, coapGet)[0])
	for i, b := range badTPDUs {
		if !card.DownloadSMS(b) {
			t.Errorf("bad SMS %d not consumed", i)
		}
	}
	recs, err = app.GetData(ctx(t))
	if err != nil || recs != nil {
		t.Fatalf("after bad SMS: GetData = %v, %v", recs, err)
	}
	if st := card.Stats(); st.Accepted != 1 || st.Dropped != 4 {
		t.Errorf("stats %+v", st)
	}
	if want := []bool{true, false, false, false, false}; !slices.Equal(outcomes, want) {
		t.Errorf("OnDownload saw %v, want %v", outcomes, want)
	}
	// Not a data download at all: refused (the modem shows it to the host).
	oa, _ := atpdu.ParseAddress(serverNumber)
	plain, _ := atpdu.Deliver{OA: oa, DCS: 0x04, SCTS: atpdu.Timestamp{Year: 2026, Month: 1, Day: 1}, UD: []byte("hi")}.Append(nil)
	if card.DownloadSMS(plain) {
		t.Error("ordinary SMS accepted as data download")
	}
}

// TestCounterPersists: a restarted card keeps refusing the replay.
func TestCounterPersists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ctr.json")
	srv := newServer(t)
	tpdu := srv.deliver(t, srv.h, coapGet)[0]
	card, _ := sim.New(profile(t), sim.Options{CounterFile: file})
	card.DownloadSMS(tpdu)
	if rx, _ := card.Counters(); rx != 1 {
		t.Fatalf("received counter %d", rx)
	}
	again, err := sim.New(profile(t), sim.Options{CounterFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if rx, _ := again.Counters(); rx != 1 {
		t.Fatalf("reloaded received counter %d", rx)
	}
	again.DownloadSMS(tpdu)
	if st := again.Stats(); st.Accepted != 0 || st.Dropped != 1 {
		t.Errorf("replay after restart: %+v", st)
	}
}

// TestStoreDataSendShortMessage: STORE DATA → 91xx → FETCH → SEND SHORT
// MESSAGE through the host's sender → TERMINAL RESPONSE; the SMS decodes
// at the server to the same CoAP message, with a fresh counter each time.
func TestStoreDataSendShortMessage(t *testing.T) {
	card, _ := sim.New(profile(t), sim.Options{})
	srv := newServer(t)
	var sent [][]byte
	app := host(t, card, uicc.Config{}, func(_ context.Context, tpdu []byte) error {
		sent = append(sent, tpdu)
		return nil
	})
	oa, _ := atpdu.ParseAddress(serverNumber)
	daField := addressField(t, oa)
	reply := []byte{0x60, 0x45, 0x12, 0x34, 0xFF, 'o', 'k'} // ACK 2.05
	for i := uint64(1); i <= 2; i++ {
		sent = nil
		if err := app.StoreData(ctx(t), daField, reply); err != nil {
			t.Fatalf("StoreData: %v", err)
		}
		da, coap, ctr := srv.open(t, sent, i-1)
		if da != serverNumber || !bytes.Equal(coap, reply) || ctr != i {
			t.Errorf("server got %s %x counter %d", da, coap, ctr)
		}
	}
	// A long message goes in several SMS, fetched one by one.
	long := bytes.Repeat([]byte{0x42}, 400)
	sent = nil
	if err := app.StoreData(ctx(t), daField, long); err != nil {
		t.Fatalf("StoreData long: %v", err)
	}
	if len(sent) < 4 {
		t.Fatalf("%d SMS for 400 octets", len(sent))
	}
	if _, coap, _ := srv.open(t, sent, 2); !bytes.Equal(coap, long) {
		t.Error("long message differs")
	}
}

// TestToolkitVariant: the modem handles the toolkit, the host sees 9000.
func TestToolkitVariant(t *testing.T) {
	var mu sync.Mutex
	var submitted [][]byte
	card, _ := sim.New(profile(t), sim.Options{Submit: func(tpdu []byte) error {
		mu.Lock()
		defer mu.Unlock()
		submitted = append(submitted, tpdu)
		return nil
	}})
	app := host(t, card, uicc.Config{}, func(context.Context, []byte) error {
		t.Error("host asked to send")
		return nil
	})
	oa, _ := atpdu.ParseAddress(serverNumber)
	if err := app.StoreData(ctx(t), addressField(t, oa), coapGet); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, coap, _ := newServer(t).open(t, submitted, 0); !bytes.Equal(coap, coapGet) {
		t.Error("submitted message differs")
	}
}

// TestEnvelopeT0ChannelsConcatenation: the host hands the SMS over with
// ENVELOPE on a T=0 card (61xx everywhere), the application on logical
// channel 1, a concatenated packet in two SMS, and a PoR asked for by the
// server's SPI coming back in the ENVELOPE response.
func TestEnvelopeT0ChannelsConcatenation(t *testing.T) {
	card, _ := sim.New(profile(t), sim.Options{T0: true})
	srv := newServer(t)
	app := host(t, card, uicc.Config{LogicalChannel: true}, nil)
	long := bytes.Repeat([]byte{0x42}, 200)
	tpdus := srv.deliver(t, srv.h, long)
	if len(tpdus) != 2 {
		t.Fatalf("%d parts", len(tpdus))
	}
	for _, tpdu := range tpdus {
		rsp, err := app.DownloadSMS(ctx(t), []byte{0x91, 0x33, 0x06, 0x00, 0x00, 0x00, 0xF1}, tpdu)
		if err != nil || rsp.SW != uicc.SWOK || rsp.Data != nil {
			t.Fatalf("DownloadSMS = %+v, %v", rsp, err)
		}
	}
	recs, err := app.GetData(ctx(t))
	if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Message, long) {
		t.Fatalf("GetData = %d records, %v", len(recs), err)
	}
	// SPI 16 09: PoR required, CC, in the DELIVER-REPORT.
	h := srv.h
	h.SPI.PoR, h.SPI.PoRIntegrity = sp.PoRRequired, sp.IntegrityCC
	rsp, err := app.DownloadSMS(ctx(t), nil, srv.deliver(t, h, coapGet)[0])
	if err != nil || rsp.SW != uicc.SWOK {
		t.Fatalf("DownloadSMS with PoR = %+v, %v", rsp, err)
	}
	u, err := sp.DecodeUserData(rsp.Data)
	if err != nil || u.Kind() != sp.KindResponse {
		t.Fatalf("PoR user data %x: %v", rsp.Data, err)
	}
	rp, err := sp.DecodeResponsePacket(u.Payload)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rp.Open(h, srv.keys)
	if err != nil || r.Status != sp.StatusOK || r.Counter != srv.ctr {
		t.Fatalf("PoR %+v, %v", r, err)
	}
	if err := app.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestProfileErrors(t *testing.T) {
	p := profile(t)
	p.KIcKey = p.KIcKey[:8]
	if _, err := sim.New(p, sim.Options{}); !errors.Is(err, sp.ErrKeyLength) {
		t.Errorf("short key: %v", err)
	}
	if _, err := sim.LoadProfile(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

// addressField encodes a as a TS 23.040 address field (atpdu has no
// exported encoder: cut it out of an SMS-SUBMIT).
func addressField(t testing.TB, a atpdu.Address) uicc.Address {
	t.Helper()
	tpdu, err := atpdu.Submit{DA: a}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return uicc.Address(tpdu[2 : len(tpdu)-3])
}

// TestPoRBySMSSubmit: SPI 16 39 asks for a ciphered, checksummed PoR in its
// own SMS-SUBMIT; the SIM raises it as SEND SHORT MESSAGE, which the host
// carries out while it fetches the CoAP message.
func TestPoRBySMSSubmit(t *testing.T) {
	card, _ := sim.New(profile(t), sim.Options{})
	srv := newServer(t)
	var sent [][]byte
	app := host(t, card, uicc.Config{}, func(_ context.Context, tpdu []byte) error {
		sent = append(sent, tpdu)
		return nil
	})
	h := srv.h
	h.SPI, _ = sp.DecodeSPI([]byte{0x16, 0x39})
	if !card.DownloadSMS(srv.deliver(t, h, coapGet)[0]) {
		t.Fatal("not downloaded")
	}
	recs, err := app.GetData(ctx(t))
	if err != nil || len(recs) != 1 {
		t.Fatalf("GetData = %v, %v", recs, err)
	}
	if len(sent) != 1 {
		t.Fatalf("%d SMS sent, want the PoR", len(sent))
	}
	sub, err := atpdu.DecodeSubmit(sent[0])
	if err != nil || sub.DA.String() != serverNumber {
		t.Fatalf("PoR SUBMIT %+v, %v", sub, err)
	}
	var ies []sp.IE
	for _, ie := range sub.UDH {
		ies = append(ies, sp.IE{ID: ie.IEI, Data: ie.Data})
	}
	if (sp.UserData{IEs: ies}).Kind() != sp.KindResponse {
		t.Fatalf("UDH %+v is not a response packet", sub.UDH)
	}
	rp, err := sp.DecodeResponsePacket(sub.UD)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rp.Open(h, srv.keys)
	if err != nil || r.Status != sp.StatusOK || r.Counter != srv.ctr || r.TAR != h.TAR {
		t.Fatalf("PoR %+v, %v", r, err)
	}
}
