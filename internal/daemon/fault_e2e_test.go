package daemon_test

// Fault injection through the whole daemon (issue 10): the emulated
// network loses, duplicates, reorders and delays SMS; the emulated modem
// is unplugged during a send and a receive, reboots, answers +CMS ERROR in
// bursts, fills its SMS storage, writes garbage; the SIM stops answering
// +CSIM. The server's side is internal/emu/server's SMS side, which retries
// an unanswered request with the same Message ID and token, as an LwM2M
// server over SMS does (LwM2M-TS 1.0 §8.6.2 leaves the retry to the
// application). What is asserted is what the server sees: each exchange
// completes or fails within its deadline, and an Execute of the
// Registration Update Trigger is acted on once (one Update), however many
// copies of it arrived.
//
// Timers are scaled down, not slept on: the DTLS retransmission timeout,
// the handshake budget, the server's retry and the network's delays are
// divided by faultScale; the emulated modem's acknowledgement timer too.

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
)

// faultScale divides the SMS-scale timers (10 s DTLS RTO, 150 s handshake
// budget, minutes of network delay) so that the tests take seconds.
const faultScale = 50

func scaled(d time.Duration) time.Duration { return d / faultScale }

// scaledConfig scales the configuration's SMS timers like the rest: the
// flood limits' intervals (the server's scaled retries would otherwise
// exceed them) and the DTLS handshake budget.
func scaledConfig(c *config.Config) {
	c.SMS.RateLimit.PerSender.Interval = config.Duration(scaled(c.SMS.RateLimit.PerSender.Interval.D()))
	c.SMS.RateLimit.Global.Interval = config.Duration(scaled(c.SMS.RateLimit.Global.Interval.D()))
	c.SMS.DTLS.HandshakeTimeout = config.Duration(scaled(c.SMS.DTLS.HandshakeTimeout.D()))
}

// startWith is world.start with the daemon's options adjusted by opt,
// waiting for the Register without checking it.
func (w *world) startWith(mode string, opt func(*daemon.Options)) *running {
	w.t.Helper()
	r, _ := w.launch(mode, opt)
	w.next(server.Registered)
	return r
}

// handledSink drains the world's handled signals in the background (the
// server's retries make their number unpredictable) until the test ends.
func (w *world) handledSink() {
	background(w.t, w.ctx, func(ctx context.Context) {
		for {
			select {
			case <-w.handled:
			case <-ctx.Done():
				return
			}
		}
	})
}

// smsServer starts the emulated server's SMS side on the world's network
// for the given modes (replacing the world's inboxes for those numbers).
func (w *world) smsServer(modes ...server.SMSMode) *server.SMSServer {
	w.t.Helper()
	nums := map[server.SMSMode]string{server.SMSNoSec: nosecNumber, server.SMSDTLS: dtlsNumber, server.SMSSecurePacket: spNumber}
	cfg := server.SMSConfig{
		Network: w.net, Numbers: map[server.SMSMode]string{},
		PSKIdentity: []byte("lwm2m-clientd-test"), PSK: dtlsKey,
		InitialRTO:         scaled(smsdtls.DefaultInitialRTO),
		HandshakeTimeout:   scaled(150 * time.Second),
		RetransmitInterval: scaled(smsdtls.DefaultInitialRTO),
		Log:                testLog().With("side", "server"),
	}
	for _, m := range modes {
		cfg.Numbers[m] = nums[m]
		if m == server.SMSSecurePacket {
			p, err := sim.LoadProfile("../../configs/emulator-sim.yaml")
			if err != nil {
				w.t.Fatal(err)
			}
			spc, err := server.SecurePacketFromProfile(p)
			if err != nil {
				w.t.Fatal(err)
			}
			cfg.SecurePacket = &spc
		}
	}
	s, err := server.StartSMS(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { s.Close() })
	return s
}

// updateCounter counts the server's Update events in the background
// (it takes over w.events).
type updateCounter struct {
	mu      sync.Mutex
	n       int           // guarded by mu
	changed chan struct{} // signalled after each Update
	dereg   chan struct{} // closed on the De-register
}

