package uicc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

const selectAID = "00A4040406F04C574D324D00"

func newApp(t *testing.T, s *script, cfg uicc.Config, send uicc.SMSSender) *uicc.App {
	t.Helper()
	a, err := uicc.New(s, cfg, send)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGetData: SELECT answered 61xx (T=0) → GET RESPONSE; GET DATA
// "nothing pending" is an empty result; then a record; then 6Cxx → the
// same GET DATA with the exact Le.
func TestGetData(t *testing.T) {
	s := newScript(t,
		step{want: selectAID, reply: "6104"},
		step{want: "00C0000004", reply: "62028201" + "9000"},
		step{want: "80CA000500", reply: "6A88"},
		step{want: "80CA000500", reply: dataRcv + "9000"},
		step{want: "80CA000500", reply: "6C0F"},
		step{want: "80CA00050F", reply: dataRcv + "9000"},
	)
	a := newApp(t, s, uicc.Config{}, nil)
	ctx := testCtx(t)
	recs, err := a.GetData(ctx)
	if err != nil || recs != nil {
		t.Fatalf("nothing pending: %v, %v", recs, err)
	}
	for range 2 {
		recs, err = a.GetData(ctx)
		if err != nil || len(recs) != 1 || recs[0].Address.String() != "+33600000003" ||
			!bytes.Equal(recs[0].Message, unhex(t, coapGet)) {
			t.Fatalf("GetData = %+v, %v", recs, err)
		}
	}
}

// TestSelectFailure: a wrong AID is an error carrying the status word.
func TestSelectFailure(t *testing.T) {
	s := newScript(t, step{want: selectAID, reply: "6A82"})
	a := newApp(t, s, uicc.Config{}, nil)
	_, err := a.GetData(testCtx(t))
	var se *uicc.StatusError
	if !errors.As(err, &se) || se.SW != uicc.SWFileNotFound {
		t.Fatalf("GetData = %v, want StatusError 6A82", err)
	}
}

// TestStoreDataAndSendSM: a 300-octet CoAP message goes in two STORE DATA
// blocks (P1 10 then 90, P2 = block number); the card then announces SEND
// SHORT MESSAGE, which is fetched, sent through the SMS sender and
// answered with TERMINAL RESPONSE "performed successfully".
func TestStoreDataAndSendSM(t *testing.T) {
	coap := bytes.Repeat([]byte{0xC5}, 300)
	rec, err := uicc.AppendRecord(nil, uicc.Record{Address: uicc.Address(unhex(t, serverAddr)), Message: coap}, 0x05)
	if err != nil {
		t.Fatal(err)
	}
	blk0 := fmt.Sprintf("80E21000FF%X", rec[:255])
	blk1 := fmt.Sprintf("80E29001%02X%X", len(rec)-255, rec[255:])
	s := newScript(t,
		step{want: selectAID, reply: "9000"},
		step{want: blk0, reply: "9000"},
		step{want: blk1, reply: "911E"},
		step{want: "801200001E", reply: fetchSendSM + "9000"},
		step{want: "801400000C" + trSendSMOK, reply: "9000"},
	)
	var sent [][]byte
	send := func(_ context.Context, tpdu []byte) error {
		sent = append(sent, tpdu)
		return nil
	}
	a := newApp(t, s, uicc.Config{}, send)
	if err := a.StoreData(testCtx(t), uicc.Address(unhex(t, serverAddr)), coap); err != nil {
		t.Fatalf("StoreData: %v", err)
	}
	if len(sent) != 1 || !bytes.Equal(sent[0], unhex(t, sendSMTPDU)) {
		t.Errorf("sent %x", sent)
	}
}

// TestProactiveRefusedAndFailed: a command the daemon cannot perform is
// answered "beyond terminal's capabilities"; a failing SMS send is
// reported to the card and to the caller.
func TestProactiveRefusedAndFailed(t *testing.T) {
	s := newScript(t,
		step{want: selectAID, reply: "9000"},
		step{want: "80E2900003" + "AABBCC", reply: "9111"},
		step{want: "8012000011", reply: fetchDisplay + "9000"},
		step{want: "801400000C" + trDisplayBeyond, reply: "911E"},
		step{want: "801200001E", reply: fetchSendSM + "9000"},
		step{want: "801400000C" + strings.Replace(trSendSMOK, "830100", "830121", 1), reply: "9000"},
	)
	boom := errors.New("no network")
	a := newApp(t, s, uicc.Config{}, func(context.Context, []byte) error { return boom })
	// A raw STORE DATA through the card session, then Proactive on its SW.
	ctx := testCtx(t)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rsp, err := a.Card().Exchange(ctx, uicc.Command{CLA: 0x80, INS: uicc.InsStoreData, P1: 0x90, Data: []byte{0xAA, 0xBB, 0xCC}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Proactive(ctx, rsp.SW); !errors.Is(err, boom) {
		t.Fatalf("Proactive = %v, want the sender's error", err)
	}
	// The network failed, not the card: its health stays ok.
	if h := a.Health(); h.State != uicc.HealthOK || h.LastError != nil {
		t.Fatalf("health after a failed SMS send: %+v", h)
	}
}

// TestLogicalChannel: MANAGE CHANNEL opens channel 1, SELECT and GET DATA
// carry it in CLA (00→01, 80→81), Close releases it.
func TestLogicalChannel(t *testing.T) {
	s := newScript(t,
		step{want: "0070000001", reply: "019000"},
		step{want: "01A4040406F04C574D324D00", reply: "9000"},
		step{want: "81CA000500", reply: "6A88"},
		step{want: "00708001", reply: "9000"},
	)
	a := newApp(t, s, uicc.Config{LogicalChannel: true}, nil)
	ctx := testCtx(t)
	if _, err := a.GetData(ctx); err != nil {
		t.Fatalf("GetData: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestDownloadSMS: ENVELOPE (SMS-PP DOWNLOAD) of sms-pdu.md §13; the card's
// PoR comes back as data for the SMS-DELIVER-REPORT.
func TestDownloadSMS(t *testing.T) {
	env := unhex(t, envelopeVector)
	s := newScript(t, step{want: fmt.Sprintf("80C20000%02X%X00", len(env), env), reply: "027100" + "9000"})
	a := newApp(t, s, uicc.Config{}, nil)
	d, _ := uicc.DecodeSMSPPDownload(env)
	rsp, err := a.DownloadSMS(testCtx(t), d.SMSC, d.TPDU)
	if err != nil || rsp.SW != uicc.SWOK || !bytes.Equal(rsp.Data, []byte{0x02, 0x71, 0x00}) {
		t.Fatalf("DownloadSMS = %+v, %v", rsp, err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := uicc.New(nil, uicc.Config{}, nil); err == nil {
		t.Error("nil transport accepted")
	}
	if _, err := uicc.New(newScript(t), uicc.Config{AID: []byte{1, 2}}, nil); err == nil {
		t.Error("2-octet AID accepted")
	}
}

// TestTransportError: a transport failure is an error, not a status.
func TestTransportError(t *testing.T) {
	boom := errors.New("modem gone")
	a, _ := uicc.New(uicc.TransportFunc(func(context.Context, []byte) ([]byte, error) { return nil, boom }), uicc.Config{}, nil)
	if _, err := a.GetData(testCtx(t)); !errors.Is(err, boom) {
		t.Fatalf("GetData = %v", err)
	}
}

// TestReselectAfterTransportFailure: after a failed transmit (modem gone,
// SIM reset with it) the next GET DATA selects the application again
// rather than trusting a stale selection.
func TestReselectAfterTransportFailure(t *testing.T) {
	s := newScript(t,
		step{want: selectAID, reply: "9000"},
		step{want: "80CA000500", reply: "6A88"},
		step{want: selectAID, reply: "9000"},
		step{want: "80CA000500", reply: dataRcv + "9000"},
		step{want: selectAID, reply: "9000"},
		step{want: "80CA000500", reply: "6A88"},
	)
	fail := true
	var tr uicc.TransportFunc = func(ctx context.Context, apdu []byte) ([]byte, error) {
		if fail && fmt.Sprintf("%X", apdu) == "80CA000500" && s.i == 2 {
			fail = false
			return nil, errors.New("modem: link down")
		}
		return s.Transmit(ctx, apdu)
	}
	a, err := uicc.New(tr, uicc.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if _, err := a.GetData(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetData(ctx); err == nil {
		t.Fatal("transport failure not reported")
	}
	if recs, err := a.GetData(ctx); err != nil || len(recs) != 1 {
		t.Fatalf("GetData after failure = %v, %v", recs, err)
	}
	a.Reset()
	if _, err := a.GetData(ctx); err != nil {
		t.Fatal(err)
	}
}
