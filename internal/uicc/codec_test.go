package uicc_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// +33600000003 as a TS 23.040 §9.1.2.5 address field: 11 digits, TOA 91
// (international, ISDN), BCD with F filler.
const serverAddr = "0B913306000000F3"

// A CoAP confirmable GET, message ID 0x1234, no token (RFC 7252 §3).
const coapGet = "40011234"

// dataRcv is one record of secured-packet.md §10: address ‖ 05 ‖ len16 ‖ CoAP.
const dataRcv = serverAddr + "05" + "0004" + coapGet

func TestDataRcvVector(t *testing.T) {
	b := unhex(t, dataRcv)
	recs, err := uicc.DecodeDataRcv(b, uicc.DefaultCoAPTag)
	if err != nil {
		t.Fatalf("DecodeDataRcv: %v", err)
	}
	if len(recs) != 1 || recs[0].Address.String() != "+33600000003" || !bytes.Equal(recs[0].Message, unhex(t, coapGet)) {
		t.Fatalf("records = %+v", recs)
	}
	re, err := uicc.AppendRecord(nil, recs[0], uicc.DefaultCoAPTag)
	if err != nil || !bytes.Equal(re, b) {
		t.Errorf("AppendRecord = %x, %v", re, err)
	}
	for i := 1; i < len(b); i++ {
		if _, err := uicc.DecodeRecord(b[:i], uicc.DefaultCoAPTag); err == nil {
			t.Errorf("prefix %x decoded", b[:i])
		}
	}
	if recs, err := uicc.DecodeDataRcv(nil, uicc.DefaultCoAPTag); err != nil || recs != nil {
		t.Errorf("empty: %v %v", recs, err)
	}
	two := append(append([]byte{}, b...), b...)
	if recs, err := uicc.DecodeDataRcv(two, uicc.DefaultCoAPTag); err != nil || len(recs) != 2 {
		t.Errorf("two records: %d, %v", len(recs), err)
	}
	if _, err := uicc.DecodeDataRcv(b, 0x06); !errors.Is(err, uicc.ErrTag) {
		t.Errorf("other tag: %v", err)
	}
	// A national number and an alphanumeric address.
	if s := uicc.Address(unhex(t, "04812143")).String(); s != "1234" {
		t.Errorf("national = %s", s)
	}
	if s := uicc.Address(unhex(t, "04D0C1E2")).String(); s != "toa=d0:c1e2" {
		t.Errorf("alphanumeric = %s", s)
	}
}

// envelopeVector is the ENVELOPE (SMS-PP DOWNLOAD) of sms-pdu.md §13 (pySim
// docs/smpp2sim.rst): its framing and SMS-DELIVER header (OA 02 90 21, PID
// 7F, DCS F6, SCTS 22 70 52 00 00 00 00, UDL 2D) with secured-packet.md V1's
// user data in place of the elided one (same length, 45 octets).
const envelopeVector = "D147" + "82028381" + "860400103254" + "8B3B" +
	"400290217FF6" + "22705200000000" + "2D" + v1UD

const v1UD = "027000" + "0028150619222" + "2b00011" +
	"e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058"

func TestSMSPPDownloadVector(t *testing.T) {
	b := unhex(t, envelopeVector)
	d, err := uicc.DecodeSMSPPDownload(b)
	if err != nil {
		t.Fatalf("DecodeSMSPPDownload: %v", err)
	}
	if !bytes.Equal(d.SMSC, unhex(t, "00103254")) || len(d.TPDU) != 0x3B {
		t.Errorf("decoded %+v", d)
	}
	re, err := d.Append(nil)
	if err != nil || !bytes.Equal(re, b) {
		t.Errorf("Append\n got %x\nwant %x (%v)", re, b, err)
	}
	for i := 0; i < len(b); i++ {
		if _, err := uicc.DecodeSMSPPDownload(b[:i]); err == nil {
			t.Errorf("prefix of %d octets decoded", i)
		}
	}
}

// TS 102 223 §6.6.9 SEND SHORT MESSAGE from the UICC to the network, and the
// TERMINAL RESPONSE "performed successfully" (TS 102 223 §6.8).
const (
	sendSMTPDU      = "0100" + serverAddr + "7FF6" + "04" + "DEADBEEF"
	fetchSendSM     = "D01C" + "8103011300" + "82028183" + "8B11" + sendSMTPDU
	trSendSMOK      = "8103011300" + "82028281" + "830100"
	fetchDisplay    = "D00F" + "8103012180" + "82028102" + "8D0404414243"
	trDisplayBeyond = "8103012180" + "82028281" + "830130"
)

func TestProactiveVectors(t *testing.T) {
	b := unhex(t, fetchSendSM)
	pc, err := uicc.DecodeProactiveCommand(b)
	if err != nil {
		t.Fatalf("DecodeProactiveCommand: %v", err)
	}
	want := uicc.NewSendShortMessage(1, nil, unhex(t, sendSMTPDU))
	if !reflect.DeepEqual(pc, want) {
		t.Errorf("decoded %+v\nwant %+v", pc, want)
	}
	if re, err := pc.Append(nil); err != nil || !bytes.Equal(re, b) {
		t.Errorf("Append = %x, %v", re, err)
	}
	for i := 0; i < len(b); i++ {
		if _, err := uicc.DecodeProactiveCommand(b[:i]); err == nil {
			t.Errorf("prefix of %d octets decoded", i)
		}
	}
	tr := uicc.ResponseTo(pc, uicc.ResultOK)
	got, err := tr.Append(nil)
	if err != nil || !bytes.Equal(got, unhex(t, trSendSMOK)) {
		t.Errorf("terminal response = %x, %v", got, err)
	}
	back, err := uicc.DecodeTerminalResponse(got)
	if err != nil || back.Result != uicc.ResultOK || back.Type != uicc.TypeSendShortMessage {
		t.Errorf("DecodeTerminalResponse = %+v, %v", back, err)
	}
}
