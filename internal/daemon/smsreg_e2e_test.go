package daemon_test

// End-to-end tests of registration over SMS (bindings S and SQ, LwM2M-TS
// 1.0 §5.3.1.1 Table 8, §8.6.2): the daemon with the emulated modem, SIM
// and SMS network, and the emulated LwM2M server's SMS side serving the
// client's requests (internal/emu/server, SMSConfig.Server) in each SMS
// security mode. Register (block-wise when it does not fit one SMS), a Read
// and an Observe with one notification, an Update and the De-register all
// travel as SMS; no UDP socket is involved.

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
)

// regWorld is the emulated world with the emulated server answering SMS.
type regWorld struct {
	t      *testing.T
	ctx    context.Context
	net    *network.Network
	emu    *modem.Modem
	srv    *server.Server
	sms    *server.SMSServer
	events <-chan server.Event
	link   string
	dir    string
}

func newRegWorld(t *testing.T) *regWorld {
	t.Helper()
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	w := &regWorld{t: t, ctx: ctx, dir: t.TempDir()}
	dev := newDevice(t, sim.Options{Logger: testLog()})
	w.net, w.link, w.emu = dev.net, dev.link, dev.emu
	// Secured packets reach the host, which hands them to the SIM by
	// ENVELOPE at once (the GET DATA poll would add up to 5 s per request).
	w.emu.SetQuirks(func(q *modem.Quirks) { q.DownloadToSIM = false })
	var err error
	w.srv, err = server.Start(server.Config{Log: testLog().With("side", "server"), RequestTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.events = w.srv.Subscribe()
	spc, err := server.SecurePacketFromProfile(dev.prof)
	if err != nil {
		t.Fatal(err)
	}
	w.sms, err = server.StartSMS(server.SMSConfig{
		Network:     w.net,
		Numbers:     map[server.SMSMode]string{server.SMSNoSec: nosecNumber, server.SMSDTLS: dtlsNumber, server.SMSSecurePacket: spNumber},
		PSKIdentity: []byte("lwm2m-clientd-test"), PSK: dtlsKey,
		SecurePacket: &spc, InitialRTO: 2 * time.Second,
		Server: w.srv, Log: testLog().With("side", "server-sms"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.sms.Close()
		w.srv.Close()
		cancel()
	})
	return w
}

// start runs the daemon with configs/sms-<mode>.yaml and binding b until it
// registered, and returns the Register event.
func (w *regWorld) start(mode, b string, tweak ...func(*config.Config)) (*daemon.Daemon, func(), server.Event) {
	w.t.Helper()
	cfg, err := config.Load("../../configs/sms-" + mode + ".yaml")
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.Servers[0].Binding = config.Binding(b)
	for _, f := range tweak {
		f(cfg)
	}
	o := daemonOptions(w.dir, w.link)
	o.SMSInitialRTO, o.SMSQueueAwake = 2*time.Second, 300*time.Millisecond
	d, err := daemon.New(cfg, o)
	if err != nil {
		w.t.Fatal(err)
	}
	stop := runDaemon(w.t, w.ctx, d)
	reg := w.next(server.Registered)
	return d, stop, reg
}

// waitState waits until the registration of server 1 is in state.
func (w *regWorld) waitState(d *daemon.Daemon, state string) {
	w.t.Helper()
	for {
		if e := d.Engine(); e != nil {
			if st := e.State(); len(st) > 0 && st[0].State == state {
				return
			}
		}
		select {
		case <-w.ctx.Done():
			w.t.Fatalf("registration never %s: %+v", state, d.Engine().State())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (w *regWorld) next(k server.EventKind) server.Event {
	w.t.Helper()
	return nextEvent(w.t, w.ctx, w.events, k)
}

// deviceSMS returns the user data of every SMS the device sent to number,
// checking the 140-octet rule on each (TS 23.040 §9.2.3.24).
func (w *regWorld) deviceSMS(number string) [][]byte {
	w.t.Helper()
	var out [][]byte
	for _, sub := range deviceSubmits(w.t, w.net) {
		if sub.DA.String() == number {
			out = append(out, sub.UD)
		}
	}
	return out
}

var modeOf = map[string]server.SMSMode{"nosec": server.SMSNoSec, "dtls": server.SMSDTLS, "secure-packet": server.SMSSecurePacket}
var numberOf = map[string]string{"nosec": nosecNumber, "dtls": dtlsNumber, "secure-packet": spNumber}

// TestSMSRegistration: binding S in each SMS security mode. Register over
// SMS (Block1 when it does not fit one SMS), a Read served on the
// registration's connection, an Observe and one notification, an Update
// triggered over SMS, and the De-register on stop, all as SMS of at most
// 140 octets.
func TestSMSRegistration(t *testing.T) {
	for _, mode := range []string{"nosec", "dtls", "secure-packet"} {
		t.Run(mode, func(t *testing.T) {
			w := newRegWorld(t)
			sm := modeOf[mode]
			d, stop, reg := w.start(mode, "S")
			if reg.Query["b"] != "S" || reg.Query["sms"] != strings.TrimPrefix(deviceNumber, "+") || reg.Endpoint != "lwm2m-clientd-test" {
				t.Errorf("register query %v endpoint %s", reg.Query, reg.Endpoint)
			}
			if reg.Links == "" || !strings.Contains(reg.Links, "</1/") {
				t.Errorf("register links %q", reg.Links)
			}
			// The server emits the event before its 2.01 goes out: count once
			// the client has it.
			w.waitState(d, "registered")
			st := w.sms.Stats()[sm]
			regIn, regOut := st.In-st.HandshakeIn, st.Out-st.HandshakeOut
			t.Logf("%s: Register over SMS: %d SMS to the server (%d octets incl. handshake), %d back; handshake %d/%d SMS; largest %d octets; links %d octets",
				mode, regIn, st.BytesIn, regOut, st.HandshakeIn, st.HandshakeOut, st.Largest, len(reg.Links))
			// The shipped object set's links with Connectivity Monitoring
			// (25 octets) fit one SMS with the Register's options in NoSec
			// and DTLS (98 octets of CoAP; 111 fit one DTLS record), no
			// Block1; a secured packet holds 96: the SIM sends it as two
			// concatenated SMS (secured-packet.md §8).
			wantIn := uint64(1)
			if mode == "secure-packet" {
				wantIn = 2
			}
			if regIn != wantIn || regOut != 1 {
				t.Errorf("Register took %d SMS in and %d out, want %d and 1", regIn, regOut, wantIn)
			}
			if mode == "nosec" {
				checkRegisterSMS(t, w.deviceSMS(nosecNumber), reg.Links)
			}

			c := w.srv.Client("lwm2m-clientd-test")
			if c == nil {
				t.Fatal("client not in the registry")
			}
			before := w.sms.Stats()[sm]
			resp, err := c.Read(w.ctx, "/3/0", -1)
			if err != nil || resp.Code != codes.Content || len(resp.Payload) == 0 {
				t.Fatalf("Read /3/0 over SMS: %v %v", resp, err)
			}
			after := w.sms.Stats()[sm]
			t.Logf("%s: Read /3/0 (%d octets): %d SMS out, %d in", mode, len(resp.Payload), after.Out-before.Out, after.In-before.In)

			if r, err := c.WriteAttributes(w.ctx, "/3/0/0", "pmax=1"); err != nil || r.Code != codes.Changed {
				t.Fatalf("write attributes: %v %v", r, err)
			}
			o, err := c.Observe(w.ctx, "/3/0/0", -1)
			if err != nil {
				t.Fatalf("Observe over SMS: %v", err)
			}
			before = w.sms.Stats()[sm]
			select {
			case n := <-o.C():
				after = w.sms.Stats()[sm]
				t.Logf("%s: notification over SMS: seq %d, %q (%d SMS in, %d out: NON)", mode, n.Seq, n.Payload, after.In-before.In, after.Out-before.Out)
			case <-w.ctx.Done():
				t.Fatal("no notification over SMS")
			}
			// Cancel (RFC 7641 §3.6) before the Update: no notification
			// crosses the next exchanges (secured packets that overtake one
			// another are refused by the counter check, and nothing
			// retransmits over SMS).
			if r, err := o.Cancel(w.ctx); err != nil || r.Code != codes.Content {
				t.Fatalf("cancel observation over SMS: %v %v", r, err)
			}

			before = w.sms.Stats()[sm]
			if r, err := c.Execute(w.ctx, "/1/0/8", ""); err != nil || r.Code != codes.Changed {
				t.Fatalf("trigger over SMS: %v %v", r, err)
			}
			up := w.next(server.Updated)
			after = w.sms.Stats()[sm]
			t.Logf("%s: trigger and Update over SMS: %d SMS out, %d in (query %v)", mode, after.Out-before.Out, after.In-before.In, up.Query)

			stop()
			w.next(server.Deregistered)
			final := w.sms.Stats()[sm]
			if final.Largest > atpdu.MaxUDOctets {
				t.Errorf("largest SMS %d octets", final.Largest)
			}
			w.deviceSMS(numberOf[mode]) // checks every device SMS ≤ 140
			t.Logf("%s: totals: %d SMS in (%d octets), %d out (%d octets), largest %d", mode, final.In, final.BytesIn, final.Out, final.BytesOut, final.Largest)
		})
	}
}

// checkRegisterSMS decodes the device's NoSec Register SMS: 2-byte tokens,
// and either one message or consecutive Block1 blocks (RFC 7959 §2.2) of
// one size whose payloads make the links.
func checkRegisterSMS(t *testing.T, sms [][]byte, links string) {
	t.Helper()
	var got []byte
	blocks := 0
	for _, ud := range sms {
		m := message.Message{Options: make(message.Options, 0, 16)}
		if _, err := coder.DefaultCoder.Decode(ud, &m); err != nil {
			t.Fatalf("device SMS %x is not CoAP: %v", ud, err)
		}
		if m.Code != codes.POST {
			continue
		}
		if p, _ := m.Options.Path(); strings.Trim(p, "/") != "rd" {
			continue
		}
		if len(m.Token) != 2 {
			t.Errorf("token %x: want 2 octets", m.Token)
		}
		v, err := m.Options.GetUint32(message.Block1)
		if err != nil {
			got = append(got, m.Payload...)
			t.Logf("Register in one SMS: %d octets, token %x", len(ud), m.Token)
			continue
		}
		num, size := int(v>>4), 16<<(v&7)
		if num != blocks || len(got) != num*size {
			t.Errorf("block %d of size %d at offset %d", num, size, len(got))
		}
		got = append(got, m.Payload...)
		blocks++
		t.Logf("Register block %d: %d octets in one SMS (block size %d)", num, len(ud), size)
	}
	if string(got) != links {
		t.Errorf("blocks carry %q, want %q", got, links)
	}
}

// TestSMSQueueModeRegistration: binding SQ over DTLS. The client registers
// over SMS, sleeps after its (shortened) awake time, and an Execute of
// /1/0/8 sent over SMS while it sleeps is answered and wakes it: the Update
// follows over SMS.
func TestSMSQueueModeRegistration(t *testing.T) {
	w := newRegWorld(t)
	d, stop, reg := w.start("dtls", "SQ")
	if reg.Query["b"] != "SQ" {
		t.Errorf("b=%s", reg.Query["b"])
	}
	w.waitState(d, "sleeping")
	c := w.srv.Client("lwm2m-clientd-test")
	if r, err := c.Execute(w.ctx, "/1/0/8", ""); err != nil || r.Code != codes.Changed {
		t.Fatalf("trigger over SMS while asleep: %v %v", r, err)
	}
	w.next(server.Updated)
	stop()
	w.next(server.Deregistered)
	st := w.sms.Stats()[server.SMSDTLS]
	t.Logf("SQ over DTLS: %d SMS in, %d out, largest %d", st.In, st.Out, st.Largest)
	if st.Largest > atpdu.MaxUDOctets {
		t.Errorf("largest SMS %d", st.Largest)
	}
}

// TestSecurePacketBudget checks daemon.SMSMaxCoAP for secured packets
// against internal/securedpacket with the emulated SIM's keys (AES-CBC and
// an 8-octet AES CMAC, configs/emulator-sim.yaml): a CoAP message of that
// size is one SMS, one octet more is two.
func TestSecurePacketBudget(t *testing.T) {
	prof, err := sim.LoadProfile("../../configs/emulator-sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spc, err := server.SecurePacketFromProfile(prof)
	if err != nil {
		t.Fatal(err)
	}
	parts := func(n int) int {
		data, err := sp.AppendCoAP(nil, make([]byte, n))
		if err != nil {
			t.Fatal(err)
		}
		pkt, err := sp.SealCommand(nil, sp.Command{Header: spc.Header, Counter: 1, Data: data}, spc.Keys)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := sp.SplitCommand(pkt, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if len(p) > atpdu.MaxUDOctets {
				t.Errorf("part of %d octets", len(p))
			}
		}
		return len(ps)
	}
	max := daemon.SMSMaxCoAP(smsbind.ModeSecurePacket)
	if got := parts(max); got != 1 {
		t.Errorf("%d octets of CoAP: %d SMS, want 1", max, got)
	}
	if got := parts(max + 1); got != 2 {
		t.Errorf("%d octets of CoAP: %d SMS, want 2", max+1, got)
	}
	if got := daemon.SMSMaxCoAP(smsbind.ModeDTLS); got != 111 {
		t.Errorf("DTLS: %d, want 140 − 29 = 111", got)
	}
}

// TestSMSRegistrationLongLinks: an endpoint "urn:imei:…" and two more
// (UDP) servers make the links and options too long for one SMS. Over DTLS
// the Register goes Block1 in the largest block that fits one record in one
// SMS; in secure-packet mode it goes whole and the SIM concatenates.
func TestSMSRegistrationLongLinks(t *testing.T) {
	for _, mode := range []string{"dtls", "secure-packet"} {
		t.Run(mode, func(t *testing.T) {
			w := newRegWorld(t)
			sm := modeOf[mode]
			extra := func(cfg *config.Config) {
				cfg.Endpoint = "urn:imei:{imei}"
				for ssid := 2; ssid <= 3; ssid++ {
					srv, err := server.Start(server.Config{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { srv.Close() })
					s := cfg.Servers[0]
					s.ShortServerID, s.URI, s.Binding, s.SMS = ssid, srv.URI(), "U", nil
					cfg.Servers = append(cfg.Servers, s)
				}
			}
			d, stop, reg := w.start(mode, "S", extra)
			w.waitState(d, "registered")
			st := w.sms.Stats()[sm]
			regIn, regOut := st.In-st.HandshakeIn, st.Out-st.HandshakeOut
			t.Logf("%s: endpoint %s, %d octets of links: Register %d SMS in, %d out; largest %d octets",
				mode, reg.Endpoint, len(reg.Links), regIn, regOut, st.Largest)
			if !strings.HasPrefix(reg.Endpoint, "urn:imei:") || strings.Count(reg.Links, "</1/") != 3 {
				t.Errorf("endpoint %s links %q", reg.Endpoint, reg.Links)
			}
			switch mode {
			case "dtls": // Block1: one answer per block
				if regIn < 2 || regOut != regIn {
					t.Errorf("Register over DTLS: %d SMS in, %d out; want ≥ 2 blocks, one answer each", regIn, regOut)
				}
			case "secure-packet": // concatenated: one answer
				if regIn < 2 || regOut != 1 {
					t.Errorf("Register in secured packets: %d SMS in, %d out; want ≥ 2 concatenated, 1 answer", regIn, regOut)
				}
			}
			c := w.srv.Client(reg.Endpoint)
			if r, err := c.Read(w.ctx, "/1/0/1", -1); err != nil || r.Code != codes.Content {
				t.Errorf("read over SMS: %v %v", r, err)
			}
			stop()
			w.next(server.Deregistered)
			w.deviceSMS(numberOf[mode])
			if st := w.sms.Stats()[sm]; st.Largest > atpdu.MaxUDOctets {
				t.Errorf("largest %d", st.Largest)
			}
		})
	}
}

// TestSMSOnlyDTLSConfigThroughBridge runs the shipped configs/sms-only-dtls.yaml
// as `lwm2m-clientd emulator --bridge` would carry it: the server's SMS
// number is bridged to a DTLS LwM2M server on loopback UDP (handshake MTU
// 115, so every datagram fits one SMS). The client registers, is read and
// de-registers over DTLS over SMS through the bridge.
func TestSMSOnlyDTLSConfigThroughBridge(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dev := newDevice(t, sim.Options{Logger: testLog()})
	nw := dev.net
	srv, err := server.Start(server.Config{PSK: map[string][]byte{"lwm2m-clientd-test": dtlsKey}, MTU: smsdtls.HandshakeMTU,
		RequestTimeout: 30 * time.Second, Log: testLog().With("side", "server")})
	if err != nil {
		t.Fatal(err)
	}
	events := srv.Subscribe()
	defer srv.Close()
	peer, err := net.ResolveUDPAddr("udp", strings.TrimPrefix(srv.URI(), "coaps://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nw.Bridge(dtlsNumber, peer, deviceNumber); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("../../configs/sms-only-dtls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := daemonOptions(t.TempDir(), dev.link)
	o.SMSInitialRTO = 2 * time.Second
	d, err := daemon.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, ctx, d)
	defer stop()
	next := func(k server.EventKind) server.Event {
		t.Helper()
		return nextEvent(t, ctx, events, k)
	}
	reg := next(server.Registered)
	if reg.Query["b"] != "S" || reg.Query["sms"] != strings.TrimPrefix(deviceNumber, "+") {
		t.Errorf("register %v", reg.Query)
	}
	r, err := srv.Client(reg.Endpoint).Read(ctx, "/3/0", -1)
	if err != nil || r.Code != codes.Content {
		t.Fatalf("read through the bridge: %v %v", r, err)
	}
	stop()
	next(server.Deregistered)
	bs, _ := nw.BridgeStats(dtlsNumber)
	if bs.LargestToPeer > atpdu.MaxUDOctets || bs.LargestFromPeer > atpdu.MaxUDOctets || bs.DroppedOversize != 0 || bs.DroppedIncompatible != 0 {
		t.Errorf("bridge %+v", bs)
	}
	out, in, largest := bs.ToPeer, bs.FromPeer, max(bs.LargestToPeer, bs.LargestFromPeer)
	t.Logf("binding S over DTLS through the bridge: handshake, Register, Read /3/0 (%d octets), De-register: %d SMS from the device, %d to it, largest %d octets",
		len(r.Payload), out, in, largest)
}

// TestSMSFallbackUS: binding US with the UDP server unreachable. After
// lwm2m.SMSFallbackAfter failed attempts over UDP the client registers over
// SMS (DTLS), is read over SMS on that registration's connection, and
// de-registers over SMS; before that, the SMS connection was ServeConn's.
func TestSMSFallbackUS(t *testing.T) {
	w := newRegWorld(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "coap://" + pc.LocalAddr().String() // nothing answers there
	defer pc.Close()
	cfg, err := config.Load("../../configs/sms-dtls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Servers[0].Binding = "US"
	cfg.Servers[0].URI = dead
	o := daemonOptions(w.dir, w.link)
	o.SMSInitialRTO = 2 * time.Second
	o.Engine = lwm2m.Config{RequestTimeout: 300 * time.Millisecond, RetryInitial: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}
	d, err := daemon.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, w.ctx, d)
	defer stop()
	reg := w.next(server.Registered)
	if reg.Query["b"] != "US" || reg.Query["sms"] != strings.TrimPrefix(deviceNumber, "+") {
		t.Errorf("register %v", reg.Query)
	}
	if st := d.Engine().State(); st[0].URI != dead {
		t.Errorf("state %+v", st)
	}
	r, err := w.srv.Client(reg.Endpoint).Read(w.ctx, "/3/0/0", -1)
	if err != nil || r.Code != codes.Content {
		t.Fatalf("read over the SMS fallback: %v %v", r, err)
	}
	stop()
	w.next(server.Deregistered)
	st := w.sms.Stats()[server.SMSDTLS]
	t.Logf("US fallback over DTLS: %d SMS in, %d out (handshake %d/%d), largest %d", st.In, st.Out, st.HandshakeIn, st.HandshakeOut, st.Largest)
}
