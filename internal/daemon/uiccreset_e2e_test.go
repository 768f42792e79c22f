package daemon_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
)

// uiccRelinkMsg is the daemon's log line when it makes the UICC application
// be selected again after the modem link was re-initialised.
const uiccRelinkMsg = "modem link re-initialised: UICC application will be selected again"

// TestSecurePacketAfterModemReboot: a modem reboot resets the SIM (the
// emulated card closes its channels and forgets the selected application;
// GET DATA on the basic channel then reaches the card's default
// application, which answers 6A88 like "nothing pending"). The daemon
// selects the LwM2M application again once the modem is back, so a trigger
// after the reboot is answered (2.04 + Update) like the one before.
//
// Host download: the trigger is fetched by the GET DATA right after the
// ENVELOPE (the poll is an hour away, so no GET DATA can fail during the
// reboot and reset the App by itself). Silent download: the modem gives the
// SMS to the card and the GET DATA poll fetches it.
func TestSecurePacketAfterModemReboot(t *testing.T) {
	for _, hostDownload := range []bool{true, false} {
		name := map[bool]string{true: "modem hands it to the host", false: "modem downloads silently"}[hostDownload]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, hostDownload)
			poll := time.Hour
			if !hostDownload {
				poll = 300 * time.Millisecond
			}
			w.tweak = func(c *config.Config) { c.UICC.PollInterval = config.Duration(poll) }
			relinked := make(chan struct{}, 10)
			srv := newSPServer(t)
			r := w.start("secure-packet", func(o *daemon.Options) {
				o.Logger = slog.New(&signalHandler{Handler: o.Logger.Handler(), msg: uiccRelinkMsg, ch: relinked})
			})
			defer r.stop()

			trigger := func(what string, mid uint16) {
				t.Helper()
				w.from(spNumber, srv.seal(t, triggerCoAP(mid)))
				ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
				defer cancel()
				select {
				case tpdu := <-w.boxes[spNumber].ch:
					d, err := atpdu.DecodeDeliver(tpdu)
					if err != nil {
						t.Fatalf("%s: device SMS: %v", what, err)
					}
					checkChanged(t, srv.open(t, d), mid)
				case <-ctx.Done():
					st, _ := r.d.SMSStats()
					t.Fatalf("%s: trigger not answered within 20 s (the UICC application was not selected again?); stats %+v", what, st.SecurePacket)
				}
				w.next(server.Updated)
			}
			trigger("before the reboot", 0x401)

			w.emu.Reboot()
			waitLink(t, w, r, 2)
			select {
			case <-relinked:
			case <-time.After(10 * time.Second):
				t.Errorf("no %q log line after the modem came back", uiccRelinkMsg)
			}
			trigger("after the reboot", 0x402)

			st, _ := r.d.SMSStats()
			if st.SecurePacket.Accepted != 2 || st.SecurePacket.Sent != 2 {
				t.Errorf("secure-packet stats %+v, want 2 accepted, 2 sent", st.SecurePacket)
			}
			r.stop()
			w.next(server.Deregistered)
		})
	}
}

// waitLink waits until the daemon's modem is up on its link-th link with
// the start-up sweep done.
func waitLink(t *testing.T, w *world, r *running, link uint64) {
	t.Helper()
	m := r.d.Modem()
	for {
		ch := m.HealthChanged()
		h := m.Health()
		if h.Up && h.Link >= link && !h.LastSweep.IsZero() {
			return
		}
		select {
		case <-ch:
		case <-w.ctx.Done():
			t.Fatalf("modem never up on link %d: %v (link %d)", link, h, h.Link)
		}
	}
}

// signalHandler passes records on to Handler and signals ch (without
// blocking) for each record whose message is msg.
type signalHandler struct {
	slog.Handler
	msg string
	ch  chan<- struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *signalHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	if h.Handler.Enabled(ctx, rec.Level) {
		return h.Handler.Handle(ctx, rec)
	}
	return nil
}

func (h *signalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &signalHandler{Handler: h.Handler.WithAttrs(as), msg: h.msg, ch: h.ch}
}

func (h *signalHandler) WithGroup(name string) slog.Handler {
	return &signalHandler{Handler: h.Handler.WithGroup(name), msg: h.msg, ch: h.ch}
}
