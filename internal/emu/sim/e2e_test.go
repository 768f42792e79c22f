package sim_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/emutest"
	emu "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

const gatewayNumber = "+33600000001"

// serverEndpoint is the LwM2M server's phone line on the emulated network:
// it receives what the gateway's SIM sends.
type serverEndpoint struct{ got chan []byte }

func (s *serverEndpoint) Deliver(_ context.Context, tpdu []byte) error {
	s.got <- append([]byte(nil), tpdu...)
	return nil
}

func (s *serverEndpoint) DeliverStatusReport(context.Context, []byte) error { return nil }

// world is the emulated network, the gateway's emulated modem with the
// emulated SIM, the real modem driver on the modem's pty and the uicc
// client on the driver's AT+CSIM — the daemon's mode-2 path.
type world struct {
	nw        *network.Network
	emu       *emu.Modem
	card      *sim.Card
	drv       *modem.Modem
	app       *uicc.App
	server    *serverEndpoint
	downloads chan bool      // the SIM's verdicts on downloaded packets
	hostSMS   chan modem.SMS // SMS the driver handed to the host
}

func newWorld(t *testing.T, toolkit, downloadToSIM bool) *world {
	t.Helper()
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{
		server:    &serverEndpoint{got: make(chan []byte, 16)},
		downloads: make(chan bool, 16),
		hostSMS:   make(chan modem.SMS, 16),
	}
	w.nw = network.New(network.Config{Seed: 1, RetryInterval: 50 * time.Millisecond})
	w.nw.Attach(serverNumber, w.server)

	opts := sim.Options{
		CounterFile: filepath.Join(t.TempDir(), "counters.json"),
		OnDownload:  func(ok bool) { w.downloads <- ok },
	}
	var emuMu sync.Mutex // w.emu is set after the card exists
	if toolkit {
		opts.Submit = func(tpdu []byte) error {
			emuMu.Lock()
			m := w.emu
			emuMu.Unlock()
			return m.SubmitFromSIM(tpdu)
		}
	}
	card, err := sim.New(profile(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	w.card = card
	m, err := emu.New(emu.Config{Link: filepath.Join(t.TempDir(), "ttyEMU"), Number: gatewayNumber, SIM: card, Network: w.nw})
	if err != nil {
		t.Fatal(err)
	}
	emuMu.Lock()
	w.emu = m
	emuMu.Unlock()
	m.SetQuirks(func(q *emu.Quirks) { q.DownloadToSIM = downloadToSIM })
	w.nw.Attach(gatewayNumber, m)

	w.drv, err = modem.New(modem.Config{Port: m.Link(), Delivery: modem.DeliveryAuto,
		HandleSMS: func(_ context.Context, s modem.SMS) error { w.hostSMS <- s; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- w.drv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-runDone
		m.Close()
		w.nw.Close()
	})
	upCtx, upCancel := context.WithTimeout(ctx, 20*time.Second)
	defer upCancel()
	if err := w.drv.WaitUp(upCtx); err != nil {
		t.Fatalf("driver not up: %v", err)
	}
	send := func(ctx context.Context, tpdu []byte) error {
		_, err := w.drv.SendSMS(ctx, tpdu)
		return err
	}
	if w.app, err = uicc.New(uicc.TransportFunc(w.drv.CSIM), uicc.Config{}, send); err != nil {
		t.Fatal(err)
	}
	return w
}

// serverSends puts the server's SMS-DELIVER on the network toward the
// gateway.
func (w *world) serverSends(t *testing.T, tpdu []byte) {
	t.Helper()
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.nw.SendFrom(serverNumber, gatewayNumber, d); err != nil {
		t.Fatalf("SendFrom: %v", err)
	}
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestEndToEnd is issue #5's must-show: a class-2 PID-0x7F SMS carrying an
// AES-protected CoAP request goes through the emulated network and modem
// to the SIM (SMS-PP download); GET DATA over AT+CSIM returns the exact
// CoAP bytes and the sender; STORE DATA makes an SMS leave toward the
// server whose secured packet decodes to the reply; a replayed and a
// tampered SMS yield nothing at all. Both toolkit behaviours of real
// modems are covered, and the path where the modem gives the SMS to the
// host, which then downloads it with ENVELOPE.
func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name          string
		toolkit       bool
		downloadToSIM bool
	}{
		{name: "modem downloads, host fetches SEND SHORT MESSAGE", downloadToSIM: true},
		{name: "modem downloads and handles the toolkit", downloadToSIM: true, toolkit: true},
		{name: "modem gives the SMS to the host, host downloads", downloadToSIM: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.toolkit, tc.downloadToSIM)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			srv := newServer(t)

			// deliver hands the server's SMS (the parts of one packet) to
			// the SIM: through the modem's SMS-PP download, or through the
			// host's ENVELOPE; it returns the SIM's verdict.
			deliver := func(tpdus ...[]byte) bool {
				t.Helper()
				for _, tpdu := range tpdus {
					w.serverSends(t, tpdu)
				}
				if !tc.downloadToSIM {
					for range tpdus {
						s := wait(t, w.hostSMS, "the SMS at the host")
						rsp, err := w.app.DownloadSMS(ctx, nil, s.TPDU)
						if err != nil || rsp.SW != uicc.SWOK {
							t.Fatalf("DownloadSMS = %+v, %v", rsp, err)
						}
					}
				}
				return wait(t, w.downloads, "the SIM's verdict")
			}

			request := []byte{0x40, 0x01, 0x5A, 0x17, 0xB1, 0x33, 0x01, 0x30} // CON GET /3/0, MID 0x5A17
			tpdu := srv.deliver(t, srv.h, request)[0]
			if !deliver(tpdu) {
				t.Fatal("the SIM dropped a genuine packet")
			}
			recs, err := w.app.GetData(ctx)
			if err != nil || len(recs) != 1 {
				t.Fatalf("GetData = %v, %v", recs, err)
			}
			if !bytes.Equal(recs[0].Message, request) || recs[0].Address.String() != serverNumber {
				t.Fatalf("GET DATA gave %s %x, want %s %x", recs[0].Address, recs[0].Message, serverNumber, request)
			}

			// The reply goes back to TP-OA of the request.
			reply := []byte{0x60, 0x45, 0x5A, 0x17, 0xFF, 'e', 'm', 'u'} // ACK 2.05
			if err := w.app.StoreData(ctx, recs[0].Address, reply); err != nil {
				t.Fatalf("StoreData: %v", err)
			}
			got := wait(t, w.server.got, "the SMS at the server")
			d, err := atpdu.DecodeDeliver(got)
			if err != nil {
				t.Fatal(err)
			}
			if !d.SIMDataDownload() || d.OA.String() != gatewayNumber {
				t.Errorf("server got PID %02x DCS %02x from %s", byte(d.PID), byte(d.DCS), d.OA)
			}
			sub := atpdu.Submit{DA: d.OA, PID: d.PID, DCS: d.DCS, UDH: d.UDH, UD: d.UD}
			subTPDU, err := sub.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, coap, ctr := srv.open(t, [][]byte{subTPDU}, 0); !bytes.Equal(coap, reply) || ctr != 1 {
				t.Errorf("server decoded %x counter %d, want %x counter 1", coap, ctr, reply)
			}

			// A replay and a tampered copy: no CoAP message, no SMS.
			tampered := append([]byte{}, tpdu...)
			tampered[len(tampered)-3] ^= 0x80
			sentBefore := len(w.nw.Sent())
			for _, bad := range [][]byte{tpdu, tampered} {
				if deliver(bad) {
					t.Fatal("the SIM accepted a replayed or tampered packet")
				}
				if recs, err := w.app.GetData(ctx); err != nil || recs != nil {
					t.Fatalf("GetData after a bad SMS = %v, %v", recs, err)
				}
			}
			if n := len(w.nw.Sent()); n != sentBefore {
				t.Errorf("%d SMS left after the bad ones", n-sentBefore)
			}
			select {
			case s := <-w.server.got:
				t.Errorf("the server received %x", s)
			default:
			}

			// A request too long for one SMS arrives in parts and is
			// reassembled on the SIM.
			long := append([]byte{0x40, 0x02, 0x5A, 0x18, 0xFF}, bytes.Repeat([]byte{0x42}, 295)...)
			parts := srv.deliver(t, srv.h, long)
			if len(parts) < 2 {
				t.Fatalf("%d parts", len(parts))
			}
			if !deliver(parts...) {
				t.Fatal("the SIM dropped a concatenated packet")
			}
			if recs, err := w.app.GetData(ctx); err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Message, long) {
				t.Fatalf("GetData of the long request = %d records, %v", len(recs), err)
			}
			if st := w.card.Stats(); st.Accepted != 2 || st.Dropped != 2 || st.Sent != 1 {
				t.Errorf("SIM stats %+v", st)
			}
		})
	}
}

// checkLeaks fails the test if goroutines it started are still running
// after cleanup (bounded wait).
func checkLeaks(t *testing.T) {
	t.Helper()
	emutest.CheckLeaks(t, 5*time.Second)
}
