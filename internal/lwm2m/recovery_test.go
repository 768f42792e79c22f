package lwm2m_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
)

// The server restarts and forgets everything. NoSec: the Update gets 4.04
// and the client registers again. DTLS: the old session is unknown to the
// new server, the Update goes unanswered, and the client makes a new
// handshake followed by a fresh Register (lwm2m.md §8.2).
func TestServerRestartLeadsToFreshRegister(t *testing.T) {
	for _, secure := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "dtls-psk"}[secure]
		t.Run(name, func(t *testing.T) {
			checkLeaks(t)
			ctx := testCtx(t, 30*time.Second)
			r := startRig(t, secure, 300, "U", lwm2m.Config{AckTimeout: 50 * time.Millisecond, MaxRetransmit: 2, RetryInitial: 20 * time.Millisecond})
			first := waitEvent(t, ctx, r.events, kind(server.Registered))
			addr := strings.TrimPrefix(strings.TrimPrefix(r.srv.URI(), "coaps://"), "coap://")
			_ = r.srv.Close()
			scfg := server.Config{Addr: addr, Log: testLogger(t)}
			if secure {
				scfg.PSK = map[string][]byte{testPSKID: []byte(testPSKKey)}
			}
			srv2, err := server.Start(scfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv2.Close() })
			ev2 := srv2.Subscribe()
			if !r.eng.Trigger(101) {
				t.Fatal("no server 101")
			}
			reg := waitEvent(t, ctx, ev2, kind(server.Registered))
			if reg.Endpoint != first.Endpoint || reg.Query["lt"] != "300" {
				t.Errorf("re-register %+v", reg)
			}
			eventually(t, ctx, "registered again", func() bool {
				st := r.eng.State()
				return len(st) == 1 && st[0].Registered && st[0].Location == reg.Location
			})
			c := srv2.Client("lwm2m-clientd-test")
			if resp, err := c.Read(ctx, "/3/0/0", -1); err != nil || string(resp.Payload) != "Open Mobile Alliance" {
				t.Fatalf("read after re-register: %+v %v", resp, err)
			}
		})
	}
}