func (w *world) countUpdates() *updateCounter {
	u := &updateCounter{changed: make(chan struct{}, 1), dereg: make(chan struct{})}
	background(w.t, w.ctx, func(ctx context.Context) {
		for {
			select {
			case ev := <-w.events:
				switch ev.Kind {
				case server.Updated:
					u.mu.Lock()
					u.n++
					u.mu.Unlock()
					select {
					case u.changed <- struct{}{}:
					default:
					}
				case server.Deregistered:
					close(u.dereg)
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
	return u
}

func (u *updateCounter) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n
}

// atLeast waits until n Updates were counted.
func (u *updateCounter) atLeast(w *world, n int) {
	w.t.Helper()
	for u.count() < n {
		select {
		case <-u.changed:
		case <-w.ctx.Done():
			w.t.Fatalf("%d Updates, want at least %d", u.count(), n)
		}
	}
}

// final waits for the De-register and returns the Updates counted.
func (u *updateCounter) final(w *world) int {
	w.t.Helper()
	select {
	case <-u.dereg:
	case <-w.ctx.Done():
		w.t.Fatal("no De-register")
	}
	return u.count()
}

// execTrigger runs the server's Execute of /1/0/8 with deadline d and
// checks it ended within it (plus the server's retry tick of slack); ok
// reports a 2.04.
func execTrigger(t *testing.T, ctx context.Context, c *server.SMSClient, d time.Duration) (ok bool, err error) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t0 := time.Now()
	resp, err := c.Execute(rctx, "/1/0/8", "")
	if el := time.Since(t0); el > d+time.Second {
		t.Errorf("the exchange took %v, deadline %v", el, d)
	}
	switch {
	case err == nil && resp.Code != codes.Changed:
		t.Errorf("trigger answered %v", resp.Code)
	case err != nil && !errors.Is(err, server.ErrSMSTimeout):
		t.Errorf("trigger failed other than by its deadline: %v", err)
	}
	return err == nil && resp.Code == codes.Changed, err
}

// The DTLS handshake and then CoAP exchanges over an emulated network that
// loses 20% of the SMS, duplicates 10% and reorders them (jitter), then a
// network that delays every SMS by a scaled minute or two: the handshake
// completes, each exchange completes or fails within its deadline, and no
// trigger is acted on twice.
func TestFaultsNetworkDTLS(t *testing.T) {
	w := newWorld(t, false)
	w.handledSink()
	w.tweak = scaledConfig
	srv := w.smsServer(server.SMSDTLS)
	w.net.SetFaults(network.Faults{Loss: 0.2, Duplication: 0.1, Jitter: network.Duration(scaled(30 * time.Second))})
	r := w.startWith("dtls", func(o *daemon.Options) { o.SMSInitialRTO = scaled(smsdtls.DefaultInitialRTO) })
	t0 := time.Now()
	for !srv.DTLSEstablished(deviceNumber) {
		select {
		case <-w.ctx.Done():
			t.Fatalf("no DTLS session under loss; daemon: %+v", r.d.Status(context.Background()).Servers)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("handshake under 20%% loss, 10%% duplication, reordering: %v, %d SMS from the device", time.Since(t0).Round(time.Millisecond), len(w.deviceSent()))

	c := srv.SMS(server.SMSDTLS, deviceNumber)
	ups := w.countUpdates()
	const triggers = 8
	okCount := 0
	deadline := 12 * scaled(smsdtls.DefaultInitialRTO) // a dozen server retries
	for range triggers {
		if ok, _ := execTrigger(t, w.ctx, c, deadline); ok {
			okCount++
		}
	}
	// Delays of a (scaled) minute to two on every SMS, in both
	// directions: the server retries several times before the first
	// answer can come back; the duplicates must not act twice.
	w.net.SetFaults(network.Faults{Delay: network.Duration(scaled(time.Minute)), Jitter: network.Duration(scaled(time.Minute))})
	slow := 0
	for range 2 {
		if ok, _ := execTrigger(t, w.ctx, c, 4*scaled(2*time.Minute)); ok {
			slow++
		}
	}
	w.net.SetFaults(network.Faults{})
	ups.atLeast(w, okCount+slow)
	r.stop()
	updates := ups.final(w)
	st := srv.Stats()[server.SMSDTLS]
	t.Logf("under loss: %d of %d triggers answered; under delay: %d of 2; %d Updates; server SMS in %d, out %d", okCount, triggers, slow, updates, st.In, st.Out)
	if okCount < triggers/2 || slow == 0 {
		t.Errorf("too few exchanges completed: %d of %d under loss, %d of 2 under delay", okCount, triggers, slow)
	}
	if updates < okCount+slow || updates > triggers+2 {
		t.Errorf("%d Updates for %d answered of %d triggers: a trigger was acted on twice or not at all", updates, okCount+slow, triggers+2)
	}
}

// The modem misbehaves while the daemon serves NoSec triggers: each fault
// is followed by a trigger that must be answered 2.04 and acted on once.
func TestFaultsModem(t *testing.T) {
	w := newWorld(t, false)
	w.handledSink()
	w.tweak = scaledConfig
	srv := w.smsServer(server.SMSNoSec)
	r := w.startWith("nosec", func(o *daemon.Options) {
		o.ModemOptions = append(o.ModemOptions, modem.WithSendRetryBackoff(scaled(2*time.Second), scaled(30*time.Second)))
	})
	defer r.stop()
	c := srv.SMS(server.SMSNoSec, deviceNumber)
	ups := w.countUpdates()
	rng := rand.New(rand.NewPCG(3, 4))
	triggers := 0
	trigger := func(name string) {
		t.Helper()
		triggers++
		ok, err := execTrigger(t, w.ctx, c, 30*time.Second)
		if !ok {
			t.Fatalf("%s: trigger not answered: %v", name, err)
		}
		ups.atLeast(w, triggers)
	}
	trigger("baseline")

	// A burst of +CMS ERROR on the 2.04's +CMGS: the send fails, the
	// server's retry is answered from the CoAP deduplication cache.
	w.emu.FailNext("AT+CMGS", 500, 500, 38, 500)
	trigger("+CMS ERROR burst")

	// Unplugged when the 2.04's +CMGS arrives (before the PDU).
	w.emu.SetQuirks(func(q *emu.Quirks) { q.UnplugOn = "AT+CMGS" })
	replugWhenDown(t, w, r, func() { w.emu.SetQuirks(func(q *emu.Quirks) { q.UnplugOn = "" }) })
	trigger("unplug during a send, before the PDU")

	// Unplugged after the PDU reached the network, before the +CMGS
	// answer: the outcome is uncertain to the driver, not to the server.
	w.emu.SetQuirks(func(q *emu.Quirks) { q.UnplugAfterSubmit = true })
	replugWhenDown(t, w, r, func() { w.emu.SetQuirks(func(q *emu.Quirks) { q.UnplugAfterSubmit = false }) })
	trigger("unplug during a send, after the PDU")

	// Unplugged while the trigger is on its way: the network keeps it
	// and delivers it after the replug.
	w.emu.Unplug()
	w.waitModem(r, false)
	go func() {
		// The replug happens while the server waits for its answer.
		select {
		case <-time.After(scaled(time.Minute)):
		case <-w.ctx.Done():
		}
		if err := w.emu.Replug(); err != nil {
			t.Error(err)
		}
	}()
	trigger("unplug during a receive")
	w.waitModem(r, true)

	// A reboot: settings lost, the driver initialises again.
	w.emu.Reboot()
	trigger("reboot")

	// Garbage on the serial line, between and inside responses.
	junk := make([]byte, 300)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	w.emu.InjectRaw(junk)
	w.emu.Inject("+CMTI: \"SM\",", "+CMT: ,12", "ZZZZ", "\x00\xff\xfe", "+CMS ERROR: 500")
	w.emu.InjectMidResponse("+CREG: 1,\"garbage", "OK?")
	trigger("garbage on the line")

	// SMS storage full: the modem stores SMS without indication (as after
	// a missed +CNMA) and fills up; the server's trigger, sent meanwhile,
	// is refused by the full modem and kept by the network. The driver
	// sweeps on the full indication; the trigger then gets through.
	w.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = true })
	for range 21 {
		w.from(strangerNr, eightBit(triggerCoAP(uint16(rng.Uint32()))))
	}
	dropped := func() uint64 { st, _ := r.d.SMSStats(); return st.Total.DroppedSender }
	for dropped() < 20 {
		select {
		case <-w.ctx.Done():
			t.Fatalf("the full storage was never swept: %d dropped, %d stored", dropped(), len(w.emu.Stored()))
		case <-time.After(10 * time.Millisecond):
		}
	}
	w.emu.SetQuirks(func(q *emu.Quirks) { q.SilentStore = false })
	trigger("SIM storage full")
	for len(w.emu.Stored()) > 0 || dropped() < 21 {
		select {
		case <-w.ctx.Done():
			t.Fatalf("%d SMS left in storage, %d dropped", len(w.emu.Stored()), dropped())
		case <-time.After(10 * time.Millisecond):
		}
	}

	st, _ := r.d.SMSStats()
	r.stop()
	if n := ups.final(w); n != triggers {
		t.Errorf("%d Updates for %d triggers: a trigger was acted on twice", n, triggers)
	}
	t.Logf("%d triggers through the faults; binding: received %d, duplicates dropped %d, sender dropped %d, sent %d, send failures %d",
		triggers, st.Total.Received, st.Total.DroppedDup, st.Total.DroppedSender, st.Total.Sent, st.Total.SendFailures)
	if st.Total.DroppedSender != 21 {
		t.Errorf("%d SMS dropped for their sender, want the 21 that overfilled the storage", st.Total.DroppedSender)
	}
}

// replugWhenDown replugs the modem (after reset) once the daemon saw it go
// down, in the background.
func replugWhenDown(t *testing.T, w *world, r *running, reset func()) {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		m := r.d.Modem()
		for {
			hc := m.HealthChanged()
			if !m.Health().Up {
				break
			}
			select {
			case <-hc:
			case <-w.ctx.Done():
				return
			}
		}
		reset()
		if err := w.emu.Replug(); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { <-ch })
}

// The SIM stops answering +CSIM (SIM failure after the modem's wait) in
// secure-packet mode: the daemon does not hang. Requests in secure-packet
// mode fail cleanly at the server's deadline, nothing is sent, the UDP
// side keeps serving; once the card answers again the SMS the network
// kept are processed and the next trigger works.
func TestFaultsSIMMute(t *testing.T) {
	w := newWorld(t, false)
	w.handledSink()
	w.tweak = func(c *config.Config) {
		scaledConfig(c)
		c.UICC.PollInterval = config.Duration(300 * time.Millisecond)
	}
	srv := w.smsServer(server.SMSSecurePacket)
	r := w.startWith("secure-packet", nil)
	defer r.stop()
	c := srv.SMS(server.SMSSecurePacket, deviceNumber)
	if ok, err := execTrigger(t, w.ctx, c, 30*time.Second); !ok {
		t.Fatalf("baseline trigger: %v", err)
	}
	ups := w.countUpdates()
	ups.atLeast(w, 1)
	checkSIMStatus(t, w.ctx, r.d, control.SIMOK, "")

	w.emu.SetQuirks(func(q *emu.Quirks) { q.SIMMute = true })
	w.emu.SlowReply("AT+CSIM", 200*time.Millisecond)
	out0 := len(w.deviceSent())
	t0 := time.Now()
	ok, err := execTrigger(t, w.ctx, c, 3*time.Second)
	if ok {
		t.Fatal("a trigger was answered through a mute SIM")
	}
	t.Logf("trigger with a mute SIM: %v after %v", err, time.Since(t0).Round(time.Millisecond))
	// The daemon still serves the UDP side and its status promptly.
	ep := "lwm2m-clientd-test"
	rctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	resp, err := w.srv.Client(ep).Read(rctx, "/3/0/0", 0)
	cancel()
	if err != nil || string(resp.Payload) != "lwm2m-clientd" {
		t.Errorf("UDP Read while the SIM is mute: %q %v", resp.Payload, err)
	}
	sctx, scancel := context.WithTimeout(w.ctx, 2*time.Second)
	st := r.d.Status(sctx)
	scancel()
	if len(st.Servers) != 1 || !st.Servers[0].Registered || st.Modem == nil || st.Modem.State != "up" {
		t.Errorf("status while the SIM is mute: %+v %+v", st.Servers, st.Modem)
	}
	if n := len(w.deviceSent()) - out0; n != 0 {
		t.Errorf("%d SMS sent while the SIM was mute", n)
	}
	mute := checkSIMStatus(t, w.ctx, r.d, control.SIMNotAnswering, "+CME ERROR: 13")

	// The card answers again.
	w.emu.SetQuirks(func(q *emu.Quirks) { q.SIMMute = false })
	w.emu.SlowReply("AT+CSIM", 0)
	if ok, err := execTrigger(t, w.ctx, c, 30*time.Second); !ok {
		t.Fatalf("trigger after the SIM came back: %v", err)
	}
	if back := checkSIMStatus(t, w.ctx, r.d, control.SIMOK, "+CME ERROR: 13"); back.LastOK.Time().Before(mute.Since.Time()) {
		t.Errorf("sim last_ok %v is before it went mute at %v", back.LastOK.Time(), mute.Since.Time())
	}
	ups.atLeast(w, 2)
	r.stop()
	// The trigger sent while the card was mute may be acted on late,
	// once (the network kept it): 2 or 3 Updates in all.
	if n := ups.final(w); n < 2 || n > 3 {
		t.Errorf("%d Updates, want 2 or 3", n)
	}
	t.Logf("server: %+v", srv.Stats()[server.SMSSecurePacket])
}
