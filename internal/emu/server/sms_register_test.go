package server

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
)

// phone is a client's number on the network: it collects the SMS the
// server sends it.
type phone struct{ ch chan []byte }

func (p phone) Deliver(_ context.Context, tpdu []byte) error {
	d, err := atpdu.DecodeDeliver(tpdu)
	if err == nil {
		p.ch <- bytes.Clone(d.UD)
	}
	return nil
}
func (phone) DeliverStatusReport(context.Context, []byte) error { return nil }

// TestSMSRegisterBlock1Served: a client registers over NoSec SMS with a
// Block1 Register in two 16-octet blocks (RFC 7959 §2.3: 2.31 Continue,
// then 2.01); the registration lands in the UDP side's registry and event
// stream, and the server reads the client back over SMS.
func TestSMSRegisterBlock1Served(t *testing.T) {
	leakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw := network.New(network.Config{Log: smsTestLog(), Seed: 1})
	defer nw.Close()
	dev := phone{ch: make(chan []byte, 16)}
	nw.Attach(tDevice, dev)
	srv, err := Start(Config{Log: smsTestLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Subscribe()
	sms, err := StartSMS(SMSConfig{Network: nw, Numbers: map[SMSMode]string{SMSNoSec: tNoSec}, Server: srv, Log: smsTestLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer sms.Close()

	links := []byte("</1/0>,</3/0>,</1024/0>,</1024/1>") // 33 octets: blocks of 16, 16, 1
	send := func(m message.Message) {
		t.Helper()
		b := make([]byte, 140)
		n, err := coder.DefaultCoder.Encode(m, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := nw.SendFrom(tDevice, tNoSec, atpdu.Deliver{DCS: 0x04, UD: b[:n]}); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() message.Message {
		t.Helper()
		select {
		case ud := <-dev.ch:
			m := message.Message{Options: make(message.Options, 0, 8)}
			if _, err := coder.DefaultCoder.Decode(ud, &m); err != nil {
				t.Fatalf("server SMS %x: %v", ud, err)
			}
			m.Payload = bytes.Clone(m.Payload)
			m.Token = bytes.Clone(m.Token)
			return m
		case <-ctx.Done():
			t.Fatal("no SMS from the server")
		}
		return message.Message{}
	}
	tok := []byte{0xA1, 0x07}
	for num := 0; num*16 < len(links); num++ {
		end := min((num+1)*16, len(links))
		more := end < len(links)
		v := uint32(num<<4) | 0 // SZX 0: 16 octets
		if more {
			v |= 8
		}
		buf := make([]byte, 256)
		opts, n, _ := message.Options{}.SetPath(buf, "/rd")
		buf = buf[n:]
		for _, q := range []string{"ep=sms-client", "lt=300", "lwm2m=1.0", "b=S", "sms=33611111111"} {
			opts = opts.Add(message.Option{ID: message.URIQuery, Value: []byte(q)})
		}
		opts, n, _ = opts.SetContentFormat(buf, message.AppLinkFormat)
		buf = buf[n:]
		opts, n, _ = opts.SetUint32(buf, message.Block1, v)
		buf = buf[n:]
		opts, _, _ = opts.SetUint32(buf, message.Size1, uint32(len(links)))
		send(message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: int32(100 + num), Token: tok,
			Options: opts, Payload: links[num*16 : end]})
		r := recv()
		if r.MessageID != int32(100+num) || !bytes.Equal(r.Token, tok) {
			t.Fatalf("answer %v to block %d", r, num)
		}
		if more && r.Code != codes.Continue || !more && r.Code != codes.Created {
			t.Fatalf("block %d answered %v", num, r.Code)
		}
		if !more {
			if lp, _ := r.Options.LocationPath(); lp == "" {
				t.Errorf("2.01 without Location-Path")
			}
		}
	}
	var ev Event
	select {
	case ev = <-events:
	case <-ctx.Done():
		t.Fatal("no event")
	}
	if ev.Kind != Registered || ev.Endpoint != "sms-client" || ev.Links != string(links) || ev.Query["b"] != "S" {
		t.Fatalf("event %+v", ev)
	}

	// The server reads the client over SMS.
	c := srv.Client("sms-client")
	got := make(chan Response, 1)
	go func() {
		r, err := c.Read(ctx, "/3/0/0", 0)
		if err != nil {
			t.Errorf("read: %v", err)
		}
		got <- r
	}()
	req := recv()
	if p, _ := req.Options.Path(); req.Code != codes.GET || p != "3/0/0" && p != "/3/0/0" {
		t.Fatalf("server request %v", req)
	}
	opts, _, _ := message.Options{}.SetContentFormat(make([]byte, 2), message.TextPlain)
	send(message.Message{Type: message.Acknowledgement, Code: codes.Content, MessageID: req.MessageID, Token: req.Token,
		Options: opts, Payload: []byte("emulated")})
	select {
	case r := <-got:
		if r.Code != codes.Content || string(r.Payload) != "emulated" {
			t.Errorf("read %v", r)
		}
	case <-ctx.Done():
		t.Fatal("read never returned")
	}
	st := sms.Stats()[SMSNoSec]
	if st.In != 4 || st.Out != 4 || st.Largest > atpdu.MaxUDOctets {
		t.Errorf("stats %+v", st)
	}
}
